"""The page cache (``mm/filemap.c``), Linux 6.18: finding, adding and removing folios, the
buffered read and write loops, and the folio state bits the cache keeps.

A mapping's folios live in its xarray (``lib/xarray.py``, one pool per machine:
``k.page_cache``), indexed by page offset; every slot of a large folio holds the head's entry.
The cache holds one reference per page of a folio (``filemap_add_folio``: ``folio_ref_add(nr)``),
and the folio's ``mapping``/``index`` columns point back at it.

* lookup: ``filemap_get_entry``, ``filemap_get_folio``, ``__filemap_get_folio`` (FGP_CREAT
  allocates a folio of the order the flags ask for, limited by ``mapping_max_folio_order`` and
  the alignment of the index, trying smaller orders when the allocation or the insertion fails);
* insertion and removal: ``filemap_alloc_folio``, ``filemap_add_folio`` (``__filemap_add_folio``:
  NR_FILE_PAGES, NR_SHMEM, NR_FILE_THPS/NR_SHMEM_THPS), ``filemap_remove_folio``;
* state: ``folio_mark_uptodate``, ``folio_mark_dirty`` (through the mapping's ``dirty_folio``:
  ``filemap_dirty_folio`` accounts NR_FILE_DIRTY, NR_ZONE_WRITE_PENDING and NR_DIRTIED),
  ``folio_clear_dirty_for_io``, ``folio_start_writeback``, ``folio_end_writeback``
  (NR_WRITEBACK, NR_ZONE_WRITE_PENDING, NR_WRITTEN) — the folio
  half of ``mm/page-writeback.c``, kept here next to the cache they act on;
* ``filemap_read`` (``filemap_get_pages``: the batch of cached folios, ``page_cache_sync_ra`` /
  ``page_cache_async_ra`` on a miss or a PG_readahead folio, then copying out) and
  ``generic_perform_write`` (chunks of ``mapping_max_folio_size``, each through the
  filesystem's ``write_begin``/``write_end``);
* ``filemap_write_and_wait_range`` (``filemap_fdatawrite_range`` -> the filesystem's
  ``writepages``, then ``filemap_fdatawait_range``).

Contents follow the memory model (one byte per 64-byte line): a write stores its byte in every
line it touches, a read returns one byte per line it covers. Locking (PG_locked), the LRU
lists are not modelled here; the memcg charge is ``mm/memcontrol.py``'s ``mem_cgroup_charge``.
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..errors import KernelError, LinuxmmError
from ..fs.fs_writeback import __mark_inode_dirty, inode_to_wb
from ..include.linux import gfp as G
from ..include.linux.backing_dev import WB_DIRTIED, WB_RECLAIMABLE, WB_WRITEBACK, WB_WRITTEN
from ..include.linux.fs import i_size_write
from ..include.linux.huge_mm import HPAGE_PMD_ORDER
from ..include.linux.mm_types import MMC_MEMCG, PAGE_SHIFT, PAGE_SIZE, vma_pages
from ..include.linux.page_flags import (PG_dirty, PG_large_rmappable, PG_locked, PG_readahead, PG_reclaim,
                                        PG_referenced, PG_swapbacked,
                                        PG_uptodate, PG_workingset, PG_writeback)
from ..kernel.sched.psi import io_schedule, psi_memstall
from ..include.linux.pagemap import FGF_GET_ORDER, FGP_ACCESSED, FGP_CREAT, FGP_FOR_MMAP, FGP_LOCK, readahead_control
from ..include.linux.vmstat import (NR_DIRTIED, NR_FILE_DIRTY, NR_FILE_PAGES, NR_FILE_THPS, NR_SHMEM, NR_SHMEM_THPS,
                                    NR_WRITEBACK, NR_WRITTEN, NR_ZONE_WRITE_PENDING)
from ..lib import xarray as X
from . import buddy as B
from . import page_alloc as pa
from . import swap, workingset
from .memcontrol import mem_cgroup_charge, mem_cgroup_uncharge
from .page_writeback import balance_dirty_pages_ratelimited
from .pgtable import VP_CPU
from .rmap import folio_mkclean, page_mapping

HUNG_TASK_TIMEOUT_NS = 120 * 10**9
LINE_SHIFT = 6  # one content byte per 64-byte line (buddy.CONTENT_LINES per page)
LINES_PER_PAGE = PAGE_SIZE >> LINE_SHIFT


def _bit(flag: int) -> np.uint64:
    return np.uint64(1 << flag)


# ---- folios and counters ----------------------------------------------------------------------

def folio_nr_pages(k, pfn: int) -> int:
    return 1 << int(k.mem_map.order[pfn])


def folio_test(k, pfn: int, flag: int) -> bool:
    return bool(k.mem_map.flags[pfn] & _bit(flag))


def folio_set(k, pfn: int, flag: int) -> None:
    k.mem_map.flags[pfn] |= _bit(flag)


def folio_clear(k, pfn: int, flag: int) -> None:
    k.mem_map.flags[pfn] &= ~_bit(flag)


def node_stat_mod_folio(k, item: int, pfn: int, nr: int) -> None:
    """``node_stat_mod_folio``: the counter ``item`` (enum node_stat_item) of the folio's node."""
    a = k.mem_map
    k.NODE_DATA(int(a.zone_node[B.page_zone(a, pfn)])).vm_stat.row[item] += nr


