"""Swap readahead sizing (``mm/swap.c: swap_setup``), Linux 6.18.

``vm.page-cluster`` (log2 of the pages read around a swap fault) defaults to 3, or 2 on
machines under 16 MiB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .page_alloc import totalram_pages

if TYPE_CHECKING:
    from ..init.main import Kernel


def swap_setup(k: "Kernel") -> None:
    megs = totalram_pages(k) >> (20 - k.arch.page_shift)
    k.vm.page_cluster = 2 if megs < 16 else 3
