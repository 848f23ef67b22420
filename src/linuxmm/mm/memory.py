"""Page faults and page-table walks (``mm/memory.c``, ``mm/huge_memory.c``), Linux 6.18, compiled.

``access_batch`` is the MMU and the fault path for a batch of user accesses: walk the page
tables, and where the walk fails call ``handle_mm_fault`` -> ``__handle_mm_fault`` (allocate
the upper tables, THP at the PMD level: ``do_huge_pmd_anonymous_page``,
``do_huge_pmd_wp_page``) -> ``handle_pte_fault`` (``do_anonymous_page`` with the shared zero
page for reads, ``do_wp_page``: reuse an exclusive page or copy it), then perform the access,
setting the accessed and dirty bits. Faults that need Python (SIGSEGV, shared-memory pages,
an allocation the slow path must handle, a full table pool) end the batch with a status.

``unmap_page_range`` unmaps (``zap_pte_range``, ``zap_huge_pmd``, ``zap_nonpresent_ptes``),
``free_pgd_range`` frees tables no VMA needs, ``copy_page_range`` is fork's copy-on-write
setup (``copy_pte_range``, ``copy_huge_pmd``, ``copy_nonpresent_pte``); all three go
through the one range walker (``pagewalk.walk_page_range``) and dispatch on the entry's kind.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arch.x86.mm.tlb import (MISS, l1_4k_entry, l1_entry, l1_hit_again, tlb_fault_done, tlb_miss_again,
                               tlb_translate, tlb_walk)
from ..include.linux.mm_types import (  # noqa: F401 (callers also read the mmc layout and VM_* as M.*)
    MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, MMC_ANON_THP, MMC_MAJFLT, MMC_MEMCG, MMC_MINFLT, MMC_PGD,
    MMC_PGTABLES_BYTES, NR_MMC, VM_DONTCOPY, VM_EXEC, VM_HUGEPAGE, VM_MAYWRITE, VM_NOHUGEPAGE, VM_READ, VM_SHARED,
    VM_WIPEONFORK, VM_WRITE)
from ..include.linux.page_flags import PG_anon_exclusive_mask, PG_head_mask, PG_lru_mask, PG_swapbacked_mask
from ..jit import unowned
from ..kernel.timer import ACCESS_NS, FAULT_NS
from . import buddy as B
from .pagewalk import (WALK_DONE, WALK_POST, WALK_PTE_TABLE, WALK_PTE_TABLES, WALK_TABLE_DONE, walk_again, walk_next,
                       walk_page_range, walk_pte_range)
from .pgtable import (PTE_KIND_MIGRATION, PTE_KIND_PRESENT, PTE_KIND_SWAP, PTE_MARKER_GUARD, PTE_MARKER_POISONED,
                      SWP_FMT_64, VP_SWP_FMT, _PAGE_SWP_UFFD_WP, is_leaf_entry, is_migration_entry, is_writable_migration_entry,
                      is_pte_marker, make_pte_marker, make_readable_migration_entry, non_swap_entry,
                      pgtable_trans_huge_deposit,
                      pgtable_trans_huge_withdraw, pte_marker_get, pte_none, pte_present, pte_swp_exclusive_bit,
                      pte_to_swp_entry, swp_entry_to_pte, swp_offset, swp_offset_pfn)
from ..include.linux.vmstat import PGFAULT, PGREUSE, THP_FAULT_ALLOC, THP_FAULT_FALLBACK, THP_FAULT_FALLBACK_CHARGE
from .pgtable import (NS_ANON_MAPPED, NS_ANON_THPS, NS_FILE_MAPPED, NS_PAGETABLE, _PAGE_PROTNONE, AC_COMP, AC_FAST, AC_HIGHEST, AC_MT, AC_NID, AC_PGTABLE, AC_THP, AC_USER,
                      THP_ALWAYS, THP_MADVISE,
                      VP_CPU, VP_FLUSH_PENDING, VP_HUGE_ZERO_PFN, VP_HUGE_ZERO_WANTED, VP_LEVELS, VP_LOCAL_NID, VP_NFREE,
                      NO_PAGE, VP_PAGEFAULT_DISABLED, VP_PMD_LEVEL, VP_SLOW_CTX, VP_SLOW_FOR, VP_SLOW_PFN, VP_SOFT_DIRTY, VP_THP, VP_ZERO_PFN, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_NX,
                      _PAGE_SOFT_DIRTY,
                      _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_SPECIAL, _PAGE_TABLE, _PAGE_USER,
                      entry_has, entry_present, mk_entry, pt_index, pte_pfn)
from .memcontrol import mem_cgroup_charge_anon
from .swap import folio_add_lru_vma, folio_put, lru_add_drain
from .swapfile import free_swap_and_cache, swap_duplicate

# the compiled VMA table: one row per VMA, sorted by start
VMA_START, VMA_END, VMA_FLAGS, VMA_PGOFF, VMA_ANON, VMA_FILE = 0, 1, 2, 3, 4, 5
NR_VMA_COLS = 6

# fault status (VM_FAULT_* folded to what the caller must do)
FAULT_OK, FAULT_SIGSEGV_MAPERR, FAULT_SIGSEGV_ACCERR, FAULT_SHARED, FAULT_NEED_TABLES = 0, 1, 2, 4, 5
FAULT_NEED_ALLOC = 3  # an allocation the free lists could not serve above the watermark: vp[VP_SLOW_CTX] names it
FAULT_NEED_HUGE_ZERO = 6
FAULT_EFAULT = 7  # pagefault_disable(): the access fails instead of faulting
FAULT_DEADLINE = 8  # the batch used up its time budget: stopped after a completed access
FAULT_NEED_ANON_VMA = 9  # vmf_anon_prepare: the VMA needs its anon_vma before a page is added
FAULT_NEED_CHARGE = 10  # the memcg charge of a new page passed a memory.max: Python runs try_charge's slow part

CHARGE_FAILED = -3  # alloc_anon_folio: the page was allocated but its charge failed (it is freed again)

PAGE_MAPPING_ANON = 1


# ---- the VMA table ------------------------------------------------------------------------


@njit(cache=True)
def find_vma(vmas, addr):
    """Index of the first VMA ending above ``addr`` (``find_vma``), or -1."""
    lo, hi = 0, vmas.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if vmas[mid, VMA_END] <= addr:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < vmas.shape[0] else -1


@njit(cache=True)
def vma_is_anonymous(vmas, v):
    return vmas[v, VMA_FILE] == 0


@njit(cache=True)
def thp_vma_allowable(vs, vmas, v, addr):
    """A PMD-sized anonymous THP fits here and the THP policy allows it for this VMA."""
    flags = vmas[v, VMA_FLAGS]
    if not vma_is_anonymous(vmas, v) or flags & VM_NOHUGEPAGE:
        return False
    mode = vs.vp[VP_THP]
    if not (mode == THP_ALWAYS or (mode == THP_MADVISE and flags & VM_HUGEPAGE)):
        return False
    pmd_size = np.int64(1) << vs.shift[vs.vp[VP_PMD_LEVEL]]
    haddr = addr & ~(pmd_size - 1)
    return haddr >= vmas[v, VMA_START] and haddr + pmd_size <= vmas[v, VMA_END]


@njit(cache=True)
def linear_page_index(vmas, v, addr):
    return ((addr - vmas[v, VMA_START]) >> 12) + vmas[v, VMA_PGOFF]


# ---- tables --------------------------------------------------------------------------------


@njit(cache=True)
def alloc_with(a, vs, ctx, order):
    """A page for context ``ctx`` (user, page table, THP): the page the slow path got for this
    retried fault, else the allocator's fast path (``get_page_from_freelist`` at the LOW
    watermark). When that fails, ``vp[VP_SLOW_CTX]`` names the allocation and NO_PAGE returns:
    the fault ends with FAULT_NEED_ALLOC and Python runs ``__alloc_pages_slowpath``.
    SLOWPATH_FAILED returns when the slow path already failed for this allocation."""
    if vs.vp[VP_SLOW_PFN] != NO_PAGE and vs.vp[VP_SLOW_FOR] == ctx:
        pfn = vs.vp[VP_SLOW_PFN]
        vs.vp[VP_SLOW_PFN] = NO_PAGE
        return pfn
    nid = vs.ac[ctx, AC_NID]
    pfn = B.get_page_from_freelist(a, vs.zonelists[nid], vs.ac[ctx, AC_HIGHEST], order, vs.ac[ctx, AC_MT],
                                   vs.ac[ctx, AC_FAST], vs.vp[VP_CPU], vs.vp[VP_LOCAL_NID], vs.ac[ctx, AC_COMP] != 0)
    if pfn < 0:
        vs.vp[VP_SLOW_CTX] = ctx
    return pfn


@njit(cache=True)
def alloc_anon_folio(a, vs, mmc, ctx, order):
    """A new anonymous folio charged to the mm's memcg (``alloc_anon_folio`` /
    ``vma_alloc_anon_folio_pmd``: allocate, then ``mem_cgroup_charge``). A charge that would
    pass a ``memory.max`` frees the folio again and returns CHARGE_FAILED."""
    pfn = alloc_with(a, vs, ctx, order)
    if pfn >= 0 and not mem_cgroup_charge_anon(a, mmc[MMC_MEMCG], pfn, np.int64(1) << order):
        B.__free_pages(a, pfn, order, vs.vp[VP_CPU])
        return CHARGE_FAILED
    return pfn


@njit(cache=True)
def pte_alloc_one(a, vs, mmc):
    """A zeroed page-table page; its row in the pool, -1 (the pool is empty) or -2 (the
    allocation needs the slow path, or it failed there)."""
    if vs.vp[VP_NFREE] == 0:
        return -1
    pfn = alloc_with(a, vs, AC_PGTABLE, 0)
    if pfn < 0:
        return -2
    vs.vp[VP_NFREE] -= 1
    row = vs.pt_free[vs.vp[VP_NFREE]]
    vs.pt[row, :] = 0
    vs.pt_used[row] = 0
    vs.pt_huge_pte[row] = -1
    vs.pt_deposit_next[row] = -1
    vs.pt_pfn[row] = pfn
    a.private[pfn] = row
    mmc[MMC_PGTABLES_BYTES] += 4096
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_PAGETABLE] += 1
    return row


@njit(cache=True)
def pte_free(a, vs, mmc, row):
    pfn = vs.pt_pfn[row]
    a.private[pfn] = 0
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_PAGETABLE] -= 1
    B.__free_pages(a, pfn, 0, vs.vp[VP_CPU])
    vs.pt_free[vs.vp[VP_NFREE]] = row
    vs.vp[VP_NFREE] += 1
    mmc[MMC_PGTABLES_BYTES] -= 4096


@njit(cache=True)
def set_entry(vs, row, idx, entry):
    """``set_pte_at``/``pmd_populate``/...; ``pt_used`` counts the entries that are not none."""
    vs.pt_used[row] += int(not pte_none(entry)) - int(not pte_none(vs.pt[row, idx]))
    vs.pt[row, idx] = entry


TABLE_ABSENT = -3  # pt_table: no table there (and none allocated)


@njit(cache=True)
def pt_table(a, vs, mmc, pgd, addr, level, alloc):
    """The row of the table holding ``addr``'s entry at ``level`` (``pgd_offset`` ->
    ``p4d_offset`` -> ...), allocating missing tables when ``alloc`` (``p4d_alloc``,
    ``pud_alloc``, ``pmd_alloc``, ``pte_alloc``). -1/-2: a table could not be allocated (pool
    empty / no memory); TABLE_ABSENT: a table is missing, or a leaf maps the range above ``level``."""
    row = pgd
    for lv in range(level):
        idx = pt_index(vs, lv, addr)
        entry = vs.pt[row, idx]
        if pte_none(entry) and alloc:
            new = pte_alloc_one(a, vs, mmc)
            if new < 0:
                return new
            set_entry(vs, row, idx, mk_entry(vs.pt_pfn[new], _PAGE_TABLE))
            row = new
        elif not entry_present(entry) or entry_has(entry, _PAGE_PSE):
            return TABLE_ABSENT
        else:
            row = table_row(a, entry)
    return row


@njit(cache=True)
def table_row(a, entry):
    return a.private[pte_pfn(entry)]


# ---- the walk (what the MMU does) ----------------------------------------------------------


@njit(cache=True)
def follow(a, vs, pgd, addr, write):
    """Translate ``addr``; returns the 4 KiB pfn, or -1 if the access must fault.

    Sets the accessed bit, and the dirty bit on writes, in the leaf entry (hardware A/D).
    """
    row = pgd
    levels = vs.vp[VP_LEVELS]
    for level in range(levels):
        idx = pt_index(vs, level, addr)
        entry = vs.pt[row, idx]
        if not entry_present(entry):
            return -1
        leaf = level == levels - 1 or entry_has(entry, _PAGE_PSE)
        if not leaf:
            row = table_row(a, entry)
            continue
        if write and not entry_has(entry, _PAGE_RW):
            return -1
        bits = _PAGE_ACCESSED | (_PAGE_DIRTY if write else 0)
        vs.pt[row, idx] = entry | np.uint64(bits)
        base = pte_pfn(entry)
        if level < levels - 1:  # a huge leaf: the 4 KiB page inside it
            base += (addr >> 12) & ((np.int64(1) << (vs.shift[level] - 12)) - 1)
        return base
    return -1


@njit(cache=True, inline="always")
def pte_mkdirty(vs):
    """The bits x86's ``pte_mkdirty`` sets: dirty and, with CONFIG_MEM_SOFT_DIRTY, soft-dirty
    (a fault that dirties a page marks it for the soft-dirty tracker; a dirty bit the
    hardware sets on a writable pte does not)."""
    return np.uint64(_PAGE_DIRTY) | np.uint64(vs.vp[VP_SOFT_DIRTY])


# ---- pages: rmap and counters ----------------------------------------------------------------


@njit(cache=True)
def folio_add_new_anon_rmap(a, pfn, vmas, v, addr):
    a.mapcount[pfn] = 1
    a.mapping[pfn] = vmas[v, VMA_ANON] * 2 + PAGE_MAPPING_ANON
    a.index[pfn] = linear_page_index(vmas, v, addr)
    a.flags[pfn] |= PG_anon_exclusive_mask | PG_swapbacked_mask


@njit(cache=True)
def folio_entire_mapcount(a, head):
    return a.entire_mapcount[head] if a.flags[head] & PG_head_mask else 0


@njit(cache=True)
def page_mapped(a, pfn, head):
    """Is this page mapped by any pte or by a PMD mapping of its folio?"""
    return a.mapcount[pfn] > 0 or folio_entire_mapcount(a, head) > 0


@njit(cache=True)
def put_folio(a, vs, head):
    """Drop a reference; the last one takes the folio off its LRU list and frees it (to the
    running CPU's pcp lists)."""
    folio_put(a, head, vs.vp[VP_CPU])


@njit(cache=True)
def wp_can_reuse_anon_folio(a, vs, pfn):
    """A small anonymous folio no one else holds: a reference the running CPU's lru_add batch
    holds is dropped first (``lru_add_drain``) unless the folio is on its list already."""
    if a.refcount[pfn] > 3:
        return False
    if not a.flags[pfn] & PG_lru_mask:
        lru_add_drain(a, vs.vp[VP_CPU])
    return a.refcount[pfn] == 1


@njit(cache=True)
def clear_page(a, pfn, nr):
    """The pages read as zeros from now on (their rows are zeroed by the first store)."""
    a.content_valid[pfn:pfn + nr] = 0


@njit(cache=True)
def copy_page(a, dst, src):
    if a.content_valid[src]:
        a.content[dst, :] = a.content[src, :]
    a.content_valid[dst] = a.content_valid[src]


@njit(cache=True)
def write_line(a, pfn, line, value):
    """Store one byte-per-line value into a page."""
    if not a.content_valid[pfn]:
        a.content[pfn, :] = 0
        a.content_valid[pfn] = 1
    a.content[pfn, line] = value


@njit(cache=True)
def read_line(a, pfn, line):
    return a.content[pfn, line] if a.content_valid[pfn] else 0


# ---- faults ------------------------------------------------------------------------------------


@njit(cache=True)
def do_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write):
    if not write:  # map the shared zero page read-only (pte_special: no rmap, no RSS)
        set_entry(vs, row, idx, mk_entry(vs.vp[VP_ZERO_PFN], _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL
                                         | _PAGE_ACCESSED | _PAGE_NX))
        return FAULT_OK
    if vmas[v, VMA_ANON] == 0:
        return FAULT_NEED_ANON_VMA
    pfn = alloc_anon_folio(a, vs, mmc, AC_USER, 0)
    if pfn < 0:
        return FAULT_NEED_CHARGE if pfn == CHARGE_FAILED else FAULT_NEED_ALLOC
    clear_page(a, pfn, 1)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr)
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])
    set_entry(vs, row, idx, mk_entry(pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
                                     | _PAGE_NX) | pte_mkdirty(vs))
    mmc[MM_ANONPAGES] += 1
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] += 1
    return FAULT_OK


