"""Boot parameters the memory manager reads (``mm/mm_init.c``, ``arch/x86/mm/numa.c``,
``arch/x86/mm/init_32.c``, ``mm/memory_hotplug.c``, ``mm/huge_memory.c``).

``BootParams`` holds their parsed values; each ``early_param`` handler below validates its
value the way the kernel does, returning ``-EINVAL`` where the kernel rejects it.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ..kernel.params import ULLONG_MAX, early_param, memparse, simple_strtoull


@dataclass
class BootParams:
    required_kernelcore: int = 0  # pages
    required_kernelcore_percent: int = 0
    required_movablecore: int = 0
    required_movablecore_percent: int = 0
    mirrored_kernelcore: bool = False
    movable_node: bool = False
    numa_off: bool = False
    highmem_pages: int | None = None  # highmem= (i386), pages
    vmalloc_reserve: int | None = None  # vmalloc= (i386), bytes
    transparent_hugepage: str | None = None
    page_shift: int = 12


def _parse_core(params: BootParams, value: str | None, which: str, log) -> int:
    """``cmdline_parse_core``: a byte size (memparse) or ``NN%`` of all memory.

    Like the kernel it only rejects a missing value; unparsable text reads as 0 (no zone),
    and a percentage above 100 trips a WARN_ON but is kept.
    """
    if not value:
        return -errno.EINVAL
    pct, rest = simple_strtoull(value)
    if rest != value and rest.startswith("%"):
        pct &= ULLONG_MAX  # unsigned long long, as in C
        if pct > 100:
            log.warn(f"WARNING: at mm/mm_init.c cmdline_parse_core: {which}={value} is above 100%")
        setattr(params, f"required_{which}_percent", pct)
        setattr(params, f"required_{which}", 0)
    else:
        setattr(params, f"required_{which}", memparse(value)[0] >> params.page_shift)
        setattr(params, f"required_{which}_percent", 0)
    return 0


@early_param("kernelcore")
def cmdline_parse_kernelcore(params: BootParams, value: str | None, log) -> int:
    if value == "mirror":
        params.mirrored_kernelcore = True
        return 0
    return _parse_core(params, value, "kernelcore", log)


@early_param("movablecore")
def cmdline_parse_movablecore(params: BootParams, value: str | None, log) -> int:
    return _parse_core(params, value, "movablecore", log)


@early_param("movable_node")
def cmdline_parse_movable_node(params: BootParams, value: str | None, log) -> int:
    params.movable_node = True
    return 0


@early_param("numa")
def numa_setup(params: BootParams, value: str | None, log) -> int:
    if not value:
        return -errno.EINVAL
    if value.startswith("off"):
        params.numa_off = True
    return 0


@early_param("highmem")
def parse_highmem(params: BootParams, value: str | None, log) -> int:
    if not value:
        return -errno.EINVAL
    params.highmem_pages = memparse(value)[0] >> params.page_shift
    return 0


@early_param("vmalloc")
def parse_vmalloc(params: BootParams, value: str | None, log) -> int:
    if not value:
        return -errno.EINVAL
    params.vmalloc_reserve = memparse(value)[0]
    return 0


@early_param("transparent_hugepage")
def setup_transparent_hugepage(params: BootParams, value: str | None, log) -> int:
    if value not in ("always", "madvise", "never"):
        log.warn("transparent_hugepage= cannot parse, ignored")
        return 0
    params.transparent_hugepage = value
    return 0
