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

The page cache itself (xarray, folio allocation, I/O submission) belongs to ``mm/filemap.py``
and ``block/``; the ``readahead_control`` methods below are the only places that touch it.
"""

from __future__ import annotations

VM_READAHEAD_KB = 128  # the default read_ahead_kb of a backing device (VM_READAHEAD_PAGES)
MMAP_LOTSAMISS = 100
MAX_PAGECACHE_ORDER = 9  # x86-64: HPAGE_PMD_ORDER (the xarray could index order 11)
HPAGE_PMD_ORDER = 9
HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER
RA_CHUNK_BYTES = 2 << 20  # force_page_cache_ra reads 2 MiB at a time
ULONG_MASK = (1 << 64) - 1  # pgoff_t arithmetic wraps as the kernel's unsigned long

# the vm_flags and f_mode bits readahead reads (include/linux/mm.h, include/linux/fs.h)
VM_EXEC = 0x00000004
VM_SEQ_READ = 0x00008000
VM_RAND_READ = 0x00010000
VM_HUGEPAGE = 0x20000000
FMODE_RANDOM = 0x1000
FMODE_NOREUSE = 0x800000


class file_ra_state:
    """``struct file_ra_state``: the last readahead window and the file's readahead limits.

    ``start``/``size``/``async_size``: the window, in pages, and its asynchronous tail (the
    folio at ``start + size - async_size`` carries PG_readahead); ``order``: the folio order
    the last window preferred; ``ra_pages``: the most one readahead reads (from the bdi);
    ``mmap_miss``: faults that missed the cache minus hits; ``prev_pos``: the byte after the
    last read (-1 before the first)."""

    __slots__ = ("start", "size", "async_size", "ra_pages", "order", "mmap_miss", "prev_pos")

    def __init__(self, ra_pages: int):
        self.start = self.size = self.async_size = self.order = self.mmap_miss = 0
        self.ra_pages = ra_pages
        self.prev_pos = -1  # file_ra_state_init

    def window(self) -> tuple[int, int, int, int]:
        """(start, size, async_size, order), for tests and teaching."""
        return self.start, self.size, self.async_size, self.order

    def __repr__(self) -> str:
        return (f"<file_ra_state start={self.start} size={self.size} async={self.async_size} "
                f"order={self.order} ra_pages={self.ra_pages} mmap_miss={self.mmap_miss}>")


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


class readahead_control:
    """``struct readahead_control`` (``DEFINE_READAHEAD``): one readahead request against a
    mapping, with the file whose ``f_ra`` it updates (``file`` None: readahead without one).

    ``_index``/``_nr_pages``: the batch of locked folios added but not yet submitted. The
    methods after ``readahead_index`` are the page-cache operations the algorithm uses."""

    def __init__(self, k, file, ra: file_ra_state, mapping, index: int, page_shift: int):
        self.k, self.file, self.ra, self.mapping = k, file, ra, mapping
        self.page_shift = page_shift
        self._index, self._nr_pages = index, 0

    def readahead_index(self) -> int:
        return self._index

    # -- the page cache (mm/filemap.py) and the backing device, as readahead sees them ----

    def io_pages(self) -> int:
        """The bdi's optimal I/O size in pages (``max_sectors_kb``)."""
        raise NotImplementedError

    def i_size(self) -> int:
        raise NotImplementedError

    def max_folio_order(self) -> int:
        """``mapping_max_folio_order``: 0 unless the filesystem supports large folios."""
        raise NotImplementedError

    def folio_present(self, index: int) -> bool:
        """A folio (not a shadow entry) is cached at ``index`` (``xa_load``)."""
        raise NotImplementedError

    def add_folio(self, index: int, order: int, readahead: bool) -> bool:
        """Allocate an ``order`` folio, mark it PG_readahead if asked, lock it and add it to
        the page cache at ``index`` (``filemap_alloc_folio`` + ``filemap_add_folio``); False
        if that failed (a folio is already there, or no memory)."""
        raise NotImplementedError

    def read_pages(self) -> None:
        """Submit reads of the batch ``[_index, _index + _nr_pages)`` and empty it: the
        filesystem's ``->readahead`` (``mpage_readahead``)."""
        raise NotImplementedError

    # -- page cache searches (mm/filemap.c) ----------------------------------------------

    def page_cache_next_miss(self, index: int, max_scan: int) -> int:
        """The first index in ``[index, index + max_scan)`` with no folio, or ``index +
        max_scan`` if there is none."""
        for i in range(index, index + max_scan):
            if not self.folio_present(i):
                return i
        return index + max_scan

    def page_cache_prev_miss(self, index: int, max_scan: int) -> int:
        """The last index in ``(index - max_scan, index]`` with no folio, or ``index -
        max_scan`` if there is none; -1 (ULONG_MAX) when the search ran off the start of the
        file, meaning everything before ``index`` is cached."""
        for i in range(index, index - max_scan, -1):
            if i < 0:
                return -1
            if not self.folio_present(i):
                return i
        return index - max_scan


