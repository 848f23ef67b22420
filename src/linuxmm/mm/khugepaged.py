"""khugepaged's effect on reserves (``mm/khugepaged.c``), Linux 6.18.

While PMD-sized THP is enabled, khugepaged asks for enough free memory to keep pageblocks
whole: ``set_recommended_min_free_kbytes`` raises ``min_free_kbytes`` to 2 free pageblocks per
zone plus MIGRATE_PCPTYPES² for fallbacks (at most 5 % of lowmem), then recomputes the
watermarks. With THP off it restores the √lowmem value (kernel-reference §5.3). It runs when
khugepaged starts (``hugepage_init``), on THP mode changes and on memory hotplug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.huge_mm import hugepage_global_enabled
from ..include.linux.mmzone import MIGRATE_PCPTYPES, for_each_populated_zone
from .page_alloc import calculate_min_free_kbytes, gfp_zone_user, nr_free_buffer_pages, setup_per_zone_wmarks

if TYPE_CHECKING:
    from ..init.main import Kernel


def hugepage_pmd_enabled(k: "Kernel") -> bool:
    """The PMD order defaults to ``inherit``, so it follows the global always/madvise/never."""
    return hugepage_global_enabled(k)


def start_stop_khugepaged(k: "Kernel") -> None:
    k.khugepaged_thread = hugepage_pmd_enabled(k)
    set_recommended_min_free_kbytes(k)


def khugepaged_min_free_kbytes_update(k: "Kernel") -> None:
    """Hotplug and ``init_per_zone_wmark_min`` rerun: only once khugepaged is running."""
    if hugepage_pmd_enabled(k) and k.khugepaged_thread:
        set_recommended_min_free_kbytes(k)


def recommended_min_free_pages(k: "Kernel") -> int:
    if k.version >= (6, 1):  # [M] ZONE_MOVABLE no longer counted: it only has movable pages
        nr_zones = sum(1 for z in for_each_populated_zone(k) if z.idx <= gfp_zone_user(k))
    else:
        nr_zones = sum(1 for _ in for_each_populated_zone(k))
    pageblock_nr_pages = 1 << k.arch.pageblock_order
    recommended = pageblock_nr_pages * nr_zones * 2  # two free pageblocks per zone
    recommended += pageblock_nr_pages * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    return min(recommended, nr_free_buffer_pages(k) // 20)  # never above 5 % of lowmem


def set_recommended_min_free_kbytes(k: "Kernel") -> None:
    vm = k.vm
    if not hugepage_pmd_enabled(k):
        if k.version >= (6, 1):  # [M] THP turned off: back to the √lowmem value
            calculate_min_free_kbytes(k)
    else:
        recommended_kb = recommended_min_free_pages(k) << (k.arch.page_shift - 10)
        if recommended_kb > vm.min_free_kbytes:
            if vm.user_min_free_kbytes >= 0:
                k.log.info(f"raising min_free_kbytes from {vm.min_free_kbytes} to {recommended_kb} "
                           f"to help transparent hugepage allocations")
            vm.min_free_kbytes = recommended_kb
    setup_per_zone_wmarks(k)
