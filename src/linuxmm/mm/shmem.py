"""Shared anonymous memory (``mm/shmem.c``), Linux 6.18: the page cache behind MAP_SHARED|MAP_ANONYMOUS.

A shared anonymous mapping is backed by an unlinked tmpfs file (``/dev/zero (deleted)``):
its pages live in that file's page cache, so every process mapping it — the parent and its
forked children — finds the same page at the same index (``shmem_fault`` ->
``shmem_get_folio``). Pages are counted as Shmem (NR_SHMEM, NR_FILE_PAGES) and RssShmem.
The page cache is the file's ``address_space`` (``include/linux/fs.py``); when the last VMA
holding the file goes, ``shmem_truncate_range`` empties it and the pages are freed.
"""

from __future__ import annotations

import errno

import numpy as np

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_SHIFT
from ..include.linux.vmstat import PGFAULT
from . import memory as M
from .pgtable import (NS_FILE_MAPPED, NS_FILE_PAGES, NS_SHMEM, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_NX, _PAGE_PRESENT, _PAGE_RW,
                      _PAGE_USER)
from .rmap import page_mapping


def shmem_get_folio(k, mapping, index: int) -> int:
    """The page at ``index`` of a shmem object, allocated (zeroed) on first use and added to
    its page cache, which holds a reference to it."""
    from ..include.linux import gfp as G
    from . import page_alloc as pa

    pfn = mapping.i_pages.get(index)
    if pfn is None:
        pfn = pa.alloc_pages(k, G.GFP_HIGHUSER_MOVABLE, 0)
        if pfn is None:
            raise KernelError(errno.ENOMEM, "shmem: no memory for a page")
        a = k.mem_map
        a.content[pfn] = 0
        a.mapping[pfn] = page_mapping(mapping)
        a.index[pfn] = index
        mapping.i_pages[index] = pfn
        vs = k.vm_state
        nid = a.zone_node[M.B.page_zone(a, pfn)]
        vs.nstat[nid, NS_SHMEM] += 1  # shmem_add_to_page_cache: a file page, and shmem
        vs.nstat[nid, NS_FILE_PAGES] += 1
    return pfn


def shmem_truncate_range(k, mapping, lstart: int, lend: int) -> None:
    """Drop the cached pages of bytes [lstart, lend] (``lend`` -1: to the end) of a shmem
    object (``shmem_undo_range``): each leaves the page cache (``filemap_remove_folio``:
    mapping cleared, NR_SHMEM and NR_FILE_PAGES down) and the cache's reference is put, which frees a page no
    pte maps any more."""
    a, vs = k.mem_map, k.vm_state
    first, last = lstart >> PAGE_SHIFT, (1 << 63) - 1 if lend < 0 else lend >> PAGE_SHIFT
    for index in [i for i in mapping.i_pages if first <= i <= last]:
        pfn = mapping.i_pages.pop(index)
        nid = a.zone_node[M.B.page_zone(a, pfn)]
        vs.nstat[nid, NS_SHMEM] -= 1
        vs.nstat[nid, NS_FILE_PAGES] -= 1
        a.mapping[pfn] = 0
        M.put_page(a, vs, pfn, 0)


def shmem_fault(k, task, addr: int, write: bool) -> bool:
    """Map the shared page for ``addr`` (``shmem_fault`` + ``finish_fault``, ``wp_page_shared``).

    False (``VM_FAULT_SIGBUS``) when the page lies at or beyond the end of the file, as in a
    shared mapping grown by mremap: ``shmem_get_folio_gfp`` refuses indexes past ``i_size``.
    """
    from ..kernel.fork import grow_and_get

    a, vs = k.mem_map, k.vm_state
    vma = next(v for v in task.mm.vmas if v.vm_start <= addr < v.vm_end)
    index = ((addr - vma.vm_start) >> 12) + vma.vm_pgoff
    if index << 12 >= vma.vm_file.size:
        return False
    entry, _ = M.lookup_pte(a, vs, int(task.mmc[M.MMC_PGD]), addr)
    bits = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX
    if write:
        bits |= _PAGE_RW | _PAGE_DIRTY
    if int(entry) & 1:  # present, read-only: a write to a shared page just makes it writable
        pfn = int(entry) >> 12 & ((1 << 40) - 1)
    else:
        pfn = shmem_get_folio(k, vma.vm_file.f_mapping, index)
        a.refcount[pfn] += 1
        a.mapcount[pfn] += 1
        if a.mapcount[pfn] == 1:  # folio_add_file_rmap_ptes: its first mapping counts in Mapped
            vs.nstat[a.zone_node[M.B.page_zone(a, pfn)], NS_FILE_MAPPED] += 1
        task.mmc[M.MM_SHMEMPAGES] += 1
    while M.install_pte(a, vs, task.mmc, addr, pfn, np.uint64(bits)) == -1:
        vs = grow_and_get(k)
    task.mmc[M.MMC_MINFLT] += 1
    vs.vm_events[PGFAULT] += 1
    return True
