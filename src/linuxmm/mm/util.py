"""Overcommit accounting (``mm/util.c``, ``mm/mmap.c``), Linux 6.18.

``vm_commit_limit`` is CommitLimit: a ratio (or ``overcommit_kbytes``) of RAM without the
hugetlb pool, plus swap. ``__vm_enough_memory`` is the policy every accountable mapping
(``VM_ACCOUNT``: mmap, brk, stack growth, mremap growth, mprotect making private memory
writable, fork's copies) passes, by ``vm.overcommit_memory``:

* 0 (OVERCOMMIT_GUESS, the heuristic since 5.2): only a single request larger than all RAM
  plus swap fails;
* 1 (OVERCOMMIT_ALWAYS): nothing fails;
* 2 (OVERCOMMIT_NEVER): Committed_AS with the request must stay below CommitLimit minus the
  admin reserve (for tasks without CAP_SYS_ADMIN) minus the smaller of 1/32 of the mm's
  size and the user reserve.

``init_user_reserve``/``init_admin_reserve`` size those reserves (subsys initcalls). The
overcommit sysctl handlers keep the ratio and kbytes knobs exclusive (kernel-reference §8.2).

Simplification: the kernel's ``vm_committed_as`` is a per-cpu counter that
``__vm_enough_memory`` reads without folding the per-cpu deltas (up to
``vm_committed_as_batch`` pages each; a charge of at least a batch folds at once). The
simulator keeps the exact sum, so it refuses a request where the kernel might admit one
within that slack of small, unfolded charges; large mappings fail exactly where the kernel's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import totalram_pages
from ..include.linux.vmstat import global_zone_page_state

if TYPE_CHECKING:
    from ..init.main import Kernel


OVERCOMMIT_GUESS, OVERCOMMIT_ALWAYS, OVERCOMMIT_NEVER = 0, 1, 2


def __vm_enough_memory(k: "Kernel", mm, pages: int, cap_sys_admin: bool, task) -> bool:
    """May ``pages`` more be committed? On refusal the kernel's (ratelimited) line is logged.
    ``task`` is ``current`` (its pid and comm are in the line)."""
    vm = k.vm
    if vm.sysctl_overcommit_memory == OVERCOMMIT_ALWAYS:
        return True
    if vm.sysctl_overcommit_memory == OVERCOMMIT_GUESS:
        if pages <= totalram_pages(k) + total_swap_pages(k):
            return True
    elif k.vm_committed_as + pages < vm_overcommit_allowed(k, mm, cap_sys_admin):
        return True
    k.log.warn(f"__vm_enough_memory: pid: {task.pid}, comm: {task.comm}, bytes: {pages << k.arch.page_shift} "
               "not enough memory for the allocation")
    return False


def security_vm_enough_memory_mm(k: "Kernel", mm, pages: int, task) -> bool:
    """``cap_vm_enough_memory``: CAP_SYS_ADMIN spares the admin reserve."""
    return __vm_enough_memory(k, mm, pages, mm.capable("CAP_SYS_ADMIN"), task)


def vm_overcommit_allowed(k: "Kernel", mm, cap_sys_admin: bool) -> int:
    """Strict overcommit's limit for this mm: CommitLimit less the reserves, in pages."""
    shift = k.arch.page_shift - 10
    allowed = vm_commit_limit(k)
    if not cap_sys_admin:
        allowed -= k.vm.sysctl_admin_reserve_kbytes >> shift
    return allowed - min(mm.total_vm // 32, k.vm.sysctl_user_reserve_kbytes >> shift)


def hugetlb_total_pages(k: "Kernel") -> int:
    return k.hugetlb_total_pages


def total_swap_pages(k: "Kernel") -> int:
    return k.total_swap_pages


def vm_memory_committed(k: "Kernel") -> int:
    """Committed_AS in pages: the sum of ``vm_committed_as`` (never shown negative). VM_ACCOUNT
    charges at mmap, brk, mremap, mprotect, stack growth and fork's copies, released at
    munmap and exit, plus each shmem object's size while it exists (``shmem_acct_size``)."""
    return max(k.vm_committed_as, 0)


def vm_commit_limit(k: "Kernel") -> int:
    """CommitLimit in pages."""
    vm = k.vm
    if vm.sysctl_overcommit_kbytes:
        allowed = vm.sysctl_overcommit_kbytes >> (k.arch.page_shift - 10)
    else:
        allowed = (totalram_pages(k) - hugetlb_total_pages(k)) * vm.sysctl_overcommit_ratio // 100
    return allowed + total_swap_pages(k)


def _boot_free_kbytes(k: "Kernel") -> int:
    """K(NR_FREE_PAGES) when the reserves are sized. Until the buddy allocator accounts free
    pages, everything managed is free, as it nearly is right after boot on mainline."""
    free = global_zone_page_state(k, "NR_FREE_PAGES") or totalram_pages(k)
    return free << (k.arch.page_shift - 10)


def init_user_reserve(k: "Kernel") -> None:
    """1/32 of free memory, at most 128 MiB."""
    k.vm.sysctl_user_reserve_kbytes = min(_boot_free_kbytes(k) // 32, 1 << 17)


def init_admin_reserve(k: "Kernel") -> None:
    """1/32 of free memory, at most 8 MiB."""
    k.vm.sysctl_admin_reserve_kbytes = min(_boot_free_kbytes(k) // 32, 1 << 13)


def overcommit_ratio_handler(k: "Kernel", old) -> None:
    k.vm.sysctl_overcommit_kbytes = 0


def overcommit_kbytes_handler(k: "Kernel", old) -> None:
    k.vm.sysctl_overcommit_ratio = 0
