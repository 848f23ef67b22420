"""Page faults and page-table walks (``mm/memory.c``, ``mm/huge_memory.c``), Linux 6.18, compiled.

``access_batch`` is the MMU and the fault path for a batch of user accesses: walk the page
tables, and where the walk fails call ``handle_mm_fault`` -> ``__handle_mm_fault`` (allocate
the upper tables, THP at the PMD level: ``do_huge_pmd_anonymous_page``,
``do_huge_pmd_wp_page``) -> ``handle_pte_fault`` (``do_anonymous_page`` with the shared zero
page for reads, ``do_wp_page``: reuse an exclusive page or copy it), then perform the access,
setting the accessed and dirty bits. File and shared-memory VMAs fault through ``do_fault``
(``do_read_fault`` with fault-around over the page cache, ``do_cow_fault``,
``do_shared_fault``; see the section on file faults). Faults that need Python (SIGSEGV,
SIGBUS, a page to read or dirty, an allocation the slow path must handle, a full table pool)
end the batch with a status.

``unmap_page_range`` unmaps (``zap_pte_range``, ``zap_huge_pmd``, ``zap_nonpresent_ptes``),
``free_pgd_range`` frees tables no VMA needs, ``copy_page_range`` is fork's copy-on-write
setup (``copy_pte_range``, ``copy_huge_pmd``, ``copy_nonpresent_pte``); all three go
through the one range walker (``pagewalk.walk_page_range``) and dispatch on the entry's kind.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..arch.x86.mm.tlb import (l1_4k_entry, l1_entry, l1_entry_shift, l1_hit_again, l1_hits_again, tlb_fault_done, tlb_refill,
                               tlb_translate)
from ..include.linux.mm_types import (  # noqa: F401 (callers also read the mmc layout and VM_* as M.*)
    GUP_PIN_COUNTING_BIAS, MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, MMC_ANON_THP, MMC_HAS_PINNED,
    MMC_MAJFLT, MMC_MEMCG, MMC_MINFLT, MMC_PGD,
    MMC_PGTABLES_BYTES, NR_MMC, VM_DONTCOPY, VM_DROPPABLE, VM_EXEC, VM_HUGEPAGE, VM_LOCKED, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_NOHUGEPAGE, VM_READ, VM_SHARED, VM_SOFTDIRTY,
    VM_WIPEONFORK, VM_WRITE)
from ..include.linux.page_flags import (PG_anon_exclusive_mask, PG_dirty, PG_head_mask, PG_locked, PG_lru_mask,
                                        PG_readahead, PG_referenced, PG_swapbacked_mask, PG_swapcache_mask, PG_uptodate,
                                        PG_uptodate_mask, PG_young)
from ..jit import entry, unowned
from ..lib.xarray import XA_CHUNK_MASK, XA_CHUNK_SHIFT, xa_is_folio, xa_leaf, xa_load, xa_to_folio
from ..kernel.timer import ACCESS_NS, FAULT_NS
from . import buddy as B
from .pagewalk import (WALK_DONE, WALK_POST, WALK_PTE_TABLE, WALK_PTE_TABLES, WALK_TABLE_DONE, walk_again, walk_next,
                       walk_page_range, walk_parent, walk_pte_range)
from .pgtable import (PTE_KIND_MIGRATION, PTE_KIND_PRESENT, PTE_KIND_SWAP, PTE_MARKER_GUARD, PTE_MARKER_POISONED,
                      SWP_FMT_64, VP_SWP_FMT, _PAGE_SWP_UFFD_WP, is_leaf_entry, is_migration_entry, is_writable_migration_entry,
                      is_pte_marker, make_pte_marker, make_readable_migration_entry, non_swap_entry,
                      pgtable_trans_huge_deposit,
                      pgtable_trans_huge_withdraw, pte_marker_get, pte_none, pte_present, pte_swp_exclusive_bit,
                      pte_to_swp_entry, swp_entry_to_pte, swp_offset, swp_offset_pfn, pte_kind, swp_type)
from ..include.linux.vmstat import (NR_ZONE_WRITE_PENDING, PGFAULT, PGMAJFAULT, PGREUSE, THP_FAULT_ALLOC, THP_FAULT_FALLBACK,
                                    THP_FAULT_FALLBACK_CHARGE, THP_FILE_MAPPED, THP_SPLIT_PMD)
from .pgtable import (NS_DIRTIED, NS_FILE_DIRTY, NS_FILE_PMDMAPPED, NS_SHMEM_PMDMAPPED,
                      VP_FAULT_AROUND_PAGES, VP_FAULT_MAJOR, VP_NR_SWAP_PAGES, VP_SWAPIN_FAULTS)
from .pgtable import (NS_ANON_MAPPED, NS_ANON_THPS, NS_FILE_MAPPED, NS_PAGETABLE, _PAGE_PROTNONE, AC_COMP, AC_FAST, AC_HIGHEST, AC_MT, AC_NID, AC_PGTABLE, AC_SLOW, AC_SWAPIN, AC_THP, AC_USER,
                      THP_ALWAYS, THP_MADVISE,
                      VP_CPU, VP_FLUSH_PENDING, VP_HUGE_ZERO_PFN, VP_HUGE_ZERO_WANTED, VP_LEVELS, VP_LOCAL_NID, VP_NFREE,
                      NO_PAGE, VP_PAGEFAULT_DISABLED, VP_PMD_LEVEL, VP_SLOW_CTX, VP_SLOW_FOR, VP_SLOW_NOWAKE, VP_SLOW_PFN, VP_SOFT_DIRTY, VP_FAULT_UNSHARE, VP_THP, VP_ZERO_PFN, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_NX,
                      _PAGE_SOFT_DIRTY,
                      _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_SPECIAL, _PAGE_TABLE, _PAGE_USER,
                      entry_has, entry_present, mk_entry, pt_index, pte_pfn)
from .memcontrol import (charge_memcg, count_memcg_folio_events, mem_cgroup_charge_anon, mem_cgroup_charge_pagetable,
                         mem_cgroup_uncharge_pagetable, mod_memcg_folio_state)
from .page_io import swap_read_folio_sync
from .swap import (deferred_split_folio, folio_add_lru, folio_add_lru_vma, folio_put, folio_test_partially_mapped,
                   lru_add_drain, munlock_folio)
from ..include.linux.swap import SWAP_COUNT_MASK, SWAP_HAS_CACHE
from .swapfile import (PG_dirty_mask, __swap_cache_add_folio, swap_slot, free_swap_and_cache, free_swap_cache,
                       folio_free_swap, swap_duplicate, swap_free, swp_tb_is_folio)
from .workingset import workingset_refault

# the compiled VMA table: one row per VMA, sorted by start. VMA_FILE is the file's inode
# number (0: anonymous); VMA_XA the xarray of its page cache (-1: none); VMA_FILE_END the
# file's size in pages (DIV_ROUND_UP(i_size, PAGE_SIZE)); VMA_FOPS what its vm_ops offer
VMA_START, VMA_END, VMA_FLAGS, VMA_PGOFF, VMA_ANON, VMA_FILE = 0, 1, 2, 3, 4, 5
VMA_XA, VMA_FILE_END, VMA_FOPS = 6, 7, 8
NR_VMA_COLS = 9
FOPS_MKWRITE = 1  # ->page_mkwrite (ext4): shared writable ptes start read-only (writenotify)
FOPS_SHMEM = 2  # shmem_mapping(): swap-backed, may map large folios across i_size

# fault status (VM_FAULT_* folded to what the caller must do)
FAULT_OK, FAULT_SIGSEGV_MAPERR, FAULT_SIGSEGV_ACCERR, FAULT_NEED_TABLES = 0, 1, 2, 5
FAULT_NEED_ALLOC = 3  # an allocation the free lists could not serve above the watermark: vp[VP_SLOW_CTX] names it
FAULT_NEED_HUGE_ZERO = 6
FAULT_EFAULT = 7  # pagefault_disable(): the access fails instead of faulting
FAULT_DEADLINE = 8  # the batch used up its time budget: stopped after a completed access
FAULT_NEED_ANON_VMA = 9  # vmf_anon_prepare: the VMA needs its anon_vma before a page is added
FAULT_FILE_MISS = 10  # filemap_fault: the page is not cached and up to date (or starts readahead): Python reads
FAULT_FILE_MKWRITE = 11  # a store to a clean shared file folio: ->page_mkwrite and dirtying run in Python
FAULT_SIGBUS = 12  # VM_FAULT_SIGBUS: a file page at or beyond the end of the file
FAULT_SWAP = 13  # a swap pte: ``do_swap_page`` (mm/swap_state.py) brings the page in
FAULT_NEED_CHARGE = 14  # the memcg charge of a new page passed a memory.max: Python runs try_charge's slow part
FAULT_FALLBACK = -1  # VM_FAULT_FALLBACK within the fault path: try the next way

CHARGE_FAILED = -3  # alloc_anon_folio: the page was allocated but its charge failed (it is freed again)
COPY_AGAIN = 1  # copy_huge_pmd split a THP fork must copy page by page: copy its ptes (-EAGAIN)

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


@njit(cache=True, inline="always")
def alloc_with(a, vs, ctx, order):
    """A page for context ``ctx`` (user, page table, THP): the page the slow path got for this
    retried fault, else the allocator's fast path (``get_page_from_freelist`` at the LOW
    watermark). When that fails and the slow path would wake no kswapd (``VP_SLOW_NOWAKE``:
    they run already, asked for this), its first attempt follows here, at the MIN watermark.
    When that fails too, ``vp[VP_SLOW_CTX]`` names the allocation and NO_PAGE returns: the
    fault ends with FAULT_NEED_ALLOC and Python runs ``__alloc_pages_slowpath``.
    SLOWPATH_FAILED returns when the slow path already failed for this allocation. Inline:
    every fault's allocation starts here."""
    if vs.vp[VP_SLOW_PFN] != NO_PAGE and vs.vp[VP_SLOW_FOR] == ctx:
        pfn = vs.vp[VP_SLOW_PFN]
        vs.vp[VP_SLOW_PFN] = NO_PAGE
        return pfn
    pfn = get_page_from_freelist_ctx(a, vs, ctx, order, AC_FAST)
    if pfn < 0 and vs.vp[VP_SLOW_NOWAKE] >> ctx & 1:
        pfn = get_page_from_freelist_ctx(a, vs, ctx, order, AC_SLOW)
    if pfn < 0:
        vs.vp[VP_SLOW_CTX] = ctx
    return pfn


@njit(cache=True, inline="always")
def get_page_from_freelist_ctx(a, vs, ctx, order, flags):
    """The zonelist walk for allocation context ``ctx`` with its alloc_flags ``ac[ctx, flags]``
    (node reclaim is left to ``alloc_pages_slowpath_for_fault``). Inline: a wrapper on every
    fault's allocation."""
    nid = vs.ac[ctx, AC_NID]
    return B.get_page_from_freelist(a, vs.zonelists[nid], vs.ac[ctx, AC_HIGHEST], order, vs.ac[ctx, AC_MT],
                                    vs.ac[ctx, flags], vs.vp[VP_CPU], vs.vp[VP_LOCAL_NID], vs.ac[ctx, AC_COMP] != 0,
                                    B.NODE_RECLAIM_NEVER)


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


@njit(cache=True, inline="always")
def pgtables_counted(levels, level):
    """Does a table at ``level`` (0: the PGD; -1: the last level, a PTE table) of a
    ``levels``-level tree count in the mm's pgtables_bytes (VmPTE, the OOM badness)?
    ``mm_inc_nr_ptes``/``_pmds``/``_puds`` count the PTE, PMD and PUD tables; ``pgd_alloc``
    and ``__p4d_alloc`` count nothing: neither the PGD nor, with 5-level paging, a P4D table."""
    return level != 0 and not (levels == 5 and level == 1)


@njit(cache=True)
def pte_alloc_one(a, vs, mmc, level=-1):
    """A zeroed page-table page for ``level`` (a PTE table unless said); its row in the pool,
    -1 (the pool is empty) or -2 (the allocation needs the slow path, or it failed there)."""
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
    if pgtables_counted(vs.vp[VP_LEVELS], level):
        mmc[MMC_PGTABLES_BYTES] += 4096
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_PAGETABLE] += 1
    mem_cgroup_charge_pagetable(a, mmc[MMC_MEMCG], pfn)
    return row


