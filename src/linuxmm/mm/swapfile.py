"""Swap slot references held by page tables (``mm/swapfile.c``), Linux 6.18, compiled.

A swap pte holds one reference to its slot in the swap area's ``swap_map``: fork's copy takes
another (``swap_duplicate``), unmapping drops it (``free_swap_and_cache``, which also frees
the swap-cache folio once no pte refers to the slot). There are no swap areas yet: these are
the hooks the page-table walkers call; the swap issue gives them the swap_map to count in.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def swap_duplicate(vs, entry):
    """Take a reference on the swap slot of ``entry`` (0: done)."""
    return 0


@njit(cache=True)
def free_swap_and_cache(vs, entry):
    """Drop a page table's reference on the swap slot of ``entry``."""
    return 0
