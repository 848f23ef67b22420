"""tmpfs and shared anonymous memory (``mm/shmem.c``), Linux 6.18, on the page cache.

A tmpfs file's page cache is its storage: folios are added by ``shmem_get_folio`` (zeroed,
PG_swapbacked, counted in NR_SHMEM as well as NR_FILE_PAGES by ``filemap_add_folio``) and
leave only by truncation, hole punching or the file's eviction (``shmem_undo_range``), never
by reclaim of clean pages or drop_caches. With ``huge=never`` (the default mount option, and
shmem_enabled=never for the internal mount) folios are order-0; ``huge=always`` gives a
write the largest free order up to 2 MiB around its pages (6.18 tries PMD first, then the
smaller large orders), a fault a PMD-sized folio where the VMA can map it whole;
``within_size`` the same where the folio stays inside the file's size (or the write's end);
``advise`` PMD-sized folios for faults in MADV_HUGEPAGE mappings
(``shmem_huge_global_enabled``; the per-size ``shmem_enabled`` knobs are left at never). The filesystem's ``size=``
is counted in pages (``shmem_inode_acct_blocks``: ENOSPC past it); a tmpfs file or memfd
(VM_NORESERVE) charges each page to Committed_AS as it is allocated (``shmem_acct_blocks``:
ENOSPC when overcommit refuses) and returns it when the page leaves.

* reads (``shmem_file_read_iter``): a hole reads as zeros without allocating anything;
* writes (``shmem_write_begin``/``shmem_write_end`` under ``generic_perform_write``): folios
  marked dirty by ``noop_dirty_folio`` — tmpfs writes nothing back, so Dirty stays 0;
* MAP_SHARED|MAP_ANONYMOUS: ``shmem_zero_setup`` backs the VMA with an unlinked file of the
  internal mount (``shm_mnt``, shown as ``/dev/zero (deleted)``) whose size is charged to
  Committed_AS (``shmem_acct_size``) until the last reference goes (``shmem_evict_inode``);
* faults: ``shmem_fault`` allocates a page the compiled fault path found missing; mapping
  goes through the page-cache fault path of every file (fault-around, SIGBUS past ``i_size``).
"""

from __future__ import annotations

import errno

import numpy as np

from ..errors import KernelError
from ..include.linux import gfp as G
from ..include.linux.falloc import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE
from ..include.linux.fs import address_space_operations, file_operations, i_size_write
from ..include.linux.mm_types import PAGE_SHIFT, VM_HUGEPAGE, VM_NORESERVE, shmem_acct_size
from ..include.linux.pagemap import MAX_PAGECACHE_ORDER
from . import filemap as FM
from .rmap import unmap_mapping_pages
from .truncate import truncate_inode_pages_range
from .util import security_vm_enough_memory_mm

# the tmpfs ``huge=`` mount option (``shmem_sb_info.huge``)
SHMEM_HUGE_NEVER, SHMEM_HUGE_ALWAYS, SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE = "never", "always", "within_size", "advise"
SHMEM_HUGE_OPTIONS = (SHMEM_HUGE_NEVER, SHMEM_HUGE_ALWAYS, SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE)
HPAGE_PMD_ORDER = 9
MAYBE_PMD_ORDER = 1 << HPAGE_PMD_ORDER  # as orders bitmasks: BIT(order)
THP_ORDERS_ALL_FILE_DEFAULT = ((1 << (MAX_PAGECACHE_ORDER + 1)) - 1) & ~1  # orders 1 .. MAX_PAGECACHE_ORDER


def shmem_get_orders_within_size(inode, orders: int, index: int, write_end: int) -> int:
    """The orders of ``orders``, from the highest, whose folio around ``index`` would lie
    within the file's size (or the write's end): that order and the smaller ones; 0 if none."""
    size_pages = -(-max(write_end, inode.i_size) >> PAGE_SHIFT)
    for order in range(orders.bit_length() - 1, 0, -1):
        if orders & (1 << order) and size_pages >= -(-(index + 1) >> order) << order:
            return orders & ((2 << order) - 1)
    return 0


