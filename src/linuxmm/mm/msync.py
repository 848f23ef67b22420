"""msync(2) (``mm/msync.c``), Linux 6.18: write a shared file mapping's changes back.

Since Linux 2.6.19 a store to a shared file page is noticed at fault time (writenotify:
``do_shared_fault``/``wp_page_shared`` mark the folio dirty), so msync has nothing to scan
in the page tables. ``MS_SYNC`` calls ``vfs_fsync_range`` on the file range each shared file
VMA of [start, end) maps (with the mmap lock dropped): ext4 writes the dirty folios back and
waits (``file_write_and_wait_range``; writeback write-protects and cleans every pte mapping
them, ``folio_mkclean``, so the next store faults again), tmpfs has nothing to write
(``noop_fsync``). ``MS_ASYNC`` does nothing (the dirty folios are already known to the
flushers); ``MS_INVALIDATE`` only refuses locked VMAs (EBUSY).

Errors as the kernel returns them: EINVAL for unknown flags, MS_SYNC with MS_ASYNC or an
unaligned start; ENOMEM for a range that wraps, or (after doing the mapped parts, except for
a plain MS_ASYNC, which stops at once) one with unmapped holes.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_MASK, PAGE_SHIFT, ULONG_MAX, VM_LOCKED, VM_SHARED, find_vma, mm_struct
from . import vma as V

MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4  # include/uapi/asm-generic/mman-common.h
MS_NAMES = {"async": MS_ASYNC, "invalidate": MS_INVALIDATE, "sync": MS_SYNC}


def parse_msync_flags(value) -> int:
    """``"sync"``, ``"async|invalidate"``, ``"MS_SYNC"`` or the number."""
    if isinstance(value, bool):
        raise KernelError(errno.EINVAL, f"msync flags must be names or an int, not {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise KernelError(errno.EINVAL, f"msync flags must be names or an int, not {value!r}")
    bits = 0
    for name in filter(None, (n.strip().lower().removeprefix("ms_") for n in value.split("|"))):
        if name not in MS_NAMES:
            raise KernelError(errno.EINVAL, f"unknown msync flag {name!r} (known: {', '.join(MS_NAMES)})")
        bits |= MS_NAMES[name]
    return bits


def sys_msync(mm: mm_struct, start: int, length: int, flags, fsync_range) -> None:
    """msync(2) of [start, start+length); ``fsync_range(file, fstart, fend)`` is
    ``vfs_fsync_range(file, fstart, fend, 1)``. Raises ``KernelError`` with the errno."""
    flags = parse_msync_flags(flags)
    start, length = V.ulong(start, "address"), V.ulong(length, "length")
    if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):
        raise KernelError(errno.EINVAL, f"msync: unknown flags {flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):#x}")
    if start & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"msync: address {start:#x} is not page aligned")
    if flags & MS_ASYNC and flags & MS_SYNC:
        raise KernelError(errno.EINVAL, "msync: MS_SYNC and MS_ASYNC together")
    length = ((length + ~PAGE_MASK) & ULONG_MAX) & PAGE_MASK  # unsigned long arithmetic
    end = (start + length) & ULONG_MAX
    if end < start:
        raise KernelError(errno.ENOMEM, "msync: the range wraps around")
    if end == start:
        return
    unmapped = False
    vma = find_vma(mm, start)
    while True:
        if vma is None:
            raise KernelError(errno.ENOMEM, f"msync: {start:#x}-{end:#x} is not mapped")
        if start < vma.vm_start:
            if flags == MS_ASYNC or vma.vm_start >= end:
                raise KernelError(errno.ENOMEM, f"msync: {start:#x}-{min(end, vma.vm_start):#x} is not mapped")
            start, unmapped = vma.vm_start, True
        if flags & MS_INVALIDATE and vma.vm_flags & VM_LOCKED:
            raise KernelError(errno.EBUSY, "msync: MS_INVALIDATE of a locked mapping")
        fstart = (start - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT)
        fend = fstart + (min(end, vma.vm_end) - start) - 1
        start = vma.vm_end
        if flags & MS_SYNC and vma.vm_file is not None and vma.vm_flags & VM_SHARED:
            fsync_range(vma.vm_file, fstart, fend)
        if start >= end:
            break
        vma = find_vma(mm, start)
    if unmapped:
        raise KernelError(errno.ENOMEM, "msync: part of the range is not mapped")
