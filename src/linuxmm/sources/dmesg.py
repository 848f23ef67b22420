"""Real boot logs: read a machine out of ``dmesg``, and pick the lines we reproduce.

``load(path)`` turns a boot log into a ``MachineDescription`` from the lines that are
*inputs* to the kernel: the firmware map (``BIOS-e820``), the ``Linux version`` and
``Command line``, SRAT memory affinity and CPUs, the bootloader's setup_data and the MTRR
registers; on arm64 (no firmware map in the log) the ``Early memory node ranges``.
``boot_lines(text)`` filters any log down to the memory-layout lines linuxmm reproduces, with
timestamps stripped, so a simulated boot can be compared with a real one line for line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..arch import make_arch
from ..arch.x86.kernel.e820 import e820_type_from_name
from ..description import MachineDescription, MtrrState, NumaNode, default_config
from ..errors import LinuxmmError, ParseError
from ..kernel.version import KernelVersion

_TIMESTAMP = re.compile(r"^(<\d+>)?\[\s*\d+\.\d+\]\s?")

# The boot lines linuxmm reproduces (issue #2, "Output"), as they appear without timestamps.
BOOT_LINE_PATTERNS = [
    r"(e820: )?(BIOS-provided|user-defined) physical RAM map:$",
    r"(BIOS-e820|user): \[mem ",
    r"e820: (update|remove) \[mem ",
    r"(e820: )?last_pfn = ",
    r"(NUMA: )?(No NUMA configuration found|NUMA turned off)$",
    r"(NUMA: )?Faking a node at ",
    r"NUMA: Initialized distance table",
    r"NUMA: Node \d+ \[mem [^]]*\] \+ \[mem ",
    r"\d+MB (HIGHMEM|LOWMEM) available\.$",
    r"  (mapped )?low ram: 0 - [0-9a-f]+$",
    r"Zone ranges:$",
    r"  (DMA|DMA32|Normal|HighMem|Movable|Device) +(empty|\[mem )",
    r"Movable zone start for each node$",
    r"  Node \d+: 0x[0-9a-f]{1,16}$",
    r"Early memory node ranges$",
    r"  node +\d+: \[mem ",
    r"Initmem setup node ",
    r"On node \d+ totalpages: ",
    r"  \w+ zone: \d+ pages (used for memmap|reserved)$",
    r"  \w+ zone: \d+ pages, LIFO batch:",
    r"Reserved but unavailable: ",
    r"Zeroed struct page in unavailable ranges: ",
    r"On node \d+, zone \w+: \d+ pages in unavailable ranges",
    r"Fallback order for Node ",
    r"Built \d+ zonelists",
    r"Policy zone: ",
]
_BOOT_LINE_RE = re.compile("^(?:" + "|".join(BOOT_LINE_PATTERNS) + ")")


def strip_timestamp(line: str) -> str:
    return _TIMESTAMP.sub("", line.rstrip("\n"))


def boot_lines(text: str) -> list[str]:
    """The memory-layout boot lines of a log, in order, timestamps stripped."""
    out = []
    for raw in text.splitlines():
        line = strip_timestamp(raw)
        if _BOOT_LINE_RE.match(line):
            out.append(line.rstrip() if not line.startswith("Fallback order") else line)
    return out


_E820_RE = re.compile(r"^BIOS-e820: \[mem (0x[0-9a-fA-F]{1,16})-(0x[0-9a-fA-F]{1,16})\] (.+?)\s*$")
_SRAT_RE = re.compile(r"^(?:ACPI: )?SRAT: Node (\d+) PXM (\d+) \[mem (0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\]( hotplug)?")
_SRAT_CPU_RE = re.compile(r"^(?:ACPI: )?(?:NUMA: )?SRAT: PXM (\d+) -> (?:(?:x2)?APIC|MPIDR) (0x[0-9a-f]{1,16}) -> Node (\d+)")
_NODE_RANGE_RE = re.compile(r"^  node +(\d+): \[mem (0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\]")
_SETUP_DATA_RE = re.compile(r"^e820: update \[mem (0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\] usable ==> usable$")
_NR_CPU_RE = re.compile(r"nr_cpu_ids:(\d+)|Allowing (\d+) (?:present )?CPUs|smpboot: Allowing (\d+) CPUs")
_MTRR_VAR_RE = re.compile(r"^\s+\d+ base ([0-9A-Fa-f]+) mask ([0-9A-Fa-f]+) (.+?)\s*$")
_UPDATE_RE = re.compile(r"^e820: update \[mem (0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\] usable ==> reserved$")
_ESRT_RE = re.compile(r"^esrt: Reserving ESRT space from (0x[0-9a-f]{1,16}) to (0x[0-9a-f]{1,16})\.")


def load(path: str | Path) -> MachineDescription:
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise LinuxmmError(f"{path}: cannot read boot log: {e.strerror}") from None
    return loads(text, str(path))


def loads(text: str, source: str = "<dmesg>") -> MachineDescription:
    lines = [strip_timestamp(x) for x in text.splitlines()]
    version_line = next((ln for ln in lines if ln.startswith("Linux version ")), None)
    if version_line is None:
        raise ParseError(source, None, "no 'Linux version' line: is this a boot log?")
    version = KernelVersion.parse(version_line[len("Linux version "):])
    cmdline = next((ln.split(":", 1)[1].strip() for ln in lines
                    if ln.startswith(("Command line:", "Kernel command line:"))), "")
    e820 = _parse_e820(lines, source)
    arch = _detect_arch(lines, version_line, e820 is not None)
    numa = _parse_srat(lines, source)
    memory = None
    if e820 is None:
        memory = _parse_node_ranges(lines, source)
        if not memory:
            raise ParseError(source, None, "no firmware map ('BIOS-e820') and no "
                                           "'Early memory node ranges' to boot from")
    cfg = default_config(arch, version)
    cfg.numa = any(ln.startswith(("Policy zone:", "NUMA", "Fallback order")) for ln in lines) or bool(numa)
    _infer_config(cfg, lines, version, arch)
    distance = None
    if numa and any(ln.startswith("ACPI: SLIT") for ln in lines):  # a SLIT exists; its values are not logged
        n = max(node.nid for node in numa) + 1
        distance = [[10 if a == b else 20 for b in range(n)] for a in range(n)]
    efi = any(ln.startswith("efi: EFI v") for ln in lines)
    desc = MachineDescription(
        name=Path(source).stem, arch=arch, version=version, cmdline=cmdline,
        nr_cpus=_nr_cpus(lines), e820=e820, memory=[(s, e) for s, e, _ in memory] if memory else None,
        numa=numa, distance=distance, config=cfg, setup_data=_parse_setup_data(lines, version),
        mtrr=_parse_mtrr(lines), efi=efi, esrt=_parse_esrt(lines),
        efi_late_reserve=_late_updates(lines), initrd=_parse_initrd(lines),
        efi_mmio=_parse_efi_mmio(lines), snb_gfx="reserving inaccessible SNB gfx pages" in lines,
        zone_dma_bits=_board_zone_dma_bits(lines), source=source)
    desc.assumptions = _assumptions(desc, lines)
    return desc


# arm64 boards whose device tree limits DMA below 4 GiB, by the "Machine model:" line. The
# BCM2711's /soc and /emmc2bus nodes map only the first GiB (arch/arm/boot/dts/bcm2711.dtsi,
# dma-ranges = <0x0 0xc0000000 0x0 0x00000000 0x40000000>): ZONE_DMA ends at 1 GiB.
BOARD_ZONE_DMA_BITS = {
    "Raspberry Pi 4 Model B": 30,
    "Raspberry Pi 400": 30,
    "Raspberry Pi Compute Module 4": 30,
}


def _board_zone_dma_bits(lines: list[str]) -> int | None:
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Machine model:")), "")
    return next((bits for board, bits in BOARD_ZONE_DMA_BITS.items() if model.startswith(board)), None)


def _assumptions(desc: MachineDescription, lines: list[str]) -> list[str]:
    """The inputs the kernel read that this log does not show, with the value taken for each."""
    out = []
    x86 = desc.arch.name in ("x86_64", "i386")
    if not any(_NR_CPU_RE.search(ln) for ln in lines):
        out.append("CPUs: 1 (no 'Allowing N CPUs' or 'nr_cpu_ids' line)")
    if desc.arch.name == "i386" and _nr_cpus_config(lines) is None:
        out.append("CONFIG_NR_CPUS: 1 (no 'NR_CPUS:' line; it sizes the fixmap, so the lowmem end)")
    if desc.distance is not None and len(desc.distance) > 1:
        out.append("NUMA distances: 10 local, 20 remote (the SLIT's values are not printed)")
    if x86 and desc.efi and desc.arch.is_64bit and desc.version < (6, 10):
        why = ("the EFI memory map printed here is not read" if any(ln.startswith("efi: mem") for ln in lines)
               else "the EFI memory map is not printed without efi=debug")
        out.append(f"EFI boot-services memory below 16 MiB: none ({why}); 'DMA zone: N pages "
                   "reserved' and 'Total pages' may come out low")
    if x86 and desc.efi and desc.version < (5, 13):
        out.append("EBDA: none below 636 KiB (an EFI machine's BIOS data area is not printed)")
    if desc.arch.name == "arm64" and desc.memory and any(a[1] == b[0] for a, b in zip(desc.memory, desc.memory[1:])):
        out.append("EFI runtime (NOMAP) regions: every other one of the adjacent memory ranges "
                   "(the EFI memory map is not printed)")
    if (desc.arch.name == "arm64" and desc.config.zone_dma and desc.version >= (5, 10)
            and desc.zone_dma_bits is None):
        out.append("ZONE_DMA reach: 32 bits (the device tree's dma-ranges / IORT limits are not "
                   "printed; BOARD_ZONE_DMA_BITS knows a few boards by 'Machine model:')")
    return out


_KERNEL_SECTIONS_RE = re.compile(r"^Memory: .*\((\d+)K kernel code, (\d+)K rwdata, (\d+)K rodata, "
                                 r"(\d+)K init, (\d+)K bss,")


def _infer_config(cfg, lines: list[str], version, arch) -> None:
    """Build-configuration facts the log shows: which zones exist, the memory model, struct page."""
    zone_rows = [ln.split()[0] for ln in lines if re.match(r"^  (DMA|DMA32|Normal|HighMem|Device) +(empty|\[mem)", ln)]
    if zone_rows:
        cfg.zone_device = "Device" in zone_rows
        cfg.zone_dma = "DMA" in zone_rows
        cfg.zone_dma32 = "DMA32" in zone_rows
    if arch.name == "i386":
        # Debian's i386 flavours are FLATMEM, Ubuntu's and most others SPARSEMEM
        cfg.sparsemem = version.distro != "debian"
        cfg.NR_CPUS = _nr_cpus_config(lines) or 1  # UP kernels print no NR_CPUS
        if "nrj" in version.release.lower():
            cfg.vmalloc_reserve = 192 << 20  # ROSA's "nrj" kernels enlarged the vmalloc area
        if version.distro == "fedora":
            cfg.km_type_nr = 41  # Fedora's i686 builds have CONFIG_DEBUG_HIGHMEM (kmap fence slots)
    for ln in lines:  # the trampoline's size is the real-mode blob's (where it goes is computed)
        if m := re.match(r"^Base memory trampoline at \[.*\] [0-9a-f]+ size (\d+)$", ln):
            cfg.realmode_size = int(m[1])
    for ln in lines:  # the image's section sizes and the per-cpu unit are build facts
        if m := _KERNEL_SECTIONS_RE.search(ln):
            cfg.kernel_sections_kb = tuple(int(x) for x in m.groups())
        elif m := re.match(r"^percpu: Embedded (\d+) pages/cpu", ln):
            cfg.percpu_pages_per_cpu = int(m[1])
    for ln in lines:  # a 4095-page zone 0 needs exactly sizeof(struct page) pages of memmap
        m = re.match(r"^  (DMA|DMA32) zone: (\d+) pages used for memmap$", ln)
        if m and int(m[2]) in (32, 36, 40, 44, 48, 52, 56, 60, 64) and cfg.zone_dma:
            cfg.sizeof_struct_page = int(m[2])
            break


def _parse_mtrr(lines: list[str]) -> MtrrState | None:
    """MTRR registers as ``mtrr_bp_init`` prints them (≤5.x); else the trim they caused."""
    state = None
    for ln in lines:
        if ln.startswith("MTRR default type: "):
            state = MtrrState(def_type=ln.split(":", 1)[1].strip())
        elif state is not None and (m := _MTRR_VAR_RE.match(ln)):
            base, mask = int(m[1], 16), int(m[2], 16)
            if len(state.var_ranges) < 64 and mask:
                state.var_ranges.append((base, mask & -mask, m[3]))
        elif state is not None and ln.startswith("TOM2: "):
            state.tom2 = int(ln.split()[1], 16)
        elif state is not None and ln.startswith(("x86/PAT", "PAT ", "x86 PAT")):
            break
    if state is not None:
        return state
    # Kernels from ≈5.8 keep the registers at pr_debug: the trim line is the only record.
    holes = _mtrr_trim_lines(lines)
    if not holes:
        return None
    wb, prev = [], 0
    for lo, hi in holes:
        if prev < lo:
            wb.append((prev, lo - prev, "write-back"))
        prev = hi
    wb.append((prev, (1 << 52) - prev, "write-back"))
    return MtrrState("uncachable", wb)


def _mtrr_trim_lines(lines: list[str]) -> list[tuple[int, int]]:
    """``usable ==> reserved`` updates between the first ``last_pfn`` line and the next boot stage."""
    holes, seen_last_pfn = [], False
    for ln in lines:
        if "last_pfn = " in ln:
            if seen_last_pfn:
                break
            seen_last_pfn = True
        elif seen_last_pfn and (m := _UPDATE_RE.match(ln)):
            holes.append((int(m[1], 16), int(m[2], 16) + 1))
        elif seen_last_pfn and ln.startswith(("esrt:", "RAMDISK", "ACPI:", "Zone ranges")):
            break
    return holes


def _late_updates(lines: list[str]) -> list[tuple[int, int]]:
    """EFI reservations made after paging_init (the ACPI BGRT boot logo): input, not logged elsewhere."""
    out, after_zones = [], False
    for ln in lines:
        if ln.startswith("Early memory node ranges"):
            after_zones = True
        elif after_zones and (m := _UPDATE_RE.match(ln)):
            out.append((int(m[1], 16), int(m[2], 16) + 1 - int(m[1], 16)))
        elif ln.startswith("Built ") and "zonelists" in ln:
            break
    return out


def _parse_esrt(lines: list[str]) -> tuple[int, int] | None:
    for ln in lines:
        if m := _ESRT_RE.match(ln):
            return int(m[1], 16), int(m[2], 16) - int(m[1], 16)
    return None


def _parse_efi_mmio(lines: list[str]) -> list[tuple[int, int, int]]:
    """The EFI memory map's MMIO descriptors (index, start, size), which 6.2's
    ``efi_remove_e820_mmio`` lists whether it removes them or not."""
    out = []
    for ln in lines:
        if m := re.match(r"^efi: (?:Remove|Not removing) mem(\d+): MMIO range=\[(0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\]", ln):
            out.append((int(m[1]), int(m[2], 16), int(m[3], 16) + 1 - int(m[2], 16)))
    return out


def _parse_initrd(lines: list[str]) -> tuple[int, int] | None:
    for ln in lines:
        if m := re.match(r"^RAMDISK: \[mem (0x[0-9a-f]{1,16})-(0x[0-9a-f]{1,16})\]", ln):
            return int(m[1], 16), int(m[2], 16) + 1 - int(m[1], 16)
    return None


def _nr_cpus_config(lines: list[str]) -> int | None:
    """CONFIG_NR_CPUS, printed by ``setup_per_cpu_areas``."""
    for ln in lines:
        if m := re.search(r"NR_CPUS:(\d+)", ln):
            return int(m[1])
    return None


def _parse_e820(lines: list[str], source: str):
    entries, started = [], False
    for i, ln in enumerate(lines, 1):
        if ln.endswith("BIOS-provided physical RAM map:"):
            if started:
                break
            started = True
            continue
        if not started:
            continue
        m = _E820_RE.match(ln)
        if not m:
            if ln.startswith("BIOS-e820"):
                raise ParseError(source, i, f"malformed firmware map line: {ln!r}")
            if entries:
                break
            continue
        start, end = int(m[1], 16), int(m[2], 16)
        t = e820_type_from_name(m[3])
        if t is None:
            raise ParseError(source, i, f"unknown e820 type {m[3]!r}")
        if end < start:
            raise ParseError(source, i, f"range ends before it starts: {ln!r}")
        entries.append((start, end + 1, t))
    return entries or None


def _detect_arch(lines: list[str], version_line: str, has_e820: bool):
    release = version_line.split()[2] if len(version_line.split()) > 2 else ""
    if not has_e820 or re.search(r"aarch64|arm64", release, re.I):
        return make_arch("arm64")
    if re.search(r"i[3-6]86|\bx86_32", release) or any("LOWMEM available" in ln for ln in lines):
        pae = any("max_arch_pfn = 0x1000000" in ln for ln in lines) or "pae" in release.lower()
        return make_arch("i386", pae=pae)
    la57 = any("max_arch_pfn = 0x10000000000" in ln for ln in lines)
    return make_arch("x86_64", la57=la57)


def _parse_srat(lines: list[str], source: str) -> list[NumaNode] | None:
    nodes: dict[int, NumaNode] = {}
    for i, ln in enumerate(lines, 1):
        m = _SRAT_RE.match(ln)
        if m:
            nid, start, end = int(m[1]), int(m[3], 16), int(m[4], 16)
            if end < start:
                raise ParseError(source, i, f"SRAT range ends before it starts: {ln!r}")
            n = nodes.setdefault(nid, NumaNode(nid))
            n.ranges.append((start, end + 1))
            n.hotplug.append(bool(m[5]))
            continue
        m = _SRAT_CPU_RE.match(ln)
        if m:
            n = nodes.setdefault(int(m[3]), NumaNode(int(m[3])))
            n.cpus.append(len([c for x in nodes.values() for c in x.cpus]))
    if not any(n.ranges for n in nodes.values()):
        return None
    return [nodes[k] for k in sorted(nodes)]


def _parse_node_ranges(lines: list[str], source: str):
    out = []
    for i, ln in enumerate(lines, 1):
        m = _NODE_RANGE_RE.match(ln)
        if m:
            start, end = int(m[2], 16), int(m[3], 16)
            if end < start:
                raise ParseError(source, i, f"node range ends before it starts: {ln!r}")
            out.append((start, end + 1, int(m[1])))
    return out


def _parse_setup_data(lines: list[str], version) -> list[tuple[int, int]]:
    """Each setup_data blob prints one update line per e820 table (two since 4.12)."""
    out = []
    for ln in lines:
        m = _SETUP_DATA_RE.match(ln)
        if m:
            out.append((int(m[1], 16), int(m[2], 16) - int(m[1], 16) + 1))
    return out[::2] if version >= (4, 12) else out


def _nr_cpus(lines: list[str]) -> int:
    for ln in lines:
        m = _NR_CPU_RE.search(ln)
        if m:
            return int(next(g for g in m.groups() if g))
    return 1
