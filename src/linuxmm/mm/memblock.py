"""Boot-time memory regions (``mm/memblock.c``), Linux 6.18.

``memblock.memory`` lists the RAM the firmware reported (after the architecture's edits),
``memblock.reserved`` what early boot has taken (kernel image, initrd, memmap, ...). Regions
are kept sorted and merged as the kernel keeps them: neighbours merge when they touch and
share node id and flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MEMBLOCK_NONE = 0
MEMBLOCK_HOTPLUG = 0x1
MEMBLOCK_MIRROR = 0x2
MEMBLOCK_NOMAP = 0x4
NUMA_NO_NODE = -1


@dataclass
class MemblockRegion:
    base: int
    size: int
    flags: int = MEMBLOCK_NONE
    nid: int = NUMA_NO_NODE

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass
class MemblockType:
    name: str
    regions: list[MemblockRegion] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(r.size for r in self.regions)

    def add(self, base: int, size: int, nid: int = NUMA_NO_NODE, flags: int = MEMBLOCK_NONE) -> None:  # noqa: E501
        """``memblock_add_range``: insert, splitting around existing regions, then merge."""
        if size <= 0:
            return
        pieces, cur = [], base
        for r in self.regions:  # only the parts not yet covered are inserted
            if r.end <= cur or r.base >= base + size:
                continue
            if r.base > cur:
                pieces.append((cur, r.base))
            cur = max(cur, r.end)
        if cur < base + size:
            pieces.append((cur, base + size))
        for lo, hi in pieces:
            self.regions.append(MemblockRegion(lo, hi - lo, flags, nid))
        self._merge()

    def remove(self, base: int, size: int) -> None:
        """``memblock_remove_range``: cut [base, base+size) out of every region."""
        end, out = base + size, []
        for r in self.regions:
            if r.end <= base or r.base >= end:
                out.append(r)
                continue
            if r.base < base:
                out.append(MemblockRegion(r.base, base - r.base, r.flags, r.nid))
            if r.end > end:
                out.append(MemblockRegion(end, r.end - end, r.flags, r.nid))
        self.regions = out
        self._merge()

    def set_node(self, base: int, size: int, nid: int) -> None:
        """``memblock_set_node``: isolate [base, base+size) and give it node ``nid``."""
        self._isolate(base, base + size)
        for r in self.regions:
            if r.base >= base and r.end <= base + size:
                r.nid = nid
        self._merge()

    def set_flag(self, base: int, size: int, flag: int) -> None:
        self._isolate(base, base + size)
        for r in self.regions:
            if r.base >= base and r.end <= base + size:
                r.flags |= flag
        self._merge()

    def _isolate(self, base: int, end: int) -> None:
        out = []
        for r in self.regions:
            cuts = sorted({r.base, r.end} | {p for p in (base, end) if r.base < p < r.end})
            out.extend(MemblockRegion(lo, hi - lo, r.flags, r.nid) for lo, hi in zip(cuts, cuts[1:]))
        self.regions = out

    def _merge(self) -> None:
        """``memblock_merge_regions``: sort, then join touching regions alike in nid and flags."""
        self.regions.sort(key=lambda r: r.base)
        out: list[MemblockRegion] = []
        for r in self.regions:
            if out and out[-1].end == r.base and out[-1].nid == r.nid and out[-1].flags == r.flags:
                out[-1].size += r.size
            else:
                out.append(r)
        self.regions = out


@dataclass
class Memblock:
    """``struct memblock``: the ``memory`` and ``reserved`` region lists."""

    memory: MemblockType = field(default_factory=lambda: MemblockType("memory"))
    reserved: MemblockType = field(default_factory=lambda: MemblockType("reserved"))

    def memblock_add(self, base: int, size: int, nid: int = NUMA_NO_NODE) -> None:
        self.memory.add(base, size, nid)

    def memblock_remove(self, base: int, size: int) -> None:
        self.memory.remove(base, size)

    def memblock_reserve(self, base: int, size: int) -> None:
        self.reserved.add(base, size)

    def memblock_trim_memory(self, align: int) -> None:
        """Shrink every memory region to whole ``align`` units, dropping empty ones."""
        out = []
        for r in self.memory.regions:
            lo = -(-r.base // align) * align
            hi = r.end // align * align
            if hi > lo:
                out.append(MemblockRegion(lo, hi - lo, r.flags, r.nid))
        self.memory.regions = out

    def free_ranges(self, nid: int | None = None):
        """``for_each_free_mem_range``: memory minus reserved, as byte ranges (of one node)."""
        for r in self.memory.regions:
            if nid is not None and r.nid != nid:
                continue
            cur = r.base
            for v in self.reserved.regions:
                if v.end <= cur or v.base >= r.end:
                    continue
                if v.base > cur:
                    yield cur, v.base
                cur = max(cur, v.end)
            if cur < r.end:
                yield cur, r.end

    def memblock_phys_alloc_range(self, size: int, align: int, start: int, end: int,
                                  nid: int | None = None) -> int:
        """Top-down allocation (memblock's default direction); reserves and returns the base, 0 if none."""
        for lo, hi in sorted(self.free_ranges(nid), reverse=True):
            lo, hi = max(lo, start), min(hi, end)
            base = (hi - size) // align * align
            if base >= lo and hi > lo:
                self.memblock_reserve(base, size)
                return base
        return 0

    def reserved_not_memory(self):
        """``for_each_resv_unavail_range``: reserved byte ranges that no memory backs."""
        for v in self.reserved.regions:
            cur = v.base
            for r in self.memory.regions:
                if r.end <= cur or r.base >= v.end:
                    continue
                if r.base > cur:
                    yield cur, r.base
                cur = max(cur, r.end)
            if cur < v.end:
                yield cur, v.end

    def memblock_alloc_try_nid(self, size: int, align: int, nid: int) -> int:
        """Node-local top-down allocation, falling back to any node (``memblock_alloc_try_nid``)."""
        return (self.memblock_phys_alloc_range(size, align, 0, 1 << 64, nid)
                or self.memblock_phys_alloc_range(size, align, 0, 1 << 64))

    def memblock_start_of_DRAM(self) -> int:
        return self.memory.regions[0].base

    def memblock_end_of_DRAM(self) -> int:
        return self.memory.regions[-1].end

    def for_each_mem_pfn_range(self, nid: int | None, page_shift: int):
        """Yield (start_pfn, end_pfn, nid) of memory regions (partial pages dropped)."""
        for r in self.memory.regions:
            if nid is not None and r.nid != nid:
                continue
            lo, hi = -(-r.base >> page_shift), r.end >> page_shift
            if lo < hi:
                yield lo, hi, r.nid


def free_low_memory_ranges(k):
    """``for_each_free_mem_range`` split at zone boundaries: (start_pfn, end_pfn, zone)."""
    shift = k.arch.page_shift
    zones = sorted((z.zone_start_pfn, z.zone_end_pfn, z) for p in k.pgdat.values()
                   for z in p.node_zones if z.spanned_pages)
    for start, end, nid in ((s, e, r.nid) for r in k.memblock.memory.regions
                            for s, e in k.memblock.free_ranges() if r.base <= s < r.end):
        lo, hi = k.arch.PFN_UP(start), end >> shift
        for zs, ze, z in zones:
            if z.node != nid:
                continue
            s, e = max(lo, zs), min(hi, ze)
            if s < e:
                yield s, e, z


def memblock_free_all(k) -> int:
    """Hand every free memblock page to the page allocator; returns the pages freed.

    ``free_low_memory_core_early``: managed counts restart from zero and each free range
    counts toward its zone. The buddy lists themselves are filled when ``mem_map`` is
    first used (``memblock_free_into_buddy``), in the same naturally aligned blocks.
    """
    for p in k.pgdat.values():
        for z in p.node_zones:
            z.managed_pages = 0
    freed = 0
    for s, e, z in free_low_memory_ranges(k):
        z.managed_pages += e - s
        freed += e - s
    return freed


def memblock_free_into_buddy(k, a) -> None:
    """Reserved ranges become PageReserved; free ranges go to the buddy lists, to the tail."""
    from ..include.linux.page_flags import PG_reserved_mask
    from .buddy import memblock_free_pages_range, zone_id

    shift = k.arch.page_shift
    for r in k.memblock.reserved.regions:
        lo, hi = r.base >> shift, min(-(-r.end >> shift), a.flags.shape[0])
        if lo < hi:
            a.flags[lo:hi] |= PG_reserved_mask
            a.refcount[lo:hi] = 1
    for s, e, z in free_low_memory_ranges(k):
        a.flags[s:e] &= ~PG_reserved_mask
        a.refcount[s:e] = 0
        memblock_free_pages_range(a, s, e, zone_id(k, z))
