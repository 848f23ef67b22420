"""Reverse mapping (``mm/rmap.c``), Linux 6.18: from a page to every pte that maps it.

Anonymous pages (the objects are in ``include/linux/rmap.py``). A VMA gets an anon_vma at
its first anonymous fault (``__anon_vma_prepare``: a neighbour's, when ``vma.py``'s
``find_mergeable_anon_vma`` finds one, else a new root). Each page records its anon_vma in
``page->mapping`` and its offset in ``page->index``. The VMAs linked into an anon_vma are all
that may map its pages:

* ``anon_vma_fork``: the child's VMA is linked to every anon_vma of the parent's VMA (it
  shares their pages until COW) and gets an anon_vma of its own, a child of the parent's,
  for the pages it will copy; since 6.2 it reuses an existing anon_vma instead when one in
  the chain has no VMA and at most one child (``anon_vma_clone``'s reuse rule), so a chain
  of forks and exits does not grow the tree without bound;
* ``anon_vma_clone``: a VMA split or copied (mremap) is linked to the same anon_vmas;
* ``unlink_anon_vmas``: a VMA that goes (munmap, a merge, exit) leaves every tree; an
  anon_vma whose tree empties drops its reference (``put_anon_vma``), and a root lives on
  while any of its descendants does.

File pages: a file's ``address_space`` lists its VMAs in ``i_mmap`` (``vma_link_file``,
``unlink_file_vma``); ``unmap_mapping_pages`` takes a range of a file's pages out of every
process that maps them (a hole punched in a shmem object). ``folio_mkclean`` write-protects
and cleans every pte (or pmd) mapping a file folio before writeback writes it out
(``folio_clear_dirty_for_io``), so that the next store faults and dirties it again.

``rmap_walk`` is compiled. It reads a flattened table of every object's VMAs, rebuilt when
a VMA or a link changed (``rmap_table``, as the per-mm VMA table is rebuilt): for the page's
``mapping``, each VMA whose pgoff range holds the page's index gives ``vma_address``
(``vm_start + ((index - vm_pgoff) << PAGE_SHIFT)``), and a walk of that mm's page tables
there says whether a pte (or a PMD) maps the page (``page_vma_mapped_walk``). With
``migration`` it finds the migration entries that stand for the page instead, as
``page_vma_mapped_walk`` does with PVMW_MIGRATION (``remove_migration_ptes``' walk).

Reclaim's two walks are compiled too, one call per folio from the compiled batch:

* ``folio_referenced`` (``folio_referenced_one`` per VMA) tests and clears the accessed
  (young) bit of every pte or PMD mapping the folio and returns how many VMAs had referenced
  it, with the vm_flags of those (VM_EXEC for the active list's rule). A VM_LOCKED VMA ends
  the walk: the folio is mlocked (``mlock_vma_folio``; reclaim puts it on the unevictable
  list) and VM_LOCKED is returned. x86 clears a pte's young bit without a TLB flush
  (``ptep_clear_flush_young``); a young PMD's range is flushed (``pmdp_clear_flush_young``).
* ``try_to_unmap`` (``try_to_unmap_one`` per entry): an anonymous folio in the swap cache
  gets swap ptes (``memory.try_to_unmap_one``); a lazily freed one (MADV_FREE: not
  swap-backed) loses its ptes, unless one dirtied it since (it is swap-backed again) or
  someone else holds a reference (``try_to_unmap_lazyfree_one``); a file folio's ptes and PMDs are cleared, a
  dirty bit dirtying the folio (its data must be written, not dropped), RssFile/RssShmem and
  NR_FILE_MAPPED following (``zap_leaf``). A VM_LOCKED VMA stops it (the folio is mlocked).
  An anonymous THP swapped out whole has its PMDs split into ptes first (TTU_SPLIT_HUGE_PMD:
  ``__split_huge_pmd``), each pte then getting its page's swap entry; a lazily freed one
  mapped by a PMD is kept. Reclaim batches the TLB flushes
  (TTU_BATCH_FLUSH, ``try_to_unmap_flush`` after the batch).

The compiled walks reach the mms' counters through one array (``RmapRegistry.mmcs``, each
task's ``mmc`` a view of its row: ``row_mm`` gives the row of each rmap row's mm), and flush
the TLB of each mm marked in ``flush_mm`` after a batch (``mm/vmscan.py``'s
``try_to_unmap_flush``: a whole-mm flush, as the kernel's batched flush is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..arch.x86.mm.tlb import arch_tlbbatch_flush
from ..include.linux.mm_types import NR_MMC, PAGE_SHIFT, VM_DROPPABLE, VM_LOCKED, VM_SPECIAL, vma_pages
from ..include.linux.page_flags import PG_dirty_mask, PG_idle_mask, PG_swapbacked_mask
from ..include.linux.rmap import (NR_RMAP_COLS, RMAP_END, RMAP_FLAGS, RMAP_PGD, RMAP_PGOFF, RMAP_START,
                                  RmapRegistry, anon_vma)
from ..include.linux.sched import TASK_RUNNING
from . import buddy as B
from .memory import (PAGE_MAPPING_ANON, __split_huge_pmd, folio_mapped, lookup_entry, pt_offset, pte_slot, set_entry,
                     try_to_unmap_one, zap_huge_pmd, zap_leaf)
from .pgtable import (VP_LEVELS, VP_SWP_FMT, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, _PAGE_SPECIAL, entry_has,
                      is_migration_entry, pt_index, pte_none, pte_pfn, pte_present, pte_to_swp_entry,
                      swp_offset_pfn)
from .swap import folio_nr_pages, mlock_folio


# ---- anon_vma -------------------------------------------------------------------------------
def anon_vma_alloc(reg: RmapRegistry) -> anon_vma:
    """A new anon_vma, its own root and parent, with the reference its tree will hold."""
    reg.last_anon_vma_id += 1
    av = anon_vma(reg.last_anon_vma_id)
    reg.anon_vmas[av.id] = av
    return av


def anon_vma_chain_link(reg: RmapRegistry, vma, av: anon_vma) -> None:
    vma.anon_vma_chain.insert(0, av)  # list_add: the newest link first
    av.rb_root.append(vma)
    reg.seq += 1


def __anon_vma_prepare(reg: RmapRegistry, vma, mergeable: anon_vma | None) -> anon_vma:
    """Give ``vma`` the anon_vma of a neighbour (``mergeable``) or a new root."""
    av = mergeable
    if av is None:
        av = anon_vma_alloc(reg)
        av.num_children += 1  # a root's link to itself as parent
    vma.anon_vma = av
    anon_vma_chain_link(reg, vma, av)
    av.num_active_vmas += 1
    return av


def anon_vma_clone(reg: RmapRegistry, dst, src) -> None:
    """Link ``dst`` to every anon_vma ``src`` is linked to, oldest first. A ``dst`` without an
    anon_vma (fork) takes the first one that no VMA uses and that has at most one child; a
    root is never taken (it counts itself as a child and has at least one more)."""
    for av in reversed(src.anon_vma_chain):
        anon_vma_chain_link(reg, dst, av)
        if dst.anon_vma is None and src.anon_vma is not None and av.num_children < 2 \
                and av.num_active_vmas == 0:
            dst.anon_vma = av
    if dst.anon_vma is not None:
        dst.anon_vma.num_active_vmas += 1


def anon_vma_fork(reg: RmapRegistry, vma, pvma) -> None:
    """fork: the child's ``vma`` shares every anon_vma of the parent's ``pvma`` and gets one of
    its own (reused, or new: a child of ``pvma``'s, under the same root)."""
    if pvma.anon_vma is None:
        return
    vma.anon_vma = None
    anon_vma_clone(reg, vma, pvma)
    if vma.anon_vma is not None:
        return
    av = anon_vma_alloc(reg)
    av.num_active_vmas += 1
    av.root, av.parent = pvma.anon_vma.root, pvma.anon_vma
    av.root.refcount += 1  # get_anon_vma(root): the root outlives its descendants
    vma.anon_vma = av
    anon_vma_chain_link(reg, vma, av)
    av.parent.num_children += 1


def unlink_anon_vmas(reg: RmapRegistry, vma) -> None:
    """``vma`` leaves every anon_vma's tree; the anon_vmas left empty are put."""
    emptied = []
    for av in vma.anon_vma_chain:
        av.rb_root.remove(vma)
        if not av.rb_root:
            av.parent.num_children -= 1
            emptied.append(av)
    if vma.anon_vma is not None:
        vma.anon_vma.num_active_vmas -= 1
        vma.anon_vma = None
    vma.anon_vma_chain = []
    reg.seq += 1
    for av in emptied:  # newest first: the root goes last
        put_anon_vma(reg, av)


def put_anon_vma(reg: RmapRegistry, av: anon_vma) -> None:
    av.refcount -= 1
    if av.refcount == 0:
        __put_anon_vma(reg, av)


def __put_anon_vma(reg: RmapRegistry, av: anon_vma) -> None:
    """Free ``av``; a descendant's end drops the reference it held on its root."""
    del reg.anon_vmas[av.id]
    root = av.root
    if root is not av:
        put_anon_vma(reg, root)


# ---- file mappings (mm/vma.c) -------------------------------------------------------------
def vma_link_file(reg: RmapRegistry, vma) -> None:
    vma.vm_file.f_mapping.i_mmap.append(vma)
    reg.seq += 1


def unlink_file_vma(reg: RmapRegistry, vma) -> None:
    vma.vm_file.f_mapping.i_mmap.remove(vma)
    reg.seq += 1


def unmap_mapping_pages(mapping, first: int, last: int) -> None:
    """Every VMA of ``mapping`` (its ``i_mmap``) loses the ptes of file pages [first, last],
    in whichever process it is (``unmap_mapping_pages``, ``mm/memory.c``); guard markers
    stay (no ZAP_FLAG_DROP_MARKER)."""
    for vma in list(mapping.i_mmap):
        lo, hi = max(first, vma.vm_pgoff), min(last + 1, vma.vm_pgoff + vma_pages(vma))
        if lo < hi:
            mm = vma.vm_mm
            mm.hooks.zap_range(mm, vma.vm_start + ((lo - vma.vm_pgoff) << PAGE_SHIFT),
                               vma.vm_start + ((hi - vma.vm_pgoff) << PAGE_SHIFT), drop_markers=False)


# ---- the table the compiled walk reads ---------------------------------------------------
def page_mapping(obj) -> int:
    """The ``page->mapping`` value of a page of ``obj`` (an anon_vma or an address_space)."""
    return obj.id << 1 | (PAGE_MAPPING_ANON if isinstance(obj, anon_vma) else 0)


def rmap_table(reg: RmapRegistry) -> RmapRegistry:
    """The registry with its table brought up to date: for every anon_vma and address_space
    (sorted by ``page->mapping``), the (pgd, vm_start, vm_end, vm_pgoff) of each VMA linked."""
    if reg.table_seq == reg.seq:
        return reg
    objs = sorted([*reg.anon_vmas.values(), *reg.address_spaces.values()], key=page_mapping)
    objs = [o for o in objs if _linked(o)]
    reg.vmas = [v for o in objs for v in _linked(o)]
    reg.keys = np.array([page_mapping(o) for o in objs], np.int64)
    reg.off = np.zeros(len(objs) + 1, np.int64)
    np.cumsum([len(_linked(o)) for o in objs], out=reg.off[1:])
    reg.rows = np.array([(v.vm_mm.pgd, v.vm_start, v.vm_end, v.vm_pgoff, v.vm_flags) for v in reg.vmas],
                        np.int64).reshape(len(reg.vmas), NR_RMAP_COLS)
    reg.table_seq = reg.seq
    return reg


def _linked(obj) -> list:
    return obj.rb_root if isinstance(obj, anon_vma) else obj.i_mmap


# the columns of a walk's scratch table, one row per rmap row: rmap_walk_one's (row, address,
# level, page-table row holding the entry) of each entry found, and folio_referenced's rows
# found referencing; and by rmap row, the pte table its last walk ended in (SCR_PMD_KEY: the
# range of the PMD entry pointing to it, + 1; SCR_PTE_TABLE: its row)
SCR_ROW, SCR_ADDR, SCR_LEVEL, SCR_YOUNG, SCR_PT, SCR_PMD_KEY, SCR_PTE_TABLE = range(7)
NR_SCR_COLS = 7


@njit(cache=True)
def rmap_scratch(rows):
    """The scratch table of the walks over ``rows``, allocated once per batch. It remembers
    the pte tables the walks reached: while it is used, no page table may be freed or
    replaced (reclaim's walks only split PMD leaves into new tables)."""
    return np.zeros((rows.shape[0], NR_SCR_COLS), np.int64)


@njit(cache=True)
def mapped_pfn(vs, entry, level, address, migration):
    """The page ``entry`` at ``address`` maps (or, with ``migration``, the page its migration
    entry stands for): ``check_pte``; -1 if it is not such an entry."""
    if migration:
        if pte_present(entry) or pte_none(entry):
            return -1
        swp = pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])
        if not is_migration_entry(swp):
            return -1
        mapped = swp_offset_pfn(swp)
    elif not pte_present(entry) or entry_has(entry, _PAGE_SPECIAL):
        return -1
    else:
        mapped = pte_pfn(entry)
    if level < vs.vp[VP_LEVELS] - 1:  # a huge leaf: the page of it at this address
        mapped += (address >> 12) & ((np.int64(1) << (vs.shift[level] - 12)) - 1)
    return mapped


