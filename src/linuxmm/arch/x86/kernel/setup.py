"""``setup_arch`` for x86 (``arch/x86/kernel/setup.c``): the memory-relevant steps.

Order as in the kernel (6.18, with older releases' messages): firmware map -> early
parameters (``mem=``/``memmap=`` edit the table as they are parsed) -> setup_data ->
user-defined map -> ``trim_bios_range`` -> ``max_pfn`` -> MTRR trimming -> ``max_low_pfn``
(32-bit: the lowmem/highmem split) -> early reservations -> memblock -> EFI reservations
-> NUMA -> ``dma_reserve`` (≤6.9) -> zone limits and ``free_area_init``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....errors import ConfigError
from ....kernel.params import memparse, parse_cmdline, parse_early_param
from ....mm.sparse import sparse_init
from ..mm import init as x86_mm_init
from ..mm import init_32
from ..mm import numa as x86_numa
from .cpu.mtrr import mtrr_trim_uncached_memory
from .e820 import (E820_TYPE_ACPI, E820_TYPE_PRAM, E820_TYPE_RAM, E820_TYPE_RESERVED,
                   E820_TYPE_RESERVED_KERN, E820_TYPE_SOFT_RESERVED, E820Entry, E820Table,
                   ULLONG_MAX, map_header)

if TYPE_CHECKING:
    from ....init.main import Kernel

MAX_DMA_PFN = 0x1000  # 16 MiB
BIOS_START_MIN, BIOS_START_MAX = 0x20000, 0x9F000
X86_RESERVE_LOW = 64 << 10
LOAD_PHYSICAL_ADDR = 16 << 20  # where the kernel image is loaded (no KASLR)


def e820_prefix(k: "Kernel") -> str:
    """Until 4.15 (4.18 has none) e820.c prefixed its own messages with ``e820: ``."""
    return "e820: " if k.version < (4, 16) else ""


def setup_arch(k: "Kernel") -> None:
    e820__memory_setup(k)
    parse_early_param(k.params, k.desc.cmdline, k.log)
    x86_memory_params(k)
    e820__reserve_setup_data(k)
    e820__finish_early_params(k)
    efi_remove_e820_mmio(k)
    trim_bios_range(k)
    k.max_pfn = e820__end_of_ram_pfn(k)
    if mtrr_trim_uncached_memory(k, k.max_pfn):
        k.max_pfn = e820__end_of_ram_pfn(k)
    if not k.arch.is_64bit:
        init_32.find_low_pfn_range(k)
    elif k.max_pfn > (1 << (32 - k.arch.page_shift)):
        k.max_low_pfn = e820_end_pfn(k, 1 << (32 - k.arch.page_shift))
    else:
        k.max_low_pfn = k.max_pfn
    early_reservations(k)
    e820__memblock_setup(k)
    reserve_initrd(k)
    reserve_real_mode(k)
    trim_snb_memory(k)
    if k.desc.esrt:
        efi_mem_reserve(k, *k.desc.esrt)
    x86_numa.initmem_init(k)
    if k.version < (6, 10) and k.arch.is_64bit:
        k.dma_reserve = memblock_find_dma_reserve(k)
    sparse_init(k)
    x86_mm_init.zone_sizes_init(k)
    for addr, size in k.desc.efi_late_reserve:  # ACPI BGRT logo, reserved after paging_init
        efi_mem_reserve(k, addr, size)


def max_arch_pfn(k: "Kernel") -> int:
    return 1 << (k.arch.max_physmem_bits - k.arch.page_shift)


def e820_end_pfn(k: "Kernel", limit_pfn: int) -> int:
    last = min(k.e820.end_pfn(limit_pfn), max_arch_pfn(k))
    k.log.info(f"{e820_prefix(k)}last_pfn = {last:#x} max_arch_pfn = {max_arch_pfn(k):#x}")
    return last


def e820__end_of_ram_pfn(k: "Kernel") -> int:
    return e820_end_pfn(k, max_arch_pfn(k))


def e820__memory_setup(k: "Kernel") -> None:
    """Take the firmware table, sanitise it, keep a pristine copy, print it."""
    table = E820Table([E820Entry(s, e - s, t) for s, e, t in k.desc.e820 or []])
    table.e820__update_table()
    k.e820_firmware = table.copy()
    k.e820 = table
    k.e820_userdef = False
    k.log.info(map_header(k.version < (4, 16)))
    table.print_table(k.log, "BIOS-e820")


def x86_memory_params(k: "Kernel") -> None:
    """``mem=`` and ``memmap=`` (``parse_memopt``, ``parse_memmap_opt``) in command-line order."""
    for name, value in parse_cmdline(k.desc.cmdline):
        if name == "mem":
            _parse_memopt(k, value)
        elif name == "memmap":
            for clause in (value or "").split(","):
                _parse_memmap_one(k, clause)


def e820__finish_early_params(k: "Kernel") -> None:
    if k.e820_userdef:
        k.e820.e820__update_table()
        k.log.info(map_header(k.version < (4, 16), "user-defined"))
        k.e820.print_table(k.log, "user")


def _parse_memopt(k: "Kernel", value: str | None) -> None:
    if value == "nopentium" and not k.arch.is_64bit:
        return
    if value == "nopentium":
        k.log.warn("mem=nopentium ignored! (only supported on x86_32)")
    size = memparse(value)[0] if value and value != "nopentium" else 0
    if size == 0:
        k.log.warn("Malformed early option 'mem'")
        return
    k.e820_userdef = True
    k.e820.e820__range_remove(k.log, size, ULLONG_MAX - size, E820_TYPE_RAM)


def _parse_memmap_one(k: "Kernel", clause: str) -> None:
    """``exactmap``, ``nn@ss`` (RAM), ``nn#ss`` (ACPI), ``nn$ss`` (reserved), ``nn!ss`` (PRAM), ``nn``."""
    if clause == "exactmap":
        k.e820.entries = []
        k.e820_userdef = True
        return
    size, rest = memparse(clause)
    if rest == clause or size == 0:
        k.log.warn("Malformed early option 'memmap'")
        return
    k.e820_userdef = True
    if not rest:  # a bare size behaves like mem=
        k.e820.e820__range_remove(k.log, size, ULLONG_MAX - size, E820_TYPE_RAM)
        return
    kinds = {"@": E820_TYPE_RAM, "#": E820_TYPE_ACPI, "$": E820_TYPE_RESERVED, "!": E820_TYPE_PRAM}
    start, tail = memparse(rest[1:])
    if rest[0] not in kinds or tail or rest[1:] == "":
        k.log.warn("Malformed early option 'memmap'")
        return
    if rest[0] == "$":
        k.e820.e820__range_remove(k.log, start, size, 0, check_type=False)
    k.e820.e820__range_add(start, size, kinds[rest[0]])


