"""File mappings (issue 14): mmap of ext4 and tmpfs files, the file fault path (fault-around,
PMD mappings of 2 MiB folios, COW, shared dirtying, write-protection after writeback,
SIGBUS), msync, mincore, and their /proc views, checked against the real 6.18 kernel.

The oracle is ``tests/data/host-linux-6.18/filemap_probe.jsonl``, measured on the development
host by ``tests/probe/filemap_probe.c``: every scenario of it is replayed here through the
public API with the same steps (a 64 MiB file written in write() calls of a given size,
fsync'ed, read once, reopened, mapped 2 MiB-aligned; loads, stores and msync(MS_SYNC) of
one byte per page) and every number it recorded must come out the same.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from linuxmm import KernelError, Machine
from linuxmm.arch.x86.mm.fault import BusError

MB = 1 << 20
LEN = 64 * MB
PROBE = Path(__file__).parent / "data" / "host-linux-6.18" / "filemap_probe.jsonl"
RECORDS = [json.loads(line) for line in PROBE.read_text().splitlines()]
# the probe's scenarios: (directory, write() size, prot, flags); the steps come from the records
SCENARIOS = {
    "1_4k_shared_load": ("/", 4096, "r", "shared"),
    "1_4k_private_load": ("/", 4096, "r", "private"),
    "2_64m_shared_load": ("/", LEN, "r", "shared"),
    "3_private_rw_store": ("/", 4096, "rw", "private"),
    "4_shared_rw_store": ("/", 4096, "rw", "shared"),
    "5_tmpfs_shared_load": ("/dev/shm", LEN, "r", "shared"),
    "256k_shared_load": ("/", 256 * 1024, "r", "shared"),
    "4k_shared_rw_load_store": ("/", 4096, "rw", "shared"),
    "4k_private_rw_load_store": ("/", 4096, "rw", "private"),
    "64m_private_rw_load_store": ("/", LEN, "rw", "private"),
    "64m_shared_rw_load_store_msync": ("/", LEN, "rw", "shared"),
    "tmpfs_shared_rw_load_store": ("/dev/shm", 4096, "rw", "shared"),
}
SMAPS = {"smaps_rss_kb": "Rss", "referenced_kb": "Referenced", "shared_clean_kb": "Shared_Clean",
         "shared_dirty_kb": "Shared_Dirty", "private_clean_kb": "Private_Clean",
         "private_dirty_kb": "Private_Dirty", "anonymous_kb": "Anonymous", "file_pmd_mapped_kb": "FilePmdMapped"}
STATUS = {"rss_anon_kb": "RssAnon", "rss_file_kb": "RssFile", "rss_shmem_kb": "RssShmem"}


def machine() -> Machine:
    """The default machine with the host's disk setting (read_ahead_kb=8192)."""
    m = Machine()
    m.sysfs(f"block/{m.disks()[0]}/queue/read_ahead_kb", 8192)
    return m


def write_file(m: Machine, path: str, chunk: int, size: int = LEN) -> None:
    """As the probe's ``create``: write() calls of ``chunk`` bytes, fsync, read once, close."""
    p = m.spawn("writer")
    fd = p.open(path, "rw", create=True, truncate=True)
    p.pwrite(fd, size, chunk=chunk)
    p.fsync(fd)
    p.pread(fd, size, offset=0, chunk=MB)
    p.close(fd)
    p.exit()


def status(p) -> dict[str, int]:
    rows = (line.split(":") for line in p.proc("status").splitlines())
    return {k: int(v.split()[0]) for k, v in rows if v.strip().endswith("kB")}


def vma_smaps(p, addr: int) -> dict[str, int]:
    return next(s for v, s in zip(p.maps(), p.smaps()) if v.start == addr)


def kerr_of(fn, *args, **kw) -> int:
    with pytest.raises(KernelError) as e:
        fn(*args, **kw)
    return e.value.errno


def windows(addr: int, length: int) -> int:
    """Read faults taking ``length`` bytes at ``addr`` with 64 KiB fault-around: one per
    64 KiB-aligned window of the address space the range touches (order-0 folios)."""
    return ((addr + length - 1) >> 16) - (addr >> 16) + 1


def steps_of(name: str) -> list[dict]:
    return [r for r in RECORDS if r["scenario"] == name]


