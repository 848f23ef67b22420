"""``setup_arch`` for x86 (``arch/x86/kernel/setup.c``), the memory-relevant steps, Linux 6.18.

Order as in the kernel: firmware map -> early parameters (``mem=``, ``memmap=``) ->
``trim_bios_range`` -> ``max_pfn`` -> MTRR trimming -> ``max_low_pfn`` -> memblock ->
NUMA -> zone limits and ``free_area_init``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....kernel.params import memparse, parse_cmdline, parse_early_param
from ...x86.kernel import e820 as e820mod
from ...x86.kernel.e820 import (E820_TYPE_ACPI, E820_TYPE_NVS, E820_TYPE_PRAM, E820_TYPE_RAM,
                                E820_TYPE_RESERVED, E820_TYPE_RESERVED_KERN,
                                E820_TYPE_SOFT_RESERVED, E820Table, ULLONG_MAX, map_header)
from ..mm import init as x86_mm_init
from ..mm import numa as x86_numa

if TYPE_CHECKING:
    from ....init.main import Kernel

MAX_DMA_PFN = 0x1000  # 16 MiB
MAX_DMA32_PFN = 0x100000  # 4 GiB


def setup_arch(k: "Kernel") -> None:
    e820__memory_setup(k)
    parse_early_param(k.params, k.desc.cmdline, k.log)
    e820__finish_early_params(k)
    trim_bios_range(k)
    e820__reserve_setup_data(k)
    k.max_pfn = e820__end_of_ram_pfn(k)
    if mtrr_trim_uncached_memory(k):
        k.max_pfn = e820__end_of_ram_pfn(k)
    if k.arch.is_64bit:
        if k.max_pfn > (1 << (32 - k.arch.page_shift)):
            k.max_low_pfn = e820_end_pfn(k, 1 << (32 - k.arch.page_shift))
        else:
            k.max_low_pfn = k.max_pfn
    else:
        x86_mm_init.find_low_pfn_range(k)
    e820__memblock_setup(k)
    x86_numa.initmem_init(k)
    x86_mm_init.zone_sizes_init(k)


def max_arch_pfn(k: "Kernel") -> int:
    return 1 << (k.arch.max_physmem_bits - k.arch.page_shift)


def e820_end_pfn(k: "Kernel", limit_pfn: int) -> int:
    last = min(k.e820.end_pfn(limit_pfn), max_arch_pfn(k))
    prefix = "e820: " if k.version < (4, 12) else ""
    k.log.info(f"{prefix}last_pfn = {last:#x} max_arch_pfn = {max_arch_pfn(k):#x}")
    return last


def e820__end_of_ram_pfn(k: "Kernel") -> int:
    return e820_end_pfn(k, max_arch_pfn(k))


def e820__memory_setup(k: "Kernel") -> None:
    """Take the firmware table, sanitise it, keep a pristine copy, print it."""
    table = E820Table([e820mod.E820Entry(s, e - s, t) for s, e, t in k.desc.e820 or []])
    table.e820__update_table()
    k.e820_firmware = table.copy()
    k.e820 = table
    k.e820_userdef = False
    k.log.info(map_header(k.version))
    table.print_table(k.log, "BIOS-e820")


def e820__finish_early_params(k: "Kernel") -> None:
    """``mem=`` and ``memmap=`` edit the table in command-line order; print the user map."""
    for name, value in parse_cmdline(k.desc.cmdline):
        if name == "mem":
            _parse_memopt(k, value)
        elif name == "memmap":
            for clause in (value or "").split(","):
                _parse_memmap_one(k, clause)
    if k.e820_userdef:
        k.e820.e820__update_table()
        prefix = "e820: " if k.version < (4, 12) else ""
        k.log.info(f"{prefix}user-defined physical RAM map:")
        k.e820.print_table(k.log, "user")


def _parse_memopt(k: "Kernel", value: str | None) -> None:
    if not value:
        k.log.warn("Malformed early option 'mem'")
        return
    if value == "nopentium":
        if k.arch.is_64bit:
            k.log.warn("mem=nopentium ignored! (only supported on x86_32)")
            k.log.warn("Malformed early option 'mem'")
        return
    size, _ = memparse(value)
    if size == 0:
        k.log.warn("Malformed early option 'mem'")
        return
    k.e820_userdef = True
    k.e820.e820__range_remove(k.log, size, ULLONG_MAX - size, E820_TYPE_RAM)


def _parse_memmap_one(k: "Kernel", clause: str) -> None:
    """``parse_memmap_one``: ``exactmap``, ``nn@ss``, ``nn#ss``, ``nn$ss``, ``nn!ss``, ``nn``."""
    if clause == "exactmap":
        k.e820.entries = []
        k.e820_userdef = True
        return
    size, rest = memparse(clause)
    if rest == clause or size == 0 and not rest:
        k.log.warn("Malformed early option 'memmap'")
        return
    if not rest:  # bare size: like mem=
        k.e820_userdef = True
        k.e820.e820__range_remove(k.log, size, ULLONG_MAX - size, E820_TYPE_RAM)
        return
    kind, start_text = rest[0], rest[1:]
    start, tail = memparse(start_text)
    types = {"@": E820_TYPE_RAM, "#": E820_TYPE_ACPI, "$": E820_TYPE_RESERVED, "!": E820_TYPE_PRAM}
    if kind not in types or tail:
        k.log.warn("Malformed early option 'memmap'")
        return
    k.e820_userdef = True
    if kind == "$":
        k.e820.e820__range_remove(k.log, start, size, 0, check_type=False)
    k.e820.e820__range_add(start, size, types[kind])


