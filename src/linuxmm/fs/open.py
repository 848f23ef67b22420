"""open, close and truncate (``fs/open.c``, ``fs/file.c``, ``fs/attr.c``), Linux 6.18.

``do_sys_open`` resolves the path (creating the file with O_CREAT), checks what the kernel
checks (EISDIR for a directory opened for writing, ENOENT, ENOTDIR), truncates with O_TRUNC,
and installs a new ``file`` in the lowest free descriptor (``alloc_fd``; EMFILE past
RLIMIT_NOFILE). ``close_fd`` drops it. ``do_truncate`` sets a new size: the cache past it is
dropped (``truncate_setsize`` -> ``truncate_pagecache``), ext4 frees the blocks past it,
tmpfs gives its pages back. ``vfs_fallocate`` checks a fallocate(2) request and hands it to
the filesystem (``ext4_fallocate``, ``shmem_fallocate``).
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.fs import (i_size_write, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE, O_ACCMODE,
                                O_CREAT, O_LARGEFILE, O_RDONLY, O_TRUNC, O_WRONLY)
from ..include.linux.falloc import (FALLOC_FL_ALLOCATE_RANGE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE,
                                    FALLOC_FL_KEEP_SIZE, FALLOC_FL_MODE_MASK, FALLOC_FL_PUNCH_HOLE,
                                    FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_WRITE_ZEROES, FALLOC_FL_ZERO_RANGE)
from ..include.linux.mm_types import PAGE_SHIFT
from ..mm.rmap import unmap_mapping_pages
from ..mm.truncate import LLONG_MAX, truncate_pagecache
from .file_table import alloc_file, fput
from .namei import lookup, vfs_create

RLIMIT_NOFILE = 1024  # the default soft limit
FALLOC_MODES_ALONE = {FALLOC_FL_ALLOCATE_RANGE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE, FALLOC_FL_PUNCH_HOLE,
                      FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_WRITE_ZEROES}  # one mode at a time


def fmode_for(flags: int) -> int:
    """``OPEN_FMODE``: the access the O_ACCMODE bits grant, plus seek and positioned I/O."""
    acc = flags & O_ACCMODE
    mode = FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
    mode |= FMODE_READ if acc in (O_RDONLY, 2) else 0
    mode |= FMODE_WRITE if acc in (O_WRONLY, 2) else 0
    return mode


def do_sys_open(k, files, path: str, flags: int) -> int:
    """``do_sys_openat2``: a new descriptor for ``path``."""
    ino = lookup(k, path)
    if ino is None:
        if not flags & O_CREAT:
            raise KernelError(errno.ENOENT, f"{path}: no such file or directory")
        ino = vfs_create(k, path)
    fmode = fmode_for(flags)
    if ino.is_dir and fmode & FMODE_WRITE:
        raise KernelError(errno.EISDIR, f"{path}: is a directory")
    fd = get_unused_fd(files)
    if flags & O_TRUNC and fmode & FMODE_WRITE and not ino.is_dir:
        do_truncate(k, ino, 0)
    files.fdt[fd] = alloc_file(k, ino, flags | O_LARGEFILE, fmode)
    return fd


def get_unused_fd(files, reserved: int = -1) -> int:
    """``get_unused_fd_flags``: the lowest free descriptor (besides one ``reserved`` already by
    the same call); EMFILE past RLIMIT_NOFILE."""
    fd = next(i for i in range(RLIMIT_NOFILE + 1) if i not in files.fdt and i != reserved)
    if fd == RLIMIT_NOFILE:
        raise KernelError(errno.EMFILE, f"too many open files (RLIMIT_NOFILE {RLIMIT_NOFILE})")
    return fd


def fdget(files, fd):
    """The open file of descriptor ``fd``; EBADF if there is none."""
    f = files.fdt.get(fd) if isinstance(fd, int) and not isinstance(fd, bool) else None
    if f is None:
        raise KernelError(errno.EBADF, f"fd {fd!r} is not an open file descriptor")
    return f


def close_fd(k, files, fd: int) -> None:
    fdget(files, fd)
    fput(k, files.fdt.pop(fd))


def do_truncate(k, ino, length: int) -> None:
    """``do_truncate`` -> ``notify_change`` -> the filesystem's setattr: ``i_size`` becomes
    ``length``; on shrinking, the cache and the storage past it go."""
    from ..mm.shmem import shmem_undo_range
    from .ext4 import ext4_free_range, ext4_truncate_partial

    if length > ino.i_sb.s_maxbytes:
        raise KernelError(errno.EFBIG, f"size {length} exceeds the filesystem's maximum {ino.i_sb.s_maxbytes}")
    old = ino.i_size
    i_size_write(ino, length)
    if length >= old:
        return
    if ino.i_mapping.swapbacked:  # shmem_setattr: unmap, then shmem_truncate_range
        unmap_mapping_pages(ino.i_mapping, -(-length >> PAGE_SHIFT), LLONG_MAX >> PAGE_SHIFT)
        shmem_undo_range(k, ino, length, -1)
    else:
        truncate_pagecache(k, ino, length)
        ext4_free_range(ino, -(-length >> PAGE_SHIFT))
        ext4_truncate_partial(k, ino, length)


def vfs_fallocate(k, f, mode: int, offset: int, length: int) -> None:
    """``vfs_fallocate``'s checks in the kernel's order, then the filesystem's ``fallocate``:
    EINVAL for a negative offset or a length not above 0; EOPNOTSUPP for unknown bits, a hole
    punched without KEEP_SIZE or KEEP_SIZE with COLLAPSE/INSERT/WRITE_ZEROES; EBADF unless
    open for writing; EISDIR for a directory; EFBIG past the filesystem's maximum size."""
    if offset < 0 or length <= 0:
        raise KernelError(errno.EINVAL, f"fallocate: offset {offset} and length {length} (must be > 0)")
    kind = mode & FALLOC_FL_MODE_MASK
    if mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE) or kind not in FALLOC_MODES_ALONE:
        raise KernelError(errno.EOPNOTSUPP, f"fallocate: mode {mode:#x} is not a valid combination")
    if kind == FALLOC_FL_PUNCH_HOLE and not mode & FALLOC_FL_KEEP_SIZE:
        raise KernelError(errno.EOPNOTSUPP, "fallocate: PUNCH_HOLE needs KEEP_SIZE")
    if kind in (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_WRITE_ZEROES) and mode & FALLOC_FL_KEEP_SIZE:
        raise KernelError(errno.EOPNOTSUPP, f"fallocate: mode {mode:#x} cannot keep the size")
    if not f.f_mode & FMODE_WRITE:
        raise KernelError(errno.EBADF, "fallocate: the file is not open for writing")
    ino = f.f_inode
    if ino.is_dir:
        raise KernelError(errno.EISDIR, "fallocate: is a directory")
    if offset + length > ino.i_sb.s_maxbytes:
        raise KernelError(errno.EFBIG, f"fallocate: {offset} + {length} exceeds the maximum file size {ino.i_sb.s_maxbytes}")
    ino.i_fop.fallocate(k, f, mode, offset, length)


def do_ftruncate(k, f, length: int) -> None:
    """``do_ftruncate``: EINVAL for a negative length, a non-regular file or a file not
    open for writing."""
    if length < 0:
        raise KernelError(errno.EINVAL, f"negative length {length}")
    if f.f_inode.is_dir or not f.f_mode & FMODE_WRITE:
        raise KernelError(errno.EINVAL, "ftruncate: not a regular file open for writing")
    do_truncate(k, f.f_inode, length)
