"""Inode life cycle (``fs/inode.c``), Linux 6.18: ``new_inode``, ``iput``, ``evict``.

A regular file's inode comes with its page cache (an ``address_space`` whose xarray is a new
root in ``k.page_cache``, registered with the reverse map so rmap finds its pages). The inode
lives while it has links (``i_nlink``) or references (``i_count``: open files); when both
are gone ``evict`` empties its page cache (``truncate_inode_pages_final``), gives its blocks
back (ext4) or its size charge (shmem), and frees the xarray.
"""

from __future__ import annotations

from ..include.linux.fs import F_SEAL_SEAL, S_IFMT, S_IFREG, address_space, inode
from ..include.linux.mm_types import VM_NORESERVE
from ..lib.xarray import xa_destroy, xa_init
from ..mm.truncate import truncate_inode_pages_final


def new_inode(k, sb, mode: int, name: str) -> inode:
    """``new_inode`` + the filesystem's setup: a directory, or a regular file with an empty
    page cache whose folio orders are the filesystem's (``mapping_set_folio_order_range``)."""
    ino = inode(k.rmap.get_next_ino(), mode, sb, name)
    if mode & S_IFMT == S_IFREG:
        k.page_cache, xid = xa_init(k.page_cache)
        ino.i_mapping = address_space(ino.i_ino, ino, xid, sb.max_folio_order, sb.s_aops)
        ino.i_fop = sb.s_fop
        ino.seals = F_SEAL_SEAL if ino.i_mapping.swapbacked else 0  # shmem_get_inode: no sealing
        ino.shmem_flags = VM_NORESERVE if ino.i_mapping.swapbacked else 0  # shmem_mknod's tmpfs file
        k.rmap.address_spaces[ino.i_ino] = ino.i_mapping
        k.rmap.seq += 1
    sb.s_inodes[ino.i_ino] = ino
    return ino


def iput(k, ino: inode) -> None:
    """Drop a reference; an unlinked inode goes with its last one (``iput_final``)."""
    ino.i_count -= 1
    if ino.i_count == 0 and ino.i_nlink == 0:
        evict(k, ino)


def evict(k, ino: inode) -> None:
    """``evict``: the filesystem's ``evict_inode`` (page cache emptied, blocks or shmem charge
    returned), then the inode and its xarray are freed."""
    from ..fs.ext4 import ext4_free_range
    from ..mm.shmem import shmem_evict_inode

    mapping = ino.i_mapping
    if mapping is not None:
        if mapping.swapbacked:
            shmem_evict_inode(k, ino)
        else:
            truncate_inode_pages_final(k, mapping)
            ext4_free_range(ino, 0)
        xa_destroy(k.page_cache, mapping.xa_id)
        del k.rmap.address_spaces[ino.i_ino]
        k.rmap.seq += 1
    del ino.i_sb.s_inodes[ino.i_ino]
