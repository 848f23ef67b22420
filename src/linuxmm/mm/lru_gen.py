"""The multi-gen LRU (MGLRU, ``CONFIG_LRU_GEN``): the lru_gen half of ``mm/vmscan.c``, Linux 6.18
(after 6.14's rework of workingset protection), with its sysfs switch.

A newcomer's map. With MGLRU on, a lruvec's evictable folios sit on generations instead of the
active/inactive lists: seqs ``min_seq[type]`` .. ``max_seq`` (two to four of them, per type:
anon and file), ``gen = seq % MAX_NR_GENS``, one list per generation, type and zone
(``mm/mm_inline.py`` adds and removes folios; the two youngest generations count
as "active" in /proc). The rest is two loops:

* **aging** (``try_to_inc_max_seq``): walk every process's page tables (``walk_mm``,
  compiled over the page-table pool), clear the accessed bit of each young pte or huge pmd
  and move its folio to the youngest generation (``folio_update_gen``: a first young sighting
  only sets PG_referenced, a second PG_workingset and the move); then open a new youngest
  generation (``inc_max_seq``), first retiring the oldest if there are already MAX_NR_GENS
  (``inc_min_seq``). The new generation's birth time is kept for ``min_ttl_ms``.
* **eviction** (``evict_folios``): from the oldest generation of the type the PID
  controller picks (``get_type_to_scan``: the refault rates of anon and file weighed by
  swappiness), ``scan_folios`` sorts each folio (``sort_folio``: mlocked ones to the
  unevictable list; those whose tier the PID controller protects (``get_tier_idx``), fully
  referenced ones, those of zones above reclaim_idx and dirty or writeback file folios one
  generation up) and isolates the rest (``isolate_folio``) for ``shrink_folio_list``, the
  same compiled batch the classic LRU uses (``mm/vmscan.py``); what it rejects goes back.
  Evicted page cache leaves a shadow whose token carries min_seq (``mm/workingset.py``'s
  ``lru_gen_eviction``/``lru_gen_refault``): refaults per tier feed the PID controller.

``lru_gen_shrink_node`` (from ``shrink_node``) runs ``try_to_shrink_lruvec``: it ages when
the oldest generations are about to run out (``should_run_aging``, ``get_nr_to_scan``) and
evicts until ``nr_to_scan`` pages were scanned or the reclaim goal (and, for kswapd, every
zone's high watermark) is met. ``lru_gen_age_node`` (from kswapd's ``balance_pgdat``)
protects the working set of the last ``min_ttl_ms``: when every generation is younger, it
calls the OOM killer instead of letting reclaim thrash. ``/sys/kernel/mm/lru_gen/enabled``
reads the caps as ``0x0007``; writing ``n``/``y``/a mask switches MGLRU off or on, moving
every folio between the classic lists and the generations (``lru_gen_change_state``).

Every memcg's lruvec on a node has its own generations (``MemMap.lrugen_*[memcg, nid]``);
global reclaim visits them in ``mem_cgroup_iter`` order (``shrink_many``'s memcg LRU of
generations and random bins is not modelled), a memcg's own reclaim reaches its subtree's
lruvecs through ``shrink_lruvec`` -> ``lru_gen_shrink_lruvec``; the switch is machine-wide.

Simplifications: every mm is walked at each aging (no per-memcg mm list, no Bloom filters, no
NONLEAF_YOUNG pmd pre-check: those only prune the walk); the walk moves a promoted folio to its
new generation's list at once, where the kernel leaves it for ``sort_folio``/``inc_min_seq``
to move (the generations hold the same folios; their order within a generation differs); it
leaves a pte's dirty bit for ``try_to_unmap`` to transfer; the rmap look-around
(``lru_gen_look_around``) comes with ``folio_referenced``; isolated folios are counted in
NR_ISOLATED_* (the kernel does not for MGLRU) because the shared batch and
``move_folios_to_lru`` account them; the debugfs interface (``/sys/kernel/debug/lru_gen``)
is not simulated.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.memcontrol import MEMCG_LOW
from ..include.linux.mm_types import VM_HUGETLB, VM_LOCKED, VM_RAND_READ, VM_SEQ_READ, VM_SPECIAL, vma_is_accessible
from ..include.linux.mmzone import (ANON_AND_FILE, DEF_PRIORITY, LRU_GEN_CORE, LRU_GEN_FILE, LRU_GEN_MM_WALK,
                                    LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, LRU_UNEVICTABLE, MAX_LRU_BATCH,
                                    MAX_NR_GENS, MAX_NR_TIERS, MIN_LRU_BATCH, MIN_NR_GENS, NR_LRU_GEN_CAPS)
from ..include.linux.page_flags import (LRU_GEN_MASK, LRU_GEN_PGOFF, LRU_REFS_FLAGS, LRU_REFS_MASK, LRU_REFS_WIDTH,
                                        PG_active_mask, PG_dirty_mask, PG_head_mask, PG_lru_mask, PG_reclaim_mask,
                                        PG_referenced_mask, PG_swapcache_mask, PG_unevictable_mask,
                                        PG_workingset_mask, PG_writeback_mask)
from ..include.linux.sched import TASK_RUNNING
from ..include.linux.vmstat import (NR_FREE_PAGES, NR_INACTIVE_ANON, NR_INACTIVE_FILE, NR_ISOLATED_ANON, PGREFILL,
                                    PGSCAN_ANON, PGSCAN_KSWAPD, PGSCAN_SKIP_DMA, PGSTEAL_ANON, PGSTEAL_KSWAPD,
                                    UNEVICTABLE_PGCULLED)
from ..kernel.fork import ensure_tables
from ..kernel.timer import HZ, jiffies
from ..lib import xarray as X
from . import buddy as B
from .memory import MMC_PGD
from .mm_inline import (__update_lru_size, folio_is_file_lru, folio_lru_gen, folio_lru_refs, folio_lruvec_memcg,
                        folio_nr_pages, folio_zonenum, lru_gen_add_folio, lru_gen_del_folio, lru_gen_enabled,
                        lru_gen_folio_seq, lru_gen_from_seq, lru_gen_update_size, lru_tier_from_refs, lrugen_list_add,
                        lrugen_list_add_tail, lrugen_list_del)
from .pagewalk import WALK_DONE, walk_next, walk_page_range
from .pgtable import _PAGE_ACCESSED, _PAGE_SPECIAL, PTE_KIND_PRESENT, pte_pfn
from .swap import folio_evictable, lru_add_drain, lruvec_add_folio, lruvec_del_folio
from .memcontrol import (count_memcg_events, lruvec_memcg, mem_cgroup_below_low, mem_cgroup_below_min,
                         mem_cgroup_calculate_protection, mem_cgroup_get_nr_swap_pages, mem_cgroup_is_root,
                         mem_cgroup_iter, mem_cgroup_lruvec, memcg_memory_event)
from .huge_memory import do_shrink_slab
from .vmscan import (MAX_SWAPPINESS, NR_ST, RECLAIMER_KSWAPD, ST_RECLAIMED, ST_UNQUEUED_DIRTY, _cpu,
                     can_reclaim_anon_pages, folio_mapped, move_folios_to_lru, root_reclaim, scan_control,
                     shrink_folio_batch, wakeup_flusher_threads)

if TYPE_CHECKING:
    from ..init.main import Kernel

MIN_SWAPPINESS = 0
# the eviction batch's own counters (sc->nr.file_taken, sc->nr.unqueued_dirty)
NR_FILE_TAKEN, NR_UNQUEUED_DIRTY, NR_LG = 0, 1, 2
SYSFS_DIR = "kernel/mm/lru_gen"


# ---- shorthand helpers ---------------------------------------------------------------------


@njit(cache=True)
def evictable_min_seq(a, memcg, nid, swappiness):
    """The oldest seq of the types reclaim may take (swappiness 0: file only; above
    MAX_SWAPPINESS: anon only)."""
    anon = a.lrugen_min_seq[memcg, nid, 1 if swappiness == 0 else 0]
    file = a.lrugen_min_seq[memcg, nid, 1 if swappiness <= MAX_SWAPPINESS else 0]
    return min(anon, file)


def evictable_types(swappiness: int) -> range:
    """``for_each_evictable_type``."""
    return range(int(not swappiness), int(swappiness <= MAX_SWAPPINESS) + 1)


@njit(cache=True)
def get_nr_gens(a, memcg, nid, type_):
    return a.lrugen_max_seq[memcg, nid] - a.lrugen_min_seq[memcg, nid, type_] + 1


def get_swappiness(k: "Kernel", lv, sc: scan_control) -> int:
    """vm.swappiness, or 0 (file only) when reclaim may not swap or fewer than MIN_LRU_BATCH
    swap slots are left to the lruvec's memcg."""
    if not sc.may_swap or mem_cgroup_get_nr_swap_pages(k, lruvec_memcg(k, lv)) < MIN_LRU_BATCH:
        return 0
    return k.vm.vm_swappiness


