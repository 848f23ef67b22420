"""mm/readahead.py: the 6.18 readahead algorithm, against the kernel's rules and this host's
measured ramps (tests/data/host-linux-6.18/readahead_probe.jsonl, tests/probe/readahead_probe.c).

The host's disk has read_ahead_kb 8192 (ra_pages 2048); its probe reads an evicted 64 MiB file
and sleeps 20 ms before each mincore so that the asynchronous readahead has completed; the
tests do the same through the API (``m.run(SETTLE_S)``) and count the cached pages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linuxmm import Machine
from linuxmm.include.linux.fs import file_ra_state
from linuxmm.include.linux.pagemap import readahead_control
from linuxmm.mm import readahead as RA
from linuxmm.mm.readahead import VM_EXEC, VM_HUGEPAGE, VM_RAND_READ, VM_SEQ_READ, get_init_ra_size, get_next_ra_size

PROBE = Path(__file__).parent / "data" / "host-linux-6.18" / "readahead_probe.jsonl"
FILE_PAGES = 16384  # the probe's 64 MiB file
PATH = "/ra.dat"
SETTLE_S = 0.02  # the probe's settle_us


def probe(name: str, settle: int = 20000) -> dict:
    for line in PROBE.read_text().splitlines():
        rec = json.loads(line)
        if rec["scenario"] == name and rec.get("settle_us", settle) == settle:
            return rec
    raise KeyError(name)


def host_like_machine() -> Machine:
    """A machine whose disk has this host's read_ahead_kb (8192)."""
    m = Machine()
    m.sysfs("block/vda/queue/read_ahead_kb", 8192)
    return m


def evicted_file(m: Machine, p, pages: int = FILE_PAGES) -> int:
    """The probe's file, written, fsync'ed and evicted (POSIX_FADV_DONTNEED): a descriptor."""
    m.create_file(PATH, pages << 12)
    fd = p.open(PATH)
    p.fsync(fd)
    p.fadvise(fd, 0, 0, "dontneed")
    assert m.cachestat(PATH).cache == 0
    return fd


def resident(m: Machine) -> int:
    m.run(SETTLE_S)
    return m.cachestat(PATH).cache


def runs(folios) -> list[list[int]]:
    """Folio sizes in index order as [pages, count] runs (the probe's folio_runs)."""
    out: list[list[int]] = []
    for _, nr in folios:
        if out and out[-1][0] == nr:
            out[-1][1] += 1
        else:
            out.append([nr, 1])
    return out


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


# ---- read(): the host's ramps ---------------------------------------------------------------


def test_scenario_6_evicted_file_read_in_4k_calls():
    """Issue 14 scenario 6: resident pages after the 1st read 4, the 2nd 20, the 5th 80; the
    whole file at the end, in the folio sizes this host's kernel made."""
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    after = []
    for _ in range(5):
        p.pread(fd, 4096)
        after.append(resident(m))
    assert after[0] == 4 and after[1] == 20 and after[4] == 80
    p.pread(fd, (FILE_PAGES - 5) << 12, chunk=4096)
    assert resident(m) == FILE_PAGES
    assert runs(m.folios(PATH)) == probe("folios_read_4k")["folio_runs"]


@pytest.mark.parametrize("name,size,advice", [
    ("read_4k", 4096, None), ("read_64k", 65536, None), ("read_1m", 1 << 20, None),
    ("read_4k_fadv_sequential", 4096, "sequential"), ("read_4k_fadv_random", 4096, "random")])
def test_read_ramp_matches_the_host(name, size, advice):
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    if advice:
        p.fadvise(fd, 0, 0, advice)
    after = []
    for _ in probe(name)["resident_after"]:
        p.pread(fd, size)
        after.append(resident(m))
    assert after == probe(name)["resident_after"]


def test_folio_order_ramp_of_1m_reads_matches_the_host():
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    p.pread(fd, FILE_PAGES << 12, chunk=1 << 20)
    assert resident(m) == FILE_PAGES
    assert runs(m.folios(PATH)) == probe("folios_read_1m")["folio_runs"]


def test_window_and_mark_after_the_first_two_reads():
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    f = p.task.files.fdt[fd]
    p.pread(fd, 4096)
    assert f.f_ra.window() == (0, 4, 3, 0)
    p.pread(fd, 4096)
    assert f.f_ra.window() == (4, 16, 16, 2)
    m.run(SETTLE_S)
    assert m.folios(PATH)[:6] == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 4), (8, 4)]


@pytest.mark.parametrize("how", ["willneed", "readahead"])
def test_willneed_and_readahead2_read_max_of_io_and_ra_pages(how):
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    if how == "willneed":
        p.fadvise(fd, 0, FILE_PAGES << 12, "willneed")
    else:
        p.readahead(fd, 0, FILE_PAGES << 12)
    assert resident(m) == probe("fadvise_willneed" if how == "willneed" else "readahead_syscall")["resident_end"]