# ---- mm/readahead.c ---------------------------------------------------------------------


def page_cache_ra_unbounded(ractl: readahead_control, nr_to_read: int, lookahead_size: int) -> None:
    """Add order-0 folios over the holes of ``[index, index + nr_to_read)``, marking the one
    ``lookahead_size`` from the end, and read each contiguous run (present folios split the
    runs; the mark is lost if its page was already cached)."""
    index = ractl.readahead_index()
    mark = nr_to_read - lookahead_size if lookahead_size <= nr_to_read else -1
    i = 0
    while i < nr_to_read:
        if ractl.folio_present(index + i):
            read_pages(ractl)
            ractl._index += 1
            i = ractl._index + ractl._nr_pages - index
            continue
        if not ractl.add_folio(index + i, 0, i == mark):
            break
        ractl._nr_pages += 1
        i += 1
    read_pages(ractl)


def read_pages(ractl: readahead_control) -> None:
    if ractl._nr_pages:
        ractl.read_pages()
    ractl._index += ractl._nr_pages
    ractl._nr_pages = 0


def do_page_cache_ra(ractl: readahead_control, nr_to_read: int, lookahead_size: int) -> None:
    """``page_cache_ra_unbounded`` clipped to the page holding the file's last byte."""
    isize = ractl.i_size()
    if isize == 0:
        return
    end_index = (isize - 1) >> ractl.page_shift
    index = ractl.readahead_index()
    if index > end_index:
        return
    nr_to_read = min(nr_to_read, end_index - index + 1)
    page_cache_ra_unbounded(ractl, nr_to_read, lookahead_size)


def force_page_cache_ra(ractl: readahead_control, nr_to_read: int) -> None:
    """Read ``nr_to_read`` pages whatever the window says (fadvise WILLNEED, FMODE_RANDOM
    reads), at most max(io_pages, ra_pages), in 2 MiB chunks."""
    nr_to_read = min(nr_to_read, max(ractl.io_pages(), ractl.ra.ra_pages))
    while nr_to_read:
        this_chunk = min(RA_CHUNK_BYTES >> ractl.page_shift, nr_to_read)
        do_page_cache_ra(ractl, this_chunk, 0)
        nr_to_read -= this_chunk


def ra_alloc_folio(ractl: readahead_control, index: int, mark: int, order: int) -> bool:
    """One folio of ``page_cache_ra_order``; it carries PG_readahead if it holds ``mark``."""
    mark -= mark % (1 << order)
    if not ractl.add_folio(index, order, index == mark):
        return False
    ractl._nr_pages += 1 << order
    return True


def page_cache_ra_order(ractl: readahead_control, ra: file_ra_state) -> None:
    """Fill the window ``[start, start + size)`` with folios of ``ra.order`` (bounded by the
    mapping's largest order and the window), smaller where the index is not aligned or the
    file ends, and read them; a folio already cached stops the large-folio pass and the rest
    is read in order-0 folios around the cached ones."""
    start = index = ractl.readahead_index()
    mark = index + ra.size - ra.async_size
    max_order = ractl.max_folio_order()
    ok = True
    if max_order == 0:  # !mapping_large_folio_support
        ra.order = 0
    else:
        limit = min((ractl.i_size() - 1) >> ractl.page_shift, index + ra.size - 1)
        new_order = min(max_order, ra.order, ilog2(ra.size))
        ra.order = new_order
        while index <= limit:
            order = new_order
            if index & ((1 << order) - 1):  # align with smaller folios
                order = ffs(index) - 1
            while order > 0 and index + (1 << order) - 1 > limit:  # nothing past EOF
                order -= 1
            ok = ra_alloc_folio(ractl, index, mark, order)
            if not ok:
                break
            index += 1 << order
        read_pages(ractl)
        if ok:
            return
    if ra.size > index - start:  # fallback: the holes, in order-0 folios
        do_page_cache_ra(ractl, ra.size - (index - start), ra.async_size)


def ractl_max_pages(ractl: readahead_control, req_size: int) -> int:
    """The window's limit: ra_pages, or up to the device's optimal I/O size for a request
    larger than ra_pages."""
    max_pages = ractl.ra.ra_pages
    io_pages = ractl.io_pages()
    if req_size > max_pages and io_pages > max_pages:
        max_pages = min(req_size, io_pages)
    return max_pages


