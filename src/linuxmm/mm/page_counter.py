"""Hierarchical page counters (``mm/page_counter.c``), Linux 6.18, compiled.

A memcg's ``memory`` and ``swap`` counters are rows of ``MemMap.memcg_counter`` (columns
``PC_*``); the parent of row ``id`` is ``MemMap.memcg_parent[id]`` (0 at the root). As in the
kernel, a charge goes up the whole hierarchy:

* ``page_counter_try_charge``: add ``nr`` at every level, failing (and undoing) at the first
  level whose usage would pass its ``max``, whose ``failcnt`` then grows; the watermarks
  (``memory.peak``) follow the usage;
* ``page_counter_charge``: the same without the limit (a forced charge);
* ``page_counter_uncharge``: take ``nr`` off every level;
* ``page_counter_memparse``: a value written to a limit file.

The root's counter is charged through its children only (``try_charge`` skips the root memcg).
``propagate_protected_usage`` (the children's min/low usage) is left to
``mm/memcontrol.py``'s ``mem_cgroup_calculate_protection``, which recomputes it when read.
"""

from __future__ import annotations

import errno

from numba import njit

from ..errors import KernelError
from ..include.linux.memcontrol import PAGE_COUNTER_MAX, PC_FAILCNT, PC_LOCAL_WATERMARK, PC_MAX, PC_USAGE, PC_WATERMARK

MEMPARSE_SUFFIXES = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}  # lib/cmdline.c memparse


@njit(cache=True)
def page_counter_charge(a, memcg, counter, nr):
    """Charge ``nr`` pages from ``memcg`` up to the root, ignoring the limits."""
    c = memcg
    while c != 0:
        usage = a.memcg_counter[c, counter, PC_USAGE] + nr
        a.memcg_counter[c, counter, PC_USAGE] = usage
        _update_watermarks(a, c, counter, usage)
        c = a.memcg_parent[c]


@njit(cache=True, inline="always")
def _update_watermarks(a, c, counter, usage):
    if usage > a.memcg_counter[c, counter, PC_WATERMARK]:
        a.memcg_counter[c, counter, PC_WATERMARK] = usage
    if usage > a.memcg_counter[c, counter, PC_LOCAL_WATERMARK]:
        a.memcg_counter[c, counter, PC_LOCAL_WATERMARK] = usage


@njit(cache=True)
def page_counter_try_charge(a, memcg, counter, nr):
    """Charge ``nr`` pages up the hierarchy; 0 on success, else the id of the first memcg
    whose ``max`` it would pass (its ``failcnt`` counted, nothing left charged)."""
    c = memcg
    while c != 0:
        usage = a.memcg_counter[c, counter, PC_USAGE] + nr
        if usage > a.memcg_counter[c, counter, PC_MAX]:
            a.memcg_counter[c, counter, PC_FAILCNT] += 1
            page_counter_cancel(a, memcg, c, counter, nr)
            return c
        a.memcg_counter[c, counter, PC_USAGE] = usage
        _update_watermarks(a, c, counter, usage)
        c = a.memcg_parent[c]
    return 0


@njit(cache=True)
def page_counter_cancel(a, memcg, stop, counter, nr):
    """Undo a charge of ``nr`` from ``memcg`` up to, not including, ``stop``."""
    c = memcg
    while c != stop:
        a.memcg_counter[c, counter, PC_USAGE] -= nr
        c = a.memcg_parent[c]


@njit(cache=True)
def page_counter_uncharge(a, memcg, counter, nr):
    page_counter_cancel(a, memcg, 0, counter, nr)


def page_counter_memparse(buf: str, max_token: str = "max") -> int:
    """``page_counter_memparse``: ``max`` or a byte count with an optional K/M/G/T/P/E suffix,
    rounded down to pages; EINVAL for anything else (a negative number, ``512X``, trailing
    garbage)."""
    s = buf.strip()
    if s == max_token:
        return PAGE_COUNTER_MAX
    digits = s.rstrip("KMGTPEkmgtpe")
    suffix = s[len(digits):]
    if not digits.isdigit() or len(suffix) > 1 or not digits.isascii():
        raise KernelError(errno.EINVAL, f"invalid value {buf!r}: expected 'max' or bytes with a K/M/G/T suffix")
    nbytes = int(digits) << MEMPARSE_SUFFIXES.get(suffix.upper(), 0)
    return min(nbytes >> 12, PAGE_COUNTER_MAX)