@njit(cache=True)
def do_wp_page(a, vs, vmas, mmc, v, row, idx, addr):
    """Write to a present read-only pte: reuse an exclusive anon page, or copy (COW)."""
    entry = vs.pt[row, idx]
    old = pte_pfn(entry)
    if vmas[v, VMA_FLAGS] & VM_SHARED:
        return FAULT_SHARED
    head = B.compound_head(a, old)
    large = head != old or (a.flags[old] & PG_head_mask) != 0
    # wp_can_reuse_anon_folio: never reuse a subpage of a large folio
    if not entry_has(entry, _PAGE_SPECIAL) and not large and (
            a.flags[old] & PG_anon_exclusive_mask or wp_can_reuse_anon_folio(a, vs, old)):
        a.flags[old] |= PG_anon_exclusive_mask
        vs.pt[row, idx] = entry | np.uint64(_PAGE_RW | _PAGE_ACCESSED) | pte_mkdirty(vs)
        vs.vm_events[PGREUSE] += 1  # wp_page_reuse
        return FAULT_OK
    if vmas[v, VMA_ANON] == 0:  # wp_page_copy of the zero page into a VMA that never had a page
        return FAULT_NEED_ANON_VMA
    pfn = alloc_anon_folio(a, vs, mmc, AC_USER, 0)
    if pfn < 0:
        return FAULT_NEED_CHARGE if pfn == CHARGE_FAILED else FAULT_NEED_ALLOC
    if entry_has(entry, _PAGE_SPECIAL):
        clear_page(a, pfn, 1)
        mmc[MM_ANONPAGES] += 1
    else:
        copy_page(a, pfn, old)
        a.mapcount[old] -= 1
        if not page_mapped(a, old, head):
            vs.nstat[a.zone_node[B.page_zone(a, old)], NS_ANON_MAPPED] -= 1
        put_folio(a, vs, head)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr)
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] += 1
    vs.pt[row, idx] = mk_entry(pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
                               | _PAGE_NX) | pte_mkdirty(vs)
    vs.vp[VP_FLUSH_PENDING] = 1  # wp_page_copy: ptep_clear_flush
    return FAULT_OK


