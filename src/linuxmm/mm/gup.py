"""Getting and pinning user pages (``mm/gup.c``, Linux 6.18): ``pin_user_pages`` and
``pin_user_pages_fast`` with FOLL_PIN, FOLL_LONGTERM and FOLL_WRITE, and ``unpin_user_pages``;
``get_user_pages_fast`` with FOLL_GET, and ``put_page`` of what it returned.

A pin is a reference a driver holds on a page while a device reads or writes it (DMA); the
kernel tells it from an ordinary reference by its weight (``try_grab_folio``): a small folio's
``_refcount`` grows by GUP_PIN_COUNTING_BIAS (1024) per pin, a large folio's by one, and its
``_pincount`` by one, so that ``folio_maybe_dma_pinned`` can ask "may a device be using this?"
(reclaim, swap-out and fork ask). ``NR_FOLL_PIN_ACQUIRED``/``_RELEASED`` count pins per node.
Here ``pincount`` counts the pins of small folios too (``debug.check`` reads it to expect the
refcount); ``M.folio_maybe_dma_pinned`` asks the kernel's way. Fork copies an exclusive
anonymous page that may be pinned instead of sharing it (``M.copy_present_page``), so that the
parent's next write does not move it away from the device.

FOLL_GET (``get_user_pages_fast``, what ``iov_iter_get_pages2`` uses for vmsplice and direct
I/O) takes plain references instead: one per page on the folio's ``_refcount``, no pincount, no
MMF_HAS_PINNED, and no unsharing (``gup_must_unshare`` asks only for R/O pins). Such a reference
is invisible to ``folio_maybe_dma_pinned`` (fork shares the page), but it still keeps the page
from being reused by a write fault (``wp_can_reuse_anon_folio`` sees the extra reference and
copies). The zero page's references are not counted, as its pins are not: it is never freed.

The slow path, ``__get_user_pages``, takes one page after the other: the VMA must allow the
access (``check_vma_flags``: a long-term writable pin of a shared file mapping whose filesystem
tracks dirty pages, ext4 here, is EFAULT: ``writable_file_mapping_allowed``); the page is
looked up (``follow_page_mask``), and faulted in when it is missing or, for FOLL_WRITE, not
writable (which breaks COW). A R/O pin of a page the process may later replace by COW must not
pin that page: ``gup_must_unshare`` (an anonymous page not PageAnonExclusive, or for a
long-term pin any page of a private writable mapping mapped read-only: the zero page, a file
page) asks for a FAULT_FLAG_UNSHARE fault (``VP_FAULT_UNSHARE`` in ``mm/memory.py``: the page
becomes exclusive, or is copied, and stays mapped read-only), then looks again.

GUP-fast (``gup_fast``) walks the page tables without the mmap lock and without faulting, and
stops at the first page it cannot take: absent, not writable for FOLL_WRITE, special (the zero
page), one that must be unshared, or a file folio a long-term writable pin may not take
(``gup_fast_folio_allowed``: only anonymous and shmem folios; it grabs the pin first and drops
it again, as the kernel does, so the host's NR_FOLL_PIN counters move by one each). The rest
goes through the slow path (``gup_fast_fallback``).

A long-term pin must not hold a page in ZONE_MOVABLE (``folio_is_longterm_pinnable``); the
kernel migrates such pages first (``check_and_migrate_movable_folios``). Page migration is not
simulated: such a pin fails as it does when ``migrate_pages`` fails (ENOMEM), after dropping
what it pinned. There is no CMA and no device memory. Faults taken for a long-term pin do not
avoid ZONE_MOVABLE (``memalloc_pin_save``) either.
"""

from __future__ import annotations

import errno

import numpy as np
from numba import njit

from ..arch.x86.mm import fault
from ..arch.x86.mm.tlb import asid_of, tlb_fault_done, tlb_for
from ..include.linux.mm_types import (GUP_PIN_COUNTING_BIAS, MMC_HAS_PINNED, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE,
                                      find_vma)
from ..include.linux.page_flags import PG_anon_exclusive_mask, PG_head_mask, PG_swapbacked_mask
from ..include.linux.vmstat import NODE_STAT_ITEM
from ..kernel.fork import ensure_tables, running, set_current
from . import buddy as B
from . import memory as M
from . import vma as V
from .pgtable import VP_FAULT_UNSHARE, VP_FLUSH_PENDING, VP_LEVELS, VP_ZERO_PFN, _PAGE_RW, _PAGE_SPECIAL, entry_has, \
    entry_present, pte_pfn, pte_present