def lruvec_stat_mod_folio(k, item: int, pfn: int, nr: int) -> None:
    """``lruvec_stat_mod_folio``: the node's counter and, for a folio charged to a memcg, the
    memcg's (what memory.stat shows)."""
    node_stat_mod_folio(k, item, pfn, nr)
    memcg = int(k.mem_map.memcg[pfn])
    if memcg:
        k.mem_map.memcg_stat[memcg, item] += nr


def zone_stat_mod_folio(k, item: int, pfn: int, nr: int) -> None:
    """``zone_stat_mod_folio``: the counter ``item`` (enum zone_stat_item) of the folio's zone."""
    a = k.mem_map
    a.vm_stat[B.page_zone(a, pfn), item] += nr


def mapping_nrpages(k, mapping) -> int:
    """``mapping->nrpages``: pages of the folios in the cache."""
    return int(k.page_cache.xa_nr_folio_slots[mapping.xa_id])


def mapping_max_folio_size(mapping) -> int:
    return PAGE_SIZE << mapping.max_order


# ---- lookup -----------------------------------------------------------------------------------

def filemap_get_entry(k, mapping, index: int) -> int:
    """The raw xarray entry at ``index``: 0, a folio (``xa_mk_folio``) or a shadow value."""
    return int(X.xa_load(k.page_cache, mapping.xa_id, index))


def filemap_get_folio(k, mapping, index: int) -> int:
    """The head pfn of the folio caching page ``index``, or -1 (the kernel's -ENOENT). No
    reference is taken (the kernel's lookup takes one so that nothing frees the folio under
    its caller; here nothing runs concurrently)."""
    entry = filemap_get_entry(k, mapping, index)
    return int(X.xa_to_folio(entry)) if X.xa_is_folio(entry) else -1


def __filemap_get_folio(k, mapping, index: int, fgp_flags: int, gfp: int) -> int:
    """``__filemap_get_folio``: the cached folio, or with FGP_CREAT a new one added at ``index``.

    The new folio's order is the one ``fgp_flags`` asks for (``fgf_set_order``), at most
    ``mapping_max_folio_order`` and at most the alignment of ``index`` (``__ffs(index)``); if
    its allocation or insertion fails (a smaller folio is cached inside its range: -EEXIST)
    the next smaller order is tried. The folio comes with a reference for the caller (drop
    it with ``folio_put``), locked with FGP_LOCK (a new one is locked unless FGP_FOR_MMAP);
    FGP_ACCESSED marks a cached one accessed and a new one PG_referenced.
    Returns -1 without FGP_CREAT when nothing is cached; raises ENOMEM when not even an
    order-0 folio could be allocated."""
    pfn = filemap_get_folio(k, mapping, index)
    if pfn >= 0:
        return folio_get_found(k, pfn, fgp_flags)
    if not fgp_flags & FGP_CREAT:
        return -1
    order = min(max(mapping.min_order, FGF_GET_ORDER(fgp_flags)), mapping.max_order)
    if index & ((1 << order) - 1):
        order = (index & -index).bit_length() - 1  # __ffs(index)
    while order >= mapping.min_order:
        alloc_gfp = gfp | (G.__GFP_NORETRY | G.__GFP_NOWARN if order > mapping.min_order else 0)
        pfn = filemap_alloc_folio(k, alloc_gfp, order)
        if pfn >= 0:
            aligned = index & ~((1 << order) - 1)
            if filemap_add_folio(k, mapping, pfn, aligned, gfp) == 0:
                if fgp_flags & FGP_ACCESSED:
                    folio_set(k, pfn, PG_referenced)
                if fgp_flags & FGP_FOR_MMAP:
                    folio_unlock(k, pfn)
                return pfn
            folio_put(k, pfn)
        order -= 1
    pfn = filemap_get_folio(k, mapping, index)  # -EEXIST at order 0: someone else's folio
    if pfn < 0:
        raise KernelError(errno.ENOMEM, "page cache: no memory for a folio")
    return folio_get_found(k, pfn, fgp_flags)


def folio_get_found(k, pfn: int, fgp_flags: int) -> int:
    """``__filemap_get_folio`` on a cached folio: a reference, the lock with FGP_LOCK, and
    ``folio_mark_accessed`` with FGP_ACCESSED."""
    k.mem_map.refcount[pfn] += 1
    if fgp_flags & FGP_LOCK:
        folio_lock(k, pfn)
    if fgp_flags & FGP_ACCESSED:
        swap.folio_mark_accessed(k.mem_map, k.vm_state.vp[VP_CPU], pfn)
    return pfn


def filemap_folios(k, mapping, first: int, last: int) -> list[tuple[int, int]]:
    """(index, head pfn) of every folio with a page in [first, last], in index order (the
    kernel's ``find_get_entries``/``filemap_get_folios``); shadow entries are skipped."""
    xa = k.page_cache
    n = min(last - first + 1, int(xa.xa_nr_folio_slots[mapping.xa_id] + xa.xa_nr_values[mapping.xa_id]))
    if n <= 0:
        return []
    idx, ent = np.zeros(n, np.int64), np.zeros(n, np.int64)
    got = X.xa_gather(xa, mapping.xa_id, first, last, idx, ent)
    out, seen = [], -1
    for index, entry in zip(idx[:got].tolist(), ent[:got].tolist()):
        if entry & 1 or entry == seen:
            continue
        seen = entry
        pfn = entry >> 1
        out.append((int(k.mem_map.index[pfn]), pfn))
    return out