def e820__reserve_setup_data(k: "Kernel") -> None:
    """Bootloader setup_data blobs become RESERVED_KERN (printed ``usable ==> usable``).

    Since 4.12 the kexec copy of the table is updated too, so each blob prints twice.
    """
    copies = 2 if k.version >= (4, 12) else 1
    for addr, size in k.desc.setup_data:
        for _ in range(copies):
            k.e820.e820__range_update(k.log, addr, size, E820_TYPE_RAM, E820_TYPE_RESERVED_KERN)
    if k.desc.setup_data:
        k.e820.e820__update_table()


EFI_MMIO_REMOVE_MIN = 256 << 10


def efi_remove_e820_mmio(k: "Kernel") -> None:
    """6.2 (``efi_init``): large EFI MMIO ranges leave the e820 map, so PCI may use the space."""
    for i, start, size in k.desc.efi_mmio:
        end = start + size - 1
        if size >= EFI_MMIO_REMOVE_MIN:
            k.log.info(f"efi: Remove mem{i:02d}: MMIO range=[{start:#010x}-{end:#010x}] "
                       f"({size >> 20}MB) from e820 map")
            k.e820.e820__range_remove(k.log, start, size, E820_TYPE_RESERVED)
        else:
            k.log.info(f"efi: Not removing mem{i:02d}: MMIO range=[{start:#010x}-{end:#010x}] "
                       f"({size >> 10}KB) from e820 map")


def trim_bios_range(k: "Kernel") -> None:
    """The first page is BIOS data; 640K-1M is the legacy VGA/BIOS hole."""
    k.e820.e820__range_update(k.log, 0, 4096, E820_TYPE_RAM, E820_TYPE_RESERVED)
    k.e820.e820__range_remove(k.log, 0xA0000, 0x100000 - 0xA0000, E820_TYPE_RAM)
    k.e820.e820__update_table()