@njit(cache=True)
def do_huge_pmd_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write):
    """A 2 MiB fault: the huge zero page for reads, a new THP for writes; -1 if it fell back.
    Either needs the VMA's anon_vma first (``vmf_anon_prepare``, before the read/write split)."""
    if vmas[v, VMA_ANON] == 0:
        return FAULT_NEED_ANON_VMA
    deposit = pte_alloc_one(a, vs, mmc)  # the pte table kept for a later split
    if deposit < 0:
        return FAULT_NEED_TABLES if deposit == -1 else FAULT_NEED_ALLOC
    nr = np.int64(1) << (vs.shift[vs.vp[VP_PMD_LEVEL]] - 12)
    if not write:
        if vs.vp[VP_HUGE_ZERO_PFN] < 0:  # -1: not allocated yet; -2: could not be allocated
            pte_free(a, vs, mmc, deposit)
            if vs.vp[VP_HUGE_ZERO_PFN] == -2:
                return -1
            vs.vp[VP_HUGE_ZERO_WANTED] = 1
            return FAULT_NEED_HUGE_ZERO
        set_entry(vs, row, idx, mk_entry(vs.vp[VP_HUGE_ZERO_PFN], _PAGE_PRESENT | _PAGE_USER | _PAGE_PSE
                                         | _PAGE_SPECIAL | _PAGE_ACCESSED | _PAGE_NX))
        pgtable_trans_huge_deposit(vs, row, deposit)
        return FAULT_OK
    order = vs.shift[vs.vp[VP_PMD_LEVEL]] - 12
    pfn = alloc_anon_folio(a, vs, mmc, AC_THP, order)
    if pfn < 0:
        pte_free(a, vs, mmc, deposit)
        if pfn == NO_PAGE:
            return FAULT_NEED_ALLOC
        if pfn == CHARGE_FAILED:  # THP gfp cannot block: try_charge fails at once, no memcg event
            vs.vm_events[THP_FAULT_FALLBACK_CHARGE] += 1
        vs.vm_events[THP_FAULT_FALLBACK] += 1  # the slow path or the charge failed: map 4 KiB pages
        return -1
    clear_page(a, pfn, nr)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr & ~((nr << 12) - 1))
    a.mapcount[pfn] = 0  # mapped whole by the PMD: the entire mapcount counts it
    a.entire_mapcount[pfn] = 1
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])  # large: onto its list at once
    set_entry(vs, row, idx, mk_entry(pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_PSE | _PAGE_ACCESSED
                                     | _PAGE_NX) | pte_mkdirty(vs))
    pgtable_trans_huge_deposit(vs, row, deposit)
    mmc[MM_ANONPAGES] += nr
    mmc[MMC_ANON_THP] += 1
    nid = a.zone_node[B.page_zone(a, pfn)]
    vs.nstat[nid, NS_ANON_MAPPED] += nr
    vs.nstat[nid, NS_ANON_THPS] += nr
    vs.vm_events[THP_FAULT_ALLOC] += 1
    return FAULT_OK


