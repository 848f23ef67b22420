"""mremap (``mm/mremap.c``), Linux 6.18: shrink, grow in place, move.

``do_mremap`` follows the 6.16+ ``vma_remap_struct`` code:

* ``check_mremap_params``: unknown flags, an unaligned address, a zero or oversized new
  length are EINVAL; MREMAP_FIXED/MREMAP_DONTUNMAP need MREMAP_MAYMOVE, a sane aligned
  ``new_addr`` that does not overlap the source, and (DONTUNMAP) equal lengths;
* the source must be mapped at ``addr`` (EFAULT) and, to grow or move, lie within one VMA
  (EFAULT); old_len 0 duplicates a shared mapping and is EINVAL for a private one;
* shrinking unmaps the tail; growing extends the VMA when the range above is free (merging
  with the next VMA if it becomes adjacent and compatible), else moves it with
  MREMAP_MAYMOVE (ENOMEM without); a move copies the VMA to its new place
  (``copy_vma``), moves the page tables (``mm.hooks.move_page_tables``) and unmaps the
  source, unless MREMAP_DONTUNMAP leaves it mapped and empty;
* 6.17+: MREMAP_FIXED with equal lengths moves every VMA of the range, keeping the gaps
  between them (``remap_move``); the range must start at a VMA.

``move_page_tables`` moves the entries extent by extent as the kernel does: where source and
destination are both PUD- (PMD-) aligned and a whole PUD (PMD) is moved and the destination
slot is empty, the table itself changes hands (``move_normal_pud``/``move_normal_pmd``) and a
THP stays mapped by its PMD (``move_huge_pmd``, its deposited table moving with it);
otherwise a huge pmd is split and the ptes move one by one (``move_ptes``), swap entries
included. No page is touched, so no fault and no RSS change follows.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux.mm_types import (
    MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE_MASK, PAGE_SHIFT,
    ULONG_MAX, VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED, VM_LOCKED_MASK, VM_MAYSHARE, VM_PFNMAP,
    VM_SHARED, find_vma_intersection, mm_struct, parse_mremap_flags, vma_lookup, vmas_in_range)
from . import memory as M
from . import vma as V
from .mmap import get_unmapped_area
from .pgtable import (VP_LEVELS, VP_SOFT_DIRTY, is_leaf_entry, pgtable_trans_huge_deposit, pgtable_trans_huge_withdraw,
                      pt_index, pte_none, pte_present)
from .rmap import unlink_anon_vmas

# ---- moving the page tables (move_page_tables) ---------------------------------------------


@njit(cache=True)
def get_extent(vs, level, old_addr, old_end, new_addr):
    """How far the next step may go: to the next boundary of a level-``level`` entry in both
    the old and the new range, and no further than the range."""
    size = np.int64(1) << vs.shift[level]
    extent = min(((old_addr + size) & ~(size - 1)) - old_addr, old_end - old_addr)
    return min(extent, ((new_addr + size) & ~(size - 1)) - new_addr)


@njit(cache=True)
def move_pgt_entry(a, vs, old_row, new_row, old_addr, new_addr, level):
    """``move_normal_pud``/``move_normal_pmd``/``move_huge_pmd``: move one upper-level entry
    (a table or a huge pmd) when the destination slot is empty; False otherwise."""
    oi, ni = pt_index(vs, level, old_addr), pt_index(vs, level, new_addr)
    if not pte_none(vs.pt[new_row, ni]):
        return False
    entry = vs.pt[old_row, oi]
    if is_leaf_entry(entry) and old_row != new_row:  # a huge pmd to another PMD table (pmd_move_must_withdraw)
        pgtable_trans_huge_deposit(vs, new_row, pgtable_trans_huge_withdraw(vs, old_row))
    M.set_entry(vs, old_row, oi, np.uint64(0))
    M.set_entry(vs, new_row, ni, entry)
    return True


@njit(cache=True)
def move_ptes(vs, old_row, new_row, old_addr, new_addr, extent):
    """Move the ptes of [old_addr, old_addr + extent), present or not, to ``new_addr``."""
    pte_level = vs.vp[VP_LEVELS] - 1
    oi, ni = pt_index(vs, pte_level, old_addr), pt_index(vs, pte_level, new_addr)
    for i in range(extent >> vs.shift[pte_level]):
        entry = vs.pt[old_row, oi + i]
        if not pte_none(entry):
            if pte_present(entry):  # move_soft_dirty_pte: the tracker sees the page moved
                entry |= np.uint64(vs.vp[VP_SOFT_DIRTY])
            M.set_entry(vs, old_row, oi + i, np.uint64(0))
            M.set_entry(vs, new_row, ni + i, entry)


@njit(cache=True)
def move_page_tables(a, vs, mmc, pgd, old_addr, new_addr, length):
    """Move the entries of [old_addr, old_addr + length) to ``new_addr`` (``move_page_tables``).
    Returns (0, length), or (the failed table allocation's status, the length moved so far)."""
    levels = vs.vp[VP_LEVELS]
    pmd_level = levels - 2  # the entries that point to pte tables (on 2-level x86, the PGD's)
    first = pmd_level - 1 if levels >= 4 else pmd_level  # a PUD level of its own (HAVE_MOVE_PUD)
    old_end, moved = old_addr + length, np.int64(0)
    while old_addr + moved < old_end:
        old, new = old_addr + moved, new_addr + moved
        extent = np.int64(0)
        for level in range(first, pmd_level + 1):
            extent = get_extent(vs, level, old, old_end, new)
            old_row = M.pt_table(a, vs, mmc, pgd, old, level, False)
            if old_row < 0 or pte_none(vs.pt[old_row, pt_index(vs, level, old)]):
                break  # nothing mapped up to the next boundary of this level
            new_row = M.pt_table(a, vs, mmc, pgd, new, level, True)
            if new_row < 0:
                return new_row, moved
            if extent == np.int64(1) << vs.shift[level] and move_pgt_entry(a, vs, old_row, new_row, old, new,
                                                                              level):
                break
            if level < pmd_level:
                continue
            if is_leaf_entry(vs.pt[old_row, pt_index(vs, level, old)]):
                M.__split_huge_pmd(a, vs, mmc, old_row, pt_index(vs, level, old))
            new_pte = M.pt_table(a, vs, mmc, pgd, new, levels - 1, True)
            if new_pte < 0:
                return new_pte, moved
            move_ptes(vs, M.pt_table(a, vs, mmc, pgd, old, levels - 1, False), new_pte, old, new, extent)
        moved += extent
    return 0, length


@dataclass
class vma_remap_struct:
    mm: mm_struct
    addr: int
    old_len: int
    new_len: int
    flags: int
    new_addr: int
    vma: object = None
    populate_expand: bool = False

    @property
    def delta(self) -> int:
        return abs(self.new_len - self.old_len)

    def implies_new_addr(self) -> bool:
        return bool(self.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))

    def move_only(self) -> bool:
        return bool(self.flags & MREMAP_FIXED) and self.old_len == self.new_len

    def overlaps(self) -> bool:
        return self.new_addr < self.addr + self.old_len and self.addr < self.new_addr + self.new_len


