"""Transparent hugepage setup (``mm/huge_memory.c: hugepage_init``), Linux 6.18.

The THP mode comes from ``transparent_hugepage=`` on the command line or the Kconfig default
(``CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}``). ``hugepage_init`` (a subsys
initcall) turns THP off on machines under 512 MiB and otherwise starts khugepaged, which
raises ``min_free_kbytes`` (``mm/khugepaged.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import totalram_pages

if TYPE_CHECKING:
    from ..init.main import Kernel


def transparent_hugepage_mode(k: "Kernel") -> str:
    """``always``, ``madvise`` or ``never``: the global setting (/sys/kernel/mm/...enabled)."""
    override = getattr(k, "transparent_hugepage_flags", None)
    if override is not None:
        return override
    return k.params.transparent_hugepage or k.config.transparent_hugepage


def hugepage_global_enabled(k: "Kernel") -> bool:
    return transparent_hugepage_mode(k) in ("always", "madvise")


def hugepage_init(k: "Kernel") -> None:
    from .khugepaged import start_stop_khugepaged

    if totalram_pages(k) < (512 << 20) >> k.arch.page_shift:
        # small machines: the extra memory THP costs outweighs the TLB savings
        k.transparent_hugepage_flags = "never"
        return
    start_stop_khugepaged(k)
