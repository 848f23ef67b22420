"""The mm initcalls (``init/main.c: do_initcalls``) that size reserves, Linux 6.18 order.

``mm_core_init_late`` runs, after the allocator is set up, what ``kernel_init`` runs level by
level (kernel-reference §5.4):

* postcore: ``init_per_zone_wmark_min`` (min_free_kbytes, watermarks, pcp limits, stat
  thresholds, lowmem reserves, NUMA reclaim ratios);
* subsys: ``init_user_reserve`` and ``init_admin_reserve`` (mm/mmap.c links before
  mm/huge_memory.c), ``oom_init`` (the oom_reaper thread, the allocator's OOM step), then
  ``hugepage_init``, whose khugepaged start raises min_free_kbytes;
  ``default_bdi_init`` (the writeback flusher), ``kcompactd_init`` (kcompactd per node);
* ``shmem_init`` (tmpfs; swapoff's ``shmem_unuse``);
* fs: ``init_vm_drop_caches_sysctls`` (vm.drop_caches);
* module: ``kswapd_init``: ``swap_setup`` (vm.page-cluster), kswapd per node;
* late: ``vmstat_late_init`` (stat thresholds once more), ``init_lru_gen`` (MGLRU's sysfs
  files and entry points).

Later frees (initrd, __init memory) do not rerun any of this on mainline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel.sysctl import vm_sysctl_init
from ..include.linux.mmzone import node_states
from ..fs import drop_caches, fs_writeback
from ..mm import compaction, huge_memory, khugepaged, lru_gen, oom_kill, page_alloc, shmem, swap, util, vmscan, vmstat

if TYPE_CHECKING:
    from .main import Kernel


def mm_core_init_late(k: "Kernel") -> None:
    vm_sysctl_init(k)
    page_alloc.init_per_zone_wmark_min(k)  # postcore_initcall
    util.init_user_reserve(k)  # subsys_initcall
    util.init_admin_reserve(k)  # subsys_initcall
    oom_kill.oom_init(k)  # subsys_initcall: the oom_reaper thread
    khugepaged.khugepaged_init(k)  # hugepage_init's first step
    huge_memory.hugepage_init(k)  # subsys_initcall
    fs_writeback.default_bdi_init(k)  # subsys_initcall: the writeback flusher
    for nid in k.node_states.nodes(node_states.N_MEMORY):
        compaction.kcompactd_run(k, nid)  # subsys_initcall(kcompactd_init)
    shmem.shmem_init(k)  # do_basic_setup
    drop_caches.init_vm_drop_caches_sysctls(k)  # fs_initcall
    swap.swap_setup(k)  # module_init(kswapd_init)
    vmscan.kswapd_init(k)
    vmstat.vmstat_late_init(k)  # late_initcall
    lru_gen.init_lru_gen(k)  # late_initcall
