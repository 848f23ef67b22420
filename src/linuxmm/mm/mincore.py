"""mincore(2) (``mm/mincore.c``), Linux 6.18: which pages of a range are resident.

One byte per page, 1 when resident. For each VMA of the range, page by page
(``mincore_pte_range``): a present pte or huge pmd is resident; a none pte (or a PTE marker,
``pte_none_mostly``) of a file VMA asks the page cache (``mincore_page``: a cached folio
that is up to date) and is 0 in anonymous memory; a migration entry is resident, a swap
entry is not (no swap cache is modelled). The caller may read the page cache of every file
it maps (``can_do_mincore``: the simulated processes are root).

Errors as the kernel returns them: EINVAL for an unaligned start, ENOMEM for a range past
the user address space or one that reaches an unmapped address (the pages before it are
not reported: the syscall fails).
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..errors import KernelError
from ..include.linux.mm_types import MMC_PGD, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, mm_struct, vma_lookup
from ..include.linux.page_flags import PG_uptodate
from ..lib.xarray import xa_is_folio, xa_load, xa_to_folio
from .memory import lookup_pte
from .pgtable import VP_SWP_FMT, is_migration_entry, is_pte_marker, pte_none, pte_present, pte_to_swp_entry


@njit(cache=True)
def mincore_page(a, xa, xid, index):
    """``mincore_page``: 1 if the page cache holds an up-to-date folio at ``index``."""
    entry = xa_load(xa, xid, index)
    if not xa_is_folio(entry):
        return 0
    return 1 if a.flags[xa_to_folio(entry)] & np.uint64(1 << PG_uptodate) else 0


@njit(cache=True)
def mincore_range(a, vs, xa, pgd, start, nr, xid, pgoff, out):
    """The residency of ``nr`` pages from ``start`` within one VMA into ``out``; ``xid`` is the
    file's page cache (-1: anonymous), ``pgoff`` the file page at ``start``."""
    for i in range(nr):
        entry, level = lookup_pte(a, vs, pgd, start + (i << 12))
        if pte_present(entry):
            out[i] = 1
        elif pte_none(entry) or is_pte_marker(entry, vs.vp[VP_SWP_FMT]):
            out[i] = mincore_page(a, xa, xid, pgoff + i) if xid >= 0 else 0
        else:
            out[i] = 1 if is_migration_entry(pte_to_swp_entry(entry, vs.vp[VP_SWP_FMT])) else 0


def sys_mincore(k, task, start: int, length: int) -> np.ndarray:
    """mincore(2) of [start, start+length): a uint8 array, one byte per page (the last
    partial page included). Raises ``KernelError`` with the errno."""
    from ..kernel.fork import ensure_tables

    mm: mm_struct = task.mm
    if start & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"mincore: address {start:#x} is not page aligned")
    if start + length > mm.task_size:
        raise KernelError(errno.ENOMEM, f"mincore: {start:#x}+{length:#x} is not a user address range")
    pages = (length >> PAGE_SHIFT) + (1 if length & (PAGE_SIZE - 1) else 0)
    out = np.zeros(pages, np.uint8)
    vs, done = ensure_tables(k), 0
    while done < pages:
        addr = start + (done << PAGE_SHIFT)
        vma = vma_lookup(mm, addr)
        if vma is None:
            raise KernelError(errno.ENOMEM, f"mincore: {addr:#x} is not mapped")
        nr = min(pages - done, (vma.vm_end - addr) >> PAGE_SHIFT)
        f = vma.vm_file
        xid = f.f_mapping.xa_id if f is not None else -1
        pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT)
        mincore_range(k.mem_map, vs, k.page_cache, int(task.mmc[MMC_PGD]), addr, nr, xid, pgoff, out[done:])
        done += nr
    return out
