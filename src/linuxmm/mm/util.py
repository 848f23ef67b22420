"""Overcommit accounting limits (``mm/util.c``, ``mm/mmap.c``), Linux 6.18.

``vm_commit_limit`` is CommitLimit: a ratio (or ``overcommit_kbytes``) of RAM without the
hugetlb pool, plus swap. ``init_user_reserve``/``init_admin_reserve`` size the reserves that
strict overcommit keeps back (subsys initcalls). The overcommit sysctl handlers keep the ratio
and kbytes knobs exclusive (kernel-reference §8.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import totalram_pages
from ..include.linux.vmstat import global_zone_page_state

if TYPE_CHECKING:
    from ..init.main import Kernel


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