def _einval(why: str) -> KernelError:
    return KernelError(errno.EINVAL, f"mremap: {why}")


def check_mremap_params(vrm: vma_remap_struct) -> None:
    if vrm.flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        raise _einval(f"unknown flags {vrm.flags:#x}")
    if vrm.addr & ~PAGE_MASK:
        raise _einval(f"address {vrm.addr:#x} is not page aligned")
    if not vrm.new_len or vrm.new_len > vrm.mm.task_size:
        raise _einval(f"new length {vrm.new_len:#x} is zero or beyond TASK_SIZE")
    if not vrm.implies_new_addr():
        return
    if vrm.new_addr > vrm.mm.task_size - vrm.new_len or vrm.new_addr & ~PAGE_MASK:
        raise _einval(f"new address {vrm.new_addr:#x} is unaligned or too high")
    if not vrm.flags & MREMAP_MAYMOVE:
        raise _einval("MREMAP_FIXED/MREMAP_DONTUNMAP need MREMAP_MAYMOVE")
    if vrm.flags & MREMAP_DONTUNMAP and vrm.old_len != vrm.new_len:
        raise _einval("MREMAP_DONTUNMAP cannot resize")
    if vrm.overlaps():
        raise _einval("the new range overlaps the old one")
    if vrm.mm.map_count + 2 >= V.max_map_count(vrm.mm) - 3:
        raise KernelError(errno.ENOMEM, "mremap: too close to vm.max_map_count")


