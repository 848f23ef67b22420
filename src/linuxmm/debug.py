"""``linuxmm.debug.check(machine)``: CONFIG_DEBUG_VM-style invariant checks.

Returns a list of violations (empty when every invariant holds). Page allocator checks:

* every free list is a well-formed doubly linked list whose blocks carry the list's tag,
  and ``nr_free`` equals the list lengths;
* NR_FREE_PAGES (and NR_FREE_PAGES_BLOCKS) equal a recount of the free lists;
* each managed page is in exactly one state: in a free buddy block, on a per-cpu list, or
  inside an allocated block (its head has a reference); none is both;
* managed pages = free + per-cpu + allocated, per zone;
* no two free buddies of the same order that the allocator should have merged.

Address-space checks: every table's ``pt_used`` counts its entries that are not none; each
PMD table holds one deposited (empty) pte table per huge pmd; swap and migration entries and
markers lie inside VMAs, and MM_SWAPENTS counts the swap entries; every pte maps an allocated page; mapcount equals the number of
page-table entries mapping each page; an anonymous folio's refcount equals its mappings; per-process RSS
(anon, file, shmem), NR_ANON_MAPPED, NR_FILE_MAPPED and NR_FILE/SHMEM_PMDMAPPED equal recounts; a
page-cache page mapped in a VMA belongs to the VMA's file and is the folio its page cache holds at
the page's index; every page-table row is backed by its own allocated page. TLB checks: every cached
translation of a live mm maps the frame its page tables map now; no entry outlives its mm.

Reverse-map checks: every live VMA is linked into each anon_vma of its chain and its file's
``i_mmap``, and nothing else is; each anon_vma's counts (``num_children``,
``num_active_vmas``, ``refcount``) and each file's ``f_count`` equal recounts; no anon_vma or
shmem object outlives its last user, and every page that names a file is in that file's live
page cache (an orphaned cache page is reported); ``rmap_walk`` of every mapped page finds
as many entries as the page tables hold (and each one it finds maps the page, by its
construction), so it finds exactly those.

``check_or_report`` is the ``--debug-vm`` mode of the CLI: it runs ``check`` during a
workload and raises ``DebugVmError`` naming the violations, where in the workload they
appeared and the last operations before it (like a VM_BUG_ON report with its dump_page).
"""

from __future__ import annotations

import numpy as np

from .errors import LinuxmmError
from .include.linux.memcontrol import MEMCG_NR_IDS, PC_MEMORY, PC_SWAP, PC_USAGE, ROOT_MEM_CGROUP_ID
from .include.linux.mm_types import (GUP_PIN_COUNTING_BIAS, MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES,
                                      MMC_PGTABLES_BYTES, VM_LOCKED)
from .mm.mm_inline import (folio_is_file_lru, folio_lru_gen, folio_lruvec_memcg, folio_nr_pages, folio_zonenum,
                           lru_gen_is_active)
from .include.linux.mmzone import (ANON_AND_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, LRU_NAMES, LRU_UNEVICTABLE,
                                   MAX_NR_GENS, MIGRATE_ISOLATE, MIN_NR_GENS, NR_LRU_LISTS)
from .include.linux.page_flags import (LRU_REFS_WIDTH, PG_active_mask, PG_head_mask, PG_lru_mask, PG_mlocked_mask,
                                       PG_reserved_mask, PG_swapbacked_mask, PG_swapcache_mask, PG_unevictable_mask,
                                       PG_uptodate_mask)
from .include.linux.pagevec import FBATCH_LRU_ADD
from .include.linux.sched import TASK_RUNNING
from .include.linux.vmstat import (NR_ANON_THPS, NR_FREE_PAGES, NR_FREE_PAGES_BLOCKS, NR_ISOLATED_ANON,
                                   NR_ISOLATED_FILE, NODE_STAT_ITEM, NR_LRU_BASE, NR_MLOCK, NR_PAGETABLE, NR_ZONE_LRU_BASE)
from .mm import buddy as B
from .fs.pipe import pipe_page_refs
from .mm.memory import PAGE_MAPPING_ANON
from .mm.rmap import rmap_walk
from .mm.swap import PG_partially_mapped_mask, folio_lru_list

FREE, PCP, ALLOC = 1, 2, 3
PAGE_SIZE = 4096


def _walk(a, head, nxt, blk=None, limit=1 << 40):
    out, cur = [], head
    while cur and len(out) < limit:
        out.append(cur - 1)
        idx = blk(cur - 1) if blk else cur - 1
        cur = nxt[idx]
    return out


def check(machine) -> list[str]:
    k = getattr(machine, "kernel", machine)
    if k._mem_map is None:
        return []
    return (check_page_alloc(k) + check_folios(k) + check_vm(k) + check_tlb(k) + check_anon_vmas(k)
            + check_files(k) + check_dead_tasks(k) + check_mm_counters(k) + check_swap(k) + check_memcg(k) + check_pagetables(k))


def check_memcg(k) -> list[str]:
    """Memory cgroups: every charged folio is allocated, charged on its head, to a memcg that
    still exists (no id of a removed cgroup); each memcg's ``memory.current`` equals the pages
    charged to it and its descendants (the root memcg's own pages are not counted), and its
    ``memory.swap.current`` the swap slots charged to them (``swap_cgroup``), each in use."""
    a = k.mem_map
    charged = np.nonzero(a.memcg)[0]
    out = [f"pfn {p}: charged to memcg {a.memcg[p]} but free" for p in charged if a.refcount[p] <= 0][:5]
    out += [f"pfn {p}: a tail page carries a memcg charge" for p in charged if a.compound_head[p]][:5]
    local = np.zeros(len(a.memcg_parent), np.int64)
    np.add.at(local, a.memcg[charged], np.int64(1) << a.order[charged].astype(np.int64))
    out += _check_memcg_counter(k, local, PC_MEMORY, "memory.current", "pages")
    if k.vm_state is not None:
        vs = k.vm_state
        slots = np.nonzero(vs.swap_cgroup)[0]
        out += [f"swap slot {s}: charged to memcg {vs.swap_cgroup[s]} but free" for s in slots if not vs.swap_map[s]][:5]
        swapped = np.zeros_like(local)
        np.add.at(swapped, vs.swap_cgroup[slots], 1)
        out += _check_memcg_counter(k, swapped, PC_SWAP, "memory.swap.current", "swap slots")
    if k.memcg_ids is not None and k.memcg_ids.tolist() != list(k.memcg_idr):
        out.append(f"mem_cgroup_ids {k.memcg_ids.tolist()} stale: memcg_idr holds {list(k.memcg_idr)}")
    return out + check_memcg_node_stats(k) + check_memcg_anon_thps(k) + check_lruvec_cost(k)


def check_lruvec_cost(k) -> list[str]:
    """Each lruvec's recent reclaim costs (``lruvec_cost``, ``lru_note_cost``) are not negative,
    and no memcg id that is not in use has any."""
    a = k.mem_map
    out = [f"memcg {m} node {n}: lruvec_cost {a.lruvec_cost[m, n].tolist()} negative"
           for m, n in zip(*np.nonzero((a.lruvec_cost < 0).any(axis=2)))][:5]
    unused = np.ones(a.lruvec_cost.shape[0], bool)
    unused[list(k.memcg_idr)] = False
    return out + [f"memcg id {m} not in use has lruvec_cost {a.lruvec_cost[m].tolist()}"
                  for m in np.flatnonzero(unused & a.lruvec_cost.any(axis=(1, 2)))][:5]


# node counters every change of which goes to the folio's memcg too (row 0: charged to none)
MEMCG_NODE_STATS = ("NR_FILE_PAGES", "NR_SHMEM", "NR_FILE_MAPPED", "NR_SWAPCACHE")


def check_pagetables(k) -> list[str]:
    """NR_PAGETABLE of each node (meminfo PageTables) and of each memcg (memory.stat
    ``pagetables``) counts the page-table pages in use: every row of the table pool handed out
    (live mms' tables and their deposits), on its page's node, charged to its page's memcg."""
    from .mm.pgtable import NS_PAGETABLE, VP_NFREE

    vs, a = k.vm_state, k.mem_map
    if vs is None:
        return []
    used = np.ones(vs.pt.shape[0], bool)
    used[vs.pt_free[:int(vs.vp[VP_NFREE])]] = False
    pfns = vs.pt_pfn[used]
    nodes = np.zeros(a.node_stat.shape[0], np.int64)
    np.add.at(nodes, [int(a.zone_node[B.page_zone(a, int(pfn))]) for pfn in pfns], 1)
    v = [f"node {nid}: NR_PAGETABLE {a.node_stat[nid, NS_PAGETABLE]} but {nodes[nid]} page tables are in use"
         for nid in np.flatnonzero(nodes != a.node_stat[:, NS_PAGETABLE])]
    memcgs = np.zeros(a.memcg_stat.shape[0], np.int64)
    np.add.at(memcgs, a.memcg[pfns], 1)
    memcgs[0] = a.memcg_stat[0, NR_PAGETABLE]  # row 0: charged to no memcg, not counted
    return v + [f"memcg {i}: NR_PAGETABLE {a.memcg_stat[i, NR_PAGETABLE]} but {memcgs[i]} page tables are "
                "charged to it" for i in np.flatnonzero(memcgs != a.memcg_stat[:, NR_PAGETABLE])]


def check_memcg_anon_thps(k) -> list[str]:
    """Each memcg's NR_ANON_THPS (memory.stat ``anon_thp``) counts the pages of the large
    anonymous folios charged to it (``mem_cgroup_charge_anon``: from charge to uncharge,
    the simplification ``mm/memcontrol.py`` names)."""
    a = k.mem_map
    heads = np.flatnonzero((a.refcount > 0) & (a.memcg != 0) & ((a.mapping & PAGE_MAPPING_ANON) != 0)
                           & ((a.flags & PG_head_mask) != 0))
    counted = np.zeros(a.memcg_stat.shape[0], np.int64)
    np.add.at(counted, a.memcg[heads], np.int64(1) << a.order[heads].astype(np.int64))
    return [f"memcg {i}: NR_ANON_THPS {a.memcg_stat[i, NR_ANON_THPS]} but its large anonymous folios hold "
            f"{counted[i]} pages" for i in np.flatnonzero(counted != a.memcg_stat[:, NR_ANON_THPS])]


