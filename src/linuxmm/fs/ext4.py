"""ext4's page-cache side (``fs/ext4/inode.c``, ``extents.c``, ``mballoc.c``), Linux 6.18.

What the page cache asks of ext4, as ``ext4_aops`` (``address_space_operations``):

* ``ext4_read_folios`` (``ext4_read_folio``/``ext4_readahead`` -> ``ext4_mpage_readpages``):
  a folio's pages are looked up in the inode's extents (``ext4_map_blocks``); holes and pages
  past ``i_size`` are zeroed without I/O, runs of contiguous blocks are read by one bio each,
  and the folio is up to date when its last bio completes;
* ``ext4_write_begin`` (``ext4_da_write_begin``): the folio from ``write_begin_get_folio``
  (order from the write's length, up to ``EXT4_MAX_PAGECACHE_ORDER`` = 9 for 4 KiB blocks:
  ``ext4_set_inode_mapping_order``, 6.16+); the written pages get disk blocks now (ENOSPC
  here, as delayed allocation's reservation would fail), placed after the file's last extent
  when free, so a file written in order is one extent;
* ``ext4_writepages``: each dirty folio is cleaned for I/O, put under writeback, its pages
  below ``i_size`` copied to their blocks (blocks allocated for pages dirtied through mmap)
  and written by bios whose completion ends the writeback;
* truncation frees the blocks past the new end (``ext4_truncate`` ->
  ``ext4_ext_remove_space``), eviction all of them;
* ``ext4_fallocate``: mode 0 and KEEP_SIZE allocate blocks (an unaligned new end of file
  has its partial block zeroed through the cache, which caches it), PUNCH_HOLE|KEEP_SIZE frees
  the whole blocks of a range and zeroes its partial ones (``ext4_punch_hole``). A large folio
  straddling a hole's edge is zeroed in place where 6.18 splits it first
  (``truncate_inode_partial_folio``): the page cache then keeps more pages than the kernel.

Disk contents are the block device's rows (``include/linux/blkdev.py``): one byte per 64-byte
line, 64 per block, as in memory.
"""

from __future__ import annotations

import errno
from bisect import bisect_right

import numpy as np

from ..block.bio import REQ_OP_READ, REQ_OP_WRITE
from ..block.blk_core import submit_bio
from .fs_writeback import inode_io_list_del
from ..errors import KernelError
from ..include.linux.blkdev import SECTOR_SHIFT
from ..include.linux.falloc import (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE,
                                    FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE)
from ..include.linux.fs import I_DIRTY_PAGES, address_space_operations, file_operations, i_size_write
from ..include.linux.mm_types import PAGE_SHIFT
from ..include.linux import gfp as G
from ..include.linux.page_flags import PG_dirty, PG_uptodate
from ..include.linux.pagemap import FGP_ACCESSED, FGP_CREAT, FGP_LOCK, MAX_PAGECACHE_ORDER
from ..mm import filemap as FM
from ..mm.truncate import folio_zero_range, truncate_pagecache_range

EXT4_BLOCK_BITS = 12  # 4 KiB blocks (mkfs.ext4's default)
# EXT4_MAX_PAGECACHE_ORDER: min(MAX_PAGECACHE_ORDER, 11 + blkbits - PAGE_SHIFT)
EXT4_MAX_PAGECACHE_ORDER = min(MAX_PAGECACHE_ORDER, 11 + EXT4_BLOCK_BITS - PAGE_SHIFT)
EXT4_MAX_FILESIZE = ((1 << 32) - 1) << EXT4_BLOCK_BITS  # ext4_max_size for extent files
EXT_MAX_BLOCKS = (1 << 32) - 1  # the logical block numbers an extent tree can address
EXT4_FALLOC_MODES = (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE
                     | FALLOC_FL_INSERT_RANGE)  # ext4_fallocate's supported modes (6.18)


# ---- blocks ---------------------------------------------------------------------------------

def ext4_map_blocks(inode, lblk: int) -> tuple[int, int]:
    """(first disk block, pages in the run) for file page ``lblk``; (-1, pages to the next
    extent) in a hole (the count is large past the last extent)."""
    ext = inode.i_extents
    i = bisect_right(ext, lblk, key=lambda e: e[0]) - 1
    if i >= 0 and lblk < ext[i][0] + ext[i][2]:
        off = lblk - ext[i][0]
        return ext[i][1] + off, ext[i][2] - off
    nxt = ext[i + 1][0] if i + 1 < len(ext) else 1 << 62
    return -1, nxt - lblk


