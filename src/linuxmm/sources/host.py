"""This machine as a ``MachineDescription`` (``linuxmm boot --host``).

Reads what the running kernel exposes: the firmware map (``/sys/firmware/memmap``, the
pristine e820 table), ``/proc/cmdline``, ``/proc/sys/kernel/osrelease``, the architecture,
and the NUMA nodes (``/sys/devices/system/node``: CPUs, distances and memory blocks). With a
single node and no SRAT table the kernel faked its node, and so will the simulator. Storage:
the disks of ``/sys/block`` with a size (capacity, ``queue/read_ahead_kb``,
``queue/nr_requests``; bandwidth and latency are not exposed: the model's defaults), the
read-write ext4 mounts of those disks (a partition counts as its disk) and tmpfs mounts
outside /sys and /proc, from ``/proc/mounts``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from ..arch import make_arch
from ..arch.x86.kernel.e820 import e820_type_from_name
from ..description import MachineDescription, NumaNode
from ..errors import LinuxmmError, ParseError
from ..include.linux.blkdev import SECTOR_SHIFT, DiskSpec, MountSpec
from ..kernel.version import KernelVersion


def _read(root: Path, rel: str) -> str:
    try:
        return (root / rel.lstrip("/")).read_text().strip()
    except OSError as e:
        raise LinuxmmError(f"{root / rel.lstrip('/')}: cannot read ({e.strerror})") from None


def _cpulist(text: str) -> list[int]:
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def firmware_memmap(root: Path) -> list[tuple[int, int, int]]:
    base = root / "sys/firmware/memmap"
    if not base.is_dir():
        raise LinuxmmError(f"{base}: no firmware memory map (not x86, or CONFIG_FIRMWARE_MEMMAP off)")
    entries = []
    for d in sorted(base.iterdir(), key=lambda p: int(p.name)):
        start, end = int(_read(d, "start"), 16), int(_read(d, "end"), 16)
        tname = _read(d, "type")
        t = e820_type_from_name(tname)
        if t is None:
            raise ParseError(str(d / "type"), 1, f"unknown memory type {tname!r}")
        entries.append((start, end + 1, t))
    return entries


def numa_nodes(root: Path) -> tuple[list[NumaNode] | None, list[list[int]] | None]:
    base = root / "sys/devices/system/node"
    nodes = sorted((int(p.name[4:]) for p in base.glob("node[0-9]*")), key=int) if base.is_dir() else []
    if len(nodes) <= 1 and not (root / "sys/firmware/acpi/tables/SRAT").exists():
        return None, None
    block = int(_read(root, "sys/devices/system/memory/block_size_bytes"), 16)
    out, dist = [], []
    for nid in nodes:
        nd = base / f"node{nid}"
        blocks = sorted(int(p.name[6:]) for p in nd.glob("memory[0-9]*"))
        ranges: list[tuple[int, int]] = []
        for b in blocks:
            if ranges and ranges[-1][1] == b * block:
                ranges[-1] = (ranges[-1][0], (b + 1) * block)
            else:
                ranges.append((b * block, (b + 1) * block))
        out.append(NumaNode(nid, ranges, _cpulist(_read(nd, "cpulist"))))
        dist.append([int(x) for x in _read(nd, "distance").split()])
    return out, dist


def load(root: str | Path = "/") -> MachineDescription:
    root = Path(root)
    machine = platform.machine() if root == Path("/") else "x86_64"
    arch = make_arch(machine, la57=_la57(root))
    version = KernelVersion.parse(_read(root, "proc/sys/kernel/osrelease"))
    numa, dist = numa_nodes(root)
    cpus = len(_cpulist(_read(root, "sys/devices/system/cpu/possible")))
    desc = MachineDescription(
        name=f"host:{os.uname().nodename}" if root == Path("/") else f"host:{root}",
        arch=arch, version=version, cmdline=_read(root, "proc/cmdline"), nr_cpus=cpus,
        e820=firmware_memmap(root), numa=numa, distance=dist, source=str(root),
        disks=host_disks(root), mounts=[])
    desc.mounts = host_mounts(root, desc)
    return desc


def host_disks(root: Path) -> list[DiskSpec]:
    """Every disk of ``/sys/block`` with a non-zero size (loop and zram devices unused are 0)."""
    base, out = root / "sys/block", []
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        sectors = int(_read(d, "size"))
        if sectors and (d / "queue/read_ahead_kb").exists():
            out.append(DiskSpec(d.name, capacity=sectors << SECTOR_SHIFT,
                                read_ahead_kb=int(_read(d, "queue/read_ahead_kb")),
                                nr_requests=int(_read(d, "queue/nr_requests"))))
    return out


def host_mounts(root: Path, desc: MachineDescription) -> list[MountSpec]:
    """ext4 (read-write, on a listed disk or one of its partitions) and tmpfs mounts, each
    mount point once (the first), parents before children; none (the default machine's)
    when the tree has no /proc/mounts."""
    disks = [d.name for d in desc.disks]
    out: dict[str, MountSpec] = {}
    mounts = root / "proc/mounts"
    for line in _read(root, "proc/mounts").splitlines() if mounts.exists() else []:
        dev, path, fstype, opts = (line.split() + ["", "", "", ""])[:4]
        options = dict(o.partition("=")[::2] for o in opts.split(","))
        if path in out or "ro" in options or path.startswith(("/sys", "/proc")):
            continue
        disk = next((d for d in disks if dev.removeprefix("/dev/").startswith(d)), None)
        if fstype == "ext4" and disk is not None:
            out[path] = MountSpec(path, "ext4", disk)
        elif fstype == "tmpfs":
            size = options.get("size", "")
            out[path] = MountSpec(path, "tmpfs", size=int(size[:-1]) << 10 if size.endswith("k") else None)
    return sorted(out.values(), key=lambda m: (m.path != "/", m.path))


def _la57(root: Path) -> bool:
    try:
        return " la57" in (root / "proc/cpuinfo").read_text() and False
    except OSError:
        return False
