"""The LRU lists and the per-CPU folio batches that feed them (``mm/swap.c``,
``include/linux/mm_inline.h``), and swap readahead sizing (``swap_setup``), Linux 6.18.

Each memory cgroup has one ``struct lruvec`` per node (``mem_cgroup_lruvec``; the root
memcg's is the node's own) with five lists (``enum lru_list``: inactive/active anon,
inactive/active file, unevictable): ``MemMap.lruvec_head[memcg, nid, lru]``/``_tail`` link
folios through ``lru_next``/``lru_prev``, the most recently added at the head, where
``lruvec_add_folio`` puts them; reclaim takes from the tail. Which lruvec follows from the
folio's memcg column (``folio_lruvec``: a folio charged to no memcg is the root's), which list
from its flags (``folio_lru_list``: PG_unevictable, PG_swapbacked, PG_active), and PG_lru says
it is on one; the memcg column must not change while PG_lru is set (``__folio_put`` takes the
folio off its list before ``mem_cgroup_uncharge``). ``update_lru_size`` keeps the node's
NR_INACTIVE_ANON... and the zone's NR_ZONE_INACTIVE_ANON... (``include/linux/vmstat.py``), the
lruvec's ``lru_zone_size`` and the memcg's counters equal to the pages listed: what
/proc/meminfo's Active/Inactive lines, /proc/zoneinfo and memory.stat show.

New folios do not go on a list at once: ``folio_add_lru`` puts them in the CPU's ``lru_add``
batch (``include/linux/pagevec.py``, with a reference of its own), which joins them to their
lists (``lru_add``) when it fills (31 folios), at once for a large folio, or when
``lru_add_drain`` empties it (before zapping pages, before reusing an anonymous page on a
write fault, and wherever the kernel drains). A new anonymous folio is neither active nor
unevictable, so it joins the inactive anon list (since 5.9; before, new anonymous pages
went to the active list: ``lru_cache_add_inactive_or_unevictable`` was
``lru_cache_add_active_or_unevictable``). With MGLRU on (``mm/lru_gen.py``) the lists are its
generations: ``lruvec_add_folio``/``lruvec_del_folio`` try ``lru_gen_add_folio``/
``lru_gen_del_folio`` first (``mm/mm_inline.py``), a folio a fault maps joins
active (the youngest generation), and ``folio_mark_accessed`` counts the access in the folio's
refs (``lru_gen_inc_refs``) instead. ``folio_mark_accessed`` promotes a
folio seen twice (PG_referenced, then ``folio_activate`` through the CPU's ``lru_activate``
batch, or PG_active at once while it still waits in ``lru_add``). The last reference to a
folio takes it off its list before it is freed (``__folio_put`` -> ``__page_cache_release``).

The unevictable list (the folio half of ``mm/mlock.c``, here because the fault path and
reclaim reach it below ``mm/mlock.py``'s syscalls): a folio mapped into a VM_LOCKED VMA gets
PG_mlocked (``mlock_new_folio`` as it faults in, ``mlock_folio`` when mlock finds it mapped or
reclaim's ``folio_referenced`` finds a VM_LOCKED mapping), counts in the zone's NR_MLOCK
(meminfo's Mlocked) and UNEVICTABLE_PGMLOCKED, and moves to LRU_UNEVICTABLE
(UNEVICTABLE_PGCULLED; meminfo's Unevictable). ``munlock_folio`` takes PG_mlocked away
(UNEVICTABLE_PGMUNLOCKED, or PGSTRANDED for a folio it could not isolate from the
unevictable list) and puts it back on an evictable list (UNEVICTABLE_PGRESCUED).

The deferred split queue (``mm/huge_memory.c``'s ``deferred_split_folio`` and
``folio_unqueue_deferred_split``, here because ``__folio_put`` takes a folio off it): a large
anonymous folio (order 2 and up) joins its node's queue when a fault maps it by PMD (for the
underused-THP scan) and when an unmap leaves it partially mapped (PG_partially_mapped, on its
second page, THP_DEFERRED_SPLIT_PAGE for a PMD-size one); ``mm/huge_memory.py``'s
``deferred_split_scan`` (the shrinker) splits the partially mapped ones. 6.18 keeps a queue per
memcg when the folio is charged; here there is one per node.

MADV_FREE (``folio_mark_lazyfree``) queues a clean anonymous folio in the CPU's lru_lazyfree
batch, whose move (``lru_lazyfree``) clears its PG_swapbacked: it joins the inactive file list
(PGLAZYFREE), where reclaim frees it without swap unless it is written again.

Simplifications: the deactivate and move_tail batches are moved at once; the mlock batch (``mlock_fbatch``) is moved at once; no ``mlock_count``: a
folio locked by two VMAs is munlocked by the first munlock, as the kernel's count may
undercount too ("reclaim will fix it": ``folio_referenced`` re-mlocks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..include.linux.huge_mm import HPAGE_PMD_ORDER
from ..include.linux.mmzone import LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, LRU_UNEVICTABLE, VMSCAN_THROTTLE_WRITEBACK
from ..include.linux.swap import SWAP_CLUSTER_MAX
from ..include.linux.page_flags import (LRU_REFS_MASK, LRU_REFS_PGOFF, PG_active_mask, PG_dirty_mask, PG_head_mask,
                                        PG_idle_mask, PG_lru_mask, PG_mlocked_mask, PG_referenced_mask,
                                        PG_partially_mapped, PG_swapbacked_mask, PG_swapcache_mask,
                                        PG_unevictable_mask, PG_workingset_mask)
from ..include.linux.pagevec import FBATCH_LRU_ACTIVATE, FBATCH_LRU_ADD, FBATCH_LRU_LAZYFREE, FOLIO_BATCH_SIZE
from ..include.linux.mm_types import VM_LOCKED, VM_SPECIAL
from ..include.linux.vmstat import (NR_MLOCK, NR_THROTTLED_WRITTEN, PGACTIVATE, PGDEACTIVATE, PGLAZYFREE, THP_DEFERRED_SPLIT_PAGE,
                                    PGROTATED, UNEVICTABLE_PGCLEARED, UNEVICTABLE_PGCULLED, UNEVICTABLE_PGMLOCKED,
                                    UNEVICTABLE_PGMUNLOCKED, UNEVICTABLE_PGRESCUED, UNEVICTABLE_PGSTRANDED)
from . import buddy as B
from .mm_inline import (LRU_ACTIVE, __update_lru_size, folio_lruvec_memcg, folio_nr_pages, lru_gen_add_folio,
                        lru_gen_del_folio, lru_gen_enabled_compiled)
from ..include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from .memcontrol import PAGE_MAPPING_ANON, count_memcg_folio_events, mem_cgroup_uncharge
from .page_alloc import totalram_pages
from .workingset import workingset_age_nonresident

if TYPE_CHECKING:
    from ..init.main import Kernel


def swap_setup(k: "Kernel") -> None:
    """``vm.page-cluster`` (log2 of the pages read around a swap fault): 3, or 2 on machines
    under 16 MiB."""
    megs = totalram_pages(k) >> (20 - k.arch.page_shift)
    k.vm.page_cluster = 2 if megs < 16 else 3


# ---- the lists (include/linux/mm_inline.h) -------------------------------------------------


@njit(cache=True, inline="always")
def lru_list_of(flags):
    """``folio_lru_list`` of a folio whose page->flags are ``flags``: unevictable, else the
    (in)active anon list for swap-backed folios, the file list for others."""
    if flags & PG_unevictable_mask:
        return LRU_UNEVICTABLE
    lru = LRU_INACTIVE_ANON if flags & PG_swapbacked_mask else LRU_INACTIVE_FILE
    return lru + LRU_ACTIVE if flags & PG_active_mask else lru


@njit(cache=True)
def folio_lru_list(a, pfn):
    """The list the folio at ``pfn`` belongs on (``folio_lru_list``)."""
    return lru_list_of(a.flags[pfn])


@njit(cache=True)
def update_lru_size(a, memcg, zid, lru, nr_pages):
    """The node's NR_<lru>, the zone's NR_ZONE_<lru> and the memcg's NR_<lru>
    (``__update_lru_size``), and the lruvec's ``lru_zone_size`` (``mem_cgroup_update_lru_size``)
    follow the pages listed."""
    __update_lru_size(a, memcg, zid, lru, nr_pages)
    a.lru_zone_size[memcg, zid, lru] += nr_pages


@njit(cache=True, inline="always")
def list_add(a, memcg, nid, lru, pfn):
    """``list_add``: the folio at the head of list ``lru`` of the lruvec of ``memcg`` on ``nid``."""
    head = a.lruvec_head[memcg, nid, lru]
    a.lru_prev[pfn], a.lru_next[pfn] = 0, head
    if head:
        a.lru_prev[head - 1] = pfn + 1
    else:
        a.lruvec_tail[memcg, nid, lru] = pfn + 1
    a.lruvec_head[memcg, nid, lru] = pfn + 1


@njit(cache=True)
def list_add_tail(a, memcg, nid, lru, pfn):
    """``list_add_tail``: the folio at the tail of list ``lru`` of the lruvec of ``memcg`` on ``nid``."""
    tail = a.lruvec_tail[memcg, nid, lru]
    a.lru_next[pfn], a.lru_prev[pfn] = 0, tail
    if tail:
        a.lru_next[tail - 1] = pfn + 1
    else:
        a.lruvec_head[memcg, nid, lru] = pfn + 1
    a.lruvec_tail[memcg, nid, lru] = pfn + 1


@njit(cache=True)
def lruvec_add_folio(a, pfn):
    """Link the folio at the head of its list (``list_add``)."""
    zid = B.page_zone(a, pfn)
    nid = a.zone_node[zid]
    if a.lrugen_enabled[nid] and lru_gen_add_folio(a, pfn, False):  # MGLRU's lists: a call off the classic path
        return
    memcg, lru = folio_lruvec_memcg(a, pfn), folio_lru_list(a, pfn)
    update_lru_size(a, memcg, zid, lru, folio_nr_pages(a, pfn))
    list_add(a, memcg, nid, lru, pfn)


@njit(cache=True)
def lruvec_add_folio_tail(a, pfn):
    """Link the folio at the tail of its list, where reclaim looks first (``list_add_tail``)."""
    zid = B.page_zone(a, pfn)
    nid = a.zone_node[zid]
    if a.lrugen_enabled[nid] and lru_gen_add_folio(a, pfn, True):  # MGLRU's lists: a call off the classic path
        return
    memcg, lru = folio_lruvec_memcg(a, pfn), folio_lru_list(a, pfn)
    update_lru_size(a, memcg, zid, lru, folio_nr_pages(a, pfn))
    list_add_tail(a, memcg, nid, lru, pfn)


@njit(cache=True)
def lruvec_del_folio(a, pfn):
    if lru_gen_del_folio(a, pfn, False):
        return
    zid, memcg = B.page_zone(a, pfn), folio_lruvec_memcg(a, pfn)
    nid, lru = a.zone_node[zid], folio_lru_list(a, pfn)
    nxt, prv = a.lru_next[pfn], a.lru_prev[pfn]
    if prv:
        a.lru_next[prv - 1] = nxt
    else:
        a.lruvec_head[memcg, nid, lru] = nxt
    if nxt:
        a.lru_prev[nxt - 1] = prv
    else:
        a.lruvec_tail[memcg, nid, lru] = prv
    a.lru_next[pfn] = a.lru_prev[pfn] = 0
    update_lru_size(a, memcg, zid, lru, -folio_nr_pages(a, pfn))


# ---- moving a batch onto the lists (mm/swap.c) -----------------------------------------------


@njit(cache=True)
def folio_evictable(a, pfn):
    """Not mlocked (an unevictable mapping, SHM_LOCK or ramfs, comes with the page cache)."""
    return not a.flags[pfn] & PG_mlocked_mask


@njit(cache=True)
def lru_add(a, pfn):
    """A new folio joins its list; an mlocked one the unevictable list (culled)."""
    lru_add_evictability(a, pfn)
    lruvec_add_folio(a, pfn)


@njit(cache=True)
def lru_add_evictability(a, pfn):
    """``lru_add``'s first half: PG_unevictable as ``folio_evictable`` says now, counted as a
    rescue (UNEVICTABLE_PGRESCUED) or a cull (UNEVICTABLE_PGCULLED) when it changes."""
    a.flags[pfn] = lru_add_flags(a.vm_events, a.flags[pfn], folio_nr_pages(a, pfn))


@njit(cache=True, inline="always")
def lru_add_flags(vm_events, flags, nr):
    """``lru_add_evictability`` of a folio of ``nr`` pages whose flags are ``flags``: returns
    its new flags (``folio_evictable``: not PG_mlocked). Inline: the batch move reads a
    folio's flags once."""
    was_unevictable = flags & PG_unevictable_mask
    flags &= ~PG_unevictable_mask
    if not flags & PG_mlocked_mask:
        if was_unevictable:
            vm_events[UNEVICTABLE_PGRESCUED] += nr
        return flags
    if not was_unevictable:
        vm_events[UNEVICTABLE_PGCULLED] += nr
    return (flags & ~PG_active_mask) | PG_unevictable_mask


