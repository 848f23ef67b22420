"""VM statistics and their /proc files (``mm/vmstat.c``), Linux 6.18.

Two halves, as in the kernel file:

* per-cpu counter thresholds: ``calculate_normal_threshold``, ``calculate_pressure_threshold``
  and ``refresh_zone_stat_thresholds`` (which also sets ``percpu_drift_mark``);
* the renderers of ``/proc/zoneinfo`` (``zoneinfo_show_print``), ``/proc/buddyinfo``
  (``frag_show_print``), ``/proc/pagetypeinfo`` (``pagetypeinfo_show``) and ``/proc/vmstat``
  (``vmstat_start``/``vmstat_show``), byte for byte as 6.18 prints them (kernel-reference §7).

Counters are read where they are counted (``include/linux/vmstat.py``): ``zone.vm_stat``,
``zone.vm_numa_event`` and ``pglist_data.vm_stat`` (rows of the compiled arrays, keyed by the
kernel's enum names, e.g. ``NR_FREE_PAGES``, ``NR_FILE_MAPPED``; values in pages,
``NR_KERNEL_STACK_KB`` in kB), free-list counts from ``zone.nr_free``, events from
``k.vm_events`` (indexed by ``enum vm_event_item``). The item tables below pair the enums with
their /proc names (``vmstat_text``); ``vm_event_items`` picks this configuration's events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..include.linux.mmzone import MAX_RECLAIM_RETRIES, for_each_populated_zone, for_each_zone, node_states
from ..include.linux.vmstat import (FOR_ALL_ZONES, NODE_STAT_ITEM, NUMA_STAT_ITEM,  # noqa: F401
                                    VM_EVENT_ITEM, ZONE_STAT_ITEM, global_node_page_state, global_zone_page_state,
                                    node_page_state, zone_event_type, zone_numa_event_state, zone_page_state)
from .page_writeback import global_dirty_limits

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


# ---- item tables (enum name, /proc name): ``vmstat_text`` ------------------------------------


def _items(enum: dict[str, int], rename: dict[str, str]) -> list[tuple[str, str]]:
    """Pair an enum's names with their /proc names: lower case unless ``rename`` says otherwise."""
    return [(e, rename.get(e, e.lower())) for e in enum]


ZONE_STAT_ITEMS = _items(ZONE_STAT_ITEM, {"NR_FREE_CMA_PAGES": "nr_free_cma"})

NUMA_EVENT_ITEMS = _items(NUMA_STAT_ITEM, {"NUMA_INTERLEAVE_HIT": "numa_interleave"})

NODE_STAT_ITEMS = _items(NODE_STAT_ITEM, {
    "NR_SLAB_RECLAIMABLE_B": "nr_slab_reclaimable", "NR_SLAB_UNRECLAIMABLE_B": "nr_slab_unreclaimable",
    "NR_ANON_MAPPED": "nr_anon_pages", "NR_FILE_MAPPED": "nr_mapped", "NR_FILE_DIRTY": "nr_dirty",
    "NR_SHMEM_THPS": "nr_shmem_hugepages", "NR_FILE_THPS": "nr_file_hugepages",
    "NR_ANON_THPS": "nr_anon_transparent_hugepages", "NR_VMSCAN_IMMEDIATE": "nr_vmscan_immediate_reclaim",
    "NR_KERNEL_STACK_KB": "nr_kernel_stack", "NR_PAGETABLE": "nr_page_table_pages",
    "NR_SECONDARY_PAGETABLE": "nr_sec_page_table_pages", "NR_SWAPCACHE": "nr_swapcached"})

# shown in units of PMD-sized huge pages (``vmstat_item_print_in_thp``)
THP_ITEMS = {"NR_SHMEM_THPS", "NR_SHMEM_PMDMAPPED", "NR_FILE_THPS", "NR_FILE_PMDMAPPED", "NR_ANON_THPS"}

