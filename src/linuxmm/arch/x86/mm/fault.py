"""User page faults on x86 (``arch/x86/mm/fault.c``): ``do_user_addr_fault`` and SIGSEGV, 6.18.

The compiled path (``mm/memory.py``) resolves most faults inside a batch of accesses; this
module finishes the ones it hands back (``handle_fault_status``), after which the access is
retried: a table pool to grow, the huge zero page to allocate, an anon_vma to prepare,
shared-memory pages, an allocation for the page allocator's slow path, and bad accesses,
which kill the task with the kernel's ``segfault at ... error N`` line (``show_signal_msg``)
and raise ``SegmentationFault``.

When the slow path runs out of memory the OOM killer (``mm/oom_kill.py``) picks a victim; if
that is this task, it gets the memory reserves for the fault and then dies on its way back to
user space (``Killed``). An allocation that fails in the slow path even so makes the fault
return VM_FAULT_OOM. For a user-mode fault ``do_user_addr_fault`` then calls
``pagefault_out_of_memory`` (mm/oom_kill.c, 6.18): no memcg OOM is pending and no fatal signal,
so it logs (ratelimited) ``Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF`` and
returns to user space, which executes the faulting instruction again: no signal, the task
stays alive, and without an OOM kill it faults again forever. Here the access stops there:
the report (``warn_alloc`` + Mem-Info, then that line) is in the log and ``VmFaultOOM`` is
raised; the task is alive and may be used or exited.
"""

from __future__ import annotations

import errno

import numpy as np

from ....errors import KernelError, LinuxmmError
from ....include.linux import gfp as G
from ....include.linux.mm_types import find_vma, vmas_in_range
from ....include.linux.vmstat import THP_ZERO_PAGE_ALLOC, THP_ZERO_PAGE_ALLOC_FAILED
from ....kernel.fork import do_exit, ensure_tables, get_signal, grow_and_get, running, set_current
from ....mm import memory as M
from ....mm import page_alloc as pa
from ....mm import vma as V
from ....mm.filemap import filemap_fault, filemap_page_mkwrite
from ....mm.memcontrol import resume_user_mode_work, try_charge_memcg
from ....mm.page_alloc import slowpath_wakes_nothing, wake_boosted_kswapds
from ....mm.pgtable import (AC_THP, VP_FAULT_MAJOR, VP_HUGE_ZERO_PFN, VP_PAGEFAULT_DISABLED, VP_PMD_LEVEL, VP_SLOW_CTX,
                            VP_SWAPIN_FAULTS, entry_present, pte_val)
from ....mm.shmem import shmem_fault
from ....mm.swap_state import do_swap_page
from .tlb import asid_of, tlb_for

# x86 page fault error code bits (arch/x86/include/asm/trap_pf.h)
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER = 1 << 0, 1 << 1, 1 << 2


class SegmentationFault(LinuxmmError):
    """A SIGSEGV the kernel delivered: the process is dead. ``addr`` and ``error`` as in dmesg."""

    def __init__(self, comm: str, pid: int, addr: int, error: int, reason: str):
        self.comm, self.pid, self.addr, self.error, self.reason = comm, pid, addr, error, reason
        super().__init__(reason)


class VmFaultOOM(LinuxmmError):
    """A fault whose allocation failed with no OOM kill: the task is alive, the access did not
    happen, and the kernel would retry the faulting instruction forever (``pagefault_out_of_memory``)."""

    def __init__(self, comm: str, pid: int, addr: int):
        self.comm, self.pid, self.addr = comm, pid, addr
        super().__init__(f"{comm}[{pid}]: out of memory faulting {addr:#x}: the page allocation failed and "
                         "nothing was OOM-killed; the task would retry this access forever")


class BusError(LinuxmmError):
    """A SIGBUS the kernel delivered (``do_sigbus``), e.g. a shared mapping touched beyond
    the end of its file: the process is dead. x86 logs no line for it."""

    def __init__(self, comm: str, pid: int, addr: int, reason: str):
        self.comm, self.pid, self.addr, self.reason = comm, pid, addr, reason
        super().__init__(reason)


