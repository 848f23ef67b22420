"""``Process``: a simulated user process to script — mmap, touch memory, fork, exit.

    >>> m = linuxmm.Machine()
    >>> p = m.spawn()
    >>> a = p.mmap(64 << 20, prot="rw", flags="private|anonymous")
    >>> p.write(a, 64 << 20, stride=4096, value=7)   # 16384 page faults
    >>> c = p.fork(); c.write(a, 16 << 20)              # copy-on-write faults in the child
    >>> p.smaps_rollup()["Rss"]

Every call goes through the kernel's paths: ``do_mmap`` and friends for the address space,
the compiled MMU + fault path for accesses, ``copy_process``/``do_exit`` for fork and exit.
Bad arguments raise ``KernelError`` with the kernel's errno; a bad access kills the process
and raises ``SegmentationFault`` (address and ``error N`` as dmesg prints them), or
``BusError`` for a shared mapping touched beyond the end of its object (SIGBUS). The OOM
killer's SIGKILL raises ``Killed`` from the call that was running when it landed (or the
first call on a victim killed while it was not running).
"""

from __future__ import annotations

import errno
import html
from contextlib import contextmanager

import numpy as np

from .arch.x86.mm import fault
from .errors import KernelError
from .include.linux.fs import FMODE_PREAD, FMODE_PWRITE, FMODE_STREAM
from .include.linux.mm_types import PMD_SIZE, ULONG_MAX, VM_LOCKED, vmas_in_range
from .include.linux.sched import TASK_RUNNING
from .kernel import fork as F
from .mm import memory as M
from .mm import mprotect, mremap
from .mm.gup import FOLL_WRITE
from .mm.gup_test import GUP_TEST_MAX_PAGES_TO_DUMP, U32_MAX, GupTest, gup_test_ioctl
from .mm.khugepaged import khugepaged_enter_vma
from .fs import file_table
from .mm.shmem import shmem_kernel_file_setup, shmem_swap_usage, shmem_truncate_range
from .records import PagemapScan, PageRegion, PageWalk, VmArea, vm_area, vmas_html


class PageTableHooks:
    """What the address-space layer asks of the page tables (``mm_types.MmHooks``)."""

    def __init__(self, k, task):
        self.k, self.task = k, task

    def zap_range(self, mm, start: int, end: int, drop_markers: bool = True) -> None:
        k, t = self.k, self.task
        a, vs = k.mem_map, F.ensure_tables(k)
        F.mlock_locked_vmas(k, t, start, end, False)
        M.unmap_page_range(a, vs, t.mmc, int(t.mmc[M.MMC_PGD]), start, end, drop_markers, False)
        F.flush_tlb_range(k, t, start, end)

    def mlock_vma_pages_range(self, mm, start: int, end: int, lock: bool) -> None:
        F.mlock_vma_pages_range(self.k, self.task, start, end, lock)

    def vm_acct_memory(self, mm, pages: int) -> None:
        self.k.vm_committed_as += pages

    def vm_enough_memory(self, mm, pages: int) -> bool:
        """The overcommit policy (``mm/util.py``), for this task."""
        from .mm.util import security_vm_enough_memory_mm

        return security_vm_enough_memory_mm(self.k, mm, pages, self.task)

    def vma_changed(self, mm) -> None:
        """The VMAs of the range ``vmas_changed`` recorded (none recorded: any, e.g. prctl's THP
        policy) may enter khugepaged (mmap, MADV_HUGEPAGE, a merge: ``khugepaged_enter_vma``);
        their rows of the task's VMA table are replaced, the others stay (as the kernel's
        maple tree changes in place); tables no VMA needs are freed."""
        t = self.task
        start, end = mm.vma_changed_start, mm.vma_changed_end
        mm.vma_changed_start, mm.vma_changed_end = ULONG_MAX, 0
        changed = vmas_in_range(mm, start, end) if start < end else mm.vmas
        if start < end and len(mm.vmas) >= F.VMA_TABLE_SPLICE_MIN:
            t.vma_table = F.vma_table_update(mm, t.vma_table, start, end, changed)
        else:
            t.vma_table = F.build_vma_table(mm)
        for vma in changed:
            khugepaged_enter_vma(self.k, t, vma)
        if t.state == TASK_RUNNING and self.k.vm_state is not None:
            lo, hi = (start, end) if start < end else (0, F.USER_SPACE_END)  # where the VMAs changed
            M.free_pgd_range(self.k.mem_map, self.k.vm_state, t.mmc, int(t.mmc[M.MMC_PGD]), t.vma_table, lo, hi)

    def change_protection(self, mm, start: int, end: int, new_flags: int) -> None:
        from .include.linux.mm_types import find_vma

        k, t = self.k, self.task
        vma = find_vma(mm, start)
        if F.vma_file_columns(vma.vm_file)[2] & M.FOPS_MKWRITE:  # vma_wants_writenotify: vm_page_prot
            new_flags &= ~M.VM_SHARED  # has no write bit; a pte stays writable only if it was
        mprotect.change_protection(k.mem_map, F.ensure_tables(k), t.mmc, int(t.mmc[M.MMC_PGD]), start, end,
                                   new_flags)
        F.flush_tlb_range(k, t, start, end)

    def split_huge_pmd_address(self, mm, address: int) -> None:
        k, t = self.k, self.task
        if t.state == TASK_RUNNING and k.vm_state is not None:
            M.split_huge_pmd_address(k.mem_map, k.vm_state, t.mmc, int(t.mmc[M.MMC_PGD]), address)
            haddr = address & ~(PMD_SIZE - 1)
            F.flush_tlb_range(k, t, haddr, haddr + PMD_SIZE)

    def move_page_tables(self, mm, old_start: int, new_start: int, length: int) -> None:
        move_range(self.k, self.task, old_start, new_start, length)

    def populate(self, mm, start: int, end: int, write: bool, tried: bool = False) -> None:
        # populate_vma_page_range: GUP faults each page in, for write (breaking COW) when the
        # mapping is private and writable, without touching the contents; a fault that dropped
        # the mmap lock to wait for I/O is started again, not retried (a minor fault) unless
        # ``tried`` (faultin_page_range, MADV_POPULATE_*)
        addrs = np.arange(start, end, 4096, dtype=np.int64)
        fault.access(self.k, self.task, addrs, write, -1 if write else 0, tried, gup=True)
        F.mlock_locked_vmas(self.k, self.task, start, end, True)  # folio_add_*_rmap -> mlock_vma_folio

    def zap_page_range_single(self, mm, start: int, end: int, reclaim_pt: bool = False) -> None:
        k, t = self.k, self.task
        F.mlock_locked_vmas(k, t, start, end, False)
        M.unmap_page_range(k.mem_map, F.ensure_tables(k), t.mmc, int(t.mmc[M.MMC_PGD]), start, end, False, reclaim_pt)
        F.flush_tlb_range(k, t, start, end)

    def lazyfree_range(self, mm, start: int, end: int) -> None:
        from .mm.madvise import madvise_free

        madvise_free(self.k, self.task, start, end)

    def madvise_hint(self, mm, start: int, end: int, advice) -> None:
        """Guard regions; MADV_WILLNEED of a file mapping reads its range ahead
        (``madvise_willneed`` -> ``vfs_fadvise(POSIX_FADV_WILLNEED)``; of anonymous memory it
        would read swap back: not done). MADV_PAGEOUT reclaims private anonymous pages (to swap)
        and file pages mapped only here, and MADV_COLD deactivates them
        (``madvise_cold_or_pageout``); COLLAPSE collapses each PMD range into a THP
        (``madvise_collapse``, mm/khugepaged.py)."""
        from .include.linux.mm_types import (MADV_COLD, MADV_COLLAPSE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE,
                                             MADV_PAGEOUT, MADV_WILLNEED, find_vma)
        from .mm.khugepaged import madvise_collapse
        from .mm.madvise import guard_install_range, guard_remove_range, madvise_cold_or_pageout

        k, t = self.k, self.task
        if advice == MADV_GUARD_INSTALL:  # zap what is mapped (markers stay), then mark every pte
            self.zap_page_range_single(mm, start, end)
            while status := guard_install_range(k.mem_map, F.ensure_tables(k), t.mmc, int(t.mmc[M.MMC_PGD]),
                                                start, end):
                if status != -1:
                    raise KernelError(errno.ENOMEM, "madvise: no memory for the guard region's page tables")
                F.grow_and_get(k)
            F.flush_tlb_range(k, t, start, end)
        elif advice == MADV_GUARD_REMOVE:
            guard_remove_range(k.mem_map, F.ensure_tables(k), int(t.mmc[M.MMC_PGD]), start, end)
        elif advice in (MADV_COLD, MADV_PAGEOUT):
            madvise_cold_or_pageout(k, t, start, end, advice == MADV_PAGEOUT)
        elif advice == MADV_WILLNEED:
            self.madvise_willneed(mm, start, end)
        elif advice == MADV_COLLAPSE:
            F.ensure_tables(k)
            madvise_collapse(k, t, find_vma(mm, start), start, end)

    def madvise_willneed(self, mm, start: int, end: int) -> None:
        from .include.linux.mm_types import PAGE_SHIFT, vmas_in_range
        from .mm.fadvise import POSIX_FADV_WILLNEED, generic_fadvise

        for vma in vmas_in_range(mm, start, end):
            f = vma.vm_file
            if f is not None and not f.f_mapping.swapbacked:
                lo, hi = max(start, vma.vm_start), min(end, vma.vm_end)
                generic_fadvise(self.k, f, (lo - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT), hi - lo,
                                POSIX_FADV_WILLNEED)

    def file_size_changed(self, mm, vma) -> None:
        F.vma_table_file_size(self.task, vma)

    def shmem_truncate_range(self, mm, mapping, lstart: int, lend: int) -> None:
        shmem_truncate_range(self.k, mapping, lstart, lend)

    def shmem_file_setup(self, mm, size: int, flags: int):
        return shmem_kernel_file_setup(self.k, size, flags)

    def release_file(self, mm, f) -> None:
        file_table.release_file(self.k, f)


