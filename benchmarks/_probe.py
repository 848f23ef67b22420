"""The C probes that measure this machine's real kernel in the benchmarks, built and run here.

Every benchmark compares the simulator with the real kernel measured in the same run by a
small C program (its source a string in the benchmark). ``compile_probe`` builds one with the
host's C compiler (None when there is none: the benchmark then prints the simulator's side
alone) and ``run_probe`` runs it and returns its stdout split into words. ``real_fault_rate``
is the replay benchmarks' baseline (``bench_replay.py``, ``bench_replay_pressure.py``): the
first-touch fault rate of a fresh 256 MiB anonymous mapping, best of 3.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def compile_probe(source: str, workdir: str, name: str = "probe") -> str | None:
    """Build the C program ``source`` in ``workdir`` with -O2; its path, or None without cc."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, exe = os.path.join(workdir, f"{name}.c"), os.path.join(workdir, name)
    with open(src, "w") as f:
        f.write(source)
    subprocess.run([cc, "-O2", "-o", exe, src], check=True)
    return exe


def run_probe(exe: str, *args: object) -> list[str]:
    """Run a built probe with ``args``; its stdout as words (it fails loudly on a bad exit)."""
    out = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=True)
    return out.stdout.split()


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
    exe = compile_probe(PROBE, tmp)
    return None if exe is None else float(run_probe(exe)[0])
