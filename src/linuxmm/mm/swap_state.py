"""The swap cache and swap-in (``mm/swap_state.c``, ``mm/swap_table.h``, the Python half of
``mm/memory.c``'s ``do_swap_page``, ``mm/swapfile.c``'s ``try_to_unuse``), Linux 6.18.

The swap cache: since 6.18 each cluster keeps a swap table, one entry per slot holding the
folio cached for it, the workingset shadow of the folio reclaim evicted from it, or nothing.
Here it is ``VmState.swap_table``, encoded as the page cache's xarray slots are: 0, a folio
(its pfn shifted left: bit 0 clear) or a shadow (bit 0 set; ``mm/swapfile.py``'s
``swp_tb_*`` helpers). A folio in it has PG_swapcache, its swap entry in ``private``, one
reference held by the cache, and counts in NR_SWAPCACHE; its slot carries SWAP_HAS_CACHE in
``swap_map``. A shadow lives as long as its slot: freeing the slot clears it.

Swap-out, compiled, run by ``mm/vmscan.py``'s ``shrink_folio_list``: ``add_to_swap`` puts an
anonymous folio in the swap cache for a slot reclaim reserved for it, dirty; ``try_to_unmap``
turns every pte mapping it into a swap pte (``rmap_walk`` -> ``try_to_unmap_one``) and marks
the mms whose TLBs the batched flush must empty; ``pageout`` -> ``swap_writepage`` writes it
and ``__remove_mapping`` frees it from the cache, leaving the shadow. A swap-in that finds a
shadow (``__read_swap_cache_async``) is a refault: ``workingset_refault`` decides whether the
folio comes back active.

Swap-in: the compiled fault path reads a zram slot only its swap pte refers to itself
(``memory.do_swap_page``: the common case under pressure, no Python per page); at any other
swap pte it stops with FAULT_SWAP and ``do_swap_page`` runs here, the reference the compiled
half is tested against: a folio still in the swap cache maps at once (a minor fault), otherwise
``swapin_readahead`` reads it, with the neighbours the readahead window takes
(``swap_vma_readahead`` around the faulting address within the VMA and its PMD, or
``swap_cluster_readahead`` around the slot on a rotating disk), and the fault is major.
zram (SWP_SYNCHRONOUS_IO) reads a slot only its pte refers to without readahead and frees
it at once (the kernel's skip-swapcache path; the folio passes through the cache here).
A folio read from the device is order 0: 6.18's large swap-in (``alloc_swap_folio``) takes only
the mTHP orders below PMD order enabled for the VMA, and the fault path here makes none.
The window follows ``__swapin_nr_pages`` (hits + 2, rounded up to a power of two, at most
``1 << vm.page-cluster``, never below half the last window).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import numpy as np

from numba import njit

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.mm_types import VM_LOCKED, find_vma
from ..include.linux.page_flags import PG_locked, PG_readahead, PG_swapbacked_mask, PG_writeback
from ..include.linux.swap import (PLIST_AVAIL, SWAP_COUNT_MASK, SWAP_HAS_CACHE, SWP_SOLIDSTATE, SWP_SYNCHRONOUS_IO,
                                  SWP_WRITEOK)
from ..include.linux.vmstat import PGFAULT, PGMAJFAULT, SWAP_RA, SWAP_RA_HIT
from ..include.linux.sched import TASK_RUNNING
from . import memory as M
from . import page_alloc as pa
from .filemap import folio_wait_bit
from .page_io import swap_read_folio
from .memcontrol import count_memcg_events, mem_cgroup_swapin_charge_folio, mem_cgroup_try_charge_swap
from .mm_inline import folio_nr_pages
from .pgtable import VP_CPU, VP_NR_SWAP_PAGES, VP_SWP_FMT, swp_entry, swp_entry_to_pte, swp_offset
from .swap import folio_add_lru, folio_put, lru_add_drain
from .swapfile import (PG_dirty_mask, __swap_cache_add_folio, del_from_avail, find_swap_area, folio_free_swap,
                       get_nr_swap_pages, plist_add, plist_del, swap_cache_folio, swap_info_get, swap_slot, sync_clusters, vm_swap_full)
from .util import __vm_enough_memory
from .workingset import workingset_refault

if TYPE_CHECKING:
    from ..init.main import Kernel

SWAP_RA_ORDER_CEILING = 5
SWAP_RA_HITS_MAX = (1 << 6) - 1  # SWAP_RA_HITS_MASK: PAGE_SHIFT / 2 bits
PMD_SIZE = 2 << 20
PAGE_SIZE = 4096
PG_readahead_mask = np.uint64(1 << PG_readahead)


# ---- the swap cache -------------------------------------------------------------------------


def swap_cache_get_folio(k: "Kernel", entry: int, vma=None, addr: int = 0) -> int | None:
    """The folio cached for ``entry``, or None; a readahead folio found counts a hit
    (SWAP_RA_HIT, and a hit of the VMA's readahead window or of the global one)."""
    vs = k.vm_state
    pfn = int(swap_cache_folio(vs, swap_slot(vs, np.uint64(entry))))
    if pfn == 0:
        return None
    a = k.mem_map
    readahead = bool(a.flags[pfn] & PG_readahead_mask)
    a.flags[pfn] &= ~PG_readahead_mask
    if readahead:
        k.vm_events[SWAP_RA_HIT] += 1
        if vma is None:
            k.swap.ra.hits += 1
    if vma is not None and swap_use_vma_readahead(k):
        _, win, hits = swap_ra_val(vma.swap_readahead_info)
        hits = min(hits + 1, SWAP_RA_HITS_MAX) if readahead else hits
        vma.swap_readahead_info = (addr & ~(PAGE_SIZE - 1), win, hits)
    return pfn


@njit(cache=True)
def add_to_swap(a, vs, pfn, entry):
    """Put the anonymous folio in the swap cache for ``entry`` (a slot reclaim reserved for
    it: ``folio_alloc_swap``), dirty: its data exists only in memory until written. False,
    the slot unused, when its memcg may not swap more (``mem_cgroup_try_charge_swap``)."""
    if not mem_cgroup_try_charge_swap(a, vs, pfn, swap_slot(vs, entry)):
        return False
    __swap_cache_add_folio(a, vs, pfn, entry)
    a.flags[pfn] |= PG_dirty_mask  # folio_mark_dirty
    return True


def __read_swap_cache_async(k: "Kernel", entry: int) -> tuple[int | None, bool]:
    """The folio for ``entry``: the cached one, or a new one added to the cache and the LRU
    (not yet read): (pfn, allocated). (None, False) if the slot was freed meanwhile or no
    page could be allocated."""
    vs = k.vm_state
    slot = swap_slot(vs, np.uint64(entry))
    cached = int(swap_cache_folio(vs, slot))
    if cached:
        return cached, False
    if not vs.swap_map[slot] & SWAP_COUNT_MASK:  # swapcache_prepare: -ENOENT
        return None, False
    pfn = pa.alloc_pages(k, G.GFP_HIGHUSER_MOVABLE, 0, cpu=int(vs.vp[VP_CPU]))
    if pfn is None:
        return None, False
    a = k.mem_map
    if (mem_cgroup_swapin_charge_folio(k, pfn, slot, k.current, G.GFP_KERNEL)
            or not vs.swap_map[slot] & SWAP_COUNT_MASK):  # no room in the memcg, or freed meanwhile
        folio_put(a, pfn, int(vs.vp[VP_CPU]))
        return None, False
    vs.swap_map[slot] |= SWAP_HAS_CACHE
    a.flags[pfn] |= PG_swapbacked_mask  # __folio_set_swapbacked: an anon LRU folio
    shadow = __swap_cache_add_folio(a, vs, pfn, np.uint64(entry))
    if shadow:  # the slot's folio was evicted by reclaim: a refault (before the LRU add)
        workingset_refault(a, pfn, shadow, 0, get_nr_swap_pages(k) > 0, 1)
    folio_add_lru(a, int(vs.vp[VP_CPU]), pfn)
    k.mem_map.refcount[pfn] -= 1  # the allocation's reference: the cache and the LRU batch hold theirs
    return pfn, True


def read_swap_cache_async(k: "Kernel", entry: int, readahead: bool) -> int | None:
    """Start reading ``entry`` into the swap cache; a readahead folio is marked PG_readahead."""
    pfn, allocated = __read_swap_cache_async(k, entry)
    if allocated:
        swap_read_folio(k, swap_info_get(k, entry), pfn, entry)
        if readahead:
            k.mem_map.flags[pfn] |= PG_readahead_mask
            k.vm_events[SWAP_RA] += 1
    return pfn


# ---- readahead ------------------------------------------------------------------------------


def swap_ra_val(info) -> tuple[int, int, int]:
    """A VMA's ``swap_readahead_info``: (last fault address, window, hits)."""
    return info if info else (0, 0, 0)


def __swapin_nr_pages(prev_offset: int, offset: int, hits: int, max_pages: int, prev_win: int) -> int:
    pages = hits + 2
    if pages == 2:
        if offset != prev_offset + 1 and offset != prev_offset - 1:
            pages = 1
    else:
        roundup = 4
        while roundup < pages:
            roundup <<= 1
        pages = roundup
    return max(min(pages, max_pages), prev_win // 2)


def swap_use_vma_readahead(k: "Kernel") -> bool:
    """VMA-based readahead unless a rotating disk holds an active area (``nr_rotate_swap``)."""
    return k.swap.vma_ra_enabled and not any(not si.flags & SWP_SOLIDSTATE for si in k.swap.swap_active_head)


def swapin_nr_pages(k: "Kernel", offset: int) -> int:
    max_pages = 1 << k.vm.page_cluster
    if max_pages <= 1:
        return 1
    ra = k.swap.ra
    hits, ra.hits = ra.hits, 0
    pages = __swapin_nr_pages(ra.prev_offset, offset, hits, max_pages, ra.last_readahead_pages)
    if not hits:
        ra.prev_offset = offset
    ra.last_readahead_pages = pages
    return pages


def swap_cluster_readahead(k: "Kernel", entry: int) -> int | None:
    """Read the aligned block of slots around ``entry`` that the window covers."""
    si = swap_info_get(k, entry)
    offset = swp_offset(np.uint64(entry))
    mask = swapin_nr_pages(k, offset) - 1
    if mask:
        start, end = max(offset & ~mask, 1), min(offset | mask, si.max - 1)
        for off in range(start, end + 1):
            if off != offset:
                read_swap_cache_async(k, int(swp_entry(si.type, off)), True)
        lru_add_drain(k.mem_map, int(k.vm_state.vp[VP_CPU]))
    return read_swap_cache_async(k, entry, False)


def swap_vma_ra_win(k: "Kernel", vma, faddr: int) -> tuple[int, int, int]:
    """The window around ``faddr``: (pages, start, end), within the VMA and its PMD."""
    max_win = 1 << min(k.vm.page_cluster, SWAP_RA_ORDER_CEILING)
    if max_win == 1:
        return 1, faddr, faddr
    prev_faddr, prev_win, hits = swap_ra_val(vma.swap_readahead_info)
    win = __swapin_nr_pages(prev_faddr >> 12, faddr >> 12, hits, max_win, prev_win)
    vma.swap_readahead_info = (faddr, win, 0)
    if win == 1:
        return 1, faddr, faddr
    if faddr == prev_faddr + PAGE_SIZE:
        left = faddr
    elif prev_faddr == faddr + PAGE_SIZE:
        left = faddr - (win << 12) + PAGE_SIZE
    else:
        left = faddr - (((win - 1) // 2) << 12)
    right = left + (win << 12)
    pmd = faddr & ~(PMD_SIZE - 1)
    return win, max(left, 0, vma.vm_start, pmd), min(right, vma.vm_end, pmd + PMD_SIZE)


def swap_vma_readahead(k: "Kernel", task, vma, entry: int, faddr: int) -> int | None:
    """Read the swap ptes of the window around the faulting address."""
    win, start, end = swap_vma_ra_win(k, vma, faddr)
    if win > 1:
        a, vs = k.mem_map, k.vm_state
        pgd = int(task.mmc[M.MMC_PGD])
        for addr in range(start, end, PAGE_SIZE):
            e = int(M.swap_pte_entry(a, vs, pgd, addr))
            if addr != faddr and e >= 0:
                read_swap_cache_async(k, e, True)
        lru_add_drain(a, int(vs.vp[VP_CPU]))
    return read_swap_cache_async(k, entry, False)


def swapin_readahead(k: "Kernel", task, vma, entry: int, addr: int) -> int | None:
    if swap_use_vma_readahead(k):
        return swap_vma_readahead(k, task, vma, entry, addr)
    return swap_cluster_readahead(k, entry)


# ---- do_swap_page ------------------------------------------------------------------------------


def do_swap_page(k: "Kernel", task, addr: int, write: bool) -> bool:
    """The swap pte at ``addr`` maps its folio again (read in first unless the swap cache
    has it). False if no page could be allocated (VM_FAULT_OOM)."""
    a, vs = k.mem_map, k.vm_state
    pgd = int(task.mmc[M.MMC_PGD])
    entry = int(M.swap_pte_entry(a, vs, pgd, addr))
    if entry < 0:
        return True  # another path changed the pte: retry the access
    si = swap_info_get(k, entry)
    vma = find_vma(task.mm, addr)
    pfn = swap_cache_get_folio(k, entry, vma, addr)
    major = pfn is None
    sync_io = si.flags & SWP_SYNCHRONOUS_IO and vs.swap_map[swap_slot(vs, np.uint64(entry))] & SWAP_COUNT_MASK == 1
    if pfn is None:
        pfn = read_swap_cache_async(k, entry, False) if sync_io else swapin_readahead(k, task, vma, entry, addr)
    if pfn is None:
        return int(M.swap_pte_entry(a, vs, pgd, addr)) != entry  # freed meanwhile: retry
    folio_wait_bit(k, pfn, PG_locked)  # folio_lock_or_retry: a read in flight completes
    if int(M.swap_pte_entry(a, vs, pgd, addr)) != entry:
        return True  # another task mapped it meanwhile: retry the access
    lru_add_drain(a, int(vs.vp[VP_CPU]))
    free_swap = vm_swap_full(k) or bool(vma.vm_flags & VM_LOCKED) or bool(sync_io)
    page, start, nr = swap_folio_range(k, pgd, vma, pfn, entry, addr)
    sole = a.refcount[pfn] == folio_nr_pages(a, pfn)  # the swap cache's references only
    for i in range(nr):
        M.map_swap_folio(a, vs, task.mmc, pgd, start + i * PAGE_SIZE, page + i, vma.vm_flags, vma.anon_vma.id,
                         vma.anon_vma.root.id, ((start - vma.vm_start) >> 12) + vma.vm_pgoff + i, write, free_swap)
    if nr > 1 and write and sole:  # should_try_to_free_swap: the whole folio was this fault's alone
        folio_free_swap(a, vs, pfn)
    mm_account_fault(k, task, major)
    return True


def swap_cache_page(a, pfn: int, entry: int) -> int:
    """The page of the swap-cache folio ``pfn`` that holds the slot of ``entry``."""
    return pfn + int(swp_offset(np.uint64(entry))) - int(swp_offset(np.uint64(a.private[pfn])))


def swap_folio_range(k: "Kernel", pgd: int, vma, pfn: int, entry: int, addr: int) -> tuple[int, int, int]:
    """What ``do_swap_page`` maps of the swap-cache folio ``pfn`` found for the swap pte at
    ``addr``: (first page, its address, pages). A large folio is mapped whole when its range
    lies within the VMA and the PMD of ``addr`` and each of its ptes is the swap pte of its
    own page, the same but for the offset (``swap_pte_batch``); otherwise only the page."""
    a, vs = k.mem_map, k.vm_state
    page = swap_cache_page(a, pfn, entry)
    nr = folio_nr_pages(a, pfn)
    start = addr - (page - pfn) * PAGE_SIZE
    pmd = addr & ~(PMD_SIZE - 1)
    if nr == 1 or start < max(pmd, vma.vm_start) or start + nr * PAGE_SIZE > min(pmd + PMD_SIZE, vma.vm_end):
        return page, addr, 1
    fmt = vs.vp[VP_SWP_FMT]
    row, idx = M.pte_slot(a, vs, pgd, addr)
    first = idx - (page - pfn)
    bits = vs.pt[row, idx] ^ swp_entry_to_pte(np.uint64(entry), fmt)  # the pte's flags beside the entry
    for i in range(nr):
        if vs.pt[row, first + i] != swp_entry_to_pte(np.uint64(a.private[pfn + i]), fmt) ^ bits:
            return page, addr, 1
    return pfn, start, nr


def mm_account_fault(k: "Kernel", task, major: bool) -> None:
    """PGFAULT, and the task's major or minor fault (PGMAJFAULT: it waited for the read)."""
    k.vm_events[PGFAULT] += 1
    count_memcg_events(k.mem_map, task.mmc[M.MMC_MEMCG], PGFAULT, 1)  # count_memcg_event_mm
    if major:
        k.vm_events[PGMAJFAULT] += 1
        count_memcg_events(k.mem_map, task.mmc[M.MMC_MEMCG], PGMAJFAULT, 1)
        task.mmc[M.MMC_MAJFLT] += 1
    else:
        task.mmc[M.MMC_MINFLT] += 1


# ---- swapoff ------------------------------------------------------------------------------


def try_to_unuse(k: "Kernel", si) -> bool:
    """Swap every page of area ``si`` back in: the tmpfs pages first (``shmem_unuse``), each
    swap pte of it in every mm maps its folio again (``unuse_pte``), then the folios left in the cache leave it. False (-ENOMEM) when
    a page could not be allocated."""
    a = k.mem_map
    k.swap.shmem_unuse(k, si.type)
    for task in list(k.tasks.values()):
        if task.state != TASK_RUNNING or task.mm is None:
            continue
        pgd = int(task.mmc[M.MMC_PGD])
        for addr in M.swap_ptes_of_type(a, k.vm_state, pgd, si.type):
            entry = int(M.swap_pte_entry(a, k.vm_state, pgd, int(addr)))
            pfn = read_swap_cache_async(k, entry, False)
            if pfn is None:
                return False
            folio_wait_bit(k, pfn, PG_locked)
            lru_add_drain(a, int(k.vm_state.vp[VP_CPU]))
            vma = find_vma(task.mm, int(addr))
            M.map_swap_folio(a, k.vm_state, task.mmc, pgd, int(addr), swap_cache_page(a, pfn, entry),
                             vma.vm_flags & ~M.VM_WRITE,
                             vma.anon_vma.id, vma.anon_vma.root.id, ((int(addr) - vma.vm_start) >> 12) + vma.vm_pgoff, False, True)
    vs = k.vm_state
    table = vs.swap_table[si.base:si.base + si.max]
    for slot in si.base + np.flatnonzero((table != 0) & ((table & 1) == 0)):
        pfn = int(swap_cache_folio(vs, slot))
        if pfn:
            folio_wait_bit(k, pfn, PG_writeback)  # folio_wait_writeback: the write in flight completes
        if pfn and swap_cache_folio(vs, slot) == pfn:
            folio_free_swap(a, vs, pfn)
    return True


def swapoff(k: "Kernel", path: str) -> None:
    """``sys_swapoff`` (mm/swapfile.c; here, above the swap-in it runs): bring every page of
    the area back in, then drop it. ENOMEM if the pages in use would not be allowed by the
    overcommit policy or could not be read in."""
    si = find_swap_area(k, path)
    sync_clusters(k.mem_map, k.vm_state, si.type)
    if not __vm_enough_memory(k, None, si.inuse_pages, True, k.current):
        raise KernelError(errno.ENOMEM, f"swapoff: {path}: not enough memory for its {si.inuse_pages} pages")
    plist_del(k.swap.plists[PLIST_AVAIL], si.type)
    si.flags &= ~SWP_WRITEOK
    # the whole area leaves nr_swap_pages and total_swap_pages; each slot try_to_unuse frees
    # counts back in (swap_range_free), so at the end only the other areas' free slots count
    k.vm_state.vp[VP_NR_SWAP_PAGES] -= si.pages
    k.total_swap_pages -= si.pages
    if not try_to_unuse(k, si):
        reinsert_swap_info(k, si)
        raise KernelError(errno.ENOMEM, f"swapoff: {path}: no memory to swap its pages in")
    del_from_avail(k, si)


def reinsert_swap_info(k: "Kernel", si) -> None:
    """A failed swapoff puts the area back (``_enable_swap_info``): writable, its pages back in
    nr_swap_pages and total_swap_pages, taking allocations again."""
    si.flags |= SWP_WRITEOK
    sync_clusters(k.mem_map, k.vm_state, si.type)
    k.vm_state.vp[VP_NR_SWAP_PAGES] += si.pages
    k.total_swap_pages += si.pages
    plist_add(k.swap.plists[PLIST_AVAIL], k.swap.si, si.type)
