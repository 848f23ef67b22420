"""``setup_arch`` for arm64 (``arch/arm64/kernel/setup.c``, ``arch/arm64/mm/init.c``,
``drivers/base/arch_numa.c``), the memory-relevant steps, Linux 6.18 with older rules.

The UEFI/device-tree memory becomes memblock.memory as given (neighbouring regions that the
log prints separately differ in flags: EFI runtime regions are NOMAP); NUMA comes from the
described nodes or a faked node 0; the zone limits follow the DMA addressing rules of the
version (``max_zone_phys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....errors import ConfigError
from ....kernel.params import parse_early_param
from ....mm.memblock import MEMBLOCK_NOMAP
from ....mm.mm_init import free_area_init
from ...x86.mm import numa as generic_numa

if TYPE_CHECKING:
    from ....init.main import Kernel


def setup_arch(k: "Kernel") -> None:
    parse_early_param(k.params, k.desc.cmdline, k.log)
    arm64_memblock_init(k)
    k.max_pfn = k.max_low_pfn = k.memblock.memblock_end_of_DRAM() >> k.arch.page_shift
    arm64_numa_init(k)
    zone_sizes_init(k)


def arm64_memblock_init(k: "Kernel") -> None:
    flags, prev_end = 0, None
    for start, end in k.desc.memory or []:
        flags = flags ^ MEMBLOCK_NOMAP if start == prev_end else 0
        k.memblock.memory.add(start, end - start, flags=flags)
        prev_end = end
    pa_limit = 1 << k.arch.max_physmem_bits  # memory above PHYS_MASK_SHIFT cannot be addressed
    k.memblock.memory.remove(pa_limit, (1 << 64) - pa_limit)
    k.memblock.memblock_trim_memory(k.arch.PAGE_SIZE)
    if not k.memblock.memory.regions:
        raise ConfigError(f"{k.desc.name}: no usable memory (no whole page in the memory ranges)")


def arm64_numa_init(k: "Kernel") -> None:
    if k.config.numa and k.desc.numa and not k.params.numa_off:
        generic_numa.numa_init_from_description(k, announce_merges=k.version >= (6, 13),
                                                announce_distance=False)
        numa_register_memoryless_nodes(k)
    else:
        if k.config.numa:
            start = 0 if k.version < (5, 2) else k.memblock.memblock_start_of_DRAM()
            end = k.memblock.memblock_end_of_DRAM()
            k.log.info("NUMA: NUMA turned off" if k.params.numa_off else "NUMA: No NUMA configuration found")
            k.log.info(f"NUMA: Faking a node at [mem {start:#018x}-{end - 1:#018x}]")
        generic_numa.numa_register_memblks(k, [(0, 1 << 64, 0, False)])
        k.NODE_DATA(0).cpus = list(range(k.desc.nr_cpus))
    k.memblocks_present()


def numa_register_memoryless_nodes(k: "Kernel") -> None:
    """``numa_register_nodes``: every node the SRAT names (by memory or by CPU) gets its
    pg_data_t and comes online, memory or not (``NUMA: Initmem setup node N [<memory-less node>]``)."""
    for n in k.desc.numa:
        if n.nid in k.pgdat:
            continue
        k.set_node_online(n.nid)
        k.NODE_DATA(n.nid).cpus = list(n.cpus)
        for cpu in n.cpus:
            k.cpu_to_node[cpu] = n.nid


def max_zone_phys(k: "Kernel", bits: int) -> int:
    """End of the memory a device with ``bits`` of DMA address reaches."""
    start, end = k.memblock.memblock_start_of_DRAM(), k.memblock.memblock_end_of_DRAM()
    if k.version >= (6, 12):  # limits are addresses now; DRAM above 4 GiB lifts the limit
        limit = (1 << bits) - 1
        if start > 0xFFFFFFFF:
            limit = (1 << 64) - 1
        elif start > limit:
            limit = 0xFFFFFFFF
        return min(limit, end - 1) + 1
    offset = start & ~((1 << bits) - 1)  # the 4 GiB window the DRAM starts in
    return min(offset + (1 << bits), end)


def zone_sizes_init(k: "Kernel") -> None:
    shift = k.arch.page_shift
    limits = {"Normal": k.max_pfn}
    if k.config.zone_dma:
        zone_dma_bits = 30 if k.version < (5, 10) else 32  # 5.10+: the DT's / IORT's reach, capped at 32
        if k.desc.zone_dma_bits is not None and k.version >= (5, 10):
            zone_dma_bits = min(zone_dma_bits, k.desc.zone_dma_bits)
        limits["DMA"] = max_zone_phys(k, zone_dma_bits) >> shift
    if k.config.zone_dma32:
        limits["DMA32"] = max_zone_phys(k, 32) >> shift
    free_area_init(k, limits)
