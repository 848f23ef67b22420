"""Fault speed against the commit before the LRU lists, measured in the same run.

    python benchmarks/bench_replay_vs_base.py [--rounds 5] [--base 158d2eb] [--src DIR]

Issue #15 asks that a trace whose working set fits in RAM gets no slower for the LRU
bookkeeping reclaim added. This takes ``bench_replay.py``'s fault trace (a write to every
page of a fresh 256 MiB mapping) and replays it in child processes, alternating between the
base commit's source (exported with ``git archive`` into a temporary directory) and this
checkout's, on a freshly booted machine and in steady state (a second process on the
machine after a first one exited). Each child reports the CPU time (user + system: the host
faulting in the simulator's arrays counts) of the replay loop per simulated fault, what
``bench_replay.py`` times as ``replay_seconds`` (the child points replay's clock at
``time.process_time``: other processes on the host then cost it nothing); the medians over
all rounds give the speed of this checkout as a ratio of the base's (> 1: faster).
Goal (issue #15): >= 1.0 in both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from linuxmm.tools.trace import TRACE_DTYPE, write_binary

BASE = "158d2eb"  # "Merge branch 'foundation'": the last commit before the LRU lists
REPO = Path(__file__).resolve().parents[1]
PAGES = 256 << 8  # 256 MiB
REPLAYS = 3  # timed replays per child and mode

CHILD = r"""
import sys, time, types
from linuxmm import Machine
from linuxmm.tools import replay as R
from linuxmm.tools.replay import replay
path, replays = sys.argv[1], int(sys.argv[2])
R.time = types.SimpleNamespace(perf_counter=time.process_time)  # replay_seconds: the loop's CPU time
def machine():
    return Machine(cmdline="transparent_hugepage=never")
def timed(m):
    res = replay(m, path, "binary").as_dict()
    return res["replay_seconds"] / res["minor_faults"]
timed(machine())  # warm the compiled code
for mode in ("fresh", "steady"):
    for _ in range(replays):
        m = machine()
        if mode == "steady":
            replay(m, path, "binary")
            for p in m.processes():
                p.exit()
        print(mode, timed(m))
"""


def fault_trace(tmp: str) -> str:
    rec = np.zeros(PAGES, TRACE_DTYPE)
    rec["addr"], rec["kind"], rec["size"] = 0x40000000 + np.arange(PAGES, dtype=np.int64) * 4096, 2, 8
    path = os.path.join(tmp, "faults.bin")
    write_binary(path, [rec])
    return path


def export(commit: str, dest: str) -> str:
    """The ``src`` directory of ``commit``, extracted under ``dest``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return os.path.join(dest, "src")


def child(src: str, trace: str) -> dict[str, list[float]]:
    """CPU seconds per fault of each timed replay, by mode, in a process importing ``src``."""
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", CHILD, trace, str(REPLAYS)], env=env, check=True,
                         capture_output=True, text=True).stdout
    times: dict[str, list[float]] = {"fresh": [], "steady": []}
    for line in out.splitlines():
        mode, t = line.split()
        times[mode].append(float(t))
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--src", default=str(REPO / "src"), help="the source compared with the base's (this checkout's)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    trace = fault_trace(tmp)
    sides = {"base": export(args.base, tmp), "head": args.src}
    times = {side: {"fresh": [], "steady": []} for side in sides}
    for _ in range(args.rounds):
        for side, src in sides.items():
            for mode, ts in child(src, trace).items():
                times[side][mode].extend(ts)
    for mode in ("fresh", "steady"):
        base, head = (statistics.median(times[s][mode]) for s in ("base", "head"))
        print(f"{mode:6}: {args.base} {base * 1e6:.3f} us/fault, this checkout {head * 1e6:.3f} us/fault: "
              f"{base / head:.3f}x the base's speed")
    print("goal: >= 1.0x in both")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
