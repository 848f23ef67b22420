"""Architectures (``arch/``): page size, physical address width, which zones exist.

An ``Arch`` carries the compile-time facts the generic mm code reads: ``PAGE_SHIFT``,
``MAX_PHYSMEM_BITS``, ``SECTION_SIZE_BITS``, the configured zones, whether the kernel is
64-bit and NUMA-capable. Boot flows live in ``arch/<name>/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Arch:
    name: str  # "x86_64", "i386", "arm64"
    page_shift: int = 12
    max_physmem_bits: int = 46
    section_size_bits: int = 27
    is_64bit: bool = True
    pae: bool = False  # i386 only
    la57: bool = False  # x86-64 5-level paging
    va_bits: int = 48  # arm64 VA_BITS
    zones: tuple[str, ...] = ("DMA", "DMA32", "Normal", "Movable", "Device")

    @property
    def PAGE_SIZE(self) -> int:
        return 1 << self.page_shift

    @property
    def PAGES_PER_SECTION(self) -> int:
        return 1 << (self.section_size_bits - self.page_shift)

    @property
    def pageblock_order(self) -> int:
        """HUGETLB_PAGE_ORDER: the PMD huge page (4 MiB on non-PAE i386, 2 MiB on 4K x86)."""
        if self.name == "i386" and not self.pae:
            return 10
        return self.page_shift - 3

    @property
    def MAX_PAGE_ORDER(self) -> int:
        """Largest buddy order (inclusive; ``MAX_ORDER - 1`` before 6.4). arm64 16K/64K: 11/13."""
        return {12: 10, 14: 11, 16: 13}[self.page_shift]

    @property
    def NR_PAGE_ORDERS(self) -> int:
        return self.MAX_PAGE_ORDER + 1

    def PFN_PHYS(self, pfn: int) -> int:
        return pfn << self.page_shift

    def PHYS_PFN(self, addr: int) -> int:
        return addr >> self.page_shift

    def PFN_UP(self, addr: int) -> int:
        return (addr + self.PAGE_SIZE - 1) >> self.page_shift

    def PFN_DOWN(self, addr: int) -> int:
        return addr >> self.page_shift

    @property
    def PAGE_OFFSET(self) -> int:
        """Start of the kernel's direct map of all physical memory (no KASLR)."""
        if self.name == "x86_64":
            return 0xFF11000000000000 if self.la57 else 0xFFFF888000000000
        if self.name == "i386":
            return 0xC0000000
        return (1 << 64) - (1 << self.va_bits)  # arm64: the linear map starts the kernel half

    @property
    def DEFAULT_MAP_WINDOW(self) -> int:
        """Where mmap places mappings without a hint above it: 47-bit on x86-64 also with LA57,
        the whole user space elsewhere."""
        return (1 << 47) - self.PAGE_SIZE if self.name == "x86_64" else self.TASK_SIZE

    @property
    def TASK_SIZE(self) -> int:
        """Top of user space (``TASK_SIZE_MAX``): 47-bit on x86-64, 56-bit with LA57, where
        mmap still stays below the 47-bit ``DEFAULT_MAP_WINDOW`` unless a hint asks for more."""
        if self.name == "x86_64":
            return (1 << (56 if self.la57 else 47)) - self.PAGE_SIZE
        if self.name == "i386":
            return self.PAGE_OFFSET
        return 1 << self.va_bits

    def __pa(self, vaddr: int) -> int:
        """Physical address of a direct-map (logical) address; ValueError outside it."""
        if vaddr < self.PAGE_OFFSET:
            raise ValueError(f"{vaddr:#x} is not a direct-map address (below PAGE_OFFSET {self.PAGE_OFFSET:#x})")
        return vaddr - self.PAGE_OFFSET

    def __va(self, paddr: int) -> int:
        """The direct-map address of a physical address (lowmem only on 32-bit)."""
        return paddr + self.PAGE_OFFSET

    pa = __pa  # callable without name mangling
    va = __va

    @property
    def paging_levels(self) -> int:
        if self.name == "x86_64":
            return 5 if self.la57 else 4
        if self.name == "i386":
            return 3 if self.pae else 2
        # arm64: levels = ceil((va_bits - page_shift) / (page_shift - 3))
        return -(-(self.va_bits - self.page_shift) // (self.page_shift - 3))


def make_arch(name: str, *, la57: bool = False, pae: bool = False, page_size: int = 4096,
              va_bits: int = 48, sparsemem: bool | None = None) -> Arch:
    """Build the Arch for a configuration, validating it like Kconfig would."""
    if page_size & (page_size - 1) or page_size < 4096:
        raise ConfigError(f"page size {page_size} is not a power of two >= 4096")
    page_shift = page_size.bit_length() - 1
    if name in ("x86_64", "x86-64", "amd64"):
        if page_size != 4096:
            raise ConfigError("x86-64 only has 4 KiB base pages")
        return Arch("x86_64", 12, 52 if la57 else 46, 27, True, la57=la57,
                    va_bits=57 if la57 else 48)
    if name in ("i386", "i686", "i586", "x86", "x86_32"):
        if page_size != 4096:
            raise ConfigError("32-bit x86 only has 4 KiB base pages")
        return Arch("i386", 12, 36 if pae else 32, 29 if pae else 26, False, pae=pae,
                    zones=("DMA", "Normal", "HighMem", "Movable"), va_bits=32)
    if name in ("arm64", "aarch64"):
        if page_shift not in (12, 14, 16):
            raise ConfigError(f"arm64 granule must be 4K, 16K or 64K, not {page_size}")
        # SECTION_SIZE_BITS: 27 for 4K/16K, 29 for 64K since 5.12 (30 before: Kernel adjusts)
        return Arch("arm64", page_shift, 48 if va_bits <= 48 else 52,
                    29 if page_shift == 16 else 27, True, va_bits=va_bits)
    raise ConfigError(f"unknown architecture {name!r} (x86_64, i386, arm64)")