# ---- insertion and removal --------------------------------------------------------------------

def filemap_alloc_folio(k, gfp: int, order: int) -> int:
    """``filemap_alloc_folio``: a new folio (one reference, reads as zeros) or -1; a large
    one is rmappable (``folio_alloc``: PG_large_rmappable, kpageflags' KPF_THP)."""
    pfn = pa.alloc_pages(k, gfp | (G.__GFP_COMP if order else 0), order)
    if pfn is None:
        return -1
    if order:
        k.mem_map.flags[pfn + 1] |= _bit(PG_large_rmappable)
    k.mem_map.content_valid[pfn:pfn + (1 << order)] = 0
    return pfn


def filemap_add_folio(k, mapping, pfn: int, index: int, gfp: int) -> int:
    """``filemap_add_folio``: lock the folio, insert it at ``index`` (aligned to its size) and
    take the cache's references; 0, or -EEXIST when a folio already caches a page of its range (shadow
    entries are overwritten). Counts NR_FILE_PAGES (and NR_SHMEM for shmem, as
    ``shmem_add_to_page_cache`` does), and a PMD-sized folio in NR_FILE_THPS/NR_SHMEM_THPS.
    A shadow entry found in the range is a refault (``workingset_refault``, unless the folio is
    for a write: __GFP_WRITE); then the folio goes to the LRU (``folio_add_lru``: the inactive
    list, or the active one when the refault activated it). The folio is charged to the
    current task's memcg first (``mem_cgroup_charge``: -ENOMEM if it cannot be; uncharged again
    on -EEXIST), so its counters count in the memcg too (``lruvec_stat_mod_folio``)."""
    a, nr = k.mem_map, folio_nr_pages(k, pfn)
    err = mem_cgroup_charge(k, pfn, k.current, gfp)
    if err:
        return err
    xa, shadow = k.page_cache, 0
    first = X.xa_find(xa, mapping.xa_id, index, index + nr - 1)
    while first >= 0:
        shadow = X.xa_load(xa, mapping.xa_id, first)
        if X.xa_is_folio(shadow):
            mem_cgroup_uncharge(a, pfn)
            return -errno.EEXIST
        first = X.xa_find(xa, mapping.xa_id, first + 1, index + nr - 1) if first < index + nr - 1 else -1
    k.page_cache = xa = X.xa_reserve(xa)
    X.xa_store_range(xa, mapping.xa_id, index, nr, X.xa_mk_folio(pfn))
    folio_set(k, pfn, PG_locked)
    a.refcount[pfn] += nr
    a.mapping[pfn], a.index[pfn] = page_mapping(mapping), index
    lruvec_stat_mod_folio(k, NR_FILE_PAGES, pfn, nr)
    if mapping.swapbacked:
        folio_set(k, pfn, PG_swapbacked)
        lruvec_stat_mod_folio(k, NR_SHMEM, pfn, nr)
    if a.order[pfn] == HPAGE_PMD_ORDER:
        lruvec_stat_mod_folio(k, NR_SHMEM_THPS if mapping.swapbacked else NR_FILE_THPS, pfn, nr)
    if shadow and not gfp & G.__GFP_WRITE:
        workingset.workingset_refault(a, pfn, shadow, not mapping.swapbacked, k.nr_swap_pages > 0, nr)
    swap.folio_add_lru(a, k.vm_state.vp[VP_CPU], pfn)
    return 0


def folio_put(k, pfn: int) -> None:
    """Drop one reference; the last takes the folio off its LRU list and frees it (``folio_put``)."""
    swap.folio_put(k.mem_map, pfn, k.vm_state.vp[VP_CPU])


def filemap_remove_folio(k, mapping, pfn: int) -> None:
    """``filemap_remove_folio``: take a clean, unmapped folio out of the cache
    (``__filemap_remove_folio`` -> ``page_cache_delete``: its slots emptied, counters down,
    ``folio->mapping`` cleared) and drop the cache's references (``filemap_free_folio``)."""
    a, nr = k.mem_map, folio_nr_pages(k, pfn)
    index, xa = int(a.index[pfn]), k.page_cache
    for i in range(index, index + nr):
        X.xa_erase(xa, mapping.xa_id, i)
    lruvec_stat_mod_folio(k, NR_FILE_PAGES, pfn, -nr)
    if mapping.swapbacked:
        lruvec_stat_mod_folio(k, NR_SHMEM, pfn, -nr)
    if a.order[pfn] == HPAGE_PMD_ORDER:
        lruvec_stat_mod_folio(k, NR_SHMEM_THPS if mapping.swapbacked else NR_FILE_THPS, pfn, -nr)
    a.mapping[pfn] = 0
    a.refcount[pfn] -= nr - 1
    folio_put(k, pfn)


# ---- folio state (PG_uptodate, PG_dirty, PG_writeback) ----------------------------------------

def folio_mark_uptodate(k, pfn: int) -> None:
    folio_set(k, pfn, PG_uptodate)


def folio_lock(k, pfn: int) -> None:
    """``folio_lock``: wait until nobody holds PG_locked (a read in flight), then take it."""
    folio_wait_bit(k, pfn, PG_locked)
    folio_set(k, pfn, PG_locked)


def folio_unlock(k, pfn: int) -> None:
    folio_clear(k, pfn, PG_locked)


def folio_end_read(k, pfn: int, success: bool) -> None:
    """``folio_end_read``: the read into a locked folio completed: up to date if it worked,
    and unlocked (which wakes whoever waits for it)."""
    if success:
        folio_mark_uptodate(k, pfn)
    folio_unlock(k, pfn)


