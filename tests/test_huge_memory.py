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


# ---- splitting folios: split_huge_page_to_list_to_order, the deferred split queue ---------------

SPLIT = "kernel/debug/split_huge_pages"
KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_THP = 1 << 15, 1 << 16, 1 << 22


def thp_machine():
    from linuxmm import Machine

    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    return m, p, p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")


def vmstat(m, name: str) -> int:
    return int(next(line.split()[1] for line in m.proc("/proc/vmstat").splitlines() if line.split()[0] == name))


def pfns(p, addr: int, npages: int):
    import numpy as np

    return np.array([e & ((1 << 55) - 1) for e in p.pagemap(addr, npages)])


def folio_orders(m, p, addr: int, npages: int) -> list[int]:
    """The order of the folio behind each page (kpageflags: a head, then its tails)."""
    pfns = [e & ((1 << 55) - 1) for e in p.pagemap(addr, npages)]
    flags = m.kpageflags(min(pfns), max(pfns) - min(pfns) + 1)
    orders, i = [], 0
    while i < npages:
        f = flags[pfns[i] - min(pfns)]
        n = 1
        if f & KPF_COMPOUND_HEAD:
            while i + n < npages and flags[pfns[i + n] - min(pfns)] & KPF_COMPOUND_TAIL:
                n += 1
        orders.append(n.bit_length() - 1)
        i += n
    return orders


def test_split_huge_pages_splits_to_the_order_asked():
    """split_huge_pages_write "pid,0xstart,0xend,order": each PMD-mapped THP of the range is
    split uniformly into folios of that order (kpageflags shows their heads and tails), the
    data stays, the ptes map the same pages (RSS unchanged for data that is not zero), and
    thp_split_page counts each one."""
    from linuxmm import debug

    m, p, a = thp_machine()
    p.write(a, 8 * MB, value=3)
    assert p.smaps_rollup()["AnonHugePages"] == 8 * 1024
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 8 * MB:#x},2")
    assert p.smaps_rollup()["AnonHugePages"] == 0
    assert p.smaps_rollup()["Rss"] == 8 * 1024
    assert folio_orders(m, p, a, 2048) == [2] * 512
    assert vmstat(m, "thp_split_page") == 4 and vmstat(m, "thp_split_page_failed") == 0
    assert p.read(a, 8 * MB, stride=4096) == b"\x03" * 2048
    assert debug.check(m) == []


def test_split_maps_zero_filled_pages_to_the_shared_zeropage():
    """remap_page with RMP_USE_SHARED_ZEROPAGE (6.12+): after a split to order 0 a zero-filled
    page maps the shared zeropage and is freed, so RssAnon drops (split_huge_page_test's
    split_pmd_zero_pages); pages holding data stay. A later write faults a new page in."""
    from linuxmm import debug

    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=0)
    p.write(a + 2 * MB, 2 * MB, value=9)
    zeroed = pfns(p, a, 512)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 4 * MB:#x}")
    assert p.smaps_rollup()["Rss"] == 2 * 1024
    assert (m.kernel.mem_map.refcount[zeroed] == 0).all()  # freed
    assert p.read(a, 4096 * 2, stride=4096) == b"\x00\x00"
    p.write(a, 4096, value=1)
    assert p.read(a, 1, stride=1) == b"\x01" and p.smaps_rollup()["Rss"] == 2 * 1024 + 4
    assert debug.check(m) == []


def test_folio_split_around_a_page():
    """The in_folio_offset form (``folio_split``, non-uniform): the folio holding that page is
    of the order asked, the rest the buddies of each order above it."""
    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=1)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 4096:#x},0,128")
    assert sorted(folio_orders(m, p, a, 512)) == sorted([8, 6, 5, 4, 3, 2, 1, 0, 0, 7])


def test_split_refused_with_an_extra_reference():
    """can_split_folio: a reference beyond the mappings and the caller's (a GUP pin, an
    isolation) refuses the split; the debugfs walk skips such a folio without trying."""
    from linuxmm.mm.huge_memory import can_split_folio

    m, p, a = thp_machine()
    p.write(a, 2 * MB)
    head = p.pagemap(a)[0] & ((1 << 55) - 1)
    k = m.kernel
    assert can_split_folio(k.mem_map, head, 0)
    k.mem_map.refcount[head] += 1
    assert not can_split_folio(k.mem_map, head, 0)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 2 * MB:#x}")
    assert p.smaps_rollup()["AnonHugePages"] == 2 * 1024
    k.mem_map.refcount[head] -= 1


def test_partial_unmap_queues_a_deferred_split_the_shrinker_frees():
    """Unmapping part of a THP leaves it partially mapped: it goes on its node's deferred
    split queue (thp_deferred_split_page); the shrinker (deferred_split_scan, from reclaim's
    shrink_slab) splits it, freeing the pages no pte maps."""
    from linuxmm import debug
    from linuxmm.mm.huge_memory import do_shrink_slab

    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=4)
    k = m.kernel
    p.munmap(a + MB, MB)
    assert vmstat(m, "thp_deferred_split_page") == 1
    assert int(k.mem_map.split_queue_len.sum()) == 1
    assert debug.check(m) == []
    unmapped = pfns(p, a, 256) + 256
    pgdat = k.pgdat[0]
    assert do_shrink_slab(k, pgdat, 12) == 0  # (1 >> 12) * 4 / 2: nothing to scan yet
    assert do_shrink_slab(k, pgdat, 0) == 1
    assert (k.mem_map.refcount[unmapped] == 0).all() and (k.mem_map.refcount[unmapped - 256] == 1).all()
    assert vmstat(m, "thp_split_page") == 1 and int(k.mem_map.split_queue_len.sum()) == 0
    assert p.read(a, MB, stride=4096) == b"\x04" * 256
    assert debug.check(m) == []


def test_split_huge_pages_bad_input():
    """split_huge_pages_write: EINVAL for what sscanf does not take (decimal addresses, too
    few fields), ESRCH for a pid with no process; the path form is accepted."""
    import errno

    import pytest

    from linuxmm import KernelError

    m, p, a = thp_machine()
    for value, code in (("2,3", errno.EINVAL), (f"{p.pid + 1},{a},{a + 4096}", errno.EINVAL), ("", errno.EINVAL),
                        ("99999,0x1000,0x2000", errno.ESRCH), ("/tmp/f", errno.EINVAL)):
        with pytest.raises(KernelError) as e:
            m.sysfs(SPLIT, value)
        assert e.value.errno == code, value
    m.sysfs(SPLIT, "/tmp/f,0x0,0x400")