def check_memcg_node_stats(k) -> list[str]:
    """The memcgs' rows of a node counter kept per memcg sum to the nodes' (``memory.stat``
    shows what the node counters count)."""
    a = k.mem_map
    return [f"{name}: the memcgs count {int(a.memcg_stat[:, NODE_STAT_ITEM[name]].sum())}, "
            f"the nodes {int(a.node_stat[:, NODE_STAT_ITEM[name]].sum())}" for name in MEMCG_NODE_STATS
            if a.memcg_stat[:, NODE_STAT_ITEM[name]].sum() != a.node_stat[:, NODE_STAT_ITEM[name]].sum()]


def _check_memcg_counter(k, local: np.ndarray, counter: int, name: str, what: str) -> list[str]:
    """``local[id]``: what is charged to memcg ``id`` itself; the counter of each memcg must be
    that of its subtree (the root's own charges go uncounted)."""
    a = k.mem_map
    out = [f"memcg {i}: {local[i]} {what} charged to an id no cgroup has" for i in np.nonzero(local)[0]
           if int(i) not in k.memcg_idr]
    want = np.zeros_like(local)
    for i in np.nonzero(local)[0]:
        c = int(i)
        while c != 0 and i != ROOT_MEM_CGROUP_ID:  # the charge went up the hierarchy
            want[c] += local[i]
            c = int(a.memcg_parent[c])
    for memcg in k.memcg_idr.values():
        have = int(a.memcg_counter[memcg.id, counter, PC_USAGE])
        if have != want[memcg.id]:
            out.append(f"memcg {memcg.css.path}: {name} {have} pages, {want[memcg.id]} {what} charged")
    return out


DEAD_TASK_COUNTERS = (("MM_ANONPAGES", MM_ANONPAGES), ("MM_FILEPAGES", MM_FILEPAGES),
                      ("MM_SHMEMPAGES", MM_SHMEMPAGES), ("pgtables_bytes", MMC_PGTABLES_BYTES))


def check_mm_counters(k) -> list[str]:
    """Every running task's mm counters are its own row of ``k.rmap.mmcs`` (what compiled
    reclaim changes in place); a dead task holds no row."""
    reg, v = k.rmap, []
    rows = {id(t): row for row, t in enumerate(reg.mm_slots) if t is not None}
    if len(rows) != sum(t is not None for t in reg.mm_slots) or len(reg.mm_slots) != len(reg.mmcs):
        v.append(f"mm counter rows {len(reg.mmcs)}, owners {reg.mm_slots}: a task holds two or a row is unaccounted")
    for task in k.tasks.values():
        row = rows.get(id(task))
        if task.state != TASK_RUNNING:
            if row is not None:
                v.append(f"pid {task.pid} is dead but holds mm counter row {row}")
        elif row is None or task.mmc.base is not reg.mmcs or task.mmc.ctypes.data != reg.mmcs[row].ctypes.data:
            v.append(f"pid {task.pid}: its mm counters are not its row {row} of the kernel's array")
    return v


def check_dead_tasks(k) -> list[str]:
    """A task that exited or was killed holds nothing: no page, page table, VMA or commit
    charge; the OOM killer's count of victims in flight is the dying tasks' count."""
    v = []
    for task in k.tasks.values():
        if task.state == TASK_RUNNING:
            continue
        held = {name: int(task.mmc[i]) for name, i in DEAD_TASK_COUNTERS if task.mmc[i]}
        if held or task.mm.vmas or task.mm.committed_pages:
            v.append(f"pid {task.pid} ({task.comm}) is dead but holds {held}, {len(task.mm.vmas)} VMAs, "
                     f"{task.mm.committed_pages} committed pages")
    dying = sum(t.state == TASK_RUNNING and t.oom_mm is not None for t in k.tasks.values())
    if dying != k.oom_victims:
        v.append(f"oom_victims is {k.oom_victims} but {dying} OOM victims are still exiting")
    return v


class DebugVmError(LinuxmmError):
    """An invariant violation found by ``check`` during a workload."""

    def __init__(self, where: str, violations: list[str], recent: list[str]):
        self.where, self.violations, self.recent = where, violations, recent
        shown = violations[:MAX_REPORTED]
        lines = [f"DEBUG_VM: {len(violations)} invariant violation(s) after {where}"]
        lines += [f"  {v}" for v in shown]
        if len(violations) > len(shown):
            lines.append(f"  ... and {len(violations) - len(shown)} more")
        lines += ["last operations:"] + [f"  {r}" for r in recent]
        super().__init__("\n".join(lines))


MAX_REPORTED = 20


def check_or_report(machine, where: str, recent: list[str]) -> None:
    """Run ``check``; raise ``DebugVmError`` (with ``where`` and ``recent``) on a violation."""
    violations = check(machine)
    if violations:
        raise DebugVmError(where, violations, recent)


def check_page_alloc(k) -> list[str]:
    a = k.mem_map
    v: list[str] = []
    npfn = a.flags.shape[0]
    state = np.zeros(npfn, np.int8)
    nz, norders, nmt = a.fa_head.shape
    pb_order = int(a.params[B.P_PB_ORDER])
    for zid in range(nz):
        if a.zone_node[zid] < 0:
            continue
        free_pages = free_blocks = 0
        for order in range(norders):
            for mt in range(nmt):
                blocks = _walk(a, int(a.fa_head[zid, order, mt]), a.fa_next,
                               lambda p, o=order: int(a.fa_off[o]) + (p >> o))
                if len(blocks) != a.nr_free[zid, order, mt]:
                    v.append(f"zone {zid} order {order} mt {mt}: nr_free {a.nr_free[zid, order, mt]} "
                             f"but the list holds {len(blocks)}")
                for pfn in blocks:
                    tag = a.fa_tag[int(a.fa_off[order]) + (pfn >> order)]
                    if tag != 1 + mt + 16 * zid:
                        v.append(f"pfn {pfn:#x} on zone {zid} order {order} mt {mt} list has tag {tag}")
                    if pfn & ((1 << order) - 1):
                        v.append(f"pfn {pfn:#x} free at order {order} is not aligned")
                    seg = state[pfn:pfn + (1 << order)]
                    if seg.any():
                        v.append(f"pfn {pfn:#x} (order {order}) is free twice or overlaps another state")
                    seg[:] = FREE
                    if mt != MIGRATE_ISOLATE:
                        free_pages += 1 << order
                        if order >= pb_order:
                            free_blocks += 1 << order
                    buddy = pfn ^ (1 << order)
                    if order < a.params[B.P_MAX_ORDER] and B.page_is_buddy(a, buddy, order, zid):
                        bmt = (a.fa_tag[int(a.fa_off[order]) + (buddy >> order)] - 1) % 16
                        if order < pb_order or bmt == mt or (mt < 3 and bmt < 3):
                            v.append(f"free buddies {min(pfn, buddy):#x}/{max(pfn, buddy):#x} order {order} "
                                     "were not merged")
        if free_pages != a.vm_stat[zid, NR_FREE_PAGES]:
            v.append(f"zone {zid}: NR_FREE_PAGES {a.vm_stat[zid, NR_FREE_PAGES]} but free lists hold {free_pages}")
        if free_blocks != a.vm_stat[zid, NR_FREE_PAGES_BLOCKS]:
            v.append(f"zone {zid}: NR_FREE_PAGES_BLOCKS {a.vm_stat[zid, NR_FREE_PAGES_BLOCKS]}, recount {free_blocks}")
        for cpu in range(a.pcp_count.shape[0]):
            count = 0
            for pindex in range(B.NR_PCP_LISTS):
                order = int(B.pindex_to_order(a, pindex))
                for pfn in _walk(a, int(a.pcp_head[cpu, zid, pindex]), a.pcp_next):
                    if state[pfn:pfn + (1 << order)].any():
                        v.append(f"pfn {pfn:#x} on cpu {cpu} pcp list is also free or listed twice")
                    state[pfn:pfn + (1 << order)] = PCP
                    count += 1 << order
            if count != a.pcp_count[cpu, zid]:
                v.append(f"cpu {cpu} zone {zid}: pcp count {a.pcp_count[cpu, zid]} but lists hold {count}")
    v += check_free_pages(a, (state == FREE) | (state == PCP))
    heads = np.nonzero((a.refcount > 0) & ((a.flags & PG_reserved_mask) == 0))[0]
    for pfn in heads:
        n = 1 << int(a.order[pfn])
        seg = state[pfn:pfn + n]
        if seg.any():
            v.append(f"allocated block at pfn {pfn:#x} (order {a.order[pfn]}) overlaps free or pcp pages")
        seg[:] = ALLOC
    accounted_by_zone = np.zeros(nz, np.int64)
    for s, e, zid in zip(a.seg_start, a.seg_end, a.seg_zid):
        usable = (a.flags[s:e] & PG_reserved_mask) == 0
        accounted_by_zone[zid] += int(np.count_nonzero(state[s:e][usable]))
    for zid in range(nz):
        if a.zone_node[zid] < 0:
            continue
        accounted = int(accounted_by_zone[zid])
        if accounted != a.managed_pages[zid]:
            lost = int(a.managed_pages[zid]) - accounted
            v.append(f"zone {zid}: managed {a.managed_pages[zid]} != free+pcp+allocated {accounted} "
                     f"({lost} pages lost)")
    return v


# What a free page (buddy or per-cpu list) holds after ``free_pages_prepare`` (6.18): no flags
# on any page of the block (PAGE_FLAGS_CHECK_AT_PREP, the second page's PAGE_FLAGS_SECOND), no
# compound head or mapping (``free_tail_page_prepare``), no references, mappings, pins or memcg
# (``page_expected_state``), no private data.
FREE_PAGE_CLEAR = ("flags", "refcount", "mapcount", "compound_head", "entire_mapcount", "pincount", "private", "mapping",
                   "memcg")