@njit(cache=True)
def lru_activate(a, pfn):
    if a.flags[pfn] & (PG_active_mask | PG_unevictable_mask):
        return
    lruvec_del_folio(a, pfn)
    a.flags[pfn] |= PG_active_mask
    lruvec_add_folio(a, pfn)
    a.vm_events[PGACTIVATE] += folio_nr_pages(a, pfn)
    count_memcg_folio_events(a, pfn, PGACTIVATE, folio_nr_pages(a, pfn))


@njit(cache=True)
def lru_deactivate(a, pfn):
    """``lru_deactivate``: an active folio on its list moves to the head of its inactive
    list, losing PG_active and PG_referenced (PGDEACTIVATE)."""
    if not a.flags[pfn] & PG_lru_mask or a.flags[pfn] & PG_unevictable_mask or not a.flags[pfn] & PG_active_mask:
        return
    lruvec_del_folio(a, pfn)
    a.flags[pfn] &= ~(PG_active_mask | PG_referenced_mask)
    lruvec_add_folio(a, pfn)
    a.vm_events[PGDEACTIVATE] += folio_nr_pages(a, pfn)
    count_memcg_folio_events(a, pfn, PGDEACTIVATE, folio_nr_pages(a, pfn))


@njit(cache=True)
def lazyfree_candidate(a, pfn):
    """An anonymous, swap-backed folio not in the swap cache nor unevictable: what MADV_FREE
    may make lazily freeable."""
    flags = a.flags[pfn]
    return (a.mapping[pfn] & PAGE_MAPPING_ANON) != 0 and (flags & PG_swapbacked_mask) != 0 \
        and not flags & (PG_swapcache_mask | PG_unevictable_mask)


