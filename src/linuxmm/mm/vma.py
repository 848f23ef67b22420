"""VMA manipulation (``mm/vma.c``), Linux 6.18: merge, split, unmap, gap search, new regions.

Everything here works on ``mm.vmas`` (sorted, non-overlapping) and keeps ``map_count`` and
the ``/proc/PID/status`` counters right:

* merging follows ``vma_merge_new_range`` (a new range joining ``prev``/``next``) and
  ``vma_merge_existing_range`` (part of a VMA changing flags, absorbed by a neighbour):
  same flags except ``VM_SOFTDIRTY``, the same file with contiguous ``vm_pgoff`` (private
  anonymous VMAs count pages from address 0, so adjacent ones are contiguous until mremap
  moves one that was faulted), compatible ``anon_vma`` (``is_mergeable_anon_vma``) and no
  ``VM_SPECIAL``; ``vma_modify`` merges if it can and splits otherwise, as mprotect and
  madvise need;
* ``split_vma`` refuses at ``vm.max_map_count`` (ENOMEM), ``do_vmi_munmap`` splits the ends
  and removes the VMAs in between, zapping their pages through ``mm.hooks``;
* ``unmapped_area``/``unmapped_area_topdown`` search the gaps as the maple tree does, with the
  stack guard gap below ``VM_GROWSDOWN`` VMAs;
* ``mmap_region`` (``__mmap_region``) replaces what MAP_FIXED covers, charges accountable
  mappings (``VM_ACCOUNT``) and links or merges the new VMA; ``do_brk_flags``, ``copy_vma``
  (mremap) and ``dup_mmap`` (fork) build on the same pieces.

Also here, beside their callers: ``vm_stat_account``, ``may_expand_vm`` and
``mlock_future_ok`` (``mm/mmap.c``), ``anon_vma_prepare`` (``mm/rmap.c``, with the
anon_vma functions of ``mm/rmap.py``), and ``shmem_zero_setup``, ``shmem_punch_hole`` and
``fput`` (``mm/shmem.c``, ``fs/file_table.c``). Every VMA that enters or leaves ``mm.vmas``
goes through ``vma_link`` or ``vma_unlink``, which keep the reverse map's links (anon_vma
trees, ``i_mmap``) and the file references right.
"""

from __future__ import annotations

import errno
from bisect import bisect_left, insort
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import KernelError
from ..include.linux.mm_types import (
    PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, STACK_GUARD_GAP, ULONG_MAX, VM_ACCESS_FLAGS, VM_ACCOUNT,
    PMD_SIZE, VM_DATA_DEFAULT_FLAGS, VM_DONTCOPY, VM_DROPPABLE, VM_EXEC, VM_GROWSDOWN, VM_HUGETLB, VM_IGNORE_MERGE, VM_LOCKED,
    VM_LOCKED_MASK, VM_NOHUGEPAGE, VM_NORESERVE, VM_SHADOW_STACK, VM_SHARED,
    VM_SEALED, VM_SOFTDIRTY, VM_SPECIAL, VM_STACK, VM_STARTGAP_FLAGS, VM_STICKY, VM_WIPEONFORK, VM_WRITE,
    find_vma, mm_struct, mmf_init_flags, shmem_acct_size, vm_area_struct, vma_index, vma_is_anonymous, vma_pages,
    vmas_in_range)
from ..include.linux.fs import file
from ..include.linux.rmap import anon_vma
from .rmap import (__anon_vma_prepare, anon_vma_clone, anon_vma_fork, unlink_anon_vmas, unlink_file_vma,
                   unmap_mapping_pages, vma_link_file)