def folio_wait_bit(k, pfn: int, flag: int) -> None:
    """``folio_wait_bit``: let simulated time pass until ``flag`` (PG_locked, PG_writeback) is
    clear: the I/O that holds it completes as an event on the clock once block I/O takes time.
    A wait longer than the hung-task detector's 120 s (``hung_task_timeout_secs``) is a
    simulator bug (nothing will clear the bit): it raises instead of waiting forever.
    ``current`` sleeps in iowait meanwhile; waiting for a workingset folio's read (a refault:
    locked, not up to date, PG_workingset) is a memory stall (PSI's thrashing)."""
    if not folio_test(k, pfn, flag):
        return
    thrashing = flag == PG_locked and not folio_test(k, pfn, PG_uptodate) and folio_test(k, pfn, PG_workingset)
    with psi_memstall(k, k.current if thrashing else None), io_schedule(k, k.current):
        folio_wait_bit_common(k, pfn, flag)


def folio_wait_bit_common(k, pfn: int, flag: int) -> None:
    """Run the clock's events until ``flag`` clears."""
    clock = k.clock
    deadline = clock.now + HUNG_TASK_TIMEOUT_NS
    while folio_test(k, pfn, flag):
        nxt = clock.next_expiry()
        if nxt is None or nxt > deadline:
            raise LinuxmmError(f"folio {pfn:#x}: blocked for more than 120 seconds waiting for "
                               f"{'PG_locked' if flag == PG_locked else 'PG_writeback'} to clear")
        clock.run_until(nxt)


def folio_mark_dirty(k, mapping, pfn: int) -> bool:
    """``folio_mark_dirty``: through the mapping's ``dirty_folio``; True if it was clean."""
    return mapping.a_ops.dirty_folio(k, mapping, pfn)


def noop_dirty_folio(k, mapping, pfn: int) -> bool:
    """``noop_dirty_folio`` (shmem: nothing to write back, nothing accounted)."""
    was = folio_test(k, pfn, PG_dirty)
    folio_set(k, pfn, PG_dirty)
    return not was


def filemap_dirty_folio(k, mapping, pfn: int) -> bool:
    """``filemap_dirty_folio``: set PG_dirty; a newly dirty folio is accounted
    (``folio_account_dirtied``: NR_FILE_DIRTY and NR_DIRTIED) and its inode marked dirty
    (``__mark_inode_dirty(I_DIRTY_PAGES)``, which starts its age for the flusher)."""
    if folio_test(k, pfn, PG_dirty):
        return False
    folio_set(k, pfn, PG_dirty)
    nr = folio_nr_pages(k, pfn)
    lruvec_stat_mod_folio(k, NR_FILE_DIRTY, pfn, nr)
    zone_stat_mod_folio(k, NR_ZONE_WRITE_PENDING, pfn, nr)
    node_stat_mod_folio(k, NR_DIRTIED, pfn, nr)
    wb = inode_to_wb(mapping.host)
    wb.stat[WB_RECLAIMABLE] += nr
    wb.stat[WB_DIRTIED] += nr
    if k.current is not None:
        k.current.nr_dirtied += nr
    __mark_inode_dirty(k, mapping.host)
    return True


def folio_account_cleaned(k, mapping, pfn: int) -> None:
    if not mapping.swapbacked:
        nr = folio_nr_pages(k, pfn)
        lruvec_stat_mod_folio(k, NR_FILE_DIRTY, pfn, -nr)
        zone_stat_mod_folio(k, NR_ZONE_WRITE_PENDING, pfn, -nr)
        inode_to_wb(mapping.host).stat[WB_RECLAIMABLE] -= nr


def folio_clear_dirty_for_io(k, mapping, pfn: int) -> bool:
    """``folio_clear_dirty_for_io``: clear PG_dirty before writing the folio out (the
    counter goes down now, the data goes under PG_writeback); True if it was dirty. A mapped
    folio is write-protected and cleaned in every page table first (``folio_mkclean``), so
    that a later store faults and dirties it again."""
    if not mapping.swapbacked and folio_mkclean(k, pfn):
        folio_mark_dirty(k, mapping, pfn)  # a dirty pte's data is the folio's
    if not folio_test(k, pfn, PG_dirty):
        return False
    folio_clear(k, pfn, PG_dirty)
    folio_account_cleaned(k, mapping, pfn)
    return True


def folio_cancel_dirty(k, mapping, pfn: int) -> None:
    """``folio_cancel_dirty``: truncation drops a dirty folio's data unwritten."""
    folio_clear_dirty_for_io(k, mapping, pfn)


def folio_start_writeback(k, mapping, pfn: int) -> None:
    """``__folio_start_writeback``: PG_writeback set, NR_WRITEBACK and NR_ZONE_WRITE_PENDING
    (and the disk's WB_WRITEBACK) up."""
    nr = folio_nr_pages(k, pfn)
    folio_set(k, pfn, PG_writeback)
    lruvec_stat_mod_folio(k, NR_WRITEBACK, pfn, nr)
    zone_stat_mod_folio(k, NR_ZONE_WRITE_PENDING, pfn, nr)
    inode_to_wb(mapping.host).stat[WB_WRITEBACK] += nr


