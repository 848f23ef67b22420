"""The compiled half of the page allocator (``mm/page_alloc.c``), Linux 6.18.

Everything here is a numba function over the flat arrays of ``MemMap`` (struct-of-arrays
``mem_map``, free lists, per-cpu pagesets, zone counters), entered in batches from Python:

* buddy free lists: ``__add_to_free_list``, ``__free_one_page`` (merging, ``buddy_merge_likely``),
  ``expand``, ``__rmqueue_smallest``, the fallback modes ``__rmqueue_claim`` (take over a
  pageblock, ``try_to_claim_block``, ``boost_watermark``) and ``__rmqueue_steal``;
* per-cpu pagesets with 6.7+ auto-tuning: ``nr_pcp_alloc``, ``rmqueue_bulk``,
  ``free_frozen_page_commit``, ``nr_pcp_high``, ``nr_pcp_free``, ``free_pcppages_bulk``;
* the fast path: ``zone_watermark_fast``/``__zone_watermark_ok`` with ``lowmem_reserve``,
  ``get_page_from_freelist`` over a zonelist with ``ALLOC_NOFRAGMENT`` retries, ``rmqueue``;
* ``zone_statistics`` (numa_hit/miss/foreign/local/other) and PGALLOC/PGFREE events.

Free-list membership is kept per order, indexed by ``pfn >> order`` (``fa_*`` arrays), which
is the kernel's PageBuddy/page->private/page->buddy_list information laid out so that a
large, mostly free machine touches little memory. List links store ``pfn + 1`` (0 = none).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..include.linux.mmzone import (ANON_AND_FILE, MAX_NR_GENS, MAX_NR_TIERS, MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE,
                                    MIGRATE_MOVABLE, MIGRATE_PCPTYPES, MIGRATE_RECLAIMABLE, MIGRATE_TYPES,
                                    MIGRATE_UNMOVABLE, MIN_NR_GENS, NR_LRU_LISTS)
from ..include.linux.memcontrol import (MEMCG_NR_IDS, MEMCG_NR_MEMORY_EVENTS, MEMCG_NR_STAT, NR_PAGE_COUNTERS,
                                        NR_PC_FIELDS, PAGE_COUNTER_MAX, PC_HIGH, PC_MAX)
from ..include.linux.page_flags import PG_head_mask, PG_lru_mask
from ..include.linux.pagevec import FOLIO_BATCH_SIZE, NR_CPU_FBATCHES
from ..include.linux.vmstat import (NR_FREE_PAGES, NR_FREE_PAGES_BLOCKS, NR_VM_EVENT_ITEMS, NR_VM_NODE_STAT_ITEMS,
                                    NR_VM_NUMA_EVENT_ITEMS, NR_VM_ZONE_STAT_ITEMS,
                                    NUMA_FOREIGN, NUMA_HIT, NUMA_LOCAL, NUMA_MISS, NUMA_OTHER, PGALLOC_DMA, PGFREE,
                                    zone_event_type)
from ..errors import ConfigError
from ..jit import CompiledStruct, entry, sparse_arrays

PAGE_ALLOC_COSTLY_ORDER = 3
NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
NR_PCP_LISTS = NR_LOWORDER_PCP_LISTS + 2  # + NR_PCP_THP
PCP_BATCH_SCALE_MAX = 5  # CONFIG_PCP_BATCH_SCALE_MAX
PCPF_PREV_FREE_HIGH_ORDER, PCPF_FREE_HIGH_BATCH = 1, 2

# alloc_flags (mm/internal.h)
ALLOC_WMARK_MIN, ALLOC_WMARK_LOW, ALLOC_WMARK_HIGH = 0, 1, 2
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_NON_BLOCK = 0x10
ALLOC_MIN_RESERVE = 0x20
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_HIGHATOMIC = 0x200
ALLOC_KSWAPD = 0x800
ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM
FPI_NONE, FPI_TO_TAIL = 0, 2

# zone->flags bits
ZONE_BOOSTED_WATERMARK, ZONE_RECLAIM_ACTIVE, ZONE_BELOW_HIGH = 1, 2, 4
NODE_RECLAIM_NEVER = -1  # get_page_from_freelist's ``asked``: every zone's bit set

# scalars in MemMap.params
P_MAX_ORDER, P_PB_ORDER, P_MOBILITY_OFF, P_THP_ORDER, P_NR_ONLINE, P_DEFRAG_MODE = 0, 1, 2, 3, 4, 5
P_BOOST_FACTOR, P_ZONE_MOVABLE = 6, 7
NR_PARAMS = 8


# name, dtype, ndim of every array; the comments say which kernel field each one models
MEMMAP_FIELDS = [
    ("flags", np.uint64, 1),
    ("refcount", np.int32, 1),
    ("mapcount", np.int32, 1),
    ("order", np.int8, 1),
    ("compound_head", np.int64, 1),
    ("entire_mapcount", np.int32, 1),
    ("pincount", np.int32, 1),
    ("pcp_next", np.int32, 1),
    ("pcp_prev", np.int32, 1),
    ("lru_next", np.int32, 1),
    ("lru_prev", np.int32, 1),
    ("deferred_next", np.int64, 1),
    ("deferred_prev", np.int64, 1),
    ("split_queue_head", np.int64, 1),
    ("split_queue_tail", np.int64, 1),
    ("split_queue_len", np.int64, 1),
    ("lruvec_head", np.int64, 3),
    ("lruvec_tail", np.int64, 3),
    ("lru_zone_size", np.int64, 3),
    ("lruvec_cost", np.int64, 3),
    ("nonresident_age", np.int64, 1),
    ("lrugen_head", np.int64, 5),
    ("lrugen_tail", np.int64, 5),
    ("lrugen_nr_pages", np.int64, 5),
    ("lrugen_max_seq", np.int64, 2),
    ("lrugen_min_seq", np.int64, 3),
    ("lrugen_enabled", np.int64, 1),
    ("lrugen_avg_refaulted", np.int64, 4),
    ("lrugen_avg_total", np.int64, 4),
    ("lrugen_refaulted", np.int64, 4),
    ("lrugen_evicted", np.int64, 4),
    ("lrugen_protected", np.int64, 4),
    ("fbatch", np.int64, 3),
    ("fbatch_nr", np.int64, 2),
    ("pb_mt", np.int8, 1),
    ("seg_start", np.int64, 1),
    ("seg_end", np.int64, 1),
    ("seg_zid", np.int64, 1),
    ("zone_start", np.int64, 1),
    ("zone_end", np.int64, 1),
    ("zone_node", np.int64, 1),
    ("zone_idx", np.int64, 1),
    ("fa_off", np.int64, 1),
    ("fa_next", np.int32, 1),
    ("fa_prev", np.int32, 1),
    ("fa_tag", np.int16, 1),
    ("fa_head", np.int64, 3),
    ("fa_tail", np.int64, 3),
    ("nr_free", np.int64, 3),
    ("vm_stat", np.int64, 2),
    ("vm_numa_event", np.int64, 2),
    ("node_stat", np.int64, 2),
    ("vm_events", np.int64, 1),
    ("managed_pages", np.int64, 1),
    ("nr_free_highatomic", np.int64, 1),
    ("zone_event_type", np.int64, 1),
    ("wmark", np.int64, 2),
    ("boost", np.int64, 1),
    ("lowmem_reserve", np.int64, 2),
    ("zflags", np.int64, 1),
    ("pcp_head", np.int64, 3),
    ("pcp_tail", np.int64, 3),
    ("pcp_count", np.int64, 2),
    ("pcp_high", np.int64, 2),
    ("pcp_batch", np.int64, 2),
    ("pcp_high_min", np.int64, 2),
    ("pcp_high_max", np.int64, 2),
    ("pcp_free_count", np.int64, 2),
    ("pcp_alloc_factor", np.int64, 2),
    ("pcp_flags", np.int64, 2),
    ("params", np.int64, 1),
    ("private", np.int64, 1),
    ("mapping", np.int64, 1),
    ("index", np.int64, 1),
    ("content", np.uint8, 2),
    ("content_valid", np.uint8, 1),
    ("memcg", np.int16, 1),
    ("memcg_parent", np.int32, 1),
    ("memcg_counter", np.int64, 3),
    ("memcg_stat", np.int64, 2),
    ("memcg_events", np.int64, 2),
    ("memcg_events_local", np.int64, 2),
    ("memcg_vm_events", np.int64, 2),
    ("memcg_nr_pages_over_high", np.int64, 1),
]
CONTENT_LINES = 64  # memory contents are kept per 64-byte cache line (one byte each)


class MemMap(CompiledStruct, fields=MEMMAP_FIELDS):
    """All allocator state of one machine as arrays, usable from Python (``a.flags``) and
    passed as one pointer to compiled code.

    Per page frame, one meaning per array (``struct page``/``struct folio``):
    flags/refcount/mapcount: page->flags (``include/linux/page_flags.py``), _refcount and
    page_mapcount() (_mapcount + 1); order: folio_order() of an allocated head;
    compound_head: the head's pfn + 1 on a tail page of a compound page, else 0;
    entire_mapcount: folio->_entire_mapcount (PMD mappings) of a large folio, by head;
    pincount: folio->_pincount (FOLL_PIN pins), by head; pcp_next/pcp_prev: page->pcp_list
    (the per-cpu free lists); lru_next/lru_prev: folio->lru on a node's LRU lists (these four
    hold pfn + 1 in 32 bits: a fresh machine's first touch of each page frame faults in the
    host's pages of every array the fault path writes, and these are written for every page);
    deferred_next/deferred_prev: folio->_deferred_list (links pfn + 1, on the head) on its node's
    ``deferred_split_queue``, whose split_queue_head/_tail/_len are per node (``mm/swap.py``);
    private: page->private (for a page-table page, the pool row holding its entries).
    Per memcg id and node: lruvec_head/lruvec_tail[memcg, nid, lru]: the lists of the memcg's
    ``struct lruvec`` on the node (``mem_cgroup_lruvec``; the root memcg's are the node's own)
    by ``enum lru_list`` (links pfn + 1, the head the most recently added; ``mm/swap.py``);
    per memcg id and zone: lru_zone_size[memcg, zid, lru]: the pages on them by zone
    (``mem_cgroup_per_node->lru_zone_size``; summed over memcgs they are the zones'
    NR_ZONE_*_ANON/FILE and the nodes' NR_*_ANON/FILE). Per memcg id and node, MGLRU's
    ``struct lru_gen_folio`` (``mm/mm_inline.py``, ``mm/lru_gen.py``): lrugen_head/_tail/
    _nr_pages of its lists by [memcg, nid, gen, type, zone idx] (the same lru_next/lru_prev
    links), lrugen_max_seq, lrugen_min_seq by type, and the PID controller's avg_refaulted/
    avg_total/refaulted/evicted/protected by [memcg, nid, type, tier]. Per node: lrugen_enabled
    (switched for every memcg at once); nonresident_age: ``lruvec->nonresident_age``,
    the clock of evictions and activations that shadow entries read (``mm/workingset.py``). Per CPU: fbatch/fbatch_nr: the folio
    batches of ``struct cpu_fbatches`` (``include/linux/pagevec.py``).
    pb_mt: pageblock migratetypes; seg_*: memory segments (pfn -> zone id); zone_*: zone
    spans, nodes and zone_idx(); fa_*: free lists per order (links, tags, heads, tails; the
    links pfn + 1 in 32 bits, the tag ``1 + migratetype + 16 * zone id`` in 16: expand()
    writes them for the blocks it splits off, so a fresh machine's allocations fault them in);
    nr_free: free_area[order].nr_free per migratetype; vm_stat/vm_numa_event: the zone
    counters by ``enum zone_stat_item``/``enum numa_stat_item`` (``include/linux/vmstat.py``);
    node_stat: the node counters by ``enum node_stat_item`` (``pgdat->vm_stat``; the fault
    path's ``VmState.nstat`` is the same array);
    vm_events: the machine's vm events (``k.vm_events``, by ``enum vm_event_item``);
    managed_pages/nr_free_highatomic: the zone fields; zone_event_type: the zone's offset in
    the per-zone events (``PGALLOC_DMA + type``); wmark/boost/lowmem_reserve/zflags: zone watermarks, reserves
    and flags; pcp_*: struct per_cpu_pages per CPU and zone; params: scalars (P_*);
    mapping/index: page->mapping (anon_vma or file id) and page->index;
    content: the page's memory, one byte per 64-byte line (what reads and writes see);
    content_valid: whether that row holds the page's data, else the page reads as zeros
    (``clear_page`` clears this instead of the row, so pages never written cost no memory).
    memcg: folio->memcg_data as the charged memcg's id (0: not charged), by head (16 bits:
    the kernel's ids are unsigned short, ours below MEMCG_NR_IDS).
    Per memcg id (``include/linux/memcontrol.py``): memcg_parent: the parent's id (0 above the
    root); memcg_counter: the ``struct page_counter`` fields (PC_*) of memory and swap;
    memcg_stat: ``memcg->vmstats`` by ``enum node_stat_item`` then ``enum memcg_stat_item``; memcg_events/memcg_events_local:
    memory.events and memory.events.local by ``enum memcg_memory_event``; memcg_vm_events: the
    memcg's own vm events (``memcg->vmstats->events``) by ``enum vm_event_item`` (row 0 takes
    the counts of folios charged to no memcg, which the kernel drops);
    memcg_nr_pages_over_high: pages charged above a memory.high not yet paid for
    (``current->memcg_nr_pages_over_high``, kept per memcg).
    """


# ---- free lists ------------------------------------------------------------------------------


@njit(cache=True)
def _blk(a, order, pfn):
    return a.fa_off[order] + (pfn >> order)


@njit(cache=True)
def account_freepages(a, zid, nr, mt):
    """NR_FREE_PAGES (and nr_free_highatomic); isolated pages are not free to allocate."""
    if mt == MIGRATE_ISOLATE:
        return
    a.vm_stat[zid, NR_FREE_PAGES] += nr
    if mt == MIGRATE_HIGHATOMIC:
        a.nr_free_highatomic[zid] += nr


@njit(cache=True)
def __add_to_free_list(a, zid, pfn, order, mt, tail):
    b = _blk(a, order, pfn)
    a.fa_tag[b] = 1 + mt + 16 * zid
    head = a.fa_head[zid, order, mt]
    if head == 0:
        a.fa_next[b] = 0
        a.fa_prev[b] = 0
        a.fa_head[zid, order, mt] = pfn + 1
        a.fa_tail[zid, order, mt] = pfn + 1
    elif tail:
        t = a.fa_tail[zid, order, mt]
        a.fa_next[_blk(a, order, t - 1)] = pfn + 1
        a.fa_prev[b] = t
        a.fa_next[b] = 0
        a.fa_tail[zid, order, mt] = pfn + 1
    else:
        a.fa_prev[_blk(a, order, head - 1)] = pfn + 1
        a.fa_next[b] = head
        a.fa_prev[b] = 0
        a.fa_head[zid, order, mt] = pfn + 1
    a.nr_free[zid, order, mt] += 1
    if order >= a.params[P_PB_ORDER] and mt != MIGRATE_ISOLATE:
        a.vm_stat[zid, NR_FREE_PAGES_BLOCKS] += 1 << order


@njit(cache=True)
def __del_page_from_free_list(a, zid, pfn, order, mt):
    b = _blk(a, order, pfn)
    nxt, prv = a.fa_next[b], a.fa_prev[b]
    if prv:
        a.fa_next[_blk(a, order, prv - 1)] = nxt
    else:
        a.fa_head[zid, order, mt] = nxt
    if nxt:
        a.fa_prev[_blk(a, order, nxt - 1)] = prv
    else:
        a.fa_tail[zid, order, mt] = prv
    a.fa_tag[b] = 0
    a.fa_next[b] = 0
    a.fa_prev[b] = 0
    a.nr_free[zid, order, mt] -= 1
    if order >= a.params[P_PB_ORDER] and mt != MIGRATE_ISOLATE:
        a.vm_stat[zid, NR_FREE_PAGES_BLOCKS] -= 1 << order


@njit(cache=True)
def buddy_order(a, pfn):
    """PageBuddy(page) ? buddy_order(page) : -1 (the free block that starts at ``pfn``)."""
    for order in range(a.params[P_MAX_ORDER] + 1):
        if pfn & ((1 << order) - 1):
            break
        b = _blk(a, order, pfn)
        if b < a.fa_off[order + 1] and a.fa_tag[b]:
            return order
    return -1


@njit(cache=True)
def page_is_buddy(a, buddy, order, zid):
    """Is ``buddy`` a free block of exactly ``order`` in the same zone?"""
    b = _blk(a, order, buddy)
    if b >= a.fa_off[order + 1]:
        return False
    tag = a.fa_tag[b]
    return tag != 0 and (tag - 1) // 16 == zid


@njit(cache=True)
def get_pfnblock_migratetype(a, pfn):
    return a.pb_mt[pfn >> a.params[P_PB_ORDER]]


@njit(cache=True)
def set_pageblock_migratetype(a, pfn, mt):
    if a.params[P_MOBILITY_OFF] and mt < MIGRATE_PCPTYPES:
        mt = MIGRATE_UNMOVABLE
    a.pb_mt[pfn >> a.params[P_PB_ORDER]] = mt


@njit(cache=True)
def migratetype_is_mergeable(mt):
    return mt < MIGRATE_PCPTYPES


@njit(cache=True)
def buddy_merge_likely(a, pfn, buddy_pfn, order, zid):
    """Free to the tail when the block one order up could merge soon (``buddy_merge_likely``)."""
    if order >= a.params[P_MAX_ORDER] - 1:
        return False
    higher = buddy_pfn & pfn
    higher_buddy = higher ^ (1 << (order + 1))
    return page_is_buddy(a, higher_buddy, order + 1, zid)


@njit(cache=True)
def __free_one_page(a, pfn, zid, order, mt, fpi):
    max_order = a.params[P_MAX_ORDER]
    pb_order = a.params[P_PB_ORDER]
    account_freepages(a, zid, 1 << order, mt)
    buddy_pfn = pfn ^ (1 << order)
    while order < max_order:
        buddy_pfn = pfn ^ (1 << order)
        if not page_is_buddy(a, buddy_pfn, order, zid):
            break
        buddy_mt = (a.fa_tag[_blk(a, order, buddy_pfn)] - 1) % 16
        if order >= pb_order and mt != buddy_mt and (
                not migratetype_is_mergeable(mt) or not migratetype_is_mergeable(buddy_mt)):
            break  # don't merge an isolated or highatomic block into another type
        __del_page_from_free_list(a, zid, buddy_pfn, order, buddy_mt)
        if buddy_mt != mt:  # the buddy joins our type so expand() later lists it right
            account_freepages(a, zid, -(1 << order), buddy_mt)
            account_freepages(a, zid, 1 << order, mt)
            set_pageblock_migratetype(a, buddy_pfn, mt)
        pfn &= buddy_pfn
        order += 1
    to_tail = (fpi & FPI_TO_TAIL) != 0 or buddy_merge_likely(a, pfn, pfn ^ (1 << order), order, zid)
    __add_to_free_list(a, zid, pfn, order, mt, to_tail)


@njit(cache=True)
def free_one_page(a, pfn, zid, order, fpi):
    """``split_large_buddy``: blocks above a pageblock are freed pageblock by pageblock."""
    end = pfn + (1 << order)
    pb_order = a.params[P_PB_ORDER]
    if order > pb_order:
        order = pb_order
    while pfn < end:
        __free_one_page(a, pfn, zid, order, get_pfnblock_migratetype(a, pfn), fpi)
        pfn += 1 << order


@njit(cache=True)
def expand(a, zid, pfn, low, high, mt):
    """Put the unused halves of a split block back on the free lists; returns pages added."""
    size = 1 << high
    nr_added = 0
    while high > low:
        high -= 1
        size >>= 1
        __add_to_free_list(a, zid, pfn + size, high, mt, False)
        nr_added += size
    return nr_added


@njit(cache=True)
def page_del_and_expand(a, zid, pfn, low, high, mt):
    nr_pages = 1 << high
    __del_page_from_free_list(a, zid, pfn, high, mt)
    nr_pages -= expand(a, zid, pfn, low, high, mt)
    account_freepages(a, zid, -nr_pages, mt)


@njit(cache=True)
def __rmqueue_smallest(a, zid, order, mt):
    for current_order in range(order, a.params[P_MAX_ORDER] + 1):
        head = a.fa_head[zid, current_order, mt]
        if head == 0:
            continue
        pfn = head - 1
        page_del_and_expand(a, zid, pfn, order, current_order, mt)
        return pfn
    return -1


# ---- fallback between migratetypes -----------------------------------------------------------


@njit(cache=True)
def fallback_of(mt, i):
    """``fallbacks[]``: the two types each pcp type may take pages from, in order."""
    if mt == MIGRATE_UNMOVABLE:
        return MIGRATE_RECLAIMABLE if i == 0 else MIGRATE_MOVABLE
    if mt == MIGRATE_MOVABLE:
        return MIGRATE_RECLAIMABLE if i == 0 else MIGRATE_UNMOVABLE
    return MIGRATE_UNMOVABLE if i == 0 else MIGRATE_MOVABLE


@njit(cache=True)
def should_try_claim_block(a, order, start_mt):
    pb_order = a.params[P_PB_ORDER]
    if order >= pb_order:
        return True
    return (order >= pb_order // 2 or start_mt == MIGRATE_RECLAIMABLE
            or start_mt == MIGRATE_UNMOVABLE or a.params[P_MOBILITY_OFF] != 0)


@njit(cache=True)
def find_suitable_fallback(a, zid, order, mt, claimable):
    if claimable and not should_try_claim_block(a, order, mt):
        return -2
    for i in range(2):
        fmt = fallback_of(mt, i)
        if a.fa_head[zid, order, fmt]:
            return fmt
    return -1


@njit(cache=True)
def boost_watermark(a, zid):
    factor = a.params[P_BOOST_FACTOR]
    pb = 1 << a.params[P_PB_ORDER]
    if factor == 0 or pb * 4 > a.managed_pages[zid]:
        return False
    max_boost = a.wmark[zid, 2] * factor // 10000
    if max_boost == 0:
        return False
    max_boost = max(pb, max_boost)
    a.boost[zid] = min(a.boost[zid] + pb, max_boost)
    return True


@njit(cache=True)
def __move_freepages_block(a, zid, start_pfn, old_mt, new_mt):
    pfn, end, moved = start_pfn, start_pfn + (1 << a.params[P_PB_ORDER]), 0
    while pfn < end:
        order = buddy_order(a, pfn)
        if order < 0:
            pfn += 1
            continue
        __del_page_from_free_list(a, zid, pfn, order, old_mt)
        __add_to_free_list(a, zid, pfn, order, new_mt, True)
        account_freepages(a, zid, -(1 << order), old_mt)
        account_freepages(a, zid, 1 << order, new_mt)
        pfn += 1 << order
        moved += 1 << order
    return moved


@njit(cache=True)
def try_to_claim_block(a, zid, pfn, current_order, order, start_mt, block_mt, alloc_flags):
    pb_order = a.params[P_PB_ORDER]
    if current_order >= pb_order:  # take ownership of whole pageblocks
        __del_page_from_free_list(a, zid, pfn, current_order, block_mt)
        account_freepages(a, zid, -(1 << current_order), block_mt)
        for i in range(1 << (current_order - pb_order)):
            set_pageblock_migratetype(a, pfn + (i << pb_order), start_mt)
        account_freepages(a, zid, 1 << current_order, start_mt)
        nr_added = expand(a, zid, pfn, order, current_order, start_mt)
        account_freepages(a, zid, -((1 << current_order) - nr_added), start_mt)
        return pfn
    if boost_watermark(a, zid) and (alloc_flags & ALLOC_KSWAPD):
        a.zflags[zid] |= ZONE_BOOSTED_WATERMARK
    start = pfn >> pb_order << pb_order
    end = start + (1 << pb_order)
    if start < a.zone_start[zid] or end - 1 >= a.zone_end[zid]:
        return -1  # the block straddles the zone
    free_pages = movable_pages = 0
    p = start
    while p < end:
        o = buddy_order(a, p)
        if o >= 0:
            free_pages += 1 << o
            p += 1 << o
            continue
        if a.flags[p] & PG_lru_mask:
            movable_pages += 1
        p += 1
    if start_mt == MIGRATE_MOVABLE:
        alike = movable_pages
    elif block_mt == MIGRATE_MOVABLE:
        alike = (1 << pb_order) - (free_pages + movable_pages)
    else:
        alike = 0
    if free_pages + alike >= (1 << (pb_order - 1)) or a.params[P_MOBILITY_OFF]:
        __move_freepages_block(a, zid, start, block_mt, start_mt)
        set_pageblock_migratetype(a, start, start_mt)
        return __rmqueue_smallest(a, zid, order, start_mt)
    return -1


@njit(cache=True)
def __rmqueue_claim(a, zid, order, start_mt, alloc_flags):
    pb_order = a.params[P_PB_ORDER]
    min_order = order
    if order < pb_order and (alloc_flags & ALLOC_NOFRAGMENT):
        min_order = pb_order
    current = a.params[P_MAX_ORDER]
    while current >= min_order:
        fmt = find_suitable_fallback(a, zid, current, start_mt, True)
        if fmt == -2:
            break
        if fmt >= 0:
            pfn = try_to_claim_block(a, zid, a.fa_head[zid, current, fmt] - 1, current, order,
                                     start_mt, fmt, alloc_flags)
            if pfn >= 0:
                return pfn
        current -= 1
    return -1


@njit(cache=True)
def __rmqueue_steal(a, zid, order, start_mt):
    for current in range(order, a.params[P_MAX_ORDER] + 1):
        fmt = find_suitable_fallback(a, zid, current, start_mt, False)
        if fmt < 0:
            continue
        pfn = a.fa_head[zid, current, fmt] - 1
        page_del_and_expand(a, zid, pfn, order, current, fmt)
        return pfn
    return -1


@njit(cache=True)
def __rmqueue(a, zid, order, mt, alloc_flags):
    pfn = __rmqueue_smallest(a, zid, order, mt)
    if pfn >= 0:
        return pfn
    pfn = __rmqueue_claim(a, zid, order, mt, alloc_flags)
    if pfn >= 0:
        return pfn
    if not (alloc_flags & ALLOC_NOFRAGMENT):
        return __rmqueue_steal(a, zid, order, mt)
    return -1


# ---- per-cpu pagesets ------------------------------------------------------------------------


@njit(cache=True)
def pcp_allowed_order(a, order):
    return order <= PAGE_ALLOC_COSTLY_ORDER or order == a.params[P_THP_ORDER]


@njit(cache=True)
def order_to_pindex(mt, order):
    if order > PAGE_ALLOC_COSTLY_ORDER:
        return NR_LOWORDER_PCP_LISTS + (1 if mt == MIGRATE_MOVABLE else 0)
    return MIGRATE_PCPTYPES * order + mt


@njit(cache=True)
def pindex_to_order(a, pindex):
    if pindex >= NR_LOWORDER_PCP_LISTS:
        return a.params[P_THP_ORDER]
    return pindex // MIGRATE_PCPTYPES


@njit(cache=True)
def _pcp_add(a, cpu, zid, pindex, pfn, tail):
    head = a.pcp_head[cpu, zid, pindex]
    if head == 0:
        a.pcp_next[pfn] = 0
        a.pcp_prev[pfn] = 0
        a.pcp_head[cpu, zid, pindex] = pfn + 1
        a.pcp_tail[cpu, zid, pindex] = pfn + 1
    elif tail:
        t = a.pcp_tail[cpu, zid, pindex]
        a.pcp_next[t - 1] = pfn + 1
        a.pcp_prev[pfn] = t
        a.pcp_next[pfn] = 0
        a.pcp_tail[cpu, zid, pindex] = pfn + 1
    else:
        a.pcp_prev[head - 1] = pfn + 1
        a.pcp_next[pfn] = head
        a.pcp_prev[pfn] = 0
        a.pcp_head[cpu, zid, pindex] = pfn + 1


@njit(cache=True)
def _pcp_del(a, cpu, zid, pindex, pfn):
    nxt, prv = a.pcp_next[pfn], a.pcp_prev[pfn]
    if prv:
        a.pcp_next[prv - 1] = nxt
    else:
        a.pcp_head[cpu, zid, pindex] = nxt
    if nxt:
        a.pcp_prev[nxt - 1] = prv
    else:
        a.pcp_tail[cpu, zid, pindex] = prv
    a.pcp_next[pfn] = 0
    a.pcp_prev[pfn] = 0


@njit(cache=True)
def _clamp_high(a, cpu, zid):
    high = min(max(a.pcp_high[cpu, zid], a.pcp_high_min[cpu, zid]), a.pcp_high_max[cpu, zid])
    a.pcp_high[cpu, zid] = high
    return high


@njit(cache=True)
def nr_pcp_alloc(a, cpu, zid, order):
    """How many pages to pull from the buddy lists into an empty pcp list."""
    base_batch = a.pcp_batch[cpu, zid]
    high_min, high_max = a.pcp_high_min[cpu, zid], a.pcp_high_max[cpu, zid]
    high = _clamp_high(a, cpu, zid)
    if high < base_batch:
        return 1
    batch = base_batch if order else base_batch << a.pcp_alloc_factor[cpu, zid]
    if high_min != high_max and not (a.zflags[zid] & ZONE_BELOW_HIGH):
        high = min(high + batch, high_max)  # a larger pcp would have avoided the zone lock
        a.pcp_high[cpu, zid] = high
    if order == 0:
        count = a.pcp_count[cpu, zid]
        max_nr_alloc = max(high - count - base_batch, base_batch)
        if batch <= max_nr_alloc and a.pcp_alloc_factor[cpu, zid] < PCP_BATCH_SCALE_MAX:
            a.pcp_alloc_factor[cpu, zid] += 1  # repeated allocation without frees doubles the batch
        batch = min(batch, max_nr_alloc)
    if batch > 1:
        batch = max(batch >> order, 2)
    return batch


@njit(cache=True)
def rmqueue_bulk(a, cpu, zid, order, count, mt, alloc_flags, pindex):
    allocated = 0
    for _ in range(count):
        pfn = __rmqueue(a, zid, order, mt, alloc_flags)
        if pfn < 0:
            break
        _pcp_add(a, cpu, zid, pindex, pfn, True)
        allocated += 1
    return allocated


@njit(cache=True)
def rmqueue_pcplist(a, cpu, zid, order, mt, alloc_flags):
    a.pcp_free_count[cpu, zid] >>= 1  # on allocation, batch-free less
    pindex = order_to_pindex(mt, order)
    if a.pcp_head[cpu, zid, pindex] == 0:
        batch = nr_pcp_alloc(a, cpu, zid, order)
        got = rmqueue_bulk(a, cpu, zid, order, batch, mt, alloc_flags, pindex)
        a.pcp_count[cpu, zid] += got << order
        if a.pcp_head[cpu, zid, pindex] == 0:
            return -1
    pfn = a.pcp_head[cpu, zid, pindex] - 1
    _pcp_del(a, cpu, zid, pindex, pfn)
    a.pcp_count[cpu, zid] -= 1 << order
    return pfn


@njit(cache=True)
def nr_pcp_free(a, cpu, zid, batch, high, free_high):
    if free_high:
        return min(a.pcp_count[cpu, zid], batch << PCP_BATCH_SCALE_MAX)
    if high < batch:
        return 1
    return min(max(a.pcp_free_count[cpu, zid], batch), high - batch)


@njit(cache=True)
def nr_pcp_high(a, cpu, zid, batch, free_high):
    high_min, high_max = a.pcp_high_min[cpu, zid], a.pcp_high_max[cpu, zid]
    high = _clamp_high(a, cpu, zid)
    if high == 0:
        return 0
    if free_high:
        a.pcp_high[cpu, zid] = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min)
        return 0
    if a.zflags[zid] & ZONE_RECLAIM_ACTIVE:
        free_count = max(a.pcp_free_count[cpu, zid], batch)
        a.pcp_high[cpu, zid] = max(high - free_count, high_min)
        return min(batch << 2, a.pcp_high[cpu, zid])
    if high_min == high_max:
        return high
    if a.zflags[zid] & ZONE_BELOW_HIGH:
        free_count = max(a.pcp_free_count[cpu, zid], batch)
        a.pcp_high[cpu, zid] = max(high - free_count, high_min)
        high = max(a.pcp_count[cpu, zid], high_min)
    elif a.pcp_count[cpu, zid] >= high:
        need_high = a.pcp_free_count[cpu, zid] + batch
        if a.pcp_high[cpu, zid] < need_high:
            a.pcp_high[cpu, zid] = min(max(need_high, high_min), high_max)
    return high


@njit(cache=True)
def free_pcppages_bulk(a, cpu, zid, count, pindex):
    """Return ``count`` pages from the pcp lists to the buddy, round robin, oldest first."""
    pindex -= 1
    while count > 0 and a.pcp_count[cpu, zid] > 0:
        while True:
            pindex += 1
            if pindex > NR_PCP_LISTS - 1:
                pindex = 0
            if a.pcp_head[cpu, zid, pindex]:
                break
        order = pindex_to_order(a, pindex)
        while count > 0 and a.pcp_head[cpu, zid, pindex]:
            pfn = a.pcp_tail[cpu, zid, pindex] - 1
            _pcp_del(a, cpu, zid, pindex, pfn)
            count -= 1 << order
            a.pcp_count[cpu, zid] -= 1 << order
            __free_one_page(a, pfn, zid, order, get_pfnblock_migratetype(a, pfn), FPI_NONE)


@njit(cache=True)
def free_frozen_page_commit(a, cpu, zid, pfn, mt, order):
    a.pcp_alloc_factor[cpu, zid] >>= 1  # on freeing, batch-allocate less
    pindex = order_to_pindex(mt, order)
    _pcp_add(a, cpu, zid, pindex, pfn, False)
    a.pcp_count[cpu, zid] += 1 << order
    batch = a.pcp_batch[cpu, zid]
    free_high = False
    if order and order <= PAGE_ALLOC_COSTLY_ORDER:
        free_high = (a.pcp_free_count[cpu, zid] >= batch + a.pcp_high_min[cpu, zid] // 2
                     and (a.pcp_flags[cpu, zid] & PCPF_PREV_FREE_HIGH_ORDER) != 0
                     and (not (a.pcp_flags[cpu, zid] & PCPF_FREE_HIGH_BATCH)
                          or a.pcp_count[cpu, zid] >= batch))
        a.pcp_flags[cpu, zid] |= PCPF_PREV_FREE_HIGH_ORDER
    elif a.pcp_flags[cpu, zid] & PCPF_PREV_FREE_HIGH_ORDER:
        a.pcp_flags[cpu, zid] &= ~PCPF_PREV_FREE_HIGH_ORDER
    if a.pcp_free_count[cpu, zid] < (batch << PCP_BATCH_SCALE_MAX):
        a.pcp_free_count[cpu, zid] += 1 << order
    high = nr_pcp_high(a, cpu, zid, batch, free_high)
    if a.pcp_count[cpu, zid] >= high:
        free_pcppages_bulk(a, cpu, zid, nr_pcp_free(a, cpu, zid, batch, high, free_high), pindex)
        if (a.zflags[zid] & ZONE_BELOW_HIGH) and __zone_watermark_ok(
                a, zid, 0, a.wmark[zid, 2] + a.boost[zid], a.params[P_ZONE_MOVABLE], 0, a.vm_stat[zid, NR_FREE_PAGES]):
            a.zflags[zid] &= ~ZONE_BELOW_HIGH


@njit(cache=True)
def drain_pages_zone(a, cpu, zid):
    free_pcppages_bulk(a, cpu, zid, a.pcp_count[cpu, zid], 0)


# ---- watermarks and the zonelist walk ----------------------------------------------------


@njit(cache=True)
def __zone_watermark_unusable_free(a, zid, order, alloc_flags):
    unusable = (1 << order) - 1
    if not (alloc_flags & ALLOC_RESERVES):
        unusable += a.nr_free_highatomic[zid]
    return unusable


@njit(cache=True)
def __zone_watermark_ok(a, zid, order, mark, highest_zoneidx, alloc_flags, free_pages):
    mn = mark
    free_pages -= __zone_watermark_unusable_free(a, zid, order, alloc_flags)
    if alloc_flags & ALLOC_RESERVES:
        if alloc_flags & ALLOC_MIN_RESERVE:
            mn -= mn // 2
            if alloc_flags & ALLOC_NON_BLOCK:
                mn -= mn // 4
        if alloc_flags & ALLOC_OOM:
            mn -= mn // 2
    if free_pages <= mn + a.lowmem_reserve[zid, highest_zoneidx]:
        return False
    if order == 0:
        return True
    for o in range(order, a.params[P_MAX_ORDER] + 1):
        for mt in range(MIGRATE_PCPTYPES):
            if a.fa_head[zid, o, mt]:
                return True
        if (alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM)) and a.fa_head[zid, o, MIGRATE_HIGHATOMIC]:
            return True
    return False


@njit(cache=True)
def zone_watermark_fast(a, zid, order, mark, highest_zoneidx, alloc_flags):
    free_pages = a.vm_stat[zid, NR_FREE_PAGES]
    if order == 0:
        usable = free_pages
        reserved = __zone_watermark_unusable_free(a, zid, 0, alloc_flags)
        usable -= min(usable, reserved)
        if usable > mark + a.lowmem_reserve[zid, highest_zoneidx]:
            return True
    if __zone_watermark_ok(a, zid, order, mark, highest_zoneidx, alloc_flags, free_pages):
        return True
    if order == 0 and (alloc_flags & ALLOC_MIN_RESERVE) and a.boost[zid] and \
            (alloc_flags & ALLOC_WMARK_MASK) == ALLOC_WMARK_MIN:
        return __zone_watermark_ok(a, zid, order, a.wmark[zid, 0], highest_zoneidx, alloc_flags, free_pages)
    return False


@njit(cache=True)
def zone_statistics(a, preferred_zid, zid, local_nid, nr):
    if a.zone_node[zid] == a.zone_node[preferred_zid]:
        a.vm_numa_event[zid, NUMA_HIT] += nr
    else:
        a.vm_numa_event[zid, NUMA_MISS] += nr
        a.vm_numa_event[preferred_zid, NUMA_FOREIGN] += nr
    if a.zone_node[zid] == local_nid:
        a.vm_numa_event[zid, NUMA_LOCAL] += nr
    else:
        a.vm_numa_event[zid, NUMA_OTHER] += nr


@njit(cache=True)
def rmqueue(a, cpu, preferred_zid, zid, order, mt, alloc_flags, local_nid):
    pfn = -1
    if pcp_allowed_order(a, order):
        pfn = rmqueue_pcplist(a, cpu, zid, order, mt, alloc_flags)
    if pfn < 0:
        if alloc_flags & ALLOC_HIGHATOMIC:
            pfn = __rmqueue_smallest(a, zid, order, MIGRATE_HIGHATOMIC)
        if pfn < 0:
            pfn = __rmqueue(a, zid, order, mt, alloc_flags)
            if pfn < 0 and (alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK)):
                pfn = __rmqueue_smallest(a, zid, order, MIGRATE_HIGHATOMIC)
    if pfn >= 0:
        a.vm_events[PGALLOC_DMA + a.zone_event_type[zid]] += 1 << order  # __count_zid_vm_events
        zone_statistics(a, preferred_zid, zid, local_nid, 1)
    return pfn


@njit(cache=True)
def prep_new_page(a, pfn, order, comp):
    a.refcount[pfn] = 1
    a.order[pfn] = order
    a.flags[pfn] = PG_head_mask if (comp and order > 0) else np.uint64(0)
    if comp and order > 0:  # prep_compound_page: every tail points at the head (their flags are clear)
        a.compound_head[pfn + 1:pfn + (1 << order)] = pfn + 1
        a.entire_mapcount[pfn] = 0
        a.pincount[pfn] = 0


@njit(cache=True)
def compound_head(a, pfn):
    head = a.compound_head[pfn]
    return head - 1 if head else pfn


@entry  # the slow path's Python calls it several times per allocation
def get_page_from_freelist(a, zonelist, highest_zoneidx, order, mt, alloc_flags, cpu, local_nid, comp, asked):
    """Walk the zonelist; the first zone whose watermark allows it serves the allocation.
    A zone below its watermark whose bit is clear in ``asked`` (node reclaim enabled and
    allowed there, not yet tried for this allocation) stops the walk: -2 - zid asks Python to
    run ``node_reclaim`` for it and walk again (NODE_RECLAIM_NEVER: never ask)."""
    while True:
        no_fallback = alloc_flags & ALLOC_NOFRAGMENT
        preferred = -1
        retry = False
        for i in range(zonelist.shape[0]):
            zid = zonelist[i]
            if zid < 0:
                break
            if a.zone_idx[zid] > highest_zoneidx:
                continue
            if preferred < 0:
                preferred = zid
            if no_fallback and a.params[P_NR_ONLINE] > 1 and zid != preferred and \
                    a.zone_node[zid] != a.zone_node[preferred]:
                alloc_flags &= ~ALLOC_NOFRAGMENT  # locality matters more than fragmentation
                retry = True
                break
            ok = False
            if not (a.zflags[zid] & ZONE_BELOW_HIGH):
                if zone_watermark_fast(a, zid, order, a.wmark[zid, 2] + a.boost[zid], highest_zoneidx, alloc_flags):
                    ok = True
                else:
                    a.zflags[zid] |= ZONE_BELOW_HIGH
            if not ok:
                wm = alloc_flags & ALLOC_WMARK_MASK
                ok = (alloc_flags & ALLOC_NO_WATERMARKS) != 0 or zone_watermark_fast(
                    a, zid, order, a.wmark[zid, wm] + a.boost[zid], highest_zoneidx, alloc_flags)
            if not ok:
                if not asked >> zid & 1:
                    return -2 - zid
                continue
            pfn = rmqueue(a, cpu, preferred, zid, order, mt, alloc_flags, local_nid)
            if pfn >= 0:
                prep_new_page(a, pfn, order, comp)
                return pfn
        if retry:
            continue
        if no_fallback and not a.params[P_DEFRAG_MODE]:
            alloc_flags &= ~ALLOC_NOFRAGMENT
            continue
        return -1


@njit(cache=True)
def page_zone(a, pfn):
    """Zone id of a pfn with memory (the kernel reads it from page->flags)."""
    seg = page_segment(a, pfn)
    return a.seg_zid[seg] if seg >= 0 else -1


@njit(cache=True, inline="always")
def page_segment(a, pfn):
    """The segment holding ``pfn`` (the one that starts last at or below it), -1 if none, by
    a binary search written out (``np.searchsorted``'s generic one took twice as long, on
    every fault)."""
    lo, hi = 0, a.seg_start.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if a.seg_start[mid] <= pfn:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0 or pfn >= a.seg_end[lo - 1]:
        return -1
    return lo - 1


@njit(cache=True)
def free_frozen_pages(a, pfn, order, cpu):
    zid = page_zone(a, pfn)
    a.vm_events[PGFREE] += 1 << order
    if a.flags[pfn] & PG_head_mask:  # free_tail_page_prepare: tails forget their head
        a.compound_head[pfn + 1:pfn + (1 << order)] = 0
        a.entire_mapcount[pfn] = 0
    if order:  # free_pages_prepare: each tail's flags (PAGE_FLAGS_CHECK_AT_PREP; the second's PAGE_FLAGS_SECOND)
        a.flags[pfn + 1:pfn + (1 << order)] = 0
    a.flags[pfn] = np.uint64(0)
    a.order[pfn] = 0
    if not pcp_allowed_order(a, order):
        free_one_page(a, pfn, zid, order, FPI_NONE)
        return
    mt = get_pfnblock_migratetype(a, pfn)
    if mt > MIGRATE_RECLAIMABLE:
        if mt == MIGRATE_ISOLATE:
            free_one_page(a, pfn, zid, order, FPI_NONE)
            return
        mt = MIGRATE_MOVABLE
    free_frozen_page_commit(a, cpu, zid, pfn, mt, order)


@njit(cache=True)
def __free_pages(a, pfn, order, cpu):
    """Drop a reference; the last one frees the block. Returns True if it was freed."""
    a.refcount[pfn] -= 1
    if a.refcount[pfn] == 0:
        free_frozen_pages(a, pfn, order, cpu)
        return True
    return False


# ---- batched entry points ----------------------------------------------------------------


@njit(cache=True)
def alloc_pages_batch(a, zonelist, nr, highest, order, mt, fast_flags, cpu, local_nid, comp, out):
    """Up to ``nr`` same-shaped allocations from the fast path; stops at the first the free
    lists cannot serve above the watermark (the slow path is Python's), returns the count."""
    for i in range(nr):
        pfn = get_page_from_freelist(a, zonelist, highest, order, mt, fast_flags, cpu, local_nid, comp,
                                     NODE_RECLAIM_NEVER)
        out[i] = pfn
        if pfn < 0:
            return i
    return nr


@njit(cache=True)
def free_pages_batch(a, pfns, orders, cpus):
    for i in range(pfns.shape[0]):
        __free_pages(a, pfns[i], orders[i], cpus[i])


@njit(cache=True)
def __ffs(x):
    n = 0
    while not (x & 1):
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def memblock_free_pages_range(a, start, end, zid):
    """``__free_pages_memory``: free [start, end) in naturally aligned blocks, to the tail."""
    max_order = a.params[P_MAX_ORDER]
    while start < end:
        order = max_order
        if start:
            order = min(max_order, __ffs(start))
        while start + (1 << order) > end:
            order -= 1
        a.refcount[start] = 0
        a.managed_pages[zid] += 1 << order
        free_one_page(a, start, zid, order, FPI_TO_TAIL)
        start += 1 << order


# ---- the Python face: building the arrays from a booted kernel ------------------------------

def zone_id(k, z) -> int:
    return z.node * len(k.zone_names) + z.idx


def build_mem_map(k) -> MemMap:
    """Allocate the struct page arrays and empty free lists for every zone of ``k``."""
    arch = k.arch
    nzt = len(k.zone_names)
    nodes = k.node_ids
    nnodes = max(nodes) + 1
    nz = nnodes * nzt
    npfn = max(p.node_end_pfn for p in k.pgdat.values()) + 1
    max_order = arch.MAX_PAGE_ORDER
    pb_order = arch.pageblock_order
    fa_off = np.zeros(max_order + 2, dtype=np.int64)
    for o in range(max_order + 1):
        fa_off[o + 1] = fa_off[o] + (npfn >> o) + 1
    total = int(fa_off[-1])
    segs = []
    for lo, hi, nid in k.memblock.for_each_mem_pfn_range(None, arch.page_shift):
        for z in k.NODE_DATA(nid).node_zones:
            s, e = max(lo, z.zone_start_pfn), min(hi, z.zone_end_pfn)
            if s < e and z.spanned_pages:
                segs.append((s, e, zone_id(k, z)))
    segs.sort()
    ncpu = max(k.desc.nr_cpus, 1)
    i64 = np.int64
    zones = [z for p in k.pgdat.values() for z in p.node_zones]
    zone_start = np.zeros(nz, i64)
    zone_end = np.zeros(nz, i64)
    zone_node = np.full(nz, -1, i64)
    zone_idx = np.zeros(nz, i64)
    event_type = np.zeros(nz, i64)
    for z in zones:
        zid = zone_id(k, z)
        zone_start[zid], zone_end[zid] = z.zone_start_pfn, z.zone_end_pfn
        zone_node[zid], zone_idx[zid] = z.node, z.idx
        event_type[zid] = zone_event_type(z.name)
    params = np.zeros(NR_PARAMS, i64)
    params[P_MAX_ORDER] = max_order
    params[P_PB_ORDER] = pb_order
    params[P_MOBILITY_OFF] = int(k.page_group_by_mobility_disabled)
    params[P_THP_ORDER] = arch.page_shift - 3 if k.arch.is_64bit or k.arch.pae else -1
    params[P_NR_ONLINE] = len(nodes)
    params[P_BOOST_FACTOR] = 15000
    params[P_ZONE_MOVABLE] = k.zone_names.index("Movable")
    i32 = np.int32
    if npfn >= np.iinfo(i32).max:
        raise ConfigError(f"{k.desc.name}: {npfn:,} page frames: the mem_map's list links hold pfn + 1 in 32 bits")
    if 16 * nz >= np.iinfo(np.int16).max:
        raise ConfigError(f"{k.desc.name}: {nz} zones: the free lists' tags hold 16 * zone id in 16 bits")
    with sparse_arrays(f"{k.desc.name}: mem_map for {npfn:,} page frames"):
        a = MemMap.from_arrays(
            flags=np.zeros(npfn, np.uint64), refcount=np.zeros(npfn, np.int32),
            mapcount=np.zeros(npfn, np.int32), order=np.zeros(npfn, np.int8),
            compound_head=np.zeros(npfn, i64), entire_mapcount=np.zeros(npfn, np.int32),
            pincount=np.zeros(npfn, np.int32), pcp_next=np.zeros(npfn, i32), pcp_prev=np.zeros(npfn, i32),
            lru_next=np.zeros(npfn, i32), lru_prev=np.zeros(npfn, i32),
            deferred_next=np.zeros(npfn, i64), deferred_prev=np.zeros(npfn, i64),
            split_queue_head=np.zeros(nnodes, i64), split_queue_tail=np.zeros(nnodes, i64),
            split_queue_len=np.zeros(nnodes, i64),
            lruvec_head=np.zeros((MEMCG_NR_IDS, nnodes, NR_LRU_LISTS), i64),
            lruvec_tail=np.zeros((MEMCG_NR_IDS, nnodes, NR_LRU_LISTS), i64),
            lru_zone_size=np.zeros((MEMCG_NR_IDS, nz, NR_LRU_LISTS), i64),
            lruvec_cost=np.zeros((MEMCG_NR_IDS, nnodes, 2), i64),
            nonresident_age=np.zeros(nnodes, i64),
            lrugen_head=np.zeros((MEMCG_NR_IDS, nnodes, MAX_NR_GENS, ANON_AND_FILE, nzt), i64),
            lrugen_tail=np.zeros((MEMCG_NR_IDS, nnodes, MAX_NR_GENS, ANON_AND_FILE, nzt), i64),
            lrugen_nr_pages=np.zeros((MEMCG_NR_IDS, nnodes, MAX_NR_GENS, ANON_AND_FILE, nzt), i64),
            # lru_gen_init_lruvec: max_seq MIN_NR_GENS + 1, on when the lru_gen caps are
            lrugen_max_seq=np.full((MEMCG_NR_IDS, nnodes), MIN_NR_GENS + 1, i64),
            lrugen_min_seq=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE), i64),
            lrugen_enabled=np.full(nnodes, int(k.config.lru_gen and k.config.lru_gen_enabled), i64),
            lrugen_avg_refaulted=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE, MAX_NR_TIERS), i64),
            lrugen_avg_total=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE, MAX_NR_TIERS), i64),
            lrugen_refaulted=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE, MAX_NR_TIERS), i64),
            lrugen_evicted=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE, MAX_NR_TIERS), i64),
            lrugen_protected=np.zeros((MEMCG_NR_IDS, nnodes, ANON_AND_FILE, MAX_NR_TIERS), i64),
            fbatch=np.zeros((ncpu, NR_CPU_FBATCHES, FOLIO_BATCH_SIZE), i64),
            fbatch_nr=np.zeros((ncpu, NR_CPU_FBATCHES), i64),
            pb_mt=np.full((npfn >> pb_order) + 1, MIGRATE_MOVABLE, np.int8),
            seg_start=np.array([s[0] for s in segs], i64), seg_end=np.array([s[1] for s in segs], i64),
            seg_zid=np.array([s[2] for s in segs], i64),
            zone_start=zone_start, zone_end=zone_end, zone_node=zone_node, zone_idx=zone_idx,
            fa_off=fa_off, fa_next=np.zeros(total, i32), fa_prev=np.zeros(total, i32),
            fa_tag=np.zeros(total, np.int16),
            fa_head=np.zeros((nz, max_order + 1, MIGRATE_TYPES), i64),
            fa_tail=np.zeros((nz, max_order + 1, MIGRATE_TYPES), i64),
            nr_free=np.zeros((nz, max_order + 1, MIGRATE_TYPES), i64),
            vm_stat=np.zeros((nz, NR_VM_ZONE_STAT_ITEMS), i64),
            vm_numa_event=np.zeros((nz, NR_VM_NUMA_EVENT_ITEMS), i64), vm_events=k.vm_events,
            node_stat=np.zeros((nnodes, NR_VM_NODE_STAT_ITEMS), i64),
            managed_pages=np.zeros(nz, i64), nr_free_highatomic=np.zeros(nz, i64), zone_event_type=event_type,
            wmark=np.zeros((nz, 4), i64), boost=np.zeros(nz, i64),
            lowmem_reserve=np.zeros((nz, nzt), i64), zflags=np.zeros(nz, i64),
            pcp_head=np.zeros((ncpu, nz, NR_PCP_LISTS), i64), pcp_tail=np.zeros((ncpu, nz, NR_PCP_LISTS), i64),
            pcp_count=np.zeros((ncpu, nz), i64), pcp_high=np.zeros((ncpu, nz), i64),
            pcp_batch=np.zeros((ncpu, nz), i64), pcp_high_min=np.zeros((ncpu, nz), i64),
            pcp_high_max=np.zeros((ncpu, nz), i64), pcp_free_count=np.zeros((ncpu, nz), i64),
            pcp_alloc_factor=np.zeros((ncpu, nz), i64), pcp_flags=np.zeros((ncpu, nz), i64),
            params=params, private=np.zeros(npfn, i64), mapping=np.zeros(npfn, i64),
            index=np.zeros(npfn, i64), content=np.zeros((npfn, CONTENT_LINES), np.uint8),
                content_valid=np.zeros(npfn, np.uint8), memcg=np.zeros(npfn, np.int16),
            memcg_parent=np.zeros(MEMCG_NR_IDS, np.int32),
            memcg_counter=np.zeros((MEMCG_NR_IDS, NR_PAGE_COUNTERS, NR_PC_FIELDS), i64),
            memcg_stat=np.zeros((MEMCG_NR_IDS, MEMCG_NR_STAT), i64),
            memcg_events=np.zeros((MEMCG_NR_IDS, MEMCG_NR_MEMORY_EVENTS), i64),
            memcg_events_local=np.zeros((MEMCG_NR_IDS, MEMCG_NR_MEMORY_EVENTS), i64),
            memcg_vm_events=np.zeros((MEMCG_NR_IDS, NR_VM_EVENT_ITEMS), i64),
            memcg_nr_pages_over_high=np.zeros(MEMCG_NR_IDS, i64))
    a.memcg_counter[:, :, PC_MAX] = a.memcg_counter[:, :, PC_HIGH] = PAGE_COUNTER_MAX  # page_counter_init
    for nid, pgdat in k.pgdat.items():  # the counters move into the arrays compiled code updates
        a.node_stat[nid] = pgdat.vm_stat.row
        pgdat.vm_stat.row = a.node_stat[nid]
    for z in zones:
        zid = zone_id(k, z)
        z.nr_free = a.nr_free[zid]
        a.vm_stat[zid], a.vm_numa_event[zid] = z.vm_stat.row, z.vm_numa_event.row
        z.vm_stat.row, z.vm_numa_event.row = a.vm_stat[zid], a.vm_numa_event[zid]
    return a


