"""Dumping a page to the kernel log (``mm/debug.c``, Linux 6.18): ``dump_page`` and
``__dump_folio``, with ``page->flags`` printed as ``%pGp`` does (``format_page_flags`` in
``lib/vsprintf.c``).

``dump_page(page, reason)`` prints, at KERN_WARNING, what the page's folio is:

* ``page: refcount:R mapcount:M mapping:P index:I pfn:F``: the folio's refcount, the page's
  own mapcount (``_mapcount + 1``), the folio's ``mapping`` (``%p``: NULL for anonymous
  folios, whose ``folio_mapping`` is none), the page's index (the folio's plus the page's
  offset in it) and pfn;
* for a large folio, ``head: order:O mapcount:M entire_mapcount:E nr_pages_mapped:N
  pincount:P`` (``folio_mapcount``; the pages mapped by ptes; ``_pincount``);
* ``anon flags: 0x...(names|node=N|zone=Z|lastcpupid=0x...)``: the folio's flags word, the
  PG_* names in ``__def_pageflag_names`` order, then the fields packed in the word's top bits;
* ``page dumped because: REASON``.

``page->flags`` packs the node, zone and last cpupid above the PG_* bits, at offsets the
kernel's configuration decides (``include/linux/page-flags-layout.h``); the layout here is
that of this host's 6.18 kernel (``/proc/config.gz``: CONFIG_NODES_SHIFT=10, CONFIG_NR_CPUS=256,
CONFIG_NUMA_BALANCING=y, ZONE_DMA and ZONE_DEVICE, SPARSEMEM_VMEMMAP, no MGLRU, no KASAN tags).
The last cpupid is never set (no NUMA balancing faults are simulated): all ones, as
``page_cpupid_reset_last`` leaves it.

Left out, being kernel addresses a simulation cannot reproduce: the ``raw:``/``head:`` hex
dumps of ``struct page`` (vmemmap addresses, randomised by KASLR), and for page-cache folios
the hashed ``%p`` of the mapping (printed as the kernel prints a pointer before its hash key
is ready, ``(____ptrval____)``) and ``dump_mapping``'s line. ``dump_page_owner`` prints
nothing without ``page_owner=on``.
"""

from __future__ import annotations

from ..include.linux.page_flags import (NR_PAGEFLAGS, PG_active, PG_arch_1, PG_arch_2, PG_dirty, PG_dropbehind,
                                        PG_head, PG_idle, PG_locked, PG_lru, PG_mlocked, PG_owner_2, PG_owner_priv_1,
                                        PG_private, PG_private_2, PG_reclaim, PG_referenced, PG_reserved,
                                        PG_swapbacked, PG_unevictable, PG_uptodate, PG_waiters, PG_workingset,
                                        PG_writeback, PG_young)
from . import buddy as B
from .memory import PAGE_MAPPING_ANON

# include/trace/events/mmflags.h: __def_pageflag_names, in its order (no hwpoison:
# CONFIG_MEMORY_FAILURE=n; idle and young: CONFIG_PAGE_IDLE_FLAG=y; arch_2: x86 uses it)
PAGEFLAG_NAMES = (
    (PG_locked, "locked"), (PG_waiters, "waiters"), (PG_referenced, "referenced"), (PG_uptodate, "uptodate"),
    (PG_dirty, "dirty"), (PG_lru, "lru"), (PG_active, "active"), (PG_workingset, "workingset"),
    (PG_owner_priv_1, "owner_priv_1"), (PG_owner_2, "owner_2"), (PG_arch_1, "arch_1"), (PG_reserved, "reserved"),
    (PG_private, "private"), (PG_private_2, "private_2"), (PG_writeback, "writeback"), (PG_head, "head"),
    (PG_reclaim, "reclaim"), (PG_swapbacked, "swapbacked"), (PG_unevictable, "unevictable"),
    (PG_dropbehind, "dropbehind"), (PG_mlocked, "mlocked"), (PG_idle, "idle"), (PG_young, "young"),
    (PG_arch_2, "arch_2"),
)
PAGEFLAGS_MASK = (1 << NR_PAGEFLAGS) - 1

