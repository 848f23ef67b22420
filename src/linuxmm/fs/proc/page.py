"""``/proc/kpageflags`` (``fs/proc/page.c``: ``stable_page_flags``), Linux 6.18.

One u64 per page frame, the ``KPF_*`` bits of ``include/uapi/linux/kernel-page-flags.h``:
pseudo flags worked out from the page (mapped, anonymous, compound head/tail, THP, zero page,
free in the buddy allocator, page table, no struct page at all) and the folio's ``PG_*``
bits copied as they are. The read stops at ``max_pfn`` rounded up to a memory section
(``get_max_dump_pfn``). PG_mlocked, PG_lru and PG_unevictable are copied as the simulator
keeps them (the LRU and mlock's page side are not all modelled yet).
"""

from __future__ import annotations

import errno

import numpy as np

from ...errors import KernelError
from ...include.linux import page_flags as PG

KPF_LOCKED, KPF_ERROR, KPF_REFERENCED, KPF_UPTODATE, KPF_DIRTY, KPF_LRU, KPF_ACTIVE, KPF_SLAB = range(8)
KPF_WRITEBACK, KPF_RECLAIM, KPF_BUDDY, KPF_MMAP, KPF_ANON, KPF_SWAPCACHE, KPF_SWAPBACKED = range(8, 15)
KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_HUGE, KPF_UNEVICTABLE, KPF_HWPOISON, KPF_NOPAGE = range(15, 21)
KPF_KSM, KPF_THP, KPF_OFFLINE, KPF_ZERO_PAGE, KPF_IDLE, KPF_PGTABLE = range(21, 27)
KPF_RESERVED, KPF_MLOCKED, KPF_OWNER_2, KPF_PRIVATE, KPF_PRIVATE_2, KPF_OWNER_PRIVATE, KPF_ARCH = range(32, 39)
KPF_UNCACHED, KPF_SOFTDIRTY, KPF_ARCH_2, KPF_ARCH_3 = range(39, 43)

# kpf_copy_bit: the PG_* bits copied from the folio's flags
COPIED = ((KPF_IDLE, PG.PG_idle), (KPF_LOCKED, PG.PG_locked), (KPF_DIRTY, PG.PG_dirty),
          (KPF_UPTODATE, PG.PG_uptodate), (KPF_WRITEBACK, PG.PG_writeback), (KPF_LRU, PG.PG_lru),
          (KPF_REFERENCED, PG.PG_referenced), (KPF_ACTIVE, PG.PG_active), (KPF_RECLAIM, PG.PG_reclaim),
          (KPF_SWAPBACKED, PG.PG_swapbacked), (KPF_UNEVICTABLE, PG.PG_unevictable),
          (KPF_MLOCKED, PG.PG_mlocked), (KPF_RESERVED, PG.PG_reserved), (KPF_OWNER_2, PG.PG_owner_2),
          (KPF_PRIVATE, PG.PG_private), (KPF_PRIVATE_2, PG.PG_private_2),
          (KPF_OWNER_PRIVATE, PG.PG_owner_priv_1), (KPF_ARCH, PG.PG_arch_1))


def is_free_buddy_page(a, pfn: int, max_order: int) -> bool:
    """``pfn`` lies in a free block of the buddy allocator (the head of one of its orders)."""
    from ...mm.buddy import buddy_order

    for order in range(max_order + 1):
        if buddy_order(a, pfn & ~((1 << order) - 1)) >= order:
            return True
    return False


def _pseudo_flags(k, pfn: int, head: int) -> int:
    """KPF_MMAP, KPF_ANON, compound, THP and zero-page flags."""
    from ...mm import pgtable as P
    from ...mm.memory import PAGE_MAPPING_ANON, folio_entire_mapcount

    a, vs = k.mem_map, k.vm_state
    u = 0
    if a.mapcount[pfn] > 0 or folio_entire_mapcount(a, head) > 0:  # page_mapped
        u |= 1 << KPF_MMAP
    anon = bool(a.mapping[head] & PAGE_MAPPING_ANON)
    u |= (1 << KPF_ANON) if anon else 0
    large = bool(a.flags[head] & PG.PG_head_mask)
    u |= (1 << KPF_COMPOUND_HEAD) if pfn == head and large else 0
    u |= (1 << KPF_COMPOUND_TAIL) if pfn != head else 0
    zero = vs is not None and head in (int(vs.vp[P.VP_ZERO_PFN]), int(vs.vp[P.VP_HUGE_ZERO_PFN]))
    if large and not zero and (anon or a.flags[head + 1] & np.uint64(1 << PG.PG_large_rmappable)):
        u |= 1 << KPF_THP  # any rmappable large folio: every anonymous one is
    elif zero:
        u |= (1 << KPF_ZERO_PAGE) | ((1 << KPF_THP) if large else 0)
    return u


def stable_page_flags(k, pfn: int) -> int:
    from ...mm.buddy import P_MAX_ORDER, compound_head

    a, vs = k.mem_map, k.vm_state
    if pfn >= len(a.flags):
        return 1 << KPF_NOPAGE
    head = int(compound_head(a, pfn))
    u = _pseudo_flags(k, pfn, head)
    if a.refcount[pfn] == 0 and is_free_buddy_page(a, pfn, int(a.params[P_MAX_ORDER])):
        u |= 1 << KPF_BUDDY
    if vs is not None and pfn in vs.pt_pfn:  # PageTable
        u |= 1 << KPF_PGTABLE
    flags = int(a.flags[head])
    for kpf, pg in COPIED:
        u |= ((flags >> pg) & 1) << kpf
    swapcache = (1 << PG.PG_swapbacked) | (1 << PG.PG_swapcache)
    u |= (1 << KPF_SWAPCACHE) if flags & swapcache == swapcache else 0
    return u


def get_max_dump_pfn(k) -> int:
    """``max_pfn`` rounded up to a memory section: early sections' memmaps are whole."""
    return k.round_up_section(k.max_pfn)


def kpageflags_read(k, pfn: int, count: int) -> list[int]:
    """``count`` entries from ``pfn``; fewer (none) past ``get_max_dump_pfn``."""
    if isinstance(pfn, bool) or not isinstance(pfn, int) or pfn < 0:
        raise KernelError(errno.EINVAL, f"kpageflags: pfn must be a non-negative integer, not {pfn!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise KernelError(errno.EINVAL, f"kpageflags: count must be a non-negative integer, not {count!r}")
    end = min(pfn + count, get_max_dump_pfn(k))
    return [stable_page_flags(k, p) for p in range(pfn, end)]
