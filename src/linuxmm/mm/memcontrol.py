"""The memory controller of cgroup v2 (``mm/memcontrol.c``), Linux 6.18.

Every page a task's fault allocates is charged to the task's memory cgroup (``memcg``) and
uncharged when the folio is freed; the charge goes up the hierarchy through the page counters
(``mm/page_counter.py``). A newcomer's map:

* Charging, compiled (the fault path calls it): ``mem_cgroup_charge_anon`` is
  ``__mem_cgroup_charge`` -> ``charge_memcg`` for a new anonymous folio: ``try_charge``'s fast
  part (``page_counter_try_charge`` of the mm's memcg, the root memcg's own pages skipped as
  ``try_charge`` skips them) and ``commit_charge`` (the folio's ``memcg`` column, the memcg's
  ``NR_ANON_MAPPED``/``NR_ANON_THPS``); ``mem_cgroup_uncharge`` is ``__folio_put``'s
  ``mem_cgroup_uncharge``. A small folio whose charge passes a ``memory.max`` ends the batch
  (``FAULT_NEED_CHARGE``); a THP falls back to small pages (its gfp cannot block).
* Page-cache and shmem folios: ``mem_cgroup_charge`` from ``filemap_add_folio`` (Python) charges
  the current task's memcg, through the slow part below when the fast one fails; the page
  cache's counters (``lruvec_stat_mod_folio`` in ``mm/filemap.py``) count in the memcg too.
* A charged folio sits on its memcg's lruvec (``mem_cgroup_lruvec``, ``mm/swap.py``), where
  memcg reclaim finds it; ``mem_cgroup_iter`` walks a subtree, dying memcgs included.
* ``try_charge_memcg``'s slow part, Python: ``MEMCG_MAX`` events, reclaim of the memcg over its
  limit through ``try_to_free_mem_cgroup_pages`` (``mm/vmscan.py`` registers it in
  ``k.memcg_hooks``: reclaim of the memcg subtree's lruvecs), ``MAX_RECLAIM_RETRIES`` retries, then
  ``mem_cgroup_oom`` -> ``mem_cgroup_out_of_memory`` -> ``out_of_memory`` with the memcg
  (``mm/oom_kill.py``: CONSTRAINT_MEMCG, victims from the memcg's tasks only).
* ``memory.high``: a charge leaving a memcg of the path above its high counts the pages in
  ``memcg_nr_pages_over_high`` (per memcg here, per task in the kernel); past ``MEMCG_CHARGE_BATCH`` pages, and on
  the return to user space, ``mem_cgroup_handle_over_high`` reclaims (``reclaim_high``) and
  puts the task to sleep on the clock for ``calculate_high_delay`` (never kills).
* ``memory.min``/``memory.low``: ``mem_cgroup_calculate_protection`` computes the effective
  protection (``effective_protection`` with the siblings' shares) for reclaim to read
  (``mem_cgroup_below_min``/``mem_cgroup_below_low``/``mem_cgroup_protection`` in
  ``shrink_node_memcgs`` and ``get_scan_count``).
* ``memory.swap.high``: a charge while the swap of a memcg of the path is above it counts as
  over-high work too; ``mem_cgroup_handle_over_high`` adds the swap overage's penalty
  (``swap_find_max_overage``, SWAP_HIGH events) to the memory's; ``mem_cgroup_swap_full``
  (compiled, for reclaim's ``activate_locked``) says the memcg's swap is half way to its high
  or max.
* vm events per memcg (``count_memcg_events``, ``count_memcg_folio_events``, compiled, at the
  sites of the global counters: ``memcg_vm_events[memcg, item]``; node counters of a folio's
  memcg: ``mod_memcg_folio_state``); ``memory.stat`` sums the subtree (``memcg_events``,
  ``memcg_page_state``). ``mem_cgroup_wb_stats`` feeds the memcg writeback domain of
  ``balance_dirty_pages`` (``mm/page_writeback.py``; ``cgwb_domain`` per memcg).
* The interface files (``memory_files``): ``memory.current``, ``min``, ``low``, ``high``,
  ``max``, ``peak``, ``events``, ``events.local``, ``stat``, ``swap.current``, ``swap.high``,
  ``swap.max``, ``swap.peak``, ``oom.group``, ``reclaim``; the cgroup core
  (``kernel/cgroup/cgroup.py``) routes reads and writes here ``memory.peak`` and ``memory.swap.peak`` keep
  state per open file (6.12+: ``peak_write`` restarts the peak that open file reads, the
  memcg's ``peaks``/``swap_peaks`` list the written ones); ``memcg_memory_event`` announces
  each change of ``memory.events``/``events.local``/``swap.events`` (``cgroup_file_notify``,
  ``kernel/cgroup/cgroup_file.py``) - not the swap events the compiled swap-slot charge counts.

Simplifications: no per-cpu charge stock (``consume_stock``/``refill_stock``): a charge is
exactly the folio's pages, so ``memory.current`` is the sum of the pages charged (the kernel's
may run ahead by up to ``MEMCG_CHARGE_BATCH`` pages per CPU); the over-high work is done before
the charge after the one that crossed ``MEMCG_CHARGE_BATCH`` (the kernel's does it right after
that charge); the page-cache charge goes to ``current``'s memcg (the kernel's shmem charges the
faulting mm's, the same task here); a page table's charge is forced (the kernel's may reclaim
or fail the fault). Charged now: anonymous faults (small and THP), page-cache and shmem folios,
page tables (``mem_cgroup_charge_pagetable``, memory.stat ``pagetables``), swap slots
(``mem_cgroup_try_charge_swap`` from reclaim's ``add_to_swap``, recorded per slot in
``swap_cgroup``, uncharged when the slot is freed; ``mem_cgroup_swapin_charge_folio`` charges
a folio read back to the slot's memcg), counted in ``kernel`` (MEMCG_KMEM) with page tables.
Not yet: other kernel memory (slab, stacks), the vm events of subsystems not modelled (zswap,
NUMA balancing, THP collapse and swap-out, lazyfree); the memcg's NR_ANON_MAPPED follows the
charge (the kernel's follows the mappings); the LRU's stats other than the list sizes (workingset activations) are
per memcg, not per memcg and node. ``memory.pressure`` is a cgroup core file
(``kernel/cgroup/cgroup.py``); reclaim and the over-high sleep here are memory stalls
(``psi_memstall_enter``/``leave``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.backing_dev import wb_domain
from ..include.linux.mmzone import lruvec
from ..include.linux.memcontrol import (
    MAX_RECLAIM_RETRIES, MEMCG_CHARGE_BATCH, MEMCG_HIGH, MEMCG_KMEM, MEMCG_LOW, MEMCG_MAX, MEMCG_NR_IDS,
    MEMCG_SWAP, MEMCG_SWAP_FAIL, MEMCG_SWAP_HIGH, MEMCG_SWAP_MAX,
    MEMCG_OOM, MEMCG_OOM_GROUP_KILL, MEMCG_OOM_KILL, MEMCG_PERCPU_B, MEMCG_SOCK,
    MEMCG_VMALLOC, MEMCG_ZSWAP_B,
    MEMCG_ZSWAPPED, PAGE_COUNTER_MAX, PC_CHILDREN_LOW_USAGE, PC_CHILDREN_MIN_USAGE, PC_ELOW, PC_EMIN,
    PC_FAILCNT, PC_HIGH, PC_LOCAL_WATERMARK, PC_LOW, PC_MAX, PC_MEMORY, PC_MIN, PC_SWAP, PC_USAGE, PC_WATERMARK,
    ROOT_MEM_CGROUP_ID)
from ..include.linux.vmstat import (
    NR_ACTIVE_ANON, NR_ACTIVE_FILE, NR_ANON_MAPPED, NR_ANON_THPS, NR_FILE_DIRTY, NR_FILE_MAPPED, NR_FILE_PAGES,
    NR_FILE_THPS, NR_HUGETLB, NR_INACTIVE_ANON, NR_INACTIVE_FILE, NR_KERNEL_STACK_KB, NR_PAGETABLE,
    NR_SECONDARY_PAGETABLE, NR_SHMEM, NR_SHMEM_THPS, NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B,
    NR_SWAPCACHE, NR_UNEVICTABLE, NR_WRITEBACK, PGDEMOTE_DIRECT, PGDEMOTE_KHUGEPAGED, PGDEMOTE_KSWAPD,
    PGDEMOTE_PROACTIVE, PGPROMOTE_SUCCESS, PGSCAN_KSWAPD, PGSTEAL_KSWAPD, VM_EVENT_ITEM,
    WORKINGSET_ACTIVATE_ANON, WORKINGSET_ACTIVATE_FILE, WORKINGSET_NODERECLAIM, WORKINGSET_REFAULT_ANON,
    WORKINGSET_REFAULT_FILE, WORKINGSET_RESTORE_ANON, WORKINGSET_RESTORE_FILE)
from ..kernel.cgroup.cgroup_file import (OFP_PEAK_UNSET, cgroup_file, cgroup_file_notify, cgroup_of_peak,
                                         of_peak_reset)
from ..kernel.sched.psi import psi_memstall_enter, psi_memstall_leave, schedule_timeout_memstall
from ..kernel.timer import HZ, NSEC_PER_SEC
from .mm_inline import folio_nr_pages, lru_gen_init_lruvec
from .page_counter import page_counter_charge, page_counter_memparse, page_counter_try_charge, page_counter_uncharge

if TYPE_CHECKING:
    from ..init.main import Kernel

PAGE_MAPPING_ANON = 1
MEMCG_DELAY_PRECISION_SHIFT = 20
MEMCG_DELAY_SCALING_SHIFT = 14
MEMCG_MAX_HIGH_DELAY_JIFFIES = 2 * HZ
SWAP_CLUSTER_MAX = 32
MEMCG_RECLAIM_MAY_SWAP, MEMCG_RECLAIM_PROACTIVE = 1 << 1, 1 << 2
MEMCG_GFP = G.GFP_HIGHUSER_MOVABLE  # an anonymous fault's charge (GFP_HIGHUSER_MOVABLE)
NR_RECLAIMERS = 4  # PGSCAN_/PGSTEAL_ KSWAPD, DIRECT, KHUGEPAGED, PROACTIVE (consecutive in vm_event_item)


# ---- charging: the compiled part ------------------------------------------------------------------
@njit(cache=True, inline="always")
def charge_memcg(a, memcg, pfn, nr):
    """``charge_memcg`` of a new folio of ``nr`` pages at ``pfn`` to ``memcg``: ``try_charge``'s
    fast part, then ``commit_charge`` (the folio's memcg column). False, with nothing charged,
    when a ``memory.max`` on the way up would be passed or the memcg has over-high work
    pending past the batch (``mem_cgroup_handle_over_high`` first). Inline: a fault charges
    every new page, most to the root, whose own pages go uncounted (``try_charge`` skips it)."""
    if memcg != ROOT_MEM_CGROUP_ID and not try_charge(a, memcg, nr):
        return False
    a.memcg[pfn] = memcg
    return True


@njit(cache=True)
def try_charge(a, memcg, nr):
    """``try_charge``'s fast part for a memcg below the root: ``nr`` pages charged up the
    hierarchy unless a ``memory.max`` would be passed or over-high work is pending past the
    batch (False, nothing charged)."""
    if a.memcg_nr_pages_over_high[memcg] > MEMCG_CHARGE_BATCH:
        return False
    if page_counter_try_charge(a, memcg, PC_MEMORY, nr) != 0:
        return False
    count_over_high(a, memcg, nr)
    return True


@njit(cache=True, inline="always")
def mem_cgroup_charge_anon(a, memcg, pfn, nr):
    """``mem_cgroup_charge`` of a new anonymous folio to ``memcg`` (0: no memcg), counted in its
    NR_ANON_MAPPED (and NR_ANON_THPS) at once. False as ``charge_memcg``."""
    if memcg == 0:
        return True
    if not charge_memcg(a, memcg, pfn, nr):
        return False
    a.memcg_stat[memcg, NR_ANON_MAPPED] += nr
    if nr > 1:
        a.memcg_stat[memcg, NR_ANON_THPS] += nr
    return True


@njit(cache=True)
def count_over_high(a, memcg, nr):
    """``try_charge_memcg``'s end: the first memcg of the path above its ``memory.high`` or its
    ``memory.swap.high`` makes the charge count as over-high work for the return to user space."""
    c = memcg
    while c != 0:
        if (a.memcg_counter[c, PC_MEMORY, PC_USAGE] > a.memcg_counter[c, PC_MEMORY, PC_HIGH]
                or a.memcg_counter[c, PC_SWAP, PC_USAGE] > a.memcg_counter[c, PC_SWAP, PC_HIGH]):
            a.memcg_nr_pages_over_high[memcg] += nr
            return
        c = a.memcg_parent[c]


@njit(cache=True)
def mem_cgroup_swap_full(a, pfn):
    """``mem_cgroup_swap_full`` past the global ``vm_swap_full``: the swap of the folio's memcg,
    or of an ancestor below the root, is half way to its ``memory.swap.high`` or ``memory.swap.max``
    (reclaim and swap-in then free the slots of folios in memory)."""
    c = a.memcg[pfn]
    while c != 0 and c != ROOT_MEM_CGROUP_ID:
        usage = a.memcg_counter[c, PC_SWAP, PC_USAGE]
        if usage * 2 >= a.memcg_counter[c, PC_SWAP, PC_HIGH] or usage * 2 >= a.memcg_counter[c, PC_SWAP, PC_MAX]:
            return True
        c = a.memcg_parent[c]
    return False


@njit(cache=True)
def mem_cgroup_uncharge(a, pfn):
    """``mem_cgroup_uncharge`` as the folio at ``pfn`` is freed: its pages leave the memcg's
    counters (``uncharge_folio``/``uncharge_batch``), the folio forgets its memcg."""
    memcg = a.memcg[pfn]
    if memcg == 0:
        return
    nr = 1 << a.order[pfn]
    if memcg != ROOT_MEM_CGROUP_ID:
        page_counter_uncharge(a, memcg, PC_MEMORY, nr)
    if a.mapping[pfn] & PAGE_MAPPING_ANON:
        a.memcg_stat[memcg, NR_ANON_MAPPED] -= nr
        if nr > 1:
            a.memcg_stat[memcg, NR_ANON_THPS] -= nr
    a.memcg[pfn] = 0


@njit(cache=True)
def __memcg_memory_event(a, memcg, event):
    """``memcg_memory_event``: ``event`` counted in the memcg's memory.events.local and in
    memory.events of it and every ancestor below the root."""
    a.memcg_events_local[memcg, event] += 1
    c = memcg
    while c != 0 and c != ROOT_MEM_CGROUP_ID:
        a.memcg_events[c, event] += 1
        c = a.memcg_parent[c]


@njit(cache=True)
def count_memcg_events(a, memcg, item, nr):
    """``count_memcg_events``: ``nr`` vm events ``item`` (``enum vm_event_item``) counted in
    ``memcg``'s own row (memory.stat sums the subtree's; 0: no memcg, as the kernel's NULL)."""
    a.memcg_vm_events[memcg, item] += nr


@njit(cache=True)
def count_memcg_folio_events(a, pfn, item, nr):
    """``count_memcg_folio_events``: the events counted in the memcg the folio at ``pfn`` (a
    head) is charged to."""
    a.memcg_vm_events[a.memcg[pfn], item] += nr


@njit(cache=True)
def mod_memcg_folio_state(a, pfn, item, nr):
    """The memcg half of ``__lruvec_stat_mod_folio``: the node counter ``item`` of the memcg
    the folio at ``pfn`` (a head) is charged to (row 0: charged to none)."""
    a.memcg_stat[a.memcg[pfn], item] += nr


@njit(cache=True)
def mem_cgroup_charge_pagetable(a, memcg, pfn):
    """A page table of an mm in ``memcg`` (GFP_PGTABLE_USER has __GFP_ACCOUNT): charged to it and
    counted in its NR_PAGETABLE (memory.stat ``pagetables``). The charge is forced (the kernel's
    may reclaim or fail the fault): a few pages past memory.max until the next charge reclaims."""
    if memcg == 0:
        return
    if memcg != ROOT_MEM_CGROUP_ID:
        page_counter_charge(a, memcg, PC_MEMORY, 1)
    a.memcg[pfn] = memcg
    a.memcg_stat[memcg, NR_PAGETABLE] += 1
    a.memcg_stat[memcg, MEMCG_KMEM] += 1  # memcg_account_kmem: a __GFP_ACCOUNT page


@njit(cache=True)
def mem_cgroup_uncharge_pagetable(a, pfn):
    """``pagetable_free``'s uncharge of a page table (``__free_pages`` -> ``__memcg_kmem_uncharge_page``)."""
    memcg = a.memcg[pfn]
    if memcg == 0:
        return
    a.memcg_stat[memcg, NR_PAGETABLE] -= 1
    a.memcg_stat[memcg, MEMCG_KMEM] -= 1
    mem_cgroup_uncharge(a, pfn)


# ---- swap charges (compiled: reclaim's add_to_swap and the slot frees call them) ------------------
@njit(cache=True)
def mem_cgroup_try_charge_swap(a, vs, pfn, slot):
    """``__mem_cgroup_try_charge_swap``: the slots a folio of the memcg is swapped to (from
    ``slot``, one per page) are charged to the memcg's ``swap`` counter (not the root's) and
    recorded (``swap_cgroup_record``). False, with SWAP_MAX and SWAP_FAIL events, when a
    ``memory.swap.max`` up the tree would be passed: the folio is not swapped."""
    memcg = a.memcg[pfn]
    if memcg == 0:
        return True
    nr = folio_nr_pages(a, pfn)
    if memcg != ROOT_MEM_CGROUP_ID and page_counter_try_charge(a, memcg, PC_SWAP, nr) != 0:
        __memcg_memory_event(a, memcg, MEMCG_SWAP_MAX)
        __memcg_memory_event(a, memcg, MEMCG_SWAP_FAIL)
        return False
    a.memcg_stat[memcg, MEMCG_SWAP] += nr
    vs.swap_cgroup[slot:slot + nr] = memcg
    return True


@njit(cache=True)
def mem_cgroup_uncharge_swap(a, vs, slot):
    """``__mem_cgroup_uncharge_swap`` as the slot is freed (v2: a swap charge lives as long as
    its slot)."""
    memcg = vs.swap_cgroup[slot]
    if memcg == 0:
        return
    if memcg != ROOT_MEM_CGROUP_ID:
        page_counter_uncharge(a, memcg, PC_SWAP, 1)
    a.memcg_stat[memcg, MEMCG_SWAP] -= 1
    vs.swap_cgroup[slot] = 0


# ---- the memcg objects ------------------------------------------------------------------------------
@dataclass(eq=False)
class mem_cgroup:
    """``struct mem_cgroup``: its id (its rows of the memcg arrays in ``MemMap``), its cgroup
    (``memcg->css.cgroup``), its lruvec on each node (``nodeinfo[nid]``, the Python half of
    ``mem_cgroup_per_node``) and where the shared reclaim walk of its subtree on each node
    stopped (``iter_position[nid]``: the id of the memcg visited last, 0 at the start;
    ``mem_cgroup_per_node->iter.position``), ``memory.oom.group``, the open peak files that were
    written (``peaks``, ``swap_peaks``: their ``cgroup_of_peak``), the files whose changes it
    announces (``events_file``, ``events_local_file``, ``swap_events_file``), whether it is still online (rmdir offlines it;
    a dying memcg keeps its id while pages stay charged to it, as the kernel's zombies do), and
    its writeback domain (``cgwb_domain``: the dirty limit its dirtiers are throttled by,
    ``mm/page_writeback.py``)."""

    id: int
    css: object
    nodeinfo: dict[int, lruvec]
    iter_position: dict[int, int]
    cgwb_domain: wb_domain = field(default_factory=wb_domain)
    oom_group: bool = False
    peaks: list[cgroup_of_peak] = field(default_factory=list)
    swap_peaks: list[cgroup_of_peak] = field(default_factory=list)
    events_file: cgroup_file = field(default_factory=cgroup_file)
    events_local_file: cgroup_file = field(default_factory=cgroup_file)
    swap_events_file: cgroup_file = field(default_factory=cgroup_file)
    online: bool = True


class MemcgHooks:
    """The memory controller's calls into subsystems above it: reclaim (``kswapd_init`` in
    ``mm/vmscan.py`` registers ``try_to_free_mem_cgroup_pages``) and the OOM killer
    (``oom_init`` registers ``out_of_memory`` and the allocator's ``wait_for_oom_victims``). The
    defaults reclaim nothing, kill nothing and wait for nobody."""

    def try_to_free_mem_cgroup_pages(self, k, memcg: mem_cgroup, nr_pages: int, gfp: int, options: int) -> int:
        return 0

    def out_of_memory(self, k, gfp: int, order: int, memcg: mem_cgroup) -> bool:
        return False

    def wait_for_oom_victims(self, k) -> bool:
        return False


def mem_cgroup_css_alloc(k: "Kernel", css, parent: mem_cgroup | None) -> mem_cgroup:
    """A new memcg with the lowest free id (``mem_cgroup_alloc``); its rows start as
    ``page_counter_init`` leaves a counter (max and high unlimited) under its parent's.
    ENOSPC when every id is taken."""
    free = next((i for i in range(ROOT_MEM_CGROUP_ID, MEMCG_NR_IDS) if i not in k.memcg_idr), None)
    if free is None:
        raise KernelError(errno.ENOSPC, f"no memory cgroup id left (the simulator keeps {MEMCG_NR_IDS - 1})")
    nodeinfo = {nid: pgdat.lruvec if parent is None else lruvec(free, nid) for nid, pgdat in k.pgdat.items()}
    memcg = mem_cgroup(free, css, nodeinfo, dict.fromkeys(nodeinfo, 0))
    k.memcg_idr[free] = memcg
    k.memcg_ids = None
    if parent is not None:  # the root's rows are set up with the mem_map (mm/buddy.py)
        a = k.mem_map
        a.memcg_parent[free] = parent.id
        a.lruvec_cost[free] = 0
        a.memcg_counter[free] = 0
        a.memcg_counter[free, :, PC_MAX] = a.memcg_counter[free, :, PC_HIGH] = PAGE_COUNTER_MAX
        a.memcg_stat[free] = a.memcg_events[free] = a.memcg_events_local[free] = a.memcg_vm_events[free] = 0
        a.memcg_nr_pages_over_high[free] = 0
        for lv in nodeinfo.values():
            lru_gen_init_lruvec(k, lv)
    return memcg


def mem_cgroup_css_offline(k: "Kernel", memcg: mem_cgroup) -> None:
    """rmdir: the memcg goes offline; its id is freed once nothing is charged to it."""
    memcg.online = False
    if page_counter_read(k, memcg) == 0:
        del k.memcg_idr[memcg.id]
        k.memcg_ids = None
        k.mem_map.lruvec_cost[memcg.id] = 0


def mem_cgroup_ids(k: "Kernel") -> np.ndarray:
    """The ids of the memcgs in use, in ``memcg_idr``'s order, as compiled code reads them
    (kept until a memcg comes or goes)."""
    if k.memcg_ids is None:
        k.memcg_ids = np.fromiter(k.memcg_idr, np.int64, len(k.memcg_idr))
    return k.memcg_ids


def mem_cgroup_is_root(memcg: mem_cgroup) -> bool:
    return memcg.id == ROOT_MEM_CGROUP_ID


def parent_mem_cgroup(memcg: mem_cgroup) -> mem_cgroup | None:
    parent = memcg.css.parent
    return parent.memcg if parent is not None else None


def cgroup_e_memcg(cgrp) -> mem_cgroup:
    """The memcg a cgroup's tasks charge (``cgroup_e_css``): its own, or, where its parent
    does not enable memory, the nearest ancestor's."""
    while cgrp.memcg is None:
        cgrp = cgrp.parent
    return cgrp.memcg


def mem_cgroup_from_task(task) -> mem_cgroup:
    return cgroup_e_memcg(task.cgroup)


def mem_cgroup_is_descendant(memcg: mem_cgroup, root: mem_cgroup) -> bool:
    while memcg is not None and memcg is not root:
        memcg = parent_mem_cgroup(memcg)
    return memcg is root


def mem_cgroup_iter(k: "Kernel", root: mem_cgroup | None):
    """``root`` (None: the root memcg) and its descendants, pre-order, siblings in creation
    order (``mem_cgroup_iter`` without a reclaim cookie); dying memcgs are visited while they
    keep their id, as ``css_next_descendant_pre`` visits offline csses: reclaim still finds
    the pages charged to them."""
    root = root or k.cgrp_dfl_root.memcg
    if len(k.memcg_idr) == 1:  # the root memcg alone (no cgroup made): no tree to build
        yield root
        return
    children: dict[int, list[mem_cgroup]] = {}
    for memcg in k.memcg_idr.values():
        children.setdefault(int(k.mem_map.memcg_parent[memcg.id]), []).append(memcg)
    stack = [root]
    while stack:
        memcg = stack.pop()
        yield memcg
        stack.extend(reversed(children.get(memcg.id, ())))


def mem_cgroup_iter_reclaim(k: "Kernel", root: mem_cgroup | None, nid: int):
    """``mem_cgroup_iter`` with a reclaim cookie: the walk of ``root``'s subtree that reclaimers
    on node ``nid`` share, each going on after the memcg the last one stopped at (a walk begun
    at the end starts over from ``root``) until the end of the subtree or until it stops
    early (a partial walk: direct reclaim that got enough); fairness among cgroups."""
    root = root or k.cgrp_dfl_root.memcg
    order = list(mem_cgroup_iter(k, root))
    ids = [memcg.id for memcg in order]
    pos = root.iter_position[nid]
    start = ids.index(pos) + 1 if pos in ids else 0
    for memcg in order[start if start < len(order) else 0:]:
        root.iter_position[nid] = memcg.id
        yield memcg
    root.iter_position[nid] = 0


def mem_cgroup_lruvec(memcg: mem_cgroup | None, pgdat) -> lruvec:
    """The lruvec of ``memcg`` on node ``pgdat`` (None: the root memcg's); the root memcg's
    is the node's own ``__lruvec``."""
    return pgdat.lruvec if memcg is None else memcg.nodeinfo[pgdat.node_id]


def lruvec_memcg(k: "Kernel", lv: lruvec) -> mem_cgroup:
    return k.memcg_idr[lv.memcg]


def parent_lruvec(k: "Kernel", lv: lruvec) -> lruvec | None:
    """The lruvec of the memcg's parent on the same node (None above the root)."""
    parent = parent_mem_cgroup(lruvec_memcg(k, lv))
    return None if parent is None else parent.nodeinfo[lv.nid]


def mem_cgroup_scan_tasks(k: "Kernel", memcg: mem_cgroup):
    """The live tasks of ``memcg``'s subtree, in pid order (``mem_cgroup_scan_tasks``; the kernel
    walks css by css)."""
    from ..include.linux.sched import TASK_RUNNING

    return [t for t in k.tasks.values() if t.state == TASK_RUNNING
            and mem_cgroup_is_descendant(mem_cgroup_from_task(t), memcg)]


# ---- counters, events -------------------------------------------------------------------------------
def page_counter_read(k: "Kernel", memcg: mem_cgroup, counter: int = PC_MEMORY) -> int:
    return int(k.mem_map.memcg_counter[memcg.id, counter, PC_USAGE])


def pc_field(k: "Kernel", memcg: mem_cgroup, field: int, counter: int = PC_MEMORY) -> int:
    return int(k.mem_map.memcg_counter[memcg.id, counter, field])


def mem_cgroup_get_nr_swap_pages(k: "Kernel", memcg: mem_cgroup) -> int:
    """The swap slots ``memcg`` may still use: the free ones, limited by the room under every
    ``memory.swap.max`` from it up to the root."""
    nr_swap_pages = k.nr_swap_pages
    while memcg is not None and not mem_cgroup_is_root(memcg):
        nr_swap_pages = min(nr_swap_pages, pc_field(k, memcg, PC_MAX, PC_SWAP) - page_counter_read(k, memcg, PC_SWAP))
        memcg = parent_mem_cgroup(memcg)
    return nr_swap_pages


def mem_cgroup_wb_stats(k: "Kernel", memcg: mem_cgroup) -> tuple[int, int, int, int]:
    """(file pages on the LRU, headroom, dirty, writeback) of the memcg's subtree for its
    writeback domain; the headroom is the least room under ``min(memory.max, memory.high)``
    from the memcg up to the root's child."""
    filepages = memcg_page_state(k, memcg, NR_INACTIVE_FILE) + memcg_page_state(k, memcg, NR_ACTIVE_FILE)
    headroom, c = PAGE_COUNTER_MAX, memcg
    while not mem_cgroup_is_root(c):
        ceiling = min(pc_field(k, c, PC_MAX), pc_field(k, c, PC_HIGH))
        headroom = min(headroom, ceiling - min(ceiling, page_counter_read(k, c)))
        c = parent_mem_cgroup(c)
    return filepages, headroom, memcg_page_state(k, memcg, NR_FILE_DIRTY), memcg_page_state(k, memcg, NR_WRITEBACK)


def mem_cgroup_margin(k: "Kernel", memcg: mem_cgroup) -> int:
    """Pages ``memcg`` can still be charged before its own ``memory.max``."""
    return max(pc_field(k, memcg, PC_MAX) - page_counter_read(k, memcg), 0)


def memcg_memory_event(k: "Kernel", memcg: mem_cgroup, event: int) -> None:
    """Count ``event`` in the memcg's ``memory.events.local`` and in ``memory.events`` of it and
    every ancestor below the root, announcing each file's change (``cgroup_file_notify``; a
    swap event announces ``memory.swap.events`` instead)."""
    __memcg_memory_event(k.mem_map, memcg.id, event)
    swap_event = event in (MEMCG_SWAP_HIGH, MEMCG_SWAP_MAX, MEMCG_SWAP_FAIL)
    if not swap_event:
        cgroup_file_notify(k, memcg.events_local_file)
    while memcg is not None and not mem_cgroup_is_root(memcg):
        cgroup_file_notify(k, memcg.swap_events_file if swap_event else memcg.events_file)
        memcg = parent_mem_cgroup(memcg)


def mem_over_limit(k: "Kernel", memcg: mem_cgroup, nr_pages: int) -> mem_cgroup | None:
    """The first memcg from ``memcg`` up whose ``memory.max`` a charge of ``nr_pages`` passes."""
    a = k.mem_map
    while memcg is not None and not mem_cgroup_is_root(memcg):
        if a.memcg_counter[memcg.id, PC_MEMORY, PC_USAGE] + nr_pages > a.memcg_counter[memcg.id, PC_MEMORY, PC_MAX]:
            return memcg
        memcg = parent_mem_cgroup(memcg)
    return None


# ---- try_charge's slow part ------------------------------------------------------------------------
def task_is_dying(task) -> bool:
    return task is not None and task.pending_signal != 0


def try_charge_memcg(k: "Kernel", task, nr_pages: int = 1, gfp: int = MEMCG_GFP,
                     memcg: mem_cgroup | None = None) -> bool:
    """The slow part of ``try_charge_memcg`` for a charge the compiled path could not make:
    pay any over-high debt, then while a ``memory.max`` on the way up would be passed: a MAX
    event, reclaim from the memcg over its limit, ``MAX_RECLAIM_RETRIES`` retries, then the
    memcg OOM killer. True when the charge now fits (the fault retries it), False for -ENOMEM
    (the task was OOM-killed, or nobody could be; a gfp that cannot block or has
    __GFP_NORETRY gives up before retrying, __GFP_RETRY_MAYFAIL before the OOM killer). The
    charge is to ``task``'s memcg unless ``memcg`` names another (a swap-in's owner)."""
    memcg = memcg or mem_cgroup_from_task(task)
    mem_cgroup_handle_over_high(k, memcg, gfp)
    nr_retries, passed_oom = MAX_RECLAIM_RETRIES, False
    while (over := mem_over_limit(k, memcg, nr_pages)) is not None:
        if passed_oom and task_is_dying(task) or not gfp & G.__GFP_DIRECT_RECLAIM:
            return False
        memcg_memory_event(k, over, MEMCG_MAX)
        memstall = psi_memstall_enter(k, k.current)
        nr_reclaimed = k.memcg_hooks.try_to_free_mem_cgroup_pages(k, over, nr_pages, gfp, MEMCG_RECLAIM_MAY_SWAP)
        psi_memstall_leave(k, k.current, memstall)
        if mem_cgroup_margin(k, over) >= nr_pages:
            continue
        if gfp & G.__GFP_NORETRY:
            return False
        if nr_reclaimed and nr_pages <= 1 << 3:  # PAGE_ALLOC_COSTLY_ORDER
            continue
        if nr_retries:
            nr_retries -= 1
            continue
        if gfp & G.__GFP_RETRY_MAYFAIL:
            return False
        if not mem_cgroup_oom(k, over, gfp, (nr_pages - 1).bit_length()):
            return False
        passed_oom, nr_retries = True, MAX_RECLAIM_RETRIES
        if not task_is_dying(task):  # another task was chosen: run the clock to its exit
            k.memcg_hooks.wait_for_oom_victims(k)
    return True


def mem_cgroup_charge(k: "Kernel", pfn: int, task, gfp: int) -> int:
    """``mem_cgroup_charge`` of a new page-cache or shmem folio (``__filemap_add_folio``) to the
    memcg of ``task`` (None, kernel context: the root's): 0, or -ENOMEM when its memcg cannot
    make room (reclaim failed; the OOM killer chose ``task``, or nobody, or the folio is too
    large to OOM for)."""
    memcg = mem_cgroup_from_task(task) if task is not None else k.cgrp_dfl_root.memcg
    nr = 1 << int(k.mem_map.order[pfn])
    while not charge_memcg(k.mem_map, memcg.id, pfn, nr):
        if not try_charge_memcg(k, task, nr, gfp):
            return -errno.ENOMEM
    return 0


def mem_cgroup_swapin_charge_folio(k: "Kernel", pfn: int, slot: int, task, gfp: int) -> int:
    """``mem_cgroup_swapin_charge_folio``: a folio read in from swap is charged to the memcg
    its slot was charged to (``swap_cgroup``), or, if that memcg is gone or had none, to the
    faulting task's; 0 or -ENOMEM as ``mem_cgroup_charge``."""
    memcg = k.memcg_idr.get(int(k.vm_state.swap_cgroup[slot]))
    if memcg is None or not memcg.online:
        memcg = mem_cgroup_from_task(task) if task is not None else k.cgrp_dfl_root.memcg
    nr = int(folio_nr_pages(k.mem_map, pfn))
    while not charge_memcg(k.mem_map, memcg.id, pfn, nr):
        if not try_charge_memcg(k, task, nr, gfp, memcg):
            return -errno.ENOMEM
    return 0


def mem_cgroup_oom(k: "Kernel", memcg: mem_cgroup, gfp: int, order: int) -> bool:
    """An OOM event, then the OOM killer within ``memcg`` (``mem_cgroup_out_of_memory``)."""
    if order > 3:
        return False
    memcg_memory_event(k, memcg, MEMCG_OOM)
    return mem_cgroup_out_of_memory(k, memcg, gfp, order)


def mem_cgroup_out_of_memory(k: "Kernel", memcg: mem_cgroup, gfp: int, order: int) -> bool:
    if mem_cgroup_margin(k, memcg) >= 1 << order:
        return True
    return task_is_dying(k.current) or k.memcg_hooks.out_of_memory(k, gfp, order, memcg)


# ---- memory.high -----------------------------------------------------------------------------------
def calculate_overage(usage: int, high: int) -> int:
    """How far ``usage`` is over ``high``, as a fixed-point fraction of ``high``."""
    if usage <= high:
        return 0
    high = max(high, 1)  # a threshold of 0 acts as one page
    return ((usage - high) << MEMCG_DELAY_PRECISION_SHIFT) // high


def mem_find_max_overage(k: "Kernel", memcg: mem_cgroup) -> int:
    overage = 0
    while memcg is not None and not mem_cgroup_is_root(memcg):
        overage = max(overage, calculate_overage(page_counter_read(k, memcg), pc_field(k, memcg, PC_HIGH)))
        memcg = parent_mem_cgroup(memcg)
    return overage


def swap_find_max_overage(k: "Kernel", memcg: mem_cgroup) -> int:
    """The largest swap overage over ``memory.swap.high`` on the path; each memcg over it
    counts a SWAP_HIGH event (memory.swap.events ``high``)."""
    overage = 0
    while memcg is not None and not mem_cgroup_is_root(memcg):
        over = calculate_overage(page_counter_read(k, memcg, PC_SWAP), pc_field(k, memcg, PC_HIGH, PC_SWAP))
        if over:
            memcg_memory_event(k, memcg, MEMCG_SWAP_HIGH)
        overage = max(overage, over)
        memcg = parent_mem_cgroup(memcg)
    return overage


def calculate_high_delay(nr_pages: int, max_overage: int) -> int:
    """The penalty in jiffies: quadratic in the overage, scaled so that about 2 s is reached
    at a 10% overage for a full charge batch, and proportional to the pages charged."""
    if not max_overage:
        return 0
    penalty = (max_overage * max_overage * HZ) >> MEMCG_DELAY_PRECISION_SHIFT >> MEMCG_DELAY_SCALING_SHIFT
    return penalty * nr_pages // MEMCG_CHARGE_BATCH


def reclaim_high(k: "Kernel", memcg: mem_cgroup, nr_pages: int, gfp: int) -> int:
    """Reclaim from every memcg of the path above its ``memory.high`` (a HIGH event each)."""
    nr_reclaimed = 0
    while memcg is not None and not mem_cgroup_is_root(memcg):
        if page_counter_read(k, memcg) > pc_field(k, memcg, PC_HIGH):
            memcg_memory_event(k, memcg, MEMCG_HIGH)
            memstall = psi_memstall_enter(k, k.current)
            nr_reclaimed += k.memcg_hooks.try_to_free_mem_cgroup_pages(k, memcg, nr_pages, gfp,
                                                                       MEMCG_RECLAIM_MAY_SWAP)
            psi_memstall_leave(k, k.current, memstall)
        memcg = parent_mem_cgroup(memcg)
    return nr_reclaimed


def mem_cgroup_handle_over_high(k: "Kernel", memcg: mem_cgroup, gfp: int = MEMCG_GFP) -> None:
    """The over-high work a charge left for the return to user space: reclaim, and while
    reclaim cannot keep up, sleep on the clock for the penalty of the memory overage plus the
    swap overage over ``memory.swap.high`` (which reclaim cannot bring down: the swapped pages
    must be freed or come back; at most 2 s per return; below 10 ms none). The task is
    throttled, never killed."""
    a = k.mem_map
    nr_pages = int(a.memcg_nr_pages_over_high[memcg.id])
    if not nr_pages:
        return
    a.memcg_nr_pages_over_high[memcg.id] = 0
    nr_retries, in_retry = MAX_RECLAIM_RETRIES, False
    while True:
        nr_reclaimed = reclaim_high(k, memcg, SWAP_CLUSTER_MAX if in_retry else nr_pages, gfp)
        penalty = calculate_high_delay(nr_pages, mem_find_max_overage(k, memcg))
        penalty += calculate_high_delay(nr_pages, swap_find_max_overage(k, memcg))
        penalty = min(penalty, MEMCG_MAX_HIGH_DELAY_JIFFIES)
        if penalty <= HZ // 100:
            return
        if nr_reclaimed or nr_retries:
            nr_retries -= 0 if nr_reclaimed else 1
            in_retry = True
            continue
        schedule_timeout_memstall(k, penalty * (NSEC_PER_SEC // HZ))  # schedule_timeout_killable
        return


def resume_user_mode_work(k: "Kernel", task) -> None:
    """On the way back to user space: the task's memcg over-high work."""
    mem_cgroup_handle_over_high(k, mem_cgroup_from_task(task))


# ---- protection (memory.min, memory.low) ------------------------------------------------------------
def effective_protection(usage: int, setting: int, parent_effective: int, siblings_protected: int) -> int:
    """The protection a child really gets: what it claims and uses, scaled down by the
    parent's effective protection when the siblings together claim more (without the
    ``memory_recursiveprot`` mount option)."""
    protected = min(usage, setting)
    if siblings_protected > parent_effective:
        return protected * parent_effective // siblings_protected
    return protected


def mem_cgroup_calculate_protection(k: "Kernel", root: mem_cgroup | None, memcg: mem_cgroup) -> tuple[int, int]:
    """``memory.min``/``memory.low`` in effect for ``memcg`` when reclaim targets ``root`` (None:
    global reclaim): (emin, elow) in pages, also stored in the counter's emin/elow for reclaim
    (``page_counter_calculate_protection``, computed from the top down)."""
    root = root or k.cgrp_dfl_root.memcg
    a = k.mem_map
    path = []
    c = memcg
    while c is not None and c is not root:
        path.append(c)
        c = parent_mem_cgroup(c)
    for c in reversed(path):
        parent = parent_mem_cgroup(c)
        usage = page_counter_read(k, c)
        if parent is root:
            emin, elow = pc_field(k, c, PC_MIN), pc_field(k, c, PC_LOW)
        else:
            emin, elow = (effective_protection(usage, pc_field(k, c, field), pc_field(k, parent, eff),
                                               children_protected_usage(k, parent, field))
                          for field, eff in ((PC_MIN, PC_EMIN), (PC_LOW, PC_ELOW)))
        a.memcg_counter[c.id, PC_MEMORY, PC_EMIN] = emin if usage else 0
        a.memcg_counter[c.id, PC_MEMORY, PC_ELOW] = elow if usage else 0
    return pc_field(k, memcg, PC_EMIN), pc_field(k, memcg, PC_ELOW)


def mem_cgroup_unprotected(target: mem_cgroup | None, memcg: mem_cgroup) -> bool:
    """No protection applies to the root memcg, nor to the target of a memcg's own reclaim."""
    return mem_cgroup_is_root(memcg) or memcg is target


def mem_cgroup_protection(k: "Kernel", target: mem_cgroup | None, memcg: mem_cgroup) -> tuple[int, int]:
    """The (emin, elow) reclaim targeting ``target`` (None: global) scales ``memcg``'s scan by."""
    if mem_cgroup_unprotected(target, memcg):
        return 0, 0
    return pc_field(k, memcg, PC_EMIN), pc_field(k, memcg, PC_ELOW)


def mem_cgroup_below_min(k: "Kernel", target: mem_cgroup | None, memcg: mem_cgroup) -> bool:
    """All of the memcg's usage is within its effective memory.min (as is an empty memcg)."""
    return not mem_cgroup_unprotected(target, memcg) and pc_field(k, memcg, PC_EMIN) >= page_counter_read(k, memcg)


def mem_cgroup_below_low(k: "Kernel", target: mem_cgroup | None, memcg: mem_cgroup) -> bool:
    return not mem_cgroup_unprotected(target, memcg) and pc_field(k, memcg, PC_ELOW) >= page_counter_read(k, memcg)


def children_protected_usage(k: "Kernel", parent: mem_cgroup, field: int) -> int:
    """``children_min_usage``/``children_low_usage``: the children's protected usage summed
    (``propagate_protected_usage``), recorded in the parent's counter."""
    total = sum(min(page_counter_read(k, ch.memcg), pc_field(k, ch.memcg, field))
                for ch in parent.css.children.values() if ch.memcg is not None)
    column = PC_CHILDREN_MIN_USAGE if field == PC_MIN else PC_CHILDREN_LOW_USAGE
    k.mem_map.memcg_counter[parent.id, PC_MEMORY, column] = total
    return total


# ---- memory.stat --------------------------------------------------------------------------------------
# memory_stats[] of 6.18 (CONFIG_ZSWAP, CONFIG_SWAP, CONFIG_TRANSPARENT_HUGEPAGE, CONFIG_HUGETLB_PAGE,
# CONFIG_NUMA_BALANCING as in the distribution kernels): the key and the memcg counter behind it
MEMORY_STATS = (
    ("anon", NR_ANON_MAPPED), ("file", NR_FILE_PAGES), ("kernel", MEMCG_KMEM),
    ("kernel_stack", NR_KERNEL_STACK_KB), ("pagetables", NR_PAGETABLE),
    ("sec_pagetables", NR_SECONDARY_PAGETABLE), ("percpu", MEMCG_PERCPU_B), ("sock", MEMCG_SOCK),
    ("vmalloc", MEMCG_VMALLOC), ("shmem", NR_SHMEM), ("zswap", MEMCG_ZSWAP_B), ("zswapped", MEMCG_ZSWAPPED),
    ("file_mapped", NR_FILE_MAPPED), ("file_dirty", NR_FILE_DIRTY), ("file_writeback", NR_WRITEBACK),
    ("swapcached", NR_SWAPCACHE), ("anon_thp", NR_ANON_THPS), ("file_thp", NR_FILE_THPS),
    ("shmem_thp", NR_SHMEM_THPS), ("inactive_anon", NR_INACTIVE_ANON), ("active_anon", NR_ACTIVE_ANON),
    ("inactive_file", NR_INACTIVE_FILE), ("active_file", NR_ACTIVE_FILE), ("unevictable", NR_UNEVICTABLE),
    ("slab_reclaimable", NR_SLAB_RECLAIMABLE_B), ("slab_unreclaimable", NR_SLAB_UNRECLAIMABLE_B),
    ("hugetlb", NR_HUGETLB),
    ("workingset_refault_anon", WORKINGSET_REFAULT_ANON), ("workingset_refault_file", WORKINGSET_REFAULT_FILE),
    ("workingset_activate_anon", WORKINGSET_ACTIVATE_ANON),
    ("workingset_activate_file", WORKINGSET_ACTIVATE_FILE),
    ("workingset_restore_anon", WORKINGSET_RESTORE_ANON), ("workingset_restore_file", WORKINGSET_RESTORE_FILE),
    ("workingset_nodereclaim", WORKINGSET_NODERECLAIM), ("pgdemote_kswapd", PGDEMOTE_KSWAPD),
    ("pgdemote_direct", PGDEMOTE_DIRECT), ("pgdemote_khugepaged", PGDEMOTE_KHUGEPAGED),
    ("pgdemote_proactive", PGDEMOTE_PROACTIVE), ("pgpromote_success", PGPROMOTE_SUCCESS),
)
BYTE_ITEMS = {MEMCG_PERCPU_B, MEMCG_ZSWAP_B, NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B}
EVENT_ITEMS = {WORKINGSET_REFAULT_ANON, WORKINGSET_REFAULT_FILE, WORKINGSET_ACTIVATE_ANON, WORKINGSET_ACTIVATE_FILE,
               WORKINGSET_RESTORE_ANON, WORKINGSET_RESTORE_FILE, WORKINGSET_NODERECLAIM, PGDEMOTE_KSWAPD,
               PGDEMOTE_DIRECT, PGDEMOTE_KHUGEPAGED, PGDEMOTE_PROACTIVE, PGPROMOTE_SUCCESS}
# memcg_vm_event_stat[] of 6.18 (pgpgin/pgpgout are cgroup v1's), after "pgscan" and "pgsteal"
MEMCG_VM_EVENT_STAT = (
    "PSWPIN PSWPOUT PGSCAN_KSWAPD PGSCAN_DIRECT PGSCAN_KHUGEPAGED PGSCAN_PROACTIVE PGSTEAL_KSWAPD "
    "PGSTEAL_DIRECT PGSTEAL_KHUGEPAGED PGSTEAL_PROACTIVE PGFAULT PGMAJFAULT PGREFILL PGACTIVATE PGDEACTIVATE "
    "PGLAZYFREE PGLAZYFREED SWPIN_ZERO SWPOUT_ZERO ZSWPIN ZSWPOUT ZSWPWB THP_FAULT_ALLOC THP_COLLAPSE_ALLOC "
    "THP_SWPOUT THP_SWPOUT_FALLBACK NUMA_PAGE_MIGRATE NUMA_PTE_UPDATES NUMA_HINT_FAULTS").split()
VM_EVENT_NAMES = {"NUMA_PAGE_MIGRATE": "numa_pages_migrated"}  # vmstat_text's spellings that differ


def memcg_page_state_output(item: int, value: int) -> int:
    """``memcg_page_state_output_unit``: pages in bytes, KB counters in bytes, events as counts."""
    if item in BYTE_ITEMS or item in EVENT_ITEMS:
        return value
    return value * (1024 if item == NR_KERNEL_STACK_KB else 4096)


def memcg_page_state(k: "Kernel", memcg: mem_cgroup, item: int) -> int:
    """The counter summed over the memcg's subtree (the kernel's rstat flush aggregates it)."""
    ids = [m.id for m in mem_cgroup_iter(k, memcg)]
    return int(k.mem_map.memcg_stat[ids, item].sum())


def memcg_events(k: "Kernel", memcg: mem_cgroup, item: int) -> int:
    """The vm event ``item`` summed over the memcg's subtree (``memcg_events`` after the rstat
    flush)."""
    ids = [m.id for m in mem_cgroup_iter(k, memcg)]
    return int(k.mem_map.memcg_vm_events[ids, item].sum())


def memory_stat_format(k: "Kernel", memcg: mem_cgroup) -> list[str]:
    """``memory.stat``'s lines: the counters of ``memory_stats[]`` (``slab`` after the two slab
    items), ``pgscan``/``pgsteal`` (the four reclaimers' sums), then ``memcg_vm_event_stat[]``."""
    lines = []
    for name, item in MEMORY_STATS:
        lines.append(f"{name} {memcg_page_state_output(item, memcg_page_state(k, memcg, item))}")
        if item == NR_SLAB_UNRECLAIMABLE_B:
            slab = memcg_page_state(k, memcg, NR_SLAB_RECLAIMABLE_B) + memcg_page_state(k, memcg, item)
            lines.append(f"slab {slab}")
    for name, first in (("pgscan", PGSCAN_KSWAPD), ("pgsteal", PGSTEAL_KSWAPD)):
        lines.append(f"{name} {sum(memcg_events(k, memcg, first + r) for r in range(NR_RECLAIMERS))}")
    lines += [f"{VM_EVENT_NAMES.get(e, e.lower())} {memcg_events(k, memcg, VM_EVENT_ITEM[e])}"
              for e in MEMCG_VM_EVENT_STAT if e in VM_EVENT_ITEM]
    return lines


# ---- the OOM report's memcg parts -------------------------------------------------------------------
def cgroup_path(memcg: mem_cgroup) -> str:
    return memcg.css.path


def mem_cgroup_print_oom_context(memcg: mem_cgroup | None, victim) -> str:
    """The memcg part of the ``oom-kill:`` line."""
    ctx = f",oom_memcg={cgroup_path(memcg)}" if memcg is not None else ",global_oom"
    return ctx + f",task_memcg={cgroup_path(mem_cgroup_from_task(victim))}"


def K(pages: int) -> int:
    return pages << 2


def mem_cgroup_print_oom_meminfo(k: "Kernel", memcg: mem_cgroup) -> None:
    """The memcg OOM's replacement for Mem-Info: usage, limit and failcnt of memory and swap,
    then ``memory.stat`` of the memcg line by line."""
    for label, counter in (("memory", PC_MEMORY), ("swap", PC_SWAP)):
        k.log.info(f"{label}: usage {K(page_counter_read(k, memcg, counter))}kB, "
                   f"limit {K(pc_field(k, memcg, PC_MAX, counter))}kB, failcnt {pc_field(k, memcg, PC_FAILCNT, counter)}")
    k.log.info(f"Memory cgroup stats for {cgroup_path(memcg)}:")
    for line in memory_stat_format(k, memcg):
        k.log.info(line)


def mem_cgroup_get_max(k: "Kernel", memcg: mem_cgroup) -> int:
    """The memcg OOM's totalpages: ``memory.max`` plus the swap it may use."""
    return pc_field(k, memcg, PC_MAX) + min(pc_field(k, memcg, PC_MAX, PC_SWAP), k.total_swap_pages)


def mem_cgroup_get_oom_group(victim, oom_domain: mem_cgroup | None, root: mem_cgroup) -> mem_cgroup | None:
    """The highest memcg from the victim's up to the OOM's domain with ``memory.oom.group`` set:
    all its tasks die with the victim."""
    oom_domain = oom_domain or root
    memcg = mem_cgroup_from_task(victim)
    if memcg is root or not mem_cgroup_is_descendant(memcg, oom_domain):
        return None
    group = None
    while memcg is not None:
        if memcg.oom_group:
            group = memcg
        if memcg is oom_domain:
            break
        memcg = parent_mem_cgroup(memcg)
    return group


def mem_cgroup_print_oom_group(k: "Kernel", memcg: mem_cgroup) -> None:
    k.log.info(f"Tasks in {cgroup_path(memcg)} are going to be killed due to memory.oom.group set")


# ---- the interface files ----------------------------------------------------------------------------
def seq_puts_memcg_tunable(value: int) -> str:
    return "max\n" if value == PAGE_COUNTER_MAX else f"{value * 4096}\n"


def __memory_events_show(events) -> str:
    names = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
    ids = (MEMCG_LOW, MEMCG_HIGH, MEMCG_MAX, MEMCG_OOM, MEMCG_OOM_KILL, MEMCG_OOM_GROUP_KILL)
    return "".join(f"{n} {int(events[i])}\n" for n, i in zip(names, ids))


def peak_watchers(memcg: mem_cgroup, counter: int) -> list[cgroup_of_peak]:
    return memcg.peaks if counter == PC_MEMORY else memcg.swap_peaks


def peak_show(k: "Kernel", of, counter: int) -> str:
    """``memory.peak`` read through an open file: the counter's all-time watermark, or, once
    the file was written, the largest usage since that write (6.12+)."""
    fd_peak = of.priv.peak.value
    if fd_peak == OFP_PEAK_UNSET:
        peak = pc_field(k, of.kn.css, PC_WATERMARK, counter)
    else:
        peak = max(fd_peak, pc_field(k, of.kn.css, PC_LOCAL_WATERMARK, counter))
    return f"{peak * 4096}\n"


def peak_write(k: "Kernel", of, counter: int, buf: str) -> None:
    """Any write restarts this open file's peak at the usage now (``local_watermark`` follows
    the usage from here); the global watermark and the other open files' peaks stay."""
    memcg = of.kn.css
    usage = page_counter_read(k, memcg, counter)
    k.mem_map.memcg_counter[memcg.id, counter, PC_LOCAL_WATERMARK] = usage
    of_peak_reset(of.priv.peak, usage, peak_watchers(memcg, counter))


def peak_release(of, counter: int) -> None:
    """The open file goes: a written one leaves the memcg's watchers."""
    if of.priv.peak.value != OFP_PEAK_UNSET:
        peak_watchers(of.kn.css, counter).remove(of.priv.peak)


def _peak_file(counter: int):
    return (lambda k, of: peak_show(k, of, counter), lambda k, of, buf: peak_write(k, of, counter, buf),
            lambda of: peak_release(of, counter))


def set_counter(k: "Kernel", memcg: mem_cgroup, field: int, buf: str, counter: int = PC_MEMORY) -> int:
    value = page_counter_memparse(buf)
    k.mem_map.memcg_counter[memcg.id, counter, field] = value
    return value


def memory_high_write(k: "Kernel", memcg: mem_cgroup, buf: str) -> None:
    """Set ``memory.high``, then reclaim down to it (giving up after MAX_RECLAIM_RETRIES
    rounds without progress); never OOM-kills."""
    high = set_counter(k, memcg, PC_HIGH, buf)
    nr_retries = MAX_RECLAIM_RETRIES
    while (usage := page_counter_read(k, memcg)) > high:
        reclaimed = k.memcg_hooks.try_to_free_mem_cgroup_pages(k, memcg, usage - high, G.GFP_KERNEL,
                                                               MEMCG_RECLAIM_MAY_SWAP)
        if not reclaimed:
            if not nr_retries:
                break
            nr_retries -= 1


def memory_max_write(k: "Kernel", memcg: mem_cgroup, buf: str) -> None:
    """Set ``memory.max``; while the usage is above it: reclaim (MAX_RECLAIM_RETRIES rounds
    without progress), then OOM events and kills in the memcg until it fits or nobody is left."""
    limit = set_counter(k, memcg, PC_MAX, buf)
    nr_reclaims = MAX_RECLAIM_RETRIES
    while (usage := page_counter_read(k, memcg)) > limit:
        if nr_reclaims:
            if not k.memcg_hooks.try_to_free_mem_cgroup_pages(k, memcg, usage - limit, G.GFP_KERNEL,
                                                              MEMCG_RECLAIM_MAY_SWAP):
                nr_reclaims -= 1
            continue
        memcg_memory_event(k, memcg, MEMCG_OOM)
        if not mem_cgroup_out_of_memory(k, memcg, G.GFP_KERNEL, 0) or not k.memcg_hooks.wait_for_oom_victims(k):
            break


def memory_oom_group_write(k: "Kernel", memcg: mem_cgroup, buf: str) -> None:
    value = buf.strip()
    if value not in ("0", "1"):
        raise KernelError(errno.EINVAL, f"memory.oom.group takes 0 or 1, not {buf!r}")
    memcg.oom_group = value == "1"


def memory_reclaim(k: "Kernel", memcg: mem_cgroup, buf: str) -> None:
    """Proactive reclaim of the bytes written (``user_proactive_reclaim``), in batches of a
    quarter of what is left (6.9+; reclaim takes at least SWAP_CLUSTER_MAX; the kernel's
    ``lru_add_drain_all`` before the last try is left to reclaim's own drain of the running
    CPU); EAGAIN when MAX_RECLAIM_RETRIES + 1 rounds reclaim nothing before the amount is
    reached."""
    words = buf.split()
    if not words or any(not w.startswith("swappiness=") for w in words[1:]):
        raise KernelError(errno.EINVAL, f"memory.reclaim takes a size and an optional swappiness=N, not {buf!r}")
    nr_to_reclaim = page_counter_memparse(words[0], "")
    nr_reclaimed, nr_retries = 0, MAX_RECLAIM_RETRIES
    while nr_reclaimed < nr_to_reclaim:
        reclaimed = k.memcg_hooks.try_to_free_mem_cgroup_pages(
            k, memcg, (nr_to_reclaim - nr_reclaimed) // 4, G.GFP_KERNEL,
            MEMCG_RECLAIM_MAY_SWAP | MEMCG_RECLAIM_PROACTIVE)
        if not reclaimed:
            if not nr_retries:
                raise KernelError(errno.EAGAIN, f"memory.reclaim: could not reclaim {buf.strip()}")
            nr_retries -= 1
        nr_reclaimed += reclaimed


def _tunable(field: int, counter: int = PC_MEMORY):
    return (lambda k, m: seq_puts_memcg_tunable(pc_field(k, m, field, counter)),
            lambda k, m, buf: set_counter(k, m, field, buf, counter))


# memory_files[] (cgroup v2, not on the root): name -> (show, write) taking the memcg, or, for
# a file with per-open state, (show, write, release) taking the open file (``of.kn.css`` the memcg,
# ``of.priv`` its cgroup_file_ctx); None: no such operation
memory_files = {
    "memory.current": (lambda k, m: f"{page_counter_read(k, m) * 4096}\n", None),
    "memory.min": _tunable(PC_MIN),
    "memory.low": _tunable(PC_LOW),
    "memory.high": (_tunable(PC_HIGH)[0], memory_high_write),
    "memory.max": (_tunable(PC_MAX)[0], memory_max_write),
    "memory.peak": _peak_file(PC_MEMORY),
    "memory.events": (lambda k, m: __memory_events_show(k.mem_map.memcg_events[m.id]), None),
    "memory.events.local": (lambda k, m: __memory_events_show(k.mem_map.memcg_events_local[m.id]), None),
    "memory.stat": (lambda k, m: "".join(line + "\n" for line in memory_stat_format(k, m)), None),
    "memory.oom.group": (lambda k, m: f"{int(m.oom_group)}\n", memory_oom_group_write),
    "memory.reclaim": (None, memory_reclaim),
    "memory.swap.current": (lambda k, m: f"{page_counter_read(k, m, PC_SWAP) * 4096}\n", None),
    "memory.swap.high": _tunable(PC_HIGH, PC_SWAP),
    "memory.swap.max": _tunable(PC_MAX, PC_SWAP),
    "memory.swap.events": (lambda k, m: "".join(f"{n} {int(k.mem_map.memcg_events[m.id, e])}\n" for n, e in
                                                (("high", MEMCG_SWAP_HIGH), ("max", MEMCG_SWAP_MAX),
                                                 ("fail", MEMCG_SWAP_FAIL))), None),
    "memory.swap.peak": _peak_file(PC_SWAP),
}
# the cgroup_file of each file the memcg announces changes of (the cftypes' file_offset)
MEMORY_NOTIFY_FILES = {"memory.events": "events_file", "memory.events.local": "events_local_file",
                       "memory.swap.events": "swap_events_file"}
# files the root cgroup has too (CFTYPE_NOT_ON_ROOT spares these)
ROOT_MEMORY_FILES = ("memory.stat", "memory.reclaim")
