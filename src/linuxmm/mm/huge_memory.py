"""Transparent hugepage setup (``mm/huge_memory.c: hugepage_init``), Linux 6.18.

One THP policy per kernel, ``k.transparent_hugepage_flags`` (``always``, ``madvise`` or
``never``, as /sys/kernel/mm/transparent_hugepage/enabled shows it): the Kconfig default
(``CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}``), then ``transparent_hugepage=`` from
the command line (``setup_transparent_hugepage``, an early param). ``hugepage_init`` (a subsys
initcall) turns THP off on machines under 512 MiB and otherwise starts khugepaged, which
raises ``min_free_kbytes`` (``mm/khugepaged.py``). The fault path (``VP_THP``), smaps'
THPeligible and khugepaged all read this one policy (``include/linux/huge_mm.py``); as the
kernel's comment says, an admin can still enable it through /sys on a small machine:
``enabled_show``/``enabled_store`` are that file.

Splitting a large folio into smaller ones (``split_huge_page_to_list_to_order``,
``split_folio_to_order``, ``split_folio``, and ``folio_split``'s non-uniform split around one
page): anonymous folios compiled, page-cache folios (file and shmem) with the compiled core
and their xarray, counters and EOF in Python (``mapping_folio_split``); see the sections
below for how the kernel's unmap/freeze/remap maps onto the simulator. Its users: reclaim,
for a THP it cannot swap out whole (``mm/vmscan.py``); the deferred split shrinker
(``deferred_split_scan``, run by reclaim through ``shrink_slab``), which splits the partially
mapped THPs queued on their node's deferred split queue (``mm/swap.py``) and so frees their
unmapped pages; truncation of part of a large page-cache folio (``mm/truncate.py``:
``try_folio_split_to_order``); and the debugfs file /sys/kernel/debug/split_huge_pages
(``split_huge_pages_write``: ``pid,0xvaddr_start,0xvaddr_end[,order[,in_folio_offset]]``,
``/path,0xoff_start,0xoff_end[,order[,in_folio_offset]]`` for a file's page cache, ``1``
for every large folio on an LRU list).

Not modelled: the underused-THP split (``thp_underused`` needs khugepaged's max_ptes_none
below its default 511, which cannot be changed here), a deferred split queue per memcg (one
per node), folios with fs-private data (``filemap_release_folio``: ext4's buffer heads are
not simulated), splitting a shmem folio in the swap cache (reclaim swaps out order-0 shmem
folios only).
"""

from __future__ import annotations

import errno
import re
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux.huge_mm import HPAGE_PMD_ORDER
from ..include.linux.mm_types import (MM_ANONPAGES, MMC_PGD, PAGE_SHIFT, VM_IO, VM_LOCKED, VM_MIXEDMAP, VM_PFNMAP,
                                      find_vma)
from ..include.linux.page_flags import (LRU_GEN_MASK, LRU_REFS_MASK, PG_active, PG_anon_exclusive_mask, PG_arch_2,
                                        PG_dirty, PG_dirty_mask, PG_head_mask, PG_large_rmappable, PG_locked,
                                        PG_locked_mask, PG_lru_mask,
                                        PG_mlocked, PG_mlocked_mask, PG_referenced, PG_swapbacked, PG_swapcache,
                                        PG_swapcache_mask, PG_unevictable, PG_uptodate, PG_workingset,
                                        PG_writeback_mask)
from ..include.linux.rmap import RMAP_FLAGS, RMAP_PGD
from ..include.linux.vmstat import (NR_ANON_THPS, NR_FILE_THPS, NR_SHMEM_THPS, SLABS_SCANNED, THP_SPLIT_PAGE,
                                    THP_SPLIT_PAGE_FAILED)
from ..lib import xarray as X
from . import buddy as B
from . import filemap as FM
from .memory import (PAGE_MAPPING_ANON, __split_huge_pmd, folio_entire_mapcount, lookup_pte, mk_entry, pt_index,
                     pte_slot, set_entry)
from .mm_inline import folio_is_file_lru, folio_lru_gen, folio_lruvec_memcg, folio_nr_pages, folio_zonenum
from .pgtable import (NS_ANON_MAPPED, VP_CPU, VP_LEVELS, VP_ZERO_PFN, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_NX,
                      _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_SOFT_DIRTY, _PAGE_SPECIAL, _PAGE_USER, entry_has,
                      entry_present, pte_pfn, pte_val)
from .rmap import (EMPTY_I64, SCR_ADDR, SCR_LEVEL, SCR_PT, SCR_ROW, rmap_batch, rmap_scratch, rmap_walk_one, try_to_unmap_file_one,
                   try_to_unmap_flush)
from .swap import (deferred_list_del, deferred_split_folio, folio_lru_list,
                   folio_on_deferred_list, folio_put, folio_test_partially_mapped, folio_unqueue_deferred_split)
from .swapfile import folio_free_swap, folio_to_swp_tb, swap_slot
from .page_alloc import totalram_pages
from .pgalloc import vm_state_thp

if TYPE_CHECKING:
    from ..init.main import Kernel