# ---- the PID controller ----------------------------------------------------------------------


@njit(cache=True)
def reset_ctrl_pos(a, memcg, nid, type_):
    """At each min_seq step (``reset_ctrl_pos`` with carryover; with one history slot the
    call at each max_seq step does nothing): the averages take half the generation just
    retired, whose counters start over."""
    for tier in range(MAX_NR_TIERS):
        a.lrugen_avg_refaulted[memcg, nid, type_, tier] = (a.lrugen_avg_refaulted[memcg, nid, type_, tier]
                                                    + a.lrugen_refaulted[memcg, nid, type_, tier]) // 2
        a.lrugen_avg_total[memcg, nid, type_, tier] = (a.lrugen_avg_total[memcg, nid, type_, tier] + a.lrugen_protected[memcg, nid, type_, tier]
                                                + a.lrugen_evicted[memcg, nid, type_, tier]) // 2
        a.lrugen_refaulted[memcg, nid, type_, tier] = a.lrugen_evicted[memcg, nid, type_, tier] = 0
        a.lrugen_protected[memcg, nid, type_, tier] = 0


def read_ctrl_pos(a, memcg: int, nid: int, type_: int, tier: int, gain: int) -> tuple[int, int, int]:
    """(refaulted, total, gain) of one tier, or of all tiers when ``tier`` is MAX_NR_TIERS."""
    tiers = range(tier % MAX_NR_TIERS, min(tier, MAX_NR_TIERS - 1) + 1)
    refaulted = sum(int(a.lrugen_avg_refaulted[memcg, nid, type_, i] + a.lrugen_refaulted[memcg, nid, type_, i]) for i in tiers)
    total = sum(int(a.lrugen_avg_total[memcg, nid, type_, i] + a.lrugen_protected[memcg, nid, type_, i]
                    + a.lrugen_evicted[memcg, nid, type_, i]) for i in tiers)
    return refaulted, total, gain


def positive_ctrl_err(sp: tuple[int, int, int], pv: tuple[int, int, int]) -> bool:
    """The process variable has few refaults, or a lower refaulted/total than the setpoint."""
    return pv[0] < MIN_LRU_BATCH or pv[0] * (sp[1] + MIN_LRU_BATCH) * sp[2] <= (sp[0] + 1) * pv[1] * pv[2]


def get_tier_idx(a, memcg: int, nid: int, type_: int) -> int:
    """The highest tier not to protect: tiers refaulting no more than tier 0 (gain 2:3 for
    a margin) are left to eviction."""
    sp = read_ctrl_pos(a, memcg, nid, type_, 0, 2)
    tier = 1
    while tier < MAX_NR_TIERS and positive_ctrl_err(sp, read_ctrl_pos(a, memcg, nid, type_, tier, 3)):
        tier += 1
    return tier - 1