@njit(cache=True)
def rmap_walk_one(a, vs, keys, off, rows, pfn, migration, out):
    """``rmap_walk`` of one page: each (table row, address, level, page-table row) of an
    entry that maps ``pfn`` (a migration entry for it, with ``migration``), into ``out``;
    returns how many. A VMA's walk ending in the pte table its last one reached starts there
    (``out``'s SCR_PMD_KEY): a run of pages of one page table walks from the top once."""
    head = B.compound_head(a, pfn)
    mapping = a.mapping[head]
    i = np.searchsorted(keys, mapping)
    if mapping == 0 or i == keys.shape[0] or keys[i] != mapping:
        return 0
    pgoff = a.index[head] + (pfn - head)
    leaf = vs.vp[VP_LEVELS] - 1
    pmd_shift = vs.shift[leaf - 1]
    n = 0
    for r in range(off[i], off[i + 1]):
        first = rows[r, RMAP_PGOFF]
        if pgoff < first or pgoff >= first + ((rows[r, RMAP_END] - rows[r, RMAP_START]) >> 12):
            continue
        address = rows[r, RMAP_START] + ((pgoff - first) << 12)  # vma_address
        key = (address >> pmd_shift) + 1
        if out[r, SCR_PMD_KEY] == key:
            pt, level = out[r, SCR_PTE_TABLE], leaf
            entry = vs.pt[pt, pt_index(vs, leaf, address)]
        else:
            entry, level, pt = lookup_entry(a, vs, rows[r, RMAP_PGD], address)
            if level == leaf:
                out[r, SCR_PMD_KEY], out[r, SCR_PTE_TABLE] = key, pt
        if mapped_pfn(vs, entry, level, address, migration) == pfn:
            out[n, SCR_ROW], out[n, SCR_ADDR], out[n, SCR_LEVEL], out[n, SCR_PT] = r, address, level, pt
            n += 1
    return n


