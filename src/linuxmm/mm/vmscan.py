"""Page reclaim (``mm/vmscan.c``), Linux 6.18 with the classic two-list LRU (MGLRU, its other
half, is ``mm/lru_gen.py``: ``shrink_node`` and kswapd's ``kswapd_age_node`` hand over to it
while it is on).

A newcomer's map, from the top:

* **kswapd**, one per node, a task on the simulated clock. The allocator's slow path wakes it
  (``wake_all_kswapds`` -> ``wakeup_kswapd``, through ``k.alloc_hooks``) when an allocation
  finds its zones below LOW; it records ``kswapd_order``/``kswapd_highest_zoneidx``. A run
  (``kswapd``) takes them and calls ``balance_pgdat``: reclaim at falling priority (12 .. 1)
  until some eligible zone is above HIGH (``pgdat_balanced``; HIGH includes the
  ``watermark_boost_factor`` boost, which is reclaimed while ``nr_boost_reclaim`` lasts and
  cleared at the end). Each priority step is one ``kswapd_shrink_node`` whose cost runs on the
  clock (``KSWAPD_NS_PER_SCANNED``/``KSWAPD_NS_PER_RECLAIMED``: kswapd stays awake, R, for that
  long, and wake-ups meanwhile only raise the order/zone asked for). A run that reclaimed
  nothing at any priority counts a ``kswapd_failures``; at MAX_RECLAIM_RETRIES kswapd is
  not woken any more until direct reclaim makes progress. Once balanced, ``kswapd_try_to_sleep``
  naps HZ/10 (a wake-up then counts KSWAPD_LOW_WMARK_HIT_QUICKLY), then sleeps until woken if
  still balanced (else KSWAPD_HIGH_WMARK_HIT_QUICKLY and another round).
* **direct reclaim**: ``__alloc_pages_slowpath``'s ``direct_reclaim`` hook is
  ``try_to_free_pages``: ``throttle_direct_reclaim`` (wait, on the clock, up to one second for
  kswapd while the node's free pages are below half its MIN reserves: PGSCAN_DIRECT_THROTTLE),
  then ``do_try_to_free_pages`` (ALLOCSTALL_<zone>, priorities 12 .. 0 until
  SWAP_CLUSTER_MAX pages came back, ``shrink_zones`` visiting each node of the zonelist
  once; a retry with ``force_deactivate`` when nothing was reclaimed because the active lists
  were protected).
* ``shrink_node`` -> ``shrink_node_memcgs``: the lruvec on the node of every memcg under the
  reclaim's target (``mem_cgroup_iter``; all memcgs for global reclaim, the root's lruvec
  being the node's own), skipping memcgs within their effective ``memory.min``, and within
  ``memory.low`` unless a first pass found nothing else (``memcg_low_skipped`` ->
  ``memcg_low_reclaim``, a MEMCG_LOW event each) -> ``shrink_lruvec``: ``get_scan_count``
  splits ``lru_size >> priority`` between anon and file (a protected memcg's sizes scaled
  down, ``apply_proportional_protection``; anon only while a swap slot is free,
  ``can_reclaim_anon_pages``; swappiness and the lruvec's recent ``anon_cost``/``file_cost``
  for SCAN_FRACT, where swappiness 0 gives anon no share and 200 gives file none; SCAN_EQUAL
  at priority 0 unless swappiness is 0; ``file_is_tiny`` forces SCAN_ANON and
  ``cache_trim_mode`` SCAN_FILE, from ``prepare_scan_control``), then scans the lists
  SWAP_CLUSTER_MAX at a time (``shrink_list``) with the kernel's proportional cut once enough
  was reclaimed. An active list is only shrunk when its inactive list is low
  (``inactive_is_low``: inactive * int_sqrt(10 * GiB) < active) or refaults activated pages
  since the last cycle (``may_deactivate``). ``lru_note_cost`` charges a type
  SWAP_CLUSTER_MAX per page written to swap plus the pages rotated (``MemMap.lruvec_cost``).
* **one compiled pass per lruvec**: ``shrink_lruvec`` runs ``get_scan_count``, the nr[]
  loop, every ``shrink_list`` and the final aging of the active anon list in one call
  (``shrink_lruvec_pass``), the rmap table and the mm counters gathered once for it, the
  swap slots reserved, the zram write and the batched TLB flush done inside. It stops, its
  state kept in ``ps``, for what only Python does (PASS_*): a direct reclaimer's
  ``too_many_isolated`` wait, the page cache's xarray to grow, a batch with large folios (or
  of a caller without __GFP_IO: Python's ``shrink_folio_batch``), a write to a disk or one
  zsmalloc needs the allocator's slow path for, kswapd woken for a boosted zone, the flusher
  woken; ``run_lruvec_pass`` does it and calls the pass again.
* **one compiled call per node**: global reclaim under the classic LRU with the root memcg
  alone (no memcg to walk, no protection: ``node_pass_covers``) runs a ``shrink_node`` as one
  ``shrink_node_pass`` (``prepare_scan_control``, ``get_scan_count`` and the lruvec's pass,
  ``shrink_node_throttle``'s marks returned for Python to set) and each priority of kswapd's
  ``balance_pgdat`` as one ``balance_pgdat_pass`` (``pgdat_balanced``, the boost, the HIGH
  target of ``kswapd_shrink_node``, the priority's bookkeeping), scan_control's state in an
  int64 array (``ns``: kswapd keeps its own between steps). The pass's stops, the deferred
  split shrinker and the throttles' sleeps stay Python's (``run_node_pass``). Anything else
  takes the Python path (``shrink_node_memcgs``, ``balance_pgdat_step_python``), which gives
  the same results.
* the compiled batch: ``isolate_lru_folios`` (from the tail; folios of zones above
  ``reclaim_idx`` go back, PGSCAN_SKIP_<zone>; NR_ISOLATED_*), ``shrink_folio_list`` and
  ``move_folios_to_lru``. ``shrink_folio_list`` follows 6.18's order: a locked folio is kept;
  an mlocked one is culled to the unevictable list on putback; one under writeback gets
  PG_reclaim; then ``folio_check_references`` (``folio_referenced`` harvests the pte/PMD young
  bits through the compiled rmap walk: a VM_LOCKED mapping mlocks the folio; one referencing
  pte keeps it a trip with PG_referenced, a second, PG_referenced already set or VM_EXEC file
  activates; an unmapped referenced file folio is FOLIOREF_RECLAIM_CLEAN); a mapped file folio
  is unmapped (``try_to_unmap``: its dirty ptes dirty it, RSS and NR_FILE_MAPPED follow); a
  dirty file folio gets PG_reclaim and is
  activated, to be rotated to the inactive tail when its write completes (a flusher wake-up
  when every file folio taken was dirty and not queued); a clean one leaves the cache with a
  shadow entry (``__remove_mapping`` -> ``workingset_eviction``) and is freed. A shmem
  folio is unmapped the same way; a clean one leaves its cache without a shadow, a dirty one
  goes to swap (``shrink_shmem_folio`` -> ``shmem_writeout``: into the swap cache, its
  page-cache slot holding the swap entry) and on as an anonymous swap-cache folio does; a
  large one goes whole into a run of slots of its order reserved with the batch's, or is
  handed back split (``mm/shmem.py``'s ``shmem_writeout_split``: no run, or it crosses EOF). A
  lazily freed anonymous folio (MADV_FREE: on the file list, not swap-backed) loses its ptes
  without swap and is freed (``shrink_lazyfree_folio``: PGLAZYFREED), unless written since
  (swap-backed again and activated). The walks' TLB flushes are batched per mm (``try_to_unmap_flush``), the mm
  counters they change are the tasks' own (rows of ``RmapRegistry.mmcs``). ``shrink_active_list``
  keeps referenced executable file folios active (rotated, counted as the file cost) and
  deactivates the rest with PG_workingset (PGREFILL, PGDEACTIVATE).
  Anonymous folios go to swap (``shrink_anon_folio``): ``add_to_swap`` puts a folio in the
  swap cache for a slot reserved for the batch (``swap_alloc_entries`` takes the batch's
  slots from the cluster allocator before ``shrink_folio_list``, as the kernel's per-CPU swap
  slots cache did before 6.15; unused ones go back after it); ``try_to_unmap`` turns every
  pte into a swap pte through the compiled ``rmap_walk`` (MM_ANONPAGES -> MM_SWAPENTS on the
  counters of each mm, in place), the TLB flush batched per mm as
  TTU_BATCH_FLUSH does; ``pageout`` hands the dirty folio, PG_reclaim set, to
  ``swap_writepage``, which runs once per batch (one bio per run of consecutive slots, as the
  block plug merges them; a reclaiming task, not kswapd, sleeps on the clock while the disk
  has no request tag for its writes); a folio written at once (zram) is freed in the same pass
  (``shrink_written_folios``), one under writeback on a disk is kept and rotated to the
  inactive tail by its completion, to be freed by the next scan; ``__remove_mapping``
  leaves the shadow in the swap table (6.18), and a swap-in that finds it is an anon
  refault (``workingset_refault``: WORKINGSET_REFAULT/ACTIVATE/RESTORE_ANON). A folio with
  no slot left or still mapped is activated (``activate_locked``: it gives its slot back
  when swap is more than half full); a caller without __GFP_IO swaps nothing. A large
  anonymous folio (CONFIG_THP_SWAP, ``large_anon_folio_to_swap``) goes to swap whole: a run
  of slots of its order is reserved with the batch's (``large_swap_entries``: a PMD-size
  folio needs a free cluster), the swap cache holds it in every slot, ``try_to_unmap``
  splits its PMDs into ptes (TTU_SPLIT_HUGE_PMD) and gives each its page's swap entry, and
  the folio is written at once (THP_SWPOUT); without a run it is split to order 0 first
  (THP_SWPOUT_FALLBACK), and a partially mapped one on the deferred split queue is split
  at once. Reclaim runs
  with PF_MEMALLOC (``memalloc_noreclaim``): zram's allocations for what it stores use the
  reserves and never recurse into reclaim.

  Counters: PGSCAN_/PGSTEAL_KSWAPD/DIRECT (+ _ANON/_FILE), PGACTIVATE, NR_VMSCAN_IMMEDIATE,
  PSWPOUT (``mm/page_io.py``); PGSCAN_/PGSTEAL_<reclaimer>, PGREFILL, PGACTIVATE and
  PGDEACTIVATE also in the lruvec's memcg (``count_memcg_events``, memory.stat). ``reclaim_pages`` (MADV_PAGEOUT) runs the same pass over the
  folios it is given, their references ignored.
* the throttles (``reclaim_throttle``, 6.18's four reasons, on the clock): a direct reclaimer
  of global reclaim that got nothing back at priority 1 sleeps a jiffy
  (``consider_reclaim_throttle``: VMSCAN_THROTTLE_NOPROGRESS), so swap and file writes in
  flight can complete before the allocator retries, unless kswapd gave up on the node or at
  most half its reclaimable pages are dirty or under writeback (``skip_throttle_noprogress``);
  ``too_many_isolated``: a direct reclaimer finding more isolated than its inactive list
  holds (an eighth for __GFP_IO|__GFP_FS) waits once, up to HZ/50 (VMSCAN_THROTTLE_ISOLATED),
  then gives up the list for this pass; ``shrink_node_throttle``: kswapd marks the node
  PGDAT_WRITEBACK when all it isolated was under writeback, and then, meeting folios it
  marked PG_reclaim again (ST_IMMEDIATE), sleeps up to HZ/10 until SWAP_CLUSTER_MAX pages
  were written (VMSCAN_THROTTLE_WRITEBACK: ``nr_writeback_throttled``, woken by
  ``acct_reclaim_writeback`` at the writes' completion, NR_THROTTLED_WRITTEN); when all the
  dirty page cache met was under writeback and met again the lruvec is congested
  (LRUVEC_NODE_CONGESTED by kswapd, LRUVEC_CGROUP_CONGESTED by cgroup reclaim), and direct
  reclaimers then sleep a jiffy (VMSCAN_THROTTLE_CONGESTED) until kswapd finds the node
  balanced (``clear_pgdat_congested``). No other reclaimer runs meanwhile to wake a waiter
  early; a waiting kswapd is woken by ``wakeup_kswapd`` too (the kernel's is not).
* **node reclaim** (``vm.zone_reclaim_mode``): ``get_page_from_freelist`` asks ``node_reclaim``
  for a zone below its watermark before falling back to the next zone (within
  RECLAIM_DISTANCE); it shrinks the node at priorities 4 .. 0 while its reclaimable page cache
  is above ``min_unmapped_pages`` or its reclaimable slab above ``min_slab_pages`` (the node
  fields vm.min_unmapped_ratio/min_slab_ratio set: ``setup_min_unmapped_ratio``; the kernel
  shows them in no /proc file), unmapping only with RECLAIM_UNMAP and counting dirty pages
  only with RECLAIM_WRITE (``node_pagecache_reclaimable``); zone_reclaim_success/_failed.
* a boosted watermark (a fallback steal, ZONE_BOOSTED_WATERMARK) wakes kswapd after the
  allocation (``rmqueue``'s tail: ``page_alloc.wake_boosted_kswapds``).

Not modelled yet: reclaim's own ``pageout`` of dirty file folios (6.18 leaves them to the
flushers except in kswapd's last resort), shrinkers and slab other than the THP
deferred split queue's (``mm/huge_memory.py``'s ``do_shrink_slab``, run for the root memcg of
each node; nothing frees slab; node reclaim only compares it with ``min_slab_pages``),
compaction-driven ``should_continue_reclaim``.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..arch.x86.mm.tlb import TlbState, arch_tlbbatch_flush
from ..include.linux import gfp as G
from ..include.linux.huge_mm import HPAGE_PMD_NR, HPAGE_PMD_ORDER
from ..include.linux.mm_types import PAGE_SHIFT, VM_EXEC, VM_LOCKED
from ..include.linux.memcontrol import (MEMCG_LOW, PC_ELOW, PC_EMIN, PC_MAX, PC_MEMORY, PC_SWAP, PC_USAGE,
                                        ROOT_MEM_CGROUP_ID)
from ..include.linux.mmzone import (DEF_PRIORITY, LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON,
                                    LRU_INACTIVE_FILE, LRUVEC_CGROUP_CONGESTED, LRUVEC_NODE_CONGESTED,
                                    MAX_RECLAIM_RETRIES, NR_LRU_LISTS, PGDAT_WRITEBACK, VMSCAN_THROTTLE_CONGESTED,
                                    VMSCAN_THROTTLE_ISOLATED, VMSCAN_THROTTLE_NOPROGRESS, VMSCAN_THROTTLE_WRITEBACK,
                                    node_states)
from ..include.linux.swap import SI_FLAGS, SWAP_CLUSTER_MAX, SWP_SYNCHRONOUS_IO
from ..include.linux.page_flags import (PG_active_mask, PG_dirty_mask, PG_head_mask, PG_locked_mask, PG_lru_mask,
                                        PG_mlocked_mask, PG_reclaim_mask, PG_referenced_mask, PG_swapbacked_mask, PG_swapcache_mask,
                                        PG_unevictable_mask, PG_workingset_mask, PG_writeback_mask)
from ..include.linux.vmstat import THP_SWPOUT_FALLBACK
from ..include.linux.vmstat import (ALLOCSTALL_DMA, KSWAPD_HIGH_WMARK_HIT_QUICKLY, KSWAPD_LOW_WMARK_HIT_QUICKLY,
                                    NR_ACTIVE_FILE, NR_FILE_PAGES, NR_FILE_THPS, NR_FREE_PAGES, NR_INACTIVE_ANON, NR_SHMEM,
                                    NR_SHMEM_THPS,
                                    NR_INACTIVE_FILE, NR_ISOLATED_ANON, NR_ISOLATED_FILE, NR_LRU_BASE,
                                    NR_THROTTLED_WRITTEN, NR_VMSCAN_IMMEDIATE, NR_ZONE_WRITE_PENDING, PAGEOUTRUN, PGACTIVATE, PGDEACTIVATE,
                                    PGLAZYFREED, PGREFILL, PGSCAN_ANON, PGSCAN_DIRECT_THROTTLE, PGSCAN_KSWAPD, PGSCAN_SKIP_DMA,
                                    PGSCAN_ZONE_RECLAIM_FAILED, PGSCAN_ZONE_RECLAIM_SUCCESS, PGSTEAL_ANON,
                                    PGSTEAL_KSWAPD, WORKINGSET_ACTIVATE_ANON, node_page_state, zone_event_type)
from ..kernel.fork import ensure_tables
from ..jit import entry, unowned
from ..kernel.kthread import TASK_INTERRUPTIBLE, kthread
from ..kernel.sched.psi import psi_memstall_enter, psi_memstall_leave
from ..kernel.timer import HZ
from ..lib import xarray as X
from ..lib.int_sqrt import int_sqrt
from . import buddy as B
from .compaction import wakeup_kcompactd
from .huge_memory import can_split_folio, do_shrink_slab, split_huge_page_to_list_to_order
from .mm_inline import lru_gen_enabled, lru_gen_set_refs
from .memcontrol import (MEMCG_RECLAIM_MAY_SWAP, MEMCG_RECLAIM_PROACTIVE, count_memcg_events,
                         count_memcg_folio_events, lruvec_memcg, mem_cgroup_below_low, mem_cgroup_swap_full,
                         mem_cgroup_below_min, mem_cgroup_calculate_protection, mem_cgroup_is_root, mem_cgroup_iter,
                         mem_cgroup_get_nr_swap_pages, mem_cgroup_ids, mem_cgroup_iter_reclaim, mem_cgroup_lruvec,
                         mem_cgroup_unprotected, memcg_memory_event)
from .page_alloc import (NODE_RECLAIM_FULL, NODE_RECLAIM_NOSCAN, RECLAIM_UNMAP, RECLAIM_WRITE,
                         wake_boosted_kswapds, zone_reclaimable, zone_reclaimable_pages)
from .memory import PAGE_MAPPING_ANON
from .page_io import swap_writepage, zram_write_pages
from .pgtable import SWP_OFFSET_MASK, SWP_TYPE_SHIFT, VP_CPU, VP_NR_SWAP_PAGES
from .shmem import shmem_folio_crosses_eof, shmem_writeout_split
from .rmap import (EMPTY_I64, folio_referenced, rmap_batch, rmap_owners, rmap_scratch, rmap_table,
                   swap_out_batch, try_to_unmap, try_to_unmap_flush)
from .swap import (folio_evictable, folio_on_deferred_list, folio_put, folio_test_partially_mapped, lru_add,
                   lru_add_drain, lruvec_add_folio, lruvec_del_folio, writeback_throttle_done)
from .swap_state import add_to_swap
from .swapfile import (__swap_cache_del_folio, folio_alloc_swap, folio_free_swap, put_swap_entries,
                       swap_alloc_entries, swap_duplicate, swap_release_entries, vm_swap_full)
from .workingset import workingset_eviction

if TYPE_CHECKING:
    from ..init.main import Kernel

SWAP_CLUSTER_MAX_SKIPPED = SWAP_CLUSTER_MAX << 10
MAX_SWAPPINESS = 200
NSEC_PER_SEC = 1_000_000_000
HZ_NS = NSEC_PER_SEC // 10  # kswapd_try_to_sleep's premature nap: HZ/10
# reclaim_throttle's timeout per reason (6.18: "pulled out of thin air"): writeback HZ/10,
# isolated HZ/50, no progress and congested one jiffy
RECLAIM_THROTTLE_NS = (NSEC_PER_SEC // 10, NSEC_PER_SEC // 50, NSEC_PER_SEC // HZ, NSEC_PER_SEC // HZ)
VMSCAN_THROTTLE_ISOLATED_NS = RECLAIM_THROTTLE_NS[VMSCAN_THROTTLE_ISOLATED]
# The cost of reclaim on the clock (an assumption, not a measurement): scanning a page
# (isolation, flag tests, putback) 0.1 us; freeing one (xarray store of the shadow, buddy
# free) 1 us more: kswapd drops clean page cache at about 4 GB/s of 4 KiB pages.
KSWAPD_NS_PER_SCANNED = 100
KSWAPD_NS_PER_RECLAIMED = 1000
# scan_control.reclaimer: the offset of the PGSCAN_*/PGSTEAL_* event (reclaimer_offset)
RECLAIMER_KSWAPD, RECLAIMER_DIRECT, RECLAIMER_PROACTIVE = 0, 1, 3
# the balance of get_scan_count
SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE = range(4)
DEACTIVATE_ANON, DEACTIVATE_FILE = 1, 2
# shrink_folio_list's statistics (struct reclaim_stat and scan_control.nr), one array
(ST_TAKEN, ST_SCANNED, ST_RECLAIMED, ST_DIRTY, ST_UNQUEUED_DIRTY, ST_CONGESTED, ST_WRITEBACK, ST_IMMEDIATE,
 ST_ACTIVATE, ST_REF_KEEP, ST_PAGEOUT, ST_UNMAP_FAIL, ST_ROTATED, NR_ST) = range(14)
# folio_check_references' verdicts (enum folio_references)
FOLIOREF_RECLAIM, FOLIOREF_RECLAIM_CLEAN, FOLIOREF_KEEP, FOLIOREF_ACTIVATE = range(4)
# the outcome for one folio of shrink_folio_list's branches (FOLIO_LAZYFREE: a MADV_FREE
# folio freed without swap, PGLAZYFREED; FOLIO_SPLIT: a large shmem folio ``shmem_writeout``
# splits, left to the page-cache split after the pass)
FOLIO_KEEP, FOLIO_ACTIVATE, FOLIO_PAGEOUT, FOLIO_FREE, FOLIO_LAZYFREE, FOLIO_SPLIT = range(6)
# the swap-out state of one shrink_folio_list pass (``swp``): the next reserved swap entry to
# give out, the folios handed to pageout, whether the swap space is more than half full, the
# large shmem folios handed back to be split
SWP_NEXT_ENTRY, SWP_NR_IO, SWP_FULL, SWP_NR_SPLIT, NR_SWP = range(5)
# what ``large_anon_folio_to_swap`` did with a large anonymous folio
LARGE_WHOLE, LARGE_SPLIT, LARGE_ACTIVATE = range(3)
# what a batch needs prepared before its compiled pass (``swap_out_needs``): swap slots, room
# for the pages of split folios, the rmap table, the page cache's inode -> xarray table, runs
# of slots for large anonymous folios that may go to swap whole
NEED_SLOTS, NEED_SPLIT_ROOM, NEED_RMAP, NEED_CACHE, NEED_LARGE, NR_NEED = range(6)
EVICTABLE_LRUS = (LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE)
EVICTABLE_ITEMS = slice(NR_LRU_BASE + LRU_INACTIVE_ANON, NR_LRU_BASE + LRU_ACTIVE_FILE + 1)  # their NR_* items


@dataclass(slots=True)
class scan_control:
    """``struct scan_control``: one reclaim invocation's targets and results."""

    nr_to_reclaim: int
    reclaim_idx: int
    target_mem_cgroup: object = None  # the memcg whose limit is reclaimed for (None: global reclaim)
    gfp_mask: int = G.GFP_KERNEL
    order: int = 0
    priority: int = DEF_PRIORITY
    reclaimer: int = RECLAIMER_DIRECT
    may_writepage: bool = True
    may_unmap: bool = True
    may_swap: bool = True
    may_deactivate: int = 0
    force_deactivate: bool = False
    skipped_deactivate: bool = False
    memcg_low_reclaim: bool = False  # reclaim below memory.low too (nothing unprotected was left)
    memcg_low_skipped: bool = False  # a memcg was skipped for its memory.low
    memcg_full_walk: bool = False  # walk every memcg, not just until enough was reclaimed
    cache_trim_mode: bool = False
    file_is_tiny: bool = False
    anon_cost: int = 0
    file_cost: int = 0
    nr_scanned: int = 0
    nr_reclaimed: int = 0
    nr: np.ndarray = field(default_factory=lambda: np.zeros(NR_ST, np.int64))  # sc->nr: this pass's batch stats


