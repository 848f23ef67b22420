"""Memory summaries (``mm/show_mem.c``), Linux 6.18: ``si_mem_available``.

MemAvailable estimates what userspace could allocate without swapping: free pages above the
reserves, plus the half of page cache and reclaimable kernel memory that is likely freeable,
each capped by the sum of the LOW watermarks (kernel-reference §8.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.mmzone import MIGRATE_TYPES, for_each_zone
from ..include.linux.vmstat import global_node_page_state, global_zone_page_state

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


def show_free_areas(k) -> None:
    """The ``Mem-Info:`` block of an allocation failure or OOM report (``show_free_areas``)."""
    from .buddy import zone_id

    log = k.log
    a = k.mem_map
    zones = [z for p in k.pgdat.values() for z in p.node_zones if z.populated_zone()]

    def zs(z, item):
        return z.vm_stat[item]

    free = sum(zs(z, "NR_FREE_PAGES") for z in zones)
    free_pcp = int(a.pcp_count.sum())
    log.warn("Mem-Info:")
    log.warn(f"active_anon:0 inactive_anon:0 isolated_anon:0\n active_file:0 inactive_file:0 isolated_file:0\n"
             f" unevictable:0 dirty:0 writeback:0\n slab_reclaimable:0 slab_unreclaimable:0\n"
             f" mapped:0 shmem:0 pagetables:0\n sec_pagetables:0 bounce:0\n kernel_misc_reclaimable:0\n"
             f" free:{free} free_pcp:{free_pcp} free_cma:0")
    for nid in k.node_ids:
        log.warn(f"Node {nid} active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB "
                 "unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB "
                 "shmem:0kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB kernel_stack:0kB pagetables:0kB "
                 "sec_pagetables:0kB all_unreclaimable? no Balloon:0kB")
    for z in zones:
        zid = zone_id(k, z)
        pcp = int(a.pcp_count[:, zid].sum())
        log.warn(f"Node {z.node} {z.name} free:{_kb(k, zs(z, 'NR_FREE_PAGES'))}kB boost:{_kb(k, int(a.boost[zid]))}kB "
                 f"min:{_kb(k, z._watermark[0] + int(a.boost[zid]))}kB low:{_kb(k, z._watermark[1] + int(a.boost[zid]))}kB "
                 f"high:{_kb(k, z._watermark[2] + int(a.boost[zid]))}kB reserved_highatomic:{_kb(k, z.nr_reserved_highatomic)}KB "
                 f"free_highatomic:{_kb(k, int(a.nr_free_highatomic[zid]))}KB active_anon:0kB "
                 f"inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB "
                 f"zspages:0kB present:{_kb(k, z.present_pages)}kB managed:{_kb(k, z.managed_pages)}kB "
                 f"mlocked:0kB bounce:0kB free_pcp:{_kb(k, pcp)}kB local_pcp:{_kb(k, int(a.pcp_count[0, zid]))}kB "
                 "free_cma:0kB")
        log.warn("lowmem_reserve[]:" + "".join(f" {v}" for v in z.lowmem_reserve))
    letters = "UMEHI"
    for z in zones:
        nr_free = a.nr_free[zone_id(k, z)]
        parts, total = [], 0
        for order in range(nr_free.shape[0]):
            n = int(nr_free[order].sum())
            total += n << order
            kinds = "".join(letters[t] for t in range(MIGRATE_TYPES) if nr_free[order, t])
            parts.append(f"{n}*{_kb(k, 1) << order}kB " + (f"({kinds}) " if n else ""))
        log.warn(f"Node {z.node} {z.name}: " + "".join(parts) + f"= {_kb(k, total)}kB")
    log.warn("0 total pagecache pages")
    log.warn("0 pages in swap cache")
    log.warn("Free swap  = 0kB")
    log.warn("Total swap = 0kB")
    present = sum(p.node_present_pages for p in k.pgdat.values())
    log.warn(f"{present} pages RAM")
    log.warn("0 pages HighMem/MovableOnly")
    log.warn(f"{present - k.totalram_pages} pages reserved")