def folio_end_writeback(k, mapping, pfn: int) -> None:
    """``folio_end_writeback`` (``__folio_end_writeback``): the write completed: a folio
    reclaim marked (PG_reclaim) rotates to its inactive list's tail, PG_writeback cleared,
    NR_WRITEBACK down, NR_WRITTEN up (and the disk's WB_WRITEBACK/WB_WRITTEN, whose
    completions drive its bandwidth estimate); reclaimers waiting for writeback count it
    (``acct_reclaim_writeback``)."""
    nr = folio_nr_pages(k, pfn)
    if folio_test(k, pfn, PG_reclaim):  # reclaim asked for it: to the inactive tail
        folio_clear(k, pfn, PG_reclaim)
        swap.folio_rotate_reclaimable(k.mem_map, pfn)
    folio_clear(k, pfn, PG_writeback)
    lruvec_stat_mod_folio(k, NR_WRITEBACK, pfn, -nr)
    zone_stat_mod_folio(k, NR_ZONE_WRITE_PENDING, pfn, -nr)
    node_stat_mod_folio(k, NR_WRITTEN, pfn, nr)
    wb = inode_to_wb(mapping.host)
    wb.stat[WB_WRITEBACK] -= nr
    wb.stat[WB_WRITTEN] += nr
    swap.acct_reclaim_writeback(k, (pfn,))


def folio_wait_writeback(k, pfn: int) -> None:
    """``folio_wait_writeback``: until the folio's write completes."""
    folio_wait_bit(k, pfn, PG_writeback)


# ---- contents (one byte per 64-byte line) -----------------------------------------------------

def folio_write_lines(k, pfn: int, line: int, nr_lines: int, value: int) -> None:
    """Store ``value`` in lines [line, line + nr_lines) of the folio (counted from its first
    byte), as ``copy_folio_from_iter_atomic`` copies the user's data in."""
    a = k.mem_map
    first, last = line // LINES_PER_PAGE, (line + nr_lines - 1) // LINES_PER_PAGE
    for p in range(pfn + first, pfn + last + 1):
        if not a.content_valid[p]:
            a.content[p, :] = 0
            a.content_valid[p] = 1
    flat = a.content[pfn:pfn + last + 1].reshape(-1)  # rows of one folio are contiguous
    flat[line:line + nr_lines] = value


def folio_read_lines(k, pfn: int, line: int, nr_lines: int) -> np.ndarray:
    """Lines [line, line + nr_lines) of the folio (``copy_folio_to_iter``)."""
    a = k.mem_map
    first, last = line // LINES_PER_PAGE, (line + nr_lines - 1) // LINES_PER_PAGE
    rows = a.content[pfn + first:pfn + last + 1] * a.content_valid[pfn + first:pfn + last + 1, None]
    start = line - first * LINES_PER_PAGE
    return rows.reshape(-1)[start:start + nr_lines]


# ---- buffered read ----------------------------------------------------------------------------

def filemap_get_read_batch(k, mapping, index: int, last: int) -> list[int]:
    """``filemap_get_read_batch``: the cached folios from ``index`` on, up to page ``last``,
    stopping at the first gap, at a folio that is not uptodate, or after a PG_readahead one."""
    batch = []
    while index <= last:
        pfn = filemap_get_folio(k, mapping, index)
        if pfn < 0:
            break
        batch.append(pfn)
        if not folio_test(k, pfn, PG_uptodate) or folio_test(k, pfn, PG_readahead):
            break
        index = int(k.mem_map.index[pfn]) + folio_nr_pages(k, pfn)
    return batch


def filemap_get_pages(k, filp, pos: int, count: int) -> list[int]:
    """``filemap_get_pages``: folios for [pos, pos+count): a miss starts synchronous readahead
    (``page_cache_sync_ra``) and looks again; a PG_readahead folio starts asynchronous
    readahead (``page_cache_async_ra``); a folio not up to date is read (``filemap_update_page``)."""
    from .readahead import page_cache_async_ra, page_cache_sync_ra

    mapping = filp.f_mapping
    index, last = pos >> PAGE_SHIFT, (pos + count - 1) >> PAGE_SHIFT
    batch = filemap_get_read_batch(k, mapping, index, last)
    if not batch:
        page_cache_sync_ra(k, readahead_control(filp, mapping, filp.f_ra, index), last - index + 1)
        batch = filemap_get_read_batch(k, mapping, index, last)
    if not batch:
        batch = [filemap_create_folio(k, mapping, index)]
    tail = batch[-1]
    if folio_test(k, tail, PG_readahead):  # filemap_readahead: from the marked folio to the read's end
        tail_index = int(k.mem_map.index[tail])
        page_cache_async_ra(k, readahead_control(filp, mapping, filp.f_ra, tail_index), tail, last + 1 - tail_index)
    if not folio_test(k, tail, PG_uptodate):
        filemap_update_page(k, mapping, tail)
    return batch


def filemap_create_folio(k, mapping, index: int) -> int:
    """``filemap_create_folio``: a new order-0 folio for ``index``, read at once."""
    pfn = filemap_alloc_folio(k, G.GFP_HIGHUSER_MOVABLE, mapping.min_order)
    if pfn < 0:
        raise KernelError(errno.ENOMEM, "page cache: no memory to read into")
    if filemap_add_folio(k, mapping, pfn, index, G.GFP_HIGHUSER_MOVABLE) != 0:
        folio_put(k, pfn)
        return filemap_get_folio(k, mapping, index)
    filemap_read_folio(k, mapping, pfn)
    folio_put(k, pfn)
    return pfn