def _bdev_grow(bdev, nr_blocks: int) -> None:
    if nr_blocks > bdev.data.shape[0]:
        grown = np.zeros((max(nr_blocks, 2 * bdev.data.shape[0], 256), bdev.data.shape[1]), np.uint8)
        grown[:bdev.data.shape[0]] = bdev.data
        bdev.data = grown


def ext4_mb_new_blocks(bdev, goal: int, count: int) -> tuple[int, int]:
    """``ext4_mb_new_blocks``: (first block, count) of a free run, at ``goal`` (the block
    after the file's last extent) when that is free, else from the freed runs or the end of
    the used area; its rows read as zeros. Raises ENOSPC on a full disk."""
    used = bdev.nr_blocks - sum(n for _, n in bdev.free_blocks)
    if used + count > bdev.capacity_blocks:
        raise KernelError(errno.ENOSPC, f"{bdev.bd_disk}: no space left on device")
    if goal == bdev.nr_blocks or not bdev.free_blocks:
        start = bdev.nr_blocks
        bdev.nr_blocks += count
        _bdev_grow(bdev, bdev.nr_blocks)
    else:
        start, avail = bdev.free_blocks.pop()
        if avail > count:
            bdev.free_blocks.append((start + count, avail - count))
        count = min(count, avail)
    bdev.data[start:start + count] = 0
    return start, count


def ext4_alloc_range(inode, first: int, nr: int) -> None:
    """Blocks for the holes among file pages [first, first + nr) (``ext4_ext_map_blocks``
    with EXT4_GET_BLOCKS_CREATE), merged into the extent list."""
    bdev, lblk = inode.i_sb.s_bdev, first
    while lblk < first + nr:
        pblk, run = ext4_map_blocks(inode, lblk)
        run = min(run, first + nr - lblk)
        if pblk < 0:
            last = max(inode.i_extents, key=lambda e: e[0], default=None)
            goal = last[1] + last[2] if last is not None else bdev.nr_blocks
            pblk, run = ext4_mb_new_blocks(bdev, goal, run)
            _insert_extent(inode.i_extents, lblk, pblk, run)
        lblk += run


def _insert_extent(ext: list[list[int]], lblk: int, pblk: int, n: int) -> None:
    i = bisect_right(ext, lblk, key=lambda e: e[0])
    if i > 0 and ext[i - 1][0] + ext[i - 1][2] == lblk and ext[i - 1][1] + ext[i - 1][2] == pblk:
        ext[i - 1][2] += n  # ext4_ext_try_to_merge
    else:
        ext.insert(i, [lblk, pblk, n])


def ext4_free_range(inode, first: int, end: int = EXT_MAX_BLOCKS) -> None:
    """``ext4_ext_remove_space``: the blocks of file pages [first, end) (default: to the end)
    go back to the disk's free runs."""
    bdev, keep = inode.i_sb.s_bdev, []
    for lblk, pblk, n in inode.i_extents:
        lo, hi = max(first, lblk), min(end, lblk + n)
        if lo >= hi:
            keep.append([lblk, pblk, n])
            continue
        if lo > lblk:
            keep.append([lblk, pblk, lo - lblk])
        if hi < lblk + n:
            keep.append([hi, pblk + hi - lblk, lblk + n - hi])
        bdev.free_blocks.append((pblk + lo - lblk, hi - lo))
    inode.i_extents = keep


# ---- address_space_operations -----------------------------------------------------------------

def ext4_read_folios(k, mapping, pfns: list[int]) -> None:
    """``ext4_mpage_readpages``: each (locked) folio's mapped runs read by bios, holes zeroed;
    the last completion marks it up to date and unlocks it."""
    for pfn in pfns:
        _read_folio(k, mapping.host, pfn)


def _read_folio(k, inode, pfn: int) -> None:
    a = k.mem_map
    index, nr = int(a.index[pfn]), FM.folio_nr_pages(k, pfn)
    end = min(nr, max(0, -(-inode.i_size >> PAGE_SHIFT) - index))  # pages holding file data
    a.content_valid[pfn:pfn + nr] = 0
    pending = [1]  # bios in flight, plus one until all are submitted

    def end_io(k, status, page=0, blocks=(0, 0)):
        if blocks[1]:
            a.content[pfn + page:pfn + page + blocks[1]] = inode.i_sb.s_bdev.data[blocks[0]:blocks[0] + blocks[1]]
            a.content_valid[pfn + page:pfn + page + blocks[1]] = 1
        pending[0] -= 1
        if pending[0] == 0:
            FM.folio_end_read(k, pfn, status == 0)

    page = 0
    while page < end:
        pblk, run = ext4_map_blocks(inode, index + page)
        run = min(run, end - page)
        if pblk >= 0:
            pending[0] += 1
            submit_bio(k, inode.i_sb.s_bdev, REQ_OP_READ, pblk << (EXT4_BLOCK_BITS - SECTOR_SHIFT),
                       run << EXT4_BLOCK_BITS, lambda k, s, p=page, b=(pblk, run): end_io(k, s, p, b))
        page += run
    end_io(k, 0)