# ---- syscall arguments --------------------------------------------------------------------------
def ulong(value, what: str) -> int:
    """A syscall's ``unsigned long`` argument: negative ints wrap as in C, others must fit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise KernelError(errno.EINVAL, f"{what} must be an integer, not {value!r}")
    if not -(1 << 63) <= value <= ULONG_MAX:
        raise KernelError(errno.EINVAL, f"{what} {value:#x} does not fit in 64 bits")
    return value & ULONG_MAX


def PAGE_ALIGN(x: int) -> int:
    """Round up to a page, wrapping at 2^64 like the C macro (so huge lengths become 0)."""
    return (x + PAGE_SIZE - 1) & PAGE_MASK


@contextmanager
def mmap_write_lock(mm: mm_struct):
    """Brackets one syscall; ``hooks.vma_changed`` runs once at the end if any VMA changed."""
    seq = mm.vma_seq
    try:
        yield
    finally:
        if mm.vma_seq != seq:
            mm.hooks.vma_changed(mm)


# ---- accounting (mm/mmap.c) -----------------------------------------------------------------
def is_exec_mapping(flags: int) -> bool:
    return flags & (VM_EXEC | VM_WRITE | VM_STACK) == VM_EXEC


def is_stack_mapping(flags: int) -> bool:
    return flags & VM_STACK == VM_STACK or bool(flags & VM_SHADOW_STACK)


def is_data_mapping(flags: int) -> bool:
    return flags & (VM_WRITE | VM_SHARED | VM_STACK) == VM_WRITE


def vm_stat_account(mm: mm_struct, flags: int, npages: int) -> None:
    """total_vm and the one of exec_vm/stack_vm/data_vm the flags belong to."""
    if npages < 0:
        mm.hiwater_vm = max(mm.hiwater_vm, mm.total_vm)  # update_hiwater_vm
    mm.total_vm += npages
    if is_exec_mapping(flags):
        mm.exec_vm += npages
    elif is_stack_mapping(flags):
        mm.stack_vm += npages
    elif is_data_mapping(flags):
        mm.data_vm += npages


def _pages_limit(limit: int | None) -> float:
    return float("inf") if limit is None else limit >> PAGE_SHIFT


def may_expand_vm(mm: mm_struct, flags: int, npages: int) -> bool:
    """RLIMIT_AS on total_vm, RLIMIT_DATA on data_vm."""
    if mm.total_vm + npages > _pages_limit(mm.rlimit("RLIMIT_AS")):
        return False
    data = mm.rlimit("RLIMIT_DATA")
    if is_data_mapping(flags) and mm.data_vm + npages > _pages_limit(data):
        # the Valgrind workaround: a zero soft limit falls back to the hard one
        return data == 0 and mm.data_vm + npages <= _pages_limit(mm.rlimits["RLIMIT_DATA"][1])
    return True


def can_do_mlock(mm: mm_struct) -> bool:
    return mm.rlimit("RLIMIT_MEMLOCK") != 0 or mm.capable("CAP_IPC_LOCK")


def mlock_future_ok(mm: mm_struct, flags: int, nbytes: int) -> bool:
    """Would locking ``nbytes`` more stay within RLIMIT_MEMLOCK?"""
    if not flags & VM_LOCKED or mm.capable("CAP_IPC_LOCK"):
        return True
    return (nbytes >> PAGE_SHIFT) + mm.locked_vm <= _pages_limit(mm.rlimit("RLIMIT_MEMLOCK"))


def vm_enough_memory(mm: mm_struct, pages: int) -> bool:
    """``security_vm_enough_memory_mm``: the overcommit policy is the hooks' (admit by default)."""
    check = getattr(mm.hooks, "vm_enough_memory", None)
    return True if check is None or pages <= 0 else bool(check(mm, pages))


def vm_acct_memory(mm: mm_struct, pages: int) -> None:
    """Charge ``pages`` (release, if negative) of this mm's VM_ACCOUNT memory to Committed_AS:
    its share ``mm.committed_pages`` and the kernel's ``vm_committed_as`` (through the hooks)."""
    mm.committed_pages += pages
    mm.hooks.vm_acct_memory(mm, pages)


def accountable_mapping(flags: int) -> bool:
    """Private writable memory is charged to Committed_AS unless MAP_NORESERVE."""
    return flags & (VM_NORESERVE | VM_SHARED | VM_WRITE) == VM_WRITE


def max_map_count(mm: mm_struct) -> int:
    return mm.vm.sysctl_max_map_count


# ---- the VMA list ---------------------------------------------------------------------------
def _start(vma: vm_area_struct) -> int:
    return vma.vm_start


def vmas_changed(mm: mm_struct, start: int, end: int) -> None:
    """VMAs of [start, end) moved, appeared, went or changed: that range of the mm's VMA
    table and the kernel's reverse-map table are rebuilt before compiled code reads them."""
    mm.vma_seq += 1
    mm.rmap.seq += 1
    mm.vma_changed_start = min(mm.vma_changed_start, start)
    mm.vma_changed_end = max(mm.vma_changed_end, end)


def vma_link(mm: mm_struct, vma: vm_area_struct) -> None:
    """Insert ``vma`` (already linked to its anon_vmas); a file VMA holds a reference to its
    file and joins the file's ``i_mmap``."""
    insort(mm.vmas, vma, key=_start)
    mm.map_count += 1
    vmas_changed(mm, vma.vm_start, vma.vm_end)
    if vma.vm_file is not None:
        vma.vm_file.f_count += 1  # get_file
        vma_link_file(mm.rmap, vma)


def vma_unlink(mm: mm_struct, vma: vm_area_struct) -> None:
    """Remove ``vma``: it leaves the anon_vma trees and its file's ``i_mmap``, and drops its
    file reference (``unlink_anon_vmas``, ``unlink_file_vma``, ``fput``)."""
    i = vma_index(mm, vma.vm_start)
    del mm.vmas[i if mm.vmas[i] is vma else mm.vmas.index(vma)]
    mm.map_count -= 1
    vmas_changed(mm, vma.vm_start, vma.vm_end)
    unlink_anon_vmas(mm.rmap, vma)
    if vma.vm_file is not None:
        unlink_file_vma(mm.rmap, vma)
        fput(mm, vma.vm_file)


