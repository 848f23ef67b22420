"""``/proc/PID/pagemap``, ``/proc/PID/clear_refs`` and ``/proc/kpageflags`` (``fs/proc/task_mmu.c``,
``fs/proc/page.c``): the PM_* and KPF_* encodings of 6.18 for the page kinds the simulator has,
and soft-dirty tracking with and without CONFIG_MEM_SOFT_DIRTY."""

import errno
from pathlib import Path

import pytest

from conftest import HOST_SNAP, SMALL
from linuxmm import KernelError, Machine, SegmentationFault
from linuxmm.fs.proc import page as K
from linuxmm.fs.proc.task_mmu import (PM_FILE, PM_GUARD_REGION, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT,
                                      PM_SOFT_DIRTY, PM_SWAP)
from linuxmm.sources import toml

P = 4096
# 1 GiB: THP stays on (hugepage_init turns it off below 512 MiB)
SELFTEST_SIZED = SMALL.replace("0x17ffffff", "0x3fffffff")


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



def test_new_anonymous_folios_are_uptodate_as_on_the_host():
    """6.18 marks a new anonymous folio up to date before it maps it (``__folio_mark_uptodate``
    in do_anonymous_page, wp_page_copy, do_cow_fault, vma_alloc_anon_folio_pmd): /proc/kpageflags
    shows KPF_UPTODATE. tests/probe/kpageflags_anon_probe.c's cases on this host
    (tests/data/host-linux-6.18/kpageflags_anon_probe.txt), KPF bits 0-26 by name, here (but
    a base page's KPF_LRU, which says whether its CPU's lru_add batch was flushed yet)."""
    host = dict(line.split(": ") for line in (HOST_SNAP / "kpageflags_anon_probe.txt").read_text().splitlines()
                if not line.startswith("#"))
    names = {getattr(K, n): n[4:].lower() for n in dir(K) if n.startswith("KPF_") and getattr(K, n) < 27}
    m = Machine(toml.loads(SELFTEST_SIZED))
    p = m.spawn()

    def kpf(proc, addr) -> str:
        f = m.kpageflags(proc.pagemap(addr)[0] & PM_PFRAME_MASK)[0]
        return " ".join(names[b] for b in sorted(names) if f >> b & 1)

    a = p.mmap(P)
    p.madvise(a, P, "nohugepage")
    p.write(a, 1)
    got = {"anon page written": kpf(p, a)}
    c = p.fork()
    c.write(a, 1)
    got["its copy in a child (COW)"] = kpf(c, a)
    c.exit()
    fd = p.open("/kpf_probe", "rw", create=True)
    p.ftruncate(fd, P)
    f = p.mmap(P, "rw", "private", fd=fd)
    p.write(f, 1)
    got["private file page written"] = kpf(p, f)
    big = p.mmap(4 << 20)
    thp = (big + (2 << 20) - 1) & ~((2 << 20) - 1)
    p.madvise(thp, 2 << 20, "hugepage")
    p.write(thp, 1)
    got["THP head"], got["THP tail"] = kpf(p, thp), kpf(p, thp + 5 * P)

    def batched(flags: dict[str, str]) -> dict[str, str]:
        return {case: " ".join(n for n in names.split() if n != "lru" or case.startswith("THP"))
                for case, names in flags.items()}
    assert batched(got) == batched(host)

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


# ---- the PAGEMAP_SCAN ioctl ---------------------------------------------------------------------
PROBE = Path(__file__).parent / "data" / "host-linux-6.18" / "pagemap_scan_probe.txt"
ALL = 0x1FF
# tests/probe/pagemap_scan_probe.c's scans: (start page, end page, vec_len, flags, max_pages, inverted, mask,
# anyof, return mask), pages from a 2 MiB-aligned base; its output is the expected result
SCANS = {
    "all": (0, 16, 64, 0, 0, 0, 0, 0, ALL), "present": (0, 16, 64, 0, 0, 0, 0x8, 0, ALL),
    "not_present": (0, 16, 64, 0, 0, 0x8, 0x8, 0, ALL), "anyof_swapped_pfnzero": (0, 16, 64, 0, 0, 0, 0, 0x30, 0x30),
    "guard": (0, 16, 64, 0, 0, 0, 0x100, 0, 0x100), "written": (0, 16, 64, 0, 0, 0, 0x2, 0, 0x2),
    "return_none": (0, 16, 64, 0, 0, 0, 0x8, 0, 0), "max_pages_3": (0, 16, 64, 0, 3, 0, 0x8, 0, 0x8),
    "vec_len_1": (0, 16, 1, 0, 0, 0, 0x8, 0, 0x8), "vec_len_0": (0, 16, 0, 0, 0, 0, 0x8, 0, 0x8),
    "max_pages_1_all": (0, 16, 64, 0, 1, 0, 0, 0, 0), "empty_range": (1, 1, 64, 0, 0, 0, 0, 0, ALL),
    "with_hole": (0, 500, 64, 0, 0, 0, 0, 0, ALL),
    "untouched": (4096, 5120, 64, 0, 0, 0, 0, 0, ALL), "untouched_written": (4096, 5120, 64, 0, 0, 0, 0x2, 0, 0x2),
    "thp": (512, 1536, 64, 0, 0, 0, 0, 0, ALL), "thp_max_pages": (512, 1536, 64, 0, 100, 0, 0x40, 0, 0x40),
    "file": (2048, 2049, 64, 0, 0, 0, 0, 0, ALL),
    "bad_flags": (0, 1, 64, 4, 0, 0, 0, 0, 0), "bad_category": (0, 1, 64, 0, 0, 0, 0x200, 0, 0),
    "bad_return_mask": (0, 1, 64, 0, 0, 0, 0, 0, 0x1000), "end_below_start": (1, 0, 64, 0, 0, 0, 0, 0, 0),
    "wp_matching": (0, 16, 64, 1, 0, 0, 0, 0, ALL), "wp_matching_check": (0, 16, 64, 3, 0, 0, 0, 0, ALL),
    "check_wpasync": (0, 16, 64, 2, 0, 0, 0, 0, ALL), "wp_matching_written": (0, 16, 64, 1, 0, 0, 0x2, 0, 0x2),
}
# scans at fixed addresses: (start, end) in bytes
FIXED = {"unaligned_start": (1, P), "beyond_task_size": (1 << 47, (1 << 47) + P),
         "to_task_size": ((1 << 47) - P, 1 << 47), "below_task_size": ((1 << 47) - 2 * P, (1 << 47) - P)}


