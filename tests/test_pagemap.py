"""``/proc/PID/pagemap``, ``/proc/PID/clear_refs`` and ``/proc/kpageflags`` (``fs/proc/task_mmu.c``,
``fs/proc/page.c``): the PM_* and KPF_* encodings of 6.18 for the page kinds the simulator has,
and soft-dirty tracking with and without CONFIG_MEM_SOFT_DIRTY."""

import pytest

from conftest import SMALL
from linuxmm import KernelError, Machine, SegmentationFault
from linuxmm.fs.proc import page as K
from linuxmm.fs.proc.task_mmu import (PM_FILE, PM_GUARD_REGION, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT,
                                      PM_SOFT_DIRTY, PM_SWAP)
from linuxmm.sources import toml

P = 4096


def machine(soft_dirty: bool) -> Machine:
    return Machine(toml.loads(SMALL + ("[config]\nmem_soft_dirty = true\n" if soft_dirty else "")))


def test_pagemap_present_zero_exclusive_shared_and_holes():
    m = machine(False)
    p = m.spawn()
    a = p.mmap(4 * P)
    p.write(a, P)  # page 0: a private anonymous page
    p.read(a + P, 1)  # page 1: the shared zero page
    e = p.pagemap(a - P, 6)  # a hole, the 4 pages, a hole
    assert e[0] == 0 and e[5] == 0
    assert e[1] & ~PM_PFRAME_MASK == PM_PRESENT | PM_MMAP_EXCLUSIVE
    assert (e[1] & PM_PFRAME_MASK) << 12 == p.walk(a).phys
    assert e[2] & ~PM_PFRAME_MASK == PM_PRESENT  # no struct page to count: not exclusive, not file
    assert e[3] == e[4] == 0  # never touched, no soft-dirty VMA without CONFIG_MEM_SOFT_DIRTY
    c = p.fork()
    assert p.pagemap(a)[0] & ~PM_PFRAME_MASK == PM_PRESENT  # mapped twice now
    c.exit()
    s = p.mmap(P, flags="shared|anonymous")
    p.write(s, P)
    assert p.pagemap(s)[0] & PM_FILE  # shmem is not anonymous


def test_pagemap_thp_subpages():
    m = machine(False)
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "madvise")  # off below 512 MiB (hugepage_init)
    p = m.spawn()
    raw = p.mmap(4 << 20)
    a = (raw + (2 << 20) - 1) & ~((2 << 20) - 1)
    p.madvise(a, 2 << 20, "hugepage")
    p.write(a, 1)
    e = p.pagemap(a, 512)
    head = e[0] & PM_PFRAME_MASK
    assert head % 512 == 0 and [x & PM_PFRAME_MASK for x in e] == list(range(head, head + 512))
    assert all(x & PM_MMAP_EXCLUSIVE for x in e)
    flags = m.kpageflags(head, 2)
    assert flags[0] >> K.KPF_COMPOUND_HEAD & 1 and flags[1] >> K.KPF_COMPOUND_TAIL & 1
    assert all(f >> K.KPF_THP & 1 and f >> K.KPF_ANON & 1 and f >> K.KPF_MMAP & 1 for f in flags)


def test_kpageflags_kinds():
    m = machine(False)
    p = m.spawn()
    a = p.mmap(P)
    p.write(a, 1)
    pfn = p.pagemap(a)[0] & PM_PFRAME_MASK
    f = m.kpageflags(pfn)[0]
    assert f & (1 << K.KPF_ANON | 1 << K.KPF_MMAP | 1 << K.KPF_SWAPBACKED) == \
        1 << K.KPF_ANON | 1 << K.KPF_MMAP | 1 << K.KPF_SWAPBACKED
    assert not f & (1 << K.KPF_BUDDY | 1 << K.KPF_THP)
    z = p.mmap(P)
    p.read(z, 1)
    assert m.kpageflags(p.pagemap(z)[0] & PM_PFRAME_MASK)[0] >> K.KPF_ZERO_PAGE & 1
    free_pfn = m.alloc_pages(order=0)
    m.free_pages(free_pfn)
    m.drain_pages()
    assert m.kpageflags(free_pfn)[0] >> K.KPF_BUDDY & 1
    assert m.kpageflags(1 << 40) == []  # beyond max_pfn: the read returns nothing
    with pytest.raises(KernelError):
        m.kpageflags(-1)


def test_clear_refs_soft_dirty_cycle():
    m = machine(True)
    p = m.spawn()
    a = p.mmap(2 * P)
    assert all(x & PM_SOFT_DIRTY for x in p.pagemap(a, 2))  # a new VMA is soft-dirty
    p.write(a, P)
    p.proc("clear_refs", 4)
    assert not any(x & PM_SOFT_DIRTY for x in p.pagemap(a, 2))
    assert "sd" not in p.proc("smaps").split("VmFlags:")[-1]
    p.write(a, P)  # write-protected by clear_refs: the fault marks it again
    assert [bool(x & PM_SOFT_DIRTY) for x in p.pagemap(a, 2)] == [True, False]
    b = p.mremap(a, 2 * P, 2 * P, maymove=True, fixed=a + (64 << 20))
    assert p.pagemap(b)[0] & PM_SOFT_DIRTY


def test_clear_refs_without_the_config_and_bad_values():
    m = machine(False)
    p = m.spawn()
    a = p.mmap(P)
    p.write(a, P)
    p.proc("clear_refs", "4")
    p.write(a, P)  # still writable: nothing was write-protected
    assert p.minflt == 1 and not p.pagemap(a)[0] & PM_SOFT_DIRTY
    assert "accessed" in p.walk(a).leaf.flags
    p.proc("clear_refs", 1)
    assert "accessed" not in p.walk(a).leaf.flags
    for bad in ("0", "6", "x"):
        with pytest.raises(KernelError) as err:
            p.proc("clear_refs", bad)
        assert err.value.errno == 22
    with pytest.raises(KernelError) as err:
        p.proc("maps", "1")
    assert err.value.errno == 13


def test_guard_regions_fault_survive_dontneed_and_show_in_pagemap():
    m = machine(False)
    p = m.spawn()
    a = p.mmap(4 * P)
    p.write(a, 4 * P, value=5)
    p.madvise(a + P, 2 * P, "guard_install")
    e = p.pagemap(a, 4)
    assert e[1] & (PM_GUARD_REGION | PM_SWAP) == PM_GUARD_REGION | PM_SWAP and not e[1] & PM_PRESENT
    assert e[0] & PM_PRESENT and e[3] & PM_PRESENT
    assert "gu" in p.proc("smaps")
    p.madvise(a, 4 * P, "dontneed")  # the markers stay, the pages go
    assert p.pagemap(a + P)[0] & PM_GUARD_REGION
    p.madvise(a + 2 * P, P, "guard_remove")
    assert p.read(a + 2 * P, 1) == b"\x00"
    c = p.fork()
    with pytest.raises(SegmentationFault):
        p.read(a + P, 1)
    assert not p.alive and c.alive
    c.exit()