@njit(cache=True)
def __split_huge_pmd(a, vs, mmc, row, idx):
    """Replace a huge pmd by its deposited pte table mapping the same pages."""
    entry = vs.pt[row, idx]
    base = pte_pfn(entry)
    dep = pgtable_trans_huge_withdraw(vs, row)
    nr = vs.nent[vs.vp[VP_LEVELS] - 1]
    keep = np.uint64(_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX | _PAGE_SPECIAL
                     | _PAGE_SOFT_DIRTY)  # pmd_soft_dirty -> pte_mksoft_dirty
    if entry_has(entry, _PAGE_RW):
        keep |= np.uint64(_PAGE_RW)
    if entry_has(entry, _PAGE_DIRTY):
        keep |= np.uint64(_PAGE_DIRTY)
    special = entry_has(entry, _PAGE_SPECIAL)
    for i in range(nr):
        pfn = vs.vp[VP_ZERO_PFN] if special else base + i
        set_entry(vs, dep, i, mk_entry(pfn, np.uint64(entry) & keep))
    if not special:  # the PMD mapping becomes nr pte mappings of the same folio
        for i in range(nr):
            a.mapcount[base + i] += 1
            a.mapping[base + i] = a.mapping[base]
            a.index[base + i] = a.index[base] + i
        a.entire_mapcount[base] -= 1
        a.refcount[base] += nr - 1
        mmc[MMC_ANON_THP] -= 1
        if a.entire_mapcount[base] == 0:
            vs.nstat[a.zone_node[B.page_zone(a, base)], NS_ANON_THPS] -= nr
    vs.pt[row, idx] = mk_entry(vs.pt_pfn[dep], _PAGE_TABLE)
    vs.vp[VP_FLUSH_PENDING] = 1  # __split_huge_pmd_locked: pmdp_invalidate flushes the huge entry


@njit(cache=True)
def do_huge_pmd_wp_page(a, vs, vmas, mmc, v, row, idx):
    """Write to a read-only huge pmd: reuse an exclusive THP, else split and COW at 4 KiB."""
    entry = vs.pt[row, idx]
    head = pte_pfn(entry)
    if not entry_has(entry, _PAGE_SPECIAL) and a.refcount[head] == 1 and folio_entire_mapcount(a, head) == 1:
        vs.pt[row, idx] = entry | np.uint64(_PAGE_RW | _PAGE_ACCESSED) | pte_mkdirty(vs)
        return FAULT_OK
    __split_huge_pmd(a, vs, mmc, row, idx)
    return -1  # VM_FAULT_FALLBACK: handle the 4 KiB pte


