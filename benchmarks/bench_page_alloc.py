"""Buddy allocator throughput on the default 16 GiB machine, with baselines from the same run.

    python benchmarks/bench_page_alloc.py [--ops N]

Prints alloc+free operations per second for order-0 pairs and for a mixed-order workload
(the compiled allocator entered once per batch), and as ratios against:
  * the same allocator code run as plain Python (numba disabled, in a subprocess);
  * this machine's real kernel taking first-touch page faults (mmap + write per 4 KiB page),
    i.e. allocate + zero + map one page, the closest user-visible allocator rate.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import subprocess
import sys
import time

import numpy as np
from numba import njit

from linuxmm import Machine
from linuxmm.include.linux import gfp as G
from linuxmm.mm import buddy as B
from linuxmm.mm import page_alloc as pa


def mixed_workload(nops: int, seed: int):
    """Random choices drawn up front, so the timed loop measures the allocator."""
    rng = np.random.default_rng(seed)
    r = rng.random(nops)
    orders = np.where(r < 0.5, 0, np.where(r < 0.8, rng.integers(1, 4, nops), rng.integers(4, 11, nops)))
    return (rng.random(nops) < 0.5, orders.astype(np.int64),
            (rng.random(nops) < 0.7).astype(np.int64), rng.integers(0, 1 << 30, nops))


@njit(cache=True)
def mixed_ops(a, zonelist, free_first, orders, mts, picks, flags_fast, live, live_order):
    """Random allocations (orders weighted to small) and frees of random live blocks."""
    n_live = 0
    for j in range(orders.shape[0]):
        if n_live > 0 and (free_first[j] or n_live == live.shape[0]):
            i = picks[j] % n_live
            B.__free_pages(a, live[i], live_order[i], 0)
            n_live -= 1
            live[i] = live[n_live]
            live_order[i] = live_order[n_live]
        else:
            pfn = B.get_page_from_freelist(a, zonelist, 2, orders[j], mts[j], flags_fast, 0, 0, False)
            if pfn >= 0:
                live[n_live] = pfn
                live_order[n_live] = orders[j]
                n_live += 1
    for i in range(n_live):
        B.__free_pages(a, live[i], live_order[i], 0)
    return orders.shape[0]


@njit(cache=True)
def order0_pairs(a, zonelist, nops, flags_fast, buf):
    """Allocate ``buf`` order-0 pages, free them; repeat until nops operations."""
    done = 0
    while done < nops:
        n = min(buf.shape[0], (nops - done) // 2)
        if n == 0:
            break
        for i in range(n):
            buf[i] = B.get_page_from_freelist(a, zonelist, 2, 0, 1, flags_fast, 0, 0, False)
        for i in range(n):
            B.__free_pages(a, buf[i], 0, 0)
        done += 2 * n
    return done


def run_allocator(nops: int) -> dict:
    m = Machine()
    k = m.kernel
    a = k.mem_map
    zl = pa._zonelist(k, 0)[0]
    fast = B.ALLOC_WMARK_LOW | pa.alloc_flags_nofragment(k, pa._preferred_zone(k, 0, 2), G.GFP_KERNEL)
    live = np.zeros(4096, np.int64)
    live_order = np.zeros(4096, np.int64)
    buf = np.zeros(1024, np.int64)
    warm = mixed_workload(1000, 1)
    work = mixed_workload(nops, 42)
    mixed_ops(a, zl, *warm, fast, live, live_order)  # warm up (compile or cache load)
    order0_pairs(a, zl, 1000, fast, buf)
    t = time.perf_counter()
    n0 = order0_pairs(a, zl, nops, fast, buf)
    t0 = time.perf_counter() - t
    t = time.perf_counter()
    nm = mixed_ops(a, zl, *work, fast, live, live_order)
    tm = time.perf_counter() - t
    from linuxmm import debug
    assert debug.check(m) == [], "allocator invariants broken by the benchmark"
    return {"order0_ops_per_s": n0 / t0, "mixed_ops_per_s": nm / tm}


def real_kernel_fault_rate(mib: int = 256) -> float:
    """Pages per second the real kernel allocates, zeroes and maps on first write."""
    size = mib << 20
    best = 0.0
    for _ in range(3):
        buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        view = memoryview(buf)
        t = time.perf_counter()
        for off in range(0, size, 4096):
            view[off] = 1
        best = max(best, (size // 4096) / (time.perf_counter() - t))
        view.release()
        buf.close()
    return best


def python_baseline(nops: int) -> dict:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, __file__, "--child", "--ops", str(nops)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=4_000_000)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_allocator(args.ops)))
        return
    fast = run_allocator(args.ops)
    py = python_baseline(max(args.ops // 400, 5000))
    real = real_kernel_fault_rate()
    print(f"order-0 alloc+free : {fast['order0_ops_per_s'] / 1e6:6.2f} M ops/s  "
          f"= {fast['order0_ops_per_s'] / py['order0_ops_per_s']:6.0f}x plain Python, "
          f"{fast['order0_ops_per_s'] / real:5.1f}x the real kernel's fault rate")
    print(f"mixed orders       : {fast['mixed_ops_per_s'] / 1e6:6.2f} M ops/s  "
          f"= {fast['mixed_ops_per_s'] / py['mixed_ops_per_s']:6.0f}x plain Python, "
          f"{fast['mixed_ops_per_s'] / real:5.1f}x the real kernel's fault rate")
    print(f"baselines (same run): plain Python {py['order0_ops_per_s']:,.0f} / {py['mixed_ops_per_s']:,.0f} ops/s; "
          f"real kernel first-touch faults {real:,.0f} pages/s")
    print("goal: >= 5 M mixed ops/s")


if __name__ == "__main__":
    main()