@njit(cache=True)
def pte_free(a, vs, mmc, row, level=-1):
    """Free the page-table page of pool row ``row``, a table at ``level`` (``pte_alloc_one``)."""
    pfn = vs.pt_pfn[row]
    a.private[pfn] = 0
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_PAGETABLE] -= 1
    mem_cgroup_uncharge_pagetable(a, pfn)
    B.__free_pages(a, pfn, 0, vs.vp[VP_CPU])
    vs.pt_free[vs.vp[VP_NFREE]] = row
    vs.vp[VP_NFREE] += 1
    if pgtables_counted(vs.vp[VP_LEVELS], level):
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
            new = pte_alloc_one(a, vs, mmc, lv + 1)
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
def pt_offset(a, vs, pgd, addr, level):
    """``pt_table`` without allocating (``pgd_offset`` -> ... -> ``pmd_offset``, as the rmap
    walks' ``mm_find_pmd`` looks): the row of the table holding ``addr``'s entry at ``level``;
    TABLE_ABSENT if a table is missing or a leaf maps the range above ``level``."""
    row = pgd
    for lv in range(level):
        entry = vs.pt[row, pt_index(vs, lv, addr)]
        if not entry_present(entry) or entry_has(entry, _PAGE_PSE):
            return TABLE_ABSENT
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


@njit(cache=True, inline="always")
def maybe_mkwrite(vmas, v):
    """``maybe_mkwrite``: the write bit a write fault gives its new entry, in a VM_WRITE VMA
    only (a FOLL_FORCE write into a read-only private mapping leaves the entry read-only,
    dirty)."""
    return np.uint64(_PAGE_RW) if vmas[v, VMA_FLAGS] & VM_WRITE else np.uint64(0)


# ---- pages: rmap and counters ----------------------------------------------------------------


@njit(cache=True)
def folio_add_new_anon_rmap(a, pfn, vmas, v, addr):
    """A new anonymous folio mapped exclusively at ``addr`` of VMA ``v``."""
    __folio_add_new_anon_rmap(a, pfn, vmas[v, VMA_ANON], linear_page_index(vmas, v, addr), vmas[v, VMA_FLAGS])


@njit(cache=True)
def __folio_add_new_anon_rmap(a, pfn, anon_vma, index, vm_flags):
    """A new anonymous folio of ``anon_vma`` at page ``index``, mapped once, exclusively:
    swap-backed, except in a MAP_DROPPABLE mapping, whose folios reclaim drops instead
    (lazily freed from birth)."""
    a.mapcount[pfn] = 1
    a.mapping[pfn] = anon_vma * 2 + PAGE_MAPPING_ANON
    a.index[pfn] = index
    a.flags[pfn] |= PG_anon_exclusive_mask | (PG_swapbacked_mask if not vm_flags & VM_DROPPABLE else np.uint64(0))


@njit(cache=True)
def folio_entire_mapcount(a, head):
    return a.entire_mapcount[head] if a.flags[head] & PG_head_mask else 0


@njit(cache=True)
def page_mapped(a, pfn, head):
    """Is this page mapped by any pte or by a PMD mapping of its folio?"""
    return a.mapcount[pfn] > 0 or folio_entire_mapcount(a, head) > 0


@njit(cache=True)
def folio_mapped(a, head):
    """``folio_mapped``: is any page of the folio mapped, by a pte or a pmd?"""
    if folio_entire_mapcount(a, head) > 0:
        return True
    for p in range(head, head + (np.int64(1) << a.order[head])):
        if a.mapcount[p] > 0:
            return True
    return False


@njit(cache=True)
def put_folio(a, vs, head):
    """Drop a reference; the last one takes the folio off its LRU list and frees it (to the
    running CPU's pcp lists)."""
    folio_put(a, head, vs.vp[VP_CPU])


@njit(cache=True)
def wp_can_reuse_anon_folio(a, vs, pfn):
    """A small anonymous folio no one else holds: a reference the running CPU's lru_add batch
    holds is dropped first (``lru_add_drain``) unless the folio is on its list already; a
    swap-cache folio leaves the cache when no swap pte needs its slot (``folio_free_swap``)."""
    if a.refcount[pfn] > 3:
        return False
    if not a.flags[pfn] & PG_lru_mask:
        lru_add_drain(a, vs.vp[VP_CPU])
    swapcache = (a.flags[pfn] & PG_swapcache_mask) != 0
    if a.refcount[pfn] > 1 + swapcache:
        return False
    if swapcache:  # the swap cache's reference goes with the slot no swap pte needs
        folio_free_swap(a, vs, pfn)
    return a.refcount[pfn] == 1


@njit(cache=True)
def clear_page(a, pfn, nr):
    """The pages read as zeros from now on (their rows are zeroed by the first store).
    A loop, not a slice: no view to build on every small page's fault."""
    valid = a.content_valid
    for p in range(pfn, pfn + nr):
        valid[p] = 0


@njit(cache=True)
def copy_page(a, dst, src):
    if a.content_valid[src]:
        a.content[dst, :] = a.content[src, :]
    a.content_valid[dst] = a.content_valid[src]


@njit(cache=True, inline="always")
def __folio_mark_uptodate(a, pfn):
    """``__folio_mark_uptodate``: a new folio's contents (zeroed or copied) are valid, before
    it is mapped; every new anonymous folio gets it (6.18: ``do_anonymous_page``,
    ``wp_page_copy``, ``do_cow_fault``, ``vma_alloc_anon_folio_pmd``, ``copy_present_page``,
    ``collapse_huge_page``), a swapped-in one from its read (``folio_end_read``)."""
    a.flags[pfn] |= PG_uptodate_mask


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
    vm_flags = vmas[v, VMA_FLAGS]
    clear_page(a, pfn, 1)
    __folio_mark_uptodate(a, pfn)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr)
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vm_flags)
    entry = mk_entry(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX)
    if vm_flags & VM_WRITE:  # pte_mkwrite(pte_mkdirty()); a FOLL_FORCE write gets neither
        entry |= np.uint64(_PAGE_RW) | pte_mkdirty(vs)
    set_entry(vs, row, idx, entry)
    mmc[MM_ANONPAGES] += 1
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] += 1
    return FAULT_OK


@njit(cache=True)
def do_wp_page(a, vs, vmas, mmc, v, row, idx, addr):
    """Write to a present read-only pte: reuse an exclusive anon page, or copy (COW). For
    GUP's FAULT_FLAG_UNSHARE (``VP_FAULT_UNSHARE``) the page is made exclusive the same way,
    but the entry stays read-only and clean (the copy keeps the old entry's soft-dirty bit)."""
    entry = vs.pt[row, idx]
    unshare = vs.vp[VP_FAULT_UNSHARE]
    old = pte_pfn(entry)
    if vmas[v, VMA_FLAGS] & VM_SHARED:
        return wp_page_shared(a, vs, vmas, v, row, idx)
    head = B.compound_head(a, old)
    large = head != old or (a.flags[old] & PG_head_mask) != 0
    anon = not entry_has(entry, _PAGE_SPECIAL) and (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    # an exclusive page is reused, a large folio's too; wp_can_reuse_anon_folio: never a
    # shared subpage of a large folio (nor a file page: COW)
    if anon and (a.flags[old] & PG_anon_exclusive_mask or not large and wp_can_reuse_anon_folio(a, vs, old)):
        a.flags[old] |= PG_anon_exclusive_mask
        if unshare:
            return FAULT_OK
        vs.pt[row, idx] = entry | maybe_mkwrite(vmas, v) | np.uint64(_PAGE_ACCESSED) | pte_mkdirty(vs)
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
            mapped_stat_mod(a, vs, a.zone_node[B.page_zone(a, old)], head, anon, -1)
        if not anon:  # a private file page: the copy is anonymous (wp_page_copy's counters)
            mmc[mm_counter_file(a, head)] -= 1
            mmc[MM_ANONPAGES] += 1
        if vmas[v, VMA_FLAGS] & VM_LOCKED:  # folio_remove_rmap_pte -> munlock_vma_folio
            munlock_folio(a, head)
        put_folio(a, vs, head)
    __folio_mark_uptodate(a, pfn)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr)
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] += 1
    bits = entry & np.uint64(_PAGE_SOFT_DIRTY) if unshare else maybe_mkwrite(vmas, v) | pte_mkdirty(vs)
    vs.pt[row, idx] = mk_entry(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX) | bits
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
    pfn = vma_alloc_anon_folio_pmd(a, vs, mmc)
    if pfn < 0:
        pte_free(a, vs, mmc, deposit)
        return FAULT_NEED_ALLOC if pfn == NO_PAGE else -1  # -1: map 4 KiB pages
    map_anon_folio_pmd(a, vs, vmas, mmc, v, row, idx, pfn, addr & ~((nr << 12) - 1), deposit)
    count_thp_fault_alloc(a, vs, pfn)
    return FAULT_OK


@njit(cache=True)
def vma_alloc_anon_folio_pmd(a, vs, mmc):
    """``vma_alloc_anon_folio_pmd``: a zeroed PMD-size folio charged to the mm's memcg. NO_PAGE
    while the slow path has yet to run; another negative value once it cannot be had
    (thp_fault_fallback; _charge too when the charge failed: THP gfp cannot block, so
    try_charge fails at once, no memcg event)."""
    order = vs.shift[vs.vp[VP_PMD_LEVEL]] - 12
    pfn = alloc_anon_folio(a, vs, mmc, AC_THP, order)
    if pfn == NO_PAGE:
        return pfn
    if pfn < 0:
        if pfn == CHARGE_FAILED:
            vs.vm_events[THP_FAULT_FALLBACK_CHARGE] += 1
        vs.vm_events[THP_FAULT_FALLBACK] += 1
        return pfn
    clear_page(a, pfn, np.int64(1) << order)
    __folio_mark_uptodate(a, pfn)
    return pfn


@njit(cache=True)
def count_thp_fault_alloc(a, vs, pfn):
    """A THP mapped by a fault: thp_fault_alloc, machine-wide and in the folio's memcg."""
    vs.vm_events[THP_FAULT_ALLOC] += 1
    count_memcg_folio_events(a, pfn, THP_FAULT_ALLOC, 1)


@njit(cache=True)
def map_anon_folio_pmd(a, vs, vmas, mmc, v, row, idx, pfn, haddr, deposit):
    """``map_anon_folio_pmd_nopf``: the new anonymous THP at ``pfn`` mapped whole and
    exclusively at ``haddr`` by the pmd (``row``, ``idx``), dirty (writable in a writable
    VMA), with the pte
    table ``deposit`` kept under it for a later split; its rmap, LRU list, the deferred split
    queue (for the underused-THP scan), RSS and NR_ANON_*. The fault and khugepaged's
    ``collapse_huge_page`` share it."""
    nr = np.int64(1) << a.order[pfn]
    folio_add_new_anon_rmap(a, pfn, vmas, v, haddr)
    a.mapcount[pfn] = 0  # mapped whole by the PMD: the entire mapcount counts it
    a.entire_mapcount[pfn] = 1
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])  # large: onto its list at once
    deferred_split_folio(a, pfn, False)  # map_anon_folio_pmd: queued for the underused-THP scan
    set_entry(vs, row, idx, mk_entry(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_PSE | _PAGE_ACCESSED
                                     | _PAGE_NX) | maybe_mkwrite(vmas, v) | pte_mkdirty(vs))  # map_anon_folio_pmd
    pgtable_trans_huge_deposit(vs, row, deposit)
    mmc[MM_ANONPAGES] += nr
    mmc[MMC_ANON_THP] += 1
    nid = a.zone_node[B.page_zone(a, pfn)]
    vs.nstat[nid, NS_ANON_MAPPED] += nr
    vs.nstat[nid, NS_ANON_THPS] += nr