def ext4_write_begin(k, filp, pos: int, nbytes: int) -> int:
    inode = filp.f_inode
    ext4_alloc_range(inode, pos >> PAGE_SHIFT, ((pos + nbytes - 1) >> PAGE_SHIFT) - (pos >> PAGE_SHIFT) + 1)
    return FM.write_begin_get_folio(k, filp, pos, nbytes)


def ext4_writepages(k, mapping, first: int, last: int) -> None:
    """``ext4_writepages``: every dirty folio of pages [first, last] written out."""
    inode = mapping.host
    for _, pfn in FM.filemap_folios(k, mapping, first, last):
        if FM.folio_test(k, pfn, PG_dirty):
            FM.folio_lock(k, pfn)
            FM.folio_wait_writeback(k, pfn)
            if FM.folio_clear_dirty_for_io(k, mapping, pfn):
                _write_folio(k, inode, pfn)
            FM.folio_unlock(k, pfn)
    if not any(FM.folio_test(k, pfn, PG_dirty) for _, pfn in FM.filemap_folios(k, mapping, 0, 1 << 62)):
        inode.i_state &= ~I_DIRTY_PAGES  # all written: off the dirty list
        inode_io_list_del(inode)


def _write_folio(k, inode, pfn: int) -> None:
    """``mpage_submit_folio``: the folio's pages below ``i_size`` go to their blocks."""
    a, bdev = k.mem_map, inode.i_sb.s_bdev
    index, nr = int(a.index[pfn]), FM.folio_nr_pages(k, pfn)
    end = min(nr, max(0, -(-inode.i_size >> PAGE_SHIFT) - index))
    FM.folio_start_writeback(k, inode.i_mapping, pfn)
    if end:
        ext4_alloc_range(inode, index, end)
    pending = [1]

    def end_io(k, status):
        pending[0] -= 1
        if pending[0] == 0:
            FM.folio_end_writeback(k, inode.i_mapping, pfn)

    page = 0
    while page < end:
        pblk, run = ext4_map_blocks(inode, index + page)
        run = min(run, end - page)
        rows = slice(pfn + page, pfn + page + run)
        bdev.data[pblk:pblk + run] = a.content[rows] * a.content_valid[rows, None]
        pending[0] += 1
        submit_bio(k, bdev, REQ_OP_WRITE, pblk << (EXT4_BLOCK_BITS - SECTOR_SHIFT), run << EXT4_BLOCK_BITS, end_io)
        page += run
    end_io(k, 0)


ext4_aops = address_space_operations(
    read_folios=ext4_read_folios, write_begin=ext4_write_begin, write_end=FM.generic_write_end,
    dirty_folio=FM.filemap_dirty_folio, writepages=ext4_writepages, swapbacked=False)


def ext4_file_read_iter(k, filp, pos: int, count: int):
    return FM.filemap_read(k, filp, pos, count)


def ext4_file_write_iter(k, filp, pos: int, count: int, value: int) -> int:
    """``ext4_buffered_write_iter`` -> ``generic_perform_write``."""
    return FM.generic_perform_write(k, filp, pos, count, value)


def ext4_sync_file(k, filp, start: int, end: int, datasync: bool) -> None:
    """``ext4_sync_file``: write the range's dirty folios and wait (``file_write_and_wait_range``;
    the journal commit that follows is not modelled)."""
    FM.filemap_write_and_wait_range(k, filp.f_mapping, start, end)


def ext4_fallocate(k, filp, mode: int, offset: int, length: int) -> None:
    """``ext4_fallocate``: PUNCH_HOLE (``ext4_punch_hole``), or blocks for the range's holes
    (``ext4_alloc_file_blocks``: unwritten extents, read as zeros) and, without KEEP_SIZE,
    ``i_size`` extended to its end, the partial blocks between the old and the new end zeroed
    (6.18's ``ext4_alloc_file_blocks`` -> ``ext4_zero_partial_blocks``: the host caches the
    last page after an unaligned extension). EOPNOTSUPP for modes ext4 lacks; COLLAPSE_RANGE,
    INSERT_RANGE and ZERO_RANGE are not simulated (EOPNOTSUPP)."""
    inode = filp.f_inode
    if mode & ~EXT4_FALLOC_MODES or mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_ZERO_RANGE):
        raise KernelError(errno.EOPNOTSUPP, f"ext4 fallocate: mode {mode:#x} is not supported (or not simulated)")
    if mode & FALLOC_FL_PUNCH_HOLE:
        ext4_punch_hole(k, inode, offset, length)
        return
    first = offset >> EXT4_BLOCK_BITS
    ext4_alloc_range(inode, first, ((offset + length - 1) >> EXT4_BLOCK_BITS) - first + 1)
    old_size = inode.i_size
    if not mode & FALLOC_FL_KEEP_SIZE and offset + length > old_size:
        i_size_write(inode, offset + length)
        ext4_zero_partial_blocks(k, inode, old_size, offset + length - old_size)


