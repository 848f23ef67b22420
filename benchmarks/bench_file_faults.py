"""File-backed fault replay, with the real kernel's file-fault rate measured in the same run.

    python benchmarks/bench_file_faults.py [--size-mib 1024]

A 1 GiB file is written in 4 KiB write() calls (so the page cache holds order-0 folios and
every fault maps ``fault_around_bytes`` = 64 KiB, 16 pages), cached, and mapped MAP_SHARED
read-only; one load per page in order:

* the real kernel: a small C probe on this machine's ext4 (the file in a temporary directory
  under ``--dir``), best of 3 mappings of the cached file, timed around the loads alone;
* the simulator: ``linuxmm replay --maps`` of the same access trace (one load record per
  page) over the same file created on the simulated disk, timed by ``replay_seconds``, best
  of 3 replays after a first one (a pass takes tens of milliseconds on either side, so one
  pass alone swings by 2x with whatever else the host does at that moment).

Both take the same faults (16384 for 1 GiB); the rates compared are faults per second of
wall time (and pages per second, the same ratio). The same is repeated for a file written by
one write() (2 MiB folios: a PMD mapping per fault). Goal (issue #14): >= 5x the real
kernel's file-fault rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from _probe import compile_probe, run_probe

from linuxmm import Machine
from linuxmm.tools.replay import replay
from linuxmm.tools.trace import TRACE_DTYPE, write_binary

PROBE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
static long minflt(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_minflt; }
int main(int argc, char **argv) {
    size_t len = strtoull(argv[2], 0, 0), chunk = strtoull(argv[3], 0, 0);
    char *buf = malloc(chunk); memset(buf, 7, chunk);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (size_t o = 0; o < len; o += chunk) if (write(fd, buf, chunk) != (ssize_t)chunk) return 1;
    fsync(fd);
    double best = 0; long faults = 0;
    for (int r = 0; r < 3; r++) {
        volatile char *p = mmap(0, len, PROT_READ, MAP_SHARED, fd, 0);
        struct timespec a, b; long f0 = minflt(); clock_gettime(CLOCK_MONOTONIC, &a);
        for (size_t o = 0; o < len; o += 4096) (void)p[o];
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        faults = minflt() - f0;
        if (faults / s > best) best = faults / s;
        munmap((void *)p, len);
    }
    printf("%ld %.0f\n", faults, best);
    close(fd); unlink(argv[1]);
    return 0;
}
"""
BASE = 0x7F0000000000


def real_rate(tmp: str, directory: str, size: int, chunk: int) -> tuple[int, float] | None:
    """(faults per pass, best faults/s) of the real kernel, or None without a C compiler."""
    exe = compile_probe(PROBE, tmp)
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(dir=directory) as d:
        out = run_probe(exe, os.path.join(d, "f"), size, chunk)
    return int(out[0]), float(out[1])


def sim_rate(tmp: str, size: int, chunk: int) -> tuple[int, float]:
    """(faults, faults/s) of replaying one load per page over the cached file in the simulator."""
    trace = os.path.join(tmp, "loads.bin")
    recs = np.zeros(size >> 12, TRACE_DTYPE)
    recs["addr"] = BASE + (np.arange(size >> 12, dtype=np.int64) << 12)
    recs["kind"] = 1
    write_binary(trace, recs)
    maps = os.path.join(tmp, "maps")
    with open(maps, "w") as f:
        f.write(f"{BASE:x}-{BASE + size:x} r--s 00000000 fe:00 12 /data/big\n")
    m = Machine()
    m.create_file("/data/big", size, chunk=chunk)
    p = m.spawn()
    p.fsync(p.open("/data/big"))  # cached and clean, as the probe's file: no writeback while replaying
    p.exit()
    replay(m, trace, maps=maps)  # the compiled code loaded, the page tables' pool grown
    runs = [replay(m, trace, maps=maps) for _ in range(3)]
    return runs[0].minor_faults, max(r.minor_faults / r.replay_seconds for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="a directory on the host's ext4 for the probe")
    args = ap.parse_args()
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory() as tmp:
        for name, chunk in (("4 KiB writes (order-0 folios, fault-around)", 4096), ("one write (2 MiB folios)", size)):
            real = real_rate(tmp, args.dir, size, chunk)
            faults, rate = sim_rate(tmp, size, chunk)
            line = f"{name}: simulator {faults} faults, {rate:,.0f} faults/s"
            if real is not None:
                line += f"; real kernel {real[0]} faults, {real[1]:,.0f} faults/s; ratio {rate / real[1]:.1f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
