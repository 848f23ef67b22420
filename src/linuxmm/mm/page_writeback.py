"""Dirty-page limits (``mm/page-writeback.c``), Linux 6.18.

``global_dirtyable_memory`` is what page cache may dirty: free pages above the reserves plus
the file LRU (minus highmem unless ``vm.highmem_is_dirtyable``). ``domain_dirty_limits``
turns it into the background and hard thresholds of ``vm.dirty_background_*`` and
``vm.dirty_*`` (ratios at per-page precision, bytes rounded up to pages); /proc/vmstat shows
them as ``nr_dirty_background_threshold`` and ``nr_dirty_threshold`` (kernel-reference §8.3).
The sysctl handlers keep each ratio/bytes pair exclusive, as the kernel's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.mmzone import zone_idx
from ..include.linux.vmstat import global_node_page_state, global_zone_page_state, zone_page_state
from ..kernel.kthread import kthread

if TYPE_CHECKING:
    from ..init.main import Kernel

UINT_MAX = (1 << 32) - 1


def highmem_dirtyable_memory(k: "Kernel", total: int) -> int:
    """Free-above-HIGH plus file LRU pages of the HighMem zones, never more than ``total``."""
    if "HighMem" not in k.zone_names:
        return 0
    x = 0
    for nid in k.node_ids:
        z = k.NODE_DATA(nid).node_zones[zone_idx(k, "HighMem")]
        if not z.populated_zone():
            continue
        nr_pages = zone_page_state(z, "NR_FREE_PAGES")
        nr_pages -= min(nr_pages, z.high_wmark_pages())
        nr_pages += zone_page_state(z, "NR_ZONE_INACTIVE_FILE") + zone_page_state(z, "NR_ZONE_ACTIVE_FILE")
        x += nr_pages
    return min(x, total)


def global_dirtyable_memory(k: "Kernel") -> int:
    x = global_zone_page_state(k, "NR_FREE_PAGES")
    x -= min(x, k.totalreserve_pages)  # the allocator's reserves are not dirtyable
    x += global_node_page_state(k, "NR_INACTIVE_FILE") + global_node_page_state(k, "NR_ACTIVE_FILE")
    if not k.vm.vm_highmem_is_dirtyable:
        x -= highmem_dirtyable_memory(k, x)
    return x + 1  # never 0


def domain_dirty_limits(k: "Kernel", available_memory: int, rt_task: bool = False,
                        dirty_limit: int = 0) -> tuple[int, int]:
    """(background, hard) thresholds in pages for ``available_memory`` dirtyable pages."""
    vm, page = k.vm, k.arch.PAGE_SIZE
    ratio = vm.vm_dirty_ratio * page // 100  # per-PAGE_SIZE precision
    bg_ratio = vm.dirty_background_ratio * page // 100
    thresh = -(-vm.vm_dirty_bytes // page) if vm.vm_dirty_bytes else ratio * available_memory // page
    bg_thresh = (-(-vm.dirty_background_bytes // page) if vm.dirty_background_bytes
                 else bg_ratio * available_memory // page)
    if rt_task:  # realtime and deadline tasks get a quarter more plus 1/32 of the global limit
        bg_thresh += bg_thresh // 4 + dirty_limit // 32
        thresh += thresh // 4 + dirty_limit // 32
    thresh = min(thresh, UINT_MAX)
    if bg_thresh >= thresh:
        bg_thresh = thresh // 2
    return bg_thresh, thresh


def global_dirty_limits(k: "Kernel") -> tuple[int, int]:
    return domain_dirty_limits(k, global_dirtyable_memory(k))


# ---- sysctl handlers: a written ratio clears the bytes knob and vice versa ---------------


def dirty_background_ratio_handler(k: "Kernel", old) -> None:
    k.vm.dirty_background_bytes = 0


def dirty_background_bytes_handler(k: "Kernel", old) -> None:
    k.vm.dirty_background_ratio = 0


def dirty_ratio_handler(k: "Kernel", old) -> None:
    if k.vm.vm_dirty_ratio != old:
        k.vm.vm_dirty_bytes = 0


def dirty_bytes_handler(k: "Kernel", old) -> None:
    if k.vm.vm_dirty_bytes != old:
        k.vm.vm_dirty_ratio = 0


# ---- the flusher ----------------------------------------------------------------------------


def default_bdi_init(k: "Kernel") -> None:
    """The writeback flusher of the machine's disk (``bdi_wq``'s ``wb_workfn``), a task on the
    clock that ``wb_wakeup`` wakes once pages are dirtied: none are before the page cache
    issue, so it sleeps until then."""
    k.kthreads["writeback"] = kthread(k.clock, "writeback", lambda: wb_workfn(k))


def wb_workfn(k: "Kernel") -> int | None:
    """One flusher run: write back what is due (nothing is dirty yet); sleep until woken."""
    return None