def ext4_punch_hole(k, inode, offset: int, length: int) -> None:
    """``ext4_punch_hole``: the range (clipped to the page holding EOF) is written back if
    dirty, its whole pages unmapped and dropped from the cache and its partial ones zeroed
    (``truncate_pagecache_range``), then its partial blocks zeroed through the cache
    (``ext4_zero_partial_blocks``: the folios dirtied) and its whole blocks freed."""
    if offset >= inode.i_size:
        return
    end = min(offset + length, (inode.i_size + (1 << PAGE_SHIFT) - 1) & -(1 << PAGE_SHIFT))
    FM.filemap_write_and_wait_range(k, inode.i_mapping, offset, end - 1)
    truncate_pagecache_range(k, inode, offset, end - 1)
    ext4_zero_partial_blocks(k, inode, offset, end - offset)
    first_block, stop_block = -(-offset >> EXT4_BLOCK_BITS), end >> EXT4_BLOCK_BITS
    if stop_block > first_block:
        ext4_free_range(inode, first_block, stop_block)


def ext4_zero_partial_blocks(k, inode, lstart: int, length: int) -> None:
    """``ext4_zero_partial_blocks``: zero the part of bytes [lstart, lstart + length) in the
    block holding its start and in the one holding its end, where it does not cover them
    whole (once when one block holds both)."""
    end, block_mask = lstart + length, (1 << EXT4_BLOCK_BITS) - 1
    if lstart >> EXT4_BLOCK_BITS == (end - 1) >> EXT4_BLOCK_BITS:
        if lstart & block_mask or end & block_mask:
            ext4_block_zero_page_range(k, inode, lstart, end)
        return
    if lstart & block_mask:
        ext4_block_zero_page_range(k, inode, lstart, (lstart | block_mask) + 1)
    if end & block_mask:
        ext4_block_zero_page_range(k, inode, end & ~block_mask, end)


def ext4_block_zero_page_range(k, inode, lo: int, hi: int) -> None:
    """``ext4_block_zero_page_range`` of bytes [lo, hi) of one block: the folio caching it is
    found or created (``__filemap_get_folio(FGP_LOCK | FGP_ACCESSED | FGP_CREAT)``: it stays
    in the cache even over a hole); a block on disk is read into a folio not up to date, the
    bytes zeroed and the folio dirtied (``mark_buffer_dirty``); a hole is left as it is."""
    mapping = inode.i_mapping
    pfn = FM.__filemap_get_folio(k, mapping, lo >> PAGE_SHIFT, FGP_LOCK | FGP_ACCESSED | FGP_CREAT,
                                 G.GFP_HIGHUSER_MOVABLE & ~G.__GFP_FS)
    if ext4_map_blocks(inode, lo >> EXT4_BLOCK_BITS)[0] >= 0:
        if not FM.folio_test(k, pfn, PG_uptodate):
            FM.filemap_read_folio(k, mapping, pfn)
            FM.folio_lock(k, pfn)
        fpos = int(k.mem_map.index[pfn]) << PAGE_SHIFT
        folio_zero_range(k, pfn, lo - fpos, hi - fpos)
        FM.folio_mark_dirty(k, mapping, pfn)
    FM.folio_unlock(k, pfn)
    FM.folio_put(k, pfn)


ext4_file_operations = file_operations(read_iter=ext4_file_read_iter, write_iter=ext4_file_write_iter,
                                       fsync=ext4_sync_file, fallocate=ext4_fallocate,
                                       read_cached=FM.filemap_read_batch)


def ext4_truncate_partial(k, inode, size: int) -> None:
    """``ext4_block_truncate_page``: the bytes of the last block past ``size`` zeroed through
    the cache (``ext4_block_zero_page_range``)."""
    if size & ((1 << EXT4_BLOCK_BITS) - 1):
        ext4_block_zero_page_range(k, inode, size, ((size >> EXT4_BLOCK_BITS) + 1) << EXT4_BLOCK_BITS)
