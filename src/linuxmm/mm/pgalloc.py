"""Allocating page tables for the compiled fault path (``include/asm-generic/pgalloc.h``,
``mm/memory.c: __pte_alloc``), Linux 6.18.

``vm_state_init`` builds the machine's ``VmState``: the pool of table rows whose pages come
from the buddy allocator, the zero page, and the allocation contexts the compiled fault path
allocates with (``pte_alloc_one``'s GFP_PGTABLE_USER, ``vma_alloc_folio``'s user and THP
masks). ``grow_table_pool`` doubles the pool between batches.
"""

import numpy as np

from ..include.linux import gfp as G
from . import buddy as B
from . import page_alloc as pa
from .pgtable import (FAULT_AROUND_BYTES_DEFAULT, VP_FAULT_AROUND_PAGES, AC_COMP, AC_FAST, AC_GFP, AC_HIGHEST, AC_MT, AC_NAMES, AC_NID, AC_ORDER, AC_PGTABLE, AC_SLOW, AC_SWAPIN, AC_THP,
                      AC_USER, NO_PAGE, NR_AC, NR_VP, THP_NEVER, VMSTATE_FIELDS, VP_ENTRY_BYTES,
                      VP_HUGE_ZERO_PFN, VP_LEVELS, VP_NFREE, VP_PMD_LEVEL, VP_PTRS, VP_SLOW_PFN, VP_SWP_FMT,
                      VP_SOFT_DIRTY, VP_THP, VP_ZERO_PFN, VmState, _PAGE_SOFT_DIRTY, swp_format, thp_mode)
from .pgtable import MAX_SWAPFILES
from ..include.linux.swap import NR_CI

INITIAL_TABLES = 1024


def vm_state_init(k) -> VmState:
    """Table pool, zero page and allocation contexts for the fault path (``paging_init`` onwards)."""
    geo = k.pgtable_geometry
    levels = len(geo.levels)
    vp = np.zeros(NR_VP, np.int64)
    vp[VP_LEVELS] = levels
    vp[VP_PTRS] = geo.ptrs
    vp[VP_PMD_LEVEL] = geo.level_of("pmd") if "pmd" in [n for n, _, _ in geo.levels] else levels - 1
    vm_state_thp(k, vp)
    vp[VP_HUGE_ZERO_PFN] = -1
    vp[VP_SLOW_PFN] = NO_PAGE
    vp[VP_ENTRY_BYTES] = geo.entry_bytes
    vp[VP_SWP_FMT] = swp_format(k.arch, geo)
    vp[VP_SOFT_DIRTY] = _PAGE_SOFT_DIRTY if k.config.mem_soft_dirty else 0
    vp[VP_FAULT_AROUND_PAGES] = FAULT_AROUND_BYTES_DEFAULT >> k.arch.page_shift
    vp[VP_ZERO_PFN] = pa.alloc_pages(k, G.GFP_KERNEL | G.__GFP_ZERO, 0)  # empty_zero_page
    ac = np.zeros((len(AC_NAMES), NR_AC), np.int64)
    # vma_alloc_zeroed_movable_folio, pte_alloc_one (GFP_PGTABLE_USER), vma_alloc_folio(PMD order),
    # alloc_swap_folio (GFP_HIGHUSER_MOVABLE)
    for row, gfp, order in ((AC_USER, G.GFP_HIGHUSER_MOVABLE | G.__GFP_COMP | G.__GFP_ZERO, 0),
                            (AC_PGTABLE, G.GFP_KERNEL_ACCOUNT | G.__GFP_ZERO, 0),
                            (AC_THP, G.GFP_TRANSHUGE, geo.levels[vp[VP_PMD_LEVEL]][1] - 12),
                            (AC_SWAPIN, G.GFP_HIGHUSER_MOVABLE, 0)):
        set_alloc_context(k, ac, row, gfp, order, k.node_ids[0])
    arrays = dict(pt=np.zeros((INITIAL_TABLES, geo.ptrs), np.uint64), pt_pfn=np.full(INITIAL_TABLES, -1, np.int64),
                  pt_used=np.zeros(INITIAL_TABLES, np.int64), pt_huge_pte=np.full(INITIAL_TABLES, -1, np.int64),
                  pt_deposit_next=np.full(INITIAL_TABLES, -1, np.int64),
                  pt_free=np.arange(INITIAL_TABLES - 1, -1, -1, dtype=np.int64),
                  shift=np.array([s for _, s, _ in geo.levels], np.int64),
                  nent=np.array([n for _, _, n in geo.levels], np.int64), vp=vp, ac=ac,
                  zonelists=pa._zonelist(k, k.node_ids[0]), vm_events=k.vm_events,
                  memcg_vm_events=k.mem_map.memcg_vm_events, nstat=k.mem_map.node_stat, swap_map=np.zeros(0, np.int16), swap_table=np.zeros(0, np.int64),
                  swap_cgroup=np.zeros(0, np.int32),
                  swap_base=np.full(MAX_SWAPFILES, -1, np.int64),
                  swap_content=np.zeros((0, B.CONTENT_LINES), np.uint8), swap_content_valid=np.zeros(0, np.uint8),
                  swap_sync_io=np.zeros(MAX_SWAPFILES, np.int8), swap_ci_count=np.zeros(0, np.int32),
                  swap_cluster_info=np.zeros((0, NR_CI), np.int64), swap_zs_stored=np.zeros(0, np.uint8),
                  swap_zs_pages=np.zeros(0, np.int64), swap_si=k.swap.si, swap_cluster_lists=k.swap.cluster_lists,
                  swap_zs_ratio=k.swap.zs_ratio, swap_plists=k.swap.plists,
                  percpu_swap_cluster=k.swap.percpu_swap_cluster)
    vp[VP_NFREE] = INITIAL_TABLES
    return VmState.from_arrays(**arrays)


