"""``Machine``: the public face of a booted simulated machine, for notebooks and the CLI.

    >>> m = linuxmm.Machine()                      # the default machine
    >>> m = linuxmm.Machine(preset="seed-x86-32")  # a built-in preset
    >>> m = linuxmm.Machine.from_dmesg("boot.log")  # a real machine's boot log
    >>> print(m.dmesg())
"""

from __future__ import annotations

from pathlib import Path

from .description import MachineDescription
from .include.linux.mmzone import node_states, pglist_data, zone
from .init.main import Kernel, start_kernel


class Machine:
    def __init__(self, desc: MachineDescription | None = None, *, preset: str | None = None,
                 cmdline: str | None = None, machine_file: str | Path | None = None):
        from . import presets
        from .sources import toml as toml_source

        if desc is None:
            if machine_file is not None:
                desc = toml_source.load(machine_file)
            else:
                desc = presets.get(preset or presets.DEFAULT)
        if cmdline is not None:
            desc.cmdline = (desc.cmdline + " " + cmdline).strip()
        self.desc = desc
        self.kernel: Kernel = start_kernel(desc)

    @classmethod
    def from_dmesg(cls, path: str | Path, cmdline: str | None = None) -> "Machine":
        from .sources import dmesg as dmesg_source

        return cls(dmesg_source.load(path), cmdline=cmdline)

    @classmethod
    def from_host(cls, root: str | Path = "/", cmdline: str | None = None) -> "Machine":
        from .sources import host as host_source

        return cls(host_source.load(root), cmdline=cmdline)

    # ---- views ---------------------------------------------------------------------------
    def dmesg(self) -> str:
        """The boot log lines the simulator reproduces, without timestamps."""
        return str(self.kernel.log)

    @property
    def nodes(self) -> list[pglist_data]:
        return [self.kernel.NODE_DATA(n) for n in self.kernel.node_ids]

    def NODE_DATA(self, nid: int) -> pglist_data:
        return self.kernel.NODE_DATA(nid)

    def for_each_online_node(self):
        return self.kernel.for_each_online_node()

    def zones(self) -> list[zone]:
        return [z for p in self.nodes for z in p.node_zones]

    def node_states(self) -> dict[str, list[int]]:
        return {s.name: self.kernel.node_states.nodes(s) for s in node_states}

    def layout(self) -> dict:
        """Nodes x zones with ranges and page counts, as plain data (``--format json``)."""
        k = self.kernel
        shift = k.arch.page_shift
        return {
            "name": self.desc.name,
            "arch": k.arch.name,
            "kernel": str(k.version),
            "cmdline": self.desc.cmdline,
            "page_size": k.arch.PAGE_SIZE,
            "max_pfn": k.max_pfn,
            "max_low_pfn": k.max_low_pfn,
            "total_pages": k.vm_total_pages,
            "policy_zone": k.zone_names[k.policy_zone],
            "node_states": self.node_states(),
            "nodes": [{
                "nid": p.node_id,
                "start_pfn": p.node_start_pfn,
                "spanned_pages": p.node_spanned_pages,
                "present_pages": p.node_present_pages,
                "cpus": p.cpus,
                "zonelist": [f"{z.node}:{z.name}" for z in p.node_zonelists[0]],
                "zones": [{
                    "name": z.name,
                    "start": z.zone_start_pfn << shift,
                    "end": z.zone_end_pfn << shift,
                    "start_pfn": z.zone_start_pfn,
                    "spanned_pages": z.spanned_pages,
                    "present_pages": z.present_pages,
                    "managed_pages": z.managed_pages,
                } for z in p.node_zones],
            } for p in self.nodes],
        }

    def __repr__(self) -> str:
        k = self.kernel
        return (f"<Machine {self.desc.name!r} {k.arch.name} Linux {k.version}: "
                f"{len(k.node_ids)} node(s), {k.vm_total_pages} pages>")
