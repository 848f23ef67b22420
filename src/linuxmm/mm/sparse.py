"""SPARSEMEM sections and the virtual memmap (``mm/sparse.c``, ``mm/sparse-vmemmap.c``), Linux 6.18.

``sparse_init`` marks the sections that hold memory present and allocates each present
section's struct pages from its node (top-down), which is most of what boot reserves on a
big machine: ``PAGES_PER_SECTION * sizeof(struct page)`` bytes per section (2 MiB for
128 MiB sections of 4 KiB pages). ``nr_memmap_boot_pages`` counts them for /proc/vmstat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..init.main import Kernel


def sparse_init(k: "Kernel") -> None:
    """Present sections, and one memmap buffer per node (``sparse_buffer_init``), above 16 MiB."""
    k.memblocks_present()
    k.nr_memmap_boot_pages = 0
    if not k.config.sparsemem:
        return
    per = k.PAGES_PER_SECTION
    section_map = -(-(per * k.sizeof_struct_page) // k.arch.PAGE_SIZE) * k.arch.PAGE_SIZE
    sections: dict[int, int] = {}
    for lo, hi, nid in k.sparsemem_pfn_ranges():
        for nr in range(lo // per, (hi - 1) // per + 1):
            sections.setdefault(nr, nid)
    for nid in sorted(set(sections.values())):
        size = section_map * sum(1 for n in sections.values() if n == nid)
        base = (k.memblock.memblock_phys_alloc_range(size, section_map, 16 << 20, 1 << 64, nid)
                or k.memblock.memblock_phys_alloc_range(size, section_map, 0, 1 << 64))
        if base:
            k.nr_memmap_boot_pages += size >> k.arch.page_shift
