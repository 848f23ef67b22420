"""The LRU helpers of ``include/linux/mm_inline.h``, Linux 6.18: what the classic two-list LRU
(``mm/swap.py``) and the multi-gen LRU (``mm/lru_gen.py``) share, and MGLRU's per-folio half.
They read the allocator's arrays (a folio's zone: ``page_zone``), so this header lives with
the kernel code in mm/ (headers under include/linux import no kernel code).

``__update_lru_size`` keeps the node's NR_<lru> and the zone's NR_ZONE_<lru> counters (what
/proc/meminfo's Active/Inactive lines show) equal to the pages on each kind of list.

MGLRU (CONFIG_LRU_GEN, while a lruvec's ``lrugen_enabled`` is set) keeps the evictable folios
on its own lists instead, one per generation, type (anon, file) and zone
(``MemMap.lrugen_head``/``_tail``, linked through the same ``lru_next``/``lru_prev``). A folio
stores its generation + 1 in page->flags (LRU_GEN_MASK, ``include/linux/page_flags.py``);
the accesses through file descriptors go to PG_referenced, then the LRU_REFS bits, then
PG_workingset (``folio_lru_refs``, its tier ``lru_tier_from_refs``). ``lru_gen_add_folio``
picks the generation from the folio's flags (``lru_gen_folio_seq``: faulted-in and activated
folios to the youngest, anonymous ones to the second youngest, rotated and reclaimed ones to
the oldest, the rest in between) and ``lru_gen_update_size`` counts the two youngest
generations as active and the others inactive, so /proc reads the same under both LRUs.
``lruvec_add_folio``/``lruvec_del_folio`` (``mm/swap.py``) call these first, as the kernel's
do: an unevictable folio, or any folio while MGLRU is off, takes the classic path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from ..include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from ..include.linux.mmzone import (LRU_ACTIVE_ANON, LRU_GEN_CORE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE,
                                    MAX_NR_GENS, MAX_NR_TIERS, MIN_NR_GENS, NR_LRU_GEN_CAPS)
from ..include.linux.page_flags import (LRU_GEN_MASK, LRU_GEN_PGOFF, LRU_REFS_FLAGS, LRU_REFS_MASK, LRU_REFS_PGOFF,
                                        PG_active_mask, PG_dirty_mask, PG_head_mask, PG_reclaim_mask,
                                        PG_referenced_mask, PG_swapbacked_mask, PG_swapcache_mask, PG_unevictable_mask,
                                        PG_workingset_mask, PG_writeback_mask)
from ..include.linux.vmstat import NR_LRU_BASE, NR_ZONE_LRU_BASE
from ..kernel.timer import jiffies
from . import buddy as B

LRU_ACTIVE = LRU_ACTIVE_ANON - LRU_INACTIVE_ANON


@dataclass
class lru_gen_globals:
    """MGLRU's machine-wide state in ``mm/vmscan.c``: the ``lru_gen_caps`` static keys (bits
    LRU_GEN_CORE, _MM_WALK, _NONLEAF_YOUNG; all on at boot with CONFIG_LRU_GEN_ENABLED),
    ``lru_gen_min_ttl`` (jiffies), and the entry points ``mm/vmscan.py`` calls
    (``lru_gen_shrink_node``, ``lru_gen_shrink_lruvec``, ``lru_gen_age_node``), set by ``init_lru_gen``: ``mm/lru_gen.py``
    builds on ``mm/vmscan.py``, which therefore cannot import it."""

    caps: int = 0
    min_ttl: int = 0
    shrink_node: Callable | None = None
    shrink_lruvec: Callable | None = None
    age_node: Callable | None = None

    @classmethod
    def at_boot(cls, config) -> "lru_gen_globals":
        return cls(caps=(1 << NR_LRU_GEN_CAPS) - 1 if config.lru_gen and config.lru_gen_enabled else 0)


def lru_gen_init_lruvec(k, lv) -> None:
    """``lru_gen_init_lruvec`` for a new memcg's lruvec (its id may have been another memcg's):
    max_seq MIN_NR_GENS + 1, min_seqs 0, every generation born now, no PID history."""
    a, memcg, nid = k.mem_map, lv.memcg, lv.nid
    a.lrugen_max_seq[memcg, nid] = MIN_NR_GENS + 1
    a.lrugen_min_seq[memcg, nid] = 0
    for counter in (a.lrugen_avg_refaulted, a.lrugen_avg_total, a.lrugen_refaulted, a.lrugen_evicted,
                    a.lrugen_protected):
        counter[memcg, nid] = 0
    lv.lrugen.timestamps[:] = [jiffies(k)] * MAX_NR_GENS


def lru_gen_enabled(k) -> bool:
    """``lru_gen_enabled()``: MGLRU is built in and its core is switched on."""
    return bool(k.config.lru_gen and k.lru_gen.caps & (1 << LRU_GEN_CORE))


@njit(cache=True, inline="always")
def lru_gen_enabled_compiled(a):
    """``lru_gen_enabled()`` in compiled code: the LRU_GEN_CORE static key, which
    ``lru_gen_change_state`` switches for every node's lruvecs at once, so the first node's
    flag reads it (no folio's zone needs looking up, as the kernel's static key needs none)."""
    return a.lrugen_enabled[0] != 0


# ---- shared by both LRUs -----------------------------------------------------------------


@njit(cache=True)
def folio_nr_pages(a, pfn):
    return np.int64(1) << a.order[pfn] if a.flags[pfn] & PG_head_mask else np.int64(1)


@njit(cache=True)
def folio_is_file_lru(a, pfn):
    """1 for page cache (type LRU_GEN_FILE), 0 for anonymous and shmem folios."""
    return 0 if a.flags[pfn] & PG_swapbacked_mask else 1


@njit(cache=True)
def folio_zonenum(a, pfn):
    return a.zone_idx[B.page_zone(a, pfn)]


@njit(cache=True)
def folio_lruvec_memcg(a, pfn):
    """The memcg whose lruvec holds the folio (``folio_lruvec``): its own, the root's for a
    folio charged to none."""
    memcg = a.memcg[pfn]
    return memcg if memcg else ROOT_MEM_CGROUP_ID


@njit(cache=True)
def __update_lru_size(a, memcg, zid, lru, nr_pages):
    """The node's NR_<lru>, the zone's NR_ZONE_<lru> and the memcg's NR_<lru>
    (``__mod_lruvec_state``) follow the pages listed."""
    a.node_stat[a.zone_node[zid], NR_LRU_BASE + lru] += nr_pages
    a.vm_stat[zid, NR_ZONE_LRU_BASE + lru] += nr_pages
    a.memcg_stat[memcg, NR_LRU_BASE + lru] += nr_pages


# ---- MGLRU: generations and tiers of one folio --------------------------------------------


@njit(cache=True)
def order_base_2(n):
    """ceil(log2(n)); 0 for n <= 1."""
    bits, n = 0, n - 1
    while n > 0:
        bits, n = bits + 1, n >> 1
    return bits


@njit(cache=True)
def lru_gen_from_seq(seq):
    return seq % MAX_NR_GENS


@njit(cache=True)
def lru_tier_from_refs(refs, workingset):
    """A folio read N times through file descriptors is in tier order_base_2(N); PG_workingset
    puts it in the last."""
    return MAX_NR_TIERS - 1 if workingset else order_base_2(refs)


@njit(cache=True)
def folio_lru_refs(a, pfn):
    """The accesses through file descriptors counted so far, PG_referenced included (the
    LRU_REFS bits mean something only while PG_referenced is set)."""
    flags = a.flags[pfn]
    if not flags & PG_referenced_mask:
        return 0
    return np.int64((flags & LRU_REFS_MASK) >> np.uint64(LRU_REFS_PGOFF)) + 1


@njit(cache=True)
def folio_lru_gen(a, pfn):
    """The generation of the MGLRU list the folio is on, -1 when on none."""
    return np.int64((a.flags[pfn] & LRU_GEN_MASK) >> np.uint64(LRU_GEN_PGOFF)) - 1


@njit(cache=True)
def lru_gen_is_active(a, memcg, nid, gen):
    """The two youngest generations (MIN_NR_GENS) count as active."""
    max_seq = a.lrugen_max_seq[memcg, nid]
    return gen == lru_gen_from_seq(max_seq) or gen == lru_gen_from_seq(max_seq - 1)


@njit(cache=True)
def lru_gen_update_size(a, memcg, nid, pfn, old_gen, new_gen):
    """Move the folio's pages between generations (-1: none) in ``nr_pages`` and between the
    inactive and active counters /proc reads: on addition, deletion, or promotion from an
    inactive to an active generation."""
    type_, zone, delta = folio_is_file_lru(a, pfn), folio_zonenum(a, pfn), folio_nr_pages(a, pfn)
    zid = B.page_zone(a, pfn)
    lru = LRU_INACTIVE_FILE if type_ else LRU_INACTIVE_ANON
    if old_gen >= 0:
        a.lrugen_nr_pages[memcg, nid, old_gen, type_, zone] -= delta
    if new_gen >= 0:
        a.lrugen_nr_pages[memcg, nid, new_gen, type_, zone] += delta
    if old_gen < 0:
        __update_lru_size(a, memcg, zid, lru + LRU_ACTIVE if lru_gen_is_active(a, memcg, nid, new_gen) else lru, delta)
    elif new_gen < 0:
        __update_lru_size(a, memcg, zid, lru + LRU_ACTIVE if lru_gen_is_active(a, memcg, nid, old_gen) else lru, -delta)
    elif not lru_gen_is_active(a, memcg, nid, old_gen) and lru_gen_is_active(a, memcg, nid, new_gen):
        __update_lru_size(a, memcg, zid, lru, -delta)
        __update_lru_size(a, memcg, zid, lru + LRU_ACTIVE, delta)


@njit(cache=True)
def lru_gen_folio_seq(a, memcg, nid, pfn, reclaiming):
    """The seq a folio joins (``lru_gen_folio_seq``), by how far from eviction its flags say
    it belongs: PG_active (set while isolated: accessed through page tables) the youngest,
    or the second youngest without PG_workingset; a folio put back by reclaim the oldest;
    anonymous folios not in the swap cache, and dirty or writeback folios reclaim wants,
    the second youngest; the rest the oldest, or the second oldest with PG_workingset."""
    flags = a.flags[pfn]
    workingset = 1 if flags & PG_workingset_mask else 0
    if flags & PG_active_mask:
        gen = MIN_NR_GENS - workingset
    elif reclaiming:
        gen = MAX_NR_GENS
    elif ((flags & PG_swapbacked_mask and not flags & PG_swapcache_mask)
          or (flags & PG_reclaim_mask and flags & (PG_dirty_mask | PG_writeback_mask))):
        gen = MIN_NR_GENS
    else:
        gen = MAX_NR_GENS - workingset
    return max(a.lrugen_max_seq[memcg, nid] - gen + 1, a.lrugen_min_seq[memcg, nid, folio_is_file_lru(a, pfn)])


@njit(cache=True)
def lru_gen_set_refs(a, pfn):
    """A young pte the eviction's rmap walk found (``folio_check_references``): the first time
    only PG_referenced (the refs cleared, False); after that PG_workingset with the refs
    cleared (True: the folio goes back active, to the youngest generation)."""
    flags = a.flags[pfn]
    if not flags & (PG_referenced_mask | PG_workingset_mask):
        a.flags[pfn] = (flags & ~LRU_REFS_MASK) | PG_referenced_mask
        return False
    a.flags[pfn] = (flags & ~LRU_REFS_FLAGS) | PG_workingset_mask
    return True


# ---- MGLRU: the lists ------------------------------------------------------------------------


@njit(cache=True)
def lrugen_list_add(a, memcg, nid, gen, type_, zone, pfn):
    """``list_add``: the folio at the head of list [gen][type][zone], the youngest end."""
    head = a.lrugen_head[memcg, nid, gen, type_, zone]
    a.lru_prev[pfn], a.lru_next[pfn] = 0, head
    if head:
        a.lru_prev[head - 1] = pfn + 1
    else:
        a.lrugen_tail[memcg, nid, gen, type_, zone] = pfn + 1
    a.lrugen_head[memcg, nid, gen, type_, zone] = pfn + 1


@njit(cache=True)
def lrugen_list_add_tail(a, memcg, nid, gen, type_, zone, pfn):
    """``list_add_tail``: at the tail, where eviction looks first."""
    tail = a.lrugen_tail[memcg, nid, gen, type_, zone]
    a.lru_next[pfn], a.lru_prev[pfn] = 0, tail
    if tail:
        a.lru_next[tail - 1] = pfn + 1
    else:
        a.lrugen_head[memcg, nid, gen, type_, zone] = pfn + 1
    a.lrugen_tail[memcg, nid, gen, type_, zone] = pfn + 1


@njit(cache=True)
def lrugen_list_del(a, memcg, nid, gen, type_, zone, pfn):
    nxt, prv = a.lru_next[pfn], a.lru_prev[pfn]
    if prv:
        a.lru_next[prv - 1] = nxt
    else:
        a.lrugen_head[memcg, nid, gen, type_, zone] = nxt
    if nxt:
        a.lru_prev[nxt - 1] = prv
    else:
        a.lrugen_tail[memcg, nid, gen, type_, zone] = prv
    a.lru_next[pfn] = a.lru_prev[pfn] = 0


@njit(cache=True)
def lru_gen_add_folio(a, pfn, reclaiming):
    """Put an evictable folio on the MGLRU list of its generation (the tail when reclaim puts
    it back, for ``folio_rotate_reclaimable``); PG_active is cleared, the generation says it.
    False when the lruvec is on the classic lists or the folio is unevictable."""
    nid, memcg = a.zone_node[B.page_zone(a, pfn)], folio_lruvec_memcg(a, pfn)
    if a.flags[pfn] & PG_unevictable_mask or not a.lrugen_enabled[nid]:
        return False
    gen = lru_gen_from_seq(lru_gen_folio_seq(a, memcg, nid, pfn, reclaiming))
    a.flags[pfn] = (a.flags[pfn] & ~(LRU_GEN_MASK | PG_active_mask)) | (np.uint64(gen + 1) << np.uint64(LRU_GEN_PGOFF))
    lru_gen_update_size(a, memcg, nid, pfn, -1, gen)
    if reclaiming:
        lrugen_list_add_tail(a, memcg, nid, gen, folio_is_file_lru(a, pfn), folio_zonenum(a, pfn), pfn)
    else:
        lrugen_list_add(a, memcg, nid, gen, folio_is_file_lru(a, pfn), folio_zonenum(a, pfn), pfn)
    return True


@njit(cache=True)
def lru_gen_del_folio(a, pfn, reclaiming):
    """Take the folio off its MGLRU list; outside reclaim a folio of an active generation
    leaves with PG_active (for whoever puts it back). False when it is on no MGLRU list."""
    gen = folio_lru_gen(a, pfn)
    if gen < 0:
        return False
    nid, memcg = a.zone_node[B.page_zone(a, pfn)], folio_lruvec_memcg(a, pfn)
    active = PG_active_mask if not reclaiming and lru_gen_is_active(a, memcg, nid, gen) else np.uint64(0)
    a.flags[pfn] = (a.flags[pfn] & ~LRU_GEN_MASK) | active
    lru_gen_update_size(a, memcg, nid, pfn, gen, -1)
    lrugen_list_del(a, memcg, nid, gen, folio_is_file_lru(a, pfn), folio_zonenum(a, pfn), pfn)
    return True
