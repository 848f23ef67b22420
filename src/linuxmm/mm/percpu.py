"""The first per-cpu chunk (``mm/percpu.c: setup_per_cpu_areas``, embed allocator), Linux 6.18.

Each possible CPU gets a unit of ``percpu_pages_per_cpu`` pages (static + reserved +
dynamic areas, 53 pages on the development host), taken from memblock on the CPU's node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..init.main import Kernel


def setup_per_cpu_areas(k: "Kernel") -> None:
    pages = k.config.percpu_pages_per_cpu
    for cpu in range(k.desc.nr_cpus):
        k.memblock.memblock_alloc_try_nid(pages << k.arch.page_shift, k.arch.PAGE_SIZE,
                                          k.cpu_to_node.get(cpu, 0))
    k.log.info(f"percpu: Embedded {pages} pages/cpu")