from .swap import folio_put

# gup_flags (include/linux/mm_types.h; FOLL_PIN is internal to mm/, mm/internal.h)
FOLL_WRITE, FOLL_GET, FOLL_FORCE, FOLL_LONGTERM = 1 << 0, 1 << 1, 1 << 3, 1 << 8
FOLL_PIN = 1 << 19
NS_FOLL_PIN_ACQUIRED, NS_FOLL_PIN_RELEASED = NODE_STAT_ITEM["NR_FOLL_PIN_ACQUIRED"], NODE_STAT_ITEM["NR_FOLL_PIN_RELEASED"]
# follow_page_mask's answers besides a page: fault first (NULL), unshare first (-EMLINK)
FOLLOW_FAULT, FOLLOW_UNSHARE = -1, -2
NO_ZONE = -1  # movable_idx when the machine has no ZONE_MOVABLE
# faults for one page before GUP gives up (EFAULT); the kernel retries without bound, and two
# are needed at most here: an unshare of a file THP in a private mapping splits (remaps) first
GUP_FAULT_RETRIES = 3


@njit(cache=True)
def is_zero_page(vs, pfn):
    return pfn == vs.vp[VP_ZERO_PFN]


@njit(cache=True)
def folio_is_longterm_pinnable(a, vs, head, movable_idx):
    """``folio_is_longterm_pinnable``: not in ZONE_MOVABLE (the zero page always is)."""
    return is_zero_page(vs, head) or a.zone_idx[B.page_zone(a, head)] != movable_idx


@njit(cache=True)
def folio_is_anon(a, head):
    return (a.mapping[head] & M.PAGE_MAPPING_ANON) != 0


@njit(cache=True)
def vma_needs_dirty_tracking(vmas, v):
    """``vma_needs_dirty_tracking``: a shared writable mapping whose filesystem wants to hear of
    writes (``->page_mkwrite``: ext4; tmpfs and memfd neither track nor write back)."""
    flags = vmas[v, M.VMA_FLAGS]
    shared_writable = (flags & (M.VM_WRITE | M.VM_SHARED)) == (M.VM_WRITE | M.VM_SHARED)
    return shared_writable and (vmas[v, M.VMA_FOPS] & M.FOPS_MKWRITE) != 0


@njit(cache=True)
def writable_file_mapping_allowed(vmas, v, gup_flags):
    """Only a long-term writable pin is refused, and only where writes need dirty tracking."""
    wanted = FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE
    return (gup_flags & wanted) != wanted or not vma_needs_dirty_tracking(vmas, v)


@njit(cache=True)
def check_vma_flags(vmas, v, gup_flags):
    """``check_vma_flags``: the file-mapping rule above, then ``M.check_vma_flags`` (the
    access rights, FOLL_FORCE)."""
    write = (gup_flags & FOLL_WRITE) != 0
    if write and not M.vma_is_anonymous(vmas, v) and not writable_file_mapping_allowed(vmas, v, gup_flags):
        return False
    return M.check_vma_flags(vmas, v, write, (gup_flags & FOLL_FORCE) != 0)


@njit(cache=True)
def gup_must_unshare(a, vmas, v, gup_flags, page):
    """``gup_must_unshare`` for a R/O-mapped ``page`` (``v`` -1: GUP-fast, no VMA): only a R/O
    pin asks; an anonymous page unless PageAnonExclusive; any other page (zero page, page
    cache) for a long-term pin in a COW mapping, or always without the VMA."""
    if (gup_flags & (FOLL_WRITE | FOLL_PIN)) != FOLL_PIN:
        return False
    if not folio_is_anon(a, B.compound_head(a, page)):
        if not gup_flags & FOLL_LONGTERM:
            return False
        return v < 0 or M.is_cow_mapping(vmas[v, M.VMA_FLAGS])
    return not a.flags[page] & PG_anon_exclusive_mask


@njit(cache=True)
def try_grab_folio(a, vs, head, refs, gup_flags):
    """``try_grab_folio``: ``refs`` references with FOLL_GET, ``refs`` pins with FOLL_PIN
    (none on the zero page)."""
    if is_zero_page(vs, head):
        return
    if gup_flags & FOLL_GET:
        a.refcount[head] += refs
        return
    if a.flags[head] & PG_head_mask:
        a.refcount[head] += refs
    else:
        a.refcount[head] += refs * GUP_PIN_COUNTING_BIAS
    a.pincount[head] += refs
    vs.nstat[a.zone_node[B.page_zone(a, head)], NS_FOLL_PIN_ACQUIRED] += refs