def vm_state_thp(k, vp) -> None:
    """The THP policy as the compiled fault path reads it (PMD-sized THP on 64-bit only)."""
    vp[VP_THP] = thp_mode(k) if k.arch.is_64bit else THP_NEVER


def set_alloc_context(k, ac, row: int, gfp: int, order: int, nid: int) -> None:
    highest = G.gfp_zone(gfp, k.zone_names)
    ac[row, AC_NID] = nid
    ac[row, AC_HIGHEST] = highest
    ac[row, AC_MT] = 0 if k.page_group_by_mobility_disabled else G.gfp_migratetype(gfp)
    ac[row, AC_FAST] = B.ALLOC_WMARK_LOW | pa.alloc_flags_nofragment(k, pa._preferred_zone(k, nid, highest), gfp)
    ac[row, AC_SLOW] = pa.gfp_to_alloc_flags(gfp, order)
    ac[row, AC_COMP] = int(bool(gfp & G.__GFP_COMP))
    ac[row, AC_GFP] = gfp
    ac[row, AC_ORDER] = order


def grow_table_pool(k) -> None:
    """Double the pool of page-table rows (done between batches, outside compiled code)."""
    vs = k.vm_state
    cap = vs.pt.shape[0]
    used_free = vs.pt_free[:vs.vp[VP_NFREE]].copy()
    arrays = {n: getattr(vs, n) for n, _, _ in VMSTATE_FIELDS}
    arrays["pt"] = np.concatenate([vs.pt, np.zeros_like(vs.pt)])
    arrays["pt_pfn"] = np.concatenate([vs.pt_pfn, np.full(cap, -1, np.int64)])
    arrays["pt_used"] = np.concatenate([vs.pt_used, np.zeros(cap, np.int64)])
    for name in ("pt_huge_pte", "pt_deposit_next"):
        arrays[name] = np.concatenate([getattr(vs, name), np.full(cap, -1, np.int64)])
    free = np.concatenate([np.arange(2 * cap - 1, cap - 1, -1, dtype=np.int64), used_free])
    arrays["pt_free"] = np.concatenate([free, np.zeros(2 * cap - len(free), np.int64)])
    arrays["vp"][VP_NFREE] = len(free)
    k.vm_state = VmState.from_arrays(**arrays)
