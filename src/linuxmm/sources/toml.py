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

    [[disk]]                   # block devices besides (or, by name, replacing) the default vda
    name = "vdb"
    size = "64G"
    read_bw = "500M"           # bytes per second
    write_bw = "300M"
    latency_us = 100           # per request
    queue_depth = 64
    read_ahead_kb = 8192       # queue/read_ahead_kb (the kernel's default is 128)
    nr_requests = 256

    [[mount]]                  # besides (or, by path, replacing) ext4 on / and tmpfs on /dev/shm
    path = "/data"
    fs = "ext4"                # ext4 (needs disk) | tmpfs (size, huge = never|always|within_size|advise)
    disk = "vdb"

    [firmware]                 # optional x86 firmware/bootloader facts
    efi = true
    efi_low_reserved_pages = 0 # EFI boot-services pages reserved below 16 MiB
    setup_data = [{ start = 0x9d2e2018, size = 0x45e40 }]
    mtrr = { default = "uncachable", tom2 = 0, ranges = [{ base = 0, size = "2G", type = "write-back" }] }
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from pathlib import Path

from ..arch import make_arch
from ..arch.x86.kernel.e820 import e820_type_from_name
from ..arch.x86.kernel.cpu.mtrr import MTRR_TYPES
from ..description import KernelConfig, MachineDescription, MtrrState, NumaNode, default_config
from ..errors import ConfigError, LinuxmmError, ParseError
from ..include.linux.blkdev import DiskSpec, MountSpec
from ..mm.shmem import SHMEM_HUGE_OPTIONS
from ..kernel.params import memparse
from ..kernel.version import DEFAULT_VERSION, KernelVersion

_TOP_KEYS = {"name", "description", "arch", "la57", "pae", "page_size", "va_bits", "kernel", "cpus",
             "cmdline", "e820", "memory", "node", "distance", "config", "firmware", "disk", "mount"}
_DISK_KEYS = {"name", "size", "read_bw", "write_bw", "latency_us", "queue_depth", "read_ahead_kb", "nr_requests"}
_MOUNT_KEYS = {"path", "fs", "disk", "size", "huge"}
_FIRMWARE_KEYS = {"efi", "efi_low_reserved_pages", "setup_data", "mtrr", "esrt", "initrd"}


def read_file(path: str | Path, what: str) -> str:
    """The text of a TOML input file (``what``: "machine", "workload"); ``LinuxmmError`` if
    it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError as e:
        raise LinuxmmError(f"{path}: cannot read {what} file: {e.strerror}") from None


def parse(text: str, source: str) -> dict:
    """``tomllib.loads``, its syntax errors as a ``ParseError`` with the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ParseError(source, getattr(e, "lineno", None), f"invalid TOML: {getattr(e, 'msg', e)}") from None


def load(path: str | Path) -> MachineDescription:
    return loads(read_file(path, "machine"), str(path))


def loads(text: str, source: str = "<toml>") -> MachineDescription:
    data = parse(text, source)
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
    desc.disks = [_disk(d, f"disk[{i}]") for i, d in enumerate(data.get("disk", []))]
    desc.mounts = [_mount(m, f"mount[{i}]") for i, m in enumerate(data.get("mount", []))]
    check_storage(desc)
    return desc


def _count(value, what: str, minimum: int) -> int:
    """A whole number (or size string) of at least ``minimum``."""
    n = _addr(value, what) if isinstance(value, str) else value
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise ConfigError(f"{what}: expected a number >= {minimum}, got {value!r}")
    return n


def _disk(item, what: str) -> DiskSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{what}: expected a table, got {item!r}")
    unknown = set(item) - _DISK_KEYS
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")
    name = item.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9]{0,31}", name):
        raise ConfigError(f"{what}.name: expected a disk name like 'vdb', got {name!r}")
    spec = DiskSpec(name)
    fields = {"size": ("capacity", 1 << 20), "read_bw": ("read_bw", 1), "write_bw": ("write_bw", 1),
              "latency_us": ("latency_us", 0), "queue_depth": ("queue_depth", 1),
              "read_ahead_kb": ("read_ahead_kb", 0), "nr_requests": ("nr_requests", 4)}
    for key, (attr, minimum) in fields.items():
        if key in item:
            setattr(spec, attr, _count(item[key], f"{what}.{key}", minimum))
    return spec


def _mount(item, what: str) -> MountSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{what}: expected a table, got {item!r}")
    unknown = set(item) - _MOUNT_KEYS
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")
    path, fs = item.get("path"), item.get("fs")
    if not isinstance(path, str) or not path.startswith("/") or path != "/" and posixpath.normpath(path) != path:
        raise ConfigError(f"{what}.path: expected an absolute normalised path, got {path!r}")
    if fs not in ("ext4", "tmpfs"):
        raise ConfigError(f"{what}.fs: expected 'ext4' or 'tmpfs', got {fs!r}")
    if fs == "ext4" and ("size" in item or "huge" in item):
        raise ConfigError(f"{what}: 'size' and 'huge' are tmpfs options, not ext4's")
    if fs == "tmpfs" and "disk" in item:
        raise ConfigError(f"{what}: tmpfs lives in memory, it takes no 'disk' ({item['disk']!r})")
    huge = item.get("huge", "never")
    if huge not in SHMEM_HUGE_OPTIONS:
        raise ConfigError(f"{what}.huge: expected one of {', '.join(SHMEM_HUGE_OPTIONS)}, not {huge!r}")
    size = _count(item["size"], f"{what}.size", 1 << 12) if "size" in item else None
    return MountSpec(path, fs, item.get("disk"), size, huge)


def check_storage(desc: MachineDescription) -> None:
    """Disk names and mount points unique, ext4 mounts on declared disks."""
    names = [d.name for d in desc.disks]
    if len(set(names)) != len(names):
        raise ConfigError(f"disk: a name is declared twice ({', '.join(names)})")
    paths = [m.path for m in desc.mounts]
    if len(set(paths)) != len(paths):
        raise ConfigError(f"mount: a mount point is declared twice ({', '.join(paths)})")
    disks = {d.name for d in desc.storage_disks()}
    for m in desc.mounts:
        if m.fstype == "ext4" and m.disk not in disks:
            raise ConfigError(f"mount {m.path}: disk {m.disk!r} is not declared (disks: {', '.join(sorted(disks))})")


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