def get_type_to_scan(a, memcg: int, nid: int, swappiness: int) -> int:
    """File at swappiness 0 or 1, anon at 200; otherwise the type whose refaults, weighed by
    swappiness, are lower."""
    if swappiness <= MIN_SWAPPINESS + 1:
        return LRU_GEN_FILE
    if swappiness >= MAX_SWAPPINESS:
        return 0
    sp = read_ctrl_pos(a, memcg, nid, 0, MAX_NR_TIERS, swappiness)
    pv = read_ctrl_pos(a, memcg, nid, LRU_GEN_FILE, MAX_NR_TIERS, MAX_SWAPPINESS - swappiness)
    return int(positive_ctrl_err(sp, pv))


# ---- the aging -------------------------------------------------------------------------------


@njit(cache=True)
def folio_move_gen(a, memcg, nid, pfn, old_gen, new_gen, tail):
    """Move the folio from its generation's list to the head (or tail) of ``new_gen``'s."""
    type_, zone = folio_is_file_lru(a, pfn), folio_zonenum(a, pfn)
    lrugen_list_del(a, memcg, nid, old_gen, type_, zone, pfn)
    if tail:
        lrugen_list_add_tail(a, memcg, nid, new_gen, type_, zone, pfn)
    else:
        lrugen_list_add(a, memcg, nid, new_gen, type_, zone, pfn)


@njit(cache=True)
def folio_update_gen(a, memcg, nid, pfn, gen):
    """The aging found the folio young through a page table: the first time it only gets
    PG_referenced; after that it moves to generation ``gen`` with PG_workingset and its
    refs cleared. Returns its old generation (-1: not moved)."""
    flags = a.flags[pfn]
    if not flags & (PG_referenced_mask | PG_workingset_mask):
        a.flags[pfn] = (flags & ~LRU_REFS_MASK) | PG_referenced_mask
        return -1
    old_gen = folio_lru_gen(a, pfn)
    if old_gen < 0:  # isolated
        return -1
    a.flags[pfn] = ((flags & ~(LRU_GEN_MASK | LRU_REFS_FLAGS)) | (np.uint64(gen + 1) << np.uint64(LRU_GEN_PGOFF))
                    | PG_workingset_mask)
    if old_gen != gen:
        lru_gen_update_size(a, memcg, nid, pfn, old_gen, gen)
        folio_move_gen(a, memcg, nid, pfn, old_gen, gen, False)
    return old_gen


@njit(cache=True)
def folio_inc_gen(a, memcg, nid, pfn, reclaiming, tail):
    """Move a folio of the oldest generation one generation up (``folio_inc_gen`` and the
    caller's list_move/list_move_tail), its refs cleared; ``reclaiming`` sets PG_reclaim for
    ``folio_end_writeback``. Returns the new generation."""
    type_ = folio_is_file_lru(a, pfn)
    old_gen = lru_gen_from_seq(a.lrugen_min_seq[memcg, nid, type_])
    new_gen = (old_gen + 1) % MAX_NR_GENS
    flags = (a.flags[pfn] & ~(LRU_GEN_MASK | LRU_REFS_FLAGS)) | (np.uint64(new_gen + 1) << np.uint64(LRU_GEN_PGOFF))
    a.flags[pfn] = flags | PG_reclaim_mask if reclaiming else flags
    lru_gen_update_size(a, memcg, nid, pfn, old_gen, new_gen)
    folio_move_gen(a, memcg, nid, pfn, old_gen, new_gen, tail)
    return new_gen


@njit(cache=True)
def get_pfn_folio(a, memcg, nid, pfn):
    """The head of the folio a young entry maps, if it is on the generations of this lruvec
    (memcg and node; else -1)."""
    head = a.compound_head[pfn] - 1 if a.compound_head[pfn] else pfn
    if (folio_lru_gen(a, head) < 0 or a.zone_node[B.page_zone(a, head)] != nid
            or folio_lruvec_memcg(a, head) != memcg):
        return -1
    return head


@njit(cache=True)
def walk_mm(a, vs, pgd, starts, ends, memcg, nid, gen):
    """The aging's walk of one mm over its eligible VMAs ([starts[i], ends[i])): each young
    present pte or huge pmd of a folio on this lruvec's generations loses the accessed bit
    (``ptep_clear_young_notify``, no TLB flush, as on x86) and its folio is promoted
    (``folio_update_gen``). Returns the young entries found."""
    young = 0
    for i in range(starts.shape[0]):
        w = walk_page_range(vs, pgd, starts[i], ends[i], 0)
        while True:
            kind, _, row, idx, _ = walk_next(a, vs, w)
            if kind == WALK_DONE:
                break
            entry = vs.pt[row, idx]
            if kind != PTE_KIND_PRESENT or entry & np.uint64(_PAGE_SPECIAL) or not entry & np.uint64(_PAGE_ACCESSED):
                continue
            head = get_pfn_folio(a, memcg, nid, pte_pfn(entry))
            if head < 0:
                continue
            vs.pt[row, idx] = entry & ~np.uint64(_PAGE_ACCESSED)
            folio_update_gen(a, memcg, nid, head, gen)
            young += 1
    return young


def should_skip_vma(vma, swappiness: int) -> bool:
    """VMAs the aging does not walk: inaccessible, hugetlb, mlocked or special, or marked
    sequential/random (no recency); anon and shmem ones when anon is not reclaimed, file
    ones when only anon is."""
    if not vma_is_accessible(vma) or vma.vm_flags & (VM_HUGETLB | VM_LOCKED | VM_SPECIAL | VM_SEQ_READ | VM_RAND_READ):
        return True
    if vma.vm_file is None or vma.vm_file.f_mapping.swapbacked:
        return not swappiness
    return swappiness > MAX_SWAPPINESS