def filemap_read_folio(k, mapping, pfn: int) -> None:
    """``filemap_read_folio``: the filesystem reads the locked folio (its completion unlocks
    it), and the caller waits for that."""
    mapping.a_ops.read_folios(k, mapping, [pfn])
    folio_wait_bit(k, pfn, PG_locked)


def filemap_update_page(k, mapping, pfn: int) -> None:
    """``filemap_update_page``: wait for a read in flight (PG_locked); a folio still not up
    to date is locked and read."""
    folio_wait_bit(k, pfn, PG_locked)
    if not folio_test(k, pfn, PG_uptodate):
        folio_lock(k, pfn)
        filemap_read_folio(k, mapping, pfn)


def filemap_read(k, filp, pos: int, count: int) -> tuple[int, np.ndarray]:
    """``filemap_read``: copy up to ``count`` bytes at ``pos`` out of the page cache, reading
    what is missing; stops at ``i_size``. Returns (bytes read, one content byte per 64-byte
    line covered). Each folio read is marked accessed (``folio_mark_accessed``), except one
    the previous read ended in. ``f_ra.prev_pos`` is left at the end of the read."""
    inode = filp.f_inode
    count = min(count, max(inode.i_size - pos, 0))
    out, done, last_pos = [], 0, filp.f_ra.prev_pos
    while done < count:
        batch = filemap_get_pages(k, filp, pos + done, count - done)
        for pfn in batch:
            fpos = int(k.mem_map.index[pfn]) << PAGE_SHIFT
            fend = fpos + (folio_nr_pages(k, pfn) << PAGE_SHIFT)
            start, end = pos + done, min(pos + count, fend)
            if start >= end or start < fpos:
                break
            if not fpos <= last_pos - 1 < fend:  # a folio read several times in a row: marked once
                swap.folio_mark_accessed(k.mem_map, k.vm_state.vp[VP_CPU], pfn)
            last_pos = end
            first_line = (start - fpos) >> LINE_SHIFT
            if out and start & ((1 << LINE_SHIFT) - 1):
                first_line += 1  # the line holding ``start`` was returned with the last folio
            last_line = (end - 1 - fpos) >> LINE_SHIFT
            if last_line >= first_line:
                out.append(folio_read_lines(k, pfn, first_line, last_line - first_line + 1))
            done = end - pos
    filp.f_ra.prev_pos = pos + done
    return done, (np.concatenate(out) if out else np.zeros(0, np.uint8))


@njit(cache=True)
def filemap_read_cached(xa, a, xid, pos, count, chunk, isize, out, cpu, last_pos):
    """The read() calls of a chunked read (``chunk`` bytes each, from ``pos``, ``count`` in
    all) that ``filemap_read`` would serve from the cache alone — every folio they touch
    cached, up to date and without a PG_readahead marker — done in one compiled loop (why
    compiled: a cached 4 KiB read is a few lookups, and Python's per-call cost would be most of
    the time). Each call marks its folios accessed as ``filemap_read`` does (``last_pos``: where
    the previous read ended). Copies one byte per line each call covers into ``out``; returns (bytes done,
    bytes in ``out``, whether a call ended short at ``isize``). Stops before the first call
    that needs more: a miss, a folio being read, a readahead marker, or a call at or past the
    end of the file (the Python path does those)."""
    done = nout = 0
    stop = np.uint64(1 << PG_readahead)
    uptodate = np.uint64(1 << PG_uptodate)
    while done < count:
        n = min(chunk, count - done)
        p0 = pos + done
        if p0 >= isize:
            return done, nout, False
        m = min(n, isize - p0)
        index, last = p0 >> PAGE_SHIFT, (p0 + m - 1) >> PAGE_SHIFT
        while index <= last:  # filemap_get_read_batch: all of the call's folios must be ready
            entry = X.xa_load(xa, xid, index)
            if entry == 0 or entry & 1:
                return done, nout, False
            head = entry >> 1
            if a.flags[head] & stop or not a.flags[head] & uptodate:
                return done, nout, False
            index = a.index[head] + (1 << a.order[head])
        index = p0 >> PAGE_SHIFT
        while index <= last:  # folio_mark_accessed, once for a folio read several times in a row
            head = X.xa_load(xa, xid, index) >> 1
            fpos = a.index[head] << PAGE_SHIFT
            fend = fpos + (np.int64(PAGE_SIZE) << a.order[head])
            if not fpos <= last_pos - 1 < fend:
                swap.folio_mark_accessed(a, cpu, head)
            last_pos = min(p0 + m, fend)
            index = a.index[head] + (1 << a.order[head])
        line, last_line = p0 >> LINE_SHIFT, (p0 + m - 1) >> LINE_SHIFT
        while line <= last_line:  # copy_folio_to_iter, a page at a time
            page = line >> (PAGE_SHIFT - LINE_SHIFT)
            head = X.xa_load(xa, xid, page) >> 1
            pfn = head + page - a.index[head]
            upto = min(last_line, ((page + 1) << (PAGE_SHIFT - LINE_SHIFT)) - 1)
            first = line & (LINES_PER_PAGE - 1)
            nr = upto - line + 1
            if a.content_valid[pfn]:
                out[nout:nout + nr] = a.content[pfn, first:first + nr]
            else:
                out[nout:nout + nr] = 0
            nout += nr
            line = upto + 1
        done += m
        if m < n:
            return done, nout, True
    return done, nout, False