# ---- the compiled batch --------------------------------------------------------------------


@njit(cache=True)
def folio_nr_pages(a, pfn):
    return np.int64(1) << a.order[pfn] if a.flags[pfn] & PG_head_mask else np.int64(1)


@njit(cache=True)
def folio_mapped(a, pfn, nr):
    """Is a page of the ``nr`` from ``pfn`` mapped, by a pte or a PMD? (A loop: an array
    test would allocate for every folio scanned.)"""
    if a.entire_mapcount[pfn] > 0:
        return True
    for p in range(pfn, pfn + nr):
        if a.mapcount[p] > 0:
            return True
    return False


@njit(cache=True)
def isolate_lru_folios(a, memcg, nid, lru, nr_to_scan, reclaim_idx, out, stat):
    """Take folios from the tail of list ``lru`` of the lruvec of ``memcg`` on node ``nid``
    until ``nr_to_scan`` pages of eligible zones
    were scanned; each loses PG_lru and gains a reference. Folios of zones above
    ``reclaim_idx`` are skipped and go back to the head. Returns the folios taken (in ``out``)."""
    n = total = scan = 0
    first_skipped = -1
    while (scan < nr_to_scan and total < SWAP_CLUSTER_MAX_SKIPPED and a.lruvec_tail[memcg, nid, lru]
           and n < out.shape[0]):
        pfn = a.lruvec_tail[memcg, nid, lru] - 1
        if pfn == first_skipped:  # only skipped folios are left
            break
        nr = folio_nr_pages(a, pfn)
        total += nr
        lruvec_del_folio(a, pfn)
        zid = B.page_zone(a, pfn)
        if a.zone_idx[zid] > reclaim_idx:  # back at the head, in the order list_splice leaves them
            a.vm_events[PGSCAN_SKIP_DMA + a.zone_event_type[zid]] += nr
            lruvec_add_folio(a, pfn)
            if first_skipped < 0:
                first_skipped = pfn
            continue
        scan += nr
        a.flags[pfn] &= ~PG_lru_mask
        a.refcount[pfn] += 1
        out[n] = pfn
        n += 1
        stat[ST_TAKEN] += nr
    stat[ST_SCANNED] += scan
    file = lru >= LRU_INACTIVE_FILE
    a.node_stat[nid, NR_ISOLATED_ANON + file] += stat[ST_TAKEN]
    return n


@njit(cache=True)
def move_folios_to_lru(a, nid, folios, n, cpu):
    """Put isolated folios back on their lists (by their flags; unevictable ones culled) and
    drop the isolation reference. Returns the pages moved."""
    moved = 0
    for i in range(n):
        pfn = folios[i]
        nr = folio_nr_pages(a, pfn)
        a.node_stat[nid, NR_ISOLATED_ANON + (0 if a.flags[pfn] & PG_swapbacked_mask else 1)] -= nr
        lru_add(a, pfn)
        a.flags[pfn] |= PG_lru_mask
        moved += nr
        folio_put(a, pfn, cpu)
    return moved


@njit(cache=True)
def __remove_mapping(a, vs, xa, ino_xa, nid, pfn, nr):
    """A clean, unmapped, isolated folio nobody else holds (the cache's references and the
    reclaimer's alone) leaves its cache, a shadow entry (``workingset_eviction``) taking its
    place: the page cache's slots, or the swap table's entry (6.18's swap table keeps the
    shadows of anonymous pages). A shmem folio leaves no shadow (``folio_is_file_lru`` is
    false for it): a clean one is a hole page never written, which reads as zeros again
    (``shmem_recalc_inode`` gives its block back). True if it left; the caller frees it."""
    if a.refcount[pfn] != nr + 1 or a.flags[pfn] & (PG_dirty_mask | PG_writeback_mask):
        return False
    if a.flags[pfn] & PG_swapcache_mask:
        __swap_cache_del_folio(a, vs, pfn, workingset_eviction(a, nid, pfn, nr))
        a.refcount[pfn] -= nr  # the swap cache's references (put_swap_folio)
        a.node_stat[nid, NR_ISOLATED_ANON] -= nr
        return True
    shmem = (a.flags[pfn] & PG_swapbacked_mask) != 0
    xid = ino_xa[a.mapping[pfn] >> 1]
    if shmem:
        for i in range(nr):
            X.xa_erase(xa, xid, a.index[pfn] + i)
    else:
        X.xa_store_range(xa, xid, a.index[pfn], nr, workingset_eviction(a, nid, pfn, nr))
    filemap_unaccount_folio(a, nid, pfn, nr)
    a.node_stat[nid, NR_ISOLATED_ANON if shmem else NR_ISOLATED_FILE] -= nr
    a.refcount[pfn] = 1  # the page cache's references (folio_ref_freeze leaves ours)
    return True


@njit(cache=True)
def filemap_unaccount_folio(a, nid, pfn, nr):
    """The page cache's counters for a folio leaving it: NR_FILE_PAGES, NR_SHMEM for shmem,
    NR_FILE_THPS/NR_SHMEM_THPS for a PMD-sized one (the node's and its memcg's)."""
    memcg = a.memcg[pfn]
    a.node_stat[nid, NR_FILE_PAGES] -= nr
    a.memcg_stat[memcg, NR_FILE_PAGES] -= nr
    shmem = (a.flags[pfn] & PG_swapbacked_mask) != 0
    if shmem:
        a.node_stat[nid, NR_SHMEM] -= nr
        a.memcg_stat[memcg, NR_SHMEM] -= nr
    if a.order[pfn] == HPAGE_PMD_ORDER:
        thps = NR_SHMEM_THPS if shmem else NR_FILE_THPS
        a.node_stat[nid, thps] -= nr
        a.memcg_stat[memcg, thps] -= nr


@njit(cache=True)
def free_reclaimed_folio(a, pfn, cpu):
    """``free_it``: the last (the isolation) reference goes; the folio is uncharged and freed
    (``mem_cgroup_uncharge_folios``, ``free_unref_folios``)."""
    a.flags[pfn] &= ~(PG_active_mask | PG_referenced_mask | PG_workingset_mask)
    folio_put(a, pfn, cpu)


@njit(cache=True)
def pageout(a, pfn, swp, io):
    """``pageout`` of a dirty swap-cache folio: PG_reclaim set (its write's completion rotates
    it to the inactive tail) and handed to ``swap_writepage``, which runs for the whole pass
    (``io``) once the batched TLB flush is done (``try_to_unmap_flush_dirty``)."""
    a.flags[pfn] |= PG_reclaim_mask
    io[swp[SWP_NR_IO]] = pfn
    swp[SWP_NR_IO] += 1


@njit(cache=True)
def shrink_anon_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, entries, swp, io, flush_mm,
                      scratch, may_writepage, may_io, stat):
    """``shrink_folio_list``'s steps for an anonymous folio: a swap slot and the swap cache
    (``add_to_swap``, from the entries reserved for the pass), every pte to a swap pte
    (``try_to_unmap``), the write (``pageout``); a clean one is ready for ``__remove_mapping``.
    Returns FOLIO_KEEP, FOLIO_ACTIVATE (no slot left, or still mapped), FOLIO_PAGEOUT or
    FOLIO_FREE. A reclaimer that may not do I/O (``may_io``: no __GFP_IO in its gfp, as zram's
    own allocations) neither starts swapping a folio nor writes one (``may_enter_fs``)."""
    if not a.flags[pfn] & PG_swapcache_mask:
        if not may_io or a.pincount[pfn] > 0:  # folio_maybe_dma_pinned
            return FOLIO_KEEP
        if swp[SWP_NEXT_ENTRY] == entries.shape[0]:  # add_to_swap failed: activate_locked_split
            return FOLIO_ACTIVATE
        if not add_to_swap(a, vs, pfn, np.uint64(entries[swp[SWP_NEXT_ENTRY]])):
            return FOLIO_ACTIVATE  # the memcg's memory.swap.max: activate_locked
        swp[SWP_NEXT_ENTRY] += 1
    if folio_mapped(a, pfn, nr) and not try_to_unmap(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn,
                                                     scratch, flush_mm):
        stat[ST_UNMAP_FAIL] += nr
        return FOLIO_ACTIVATE
    if a.flags[pfn] & PG_dirty_mask:
        if not may_writepage or not may_io:
            return FOLIO_KEEP
        pageout(a, pfn, swp, io)
        stat[ST_PAGEOUT] += nr
        return FOLIO_PAGEOUT
    return FOLIO_FREE


@njit(cache=True)
def split_folio_to_list(a, vs, rmap, folios, n, pfn, flush_mm):
    """``split_folio_to_list``: split the large folio to order 0, the new folios joining the
    end of the list (``folios[n:]``). Returns the new length of the list, -1 on failure."""
    ret, added = split_huge_page_to_list_to_order(a, vs, rmap, pfn, folios[n:], 0, flush_mm)
    return -1 if ret else n + added


@njit(cache=True)
def large_anon_folio_to_swap(a, vs, rmap, folios, n, pfn, large, idx, flush_mm):
    """``shrink_folio_list``'s large anonymous folio not yet in the swap cache (6.18 with
    CONFIG_THP_SWAP): one that cannot be split is activated (``can_split_folio``); one
    partially mapped on the deferred split queue is split at once (its unmapped pages go
    without I/O); otherwise it enters the swap cache whole (``folio_alloc_swap`` of its
    order: the run reserved for it, ``large[idx]``, then marked used). Without a run (no
    cluster of its order had room) or when its memcg may not swap that much, it is split to
    order 0 (THP_SWPOUT_FALLBACK for a PMD-size folio) and its pages swapped one by one.
    Returns (the list's new length, LARGE_WHOLE, LARGE_SPLIT or LARGE_ACTIVATE)."""
    nr = folio_nr_pages(a, pfn)
    if not can_split_folio(a, pfn, 1):
        return n, LARGE_ACTIVATE
    if folio_on_deferred_list(a, pfn) and folio_test_partially_mapped(a, pfn):
        grown = split_folio_to_list(a, vs, rmap, folios, n, pfn, flush_mm)
        return (n, LARGE_ACTIVATE) if grown < 0 else (grown, LARGE_SPLIT)
    if idx < large.shape[0] and large[idx] >= 0 and add_to_swap(a, vs, pfn, np.uint64(large[idx])):
        large[idx] = -1
        return n, LARGE_WHOLE
    grown = split_folio_to_list(a, vs, rmap, folios, n, pfn, flush_mm)
    if grown < 0:
        return n, LARGE_ACTIVATE
    if nr >= HPAGE_PMD_NR:
        count_memcg_folio_events(a, pfn, THP_SWPOUT_FALLBACK, 1)
        a.vm_events[THP_SWPOUT_FALLBACK] += 1
    return grown, LARGE_SPLIT


@njit(cache=True)
def activate_locked(a, vs, pfn, nr, swp, stat):
    """``activate_locked``: a swap-cache folio gives its slot back when swap is more than half
    full, globally or for its memcg (``mem_cgroup_swap_full``), or it is mlocked; the folio goes
    to the active list (an mlocked one to the unevictable list, on putback)."""
    if a.flags[pfn] & PG_swapcache_mask and (swp[SWP_FULL] or mem_cgroup_swap_full(a, pfn)
                                             or a.flags[pfn] & PG_mlocked_mask):
        folio_free_swap(a, vs, pfn)
    if not a.flags[pfn] & (PG_active_mask | PG_mlocked_mask):
        a.flags[pfn] |= PG_active_mask
        stat[ST_ACTIVATE] += nr
        a.vm_events[PGACTIVATE] += nr
        count_memcg_folio_events(a, pfn, PGACTIVATE, nr)


@njit(cache=True)
def folio_is_file_lru(a, pfn):
    return not a.flags[pfn] & PG_swapbacked_mask


@njit(cache=True)
def folio_check_references(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, pfn, scratch, flush_mm):
    """What the references found say (``folio_check_references``, 6.18, classic LRU): a
    VM_LOCKED mapping activates (to be culled as mlocked); pte references keep the folio for
    another trip with PG_referenced (the fault's own reference is one), and activate it at a
    second one (PG_referenced already set, or two VMAs), or at once for executable file
    folios; an unmapped file folio with PG_referenced is reclaimed if clean."""
    referenced_ptes, vm_flags = folio_referenced(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, pfn, scratch,
                                                 flush_mm)
    if vm_flags & VM_LOCKED:
        return FOLIOREF_ACTIVATE
    if a.lrugen_enabled[a.zone_node[B.page_zone(a, pfn)]]:  # MGLRU: a second young sighting promotes
        if not referenced_ptes:
            return FOLIOREF_RECLAIM
        return FOLIOREF_ACTIVATE if lru_gen_set_refs(a, pfn) else FOLIOREF_KEEP
    referenced_folio = (a.flags[pfn] & PG_referenced_mask) != 0
    a.flags[pfn] &= ~PG_referenced_mask
    if referenced_ptes:
        a.flags[pfn] |= PG_referenced_mask
        if referenced_folio or referenced_ptes > 1:
            return FOLIOREF_ACTIVATE
        if vm_flags & VM_EXEC and folio_is_file_lru(a, pfn):
            return FOLIOREF_ACTIVATE
        return FOLIOREF_KEEP
    if referenced_folio and folio_is_file_lru(a, pfn):
        return FOLIOREF_RECLAIM_CLEAN
    return FOLIOREF_RECLAIM


@njit(cache=True)
def shrink_file_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, nid, scratch, flush_mm, stat):
    """``shrink_folio_list``'s steps for a page-cache folio: unmapped from every process
    (``try_to_unmap``: its dirty ptes dirty it); a dirty one is left to the flushers
    (PG_reclaim, activated: NR_VMSCAN_IMMEDIATE), a clean one is ready for
    ``__remove_mapping``. Returns FOLIO_KEEP, FOLIO_ACTIVATE or FOLIO_FREE."""
    if folio_mapped(a, pfn, nr) and not try_to_unmap(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn,
                                                     scratch, flush_mm):
        stat[ST_UNMAP_FAIL] += nr
        return FOLIO_ACTIVATE
    if a.flags[pfn] & PG_dirty_mask:
        a.node_stat[nid, NR_VMSCAN_IMMEDIATE] += nr
        a.flags[pfn] |= PG_reclaim_mask
        return FOLIO_ACTIVATE
    return FOLIO_FREE if a.mapping[pfn] else FOLIO_KEEP


@njit(cache=True)
def shrink_lazyfree_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, nid, scratch, flush_mm,
                          stat):
    """``shrink_folio_list``'s steps for a lazily freed anonymous folio (MADV_FREE or
    MAP_DROPPABLE: on the file list, not swap-backed): its ptes go without swap
    (``try_to_unmap``); one written since is swap-backed again and activated, to join the
    anon lists on putback (``nr_lazyfree_fail``; it was isolated as a file folio and is put
    back as an anonymous one); a dirty unmapped one is activated as a dirty file folio is
    (NR_VMSCAN_IMMEDIATE); a clean one nobody else holds is freed (FOLIO_LAZYFREE)."""
    if folio_mapped(a, pfn, nr) and not try_to_unmap(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn,
                                                     scratch, flush_mm):
        stat[ST_UNMAP_FAIL] += nr
        if a.flags[pfn] & PG_swapbacked_mask:
            a.node_stat[nid, NR_ISOLATED_FILE] -= nr
            a.node_stat[nid, NR_ISOLATED_ANON] += nr
        return FOLIO_ACTIVATE
    if a.pincount[pfn] > 0:  # folio_maybe_dma_pinned
        return FOLIO_ACTIVATE
    if a.flags[pfn] & PG_dirty_mask:
        a.node_stat[nid, NR_VMSCAN_IMMEDIATE] += nr
        a.flags[pfn] |= PG_reclaim_mask
        return FOLIO_ACTIVATE
    return FOLIO_LAZYFREE if a.refcount[pfn] == 1 else FOLIO_KEEP  # folio_ref_freeze(folio, 1)


