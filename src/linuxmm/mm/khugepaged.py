"""khugepaged and MADV_COLLAPSE: collapsing small pages into a THP (``mm/khugepaged.c``), Linux 6.18.

A newcomer's map. Collapse turns the 512 ptes of one PMD-aligned range of private anonymous
memory into one PMD mapping a new THP. Both callers go through the same steps:
``hpage_collapse_scan_pmd`` looks at every pte (none or the zero page, swap, shared,
young) and decides whether the range is worth it; ``collapse_huge_page`` allocates and
charges the THP (``alloc_charge_folio``: thp_collapse_alloc, thp_collapse_alloc_failed),
revalidates the VMA (``hugepage_vma_revalidate``), reads the swapped-out pages back
(``__collapse_huge_page_swapin``), checks the pages once more under the locks
(``__collapse_huge_page_isolate``), copies every page into the THP (none and zero ptes give
zero pages: the token model carries every line), frees the small pages and installs the PMD
over the emptied pte table, which is deposited under it (``__collapse_huge_page_copy``,
``map_anon_folio_pmd``). The compiled part starts at the isolation, where the kernel holds
the mmap write lock: nothing runs between its steps here, so the kernel's clearing of the
pmd during the isolation (``pmdp_collapse_flush``) and its restoring on failure leave no
trace but the TLB flush.

* khugepaged (````khugepaged_collapse_control````) enforces the sysfs limits under
  /sys/kernel/mm/transparent_hugepage/khugepaged/ (max_ptes_none, max_ptes_swap,
  max_ptes_shared) and wants young ptes (referenced ones; half of them when it must swap
  in). It is a task on the simulated clock (``kernel/kthread.py``), started by
  ``hugepage_init`` while PMD-sized THP is enabled. An mm enters its list
  (``khugepaged_enter_vma``) when one of its VMAs may hold a THP under the policy (always, or
  madvise with MADV_HUGEPAGE), which wakes khugepaged if the list was empty; it leaves at
  exit. Each run (``khugepaged_do_scan``) scans up to ``pages_to_scan`` ptes' worth over the
  list (``khugepaged_scan_mm_slot``: a skipped VMA counts 1, each PMD range 512), counting
  pages_collapsed and, each time the cursor passes the end of the list, full_scans; then it
  sleeps ``scan_sleep_millisecs`` while there is an mm to scan, or until woken.
* MADV_COLLAPSE (``madvise_collapse``) is synchronous and ignores those limits and the
  sysfs policy (6.18's TVA_FORCED_COLLAPSE: only VM_NOHUGEPAGE and prctl's THP disable
  refuse it); it succeeds when every PMD range of the advised range is a THP afterwards
  (an existing PMD mapping counts), else its errno says why (``madvise_collapse_errno``):
  ENOMEM (no THP could be allocated), EBUSY (memcg charge), EAGAIN (pages busy: a
  reference or lock held elsewhere, off the LRU), EINVAL (anything else: an empty range, a
  VMA that may hold no THP).

Simplifications: collapse of page-cache and shmem ranges (``collapse_file``,
``hpage_collapse_scan_file``) is not simulated: MADV_COLLAPSE of a file VMA is EINVAL and
khugepaged skips them; the node choice for the new THP (``hpage_collapse_find_target_node``)
is the allocating CPU's node; ``folio_maybe_mapped_shared`` of a pte-mapped large folio is
"some page of it is mapped twice" (the kernel tracks the mms mapping it); the THP's memcg
charge does not reclaim (the THP fault's charge does not either); a swap-in for collapse
counts as a page fault (PGFAULT), where the kernel's direct ``do_swap_page`` call counts
only PGMAJFAULT. When its THP allocation fails, khugepaged ends the run and sleeps
``alloc_sleep_millisecs`` (the kernel sleeps that long inside the run, then scans on and
gives up at the second failure).

While PMD-sized THP is enabled, khugepaged asks for enough free memory to keep pageblocks
whole: ``set_recommended_min_free_kbytes`` raises ``min_free_kbytes`` to 2 free pageblocks per
zone plus MIGRATE_PCPTYPES² for fallbacks (at most 5 % of lowmem), then recomputes the
watermarks. With THP off it restores the √lowmem value (kernel-reference §5.3). It runs when
khugepaged starts (``hugepage_init``), on THP mode changes and on memory hotplug: the allocator's
``init_per_zone_wmark_min`` calls it through the hook ``khugepaged_init`` puts on the kernel
object, so mm/page_alloc.py (below this file) never imports it.
"""

from __future__ import annotations

import errno
import re
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.huge_mm import (HPAGE_PMD_NR, HPAGE_PMD_ORDER, hugepage_global_enabled, thp_vma_allowable,
                                     vma_thp_disabled)
from ..include.linux.mm_types import (MMC_MEMCG, MMC_PGD, MMF_DISABLE_THP_COMPLETELY, VM_HUGETLB, VM_SPECIAL,
                                      find_vma, vma_is_anonymous)
from ..include.linux.mmzone import MIGRATE_PCPTYPES, for_each_populated_zone
from ..include.linux.page_flags import (PG_head_mask, PG_locked_mask, PG_lru_mask, PG_referenced_mask,
                                        PG_swapcache_mask, PG_young)
