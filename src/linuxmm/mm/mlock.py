"""mlock, mlock2, munlock, mlockall, munlockall (``mm/mlock.c``), Linux 6.18.

Locking is a VMA property: ``VM_LOCKED`` (the pages must stay resident) and, with
MLOCK_ONFAULT / MCL_ONFAULT, ``VM_LOCKONFAULT`` (lock the pages as they fault in, do not
populate now). ``apply_vma_lock_flags`` walks the range VMA by VMA (a hole is ENOMEM) and
``mlock_fixup`` gives each part its new flags, splitting or merging VMAs like mprotect and
counting the pages that became locked in ``mm->locked_vm`` (VmLck). Special mappings
(VM_IO, VM_PFNMAP, ...), hugetlb and MAP_DROPPABLE VMAs are left alone and never counted.
``do_mlock`` checks RLIMIT_MEMLOCK first: only pages not already locked count against it
(``count_mm_mlocked_page_nr``), unless the task has CAP_IPC_LOCK; then ``__mm_populate``
faults the range in (nothing for lock-on-fault VMAs).

``mlockall`` sets ``mm->def_flags`` for MCL_FUTURE (every later mapping is born locked,
so mmap and brk check RLIMIT_MEMLOCK against it) and locks every VMA for MCL_CURRENT; an
error on one VMA is ignored, as in the kernel.

The page side: a VMA whose VM_LOCKED changes has its mapped folios mlocked or munlocked
(``mlock_vma_pages_range`` -> ``mlock_pte_range``, compiled, through the page-table layer's
``mm.hooks.mlock_vma_pages_range``): ``mm/swap.py``'s ``mlock_folio`` moves each to the
unevictable list with PG_mlocked (meminfo's Mlocked and Unevictable), ``munlock_folio`` back;
pages populated afterwards are mlocked as they fault in (``mlock_new_folio``). A large folio
mapped by ptes is only (un)locked when the range holds all of it (``allow_mlock_munlock``).
Unmapping a VM_LOCKED range munlocks its folios first (the kernel does it in
``folio_remove_rmap_*`` -> ``munlock_vma_folio``), so exit and munmap count
unevictable_pgs_munlocked, not _cleared.
"""

from __future__ import annotations

import errno

from numba import njit

from ..errors import KernelError
from ..include.linux.mm_types import (
    PAGE_MASK, PAGE_SHIFT, VM_DROPPABLE, VM_HUGETLB, VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT, VM_SPECIAL,
    VM_STICKY, find_vma, mm_struct, vma_lookup, vmas_in_range)
from . import buddy as B
from . import vma as V
from .mmap import mm_populate
from .pagewalk import WALK_DONE, walk_next, walk_page_range
from .pgtable import PTE_KIND_PRESENT, VP_LEVELS, _PAGE_SPECIAL, entry_has, pte_pfn
from .swap import folio_nr_pages, mlock_folio, munlock_folio

# include/uapi/asm-generic/mman-common.h and mman.h
MLOCK_ONFAULT = 0x01
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
MCL_NAMES = {"current": MCL_CURRENT, "future": MCL_FUTURE, "onfault": MCL_ONFAULT}


@njit(cache=True)
def mlock_pte_range(a, vs, pgd, start, end, lock):
    """``mlock_pte_range`` over [start, end): each folio mapped there is mlocked (``lock``)
    or munlocked, once; a large folio mapped by ptes only if the range holds all of it."""
    w = walk_page_range(vs, pgd, start, end, 0)
    last = -1
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        entry = vs.pt[row, idx]
        if kind != PTE_KIND_PRESENT or entry_has(entry, _PAGE_SPECIAL):
            continue
        pfn = pte_pfn(entry)
        head = B.compound_head(a, pfn)
        if head == last:
            continue
        last = head
        first = addr - ((pfn - head) << 12)  # where the folio's first page would be mapped
        if level == vs.vp[VP_LEVELS] - 1 and (first < start or first + (folio_nr_pages(a, head) << 12) > end):
            continue  # allow_mlock_munlock: a large folio only partly in the range
        if lock:
            mlock_folio(a, head)
        else:
            munlock_folio(a, head)


def mlock_fixup(mm: mm_struct, vma, start: int, end: int, newflags: int):
    """Give [start, end) of ``vma`` the lock flags of ``newflags``; the VMA now covering it.
    When VM_LOCKED comes or goes, the folios mapped there are mlocked or munlocked."""
    oldflags = vma.vm_flags
    if newflags == oldflags or oldflags & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE):
        return vma  # don't set VM_LOCKED or VM_LOCKONFAULT and don't count
    vma = V.vma_modify_flags(mm, vma, start, end, newflags)
    nr_pages = (end - start) >> PAGE_SHIFT
    if not newflags & VM_LOCKED:
        nr_pages = -nr_pages
    elif oldflags & VM_LOCKED:
        nr_pages = 0  # only VM_LOCKONFAULT changes
    mm.locked_vm += nr_pages
    V.vm_flags_reset(mm, vma, newflags | vma.vm_flags & VM_STICKY)
    if (newflags ^ oldflags) & VM_LOCKED:  # mlock_vma_pages_range
        mm.hooks.mlock_vma_pages_range(mm, start, end, bool(newflags & VM_LOCKED))
    return vma


