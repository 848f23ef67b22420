"""Nodes and zones (``include/linux/mmzone.h``, ``include/linux/nodemask.h``), Linux 6.18.

``pglist_data`` (``pg_data_t``) describes one NUMA node, ``zone`` one range of it; names and
initial values are the kernel's. ``NODE_DATA(nid)``, ``for_each_online_node``, ``for_each_zone``,
``for_each_populated_zone`` and friends work on the ``pglist`` registry of a booted machine (``Machine.pgdat``), as in drgn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

MAX_NUMNODES = 1 << 10  # CONFIG_NODES_SHIFT=10 (x86-64 distro default)
DEF_PRIORITY = 12
MAX_RECLAIM_RETRIES = 16


class node_states(IntEnum):
    """``enum node_states``: N_POSSIBLE ... N_CPU (N_GENERIC_INITIATOR omitted)."""

    N_POSSIBLE = 0
    N_ONLINE = 1
    N_NORMAL_MEMORY = 2
    N_HIGH_MEMORY = 3
    N_MEMORY = 4
    N_CPU = 5


class zone_watermarks(IntEnum):
    WMARK_MIN = 0
    WMARK_LOW = 1
    WMARK_HIGH = 2
    WMARK_PROMO = 3


NR_WMARK = 4


# ``enum migratetype`` (CONFIG_CMA=n, CONFIG_MEMORY_ISOLATION=y, as on x86-64 distros and
# this host: tests/data/host-linux-6.18/enums.txt). Arrays indexed by migratetype have
# MIGRATE_TYPES columns; MIGRATE_CMA is only counted when ``KernelConfig.cma`` is set.
MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3  # the number of types on the per-cpu lists
MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES
MIGRATE_ISOLATE = 4
MIGRATE_TYPES = 5

# ``enum lru_list``: a node's LRU lists (``struct lruvec``), in the kernel's order
LRU_INACTIVE_ANON = 0
LRU_ACTIVE_ANON = 1
LRU_INACTIVE_FILE = 2
LRU_ACTIVE_FILE = 3
LRU_UNEVICTABLE = 4
NR_LRU_LISTS = 5
LRU_NAMES = ("INACTIVE_ANON", "ACTIVE_ANON", "INACTIVE_FILE", "ACTIVE_FILE", "UNEVICTABLE")  # NR_<name>
# MGLRU (CONFIG_LRU_GEN): a lruvec's evictable folios in generations (seqs max_seq - 3 ..
# max_seq, gen = seq % MAX_NR_GENS) per type and zone; the two youngest count as "active"
# for /proc. Each generation splits into tiers by the accesses through file descriptors.
MIN_NR_GENS = 2
MAX_NR_GENS = 4
MAX_NR_TIERS = 4
NR_HIST_GENS = 1  # CONFIG_LRU_GEN_STATS=n (distributions): one history slot
LRU_GEN_ANON, LRU_GEN_FILE = 0, 1
ANON_AND_FILE = 2
MIN_LRU_BATCH = 64  # BITS_PER_LONG
MAX_LRU_BATCH = MIN_LRU_BATCH * 64
# lru_gen_caps: /sys/kernel/mm/lru_gen/enabled's bits
LRU_GEN_CORE, LRU_GEN_MM_WALK, LRU_GEN_NONLEAF_YOUNG = 0, 1, 2
NR_LRU_GEN_CAPS = 3
MIGRATETYPE_NAMES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]


class zone_helpers:
    """The inline helpers of ``struct zone`` (``include/linux/mmzone.h``), shared by the live
    ``zone`` and its frozen record (``records.Zone``): both have zone_start_pfn, spanned_pages,
    present_pages, the watermarks without the boost (``_watermark``) and watermark_boost."""

    @property
    def zone_end_pfn(self) -> int:
        """``zone_end_pfn()``: the first pfn past the zone."""
        return self.zone_start_pfn + self.spanned_pages

    def populated_zone(self) -> bool:
        """``populated_zone()``: the zone has present pages."""
        return self.present_pages > 0

    def wmark_pages(self, i: int) -> int:
        """``wmark_pages()``: watermark ``i`` (WMARK_MIN, _LOW, _HIGH, _PROMO) plus the boost."""
        return self._watermark[i] + self.watermark_boost

    def min_wmark_pages(self) -> int:
        """``min_wmark_pages()``: WMARK_MIN plus the boost."""
        return self.wmark_pages(zone_watermarks.WMARK_MIN)

    def low_wmark_pages(self) -> int:
        """``low_wmark_pages()``: WMARK_LOW plus the boost."""
        return self.wmark_pages(zone_watermarks.WMARK_LOW)

    def high_wmark_pages(self) -> int:
        """``high_wmark_pages()``: WMARK_HIGH plus the boost."""
        return self.wmark_pages(zone_watermarks.WMARK_HIGH)

    def promo_wmark_pages(self) -> int:
        """``promo_wmark_pages()``: WMARK_PROMO plus the boost."""
        return self.wmark_pages(zone_watermarks.WMARK_PROMO)


@dataclass
class zone(zone_helpers):
    """``struct zone``: one zone of one node. ``idx`` is its position in ``node_zones``."""

    name: str
    idx: int
    node: int
    zone_start_pfn: int = 0
    spanned_pages: int = 0
    present_pages: int = 0
    managed_pages: int = 0
    cma_pages: int = 0
    _watermark: list[int] = field(default_factory=lambda: [0] * NR_WMARK)
    watermark_boost: int = 0
    nr_reserved_highatomic: int = 0
    lowmem_reserve: list[int] = field(default_factory=list)
    pageset_batch: int = 0
    pageset_high_min: int = 0
    pageset_high_max: int = 0
    percpu_drift_mark: int = 0
    stat_threshold: int = 0
    flags: int = 0
    # zone_page_state(): enum zone_stat_item (NR_FREE_PAGES, ...) and the NUMA events
    # (enum numa_stat_item), StatRows of the allocator's arrays (include/linux/vmstat.py)
    vm_stat: "object" = None
    vm_numa_event: "object" = None
    # free_area[order].nr_free split by migratetype: a view into the buddy allocator's
    # counters (shape NR_PAGE_ORDERS x MIGRATE_TYPES); zeros until the allocator is set up.
    nr_free: "object" = None
    # per-cpu pagesets: one dict per CPU with count/high/batch/high_min/high_max
    per_cpu_pageset: list[dict[str, int]] = field(default_factory=list)
    # compaction state (mm/compaction.c), filled by the compaction issue
    compact_considered: int = 0
    compact_defer_shift: int = 0
    compact_order_failed: int = 0

    def managed_zone(self) -> bool:
        return self.managed_pages > 0

    def zone_spans_pfn(self, pfn: int) -> bool:
        return self.zone_start_pfn <= pfn < self.zone_end_pfn


@dataclass
class lru_gen_folio:
    """The part of ``struct lru_gen_folio`` that Python reads: the birth time (jiffies) of
    each generation (``timestamps``). Its lists, sizes, seqs and the PID controller's counters
    are ``MemMap`` arrays (``lrugen_*``), which compiled code reads."""

    timestamps: list[int] = field(default_factory=lambda: [0] * MAX_NR_GENS)


# enum lruvec_flags, as masks of lruvec.flags
LRUVEC_CGROUP_CONGESTED, LRUVEC_NODE_CONGESTED = 1 << 0, 1 << 1
# enum pgdat_flags, as masks of pglist_data.flags (PGDAT_WRITEBACK: kswapd isolated only
# folios under writeback)
PGDAT_WRITEBACK = 1 << 1
# enum vmscan_throttle_state: why a reclaimer sleeps on the node's reclaim_wait[]
VMSCAN_THROTTLE_WRITEBACK, VMSCAN_THROTTLE_ISOLATED, VMSCAN_THROTTLE_NOPROGRESS, VMSCAN_THROTTLE_CONGESTED = range(4)
NR_VMSCAN_THROTTLE = 4


@dataclass
class lruvec:
    """``struct lruvec`` of one memcg on one node (``mem_cgroup_lruvec``): ``memcg`` and
    ``nid`` index its lists in ``MemMap`` (``lruvec_head[memcg, nid, lru]``, ``lru_zone_size``);
    the recent cost of reclaiming each type is ``lruvec_cost[memcg, nid]`` there too
    (``lru_note_cost``, compiled). The Python part is the reclaim bookkeeping read once per
    reclaim pass: the WORKINGSET_ACTIVATE_* counts at the last reclaim cycle's end
    (``refaults``, ``snapshot_refaults``) and the LRUVEC_*_CONGESTED ``flags``."""

    memcg: int
    nid: int
    refaults: list[int] = field(default_factory=lambda: [0, 0])  # [WORKINGSET_ANON, WORKINGSET_FILE]
    flags: int = 0
    lrugen: lru_gen_folio = field(default_factory=lru_gen_folio)


@dataclass
class pglist_data:
    """``pg_data_t``: one NUMA node (``contig_page_data`` on UMA machines)."""

    node_id: int
    node_zones: list[zone] = field(default_factory=list)
    node_zonelists: list[list[zone]] = field(default_factory=lambda: [[], []])  # FALLBACK, NOFALLBACK
    nr_zones: int = 0  # highest populated zone index + 1
    node_start_pfn: int = 0
    node_present_pages: int = 0
    node_spanned_pages: int = 0
    node_mem_map: int = 0  # first pfn whose struct page this node's memmap holds
    totalreserve_pages: int = 0
    first_deferred_pfn: int = -1  # ULONG_MAX: no deferred struct page init
    min_unmapped_pages: int = 0
    min_slab_pages: int = 0
    flags: int = 0  # PGDAT_*
    # reclaim_throttle: reclaimers waiting for writeback, NR_THROTTLED_WRITTEN when the first began
    nr_writeback_throttled: int = 0
    nr_reclaim_start: int = 0
    reclaim_wait: list[list] = field(default_factory=lambda: [[] for _ in range(NR_VMSCAN_THROTTLE)])  # kthreads
    # kswapd / kcompactd (mm/vmscan.c, mm/compaction.c): the tasks are attached by later issues
    kswapd: object | None = None
    kswapd_order: int = 0
    kswapd_highest_zoneidx: int = 0
    kswapd_failures: int = 0
    deferred_split_nr_deferred: int = 0  # the THP deferred split shrinker's nr_deferred[nid] (mm/huge_memory.py)
    lruvec: "lruvec | None" = None  # __lruvec: the node's lruvec, the root memcg's (set by alloc_node_data)
    kcompactd: object | None = None
    kcompactd_max_order: int = 0
    kcompactd_highest_zoneidx: int = 0
    vm_stat: "object" = None  # enum node_stat_item: a StatRow of VmState.nstat (include/linux/vmstat.py)
    cpus: list[int] = field(default_factory=list)

    @property
    def node_end_pfn(self) -> int:
        return self.node_start_pfn + self.node_spanned_pages

    def populated_zones(self):
        return [z for z in self.node_zones if z.populated_zone()]


@dataclass
class NodeStates:
    """The ``node_states[]`` masks, as sets of node ids."""

    masks: dict[node_states, set[int]] = field(
        default_factory=lambda: {s: set() for s in node_states})

    def node_set_state(self, nid: int, state: node_states) -> None:
        self.masks[state].add(nid)

    def node_clear_state(self, nid: int, state: node_states) -> None:
        self.masks[state].discard(nid)

    def node_state(self, nid: int, state: node_states) -> bool:
        return nid in self.masks[state]

    def nodes(self, state: node_states) -> list[int]:
        return sorted(self.masks[state])

    def num_node_state(self, state: node_states) -> int:
        return len(self.masks[state])


# ---- iterators (include/linux/mmzone.h) ---------------------------------------------------------
def for_each_zone(k):
    """Every zone of every online node, empty ones included."""
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        yield from k.NODE_DATA(nid).node_zones


def for_each_populated_zone(k):
    return (z for z in for_each_zone(k) if z.populated_zone())


def zone_idx(k, name: str) -> int:
    """``zone_idx`` of the zone called ``name``: its index in every node's ``node_zones``."""
    return k.zone_names.index(name)
