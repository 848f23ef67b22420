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
from linuxmm import cache
import pytest

from linuxmm.jit import CompiledStruct, EntryDispatcher, UnownedArray, unowned


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


class _Pair(CompiledStruct, fields=[("a", np.int64, 1), ("b", np.int32, 1)]):
    pass


def _pick(s, i, weights):
    return s.a[i] * weights[i] + s.b[i]


@njit(cache=False)
def _pick_twice(entry_fn, s, i, weights):
    return entry_fn(s, i, weights) * 2


def test_entry_calls_the_compiled_version_directly(monkeypatch):
    monkeypatch.delenv("LINUXMM_CHECK_ENTRY", raising=False)
    pick = EntryDispatcher(py_func=_pick, locals={}, targetoptions={"nopython": True})
    s = _Pair.from_arrays(a=np.arange(4, dtype=np.int64), b=np.ones(4, np.int32))
    w = np.full(4, 3, np.int64)
    assert pick(s, 2, w) == 7  # first call: numba's dispatcher compiles it
    assert pick._nargs == 3 and pick._entry_point is not None
    assert pick(s, 3, w) == 10 and pick(s, np.int64(1), w) == 4
    assert _pick_twice(pick, s, 2, w) == 14  # compiled callers see a dispatcher


def test_entry_checks_argument_types_when_asked(monkeypatch):
    monkeypatch.setenv("LINUXMM_CHECK_ENTRY", "1")
    pick = EntryDispatcher(py_func=_pick, locals={}, targetoptions={"nopython": True})
    s = _Pair.from_arrays(a=np.arange(4, dtype=np.int64), b=np.ones(4, np.int32))
    assert pick(s, 1, np.ones(4, np.int64)) == 2
    with pytest.raises(TypeError, match="argument 2 is array\\(int32"):
        pick(s, 1, np.ones(4, np.int32))  # its wrapper would read int32 memory as int64


def _tree(root):
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def _old_caches(root, ages):
    now = time.time()
    for name, age in ages.items():
        (root / name).mkdir(parents=True)
        os.utime(root / name, (now - age * 86400, now - age * 86400))


def test_prune_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = cache.cache_root()
    _old_caches(root, {"a": 0.1, "b": 0.5, "c": 2, "d": 3, "e": 0.2, cache.source_hash(): 9})
    gone = cache.prune(keep=2, idle_days=1)
    # kept: the current version however old, the 2 most recently used, and the others still in use
    assert sorted(v.path.name for v in gone) == ["c", "d"]
    assert sorted(p.name for p in root.iterdir()) == sorted(["a", "b", "e", cache.source_hash()])
    assert [v.path.name for v in cache.prune()] == ["a", "e", "b"]  # newest first
    assert [v.path.name for v in cache.versions()] == [cache.source_hash()]


def test_importing_linuxmm_has_no_side_effects(tmp_path):
    """No environment variable set, no cache directory created, touched or deleted."""
    _old_caches(tmp_path / "linuxmm-numba", {"old1": 5, "old2": 30})
    before = _tree(tmp_path)
    code = ("import os, json; env = dict(os.environ); import linuxmm, numba.core.config as c; "
            "print(json.dumps([env == dict(os.environ), c.CACHE_DIR]))")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(res.stdout) == [True, ""]
    assert _tree(tmp_path) == before


def test_compiled_code_is_cached_per_source_version(tmp_path, monkeypatch):
    from linuxmm.mm import buddy

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fn = next(v for v in vars(buddy).values() if hasattr(v, "py_func"))
    loc = cache.LinuxmmCacheLocator.from_function(fn.py_func, buddy.__file__)
    assert Path(loc.get_cache_path()).parent == tmp_path / "linuxmm-numba" / cache.source_hash()
    assert not (tmp_path / "linuxmm-numba").exists()  # made by numba's first save, not before
    assert cache.LinuxmmCacheLocator.from_function(_views.py_func, __file__) is None  # not ours
    monkeypatch.setattr(cache.config, "CACHE_DIR", str(tmp_path))  # the user's NUMBA_CACHE_DIR wins
    assert cache.LinuxmmCacheLocator.from_function(fn.py_func, buddy.__file__) is None
    assert cache._CACHE_IMPL._locator_classes[0] is cache.LinuxmmCacheLocator


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


def test_cache_commands(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from linuxmm.cli import app

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = cache.cache_root()
    _old_caches(root, {"old1": 3, "old2": 2, cache.source_hash(): 0})
    run = CliRunner().invoke
    info = run(app, ["cache", "info"])
    assert info.exit_code == 0 and str(cache.current_dir()) in info.stdout and "old1" in info.stdout
    assert sorted(p.name for p in root.iterdir()) == sorted(["old1", "old2", cache.source_hash()])  # info deletes nothing
    res = run(app, ["cache", "prune", "--keep", "1"])
    assert res.exit_code == 0 and "1 cache(s) removed" in res.stdout and "old1" in res.stdout
    assert sorted(p.name for p in root.iterdir()) == sorted(["old2", cache.source_hash()])
