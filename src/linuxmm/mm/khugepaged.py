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

* khugepaged (``khugepaged_collapse_control``) enforces the sysfs limits under
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

Page-cache collapse (shmem; regular files only with CONFIG_READ_ONLY_THP_FOR_FS, which this
kernel lacks, as the development host's does) works on the file, not the page tables:
``hpage_collapse_scan_file`` looks at the cache of the PMD range's 512 file pages (swap entries
against max_ptes_swap, holes against max_ptes_none, every folio on the LRU and unpinned; a
PMD-sized folio there already is SCAN_PTE_MAPPED_HUGEPAGE), ``collapse_file`` takes the small
folios (swapped-out shmem pages read back, each unmapped from every mm), copies them into a
new THP (holes give zeros, and are charged to the tmpfs), puts it in the cache in their
place (NR_SHMEM_THPS or NR_FILE_THPS) and frees them, then ``retract_page_tables`` frees the
emptied pte tables of every VMA that maps the range at a PMD-aligned address and has no
anon_vma, so that the next fault there maps the THP by its pmd (``do_set_pmd``, which a
VM_NOHUGEPAGE VMA refuses). ``collapse_pte_mapped_thp`` maps it in one mm: the table's ptes
must be none or map their own pages of the THP (a private copy is SCAN_FAIL), they go with
the table, and for MADV_COLLAPSE the pmd is installed; khugepaged leaves that to the fault.
khugepaged scans a shmem VMA under shmem's own policy (``shmem_allowable_huge_orders``:
shmem_enabled for memfds and shared anonymous memory, the mount's ``huge=`` for a tmpfs);
MADV_COLLAPSE forces it (tests/data/host-linux-6.18/collapse_file_probe.txt).

Simplifications: the node choice for the new THP (``hpage_collapse_find_target_node``)
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
from ..include.linux.mm_types import (MMC_MEMCG, MMC_PGD, MMF_DISABLE_THP_COMPLETELY, PAGE_SHIFT, VM_HUGETLB,
                                      VM_SPECIAL, find_vma, vma_is_anonymous, vma_pages)
from ..include.linux.mmzone import MIGRATE_PCPTYPES, for_each_populated_zone
from ..include.linux.page_flags import (PG_head_mask, PG_large_rmappable, PG_locked_mask, PG_lru_mask,
                                        PG_referenced_mask, PG_swapbacked, PG_swapcache_mask, PG_uptodate, PG_young)
from ..include.linux.sched import TASK_RUNNING
from ..include.linux.vmstat import (NR_ANON_MAPPED, NR_ANON_THPS, NR_FILE_PAGES, NR_FILE_THPS, NR_SHMEM,
                                    NR_SHMEM_THPS, THP_COLLAPSE_ALLOC, THP_COLLAPSE_ALLOC_FAILED,
                                    THP_SCAN_EXCEED_NONE_PTE, THP_SCAN_EXCEED_SHARED_PTE, THP_SCAN_EXCEED_SWAP_PTE)
from ..kernel.kthread import kthread
from ..kernel.timer import NSEC_PER_MSEC
from ..lib import xarray as X
from . import buddy as B
from . import filemap as FM
from . import memory as M
from .memcontrol import charge_memcg, count_memcg_folio_events, mod_memcg_folio_state
from .page_alloc import (alloc_pages, calculate_min_free_kbytes, gfp_zone_user, nr_free_buffer_pages,
                         setup_per_zone_wmarks)
from .pgtable import (PTE_KIND_MARKER, PTE_KIND_MIGRATION, PTE_KIND_NONE, PTE_KIND_PRESENT, VP_CPU, VP_LEVELS,
                      VP_PMD_LEVEL, VP_SWP_FMT, VP_ZERO_PFN, _PAGE_ACCESSED, _PAGE_PSE, _PAGE_SPECIAL,
                      entry_has, entry_present, pt_index, pte_kind, pte_none, pte_pfn)
from .rmap import page_mapping
from .shmem import (shmem_allowable_huge_orders, shmem_get_folio, shmem_hpage_pmd_enabled, shmem_inode_acct_blocks,
                    shmem_recalc_inode)