from ..include.linux.sched import TASK_RUNNING
from ..include.linux.vmstat import (NR_ANON_MAPPED, NR_ANON_THPS, THP_COLLAPSE_ALLOC, THP_COLLAPSE_ALLOC_FAILED,
                                    THP_SCAN_EXCEED_NONE_PTE, THP_SCAN_EXCEED_SHARED_PTE, THP_SCAN_EXCEED_SWAP_PTE)
from ..kernel.kthread import kthread
from ..kernel.timer import NSEC_PER_MSEC
from . import buddy as B
from . import memory as M
from .memcontrol import charge_memcg, count_memcg_folio_events, mod_memcg_folio_state
from .page_alloc import (alloc_pages, calculate_min_free_kbytes, gfp_zone_user, nr_free_buffer_pages,
                         setup_per_zone_wmarks)
from .pgtable import (PTE_KIND_MARKER, PTE_KIND_MIGRATION, PTE_KIND_NONE, PTE_KIND_PRESENT, VP_CPU, VP_LEVELS,
                      VP_PMD_LEVEL, VP_SWP_FMT, VP_ZERO_PFN, _PAGE_ACCESSED, _PAGE_PSE, _PAGE_SPECIAL,
                      entry_has, entry_present, pt_index, pte_kind, pte_none, pte_pfn)
from .swap import folio_put, lru_add_drain, lru_add_drain_all
from .swap_state import do_swap_page

if TYPE_CHECKING:
    from ..init.main import Kernel

# enum scan_result: why a range was or was not collapsed (the kernel's order)
(SCAN_FAIL, SCAN_SUCCEED, SCAN_PMD_NULL, SCAN_PMD_NONE, SCAN_PMD_MAPPED, SCAN_EXCEED_NONE_PTE, SCAN_EXCEED_SWAP_PTE,
 SCAN_EXCEED_SHARED_PTE, SCAN_PTE_NON_PRESENT, SCAN_PTE_UFFD_WP, SCAN_PTE_MAPPED_HUGEPAGE, SCAN_PAGE_RO,
 SCAN_LACK_REFERENCED_PAGE, SCAN_PAGE_NULL, SCAN_SCAN_ABORT, SCAN_PAGE_COUNT, SCAN_PAGE_LRU, SCAN_PAGE_LOCK,
 SCAN_PAGE_ANON, SCAN_PAGE_COMPOUND, SCAN_ANY_PROCESS, SCAN_VMA_NULL, SCAN_VMA_CHECK, SCAN_ADDRESS_RANGE,
 SCAN_DEL_PAGE_LRU, SCAN_ALLOC_HUGE_PAGE_FAIL, SCAN_CGROUP_CHARGE_FAIL, SCAN_TRUNCATED, SCAN_PAGE_HAS_PRIVATE,
 SCAN_STORE_FAILED, SCAN_COPY_MC, SCAN_PAGE_FILLED) = range(32)

# struct collapse_control as the compiled scan reads it: who collapses, and the limits it keeps
CC_IS_KHUGEPAGED, CC_MAX_PTES_NONE, CC_MAX_PTES_SWAP, CC_MAX_PTES_SHARED = 0, 1, 2, 3
NR_CC = 4
HPAGE_PMD_SIZE = HPAGE_PMD_NR << 12


def khugepaged_init(k: "Kernel") -> None:
    """From ``hugepage_init``: the sysfs defaults (``khugepaged_init``: 8 PMDs' worth of ptes
    per wake-up; up to 511 none ptes, 64 swap ptes, 256 shared ptes per collapse); from now
    on ``init_per_zone_wmark_min`` reruns khugepaged's reserve update
    (``khugepaged_min_free_kbytes_update``) through the kernel object."""
    k.khugepaged_pages_to_scan = HPAGE_PMD_NR * 8
    k.khugepaged_max_ptes_none = HPAGE_PMD_NR - 1
    k.khugepaged_max_ptes_swap = HPAGE_PMD_NR // 8
    k.khugepaged_max_ptes_shared = HPAGE_PMD_NR // 2
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
        k.khugepaged_scan_mm_slot = None
    set_recommended_min_free_kbytes(k)


def khugepaged_wake_up(k: "Kernel") -> None:
    """``wake_up_interruptible(&khugepaged_wait)``."""
    if k.khugepaged_thread is not None:
        k.khugepaged_thread.wake_up()


# ---- the compiled scan and collapse of one PMD range ---------------------------------------------


@njit(cache=True)
def find_pmd_or_thp_or_none(a, vs, pgd, address):
    """The pmd entry of ``address``: (SCAN_SUCCEED with a pte table under it, SCAN_PMD_MAPPED
    for a huge pmd, SCAN_PMD_NONE for an empty one, SCAN_PMD_NULL when no PMD table exists
    or the entry is not present), its table row and index."""
    level = vs.vp[VP_PMD_LEVEL]
    row = M.pt_offset(a, vs, pgd, address, level)
    if row < 0:
        return SCAN_PMD_NULL, -1, -1
    idx = pt_index(vs, level, address)
    entry = vs.pt[row, idx]
    if pte_none(entry):
        return SCAN_PMD_NONE, row, idx
    if not entry_present(entry):
        return SCAN_PMD_NULL, row, idx
    if entry_has(entry, _PAGE_PSE):
        return SCAN_PMD_MAPPED, row, idx
    return SCAN_SUCCEED, row, idx


