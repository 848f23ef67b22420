"""The LRU lists and the per-CPU folio batches (mm/swap.py: mm/swap.c, include/linux/mm_inline.h
of 6.18), checked against /proc and against this host (tests/probe/lru_probe.c ->
tests/data/host-linux-6.18/lru_probe.jsonl)."""

import json

import numpy as np
from conftest import DATA

from linuxmm import Machine, debug
from linuxmm.include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from linuxmm.include.linux.mmzone import LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, LRU_UNEVICTABLE
from linuxmm.include.linux.page_flags import PG_active_mask, PG_lru_mask, PG_referenced_mask
from linuxmm.include.linux.pagevec import FBATCH_LRU_ADD, FOLIO_BATCH_SIZE
from linuxmm.include.linux.vmstat import NR_LRU_BASE, NR_ZONE_INACTIVE_ANON, PGACTIVATE, PGREUSE
from linuxmm.mm import swap as S

PROBE = {r["step"]: r for r in map(json.loads, (DATA / "host-linux-6.18" / "lru_probe.jsonl").read_text().splitlines())}
HOST_SLACK_KB = 2 * 125 * 4 * 2  # per-cpu vmstat drift of two counters on 2 CPUs, and other processes


def anon_kb(m) -> tuple[int, int]:
    info = {ln.split(":")[0]: int(ln.split()[1]) for ln in m.proc("/proc/meminfo").splitlines()}
    return info["Active(anon)"], info["Inactive(anon)"]


def test_new_anonymous_folios_join_the_inactive_list_as_on_the_host():
    """6.18 (no MGLRU): a written anonymous page joins the inactive anon list, through the CPU's
    lru_add batch (up to 30 folios still wait there); unmapping takes every page off again."""
    m = Machine(cmdline="transparent_hugepage=never")
    p = m.spawn()
    size = PROBE["touch_private_anon"]["size_kb"] << 10
    start = anon_kb(m)
    addr = p.mmap(size)
    p.write(addr, size)
    active, inactive = (x - s for x, s in zip(anon_kb(m), start))
    waiting = int(m.kernel.mem_map.fbatch_nr[0, FBATCH_LRU_ADD])
    assert active == PROBE["touch_private_anon"]["active_anon_kb"] == 0
    assert inactive == (size >> 10) - 4 * waiting and waiting < FOLIO_BATCH_SIZE
    assert abs(PROBE["touch_private_anon"]["inactive_anon_kb"] - (size >> 10)) <= HOST_SLACK_KB
    zones = sum(int(line.split()[1]) for line in m.proc("/proc/zoneinfo").splitlines()
                if line.split()[:1] == ["nr_zone_inactive_anon"])
    assert zones * 4 == inactive + start[1]
    assert debug.check(m) == []
    p.munmap(addr, size)
    assert anon_kb(m) == start
    assert abs(PROBE["munmap_private_anon"]["inactive_anon_kb"] + (size >> 10)) <= HOST_SLACK_KB


def listed(a, lru) -> list[int]:
    out, pfn = [], int(a.lruvec_head[ROOT_MEM_CGROUP_ID, 0, lru])
    while pfn:
        out.append(pfn - 1)
        pfn = int(a.lru_next[pfn - 1])
    return out


def test_lru_add_batch_moves_when_full_and_large_folios_at_once():
    m = Machine(cmdline="transparent_hugepage=always")
    k = m.kernel
    p = m.spawn()
    addr = p.mmap(4 << 20)
    a = k.mem_map
    S.lru_add_drain_all(k)
    before = len(listed(a, LRU_INACTIVE_ANON))
    p.write(addr, 4096)  # a THP: large folios are not cached in the batch
    assert len(listed(a, LRU_INACTIVE_ANON)) == before + 1 and a.fbatch_nr[0, FBATCH_LRU_ADD] == 0
    small = p.mmap(FOLIO_BATCH_SIZE << 12)  # too small for a THP
    p.write(small, (FOLIO_BATCH_SIZE - 1) << 12)
    assert a.fbatch_nr[0, FBATCH_LRU_ADD] == FOLIO_BATCH_SIZE - 1
    waiting = a.fbatch[0, FBATCH_LRU_ADD, :FOLIO_BATCH_SIZE - 1]
    assert (a.refcount[waiting] == 2).all() and not (a.flags[waiting] & PG_lru_mask).any()
    p.write(small + ((FOLIO_BATCH_SIZE - 1) << 12), 4096)  # the 31st fills the batch: all move
    assert a.fbatch_nr[0, FBATCH_LRU_ADD] == 0 and (a.refcount[waiting] == 1).all()
    assert len(listed(a, LRU_INACTIVE_ANON)) == before + 1 + FOLIO_BATCH_SIZE
    assert listed(a, LRU_INACTIVE_ANON)[0] == a.fbatch[0, FBATCH_LRU_ADD, FOLIO_BATCH_SIZE - 1]  # newest first
    assert debug.check(m) == []