from .swap import folio_add_lru, folio_put, lru_add_drain, lru_add_drain_all
from .swap_state import do_swap_page
from .truncate import unmap_mapping_folio

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
    (``khugepaged_min_free_kbytes_update``) and the THP and shmem_enabled stores
    ``start_stop_khugepaged``, through the kernel object."""
    k.khugepaged_pages_to_scan = HPAGE_PMD_NR * 8
    k.khugepaged_max_ptes_none = HPAGE_PMD_NR - 1
    k.khugepaged_max_ptes_swap = HPAGE_PMD_NR // 8
    k.khugepaged_max_ptes_shared = HPAGE_PMD_NR // 2
    k.khugepaged_min_free_kbytes_update = khugepaged_min_free_kbytes_update
    k.start_stop_khugepaged = start_stop_khugepaged


def hugepage_pmd_enabled(k: "Kernel") -> bool:
    """Khugepaged has work for some VMA: anonymous memory (the PMD order defaults to
    ``inherit``, so the global always/madvise/never), or shmem (``shmem_enabled``). Regular
    files count only with CONFIG_READ_ONLY_THP_FOR_FS (not set)."""
    return hugepage_global_enabled(k) or shmem_hpage_pmd_enabled(k)


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
    M.__folio_mark_uptodate(a, folio)
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


@njit(cache=True)
def retract_page_table(a, vs, mmc, pgd, addr):
    """``retract_page_tables`` in one mm: the empty pte table under the pmd of ``addr`` is
    freed and the pmd cleared, so that the next fault maps the new THP by its pmd. A table
    still holding entries (a marker) stays. True if it went (its TLB entries must go)."""
    result, row, idx = find_pmd_or_thp_or_none(a, vs, pgd, addr)
    if result != SCAN_SUCCEED:
        return False
    ptrow = M.table_row(a, vs.pt[row, idx])
    if vs.pt_used[ptrow]:
        return False
    M.set_entry(vs, row, idx, np.uint64(0))
    M.pte_free(a, vs, mmc, ptrow)
    return True


@njit(cache=True)
def collapse_pte_mapped_thp_locked(a, vs, vmas, mmc, pgd, haddr, folio, install_pmd):
    """``collapse_pte_mapped_thp`` from the pmd lookup on, for the PMD-sized page-cache
    ``folio`` at ``haddr``: every pte of the table is none or maps its own page of the folio
    (else SCAN_PTE_NON_PRESENT for a swap entry or marker, SCAN_FAIL for another page: a
    private copy); those ptes go (rmap, RSS, references) with the table, and with
    ``install_pmd`` (MADV_COLLAPSE) the folio is mapped by the pmd (``set_huge_pmd``).
    Returns the result (SCAN_PMD_MAPPED if it is mapped so already)."""
    result, row, idx = find_pmd_or_thp_or_none(a, vs, pgd, haddr)
    if result == SCAN_SUCCEED:
        ptrow = M.table_row(a, vs.pt[row, idx])
        for i in range(HPAGE_PMD_NR):
            entry = vs.pt[ptrow, i]
            if pte_none(entry):
                continue
            if not entry_present(entry):
                return SCAN_PTE_NON_PRESENT
            if entry_has(entry, _PAGE_SPECIAL) or pte_pfn(entry) != folio + i:
                return SCAN_FAIL
        leaf = vs.vp[VP_LEVELS] - 1
        for i in range(HPAGE_PMD_NR):
            entry = vs.pt[ptrow, i]
            if not pte_none(entry):
                M.zap_leaf(a, vs, mmc, entry, leaf)
                M.set_entry(vs, ptrow, i, np.uint64(0))
        M.set_entry(vs, row, idx, np.uint64(0))
        M.pte_free(a, vs, mmc, ptrow)
    elif result != SCAN_PMD_NONE:
        return result
    if install_pmd:
        M.map_file_folio_pmd(a, vs, vmas, mmc, M.find_vma(vmas, haddr), row, idx, folio, False)
    return SCAN_SUCCEED


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


# Kconfig as on the host this models (tests/data/host-linux-6.18): no collapse of regular files
CONFIG_READ_ONLY_THP_FOR_FS = False


def thp_vma_suitable_order(vma, addr: int) -> bool:
    """``thp_vma_suitable_order(vma, addr, PMD_ORDER)``: the aligned 2 MiB around ``addr`` lies
    in the VMA, and a file VMA maps it at a 2 MiB-aligned file offset."""
    haddr = addr & ~(HPAGE_PMD_SIZE - 1)
    if not vma_is_anonymous(vma) and ((vma.vm_start >> PAGE_SHIFT) - vma.vm_pgoff) & (HPAGE_PMD_NR - 1):
        return False
    return vma.vm_start <= haddr and haddr + HPAGE_PMD_SIZE <= vma.vm_end


def file_thp_enabled(vma) -> bool:
    """``file_thp_enabled``: never, as the kernel is built without CONFIG_READ_ONLY_THP_FOR_FS
    (with it: a regular file nobody has open for writing)."""
    return CONFIG_READ_ONLY_THP_FOR_FS


def thp_vma_allowable_order(k: "Kernel", vma, forced_collapse: bool) -> bool:
    """``thp_vma_allowable_order(vma, PMD_ORDER)``: under the sysfs policy for khugepaged
    (TVA_KHUGEPAGED), or for MADV_COLLAPSE ignoring it (TVA_FORCED_COLLAPSE). Private
    anonymous memory follows the THP policy; shmem its own (``shmem_allowable_huge_orders``,
    which MADV_COLLAPSE forces); a regular file needs ``file_thp_enabled``. A file VMA
    must be able to map a PMD at its end (``__thp_vma_allowable_orders``' suitability check)."""
    if vma_is_anonymous(vma) and not forced_collapse:
        return thp_vma_allowable(k, vma)
    if vma.vm_flags & (VM_HUGETLB | VM_SPECIAL) or vma_thp_disabled(vma.vm_mm, vma, forced_collapse=forced_collapse):
        return False
    if vma_is_anonymous(vma):
        return True
    if not thp_vma_suitable_order(vma, vma.vm_end - HPAGE_PMD_SIZE):
        return False
    if not vma.vm_file.f_mapping.swapbacked:
        return file_thp_enabled(vma)
    return bool(shmem_allowable_huge_orders(k, vma.vm_file.f_inode, vma, vma.vm_pgoff, forced_collapse))


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


# ---- page-cache collapse (shmem; regular files with CONFIG_READ_ONLY_THP_FOR_FS) -------------------


def page_cache_entries(k: "Kernel", mapping, first: int, last: int) -> list[tuple[int, int]]:
    """(index, entry) of the entries of [first, last] in the file's cache, a large folio once
    (at its first index in the range): what ``xas_for_each`` hands the scan."""
    xa = k.page_cache
    n = min(last - first + 1, int(xa.xa_nr_folio_slots[mapping.xa_id] + xa.xa_nr_values[mapping.xa_id])) \
        if mapping.xa_id >= 0 else 0
    if n <= 0:
        return []
    idx, ent = np.zeros(n, np.int64), np.zeros(n, np.int64)
    got = X.xa_gather(xa, mapping.xa_id, first, last, idx, ent)
    out, seen = [], 0
    for index, entry in zip(idx[:got].tolist(), ent[:got].tolist()):
        if entry != seen or X.xa_is_value(entry):
            out.append((index, entry))
        seen = entry
    return out


def folio_expected_ref_count(a, head: int) -> int:
    """``folio_expected_ref_count`` of a page-cache folio: one reference per page from the
    cache and one per mapping."""
    nr = 1 << int(a.order[head])
    return nr + int(a.mapcount[head:head + nr].sum()) + int(M.folio_entire_mapcount(a, head))


def hpage_collapse_scan_file(k: "Kernel", task, addr: int, file, start: int, cc: np.ndarray) -> int:
    """``hpage_collapse_scan_file``: look at the cache of pages [start, start + 512) of the
    file and collapse them if they allow (``collapse_file``). Swap entries count against
    khugepaged's max_ptes_swap, holes against its max_ptes_none (the pages present must be
    512 - max_ptes_none); a PMD-sized folio there already is SCAN_PTE_MAPPED_HUGEPAGE (only
    its mapping may be missing); every folio must be on the LRU with no reference but the
    cache's and its mappings'. The kernel does not ask for referenced pages here."""
    a, khugepaged = k.mem_map, bool(cc[CC_IS_KHUGEPAGED])
    present = swap = 0
    for index, entry in page_cache_entries(k, file.f_mapping, start, start + HPAGE_PMD_NR - 1):
        if X.xa_is_value(entry):
            swap += 1
            if khugepaged and swap > cc[CC_MAX_PTES_SWAP]:
                k.vm_events[THP_SCAN_EXCEED_SWAP_PTE] += 1
                return SCAN_EXCEED_SWAP_PTE
            continue
        folio = int(X.xa_to_folio(entry))
        if a.order[folio] == HPAGE_PMD_ORDER and a.index[folio] == start:
            return SCAN_PTE_MAPPED_HUGEPAGE
        if not a.flags[folio] & PG_lru_mask:
            return SCAN_PAGE_LRU
        if a.refcount[folio] != folio_expected_ref_count(a, folio):
            return SCAN_PAGE_COUNT
        present += 1 << int(a.order[folio])
    if khugepaged and present < HPAGE_PMD_NR - cc[CC_MAX_PTES_NONE]:
        k.vm_events[THP_SCAN_EXCEED_NONE_PTE] += 1
        return SCAN_EXCEED_NONE_PTE
    return collapse_file(k, task, file, start, cc)


def collapse_file(k: "Kernel", task, file, start: int, cc: np.ndarray) -> int:
    """``collapse_file``: allocate and charge the THP, take the small folios of the range
    (``collapse_file_isolate``: swapped-out shmem pages read back, each unmapped from every
    mm), charge shmem's holes to the filesystem (``shmem_charge``), copy (holes give zeros),
    put the THP in the cache in their place (``collapse_file_replace``) and retract the page
    tables that mapped the range (``retract_page_tables``). MADV_COLLAPSE goes on to map it
    (SCAN_PTE_MAPPED_HUGEPAGE); khugepaged leaves that to the next fault. On failure the new
    folio is freed; pages unmapped or read back stay so."""
    a, mapping = k.mem_map, file.f_mapping
    result, new = alloc_charge_folio(k, task, cc)
    if result != SCAN_SUCCEED:
        return result
    result, folios, nr_none = collapse_file_isolate(k, file, start)
    if result == SCAN_SUCCEED and nr_none:
        try:
            shmem_inode_acct_blocks(k, file.f_inode, nr_none)
        except KernelError:
            result = SCAN_FAIL
    if result != SCAN_SUCCEED:
        folio_put(a, new, int(k.vm_state.vp[VP_CPU]))
        return result
    M.clear_page(a, new, HPAGE_PMD_NR)
    for folio in folios:
        for i in range(1 << int(a.order[folio])):
            M.copy_page(a, new + int(a.index[folio]) - start + i, folio + i)
    collapse_file_replace(k, file, new, start, folios, nr_none)
    retract_page_tables(k, mapping, start)
    return SCAN_SUCCEED if cc[CC_IS_KHUGEPAGED] else SCAN_PTE_MAPPED_HUGEPAGE


def collapse_file_isolate(k: "Kernel", file, start: int) -> tuple[int, list[int], int]:
    """The walk of ``collapse_file`` over [start, start + 512): (result, the small folios
    taken, the holes). An empty range is SCAN_TRUNCATED; a swapped-out shmem page is read
    back (``shmem_get_folio``; SCAN_FAIL if it cannot be); a locked folio is SCAN_PAGE_LOCK,
    one off the LRU SCAN_DEL_PAGE_LRU, a PMD-sized one SCAN_PTE_MAPPED_HUGEPAGE. Each folio
    is unmapped (``try_to_unmap``) and then must hold no reference but the cache's
    (SCAN_PAGE_COUNT: a GUP pin)."""
    a, mapping, cpu = k.mem_map, file.f_mapping, int(k.vm_state.vp[VP_CPU])
    end = start + HPAGE_PMD_NR
    if not page_cache_entries(k, mapping, start, end - 1):
        return SCAN_TRUNCATED, [], 0
    folios, nr_none, index = [], 0, start
    while index < end:
        entry = FM.filemap_get_entry(k, mapping, index)
        if not entry:  # a shmem hole, filled by the THP (a regular file's is read first)
            nr_none += 1
            index += 1
            continue
        if X.xa_is_value(entry):
            try:
                folio = shmem_get_folio(k, file.f_inode, index)
            except KernelError:
                return SCAN_FAIL, folios, nr_none
            lru_add_drain(a, cpu)
        else:
            folio = int(X.xa_to_folio(entry))
            if a.flags[folio] & PG_locked_mask:
                return SCAN_PAGE_LOCK, folios, nr_none
        if a.order[folio] == HPAGE_PMD_ORDER:
            return SCAN_PTE_MAPPED_HUGEPAGE, folios, nr_none
        if not a.flags[folio] & PG_lru_mask:
            return SCAN_DEL_PAGE_LRU, folios, nr_none
        if M.folio_mapped(a, folio):
            unmap_mapping_folio(k, folio)
        if a.refcount[folio] != folio_expected_ref_count(a, folio):
            return SCAN_PAGE_COUNT, folios, nr_none
        folios.append(folio)
        index = int(a.index[folio]) + (1 << int(a.order[folio]))
    return SCAN_SUCCEED, folios, nr_none


def collapse_file_replace(k: "Kernel", file, new: int, start: int, folios: list[int], nr_none: int) -> None:
    """The end of ``collapse_file``: the small folios leave the cache and are freed (their
    counters with them), the THP takes the range's 512 slots as one folio, up to date, with
    the cache's references, counted in NR_FILE_PAGES, NR_SHMEM and NR_SHMEM_THPS (a regular
    file's in NR_FILE_THPS), dirty if shmem (swap holds no copy of it), on the LRU; shmem's
    holes are the inode's blocks now (``shmem_recalc_inode``)."""
    a, mapping = k.mem_map, file.f_mapping
    for folio in folios:
        FM.folio_cancel_dirty(k, mapping, folio)
        FM.filemap_remove_folio(k, mapping, folio)
    k.page_cache = X.xa_reserve(k.page_cache)
    X.xa_store_range(k.page_cache, mapping.xa_id, start, HPAGE_PMD_NR, X.xa_mk_folio(new))
    a.refcount[new] += HPAGE_PMD_NR - 1
    a.mapping[new], a.index[new] = page_mapping(mapping), start
    FM.folio_set(k, new + 1, PG_large_rmappable)
    FM.folio_set(k, new, PG_uptodate)
    FM.lruvec_stat_mod_folio(k, NR_FILE_PAGES, new, HPAGE_PMD_NR)
    if mapping.swapbacked:
        FM.folio_set(k, new, PG_swapbacked)
        FM.lruvec_stat_mod_folio(k, NR_SHMEM, new, HPAGE_PMD_NR)
        FM.lruvec_stat_mod_folio(k, NR_SHMEM_THPS, new, HPAGE_PMD_NR)
        FM.folio_mark_dirty(k, mapping, new)
        shmem_recalc_inode(k, file.f_inode, nr_none)
    else:
        FM.lruvec_stat_mod_folio(k, NR_FILE_THPS, new, HPAGE_PMD_NR)
    folio_add_lru(a, int(k.vm_state.vp[VP_CPU]), new)


def retract_page_tables(k: "Kernel", mapping, pgoff: int) -> None:
    """``retract_page_tables``: every VMA of the file mapping page ``pgoff`` at a 2 MiB-aligned
    address, with room for the PMD and no anon_vma (a private copy could hide in its table),
    loses the (now empty) pte table there, in whichever mm it is."""
    owners = {id(t.mm): t for t in k.tasks.values() if t.mm is not None}
    for vma in list(mapping.i_mmap):
        addr = vma.vm_start + ((pgoff - vma.vm_pgoff) << PAGE_SHIFT)
        if vma.anon_vma is not None or not vma.vm_pgoff <= pgoff < vma.vm_pgoff + vma_pages(vma) \
                or addr & (HPAGE_PMD_SIZE - 1) or vma.vm_end < addr + HPAGE_PMD_SIZE:
            continue
        task = owners.get(id(vma.vm_mm))
        if task is None or task.state != TASK_RUNNING:  # hpage_collapse_test_exit
            continue
        if retract_page_table(k.mem_map, k.vm_state, task.mmc, int(task.mmc[MMC_PGD]), addr):
            pmdp_collapse_flush(k, task, addr)


def collapse_pte_mapped_thp(k: "Kernel", task, addr: int, install_pmd: bool) -> int:
    """``collapse_pte_mapped_thp``: the PMD-sized folio caching the file range mapped at
    ``addr`` replaces the ptes mapping it in this mm, and with ``install_pmd`` (MADV_COLLAPSE)
    is mapped by the pmd (khugepaged leaves that to the next fault). SCAN_VMA_CHECK when the
    VMA cannot hold it (VM_NOHUGEPAGE, ...), SCAN_PAGE_NULL when nothing is cached there,
    SCAN_PAGE_COMPOUND when the cached folio is not PMD-sized."""
    a, vs = k.mem_map, k.vm_state
    vma, pgd = find_vma(task.mm, addr), int(task.mmc[MMC_PGD])
    if vma is None or vma.vm_file is None or not (vma.vm_start <= addr and addr + HPAGE_PMD_SIZE <= vma.vm_end):
        return SCAN_VMA_CHECK
    if find_pmd_or_thp_or_none(a, vs, pgd, addr)[0] == SCAN_PMD_MAPPED:
        return SCAN_PMD_MAPPED
    if not thp_vma_allowable_order(k, vma, True):
        return SCAN_VMA_CHECK
    folio = FM.filemap_get_folio(k, vma.vm_file.f_mapping, vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT))
    if folio < 0:
        return SCAN_PAGE_NULL
    if a.order[folio] != HPAGE_PMD_ORDER:
        return SCAN_PAGE_COMPOUND
    result = collapse_pte_mapped_thp_locked(a, vs, task.vma_table, task.mmc, pgd, addr, folio, install_pmd)
    pmdp_collapse_flush(k, task, addr)
    return int(result)