@njit(cache=True)
def lru_lazyfree(a, pfn):
    """``lru_lazyfree``: the folio leaves the anon lists for the inactive file list, without
    PG_active, PG_referenced and PG_swapbacked (PGLAZYFREE, in its memcg too)."""
    if not lazyfree_candidate(a, pfn):
        return
    lruvec_del_folio(a, pfn)
    a.flags[pfn] &= ~(PG_active_mask | PG_referenced_mask | PG_swapbacked_mask)
    lruvec_add_folio(a, pfn)
    a.vm_events[PGLAZYFREE] += folio_nr_pages(a, pfn)
    count_memcg_folio_events(a, pfn, PGLAZYFREE, folio_nr_pages(a, pfn))


@njit(cache=True)
def folio_batch_lru_add(a, cpu):
    """``folio_batch_move_lru`` with ``lru_add``: every folio of the CPU's lru_add batch joins
    its list. The kernel moves the batch under one lruvec lock (``folio_lruvec_relock_irqsave``)
    and its vmstat updates gather in per-CPU diffs, so no one looks at a list or its size
    between two folios of a batch: a run of folios bound for the same list of the same zone
    and memcg is linked among itself and joins the list's head at the run's end, its pages
    counted once (``update_lru_size``); the order on the list is the kernel's (each folio
    at the head, so the last added is first). A batch's folios mostly come from one memory
    segment: its zone is looked up again only for a folio outside it. The arrays are read
    once, each folio's flags once."""
    flags, order, memcg_of, vm_events = a.flags, a.order, a.memcg, a.vm_events
    lru_next, lru_prev = a.lru_next, a.lru_prev
    batch = a.fbatch[cpu, FBATCH_LRU_ADD]
    run_memcg, run_zid, run_nid, run_lru, run_nr, first, last = -1, -1, -1, -1, 0, -1, -1
    seg_lo, seg_hi, zid, nid, mglru = np.int64(0), np.int64(0), np.int64(0), np.int64(0), False
    for i in range(a.fbatch_nr[cpu, FBATCH_LRU_ADD]):
        pfn = batch[i]
        f = flags[pfn]
        f = lru_add_flags(vm_events, f, np.int64(1) << order[pfn] if f & PG_head_mask else np.int64(1))
        if not seg_lo <= pfn < seg_hi:
            seg = B.page_segment(a, pfn)
            seg_lo, seg_hi, zid = a.seg_start[seg], a.seg_end[seg], a.seg_zid[seg]
            nid = a.zone_node[zid]
            mglru = a.lrugen_enabled[nid] != 0
        if mglru and not f & PG_unevictable_mask:  # MGLRU's lists count themselves
            flags[pfn] = f
            lru_gen_add_folio(a, pfn, False)
            flags[pfn] |= PG_lru_mask
            continue
        memcg = memcg_of[pfn]
        memcg = memcg if memcg else ROOT_MEM_CGROUP_ID  # folio_lruvec_memcg
        lru = lru_list_of(f)
        if memcg != run_memcg or zid != run_zid or lru != run_lru:
            if run_nr:
                lru_add_run(a, run_memcg, run_zid, run_nid, run_lru, run_nr, first, last)
            run_memcg, run_zid, run_nid, run_lru, run_nr, first = memcg, zid, nid, lru, 0, pfn
        else:  # list_add after the run's last folio: it follows this one
            lru_next[pfn] = last + 1
            lru_prev[last] = pfn + 1
        last = pfn
        run_nr += np.int64(1) << order[pfn] if f & PG_head_mask else np.int64(1)
        flags[pfn] = f | PG_lru_mask
    if run_nr:
        lru_add_run(a, run_memcg, run_zid, run_nid, run_lru, run_nr, first, last)