def zonelist_array(k) -> np.ndarray:
    """Each node's FALLBACK zonelist as zone ids, padded with -1 (numba reads rows)."""
    nodes = k.node_ids
    width = max(len(k.NODE_DATA(n).node_zonelists[0]) for n in nodes) + 1
    out = np.full((max(nodes) + 1, width), -1, np.int64)
    for n in nodes:
        for i, z in enumerate(k.NODE_DATA(n).node_zonelists[0]):
            out[n, i] = zone_id(k, z)
    return out


def sync_zone_params(k, a: MemMap) -> None:
    """Copy what Python computes (watermarks, reserves, pcp sizes) into the arrays."""
    for p in k.pgdat.values():
        for z in p.node_zones:
            zid = zone_id(k, z)
            a.wmark[zid, :] = z._watermark
            a.boost[zid] = z.watermark_boost
            a.lowmem_reserve[zid, :len(z.lowmem_reserve)] = z.lowmem_reserve
            a.managed_pages[zid] = z.managed_pages
            for cpu, pcp in enumerate(z.per_cpu_pageset[:a.pcp_batch.shape[0]]):
                a.pcp_batch[cpu, zid] = pcp.get("batch", 0)
                a.pcp_high_min[cpu, zid] = pcp.get("high_min", 0)
                a.pcp_high_max[cpu, zid] = pcp.get("high_max", 0)
    a.params[P_MOBILITY_OFF] = int(k.page_group_by_mobility_disabled)


