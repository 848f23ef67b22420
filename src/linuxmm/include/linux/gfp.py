"""GFP flags (``include/linux/gfp_types.h``, ``gfp.h``) and their names (``%pGg``), Linux 6.18.

Bit values are the kernel's, so masks print as in dmesg: ``mode:0xcc0(GFP_KERNEL)``.
``gfp_zone`` and ``gfp_migratetype`` map a mask to the highest usable zone and the free
list it allocates from.
"""

from __future__ import annotations

import errno

from ...errors import KernelError

___GFP_DMA = 1 << 0
___GFP_HIGHMEM = 1 << 1
___GFP_DMA32 = 1 << 2
___GFP_MOVABLE = 1 << 3
___GFP_RECLAIMABLE = 1 << 4
___GFP_HIGH = 1 << 5
___GFP_IO = 1 << 6
___GFP_FS = 1 << 7
___GFP_ZERO = 1 << 8
___GFP_DIRECT_RECLAIM = 1 << 10
___GFP_KSWAPD_RECLAIM = 1 << 11
___GFP_WRITE = 1 << 12
___GFP_NOWARN = 1 << 13
___GFP_RETRY_MAYFAIL = 1 << 14
___GFP_NOFAIL = 1 << 15
___GFP_NORETRY = 1 << 16
___GFP_MEMALLOC = 1 << 17
___GFP_COMP = 1 << 18
___GFP_NOMEMALLOC = 1 << 19
___GFP_HARDWALL = 1 << 20
___GFP_THISNODE = 1 << 21
___GFP_ACCOUNT = 1 << 22
___GFP_ZEROTAGS = 1 << 23

__GFP_DMA, __GFP_HIGHMEM, __GFP_DMA32, __GFP_MOVABLE = ___GFP_DMA, ___GFP_HIGHMEM, ___GFP_DMA32, ___GFP_MOVABLE
__GFP_RECLAIMABLE, __GFP_HIGH, __GFP_IO, __GFP_FS = ___GFP_RECLAIMABLE, ___GFP_HIGH, ___GFP_IO, ___GFP_FS
__GFP_ZERO, __GFP_DIRECT_RECLAIM, __GFP_KSWAPD_RECLAIM = ___GFP_ZERO, ___GFP_DIRECT_RECLAIM, ___GFP_KSWAPD_RECLAIM
__GFP_WRITE, __GFP_NOWARN, __GFP_RETRY_MAYFAIL, __GFP_NOFAIL = ___GFP_WRITE, ___GFP_NOWARN, ___GFP_RETRY_MAYFAIL, ___GFP_NOFAIL
__GFP_NORETRY, __GFP_MEMALLOC, __GFP_COMP, __GFP_NOMEMALLOC = ___GFP_NORETRY, ___GFP_MEMALLOC, ___GFP_COMP, ___GFP_NOMEMALLOC
__GFP_HARDWALL, __GFP_THISNODE, __GFP_ACCOUNT, __GFP_ZEROTAGS = ___GFP_HARDWALL, ___GFP_THISNODE, ___GFP_ACCOUNT, ___GFP_ZEROTAGS
__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM
GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE

GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE
GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM

# %pGg: composite names first, in include/trace/events/mmflags.h order
GFPFLAG_NAMES: list[tuple[int, str]] = [
    (GFP_TRANSHUGE, "GFP_TRANSHUGE"), (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"), (GFP_HIGHUSER, "GFP_HIGHUSER"),
    (GFP_USER, "GFP_USER"), (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"), (GFP_KERNEL, "GFP_KERNEL"),
    (GFP_NOFS, "GFP_NOFS"), (GFP_ATOMIC, "GFP_ATOMIC"), (GFP_NOIO, "GFP_NOIO"),
    (GFP_NOWAIT, "GFP_NOWAIT"), (GFP_DMA, "GFP_DMA"), (__GFP_HIGHMEM, "__GFP_HIGHMEM"),
    (GFP_DMA32, "GFP_DMA32"), (__GFP_HIGH, "__GFP_HIGH"), (__GFP_IO, "__GFP_IO"), (__GFP_FS, "__GFP_FS"),
    (__GFP_NOWARN, "__GFP_NOWARN"), (__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
    (__GFP_NOFAIL, "__GFP_NOFAIL"), (__GFP_NORETRY, "__GFP_NORETRY"), (__GFP_COMP, "__GFP_COMP"),
    (__GFP_ZERO, "__GFP_ZERO"), (__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"), (__GFP_MEMALLOC, "__GFP_MEMALLOC"),
    (__GFP_THISNODE, "__GFP_THISNODE"), (__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
    (__GFP_MOVABLE, "__GFP_MOVABLE"), (__GFP_ACCOUNT, "__GFP_ACCOUNT"), (__GFP_WRITE, "__GFP_WRITE"),
    (__GFP_RECLAIM, "__GFP_RECLAIM"), (__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"), (__GFP_ZEROTAGS, "__GFP_ZEROTAGS"),
    (__GFP_HARDWALL, "__GFP_HARDWALL"),
]
_BY_NAME = {name: mask for mask, name in GFPFLAG_NAMES}


def format_gfp(gfp: int) -> str:
    """``%pGg``: ``GFP_KERNEL``, ``GFP_HIGHUSER_MOVABLE|__GFP_ZERO``, with a hex rest if any."""
    parts, rest = [], gfp
    for mask, name in GFPFLAG_NAMES:
        if mask and rest & mask == mask:
            parts.append(name)
            rest &= ~mask
    if rest:
        parts.append(f"{rest:#x}")
    return "|".join(parts) if parts else "none"


def parse_gfp(text: str) -> int:
    """``GFP_KERNEL|__GFP_ZERO`` or a number; EINVAL names the unknown flag."""
    mask = 0
    for part in filter(None, (p.strip() for p in text.replace(",", "|").split("|"))):
        if part in _BY_NAME:
            mask |= _BY_NAME[part]
        else:
            try:
                mask |= int(part, 0)
            except ValueError:
                raise KernelError(errno.EINVAL, f"unknown GFP flag {part!r}") from None
    return mask


def gfp_migratetype(gfp: int) -> int:
    """MIGRATE_MOVABLE for __GFP_MOVABLE, MIGRATE_RECLAIMABLE for __GFP_RECLAIMABLE, else UNMOVABLE."""
    if gfp & __GFP_MOVABLE:
        return 1
    if gfp & __GFP_RECLAIMABLE:
        return 2
    return 0


def _zone_of_bits(bits: int) -> str:
    """The zone the GFP_ZONE_TABLE gives a combination of the zone modifiers."""
    if bits & __GFP_DMA:
        return "DMA"
    if bits & __GFP_DMA32:
        return "DMA32"
    if bits & __GFP_HIGHMEM:
        return "Movable" if bits & __GFP_MOVABLE else "HighMem"
    return "Normal"


GFP_ZONE_TABLE = [_zone_of_bits(bits) for bits in range(GFP_ZONEMASK + 1)]


def gfp_zone(gfp: int, zone_names: list[str]) -> int:
    """Index of the highest zone ``gfp`` may use (the kernel's GFP_ZONE_TABLE); a zone this
    kernel does not have (no HighMem on 64-bit, no Movable) is ZONE_NORMAL."""
    name = GFP_ZONE_TABLE[gfp & GFP_ZONEMASK]
    return zone_names.index(name if name in zone_names else "Normal")