def _probe_layout(m: Machine):
    """The probe's mappings: [0, 16) anon pages (0, 1, 7, 8 written, 3 the zero page, 5 a guard
    marker), a THP at 512, the huge zero page at 1024, a file page at 2048, 1024 untouched
    pages at 4096."""
    p = m.spawn()
    raw = p.mmap(8 << 20, prot="none")
    base = (raw + (2 << 20) - 1) & ~((2 << 20) - 1)
    p.munmap(raw, 8 << 20)
    p.mmap(16 * P, addr=base, flags="private|anonymous|fixed")
    for page in (0, 1, 7, 8):
        p.write(base + page * P, 1)
    p.read(base + 3 * P, 1)
    p.madvise(base + 5 * P, P, "guard_install")
    p.mmap(1024 * P, addr=base + 4096 * P, flags="private|anonymous|fixed")
    for page in (512, 1024):
        p.mmap(2 << 20, addr=base + page * P, flags="private|anonymous|fixed")
        p.madvise(base + page * P, 2 << 20, "hugepage")
    p.write(base + 512 * P, 1)
    p.read(base + 1024 * P, 1)
    m.create_file("/probe", P, value=1)
    p.mmap(P, prot="r", flags="private|fixed", addr=base + 2048 * P, fd=p.open("/probe"))
    p.read(base + 2048 * P, 1)
    return p, base


def _scan_line(p, base: int, start: int, end: int, *args) -> str:
    vec_len, flags, max_pages, inverted, mask, anyof, ret_mask = args
    try:
        res = p.pagemap_scan(start, end, vec_len, flags=flags, max_pages=max_pages, category_inverted=inverted,
                             category_mask=mask, category_anyof_mask=anyof, return_mask=ret_mask)
    except KernelError as e:
        return f"-{errno.errorcode[e.errno]}"
    return " ".join([str(len(res)), str((res.walk_end - start) // P)] +
                    [f"{(r.start - base) // P}-{(r.end - base) // P}:{_hex(r.categories)}" for r in res.regions])


def _hex(value: int) -> str:
    return f"{value:#x}" if value else "0"  # printf's %#x


def test_pagemap_scan_as_the_host_kernel_does_it():
    expected = dict(line.split(": ", 1) for line in PROBE.read_text().splitlines())
    m = Machine(toml.loads(SELFTEST_SIZED))
    p, base = _probe_layout(m)
    got = {name: _scan_line(p, base, base + s * P, base + e * P, *args) for name, (s, e, *args) in SCANS.items()}
    got.update({name: _scan_line(p, base, s, e, 64, 0, 0, 0, 0, 0, 0) for name, (s, e) in FIXED.items()})
    got["unaligned_end"] = _scan_line(p, base, base, base + 16 * P - 1, 64, 0, 0, 0, 0x8, 0, 0x8)
    assert got == {name: expected[name] for name in got}


def test_pagemap_scan_soft_dirty_and_names():
    m = machine(True)
    p = m.spawn()
    a = p.mmap(4 * P)
    p.write(a, P)
    assert [(r.start - a, r.end - a, r.categories) for r in p.pagemap_scan(a, a + 4 * P, return_mask=ALL).regions] == \
        [(0, P, 0x8a), (P, 4 * P, 0x82)]  # a new VMA is soft-dirty: PAGE_IS_SOFT_DIRTY everywhere
    p.proc("clear_refs", 4)
    p.write(a + 2 * P, 1)
    res = p.pagemap_scan(a, a + 4 * P, category_mask="soft_dirty", return_mask="PAGE_IS_SOFT_DIRTY|present")
    assert [(r.start - a, r.end - a, r.categories) for r in res.regions] == [(2 * P, 3 * P, 0x88)]
    for bad in ("bogus", 1.5, None):
        with pytest.raises(KernelError):
            p.pagemap_scan(a, a + P, category_mask=bad)