@njit(cache=True)
def __split_huge_pmd(a, vs, mmc, row, idx):
    """Replace a huge pmd by its deposited pte table mapping the same pages (an exclusive
    anonymous folio's pages all exclusive, as ``folio_add_anon_rmap_ptes`` with
    RMAP_EXCLUSIVE makes them). A file folio's pmd is only unmapped (``__split_huge_pmd_locked`` for a file VMA: the ptes come back
    from the page cache at the next fault)."""
    vs.vm_events[THP_SPLIT_PMD] += 1  # __split_huge_pmd_locked counts every split, the zero page's too
    entry = vs.pt[row, idx]
    if not pmd_has_deposit(a, entry):
        zap_huge_pmd(a, vs, mmc, row, idx)
        vs.vp[VP_FLUSH_PENDING] = 1
        return
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
        exclusive = a.flags[base] & PG_anon_exclusive_mask  # folio_add_anon_rmap_ptes(RMAP_EXCLUSIVE)
        for i in range(nr):
            a.mapcount[base + i] += 1
            a.mapping[base + i] = a.mapping[base]
            a.index[base + i] = a.index[base] + i
            a.flags[base + i] |= exclusive
        a.entire_mapcount[base] -= 1
        a.refcount[base] += nr - 1
        mmc[MMC_ANON_THP] -= 1
        if a.entire_mapcount[base] == 0:
            vs.nstat[a.zone_node[B.page_zone(a, base)], NS_ANON_THPS] -= nr
    vs.pt[row, idx] = mk_entry(vs.pt_pfn[dep], _PAGE_TABLE)
    vs.vp[VP_FLUSH_PENDING] = 1  # __split_huge_pmd_locked: pmdp_invalidate flushes the huge entry


@njit(cache=True)
def split_huge_pmd_address(a, vs, mmc, pgd, address):
    """``split_huge_pmd_address``: the huge pmd mapping ``address``, if any, becomes a pte
    table mapping the same pages (a file folio's is unmapped)."""
    level = vs.vp[VP_PMD_LEVEL]
    row = pt_table(a, vs, mmc, pgd, address, level, False)
    if row < 0:
        return
    idx = pt_index(vs, level, address)
    if entry_present(vs.pt[row, idx]) and entry_has(vs.pt[row, idx], _PAGE_PSE):
        __split_huge_pmd(a, vs, mmc, row, idx)


@njit(cache=True)
def do_huge_zero_wp_pmd(a, vs, vmas, mmc, v, row, idx, addr):
    """``do_huge_zero_wp_pmd`` (6.18): a write to the huge zero page's PMD puts a new zeroed
    THP in its place, with the deposited pte table kept under it (thp_fault_alloc); -1
    (VM_FAULT_FALLBACK) when none can be had. Measured on this host's 6.18
    (tests/data/host-linux-6.18/zero_pt_probe.jsonl): the write maps 2048 kB AnonHugePages."""
    pfn = vma_alloc_anon_folio_pmd(a, vs, mmc)
    if pfn < 0:
        return FAULT_NEED_ALLOC if pfn == NO_PAGE else -1
    deposit = pgtable_trans_huge_withdraw(vs, row)  # map_anon_folio_pmd deposits it again
    set_entry(vs, row, idx, np.uint64(0))  # pmdp_huge_clear_flush
    vs.vp[VP_FLUSH_PENDING] = 1
    haddr = addr & ~((np.int64(1) << vs.shift[vs.vp[VP_PMD_LEVEL]]) - 1)
    map_anon_folio_pmd(a, vs, vmas, mmc, v, row, idx, pfn, haddr, deposit)
    count_thp_fault_alloc(a, vs, pfn)
    return FAULT_OK


@njit(cache=True)
def do_huge_pmd_wp_page(a, vs, vmas, mmc, v, row, idx, addr):
    """Write to a read-only huge pmd: the huge zero page's is replaced by a THP
    (``do_huge_zero_wp_pmd``); reuse an exclusive THP (PageAnonExclusive of the head, or no
    other reference); else (or when no THP could be had) split and handle the 4 KiB pte (COW).
    An unshare fault only marks an exclusive THP exclusive."""
    entry = vs.pt[row, idx]
    head = pte_pfn(entry)
    if entry_has(entry, _PAGE_SPECIAL):
        if not vs.vp[VP_FAULT_UNSHARE]:  # (GUP never unshares the zero page: not anonymous)
            status = do_huge_zero_wp_pmd(a, vs, vmas, mmc, v, row, idx, addr)
            if status >= 0:
                return status
    elif a.flags[head] & PG_anon_exclusive_mask or (a.refcount[head] == 1 and folio_entire_mapcount(a, head) == 1):
        a.flags[head] |= PG_anon_exclusive_mask
        if vs.vp[VP_FAULT_UNSHARE]:
            return FAULT_OK
        vs.pt[row, idx] = entry | maybe_mkwrite(vmas, v) | np.uint64(_PAGE_ACCESSED) | pte_mkdirty(vs)
        return FAULT_OK
    __split_huge_pmd(a, vs, mmc, row, idx)
    return -1  # VM_FAULT_FALLBACK: handle the 4 KiB pte


# ---- file faults (mm/memory.c: do_fault and its kin; mm/filemap.c: filemap_map_pages) ----------
#
# The page-cache half of the fault path is compiled here, next to the fault path that calls
# it (``vm_ops->map_pages`` and ``->fault`` of ext4 and tmpfs are ``filemap_map_pages`` and
# ``filemap_fault``): ``mm/filemap.py`` builds on this module, not the other way round. What
# needs I/O or the filesystem leaves with a status for Python (``mm/filemap.py``'s
# ``filemap_fault``): FAULT_FILE_MISS (not cached, not up to date, or a PG_readahead folio that
# starts readahead), FAULT_FILE_MKWRITE (``->page_mkwrite`` dirties a clean folio).


@njit(cache=True)
def folio_next_index(a, head):
    return a.index[head] + (np.int64(1) << a.order[head])


@njit(cache=True)
def folio_mark_dirty_compiled(a, vs, head):
    """``folio_mark_dirty`` where no Python is needed: shmem's ``noop_dirty_folio``, or a
    dirty pte of a clean file folio found on unmap (``filemap_dirty_folio``'s counters; the
    inode is not queued for the flusher here: with writenotify a writable pte only exists
    once the folio was dirtied through Python)."""
    if a.flags[head] & np.uint64(1 << PG_dirty):
        return
    a.flags[head] |= np.uint64(1 << PG_dirty)
    if not a.flags[head] & PG_swapbacked_mask:
        nr = np.int64(1) << a.order[head]
        zid = B.page_zone(a, head)
        vs.nstat[a.zone_node[zid], NS_FILE_DIRTY] += nr
        a.memcg_stat[a.memcg[head], NS_FILE_DIRTY] += nr  # the memcg's too (row 0: no memcg)
        vs.nstat[a.zone_node[zid], NS_DIRTIED] += nr
        a.vm_stat[zid, NR_ZONE_WRITE_PENDING] += nr


@njit(cache=True)
def pmdmapped_item(a, head):
    return NS_SHMEM_PMDMAPPED if a.flags[head] & PG_swapbacked_mask else NS_FILE_PMDMAPPED


@njit(cache=True)
def mapped_stat_mod(a, vs, nid, head, anon, nr):
    """NR_ANON_MAPPED or NR_FILE_MAPPED of the node (``__folio_mod_stat``); a file folio's
    NR_FILE_MAPPED in its memcg too (the memcg's NR_ANON_MAPPED follows its charge)."""
    if anon:
        vs.nstat[nid, NS_ANON_MAPPED] += nr
    else:
        vs.nstat[nid, NS_FILE_MAPPED] += nr
        mod_memcg_folio_state(a, head, NS_FILE_MAPPED, nr)


@njit(cache=True)
def folio_add_file_rmap_ptes(a, vs, head, pfn, nr):
    """``folio_add_file_rmap_ptes``: pages mapped for the first time count in NR_FILE_MAPPED
    (unless the folio is mapped whole by a PMD already)."""
    whole = folio_entire_mapcount(a, head) > 0
    first = 0
    for p in range(pfn, pfn + nr):
        if a.mapcount[p] == 0 and not whole:
            first += 1
        a.mapcount[p] += 1
    mapped_stat_mod(a, vs, a.zone_node[B.page_zone(a, head)], head, False, first)


@njit(cache=True)
def folio_add_file_rmap_pmd(a, vs, head):
    """``folio_add_file_rmap_pmd``: the first PMD mapping counts the folio's pages not mapped
    by a pte yet in NR_FILE_MAPPED, and all of them in NR_FILE_PMDMAPPED (NR_SHMEM_PMDMAPPED)."""
    nr = np.int64(1) << a.order[head]
    nid = a.zone_node[B.page_zone(a, head)]
    if a.entire_mapcount[head] == 0:
        for p in range(head, head + nr):
            if a.mapcount[p] == 0:
                mapped_stat_mod(a, vs, nid, head, False, 1)
        vs.nstat[nid, pmdmapped_item(a, head)] += nr
    a.entire_mapcount[head] += 1


@njit(cache=True)
def file_pte_bits(vmas, v, write):
    """``vma->vm_page_prot`` for a file page (x86 includes the accessed bit: every pte the
    fault path sets is young), made dirty by a write, and writable in a VM_WRITE VMA
    (``maybe_mkwrite``). A shared writable mapping without writenotify (tmpfs) maps pages
    writable at once."""
    flags = vmas[v, VMA_FLAGS]
    bits = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX
    if write:
        bits |= _PAGE_DIRTY | (_PAGE_RW if flags & VM_WRITE else 0)
    elif flags & VM_SHARED and flags & VM_WRITE and not vmas[v, VMA_FOPS] & FOPS_MKWRITE:
        bits |= _PAGE_RW
    return np.uint64(bits)


@njit(cache=True)
def set_pte_range(a, vs, row, idx, head, pfn, nr, bits):
    """``set_pte_range`` of a file folio's pages [pfn, pfn+nr) at the none entries [idx,
    idx+nr) of table ``row``, and their rmap. The caller takes the references and counts
    RssFile/RssShmem (``finish_fault`` per fault, ``filemap_map_pages`` once per batch)."""
    for i in range(nr):
        vs.pt[row, idx + i] = mk_entry(pfn + i, bits)
    vs.pt_used[row] += nr  # set_entry's count, for ptes that were none
    folio_add_file_rmap_ptes(a, vs, head, pfn, nr)


@njit(cache=True)
def pte_table_of(a, vs, mmc, pmd_row, pmd_idx, alloc):
    """The pte table under the pmd entry, allocated and installed if none and ``alloc``
    (``pmd_install``/``pte_alloc``): its row, -1 (none), or a fault status (negative - 10)."""
    pmd = vs.pt[pmd_row, pmd_idx]
    if not pte_none(pmd):
        return table_row(a, pmd)
    if not alloc:
        return -1
    new = pte_alloc_one(a, vs, mmc)
    if new < 0:
        return -10 - (FAULT_NEED_TABLES if new == -1 else FAULT_NEED_ALLOC)
    set_entry(vs, pmd_row, pmd_idx, mk_entry(vs.pt_pfn[new], _PAGE_TABLE))
    return new


@njit(cache=True)
def folio_usable(a, head):
    """Up to date, not locked, not marked for readahead (what ``next_uptodate_folio`` maps)."""
    f = a.flags[head]
    return (f & np.uint64(1 << PG_uptodate)) != 0 and not f & np.uint64((1 << PG_locked) | (1 << PG_readahead))


@njit(cache=True)
def next_uptodate_folio(a, xa, xid, index, end_pgoff, max_idx, node, row):
    """``next_uptodate_folio``: the first folio from ``index`` to ``end_pgoff`` that can be
    mapped. Shadow entries, folios being read or carrying PG_readahead and indexes at or past
    ``max_idx`` (i_size) are skipped. The slots are read node by node (``xa_leaf``), as
    ``xas_next_entry`` walks them: ``node`` (index >> XA_CHUNK_SHIFT) and ``row`` are the
    bottom node read last (-1: none yet), which the caller hands back with the next call
    (the kernel's ``xa_state``), so a range is walked down the tree once per 64 indices.
    Returns (head pfn, index found at, node, row), head and index -1 at the end."""
    while index <= end_pgoff and index < max_idx:
        if index >> XA_CHUNK_SHIFT != node:
            node = index >> XA_CHUNK_SHIFT
            row = xa_leaf(xa, xid, index)
        if row < 0:  # nothing cached in this node's 64 indices
            index = (node + 1) << XA_CHUNK_SHIFT
            continue
        entry = xa.slots[row, index & XA_CHUNK_MASK]
        if xa_is_folio(entry):
            head = xa_to_folio(entry)
            if folio_usable(a, head):
                return head, index, node, row
            index = folio_next_index(a, head)
        else:
            index += 1
    return np.int64(-1), np.int64(-1), node, row


