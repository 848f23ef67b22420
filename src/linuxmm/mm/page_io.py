"""Swap I/O (``mm/page_io.c``) and zram (``drivers/block/zram``), Linux 6.18.

``swap_writepage`` writes the swap-cache folios one reclaim pass handed to ``pageout`` to
their slots: on a partition or a swap file through ``submit_bio`` on the area's disk
(``__swap_writepage`` -> ``swap_writepage_bdev``; one bio per run of consecutive slots, the
request the block plug would merge the per-folio bios into), on zram into compressed memory
(``SWP_SYNCHRONOUS_IO``: no disk, no queue). A folio is under writeback until the completion
(``end_swap_bio_write``, compiled) stores its lines in the slot and rotates it to the
inactive tail if reclaim marked it PG_reclaim (``folio_end_writeback``); meanwhile it counts
in NR_WRITEBACK and NR_ZONE_WRITE_PENDING, and its pages in NR_WRITTEN once written (zram's
writes complete within the call: NR_WRITTEN alone moves); PSWPOUT counts the
write of each page when it is submitted, THP_SWPOUT each PMD-size folio written whole. ``swap_read_folio`` reads a slot into a new, locked folio the same way
(``end_swap_bio_read``: the folio uptodate and unlocked; PSWPIN at submission). Disk I/O completes on the
simulated clock (``block/``): a folio written stays in the swap cache, under writeback, until
then; a fault waits for the read (``folio_wait_bit``).

zram keeps what it stores compressed by ``compression_ratio`` in pages of its own
(zsmalloc's, counted in NR_ZSPAGES): the pages it holds follow the slots stored, allocated
from the buddy allocator as it grows and freed as slots are freed or the device is reset.
A write that finds no page for it fails (-ENOMEM) and the folio stays in memory.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..block.bio import REQ_OP_READ, REQ_OP_WRITE
from ..block.blk_core import submit_bio
from ..include.linux import gfp as G
from ..include.linux.huge_mm import HPAGE_PMD_NR
from ..include.linux.page_flags import (PG_dirty_mask, PG_locked_mask, PG_reclaim_mask, PG_uptodate_mask,
                                       PG_writeback_mask)
from ..include.linux.swap import SI_MAX, SI_ZS_NR, SI_ZS_PAGES, SWAPFILE_CLUSTER, swap_info_struct
from ..include.linux.vmstat import (NR_WRITEBACK, NR_WRITTEN, NR_ZONE_WRITE_PENDING, NR_ZSPAGES, PSWPIN, PSWPOUT,
                                     THP_SWPOUT)
from ..jit import entry
from . import buddy as B
from . import page_alloc as pa
from .memcontrol import count_memcg_folio_events, mod_memcg_folio_state
from .mm_inline import folio_nr_pages
from .pgtable import AC_COMP, AC_FAST, AC_HIGHEST, AC_MT, AC_NID, AC_SWAPIN, VP_CPU, VP_LOCAL_NID, swp_offset
from .swap import acct_reclaim_writeback, folio_rotate_reclaimable

if TYPE_CHECKING:
    from ..init.main import Kernel


def swap_sector(si: swap_info_struct, offset: int, page_shift: int) -> int:
    """``swap_folio_sector``: one extent from the area's start (slot 0 at sector 0)."""
    return offset << (page_shift - 9)


@njit(cache=True)
def end_swap_bio_write(a, vs, folios, slots):
    """The write of ``folios`` to the pool slots from ``slots`` on (one per page) completed:
    the slots hold their lines, the folios leave writeback (``folio_end_writeback``), and
    one reclaim wrote (PG_reclaim) rotates to its inactive list's tail to be freed first."""
    for i in range(folios.shape[0]):
        pfn = folios[i]
        nr = folio_nr_pages(a, pfn)
        for p in range(nr):
            copy_content(a.content, a.content_valid, pfn + p, vs.swap_content, vs.swap_content_valid, slots[i] + p)
        if a.flags[pfn] & PG_reclaim_mask:
            a.flags[pfn] &= ~PG_reclaim_mask
            folio_rotate_reclaimable(a, pfn)
        __folio_end_writeback(a, pfn, nr)