@njit(cache=True)
def shmem_writeout(a, vs, xa, ino_xa, nid, pfn, nr, entries, large, idx, swp, io, stat):
    """``shmem_writeout`` (6.18; ``shmem_writepage`` before 6.16) of a dirty, unmapped shmem
    folio: swap slots for it (``folio_alloc_swap``: for an order-0 folio one reserved for the
    pass; for a large one the run of its order reserved for it, ``large[idx]``, -1 when none
    was free or the folio crosses EOF: FOLIO_SPLIT, ``shmem_writeout_split`` splits it after
    the pass), charged to its memcg, the swap cache; the slots take the references the file's
    xarray will hold (``swap_shmem_alloc``); the folio leaves the page cache, its swap entry
    taking its slots as one multi-index value entry (every slot holds the first entry, as
    every slot of a large folio holds its head: ``shmem_delete_from_page_cache``:
    NR_FILE_PAGES, NR_SHMEM, NR_SHMEM_THPS), and is written like an anonymous folio
    (``swap_writeout``; THP_SWPOUT as it is submitted). An order-0 folio without a slot, or a
    large one its memcg may not swap, is redirtied and activated (AOP_WRITEPAGE_ACTIVATE;
    the large one split first). Returns FOLIO_PAGEOUT, FOLIO_ACTIVATE or FOLIO_SPLIT."""
    if nr > 1:
        if idx >= large.shape[0] or large[idx] < 0:
            return FOLIO_SPLIT
        entry = np.uint64(large[idx])
        if not add_to_swap(a, vs, pfn, entry):
            return FOLIO_SPLIT
        large[idx] = -1
    else:
        if swp[SWP_NEXT_ENTRY] == entries.shape[0]:
            return FOLIO_ACTIVATE
        entry = np.uint64(entries[swp[SWP_NEXT_ENTRY]])
        if not add_to_swap(a, vs, pfn, entry):
            return FOLIO_ACTIVATE
        swp[SWP_NEXT_ENTRY] += 1
    for i in range(nr):
        swap_duplicate(vs, entry + np.uint64(i))
    X.xa_store_range(xa, ino_xa[a.mapping[pfn] >> 1], a.index[pfn], nr, X.xa_mk_value(np.int64(entry)))
    filemap_unaccount_folio(a, nid, pfn, nr)
    a.mapping[pfn] = 0
    a.refcount[pfn] -= nr  # the page cache's references (the swap cache took its own)
    pageout(a, pfn, swp, io)
    stat[ST_PAGEOUT] += nr
    return FOLIO_PAGEOUT


@njit(cache=True)
def shrink_shmem_folio(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, nid, entries, large,
                       idx, swp, io, scratch, flush_mm, may_writepage, may_fs, stat):
    """``shrink_folio_list``'s steps for a shmem folio (tmpfs, shared anonymous memory, memfd):
    unmapped from every process as a file folio is (its dirty ptes dirty it); a clean one is
    ready for ``__remove_mapping``; a dirty one goes to swap through ``pageout`` ->
    ``shmem_writeout`` when the reclaimer may enter the filesystem (__GFP_FS: shmem is not in
    the swap cache yet) and write (a PMD-mapped one loses its PMDs: TTU_SPLIT_HUGE_PMD).
    Returns FOLIO_KEEP, FOLIO_ACTIVATE, FOLIO_PAGEOUT, FOLIO_FREE or FOLIO_SPLIT."""
    if folio_mapped(a, pfn, nr) and not try_to_unmap(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn,
                                                     scratch, flush_mm):
        stat[ST_UNMAP_FAIL] += nr
        return FOLIO_ACTIVATE
    if not a.flags[pfn] & PG_dirty_mask:
        return FOLIO_FREE
    if not may_fs or not may_writepage or a.pincount[pfn] > 0:
        return FOLIO_KEEP
    if a.refcount[pfn] != 1 + nr:  # pageout: someone else holds it
        return FOLIO_KEEP
    return shmem_writeout(a, vs, xa, ino_xa, nid, pfn, nr, entries, large, idx, swp, io, stat)


@njit(cache=True)
def folio_check_dirty_writeback(a, pfn, nr, stat):
    """``folio_check_dirty_writeback`` and its counts: a page-cache folio (not anonymous, not
    lazily freed: those the flushers do not write) dirty or under writeback counts in
    ST_DIRTY, dirty and not yet under writeback in ST_UNQUEUED_DIRTY, under writeback with
    PG_reclaim (met again before its write completed) in ST_CONGESTED. Returns whether the
    folio is under writeback."""
    flags = a.flags[pfn]
    writeback = (flags & PG_writeback_mask) != 0
    if flags & PG_swapbacked_mask or a.mapping[pfn] & PAGE_MAPPING_ANON:
        return writeback
    dirty = (flags & PG_dirty_mask) != 0
    if dirty or writeback:
        stat[ST_DIRTY] += nr
    if dirty and not writeback:
        stat[ST_UNQUEUED_DIRTY] += nr
    if writeback and flags & PG_reclaim_mask:
        stat[ST_CONGESTED] += nr
    return writeback


@njit(cache=True)
def shrink_folio_list(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, large, swp, io,
                      split, flush_mm, scratch, nid, folios, n, is_kswapd, pgdat_writeback, may_unmap, may_writepage,
                      may_io, may_fs, stat, cpu):
    """Decide each isolated folio's fate (``shrink_folio_list``); the reclaimed ones are freed,
    those handed to pageout go to ``io`` (``shrink_written_folios`` finishes them), the large
    shmem folios ``shmem_writeout`` splits to ``split``, the others are compacted to the
    front of ``folios``. Returns how many remain there.

    The dirty and writeback page cache met counts for the throttles (``folio_check_dirty_writeback``:
    ST_DIRTY, ST_UNQUEUED_DIRTY not yet queued, ST_CONGESTED met again under writeback with
    PG_reclaim). A folio under writeback is activated, PG_reclaim set (case 2 of 6.18's
    comment, the one of global and cgroup v2 reclaim: ST_WRITEBACK); kswapd meeting one with
    PG_reclaim again while the node is PGDAT_WRITEBACK (``pgdat_writeback``) counts it in
    ST_IMMEDIATE (case 1: it will throttle). ``scratch`` is the rmap walks' (``rmap_scratch``)."""
    keep = i = 0
    rmap = (rmap_keys, rmap_off, rmap_rows, row_mm, mmcs)
    while i < n:
        pfn = folios[i]
        i += 1
        nr = folio_nr_pages(a, pfn)
        flags = a.flags[pfn]
        action = FOLIO_KEEP
        if flags & PG_locked_mask:  # folio_trylock failed: someone (a read) holds it
            pass
        elif not folio_evictable(a, pfn):  # mlocked: activate_locked, culled on putback
            action = FOLIO_ACTIVATE
        elif not may_unmap and folio_mapped(a, pfn, nr):
            pass
        elif folio_check_dirty_writeback(a, pfn, nr, stat) and is_kswapd and flags & PG_reclaim_mask \
                and pgdat_writeback:
            stat[ST_IMMEDIATE] += nr
            action = FOLIO_ACTIVATE
        elif flags & PG_writeback_mask:
            a.flags[pfn] |= PG_reclaim_mask
            stat[ST_WRITEBACK] += nr
            action = FOLIO_ACTIVATE
        else:
            references = folio_check_references(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, pfn, scratch, flush_mm)
            if references == FOLIOREF_ACTIVATE:
                action = FOLIO_ACTIVATE
            elif references == FOLIOREF_KEEP:
                stat[ST_REF_KEEP] += nr
            elif not flags & PG_swapbacked_mask and a.mapping[pfn] & PAGE_MAPPING_ANON:
                action = shrink_lazyfree_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, nid,
                                               scratch, flush_mm, stat)
            elif not flags & PG_swapbacked_mask:
                action = shrink_file_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, nid, scratch,
                                           flush_mm, stat)
            elif a.mapping[pfn] & PAGE_MAPPING_ANON:
                if nr > 1 and not flags & PG_swapcache_mask and may_io and a.pincount[pfn] == 0:
                    n, large_to = large_anon_folio_to_swap(a, vs, rmap, folios, n, pfn, large, i - 1, flush_mm)
                    if large_to == LARGE_ACTIVATE:
                        action = FOLIO_ACTIVATE
                    elif large_to == LARGE_SPLIT:
                        nr = np.int64(1)
                if action != FOLIO_ACTIVATE:
                    action = shrink_anon_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr,
                                               entries, swp, io, flush_mm, scratch, may_writepage, may_io, stat)
            elif flags & PG_swapcache_mask:  # a shmem folio shmem_writeout put in the swap cache
                action = shrink_anon_folio(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr, entries,
                                           swp, io, flush_mm, scratch, may_writepage, may_io, stat)
            else:
                action = shrink_shmem_folio(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, pfn, nr,
                                            nid, entries, large, i - 1, swp, io, scratch, flush_mm, may_writepage,
                                            may_fs, stat)
        if action == FOLIO_PAGEOUT:
            continue
        if action == FOLIO_SPLIT:
            split[swp[SWP_NR_SPLIT]] = pfn
            swp[SWP_NR_SPLIT] += 1
            continue
        if action == FOLIO_FREE and __remove_mapping(a, vs, xa, ino_xa, nid, pfn, nr):
            free_reclaimed_folio(a, pfn, cpu)
            stat[ST_RECLAIMED] += nr
            continue
        if action == FOLIO_LAZYFREE:
            a.vm_events[PGLAZYFREED] += nr
            count_memcg_folio_events(a, pfn, PGLAZYFREED, nr)
            a.node_stat[nid, NR_ISOLATED_FILE] -= nr
            free_reclaimed_folio(a, pfn, cpu)
            stat[ST_RECLAIMED] += nr
            continue
        if action == FOLIO_ACTIVATE:
            activate_locked(a, vs, pfn, nr, swp, stat)
        folios[keep] = pfn
        keep += 1
    return keep


@njit(cache=True)
def shrink_written_folios(a, vs, xa, ino_xa, nid, io, nr_io, folios, keep, stat, cpu):
    """The end of ``pageout`` for the folios the pass wrote: one whose write completed at
    once (zram) is freed from the swap cache (PG_reclaim cleared, as ``pageout`` does when
    the folio is no longer under writeback); one still under writeback, or left dirty by a
    failed write, is kept (its completion rotates it). Returns the folios kept."""
    for i in range(nr_io):
        pfn = io[i]
        nr = folio_nr_pages(a, pfn)
        if not a.flags[pfn] & PG_writeback_mask:
            a.flags[pfn] &= ~PG_reclaim_mask
            if __remove_mapping(a, vs, xa, ino_xa, nid, pfn, nr):
                free_reclaimed_folio(a, pfn, cpu)
                stat[ST_RECLAIMED] += nr
                continue
        folios[keep] = pfn
        keep += 1
    return keep


@njit(cache=True)
def isolate_inactive_batch(a, memcg, nid, lru, nr_to_scan, reclaim_idx, reclaimer, folios, stat, cpu):
    """``shrink_inactive_list``'s isolation, after ``lru_add_drain``: the folios taken into
    ``folios`` (how many is returned), PGSCAN_* of the reclaimer and the type."""
    lru_add_drain(a, cpu)
    n = isolate_lru_folios(a, memcg, nid, lru, nr_to_scan, reclaim_idx, folios, stat)
    a.vm_events[PGSCAN_KSWAPD + reclaimer] += stat[ST_SCANNED]
    count_memcg_events(a, memcg, PGSCAN_KSWAPD + reclaimer, stat[ST_SCANNED])
    a.vm_events[PGSCAN_ANON + (1 if lru >= LRU_INACTIVE_FILE else 0)] += stat[ST_SCANNED]
    return n


@njit(cache=True)
def putback_inactive_batch(a, memcg, nid, lru, reclaimer, folios, keep, stat, cpu):
    """``shrink_inactive_list``'s end: the folios kept go back to their lists; PGSTEAL_*."""
    move_folios_to_lru(a, nid, folios, keep, cpu)
    a.vm_events[PGSTEAL_KSWAPD + reclaimer] += stat[ST_RECLAIMED]
    count_memcg_events(a, memcg, PGSTEAL_KSWAPD + reclaimer, stat[ST_RECLAIMED])
    a.vm_events[PGSTEAL_ANON + (1 if lru >= LRU_INACTIVE_FILE else 0)] += stat[ST_RECLAIMED]


@njit(cache=True)
def isolate_folios(a, pfns, out):
    """``folio_isolate_lru`` of each folio of ``pfns`` on an LRU list (``reclaim_pages``'s
    callers found them; NR_ISOLATED_* as the batch counts them). Returns how many were taken."""
    n = 0
    for pfn in pfns:
        if not a.flags[pfn] & PG_lru_mask or a.flags[pfn] & PG_unevictable_mask:
            continue
        lruvec_del_folio(a, pfn)
        a.flags[pfn] &= ~(PG_lru_mask | PG_active_mask)  # reclaim_pages: folio_clear_active
        a.refcount[pfn] += 1
        nr = folio_nr_pages(a, pfn)
        a.node_stat[a.zone_node[B.page_zone(a, pfn)], NR_ISOLATED_ANON + (0 if a.flags[pfn] & PG_swapbacked_mask
                                                                            else 1)] += nr
        out[n] = pfn
        n += 1
    return n


@njit(cache=True)
def shrink_active_batch(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, flush_mm, scratch, memcg, nid, lru, folios,
                        reclaim_idx, cpu, stat):
    """``shrink_active_list`` of as many pages as ``folios`` holds: referenced executable file
    folios stay active (rotated, ST_ROTATED); the others move to the inactive head with
    PG_workingset (a later refault of theirs restores the workingset); a VM_LOCKED mapping
    found mlocks the folio, culled on putback. Returns pages deactivated. The per-folio
    callees borrow the arrays (``unowned``)."""
    flush_mm, scratch, folios, stat = unowned(flush_mm), unowned(scratch), unowned(folios), unowned(stat)
    nr_to_scan = folios.shape[0]
    n = isolate_lru_folios(a, memcg, nid, lru, nr_to_scan, reclaim_idx, folios, stat)
    a.vm_events[PGREFILL] += stat[ST_SCANNED]
    count_memcg_events(a, memcg, PGREFILL, stat[ST_SCANNED])
    deactivated = 0
    for i in range(n):
        pfn = folios[i]
        if not folio_evictable(a, pfn):
            continue
        referenced, vm_flags = folio_referenced(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, pfn, scratch, flush_mm)
        if referenced and vm_flags & VM_EXEC and folio_is_file_lru(a, pfn):
            stat[ST_ROTATED] += folio_nr_pages(a, pfn)
            continue
        if folio_evictable(a, pfn):
            a.flags[pfn] = (a.flags[pfn] & ~PG_active_mask) | PG_workingset_mask
            deactivated += folio_nr_pages(a, pfn)
    move_folios_to_lru(a, nid, folios, n, cpu)
    a.vm_events[PGDEACTIVATE] += deactivated
    count_memcg_events(a, memcg, PGDEACTIVATE, deactivated)
    return deactivated


@njit(cache=True)
def anon_swap_candidate(a, pfn):
    """The pages of a swap-backed folio (anonymous or shmem) not yet in the swap cache (0 for
    the others): the slots to reserve, a large folio being split to order 0 when it gets no
    run of its order."""
    flags = a.flags[pfn]
    if not a.mapping[pfn] or not flags & PG_swapbacked_mask or flags & PG_swapcache_mask:
        return np.int64(0)
    return folio_nr_pages(a, pfn)


@njit(cache=True)
def swap_out_needs(a, folios, n):
    """What ``shrink_folio_batch`` prepares for the compiled pass over ``folios[:n]``
    (NEED_*): the swap slots to reserve, the room for the pages splits add, whether the rmap
    table is walked (a folio mapped or in the swap cache), whether a page-cache folio may
    leave its cache (the inode -> xarray table)."""
    needs = np.zeros(NR_NEED, np.int64)
    for i in range(n):
        pfn = folios[i]
        slots = anon_swap_candidate(a, pfn)
        needs[NEED_SLOTS] += slots
        needs[NEED_SPLIT_ROOM] += max(slots - 1, 0)
        needs[NEED_LARGE] += 1 if slots > 1 else 0
        if folio_mapped(a, pfn, folio_nr_pages(a, pfn)) or a.flags[pfn] & PG_swapcache_mask:
            needs[NEED_RMAP] = 1
        if a.mapping[pfn] and not a.mapping[pfn] & PAGE_MAPPING_ANON:
            needs[NEED_CACHE] = 1
    return needs


@njit(cache=True)
def putback_split_overflow(a, nid, folios, work, keep, cpu):
    """The folios kept go back to the caller's ``folios``; those a split added beyond its
    room go back to their lists at once (``move_folios_to_lru``). Returns how many are in
    ``folios``."""
    fit = min(keep, folios.shape[0])
    folios[:fit] = work[:fit]
    if keep > fit:
        move_folios_to_lru(a, nid, work[fit:keep], keep - fit, cpu)
    return fit


@njit(cache=True)
def sort_by_slot(a, io, n):
    """``io[:n]`` in the order of their swap slots (the order the block plug submits them),
    in place: an insertion sort, the folios mostly coming in slot order already (the batch's
    slots were reserved in order). The slots are distinct: the order is the only one."""
    for i in range(1, n):
        pfn = io[i]
        slot = a.private[pfn]
        j = i - 1
        while j >= 0 and a.private[io[j]] > slot:
            io[j + 1] = io[j]
            j -= 1
        io[j + 1] = pfn


@njit(cache=True)
def shrink_folio_work(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, large, swap_full, nid,
                      work, n, is_kswapd, pgdat_writeback, may_unmap, may_writepage, may_io, may_fs, io, split,
                      flush_mm, swp, scratch, stat, cpu):
    """``shrink_folio_list`` of ``work[:n]`` (``work`` with room for the pages of split
    folios) on the caller's arrays: the folios handed to pageout into ``io`` in slot order,
    the large shmem folios to split into ``split``, the mms whose TLBs need a flush marked in
    ``flush_mm`` (zero on entry), ``swp`` (NR_SWP) and the walks' ``scratch``. The reserved
    swap entries no folio took are released. Returns how many folios are kept at the front
    of ``work``; ``swp`` says how many went to ``io`` and ``split``. The per-folio callees
    borrow the arrays (``unowned``: no reference counting per folio)."""
    entries, large, work, io, split, flush_mm, swp, scratch, stat = (
        unowned(entries), unowned(large), unowned(work), unowned(io), unowned(split), unowned(flush_mm),
        unowned(swp), unowned(scratch), unowned(stat))
    rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, ino_xa = (unowned(rmap_keys), unowned(rmap_off),
                                                            unowned(rmap_rows), unowned(row_mm), unowned(mmcs),
                                                            unowned(ino_xa))
    swp[:] = 0
    swp[SWP_FULL] = swap_full
    keep = shrink_folio_list(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, large, swp,
                             io, split, flush_mm, scratch, nid, work, n, is_kswapd, pgdat_writeback, may_unmap,
                             may_writepage, may_io, may_fs, stat, cpu)
    put_swap_entries(vs, entries[swp[SWP_NEXT_ENTRY]:])
    sort_by_slot(a, io, swp[SWP_NR_IO])
    return keep


@njit(cache=True)
def shrink_folio_pass(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, large, swap_full, nid,
                      folios, n, split_room, is_kswapd, pgdat_writeback, may_unmap, may_writepage, may_io, may_fs,
                      stat, cpu):
    """``shrink_folio_work`` of ``folios[:n]`` (copied to a list with ``split_room`` for the
    pages of split folios), for Python's ``shrink_folio_batch``. Returns the list, how many
    are kept at its front, the folios handed to pageout in slot order, the large shmem folios
    to split and the mms whose TLBs need a flush."""
    work = np.zeros(n + split_room, np.int64)
    work[:n] = folios[:n]
    io = np.zeros(work.shape[0], np.int64)
    split = np.zeros(n, np.int64)
    flush_mm = np.zeros(mmcs.shape[0], np.int64)
    swp = np.zeros(NR_SWP, np.int64)
    keep = shrink_folio_work(a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, large,
                             swap_full, nid, work, n, is_kswapd, pgdat_writeback, may_unmap, may_writepage, may_io,
                             may_fs, io, split, flush_mm, swp, rmap_scratch(rmap_rows), stat, cpu)
    return work, keep, io[:swp[SWP_NR_IO]], split[:swp[SWP_NR_SPLIT]], flush_mm