@pytest.mark.parametrize("name", SCENARIOS)
def test_probe_scenario(name):
    """Every step of the probe's scenario gives the host's faults, Rss deltas, smaps fields,
    page-cache folios and dirty pages."""
    where, chunk, prot, flags = SCENARIOS[name]
    m = machine()
    path = where.rstrip("/") + "/linuxmm-file-probe"
    write_file(m, path, chunk)
    p = m.spawn("probe")
    fd = p.open(path, "rw" if "w" in prot and flags == "shared" else "r")
    a = -(-p.mmap(LEN + 2 * MB, "none") // (2 * MB)) * 2 * MB  # the probe's reserve_aligned
    assert p.mmap(LEN, prot, flags + "|fixed", addr=a, fd=fd) == a
    for rec in steps_of(name):
        before, f0, j0 = status(p), p.minflt, p.majflt
        if rec["step"] == "l":
            p.read(a, LEN)
        elif rec["step"] == "s":
            p.write(a, LEN, value=9)
        else:
            p.msync(a, LEN, "sync")
        after, sm = status(p), vma_smaps(p, a)
        got = {"minflt": p.minflt - f0, "majflt": p.majflt - j0,
               **{k: after[v] - before[v] for k, v in STATUS.items()}, **{k: sm[v] for k, v in SMAPS.items()},
               "dirty_pages": m.cachestat(path).dirty}
        if rec["anonymous_kb"] == 0:  # the pages mapped are the file's: its folios
            folios = m.folios(path)
            got["folios"], got["largest_folio_pages"] = len(folios), max(n for _, n in folios)
        want = {k: rec[k] for k in got}
        assert got == want, f"{name} step {rec['step']}"


def test_sigbus_past_eof():
    """A one-byte file mapped over two pages: the first page reads (the rest of it is
    zeros), the second is SIGBUS, as on the host."""
    rec = steps_of("sigbus_past_eof")[0]
    m = machine()
    m.create_file("/small", 1)
    p = m.spawn()
    a = p.mmap(2 * 4096, "r", "shared", fd=p.open("/small"))
    assert (p.read(a + 100, 1) is not None) == (rec["sigbus_page0"] == 0)
    with pytest.raises(BusError):
        p.read(a + 4096, 1)
    assert rec["sigbus_page1"] == 1 and not p.alive


def test_mmap_file_errors():
    m = machine()
    m.create_file("/f", 8192)
    p = m.spawn()
    ro = p.open("/f")
    with pytest.raises(KernelError) as e:
        p.mmap(8192, "rw", "shared", fd=ro)
    assert e.value.errno == errno.EACCES
    with pytest.raises(KernelError) as e:
        p.mmap(8192, "r", "shared", fd=99)
    assert e.value.errno == errno.EBADF
    with pytest.raises(KernelError) as e:
        p.mmap(8192, "r", "shared", fd=ro, offset=100)
    assert e.value.errno == errno.EINVAL
    wo = p.open("/f", "w")
    with pytest.raises(KernelError) as e:
        p.mmap(8192, "r", "private", fd=wo)
    assert e.value.errno == errno.EACCES
    a = p.mmap(8192, "rw", "private", fd=ro)  # a private writable mapping of a read-only file is fine
    b = p.mmap(8192, "r", "shared", fd=ro)
    perms = {int(ln.split("-")[0], 16): ln.split()[1] for ln in p.proc("maps").splitlines()}
    assert perms[a] == "rw-p" and perms[b] == "r--s"  # VM_MAYSHARE without VM_SHARED: still 's'
    assert kerr_of(p.mmap, 8192, "r", "shared", fd=ro, offset=(1 << 63) - 4096) == errno.EOVERFLOW


def test_maps_line_of_a_file_mapping():
    """``start-end perms offset major:minor inode path``, the name at column 73."""
    m = machine()
    m.create_file("/data/f", 3 * 4096)
    p = m.spawn()
    fd = p.open("/data/f")
    a = p.mmap(2 * 4096, "r", "shared", fd=fd, offset=4096)
    line = next(ln for ln in p.proc("maps").splitlines() if ln.startswith(f"{a:08x}"))
    ino = p.task.files.fdt[fd].f_inode
    major, minor = ino.i_sb.s_dev
    prefix = f"{a:08x}-{a + 8192:08x} r--s 00001000 {major:02x}:{minor:02x} {ino.i_ino} "
    assert line == f"{prefix:<72} /data/f"


def test_mincore_file_and_anon():
    m = machine()
    m.create_file("/f", 16 * 4096, chunk=4096)
    p = m.spawn()
    fd = p.open("/f")
    a = p.mmap(32 * 4096, "r", "private", fd=fd)  # half past EOF: those pages are not cached
    assert p.mincore(a, 32 * 4096).tolist() == [1] * 16 + [0] * 16
    p.fadvise(fd, 0, 0, "dontneed")
    assert p.mincore(a, 32 * 4096).tolist() == [0] * 32
    anon = p.mmap(4 * 4096, "rw")
    p.write(anon, 4096)
    res = p.mincore(anon, 4 * 4096 - 1)
    assert res.dtype == np.uint8 and res.tolist() == [1, 0, 0, 0]
    with pytest.raises(KernelError) as e:
        p.mincore(anon + 1, 4096)
    assert e.value.errno == errno.EINVAL
    p.munmap(anon + 3 * 4096, 4096)
    with pytest.raises(KernelError) as e:
        p.mincore(anon, 4 * 4096)
    assert e.value.errno == errno.ENOMEM


def test_msync_errors():
    m = machine()
    m.create_file("/f", 8 * 4096)
    p = m.spawn()
    a = p.mmap(8 * 4096, "rw", "shared", fd=p.open("/f", "rw"))
    p.msync(a, 8 * 4096, "async")
    p.msync(a, 0, "sync")
    for flags, addr, length, err in (("sync|async", a, 4096, "EINVAL"), (8, a, 4096, "EINVAL"),
                                     ("sync", a + 1, 4096, "EINVAL"), ("sync", a, 16 * 4096, "ENOMEM"),
                                     ("sync", a, -4096, "ENOMEM")):
        with pytest.raises(KernelError) as e:
            p.msync(addr, length, flags)
        assert e.value.errno == getattr(errno, err), (flags, addr, length)


def test_fault_around_bytes_knob():
    """/sys/kernel/debug/fault_around_bytes: 65536 by default; one page turns fault-around
    off (a fault per page), larger values map more per fault; above a page table's span or
    not a number is EINVAL."""
    m = machine()
    assert m.sysfs("kernel/debug/fault_around_bytes") == "65536\n"
    write_file(m, "/f", 4096, 4 * MB)
    for value, faults in ((4096, 1024), (100000, 16), (2 * MB, 2)):  # 100000 rounds down to 64 KiB
        m.sysfs("kernel/debug/fault_around_bytes", value)
        p = m.spawn()
        a = p.mmap(4 * MB, "r", "shared", fd=p.open("/f"))
        p.read(a, 4 * MB)
        assert p.minflt == (1024 if value == 4096 else 4 * MB // 4096 // (16 if value == 100000 else 512)), value
        p.exit()
    for bad in (4 * MB, "x"):
        with pytest.raises(KernelError):
            m.sysfs("kernel/debug/fault_around_bytes", bad)


def test_debug_check_covers_file_mappings():
    """debug.check passes over file mappings of every kind, and catches a file pte that maps
    another folio than the page cache holds, a wrong mapcount and a drifted NR_FILE_MAPPED."""
    from linuxmm import debug
    from linuxmm.mm import memory as M
    from linuxmm.mm.pgtable import NS_FILE_MAPPED

    m = machine()
    m.create_file("/f", 4 * MB)
    m.create_file("/g", MB, chunk=4096)
    p = m.spawn()
    a = p.mmap(4 * MB, "r", "shared", fd=p.open("/f"))  # PMD-mapped 2 MiB folios
    b = p.mmap(MB, "rw", "private", fd=p.open("/g"))
    p.read(a, 4 * MB)
    p.read(b, MB)
    p.write(b, 64 * 1024)  # COW copies of 16 pages
    c = p.fork()
    c.read(b, MB)
    assert debug.check(m) == []
    k = m.kernel
    entry, _ = M.lookup_pte(k.mem_map, k.vm_state, int(p.task.mmc[M.MMC_PGD]), b + MB - 4096)
    pfn = int(entry) >> 12 & ((1 << 40) - 1)
    k.mem_map.mapcount[pfn] += 1
    assert any("mapcount" in e for e in debug.check(m))
    k.mem_map.mapcount[pfn] -= 1
    k.vm_state.nstat[0, NS_FILE_MAPPED] += 1
    assert any("NR_FILE_MAPPED" in e for e in debug.check(m))
    k.vm_state.nstat[0, NS_FILE_MAPPED] -= 1
    vs, last = k.vm_state, b + MB - 4096
    level = int(vs.vp[M.VP_LEVELS]) - 1
    row, idx = M.pt_table(k.mem_map, vs, p.task.mmc, int(p.task.mmc[M.MMC_PGD]), last, level, False), \
        M.pt_index(vs, level, last)
    other = int(vs.pt[row, idx - 1]) >> 12 & ((1 << 40) - 1)  # the page before it, in the same file
    vs.pt[row, idx] = (vs.pt[row, idx] & np.uint64(0xFFF)) | np.uint64(other << 12)
    assert any("where rmap would look at another address" in e for e in debug.check(m))


def test_major_faults_read_an_evicted_file():
    """An evicted file's pages are read at their faults: those faults are major (PGMAJFAULT,
    getrusage's majflt), the data is the file's, and the pages are in the cache afterwards."""
    m = machine()
    write_file(m, "/f", 4096, MB)
    p = m.spawn()
    fd = p.open("/f")
    p.fadvise(fd, 0, 0, "dontneed")
    a = p.mmap(MB, "r", "private", fd=fd)
    assert not p.mincore(a, MB).any()
    before = int(m.proc("vmstat").split("pgmajfault ")[1].split()[0])
    assert set(p.read(a, MB, stride=64)) == {7}
    assert p.majflt >= 1 and p.minflt + p.majflt <= 256
    assert int(m.proc("vmstat").split("pgmajfault ")[1].split()[0]) - before >= p.majflt
    assert p.mincore(a, MB).all()


def test_fork_shares_file_pages_the_child_faults_in():
    """fork copies no pte of a file VMA without an anon_vma (``vma_needs_copy``) and no file
    PMD: the child takes its own faults, and then both map the same cached pages (shared)."""
    m = machine()
    write_file(m, "/f", 4096, MB)
    write_file(m, "/g", 2 * MB, 2 * MB)
    p = m.spawn()
    a = p.mmap(MB, "r", "shared", fd=p.open("/f"))
    b = p.mmap(2 * MB, "r", "shared", fd=p.open("/g"))
    p.read(a, MB)
    p.read(b, 2 * MB)
    c = p.fork()
    assert vma_smaps(c, a)["Rss"] == 0 and vma_smaps(c, b)["Rss"] == 0
    c.read(a, MB)
    c.read(b, 2 * MB)
    assert c.minflt == windows(a, MB) + 1
    sa, sb = vma_smaps(c, a), vma_smaps(c, b)
    assert sa["Shared_Clean"] == 1024 and sa["Pss"] == 512 and sb["FilePmdMapped"] == 2048
    assert sb["Shared_Clean"] == 2048


def test_shared_writes_dirty_the_cache_and_writeback_write_protects():
    """A store through a shared ext4 mapping dirties the page cache (writenotify: the first
    store to a page faults even after a load mapped it); fsync writes it back and
    write-protects the ptes (folio_mkclean), so the next store faults again. mprotect does
    not make those ptes writable behind the filesystem's back."""
    m = machine()
    write_file(m, "/f", 4096, MB)
    p = m.spawn()
    fd = p.open("/f", "rw")
    a = p.mmap(MB, "rw", "shared", fd=fd)
    p.read(a, MB)
    p.mprotect(a, MB, "r")
    p.mprotect(a, MB, "rw")
    f0 = p.minflt
    p.write(a, MB, value=3)
    assert p.minflt - f0 == 256 and m.cachestat("/f").dirty == 256
    p.fsync(fd)
    assert m.cachestat("/f").dirty == 0 and vma_smaps(p, a)["Private_Dirty"] == 0
    f0 = p.minflt
    p.write(a, MB, value=4)
    assert p.minflt - f0 == 256 and m.cachestat("/f").dirty == 256
    assert set(p.pread(fd, MB, offset=0)[::64]) == {4}  # the first line of each page


def test_vm_steps_for_files():
    from typer.testing import CliRunner

    from linuxmm.cli import app

    r = CliRunner().invoke(app, ["vm", "create:/data/f:1M:4K", "open:/data/f", "mmap:1M:r:shared", "read",
                                 "mincore", "close", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    steps = {s["step"]: s["result"] for s in out["steps"]}
    assert steps["create:/data/f:1M:4K"] == "/data/f: 256 folios cached"
    a = int(steps["mmap:1M:r:shared"].split(": ")[1].split("-")[0], 16)
    assert steps["read"].endswith(f": {windows(a, MB)} page faults")
    assert steps["mincore"].endswith(": 256 of 256 pages resident")


def test_replay_maps_takes_file_faults(tmp_path):
    """``replay --maps``: a file-backed line is mapped from a file created at the size its
    mappings reach (by one write(): a 1 MiB folio and a 64 KiB one); a load per page of the
    first mapping takes one fault (the whole folio is mapped), each store to the private
    writable one copies its page (do_cow_fault)."""
    from linuxmm.tools.replay import replay
    from linuxmm.tools.trace import TRACE_DTYPE, write_binary

    base = 0x7F0000000000
    maps = tmp_path / "maps"
    maps.write_text(f"{base:x}-{base + MB:x} r--p 00000000 fe:00 12 /usr/lib/libx.so\n"
                    f"{base + MB:x}-{base + MB + 65536:x} rw-p 00100000 fe:00 12 /usr/lib/libx.so\n")
    recs = np.zeros(256 + 16, TRACE_DTYPE)
    recs["addr"] = base + (np.arange(256 + 16, dtype=np.int64) << 12)
    recs["kind"] = [1] * 256 + [2] * 16
    write_binary(tmp_path / "t.bin", [recs])
    m = machine()
    res = replay(m, tmp_path / "t.bin", maps=maps)
    assert m.folios("/usr/lib/libx.so") == [(0, 256), (256, 16)]
    assert res.minor_faults == 1 + 16 and res.pages_allocated == 16