def check_free_pages(a, free: np.ndarray) -> list[str]:
    """The pages marked in ``free`` carry no state left from their last use."""
    v: list[str] = []
    for name in FREE_PAGE_CLEAR:
        field = getattr(a, name)
        for pfn in np.flatnonzero(free & (field != 0))[:MAX_REPORTED]:
            v.append(f"free pfn {pfn:#x} keeps {name} {int(field[pfn]):#x} (free_pages_prepare clears it)")
    return v


# ---- folios: compound pages, list links, the LRU and the refcount rule ------------------------


def folio_expected_refs(a, head: int, mapped: int, cached: bool, held: int = 0) -> int:
    """The refcount rule: the references a user folio holds are exactly

    * one per page-table entry (pte or PMD) mapping it, ``mapped``;
    * the page cache's, one per page (``filemap_add_folio``), when ``cached``;
    * the swap cache's, one per page, while PG_swapcache is set (``add_to_swap_cache``);
    * one while reclaim or migration holds it isolated from the LRU (``folio_isolate_lru``);
      isolation lasts only within a batch, so between batches there is none (NR_ISOLATED_*
      are 0, ``check_lru``);
    * one per per-CPU folio batch slot holding it (``folio_batch_add_and_move``: a new folio
      waits in its CPU's ``lru_add`` batch until the batch moves);
    * per FOLL_PIN pin (``_pincount``): GUP_PIN_COUNTING_BIAS on a small folio, one on a
      large one (``try_grab_folio``);
    * ``held``: the FOLL_GET references kernel objects hold, one per page: the buffers of
      open pipes (``vmsplice``; ``fs.pipe.pipe_page_refs``).
    """
    nr = 1 << int(a.order[head])
    refs = mapped + (nr if cached else 0) + batched(a, head) + held
    if a.flags[head] & PG_swapcache_mask:
        refs += nr
    return refs + int(a.pincount[head]) * (GUP_PIN_COUNTING_BIAS if nr == 1 else 1)


def batched(a, pfn: int) -> int:
    """The per-CPU folio batch slots that hold ``pfn``."""
    live = np.arange(a.fbatch.shape[2]) < a.fbatch_nr[:, :, None]
    return int(np.count_nonzero((a.fbatch == pfn) & live))


def _other_refs(a, head: int, other: int) -> str:
    """What a refcount message adds when swap cache or pins are expected too."""
    if not other:
        return ""
    return f" (and {other} swap-cache and pin references: PG_swapcache " \
           f"{int(bool(a.flags[head] & PG_swapcache_mask))}, pincount {a.pincount[head]})"


def check_folios(k) -> list[str]:
    """Each folio field holds its one meaning: tails (and only tails) name their compound
    head; only pages on a per-cpu list have pcp links; an anonymous folio is up to date (its
    contents were zeroed, copied or read before it was mapped); the LRU (``check_lru``)."""
    a = k.mem_map
    v: list[str] = []
    heads = np.nonzero((a.refcount > 0) & ((a.flags & PG_head_mask) != 0))[0]
    want = np.zeros_like(a.compound_head)
    for head in heads:
        want[head + 1:head + (1 << int(a.order[head]))] = head + 1
    for pfn in np.nonzero(a.compound_head != want)[0][:MAX_REPORTED]:
        v.append(f"pfn {pfn:#x}: compound_head says head {a.compound_head[pfn] - 1:#x}, "
                 f"but {'the folio at ' + hex(want[pfn] - 1) if want[pfn] else 'no folio'} has it as a tail")
    on_pcp = np.zeros(a.pcp_next.shape[0], bool)
    for cpu, zid, pindex in zip(*np.nonzero(a.pcp_head)):
        on_pcp[_walk(a, int(a.pcp_head[cpu, zid, pindex]), a.pcp_next)] = True
    for pfn in np.nonzero(((a.pcp_next != 0) | (a.pcp_prev != 0)) & ~on_pcp)[0][:MAX_REPORTED]:
        v.append(f"pfn {pfn:#x}: pcp links {a.pcp_next[pfn]}/{a.pcp_prev[pfn]} but on no per-cpu list")
    stale = np.flatnonzero((a.refcount > 0) & (a.compound_head == 0) & ((a.mapping & PAGE_MAPPING_ANON) != 0)
                           & ((a.flags & PG_uptodate_mask) == 0))
    v += [f"pfn {pfn:#x}: an anonymous folio, not up to date" for pfn in stale[:MAX_REPORTED]]
    return v + check_lru(k) + check_mlock(k) + check_deferred_split(k)


def check_deferred_split(k) -> list[str]:
    """The deferred split queues (``mm/swap.py``): each node's queue links back and forth
    and holds ``split_queue_len`` folios, each an allocated large anonymous folio of order 2
    or more on that node (in the swap cache too: a THP swapped out whole stays queued until
    freed); a folio marked PG_partially_mapped is queued."""
    a = k.mem_map
    v: list[str] = []
    queued = np.zeros(a.flags.shape[0], bool)
    for nid in range(a.split_queue_head.shape[0]):
        folios = _walk(a, int(a.split_queue_head[nid]), a.deferred_next, limit=a.flags.shape[0])
        back = _walk(a, int(a.split_queue_tail[nid]), a.deferred_prev, limit=a.flags.shape[0])
        if folios != back[::-1] or len(folios) != a.split_queue_len[nid]:
            v.append(f"node {nid}: deferred split queue of {len(folios)} folios forward, {len(back)} back, "
                     f"split_queue_len {a.split_queue_len[nid]}")
        for head in folios[:MAX_REPORTED]:
            anon = a.mapping[head] & PAGE_MAPPING_ANON
            if (a.refcount[head] <= 0 or not a.flags[head] & PG_head_mask or a.order[head] < 2 or not anon
                    or a.zone_node[B.page_zone(a, head)] != nid):
                v.append(f"pfn {head:#x}: on node {nid}'s deferred split queue but not an allocated large "
                         f"anonymous folio of that node")
        queued[folios] = True
    heads = np.nonzero(((a.flags & PG_head_mask) != 0) & (a.order > 1) & (a.refcount > 0))[0]
    marked = heads[(a.flags[heads + 1] & PG_partially_mapped_mask) != 0]
    for head in marked[~queued[marked]][:MAX_REPORTED]:
        v.append(f"pfn {head:#x}: PG_partially_mapped but not on a deferred split queue")
    return v


def check_mlock(k) -> list[str]:
    """The unevictable list: a listed folio is on it exactly when it has PG_mlocked (no
    unevictable mappings are modelled), each zone's NR_MLOCK counts its PG_mlocked pages, and
    an mlocked folio is mapped by a VM_LOCKED VMA (``rmap_walk``)."""
    a = k.mem_map
    v: list[str] = []
    heads = (a.refcount > 0) & (a.compound_head == 0)
    mlocked = heads & ((a.flags & PG_mlocked_mask) != 0)
    unevictable = (a.flags & PG_unevictable_mask) != 0
    for pfn in np.nonzero(heads & ((a.flags & PG_lru_mask) != 0) & (mlocked != unevictable))[0][:MAX_REPORTED]:
        v.append(f"folio {pfn:#x}: PG_unevictable {int(unevictable[pfn])} but PG_mlocked {int(mlocked[pfn])}")
    pfns = np.nonzero(mlocked)[0]
    counted = np.zeros(a.vm_stat.shape[0], np.int64)
    np.add.at(counted, [B.page_zone(a, int(p)) for p in pfns], [int(folio_nr_pages(a, int(p))) for p in pfns])
    for zid in np.nonzero(counted != a.vm_stat[:, NR_MLOCK])[0]:
        v.append(f"zone {zid}: NR_MLOCK {a.vm_stat[zid, NR_MLOCK]} but {counted[zid]} pages have PG_mlocked")
    for pfn in pfns[:MAX_REPORTED * 50]:
        if not any(vma.vm_flags & VM_LOCKED for page in range(int(pfn), int(pfn) + int(folio_nr_pages(a, int(pfn))))
                   for vma, _, _ in rmap_walk(k, page)):
            v.append(f"folio {pfn:#x}: PG_mlocked but no VM_LOCKED VMA maps it")
    return v[:MAX_REPORTED]