@njit(cache=True)
def handle_mm_fault(a, vs, vmas, mmc, addr, write):
    v = find_vma(vmas, addr)
    if v < 0 or vmas[v, VMA_START] > addr:
        return FAULT_SIGSEGV_MAPERR
    flags = vmas[v, VMA_FLAGS]
    if (write and not flags & VM_WRITE) or (not write and not flags & (VM_READ | VM_WRITE | VM_EXEC)):
        return FAULT_SIGSEGV_ACCERR
    row = mmc[MMC_PGD]
    levels = vs.vp[VP_LEVELS]
    pmd_level = vs.vp[VP_PMD_LEVEL]
    for level in range(levels - 1):
        idx = pt_index(vs, level, addr)
        entry = vs.pt[row, idx]
        if level == pmd_level:
            if entry_present(entry) and entry_has(entry, _PAGE_PSE):
                if not write:
                    return FAULT_OK  # raced with nothing here: the walk will succeed
                status = do_huge_pmd_wp_page(a, vs, vmas, mmc, v, row, idx)
                if status >= 0:
                    return status
                entry = vs.pt[row, idx]
            elif not entry_present(entry) and thp_vma_allowable(vs, vmas, v, addr):
                status = do_huge_pmd_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write)
                if status >= 0:
                    return status
        if not entry_present(entry):
            new = pte_alloc_one(a, vs, mmc)
            if new < 0:
                return FAULT_NEED_TABLES if new == -1 else FAULT_NEED_ALLOC
            set_entry(vs, row, idx, mk_entry(vs.pt_pfn[new], _PAGE_TABLE))
            row = new
        else:
            row = table_row(a, entry)
    idx = pt_index(vs, levels - 1, addr)
    entry = vs.pt[row, idx]
    if is_pte_marker(entry, vs.vp[VP_SWP_FMT]):  # handle_pte_marker: a guard region faults
        if pte_marker_get(pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])) & PTE_MARKER_GUARD:
            return FAULT_SIGSEGV_MAPERR
    if not entry_present(entry):
        if not vma_is_anonymous(vmas, v) or flags & VM_SHARED:
            return FAULT_SHARED
        return do_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write)
    if write and not entry_has(entry, _PAGE_RW):
        return do_wp_page(a, vs, vmas, mmc, v, row, idx, addr)
    vs.pt[row, idx] = entry | np.uint64(_PAGE_ACCESSED)  # spurious: another path already fixed it
    return FAULT_OK


@njit(cache=True)
def access_one(a, vs, t, asid, vmas, mmc, addr, write):
    """One user access through the TLBs and, if needed, the fault path.

    Returns the 4 KiB pfn, or ``-1 - status`` when the fault needs Python. A fault is
    counted (``mm_account_fault``) once it completes."""
    pgd = mmc[MMC_PGD]
    how = tlb_translate(a, vs, t, asid, pgd, addr, write)
    if how >= 0:
        return how
    if vs.vp[VP_PAGEFAULT_DISABLED]:  # faulthandler_disabled(): no fault is handled
        return -1 - FAULT_EFAULT
    vs.vp[VP_FLUSH_PENDING] = 0
    status = handle_mm_fault(a, vs, vmas, mmc, addr, write)
    if status != FAULT_OK:
        return -1 - status
    mmc[MMC_MINFLT] += 1
    vs.vm_events[PGFAULT] += 1
    tlb_fault_done(vs, t, asid, addr)
    if how == MISS:  # the retried access misses the TLBs again: nothing refilled them
        tlb_miss_again(t)
        pfn = tlb_walk(a, vs, t, asid, pgd, addr, write, False)
    else:
        pfn = tlb_translate(a, vs, t, asid, pgd, addr, write)
    return pfn if pfn >= 0 else -1 - FAULT_SIGSEGV_ACCERR


@njit(cache=True, inline="always")
def past_deadline(mmc, accesses, flt0, budget):
    """``accesses`` accesses and the faults taken since the count was ``flt0`` cost ``budget``
    ns or more (the cost model of ``kernel/timer.py``)."""
    return accesses * ACCESS_NS + (mmc[MMC_MINFLT] - flt0) * FAULT_NS >= budget


@njit(cache=True)
def access_batch(a, vs, t, asid, vmas, mmc, addrs, write, value, out, start, budget):
    """Access ``addrs[start:]`` (write ``value`` or read into ``out``); returns (next, status).

    An access that needs Python stops the batch at its index with the fault status; a
    negative ``value`` faults for write without storing (GUP with FOLL_WRITE). Once the
    accesses done cost ``budget`` ns, the batch stops after the access with FAULT_DEADLINE."""
    vma_table, counters = unowned(vmas), unowned(mmc)  # the callees borrow them
    flt0 = mmc[MMC_MINFLT]
    for i in range(start, addrs.shape[0]):
        addr = addrs[i]
        pfn = access_one(a, vs, t, asid, vma_table, counters, addr, write)
        if pfn < 0:
            return i, -1 - pfn
        line = (addr & 4095) >> 6
        if write:
            if value >= 0:
                write_line(a, pfn, line, value)
        else:
            out[i] = read_line(a, pfn, line)
        if past_deadline(counters, i + 1 - start, flt0, budget):
            return i + 1, FAULT_DEADLINE
    return addrs.shape[0], FAULT_OK


