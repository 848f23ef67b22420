"""Reverse-mapping objects (``include/linux/rmap.h``), Linux 6.18: ``struct anon_vma``, and
the registry of one kernel's anon_vmas and address_spaces.

An ``anon_vma`` groups the VMAs that may map a set of anonymous pages: a page's
``page->mapping`` names its anon_vma (``id << 1 | PAGE_MAPPING_ANON``), and the VMAs to search
for it are those linked into that anon_vma (``rb_root``, the kernel's interval tree of
``anon_vma_chain`` entries). A VMA's own links are ``vma.anon_vma_chain``, newest first. fork
makes one anon_vma per VMA per generation, each linked to its parent's, so the anon_vmas of a
process tree form a tree (``parent``, ``root``). ``mm/rmap.py`` has the functions.

``RmapRegistry`` is what the kernel's slab caches and ``get_next_ino`` stand for: every live
anon_vma and address_space of one kernel by id, the counters that hand the ids out, and the
flattened table the compiled ``rmap_walk`` reads (rebuilt when ``seq`` moves), with the
running task owning each row's mm (rebuilt when the table or the tasks change: ``tasks_seq``),
and every live mm's counters, one row each of one array (``mmcs``, ``kernel/fork.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mm_types_task import NR_MMC


class anon_vma:
    """``struct anon_vma``: ``root`` and ``parent`` (itself for a root), ``refcount`` (1 while
    its tree is not empty, plus one per descendant for a root: ``get_anon_vma(root)`` in
    ``anon_vma_fork``), ``num_children`` (child anon_vmas, plus the root's link to itself),
    ``num_active_vmas`` (VMAs whose ``vma.anon_vma`` is this one) and ``rb_root`` (the VMAs
    linked to it). Before 6.2 the two counts were one, ``degree``."""

    __slots__ = ("id", "root", "parent", "refcount", "num_children", "num_active_vmas", "rb_root")

    def __init__(self, ident: int):
        self.id = ident
        self.root = self.parent = self
        self.refcount, self.num_children, self.num_active_vmas = 1, 0, 0
        self.rb_root: list = []

    def __repr__(self) -> str:
        return (f"<anon_vma {self.id} root={self.root.id} parent={self.parent.id} children={self.num_children} "
                f"active={self.num_active_vmas} vmas={len(self.rb_root)}>")


# the flattened reverse map: one row per (anon_vma or address_space, VMA linked to it);
# RMAP_FLAGS is the VMA's vm_flags (VM_LOCKED and VM_EXEC for folio_referenced)
RMAP_PGD, RMAP_START, RMAP_END, RMAP_PGOFF, RMAP_FLAGS = 0, 1, 2, 3, 4
NR_RMAP_COLS = 5


@dataclass(eq=False)
class RmapRegistry:
    """One kernel's anon_vmas and address_spaces, and the table ``rmap_walk`` reads.

    ``keys`` (sorted ``page->mapping`` values) and ``off`` say which rows of ``rows`` belong
    to each object; ``vmas`` holds the VMA of each row. The table is rebuilt when ``seq``
    (bumped on every change of a VMA or of an object's links) differs from ``table_seq``.
    ``mmcs`` holds the counters of every live mm, a row each: a task's ``mmc`` is a view of
    its row (``mm_slots``: the task of each row, None for a free one), so compiled reclaim
    changes them in place. ``row_mm`` is the row of ``mmcs`` of each rmap row's mm (-1: no
    running task), as reclaim's batches read it; it is rebuilt when the table or the tasks
    changed (``tasks_seq``, bumped when a task comes or exits) since ``owners_seq``, as the
    kernel keeps each mm's rmap links across reclaim passes.
    ``ino_xa`` maps each address_space's inode number to its xarray root for reclaim's compiled
    pass, rebuilt when ``seq`` differs from ``ino_xa_seq``.
    """

    anon_vmas: dict = field(default_factory=dict)
    address_spaces: dict = field(default_factory=dict)
    last_anon_vma_id: int = 0
    last_ino: int = 0
    seq: int = 0
    table_seq: int = -1
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros((0, NR_RMAP_COLS), np.int64))
    vmas: list = field(default_factory=list)
    tasks_seq: int = 0
    owners_seq: tuple = (-1, -1)
    row_mm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mmcs: np.ndarray = field(default_factory=lambda: np.zeros((0, NR_MMC), np.int64))
    mm_slots: list = field(default_factory=list)
    ino_xa_seq: int = -1
    ino_xa: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def get_next_ino(self) -> int:
        self.last_ino += 1
        return self.last_ino
