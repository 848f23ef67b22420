"""Transparent hugepage setup (``mm/huge_memory.c: hugepage_init``), Linux 6.18.

One THP policy per kernel, ``k.transparent_hugepage_flags`` (``always``, ``madvise`` or
``never``, as /sys/kernel/mm/transparent_hugepage/enabled shows it): the Kconfig default
(``CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}``), then ``transparent_hugepage=`` from
the command line (``setup_transparent_hugepage``, an early param). ``hugepage_init`` (a subsys
initcall) turns THP off on machines under 512 MiB and otherwise starts khugepaged, which
raises ``min_free_kbytes`` (``mm/khugepaged.py``). The fault path (``VP_THP``), smaps'
THPeligible and khugepaged all read this one policy (``include/linux/huge_mm.py``); as the
kernel's comment says, an admin can still enable it through /sys on a small machine:
``enabled_show``/``enabled_store`` are that file.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import KernelError
from .khugepaged import khugepaged_init, start_stop_khugepaged
from .page_alloc import totalram_pages
from .pgalloc import vm_state_thp

if TYPE_CHECKING:
    from ..init.main import Kernel


def hugepage_init(k: "Kernel") -> None:
    if k.params.transparent_hugepage:  # setup_transparent_hugepage, run at parse_early_param
        k.transparent_hugepage_flags = k.params.transparent_hugepage
    khugepaged_init(k)
    if totalram_pages(k) < (512 << 20) >> k.arch.page_shift:
        # small machines: the extra memory THP costs outweighs the TLB savings
        k.transparent_hugepage_flags = "never"
        return
    start_stop_khugepaged(k)


THP_ENABLED = ("always", "madvise", "never")  # the choices enabled_show lists


def enabled_show(k: "Kernel") -> str:
    """/sys/kernel/mm/transparent_hugepage/enabled: the choices, the policy in brackets."""
    return " ".join(f"[{m}]" if m == k.transparent_hugepage_flags else m for m in THP_ENABLED) + "\n"


def use_zero_page_show(k: "Kernel") -> str:
    """/sys/kernel/mm/transparent_hugepage/use_zero_page: 1, the default
    (TRANSPARENT_HUGEPAGE_USE_ZERO_PAGE_FLAG): a read fault of a THP-eligible VMA maps the
    huge zero page (``do_huge_pmd_anonymous_page``)."""
    return "1\n"


def use_zero_page_store(k: "Kernel", value: str) -> None:
    """Turning the huge zero page off is not simulated: the file is read-only here."""
    raise KernelError(errno.EACCES, "transparent_hugepage/use_zero_page: writing it is not simulated")


def enabled_store(k: "Kernel", value: str) -> None:
    """Set the policy (``enabled_store``): khugepaged starts or stops and min_free_kbytes
    follows (``start_stop_khugepaged``); faults from now on read the new policy."""
    mode = value.strip()
    if mode not in THP_ENABLED:
        raise KernelError(errno.EINVAL, f"transparent_hugepage/enabled: {value!r} is not one of {', '.join(THP_ENABLED)}")
    k.transparent_hugepage_flags = mode
    start_stop_khugepaged(k)
    if k.vm_state is not None:
        vm_state_thp(k, k.vm_state.vp)
