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
and raises ``SegmentationFault`` (address and ``error N`` as dmesg prints them).
"""

from __future__ import annotations

import errno

import numpy as np

from .arch.x86.mm import fault
from .errors import KernelError
from .kernel import fork as F
from .mm import memory as M
from .mm.pgtable import _PAGE_NX, _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW


class PageTableHooks:
    """What the address-space layer asks of the page tables (``mm_types.MmHooks``)."""

    def __init__(self, k, task):
        self.k, self.task = k, task

    def zap_range(self, mm, start: int, end: int) -> None:
        k, t = self.k, self.task
        a, vs = k.mem_map, F.ensure_tables(k)
        M.zap_range(a, vs, t.mmc, int(t.mmc[M.MMC_PGD]), 0, 0, start, end)
        F.flush_tlb_range(k, t, start, end)

    def vma_changed(self, mm) -> None:
        t = self.task
        t.vma_table = F.build_vma_table(mm)
        if t.state == F.TASK_RUNNING and self.k.vm_state is not None:
            M.free_pgd_range(self.k.mem_map, self.k.vm_state, t.mmc, int(t.mmc[M.MMC_PGD]), 0, 0,
                             t.vma_table)

    def change_protection(self, mm, start: int, end: int, new_flags: int) -> None:
        k, t = self.k, self.task
        change_protection(k.mem_map, F.ensure_tables(k), t.mmc, start, end, new_flags)
        F.flush_tlb_range(k, t, start, end)

    def move_page_tables(self, mm, old_start: int, new_start: int, length: int) -> None:
        k, t = self.k, self.task
        move_range(k, t, old_start, new_start, length)

    def populate(self, mm, start: int, end: int, write: bool) -> None:
        # populate_vma_page_range: GUP faults each page in, for write (breaking COW) when the
        # mapping is private and writable, without touching the contents
        addrs = np.arange(start, end, 4096, dtype=np.int64)
        fault.access(self.k, self.task, addrs, write, -1 if write else 0)

    def madvise_hint(self, mm, start: int, end: int, advice) -> None:
        pass  # willneed/cold/pageout/collapse act on LRU and swap (later issues)


def change_protection(a, vs, mmc, start: int, end: int, new_flags: int) -> None:
    """``change_protection``: present entries get the new write permission; PROT_NONE hides them."""
    addr = start
    while addr < end:
        entry, level = M.lookup_pte(a, vs, int(mmc[M.MMC_PGD]), addr)
        span = 1 << int(vs.shift[level])
        e = int(entry)
        if e & (_PAGE_PRESENT | _PAGE_PROTNONE):
            if span > 4096 and (addr & (span - 1) or addr + span > end):
                M.split_huge_pmd_at(a, vs, mmc, addr)  # only part of the huge page changes
                continue
            new = e & ~(_PAGE_RW | _PAGE_PRESENT | _PAGE_PROTNONE)
            if new_flags & (M.VM_READ | M.VM_WRITE | M.VM_EXEC):
                new |= _PAGE_PRESENT
                # a private writable page becomes writable only if it was (COW stays read-only)
                if new_flags & M.VM_WRITE and (e & _PAGE_RW or new_flags & M.VM_SHARED):
                    new |= _PAGE_RW
            else:
                new |= _PAGE_PROTNONE
            M.set_leaf_entry(a, vs, mmc, addr, level, new)
        addr = (addr // span + 1) * span


def move_range(k, task, old: int, new: int, length: int) -> None:
    """``move_page_tables``: each mapped page keeps its frame and moves to the new address."""
    a, vs = k.mem_map, F.ensure_tables(k)
    for off in range(0, length, 4096):
        M.split_huge_pmd_at(a, vs, task.mmc, old + off)
        entry, level = M.lookup_pte(a, vs, int(task.mmc[M.MMC_PGD]), old + off)
        if not M.entry_mapped(entry):
            continue
        bits = np.uint64(int(entry) & (0xFFF | _PAGE_NX))
        while M.install_pte(a, vs, task.mmc, new + off, int(M.pte_pfn(entry)), bits) == -1:
            vs = F.grow_and_get(k)
        M.set_leaf_entry(a, vs, task.mmc, old + off, level, 0)
    F.flush_tlb_mm(k, task)


SMAPS_ROLLUP_FIELDS = ["Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean",
                       "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM",
                       "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
                       "Private_Hugetlb", "Swap", "SwapPss", "Locked"]
_SM_INDEX = {"Rss": M.SM_RSS, "Pss_Dirty": M.SM_PSS_DIRTY, "Pss_Anon": M.SM_PSS_ANON,
             "Pss_File": M.SM_PSS_FILE, "Pss_Shmem": M.SM_PSS_SHMEM, "Shared_Clean": M.SM_SHARED_CLEAN,
             "Shared_Dirty": M.SM_SHARED_DIRTY, "Private_Clean": M.SM_PRIVATE_CLEAN,
             "Private_Dirty": M.SM_PRIVATE_DIRTY, "Referenced": M.SM_REFERENCED, "Anonymous": M.SM_ANONYMOUS,
             "AnonHugePages": M.SM_ANON_HUGE, "Swap": M.SM_SWAP, "Locked": M.SM_LOCKED}


def smaps_counters(k, task, ranges) -> dict[str, int]:
    """``smap_gather_stats`` over VMAs: walk the page tables, sum in bytes, report kB."""
    out = np.zeros(M.NR_SM, np.int64)
    if task.state == F.TASK_RUNNING and getattr(k, "vm_state", None) is not None:
        for start, end, vma in ranges:
            shmem = vma.vm_file is not None
            M.smaps_walk(k.mem_map, k.vm_state, int(task.mmc[M.MMC_PGD]), 0, 0, start, end, shmem, out)
    res = {}
    for name in SMAPS_ROLLUP_FIELDS:
        if name == "Pss":
            res[name] = int(out[M.SM_PSS]) >> (M.PSS_SHIFT + 10)
        elif name.startswith("Pss_"):
            res[name] = int(out[_SM_INDEX[name]]) >> (M.PSS_SHIFT + 10)
        elif name in _SM_INDEX:
            res[name] = int(out[_SM_INDEX[name]]) >> 10
        else:
            res[name] = 0
    return res


class Process:
    """The scriptable face of a ``task_struct``."""

    def __init__(self, machine, task: F.task_struct):
        self.machine, self.task = machine, task

    # identity and counters -----------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.task.pid

    @property
    def minflt(self) -> int:
        return self.task.min_flt

    @property
    def majflt(self) -> int:
        return self.task.maj_flt

    @property
    def alive(self) -> bool:
        return self.task.state == F.TASK_RUNNING

    def __repr__(self) -> str:
        return f"<Process {self.task.pid} {self.task.comm!r} {'running' if self.alive else 'dead'}>"

    # address space ------------------------------------------------------------------------
    def mmap(self, length: int, prot="rw", flags="private|anonymous", addr: int = 0, offset: int = 0) -> int:
        from .include.linux import mm_types as T
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        return mm_mmap.do_mmap(self.task.mm, addr, length, T.parse_prot(prot), T.parse_map_flags(flags),
                               offset >> 12 if offset else 0)

    def munmap(self, addr: int, length: int) -> None:
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        mm_mmap.do_munmap(self.task.mm, addr, length)

    def mprotect(self, addr: int, length: int, prot) -> None:
        from .include.linux import mm_types as T
        from .mm import mprotect

        self.task.check_alive()
        mprotect.do_mprotect(self.task.mm, addr, length, T.parse_prot(prot))

    def madvise(self, addr: int, length: int, advice) -> None:
        from .include.linux import mm_types as T
        from .mm import madvise

        self.task.check_alive()
        madvise.do_madvise(self.task.mm, addr, length, T.parse_madvise(advice))

    def mremap(self, addr: int, old_len: int, new_len: int, maymove: bool = False, fixed: int | None = None) -> int:
        from .include.linux import mm_types as T
        from .mm import mremap

        self.task.check_alive()
        flags = (T.MREMAP_MAYMOVE if maymove or fixed is not None else 0) | (T.MREMAP_FIXED if fixed is not None else 0)
        return mremap.do_mremap(self.task.mm, addr, old_len, new_len, flags, fixed or 0)

    def brk(self, new_brk: int = 0) -> int:
        from .mm import mmap as mm_mmap

        self.task.check_alive()
        return mm_mmap.sys_brk(self.task.mm, new_brk)

    def maps(self) -> list:
        return list(self.task.mm.vmas)

    # memory accesses ------------------------------------------------------------------------
    def _addrs(self, addr: int, length: int, stride: int) -> np.ndarray:
        if length < 0 or stride <= 0:
            raise KernelError(errno.EINVAL, f"length {length} and stride {stride} must be positive")
        return np.arange(addr, addr + length, stride, dtype=np.int64)

    def write(self, addr: int, length: int, stride: int = 4096, value: int = 7) -> None:
        """Store one byte of ``value`` every ``stride`` bytes of [addr, addr+length)."""
        fault.access(self.machine.kernel, self.task, self._addrs(addr, length, stride), True, value & 0xFF)
        self.machine._sync_vm()

    def read(self, addr: int, length: int, stride: int = 4096) -> bytes:
        """The bytes at every ``stride`` bytes of [addr, addr+length)."""
        out = fault.access(self.machine.kernel, self.task, self._addrs(addr, length, stride), False)
        self.machine._sync_vm()
        return out.tobytes()

    def pagefault_disable(self) -> None:
        """``pagefault_disable()``: accesses that would fault now fail with EFAULT (nests)."""
        self.task.pagefault_disabled += 1

    def pagefault_enable(self) -> None:
        if self.task.pagefault_disabled == 0:
            raise KernelError(errno.EINVAL, "pagefault_enable() without pagefault_disable()")
        self.task.pagefault_disabled -= 1

    # lifetime -------------------------------------------------------------------------------
    def fork(self, comm: str | None = None) -> "Process":
        return self.machine._fork(self, comm)

    def exit(self, code: int = 0) -> None:
        self.machine._exit(self, code)

    def walk(self, addr: int) -> list[dict]:
        """The page-table walk of ``addr``, level by level (``mm/pagewalk.walk_address``)."""
        from .mm.pagewalk import walk_address

        self.task.check_alive()
        F.ensure_tables(self.machine.kernel)
        return walk_address(self.machine.kernel, int(self.task.mmc[M.MMC_PGD]), addr)

    # /proc ----------------------------------------------------------------------------------
    def proc(self, name: str) -> str:
        """``/proc/PID/NAME`` text: maps, smaps, smaps_rollup, status."""
        return self.machine.proc(f"/proc/{self.pid}/{name}")

    def smaps_rollup(self) -> dict[str, int]:
        """``/proc/PID/smaps_rollup`` values in kB, keyed like the kernel's file."""
        return smaps_counters(self.machine.kernel, self.task, [(v.vm_start, v.vm_end, v) for v in self.task.mm.vmas])

    def smaps(self) -> list[dict[str, int]]:
        """Per-VMA ``/proc/PID/smaps`` values (kB), in VMA order."""
        return [smaps_counters(self.machine.kernel, self.task, [(v.vm_start, v.vm_end, v)]) for v in self.task.mm.vmas]
