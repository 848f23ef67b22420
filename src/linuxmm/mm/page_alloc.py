"""The page allocator (``mm/page_alloc.c``), Linux 6.18: zonelists so far.

``build_all_zonelists`` orders, for every node, the zones an allocation falls back to: nodes
by distance (``find_next_best_node``, with the kernel's penalties and load balancing), each
node's populated zones from the highest index down. It prints the ``Fallback order``,
``Built N zonelists`` and ``Policy zone`` boot lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.mmzone import MAX_NUMNODES, node_states

if TYPE_CHECKING:
    from ..init.main import Kernel

ZONELIST_FALLBACK, ZONELIST_NOFALLBACK = 0, 1
PENALTY_FOR_NODE_WITH_CPUS = 1


def find_next_best_node(k: "Kernel", node: int, used: set[int], node_load: dict[int, int]) -> int:
    """The unused node with memory nearest to ``node`` (ties: lower id), or -1."""
    if node not in used and k.node_states.node_state(node, node_states.N_MEMORY):
        used.add(node)
        return node
    best, best_val = -1, None
    for n in k.node_states.nodes(node_states.N_MEMORY):
        if n in used:
            continue
        val = k.node_distance(node, n)
        val += 1 if n < node else 0  # prefer nodes after us, round-robin
        val += PENALTY_FOR_NODE_WITH_CPUS if k.node_states.node_state(n, node_states.N_CPU) else 0
        val = val * MAX_NUMNODES + node_load.get(n, 0)
        if best_val is None or val < best_val:
            best, best_val = n, val
    if best >= 0:
        used.add(best)
    return best


def build_zonelists(k: "Kernel", pgdat, node_load: dict[int, int]) -> list[int]:
    """Node fallback order for ``pgdat``; fills its FALLBACK and NOFALLBACK zonelists."""
    local = pgdat.node_id
    used: set[int] = set()
    node_order: list[int] = []
    prev = local
    while (node := find_next_best_node(k, local, used, node_load)) >= 0:
        # spread same-distance groups across their nodes (5.16+ form)
        if k.node_distance(local, node) != k.node_distance(local, prev):
            node_load[node] = node_load.get(node, 0) + 1
        node_order.append(node)
        prev = node
    if k.zonelist_order == "Zone":  # ≤4.13 option: by zone type first, then by node
        pgdat.node_zonelists[ZONELIST_FALLBACK] = [
            z for idx in reversed(range(len(k.zone_names))) for nid in node_order
            for z in build_zonerefs_node(k, k.NODE_DATA(nid)) if z.idx == idx]
    else:
        pgdat.node_zonelists[ZONELIST_FALLBACK] = [
            z for nid in node_order for z in build_zonerefs_node(k, k.NODE_DATA(nid))]
    pgdat.node_zonelists[ZONELIST_NOFALLBACK] = build_zonerefs_node(k, pgdat)
    return node_order


def build_zonerefs_node(k: "Kernel", pgdat) -> list:
    """Populated zones of a node, highest index first; tracks ``policy_zone``."""
    out = []
    for z in reversed(pgdat.node_zones):
        if z.populated_zone():
            out.append(z)
            if z.idx > k.policy_zone and z.name != "Movable":
                k.policy_zone = z.idx
    return out


def nr_free_zone_pages(k: "Kernel", highest_idx: int) -> int:
    """Managed pages above the high watermark in the local node's zonelist up to a zone."""
    pgdat = k.NODE_DATA(k.numa_node_id())
    total = 0
    for z in pgdat.node_zonelists[ZONELIST_FALLBACK]:
        if z.idx <= highest_idx:
            total += max(0, z.managed_pages - z.high_wmark_pages())
    return total


def default_zonelist_order(k: "Kernel") -> str:
    """≤4.13: "Node" or "Zone" order. 4.7-4.13 chose Node on 64-bit; before, a heuristic
    preferred Zone order unless DMA/DMA32 were large or some node had no Normal memory."""
    if not k.config.numa:
        return "Zone"
    if k.version >= (4, 7):
        return "Node" if k.arch.is_64bit else "Zone"
    normal = k.zone_names.index("Normal")
    low = total = 0
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        for z in k.NODE_DATA(nid).node_zones:
            if z.populated_zone():
                low += z.managed_pages if z.idx < normal else 0
                total += z.managed_pages
            elif z.idx == normal:
                return "Node"  # a node with only lowmem: keep kernel allocations local
    if not low or low > total // 2:
        return "Node"
    average = total // (k.node_states.num_node_state(node_states.N_MEMORY) + 1)
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        zones = [z for z in k.NODE_DATA(nid).node_zones if z.populated_zone()]
        low_p = sum(z.present_pages for z in zones if z.idx < normal)
        total_p = sum(z.present_pages for z in zones)
        if low_p and total_p > average and low_p > total_p * 70 // 100:
            return "Node"
    return "Zone"


def build_all_zonelists(k: "Kernel") -> None:
    node_load: dict[int, int] = {}
    k.policy_zone = 0
    k.zonelist_order = default_zonelist_order(k) if k.version < (4, 14) else "Node"
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        pgdat = k.NODE_DATA(nid)
        order = build_zonelists(k, pgdat, node_load)
        if k.config.numa and k.version >= (5, 16):
            k.log.info(f"Fallback order for Node {nid}: " + "".join(f"{n} " for n in order))
    movable_idx = k.zone_names.index("Movable")
    k.vm_total_pages = nr_free_zone_pages(k, movable_idx)
    k.page_group_by_mobility_disabled = k.vm_total_pages < (
        (1 << k.arch.pageblock_order) * k.config.MIGRATE_TYPES)
    grouping = "off" if k.page_group_by_mobility_disabled else "on"
    nr_online = k.node_states.num_node_state(node_states.N_ONLINE)
    if k.version < (4, 14):
        k.log.info(f"Built {nr_online} zonelists in {k.zonelist_order} order, mobility grouping "
                   f"{grouping}.  Total pages: {k.vm_total_pages}")
    else:
        k.log.info(f"Built {nr_online} zonelists, mobility grouping {grouping}.  "
                   f"Total pages: {k.vm_total_pages}")
    if k.config.numa:
        k.log.info(f"Policy zone: {k.zone_names[k.policy_zone]}")