@njit(cache=True)
def lru_add_run(a, memcg, zid, nid, lru, nr_pages, first, last):
    """A run of folios of one list, linked from ``last`` (the newest) down to ``first``, goes
    on its list's head (``list_add`` of each in turn), its ``nr_pages`` counted."""
    head = a.lruvec_head[memcg, nid, lru]
    a.lru_prev[last] = 0
    a.lru_next[first] = head
    if head:
        a.lru_prev[head - 1] = first + 1
    else:
        a.lruvec_tail[memcg, nid, lru] = first + 1
    a.lruvec_head[memcg, nid, lru] = last + 1
    update_lru_size(a, memcg, zid, lru, nr_pages)


@njit(cache=True)
def folio_batch_move_lru(a, cpu, kind):
    """Move every folio of the CPU's batch ``kind`` with its operation; those the batch holds
    the last reference to are freed (``folios_put``)."""
    if kind == FBATCH_LRU_ADD:
        folio_batch_lru_add(a, cpu)
    else:
        for i in range(a.fbatch_nr[cpu, kind]):
            pfn = a.fbatch[cpu, kind, i]
            if not a.flags[pfn] & PG_lru_mask:  # folio_test_clear_lru: no longer on its list
                continue
            a.flags[pfn] &= ~PG_lru_mask
            if kind == FBATCH_LRU_LAZYFREE:
                lru_lazyfree(a, pfn)
            else:
                lru_activate(a, pfn)
            a.flags[pfn] |= PG_lru_mask
    for i in range(a.fbatch_nr[cpu, kind]):
        folio_put(a, a.fbatch[cpu, kind, i], cpu)
    a.fbatch_nr[cpu, kind] = 0


