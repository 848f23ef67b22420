"""Machine description files (TOML).

Addresses are integers (TOML allows ``0x...`` and ``_`` separators) or size strings like
``"16G"``. Range ends are **inclusive**, as dmesg and ``/sys/firmware/memmap`` print them;
``size`` may be given instead of ``end``. Example (see ``linuxmm/presets/*.toml``)::

    name = "my-box"
    arch = "x86_64"            # x86_64 | i386 | arm64
    kernel = "6.18"
    cpus = 4
    cmdline = "transparent_hugepage=madvise"

    [[e820]]                   # x86 firmware map; arm64 uses [[memory]] instead
    start = 0x0
    end = 0x9fbff
    type = "usable"            # usable, reserved, ACPI data, ACPI NVS, unusable, type N ...

    [[node]]                   # SRAT; omit for "No NUMA configuration found"
    nid = 0
    cpus = [0, 1]
    memory = [{ start = 0x0, end = 0x23fffffff }]

    distance = [[10, 21], [21, 10]]   # SLIT (optional)

    [config]                   # Kconfig facts (optional): numa, zone_dma, zone_dma32, ...

    [firmware]                 # optional x86 firmware/bootloader facts
    efi = true
    efi_low_reserved_pages = 0 # EFI boot-services pages reserved below 16 MiB
    setup_data = [{ start = 0x9d2e2018, size = 0x45e40 }]
    mtrr = { default = "uncachable", tom2 = 0, ranges = [{ base = 0, size = "2G", type = "write-back" }] }
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..arch import make_arch
from ..arch.x86.kernel.e820 import e820_type_from_name
from ..arch.x86.kernel.cpu.mtrr import MTRR_TYPES
from ..description import KernelConfig, MachineDescription, MtrrState, NumaNode, default_config
from ..errors import ConfigError, LinuxmmError, ParseError
from ..kernel.params import memparse
from ..kernel.version import DEFAULT_VERSION, KernelVersion

_TOP_KEYS = {"name", "description", "arch", "la57", "pae", "page_size", "va_bits", "kernel", "cpus",
             "cmdline", "e820", "memory", "node", "distance", "config", "firmware"}
_FIRMWARE_KEYS = {"efi", "efi_low_reserved_pages", "setup_data", "mtrr", "esrt", "initrd"}


def load(path: str | Path) -> MachineDescription:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise LinuxmmError(f"{path}: cannot read machine file: {e.strerror}") from None
    return loads(text, str(path))


def loads(text: str, source: str = "<toml>") -> MachineDescription:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ParseError(source, getattr(e, "lineno", None), f"invalid TOML: {e.msg if hasattr(e, 'msg') else e}") from None
    try:
        return from_dict(data, source)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _addr(value, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected an address, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{what}: negative address {value}")
        return value
    if isinstance(value, str):
        num, rest = memparse(value, wrap=False)
        if rest or (num == 0 and value.strip() not in ("0", "0x0")):
            raise ConfigError(f"{what}: cannot read {value!r} as an address or size")
        return num
    raise ConfigError(f"{what}: expected an address, got {value!r}")


def _range(item, what: str) -> tuple[int, int]:
    """[start, end) from a table with start and end (inclusive) or size."""
    if not isinstance(item, dict) or "start" not in item or ("end" in item) == ("size" in item):
        raise ConfigError(f"{what}: needs 'start' and one of 'end' (inclusive) or 'size'")
    start = _addr(item["start"], f"{what}.start")
    end = _addr(item["end"], f"{what}.end") + 1 if "end" in item else start + _addr(item["size"], f"{what}.size")
    if end <= start:
        raise ConfigError(f"{what}: empty range [{start:#x}-{end - 1:#x}]")
    return start, end


def from_dict(data: dict, source: str) -> MachineDescription:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}")
    arch = make_arch(str(data.get("arch", "x86_64")), la57=bool(data.get("la57", False)),
                     pae=bool(data.get("pae", False)), page_size=int(data.get("page_size", 4096)),
                     va_bits=int(data.get("va_bits", 48)))
    version = KernelVersion.parse(str(data["kernel"])) if "kernel" in data else DEFAULT_VERSION
    e820 = None
    if "e820" in data:
        e820 = []
        for i, item in enumerate(data["e820"]):
            start, end = _range(item, f"e820[{i}]")
            t = e820_type_from_name(str(item.get("type", "usable")))
            if t is None:
                raise ConfigError(f"e820[{i}]: unknown type {item.get('type')!r}")
            e820.append((start, end, t))
    memory = [_range(item, f"memory[{i}]") for i, item in enumerate(data.get("memory", []))] or None
    numa = None
    if "node" in data:
        numa = []
        for i, n in enumerate(data["node"]):
            if "nid" not in n:
                raise ConfigError(f"node[{i}]: needs 'nid'")
            ranges = [_range(r, f"node[{i}].memory[{j}]") for j, r in enumerate(n.get("memory", []))]
            hotplug = [bool(r.get("hotplug", False)) for r in n.get("memory", [])]
            numa.append(NumaNode(int(n["nid"]), ranges, [int(c) for c in n.get("cpus", [])], hotplug))
    cfg = default_config(arch, version)
    for key, value in data.get("config", {}).items():
        if not hasattr(KernelConfig, key) and key not in KernelConfig.__dataclass_fields__:
            raise ConfigError(f"config: unknown option {key!r}")
        setattr(cfg, key, value)
    cpus = int(data.get("cpus", sum(len(n.cpus) for n in numa or []) or 1))
    desc = MachineDescription(
        name=str(data.get("name", Path(source).stem)), arch=arch, version=version,
        cmdline=str(data.get("cmdline", "")), nr_cpus=cpus, e820=e820, memory=memory, numa=numa,
        distance=data.get("distance"), config=cfg, source=source)
    _firmware(desc, data.get("firmware", {}))
    return desc


def _firmware(desc: MachineDescription, fw: dict) -> None:
    unknown = set(fw) - _FIRMWARE_KEYS
    if unknown:
        raise ConfigError(f"firmware: unknown key(s) {', '.join(sorted(unknown))}")
    desc.efi = bool(fw.get("efi", False))
    desc.efi_low_reserved_pages = int(fw.get("efi_low_reserved_pages", 0))
    desc.setup_data = [_range(r, f"firmware.setup_data[{i}]") for i, r in enumerate(fw.get("setup_data", []))]
    desc.setup_data = [(s, e - s) for s, e in desc.setup_data]
    if "initrd" in fw:
        s, e = _range(fw["initrd"], "firmware.initrd")
        desc.initrd = (s, e - s)
    if "esrt" in fw:
        s, e = _range(fw["esrt"], "firmware.esrt")
        desc.esrt = (s, e - s)
    if "mtrr" in fw:
        m = fw["mtrr"]
        ranges = []
        for i, r in enumerate(m.get("ranges", [])):
            base, end = _range({"start": r.get("base"), "size": r.get("size")}, f"firmware.mtrr.ranges[{i}]")
            if r.get("type") not in MTRR_TYPES:
                raise ConfigError(f"firmware.mtrr.ranges[{i}]: type must be one of {sorted(MTRR_TYPES)}")
            ranges.append((base, end - base, r["type"]))
        if m.get("default", "uncachable") not in MTRR_TYPES:
            raise ConfigError(f"firmware.mtrr.default must be one of {sorted(MTRR_TYPES)}")
        desc.mtrr = MtrrState(m.get("default", "uncachable"), ranges, _addr(m.get("tom2", 0), "firmware.mtrr.tom2"))
