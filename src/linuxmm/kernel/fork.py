"""Processes: creation, fork and exit (``kernel/fork.c``, ``kernel/exit.c``), Linux 6.18.

A ``task_struct`` here is what memory management needs of a task: its ``mm`` (VMAs from
``mm/mmap.py``, page tables and counters in compiled arrays), its CPU and fault counts.
``copy_process`` duplicates the address space (``dup_mmap``: VMAs copied, private writable
pages shared copy-on-write by ``copy_page_range``); ``do_exit`` tears it down
(``exit_mmap``: unmap everything, free the page tables).

A task's mm counters (``mmc``, the compiled ``mm_struct``) are a row of one kernel-wide array
(``k.rmap.mmcs``, grown as mms come): compiled reclaim indexes it by row (``row_mm``) and
changes the counters in place. ``exit_mmap`` gives the row back; the dead task keeps a copy.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from ..errors import KernelError, KernelPanic, Killed
from ..include.linux.fs import files_struct
from ..include.linux.huge_mm import vma_thp_disabled
from ..include.linux.mm_types import (PAGE_SIZE, VM_LOCKED, VM_MAYBE_GUARD, VM_NOHUGEPAGE, find_vma, mm_struct,
                                      vmas_in_range)
from ..include.linux.sched import EXIT_DEAD, TASK_RUNNING
from ..mm import memory as M
from ..mm.khugepaged import khugepaged_exit
from ..mm.mlock import mlock_pte_range
from ..mm.mmap import arch_pick_mmap_layout
from ..mm.page_alloc import alloc_pages_slowpath_for_fault
from ..mm.pgalloc import grow_table_pool, vm_state_init
from ..mm.pgtable import VP_CPU, VP_LOCAL_NID, VP_NFREE
from ..mm.vma import dup_mmap, remove_vma
from .sched.psi import psi_running

if TYPE_CHECKING:
    from ..init.main import Kernel


class task_struct:
    """One process: pid, comm, state, CPU, and its address space."""

    def __init__(self, k: "Kernel", pid: int, comm: str, mm, cpu: int):
        self.kernel, self.pid, self.comm, self.mm, self.cpu = k, pid, comm, mm, cpu
        self.state = TASK_RUNNING
        self.exit_signal = 0
        self.uid = 0  # no credentials are simulated: every task is root's
        # signal_struct's OOM fields (copied at fork): the score adjustment and its floor, the
        # mm it holds as an OOM victim (``signal->oom_mm``), and a fatal signal not yet handled
        self.oom_score_adj = self.oom_score_adj_min = 0
        self.oom_mm = None
        self.pending_signal = 0
        self.kill_reason = ""
        self.caught_signals: set[int] = set()  # sigaction: signals with a handler (it siglongjmps out)
        self.pagefault_disabled = 0  # pagefault_disable() nesting count
        # PSI (kernel/sched/psi.py): the TSK_* flags it counts, in a memory stall, in io_schedule
        self.psi_flags, self.in_memstall, self.in_iowait = 0, False, False
        self.mmc = mm_counters_alloc(k.rmap, self)
        self.cgroup = k.cgrp_dfl_root  # task->cgroups: its cgroup v2 (kernel/cgroup/cgroup.py)
        self.mmc[M.MMC_MEMCG] = self.cgroup.memcg.id
        self.files = files_struct()  # the descriptor table (fs/file.c)
        # dirty throttling (balance_dirty_pages): pages dirtied since the last check, how many
        # may be dirtied before the next (128 KiB' worth at first), when it last paused (jiffies)
        self.nr_dirtied, self.nr_dirtied_pause, self.dirty_paused_when = 0, 128 >> (k.arch.page_shift - 10), 0
        self.vma_table = np.zeros((0, M.NR_VMA_COLS), np.int64)

    @property
    def min_flt(self) -> int:
        return int(self.mmc[M.MMC_MINFLT])

    @property
    def maj_flt(self) -> int:
        return int(self.mmc[M.MMC_MAJFLT])

    def check_alive(self) -> None:
        """Entering a call: a panicked machine runs nothing, an exited process is gone (ESRCH),
        and a fatal signal that arrived while it was not running kills it now (``Killed``)."""
        if self.kernel.panicked is not None:
            raise KernelPanic(self.kernel.panicked)
        if self.state != TASK_RUNNING:
            raise KernelError(errno.ESRCH, f"process {self.pid} ({self.comm}) has exited")
        if self.pending_signal:
            get_signal(self.kernel, self)


@contextmanager
def running(k: "Kernel", task: task_struct):
    """``current`` is ``task`` for the duration (a fault, a fork): what the OOM killer reports
    and may choose as the task it interrupts, and what PSI counts as running on its CPU."""
    prev, k.current = k.current, task
    try:
        with psi_running(k, task):
            yield
    finally:
        k.current = prev


def get_signal(k: "Kernel", task: task_struct) -> None:
    """The task returns to user space with a fatal signal pending: it exits (``do_group_exit``)
    and the call it was making raises ``Killed``."""
    from ..mm.page_alloc import drop_slowpath_page

    sig = task.pending_signal
    if k.vm_state is not None:
        drop_slowpath_page(k)
    do_exit(k, task, sig)
    raise Killed(task.pid, task.comm, sig, task.kill_reason)


def do_exit(k: "Kernel", task: task_struct, sig: int = 0) -> None:
    """``do_exit``: the address space goes (``exit_mm`` -> ``exit_mmap``; an OOM victim's mm is
    then off the OOM killer's list), then the open files (``exit_files``: a file nobody else
    holds is released, an unlinked one evicted, the GUP test driver's unpins); the task is
    dead, killed by ``sig`` if not 0, and reaped."""
    from ..fs.file_table import exit_files
    from ..mm.gup_test import gup_test_release
    from ..mm.oom_kill import exit_oom_victim

    exit_mmap(k, task)
    exit_oom_victim(k, task)
    exit_files(k, task.files)
    gup_test_release(k, task.pid)  # its gup_test file among them: the driver's pins go
    task.state = EXIT_DEAD
    k.rmap.tasks_seq += 1  # its mm owns no rmap row any more
    task.exit_signal = sig
    task.pending_signal = 0


def vma_file_columns(f) -> tuple[int, int, int]:
    """(VMA_XA, VMA_FILE_END, VMA_FOPS) of a VMA mapping the open file ``f`` (None: anonymous):
    its page cache's xarray, its size in pages, and whether its vm_ops have ``page_mkwrite``
    (ext4: writenotify) or are shmem's (tmpfs and shared anonymous memory)."""
    if f is None:
        return -1, 0, 0
    mapping = f.f_mapping
    return mapping.xa_id, -(-f.size // PAGE_SIZE), M.FOPS_SHMEM if mapping.swapbacked else M.FOPS_MKWRITE


def vma_table_rows(mm, vmas) -> np.ndarray:
    """``vmas`` as the compiled fault path reads them, one row each. The flags column is what
    the fault path acts on: ``vm_flags``, with VM_NOHUGEPAGE where ``vma_thp_disabled`` says
    the process turned THP off for the VMA (prctl)."""
    rows = [(v.vm_start, v.vm_end, v.vm_flags | (VM_NOHUGEPAGE if vma_thp_disabled(mm, v) else 0), v.vm_pgoff,
             v.anon_vma.id if v.anon_vma is not None else 0,
             v.vm_file.id if v.vm_file is not None else 0, *vma_file_columns(v.vm_file)) for v in vmas]
    return np.array(rows, np.int64).reshape(len(rows), M.NR_VMA_COLS)


def build_vma_table(mm) -> np.ndarray:
    """The mm's VMA table: every VMA's row, in address order."""
    return vma_table_rows(mm, mm.vmas)


# From this many VMAs on, splicing the changed rows in (two binary searches and a concatenation,
# ~6 us) costs less than rebuilding the whole table (~1 us a row).
VMA_TABLE_SPLICE_MIN = 8
USER_SPACE_END = 1 << 62  # past every user address of every geometry: a range walk to it covers all


def vma_table_update(mm, table: np.ndarray, start: int, end: int, vmas: list) -> np.ndarray:
    """``table`` with the rows of the VMAs that overlapped [start, end) replaced by rows of
    ``vmas``, those overlapping it now; the rows around them stay as they are."""
    lo = int(np.searchsorted(table[:, M.VMA_END], start, side="right"))
    hi = int(np.searchsorted(table[:, M.VMA_START], end, side="left"))
    return np.concatenate((table[:lo], vma_table_rows(mm, vmas), table[hi:]))


def vma_table_file_size(task: task_struct, vma) -> None:
    """The file ``vma`` maps changed size (``i_size_write``): its row of the task's VMA table
    follows (the compiled fault path's end of file: SIGBUS and the end of fault-around)."""
    row = int(np.searchsorted(task.vma_table[:, M.VMA_START], vma.vm_start))
    if row < len(task.vma_table) and task.vma_table[row, M.VMA_START] == vma.vm_start:
        task.vma_table[row, M.VMA_FILE_END] = vma_file_columns(vma.vm_file)[1]


def pgd_alloc(k: "Kernel", task: task_struct) -> None:
    """The top-level table of a new address space."""
    vs = ensure_tables(k)
    row = M.pte_alloc_one(k.mem_map, vs, task.mmc, 0)
    if row == -2 and alloc_pages_slowpath_for_fault(k, vs, task.cpu, task.comm):
        row = M.pte_alloc_one(k.mem_map, vs, task.mmc, 0)
    if row < 0:
        raise KernelError(errno.ENOMEM, "no memory for a page table")
    task.mmc[M.MMC_PGD] = row
    task.mm.pgd = row


def mm_counters_alloc(reg, task: task_struct) -> np.ndarray:
    """A zeroed row of ``reg.mmcs`` for ``task``'s mm (``mm_slots`` says whose each row is);
    the array doubles when full, every live task's ``mmc`` then viewing its row of the new one."""
    slots = reg.mm_slots
    if None not in slots:
        grown = np.zeros((max(2 * len(slots), 4), M.NR_MMC), np.int64)
        grown[:len(slots)] = reg.mmcs
        reg.mmcs = grown
        for row, t in enumerate(slots):
            t.mmc = grown[row]
        slots += [None] * (len(grown) - len(slots))
    row = slots.index(None)
    slots[row] = task
    reg.mmcs[row] = 0
    return reg.mmcs[row]


def mm_counters_release(reg, task: task_struct) -> None:
    """The task's mm is gone: its row is free again, the task keeps its last counters."""
    for row, t in enumerate(reg.mm_slots):
        if t is task:
            task.mmc = task.mmc.copy()
            reg.mm_slots[row] = None
            return


def ensure_tables(k: "Kernel", need: int = 64):
    """Make sure the table pool has ``need`` free rows before compiled code runs."""
    if k.vm_state is None:
        k.vm_state = vm_state_init(k)
    while k.vm_state.vp[VP_NFREE] < need:
        grow_table_pool(k)
    return k.vm_state


def set_current(k: "Kernel", task: task_struct) -> None:
    """The compiled fault path allocates on the running task's CPU and node."""
    vs = ensure_tables(k)
    vs.vp[VP_CPU] = task.cpu
    nid = k.cpu_to_node.get(task.cpu)
    if nid is None:
        nid = k.node_ids[0]
    vs.vp[VP_LOCAL_NID] = nid
    vs.ac[:, 0] = nid  # AC_NID: node-local allocation


def mm_alloc(**fields) -> mm_struct:
    """A new address space as ``execve`` leaves it: ``mm_alloc``, then the layout
    ``setup_new_exec`` picks (``arch_pick_mmap_layout``: top-down below ``mmap_base``, no
    randomization without ``rng``). An ``mmap_base`` given here overrides the computed one."""
    mm = mm_struct(**fields)
    arch_pick_mmap_layout(mm, mm.rng)
    mm.mmap_base = fields.get("mmap_base") or mm.mmap_base
    return mm


def copy_mm(k: "Kernel", parent: task_struct, child: task_struct) -> None:
    """``dup_mmap``: VMAs copied; COW mappings' pages shared read-only (``copy_page_range``).
    A table the free lists cannot give above the watermark comes from ``__alloc_pages_slowpath``
    (as the fault's do, in the parent's context), and the copy resumes where it stopped."""
    dup_mmap(parent.mm, child.mm)
    a, vs = k.mem_map, ensure_tables(k)
    for vma in parent.mm.vmas:
        flags = vma.vm_flags
        if flags & (M.VM_DONTCOPY | M.VM_WIPEONFORK) or (vma.vm_file is not None and vma.anon_vma is None
                                                         and not flags & VM_MAYBE_GUARD):
            continue  # vma_needs_copy: the child faults file pages in itself (guard markers must be copied)
        start = vma.vm_start
        dst_anon = find_vma(child.mm, start).anon_vma  # anon_vma_fork gave the child's VMA its own
        dst_anon = dst_anon.id if dst_anon is not None else 0
        while start < vma.vm_end:
            status, start = M.copy_page_range(a, vs, parent.mmc, child.mmc, child.mmc[M.MMC_PGD],
                                              start, vma.vm_end, flags, dst_anon)
            if status == -1:
                vs = grow_and_get(k)
            elif status == M.CHARGE_FAILED:  # copy_present_page's folio_prealloc: its charge failed
                raise KernelError(errno.ENOMEM, "fork: no memory for a copy of a pinned page")
            elif status < 0 and not alloc_pages_slowpath_for_fault(k, vs, parent.cpu, parent.comm):
                raise KernelError(errno.ENOMEM, "fork: no memory for page tables")
    child.vma_table = build_vma_table(child.mm)
    flush_tlb_mm(k, parent)


def grow_and_get(k: "Kernel"):
    grow_table_pool(k)
    return k.vm_state


def flush_tlb_mm(k: "Kernel", task: task_struct) -> None:
    """Write-protecting or tearing down a whole mm invalidates its TLB entries (``flush_tlb_mm``)."""
    if k.tlb is not None:
        k.tlb.flush_mm(task)


def flush_tlb_range(k: "Kernel", task: task_struct, start: int, end: int) -> None:
    if k.tlb is not None:
        k.tlb.flush_range(task, start, end)


def mlock_locked_vmas(k: "Kernel", task: task_struct, start: int, end: int, lock: bool) -> None:
    """The folios mapped by VM_LOCKED VMAs in [start, end) are mlocked once populated, or
    munlocked before their ptes go: what the kernel's ``folio_add_*_rmap_*`` and
    ``folio_remove_rmap_*`` do per page (``mlock_vma_folio``, ``munlock_vma_folio``)."""
    for vma in vmas_in_range(task.mm, start, end):
        if vma.vm_flags & VM_LOCKED:
            mlock_vma_pages_range(k, task, max(start, vma.vm_start), min(end, vma.vm_end), lock)


def mlock_vma_pages_range(k: "Kernel", task: task_struct, start: int, end: int, lock: bool) -> None:
    """mlock or munlock the folios mapped in [start, end), after the CPU's LRU batches moved
    them onto their lists (``do_mlock``'s ``lru_add_drain``: an mlocked folio is culled at once)."""
    M.lru_add_drain(k.mem_map, task.cpu)
    mlock_pte_range(k.mem_map, ensure_tables(k), int(task.mmc[M.MMC_PGD]), start, end, lock)


def exit_mmap(k: "Kernel", task: task_struct) -> None:
    """Unmap every VMA and free all page tables, the PGD last; then remove the VMAs, which
    gives their VM_ACCOUNT charges back and drops the shmem objects' references."""
    khugepaged_exit(k, task)  # __mmput: before the address space goes
    a, vs = k.mem_map, ensure_tables(k)
    mlock_locked_vmas(k, task, 0, USER_SPACE_END, False)
    pgd = int(task.mmc[M.MMC_PGD])
    M.unmap_page_range(a, vs, task.mmc, pgd, 0, USER_SPACE_END, True, False)
    M.free_pgd_range(a, vs, task.mmc, pgd, np.zeros((0, M.NR_VMA_COLS), np.int64), 0, USER_SPACE_END)
    M.pte_free(a, vs, task.mmc, pgd, 0)
    flush_tlb_mm(k, task)
    for vma in list(task.mm.vmas):
        remove_vma(task.mm, vma)
    mm_counters_release(k.rmap, task)