def hugepage_init(k: "Kernel") -> None:
    """``hugepage_init``, after ``khugepaged_init`` (which the initcalls run first: khugepaged
    sits above this file and leaves ``start_stop_khugepaged`` on the kernel object)."""
    if k.params.transparent_hugepage:  # setup_transparent_hugepage, run at parse_early_param
        k.transparent_hugepage_flags = k.params.transparent_hugepage
    if totalram_pages(k) < (512 << 20) >> k.arch.page_shift:
        # small machines: the extra memory THP costs outweighs the TLB savings
        k.transparent_hugepage_flags = "never"
        return
    k.start_stop_khugepaged(k)


THP_ENABLED = ("always", "madvise", "never")  # the choices enabled_show lists


def enabled_show(k: "Kernel") -> str:
    """/sys/kernel/mm/transparent_hugepage/enabled: the choices, the policy in brackets."""
    return " ".join(f"[{m}]" if m == k.transparent_hugepage_flags else m for m in THP_ENABLED) + "\n"


def use_zero_page_show(k: "Kernel") -> str:
    """/sys/kernel/mm/transparent_hugepage/use_zero_page: 1, the default
    (TRANSPARENT_HUGEPAGE_USE_ZERO_PAGE_FLAG): a read fault of a THP-eligible VMA maps the
    huge zero page (``do_huge_pmd_anonymous_page``)."""
    return "1\n"


def use_zero_page_store(k: "Kernel", value: str) -> None:
    """Turning the huge zero page off is not simulated: the file is read-only here."""
    raise KernelError(errno.EACCES, "transparent_hugepage/use_zero_page: writing it is not simulated")


def enabled_store(k: "Kernel", value: str) -> None:
    """Set the policy (``enabled_store``): khugepaged starts or stops and min_free_kbytes
    follows (``start_stop_khugepaged``); faults from now on read the new policy."""
    mode = value.strip()
    if mode not in THP_ENABLED:
        raise KernelError(errno.EINVAL, f"transparent_hugepage/enabled: {value!r} is not one of {', '.join(THP_ENABLED)}")
    k.transparent_hugepage_flags = mode
    k.start_stop_khugepaged(k)
    if k.vm_state is not None:
        vm_state_thp(k, k.vm_state.vp)


# ---- splitting a large folio (split_huge_page_to_list_to_order, folio_split) -------------------
#
# The kernel unmaps the folio (``unmap_folio``: PMDs split to ptes, every pte replaced by a
# migration entry), freezes its refcount at the references it expects (``folio_ref_freeze``),
# rewrites the compound metadata (``__split_unmapped_folio`` -> ``__split_folio_to_order``),
# and maps the pages again from the migration entries (``remap_page``). Nothing runs between
# those steps here, so the ptes stay as they are (a migration entry keeps the pte's young,
# dirty, soft-dirty and exclusive bits, and the pfn does not change): unmapping is splitting
# the PMD mappings to ptes, the freeze is the refcount check, and remapping is only what
# ``remove_migration_pte`` changes, the shared zeropage for zero-filled anonymous pages
# (RMP_USE_SHARED_ZEROPAGE, since 6.12).

EINVAL, EBUSY, EAGAIN = errno.EINVAL, errno.EBUSY, errno.EAGAIN
# the flags a new folio takes from the folio it was split from (``__split_folio_to_order``)
PG_large_rmappable_mask = np.uint64(1 << PG_large_rmappable)
SPLIT_FLAGS = (np.uint64((1 << PG_referenced) | (1 << PG_swapbacked) | (1 << PG_swapcache) | (1 << PG_mlocked)
                         | (1 << PG_uptodate) | (1 << PG_active) | (1 << PG_workingset) | (1 << PG_locked)
                         | (1 << PG_unevictable) | (1 << PG_arch_2) | (1 << PG_dirty))
               | LRU_GEN_MASK | LRU_REFS_MASK)


@njit(cache=True)
def folio_mapcount(a, head, nr):
    """``folio_mapcount``: its pte mappings and its PMD mappings."""
    return np.int64(a.mapcount[head:head + nr].sum()) + folio_entire_mapcount(a, head)


@njit(cache=True)
def folio_cache_refs(a, head, nr):
    """The references the swap cache holds on an anonymous folio (one per page), the page
    cache on a file one (``folio_expected_ref_count``'s cache part)."""
    if a.mapping[head] & PAGE_MAPPING_ANON:
        return nr if a.flags[head] & PG_swapcache_mask else np.int64(0)
    return nr


@njit(cache=True)
def can_split_folio(a, head, caller_pins):
    """``can_split_folio``: no references beyond the mappings, the cache and the caller's."""
    nr = folio_nr_pages(a, head)
    return folio_mapcount(a, head, nr) == a.refcount[head] - folio_cache_refs(a, head, nr) - caller_pins


@njit(cache=True)
def split_pieces(head, old_order, new_order, split_at, uniform):
    """The (first pfn, order) of each folio a split leaves, by address: all of ``new_order``
    (the uniform split), or the buddy halves of each order from ``old_order - 1`` down, the one
    holding ``split_at`` split again until two of ``new_order`` are left (``folio_split``)."""
    if uniform:
        n = np.int64(1) << (old_order - new_order)
        return head + np.arange(n) * (np.int64(1) << new_order), np.full(n, new_order, np.int64)
    n = old_order - new_order + 1
    starts, orders = np.zeros(n, np.int64), np.zeros(n, np.int64)
    start = head
    for i in range(n - 1):
        o = old_order - 1 - i
        half = np.int64(1) << o
        inside = start + half if split_at >= start + half else start
        starts[i], orders[i] = (start if inside != start else start + half), o
        start = inside
    starts[n - 1], orders[n - 1] = start, new_order
    order = np.argsort(starts)
    return starts[order], orders[order]