@njit(cache=True)
def copy_content(src, src_valid, i, dst, dst_valid, j):
    """One page's lines from row ``i`` of ``src`` to row ``j`` of ``dst`` (a loop: a row
    assignment goes through numpy's generic copy, for every page swapped out or in)."""
    for line in range(src.shape[1]):
        dst[j, line] = src[i, line]
    dst_valid[j] = src_valid[i]


@njit(cache=True)
def __folio_start_writeback(a, pfn, nr):
    """``__folio_start_writeback`` of a swap-cache folio handed to the write (its dirty bit
    cleared for the I/O, ``folio_clear_dirty_for_io``): PG_writeback set, NR_WRITEBACK (the
    node's and its memcg's) and NR_ZONE_WRITE_PENDING up."""
    a.flags[pfn] = (a.flags[pfn] & ~PG_dirty_mask) | PG_writeback_mask
    a.node_stat[a.zone_node[B.page_zone(a, pfn)], NR_WRITEBACK] += nr
    mod_memcg_folio_state(a, pfn, NR_WRITEBACK, nr)
    a.vm_stat[B.page_zone(a, pfn), NR_ZONE_WRITE_PENDING] += nr


@njit(cache=True)
def __folio_end_writeback(a, pfn, nr):
    """``__folio_end_writeback``: PG_writeback cleared, NR_WRITEBACK and NR_ZONE_WRITE_PENDING
    down, NR_WRITTEN up."""
    a.flags[pfn] &= ~PG_writeback_mask
    nid = a.zone_node[B.page_zone(a, pfn)]
    a.node_stat[nid, NR_WRITEBACK] -= nr
    mod_memcg_folio_state(a, pfn, NR_WRITEBACK, -nr)
    a.vm_stat[B.page_zone(a, pfn), NR_ZONE_WRITE_PENDING] -= nr
    a.node_stat[nid, NR_WRITTEN] += nr


@njit(cache=True)
def folio_pages(a, folios, offsets):
    """Each folio's page count, and every page of the folios with the slot offset it goes
    to (a folio's pages to consecutive slots from its own offset). Compiled: reclaim calls
    it for every pass that writes to swap."""
    nr = np.empty(folios.shape[0], np.int64)
    for i in range(folios.shape[0]):
        nr[i] = folio_nr_pages(a, folios[i])
    pages = np.empty(nr.sum(), np.int64)
    page_offsets = np.empty(pages.shape[0], np.int64)
    j = 0
    for i in range(folios.shape[0]):
        for p in range(nr[i]):
            pages[j] = folios[i] + p
            page_offsets[j] = offsets[i] + p
            j += 1
    return nr, pages, page_offsets


def swap_writepage(k: "Kernel", si: swap_info_struct, folios: np.ndarray, offsets: np.ndarray) -> int:
    """Write the dirty swap-cache folios to their slots from ``offsets`` on (in slot order,
    as reclaim took them): zram stores them at once, page by page; a disk gets one bio per
    run of consecutive slots (the block plug merges the per-folio bios of one reclaim pass
    that way). The folios are clean and under writeback until the completion. Returns how
    many were written: zram stops at the first that zs_malloc finds no page for (those stay
    dirty)."""
    if si.bdev is None:
        return zram_write(k, si, folios, offsets)
    nr, pages, page_offsets = folio_pages(k.mem_map, folios, offsets)
    swap_writepage_submit(k.mem_map, folios)
    runs = np.flatnonzero(offsets[1:] != offsets[:-1] + nr[:-1]) + 1
    for run_folios, run_offsets, run_nr in zip(np.split(folios, runs), np.split(offsets, runs), np.split(nr, runs)):
        submit_bio(k, si.bdev, REQ_OP_WRITE, swap_sector(si, int(run_offsets[0]), k.arch.page_shift),
                   int(run_nr.sum()) << k.arch.page_shift,
                   lambda k, status, p=run_folios, o=run_offsets: end_swap_write(k, p, si.base + o))
    return folios.size