@njit(cache=True)
def gup_put_folio(a, vs, head, refs, gup_flags):
    """``gup_put_folio``: drop ``refs`` references (FOLL_GET) or pins (FOLL_PIN); the last
    reference frees the folio."""
    if is_zero_page(vs, head):
        return
    if gup_flags & FOLL_GET:
        a.refcount[head] -= refs - 1
        folio_put(a, head, vs.vp[M.VP_CPU])
        return
    vs.nstat[a.zone_node[B.page_zone(a, head)], NS_FOLL_PIN_RELEASED] += refs
    a.pincount[head] -= refs
    weight = refs if a.flags[head] & PG_head_mask else refs * GUP_PIN_COUNTING_BIAS
    a.refcount[head] -= weight - 1
    folio_put(a, head, vs.vp[M.VP_CPU])


@njit(cache=True)
def gup_fast_folio_allowed(a, head, gup_flags):
    """``gup_fast_folio_allowed``: a long-term writable pin takes only anonymous and shmem
    folios locklessly (a file folio may be under writeback, its mapping going away)."""
    wanted = FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE
    if (gup_flags & wanted) != wanted or folio_is_anon(a, head):
        return True
    return (a.flags[head] & PG_swapbacked_mask) != 0  # shmem_mapping


@njit(cache=True)
def leaf_page(vs, entry, level, addr):
    """The 4 KiB page of ``addr`` in the leaf ``entry`` found at ``level``."""
    page = pte_pfn(entry)
    if level < vs.vp[VP_LEVELS] - 1:
        page += (addr >> PAGE_SHIFT) & ((np.int64(1) << (vs.shift[level] - PAGE_SHIFT)) - 1)
    return page


@njit(cache=True)
def follow_page_mask(a, vs, vmas, v, pgd, addr, gup_flags):
    """``follow_page_mask`` for a pin: the 4 KiB page at ``addr``, FOLLOW_FAULT when nothing is
    mapped or a write is not allowed (``can_follow_write_pte``), FOLLOW_UNSHARE when a R/O pin
    must unshare first. A huge pmd is judged by its head (which carries PageAnonExclusive)."""
    entry, level = M.lookup_pte(a, vs, pgd, addr)
    if not pte_present(entry):
        return FOLLOW_FAULT
    head_page = pte_pfn(entry)
    writable = entry_has(entry, _PAGE_RW)
    if gup_flags & FOLL_WRITE and not writable and not M.can_follow_write(
            a, vs, vmas, v, entry, head_page, (gup_flags & FOLL_FORCE) != 0):
        return FOLLOW_FAULT
    if not writable and gup_must_unshare(a, vmas, v, gup_flags, head_page if level < vs.vp[VP_LEVELS] - 1
                                         else leaf_page(vs, entry, level, addr)):
        return FOLLOW_UNSHARE
    return leaf_page(vs, entry, level, addr)


@njit(cache=True)
def faultin_page(a, vs, xa, t, asid, vmas, mmc, addr, gup_flags, unshare):
    """``faultin_page``: ``handle_mm_fault`` for write (FOLL_WRITE) or to unshare; a fault that
    replaced a present entry flushes it from the TLBs. Returns the fault status."""
    vs.vp[VP_FLUSH_PENDING] = 0
    vs.vp[VP_FAULT_UNSHARE] = unshare
    status = M.handle_mm_fault(a, vs, xa, vmas, mmc, addr, (gup_flags & FOLL_WRITE) != 0)
    vs.vp[VP_FAULT_UNSHARE] = 0
    if status == M.FAULT_OK:
        M.mm_account_fault(vs, mmc)
        tlb_fault_done(vs, t, asid, addr)
    return status