# include/linux/page-flags-layout.h for the host's configuration (see the module docstring)
BITS_PER_LONG = 64
NODES_SHIFT = 10  # CONFIG_NODES_SHIFT
MAX_NR_ZONES = 5  # DMA, DMA32, NORMAL, MOVABLE, DEVICE
ZONES_SHIFT = (MAX_NR_ZONES - 1).bit_length()  # 3: MAX_NR_ZONES <= 8
NR_CPUS = 256  # CONFIG_NR_CPUS
LAST__PID_SHIFT = 8
LAST__CPU_SHIFT = (NR_CPUS - 1).bit_length()  # NR_CPUS_BITS: order_base_2(CONFIG_NR_CPUS)
LAST_CPUPID_SHIFT = LAST__PID_SHIFT + LAST__CPU_SHIFT
NODES_PGSHIFT = BITS_PER_LONG - NODES_SHIFT  # SECTIONS_WIDTH is 0 with SPARSEMEM_VMEMMAP
ZONES_PGSHIFT = NODES_PGSHIFT - ZONES_SHIFT
LAST_CPUPID_PGSHIFT = ZONES_PGSHIFT - LAST_CPUPID_SHIFT
LAST_CPUPID_MASK = (1 << LAST_CPUPID_SHIFT) - 1
HASHED_POINTER = "(____ptrval____)"  # %p of a kernel address (the simulator has none)


def page_flags_word(a, pfn: int) -> int:
    """``page->flags`` as the kernel packs it: PG_* bits, last cpupid, zone, node."""
    zid = B.page_zone(a, pfn)
    return (int(a.flags[pfn]) & PAGEFLAGS_MASK | LAST_CPUPID_MASK << LAST_CPUPID_PGSHIFT
            | int(a.zone_idx[zid]) << ZONES_PGSHIFT | int(a.zone_node[zid]) << NODES_PGSHIFT)


def format_page_flags(flags: int) -> str:
    """``%pGp``: the word, then the set PG_* names and the packed fields, ``|``-separated."""
    names = [name for bit, name in PAGEFLAG_NAMES if flags >> bit & 1]
    names += [f"node={flags >> NODES_PGSHIFT & (1 << NODES_SHIFT) - 1}",
              f"zone={flags >> ZONES_PGSHIFT & (1 << ZONES_SHIFT) - 1}",
              f"lastcpupid={flags >> LAST_CPUPID_PGSHIFT & LAST_CPUPID_MASK:#x}"]
    return f"{flags:#x}({'|'.join(names)})"


def dump_folio_lines(a, pfn: int) -> list[str]:
    """``__dump_folio``'s lines for the page ``pfn``."""
    head = B.compound_head(a, pfn)
    large = bool(int(a.flags[head]) >> PG_head & 1)
    nr = 1 << int(a.order[head]) if large else 1
    anon = bool(a.mapping[head] & PAGE_MAPPING_ANON)
    mapping = "0" * 16 if anon or not a.mapping[head] else HASHED_POINTER
    lines = [f"page: refcount:{a.refcount[head]} mapcount:{a.mapcount[pfn]} mapping:{mapping} "
             f"index:{int(a.index[head]) + pfn - head:#x} pfn:{pfn:#x}"]
    if large:
        ptes = a.mapcount[head:head + nr]
        entire = int(a.entire_mapcount[head])
        lines.append(f"head: order:{a.order[head]} mapcount:{int(ptes.sum()) + entire} entire_mapcount:{entire} "
                     f"nr_pages_mapped:{int((ptes > 0).sum())} pincount:{a.pincount[head]}")
    lines.append(f"{'anon ' if anon else ''}flags: {format_page_flags(page_flags_word(a, head))}")
    return lines


def dump_page(k, pfn: int, reason: str) -> None:
    """``dump_page``: the folio's lines, then the reason, at KERN_WARNING."""
    for line in dump_folio_lines(k.mem_map, pfn) + [f"page dumped because: {reason}"]:
        k.log.warn(line)