@njit(cache=True)
def finish_folio_batch(a, vs, xa, ino_xa, nid, io, folios, work, keep, stat, cpu):
    """The end of ``shrink_folio_list`` once the writes were submitted: the folios written at
    once freed (``shrink_written_folios``), the kept ones back in ``folios`` (how many is
    returned), those beyond its room back on their lists. The callees borrow the arrays
    (``unowned``: one compiled version for the pass and for Python's batch)."""
    ino_xa, io, folios, work, stat = unowned(ino_xa), unowned(io), unowned(folios), unowned(work), unowned(stat)
    if io.shape[0]:
        keep = shrink_written_folios(a, vs, xa, ino_xa, nid, io, io.shape[0], work, keep, stat, cpu)
    return putback_split_overflow(a, nid, folios, work, keep, cpu)


# ---- one lruvec: one compiled pass ------------------------------------------------------------

# The pass's state (``ps``, int64): the inputs Python sets (PS_MEMCG .. PS_TOTAL_SWAP), then
# what the pass keeps across a stop (the nr[] left and the targets by list, what it reclaimed,
# the list being scanned and the step it is at, the batch a stop left half done).
(PS_MEMCG, PS_NID, PS_RECLAIM_IDX, PS_RECLAIMER, PS_PRIORITY, PS_NR_TO_RECLAIM, PS_FLAGS, PS_MAY_DEACTIVATE,
 PS_SWAPPINESS, PS_ANON_COST, PS_FILE_COST, PS_TOTAL_SWAP,
 PS_PHASE, PS_LRU, PS_CHUNK, PS_STEP, PS_RECLAIMED, PS_PROPORTIONAL, PS_ISOLATED_WAITED, PS_NR_SCANNED, PS_N,
 PS_KEEP, PS_NR_IO, PS_NR, PS_TARGETS) = range(25)
NR_PS = PS_TARGETS + 4
# PS_FLAGS: scan_control's switches and what the pass may find in the machine (set by Python
# before every call: a stop may change them), and what it reports back (PF_LOW_SKIPPED,
# PF_SKIPPED_DEACTIVATE)
(PF_MAY_UNMAP, PF_MAY_WRITEPAGE, PF_MAY_IO, PF_MAY_FS, PF_MAY_SWAP, PF_FILE_IS_TINY, PF_CACHE_TRIM, PF_LOW_RECLAIM,
 PF_UNPROTECTED, PF_PGDAT_WRITEBACK, PF_WB_THROTTLED, PF_HAS_TLB, PF_LOW_SKIPPED,
 PF_SKIPPED_DEACTIVATE) = (1 << i for i in range(14))
# PS_PHASE: the nr[] loop (``get_scan_count`` filled nr[]), the final aging of the active
# anon list, done; PH_LIST: one shrink_list of PS_LRU (PS_CHUNK pages) alone
# (``shrink_inactive_list`` or ``shrink_active_list`` called by themselves)
PH_LOOP, PH_FINAL, PH_DONE, PH_LIST = range(4)
# PS_STEP: where the inactive list's step is (isolating next, the write done, the Python
# batch done, all done but the stop's Python work)
STEP_ISOLATE, STEP_FINISH, STEP_TAIL, STEP_DONE = range(4)
# what the pass stops for (Python does it, then calls the pass again): done; a direct
# reclaimer's ``too_many_isolated`` wait; the page cache's xarray to grow; a batch needing
# Python's ``shrink_folio_batch`` (large folios, a caller without __GFP_IO); the swap write
# of a disk, of zram short of pages, or with reclaimers waiting for writeback; zones whose
# watermark zram's allocations boosted (their kswapd is woken); the flusher to wake
(PASS_DONE, PASS_ISOLATED, PASS_XA, PASS_BATCH, PASS_WRITE, PASS_BOOSTED, PASS_FLUSHER) = range(7)


@njit(cache=True)
def memcg_in_subtree(a, m, root):
    """``mem_cgroup_is_descendant``: ``root`` is ``m`` or one of its ancestors."""
    while m != 0:
        if m == root:
            return True
        m = a.memcg_parent[m]
    return False


@njit(cache=True)
def lruvec_lru_pages(a, live, memcg, nid, lru):
    """``lruvec_page_state`` of list ``lru``, hierarchical: the node's counter for the root
    memcg's lruvec, else the pages of the memcg's subtree (``live``: the memcg ids in use) on
    the node's zones."""
    if memcg == ROOT_MEM_CGROUP_ID:
        return a.node_stat[nid, NR_LRU_BASE + lru]
    pages = np.int64(0)
    for m in live:
        if memcg_in_subtree(a, m, memcg):
            for zid in range(a.zone_node.shape[0]):
                if a.zone_node[zid] == nid:
                    pages += a.lru_zone_size[m, zid, lru]
    return pages


@njit(cache=True)
def inactive_lru_is_low(a, live, memcg, nid, inactive_lru):
    """``inactive_is_low``: the inactive list is smaller than the active one divided by
    int_sqrt(10 * GiB of both)."""
    inactive = lruvec_lru_pages(a, live, memcg, nid, inactive_lru)
    active = lruvec_lru_pages(a, live, memcg, nid, inactive_lru + 1)
    gb = (inactive + active) >> (30 - PAGE_SHIFT)
    return inactive * (int_sqrt(10 * gb) if gb else 1) < active


@njit(cache=True)
def lru_note_cost(a, live, memcg, nid, file, nr_io, nr_rotated):
    """The cost of reclaiming a type (``lru_note_cost_unlock_irq``): SWAP_CLUSTER_MAX per
    page written (reclaim writes only to swap) plus the pages rotated back, noted in the
    lruvec and its ancestors' (``parent_lruvec``); each halved once its costs exceed a
    quarter of its LRU pages, so they reflect recent reclaim."""
    cost = nr_io * SWAP_CLUSTER_MAX + nr_rotated
    m = memcg
    while m != 0:
        c = a.lruvec_cost[m, nid]
        c[1 if file else 0] += cost
        lrusize = np.int64(0)
        for lru in range(LRU_ACTIVE_FILE + 1):
            lrusize += lruvec_lru_pages(a, live, m, nid, lru)
        if c[0] + c[1] > lrusize // 4:
            c[0] //= 2
            c[1] //= 2
        m = a.memcg_parent[m]


@njit(cache=True)
def memcg_can_swap(a, nr_swap_pages, memcg):
    """``can_reclaim_anon_pages``: a free swap slot the memcg may use (of the
    ``nr_swap_pages`` free, within every ``memory.swap.max`` up to the root)."""
    nr = nr_swap_pages
    m = memcg
    while m != 0 and m != ROOT_MEM_CGROUP_ID:
        nr = min(nr, a.memcg_counter[m, PC_SWAP, PC_MAX] - a.memcg_counter[m, PC_SWAP, PC_USAGE])
        m = a.memcg_parent[m]
    return nr > 0


@njit(cache=True)
def apply_proportional_protection(a, ps, lruvec_size):
    """A memcg with effective memory.min/low is scanned in proportion to how far its usage is
    above the protection (never below SWAP_CLUSTER_MAX); below memory.low it is skipped in a
    first pass (PF_LOW_SKIPPED) unless reclaim already retries with ``memcg_low_reclaim``."""
    memcg, flags = ps[PS_MEMCG], ps[PS_FLAGS]
    if flags & PF_UNPROTECTED:
        return lruvec_size
    emin, elow = a.memcg_counter[memcg, PC_MEMORY, PC_EMIN], a.memcg_counter[memcg, PC_MEMORY, PC_ELOW]
    if not emin and not elow:
        return lruvec_size
    if not flags & PF_LOW_RECLAIM and elow > emin:
        protection = elow
        ps[PS_FLAGS] |= PF_LOW_SKIPPED
    else:
        protection = emin
    cgroup_size = max(a.memcg_counter[memcg, PC_MEMORY, PC_USAGE], protection)
    return max(lruvec_size - lruvec_size * protection // (cgroup_size + 1), SWAP_CLUSTER_MAX)


@entry
def get_scan_count(a, nr_swap_pages, ps):
    """How many pages of each evictable list to scan at this priority (``nr[]`` and its
    targets in ``ps``): SCAN_FILE without swap for the memcg, SCAN_EQUAL at priority 0
    (unless swappiness is 0), SCAN_ANON when the file cache is tiny, SCAN_FILE in cache-trim
    mode, else the swappiness and recent costs' SCAN_FRACT; the sizes are the lruvec's own
    lists in the zones up to ``reclaim_idx`` (``lruvec_lru_size``), scaled for protection."""
    memcg, nid, flags, priority = ps[PS_MEMCG], ps[PS_NID], ps[PS_FLAGS], ps[PS_PRIORITY]
    swappiness = ps[PS_SWAPPINESS]
    fraction_anon = fraction_file = denominator = np.int64(1)
    if not flags & PF_MAY_SWAP or not memcg_can_swap(a, nr_swap_pages, memcg):
        balance = SCAN_FILE
    elif not priority and swappiness:
        balance = SCAN_EQUAL
    elif flags & PF_FILE_IS_TINY:
        balance = SCAN_ANON
    elif flags & PF_CACHE_TRIM:
        balance = SCAN_FILE
    else:
        balance = SCAN_FRACT
        total = ps[PS_ANON_COST] + ps[PS_FILE_COST]  # calculate_pressure_balance
        anon_cost, file_cost = total + ps[PS_ANON_COST], total + ps[PS_FILE_COST]
        total = anon_cost + file_cost
        fraction_anon = swappiness * (total + 1) // (anon_cost + 1)
        fraction_file = (MAX_SWAPPINESS - swappiness) * (total + 1) // (file_cost + 1)
        denominator = fraction_anon + fraction_file
    for lru in range(LRU_ACTIVE_FILE + 1):
        size = np.int64(0)
        for zid in range(a.zone_node.shape[0]):
            if a.zone_node[zid] == nid and a.zone_idx[zid] <= ps[PS_RECLAIM_IDX]:  # no LRU pages unmanaged
                size += a.lru_zone_size[memcg, zid, lru]
        file = lru >= LRU_INACTIVE_FILE
        scan = apply_proportional_protection(a, ps, size) >> priority
        if balance == SCAN_FRACT:
            scan = scan * (fraction_file if file else fraction_anon) // denominator if denominator else 0
        elif (balance == SCAN_FILE and not file) or (balance == SCAN_ANON and file):
            scan = 0
        ps[PS_NR + lru] = ps[PS_TARGETS + lru] = scan


@njit(cache=True)
def lruvec_stat(a, live, memcg, nid, item):
    """``lruvec_page_state`` of a counter other than an LRU list's, hierarchical: the node's
    for the root memcg's lruvec, else the memcg's subtree's (``memcg_stat``)."""
    if memcg == ROOT_MEM_CGROUP_ID:
        return a.node_stat[nid, item]
    total = np.int64(0)
    for m in live:
        if memcg_in_subtree(a, m, memcg):
            total += a.memcg_stat[m, item]
    return total


@entry
def scan_control_modes(a, live, memcg, nid, priority, force_deactivate, refaults_anon, refaults_file,
                       cgroup_reclaim):
    """``prepare_scan_control``'s modes for the target's lruvec: which active lists may be
    shrunk (``may_deactivate``: forced, refaults activated pages since the last snapshot, or
    the inactive list is low), the cache-trim mode (inactive file pages at this priority and
    the active file list left alone) and, for global reclaim, the tiny-file mode (file pages
    and free pages of the node's managed zones below their HIGH watermarks, the active anon
    list left alone, inactive anon pages at this priority). Returns the three."""
    may_deactivate = 0
    for file in range(2):
        refaults = lruvec_stat(a, live, memcg, nid, WORKINGSET_ACTIVATE_ANON + file)
        if force_deactivate or refaults != (refaults_file if file else refaults_anon) or \
                inactive_lru_is_low(a, live, memcg, nid, LRU_INACTIVE_FILE if file else LRU_INACTIVE_ANON):
            may_deactivate |= DEACTIVATE_FILE if file else DEACTIVATE_ANON
    inactive_file = lruvec_lru_pages(a, live, memcg, nid, LRU_INACTIVE_FILE)
    cache_trim = (inactive_file >> priority) != 0 and not may_deactivate & DEACTIVATE_FILE
    if cgroup_reclaim:  # no tiny-file balancing
        return may_deactivate, cache_trim, False
    total_high = free = np.int64(0)
    for zid in range(a.zone_node.shape[0]):
        if a.zone_node[zid] == nid and a.managed_pages[zid]:
            total_high += a.wmark[zid, 2] + a.boost[zid]
            free += a.vm_stat[zid, NR_FREE_PAGES]
    file_pages = a.node_stat[nid, NR_ACTIVE_FILE] + a.node_stat[nid, NR_INACTIVE_FILE]
    tiny = (file_pages + free <= total_high and not may_deactivate & DEACTIVATE_ANON
            and (a.node_stat[nid, NR_INACTIVE_ANON] >> priority) != 0)
    return may_deactivate, cache_trim, tiny


# The pass's scratch arrays, made once per call of the compiled pass for all its batches: the
# mms whose TLBs a batch's walks left to flush (zeroed by the flush), shrink_folio_list's
# swap-out state (``swp``, NR_SWP) and the rmap walks' table (``rmap_scratch``: no page table
# goes away while the pass runs)
pass_scratch = namedtuple("pass_scratch", ("flush_mm", "swp", "rmap"))


@njit(cache=True)
def too_many_isolated(a, ps, file, gfp_io_fs):
    """Direct reclaimers back off while more is isolated than the node's inactive list holds
    (an eighth of it for __GFP_IO|__GFP_FS callers)."""
    if ps[PS_RECLAIMER] == RECLAIMER_KSWAPD:
        return False
    nid = ps[PS_NID]
    inactive = a.node_stat[nid, NR_INACTIVE_FILE if file else NR_INACTIVE_ANON]
    isolated = a.node_stat[nid, NR_ISOLATED_FILE if file else NR_ISOLATED_ANON]
    if gfp_io_fs:
        inactive >>= 3
    return isolated > inactive


@njit(cache=True)
def shrink_active_step(a, vs, tlb, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps, lru,
                       nr_to_scan, work, scr, cpu):
    """``shrink_active_list`` (``shrink_active_batch``, its list the pass's ``work`` when
    that is long enough: ``shrink_active_list`` alone may ask for more), the young bits' TLB
    flush batched (``try_to_unmap_flush``), the rotated pages noted as the type's cost."""
    stat = np.zeros(NR_ST, np.int64)
    lru_add_drain(a, cpu)
    folios = work[:nr_to_scan] if work.shape[0] >= nr_to_scan else np.zeros(nr_to_scan, np.int64)
    shrink_active_batch(a, vs, rmap_keys, rmap_off, rmap_rows, row_mm, scr.flush_mm, scr.rmap, ps[PS_MEMCG],
                        ps[PS_NID], lru, folios, ps[PS_RECLAIM_IDX], cpu, stat)
    try_to_unmap_flush_pass(tlb, ps, mmcs, scr.flush_mm)
    ps[PS_NR_SCANNED] += stat[ST_SCANNED]
    lru_note_cost(a, live, ps[PS_MEMCG], ps[PS_NID], lru >= LRU_INACTIVE_FILE, 0, stat[ST_ROTATED])


@njit(cache=True)
def try_to_unmap_flush_pass(tlb, ps, mmcs, flush_mm):
    """``try_to_unmap_flush`` within the pass: the batched TLB flush (``arch_tlbbatch_flush``,
    when the machine models TLBs); ``flush_mm`` is left zeroed for the next batch."""
    if ps[PS_FLAGS] & PF_HAS_TLB and mmcs.shape[0]:
        arch_tlbbatch_flush(tlb, mmcs, flush_mm)
    flush_mm[:] = 0


@njit(cache=True)
def swap_write_zram(a, vs, io):
    """``swap_writepage`` of the folios handed to pageout (``io``, in slot order) when all went
    to one zram area: ``zram_write_pages``. Returns how many were written, or -1 when Python
    must write them (another area or a disk, or zsmalloc short of pages: the write then went
    nowhere)."""
    type_ = a.private[io[0]] >> SWP_TYPE_SHIFT
    if not vs.swap_si[type_, SI_FLAGS] & SWP_SYNCHRONOUS_IO or a.private[io[-1]] >> SWP_TYPE_SHIFT != type_:
        return -1
    offsets = np.empty(io.shape[0], np.int64)
    for i in range(io.shape[0]):
        offsets[i] = a.private[io[i]] & SWP_OFFSET_MASK
    written = zram_write_pages(a, vs, type_, io, offsets, True)
    return written if written >= 0 else -1


@njit(cache=True)
def zone_boosted(a):
    for zid in range(a.zflags.shape[0]):
        if a.zflags[zid] & B.ZONE_BOOSTED_WATERMARK:
            return True
    return False


@njit(cache=True)
def shrink_inactive_step(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps, lru,
                         folios, work, io, stat, sc_nr, gfp_io_fs, scr, cpu):
    """``shrink_inactive_list`` of ``PS_CHUNK`` pages of ``lru``, from the step ``PS_STEP``
    it is at: the ``too_many_isolated`` wait, isolation, ``shrink_folio_list`` (the swap
    slots reserved and the rmap table gathered once per pass), the batched TLB flush, the
    write to zram, the folios written freed, putback and the cost. Returns PASS_DONE once the
    step is done, or what it stops for (``PS_STEP`` says where it goes on). The list is
    shrunk in ``work``; ``folios``, copied there, takes the large shmem folios to split (none
    here: a batch with large folios is Python's)."""
    nid, flags, file = ps[PS_NID], ps[PS_FLAGS], lru >= LRU_INACTIVE_FILE
    folios = folios[:ps[PS_CHUNK]]  # as long as the scan asked for, as the kernel's list is
    step = ps[PS_STEP]
    if step == STEP_DONE:
        return PASS_DONE
    if step == STEP_ISOLATE:
        if too_many_isolated(a, ps, file, gfp_io_fs):  # wait once for the other reclaimers
            if ps[PS_ISOLATED_WAITED]:
                ps[PS_ISOLATED_WAITED] = 0
                return PASS_DONE
            return PASS_ISOLATED
        ps[PS_ISOLATED_WAITED] = 0
        if xa.params[X.XP_NFREE_NODES] < X.XA_RESERVE:
            return PASS_XA
        stat[:] = 0
        n = isolate_inactive_batch(a, ps[PS_MEMCG], nid, lru, ps[PS_CHUNK], ps[PS_RECLAIM_IDX], ps[PS_RECLAIMER],
                                   folios, stat, cpu)
        ps[PS_N] = n
        needs = swap_out_needs(a, folios, n)
        if needs[NEED_LARGE] or needs[NEED_SPLIT_ROOM] or not flags & PF_MAY_IO:
            ps[PS_STEP] = STEP_TAIL
            return PASS_BATCH
        entries = swap_alloc_entries(a, vs, needs[NEED_SLOTS]) if needs[NEED_SLOTS] else work[:0]
        work[:n] = folios[:n]
        keep = shrink_folio_work(
            a, vs, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, entries, work[:0],
            vs.vp[VP_NR_SWAP_PAGES] * 2 < ps[PS_TOTAL_SWAP], nid, work, n, ps[PS_RECLAIMER] == RECLAIMER_KSWAPD,
            (flags & PF_PGDAT_WRITEBACK) != 0, (flags & PF_MAY_UNMAP) != 0, (flags & PF_MAY_WRITEPAGE) != 0, True,
            (flags & PF_MAY_FS) != 0, io, folios, scr.flush_mm, scr.swp, scr.rmap, stat, cpu)
        try_to_unmap_flush_pass(tlb, ps, mmcs, scr.flush_mm)
        nr_io = scr.swp[SWP_NR_IO]
        written = io[:nr_io]
        ps[PS_KEEP], ps[PS_NR_IO] = keep, nr_io
        ps[PS_STEP] = STEP_FINISH
        if nr_io:
            if flags & PF_WB_THROTTLED or swap_write_zram(a, vs, written) < 0:
                return PASS_WRITE
            if zone_boosted(a):
                return PASS_BOOSTED
        step = STEP_FINISH
    if step == STEP_FINISH:
        ps[PS_KEEP] = finish_folio_batch(a, vs, xa, ino_xa, nid, io[:ps[PS_NR_IO]], folios, work[:ps[PS_N]],
                                         ps[PS_KEEP], stat, cpu)
    keep = ps[PS_KEEP]
    putback_inactive_batch(a, ps[PS_MEMCG], nid, lru, ps[PS_RECLAIMER], folios, keep, stat, cpu)
    ps[PS_NR_SCANNED] += stat[ST_SCANNED]
    sc_nr += stat
    lru_note_cost(a, live, ps[PS_MEMCG], nid, file, stat[ST_PAGEOUT], stat[ST_SCANNED] - stat[ST_RECLAIMED])
    ps[PS_RECLAIMED] += stat[ST_RECLAIMED]
    ps[PS_STEP] = STEP_DONE
    file_taken = stat[ST_TAKEN] if file else 0
    if file_taken and stat[ST_UNQUEUED_DIRTY] == file_taken:
        return PASS_FLUSHER
    return PASS_DONE


@njit(cache=True)
def shrink_list(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps, lru, folios,
                work, io, stat, sc_nr, gfp_io_fs, scr, cpu):
    """``shrink_list`` of ``PS_CHUNK`` pages of ``lru``: an active list only when
    ``may_deactivate`` allows (else PF_SKIPPED_DEACTIVATE)."""
    if lru == LRU_ACTIVE_ANON or lru == LRU_ACTIVE_FILE:
        if ps[PS_MAY_DEACTIVATE] & (DEACTIVATE_FILE if lru == LRU_ACTIVE_FILE else DEACTIVATE_ANON):
            shrink_active_step(a, vs, tlb, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps, lru,
                               ps[PS_CHUNK], work, scr, cpu)
        else:
            ps[PS_FLAGS] |= PF_SKIPPED_DEACTIVATE
        return PASS_DONE
    return shrink_inactive_step(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live,
                                ps, lru, folios, work, io, stat, sc_nr, gfp_io_fs, scr, cpu)


@njit(cache=True)
def proportional_cut(ps):
    """Enough was reclaimed: the type with less left stops, the other's remaining scan is cut
    to the share of its target the first did not complete. False when one type is done."""
    nr, targets = ps[PS_NR:PS_NR + 4], ps[PS_TARGETS:PS_TARGETS + 4]
    nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE]
    nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON]
    if not nr_file or not nr_anon:
        return False
    if nr_file > nr_anon:
        done, other = LRU_INACTIVE_ANON, LRU_INACTIVE_FILE
        percentage = nr_anon * 100 // (targets[LRU_INACTIVE_ANON] + targets[LRU_ACTIVE_ANON] + 1)
    else:
        done, other = LRU_INACTIVE_FILE, LRU_INACTIVE_ANON
        percentage = nr_file * 100 // (targets[LRU_INACTIVE_FILE] + targets[LRU_ACTIVE_FILE] + 1)
    nr[done] = nr[done + 1] = 0
    for lru in (other, other + 1):
        scanned = targets[lru] - nr[lru]
        nr[lru] = targets[lru] * (100 - percentage) // 100
        nr[lru] -= min(nr[lru], scanned)
    return True