@njit(cache=True)
def do_set_pmd(a, vs, vmas, mmc, v, pmd_row, pmd_idx, head, address, write):
    """``do_set_pmd``: map a PMD-sized file folio with one huge pmd (THP_FILE_MAPPED) when the
    VMA allows THP, covers the whole 2 MiB and is aligned to it in the file; FAULT_FALLBACK
    otherwise. x86 deposits no pte table for it."""
    pmd_level = vs.vp[VP_PMD_LEVEL]
    if pmd_level >= vs.vp[VP_LEVELS] - 1 or vmas[v, VMA_FLAGS] & VM_NOHUGEPAGE:
        return FAULT_FALLBACK
    nr = np.int64(1) << (vs.shift[pmd_level] - 12)
    if (np.int64(1) << a.order[head]) != nr or ((vmas[v, VMA_START] >> 12) - vmas[v, VMA_PGOFF]) & (nr - 1):
        return FAULT_FALLBACK
    haddr = address & ~((nr << 12) - 1)
    if haddr < vmas[v, VMA_START] or haddr + (nr << 12) > vmas[v, VMA_END] or not pte_none(vs.pt[pmd_row, pmd_idx]):
        return FAULT_FALLBACK
    map_file_folio_pmd(a, vs, vmas, mmc, v, pmd_row, pmd_idx, head, write)
    vs.vm_events[THP_FILE_MAPPED] += 1
    return FAULT_OK


@njit(cache=True)
def map_file_folio_pmd(a, vs, vmas, mmc, v, pmd_row, pmd_idx, head, write):
    """Map the PMD-sized file folio by the (none) pmd entry: its rmap, RSS and reference
    (``do_set_pmd``'s end, and khugepaged's ``set_huge_pmd``)."""
    set_entry(vs, pmd_row, pmd_idx, mk_entry(head, file_pte_bits(vmas, v, write) | np.uint64(_PAGE_PSE)))
    mmc[mm_counter_file(a, head)] += np.int64(1) << a.order[head]
    folio_add_file_rmap_pmd(a, vs, head)
    a.refcount[head] += 1


@njit(cache=True)
def filemap_map_folio_range(a, vs, vmas, v, row, head, start, addr, nr_pages, file_end, address, bits):
    """``filemap_map_folio_range``: map pages [start, start+nr_pages) of a large folio at
    ``addr``, or the whole folio when it lies within the file (``file_end >=
    folio_next_index``, stricter by one than the last page: a folio ending at EOF is mapped
    piecewise; shmem is exempt), the VMA and one page table. Runs of none ptes are mapped (a
    marker or a mapped pte is left to its own fault), each taking its references. Returns
    (pages mapped, whether ``address`` was)."""
    nr_folio = np.int64(1) << a.order[head]
    size = nr_folio << 12
    addr0 = addr - (start << 12)
    pmd_mask = ~((np.int64(1) << vs.shift[vs.vp[VP_LEVELS] - 2]) - 1)
    if (file_end >= folio_next_index(a, head) or vmas[v, VMA_FOPS] & FOPS_SHMEM) and addr0 >= vmas[v, VMA_START] \
            and addr0 + size <= vmas[v, VMA_END] and (addr0 & pmd_mask) == ((addr0 + size - 1) & pmd_mask):
        start, addr, nr_pages = np.int64(0), addr0, nr_folio
    pfn = head + start
    idx = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr)
    mapped, count, i = False, np.int64(0), np.int64(0)
    while i < nr_pages:
        n = np.int64(0)
        while i + n < nr_pages and pte_none(vs.pt[row, idx + i + n]):
            n += 1
        if n:
            set_pte_range(a, vs, row, idx + i, head, pfn + i, n, bits)
            a.refcount[head] += n
            count += n
            mapped |= addr + (i << 12) <= address < addr + ((i + n) << 12)
        i += n + 1
    return count, mapped


@njit(cache=True)
def filemap_map_order0_folio(a, vs, row, idx, head, bits):
    """``filemap_map_order0_folio``: map the page of an order-0 folio at entry ``idx`` of
    table ``row`` unless its pte is set (``set_pte_range`` for one page), taking its
    reference. 1 if mapped, else 0."""
    if not pte_none(vs.pt[row, idx]):
        return np.int64(0)
    set_pte_range(a, vs, row, idx, head, head, 1, bits)
    a.refcount[head] += 1
    return np.int64(1)


@njit(cache=True)
def filemap_map_pages(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, address, start_pgoff, end_pgoff):
    """``filemap_map_pages``: map the cached, up-to-date folios of [start_pgoff, end_pgoff]
    (clipped at the last page of the file). A PMD-sized first folio is mapped by a huge pmd
    (``filemap_map_pmd``) unless it reaches EOF; otherwise the pte table (installed now if the
    first folio may be mapped large, else the mapping gives up) gets the folios' pages, the
    xarray walked once over the range and RssFile/RssShmem counted once for the batch (the
    kind of the first folio, as the kernel's ``rss``). FAULT_OK (VM_FAULT_NOPAGE) if
    ``address`` got mapped, FAULT_FALLBACK if not, or the status of a failed table allocation."""
    xid, max_idx = vmas[v, VMA_XA], vmas[v, VMA_FILE_END]
    file_end = max_idx - 1
    end_pgoff = min(end_pgoff, file_end)
    head, index, node, xrow = next_uptodate_folio(a, xa, xid, start_pgoff, end_pgoff, max_idx, np.int64(-1),
                                                  np.int64(-1))
    if head < 0:
        return FAULT_FALLBACK
    pmd = vs.pt[pmd_row, pmd_idx]
    if entry_present(pmd) and entry_has(pmd, _PAGE_PSE):
        return FAULT_OK
    can_map_large = file_end >= folio_next_index(a, head) or (vmas[v, VMA_FOPS] & FOPS_SHMEM) != 0
    if can_map_large and do_set_pmd(a, vs, vmas, mmc, v, pmd_row, pmd_idx, head, address, False) == FAULT_OK:
        return FAULT_OK
    row = pte_table_of(a, vs, mmc, pmd_row, pmd_idx, can_map_large)
    if row < -1:
        return -10 - row
    if row < 0:
        return FAULT_FALLBACK
    ret, rss, folio_type = FAULT_FALLBACK, np.int64(0), mm_counter_file(a, head)
    bits = file_pte_bits(vmas, v, False)
    addr0 = vmas[v, VMA_START] + ((start_pgoff - vmas[v, VMA_PGOFF]) << 12)
    idx0 = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr0)
    while head >= 0:
        addr = addr0 + ((index - start_pgoff) << 12)
        if a.order[head] == 0:
            n = filemap_map_order0_folio(a, vs, row, idx0 + index - start_pgoff, head, bits)
            mapped = n > 0 and addr == address & ~np.int64(4095)
        else:
            nr_pages = min(folio_next_index(a, head) - 1, end_pgoff) - index + 1
            n, mapped = filemap_map_folio_range(a, vs, vmas, v, row, head, index - a.index[head], addr, nr_pages,
                                                file_end, address, bits)
        rss += n
        if mapped:
            ret = FAULT_OK
        head, index, node, xrow = next_uptodate_folio(a, xa, xid, folio_next_index(a, head), end_pgoff, max_idx,
                                                      node, xrow)
    mmc[folio_type] += rss
    return ret


@njit(cache=True)
def do_fault_around(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff):
    """``do_fault_around``: the ``fault_around_pages``-aligned window of ptes around the fault,
    clipped to the VMA and the page table, through ``filemap_map_pages``."""
    nr = vs.vp[VP_FAULT_AROUND_PAGES]
    pte_off = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr)
    vma_off = pgoff - vmas[v, VMA_PGOFF]
    from_pte = max(pte_off & ~(nr - 1), pte_off - min(pte_off, vma_off))
    vma_pages = (vmas[v, VMA_END] - vmas[v, VMA_START]) >> 12
    to_pte = min(min(from_pte + nr, vs.nent[vs.vp[VP_LEVELS] - 1]), pte_off + vma_pages - vma_off) - 1
    return filemap_map_pages(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff + from_pte - pte_off,
                             pgoff + to_pte - pte_off)


@njit(cache=True)
def filemap_fault_cached(a, xa, vmas, v, pgoff):
    """The compiled half of ``filemap_fault``: the folio caching ``pgoff`` if it is up to date
    and needs no readahead, else -1 (Python reads it: FAULT_FILE_MISS)."""
    entry = xa_load(xa, vmas[v, VMA_XA], pgoff)
    if not xa_is_folio(entry):
        return -1
    head = xa_to_folio(entry)
    return head if folio_usable(a, head) else -1


@njit(cache=True)
def finish_fault(a, vs, vmas, mmc, v, pmd_row, pmd_idx, addr, head, pfn, write):
    """``finish_fault`` for page ``pfn`` of the file folio ``head``: a PMD-sized folio inside
    the file may take a huge pmd (``do_set_pmd``); else one pte (shmem maps a large folio
    whole when it fits the VMA and the table)."""
    shmem = (vmas[v, VMA_FOPS] & FOPS_SHMEM) != 0
    needs_fallback = not shmem and vmas[v, VMA_FILE_END] < folio_next_index(a, head)
    if pte_none(vs.pt[pmd_row, pmd_idx]) and not needs_fallback:
        status = do_set_pmd(a, vs, vmas, mmc, v, pmd_row, pmd_idx, head, addr, write)
        if status != FAULT_FALLBACK:
            return status
    row = pte_table_of(a, vs, mmc, pmd_row, pmd_idx, True)
    if row < 0:
        return -10 - row
    first, nr = pfn, np.int64(1)
    if shmem and a.order[head] > 0:
        nr_folio = np.int64(1) << a.order[head]
        start = addr - ((pfn - head) << 12)
        pte_off = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr)
        if start >= vmas[v, VMA_START] and start + (nr_folio << 12) <= vmas[v, VMA_END] \
                and pte_off >= pfn - head and pte_off + nr_folio - (pfn - head) <= vs.nent[vs.vp[VP_LEVELS] - 1]:
            first, nr, addr = head, nr_folio, start
    idx = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr)
    for i in range(nr):
        if not pte_none(vs.pt[row, idx + i]):
            return FAULT_OK  # VM_FAULT_NOPAGE: someone mapped it meanwhile
    set_pte_range(a, vs, row, idx, head, first, nr, file_pte_bits(vmas, v, write))
    a.refcount[head] += nr
    mmc[mm_counter_file(a, head)] += nr
    return FAULT_OK


@njit(cache=True)
def do_read_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff):
    """``do_read_fault``: fault-around first (``should_fault_around``: more than one page),
    then the page itself (``__do_fault`` + ``finish_fault``)."""
    if vs.vp[VP_FAULT_AROUND_PAGES] > 1:
        status = do_fault_around(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff)
        if status != FAULT_FALLBACK:
            return status
    head = filemap_fault_cached(a, xa, vmas, v, pgoff)
    if head < 0:
        return FAULT_FILE_MISS
    return finish_fault(a, vs, vmas, mmc, v, pmd_row, pmd_idx, addr, head, head + pgoff - a.index[head], False)


@njit(cache=True)
def do_cow_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff):
    """``do_cow_fault``: a store to a private file mapping with no pte: a new anonymous page,
    a copy of the cached one, mapped writable (RssAnon; the page cache is not dirtied)."""
    if vmas[v, VMA_ANON] == 0:
        return FAULT_NEED_ANON_VMA
    head = filemap_fault_cached(a, xa, vmas, v, pgoff)
    if head < 0:
        return FAULT_FILE_MISS
    row = pte_table_of(a, vs, mmc, pmd_row, pmd_idx, True)
    if row < 0:
        return -10 - row
    idx = pt_index(vs, vs.vp[VP_LEVELS] - 1, addr)
    if not pte_none(vs.pt[row, idx]):
        return FAULT_OK
    pfn = alloc_anon_folio(a, vs, mmc, AC_USER, 0)
    if pfn < 0:
        return FAULT_NEED_CHARGE if pfn == CHARGE_FAILED else FAULT_NEED_ALLOC
    copy_page(a, pfn, head + pgoff - a.index[head])
    __folio_mark_uptodate(a, pfn)
    folio_add_new_anon_rmap(a, pfn, vmas, v, addr)
    folio_add_lru_vma(a, vs.vp[VP_CPU], pfn, vmas[v, VMA_FLAGS])
    set_entry(vs, row, idx, mk_entry(pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY
                                     | _PAGE_NX))
    mmc[MM_ANONPAGES] += 1
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] += 1
    return FAULT_OK


