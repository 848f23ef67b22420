"""Truncation and invalidation of the page cache (``mm/truncate.c``), Linux 6.18.

* ``truncate_inode_pages_range``: every folio wholly inside the byte range leaves the cache,
  dirty or not (its writeback waited for, its dirtiness cancelled: the data is being thrown
  away); the partial folios at the edges keep their pages and have the range zeroed
  (``truncate_inode_partial_folio`` when it cannot split a large folio: ``folio_zero_range``).
* ``truncate_pagecache`` (``truncate_setsize``): unmap the pages past the new size from every
  process (``unmap_mapping_range``), then truncate the cache; ``truncate_pagecache_range``
  does the same for a hole punched in the middle (the pages wholly inside it are unmapped).
* ``invalidate_mapping_pages`` (``mapping_try_invalidate``): drop the clean, unmapped folios
  wholly inside the page range, leave the rest (drop_caches, POSIX_FADV_DONTNEED).
"""

from __future__ import annotations

from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE
from ..include.linux.page_flags import PG_dirty, PG_locked, PG_writeback
from . import filemap as FM
from .rmap import unmap_mapping_pages

LLONG_MAX = (1 << 63) - 1


def folio_zero_range(k, pfn: int, start: int, end: int) -> None:
    """Zero bytes [start, end) of the folio (offsets in it): the lines wholly inside."""
    first, last = -(-start >> FM.LINE_SHIFT), end >> FM.LINE_SHIFT
    if last > first:
        FM.folio_write_lines(k, pfn, first, last - first, 0)


def truncate_inode_pages_range(k, mapping, lstart: int, lend: int) -> None:
    """Remove the cache of bytes [lstart, lend] (``lend`` inclusive; -1: to the end)."""
    lend = LLONG_MAX if lend < 0 else lend
    for index, pfn in FM.filemap_folios(k, mapping, lstart >> PAGE_SHIFT, lend >> PAGE_SHIFT):
        fstart = index << PAGE_SHIFT
        fend = fstart + (FM.folio_nr_pages(k, pfn) << PAGE_SHIFT) - 1
        if lstart <= fstart and fend <= lend:
            truncate_inode_folio(k, mapping, pfn)
        else:
            folio_zero_range(k, pfn, max(lstart, fstart) - fstart, min(lend, fend) + 1 - fstart)


def truncate_inode_folio(k, mapping, pfn: int) -> None:
    """``truncate_inode_folio`` on a folio held and locked as ``find_lock_entries`` hands it
    over: wait for its writeback, cancel its dirtiness, remove it; then unlock and put."""
    k.mem_map.refcount[pfn] += 1
    FM.folio_lock(k, pfn)
    FM.folio_wait_writeback(k, pfn)
    FM.folio_cancel_dirty(k, mapping, pfn)
    FM.filemap_remove_folio(k, mapping, pfn)
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