def check_lru(k) -> list[str]:
    """LRU membership = flags = counts: each lruvec's lists (one per memcg and node) hold
    exactly the PG_lru folios of their memcg (``folio_lruvec``: the root's for an uncharged
    folio) and kind (``folio_lru_list``: PG_unevictable, PG_swapbacked, PG_active), linked both
    ways, each folio on one list only; under MGLRU the evictable ones are on the lruvec's
    generations instead (``_check_lrugen``); each lruvec's ``lru_zone_size`` (its classic
    lists), the node's NR_<list> and each zone's NR_ZONE_<list> equal the pages listed; every
    anonymous or page-cache folio is on a list or waits in a CPU's lru_add batch, never both;
    no folio is left isolated between batches (NR_ISOLATED_ANON/FILE are 0)."""
    a = k.mem_map
    v: list[str] = []
    listed = np.zeros(a.lru_next.shape[0], bool)
    zone_pages = np.zeros((a.vm_stat.shape[0], NR_LRU_LISTS), np.int64)
    memcgs = sorted(set(k.memcg_idr) | set(np.nonzero(a.lruvec_head.any(axis=(1, 2)))[0].tolist())
                    | set(np.nonzero(a.lrugen_head.any(axis=(1, 2, 3, 4)))[0].tolist()))
    for memcg in memcgs:
        pages = np.zeros_like(zone_pages)
        for nid in range(a.lruvec_head.shape[1]):
            for lru in range(NR_LRU_LISTS):
                v += _check_lru_list(a, memcg, nid, lru, listed, pages)
        for zid in np.nonzero((pages != a.lru_zone_size[memcg]).any(axis=1))[0]:
            v.append(f"memcg {memcg} zone {zid}: lru_zone_size {a.lru_zone_size[memcg, zid].tolist()} "
                     f"but its lists hold {pages[zid].tolist()} pages")
        zone_pages += pages
        for nid in range(a.lrugen_head.shape[1]):
            v += _check_lrugen(a, memcg, nid, listed, zone_pages)
    node_pages = np.zeros((a.node_stat.shape[0], NR_LRU_LISTS), np.int64)
    np.add.at(node_pages, a.zone_node[a.zone_node >= 0], zone_pages[a.zone_node >= 0])
    for nid, lru in zip(*np.nonzero(node_pages != a.node_stat[:, NR_LRU_BASE:NR_LRU_BASE + NR_LRU_LISTS])):
        v.append(f"node {nid}: NR_{LRU_NAMES[lru]} is {a.node_stat[nid, NR_LRU_BASE + lru]} but its lists hold "
                 f"{node_pages[nid, lru]} pages")
    for zid in np.nonzero((zone_pages != a.vm_stat[:, NR_ZONE_LRU_BASE:NR_ZONE_LRU_BASE + NR_LRU_LISTS]).any(axis=1))[0]:
        v.append(f"zone {zid}: NR_ZONE_* LRU counters {a.vm_stat[zid, NR_ZONE_LRU_BASE:NR_ZONE_LRU_BASE + NR_LRU_LISTS].tolist()} "
                 f"but the lists hold {zone_pages[zid].tolist()} pages")
    for pfn in np.nonzero(((a.flags & PG_lru_mask) != 0) != listed)[0][:MAX_REPORTED]:
        v.append(f"pfn {pfn:#x}: PG_lru {int(bool(a.flags[pfn] & PG_lru_mask))} but "
                 f"{'on' if listed[pfn] else 'on no'} LRU list")
    waiting = np.zeros_like(listed)
    cpus, slots = np.nonzero(np.arange(a.fbatch.shape[2]) < a.fbatch_nr[:, FBATCH_LRU_ADD, None])
    waiting[a.fbatch[cpus, FBATCH_LRU_ADD, slots]] = True
    user = (a.refcount > 0) & (a.mapping != 0) & (a.compound_head == 0)  # anonymous and page-cache folios
    for pfn in np.nonzero(user & (listed == waiting))[0][:MAX_REPORTED]:
        kind = "anon" if a.mapping[pfn] & PAGE_MAPPING_ANON else "page-cache"
        v.append(f"{kind} folio {pfn:#x}: {'both on an LRU list and' if listed[pfn] else 'neither on an LRU list nor'} "
                 "in an lru_add batch")
    for nid, kind in zip(*np.nonzero(a.node_stat[:, NR_ISOLATED_ANON:NR_ISOLATED_FILE + 1])):
        v.append(f"node {nid}: {a.node_stat[nid, NR_ISOLATED_ANON + kind]} {('anon', 'file')[kind]} pages "
                 "left isolated from the LRU")
    return v


def _list_folios(a, where: str, head: int, tail: int, listed: np.ndarray) -> tuple[list[int], list[str]]:
    """The folios of one list, checked linked both ways, its tail the last, each on no other list."""
    v: list[str] = []
    folios = _walk(a, head, a.lru_next, limit=a.lru_next.shape[0])
    if (folios[-1] + 1 if folios else 0) != tail:
        v.append(f"{where}: the tail is {tail - 1:#x}, not the last folio listed")
    for prev, pfn in zip([-1] + folios, folios):
        if a.lru_prev[pfn] != prev + 1:
            v.append(f"{where}: pfn {pfn:#x}'s lru_prev is {a.lru_prev[pfn] - 1:#x}, not {prev:#x}")
        if listed[pfn]:
            v.append(f"{where}: pfn {pfn:#x} is on another LRU list too")
        listed[pfn] = True
    return folios, v


def _check_lru_list(a, memcg: int, nid: int, lru: int, listed: np.ndarray, zone_pages: np.ndarray) -> list[str]:
    where = f"memcg {memcg} node {nid} LRU list {lru}"
    folios, v = _list_folios(a, where, int(a.lruvec_head[memcg, nid, lru]), int(a.lruvec_tail[memcg, nid, lru]),
                             listed)
    if folios and a.lrugen_enabled[nid] and lru != LRU_UNEVICTABLE:
        v.append(f"{where}: holds folios while MGLRU is on")
    for pfn in folios:
        if (not a.flags[pfn] & PG_lru_mask or folio_lru_list(a, pfn) != lru or folio_lruvec_memcg(a, pfn) != memcg
                or folio_lru_gen(a, pfn) >= 0):
            v.append(f"{where}: pfn {pfn:#x} (flags {int(a.flags[pfn]):#x}, memcg {a.memcg[pfn]}) does not belong on it")
        zone_pages[B.page_zone(a, pfn), lru] += int(folio_nr_pages(a, pfn))
    return v


def _check_lrugen(a, memcg: int, nid: int, listed: np.ndarray, zone_pages: np.ndarray) -> list[str]:
    """MGLRU's lists of one lruvec: each folio on the list of the generation, type and zone its
    flags say and of its memcg (never PG_active or PG_unevictable there), each generation's
    ``nr_pages`` the pages listed, the two youngest counted active; min_seq..max_seq spans
    MIN_NR_GENS to MAX_NR_GENS generations of each type; no folio on them while MGLRU is off."""
    v: list[str] = []
    max_seq = int(a.lrugen_max_seq[memcg, nid])
    for type_ in range(ANON_AND_FILE):
        if not MIN_NR_GENS <= max_seq - a.lrugen_min_seq[memcg, nid, type_] + 1 <= MAX_NR_GENS:
            v.append(f"memcg {memcg} node {nid}: MGLRU type {type_} spans seqs "
                     f"{a.lrugen_min_seq[memcg, nid, type_]}..{max_seq}")
    for gen, type_, zone in np.ndindex(*a.lrugen_head.shape[2:]):
        where = f"memcg {memcg} node {nid} MGLRU list gen {gen} type {type_} zone {zone}"
        folios, lv = _list_folios(a, where, int(a.lrugen_head[memcg, nid, gen, type_, zone]),
                                  int(a.lrugen_tail[memcg, nid, gen, type_, zone]), listed)
        v += lv
        if folios and not a.lrugen_enabled[nid]:
            v.append(f"{where}: holds folios while MGLRU is off")
        lru = (LRU_INACTIVE_FILE if type_ else LRU_INACTIVE_ANON) + int(lru_gen_is_active(a, memcg, nid, gen))
        pages = 0
        for pfn in folios:
            flags = int(a.flags[pfn])
            if (not flags & PG_lru_mask or flags & (PG_active_mask | PG_unevictable_mask) or folio_lru_gen(a, pfn) != gen
                    or folio_is_file_lru(a, pfn) != type_ or folio_zonenum(a, pfn) != zone
                    or folio_lruvec_memcg(a, pfn) != memcg):
                v.append(f"{where}: pfn {pfn:#x} (flags {flags:#x}, memcg {a.memcg[pfn]}) does not belong on it")
            nr = int(folio_nr_pages(a, pfn))
            pages += nr
            zone_pages[B.page_zone(a, pfn), lru] += nr
        if pages != a.lrugen_nr_pages[memcg, nid, gen, type_, zone]:
            v.append(f"{where}: nr_pages is {a.lrugen_nr_pages[memcg, nid, gen, type_, zone]} but it holds {pages} pages")
    return v


# ---- address spaces: page tables, rmap and counters ---------------------------------------

def _entries(k, task):
    """The page-table walk of a task (``pagewalk.walk_entries``): rows of (kind, level, row,
    index, address) for every entry that is not none, plus a WALK_TABLE_DONE row per table."""
    from .mm import memory as M
    from .mm.pagewalk import walk_entries

    return walk_entries(k.mem_map, k.vm_state, int(task.mmc[M.MMC_PGD]), 0, 1 << 62)


def _covered(vmas, vaddr: int) -> int:
    """Index of the VMA covering ``vaddr`` in a task's VMA table, or -1."""
    from .mm import memory as M

    i = int(np.searchsorted(vmas[:, M.VMA_END], vaddr, side="right"))
    return i if i < len(vmas) and vmas[i, M.VMA_START] <= vaddr else -1


