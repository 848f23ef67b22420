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
from linuxmm.include.linux.page_flags import PG_active_mask, PG_workingset_mask
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


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_thp_is_split_to_swap_out_and_reads_back(kind, path):
    """An anonymous THP reclaim takes is split to order 0 and its pages swapped (6.18's
    fallback, split_folio_to_list, when it does not swap the folio whole into a cluster):
    thp_split_page and thp_swpout_fallback count each, pswpout the pages; everything reads
    back as written and the swap_map counts match the swap ptes (debug.check)."""
    m = linuxmm.Machine(cmdline="mem=64M")
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "always")  # hugepage_init turned it off below 512 MiB
    m.swapon("128M", kind=kind, path=path)
    p = m.spawn()
    size = 96 * MiB
    addr = p.mmap(size)
    fill(p, addr, size)
    ev = vmstat(m, "thp_fault_alloc", "thp_split_page", "thp_swpout_fallback", "thp_swpout", "pswpout")
    assert ev["thp_fault_alloc"] > 0
    assert ev["thp_swpout_fallback"] > 0 and ev["thp_split_page"] >= ev["thp_swpout_fallback"]
    assert ev["thp_swpout"] == 0
    assert ev["pswpout"] >= ev["thp_swpout_fallback"] * 512 // 2
    assert debug.check(m) == []
    assert intact(p, addr, size) == []
    assert debug.check(m) == []
