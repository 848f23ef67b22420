"""The read-only records the Python API hands out (not a kernel file).

``Machine`` and ``Process`` never hand out the simulator's live kernel objects: a record is a
snapshot taken when it was asked for, frozen, so editing one cannot silently edit the
machine. Each record carries friendly names and the kernel's own:

* ``VmArea``: one VMA of ``Process.maps()`` (``struct vm_area_struct``: ``vm_start``,
  ``vm_end``, ``vm_flags``, ``vm_pgoff``), as ``/proc/PID/maps`` shows it.
* ``Zone`` and ``Node``: ``Machine.zones()``, ``Machine.nodes`` and ``Machine.NODE_DATA(nid)``
  (``struct zone`` and ``pg_data_t``), with their counters at the time of the call.
* ``PageWalk``: ``Process.walk(addr)``, the levels of a page-table walk; it prints as the
  table ``linuxmm walk`` shows.
* ``PagemapScan`` and its ``PageRegion`` records: ``Process.pagemap_scan(...)``, what the
  PAGEMAP_SCAN ioctl fills in (``struct page_region``, ``pm_scan_arg.walk_end``).

``Node`` and ``PageWalk`` have a ``_repr_html_``, so a notebook shows them as tables (as it
does ``Machine`` and ``Process``).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from types import MappingProxyType

from .fs.proc.task_mmu import get_vma_name
from .include.linux import mm_types as T
from .include.linux.mmzone import pglist_data, zone, zone_helpers
from .mm.vmstat import (NODE_STAT_ITEMS, NUMA_EVENT_ITEMS, ZONE_STAT_ITEMS, node_page_state,
                        zone_numa_event_state, zone_page_state)


def html_table(header: list[str], rows: list[list], caption: str = "") -> str:
    """A plain HTML table (cells escaped) for ``_repr_html_``."""
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _zone_stats(z: zone) -> MappingProxyType:
    """``enum zone_stat_item`` and the NUMA events, read-only, as ``/proc/zoneinfo`` reads them."""
    stats = {item: zone_page_state(z, item) for item, _ in ZONE_STAT_ITEMS}
    stats.update((item, zone_numa_event_state(z, item)) for item, _ in NUMA_EVENT_ITEMS)
    return MappingProxyType(stats)


def _node_stats(p: pglist_data) -> MappingProxyType:
    """``enum node_stat_item``, read-only."""
    return MappingProxyType({item: node_page_state(p, item) for item, _ in NODE_STAT_ITEMS})


# ---- VMAs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VmArea:
    """One VMA of a process, as ``/proc/PID/maps`` shows it.

    ``start``/``end``: the range [start, end); ``prot``: ``"rw-"`` style; ``flags``: the
    mmap flags it stands for (``"private|anonymous"``, ``"shared|anonymous"``, plus
    ``growsdown``, ``locked``, ``noreserve`` where set), so ``p.mmap(v.end - v.start,
    v.prot, v.flags)`` maps a similar area; ``offset``: bytes into the file (0 for anonymous
    memory, as in maps); ``path``: the name maps prints (``[heap]``, ``[stack]``,
    ``/dev/zero (deleted)``) or None. The kernel's fields: ``vm_start``, ``vm_end``,
    ``vm_flags`` (``VM_*`` bits), ``vm_pgoff`` (in pages; for private anonymous memory
    ``vm_start >> PAGE_SHIFT`` when it was created).
    """

    vm_start: int
    vm_end: int
    vm_flags: int
    vm_pgoff: int
    offset: int
    path: str | None

    @property
    def start(self) -> int:
        """First address (``vm_start``)."""
        return self.vm_start

    @property
    def end(self) -> int:
        """First address past the area (``vm_end``)."""
        return self.vm_end

    @property
    def size(self) -> int:
        """Length in bytes."""
        return self.vm_end - self.vm_start

    @property
    def prot(self) -> str:
        """``"rw-"`` style, as the first three letters of the maps permissions."""
        return "".join(c if self.vm_flags & bit else "-"
                       for c, bit in (("r", T.VM_READ), ("w", T.VM_WRITE), ("x", T.VM_EXEC)))

    @property
    def flags(self) -> str:
        """The mmap flags the area stands for, e.g. ``"private|anonymous"``."""
        names = ["shared" if self.vm_flags & T.VM_MAYSHARE else "private"]
        if self.path is None or not self.path.startswith("/") or self.path == T.SHMEM_ZERO_PATH:
            names.append("anonymous")
        names += [name for name, bit in (("growsdown", T.VM_GROWSDOWN), ("locked", T.VM_LOCKED),
                                         ("noreserve", T.VM_NORESERVE)) if self.vm_flags & bit]
        return "|".join(names)

    def __str__(self) -> str:
        return f"{self.start:x}-{self.end:x} {self.prot} {self.flags} {self.path or ''}".rstrip()


def vm_area(mm: T.mm_struct, vma: T.vm_area_struct) -> VmArea:
    """The record of ``vma`` of ``mm`` (``show_map_vma``'s offset and name)."""
    offset = vma.vm_pgoff * T.PAGE_SIZE if vma.vm_file is not None else 0
    return VmArea(vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff, offset, get_vma_name(mm, vma))


def vmas_html(vmas: list[VmArea], caption: str = "") -> str:
    rows = [[f"{v.start:#x}", f"{v.end:#x}", f"{v.size >> 10} kB", v.prot, v.flags, v.path or ""] for v in vmas]
    return html_table(["start", "end", "size", "prot", "flags", "path"], rows, caption)


# ---- zones and nodes ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Zone(zone_helpers):
    """``struct zone`` at one moment: kernel field names, counts in pages.

    ``watermark`` is ``(min, low, high, promo)`` without the boost (``_watermark``);
    ``min_wmark_pages()`` and friends add ``watermark_boost`` as the kernel's macros do.
    ``nr_free`` is ``free_area[order].nr_free`` per order (empty until the page allocator is
    first used: any allocation, fault or ``Machine.drain_pages()`` builds it), ``vm_stat`` the
    zone counters by their ``enum zone_stat_item`` names (``NR_FREE_PAGES``, ...) and the NUMA
    events (``NUMA_HIT``, ...), as ``zone_page_state`` reads them.
    """

    name: str
    node: int
    idx: int
    zone_start_pfn: int
    spanned_pages: int
    present_pages: int
    managed_pages: int
    cma_pages: int
    watermark: tuple[int, int, int, int]
    watermark_boost: int
    nr_reserved_highatomic: int
    lowmem_reserve: tuple[int, ...]
    pageset_batch: int
    pageset_high_min: int
    pageset_high_max: int
    stat_threshold: int
    nr_free: tuple[int, ...]
    vm_stat: MappingProxyType

    @property
    def _watermark(self) -> tuple[int, int, int, int]:
        """The name ``zone_helpers`` reads: the kernel's field."""
        return self.watermark


def zone_record(z: zone) -> Zone:
    nr_free = tuple(int(x) for x in z.nr_free.sum(axis=1)) if z.nr_free is not None else ()
    return Zone(z.name, z.node, z.idx, z.zone_start_pfn, z.spanned_pages, z.present_pages,
                z.managed_pages, z.cma_pages, tuple(z._watermark), z.watermark_boost,
                z.nr_reserved_highatomic, tuple(z.lowmem_reserve), z.pageset_batch,
                z.pageset_high_min, z.pageset_high_max, z.stat_threshold, nr_free,
                _zone_stats(z))


ZONE_COLUMNS = ["node", "zone", "start_pfn", "end_pfn", "spanned", "present", "managed", "free",
                "min", "low", "high"]


def zones_html(zones: list[Zone], caption: str = "") -> str:
    rows = [[z.node, z.name, f"{z.zone_start_pfn:#x}", f"{z.zone_end_pfn:#x}", z.spanned_pages,
             z.present_pages, z.managed_pages, z.vm_stat.get("NR_FREE_PAGES", 0), z.min_wmark_pages(),
             z.low_wmark_pages(), z.high_wmark_pages()] for z in zones]
    return html_table(ZONE_COLUMNS, rows, caption)


@dataclass(frozen=True)
class Node:
    """``pg_data_t`` at one moment: its zones (``node_zones``, as ``Zone`` records), its
    fallback zonelist as ``(node, zone name)`` pairs, its CPUs and node counters."""

    node_id: int
    node_start_pfn: int
    node_spanned_pages: int
    node_present_pages: int
    nr_zones: int
    totalreserve_pages: int
    cpus: tuple[int, ...]
    node_zones: tuple[Zone, ...]
    zonelist: tuple[tuple[int, str], ...]
    vm_stat: MappingProxyType

    @property
    def node_end_pfn(self) -> int:
        """``pgdat_end_pfn()``: the first pfn past the node."""
        return self.node_start_pfn + self.node_spanned_pages

    def populated_zones(self) -> list[Zone]:
        """The zones with present pages, lowest first."""
        return [z for z in self.node_zones if z.populated_zone()]

    def _repr_html_(self) -> str:
        return zones_html(list(self.node_zones), f"node {self.node_id}")


def node_record(p: pglist_data) -> Node:
    return Node(p.node_id, p.node_start_pfn, p.node_spanned_pages, p.node_present_pages, p.nr_zones,
                p.totalreserve_pages, tuple(p.cpus), tuple(zone_record(z) for z in p.node_zones),
                tuple((z.node, z.name) for z in p.node_zonelists[0]), _node_stats(p))


# ---- page walks ---------------------------------------------------------------------------------
class WalkLevel(dict):
    """One level of a page walk (``mm.pagewalk.walk_address``'s keys), read-only; keys read as
    attributes too (``lvl.level``, ``lvl.entry_hex``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def _readonly(self, *args, **kwargs):
        raise TypeError("a page-walk record is read-only")

    __setitem__ = __delitem__ = __setattr__ = clear = pop = popitem = setdefault = update = _readonly

    def __reduce__(self):
        return WalkLevel, (dict(self),)


class PageWalk(tuple):
    """The walk of ``addr``: one ``WalkLevel`` per kernel level, top first (folded levels
    included). ``phys`` and ``page_size`` are the translation, or None where the walk
    stopped at a non-present entry (the access would fault). Prints as ``linuxmm walk``'s
    table; JSON-serialisable as a list of dicts."""

    def __new__(cls, addr: int, levels: list[dict]):
        self = super().__new__(cls, (WalkLevel({k: tuple(v) if isinstance(v, list) else v
                                                for k, v in r.items()}) for r in levels))
        object.__setattr__(self, "addr", addr)
        return self

    def __setattr__(self, name, value):
        raise TypeError("a page-walk record is read-only")

    def __reduce__(self):
        return PageWalk, (self.addr, [dict(r) for r in self])

    @property
    def leaf(self) -> WalkLevel | None:
        """The level whose entry maps the page (PTE, or PMD/PUD for a huge page), or None."""
        last = next(r for r in reversed(self) if not r["folded"])
        return last if last["leaf"] else None

    @property
    def phys(self) -> int | None:
        """The physical address ``addr`` translates to, or None (the access would fault)."""
        return self.leaf["phys"] if self.leaf else None

    @property
    def page_size(self) -> int | None:
        """The size of the page mapping ``addr`` (4096, 2 MiB, 1 GiB), or None."""
        return self.leaf["page_size"] if self.leaf else None

    def __rich__(self):
        from .mm.pagewalk import render_walk

        return render_walk(list(self), self.addr)

    def __str__(self) -> str:
        from rich.console import Console

        # plain text even inside Jupyter (rich would display there instead of writing to file)
        con = Console(width=160, file=io.StringIO(), color_system=None, force_jupyter=False)
        con.print(self)
        return "\n".join(line.rstrip() for line in con.file.getvalue().rstrip("\n").splitlines())

    def __repr__(self) -> str:
        where = f"phys {self.phys:#x} ({self.page_size >> 10} kB page)" if self.leaf else "not mapped"
        return f"<PageWalk {self.addr:#x}: {where}>"

    def _repr_html_(self) -> str:
        rows = []
        for r in self:
            if r["folded"]:
                rows.append([r["level"].upper(), "", "", "", f"folded into {r['into'].upper()}", ""])
            else:
                out = f"phys {r['phys']:#x}" if r["leaf"] else (f"table pfn {r['next_pfn']:#x}"
                                                                if r["present"] else "not present: fault")
                rows.append([r["level"].upper(), r["hw"], r["index"], f"{r['entry_addr']:#x}", r["entry_hex"], out])
        return html_table(["level", "hw", "index", "entry @ phys", "entry", "->"], rows,
                          f"page walk of {self.addr:#x}")


# ---- the page cache -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CacheStat:
    """A file's page cache as ``cachestat(2)`` reports it (``struct cachestat``), in pages:
    ``cache`` (resident), ``dirty``, ``writeback``, ``evicted`` (shadow entries left by
    reclaim) and ``recently_evicted``."""

    cache: int
    dirty: int
    writeback: int
    evicted: int
    recently_evicted: int


# ---- PAGEMAP_SCAN ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageRegion:
    """``struct page_region``: the pages [start, end) share ``categories`` (``PAGE_IS_*``
    bits, masked by the scan's return mask)."""

    start: int
    end: int
    categories: int


@dataclass(frozen=True)
class PagemapScan:
    """The result of the PAGEMAP_SCAN ioctl: the regions it wrote (``len()`` is the ioctl's
    return value) and ``walk_end``, where the walk stopped."""

    regions: tuple[PageRegion, ...]
    walk_end: int

    def __len__(self) -> int:
        return len(self.regions)