def check_tables(k, task, walk) -> list[str]:
    """Per table: ``pt_used`` counts the entries that are not none; a PMD table holds one
    deposited pte table (empty, allocated) per huge pmd of an anonymous THP or the huge zero page; non-present entries lie in VMAs;
    MM_SWAPENTS counts the swap entries; ``pgtables_bytes`` (VmPTE) counts its PUD, PMD and PTE
    tables, the deposited ones included (not the PGD, nor a 5-level tree's P4D tables)."""
    from .mm import memory as M
    from .mm.pagewalk import WALK_TABLE_DONE
    from .mm.pgtable import _PAGE_KNL_ERRATUM_MASK, PTE_KIND_PRESENT, PTE_KIND_SWAP, VP_LEVELS, pte_pfn

    a, vs = k.mem_map, k.vm_state
    v: list[str] = []
    levels = int(vs.vp[VP_LEVELS])
    pgd = int(task.mmc[M.MMC_PGD])
    below = {int(a.private[pte_pfn(vs.pt[r, i])]): lv + 1 for kind, lv, r, i, _ in walk if kind == WALK_TABLE_DONE}
    rows = {pgd} | set(below)
    for row in sorted(rows):
        nonempty = int(np.count_nonzero(vs.pt[row] & ~np.uint64(_PAGE_KNL_ERRATUM_MASK)))
        if vs.pt_used[row] != nonempty:
            v.append(f"pid {task.pid}: page-table row {row} has pt_used {vs.pt_used[row]} but {nonempty} entries")
    huge: dict[int, int] = {}
    swapents = 0
    for kind, level, row, idx, addr in walk:
        if kind == WALK_TABLE_DONE:
            continue
        if kind == PTE_KIND_PRESENT and level < levels - 1 and M.pmd_has_deposit(a, vs.pt[row, idx]):
            huge[int(row)] = huge.get(int(row), 0) + 1  # (a file folio's pmd has no deposit)
        if kind != PTE_KIND_PRESENT and _covered(task.vma_table, int(addr)) < 0:
            v.append(f"pid {task.pid}: a swap/migration entry or marker at {addr:#x}, which no VMA covers")
        swapents += kind == PTE_KIND_SWAP
    deposits = 0
    for row in sorted(rows):
        deposited, dep = 0, int(vs.pt_huge_pte[row])
        while dep >= 0 and deposited <= vs.pt.shape[0]:
            deposited += 1
            pfn = int(vs.pt_pfn[dep])
            if pfn < 0 or a.refcount[pfn] <= 0 or a.private[pfn] != dep or vs.pt[dep].any():
                v.append(f"pid {task.pid}: deposited table row {dep} is not an allocated, empty page table")
            dep = int(vs.pt_deposit_next[dep])
        if deposited != huge.get(row, 0):
            v.append(f"pid {task.pid}: PMD table row {row} holds {deposited} deposited tables "
                     f"for {huge.get(row, 0)} huge pmds")
        deposits += deposited
    tables = sum(M.pgtables_counted(levels, lv) for lv in below.values()) + deposits
    if task.mmc[MMC_PGTABLES_BYTES] != tables * PAGE_SIZE:
        v.append(f"pid {task.pid}: pgtables_bytes {task.mmc[MMC_PGTABLES_BYTES]} but it has {tables} page tables "
                 f"({deposits} deposited)")
    if swapents != task.mmc[M.MM_SWAPENTS]:
        v.append(f"pid {task.pid}: MM_SWAPENTS {task.mmc[M.MM_SWAPENTS]} but the tables hold {swapents} swap entries")
    return v


def check_vm(k) -> list[str]:
    """Page tables, rmap and counters of every live process agree with mem_map."""
    from .kernel.fork import build_vma_table
    from .mm import memory as M
    from .mm.pagewalk import WALK_TABLE_DONE
    from .mm.pgtable import (_PAGE_SPECIAL, NS_ANON_MAPPED, PTE_KIND_MIGRATION, PTE_KIND_PRESENT, VP_LEVELS,
                             VP_SWP_FMT, pte_to_swp_entry, pte_val, swp_offset_pfn)

    vs = k.vm_state
    if vs is None:
        return check_page_cache(k, {}, pipe_page_refs(k))
    a = k.mem_map
    v: list[str] = []
    ptes: dict[int, int] = {}
    entire: dict[int, int] = {}
    anon_mapped: set[int] = set()
    anon_refs: dict[int, int] = {}  # anon folio head -> page-table entries mapping it
    entries: dict[int, int] = {}  # pfn -> page-table entries (ptes or PMDs) mapping it
    migrating: dict[int, int] = {}  # pfn -> migration entries standing for it
    file_refs: dict[int, int] = {}  # page-cache folio -> page-table entries mapping it
    file_mapped: set[int] = set()  # page-cache pages some entry maps (NR_FILE_MAPPED)
    for task in k.tasks.values():
        if task.state != TASK_RUNNING:
            continue
        walk = _entries(k, task)
        v += check_tables(k, task, walk)
        rss_anon = rss_shmem = rss_file = 0
        vmas = task.vma_table
        if not np.array_equal(vmas, build_vma_table(task.mm)):  # kept up to date range by range
            v.append(f"pid {task.pid}: the VMA table compiled code reads is not the VMAs' (vma_changed)")
        levels, fmt = int(vs.vp[VP_LEVELS]), int(vs.vp[VP_SWP_FMT])
        tables = [int(task.mmc[M.MMC_PGD])]
        for kind, level, row, idx, vaddr in walk:
            e = int(vs.pt[row, idx])
            if kind == WALK_TABLE_DONE:
                tables.append(int(a.private[(e >> 12) & ((1 << 40) - 1)]))
                continue
            if kind == PTE_KIND_MIGRATION:  # still in the RSS of its folio's kind
                target = int(swp_offset_pfn(pte_to_swp_entry(pte_val(e), fmt)))
                migrating[target] = migrating.get(target, 0) + 1
                head = int(B.compound_head(a, target))
                rss_anon += bool(a.mapping[head] & 1)
                rss_shmem += not a.mapping[head] & 1 and bool(a.flags[head] & PG_swapbacked_mask)
                rss_file += not a.mapping[head] & 1 and not a.flags[head] & PG_swapbacked_mask
            if kind != PTE_KIND_PRESENT or e & _PAGE_SPECIAL:
                continue
            pfn = (e >> 12) & ((1 << 40) - 1)
            nr = 1 << (int(vs.shift[level]) - 12)
            i = _covered(vmas, int(vaddr))
            head = int(B.compound_head(a, pfn))
            index = _page_index(a, head, pfn)
            if i < 0:
                v.append(f"pid {task.pid}: a page-table entry maps {vaddr:#x}, which no VMA covers")
            elif index != ((vaddr - int(vmas[i, M.VMA_START])) >> 12) + int(vmas[i, M.VMA_PGOFF]):
                # rmap finds a page's pte at vma_address(): vm_start + (index - vm_pgoff) pages
                v.append(f"pid {task.pid}: pfn {pfn:#x} mapped at {vaddr:#x} has index {index}, "
                         f"where rmap would look at another address")
            elif not a.mapping[head] & 1:
                v += _check_file_entry(k, task, vmas[i], head, pfn, index, int(vaddr))
            for p in range(pfn, pfn + nr):
                entries[p] = entries.get(p, 0) + 1
            if level < levels - 1:
                entire[head] = entire.get(head, 0) + 1
            else:
                ptes[pfn] = ptes.get(pfn, 0) + 1
            if a.refcount[head] <= 0:
                v.append(f"pid {task.pid}: a page-table entry maps pfn {pfn:#x}, which is free")
            if a.mapping[head] & 1:
                anon_refs[head] = anon_refs.get(head, 0) + 1
                rss_anon += nr
                anon_mapped.update(range(pfn, pfn + nr))
            else:
                if a.flags[head] & PG_swapbacked_mask:
                    rss_shmem += nr
                else:
                    rss_file += nr
                file_refs[head] = file_refs.get(head, 0) + 1
                file_mapped.update(range(pfn, pfn + nr))
        if rss_anon != task.mmc[M.MM_ANONPAGES]:
            v.append(f"pid {task.pid}: MM_ANONPAGES {task.mmc[M.MM_ANONPAGES]} but the page tables map {rss_anon}")
        if rss_shmem != task.mmc[M.MM_SHMEMPAGES]:
            v.append(f"pid {task.pid}: MM_SHMEMPAGES {task.mmc[M.MM_SHMEMPAGES]} but the tables map {rss_shmem}")
        if rss_file != task.mmc[M.MM_FILEPAGES]:
            v.append(f"pid {task.pid}: MM_FILEPAGES {task.mmc[M.MM_FILEPAGES]} but the tables map {rss_file}")
        for row in tables:
            pfn = int(vs.pt_pfn[row])
            if pfn < 0 or a.refcount[pfn] <= 0 or a.private[pfn] != row:
                v.append(f"pid {task.pid}: page-table row {row} is not backed by an allocated page")
    for pfn, n in ptes.items():
        if a.mapcount[pfn] != n:
            v.append(f"pfn {pfn:#x}: mapcount {a.mapcount[pfn]} but {n} ptes map it")
    for head, n in entire.items():
        if a.entire_mapcount[head] != n:
            v.append(f"folio {head:#x}: entire mapcount {a.entire_mapcount[head]} but {n} PMDs map it")
    held = pipe_page_refs(k)
    for head, n in anon_refs.items():
        want = folio_expected_refs(a, head, n, cached=False, held=held.get(head, 0))
        if a.refcount[head] != want:
            v.append(f"anon folio {head:#x}: refcount {a.refcount[head]} but {n} page-table entries map it"
                     + _other_refs(a, head, want - n))
    recorded = int(vs.nstat[:, NS_ANON_MAPPED].sum())
    if recorded != len(anon_mapped):
        v.append(f"NR_ANON_MAPPED {recorded} but {len(anon_mapped)} anonymous pages are mapped")
    v += check_file_mapped(k, file_mapped, entire)
    return (v + check_page_cache(k, file_refs, held) + check_rmap_walk(k, entries, False)
            + check_rmap_walk(k, migrating, True))


def _page_index(a, head: int, pfn: int) -> int:
    """``page_pgoff``: a page's offset in its mapping, from its folio's (tails keep none)."""
    return int(a.index[head]) + pfn - head


def _check_file_entry(k, task, vma_row, head: int, pfn: int, index: int, vaddr: int) -> list[str]:
    """A page-cache page mapped in a VMA is its file's, cached at its index there."""
    from .lib.xarray import xa_load
    from .mm import memory as M

    if vma_row[M.VMA_XA] < 0 or int(k.mem_map.mapping[head]) >> 1 != int(vma_row[M.VMA_FILE]):
        return [f"pid {task.pid}: a page-cache page (pfn {pfn:#x}) is mapped at {vaddr:#x}, in a VMA that does "
                "not map its file"]
    if int(xa_load(k.page_cache, int(vma_row[M.VMA_XA]), index)) >> 1 != head:
        return [f"pid {task.pid}: pfn {pfn:#x} mapped at {vaddr:#x} is not the folio the page cache holds at "
                f"index {index}"]
    return []