@njit(cache=True)
def rmap_count(a, vs, keys, off, rows, pfns, migration, counts):
    """How many entries ``rmap_walk`` finds for each of ``pfns`` (``debug.check``)."""
    scratch = rmap_scratch(rows)
    for i in range(pfns.shape[0]):
        counts[i] = rmap_walk_one(a, vs, keys, off, rows, pfns[i], migration, scratch)


def rmap_walk(k, pfn: int, migration: bool = False) -> list[tuple[object, int, int]]:
    """Every (vma, address, level) where a page-table entry maps ``pfn``, found from the page
    alone (its mapping and index); ``level`` is the page-table level of the entry. With
    ``migration``: where a migration entry stands for ``pfn`` (PVMW_MIGRATION)."""
    reg = rmap_table(k.rmap)
    out = rmap_scratch(reg.rows)
    n = rmap_walk_one(k.mem_map, k.vm_state, reg.keys, reg.off, reg.rows, pfn, migration, out)
    return [(reg.vmas[int(r)], int(addr), int(level)) for r, addr, level in out[:n, SCR_ROW:SCR_LEVEL + 1]]


# ---- folio_mkclean ----------------------------------------------------------------------------
@njit(cache=True)
def page_vma_mkclean_one(a, vs, pgd, address, level):
    """``page_vma_mkclean_one`` for the entry at ``level`` mapping ``address``: write-protect
    and clean it if it is writable or dirty; True if it was (its TLB entry must go)."""
    row = pt_offset(a, vs, pgd, address, level)
    if row < 0:
        return False
    idx = pt_index(vs, level, address)
    entry = vs.pt[row, idx]
    if not entry_has(entry, _PAGE_RW) and not entry_has(entry, _PAGE_DIRTY):
        return False
    vs.pt[row, idx] = entry & ~np.uint64(_PAGE_RW | _PAGE_DIRTY)
    return True


