"""Path lookup, creation and removal (``fs/namei.c``), Linux 6.18.

Paths are absolute and resolved against the mounts (``lookup_mnt``); each filesystem keeps its
names in ``s_dentries`` (path below its root -> inode), the dcache of this simulator.
``vfs_create``/``vfs_mkdir`` need the parent directory to exist (ENOENT) and be a directory
(ENOTDIR); ``vfs_unlink`` removes a name (EISDIR for a directory), and the inode goes when
its last open file is closed.
"""

from __future__ import annotations

import errno
import posixpath

from ..errors import KernelError
from ..include.linux.fs import S_IFDIR, S_IFREG
from .inode import evict, new_inode
from .namespace import lookup_mnt

PATH_MAX, NAME_MAX = 4096, 255


def getname(path) -> str:
    """The normalised absolute path (``getname`` + the walk's handling of ``.``/``..``)."""
    if not isinstance(path, str):
        raise KernelError(errno.EFAULT, f"path must be a string, not {path!r}")
    if not path:
        raise KernelError(errno.ENOENT, "empty path")
    if len(path) >= PATH_MAX:
        raise KernelError(errno.ENAMETOOLONG, f"path of {len(path)} bytes (PATH_MAX {PATH_MAX})")
    if "\0" in path:
        raise KernelError(errno.EINVAL, "path contains a NUL byte")
    if not path.startswith("/"):
        raise KernelError(errno.ENOENT, f"{path!r}: only absolute paths (there is no working directory)")
    norm = posixpath.normpath(path)
    norm = "/" + norm.lstrip("/")
    if any(len(part) > NAME_MAX for part in norm.split("/")):
        raise KernelError(errno.ENAMETOOLONG, f"{path!r}: a name is longer than {NAME_MAX} bytes")
    return norm


def lookup(k, path: str):
    """The inode at ``path``, or None; ENOENT/ENOTDIR when a parent is missing or a file."""
    path = getname(path)
    sb, rel = lookup_mnt(k, path)
    if rel:
        parent = sb.s_dentries.get(posixpath.dirname(rel))
        if parent is None:
            raise KernelError(errno.ENOENT, f"{posixpath.dirname(path)}: no such directory")
        if not parent.is_dir:
            raise KernelError(errno.ENOTDIR, f"{posixpath.dirname(path)}: not a directory")
    return sb.s_dentries.get(rel)


def _new(k, path: str, mode: int):
    path = getname(path)
    if lookup(k, path) is not None:
        raise KernelError(errno.EEXIST, f"{path}: exists")
    sb, rel = lookup_mnt(k, path)
    ino = new_inode(k, sb, mode, path)
    sb.s_dentries[rel] = ino
    return ino


def vfs_create(k, path: str):
    """A new empty regular file at ``path`` (``open(O_CREAT)`` of a missing name)."""
    return _new(k, path, S_IFREG | 0o644)


def vfs_mkdir(k, path: str):
    return _new(k, path, S_IFDIR | 0o755)


def vfs_unlink(k, path: str) -> None:
    """``vfs_unlink``: the name goes; the inode with it unless files still hold it open."""
    path = getname(path)
    ino = lookup(k, path)
    if ino is None:
        raise KernelError(errno.ENOENT, f"{path}: no such file")
    if ino.is_dir:
        raise KernelError(errno.EISDIR, f"{path}: is a directory")
    sb, rel = lookup_mnt(k, path)
    del sb.s_dentries[rel]
    ino.i_nlink = 0
    ino.name = f"{path} (deleted)"
    if ino.i_count == 0:
        evict(k, ino)