@njit(cache=True)
def folio_maybe_mapped_shared(a, head):
    """``folio_maybe_mapped_shared``: a small folio mapped more than once; a large one mapped
    by a PMD and more, or with a page mapped twice (the kernel also tracks which mms map
    it; not modelled)."""
    if not a.flags[head] & PG_head_mask:
        return a.mapcount[head] > 1
    nr = np.int64(1) << a.order[head]
    ptes = a.mapcount[head:head + nr]
    entire = M.folio_entire_mapcount(a, head)
    if entire + ptes.sum() <= 1:
        return False
    return entire > 0 or ptes.max() > 1


@njit(cache=True)
def is_refcount_suitable(a, head):
    """No references but the mappings' and the swap cache's: no GUP pin, no other holder."""
    nr = np.int64(1) << a.order[head]
    expected = a.mapcount[head:head + nr].sum() + M.folio_entire_mapcount(a, head)
    if a.flags[head] & PG_swapcache_mask:
        expected += nr
    return a.refcount[head] == expected


@njit(cache=True)
def is_zero_pte(vs, entry):
    return entry_present(entry) and pte_pfn(entry) == vs.vp[VP_ZERO_PFN]


@njit(cache=True)
def pte_referenced(a, entry, head):
    """khugepaged's young test: the pte, or the folio (PG_young, PG_referenced)."""
    return (entry_has(entry, _PAGE_ACCESSED) or (a.flags[head] & np.uint64(1 << PG_young)) != 0
            or (a.flags[head] & PG_referenced_mask) != 0)