@njit(cache=True)
def unmap_folio(a, vs, keys, off, rows, row_mm, mmcs, head, nr, flush_mm):
    """``unmap_folio``: an anonymous folio's PMD mappings become pte tables mapping the same
    pages (TTU_SPLIT_HUGE_PMD: ``__split_huge_pmd``; the ptes stand for the migration entries
    ``try_to_migrate`` leaves), a dirty pte dirtying the folio; a page-cache folio is unmapped
    everywhere, PMDs and ptes (``try_to_unmap`` with TTU_IGNORE_MLOCK: its pages fault back in
    on demand). False if a mapping sits in an mm no task runs (not reachable)."""
    leaf = vs.vp[VP_LEVELS] - 1
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    scratch = rmap_scratch(rows)
    dirty = False
    for page in range(head, head + nr):
        for j in range(rmap_walk_one(a, vs, keys, off, rows, page, False, scratch)):
            r, address, level = scratch[j, SCR_ROW], scratch[j, SCR_ADDR], scratch[j, SCR_LEVEL]
            mm = row_mm[r]
            if mm < 0:
                return False
            row, idx = scratch[j, SCR_PT], pt_index(vs, level, address)
            if not anon:
                try_to_unmap_file_one(a, vs, mmcs[mm], row, idx, level)
                flush_mm[mm] = 1
                continue
            dirty |= entry_has(vs.pt[row, idx], _PAGE_DIRTY)
            if level < leaf:
                __split_huge_pmd(a, vs, mmcs[mm], row, idx)
                flush_mm[mm] = 1
    if dirty:
        a.flags[head] |= PG_dirty_mask
    return True


@njit(cache=True)
def page_is_zero_filled(a, page):
    """``pages_identical(page, ZERO_PAGE(0))``: never written, or written with zeros only."""
    return a.content_valid[page] == 0 or not a.content[page].any()


@njit(cache=True)
def try_to_map_unused_to_zeropage(a, vs, keys, off, rows, row_mm, mmcs, page, flush_mm):
    """``remove_migration_pte`` with RMP_USE_SHARED_ZEROPAGE: each pte mapping the zero-filled
    small anonymous folio ``page`` maps the shared zeropage instead (special, read-only, its
    soft-dirty bit kept): the mapping's reference, rmap and RssAnon go. Not in VM_LOCKED VMAs."""
    if a.flags[page] & PG_mlocked_mask or not page_is_zero_filled(a, page):
        return
    scratch = rmap_scratch(rows)
    keep = np.uint64(_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_USER | _PAGE_NX | _PAGE_SOFT_DIRTY)
    for j in range(rmap_walk_one(a, vs, keys, off, rows, page, False, scratch)):
        r, address = scratch[j, SCR_ROW], scratch[j, SCR_ADDR]
        if rows[r, RMAP_FLAGS] & VM_LOCKED:
            continue
        row, idx = pte_slot(a, vs, rows[r, RMAP_PGD], address)
        set_entry(vs, row, idx, mk_entry(vs.vp[VP_ZERO_PFN], (vs.pt[row, idx] & keep) | np.uint64(_PAGE_SPECIAL
                                                                                             | _PAGE_ACCESSED)))
        a.mapcount[page] -= 1
        if a.mapcount[page] == 0:
            vs.nstat[a.zone_node[B.page_zone(a, page)], NS_ANON_MAPPED] -= 1
            a.flags[page] &= ~PG_anon_exclusive_mask
        mmcs[row_mm[r], MM_ANONPAGES] -= 1
        a.refcount[page] -= 1
        flush_mm[row_mm[r]] = 1


@njit(cache=True)
def lru_add_split_folio(a, head, new):
    """``lru_add_split_folio`` without a list: the new folio joins the list of the folio it
    came from, right before it (``list_add_tail(&new->lru, &folio->lru)``), on the same
    classic list or MGLRU generation; the list's sizes already count its pages."""
    prv = a.lru_prev[head]
    a.lru_prev[new], a.lru_next[new] = prv, head + 1
    a.lru_prev[head] = new + 1
    if prv:
        a.lru_next[prv - 1] = new + 1
        return
    nid, memcg = a.zone_node[B.page_zone(a, head)], folio_lruvec_memcg(a, head)
    gen = folio_lru_gen(a, head)
    if gen >= 0:
        a.lrugen_head[memcg, nid, gen, folio_is_file_lru(a, head), folio_zonenum(a, head)] = new + 1
    else:
        a.lruvec_head[memcg, nid, folio_lru_list(a, head)] = new + 1


