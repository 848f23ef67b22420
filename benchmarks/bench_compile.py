"""Cold compile time of the simulator core, in a fresh temporary numba cache.

    python benchmarks/bench_compile.py

Runs ``linuxmm warmup`` in a new process with an empty ``NUMBA_CACHE_DIR`` (the cold
compile every new install or source version pays once), then again (loading from the
cache), then the README's commands against the same cache, and counts the functions
compiled after the warmup: any is a command that would compile on its own.
Prints wall and CPU seconds (CPU is what a loaded machine does not inflate).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["vm", "mmap:64M", "write"], ["vm", "mmap:16M", "madvise:hugepage", "write", "fork", "write:8K"],
            ["walk", "7ffff7c00000"], ["proc", "zoneinfo"], ["alloc", "3", "0", "f1", "d"], ["demo"],
            ["replay", "tests/data/traces/ls-R-json.lackey.gz", "--thp", "always"],
            ["trace", "info", "tests/data/traces/ls-R-json.lackey.gz"])


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one ``linuxmm`` run in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "linuxmm.cli", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t0, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def cached_functions(cache: Path) -> int:
    return sum(1 for _ in cache.rglob("*.nbc"))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="linuxmm-bench-compile-") as tmp:
        env = os.environ | {"NUMBA_CACHE_DIR": tmp}
        cold_wall, cold_cpu = timed(["warmup"], env)
        compiled = cached_functions(Path(tmp))
        warm_wall, warm_cpu = timed(["warmup"], env)
        for args in COMMANDS:
            timed(args, env)
        extra = cached_functions(Path(tmp)) - compiled
    print(json.dumps({"cold_compile_wall_s": round(cold_wall, 1), "cold_compile_cpu_s": round(cold_cpu, 1),
                      "compiled_specialisations": compiled, "warm_load_wall_s": round(warm_wall, 2),
                      "warm_load_cpu_s": round(warm_cpu, 2), "compiled_after_warmup_by_commands": extra},
                     indent=2))


if __name__ == "__main__":
    main()
