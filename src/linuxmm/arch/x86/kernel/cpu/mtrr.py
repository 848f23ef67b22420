"""Trimming RAM the MTRRs leave uncached (``arch/x86/kernel/cpu/mtrr/cleanup.c``).

``mtrr_trim_uncached_memory``: when the default memory type is uncachable and the variable
MTRRs are only write-back and uncachable, every hole in the write-back coverage (plus AMD's
TOM2 range) is retyped from RAM to reserved in the e820 table. The kernel prints the
``e820: update ... usable ==> reserved`` line for each hole, RAM inside or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..e820 import E820_TYPE_RAM, E820_TYPE_RESERVED

if TYPE_CHECKING:
    from .....init.main import Kernel

MTRR_TYPES = {"uncachable", "write-combining", "write-through", "write-protect", "write-back"}


def x86_get_mtrr_mem_range(mtrr, page_shift: int) -> list[tuple[int, int]]:
    """Write-back pfn ranges (plus [4G, TOM2)), minus uncachable ones, sorted and merged."""
    covered: list[tuple[int, int]] = []
    if mtrr.tom2:
        covered.append(((1 << 32) >> page_shift, mtrr.tom2 >> page_shift))
    for base, size, type_ in mtrr.var_ranges:
        if type_ == "write-back" and size:
            covered.append((base >> page_shift, (base + size) >> page_shift))
    covered = _merge(covered)
    for base, size, type_ in mtrr.var_ranges:
        if type_ == "uncachable" and size:
            covered = _subtract(covered, base >> page_shift, (base + size) >> page_shift)
    return covered


def _merge(ranges):
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(ranges, s, e):
    out = []
    for a, b in ranges:
        if b <= s or a >= e:
            out.append((a, b))
            continue
        if a < s:
            out.append((a, s))
        if b > e:
            out.append((e, b))
    return out


def mtrr_trim_uncached_memory(k: "Kernel", end_pfn: int) -> int:
    """Trim RAM not covered write-back; returns the bytes of RAM retyped (0: nothing)."""
    mtrr = k.desc.mtrr
    if mtrr is None or mtrr.def_type != "uncachable" or "disable_mtrr_trim" in k.desc.cmdline.split():
        return 0
    ranges = [r for r in mtrr.var_ranges if r[1]]
    if not any(t == "write-back" for _, _, t in ranges):
        return 0  # "CPU MTRRs all blank - virtualized system."
    if any(t not in ("write-back", "uncachable") for _, _, t in ranges):
        return 0  # only WB and UC ranges can be trimmed safely
    shift = k.arch.page_shift
    covered = x86_get_mtrr_mem_range(mtrr, shift)
    holes = []
    if covered[0][0]:
        holes.append((0, covered[0][0]))
    holes += [(a[1], b[0]) for a, b in zip(covered, covered[1:]) if a[1] < b[0]]
    if covered[-1][1] < end_pfn:
        holes.append((covered[-1][1], end_pfn))
    trimmed = 0
    for s, e in holes:
        trimmed += k.e820.e820__range_update(k.log, s << shift, (e - s) << shift,
                                             E820_TYPE_RAM, E820_TYPE_RESERVED)
    if trimmed:
        k.log.warn(f"WARNING: BIOS bug: CPU MTRRs don't cover all of memory, losing "
                   f"{trimmed >> 20}MB of RAM.")
        k.e820.e820__update_table()
    return trimmed