@entry
def shrink_lruvec_pass(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps,
                       folios, work, io, stat, sc_nr, gfp_io_fs, cpu):
    """``shrink_lruvec`` of the classic LRU, compiled, from where ``ps`` says it is: the
    lists SWAP_CLUSTER_MAX pages at a time until ``get_scan_count``'s targets are met; once
    enough was reclaimed (outside direct reclaim at DEF_PRIORITY), the other type's
    remaining scan is scaled down to the share the first type completed
    (``proportional_cut``); then the active anon list is aged if its inactive list is low. With PH_LIST, one ``shrink_list``
    alone. Returns PASS_DONE or what it stops for (Python does that and calls it again).
    The callees borrow the caller's arrays (``unowned``: no reference counting per page)."""
    ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live = (
        unowned(ino_xa), unowned(rmap_keys), unowned(rmap_off), unowned(rmap_rows), unowned(row_mm), unowned(mmcs),
        unowned(live))
    ps, folios, work, io, stat, sc_nr = unowned(ps), unowned(folios), unowned(work), unowned(io), unowned(stat), \
        unowned(sc_nr)
    scr = pass_scratch(np.zeros(mmcs.shape[0], np.int64), np.zeros(NR_SWP, np.int64), rmap_scratch(rmap_rows))
    if ps[PS_PHASE] == PH_LIST:
        status = shrink_list(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps,
                             ps[PS_LRU], folios, work, io, stat, sc_nr, gfp_io_fs, scr, cpu)
        if status == PASS_DONE:
            ps[PS_PHASE] = PH_DONE
        return status
    nr = ps[PS_NR:PS_NR + 4]
    while ps[PS_PHASE] == PH_LOOP:
        if ps[PS_LRU] == 0 and ps[PS_CHUNK] == 0 and not (nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE]
                                                          or nr[LRU_INACTIVE_FILE]):
            ps[PS_PHASE] = PH_FINAL
            break
        while ps[PS_LRU] <= LRU_ACTIVE_FILE:
            lru = ps[PS_LRU]
            if ps[PS_CHUNK] == 0 and nr[lru]:
                ps[PS_CHUNK] = min(nr[lru], SWAP_CLUSTER_MAX)
                nr[lru] -= ps[PS_CHUNK]
                ps[PS_STEP] = STEP_ISOLATE
            if ps[PS_CHUNK]:
                status = shrink_list(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs,
                                     live, ps, lru, folios, work, io, stat, sc_nr, gfp_io_fs, scr, cpu)
                if status != PASS_DONE:
                    return status
                ps[PS_CHUNK] = 0
            ps[PS_LRU] += 1
        ps[PS_LRU] = 0
        if ps[PS_RECLAIMED] < ps[PS_NR_TO_RECLAIM] or ps[PS_PROPORTIONAL]:
            continue
        if not proportional_cut(ps):
            ps[PS_PHASE] = PH_FINAL
            break
        ps[PS_PROPORTIONAL] = 1
    if ps[PS_PHASE] == PH_FINAL:
        memcg, nid = ps[PS_MEMCG], ps[PS_NID]
        if memcg_can_swap(a, vs.vp[VP_NR_SWAP_PAGES], memcg) and inactive_lru_is_low(a, live, memcg, nid,
                                                                                       LRU_INACTIVE_ANON):
            shrink_active_step(a, vs, tlb, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ps,
                               LRU_ACTIVE_ANON, SWAP_CLUSTER_MAX, work, scr, cpu)
        ps[PS_PHASE] = PH_DONE
    return PASS_DONE


# ---- one node: one compiled call (global reclaim, classic LRU, the root memcg alone) --------------

# The node's reclaim state (``ns``, int64) for ``shrink_node_pass``: scan_control's fields
# (kswapd keeps them between its steps in ``kswapd_state.ns``; another reclaimer's
# ``scan_control`` fills them per shrink_node), what Python sets before every call
# (NS_SWAPPINESS .. NS_TOTAL_SWAP), where the call is (NS_STAGE) and what it reports (NS_OUT);
# then kswapd's balance_pgdat: the zone it balances, the boost left to reclaim, the step's
# priority, pages reclaimed and cost on the clock.
(NS_NID, NS_RECLAIM_IDX, NS_RECLAIMER, NS_ORDER, NS_PRIORITY, NS_NR_TO_RECLAIM, NS_SC_FLAGS, NS_FORCE_DEACTIVATE,
 NS_NR_SCANNED, NS_NR_RECLAIMED, NS_SWAPPINESS, NS_REFAULTS_ANON, NS_REFAULTS_FILE, NS_PASS_FLAGS, NS_TOTAL_SWAP,
 NS_STAGE, NS_OUT, NS_HIGHEST_ZONEIDX, NS_NR_BOOST_RECLAIM, NS_STEP_PRIORITY, NS_STEP_RECLAIMED, NS_BUSY_NS,
 NR_NS) = range(23)
# NS_SC_FLAGS: scan_control's switches, as the pass's PS_FLAGS has them
NS_SC_SWITCHES = PF_MAY_UNMAP | PF_MAY_WRITEPAGE | PF_MAY_IO | PF_MAY_FS | PF_MAY_SWAP
# NS_PASS_FLAGS: what the pass may find in the machine, set by Python before every call
NS_MACHINE_FLAGS = PF_PGDAT_WRITEBACK | PF_WB_THROTTLED | PF_HAS_TLB
# NS_STAGE: kswapd's pgdat_balanced check before a step, shrink_node's start, in the lruvec's
# pass, done
NST_BALANCE, NST_PREPARE, NST_PASS, NST_DONE = range(4)
# NS_OUT: shrink_node_throttle's marks for Python to set (PGDAT_WRITEBACK,
# LRUVEC_NODE_CONGESTED), an active list left alone (sc->skipped_deactivate)
OUT_PGDAT_WRITEBACK, OUT_NODE_CONGESTED, OUT_SKIPPED_DEACTIVATE = 1, 2, 4
# what kswapd's step returns besides the pass's stops: balance_pgdat is over
PASS_END = PASS_FLUSHER + 1


@njit(cache=True)
def node_pass_state(a, vs, live, ns, ps):
    """``prepare_scan_control`` and ``lruvec_pass_state`` for the node's own lruvec (the
    root memcg's, unprotected), then ``get_scan_count``."""
    nid, priority, reclaimer = ns[NS_NID], ns[NS_PRIORITY], ns[NS_RECLAIMER]
    may_deactivate, cache_trim, tiny = scan_control_modes(a, live, ROOT_MEM_CGROUP_ID, nid, priority,
                                                          ns[NS_FORCE_DEACTIVATE] != 0, ns[NS_REFAULTS_ANON],
                                                          ns[NS_REFAULTS_FILE], False)
    ps[:] = 0
    ps[PS_MEMCG], ps[PS_NID], ps[PS_RECLAIM_IDX], ps[PS_RECLAIMER] = ROOT_MEM_CGROUP_ID, nid, ns[NS_RECLAIM_IDX], \
        reclaimer
    ps[PS_PRIORITY], ps[PS_NR_TO_RECLAIM], ps[PS_MAY_DEACTIVATE] = priority, ns[NS_NR_TO_RECLAIM], may_deactivate
    ps[PS_SWAPPINESS] = ns[NS_SWAPPINESS]
    ps[PS_ANON_COST], ps[PS_FILE_COST] = a.lruvec_cost[ROOT_MEM_CGROUP_ID, nid, 0], a.lruvec_cost[ROOT_MEM_CGROUP_ID, nid, 1]
    ps[PS_PHASE] = PH_LOOP
    ps[PS_FLAGS] = ((ns[NS_SC_FLAGS] & NS_SC_SWITCHES) | (PF_FILE_IS_TINY if tiny else 0)
                    | (PF_CACHE_TRIM if cache_trim else 0) | PF_UNPROTECTED)
    get_scan_count(a, vs.vp[VP_NR_SWAP_PAGES], ps)
    ps[PS_PROPORTIONAL] = reclaimer != RECLAIMER_KSWAPD and priority == DEF_PRIORITY


@entry
def shrink_node_pass(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ns, ps,
                     folios, work, io, stat, sc_nr, gfp_io_fs, cpu):
    """``shrink_node`` of global reclaim under the classic LRU with the root memcg alone,
    compiled, from the stage ``ns`` says: ``prepare_scan_control``, the root memcg's
    ``shrink_lruvec`` (``shrink_lruvec_pass``: its stops return to Python as they do from
    ``run_lruvec_pass``), the results into ``ns`` and ``shrink_node_throttle``'s marks
    (NS_OUT). The deferred split shrinker and the throttle's sleep are Python's."""
    if ns[NS_STAGE] == NST_PREPARE:
        sc_nr[:] = 0
        node_pass_state(a, vs, live, ns, ps)
        ns[NS_STAGE] = NST_PASS
    ps[PS_FLAGS] = (ps[PS_FLAGS] & ~NS_MACHINE_FLAGS) | ns[NS_PASS_FLAGS]
    ps[PS_TOTAL_SWAP] = ns[NS_TOTAL_SWAP]
    status = shrink_lruvec_pass(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live,
                                ps, folios, work, io, stat, sc_nr, gfp_io_fs, cpu)
    if status != PASS_DONE:
        return status
    ns[NS_STAGE] = NST_DONE
    ns[NS_NR_SCANNED] += ps[PS_NR_SCANNED]
    ns[NS_NR_RECLAIMED] += ps[PS_RECLAIMED]
    out = OUT_SKIPPED_DEACTIVATE if ps[PS_FLAGS] & PF_SKIPPED_DEACTIVATE else 0
    if ns[NS_RECLAIMER] == RECLAIMER_KSWAPD:
        if sc_nr[ST_WRITEBACK] and sc_nr[ST_WRITEBACK] == sc_nr[ST_TAKEN]:
            out |= OUT_PGDAT_WRITEBACK
        if sc_nr[ST_DIRTY] and sc_nr[ST_DIRTY] == sc_nr[ST_CONGESTED]:
            out |= OUT_NODE_CONGESTED
    ns[NS_OUT] = out
    return PASS_DONE


@njit(cache=True)
def kswapd_reclaim_target(a, nid, reclaim_idx):
    """``kswapd_shrink_node``'s target: the eligible zones' HIGH watermarks, boosts included
    (at least a cluster)."""
    total = np.int64(0)
    for zid in range(a.zone_node.shape[0]):
        if a.zone_node[zid] == nid and a.zone_idx[zid] <= reclaim_idx and a.managed_pages[zid]:
            total += a.wmark[zid, 2] + a.boost[zid]
    return max(np.int64(SWAP_CLUSTER_MAX), total)


@entry
def balance_pgdat_pass(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ns, ps,
                       folios, work, io, stat, sc_nr, gfp_io_fs, cpu):
    """One priority of kswapd's ``balance_pgdat``, compiled (``balance_pgdat_step``'s fast
    path): PASS_END when the node is balanced (its boost reclaimed) or the priorities are
    exhausted; else ``kswapd_shrink_node`` (``shrink_node_pass``, whose stops return to
    Python), the boost left and the priority's bookkeeping, the step's cost in NS_BUSY_NS."""
    if ns[NS_STAGE] == NST_BALANCE:
        nid = ns[NS_NID]
        balanced = node_zones_balanced(a, nid, ns[NS_ORDER], ns[NS_HIGHEST_ZONEIDX])
        if not balanced and ns[NS_NR_BOOST_RECLAIM]:  # boosting cannot balance it: reclaim for real
            ns[NS_NR_BOOST_RECLAIM] = 0
            ns[NS_PRIORITY] = DEF_PRIORITY
        if ns[NS_PRIORITY] < 1 or (balanced and not ns[NS_NR_BOOST_RECLAIM]):
            return PASS_END
        ns[NS_SC_FLAGS] &= ~(PF_MAY_WRITEPAGE | PF_MAY_SWAP)
        if not ns[NS_NR_BOOST_RECLAIM]:
            ns[NS_SC_FLAGS] |= PF_MAY_WRITEPAGE | PF_MAY_SWAP
        ns[NS_NR_SCANNED] = 0
        ns[NS_STEP_RECLAIMED] = ns[NS_NR_RECLAIMED]
        ns[NS_STEP_PRIORITY] = ns[NS_PRIORITY]
        ns[NS_NR_TO_RECLAIM] = kswapd_reclaim_target(a, nid, ns[NS_RECLAIM_IDX])
        ns[NS_STAGE] = NST_PREPARE
    status = shrink_node_pass(a, vs, tlb, xa, ino_xa, rmap_keys, rmap_off, rmap_rows, row_mm, mmcs, live, ns,
                              ps, folios, work, io, stat, sc_nr, gfp_io_fs, cpu)
    if status != PASS_DONE:
        return status
    nr_reclaimed = ns[NS_NR_RECLAIMED] - ns[NS_STEP_RECLAIMED]
    ns[NS_STEP_RECLAIMED] = nr_reclaimed
    ns[NS_NR_BOOST_RECLAIM] -= min(ns[NS_NR_BOOST_RECLAIM], nr_reclaimed)
    if ns[NS_NR_SCANNED] < ns[NS_NR_TO_RECLAIM] or not nr_reclaimed:  # raise_priority, or nothing back
        ns[NS_PRIORITY] -= 1
    ns[NS_BUSY_NS] = ns[NS_NR_SCANNED] * KSWAPD_NS_PER_SCANNED + nr_reclaimed * KSWAPD_NS_PER_RECLAIMED
    ns[NS_STAGE] = NST_BALANCE
    return PASS_DONE


# ---- one node (Python per pass; per batch where the pass stops) ---------------------------------


def _cpu(k) -> int:
    return int(k.vm_state.vp[VP_CPU]) if k.vm_state is not None else 0


def ino_xa_table(k) -> np.ndarray:
    """page->mapping >> 1 (the inode number) -> its xarray root, for the compiled batch
    (rebuilt when an address_space came or went)."""
    reg = k.rmap
    if reg.ino_xa_seq != reg.seq:
        reg.ino_xa = np.full(max(reg.address_spaces, default=0) + 1, -1, np.int64)
        for ino, mapping in reg.address_spaces.items():
            reg.ino_xa[ino] = mapping.xa_id
        reg.ino_xa_seq = reg.seq
    return reg.ino_xa


