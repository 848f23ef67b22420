"""vmsplice(2) (``fs/splice.c``), Linux 6.18: user memory spliced into a pipe by reference,
or copied out of one.

On the write end of a pipe, ``vmsplice_to_pipe`` copies nothing: ``iter_to_pipe`` asks for
the user pages (``iov_iter_get_pages2`` -> ``get_user_pages_fast`` without FOLL_WRITE: a
FOLL_GET reference on each page, no pin, no unsharing), at most 16 pages a round, and makes
each page a pipe buffer (``user_page_pipe_buf_ops``) of the bytes of the range in it, until
the range or the pipe's free slots run out (``add_to_pipe``: EAGAIN, and the references of
the pages left over are dropped). The pipe's reader later copies from those pages, so it
sees what they hold at read time; the references keep the pages alive after the process
unmaps them, and keep a write fault from reusing one in place (``wp_can_reuse_anon_folio``
counts them), so a copy-on-write that should happen does. This is what the vmsplice cases
of ``cow.c`` check (CVE-2020-29374). On the read end, ``vmsplice_to_user`` copies the
pipe's data into user memory (``pipe_to_user``), as a read(2) into that memory would.

The checks come in the syscall's order: unknown flags (EINVAL), the descriptor (EBADF, also
for an end open for neither direction), the range (``import_iovec``: EINVAL for a negative
length, EFAULT beyond user space; at most MAX_RW_COUNT bytes), then the pipe (EBADF for
another file, EPIPE without a reader, EAGAIN when full: the simulator does not wait for the
other end, see ``fs/pipe.py``); a range GUP cannot take from its first page on is EFAULT.
"""

from __future__ import annotations

import errno

import numpy as np

from ..arch.x86.mm import fault
from ..errors import KernelError
from ..include.linux.fs import FMODE_READ, FMODE_WRITE
from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, ULONG_MAX
from ..mm.gup import get_user_pages_fast, put_pages
from .pipe import (LINE, PIPE_BUF_FLAG_GIFT, get_pipe_info, page_lines, pipe_buf_operations, pipe_buf_release,
                   pipe_buffer, pipe_inode_info)
from .read_write import MAX_RW_COUNT

# include/linux/splice.h
SPLICE_F_MOVE, SPLICE_F_NONBLOCK, SPLICE_F_MORE, SPLICE_F_GIFT = 0x01, 0x02, 0x04, 0x08
SPLICE_F_ALL = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT
SPLICE_F_NAMES = {"move": SPLICE_F_MOVE, "nonblock": SPLICE_F_NONBLOCK, "more": SPLICE_F_MORE, "gift": SPLICE_F_GIFT}
UIO_MAXIOV = 1024
ITER_PAGES = 16  # iter_to_pipe's pages[16]: the pages one iov_iter_get_pages2 round takes


def page_cache_pipe_buf_release(k, pipe: pipe_inode_info, buf: pipe_buffer) -> None:
    """``page_cache_pipe_buf_release``: ``put_page`` of the buffer's page."""
    put_pages(k, np.array([buf.page], np.int64))


user_page_pipe_buf_ops = pipe_buf_operations(page_cache_pipe_buf_release)


def add_to_pipe(k, pipe: pipe_inode_info, buf: pipe_buffer) -> int:
    """``add_to_pipe``: the buffer in the next slot; its length, or -EPIPE/-EAGAIN (no reader,
    full) after releasing it."""
    if not pipe.readers or pipe.full():
        buf.ops.release(k, pipe, buf)
        return -errno.EPIPE if not pipe.readers else -errno.EAGAIN
    pipe.bufs[pipe.head & (pipe.ring_size - 1)] = buf
    pipe.head += 1
    return buf.len


def iter_to_pipe(k, task, pipe: pipe_inode_info, addr: int, count: int, buf_flag: int) -> int:
    """``iter_to_pipe``: up to 16 pages a round, by reference; the bytes added, or -errno when
    none was."""
    total = 0
    while count:
        start = addr & (PAGE_SIZE - 1)
        nr = min(ITER_PAGES, -(-(count + start) >> PAGE_SHIFT))
        got, pages = get_user_pages_fast(k, task, addr - start, nr, 0)
        if got <= 0:
            return total or got
        left = min(count, got * PAGE_SIZE - start)
        addr, count = addr + left, count - left
        for i, page in enumerate(pages.tolist()):
            size = min(left, PAGE_SIZE - start)
            ret = add_to_pipe(k, pipe, pipe_buffer(page, start, size, user_page_pipe_buf_ops, buf_flag))
            if ret < 0:
                put_pages(k, pages[i + 1:])
                return total or ret
            total += ret
            left -= size
            start = 0
    return total


