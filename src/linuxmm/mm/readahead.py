"""File readahead (``mm/readahead.c`` and the readahead half of ``mm/filemap.c``), Linux 6.18.

A newcomer's map. Every open file has a ``file_ra_state`` (``struct file_ra_state``): the
last readahead window (``start``, ``size``, ``async_size``), its preferred folio ``order``,
the most it may read at once (``ra_pages``, the disk's ``read_ahead_kb`` in pages), the mmap
miss counter and the end of the previous read (``prev_pos``). A read that misses the page
cache calls ``page_cache_sync_ra``; one that meets a folio marked ``PG_readahead`` calls
``page_cache_async_ra``. Both set the window and hand it to ``page_cache_ra_order``, which
fills the hole with folios (order 0 at first, then 4, 16, 64 ... pages as a stream goes on:
``ra->order`` grows by 2 per async window, bounded by the window and the mapping's largest
folio), marks the first folio of the async tail ``PG_readahead`` and starts the reads
(``read_pages``: one bio per run of folios, split at the device's ``max_sectors_kb``).

Worked example (this host, read_ahead_kb=8192 so ra_pages=2048; an evicted file read in
4 KiB calls, tests/data/host-linux-6.18/readahead_probe.jsonl): the 1st read misses at index
0: window [0, 4) with async_size 3, the folio at 1 marked. The 2nd read hits the mark: window
[4, 20) of order-2 folios, marked at 4. The 5th read hits it: window [20, 80) (80 is 84
rounded down to 16 pages, the new order's alignment), marked at 20. Resident: 4, 20, 80.

Faults (``do_sync_mmap_readahead``): a fault that finds no folio reads ``ra_pages`` around
the faulting index (a quarter of it async), unless the VMA said ``MADV_RANDOM``
(``VM_RAND_READ``: only the page), ``MADV_SEQUENTIAL`` (``VM_SEQ_READ``: a sync readahead of
``ra_pages``), ``MADV_HUGEPAGE`` (two PMD-sized folios), or the file missed more than
``MMAP_LOTSAMISS`` times (``mmap_miss``; hits found by fault-around and
``do_async_mmap_readahead`` count it down). ``POSIX_FADV_RANDOM`` (``FMODE_RANDOM``) makes
every read() miss read just what it asked for (``force_page_cache_ra``).

The page cache itself (xarray, folio allocation) belongs to ``mm/filemap.py``, the reads to
the filesystem's ``read_folios`` and ``block/``; the functions of the section "the page cache
and the disk, as readahead sees them" are the only places this module touches them. A folio
added by readahead is locked until its read completes (``folio_end_read``); readers that need
it wait for that (``filemap_update_page``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..block.blk_core import blk_finish_plug, blk_start_plug
from ..include.linux import gfp as G
from ..include.linux.fs import FMODE_RANDOM
from ..include.linux.huge_mm import HPAGE_PMD_NR, HPAGE_PMD_ORDER
from ..include.linux.mm_types import PAGE_SHIFT
from ..include.linux.page_flags import PG_locked, PG_readahead, PG_writeback
from ..include.linux.pagemap import MAX_PAGECACHE_ORDER
from .filemap import (filemap_add_folio, filemap_alloc_folio, filemap_get_folio, folio_clear, folio_nr_pages,
                      folio_put, folio_set, folio_test)

MMAP_LOTSAMISS = 100
RA_CHUNK_BYTES = 2 << 20  # force_page_cache_ra reads 2 MiB at a time
ULONG_MASK = (1 << 64) - 1  # pgoff_t arithmetic wraps as the kernel's unsigned long

# the vm_flags and f_mode bits readahead reads (include/linux/mm.h, include/linux/fs.h)
VM_EXEC = 0x00000004
VM_SEQ_READ = 0x00008000
VM_RAND_READ = 0x00010000
VM_HUGEPAGE = 0x20000000
READAHEAD_GFP = G.GFP_HIGHUSER_MOVABLE  # readahead_gfp_mask of a file mapping

if TYPE_CHECKING:
    from ..include.linux.fs import file_ra_state


# ---- window arithmetic (pure) -------------------------------------------------------------


def roundup_pow_of_two(n: int) -> int:
    return 1 << (n - 1).bit_length()


def ilog2(n: int) -> int:
    return n.bit_length() - 1


def ffs(n: int) -> int:
    """1-based index of the lowest set bit (0 for 0), as the kernel's ``ffs``."""
    return (n & -n).bit_length()