@njit(cache=True)
def do_shared_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff):
    """``do_shared_fault``: a store to a shared file mapping with no pte: ``->page_mkwrite``
    dirties a clean folio first (Python: FAULT_FILE_MKWRITE), then the page is mapped
    writable and dirty (``fault_dirty_shared_page``)."""
    head = filemap_fault_cached(a, xa, vmas, v, pgoff)
    if head < 0:
        return FAULT_FILE_MISS
    if vmas[v, VMA_FOPS] & FOPS_MKWRITE and not a.flags[head] & np.uint64(1 << PG_dirty):
        return FAULT_FILE_MKWRITE
    status = finish_fault(a, vs, vmas, mmc, v, pmd_row, pmd_idx, addr, head, head + pgoff - a.index[head], True)
    if status == FAULT_OK:
        folio_mark_dirty_compiled(a, vs, head)
    return status


@njit(cache=True)
def do_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, write):
    """``do_fault`` for a file VMA: SIGBUS at or past the end of the file (``filemap_fault``'s
    i_size check), then a read, a private write (COW) or a shared write fault."""
    pgoff = linear_page_index(vmas, v, addr)
    if pgoff >= vmas[v, VMA_FILE_END]:
        return FAULT_SIGBUS
    if not write:
        return do_read_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff)
    if not vmas[v, VMA_FLAGS] & VM_SHARED:
        return do_cow_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff)
    return do_shared_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, pgoff)


@njit(cache=True)
def wp_page_shared(a, vs, vmas, v, row, idx):
    """``wp_page_shared``: a store to a read-only pte of a shared file mapping (written back
    and write-protected since, or mapped by a read fault under writenotify): a clean folio
    goes through ``->page_mkwrite`` in Python first; then the pte is made writable and dirty
    (``wp_page_reuse``)."""
    entry = vs.pt[row, idx]
    head = B.compound_head(a, pte_pfn(entry))
    if vmas[v, VMA_FOPS] & FOPS_MKWRITE and not a.flags[head] & np.uint64(1 << PG_dirty):
        return FAULT_FILE_MKWRITE
    folio_mark_dirty_compiled(a, vs, head)
    vs.pt[row, idx] = entry | np.uint64(_PAGE_RW | _PAGE_ACCESSED) | pte_mkdirty(vs)  # soft-dirty too
    return FAULT_OK


@njit(cache=True)
def access_error(vmas, v, addr, write):
    """The user fault's checks before ``handle_mm_fault`` (``lock_mm_and_find_vma`` found VMA
    ``v``, then ``access_error``): no VMA is MAPERR; a write to a VMA without VM_WRITE, or any
    access to one without permissions, is ACCERR. GUP checks its own way (``check_vma_flags``)."""
    if v < 0 or vmas[v, VMA_START] > addr:
        return FAULT_SIGSEGV_MAPERR
    flags = vmas[v, VMA_FLAGS]
    if (write and not flags & VM_WRITE) or (not write and not flags & (VM_READ | VM_WRITE | VM_EXEC)):
        return FAULT_SIGSEGV_ACCERR
    return FAULT_OK


@njit(cache=True)
def handle_mm_fault(a, vs, xa, vmas, mmc, addr, write):
    """A fault at ``addr`` in its VMA, allowed by the caller (the user fault's
    ``access_error``, or GUP's ``check_vma_flags``, which lets FOLL_FORCE write to a read-only
    private mapping: the entries it sets stay read-only, ``maybe_mkwrite``)."""
    v = find_vma(vmas, addr)
    if v < 0 or vmas[v, VMA_START] > addr:
        return FAULT_SIGSEGV_MAPERR
    return __handle_mm_fault(a, vs, xa, vmas, mmc, v, addr, write)


@njit(cache=True)
def __handle_mm_fault(a, vs, xa, vmas, mmc, v, addr, write):
    """``__handle_mm_fault`` at ``addr`` in VMA ``v``, which holds it: the upper tables, THP at
    the PMD level, then ``handle_pte_fault``."""
    flags = vmas[v, VMA_FLAGS]
    row = mmc[MMC_PGD]
    levels = vs.vp[VP_LEVELS]
    pmd_level = vs.vp[VP_PMD_LEVEL]
    file_vma = vmas[v, VMA_XA] >= 0
    pmd_row, pmd_idx = row, 0
    for level in range(levels - 1):
        idx = pt_index(vs, level, addr)
        entry = vs.pt[row, idx]
        if level == pmd_level:
            if entry_present(entry) and entry_has(entry, _PAGE_PSE):
                if not write and not vs.vp[VP_FAULT_UNSHARE]:
                    return FAULT_OK  # raced with nothing here: the walk will succeed
                if file_vma:  # wp_huge_pmd: COW and write-notify are done at the pte level
                    __split_huge_pmd(a, vs, mmc, row, idx)
                else:
                    status = do_huge_pmd_wp_page(a, vs, vmas, mmc, v, row, idx, addr)
                    if status >= 0:
                        return status
                entry = vs.pt[row, idx]
            elif not entry_present(entry) and thp_vma_allowable(vs, vmas, v, addr):
                status = do_huge_pmd_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write)
                if status >= 0:
                    return status
        if level == levels - 2:
            pmd_row, pmd_idx = row, idx
            if file_vma and pte_none(entry):  # do_fault with no pte table yet
                return do_fault(a, vs, xa, vmas, mmc, v, row, idx, addr, write)
        if not entry_present(entry):
            new = pte_alloc_one(a, vs, mmc, level + 1)
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
    if pte_kind(entry, vs.vp[VP_SWP_FMT]) == PTE_KIND_SWAP:
        return do_swap_page(a, vs, vmas, mmc, v, row, idx, addr, write)
    if not entry_present(entry):
        if file_vma and pte_none(entry):
            return do_fault(a, vs, xa, vmas, mmc, v, pmd_row, pmd_idx, addr, write)
        if not vma_is_anonymous(vmas, v) or flags & VM_SHARED:
            return FAULT_SIGBUS  # a mapping with no ->fault (do_fault's VM_FAULT_SIGBUS)
        return do_anonymous_page(a, vs, vmas, mmc, v, row, idx, addr, write)
    if (write or vs.vp[VP_FAULT_UNSHARE]) and not entry_has(entry, _PAGE_RW):
        return do_wp_page(a, vs, vmas, mmc, v, row, idx, addr)
    vs.pt[row, idx] = entry | np.uint64(_PAGE_ACCESSED)  # spurious: another path already fixed it
    return FAULT_OK


@njit(cache=True)
def mm_account_fault(vs, mmc):
    """``mm_account_fault``: a completed fault is major when it waited for I/O (the retry
    after Python read the page), minor otherwise."""
    if vs.vp[VP_FAULT_MAJOR]:
        vs.vp[VP_FAULT_MAJOR] = 0
        mmc[MMC_MAJFLT] += 1
    else:
        mmc[MMC_MINFLT] += 1
    vs.vm_events[PGFAULT] += 1
    vs.memcg_vm_events[mmc[MMC_MEMCG], PGFAULT] += 1  # count_memcg_event_mm


@njit(cache=True)
def access_one(a, vs, xa, t, asid, vmas, mmc, addr, write, l1_4k_missed=False):
    """One user access through the TLBs and, if needed, the fault path.

    Returns the 4 KiB pfn, or ``-1 - status`` when the fault needs Python. A fault is
    counted (``mm_account_fault``) once it completes. ``l1_4k_missed``: the caller's
    ``l1_4k_entry`` just found no L1 4K entry (the lookup skips that probe)."""
    pgd = mmc[MMC_PGD]
    pfn = tlb_translate(a, vs, t, asid, pgd, addr, write, l1_4k_missed)
    if pfn >= 0:
        return pfn
    if vs.vp[VP_PAGEFAULT_DISABLED]:  # faulthandler_disabled(): no fault is handled
        return -1 - FAULT_EFAULT
    vs.vp[VP_FLUSH_PENDING] = 0
    v = find_vma(vmas, addr)  # lock_mm_and_find_vma: the VMA found once
    status = access_error(vmas, v, addr, write)
    if status == FAULT_OK:
        status = __handle_mm_fault(a, vs, xa, vmas, mmc, v, addr, write)
    if status != FAULT_OK:
        return -1 - status
    mm_account_fault(vs, mmc)
    tlb_fault_done(vs, t, asid, addr)
    pfn = tlb_refill(a, vs, t, asid, pgd, addr, write)  # the retried access: nothing refilled the TLBs
    return pfn if pfn >= 0 else -1 - FAULT_SIGSEGV_ACCERR


# ---- GUP for the kernel's accesses to another mm (mm/gup.c, __access_remote_vm) ----------------


