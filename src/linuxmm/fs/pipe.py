"""Pipes (``fs/pipe.c``), Linux 6.18: ``pipe(2)``, ``read``/``write`` on its two ends,
``F_GETPIPE_SZ``/``F_SETPIPE_SZ``, and its release when the last end is closed.

A pipe is a ``pipe_inode_info`` on the pseudo filesystem pipefs (``pipe_mnt``): a ring of
``pipe_buffer`` slots, each naming a page, the offset and length of the data in it and the
operations that release it. ``head`` is where the next buffer goes, ``tail`` the oldest
buffer; both only grow, and slot ``n & (ring_size - 1)`` holds buffer ``n``. At most
``max_usage`` buffers are in use (PIPE_DEF_BUFFERS = 16 pages, 64 KiB: ``F_GETPIPE_SZ``).

``pipe_write`` (``anon_pipe_write``) first tops up the newest buffer when it was made by a
write (PIPE_BUF_FLAG_CAN_MERGE) and the part of the write that is not whole pages fits
into it, then fills new pages (``anon_pipe_get_page``: the page the last read released,
``tmp_page``, or a new one from the page allocator), a page per slot. ``pipe_read`` copies
from the oldest buffer on and releases each buffer it empties (``pipe_buf_release``): a
written page goes back to ``tmp_page`` when the pipe held its only reference, else it is
put. ``vmsplice`` (``fs/splice.py``) adds buffers that hold references on user pages
instead: their data is read from those pages when the pipe is read.

Simplifications: one call runs at a time, so a call that would sleep for the other end (a
write to a full pipe, a read of an empty one with writers) returns as it would under
O_NONBLOCK: the bytes done so far, or EAGAIN. SIGPIPE is not simulated: a write with no
reader fails with EPIPE, as for a process that ignores the signal. The pipe's pages are not
charged to the memory cgroup (``__GFP_ACCOUNT`` kmem charges are not simulated), nor counted
against ``pipe-user-pages-soft``. Memory keeps one byte per 64-byte line: the data a pipe
carries is too (a read returns one byte per line it covers, as file reads do).
"""

from __future__ import annotations

import errno

import numpy as np

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.fs import FMODE_READ, FMODE_STREAM, FMODE_WRITE, O_RDONLY, O_WRONLY, S_IFIFO, file_operations
from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE
from ..include.linux.sched import TASK_RUNNING
from ..mm import page_alloc as pa
from ..mm.filemap import folio_put
from .file_table import alloc_file
from .inode import new_inode
from .open import get_unused_fd

PIPE_DEF_BUFFERS = 16  # include/linux/pipe_fs_i.h: the ring of a new pipe
PIPE_MAX_SIZE = 1 << 20  # /proc/sys/fs/pipe-max-size's default (1048576 on this host's 6.18)
# pipe_buffer flags (include/linux/pipe_fs_i.h)
PIPE_BUF_FLAG_LRU, PIPE_BUF_FLAG_ATOMIC, PIPE_BUF_FLAG_GIFT = 0x01, 0x02, 0x04
PIPE_BUF_FLAG_PACKET, PIPE_BUF_FLAG_CAN_MERGE = 0x08, 0x10
# fcntl commands (include/uapi/linux/fcntl.h: F_LINUX_SPECIFIC_BASE 1024 + 7, + 8)
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
LINE = 64  # memory holds one byte per 64-byte line


class pipe_buf_operations:
    """``struct pipe_buf_operations``: ``release(k, pipe, buf)`` drops the buffer's page."""

    __slots__ = ("release",)

    def __init__(self, release):
        self.release = release


