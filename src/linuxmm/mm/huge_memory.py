"""Transparent hugepage setup (``mm/huge_memory.c: hugepage_init``), Linux 6.18.

One THP policy per kernel, ``k.transparent_hugepage_flags`` (``always``, ``madvise`` or
``never``, as /sys/kernel/mm/transparent_hugepage/enabled shows it): the Kconfig default
(``CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}``), then ``transparent_hugepage=`` from
the command line (``setup_transparent_hugepage``, an early param). ``hugepage_init`` (a subsys
initcall) turns THP off on machines under 512 MiB and otherwise starts khugepaged, which
raises ``min_free_kbytes`` (``mm/khugepaged.py``). The fault path (``VP_THP``), smaps'
THPeligible and khugepaged all read this one policy (``include/linux/huge_mm.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .khugepaged import start_stop_khugepaged
from .page_alloc import totalram_pages

if TYPE_CHECKING:
    from ..init.main import Kernel


def hugepage_init(k: "Kernel") -> None:
    if k.params.transparent_hugepage:  # setup_transparent_hugepage, run at parse_early_param
        k.transparent_hugepage_flags = k.params.transparent_hugepage
    if totalram_pages(k) < (512 << 20) >> k.arch.page_shift:
        # small machines: the extra memory THP costs outweighs the TLB savings
        k.transparent_hugepage_flags = "never"
        return
    start_stop_khugepaged(k)
