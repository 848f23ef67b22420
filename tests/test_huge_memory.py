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