@njit(cache=True)
def check_vma_flags(vmas, v, write, force):
    """``check_vma_flags``: may GUP access the VMA? A write needs VM_WRITE, or FOLL_FORCE in a
    private mapping that could be made writable (``is_cow_mapping``); a read needs VM_READ,
    or FOLL_FORCE and VM_MAYREAD."""
    flags = vmas[v, VMA_FLAGS]
    if write:
        return flags & VM_WRITE != 0 or force and (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE
    return flags & VM_READ != 0 or force and flags & VM_MAYREAD != 0


@njit(cache=True)
def can_follow_write(a, vs, vmas, v, entry, page, force):
    """``can_follow_write_pte``/``_pmd`` for a read-only entry: only FOLL_FORCE in a private
    mapping, on an exclusive anonymous page (COW was broken for it: the zero page and shared
    pages fault first), and not while soft-dirty tracking wants the write fault
    (``pte_needs_soft_dirty_wp``)."""
    flags = vmas[v, VMA_FLAGS]
    if not force or flags & (VM_MAYSHARE | VM_SHARED) or entry_has(entry, _PAGE_SPECIAL):
        return False
    if not a.mapping[B.compound_head(a, page)] & PAGE_MAPPING_ANON or not a.flags[page] & PG_anon_exclusive_mask:
        return False
    return not (vs.vp[VP_SOFT_DIRTY] and not flags & VM_SOFTDIRTY and not entry_has(entry, _PAGE_SOFT_DIRTY))


@njit(cache=True)
def follow_page_pte(a, vs, vmas, v, pgd, addr, write, force):
    """GUP's software walk (``follow_page_mask``): the 4 KiB pfn at ``addr``, or -1 when a
    fault must come first (nothing mapped, or a write the entry does not allow). A PROT_NONE
    entry is followed (``gup_can_follow_protnone``: the VMA is inaccessible, no NUMA hinting
    fault applies). It sets no accessed or dirty bit: the kernel then reaches the page
    through its own mapping."""
    row = pgd
    levels = vs.vp[VP_LEVELS]
    for level in range(levels):
        entry = vs.pt[row, pt_index(vs, level, addr)]
        if not pte_present(entry):
            return -1
        if level < levels - 1 and not entry_has(entry, _PAGE_PSE):
            if not entry_present(entry):
                return -1
            row = table_row(a, entry)
            continue
        page = pte_pfn(entry)  # a huge pmd: its head, which carries PageAnonExclusive
        if write and not entry_has(entry, _PAGE_RW) and not can_follow_write(a, vs, vmas, v, entry, page, force):
            return -1
        if level < levels - 1:
            return page + ((addr >> 12) & ((np.int64(1) << (vs.shift[level] - 12)) - 1))
        return page
    return -1


@njit(cache=True)
def access_remote_batch(a, vs, xa, t, asid, vmas, mmc, addrs, write, force, values, out, start):
    """``__access_remote_vm`` of one byte at each of ``addrs[start:]``: ``get_user_pages_remote``
    (``check_vma_flags``; ``follow_page_pte``, else ``handle_mm_fault`` - for a write with
    FAULT_FLAG_WRITE, which breaks COW - and follow again), then the copy through the kernel's
    mapping of the page and, for a write, ``set_page_dirty_lock``; a fault that replaced a
    present entry (COW broken) flushes it from the TLBs of ``asid``. Returns (next, status):
    FAULT_EFAULT where GUP refuses, or the status of a fault that needs Python.

    Simplification: no fault in a VMA without access (PROT_NONE): the entries the fault path
    sets are accessible ones (they do not follow ``vm_page_prot``), so a forced access there
    reaches only pages already mapped; else EFAULT."""
    pgd = mmc[MMC_PGD]
    for i in range(start, addrs.shape[0]):
        addr = addrs[i]
        v = find_vma(vmas, addr)
        if v < 0 or vmas[v, VMA_START] > addr or not check_vma_flags(vmas, v, write, force):
            return i, FAULT_EFAULT
        pfn = follow_page_pte(a, vs, vmas, v, pgd, addr, write, force)
        if pfn < 0 and not vmas[v, VMA_FLAGS] & (VM_READ | VM_WRITE | VM_EXEC):
            return i, FAULT_EFAULT
        if pfn < 0:
            vs.vp[VP_FLUSH_PENDING] = 0
            status = __handle_mm_fault(a, vs, xa, vmas, mmc, v, addr, write)
            if status != FAULT_OK:
                return i, status
            mm_account_fault(vs, mmc)
            tlb_fault_done(vs, t, asid, addr)
            pfn = follow_page_pte(a, vs, vmas, v, pgd, addr, write, force)
            if pfn < 0:
                return i, FAULT_EFAULT
        line = (addr & 4095) >> 6
        if not write:
            out[i] = read_line(a, pfn, line)
            continue
        write_line(a, pfn, line, values[i])
        head = B.compound_head(a, pfn)
        if a.mapping[head] & PAGE_MAPPING_ANON:
            a.flags[head] |= np.uint64(1 << PG_dirty)
        else:
            folio_mark_dirty_compiled(a, vs, head)
    return addrs.shape[0], FAULT_OK


@njit(cache=True, inline="always")
def past_deadline(vs, mmc, accesses, flt0, budget):
    """``accesses`` accesses and the faults taken since the count was ``flt0`` (and the
    swap-ins counted in VP_SWAPIN_FAULTS) cost ``budget`` ns or more (the cost model of
    ``kernel/timer.py``)."""
    return accesses * ACCESS_NS + (mmc[MMC_MINFLT] - flt0 + vs.vp[VP_SWAPIN_FAULTS]) * FAULT_NS >= budget


@njit(cache=True)
def access_batch(a, vs, xa, t, asid, vmas, mmc, addrs, write, value, out, start, budget):
    """Access ``addrs[start:]`` (write ``value`` or read into ``out``); returns (next, status).

    An access that needs Python stops the batch at its index with the fault status; a
    negative ``value`` faults for write without storing (GUP with FOLL_WRITE). Once the
    accesses done cost ``budget`` ns, the batch stops after the access with FAULT_DEADLINE."""
    vma_table, counters = unowned(vmas), unowned(mmc)  # the callees borrow them
    flt0 = mmc[MMC_MINFLT]
    for i in range(start, addrs.shape[0]):
        addr = addrs[i]
        pfn = access_one(a, vs, xa, t, asid, vma_table, counters, addr, write)
        if pfn < 0:
            return i, -1 - pfn
        line = (addr & 4095) >> 6
        if write:
            if value >= 0:
                write_line(a, pfn, line, value)
        else:
            out[i] = read_line(a, pfn, line)
        if past_deadline(vs, counters, i + 1 - start, flt0, budget):
            return i + 1, FAULT_DEADLINE
    return addrs.shape[0], FAULT_OK


@njit(cache=True, inline="always")
def _replay_access(a, vs, xa, t, asid, vmas, mmc, addr, write, memo_tag, memo_shift, memo_e, peak):
    """One access of ``replay_batch``: (status, memo tag, memo shift, memo entry, peak RSS)."""
    if addr >> memo_shift == memo_tag and memo_e >= 0 and l1_hit_again(t, memo_e, addr, write) >= 0:
        return FAULT_OK, memo_tag, memo_shift, memo_e, peak
    e = l1_4k_entry(t, asid, addr)  # the lookup's first probe, inline
    if e >= 0 and l1_hit_again(t, e, addr, write) >= 0:
        return FAULT_OK, addr >> 12, np.int64(12), e, peak
    pfn = access_one(a, vs, xa, t, asid, vmas, mmc, addr, write, e < 0)
    if pfn < 0:
        return -1 - pfn, memo_tag, memo_shift, memo_e, peak
    rss = mmc[MM_ANONPAGES] + mmc[MM_SHMEMPAGES] + mmc[MM_FILEPAGES]
    e = l1_entry(t, asid, addr)
    shift = l1_entry_shift(t, e) if e >= 0 else np.int64(12)
    return FAULT_OK, addr >> shift, shift, e, max(peak, rss)


MEMO_RUN_BLOCK = 8  # records tested at once, branch-free (the compiler vectorises the block)


@njit(cache=True)
def _memo_read_run(addrs, kinds, i, n, memo_tag, memo_shift):
    """The end of the run of loads and fetches from ``i`` (before ``n``) within the memo's page."""
    lo, size = memo_tag << memo_shift, np.int64(1) << memo_shift
    j = i
    while j + MEMO_RUN_BLOCK <= n:
        inside = True
        for q in range(MEMO_RUN_BLOCK):
            off = addrs[j + q] - lo
            inside &= (kinds[j + q] < 2) & (off >= 0) & (off < size)
        if not inside:
            break
        j += MEMO_RUN_BLOCK
    while j < n and kinds[j] < 2 and 0 <= addrs[j] - lo < size:
        j += 1
    return j


@entry
def replay_batch(a, vs, xa, t, asid, vmas, mmc, addrs, kinds, start, end, peak):
    """Trace records ``start`` to ``end``: kind 0 fetch and 1 load read, 2 store writes, 3
    modify (one read-modify-write instruction). Returns (next, status, peak RSS pages so far).

    A modify translates once, as a write: the CPU's page walk for ``add [mem], 1`` carries
    the write bit in the error code, so an untouched page takes one write fault
    (``do_anonymous_page`` allocates a zeroed page, never the zero page) and the dirty bit
    is set at once. Its load then hits that translation; it counts as the two accesses
    lackey describes.

    The L1 entry of the last page accessed is remembered, with its page size: another
    access within that page (4 KiB, or the whole 2 MiB of a huge mapping) repeats that hit
    exactly (``l1_hit_again``) without the lookup, and a run of reads there is counted in one
    step (``l1_hits_again``); so does a hit in the L1 4K dTLB, the lookup's first probe. A
    huge entry is remembered safely: the lookup would find no 4K entry for an address it
    covers, since mapping the huge page needed the page table's ptes gone (zapped and
    flushed) or never there. Only ``access_one`` can fault, so RSS is only re-read after it.
    The caller ends the batch before it could use up the time left until the next event
    (``kernel/timer.py``): no check of the clock costs the accesses anything."""
    vma_table, counters = unowned(vmas), unowned(mmc)  # the callees borrow them
    memo_tag, memo_shift, memo_e = np.int64(-1), np.int64(12), np.int64(-1)
    i = start
    while i < end:
        kind, addr = kinds[i], addrs[i]
        status, memo_tag, memo_shift, memo_e, peak = _replay_access(
            a, vs, xa, t, asid, vma_table, counters, addr, kind >= 2, memo_tag, memo_shift, memo_e, peak)
        if status != FAULT_OK:
            return i, status, peak
        if kind == 3:  # the modify's load, through the translation its write just used
            status, memo_tag, memo_shift, memo_e, peak = _replay_access(
                a, vs, xa, t, asid, vma_table, counters, addr, False, memo_tag, memo_shift, memo_e, peak)
            if status != FAULT_OK:
                return i, status, peak
        i += 1
        # a run of reads in the memo's page is counted at once; the test of the next record is
        # inline, the scan a call (inlined, it slowed the random traces' loop by half)
        if memo_e >= 0 and i < end and kinds[i] < 2 and addrs[i] >> memo_shift == memo_tag:
            run_end = _memo_read_run(addrs, kinds, i, end, memo_tag, memo_shift)
            if run_end > i:
                l1_hits_again(t, memo_e, run_end - i)
                i = run_end
    return end, FAULT_OK, peak


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
    if not anon and entry_has(entry, _PAGE_DIRTY):  # zap_present_folio_ptes: the data is the file's now
        folio_mark_dirty_compiled(a, vs, head)
    if huge:
        a.entire_mapcount[head] -= 1
        if a.entire_mapcount[head] == 0:
            vs.nstat[nid, NS_ANON_THPS if anon else pmdmapped_item(a, head)] -= nr
            unmapped = 0
            for i in range(nr):  # pages no pte maps any more leave NR_ANON_MAPPED/NR_FILE_MAPPED
                if a.mapcount[head + i] == 0:
                    mapped_stat_mod(a, vs, nid, head, anon, -1)
                    unmapped += 1
            if anon and 0 < unmapped < nr:  # __folio_remove_rmap: some pages stay pte-mapped
                deferred_split_folio(a, head, True)
        if anon:
            mmc[MMC_ANON_THP] -= 1
    else:
        a.mapcount[pfn] -= 1
        if not page_mapped(a, pfn, head):  # the last pte: folio_remove_rmap_ptes
            mapped_stat_mod(a, vs, nid, head, anon, -1)
            if anon and a.order[head] > 1 and not folio_test_partially_mapped(a, head) and folio_mapped(a, head):
                deferred_split_folio(a, head, True)  # the rest stays mapped
    mmc[mm_counter(a, head)] -= nr
    free_swap_cache(a, vs, head)  # free_pages_and_swap_cache: its last mapping went
    put_folio(a, vs, head)


@njit(cache=True)
def mm_counter_file(a, head):
    """``mm_counter_file``: shmem folios count in RssShmem, other file folios in RssFile."""
    return MM_SHMEMPAGES if a.flags[head] & PG_swapbacked_mask else MM_FILEPAGES


@njit(cache=True)
def mm_counter(a, head):
    """The RSS counter a folio's mappings count in (``mm_counter``)."""
    return MM_ANONPAGES if a.mapping[head] & PAGE_MAPPING_ANON else mm_counter_file(a, head)


@njit(cache=True)
def pmd_has_deposit(a, entry):
    """A huge pmd with a pte table deposited under it: anonymous THPs and the huge zero page
    (x86 deposits none for file folios: ``arch_needs_pgtable_deposit`` is false)."""
    return entry_has(entry, _PAGE_SPECIAL) or (a.mapping[pte_pfn(entry)] & PAGE_MAPPING_ANON) != 0


@njit(cache=True)
def zap_huge_pmd(a, vs, mmc, row, idx):
    """Unmap a whole huge pmd; its deposited table goes too (``zap_deposited_table``)."""
    entry = vs.pt[row, idx]
    deposit = pmd_has_deposit(a, entry)  # before zap_leaf: freeing the folio clears its mapping
    zap_leaf(a, vs, mmc, entry, vs.vp[VP_PMD_LEVEL])
    if deposit:
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
        free_swap_and_cache(a, vs, entry)
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
def unmap_page_range(a, vs, mmc, pgd, start, end, drop_markers, reclaim_pt):
    """Unmap [start, end): every entry that is not none goes; a huge pmd only partly inside is
    split first (``zap_pmd_range``). With ``reclaim_pt`` (MADV_DONTNEED's ``zap_details``) a
    pte table the range covers whole is freed once empty (``try_to_free_pte``). The running
    CPU's LRU batches are drained first, as ``free_pages_and_swap_cache`` does before it puts
    the folios' references."""
    lru_add_drain(a, vs.vp[VP_CPU])
    w = walk_page_range(vs, pgd, start, end, WALK_PTE_TABLES)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        if kind == WALK_PTE_TABLE:
            first, last = walk_pte_range(vs, w)
            zap_pte_range(a, vs, mmc, row, first, last, drop_markers)
            if reclaim_pt and first == 0 and last == vs.nent[level]:  # reclaim_pt_is_enabled
                try_to_free_pte(a, vs, mmc, w, row)
        elif kind != PTE_KIND_PRESENT:
            zap_nonpresent_pte(a, vs, mmc, row, idx, drop_markers)
        elif addr < start or addr + (np.int64(1) << vs.shift[level]) > end:
            __split_huge_pmd(a, vs, mmc, row, idx)
            walk_again(w)
        else:
            zap_huge_pmd(a, vs, mmc, row, idx)


@njit(cache=True)
def try_to_free_pte(a, vs, mmc, w, row):
    """CONFIG_PT_RECLAIM (mm/pt_reclaim.c, 6.18; on in x86-64 configs, this host's too): the pte
    table ``row`` the walk ``w`` just zapped is freed and its pmd cleared when no entry is
    left (a guard marker keeps it); the PMD table stays. The TLB flush after the zap drops
    its paging-structure-cache entries (``pte_free_tlb``). Measured on this host
    (tests/data/host-linux-6.18/zero_pt_probe.jsonl): MADV_DONTNEED of 1 GiB of written
    memory takes VmPTE from 2100 kB to 52 kB."""
    if vs.pt_used[row] != 0:
        return
    prow, pidx = walk_parent(w)
    set_entry(vs, prow, pidx, np.uint64(0))
    pte_free(a, vs, mmc, row)


@njit(cache=True)
def free_pgd_range(a, vs, mmc, pgd, vmas, start, end):
    """Free the tables below ``pgd`` over [start, end) that are empty and that no VMA needs
    (``free_pgtables`` of the range the VMAs left: a table reaching past it goes only if no
    VMA needs any of its span), bottom up; a table still holding swap entries or markers is
    not empty. The walk is bounded to the range, as the kernel's, not the whole tree."""
    w = walk_page_range(vs, pgd, start, end, WALK_POST | WALK_PTE_TABLES)
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
            pte_free(a, vs, mmc, child, level + 1)
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
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    if nr > 1:
        a.entire_mapcount[head] += 1  # another PMD mapping of the folio
        dst_mmc[MMC_ANON_THP] += 1
    else:
        a.mapcount[pfn] += 1
    a.refcount[head] += 1
    if anon:
        a.flags[pfn] &= ~PG_anon_exclusive_mask
    dst_mmc[mm_counter(a, head)] += nr


@njit(cache=True)
def folio_maybe_dma_pinned(a, head):
    """``folio_maybe_dma_pinned``: a large folio with pins (``_pincount``), or a small one
    whose refcount reaches GUP_PIN_COUNTING_BIAS (1024 other references look like a pin)."""
    if a.flags[head] & PG_head_mask:
        return a.pincount[head] > 0
    return a.refcount[head] >= GUP_PIN_COUNTING_BIAS


@njit(cache=True)
def needs_cow_for_dma(a, src_mmc, vm_flags, page):
    """Must fork copy this page now instead of sharing it (``folio_try_dup_anon_rmap_*``
    fails)? An exclusive anonymous page of a COW mapping that may be pinned for DMA, in an mm
    that ever pinned (``folio_needs_cow_for_dma``): sharing it would let the first write
    replace the page the device uses."""
    head = B.compound_head(a, page)
    if not is_cow_mapping(vm_flags) or not src_mmc[MMC_HAS_PINNED] or not a.mapping[head] & PAGE_MAPPING_ANON:
        return False
    return a.flags[page] & PG_anon_exclusive_mask != 0 and folio_maybe_dma_pinned(a, head)


@njit(cache=True)
def copy_present_page(a, vs, dst_mmc, drow, idx, page, vm_flags, dst_anon):
    """``copy_present_page``: the child gets its own copy of ``page`` at once, mapped
    writable (when the VMA is) and dirty; the parent's entry is left as it is. 0, or the
    status of the failed allocation (CHARGE_FAILED: fork fails with ENOMEM)."""
    new = alloc_anon_folio(a, vs, dst_mmc, AC_USER, 0)
    if new < 0:
        return CHARGE_FAILED if new == CHARGE_FAILED else -2
    copy_page(a, new, page)
    __folio_mark_uptodate(a, new)
    __folio_add_new_anon_rmap(a, new, dst_anon, a.index[page], vm_flags)  # the child's VMA: same start, pgoff
    folio_add_lru_vma(a, vs.vp[VP_CPU], new, vm_flags)
    dst_mmc[MM_ANONPAGES] += 1
    vs.nstat[a.zone_node[B.page_zone(a, new)], NS_ANON_MAPPED] += 1
    write = np.uint64(_PAGE_RW) if vm_flags & VM_WRITE else np.uint64(0)
    set_entry(vs, drow, idx, mk_entry(new, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX) | write
              | pte_mkdirty(vs))
    return 0


@njit(cache=True)
def copy_huge_pmd(a, vs, src_mmc, dst_mmc, srow, drow, idx, level, vm_flags):
    """``copy_huge_pmd``: share the THP; the child's PMD table gets a deposited table too.
    0, COPY_AGAIN when the THP may be pinned (the parent's pmd is split, its ptes are copied
    one by one: -EAGAIN), or the status of the failed table allocation."""
    if not pmd_has_deposit(a, vs.pt[srow, idx]):
        return 0  # a file folio's pmd is not copied: the child maps it again at its first fault
    if not entry_has(vs.pt[srow, idx], _PAGE_SPECIAL) and needs_cow_for_dma(a, src_mmc, vm_flags,
                                                                             pte_pfn(vs.pt[srow, idx])):
        __split_huge_pmd(a, vs, src_mmc, srow, idx)
        return COPY_AGAIN
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
def copy_pte_range(a, vs, src_mmc, dst_mmc, srow, drow, first, last, vm_flags, dst_anon):
    """Copy the ptes [first, last) of table ``srow`` into table ``drow`` (``copy_pte_range``).
    Returns (the index reached, 0), or (the index of a page copy that could not be allocated,
    its status)."""
    for idx in range(first, last):
        entry = vs.pt[srow, idx]
        if pte_none(entry):
            continue
        if pte_present(entry) and not entry_has(entry, _PAGE_SPECIAL) and needs_cow_for_dma(
                a, src_mmc, vm_flags, pte_pfn(entry)):
            status = copy_present_page(a, vs, dst_mmc, drow, idx, pte_pfn(entry), vm_flags, dst_anon)
            if status < 0:
                return idx, status
        elif pte_present(entry):  # copy_present_ptes
            entry = vs.pt[srow, idx] = cow_wrprotect(entry, vm_flags)
            folio_dup_rmap(a, dst_mmc, entry, 1)
            set_entry(vs, drow, idx, child_entry(entry, vm_flags))
        else:
            copy_nonpresent_pte(a, vs, dst_mmc, srow, drow, idx, vm_flags)
    return last, 0


@njit(cache=True)
def copy_page_range(a, vs, src_mmc, dst_mmc, dpgd, start, end, vm_flags, dst_anon):
    """``copy_page_range`` for [start, end) from the tables of ``src_mmc``'s mm to those below
    ``dpgd`` (allocated as needed); ``dst_anon`` is the child VMA's anon_vma (pages fork must
    copy at once go there). Returns (0, end), or (the failed allocation's status, the
    address to resume from once Python made room)."""
    w = walk_page_range(vs, src_mmc[MMC_PGD], start, end, WALK_PTE_TABLES)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return 0, end
        drow = pt_table(a, vs, dst_mmc, dpgd, addr, level, True)
        if drow < 0:
            return drow, addr
        if kind == WALK_PTE_TABLE:
            first, last = walk_pte_range(vs, w)
            done, status = copy_pte_range(a, vs, src_mmc, dst_mmc, row, drow, first, last, vm_flags, dst_anon)
            if status < 0:
                return status, addr + ((done - first) << 12)
        elif kind == PTE_KIND_PRESENT:
            status = copy_huge_pmd(a, vs, src_mmc, dst_mmc, row, drow, idx, level, vm_flags)
            if status == COPY_AGAIN:
                walk_again(w)  # the pmd links a pte table now
            elif status < 0:
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
    entry, level, _ = lookup_entry(a, vs, pgd, addr)
    return entry, level


@njit(cache=True)
def lookup_entry(a, vs, pgd, addr):
    """``lookup_pte`` with the row of the table the entry sits in (the rmap walks change the
    entry they found there without walking again)."""
    row = pgd
    levels = vs.vp[VP_LEVELS]
    for level in range(levels):
        entry = vs.pt[row, pt_index(vs, level, addr)]
        if pte_none(entry):
            return np.uint64(0), level, row
        if level == levels - 1 or not entry_present(entry) or entry_has(entry, _PAGE_PSE):
            return entry, level, row
        row = table_row(a, entry)
    return np.uint64(0), levels - 1, row


# smaps counters (fs/proc/task_mmu.c: smaps_pte_range / smaps_pmd_entry / smaps_account)
SM_RSS, SM_PSS, SM_PSS_DIRTY, SM_PSS_ANON, SM_PSS_FILE, SM_PSS_SHMEM = 0, 1, 2, 3, 4, 5
SM_SHARED_CLEAN, SM_SHARED_DIRTY, SM_PRIVATE_CLEAN, SM_PRIVATE_DIRTY = 6, 7, 8, 9
SM_REFERENCED, SM_ANONYMOUS, SM_ANON_HUGE, SM_SWAP, SM_LOCKED = 10, 11, 12, 13, 14
SM_SHMEM_PMD, SM_FILE_PMD, SM_SWAP_PSS, SM_LAZYFREE = 15, 16, 17, 18
NR_SM = 19
PSS_SHIFT = 12
FOLIO_REFERENCED = np.uint64((1 << PG_referenced) | (1 << PG_young))


@njit(cache=True)
def smaps_page_accumulate(a, head, size, pss, dirty, private, out):
    """``smaps_page_accumulate``: Pss by the folio's kind, and the page's bytes as shared or
    private, dirty (the pte's bit or the folio's PG_dirty) or clean."""
    out[SM_PSS] += pss
    if a.mapping[head] & PAGE_MAPPING_ANON:
        out[SM_PSS_ANON] += pss
    elif a.flags[head] & PG_swapbacked_mask:
        out[SM_PSS_SHMEM] += pss
    else:
        out[SM_PSS_FILE] += pss
    if dirty or a.flags[head] & np.uint64(1 << PG_dirty):
        out[SM_PSS_DIRTY] += pss
        out[SM_PRIVATE_DIRTY if private else SM_SHARED_DIRTY] += size
    else:
        out[SM_PRIVATE_CLEAN if private else SM_SHARED_CLEAN] += size


@njit(cache=True)
def smaps_account(a, vs, entry, level, present, out):
    """``smaps_account`` for one mapping of ``entry``'s page(s) at ``level``; a migration
    entry (not ``present``) counts its page, neither young nor dirty, and as maybe shared.
    A folio with one reference is mapped once: private at full Pss; otherwise each page
    counts by its precise mapcount (``folio_precise_page_mapcount``)."""
    levels = vs.vp[VP_LEVELS]
    compound = level < levels - 1
    nr = np.int64(1) << (vs.shift[level] - 12) if compound else np.int64(1)
    size = nr << 12
    pfn = swp_offset_pfn(pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])) if not present else pte_pfn(entry)
    head = B.compound_head(a, pfn)
    dirty = present and entry_has(entry, _PAGE_DIRTY)
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    if compound:  # smaps_pmd_entry's THP counters
        out[SM_ANON_HUGE if anon else SM_SHMEM_PMD if a.flags[head] & PG_swapbacked_mask else SM_FILE_PMD] += size
    if anon:
        out[SM_ANONYMOUS] += size
        if not a.flags[head] & (PG_swapbacked_mask | PG_dirty_mask) and not dirty:  # MADV_FREE'd, clean
            out[SM_LAZYFREE] += size
    out[SM_RSS] += size
    if (present and entry_has(entry, _PAGE_ACCESSED)) or a.flags[head] & FOLIO_REFERENCED:
        out[SM_REFERENCED] += size
    if a.refcount[head] == 1 or not present:
        smaps_page_accumulate(a, head, size, size << PSS_SHIFT, dirty, present, out)
        return
    for page in range(pfn, pfn + nr):
        mapcount = a.mapcount[page] + folio_entire_mapcount(a, head)
        pss = np.int64(4096) << PSS_SHIFT
        if mapcount >= 2:
            pss //= mapcount
        smaps_page_accumulate(a, head, 4096, pss, dirty, mapcount < 2, out)


