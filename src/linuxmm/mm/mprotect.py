"""mprotect (``mm/mprotect.c``: ``do_mprotect_pkey``, ``mprotect_fixup``), Linux 6.18.

The range is walked VMA by VMA; each part takes the new ``VM_READ|VM_WRITE|VM_EXEC`` (a VMA
may not gain what its ``VM_MAY*`` bits forbid: EACCES), split out of its VMA or merged into
a neighbour by ``vma_modify_flags``, then ``mm.hooks.change_protection`` updates the page
tables. A hole ends the walk with ENOMEM *after* the VMAs before it were changed, as in the
kernel. Making private memory writable charges it (``VM_ACCOUNT``); making an anonymous VMA
that never faulted read-only gives the charge back (6.x).

``change_protection`` rewrites the entries of the range (``change_pte_range``,
``change_huge_pmd``) through the range walker: present entries take the new protection (a
huge pmd only partly inside is split first), PROT_NONE hides them (``_PAGE_PROTNONE``), a
writable migration entry becomes a readable one.
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux.mman import map_deny_write_exec
from ..include.linux.mm_types import (
    PAGE_MASK, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE,
    VM_ACCESS_FLAGS, VM_ACCOUNT, VM_GROWSDOWN, VM_HUGETLB, VM_LOCKED, VM_NORESERVE, VM_SHARED,
    VM_STICKY, VM_WRITE, find_vma, find_vma_intersection, mm_struct, parse_prot, vma_is_anonymous)
from . import memory as M
from . import vma as V
from .buddy import compound_head
from .mmap import calc_vm_prot_bits
from .pagewalk import WALK_DONE, walk_again, walk_next, walk_page_range
from .pgtable import (_PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, PTE_KIND_MIGRATION, PTE_KIND_PRESENT, VP_LEVELS,
                      VP_SWP_FMT, is_writable_migration_entry, make_readable_exclusive_migration_entry,
                      make_readable_migration_entry, pte_to_swp_entry, swp_entry_to_pte, swp_offset,
                      swp_offset_pfn)


@njit(cache=True)
def pte_modify(entry, newflags):
    """The entry with the protection of ``newflags``: present if any access is allowed,
    writable only if it was (a COW page stays read-only) or the mapping is shared."""
    new = entry & ~np.uint64(_PAGE_RW | _PAGE_PRESENT | _PAGE_PROTNONE)
    if not newflags & (M.VM_READ | M.VM_WRITE | M.VM_EXEC):
        return new | np.uint64(_PAGE_PROTNONE)
    new |= np.uint64(_PAGE_PRESENT)
    if newflags & M.VM_WRITE and (entry & np.uint64(_PAGE_RW) or newflags & M.VM_SHARED):
        new |= np.uint64(_PAGE_RW)
    return new


@njit(cache=True)
def change_protection(a, vs, mmc, pgd, start, end, newflags):
    """``change_protection`` over [start, end) after mprotect set ``newflags`` on the VMA."""
    levels, fmt = vs.vp[VP_LEVELS], vs.vp[VP_SWP_FMT]
    w = walk_page_range(vs, pgd, start, end, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        entry = vs.pt[row, idx]
        if kind == PTE_KIND_PRESENT:
            if level < levels - 1 and (addr < start or addr + (np.int64(1) << vs.shift[level]) > end):
                M.__split_huge_pmd(a, vs, mmc, row, idx)  # only part of the huge page changes
                walk_again(w)
                continue
            vs.pt[row, idx] = pte_modify(entry, newflags)
        elif kind == PTE_KIND_MIGRATION:
            swp = pte_to_swp_entry(entry, fmt)
            if is_writable_migration_entry(swp):  # too hard to check: just drop the write
                anon = a.mapping[compound_head(a, swp_offset_pfn(swp))] & M.PAGE_MAPPING_ANON
                swp = (make_readable_exclusive_migration_entry(swp_offset(swp)) if anon
                       else make_readable_migration_entry(swp_offset(swp)))
                vs.pt[row, idx] = swp_entry_to_pte(swp, fmt)


def arch_validate_prot(prot: int) -> bool:
    return not prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)


def _charge_for_write(mm: mm_struct, vma, oldflags: int, newflags: int, nrpages: int) -> tuple[int, int]:
    """The commit-charge side of ``mprotect_fixup``: (new flags, pages charged)."""
    if newflags & VM_WRITE:
        if not V.may_expand_vm(mm, newflags, nrpages) and V.may_expand_vm(mm, oldflags, nrpages):
            raise KernelError(errno.ENOMEM, "mprotect: RLIMIT_DATA would be exceeded")
        if not oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE):
            if not V.vm_enough_memory(mm, nrpages):
                raise KernelError(errno.ENOMEM, "mprotect: cannot commit the newly writable memory")
            return newflags | VM_ACCOUNT, nrpages
    elif oldflags & VM_ACCOUNT and vma_is_anonymous(vma) and not vma.anon_vma:
        newflags &= ~VM_ACCOUNT  # nothing was ever faulted: give the charge back
    return newflags, 0


def mprotect_fixup(mm: mm_struct, vma, start: int, end: int, newflags: int):
    """Give [start, end) of ``vma`` the flags ``newflags``; the VMA now covering it."""
    oldflags = vma.vm_flags
    if not V.can_modify_vma(vma):
        raise KernelError(errno.EPERM, f"mprotect: {vma.vm_start:#x}-{vma.vm_end:#x} is sealed (mseal)")
    if newflags == oldflags:
        return vma
    nrpages = (end - start) >> 12
    newflags, charged = _charge_for_write(mm, vma, oldflags, newflags, nrpages)
    vma = V.vma_modify_flags(mm, vma, start, end, newflags)
    V.vm_acct_memory(mm, charged)
    V.vm_flags_reset(mm, vma, newflags | vma.vm_flags & VM_STICKY)
    mm.hooks.change_protection(mm, start, end, newflags)
    if oldflags & VM_ACCOUNT and not newflags & VM_ACCOUNT:
        V.vm_acct_memory(mm, -nrpages)
    if oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED) == VM_LOCKED and newflags & VM_WRITE:
        mm.hooks.populate(mm, start, end, True)  # mlocked private memory: break COW now
    V.vm_stat_account(mm, oldflags, -nrpages)
    V.vm_stat_account(mm, newflags, nrpages)
    return vma


def _first_vma(mm: mm_struct, start: int, end: int, grows: int):
    """The VMA the walk starts at (and its start), with the kernel's checks."""
    vma = find_vma_intersection(mm, start, end)
    if vma is None:
        raise KernelError(errno.ENOMEM, f"mprotect: {start:#x}-{end:#x} is not mapped")
    if grows & PROT_GROWSDOWN:
        if not vma.vm_flags & VM_GROWSDOWN:
            raise KernelError(errno.EINVAL, "PROT_GROWSDOWN on a VMA that does not grow down")
        return vma, vma.vm_start
    if vma.vm_start > start:
        raise KernelError(errno.ENOMEM, f"mprotect: {start:#x} is not mapped")
    if grows & PROT_GROWSUP:
        raise KernelError(errno.EINVAL, "PROT_GROWSUP: no VMA grows up on x86")
    return vma, start