@njit(cache=True)
def swap_writepage_submit(a, folios):
    """The folios handed to the write are clean and under writeback (``__folio_start_writeback``);
    as each is submitted (``count_swpout_vm_event``) PSWPOUT counts its pages and THP_SWPOUT a
    PMD-size folio, globally and in its memcg."""
    for pfn in folios:
        nr = folio_nr_pages(a, pfn)
        __folio_start_writeback(a, pfn, nr)
        a.vm_events[PSWPOUT] += nr
        count_memcg_folio_events(a, pfn, PSWPOUT, nr)
        if nr >= HPAGE_PMD_NR:  # folio_test_pmd_mappable
            a.vm_events[THP_SWPOUT] += 1
            count_memcg_folio_events(a, pfn, THP_SWPOUT, 1)


def end_swap_write(k: "Kernel", folios: np.ndarray, slots: np.ndarray) -> None:
    """The completion of a swap write (``end_swap_bio_write``), counted for the reclaimers
    waiting for writeback (``acct_reclaim_writeback``)."""
    end_swap_bio_write(k.mem_map, k.vm_state, folios, slots)
    acct_reclaim_writeback(k, folios)


@njit(cache=True)
def end_swap_bio_read(a, vs, pfn, slot):
    """The read of pool slot ``slot`` into ``pfn`` completed (``folio_end_read``): its lines,
    up to date and unlocked."""
    copy_content(vs.swap_content, vs.swap_content_valid, slot, a.content, a.content_valid, pfn)
    a.flags[pfn] = (a.flags[pfn] | PG_uptodate_mask) & ~PG_locked_mask


@njit(cache=True)
def swap_read_folio_sync(a, vs, pfn, slot):
    """``swap_read_folio`` on a SWP_SYNCHRONOUS_IO area (zram): the read completes before the
    call returns. PSWPIN counts it, globally and in the folio's memcg."""
    vs.vm_events[PSWPIN] += 1
    count_memcg_folio_events(a, pfn, PSWPIN, 1)
    end_swap_bio_read(a, vs, pfn, slot)


def swap_read_folio(k: "Kernel", si: swap_info_struct, pfn: int, entry: int) -> None:
    """Read slot ``entry`` into the new folio ``pfn``, locked until the read completes
    (``swap_read_folio``; the faulting task waits for PG_locked)."""
    offset = swp_offset(np.uint64(entry))
    if si.bdev is None:
        swap_read_folio_sync(k.mem_map, k.vm_state, pfn, si.base + offset)
        return
    k.mem_map.flags[pfn] |= PG_locked_mask
    k.vm_events[PSWPIN] += 1  # counted as the read is submitted
    count_memcg_folio_events(k.mem_map, pfn, PSWPIN, 1)
    submit_bio(k, si.bdev, REQ_OP_READ, swap_sector(si, offset, k.arch.page_shift), 1 << k.arch.page_shift,
               lambda k, status: end_swap_bio_read(k.mem_map, k.vm_state, pfn, si.base + offset))


# ---- zram: compressed memory ----------------------------------------------------------------


@njit(cache=True)
def zram_pages_needed(vs, type_, stored):
    """zsmalloc pages for ``stored`` compressed slots of zram area ``type_``."""
    return np.int64(math.ceil(stored / vs.swap_zs_ratio[type_]))


@njit(cache=True)
def pages_same_filled(a, pfns):
    """Which pages hold one value in every line (``page_same_filled``: zram keeps the value
    in its table, no memory)."""
    same = np.ones(pfns.shape[0], np.bool_)
    for i in range(pfns.shape[0]):
        pfn = pfns[i]
        if a.content_valid[pfn]:
            for line in range(1, a.content.shape[1]):
                if a.content[pfn, line] != a.content[pfn, 0]:
                    same[i] = False
                    break
    return same


ZS_GFP = G.GFP_NOIO | G.__GFP_HIGHMEM | G.__GFP_MOVABLE  # zram's zs_malloc gfp for a swap write