def filemap_read_batch(k, filp, pos: int, count: int, chunk: int) -> tuple[int, np.ndarray, bool]:
    """``read_cached`` of the page-cache filesystems: ``filemap_read_cached`` over the file
    (``f_ra.prev_pos`` follows, as each call's ``filemap_read`` would leave it)."""
    out = np.zeros((count >> LINE_SHIFT) + count // chunk + 2, np.uint8)
    done, nout, eof = filemap_read_cached(k.page_cache, k.mem_map, filp.f_mapping.xa_id, pos, count, chunk,
                                          filp.f_inode.i_size, out, k.vm_state.vp[VP_CPU], filp.f_ra.prev_pos)
    if done:
        filp.f_ra.prev_pos = pos + done
    return int(done), out[:nout], bool(eof)


# ---- buffered write ---------------------------------------------------------------------------

def generic_perform_write(k, filp, pos: int, count: int, value: int) -> int:
    """``generic_perform_write``: copy ``count`` bytes of ``value`` in at ``pos``, in chunks
    of at most ``mapping_max_folio_size`` bytes not crossing a chunk boundary; each chunk
    asks ``write_begin`` for a folio (whose order follows the chunk's length, so one large
    write() makes large folios and 4 KiB writes make order-0 ones) and is clipped to it.
    Returns the bytes written."""
    mapping = filp.f_mapping
    chunk = mapping_max_folio_size(mapping)
    written = 0
    while written < count:
        offset = pos & (chunk - 1)
        nbytes = min(chunk - offset, count - written)
        pfn = mapping.a_ops.write_begin(k, filp, pos, nbytes)
        fpos = int(k.mem_map.index[pfn]) << PAGE_SHIFT
        nbytes = min(nbytes, fpos + (folio_nr_pages(k, pfn) << PAGE_SHIFT) - pos)
        first_line, last_line = (pos - fpos) >> LINE_SHIFT, (pos + nbytes - 1 - fpos) >> LINE_SHIFT
        folio_write_lines(k, pfn, first_line, last_line - first_line + 1, value)
        mapping.a_ops.write_end(k, filp, pos, nbytes, pfn)
        pos += nbytes
        written += nbytes
        if k.current is not None and not mapping.swapbacked:  # shmem's bdi has no writeback
            balance_dirty_pages_ratelimited(k, inode_to_wb(mapping.host), k.current)
    return written


def generic_write_end(k, filp, pos: int, copied: int, pfn: int) -> None:
    """``generic_write_end``: the folio is up to date and dirty, ``i_size`` grows to cover the
    write, and write_begin's lock and reference are dropped."""
    mapping = filp.f_mapping
    folio_mark_uptodate(k, pfn)
    folio_mark_dirty(k, mapping, pfn)
    inode = filp.f_inode
    if pos + copied > inode.i_size:
        i_size_write(inode, pos + copied)
    folio_unlock(k, pfn)
    folio_put(k, pfn)


def write_begin_get_folio(k, filp, pos: int, nbytes: int) -> int:
    """``write_begin_get_folio``: ``__filemap_get_folio(FGP_WRITEBEGIN | fgf_set_order(len))``
    (locked, with a reference), then (``__block_write_begin``) a folio that is not up to date
    is read first unless the write covers all of it."""
    from ..include.linux.pagemap import FGP_WRITEBEGIN, fgf_set_order

    mapping = filp.f_mapping
    pfn = __filemap_get_folio(k, mapping, pos >> PAGE_SHIFT, FGP_WRITEBEGIN | fgf_set_order(nbytes),
                              G.GFP_HIGHUSER_MOVABLE)  # with a reference, dropped by write_end
    if not folio_test(k, pfn, PG_uptodate):
        fpos = int(k.mem_map.index[pfn]) << PAGE_SHIFT
        if pos > fpos or pos + nbytes < fpos + (folio_nr_pages(k, pfn) << PAGE_SHIFT):
            filemap_read_folio(k, mapping, pfn)
            folio_lock(k, pfn)
    return pfn


# ---- writeback --------------------------------------------------------------------------------

def filemap_fdatawrite_range(k, mapping, start: int, end: int) -> None:
    """``filemap_fdatawrite_range`` -> ``do_writepages``: start writeback of the dirty
    folios of bytes [start, end]."""
    if not mapping.swapbacked and start <= end:
        mapping.a_ops.writepages(k, mapping, start >> PAGE_SHIFT, end >> PAGE_SHIFT)


def filemap_fdatawait_range(k, mapping, start: int, end: int) -> None:
    """``filemap_fdatawait_range``: wait for the writeback of every folio in the range."""
    if start > end:
        return
    for _, pfn in filemap_folios(k, mapping, start >> PAGE_SHIFT, end >> PAGE_SHIFT):
        folio_wait_writeback(k, pfn)


def filemap_write_and_wait_range(k, mapping, start: int, end: int) -> None:
    """``filemap_write_and_wait_range``: write the dirty folios of bytes [start, end] and
    wait for them (fsync, truncate's and DONTNEED's flush)."""
    filemap_fdatawrite_range(k, mapping, start, end)
    filemap_fdatawait_range(k, mapping, start, end)


# ---- cachestat(2) -----------------------------------------------------------------------------

def filemap_cachestat(k, mapping, first: int, last: int) -> dict[str, int]:
    """``filemap_cachestat``: over page indices [first, last], the pages cached, dirty and
    under writeback, and the evicted ones (shadow entries; ``recently_evicted`` counts those
    ``workingset_test_recent`` finds recent)."""
    cs = dict(cache=0, dirty=0, writeback=0, evicted=0, recently_evicted=0)
    for index, pfn in filemap_folios(k, mapping, first, last):
        nr = min(index + folio_nr_pages(k, pfn) - 1, last) - max(index, first) + 1
        cs["cache"] += nr
        # the xarray's dirty tag: shmem's noop_dirty_folio sets PG_dirty without it
        cs["dirty"] += nr if folio_test(k, pfn, PG_dirty) and not mapping.swapbacked else 0
        cs["writeback"] += nr if folio_test(k, pfn, PG_writeback) else 0
    swap_on = k.nr_swap_pages > 0
    for index in workingset.shadow_entries(k, mapping):
        if first <= index <= last:
            shadow = int(X.xa_load(k.page_cache, mapping.xa_id, index))
            cs["evicted"] += 1
            cs["recently_evicted"] += int(workingset.workingset_test_recent(k.mem_map, shadow, True, swap_on)[0])
    return cs


# ---- the fault side (mm/filemap.c: filemap_fault, filemap_page_mkwrite) --------------------
#
# The compiled fault path (``mm/memory.py``: ``do_read_fault`` with fault-around through
# ``filemap_map_pages``, ``do_cow_fault``, ``do_shared_fault``) maps what the page cache holds
# up to date. It comes here when the faulting page needs I/O or the filesystem: the page is not
# cached, not up to date, or carries PG_readahead (``filemap_fault``), or a store dirties a clean
# folio (``->page_mkwrite``). Then the access is retried in compiled code; a retry after I/O is
# a major fault (the kernel's VM_FAULT_RETRY with FAULT_FLAG_TRIED, ``mm_account_fault``).

def fault_vma(task, addr: int):
    """The VMA of a fault at ``addr`` and the file page it maps there (``vmf->pgoff``)."""
    from ..include.linux.mm_types import find_vma

    vma = find_vma(task.mm, addr)
    return vma, vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT)


