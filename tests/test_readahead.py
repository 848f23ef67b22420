"""mm/readahead.py: the 6.18 readahead algorithm on a model page cache, against the kernel's
rules and this host's measured ramps (tests/data/host-linux-6.18/readahead_probe.jsonl).

``ModelCache`` is a page cache reduced to what readahead sees (which indices hold which folio,
which carry PG_readahead) and ``read_stream`` walks it as ``filemap_read`` does
(``filemap_get_pages``: a read batch stops after a PG_readahead folio, a miss calls
``page_cache_sync_ra``, a marked last folio ``page_cache_async_ra``; ``prev_pos`` is the
byte after the read), so the window arithmetic is checked apart from the simulator's I/O.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linuxmm.mm import readahead as RA
from linuxmm.mm.readahead import (
    FMODE_RANDOM, VM_EXEC, VM_HUGEPAGE, VM_RAND_READ, VM_SEQ_READ, file_ra_state, get_init_ra_size,
    get_next_ra_size,
)

PAGE_SHIFT = 12
PROBE = Path(__file__).parent / "data" / "host-linux-6.18" / "readahead_probe.jsonl"
FILE_PAGES = 16384  # the probe's 64 MiB file
RA_PAGES = 2048  # read_ahead_kb 8192
IO_PAGES = 1024  # max_sectors_kb 4096
FOLIO_BATCH_SIZE = 31  # PAGEVEC_SIZE: filemap_get_read_batch's batch


def probe(name: str, settle: int = 20000) -> dict:
    for line in PROBE.read_text().splitlines():
        rec = json.loads(line)
        if rec["scenario"] == name and rec.get("settle_us", settle) == settle:
            return rec
    raise KeyError(name)


class File:
    """The ``struct file`` fields readahead reads."""

    def __init__(self, ra_pages: int = RA_PAGES, f_mode: int = 0):
        self.f_ra, self.f_mode = file_ra_state(ra_pages), f_mode


class ModelCache(RA.readahead_control):
    """A readahead_control over a dict page cache: head index -> order, PG_readahead heads."""

    def __init__(self, pages: int = FILE_PAGES, max_order: int = RA.MAX_PAGECACHE_ORDER,
                 io_pages: int = IO_PAGES):
        self.pages, self.order_max, self.io = pages, max_order, io_pages
        self.head: dict[int, int] = {}  # every cached index -> its folio's head index
        self.order: dict[int, int] = {}  # head -> order
        self.marked: set[int] = set()
        self.reads: list[tuple[int, int]] = []  # read_pages batches (index, nr_pages)

    def at(self, file: File, index: int) -> "ModelCache":
        super().__init__(None, file, file.f_ra, None, index, PAGE_SHIFT)
        return self

    def io_pages(self) -> int:
        return self.io

    def i_size(self) -> int:
        return self.pages << PAGE_SHIFT

    def max_folio_order(self) -> int:
        return self.order_max

    def folio_present(self, index: int) -> bool:
        return index in self.head

    def add_folio(self, index: int, order: int, readahead: bool) -> bool:
        span = range(index, index + (1 << order))
        if any(i in self.head for i in span):
            return False
        for i in span:
            self.head[i] = index
        self.order[index] = order
        if readahead:
            self.marked.add(index)
        return True

    def read_pages(self) -> None:
        self.reads.append((self._index, self._nr_pages))

    def runs(self) -> list[list[int]]:
        """Folio sizes in index order as [pages, count] runs (the probe's folio_runs)."""
        out: list[list[int]] = []
        for h in sorted(self.order):
            nr = 1 << self.order[h]
            if out and out[-1][0] == nr:
                out[-1][1] += 1
            else:
                out.append([nr, 1])
        return out


def read_batch(pc: ModelCache, index: int, last: int) -> list[int]:
    """``filemap_get_read_batch``: folio heads from ``index``, ending after a marked one."""
    batch = []
    while index <= last and index in pc.head and len(batch) < FOLIO_BATCH_SIZE:
        h = pc.head[index]
        batch.append(h)
        if h in pc.marked:
            break
        index = h + (1 << pc.order[h])
    return batch


def read_call(pc: ModelCache, file: File, pos: int, count: int) -> int:
    """One read(2) of ``count`` bytes at ``pos`` (``filemap_read``); returns the new pos."""
    end = min(pos + count, pc.i_size())
    while pos < end:
        index, last = pos >> PAGE_SHIFT, -(-end >> PAGE_SHIFT)
        batch = read_batch(pc, index, last - 1)
        if not batch:
            RA.page_cache_sync_ra(pc.at(file, index), last - index)
            batch = read_batch(pc, index, last - 1)
        h = batch[-1]
        if h in pc.marked:  # filemap_readahead
            pc.marked.discard(h)
            RA.page_cache_async_ra(pc.at(file, h), 1 << pc.order[h], last - h)
        pos = min(end, (h + (1 << pc.order[h])) << PAGE_SHIFT)
    file.f_ra.prev_pos = pos
    return pos


def read_stream(size: int, steps: int, f_mode: int = 0, **cache) -> tuple[ModelCache, list[int]]:
    """Read a whole evicted file in ``size``-byte calls: resident pages after the first
    ``steps`` calls, and the cache at the end."""
    pc, file = ModelCache(**cache), File(f_mode=f_mode)
    pos, resident = 0, []
    while pos < pc.i_size():
        pos = read_call(pc, file, pos, size)
        if len(resident) < steps:
            resident.append(len(pc.head))
    return pc, resident


# ---- window arithmetic -----------------------------------------------------------------


def test_init_ra_size_follows_the_kernel_table():
    # the kernel's comment for a 128 KiB (32-page) maximum: 1-2 pages -> 16k, 3-4 -> 32k,
    # 5-8 -> 64k, more -> 128k
    assert [get_init_ra_size(n, 32) for n in (1, 2, 3, 4, 5, 8, 9, 32, 100)] == [4, 4, 8, 8, 16, 16, 32, 32, 32]
    assert get_init_ra_size(1, 2048) == 4 and get_init_ra_size(16, 2048) == 64 and get_init_ra_size(256, 2048) == 512


def test_next_ra_size_quadruples_then_doubles_then_caps():
    ra = file_ra_state(2048)
    sizes = []
    for size in (4, 64, 127, 128, 1024, 1025, 2048):
        ra.size = size
        sizes.append(get_next_ra_size(ra, 2048))
    assert sizes == [16, 256, 508, 256, 2048, 2048, 2048]


# ---- read(): the ramps measured on this host ---------------------------------------------


@pytest.mark.parametrize("name,size", [("read_4k", 4096), ("read_64k", 65536), ("read_1m", 1 << 20),
                                       ("read_4k_fadv_sequential", 4096)])
def test_read_ramp_matches_the_host(name, size):
    rec = probe(name)
    ra_pages = 2 * RA_PAGES if name.endswith("sequential") else RA_PAGES
    pc, file = ModelCache(), File(ra_pages)
    pos, resident = 0, []
    for _ in rec["resident_after"]:
        pos = read_call(pc, file, pos, size)
        resident.append(len(pc.head))
    assert resident == rec["resident_after"]


def test_scenario_6_ramp_4_20_80():
    _, resident = read_stream(4096, 5)
    assert resident[0] == 4 and resident[1] == 20 and resident[4] == 80


@pytest.mark.parametrize("name,size", [("folios_read_4k", 4096), ("folios_read_1m", 1 << 20)])
def test_folio_order_ramp_matches_the_host(name, size):
    pc, _ = read_stream(size, 0)
    assert len(pc.head) == FILE_PAGES
    assert pc.runs() == probe(name)["folio_runs"]


def test_readahead_marks_the_first_folio_of_the_async_tail():
    pc, file = ModelCache(), File()
    read_call(pc, file, 0, 4096)
    assert file.f_ra.window() == (0, 4, 3, 0) and pc.marked == {1}
    read_call(pc, file, 4096, 4096)
    assert file.f_ra.window() == (4, 16, 16, 2) and pc.marked == {4}
    assert pc.reads == [(0, 4), (4, 16)]


def test_tmpfs_like_mapping_without_large_folios_stays_order_0():
    pc, _ = read_stream(4096, 0, max_order=0)
    assert pc.runs() == [[1, FILE_PAGES]]


def test_fadvise_random_reads_only_what_is_asked():
    _, resident = read_stream(4096, 12, f_mode=FMODE_RANDOM)
    assert resident == probe("read_4k_fadv_random")["resident_after"]


def test_random_small_read_does_not_touch_the_window():
    pc, file = ModelCache(), File()
    read_call(pc, file, 0, 4096)
    before = file.f_ra.window()
    read_call(pc, file, 5000 << PAGE_SHIFT, 4096)  # far from prev_pos, nothing cached before it
    assert file.f_ra.window() == before and 5000 in pc.head and 5001 not in pc.head


def test_sync_ra_continues_a_stream_the_cache_remembers():
    """A miss right after cached pages that are not the previous read: the window is the
    contiguous cached history plus the request (doubled if cached from the file's start)."""
    pc, file = ModelCache(), File()
    for i in range(100):
        pc.add_folio(i, 0, False)
    file.f_ra.prev_pos = 7 << 20  # the previous read was elsewhere
    RA.page_cache_sync_ra(pc.at(file, 100), 1)
    assert file.f_ra.window() == (100, 201, 1, 0)


def test_async_ra_of_another_stream_guesses_its_window():
    """A marked folio not at the window's expected index (interleaved streams): the next miss
    after it gives the old async size."""
    pc, file = ModelCache(), File()
    for i in range(500, 532):
        pc.add_folio(i, 0, i == 500)
    RA.page_cache_async_ra(pc.at(file, 500), 1, 1)
    # start 532, size 32 + 1 quadrupled (below max/16); its end 664 is order-2 aligned
    assert file.f_ra.window() == (532, 132, 132, 2)


def test_willneed_reads_at_most_max_of_io_pages_and_ra_pages():
    pc, file = ModelCache(), File()
    RA.force_page_cache_ra(pc.at(file, 0), FILE_PAGES)
    assert len(pc.head) == probe("fadvise_willneed")["resident_end"] == 2048
    assert all(n <= 512 for _, n in pc.reads)  # 2 MiB chunks


def test_large_request_may_use_the_device_io_size():
    pc, file = ModelCache(io_pages=4096), File()
    RA.page_cache_sync_ra(pc.at(file, 0), 3000)
    assert file.f_ra.size == 3000  # ractl_max_pages: min(req, io_pages) > ra_pages


def test_window_never_passes_eof():
    pc, file = ModelCache(pages=10), File()
    read_call(pc, file, 0, 4096)
    read_call(pc, file, 4096, 4096)
    assert max(pc.head) == 9


# ---- faults --------------------------------------------------------------------------------


def fault_window(vm_flags: int, pgoff: int, ra_pages: int = RA_PAGES, vm_pages: int = FILE_PAGES):
    pc, file = ModelCache(), File(ra_pages)
    RA.do_sync_mmap_readahead(pc.at(file, pgoff), vm_flags, 0, vm_pages)
    return pc, file.f_ra


def test_mmap_read_around_centres_ra_pages_on_the_fault():
    pc, ra = fault_window(0, 5000)
    assert ra.window() == (3976, 2048, 512, 0) and ra.mmap_miss == 1
    assert min(pc.head) == 3976 and len(pc.head) == 2048 and pc.marked == {3976 + 1536}
    pc, ra = fault_window(0, 0)
    assert len(pc.head) == probe("mmap_seq")["resident_after"][0]


def test_mmap_madv_sequential_is_a_sync_readahead_of_ra_pages():
    pc, ra = fault_window(VM_SEQ_READ, 0)
    assert ra.window() == (0, 2048, 1024, 0) and ra.mmap_miss == 0
    assert len(pc.head) == probe("mmap_seq_madv_sequential")["resident_after"][0]


def test_mmap_madv_random_reads_nothing_ahead():
    pc, ra = fault_window(VM_RAND_READ, 77)
    assert not pc.head  # filemap_fault then reads the one folio itself


def test_mmap_exec_reads_forward_within_the_vma():
    pc, ra = fault_window(VM_EXEC | VM_RAND_READ, 100, vm_pages=600)
    assert ra.window() == (100, 500, 0, 0)


def test_mmap_hugepage_reads_two_pmd_folios_even_without_readahead():
    pc, ra = fault_window(VM_HUGEPAGE, 700, ra_pages=0)
    assert pc.runs() == [[512, 2]] and min(pc.head) == 512
    pc, ra = fault_window(VM_HUGEPAGE | VM_RAND_READ, 700)
    assert pc.runs() == [[512, 1]]


def test_mmap_miss_stops_read_around_after_lots_of_misses():
    pc, file = ModelCache(pages=1 << 30), File(32)
    for i in range(RA.MMAP_LOTSAMISS + 1):
        RA.do_sync_mmap_readahead(pc.at(file, i * 1000), 0, 0, 1 << 30)
    assert file.f_ra.mmap_miss == RA.MMAP_LOTSAMISS + 1
    assert len(pc.head) == 32 * RA.MMAP_LOTSAMISS  # the last miss read nothing
    hits = RA.do_async_mmap_readahead(pc.at(file, 5), 0, 1, False, False)
    assert not hits and file.f_ra.mmap_miss == RA.MMAP_LOTSAMISS


def test_async_mmap_readahead_at_the_mark_continues_the_window():
    pc, ra = fault_window(0, 0)
    assert RA.do_async_mmap_readahead(pc.at(pc.file, 1536), 0, 1, False, True)
    assert ra.window() == (2048, 2048, 2048, 2) and len(pc.head) == 4096
