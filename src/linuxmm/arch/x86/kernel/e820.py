"""The x86 firmware memory map (``arch/x86/kernel/e820.c``), as of Linux 6.18 with older wording.

``E820Table`` holds ``(addr, size, type)`` entries. ``e820__update_table`` is the kernel's
sanitiser: where entries overlap the highest type number wins, and touching entries of one
type merge. ``e820__range_update``/``e820__range_remove`` print the ``e820: update``/
``e820: remove`` debug lines the kernel prints, then change the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ....kernel.printk import LogBuffer

E820_TYPE_RAM = 1
E820_TYPE_RESERVED = 2
E820_TYPE_ACPI = 3
E820_TYPE_NVS = 4
E820_TYPE_UNUSABLE = 5
E820_TYPE_PMEM = 7
E820_TYPE_PRAM = 12
E820_TYPE_SOFT_RESERVED = 0xEFFFFFFF
E820_TYPE_RESERVED_KERN = 128

ULLONG_MAX = (1 << 64) - 1

# e820_print_type(): the words dmesg uses.
_PRINT_NAMES = {
    E820_TYPE_RAM: "usable", E820_TYPE_RESERVED_KERN: "usable", E820_TYPE_RESERVED: "reserved",
    E820_TYPE_SOFT_RESERVED: "soft reserved", E820_TYPE_ACPI: "ACPI data",
    E820_TYPE_NVS: "ACPI NVS", E820_TYPE_UNUSABLE: "unusable",
}
# /sys/firmware/memmap/N/type (e820_type_to_string).
_SYSFS_NAMES = {
    E820_TYPE_RAM: "System RAM", E820_TYPE_RESERVED_KERN: "System RAM",
    E820_TYPE_RESERVED: "Reserved", E820_TYPE_ACPI: "ACPI Tables",
    E820_TYPE_NVS: "ACPI Non-volatile Storage", E820_TYPE_UNUSABLE: "Unusable memory",
    E820_TYPE_PMEM: "Persistent Memory", E820_TYPE_PRAM: "Persistent Memory (legacy)",
    E820_TYPE_SOFT_RESERVED: "Soft Reserved",
}
# Words a machine file may use for a type, besides the two names above.
_ALIASES = {"ram": E820_TYPE_RAM, "usable": E820_TYPE_RAM, "reserved": E820_TYPE_RESERVED,
            "acpi": E820_TYPE_ACPI, "nvs": E820_TYPE_NVS, "unusable": E820_TYPE_UNUSABLE,
            "pmem": E820_TYPE_PMEM, "pram": E820_TYPE_PRAM}


def e820_type_name(type_: int) -> str:
    """``e820_print_type``: ``usable``, ``ACPI NVS``, ``persistent (type 7)``, ``type 20``."""
    if type_ in _PRINT_NAMES:
        return _PRINT_NAMES[type_]
    if type_ in (E820_TYPE_PMEM, E820_TYPE_PRAM):
        return f"persistent (type {type_})"
    return f"type {type_}"


def e820_type_from_name(word: str) -> int | None:
    """Inverse of the dmesg and sysfs names (and simple aliases); None if unknown."""
    w = word.strip()
    for table in (_PRINT_NAMES, _SYSFS_NAMES):
        for t, name in table.items():
            if name == w and t != E820_TYPE_RESERVED_KERN:
                return t
    if w.startswith("persistent (type ") and w.endswith(")"):
        w = w[len("persistent ("):-1]
    if w.startswith("type ") and w[5:].strip().isdigit():
        return int(w[5:])
    return _ALIASES.get(w.lower())


@dataclass
class E820Entry:
    addr: int
    size: int
    type: int

    @property
    def end(self) -> int:
        return self.addr + self.size


@dataclass
class E820Table:
    entries: list[E820Entry] = field(default_factory=list)

    def copy(self) -> "E820Table":
        return E820Table([E820Entry(e.addr, e.size, e.type) for e in self.entries])

    def e820__range_add(self, start: int, size: int, type_: int) -> None:
        self.entries.append(E820Entry(start, size, type_))

    def e820__update_table(self) -> None:
        """Sanitise: resolve overlaps (highest type wins) and merge touching same-type entries."""
        points = sorted({p for e in self.entries if e.size for p in (e.addr, e.end)})
        out: list[E820Entry] = []
        for lo, hi in zip(points, points[1:]):
            covering = [e.type for e in self.entries if e.size and e.addr <= lo and e.end >= hi]
            if not covering:
                continue
            t = max(covering)
            if out and out[-1].type == t and out[-1].end == lo:
                out[-1].size += hi - lo
            else:
                out.append(E820Entry(lo, hi - lo, t))
        self.entries = out

    def e820__range_update(self, log: LogBuffer, start: int, size: int, old: int, new: int) -> int:
        """Retype ``old`` memory in [start, start+size) to ``new``; returns the bytes changed."""
        size = min(size, ULLONG_MAX - start)
        log.debug(f"e820: update [mem {start:#010x}-{start + size - 1:#010x}] "
                  f"{e820_type_name(old)} ==> {e820_type_name(new)}")
        return self._retype(start, start + size, old, new)

    def e820__range_remove(self, log: LogBuffer, start: int, size: int, old: int,
                           check_type: bool = True) -> int:
        """Drop ``old`` memory (any type if not check_type) in [start, start+size)."""
        size = min(size, ULLONG_MAX - start)
        log.debug(f"e820: remove [mem {start:#010x}-{start + size - 1:#010x}] "
                  + (e820_type_name(old) if check_type else ""))
        return self._retype(start, start + size, old if check_type else None, None)

    def _retype(self, start: int, end: int, old: int | None, new: int | None) -> int:
        changed, out = 0, []
        for e in self.entries:
            if old is not None and e.type != old:
                out.append(e)
                continue
            lo, hi = max(start, e.addr), min(end, e.end)
            if lo >= hi:
                out.append(e)
                continue
            changed += hi - lo
            if e.addr < lo:
                out.append(E820Entry(e.addr, lo - e.addr, e.type))
            if new is not None:
                out.append(E820Entry(lo, hi - lo, new))
            if hi < e.end:
                out.append(E820Entry(hi, e.end - hi, e.type))
        self.entries = out
        return changed

    def print_table(self, log: LogBuffer, who: str) -> None:
        """``e820__print_table``: ``BIOS-e820: [mem 0x...-0x...] usable``."""
        for e in self.entries:
            log.info(f"{who}: [mem {e.addr:#018x}-{e.end - 1:#018x}] {e820_type_name(e.type)}")

    def end_pfn(self, limit_pfn: int, type_: int = E820_TYPE_RAM, page_shift: int = 12) -> int:
        """``e820_end_pfn``: highest end pfn of ``type_`` entries below ``limit_pfn``."""
        last = 0
        for e in self.entries:
            if e.type != type_:
                continue
            start_pfn, end_pfn = e.addr >> page_shift, e.end >> page_shift
            if start_pfn >= limit_pfn:
                continue
            if end_pfn > limit_pfn:
                return limit_pfn
            last = max(last, end_pfn)
        return last

    def ram_ranges(self) -> list[tuple[int, int]]:
        return [(e.addr, e.end) for e in self.entries
                if e.type in (E820_TYPE_RAM, E820_TYPE_RESERVED_KERN)]


def map_header(prefixed: bool, who: str = "BIOS-provided") -> str:
    """``BIOS-provided physical RAM map:``, with the ``e820: `` prefix of older kernels."""
    return f"{'e820: ' if prefixed else ''}{who} physical RAM map:"
