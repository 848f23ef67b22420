"""Transparent hugepage setup (``mm/huge_memory.c: hugepage_init``), Linux 6.18.

One THP policy per kernel, ``k.transparent_hugepage_flags`` (``always``, ``madvise`` or
``never``, as /sys/kernel/mm/transparent_hugepage/enabled shows it): the Kconfig default
(``CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}``), then ``transparent_hugepage=`` from
the command line (``setup_transparent_hugepage``, an early param). ``hugepage_init`` (a subsys
initcall) turns THP off on machines under 512 MiB and otherwise starts khugepaged, which
raises ``min_free_kbytes`` (``mm/khugepaged.py``). The fault path (``VP_THP``), smaps'
THPeligible and khugepaged all read this one policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import totalram_pages

if TYPE_CHECKING:
    from ..init.main import Kernel


def transparent_hugepage_mode(k: "Kernel") -> str:
    """``always``, ``madvise`` or ``never``: the global setting (/sys/kernel/mm/...enabled)."""
    return k.transparent_hugepage_flags


def thp_vma_allowable(k: "Kernel", vma) -> bool:
    """``thp_vma_allowable_order(vma, PMD_ORDER)`` under the policy (smaps' THPeligible,
    khugepaged): private anonymous memory without VM_NOHUGEPAGE, allowed by the policy (always,
    or madvise with VM_HUGEPAGE), covering at least one aligned PMD."""
    from .memory import VM_HUGEPAGE, VM_NOHUGEPAGE, VM_SHARED
    from .vmstat import HPAGE_PMD_NR

    mode, flags = transparent_hugepage_mode(k), vma.vm_flags
    if vma.vm_file is not None or flags & (VM_SHARED | VM_NOHUGEPAGE) or mode == "never":
        return False
    if mode == "madvise" and not flags & VM_HUGEPAGE:
        return False
    huge = HPAGE_PMD_NR(k) << k.arch.page_shift
    return ((vma.vm_start + huge - 1) & ~(huge - 1)) + huge <= vma.vm_end


def hugepage_global_enabled(k: "Kernel") -> bool:
    return transparent_hugepage_mode(k) in ("always", "madvise")


def hugepage_init(k: "Kernel") -> None:
    from .khugepaged import start_stop_khugepaged

    if k.params.transparent_hugepage:  # setup_transparent_hugepage, run at parse_early_param
        k.transparent_hugepage_flags = k.params.transparent_hugepage
    if totalram_pages(k) < (512 << 20) >> k.arch.page_shift:
        # small machines: the extra memory THP costs outweighs the TLB savings
        k.transparent_hugepage_flags = "never"
        return
    start_stop_khugepaged(k)
