"""Memory summaries (``mm/show_mem.c``), Linux 6.18: ``si_mem_available`` and ``__show_mem``.

``__show_mem`` prints the ``Mem-Info:`` block that the allocation-failure report
(``warn_alloc``) and the OOM killer's report (``dump_header``) share, byte for byte as 6.18's
``show_free_areas`` formats it.

MemAvailable estimates what userspace could allocate without swapping: free pages above the
reserves, plus the half of page cache and reclaimable kernel memory that is likely freeable,
each capped by the sum of the LOW watermarks (kernel-reference §8.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functools import partial

from ..include.linux.mmzone import MAX_RECLAIM_RETRIES, MIGRATE_TYPES, for_each_zone
from ..include.linux.vmstat import global_node_page_state, global_zone_page_state, node_page_state, zone_page_state

if TYPE_CHECKING:
    from ..init.main import Kernel


def si_mem_available(k: "Kernel") -> int:
    """Pages available to userspace, never negative."""
    # every zone counts, so an empty Movable zone adds its clamped LOW of 32
    wmark_low = sum(z.low_wmark_pages() for z in for_each_zone(k))
    available = global_zone_page_state(k, "NR_FREE_PAGES") - k.totalreserve_pages
    pagecache = global_node_page_state(k, "NR_ACTIVE_FILE") + global_node_page_state(k, "NR_INACTIVE_FILE")
    available += pagecache - min(pagecache // 2, wmark_low)
    reclaimable = (global_node_page_state(k, "NR_SLAB_RECLAIMABLE_B")
                   + global_node_page_state(k, "NR_KERNEL_MISC_RECLAIMABLE"))
    available += reclaimable - min(reclaimable // 2, wmark_low)
    return max(available, 0)


def _kb(k, pages: int) -> int:
    return pages * (k.arch.PAGE_SIZE >> 10)


MIGRATE_TYPE_LETTERS = "UMEHI"  # show_migration_types: Unmovable, Movable, rEclaimable, Highatomic, Isolate


def node_has_managed_zones(pgdat, max_zone_idx: int) -> bool:
    return any(z.managed_pages for z in pgdat.node_zones[:max_zone_idx + 1])


def shown_zones(k, max_zone_idx: int) -> list:
    """The populated zones a report shows: none above the allocation's highest zone."""
    return [z for p in k.pgdat.values() for z in p.node_zones if z.populated_zone() and z.idx <= max_zone_idx]


def show_free_areas(k, max_zone_idx: int | None = None) -> None:
    """The counters of ``Mem-Info:`` (``show_free_areas``): the global summary, one line per
    node and per zone (with ``lowmem_reserve[]``), the free lists per order with their
    migratetype letters, the hugetlb pools, page cache and swap. Every value is read from the
    stat store, so what the simulator does not produce yet prints 0."""
    from .buddy import zone_id

    log, a = k.log, k.mem_map
    max_zone_idx = len(k.zone_names) - 1 if max_zone_idx is None else max_zone_idx
    zones = shown_zones(k, max_zone_idx)
    g = partial(global_node_page_state, k)
    free_pcp = sum(int(a.pcp_count[:, zone_id(k, z)].sum()) for z in zones)
    log.warn(f"active_anon:{g('NR_ACTIVE_ANON')} inactive_anon:{g('NR_INACTIVE_ANON')} "
             f"isolated_anon:{g('NR_ISOLATED_ANON')}\n"
             f" active_file:{g('NR_ACTIVE_FILE')} inactive_file:{g('NR_INACTIVE_FILE')} "
             f"isolated_file:{g('NR_ISOLATED_FILE')}\n"
             f" unevictable:{g('NR_UNEVICTABLE')} dirty:{g('NR_FILE_DIRTY')} writeback:{g('NR_WRITEBACK')}\n"
             f" slab_reclaimable:{g('NR_SLAB_RECLAIMABLE_B')} slab_unreclaimable:{g('NR_SLAB_UNRECLAIMABLE_B')}\n"
             f" mapped:{g('NR_FILE_MAPPED')} shmem:{g('NR_SHMEM')} pagetables:{g('NR_PAGETABLE')}\n"
             f" sec_pagetables:{g('NR_SECONDARY_PAGETABLE')} bounce:0\n"
             f" kernel_misc_reclaimable:{g('NR_KERNEL_MISC_RECLAIMABLE')}\n"
             f" free:{global_zone_page_state(k, 'NR_FREE_PAGES')} free_pcp:{free_pcp} "
             f"free_cma:{global_zone_page_state(k, 'NR_FREE_CMA_PAGES')}")
    for nid in k.node_ids:
        if node_has_managed_zones(k.NODE_DATA(nid), max_zone_idx):
            log.warn(show_node_line(k, k.NODE_DATA(nid)))
    for z in zones:
        zid = zone_id(k, z)
        n = partial(zone_page_state, z)
        log.warn(f"Node {z.node} {z.name} free:{_kb(k, n('NR_FREE_PAGES'))}kB boost:{_kb(k, int(a.boost[zid]))}kB "
                 f"min:{_kb(k, z._watermark[0] + int(a.boost[zid]))}kB low:{_kb(k, z._watermark[1] + int(a.boost[zid]))}kB "
                 f"high:{_kb(k, z._watermark[2] + int(a.boost[zid]))}kB reserved_highatomic:{_kb(k, z.nr_reserved_highatomic)}KB "
                 f"free_highatomic:{_kb(k, int(a.nr_free_highatomic[zid]))}KB "
                 f"active_anon:{_kb(k, n('NR_ZONE_ACTIVE_ANON'))}kB inactive_anon:{_kb(k, n('NR_ZONE_INACTIVE_ANON'))}kB "
                 f"active_file:{_kb(k, n('NR_ZONE_ACTIVE_FILE'))}kB inactive_file:{_kb(k, n('NR_ZONE_INACTIVE_FILE'))}kB "
                 f"unevictable:{_kb(k, n('NR_ZONE_UNEVICTABLE'))}kB writepending:{_kb(k, n('NR_ZONE_WRITE_PENDING'))}kB "
                 f"zspages:{_kb(k, n('NR_ZSPAGES'))}kB present:{_kb(k, z.present_pages)}kB "
                 f"managed:{_kb(k, z.managed_pages)}kB mlocked:{_kb(k, n('NR_MLOCK'))}kB bounce:0kB "
                 f"free_pcp:{_kb(k, int(a.pcp_count[:, zid].sum()))}kB local_pcp:{_kb(k, int(a.pcp_count[0, zid]))}kB "
                 f"free_cma:{_kb(k, n('NR_FREE_CMA_PAGES'))}kB")
        log.warn("lowmem_reserve[]:" + "".join(f" {v}" for v in z.lowmem_reserve))
    for z in zones:
        log.warn(show_free_list(k, z))
    for nid in k.node_ids:
        hugetlb_show_meminfo_node(k, nid)
    log.warn(f"{global_node_page_state(k, 'NR_FILE_PAGES')} total pagecache pages")
    show_swap_cache_info(k)