@njit(cache=True)
def __split_folio_to_order(a, vs, head, new, order, cached):
    """Make pages [new, new + 2**order) of the folio at ``head`` a folio of their own: flags
    from the old folio (a page's PG_anon_exclusive stays while a pte maps it), compound
    metadata, mapping and index, the memcg charge (``split_page_memcg``), its swap-cache slots;
    its references: its mappings', its cache's and the split's own."""
    nr = np.int64(1) << order
    for p in range(new, new + nr):
        a.mapping[p] = a.mapping[head]
        a.index[p] = a.index[head] + (p - head)
        if a.mapcount[p] == 0:
            a.flags[p] &= ~PG_anon_exclusive_mask
    if new != head:
        own = a.flags[new] & PG_anon_exclusive_mask
        a.flags[new] = own | (a.flags[head] & (SPLIT_FLAGS | PG_lru_mask))
        a.compound_head[new] = 0
        a.memcg[new] = a.memcg[head]
        a.entire_mapcount[new] = a.pincount[new] = 0
    a.order[new] = order
    if order:
        a.flags[new] |= PG_head_mask
        a.flags[new + 1] |= PG_large_rmappable_mask  # folio_set_large_rmappable
        a.compound_head[new + 1:new + nr] = new + 1
    else:
        a.flags[new] &= ~PG_head_mask
    if a.flags[new] & PG_swapcache_mask:
        for p in range(new, new + nr):
            vs.swap_table[swap_slot(vs, a.private[p])] = folio_to_swp_tb(new)
    a.refcount[new] = np.int32(a.mapcount[new:new + nr].sum() + (nr if cached else 0) + 1)


@njit(cache=True)
def __folio_split(a, vs, keys, off, rows, row_mm, mmcs, head, new_order, split_at, uniform, out, flush_mm):
    """Split the anonymous large folio at ``head`` (the caller holds a reference to it) into
    folios of ``new_order`` (``uniform``) or around the page ``split_at`` (``folio_split``).
    The folio left at ``head`` keeps the caller's reference; with ``out`` (reclaim's list,
    ``lru_add_split_folio``) the others go there, isolated, each with a reference; without,
    they join the LRU next to it and unmapped ones are freed. Returns (0 or -errno, the folios
    put in ``out``); THP_SPLIT_PAGE or THP_SPLIT_PAGE_FAILED for a PMD-size folio. A
    page-cache folio is split by ``mapping_folio_split`` (its xarray and counters are Python's)."""
    old_order = np.int64(a.order[head])
    ret = folio_split_checks(a, head, new_order, uniform, 0)
    if ret == 0 and not a.mapping[head] & PAGE_MAPPING_ANON:
        ret = -EINVAL
    if ret == 0 and not can_split_folio(a, head, 1):
        ret = -EAGAIN
    if ret == 0 and not unmap_folio(a, vs, keys, off, rows, row_mm, mmcs, head, np.int64(1) << old_order, flush_mm):
        ret = -EAGAIN
    n = 0
    if ret == 0:
        n = __split_unmapped_folio(a, vs, keys, off, rows, row_mm, mmcs, head, new_order, split_at, uniform, out,
                                   flush_mm)
    count_thp_split(a, old_order, ret)
    return ret, n


@njit(cache=True)
def count_thp_split(a, old_order, ret):
    """THP_SPLIT_PAGE or THP_SPLIT_PAGE_FAILED for a PMD-size folio."""
    if old_order == HPAGE_PMD_ORDER:
        a.vm_events[THP_SPLIT_PAGE if ret == 0 else THP_SPLIT_PAGE_FAILED] += 1


@njit(cache=True)
def folio_split_checks(a, head, new_order, uniform, min_order):
    """What ``__folio_split`` refuses before touching the folio, in 6.18's order: a small
    folio or a target order not below its own, order 1 for anonymous memory (no room for the
    deferred list), a swap-cache folio split to anything but order 0 or not uniformly
    (-EINVAL); a folio under writeback (-EBUSY); a page-cache folio truncated meanwhile (no
    mapping: -EBUSY) or split below its mapping's ``min_order`` (-EINVAL)."""
    if not a.flags[head] & PG_head_mask or new_order >= a.order[head]:
        return -EINVAL
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    if anon and new_order == 1:
        return -EINVAL
    if a.flags[head] & PG_swapcache_mask and (new_order or not uniform):
        return -EINVAL
    if a.flags[head] & PG_writeback_mask:
        return -EBUSY
    if not anon and a.mapping[head] == 0:
        return -EBUSY
    if not anon and new_order < min_order:
        return -EINVAL
    return 0


@njit(cache=True)
def split_memcg_anon_thps(a, head, orders):
    """The memcg's NR_ANON_THPS counts its large anonymous folios' pages from charge to
    uncharge (``mm/memcontrol.py``): the pages of the new small folios leave it."""
    memcg = a.memcg[head]
    if memcg:
        large = orders > 0
        a.memcg_stat[memcg, NR_ANON_THPS] -= (np.int64(1) << a.order[head]) - (np.int64(1) << orders[large]).sum()


