"""io_uring rings (``io_uring/io_uring.c``, ``io_uring/register.c``, ``io_uring/rw.c``), Linux
6.18, as far as memory management sees them: a ring with registered (fixed) buffers, and
IORING_OP_WRITE_FIXED, which writes from a registered buffer's pinned pages to a file.

``io_uring_setup(entries)`` makes a ring: an anonymous inode file ``anon_inode:[io_uring]``
(``fs/anon_inodes.py``) holding an ``io_ring_ctx``, its descriptor the caller's; ``entries``
is rounded up to a power of two (1..IORING_MAX_ENTRIES, EINVAL otherwise). The submission and
completion queues are not simulated: a write is submitted and completed in one call, its
result what the completion's ``res`` would be. The ring goes with its file's last reference
(``io_uring_release``: its buffers are unpinned); fork shares it, as it shares every file.

``io_uring_register`` on a descriptor that is no ring is EOPNOTSUPP (EBADF for none).
``io_write_fixed`` writes ``len`` bytes of the registered buffer ``buf_index`` from ``addr``
to file ``fd`` at ``offset`` (-1: the file position, which then advances), through the file's
``write_iter`` as ``pwrite`` does: what the pinned pages hold, whatever the process maps at
those addresses now. The completion's errors are raised: EBADF (no file, or one not open
for writing), EFAULT (no such buffer, or a range outside it), the write's own (ENOSPC, ...).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from ..errors import KernelError
from ..fs.anon_inodes import anon_inode_create_getfile
from ..fs.open import fdget, get_unused_fd
from ..fs.read_write import vfs_write
from ..include.linux.fs import O_CLOEXEC, O_RDWR, file_operations
from ..include.linux.mm_types import PAGE_SIZE
from .rsrc import io_import_fixed, io_rsrc_data, io_sqe_buffers_register, io_sqe_buffers_unregister

IORING_MAX_ENTRIES = 32768
LINE = 64  # memory keeps one byte per 64-byte line


@dataclass
class io_ring_ctx:
    """``struct io_ring_ctx``: the queue sizes, the task that made it (whose mm its buffers
    are accounted to), the registered buffers."""
    sq_entries: int
    cq_entries: int
    task: object
    buf_table: io_rsrc_data = field(default_factory=io_rsrc_data)


def io_uring_rw(k, f, *args):
    raise KernelError(errno.EINVAL, "io_uring: a ring is not read or written")


def io_uring_fallocate(k, f, *args):
    raise KernelError(errno.EOPNOTSUPP, "io_uring: a ring cannot be fallocated")


def io_uring_release(k, f) -> None:
    """The ring's last reference: its buffers are unpinned (``io_ring_ctx_free``)."""
    ctx = f.private_data
    if ctx.buf_table.nodes:
        io_sqe_buffers_unregister(k, ctx)


io_uring_fops = file_operations(read_iter=io_uring_rw, write_iter=io_uring_rw, fsync=io_uring_rw,
                                fallocate=io_uring_fallocate, read_cached=io_uring_rw, release=io_uring_release)


def io_uring_setup(k, task, entries: int) -> int:
    """A new ring of ``entries`` submission slots (twice as many completions); its descriptor."""
    if not 1 <= entries <= IORING_MAX_ENTRIES:
        raise KernelError(errno.EINVAL, f"io_uring_setup: {entries} entries (1..{IORING_MAX_ENTRIES})")
    sq_entries = 1 << (entries - 1).bit_length()  # roundup_pow_of_two
    ctx = io_ring_ctx(sq_entries, 2 * sq_entries, task)
    fd = get_unused_fd(task.files)
    task.files.fdt[fd] = anon_inode_create_getfile(k, "[io_uring]", io_uring_fops, ctx, O_RDWR | O_CLOEXEC)
    return fd


def io_ring_ctx_of(task, fd: int) -> io_ring_ctx:
    """The ring behind descriptor ``fd``: EBADF for no file, EOPNOTSUPP for another file."""
    f = fdget(task.files, fd)
    if f.f_inode.i_fop is not io_uring_fops:
        raise KernelError(errno.EOPNOTSUPP, f"io_uring_register: fd {fd} is not an io_uring ring")
    return f.private_data


def io_uring_register_buffers(k, task, fd: int, iovecs: list[tuple[int, int]]) -> None:
    io_sqe_buffers_register(k, io_ring_ctx_of(task, fd), iovecs)


def io_uring_unregister_buffers(k, task, fd: int) -> None:
    io_sqe_buffers_unregister(k, io_ring_ctx_of(task, fd))


def buffer_runs(k, imu, addr: int, length: int):
    """The bytes [addr, addr + length) of the buffer as (offset in the range, count, value)
    runs: each 64-byte line of a pinned page holds one value."""
    a = k.mem_map
    pos, end = addr, addr + length
    while pos < end:
        page = imu.pages[(pos >> 12) - (imu.ubuf >> 12)]
        nxt = min(end, (pos | (LINE - 1)) + 1)
        value = int(a.content[page, (pos % PAGE_SIZE) // LINE]) if a.content_valid[page] else 0
        yield pos - addr, nxt - pos, value
        pos = nxt


def io_write_fixed(k, task, ring_fd: int, fd: int, buf_index: int, addr: int, length: int, offset: int) -> int:
    """IORING_OP_WRITE_FIXED, submitted and completed: the bytes written."""
    ctx = io_ring_ctx_of(task, ring_fd)
    f = fdget(task.files, fd)
    imu = io_import_fixed(ctx, buf_index, addr, length)
    pos = f.f_pos if offset == -1 else offset
    done = 0
    for start, count, value in merged_runs(buffer_runs(k, imu, addr, length)):
        written, at = vfs_write(k, f, count, pos + start, value)
        done += written
        if written < count:
            break
    if offset == -1:
        f.f_pos = pos + done
    return done


def merged_runs(runs):
    """Adjacent runs of one value joined, so a page of one value is one write."""
    cur = None
    for start, count, value in runs:
        if cur is not None and cur[2] == value:
            cur[1] += count
            continue
        if cur is not None:
            yield tuple(cur)
        cur = [start, count, value]
    if cur is not None:
        yield tuple(cur)
