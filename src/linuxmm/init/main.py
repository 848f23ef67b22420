"""``start_kernel`` for the memory manager (``init/main.c``), Linux 6.18 order.

``Kernel`` is the state of one booted machine: its log buffer, firmware map, memblock,
``NODE_DATA`` for each node, ``node_states``, zone limits and zonelists. ``start_kernel``
runs the boot stages the memory layout depends on, in the kernel's order:
``setup_arch`` (firmware map, memblock, NUMA, zone limits -> ``free_area_init``) and
``build_all_zonelists``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..arch import Arch
from ..block.blk_core import blk_plug
from ..description import MachineDescription
from ..include.linux.backing_dev import wb_domain
from ..include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from ..include.linux.mmzone import NodeStates, lruvec, node_states, pglist_data, zone
from ..include.linux.rmap import RmapRegistry
from ..kernel.params import unknown_bootoptions
from ..kernel.kthread import kthread
from ..kernel.sched.psi import psi_rq
from ..kernel.printk import KERN_NOTICE, LogBuffer
from ..kernel.timer import SimClock
from ..mm import mm_init, page_alloc
from ..mm.memblock import Memblock
from ..mm.mm_inline import lru_gen_globals
from ..mm.params import BootParams
from ..include.linux.vmstat import (NODE_STAT_ITEM, NR_VM_EVENT_ITEMS, NR_VM_NODE_STAT_ITEMS,
                                    NR_VM_NUMA_EVENT_ITEMS, NR_VM_ZONE_STAT_ITEMS, NUMA_STAT_ITEM, StatRow,
                                    ZONE_STAT_ITEM)
from ..mm.pgtable import VP_NR_SWAP_PAGES, geometry_for
from ..include.linux.swap import swap_globals
from . import initcalls
from ..kernel.cgroup.cgroup import cgroup_init
from ..mm.memcontrol import MemcgHooks
from ..mm.percpu import setup_per_cpu_areas
from ..fs.namespace import mnt_init

LOCAL_DISTANCE, REMOTE_DISTANCE = 10, 20


class Kernel:
    """One booted kernel's memory-management state."""

    def __init__(self, desc: MachineDescription):
        self.desc = desc
        self.arch: Arch = desc.arch
        self.version = desc.version
        self.config = desc.config
        self.log = LogBuffer()
        self.params = BootParams(page_shift=self.arch.page_shift)
        self.memblock = Memblock()
        self.node_states = NodeStates()
        self.pgdat: dict[int, pglist_data] = {}
        self.zone_names = zone_names_for(self)
        self.sizeof_struct_page = self.config.sizeof_struct_page
        self.max_pfn = self.max_low_pfn = 0
        self.dma_reserve = 0  # memblock-reserved pages below 16 MiB (x86, ≤6.9)
        self.policy_zone = 0
        self.vm_total_pages = 0
        self.page_group_by_mobility_disabled = False
        self.movable_zone = "Normal"
        self.zone_movable_pfn: dict[int, int] = {}
        self.numa_distance: dict[tuple[int, int], int] = {}
        self.cpu_to_node: dict[int, int] = {}
        self.present_sections: set[int] = set()
        self.arch_zone_lowest_possible_pfn: dict[str, int] = {}  # free_area_init's zone limits
        self.arch_zone_highest_possible_pfn: dict[str, int] = {}
        self.nr_kernel_pages = self.nr_all_pages = 0  # for the large system hashes
        self.hashdist = False
        self.zonelist_order = "Node"
        self.vm = None  # the vm sysctls (VmTunables), from vm_sysctl_init on
        self.vm_registered_table: list = []  # /proc/sys/vm files initcalls add (register_sysctl_init)
        self.warned_physmem = False  # mminit_validate_memmodel_limits' WARN_ON_ONCE
        self._mem_map = None
        self.__init_subsystems()

    def __init_subsystems(self) -> None:
        """The state of every subsystem that runs after boot, declared in one place (none of
        it is created on demand elsewhere). Counters start at 0; what a later issue fills
        (swap, hugetlb, vmalloc, ...) stays 0 until then."""
        # totals set while booting (mm/mm_init.py, mm/sparse.py, mm/page_alloc.py)
        self.totalram_pages: int | None = None  # memblock_free_all's count; None: sum of managed
        self.totalreserve_pages = 0
        self.nr_memmap_boot_pages: int | None = None  # sparse_init's count; None: computed
        self.nr_memmap_pages = 0
        # THP policy (mm/huge_memory.py): Kconfig default, then the command line, hugepage_init
        self.transparent_hugepage_flags: str = self.config.transparent_hugepage
        # shmem_huge (mm/shmem.py): /sys/kernel/mm/transparent_hugepage/shmem_enabled, the
        # huge= of the internal mount (deny and force: every collapse refused or allowed)
        self.shmem_huge = "never"
        # the clock and its events; the kernel threads on it (kswapd0, kcompactd0, khugepaged, ...)
        self.clock = SimClock()
        self.kthreads: dict[str, kthread] = {}
        # pressure stall information (kernel/sched/psi.py): the CPUs' runnable tasks, the system group
        self.psi = psi_rq(self.desc.nr_cpus, self.clock.now)
        # block I/O and writeback: the running task's plug, the global dirty limit that follows
        # the threshold
        self.blk_plug = blk_plug()
        self.global_wb_domain = wb_domain()
        # khugepaged (mm/khugepaged.py): its thread once started, the mms it scans (pids) and its
        # cursor (khugepaged_scan: the mm, the next address), its counters and sysfs knobs (the
        # max_ptes_* limits and pages_to_scan are set by khugepaged_init)
        self.khugepaged_thread: kthread | None = None
        self.khugepaged_mm_slots: list[int] = []
        self.khugepaged_scan_mm_slot: int | None = None
        self.khugepaged_scan_address = 0
        self.khugepaged_pages_collapsed = 0
        self.khugepaged_full_scans = 0
        self.khugepaged_scan_sleep_millisecs = 10000
        self.khugepaged_alloc_sleep_millisecs = 60000
        self.khugepaged_pages_to_scan = 0
        self.khugepaged_max_ptes_none = 0
        self.khugepaged_max_ptes_swap = 0
        self.khugepaged_max_ptes_shared = 0
        self.khugepaged_defrag = True  # TRANSPARENT_HUGEPAGE_DEFRAG_KHUGEPAGED_FLAG
        # khugepaged_min_free_kbytes_update (include/linux/khugepaged.h), which
        # init_per_zone_wmark_min calls: set by khugepaged_init (the allocator below cannot
        # import khugepaged, which sits above it)
        self.khugepaged_min_free_kbytes_update: Callable[[Kernel], None] | None = None
        # start_stop_khugepaged, which the THP and shmem_enabled sysfs stores and hugepage_init
        # call: set by khugepaged_init too (mm/huge_memory.py and mm/shmem.py sit below it)
        self.start_stop_khugepaged: Callable[[Kernel], None] | None = None
        # the page allocator's slow path steps (mm/page_alloc.py) and its zonelist arrays
        self.alloc_hooks = page_alloc.AllocHooks()
        # MGLRU (mm/lru_gen.py): the lru_gen caps (sysfs enabled), min_ttl, its entry points
        self.lru_gen = lru_gen_globals.at_boot(self.config)
        self._zonelists = None
        self._zonelists_gen: int | None = None
        # slowpath_wakes_nothing's contexts and the kswapds they would wake, with what those came from
        self.slowpath_nowake: tuple | None = None
        # direct and node reclaim's node_pass_buffers not in use (mm/vmscan.py: shrink_node_compiled)
        self.reclaim_buffers: list = []
        # processes, page tables, TLBs (kernel/fork.py, mm/pgtable.py, arch/x86/mm/tlb.py)
        self.tasks: dict = {}  # pid -> task_struct
        self.next_pid = 0
        self.current = None  # the task a Process call runs (``current``); None: kernel context
        # PF_MEMALLOC of the context running now (reclaim: kswapd, direct reclaim, reclaim_pages):
        # its allocations ignore the watermarks and never reclaim themselves (mm/vmscan.py)
        self.pf_memalloc = False
        self.panicked: str | None = None  # panic()'s message once the machine panicked
        # the OOM killer (mm/oom_kill.py): victims still releasing memory, the reaper's queue
        self.oom_victims = 0
        self.oom_reaper_list: list = []
        self.oom_reaper_th: kthread | None = None
        # cgroup v2 and the memory controller (kernel/cgroup/cgroup.py, mm/memcontrol.py): the
        # root cgroup (cgroup_init), the live memcgs by id, the memcg's calls into reclaim/OOM
        self.cgrp_dfl_root = None
        self.memcg_idr: dict = {}
        self.memcg_ids = None  # memcg_idr's keys as an array (mem_cgroup_ids), None when stale
        self.memcg_hooks = MemcgHooks()
        self.pgtable_geometry = geometry_for(self.arch)
        self.vm_state = None  # the page-table pool and fault-path state, built with the first mm
        self.tlb = None  # the TLBs, built at the first access (tlb_for)
        # the GUP test driver's long-term pins (mm/gup_test.py): None, or the pages and the holder
        self.pin_longterm_test_pages = None
        # reverse mapping (mm/rmap.py): live anon_vmas and address_spaces (shmem objects and
        # their page caches), the counters of their ids, the table rmap_walk reads
        self.rmap = RmapRegistry()
        # the vm events (enum vm_event_item, include/linux/vmstat.py): one array, which the
        # allocator's MemMap and the fault path's VmState share
        self.vm_events = np.zeros(NR_VM_EVENT_ITEMS, np.int64)
        # counters of subsystems to come, read by /proc/meminfo (all 0 until they exist)
        self.vm_committed_as = 0  # percpu counter vm_committed_as (mm/util.py)
        self.nr_blockdev_pages = 0
        # swap (mm/swapfile.py): the areas and their priority lists; the free slots are
        # counted where compiled code frees them (VmState.vp[VP_NR_SWAP_PAGES])
        self.swap = swap_globals(self.desc.nr_cpus)
        self.total_swap_pages = 0
        self.zswap_total_pages = self.zswap_stored_pages = 0
        self.vmalloc_total_bytes = self.vmalloc_nr_pages = 0
        self.pcpu_nr_pages = 0
        self.hugetlb_total_pages = 0
        self.hugetlb_default_pool: dict[str, int] = {}  # total/free/rsvd/surp of the default hstate
        self.direct_map_kb: dict[str, int] = {}  # DirectMap4k/2M/1G
        # files (fs/, block/, mm/filemap.py): the disks, the mounted filesystems by mount point,
        # the internal tmpfs of shared anonymous memory, and the xarray pool of every page cache
        self.block_devices: dict = {}  # name -> block_device
        self.mounts: dict = {}  # mount point -> super_block
        self.shm_mnt = None  # super_block of the internal tmpfs (mnt_init)
        self.anon_inode_mnt = None  # super_block of anon_inodefs (mnt_init; fs/anon_inodes.py)
        self.pipe_mnt = None  # super_block of pipefs, where pipes live (mnt_init: init_pipe_fs)
        # shmem_uncharge(k, inode, pages), registered by shmem_init (mm/shmem.py sits above the
        # folio split of mm/huge_memory.py that calls it)
        self.shmem_uncharge = None
        self._page_cache = None

    # ---- helpers with the kernel's names ------------------------------------------------
    @property
    def nr_swap_pages(self) -> int:
        """The free swap slots of every area (``get_nr_swap_pages``)."""
        return 0 if self.vm_state is None else int(self.vm_state.vp[VP_NR_SWAP_PAGES])

    @property
    def mem_map(self):
        """The struct page arrays and buddy lists, built on first use (numba-compiled core)."""
        if self._mem_map is None:
            from ..mm.buddy import ZONE_BOOSTED_WATERMARK, build_mem_map, sync_zone_params
            from ..mm.memblock import memblock_free_into_buddy

            a = build_mem_map(self)
            memblock_free_into_buddy(self, a)
            sync_zone_params(self, a)
            # a steal by a boot allocation boosted a zone: the boot's next allocations cleared
            # the flag while no kswapd waited to be woken (the boost stays for kswapd's first run)
            a.zflags &= ~ZONE_BOOSTED_WATERMARK
            self._mem_map = a
        return self._mem_map

    @property
    def page_cache(self):
        """The xarray pool of every page cache (``lib/xarray.py``), built on first use (its
        compiled functions load then). Growing the pool replaces it: assign the result."""
        if self._page_cache is None:
            from ..lib.xarray import xarray_pool_init

            self._page_cache = xarray_pool_init()
        return self._page_cache

    @page_cache.setter
    def page_cache(self, pool) -> None:
        self._page_cache = pool

    def NODE_DATA(self, nid: int) -> pglist_data:
        return self.pgdat[nid]

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.pgdat)

    def for_each_online_node(self):
        return iter(self.node_states.nodes(node_states.N_ONLINE))

    def node_distance(self, a: int, b: int) -> int:
        if (a, b) in self.numa_distance:
            return self.numa_distance[(a, b)]
        return LOCAL_DISTANCE if a == b else REMOTE_DISTANCE

    def numa_node_id(self) -> int:
        """The node of the boot CPU (CPU 0)."""
        return self.cpu_to_node.get(0, self.node_ids[0])

    def alloc_node_data(self, nid: int) -> pglist_data:
        pgdat = pglist_data(node_id=nid)
        pgdat.lruvec = lruvec(ROOT_MEM_CGROUP_ID, nid)
        pgdat.vm_stat = StatRow(np.zeros(NR_VM_NODE_STAT_ITEMS, np.int64), NODE_STAT_ITEM)
        pgdat.node_zones = [zone(name, i, nid, lowmem_reserve=[0] * len(self.zone_names))
                            for i, name in enumerate(self.zone_names)]
        for z in pgdat.node_zones:  # rows that move into the allocator's arrays (build_mem_map)
            z.vm_stat = StatRow(np.zeros(NR_VM_ZONE_STAT_ITEMS, np.int64), ZONE_STAT_ITEM)
            z.vm_numa_event = StatRow(np.zeros(NR_VM_NUMA_EVENT_ITEMS, np.int64), NUMA_STAT_ITEM)
        self.pgdat[nid] = pgdat
        return pgdat

    @property
    def PAGES_PER_SECTION(self) -> int:
        bits = self.arch.section_size_bits
        if self.arch.name == "arm64" and self.version < (5, 12):
            bits = 30  # arm64 sections were 1 GiB before 5.12
        return 1 << (bits - self.arch.page_shift)

    def pfn_to_section_nr(self, pfn: int) -> int:
        return pfn // self.PAGES_PER_SECTION

    def round_up_section(self, pfn: int) -> int:
        if not self.config.sparsemem:  # FLATMEM: memmap_init rounds to MAX_ORDER_NR_PAGES
            step = 1 << self.arch.MAX_PAGE_ORDER
        else:
            step = self.PAGES_PER_SECTION
        return -(-pfn // step) * step

    def sparsemem_pfn_ranges(self, warn: bool = False):
        """The memblock pfn ranges (lo, hi, nid) below MAX_PHYSMEM_BITS: memory beyond it
        (``memmap=1E@0``) is cut off, with a WARN, as ``mminit_validate_memmodel_limits`` does."""
        limit = 1 << (self.arch.max_physmem_bits - self.arch.page_shift)
        for lo, hi, nid in self.memblock.for_each_mem_pfn_range(None, self.arch.page_shift):
            if hi > limit and warn and not self.warned_physmem:  # WARN_ON_ONCE
                self.warned_physmem = True
                self.log.warn(f"WARNING: at mm/sparse.c mminit_validate_memmodel_limits: range "
                              f"{lo:#x}-{hi:#x} exceeds SPARSEMEM max {limit:#x}")
            if min(lo, limit) < min(hi, limit):
                yield min(lo, limit), min(hi, limit), nid

    def memblocks_present(self) -> None:
        """``sparse_init``: a section is present when any memory lies in it."""
        for lo, hi, _ in self.sparsemem_pfn_ranges(warn=True):
            for nr in range(self.pfn_to_section_nr(lo), self.pfn_to_section_nr(hi - 1) + 1):
                self.present_sections.add(nr)

    def count_valid_pfns(self, spfn: int, epfn: int) -> int:
        """pfns in [spfn, epfn) that have a struct page (``pfn_valid``)."""
        if not self.config.sparsemem:
            return max(0, min(epfn, self.max_pfn_flatmem()) - spfn)
        per = self.PAGES_PER_SECTION
        count = 0
        for nr in range(spfn // per, (epfn - 1) // per + 1 if epfn > spfn else spfn // per):
            if nr in self.present_sections:
                count += min(epfn, (nr + 1) * per) - max(spfn, nr * per)
        return count

    def max_pfn_flatmem(self) -> int:
        return max(hi for _, hi, _ in self.memblock.for_each_mem_pfn_range(None, self.arch.page_shift))

    def set_node_online(self, nid: int) -> None:
        if nid not in self.pgdat:
            self.alloc_node_data(nid)
        self.node_states.node_set_state(nid, node_states.N_ONLINE)


def zone_names_for(k: Kernel) -> list[str]:
    """``zone_names[]`` in ``enum zone_type`` order for this configuration."""
    c = k.config
    names = []
    if c.zone_dma:
        names.append("DMA")
    if c.zone_dma32:
        names.append("DMA32")
    names.append("Normal")
    if c.highmem:
        names.append("HighMem")
    names.append("Movable")
    if c.zone_device:
        names.append("Device")
    return names


def start_kernel(desc: MachineDescription) -> Kernel:
    """Boot ``desc`` through the stages that shape memory; returns the booted state."""
    k = Kernel(desc)
    _arch_setup(k.arch)(k)  # calls parse_early_param() after printing the firmware map
    for nid in k.node_ids:
        for cpu in k.NODE_DATA(nid).cpus:
            k.node_states.node_set_state(nid, node_states.N_CPU)
    setup_per_cpu_areas(k)
    page_alloc.build_all_zonelists(k)
    print_unknown_bootoptions(k)
    mm_init.vfs_caches_init_early(k)
    mm_init.mm_core_init(k)
    mm_init.mem_init_print_info(k)
    initcalls.mm_core_init_late(k)
    cgroup_init(k)
    mnt_init(k)
    return k


UNKNOWN_PARAMETERS = "Unknown kernel command line parameters"


def print_unknown_bootoptions(k: Kernel) -> None:
    """Since 5.15 the kernel names the parameters nothing claimed, once parse_args is done."""
    unknown = unknown_bootoptions(k.desc.cmdline)
    if unknown and k.version >= (5, 15):
        k.log.printk(f'{UNKNOWN_PARAMETERS} "{" ".join(unknown)}", will be passed to user space.', KERN_NOTICE)


def _arch_setup(arch: Arch):
    if arch.name in ("x86_64", "i386"):
        from ..arch.x86.kernel.setup import setup_arch
    else:
        from ..arch.arm64.kernel.setup import setup_arch
    return setup_arch


__all__ = ["Kernel", "start_kernel", "mm_init"]