def _walk(mm: mm_struct, start: int, end: int, prot: int, grows: int) -> None:
    vma, nstart = _first_vma(mm, start, end, grows)
    tmp = vma.vm_start
    while vma is not None and vma.vm_start < end:
        if vma.vm_start != tmp:
            raise KernelError(errno.ENOMEM, f"mprotect: hole at {tmp:#x}")
        newflags = calc_vm_prot_bits(prot) | (vma.vm_flags & ~VM_ACCESS_FLAGS)
        if newflags & ~(newflags >> 4) & VM_ACCESS_FLAGS:  # VM_MAY* bits sit 4 above
            raise KernelError(errno.EACCES, "mprotect: the mapping does not allow this protection")
        if map_deny_write_exec(mm, vma.vm_flags, newflags):
            raise KernelError(errno.EACCES, "mprotect: executable under prctl(PR_SET_MDWE)")
        tmp = min(vma.vm_end, end)
        tmp = mprotect_fixup(mm, vma, nstart, tmp, newflags).vm_end
        nstart = tmp
        vma = find_vma(mm, nstart)
    if tmp < end:
        raise KernelError(errno.ENOMEM, f"mprotect: {tmp:#x}-{end:#x} is not mapped")


def do_mprotect_pkey(mm: mm_struct, start: int, length: int, prot, pkey: int = -1) -> None:
    """mprotect(2) / pkey_mprotect(2) without protection keys."""
    prot = parse_prot(prot)
    start, length = V.ulong(start, "address"), V.ulong(length, "length")
    grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
    prot &= ~grows
    if grows == PROT_GROWSDOWN | PROT_GROWSUP:
        raise KernelError(errno.EINVAL, "PROT_GROWSDOWN and PROT_GROWSUP together")
    if start & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"mprotect: address {start:#x} is not page aligned")
    if not length:
        return
    end = start + V.PAGE_ALIGN(length)
    if end <= start or end > V.ULONG_MAX:
        raise KernelError(errno.ENOMEM, "mprotect: the range wraps around")
    if not arch_validate_prot(prot):
        raise KernelError(errno.EINVAL, f"mprotect: unknown protection bits {prot:#x}")
    with V.mmap_write_lock(mm):
        _walk(mm, start, end, prot, grows)


def do_mprotect(mm: mm_struct, start: int, length: int, prot) -> None:
    """mprotect(2)."""
    do_mprotect_pkey(mm, start, length, prot)