def zram_write(k: "Kernel", si: swap_info_struct, folios: np.ndarray, offsets: np.ndarray) -> int:
    """zram's write of the folios to their slots from ``offsets`` (``zram_write_pages``,
    compiled); the pages zsmalloc needs and the allocator's fast path cannot give come from
    the slow path (``alloc_pages_bulk``: reclaim may run) before the write. When zsmalloc
    asked for pages, a zone whose watermark the allocations boosted wakes its kswapd
    (``wake_boosted_kswapds``, as after every compiled allocation). Returns how many folios
    were written."""
    a, vs = k.mem_map, k.vm_state
    had = int(si.row[SI_ZS_PAGES])
    written = zram_write_pages(a, vs, si.type, folios, offsets, True)
    if written < 0 or si.row[SI_ZS_PAGES] != had:
        pa.wake_boosted_kswapds(k)
    if written < 0:
        zs_add_pages(a, vs, si.type, pa.alloc_pages_bulk(k, ZS_GFP, -written, cpu=int(vs.vp[VP_CPU])))
        written = zram_write_pages(a, vs, si.type, folios, offsets, False)
    acct_reclaim_writeback(k, folios[:written])
    return written


@entry
def zram_write_pages(a, vs, type_, folios, offsets, may_grow):
    """zram's write (SWP_SYNCHRONOUS_IO) to area ``type_``: store the folios' pages in their
    slots from ``offsets``, in order (same-filled pages take no memory, the others 1/ratio of
    a page each in zsmalloc's pages, allocated as they are needed: ``zs_alloc_pages``); the
    writes of the folios stored whole are submitted and complete at once. Returns how many
    folios were written (fewer when zs_malloc finds no page: the rest stay dirty). With
    ``may_grow``, when the allocator's fast path cannot give zsmalloc all the pages it needs,
    returns minus how many it lacks and writes nothing: the caller gets those through the
    slow path (``zram_write``), then writes without ``may_grow``. The zones the allocations
    boosted (ZONE_BOOSTED_WATERMARK) wake their kswapd in Python afterwards."""
    row = vs.swap_si[type_]
    base = vs.swap_base[type_]
    zs_stored = vs.swap_zs_stored[base:base + row[SI_MAX]]
    nr, page_offsets, compressed, stored = zram_write_prepare(a, zs_stored, row[SI_ZS_NR], folios, offsets)
    need = zram_pages_needed(vs, type_, stored[-1]) - row[SI_ZS_PAGES]
    if need > 0 and may_grow:
        lacking = zs_alloc_pages(a, vs, type_, need)
        if lacking:
            return -lacking
    written, added = zram_write_complete(a, vs, zs_stored, base, folios, offsets, nr, page_offsets, compressed,
                                         stored, vs.swap_zs_ratio[type_], row[SI_ZS_PAGES])
    row[SI_ZS_NR] += added
    return written


@njit(cache=True)
def zs_alloc_pages(a, vs, type_, nr):
    """``nr`` new pages for zsmalloc of area ``type_`` from the allocator's fast path, one by
    one as the pages are stored; returns how many it could not get. The swap-in allocation
    context serves: the same zones, migratetype and watermark flags as zs_malloc's
    GFP_NOIO | __GFP_HIGHMEM | __GFP_MOVABLE (both __GFP_RECLAIM, movable, not compound),
    the running task's node and CPU; only the slow path, Python's, tells them apart."""
    ac = vs.ac[AC_SWAPIN]
    for i in range(nr):
        pfn = B.get_page_from_freelist(a, vs.zonelists[ac[AC_NID]], ac[AC_HIGHEST], 0, ac[AC_MT], ac[AC_FAST],
                                       vs.vp[VP_CPU], vs.vp[VP_LOCAL_NID], ac[AC_COMP] != 0, B.NODE_RECLAIM_NEVER)
        if pfn < 0:
            return nr - i
        zs_add_page(a, vs, type_, pfn)
    return np.int64(0)


@njit(cache=True)
def zram_write_prepare(a, zs_stored, zs_nr, folios, offsets):
    """The folios' page counts, the slot of each of their pages, which pages compress and
    the slots zsmalloc would hold as each is stored (``folio_pages`` + ``zram_stored_slots``
    in one call: zram writes once per reclaim pass)."""
    nr, pages, page_offsets = folio_pages(a, folios, offsets)
    compressed, stored = zram_stored_slots(a, zs_stored, zs_nr, pages, page_offsets)
    return nr, page_offsets, compressed, stored