def e820__memblock_setup(k: "Kernel") -> None:
    """RAM entries become memblock.memory, trimmed to whole pages."""
    limit = (1 << 64) if k.arch.is_64bit else (1 << (36 if k.arch.pae else 32))
    for e in k.e820.entries:
        if e.end > limit:
            continue
        if e.type == E820_TYPE_SOFT_RESERVED:
            k.memblock.memblock_reserve(e.addr, e.size)
        elif e.type in (E820_TYPE_RAM, E820_TYPE_RESERVED_KERN):
            k.memblock.memblock_add(e.addr, e.size)
    k.memblock.memblock_trim_memory(k.arch.PAGE_SIZE)
    if not k.memblock.memory.regions:
        raise ConfigError(f"{k.desc.name}: no usable memory (no whole page of RAM in the e820 map)")


def early_reservations(k: "Kernel") -> None:
    """What early boot reserves below 16 MiB before the zones are sized.

    ≥5.13 the whole first MiB (``reserve_real_mode``); before, the ``reservelow`` 64 KiB,
    the BIOS/EBDA region up to 1 MiB and the 24 KiB real-mode trampoline. EFI firmware's
    boot-services reservations below 16 MiB are a machine input. The kernel image sits at
    16 MiB and above.
    """
    mb = k.memblock
    mb.memblock_reserve(LOAD_PHYSICAL_ADDR, k.config.kernel_image_kb << 10)  # [_text, _end)
    if k.version >= (5, 13):
        mb.memblock_reserve(0, 1 << 20)
    else:
        mb.memblock_reserve(0, X86_RESERVE_LOW)
        mb.memblock_reserve(bios_start(k), (1 << 20) - bios_start(k))
    if k.desc.efi_low_reserved_pages:
        mb.memblock_reserve(1 << 20, k.desc.efi_low_reserved_pages << k.arch.page_shift)


def bios_start(k: "Kernel") -> int:
    """``reserve_bios_regions``: from the BDA's low-memory size (EFI leaves it empty) to 1 MiB."""
    if k.desc.efi:
        return BIOS_START_MAX
    low = next((e.end for e in k.e820_firmware.entries if e.addr == 0 and e.type == E820_TYPE_RAM), 0)
    return min(max(low, BIOS_START_MIN), BIOS_START_MAX)


def reserve_initrd(k: "Kernel") -> None:
    if k.desc.initrd:
        start, size = k.desc.initrd
        k.log.info(f"RAMDISK: [mem {start:#010x}-{start + size - 1:#010x}]")
        k.memblock.memblock_reserve(start, size)


def reserve_real_mode(k: "Kernel") -> None:
    """≤5.12: the trampoline is allocated top-down below 1 MiB (after memblock has RAM)."""
    if k.version < (5, 13):
        k.memblock.memblock_phys_alloc_range(k.config.realmode_size, k.arch.PAGE_SIZE, 0, 1 << 20)


SNB_GFX_BAD_PAGES = (0x20050000, 0x20110000, 0x20130000, 0x20138000, 0x40004000)


def trim_snb_memory(k: "Kernel") -> None:
    """``trim_platform_memory_ranges``: Sandy Bridge graphics cannot use five pages, and the
    kernel keeps it away from everything below 1 MiB as well."""
    if not k.desc.snb_gfx:
        return
    k.log.debug("reserving inaccessible SNB gfx pages")
    k.memblock.memblock_reserve(0, 1 << 20)
    for addr in SNB_GFX_BAD_PAGES:
        k.memblock.memblock_reserve(addr, k.arch.PAGE_SIZE)


def memblock_find_dma_reserve(k: "Kernel") -> int:
    """RAM pages below 16 MiB minus the free ones: what early boot already took there."""
    shift = k.arch.page_shift
    nr_pages = sum(min(hi, MAX_DMA_PFN) - min(lo, MAX_DMA_PFN)
                   for lo, hi, _ in k.memblock.for_each_mem_pfn_range(None, shift))
    free = 0
    for start, end in k.memblock.free_ranges():
        lo, hi = min(k.arch.PFN_UP(start), MAX_DMA_PFN), min(end >> shift, MAX_DMA_PFN)
        free += max(0, hi - lo)
    return nr_pages - free


def efi_mem_reserve(k: "Kernel", addr: int, size: int) -> None:
    """``efi_arch_mem_reserve``: firmware data in boot-services RAM becomes reserved."""
    lo, hi = addr & ~0xFFF, (addr + size + 0xFFF) & ~0xFFF
    if any(e.type == E820_TYPE_RAM and e.addr <= lo and hi <= e.end for e in k.e820.entries):
        k.e820.e820__range_update(k.log, lo, hi - lo, E820_TYPE_RAM, E820_TYPE_RESERVED)
        k.e820.e820__update_table()
