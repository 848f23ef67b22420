"""mm/huge_memory: the one THP policy that hugepage_init sets and the fault path, smaps and
khugepaged read."""

from conftest import small_machine

MB = 1 << 20


def test_small_machine_turns_thp_off():
    """hugepage_init: below 512 MiB of RAM THP is ``never``, even with transparent_hugepage=always
    on the command line; a MADV_HUGEPAGE region then faults 4 KiB pages only."""
    m = small_machine("transparent_hugepage=always")
    assert m.kernel.transparent_hugepage_flags == "never"
    p = m.spawn()
    a = p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.madvise(a, 8 * MB, "hugepage")
    p.write(a, 8 * MB)
    assert p.minflt == 2048
    assert p.smaps_rollup()["AnonHugePages"] == 0
    assert "thp_fault_alloc 0\n" in m.proc("/proc/vmstat")
    assert "THPeligible:           0\n" in p.proc("smaps")


THP_ENABLED = "kernel/mm/transparent_hugepage/enabled"


def test_admin_enables_thp_through_sysfs_on_a_small_machine():
    """hugepage_init's comment: the admin can still enable THP through /sys. The write starts
    khugepaged, which raises min_free_kbytes, and the fault path takes THPs from then on."""
    m = small_machine()
    assert m.sysfs(THP_ENABLED) == "always madvise [never]\n"
    before = int(m.sysctl("vm.min_free_kbytes"))
    p = m.spawn()
    a = p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.madvise(a, 8 * MB, "hugepage")
    p.write(a, 2 * MB)
    m.sysfs("/sys/" + THP_ENABLED, "madvise")
    assert m.sysfs(THP_ENABLED) == "always [madvise] never\n"
    assert int(m.sysctl("vm.min_free_kbytes")) > before
    p.write(a + 2 * MB, 6 * MB)
    assert p.minflt == 512 + 3  # 4 KiB pages before the write, one THP per 2 MiB after
    assert p.smaps_rollup()["AnonHugePages"] == 6 * 1024


def test_sysfs_bad_input():
    import errno

    import pytest

    from linuxmm import KernelError

    m = small_machine()
    for path, value, code in ((THP_ENABLED, "sometimes", errno.EINVAL), ("kernel/mm/nothing", None, errno.ENOENT)):
        with pytest.raises(KernelError) as e:
            m.sysfs(path, value)
        assert e.value.errno == code
    assert m.sysfs(THP_ENABLED) == "always madvise [never]\n"


def test_thp_read_fault_prepares_the_anon_vma():
    """do_huge_pmd_anonymous_page calls vmf_anon_prepare before it looks at the access: a read
    that maps the huge zero page gives the VMA its anon_vma as a write would."""
    from linuxmm import Machine

    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    a = p.mmap(4 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.read(a, 4096)
    assert p.smaps_rollup()["Rss"] == 0  # the huge zero page: no RSS
    assert p.task.mm.vmas[0].anon_vma is not None
