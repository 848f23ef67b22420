"""An OOM episode: victim selection among 1000 processes and the reaping of 8 GiB, wall time.

    python benchmarks/bench_oom.py

A 10 GiB x86-64 machine (2 CPUs, THP off so the victim's 8 GiB are 2 M ptes, as a workload
without THP leaves them) runs 1000 small processes (a 64 KiB heap written each), one 8 GiB
victim and a hog that writes until memory runs out. The hog's last write is the episode:
``__alloc_pages_slowpath`` gives up, ``out_of_memory`` scores the 1002 processes, prints the
report (Mem-Info, a 1002-row Tasks state table), kills the victim (not running), the hog waits
for the OOM reaper (2 s of simulated time), which unmaps 8 GiB, and the write goes on.
Printed as JSON: the episode's wall time (``out_of_memory``: selection, report, kill; then the
allocator's wait for the reaper: the unmap of 8 GiB and the victim's exit), its parts, the
selection alone (``select_bad_process``, repeated), the whole last write of the hog (which
also crawls through the slow path below the LOW watermark, no reclaim existing yet), and the
setup time.

The real kernel's time for the same kill is not measured here: this host is not ours to run
out of memory.
"""

from __future__ import annotations

import json
import time

from linuxmm import Machine
from linuxmm.include.linux import gfp as G
from linuxmm.mm import oom_kill as O
from linuxmm.sources import toml

MACHINE = """
name = "oom-bench"
arch = "x86_64"
cpus = 2
cmdline = "transparent_hugepage=never"
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x27fffffff }]
"""
GIB, MIB = 1 << 30, 1 << 20
NR_SMALL = 1000


def setup() -> tuple[Machine, object, object]:
    m = Machine(toml.loads(MACHINE))
    for i in range(NR_SMALL):
        p = m.spawn(comm=f"worker{i}")
        p.write(p.mmap(64 << 10), 64 << 10)
    victim = m.spawn(comm="victim")
    a = victim.mmap(8 * GIB)
    victim.write(a, 8 * GIB)
    return m, victim, m.spawn(comm="hog")


def timed_episode(k) -> dict:
    """Time the OOM killer's call (selection, report, kill) and the allocator's wait for the
    reaper (its unmap of the victim and the victim's exit), inside the hog's write."""
    from linuxmm.mm import page_alloc

    spent = {"oom_s": 0.0, "wait_s": 0.0, "reap_s": 0.0}

    def timing(key, fn):
        def wrapped(*args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[key] += time.perf_counter() - t0
        return wrapped
    k.alloc_hooks.out_of_memory = timing("oom_s", k.alloc_hooks.out_of_memory)
    page_alloc.wait_for_oom_victims = timing("wait_s", page_alloc.wait_for_oom_victims)
    O.__dict__["__oom_reap_task_mm"] = timing("reap_s", O.__dict__["__oom_reap_task_mm"])
    return spent


def main() -> None:
    t0 = time.perf_counter()
    m, victim, hog = setup()
    setup_s = time.perf_counter() - t0
    k = m.kernel
    oc = O.oom_control(G.GFP_HIGHUSER_MOVABLE, 0)
    oc.totalpages = O.oom_totalpages(k)
    t0 = time.perf_counter()
    for _ in range(10):
        O.select_bad_process(k, oc)
    select_s = (time.perf_counter() - t0) / 10
    assert oc.chosen is victim.task
    free_kb = int(m.proc("meminfo").splitlines()[1].split()[1])
    size = (free_kb << 10) + 256 * MIB  # past what is free: the last pages need the OOM killer
    a = hog.mmap(size)
    hog.write(a, size - 512 * MIB)  # most of it, outside the measurement
    spent = timed_episode(k)
    t0 = time.perf_counter()
    sim0 = m.now
    hog.write(a + size - 512 * MIB, 512 * MIB)
    write_s = time.perf_counter() - t0
    assert not victim.alive and hog.alive and "oom_reaper: reaped process" in m.dmesg()
    print(json.dumps({"processes": len(k.tasks), "victim_gib": 8, "setup_s": round(setup_s, 2),
                      "episode_wall_s": round(spent["oom_s"] + spent["wait_s"], 3),
                      "out_of_memory_s": round(spent["oom_s"], 3), "select_bad_process_s": round(select_s, 4),
                      "reaper_wait_s": round(spent["wait_s"], 3), "reap_8GiB_unmap_s": round(spent["reap_s"], 3),
                      "hog_last_512MiB_write_s": round(write_s, 3), "simulated_s": round(m.now - sim0, 3)},
                     indent=2))


if __name__ == "__main__":
    main()