def folio_mkclean(k, pfn: int) -> int:
    """``folio_mkclean``: every entry mapping a page of the folio headed by ``pfn`` is made
    read-only and clean (``rmap_walk`` -> ``page_mkclean_one``), its TLB entry flushed;
    returns how many were writable or dirty."""
    a = k.mem_map
    if not folio_mapped(a, pfn):
        return 0
    cleaned = 0
    for page in range(pfn, pfn + (1 << int(a.order[pfn]))):
        for vma, address, level in rmap_walk(k, page):
            if page_vma_mkclean_one(a, k.vm_state, vma.vm_mm.pgd, address, level):
                cleaned += 1
                size = 1 << int(k.vm_state.shift[level])
                if k.tlb is not None:  # flush_tlb_page / flush_tlb_range of the huge entry
                    k.tlb.flush_range(vma.vm_mm.hooks.task, address & -size, (address & -size) + size)
    return cleaned


# ---- reclaim's walks: folio_referenced, try_to_unmap ---------------------------------------------
@njit(cache=True)
def mlock_vma_folio(a, head, vm_flags):
    """A folio found mapped in a VM_LOCKED VMA (not a special one) is mlocked."""
    if vm_flags & (VM_LOCKED | VM_SPECIAL) == VM_LOCKED:
        mlock_folio(a, head)