@njit(cache=True, inline="always")
def folio_batch_add_and_move(a, cpu, kind, pfn):
    """Hold a reference in the CPU's batch; a full batch, or a large folio (not LRU-cached:
    ``folio_may_be_lru_cached``), moves the batch at once. Inline: every fault adds a folio."""
    a.refcount[pfn] += 1
    n = a.fbatch_nr[cpu, kind]
    a.fbatch[cpu, kind, n] = pfn
    a.fbatch_nr[cpu, kind] = n + 1
    if n + 1 == FOLIO_BATCH_SIZE or a.flags[pfn] & PG_head_mask:
        folio_batch_move_lru(a, cpu, kind)


@njit(cache=True, inline="always")
def folio_add_lru(a, cpu, pfn):
    """Queue a new folio (head pfn; any kind: anon, shmem, file) for its LRU list."""
    folio_batch_add_and_move(a, cpu, FBATCH_LRU_ADD, pfn)


@njit(cache=True)
def folio_add_lru_vma(a, cpu, pfn, vm_flags):
    """``folio_add_lru`` for a folio just mapped into a VMA: in a VM_LOCKED one (not a special
    mapping) it is mlocked and joins the unevictable list (``mlock_new_folio``). Under MGLRU
    another folio added in a fault (``lru_gen_in_fault``) is active: the youngest generation."""
    if vm_flags & (VM_LOCKED | VM_SPECIAL) == VM_LOCKED:
        mlock_new_folio(a, pfn)
    elif lru_gen_enabled_compiled(a) and not a.flags[pfn] & PG_unevictable_mask:
        a.flags[pfn] |= PG_active_mask
    folio_add_lru(a, cpu, pfn)