def large_swap_entries(k, folios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A run of slots of its own order for each large folio of the batch that
    ``large_anon_folio_to_swap`` or ``shmem_writeout`` may swap whole (not in the swap cache,
    not partially mapped, not pinned; a shmem one not crossing EOF): ``folio_alloc_swap`` of
    its order, in list order, taken before the compiled pass as the order-0 slots are.
    Returns (the first entry of each folio's run, -1 where it got none; the orders)."""
    a = k.mem_map
    orders = np.where(a.flags[folios] & PG_head_mask, a.order[folios], 0).astype(np.int64)
    entries = np.full(folios.shape[0], -1, np.int64)
    for i in np.flatnonzero(orders):
        pfn = int(folios[i])
        if (anon_swap_candidate(a, pfn) > 1 and a.pincount[pfn] == 0
                and not (folio_on_deferred_list(a, pfn) and folio_test_partially_mapped(a, pfn))
                and (a.mapping[pfn] & PAGE_MAPPING_ANON or not shmem_folio_crosses_eof(k, pfn))):
            entries[i] = folio_alloc_swap(a, k.vm_state, int(orders[i]))
    return entries, orders


def prepare_swap_out(k, folios: np.ndarray, needs: np.ndarray) -> swap_out_batch:
    """Reserve the batch's swap entries (a run for each large anonymous folio that can go
    whole, order-0 slots for the rest and for the pages of the large ones that got none)
    and gather the rmap table and the mm counters, when a folio is mapped or in the swap
    cache (the walks of ``folio_referenced`` and ``try_to_unmap`` need them) or slots are
    needed."""
    if not needs[NEED_SLOTS] and not needs[NEED_RMAP]:
        return swap_out_batch.none()
    slots = int(needs[NEED_SLOTS])
    large, orders = EMPTY_I64, EMPTY_I64
    if needs[NEED_LARGE]:
        large, orders = large_swap_entries(k, folios)
        slots -= int((np.int64(1) << orders[large >= 0]).sum())
    return rmap_batch(k, swap_alloc_entries(k.mem_map, k.vm_state, slots) if slots else EMPTY_I64, large, orders)


def release_large_runs(k, batch: swap_out_batch) -> None:
    """The runs reserved for large folios that none took go back."""
    if batch.large_entries.size:
        swap_release_entries(k.vm_state, batch.large_entries, batch.large_orders)


def swap_writepage_batch(k, io: np.ndarray, may_sleep: bool) -> None:
    """``swap_writepage`` of the folios the pass handed to pageout (``io``, in slot order),
    area by area (the block plug's merged bios). A reclaimer that may sleep (a task; kswapd's time
    is modelled apart) whose writes found a disk's tags all taken sleeps in ``blk_mq_get_tag``
    until its last request got one, the clock running: reclaim queues swap writes no faster
    than the disk takes them."""
    entries = k.mem_map.private[io]
    types = entries >> SWP_TYPE_SHIFT
    ends = [io.shape[0]]  # one run per area (the entries are sorted: one area when the ends agree)
    if types[0] != types[-1]:
        ends = [*(np.flatnonzero(types[1:] != types[:-1]) + 1).tolist(), io.shape[0]]
    for start, end in zip([0, *ends[:-1]], ends):
        si = k.swap.swap_info[int(types[start])]
        swap_writepage(k, si, io[start:end], entries[start:end] & SWP_OFFSET_MASK)
        if may_sleep and si.bdev is not None:
            io_wait_until(k, si.bdev.bd_queue.tag_wait_until())


def io_wait_until(k, until_ns: int) -> None:
    """``io_schedule`` of a reclaimer until ``until_ns``: the clock runs meanwhile, and what
    runs then is not this reclaimer (no PF_MEMALLOC)."""
    if until_ns > k.clock.now:
        saved, k.pf_memalloc = k.pf_memalloc, False
        k.clock.run_until(until_ns)
        k.pf_memalloc = saved


def shrink_folio_batch(k, nid: int, folios: np.ndarray, n: int, is_kswapd: bool, may_unmap: bool,
                       may_writepage: bool, gfp: int, stat: np.ndarray) -> int:
    """``shrink_folio_list`` of the isolated ``folios[:n]``: the compiled pass, then the swap
    writes it asked for and the frees of the folios written at once. Returns how many folios
    are kept (at the front of ``folios``)."""
    a, vs, cpu = k.mem_map, ensure_tables(k, 0), _cpu(k)  # reclaim grows no table pool
    needs = swap_out_needs(a, folios, n)
    batch = prepare_swap_out(k, folios[:n], needs) if gfp & G.__GFP_IO else swap_out_batch.none()
    ino_xa = ino_xa_table(k) if needs[NEED_CACHE] else EMPTY_I64  # only page-cache folios look it up
    work, keep, io, split, flush_mm = shrink_folio_pass(
        a, vs, k.page_cache, ino_xa, batch.rmap_keys, batch.rmap_off, batch.rmap_rows, batch.row_mm, batch.mmcs,
        batch.entries, batch.large_entries, vm_swap_full(k), nid, folios, n, needs[NEED_SPLIT_ROOM], is_kswapd,
        bool(k.NODE_DATA(nid).flags & PGDAT_WRITEBACK), may_unmap, may_writepage, bool(gfp & G.__GFP_IO),
        bool(gfp & G.__GFP_FS), stat, cpu)
    try_to_unmap_flush(k, batch, flush_mm)
    release_large_runs(k, batch)
    if io.shape[0]:
        swap_writepage_batch(k, io, not is_kswapd)
    keep = finish_folio_batch(a, vs, k.page_cache, ino_xa, nid, io, folios, work, keep, stat, cpu)
    if split.shape[0]:
        shrink_split_shmem_folios(k, nid, split, is_kswapd, may_unmap, may_writepage, gfp, stat)
    return keep


def shrink_split_shmem_folios(k, nid: int, folios: np.ndarray, is_kswapd: bool, may_unmap: bool,
                              may_writepage: bool, gfp: int, stat: np.ndarray) -> None:
    """The large shmem folios ``shmem_writeout`` splits (``shmem_writeout_split``): their
    pages make their own pass through ``shrink_folio_list`` (the kernel's list takes them),
    the ones kept going back to their lists at once; a folio that would not split is
    activated (AOP_WRITEPAGE_ACTIVATE) and goes back too."""
    a, cpu = k.mem_map, _cpu(k)
    pieces, failed = shmem_writeout_split(k, folios)
    swp = np.zeros(NR_SWP, np.int64)
    for pfn in failed.tolist():
        activate_locked(a, k.vm_state, pfn, folio_nr_pages(a, pfn), swp, stat)
    move_folios_to_lru(a, nid, failed, failed.shape[0], cpu)
    if pieces.shape[0]:
        keep = shrink_folio_batch(k, nid, pieces, pieces.shape[0], is_kswapd, may_unmap, may_writepage, gfp, stat)
        move_folios_to_lru(a, nid, pieces, keep, cpu)


def folio_nids(a, pfns: np.ndarray) -> np.ndarray:
    """The node of each folio (``folio_nid``; ``page_zone`` over an array)."""
    return a.zone_node[a.seg_zid[np.searchsorted(a.seg_start, pfns, side="right") - 1]]


def reclaim_pages(k, pfns) -> int:
    """Reclaim the given folios, their references ignored (``reclaim_pages`` ->
    ``reclaim_folio_list``: MADV_PAGEOUT), node by node; returns the pages freed. Anonymous
    folios need swap: without a free slot they stay."""
    with memalloc_noreclaim(k):  # reclaim_folio_list
        return reclaim_folio_list(k, pfns)


def reclaim_folio_list(k, pfns) -> int:
    a = k.mem_map
    folios = np.zeros(len(pfns), np.int64)
    n = isolate_folios(a, np.asarray(pfns, np.int64), folios)
    k.page_cache = X.xa_reserve(k.page_cache)
    reclaimed = 0
    nids = folio_nids(a, folios[:n])
    for nid in np.unique(nids):
        node = folios[:n][nids == nid].copy()
        stat = np.zeros(NR_ST, np.int64)
        keep = shrink_folio_batch(k, int(nid), node, node.size, False, True, True, G.GFP_KERNEL, stat)
        move_folios_to_lru(a, int(nid), node, keep, _cpu(k))
        reclaimed += int(stat[ST_RECLAIMED])
    return reclaimed


def can_reclaim_anon_pages(k, memcg) -> bool:
    """Anon folios can only go to swap: there must be a free slot the memcg may use
    (``mem_cgroup_get_nr_swap_pages``: the free slots, limited by every ``memory.swap.max``
    up the tree; ``get_nr_swap_pages`` for the root)."""
    return mem_cgroup_get_nr_swap_pages(k, memcg) > 0


def lruvec_page_state(k, lruvec, item: int) -> int:
    """``lruvec_page_state``, hierarchical: for the root memcg's lruvec the node's counter
    (its subtree is every page of the node); for a memcg's, its subtree's pages: the LRU
    sizes on the node from ``lru_zone_size``, other counters from ``memcg_stat`` (kept per
    memcg, not per node)."""
    a = k.mem_map
    if lruvec.memcg == ROOT_MEM_CGROUP_ID:
        return int(a.node_stat[lruvec.nid, item])
    ids = [m.id for m in mem_cgroup_iter(k, lruvec_memcg(k, lruvec))]
    if NR_LRU_BASE <= item < NR_LRU_BASE + NR_LRU_LISTS:
        return int(a.lru_zone_size[ids][:, a.zone_node == lruvec.nid, item - NR_LRU_BASE].sum())
    return int(a.memcg_stat[ids, item].sum())


def wakeup_flusher_threads(k) -> None:
    """Ask the writeback flusher to write dirty pages (WB_REASON_VMSCAN)."""
    k.kthreads["writeback"].wake_up()


def prepare_scan_control(k, pgdat, sc: scan_control) -> None:
    """``prepare_scan_control``: from the target memcg's lruvec on the node (the node's own
    for global reclaim): which active lists may be shrunk, the costs, the cache-trim mode;
    for global reclaim the tiny-file mode (``scan_control_modes``, compiled)."""
    lv = mem_cgroup_lruvec(sc.target_mem_cgroup, pgdat)
    sc.anon_cost, sc.file_cost = k.mem_map.lruvec_cost[lv.memcg, lv.nid].tolist()
    sc.may_deactivate, cache_trim, tiny = scan_control_modes(k.mem_map, mem_cgroup_ids(k), lv.memcg, lv.nid,
                                                             sc.priority, sc.force_deactivate, lv.refaults[0],
                                                             lv.refaults[1], sc.target_mem_cgroup is not None)
    sc.cache_trim_mode, sc.file_is_tiny = bool(cache_trim), bool(tiny)


def shrink_lruvec(k, lruvec, sc: scan_control) -> None:
    """Scan the lruvec's lists at this priority: one compiled pass (``shrink_lruvec_pass``:
    ``get_scan_count``, the nr[] loop, the final aging of the active anon list). Under
    MGLRU, a memcg's own reclaim comes here: ``lru_gen_shrink_lruvec``."""
    if lru_gen_enabled(k) and not root_reclaim(sc):
        k.lru_gen.shrink_lruvec(k, lruvec, sc)
        return
    ps = lruvec_pass_state(k, lruvec, sc, PH_LOOP)
    get_scan_count(k.mem_map, k.nr_swap_pages, ps)
    ps[PS_PROPORTIONAL] = sc.reclaimer != RECLAIMER_KSWAPD and sc.priority == DEF_PRIORITY
    if k.vm_state is None and not ps[PS_NR:PS_NR + 4].any():
        return  # nothing to scan, no swap: the loop would not run (nor build the page tables' state)
    run_lruvec_pass(k, lruvec, sc, ps, SWAP_CLUSTER_MAX)
    sc.nr_reclaimed += int(ps[PS_RECLAIMED])


def shrink_inactive_list(k, lruvec, nr_to_scan: int, lru: int, sc: scan_control) -> int:
    """``shrink_inactive_list`` of ``nr_to_scan`` pages alone (the pass's PH_LIST). Returns
    the pages reclaimed."""
    ps = lruvec_pass_state(k, lruvec, sc, PH_LIST)
    ps[PS_LRU], ps[PS_CHUNK], ps[PS_STEP] = lru, nr_to_scan, STEP_ISOLATE
    run_lruvec_pass(k, lruvec, sc, ps, nr_to_scan)
    return int(ps[PS_RECLAIMED])


def shrink_active_list(k, lruvec, nr_to_scan: int, lru: int, sc: scan_control) -> None:
    """``shrink_active_list`` of ``nr_to_scan`` pages alone (the pass's PH_LIST)."""
    ps = lruvec_pass_state(k, lruvec, sc, PH_LIST)
    ps[PS_LRU], ps[PS_CHUNK], ps[PS_MAY_DEACTIVATE] = lru, nr_to_scan, DEACTIVATE_ANON | DEACTIVATE_FILE
    run_lruvec_pass(k, lruvec, sc, ps, SWAP_CLUSTER_MAX)


def sc_switches(sc: scan_control) -> int:
    """scan_control's switches as the pass's flags (NS_SC_SWITCHES): may_unmap, may_writepage,
    the caller's __GFP_IO and __GFP_FS, may_swap."""
    return ((PF_MAY_UNMAP if sc.may_unmap else 0) | (PF_MAY_WRITEPAGE if sc.may_writepage else 0)
            | (PF_MAY_IO if sc.gfp_mask & G.__GFP_IO else 0) | (PF_MAY_FS if sc.gfp_mask & G.__GFP_FS else 0)
            | (PF_MAY_SWAP if sc.may_swap else 0))


def lruvec_pass_state(k, lruvec, sc: scan_control, phase: int) -> np.ndarray:
    """The compiled pass's state (``ps``) for reclaiming ``lruvec`` with ``sc``."""
    ps = np.zeros(NR_PS, np.int64)
    ps[PS_MEMCG], ps[PS_NID], ps[PS_RECLAIM_IDX], ps[PS_RECLAIMER] = lruvec.memcg, lruvec.nid, sc.reclaim_idx, \
        sc.reclaimer
    ps[PS_PRIORITY], ps[PS_NR_TO_RECLAIM], ps[PS_MAY_DEACTIVATE] = sc.priority, sc.nr_to_reclaim, sc.may_deactivate
    ps[PS_SWAPPINESS], ps[PS_ANON_COST], ps[PS_FILE_COST] = k.vm.vm_swappiness, sc.anon_cost, sc.file_cost
    ps[PS_PHASE] = phase
    ps[PS_FLAGS] = (sc_switches(sc) | (PF_FILE_IS_TINY if sc.file_is_tiny else 0)
                    | (PF_CACHE_TRIM if sc.cache_trim_mode else 0) | (PF_LOW_RECLAIM if sc.memcg_low_reclaim else 0)
                    | (PF_UNPROTECTED if mem_cgroup_unprotected(sc.target_mem_cgroup, lruvec_memcg(k, lruvec))
                       else 0))
    return ps


def tlb_placeholder(geometry) -> TlbState:
    """A TlbState for the pass's argument on a machine whose TLBs are not modelled (the pass
    then flushes none)."""
    if geometry not in _tlb_placeholders:
        _tlb_placeholders[geometry] = TlbState.build(geometry)
    return _tlb_placeholders[geometry]


_tlb_placeholders: dict = {}


def run_lruvec_pass(k, lruvec, sc: scan_control, ps: np.ndarray, batch_size: int) -> None:
    """Run the compiled pass to its end, doing in Python what it stops for
    (``lruvec_pass_stop``). The rmap table is brought up to date at every (re)start (Python's
    work may change it). Then the pass's results go to ``sc``."""
    a, cpu, nid = k.mem_map, _cpu(k), lruvec.nid
    folios, work, io = np.zeros(batch_size, np.int64), np.zeros(batch_size, np.int64), np.zeros(batch_size, np.int64)
    stat = np.zeros(NR_ST, np.int64)
    gfp_io_fs = sc.gfp_mask & (G.__GFP_IO | G.__GFP_FS) == G.__GFP_IO | G.__GFP_FS
    tlb, machine_flags = pass_tlb(k)
    ps[PS_FLAGS] |= machine_flags & PF_HAS_TLB
    pgdat = k.NODE_DATA(nid)
    while True:
        vs = ensure_tables(k, 0)  # reclaim grows no table pool
        batch = rmap_batch(k, EMPTY_I64)
        ps[PS_FLAGS] &= ~(PF_PGDAT_WRITEBACK | PF_WB_THROTTLED)
        ps[PS_FLAGS] |= pass_machine_flags(k, pgdat) & (PF_PGDAT_WRITEBACK | PF_WB_THROTTLED)
        ps[PS_TOTAL_SWAP] = k.total_swap_pages
        status = shrink_lruvec_pass(a, vs, tlb, k.page_cache, ino_xa_table(k), batch.rmap_keys, batch.rmap_off,
                                    batch.rmap_rows, batch.row_mm, batch.mmcs, mem_cgroup_ids(k), ps, folios,
                                    work, io, stat, sc.nr, gfp_io_fs, cpu)
        if status == PASS_DONE:
            break
        lruvec_pass_stop(k, pgdat, status, ps, folios, io, stat, sc.reclaimer == RECLAIMER_KSWAPD, sc.may_unmap,
                         sc.may_writepage, sc.gfp_mask)
    sc.nr_scanned += int(ps[PS_NR_SCANNED])
    if ps[PS_FLAGS] & PF_LOW_SKIPPED:
        sc.memcg_low_skipped = True
    if ps[PS_FLAGS] & PF_SKIPPED_DEACTIVATE:
        sc.skipped_deactivate = True


def pass_tlb(k) -> tuple[TlbState, int]:
    """The pass's TLB argument, and PF_HAS_TLB when the machine models its TLBs."""
    if k.tlb is None:
        return tlb_placeholder(k.pgtable_geometry), 0
    return k.tlb, PF_HAS_TLB


def pass_machine_flags(k, pgdat) -> int:
    """What the pass may find on the machine, read before every (re)start: the node marked
    PGDAT_WRITEBACK, reclaimers waiting for writeback on some node."""
    flags = PF_PGDAT_WRITEBACK if pgdat.flags & PGDAT_WRITEBACK else 0
    for node in k.pgdat.values():
        if node.nr_writeback_throttled:
            return flags | PF_WB_THROTTLED
    return flags


def lruvec_pass_stop(k, pgdat, status: int, ps: np.ndarray, folios: np.ndarray, io: np.ndarray, stat: np.ndarray,
                     is_kswapd: bool, may_unmap: bool, may_writepage: bool, gfp_mask: int) -> None:
    """What the pass stopped for, done in Python: the throttle of ``too_many_isolated``
    (once: the pass then gives the list up), the page cache's xarray grown, a batch through
    ``shrink_folio_batch`` (then put back by the pass), the swap writes it could not do
    (``swap_writepage_batch``), kswapd woken for zones zram's allocations boosted, the
    flusher woken."""
    if status == PASS_ISOLATED:
        reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_ISOLATED)
        ps[PS_ISOLATED_WAITED] = 1
    elif status == PASS_XA:
        k.page_cache = X.xa_reserve(k.page_cache)
    elif status == PASS_BATCH:
        chunk = folios[:ps[PS_CHUNK]]
        ps[PS_KEEP] = shrink_folio_batch(k, pgdat.node_id, chunk, int(ps[PS_N]), is_kswapd, may_unmap, may_writepage,
                                         gfp_mask, stat)
    elif status == PASS_WRITE:
        swap_writepage_batch(k, io[:ps[PS_NR_IO]].copy(), not is_kswapd)  # its completions keep the array
    elif status == PASS_BOOSTED:
        wake_boosted_kswapds(k)
    elif status == PASS_FLUSHER:
        wakeup_flusher_threads(k)


class node_pass_buffers:
    """A reclaimer's arrays for ``shrink_node_pass``: the node state, the lruvec pass's state
    and its batch arrays (kswapd keeps its own; direct and node reclaimers take theirs from
    ``k.reclaim_buffers`` for one pass, as reclaimers may nest through the clock)."""

    __slots__ = ("ns", "ps", "folios", "work", "io", "stat", "nr")

    def __init__(self):
        self.ns, self.ps = np.zeros(NR_NS, np.int64), np.zeros(NR_PS, np.int64)
        self.folios, self.work = np.zeros(SWAP_CLUSTER_MAX, np.int64), np.zeros(SWAP_CLUSTER_MAX, np.int64)
        self.io, self.stat = np.zeros(SWAP_CLUSTER_MAX, np.int64), np.zeros(NR_ST, np.int64)
        self.nr = np.zeros(NR_ST, np.int64)  # sc->nr (a direct reclaimer's scan_control lends its own)


def node_pass_covers(k, sc: scan_control) -> bool:
    """``shrink_node_pass`` does this shrink_node: global reclaim under the classic LRU, the
    root memcg alone (no memcg walk, no protection), the page tables' state built."""
    return (sc.target_mem_cgroup is None and len(k.memcg_idr) == 1 and k.vm_state is not None
            and not lru_gen_enabled(k))


def run_node_pass(k, pgdat, buf: node_pass_buffers, compiled) -> int:
    """Run ``compiled`` (``shrink_node_pass`` or kswapd's ``balance_pgdat_pass``) over
    ``buf`` until it is done, doing in Python what it stops for (``lruvec_pass_stop``); the
    mm counters it changes are the tasks' own (``RmapRegistry.mmcs``). Returns PASS_DONE or
    PASS_END."""
    a, ns, ps, reg = k.mem_map, buf.ns, buf.ps, k.rmap
    tlb, has_tlb = pass_tlb(k)
    flags = int(ns[NS_SC_FLAGS])
    gfp_io_fs = flags & (PF_MAY_IO | PF_MAY_FS) == PF_MAY_IO | PF_MAY_FS
    ns[NS_SWAPPINESS] = k.vm.vm_swappiness
    ns[NS_REFAULTS_ANON], ns[NS_REFAULTS_FILE] = pgdat.lruvec.refaults
    live, cpu = mem_cgroup_ids(k), _cpu(k)
    while True:
        vs = k.vm_state  # (node_pass_covers: built; only the events of Python's stops may grow it)
        if reg.owners_seq != (reg.seq, reg.tasks_seq):  # (Python's stops may change the table or the tasks)
            rmap_owners(k, rmap_table(reg))
        ns[NS_PASS_FLAGS] = has_tlb | pass_machine_flags(k, pgdat)
        ns[NS_TOTAL_SWAP] = k.total_swap_pages
        status = compiled(a, vs, tlb, k.page_cache, ino_xa_table(k), reg.keys, reg.off, reg.rows, reg.row_mm,
                          reg.mmcs, live, ns, ps, buf.folios, buf.work, buf.io, buf.stat, buf.nr, gfp_io_fs, cpu)
        if status == PASS_DONE or status == PASS_END:
            return status
        lruvec_pass_stop(k, pgdat, status, ps, buf.folios, buf.io, buf.stat, ns[NS_RECLAIMER] == RECLAIMER_KSWAPD,
                         bool(flags & PF_MAY_UNMAP), bool(ns[NS_SC_FLAGS] & PF_MAY_WRITEPAGE), gfp_of_flags(flags))


def gfp_of_flags(flags: int) -> int:
    """The gfp bits ``shrink_folio_batch`` reads (__GFP_IO, __GFP_FS) from the pass's flags."""
    return (G.__GFP_IO if flags & PF_MAY_IO else 0) | (G.__GFP_FS if flags & PF_MAY_FS else 0)


def node_pass_done(k, pgdat, ns: np.ndarray) -> None:
    """``shrink_node``'s Python after ``shrink_node_pass``: the root memcg's shrink_slab (the
    node's deferred split queue), the marks of ``shrink_node_throttle``."""
    do_shrink_slab(k, pgdat, int(ns[NS_STEP_PRIORITY]))
    out = ns[NS_OUT]
    if out & OUT_PGDAT_WRITEBACK:
        pgdat.flags |= PGDAT_WRITEBACK
    if out & OUT_NODE_CONGESTED:
        pgdat.lruvec.flags |= LRUVEC_NODE_CONGESTED


def shrink_node_compiled(k, pgdat, sc: scan_control) -> None:
    """``shrink_node`` through ``shrink_node_pass`` (``node_pass_covers``), for direct and
    node reclaim: ``sc`` in and out of the node state, then ``shrink_node``'s Python. The
    buffers come from ``k.reclaim_buffers`` and go back once the pass is over (reclaimers
    nest through the clock: each takes its own)."""
    free = k.reclaim_buffers
    buf = free.pop() if free else node_pass_buffers()
    buf.nr = sc.nr
    ns = buf.ns
    flags = sc_switches(sc)
    ns[NS_NID:NS_SWAPPINESS] = (pgdat.node_id, sc.reclaim_idx, sc.reclaimer, sc.order, sc.priority, sc.nr_to_reclaim,
                                flags, sc.force_deactivate, 0, 0)
    ns[NS_STEP_PRIORITY], ns[NS_STAGE] = sc.priority, NST_PREPARE
    run_node_pass(k, pgdat, buf, shrink_node_pass)
    nr_reclaimed = int(ns[NS_NR_RECLAIMED])
    sc.nr_scanned += int(ns[NS_NR_SCANNED])
    sc.nr_reclaimed += nr_reclaimed
    if ns[NS_OUT] & OUT_SKIPPED_DEACTIVATE:
        sc.skipped_deactivate = True
    node_pass_done(k, pgdat, ns)
    free.append(buf)
    if sc.reclaimer != RECLAIMER_KSWAPD and not sc.memcg_full_walk:  # mem_cgroup_iter_reclaim's cookie
        k.cgrp_dfl_root.memcg.iter_position[pgdat.node_id] = ROOT_MEM_CGROUP_ID if \
            sc.nr_reclaimed >= sc.nr_to_reclaim else 0
    if sc.reclaimer != RECLAIMER_KSWAPD and pgdat.lruvec.flags & (LRUVEC_CGROUP_CONGESTED | LRUVEC_NODE_CONGESTED):
        reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_CONGESTED)
    if nr_reclaimed:
        pgdat.kswapd_failures = 0