class pipe_buffer:
    """``struct pipe_buffer``: ``page`` (a pfn), the data's ``offset`` and ``len`` in it, its
    ``ops`` and ``flags`` (PIPE_BUF_FLAG_*)."""

    __slots__ = ("page", "offset", "len", "ops", "flags")

    def __init__(self, page: int, offset: int, length: int, ops: pipe_buf_operations, flags: int):
        self.page, self.offset, self.len, self.ops, self.flags = page, offset, length, ops, flags

    def __repr__(self) -> str:
        return f"<pipe_buffer page={self.page:#x} offset={self.offset} len={self.len} flags={self.flags:#x}>"


class pipe_inode_info:
    """``struct pipe_inode_info``: the ring ``bufs`` (``ring_size`` slots, a power of two),
    ``head`` and ``tail``, ``max_usage`` (the slots a writer may fill), the ends open
    (``readers``, ``writers``, ``files``) and the page a read left for the next write
    (``tmp_page``, -1 when none)."""

    __slots__ = ("bufs", "ring_size", "max_usage", "head", "tail", "readers", "writers", "files", "tmp_page")

    def __init__(self, ring_size: int):
        self.bufs: list[pipe_buffer | None] = [None] * ring_size
        self.ring_size = self.max_usage = ring_size
        self.head = self.tail = 0
        self.readers = self.writers = 1
        self.files = 2
        self.tmp_page = -1

    def occupancy(self) -> int:
        """``pipe_occupancy``: the buffers in use."""
        return self.head - self.tail

    def empty(self) -> bool:
        return self.head == self.tail

    def full(self) -> bool:
        """``pipe_full``: ``max_usage`` buffers in use."""
        return self.occupancy() >= self.max_usage

    def buf(self, n: int) -> pipe_buffer:
        """``pipe_buf``: the slot of buffer ``n``."""
        return self.bufs[n & (self.ring_size - 1)]

    def __repr__(self) -> str:
        return f"<pipe_inode_info head={self.head} tail={self.tail} max_usage={self.max_usage}>"


def get_pipe_info(f) -> pipe_inode_info | None:
    """``get_pipe_info``: the pipe of an open file, None for any other file."""
    return f.f_inode.i_pipe


# ---- the page contents a buffer carries --------------------------------------------------------

def page_lines(k, page: int, offset: int, length: int) -> np.ndarray:
    """``copy_page_to_iter``: the content byte of each 64-byte line [offset, offset + length)
    covers, read from the page now (a page never written reads as zeros)."""
    a = k.mem_map
    first, end = offset // LINE, -(-(offset + length) // LINE)
    if not a.content_valid[page]:
        return np.zeros(end - first, np.uint8)
    return a.content[page, first:end].copy()