@njit(cache=True)
def __split_unmapped_folio(a, vs, keys, off, rows, row_mm, mmcs, head, new_order, split_at, uniform, out, flush_mm):
    """The metadata split and the remap of a frozen folio, anonymous or page cache (whose
    xarray the caller re-points); the new folios but the head are unlocked. Returns the
    folios put in ``out``."""
    folio_unqueue_deferred_split(a, head)
    anon = (a.mapping[head] & PAGE_MAPPING_ANON) != 0
    swapcache = (a.flags[head] & PG_swapcache_mask) != 0
    cached = folio_cache_refs(a, head, np.int64(1)) > 0
    starts, orders = split_pieces(head, np.int64(a.order[head]), new_order, split_at, uniform)
    on_lru = (a.flags[head] & PG_lru_mask) != 0 and out.shape[0] == 0
    if anon:
        split_memcg_anon_thps(a, head, orders)
    for i in range(starts.shape[0] - 1, -1, -1):  # the head's flags are read by every new folio
        __split_folio_to_order(a, vs, head, starts[i], orders[i], cached)
    n = 0
    for i in range(starts.shape[0]):
        new = starts[i]
        if orders[i] == 0 and anon:  # remap_page: only anonymous folios were unmapped to migration entries
            try_to_map_unused_to_zeropage(a, vs, keys, off, rows, row_mm, mmcs, new, flush_mm)
        if new == head:
            continue
        a.flags[new] &= ~PG_locked_mask  # folio_unlock: only the caller's (lock_at, the head) stays locked
        if out.shape[0]:
            a.flags[new] &= ~PG_lru_mask
            out[n] = new
            n += 1
        else:
            if on_lru:
                lru_add_split_folio(a, head, new)
            if swapcache and a.mapcount[new] == 0:
                folio_free_swap(a, vs, new)  # free_folio_and_swap_cache
            folio_put(a, new, vs.vp[VP_CPU])
    return n



# the kernel's entry points; ``rmap``: (keys, off, rows, row_mm, mmcs) of ``rmap_batch``
@njit(cache=True)
def split_huge_page_to_list_to_order(a, vs, rmap, head, out, new_order, flush_mm):
    """Uniform split to ``new_order``; the new folios other than the head go to ``out``."""
    return __folio_split(a, vs, rmap[0], rmap[1], rmap[2], rmap[3], rmap[4], head, new_order, head, True, out,
                         flush_mm)


@njit(cache=True)
def split_folio_to_order(a, vs, rmap, head, new_order, flush_mm):
    return split_huge_page_to_list_to_order(a, vs, rmap, head, np.zeros(0, np.int64), new_order, flush_mm)[0]


@njit(cache=True)
def split_folio(a, vs, rmap, head, flush_mm):
    return split_folio_to_order(a, vs, rmap, head, 0, flush_mm)


@njit(cache=True)
def folio_split(a, vs, rmap, head, new_order, split_at, flush_mm):
    """The non-uniform split: ``split_at``'s folio of ``new_order``, the rest as large as can be."""
    return __folio_split(a, vs, rmap[0], rmap[1], rmap[2], rmap[3], rmap[4], head, new_order, split_at, False,
                         np.zeros(0, np.int64), flush_mm)[0]


def rmap_of(batch) -> tuple:
    """The rmap arrays of ``rmap_batch`` as the compiled split takes them."""
    return batch.rmap_keys, batch.rmap_off, batch.rmap_rows, batch.row_mm, batch.mmcs


# ---- page-cache folios (file and shmem) ----------------------------------------------------------
#
# ``__folio_split`` on a folio with a ``mapping``: the same checks plus the mapping's minimum
# folio order, the folio unmapped everywhere (file pages fault back on demand; no migration
# entries), the metadata split compiled as for anonymous folios, then what touches the page
# cache: its xarray re-pointed at the new folios (``xas_split``/``xas_try_split`` + the
# ``__xa_store`` of each new folio), the new folios at or past EOF taken out of the cache
# (``__filemap_remove_folio``; shmem gives their blocks back, ``shmem_uncharge``), and a
# PMD-size folio leaving NR_FILE_THPS/NR_SHMEM_THPS (FileHugePages/ShmemHugePages).

def folio_mapping(k, head: int):
    """``folio->mapping`` of a page-cache folio: its ``address_space`` (None once truncated)."""
    return k.rmap.address_spaces.get(int(k.mem_map.mapping[head]) >> 1)


def min_order_for_split(k, head: int) -> int:
    """``min_order_for_split``: 0 for anonymous or truncated folios, else the mapping's
    minimum folio order."""
    a = k.mem_map
    if a.mapping[head] & PAGE_MAPPING_ANON or not a.mapping[head]:
        return 0
    return folio_mapping(k, head).min_order