@njit(cache=True)
def hpage_collapse_scan_ptes(a, vs, ptrow, cc):
    """``hpage_collapse_scan_pmd``'s look at the 512 ptes of table ``ptrow``: (result,
    referenced, unmapped). Swap entries (any non-present entry is one to ``is_swap_pte``)
    and none or zero-page ptes count against khugepaged's max_ptes_swap/max_ptes_none; every
    mapped page must be an anonymous folio on the LRU, unlocked, with no extra reference;
    khugepaged also wants a young page (half of them young when it must swap in). 6.18 no
    longer asks for a writable pte (SCAN_PAGE_RO is gone: read-only anonymous memory
    collapses too, as this host's 6.18 shows, tests/test_khugepaged.py)."""
    fmt = vs.vp[VP_SWP_FMT]
    khugepaged = cc[CC_IS_KHUGEPAGED] != 0
    referenced = unmapped = none_or_zero = shared = 0
    for i in range(HPAGE_PMD_NR):
        entry = vs.pt[ptrow, i]
        kind = pte_kind(entry, fmt)
        if kind != PTE_KIND_NONE and kind != PTE_KIND_PRESENT:
            unmapped += 1
            if khugepaged and unmapped > cc[CC_MAX_PTES_SWAP]:
                vs.vm_events[THP_SCAN_EXCEED_SWAP_PTE] += 1
                return SCAN_EXCEED_SWAP_PTE, referenced, unmapped
            continue
        if kind == PTE_KIND_NONE or is_zero_pte(vs, entry):
            none_or_zero += 1
            if khugepaged and none_or_zero > cc[CC_MAX_PTES_NONE]:
                vs.vm_events[THP_SCAN_EXCEED_NONE_PTE] += 1
                return SCAN_EXCEED_NONE_PTE, referenced, unmapped
            continue
        if entry_has(entry, _PAGE_SPECIAL):  # vm_normal_page: no struct page to collapse
            return SCAN_PAGE_NULL, referenced, unmapped
        head = B.compound_head(a, pte_pfn(entry))
        if not a.mapping[head] & M.PAGE_MAPPING_ANON:
            return SCAN_PAGE_ANON, referenced, unmapped
        if folio_maybe_mapped_shared(a, head):
            shared += 1
            if khugepaged and shared > cc[CC_MAX_PTES_SHARED]:
                vs.vm_events[THP_SCAN_EXCEED_SHARED_PTE] += 1
                return SCAN_EXCEED_SHARED_PTE, referenced, unmapped
        if not a.flags[head] & PG_lru_mask:
            return SCAN_PAGE_LRU, referenced, unmapped
        if a.flags[head] & PG_locked_mask:
            return SCAN_PAGE_LOCK, referenced, unmapped
        if not is_refcount_suitable(a, head):
            return SCAN_PAGE_COUNT, referenced, unmapped
        if khugepaged and pte_referenced(a, entry, head):
            referenced += 1
    if khugepaged and (not referenced or (unmapped and referenced < HPAGE_PMD_NR // 2)):
        return SCAN_LACK_REFERENCED_PAGE, referenced, unmapped
    return SCAN_SUCCEED, referenced, unmapped


@njit(cache=True)
def __collapse_huge_page_isolate(a, vs, ptrow, cc):
    """The check before the copy, with the swapped-out pages back: every pte none, zero or
    mapping an anonymous folio that is unlocked, on the LRU and referenced only by its
    mappings (the kernel locks and isolates them here; nothing else runs meanwhile in the
    simulator, so checking is isolating). Returns the result."""
    khugepaged = cc[CC_IS_KHUGEPAGED] != 0
    none_or_zero = shared = referenced = 0
    for i in range(HPAGE_PMD_NR):
        entry = vs.pt[ptrow, i]
        if pte_none(entry) or is_zero_pte(vs, entry):
            none_or_zero += 1
            if khugepaged and none_or_zero > cc[CC_MAX_PTES_NONE]:
                vs.vm_events[THP_SCAN_EXCEED_NONE_PTE] += 1
                return SCAN_EXCEED_NONE_PTE
            continue
        if not entry_present(entry):
            return SCAN_PTE_NON_PRESENT
        if entry_has(entry, _PAGE_SPECIAL):
            return SCAN_PAGE_NULL
        head = B.compound_head(a, pte_pfn(entry))
        if folio_maybe_mapped_shared(a, head):
            shared += 1
            if khugepaged and shared > cc[CC_MAX_PTES_SHARED]:
                vs.vm_events[THP_SCAN_EXCEED_SHARED_PTE] += 1
                return SCAN_EXCEED_SHARED_PTE
        if a.flags[head] & PG_locked_mask:
            return SCAN_PAGE_LOCK
        if not is_refcount_suitable(a, head):
            return SCAN_PAGE_COUNT
        if not a.flags[head] & PG_lru_mask:
            return SCAN_DEL_PAGE_LRU
        if khugepaged and pte_referenced(a, entry, head):
            referenced += 1
    if khugepaged and not referenced:
        return SCAN_LACK_REFERENCED_PAGE
    return SCAN_SUCCEED


@njit(cache=True)
def __collapse_huge_page_copy(a, vs, mmc, ptrow, folio):
    """Page i of the THP gets the data of pte i (zeros for a none or zero-page pte); then each
    small page's mapping goes (``__collapse_huge_page_copy_succeeded``: rmap, RSS, swap
    cache, the last reference frees it; a large folio mapped by these ptes stays until its
    last page goes) and the pte table is left empty."""
    leaf = vs.vp[VP_LEVELS] - 1
    for i in range(HPAGE_PMD_NR):
        entry = vs.pt[ptrow, i]
        if pte_none(entry) or is_zero_pte(vs, entry):
            M.clear_page(a, folio + i, 1)
        else:
            M.copy_page(a, folio + i, pte_pfn(entry))
            M.zap_leaf(a, vs, mmc, entry, leaf)
        M.set_entry(vs, ptrow, i, np.uint64(0))


@njit(cache=True)
def collapse_huge_page_locked(a, vs, vmas, mmc, pgd, address, folio, cc):
    """``collapse_huge_page`` from the mmap write lock on: isolate, copy, and map the new THP
    ``folio`` by the pmd of ``address`` over the old pte table, deposited under it (the
    ptes that were none count in MM_ANONPAGES now). Returns the result."""
    result, row, idx = find_pmd_or_thp_or_none(a, vs, pgd, address)
    if result != SCAN_SUCCEED:
        return result
    ptrow = M.table_row(a, vs.pt[row, idx])
    result = __collapse_huge_page_isolate(a, vs, ptrow, cc)
    if result != SCAN_SUCCEED:
        return result
    __collapse_huge_page_copy(a, vs, mmc, ptrow, folio)
    mod_memcg_folio_state(a, folio, NR_ANON_MAPPED, HPAGE_PMD_NR)  # folio_add_new_anon_rmap's stats
    mod_memcg_folio_state(a, folio, NR_ANON_THPS, HPAGE_PMD_NR)
    M.map_anon_folio_pmd(a, vs, vmas, mmc, M.find_vma(vmas, address), row, idx, folio, address, ptrow)
    return SCAN_SUCCEED


@njit(cache=True)
def swap_pte_addresses(a, vs, pgd, haddr, out):
    """The addresses of the swap ptes of the PMD range at ``haddr`` (``is_swap_pte`` and not a
    marker or migration entry, which ``do_swap_page`` cannot bring back): how many."""
    result, row, idx = find_pmd_or_thp_or_none(a, vs, pgd, haddr)
    if result != SCAN_SUCCEED:
        return 0
    ptrow = M.table_row(a, vs.pt[row, idx])
    fmt = vs.vp[VP_SWP_FMT]
    n = 0
    for i in range(HPAGE_PMD_NR):
        kind = pte_kind(vs.pt[ptrow, i], fmt)
        if kind != PTE_KIND_NONE and kind != PTE_KIND_PRESENT and kind != PTE_KIND_MARKER \
                and kind != PTE_KIND_MIGRATION:
            out[n] = haddr + (i << 12)
            n += 1
    return n


# ---- collapse, the Python steps ---------------------------------------------------------------------


def collapse_control(k: "Kernel", is_khugepaged: bool) -> np.ndarray:
    """A ``struct collapse_control``: khugepaged's keeps the sysfs limits, MADV_COLLAPSE's none."""
    cc = np.zeros(NR_CC, np.int64)
    cc[CC_IS_KHUGEPAGED] = is_khugepaged
    cc[CC_MAX_PTES_NONE] = k.khugepaged_max_ptes_none
    cc[CC_MAX_PTES_SWAP] = k.khugepaged_max_ptes_swap
    cc[CC_MAX_PTES_SHARED] = k.khugepaged_max_ptes_shared
    return cc


def hpage_collapse_test_exit_or_disable(task) -> bool:
    return task.state != TASK_RUNNING or task.mm is None or MMF_DISABLE_THP_COMPLETELY in task.mm.flags


def thp_vma_allowable_order(k: "Kernel", vma, forced_collapse: bool) -> bool:
    """``thp_vma_allowable_order(vma, PMD_ORDER)``: under the sysfs policy for khugepaged
    (TVA_KHUGEPAGED), or for MADV_COLLAPSE ignoring it (TVA_FORCED_COLLAPSE): private
    anonymous memory only here (file collapse is not simulated)."""
    if not forced_collapse:
        return thp_vma_allowable(k, vma)
    if vma.vm_flags & (VM_HUGETLB | VM_SPECIAL) or vma_thp_disabled(vma.vm_mm, vma, forced_collapse=True):
        return False
    return vma_is_anonymous(vma)


def hugepage_vma_revalidate(k: "Kernel", task, address: int, expect_anon: bool, cc: np.ndarray):
    """The VMA at ``address`` still may hold the THP: (result, vma)."""
    if hpage_collapse_test_exit_or_disable(task):
        return SCAN_ANY_PROCESS, None
    vma = find_vma(task.mm, address)
    if vma is None:
        return SCAN_VMA_NULL, None
    if not (vma.vm_start <= address and address + HPAGE_PMD_SIZE <= vma.vm_end):  # thp_vma_suitable_order
        return SCAN_ADDRESS_RANGE, vma
    if not thp_vma_allowable_order(k, vma, not cc[CC_IS_KHUGEPAGED]):
        return SCAN_VMA_CHECK, vma
    if expect_anon and (vma.anon_vma is None or not vma_is_anonymous(vma)):
        return SCAN_PAGE_ANON, vma
    return SCAN_SUCCEED, vma


def alloc_charge_folio(k: "Kernel", task, cc: np.ndarray) -> tuple[int, int]:
    """A new PMD-sized folio charged to the task's memcg: (result, pfn). khugepaged allocates
    with GFP_TRANSHUGE when its defrag is on (reclaim and compaction), else
    GFP_TRANSHUGE_LIGHT; MADV_COLLAPSE always with GFP_TRANSHUGE."""
    defrag = not cc[CC_IS_KHUGEPAGED] or k.khugepaged_defrag
    a = k.mem_map
    pfn = alloc_pages(k, G.GFP_TRANSHUGE if defrag else G.GFP_TRANSHUGE_LIGHT, HPAGE_PMD_ORDER,
                      cpu=int(k.vm_state.vp[VP_CPU]), comm="khugepaged" if cc[CC_IS_KHUGEPAGED] else task.comm)
    if pfn is None:
        k.vm_events[THP_COLLAPSE_ALLOC_FAILED] += 1
        return SCAN_ALLOC_HUGE_PAGE_FAIL, -1
    k.vm_events[THP_COLLAPSE_ALLOC] += 1
    memcg = int(task.mmc[MMC_MEMCG])
    if memcg and not charge_memcg(a, memcg, pfn, HPAGE_PMD_NR):
        folio_put(a, pfn, int(k.vm_state.vp[VP_CPU]))
        return SCAN_CGROUP_CHARGE_FAIL, -1
    count_memcg_folio_events(a, pfn, THP_COLLAPSE_ALLOC, 1)
    return SCAN_SUCCEED, pfn


def __collapse_huge_page_swapin(k: "Kernel", task, haddr: int) -> int:
    """Read the swapped-out pages of the range back (``do_swap_page`` for each swap pte),
    then drain the LRU batch that holds them. SCAN_FAIL if a page could not be allocated."""
    a, vs = k.mem_map, k.vm_state
    out = np.zeros(HPAGE_PMD_NR, np.int64)
    n = swap_pte_addresses(a, vs, int(task.mmc[MMC_PGD]), haddr, out)
    for addr in out[:n].tolist():
        if not do_swap_page(k, task, addr, False):
            return SCAN_FAIL
    if n:
        lru_add_drain(a, int(vs.vp[VP_CPU]))
    return SCAN_SUCCEED


def pmdp_collapse_flush(k: "Kernel", task, haddr: int) -> None:
    """The TLB entries of the range go with its old pmd."""
    if k.tlb is not None:
        k.tlb.flush_range(task, haddr, haddr + HPAGE_PMD_SIZE)


def collapse_huge_page(k: "Kernel", task, address: int, unmapped: int, cc: np.ndarray) -> int:
    """Collapse the PMD range at ``address`` (the scan found it worth it): allocate, revalidate,
    swap in, isolate, copy, map. The new folio is freed again on failure."""
    a = k.mem_map
    result, folio = alloc_charge_folio(k, task, cc)
    if result != SCAN_SUCCEED:
        return result
    result = hugepage_vma_revalidate(k, task, address, True, cc)[0]
    pgd = int(task.mmc[MMC_PGD])
    if result == SCAN_SUCCEED:
        result = find_pmd_or_thp_or_none(a, k.vm_state, pgd, address)[0]
    if result == SCAN_SUCCEED and unmapped:
        result = __collapse_huge_page_swapin(k, task, address)
    if result == SCAN_SUCCEED:  # mmap_write_lock: revalidate once more
        result = hugepage_vma_revalidate(k, task, address, True, cc)[0]
    if result == SCAN_SUCCEED:
        result = collapse_huge_page_locked(a, k.vm_state, task.vma_table, task.mmc, pgd, address, folio, cc)
        pmdp_collapse_flush(k, task, address)
    if result != SCAN_SUCCEED:
        folio_put(a, folio, int(k.vm_state.vp[VP_CPU]))
    return result


def hpage_collapse_scan_pmd(k: "Kernel", task, address: int, cc: np.ndarray) -> int:
    """Scan the PMD range at ``address`` and collapse it if the ptes allow: the result."""
    a, vs = k.mem_map, k.vm_state
    result, row, idx = find_pmd_or_thp_or_none(a, vs, int(task.mmc[MMC_PGD]), address)
    if result != SCAN_SUCCEED:
        return result
    result, referenced, unmapped = hpage_collapse_scan_ptes(a, vs, M.table_row(a, vs.pt[row, idx]), cc)
    if result == SCAN_SUCCEED:
        result = collapse_huge_page(k, task, address, unmapped, cc)
    return int(result)


# ---- MADV_COLLAPSE -------------------------------------------------------------------------------

MADV_COLLAPSE_ERRNO = {SCAN_ALLOC_HUGE_PAGE_FAIL: errno.ENOMEM, SCAN_CGROUP_CHARGE_FAIL: errno.EBUSY,
                       SCAN_EXCEED_NONE_PTE: errno.EBUSY, SCAN_PAGE_COUNT: errno.EAGAIN,
                       SCAN_PAGE_LOCK: errno.EAGAIN, SCAN_PAGE_LRU: errno.EAGAIN, SCAN_DEL_PAGE_LRU: errno.EAGAIN,
                       SCAN_PAGE_FILLED: errno.EAGAIN}
# results after which madvise_collapse goes on to the next PMD range
MADV_COLLAPSE_CONTINUE = {SCAN_PMD_NULL, SCAN_PTE_NON_PRESENT, SCAN_PTE_UFFD_WP, SCAN_PAGE_RO,
                          SCAN_LACK_REFERENCED_PAGE, SCAN_PAGE_NULL, SCAN_PAGE_COUNT, SCAN_PAGE_LOCK,
                          SCAN_PAGE_COMPOUND, SCAN_PAGE_LRU, SCAN_DEL_PAGE_LRU}
SCAN_NAMES = ("SCAN_FAIL SCAN_SUCCEED SCAN_PMD_NULL SCAN_PMD_NONE SCAN_PMD_MAPPED SCAN_EXCEED_NONE_PTE "
              "SCAN_EXCEED_SWAP_PTE SCAN_EXCEED_SHARED_PTE SCAN_PTE_NON_PRESENT SCAN_PTE_UFFD_WP "
              "SCAN_PTE_MAPPED_HUGEPAGE SCAN_PAGE_RO SCAN_LACK_REFERENCED_PAGE SCAN_PAGE_NULL SCAN_SCAN_ABORT "
              "SCAN_PAGE_COUNT SCAN_PAGE_LRU SCAN_PAGE_LOCK SCAN_PAGE_ANON SCAN_PAGE_COMPOUND SCAN_ANY_PROCESS "
              "SCAN_VMA_NULL SCAN_VMA_CHECK SCAN_ADDRESS_RANGE SCAN_DEL_PAGE_LRU SCAN_ALLOC_HUGE_PAGE_FAIL "
              "SCAN_CGROUP_CHARGE_FAIL SCAN_TRUNCATED SCAN_PAGE_HAS_PRIVATE SCAN_STORE_FAILED SCAN_COPY_MC "
              "SCAN_PAGE_FILLED").split()


def madvise_collapse(k: "Kernel", task, vma, start: int, end: int) -> None:
    """MADV_COLLAPSE of [start, end) inside ``vma``: each PMD range wholly inside it scanned
    and collapsed without khugepaged's limits. Raises ``KernelError`` unless every range is a
    THP afterwards: the errno of the last failure (``madvise_collapse_errno``)."""
    if not thp_vma_allowable_order(k, vma, True):
        raise KernelError(errno.EINVAL, "madvise: MADV_COLLAPSE: collapsing file or shmem memory is not simulated"
                          if vma.vm_file is not None else "madvise: MADV_COLLAPSE: THP is disabled for this VMA")
    cc = collapse_control(k, False)
    lru_add_drain_all(k)
    hstart = (start + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    hend = end & ~(HPAGE_PMD_SIZE - 1)
    thps, last_fail = 0, SCAN_FAIL
    for addr in range(hstart, hend, HPAGE_PMD_SIZE):
        if k.vm_state is None:  # no page table yet
            result = SCAN_PMD_NULL
        else:
            result = hpage_collapse_scan_pmd(k, task, addr, cc)
        if result in (SCAN_SUCCEED, SCAN_PMD_MAPPED):
            thps += 1
            continue
        last_fail = result
        if result not in MADV_COLLAPSE_CONTINUE:
            break
    if thps != (hend - hstart) // HPAGE_PMD_SIZE:
        raise KernelError(MADV_COLLAPSE_ERRNO.get(last_fail, errno.EINVAL),
                          f"madvise: MADV_COLLAPSE of {start:#x}-{end:#x}: {SCAN_NAMES[last_fail]}")


# ---- khugepaged --------------------------------------------------------------------------------


def khugepaged(k: "Kernel") -> int | None:
    """One run: scan the mms on the list (``khugepaged_do_scan``), then ``khugepaged_wait_work``:
    sleep scan_sleep_millisecs if there is work (alloc_sleep_millisecs after a failed THP
    allocation), else until an mm enters."""
    result = khugepaged_do_scan(k)
    if result == SCAN_ALLOC_HUGE_PAGE_FAIL:
        return k.khugepaged_alloc_sleep_millisecs * NSEC_PER_MSEC
    if khugepaged_has_work(k):
        # a 0 ms sleep rescans at once in the kernel; here the next run waits one millisecond,
        # so that the simulated clock moves on
        return max(k.khugepaged_scan_sleep_millisecs, 1) * NSEC_PER_MSEC
    return None


def khugepaged_has_work(k: "Kernel") -> bool:
    return bool(k.khugepaged_mm_slots) and hugepage_pmd_enabled(k)


def khugepaged_do_scan(k: "Kernel") -> int:
    """Scan up to ``pages_to_scan`` ptes' worth, mm after mm, at most once round the list
    (``pass_through_head``). Returns the last result."""
    pages, progress, pass_through_head = k.khugepaged_pages_to_scan, 0, 0
    result = SCAN_SUCCEED
    lru_add_drain_all(k)
    while progress < pages:
        if k.khugepaged_scan_mm_slot is None:
            pass_through_head += 1
        if not khugepaged_has_work(k) or pass_through_head >= 2:
            break
        done, result = khugepaged_scan_mm_slot(k, pages - progress)
        progress += done
        if result == SCAN_ALLOC_HUGE_PAGE_FAIL:
            break
    return result


def khugepaged_scan_mm_slot(k: "Kernel", pages: int) -> tuple[int, int]:
    """Scan the mm under the cursor from the cursor's address on (``khugepaged_scan``): each
    VMA khugepaged may collapse in, PMD range by PMD range, until ``pages`` is used up. The
    cursor moves to the next mm when this one is done (full_scans counts the wraps).
    Returns (progress, result)."""
    if k.khugepaged_scan_mm_slot is None:
        k.khugepaged_scan_mm_slot, k.khugepaged_scan_address = k.khugepaged_mm_slots[0], 0
    pid = k.khugepaged_scan_mm_slot
    task = k.tasks.get(pid)
    progress, result, done = 1, SCAN_FAIL, True
    cc = collapse_control(k, True)
    if task is not None and not hpage_collapse_test_exit_or_disable(task) and k.vm_state is not None:
        progress, result, done = khugepaged_scan_vmas(k, task, pages, cc)
    if done:
        khugepaged_next_mm(k, pid)
    return progress, result


def khugepaged_scan_vmas(k: "Kernel", task, pages: int, cc: np.ndarray) -> tuple[int, int, bool]:
    """The VMA walk of ``khugepaged_scan_mm_slot``: (progress, result, whether the mm is done)."""
    progress, result = 1, SCAN_FAIL
    for vma in list(task.mm.vmas):
        if vma.vm_end <= k.khugepaged_scan_address:
            continue
        if not thp_vma_allowable_order(k, vma, False):
            progress += 1
            continue
        hstart = (vma.vm_start + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
        hend = vma.vm_end & ~(HPAGE_PMD_SIZE - 1)
        k.khugepaged_scan_address = max(k.khugepaged_scan_address, hstart)
        while k.khugepaged_scan_address < hend:
            if hpage_collapse_test_exit_or_disable(task):
                return progress, result, True
            result = hpage_collapse_scan_pmd(k, task, k.khugepaged_scan_address, cc)
            if result == SCAN_SUCCEED:
                k.khugepaged_pages_collapsed += 1
            k.khugepaged_scan_address += HPAGE_PMD_SIZE
            progress += HPAGE_PMD_NR
            if progress >= pages or result == SCAN_ALLOC_HUGE_PAGE_FAIL:
                return progress, result, False
    return progress, result, True


def khugepaged_next_mm(k: "Kernel", pid: int) -> None:
    """The cursor moves to the mm after ``pid`` on the list; past the last one the scan
    starts over (a full scan); an mm that exited leaves the list (``collect_mm_slot``)."""
    slots = k.khugepaged_mm_slots
    pos = slots.index(pid) if pid in slots else -1
    if 0 <= pos < len(slots) - 1:
        k.khugepaged_scan_mm_slot, k.khugepaged_scan_address = slots[pos + 1], 0
    else:
        k.khugepaged_scan_mm_slot = None
        k.khugepaged_full_scans += 1
    task = k.tasks.get(pid)
    if pos >= 0 and (task is None or task.state != TASK_RUNNING or task.mm is None):
        slots.remove(pid)


def khugepaged_enter_vma(k: "Kernel", task, vma) -> None:
    """Put the mm on khugepaged's list if ``vma`` may hold a PMD-sized THP (TVA_KHUGEPAGED)."""
    if task.pid in k.khugepaged_mm_slots or not hugepage_pmd_enabled(k) or not thp_vma_allowable(k, vma):
        return
    k.khugepaged_mm_slots.append(task.pid)  # __khugepaged_enter: behind the cursor
    if len(k.khugepaged_mm_slots) == 1:
        khugepaged_wake_up(k)


def khugepaged_exit(k: "Kernel", task) -> None:
    """``__khugepaged_exit``: the mm leaves the list (under the cursor it stays until the scan
    moves on, as ``collect_mm_slot`` frees it then)."""
    if task.pid in k.khugepaged_mm_slots and k.khugepaged_scan_mm_slot != task.pid:
        k.khugepaged_mm_slots.remove(task.pid)


# ---- /sys/kernel/mm/transparent_hugepage/khugepaged/ ---------------------------------------------

KSTRTOUL = re.compile(r"\+?[0-9]+\n?")


def kstrtoul(name: str, value: str, limit: int) -> int:
    """``kstrtoul(buf, 10, ...)`` (``kstrtouint``): a decimal number up to ``limit``; EINVAL
    for anything else (the store functions turn -ERANGE into -EINVAL too)."""
    if not KSTRTOUL.fullmatch(value) or int(value) > limit:
        raise KernelError(errno.EINVAL, f"transparent_hugepage/khugepaged/{name}: {value!r} is not a number "
                          f"from 0 to {limit}")
    return int(value)


UINT_MAX = (1 << 32) - 1


def _uint_attribute(field: str, limit: int, wakes: bool, nonzero: bool = False):
    """The (show, store) pair of one number of the khugepaged directory."""
    def show(k: "Kernel") -> str:
        return f"{getattr(k, field)}\n"

    def store(k: "Kernel", value: str) -> None:
        number = kstrtoul(field.removeprefix("khugepaged_"), value, limit)
        if nonzero and not number:
            raise KernelError(errno.EINVAL, f"transparent_hugepage/khugepaged/{field}: must not be 0")
        setattr(k, field, number)
        if wakes:  # the sleep_millisecs stores: khugepaged_sleep_expire = 0 and a wake-up
            khugepaged_wake_up(k)
    return show, store


def _read_only(field: str):
    def show(k: "Kernel") -> str:
        return f"{getattr(k, field)}\n"

    def store(k: "Kernel", value: str) -> None:
        raise KernelError(errno.EACCES, f"transparent_hugepage/khugepaged/{field.removeprefix('khugepaged_')} "
                          "is read-only")
    return show, store


def defrag_show(k: "Kernel") -> str:
    """``single_hugepage_flag_show`` of TRANSPARENT_HUGEPAGE_DEFRAG_KHUGEPAGED_FLAG (default on)."""
    return f"{int(k.khugepaged_defrag)}\n"


def defrag_store(k: "Kernel", value: str) -> None:
    """``single_hugepage_flag_store``: 0 or 1 (kstrtoul), anything else EINVAL."""
    k.khugepaged_defrag = bool(kstrtoul("defrag", value, 1))


KHUGEPAGED_DIR = "kernel/mm/transparent_hugepage/khugepaged/"
KHUGEPAGED_ATTRIBUTES = {
    KHUGEPAGED_DIR + "defrag": (defrag_show, defrag_store),
    KHUGEPAGED_DIR + "max_ptes_none": _uint_attribute("khugepaged_max_ptes_none", HPAGE_PMD_NR - 1, False),
    KHUGEPAGED_DIR + "max_ptes_swap": _uint_attribute("khugepaged_max_ptes_swap", HPAGE_PMD_NR - 1, False),
    KHUGEPAGED_DIR + "max_ptes_shared": _uint_attribute("khugepaged_max_ptes_shared", HPAGE_PMD_NR - 1, False),
    KHUGEPAGED_DIR + "pages_to_scan": _uint_attribute("khugepaged_pages_to_scan", UINT_MAX, False, nonzero=True),
    KHUGEPAGED_DIR + "pages_collapsed": _read_only("khugepaged_pages_collapsed"),
    KHUGEPAGED_DIR + "full_scans": _read_only("khugepaged_full_scans"),
    KHUGEPAGED_DIR + "scan_sleep_millisecs": _uint_attribute("khugepaged_scan_sleep_millisecs", UINT_MAX, True),
    KHUGEPAGED_DIR + "alloc_sleep_millisecs": _uint_attribute("khugepaged_alloc_sleep_millisecs", UINT_MAX, True),
}


# ---- the reserve khugepaged keeps (set_recommended_min_free_kbytes) -------------------------------


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