def page_cache_sync_ra(ractl: readahead_control, req_count: int) -> None:
    """A read of ``req_count`` pages at ``ractl``'s index missed the cache: start a stream
    (file start, oversized read, or next to the previous read), continue one the cache
    remembers (pages just before it cached), or read just the request (random read)."""
    index = ractl.readahead_index()
    ra = ractl.ra
    do_forced_ra = ractl.file is not None and bool(ractl.file.f_mode & FMODE_RANDOM)
    if not ra.ra_pages:  # readahead off: still read the page asked for
        if ractl.file is None:
            return
        req_count, do_forced_ra = 1, True
    if do_forced_ra:
        force_page_cache_ra(ractl, req_count)
        return
    max_pages = ractl_max_pages(ractl, req_count)
    prev_index = (ra.prev_pos & ULONG_MASK) >> ractl.page_shift
    if not index or req_count > max_pages or (index - prev_index) & ULONG_MASK <= 1:
        ra.start = index
        ra.size = get_init_ra_size(req_count, max_pages)
        ra.async_size = ra.size - req_count if ra.size > req_count else ra.size >> 1
    else:
        miss = ractl.page_cache_prev_miss(index - 1, max_pages)
        contig_count = index - miss - 1
        if contig_count <= req_count:  # a standalone small random read
            do_page_cache_ra(ractl, req_count, 0)
            return
        if miss == -1:  # cached from the start of the file: a long stream
            contig_count *= 2
        ra.start = index
        ra.size = min(contig_count + req_count, max_pages)
        ra.async_size = 1
    ra.order = 0
    ractl._index = ra.start
    page_cache_ra_order(ractl, ra)


def page_cache_async_ra(ractl: readahead_control, folio_nr_pages: int, req_count: int) -> None:
    """A read reached the folio (of ``folio_nr_pages``) marked PG_readahead at ``ractl``'s
    index (the caller cleared the mark, and skips folios under writeback, whose PG_reclaim
    shares the bit): read the next window, grown, in folios two orders larger."""
    ra = ractl.ra
    if not ra.ra_pages:
        return
    index = ractl.readahead_index()
    max_pages = ractl_max_pages(ractl, req_count)
    expected = ra.start + ra.size - ra.async_size
    expected -= expected % folio_nr_pages
    if index == expected:  # the stream's own marker: push the window forward
        ra.start += ra.size
        ra.size = max(ra.size, get_next_ra_size(ra, max_pages))  # MADV_HUGEPAGE windows may be larger
    else:  # a marker of another stream (interleaved reads): guess its window from the cache
        start = ractl.page_cache_next_miss(index + 1, max_pages)
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
    page_cache_ra_order(ractl, ra)


# ---- mm/filemap.c: readahead on page faults -----------------------------------------------


def do_sync_mmap_readahead(ractl: readahead_control, vm_flags: int, vm_pgoff: int, vm_pages: int) -> None:
    """A fault at ``ractl``'s index found no folio: read around it as the VMA (flags, file
    offset and size in pages) says; ``mmap_miss`` counts this miss."""
    ra = ractl.ra
    if vm_flags & VM_HUGEPAGE and HPAGE_PMD_ORDER <= MAX_PAGECACHE_ORDER:  # even with ra off
        ractl._index &= ~(HPAGE_PMD_NR - 1)
        ra.size = HPAGE_PMD_NR if vm_flags & VM_RAND_READ else 2 * HPAGE_PMD_NR
        ra.async_size = HPAGE_PMD_NR
        ra.order = HPAGE_PMD_ORDER
        page_cache_ra_order(ractl, ra)
        return
    if vm_flags & (VM_RAND_READ | VM_EXEC) == VM_RAND_READ or not ra.ra_pages:
        return
    if vm_flags & VM_SEQ_READ:
        page_cache_sync_ra(ractl, ra.ra_pages)
        return
    if ra.mmap_miss < MMAP_LOTSAMISS * 10:
        ra.mmap_miss += 1
    if ra.mmap_miss > MMAP_LOTSAMISS:  # missing far more than hitting: readahead only hurts
        return
    pgoff = ractl.readahead_index()
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
    page_cache_ra_order(ractl, ra)


def do_async_mmap_readahead(ractl: readahead_control, vm_flags: int, folio_nr_pages: int,
                            folio_locked: bool, folio_readahead: bool) -> bool:
    """A fault found its folio cached: count a hit against ``mmap_miss`` (unless the folio is
    locked, another fault's) and, at a PG_readahead folio, start the next window. Returns
    whether it did (the caller clears the folio's mark first, as ``page_cache_async_ra``)."""
    ra = ractl.ra
    if vm_flags & VM_RAND_READ or not ra.ra_pages:
        return False
    if not folio_locked and ra.mmap_miss:
        ra.mmap_miss -= 1
    if not folio_readahead:
        return False
    page_cache_async_ra(ractl, folio_nr_pages, ra.ra_pages)
    return True
