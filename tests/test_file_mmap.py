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