def hpage_collapse_scan_vma(k: "Kernel", task, vma, addr: int, cc: np.ndarray) -> int:
    """One PMD range of a VMA, as both callers scan it: the ptes of anonymous memory, the page
    cache of a file (then, when the THP is in the cache, its mapping here:
    ``collapse_pte_mapped_thp``, which MADV_COLLAPSE has install the pmd)."""
    if vma_is_anonymous(vma):
        return hpage_collapse_scan_pmd(k, task, addr, cc)
    pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT)
    result = hpage_collapse_scan_file(k, task, addr, vma.vm_file, pgoff, cc)
    if result == SCAN_PTE_MAPPED_HUGEPAGE and not hpage_collapse_test_exit_or_disable(task):
        result = collapse_pte_mapped_thp(k, task, addr, not cc[CC_IS_KHUGEPAGED])
    return result


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
        raise KernelError(errno.EINVAL, "madvise: MADV_COLLAPSE: THP is disabled for this VMA" if
                          vma_is_anonymous(vma) or vma.vm_file.f_mapping.swapbacked else
                          "madvise: MADV_COLLAPSE: a regular file's pages collapse only with "
                          "CONFIG_READ_ONLY_THP_FOR_FS (not set)")
    cc = collapse_control(k, False)
    lru_add_drain_all(k)
    hstart = (start + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    hend = end & ~(HPAGE_PMD_SIZE - 1)
    thps, last_fail = 0, SCAN_FAIL
    for addr in range(hstart, hend, HPAGE_PMD_SIZE):
        if k.vm_state is None:  # no page table yet
            result = SCAN_PMD_NULL
        else:
            result = hpage_collapse_scan_vma(k, task, vma, addr, cc)
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
            result = hpage_collapse_scan_vma(k, task, vma, k.khugepaged_scan_address, cc)
            if result == SCAN_PMD_MAPPED and not vma_is_anonymous(vma):
                result = SCAN_SUCCEED
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
    if task.pid in k.khugepaged_mm_slots or not hugepage_pmd_enabled(k) or not thp_vma_allowable_order(k, vma, False):
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