def mapping_folio_split(k, head: int, new_order: int, split_at: int, uniform: bool, out=EMPTY_I64) -> int:
    """``__folio_split`` of the page-cache folio at ``head`` (the caller holds a reference to
    it, and its lock if any: the new folios but the head are unlocked), uniform to
    ``new_order`` or around ``split_at``; an isolated folio's new folios go to ``out``
    (reclaim's list), isolated, each with a reference. 0 or -errno: EINVAL (see
    ``folio_split_checks``), EBUSY (writeback, truncated), EAGAIN (references beyond the
    cache's, the mappings' and the caller's one)."""
    a, vs = k.mem_map, k.vm_state
    old_order = int(a.order[head])
    mapping = folio_mapping(k, head)
    ret = int(folio_split_checks(a, head, new_order, uniform, mapping.min_order if mapping else 0))
    if ret == 0 and not can_split_folio(a, head, 1):
        ret = -EAGAIN
    if ret == 0:
        batch = rmap_batch(k, EMPTY_I64)
        flush_mm = np.zeros(batch.mmcs.shape[0], np.int64)
        if unmap_folio(a, vs, *rmap_of(batch), head, 1 << old_order, flush_mm):
            split_unmapped_mapping_folio(k, mapping, batch, head, new_order, split_at, uniform, flush_mm, out)
        else:
            ret = -EAGAIN
        try_to_unmap_flush(k, batch, flush_mm)
    count_thp_split(a, old_order, ret)
    return ret


def split_unmapped_mapping_folio(k, mapping, batch, head: int, new_order: int, split_at: int, uniform: bool,
                                 flush_mm, out=EMPTY_I64) -> None:
    """The unmapped folio split (``__split_unmapped_folio``), its cache updated."""
    a = k.mem_map
    old_order = int(a.order[head])
    nr = 1 << old_order
    if old_order >= HPAGE_PMD_ORDER > new_order:  # folio_test_pmd_mappable
        FM.lruvec_stat_mod_folio(k, NR_SHMEM_THPS if mapping.swapbacked else NR_FILE_THPS, head, -nr)
    __split_unmapped_folio(a, k.vm_state, *rmap_of(batch), head, new_order, split_at, uniform, out, flush_mm)
    end = -(-mapping.host.i_size >> PAGE_SHIFT)  # shmem_fallocend: no fallocate in progress here
    k.page_cache = X.xa_reserve(k.page_cache)  # the slots exist: re-pointing them takes no node
    dropped = 0
    new = head + (1 << int(a.order[head]))
    while new < head + nr:
        new_nr = 1 << int(a.order[new])
        if a.index[new] < end:
            X.xa_store_range(k.page_cache, mapping.xa_id, int(a.index[new]), new_nr, X.xa_mk_folio(new))
        else:
            dropped += new_nr
            drop_folio_past_eof(k, mapping, new)
        new += new_nr
    if dropped and mapping.swapbacked:
        k.shmem_uncharge(k, mapping.host, dropped)


def drop_folio_past_eof(k, mapping, pfn: int) -> None:
    """A new folio wholly past EOF leaves the page cache (its dirtiness cancelled: there is
    no file there to write it to) and, unmapped, is freed."""
    if FM.folio_test(k, pfn, PG_dirty):
        FM.folio_clear(k, pfn, PG_dirty)
        FM.folio_account_cleaned(k, mapping, pfn)
    FM.filemap_remove_folio(k, mapping, pfn)


def split_folio_any(k, head: int, new_order: int, split_at: int, uniform: bool) -> int:
    """Split an anonymous or page-cache folio the caller holds a reference to: 0 or -errno."""
    if not k.mem_map.mapping[head] & PAGE_MAPPING_ANON:
        return mapping_folio_split(k, head, new_order, split_at, uniform)
    batch = rmap_batch(k, EMPTY_I64)
    flush_mm = np.zeros(batch.mmcs.shape[0], np.int64)
    if uniform:
        ret = split_folio_to_order(k.mem_map, k.vm_state, rmap_of(batch), head, new_order, flush_mm)
    else:
        ret = folio_split(k.mem_map, k.vm_state, rmap_of(batch), head, new_order, split_at, flush_mm)
    try_to_unmap_flush(k, batch, flush_mm)
    return int(ret)


def try_folio_split_to_order(k, head: int, split_at: int, new_order: int) -> int:
    """``try_folio_split_to_order``: the non-uniform split around ``split_at`` (a page-cache
    folio may always be split that way here: no CONFIG_READ_ONLY_THP_FOR_FS folios)."""
    return split_folio_any(k, head, new_order, split_at, False)


# ---- the deferred split shrinker ---------------------------------------------------------------

SHRINK_BATCH = 128  # the shrinker's batch_size left 0
DEFAULT_SEEKS = 2
FOLIO_BATCH = 31  # deferred_split_scan's struct folio_batch (PAGEVEC_SIZE)


@njit(cache=True)
def thp_underused(a, head):
    """``thp_underused``: more zero-filled pages than khugepaged's max_ptes_none allows; never
    at its default, HPAGE_PMD_NR - 1, the only value here."""
    return False


@njit(cache=True)
def deferred_split_scan(a, vs, rmap, nid, nr_to_scan, flush_mm):
    """``deferred_split_scan``: take up to ``nr_to_scan`` folios (a batch of 31 at most) off
    the node's queue; split the partially mapped ones (freeing their unmapped pages), requeue
    those that could not be split, drop the rest. Returns the folios split."""
    batch = np.zeros(FOLIO_BATCH, np.int64)
    n = 0
    while a.split_queue_head[nid] and n < FOLIO_BATCH:
        head = a.split_queue_head[nid] - 1
        a.refcount[head] += 1  # folio_try_get: a queued folio is never free
        batch[n] = head
        n += 1
        deferred_list_del(a, head)
        nr_to_scan -= 1
        if nr_to_scan == 0:
            break
    split = 0
    for i in range(n):
        head = batch[i]
        partial = folio_test_partially_mapped(a, head)
        if not partial and (a.flags[head] & PG_mlocked_mask or not thp_underused(a, head)):
            continue
        if not a.flags[head] & PG_locked_mask:  # folio_trylock
            if split_folio(a, vs, rmap, head, flush_mm) == 0:
                split += 1
                continue
        if not folio_on_deferred_list(a, head):  # requeue a partially mapped folio not split
            deferred_split_folio(a, head, True)
    for i in range(n):
        folio_put(a, batch[i], vs.vp[VP_CPU])
    return split