@njit(cache=True)
def __get_user_pages(a, vs, xa, t, asid, vmas, mmc, start, gup_flags, pages, i):
    """``__get_user_pages`` with FOLL_PIN from page ``i`` of ``pages`` on: each page found (and
    faulted in or unshared as needed, then looked up again) gets its pin. Returns (pages
    pinned so far, status): FAULT_OK when all are, FAULT_EFAULT where GUP refuses, else the
    status of a fault that needs Python (which then resumes here)."""
    pgd = mmc[M.MMC_PGD]
    faults = 0
    while i < pages.shape[0]:
        addr = start + (i << PAGE_SHIFT)
        v = M.find_vma(vmas, addr)
        if v < 0 or vmas[v, M.VMA_START] > addr or not check_vma_flags(vmas, v, gup_flags):
            return i, M.FAULT_EFAULT
        page = follow_page_mask(a, vs, vmas, v, pgd, addr, gup_flags)
        if page < 0:
            if faults == GUP_FAULT_RETRIES:
                return i, M.FAULT_EFAULT
            status = faultin_page(a, vs, xa, t, asid, vmas, mmc, addr, gup_flags, page == FOLLOW_UNSHARE)
            if status != M.FAULT_OK:
                return i, status
            faults += 1
            continue
        try_grab_folio(a, vs, B.compound_head(a, page), 1, gup_flags)
        pages[i] = page
        i += 1
        faults = 0
    return i, M.FAULT_OK


@njit(cache=True)
def gup_fast(a, vs, vmas, pgd, start, gup_flags, pages, movable_idx):
    """``gup_fast``: pin pages from ``start`` on without faulting, up to the first that cannot
    be taken this way; returns how many were pinned. A huge pmd gives all its pages in range
    at once (``gup_fast_pmd_leaf``). ``vmas`` is not read: GUP-fast has no VMA."""
    write = (gup_flags & FOLL_WRITE) != 0
    i = 0
    while i < pages.shape[0]:
        addr = start + (i << PAGE_SHIFT)
        entry, level = M.lookup_pte(a, vs, pgd, addr)
        if not entry_present(entry) or write and not entry_has(entry, _PAGE_RW) or entry_has(entry, _PAGE_SPECIAL):
            break
        page = leaf_page(vs, entry, level, addr)
        head = B.compound_head(a, page)
        refs = 1
        if level < vs.vp[VP_LEVELS] - 1:
            refs = min(pages.shape[0] - i, (np.int64(1) << (vs.shift[level] - PAGE_SHIFT)) - (page - pte_pfn(entry)))
        if gup_flags & FOLL_LONGTERM and not folio_is_longterm_pinnable(a, vs, head, movable_idx):
            break  # try_grab_folio_fast
        try_grab_folio(a, vs, head, refs, gup_flags)
        judged = pte_pfn(entry) if level < vs.vp[VP_LEVELS] - 1 else page
        if not gup_fast_folio_allowed(a, head, gup_flags) or (
                not entry_has(entry, _PAGE_RW) and gup_must_unshare(a, vmas, -1, gup_flags, judged)):
            gup_put_folio(a, vs, head, refs, gup_flags)
            break
        for j in range(refs):
            pages[i + j] = page + j
        i += refs
    return i


@njit(cache=True)
def unpin_user_pages(a, vs, pages):
    """``unpin_user_pages``: one pin of each page's folio dropped."""
    for i in range(pages.shape[0]):
        gup_put_folio(a, vs, B.compound_head(a, pages[i]), 1, FOLL_PIN)


@njit(cache=True)
def put_user_pages(a, vs, pages):
    """``put_page`` of each page a FOLL_GET lookup returned (``release_pages``)."""
    for i in range(pages.shape[0]):
        gup_put_folio(a, vs, B.compound_head(a, pages[i]), 1, FOLL_GET)


@njit(cache=True)
def first_unpinnable(a, vs, pages, movable_idx):
    """``collect_longterm_unpinnable_folios``: the index of the first page that may not stay
    pinned long-term, or -1."""
    for i in range(pages.shape[0]):
        if not folio_is_longterm_pinnable(a, vs, B.compound_head(a, pages[i]), movable_idx):
            return i
    return -1


# ---- the Python face: locks, faults that need Python, the fallback -----------------------------


def movable_zone_idx(k) -> int:
    return k.zone_names.index("Movable") if "Movable" in k.zone_names else NO_ZONE