def walk_mms(k: "Kernel", lv, swappiness: int) -> int:
    """``iterate_mm_list`` + ``walk_mm`` over every live process's mm, each once (the kernel
    walks the lruvec's memcg's mm list; the folios of other memcgs are passed over here)."""
    a, young, seen = k.mem_map, 0, set()
    gen = lru_gen_from_seq(int(a.lrugen_max_seq[lv.memcg, lv.nid]))
    for task in list(k.tasks.values()):
        mm = task.mm
        if task.state != TASK_RUNNING or mm is None or id(mm) in seen:
            continue
        seen.add(id(mm))
        vmas = [v for v in mm.vmas if not should_skip_vma(v, swappiness)]
        if vmas:
            vs = ensure_tables(k)
            young += walk_mm(a, vs, int(task.mmc[MMC_PGD]), np.array([v.vm_start for v in vmas], np.int64),
                             np.array([v.vm_end for v in vmas], np.int64), lv.memcg, lv.nid, gen)
    return young


@njit(cache=True)
def inc_min_seq(a, memcg, nid, type_, swappiness):
    """Retire the oldest generation of a type: its folios move one generation up (counted
    as protected in their tiers, but for fully referenced ones being promoted lazily), the
    PID controller's history carries over, min_seq advances."""
    evictable = swappiness <= MAX_SWAPPINESS if type_ else swappiness != 0
    old_gen = lru_gen_from_seq(a.lrugen_min_seq[memcg, nid, type_])
    for zone in range(a.lrugen_head.shape[4] if evictable else 0):
        while a.lrugen_tail[memcg, nid, old_gen, type_, zone]:
            pfn = a.lrugen_tail[memcg, nid, old_gen, type_, zone] - 1
            refs, workingset = folio_lru_refs(a, pfn), 1 if a.flags[pfn] & PG_workingset_mask else 0
            folio_inc_gen(a, memcg, nid, pfn, False, True)
            if refs + workingset != (1 << LRU_REFS_WIDTH) + 1:
                a.lrugen_protected[memcg, nid, type_, lru_tier_from_refs(refs, workingset)] += folio_nr_pages(a, pfn)
    reset_ctrl_pos(a, memcg, nid, type_)
    a.lrugen_min_seq[memcg, nid, type_] += 1


@njit(cache=True)
def gen_populated(a, memcg, nid, gen, type_):
    """Some zone's list of generation ``gen`` of this type holds a folio."""
    for zone in range(a.lrugen_head.shape[4]):
        if a.lrugen_head[memcg, nid, gen, type_, zone]:
            return True
    return False


@njit(cache=True)
def try_to_inc_min_seq(a, memcg, nid, swappiness):
    """Advance each evictable type's min_seq past its empty oldest generations (keeping
    MIN_NR_GENS), without letting anon and file drift more than that apart. True if any moved."""
    max_seq = a.lrugen_max_seq[memcg, nid]
    min_seq = np.empty(ANON_AND_FILE, np.int64)
    min_seq[0], min_seq[1] = a.lrugen_min_seq[memcg, nid, 0], a.lrugen_min_seq[memcg, nid, 1]
    first, last = (0 if swappiness else 1), (1 if swappiness <= MAX_SWAPPINESS else 0)
    for type_ in range(first, last + 1):
        while min_seq[type_] + MIN_NR_GENS <= max_seq and not gen_populated(a, memcg, nid, lru_gen_from_seq(min_seq[type_]),
                                                                             type_):
            min_seq[type_] += 1
    if swappiness and swappiness <= MAX_SWAPPINESS:  # see the comment on lru_gen_folio
        seq = max_seq - MIN_NR_GENS
        if min_seq[0] > seq and min_seq[1] < seq:
            min_seq[0] = seq
        elif min_seq[1] > seq and min_seq[0] < seq:
            min_seq[1] = seq
    success = False
    for type_ in range(first, last + 1):
        if min_seq[type_] > a.lrugen_min_seq[memcg, nid, type_]:
            reset_ctrl_pos(a, memcg, nid, type_)
            a.lrugen_min_seq[memcg, nid, type_] = min_seq[type_]
            success = True
    return success


@njit(cache=True)
def inc_max_seq_sizes(a, memcg, nid):
    """The generation before max_seq stops being active and max_seq + 1 starts: move their
    pages between the inactive and active counters."""
    prev = lru_gen_from_seq(a.lrugen_max_seq[memcg, nid] - 1)
    nxt = lru_gen_from_seq(a.lrugen_max_seq[memcg, nid] + 1)
    for zid in range(a.zone_node.shape[0]):
        if a.zone_node[zid] != nid:
            continue
        zone = a.zone_idx[zid]
        for type_ in range(ANON_AND_FILE):
            lru = LRU_INACTIVE_FILE if type_ else LRU_INACTIVE_ANON
            delta = a.lrugen_nr_pages[memcg, nid, prev, type_, zone] - a.lrugen_nr_pages[memcg, nid, nxt, type_, zone]
            if delta:
                __update_lru_size(a, memcg, zid, lru, delta)
                __update_lru_size(a, memcg, zid, lru + 1, -delta)


def inc_max_seq(k: "Kernel", lv, seq: int, swappiness: int) -> bool:
    """Open a new youngest generation (if ``seq`` is still max_seq), retiring the oldest of
    each type that already has MAX_NR_GENS; its birth time is now."""
    a, memcg, nid = k.mem_map, lv.memcg, lv.nid
    if seq != a.lrugen_max_seq[memcg, nid]:
        return False
    for type_ in range(ANON_AND_FILE):
        if get_nr_gens(a, memcg, nid, type_) == MAX_NR_GENS:
            inc_min_seq(a, memcg, nid, type_, swappiness)
    inc_max_seq_sizes(a, memcg, nid)
    lv.lrugen.timestamps[lru_gen_from_seq(seq + 1)] = jiffies(k)
    a.lrugen_max_seq[memcg, nid] = seq + 1
    return True


def should_walk_mmu(k: "Kernel") -> bool:
    """x86 sets the accessed bit in hardware: walk while the LRU_GEN_MM_WALK cap is on."""
    return bool(k.lru_gen.caps & (1 << LRU_GEN_MM_WALK))


def try_to_inc_max_seq(k: "Kernel", lv, seq: int, swappiness: int) -> bool:
    """The aging of a lruvec: walk the page tables (unless the cap is off), then ``inc_max_seq``."""
    if should_walk_mmu(k):
        walk_mms(k, lv, swappiness)
    return inc_max_seq(k, lv, seq, swappiness)


