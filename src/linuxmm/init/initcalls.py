"""The mm initcalls (``init/main.c: do_initcalls``) that size reserves, Linux 6.18 order.

``mm_core_init_late`` runs, after the allocator is set up, what ``kernel_init`` runs level by
level (kernel-reference §5.4):

* postcore: ``init_per_zone_wmark_min`` (min_free_kbytes, watermarks, pcp limits, stat
  thresholds, lowmem reserves, NUMA reclaim ratios);
* subsys: ``init_user_reserve`` and ``init_admin_reserve`` (mm/mmap.c links before
  mm/huge_memory.c), then ``hugepage_init``, whose khugepaged start raises min_free_kbytes;
* module: ``kswapd_init``'s ``swap_setup`` (vm.page-cluster);
* late: ``vmstat_late_init`` (stat thresholds once more).

Later frees (initrd, __init memory) do not rerun any of this on mainline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel.sysctl import vm_sysctl_init
from ..mm import huge_memory, page_alloc, swap, util, vmstat

if TYPE_CHECKING:
    from .main import Kernel


def mm_core_init_late(k: "Kernel") -> None:
    vm_sysctl_init(k)
    page_alloc.init_per_zone_wmark_min(k)  # postcore_initcall
    util.init_user_reserve(k)  # subsys_initcall
    util.init_admin_reserve(k)  # subsys_initcall
    huge_memory.hugepage_init(k)  # subsys_initcall
    swap.swap_setup(k)  # module_init(kswapd_init)
    vmstat.vmstat_late_init(k)  # late_initcall