def check_prep_vma(vrm: vma_remap_struct) -> None:
    """The source VMA checks; sets ``new_addr`` to ``addr`` when the VMA stays put."""
    vma, mm = vrm.vma, vrm.mm
    if vma is None:
        raise KernelError(errno.EFAULT, f"mremap: {vrm.addr:#x} is not mapped")
    if not V.can_modify_vma(vma):
        raise KernelError(errno.EPERM, f"mremap: {vma.vm_start:#x}-{vma.vm_end:#x} is sealed (mseal)")
    if not vrm.implies_new_addr():
        vrm.new_addr = vrm.addr
    if not (vrm.new_len > vrm.old_len or vrm.implies_new_addr()):
        return  # shrinking or same size in place: nothing else to check
    if not vrm.old_len and not vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
        raise _einval("old length 0 duplicates shared mappings only")
    if vrm.flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise _einval("MREMAP_DONTUNMAP on a special mapping")
    # 6.17+ ("allow undocumented mremap() shrink behaviour"): the part a shrink unmaps may
    # cross VMAs and gaps; only what is kept must lie in one VMA
    if min(vrm.old_len, vrm.new_len) > vma.vm_end - vrm.addr:
        raise KernelError(errno.EFAULT, "mremap: the old range spans more than one VMA")
    if vrm.new_len == vrm.old_len:
        return
    vrm.populate_expand = bool(vma.vm_flags & VM_LOCKED)
    pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    if pgoff + (vrm.new_len >> PAGE_SHIFT) > ULONG_MAX:
        raise _einval("offset overflows")
    if vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise KernelError(errno.EFAULT, "mremap: this mapping cannot grow")
    if not V.mlock_future_ok(mm, vma.vm_flags, vrm.delta):
        raise KernelError(errno.EAGAIN, "mremap: RLIMIT_MEMLOCK would be exceeded")
    if not V.may_expand_vm(mm, vma.vm_flags, vrm.delta >> PAGE_SHIFT):
        raise KernelError(errno.ENOMEM, "mremap: RLIMIT_AS or RLIMIT_DATA reached")


# ---- helpers ----------------------------------------------------------------------------------
def vrm_charge(vrm: vma_remap_struct) -> int:
    """Commit charge of the move or growth (pages), checked against the overcommit policy."""
    if not vrm.vma.vm_flags & VM_ACCOUNT:
        return 0
    if vrm.flags & MREMAP_DONTUNMAP:
        charged = vrm.new_len
    elif vrm.new_len > vrm.old_len:
        charged = vrm.delta
    else:
        return 0
    if not V.vm_enough_memory(vrm.mm, charged >> PAGE_SHIFT):
        raise KernelError(errno.ENOMEM, "mremap: cannot commit more memory")
    V.vm_acct_memory(vrm.mm, charged >> PAGE_SHIFT)
    return charged >> PAGE_SHIFT


def vrm_stat_account(vrm: vma_remap_struct, nbytes: int) -> None:
    pages, flags = nbytes >> PAGE_SHIFT, vrm.vma.vm_flags
    V.vm_stat_account(vrm.mm, flags, pages)
    if flags & VM_LOCKED:
        vrm.mm.locked_vm += pages


def shrink_vma(vrm: vma_remap_struct) -> None:
    V.do_vmi_munmap(vrm.mm, vrm.addr + vrm.new_len, vrm.delta)


