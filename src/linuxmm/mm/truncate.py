"""Truncation and invalidation of the page cache (``mm/truncate.c``), Linux 6.18.

* ``truncate_inode_pages_range``: every folio wholly inside the byte range leaves the cache,
  dirty or not (its writeback waited for, its dirtiness cancelled: the data is being thrown
  away); a partial folio at an edge has the range zeroed and, if large, is split
  (``truncate_inode_partial_folio``, 6.18: ``try_folio_split_to_order``, the non-uniform
  split around the edge page), so that the pieces inside the range leave the cache too.
* ``truncate_pagecache`` (``truncate_setsize``): unmap the pages past the new size from every
  process (``unmap_mapping_range``), then truncate the cache; ``truncate_pagecache_range``
  does the same for a hole punched in the middle (the pages wholly inside it are unmapped).
* ``invalidate_mapping_pages`` (``mapping_try_invalidate``): drop the clean, unmapped folios
  wholly inside the page range, leave the rest (drop_caches, POSIX_FADV_DONTNEED).
"""

from __future__ import annotations

import numpy as np

from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE
from ..include.linux.page_flags import PG_dirty, PG_locked, PG_writeback
from . import buddy as B
from . import filemap as FM
from .huge_memory import min_order_for_split, rmap_of, try_folio_split_to_order, unmap_folio
from .memory import folio_mapped
from .rmap import EMPTY_I64, rmap_batch, try_to_unmap_flush, unmap_mapping_pages

LLONG_MAX = (1 << 63) - 1


def folio_zero_range(k, pfn: int, start: int, end: int) -> None:
    """Zero bytes [start, end) of the folio (offsets in it): the lines wholly inside."""
    first, last = -(-start >> FM.LINE_SHIFT), end >> FM.LINE_SHIFT
    if last > first:
        FM.folio_write_lines(k, pfn, first, last - first, 0)


def truncate_inode_pages_range(k, mapping, lstart: int, lend: int) -> None:
    """Remove the cache of bytes [lstart, lend] (``lend`` inclusive; -1: to the end), as 6.18
    does: the folios wholly inside go first; then the partial folio at each edge
    (``truncate_inode_partial_folio``: zeroed, split where it can be); then whatever lies
    inside the range after those splits. A dirty partial folio that could not be split stays
    whole, its range zeroed, and the pages it covers are not part of the last pass."""
    a = k.mem_map
    lend = LLONG_MAX if lend < 0 else lend
    start, end = -(-lstart >> PAGE_SHIFT), (lend + 1) >> PAGE_SHIFT  # whole pages [start, end)
    for index, pfn in FM.filemap_folios(k, mapping, start, end - 1):  # find_lock_entries
        if index >= start and index + FM.folio_nr_pages(k, pfn) <= end:
            truncate_locked_folio(k, mapping, pfn)
    same_folio = lstart >> PAGE_SHIFT == lend >> PAGE_SHIFT
    pfn = FM.filemap_get_folio(k, mapping, lstart >> PAGE_SHIFT)
    if pfn >= 0:
        same_folio = lend < folio_pos(k, pfn) + (FM.folio_nr_pages(k, pfn) << PAGE_SHIFT)
        if not partial_folio_locked(k, mapping, pfn, lstart, lend):
            start = int(a.index[pfn]) + FM.folio_nr_pages(k, pfn)
            if same_folio:
                end = int(a.index[pfn])
    if not same_folio:
        pfn = FM.filemap_get_folio(k, mapping, lend >> PAGE_SHIFT)
        if pfn >= 0 and not partial_folio_locked(k, mapping, pfn, lstart, lend):
            end = int(a.index[pfn])
    for index, pfn in FM.filemap_folios(k, mapping, start, end - 1):
        if index >= start and index + FM.folio_nr_pages(k, pfn) <= end:
            truncate_locked_folio(k, mapping, pfn)
        else:  # a piece a split left straddling an edge: what ``find_get_entries`` may return
            partial_folio_locked(k, mapping, pfn, lstart, lend)


def folio_pos(k, pfn: int) -> int:
    return int(k.mem_map.index[pfn]) << PAGE_SHIFT


def truncate_inode_partial_folio(k, mapping, pfn: int, lstart: int, lend: int) -> bool:
    """``truncate_inode_partial_folio`` of the locked, held folio overlapping bytes [lstart,
    lend]: wholly inside, it is truncated; else that part is zeroed and a large folio split
    around its first page (``try_folio_split_to_order``, to the mapping's minimum order), and
    the piece then holding the range's end split around it too, so that the pieces inside
    can be dropped. If the split fails, a clean folio is truncated whole (its data is on disk)
    and a dirty one is kept: False (the caller leaves its pages alone)."""
    a = k.mem_map
    pos, size = folio_pos(k, pfn), FM.folio_nr_pages(k, pfn) << PAGE_SHIFT
    offset = lstart - pos if pos < lstart else 0
    length = size - offset if pos + size <= lend else lend + 1 - pos - offset
    FM.folio_wait_writeback(k, pfn)
    if length == size:
        truncate_inode_folio(k, mapping, pfn)
        return True
    folio_zero_range(k, pfn, offset, offset + length)
    if not a.order[pfn]:
        return True
    if try_folio_split_to_order(k, pfn, pfn + (offset >> PAGE_SHIFT), min_order_for_split(k, pfn)) == 0:
        if offset + length < size:
            split_folio_at(k, pfn, pfn + ((offset + length) >> PAGE_SHIFT))
        return True
    if FM.folio_test(k, pfn, PG_dirty):
        return False
    truncate_inode_folio(k, mapping, pfn)
    return True


