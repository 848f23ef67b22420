"""read, write, pread64, pwrite64 (``fs/read_write.c``), Linux 6.18.

``vfs_read``/``vfs_write`` check the descriptor (EBADF without FMODE_READ/FMODE_WRITE, EISDIR
for a directory), the position and count (``rw_verify_area``: EINVAL for a negative position
or count; at most MAX_RW_COUNT bytes per call), and for writes ``generic_write_checks``
(O_APPEND writes at ``i_size`` — even through pwrite, as Linux does — EFBIG at or past
``s_maxbytes``, the count clipped to it), then call the file's ``read_iter``/``write_iter``.
A write that runs out of space part-way returns what it wrote (ENOSPC if nothing).
A stream (a pipe: FMODE_STREAM) has no position: neither the position checks nor
``generic_write_checks`` apply, and its ``read_iter``/``write_iter`` do every call.
"""

from __future__ import annotations

import errno

import numpy as np

from ..errors import KernelError
from ..include.linux.fs import FMODE_READ, FMODE_STREAM, FMODE_WRITE, O_APPEND
from ..include.linux.mm_types import PAGE_SIZE

MAX_RW_COUNT = ((1 << 31) - 1) & ~(PAGE_SIZE - 1)  # INT_MAX & PAGE_MASK


def rw_verify_area(pos: int, count: int) -> int:
    if count < 0 or pos < 0 or pos + count < 0:
        raise KernelError(errno.EINVAL, f"bad position {pos} or count {count}")
    return min(count, MAX_RW_COUNT)


def vfs_read(k, f, count: int, pos: int) -> tuple[int, np.ndarray]:
    """(bytes read, one content byte per 64-byte line covered)."""
    if not f.f_mode & FMODE_READ:
        raise KernelError(errno.EBADF, "file not open for reading")
    if f.f_inode.is_dir:
        raise KernelError(errno.EISDIR, f"{f.f_inode.name}: is a directory")
    count = rw_verify_area(pos, count)
    if count == 0:
        return 0, np.zeros(0, np.uint8)
    return f.f_inode.i_fop.read_iter(k, f, pos, count)


def vfs_read_calls(k, f, pos: int, count: int, chunk: int) -> tuple[int, bytes]:
    """``count`` bytes from ``pos`` in read() calls of ``chunk`` bytes, stopping after a short
    one (the end of the file): the calls the cache serves alone go through the file's
    ``read_cached`` batch, each other one through ``vfs_read``. Returns (bytes, contents)."""
    out, done = [], 0
    while True:
        if (f.f_mode & FMODE_READ and f.f_inode.i_fop is not None and f.f_inode.i_fop.read_cached is not None
                and chunk <= MAX_RW_COUNT and pos >= 0):
            got, lines, eof = f.f_inode.i_fop.read_cached(k, f, pos + done, count - done, chunk)
            out.append(lines.tobytes())
            done += got
            if eof or done >= count and count:
                break
        n = min(chunk, count - done)
        try:
            got, lines = vfs_read(k, f, n, pos + done)
        except KernelError as e:
            if done and e.errno == errno.EAGAIN:  # a pipe emptied by the earlier calls
                break
            raise
        out.append(lines.tobytes())
        done += got
        if got < n or done >= count:
            break
    return done, b"".join(out)


def generic_write_checks(f, pos: int, count: int) -> tuple[int, int]:
    """(position, count) of a write: O_APPEND moves it to the end; EFBIG at ``s_maxbytes``."""
    ino = f.f_inode
    if f.f_flags & O_APPEND:
        pos = ino.i_size
    if count and pos >= ino.i_sb.s_maxbytes:
        raise KernelError(errno.EFBIG, f"write at {pos}: at or past the maximum file size {ino.i_sb.s_maxbytes}")
    return pos, min(count, ino.i_sb.s_maxbytes - pos)


def vfs_write(k, f, count: int, pos: int, value: int) -> tuple[int, int]:
    """(bytes written, the position after them)."""
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(errno.EBADF, "file not open for writing")
    count = rw_verify_area(pos, count)
    if not f.f_mode & FMODE_STREAM:
        pos, count = generic_write_checks(f, pos, count)
    if count == 0:
        return 0, pos
    return _write(k, f, pos, count, value), pos


def _write(k, f, pos: int, count: int, value: int) -> int:
    """``write_iter``; a short write when space runs out after some bytes went in."""
    before = f.f_inode.i_size
    try:
        return f.f_inode.i_fop.write_iter(k, f, pos, count, value)
    except KernelError as e:
        done = max(f.f_inode.i_size, before) - pos if e.errno == errno.ENOSPC else 0
        if done > 0 and f.f_inode.i_size > before:
            return done
        raise