def get_init_ra_size(size: int, max_pages: int) -> int:
    """The first window of a stream: the request rounded up to a power of two, times 4 when
    small (<= max/32), times 2 when medium (<= max/4), else the maximum."""
    newsize = roundup_pow_of_two(size)
    if newsize <= max_pages // 32:
        return newsize * 4
    if newsize <= max_pages // 4:
        return newsize * 2
    return max_pages


def get_next_ra_size(ra: file_ra_state, max_pages: int) -> int:
    """The next window of a stream: 4x while below max/16, 2x up to max/2, then the max."""
    cur = ra.size
    if cur < max_pages // 16:
        return 4 * cur
    if cur <= max_pages // 2:
        return 2 * cur
    return max_pages


# ---- the page cache and the disk, as readahead sees them ------------------------------------


def ra_io_pages(mapping) -> int:
    """``bdi->io_pages``: the disk's largest request (``max_sectors_kb``) in pages; 0 without a
    disk (tmpfs: ``noop_backing_dev_info``)."""
    bdev = mapping.host.i_sb.s_bdev
    return 0 if bdev is None else bdev.max_sectors_kb >> (PAGE_SHIFT - 10)


def ra_folio_present(k, mapping, index: int) -> bool:
    """A folio (not a shadow entry) caches page ``index`` (``xa_load``)."""
    return filemap_get_folio(k, mapping, index) >= 0


def ra_add_folio(k, ractl, batch: list[int], index: int, order: int, readahead: bool) -> bool:
    """A new folio of ``order`` at ``index`` (``filemap_add_folio`` locks it until its read
    completes), PG_readahead if asked, joins the batch (``ractl_alloc_folio``); False if no
    memory or a folio is there."""
    pfn = filemap_alloc_folio(k, READAHEAD_GFP | (G.__GFP_NORETRY | G.__GFP_NOWARN if order else 0), order)
    if pfn < 0:
        return False
    if filemap_add_folio(k, ractl.mapping, pfn, index, READAHEAD_GFP) != 0:
        folio_put(k, pfn)
        return False
    if readahead:
        folio_set(k, pfn, PG_readahead)
    batch.append(pfn)
    return True


def page_cache_next_miss(k, mapping, index: int, max_scan: int) -> int:
    """The first index in ``[index, index + max_scan)`` with no folio, or ``index +
    max_scan`` if there is none."""
    i = index
    while i < index + max_scan:
        pfn = filemap_get_folio(k, mapping, i)
        if pfn < 0:
            return i
        i = int(k.mem_map.index[pfn]) + folio_nr_pages(k, pfn)
    return index + max_scan


def page_cache_prev_miss(k, mapping, index: int, max_scan: int) -> int:
    """The last index in ``(index - max_scan, index]`` with no folio, or ``index - max_scan``
    if there is none; -1 (ULONG_MAX) when the search ran off the start of the file, meaning
    everything before ``index`` is cached."""
    i = index
    while i > index - max_scan:
        if i < 0:
            return -1
        pfn = filemap_get_folio(k, mapping, i)
        if pfn < 0:
            return i
        i = int(k.mem_map.index[pfn]) - 1
    return index - max_scan


# ---- mm/readahead.c ---------------------------------------------------------------------


def read_pages(k, ractl, batch: list[int]) -> None:
    """Submit the batch's reads (the filesystem's ``->readahead``, under a block plug so a
    window becomes a few large requests) and move the batch past them; the folios stay
    locked until their reads complete (``folio_end_read``)."""
    if batch:
        blk_start_plug(k)
        ractl.mapping.a_ops.read_folios(k, ractl.mapping, batch)
        blk_finish_plug(k)
        for pfn in batch:
            folio_put(k, pfn)  # the allocation's reference; the cache holds its own
        batch.clear()
    ractl._index += ractl._nr_pages
    ractl._nr_pages = 0


def page_cache_ra_unbounded(k, ractl, nr_to_read: int, lookahead_size: int) -> None:
    """Add order-0 folios over the holes of ``[index, index + nr_to_read)``, marking the one
    ``lookahead_size`` from the end, and read each contiguous run (a cached page ends a run;
    the mark is lost if its page was already cached)."""
    mapping, index = ractl.mapping, ractl._index
    mark = nr_to_read - lookahead_size if lookahead_size <= nr_to_read else -1
    batch: list[int] = []
    i = 0
    while i < nr_to_read:
        if ra_folio_present(k, mapping, index + i):
            read_pages(k, ractl, batch)
            ractl._index += 1
            i = ractl._index + ractl._nr_pages - index
            continue
        if not ra_add_folio(k, ractl, batch, index + i, 0, i == mark):
            break
        ractl._nr_pages += 1
        i += 1
    read_pages(k, ractl, batch)