# ---- working set protection --------------------------------------------------------------


def set_initial_priority(k: "Kernel", pgdat, sc: scan_control) -> None:
    """Start at the priority where (inactive >> priority) is about nr_to_reclaim, between
    DEF_PRIORITY / 2 and DEF_PRIORITY."""
    if sc.priority != DEF_PRIORITY or sc.nr_to_reclaim < MIN_LRU_BATCH:
        return
    a, nid = k.mem_map, pgdat.node_id
    reclaimable = int(a.node_stat[nid, NR_INACTIVE_FILE])
    if can_reclaim_anon_pages(k, None):
        reclaimable += int(a.node_stat[nid, NR_INACTIVE_ANON])
    priority = reclaimable.bit_length() - 1 - (sc.nr_to_reclaim - 1).bit_length()
    sc.priority = min(max(priority, DEF_PRIORITY // 2), DEF_PRIORITY)


def lruvec_size(a, memcg: int, nid: int, swappiness: int) -> int:
    """The pages of the evictable types' generations."""
    total = 0
    for type_ in evictable_types(swappiness):
        for seq in range(int(a.lrugen_min_seq[memcg, nid, type_]), int(a.lrugen_max_seq[memcg, nid]) + 1):
            total += int(np.maximum(a.lrugen_nr_pages[memcg, nid, lru_gen_from_seq(seq), type_], 0).sum())
    return total


def lruvec_is_reclaimable(k: "Kernel", lv, sc: scan_control, min_ttl: int) -> bool:
    """Not within memory.min, big enough at this priority, and its oldest evictable generation
    older than min_ttl."""
    a, swappiness = k.mem_map, get_swappiness(k, lv, sc)
    if mem_cgroup_below_min(k, None, lruvec_memcg(k, lv)):
        return False
    if not lruvec_size(a, lv.memcg, lv.nid, swappiness) >> sc.priority:
        return False
    birth = lv.lrugen.timestamps[lru_gen_from_seq(int(evictable_min_seq(a, lv.memcg, lv.nid, swappiness)))]
    return birth + min_ttl < jiffies(k)


def lru_gen_age_node(k: "Kernel", pgdat, sc: scan_control) -> None:
    """kswapd's check before reclaim: with min_ttl_ms set and every generation younger than
    it, OOM-kill rather than evict the working set (``out_of_memory``)."""
    min_ttl = k.lru_gen.min_ttl
    reclaimable = not min_ttl
    set_initial_priority(k, pgdat, sc)
    for memcg in mem_cgroup_iter(k, None):
        mem_cgroup_calculate_protection(k, None, memcg)
        reclaimable = reclaimable or lruvec_is_reclaimable(k, mem_cgroup_lruvec(memcg, pgdat), sc, min_ttl)
    if not reclaimable:  # every memcg's generations are younger than min_ttl (or protected)
        k.alloc_hooks.out_of_memory(k, sc.gfp_mask, 0)


# ---- the eviction --------------------------------------------------------------------------


@njit(cache=True)
def sort_folio(a, memcg, nid, pfn, reclaim_idx, tier_idx, nr):
    """Whether the folio at the tail of the oldest generation stays on the LRU instead of
    being isolated: mlocked (to the unevictable list), protected by its tier or fully
    referenced, of a zone above ``reclaim_idx``, or dirty/under writeback (one generation up)."""
    type_, delta = folio_is_file_lru(a, pfn), folio_nr_pages(a, pfn)
    refs, workingset = folio_lru_refs(a, pfn), 1 if a.flags[pfn] & PG_workingset_mask else 0
    tier = lru_tier_from_refs(refs, workingset)
    if not folio_evictable(a, pfn):
        lru_gen_del_folio(a, pfn, True)
        a.flags[pfn] |= PG_unevictable_mask
        lruvec_add_folio(a, pfn)
        a.vm_events[UNEVICTABLE_PGCULLED] += delta
        return True
    if tier > tier_idx or refs + workingset == (1 << LRU_REFS_WIDTH) + 1:  # protected
        folio_inc_gen(a, memcg, nid, pfn, False, False)
        if refs + workingset != (1 << LRU_REFS_WIDTH) + 1:  # not the workingset promoted lazily
            a.lrugen_protected[memcg, nid, type_, tier] += delta
        return True
    if not a.flags[pfn] & PG_lru_mask or folio_zonenum(a, pfn) > reclaim_idx:  # ineligible
        folio_inc_gen(a, memcg, nid, pfn, False, True)
        return True
    dirty, writeback = a.flags[pfn] & PG_dirty_mask, a.flags[pfn] & PG_writeback_mask
    if type_ == LRU_GEN_FILE and dirty:
        nr[NR_FILE_TAKEN] += delta
        if not writeback:
            nr[NR_UNQUEUED_DIRTY] += delta
    if writeback or (type_ == LRU_GEN_FILE and dirty):  # waiting for writeback
        folio_inc_gen(a, memcg, nid, pfn, True, False)
        return True
    return False


@njit(cache=True)
def isolate_folio(a, memcg, nid, pfn, may_io):
    """Take the folio for reclaim (PG_lru cleared, a reference taken, its refs cleared unless
    PG_referenced, PG_reclaim cleared); not a dirty or unswapped anonymous one without
    __GFP_IO."""
    flags = a.flags[pfn]
    if not may_io and (flags & PG_dirty_mask or (not folio_is_file_lru(a, pfn) and not flags & PG_swapcache_mask)):
        return False
    if not a.refcount[pfn] or not flags & PG_lru_mask:
        return False
    a.refcount[pfn] += 1
    flags &= ~PG_lru_mask
    if not flags & PG_referenced_mask:
        flags &= ~LRU_REFS_MASK
    a.flags[pfn] = flags & ~PG_reclaim_mask
    lru_gen_del_folio(a, pfn, True)
    a.node_stat[nid, NR_ISOLATED_ANON + folio_is_file_lru(a, pfn)] += folio_nr_pages(a, pfn)
    return True


@njit(cache=True)
def scan_folios(a, memcg, nid, type_, tier_idx, reclaim_idx, may_io, reclaimer, out, nr):
    """Sort or isolate folios from the tail of the oldest generation of ``type_``, zone by
    zone from the one above ``reclaim_idx`` round, until MIN_LRU_BATCH were isolated or
    MAX_LRU_BATCH looked at; the ones that could not be isolated go back to the head.
    Returns (pages scanned, or 0 when nothing could be isolated; folios isolated into ``out``)."""
    if get_nr_gens(a, memcg, nid, type_) == MIN_NR_GENS:
        return 0, 0
    gen = lru_gen_from_seq(a.lrugen_min_seq[memcg, nid, type_])
    nzones = a.lrugen_head.shape[4]
    skipped_folios = np.zeros(MAX_LRU_BATCH, np.int64)
    sorted_ = scanned = isolated = n = 0
    remaining = MAX_LRU_BATCH
    for i in range(nzones, 0, -1):
        zone = (reclaim_idx + i) % nzones
        skipped_zone = nskipped = 0
        while a.lrugen_tail[memcg, nid, gen, type_, zone]:
            pfn = a.lrugen_tail[memcg, nid, gen, type_, zone] - 1
            delta = folio_nr_pages(a, pfn)
            scanned += delta
            if sort_folio(a, memcg, nid, pfn, reclaim_idx, tier_idx, nr):
                sorted_ += delta
            elif isolate_folio(a, memcg, nid, pfn, may_io):
                out[n] = pfn
                n += 1
                isolated += delta
            else:
                lrugen_list_del(a, memcg, nid, gen, type_, zone, pfn)
                skipped_folios[nskipped] = pfn
                nskipped += 1
                skipped_zone += delta
            remaining -= 1
            if not remaining or max(isolated, skipped_zone) >= MIN_LRU_BATCH:
                break
        for j in range(nskipped):  # list_splice(&moved, head)
            lrugen_list_add(a, memcg, nid, gen, type_, zone, skipped_folios[j])
        if skipped_zone:
            a.vm_events[PGSCAN_SKIP_DMA + a.zone_event_type[B.page_zone(a, skipped_folios[0])]] += skipped_zone
        if not remaining or isolated >= MIN_LRU_BATCH:
            break
    a.vm_events[PGSCAN_KSWAPD + reclaimer] += isolated
    a.vm_events[PGREFILL] += sorted_
    count_memcg_events(a, memcg, PGSCAN_KSWAPD + reclaimer, isolated)
    count_memcg_events(a, memcg, PGREFILL, sorted_)
    a.vm_events[PGSCAN_ANON + type_] += isolated
    if type_ == LRU_GEN_FILE:
        nr[NR_FILE_TAKEN] += isolated
    return (scanned if isolated or not remaining else 0), n


def isolate_folios(k: "Kernel", lv, sc: scan_control, swappiness: int, out, nr) -> tuple[int, int, int]:
    """Scan the type the PID controller picks, else the other: (scanned, folios, type)."""
    a, memcg, nid = k.mem_map, lv.memcg, lv.nid
    type_ = get_type_to_scan(a, memcg, nid, swappiness)
    may_io = bool(sc.gfp_mask & G.__GFP_IO)
    for _ in evictable_types(swappiness):
        scanned, n = scan_folios(a, memcg, nid, type_, get_tier_idx(a, memcg, nid, type_), sc.reclaim_idx, may_io, sc.reclaimer,
                                 out, nr)
        if scanned:
            return scanned, n, type_
        type_ = 1 - type_
    return 0, 0, type_


@njit(cache=True)
def putback_rejected(a, memcg, nid, folios, n, skip_retry, back, cpu):
    """The folios ``shrink_folio_list`` kept: clean, unmapped, inactive ones stay in
    ``folios`` for one retry (they may have missed ``folio_rotate_reclaimable``); the rest go
    back to the LRU, not into the oldest generation (PG_active when they would). Returns how
    many are left to retry."""
    retry = nback = 0
    for i in range(n):
        pfn = folios[i]
        flags = a.flags[pfn]
        if folio_evictable(a, pfn) and not skip_retry and not flags & (PG_active_mask | PG_dirty_mask | PG_writeback_mask) \
                and not folio_mapped(a, pfn, folio_nr_pages(a, pfn)):
            folios[retry] = pfn
            retry += 1
            continue
        type_ = folio_is_file_lru(a, pfn)
        if folio_evictable(a, pfn) and lru_gen_folio_seq(a, memcg, nid, pfn, False) == a.lrugen_min_seq[memcg, nid, type_]:
            a.flags[pfn] = (flags & ~LRU_REFS_FLAGS) | PG_active_mask
        back[nback] = pfn
        nback += 1
    move_folios_to_lru(a, nid, back, nback, cpu)
    return retry


def evict_folios(k: "Kernel", lv, sc: scan_control, swappiness: int, nr) -> int:
    """One eviction batch: isolate, advance min_seq past emptied generations, reclaim with
    ``shrink_folio_list`` (once more for the clean ones it kept), put the rest back.
    Returns the pages scanned (0: stop)."""
    a, cpu, memcg, nid = k.mem_map, _cpu(k), lv.memcg, lv.nid
    folios, back = np.zeros(MAX_LRU_BATCH, np.int64), np.zeros(MAX_LRU_BATCH, np.int64)
    scanned, n, type_ = isolate_folios(k, lv, sc, swappiness, folios, nr)
    scanned += int(try_to_inc_min_seq(a, memcg, nid, swappiness))
    if evictable_min_seq(a, memcg, nid, swappiness) + MIN_NR_GENS > a.lrugen_max_seq[memcg, nid]:
        scanned = 0
    skip_retry = False
    while n:
        stat = np.zeros(NR_ST, np.int64)
        sc.nr_scanned += int(np.where(a.flags[folios[:n]] & PG_head_mask, 1 << a.order[folios[:n]].astype(np.int64), 1).sum())
        k.page_cache = X.xa_reserve(k.page_cache)
        n = shrink_folio_batch(k, nid, folios, n, sc.reclaimer == RECLAIMER_KSWAPD, sc.may_unmap, sc.may_writepage,
                               sc.gfp_mask, stat)
        reclaimed = int(stat[ST_RECLAIMED])
        nr[NR_UNQUEUED_DIRTY] += stat[ST_UNQUEUED_DIRTY]
        sc.nr_reclaimed += reclaimed
        n = putback_rejected(a, memcg, nid, folios, n, skip_retry, back, cpu)
        a.vm_events[PGSTEAL_KSWAPD + sc.reclaimer] += reclaimed
        count_memcg_events(a, memcg, PGSTEAL_KSWAPD + sc.reclaimer, reclaimed)
        a.vm_events[PGSTEAL_ANON + type_] += reclaimed
        skip_retry = True
    return scanned


def should_run_aging(a, memcg: int, nid: int, swappiness: int) -> tuple[bool, int]:
    """(run the aging?, pages the evictable generations hold): must when eviction would
    leave fewer than MIN_NR_GENS generations, should when it is down to exactly that."""
    min_seq = int(evictable_min_seq(a, memcg, nid, swappiness))
    max_seq = int(a.lrugen_max_seq[memcg, nid])
    if min_seq + MIN_NR_GENS > max_seq:
        return True, 0
    return min_seq + MIN_NR_GENS == max_seq, lruvec_size(a, memcg, nid, swappiness)


def get_nr_to_scan(k: "Kernel", lv, sc: scan_control, swappiness: int) -> int:
    """Pages to scan at this priority (none within memory.min); the aging runs first when
    needed (not at DEF_PRIORITY), and then -1: this lruvec is low on cold folios."""
    a = k.mem_map
    if mem_cgroup_below_min(k, sc.target_mem_cgroup, lruvec_memcg(k, lv)):
        return -1
    aging, nr_to_scan = should_run_aging(a, lv.memcg, lv.nid, swappiness)
    if not aging or sc.priority == DEF_PRIORITY:
        return nr_to_scan >> sc.priority
    return -1 if try_to_inc_max_seq(k, lv, int(a.lrugen_max_seq[lv.memcg, lv.nid]), swappiness) else 0


def should_abort_scan(k: "Kernel", pgdat, sc: scan_control) -> bool:
    """Global reclaim only: enough reclaimed; or kswapd (order 0) with every eligible zone
    above its high watermark plus MIN_LRU_BATCH."""
    if not root_reclaim(sc):  # memcg reclaim does not abort, for fairness
        return False
    if sc.nr_reclaimed >= max(sc.nr_to_reclaim, 2 << sc.order):  # compact_gap
        return True
    if sc.reclaimer != RECLAIMER_KSWAPD or sc.order:
        return False
    a = k.mem_map
    for z in pgdat.node_zones[:sc.reclaim_idx + 1]:
        zid = B.zone_id(k, z)
        mark = int(a.wmark[zid, 2] + a.boost[zid]) + MIN_LRU_BATCH
        if z.managed_pages and not B.__zone_watermark_ok(a, zid, 0, mark, sc.reclaim_idx, 0,
                                                         int(a.vm_stat[zid, NR_FREE_PAGES])):
            return False
    return True


def try_to_shrink_lruvec(k: "Kernel", lv, pgdat, sc: scan_control) -> bool:
    """Evict until ``nr_to_scan`` pages were scanned (or nothing more can be); wake the
    flusher when every file folio the oldest generation offered was dirty and unqueued.
    True when the lruvec ran out of cold folios (the kernel rotates its memcg then)."""
    swappiness = get_swappiness(k, lv, sc)
    nr, scanned = np.zeros(NR_LG, np.int64), 0
    while True:
        nr_to_scan = get_nr_to_scan(k, lv, sc, swappiness)
        if nr_to_scan <= 0:
            break
        delta = evict_folios(k, lv, sc, swappiness, nr)
        if not delta:
            break
        scanned += delta
        if scanned >= nr_to_scan or should_abort_scan(k, pgdat, sc):
            break
    if nr[NR_UNQUEUED_DIRTY] and nr[NR_UNQUEUED_DIRTY] == nr[NR_FILE_TAKEN]:
        wakeup_flusher_threads(k)
    return nr_to_scan < 0


def shrink_one(k: "Kernel", lv, pgdat, sc: scan_control) -> None:
    """One memcg's lruvec in global reclaim: none within memory.min; within memory.low only
    once nothing unprotected is left (the kernel first rotates such a memcg to the tail of
    its memcg LRU), then a LOW event."""
    memcg = lruvec_memcg(k, lv)
    if mem_cgroup_below_min(k, None, memcg):
        return
    if mem_cgroup_below_low(k, None, memcg):
        if not sc.memcg_low_reclaim:
            sc.memcg_low_skipped = True
            return
        memcg_memory_event(k, memcg, MEMCG_LOW)
    try_to_shrink_lruvec(k, lv, pgdat, sc)
    if mem_cgroup_is_root(memcg):  # shrink_slab: the node's deferred split queue
        do_shrink_slab(k, pgdat, sc.priority)


def lru_gen_shrink_node(k: "Kernel", pgdat, sc: scan_control) -> None:
    """``shrink_node`` under MGLRU (global reclaim): from an initial priority that fits the
    goal, each memcg's lruvec on the node (``shrink_many``, here in ``mem_cgroup_iter`` order
    rather than by the memcg LRU's generations) until the goal is met; progress clears
    ``kswapd_failures``."""
    reclaimed = sc.nr_reclaimed
    if not sc.may_writepage or not sc.may_unmap:  # clean unmapped folios are first anyway
        return
    lru_add_drain(k.mem_map, _cpu(k))
    set_initial_priority(k, pgdat, sc)
    if sc.reclaimer == RECLAIMER_KSWAPD:
        sc.nr_reclaimed = 0
    for memcg in mem_cgroup_iter(k, None):
        mem_cgroup_calculate_protection(k, None, memcg)
        shrink_one(k, mem_cgroup_lruvec(memcg, pgdat), pgdat, sc)
        if should_abort_scan(k, pgdat, sc):
            break
    if sc.reclaimer == RECLAIMER_KSWAPD:
        sc.nr_reclaimed += reclaimed
    if sc.nr_reclaimed > reclaimed:
        pgdat.kswapd_failures = 0


def lru_gen_shrink_lruvec(k: "Kernel", lv, sc: scan_control) -> None:
    """``shrink_lruvec`` under MGLRU for a memcg's own reclaim (``shrink_node_memcgs`` visits
    its subtree's lruvecs): ``try_to_shrink_lruvec``, which never aborts early there, for
    fairness between the memcgs (``should_abort_scan`` is global reclaim's)."""
    lru_add_drain(k.mem_map, _cpu(k))
    try_to_shrink_lruvec(k, lv, k.NODE_DATA(lv.nid), sc)


# ---- state change ------------------------------------------------------------------------


@njit(cache=True)
def fill_evictable(a, memcg, nid):
    """MGLRU on: every folio of the classic evictable lists, from the tail, joins a
    generation."""
    for lru in range(LRU_UNEVICTABLE):
        while a.lruvec_tail[memcg, nid, lru]:
            pfn = a.lruvec_tail[memcg, nid, lru] - 1
            lruvec_del_folio(a, pfn)
            lru_gen_add_folio(a, pfn, False)


@njit(cache=True)
def drain_evictable(a, memcg, nid):
    """MGLRU off: every folio of the generations, from the tail, joins a classic list (the
    active ones, by generation, with PG_active)."""
    for gen in range(MAX_NR_GENS):
        for type_ in range(ANON_AND_FILE):
            for zone in range(a.lrugen_head.shape[4]):
                while a.lrugen_tail[memcg, nid, gen, type_, zone]:
                    pfn = a.lrugen_tail[memcg, nid, gen, type_, zone] - 1
                    lru_gen_del_folio(a, pfn, False)
                    lruvec_add_folio(a, pfn)


def lru_gen_change_state(k: "Kernel", enabled: bool) -> None:
    """Switch the LRU_GEN_CORE cap and move every lruvec's evictable folios across."""
    if enabled == lru_gen_enabled(k):
        return
    k.lru_gen.caps = k.lru_gen.caps | 1 << LRU_GEN_CORE if enabled else k.lru_gen.caps & ~(1 << LRU_GEN_CORE)
    a = k.mem_map
    a.lrugen_enabled[:] = int(enabled)
    for memcg in mem_cgroup_iter(k, None):
        for nid in range(a.lrugen_enabled.shape[0]):  # for_each_node
            if enabled:
                fill_evictable(a, memcg.id, nid)
            else:
                drain_evictable(a, memcg.id, nid)


# ---- sysfs -----------------------------------------------------------------------------------


def _need_lru_gen(k: "Kernel", name: str) -> None:
    if not k.config.lru_gen:
        raise KernelError(errno.ENOENT, f"/sys/{SYSFS_DIR}/{name}: no such file (CONFIG_LRU_GEN is not set)")


def enabled_show(k: "Kernel") -> str:
    """The caps as ``0x%04x``: core on, page-table walks (x86 has hardware accessed bits),
    non-leaf pmd accessed bits."""
    _need_lru_gen(k, "enabled")
    return f"0x{k.lru_gen.caps & ((1 << NR_LRU_GEN_CAPS) - 1):04x}\n"


def enabled_store(k: "Kernel", value: str) -> None:
    """``y`` (every cap), ``n`` (none) or a number (its bits); the core bit switches MGLRU."""
    _need_lru_gen(k, "enabled")
    if value[:1].lower() in ("y", "n"):  # tolower(*buf)
        caps = (1 << NR_LRU_GEN_CAPS) - 1 if value[0].lower() == "y" else 0
    else:
        try:
            caps = int(value.removesuffix("\n"), 0)
        except ValueError:
            raise KernelError(errno.EINVAL, f"lru_gen/enabled: {value!r} is not y, n or a number") from None
        if not 0 <= caps < 1 << 32:
            raise KernelError(errno.EINVAL, f"lru_gen/enabled: {value!r} is out of range")
    lru_gen_change_state(k, bool(caps & 1 << LRU_GEN_CORE))
    k.lru_gen.caps = caps & ((1 << NR_LRU_GEN_CAPS) - 1)


def min_ttl_ms_show(k: "Kernel") -> str:
    _need_lru_gen(k, "min_ttl_ms")
    return f"{k.lru_gen.min_ttl * 1000 // HZ}\n"


def min_ttl_ms_store(k: "Kernel", value: str) -> None:
    """Milliseconds (kstrtouint: decimal, 0x hex or 0 octal), kept in jiffies (rounded up)."""
    _need_lru_gen(k, "min_ttl_ms")
    try:
        msecs = int(value.removesuffix("\n"), 0)
    except ValueError:
        raise KernelError(errno.EINVAL, f"lru_gen/min_ttl_ms: {value!r} is not a number") from None
    if not 0 <= msecs < 1 << 32:
        raise KernelError(errno.EINVAL, f"lru_gen/min_ttl_ms: {value!r} is out of range")
    k.lru_gen.min_ttl = -(-msecs * HZ // 1000)


LRU_GEN_ATTRIBUTES = {
    f"{SYSFS_DIR}/enabled": (enabled_show, enabled_store),
    f"{SYSFS_DIR}/min_ttl_ms": (min_ttl_ms_show, min_ttl_ms_store),
}


def init_lru_gen(k: "Kernel") -> None:
    """``init_lru_gen`` (late_initcall): ``mm/vmscan.py`` reaches MGLRU through these."""
    k.lru_gen.shrink_node = lru_gen_shrink_node
    k.lru_gen.shrink_lruvec = lru_gen_shrink_lruvec
    k.lru_gen.age_node = lru_gen_age_node