def test_lru_add_batch_counts_each_run_of_one_list():
    """``folio_batch_lru_add`` moves the list sizes once per run of folios bound for one list:
    a batch alternating between the inactive anon list and the unevictable one (pages of an
    MLOCK_ONFAULT range) leaves the node's, the zones', the lruvec's and the memcg's sizes
    each equal to the pages listed."""
    m = Machine(cmdline="transparent_hugepage=never")
    k, p = m.kernel, m.spawn()
    a = k.mem_map
    S.lru_add_drain_all(k)
    lrus = [LRU_INACTIVE_ANON, LRU_UNEVICTABLE]
    before = [len(listed(a, lru)) for lru in lrus]
    memcg_before = a.memcg_stat[ROOT_MEM_CGROUP_ID, [NR_LRU_BASE + lru for lru in lrus]].copy()
    n = FOLIO_BATCH_SIZE // 2
    plain, locked = p.mmap(n + 1 << 12), p.mmap(n << 12)
    p.mlock2(locked, n << 12, onfault=True)
    for i in range(n):
        p.write(plain + (i << 12), 1)
        p.write(locked + (i << 12), 1)
    assert a.fbatch_nr[0, FBATCH_LRU_ADD] == FOLIO_BATCH_SIZE - 1
    p.write(plain + (n << 12), 1)  # the 31st: the batch moves, 31 runs of one folio each
    assert a.fbatch_nr[0, FBATCH_LRU_ADD] == 0
    assert [len(listed(a, lru)) - b for lru, b in zip(lrus, before)] == [n + 1, n]
    memcg = a.memcg_stat[ROOT_MEM_CGROUP_ID, [NR_LRU_BASE + lru for lru in lrus]] - memcg_before
    assert memcg.tolist() == [n + 1, n]
    assert debug.check(m) == []


def test_folio_mark_accessed_activates_on_the_second_use():
    """The first use sets PG_referenced; the second activates: through the lru_activate batch
    for a listed folio (PGACTIVATE counts it when the batch moves), or at once as PG_active
    for one still waiting in lru_add (it joins the active list when that batch moves)."""
    m = Machine(cmdline="transparent_hugepage=never")
    k = m.kernel
    p = m.spawn()
    addr = p.mmap(2 << 12)
    a = k.mem_map
    p.write(addr, 4096)
    listed_pfn = p.walk(addr).phys >> 12
    S.lru_add_drain(a, 0)
    p.write(addr + 4096, 4096)
    waiting = p.walk(addr + 4096).phys >> 12
    assert a.flags[listed_pfn] & PG_lru_mask and not a.flags[waiting] & PG_lru_mask
    events = int(k.vm_events[PGACTIVATE])
    for pfn in (listed_pfn, waiting):
        S.folio_mark_accessed(a, 0, pfn)
        assert a.flags[pfn] & PG_referenced_mask and not a.flags[pfn] & PG_active_mask
        S.folio_mark_accessed(a, 0, pfn)
        assert not a.flags[pfn] & PG_referenced_mask
    assert a.flags[waiting] & PG_active_mask and not a.flags[listed_pfn] & PG_active_mask
    S.lru_add_drain(a, 0)
    assert set(listed(a, LRU_ACTIVE_ANON)) == {listed_pfn, waiting}
    assert int(k.vm_events[PGACTIVATE]) == events + 1  # lru_activate's; a folio added active is not counted
    assert debug.check(m) == []
    shown = dict(line.split() for line in m.proc("/proc/vmstat").splitlines())
    assert int(shown["pgactivate"]) == events + 1 and int(shown["nr_active_anon"]) >= 2


def test_write_fault_drains_the_batch_to_reuse_a_page():
    """wp_can_reuse_anon_folio: a page shared at fork and still in the lru_add batch is held by
    two ptes and the batch; the child's write drains the batch (lru_add_drain) and copies, so
    the parent's write finds the page its own and reuses it (PGREUSE) instead of copying."""
    m = Machine(cmdline="transparent_hugepage=never")
    p = m.spawn()
    addr = p.mmap(4096)
    p.write(addr, 4096)
    pfn = p.walk(addr).phys >> 12
    p.fork().write(addr, 4096, value=8)
    k = m.kernel
    reuse = int(k.vm_events[PGREUSE])
    p.write(addr, 4096, value=9)
    assert int(k.vm_events[PGREUSE]) == reuse + 1 and p.walk(addr).phys >> 12 == pfn
    assert k.mem_map.refcount[pfn] == 1 and debug.check(m) == []


def test_debug_check_finds_a_folio_lost_from_its_batch():
    m = Machine(cmdline="transparent_hugepage=never")
    p = m.spawn()
    p.write(p.mmap(4096), 4096)
    a = m.kernel.mem_map
    pfn = int(a.fbatch[0, FBATCH_LRU_ADD, 0])
    a.fbatch_nr[0, FBATCH_LRU_ADD] -= 1
    found = debug.check(m)
    assert any(f"anon folio {pfn:#x}: neither on an LRU list nor in an lru_add batch" in v for v in found)
    assert any(f"anon folio {pfn:#x}: refcount 2 but 1 page-table entries map it" in v for v in found)
    a.fbatch_nr[0, FBATCH_LRU_ADD] += 1
    S.lru_add_drain(a, 0)
    zid = int(np.nonzero(a.vm_stat[:, NR_ZONE_INACTIVE_ANON])[0][0])
    a.vm_stat[zid, NR_ZONE_INACTIVE_ANON] += 1
    assert any(f"zone {zid}: NR_ZONE_* LRU counters" in v for v in debug.check(m))