def access(k, task, addrs: np.ndarray, write: bool, value: int = 0, tried: bool = True,
           gup: bool = False) -> np.ndarray:
    """Run user accesses through the MMU and the fault path; returns the bytes read. The task
    is ``current`` meanwhile; a fatal signal it gets (the OOM killer's) kills it as the fault
    returns to user space: ``Killed`` is raised. ``tried``: a fault retried after waiting for
    I/O carries FAULT_FLAG_TRIED and counts as major (``mm_account_fault``); False for
    ``populate_vma_page_range``, whose caller starts such a fault afresh (a minor one). With
    ``gup`` the kernel faults the pages in for itself (``faultin_page``): a fault that would
    signal is EFAULT instead."""
    task.check_alive()
    if write and len(addrs):
        anon_vma_prepare(task, int(addrs.min()), int(addrs.max()) + 1)
    out = np.zeros(len(addrs), np.uint8)
    start = 0
    tlb = tlb_for(k)
    tlb.switch_mm(task)
    with running(k, task):
        while start < len(addrs):
            set_current(k, task)
            vs = ensure_tables(k)
            vs.vp[VP_PAGEFAULT_DISABLED] = task.pagefault_disabled
            slowpath_wakes_nothing(k, vs)
            first, flt = start, int(task.mmc[M.MMC_MINFLT])
            start, status = M.access_batch(k.mem_map, vs, k.page_cache, tlb, asid_of(task), task.vma_table,
                                           task.mmc, addrs, write, value, out, start, k.clock.budget())
            clock_work(k, task, start - first, flt)
            wake_boosted_kswapds(k)
            if status == M.FAULT_OK:
                break
            if gup and status in SIGNAL_FAULTS:
                raise KernelError(errno.EFAULT, f"faultin_page: {int(addrs[start]):#x} would signal (EFAULT)")
            if status != M.FAULT_DEADLINE:
                handle_fault_status(k, task, vs, status, int(addrs[start]), write)
                if not tried:
                    vs.vp[VP_FAULT_MAJOR] = 0
            if task.pending_signal:
                get_signal(k, task)
        resume_user_mode_work(k, task)
    return out


SIGNAL_FAULTS = (M.FAULT_SIGSEGV_MAPERR, M.FAULT_SIGSEGV_ACCERR, M.FAULT_SIGBUS)  # VM_FAULT_SIGSEGV/SIGBUS


def access_remote_vm(k, task, addrs: np.ndarray, write: bool, values: np.ndarray) -> tuple[int, np.ndarray]:
    """``access_remote_vm`` with FOLL_FORCE (``/proc/PID/mem``, ptrace): one byte at each of
    ``addrs`` read from, or written with ``values`` into, ``task``'s memory by the kernel
    (``M.access_remote_batch``), faulting pages in as GUP does. Stops at the first byte GUP
    cannot reach (``check_vma_flags``, or a fault that would signal). Returns how many bytes
    were done and the bytes read."""

    out = np.zeros(len(addrs), np.uint8)
    start = 0
    with running(k, task):
        while start < len(addrs):
            set_current(k, task)
            vs = ensure_tables(k)
            first, flt = start, int(task.mmc[M.MMC_MINFLT])
            start, status = M.access_remote_batch(k.mem_map, vs, k.page_cache, tlb_for(k), asid_of(task),
                                                  task.vma_table, task.mmc, addrs, write, True, values, out, start)
            clock_work(k, task, start - first, flt)
            if status == M.FAULT_OK or status == M.FAULT_EFAULT or status in SIGNAL_FAULTS:
                break
            if status == M.FAULT_NEED_ANON_VMA:  # vmf_anon_prepare: any private VMA, read-only too
                V.anon_vma_prepare(task.mm, find_vma(task.mm, int(addrs[start])))
                task.mm.hooks.vma_changed(task.mm)
            else:
                handle_fault_status(k, task, vs, status, int(addrs[start]), write)
    return start, out


def clock_work(k, task, accesses: int, flt: int) -> None:
    """The simulated time of ``accesses`` accesses, the faults counted since ``flt`` and the
    swap-ins the batch completed (``kernel/timer.py``); the events due meanwhile run."""
    vp = k.vm_state.vp
    swapins = int(vp[VP_SWAPIN_FAULTS])
    if swapins:
        vp[VP_SWAPIN_FAULTS] = 0
    k.clock.work(accesses, int(task.mmc[M.MMC_MINFLT]) - flt + swapins)


def handle_fault_status(k, task, vs, status: int, addr: int, write: bool) -> None:
    """Finish the fault the compiled path handed back with ``status``, so that the access can
    be retried; a fault the task cannot survive kills it and raises."""
    if status == M.FAULT_NEED_TABLES:
        grow_and_get(k)
    elif status == M.FAULT_NEED_HUGE_ZERO:
        vs.vp[VP_HUGE_ZERO_PFN] = mm_get_huge_zero_page(k)
    elif status == M.FAULT_NEED_ANON_VMA:
        anon_vma_prepare(task, addr, addr + 1)
    elif status == M.FAULT_FILE_MISS:  # vm_ops->fault
        vma = find_vma(task.mm, addr)
        if not (shmem_fault if vma.vm_file.f_mapping.swapbacked else filemap_fault)(k, task, addr):
            do_sigbus(k, task, addr)
    elif status == M.FAULT_SWAP:
        if not do_swap_page(k, task, addr, write):
            pagefault_out_of_memory(k, task, addr)
        k.clock.work(0, 1)
    elif status == M.FAULT_FILE_MKWRITE:
        filemap_page_mkwrite(k, task, addr)
    elif status == M.FAULT_SIGBUS:
        do_sigbus(k, task, addr)
    elif status == M.FAULT_EFAULT:
        raise KernelError(errno.EFAULT, f"access to {addr:#x} would fault with page faults disabled")
    elif status == M.FAULT_NEED_CHARGE:
        if not try_charge_memcg(k, task):
            pagefault_out_of_memory(k, task, addr)
    elif status == M.FAULT_NEED_ALLOC:
        if not pa.alloc_pages_slowpath_for_fault(k, vs, task.cpu, task.comm) and vs.vp[VP_SLOW_CTX] != AC_THP:
            pagefault_out_of_memory(k, task, addr)  # (a THP falls back to 4 KiB pages instead)
    else:
        bad_area(k, task, addr, write, status)


