"""The page allocator (``mm/page_alloc.c``), Linux 6.18: zonelists, watermarks, reserves.

``build_all_zonelists`` orders, for every node, the zones an allocation falls back to: nodes
by distance (``find_next_best_node``, with the kernel's penalties and load balancing), each
node's populated zones from the highest index down. It prints the ``Fallback order``,
``Built N zonelists`` and ``Policy zone`` boot lines.

The second half sizes what the allocator keeps in reserve: ``calculate_min_free_kbytes``,
``setup_per_zone_wmarks`` (min/low/high/promo), ``setup_per_zone_lowmem_reserve``,
``calculate_totalreserve_pages``, the per-cpu pageset limits (``zone_batchsize``,
``zone_highsize``, ``zone_pcp_update``) and ``init_per_zone_wmark_min`` that runs them, with
the sysctl handlers that rerun them. The buddy allocator itself lives in ``mm/buddy.py``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..include.linux.mmzone import MAX_NUMNODES, for_each_populated_zone, for_each_zone, node_states, zone_idx
from . import vmstat
from ..kernel.kthread import TASK_INTERRUPTIBLE
from ..kernel.printk import dump_stack
from ..kernel.sched.psi import psi_memstall_enter, psi_memstall_leave
from ..lib.int_sqrt import int_sqrt
from .show_mem import __show_mem

if TYPE_CHECKING:
    from ..init.main import Kernel

ZONELIST_FALLBACK, ZONELIST_NOFALLBACK = 0, 1
PENALTY_FOR_NODE_WITH_CPUS = 1


def find_next_best_node(k: "Kernel", node: int, used: set[int], node_load: dict[int, int]) -> int:
    """The local node first (memory or not), then the unused node with memory nearest to
    ``node`` (ties: lower id), or -1."""
    if node not in used:
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
            if k.config.numa and z.idx > k.policy_zone and z.name != "Movable":
                k.policy_zone = z.idx  # check_highest_zone() exists only on NUMA kernels
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
    """≤4.13: "Node" or "Zone" order. From 3.17 ("mm: page_alloc: default node-ordering on
    64-bit NUMA, zone-ordering on 32-bit") the word size decides; before, a heuristic preferred
    Zone order unless DMA/DMA32 were large or some node had no Normal memory (RHEL 7's 3.10
    and Debian's 3.16 keep it: they print Zone order, Ubuntu's 4.4 servers Node order)."""
    if not k.config.numa:
        return "Zone"
    if k.version >= (3, 17):
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
    if not k.vm_total_pages:  # the kernel would panic at its first allocation
        from ..errors import ConfigError

        raise ConfigError(f"{k.desc.name}: no memory left for the page allocator (Total pages: 0); "
                          f"command line {k.desc.cmdline!r}")


# =========================================================================================
# Watermarks, lowmem reserves and per-cpu pagesets (mm/page_alloc.c, Linux 6.18).
#
# ``init_per_zone_wmark_min`` (a postcore initcall, rerun on memory hotplug and, on the
# lazy-init host, on every growth of ZONE_NORMAL) derives everything here from the managed
# page counts and the vm sysctls in ``k.vm`` (``kernel.sysctl.vm_sysctl``):
#   min_free_kbytes -> per-zone min/low/high/promo -> pcp batch/high -> lowmem_reserve
#   -> totalreserve_pages.  Formulas: kernel-reference.md sections 5 and 6.
# =========================================================================================

SWAP_CLUSTER_MAX = 32
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8
BOOT_PAGESET_HIGH, BOOT_PAGESET_BATCH = 0, 1


def is_highmem(z) -> bool:
    return z.name == "HighMem"


def gfp_zone_user(k: "Kernel") -> int:
    """``gfp_zone(GFP_USER)``: ZONE_NORMAL (highmem and movable are off limits)."""
    return zone_idx(k, "Normal")


def totalram_pages(k: "Kernel") -> int:
    """``totalram_pages()``: memblock_free_all's count once it ran, else Σ managed."""
    if k.totalram_pages is not None:
        return k.totalram_pages
    return sum(z.managed_pages for z in for_each_zone(k))


def nr_free_buffer_pages(k: "Kernel") -> int:
    """Managed pages above the high watermark in the zones GFP_USER may use."""
    return nr_free_zone_pages(k, gfp_zone_user(k))


def calculate_min_free_kbytes(k: "Kernel") -> None:
    """min_free_kbytes = 4·√lowmem_kb, clamped; a value written by the admin wins."""
    vm = k.vm
    lowmem_kbytes = nr_free_buffer_pages(k) * (k.arch.PAGE_SIZE >> 10)
    new_min_free_kbytes = int(int_sqrt(lowmem_kbytes * 16))
    cap = 262144 if k.version >= (5, 7) else 65536  # raised from 64 MiB in 5.7
    if new_min_free_kbytes > vm.user_min_free_kbytes:
        vm.min_free_kbytes = min(max(new_min_free_kbytes, 128), cap)
    else:
        k.log.warn(f"min_free_kbytes is not updated to {new_min_free_kbytes} because user "
                   f"defined value {vm.user_min_free_kbytes} is preferred")


def _min_is_clamped(k: "Kernel", z) -> bool:
    """HighMem, and since 6.1 Movable, get a small fixed MIN instead of a lowmem share."""
    return is_highmem(z) or (z.name == "Movable" and k.version >= (6, 1))


def __setup_per_zone_wmarks(k: "Kernel") -> None:
    pages_min = k.vm.min_free_kbytes >> (k.arch.page_shift - 10)
    lowmem_pages = sum(z.managed_pages for z in for_each_zone(k) if not _min_is_clamped(k, z))
    for z in for_each_zone(k):
        z._watermark = zone_watermarks_for(k, z, pages_min, lowmem_pages)
        z.watermark_boost = 0
    calculate_totalreserve_pages(k)


def zone_watermarks_for(k: "Kernel", z, pages_min: int, lowmem_pages: int) -> list[int]:
    """[min, low, high, promo] of one zone: its share of pages_min, then equal steps."""
    managed = z.managed_pages
    # the kernel divides by lowmem_pages unguarded; a machine without lowmem cannot boot
    share = pages_min * managed // lowmem_pages if lowmem_pages else 0
    wmin = min(max(managed // 1024, SWAP_CLUSTER_MAX), 128) if _min_is_clamped(k, z) else share
    if k.version < (4, 6):  # ≤4.5: LOW and HIGH were 1/4 and 1/2 of the share above MIN
        return [wmin, wmin + (share >> 2), wmin + (share >> 1), wmin + (share >> 1)]
    # the step uses the lowmem share even where MIN was clamped (an empty Movable: 32 x 4)
    step = max(share >> 2, managed * k.vm.watermark_scale_factor // 10000)
    return [wmin, wmin + step, wmin + 2 * step, wmin + 3 * step]


def setup_per_zone_wmarks(k: "Kernel") -> None:
    """Recompute every zone's watermarks, then the pcp limits that derive from them."""
    __setup_per_zone_wmarks(k)
    for z in for_each_zone(k):
        zone_pcp_update(k, z, 0)


def calculate_totalreserve_pages(k: "Kernel") -> None:
    """Pages kept from userspace: per zone, its largest lowmem reserve plus HIGH, capped."""
    total = 0
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        pgdat = k.NODE_DATA(nid)
        pgdat.totalreserve_pages = 0
        for i, z in enumerate(pgdat.node_zones):
            reserve = max([0] + z.lowmem_reserve[i:]) + z.high_wmark_pages()
            reserve = min(reserve, z.managed_pages)
            pgdat.totalreserve_pages += reserve
            total += reserve
    k.totalreserve_pages = total


def setup_per_zone_lowmem_reserve(k: "Kernel") -> None:
    """``lowmem_reserve[j]`` of zone i: the managed pages of zones i+1..j over ratio[i]."""
    ratio = k.vm.sysctl_lowmem_reserve_ratio
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        zones = k.NODE_DATA(nid).node_zones
        if k.version >= (5, 13):
            _lowmem_reserve_cumulative(zones, ratio)
        else:
            _lowmem_reserve_walk_down(k, zones, ratio)
    calculate_totalreserve_pages(k)


def _lowmem_reserve_cumulative(zones, ratio) -> None:
    for i, z in enumerate(zones[:-1]):
        clear = not ratio[i] or not z.managed_pages
        running = 0
        for j in range(i + 1, len(zones)):
            # empty upper zones still get the running sum: DMA shows (0, 3019, 4043, 4043, 4043)
            running += zones[j].managed_pages
            z.lowmem_reserve[j] = 0 if clear else running // ratio[i]


def _lowmem_reserve_walk_down(k: "Kernel", zones, ratio) -> None:
    """≤5.12 [M]: for each upper zone j walk down; a skipped zone does not add its pages."""
    for j, upper in enumerate(zones):
        upper.lowmem_reserve[j] = 0
        running = upper.managed_pages
        for idx in range(j - 1, -1, -1):
            lower = zones[idx]
            if k.version < (4, 18) and ratio[idx] < 1:
                ratio[idx] = 1  # ≤4.17 rewrote 0 to 1: old /proc shows "256 256 32 1"
            if not ratio[idx] or (k.version >= (5, 8) and not lower.managed_pages):
                lower.lowmem_reserve[j] = 0
                continue
            lower.lowmem_reserve[j] = running // ratio[idx]
            running += lower.managed_pages


def zone_batchsize(k: "Kernel", z) -> int:
    """Per-cpu list batch: a quarter of 1/1024 of the zone, capped at 1 MiB (512 KiB ≤4.18), 2^n - 1."""
    cap = (1 << 20) if batch_cap_doubled(k.version) else (512 << 10)
    batch = max(min(z.managed_pages >> 10, cap // k.arch.PAGE_SIZE) // 4, 1)
    n = batch + batch // 2
    return (1 << (n.bit_length() - 1)) - 1


def batch_cap_doubled(version) -> bool:
    """4.19 doubled the batch cap ("mm, page_alloc: double zone's batchsize"). Two distribution
    lines carry the backport: SUSE's 4.12.14 kernels (SLE 15 / openSUSE Leap 15, release
    ``4.12.14-*-default``) and RHEL 8's 4.18 from 8.4 (``4.18.0-305.el8_4``; 8.1's -147 has the
    old cap; the release in between that took it is not known here)."""
    if version >= (4, 19):
        return True
    if version.distro == "suse" and version == (4, 12, 14):
        return True
    return version.distro == "rhel" and version == (4, 18, 0) and version.distro_build >= 305


def nr_node_cpus(k: "Kernel", nid: int) -> int:
    return len(k.NODE_DATA(nid).cpus)


def zone_highsize(k: "Kernel", z, batch: int, cpu_online: int, high_fraction: int) -> int:
    """pcp high: LOW (or managed/fraction) split over the node's CPUs, at least 4 batches."""
    if not high_fraction:
        total_pages = z.low_wmark_pages()
    else:
        total_pages = z.managed_pages // high_fraction
    nr_split_cpus = nr_node_cpus(k, z.node) + cpu_online
    if not nr_split_cpus:  # memoryless-CPU nodes: spread over every online CPU
        nr_split_cpus = k.desc.nr_cpus
    return max(total_pages // nr_split_cpus, batch << 2)


def zone_set_pageset_high_and_batch(k: "Kernel", z, cpu_online: int) -> None:
    fraction = k.vm.percpu_pagelist_high_fraction
    new_batch = max(1, zone_batchsize(k, z))
    if k.version >= (6, 7):
        if fraction:  # tuned by hand: auto-tuning off, high fixed
            high_min = high_max = zone_highsize(k, z, new_batch, cpu_online, fraction)
        else:
            high_min = zone_highsize(k, z, new_batch, cpu_online, 0)
            high_max = zone_highsize(k, z, new_batch, cpu_online, MIN_PERCPU_PAGELIST_HIGH_FRACTION)
    elif k.version >= (5, 14):
        high_min = high_max = zone_highsize(k, z, new_batch, cpu_online, fraction)
    else:
        high_min = high_max = 6 * zone_batchsize(k, z)  # ≤5.13: six batches [M]
    z.pageset_batch, z.pageset_high_min, z.pageset_high_max = new_batch, high_min, high_max
    _pageset_update(k, z, high_min, high_max, new_batch)


def _pageset_update(k: "Kernel", z, high_min: int, high_max: int, batch: int) -> None:
    """Write the limits into every CPU's pageset; ≥6.7 ``high`` itself is live state."""
    while len(z.per_cpu_pageset) < k.desc.nr_cpus:
        z.per_cpu_pageset.append({"count": 0, "high": BOOT_PAGESET_HIGH, "batch": BOOT_PAGESET_BATCH,
                                  "high_min": BOOT_PAGESET_HIGH, "high_max": BOOT_PAGESET_HIGH})
    for pcp in z.per_cpu_pageset:
        pcp.update(batch=batch, high_min=high_min, high_max=high_max)
        if k.version < (6, 7):
            pcp["high"] = high_min


def zone_pcp_update(k: "Kernel", z, cpu_online: int = 0) -> None:
    zone_set_pageset_high_and_batch(k, z, cpu_online)


def setup_min_unmapped_ratio(k: "Kernel") -> None:
    """NUMA node reclaim: keep this share of each node's managed pages unmapped."""
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        k.NODE_DATA(nid).min_unmapped_pages = 0
    for z in for_each_zone(k):
        k.NODE_DATA(z.node).min_unmapped_pages += z.managed_pages * k.vm.sysctl_min_unmapped_ratio // 100


def setup_min_slab_ratio(k: "Kernel") -> None:
    for nid in k.node_states.nodes(node_states.N_ONLINE):
        k.NODE_DATA(nid).min_slab_pages = 0
    for z in for_each_zone(k):
        k.NODE_DATA(z.node).min_slab_pages += z.managed_pages * k.vm.sysctl_min_slab_ratio // 100


def init_per_zone_wmark_min(k: "Kernel") -> None:
    """``postcore_initcall``; memory hotplug (and lazy deferred init) run it again."""
    calculate_min_free_kbytes(k)
    setup_per_zone_wmarks(k)
    vmstat.refresh_zone_stat_thresholds(k)
    setup_per_zone_lowmem_reserve(k)
    if k.config.numa:
        setup_min_unmapped_ratio(k)
        setup_min_slab_ratio(k)
    if k.khugepaged_min_free_kbytes_update is not None:  # from khugepaged_init (hugepage_init) on
        k.khugepaged_min_free_kbytes_update(k)


# ---- sysctl handlers: called after ``kernel.sysctl`` stored a validated value -------------


def min_free_kbytes_sysctl_handler(k: "Kernel", old) -> None:
    k.vm.user_min_free_kbytes = k.vm.min_free_kbytes
    setup_per_zone_wmarks(k)


def watermark_scale_factor_sysctl_handler(k: "Kernel", old) -> None:
    setup_per_zone_wmarks(k)


def watermark_boost_factor_sysctl_handler(k: "Kernel", old) -> None:
    """The compiled ``boost_watermark`` reads the factor from the allocator's parameters."""
    k.mem_map.params[_buddy.P_BOOST_FACTOR] = k.vm.watermark_boost_factor


def lowmem_reserve_ratio_sysctl_handler(k: "Kernel", old) -> None:
    ratio = k.vm.sysctl_lowmem_reserve_ratio
    for i, r in enumerate(ratio):
        if r < 1:
            ratio[i] = 0
    setup_per_zone_lowmem_reserve(k)


def percpu_pagelist_high_fraction_sysctl_handler(k: "Kernel", old) -> None:
    from ..errors import KernelError

    new = k.vm.percpu_pagelist_high_fraction
    if new and new < MIN_PERCPU_PAGELIST_HIGH_FRACTION:
        k.vm.percpu_pagelist_high_fraction = old
        raise KernelError(errno.EINVAL, f"percpu_pagelist_high_fraction must be 0 or at least "
                                        f"{MIN_PERCPU_PAGELIST_HIGH_FRACTION}")
    if new == old:
        return
    for z in for_each_populated_zone(k):
        zone_set_pageset_high_and_batch(k, z, 0)


def sysctl_min_unmapped_ratio_sysctl_handler(k: "Kernel", old) -> None:
    setup_min_unmapped_ratio(k)


def sysctl_min_slab_ratio_sysctl_handler(k: "Kernel", old) -> None:
    setup_min_slab_ratio(k)


def numa_zonelist_order_handler(k: "Kernel", old) -> None:
    """Only Node order exists since 4.14; anything not starting with d/n is refused."""
    from ..errors import KernelError

    written, k.vm.numa_zonelist_order = k.vm.numa_zonelist_order, old
    if written[:1] not in ("d", "D", "n", "N"):
        k.log.warn(f"Ignoring unsupported numa_zonelist_order value:  {written}")
        raise KernelError(errno.EINVAL, f"unsupported numa_zonelist_order {written!r}")


# ---- the allocation API (fast path compiled in mm/buddy.py, slow path here) -------------

import numpy as _np  # noqa: E402
from numba import njit  # noqa: E402

from ..include.linux import gfp as _gfp  # noqa: E402
from ..include.linux.vmstat import (NR_FREE_PAGES, NR_ZONE_ACTIVE_ANON, NR_ZONE_ACTIVE_FILE,  # noqa: E402
                                    NR_ZONE_INACTIVE_ANON, NR_ZONE_INACTIVE_FILE)
from . import buddy as _buddy  # noqa: E402
from .pgtable import (AC_FAST, AC_GFP, AC_HIGHEST, AC_NID, AC_ORDER, AC_THP, NO_PAGE, SLOWPATH_FAILED,  # noqa: E402
                      VP_CPU, VP_SLOW_CTX, VP_SLOW_FOR, VP_SLOW_NOWAKE, VP_SLOW_PFN)

MAX_RECLAIM_RETRIES = 16


# node_reclaim's results (mm/internal.h)
NODE_RECLAIM_NOSCAN, NODE_RECLAIM_FULL, NODE_RECLAIM_SOME, NODE_RECLAIM_SUCCESS = -2, -1, 0, 1


class AllocHooks:
    """The slow path's steps that later subsystems fill in (``__alloc_pages_slowpath``).

    Each returns what the kernel function returns; the defaults do what a kernel without
    that subsystem's work would: no kswapd, reclaim and compaction make no progress, and there
    is no OOM killer. Subsystems register their step on the kernel's instance at boot:
    ``kswapd_init`` sets ``wake_all_kswapds``, ``direct_reclaim`` and ``node_reclaim`` to
    ``mm/vmscan.py``'s,
    ``oom_init`` sets ``out_of_memory`` to ``mm/oom_kill.py``'s.
    """

    def wake_all_kswapds(self, k, order: int, gfp: int, nid: int) -> None:
        return None  # kswapd_init registers mm/vmscan.py's

    def direct_reclaim(self, k, gfp: int, order: int) -> int:
        return 0  # pages reclaimed

    def direct_compact(self, k, gfp: int, order: int) -> bool:
        return False

    def out_of_memory(self, k, gfp: int, order: int) -> bool:
        return False  # did the OOM killer make progress? (oom_init registers mm/oom_kill.py's)

    def node_reclaim(self, k, pgdat, gfp: int, order: int) -> int:
        return NODE_RECLAIM_NOSCAN  # kswapd_init registers mm/vmscan.py's

    def wakeup_kswapd(self, k, z, gfp: int, order: int, highest_zoneidx: int) -> None:
        return None  # kswapd_init registers mm/vmscan.py's


def _zonelist(k, nid: int):
    if k._zonelists is None or k._zonelists_gen != id(k.pgdat):
        k._zonelists = _buddy.zonelist_array(k)
        k._zonelists_gen = id(k.pgdat)
    return k._zonelists


def alloc_flags_nofragment(k, preferred, gfp: int) -> int:
    """Prefer falling back to DMA32 over fragmenting Normal's pageblocks (ALLOC_NOFRAGMENT)."""
    flags = gfp & _gfp.__GFP_KSWAPD_RECLAIM
    if preferred is None or "DMA32" not in k.zone_names or preferred.name != "Normal":
        return flags
    below = k.NODE_DATA(preferred.node).node_zones[preferred.idx - 1]
    if len(k.node_ids) > 1 and not below.populated_zone():
        return flags
    return flags | _buddy.ALLOC_NOFRAGMENT


def gfp_to_alloc_flags(gfp: int, order: int) -> int:
    """The slow path's alloc_flags: MIN watermark, __GFP_HIGH reserves, atomic extras."""
    flags = _buddy.ALLOC_WMARK_MIN | _buddy.ALLOC_CPUSET
    flags |= gfp & (_gfp.__GFP_HIGH | _gfp.__GFP_KSWAPD_RECLAIM)  # same bits as MIN_RESERVE/KSWAPD
    if not gfp & _gfp.__GFP_DIRECT_RECLAIM:
        if not gfp & _gfp.__GFP_NOMEMALLOC:
            flags |= _buddy.ALLOC_NON_BLOCK
            if order > 0 and flags & _buddy.ALLOC_MIN_RESERVE:
                flags |= _buddy.ALLOC_HIGHATOMIC
        if flags & _buddy.ALLOC_MIN_RESERVE:
            flags &= ~_buddy.ALLOC_CPUSET
    return flags


def _preferred_zone(k, nid: int, highest: int):
    for z in k.NODE_DATA(nid).node_zonelists[0]:
        if z.idx <= highest:
            return z
    return None


def prepare_alloc_pages(k, gfp: int, nid: int, cpu: int) -> tuple:
    """``prepare_alloc_pages``: the allocation's ``alloc_context`` for the compiled walk (the
    highest zone, the migratetype, the zonelist, __GFP_THISNODE keeping ``nid``'s zones
    alone) and the allocating CPU's node, __GFP_COMP."""
    highest = _gfp.gfp_zone(gfp, k.zone_names)
    mt = 0 if k.page_group_by_mobility_disabled else _gfp.gfp_migratetype(gfp)
    zl = _zonelist(k, nid)[nid]
    if gfp & _gfp.__GFP_THISNODE:
        a = k.mem_map
        zl = zl.copy()
        zl[[i for i in range(len(zl)) if zl[i] >= 0 and a.zone_node[zl[i]] != nid]] = -1
        zl = _np.concatenate([zl[zl >= 0], _np.full(len(zl) - int((zl >= 0).sum()), -1)])
    return highest, mt, zl, k.cpu_to_node.get(cpu, nid), bool(gfp & _gfp.__GFP_COMP)


def get_page_from_freelist(k, gfp: int, order: int, alloc_flags: int, nid: int, cpu: int,
                           ac: tuple | None = None) -> int:
    """The compiled zonelist walk; with node reclaim enabled, a zone below its watermark first
    gets ``node_reclaim`` of its node (once per zone) and is tried again, as the kernel's
    walk does before falling back to the next zone. ``ac``: ``prepare_alloc_pages``' result
    (the slow path prepares it once for its attempts)."""
    a = k.mem_map
    highest, mt, zl, local_nid, comp = prepare_alloc_pages(k, gfp, nid, cpu) if ac is None else ac
    asked = node_reclaim_asked(k, zl, highest, alloc_flags)
    while True:
        pfn = int(_buddy.get_page_from_freelist(a, zl, highest, order, mt, alloc_flags, cpu, local_nid, comp, asked))
        if pfn >= -1:
            wake_boosted_kswapds(k)
            return pfn
        zid = -2 - pfn
        asked |= 1 << zid
        k.alloc_hooks.node_reclaim(k, k.NODE_DATA(int(a.zone_node[zid])), gfp, order)


def wake_boosted_kswapds(k) -> None:
    """``rmqueue``'s tail, for the compiled allocations just made: a zone whose watermark a
    fallback steal boosted (ZONE_BOOSTED_WATERMARK, set only for ALLOC_KSWAPD allocations)
    has the flag cleared and wakes its node's kswapd to reclaim the boost (order 0)."""
    a = k.mem_map
    # a handful of zones, after every compiled batch: a plain loop costs less than numpy's
    # reduction or any()'s generator
    for flags in a.zflags.tolist():
        if flags & _buddy.ZONE_BOOSTED_WATERMARK:
            break
    else:
        return
    for z in for_each_zone(k):
        zid = _buddy.zone_id(k, z)
        if a.zflags[zid] & _buddy.ZONE_BOOSTED_WATERMARK:
            a.zflags[zid] &= ~_buddy.ZONE_BOOSTED_WATERMARK
            k.alloc_hooks.wakeup_kswapd(k, z, 0, 0, z.idx)


def kswapds_to_ask(k, order: int, gfp: int, nid: int, highest: int) -> list:
    """The nodes whose kswapd ``__alloc_pages_slowpath``'s ``wake_all_kswapds`` would wake
    unless it is awake and already asked: none without __GFP_KSWAPD_RECLAIM; else, walking
    the zonelist up to the gfp's highest zone (each node once, at its first zone), the node
    of each zone with managed pages and a kswapd (``wakeup_kswapd`` returns at once for an
    empty zone)."""
    if not gfp & _gfp.__GFP_KSWAPD_RECLAIM:
        return []
    pgdats, last = [], None
    for z in k.NODE_DATA(nid).node_zonelists[0]:
        if z.idx > highest or z.node == last:
            continue
        last = z.node
        if z.managed_pages and k.NODE_DATA(z.node).kswapd is not None:
            pgdats.append(k.NODE_DATA(z.node))
    return pgdats


def slowpath_wakes_nothing(k, vs) -> None:
    """Before a compiled batch of faults: the allocation contexts whose slow path would wake
    no kswapd now (``vp[VP_SLOW_NOWAKE]``). For those the compiled path makes
    ``__alloc_pages_slowpath``'s first attempt itself, at the slow path's watermark
    (``gfp_to_alloc_flags``), instead of stopping the batch: when that succeeds the kernel
    neither sleeps nor reclaims, so Python would do nothing more. kswapd's state and requests
    change only in Python (between batches), so what holds at the start holds for the whole
    batch. Node reclaim, which the slow path tries first, keeps every context in Python.

    A context wakes nothing when each kswapd it would ask (``kswapds_to_ask``) is awake
    (``!waitqueue_active``: no wake-up) and was asked for its order and zone already
    (``kswapd_order``, ``kswapd_highest_zoneidx``). Which kswapds those are is kept in
    ``k.slowpath_nowake`` with what it was found from (node reclaim's mode, the contexts,
    the zones' managed pages); only kswapd's state is read at every batch."""
    key = (k.vm.node_reclaim_mode, vs.ac.tobytes(), k.mem_map.managed_pages.tobytes())
    if k.slowpath_nowake is None or k.slowpath_nowake[0] != key:
        mask, asks = 0, []
        if not node_reclaim_enabled(k):
            for ctx, ac in enumerate(vs.ac.tolist()):
                mask |= 1 << ctx
                asks += [(1 << ctx, pgdat, ac[AC_ORDER], ac[AC_HIGHEST])
                         for pgdat in kswapds_to_ask(k, ac[AC_ORDER], ac[AC_GFP], ac[AC_NID], ac[AC_HIGHEST])]
        k.slowpath_nowake = key, mask, asks
    _, mask, asks = k.slowpath_nowake
    nr_zones = len(k.zone_names)
    for bit, pgdat, order, highest in asks:
        if (pgdat.kswapd.state == TASK_INTERRUPTIBLE or pgdat.kswapd_order < order
                or not highest <= pgdat.kswapd_highest_zoneidx < nr_zones):
            mask &= ~bit
    vs.vp[VP_SLOW_NOWAKE] = mask


RECLAIM_ZONE, RECLAIM_WRITE, RECLAIM_UNMAP = 1, 2, 4  # vm.zone_reclaim_mode bits
RECLAIM_DISTANCE = 30  # node_reclaim_distance


def node_reclaim_enabled(k) -> bool:
    return bool(k.vm.node_reclaim_mode & (RECLAIM_ZONE | RECLAIM_WRITE | RECLAIM_UNMAP))


def node_reclaim_asked(k, zl, highest: int, alloc_flags: int) -> int:
    """The zones the walk must not ask node reclaim for (``get_page_from_freelist``'s
    conditions): all when it is disabled or watermarks are ignored; else those farther than
    RECLAIM_DISTANCE from the preferred zone's node (``zone_allows_reclaim``)."""
    if not node_reclaim_enabled(k) or alloc_flags & _buddy.ALLOC_NO_WATERMARKS:
        return _buddy.NODE_RECLAIM_NEVER
    a = k.mem_map
    zids = [int(z) for z in zl if z >= 0 and a.zone_idx[z] <= highest]
    if not zids:
        return _buddy.NODE_RECLAIM_NEVER
    local = int(a.zone_node[zids[0]])
    return sum(1 << zid for zid in range(a.zone_node.shape[0])
               if zid not in zids or k.node_distance(local, int(a.zone_node[zid])) > RECLAIM_DISTANCE)


def alloc_pages(k, gfp: int, order: int = 0, nid: int | None = None, cpu: int = 0,
                comm: str = "swapper/0") -> int | None:
    """``alloc_pages_node``: a pfn, or None after the slow path's failure report (NULL)."""
    if order < 0 or order > k.arch.MAX_PAGE_ORDER:
        if not gfp & _gfp.__GFP_NOWARN:
            k.log.warn(f"WARNING: at mm/page_alloc.c __alloc_pages: order {order} > MAX_PAGE_ORDER")
        return None
    if nid is None:
        nid = k.cpu_to_node.get(cpu, k.node_ids[0])
    highest = _gfp.gfp_zone(gfp, k.zone_names)
    preferred = _preferred_zone(k, nid, highest)
    alloc_flags = _buddy.ALLOC_WMARK_LOW | alloc_flags_nofragment(k, preferred, gfp)
    pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu)
    if pfn < 0:
        pfn = __alloc_pages_slowpath(k, gfp, order, nid, cpu, comm)
    return pfn


def alloc_pages_bulk(k, gfp: int, nr: int, order: int = 0, nid: int | None = None,
                     cpu: int = 0, comm: str = "swapper/0") -> _np.ndarray:
    """Up to ``nr`` allocations of one order in one compiled loop; an allocation that needs
    reclaim, compaction or the OOM killer goes through the slow path in Python, and a
    slow-path failure ends the batch."""
    if nid is None:
        nid = k.cpu_to_node.get(cpu, k.node_ids[0])
    a = k.mem_map
    highest = _gfp.gfp_zone(gfp, k.zone_names)
    fast = _buddy.ALLOC_WMARK_LOW | alloc_flags_nofragment(k, _preferred_zone(k, nid, highest), gfp)
    mt = 0 if k.page_group_by_mobility_disabled else _gfp.gfp_migratetype(gfp)
    out = _np.full(nr, -1, _np.int64)
    zl = _zonelist(k, nid)[nid]
    done = 0
    while done < nr:
        done += int(_buddy.alloc_pages_batch(a, zl, nr - done, highest, order, mt, fast, cpu,
                                             k.cpu_to_node.get(cpu, nid), bool(gfp & _gfp.__GFP_COMP),
                                             out[done:]))
        wake_boosted_kswapds(k)
        if done < nr:
            pfn = get_page_from_freelist(k, gfp, order, fast, nid, cpu) if node_reclaim_enabled(k) else -1
            if pfn < 0:
                pfn = __alloc_pages_slowpath(k, gfp, order, nid, cpu, comm)
            if pfn is None:
                break
            out[done] = pfn
            done += 1
    return out[:done]


def should_reclaim_retry(k, gfp: int, order: int, alloc_flags: int, progress: bool, loops: list, nid: int) -> bool:
    """``should_reclaim_retry`` (6.18): a round without progress counts in ``loops[0]``
    (``no_progress_loops``; every round counts for a costly order, progress or not); past
    MAX_RECLAIM_RETRIES of them the allocation goes to the OOM killer. Otherwise retry while
    some zone of the allocation's zonelist would meet its MIN watermark for ``order`` if
    everything reclaimable in it were freed: ``__zone_watermark_ok`` with ``available`` =
    free + ``zone_reclaimable_pages``, whatever the reclaimable part is (free pages alone
    may do). Before the OOM killer the kernel unreserves a highatomic pageblock
    (``unreserve_highatomic_pageblock``): no pageblock is reserved for high-order atomic
    allocations here, so there is none to give back."""
    loops[0] = 0 if progress and order <= _buddy.PAGE_ALLOC_COSTLY_ORDER else loops[0] + 1
    if loops[0] > MAX_RECLAIM_RETRIES:
        return False
    return bool(reclaim_retry_zones(k.mem_map, _zonelist(k, nid)[nid], _gfp.gfp_zone(gfp, k.zone_names), order,
                                    alloc_flags, k.nr_swap_pages > 0))


@njit(cache=True)
def reclaim_retry_zones(a, zl, highest, order, alloc_flags, can_swap):
    """``should_reclaim_retry``'s zonelist walk: does a zone up to ``highest`` meet its MIN
    watermark (``a.wmark``: the boost is not counted, as Python's zones never carry one) with
    its reclaimable pages freed?"""
    for zid in zl:
        if zid < 0:
            break
        if a.zone_idx[zid] > highest:
            continue
        available = a.vm_stat[zid, NR_FREE_PAGES] + zone_reclaimable(a, zid, can_swap)
        if _buddy.__zone_watermark_ok(a, zid, order, a.wmark[zid, 0], highest, alloc_flags, available):
            return True
    return False


@njit(cache=True)
def zone_reclaimable(a, zid, can_swap):
    """``zone_reclaimable_pages``: file LRU pages, and anonymous ones only while there is
    swap to put them in (``can_reclaim_anon_pages``)."""
    pages = a.vm_stat[zid, NR_ZONE_INACTIVE_FILE] + a.vm_stat[zid, NR_ZONE_ACTIVE_FILE]
    if can_swap:
        pages += a.vm_stat[zid, NR_ZONE_INACTIVE_ANON] + a.vm_stat[zid, NR_ZONE_ACTIVE_ANON]
    return pages


def zone_reclaimable_pages(k, z) -> int:
    """``zone_reclaimable_pages`` of one zone (``zone_reclaimable``)."""
    return int(zone_reclaimable(k.mem_map, _buddy.zone_id(k, z), k.nr_swap_pages > 0))


def __alloc_pages_slowpath(k, gfp: int, order: int, nid: int, cpu: int, comm: str) -> int | None:
    hooks = k.alloc_hooks
    costly = order > _buddy.PAGE_ALLOC_COSTLY_ORDER
    can_reclaim = bool(gfp & _gfp.__GFP_DIRECT_RECLAIM)
    alloc_flags = gfp_to_alloc_flags(gfp, order)
    ac = prepare_alloc_pages(k, gfp, nid, cpu)
    if alloc_flags & _buddy.ALLOC_KSWAPD:
        hooks.wake_all_kswapds(k, order, gfp, nid)
    pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu, ac)
    if pfn < 0 and k.pf_memalloc and not gfp & _gfp.__GFP_NOMEMALLOC:  # reclaim allocating:
        pfn = get_page_from_freelist(k, gfp, order, _buddy.ALLOC_NO_WATERMARKS, nid, cpu, ac)  # the reserves,
        can_reclaim = False  # and no recursion into direct reclaim
    loops, drained = [0], False
    while pfn < 0 and can_reclaim:
        memstall = psi_memstall_enter(k, k.current)  # __perform_reclaim
        progress = hooks.direct_reclaim(k, gfp, order)
        psi_memstall_leave(k, k.current, memstall)
        pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu, ac)
        if pfn < 0 and not drained:  # __alloc_pages_direct_reclaim: the per-cpu lists go back once
            _buddy.drain_all_pages(k.mem_map)
            drained = True
            pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu, ac)
        if pfn >= 0:
            break
        compacted = False
        if order:  # __alloc_pages_direct_compact returns at once for order 0, before its memstall
            memstall = psi_memstall_enter(k, k.current)
            compacted = hooks.direct_compact(k, gfp, order)
            psi_memstall_leave(k, k.current, memstall)
        if compacted:
            pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu, ac)
            if pfn >= 0:
                break
        if gfp & _gfp.__GFP_NORETRY or (costly and not gfp & _gfp.__GFP_RETRY_MAYFAIL):
            break
        if should_reclaim_retry(k, gfp, order, alloc_flags, progress > 0, loops, nid):
            continue
        pfn, oom_progress = __alloc_pages_may_oom(k, gfp, order, nid, cpu)
        if pfn >= 0 or (oom_victim_current(k) and alloc_flags & _buddy.ALLOC_OOM) or not oom_progress:
            break
        loops[0] = 0
        if oom_victim_current(k):  # __gfp_pfmemalloc_flags: the victim may use the reserves
            alloc_flags = _buddy.ALLOC_OOM | (alloc_flags & _buddy.ALLOC_KSWAPD)
        elif not wait_for_oom_victims(k):
            break
        pfn = get_page_from_freelist(k, gfp, order, alloc_flags, nid, cpu, ac)
    if pfn >= 0:
        return pfn
    warn_alloc(k, gfp, order, comm)
    return None


def __alloc_pages_may_oom(k, gfp: int, order: int, nid: int, cpu: int) -> tuple[int, bool]:
    """(pfn or -1, did the OOM killer make progress): one more try at the HIGH watermark to
    catch a parallel kill, then the OOM killer, unless it could not help (costly orders,
    __GFP_RETRY_MAYFAIL or __GFP_THISNODE, an allocation limited to the zones below Normal)."""
    hard = (gfp | _gfp.__GFP_HARDWALL) & ~_gfp.__GFP_DIRECT_RECLAIM
    pfn = get_page_from_freelist(k, hard, order, _buddy.ALLOC_WMARK_HIGH | _buddy.ALLOC_CPUSET, nid, cpu)
    if pfn >= 0 or order > _buddy.PAGE_ALLOC_COSTLY_ORDER:
        return pfn, False
    if gfp & (_gfp.__GFP_RETRY_MAYFAIL | _gfp.__GFP_THISNODE):
        return -1, False
    if _gfp.gfp_zone(gfp, k.zone_names) < k.zone_names.index("Normal"):
        return -1, False
    return -1, k.alloc_hooks.out_of_memory(k, gfp, order)


def oom_victim_current(k) -> bool:
    """``tsk_is_oom_victim(current)``."""
    return k.current is not None and k.current.oom_mm is not None


def wait_for_oom_victims(k) -> bool:
    """The kernel's allocating task keeps retrying while an OOM victim frees its memory; the
    simulator lets the clock run to the next event (the OOM reaper's run) instead of spinning.
    False when no victim is in flight or nothing is scheduled that could free memory."""
    nxt = k.clock.next_expiry()
    if not k.oom_victims or nxt is None:
        return False
    k.clock.run_until(nxt)
    return True


def alloc_pages_slowpath_for_fault(k, vs, cpu: int, comm: str) -> bool:
    """``__alloc_pages_slowpath`` for the allocation the compiled fault path could not serve
    from the free lists (``vs.vp[VP_SLOW_CTX]`` names its context: gfp, order, node). The page
    it gets waits in ``VP_SLOW_PFN`` for the retried fault. False if the slow path failed,
    after its report; a THP's retry then finds SLOWPATH_FAILED and falls back to 4 KiB pages."""
    ctx = int(vs.vp[VP_SLOW_CTX])
    ac = vs.ac[ctx]
    gfp, order, nid = int(ac[AC_GFP]), int(ac[AC_ORDER]), int(ac[AC_NID])
    pfn = -1
    if node_reclaim_enabled(k):  # the compiled fast path left node reclaim to us
        pfn = get_page_from_freelist(k, gfp, order, int(ac[AC_FAST]), nid, cpu)
    if pfn < 0:
        pfn = __alloc_pages_slowpath(k, gfp, order, nid, cpu, comm)
    if pfn is None:
        pfn = SLOWPATH_FAILED if ctx == AC_THP else NO_PAGE
    vs.vp[VP_SLOW_PFN], vs.vp[VP_SLOW_FOR] = pfn, ctx
    return pfn >= 0


def warn_alloc(k, gfp: int, order: int, comm: str) -> None:
    """The kernel's allocation-failure report (``warn_alloc`` + ``__show_mem``)."""
    if gfp & _gfp.__GFP_NOWARN:
        return
    nodes = k.node_ids
    mems = f"{nodes[0]}-{nodes[-1]}" if len(nodes) > 1 else str(nodes[0])
    k.log.warn(f"{comm}: page allocation failure: order:{order}, mode:{gfp:#x}({_gfp.format_gfp(gfp)}), "
               f"nodemask=(null),cpuset=/,mems_allowed={mems}")
    dump_stack(k, k.current, ("dump_stack_lvl", "warn_alloc", "__alloc_pages_slowpath",
                              "__alloc_frozen_pages_noprof", "alloc_pages_mpol", "alloc_pages_noprof"))
    __show_mem(k)


def drop_slowpath_page(k) -> None:
    """A fault that will not be retried (its task is dying) gives back the page the slow path
    got for it."""
    vs = k.vm_state
    pfn = int(vs.vp[VP_SLOW_PFN])
    if pfn >= 0:
        vs.vp[VP_SLOW_PFN] = NO_PAGE
        _buddy.__free_pages(k.mem_map, pfn, int(vs.ac[vs.vp[VP_SLOW_FOR], AC_ORDER]), int(vs.vp[VP_CPU]))


def __free_pages(k, pfn: int, order: int = 0, cpu: int = 0) -> None:
    _buddy.__free_pages(k.mem_map, pfn, order, cpu)


free_pages = __free_pages  # callable from class bodies, where __names are mangled