def fput(mm: mm_struct, f: file) -> None:
    """Drop a VMA's reference to its file; the last reference releases it (``__fput``,
    through ``mm.hooks.release_file``): the unlinked shmem object of a shared anonymous
    mapping goes then (``shmem_evict_inode``: its pages, its commit charge, its page cache)."""
    f.f_count -= 1
    if f.f_count == 0:
        mm.hooks.release_file(mm, f)


def shmem_punch_hole(mm: mm_struct, f: file, offset: int, length: int) -> None:
    """``shmem_fallocate(FALLOC_FL_PUNCH_HOLE)`` (MADV_REMOVE): bytes [offset, offset+length)
    of the object are unmapped from every process mapping them, then leave its page cache
    (the next access finds a new zeroed page)."""
    last = offset + length - 1
    unmap_mapping_pages(f.f_mapping, offset >> PAGE_SHIFT, last >> PAGE_SHIFT)
    mm.hooks.shmem_truncate_range(mm, f.f_mapping, offset, last)


def vma_set_range(mm: mm_struct, vma: vm_area_struct, start: int, end: int, pgoff: int) -> None:
    vmas_changed(mm, min(vma.vm_start, start), max(vma.vm_end, end))
    vma.vm_start, vma.vm_end, vma.vm_pgoff = start, end, pgoff


def vm_flags_reset(mm: mm_struct, vma: vm_area_struct, flags: int) -> None:
    vma.vm_flags = flags
    vmas_changed(mm, vma.vm_start, vma.vm_end)  # the reverse-map table carries the flags (VM_LOCKED, VM_EXEC)


def vma_neighbours(mm: mm_struct, start: int, end: int):
    """The VMAs just below ``start`` and at or above ``end`` (around a free range)."""
    i = bisect_left(mm.vmas, end, key=_start)
    nxt = mm.vmas[i] if i < len(mm.vmas) else None
    prev = mm.vmas[i - 1] if i and mm.vmas[i - 1].vm_end <= start else None
    return prev, nxt


def vma_prev_next(mm: mm_struct, vma: vm_area_struct):
    i = vma_index(mm, vma.vm_start)
    return (mm.vmas[i - 1] if i else None), (mm.vmas[i + 1] if i + 1 < len(mm.vmas) else None)


def vm_area_dup(vma: vm_area_struct, mm: mm_struct | None = None) -> vm_area_struct:
    """A copy of ``vma`` with its anon_vma and name but no links yet (``anon_vma_clone`` or
    ``anon_vma_fork`` make them)."""
    new = vm_area_struct(mm or vma.vm_mm, vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff,
                         vma.vm_file, vma.anon_vma)
    new.anon_name = vma.anon_name
    return new


def stack_guard_start_gap(vma: vm_area_struct) -> int:
    if vma.vm_flags & VM_GROWSDOWN:
        return STACK_GUARD_GAP
    return PAGE_SIZE if vma.vm_flags & VM_SHADOW_STACK else 0


def vm_start_gap(vma: vm_area_struct) -> int:
    """Where the VMA's start guard begins: 1 MiB below a stack that grows down."""
    return max(vma.vm_start - stack_guard_start_gap(vma), 0)


def vm_end_gap(vma: vm_area_struct) -> int:
    return vma.vm_end  # no VM_GROWSUP on x86


# ---- merging ----------------------------------------------------------------------------------
@dataclass
class vma_merge_struct:
    """``struct vma_merge_struct``: the range, its would-be attributes (flags, file,
    anon_vma, anon name) and its neighbours; ``copied_from`` is the VMA mremap copies the
    range from (its anon_vma must follow)."""

    mm: mm_struct
    prev: vm_area_struct | None
    middle: vm_area_struct | None
    next: vm_area_struct | None
    start: int
    end: int
    pgoff: int
    flags: int
    file: file | None = None
    anon_vma: anon_vma | None = None
    copied_from: vm_area_struct | None = None
    anon_name: str | None = None


def is_mergeable_vma(vma: vm_area_struct, vmg: vma_merge_struct) -> bool:
    """Same flags (but the sticky ones), same file, same anon name (``anon_vma_name_eq``)."""
    return (not (vma.vm_flags ^ vmg.flags) & ~VM_IGNORE_MERGE and vma.vm_file is vmg.file
            and vma.anon_name == vmg.anon_name)


def vma_had_uncowed_parents(vma: vm_area_struct | None) -> bool:
    """A forked VMA whose anon_vma chain still links its parents' anon_vmas."""
    return vma is not None and vma.anon_vma is not None and len(vma.anon_vma_chain) > 1


def is_mergeable_anon_vma(tgt: vm_area_struct, src_anon: anon_vma | None, src: vm_area_struct | None) -> bool:
    if tgt.anon_vma is None and src_anon is not None:
        return not vma_had_uncowed_parents(src)
    if tgt.anon_vma is not None and src_anon is None:
        return not vma_had_uncowed_parents(tgt)
    return src_anon is tgt.anon_vma


