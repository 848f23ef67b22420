"""madvise (``mm/madvise.c``), Linux 6.18, with ``hugepage_madvise`` and ``ksm_madvise``.

``do_madvise`` validates the advice and the range, then visits each VMA of it
(``madvise_walk_vmas``): unmapped parts are skipped and reported as ENOMEM at the end, an
error from a VMA stops the walk. Advice that changes ``vm_flags`` (HUGEPAGE, NOHUGEPAGE,
DONTFORK, WIPEONFORK, RANDOM, MERGEABLE, DONTDUMP, ...) splits and merges VMAs like mprotect;
running out of ``vm.max_map_count`` there is EAGAIN. Advice about pages goes to
``mm.hooks``: DONTNEED/DONTNEED_LOCKED zap, REMOVE punches a hole in the shmem object
(``vma.shmem_punch_hole``: its pages leave every process and the page cache), FREE asks for
lazy freeing, POPULATE_READ/WRITE prefault (ENOMEM at a hole, EINVAL where the protection forbids it),
WILLNEED/COLD/PAGEOUT/COLLAPSE/GUARD_* go to the page tables (COLD deactivates and PAGEOUT
reclaims the folios mapped only by the range: ``madvise_cold_or_pageout``; COLLAPSE collapses
each PMD range into a THP, anonymous or shmem: ``madvise_collapse`` in ``mm/khugepaged.py``,
EINVAL here when the VMA may hold none). MADV_HWPOISON and MADV_SOFT_OFFLINE
(CONFIG_MEMORY_FAILURE, off on the development host) are rejected as unknown.
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux.huge_mm import vma_thp_disabled
from ..include.linux.mm_types import (
    MADV_COLD, MADV_COLLAPSE, MADV_DODUMP, MADV_DOFORK, MADV_DONTDUMP, MADV_DONTFORK,
    MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE,
    MADV_HUGEPAGE, MADV_KEEPONFORK, MADV_MERGEABLE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT,
    MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_RANDOM, MADV_REMOVE, MADV_SEQUENTIAL,
    MADV_UNMERGEABLE, MADV_WILLNEED, MADV_WIPEONFORK, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, VM_DONTCOPY,
    VM_DONTDUMP, VM_DONTEXPAND, VM_DROPPABLE, VM_HUGEPAGE, VM_HUGETLB, VM_IO, VM_LOCKED,
    VM_LOCKED_MASK, VM_MAYSHARE, VM_MAYWRITE, VM_MERGEABLE, VM_MIXEDMAP, VM_NOHUGEPAGE,
    VM_MAYBE_GUARD, VM_PFNMAP, VM_RAND_READ, VM_READ, VM_SEALED, VM_SEQ_READ, VM_SHARED, VM_SPECIAL, VM_STICKY,
    VM_WIPEONFORK, VM_WRITE,
    find_vma, mm_struct, parse_madvise, vma_is_anon_shmem, vma_is_anonymous)
from . import memory as M
from . import vma as V
from .pagewalk import WALK_DONE, walk_next, walk_page_range
from ..include.linux.page_flags import PG_head_mask
from ..kernel import fork as F
from . import buddy as B
from .swap import folio_mark_lazyfree, lru_add_drain, lru_deactivate
from .swapfile import folio_free_swap, free_swap_and_cache
from .vmscan import reclaim_pages
from ..include.linux.page_flags import (PG_active_mask, PG_dirty_mask, PG_lru_mask, PG_referenced_mask,
                                        PG_swapbacked_mask, PG_swapcache_mask, PG_workingset_mask)
from .pgtable import (VP_CPU, PTE_KIND_PRESENT, PTE_KIND_SWAP, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_SPECIAL, non_swap_entry, entry_has, pte_pfn, PTE_KIND_MARKER, PTE_MARKER_GUARD, VP_LEVELS, VP_SWP_FMT, make_pte_marker, pt_index,
                      pte_marker_get, pte_none, pte_to_swp_entry)

FLAG_ADVICE = {MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM, MADV_DONTFORK, MADV_DOFORK,
               MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_DONTDUMP, MADV_DODUMP, MADV_MERGEABLE,
               MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE}
THP_ADVICE = {MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE}
KSM_ADVICE = {MADV_MERGEABLE, MADV_UNMERGEABLE}
PAGE_ADVICE = {MADV_REMOVE, MADV_WILLNEED, MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE,
               MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
               MADV_COLLAPSE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE}
KSM_INCOMPATIBLE = VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_HUGETLB | \
    VM_MIXEDMAP | VM_DROPPABLE


def madvise_behavior_valid(mm: mm_struct, behavior: int) -> bool:
    if behavior in THP_ADVICE:
        return mm.config.transparent_hugepage
    if behavior in KSM_ADVICE:
        return mm.config.ksm
    return behavior in FLAG_ADVICE or behavior in PAGE_ADVICE


def _einval(why: str) -> KernelError:
    return KernelError(errno.EINVAL, f"madvise: {why}")


# ---- advice that changes vm_flags --------------------------------------------------------------
def _ksm_flags(flags: int, behavior: int) -> int:
    """``ksm_madvise``: incompatible VMAs ignore MADV_MERGEABLE."""
    if behavior == MADV_MERGEABLE:
        return flags if flags & KSM_INCOMPATIBLE else flags | VM_MERGEABLE
    return flags & ~VM_MERGEABLE


def _new_flags(vma, behavior: int) -> int:
    """The flags ``madvise_vma_behavior`` gives ``vma``, or EINVAL where it refuses."""
    flags = vma.vm_flags
    if behavior == MADV_NORMAL:
        return flags & ~(VM_RAND_READ | VM_SEQ_READ)
    if behavior in (MADV_SEQUENTIAL, MADV_RANDOM):
        add, drop = (VM_SEQ_READ, VM_RAND_READ) if behavior == MADV_SEQUENTIAL else (VM_RAND_READ, VM_SEQ_READ)
        return flags & ~drop | add
    if behavior in (MADV_DONTFORK, MADV_DOFORK):
        if behavior == MADV_DOFORK and flags & VM_IO:
            raise _einval("MADV_DOFORK on a VM_IO mapping")
        return flags | VM_DONTCOPY if behavior == MADV_DONTFORK else flags & ~VM_DONTCOPY
    if behavior == MADV_WIPEONFORK:
        if vma.vm_file is not None or flags & VM_SHARED:
            raise _einval("MADV_WIPEONFORK works on private anonymous memory only")
        return flags | VM_WIPEONFORK
    if behavior == MADV_KEEPONFORK:
        if flags & VM_DROPPABLE:
            raise _einval("MADV_KEEPONFORK on a MAP_DROPPABLE mapping")
        return flags & ~VM_WIPEONFORK
    if behavior in (MADV_DONTDUMP, MADV_DODUMP):
        if behavior == MADV_DODUMP and flags & VM_SPECIAL and not flags & VM_HUGETLB:
            raise _einval("MADV_DODUMP on a special mapping")
        return flags | VM_DONTDUMP if behavior == MADV_DONTDUMP else flags & ~VM_DONTDUMP
    if behavior in KSM_ADVICE:
        return _ksm_flags(flags, behavior)
    if behavior == MADV_HUGEPAGE:  # hugepage_madvise
        return flags & ~VM_NOHUGEPAGE | VM_HUGEPAGE
    return flags & ~VM_HUGEPAGE | VM_NOHUGEPAGE


def madvise_update_vma(mm: mm_struct, vma, start: int, end: int, behavior: int) -> None:
    new_flags = _new_flags(vma, behavior)
    if new_flags == vma.vm_flags:
        return
    vma = _eagain_for_enomem(V.vma_modify_flags, mm, vma, start, end, new_flags)
    V.vm_flags_reset(mm, vma, new_flags | vma.vm_flags & VM_STICKY)


def _eagain_for_enomem(modify, *args):
    """madvise reports lack of resources (vm.max_map_count reached) as EAGAIN."""
    try:
        return modify(*args)
    except KernelError as err:
        if err.errno == errno.ENOMEM:
            raise KernelError(errno.EAGAIN, f"madvise: {err}") from err
        raise


# ---- advice about pages ------------------------------------------------------------------------
def _dontneed_free(mm: mm_struct, vma, start: int, end: int, behavior: int) -> None:
    forbidden = VM_PFNMAP | (0 if behavior == MADV_DONTNEED_LOCKED else VM_LOCKED)
    if vma.vm_flags & forbidden:
        raise _einval("DONTNEED/FREE on a locked or PFN mapping")
    if behavior != MADV_FREE:  # madvise_dontneed_single_vma: zap_details.reclaim_pt
        mm.hooks.zap_page_range_single(mm, start, end, True)
    elif not vma_is_anonymous(vma):
        raise _einval("MADV_FREE works on private anonymous memory only")
    else:
        mm.hooks.lazyfree_range(mm, start, end)


def _remove(mm: mm_struct, vma, start: int, end: int) -> None:
    """MADV_REMOVE: punch a hole in the shmem file behind a shared mapping."""
    if vma.vm_flags & VM_LOCKED:
        raise _einval("MADV_REMOVE on a locked mapping")
    if vma.vm_file is None:
        raise _einval("MADV_REMOVE needs a shared file mapping")
    if vma.vm_flags & (VM_SHARED | VM_MAYWRITE) != VM_SHARED | VM_MAYWRITE:
        raise KernelError(errno.EACCES, "madvise: MADV_REMOVE on a mapping that cannot be written")
    V.shmem_punch_hole(mm, vma.vm_file, (start - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT), end - start)


def _hint(mm: mm_struct, start: int, end: int, behavior: int) -> None:
    err = mm.hooks.madvise_hint(mm, start, end, behavior)
    if err:
        raise KernelError(abs(err), "madvise: refused by the page-table layer")


def _collapse_ok(mm: mm_struct, vma) -> bool:
    """``thp_vma_allowable_order`` for MADV_COLLAPSE: a 2 MiB-aligned block fits in the VMA."""
    if vma.vm_flags & (VM_HUGETLB | VM_SPECIAL) or vma_thp_disabled(mm, vma, forced_collapse=True):
        return False
    return (vma.vm_start + PMD_SIZE - 1) // PMD_SIZE * PMD_SIZE + PMD_SIZE <= vma.vm_end


def madvise_guard_install(mm: mm_struct, vma, start: int, end: int) -> None:
    """Guard markers make the range non-empty: the VMA gets an anon_vma and the sticky
    VM_MAYBE_GUARD flag (set on the whole VMA, no split)."""
    if vma.vm_flags & (VM_SPECIAL | VM_HUGETLB | VM_LOCKED_MASK):
        raise _einval("guard regions need a plain, unlocked mapping")
    if vma_is_anonymous(vma):
        V.anon_vma_prepare(mm, vma)
    if not vma.vm_flags & VM_MAYBE_GUARD:
        V.vm_flags_reset(mm, vma, vma.vm_flags | VM_MAYBE_GUARD)
    _hint(mm, start, end, MADV_GUARD_INSTALL)


def _page_advice(mm: mm_struct, vma, start: int, end: int, behavior: int) -> None:
    flags = vma.vm_flags
    if behavior in (MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE):
        _dontneed_free(mm, vma, start, end, behavior)
    elif behavior == MADV_REMOVE:
        _remove(mm, vma, start, end)
    elif behavior in (MADV_COLD, MADV_PAGEOUT) and flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB):
        raise _einval("COLD/PAGEOUT on a locked, PFN or hugetlb mapping")
    elif behavior == MADV_COLLAPSE and not _collapse_ok(mm, vma):
        raise _einval("MADV_COLLAPSE: no 2 MiB block of this VMA may become a huge page")
    elif behavior == MADV_GUARD_INSTALL:
        madvise_guard_install(mm, vma, start, end)
    elif behavior == MADV_GUARD_REMOVE and flags & (VM_SPECIAL | VM_HUGETLB):
        raise _einval("guard regions need a plain mapping")
    else:
        _hint(mm, start, end, behavior)


# advice that discards anonymous contents (or prepares to, for a child): refused on a sealed
# VMA the process could not write anyway (is_discard)
DISCARD_ADVICE = {MADV_FREE, MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_REMOVE, MADV_DONTFORK, MADV_WIPEONFORK,
                  MADV_GUARD_INSTALL}


def can_madvise_modify(vma, behavior: int) -> bool:
    """A sealed VMA takes any advice but a discard of private anonymous memory it cannot
    write; file mappings (shared or private) and writable memory are not protected."""
    if not vma.vm_flags & VM_SEALED or behavior not in DISCARD_ADVICE:
        return True
    return not vma_is_anonymous(vma) or bool(vma.vm_flags & VM_WRITE)


def madvise_vma_behavior(mm: mm_struct, vma, start: int, end: int, behavior: int) -> None:
    if not can_madvise_modify(vma, behavior):
        raise KernelError(errno.EPERM, f"madvise: {vma.vm_start:#x}-{vma.vm_end:#x} is sealed (mseal)")
    if behavior in PAGE_ADVICE:
        _page_advice(mm, vma, start, end, behavior)
    else:
        madvise_update_vma(mm, vma, start, end, behavior)


def madvise_walk_vmas(mm: mm_struct, start: int, end: int, visit) -> None:
    """Call ``visit(vma, start, end)`` for the part of every VMA in [start, end); holes are
    skipped, then reported as ENOMEM."""
    unmapped = False
    while start < end:
        vma = find_vma(mm, start)
        if vma is None:
            raise KernelError(errno.ENOMEM, f"madvise: {start:#x}-{end:#x} is not mapped")
        if start < vma.vm_start:
            unmapped, start = True, vma.vm_start
            if start >= end:
                break
        tmp = min(vma.vm_end, end)
        visit(vma, start, tmp)
        start = tmp
    if unmapped:
        raise KernelError(errno.ENOMEM, "madvise: part of the range is not mapped")


def madvise_populate(mm: mm_struct, start: int, end: int, write: bool) -> None:
    """MADV_POPULATE_(READ|WRITE): fault the range in, VMA by VMA; a hole is ENOMEM."""
    while start < end:
        vma = find_vma(mm, start)
        if vma is None or vma.vm_start > start:
            raise KernelError(errno.ENOMEM, f"madvise: populate: {start:#x} is not mapped")
        need = VM_WRITE if write else VM_READ
        if vma.vm_flags & (VM_IO | VM_PFNMAP) or not vma.vm_flags & need:
            raise _einval("populate: the mapping's protection does not allow this access")
        tmp = min(vma.vm_end, end)
        mm.hooks.populate(mm, start, tmp, write, tried=True)
        start = tmp


def do_madvise(mm: mm_struct, start: int, len_in: int, behavior) -> None:
    """madvise(2): ``behavior`` is a name (``"hugepage"``) or an ``MADV_*`` number."""
    behavior = parse_madvise(behavior)
    start, len_in = V.ulong(start, "address"), V.ulong(len_in, "length")
    if not madvise_behavior_valid(mm, behavior):
        raise _einval(f"unknown advice {behavior}")
    if start & ~PAGE_MASK:
        raise _einval(f"address {start:#x} is not page aligned")
    length = V.PAGE_ALIGN(len_in)
    if len_in and not length or start + length > V.ULONG_MAX:
        raise _einval("the range wraps around")
    if not length:
        return
    with V.mmap_write_lock(mm):
        if behavior in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
            madvise_populate(mm, start, start + length, behavior == MADV_POPULATE_WRITE)
        else:
            madvise_walk_vmas(mm, start, start + length,
                              lambda vma, lo, hi: madvise_vma_behavior(mm, vma, lo, hi, behavior))


# ---- anonymous VMA names (__MADV_SET_ANON_VMA_NAME) ----------------------------------------------
def madvise_set_anon_name(mm: mm_struct, start: int, len_in: int, name: str | None) -> None:
    """Name (or, with None, unname) the anonymous VMAs of [start, start + len_in), splitting
    and merging them as advice that changes flags does: prctl(PR_SET_VMA_ANON_NAME)."""
    if start & ~PAGE_MASK:
        raise _einval(f"PR_SET_VMA_ANON_NAME: address {start:#x} is not page aligned")
    length = V.PAGE_ALIGN(len_in)
    if len_in and not length or start + length > V.ULONG_MAX:
        raise _einval("PR_SET_VMA_ANON_NAME: the range wraps around")
    if length:
        with V.mmap_write_lock(mm):
            madvise_walk_vmas(mm, start, start + length, lambda vma, lo, hi: madvise_update_name(mm, vma, lo, hi, name))


def madvise_update_name(mm: mm_struct, vma, start: int, end: int, name: str | None) -> None:
    """Only anonymous memory (private, or shared through shmem_zero_setup) takes a name: EBADF."""
    if vma.vm_file is not None and not vma_is_anon_shmem(vma):
        raise KernelError(errno.EBADF, "PR_SET_VMA_ANON_NAME: only anonymous mappings can be named")
    if vma.anon_name == name:
        return
    vma = _eagain_for_enomem(V.vma_modify_name, mm, vma, start, end, name)
    vma.anon_name = name


# ---- guard regions: the page-table side (madvise_guard_install / madvise_guard_remove) -----------
@njit(cache=True)
def guard_install_range(a, vs, mmc, pgd, start, end):
    """Put a guard marker in every pte of [start, end) that is none (the range was zapped
    first; markers already there stay), allocating tables as ``walk_page_range_mm`` with
    ``guard_install_set_pte`` does. Returns 0, or the negative status of a table that
    could not be allocated (the caller makes room and calls again: done ptes are skipped)."""
    levels, fmt = vs.vp[VP_LEVELS], vs.vp[VP_SWP_FMT]
    marker = make_pte_marker(PTE_MARKER_GUARD, fmt)
    for addr in range(start, end, PAGE_SIZE):
        row = M.pt_table(a, vs, mmc, pgd, addr, levels - 1, True)
        if row < 0:
            return row
        idx = pt_index(vs, levels - 1, addr)
        if pte_none(vs.pt[row, idx]):
            M.set_entry(vs, row, idx, marker)
    return 0


@njit(cache=True)
def guard_remove_range(a, vs, pgd, start, end):
    """Clear the guard markers of [start, end) (``guard_remove_pte_entry``); pages and other
    entries stay."""
    fmt = vs.vp[VP_SWP_FMT]
    w = walk_page_range(vs, pgd, start, end, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        if kind == PTE_KIND_MARKER and pte_marker_get(pte_to_swp_entry(vs.pt[row, idx], fmt)) & PTE_MARKER_GUARD:
            M.set_entry(vs, row, idx, np.uint64(0))


# ---- MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range) ----------------------------------
PAGEOUT_BATCH = 512  # folios collected per walk before they are handled (one pte table's worth)
COLD_HEAD, COLD_ADDR = 0, 1  # the columns of the walk's output: folio, address of its first page


@njit(cache=True)
def exclusive_file_folio(a, head, pmd_mapped):
    """A file folio mapped once, whole, by the entry being walked: by one PMD, or by ptes
    only, one each (``folio_mapcount == folio_nr_pages``: exclusive to this mapping)."""
    nr = np.int64(1) << a.order[head]
    if pmd_mapped:
        return a.entire_mapcount[head] == 1 and not a.mapcount[head:head + nr].any()
    return a.entire_mapcount[head] == 0 and (a.mapcount[head:head + nr] == 1).all()


@njit(cache=True)
def cold_or_pageout_pte_range(a, vs, pgd, start, end, pageout, out):
    """The folios MADV_COLD deactivates or MADV_PAGEOUT reclaims in [start, end), each
    with its entry made old (``ptep_test_and_clear_young``/``pmdp_test_and_clear_young``):
    folios on an LRU list mapped by this entry only (``folio_mapcount == nr_pages``). A
    file folio counts once, at its first page, when the range maps it whole (by a PMD or
    by ptes). Anonymous folios: small ones, and a THP its PMD alone maps when the range
    covers the PMD (reclaim then swaps it out whole, or splits it); 6.18 splits one the range
    covers in part, and pte-mapped large ones (not modelled: they are left). Shmem folios
    are not paged out here (they go through swap). Returns (how many, the address to go on
    from)."""
    levels = vs.vp[VP_LEVELS]
    n = 0
    w = walk_page_range(vs, pgd, start, end, 0)
    while n < out.shape[0]:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return n, end
        entry = vs.pt[row, idx]
        if kind != PTE_KIND_PRESENT or level < levels - 2 or entry_has(entry, _PAGE_SPECIAL):
            continue
        pfn = pte_pfn(entry)
        head = B.compound_head(a, pfn)
        if not a.flags[head] & PG_lru_mask:
            continue
        if a.mapping[head] & M.PAGE_MAPPING_ANON:
            if level == levels - 2:  # a THP's PMD: the folio whole, when the range covers the PMD
                if (a.entire_mapcount[head] != 1 or (a.mapcount[head:head + (np.int64(1) << a.order[head])] != 0).any()
                        or addr & (PMD_SIZE - 1) or addr < start or addr + PMD_SIZE > end):
                    continue
            elif a.flags[head] & PG_head_mask or a.mapcount[pfn] != 1:
                continue
        else:
            nr = np.int64(1) << a.order[head]
            if pageout and a.flags[head] & PG_swapbacked_mask or pfn != head or addr + (nr << 12) > end \
                    or not exclusive_file_folio(a, head, level == levels - 2):
                continue
        vs.pt[row, idx] = entry & ~np.uint64(_PAGE_ACCESSED)
        out[n, COLD_HEAD], out[n, COLD_ADDR] = head, addr
        n += 1
        if n == out.shape[0]:
            return n, addr + PAGE_SIZE
    return n, end


@njit(cache=True)
def madvise_cold_folios(a, folios):
    """MADV_COLD's end for each folio: PG_referenced cleared, an active one marked
    PG_workingset, then ``folio_deactivate`` (``lru_deactivate``, done at once here where
    the kernel goes through the CPU's lru_deactivate batch)."""
    for i in range(folios.shape[0]):
        pfn = folios[i]
        a.flags[pfn] &= ~PG_referenced_mask
        if a.flags[pfn] & PG_active_mask:
            a.flags[pfn] |= PG_workingset_mask
        lru_deactivate(a, pfn)


def madvise_cold_or_pageout(k, task, start: int, end: int, pageout: bool) -> None:
    """MADV_COLD / MADV_PAGEOUT (``madvise_cold``, ``madvise_pageout``): drain the LRU
    batches, then walk the range batch by batch: COLD deactivates the folios found, PAGEOUT
    reclaims them (``reclaim_pages``: anonymous ones through swap; file ones unmapped here
    first)."""
    a, vs = k.mem_map, k.vm_state
    lru_add_drain(a, int(vs.vp[VP_CPU]))
    out = np.zeros((PAGEOUT_BATCH, 2), np.int64)
    addr = start
    while addr < end:
        n, nxt = cold_or_pageout_pte_range(a, vs, int(task.mmc[M.MMC_PGD]), addr, end, pageout, out)
        F.flush_tlb_range(k, task, addr, nxt)
        found = out[:n]
        if not pageout:
            madvise_cold_folios(a, found[:, COLD_HEAD].copy())
        else:
            anon = (a.mapping[found[:, COLD_HEAD]] & M.PAGE_MAPPING_ANON) != 0
            unmap_exclusive_file_folios(k, task, found[~anon])
            reclaim_pages(k, found[:, COLD_HEAD])
        addr = nxt


def unmap_exclusive_file_folios(k, task, found: np.ndarray) -> None:
    """``try_to_unmap`` of file folios this task alone maps (``found``: folio, address of
    its first page), as ``shrink_folio_list`` does before it drops a mapped folio: the
    ptes (or the PMD) go, a dirty pte dirtying the folio; the TLB entries are flushed. Done
    here, by zapping the range, because only this mapping can hold them."""
    a, vs = k.mem_map, k.vm_state
    pgd = int(task.mmc[M.MMC_PGD])
    for head, addr in found.tolist():
        end = addr + (1 << (int(a.order[head]) + PAGE_SHIFT))
        M.unmap_page_range(a, vs, task.mmc, pgd, addr, end, False, False)
        F.flush_tlb_range(k, task, addr, end)


# ---- MADV_FREE (madvise_free_single_vma) ---------------------------------------------------------


@njit(cache=True)
def madvise_free_pte_range(a, vs, mmc, pgd, start, end, cpu):
    """``madvise_free_pte_range`` over [start, end): a swap entry is freed (MM_SWAPENTS: the
    data need not be kept); a small anonymous folio a present pte maps loses, when it is in
    the swap cache or dirty and this pte is its only mapping, its swap slot
    (``folio_free_swap``; kept as it is if that fails) and its dirty flag; the pte loses its
    young and dirty bits and the folio is marked lazily freeable (``folio_mark_lazyfree``).
    Large folios are left as they are (6.18 splits one the range covers in part)."""
    leaf = vs.vp[VP_LEVELS] - 1
    w = walk_page_range(vs, pgd, start, end, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        entry = vs.pt[row, idx]
        if kind == PTE_KIND_SWAP:
            swp = pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])
            if not non_swap_entry(swp):
                mmc[M.MM_SWAPENTS] -= 1
                free_swap_and_cache(a, vs, swp)
                M.set_entry(vs, row, idx, np.uint64(0))
            continue
        if kind != PTE_KIND_PRESENT or level != leaf or entry_has(entry, _PAGE_SPECIAL):
            continue
        pfn = pte_pfn(entry)
        if not a.mapping[pfn] & M.PAGE_MAPPING_ANON or B.compound_head(a, pfn) != pfn or a.flags[pfn] & PG_head_mask:
            continue
        if a.flags[pfn] & (PG_swapcache_mask | PG_dirty_mask):
            if a.mapcount[pfn] != 1 or a.flags[pfn] & PG_swapcache_mask and not folio_free_swap(a, vs, pfn):
                continue
            a.flags[pfn] &= ~PG_dirty_mask
        vs.pt[row, idx] = entry & ~np.uint64(_PAGE_ACCESSED | _PAGE_DIRTY)  # clear_young_dirty_ptes
        folio_mark_lazyfree(a, cpu, pfn)


