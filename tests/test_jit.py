"""The compiled-state plumbing (linuxmm/jit.py) and the on-disk cache of compiled code."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

import linuxmm
from linuxmm.jit import UnownedArray, unowned


@njit(cache=False)
def _views(a):
    u = unowned(a)
    row = u[1]
    row[2] = 7
    return u.sum(), row, u[:, 1:3]


def test_unowned_arrays_share_memory_and_stay_unowned():
    a = np.zeros((3, 4), np.int64)
    total, row, block = _views(a)
    assert total == 7 and a[1, 2] == 7 and row[2] == 7 and block[1, 1] == 7
    sig = _views.signatures[0]
    typ = _views.overloads[sig].type_annotation.typemap["row"]
    assert isinstance(typ, UnownedArray)  # a view of borrowed memory is borrowed too


def test_old_caches_are_pruned(tmp_path):
    day = 86400
    now = time.time()
    ages = {"a": 0.1, "b": 0.5, "c": 2, "d": 3, "e": 0.2}  # days since last use
    for name, age in ages.items():
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (now - age * day, now - age * day))
    current = tmp_path / "new"
    linuxmm._prune_numba_caches(tmp_path, current, keep=3, idle_days=1)
    # kept: the current one and the 2 most recently used; of the rest, only idle ones go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "e", "new"]


def _run_workload(cache_dir: Path, env: dict) -> dict:
    tests = Path(__file__).parent
    out = subprocess.run([sys.executable, str(tests / "jit_workload.py"), str(cache_dir)], cwd=tests,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_compiled_core_stays_in_bounds_and_reloads_from_cache(tmp_path):
    """The compiled core with every index checked (NUMBA_BOUNDSCHECK=1: an out-of-bounds
    index raises IndexError instead of reading or corrupting memory), compiled into an empty
    cache directory; then a fresh process runs the same workload from that cache without
    compiling anything, the struct constructors included (their pickled types reload)."""
    src = Path(linuxmm.__file__).parents[1]
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    cold = _run_workload(tmp_path, env)
    assert cold["cache_misses"] > 100
    warm = _run_workload(tmp_path, env)
    assert warm["cache_misses"] == 0 and warm["cache_hits"] > 0 and warm["struct_constructor_hits"] > 0
