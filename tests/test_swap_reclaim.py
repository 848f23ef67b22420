"""Anonymous memory reclaimed through swap (mm/vmscan.py's shrink_folio_list anonymous branch,
mm/swap_state.py, mm/page_io.py, mm/workingset.py: Linux 6.18's mm/vmscan.c, swap_state.c,
swap_table.h, workingset.c). The rules are the kernel's: get_scan_count's swappiness balance
(0: anon only once the file LRU plus free memory falls below the high watermarks,
``file_is_tiny``; 200: anon alone once the file cache is not in trim mode), a process touching
more than RAM completes with every byte intact, pswpout/pswpin/pgsteal_anon and the anon
workingset counters count, /proc/swaps and SwapFree/SwapCached follow, and a swap-cache shadow
makes a quick refault an activation (workingset_refault_anon/activate/restore). This host has
no swap: the expectations are the kernel's rules (Documentation/admin-guide/sysctl/vm.rst's
swappiness, the selftests' cgroup/test_memcontrol.c swap checks read for the same counters)."""

import re

import numpy as np
import pytest

from conftest import meminfo, vmstat
import linuxmm
from linuxmm import debug
from linuxmm.include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from linuxmm.include.linux.page_flags import PG_active_mask, PG_workingset_mask
from linuxmm.mm import vmscan
from linuxmm.mm.pgtable import NS_SWAPCACHE

MiB = 1 << 20
PAGE = 4096


def fill(p, addr, size, value_of=lambda mib: mib % 250 + 1):
    for off in range(0, size, MiB):
        p.write(addr + off, MiB, stride=64, value=value_of(off >> 20))


def intact(p, addr, size, value_of=lambda mib: mib % 250 + 1) -> list[int]:
    """The MiB of [addr, addr + size) that do not read back as written."""
    return [off >> 20 for off in range(0, size, MiB)
            if not (np.frombuffer(p.read(addr + off, MiB, stride=64), np.uint8) == value_of(off >> 20)).all()]


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_anon_larger_than_ram_is_swapped_and_reads_back(kind, path):
    """A process writing 1.5x RAM completes: reclaim swaps its older pages out (pswpout,
    pgsteal_anon), reading everything back swaps them in (pswpin: major faults), each byte as
    written; every swap-in found the shadow its eviction left (workingset_refault_anon)."""
    m = linuxmm.Machine(cmdline="mem=64M")
    m.swapon("128M", kind=kind, path=path)
    p = m.spawn()
    size = 96 * MiB
    addr = p.mmap(size)
    fill(p, addr, size)
    ev = vmstat(m, "pswpout", "pgsteal_anon", "pgscan_anon", "pgsteal_kswapd", "pgsteal_direct")
    assert ev["pswpout"] >= (size - 64 * MiB) // PAGE
    assert ev["pgscan_anon"] >= ev["pgsteal_anon"] > 0
    assert debug.check(m) == []
    majflt = p.majflt
    assert intact(p, addr, size) == []
    ev = vmstat(m, "pswpin", "pswpout", "pgsteal_anon", "workingset_refault_anon")
    assert p.majflt > majflt and ev["pswpin"] >= (size - 64 * MiB) // PAGE
    assert 0 < ev["workingset_refault_anon"] <= ev["pswpin"]
    if kind == "zram":  # no readahead: each read is one refault
        assert ev["workingset_refault_anon"] == ev["pswpin"]
    mi = meminfo(m, "SwapTotal", "SwapFree", "SwapCached")
    used = int(m.proc("swaps").splitlines()[1].split()[3])
    assert used == mi["SwapTotal"] - mi["SwapFree"] > 0
    assert mi["SwapCached"] == int(m.kernel.vm_state.nstat[:, NS_SWAPCACHE].sum()) * 4
    assert debug.check(m) == []


def test_zram_swap_out_never_leaves_the_compiled_pass(monkeypatch):
    """Reclaim to zram is one compiled pass per lruvec (``shrink_lruvec_pass``): isolation,
    unmapping, the swap slots, the zram write and the TLB flush all happen in it, so neither
    Python's batch (``shrink_folio_batch``) nor its swap write (``swap_writepage_batch``) runs
    when no folio is large and zsmalloc's pages come from the allocator's fast path; the pages
    written are noted as the anon cost of the node's lruvec (``lru_note_cost``)."""
    def python_path(*args):
        raise AssertionError("the pass stopped for Python")

    monkeypatch.setattr(vmscan, "shrink_folio_batch", python_path)
    monkeypatch.setattr(vmscan, "swap_writepage_batch", python_path)
    m = linuxmm.Machine(cmdline="mem=64M transparent_hugepage=never")
    m.swapon("128M", kind="zram")
    p = m.spawn()
    size = 96 * MiB
    addr = p.mmap(size)
    fill(p, addr, size)
    assert vmstat(m, "pswpout")["pswpout"] >= (size - 64 * MiB) // PAGE
    assert m.kernel.mem_map.lruvec_cost[ROOT_MEM_CGROUP_ID, 0, 0] > 0  # anon: SWAP_CLUSTER_MAX per page written
    assert intact(p, addr, size) == []
    assert debug.check(m) == []