@njit(cache=True)
def row_seen(scratch, n, r):
    """Is ``r`` among the first ``n`` rows found referencing (``SCR_YOUNG``)?"""
    for i in range(n):
        if scratch[i, SCR_YOUNG] == r:
            return True
    return False


@njit(cache=True)
def folio_referenced(a, vs, keys, off, rows, row_mm, head, scratch, flush_mm):
    """``folio_referenced``: clear the young bit of every entry mapping the folio; returns
    (VMAs that referenced it, their vm_flags | VM_LOCKED if one was locked). Rows of mms no
    task runs in (``row_mm`` -1) are skipped. ``scratch`` (``rmap_scratch``) holds the walk's
    entries and the rows found referencing, at most one per rmap row."""
    if not folio_mapped(a, head):
        return 0, 0
    referenced = vm_flags = 0
    leaf = vs.vp[VP_LEVELS] - 1
    for page in range(head, head + folio_nr_pages(a, head)):
        for j in range(rmap_walk_one(a, vs, keys, off, rows, page, False, scratch)):
            r, address, level = scratch[j, SCR_ROW], scratch[j, SCR_ADDR], scratch[j, SCR_LEVEL]
            if row_mm[r] < 0:
                continue
            if rows[r, RMAP_FLAGS] & VM_LOCKED:
                mlock_vma_folio(a, head, rows[r, RMAP_FLAGS])
                return referenced, vm_flags | VM_LOCKED
            row, idx = scratch[j, SCR_PT], pt_index(vs, level, address)
            if not entry_has(vs.pt[row, idx], _PAGE_ACCESSED):
                continue
            vs.pt[row, idx] &= ~np.uint64(_PAGE_ACCESSED)
            if level < leaf:  # pmdp_clear_flush_young flushes; a pte's young bit is not
                flush_mm[row_mm[r]] = 1
            if row_seen(scratch, referenced, r):
                continue
            scratch[referenced, SCR_YOUNG] = r
            referenced += 1
            vm_flags |= rows[r, RMAP_FLAGS]
    if referenced:
        a.flags[head] &= ~PG_idle_mask
    return referenced, vm_flags


