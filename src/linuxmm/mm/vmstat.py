"""VM statistics (``mm/vmstat.c``), Linux 6.18: per-cpu thresholds and the item tables.

* per-cpu counter thresholds: ``calculate_normal_threshold``, ``calculate_pressure_threshold``
  and ``refresh_zone_stat_thresholds`` (which also sets ``percpu_drift_mark``);
* the 6.18 item lists of /proc/vmstat and /proc/zoneinfo for this configuration.

Counters are read from ``zone.vm_stat`` and ``pglist_data.vm_stat`` (keyed by the kernel's
enum names, e.g. ``NR_FREE_PAGES``, ``NR_FILE_MAPPED``; values in pages, ``NR_KERNEL_STACK_KB``
in kB; a missing key reads 0), free-list counts from ``zone.nr_free``, events from
``k.vm_events``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..include.linux.mmzone import MAX_RECLAIM_RETRIES, node_states
from .page_alloc import for_each_populated_zone, for_each_zone

if TYPE_CHECKING:
    from ..init.main import Kernel


def fls(x: int) -> int:
    """Find last set bit, 1-based (``fls(0) == 0``)."""
    return x.bit_length()


def num_online_cpus(k: "Kernel") -> int:
    return k.desc.nr_cpus


# ---- thresholds -------------------------------------------------------------------------


def calculate_normal_threshold(k: "Kernel", z) -> int:
    """Per-cpu drift allowed before folding: log-scaled by CPUs and zone size, at most 125."""
    mem = z.managed_pages >> (27 - k.arch.page_shift)  # 128 MiB units
    return min(125, 2 * fls(num_online_cpus(k)) * (1 + fls(mem)))


def calculate_pressure_threshold(k: "Kernel", z) -> int:
    """kswapd's reduced threshold: the LOW-MIN gap spread over the CPUs, 1..125."""
    distance = z.low_wmark_pages() - z.min_wmark_pages()
    return min(125, max(1, distance // num_online_cpus(k)))


def refresh_zone_stat_thresholds(k: "Kernel") -> None:
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        k.NODE_DATA(nid).stat_threshold = 0
    for z in for_each_populated_zone(k):
        pgdat = k.NODE_DATA(z.node)
        threshold = calculate_normal_threshold(k, z)
        z.stat_threshold = threshold
        pgdat.stat_threshold = max(threshold, pgdat.stat_threshold)  # the largest zone's
        tolerate_drift = z.low_wmark_pages() - z.min_wmark_pages()
        max_drift = num_online_cpus(k) * threshold
        if max_drift > tolerate_drift:  # never cleared once set, as in the kernel
            z.percpu_drift_mark = z.high_wmark_pages() + max_drift


def vmstat_late_init(k: "Kernel") -> None:
    """``late_initcall``: thresholds again, now that every CPU is up."""
    refresh_zone_stat_thresholds(k)


# ---- counters -----------------------------------------------------------------------------


def zone_page_state(z, item: str) -> int:
    return z.vm_stat.get(item, 0)


def zone_numa_event_state(z, item: str, name: str) -> int:
    """NUMA events; the allocator core keeps them under their /proc names (``numa_hit``)."""
    return z.vm_stat.get(item, z.vm_stat.get(name, 0))


def node_page_state(pgdat, item: str) -> int:
    return pgdat.vm_stat.get(item, 0)


def global_zone_page_state(k: "Kernel", item: str) -> int:
    return sum(zone_page_state(z, item) for z in for_each_zone(k))


def global_node_page_state(k: "Kernel", item: str) -> int:
    return sum(node_page_state(k.NODE_DATA(n), item) for n in k.node_states.nodes(node_states.N_ONLINE))


# ---- item tables (enum name, /proc name) ------------------------------------------------


def _items(names: str, rename: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Pair /proc names with enum names: the upper-cased name unless ``rename`` says otherwise."""
    rename = rename or {}
    return [(rename.get(n, n.upper()), n) for n in names.split()]


ZONE_STAT_ITEMS = _items(
    "nr_free_pages nr_free_pages_blocks nr_zone_inactive_anon nr_zone_active_anon "
    "nr_zone_inactive_file nr_zone_active_file nr_zone_unevictable nr_zone_write_pending "
    "nr_mlock nr_zspages nr_free_cma", {"nr_free_cma": "NR_FREE_CMA_PAGES"})

NUMA_EVENT_ITEMS = _items("numa_hit numa_miss numa_foreign numa_interleave numa_local numa_other",
                          {"numa_interleave": "NUMA_INTERLEAVE_HIT"})

NODE_STAT_ITEMS = _items(
    "nr_inactive_anon nr_active_anon nr_inactive_file nr_active_file nr_unevictable "
    "nr_slab_reclaimable nr_slab_unreclaimable nr_isolated_anon nr_isolated_file "
    "workingset_nodes workingset_refault_anon workingset_refault_file workingset_activate_anon "
    "workingset_activate_file workingset_restore_anon workingset_restore_file "
    "workingset_nodereclaim nr_anon_pages nr_mapped nr_file_pages nr_dirty nr_writeback nr_shmem "
    "nr_shmem_hugepages nr_shmem_pmdmapped nr_file_hugepages nr_file_pmdmapped "
    "nr_anon_transparent_hugepages nr_vmscan_write nr_vmscan_immediate_reclaim nr_dirtied "
    "nr_written nr_throttled_written nr_kernel_misc_reclaimable nr_foll_pin_acquired "
    "nr_foll_pin_released nr_kernel_stack nr_page_table_pages nr_sec_page_table_pages "
    "nr_iommu_pages nr_swapcached pgpromote_success pgpromote_candidate pgpromote_candidate_nrl "
    "pgdemote_kswapd pgdemote_direct pgdemote_khugepaged pgdemote_proactive nr_hugetlb "
    "nr_balloon_pages nr_kernel_file_pages",
    {"nr_slab_reclaimable": "NR_SLAB_RECLAIMABLE_B", "nr_slab_unreclaimable": "NR_SLAB_UNRECLAIMABLE_B",
     "nr_anon_pages": "NR_ANON_MAPPED", "nr_mapped": "NR_FILE_MAPPED", "nr_dirty": "NR_FILE_DIRTY",
     "nr_shmem_hugepages": "NR_SHMEM_THPS", "nr_file_hugepages": "NR_FILE_THPS",
     "nr_anon_transparent_hugepages": "NR_ANON_THPS", "nr_vmscan_immediate_reclaim": "NR_VMSCAN_IMMEDIATE",
     "nr_kernel_stack": "NR_KERNEL_STACK_KB", "nr_page_table_pages": "NR_PAGETABLE",
     "nr_sec_page_table_pages": "NR_SECONDARY_PAGETABLE", "nr_swapcached": "NR_SWAPCACHE"})

# shown in units of PMD-sized huge pages (``vmstat_item_print_in_thp``)
THP_ITEMS = {"NR_SHMEM_THPS", "NR_SHMEM_PMDMAPPED", "NR_FILE_THPS", "NR_FILE_PMDMAPPED", "NR_ANON_THPS"}

VM_STAT_ITEMS = _items("nr_dirty_threshold nr_dirty_background_threshold nr_memmap_pages "
                       "nr_memmap_boot_pages", {"nr_dirty_background_threshold": "NR_DIRTY_BG_THRESHOLD"})

_EVENTS_HEAD = "pgpgin pgpgout pswpin pswpout"
_EVENTS_BODY = (
    "pgfree pgactivate pgdeactivate pglazyfree pgfault pgmajfault pglazyfreed pgrefill pgreuse "
    "pgsteal_kswapd pgsteal_direct pgsteal_khugepaged pgsteal_proactive pgscan_kswapd "
    "pgscan_direct pgscan_khugepaged pgscan_proactive pgscan_direct_throttle pgscan_anon "
    "pgscan_file pgsteal_anon pgsteal_file zone_reclaim_success zone_reclaim_failed "
    "pginodesteal slabs_scanned kswapd_inodesteal kswapd_low_wmark_hit_quickly "
    "kswapd_high_wmark_hit_quickly pageoutrun pgrotated drop_pagecache drop_slab oom_kill "
    "numa_pte_updates numa_huge_pte_updates numa_hint_faults numa_hint_faults_local "
    "numa_pages_migrated pgmigrate_success pgmigrate_fail thp_migration_success "
    "thp_migration_fail thp_migration_split compact_migrate_scanned compact_free_scanned "
    "compact_isolated compact_stall compact_fail compact_success compact_daemon_wake "
    "compact_daemon_migrate_scanned compact_daemon_free_scanned htlb_buddy_alloc_success "
    "htlb_buddy_alloc_fail cma_alloc_success cma_alloc_fail unevictable_pgs_culled "
    "unevictable_pgs_scanned unevictable_pgs_rescued unevictable_pgs_mlocked "
    "unevictable_pgs_munlocked unevictable_pgs_cleared unevictable_pgs_stranded thp_fault_alloc "
    "thp_fault_fallback thp_fault_fallback_charge thp_collapse_alloc thp_collapse_alloc_failed "
    "thp_file_alloc thp_file_fallback thp_file_fallback_charge thp_file_mapped thp_split_page "
    "thp_split_page_failed thp_deferred_split_page thp_underused_split_page thp_split_pmd "
    "thp_scan_exceed_none_pte thp_scan_exceed_swap_pte thp_scan_exceed_share_pte thp_split_pud "
    "thp_zero_page_alloc thp_zero_page_alloc_failed thp_swpout thp_swpout_fallback "
    "balloon_inflate balloon_deflate balloon_migrate swap_ra swap_ra_hit swpin_zero swpout_zero "
    "ksm_swpin_copy cow_ksm zswpin zswpout zswpwb direct_map_level2_splits "
    "direct_map_level3_splits direct_map_level2_collapses direct_map_level3_collapses")
_EVENT_RENAME = {
    "zone_reclaim_success": "PGSCAN_ZONE_RECLAIM_SUCCESS", "zone_reclaim_failed": "PGSCAN_ZONE_RECLAIM_FAILED",
    "numa_pages_migrated": "NUMA_PAGE_MIGRATE", "compact_migrate_scanned": "COMPACTMIGRATE_SCANNED",
    "compact_free_scanned": "COMPACTFREE_SCANNED", "compact_isolated": "COMPACTISOLATED",
    "compact_stall": "COMPACTSTALL", "compact_fail": "COMPACTFAIL", "compact_success": "COMPACTSUCCESS",
    "compact_daemon_wake": "KCOMPACTD_WAKE", "compact_daemon_migrate_scanned": "KCOMPACTD_MIGRATE_SCANNED",
    "compact_daemon_free_scanned": "KCOMPACTD_FREE_SCANNED", "htlb_buddy_alloc_success": "HTLB_BUDDY_PGALLOC",
    "htlb_buddy_alloc_fail": "HTLB_BUDDY_PGALLOC_FAIL", "thp_scan_exceed_share_pte": "THP_SCAN_EXCEED_SHARED_PTE",
    **{f"unevictable_pgs_{w}": f"UNEVICTABLE_PG{w.upper()}"
       for w in ("culled", "scanned", "rescued", "mlocked", "munlocked", "cleared", "stranded")},
    **{f"direct_map_level{n}_{w}s": f"DIRECT_MAP_LEVEL{n}_{w.upper()}"
       for n in (2, 3) for w in ("split", "collapse")},
}
_NUMA_ONLY = {"numa_pte_updates", "numa_huge_pte_updates", "numa_hint_faults", "numa_hint_faults_local",
              "numa_pages_migrated", "zone_reclaim_success", "zone_reclaim_failed",
              "pgpromote_success", "pgpromote_candidate", "pgpromote_candidate_nrl"}


def _zone_suffix(name: str) -> str:
    """``TEXTS_FOR_ZONES``: pgalloc_dma, ..., pgalloc_high for HighMem."""
    return "high" if name == "HighMem" else name.lower()


def node_stat_items(k: "Kernel") -> list[tuple[str, str]]:
    return [(e, n) for e, n in NODE_STAT_ITEMS if k.config.numa or n not in _NUMA_ONLY]


def vm_event_items(k: "Kernel") -> list[tuple[str, str]]:
    per_zone = [(f"{ev}_{_zone_suffix(z).upper()}", f"{txt}_{_zone_suffix(z)}")
                for ev, txt in (("PGALLOC", "pgalloc"), ("ALLOCSTALL", "allocstall"),
                                ("PGSCAN_SKIP", "pgskip")) for z in k.zone_names]
    body = [(e, n) for e, n in _items(_EVENTS_BODY, _EVENT_RENAME)
            if (k.config.numa or n not in _NUMA_ONLY)
            and (k.config.cma or not n.startswith("cma_"))
            and (k.arch.name in ("x86_64", "i386") or not n.startswith("direct_map"))]
    return _items(_EVENTS_HEAD) + per_zone + body


def HPAGE_PMD_NR(k: "Kernel") -> int:
    return 1 << k.arch.pageblock_order


def _thp_scaled(k: "Kernel", item: str, pages: int) -> int:
    return pages // HPAGE_PMD_NR(k) if item in THP_ITEMS else pages


def free_area_counts(k: "Kernel", z) -> np.ndarray:
    """``free_area[order].nr_free`` per migratetype (orders x types); zeros before the allocator."""
    if z.nr_free is None:
        return np.zeros((k.arch.NR_PAGE_ORDERS, len(migratetype_names(k))), dtype=np.int64)
    return np.asarray(z.nr_free)


def migratetype_names(k: "Kernel") -> list[str]:
    names = ["Unmovable", "Movable", "Reclaimable", "HighAtomic"]
    return names + ["CMA"] * k.config.cma + ["Isolate"] * k.config.memory_isolation


def memmap_boot_pages(k: "Kernel") -> int:
    """``nr_memmap_boot_pages``: struct pages allocated at boot (vmemmap per present section)."""
    explicit = getattr(k, "nr_memmap_boot_pages", None)
    if isinstance(explicit, int):
        return explicit
    per_page = k.sizeof_struct_page
    if k.config.sparsemem:
        pages = len(k.present_sections) * k.PAGES_PER_SECTION
        return -(-pages * per_page // k.arch.PAGE_SIZE)
    total = 0  # FLATMEM: one mem_map per node, MAX_ORDER-aligned
    align = 1 << k.arch.MAX_PAGE_ORDER
    for nid in k.node_ids:
        p = k.NODE_DATA(nid)
        start = p.node_start_pfn // align * align
        end = -(-p.node_end_pfn // align) * align
        total += -(-(end - start) * per_page // k.arch.PAGE_SIZE) if p.node_spanned_pages else 0
    return total