def are_anon_vmas_compatible(a: vm_area_struct, b: vm_area_struct) -> bool:
    return a.anon_vma is None or b.anon_vma is None or a.anon_vma is b.anon_vma


def can_vma_merge_after(vmg: vma_merge_struct) -> bool:
    """Can the range be appended to ``prev``?"""
    prev = vmg.prev
    return (prev is not None and prev.vm_end == vmg.start
            and is_mergeable_vma(prev, vmg)
            and is_mergeable_anon_vma(prev, vmg.anon_vma, vmg.middle)
            and prev.vm_pgoff + vma_pages(prev) == vmg.pgoff)


def can_vma_merge_before(vmg: vma_merge_struct) -> bool:
    """Can the range be prepended to ``next``?"""
    nxt = vmg.next
    return (nxt is not None and nxt.vm_start == vmg.end
            and is_mergeable_vma(nxt, vmg)
            and is_mergeable_anon_vma(nxt, vmg.anon_vma, vmg.middle)
            and nxt.vm_pgoff == vmg.pgoff + ((vmg.end - vmg.start) >> PAGE_SHIFT))


def vma_set_sticky(mm: mm_struct, target: vm_area_struct, *flags: int) -> None:
    """A merge keeps the sticky flags (VM_SOFTDIRTY, VM_MAYBE_GUARD) of every part."""
    sticky = 0
    for f in flags:
        sticky |= f & VM_STICKY
    if sticky & ~target.vm_flags:
        vm_flags_reset(mm, target, target.vm_flags | sticky)


def dup_anon_vma(mm: mm_struct, dst: vm_area_struct, src: vm_area_struct) -> None:
    """``dst`` grows over pages of ``src``: it takes ``src``'s anon_vma and links."""
    if src.anon_vma is not None and dst.anon_vma is None:
        dst.anon_vma = src.anon_vma
        anon_vma_clone(mm.rmap, dst, src)
        vmas_changed(mm, dst.vm_start, dst.vm_end)


def _merge_sides(vmg: vma_merge_struct, left_ok: bool, right_ok: bool) -> tuple[bool, bool]:
    left = left_ok and can_vma_merge_after(vmg)
    right = right_ok and can_vma_merge_before(vmg)
    if left and right and not are_anon_vmas_compatible(vmg.prev, vmg.next):
        right = False  # prev and next would share one anon_vma: keep just the left merge
    return left, right


def vma_merge_new_range(vmg: vma_merge_struct) -> vm_area_struct | None:
    """Attach the new range [start, end) to ``prev`` and/or ``next``; the VMA that now covers
    it, or None when neither can take it."""
    if vmg.flags & VM_SPECIAL:
        return None
    left, right = _merge_sides(vmg, True, True)
    mm, prev, nxt = vmg.mm, vmg.prev, vmg.next
    if left:
        end = nxt.vm_end if right else vmg.end
        if right:
            dup_anon_vma(mm, prev, nxt)
            vma_set_sticky(mm, prev, nxt.vm_flags)
            vma_unlink(mm, nxt)
        vma_set_range(mm, prev, prev.vm_start, end, prev.vm_pgoff)
        target = prev
    elif right:
        vma_set_range(mm, nxt, vmg.start, nxt.vm_end, vmg.pgoff)
        target = nxt
    else:
        return None
    if vmg.copied_from is not None:
        dup_anon_vma(mm, target, vmg.copied_from)
    vma_set_sticky(mm, target, vmg.flags)
    return target


def vma_merge_existing_range(vmg: vma_merge_struct) -> vm_area_struct | None:
    """Part [start, end) of ``middle`` takes new flags: let a neighbour absorb it if it can."""
    mm, middle, prev, nxt = vmg.mm, vmg.middle, vmg.prev, vmg.next
    left_side, right_side = vmg.start == middle.vm_start, vmg.end == middle.vm_end
    if vmg.flags & VM_SPECIAL or middle.vm_flags & VM_SPECIAL:
        return None
    left, right = _merge_sides(vmg, left_side, right_side)
    if not left and not right:
        return None
    target = prev if left else nxt
    dup_anon_vma(mm, target, middle)
    vma_set_sticky(mm, target, middle.vm_flags, vmg.flags, nxt.vm_flags if left and right else 0)
    if left and right:
        dup_anon_vma(mm, prev, nxt)
        vma_unlink(mm, middle)
        vma_unlink(mm, nxt)
        vma_set_range(mm, prev, prev.vm_start, nxt.vm_end, prev.vm_pgoff)
    elif left:
        if right_side:
            vma_unlink(mm, middle)
        else:
            _trim_front(mm, middle, vmg.end)
        vma_set_range(mm, prev, prev.vm_start, vmg.end, prev.vm_pgoff)
    elif left_side:
        vma_unlink(mm, middle)
        vma_set_range(mm, nxt, vmg.start, nxt.vm_end, vmg.pgoff)
    else:
        vma_set_range(mm, middle, middle.vm_start, vmg.start, middle.vm_pgoff)
        vma_set_range(mm, nxt, vmg.start, nxt.vm_end, vmg.pgoff)
    return target