@njit(cache=True, inline="always")
def _replay_access(a, vs, t, asid, vmas, mmc, addr, write, memo_page, memo_e, peak):
    """One access of ``replay_batch``: (status, memo page, memo entry, peak RSS)."""
    page = addr >> 12
    if page == memo_page and memo_e >= 0 and l1_hit_again(t, memo_e, addr, write) >= 0:
        return FAULT_OK, memo_page, memo_e, peak
    e = l1_4k_entry(t, asid, addr)  # the lookup's first probe, inline
    if e >= 0 and l1_hit_again(t, e, addr, write) >= 0:
        return FAULT_OK, page, e, peak
    pfn = access_one(a, vs, t, asid, vmas, mmc, addr, write)
    if pfn < 0:
        return -1 - pfn, memo_page, memo_e, peak
    rss = mmc[MM_ANONPAGES] + mmc[MM_SHMEMPAGES] + mmc[MM_FILEPAGES]
    return FAULT_OK, page, l1_entry(t, asid, addr), max(peak, rss)


@njit(cache=True)
def replay_batch(a, vs, t, asid, vmas, mmc, addrs, kinds, start, peak):
    """Trace records: kind 0 fetch and 1 load read, 2 store writes, 3 modify (one
    read-modify-write instruction). Returns (next, status, peak RSS pages so far).

    A modify translates once, as a write: the CPU's page walk for ``add [mem], 1`` carries
    the write bit in the error code, so an untouched page takes one write fault
    (``do_anonymous_page`` allocates a zeroed page, never the zero page) and the dirty bit
    is set at once. Its load then hits that translation; it counts as the two accesses
    lackey describes.

    The L1 entry of the last page accessed is remembered: another access to that page
    repeats that hit exactly (``l1_hit_again``) without the lookup; so does a hit in the L1
    4K dTLB, the lookup's first probe. Only ``access_one`` can fault, so RSS is only re-read
    after it. The caller ends the batch before it could use up the time left until the next
    event (``kernel/timer.py``): no check of the clock costs the accesses anything."""
    vma_table, counters = unowned(vmas), unowned(mmc)  # the callees borrow them
    memo_page, memo_e = np.int64(-1), np.int64(-1)
    for i in range(start, addrs.shape[0]):
        kind, addr = kinds[i], addrs[i]
        status, memo_page, memo_e, peak = _replay_access(a, vs, t, asid, vma_table, counters, addr, kind >= 2,
                                                         memo_page, memo_e, peak)
        if status != FAULT_OK:
            return i, status, peak
        if kind == 3:  # the modify's load, through the translation its write just used
            status, memo_page, memo_e, peak = _replay_access(a, vs, t, asid, vma_table, counters, addr, False,
                                                             memo_page, memo_e, peak)
            if status != FAULT_OK:
                return i, status, peak
    return addrs.shape[0], FAULT_OK, peak


# ---- unmapping, freeing tables, fork ---------------------------------------------------------


@njit(cache=True)
def zap_leaf(a, vs, mmc, entry, level):
    """Drop one leaf mapping: rmap (page or entire mapcount), RSS, NR_ANON_*, the folio reference."""
    if entry_has(entry, _PAGE_SPECIAL):
        return
    pfn = pte_pfn(entry)
    head = B.compound_head(a, pfn)
    huge = level < vs.vp[VP_LEVELS] - 1
    nr = np.int64(1) << (vs.shift[level] - 12) if huge else np.int64(1)
    nid = a.zone_node[B.page_zone(a, head)]
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    if huge:
        a.entire_mapcount[head] -= 1
        if a.entire_mapcount[head] == 0 and anon:
            vs.nstat[nid, NS_ANON_THPS] -= nr
            for i in range(nr):  # pages no pte maps any more leave NR_ANON_MAPPED
                if a.mapcount[head + i] == 0:
                    vs.nstat[nid, NS_ANON_MAPPED] -= 1
        if anon:
            mmc[MMC_ANON_THP] -= 1
    else:
        a.mapcount[pfn] -= 1
        if not page_mapped(a, pfn, head):  # the last pte: folio_remove_rmap_ptes
            vs.nstat[nid, NS_ANON_MAPPED if anon else NS_FILE_MAPPED] -= 1
    mmc[MM_ANONPAGES if anon else MM_SHMEMPAGES] -= nr
    put_folio(a, vs, head)


@njit(cache=True)
def mm_counter(a, head):
    """The RSS counter a folio's mappings count in (``mm_counter``)."""
    return MM_ANONPAGES if a.mapping[head] & PAGE_MAPPING_ANON else MM_SHMEMPAGES


@njit(cache=True)
def zap_huge_pmd(a, vs, mmc, row, idx):
    """Unmap a whole huge pmd; its deposited table goes too (``zap_deposited_table``)."""
    zap_leaf(a, vs, mmc, vs.pt[row, idx], vs.vp[VP_PMD_LEVEL])
    pte_free(a, vs, mmc, pgtable_trans_huge_withdraw(vs, row))
    set_entry(vs, row, idx, np.uint64(0))


@njit(cache=True)
def zap_nonpresent_pte(a, vs, mmc, row, idx, drop_markers):
    """``zap_nonpresent_ptes``: a swap entry gives its slot back (MM_SWAPENTS), a migration
    entry leaves the RSS of its folio; PTE markers (guard regions) survive MADV_DONTNEED and
    go only when the range is unmapped (``ZAP_FLAG_DROP_MARKER``)."""
    entry = pte_to_swp_entry(vs.pt[row, idx], vs.vp[VP_SWP_FMT])
    if not non_swap_entry(entry):
        mmc[MM_SWAPENTS] -= 1
        free_swap_and_cache(vs, entry)
    elif is_migration_entry(entry):
        mmc[mm_counter(a, B.compound_head(a, swp_offset_pfn(entry)))] -= 1
    elif not drop_markers:
        return
    set_entry(vs, row, idx, np.uint64(0))


@njit(cache=True)
def zap_pte_range(a, vs, mmc, row, first, last, drop_markers):
    """Unmap the ptes [first, last) of table ``row`` (``zap_present_ptes``/``zap_nonpresent_ptes``)."""
    level = vs.vp[VP_LEVELS] - 1
    for idx in range(first, last):
        entry = vs.pt[row, idx]
        if pte_none(entry):
            continue
        if pte_present(entry):
            zap_leaf(a, vs, mmc, entry, level)
            set_entry(vs, row, idx, np.uint64(0))
        else:
            zap_nonpresent_pte(a, vs, mmc, row, idx, drop_markers)