def fill_page(k, page: int, offset: int, length: int, value: int) -> None:
    """``copy_page_from_iter``: ``length`` bytes of ``value`` at ``offset``, line by line."""
    a = k.mem_map
    if not a.content_valid[page]:
        a.content[page, :] = 0
        a.content_valid[page] = 1
    a.content[page, offset // LINE:-(-(offset + length) // LINE)] = value


# ---- anonymous pipe buffers: the pages write() fills ------------------------------------------

def anon_pipe_buf_release(k, pipe: pipe_inode_info, buf: pipe_buffer) -> None:
    """``anon_pipe_buf_release``: keep the page for the next write when the pipe held its only
    reference and none is kept yet, else put it."""
    if k.mem_map.refcount[buf.page] == 1 and pipe.tmp_page < 0:
        pipe.tmp_page = buf.page
    else:
        folio_put(k, buf.page)


anon_pipe_buf_ops = pipe_buf_operations(anon_pipe_buf_release)


def anon_pipe_get_page(k, pipe: pipe_inode_info) -> int:
    """``anon_pipe_get_page``: the kept page, or a new one (GFP_HIGHUSER | __GFP_ACCOUNT);
    -1 when the allocator has none."""
    if pipe.tmp_page >= 0:
        page, pipe.tmp_page = pipe.tmp_page, -1
        return page
    page = pa.alloc_pages(k, G.GFP_HIGHUSER | G.__GFP_ACCOUNT, 0)
    return -1 if page is None else page


def pipe_buf_release(k, pipe: pipe_inode_info, n: int) -> None:
    """``pipe_buf_release``: the buffer's ops drop its page and the slot is free."""
    buf = pipe.buf(n)
    pipe.bufs[n & (pipe.ring_size - 1)] = None
    buf.ops.release(k, pipe, buf)


# ---- pipe(2), read, write, release -------------------------------------------------------------

def do_pipe2(k, files) -> tuple[int, int]:
    """``do_pipe2`` -> ``create_pipe_files``: a pipefs inode with a new pipe, its read end
    (O_RDONLY) and write end (O_WRONLY) in the two lowest free descriptors."""
    rfd = get_unused_fd(files)
    wfd = get_unused_fd(files, reserved=rfd)
    ino = new_inode(k, k.pipe_mnt, S_IFIFO | 0o600, "")
    ino.name = f"pipe:[{ino.i_ino}]"  # what /proc/PID/fd links to
    ino.i_nlink = 0  # no name in any directory: evicted with its last reference
    ino.i_fop = pipefifo_fops
    ino.i_pipe = pipe_inode_info(PIPE_DEF_BUFFERS)
    files.fdt[rfd] = alloc_file(k, ino, O_RDONLY, FMODE_READ | FMODE_STREAM)  # each holds the inode
    files.fdt[wfd] = alloc_file(k, ino, O_WRONLY, FMODE_WRITE | FMODE_STREAM)
    return rfd, wfd


def pipe_read(k, f, pos: int, count: int) -> tuple[int, np.ndarray]:
    """``anon_pipe_read``: up to ``count`` bytes from the oldest buffers on; 0 at the end of
    the data once no writer is left; EAGAIN when it would wait for a writer."""
    pipe, out, done = get_pipe_info(f), [], 0
    while done < count and not pipe.empty():
        buf = pipe.buf(pipe.tail)
        chars = min(buf.len, count - done)
        out.append(page_lines(k, buf.page, buf.offset, chars))
        done += chars
        buf.offset += chars
        buf.len -= chars
        if not buf.len:
            pipe_buf_release(k, pipe, pipe.tail)
            pipe.tail += 1
    if not done and pipe.writers:
        raise KernelError(errno.EAGAIN, "read of an empty pipe: it would wait for a writer")
    return done, np.concatenate(out) if out else np.zeros(0, np.uint8)


def pipe_write(k, f, pos: int, count: int, value: int) -> int:
    """``anon_pipe_write``: ``count`` bytes of ``value``; the bytes written (fewer when the
    pipe fills up), EAGAIN when it is full, EPIPE without a reader, ENOMEM without a page."""
    pipe = get_pipe_info(f)
    if not pipe.readers:
        raise KernelError(errno.EPIPE, "write to a pipe with no reader (SIGPIPE)")
    done = 0
    chars = count & (PAGE_SIZE - 1)
    if chars and not pipe.empty():
        last = pipe.buf(pipe.head - 1)
        end = last.offset + last.len
        if last.flags & PIPE_BUF_FLAG_CAN_MERGE and end + chars <= PAGE_SIZE:
            fill_page(k, last.page, end, chars, value)
            last.len += chars
            done = chars
    while done < count and not pipe.full():
        page = anon_pipe_get_page(k, pipe)
        if page < 0:
            if not done:
                raise KernelError(errno.ENOMEM, "pipe write: no page for a new buffer")
            break
        n = min(PAGE_SIZE, count - done)
        fill_page(k, page, 0, n, value)
        pipe.bufs[pipe.head & (pipe.ring_size - 1)] = pipe_buffer(page, 0, n, anon_pipe_buf_ops,
                                                                   PIPE_BUF_FLAG_CAN_MERGE)
        pipe.head += 1
        done += n
    if not done:
        raise KernelError(errno.EAGAIN, "write to a full pipe: it would wait for a reader")
    return done


def pipe_release(k, f) -> None:
    """``pipe_release``: one end fewer; the last file frees the pipe (``free_pipe_info``: every
    buffer released, the kept page freed)."""
    pipe = get_pipe_info(f)
    pipe.readers -= bool(f.f_mode & FMODE_READ)
    pipe.writers -= bool(f.f_mode & FMODE_WRITE)
    pipe.files -= 1
    if pipe.files:
        return
    for n in range(pipe.tail, pipe.head):
        pipe_buf_release(k, pipe, n)
    pipe.tail = pipe.head
    if pipe.tmp_page >= 0:
        folio_put(k, pipe.tmp_page)
        pipe.tmp_page = -1


def round_pipe_size(size: int) -> int:
    """``round_pipe_size``: bytes rounded up to a power of two of pages; 0 past the maximum."""
    if size > (1 << 31):  # the kernel's unsigned int argument
        return 0
    return max(PAGE_SIZE, 1 << (max(size, 1) - 1).bit_length())


def pipe_set_size(k, pipe: pipe_inode_info, arg: int) -> int:
    """``pipe_set_size`` -> ``pipe_resize_ring``: the ring of ``arg`` bytes rounded up; EINVAL
    for 0 or too large a size, EPERM past ``pipe-max-size`` (an unprivileged caller), EBUSY
    when the buffers in use would not fit. Returns the new size in bytes."""
    size = round_pipe_size(arg)
    if not size:
        raise KernelError(errno.EINVAL, f"F_SETPIPE_SZ {arg}: not a pipe size")
    if size > PIPE_MAX_SIZE:
        raise KernelError(errno.EPERM, f"F_SETPIPE_SZ {arg}: above pipe-max-size {PIPE_MAX_SIZE}")
    nr_slots = size >> PAGE_SHIFT
    if nr_slots < pipe.occupancy():
        raise KernelError(errno.EBUSY, f"F_SETPIPE_SZ {arg}: {pipe.occupancy()} buffers in use")
    bufs: list[pipe_buffer | None] = [None] * nr_slots
    for n in range(pipe.tail, pipe.head):
        bufs[(n - pipe.tail) & (nr_slots - 1)] = pipe.buf(n)
    pipe.head -= pipe.tail
    pipe.tail = 0
    pipe.bufs, pipe.ring_size, pipe.max_usage = bufs, nr_slots, nr_slots
    return size


def pipe_fcntl(k, f, cmd: int, arg: int) -> int:
    """``pipe_fcntl``: F_GETPIPE_SZ (the ring in bytes) and F_SETPIPE_SZ; EBADF for a file
    that is not a pipe."""
    pipe = get_pipe_info(f)
    if pipe is None:
        raise KernelError(errno.EBADF, "F_GETPIPE_SZ/F_SETPIPE_SZ: not a pipe")
    if cmd == F_SETPIPE_SZ:
        return pipe_set_size(k, pipe, arg)
    return pipe.max_usage * PAGE_SIZE


def pipe_page_refs(k) -> dict[int, int]:
    """The references the buffers of every open pipe hold, by folio head (``debug.check``'s
    refcount rule): each buffer holds one on its page's folio, the kept page one."""
    from ..mm.buddy import compound_head

    pipes = {id(f.f_inode): f.f_inode.i_pipe for t in k.tasks.values() if t.state == TASK_RUNNING
             for f in t.files.fdt.values() if f.f_inode.i_pipe is not None}
    refs: dict[int, int] = {}
    for pipe in pipes.values():
        pages = [pipe.buf(n).page for n in range(pipe.tail, pipe.head)]
        for page in pages + ([pipe.tmp_page] if pipe.tmp_page >= 0 else []):
            head = int(compound_head(k.mem_map, page))
            refs[head] = refs.get(head, 0) + 1
    return refs


pipefifo_fops = file_operations(read_iter=pipe_read, write_iter=pipe_write, fsync=None, fallocate=None,
                                read_cached=None, release=pipe_release)
