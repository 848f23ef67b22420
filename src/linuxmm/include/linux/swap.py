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

from ...mm.pgtable import MAX_SWAPFILES
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


# swap_globals.si's columns: each area's scalars, as compiled code reads and keeps them
# (``struct swap_info_struct``): its priority and flags, its size in slots (``max``, the header
# included) and usable ``pages``, ``inuse_pages``; zram: the slots whose data zsmalloc holds
# (ZS_NR) and the pages zsmalloc holds for them (ZS_PAGES, a stack in ``VmState.swap_zs_pages``)
SI_PRIO, SI_FLAGS, SI_MAX, SI_PAGES, SI_INUSE, SI_ZS_NR, SI_ZS_PAGES, NR_SI = range(8)
# swap_globals.plists' rows: the priority lists (``plist_head``) of every area and of those with
# free slots; each row holds area types in list order, ended by -1
PLIST_ACTIVE, PLIST_AVAIL, NR_PLISTS = 0, 1, 2
# swap_globals.percpu_swap_cluster's last axis (``struct percpu_swap_cluster``): the area of the
# CPU's cluster of an order (-1: none) and the offset to allocate from next (0: none)
PCP_SWAP_TYPE, PCP_SWAP_OFFSET, NR_PCP_SWAP = 0, 1, 2


def _si_column(col: int, doc: str) -> property:
    """A scalar of the area kept in its row of ``swap_globals.si`` (where compiled code
    reads and updates it)."""
    return property(lambda self: int(self.row[col]), lambda self, value: self.row.__setitem__(col, value), doc=doc)


class swap_info_struct:
    """One swap area: its type, kind (partition, file, zram), the path /proc/swaps shows, its
    first slot in the VmState pool (``base``) and block device (None for zram). Its scalars
    (``prio``, ``flags``, ``max``: the size in slots, slot 0 being the header; ``pages``: the
    usable ones; ``inuse_pages``: those allocated; zram's ``zs_nr``) live in its row of
    ``swap_globals.si`` and its list heads in ``swap_globals.cluster_lists``, so compiled code
    allocates slots. Its clusters are ``cluster_info``, one row per cluster (CI_*: ``ci_count``,
    the allocated slots as the lists last saw them, the live counts being in
    ``VmState.swap_ci_count``; ``ci_flags``, the list it is on; ``ci_order``, the folio order it
    serves, the first allocation in an empty cluster making it that order's; its list links),
    and ``cluster_lists``, the heads of the free, full, nonfull and frag lists (the last two
    one per order): index arrays, as the kernel's list_heads. ``cluster_info``, zram's
    ``zs_stored`` (the slot's data is in zsmalloc, not ZRAM_SAME-filled) and ``zram_pages``
    are views of the VmState pool (``bind_pool`` points them there again when it grows); the
    data written to each slot is in the pool too (``swap_content``)."""

    prio = _si_column(SI_PRIO, "the priority")
    flags = _si_column(SI_FLAGS, "SWP_*")
    max = _si_column(SI_MAX, "the size in slots, the header included")
    pages = _si_column(SI_PAGES, "the usable slots")
    inuse_pages = _si_column(SI_INUSE, "the slots allocated, as the cluster lists last saw them")
    zs_nr = _si_column(SI_ZS_NR, "zram: the slots whose data zsmalloc holds")

    def __init__(self, g: "swap_globals", type: int, kind: str, swap_file: str, base: int, bdev=None):
        self.type, self.kind, self.swap_file, self.base, self.bdev = type, kind, swap_file, base, bdev
        self.row = g.si[type]
        self.cluster_lists = g.cluster_lists[type]  # (NR_CLUSTER_LISTS, 2): LIST_FIRST, LIST_LAST
        self._ratio = g.zs_ratio[type:type + 1]
        self.cluster_info = self.zs_stored = self.zs_pages = None  # views of the pool: bind_pool

    def bind_pool(self, vs) -> None:
        """Point the views of the area's part of the VmState pool at ``vs``'s arrays."""
        first = self.base // SWAPFILE_CLUSTER
        self.cluster_info = vs.swap_cluster_info[first:first + -(-self.max // SWAPFILE_CLUSTER)]
        self.zs_stored = vs.swap_zs_stored[self.base:self.base + self.max]
        self.zs_pages = vs.swap_zs_pages[self.base:self.base + self.max]

    @property
    def compression_ratio(self) -> float:
        """zram: original size / compressed size (1 for the others)."""
        return float(self._ratio[0])

    @property
    def zram_pages(self) -> np.ndarray:
        """The pages zsmalloc holds (zram), in the order it took them."""
        return self.zs_pages[:self.row[SI_ZS_PAGES]]

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
    """``swap_info[]`` and the kernel's globals of ``mm/swapfile.c``, kept for compiled code in
    arrays of fixed size (the VmState holds the same arrays): each area's scalars (``si``,
    SI_* columns) and cluster list heads (``cluster_lists``), zram's compression ratio
    (``zs_ratio``), the priority lists (``plists``: ``swap_active_head``, every area, highest
    priority first; ``swap_avail_head``, those with free slots, rotated among equal
    priorities by ``plist_requeue``) and the per-CPU cluster of each order
    (``percpu_swap_cluster``: [cpu, order] -> its area and next offset). Also
    ``least_priority`` (the last automatic priority)."""

    nr_cpus: int = 1
    swap_info: list = field(default_factory=lambda: [])
    least_priority: int = -1
    nr_zram: int = 0  # zram devices made so far (/dev/zramN)
    vma_ra_enabled: bool = True  # /sys/kernel/mm/swap/vma_ra_enabled
    ra: swap_ra_state = field(default_factory=swap_ra_state)
    si: np.ndarray = field(init=False)
    cluster_lists: np.ndarray = field(init=False)
    zs_ratio: np.ndarray = field(init=False)
    plists: np.ndarray = field(init=False)
    percpu_swap_cluster: np.ndarray = field(init=False)
    # shmem_unuse(k, type): swapoff's first step, registered by shmem_init (mm/shmem.py sits above swap)
    shmem_unuse: Callable[..., None] | None = None

    def __post_init__(self):
        self.si = np.zeros((MAX_SWAPFILES, NR_SI), np.int64)
        self.cluster_lists = np.full((MAX_SWAPFILES, NR_CLUSTER_LISTS, 2), -1, np.int64)
        self.zs_ratio = np.ones(MAX_SWAPFILES, np.float64)
        self.plists = np.full((NR_PLISTS, MAX_SWAPFILES + 1), -1, np.int64)
        self.percpu_swap_cluster = np.zeros((self.nr_cpus, SWAP_NR_ORDERS, NR_PCP_SWAP), np.int64)
        self.percpu_swap_cluster[:, :, PCP_SWAP_TYPE] = -1

    def plist(self, which: int) -> list:
        """The areas of priority list ``which`` (PLIST_*), in order."""
        row = self.plists[which]
        return [self.swap_info[t] for t in row[:int(np.argmax(row < 0))].tolist()]

    @property
    def swap_active_head(self) -> list:
        return self.plist(PLIST_ACTIVE)

    @property
    def swap_avail_head(self) -> list:
        return self.plist(PLIST_AVAIL)