@njit(cache=True)
def unmap_page_range(a, vs, mmc, pgd, start, end, drop_markers):
    """Unmap [start, end): every entry that is not none goes; a huge pmd only partly inside is
    split first (``zap_pmd_range``). The running CPU's LRU batches are drained first, as
    ``free_pages_and_swap_cache`` does before it puts the folios' references."""
    lru_add_drain(a, vs.vp[VP_CPU])
    w = walk_page_range(vs, pgd, start, end, WALK_PTE_TABLES)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        if kind == WALK_PTE_TABLE:
            first, last = walk_pte_range(vs, w)
            zap_pte_range(a, vs, mmc, row, first, last, drop_markers)
        elif kind != PTE_KIND_PRESENT:
            zap_nonpresent_pte(a, vs, mmc, row, idx, drop_markers)
        elif addr < start or addr + (np.int64(1) << vs.shift[level]) > end:
            __split_huge_pmd(a, vs, mmc, row, idx)
            walk_again(w)
        else:
            zap_huge_pmd(a, vs, mmc, row, idx)


@njit(cache=True)
def free_pgd_range(a, vs, mmc, pgd, vmas):
    """Free the tables below ``pgd`` that are empty and that no VMA needs (``free_pgtables``),
    bottom up; a table still holding swap entries or markers is not empty."""
    w = walk_page_range(vs, pgd, 0, np.int64(vs.nent[0]) << vs.shift[0], WALK_POST | WALK_PTE_TABLES)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        if kind == WALK_PTE_TABLE:
            walk_pte_range(vs, w)  # its entries do not matter, only pt_used
        if kind != WALK_TABLE_DONE:
            continue
        child = table_row(a, vs.pt[row, idx])
        v = find_vma(vmas, addr)
        needed = v >= 0 and vmas[v, VMA_START] < addr + (np.int64(1) << vs.shift[level])
        if vs.pt_used[child] == 0 and not needed:
            pte_free(a, vs, mmc, child)
            set_entry(vs, row, idx, np.uint64(0))


