"""Files with no path (``fs/anon_inodes.c``), Linux 6.18: ``anon_inode_create_getfile``.

An anonymous inode file (an io_uring ring, an eventfd, ...) is a file whose inode lives on
anon_inodefs (``k.anon_inode_mnt``), with the caller's file operations and its object in
``private_data``. Each such file gets an inode of its own (the "secure" variant io_uring asks
for), unlinked from birth, so it goes with the file's last reference (``release`` first).
"""

from __future__ import annotations

from ..include.linux.fs import FMODE_READ, FMODE_WRITE, file_operations
from .file_table import alloc_file
from .inode import new_inode

ANON_INODE_MODE = 0o600  # S_IRUSR | S_IWUSR, no file type (alloc_anon_inode)


def anon_inode_create_getfile(k, name: str, fops: file_operations, priv, flags: int):
    """A new file ``anon_inode:NAME`` open read-write with ``flags``, holding ``priv``."""
    ino = new_inode(k, k.anon_inode_mnt, ANON_INODE_MODE, f"anon_inode:{name}")
    ino.i_nlink, ino.i_fop = 0, fops
    f = alloc_file(k, ino, flags, FMODE_READ | FMODE_WRITE)
    f.private_data = priv
    return f