def _trim_front(mm: mm_struct, vma: vm_area_struct, new_start: int) -> None:
    pgoff = vma.vm_pgoff + ((new_start - vma.vm_start) >> PAGE_SHIFT)
    vma_set_range(mm, vma, new_start, vma.vm_end, pgoff)


def __split_vma(mm: mm_struct, vma: vm_area_struct, addr: int, new_below: bool) -> vm_area_struct:
    """Cut ``vma`` at ``addr``; the new VMA is the lower part if ``new_below``. Returns it."""
    vma_adjust_trans_huge(mm, vma, addr)
    new = vm_area_dup(vma)
    if new_below:
        new.vm_end = addr
        _trim_front(mm, vma, addr)
    else:
        new.vm_start = addr
        new.vm_pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT)
        vma_set_range(mm, vma, vma.vm_start, addr, vma.vm_pgoff)
    anon_vma_clone(mm.rmap, new, vma)
    vma_link(mm, new)
    return new


def vma_adjust_trans_huge(mm: mm_struct, vma: vm_area_struct, addr: int) -> None:
    """``split_huge_pmd_if_needed``: a cut at ``addr`` inside a PMD range ``vma`` covers whole
    splits the huge pmd there (a THP cannot straddle two VMAs)."""
    haddr = addr & ~(PMD_SIZE - 1)
    if addr != haddr and vma.vm_start <= haddr and haddr + PMD_SIZE <= vma.vm_end:
        mm.hooks.split_huge_pmd_address(mm, addr)


def split_vma(mm: mm_struct, vma: vm_area_struct, addr: int, new_below: bool) -> vm_area_struct:
    if mm.map_count >= max_map_count(mm):
        raise KernelError(errno.ENOMEM, f"splitting would exceed vm.max_map_count ({max_map_count(mm)})")
    return __split_vma(mm, vma, addr, new_below)


def vma_modify_flags(mm: mm_struct, vma: vm_area_struct, start: int, end: int,
                     flags: int) -> vm_area_struct:
    """``vma_modify``: the VMA that covers exactly [start, end) (or a merge containing it), ready
    to take ``flags``: merged into a neighbour when possible, else split out of ``vma``."""
    return vma_modify(mm, vma, start, end, flags, vma.anon_name)


def vma_modify_name(mm: mm_struct, vma: vm_area_struct, start: int, end: int,
                    name: str | None) -> vm_area_struct:
    """The same for a new anon name: [start, end) of ``vma`` merged into a neighbour of that
    name, or split out; the caller names the result."""
    return vma_modify(mm, vma, start, end, vma.vm_flags, name)


def vma_modify(mm: mm_struct, vma: vm_area_struct, start: int, end: int, flags: int,
               name: str | None) -> vm_area_struct:
    prev, nxt = vma_prev_next(mm, vma)
    pgoff = vma.vm_pgoff + ((start - vma.vm_start) >> PAGE_SHIFT)
    vmg = vma_merge_struct(mm, prev, vma, nxt, start, end, pgoff, flags, vma.vm_file, vma.anon_vma,
                           anon_name=name)
    merged = vma_merge_existing_range(vmg)
    if merged is not None:
        return merged
    if vma.vm_start < start:
        split_vma(mm, vma, start, True)
    if vma.vm_end > end:
        split_vma(mm, vma, end, False)
    return vma


# ---- anon_vma (mm/rmap.c) ---------------------------------------------------------------------
def anon_vma_compatible(a: vm_area_struct, b: vm_area_struct) -> bool:
    """Adjacent, same file, flags equal but for access bits, contiguous offsets."""
    return (a.vm_end == b.vm_start and a.vm_file is b.vm_file
            and not (a.vm_flags ^ b.vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)
            and b.vm_pgoff == a.vm_pgoff + ((b.vm_start - a.vm_start) >> PAGE_SHIFT))


def find_mergeable_anon_vma(mm: mm_struct, vma: vm_area_struct) -> anon_vma | None:
    """A neighbour's anon_vma ``vma`` may share (next tried first): one linked to that
    neighbour alone (``reusable_anon_vma``)."""
    prev, nxt = vma_prev_next(mm, vma)
    for old, a, b in ((nxt, vma, nxt), (prev, prev, vma)):
        if old is not None and anon_vma_compatible(a, b) and old.anon_vma is not None \
                and len(old.anon_vma_chain) == 1:
            return old.anon_vma
    return None


def anon_vma_prepare(mm: mm_struct, vma: vm_area_struct) -> anon_vma:
    """Give ``vma`` an anon_vma before its first anonymous page (``__anon_vma_prepare``)."""
    if vma.anon_vma is None:
        __anon_vma_prepare(mm.rmap, vma, find_mergeable_anon_vma(mm, vma))
        vmas_changed(mm, vma.vm_start, vma.vm_end)
    return vma.anon_vma


