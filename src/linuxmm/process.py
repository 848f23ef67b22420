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
``BusError`` for a shared mapping touched beyond the end of its object (SIGBUS).
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

    def vm_acct_memory(self, mm, pages: int) -> None:
        self.k.vm_committed_as += pages

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
            M.set_leaf_entry(a, vs, mmc, addr, level, np.uint64(new))
        addr = (addr // span + 1) * span


def move_range(k, task, old: int, new: int, length: int) -> None:
    """``move_page_tables``: each mapped page keeps its frame and moves to the new address."""
    a, vs = k.mem_map, F.ensure_tables(k)
    for off in range(0, length, 4096):
        M.split_huge_pmd_at(a, vs, task.mmc, old + off)
        entry, level = M.lookup_pte(a, vs, int(task.mmc[M.MMC_PGD]), old + off)
        entry = np.uint64(entry)  # bit 63 (NX) set: a Python int would not fit an int64 compilation
        if not M.entry_mapped(entry):
            continue
        bits = np.uint64(int(entry) & (0xFFF | _PAGE_NX))
        while M.install_pte(a, vs, task.mmc, new + off, int(M.pte_pfn(entry)), bits) == -1:
            vs = F.grow_and_get(k)
        M.set_leaf_entry(a, vs, task.mmc, old + off, level, np.uint64(0))
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
    if task.state == F.TASK_RUNNING and k.vm_state is not None:
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


def _int_arg(value, what: str) -> int:
    """An integer argument of the Python API (not a bool, float or string): EINVAL otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise KernelError(errno.EINVAL, f"{what} must be an integer, not {value!r}")
    return int(value)


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
        return mm_mmap.sys_mmap(self.task.mm, addr, length, T.parse_prot(prot), T.parse_map_flags(flags), -1,
                                offset)

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
        value = _int_arg(value, "value") & 0xFF
        k, count = self.machine.kernel, -(-length // stride)
        out = []
        try:
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
        finally:
            self.machine._sync_vm()
        return b"".join(o.tobytes() for o in out)

    def write(self, addr: int, length: int, stride: int = 4096, value: int = 7) -> None:
        """Store one byte of ``value`` every ``stride`` bytes of [addr, addr+length)."""
        self._access(addr, length, stride, True, value)

    def read(self, addr: int, length: int, stride: int = 4096) -> bytes:
        """The bytes at every ``stride`` bytes of [addr, addr+length)."""
        return self._access(addr, length, stride, False)

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

        from .mm.vma import ulong

        addr = ulong(_int_arg(addr, "address"), "address")
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