@njit(cache=True)
def folio_activate(a, cpu, pfn):
    if a.flags[pfn] & (PG_active_mask | PG_unevictable_mask) or not a.flags[pfn] & PG_lru_mask:
        return
    folio_batch_add_and_move(a, cpu, FBATCH_LRU_ACTIVATE, pfn)


@njit(cache=True)
def folio_mark_lazyfree(a, cpu, pfn):
    """``folio_mark_lazyfree``: queue an anonymous folio MADV_FREE found clean for the CPU's
    lru_lazyfree batch."""
    if lazyfree_candidate(a, pfn):
        folio_batch_add_and_move(a, cpu, FBATCH_LRU_LAZYFREE, pfn)


@njit(cache=True)
def __lru_cache_activate_folio(a, cpu, pfn):
    """A folio still waiting in this CPU's lru_add batch joins the active list when it moves."""
    for i in range(a.fbatch_nr[cpu, FBATCH_LRU_ADD] - 1, -1, -1):
        if a.fbatch[cpu, FBATCH_LRU_ADD, i] == pfn:
            a.flags[pfn] |= PG_active_mask
            return


@njit(cache=True)
def lru_gen_inc_refs(a, pfn):
    """MGLRU's use of a folio through a file descriptor: the first sets PG_referenced (the
    refs bits start at 0), each later one adds to the refs bits and, once they are full, sets
    PG_workingset. Its tier (``lru_tier_from_refs``) rises with them."""
    flags = a.flags[pfn]
    if not flags & PG_lru_mask or flags & PG_unevictable_mask:
        return
    if not flags & PG_referenced_mask:
        a.flags[pfn] = (flags & ~LRU_REFS_MASK) | PG_referenced_mask
    elif flags & LRU_REFS_MASK == LRU_REFS_MASK:
        a.flags[pfn] = flags | PG_workingset_mask
    else:
        a.flags[pfn] = flags + (np.uint64(1) << np.uint64(LRU_REFS_PGOFF))


@njit(cache=True)
def folio_mark_accessed(a, cpu, pfn):
    """A use of the folio (a read or write through the page cache, not a mapped access): the
    first sets PG_referenced, the second activates an inactive folio, which ages the node's
    non-resident pages (``workingset_activation``). Under MGLRU: ``lru_gen_inc_refs``."""
    if lru_gen_enabled_compiled(a):
        lru_gen_inc_refs(a, pfn)
        return
    flags = a.flags[pfn]
    if not flags & PG_referenced_mask:
        a.flags[pfn] |= PG_referenced_mask
    elif not flags & (PG_unevictable_mask | PG_active_mask):
        if flags & PG_lru_mask:
            folio_activate(a, cpu, pfn)
        else:
            __lru_cache_activate_folio(a, cpu, pfn)
        a.flags[pfn] &= ~PG_referenced_mask
        workingset_age_nonresident(a, a.zone_node[B.page_zone(a, pfn)], folio_nr_pages(a, pfn))
    a.flags[pfn] &= ~PG_idle_mask


@njit(cache=True)
def lru_add_drain_cpu(a, cpu):
    for kind in range(a.fbatch_nr.shape[1]):
        if a.fbatch_nr[cpu, kind]:
            folio_batch_move_lru(a, cpu, kind)


@njit(cache=True)
def lru_add_drain(a, cpu):
    """Empty the running CPU's batches (the mlock batch comes with mlock)."""
    lru_add_drain_cpu(a, cpu)


def lru_add_drain_all(k) -> None:
    """Every CPU's batches (``lru_add_drain_all``)."""
    a = k.mem_map
    for cpu in range(a.fbatch_nr.shape[0]):
        lru_add_drain_cpu(a, cpu)


def writeback_throttle_done(k, pgdat) -> bool:
    """More than SWAP_CLUSTER_MAX pages per reclaimer waiting for writeback on the node
    completed since the first began (``__acct_reclaim_writeback``'s wake-up test)."""
    written = int(k.mem_map.node_stat[pgdat.node_id, NR_THROTTLED_WRITTEN]) - pgdat.nr_reclaim_start
    return written > SWAP_CLUSTER_MAX * pgdat.nr_writeback_throttled


