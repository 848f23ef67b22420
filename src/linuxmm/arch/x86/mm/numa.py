"""x86 NUMA discovery (``arch/x86/mm/numa.c``, ``mm/numa_memblks.c`` from 6.13), Linux 6.18.

With an SRAT in the machine description its memory affinity entries become node memblks;
``numa_cleanup_meminfo`` joins a node's blocks that no other node's memory separates
(printing the ``NUMA: Node N [mem ...] + [mem ...] -> [mem ...]`` line), and memblock
regions get their node ids. Without one (or with ``numa=off``) ``dummy_numa_init`` fakes
node 0 over [0, max_pfn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....errors import ConfigError
from ....include.linux.mmzone import node_states
from ....mm.memblock import MEMBLOCK_HOTPLUG
from . import init_32

if TYPE_CHECKING:
    from ....init.main import Kernel


def initmem_init(k: "Kernel") -> None:
    desc = k.desc
    if not k.config.numa:  # 32-bit and other non-NUMA kernels: everything is node 0
        if not k.arch.is_64bit:
            init_32.initmem_init(k)
        numa_register_memblks(k, [(0, 1 << 64, 0, False)])
        k.NODE_DATA(0).cpus = list(range(desc.nr_cpus))
    elif desc.numa and not k.params.numa_off:
        numa_init_from_description(k)
    else:
        dummy_numa_init(k)
    k.memblocks_present()


def numa_init_from_description(k: "Kernel", announce_merges: bool = True,
                               announce_distance: bool = True) -> None:
    """SRAT (or device-tree) nodes: distances, cleaned-up blocks, node ids on memblock."""
    blks = [(s, e, n.nid, (n.hotplug[i] if i < len(n.hotplug) else False))
            for n in k.desc.numa for i, (s, e) in enumerate(n.ranges)]
    _numa_distance_table(k, announce_distance)
    blks = numa_cleanup_meminfo(k, blks, announce_merges)
    numa_register_memblks(k, blks)
    for n in k.desc.numa:
        if n.nid in k.pgdat:
            k.NODE_DATA(n.nid).cpus = list(n.cpus)
            for cpu in n.cpus:
                k.cpu_to_node[cpu] = n.nid


def dummy_numa_init(k: "Kernel") -> None:
    end = k.arch.PFN_PHYS(k.max_pfn)
    if k.config.numa:
        k.log.info("NUMA turned off" if k.params.numa_off else "No NUMA configuration found")
        k.log.info(f"Faking a node at [mem {0:#018x}-{end - 1:#018x}]")
    numa_register_memblks(k, [(0, end, 0, False)])
    k.NODE_DATA(0).cpus = list(range(k.desc.nr_cpus))
    for cpu in range(k.desc.nr_cpus):
        k.cpu_to_node[cpu] = 0


def _numa_distance_table(k: "Kernel", announce: bool) -> None:
    """A SLIT in the description fills ``numa_distance`` (``numa_alloc_distance``; arm64's
    ``arch_numa.c`` says so at pr_debug only)."""
    dist = k.desc.distance
    if dist is None:
        return
    if announce:
        k.log.debug(f"NUMA: Initialized distance table, cnt={len(dist)}")
    for a, row in enumerate(dist):
        for b, d in enumerate(row):
            k.numa_distance[(a, b)] = d


def numa_cleanup_meminfo(k: "Kernel", blks: list[tuple[int, int, int, bool]], announce: bool = True):
    """Clip blocks to memory below max_pfn, then merge same-node neighbours."""
    high = k.arch.PFN_PHYS(k.max_pfn)
    mem = [(r.base, r.end) for r in k.memblock.memory.regions]
    kept = []
    for start, end, nid, hp in blks:
        if not any(s < end and start < e for s, e in mem):
            continue  # numa_reserved_meminfo: no RAM behind it
        end = min(end, high)
        if start < end:
            kept.append([start, end, nid, hp])
    i = 0
    while i < len(kept):
        bi = kept[i]
        j = i + 1
        while j < len(kept):
            bj = kept[j]
            if bi[1] > bj[0] and bi[0] < bj[1] and bi[2] != bj[2]:
                raise ConfigError(f"node {bi[2]} [mem {bi[0]:#010x}-{bi[1] - 1:#010x}] overlaps with "
                                  f"node {bj[2]} [mem {bj[0]:#010x}-{bj[1] - 1:#010x}]")
            if bi[2] != bj[2]:
                j += 1
                continue
            start, end = min(bi[0], bj[0]), max(bi[1], bj[1])
            if any(bk[2] != bi[2] and start < bk[1] and end > bk[0] for bk in kept):
                j += 1
                continue
            if announce:
                k.log.info(f"NUMA: Node {bi[2]} [mem {bi[0]:#010x}-{bi[1] - 1:#010x}] + "
                           f"[mem {bj[0]:#010x}-{bj[1] - 1:#010x}] -> [mem {start:#010x}-{end - 1:#010x}]")
            bi[0], bi[1] = start, end
            del kept[j]
        i += 1
    return [tuple(b) for b in kept]


def numa_register_memblks(k: "Kernel", blks) -> None:
    """Give memblock regions their node; nodes with memory come online."""
    for start, end, nid, hotplug in blks:
        k.memblock.memory.set_node(start, end - start, nid)
        if hotplug:
            k.memblock.memory.set_flag(start, end - start, MEMBLOCK_HOTPLUG)
    unassigned = [r for r in k.memblock.memory.regions if r.nid < 0]
    if unassigned:  # memory SRAT does not cover falls back to node 0, as numa_meminfo_cover_memory warns
        for r in unassigned:
            k.memblock.memory.set_node(r.base, r.size, 0)
    nids = sorted({r.nid for r in k.memblock.memory.regions} | {b[2] for b in blks})
    for nid in nids:
        if any(r.nid == nid for r in k.memblock.memory.regions):
            k.set_node_online(nid)
            k.node_states.node_set_state(nid, node_states.N_POSSIBLE)
            if k.config.numa:
                alloc_node_data(k, nid)
            if k.config.numa and setup_node_data_prints(k):
                start = min(b[0] for b in blks if b[2] == nid)
                end = max(b[1] for b in blks if b[2] == nid)
                k.log.info(f"Initmem setup node {nid} [mem {start:#010x}-{end - 1:#010x}]")


def alloc_node_data(k: "Kernel", nid: int) -> None:
    """The node's pg_data_t, from its own memory, top-down."""
    size = k.config.sizeof_pglist_data
    base = k.memblock.memblock_alloc_try_nid(size, 64, nid)
    if k.version >= (4, 0) and base:
        k.log.info(f"NODE_DATA({nid}) allocated [mem {base:#010x}-{base + size - 1:#010x}]")


def setup_node_data_prints(k: "Kernel") -> bool:
    """Before 4.0 x86-64 announced each node while allocating its pg_data_t (RHEL 7 backports the later form)."""
    return k.version < (4, 0) and k.version.distro != "rhel"