def shmem_huge_global_enabled(inode, index: int, write_end: int, vma) -> int:
    """``shmem_huge_global_enabled``: the folio orders the mount's ``huge=`` allows (a
    bitmask): with a VMA (a fault) the PMD order; from write() or fallocate every order up to
    PMD for ``always``, those within the size for ``within_size``; ``advise`` only for a
    VM_HUGEPAGE VMA; ``never`` none."""
    huge = inode.i_sb.huge
    if huge == SHMEM_HUGE_ALWAYS:
        return MAYBE_PMD_ORDER if vma is not None else THP_ORDERS_ALL_FILE_DEFAULT
    if huge == SHMEM_HUGE_WITHIN_SIZE:
        orders = shmem_get_orders_within_size(inode, MAYBE_PMD_ORDER if vma is not None else THP_ORDERS_ALL_FILE_DEFAULT,
                                              index, write_end)
        if orders:
            return orders
    if huge in (SHMEM_HUGE_WITHIN_SIZE, SHMEM_HUGE_ADVISE) and vma is not None and vma.vm_flags & VM_HUGEPAGE:
        return MAYBE_PMD_ORDER
    return 0


def shmem_suitable_orders(k, inode, index: int, orders: int, vma) -> list[int]:
    """``shmem_suitable_orders``: the orders to try, highest first, from the highest whose
    aligned range holds nothing in the cache yet; a fault's order must also fit its VMA
    (``thp_vma_suitable_order``: the huge page inside it, aligned in the file as in memory)."""
    out = []
    for order in range(orders.bit_length() - 1, 0, -1):
        nr = 1 << order
        aligned = index & -nr
        if not orders & nr or out == [] and FM.filemap_folios(k, inode.i_mapping, aligned, aligned + nr - 1):
            continue
        if vma is not None:
            start = vma.vm_start + ((aligned - vma.vm_pgoff) << PAGE_SHIFT)
            if (vma.vm_start >> PAGE_SHIFT) - vma.vm_pgoff & (nr - 1) or start < vma.vm_start \
                    or start + (nr << PAGE_SHIFT) > vma.vm_end:
                continue
        out.append(order)
    return out


def shmem_acct_blocks(k, inode, pages: int) -> bool:
    """``shmem_acct_blocks``: a VM_NORESERVE object charges ``pages`` to Committed_AS as they
    are allocated (``current``'s overcommit check; none from outside any task); False if refused."""
    if not inode.shmem_flags & VM_NORESERVE:
        return True
    task = k.current
    if task is not None and not security_vm_enough_memory_mm(k, task.mm, pages, task):
        return False
    k.vm_committed_as += pages
    return True


def shmem_unacct_blocks(k, inode, pages: int) -> None:
    if inode.shmem_flags & VM_NORESERVE:
        k.vm_committed_as -= pages


def shmem_inode_acct_blocks(k, inode, pages: int) -> None:
    """Charge ``pages`` to Committed_AS (``shmem_acct_blocks``) and to the filesystem's
    ``size=`` limit; ENOSPC if either refuses (so a fault gets SIGBUS, not an OOM kill)."""
    sb = inode.i_sb
    if not shmem_acct_blocks(k, inode, pages):
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: cannot commit {pages} more pages (overcommit)")
    if sb.max_blocks >= 0 and sb.used_blocks + pages > sb.max_blocks:
        shmem_unacct_blocks(k, inode, pages)
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: no space left on device")
    sb.used_blocks += pages


def shmem_inode_unacct_blocks(k, inode, pages: int) -> None:
    inode.i_sb.used_blocks -= pages
    shmem_unacct_blocks(k, inode, pages)


def shmem_get_folio(k, inode, index: int, write_end: int = 0, vma=None) -> int:
    """``shmem_get_folio_gfp``: the head of the folio caching ``index``, allocated zeroed and
    up to date and added to the page cache (which holds its references) if there is none:
    of the largest order ``huge=`` allows there (``shmem_allowable_huge_orders``; a write
    passes its end, a fault its VMA) that is free in the cache, can be charged to ``size=``
    and allocated, else order 0."""
    mapping = inode.i_mapping
    pfn = FM.filemap_get_folio(k, mapping, index)
    if pfn >= 0:
        return pfn
    for order in shmem_suitable_orders(k, inode, index, shmem_huge_global_enabled(inode, index, write_end, vma), vma):
        pfn = shmem_alloc_and_add_folio(k, inode, index & -(1 << order), order)
        if pfn >= 0:
            return pfn
    pfn = shmem_alloc_and_add_folio(k, inode, index, 0)
    if pfn < 0:
        raise KernelError(errno.ENOMEM, "shmem: no memory for a page")
    return pfn


