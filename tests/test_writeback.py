"""Dirty pages and writeback through the API: the flusher on the clock (dirty_expire_centisecs,
dirty_writeback_centisecs, the background threshold), dirty throttling (vm.dirty_bytes), fsync,
and the counters /proc/meminfo and /proc/vmstat show."""

from __future__ import annotations

from linuxmm import Machine

MIB = 1 << 20


def meminfo_kb(m: Machine, key: str) -> int:
    for line in m.proc("meminfo").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def vmstat(m: Machine, key: str) -> int:
    return dict(line.split() for line in m.proc("vmstat").splitlines()).get(key)


def writer(m: Machine, path: str = "/w.dat"):
    p = m.spawn("writer")
    return p, p.open(path, "w", create=True)


def test_dirty_pages_reach_the_disk_after_dirty_expire_centisecs():
    m = Machine()
    p, fd = writer(m)
    t0 = m.now
    p.pwrite(fd, MIB)
    assert meminfo_kb(m, "Dirty") == 1024 and m.now == t0  # below every threshold: no I/O, no wait
    m.run(29.9)  # the flusher ran every 5 s, but nothing was 30 s old
    assert meminfo_kb(m, "Dirty") == 1024 and vmstat(m, "nr_written") == "0"
    m.run(5.5)  # the periodic flush at 30 s (or 35 s) wrote it; the disk completed it
    assert meminfo_kb(m, "Dirty") == 0 and meminfo_kb(m, "Writeback") == 0
    assert vmstat(m, "nr_written") == "256" and int(vmstat(m, "pgpgout")) >= 1024


def test_fsync_writes_and_waits_and_the_data_is_on_the_disk():
    m = Machine()
    p, fd = writer(m)
    p.pwrite(fd, 4 * MIB, value=9)
    t0 = m.now
    p.fsync(fd)
    assert meminfo_kb(m, "Dirty") == 0 and meminfo_kb(m, "Writeback") == 0
    assert m.now > t0  # the syscall returned after the disk wrote 4 MiB
    p.close(fd)
    m.sysctl("vm.drop_caches", 3)
    r = m.spawn("reader")
    data = r.pread(r.open("/w.dat"), 4 * MIB)
    assert set(data) == {9}


def test_a_writer_above_the_dirty_limit_is_throttled():
    m = Machine()
    m.sysctl("vm.dirty_background_bytes", 4 * MIB)
    m.sysctl("vm.dirty_bytes", 8 * MIB)
    p, fd = writer(m)
    t0 = m.now
    p.pwrite(fd, 64 * MIB, chunk=4096)
    elapsed = m.now - t0
    assert elapsed > 0.02  # slept in balance_dirty_pages while the flusher wrote
    assert meminfo_kb(m, "Dirty") + meminfo_kb(m, "Writeback") <= 8 * 1024 + 512