# ---- munmap -----------------------------------------------------------------------------------
def can_modify_vma(vma: vm_area_struct) -> bool:
    """``can_modify_vma`` (``mm/vma.h``): an mseal()ed VMA may not be unmapped, moved,
    replaced or mprotect()ed."""
    return not vma.vm_flags & VM_SEALED


def do_vmi_munmap(mm: mm_struct, start: int, length: int, account: bool = True) -> None:
    """Unmap [start, start + PAGE_ALIGN(length)); a range without VMAs is fine."""
    if start & ~PAGE_MASK or start > mm.task_size or length > mm.task_size - start:
        raise KernelError(errno.EINVAL, f"munmap: bad range {start:#x}+{length:#x}")
    end = start + PAGE_ALIGN(length)
    if end == start:
        raise KernelError(errno.EINVAL, "munmap: zero length")
    if vmas_in_range(mm, start, end):
        do_vmi_align_munmap(mm, start, end, account)


def do_vmi_align_munmap(mm: mm_struct, start: int, end: int, account: bool = True) -> int:
    """Split the VMAs at the ends of the page-aligned range, zap it, remove what is inside.
    With ``account`` False the removed VMAs' commit charge is left to the caller. Returns
    the number of pages removed."""
    vmas = vmas_in_range(mm, start, end)
    if not all(can_modify_vma(vma) for vma in vmas):  # vms_gather_munmap_vmas, before any split
        raise KernelError(errno.EPERM, f"{start:#x}-{end:#x} holds a sealed mapping (mseal)")
    first, last = vmas[0], vmas[-1]
    if first.vm_start < start:
        if end < first.vm_end and mm.map_count >= max_map_count(mm):
            raise KernelError(errno.ENOMEM, f"punching a hole would exceed vm.max_map_count ({max_map_count(mm)})")
        __split_vma(mm, first, start, True)
    if last.vm_end > end:
        __split_vma(mm, last, end, False)
    vmas = vmas_in_range(mm, start, end)
    mm.hooks.zap_range(mm, vmas[0].vm_start, vmas[-1].vm_end)
    return sum(remove_vma(mm, vma, account) for vma in vmas)


def remove_vma(mm: mm_struct, vma: vm_area_struct, account: bool = True) -> int:
    """Unlink a VMA whose pages are gone and take it out of the counters."""
    pages = vma_pages(vma)
    vm_stat_account(mm, vma.vm_flags, -pages)
    if vma.vm_flags & VM_LOCKED:
        mm.locked_vm -= pages
    if vma.vm_flags & VM_ACCOUNT and account:
        vm_acct_memory(mm, -pages)
    vma_unlink(mm, vma)
    return pages


# ---- gap search -------------------------------------------------------------------------------
@dataclass
class vm_unmapped_area_info:
    length: int
    low_limit: int
    high_limit: int
    topdown: bool = True
    align_mask: int = 0
    align_offset: int = 0
    start_gap: int = 0


def _gaps(mm: mm_struct, low: int, high: int, reverse: bool):
    """Free ranges of [low, high) as (start, end), lowest first or highest first."""
    out, cursor = [], low
    for vma in vmas_in_range(mm, low, high):
        if vma.vm_start > cursor:
            out.append((cursor, vma.vm_start))
        cursor = max(cursor, vma.vm_end)
    if cursor < high:
        out.append((cursor, high))
    return reversed(out) if reverse else out


def _area(mm: mm_struct, low: int, high: int, length: int, topdown: bool):
    """``vma_iter_area_highest``/``lowest``: the first fitting gap from the top or the bottom."""
    for gs, ge in _gaps(mm, low, high, topdown):
        if ge - gs >= length:
            return gs, ge
    return None


def unmapped_area_topdown(mm: mm_struct, info: vm_unmapped_area_info) -> int:
    length = info.length + info.align_mask + info.start_gap
    low, high = max(info.low_limit, mm.mmap_min_addr), info.high_limit
    while (area := _area(mm, low, high, length, True)) is not None:
        gap_end = area[1]
        gap = gap_end - info.length
        gap -= (gap - info.align_offset) & info.align_mask
        nxt = find_vma(mm, gap_end)
        if nxt is not None and nxt.vm_flags & VM_STARTGAP_FLAGS:
            if vm_start_gap(nxt) < gap_end:
                high = vm_start_gap(nxt)  # the next VMA's guard gap reaches down here
                continue
        else:
            i = vma_index(mm, gap)
            prev = mm.vmas[i - 1] if i else None
            if prev is not None and vm_end_gap(prev) > gap:
                high = prev.vm_start
                continue
        return gap
    raise KernelError(errno.ENOMEM, f"no free range of {info.length:#x} bytes below {info.high_limit:#x}")