def filemap_fault(k, task, addr: int) -> bool:
    """``filemap_fault`` for a page the compiled path could not map: False (VM_FAULT_SIGBUS)
    at or past the end of the file. A cached folio marked PG_readahead starts asynchronous
    readahead (``do_async_mmap_readahead``); a page not cached counts PGMAJFAULT and starts
    synchronous readahead around it (``do_sync_mmap_readahead``), then the folio is found or
    created (``__filemap_get_folio(FGP_CREAT|FGP_FOR_MMAP)``) and read if not up to date. The
    retried fault counts as major only after a miss (VM_FAULT_MAJOR): 6.18 handles a user
    fault under the per-VMA lock, and one that dropped it to wait for a read in flight is
    retried without FAULT_FLAG_TRIED, so it counts as minor (the host's mmap of an evicted
    file: one major fault for 16384 loads)."""
    from ..include.linux.vmstat import PGMAJFAULT
    from .pgtable import VP_FAULT_MAJOR
    from .readahead import do_async_mmap_readahead, do_sync_mmap_readahead

    vma, index = fault_vma(task, addr)
    filp = vma.vm_file
    mapping = filp.f_mapping
    if index >= -(-filp.f_inode.i_size // PAGE_SIZE):
        return False
    vs = k.vm_state
    pfn = filemap_get_folio(k, mapping, index)
    missed = created = False
    if pfn < 0:
        vs.vm_events[PGMAJFAULT] += 1
        vs.memcg_vm_events[task.mmc[MMC_MEMCG], PGMAJFAULT] += 1  # count_memcg_event_mm
        do_sync_mmap_readahead(k, readahead_control(filp, mapping, filp.f_ra, index), vma.vm_flags, vma.vm_pgoff,
                               vma_pages(vma))
        missed = True
        pfn = filemap_get_folio(k, mapping, index)  # readahead's folio, its read in flight
        if pfn < 0:  # readahead read nothing here (VM_RAND_READ): a locked new folio, ours to read
            pfn = __filemap_get_folio(k, mapping, index, FGP_CREAT | FGP_FOR_MMAP, G.GFP_HIGHUSER_MOVABLE)
            folio_put(k, pfn)
            created = True
    else:
        do_async_mmap_readahead(k, readahead_control(filp, mapping, filp.f_ra, index), pfn, vma.vm_flags)
    if created and not folio_test(k, pfn, PG_uptodate):
        mapping.a_ops.read_folios(k, mapping, [pfn])  # locked since filemap_add_folio: ours to read
    elif not folio_test(k, pfn, PG_uptodate):
        filemap_update_page(k, mapping, pfn)  # a read in flight (readahead's): wait for it
    vs.vp[VP_FAULT_MAJOR] = int(missed)
    return True


def filemap_page_mkwrite(k, task, addr: int) -> None:
    """``->page_mkwrite`` of a store to a clean shared file folio (``ext4_page_mkwrite`` ->
    ``filemap_page_mkwrite``): the folio is marked dirty before the pte becomes writable
    (``folio_mark_dirty``: NR_FILE_DIRTY, the inode queued for writeback) and waits for a
    write in flight (``folio_wait_stable``)."""
    vma, index = fault_vma(task, addr)
    mapping = vma.vm_file.f_mapping
    pfn = filemap_get_folio(k, mapping, index)
    folio_mark_dirty(k, mapping, pfn)
    folio_wait_writeback(k, pfn)
