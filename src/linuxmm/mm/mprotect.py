"""mprotect (``mm/mprotect.c``: ``do_mprotect_pkey``, ``mprotect_fixup``), Linux 6.18.

The range is walked VMA by VMA; each part takes the new ``VM_READ|VM_WRITE|VM_EXEC`` (a VMA
may not gain what its ``VM_MAY*`` bits forbid: EACCES), split out of its VMA or merged into
a neighbour by ``vma_modify_flags``, then ``mm.hooks.change_protection`` updates the page
tables. A hole ends the walk with ENOMEM *after* the VMAs before it were changed, as in the
kernel. Making private memory writable charges it (``VM_ACCOUNT``); making an anonymous VMA
that never faulted read-only gives the charge back (6.x).
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.mm_types import (
    PAGE_MASK, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE,
    VM_ACCESS_FLAGS, VM_ACCOUNT, VM_GROWSDOWN, VM_HUGETLB, VM_LOCKED, VM_NORESERVE, VM_SHARED,
    VM_STICKY, VM_WRITE, find_vma, find_vma_intersection, mm_struct, parse_prot, vma_is_anonymous)
from . import vma as V
from .mmap import calc_vm_prot_bits


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