def unmapped_area(mm: mm_struct, info: vm_unmapped_area_info) -> int:
    length = info.length + info.align_mask + info.start_gap
    low, high = max(info.low_limit, mm.mmap_min_addr), info.high_limit
    while (area := _area(mm, low, high, length, False)) is not None:
        gap = area[0] + info.start_gap
        gap += (info.align_offset - gap) & info.align_mask
        nxt = find_vma(mm, gap)
        if nxt is not None and nxt.vm_flags & VM_STARTGAP_FLAGS:
            if vm_start_gap(nxt) < gap + length - 1:
                low = nxt.vm_end
                continue
        else:
            i = vma_index(mm, gap)
            prev = mm.vmas[i - 1] if i else None
            if prev is not None and vm_end_gap(prev) > gap:
                low = vm_end_gap(prev)
                continue
        return gap
    raise KernelError(errno.ENOMEM, f"no free range of {info.length:#x} bytes above {info.low_limit:#x}")


def vm_unmapped_area(mm: mm_struct, info: vm_unmapped_area_info) -> int:
    return unmapped_area_topdown(mm, info) if info.topdown else unmapped_area(mm, info)


# ---- new regions ------------------------------------------------------------------------------
def shmem_zero_setup(mm: mm_struct, vma: vm_area_struct) -> None:
    """MAP_SHARED|MAP_ANONYMOUS: back the VMA with a new unlinked tmpfs file ("/dev/zero",
    ``shmem_kernel_file_setup`` through ``mm.hooks.shmem_file_setup``) whose size is charged
    to Committed_AS (``shmem_acct_size``)."""
    size = vma.vm_end - vma.vm_start
    vma.vm_file = mm.hooks.shmem_file_setup(mm, size, vma.vm_flags & VM_NORESERVE)
    mm.hooks.vm_acct_memory(mm, vma.vm_file.committed_pages)


def _overlap(mm: mm_struct, start: int, end: int) -> tuple[int, int]:
    """Pages of [start, end) mapped now, and how many of them are charged (VM_ACCOUNT)."""
    pages = accounted = 0
    for vma in vmas_in_range(mm, start, end):
        n = (min(end, vma.vm_end) - max(start, vma.vm_start)) >> PAGE_SHIFT
        pages += n
        accounted += n if vma.vm_flags & VM_ACCOUNT else 0
    return pages, accounted


def _check_punch(mm: mm_struct, start: int, end: int) -> None:
    vmas = vmas_in_range(mm, start, end)
    if vmas and vmas[0].vm_start < start < end < vmas[0].vm_end and mm.map_count >= max_map_count(mm):
        raise KernelError(errno.ENOMEM, f"punching a hole would exceed vm.max_map_count ({max_map_count(mm)})")


def mmap_region(mm: mm_struct, addr: int, length: int, flags: int, pgoff: int, f: file | None = None) -> int:
    """``__mmap_region`` of anonymous memory or of the open file ``f``: replace what
    [addr, addr+length) covers, charge, merge with a neighbour or link a new VMA, account."""
    end, pglen = addr + length, length >> PAGE_SHIFT
    nr_pages, nr_accounted = _overlap(mm, addr, end)
    _check_punch(mm, addr, end)
    if not may_expand_vm(mm, flags, pglen - nr_pages):
        raise KernelError(errno.ENOMEM, "mmap: RLIMIT_AS or RLIMIT_DATA reached")
    charged = 0
    if accountable_mapping(flags):
        charged = pglen - nr_accounted
        if not vm_enough_memory(mm, charged):
            raise KernelError(errno.ENOMEM, f"mmap: cannot commit {charged} more pages (overcommit)")
        flags |= VM_ACCOUNT
    if f is None and flags & VM_SHARED and not vm_enough_memory(mm, shmem_acct_size(flags, length)):
        raise KernelError(errno.ENOMEM, "mmap: cannot commit the shared anonymous memory")
    if nr_pages:  # MAP_FIXED over existing mappings; their charge moves to the new one
        do_vmi_align_munmap(mm, addr, end, account=not flags & VM_ACCOUNT)
        # vms_clean_up_area: the replaced range's page tables are freed (free_pgtables up
        # to the neighbours) before the new VMA exists, so it can start with a huge PMD
        mm.hooks.vma_changed(mm)
    vma = _mmap_new_or_merge(mm, addr, end, flags, pgoff, f)
    vm_acct_memory(mm, charged)
    _mmap_complete(mm, vma, pglen)
    return addr


def _mmap_new_or_merge(mm: mm_struct, addr: int, end: int, flags: int, pgoff: int,
                       f: file | None) -> vm_area_struct:
    prev, nxt = vma_neighbours(mm, addr, end)
    vma = vma_merge_new_range(vma_merge_struct(mm, prev, None, nxt, addr, end, pgoff, flags, f))
    if vma is None:
        vma = vm_area_struct(mm, addr, end, flags, pgoff, f)
        if f is None and flags & VM_SHARED:
            shmem_zero_setup(mm, vma)
        vma_link(mm, vma)
    return vma


