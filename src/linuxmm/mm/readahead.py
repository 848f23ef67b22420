"""Readahead (``mm/readahead.c``), Linux 6.18: filling the page cache ahead of reads.

This first version reads exactly what a read misses: ``page_cache_sync_ra`` allocates order-0
folios for the missing pages of the request (``page_cache_ra_unbounded``, clipped at
``i_size`` by ``do_page_cache_ra``) and hands them to the filesystem in one batch
(``read_pages``); ``page_cache_async_ra`` has no window to push yet. ``force_page_cache_ra``
serves POSIX_FADV_WILLNEED and readahead(2). The kernel's ondemand algorithm (initial window,
ramp-up, PG_readahead markers, large folio orders) replaces this.
"""

from __future__ import annotations

from ..include.linux import gfp as G
from ..include.linux.mm_types import PAGE_SHIFT
from ..include.linux.page_flags import PG_readahead


def read_pages(k, ractl, pfns: list[int]) -> None:
    """``read_pages``: the filesystem reads the batch (``aops->readahead``); the batch's
    references are dropped."""
    from .filemap import folio_put

    if pfns:
        ractl.mapping.a_ops.read_folios(k, ractl.mapping, pfns)
        for pfn in pfns:
            folio_put(k, pfn)


def page_cache_ra_unbounded(k, ractl, nr_to_read: int, lookahead_size: int) -> None:
    """``page_cache_ra_unbounded``: new order-0 folios for the pages of [index, index +
    nr_to_read) not cached yet, the one ``lookahead_size`` pages before the end marked
    PG_readahead; a cached page ends the batch so far (it is read) and is skipped."""
    from .filemap import filemap_add_folio, filemap_alloc_folio, filemap_get_folio, folio_put, folio_set

    mapping, index = ractl.mapping, ractl._index
    batch: list[int] = []
    for i in range(nr_to_read):
        if filemap_get_folio(k, mapping, index + i) >= 0:
            read_pages(k, ractl, batch)
            batch = []
            continue
        pfn = filemap_alloc_folio(k, G.GFP_HIGHUSER_MOVABLE | G.__GFP_NORETRY | G.__GFP_NOWARN, 0)
        if pfn < 0:
            break
        if filemap_add_folio(k, mapping, pfn, index + i, G.GFP_HIGHUSER_MOVABLE) != 0:
            folio_put(k, pfn)
            break
        if lookahead_size and i == nr_to_read - lookahead_size:
            folio_set(k, pfn, PG_readahead)
        batch.append(pfn)
        ractl._nr_pages += 1
    read_pages(k, ractl, batch)


def do_page_cache_ra(k, ractl, nr_to_read: int, lookahead_size: int) -> None:
    """``do_page_cache_ra``: nothing past the end of the file."""
    isize = ractl.mapping.host.i_size
    if isize == 0:
        return
    end_index = (isize - 1) >> PAGE_SHIFT
    if ractl._index > end_index:
        return
    nr_to_read = min(nr_to_read, end_index - ractl._index + 1)
    page_cache_ra_unbounded(k, ractl, nr_to_read, lookahead_size)


def force_page_cache_ra(k, ractl, nr_to_read: int) -> None:
    """``force_page_cache_ra``: read [index, index + nr_to_read) whatever the window says
    (POSIX_FADV_WILLNEED, readahead(2))."""
    do_page_cache_ra(k, ractl, nr_to_read, 0)


def page_cache_sync_ra(k, ractl, req_count: int) -> None:
    """``page_cache_sync_ra``: a read missed at ``ractl._index``; read the ``req_count`` pages
    it asked for."""
    do_page_cache_ra(k, ractl, req_count, 0)


def page_cache_async_ra(k, ractl, pfn: int, req_count: int) -> None:
    """``page_cache_async_ra``: a read reached the PG_readahead folio ``pfn``; the marker is
    cleared (no window to push in this version)."""
    from .filemap import folio_clear

    folio_clear(k, pfn, PG_readahead)