def check_file_mapped(k, file_mapped: set[int], entire: dict[int, int]) -> list[str]:
    """NR_FILE_MAPPED counts the page-cache pages mapped at least once; NR_FILE_PMDMAPPED and
    NR_SHMEM_PMDMAPPED the pages of folios mapped by a PMD."""
    from .mm.pgtable import NS_FILE_MAPPED, NS_FILE_PMDMAPPED, NS_SHMEM_PMDMAPPED

    a, vs, v = k.mem_map, k.vm_state, []
    if int(vs.nstat[:, NS_FILE_MAPPED].sum()) != len(file_mapped):
        v.append(f"NR_FILE_MAPPED {int(vs.nstat[:, NS_FILE_MAPPED].sum())} but {len(file_mapped)} page-cache pages "
                 "are mapped")
    for item, swapbacked in ((NS_FILE_PMDMAPPED, False), (NS_SHMEM_PMDMAPPED, True)):
        pages = sum(1 << int(a.order[h]) for h in entire
                    if not a.mapping[h] & 1 and bool(a.flags[h] & PG_swapbacked_mask) == swapbacked)
        if int(vs.nstat[:, item].sum()) != pages:
            v.append(f"NR_{'SHMEM' if swapbacked else 'FILE'}_PMDMAPPED {int(vs.nstat[:, item].sum())} but {pages} "
                     "pages are PMD-mapped")
    return v


def check_page_cache(k, file_refs: dict[int, int], held: dict[int, int]) -> list[str]:
    """Every page-cache slot of every live mapping holds a folio whose ``page->mapping`` and
    ``page->index`` point back at that mapping and at the folio's first slot, and a folio
    fills exactly its ``nr_pages`` slots; each cached folio holds the cache's references (one
    per page) plus one per page-table entry; every mapped file folio is cached; every
    allocated page that names a file is in a live page cache; NR_FILE_PAGES, NR_SHMEM,
    NR_FILE_THPS, NR_SHMEM_THPS, NR_FILE_DIRTY, NR_WRITEBACK (the swap cache's folios being
    written too) and NR_ZONE_WRITE_PENDING equal recounts."""
    from .include.linux.page_flags import PG_dirty, PG_writeback
    from .lib.xarray import xa_gather
    from .include.linux.huge_mm import HPAGE_PMD_ORDER
    from .mm.rmap import page_mapping
    from .include.linux.vmstat import NODE_STAT_ITEM, NR_ZONE_WRITE_PENDING

    a, v = k.mem_map, []
    io_in_flight = any(bdev.bd_queue.in_flight for bdev in k.block_devices.values())  # a read may hold a lock
    cached: set[int] = set()
    count = dict.fromkeys(("NR_FILE_PAGES", "NR_SHMEM", "NR_FILE_THPS", "NR_SHMEM_THPS", "NR_FILE_DIRTY",
                           "NR_WRITEBACK"), 0)
    for mapping in k.rmap.address_spaces.values():
        if mapping.xa_id < 0:
            continue  # a shmem object of a bare mm (no page cache)
        xa = k.page_cache
        n = int(xa.xa_nr_folio_slots[mapping.xa_id] + xa.xa_nr_values[mapping.xa_id])
        idx, ent = np.zeros(n, np.int64), np.zeros(n, np.int64)
        got = xa_gather(xa, mapping.xa_id, 0, (1 << 62), idx, ent)
        if got != n:
            v.append(f"file {mapping.id}: {got} entries found, the xarray counts {n}")
        slots: dict[int, list[int]] = {}
        for index, entry in zip(idx[:got].tolist(), ent[:got].tolist()):
            if not entry & 1:
                slots.setdefault(entry >> 1, []).append(index)
            else:
                v += _check_file_shadow(k, mapping, index, entry)
        for head, where_idx in slots.items():
            v += _check_cached_folio(a, mapping, head, where_idx, file_refs.get(head, 0), page_mapping(mapping),
                                     io_in_flight, held.get(head, 0))
            nr = 1 << int(a.order[head])
            cached.add(head)
            count["NR_FILE_PAGES"] += nr
            count["NR_SHMEM"] += nr if mapping.swapbacked else 0
            if a.order[head] == HPAGE_PMD_ORDER:
                count["NR_SHMEM_THPS" if mapping.swapbacked else "NR_FILE_THPS"] += nr
            count["NR_FILE_DIRTY"] += nr if a.flags[head] >> PG_dirty & 1 and not mapping.swapbacked else 0
            count["NR_WRITEBACK"] += nr if a.flags[head] >> PG_writeback & 1 else 0
    for head in np.flatnonzero((a.flags & PG_swapcache_mask != 0) & (a.flags >> PG_writeback & 1 == 1)).tolist():
        count["NR_WRITEBACK"] += 0 if head in cached else 1 << int(a.order[head])  # a swap write in flight
    for pfn in file_refs.keys() - cached:
        v.append(f"pfn {pfn:#x}: mapped as a file page but in no page cache")
    named = np.flatnonzero((a.mapping != 0) & ((a.mapping & 1) == 0) & (a.refcount > 0))
    for pfn in sorted(set(named.tolist()) - cached):
        v.append(f"pfn {pfn:#x}: an orphaned cache page: page->mapping names file {a.mapping[pfn] >> 1}, "
                 "and no live page cache holds it")
    for item, want in count.items():
        got = sum(k.NODE_DATA(n).vm_stat.row[NODE_STAT_ITEM[item]] for n in k.node_ids)
        if got != want:
            v.append(f"{item} {got} but the page caches (and the swap cache's writes) hold {want}")
    pending = int(a.vm_stat[:, NR_ZONE_WRITE_PENDING].sum())
    if pending != count["NR_FILE_DIRTY"] + count["NR_WRITEBACK"]:
        v.append(f"NR_ZONE_WRITE_PENDING {pending} but {count['NR_FILE_DIRTY']} dirty and "
                 f"{count['NR_WRITEBACK']} writeback pages are cached or being swapped out")
    return v  # (NR_FILE_MAPPED: check_file_mapped, page by page)


def _shmem_swap_refs(k, refs: np.ndarray) -> list[str]:
    """Count in ``refs`` (per swap pool slot) the swap entries tmpfs page caches hold, each
    of which must name a slot of an active swap area; a large (multi-index) one spans a
    power of two of pages, aligned in the file and in its area as ``folio_alloc_swap`` gives
    a run."""
    from .mm.pgtable import SWP_OFFSET_MASK, SWP_TYPE_SHIFT
    from .mm.shmem import shmem_swap_entries, shmem_swap_runs, shmem_swapped

    v, vs, areas = [], k.vm_state, k.swap.swap_info
    for mapping in k.rmap.address_spaces.values():
        if not mapping.swapbacked or mapping.xa_id < 0:
            continue
        if shmem_swapped(k, mapping):
            index, entry, nr = shmem_swap_runs(k, mapping, 0, 1 << 62)
            bad = (nr & (nr - 1)) | (index & (nr - 1)) | (entry & SWP_OFFSET_MASK & (nr - 1))
            v += [f"file {mapping.id} index {index[i]}: a swap entry of {nr[i]} pages not aligned to its size"
                  for i in np.flatnonzero(bad)[:3]]
        for index, entry in shmem_swap_entries(k, mapping, 0, (1 << 62)):
            type_, offset = entry >> SWP_TYPE_SHIFT, entry & SWP_OFFSET_MASK
            if type_ >= len(areas) or areas[type_] is None or not 0 < offset < areas[type_].max:
                v.append(f"file {mapping.id} index {index}: swap entry {entry:#x} names no slot of a swap area")
            else:
                refs[vs.swap_base[type_] + offset] += 1
    return v


def _check_file_shadow(k, mapping, index: int, entry: int) -> list[str]:
    """A value entry of a file's cache is the shadow of a folio reclaim evicted; in a tmpfs
    file's, the swap entry of a page in swap (``check_swap`` counts them)."""
    if mapping.swapbacked:
        return []
    return _check_shadow(k, f"file {mapping.id} index {index}: shadow entry {entry:#x}", entry)


def _check_ci_count(k, si) -> list[str]:
    """Each cluster's count of slots in use (the header and the slots past the end count)
    matches the swap map."""
    from .include.linux.swap import SWAPFILE_CLUSTER
    from .mm.swapfile import ci_count_of, swap_map_of

    live = ci_count_of(k, si)
    used = np.ones(live.shape[0] * SWAPFILE_CLUSTER, bool)
    used[:si.max] = swap_map_of(k, si) != 0
    counts = used.reshape(live.shape[0], SWAPFILE_CLUSTER).sum(1)
    return [f"{si.swap_file} cluster {c}: count {live[c]} but {counts[c]} slots in use"
            for c in np.flatnonzero(counts != live)[:MAX_REPORTED]]