def pagefault_out_of_memory(k, task, addr: int) -> None:
    """VM_FAULT_OOM from a user fault: a task the OOM killer chose returns to user space,
    where its SIGKILL ends it; any other logs and would retry the access forever."""
    from ....mm.oom_kill import pagefault_out_of_memory as dying

    if dying(k, task):
        return
    k.log.warn("Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF")
    raise VmFaultOOM(task.comm, task.pid, addr)


def anon_vma_prepare(task, start: int, end: int) -> None:
    """``vmf_anon_prepare`` for the private anonymous VMAs of [start, end): done before a batch
    of writes runs (a fault the compiled path hands back for it would walk the page tables
    twice), and for the VMA of a fault that asks for it (``FAULT_NEED_ANON_VMA``)."""

    changed = False
    for vma in vmas_in_range(task.mm, start, end):  # private anonymous, or private writable file VMAs
        private = not vma.vm_flags & M.VM_SHARED and (vma.vm_file is None or vma.vm_flags & M.VM_WRITE)
        if vma.anon_vma is None and private:
            V.anon_vma_prepare(task.mm, vma)
            changed = True
    if changed:
        task.mm.hooks.vma_changed(task.mm)


def mm_get_huge_zero_page(k) -> int:
    """The huge zero page, allocated on first use; -2 if that fails (fall back to 4 KiB)."""
    gfp = (G.GFP_TRANSHUGE | G.__GFP_ZERO) & ~G.__GFP_MOVABLE
    pfn = pa.alloc_pages(k, gfp, k.vm_state.shift[k.vm_state.vp[VP_PMD_LEVEL]] - 12)
    if pfn is None:
        k.vm_events[THP_ZERO_PAGE_ALLOC_FAILED] += 1
        return -2
    k.vm_events[THP_ZERO_PAGE_ALLOC] += 1
    k.mem_map.content[pfn:pfn + 512] = 0
    return pfn


SIGBUS, SIGSEGV = 7, 11


def bad_area(k, task, addr: int, write: bool, status: int) -> None:
    """SIGSEGV: log ``show_signal_msg``'s line, kill the task, raise; a task with a SIGSEGV
    handler (``sigaction``) lives on and only the access's call raises (its handler jumps
    back past the access, as ``siglongjmp`` does)."""

    entry = pte_val(0)  # a kernel-half address (bit 63) has no user page-table entry to look at
    if addr < 1 << 63:
        entry = pte_val(M.lookup_pte(k.mem_map, k.vm_state, int(task.mmc[M.MMC_PGD]), addr)[0])
    error = X86_PF_USER | (X86_PF_WRITE if write else 0)
    if status == M.FAULT_SIGSEGV_ACCERR and entry_present(entry):
        error |= X86_PF_PROT
    code = "SEGV_MAPERR" if status == M.FAULT_SIGSEGV_MAPERR else "SEGV_ACCERR"
    line = (f"{task.comm}[{task.pid}]: segfault at {addr:x} ip 0000000000000000 sp 0000000000000000 "
            f"error {error:x} likely on CPU {task.cpu} (core {task.cpu}, socket 0)")
    if SIGSEGV not in task.caught_signals:  # show_signal_msg only for an unhandled signal
        k.log.info(line)
        do_exit(k, task, SIGSEGV)
    raise SegmentationFault(task.comm, task.pid, addr, error, f"{line} [{code}]")


def do_sigbus(k, task, addr: int) -> None:
    """SIGBUS (``VM_FAULT_SIGBUS``): kill the task (unless it handles SIGBUS), raise."""

    if SIGBUS not in task.caught_signals:
        do_exit(k, task, SIGBUS)
    raise BusError(task.comm, task.pid, addr, f"{task.comm}[{task.pid}]: SIGBUS (BUS_ADRERR) at {addr:x}: "
                   "beyond the end of the mapped file or shared memory object")