def do_shrink_slab(k: "Kernel", pgdat, priority: int) -> int:
    """``shrink_slab`` -> ``do_shrink_slab`` for the deferred split shrinker of one node: scan
    ``(count >> priority) * 4 / seeks`` queued folios plus the work deferred from earlier
    calls (at most twice the queue), in batches of SHRINK_BATCH (SLABS_SCANNED); what was
    not scanned is deferred. Returns the folios split."""
    a, nid = k.mem_map, pgdat.node_id
    freeable = int(a.split_queue_len[nid])
    if freeable == 0:
        return 0
    nr, pgdat.deferred_split_nr_deferred = pgdat.deferred_split_nr_deferred, 0
    delta = (freeable >> priority) * 4 // DEFAULT_SEEKS
    total_scan = min((nr >> priority) + delta, 2 * freeable)
    freed = scanned = 0
    batch = rmap_batch(k, EMPTY_I64)
    flush_mm = np.zeros(batch.mmcs.shape[0], np.int64)
    while total_scan >= SHRINK_BATCH or total_scan >= freeable:
        nr_to_scan = min(SHRINK_BATCH, total_scan)
        freed += int(deferred_split_scan(a, k.vm_state, rmap_of(batch), nid, nr_to_scan, flush_mm))
        k.vm_events[SLABS_SCANNED] += nr_to_scan
        total_scan -= nr_to_scan
        scanned += nr_to_scan
        if not a.split_queue_len[nid]:  # SHRINK_STOP: nothing split and the queue empty
            break
    try_to_unmap_flush(k, batch, flush_mm)
    pgdat.deferred_split_nr_deferred = min(max(nr + delta - scanned, 0), 2 * freeable)
    return freed


# ---- /sys/kernel/debug/split_huge_pages ----------------------------------------------------------

MAX_INPUT_BUF_SZ = 255
PID_FORMAT = re.compile(r"\s*([+-]?\d+)(?:,0x([0-9a-fA-F]+)(?:,0x([0-9a-fA-F]+)(?:,([+-]?\d+)(?:,([+-]?\d+))?)?)?)?")
PATH_FORMAT = re.compile(r"0x([0-9a-fA-F]+),0x([0-9a-fA-F]+)(?:,([+-]?\d+)(?:,([+-]?\d+))?)?")


def _scanned(match, groups: int) -> list[int]:
    """The fields ``sscanf`` converted before the first that failed."""
    out = []
    for i, g in enumerate(match.groups()[:groups]):
        if g is None:
            break
        out.append(int(g, 16) if match.re is PID_FORMAT and i in (1, 2) or match.re is PATH_FORMAT and i < 2
                   else int(g))
    return out


def split_huge_pages_write(k: "Kernel", value: str) -> None:
    """Write to /sys/kernel/debug/split_huge_pages (``split_huge_pages_write``): ``1`` splits
    every THP of every process; ``pid,0xvaddr_start,0xvaddr_end[,new_order[,in_folio_offset]]``
    those mapped in that range of one process; ``/path,0xoff_start,0xoff_end[,...]`` those
    of a file's page cache (none are split here). EINVAL for anything else."""
    buf = value[:MAX_INPUT_BUF_SZ - 1].split("\0", 1)[0]
    if buf.startswith("/"):
        path, comma, rest = buf.partition(",")
        match = PATH_FORMAT.match(rest)
        if not comma or match is None:
            raise KernelError(errno.EINVAL, f"split_huge_pages: {buf!r}: expected /path,0xoff_start,0xoff_end[,order]")
        fields = _scanned(match, 4)
        off_start, off_end, new_order, in_folio_offset = fields + [0, -1][len(fields) - 2:]
        split_huge_pages_in_file(k, path, off_start, off_end, new_order, in_folio_offset)
        return
    match = PID_FORMAT.match(buf)
    fields = _scanned(match, 5) if match else []
    if len(fields) == 1 and fields[0] == 1:
        split_huge_pages_all(k)
        return
    if len(fields) not in (3, 4, 5):
        raise KernelError(errno.EINVAL, f"split_huge_pages: {buf!r}: expected pid,0xvaddr_start,0xvaddr_end[,order]")
    pid, start, end, new_order, in_folio_offset = fields + [0, -1][len(fields) - 3:]
    split_huge_pages_pid(k, pid, start, end, new_order, in_folio_offset)


def split_huge_pages_show(k: "Kernel") -> str:
    """The file has no read method (mode 0200)."""
    raise KernelError(errno.EINVAL, "split_huge_pages: the file can only be written")