def move_range(k, task, old: int, new: int, length: int) -> None:
    """``move_page_tables``, making room in the table pool when it runs out."""
    done = 0
    while done < length:
        vs = F.ensure_tables(k)
        status, moved = mremap.move_page_tables(k.mem_map, vs, task.mmc, int(task.mmc[M.MMC_PGD]), old + done,
                                                new + done, length - done)
        done += int(moved)
        if status == -1:
            F.grow_and_get(k)
        elif status < 0:
            raise KernelError(errno.ENOMEM, "mremap: no memory for page tables")
    F.flush_tlb_mm(k, task)


SMAPS_ROLLUP_FIELDS = ["Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean",
                       "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM",
                       "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
                       "Private_Hugetlb", "Swap", "SwapPss", "Locked"]
_SM_INDEX = {"Rss": M.SM_RSS, "Pss_Dirty": M.SM_PSS_DIRTY, "Pss_Anon": M.SM_PSS_ANON,
             "Pss_File": M.SM_PSS_FILE, "Pss_Shmem": M.SM_PSS_SHMEM, "Shared_Clean": M.SM_SHARED_CLEAN,
             "Shared_Dirty": M.SM_SHARED_DIRTY, "Private_Clean": M.SM_PRIVATE_CLEAN,
             "Private_Dirty": M.SM_PRIVATE_DIRTY, "Referenced": M.SM_REFERENCED, "Anonymous": M.SM_ANONYMOUS,
             "AnonHugePages": M.SM_ANON_HUGE, "ShmemPmdMapped": M.SM_SHMEM_PMD, "FilePmdMapped": M.SM_FILE_PMD,
             "Swap": M.SM_SWAP, "SwapPss": M.SM_SWAP_PSS, "Locked": M.SM_LOCKED,
             "LazyFree": M.SM_LAZYFREE}


def smaps_counters(k, task, ranges) -> dict[str, int]:
    """``smap_gather_stats`` over VMAs: walk the page tables, sum in bytes, report kB."""
    out = np.zeros(M.NR_SM, np.int64)
    if task.state == TASK_RUNNING and k.vm_state is not None:
        for start, end, vma in ranges:
            pss = int(out[M.SM_PSS])
            M.smaps_page_range(k.mem_map, k.vm_state, int(task.mmc[M.MMC_PGD]), start, end, out)
            if vma.vm_file is not None and vma.vm_file.f_mapping.swapbacked and vma.vm_file.f_mapping.xa_id >= 0:
                out[M.SM_SWAP] += shmem_swap_usage(k, vma)  # smap_gather_stats: the file's pages in swap
            if vma.vm_flags & VM_LOCKED:  # smap_gather_stats: a locked VMA's Pss is Locked
                out[M.SM_LOCKED] += int(out[M.SM_PSS]) - pss
    res = {}
    for name in SMAPS_ROLLUP_FIELDS:
        if name == "Pss":
            res[name] = int(out[M.SM_PSS]) >> (M.PSS_SHIFT + 10)
        elif name.startswith("Pss_") or name in ("Locked", "SwapPss"):
            res[name] = int(out[_SM_INDEX[name]]) >> (M.PSS_SHIFT + 10)
        elif name in _SM_INDEX:
            res[name] = int(out[_SM_INDEX[name]]) >> 10
        else:
            res[name] = 0
    return res