def high_watermarks(m) -> int:
    """The sum of the zones' high watermarks (pages), from /proc/zoneinfo."""
    return sum(int(x) for x in re.findall(r"^\s+high\s+(\d+)$", m.proc("zoneinfo"), re.MULTILINE))


def first_swap_under_pressure(swappiness: int) -> dict:
    """96 MiB machine, 32 MiB of file cache read twice (active, so no cache-trim mode), then
    anonymous memory written 1 MiB at a time until a page is swapped out: the state then."""
    m = linuxmm.Machine(cmdline="mem=96M")
    m.sysctl("vm.swappiness", swappiness)
    m.swapon("128M", kind="zram")
    p = m.spawn()
    fd = p.open("/cache", "rw", create=True)
    p.pwrite(fd, 32 * MiB, offset=0, value=5)
    p.fsync(fd)
    for _ in range(2):
        p.pread(fd, 32 * MiB, 0)
    size = 128 * MiB
    addr = p.mmap(size)
    for mib in range(size // MiB):
        stolen_file = vmstat(m, "pgsteal_file")["pgsteal_file"]
        fill(p, addr + mib * MiB, MiB, lambda _: mib % 250 + 1)
        if vmstat(m, "pswpout")["pswpout"]:
            break
    mi = meminfo(m, "Active(file)", "Inactive(file)", "MemFree")
    assert intact(p, addr, (mib + 1) * MiB) == []
    assert debug.check(m) == []
    return {"file": (mi["Active(file)"] + mi["Inactive(file)"]) // 4, "free": mi["MemFree"] // 4,
            "high": high_watermarks(m), "stolen_file": stolen_file, "anon_mib": mib + 1}


STEP = 256 + 32  # pages one 1 MiB write may allocate, with slack for a page-table page


def test_swappiness_0_swaps_only_once_the_file_cache_is_tiny():
    """vm.swappiness=0: get_scan_count gives anon no share (SCAN_FRACT's anon fraction is 0,
    and priority 0 does not switch to SCAN_EQUAL): the cache is reclaimed first, and anon is
    only scanned once ``file_is_tiny`` (file LRU + free at most the high watermarks): global
    reclaim then swaps rather than fail."""
    first = first_swap_under_pressure(0)
    assert first["stolen_file"] > 0
    assert first["file"] + first["free"] <= first["high"] + STEP, first


def test_swappiness_200_prefers_anon():
    """vm.swappiness=200: SCAN_FRACT gives the file lists no share once the cache is out of
    trim mode (its inactive list is low): the first pressure swaps anon and keeps most of the
    cache (swappiness 0 lets it fall to the high watermarks first)."""
    first = first_swap_under_pressure(200)
    assert first["file"] >= (32 * MiB // PAGE) * 3 // 4, first  # most of the cache is still there


def test_quick_refault_from_the_swap_cache_shadow_activates():
    """MADV_PAGEOUT evicts through shrink_folio_list: the slot keeps a shadow (6.18's swap
    table); touching the page again at once is a refault at distance 0, within the
    workingset (for anon: the file LRU, and the active anon list while swap is free): the
    folio comes back active (workingset_activate_anon), and with PG_workingset when it had
    been deactivated before (workingset_restore_anon)."""
    m = linuxmm.Machine(cmdline="mem=64M")
    m.swapon("32M", kind="zram")
    p = m.spawn()
    fd = p.open("/cache", "rw", create=True)
    p.pwrite(fd, MiB, offset=0, value=1)  # a workingset of 256 pages: the file LRU
    addr = p.mmap(16 * PAGE)
    p.write(addr, 16 * PAGE, stride=64, value=3)
    k = m.kernel
    pfn = p.pagemap(addr, 1)[0] & ((1 << 55) - 1)
    k.mem_map.flags[pfn] |= PG_workingset_mask  # as shrink_active_list leaves a deactivated folio
    before = vmstat(m, "workingset_refault_anon", "workingset_activate_anon", "workingset_restore_anon")
    p.madvise(addr, 16 * PAGE, "pageout")
    table = k.vm_state.swap_table
    assert np.count_nonzero(table & 1) == 16  # a shadow for each page evicted
    assert debug.check(m) == []
    assert p.read(addr, PAGE, stride=64) == bytes([3]) * 64
    after = vmstat(m, "workingset_refault_anon", "workingset_activate_anon", "workingset_restore_anon")
    assert {n: after[n] - before[n] for n in after} == {"workingset_refault_anon": 1, "workingset_activate_anon": 1,
                                                       "workingset_restore_anon": 1}
    new = p.pagemap(addr, 1)[0] & ((1 << 55) - 1)
    assert k.mem_map.flags[new] & PG_active_mask and k.mem_map.flags[new] & PG_workingset_mask
    assert np.count_nonzero(table & 1) == 15
    assert debug.check(m) == []


def test_check_catches_a_shadow_in_a_free_slot():
    m = linuxmm.Machine(cmdline="mem=64M")
    m.swapon("32M", kind="zram")
    p = m.spawn()
    addr = p.mmap(4 * PAGE)
    p.write(addr, 4 * PAGE, value=3)
    p.madvise(addr, 4 * PAGE, "pageout")
    vs = m.kernel.vm_state
    shadow = int(vs.swap_table[vs.swap_table & 1 == 1][0])
    free = int(np.flatnonzero(vs.swap_map == 0)[-1])
    vs.swap_table[free] = shadow
    assert any("no swap pte holds the slot" in v for v in debug.check(m))


PM_PRESENT, PM_SWAP = 1 << 63, 1 << 62
SWP_OFFSET_BITS = ((1 << 55) - 1) >> 5  # pagemap's swap entry: type in bits 0-4, offset above


def thp_machine(kind, path, swap="128M"):
    """A 64 MiB machine with THPs on (hugepage_init turned them off below 512 MiB, an admin
    turns them on) and a swap area; a process with 4 MiB written (two THPs at fault)."""
    m = linuxmm.Machine(cmdline="mem=64M")
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "always")
    m.swapon(swap, kind=kind, path=path)
    p = m.spawn()
    addr = p.mmap(4 * MiB)
    fill(p, addr, 4 * MiB)
    assert vmstat(m, "thp_fault_alloc")["thp_fault_alloc"] == 2
    return m, p, addr


def swap_offsets(p, addr, npages) -> np.ndarray:
    """The swap offsets pagemap shows for the pages (-1: not swapped)."""
    entries = np.array(p.pagemap(addr, npages), np.uint64)
    swapped = (entries & np.uint64(PM_SWAP)) != 0
    return np.where(swapped, (entries >> np.uint64(5)) & np.uint64(SWP_OFFSET_BITS), -1).astype(np.int64)


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_thp_swaps_out_whole_into_a_free_cluster(kind, path):
    """6.18 with CONFIG_THP_SWAP: a THP MADV_PAGEOUT hands to reclaim goes to swap whole
    when the area has a free cluster (folio_alloc_swap of order 9): no split, thp_swpout
    counts each, pswpout the pages; its pages are swap ptes of one aligned 512-slot run
    (the PMD split into ptes, TTU_SPLIT_HUGE_PMD); everything reads back as written."""
    m, p, addr = thp_machine(kind, path)
    p.madvise(addr, 4 * MiB, "pageout")
    ev = vmstat(m, "thp_swpout", "thp_swpout_fallback", "thp_split_page", "pswpout")
    assert ev == {"thp_swpout": 2, "thp_swpout_fallback": 0, "thp_split_page": 0, "pswpout": 1024}
    offsets = swap_offsets(p, addr, 1024)
    for thp in offsets.reshape(2, 512):
        assert thp[0] % 512 == 0 and (thp == thp[0] + np.arange(512)).all()
    assert debug.check(m) == []
    m.run(0.1)  # the disk's writes complete
    assert intact(p, addr, 4 * MiB) == []
    assert debug.check(m) == []


def fragment_swap(m, p, n_small):
    """Fill every cluster of the area with small pages swapped out, then read every other
    one back (zram frees a slot at swap-in): free slots are left, no free cluster."""
    small = p.mmap(n_small * PAGE)
    p.madvise(small, n_small * PAGE, "nohugepage")
    p.write(small, n_small * PAGE, value=5)
    p.madvise(small, n_small * PAGE, "pageout")
    for page in range(0, n_small - 64, 2):
        p.read(small + page * PAGE, 1)
    return small


def test_thp_falls_back_to_small_pages_on_fragmented_swap():
    """No free cluster left (every cluster holds small pages, half of the slots free):
    folio_alloc_swap of order 9 fails, so reclaim splits the THP (thp_split_page) and swaps
    its pages one by one into the free slots (thp_swpout_fallback), none whole."""
    m, p, addr = thp_machine("zram", None, swap="8M")  # 4 clusters
    small = fragment_swap(m, p, 4 * 512)
    ev0 = vmstat(m, "pswpout")
    p.madvise(addr, 2 * MiB, "pageout")
    ev = vmstat(m, "thp_swpout", "thp_swpout_fallback", "thp_split_page", "pswpout")
    assert ev["thp_swpout"] == 0 and ev["thp_swpout_fallback"] == 1 and ev["thp_split_page"] == 1
    assert ev["pswpout"] - ev0["pswpout"] == 512
    assert (swap_offsets(p, addr, 512) > 0).all()
    assert debug.check(m) == []
    assert intact(p, addr, 4 * MiB) == []
    assert (np.frombuffer(p.read(small, 4 * 512 * PAGE), np.uint8) == 5).all()
    assert debug.check(m) == []


def test_swap_in_from_the_swap_cache_maps_the_whole_thp():
    """A THP swapped out whole to a disk stays in the swap cache (under writeback, then
    until reclaim frees it): a fault on any of its swap ptes finds it there, a minor fault
    without I/O, and maps all 512 pages at once (do_swap_page's large swap-cache folio whose
    ptes are all its swap entries), PTE-mapped; the swap slots stay until written again."""
    m, p, addr = thp_machine("partition", "/dev/vda")
    p.madvise(addr, 2 * MiB, "pageout")
    m.run(0.1)
    majflt, minflt = p.majflt, p.minflt
    p.read(addr + 100 * PAGE, 1)
    assert p.majflt == majflt and p.minflt == minflt + 1
    assert vmstat(m, "pswpin")["pswpin"] == 0
    entries = np.array(p.pagemap(addr, 512), np.uint64)
    assert ((entries & np.uint64(PM_PRESENT)) != 0).all()
    assert meminfo(m, "SwapCached", "AnonHugePages") == {"SwapCached": 2048, "AnonHugePages": 2048}
    assert debug.check(m) == []
    assert intact(p, addr, 4 * MiB) == []


def test_swap_in_of_a_thp_partly_dropped_maps_one_page():
    """Once some of the THP's swap ptes are gone (MADV_DONTNEED of 16 pages in its middle),
    a fault maps only the page faulted from the large swap-cache folio (its ptes are no
    longer all its swap entries: swap_pte_batch); the others stay swap ptes of it, and the
    dropped pages read as zeros."""
    m, p, addr = thp_machine("partition", "/dev/vda")
    p.madvise(addr, 2 * MiB, "pageout")
    m.run(0.1)
    p.madvise(addr + 200 * PAGE, 16 * PAGE, "dontneed")
    p.read(addr + 100 * PAGE, 1)
    entries = np.array(p.pagemap(addr, 512), np.uint64)
    present = (entries & np.uint64(PM_PRESENT)) != 0
    assert present.sum() == 1 and present[100]
    kept = np.r_[0:200, 216:512]
    assert ((entries[kept][~present[kept]] & np.uint64(PM_SWAP)) != 0).all()
    assert debug.check(m) == []
    assert intact(p, addr + MiB, 3 * MiB, lambda mib: mib + 2) == []
    assert (np.frombuffer(p.read(addr, 200 * PAGE, stride=64), np.uint8) == 1).all()
    assert not np.frombuffer(p.read(addr + 200 * PAGE, 16 * PAGE, stride=64), np.uint8).any()
    assert debug.check(m) == []


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_swapoff_brings_whole_swapped_thps_back(kind, path):
    """swapoff of an area holding THPs swapped out whole (zram: freed at once; a disk: still
    in the swap cache) maps every page back (try_to_unuse): the data as written."""
    m, p, addr = thp_machine(kind, path)
    p.madvise(addr, 4 * MiB, "pageout")
    m.run(0.1)
    assert vmstat(m, "thp_swpout")["thp_swpout"] == 2
    m.swapoff(path or "/dev/zram0")
    entries = np.array(p.pagemap(addr, 1024), np.uint64)
    assert ((entries & np.uint64(PM_PRESENT)) != 0).all()
    assert debug.check(m) == []
    assert intact(p, addr, 4 * MiB) == []
    assert debug.check(m) == []


def test_thp_reclaimed_under_pressure_is_swapped_whole_and_reads_back():
    """A process writing 1.5x RAM in THPs: reclaim swaps most of them out whole
    (thp_swpout), every byte reads back and the swap_map counts match (debug.check)."""
    m = linuxmm.Machine(cmdline="mem=64M")
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "always")
    m.swapon("128M", kind="zram")
    p = m.spawn()
    size = 96 * MiB
    addr = p.mmap(size)
    fill(p, addr, size)
    ev = vmstat(m, "thp_fault_alloc", "thp_swpout", "pswpout")
    assert ev["thp_fault_alloc"] > 0 and ev["thp_swpout"] > 0
    assert ev["pswpout"] >= ev["thp_swpout"] * 512
    assert debug.check(m) == []
    assert intact(p, addr, size) == []
    assert debug.check(m) == []