def _mmap_complete(mm: mm_struct, vma: vm_area_struct, pglen: int) -> None:
    vm_stat_account(mm, vma.vm_flags, pglen)
    if vma.vm_flags & VM_LOCKED:
        # MAP_DROPPABLE memory is never locked (host 6.18: with MCL_FUTURE it is populated
        # but its VmFlags lack "lo")
        if vma.vm_flags & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE):
            vm_flags_reset(mm, vma, vma.vm_flags & ~VM_LOCKED_MASK)
        else:
            mm.locked_vm += pglen
    if mm.config.mem_soft_dirty:  # new (or expanded) VMAs are soft-dirty
        vm_flags_reset(mm, vma, vma.vm_flags | VM_SOFTDIRTY)


def do_brk_flags(mm: mm_struct, brkvma: vm_area_struct | None, addr: int, length: int,
                 flags: int = 0) -> None:
    """Extend the heap VMA ``brkvma`` (or create one) over [addr, addr+length)."""
    if flags & ~VM_EXEC:
        raise KernelError(errno.EINVAL, "brk: only VM_EXEC may be asked for")
    flags |= VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm.def_flags
    pages = length >> PAGE_SHIFT
    if not may_expand_vm(mm, flags, pages) or mm.map_count > max_map_count(mm):
        raise KernelError(errno.ENOMEM, "brk: address-space limit reached")
    if not vm_enough_memory(mm, pages):
        raise KernelError(errno.ENOMEM, "brk: cannot commit more memory")
    vma = None
    if brkvma is not None and brkvma.vm_end == addr:  # expand only: next is not considered
        vmg = vma_merge_struct(mm, brkvma, None, None, addr, addr + length, addr >> PAGE_SHIFT, flags)
        vma = vma_merge_new_range(vmg)
    if vma is None:
        vma = vm_area_struct(mm, addr, addr + length, flags, addr >> PAGE_SHIFT)
        vma_link(mm, vma)
    vm_acct_memory(mm, pages)
    mm.total_vm += pages
    mm.data_vm += pages
    if flags & VM_LOCKED:
        mm.locked_vm += pages
    if mm.config.mem_soft_dirty:
        vm_flags_reset(mm, vma, vma.vm_flags | VM_SOFTDIRTY)


def copy_vma(mm: mm_struct, vma: vm_area_struct, addr: int, length: int, pgoff: int) -> vm_area_struct:
    """mremap's copy of part of ``vma`` (starting at page offset ``pgoff``) to
    [addr, addr+length), merged with the VMAs there if possible.

    An anonymous VMA that never faulted takes the offset of its new address, so it can merge
    there; a faulted one keeps its ``vm_pgoff`` (its pages' index), which stops most merges."""
    if vma_is_anonymous(vma) and vma.anon_vma is None:
        pgoff = addr >> PAGE_SHIFT
    prev, nxt = vma_neighbours(mm, addr, addr + length)
    vmg = vma_merge_struct(mm, prev, None, nxt, addr, addr + length, pgoff, vma.vm_flags,
                           vma.vm_file, vma.anon_vma, copied_from=vma, anon_name=vma.anon_name)
    new = vma_merge_new_range(vmg)
    if new is None:
        new = vm_area_dup(vma)
        new.vm_start, new.vm_end, new.vm_pgoff = addr, addr + length, pgoff
        anon_vma_clone(mm.rmap, new, vma)
        vma_link(mm, new)
    return new


def dup_mmap(oldmm: mm_struct, mm: mm_struct) -> None:
    """fork: the child gets the parent's layout, counters and a copy of every VMA except
    VM_DONTCOPY ones; VM_WIPEONFORK VMAs start without anon_vma, the others get a child
    anon_vma linked to the parent's; mlock does not survive."""
    for name in ("vm", "rlimits", "capabilities", "rmap", "config", "task_size", "default_map_window", "start_brk", "brk",
                 "start_stack", "start_data", "end_data", "mmap_base", "mmap_legacy_base",
                 "total_vm", "data_vm", "exec_vm", "stack_vm"):
        setattr(mm, name, getattr(oldmm, name))
    mm.flags = mmf_init_flags(oldmm.flags)
    mm.def_flags = oldmm.def_flags & VM_NOHUGEPAGE  # VM_INIT_DEF_MASK
    for vma in oldmm.vmas:
        if vma.vm_flags & VM_ACCOUNT and not vm_enough_memory(oldmm, vma_pages(vma)):
            raise KernelError(errno.ENOMEM, "fork: cannot commit the child's private memory")
        _dup_one(mm, vma)


def _dup_one(mm: mm_struct, vma: vm_area_struct) -> None:
    if vma.vm_flags & VM_DONTCOPY:
        vm_stat_account(mm, vma.vm_flags, -vma_pages(vma))
        return
    tmp = vm_area_dup(vma, mm)
    tmp.vm_flags &= ~VM_LOCKED_MASK
    if vma.vm_flags & VM_WIPEONFORK:
        tmp.anon_vma = None  # a clean slate: the child's first fault prepares one
    else:
        anon_vma_fork(mm.rmap, tmp, vma)
    if vma.vm_flags & VM_ACCOUNT:
        vm_acct_memory(mm, vma_pages(vma))
    vma_link(mm, tmp)