@njit(cache=True)
def drain_all_pages(a):
    """Return every per-cpu page to the buddy lists (``drain_all_pages(NULL)``)."""
    for cpu in range(a.pcp_count.shape[0]):
        for zid in range(a.pcp_count.shape[1]):
            if a.pcp_count[cpu, zid]:
                free_pcppages_bulk(a, cpu, zid, a.pcp_count[cpu, zid], 0)


def sync_pagesets_to_python(k, a: MemMap) -> None:
    """Per-cpu count/high and the watermark boost as the /proc renderers read them."""
    for p in k.pgdat.values():
        for z in p.node_zones:
            zid = zone_id(k, z)
            for cpu, pcp in enumerate(z.per_cpu_pageset[:a.pcp_count.shape[0]]):
                pcp["count"] = int(a.pcp_count[cpu, zid])
                pcp["high"] = int(a.pcp_high[cpu, zid])
            z.watermark_boost = int(a.boost[zid])  # boost_watermark raised it, kswapd clears it


def pageblock_counts(k, a: MemMap, z) -> list[int]:
    """Pageblocks of a zone by migratetype (``pagetypeinfo_showblockcount_print``)."""
    pb = k.arch.pageblock_order
    counts = [0] * MIGRATE_TYPES
    zid = zone_id(k, z)
    for s, e, sz in zip(a.seg_start, a.seg_end, a.seg_zid):
        if sz != zid:
            continue
        first = z.zone_start_pfn + -(-(int(s) - z.zone_start_pfn) // (1 << pb)) * (1 << pb)
        blocks = a.pb_mt[first >> pb:(int(e) + (1 << pb) - 1) >> pb] if first < e else a.pb_mt[:0]
        for mt in range(MIGRATE_TYPES):
            counts[mt] += int(np.count_nonzero(blocks == mt))
    return counts