def root_reclaim(sc: scan_control) -> bool:
    """Global reclaim, or the root memcg's: not one memcg's own limit."""
    return sc.target_mem_cgroup is None or mem_cgroup_is_root(sc.target_mem_cgroup)


def shrink_node_memcgs(k, pgdat, sc: scan_control) -> None:
    """Shrink the lruvec on this node of the memcgs under the reclaim's target (every memcg
    for global reclaim), skipping those within their effective memory.min, and those within
    memory.low unless no unprotected memory was left (``memcg_low_reclaim``: then a LOW event).
    Direct reclaim walks part of the subtree, going on where the last reclaimer stopped and
    stopping once it has enough (``mem_cgroup_iter_reclaim``, 6.10+); kswapd and a retry
    after a fruitless partial pass (``memcg_full_walk``) walk all of it."""
    target = sc.target_mem_cgroup
    partial = sc.reclaimer != RECLAIMER_KSWAPD and not sc.memcg_full_walk
    walk = mem_cgroup_iter_reclaim(k, target, pgdat.node_id) if partial else mem_cgroup_iter(k, target)
    for memcg in walk:
        mem_cgroup_calculate_protection(k, target, memcg)
        if mem_cgroup_below_min(k, target, memcg):
            continue
        if mem_cgroup_below_low(k, target, memcg):
            if not sc.memcg_low_reclaim:
                sc.memcg_low_skipped = True
                continue
            memcg_memory_event(k, memcg, MEMCG_LOW)
        shrink_lruvec(k, mem_cgroup_lruvec(memcg, pgdat), sc)
        if mem_cgroup_is_root(memcg):  # shrink_slab: the node's deferred split queue
            do_shrink_slab(k, pgdat, sc.priority)
        if partial and sc.nr_reclaimed >= sc.nr_to_reclaim:
            break


def shrink_node(k, pgdat, sc: scan_control) -> None:
    """Reclaim from one node; progress clears its ``kswapd_failures``. Under MGLRU:
    ``lru_gen_shrink_node`` (``mm/lru_gen.py``). Then 6.18's throttling by what the
    pass met (``sc.nr``): ``shrink_node_throttle``."""
    if node_pass_covers(k, sc):
        shrink_node_compiled(k, pgdat, sc)
        return
    sc.nr.fill(0)
    if lru_gen_enabled(k) and root_reclaim(sc):
        k.lru_gen.shrink_node(k, pgdat, sc)
        return
    prepare_scan_control(k, pgdat, sc)
    nr_reclaimed = sc.nr_reclaimed
    shrink_node_memcgs(k, pgdat, sc)
    shrink_node_throttle(k, pgdat, sc)
    if sc.nr_reclaimed - nr_reclaimed:
        pgdat.kswapd_failures = 0


def shrink_node_throttle(k, pgdat, sc: scan_control) -> None:
    """kswapd marks the node PGDAT_WRITEBACK when every folio it isolated was under writeback
    (folios then met again with PG_reclaim count as ST_IMMEDIATE, and kswapd waits for
    writeback: ``kswapd_throttle_writeback``); when all the dirty page cache met was under
    writeback and met again (ST_CONGESTED), kswapd marks the node's lruvec
    LRUVEC_NODE_CONGESTED, cgroup reclaim its memcg's LRUVEC_CGROUP_CONGESTED; a direct
    reclaimer finding its lruvec so marked waits (VMSCAN_THROTTLE_CONGESTED)."""
    target = mem_cgroup_lruvec(sc.target_mem_cgroup, pgdat)
    kswapd = sc.reclaimer == RECLAIMER_KSWAPD
    if kswapd and sc.nr[ST_WRITEBACK] and sc.nr[ST_WRITEBACK] == sc.nr[ST_TAKEN]:
        pgdat.flags |= PGDAT_WRITEBACK
    if sc.nr[ST_DIRTY] and sc.nr[ST_DIRTY] == sc.nr[ST_CONGESTED]:
        if sc.target_mem_cgroup is not None:
            target.flags |= LRUVEC_CGROUP_CONGESTED
        if kswapd:
            target.flags |= LRUVEC_NODE_CONGESTED
    if not kswapd and target.flags & (LRUVEC_CGROUP_CONGESTED | LRUVEC_NODE_CONGESTED):
        reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_CONGESTED)


def clear_pgdat_congested(pgdat) -> None:
    """A balanced node is no longer congested nor only under writeback."""
    pgdat.lruvec.flags &= ~(LRUVEC_NODE_CONGESTED | LRUVEC_CGROUP_CONGESTED)
    pgdat.flags &= ~PGDAT_WRITEBACK


def snapshot_refaults(k, target_memcg, pgdat) -> None:
    """Remember the activations by refault at the end of a reclaim cycle in the target's
    lruvec (``may_deactivate`` compares against them)."""
    lv = mem_cgroup_lruvec(target_memcg, pgdat)
    for file in (0, 1):
        lv.refaults[file] = lruvec_page_state(k, lv, WORKINGSET_ACTIVATE_ANON + file)


# ---- direct reclaim --------------------------------------------------------------------------


def allow_direct_reclaim(k, pgdat) -> bool:
    """Free pages of the node's zones up to Normal are above half their MIN watermarks (else
    kswapd is woken to catch up). A node kswapd gave up on always allows it."""
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
        return True
    normal = k.zone_names.index("Normal")
    ok = pfmemalloc_reserve_ok(k.mem_map, pgdat.node_id, normal, k.nr_swap_pages > 0)
    if not ok and pgdat.kswapd.state == TASK_INTERRUPTIBLE:  # kswapd must be awake while we wait
        pgdat.kswapd_highest_zoneidx = min(pgdat.kswapd_highest_zoneidx, normal)
        pgdat.kswapd.wake_up()
    return ok


@entry
def pfmemalloc_reserve_ok(a, nid, normal, can_swap):
    """``allow_direct_reclaim``'s sum over the node's zones up to Normal (a zone without
    managed pages, or with free pages and nothing reclaimable, is left out): free pages
    above half the MIN watermarks (no zone counted: True)."""
    reserve = free = 0
    for zid in range(a.zone_node.shape[0]):
        if a.zone_node[zid] != nid or a.zone_idx[zid] > normal or not a.managed_pages[zid]:
            continue
        if not zone_reclaimable(a, zid, can_swap) and a.vm_stat[zid, NR_FREE_PAGES]:
            continue
        reserve += a.wmark[zid, 0]
        free += a.vm_stat[zid, NR_FREE_PAGES]
    return reserve == 0 or free > reserve // 2


def throttle_direct_reclaim(k, gfp: int, nid: int) -> None:
    """Wait (simulated time: up to a second, or until kswapd has caught up) while the first
    node of the zonelist is below half its MIN reserves (PGSCAN_DIRECT_THROTTLE)."""
    pgdat = k.NODE_DATA(nid)
    if allow_direct_reclaim(k, pgdat):
        return
    k.vm_events[PGSCAN_DIRECT_THROTTLE] += 1
    clock, deadline = k.clock, k.clock.now + NSEC_PER_SEC
    while not allow_direct_reclaim(k, pgdat):
        nxt = clock.next_expiry()
        if nxt is None or nxt > deadline:
            clock.run_until(deadline)
            return
        clock.run_until(nxt)


def zonelist_nodes(k, nid: int, reclaim_idx: int) -> list:
    """The nodes of ``nid``'s zonelist with a managed zone up to ``reclaim_idx``, each once."""
    nodes = []
    for z in k.NODE_DATA(nid).node_zonelists[0]:
        if z.idx <= reclaim_idx and z.managed_pages and k.NODE_DATA(z.node) not in nodes:
            nodes.append(k.NODE_DATA(z.node))
    return nodes


def shrink_zones(k, nid: int, sc: scan_control) -> None:
    nodes = zonelist_nodes(k, nid, sc.reclaim_idx)
    for pgdat in nodes:
        shrink_node(k, pgdat, sc)
    if nodes:
        consider_reclaim_throttle(k, nodes[0], sc)


def consider_reclaim_throttle(k, pgdat, sc: scan_control) -> None:
    """A direct reclaimer of global reclaim that got nothing back at priority 1 (what it
    isolated may be under writeback, to swap or to files) sleeps a jiffy
    (VMSCAN_THROTTLE_NOPROGRESS), so the writes can complete before the allocator retries;
    progress above 12% of the scanned pages needs no wait (it would wake the waiters:
    there are none besides the caller here)."""
    if sc.nr_reclaimed > sc.nr_scanned >> 3 or sc.reclaimer == RECLAIMER_KSWAPD or not root_reclaim(sc):
        return
    if sc.priority == 1 and not sc.nr_reclaimed:
        reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_NOPROGRESS)


def skip_throttle_noprogress(k, pgdat) -> bool:
    """No NOPROGRESS or CONGESTED wait when kswapd gave up on the node (near OOM), or when
    at most half the node's reclaimable pages are dirty or under writeback (they throttle
    as they cycle to the LRU's tail instead)."""
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
        return True
    a, reclaimable, write_pending = k.mem_map, 0, 0
    for z in pgdat.node_zones:
        if z.managed_pages:
            reclaimable += zone_reclaimable_pages(k, z)
            write_pending += int(a.vm_stat[B.zone_id(k, z), NR_ZONE_WRITE_PENDING])
    return 2 * write_pending <= reclaimable


def reclaim_throttle(k, pgdat, reason: int) -> None:
    """``reclaim_throttle`` of a direct reclaimer: sleep on the node's ``reclaim_wait[reason]``
    for the reason's timeout (``RECLAIM_THROTTLE_NS``), the clock running meanwhile; waiting
    for writeback (VMSCAN_THROTTLE_WRITEBACK: ``nr_writeback_throttled``, the first waiter
    noting NR_THROTTLED_WRITTEN) it wakes earlier, once SWAP_CLUSTER_MAX pages per waiter
    were written; NOPROGRESS and CONGESTED waits are skipped when ``skip_throttle_noprogress``.
    Whatever runs meanwhile is not this reclaimer (no PF_MEMALLOC)."""
    if reason in (VMSCAN_THROTTLE_NOPROGRESS, VMSCAN_THROTTLE_CONGESTED) and skip_throttle_noprogress(k, pgdat):
        return
    if reason == VMSCAN_THROTTLE_WRITEBACK:
        writeback_throttle_begin(k, pgdat)
    saved, k.pf_memalloc = k.pf_memalloc, False
    clock, deadline = k.clock, k.clock.now + RECLAIM_THROTTLE_NS[reason]
    while not (reason == VMSCAN_THROTTLE_WRITEBACK and writeback_throttle_done(k, pgdat)):
        nxt = clock.next_expiry()
        if nxt is None or nxt >= deadline:
            clock.run_until(deadline)
            break
        clock.run_until(nxt)
    k.pf_memalloc = saved
    if reason == VMSCAN_THROTTLE_WRITEBACK:
        pgdat.nr_writeback_throttled -= 1


def writeback_throttle_begin(k, pgdat) -> None:
    """One more reclaimer waits for writeback on the node; the first notes NR_THROTTLED_WRITTEN."""
    pgdat.nr_writeback_throttled += 1
    if pgdat.nr_writeback_throttled == 1:
        pgdat.nr_reclaim_start = int(k.mem_map.node_stat[pgdat.node_id, NR_THROTTLED_WRITTEN])


def do_try_to_free_pages(k, nid: int, sc: scan_control) -> int:
    """Reclaim at falling priority until ``nr_to_reclaim`` pages came back (for global reclaim
    ALLOCSTALL_<zone> of the highest zone allowed); with nothing back, once more walking every
    memcg (``memcg_full_walk``); then, if the active lists were protected, once more with
    ``force_deactivate``; if memcgs were within their memory.low, once more reclaiming them
    too (``memcg_low_reclaim``)."""
    if sc.target_mem_cgroup is None:
        k.vm_events[ALLOCSTALL_DMA + zone_event_type(k.zone_names[sc.reclaim_idx])] += 1
    initial = sc.priority
    while True:
        sc.priority = initial
        while sc.priority >= 0:
            sc.nr_scanned = 0
            shrink_zones(k, nid, sc)
            if sc.nr_reclaimed >= sc.nr_to_reclaim:
                break
            sc.priority -= 1
        for pgdat in zonelist_nodes(k, nid, sc.reclaim_idx):
            snapshot_refaults(k, sc.target_mem_cgroup, pgdat)
            if sc.target_mem_cgroup is not None:
                mem_cgroup_lruvec(sc.target_mem_cgroup, pgdat).flags &= ~LRUVEC_CGROUP_CONGESTED
        if sc.nr_reclaimed:
            return sc.nr_reclaimed
        if not sc.memcg_full_walk:
            sc.memcg_full_walk = True
        elif sc.skipped_deactivate:
            sc.force_deactivate, sc.skipped_deactivate = True, False
        elif sc.memcg_low_skipped:
            sc.force_deactivate, sc.memcg_low_reclaim, sc.memcg_low_skipped = False, True, False
        else:
            return 0


def try_to_free_pages(k, gfp: int, order: int, nid: int | None = None) -> int:
    """The slow path's direct reclaim: pages reclaimed (SWAP_CLUSTER_MAX asked for)."""
    nid = k.numa_node_id() if nid is None else nid
    throttle_direct_reclaim(k, gfp, nid)
    sc = scan_control(nr_to_reclaim=SWAP_CLUSTER_MAX, reclaim_idx=G.gfp_zone(gfp, k.zone_names), gfp_mask=gfp,
                      order=order, may_swap=True, reclaimer=RECLAIMER_DIRECT)
    scanned = int(k.vm_events[PGSCAN_KSWAPD + RECLAIMER_DIRECT])
    with memalloc_noreclaim(k):  # __perform_reclaim
        nr_reclaimed = do_try_to_free_pages(k, nid, sc)
    direct_reclaim_work(k, int(k.vm_events[PGSCAN_KSWAPD + RECLAIMER_DIRECT]) - scanned, nr_reclaimed)
    return nr_reclaimed


def direct_reclaim_work(k, nr_scanned: int, nr_reclaimed: int) -> None:
    """The reclaiming task's time on the clock, at kswapd's cost per page scanned and
    reclaimed (the events due meanwhile run): the stall PSI measures."""
    k.clock.run_until(k.clock.now + nr_scanned * KSWAPD_NS_PER_SCANNED + nr_reclaimed * KSWAPD_NS_PER_RECLAIMED)


class memalloc_noreclaim:
    """``memalloc_noreclaim_save``/``_restore``: the reclaimer's own allocations (zram's pages
    for what it stores) may use the reserves and do not recurse into reclaim (PF_MEMALLOC).
    A class, not a generator: kswapd enters it for every shrink_node."""

    __slots__ = ("k", "saved")

    def __init__(self, k):
        self.k = k

    def __enter__(self) -> None:
        self.saved, self.k.pf_memalloc = self.k.pf_memalloc, True

    def __exit__(self, *exc) -> None:
        self.k.pf_memalloc = self.saved