def acct_reclaim_writeback(k, pfns) -> None:
    """``acct_reclaim_writeback`` of folios whose writeback completed: while reclaimers of
    their node wait for writeback (``reclaim_throttle``), their pages count in
    NR_THROTTLED_WRITTEN, and once enough were written the waiters sleeping on the node's
    ``reclaim_wait[VMSCAN_THROTTLE_WRITEBACK]`` are woken (a direct reclaimer's wait looks
    for itself)."""
    if not any(k.NODE_DATA(nid).nr_writeback_throttled for nid in k.node_ids):
        return
    a = k.mem_map
    for pfn in pfns:
        pgdat = k.NODE_DATA(int(a.zone_node[B.page_zone(a, pfn)]))
        if not pgdat.nr_writeback_throttled:
            continue
        a.node_stat[pgdat.node_id, NR_THROTTLED_WRITTEN] += folio_nr_pages(a, pfn)
        if writeback_throttle_done(k, pgdat):
            for waiter in pgdat.reclaim_wait[VMSCAN_THROTTLE_WRITEBACK]:
                waiter.wake_up()


@njit(cache=True)
def folio_rotate_reclaimable(a, pfn):
    """A folio reclaim wanted whose writeback just completed goes to the inactive tail, to be
    reclaimed first (``folio_rotate_reclaimable`` -> ``lru_move_tail``, PGROTATED; the
    kernel's lru_move_tail batch is moved at once here)."""
    flags = a.flags[pfn]
    if flags & (PG_dirty_mask | PG_unevictable_mask) or not flags & PG_lru_mask:
        return
    lruvec_del_folio(a, pfn)
    a.flags[pfn] &= ~PG_active_mask
    lruvec_add_folio_tail(a, pfn)
    a.vm_events[PGROTATED] += folio_nr_pages(a, pfn)


# ---- the unevictable list (mm/mlock.c's folio half) -------------------------------------------


@njit(cache=True)
def folio_set_mlocked_counted(a, pfn):
    """``folio_test_set_mlocked`` with its counts: NR_MLOCK and UNEVICTABLE_PGMLOCKED the
    first time."""
    if a.flags[pfn] & PG_mlocked_mask:
        return
    nr = folio_nr_pages(a, pfn)
    a.flags[pfn] |= PG_mlocked_mask
    a.vm_stat[B.page_zone(a, pfn), NR_MLOCK] += nr
    a.vm_events[UNEVICTABLE_PGMLOCKED] += nr


@njit(cache=True)
def mlock_new_folio(a, pfn):
    """A folio faulted into a VM_LOCKED VMA, not on a list yet: mlocked; ``lru_add`` culls it
    to the unevictable list."""
    folio_set_mlocked_counted(a, pfn)


@njit(cache=True)
def mlock_folio(a, pfn):
    """``mlock_folio`` -> ``__mlock_folio``: PG_mlocked; a folio on an evictable list moves to
    the unevictable one (culled, inactive). An isolated folio (reclaim holds it) is moved when
    it is put back."""
    folio_set_mlocked_counted(a, pfn)
    flags = a.flags[pfn]
    if not flags & PG_lru_mask or flags & PG_unevictable_mask:
        return
    lruvec_del_folio(a, pfn)
    a.flags[pfn] = (flags & ~PG_active_mask) | PG_unevictable_mask
    lruvec_add_folio(a, pfn)
    a.vm_events[UNEVICTABLE_PGCULLED] += folio_nr_pages(a, pfn)


@njit(cache=True)
def munlock_folio(a, pfn):
    """``munlock_folio`` -> ``__munlock_folio``: PG_mlocked cleared (PGMUNLOCKED, or PGSTRANDED
    when it sits on the unevictable list but is isolated); a listed unevictable folio now
    evictable goes back to the inactive list (PGRESCUED)."""
    nr = folio_nr_pages(a, pfn)
    flags = a.flags[pfn]
    isolated = (flags & PG_lru_mask) != 0  # folio_test_clear_lru: we may move it
    if flags & PG_mlocked_mask:
        a.flags[pfn] &= ~PG_mlocked_mask
        a.vm_stat[B.page_zone(a, pfn), NR_MLOCK] -= nr
        if isolated or not flags & PG_unevictable_mask:
            a.vm_events[UNEVICTABLE_PGMUNLOCKED] += nr
        else:
            a.vm_events[UNEVICTABLE_PGSTRANDED] += nr
    if isolated and flags & PG_unevictable_mask and folio_evictable(a, pfn):
        lruvec_del_folio(a, pfn)
        a.flags[pfn] &= ~PG_unevictable_mask
        lruvec_add_folio(a, pfn)
        a.vm_events[UNEVICTABLE_PGRESCUED] += nr


# ---- the last reference ------------------------------------------------------------------------


