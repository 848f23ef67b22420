"""The real kernel's first-touch fault rate, measured in the benchmark's own run: a small C
probe writes one byte to every page of a fresh 256 MiB anonymous mapping (best of 3) and
prints the faults per second. Shared by the replay benchmarks (``bench_replay.py``,
``bench_replay_pressure.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess

PROBE = r"""
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
int main(void) {
    size_t len = 256UL << 20; double best = 0;
    for (int r = 0; r < 3; r++) {
        char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
        for (size_t o = 0; o < len; o += 4096) p[o] = 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, rate = (len / 4096) / s;
        if (rate > best) best = rate;
        munmap(p, len);
    }
    printf("%.0f\n", best);
    return 0;
}
"""


def real_fault_rate(tmp: str) -> float | None:
    """First-touch page faults per second of this machine's kernel (None without a C compiler)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
    with open(src, "w") as f:
        f.write(PROBE)
    subprocess.run([cc, "-O2", "-o", exe, src], check=True)
    return float(subprocess.run([exe], capture_output=True, text=True, check=True).stdout)