def vrm_set_new_addr(vrm: vma_remap_struct) -> None:
    """Where the moved VMA goes: ``new_addr`` (FIXED), or a search using it as a hint."""
    vma = vrm.vma
    pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    flags = (MAP_FIXED if vrm.flags & MREMAP_FIXED else 0) | (MAP_SHARED if vma.vm_flags & VM_MAYSHARE else 0)
    hint = vrm.new_addr if vrm.implies_new_addr() else 0
    vrm.new_addr = get_unmapped_area(vrm.mm, vma.vm_file, hint, vrm.new_len, pgoff, flags)


# ---- grow in place ----------------------------------------------------------------------------
def vma_expandable(vrm: vma_remap_struct) -> bool:
    vma = vrm.vma
    end = vma.vm_end + vrm.delta
    if find_vma_intersection(vrm.mm, vma.vm_end, end):
        return False
    try:
        get_unmapped_area(vrm.mm, None, vma.vm_start, end - vma.vm_start, 0, MAP_FIXED)
    except KernelError:
        return False
    return True


def expand_vma_in_place(vrm: vma_remap_struct) -> None:
    """``vma_merge_extend``: the VMA takes the free range above it (and the next VMA, when
    that becomes adjacent and compatible)."""
    mm, vma = vrm.mm, vrm.vma
    charged = vrm_charge(vrm)
    nxt = V.vma_prev_next(mm, vma)[1]
    vmg = V.vma_merge_struct(mm, vma, None, nxt, vma.vm_end, vma.vm_end + vrm.delta,
                             vma.vm_pgoff + (vma.vm_end - vma.vm_start >> PAGE_SHIFT), vma.vm_flags,
                             vma.vm_file, vma.anon_vma, anon_name=vma.anon_name)
    if V.vma_merge_new_range(vmg) is None:
        V.vm_acct_memory(mm, -charged)
        raise KernelError(errno.ENOMEM, "mremap: cannot extend the VMA")
    vrm_stat_account(vrm, vrm.delta)


def expand_vma(vrm: vma_remap_struct) -> int:
    vma = vrm.vma
    if vrm.addr + vrm.old_len == vma.vm_end and vma_expandable(vrm):
        expand_vma_in_place(vrm)
        if vrm.populate_expand:
            vrm.mm.hooks.populate(vrm.mm, vrm.addr + vrm.old_len, vrm.addr + vrm.new_len, True)
        return vrm.addr
    if not vrm.flags & MREMAP_MAYMOVE:
        raise KernelError(errno.ENOMEM, "mremap: no room to grow in place and MREMAP_MAYMOVE not given")
    vrm_set_new_addr(vrm)
    return move_vma(vrm)


# ---- move -------------------------------------------------------------------------------------
def move_vma(vrm: vma_remap_struct) -> int:
    mm, vma = vrm.mm, vrm.vma
    if mm.map_count >= V.max_map_count(mm) - 3:
        raise KernelError(errno.ENOMEM, "mremap: too close to vm.max_map_count")
    vrm_charge(vrm)
    account = not vma.vm_flags & VM_ACCOUNT
    pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    new_vma = V.copy_vma(mm, vma, vrm.new_addr, vrm.new_len, pgoff)
    mm.hooks.move_page_tables(mm, vrm.addr, vrm.new_addr, min(vrm.old_len, vrm.new_len))
    vrm.vma = new_vma
    vrm_stat_account(vrm, vrm.new_len)
    if vrm.flags & MREMAP_DONTUNMAP:
        dontunmap_complete(vrm)
    else:
        unmap_source_vma(vrm, account)
    if vrm.populate_expand and vrm.new_len > vrm.old_len:
        mm.hooks.populate(mm, vrm.new_addr + vrm.old_len, vrm.new_addr + vrm.new_len, True)
    return vrm.new_addr



def dontunmap_complete(vrm: vma_remap_struct) -> None:
    """The source stays mapped but empty: it loses mlock, and its anon_vma if it was moved
    whole (locked_vm is not touched, as in the kernel)."""
    src = vma_lookup(vrm.mm, vrm.addr)
    V.vm_flags_reset(vrm.mm, src, src.vm_flags & ~VM_LOCKED_MASK)
    if src.vm_start == vrm.addr and src.vm_end == vrm.addr + vrm.old_len:
        unlink_anon_vmas(vrm.mm.rmap, src)