@njit(cache=True)
def try_to_unmap_lazyfree_one(a, vs, mmc, row, idx, pfn, droppable):
    """``try_to_unmap_one``'s MADV_FREE case for the pte mapping ``pfn`` (entry ``idx`` of
    table ``row``): its
    dirty bit dirties the folio; a dirty folio was written since MADV_FREE and must be kept
    (not in a MAP_DROPPABLE mapping, which drops it all the same), so is one someone else
    holds (the isolation and the ptes aside); otherwise the
    pte goes without a swap entry (MM_ANONPAGES). A folio it cannot drop is swap-backed again
    (6.18 does so whether the dirty bit or another reference kept it). True if it went."""
    pte = vs.pt[row, idx]
    if not pte_present(pte) or pte_pfn(pte) != pfn:
        return False
    if entry_has(pte, _PAGE_DIRTY):
        a.flags[pfn] |= PG_dirty_mask
    if a.refcount[pfn] == 1 + a.mapcount[pfn] and (not a.flags[pfn] & PG_dirty_mask or droppable):
        zap_leaf(a, vs, mmc, pte, vs.vp[VP_LEVELS] - 1)
        set_entry(vs, row, idx, np.uint64(0))
        return True
    if not droppable:
        a.flags[pfn] |= PG_swapbacked_mask
    return False


@njit(cache=True)
def try_to_unmap(a, vs, keys, off, rows, row_mm, mmcs, head, scratch, flush_mm):
    """``try_to_unmap`` of an isolated folio, on the counters of the mm each rmap row belongs
    to (``row_mm`` indexes ``mmcs``; -1: no task runs in it, skipped): an anonymous folio in
    the swap cache gets swap ptes, a PMD mapping it split into ptes first (TTU_SPLIT_HUGE_PMD,
    as reclaim passes for a PMD-mappable folio); a file folio's ptes and PMDs are cleared,
    their dirty bits dirtying it. A VM_LOCKED VMA stops it (the folio is mlocked).
    The TLB flush is batched (TTU_BATCH_FLUSH): each mm changed is marked in ``flush_mm``
    for ``try_to_unmap_flush``. True if no mapping is left."""
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    leaf = vs.vp[VP_LEVELS] - 1
    for page in range(head, head + folio_nr_pages(a, head)):
        for j in range(rmap_walk_one(a, vs, keys, off, rows, page, False, scratch)):
            r, address, level = scratch[j, SCR_ROW], scratch[j, SCR_ADDR], scratch[j, SCR_LEVEL]
            mm = row_mm[r]
            if mm < 0:
                continue
            if rows[r, RMAP_FLAGS] & VM_LOCKED:  # not TTU_IGNORE_MLOCK: walk_abort
                mlock_vma_folio(a, head, rows[r, RMAP_FLAGS])
                return False
            row, idx = scratch[j, SCR_PT], pt_index(vs, level, address)
            if anon and not a.flags[head] & PG_swapbacked_mask:
                if level < leaf or not try_to_unmap_lazyfree_one(a, vs, mmcs[mm], row, idx, page,
                                                                 (rows[r, RMAP_FLAGS] & VM_DROPPABLE) != 0):
                    return False
            elif anon:
                if level < leaf:  # TTU_SPLIT_HUGE_PMD: the PMD becomes ptes of the same folio
                    __split_huge_pmd(a, vs, mmcs[mm], row, idx)
                    row, idx = pte_slot(a, vs, rows[r, RMAP_PGD], address)
                if not try_to_unmap_one(a, vs, mmcs[mm], row, idx, page):
                    return False
            else:
                try_to_unmap_file_one(a, vs, mmcs[mm], row, idx, level)
            flush_mm[mm] = 1
    return not folio_mapped(a, head)