def split_folio_at(k, pfn: int, split_at: int) -> None:
    """The second split of ``truncate_inode_partial_folio``: the folio now holding page
    ``split_at``, if it is still a large folio of the same file (``folio_try_get``,
    ``folio_trylock``), split around it; its result does not matter."""
    a = k.mem_map
    head = int(B.compound_head(a, split_at))
    if a.refcount[head] <= 0 or not a.order[head] or a.mapping[head] != a.mapping[pfn]:
        return
    if FM.folio_test(k, head, PG_locked):
        return
    a.refcount[head] += 1
    FM.folio_set(k, head, PG_locked)
    try_folio_split_to_order(k, head, split_at, min_order_for_split(k, head))
    FM.folio_unlock(k, head)
    FM.folio_put(k, head)


def partial_folio_locked(k, mapping, pfn: int, lstart: int, lend: int) -> bool:
    """``truncate_inode_partial_folio`` on a folio held and locked as ``__filemap_get_folio``
    (FGP_LOCK) hands it over; then unlocked and put."""
    k.mem_map.refcount[pfn] += 1
    FM.folio_lock(k, pfn)
    done = truncate_inode_partial_folio(k, mapping, pfn, lstart, lend)
    FM.folio_unlock(k, pfn)
    FM.folio_put(k, pfn)
    return done


def truncate_inode_folio(k, mapping, pfn: int) -> None:
    """``truncate_inode_folio`` of a locked folio: unmapped if still mapped (a partial folio
    that could not be split: ``unmap_mapping_folio``), its writeback waited for, its
    dirtiness cancelled, removed from the cache."""
    if folio_mapped(k.mem_map, pfn):
        unmap_mapping_folio(k, pfn)
    FM.folio_wait_writeback(k, pfn)
    FM.folio_cancel_dirty(k, mapping, pfn)
    FM.filemap_remove_folio(k, mapping, pfn)


def unmap_mapping_folio(k, pfn: int) -> None:
    """``unmap_mapping_folio``: every PMD and pte mapping the folio goes, in every process."""
    batch = rmap_batch(k, EMPTY_I64)
    flush_mm = np.zeros(batch.mmcs.shape[0], np.int64)
    unmap_folio(k.mem_map, k.vm_state, *rmap_of(batch), pfn, FM.folio_nr_pages(k, pfn), flush_mm)
    try_to_unmap_flush(k, batch, flush_mm)


def truncate_locked_folio(k, mapping, pfn: int) -> None:
    """``truncate_inode_folio`` on a folio held and locked as ``find_lock_entries`` hands it
    over; then unlocked and put."""
    k.mem_map.refcount[pfn] += 1
    FM.folio_lock(k, pfn)
    truncate_inode_folio(k, mapping, pfn)
    FM.folio_unlock(k, pfn)
    FM.folio_put(k, pfn)


def truncate_inode_pages(k, mapping, lstart: int) -> None:
    truncate_inode_pages_range(k, mapping, lstart, -1)


def truncate_inode_pages_final(k, mapping) -> None:
    """``truncate_inode_pages_final``: the inode is being evicted: everything goes."""
    truncate_inode_pages_range(k, mapping, 0, -1)


def truncate_pagecache(k, inode, newsize: int) -> None:
    """``truncate_pagecache``: unmap the pages from the one holding ``newsize`` on (a mapped
    partial page keeps its mapping, as ``unmap_mapping_range(holebegin)`` rounds up), then
    drop the cache past ``newsize``."""
    holebegin = -(-newsize // PAGE_SIZE)
    unmap_mapping_pages(inode.i_mapping, holebegin, LLONG_MAX >> PAGE_SHIFT)
    truncate_inode_pages(k, inode.i_mapping, newsize)


def truncate_pagecache_range(k, inode, lstart: int, lend: int) -> None:
    """``truncate_pagecache_range`` (hole punching): unmap the pages wholly inside bytes
    [lstart, lend] from every process, then drop their cache and zero the partial edges."""
    unmap_start, unmap_end = -(-lstart // PAGE_SIZE), (lend + 1) // PAGE_SIZE
    if unmap_end > unmap_start:
        unmap_mapping_pages(inode.i_mapping, unmap_start, unmap_end - 1)
    truncate_inode_pages_range(k, inode.i_mapping, lstart, lend)


def mapping_evict_folio(k, mapping, pfn: int) -> bool:
    """``mapping_evict_folio``: a clean, unmapped folio not under writeback (nor locked:
    ``find_lock_entries`` skips what it cannot trylock) leaves the cache."""
    a = k.mem_map
    if any(FM.folio_test(k, pfn, flag) for flag in (PG_dirty, PG_writeback, PG_locked)):
        return False
    if a.mapcount[pfn:pfn + FM.folio_nr_pages(k, pfn)].any() or a.entire_mapcount[pfn]:
        return False
    FM.filemap_remove_folio(k, mapping, pfn)
    return True


def invalidate_mapping_pages(k, mapping, start: int, end: int) -> int:
    """``invalidate_mapping_pages``: evict what can be evicted among the folios wholly inside
    page indices [start, end]; returns the pages evicted."""
    count = 0
    for index, pfn in FM.filemap_folios(k, mapping, start, end):
        nr = FM.folio_nr_pages(k, pfn)
        if index >= start and index + nr - 1 <= end and mapping_evict_folio(k, mapping, pfn):
            count += nr
    return count