def unmap_source_vma(vrm: vma_remap_struct, account: bool) -> None:
    """Unmap the old range; for an accounted VMA the new range carries the charge, so the old
    pages are not given back here (``account`` False)."""
    if not vrm.old_len:
        return  # a duplicated shared mapping keeps its source
    try:
        if vmas_in_range(vrm.mm, vrm.addr, vrm.addr + vrm.old_len):
            V.do_vmi_align_munmap(vrm.mm, vrm.addr, vrm.addr + vrm.old_len, account)
    except KernelError:  # could not split: the source stays, only the accounts are fixed
        if not account:
            V.vm_acct_memory(vrm.mm, vrm.old_len >> PAGE_SHIFT)


def mremap_to(vrm: vma_remap_struct) -> int:
    """The move cases (MREMAP_FIXED, MREMAP_DONTUNMAP): clear the target, shrink, move."""
    mm = vrm.mm
    if vrm.flags & MREMAP_FIXED:
        V.do_vmi_munmap(mm, vrm.new_addr, vrm.new_len)
        vrm.vma = vma_lookup(mm, vrm.addr)
        if vrm.vma is None:
            raise KernelError(errno.EFAULT, f"mremap: {vrm.addr:#x} is not mapped")
    if vrm.new_len < vrm.old_len:
        shrink_vma(vrm)
        vrm.old_len = vrm.new_len
        vrm.vma = vma_lookup(mm, vrm.addr)
    if vrm.flags & MREMAP_DONTUNMAP and not V.may_expand_vm(mm, vrm.vma.vm_flags, vrm.old_len >> PAGE_SHIFT):
        raise KernelError(errno.ENOMEM, "mremap: RLIMIT_AS or RLIMIT_DATA reached")
    vrm_set_new_addr(vrm)
    return move_vma(vrm)


def mremap_at(vrm: vma_remap_struct) -> int:
    """No new address: same size, shrink in place, or grow (in place or moving)."""
    if vrm.new_len == vrm.old_len:
        return vrm.addr
    if vrm.new_len < vrm.old_len:
        shrink_vma(vrm)
        return vrm.addr
    return expand_vma(vrm)


def remap_move(vrm: vma_remap_struct) -> int:
    """MREMAP_FIXED with old_len == new_len: move each VMA of the range, keeping the gaps."""
    start, end, target = vrm.addr, vrm.addr + vrm.old_len, vrm.new_addr
    vmas = vmas_in_range(vrm.mm, start, end)
    if not vmas or vmas[0].vm_start > start:
        raise KernelError(errno.EFAULT, f"mremap: {start:#x} is not mapped")
    pieces = [(max(v.vm_start, start), min(v.vm_end, end)) for v in vmas]
    res, last_end = None, None
    for lo, hi in pieces:
        offset = 0 if last_end is None else lo - last_end
        last_end = hi
        one = vma_remap_struct(vrm.mm, lo, hi - lo, hi - lo, vrm.flags, target + offset)
        one.vma = vma_lookup(vrm.mm, lo)
        check_prep_vma(one)
        moved = mremap_to(one)
        res = moved if res is None else res
        target = moved + one.new_len
    return res


def do_mremap(mm: mm_struct, addr: int, old_len: int, new_len: int, flags=0, new_addr: int = 0) -> int:
    """mremap(2): the mapping's (possibly new) address, or ``KernelError`` with the errno."""
    flags = parse_mremap_flags(flags)
    args = [V.ulong(x, n) for x, n in ((addr, "address"), (old_len, "old length"),
                                        (new_len, "new length"), (new_addr, "new address"))]
    vrm = vma_remap_struct(mm, args[0], V.PAGE_ALIGN(args[1]), V.PAGE_ALIGN(args[2]), flags, args[3])
    check_mremap_params(vrm)
    with V.mmap_write_lock(mm):
        if vrm.move_only():
            return remap_move(vrm)
        vrm.vma = vma_lookup(mm, vrm.addr)
        check_prep_vma(vrm)
        return mremap_to(vrm) if vrm.implies_new_addr() else mremap_at(vrm)
