"""The page cache (mm/filemap.py, mm/truncate.py, fs/ext4.py, mm/shmem.py): folio shapes of
buffered writes as 6.18's ``generic_perform_write``/``__filemap_get_folio`` make them, data
through cache, writeback, eviction and re-read, truncation, cachestat, and the /proc counters."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import host_is_618, meminfo, vmstat

import linuxmm
from linuxmm import debug
from linuxmm.errors import KernelError
from linuxmm.include.linux.huge_mm import HPAGE_PMD_NR

MiB = 1 << 20


@pytest.fixture(scope="module")
def m():
    return linuxmm.Machine()


# ---- folio shapes (issue 14, "Checked against the real kernel" 1, 2, 5) -----------------------

def test_4k_writes_make_order0_folios(m):
    m.create_file("/shape/small", 64 * MiB, chunk=4096)
    folios = m.folios("/shape/small")
    assert len(folios) == 16384 and {n for _, n in folios} == {1}


def test_one_64m_write_makes_2m_folios(m):
    before = meminfo(m, "FileHugePages")["FileHugePages"]
    m.create_file("/shape/big", 64 * MiB)
    assert m.folios("/shape/big") == [(i * 512, 512) for i in range(32)]
    assert meminfo(m, "FileHugePages")["FileHugePages"] - before == 65536


def test_tmpfs_is_order0(m):
    m.create_file("/dev/shm/big", 64 * MiB)
    folios = m.folios("/dev/shm/big")
    assert len(folios) == 16384 and {n for _, n in folios} == {1}


def test_folio_order_follows_write_length_and_index_alignment(m):
    """fgf_set_order(len) = ilog2(len) - PAGE_SHIFT, cut to __ffs(index): a 64 KiB write at
    4 KiB makes folios of 1, 2, 4, 8 pages, then 1 for the last page."""
    p = m.spawn()
    fd = p.open("/shape/unaligned", "w", create=True)
    assert p.pwrite(fd, 64 << 10, offset=4096) == 64 << 10
    assert m.folios("/shape/unaligned") == [(1, 1), (2, 2), (4, 4), (8, 8), (16, 1)]
    p.pwrite(fd, 12 << 10, offset=1 << 20)  # ilog2(12 KiB) = 13: an order-1 folio, then one page
    assert m.folios("/shape/unaligned")[-2:] == [(256, 2), (258, 1)]
    p.exit()


# ---- data end to end ------------------------------------------------------------------------

def test_data_survives_writeback_eviction_and_reread(m):
    p = m.spawn()
    fd = p.open("/oracle", "rw", create=True)
    p.pwrite(fd, 3 * MiB, value=1)
    p.pwrite(fd, 100, offset=64, value=9)  # bytes 64..163: lines 1 and 2
    p.pwrite(fd, 8192, offset=2 * MiB - 4096, value=5)  # across the 2 MiB folio boundary
    want = p.pread(fd, 3 * MiB, 0)
    assert want[:4] == b"\x01\x09\x09\x01" and want[(2 * MiB - 4096) // 64] == 5
    p.fsync(fd)
    assert m.cachestat("/oracle").dirty == 0
    m.sysctl("vm.drop_caches", 1)
    assert m.cachestat("/oracle").cache == 0
    assert p.pread(fd, 3 * MiB, 0) == want  # read back from the disk
    p.fadvise(fd, 0, 0, "dontneed")
    assert m.cachestat("/oracle").cache == 0
    assert p.pread(fd, 3 * MiB, 0, chunk=4096) == want
    assert debug.check(m) == []
    p.exit()


def test_dirty_pages_survive_drop_caches_and_dontneed(m):
    p = m.spawn()
    fd = p.open("/dirty", "rw", create=True)
    p.pwrite(fd, MiB, value=3)
    m.sysctl("vm.drop_caches", 3)
    assert m.cachestat("/dirty").cache == 256  # dirty: not droppable
    p.fadvise(fd, 0, 0, "dontneed")  # starts writeback (WB_SYNC_NONE): folios under it stay
    cs = m.cachestat("/dirty")
    assert (cs.cache, cs.dirty, cs.writeback) == (256, 0, 256)
    m.run(0.01)  # the disk completes the writes
    p.fadvise(fd, 0, 0, "dontneed")  # clean now: dropped
    assert m.cachestat("/dirty").cache == 0
    assert set(p.pread(fd, MiB, 0)) == {3}
    p.exit()


def test_sparse_file_reads_zeros_and_truncate_zeroes_the_tail(m):
    p = m.spawn()
    fd = p.open("/sparse", "rw", create=True)
    p.ftruncate(fd, 1 * MiB)
    assert p.pread(fd, MiB, 0) == bytes(MiB // 64) and m.cachestat("/sparse").dirty == 0
    p.pwrite(fd, 8192, offset=0, value=4)
    p.fsync(fd)
    p.ftruncate(fd, 4096 + 128)  # the second page keeps 2 lines, the rest goes
    assert m.folios("/sparse")[-1][0] <= 1
    p.ftruncate(fd, 3 * 4096)
    data = p.pread(fd, 3 * 4096, 0)
    assert data[:66] == b"\x04" * 66 and data[66:] == bytes(len(data) - 66)
    m.sysctl("vm.drop_caches", 1)
    assert p.pread(fd, 3 * 4096, 0) == data  # the disk was zeroed past the size too
    p.exit()


def test_tmpfs_holes_are_not_cached_and_size_limits(m):
    p = m.spawn()
    fd = p.open("/dev/shm/holes", "rw", create=True)
    p.ftruncate(fd, MiB)
    assert p.pread(fd, MiB, 0) == bytes(MiB // 64)
    assert m.cachestat("/dev/shm/holes").cache == 0  # shmem_file_read_iter: the zero page
    p.pwrite(fd, 4096, offset=8192, value=6)
    shmem = meminfo(m, "Shmem")["Shmem"]
    p.ftruncate(fd, 0)
    assert meminfo(m, "Shmem")["Shmem"] == shmem - 4
    p.exit()


# ---- counters ---------------------------------------------------------------------------------

def test_meminfo_and_vmstat_follow_dirtying_and_writeback():
    m = linuxmm.Machine()
    p = m.spawn()
    base = vmstat(m, "nr_file_pages", "nr_dirty", "nr_dirtied", "nr_written", "nr_shmem")
    fd = p.open("/f", "rw", create=True)
    p.pwrite(fd, 4 * MiB)
    shm = p.open("/dev/shm/s", "rw", create=True)
    p.pwrite(shm, MiB)
    now = vmstat(m, "nr_file_pages", "nr_dirty", "nr_dirtied", "nr_written", "nr_shmem")
    assert now["nr_file_pages"] - base["nr_file_pages"] == 1024 + 256
    assert now["nr_dirty"] - base["nr_dirty"] == 1024  # tmpfs pages are never Dirty
    assert now["nr_dirtied"] - base["nr_dirtied"] == 1024 and now["nr_shmem"] - base["nr_shmem"] == 256
    mi = meminfo(m, "Cached", "Dirty", "Shmem", "FileHugePages", "Writeback")
    assert mi == {"Cached": 5 * 1024 + 4 * base["nr_file_pages"], "Dirty": 4096, "Shmem": 1024,
                  "FileHugePages": 4096, "Writeback": 0}
    p.fsync(fd)
    after = vmstat(m, "nr_dirty", "nr_written")
    assert after["nr_dirty"] == base["nr_dirty"] and after["nr_written"] - base["nr_written"] == 1024
    assert m.cachestat("/f") == linuxmm.records.CacheStat(1024, 0, 0, 0, 0)
    p.exit()
    m.unlink("/f")
    m.unlink("/dev/shm/s")
    assert vmstat(m, "nr_file_pages", "nr_shmem") == {"nr_file_pages": base["nr_file_pages"], "nr_shmem": 0}
    assert debug.check(m) == []


# ---- life cycle -------------------------------------------------------------------------------

def test_unlinked_open_file_lives_until_close_and_fork_shares_descriptors():
    m = linuxmm.Machine()
    p = m.spawn()
    fd = p.open("/gone", "rw", create=True)
    p.pwrite(fd, 8192, value=2)
    child = p.fork()
    m.unlink("/gone")
    with pytest.raises(KernelError) as e:
        m.cachestat("/gone")
    assert e.value.errno == 2
    assert child.pread(fd, 64, 0) == b"\x02"  # the child's descriptor is the same open file
    child.pwrite(fd, 64, value=8)  # at the shared file position (8192 after the parent's write)
    assert p.pread(fd, 4096, 8192) == b"\x08"
    assert debug.check(m) == []
    p.exit()
    assert meminfo(m, "Cached")["Cached"] >= 12
    child.exit()
    assert meminfo(m, "Cached")["Cached"] == 0 and debug.check(m) == []


# ---- against this host's kernel (tests/probe/file_probe.c) ---------------------------------------
HOST = json.loads((Path(__file__).parent / "data" / "host-linux-6.18" / "page_cache_folios.json").read_text())
WRITTEN = {"4k": range(16384), "one": range(16384), "unaligned": [*range(1, 17), *range(256, 259)]}


def expand(runs, keep):
    """[(index, nr)] of the recorded runs, for the folios starting at a written page."""
    return [(i + j * n, n) for i, n, count in runs for j in range(count) if i + j * n in keep]


def simulate(mode: str, path: str) -> list[tuple[int, int]]:
    m = linuxmm.Machine()
    p = m.spawn()
    fd = p.open(path, "w", create=True)
    if mode == "4k":
        p.pwrite(fd, 64 * MiB, chunk=4096)
    elif mode == "one":
        p.pwrite(fd, 64 * MiB)
    else:
        p.pwrite(fd, 64 << 10, offset=4096)
        p.pwrite(fd, 12 << 10, offset=1 << 20)
    return m.folios(path)


@pytest.mark.parametrize("fs,path", [("ext4", "/probe"), ("tmpfs", "/dev/shm/probe")])
@pytest.mark.parametrize("mode", ["4k", "one", "unaligned"])
def test_folio_shapes_as_this_kernel_makes_them(fs, path, mode):
    """The folios 6.18 made for the same writes (the host's pages of holes, read in by the
    probe's MADV_POPULATE_READ, left out)."""
    rec = HOST[fs][mode]
    keep = set(WRITTEN[mode])
    assert simulate(mode, path) == expand(rec["folios"], keep)


@pytest.mark.skipif(not host_is_618() or shutil.which("cc") is None or os.geteuid() != 0,
                    reason="needs this Linux 6.18 host, a C compiler and root (/proc/kpageflags)")
@pytest.mark.parametrize("fs,where", [("ext4", None), ("tmpfs", "/dev/shm")])
def test_file_probe_still_agrees_with_this_kernel(tmp_path, fs, where):
    exe = tmp_path / "file_probe"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(Path(__file__).parent / "probe" / "file_probe.c")], check=True)
    for mode in ("4k", "one", "unaligned"):
        out = subprocess.run([str(exe), f"{where or tmp_path}/probe-{os.getpid()}", mode], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        got = json.loads(out)
        keep = set(WRITTEN[mode])
        want = HOST[fs][mode]
        assert [(i, n) for i, n in got["folios"] if i in keep] == expand(want["folios"], keep), (fs, mode)
        # This file's PMD-sized folios, which FileHugePages/ShmemHugePages count (NR_FILE_THPS,
        # NR_SHMEM_THPS): the probe's global meminfo delta also moves with other processes' THPs.
        huge_kb = sum(n * 4 for _, n in got["folios"] if n == HPAGE_PMD_NR)
        assert huge_kb == want["file_huge_kb"] + want["shmem_huge_kb"], (fs, mode)


def test_a_folio_left_locked_is_reported_not_waited_for_forever():
    """debug.check names a page-cache folio left PG_locked, and a wait for it gives up after
    the hung-task timeout instead of running the clock forever."""
    from linuxmm.errors import LinuxmmError
    from linuxmm.include.linux.page_flags import PG_locked
    from linuxmm.mm import filemap as FM

    m = linuxmm.Machine()
    m.create_file("/locked", 8192)
    [(_, pfn)] = FM.filemap_folios(m.kernel, m.kernel.mounts["/"].s_dentries["locked"].i_mapping, 0, 9)  # one order-1 folio
    FM.folio_set(m.kernel, pfn, PG_locked)
    assert any("left locked" in v for v in debug.check(m))
    p = m.spawn()
    fd = p.open("/locked", "w")
    with pytest.raises(LinuxmmError) as e:
        p.pwrite(fd, 10)  # write_begin's folio_lock
    assert "blocked for more than 120 seconds" in str(e.value)