VM_EVENT_ITEMS = _items(VM_EVENT_ITEM, {
    **{f"PGSCAN_SKIP_{z}": f"pgskip_{z.lower()}" for z in FOR_ALL_ZONES},
    "PGSCAN_ZONE_RECLAIM_SUCCESS": "zone_reclaim_success", "PGSCAN_ZONE_RECLAIM_FAILED": "zone_reclaim_failed",
    "NUMA_PAGE_MIGRATE": "numa_pages_migrated", "COMPACTMIGRATE_SCANNED": "compact_migrate_scanned",
    "COMPACTFREE_SCANNED": "compact_free_scanned", "COMPACTISOLATED": "compact_isolated",
    "COMPACTSTALL": "compact_stall", "COMPACTFAIL": "compact_fail", "COMPACTSUCCESS": "compact_success",
    "KCOMPACTD_WAKE": "compact_daemon_wake", "KCOMPACTD_MIGRATE_SCANNED": "compact_daemon_migrate_scanned",
    "KCOMPACTD_FREE_SCANNED": "compact_daemon_free_scanned", "HTLB_BUDDY_PGALLOC": "htlb_buddy_alloc_success",
    "HTLB_BUDDY_PGALLOC_FAIL": "htlb_buddy_alloc_fail", "THP_SCAN_EXCEED_SHARED_PTE": "thp_scan_exceed_share_pte",
    **{f"UNEVICTABLE_PG{w.upper()}": f"unevictable_pgs_{w}"
       for w in ("culled", "scanned", "rescued", "mlocked", "munlocked", "cleared", "stranded")},
    **{f"DIRECT_MAP_LEVEL{n}_{w.upper()}": f"direct_map_level{n}_{w}s" for n in (2, 3) for w in ("split", "collapse")},
})
_PER_ZONE_EVENTS = {f"{item}_{z}": z for item in ("PGALLOC", "ALLOCSTALL", "PGSCAN_SKIP") for z in FOR_ALL_ZONES}
_NUMA_ONLY = {"numa_pte_updates", "numa_huge_pte_updates", "numa_hint_faults", "numa_hint_faults_local",
              "numa_pages_migrated", "zone_reclaim_success", "zone_reclaim_failed",
              "pgpromote_success", "pgpromote_candidate", "pgpromote_candidate_nrl"}


def node_stat_items(k: "Kernel") -> list[tuple[str, str]]:
    return [(e, n) for e, n in NODE_STAT_ITEMS if k.config.numa or n not in _NUMA_ONLY]


def vm_event_items(k: "Kernel") -> list[tuple[str, str]]:
    """The events this configuration's kernel has: per-zone ones for its zone types only."""
    zones = {FOR_ALL_ZONES[zone_event_type(name)] for name in k.zone_names}
    return [(e, n) for e, n in VM_EVENT_ITEMS
            if _PER_ZONE_EVENTS.get(e, "NORMAL") in zones
            and (k.config.numa or n not in _NUMA_ONLY)
            and (k.config.cma or not n.startswith("cma_"))
            and (k.arch.name in ("x86_64", "i386") or not n.startswith("direct_map"))]


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
    if k.nr_memmap_boot_pages is not None:
        return k.nr_memmap_boot_pages
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


# ---- /proc/zoneinfo -----------------------------------------------------------------------


def zoneinfo_show(k: "Kernel") -> str:
    out: list[str] = []
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        pgdat = k.NODE_DATA(nid)
        first = next((z for z in pgdat.node_zones if z.populated_zone()), None)
        for z in pgdat.node_zones:
            out.append(zoneinfo_show_print(k, pgdat, z, z is first))
    return "".join(out)


