"""lib/xarray.py against a dict: stores (single and ranges), erases, loads and finds, with the
node pool growing underneath and every node freed when the entries are gone."""

import numpy as np
import pytest

from linuxmm.lib import xarray as X


def _store(pool, xid, first, nr, entry):
    pool = X.xa_reserve(pool)
    assert X.xa_store_range(pool, xid, first, nr, entry) == 0
    return pool


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xarray_matches_a_dict(seed):
    rng = np.random.default_rng(seed)
    pool = X.xarray_pool_init()
    pool, a = X.xa_init(pool)
    pool, b = X.xa_init(pool)  # a second tree in the same pool must not see the first's entries
    ref: dict[int, int] = {}
    for step in range(3000):
        index = int(rng.choice([rng.integers(0, 200), rng.integers(0, 1 << 20), rng.integers(0, 1 << 40)]))
        op = rng.integers(0, 4)
        if op < 2:
            nr = int(rng.choice([1, 1, 4, 64, 512]))
            entry = X.xa_mk_folio(int(rng.integers(1, 1 << 30))) if op == 0 else X.xa_mk_value(int(rng.integers(0, 99)))
            pool = _store(pool, a, index, nr, entry)
            ref.update({i: entry for i in range(index, index + nr)})
        elif op == 2 and ref:
            victim = int(rng.choice(list(ref)))
            assert X.xa_erase(pool, a, victim) == ref.pop(victim)
        else:
            assert X.xa_erase(pool, a, index) == ref.pop(index, 0)
        probe = int(rng.integers(0, 1 << 20))
        assert X.xa_load(pool, a, probe) == ref.get(probe, 0)
        after = [i for i in ref if i >= probe]
        assert X.xa_find(pool, a, probe, (1 << 62)) == (min(after) if after else -1)
    assert pool.xa_nr_folio_slots[a] == sum(1 for e in ref.values() if X.xa_is_folio(e))
    assert pool.xa_nr_values[a] == sum(1 for e in ref.values() if X.xa_is_value(e))
    assert X.xa_load(pool, b, next(iter(ref), 0)) == 0
    out_i, out_e = np.zeros(len(ref) + 1, np.int64), np.zeros(len(ref) + 1, np.int64)
    n = X.xa_gather(pool, a, 0, 1 << 62, out_i, out_e)
    assert dict(zip(out_i[:n].tolist(), out_e[:n].tolist())) == ref
    for i in list(ref):
        X.xa_erase(pool, a, i)
    assert pool.xa_height[a] == 0 and pool.xa_head[a] == -1
    assert pool.params[X.XP_NFREE_NODES] == pool.slots.shape[0]  # every node back in the pool


def test_destroy_frees_the_nodes_and_the_id():
    pool = X.xarray_pool_init()
    pool, a = X.xa_init(pool)
    pool = _store(pool, a, 1 << 30, 512, X.xa_mk_folio(5))
    assert pool.xa_height[a] == 6
    X.xa_destroy(pool, a)
    assert pool.params[X.XP_NFREE_NODES] == pool.slots.shape[0]
    pool, again = X.xa_init(pool)
    assert again == a and X.xa_load(pool, again, 1 << 30) == 0


def test_roots_grow():
    pool = X.xarray_pool_init()
    ids = []
    for i in range(X.INITIAL_XARRAYS * 2 + 3):
        pool, xid = X.xa_init(pool)
        pool = _store(pool, xid, i, 1, X.xa_mk_folio(i + 1))
        ids.append(xid)
    assert len(set(ids)) == len(ids)
    assert all(X.xa_to_folio(X.xa_load(pool, xid, i)) == i + 1 for i, xid in enumerate(ids))
