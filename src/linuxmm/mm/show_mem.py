"""Memory summaries (``mm/show_mem.c``), Linux 6.18: ``si_mem_available``.

MemAvailable estimates what userspace could allocate without swapping: free pages above the
reserves, plus the half of page cache and reclaimable kernel memory that is likely freeable,
each capped by the sum of the LOW watermarks (kernel-reference §8.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import for_each_zone
from .vmstat import global_node_page_state, global_zone_page_state

if TYPE_CHECKING:
    from ..init.main import Kernel


def si_mem_available(k: "Kernel") -> int:
    """Pages available to userspace, never negative."""
    # every zone counts, so an empty Movable zone adds its clamped LOW of 32
    wmark_low = sum(z.low_wmark_pages() for z in for_each_zone(k))
    available = global_zone_page_state(k, "NR_FREE_PAGES") - getattr(k, "totalreserve_pages", 0)
    pagecache = global_node_page_state(k, "NR_ACTIVE_FILE") + global_node_page_state(k, "NR_INACTIVE_FILE")
    available += pagecache - min(pagecache // 2, wmark_low)
    reclaimable = (global_node_page_state(k, "NR_SLAB_RECLAIMABLE_B")
                   + global_node_page_state(k, "NR_KERNEL_MISC_RECLAIMABLE"))
    available += reclaimable - min(reclaimable // 2, wmark_low)
    return max(available, 0)

