"""mseal(2) (``mm/mseal.c``), Linux 6.18.

Sealing marks VMAs ``VM_SEALED`` (``sl`` in smaps' VmFlags) for the rest of the process's
life: after it the range cannot be unmapped, moved, shrunk or grown by munmap/mremap,
replaced by mmap(MAP_FIXED), given another protection by mprotect, or have its anonymous
contents discarded by madvise where the process could not write them anyway. Those
callers ask ``can_modify_vma`` (``mm/vma.h``; here ``mm/vma.py``) or
``can_madvise_modify`` (``mm/madvise.c``) and fail with EPERM. mseal itself wants flags 0,
a page-aligned start, a range that does not wrap and no hole in it (ENOMEM); sealing twice
is no error. Each VMA part not yet sealed gets the flag through ``vma_modify_flags``, so a
partial seal splits the VMA and a sealed neighbour with the same flags merges.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_MASK, VM_SEALED, VM_STICKY, find_vma, mm_struct, vmas_in_range
from . import vma as V


def range_contains_unmapped(mm: mm_struct, start: int, end: int) -> bool:
    prev_end = start
    for vma in vmas_in_range(mm, start, end):
        if vma.vm_start > prev_end:
            return True
        prev_end = vma.vm_end
    return prev_end < end


def mseal_apply(mm: mm_struct, start: int, end: int) -> None:
    vma = find_vma(mm, start)
    while vma is not None and vma.vm_start < end:
        if not vma.vm_flags & VM_SEALED:
            flags = vma.vm_flags | VM_SEALED
            vma = V.vma_modify_flags(mm, vma, max(vma.vm_start, start), min(vma.vm_end, end), flags)
            V.vm_flags_reset(mm, vma, flags | vma.vm_flags & VM_STICKY)
        vma = find_vma(mm, vma.vm_end)  # the next VMA (a merge may have grown this one past end)


def do_mseal(mm: mm_struct, start: int, len_in: int, flags: int = 0) -> None:
    """mseal(start, len, flags)."""
    start, len_in, flags = V.ulong(start, "address"), V.ulong(len_in, "length"), V.ulong(flags, "flags")
    if flags:
        raise KernelError(errno.EINVAL, f"mseal: flags must be 0, not {flags:#x}")
    if start & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"mseal: address {start:#x} is not page aligned")
    length = V.PAGE_ALIGN(len_in)
    if len_in and not length:
        raise KernelError(errno.EINVAL, "mseal: the length wraps when rounded to pages")
    end = start + length
    if end > V.ULONG_MAX:
        raise KernelError(errno.EINVAL, "mseal: the range wraps around")
    if end == start:
        return
    with V.mmap_write_lock(mm):
        if range_contains_unmapped(mm, start, end):
            raise KernelError(errno.ENOMEM, f"mseal: {start:#x}-{end:#x} is not all mapped")
        mseal_apply(mm, start, end)
