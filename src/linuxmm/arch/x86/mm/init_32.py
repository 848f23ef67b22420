"""32-bit x86 lowmem/highmem split (``arch/x86/mm/init_32.c``, ``pgtable_32_areas.h``, ``fixmap.h``).

Lowmem is what the kernel maps permanently above PAGE_OFFSET (3 GiB): it ends at MAXMEM =
VMALLOC_END - PAGE_OFFSET - VMALLOC_RESERVE. VMALLOC_END sits two pages below the pkmap
area, which is carved downward from FIXADDR_START (the permanent fixmap slots; since 4.15
from below the cpu_entry_area, itself below all slots including the boot-time ioremap ones,
and since 4.19 below the LDT remap), each step aligned down to a PMD.
``find_low_pfn_range`` sets max_low_pfn from it (``highmem=`` can move it) and
``initmem_init`` prints the HIGHMEM/LOWMEM lines. The fixmap slot count follows a typical
distribution configuration (kmap slots per CPU: 20, 41 with CONFIG_DEBUG_HIGHMEM); the result
only moves when it crosses a PMD boundary. Checked against the "virtual kernel memory layout"
blocks of the ROSA 3.14/4.1/4.6, Fedora 5.0 and Debian 4.19 logs (fixmap, pkmap, vmalloc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ....init.main import Kernel

PAGE_OFFSET = 0xC0000000
FIXADDR_TOP = 0xFFFFF000
VMALLOC_OFFSET = 8 << 20


def fixmap_permanent_pages(version, nr_cpus: int, km_type_nr: int) -> int:
    """``__end_of_permanent_fixed_addresses`` for a distribution config (enum fixed_addresses)."""
    n = 1 + (1 if version < (3, 16) else 0)  # FIX_HOLE, FIX_VDSO (32-bit, ≤3.15)
    n += 2 + 1 + 1 + 64  # DBGP, EARLYCON, OHCI1394, APIC_BASE, IO_APIC x64
    n += (16 if version >= (5, 11) else km_type_nr) * nr_cpus  # kmap slots per CPU (kmap_local since 5.11)
    n += 1 + 1 + 2  # PCIE_MCFG, PARAVIRT_BOOTMAP, TEXT_POKE0/1
    if version >= (4, 13):
        n += 2  # APEI GHES IRQ/NMI
    return n


def fixmap_pages(version, pae: bool, nr_cpus: int, km_type_nr: int) -> int:
    """``__end_of_fixed_addresses``: the permanent slots, then the boot-time ioremap slots."""
    ptrs_per_pte = 512 if pae else 1024
    n = fixmap_permanent_pages(version, nr_cpus, km_type_nr)
    total_bt = 256 if version < (4, 0) else 512  # early ioremap slots, kept within one pte page
    if (n ^ (n + total_bt - 1)) & -ptrs_per_pte:
        n = n + total_bt - (n & (total_bt - 1))
    return n + total_bt + 2  # WP_TEST, TBOOT_BASE


def vmalloc_end(version, pae: bool, nr_cpus: int, km_type_nr: int = 20) -> int:
    """Before 4.15 the pkmap hangs below FIXADDR_START (the permanent slots only); from 4.15
    the cpu_entry_area sits below FIXADDR_TOT_START (boot-time slots included)."""
    page = 4096
    pmd = (2 << 20) if pae else (4 << 20)

    def align(x: int) -> int:
        return x & ~(pmd - 1)

    if version < (4, 15):
        top = FIXADDR_TOP - fixmap_permanent_pages(version, nr_cpus, km_type_nr) * page
        last_pkmap = 512 if pae else 1024
        pkmap = align(top - page * (last_pkmap + 1))
    else:
        top = FIXADDR_TOP - fixmap_pages(version, pae, nr_cpus, km_type_nr) * page
        cea = align(top - page * (40 * nr_cpus + 1))  # cpu_entry_area: 40 pages per CPU
        pkmap = align(align(cea - page) - page) if version >= (4, 19) else align(cea - page)
    return pkmap - 2 * page


def maxmem_pfn(k: "Kernel") -> int:
    reserve = k.config.vmalloc_reserve
    if k.params.vmalloc_reserve is not None:
        reserve = k.params.vmalloc_reserve + VMALLOC_OFFSET
    end = vmalloc_end(k.version, k.arch.pae, k.config.NR_CPUS, k.config.km_type_nr)
    return (end - PAGE_OFFSET - reserve) >> k.arch.page_shift


def pages_to_mb(pages: int) -> int:
    return pages >> (20 - 12)


def find_low_pfn_range(k: "Kernel") -> None:
    maxmem = maxmem_pfn(k)
    highmem_pages = k.params.highmem_pages
    if k.max_pfn <= maxmem:  # lowmem_pfn_init
        k.max_low_pfn = k.max_pfn
        if highmem_pages:
            if highmem_pages >= k.max_pfn:
                k.log.printk(f"highmem size ({pages_to_mb(highmem_pages)}MB) is bigger than pages "
                             f"available ({pages_to_mb(k.max_pfn)}MB)!", 3)
            elif k.max_low_pfn - highmem_pages < (64 << 20) >> 12:
                k.log.printk(f"highmem size ({pages_to_mb(highmem_pages)}MB) results in <64MB "
                             "lowmem, ignoring it!", 3)
            else:
                k.max_low_pfn -= highmem_pages
        return
    k.max_low_pfn = maxmem  # highmem_pfn_init
    if highmem_pages is None:
        highmem_pages = k.max_pfn - maxmem
    if highmem_pages + maxmem < k.max_pfn:
        k.max_pfn = maxmem + highmem_pages
    if highmem_pages + maxmem > k.max_pfn:
        k.log.warn(f"only {pages_to_mb(k.max_pfn - maxmem)}MB highmem pages available, ignoring "
                   f"highmem size of {pages_to_mb(highmem_pages)}MB!")
    if not k.arch.pae and k.max_pfn > (1 << 20):
        k.max_pfn = 1 << 20
        k.log.warn("Warning: only 4GB will be used. Use a HIGHMEM64G enabled kernel!")


def initmem_init(k: "Kernel") -> None:
    """The 32-bit single-node setup: print the split, put all memory on node 0."""
    highstart = k.max_low_pfn if k.max_pfn > k.max_low_pfn else k.max_pfn
    k.log.printk(f"{pages_to_mb(k.max_pfn - highstart)}MB HIGHMEM available.", 5)
    k.log.printk(f"{pages_to_mb(k.max_low_pfn)}MB LOWMEM available.", 5)
    k.log.info(f"  mapped low ram: 0 - {k.max_low_pfn << k.arch.page_shift:08x}")
    k.log.info(f"  low ram: 0 - {k.max_low_pfn << k.arch.page_shift:08x}")