def show_node_line(k, pgdat) -> str:
    def n(item: str) -> int:
        return _kb(k, node_page_state(pgdat, item))
    thp = (f" shmem_thp:{n('NR_SHMEM_THPS')}kB shmem_pmdmapped:{n('NR_SHMEM_PMDMAPPED')}kB "
           f"anon_thp:{n('NR_ANON_THPS')}kB")
    return (f"Node {pgdat.node_id} active_anon:{n('NR_ACTIVE_ANON')}kB inactive_anon:{n('NR_INACTIVE_ANON')}kB "
            f"active_file:{n('NR_ACTIVE_FILE')}kB inactive_file:{n('NR_INACTIVE_FILE')}kB "
            f"unevictable:{n('NR_UNEVICTABLE')}kB isolated(anon):{n('NR_ISOLATED_ANON')}kB "
            f"isolated(file):{n('NR_ISOLATED_FILE')}kB mapped:{n('NR_FILE_MAPPED')}kB dirty:{n('NR_FILE_DIRTY')}kB "
            f"writeback:{n('NR_WRITEBACK')}kB shmem:{n('NR_SHMEM')}kB{thp} "
            f"kernel_stack:{node_page_state(pgdat, 'NR_KERNEL_STACK_KB')}kB pagetables:{n('NR_PAGETABLE')}kB "
            f"sec_pagetables:{n('NR_SECONDARY_PAGETABLE')}kB "
            f"all_unreclaimable? {'yes' if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES else 'no'} "
            f"Balloon:{n('NR_BALLOON_PAGES')}kB")


def show_free_list(k, z) -> str:
    """``Node 0 Normal: 12*4kB (UME) ... = NkB``: blocks per order, the migratetypes holding some."""
    from .buddy import zone_id

    nr_free = k.mem_map.nr_free[zone_id(k, z)]
    parts, total = [], 0
    for order in range(nr_free.shape[0]):
        n = int(nr_free[order].sum())
        total += n << order
        kinds = "".join(MIGRATE_TYPE_LETTERS[t] for t in range(MIGRATE_TYPES) if nr_free[order, t])
        parts.append(f"{n}*{_kb(k, 1) << order}kB " + (f"({kinds}) " if n else ""))
    return f"Node {z.node} {z.name}: " + "".join(parts) + f"= {_kb(k, total)}kB"


def hugetlb_show_meminfo_node(k, nid: int) -> None:
    """One line per hstate (x86-64: 1 GiB then 2 MiB; elsewhere the pageblock size). No
    hugetlb pool is simulated yet: the counts are 0."""
    sizes = [1 << 20] if k.arch.name == "x86_64" else []
    sizes.append(_kb(k, 1 << k.arch.pageblock_order))
    for kb in sizes:
        k.log.warn(f"Node {nid} hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size={kb}kB")


def show_swap_cache_info(k) -> None:
    k.log.warn(f"{global_node_page_state(k, 'NR_SWAPCACHE')} pages in swap cache")
    k.log.warn(f"Free swap  = {_kb(k, k.nr_swap_pages)}kB")
    k.log.warn(f"Total swap = {_kb(k, k.total_swap_pages)}kB")


def __show_mem(k, max_zone_idx: int | None = None) -> None:
    """``__show_mem``: ``Mem-Info:``, the free areas, then RAM, highmem and reserved pages
    (present minus managed, over the populated zones) and, with CONFIG_CMA, the CMA pool."""
    k.log.warn("Mem-Info:")
    show_free_areas(k, max_zone_idx)
    populated = [z for p in k.pgdat.values() for z in p.node_zones if z.populated_zone()]
    k.log.warn(f"{sum(z.present_pages for z in populated)} pages RAM")
    k.log.warn(f"{sum(z.present_pages for z in populated if z.name == 'HighMem')} pages HighMem/MovableOnly")
    k.log.warn(f"{sum(z.present_pages - z.managed_pages for z in populated)} pages reserved")
    if k.config.cma:
        k.log.warn(f"{sum(z.cma_pages for z in populated)} pages cma reserved")
