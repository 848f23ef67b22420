"""khugepaged: the thread that collapses THPs, and its effect on reserves (``mm/khugepaged.c``), Linux 6.18.

khugepaged is a task on the simulated clock (``kernel/kthread.py``), started by
``hugepage_init`` while PMD-sized THP is enabled. An mm enters its list
(``khugepaged_enter_vma``) when one of its VMAs may hold a THP under the THP policy (always,
or madvise with MADV_HUGEPAGE), which wakes khugepaged if the list was empty; it leaves at
exit. Each run scans (``khugepaged_do_scan``: the collapse itself comes with a later issue)
and then sleeps ``scan_sleep_millisecs`` (10 s) while there is an mm to scan, or until woken.

While PMD-sized THP is enabled, khugepaged asks for enough free memory to keep pageblocks
whole: ``set_recommended_min_free_kbytes`` raises ``min_free_kbytes`` to 2 free pageblocks per
zone plus MIGRATE_PCPTYPES² for fallbacks (at most 5 % of lowmem), then recomputes the
watermarks. With THP off it restores the √lowmem value (kernel-reference §5.3). It runs when
khugepaged starts (``hugepage_init``), on THP mode changes and on memory hotplug: the allocator's
``init_per_zone_wmark_min`` calls it through the hook ``khugepaged_init`` puts on the kernel
object, so mm/page_alloc.py (below this file) never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.huge_mm import hugepage_global_enabled, thp_vma_allowable
from ..include.linux.mmzone import MIGRATE_PCPTYPES, for_each_populated_zone
from ..kernel.kthread import kthread
from ..kernel.timer import NSEC_PER_MSEC
from .page_alloc import calculate_min_free_kbytes, gfp_zone_user, nr_free_buffer_pages, setup_per_zone_wmarks

if TYPE_CHECKING:
    from ..init.main import Kernel


def khugepaged_init(k: "Kernel") -> None:
    """From ``hugepage_init``: from now on ``init_per_zone_wmark_min`` reruns khugepaged's
    reserve update (``khugepaged_min_free_kbytes_update``) through the kernel object."""
    k.khugepaged_min_free_kbytes_update = khugepaged_min_free_kbytes_update


def hugepage_pmd_enabled(k: "Kernel") -> bool:
    """The PMD order defaults to ``inherit``, so it follows the global always/madvise/never."""
    return hugepage_global_enabled(k)


def start_stop_khugepaged(k: "Kernel") -> None:
    if hugepage_pmd_enabled(k) and k.khugepaged_thread is None:  # kthread_run: it runs at once
        k.khugepaged_thread = k.kthreads["khugepaged"] = kthread(k.clock, "khugepaged", lambda: khugepaged(k))
        k.khugepaged_thread.wake_up()
    elif not hugepage_pmd_enabled(k) and k.khugepaged_thread is not None:  # kthread_stop
        k.khugepaged_thread.stop()
        del k.kthreads["khugepaged"]
        k.khugepaged_thread = None
    set_recommended_min_free_kbytes(k)


def khugepaged(k: "Kernel") -> int | None:
    """One run: scan the mms on the list (``khugepaged_do_scan``), then ``khugepaged_wait_work``:
    sleep scan_sleep_millisecs if there is work, else until an mm enters."""
    if k.khugepaged_mm_slots:
        return k.khugepaged_scan_sleep_millisecs * NSEC_PER_MSEC
    return None


def khugepaged_enter_vma(k: "Kernel", task, vma) -> None:
    """Put the mm on khugepaged's list if ``vma`` may hold a PMD-sized THP (TVA_KHUGEPAGED)."""
    if task.pid in k.khugepaged_mm_slots or not hugepage_pmd_enabled(k) or not thp_vma_allowable(k, vma):
        return
    k.khugepaged_mm_slots.append(task.pid)  # __khugepaged_enter
    if len(k.khugepaged_mm_slots) == 1:
        k.khugepaged_thread.wake_up()


def khugepaged_exit(k: "Kernel", task) -> None:
    if task.pid in k.khugepaged_mm_slots:
        k.khugepaged_mm_slots.remove(task.pid)


def khugepaged_min_free_kbytes_update(k: "Kernel") -> None:
    """Hotplug and ``init_per_zone_wmark_min`` rerun: only once khugepaged is running."""
    if hugepage_pmd_enabled(k) and k.khugepaged_thread is not None:
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