def _int_arg(value, what: str) -> int:
    """An integer argument of the Python API (not a bool, float or string): EINVAL otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise KernelError(errno.EINVAL, f"{what} must be an integer, not {value!r}")
    return int(value)


LINE_SIZE = 64  # memory contents: one byte per 64-byte line (mm.buddy.CONTENT_LINES per page)


def _byte_value(value) -> int:
    """A value to store: one byte, 0..255 (the content model keeps one byte per line)."""
    value = _int_arg(value, "value")
    if not 0 <= value <= 0xFF:
        raise KernelError(errno.EINVAL, f"value {value} does not fit in a byte (0..255): "
                                        f"memory holds one byte per {LINE_SIZE}-byte line")
    return value


class Process:
    """The scriptable face of a ``task_struct`` and its ``mm_struct``: address-space calls
    (``mmap``, ``munmap``, ``mprotect``, ``madvise``, ``mremap``, ``brk``), memory accesses
    through the MMU and the fault path (``read``, ``write``), ``fork`` and ``exit``, and its
    /proc files. Made by ``Machine.spawn()`` and ``Process.fork()``. In a notebook a process
    shows its faults, Rss and VMAs as a table.

    Memory contents are modelled at one byte per 64-byte line (``LINE_SIZE``): a write
    stores its byte value in the line holding the address, a read returns that line's byte.
    That is enough to observe copy-on-write, zeroing of new pages and isolation between
    processes, at 1/64 of the memory.

    ``p.task`` is the simulator's ``task_struct`` itself, for tests and kernel readers; it is
    not part of the stable API. Address-space calls, accesses, ``fork`` and ``walk`` on an
    exited process raise ``KernelError`` (ESRCH).
    """

    def __init__(self, machine, task: F.task_struct):
        """Not called directly: ``Machine.spawn()`` and ``Process.fork()`` make processes."""
        self.machine, self.task = machine, task

    # identity and counters -----------------------------------------------------------------
    @property
    def pid(self) -> int:
        """The process id (``task->pid``)."""
        return self.task.pid

    @property
    def comm(self) -> str:
        """The command name (``task->comm``)."""
        return self.task.comm

    @property
    def minflt(self) -> int:
        """Minor page faults so far (``task->min_flt``, getrusage's ``ru_minflt``)."""
        return self.task.min_flt

    @property
    def majflt(self) -> int:
        """Major page faults so far (``task->maj_flt``): none until swap and files exist."""
        return self.task.maj_flt

    @property
    def alive(self) -> bool:
        """False once the process exited or was killed (SIGSEGV, SIGBUS, the OOM killer's
        SIGKILL, even before the victim has finished dying)."""
        return self.task.state == TASK_RUNNING and not self.task.pending_signal

    @property
    def cgroup(self) -> str:
        """The path of the process's cgroup v2 ("/" the root; ``/proc/PID/cgroup``'s ``0::``)."""
        return self.task.cgroup.path

    @property
    def oom_score_adj(self) -> int:
        """``/proc/PID/oom_score_adj``: -1000 (never OOM-killed) .. 1000 (killed first)."""
        return self.task.oom_score_adj

    @oom_score_adj.setter
    def oom_score_adj(self, value: int) -> None:
        """Write ``/proc/PID/oom_score_adj`` (as root). Raises ``KernelError``: EINVAL outside
        -1000..1000 or for a non-integer, ESRCH after exit."""
        from .mm.oom_kill import set_oom_score_adj

        set_oom_score_adj(self.machine.kernel, self.task, value)

    @property
    def oom_score(self) -> int:
        """``/proc/PID/oom_score``: the OOM killer's badness scaled to 0..2000 (reading it does
        not run the process). Raises ``KernelError`` (ENOENT) after exit."""
        return int(self.proc("oom_score"))

    def __repr__(self) -> str:
        return f"<Process {self.task.pid} {self.task.comm!r} {'running' if self.alive else 'dead'}>"

    def _repr_html_(self) -> str:
        """A notebook's view: pid, faults and Rss, then the VMAs as ``/proc/PID/maps`` has them."""
        if not self.alive:
            return f"<p><b>{html.escape(repr(self))}</b></p>"
        rss = self.smaps_rollup()["Rss"]
        head = f"<p><b>{html.escape(repr(self))}</b>: {self.minflt} minor faults, Rss {rss} kB</p>"
        return head + vmas_html(self.maps(), "VMAs")

    # address space ------------------------------------------------------------------------
    def mmap(self, length: int, prot="rw", flags=None, addr: int = 0, offset: int = 0, fd: int | None = None) -> int:
        """``mmap(addr, length, prot, flags, fd, offset)`` (``do_mmap`` in ``mm/mmap.c``): the
        start of the new mapping. ``prot`` is ``"rw"``, ``"r-x"``, ``"none"``,
        ``"PROT_READ|PROT_WRITE"`` or the number; ``flags`` names joined by ``|``
        (``"shared|anonymous"``, ``"private|anonymous|fixed"``, ``populate``, ``locked``, ...)
        or the number; by default ``"private|anonymous"``, or ``"private"`` with ``fd``.

        With ``fd`` (an open ext4 or tmpfs file, ``offset`` a multiple of the page size) the
        mapping shows the file from ``offset`` on: loads fault the cached pages in
        (``do_read_fault``, mapping up to ``fault_around_bytes`` around the fault, a 2 MiB
        folio by one PMD), stores to a private mapping copy the page (``do_cow_fault``), to a
        shared one dirty the page cache (``do_shared_fault``); a page past the end of the
        file is SIGBUS (``BusError``). Placement is the kernel's: top-down below the stack
        gap, large anonymous mappings and ext4 file mappings of 2 MiB or more 2 MiB-aligned,
        neighbours merged.

        Raises ``KernelError`` with the kernel's errno (EINVAL for bad lengths, flags or
        alignment; ENOMEM when no room is left or a limit is hit; EEXIST for
        ``fixed_noreplace`` over a mapping; EBADF for a descriptor that is not open; EACCES
        for a shared writable mapping of a file not open for writing, or a file not open
        for reading; EOVERFLOW for an offset past the largest file size)."""
        from .include.linux import mm_types as T
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        if flags is None:
            flags = "private|anonymous" if fd is None else "private"
        flags = T.parse_map_flags(flags)
        f = None if fd is None or flags & T.MAP_ANONYMOUS else self._file(fd)
        return mm_mmap.sys_mmap(self.task.mm, addr, length, T.parse_prot(prot), flags, f, offset)

    def msync(self, addr: int, length: int, flags="sync") -> None:
        """``msync`` (``mm/msync.c``): ``"sync"`` writes the dirty pages of the shared file
        mappings in the range back and waits (their ptes become clean and read-only:
        the next store faults again), ``"async"`` and ``"invalidate"`` do nothing more
        than check (the kernel has tracked the dirty pages since the stores faulted).

        Raises ``KernelError`` (EINVAL for an unaligned address, unknown flags or sync with
        async; ENOMEM for unmapped parts, after syncing the mapped ones; EBUSY for
        ``invalidate`` of a locked mapping)."""
        from .mm import msync

        self.task.check_alive()
        msync.sys_msync(self.task.mm, addr, length, flags, self._fsync_range)

    def mincore(self, addr: int, length: int) -> np.ndarray:
        """``mincore`` (``mm/mincore.c``): one uint8 per page of [addr, addr+length), 1 where
        the page is resident: mapped, or (in a file mapping) in the page cache.

        Raises ``KernelError`` (EINVAL for an unaligned address; ENOMEM for a range that is
        not all mapped)."""
        from .mm.mincore import sys_mincore
        from .mm.vma import ulong

        self.task.check_alive()
        return sys_mincore(self.machine.kernel, self.task, ulong(_int_arg(addr, "address"), "address"),
                           ulong(_int_arg(length, "length"), "length"))

    def _fsync_range(self, f, start: int, end: int) -> None:
        """``vfs_fsync_range(file, start, end, datasync=1)``: the file's ``fsync`` (ext4 writes
        the range back and waits; tmpfs has nothing to write)."""
        f.f_inode.i_fop.fsync(self.machine.kernel, f, start, end, True)

    def _file(self, fd):
        from .fs.open import fdget

        return fdget(self.task.files, fd)

    def munmap(self, addr: int, length: int) -> None:
        """``munmap`` (``do_vmi_munmap``): VMAs in the range are split and removed, their pages
        and page tables freed, the TLBs flushed.

        Raises ``KernelError`` (EINVAL for an unaligned address, a zero length or a range
        beyond ``TASK_SIZE``)."""
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        mm_mmap.do_munmap(self.task.mm, addr, length)

    def mprotect(self, addr: int, length: int, prot) -> None:
        """``mprotect`` (``do_mprotect_pkey`` in ``mm/mprotect.c``): new protection for the
        range, VMAs split or merged, present entries changed (``change_protection``).

        Raises ``KernelError`` (EINVAL for an unaligned address or unknown bits, ENOMEM when
        part of the range is not mapped, EACCES where the VMA may not get the protection)."""
        from .include.linux import mm_types as T
        from .mm import mprotect

        self.task.check_alive()
        mprotect.do_mprotect(self.task.mm, addr, length, T.parse_prot(prot))

    def madvise(self, addr: int, length: int, advice) -> None:
        """``madvise`` (``do_madvise`` in ``mm/madvise.c``): ``"hugepage"``, ``"nohugepage"``,
        ``"dontneed"``, ``"free"``, ``"populate_write"``, ``"collapse"``, ... (or the number).

        Raises ``KernelError`` with the kernel's errno (EINVAL for unknown advice or an
        unaligned start, ENOMEM for an unmapped range, ...)."""
        from .include.linux import mm_types as T
        from .mm import madvise

        self.task.check_alive()
        madvise.do_madvise(self.task.mm, addr, length, T.parse_madvise(advice))

    def mremap(self, addr: int, old_len: int, new_len: int, maymove: bool = False, fixed: int | None = None,
               dontunmap: bool = False) -> int:
        """``mremap`` (``mm/mremap.c``): shrink, grow in place, or move (``maymove``, or to
        ``fixed`` with MREMAP_FIXED) with the pages following; returns the new address.
        ``dontunmap`` (MREMAP_DONTUNMAP, with ``maymove`` or ``fixed``) leaves the source
        mapped and empty.

        Raises ``KernelError`` (EINVAL for bad lengths, flags or alignment, or DONTUNMAP
        with a resize; EFAULT for an unmapped source, ENOMEM when it cannot grow in place
        and may not move)."""
        from .include.linux import mm_types as T
        from .mm import mremap

        self.task.check_alive()
        flags = (T.MREMAP_MAYMOVE if maymove or fixed is not None else 0) | (T.MREMAP_FIXED if fixed is not None else 0)
        flags |= T.MREMAP_DONTUNMAP if dontunmap else 0
        return mremap.do_mremap(self.task.mm, addr, old_len, new_len, flags, fixed or 0)

    def mlock(self, addr: int, length: int) -> None:
        """``mlock`` (``mm/mlock.c``): lock the pages of the range (rounded out to pages) in
        memory: its VMAs get VM_LOCKED (split or merged as needed), VmLck counts them, and
        the range is faulted in.

        Raises ``KernelError`` (ENOMEM for a hole or beyond RLIMIT_MEMLOCK, EPERM when
        RLIMIT_MEMLOCK is 0 without CAP_IPC_LOCK)."""
        self.mlock2(addr, length)

    def mlock2(self, addr: int, length: int, onfault: bool = False) -> None:
        """``mlock2(addr, len, onfault and MLOCK_ONFAULT)``: as ``mlock``; with ``onfault``
        the VMAs get VM_LOCKONFAULT too and nothing is faulted in now.

        Raises ``KernelError`` as ``mlock`` does."""
        from .mm import mlock

        self.task.check_alive()
        mlock.sys_mlock2(self.task.mm, addr, length, mlock.MLOCK_ONFAULT if onfault else 0)

    def munlock(self, addr: int, length: int) -> None:
        """``munlock``: the range loses VM_LOCKED and VM_LOCKONFAULT (VMAs merge back).

        Raises ``KernelError`` (ENOMEM for a hole in the range)."""
        from .mm import mlock

        self.task.check_alive()
        mlock.sys_munlock(self.task.mm, addr, length)

    def mlockall(self, flags="current") -> None:
        """``mlockall``: ``flags`` names joined by ``|`` (``"current"``, ``"future"``,
        ``"onfault"``; ``MCL_*`` spellings too) or the number. ``current`` locks every
        VMA now, ``future`` every later mapping (``mm->def_flags``).

        Raises ``KernelError`` (EINVAL for no or unknown flags or ``onfault`` alone,
        ENOMEM when ``current`` and the address space exceeds RLIMIT_MEMLOCK)."""
        from .include.linux.mm_types import _parse_names
        from .mm import mlock

        self.task.check_alive()
        flags = _parse_names(flags, mlock.MCL_NAMES, "mcl_", "mlockall flag")
        mlock.sys_mlockall(self.task.mm, flags)

    def munlockall(self) -> None:
        """``munlockall``: nothing stays locked, later mappings are not locked."""
        from .mm import mlock

        self.task.check_alive()
        mlock.sys_munlockall(self.task.mm)

    def getrlimit(self, resource) -> tuple[int, int]:
        """``getrlimit``: (soft, hard) of ``resource`` (``"RLIMIT_MEMLOCK"``, ``"memlock"``
        or its number) in bytes, ``RLIM_INFINITY`` (2**64 - 1) for no limit.

        Raises ``KernelError`` (EINVAL for an unknown resource)."""
        from .kernel import sys

        return sys.getrlimit(self.task.mm, resource)

    def setrlimit(self, resource, soft: int, hard: int | None = None) -> None:
        """``setrlimit``: new soft and hard limits (``hard`` defaults to ``soft``);
        ``RLIM_INFINITY`` for none. The memory limits are the ones the kernel reads
        (RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK).

        Raises ``KernelError`` (EINVAL for soft above hard or an unknown resource, EPERM
        for raising the hard limit without CAP_SYS_RESOURCE)."""
        from .kernel import sys

        self.task.check_alive()
        sys.do_prlimit(self.task.mm, resource, soft, soft if hard is None else hard)

    def mseal(self, addr: int, length: int) -> None:
        """``mseal(addr, len, 0)`` (``mm/mseal.c``): seal the VMAs of the range; munmap,
        mremap, mmap(MAP_FIXED) over them, mprotect, and discarding madvise on read-only
        anonymous memory then fail with EPERM.

        Raises ``KernelError`` (EINVAL for an unaligned or wrapping range, ENOMEM for a
        hole in it)."""
        from .mm import mseal

        self.task.check_alive()
        mseal.do_mseal(self.task.mm, addr, length)

    def prctl(self, option, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """``prctl`` (``kernel/sys.c``) for the memory options: ``"PR_SET_THP_DISABLE"``
        (1: THP off for every VMA; with ``arg3`` PR_THP_DISABLE_EXCEPT_ADVISED (2) only where
        not MADV_HUGEPAGE'd; 0: back to the global policy), ``"PR_GET_THP_DISABLE"`` (0, 1 or
        3), ``"PR_SET_MDWE"`` (PR_MDWE_REFUSE_EXEC_GAIN 1, PR_MDWE_NO_INHERIT 2: no mapping
        writable and executable, none gaining execute; for good), ``"PR_GET_MDWE"`` and
        ``"PR_SET_VMA"`` with ``arg2`` PR_SET_VMA_ANON_NAME (0): name the anonymous memory of
        [``arg3``, ``arg3 + arg4``) ``arg5`` (a string; None removes the name), shown as
        ``[anon:NAME]`` in maps (needs CONFIG_ANON_VMA_NAME, the ``[config]`` key
        ``anon_vma_name``); the option's number works too. Returns the call's value.

        Raises ``KernelError`` (EINVAL for another option or bad arguments, a name of 80
        characters or more or with a character outside printable ASCII or in ``\\`$[]``;
        EPERM for a change of MDWE once set; ENOMEM for a hole in a named range, EBADF for
        a file mapping)."""
        from .kernel import sys

        self.task.check_alive()
        return sys.sys_prctl(self.task.mm, option, arg2, arg3, arg4, arg5)

    def process_madvise(self, target, iovec, advice, flags: int = 0) -> int:
        """``process_madvise(pidfd of target, iovec, len(iovec), advice, flags)``: madvise
        each ``(start, length)`` of ``iovec`` in ``target``'s address space (``self`` for
        PIDFD_SELF); returns the bytes advised (the first error if none was). ``target`` is
        a ``Process``; a number stands for a file descriptor, which is never a pidfd here.

        Raises ``KernelError`` (EINVAL for flags, more than 1024 ranges, unknown advice or
        destructive advice on another process; EBADF for a number; ESRCH for an exited
        target; EPERM for another process without CAP_SYS_NICE; madvise's errnos)."""
        from .mm import madvise

        self.task.check_alive()
        if isinstance(target, Process):
            mm = target.task.mm if target.alive else errno.ESRCH
        else:
            mm = errno.EBADF
        return madvise.process_madvise(self.task.mm, mm, iovec, advice, flags)

    def process_mrelease(self, target, flags: int = 0) -> None:
        """``process_mrelease(pidfd of target, flags)``: reap the memory of ``target``, a
        ``Process`` being killed (``kill``, or the OOM killer) that has not exited yet — its
        private and anonymous mappings are unmapped now, as the OOM reaper does; a number
        stands for a file descriptor, never a pidfd here.

        Raises ``KernelError`` (EBADF for a number; ESRCH for a target that has exited;
        EINVAL for flags, or a target not being killed)."""
        from .mm.oom_kill import process_mrelease

        self.task.check_alive()
        if not isinstance(target, Process):
            raise KernelError(errno.EBADF, f"process_mrelease: {target!r} is not a pidfd")
        if target.task.state != TASK_RUNNING:
            raise KernelError(errno.ESRCH, f"process_mrelease: process {target.pid} has exited")
        process_mrelease(self.machine.kernel, target.task, _int_arg(flags, "flags"))

    def sigaction(self, sig, handler="catch") -> None:
        """``sigaction(sig, ...)`` for ``"SIGSEGV"`` (11) or ``"SIGBUS"`` (7): with ``"catch"``
        the process has a handler that jumps back out of the faulting access (``sigsetjmp``/
        ``siglongjmp``): the access's call raises ``SegmentationFault`` or ``BusError`` and
        the process lives on (no ``segfault at`` line in dmesg: the signal is handled);
        ``"default"`` (SIG_DFL) makes such a fault fatal again.

        Raises ``KernelError`` (EINVAL for another signal or handler, ESRCH after exit)."""
        from .arch.x86.mm.fault import SIGBUS, SIGSEGV

        self.task.check_alive()
        num = {"SIGSEGV": SIGSEGV, SIGSEGV: SIGSEGV, "SIGBUS": SIGBUS, SIGBUS: SIGBUS}.get(sig)
        if num is None or handler not in ("catch", "default"):
            raise KernelError(errno.EINVAL, f"sigaction({sig!r}, {handler!r}): SIGSEGV or SIGBUS, "
                                            "'catch' or 'default'")
        (self.task.caught_signals.add if handler == "catch" else self.task.caught_signals.discard)(num)

    def kill(self, sig="SIGKILL") -> None:
        """``kill(pid, SIGKILL)`` sent to this process (``"SIGKILL"`` or 9; other signals are
        not simulated). The process is dying at once (``alive`` is False);
        it exits when it next runs — its next call raises ``Killed`` — or when ``wait``
        reaps it; until then ``process_mrelease`` can take its memory.

        Raises ``KernelError`` (EINVAL for another signal, ESRCH after exit)."""
        from .mm.oom_kill import do_send_sig_info

        if sig not in KILL_SIGNALS:
            raise KernelError(errno.EINVAL, f"signal {sig!r}: only SIGKILL is simulated")
        if self.task.state != TASK_RUNNING:
            raise KernelError(errno.ESRCH, f"process {self.pid} has exited")
        do_send_sig_info(self.machine.kernel, self.task, "kill(SIGKILL)")

    def wait(self) -> int | None:
        """``waitpid(pid, &status, WNOHANG)`` by the parent: a process with a fatal signal
        pending runs its exit now (``do_exit``); returns the signal that ended it (9), 0 for
        an ``exit()``, or None while it lives on."""
        if self.task.state == TASK_RUNNING and self.task.pending_signal:
            F.do_exit(self.machine.kernel, self.task, self.task.pending_signal)
        return None if self.task.state == TASK_RUNNING else self.task.exit_signal

    def brk(self, new_brk: int = 0) -> int:
        """``brk`` (``mm/mmap.c``): move the end of the heap; returns the new break, or the
        current one when the request fails or is 0, as the syscall does."""
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        return mm_mmap.sys_brk(self.task.mm, new_brk)

    def maps(self) -> list[VmArea]:
        """The VMAs, lowest first, as frozen ``VmArea`` records (``.start``, ``.end``,
        ``.prot``, ``.flags``, ``.offset``, ``.path`` and the kernel's ``vm_start``,
        ``vm_end``, ``vm_flags``, ``vm_pgoff``): what ``/proc/PID/maps`` lists (nothing
        after exit)."""
        return [vm_area(self.task.mm, v) for v in self.task.mm.vmas]

    # memory accesses ------------------------------------------------------------------------
    ACCESS_CHUNK = 1 << 16  # accesses handed to the MMU at a time (a bad address stops early)

    def _access(self, addr: int, length: int, stride: int, write: bool, value: int = 0) -> bytes:
        """One access every ``stride`` bytes of [addr, addr+length), in chunks, so that a huge
        range faults at its first bad address instead of building an array of every address.

        Addresses are C pointers (a negative one wraps); one in the kernel half (bit 63 set)
        is never a user address and kills the process like any bad access."""
        from .mm.vma import ulong

        addr = ulong(_int_arg(addr, "address"), "address")
        length, stride = _int_arg(length, "length"), _int_arg(stride, "stride")
        if length < 0 or stride <= 0:
            raise KernelError(errno.EINVAL, f"length {length} and stride {stride} must be positive")
        k, count = self.machine.kernel, -(-length // stride)
        out = []
        for first in range(0, count, self.ACCESS_CHUNK):
            start = addr + first * stride
            n = min(self.ACCESS_CHUNK, count - first)
            user = min(n, max(0, -(-((1 << 63) - start) // stride)))  # those below bit 63
            if user:
                step = stride if user > 1 else 0  # two accesses below bit 63: the stride fits int64
                addrs = start + step * np.arange(user, dtype=np.int64)
                out.append(fault.access(k, self.task, addrs, write, value))
            if user < n:
                fault.bad_area(k, self.task, start + user * stride, write, M.FAULT_SIGSEGV_MAPERR)
        return b"".join(o.tobytes() for o in out)

    def write(self, addr: int, length: int, stride: int = 4096, value: int = 7) -> None:
        """Store the byte ``value`` (0..255) at ``addr``, ``addr + stride``, ... below
        ``addr + length``: one store per stride, each through the TLB, the page walk and,
        when needed, the fault path (``handle_mm_fault``: a zeroed page, a THP, a
        copy-on-write copy). The default stride, a page, touches every page once: a 64 MiB
        range written takes 16384 faults. Memory holds one byte per 64-byte line, so the
        store sets the byte of the line holding each address.

        Raises ``KernelError`` (EINVAL) for a value outside 0..255, a stride <= 0 or a
        negative length; ``SegmentationFault`` (the process is then dead, dmesg has the
        ``segfault at`` line) for an address not mapped writable; ``BusError`` for a shared
        mapping beyond its object; ``KernelError`` (EFAULT) under ``pagefault_disable``;
        ``VmFaultOOM`` when a page cannot be allocated (the process lives: the kernel would
        retry the access; the log has the allocation-failure report)."""
        self._access(addr, length, stride, True, _byte_value(value))

    def read(self, addr: int, length: int, stride: int = 4096) -> bytes:
        """Load at ``addr``, ``addr + stride``, ... below ``addr + length``, through the TLB,
        the page walk and the fault path (a read of untouched anonymous memory maps the
        shared zero page); returns one byte per access, ``ceil(length / stride)`` in all:
        the byte of the 64-byte line holding each address.

        With the default stride (a page) ``read(a, 4096)`` is ONE byte, the first line of
        the page; ``read(a, 4096, stride=64)`` is the whole page as modelled (64 bytes).

        Raises as ``write`` does (a read needs the mapping readable)."""
        return self._access(addr, length, stride, False)

    def write_mem(self, addr: int, data: bytes) -> int:
        """write(2) of ``data`` to ``/proc/PID/mem`` at offset ``addr`` (``mem_rw`` ->
        ``access_remote_vm`` with FOLL_FORCE): the kernel writes through its own mapping of each
        page, faulting it in for write first, so a read-only private mapping is written too:
        the write breaks COW and leaves a dirty, still read-only entry (``maybe_mkwrite``).
        Memory keeps one byte per 64-byte line: a byte lands on its line, a later byte of the
        same line wins. Returns the bytes written; stops at the first byte GUP cannot reach
        (a shared read-only mapping, no mapping). Raises ``KernelError`` EIO when not even the
        first byte could be written, EINVAL when ``data`` is not bytes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise KernelError(errno.EINVAL, f"write_mem takes bytes, not {type(data).__name__}")
        return self._mem_rw(addr, bytes(data), True)[0]

    def read_mem(self, addr: int, length: int) -> bytes:
        """read(2) of ``length`` bytes of ``/proc/PID/mem`` at offset ``addr`` (FOLL_FORCE: the
        pages of a PROT_NONE mapping read too, those mapped already): the byte of each byte's
        64-byte line; short when a byte cannot be reached, EIO when the first cannot, EINVAL
        for a negative length."""
        length = _int_arg(length, "length")
        if length < 0:
            raise KernelError(errno.EINVAL, f"read_mem: negative length {length}")
        done, out = self._mem_rw(addr, bytes(length), False)
        return out[:done].tobytes()

    def _mem_rw(self, addr: int, data: bytes, write: bool) -> tuple[int, np.ndarray]:
        addr = _int_arg(addr, "addr")
        self.task.check_alive()
        if not data:
            return 0, np.zeros(0, np.uint8)
        addrs = np.arange(addr, addr + len(data), dtype=np.int64)
        done, out = fault.access_remote_vm(self.machine.kernel, self.task, addrs, write, np.frombuffer(data, np.uint8))
        if not done:
            raise KernelError(errno.EIO, f"/proc/{self.pid}/mem: nothing at {addr:#x} could be "
                                         f"{'written' if write else 'read'} (EIO)")
        return done, out

    def pagefault_disable(self) -> None:
        """``pagefault_disable()``: accesses that would fault now fail with EFAULT (nests)."""
        self.task.pagefault_disabled += 1

    def pagefault_enable(self) -> None:
        """``pagefault_enable()``: undo one ``pagefault_disable``.

        Raises ``KernelError`` (EINVAL) without a matching ``pagefault_disable``."""
        if self.task.pagefault_disabled == 0:
            raise KernelError(errno.EINVAL, "pagefault_enable() without pagefault_disable()")
        self.task.pagefault_disabled -= 1

    # long-term pins (mm/gup.py) ------------------------------------------------------------
    def gup_test(self, cmd: str, addr: int = 0, size: int = 0, *, write: bool = False, fast: bool = False,
                 nr_pages_per_call: int = 1, gup_flags: int = 0, test_flags: int = 0,
                 which_pages: tuple = ()) -> bytes | GupTest | None:
        """An ioctl on ``/sys/kernel/debug/gup_test`` (``mm/gup_test.c``, CONFIG_GUP_TEST):

        * ``"PIN_LONGTERM_TEST_START"``: pin [addr, addr + size) long-term (``pin_user_pages``
          with FOLL_LONGTERM, FOLL_WRITE when ``write``; ``pin_user_pages_fast`` when
          ``fast``). A R/O pin of a page the process could later replace (a COW-shared or
          read-only private page) unshares it first, so the pin holds the page the process
          keeps seeing. One set of pins exists system-wide until STOP or this process exits.
        * ``"PIN_LONGTERM_TEST_READ"``: the pinned pages' contents, read through the pins (64
          bytes a page: one per 64-byte line, as ``read(..., stride=64)``).
        * ``"PIN_LONGTERM_TEST_STOP"``: unpin.
        * ``"GUP_FAST_BENCHMARK"``, ``"GUP_BASIC_TEST"`` (``get_user_pages_fast``/``get_user_pages``:
          FOLL_GET references), ``"PIN_FAST_BENCHMARK"``, ``"PIN_BASIC_TEST"``,
          ``"PIN_LONGTERM_BENCHMARK"`` (FOLL_PIN pins, long-term for the last) and
          ``"DUMP_USER_PAGES_TEST"``: take [addr, addr + size) ``nr_pages_per_call`` pages a
          call with ``gup_flags`` (FOLL_WRITE 0x1 added when ``write``), check the pins,
          ``dump_page`` to the kernel log each page ``which_pages`` names (up to 8 page numbers,
          1-based; pinned instead of got with ``test_flags`` 0x1), and give the pages back.
          Returns the filled-in ``struct gup_test``: a read-only ``GupTest`` with
          ``get_delta_usec``/``put_delta_usec`` (simulated time) and ``size`` (how far GUP got).

        Raises ``KernelError`` with the driver's errno: EINVAL for a range not page-aligned or
        empty, a START while pinned, a READ with nothing pinned, an unknown command, a range
        that overflows, a field too wide for its ``__u32``; EFAULT where GUP refuses (no
        mapping, no access, a writable long-term pin of a shared ext4 mapping); ENOMEM for
        long-term pins of pages in ZONE_MOVABLE (their migration is not simulated)."""
        self.task.check_alive()
        fields = [_int_arg(v, what) for v, what in ((nr_pages_per_call, "nr_pages_per_call"),
                                                   (gup_flags, "gup_flags"), (test_flags, "test_flags"))]
        which = tuple(_int_arg(v, "which_pages") for v in which_pages)
        if len(which) > GUP_TEST_MAX_PAGES_TO_DUMP or any(not 0 <= v <= U32_MAX for v in fields + list(which)):
            raise KernelError(errno.EINVAL, f"gup_test: nr_pages_per_call, gup_flags, test_flags and up to "
                                            f"{GUP_TEST_MAX_PAGES_TO_DUMP} which_pages are __u32 values")
        which += (0,) * (GUP_TEST_MAX_PAGES_TO_DUMP - len(which))
        gup = GupTest(_int_arg(addr, "addr") & ULONG_MAX, _int_arg(size, "size") & ULONG_MAX, fields[0],
                      fields[1] | (FOLL_WRITE if write else 0), fields[2], which)
        return gup_test_ioctl(self.machine.kernel, self.task, str(cmd), gup, bool(write), bool(fast))

    # io_uring (io_uring/) ----------------------------------------------------------------------
    def io_uring_setup(self, entries: int) -> int:
        """``io_uring_setup(entries, &params)``: a new ring (``anon_inode:[io_uring]``), its
        descriptor. Only what memory management sees is simulated: registered buffers and
        fixed writes; a request completes within its call.

        Raises ``KernelError``: EINVAL (entries not in 1..32768), EMFILE."""
        from .io_uring.io_uring import io_uring_setup

        self.task.check_alive()
        return io_uring_setup(self.machine.kernel, self.task, _int_arg(entries, "entries"))

    def io_uring_register_buffers(self, ring_fd: int, iovecs) -> None:
        """``io_uring_register(ring_fd, IORING_REGISTER_BUFFERS, iovecs, n)``: pin each
        ``(addr, len)`` buffer writable and long-term (``pin_user_pages_fast`` with
        FOLL_WRITE|FOLL_LONGTERM: a R/O page is broken out of COW first, a pinned page is
        copied at fork instead of shared); ``(0, 0)`` is an empty slot. A large folio keeps
        one pin (its other pages' pins are dropped at once). The pages count in VmPin.

        Raises ``KernelError``: EBADF, EOPNOTSUPP (not a ring), EBUSY (buffers registered
        already), EINVAL (no buffers, or over 16384), EFAULT (a length of 0 or over 1 GiB, a
        NULL base with a length, a page GUP refuses: nothing mapped, no write access, a shared
        ext4 mapping), EOVERFLOW, ENOMEM (pages in ZONE_MOVABLE: no migration)."""
        from .io_uring.io_uring import io_uring_register_buffers

        self.task.check_alive()
        pairs = [(_int_arg(a, "iov_base"), _int_arg(n, "iov_len")) for a, n in iovecs]
        io_uring_register_buffers(self.machine.kernel, self.task, _int_arg(ring_fd, "ring_fd"), pairs)

    def io_uring_unregister_buffers(self, ring_fd: int) -> None:
        """``IORING_UNREGISTER_BUFFERS``: unpin them all. Raises ``KernelError``: EBADF,
        EOPNOTSUPP (not a ring), ENXIO (none registered)."""
        from .io_uring.io_uring import io_uring_unregister_buffers

        self.task.check_alive()
        io_uring_unregister_buffers(self.machine.kernel, self.task, _int_arg(ring_fd, "ring_fd"))

    def io_uring_write_fixed(self, ring_fd: int, fd: int, buf_index: int, addr: int, length: int,
                             offset: int) -> int:
        """An IORING_OP_WRITE_FIXED request, submitted and waited for: write ``length`` bytes
        of registered buffer ``buf_index`` from ``addr`` to ``fd`` at ``offset`` (-1: the file
        position). The bytes come from the pinned pages, not from whatever the process maps
        there now. Returns the completion's result, the bytes written.

        Raises ``KernelError`` with the completion's error: EBADF (bad ``fd`` or not open for
        writing, or ``ring_fd``), EOPNOTSUPP (not a ring), EFAULT (no such buffer, a range
        outside it), EINVAL (a negative length or offset below -1), ENOSPC, EFBIG."""
        from .io_uring.io_uring import io_write_fixed

        args = [_int_arg(v, what) for v, what in ((ring_fd, "ring_fd"), (fd, "fd"), (buf_index, "buf_index"),
                                                  (addr, "addr"), (length, "length"), (offset, "offset"))]
        if args[4] < 0 or args[5] < -1:
            raise KernelError(errno.EINVAL, f"io_uring_write_fixed: length {args[4]}, offset {args[5]}")
        with self._file_syscall() as k:
            return io_write_fixed(k, self.task, *args)

    # lifetime -------------------------------------------------------------------------------
    def fork(self, comm: str | None = None) -> "Process":
        """``fork()`` (``copy_process`` -> ``dup_mmap``): a child with a copy of the address
        space; private writable pages are shared read-only until one side writes
        (copy-on-write), shared mappings stay shared. Returns the child.

        Raises ``KernelError`` (ESRCH) when this process has exited."""
        return self.machine._fork(self, comm)

    def exit(self, code: int = 0) -> None:
        """``do_exit`` -> ``exit_mmap``: every mapping torn down, its pages and page tables
        freed. Raises ``KernelError`` (ESRCH) when the process has already exited."""
        self.machine._exit(self, code)

    def walk(self, addr: int) -> PageWalk:
        """The page-table walk of ``addr`` (``mm.pagewalk.walk_address``), as the MMU does it:
        a ``PageWalk`` record with one level per kernel level (PGD, P4D, PUD, PMD, PTE;
        folded levels marked), each with its index, entry and flags; ``.phys`` and
        ``.page_size`` give the translation, None when the walk stops at a non-present
        entry. It prints as the table of ``linuxmm walk``. Nothing is faulted in.

        Raises ``KernelError`` (EINVAL for a non-integer address, ESRCH after exit)."""
        from .mm.pagewalk import walk_address
        from .mm.vma import ulong

        addr = ulong(_int_arg(addr, "address"), "address")
        self.task.check_alive()
        F.ensure_tables(self.machine.kernel)
        return PageWalk(addr, walk_address(self.machine.kernel, int(self.task.mmc[M.MMC_PGD]), addr))

    # /proc ----------------------------------------------------------------------------------
    def proc(self, name: str, value: str | int | None = None) -> str | None:
        """``/proc/PID/NAME`` text: ``maps``, ``smaps``, ``smaps_rollup``, ``status``
        (``fs/proc/task_mmu.c``, ``fs/proc/array.c``), ``oom_score``, ``oom_score_adj``
        (``fs/proc/base.c``), byte for byte; with a ``value``, a write (``p.proc("clear_refs", 4)``
        clears the soft-dirty bits).

        Raises ``KernelError`` (ENOENT) for another name or after exit."""
        return self.machine.proc(f"/proc/{self.pid}/{name}", value)

    def pagemap(self, addr: int, npages: int = 1) -> list[int]:
        """``/proc/PID/pagemap`` read at ``addr / 4096 * 8``: one u64 per page from the page
        holding ``addr``, as ``pagemap_read`` encodes it (``PM_PRESENT`` bit 63, ``PM_SWAP``
        62, ``PM_FILE`` 61, ``PM_GUARD_REGION`` 58, ``PM_UFFD_WP`` 57, ``PM_MMAP_EXCLUSIVE``
        56, ``PM_SOFT_DIRTY`` 55; bits 0-54 the PFN as a CAP_SYS_ADMIN reader sees it, or
        the swap type and offset). Nothing is faulted in.

        Raises ``KernelError`` (EINVAL for a negative count or bad address, ESRCH after exit)."""
        from .fs.proc.task_mmu import pagemap_read
        from .mm.vma import ulong

        addr = ulong(_int_arg(addr, "address"), "address")
        npages = _int_arg(npages, "npages")
        if npages < 0:
            raise KernelError(errno.EINVAL, f"npages {npages} is negative")
        self.task.check_alive()
        return pagemap_read(self.machine.kernel, self.task, addr, npages)

    def pagemap_scan(self, start: int, end: int, vec_len: int = 1 << 16, *, flags=0, max_pages: int = 0,
                     category_inverted=0, category_mask=0, category_anyof_mask=0, return_mask=0) -> PagemapScan:
        """The PAGEMAP_SCAN ioctl of ``/proc/PID/pagemap`` (``do_pagemap_scan``) over [start,
        end): the pages whose categories, XOR ``category_inverted``, hold all of
        ``category_mask`` and (if given) one of ``category_anyof_mask``, as at most ``vec_len``
        regions of consecutive pages of equal categories (``& return_mask``), at most
        ``max_pages`` pages in all (0: no limit). Categories are ``PAGE_IS_*`` bits or their
        names: ``"present|swapped"``, ``wpallowed`` (1), ``written`` (2), ``file`` (4),
        ``present`` (8), ``swapped`` (16), ``pfnzero`` (32), ``huge`` (64), ``soft_dirty``
        (128), ``guard`` (256). Without userfaultfd no VMA allows write protection: every
        mapped page is written, ``flags`` PM_SCAN_WP_MATCHING (``"wp_matching"``) skips
        every VMA and PM_SCAN_CHECK_WPASYNC (``"check_wpasync"``) fails. Returns a
        ``PagemapScan`` (``.regions`` of ``PageRegion(start, end, categories)``, ``len()``
        the ioctl's count, ``.walk_end``). Nothing is faulted in.

        Raises ``KernelError``: EINVAL (unknown flags or categories, unaligned start), EFAULT
        (a range beyond user space or reversed), EPERM (check_wpasync), ESRCH after exit."""
        from .fs.proc.task_mmu import PAGE_IS_NAMES, PM_SCAN_NAMES, do_pagemap_scan, pm_scan_arg
        from .include.linux.mm_types import _parse_names
        from .mm.vma import ulong

        def masks(value, what):
            return ulong(_parse_names(value, PAGE_IS_NAMES, "page_is_", what), what)

        arg = pm_scan_arg(ulong(_parse_names(flags, PM_SCAN_NAMES, "pm_scan_", "PAGEMAP_SCAN flag"), "flags"),
                          ulong(_int_arg(start, "start"), "start"), ulong(_int_arg(end, "end"), "end"),
                          ulong(_int_arg(vec_len, "vec_len"), "vec_len"), ulong(_int_arg(max_pages, "max_pages"),
                                                                                "max_pages"),
                          masks(category_inverted, "category"), masks(category_mask, "category"),
                          masks(category_anyof_mask, "category"), masks(return_mask, "category"))
        self.task.check_alive()
        regions, walk_end = do_pagemap_scan(self.machine.kernel, self.task, arg)
        return PagemapScan(tuple(PageRegion(*r) for r in regions), walk_end)

    def smaps_rollup(self) -> dict[str, int]:
        """``/proc/PID/smaps_rollup`` values in kB, keyed like the kernel's file (``Rss``,
        ``Pss``, ``Anonymous``, ``AnonHugePages``, ...; ``smap_gather_stats`` over every VMA)."""
        return smaps_counters(self.machine.kernel, self.task, [(v.vm_start, v.vm_end, v) for v in self.task.mm.vmas])

    def smaps(self) -> list[dict[str, int]]:
        """Per-VMA ``/proc/PID/smaps`` values (kB), in the order of ``maps()``."""
        return [smaps_counters(self.machine.kernel, self.task, [(v.vm_start, v.vm_end, v)]) for v in self.task.mm.vmas]

    # files (fs/open.c, fs/read_write.c, fs/sync.c, mm/fadvise.c) -------------------------------
    def open(self, path: str, mode: str = "r", create: bool = False, truncate: bool = False) -> int:
        """``open(path, flags)``: ``mode`` "r" (O_RDONLY), "w" (O_WRONLY), "rw" (O_RDWR) or "a"
        (O_WRONLY|O_APPEND); ``create`` adds O_CREAT (the parent directory must exist),
        ``truncate`` O_TRUNC. Returns the lowest free descriptor; the file's readahead state
        starts from its disk's ``read_ahead_kb``.

        Raises ``KernelError``: ENOENT (no such file, or a missing directory on the way),
        ENOTDIR, EISDIR (a directory opened for writing), EMFILE, EINVAL (unknown mode)."""
        from .fs.open import do_sys_open

        self.task.check_alive()
        return do_sys_open(self.machine.kernel, self.task.files, path, open_flags(mode, create, truncate))

    def close(self, fd: int) -> None:
        """``close(fd)``; the file's last reference (no other descriptor or mapping) releases it.
        Raises ``KernelError`` (EBADF)."""
        from .fs.open import close_fd

        self.task.check_alive()
        close_fd(self.machine.kernel, self.task.files, fd)

    def pread(self, fd: int, nbytes: int, offset: int | None = None, chunk: int | None = None) -> bytes:
        """Read ``nbytes`` at ``offset`` (``pread64``), or at the file position, which then
        advances (``read``), in syscalls of ``chunk`` bytes (default: one). Stops early at the
        end of the file. Returns the data as memory holds it: one byte per 64-byte line each
        call covers (``len`` is ceil(bytes/64) for aligned reads). On a pipe's read end
        (``pipe``) it reads what the pipe holds, up to ``nbytes``: spliced pages are read now.

        Raises ``KernelError``: EBADF (bad descriptor, not open for reading), EISDIR, EINVAL
        (negative count, offset or chunk), ESPIPE (an offset on a pipe), EAGAIN (an empty pipe
        whose write end is open: the read would wait)."""
        from .fs.read_write import vfs_read_calls

        f, pos, step = self._rw_args(fd, nbytes, offset, chunk, FMODE_PREAD)
        with self._file_syscall() as k:  # current: the task the page cache is charged to, a refault stalls
            done, data = vfs_read_calls(k, f, pos, nbytes, step)
        if offset is None and not f.f_mode & FMODE_STREAM:
            f.f_pos = pos + done
        return data

    def pwrite(self, fd: int, nbytes: int, offset: int | None = None, chunk: int | None = None,
               value: int = 7) -> int:
        """Write ``nbytes`` bytes of ``value`` (0..255) at ``offset`` (``pwrite64``), or at the
        file position, which then advances (``write``), in syscalls of ``chunk`` bytes
        (default: one): ``p.pwrite(fd, 64 << 20, chunk=4096)`` is 16384 write() calls, each
        making order-0 page-cache folios on ext4, where one 64 MiB write makes 2 MiB folios.
        O_APPEND writes at the end of the file. Returns the bytes written (fewer when the
        filesystem fills up part-way, or a pipe: its write end takes up to ``F_GETPIPE_SZ``
        bytes until its reader reads).

        Raises ``KernelError``: EBADF, EINVAL (negative count, offset or chunk; a value that
        is not a byte), EFBIG (past the maximum file size), ENOSPC (nothing could be written),
        ESPIPE (an offset on a pipe), EAGAIN (a full pipe), EPIPE (a pipe with no reader)."""
        from .fs.read_write import vfs_write

        value = _byte_value(value)
        f, pos, step = self._rw_args(fd, nbytes, offset, chunk, FMODE_PWRITE)
        done = 0
        with self._file_syscall() as k:  # current: the task balance_dirty_pages throttles
            while True:
                n = min(step, nbytes - done)
                try:
                    written, at = vfs_write(k, f, n, pos, value)
                except KernelError as e:
                    if done and e.errno in (errno.ENOSPC, errno.EAGAIN):
                        break
                    raise
                done += written
                pos = at + written
                if written < n or done >= nbytes:
                    break
        if offset is None and not f.f_mode & FMODE_STREAM:
            f.f_pos = pos
        return done

    @contextmanager
    def _file_syscall(self):
        """``current`` is this process's task during the call (the page cache it adds is
        charged to its memcg); a fatal signal that landed meanwhile (its memcg's OOM killer
        chose it) ends it on the way back to user space: ``Killed``, even if the call failed."""
        k = self.machine.kernel
        try:
            with F.running(k, self.task):
                yield k
        except KernelError:
            if self.task.pending_signal:
                F.get_signal(k, self.task)
            raise
        if self.task.pending_signal:
            F.get_signal(k, self.task)

    def _rw_args(self, fd, nbytes, offset, chunk, positioned: int):
        """The file, position and step of a read or write; ESPIPE for an offset on a file
        without ``positioned`` I/O (FMODE_PREAD/FMODE_PWRITE: a pipe)."""
        from .fs.open import fdget

        self.task.check_alive()
        f = fdget(self.task.files, fd)
        if offset is not None and not f.f_mode & positioned:
            raise KernelError(errno.ESPIPE, f"fd {fd}: no positioned I/O on a {f.name.split(':')[0]} (ESPIPE)")
        nbytes = _int_arg(nbytes, "count")
        pos = f.f_pos if offset is None else _int_arg(offset, "offset")
        step = nbytes if chunk is None else _int_arg(chunk, "chunk")
        if nbytes < 0 or pos < 0 or step <= 0 and nbytes > 0:
            raise KernelError(errno.EINVAL, f"count {nbytes}, offset {pos} and chunk {chunk} must not be negative")
        return f, pos, max(step, 1)

    def fsync(self, fd: int) -> None:
        """``fsync(fd)``: the file's dirty page-cache folios are written to its disk and waited
        for (tmpfs: nothing to do). Raises ``KernelError`` (EBADF)."""
        self._sync(fd, False)

    def fdatasync(self, fd: int) -> None:
        """``fdatasync(fd)``: as ``fsync`` (no metadata journal is modelled)."""
        self._sync(fd, True)

    def _sync(self, fd: int, datasync: bool) -> None:
        from .fs.open import fdget
        from .fs.sync import vfs_fsync

        self.task.check_alive()
        vfs_fsync(self.machine.kernel, fdget(self.task.files, fd), datasync)

    def ftruncate(self, fd: int, size: int) -> None:
        """``ftruncate(fd, size)``: the file's size becomes ``size``; shrinking drops the page
        cache and the blocks past it (and unmaps those pages), growing adds a hole that reads
        as zeros. Raises ``KernelError``: EBADF, EINVAL (negative size, not open for writing,
        a directory), EFBIG (beyond the filesystem's maximum)."""
        from .fs.open import do_ftruncate, fdget

        self.task.check_alive()
        do_ftruncate(self.machine.kernel, fdget(self.task.files, fd), _int_arg(size, "size"))

    def fallocate(self, fd: int, offset: int, length: int, mode=0) -> None:
        """``fallocate(fd, mode, offset, length)``: ``mode`` 0 allocates the range's blocks
        (pages on tmpfs) and extends the file to its end; "keep_size" allocates without
        extending; "punch_hole|keep_size" deallocates the range (its whole pages are unmapped
        from every process and leave the page cache, partial pages are zeroed; it reads as
        zeros after). ``mode`` is the FALLOC_FL_* number or names joined by "|".
        Raises ``KernelError``: EBADF (bad descriptor, not open for writing), EINVAL (negative
        offset, length not above 0, unknown mode name), EOPNOTSUPP (a mode the filesystem
        lacks, PUNCH_HOLE without KEEP_SIZE), EISDIR, EFBIG, ENOSPC."""
        from .fs.open import fdget, vfs_fallocate
        from .include.linux.falloc import parse_falloc_mode

        self.task.check_alive()
        f = fdget(self.task.files, fd)
        vfs_fallocate(self.machine.kernel, f, parse_falloc_mode(mode), _int_arg(offset, "offset"),
                      _int_arg(length, "length"))

    def memfd_create(self, name: str, flags=0) -> int:
        """``memfd_create(name, flags)`` (``mm/memfd.c``): a new tmpfs file with no path, open
        read-write in the lowest free descriptor, size 0: give it a size with ``ftruncate``
        or ``fallocate``, map it with ``mmap(..., fd=)``. Its mappings show as
        ``/memfd:NAME (deleted)``. ``flags``: ``"cloexec"``, ``"allow_sealing"``,
        ``"noexec_seal"``, ``"exec"`` joined by ``|`` (``MFD_`` optional), or the number;
        the seals they leave are read with ``fcntl(fd, "F_GET_SEALS")``.

        Raises ``KernelError``: EINVAL (unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, a name
        over 249 bytes), EFAULT (a name that is not a string), ENOSYS (MFD_HUGETLB: no
        hugetlbfs), EMFILE."""
        from .mm.memfd import memfd_create, parse_memfd_flags

        self.task.check_alive()
        return memfd_create(self.machine.kernel, self.task.files, name, parse_memfd_flags(flags))

    def fcntl(self, fd: int, cmd, arg: int = 0) -> int:
        """``fcntl(fd, cmd, arg)`` for ``"F_GET_SEALS"`` (1034): the seals of a tmpfs file or
        memfd (F_SEAL_SEAL 1, F_SEAL_EXEC 0x20, ...); ``"F_GETPIPE_SZ"`` (1032): a pipe's
        capacity in bytes (65536: 16 pages); ``"F_SETPIPE_SZ"`` (1031): resize it to ``arg``
        bytes rounded up to a power of two of pages, returning the new size.

        Raises ``KernelError``: EBADF (no such descriptor; a pipe command on another file),
        EINVAL (another command — F_ADD_SEALS and the rest are not simulated —, a file that
        takes no seals, a pipe size of 0 or above 2 GiB), EPERM (a pipe size above
        pipe-max-size, 1 MiB), EBUSY (a pipe size too small for the buffers in use)."""
        from .fs.open import fdget
        from .fs.pipe import F_GETPIPE_SZ, F_SETPIPE_SZ, pipe_fcntl
        from .mm.memfd import F_GET_SEALS, memfd_get_seals

        self.task.check_alive()
        f = fdget(self.task.files, fd)
        num = {"F_GET_SEALS": F_GET_SEALS, "F_GETPIPE_SZ": F_GETPIPE_SZ, "F_SETPIPE_SZ": F_SETPIPE_SZ}.get(cmd, cmd)
        if num in (F_GETPIPE_SZ, F_SETPIPE_SZ):
            return pipe_fcntl(self.machine.kernel, f, num, _int_arg(arg, "arg"))
        if num != F_GET_SEALS:
            raise KernelError(errno.EINVAL, f"fcntl command {cmd!r}: only F_GET_SEALS, F_GETPIPE_SZ and "
                                            "F_SETPIPE_SZ are simulated")
        return memfd_get_seals(f)

    def pipe(self) -> tuple[int, int]:
        """``pipe(fds)`` (``fs/pipe.c``): a new pipe of 16 one-page buffers (64 KiB); returns
        (read end, write end), the two lowest free descriptors. ``pwrite(w, n, value=v)``
        writes into it, ``pread(r, n)`` reads (no offsets: ESPIPE), ``vmsplice`` splices user
        pages into it; closing both ends (or exiting) frees it and drops the page references
        its buffers hold. A call that would wait for the other end returns as O_NONBLOCK
        does (part done, or EAGAIN); a write with no reader is EPIPE (SIGPIPE is not sent).

        Raises ``KernelError``: EMFILE, ESRCH after exit."""
        from .fs.pipe import do_pipe2

        self.task.check_alive()
        return do_pipe2(self.machine.kernel, self.task.files)

    def vmsplice(self, fd: int, addr: int, length: int, flags=0) -> int:
        """``vmsplice(fd, &(struct iovec){addr, length}, 1, flags)`` (``fs/splice.c``). On a
        pipe's write end the pages of [addr, addr + length) go into the pipe by reference:
        GUP-fast takes a reference on each (FOLL_GET: not a pin, no unsharing; a page not
        present is faulted in for reading), nothing is copied, the reader later reads what the
        pages hold then; the references keep the pages after an munmap and make a write fault
        copy instead of reusing them. At most the pipe's free slots are filled (a page each):
        returns the bytes spliced. On a read end it copies the pipe's data into the range.
        ``flags``: SPLICE_F_* numbers or names ``"nonblock|gift|more|move"``.

        Raises ``KernelError``: EINVAL (unknown flags, a negative length), EBADF (no such
        descriptor, not a pipe), EFAULT (a range outside user space, or whose first page GUP
        cannot take), EAGAIN (a full pipe, or an empty one being read), EPIPE (no reader)."""
        from .fs.splice import SPLICE_F_NAMES, sys_vmsplice
        from .include.linux.mm_types import _parse_names

        flags = 0 if flags in (0, None, "") else _parse_names(flags, SPLICE_F_NAMES, "splice_f_", "vmsplice flag")
        self.task.check_alive()
        with self._file_syscall() as k:
            return sys_vmsplice(k, self.task, fd, _int_arg(addr, "addr"), _int_arg(length, "length"), flags)

    def fadvise(self, fd: int, offset: int, length: int, advice) -> None:
        """``posix_fadvise(fd, offset, length, advice)``: "normal", "random", "sequential",
        "willneed" (read the range now), "dontneed" (write it back and drop its clean,
        unmapped pages), "noreuse" (or the POSIX_FADV_* number); length 0 means to the end.
        Raises ``KernelError``: EBADF, EINVAL (unknown advice, negative length)."""
        from .fs.open import fdget
        from .mm.fadvise import generic_fadvise, parse_fadvise

        self.task.check_alive()
        f = fdget(self.task.files, fd)
        generic_fadvise(self.machine.kernel, f, _int_arg(offset, "offset"), _int_arg(length, "length"),
                        parse_fadvise(advice))

    def readahead(self, fd: int, offset: int, length: int) -> None:
        """``readahead(fd, offset, length)``: read the range into the page cache now.
        Raises ``KernelError``: EBADF (not open for reading), EINVAL (not a regular file,
        negative length)."""
        from .fs.open import fdget
        from .mm.fadvise import ksys_readahead

        self.task.check_alive()
        ksys_readahead(self.machine.kernel, fdget(self.task.files, fd), _int_arg(offset, "offset"),
                       _int_arg(length, "length"))

    def fstatfs(self, fd: int) -> int:
        """``fstatfs(fd)``'s ``f_type``, the filesystem's magic number (``EXT4_SUPER_MAGIC``
        0xEF53, ``TMPFS_MAGIC`` 0x01021994, memfds included); the other statfs fields are not
        simulated. Raises ``KernelError`` (EBADF) for a descriptor not open."""
        from .include.linux.fs import FS_MAGIC

        self.task.check_alive()
        return FS_MAGIC[self._file(fd).f_inode.i_sb.s_type]

    def fds(self) -> dict[int, str]:
        """The open descriptors and their paths (``/proc/PID/fd``)."""
        return {fd: f.f_inode.name for fd, f in sorted(self.task.files.fdt.items())}


KILL_SIGNALS = ("SIGKILL", 9)
OPEN_MODES = {"r": 0o0, "w": 0o1, "rw": 0o2, "a": 0o1 | 0o2000}  # O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY|O_APPEND


def open_flags(mode: str, create: bool, truncate: bool) -> int:
    """The open(2) flags of ``Process.open``'s arguments; EINVAL for an unknown mode."""
    from .include.linux.fs import O_CREAT, O_TRUNC

    if not isinstance(mode, str) or mode not in OPEN_MODES:
        raise KernelError(errno.EINVAL, f"open mode must be one of {', '.join(OPEN_MODES)}, not {mode!r}")
    return OPEN_MODES[mode] | (O_CREAT if create else 0) | (O_TRUNC if truncate else 0)
