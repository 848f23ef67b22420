"""Open file descriptions (``fs/file_table.c``), Linux 6.18: ``alloc_file``, ``fput``.

A ``struct file`` holds a reference to its inode from open to its last ``fput``; its own
references (``f_count``) are the descriptor-table slots and the VMAs that hold it.
"""

from __future__ import annotations

from ..include.linux.fs import file, files_struct
from .inode import iput


def alloc_file(k, ino, flags: int, fmode: int) -> file:
    """A new open file of ``ino`` (one reference, for the caller), with its readahead state
    initialised from the device (``file_ra_state_init``: ``ra_pages`` = the bdi's)."""
    bdev = ino.i_sb.s_bdev
    f = file(ino, flags, fmode, bdev.ra_pages if bdev is not None else 0)
    f.f_count = 1
    ino.i_count += 1
    return f


def fput(k, f: file) -> None:
    """Drop a reference; the last one releases the file (``__fput``)."""
    f.f_count -= 1
    if f.f_count == 0:
        __fput(k, f)


def __fput(k, f: file) -> None:
    """``__fput``: the file's ``release`` (a pipe end closes), then its inode reference goes
    (``iput``: an unlinked inode is evicted)."""
    fop = f.f_inode.i_fop
    if fop is not None and fop.release is not None:
        fop.release(k, f)
    iput(k, f.f_inode)


release_file = __fput  # for class bodies, where a name with two leading underscores is mangled


def dup_fd(old: files_struct) -> files_struct:
    """``dup_fd`` (fork's ``copy_files``): the child's table holds the same open files, each
    with one more reference (file positions are shared, as in the kernel)."""
    new = files_struct()
    for fd, f in old.fdt.items():
        f.f_count += 1
        new.fdt[fd] = f
    return new


def exit_files(k, files: files_struct) -> None:
    """``exit_files`` -> ``close_files``: every descriptor is closed."""
    for fd in sorted(files.fdt):
        fput(k, files.fdt.pop(fd))