def vma_not_suitable_for_thp_split(vma) -> bool:
    """``vma_not_suitable_for_thp_split``: I/O and PFN-mapped VMAs hold no THPs to split."""
    return bool(vma.vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP))


def folio_walk_start(k: "Kernel", pgd: int, addr: int) -> int | None:
    """The folio mapped at ``addr`` (``folio_walk_start`` without FW_ZEROPAGE): a present,
    not special pte or PMD; None otherwise."""
    entry, level = lookup_pte(k.mem_map, k.vm_state, pgd, addr)
    entry = pte_val(entry)
    if not entry_present(entry) or entry_has(entry, _PAGE_SPECIAL):
        return None
    pfn = int(pte_pfn(entry))
    if level < k.vm_state.vp[VP_LEVELS] - 1:
        pfn += (addr >> 12) & ((1 << (int(k.vm_state.shift[level]) - 12)) - 1)
    return int(B.compound_head(k.mem_map, pfn))


def split_huge_pages_pid(k: "Kernel", pid: int, vaddr_start: int, vaddr_end: int, new_order: int,
                         in_folio_offset: int) -> None:
    """``split_huge_pages_pid``: each large folio mapped in [vaddr_start, vaddr_end) of the
    process, page by page, split to ``new_order`` (a page-cache folio to its mapping's
    minimum order at least; around page ``in_folio_offset`` when that lies within the folio:
    ``folio_split``) unless the split is sure to fail. ESRCH: no such process; EINVAL: it has
    no mm."""
    task = k.tasks.get(pid)
    if task is None:
        raise KernelError(errno.ESRCH, f"split_huge_pages: no process {pid}")
    if task.mm is None or k.vm_state is None:
        raise KernelError(errno.EINVAL, f"split_huge_pages: process {pid} has no mm")
    a, pgd = k.mem_map, int(task.mmc[MMC_PGD])
    addr, end = vaddr_start & ~0xFFF, vaddr_end & ~0xFFF
    while addr < end:
        vma = find_vma(task.mm, addr)
        if vma is None or vma.vm_start > addr:  # vma_lookup
            break
        if vma_not_suitable_for_thp_split(vma):
            addr = vma.vm_end
            continue
        head = folio_walk_start(k, pgd, addr)
        addr += 0x1000
        if head is None or not a.flags[head] & PG_head_mask:
            continue
        split_folio_for_debugfs(k, head, max(new_order, min_order_for_split(k, head)), in_folio_offset)


def split_folio_for_debugfs(k: "Kernel", head: int, target_order: int, in_folio_offset: int) -> None:
    """The debugfs file's split of one large folio: skipped when the target order is not
    below the folio's, when references beyond the expected ones would make it fail
    (``can_split_folio``) or it is locked (``folio_trylock``); else split to
    ``target_order``, uniformly or around page ``in_folio_offset`` when that lies within
    the folio (the kernel only counts the result, for its pr_debug line)."""
    a = k.mem_map
    if target_order >= a.order[head]:
        return
    if not can_split_folio(a, head, 0) or a.flags[head] & PG_locked_mask:
        return
    nr = 1 << int(a.order[head])
    a.refcount[head] += 1  # folio_get
    uniform = not 0 <= in_folio_offset < nr
    split_folio_any(k, head, target_order, head + (0 if uniform else in_folio_offset), uniform)
    folio_put(a, head, int(k.vm_state.vp[VP_CPU]))


def split_huge_pages_in_file(k: "Kernel", file_path: str, off_start: int, off_end: int, new_order: int,
                             in_folio_offset: int) -> None:
    """``split_huge_pages_in_file``: each large folio the file's page cache holds at page
    offsets [off_start, off_end), split to ``new_order`` (at least the mapping's minimum
    order), around page ``in_folio_offset`` when that lies within the folio; the walk steps
    over each folio found as it was before the split. EINVAL if the file cannot be opened."""
    from ..fs.namei import lookup  # fs/ (ext4's truncation) sits above this file

    try:
        inode = lookup(k, file_path)
    except KernelError as err:
        raise KernelError(errno.EINVAL, f"split_huge_pages: {file_path}: {err}") from None
    if inode is None:
        raise KernelError(errno.EINVAL, f"split_huge_pages: {file_path}: no such file")
    mapping = inode.i_mapping
    if mapping is None:  # a directory: no page cache
        return
    a, index = k.mem_map, off_start
    target_order = max(new_order, mapping.min_order)
    while index < off_end:
        head = FM.filemap_get_folio(k, mapping, index)
        nr_pages = 1
        if head >= 0 and a.flags[head] & PG_head_mask:
            nr_pages = 1 << int(a.order[head])
            split_folio_for_debugfs(k, head, target_order, in_folio_offset)
        index += nr_pages


def split_huge_pages_all(k: "Kernel") -> None:
    """``split_huge_pages_all``: every large folio on an LRU list, by pfn, split to order 0
    (``split_folio``: a page-cache folio of a mapping with a minimum order is refused)."""
    a = k.mem_map
    both = PG_head_mask | PG_lru_mask
    for head in np.flatnonzero((a.flags & both) == both).tolist():
        if (a.flags[head] & both) == both:  # not split meanwhile
            split_folio_for_debugfs(k, head, 0, -1)