def do_page_cache_ra(k, ractl, nr_to_read: int, lookahead_size: int) -> None:
    """``page_cache_ra_unbounded`` clipped to the page holding the file's last byte."""
    isize = ractl.mapping.host.i_size
    if isize == 0:
        return
    end_index = (isize - 1) >> PAGE_SHIFT
    if ractl._index > end_index:
        return
    nr_to_read = min(nr_to_read, end_index - ractl._index + 1)
    page_cache_ra_unbounded(k, ractl, nr_to_read, lookahead_size)


def force_page_cache_ra(k, ractl, nr_to_read: int) -> None:
    """Read ``nr_to_read`` pages whatever the window says (fadvise WILLNEED, readahead(2),
    FMODE_RANDOM reads), at most max(io_pages, ra_pages), in 2 MiB chunks."""
    nr_to_read = min(nr_to_read, max(ra_io_pages(ractl.mapping), ractl.ra.ra_pages))
    while nr_to_read:
        this_chunk = min(RA_CHUNK_BYTES >> PAGE_SHIFT, nr_to_read)
        do_page_cache_ra(k, ractl, this_chunk, 0)
        nr_to_read -= this_chunk


def ra_alloc_folio(k, ractl, batch: list[int], index: int, mark: int, order: int) -> bool:
    """One folio of ``page_cache_ra_order``; it carries PG_readahead if it holds ``mark``."""
    mark -= mark % (1 << order)
    if not ra_add_folio(k, ractl, batch, index, order, index == mark):
        return False
    ractl._nr_pages += 1 << order
    return True


def page_cache_ra_order(k, ractl, ra) -> None:
    """Fill the window ``[start, start + size)`` with folios of ``ra.order`` (bounded by the
    mapping's largest order and the window), smaller where the index is not aligned or the
    file ends, and read them; a folio already cached stops the large-folio pass and the rest
    is read in order-0 folios around the cached ones."""
    mapping = ractl.mapping
    start = index = ractl._index
    mark = index + ra.size - ra.async_size
    ok = True
    if mapping.max_order == 0:  # !mapping_large_folio_support
        ra.order = 0
    else:
        limit = min((mapping.host.i_size - 1) >> PAGE_SHIFT, index + ra.size - 1)
        new_order = max(min(mapping.max_order, ra.order, ilog2(ra.size)), mapping.min_order)
        ra.order = new_order
        batch: list[int] = []
        while index <= limit:
            order = new_order
            if index & ((1 << order) - 1):  # align with smaller folios
                order = ffs(index) - 1
            while order > mapping.min_order and index + (1 << order) - 1 > limit:  # none past EOF
                order -= 1
            ok = ra_alloc_folio(k, ractl, batch, index, mark, order)
            if not ok:
                break
            index += 1 << order
        read_pages(k, ractl, batch)
        if ok:
            return
    if ra.size > index - start:  # fallback: the holes, in order-0 folios
        do_page_cache_ra(k, ractl, ra.size - (index - start), ra.async_size)


def ractl_max_pages(ractl, req_size: int) -> int:
    """The window's limit: ra_pages, or up to the device's largest request for a request
    larger than ra_pages."""
    max_pages = ractl.ra.ra_pages
    io_pages = ra_io_pages(ractl.mapping)
    if req_size > max_pages and io_pages > max_pages:
        max_pages = min(req_size, io_pages)
    return max_pages


def page_cache_sync_ra(k, ractl, req_count: int) -> None:
    """A read of ``req_count`` pages at ``ractl``'s index missed the cache: start a stream
    (file start, oversized read, or next to the previous read), continue one the cache
    remembers (pages just before it cached), or read just the request (random read)."""
    index = ractl._index
    ra = ractl.ra
    do_forced_ra = ractl.file is not None and bool(ractl.file.f_mode & FMODE_RANDOM)
    if not ra.ra_pages:  # readahead off: still read the page asked for
        if ractl.file is None:
            return
        req_count, do_forced_ra = 1, True
    if do_forced_ra:
        force_page_cache_ra(k, ractl, req_count)
        return
    max_pages = ractl_max_pages(ractl, req_count)
    prev_index = (ra.prev_pos & ULONG_MASK) >> PAGE_SHIFT
    if not index or req_count > max_pages or (index - prev_index) & ULONG_MASK <= 1:
        ra.start = index
        ra.size = get_init_ra_size(req_count, max_pages)
        ra.async_size = ra.size - req_count if ra.size > req_count else ra.size >> 1
    else:
        miss = page_cache_prev_miss(k, ractl.mapping, index - 1, max_pages)
        contig_count = index - miss - 1
        if contig_count <= req_count:  # a standalone small random read
            do_page_cache_ra(k, ractl, req_count, 0)
            return
        if miss == -1:  # cached from the start of the file: a long stream
            contig_count *= 2
        ra.start = index
        ra.size = min(contig_count + req_count, max_pages)
        ra.async_size = 1
    ra.order = 0
    ractl._index = ra.start
    page_cache_ra_order(k, ractl, ra)


