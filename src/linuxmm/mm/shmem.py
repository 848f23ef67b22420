"""tmpfs and shared anonymous memory (``mm/shmem.c``), Linux 6.18, on the page cache.

A tmpfs file's page cache is its storage: folios are added by ``shmem_get_folio`` (zeroed,
PG_swapbacked, counted in NR_SHMEM as well as NR_FILE_PAGES by ``filemap_add_folio``) and
leave only by truncation, hole punching or the file's eviction (``shmem_undo_range``), never
by reclaim of clean pages or drop_caches. With ``huge=never`` (the default mount option, and
shmem_enabled=never for the internal mount) folios are order-0; ``huge=always`` gives a
write the largest free order up to 2 MiB around its pages (6.18 tries PMD first, then the
smaller large orders), a fault a PMD-sized folio where the VMA can map it whole;
``within_size`` the same where the folio stays inside the file's size (or the write's end);
``advise`` PMD-sized folios for faults in MADV_HUGEPAGE mappings
(``shmem_huge_global_enabled``; the per-size ``shmem_enabled`` knobs are left at never). The filesystem's ``size=``
is counted in pages (``shmem_inode_acct_blocks``: ENOSPC past it); a tmpfs file or memfd
(VM_NORESERVE) charges each page to Committed_AS as it is allocated (``shmem_acct_blocks``:
ENOSPC when overcommit refuses) and returns it when the page leaves.

* reads (``shmem_file_read_iter``): a hole reads as zeros without allocating anything;
* writes (``shmem_write_begin``/``shmem_write_end`` under ``generic_perform_write``): folios
  marked dirty by ``noop_dirty_folio`` — tmpfs writes nothing back, so Dirty stays 0;
* MAP_SHARED|MAP_ANONYMOUS: ``shmem_zero_setup`` backs the VMA with an unlinked file of the
  internal mount (``shm_mnt``, shown as ``/dev/zero (deleted)``) whose size is charged to
  Committed_AS (``shmem_acct_size``) until the last reference goes (``shmem_evict_inode``);
* faults: ``shmem_fault`` allocates a page the compiled fault path found missing; mapping
  goes through the page-cache fault path of every file (fault-around, SIGBUS past ``i_size``).
* swap: reclaim writes a dirty folio to swap (``shmem_writeout``, in ``mm/vmscan.py``'s
  compiled pass): its page-cache slots then hold the swap entry as a value entry (a shmem
  mapping keeps no workingset shadows, so every value entry is a swap entry and their count is
  ``shmem_inode_info->swapped``), and each swap slot one reference for its page. A large
  folio (CONFIG_THP_SWAP) goes whole into a run of slots of its order: one multi-index value
  entry, every slot holding the run's first entry (``shmem_swap_entry_order`` finds its
  order, as ``xa_get_order``); without a run, or crossing EOF (6.18 splits such a folio so
  that truncation never meets a large swap entry past EOF), it is split to order 0 first
  (``shmem_writeout_split``: THP_SWPOUT_FALLBACK) and its pages go one by one.
  ``shmem_get_folio`` (faults, write(), fallocate) and reads bring it back
  (``shmem_swapin_folio``: from the swap cache, or read from the device without readahead;
  a large entry on a SWP_SYNCHRONOUS_IO area, zram, comes back as one large folio,
  ``shmem_swap_alloc_folio``; from a disk the page's own order-0 folio, the large entry split
  first, ``shmem_split_large_entry``), dirty, the slots freed; truncation, hole punching and
  eviction free the entries (``shmem_free_swap``; a large entry crossing the range is read
  back first, as 6.18 does for a partial folio, instead of freeing it whole); swapoff reads
  them in (``shmem_unuse``). A clean folio (a hole page only read) is dropped by reclaim
  without swap, and ``shmem_recalc_inode`` gives its block back. ``shmem_swap_usage`` is
  smaps' ``Swap:``.
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.falloc import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE
from ..include.linux.fs import address_space_operations, file_operations, i_size_write
from ..include.linux.huge_mm import HPAGE_PMD_NR, HPAGE_PMD_ORDER
from ..include.linux.mm_types import PAGE_SHIFT, VM_HUGEPAGE, VM_NORESERVE, shmem_acct_size
from ..include.linux.pagemap import MAX_PAGECACHE_ORDER
from ..include.linux.swap import SWAP_COUNT_MASK, SWAP_HAS_CACHE, SWP_SYNCHRONOUS_IO
from ..include.linux.page_flags import PG_dirty, PG_locked, PG_swapbacked_mask, PG_writeback
from ..include.linux.vmstat import (NR_FILE_PAGES, NR_ISOLATED_ANON, NR_SHMEM, NR_SHMEM_THPS, PGMAJFAULT,
                                    THP_FILE_ALLOC, THP_SWPOUT_FALLBACK)
from ..lib import xarray as X
from . import buddy as B
from . import filemap as FM
from .huge_memory import mapping_folio_split
from .mm_inline import folio_nr_pages
from .memcontrol import count_memcg_folio_events, mem_cgroup_swapin_charge_folio
from .page_io import swap_read_folio_sync
from .pgtable import SWP_TYPE_SHIFT, VP_CPU, VP_FAULT_MAJOR
from .rmap import page_mapping, unmap_mapping_pages
from .swap import folio_add_lru, folio_put
from .swap_state import read_swap_cache_async, swap_cache_get_folio
from .swapfile import (__swap_cache_add_folio, __swap_cache_del_folio, free_swap_and_cache, get_nr_swap_pages,
                       swap_free, swap_info_get, swap_slot)
from .workingset import workingset_refault
from .truncate import LLONG_MAX, truncate_inode_pages_range
from .util import security_vm_enough_memory_mm

# the tmpfs ``huge=`` mount option (``shmem_sb_info.huge``)
SHMEM_HUGE_NEVER, SHMEM_HUGE_ALWAYS, SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE = "never", "always", "within_size", "advise"
SHMEM_HUGE_OPTIONS = (SHMEM_HUGE_NEVER, SHMEM_HUGE_ALWAYS, SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE)
MAYBE_PMD_ORDER = 1 << HPAGE_PMD_ORDER  # as orders bitmasks: BIT(order)
THP_ORDERS_ALL_FILE_DEFAULT = ((1 << (MAX_PAGECACHE_ORDER + 1)) - 1) & ~1  # orders 1 .. MAX_PAGECACHE_ORDER


def shmem_get_orders_within_size(inode, orders: int, index: int, write_end: int) -> int:
    """The orders of ``orders``, from the highest, whose folio around ``index`` would lie
    within the file's size (or the write's end): that order and the smaller ones; 0 if none."""
    size_pages = -(-max(write_end, inode.i_size) >> PAGE_SHIFT)
    for order in range(orders.bit_length() - 1, 0, -1):
        if orders & (1 << order) and size_pages >= -(-(index + 1) >> order) << order:
            return orders & ((2 << order) - 1)
    return 0


def shmem_huge_global_enabled(inode, index: int, write_end: int, vma) -> int:
    """``shmem_huge_global_enabled``: the folio orders the mount's ``huge=`` allows (a
    bitmask): with a VMA (a fault) the PMD order; from write() or fallocate every order up to
    PMD for ``always``, those within the size for ``within_size``; ``advise`` only for a
    VM_HUGEPAGE VMA; ``never`` none."""
    huge = inode.i_sb.huge
    if huge == SHMEM_HUGE_ALWAYS:
        return MAYBE_PMD_ORDER if vma is not None else THP_ORDERS_ALL_FILE_DEFAULT
    if huge == SHMEM_HUGE_WITHIN_SIZE:
        orders = shmem_get_orders_within_size(inode, MAYBE_PMD_ORDER if vma is not None else THP_ORDERS_ALL_FILE_DEFAULT,
                                              index, write_end)
        if orders:
            return orders
    if huge in (SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE) and vma is not None and vma.vm_flags & VM_HUGEPAGE:
        return MAYBE_PMD_ORDER
    return 0


def shmem_suitable_orders(k, inode, index: int, orders: int, vma) -> list[int]:
    """``shmem_suitable_orders``: the orders to try, highest first, from the highest whose
    aligned range holds nothing in the cache yet; a fault's order must also fit its VMA
    (``thp_vma_suitable_order``: the huge page inside it, aligned in the file as in memory)."""
    out = []
    for order in range(orders.bit_length() - 1, 0, -1):
        nr = 1 << order
        aligned = index & -nr
        if not orders & nr or out == [] and FM.filemap_folios(k, inode.i_mapping, aligned, aligned + nr - 1):
            continue
        if vma is not None:
            start = vma.vm_start + ((aligned - vma.vm_pgoff) << PAGE_SHIFT)
            if (vma.vm_start >> PAGE_SHIFT) - vma.vm_pgoff & (nr - 1) or start < vma.vm_start \
                    or start + (nr << PAGE_SHIFT) > vma.vm_end:
                continue
        out.append(order)
    return out


def shmem_acct_blocks(k, inode, pages: int) -> bool:
    """``shmem_acct_blocks``: a VM_NORESERVE object charges ``pages`` to Committed_AS as they
    are allocated (``current``'s overcommit check; none from outside any task); False if refused."""
    if not inode.shmem_flags & VM_NORESERVE:
        return True
    task = k.current
    if task is not None and not security_vm_enough_memory_mm(k, task.mm, pages, task):
        return False
    k.vm_committed_as += pages
    return True


def shmem_unacct_blocks(k, inode, pages: int) -> None:
    if inode.shmem_flags & VM_NORESERVE:
        k.vm_committed_as -= pages


def shmem_inode_acct_blocks(k, inode, pages: int) -> None:
    """Charge ``pages`` to Committed_AS (``shmem_acct_blocks``) and to the filesystem's
    ``size=`` limit; ENOSPC if either refuses (so a fault gets SIGBUS, not an OOM kill)."""
    sb = inode.i_sb
    if not shmem_acct_blocks(k, inode, pages):
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: cannot commit {pages} more pages (overcommit)")
    if sb.max_blocks >= 0 and sb.used_blocks + pages > sb.max_blocks:
        shmem_unacct_blocks(k, inode, pages)
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: no space left on device")
    sb.used_blocks += pages


def shmem_inode_unacct_blocks(k, inode, pages: int) -> None:
    inode.i_sb.used_blocks -= pages
    shmem_unacct_blocks(k, inode, pages)


def shmem_get_folio(k, inode, index: int, write_end: int = 0, vma=None) -> int:
    """``shmem_get_folio_gfp``: the head of the folio caching ``index``, read back from swap
    if it was swapped out (``shmem_swapin_folio``), else allocated zeroed and up to date and
    added to the page cache (which holds its references) if there is none:
    of the largest order ``huge=`` allows there (``shmem_allowable_huge_orders``; a write
    passes its end, a fault its VMA) that is free in the cache, can be charged to ``size=``
    and allocated, else order 0."""
    mapping = inode.i_mapping
    entry = FM.filemap_get_entry(k, mapping, index)
    if X.xa_is_folio(entry):
        return int(X.xa_to_folio(entry))
    if X.xa_is_value(entry):
        return shmem_swapin_folio(k, inode, index, int(X.xa_to_value(entry)), vma is not None)
    for order in shmem_suitable_orders(k, inode, index, shmem_huge_global_enabled(inode, index, write_end, vma), vma):
        pfn = shmem_alloc_and_add_folio(k, inode, index & -(1 << order), order)
        if pfn >= 0:
            return pfn
    pfn = shmem_alloc_and_add_folio(k, inode, index, 0)
    if pfn < 0:
        raise KernelError(errno.ENOMEM, "shmem: no memory for a page")
    return pfn


def shmem_swapped(k, mapping) -> int:
    """``shmem_inode_info->swapped``: the file's pages in swap, which are its page cache's
    value entries (a shmem mapping holds no shadow entries)."""
    return int(k.page_cache.xa_nr_values[mapping.xa_id])


def shmem_recalc_inode(k, inode, alloced: int) -> None:
    """``shmem_recalc_inode``: ``alloced`` new pages are the file's; pages neither in its
    cache nor in swap any more (truncated, or hole pages reclaim dropped clean behind
    shmem's back) give their blocks back to ``size=``."""
    inode.alloced += alloced
    freed = inode.alloced - shmem_swapped(k, inode.i_mapping) - FM.mapping_nrpages(k, inode.i_mapping)
    if freed > 0:
        inode.alloced -= freed
        shmem_inode_unacct_blocks(k, inode, freed)


def shmem_swap_entry_order(k, mapping, index: int, value: int) -> int:
    """``xa_get_order`` of the swap entry ``value`` found at ``index``: the largest order
    whose aligned range around ``index`` holds it at both ends (the swap slots a file holds
    are its own, so no other entry holds that value)."""
    entry = X.xa_mk_value(value)
    for order in range(HPAGE_PMD_ORDER, 0, -1):
        first = index & -(1 << order)
        if (X.xa_load(k.page_cache, mapping.xa_id, first) == entry
                and X.xa_load(k.page_cache, mapping.xa_id, first + (1 << order) - 1) == entry):
            return order
    return 0


@njit(cache=True)
def xa_store_swap_pages(xa, xid, first, nr, entry):
    """Each of ``nr`` slots from ``first`` holds its own page's swap entry (the run from
    ``entry``): the order-0 entries a large one splits into."""
    for i in range(nr):
        X.xa_store(xa, xid, first + i, X.xa_mk_value(entry + i))


def shmem_split_large_entry(k, mapping, index: int, value: int, order: int) -> None:
    """``shmem_split_large_entry``: the large swap entry around ``index`` becomes order-0
    entries, each page's own (``xas_split``: the slots exist, no node is taken)."""
    k.page_cache = X.xa_reserve(k.page_cache)
    xa_store_swap_pages(k.page_cache, mapping.xa_id, index & -(1 << order), 1 << order, value)


def shmem_swapin_folio(k, inode, index: int, value: int, fault: bool) -> int:
    """``shmem_swapin_folio``: the folio of the swap entry ``value`` found at ``index`` (of
    order ``shmem_swap_entry_order``; the page's own entry is its offset into the run): found
    in the swap cache, or read in (no readahead here: the kernel's ``shmem_swapin_cluster``
    reads the slot's cluster neighbours too; a fault that read counts a major fault,
    PGMAJFAULT); a large entry on a SWP_SYNCHRONOUS_IO area (zram) is read whole
    (``shmem_swap_alloc_folio``), otherwise, read as the page's order-0 folio, split
    (``shmem_split_large_entry``). The folio, waited for, goes back into the page cache in
    the entry's place (``shmem_add_to_page_cache``), leaves the swap cache dirty, and the
    slots' references of the file go (``swap_free_nr``). ENOMEM if no page could be had."""
    mapping = inode.i_mapping
    order = shmem_swap_entry_order(k, mapping, index, value)
    entry = value + index - (index & -(1 << order))
    pfn = swap_cache_get_folio(k, entry)
    if pfn is None:
        si = swap_info_get(k, value)
        pfn = shmem_swap_alloc_folio(k, value, order) if order and si.flags & SWP_SYNCHRONOUS_IO else None
        if pfn is None:
            pfn = read_swap_cache_async(k, entry, False)
        if pfn is None:
            raise KernelError(errno.ENOMEM, "shmem: no memory to swap a page in")
        if fault:  # VM_FAULT_MAJOR
            k.vm_events[PGMAJFAULT] += 1
            k.vm_state.vp[VP_FAULT_MAJOR] = 1
    a, vs = k.mem_map, k.vm_state
    nr = folio_nr_pages(a, pfn)
    if order and nr < 1 << order:
        shmem_split_large_entry(k, mapping, index, value, order)
    FM.folio_wait_bit(k, pfn, PG_locked)
    FM.folio_wait_bit(k, pfn, PG_writeback)  # folio_wait_writeback: the swap write completes
    first = int(a.private[pfn])
    shmem_add_to_page_cache(k, mapping, pfn, index - (entry - first))
    __swap_cache_del_folio(a, vs, pfn, 0)  # delete_from_swap_cache
    a.refcount[pfn] -= nr  # the swap cache's references (the page cache holds its own)
    FM.folio_set(k, pfn, PG_dirty)  # folio_mark_dirty: swap holds no copy any more
    for i in range(nr):
        swap_free(a, vs, np.uint64(first + i))  # its cluster follows at the next allocation (sync_clusters)
    return pfn


def shmem_swap_alloc_folio(k, value: int, order: int) -> int | None:
    """``shmem_swap_alloc_folio`` of a large swap entry on a SWP_SYNCHRONOUS_IO area: a folio
    of its order (``vma_thp_gfp_mask``: no reclaim for it), charged to the memcg of its slots
    (``mem_cgroup_swapin_charge_folio``), cached for the run and read at once (the kernel
    reads it past the swap cache, SWAP_HAS_CACHE its pin; the counters end the same). None
    when a slot is cached or shared (``non_swapcache_batch``) or no folio or charge could be
    had: the caller reads the page's order-0 folio instead."""
    a, vs, nr = k.mem_map, k.vm_state, 1 << order
    slot = swap_slot(vs, np.uint64(value))
    if (vs.swap_map[slot:slot + nr] != 1).any():  # counts of one, no SWAP_HAS_CACHE
        return None
    pfn = FM.filemap_alloc_folio(k, G.GFP_TRANSHUGE_LIGHT, order)
    if pfn < 0:
        return None
    if mem_cgroup_swapin_charge_folio(k, pfn, slot, k.current, G.GFP_KERNEL):
        FM.folio_put(k, pfn)
        return None
    vs.swap_map[slot:slot + nr] |= SWAP_HAS_CACHE
    a.flags[pfn] |= PG_swapbacked_mask
    shadow = __swap_cache_add_folio(a, vs, pfn, np.uint64(value))
    if shadow:
        workingset_refault(a, pfn, shadow, 0, get_nr_swap_pages(k) > 0, nr)
    folio_add_lru(a, int(vs.vp[VP_CPU]), pfn)
    a.refcount[pfn] -= 1  # the allocation's reference: the cache and the LRU batch hold theirs
    for i in range(nr):
        swap_read_folio_sync(a, vs, pfn + i, slot + i)
    return pfn


def shmem_add_to_page_cache(k, mapping, pfn: int, index: int) -> None:
    """``shmem_add_to_page_cache`` of a folio read back from swap, in place of its swap entry
    from ``index``: the cache's references, ``mapping``/``index``, NR_FILE_PAGES, NR_SHMEM and
    NR_SHMEM_THPS (the folio is already charged and on the LRU)."""
    a = k.mem_map
    nr = folio_nr_pages(a, pfn)
    k.page_cache = X.xa_reserve(k.page_cache)
    X.xa_store_range(k.page_cache, mapping.xa_id, index, nr, X.xa_mk_folio(pfn))
    a.refcount[pfn] += nr
    a.mapping[pfn], a.index[pfn] = page_mapping(mapping), index
    FM.lruvec_stat_mod_folio(k, NR_FILE_PAGES, pfn, nr)
    FM.lruvec_stat_mod_folio(k, NR_SHMEM, pfn, nr)
    if nr >= HPAGE_PMD_NR:
        FM.lruvec_stat_mod_folio(k, NR_SHMEM_THPS, pfn, nr)


def shmem_swap_runs(k, mapping, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The swap entries of the PMD-aligned span around [first, last], each multi-index one
    whole (its slots hold the same value, and no other entry does): (first index, swap
    entry, pages) of each."""
    lo, hi = first & -HPAGE_PMD_NR, min(last | (HPAGE_PMD_NR - 1), LLONG_MAX >> PAGE_SHIFT)
    n = min(hi - lo + 1, shmem_swapped(k, mapping) + FM.mapping_nrpages(k, mapping))  # the gather takes folios too
    idx, ent = np.zeros(n, np.int64), np.zeros(n, np.int64)
    got = X.xa_gather(k.page_cache, mapping.xa_id, lo, hi, idx, ent)
    values = (ent[:got] & 1) == 1  # xa_is_value
    idx, ent = idx[:got][values], ent[:got][values]
    starts = np.flatnonzero(np.r_[True, ent[1:] != ent[:-1]]) if idx.size else np.zeros(0, np.int64)
    return idx[starts], ent[starts] >> 1, np.diff(np.r_[starts, idx.size])  # xa_to_value


def shmem_swap_entries(k, mapping, first: int, last: int) -> list[tuple[int, int]]:
    """(index, its page's swap entry) of every page of [first, last] in swap: a multi-index
    entry's pages hold the run from its entry, in index order."""
    if not shmem_swapped(k, mapping):
        return []
    index, entry, nr = shmem_swap_runs(k, mapping, first, last)
    offset = np.arange(int(nr.sum())) - np.repeat(np.cumsum(nr) - nr, nr)
    pages, entries = np.repeat(index, nr) + offset, np.repeat(entry, nr) + offset
    inside = (pages >= first) & (pages <= last)
    return list(zip(pages[inside].tolist(), entries[inside].tolist()))


def shmem_swap_usage(k, vma) -> int:
    """``shmem_swap_usage``: bytes of the VMA's part of its tmpfs file that are in swap
    (smaps' ``Swap:``; the kernel walks a private writable mapping's ptes instead, its
    copied-on-write pages hiding the file's: counted as a shared one here)."""
    mapping = vma.vm_file.f_mapping
    swapped = shmem_swapped(k, mapping)
    if not swapped:
        return 0
    if not vma.vm_pgoff and vma.vm_end - vma.vm_start >= mapping.host.i_size:
        return swapped << PAGE_SHIFT
    last = vma.vm_pgoff + ((vma.vm_end - vma.vm_start) >> PAGE_SHIFT) - 1
    return len(shmem_swap_entries(k, mapping, vma.vm_pgoff, last)) << PAGE_SHIFT  # shmem_partial_swap_usage


def shmem_free_swap(k, mapping, index: int, entry: int) -> None:
    """``shmem_free_swap``: the swap entry leaves the file's cache, its slot reference goes
    (``free_swap_and_cache_nr``: a folio still cached for it and unmapped leaves the swap cache)."""
    X.xa_erase(k.page_cache, mapping.xa_id, index)
    free_swap_and_cache(k.mem_map, k.vm_state, np.uint64(entry))


def shmem_unuse(k, type_: int) -> None:
    """``shmem_unuse`` (swapoff): every swap entry of area ``type_`` held by a tmpfs file
    comes back into its page cache."""
    for mapping in list(k.rmap.address_spaces.values()):
        if mapping.swapbacked and mapping.xa_id >= 0:
            for index, entry in shmem_swap_entries(k, mapping, 0, LLONG_MAX >> PAGE_SHIFT):
                value = FM.filemap_get_entry(k, mapping, index)  # a large one came back whole
                if entry >> SWP_TYPE_SHIFT == type_ and X.xa_is_value(value):
                    shmem_swapin_folio(k, mapping.host, index, int(X.xa_to_value(value)), False)


def shmem_folio_crosses_eof(k, pfn: int) -> bool:
    """``shmem_writeout``'s split rule: a large folio the file's end (``shmem_fallocend``;
    no fallocate in progress here) cuts, whose swap entry would outlive the truncation."""
    a = k.mem_map
    inode = k.rmap.address_spaces[int(a.mapping[pfn]) >> 1].host
    end, index = -(-inode.i_size >> PAGE_SHIFT), int(a.index[pfn])
    return index < end < index + (1 << int(a.order[pfn]))


def shmem_writeout_split(k, pfns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``shmem_writeout``'s try_split of the isolated, dirty, unmapped large folios ``pfns``
    (no run of their order, or crossing EOF): each is split to order 0, its pages staying
    isolated for reclaim's list (``split_folio_to_list``: the kernel's list takes them), a
    PMD-size one counting THP_SWPOUT_FALLBACK globally and in its memcg; the pages past EOF
    the split drops from the cache are freed here. Returns (the pages to reclaim, the folios
    that would not split: redirtied, for ``activate_locked``)."""
    a, cpu = k.mem_map, int(k.vm_state.vp[VP_CPU])
    pieces, failed = [], []
    for pfn in pfns.tolist():
        order, nid = int(a.order[pfn]), int(a.zone_node[B.page_zone(a, pfn)])
        if mapping_folio_split(k, pfn, 0, pfn, True, np.zeros((1 << order) - 1, np.int64)):
            failed.append(pfn)
            continue
        if order >= HPAGE_PMD_ORDER:
            count_memcg_folio_events(a, pfn, THP_SWPOUT_FALLBACK, 1)
            k.vm_events[THP_SWPOUT_FALLBACK] += 1
        for page in range(pfn, pfn + (1 << order)):
            if a.mapping[page]:
                pieces.append(page)
            else:  # past EOF: out of the cache, only the list's reference left
                a.node_stat[nid, NR_ISOLATED_ANON] -= 1
                folio_put(a, page, cpu)
    return np.array(pieces, np.int64), np.array(failed, np.int64)


def shmem_uncharge(k, inode, pages: int) -> None:
    """``shmem_uncharge``: ``pages`` left the page cache behind shmem's back (a split dropped
    the new folios past EOF): their blocks go back (``shmem_recalc_inode``)."""
    shmem_recalc_inode(k, inode, 0)


def shmem_init(k) -> None:
    """``shmem_init``: swapoff reaches tmpfs pages through ``shmem_unuse`` (registered on the
    swap globals: the swap layer sits below shmem), a folio split ``shmem_uncharge`` (on the
    kernel: ``mm/huge_memory.py`` sits below shmem too)."""
    k.swap.shmem_unuse = shmem_unuse
    k.shmem_uncharge = shmem_uncharge


def shmem_alloc_and_add_folio(k, inode, index: int, order: int) -> int:
    """``shmem_alloc_and_add_folio``: a zeroed folio of ``order`` at ``index`` (aligned), its
    pages charged (``shmem_inode_acct_blocks``: ENOSPC for order 0; a large one that cannot
    be charged is -1, as when the allocation fails, and the caller tries order 0)."""
    nr = 1 << order
    try:
        shmem_inode_acct_blocks(k, inode, nr)
    except KernelError:
        if not order:
            raise
        return -1
    gfp = G.GFP_HIGHUSER_MOVABLE | (G.__GFP_NORETRY | G.__GFP_NOWARN if order else 0)
    pfn = FM.filemap_alloc_folio(k, gfp, order)
    if pfn < 0:
        shmem_inode_unacct_blocks(k, inode, nr)
        return -1
    if order == HPAGE_PMD_ORDER:
        k.vm_events[THP_FILE_ALLOC] += 1
    FM.filemap_add_folio(k, inode.i_mapping, pfn, index, G.GFP_HIGHUSER_MOVABLE)
    shmem_recalc_inode(k, inode, nr)
    FM.folio_end_read(k, pfn, True)  # zeroed: up to date, unlocked
    FM.folio_put(k, pfn)
    return pfn


def shmem_undo_range(k, inode, lstart: int, lend: int) -> None:
    """``shmem_undo_range``: the folios of bytes [lstart, lend] (-1: to the end) leave the
    cache, partial pages zeroed (read back from swap first and marked dirty; a large folio is
    split, ``truncate_inode_partial_folio``), the swap entries of the pages wholly inside are
    freed (``shmem_free_swap``), and their blocks are given back."""
    mapping = inode.i_mapping
    lend = LLONG_MAX if lend < 0 else lend
    start, end = -(-lstart >> PAGE_SHIFT), (lend + 1) >> PAGE_SHIFT  # whole pages [start, end)
    for partial in {lstart >> PAGE_SHIFT if start << PAGE_SHIFT != lstart else -1,
                    lend >> PAGE_SHIFT if end << PAGE_SHIFT != lend + 1 else -1} - {-1}:
        if FM.filemap_get_entry(k, mapping, partial):  # shmem_get_partial_folio
            # dirty, so that a large one the truncation cannot split is kept, not dropped
            FM.folio_mark_dirty(k, mapping, shmem_get_folio(k, inode, partial))
    for border in (start, end - 1):  # a large swap entry crossing the range comes back to be split
        value = FM.filemap_get_entry(k, mapping, border) if start < end else 0
        if X.xa_is_value(value):
            order = shmem_swap_entry_order(k, mapping, border, int(X.xa_to_value(value)))
            if border & -(1 << order) < start or border | ((1 << order) - 1) >= end:
                FM.folio_mark_dirty(k, mapping, shmem_get_folio(k, inode, border))
    for index, entry in shmem_swap_entries(k, mapping, start, end - 1):
        shmem_free_swap(k, mapping, index, entry)
    truncate_inode_pages_range(k, mapping, lstart, lend)
    shmem_recalc_inode(k, inode, 0)


def shmem_truncate_range(k, mapping, lstart: int, lend: int) -> None:
    """``shmem_truncate_range``: drop bytes [lstart, lend] of the object (after their ptes)."""
    shmem_undo_range(k, mapping.host, lstart, lend)


def shmem_evict_inode(k, inode) -> None:
    """``shmem_evict_inode``: the pages go, the size charge is returned (``shmem_unacct_size``)."""
    shmem_undo_range(k, inode, 0, -1)
    k.vm_committed_as -= inode.committed_pages
    inode.committed_pages = 0


# ---- file and address_space operations ------------------------------------------------------

def shmem_read_folios(k, mapping, pfns: list[int]) -> None:
    """A shmem folio is zeroed when it is allocated: nothing to read."""
    for pfn in pfns:
        FM.folio_end_read(k, pfn, True)


def shmem_write_begin(k, filp, pos: int, nbytes: int) -> int:
    """``shmem_write_begin``: ``shmem_get_folio(SGP_WRITE)``, locked, with the caller's reference."""
    pfn = shmem_get_folio(k, filp.f_inode, pos >> PAGE_SHIFT, pos + nbytes)
    k.mem_map.refcount[pfn] += 1
    FM.folio_lock(k, pfn)
    return pfn


def shmem_writepages(k, mapping, first: int, last: int) -> None:
    """tmpfs has no backing store to write to (swap is reclaim's business)."""


def shmem_file_read_iter(k, filp, pos: int, count: int) -> tuple[int, np.ndarray]:
    """``shmem_file_read_iter``: cached pages are copied out, holes read as zeros (the zero
    page) without entering the cache; stops at ``i_size``."""
    inode = filp.f_inode
    count = min(count, max(inode.i_size - pos, 0))
    out, done = [], 0
    while done < count:
        index = (pos + done) >> PAGE_SHIFT
        end = min(pos + count, (index + 1) << PAGE_SHIFT)
        first = (pos + done - (index << PAGE_SHIFT)) >> FM.LINE_SHIFT
        if out and (pos + done) & ((1 << FM.LINE_SHIFT) - 1):
            first += 1
        last = (end - 1 - (index << PAGE_SHIFT)) >> FM.LINE_SHIFT
        pfn = shmem_get_folio_read(k, inode, index)
        if last >= first:
            page = pfn + index - int(k.mem_map.index[pfn]) if pfn >= 0 else -1
            out.append(FM.folio_read_lines(k, page, first, last - first + 1) if pfn >= 0
                       else np.zeros(last - first + 1, np.uint8))
        done = end - pos
    filp.f_ra.prev_pos = pos + done
    return done, (np.concatenate(out) if out else np.zeros(0, np.uint8))


def shmem_get_folio_read(k, inode, index: int) -> int:
    """``shmem_get_folio(SGP_READ)``: the cached folio (read back from swap if it is there),
    or -1 for a hole, which nothing fills."""
    return shmem_get_folio(k, inode, index) if FM.filemap_get_entry(k, inode.i_mapping, index) else -1


def shmem_file_write_iter(k, filp, pos: int, count: int, value: int) -> int:
    return FM.generic_perform_write(k, filp, pos, count, value)


def noop_fsync(k, filp, start: int, end: int, datasync: bool) -> None:
    """tmpfs: nothing to sync."""


shmem_aops = address_space_operations(
    read_folios=shmem_read_folios, write_begin=shmem_write_begin, write_end=FM.generic_write_end,
    dirty_folio=FM.noop_dirty_folio, writepages=shmem_writepages, swapbacked=True)
def shmem_fallocate(k, filp, mode: int, offset: int, length: int) -> None:
    """``shmem_fallocate``: PUNCH_HOLE|KEEP_SIZE unmaps the pages wholly inside the range and
    drops them (partial pages zeroed: ``shmem_truncate_range``); mode 0 or KEEP_SIZE allocates
    the range's missing pages (ENOSPC, with nothing allocated, past ``size=``) and, without
    KEEP_SIZE, extends ``i_size``. Other modes are EOPNOTSUPP."""
    inode = filp.f_inode
    if mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE):
        raise KernelError(errno.EOPNOTSUPP, f"tmpfs fallocate: mode {mode:#x} is not supported")
    if mode & FALLOC_FL_PUNCH_HOLE:
        unmap_start, unmap_end = -(-offset >> PAGE_SHIFT), (offset + length) >> PAGE_SHIFT
        if unmap_end > unmap_start:
            unmap_mapping_pages(inode.i_mapping, unmap_start, unmap_end - 1)
        shmem_truncate_range(k, inode.i_mapping, offset, offset + length - 1)
        return
    first, end = offset >> PAGE_SHIFT, (offset + length + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    missing = [i for i in range(first, end) if not FM.filemap_get_entry(k, inode.i_mapping, i)]  # swapped: allocated
    sb = inode.i_sb
    if sb.max_blocks >= 0 and sb.used_blocks + len(missing) > sb.max_blocks:
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: no space left on device")
    for index in missing:
        if not FM.filemap_get_entry(k, inode.i_mapping, index):  # not in a large folio added meanwhile
            shmem_get_folio(k, inode, index, offset + length)
    if not mode & FALLOC_FL_KEEP_SIZE and offset + length > inode.i_size:
        i_size_write(inode, offset + length)


shmem_file_operations = file_operations(read_iter=shmem_file_read_iter, write_iter=shmem_file_write_iter,
                                        fsync=noop_fsync, fallocate=shmem_fallocate,
                                        read_cached=FM.filemap_read_batch)


# ---- faults ---------------------------------------------------------------------------------

def shmem_fault(k, task, addr: int) -> bool:
    """``shmem_fault`` for a page the compiled fault path found missing: the page is
    allocated zeroed into the page cache (``shmem_get_folio``; no I/O, never a major fault),
    and the retried access maps it with its neighbours. False (VM_FAULT_SIGBUS) at or beyond
    the end of the object, as in a shared mapping grown by mremap."""
    vma, index = FM.fault_vma(task, addr)
    inode = vma.vm_file.f_inode
    if index >= -(-inode.i_size >> PAGE_SHIFT):
        return False
    shmem_get_folio(k, inode, index, vma=vma)
    return True


def shmem_file_setup(k, name: str, size: int, flags: int):
    """``__shmem_file_setup(shm_mnt, name, size, flags)``: an unlinked file of the internal
    mount (``/proc/PID/maps`` shows ``/NAME (deleted)``), opened read-write, with the
    caller's reference. Without VM_NORESERVE in ``flags`` its size is charged (by the caller,
    ``shmem_acct_size``) and returned when it is evicted; with it, each page as it comes."""
    from ..fs.file_table import alloc_file
    from ..fs.inode import new_inode
    from ..include.linux.fs import FMODE_READ, FMODE_WRITE, O_RDWR, S_IFREG

    ino = new_inode(k, k.shm_mnt, S_IFREG | 0o777, f"/{name} (deleted)")
    ino.i_nlink, ino.i_size, ino.committed_pages, ino.shmem_flags = 0, size, shmem_acct_size(flags, size), flags & VM_NORESERVE
    return alloc_file(k, ino, O_RDWR, FMODE_READ | FMODE_WRITE)


def shmem_kernel_file_setup(k, size: int, flags: int):
    """``shmem_kernel_file_setup("dev/zero", size, flags)``: the object of a shared anonymous
    mapping. The file starts with no reference (the VMA takes one)."""
    f = shmem_file_setup(k, "dev/zero", size, flags)
    f.f_count = 0
    return f
