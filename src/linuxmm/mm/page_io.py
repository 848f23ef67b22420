"""Swap I/O (``mm/page_io.c``) and zram (``drivers/block/zram``), Linux 6.18.

``swap_writepage`` writes a swap-cache folio to its slot: on a partition or a swap file
through ``submit_bio`` on the area's disk (``__swap_writepage`` -> ``swap_writepage_bdev``),
on zram into compressed memory (``SWP_SYNCHRONOUS_IO``: no disk, no queue). The folio is
under writeback until the completion (``end_swap_bio_write``) stores its lines in the slot
(PSWPOUT counts the write when it is submitted). ``swap_read_folio`` reads a slot into a new, locked folio the same way
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

from ..block.bio import REQ_OP_READ, REQ_OP_WRITE
from ..block.blk_core import submit_bio
from ..include.linux import gfp as G
from ..include.linux.page_flags import PG_dirty, PG_locked, PG_uptodate, PG_writeback
from ..include.linux.swap import swap_info_struct
from ..include.linux.vmstat import NR_ZSPAGES, PSWPIN, PSWPOUT
from . import buddy as B
from . import page_alloc as pa
from .pgtable import swp_offset

if TYPE_CHECKING:
    from ..init.main import Kernel


def _flag(k: "Kernel", pfn: int, bit: int, on: bool) -> None:
    if on:
        k.mem_map.flags[pfn] |= np.uint64(1 << bit)
    else:
        k.mem_map.flags[pfn] &= ~np.uint64(1 << bit)


def swap_sector(si: swap_info_struct, offset: int, page_shift: int) -> int:
    """``swap_folio_sector``: one extent from the area's start (slot 0 at sector 0)."""
    return offset << (page_shift - 9)


def swap_writepage(k: "Kernel", si: swap_info_struct, pfn: int, entry: int) -> int:
    """Write the swap-cache folio ``pfn`` to its slot: 0, or a negative errno (the folio
    stays dirty). The folio is clean and under writeback until the write completes."""
    offset = swp_offset(np.uint64(entry))
    if si.bdev is None and not zram_write_page(k, si, pfn, offset):
        return -12  # -ENOMEM: zs_malloc found no page
    _flag(k, pfn, PG_dirty, False)
    _flag(k, pfn, PG_writeback, True)
    k.vm_events[PSWPOUT] += 1  # count_swpout_vm_event, as the write is submitted

    def end_swap_bio_write(k, status: int) -> None:
        a = k.mem_map
        si.content[offset] = a.content[pfn]
        si.content_valid[offset] = a.content_valid[pfn]
        _flag(k, pfn, PG_writeback, False)

    if si.bdev is None:
        end_swap_bio_write(k, 0)
    else:
        submit_bio(k, si.bdev, REQ_OP_WRITE, swap_sector(si, offset, k.arch.page_shift), 1 << k.arch.page_shift,
                   end_swap_bio_write)
    return 0


def swap_read_folio(k: "Kernel", si: swap_info_struct, pfn: int, entry: int) -> None:
    """Read slot ``entry`` into the new folio ``pfn``, locked until the read completes
    (``swap_read_folio``; the faulting task waits for PG_locked)."""
    offset = swp_offset(np.uint64(entry))
    _flag(k, pfn, PG_locked, True)
    k.vm_events[PSWPIN] += 1  # counted as the read is submitted

    def end_swap_bio_read(k, status: int) -> None:
        a = k.mem_map
        a.content[pfn] = si.content[offset]
        a.content_valid[pfn] = si.content_valid[offset]
        _flag(k, pfn, PG_uptodate, True)  # folio_end_read: up to date and unlocked
        _flag(k, pfn, PG_locked, False)

    if si.bdev is None:
        end_swap_bio_read(k, 0)
    else:
        submit_bio(k, si.bdev, REQ_OP_READ, swap_sector(si, offset, k.arch.page_shift), 1 << k.arch.page_shift,
                   end_swap_bio_read)


# ---- zram: compressed memory ----------------------------------------------------------------


def zram_pages_needed(si: swap_info_struct, stored: int) -> int:
    """zsmalloc pages for ``stored`` compressed slots."""
    return math.ceil(stored / si.compression_ratio)


def page_same_filled(k: "Kernel", pfn: int) -> bool:
    """Every line of the page holds one value (``page_same_filled``: zram keeps the value
    in its table, no memory)."""
    a = k.mem_map
    return not a.content_valid[pfn] or bool((a.content[pfn] == a.content[pfn, 0]).all())


def zram_write_page(k: "Kernel", si: swap_info_struct, pfn: int, offset: int) -> bool:
    """Store the page in slot ``offset``: same-filled pages take no memory, the others
    1/ratio of a page each in zsmalloc's pages, allocated as they are needed. False when
    zs_malloc finds no page."""
    same = page_same_filled(k, pfn)
    stored = int(np.count_nonzero(si.zs_stored)) - int(si.zs_stored[offset]) + (0 if same else 1)
    while len(si.zram_pages) < zram_pages_needed(si, stored):
        page = pa.alloc_pages(k, G.GFP_NOIO | G.__GFP_HIGHMEM | G.__GFP_MOVABLE, 0)
        if page is None:
            return False
        si.zram_pages.append(page)
        k.mem_map.vm_stat[B.page_zone(k.mem_map, page), NR_ZSPAGES] += 1
    si.zs_stored[offset] = not same
    return True


def zs_free_pages(k: "Kernel", si: swap_info_struct, nr: int) -> None:
    """Give ``nr`` of zsmalloc's pages back."""
    for _ in range(nr):
        pfn = si.zram_pages.pop()
        k.mem_map.vm_stat[B.page_zone(k.mem_map, pfn), NR_ZSPAGES] -= 1
        pa.free_pages(k, pfn, 0)


def zram_slot_free_notify(k: "Kernel", si: swap_info_struct, swap_map: np.ndarray) -> None:
    """Slots freed in the swap map drop their compressed data (``swap_slot_free_notify``),
    and zsmalloc's pages follow."""
    si.zs_stored &= swap_map != 0
    excess = len(si.zram_pages) - zram_pages_needed(si, int(np.count_nonzero(si.zs_stored)))
    if excess > 0:
        zs_free_pages(k, si, excess)
