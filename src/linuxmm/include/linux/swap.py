"""Swap areas (``include/linux/swap.h``, ``mm/swap.h``), Linux 6.18: the objects.

``swap_info_struct`` is one active swap area (a partition, a file or a zram device): its
size, priority and flags, and its cluster bookkeeping (``swap_cluster_info``: a count and a
list membership per 512-slot cluster, the free/nonfull/frag/full lists). The per-slot state
(``swap_map`` counts and 6.18's swap table, the swap cache) lives in the compiled ``VmState``
pool so that the page-table walkers can count in it; the slot contents (the token model's
lines) are kept here. ``swap_globals`` holds the kernel's globals of ``mm/swapfile.c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .huge_mm import HPAGE_PMD_NR, HPAGE_PMD_ORDER

# the swap_map byte (include/linux/swap.h): the count of swap ptes and swap-cache users.
# The kernel's byte holds counts up to SWAP_MAP_MAX and continues in extra pages
# (COUNT_CONTINUED); the slot here is 16 bits wide and holds the whole count, with
# SWAP_HAS_CACHE moved above it.
SWAP_MAP_MAX = 0x3E
SWAP_MAP_BAD = 0x3F  # the header page (slot 0) and bad blocks
SWAP_HAS_CACHE = 0x4000  # the kernel's 0x40: a folio in the swap cache holds the slot
SWAP_COUNT_MASK = SWAP_HAS_CACHE - 1

# swapon(2) flags (include/linux/swap.h)
SWAP_FLAG_PREFER = 0x8000
SWAP_FLAG_PRIO_MASK = 0x7FFF

# si->flags
SWP_USED, SWP_WRITEOK, SWP_BLKDEV, SWP_SOLIDSTATE, SWP_SYNCHRONOUS_IO = 1 << 0, 1 << 1, 1 << 6, 1 << 4, 1 << 12

SWAPFILE_CLUSTER = HPAGE_PMD_NR  # with CONFIG_THP_SWAP
SWAP_NR_ORDERS = HPAGE_PMD_ORDER + 1  # the folio orders a cluster can serve (0 .. PMD_ORDER)

# swap_cluster_info.flags (mm/swap.h, 6.18): which list the cluster is on
CLUSTER_FLAG_NONE, CLUSTER_FLAG_FREE, CLUSTER_FLAG_NONFULL, CLUSTER_FLAG_FRAG, CLUSTER_FLAG_FULL = 0, 1, 2, 3, 4
CLUSTER_FLAG_USABLE = CLUSTER_FLAG_FRAG
# swap_info_struct.cluster_info's columns (struct swap_cluster_info): the slots in use as the
# lists last saw them, the flag, the order served, and the cluster's list_head (the next and
# previous cluster on its list, -1 at an end or on no list)
CI_COUNT, CI_FLAGS, CI_ORDER, CI_NEXT, CI_PREV, NR_CI = range(6)
# swap_info_struct.cluster_lists' rows (the list heads): free_clusters, full_clusters, then
# nonfull_clusters[order] and frag_clusters[order]; each row holds its first and last cluster
FREE_LIST, FULL_LIST = 0, 1
NONFULL_LISTS = 2
FRAG_LISTS = NONFULL_LISTS + SWAP_NR_ORDERS
NR_CLUSTER_LISTS = FRAG_LISTS + SWAP_NR_ORDERS
LIST_FIRST, LIST_LAST = 0, 1

SWAP_KINDS = ("partition", "file", "zram")

SWAP_CLUSTER_MAX = 32  # reclaim's batch of pages (include/linux/swap.h)


@dataclass(eq=False)
class swap_info_struct:
    """One swap area. ``max`` is the size in slots (slot 0 is the header), ``pages`` the
    usable ones, ``inuse_pages`` those allocated; ``prio`` its priority. Clusters:
    ``cluster_info``, one row per cluster (CI_*: ``ci_count``, the allocated slots as the
    lists last saw them, the live counts being in the VmState pool; ``ci_flags``, the list it
    is on; ``ci_order``, the folio order it serves, the first allocation in an empty cluster
    making it that order's; its list links), and ``cluster_lists``, the heads of the free,
    full, nonfull and frag lists (the last two one per order): index arrays, as the kernel's
    list_heads, so compiled code allocates slots. The data written to each slot is in the
    VmState pool too (``swap_content``)."""

    type: int
    prio: int
    flags: int
    kind: str
    swap_file: str  # the path /proc/swaps shows
    max: int
    pages: int
    base: int  # the first slot of this area in the VmState pool
    bdev: object = None  # the block device written to (partition/file), None for zram
    compression_ratio: float = 1.0  # zram: original size / compressed size
    inuse_pages: int = 0
    cluster_info: np.ndarray = None  # (clusters, NR_CI)
    cluster_lists: np.ndarray = None  # (NR_CLUSTER_LISTS, 2): LIST_FIRST, LIST_LAST
    global_cluster_next: int = 0  # a rotating disk's si->global_cluster->next[0]
    zram_pages: list = field(default_factory=list)  # the pages zsmalloc holds (zram)
    zs_stored: np.ndarray = None  # zram: the slot's data is in zsmalloc (not ZRAM_SAME-filled)
    zs_nr: int = 0  # zram: the slots zs_stored marks

    @property
    def ci_count(self) -> np.ndarray:
        return self.cluster_info[:, CI_COUNT]

    @property
    def ci_flags(self) -> np.ndarray:
        return self.cluster_info[:, CI_FLAGS]

    @property
    def ci_order(self) -> np.ndarray:
        return self.cluster_info[:, CI_ORDER]


@dataclass
class swap_ra_state:
    """``swap_cluster_readahead``'s globals: ``swapin_readahead_hits``, ``prev_offset``,
    ``last_readahead_pages``."""

    hits: int = 0
    prev_offset: int = 0
    last_readahead_pages: int = 0


@dataclass
class swap_globals:
    """``swap_info[]``, the priority lists (``swap_active_head``: every area, highest
    priority first; ``swap_avail_head``: those with free slots, rotated among equal
    priorities by ``plist_requeue``), ``least_priority`` (the last automatic priority) and
    the per-CPU cluster of each order (``percpu_swap_cluster``: (cpu, order) -> (type, next
    offset))."""

    swap_info: list = field(default_factory=lambda: [])
    swap_active_head: list = field(default_factory=list)
    swap_avail_head: list = field(default_factory=list)
    least_priority: int = -1
    percpu_swap_cluster: dict = field(default_factory=dict)
    nr_zram: int = 0  # zram devices made so far (/dev/zramN)
    vma_ra_enabled: bool = True  # /sys/kernel/mm/swap/vma_ra_enabled
    ra: swap_ra_state = field(default_factory=swap_ra_state)
    # shmem_unuse(k, type): swapoff's first step, registered by shmem_init (mm/shmem.py sits above swap)
    shmem_unuse: Callable[..., None] | None = None