@njit(cache=True)
def smaps_page_range(a, vs, pgd, start, end, out):
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
            smaps_account(a, vs, entry, level, True, out)
        elif kind == PTE_KIND_SWAP:  # SwapPss: shared by the slot's swap ptes (swp_swapcount)
            size = np.int64(1) << vs.shift[level]
            out[SM_SWAP] += size
            count = vs.swap_map[swap_slot(vs, pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT]))] & SWAP_COUNT_MASK
            out[SM_SWAP_PSS] += (size << PSS_SHIFT) // max(count, 1)
        elif kind == PTE_KIND_MIGRATION:
            smaps_account(a, vs, entry, level, False, out)


# ---- swap ptes (the compiled half of do_swap_page, try_to_unmap_one, unuse_pte) --------------

_PAGE_SWP_SOFT_DIRTY = _PAGE_RW  # arch/x86: a swap pte keeps soft-dirty in bit 1


@njit(cache=True)
def pte_slot(a, vs, pgd, addr):
    """(table row, index) of the pte for ``addr``; row -1 when no pte table is there."""
    levels = vs.vp[VP_LEVELS]
    row = pt_offset(a, vs, pgd, addr, levels - 1)
    if row < 0:
        return np.int64(-1), np.int64(0)
    return row, pt_index(vs, levels - 1, addr)


