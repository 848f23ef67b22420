"""fsync and fdatasync (``fs/sync.c``), Linux 6.18: ``vfs_fsync_range`` calls the file's
``fsync`` (ext4: write the dirty folios and wait; tmpfs: nothing), for the whole file."""

from __future__ import annotations

from ..include.linux.fs import MAX_LFS_FILESIZE


def vfs_fsync(k, f, datasync: bool) -> None:
    """``vfs_fsync``: ``vfs_fsync_range(file, 0, LLONG_MAX, datasync)``; a directory has
    nothing cached to write."""
    if f.f_inode.i_fop is not None:
        f.f_inode.i_fop.fsync(k, f, 0, MAX_LFS_FILESIZE, datasync)