@njit(cache=True)
def try_to_unmap_file_one(a, vs, mmc, row, idx, level):
    """``try_to_unmap_one`` for a page-cache folio's entry at ``level`` (entry ``idx`` of
    table ``row``): cleared, PMD or pte (a dirty one dirtying the folio: ``zap_leaf``)."""
    if level < vs.vp[VP_LEVELS] - 1:
        zap_huge_pmd(a, vs, mmc, row, idx)
    else:
        zap_leaf(a, vs, mmc, vs.pt[row, idx], level)
        set_entry(vs, row, idx, np.uint64(0))


# ---- the rmap table and the mm counters a compiled pass works on ---------------------------------

EMPTY_I64 = np.zeros(0, np.int64)
EMPTY_ROWS = np.zeros((0, NR_RMAP_COLS), np.int64)
EMPTY_MMCS = np.zeros((0, NR_MMC), np.int64)


@dataclass
class swap_out_batch:
    """What the compiled pass needs to swap anonymous folios out: the order-0 swap entries
    reserved for it, the run reserved for each large folio of the batch (``large_entries``,
    its first entry or -1, by the folio's place in the batch; ``large_orders``), the rmap
    table with each row's mm (``row_mm``, -1: no running task) and the mm counters (``mmcs``,
    every mm's, changed in place)."""

    entries: np.ndarray
    rmap_keys: np.ndarray
    rmap_off: np.ndarray
    rmap_rows: np.ndarray
    row_mm: np.ndarray
    mmcs: np.ndarray
    large_entries: np.ndarray = field(default_factory=lambda: EMPTY_I64)
    large_orders: np.ndarray = field(default_factory=lambda: EMPTY_I64)

    @classmethod
    def none(cls) -> "swap_out_batch":
        """A pass with nothing to swap out (no anonymous folio, or only page cache)."""
        return cls(EMPTY_I64, EMPTY_I64, EMPTY_I64, EMPTY_ROWS, EMPTY_I64, EMPTY_MMCS)


def rmap_owners(k, reg: RmapRegistry) -> RmapRegistry:
    """The registry with ``row_mm`` brought up to date with its table and the tasks: the row
    of ``reg.mmcs`` of each rmap row's mm when a running task has it, else -1."""
    if reg.owners_seq == (reg.table_seq, reg.tasks_seq):
        return reg
    owners = {id(t.mm): t for t in k.tasks.values() if t.state == TASK_RUNNING and t.mm is not None}
    slot = {id(t): row for row, t in enumerate(reg.mm_slots)}  # (a child mid-fork has a row, no owner yet)
    row_mm = np.full(len(reg.vmas), -1, np.int64)
    for r, vma in enumerate(reg.vmas):
        task = owners.get(id(vma.vm_mm))
        if task is not None:
            row_mm[r] = slot[id(task)]
    reg.row_mm, reg.owners_seq = row_mm, (reg.table_seq, reg.tasks_seq)
    return reg


def rmap_batch(k, entries: np.ndarray, large_entries: np.ndarray = EMPTY_I64,
               large_orders: np.ndarray = EMPTY_I64) -> swap_out_batch:
    """The rmap table with each row's mm (-1: no running task) and the mms' counters."""
    reg = rmap_owners(k, rmap_table(k.rmap))
    return swap_out_batch(entries, reg.keys, reg.off, reg.rows, reg.row_mm, reg.mmcs, large_entries, large_orders)


def try_to_unmap_flush(k, batch: swap_out_batch, flush_mm: np.ndarray) -> None:
    """After the compiled pass: the batched TLB flush of every mm whose entries it changed
    (``try_to_unmap_flush``: ``arch_tlbbatch_flush``, compiled, when the machine models its
    TLBs)."""
    if k.tlb is not None:
        arch_tlbbatch_flush(k.tlb, batch.mmcs, flush_mm)
