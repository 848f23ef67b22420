"""io_uring's registered buffers (``io_uring/rsrc.c``), Linux 6.18: IORING_REGISTER_BUFFERS,
IORING_UNREGISTER_BUFFERS and the import of a fixed buffer for a read or write.

Registering a buffer (``io_sqe_buffer_register``) checks it (``io_buffer_validate``: a NULL
base is an empty slot, allowed with length 0 only; a length of 0 or above 1 GiB is EFAULT, a
range that wraps EOVERFLOW) and pins its pages for good: ``io_pin_pages`` calls
``pin_user_pages_fast`` with FOLL_WRITE|FOLL_LONGTERM, so the GUP rules of ``mm/gup.py`` apply
(EFAULT for a shared mapping of a filesystem that tracks dirty pages, ext4; ENOMEM for pages
of ZONE_MOVABLE, which would be migrated first; a partial pin is undone and EFAULT). Pages of
large folios are then coalesced (``io_check_coalesce_buffer``, ``io_coalesce_buffer``): when
the buffer is made of whole same-sized folios (a partial first and last one allowed), one pin
per folio is kept and the others are dropped at once, so a 2 MiB THP moves
``nr_foll_pin_acquired`` by 512 and ``nr_foll_pin_released`` by 511 (as on this host:
tests/data/host-linux-6.18/gup_probe.txt). The pages are accounted to the ring's mm
(``io_buffer_account_pin``: ``pinned_vm``, VmPin, a large folio's pages once); RLIMIT_MEMLOCK
binds only a ring created without CAP_IPC_LOCK, and the simulated processes have it (they
run as root, as the selftests do), so no limit applies. A failed registration unregisters the
buffers registered before it; unregistering (or the ring's release) unpins everything.

A fixed read or write (``io_import_fixed``) uses the pinned pages, not the process's current
mapping: the address range it names must lie within the registered buffer (EFAULT otherwise).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import numpy as np

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE, ULONG_MAX
from ..mm import buddy as B
from ..mm.gup import FOLL_LONGTERM, FOLL_WRITE, pin_user_pages, unpin
from ..mm.mm_inline import folio_nr_pages

IORING_MAX_REG_BUFFERS = 1 << 14
SZ_1G = 1 << 30
INT_MAX = (1 << 31) - 1


@dataclass
class io_mapped_ubuf:
    """A registered buffer: its user address and length, the 4 KiB page of each of its pages
    (``pages``, what a fixed read or write goes through) and the pages whose pins it holds
    (``pins``: one per folio once coalesced), and what it accounted to ``pinned_vm``."""
    ubuf: int
    len: int
    pages: np.ndarray
    pins: np.ndarray
    acct_pages: int


@dataclass
class io_rsrc_data:
    """The ring's buffer table (``ctx->buf_table``): a slot per registered iovec, None for an
    empty one."""
    nodes: list = field(default_factory=list)


def io_validate_user_buf_range(uaddr: int, ulen: int) -> None:
    if ulen > SZ_1G or not ulen:
        raise KernelError(errno.EFAULT, f"io_uring: buffer length {ulen} (1..1 GiB)")
    if uaddr + ((ulen + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) > ULONG_MAX:
        raise KernelError(errno.EOVERFLOW, f"io_uring: buffer {uaddr:#x}+{ulen:#x} wraps")


def io_buffer_validate(uaddr: int, ulen: int) -> bool:
    """Whether the iovec names a buffer (False: an empty slot); raises for a bad one."""
    if not uaddr:
        if ulen:
            raise KernelError(errno.EFAULT, "io_uring: a NULL buffer with a length")
        return False
    io_validate_user_buf_range(uaddr, ulen)
    return True


def io_pin_pages(k, task, uaddr: int, ulen: int) -> np.ndarray:
    """Pin every page of the buffer writable and long-term, or none (the GUP errno, EFAULT
    for a partial pin)."""
    start, end = uaddr >> PAGE_SHIFT, (uaddr + ulen + PAGE_SIZE - 1) >> PAGE_SHIFT
    nr_pages = end - start
    if nr_pages > INT_MAX:
        raise KernelError(errno.EOVERFLOW, "io_uring: too many pages")
    ret, pages = pin_user_pages(k, task, uaddr, nr_pages, FOLL_WRITE | FOLL_LONGTERM, fast=True)
    if ret == nr_pages:
        return pages
    if ret > 0:
        unpin(k, pages)
    raise KernelError(-ret if ret < 0 else errno.EFAULT, f"io_uring: pinning {uaddr:#x}+{ulen:#x} failed")


def io_check_coalesce_buffer(a, pages: np.ndarray) -> list[int] | None:
    """The pages each folio contributes, in order, when the buffer is whole folios of one
    size, contiguous within each (the first may start and the last end part-way); else None."""
    head = B.compound_head(a, pages[0])
    nr_mid = int(folio_nr_pages(a, head))
    counts = [1]
    for prev, page in zip(pages[:-1], pages[1:]):
        if B.compound_head(a, page) == head and page == prev + 1:
            counts[-1] += 1
            continue
        if len(counts) == 1 and prev - head != nr_mid - 1 or len(counts) > 1 and counts[-1] != nr_mid:
            return None
        head = B.compound_head(a, page)
        if folio_nr_pages(a, head) != nr_mid or page != head:
            return None
        counts.append(1)
    return counts if nr_mid != 1 else None


def io_coalesce_buffer(k, pages: np.ndarray, counts: list[int]) -> np.ndarray:
    """Keep one pin per folio (its head page's), dropping the others."""
    heads, i = [], 0
    for nr in counts:
        if nr > 1:
            unpin(k, pages[i + 1:i + nr])
        heads.append(B.compound_head(k.mem_map, pages[i]))
        i += nr
    return np.array(heads, np.int64)


def io_buffer_account_pin(k, pages: np.ndarray, accounted: set) -> int:
    """The pages to account: each small page, and each large folio's pages once per ring."""
    a, acct = k.mem_map, 0
    for page in pages:
        head = int(B.compound_head(a, page))
        if folio_nr_pages(a, head) == 1:
            acct += 1
        elif head not in accounted:
            accounted.add(head)
            acct += int(folio_nr_pages(a, head))
    return acct


def io_sqe_buffer_register(k, task, uaddr: int, ulen: int, accounted: set) -> io_mapped_ubuf | None:
    """One iovec: None for an empty slot, else the pinned, coalesced, accounted buffer."""
    if not io_buffer_validate(uaddr, ulen):
        return None
    pages = io_pin_pages(k, task, uaddr, ulen)
    counts = io_check_coalesce_buffer(k.mem_map, pages) if len(pages) > 1 else None
    pins = io_coalesce_buffer(k, pages, counts) if counts else pages
    acct = io_buffer_account_pin(k, pages, accounted)
    task.mm.pinned_vm += acct  # io_account_mem: ctx->mm_account
    return io_mapped_ubuf(uaddr, ulen, pages, pins, acct)


def io_buffer_unmap(k, task, imu: io_mapped_ubuf) -> None:
    unpin(k, imu.pins)
    task.mm.pinned_vm -= imu.acct_pages


def io_sqe_buffers_unregister(k, ctx) -> None:
    """Unpin and unaccount every buffer; ENXIO when none is registered."""
    if not ctx.buf_table.nodes:
        raise KernelError(errno.ENXIO, "io_uring: no buffers registered")
    for imu in ctx.buf_table.nodes:
        if imu is not None:
            io_buffer_unmap(k, ctx.task, imu)
    ctx.buf_table.nodes = []


def io_sqe_buffers_register(k, ctx, iovecs: list[tuple[int, int]]) -> None:
    """IORING_REGISTER_BUFFERS: EBUSY while buffers are registered, EINVAL for none or more
    than IORING_MAX_REG_BUFFERS; a buffer that fails undoes the ones before it."""
    if ctx.buf_table.nodes:
        raise KernelError(errno.EBUSY, "io_uring: buffers are registered already")
    if not iovecs or len(iovecs) > IORING_MAX_REG_BUFFERS:
        raise KernelError(errno.EINVAL, f"io_uring: {len(iovecs)} buffers (1..{IORING_MAX_REG_BUFFERS})")
    accounted: set = set()
    done = []
    try:
        for uaddr, ulen in iovecs:
            done.append(io_sqe_buffer_register(k, ctx.task, uaddr, ulen, accounted))
    except KernelError:
        for imu in done:
            if imu is not None:
                io_buffer_unmap(k, ctx.task, imu)
        raise
    ctx.buf_table.nodes = done


def io_import_fixed(ctx, buf_index: int, buf_addr: int, length: int) -> io_mapped_ubuf:
    """The registered buffer a fixed read or write names, checked to hold the range."""
    if not 0 <= buf_index < len(ctx.buf_table.nodes) or ctx.buf_table.nodes[buf_index] is None:
        raise KernelError(errno.EFAULT, f"io_uring: no registered buffer {buf_index}")
    imu = ctx.buf_table.nodes[buf_index]
    if buf_addr < imu.ubuf or buf_addr + length > imu.ubuf + imu.len:
        raise KernelError(errno.EFAULT, f"io_uring: {buf_addr:#x}+{length:#x} is outside buffer {buf_index}")
    return imu
