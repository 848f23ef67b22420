"""Mounts (``fs/namespace.c``, ``fs/super.c``), Linux 6.18: the machine's filesystems.

``mnt_init`` runs at boot: the disks of the machine description are added, then its mounts
(ext4 on a disk, tmpfs with ``size=`` and ``huge=``), each a ``super_block`` in
``k.mounts`` by mount point, the directories they sit on created in the filesystem below;
and the internal tmpfs (``shm_mnt``) that backs shared anonymous memory, and pipefs
(``pipe_mnt``, ``init_pipe_fs``) where pipes live. The default machine
has one disk (``vda``, as this host's) with ext4 at ``/`` and tmpfs at ``/dev/shm`` (half of
RAM, tmpfs's default size). ``lookup_mnt`` finds the mount holding a path.
"""

from __future__ import annotations

import errno
import posixpath

from ..block.genhd import add_disk
from ..errors import ConfigError, KernelError
from ..include.linux.fs import MAX_LFS_FILESIZE, S_IFDIR, super_block
from ..include.linux.pagemap import MAX_PAGECACHE_ORDER
from .ext4 import EXT4_MAX_FILESIZE, EXT4_MAX_PAGECACHE_ORDER, ext4_aops, ext4_file_operations
from .inode import new_inode

SHM_MNT_DEV = (0, 1)  # the internal mount's anonymous device, as /proc/PID/maps shows it
PIPEFS_DEV = (0, 15)  # pipefs's anonymous device, as fstat() of a pipe shows it on this host's 6.18
FIRST_ANON_MINOR = 2  # then get_anon_bdev hands out the next minors in mount order


def mnt_init(k) -> None:
    """``mnt_init`` + the boot's mounts: disks, then filesystems in declaration order."""
    from ..mm.shmem import SHMEM_HUGE_NEVER, SHMEM_HUGE_OPTIONS, shmem_aops, shmem_file_operations

    for spec in k.desc.storage_disks():
        add_disk(k, spec)
    k.shm_mnt = _mount_sb(k, super_block("tmpfs", SHM_MNT_DEV, None, MAX_LFS_FILESIZE, 0, -1, "",
                                         shmem_aops, shmem_file_operations))
    k.pipe_mnt = super_block("pipefs", PIPEFS_DEV, None, MAX_LFS_FILESIZE, 0, -1, "", None, None)  # no root: kern_mount
    minor = FIRST_ANON_MINOR
    for m in sorted(k.desc.storage_mounts(), key=lambda m: m.path.count("/") if m.path != "/" else 0):
        if m.fstype == "ext4":
            bdev = k.block_devices[m.disk]
            sb = super_block("ext4", bdev.bd_dev, bdev, EXT4_MAX_FILESIZE, EXT4_MAX_PAGECACHE_ORDER, -1, m.path,
                             ext4_aops, ext4_file_operations)
        else:
            size = m.size if m.size is not None else (k.vm_total_pages << k.arch.page_shift) // 2
            if m.huge not in SHMEM_HUGE_OPTIONS:
                raise ConfigError(f"mount {m.path}: huge={m.huge!r} (expected one of {', '.join(SHMEM_HUGE_OPTIONS)})")
            order = 0 if m.huge == SHMEM_HUGE_NEVER else MAX_PAGECACHE_ORDER  # mapping_set_large_folios
            sb = super_block("tmpfs", (0, minor), None, MAX_LFS_FILESIZE, order, size >> k.arch.page_shift, m.path,
                             shmem_aops, shmem_file_operations, m.huge)
            minor += 1
        if m.path != "/":
            mkdir_p(k, posixpath.dirname(m.path))
        k.mounts[m.path] = _mount_sb(k, sb)
    if "/" not in k.mounts:
        raise ConfigError("no filesystem is mounted at /")


def _mount_sb(k, sb: super_block) -> super_block:
    root = new_inode(k, sb, S_IFDIR | 0o755, sb.mountpoint or "/")
    root.i_count += 1  # the mount holds its root
    sb.s_dentries[""] = root
    return sb


def lookup_mnt(k, path: str) -> tuple[super_block, str]:
    """The mount holding the absolute normalised ``path`` and the path below its root."""
    best = "/"
    for mp in k.mounts:
        if mp != "/" and (path == mp or path.startswith(mp + "/")) and len(mp) > len(best):
            best = mp
    rel = path[len(best):] if best != "/" else path
    return k.mounts[best], rel.strip("/")


def mkdir_p(k, path: str) -> None:
    """The directories of ``path`` that do not exist yet (``mkdir -p``)."""
    from .namei import vfs_mkdir

    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/" + "/".join(parts[:i])
        sb, rel = lookup_mnt(k, sub)
        ino = sb.s_dentries.get(rel)
        if ino is None:
            vfs_mkdir(k, sub)
        elif not ino.is_dir:
            raise KernelError(errno.ENOTDIR, f"{sub}: not a directory")