def vmsplice_to_pipe(k, task, f, addr: int, count: int, flags: int) -> int:
    """``vmsplice_to_pipe``: the pipe must take a reader's data (``wait_for_space``)."""
    pipe = get_pipe_info(f)
    if pipe is None:
        raise KernelError(errno.EBADF, "vmsplice: the descriptor is not a pipe")
    if not pipe.readers:
        raise KernelError(errno.EPIPE, "vmsplice: the pipe has no reader (SIGPIPE)")
    if pipe.full():
        raise KernelError(errno.EAGAIN, "vmsplice: the pipe is full (it would wait for a reader)")
    ret = iter_to_pipe(k, task, pipe, addr, count, PIPE_BUF_FLAG_GIFT if flags & SPLICE_F_GIFT else 0)
    if ret < 0:
        raise KernelError(-ret, f"vmsplice: {addr:#x} could not be spliced")
    return ret


def copy_to_user(k, task, addr: int, lines: np.ndarray) -> None:
    """The lines' bytes stored at ``addr`` on, through the process's page tables (a fault the
    kernel could not handle is EFAULT, not a signal), one store per 64-byte line."""
    addrs = (addr & ~(LINE - 1)) + LINE * np.arange(len(lines), dtype=np.int64)
    for value in np.unique(lines).tolist():
        fault.access(k, task, addrs[lines == value], True, value, gup=True)


def vmsplice_to_user(k, task, f, addr: int, count: int, flags: int) -> int:
    """``vmsplice_to_user`` -> ``__splice_from_pipe(pipe_to_user)``: the oldest buffers copied
    into [addr, addr + count); 0 once the pipe is empty and has no writer, EAGAIN while it
    waits for one."""
    pipe = get_pipe_info(f)
    if pipe is None:
        raise KernelError(errno.EBADF, "vmsplice: the descriptor is not a pipe")
    done = 0
    while done < count and not pipe.empty():
        buf = pipe.buf(pipe.tail)
        n = min(buf.len, count - done)
        copy_to_user(k, task, addr + done, page_lines(k, buf.page, buf.offset, n))
        buf.offset, buf.len, done = buf.offset + n, buf.len - n, done + n
        if not buf.len:
            pipe_buf_release(k, pipe, pipe.tail)
            pipe.tail += 1
    if not done and pipe.writers:
        raise KernelError(errno.EAGAIN, "vmsplice: the pipe is empty (it would wait for a writer)")
    return done


def sys_vmsplice(k, task, fd: int, addr: int, length: int, flags: int) -> int:
    """``vmsplice(fd, &(struct iovec){addr, length}, 1, flags)``: bytes spliced or copied."""
    from .open import fdget

    if flags & ~SPLICE_F_ALL or flags < 0:
        raise KernelError(errno.EINVAL, f"vmsplice: unknown flags {flags:#x}")
    f = fdget(task.files, fd)
    if not f.f_mode & (FMODE_READ | FMODE_WRITE):
        raise KernelError(errno.EBADF, "vmsplice: the descriptor is open for neither reading nor writing")
    addr, length = addr & ULONG_MAX, length & ULONG_MAX  # the iovec's void * and size_t
    if length & (1 << 63):  # copy_iovec_from_user: (ssize_t)iov_len < 0
        raise KernelError(errno.EINVAL, f"vmsplice: negative length {length - (1 << 64)}")
    length = min(length, MAX_RW_COUNT)  # import_ubuf
    if addr + length > TASK_SIZE:  # access_ok
        raise KernelError(errno.EFAULT, f"vmsplice: {addr:#x}+{length:#x} is not user memory")
    if not length:
        return 0
    if f.f_mode & FMODE_WRITE:
        return vmsplice_to_pipe(k, task, f, addr, length, flags)
    return vmsplice_to_user(k, task, f, addr, length, flags)