def shmem_alloc_and_add_folio(k, inode, index: int, order: int) -> int:
    """``shmem_alloc_and_add_folio``: a zeroed folio of ``order`` at ``index`` (aligned), its
    pages charged (``shmem_inode_acct_blocks``: ENOSPC for order 0; a large one that cannot
    be charged is -1, as when the allocation fails, and the caller tries order 0)."""
    nr = 1 << order
    try:
        shmem_inode_acct_blocks(k, inode, nr)
    except KernelError:
        if not order:
            raise
        return -1
    gfp = G.GFP_HIGHUSER_MOVABLE | (G.__GFP_NORETRY | G.__GFP_NOWARN if order else 0)
    pfn = FM.filemap_alloc_folio(k, gfp, order)
    if pfn < 0:
        shmem_inode_unacct_blocks(k, inode, nr)
        return -1
    FM.filemap_add_folio(k, inode.i_mapping, pfn, index, G.GFP_HIGHUSER_MOVABLE)
    FM.folio_end_read(k, pfn, True)  # zeroed: up to date, unlocked
    FM.folio_put(k, pfn)
    return pfn


def shmem_undo_range(k, inode, lstart: int, lend: int) -> None:
    """``shmem_undo_range``: the folios of bytes [lstart, lend] (-1: to the end) leave the
    cache (partial pages zeroed) and their blocks are given back."""
    before = FM.mapping_nrpages(k, inode.i_mapping)
    truncate_inode_pages_range(k, inode.i_mapping, lstart, lend)
    shmem_inode_unacct_blocks(k, inode, before - FM.mapping_nrpages(k, inode.i_mapping))  # shmem_recalc_inode


def shmem_truncate_range(k, mapping, lstart: int, lend: int) -> None:
    """``shmem_truncate_range``: drop bytes [lstart, lend] of the object (after their ptes)."""
    shmem_undo_range(k, mapping.host, lstart, lend)


def shmem_evict_inode(k, inode) -> None:
    """``shmem_evict_inode``: the pages go, the size charge is returned (``shmem_unacct_size``)."""
    shmem_undo_range(k, inode, 0, -1)
    k.vm_committed_as -= inode.committed_pages
    inode.committed_pages = 0


# ---- file and address_space operations ------------------------------------------------------

def shmem_read_folios(k, mapping, pfns: list[int]) -> None:
    """A shmem folio is zeroed when it is allocated: nothing to read."""
    for pfn in pfns:
        FM.folio_end_read(k, pfn, True)


def shmem_write_begin(k, filp, pos: int, nbytes: int) -> int:
    """``shmem_write_begin``: ``shmem_get_folio(SGP_WRITE)``, locked, with the caller's reference."""
    pfn = shmem_get_folio(k, filp.f_inode, pos >> PAGE_SHIFT, pos + nbytes)
    k.mem_map.refcount[pfn] += 1
    FM.folio_lock(k, pfn)
    return pfn


def shmem_writepages(k, mapping, first: int, last: int) -> None:
    """tmpfs has no backing store to write to (swap is reclaim's business)."""


def shmem_file_read_iter(k, filp, pos: int, count: int) -> tuple[int, np.ndarray]:
    """``shmem_file_read_iter``: cached pages are copied out, holes read as zeros (the zero
    page) without entering the cache; stops at ``i_size``."""
    inode = filp.f_inode
    count = min(count, max(inode.i_size - pos, 0))
    out, done = [], 0
    while done < count:
        index = (pos + done) >> PAGE_SHIFT
        end = min(pos + count, (index + 1) << PAGE_SHIFT)
        first = (pos + done - (index << PAGE_SHIFT)) >> FM.LINE_SHIFT
        if out and (pos + done) & ((1 << FM.LINE_SHIFT) - 1):
            first += 1
        last = (end - 1 - (index << PAGE_SHIFT)) >> FM.LINE_SHIFT
        pfn = FM.filemap_get_folio(k, inode.i_mapping, index)
        if last >= first:
            page = pfn + index - int(k.mem_map.index[pfn]) if pfn >= 0 else -1
            out.append(FM.folio_read_lines(k, page, first, last - first + 1) if pfn >= 0
                       else np.zeros(last - first + 1, np.uint8))
        done = end - pos
    filp.f_ra.prev_pos = pos + done
    return done, (np.concatenate(out) if out else np.zeros(0, np.uint8))


def shmem_file_write_iter(k, filp, pos: int, count: int, value: int) -> int:
    return FM.generic_perform_write(k, filp, pos, count, value)