def try_to_free_mem_cgroup_pages(k, memcg, nr_pages: int, gfp: int, reclaim_options: int) -> int:
    """Reclaim for ``memcg``'s limits (``memory.max``/``memory.high`` charges, writes to them,
    ``memory.reclaim``): ``do_try_to_free_pages`` on the lruvecs of ``memcg``'s subtree, every
    zone allowed, the nodes of the current node's zonelist, at least SWAP_CLUSTER_MAX pages
    asked for. Anonymous pages only with MEMCG_RECLAIM_MAY_SWAP; proactive reclaim counts as
    PGSCAN/PGSTEAL_PROACTIVE. Returns the pages reclaimed."""
    proactive = bool(reclaim_options & MEMCG_RECLAIM_PROACTIVE)
    sc = scan_control(nr_to_reclaim=max(nr_pages, SWAP_CLUSTER_MAX), reclaim_idx=len(k.zone_names) - 1,
                      target_mem_cgroup=memcg, gfp_mask=gfp, may_swap=bool(reclaim_options & MEMCG_RECLAIM_MAY_SWAP),
                      reclaimer=RECLAIMER_PROACTIVE if proactive else RECLAIMER_DIRECT)
    scanned = int(k.vm_events[PGSCAN_KSWAPD + sc.reclaimer])
    nr_reclaimed = do_try_to_free_pages(k, k.numa_node_id(), sc)
    direct_reclaim_work(k, int(k.vm_events[PGSCAN_KSWAPD + sc.reclaimer]) - scanned, nr_reclaimed)
    return nr_reclaimed


# ---- node reclaim (vm.zone_reclaim_mode) ------------------------------------------------------

NODE_RECLAIM_PRIORITY = 4  # reclaim a sixteenth of the node's lists per pass


def node_unmapped_file_pages(pgdat) -> int:
    """File LRU pages no process maps."""
    file_lru = node_page_state(pgdat, "NR_INACTIVE_FILE") + node_page_state(pgdat, "NR_ACTIVE_FILE")
    return max(file_lru - node_page_state(pgdat, "NR_FILE_MAPPED"), 0)


def node_pagecache_reclaimable(k, pgdat) -> int:
    """The page cache node reclaim may take: all of it with RECLAIM_UNMAP, else the unmapped
    file LRU pages; dirty ones only with RECLAIM_WRITE."""
    mode = k.vm.node_reclaim_mode
    pages = node_page_state(pgdat, "NR_FILE_PAGES") if mode & RECLAIM_UNMAP else node_unmapped_file_pages(pgdat)
    delta = 0 if mode & RECLAIM_WRITE else node_page_state(pgdat, "NR_FILE_DIRTY")
    return pages - min(delta, pages)


def node_over_limits(k, pgdat) -> bool:
    """More reclaimable page cache than ``min_unmapped_pages`` or reclaimable slab than
    ``min_slab_pages`` (vm.min_unmapped_ratio / vm.min_slab_ratio of the node's zones)."""
    slab = node_page_state(pgdat, "NR_SLAB_RECLAIMABLE_B") >> PAGE_SHIFT
    return node_pagecache_reclaimable(k, pgdat) > pgdat.min_unmapped_pages or slab > pgdat.min_slab_pages


def node_reclaim(k, pgdat, gfp: int, order: int) -> int:
    """``node_reclaim``: before an allocation falls back to another zone, reclaim this node
    (NODE_RECLAIM_FULL: nothing over the limits; NODE_RECLAIM_NOSCAN: the caller may not
    block, or the node has CPUs and is not the caller's); counts zone_reclaim_success/_failed."""
    if not node_over_limits(k, pgdat):
        return NODE_RECLAIM_FULL
    if not gfp & G.__GFP_DIRECT_RECLAIM:
        return NODE_RECLAIM_NOSCAN
    if k.node_states.node_state(pgdat.node_id, node_states.N_CPU) and pgdat.node_id != k.numa_node_id():
        return NODE_RECLAIM_NOSCAN
    ret = __node_reclaim(k, pgdat, gfp, order)
    k.vm_events[PGSCAN_ZONE_RECLAIM_SUCCESS if ret else PGSCAN_ZONE_RECLAIM_FAILED] += 1
    return ret


def __node_reclaim(k, pgdat, gfp: int, order: int) -> int:
    """Shrink the node at priorities 4 .. 0 until the allocation's pages came back; unmapping
    and writing only as vm.zone_reclaim_mode allows. 1 if they did."""
    nr_pages = 1 << order
    mode = k.vm.node_reclaim_mode
    sc = scan_control(nr_to_reclaim=max(nr_pages, SWAP_CLUSTER_MAX), reclaim_idx=G.gfp_zone(gfp, k.zone_names),
                      gfp_mask=gfp, order=order, priority=NODE_RECLAIM_PRIORITY,
                      may_writepage=bool(mode & RECLAIM_WRITE), may_unmap=bool(mode & RECLAIM_UNMAP))
    if node_over_limits(k, pgdat):
        while True:
            shrink_node(k, pgdat, sc)
            if sc.nr_reclaimed >= nr_pages or sc.priority == 0:
                break
            sc.priority -= 1
    return int(sc.nr_reclaimed >= nr_pages)


# ---- kswapd ------------------------------------------------------------------------------------


@dataclass
class kswapd_state:
    """Where a node's kswapd is in its loop (the kernel keeps this on kswapd's stack): the
    scan_control of an ongoing ``balance_pgdat`` (None between runs; its priority, pages
    reclaimed and the boost still to reclaim are kept in ``buf.ns``, the state of
    ``balance_pgdat_pass``, between steps), the order and zone of the last run, and the HZ/10 nap before a full sleep
    (``nap_wakeups``: the wake-up count when it began, to tell a nap cut short); a
    ``balance_pgdat`` is a memory stall of kswapd's (PSI)."""

    sc: scan_control | None = None
    buf: node_pass_buffers = field(default_factory=node_pass_buffers)  # buf.ns: the run's scan_control state
    boosted: bool = False
    order: int = 0
    highest_zoneidx: int = 0
    napping: bool = False
    nap_wakeups: int = 0
    memstall_nested: bool = True  # psi_memstall_enter's flag for the balance_pgdat under way
    throttle_due: bool = False  # the last step met folios marked for immediate reclaim again
    throttled: bool = False  # sleeping on the node's reclaim_wait for writeback


def kswapd_init(k: Kernel) -> None:
    """``kswapd_init``: a kswapd per node with memory; waking them, direct reclaim and node
    reclaim become the allocator's ``wake_all_kswapds``/``wakeup_kswapd``, ``direct_reclaim``
    and ``node_reclaim`` steps, memcg reclaim the memory controller's
    ``try_to_free_mem_cgroup_pages``."""
    for nid in k.node_states.nodes(node_states.N_MEMORY):
        kswapd_run(k, nid)
    k.alloc_hooks.wake_all_kswapds = wake_all_kswapds
    k.alloc_hooks.direct_reclaim = try_to_free_pages
    k.memcg_hooks.try_to_free_mem_cgroup_pages = try_to_free_mem_cgroup_pages
    k.alloc_hooks.node_reclaim = node_reclaim
    k.alloc_hooks.wakeup_kswapd = wakeup_kswapd


def kswapd_run(k: Kernel, nid: int) -> None:
    """Start node ``nid``'s kswapd."""
    pgdat = k.NODE_DATA(nid)
    pgdat.kswapd_highest_zoneidx = len(k.zone_names)  # MAX_NR_ZONES: nothing asked yet
    state = kswapd_state()
    pgdat.kswapd = k.kthreads[f"kswapd{nid}"] = kthread(k.clock, f"kswapd{nid}", lambda: kswapd(k, pgdat, state), k)


def kswapd(k: Kernel, pgdat, state: kswapd_state) -> int | None:
    """One run of kswapd's loop: after a nap, sleep for good if nothing woke it and the node
    is still balanced (else KSWAPD_LOW/HIGH_WMARK_HIT_QUICKLY and balance again); take the
    request and run one priority of ``balance_pgdat`` (kswapd stays running for its cost);
    when that is done, nap HZ/10 if the node may sleep. Returns how long to sleep (None:
    until woken). A step that met folios marked for immediate reclaim again is followed by a
    wait for writeback (``kswapd_throttle_writeback``)."""
    if state.throttle_due:
        return kswapd_throttle_writeback(k, pgdat, state)
    if state.throttled:
        kswapd_throttle_end(pgdat, state)
    if state.napping:
        state.napping = False
        woken = pgdat.kswapd.nr_wakeups != state.nap_wakeups
        if not woken and prepare_kswapd_sleep(k, pgdat, state.order, state.highest_zoneidx):
            return None  # schedule(): until wakeup_kswapd
        k.vm_events[KSWAPD_LOW_WMARK_HIT_QUICKLY if woken else KSWAPD_HIGH_WMARK_HIT_QUICKLY] += 1
    if state.sc is None:
        start_balance_pgdat(k, pgdat, state)
    if balance_pgdat_step(k, pgdat, state):
        return None  # still balancing: kswapd_busy set when it runs next
    if prepare_kswapd_sleep(k, pgdat, state.order, state.highest_zoneidx):
        wakeup_kcompactd(k, pgdat, state.order, state.highest_zoneidx)
        state.napping, state.nap_wakeups = True, pgdat.kswapd.nr_wakeups
        return HZ_NS
    k.vm_events[KSWAPD_HIGH_WMARK_HIT_QUICKLY] += 1  # could not sleep: another round
    start_balance_pgdat(k, pgdat, state)
    balance_pgdat_step(k, pgdat, state)
    return None


def kswapd_throttle_writeback(k: Kernel, pgdat, state: kswapd_state) -> int:
    """kswapd's ``reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)``: it sleeps on the node's
    ``reclaim_wait`` for HZ/10, woken earlier once enough writeback completed
    (``acct_reclaim_writeback``; a ``wakeup_kswapd`` meanwhile wakes it too here). Returns
    the sleep."""
    state.throttle_due, state.throttled = False, True
    writeback_throttle_begin(k, pgdat)
    pgdat.reclaim_wait[VMSCAN_THROTTLE_WRITEBACK].append(pgdat.kswapd)
    return RECLAIM_THROTTLE_NS[VMSCAN_THROTTLE_WRITEBACK]


def kswapd_throttle_end(pgdat, state: kswapd_state) -> None:
    state.throttled = False
    pgdat.reclaim_wait[VMSCAN_THROTTLE_WRITEBACK].remove(pgdat.kswapd)
    pgdat.nr_writeback_throttled -= 1


def kswapd_take_request(k: Kernel, pgdat) -> tuple[int, int]:
    """The order and highest zone asked for since the last run, then reset
    (``kswapd_order``/``kswapd_highest_zoneidx``: MAX_NR_ZONES means none)."""
    order, highest = pgdat.kswapd_order, pgdat.kswapd_highest_zoneidx
    pgdat.kswapd_order, pgdat.kswapd_highest_zoneidx = 0, len(k.zone_names)
    return order, (len(k.zone_names) - 1 if highest == len(k.zone_names) else highest)


def start_balance_pgdat(k: Kernel, pgdat, state: kswapd_state) -> None:
    """``balance_pgdat``'s set-up: PAGEOUTRUN, the boost to reclaim, DEF_PRIORITY."""
    order, highest = kswapd_take_request(k, pgdat)
    state.memstall_nested = psi_memstall_enter(k, pgdat.kswapd)
    k.vm_events[PAGEOUTRUN] += 1
    a = k.mem_map
    nr_boost_reclaim = sum(int(a.boost[B.zone_id(k, z)]) for z in pgdat.node_zones[:highest + 1] if z.managed_pages)
    state.boosted = bool(nr_boost_reclaim)
    state.order, state.highest_zoneidx = order, highest
    state.sc = scan_control(nr_to_reclaim=0, reclaim_idx=highest, order=order, reclaimer=RECLAIMER_KSWAPD,
                            gfp_mask=G.GFP_KERNEL)
    ns = state.buf.ns
    ns[:] = 0
    ns[NS_NID], ns[NS_RECLAIM_IDX], ns[NS_RECLAIMER], ns[NS_ORDER] = pgdat.node_id, highest, RECLAIMER_KSWAPD, order
    ns[NS_PRIORITY], ns[NS_HIGHEST_ZONEIDX], ns[NS_NR_BOOST_RECLAIM] = DEF_PRIORITY, highest, nr_boost_reclaim
    ns[NS_SC_FLAGS] = PF_MAY_UNMAP | PF_MAY_IO | PF_MAY_FS  # GFP_KERNEL; may_writepage/may_swap per step
    ns[NS_STAGE] = NST_BALANCE
    state.buf.nr = state.sc.nr


def balance_pgdat_step(k: Kernel, pgdat, state: kswapd_state) -> bool:
    """One priority of ``balance_pgdat``: False when the node is balanced or the priorities
    are exhausted (then the boost is cleared and kswapd may sleep). One compiled call
    (``balance_pgdat_pass``) when ``shrink_node_pass`` covers the node's reclaim."""
    if not node_pass_covers(k, state.sc):
        return balance_pgdat_step_python(k, pgdat, state)
    ns = state.buf.ns
    with memalloc_noreclaim(k):  # kswapd runs with PF_MEMALLOC
        status = run_node_pass(k, pgdat, state.buf, balance_pgdat_pass)
        if status == PASS_DONE:
            node_pass_done(k, pgdat, ns)
            if ns[NS_STEP_RECLAIMED]:
                pgdat.kswapd_failures = 0
    if status == PASS_END:
        return end_balance_pgdat(k, pgdat, state)
    state.throttle_due = bool(state.buf.nr[ST_IMMEDIATE])  # shrink_node's reclaim_throttle, after the step's work
    kswapd_busy(pgdat, int(ns[NS_BUSY_NS]))
    return True


def balance_pgdat_step_python(k: Kernel, pgdat, state: kswapd_state) -> bool:
    """``balance_pgdat_step`` through ``kswapd_shrink_node`` (MGLRU, memcgs to walk): the
    step's scan_control from ``state.buf.ns`` and its results back."""
    sc, ns = state.sc, state.buf.ns
    balanced = pgdat_balanced(k, pgdat, sc.order, state.highest_zoneidx)
    if not balanced and ns[NS_NR_BOOST_RECLAIM]:  # boosting cannot balance it: reclaim for real
        ns[NS_NR_BOOST_RECLAIM] = 0
        ns[NS_PRIORITY] = DEF_PRIORITY
    nr_boost_reclaim = int(ns[NS_NR_BOOST_RECLAIM])
    if ns[NS_PRIORITY] < 1 or (balanced and not nr_boost_reclaim):
        return end_balance_pgdat(k, pgdat, state)
    sc.priority, sc.nr_reclaimed = int(ns[NS_PRIORITY]), int(ns[NS_NR_RECLAIMED])
    kswapd_age_node(k, pgdat, sc)
    sc.may_writepage = sc.may_swap = not nr_boost_reclaim
    sc.nr_scanned = 0
    before = sc.nr_reclaimed
    kswapd_shrink_node(k, pgdat, sc)
    nr_reclaimed = sc.nr_reclaimed - before
    state.throttle_due = bool(sc.nr[ST_IMMEDIATE])  # shrink_node's reclaim_throttle, after the step's work
    ns[NS_NR_BOOST_RECLAIM] -= min(nr_boost_reclaim, nr_reclaimed)
    raise_priority = sc.nr_scanned < sc.nr_to_reclaim
    if raise_priority or not nr_reclaimed:
        sc.priority -= 1
    ns[NS_PRIORITY], ns[NS_NR_RECLAIMED] = sc.priority, sc.nr_reclaimed
    kswapd_busy(pgdat, sc.nr_scanned * KSWAPD_NS_PER_SCANNED + nr_reclaimed * KSWAPD_NS_PER_RECLAIMED)
    return True


def kswapd_age_node(k: Kernel, pgdat, sc: scan_control) -> None:
    """Background aging before each priority: MGLRU's ``lru_gen_age_node`` (min_ttl_ms)."""
    if lru_gen_enabled(k):
        k.lru_gen.age_node(k, pgdat, sc)


def kswapd_shrink_node(k: Kernel, pgdat, sc: scan_control) -> None:
    """Reclaim toward the sum of the eligible zones' HIGH watermarks (at least a cluster)."""
    sc.nr_to_reclaim = int(kswapd_reclaim_target(k.mem_map, pgdat.node_id, sc.reclaim_idx))
    with memalloc_noreclaim(k):  # kswapd runs with PF_MEMALLOC
        shrink_node(k, pgdat, sc)


def end_balance_pgdat(k: Kernel, pgdat, state: kswapd_state) -> bool:
    """A run that reclaimed nothing counts a failure; the boost is cleared (kcompactd woken
    for it); the refaults are snapshotted."""
    sc = state.sc
    if not state.buf.ns[NS_NR_RECLAIMED]:
        pgdat.kswapd_failures += 1
    if state.boosted:
        a = k.mem_map
        for z in pgdat.node_zones[:state.highest_zoneidx + 1]:
            a.boost[B.zone_id(k, z)] = 0
            z.watermark_boost = 0
        wakeup_kcompactd(k, pgdat, sc.order, state.highest_zoneidx)
    snapshot_refaults(k, None, pgdat)
    state.sc = None
    psi_memstall_leave(k, pgdat.kswapd, state.memstall_nested)
    return False


def kswapd_busy(pgdat, ns: int) -> None:
    """kswapd keeps running for ``ns`` of simulated time (the step's cost)."""
    pgdat.kswapd.keep_running(max(int(ns), 1))


def prepare_kswapd_sleep(k: Kernel, pgdat, order: int, highest_zoneidx: int) -> bool:
    """kswapd may sleep when it gave up on the node or the node is balanced (then no longer
    congested: ``clear_pgdat_congested``)."""
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
        return True
    if pgdat_balanced(k, pgdat, order, highest_zoneidx):
        clear_pgdat_congested(pgdat)
        return True
    return False


def pgdat_balanced(k: Kernel, pgdat, order: int, highest_zoneidx: int) -> bool:
    """Some managed zone up to ``highest_zoneidx`` meets its HIGH watermark (a node without
    managed zones counts as balanced): ``node_zones_balanced``, compiled (kswapd asks after
    every step)."""
    return node_zones_balanced(k.mem_map, pgdat.node_id, order, highest_zoneidx)


@entry
def node_zones_balanced(a, nid, order, highest_zoneidx):
    managed = False
    for zid in range(a.zone_node.shape[0]):
        if a.zone_node[zid] != nid or a.zone_idx[zid] > highest_zoneidx or not a.managed_pages[zid]:
            continue
        managed = True
        if B.__zone_watermark_ok(a, zid, order, a.wmark[zid, 2] + a.boost[zid], highest_zoneidx, 0,
                                 a.vm_stat[zid, NR_FREE_PAGES]):
            return True
    return not managed


def pgdat_watermark_boosted(k: Kernel, pgdat, highest_zoneidx: int) -> bool:
    a = k.mem_map
    return any(a.boost[B.zone_id(k, z)] for z in pgdat.node_zones[:highest_zoneidx + 1] if z.managed_pages)


def wakeup_kswapd(k: Kernel, z, gfp: int, order: int, highest_zoneidx: int) -> None:
    if not z.managed_pages:
        return
    pgdat = k.NODE_DATA(z.node)
    if pgdat.kswapd_highest_zoneidx == len(k.zone_names) or pgdat.kswapd_highest_zoneidx < highest_zoneidx:
        pgdat.kswapd_highest_zoneidx = highest_zoneidx
    pgdat.kswapd_order = max(pgdat.kswapd_order, order)
    if pgdat.kswapd.state != TASK_INTERRUPTIBLE:  # !waitqueue_active: kswapd is awake
        return
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES or (
            pgdat_balanced(k, pgdat, order, highest_zoneidx)
            and not pgdat_watermark_boosted(k, pgdat, highest_zoneidx)):
        if not gfp & G.__GFP_DIRECT_RECLAIM:  # compaction may still help a non-blocking caller
            wakeup_kcompactd(k, pgdat, order, highest_zoneidx)
        return
    pgdat.kswapd.wake_up()


def wake_all_kswapds(k: Kernel, order: int, gfp: int, nid: int) -> None:
    """Wake the kswapd of every node in the allocation's zonelist (each node once)."""
    highest = G.gfp_zone(gfp, k.zone_names)
    last = None
    for z in k.NODE_DATA(nid).node_zonelists[0]:
        if z.idx > highest or z.node == last:
            continue
        last = z.node
        wakeup_kswapd(k, z, gfp, order, highest)