@njit(cache=True)
def swap_pte_entry(a, vs, pgd, addr):
    """The swap entry of the swap pte at ``addr`` (-1 if the pte is no swap pte any more)."""
    row, idx = pte_slot(a, vs, pgd, addr)
    if row < 0 or pte_kind(vs.pt[row, idx], vs.vp[VP_SWP_FMT]) != PTE_KIND_SWAP:
        return np.int64(-1)
    return np.int64(pte_to_swp_entry(vs.pt[row, idx], vs.vp[VP_SWP_FMT]))


@njit(cache=True)
def map_swap_folio(a, vs, mmc, pgd, addr, pfn, vm_flags, anon_key, root_key, index, write, free_swap):
    """Replace the swap pte at ``addr`` by a mapping of the swap-cache folio ``pfn`` that
    holds its data (``do_swap_page`` after the folio is uptodate; ``unuse_pte``).

    The pte's slot reference goes (``swap_free_nr``); a folio read for this fault becomes
    anonymous here (``folio_add_new_anon_rmap``), one already mapped gains a mapping. An
    exclusive swap pte maps writable when the VMA is writable (and dirty on a write fault),
    and the page is PG_anon_exclusive again; a folio that may be shared takes the root
    anon_vma (``root_key``: ``__folio_set_anon``), where every mapper's rmap finds it. ``free_swap`` (``should_try_to_free_swap``:
    swap more than half full, a locked VMA) or a write fault of the folio's only user frees
    the slot: the data's only copy is in memory from then on. ``pfn`` may be a page of a
    large swap-cache folio (its slots free once no pte refers to any of them)."""
    fmt = vs.vp[VP_SWP_FMT]
    row, idx = pte_slot(a, vs, pgd, addr)
    pte = vs.pt[row, idx]
    entry = pte_to_swp_entry(pte, fmt)
    exclusive = (pte & pte_swp_exclusive_bit(fmt)) != 0
    swap_free(a, vs, entry)
    head = B.compound_head(a, pfn)
    a.refcount[head] += 1  # the pte's reference
    if free_swap or (write and a.refcount[head] == (np.int64(1) << a.order[head]) + 1):  # the cache's and this pte's only
        folio_free_swap(a, vs, head)
    nid = a.zone_node[B.page_zone(a, pfn)]
    if (a.mapping[head] & PAGE_MAPPING_ANON) == 0:  # a swapped-in folio becomes anonymous
        a.mapping[pfn] = (anon_key if exclusive else root_key) * 2 + PAGE_MAPPING_ANON
        a.index[pfn] = index
        a.memcg_stat[a.memcg[pfn], NS_ANON_MAPPED] += 1  # its memcg's anon (mem_cgroup_uncharge takes it off)
    if a.mapcount[pfn] == 0:
        vs.nstat[nid, NS_ANON_MAPPED] += 1
    a.mapcount[pfn] += 1
    new = mk_entry(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
    if not vm_flags & VM_EXEC:
        new |= np.uint64(_PAGE_NX)
    if fmt == SWP_FMT_64 and pte & np.uint64(_PAGE_SWP_SOFT_DIRTY):
        new |= np.uint64(vs.vp[VP_SOFT_DIRTY])
    if exclusive:
        a.flags[pfn] |= PG_anon_exclusive_mask
        if vm_flags & VM_WRITE:
            new |= np.uint64(_PAGE_RW)
            if write:
                new |= pte_mkdirty(vs)
    set_entry(vs, row, idx, new)
    mmc[MM_SWAPENTS] -= 1
    mmc[MM_ANONPAGES] += 1


@njit(cache=True)
def do_swap_page(a, vs, vmas, mmc, v, row, idx, addr, write):
    """The compiled half of ``do_swap_page``: the swap pte's slot is on a SWP_SYNCHRONOUS_IO
    area (zram), only this pte refers to it and no folio caches it: a new folio is read at
    once (no I/O to wait for; a major fault) and mapped, the slot freed. The folio passes
    through the swap cache as the Python half's does (6.18 skips the cache here; nothing
    outside the fault sees the difference). FAULT_SWAP hands everything else to the Python
    half (``mm/swap_state.py``): a folio in the swap cache (readahead's bookkeeping), disk
    reads waited for on the clock, a slot shared after fork, a charge to a memcg other than
    the mm's."""
    entry = pte_to_swp_entry(vs.pt[row, idx], vs.vp[VP_SWP_FMT])
    slot = swap_slot(vs, entry)
    memcg = mmc[MMC_MEMCG]
    if (not vs.swap_sync_io[swp_type(entry)] or vs.swap_map[slot] != 1 or swp_tb_is_folio(vs.swap_table[slot])
            or not vs.pt[row, idx] & pte_swp_exclusive_bit(vs.vp[VP_SWP_FMT]) or vmas[v, VMA_ANON] == 0
            or memcg == 0 or (vs.swap_cgroup[slot] != 0 and vs.swap_cgroup[slot] != memcg)):
        return FAULT_SWAP
    pfn = alloc_with(a, vs, AC_SWAPIN, 0)  # alloc_swap_folio
    if pfn < 0:
        return FAULT_NEED_ALLOC
    if not charge_memcg(a, memcg, pfn, 1):  # mem_cgroup_swapin_charge_folio
        B.__free_pages(a, pfn, 0, vs.vp[VP_CPU])
        return FAULT_NEED_CHARGE
    vs.swap_map[slot] |= SWAP_HAS_CACHE  # swapcache_prepare
    a.flags[pfn] |= PG_swapbacked_mask
    shadow = __swap_cache_add_folio(a, vs, pfn, entry)
    if shadow:  # the slot's folio was evicted by reclaim: a refault (before the LRU add)
        workingset_refault(a, pfn, shadow, 0, vs.vp[VP_NR_SWAP_PAGES] > 0, 1)
    folio_add_lru(a, vs.vp[VP_CPU], pfn)
    a.refcount[pfn] -= 1  # the allocation's reference: the cache and the LRU batch hold theirs
    swap_read_folio_sync(a, vs, pfn, slot)
    lru_add_drain(a, vs.vp[VP_CPU])
    map_swap_folio(a, vs, mmc, mmc[MMC_PGD], addr, pfn, vmas[v, VMA_FLAGS], vmas[v, VMA_ANON], vmas[v, VMA_ANON],
                   linear_page_index(vmas, v, addr), write, True)  # the sync read frees the slot at once
    vs.vm_events[PGMAJFAULT] += 1
    vs.memcg_vm_events[memcg, PGMAJFAULT] += 1  # count_memcg_event_mm
    vs.vp[VP_FAULT_MAJOR] = 1  # mm_account_fault: VM_FAULT_MAJOR
    vs.vp[VP_SWAPIN_FAULTS] += 1
    return FAULT_OK


@njit(cache=True)
def try_to_unmap_one(a, vs, mmc, row, idx, pfn):
    """Replace the pte mapping the swap-cache folio ``pfn`` (entry ``idx`` of table ``row``, as
    the rmap walk found it) by a swap pte for its slot (``try_to_unmap_one``): the slot gains
    the reference, a dirty pte dirties the folio, PG_anon_exclusive moves into the swap pte's
    exclusive bit, soft-dirty into its SD bit. False if the page cannot be unmapped (it may be
    pinned for DMA). ``pfn`` may be any page of a large folio: its own slot, the folio's flags
    and references."""
    fmt = vs.vp[VP_SWP_FMT]
    pte = vs.pt[row, idx]
    if not pte_present(pte) or pte_pfn(pte) != pfn:
        return False
    head = B.compound_head(a, pfn)
    exclusive = (a.flags[pfn] & PG_anon_exclusive_mask) != 0
    if exclusive and a.pincount[head] > 0:  # folio_try_share_anon_rmap_pte fails
        return False
    entry = np.uint64(a.private[pfn])
    if entry_has(pte, _PAGE_DIRTY):
        a.flags[head] |= PG_dirty_mask
    swap_duplicate(vs, entry)
    swp = swp_entry_to_pte(entry, fmt)
    if exclusive:
        swp |= pte_swp_exclusive_bit(fmt)
        a.flags[pfn] &= ~PG_anon_exclusive_mask
    if fmt == SWP_FMT_64 and vs.vp[VP_SOFT_DIRTY] and pte & np.uint64(vs.vp[VP_SOFT_DIRTY]):
        swp |= np.uint64(_PAGE_SWP_SOFT_DIRTY)
    set_entry(vs, row, idx, swp)
    a.mapcount[pfn] -= 1
    if a.mapcount[pfn] == 0:
        vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_ANON_MAPPED] -= 1
    mmc[MM_ANONPAGES] -= 1
    mmc[MM_SWAPENTS] += 1
    a.refcount[head] -= 1  # the pte's reference (the swap cache and the isolation hold theirs)
    return True


@njit(cache=True)
def swap_ptes_of_type(a, vs, pgd, type_):
    """The addresses of every swap pte for area ``type_`` (``unuse_pte_range``'s scan)."""
    out = np.zeros(64, np.int64)
    n = 0
    w = walk_page_range(vs, pgd, 0, np.int64(1) << 62, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return out[:n]
        if kind == PTE_KIND_SWAP and swp_type(pte_to_swp_entry(vs.pt[row, idx], vs.vp[VP_SWP_FMT])) == type_:
            if n == out.shape[0]:
                out = np.concatenate((out, np.zeros(n, np.int64)))
            out[n] = addr
            n += 1


# ---- /sys/kernel/debug/fault_around_bytes (mm/memory.c) -----------------------------------------


def fault_around_bytes_get(k) -> str:
    """``fault_around_bytes_get``: the fault-around window in bytes."""
    from ..kernel.fork import ensure_tables

    return f"{int(ensure_tables(k).vp[VP_FAULT_AROUND_PAGES]) << 12}\n"


def fault_around_bytes_set(k, value: str) -> None:
    """``fault_around_bytes_set``: at most a page table's span (EINVAL), at least a page
    (which turns fault-around off), rounded down to a power of two."""
    import errno

    from ..errors import KernelError
    from ..kernel.fork import ensure_tables

    try:
        val = int(value.strip(), 0)  # kstrtoull(buf, 0)
    except ValueError:
        raise KernelError(errno.EINVAL, f"fault_around_bytes: {value!r} is not a number") from None
    vs = ensure_tables(k)
    if not 0 <= val < 1 << 64 or val // 4096 > vs.nent[vs.vp[VP_LEVELS] - 1]:
        raise KernelError(errno.EINVAL, f"fault_around_bytes: {val} is more than a page table maps")
    vs.vp[VP_FAULT_AROUND_PAGES] = (1 << (max(val, 4096).bit_length() - 1)) >> 12