def noop_fsync(k, filp, start: int, end: int, datasync: bool) -> None:
    """tmpfs: nothing to sync."""


shmem_aops = address_space_operations(
    read_folios=shmem_read_folios, write_begin=shmem_write_begin, write_end=FM.generic_write_end,
    dirty_folio=FM.noop_dirty_folio, writepages=shmem_writepages, swapbacked=True)
def shmem_fallocate(k, filp, mode: int, offset: int, length: int) -> None:
    """``shmem_fallocate``: PUNCH_HOLE|KEEP_SIZE unmaps the pages wholly inside the range and
    drops them (partial pages zeroed: ``shmem_truncate_range``); mode 0 or KEEP_SIZE allocates
    the range's missing pages (ENOSPC, with nothing allocated, past ``size=``) and, without
    KEEP_SIZE, extends ``i_size``. Other modes are EOPNOTSUPP."""
    inode = filp.f_inode
    if mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE):
        raise KernelError(errno.EOPNOTSUPP, f"tmpfs fallocate: mode {mode:#x} is not supported")
    if mode & FALLOC_FL_PUNCH_HOLE:
        unmap_start, unmap_end = -(-offset >> PAGE_SHIFT), (offset + length) >> PAGE_SHIFT
        if unmap_end > unmap_start:
            unmap_mapping_pages(inode.i_mapping, unmap_start, unmap_end - 1)
        shmem_truncate_range(k, inode.i_mapping, offset, offset + length - 1)
        return
    first, end = offset >> PAGE_SHIFT, (offset + length + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    missing = [i for i in range(first, end) if FM.filemap_get_folio(k, inode.i_mapping, i) < 0]
    sb = inode.i_sb
    if sb.max_blocks >= 0 and sb.used_blocks + len(missing) > sb.max_blocks:
        raise KernelError(errno.ENOSPC, f"tmpfs on {sb.mountpoint}: no space left on device")
    for index in missing:
        if FM.filemap_get_folio(k, inode.i_mapping, index) < 0:  # not in a large folio added meanwhile
            shmem_get_folio(k, inode, index, offset + length)
    if not mode & FALLOC_FL_KEEP_SIZE and offset + length > inode.i_size:
        i_size_write(inode, offset + length)


shmem_file_operations = file_operations(read_iter=shmem_file_read_iter, write_iter=shmem_file_write_iter,
                                        fsync=noop_fsync, fallocate=shmem_fallocate,
                                        read_cached=FM.filemap_read_batch)


# ---- faults ---------------------------------------------------------------------------------

def shmem_fault(k, task, addr: int) -> bool:
    """``shmem_fault`` for a page the compiled fault path found missing: the page is
    allocated zeroed into the page cache (``shmem_get_folio``; no I/O, never a major fault),
    and the retried access maps it with its neighbours. False (VM_FAULT_SIGBUS) at or beyond
    the end of the object, as in a shared mapping grown by mremap."""
    vma, index = FM.fault_vma(task, addr)
    inode = vma.vm_file.f_inode
    if index >= -(-inode.i_size >> PAGE_SHIFT):
        return False
    shmem_get_folio(k, inode, index, vma=vma)
    return True


def shmem_file_setup(k, name: str, size: int, flags: int):
    """``__shmem_file_setup(shm_mnt, name, size, flags)``: an unlinked file of the internal
    mount (``/proc/PID/maps`` shows ``/NAME (deleted)``), opened read-write, with the
    caller's reference. Without VM_NORESERVE in ``flags`` its size is charged (by the caller,
    ``shmem_acct_size``) and returned when it is evicted; with it, each page as it comes."""
    from ..fs.file_table import alloc_file
    from ..fs.inode import new_inode
    from ..include.linux.fs import FMODE_READ, FMODE_WRITE, O_RDWR, S_IFREG

    ino = new_inode(k, k.shm_mnt, S_IFREG | 0o777, f"/{name} (deleted)")
    ino.i_nlink, ino.i_size, ino.committed_pages, ino.shmem_flags = 0, size, shmem_acct_size(flags, size), flags & VM_NORESERVE
    return alloc_file(k, ino, O_RDWR, FMODE_READ | FMODE_WRITE)


def shmem_kernel_file_setup(k, size: int, flags: int):
    """``shmem_kernel_file_setup("dev/zero", size, flags)``: the object of a shared anonymous
    mapping. The file starts with no reference (the VMA takes one)."""
    f = shmem_file_setup(k, "dev/zero", size, flags)
    f.f_count = 0
    return f