def apply_vma_lock_flags(mm: mm_struct, start: int, length: int, flags: int) -> None:
    """Set the lock flags ``flags`` (0 unlocks) on every VMA of the range."""
    end = start + length
    if end < start:
        raise KernelError(errno.EINVAL, "mlock: the range wraps around")
    if end == start:
        return
    vma = vma_lookup(mm, start)
    if vma is None:
        raise KernelError(errno.ENOMEM, f"mlock: {start:#x} is not mapped")
    nstart, tmp = start, vma.vm_start
    while vma is not None and vma.vm_start < end:
        if vma.vm_start != tmp:
            raise KernelError(errno.ENOMEM, f"mlock: hole at {tmp:#x}")
        newflags = vma.vm_flags & ~VM_LOCKED_MASK | flags
        tmp = mlock_fixup(mm, vma, nstart, min(vma.vm_end, end), newflags).vm_end  # vma_iter_end
        nstart = tmp
        vma = find_vma(mm, nstart)
    if tmp < end:
        raise KernelError(errno.ENOMEM, f"mlock: {tmp:#x}-{end:#x} is not mapped")


def count_mm_mlocked_page_nr(mm: mm_struct, start: int, length: int) -> int:
    """Pages of [start, start + length) in VMAs that are locked already."""
    end = start + length
    count = 0
    for vma in vmas_in_range(mm, start, end):
        if vma.vm_flags & VM_LOCKED:
            count += min(end, vma.vm_end) - max(start, vma.vm_start)
    return count >> PAGE_SHIFT


def _page_range(start: int, length: int) -> tuple[int, int]:
    """mlock's rounding: the page holding ``start`` to the page holding the last byte."""
    start, length = V.ulong(start, "address"), V.ulong(length, "length")
    length = V.PAGE_ALIGN(length + (start & ~PAGE_MASK))
    return start & PAGE_MASK, length


def _lock_limit(mm: mm_struct) -> float:
    """RLIMIT_MEMLOCK in pages (infinite when unlimited)."""
    return V._pages_limit(mm.rlimit("RLIMIT_MEMLOCK"))


def do_mlock(mm: mm_struct, start: int, length: int, flags: int) -> None:
    """mlock(2) and mlock2(2) once the flags are checked: lock, then populate."""
    if not V.can_do_mlock(mm):
        raise KernelError(errno.EPERM, "mlock: RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK")
    start, length = _page_range(start, length)
    with V.mmap_write_lock(mm):
        locked = (length >> PAGE_SHIFT) + mm.locked_vm
        if locked > _lock_limit(mm) and not mm.capable("CAP_IPC_LOCK"):
            locked -= count_mm_mlocked_page_nr(mm, start, length)  # already locked: not again
        if locked > _lock_limit(mm) and not mm.capable("CAP_IPC_LOCK"):
            raise KernelError(errno.ENOMEM, "mlock: RLIMIT_MEMLOCK would be exceeded")
        apply_vma_lock_flags(mm, start, length, flags)
    mm_populate(mm, start, length)


def sys_mlock2(mm: mm_struct, start: int, length: int, flags: int) -> None:
    """mlock2(2): MLOCK_ONFAULT is the only flag."""
    if flags & ~MLOCK_ONFAULT:
        raise KernelError(errno.EINVAL, f"mlock2: unknown flags {flags:#x}")
    do_mlock(mm, start, length, VM_LOCKED | (VM_LOCKONFAULT if flags & MLOCK_ONFAULT else 0))


def sys_munlock(mm: mm_struct, start: int, length: int) -> None:
    """munlock(2): the range loses VM_LOCKED and VM_LOCKONFAULT."""
    start, length = _page_range(start, length)
    with V.mmap_write_lock(mm):
        apply_vma_lock_flags(mm, start, length, 0)


def apply_mlockall_flags(mm: mm_struct, flags: int) -> None:
    """MCL_FUTURE into ``def_flags``; MCL_CURRENT onto every VMA (errors ignored)."""
    mm.def_flags &= ~VM_LOCKED_MASK
    if flags & MCL_FUTURE:
        mm.def_flags |= VM_LOCKED | (VM_LOCKONFAULT if flags & MCL_ONFAULT else 0)
        if not flags & MCL_CURRENT:
            return
    to_add = VM_LOCKED | (VM_LOCKONFAULT if flags & MCL_ONFAULT else 0) if flags & MCL_CURRENT else 0
    vma = find_vma(mm, 0)
    while vma is not None:
        end = vma.vm_end
        try:
            end = mlock_fixup(mm, vma, vma.vm_start, end, vma.vm_flags & ~VM_LOCKED_MASK | to_add).vm_end
        except KernelError:
            pass  # the kernel ignores a VMA it could not change
        vma = find_vma(mm, end)


def sys_mlockall(mm: mm_struct, flags: int) -> None:
    """mlockall(2): MCL_CURRENT needs the whole address space within RLIMIT_MEMLOCK."""
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise KernelError(errno.EINVAL, f"mlockall: bad flags {flags:#x}")
    if not V.can_do_mlock(mm):
        raise KernelError(errno.EPERM, "mlockall: RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK")
    with V.mmap_write_lock(mm):
        if flags & MCL_CURRENT and mm.total_vm > _lock_limit(mm) and not mm.capable("CAP_IPC_LOCK"):
            raise KernelError(errno.ENOMEM, "mlockall: the address space exceeds RLIMIT_MEMLOCK")
        apply_mlockall_flags(mm, flags)
    if flags & MCL_CURRENT:
        mm_populate(mm, 0, mm.task_size)


def sys_munlockall(mm: mm_struct) -> None:
    """munlockall(2): no VMA stays locked and later mappings are not."""
    with V.mmap_write_lock(mm):
        apply_mlockall_flags(mm, 0)