@njit(cache=True)
def zram_write_complete(a, vs, zs_stored, base, folios, offsets, nr, page_offsets, compressed, stored, ratio,
                        nr_zspages):
    """The pages that fit stored (``zram_store``), the writes of the folios stored whole
    submitted and completed (``end_swap_bio_write`` on the area's pool slots from ``base``).
    Returns how many folios were written and the change in the slots zsmalloc holds."""
    stored_pages, added = zram_store(zs_stored, page_offsets, compressed, stored, ratio, nr_zspages)
    written = 0
    while written < folios.shape[0] and stored_pages >= nr[written]:
        stored_pages -= nr[written]
        written += 1
    swap_writepage_submit(a, folios[:written])
    end_swap_bio_write(a, vs, folios[:written], base + offsets[:written])
    return written, added


@njit(cache=True)
def zram_stored_slots(a, zs_stored, zs_nr, pfns, offsets):
    """Which pages compress (not same-filled), and the slots zsmalloc holds once each page
    of the write is stored (the slots overwritten no longer count)."""
    compressed = ~pages_same_filled(a, pfns)
    overwritten = 0
    for off in offsets:
        overwritten += np.int64(zs_stored[off])
    stored = zs_nr - overwritten + np.cumsum(compressed.astype(np.int64))
    return compressed, stored


@njit(cache=True)
def zram_store(zs_stored, offsets, compressed, stored, ratio, nr_zspages):
    """Store the pages whose compressed data fits in zsmalloc's ``nr_zspages`` pages; returns
    how many were stored and the change in the slots zsmalloc holds."""
    fits = 0
    for i in range(stored.shape[0]):
        if math.ceil(stored[i] / ratio) <= nr_zspages:
            fits += 1
    added = 0
    for i in range(fits):
        added += np.int64(compressed[i]) - np.int64(zs_stored[offsets[i]])
        zs_stored[offsets[i]] = compressed[i]
    return fits, added


@njit(cache=True)
def zram_free_slots(zs_stored, swap_map, clusters, nr_slots):
    """The slots of ``clusters`` free in the swap map drop their compressed data; returns
    how many held any."""
    dropped = 0
    for c in clusters:
        for slot in range(c * SWAPFILE_CLUSTER, min((c + 1) * SWAPFILE_CLUSTER, nr_slots)):
            if zs_stored[slot] and swap_map[slot] == 0:
                zs_stored[slot] = False
                dropped += 1
    return dropped


@njit(cache=True)
def zs_add_page(a, vs, type_, pfn):
    """zsmalloc of zram area ``type_`` takes the page ``pfn`` (NR_ZSPAGES)."""
    row = vs.swap_si[type_]
    vs.swap_zs_pages[vs.swap_base[type_] + row[SI_ZS_PAGES]] = pfn
    row[SI_ZS_PAGES] += 1
    a.vm_stat[B.page_zone(a, pfn), NR_ZSPAGES] += 1


@entry
def zs_add_pages(a, vs, type_, pfns):
    for pfn in pfns:
        zs_add_page(a, vs, type_, pfn)


@entry
def zs_free_pages(a, vs, type_, nr):
    """Give ``nr`` of zsmalloc's pages of zram area ``type_`` back, the last taken first."""
    row = vs.swap_si[type_]
    stack = vs.swap_zs_pages[vs.swap_base[type_]:]
    for _ in range(nr):
        row[SI_ZS_PAGES] -= 1
        pfn = stack[row[SI_ZS_PAGES]]
        a.vm_stat[B.page_zone(a, pfn), NR_ZSPAGES] -= 1
        B.__free_pages(a, pfn, 0, vs.vp[VP_CPU])


@njit(cache=True)
def zram_slot_free_notify(a, vs, type_, clusters):
    """Slots of ``clusters`` of zram area ``type_`` freed in the swap map drop their
    compressed data (``swap_slot_free_notify``), and zsmalloc's pages follow."""
    row = vs.swap_si[type_]
    base, max_ = vs.swap_base[type_], row[SI_MAX]
    row[SI_ZS_NR] -= zram_free_slots(vs.swap_zs_stored[base:base + max_], vs.swap_map[base:base + max_], clusters,
                                     max_)
    excess = row[SI_ZS_PAGES] - zram_pages_needed(vs, type_, row[SI_ZS_NR])
    if excess > 0:
        zs_free_pages(a, vs, type_, excess)