def trim_bios_range(k: "Kernel") -> None:
    """The first page is BIOS data; 640K-1M is the legacy VGA/BIOS hole."""
    k.e820.e820__range_update(k.log, 0, 4096, E820_TYPE_RAM, E820_TYPE_RESERVED)
    k.e820.e820__range_remove(k.log, 0xA0000, 0x100000 - 0xA0000, E820_TYPE_RAM)
    k.e820.e820__update_table()


def e820__reserve_setup_data(k: "Kernel") -> None:
    """Bootloader setup_data blobs become RESERVED_KERN (printed ``usable ==> usable``)."""
    for addr, length in k.desc.setup_data:
        k.e820.e820__range_update(k.log, addr, length, E820_TYPE_RAM, E820_TYPE_RESERVED_KERN)
    if k.desc.setup_data:
        k.e820.e820__update_table()


def mtrr_trim_uncached_memory(k: "Kernel") -> bool:
    """RAM the MTRRs do not map write-back is dropped below 4 GiB (``mtrr/cleanup.c``)."""
    trim = k.desc.mtrr_trim_pfn
    if trim is None or trim >= k.max_pfn:
        return False
    start = trim << k.arch.page_shift
    if trim < (1 << 20):
        k.e820.e820__range_update(k.log, start, (1 << 32) - start, E820_TYPE_RAM, E820_TYPE_RESERVED)
    k.e820.e820__update_table()
    return True


def e820__memblock_setup(k: "Kernel") -> None:
    """RAM entries become memblock.memory, trimmed to whole pages."""
    limit = (1 << 64) if k.arch.is_64bit else (1 << (36 if k.arch.pae else 32))
    for e in k.e820.entries:
        if e.end > limit:
            continue
        if e.type == E820_TYPE_SOFT_RESERVED:
            k.memblock.memblock_reserve(e.addr, e.size)
            continue
        if e.type not in (E820_TYPE_RAM, E820_TYPE_RESERVED_KERN):
            continue
        k.memblock.memblock_add(e.addr, e.size)
    k.memblock.memblock_trim_memory(k.arch.PAGE_SIZE)


__all__ = ["setup_arch", "MAX_DMA_PFN", "MAX_DMA32_PFN", "E820_TYPE_NVS"]
