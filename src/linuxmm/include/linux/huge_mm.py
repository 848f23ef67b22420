"""The global THP policy as code reads it (``include/linux/huge_mm.h``), Linux 6.18.

``k.transparent_hugepage_flags`` is set up by ``mm/huge_memory.py: hugepage_init``.
"""

from .mm_types import MMF_DISABLE_THP_COMPLETELY, MMF_DISABLE_THP_EXCEPT_ADVISED, VM_HUGEPAGE, VM_NOHUGEPAGE, VM_SHARED

HPAGE_PMD_ORDER = 9  # x86-64: PMD_SHIFT (21) - PAGE_SHIFT (12)
HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER


def transparent_hugepage_mode(k) -> str:
    """``always``, ``madvise`` or ``never``: the global setting (/sys/kernel/mm/...enabled)."""
    return k.transparent_hugepage_flags


def hugepage_global_enabled(k) -> bool:
    return transparent_hugepage_mode(k) in ("always", "madvise")


def vma_thp_disabled(mm, vma, forced_collapse: bool = False) -> bool:
    """THP off for this VMA: VM_NOHUGEPAGE, prctl(PR_SET_THP_DISABLE) for the whole process,
    or its EXCEPT_ADVISED form for VMAs without MADV_HUGEPAGE (an MADV_COLLAPSE is advice)."""
    if vma.vm_flags & VM_NOHUGEPAGE or MMF_DISABLE_THP_COMPLETELY in mm.flags:
        return True
    if vma.vm_flags & VM_HUGEPAGE or forced_collapse:
        return False
    return MMF_DISABLE_THP_EXCEPT_ADVISED in mm.flags


def thp_vma_allowable(k, vma) -> bool:
    """``thp_vma_allowable_order(vma, PMD_ORDER)`` under the policy (smaps' THPeligible,
    khugepaged): private anonymous memory without VM_NOHUGEPAGE, allowed by the policy (always,
    or madvise with VM_HUGEPAGE), covering at least one aligned PMD."""
    mode, flags = transparent_hugepage_mode(k), vma.vm_flags
    if vma.vm_file is not None or flags & VM_SHARED or vma_thp_disabled(vma.vm_mm, vma) or mode == "never":
        return False
    if mode == "madvise" and not flags & VM_HUGEPAGE:
        return False
    huge = 1 << (k.arch.pageblock_order + k.arch.page_shift)  # HPAGE_PMD_SIZE
    return ((vma.vm_start + huge - 1) & ~(huge - 1)) + huge <= vma.vm_end