def test_reading_waits_for_the_disk_and_readahead_does_not():
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    t0 = m.now
    p.pread(fd, 4096)  # a miss: the read of [0, 4) is waited for
    t1 = m.now
    assert t1 > t0
    p.pread(fd, 4096)  # page 1 is cached: async readahead of [4, 20) starts, nothing waits
    assert m.now == t1 and m.cachestat(PATH).cache == 20  # the new window is cached, locked, being read
    m.run(SETTLE_S)
    vmstat = dict(line.split() for line in m.proc("vmstat").splitlines())
    assert int(vmstat["pgpgin"]) == 20 * 4  # KiB read since the eviction


def test_tmpfs_has_no_readahead():
    m = Machine()
    m.create_file("/dev/shm/t", 1 << 20)
    p = m.spawn()
    fd = p.open("/dev/shm/t")
    assert p.task.files.fdt[fd].f_ra.ra_pages == 0
    assert len(p.pread(fd, 4096)) == 64


def test_random_small_read_does_not_touch_the_window():
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    f = p.task.files.fdt[fd]
    p.pread(fd, 4096)
    before = f.f_ra.window()
    p.pread(fd, 4096, offset=5000 << 12)  # far from prev_pos, nothing cached before it
    assert f.f_ra.window() == before
    assert resident(m) == 4 + 1


def test_sync_ra_continues_a_stream_the_cache_remembers():
    """A miss after cached pages that are not the previous read: the window is the cached
    history plus the request (doubled when cached from the file's start)."""
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    f = p.task.files.fdt[fd]
    p.fadvise(fd, 0, 100 << 12, "willneed")
    m.run(SETTLE_S)
    p.pread(fd, 4096, offset=100 << 12)  # prev_pos is -1: not sequential by position
    assert f.f_ra.window() == (100, 201, 1, 0)


# ---- faults --------------------------------------------------------------------------------


def fault_window(vm_flags: int, pgoff: int, ra_pages: int = 2048, vm_pages: int = FILE_PAGES):
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    f = p.task.files.fdt[fd]
    f.f_ra.ra_pages = ra_pages
    RA.do_sync_mmap_readahead(m.kernel, readahead_control(f, f.f_mapping, f.f_ra, pgoff), vm_flags, 0, vm_pages)
    m.run(SETTLE_S)
    return m, f


def test_mmap_read_around_centres_ra_pages_on_the_fault():
    m, f = fault_window(0, 5000)
    assert f.f_ra.window() == (3976, 2048, 512, 0) and f.f_ra.mmap_miss == 1
    assert m.folios(PATH)[0] == (3976, 1) and m.cachestat(PATH).cache == 2048
    m, f = fault_window(0, 0)
    assert m.cachestat(PATH).cache == probe("mmap_seq")["resident_after"][0]


def test_mmap_madv_sequential_is_a_sync_readahead_of_ra_pages():
    m, f = fault_window(VM_SEQ_READ, 0)
    assert f.f_ra.window() == (0, 2048, 1024, 0) and f.f_ra.mmap_miss == 0
    assert m.cachestat(PATH).cache == probe("mmap_seq_madv_sequential")["resident_after"][0]


def test_mmap_madv_random_reads_nothing_ahead():
    m, f = fault_window(VM_RAND_READ, 77)
    assert m.cachestat(PATH).cache == 0  # filemap_fault reads the one folio itself


def test_mmap_exec_reads_forward_within_the_vma():
    m, f = fault_window(VM_EXEC | VM_RAND_READ, 100, vm_pages=600)
    assert f.f_ra.window() == (100, 500, 0, 0)


def test_mmap_hugepage_reads_two_pmd_folios_even_without_readahead():
    m, f = fault_window(VM_HUGEPAGE, 700, ra_pages=0)
    assert m.folios(PATH) == [(512, 512), (1024, 512)]
    m, f = fault_window(VM_HUGEPAGE | VM_RAND_READ, 700)
    assert m.folios(PATH) == [(512, 512)]


def test_mmap_miss_stops_read_around_after_lots_of_misses():
    m = host_like_machine()
    p = m.spawn()
    fd = evicted_file(m, p)
    f = p.task.files.fdt[fd]
    f.f_ra.ra_pages = 32
    for i in range(RA.MMAP_LOTSAMISS + 1):
        RA.do_sync_mmap_readahead(m.kernel, readahead_control(f, f.f_mapping, f.f_ra, i * 100), 0, 0, FILE_PAGES)
    assert f.f_ra.mmap_miss == RA.MMAP_LOTSAMISS + 1
    assert m.cachestat(PATH).cache == 32 * RA.MMAP_LOTSAMISS  # the last miss read nothing


def test_async_mmap_readahead_at_the_mark_continues_the_window():
    from linuxmm.mm.filemap import filemap_get_folio

    m, f = fault_window(0, 0)
    k = m.kernel
    mark = filemap_get_folio(k, f.f_mapping, 1536)
    RA.do_async_mmap_readahead(k, readahead_control(f, f.f_mapping, f.f_ra, 1536), mark, 0)
    m.run(SETTLE_S)
    assert f.f_ra.window() == (2048, 2048, 2048, 2) and m.cachestat(PATH).cache == 4096