def madvise_free(k, task, start: int, end: int) -> None:
    """MADV_FREE of [start, end) of a private anonymous mapping: the LRU batches drained,
    the range walked (``madvise_free_pte_range``), the TLB flushed. Reclaim later frees the
    folios not written since without swap; a read before that still finds the old data."""
    a, vs = k.mem_map, k.vm_state
    lru_add_drain(a, int(vs.vp[VP_CPU]))
    madvise_free_pte_range(a, vs, task.mmc, int(task.mmc[M.MMC_PGD]), start, end, int(vs.vp[VP_CPU]))
    F.flush_tlb_range(k, task, start, end)


# ---- process_madvise (mm/madvise.c, 6.18) --------------------------------------------------------
UIO_MAXIOV = 1024
REMOTE_ADVICE = {MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED, MADV_COLLAPSE}  # process_madvise_remote_valid


def process_madvise(mm: mm_struct, target, iovec, behavior, flags: int = 0) -> int:
    """process_madvise(pidfd, iovec, vlen, advice, flags) by the task of ``mm`` on the task of
    ``target`` (its mm_struct, or the errno its pidfd gives: EBADF for no pidfd, ESRCH for an
    exited process): each (start, length) of ``iovec`` advised in turn (``vector_madvise``);
    the bytes advised are returned, or the first error when none was. Another process takes
    only the non-destructive hints (COLD, PAGEOUT, WILLNEED, COLLAPSE), and only with
    CAP_SYS_NICE; bad advice is EINVAL even with nothing to advise."""
    behavior = parse_madvise(behavior)
    if flags:
        raise _einval(f"process_madvise: flags must be 0, not {flags:#x}")
    iovec = list(iovec)
    if len(iovec) > UIO_MAXIOV:
        raise _einval(f"process_madvise: {len(iovec)} iovecs (at most {UIO_MAXIOV})")
    if isinstance(target, int):
        raise KernelError(target, "process_madvise: " + ("not a pidfd" if target == errno.EBADF
                                                         else "the process has exited"))
    if target is not mm and behavior not in REMOTE_ADVICE:
        raise _einval("process_madvise: only COLD, PAGEOUT, WILLNEED and COLLAPSE on another process")
    if target is not mm and not mm.capable("CAP_SYS_NICE"):
        raise KernelError(errno.EPERM, "process_madvise: another process needs CAP_SYS_NICE")
    if not madvise_behavior_valid(target, behavior):
        raise _einval(f"process_madvise: unknown advice {behavior}")
    done = 0
    for start, length in iovec:
        try:
            do_madvise(target, start, length, behavior)
        except KernelError:
            if done:
                return done
            raise
        done += length
    return done