def zoneinfo_show_print(k: "Kernel", pgdat, z, first_populated: bool) -> str:
    s = [f"Node {pgdat.node_id}, zone {z.name:>8s}"]
    if first_populated:
        s.append("\n  per-node stats")
        for item, name in node_stat_items(k):
            s.append(f"\n      {name:<12s} {_thp_scaled(k, item, node_page_state(pgdat, item))}")
    s.append(_zoneinfo_watermarks(k, z))
    s.append("\n        protection: (" + ", ".join(str(r) for r in z.lowmem_reserve) + ")")
    if not z.populated_zone():  # nothing else is useful for an empty zone
        return "".join(s) + "\n"
    for item, name in ZONE_STAT_ITEMS:
        s.append(f"\n      {name:<12s} {zone_page_state(z, item)}")
    if k.config.numa:
        for item, name in NUMA_EVENT_ITEMS:
            s.append(f"\n      {name:<12s} {zone_numa_event_state(z, item)}")
    s.append("\n  pagesets")
    for cpu in range(num_online_cpus(k)):
        s.append(_zoneinfo_pageset(k, z, cpu))
    unreclaimable = int(pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES)
    s.append(f"\n  node_unreclaimable:  {unreclaimable}\n  start_pfn:           {z.zone_start_pfn}\n")
    return "".join(s)


def _zoneinfo_watermarks(k: "Kernel", z) -> str:
    rows = [("pages free", zone_page_state(z, "NR_FREE_PAGES")), ("boost", z.watermark_boost),
            ("min", z.min_wmark_pages()), ("low", z.low_wmark_pages()), ("high", z.high_wmark_pages())]
    if k.version >= (5, 18):
        rows.append(("promo", z.promo_wmark_pages()))
    rows += [("spanned", z.spanned_pages), ("present", z.present_pages),
             ("managed", z.managed_pages), ("cma", z.cma_pages)]
    first, *rest = rows
    return f"\n  {first[0]:<14s} {first[1]}" + "".join(f"\n        {n:<8s} {v}" for n, v in rest)


def _zoneinfo_pageset(k: "Kernel", z, cpu: int) -> str:
    pcp = z.per_cpu_pageset[cpu] if cpu < len(z.per_cpu_pageset) else {}
    s = f"\n    cpu: {cpu}"
    if k.version >= (6, 7):
        fields, width = ("count", "high", "batch", "high_min", "high_max"), 9
    else:  # ≤6.6: one fixed high, narrower labels [M]
        fields, width = ("count", "high", "batch"), 6
    for f in fields:
        s += f"\n              {f + ':':<{width}s} {pcp.get(f, 0)}"
    return s + f"\n  vm stats threshold: {z.stat_threshold}"


# ---- /proc/buddyinfo and /proc/pagetypeinfo -----------------------------------------------


def frag_show(k: "Kernel") -> str:
    out = []
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        for z in k.NODE_DATA(nid).populated_zones():
            per_order = free_area_counts(k, z).sum(axis=1)
            out.append(f"Node {nid}, zone {z.name:>8s} " + "".join(f"{int(n):6d} " for n in per_order) + "\n")
    return "".join(out)


PAGETYPEINFO_FREE_CAP = 100000  # the free-list walk stops here and prints ">100000"


def pagetypeinfo_show(k: "Kernel") -> str:
    out = []
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        if not k.node_states.node_state(nid, node_states.N_MEMORY):
            continue
        pgdat = k.NODE_DATA(nid)
        out.append(f"Page block order: {k.arch.pageblock_order}\n"
                   f"Pages per block:  {1 << k.arch.pageblock_order}\n\n")
        out.append(pagetypeinfo_showfree(k, pgdat))
        out.append(pagetypeinfo_showblockcount(k, pgdat))
    return "".join(out)


def pagetypeinfo_showfree(k: "Kernel", pgdat) -> str:
    orders = range(k.arch.NR_PAGE_ORDERS)
    s = [f"{'Free pages count per migrate type at order':<43s} " + "".join(f"{o:6d} " for o in orders) + "\n"]
    names = migratetype_names(k)
    for z in pgdat.populated_zones():
        counts = free_area_counts(k, z)
        for mt, name in enumerate(names):
            s.append(f"Node {pgdat.node_id:4d}, zone {z.name:>8s}, type {name:>12s} ")
            for o in orders:
                n = int(counts[o, mt]) if mt < counts.shape[1] else 0
                capped = n >= PAGETYPEINFO_FREE_CAP
                s.append(f"{'>' if capped else ''}{min(n, PAGETYPEINFO_FREE_CAP):6d} ")
            s.append("\n")
    return "".join(s)