def __get_user_pages_locked(k, task, start: int, gup_flags: int, pages: np.ndarray) -> int:
    """Pin all of ``pages`` from ``start`` (the slow path), finishing in Python the faults the
    compiled walk hands back; returns how many were pinned, or -errno when none was."""
    i = 0
    with running(k, task):
        while True:
            set_current(k, task)
            vs = ensure_tables(k)
            i, status = __get_user_pages(k.mem_map, vs, k.page_cache, tlb_for(k), asid_of(task), task.vma_table,
                                         task.mmc, start, gup_flags, pages, i)
            if status == M.FAULT_OK:
                return i
            if status == M.FAULT_EFAULT or status in fault.SIGNAL_FAULTS:
                return i or -errno.EFAULT
            addr = start + (i << PAGE_SHIFT)
            if status == M.FAULT_NEED_ANON_VMA:  # vmf_anon_prepare: any private VMA, read-only too
                V.anon_vma_prepare(task.mm, find_vma(task.mm, addr))
                task.mm.hooks.vma_changed(task.mm)
            else:
                fault.handle_fault_status(k, task, vs, status, addr, bool(gup_flags & FOLL_WRITE))


def __gup_longterm_locked(k, task, start: int, gup_flags: int, pages: np.ndarray) -> int:
    """The slow path; for FOLL_LONGTERM then ``check_and_migrate_movable_folios``, which would
    migrate pages out of ZONE_MOVABLE: here the pins are dropped and the pin fails (-ENOMEM)."""
    nr = __get_user_pages_locked(k, task, start, gup_flags, pages)
    if nr <= 0 or not gup_flags & FOLL_LONGTERM:
        return nr
    if first_unpinnable(k.mem_map, k.vm_state, pages[:nr], movable_zone_idx(k)) < 0:
        return nr
    unpin_user_pages(k.mem_map, k.vm_state, pages[:nr])
    return -errno.ENOMEM


def gup_fast_fallback(k, task, start: int, nr_pages: int, gup_flags: int, fast: bool) -> tuple[int, np.ndarray]:
    """``pin_user_pages_fast``/``get_user_pages_fast`` (``fast``) or ``pin_user_pages``: the range
    checks, MMF_HAS_PINNED for a pin, GUP-fast for what it can take, the slow path for the rest.
    Returns (pages taken or -errno, the pages taken: 4 KiB pfns)."""
    task.check_alive()
    start &= ~(PAGE_SIZE - 1)
    end = start + (nr_pages << PAGE_SHIFT)
    if nr_pages < 0 or end >= 1 << 64:
        return -errno.EOVERFLOW, np.zeros(0, np.int64)
    if end > TASK_SIZE + PAGE_SIZE:  # TASK_SIZE_MAX
        return -errno.EFAULT, np.zeros(0, np.int64)
    if gup_flags & FOLL_PIN:
        task.mmc[MMC_HAS_PINNED] = 1  # mm_set_has_pinned_flag
    pages = np.zeros(nr_pages, np.int64)
    nr_pinned = 0
    if fast:
        nr_pinned = gup_fast(k.mem_map, ensure_tables(k), task.vma_table, int(task.mmc[M.MMC_PGD]), start,
                             gup_flags, pages, movable_zone_idx(k))
    if nr_pinned == nr_pages:
        return nr_pinned, pages
    ret = __gup_longterm_locked(k, task, start + (nr_pinned << PAGE_SHIFT), gup_flags, pages[nr_pinned:])
    if ret < 0:
        return (nr_pinned, pages[:nr_pinned]) if nr_pinned else (ret, pages[:0])
    return nr_pinned + ret, pages[:nr_pinned + ret]


def pin_user_pages(k, task, start: int, nr_pages: int, gup_flags: int, fast: bool = False) -> tuple[int, np.ndarray]:
    """``pin_user_pages``/``pin_user_pages_fast``: FOLL_PIN is implied."""
    return gup_fast_fallback(k, task, start, nr_pages, gup_flags | FOLL_PIN, fast)


def get_user_pages_fast(k, task, start: int, nr_pages: int, gup_flags: int) -> tuple[int, np.ndarray]:
    """``get_user_pages_fast``: FOLL_GET is implied (a reference on each page, no pin)."""
    return gup_fast_fallback(k, task, start, nr_pages, gup_flags | FOLL_GET, True)


def unpin(k, pages: np.ndarray) -> None:
    """``unpin_user_pages`` of pages a pin returned."""
    unpin_user_pages(k.mem_map, k.vm_state, pages)


def put_pages(k, pages: np.ndarray) -> None:
    """``put_page`` of each page ``get_user_pages_fast`` returned."""
    put_user_pages(k.mem_map, k.vm_state, pages)
