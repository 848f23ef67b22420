"""The xarray (``lib/xarray.c``, ``include/linux/xarray.h``), Linux 6.18: the page cache's index.

An xarray maps an unsigned long index to an entry through a radix tree of ``xa_node``s of 64
slots each (``XA_CHUNK_SHIFT`` 6): a tree of height h covers indices below 64**h, the root
node's slots select bits ``6*(h-1)`` and up, the bottom nodes hold the entries. Here every
node of every xarray of a machine is a row of one 2-D int64 array (``XArray.slots``), a pool
grown by doubling between batches as the page-table pool is (``xa_grow``); each xarray is a
numbered root (``xa_head``: the root node's row or -1, ``xa_height``), so compiled code (the
fault path, the read and write loops) reads a mapping's page cache with ``xa_load``.

Slot values, one meaning each:

* 0: empty;
* in an interior node, ``row + 1`` of the child node (the kernel tags node pointers as
  internal entries);
* at the bottom, an entry: a folio is ``pfn << 1`` of its head page (``xa_mk_folio``; bit 0
  clear, as a kernel pointer's), a value entry ``v << 1 | 1`` (``xa_mk_value``: the shadow
  entries reclaim leaves behind). Every slot of a large folio holds the head's entry (the
  kernel stores one multi-index entry; the lookups see the same thing).

``xa_node->count`` (non-empty slots) lets ``xa_erase`` free a node that became empty and
shrink the tree (``xas_delete_node``, ``xas_shrink``); ``xa_nr_folio_slots`` counts the folio
slots of each xarray, which for a page cache is ``mapping->nrpages``, and ``xa_nr_values`` its
value entries (``mapping->nrexceptional`` of older kernels). Nodes are not charged to slab
(no slab is simulated).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..jit import CompiledStruct

XA_CHUNK_SHIFT = 6
XA_CHUNK_SIZE = 1 << XA_CHUNK_SHIFT
XA_CHUNK_MASK = XA_CHUNK_SIZE - 1
XA_MAX_HEIGHT = 11  # 64**11 > 2**63: any non-negative index
XA_ENOMEM = -1  # a store found fewer free nodes than it may need: grow the pool and retry
INITIAL_NODES, INITIAL_XARRAYS = 256, 64
XA_RESERVE = 2 * XA_MAX_HEIGHT + 16  # free nodes a store of up to 512 slots may take

XARRAY_FIELDS = [
    ("slots", np.int64, 2),  # one row per xa_node
    ("count", np.int64, 1),  # xa_node->count: its non-empty slots
    ("node_free", np.int64, 1),  # stack of free node rows
    ("xa_head", np.int64, 1),  # per xarray: the root node's row, -1 when empty
    ("xa_height", np.int64, 1),  # per xarray: levels of nodes (0 when empty)
    ("xa_nr_folio_slots", np.int64, 1),  # per xarray: slots holding folios (mapping->nrpages)
    ("xa_nr_values", np.int64, 1),  # per xarray: value (shadow) entries
    ("xa_free", np.int64, 1),  # stack of free xarray ids
    ("params", np.int64, 1),  # XP_*
]
XP_NFREE_NODES, XP_NFREE_XA = 0, 1
NR_XP = 2


class XArray(CompiledStruct, fields=XARRAY_FIELDS):
    """Every xarray of one machine: the node pool and the roots (Python and compiled views)."""


# ---- entries --------------------------------------------------------------------------------

@njit(cache=True)
def xa_mk_value(v):
    return v << 1 | 1


@njit(cache=True)
def xa_is_value(entry):
    return entry & 1 == 1


@njit(cache=True)
def xa_to_value(entry):
    return entry >> 1


@njit(cache=True)
def xa_mk_folio(pfn):
    return pfn << 1


@njit(cache=True)
def xa_is_folio(entry):
    return entry != 0 and entry & 1 == 0


@njit(cache=True)
def xa_to_folio(entry):
    return entry >> 1


# ---- the tree -------------------------------------------------------------------------------

@njit(cache=True)
def _node_alloc(xa):
    n = xa.params[XP_NFREE_NODES] - 1
    xa.params[XP_NFREE_NODES] = n
    row = xa.node_free[n]
    xa.slots[row, :] = 0
    xa.count[row] = 0
    return row


@njit(cache=True)
def _node_free(xa, row):
    xa.node_free[xa.params[XP_NFREE_NODES]] = row
    xa.params[XP_NFREE_NODES] += 1


@njit(cache=True)
def _height_for(index):
    h = 1
    while h < XA_MAX_HEIGHT and index >> (XA_CHUNK_SHIFT * h) != 0:
        h += 1
    return h


@njit(cache=True)
def xa_load(xa, xid, index):
    """The entry at ``index`` of xarray ``xid`` (0: none)."""
    h = xa.xa_height[xid]
    if h == 0 or (h < XA_MAX_HEIGHT and index >> (XA_CHUNK_SHIFT * h) != 0):
        return 0
    row = xa.xa_head[xid]
    for level in range(h - 1, 0, -1):
        child = xa.slots[row, (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK]
        if child == 0:
            return 0
        row = child - 1
    return xa.slots[row, index & XA_CHUNK_MASK]


@njit(cache=True)
def _expand(xa, xid, h):
    """``xas_expand``: add root levels until the tree has height ``h``."""
    while xa.xa_height[xid] < h:
        if xa.xa_height[xid] == 0:
            xa.xa_head[xid] = _node_alloc(xa)
        else:
            old = xa.xa_head[xid]
            new = _node_alloc(xa)
            xa.slots[new, 0] = old + 1
            xa.count[new] = 1
            xa.xa_head[xid] = new
        xa.xa_height[xid] += 1


@njit(cache=True)
def _account(xa, xid, old, new):
    if xa_is_folio(old):
        xa.xa_nr_folio_slots[xid] -= 1
    elif old != 0:
        xa.xa_nr_values[xid] -= 1
    if xa_is_folio(new):
        xa.xa_nr_folio_slots[xid] += 1
    elif new != 0:
        xa.xa_nr_values[xid] += 1


@njit(cache=True)
def xa_store_range(xa, xid, first, nr, entry):
    """Store ``entry`` (non-zero) in slots [first, first+nr) (``xas_store`` of a multi-index
    entry); the old entries are overwritten. XA_ENOMEM (nothing stored) when the pool has
    fewer than XA_RESERVE free nodes and nr <= 512."""
    if xa.params[XP_NFREE_NODES] < XA_RESERVE:
        return XA_ENOMEM
    _expand(xa, xid, _height_for(first + nr - 1))
    h = xa.xa_height[xid]
    index = first
    while index < first + nr:
        row = xa.xa_head[xid]
        for level in range(h - 1, 0, -1):
            off = (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK
            child = xa.slots[row, off]
            if child == 0:
                child = _node_alloc(xa) + 1
                xa.slots[row, off] = child
                xa.count[row] += 1
            row = child - 1
        off = index & XA_CHUNK_MASK
        while off < XA_CHUNK_SIZE and index < first + nr:  # the rest of this bottom node
            old = xa.slots[row, off]
            if old == 0:
                xa.count[row] += 1
            _account(xa, xid, old, entry)
            xa.slots[row, off] = entry
            off += 1
            index += 1
    return 0


@njit(cache=True)
def xa_store(xa, xid, index, entry):
    """``xa_store``: 0, or XA_ENOMEM when the pool must grow first (``entry`` non-zero)."""
    return xa_store_range(xa, xid, index, 1, entry)


@njit(cache=True)
def xa_erase(xa, xid, index):
    """``xa_erase``: empty the slot at ``index``; returns the old entry. Nodes left empty are
    freed and the tree shrinks to the height its entries need."""
    h = xa.xa_height[xid]
    if h == 0 or (h < XA_MAX_HEIGHT and index >> (XA_CHUNK_SHIFT * h) != 0):
        return 0
    path = np.empty(XA_MAX_HEIGHT, np.int64)
    row = xa.xa_head[xid]
    for level in range(h - 1, 0, -1):
        path[level] = row
        child = xa.slots[row, (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK]
        if child == 0:
            return 0
        row = child - 1
    old = xa.slots[row, index & XA_CHUNK_MASK]
    if old == 0:
        return 0
    _account(xa, xid, old, 0)
    xa.slots[row, index & XA_CHUNK_MASK] = 0
    xa.count[row] -= 1
    level = 0
    while xa.count[row] == 0 and level < h - 1:  # xas_delete_node
        _node_free(xa, row)
        level += 1
        row = path[level]
        xa.slots[row, (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK] = 0
        xa.count[row] -= 1
    _shrink(xa, xid)
    return old


@njit(cache=True)
def _shrink(xa, xid):
    """``xas_shrink``: drop root nodes that only lead to slot 0; an empty root goes too."""
    while xa.xa_height[xid] > 0:
        root = xa.xa_head[xid]
        if xa.count[root] == 0:
            _node_free(xa, root)
            xa.xa_head[xid] = -1
            xa.xa_height[xid] = 0
        elif xa.xa_height[xid] > 1 and xa.count[root] == 1 and xa.slots[root, 0] != 0:
            xa.xa_head[xid] = xa.slots[root, 0] - 1
            _node_free(xa, root)
            xa.xa_height[xid] -= 1
        else:
            return


@njit(cache=True)
def xa_leaf(xa, xid, index):
    """The row of the bottom node whose slots hold ``index`` and its 63 neighbours (the node
    ``xas_load`` ends at), or -1 when there is none: iterating a range slot by slot within
    it walks the tree once per 64 indices."""
    h = xa.xa_height[xid]
    if h == 0 or (h < XA_MAX_HEIGHT and index >> (XA_CHUNK_SHIFT * h) != 0):
        return -1
    row = xa.xa_head[xid]
    for level in range(h - 1, 0, -1):
        child = xa.slots[row, (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK]
        if child == 0:
            return -1
        row = child - 1
    return row


@njit(cache=True)
def xa_find(xa, xid, start, last):
    """``xa_find``: the first index in [start, last] with an entry, or -1."""
    h = xa.xa_height[xid]
    if h == 0 or start > last:
        return -1
    if h < XA_MAX_HEIGHT and last >> (XA_CHUNK_SHIFT * h) != 0:
        last = (1 << (XA_CHUNK_SHIFT * h)) - 1
    index = start
    while index <= last:
        row = xa.xa_head[xid]
        level = h - 1
        skipped = False
        while level > 0:
            child = xa.slots[row, (index >> (XA_CHUNK_SHIFT * level)) & XA_CHUNK_MASK]
            if child == 0:  # nothing below: on to the next subtree of this level
                span = 1 << (XA_CHUNK_SHIFT * level)
                index = (index & ~(span - 1)) + span
                skipped = True
                break
            row = child - 1
            level -= 1
        if skipped:
            continue
        off = index & XA_CHUNK_MASK
        while off < XA_CHUNK_SIZE and index <= last:
            if xa.slots[row, off] != 0:
                return index
            off += 1
            index += 1
    return -1


@njit(cache=True)
def xa_gather(xa, xid, start, last, out_index, out_entry):
    """The entries in [start, last], in index order, into the output arrays (up to their
    length); returns how many (the kernel iterates them with ``xas_for_each``)."""
    n = 0
    index = xa_find(xa, xid, start, last)
    while index >= 0 and n < out_index.shape[0]:
        out_index[n] = index
        out_entry[n] = xa_load(xa, xid, index)
        n += 1
        if index == last:
            break
        index = xa_find(xa, xid, index + 1, last)
    return n


# ---- the pool (Python, between batches) -----------------------------------------------------

def xarray_pool_init() -> XArray:
    """An empty pool: INITIAL_NODES free nodes, INITIAL_XARRAYS free roots."""
    params = np.zeros(NR_XP, np.int64)
    params[XP_NFREE_NODES], params[XP_NFREE_XA] = INITIAL_NODES, INITIAL_XARRAYS
    return XArray.from_arrays(
        slots=np.zeros((INITIAL_NODES, XA_CHUNK_SIZE), np.int64), count=np.zeros(INITIAL_NODES, np.int64),
        node_free=np.arange(INITIAL_NODES - 1, -1, -1, dtype=np.int64),
        xa_head=np.full(INITIAL_XARRAYS, -1, np.int64), xa_height=np.zeros(INITIAL_XARRAYS, np.int64),
        xa_nr_folio_slots=np.zeros(INITIAL_XARRAYS, np.int64), xa_nr_values=np.zeros(INITIAL_XARRAYS, np.int64),
        xa_free=np.arange(INITIAL_XARRAYS - 1, -1, -1, dtype=np.int64), params=params)


def _grown(arr: np.ndarray, fill: int) -> np.ndarray:
    return np.concatenate([arr, np.full_like(arr, fill)])


def xa_grow_nodes(xa: XArray) -> XArray:
    """The pool with twice the nodes (the new ones free); the caller keeps the result."""
    cap, nfree = xa.slots.shape[0], int(xa.params[XP_NFREE_NODES])
    arrays = {n: getattr(xa, n) for n, _, _ in XARRAY_FIELDS}
    arrays["slots"] = np.concatenate([xa.slots, np.zeros_like(xa.slots)])
    arrays["count"] = _grown(xa.count, 0)
    free = np.concatenate([xa.node_free[:nfree], np.arange(2 * cap - 1, cap - 1, -1, dtype=np.int64)])
    arrays["node_free"] = np.concatenate([free, np.zeros(2 * cap - len(free), np.int64)])
    arrays["params"][XP_NFREE_NODES] = len(free)
    return XArray.from_arrays(**arrays)


def xa_grow_roots(xa: XArray) -> XArray:
    """The pool with twice the xarray roots."""
    cap, nfree = xa.xa_head.shape[0], int(xa.params[XP_NFREE_XA])
    arrays = {n: getattr(xa, n) for n, _, _ in XARRAY_FIELDS}
    arrays["xa_head"] = _grown(xa.xa_head, -1)
    for name in ("xa_height", "xa_nr_folio_slots", "xa_nr_values"):
        arrays[name] = _grown(getattr(xa, name), 0)
    free = np.concatenate([xa.xa_free[:nfree], np.arange(2 * cap - 1, cap - 1, -1, dtype=np.int64)])
    arrays["xa_free"] = np.concatenate([free, np.zeros(2 * cap - len(free), np.int64)])
    arrays["params"][XP_NFREE_XA] = len(free)
    return XArray.from_arrays(**arrays)


def xa_reserve(xa: XArray) -> XArray:
    """The pool with room for one more store (``xas_nomem``: allocate, then retry)."""
    while xa.params[XP_NFREE_NODES] < XA_RESERVE:
        xa = xa_grow_nodes(xa)
    return xa


def xa_init(xa: XArray) -> tuple[XArray, int]:
    """``xa_init``: a new empty xarray; returns the (maybe grown) pool and its id."""
    if xa.params[XP_NFREE_XA] == 0:
        xa = xa_grow_roots(xa)
    xa.params[XP_NFREE_XA] -= 1
    xid = int(xa.xa_free[xa.params[XP_NFREE_XA]])
    xa.xa_head[xid], xa.xa_height[xid] = -1, 0
    xa.xa_nr_folio_slots[xid] = xa.xa_nr_values[xid] = 0
    return xa, xid


def xa_destroy(xa: XArray, xid: int) -> None:
    """``xa_destroy``: free every node of an xarray and its id (its entries are forgotten:
    the caller has released what they pointed to)."""
    if xa.xa_height[xid]:
        _free_subtree(xa, int(xa.xa_head[xid]), int(xa.xa_height[xid]))
    xa.xa_head[xid], xa.xa_height[xid] = -1, 0
    xa.xa_nr_folio_slots[xid] = xa.xa_nr_values[xid] = 0
    xa.xa_free[xa.params[XP_NFREE_XA]] = xid
    xa.params[XP_NFREE_XA] += 1


def _free_subtree(xa: XArray, row: int, height: int) -> None:
    if height > 1:
        for child in xa.slots[row][xa.slots[row] != 0]:
            _free_subtree(xa, int(child) - 1, height - 1)
    xa.node_free[xa.params[XP_NFREE_NODES]] = row
    xa.params[XP_NFREE_NODES] += 1
