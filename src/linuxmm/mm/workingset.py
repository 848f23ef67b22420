"""Workingset detection (``mm/workingset.c``), Linux 6.18, classic LRU (MGLRU's tokens later).

When reclaim evicts a page-cache folio, ``workingset_eviction`` leaves a shadow entry in its
slots of the mapping's xarray: a value entry (``xa_mk_value``, bit 0 set) packing the memcg id
(0: no memcg), the node, the node lruvec's ``nonresident_age`` at eviction and the folio's
PG_workingset (``pack_shadow``). ``nonresident_age`` counts evictions and activations
(``workingset_age_nonresident``), so when the page is read again (``filemap_add_folio`` finds
the shadow) the distance ``refault - eviction`` says how many pages the inactive list lost or
promoted meanwhile: had the active list been that much smaller, the page would have stayed.
``workingset_refault`` counts WORKINGSET_REFAULT_*, and if the distance is at most the
workingset size (the active file list, plus the anon lists when there is swap to reclaim them
into) activates the new folio (WORKINGSET_ACTIVATE_*); one that was part of the workingset
before eviction gets PG_workingset back (WORKINGSET_RESTORE_*). ``workingset_test_recent``
is that test alone, for cachestat's ``recently_evicted``.

Under MGLRU (``mm/lru_gen.py``) the three entry points hand over to ``lru_gen_eviction``,
``lru_gen_test_recent`` and ``lru_gen_refault`` (the end of this module): the shadow's
eviction field is then a token, the type's min_seq at eviction and the folio's refs, and a
refault is recent while max_seq has not moved MAX_NR_GENS past it; the refaults and evictions
per tier feed MGLRU's PID controller (``lrugen_refaulted``/``lrugen_evicted``).

The eviction timestamp keeps ``BITS_PER_LONG - EVICTION_SHIFT`` bits; ``bucket_order`` (0 on
any machine below 2^36 pages with NODES_SHIFT 10) would coarsen it. Not modelled: the shadow
node shrinker (``count_shadow_nodes``/``workingset_update_node``, hence WORKINGSET_NODES and
WORKINGSET_NODERECLAIM stay 0), memcg lruvecs in the refault distance (the WORKINGSET_*
counters do go to the folio's memcg too, memory.stat's workingset_*).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from ..include.linux.mmzone import MAX_NR_GENS, MAX_NUMNODES
from ..include.linux.page_flags import (LRU_REFS_MASK, LRU_REFS_PGOFF, LRU_REFS_WIDTH, PG_active_mask,
                                        PG_workingset_mask)
from ..include.linux.vmstat import (NR_ACTIVE_ANON, NR_ACTIVE_FILE, NR_INACTIVE_ANON, NR_INACTIVE_FILE,
                                    WORKINGSET_ACTIVATE_ANON, WORKINGSET_REFAULT_ANON, WORKINGSET_RESTORE_ANON)
from ..lib import xarray as X
from . import buddy as B
from .mm_inline import folio_is_file_lru, folio_lru_refs, folio_lruvec_memcg, lru_tier_from_refs

BITS_PER_LONG = 64
BITS_PER_XA_VALUE = BITS_PER_LONG - 1
WORKINGSET_SHIFT = 1
NODES_SHIFT = MAX_NUMNODES.bit_length() - 1  # CONFIG_NODES_SHIFT
MEM_CGROUP_ID_SHIFT = 16
EVICTION_SHIFT = (BITS_PER_LONG - BITS_PER_XA_VALUE) + WORKINGSET_SHIFT + NODES_SHIFT + MEM_CGROUP_ID_SHIFT
EVICTION_MASK = (1 << (BITS_PER_LONG - EVICTION_SHIFT)) - 1
BUCKET_ORDER = 0  # fls_long(totalram - 1) <= BITS_PER_LONG - EVICTION_SHIFT on any simulated machine


@njit(cache=True)
def pack_shadow(memcgid, nid, eviction, workingset):
    """The shadow entry (``xa_mk_value`` of the packed fields)."""
    v = ((eviction & EVICTION_MASK) << MEM_CGROUP_ID_SHIFT) | memcgid
    v = (v << NODES_SHIFT) | nid
    v = (v << WORKINGSET_SHIFT) | workingset
    return (v << 1) | 1


@njit(cache=True)
def unpack_shadow(shadow):
    """(memcg id, node, eviction, workingset) of a shadow entry."""
    v = shadow >> 1
    workingset = v & ((1 << WORKINGSET_SHIFT) - 1)
    v >>= WORKINGSET_SHIFT
    nid = v & ((1 << NODES_SHIFT) - 1)
    v >>= NODES_SHIFT
    memcgid = v & ((1 << MEM_CGROUP_ID_SHIFT) - 1)
    return memcgid, nid, (v >> MEM_CGROUP_ID_SHIFT) & EVICTION_MASK, workingset


@njit(cache=True)
def workingset_age_nonresident(a, nid, nr_pages):
    a.nonresident_age[nid] += nr_pages


@njit(cache=True)
def workingset_eviction(a, nid, pfn, nr_pages):
    """The shadow entry for a folio being evicted; ages the lruvec by its pages."""
    if a.lrugen_enabled[nid]:
        return lru_gen_eviction(a, nid, pfn, nr_pages)
    eviction = a.nonresident_age[nid] >> BUCKET_ORDER
    workingset_age_nonresident(a, nid, nr_pages)
    return pack_shadow(0, nid, eviction, 1 if a.flags[pfn] & PG_workingset_mask else 0)


@njit(cache=True)
def workingset_test_recent(a, shadow, file, swap):
    """(recent, workingset): is the refault distance at most the workingset size? ``swap``:
    there is free swap, so anon pages compete for the same memory."""
    _, nid, eviction, workingset = unpack_shadow(shadow)
    if a.lrugen_enabled[nid]:
        return lru_gen_test_recent(a, shadow)
    eviction <<= BUCKET_ORDER
    refault_distance = (a.nonresident_age[nid] - eviction) & EVICTION_MASK
    ns = a.node_stat[nid]
    size = ns[NR_ACTIVE_FILE]
    if not file:
        size += ns[NR_INACTIVE_FILE]
    if swap:
        size += ns[NR_ACTIVE_ANON]
        if file:
            size += ns[NR_INACTIVE_ANON]
    return refault_distance <= size, workingset


@njit(cache=True)
def refault_stat_mod(a, nid, memcg, item, nr_pages):
    """``mod_lruvec_state`` of a WORKINGSET_* counter: the node's and the memcg's (memory.stat)."""
    a.node_stat[nid, item] += nr_pages
    a.memcg_stat[memcg, item] += nr_pages


@njit(cache=True)
def workingset_refault(a, pfn, shadow, file, swap, nr_pages):
    """A new folio at a shadow's slot: count the refault, activate it if recent. Returns
    True when the folio was part of the workingset before (``lru_note_cost_refault``'s cue)."""
    nid = unpack_shadow(shadow)[1]
    if a.lrugen_enabled[nid]:
        lru_gen_refault(a, pfn, shadow, nr_pages)
        return False
    refault_stat_mod(a, nid, a.memcg[pfn], WORKINGSET_REFAULT_ANON + file, nr_pages)
    recent, workingset = workingset_test_recent(a, shadow, file, swap)
    if not recent:
        return False
    a.flags[pfn] |= PG_active_mask
    workingset_age_nonresident(a, nid, nr_pages)
    refault_stat_mod(a, nid, a.memcg[pfn], WORKINGSET_ACTIVATE_ANON + file, nr_pages)
    if workingset:
        a.flags[pfn] |= PG_workingset_mask
        refault_stat_mod(a, nid, a.memcg[pfn], WORKINGSET_RESTORE_ANON + file, nr_pages)
        return True
    return False


# ---- MGLRU (mm/workingset.c, CONFIG_LRU_GEN) ---------------------------------------------------


@njit(cache=True)
def lru_gen_eviction(a, nid, pfn, nr_pages):
    """The shadow of a folio MGLRU evicts: its lruvec's memcg, a token of its type's min_seq
    and its refs, and PG_workingset; the eviction is counted in the folio's tier."""
    type_, refs, memcg = folio_is_file_lru(a, pfn), folio_lru_refs(a, pfn), folio_lruvec_memcg(a, pfn)
    workingset = 1 if a.flags[pfn] & PG_workingset_mask else 0
    min_seq = a.lrugen_min_seq[memcg, nid, type_]
    token = (min_seq << LRU_REFS_WIDTH) | max(refs - 1, 0)
    a.lrugen_evicted[memcg, nid, type_, lru_tier_from_refs(refs, workingset)] += nr_pages
    return pack_shadow(memcg, nid, token, workingset)


@njit(cache=True)
def lru_gen_test_recent(a, shadow):
    """(recent, workingset): the evicting lruvec's max_seq is less than MAX_NR_GENS from the
    token's seq (a shadow the classic LRU left names memcg 0: the root's)."""
    memcg, nid, token, workingset = unpack_shadow(shadow)
    max_seq = a.lrugen_max_seq[memcg or ROOT_MEM_CGROUP_ID, nid] & (EVICTION_MASK >> LRU_REFS_WIDTH)
    return abs(max_seq - (token >> LRU_REFS_WIDTH)) < MAX_NR_GENS, workingset


@njit(cache=True)
def lru_gen_refault(a, pfn, shadow, nr_pages):
    """Count the refault; a recent one is counted in its tier for the PID controller, and the
    new folio gets PG_workingset back (WORKINGSET_RESTORE_*) or its refs. The fault-time
    activation (``lru_gen_in_fault``, WORKINGSET_ACTIVATE_*) is not modelled: folios a fault
    reads into the page cache or the swap cache join as any other. Counted in the evicting
    lruvec (the kernel requires the folio's to be the same; its charge may not be known yet here)."""
    type_ = folio_is_file_lru(a, pfn)
    memcg, nid = unpack_shadow(shadow)[:2]
    memcg = memcg or ROOT_MEM_CGROUP_ID
    if nid != a.zone_node[B.page_zone(a, pfn)]:  # evicted from another node's lruvec
        return
    refault_stat_mod(a, nid, memcg, WORKINGSET_REFAULT_ANON + type_, nr_pages)
    recent, workingset = lru_gen_test_recent(a, shadow)
    if not recent:
        return
    token = unpack_shadow(shadow)[2]
    refs = (token & ((1 << LRU_REFS_WIDTH) - 1)) + 1
    a.lrugen_refaulted[memcg, nid, type_, lru_tier_from_refs(refs, workingset)] += nr_pages
    if workingset:
        a.flags[pfn] |= PG_workingset_mask
        refault_stat_mod(a, nid, memcg, WORKINGSET_RESTORE_ANON + type_, nr_pages)
    else:
        a.flags[pfn] = (a.flags[pfn] & ~LRU_REFS_MASK) | (np.uint64(refs - 1) << np.uint64(LRU_REFS_PGOFF))


def shadow_entries(k, mapping) -> np.ndarray:
    """The page indices of ``mapping`` holding shadow entries (for checks and cachestat)."""
    xa = k.page_cache
    n = int(xa.xa_nr_folio_slots[mapping.xa_id] + xa.xa_nr_values[mapping.xa_id])
    idx, ent = np.zeros(max(n, 1), np.int64), np.zeros(max(n, 1), np.int64)
    got = X.xa_gather(xa, mapping.xa_id, 0, np.iinfo(np.int64).max, idx, ent)
    return idx[:got][(ent[:got] & 1) == 1]