def _check_cluster_lists(k, si) -> list[str]:
    """Each cluster list is well linked (each cluster's previous is the one before it, the
    head's last the final one) and each cluster on it carries that list's flag, one on a
    nonfull or frag list the list's order; every cluster with a flag is on one list; a
    large folio in the swap cache holds a naturally aligned run of slots in one cluster
    serving its order (``folio_alloc_swap``)."""
    from .include.linux.swap import (CI_FLAGS, CI_NEXT, CI_ORDER, CI_PREV, CLUSTER_FLAG_NONE, LIST_FIRST,
                                     LIST_LAST, NR_CLUSTER_LISTS, SWAPFILE_CLUSTER)
    from .mm.pgtable import SWP_OFFSET_MASK
    from .mm.swapfile import cluster_list

    v = []
    ci, lists = si.cluster_info, si.cluster_lists
    listed = 0
    for lst in range(NR_CLUSTER_LISTS):
        prev, c = -1, int(lists[lst, LIST_FIRST])
        while c >= 0 and listed <= ci.shape[0]:
            listed += 1
            if cluster_list(ci[c, CI_FLAGS], ci[c, CI_ORDER]) != lst:
                v.append(f"{si.swap_file} cluster {c}: on the list of flag/order {lst} but has flag "
                         f"{si.ci_flags[c]} order {si.ci_order[c]}")
            if ci[c, CI_PREV] != prev:
                v.append(f"{si.swap_file} cluster {c}: links back to {ci[c, CI_PREV]}, not {prev}")
            prev, c = c, int(ci[c, CI_NEXT])
        if lists[lst, LIST_LAST] != prev:
            v.append(f"{si.swap_file} cluster list {lst}: ends at {prev}, its head says {lists[lst, LIST_LAST]}")
    flagged = int((si.ci_flags != CLUSTER_FLAG_NONE).sum())
    if listed != flagged:
        v.append(f"{si.swap_file}: {listed} clusters on the lists, {flagged} with a list's flag")
    a, table = k.mem_map, k.vm_state.swap_table[si.base:si.base + si.max]
    folio_slots = np.flatnonzero((table != 0) & (table & 1 == 0))
    heads = table[folio_slots] >> 1
    large = (a.flags[heads] & PG_head_mask) != 0
    for off, head in zip(folio_slots[large].tolist(), heads[large].tolist()):
        nr, order = 1 << int(a.order[head]), int(a.order[head])
        first = int(a.private[head]) & SWP_OFFSET_MASK
        if off == first and (first % nr or si.ci_order[first // SWAPFILE_CLUSTER] != order):
            v.append(f"{si.swap_file} slot {first}: folio {head:#x} of order {order} in a run that is not "
                     f"aligned or in a cluster of order {si.ci_order[first // SWAPFILE_CLUSTER]}")
    return v[:MAX_REPORTED]


def _check_swap_globals(k) -> list[str]:
    """The arrays compiled allocation keeps (``swap_globals``): the active priority list holds
    every area once, highest priority first, and the avail list only writable areas of it,
    in the same order; each area's ``inuse_pages`` is what its clusters' counts add up to;
    zram holds at least the pages its compressed slots need, each counted in NR_ZSPAGES;
    each CPU's cluster of an order names an active area and an offset inside it (0: none
    left), or no area."""
    from .include.linux.swap import (PCP_SWAP_OFFSET, PCP_SWAP_TYPE, PLIST_ACTIVE, PLIST_AVAIL, SI_ZS_PAGES,
                                     SWAPFILE_CLUSTER, SWP_WRITEOK)
    from .include.linux.vmstat import NR_ZSPAGES
    from .mm.page_io import zram_pages_needed

    g, vs, v = k.swap, k.vm_state, []
    active = g.plists[PLIST_ACTIVE][:int(np.argmax(g.plists[PLIST_ACTIVE] < 0))].tolist()
    avail = g.plists[PLIST_AVAIL][:int(np.argmax(g.plists[PLIST_AVAIL] < 0))].tolist()
    areas = [t for t, si in enumerate(g.swap_info) if si is not None]
    if sorted(active) != areas:
        v.append(f"swap_active_head holds areas {active}, swap_info {areas}")
    if [t for t in active if t in avail] != avail or any(not g.swap_info[t].flags & SWP_WRITEOK for t in avail):
        v.append(f"swap_avail_head {avail} is not the writable areas of swap_active_head {active} in its order")
    for head, name in ((active, "active"), (avail, "avail")):
        prios = [g.swap_info[t].prio for t in head if t in areas]
        if prios != sorted(prios, reverse=True):
            v.append(f"swap_{name}_head is not in priority order: {prios}")
    zspages = 0
    for t in areas:
        si = g.swap_info[t]
        padding = si.cluster_info.shape[0] * SWAPFILE_CLUSTER - si.max
        if si.inuse_pages != int(si.ci_count.sum()) - 1 - padding:
            v.append(f"{si.swap_file}: inuse_pages {si.inuse_pages} but its clusters count "
                     f"{int(si.ci_count.sum()) - 1 - padding}")
        zspages += int(si.row[SI_ZS_PAGES])
        if si.bdev is None and si.row[SI_ZS_PAGES] < zram_pages_needed(vs, t, si.zs_nr):
            v.append(f"{si.swap_file}: zsmalloc holds {si.row[SI_ZS_PAGES]} pages for {si.zs_nr} compressed slots")
    if zspages != int(k.mem_map.vm_stat[:, NR_ZSPAGES].sum()):
        v.append(f"NR_ZSPAGES is {int(k.mem_map.vm_stat[:, NR_ZSPAGES].sum())} but zram holds {zspages} pages")
    for cpu, order in zip(*np.nonzero((g.percpu_swap_cluster[:, :, PCP_SWAP_TYPE] >= 0)
                                       | (g.percpu_swap_cluster[:, :, PCP_SWAP_OFFSET] != 0))):
        t, off = (int(x) for x in g.percpu_swap_cluster[cpu, order])
        if t not in areas or not 0 <= off < g.swap_info[t].max:
            v.append(f"cpu {cpu}: percpu_swap_cluster of order {order} names area {t} offset {off}")
    return v[:MAX_REPORTED]


def _check_shadow(k, where: str, entry: int) -> list[str]:
    """A shadow entry (``workingset_eviction``) names a node with memory, memcg 0, and an
    eviction time the node's ``nonresident_age`` has reached; or, evicted by MGLRU, a memcg id
    and a token whose seq that lruvec's max_seq has reached."""
    from .mm.workingset import EVICTION_MASK, unpack_shadow

    memcg, nid, eviction, _ = unpack_shadow(entry)
    if nid not in k.node_ids or not 0 <= memcg < MEMCG_NR_IDS:
        return [f"{where} names node {nid}, memcg {memcg}"]
    age = int(k.mem_map.nonresident_age[nid]) & EVICTION_MASK
    max_seq = int(k.mem_map.lrugen_max_seq[memcg or ROOT_MEM_CGROUP_ID, nid])
    if (memcg or eviction > age) and eviction >> LRU_REFS_WIDTH > max_seq:
        return [f"{where} evicted at {eviction}, after node {nid}'s nonresident_age {age} and MGLRU's max_seq {max_seq}"]
    return []


def _check_cached_folio(a, mapping, head: int, slots: list[int], mapped: int, want_mapping: int,
                        io_in_flight: bool, held: int) -> list[str]:
    from .include.linux.page_flags import PG_locked

    nr, first = 1 << int(a.order[head]), int(a.index[head])
    where = f"file {mapping.id} folio {head:#x} (order {a.order[head]})"
    v = []
    if a.mapping[head] != want_mapping:
        v.append(f"{where}: page->mapping says file {a.mapping[head] >> 1}")
    if slots != list(range(first, first + nr)) or first % nr:
        v.append(f"{where}: in slots {slots[:4]}... ({len(slots)}), but page->index {first} and {nr} pages")
    if a.flags[head] >> PG_locked & 1 and not io_in_flight:
        v.append(f"{where}: left locked (PG_locked) with no I/O in flight")
    want = folio_expected_refs(a, head, mapped, cached=True, held=held)
    if a.refcount[head] != want:
        v.append(f"{where}: refcount {a.refcount[head]} but the cache and {mapped} page-table entries hold it"
                 + _other_refs(a, head, want - mapped - nr))
    return v


# ---- reverse map: anon_vma trees, i_mmap, rmap_walk -------------------------------------------

def _live_vmas(k) -> list:
    return [vma for task in k.tasks.values() if task.state == TASK_RUNNING for vma in task.mm.vmas]


def check_anon_vmas(k) -> list[str]:
    """Every live VMA is in the tree of each anon_vma of its chain (its own first among
    them, all under one root), and the trees hold live VMAs only; ``num_active_vmas``,
    ``num_children`` and ``refcount`` of every anon_vma equal recounts; none outlives them."""
    reg, v = k.rmap, []
    vmas = _live_vmas(k)
    live = {id(vma) for vma in vmas}
    active: dict[int, int] = {}
    for vma in vmas:
        where = f"VMA {vma.vm_start:#x}-{vma.vm_end:#x}"
        chain = vma.anon_vma_chain
        if vma.anon_vma is None and chain:
            v.append(f"{where}: linked to {len(chain)} anon_vmas but has none")
        if vma.anon_vma is not None:
            active[vma.anon_vma.id] = active.get(vma.anon_vma.id, 0) + 1
            if all(av is not vma.anon_vma for av in chain):
                v.append(f"{where}: its anon_vma {vma.anon_vma.id} is not in its anon_vma_chain")
        for av in chain:
            if reg.anon_vmas.get(av.id) is not av:
                v.append(f"{where}: linked to anon_vma {av.id}, which is freed")
            if all(x is not vma for x in av.rb_root):
                v.append(f"{where}: in its chain, anon_vma {av.id} does not have it in its tree")
            if av.root is not chain[0].root:
                v.append(f"{where}: its anon_vmas have different roots ({av.root.id}, {chain[0].root.id})")
    for av in reg.anon_vmas.values():
        v += _check_anon_vma(reg, av, live, active.get(av.id, 0))
    return v


def _check_anon_vma(reg, av, live: set[int], active: int) -> list[str]:
    v, where = [], f"anon_vma {av.id}"
    if any(id(vma) not in live for vma in av.rb_root):
        v.append(f"{where}: its tree holds a VMA that is gone")
    if av.num_active_vmas != active:
        v.append(f"{where}: num_active_vmas {av.num_active_vmas} but {active} VMAs use it")
    children = sum(b.parent is av and b is not av for b in reg.anon_vmas.values())
    children += av.parent is av and bool(av.rb_root)  # a root's link to itself, while it has VMAs
    if av.num_children != children:
        v.append(f"{where}: num_children {av.num_children}, recount {children}")
    refs = bool(av.rb_root) + (sum(b.root is av and b is not av for b in reg.anon_vmas.values())
                                if av.root is av else 0)
    if av.refcount != refs or refs == 0:
        v.append(f"{where}: refcount {av.refcount} but {refs} references (its tree, its descendants)")
    if reg.anon_vmas.get(av.parent.id) is not av.parent or av.root is not av.parent.root:
        v.append(f"{where}: parent {av.parent.id} is freed or under another root")
    return v


def check_files(k) -> list[str]:
    """Each open file's ``f_count`` is the descriptors and live VMAs holding it, each inode's
    ``i_count`` its open files (plus a mount's hold on its root), ``i_mmap`` the live VMAs
    mapping it; a file's inode is live (on its superblock, its page cache registered); an
    unlinked inode nobody holds is gone (its pages with it)."""
    v = []
    users: dict[int, list] = {}
    refs: dict[int, int] = {}  # id(file) -> descriptors + VMAs
    files: dict[int, object] = {}
    for vma in _live_vmas(k):
        f = vma.vm_file
        if f is not None:
            users.setdefault(f.id, []).append(vma)
            refs[id(f)], files[id(f)] = refs.get(id(f), 0) + 1, f
            if k.rmap.address_spaces.get(f.id) is not f.f_mapping:
                v.append(f"VMA {vma.vm_start:#x}-{vma.vm_end:#x}: its file {f.id} is freed")
    for task in k.tasks.values():
        if task.state == TASK_RUNNING:
            for f in task.files.fdt.values():
                refs[id(f)], files[id(f)] = refs.get(id(f), 0) + 1, f
    opens: dict[int, int] = {}
    for key, f in files.items():
        if f.f_count != refs[key]:
            v.append(f"file {f.name!r}: f_count {f.f_count} but {refs[key]} descriptors and VMAs hold it")
        opens[f.id] = opens.get(f.id, 0) + 1
        if f.f_inode.i_sb.s_inodes.get(f.id) is not f.f_inode:
            v.append(f"file {f.name!r}: its inode {f.id} is evicted")
    for sb in [*k.mounts.values(), k.shm_mnt, k.pipe_mnt]:
        for ino in sb.s_inodes.values():
            held = opens.get(ino.i_ino, 0) + (sb.s_dentries.get("") is ino)
            if ino.i_count != held:
                v.append(f"inode {ino.i_ino} {ino.name!r}: i_count {ino.i_count} but {held} files hold it")
            if ino.i_nlink == 0 and ino.i_count == 0:
                v.append(f"inode {ino.i_ino} {ino.name!r}: unlinked and unused, but not evicted")
    reg = k.rmap
    for ino, mapping in reg.address_spaces.items():
        mine = users.get(ino, [])
        if sorted(map(id, mapping.i_mmap)) != sorted(map(id, mine)):
            v.append(f"file {ino}: i_mmap holds {len(mapping.i_mmap)} VMAs, {len(mine)} map it")
        if reg.ino_xa_seq == reg.seq and (ino >= len(reg.ino_xa) or reg.ino_xa[ino] != mapping.xa_id):
            v.append(f"file {ino}: reclaim's ino_xa table is stale (xarray {mapping.xa_id})")
    if reg.ino_xa_seq == reg.seq and np.count_nonzero(reg.ino_xa != -1) > len(reg.address_spaces):
        v.append("reclaim's ino_xa table holds an address_space that is gone")
    return v


def check_rmap_walk(k, entries: dict[int, int], migration: bool) -> list[str]:
    """``rmap_walk`` from each mapped page finds as many entries as map it (with
    ``migration``: from each page under migration, as many migration entries as stand for it)."""
    from .mm.rmap import rmap_count, rmap_table

    if not entries:
        return []
    reg = rmap_table(k.rmap)
    pfns = np.fromiter(entries, np.int64, len(entries))
    counts = np.zeros(len(pfns), np.int64)
    rmap_count(k.mem_map, k.vm_state, reg.keys, reg.off, reg.rows, pfns, migration, counts)
    want = np.fromiter(entries.values(), np.int64, len(entries))
    what = "migration entries" if migration else "page-table entries"
    return [f"pfn {pfn:#x}: rmap_walk finds {n} {what} but {w} {'stand for' if migration else 'map'} it"
            for pfn, n, w in zip(pfns[counts != want].tolist(), counts[counts != want].tolist(),
                                 want[counts != want].tolist())]


def check_tlb(k) -> list[str]:
    """No TLB entry translates what the page tables do not: every cached translation of a
    live mm maps the frame its page tables map now, and no entry outlives its mm; the
    counts of valid entries the lookups and flushes rely on (``nhuge``, ``nvalid``) hold."""
    from .arch.x86.mm.tlb import E_TAG, STRUCT_NAMES, TP_GIANT_SHIFT, TP_HUGE_SHIFT, TP_NCPU, asid_of, mapped_frame

    t, vs = k.tlb, k.vm_state
    if t is None or vs is None:
        return []
    a = k.mem_map
    live = {asid_of(task): task for task in k.tasks.values() if task.state == TASK_RUNNING}
    v: list[str] = []
    sizes = (1 << int(t.params[TP_HUGE_SHIFT]), 1 << int(t.params[TP_GIANT_SHIFT]))
    for cpu in range(int(t.params[TP_NCPU])):
        huge = [0, 0]
        for s in STRUCT_NAMES:
            if s.startswith("pwc"):
                continue
            for e in t.entries(s, cpu):
                if e["size"] in sizes:
                    huge[sizes.index(e["size"])] += 1
                task = live.get(e["asid"])
                where = f"cpu {cpu} {s} entry {e['vaddr']:#x}"
                if task is None:
                    v.append(f"{where}: its mm (asid {e['asid']}) is gone but the entry remains")
                    continue
                frame = int(mapped_frame(a, vs, e["asid"], e["vaddr"]))
                if frame != e["pfn"]:
                    v.append(f"{where} of pid {task.pid}: caches pfn {e['pfn']:#x} but the page tables map "
                             f"{'nothing' if frame < 0 else hex(frame)}")
        if huge != [int(n) for n in t.nhuge[cpu]]:
            v.append(f"cpu {cpu}: {huge} huge/giant TLB entries but the lookup counts {t.nhuge[cpu].tolist()}")
        valid = int((t.ent[cpu, E_TAG] >= 0).sum())
        if valid != t.nvalid[cpu]:
            v.append(f"cpu {cpu}: {valid} valid TLB and paging-structure-cache entries but the flushes count "
                     f"{int(t.nvalid[cpu])}")
    return v


# ---- swap: swap_map counts, the swap cache, SwapFree -------------------------------------------


def check_swap(k) -> list[str]:
    """Each slot's ``swap_map`` count is the number of swap ptes naming it plus the tmpfs
    page-cache slots holding its swap entry (``swap_shmem_alloc``), and SWAP_HAS_CACHE
    is set exactly where the swap table holds a folio, which is in the swap cache for that
    slot; a shadow entry only stands where a folio was evicted from a slot still in use (a
    swap pte holds it, no folio caches it) and is a valid shadow; every swap pte names a slot
    of an active area; SwapFree (``nr_swap_pages``) counts the free slots of the areas taking
    allocations; NR_SWAPCACHE counts the cached folios."""
    from .include.linux.swap import SWAP_COUNT_MASK, SWAP_HAS_CACHE, SWP_WRITEOK
    from .mm import memory as M
    from .mm.pgtable import NS_SWAPCACHE, SWP_OFFSET_MASK, swp_entry
    from .mm.swapfile import get_nr_swap_pages, swap_pte_refs

    vs, a = k.vm_state, k.mem_map
    if vs is None:
        return []
    v: list[str] = []
    refs = np.zeros(vs.swap_map.shape[0], np.int64)
    for task in k.tasks.values():
        if task.state == TASK_RUNNING:
            bad = swap_pte_refs(a, vs, int(task.mmc[M.MMC_PGD]), refs)
            if bad:
                v.append(f"pid {task.pid}: {bad} swap ptes name a slot of no swap area")
    v += _shmem_swap_refs(k, refs) + _check_swap_globals(k)
    free = 0
    for si in k.swap.swap_active_head:
        sl = slice(si.base + 1, si.base + si.max)
        counts = vs.swap_map[sl] & SWAP_COUNT_MASK
        for off in np.flatnonzero(counts != refs[sl])[:MAX_REPORTED]:
            v.append(f"{si.swap_file} slot {off + 1}: swap_map count {counts[off]} but {refs[sl][off]} swap ptes "
                     "and shmem swap entries")
        cached = (vs.swap_map[sl] & SWAP_HAS_CACHE) != 0
        table = vs.swap_table[sl]
        folio, shadow = (table != 0) & (table & 1 == 0), (table & 1) == 1
        for off in np.flatnonzero(cached != folio)[:MAX_REPORTED]:
            v.append(f"{si.swap_file} slot {off + 1}: SWAP_HAS_CACHE {int(cached[off])} but swap table "
                     f"holds {table[off]:#x}")
        for off in np.flatnonzero(folio):
            pfn = int(table[off]) >> 1
            page = pfn + off + 1 - (int(a.private[pfn]) & SWP_OFFSET_MASK)  # a large folio holds a run of slots
            if (not a.flags[pfn] & PG_swapcache_mask or not pfn <= page < pfn + (1 << int(a.order[pfn]))
                    or a.private[page] != int(swp_entry(si.type, off + 1))):
                v.append(f"{si.swap_file} slot {off + 1}: folio {pfn:#x} is not in the swap cache for it")
        for off in np.flatnonzero(shadow & (counts == 0))[:MAX_REPORTED]:
            v.append(f"{si.swap_file} slot {off + 1}: shadow entry {table[off]:#x} but no swap pte holds the slot")
        for off in np.flatnonzero(shadow)[:MAX_REPORTED]:
            v += _check_shadow(k, f"{si.swap_file} slot {off + 1}: shadow entry {table[off]:#x}", int(table[off]))
        if si.flags & SWP_WRITEOK:
            free += int(np.count_nonzero(vs.swap_map[sl] == 0))
        v += _check_ci_count(k, si)
        v += _check_cluster_lists(k, si)
        if si.bdev is None and si.zs_nr != int(np.count_nonzero(si.zs_stored)):
            v.append(f"{si.swap_file}: zram counts {si.zs_nr} compressed slots but holds {np.count_nonzero(si.zs_stored)}")
    if free != get_nr_swap_pages(k):
        v.append(f"SwapFree counts {get_nr_swap_pages(k)} slots but {free} are free")
    swapcache = int(np.count_nonzero((vs.swap_table != 0) & (vs.swap_table & 1 == 0)))
    if swapcache != int(vs.nstat[:, NS_SWAPCACHE].sum()):
        v.append(f"NR_SWAPCACHE is {int(vs.nstat[:, NS_SWAPCACHE].sum())} but {swapcache} folios are in the swap cache")
    return v