def page_cache_async_ra(k, ractl, pfn: int, req_count: int) -> None:
    """A read reached the folio ``pfn`` marked PG_readahead, at ``ractl``'s index: clear the
    mark (a folio under writeback keeps it: PG_reclaim shares the bit) and read the next
    window, grown, in folios two orders larger."""
    ra = ractl.ra
    if not ra.ra_pages or folio_test(k, pfn, PG_writeback):
        return
    folio_clear(k, pfn, PG_readahead)
    index = ractl._index
    max_pages = ractl_max_pages(ractl, req_count)
    expected = ra.start + ra.size - ra.async_size
    expected -= expected % folio_nr_pages(k, pfn)
    if index == expected:  # the stream's own marker: push the window forward
        ra.start += ra.size
        ra.size = max(ra.size, get_next_ra_size(ra, max_pages))  # MADV_HUGEPAGE windows may be larger
    else:  # a marker of another stream (interleaved reads): guess its window from the cache
        start = page_cache_next_miss(k, ractl.mapping, index + 1, max_pages)
        if not start or start - index > max_pages:
            return
        ra.start = start
        ra.size = start - index + req_count  # the old async_size plus this request
        ra.size = get_next_ra_size(ra, max_pages)
    ra.order += 2
    align = 1 << min(ra.order, ffs(max_pages) - 1)
    end = ra.start + ra.size
    aligned_end = end - end % align
    if aligned_end > ra.start:
        ra.size -= end - aligned_end
    ra.async_size = ra.size
    ractl._index = ra.start
    page_cache_ra_order(k, ractl, ra)


# ---- mm/filemap.c: readahead on page faults -----------------------------------------------


def do_sync_mmap_readahead(k, ractl, vm_flags: int, vm_pgoff: int, vm_pages: int) -> None:
    """A fault at ``ractl``'s index found no folio: read around it as the VMA (flags, file
    offset and size in pages) says; ``mmap_miss`` counts this miss."""
    ra = ractl.ra
    if vm_flags & VM_HUGEPAGE and HPAGE_PMD_ORDER <= MAX_PAGECACHE_ORDER:  # even with ra off
        ractl._index &= ~(HPAGE_PMD_NR - 1)
        ra.size = HPAGE_PMD_NR if vm_flags & VM_RAND_READ else 2 * HPAGE_PMD_NR
        ra.async_size = HPAGE_PMD_NR
        ra.order = HPAGE_PMD_ORDER
        page_cache_ra_order(k, ractl, ra)
        return
    if vm_flags & (VM_RAND_READ | VM_EXEC) == VM_RAND_READ or not ra.ra_pages:
        return
    if vm_flags & VM_SEQ_READ:
        page_cache_sync_ra(k, ractl, ra.ra_pages)
        return
    if ra.mmap_miss < MMAP_LOTSAMISS * 10:
        ra.mmap_miss += 1
    if ra.mmap_miss > MMAP_LOTSAMISS:  # missing far more than hitting: readahead only hurts
        return
    pgoff = ractl._index
    if vm_flags & VM_EXEC:  # forward from the fault, within the VMA (exec_folio_order 0 on x86)
        ra.start = max(pgoff, vm_pgoff)
        ra.size = min(ra.start + ra.ra_pages, vm_pgoff + vm_pages) - ra.start
        ra.async_size = 0
    else:  # read-around
        ra.start = max(0, pgoff - ra.ra_pages // 2)
        ra.size = ra.ra_pages
        ra.async_size = ra.ra_pages // 4
    ra.order = 0
    ractl._index = ra.start
    page_cache_ra_order(k, ractl, ra)


def do_async_mmap_readahead(k, ractl, pfn: int, vm_flags: int) -> None:
    """A fault found its folio ``pfn`` cached: count a hit against ``mmap_miss`` (unless the
    folio is locked: another fault's) and, at a PG_readahead folio, read the next window."""
    ra = ractl.ra
    if vm_flags & VM_RAND_READ or not ra.ra_pages:
        return
    if not folio_test(k, pfn, PG_locked) and ra.mmap_miss:
        ra.mmap_miss -= 1
    if folio_test(k, pfn, PG_readahead):
        page_cache_async_ra(k, ractl, pfn, ra.ra_pages)
