"""x86 zone limits (``arch/x86/mm/init.c: zone_sizes_init``; ``init_32.c`` for highmem).

64-bit: DMA below 16 MiB, DMA32 below 4 GiB, Normal up to ``max_low_pfn`` (= max_pfn).
32-bit: DMA below 16 MiB, Normal up to ``max_low_pfn`` (lowmem), HighMem up to ``max_pfn``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....mm.mm_init import free_area_init

if TYPE_CHECKING:
    from ....init.main import Kernel

MAX_DMA_PFN = 0x1000
MAX_DMA32_PFN = 0x100000


def zone_sizes_init(k: "Kernel") -> None:
    if k.arch.is_64bit:
        k.max_low_pfn = k.max_pfn  # init_mem_mapping on 64-bit
    limits = {"DMA": min(MAX_DMA_PFN, k.max_low_pfn), "Normal": k.max_low_pfn}
    if k.arch.is_64bit:
        limits["DMA32"] = min(MAX_DMA32_PFN, k.max_low_pfn)
    else:
        limits["HighMem"] = k.max_pfn
    free_area_init(k, limits)