@njit(cache=True)
def __page_cache_release(a, pfn):
    """Off the LRU (and out of NR_MLOCK) before the folio is freed."""
    if a.flags[pfn] & PG_lru_mask:
        lruvec_del_folio(a, pfn)
        a.flags[pfn] &= ~(PG_lru_mask | PG_active_mask | PG_unevictable_mask)
    if a.flags[pfn] & PG_mlocked_mask:
        nr = folio_nr_pages(a, pfn)
        a.flags[pfn] &= ~PG_mlocked_mask
        a.vm_stat[B.page_zone(a, pfn), NR_MLOCK] -= nr
        a.vm_events[UNEVICTABLE_PGCLEARED] += nr


# ---- the deferred split queue -------------------------------------------------------------------

PG_partially_mapped_mask = np.uint64(1 << PG_partially_mapped)  # on the folio's second page


@njit(cache=True)
def folio_test_partially_mapped(a, head):
    return a.order[head] > 1 and (a.flags[head + 1] & PG_partially_mapped_mask) != 0


@njit(cache=True)
def folio_on_deferred_list(a, head):
    """``!list_empty(&folio->_deferred_list)``: a queued folio has a link or is the queue's only one."""
    nid = a.zone_node[B.page_zone(a, head)]
    return a.deferred_prev[head] != 0 or a.split_queue_head[nid] == head + 1


@njit(cache=True)
def deferred_split_folio(a, head, partially_mapped):
    """Queue a large anonymous folio for the deferred split shrinker; ``partially_mapped``
    marks it (once: THP_DEFERRED_SPLIT_PAGE for a PMD-size folio). Order-1 folios have no room
    for the list, swap-cache folios are reclaim's already."""
    if a.order[head] <= 1 or a.flags[head] & PG_swapcache_mask:
        return
    if partially_mapped and not folio_test_partially_mapped(a, head):
        a.flags[head + 1] |= PG_partially_mapped_mask
        if a.order[head] == HPAGE_PMD_ORDER:
            a.vm_events[THP_DEFERRED_SPLIT_PAGE] += 1
    if folio_on_deferred_list(a, head):
        return
    nid = a.zone_node[B.page_zone(a, head)]
    tail = a.split_queue_tail[nid]
    a.deferred_next[head], a.deferred_prev[head] = 0, tail
    if tail:
        a.deferred_next[tail - 1] = head + 1
    else:
        a.split_queue_head[nid] = head + 1
    a.split_queue_tail[nid] = head + 1
    a.split_queue_len[nid] += 1


@njit(cache=True)
def deferred_list_del(a, head):
    """``list_del_init(&folio->_deferred_list)`` of a queued folio."""
    nid = a.zone_node[B.page_zone(a, head)]
    nxt, prv = a.deferred_next[head], a.deferred_prev[head]
    if prv:
        a.deferred_next[prv - 1] = nxt
    else:
        a.split_queue_head[nid] = nxt
    if nxt:
        a.deferred_prev[nxt - 1] = prv
    else:
        a.split_queue_tail[nid] = prv
    a.deferred_next[head] = a.deferred_prev[head] = 0
    a.split_queue_len[nid] -= 1


@njit(cache=True)
def folio_unqueue_deferred_split(a, head):
    """Off the deferred split queue, PG_partially_mapped cleared (a folio about to be split or
    freed). True if it was queued."""
    if a.order[head] <= 1 or not folio_on_deferred_list(a, head):
        return False
    a.flags[head + 1] &= ~PG_partially_mapped_mask
    deferred_list_del(a, head)
    return True


@njit(cache=True, inline="always")
def folio_put(a, pfn, cpu):
    """Drop a reference to the folio at ``pfn``; the last one frees it (``__folio_put``).
    Returns True if it was freed. Inline: most callers drop a reference that is not the last."""
    a.refcount[pfn] -= 1
    if a.refcount[pfn]:
        return False
    __folio_put(a, pfn, cpu)
    return True


@njit(cache=True)
def __folio_put(a, pfn, cpu):
    """Free the folio whose last reference went: off the deferred split queue and its LRU
    list, uncharged, back to the allocator."""
    folio_unqueue_deferred_split(a, pfn)
    __page_cache_release(a, pfn)  # off its memcg's lruvec before the charge goes
    mem_cgroup_uncharge(a, pfn)
    nr = folio_nr_pages(a, pfn)
    B.free_frozen_pages(a, pfn, a.order[pfn], cpu)
    a.mapping[pfn:pfn + nr] = 0  # free_pages_prepare: page->mapping = NULL, the tails' too
    a.index[pfn:pfn + nr] = 0