@njit(cache=True)
def is_cow_mapping(vm_flags):
    """Private and may be written: fork shares its pages copy-on-write."""
    return (vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE


@njit(cache=True)
def cow_wrprotect(entry, vm_flags):
    """The entry, write-protected if the mapping is copy-on-write (in parent and child)."""
    return entry & ~np.uint64(_PAGE_RW) if is_cow_mapping(vm_flags) else entry


@njit(cache=True)
def child_entry(entry, vm_flags):
    """``__copy_present_ptes``: the child's entry is old, and clean in a shared mapping."""
    return entry & ~np.uint64(_PAGE_ACCESSED | (_PAGE_DIRTY if vm_flags & VM_SHARED else 0))


@njit(cache=True)
def folio_dup_rmap(a, dst_mmc, entry, nr):
    """``folio_try_dup_anon_rmap_ptes``/``_pmd`` and the child's RSS: one more mapping and
    reference of the ``nr`` pages ``entry`` maps (the zero pages have none)."""
    if entry_has(entry, _PAGE_SPECIAL):
        return
    pfn = pte_pfn(entry)
    head = B.compound_head(a, pfn)
    if nr > 1:
        a.entire_mapcount[head] += 1  # another PMD mapping of the folio
        dst_mmc[MMC_ANON_THP] += 1
    else:
        a.mapcount[pfn] += 1
    a.refcount[head] += 1
    a.flags[pfn] &= ~PG_anon_exclusive_mask
    dst_mmc[MM_ANONPAGES] += nr


@njit(cache=True)
def copy_huge_pmd(a, vs, dst_mmc, srow, drow, idx, level, vm_flags):
    """``copy_huge_pmd``: share the THP; the child's PMD table gets a deposited table too.
    0, or the status of the failed table allocation."""
    dep = pte_alloc_one(a, vs, dst_mmc)
    if dep < 0:
        return dep
    entry = vs.pt[srow, idx] = cow_wrprotect(vs.pt[srow, idx], vm_flags)
    folio_dup_rmap(a, dst_mmc, entry, np.int64(1) << (vs.shift[level] - 12))
    pgtable_trans_huge_deposit(vs, drow, dep)
    set_entry(vs, drow, idx, child_entry(entry, vm_flags))
    return 0


@njit(cache=True)
def copy_nonpresent_pte(a, vs, dst_mmc, srow, drow, idx, vm_flags):
    """``copy_nonpresent_pte``: a swap entry takes another slot reference and is shared from
    now on (no longer exclusive); a writable migration entry of a COW mapping becomes
    readable in both; guard and poison markers are copied, uffd-wp ones not (no uffd here)."""
    fmt = vs.vp[VP_SWP_FMT]
    pte = vs.pt[srow, idx]
    entry = pte_to_swp_entry(pte, fmt)
    if not non_swap_entry(entry):
        swap_duplicate(vs, entry)
        pte &= ~pte_swp_exclusive_bit(fmt)
        vs.pt[srow, idx] = pte
        dst_mmc[MM_SWAPENTS] += 1
    elif is_migration_entry(entry):
        dst_mmc[mm_counter(a, B.compound_head(a, swp_offset_pfn(entry)))] += 1
        if is_writable_migration_entry(entry) and is_cow_mapping(vm_flags):
            pte = swp_entry_to_pte(make_readable_migration_entry(swp_offset(entry)), fmt) | \
                (pte & np.uint64(_PAGE_SWP_UFFD_WP if fmt == SWP_FMT_64 else 0))
            vs.pt[srow, idx] = pte
    else:
        marker = pte_marker_get(entry) & (PTE_MARKER_POISONED | PTE_MARKER_GUARD)
        if marker:
            set_entry(vs, drow, idx, make_pte_marker(marker, fmt))
        return
    if fmt == SWP_FMT_64:
        pte &= ~np.uint64(_PAGE_SWP_UFFD_WP)  # the child's VMA is not userfaultfd_wp
    set_entry(vs, drow, idx, pte)


@njit(cache=True)
def copy_pte_range(a, vs, dst_mmc, srow, drow, first, last, vm_flags):
    """Copy the ptes [first, last) of table ``srow`` into table ``drow`` (``copy_pte_range``)."""
    for idx in range(first, last):
        entry = vs.pt[srow, idx]
        if pte_none(entry):
            continue
        if pte_present(entry):  # copy_present_ptes
            entry = vs.pt[srow, idx] = cow_wrprotect(entry, vm_flags)
            folio_dup_rmap(a, dst_mmc, entry, 1)
            set_entry(vs, drow, idx, child_entry(entry, vm_flags))
        else:
            copy_nonpresent_pte(a, vs, dst_mmc, srow, drow, idx, vm_flags)


@njit(cache=True)
def copy_page_range(a, vs, dst_mmc, spgd, dpgd, start, end, vm_flags):
    """``copy_page_range`` for [start, end) from the tables below ``spgd`` to those below
    ``dpgd`` (allocated as needed). Returns (0, end), or (the failed allocation's status, the
    address to resume from once Python made room)."""
    w = walk_page_range(vs, spgd, start, end, WALK_PTE_TABLES)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return 0, end
        drow = pt_table(a, vs, dst_mmc, dpgd, addr, level, True)
        if drow < 0:
            return drow, addr
        if kind == WALK_PTE_TABLE:
            first, last = walk_pte_range(vs, w)
            copy_pte_range(a, vs, dst_mmc, row, drow, first, last, vm_flags)
        elif kind == PTE_KIND_PRESENT:
            status = copy_huge_pmd(a, vs, dst_mmc, row, drow, idx, level, vm_flags)
            if status < 0:
                return status, addr
        else:
            copy_nonpresent_pte(a, vs, dst_mmc, row, drow, idx, vm_flags)


@njit(cache=True)
def install_pte(a, vs, mmc, addr, pfn, bits):
    """Map ``pfn`` at ``addr`` with ``bits``, allocating tables (for faults finished in Python).

    Returns 0, or the negative status of a failed table allocation."""
    levels = vs.vp[VP_LEVELS]
    pmd = pt_table(a, vs, mmc, mmc[MMC_PGD], addr, levels - 2, True)
    if pmd < 0:
        return pmd
    idx = pt_index(vs, levels - 2, addr)
    if is_leaf_entry(vs.pt[pmd, idx]):
        __split_huge_pmd(a, vs, mmc, pmd, idx)  # split_huge_pmd_address
    row = pt_table(a, vs, mmc, mmc[MMC_PGD], addr, levels - 1, True)
    if row < 0:
        return row
    set_entry(vs, row, pt_index(vs, levels - 1, addr), mk_entry(pfn, bits))
    return 0


@njit(cache=True)
def lookup_pte(a, vs, pgd, addr):
    """The leaf entry for ``addr`` (0 if none; a swap entry is one) and the level it sits at."""
    row = pgd
    levels = vs.vp[VP_LEVELS]
    for level in range(levels):
        entry = vs.pt[row, pt_index(vs, level, addr)]
        if pte_none(entry):
            return np.uint64(0), level
        if level == levels - 1 or not entry_present(entry) or entry_has(entry, _PAGE_PSE):
            return entry, level
        row = table_row(a, entry)
    return np.uint64(0), levels - 1


# smaps counters (fs/proc/task_mmu.c: smaps_pte_range / smaps_pmd_entry / smaps_account)
SM_RSS, SM_PSS, SM_PSS_DIRTY, SM_PSS_ANON, SM_PSS_FILE, SM_PSS_SHMEM = 0, 1, 2, 3, 4, 5
SM_SHARED_CLEAN, SM_SHARED_DIRTY, SM_PRIVATE_CLEAN, SM_PRIVATE_DIRTY = 6, 7, 8, 9
SM_REFERENCED, SM_ANONYMOUS, SM_ANON_HUGE, SM_SWAP, SM_LOCKED = 10, 11, 12, 13, 14
NR_SM = 15
PSS_SHIFT = 12


@njit(cache=True)
def smaps_account(a, vs, entry, level, shmem_vma, present, out):
    """``smaps_account`` for one mapping of ``entry``'s page(s) at ``level``; a migration
    entry (not ``present``) counts its page, neither young nor dirty."""
    levels = vs.vp[VP_LEVELS]
    size = np.int64(1) << vs.shift[level]
    pfn = swp_offset_pfn(pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])) if not present else pte_pfn(entry)
    head = B.compound_head(a, pfn)
    if level < levels - 1:
        mapcount = max(folio_entire_mapcount(a, head), 1)
    else:
        mapcount = max(a.mapcount[pfn] + folio_entire_mapcount(a, head), 1)
    dirty = present and entry_has(entry, _PAGE_DIRTY)
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    out[SM_RSS] += size
    pss = (size << PSS_SHIFT) // mapcount
    out[SM_PSS] += pss
    if dirty:
        out[SM_PSS_DIRTY] += pss
    if anon:
        out[SM_PSS_ANON] += pss
        out[SM_ANONYMOUS] += size
        if level < levels - 1:
            out[SM_ANON_HUGE] += size
    elif shmem_vma:
        out[SM_PSS_SHMEM] += pss
    else:
        out[SM_PSS_FILE] += pss
    if mapcount >= 2:
        out[SM_SHARED_DIRTY if dirty else SM_SHARED_CLEAN] += size
    else:
        out[SM_PRIVATE_DIRTY if dirty else SM_PRIVATE_CLEAN] += size
    if present and entry_has(entry, _PAGE_ACCESSED):
        out[SM_REFERENCED] += size


@njit(cache=True)
def smaps_page_range(a, vs, pgd, start, end, shmem_vma, out):
    """Accumulate smaps counters (bytes; Pss << PSS_SHIFT) over [start, end)
    (``smaps_pte_entry``/``smaps_pmd_entry``): mapped pages but the zero pages
    (``vm_normal_page``), swap entries in Swap."""
    w = walk_page_range(vs, pgd, start, end, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        entry = vs.pt[row, idx]
        if kind == PTE_KIND_PRESENT and not entry_has(entry, _PAGE_SPECIAL):
            smaps_account(a, vs, entry, level, shmem_vma, True, out)
        elif kind == PTE_KIND_SWAP:
            out[SM_SWAP] += np.int64(1) << vs.shift[level]
        elif kind == PTE_KIND_MIGRATION:
            smaps_account(a, vs, entry, level, shmem_vma, False, out)