def pagetypeinfo_showblockcount(k: "Kernel", pgdat) -> str:
    names = migratetype_names(k)
    s = [f"\n{'Number of blocks type ':<23s}" + "".join(f"{n:>12s} " for n in names) + "\n"]
    for z in pgdat.populated_zones():
        counts = pageblock_migratetype_counts(k, z)
        s.append(f"Node {pgdat.node_id}, zone {z.name:>8s} " + "".join(f"{c:12d} " for c in counts) + "\n")
    return "".join(s)


def pageblock_migratetype_counts(k: "Kernel", z) -> list[int]:
    """Pageblocks of ``z`` by migratetype: from the allocator's pageblock flags once it runs;
    before, ``memmap_init``'s boot state (every block Movable)."""
    if k._mem_map is not None and k.config.sparsemem and len(migratetype_names(k)) == 5:
        from .buddy import pageblock_counts

        return pageblock_counts(k, k._mem_map, z)
    counts = [0] * len(migratetype_names(k))
    counts[1] = count_zone_pageblocks(k, z)
    return counts


def count_zone_pageblocks(k: "Kernel", z) -> int:
    """Block starts zone_start_pfn + i·pageblock_nr_pages that have an online struct page
    belonging to this zone (absent sections and other nodes' memory are skipped)."""
    step = 1 << k.arch.pageblock_order
    start, end = z.zone_start_pfn, z.zone_end_pfn
    total = 0
    for lo, hi in _zone_online_ranges(k, z, start, end):
        first = start + -(-(lo - start) // step) * step
        total += max(0, -(-(hi - first) // step))
    return total


def _zone_online_ranges(k: "Kernel", z, start: int, end: int) -> list[tuple[int, int]]:
    if k.config.sparsemem:
        per = k.PAGES_PER_SECTION
        ranges = [(max(start, nr * per), min(end, (nr + 1) * per)) for nr in sorted(k.present_sections)
                  if nr * per < end and (nr + 1) * per > start]
    else:
        ranges = [(start, end)]
    others = [(lo, hi) for lo, hi, nid in k.memblock.for_each_mem_pfn_range(None, k.arch.page_shift)
              if nid != z.node and lo < end and hi > start]
    for olo, ohi in others:
        ranges = [piece for lo, hi in ranges for piece in ((lo, min(hi, olo)), (max(lo, ohi), hi))
                  if piece[0] < piece[1]]
    return ranges


# ---- /proc/vmstat -------------------------------------------------------------------------


SECTOR_EVENTS = ("PGPGIN", "PGPGOUT")  # counted in 512-byte sectors, shown in KiB (vmstat_start)


def vmstat_show(k: "Kernel") -> str:
    lines = [(n, global_zone_page_state(k, e)) for e, n in ZONE_STAT_ITEMS]
    if k.config.numa:
        lines += [(n, sum(zone_numa_event_state(z, e) for z in for_each_zone(k)))
                  for e, n in NUMA_EVENT_ITEMS]
    lines += [(n, _thp_scaled(k, e, global_node_page_state(k, e))) for e, n in node_stat_items(k)]
    background, dirty = global_dirty_limits(k)
    lines += [("nr_dirty_threshold", dirty), ("nr_dirty_background_threshold", background),
              ("nr_memmap_pages", k.nr_memmap_pages),
              ("nr_memmap_boot_pages", memmap_boot_pages(k))]
    lines += [(n, int(k.vm_events[VM_EVENT_ITEM[e]]) // (2 if e in SECTOR_EVENTS else 1))
              for e, n in vm_event_items(k)]
    lines.append(("nr_unstable", 0))  # deprecated, kept for userspace
    return "".join(f"{n} {v}\n" for n, v in lines)
