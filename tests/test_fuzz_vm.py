"""Stateful fuzzing (hypothesis RuleBasedStateMachine) of processes, mappings and the allocator.

Random sequences of spawn, mmap/munmap/mprotect/madvise/mremap, reads and writes of known
values, fork, exit and raw page allocations run on a small machine. After every step
``linuxmm.debug.check`` must pass, and every read must return the last value written at that
address by that process or by a process sharing the mapping (private memory is copied at
fork; fresh memory reads as zero).

The oracle follows the kernel's rules for the calls that move or drop data:

* MADV_DONTNEED drops private anonymous pages (the next read is zero); a shared mapping keeps
  its data in the shmem object. MADV_FREE on private memory lets the kernel drop each page
  until it is written again, so a line freed with value v may read v or 0 (once it reads 0
  the page was dropped: it stays 0); MADV_FREE on a shared mapping is EINVAL. MADV_REMOVE
  punches a hole in a shared mapping's shmem object: every process sharing it reads zeros
  there; on private memory it is EINVAL.
* mremap shrinks, grows (in place, or moved with MREMAP_MAYMOVE) and the data follows the
  mapping to its new address; growing a range that spans several VMAs is EFAULT, growing in
  place without room and without MREMAP_MAYMOVE is ENOMEM. A shared mapping grown past the
  end of its shmem object raises SIGBUS (``BusError``) on access there, as on Linux 6.18.
- Swap: a zram (or partition) swap area is on; MADV_PAGEOUT swaps private anonymous pages
  out (a THP whole, into a free cluster), reads and writes swap them back in, fork shares
  the slots, munmap/exit/mremap carry or free them, swapoff reads all back: the data never
  changes. On the huge tmpfs pressure machine the tmpfs files live on a tmpfs mounted
  huge=always: PMD-size folios that reclaim swaps out whole (or split, past EOF or without a
  free cluster) and that come back whole from zram or page by page from a disk.
- Out of memory: once per sequence a process with oom_score_adj 1000 writes as much as RAM;
  the OOM killer kills it (its write raises ``Killed``) and every other process keeps its data.
- Long-term pins: a process pins pages of a mapping (the GUP test driver's
  PIN_LONGTERM_TEST_START; R/O or writable, GUP-fast or not) and keeps them across the steps
  until it unpins or exits; the pinned pages must read what the process reads, a writable pin
  of a read-only mapping, of a shared file mapping (ext4 refuses, tmpfs allows) or past a
  file's end is EFAULT; debug.check counts the pins' references.
- Memory cgroups: processes start in, and move between, cgroups (one with memory.high, one with
  memory.low); once per sequence a process in a 4 MiB cgroup writes 64 MiB: its memcg's OOM
  killer kills it alone, then its cgroup is removed. debug.check: every charge belongs to a
  live folio of an existing memcg and memory.current is what is charged.
"""

import errno
import os
import subprocess
import sys
from dataclasses import dataclass, replace

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from linuxmm.mm.filemap import filemap_get_folio
from linuxmm.mm.swap import lru_add_drain_all
from linuxmm import BusError, Killed, KernelError, Machine, SegmentationFault, debug
from linuxmm.sources import toml

from conftest import SMALL, small_machine

LINE = 64
PAGE = 4096
CGROUPS = ("/", "fz/high", "fz/low")  # where fuzzed processes run: no limit that could kill them
HUGE = 2 << 20  # a PMD's span
HUGE_TMPFS = """
[[mount]]
path = "/huge"
fs = "tmpfs"
huge = "always"
"""  # besides the default ext4 / and tmpfs /dev/shm
NO_END = 1 << 64  # private memory has no object whose end could raise SIGBUS


@dataclass
class Region:
    """One mapping as the test made it: [start, start+length), shared object id or None."""
    start: int
    length: int
    sid: int | None
    writable: bool
    backed: int = NO_END  # bytes from start backed by the shared object or file; SIGBUS past them
    fill: int = 0  # what a line never written reads: 0, or a mapped file's contents
    file: bool = False  # a mapping of an ext4 or tmpfs file (created for it with ``fill``)


class VmMachine(RuleBasedStateMachine):
    CMDLINE = None  # the small machine's 384 MiB
    MOUNTS = ""  # mounts besides the default ones
    TMPFS = "/dev/shm"  # where tmpfs files are made
    SWAP = "16M"  # a zram area: MADV_PAGEOUT (and reclaim) swap private anonymous pages out

    def __init__(self):
        super().__init__()
        # MGLRU built in, off: the lru_gen rule switches it
        self.m = Machine(toml.loads(SMALL + self.MOUNTS), cmdline=self.CMDLINE, lru_gen=False)
        # below 512 MiB hugepage_init turns THP off; enable it as an admin would, so THPs are fuzzed
        self.m.sysfs("kernel/mm/transparent_hugepage/enabled", "madvise")
        self.m.swapon(self.SWAP, kind="zram")
        self.procs = {}   # pid -> Process
        self.maps = {}    # pid -> list of Region
        self.mem = {}     # pid -> {line address: value} for private memory
        self.lazy = {}    # pid -> {line address: value} private lines after MADV_FREE: value or 0
        self.shared = {}  # shared_id -> {offset: value}
        self.next_shared = 0
        self.files = 0  # files created for file mappings
        self.pages = []   # raw allocations (pfn, order)
        self.hogged = False  # the OOM rule ran (once per sequence: it takes a while)
        self.memcg_hogged = False  # the memcg OOM rule ran
        self.pinner = None  # the pid that took the GUP test driver's pins (``pinning``)
        self.m.cgroup("fz/high").write("memory.high", "32M")  # reclaimed and throttled, never killed
        self.m.cgroup("fz/low").write("memory.low", "8M")

    def live(self):
        return [pid for pid, p in self.procs.items() if p.alive]

    @rule(where=st.sampled_from(CGROUPS))
    def spawn(self, where="/"):
        if len(self.live()) < 4:
            p = self.m.spawn(cgroup=where)
            self.procs[p.pid], self.maps[p.pid], self.mem[p.pid], self.lazy[p.pid] = p, [], {}, {}

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7), pages=st.one_of(st.integers(1, 600), st.sampled_from([512, 1024])),
          shared=st.booleans(), huge=st.booleans())  # whole PMD spans too
    def mmap(self, i, pages, shared, huge):
        pid = self.live()[i % len(self.live())]
        p = self.procs[pid]
        flags = "shared|anonymous" if shared else "private|anonymous"
        a = p.mmap(pages * PAGE, prot="rw", flags=flags)
        if huge and not shared:
            p.madvise(a, pages * PAGE, "hugepage")
        sid, backed = None, NO_END
        if shared:
            sid, self.next_shared, backed = self.next_shared, self.next_shared + 1, pages * PAGE
            self.shared[sid] = {}
        self.maps[pid].append(Region(a, pages * PAGE, sid, True, backed))

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7), pages=st.one_of(st.integers(1, 600), st.sampled_from([512, 1024])),
          file_pages=st.integers(1, 700), shared=st.booleans(), tmpfs=st.booleans(), small_writes=st.booleans())
    def mmap_file(self, i, pages, file_pages, shared, tmpfs, small_writes):
        """A file (ext4 or tmpfs; written in 4 KiB write() calls or in one) of ``fill`` bytes
        mapped shared or private, maybe past its end (SIGBUS there); its descriptor closed."""
        pid = self.live()[i % len(self.live())]
        p = self.procs[pid]
        self.files += 1
        path, fill = f"{self.TMPFS if tmpfs else ''}/fuzz{self.files}", self.files % 255 + 1
        self.m.create_file(path, file_pages * PAGE, chunk=PAGE if small_writes else None, value=fill)
        fd = p.open(path, "rw")
        a = p.mmap(pages * PAGE, "rw", "shared" if shared else "private", fd=fd)
        p.close(fd)
        sid = None
        if shared:
            sid, self.next_shared = self.next_shared, self.next_shared + 1
            self.shared[sid] = {}
        self.maps[pid].append(Region(a, pages * PAGE, sid, True, file_pages * PAGE, fill, True))

    def pick(self, i, j):
        pids = [pid for pid in self.live() if self.maps[pid]]
        if not pids:
            return None
        pid = pids[i % len(pids)]
        region = self.maps[pid][j % len(self.maps[pid])]
        return pid, region

    def forget(self, pid, start, end):
        """Private lines of [start, end) no longer hold data (unmapped or dropped)."""
        for lines in (self.mem[pid], self.lazy[pid]):
            for a in [a for a in lines if start <= a < end]:
                del lines[a]

    def lines(self, region, off, span):
        """Up to ``span`` line addresses from a random offset of ``region``; the count of them
        before the end of its shared object (the access raises SIGBUS at the next one)."""
        addr = region.start + (off % region.length) // LINE * LINE
        n = min(span, (region.start + region.length - addr) // LINE)
        addrs = [addr + k * LINE for k in range(n)]
        backed = sum(a - region.start < region.backed for a in addrs)
        return addrs, backed

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), off=st.integers(0, 1 << 22), value=st.integers(1, 255),
          span=st.integers(1, 64))
    def write(self, i, j, off, value, span):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        addrs, backed = self.lines(region, off, span)
        try:
            self.procs[pid].write(addrs[0], len(addrs) * LINE, stride=LINE, value=value)
        except SegmentationFault:
            assert not region.writable
            return
        except BusError as e:
            assert region.writable and backed < len(addrs) and e.addr == addrs[backed]
        else:
            assert region.writable and backed == len(addrs)
        for a in addrs[:backed]:  # the stores before a SIGBUS happened
            if region.sid is None:
                self.mem[pid][a] = value
                self.lazy[pid].pop(a, None)  # a store keeps a MADV_FREE page
            else:
                self.shared[region.sid][a - region.start] = value

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), off=st.integers(0, 1 << 22), span=st.integers(1, 64))
    def read(self, i, j, off, span):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        addrs, backed = self.lines(region, off, span)
        try:
            data = self.procs[pid].read(addrs[0], len(addrs) * LINE, stride=LINE)
        except BusError as e:
            assert backed < len(addrs) and e.addr == addrs[backed]
            return
        assert backed == len(addrs)
        for a, got_value in zip(addrs, data):
            if region.sid is not None:
                want = {self.shared[region.sid].get(a - region.start, region.fill)}
            elif a in self.lazy[pid]:
                want = {self.lazy[pid][a], 0}  # MADV_FREE: kept or dropped
                if got_value == 0:
                    self.forget(pid, a, a + LINE)  # dropped: a fresh zero page from now on
            else:
                want = {self.mem[pid].get(a, region.fill)}
            assert got_value in want, f"pid {pid} read {got_value} at {a:#x}, expected one of {want}"

    @rule(i=st.integers(0, 7), j=st.integers(0, 7))
    def munmap(self, i, j):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        self.procs[pid].munmap(region.start, region.length)
        self.maps[pid].remove(region)
        self.forget(pid, region.start, region.start + region.length)

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), writable=st.booleans())
    def mprotect(self, i, j, writable):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        self.procs[pid].mprotect(region.start, region.length, "rw" if writable else "r")
        region.writable = writable

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), first=st.integers(0, 1 << 12), pages=st.integers(1, 700),
          advice=st.sampled_from(["dontneed", "free", "hugepage", "nohugepage", "remove", "pageout"]))
    def madvise(self, i, j, first, pages, advice):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        if region.file and advice in ("free", "remove"):
            return  # FREE is for anonymous memory; REMOVE of a file is a hole punched in it
        start = region.start + first % (region.length // PAGE) * PAGE
        end = min(start + pages * PAGE, region.start + region.length)
        try:
            self.procs[pid].madvise(start, end - start, advice)
        except KernelError as e:  # FREE is for private memory, REMOVE for shared memory
            assert (advice, region.sid is None) in (("free", False), ("remove", True)) and e.errno == errno.EINVAL
            return
        assert (advice, region.sid is None) not in (("free", False), ("remove", True))
        if region.sid is not None:  # DONTNEED only unmaps: the shmem object keeps the data; hints keep
            shared = self.shared[region.sid]  # data; REMOVE punches a hole every sharer reads as zeros
            for off in [o for o in shared if advice == "remove" and start <= region.start + o < end]:
                del shared[off]
            return
        if advice == "dontneed":  # private copies go: the zero page, or the file's contents again
            self.forget(pid, start, end)
        elif advice == "free":
            freed = {a: v for a, v in self.mem[pid].items() if start <= a < end}
            self.forget(pid, start, end)  # lines freed before keep their old value as candidate
            self.lazy[pid].update(freed)

    def one_vma(self, pid, region) -> bool:
        return any(v.vm_start <= region.start and region.start + region.length <= v.vm_end
                   for v in self.procs[pid].maps())

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), order=st.sampled_from([0, 1, 2, 4, 8]),
          offset=st.one_of(st.none(), st.integers(0, 511)))
    def split(self, i, j, order, offset):
        """/sys/kernel/debug/split_huge_pages over one mapping: its THPs, anonymous or page
        cache (a file folio PMD-mapped after MADV_HUGEPAGE, unmapped by its split), split to
        ``order`` (around ``offset`` in each folio: folio_split); every byte stays."""
        picked = self.pick(i, j)
        if picked is None:
            return
        pid, region = picked
        value = f"{pid},{region.start:#x},{region.start + region.length:#x},{order}"
        self.m.sysfs("kernel/debug/split_huge_pages", value + (f",{offset}" if offset is not None else ""))

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), pages=st.integers(1, 900), maymove=st.booleans())
    def mremap(self, i, j, pages, maymove):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        start, length, new_len = region.start, region.length, pages * PAGE
        grow = new_len > length
        spans_vmas = not self.one_vma(pid, region)  # madvise hints split the mapping
        try:
            new = self.procs[pid].mremap(start, length, new_len, maymove=maymove)
        except KernelError as e:
            if grow and spans_vmas:
                assert e.errno == errno.EFAULT, e
            else:
                assert grow and not maymove and e.errno == errno.ENOMEM, e
            return
        assert not (grow and spans_vmas)
        assert new == start or (grow and maymove)
        self.moved(pid, region, new, new_len)

    def moved(self, pid, region, new, new_len):
        """``region`` is at ``new`` now, ``new_len`` long: the private lines move with it."""
        start, length = region.start, region.length
        if region.sid is None:
            keep = min(length, new_len)
            for lines in (self.mem[pid], self.lazy[pid]):
                moved = {new + a - start: v for a, v in lines.items() if start <= a < start + keep}
                for a in [a for a in lines if start <= a < start + length]:
                    del lines[a]
                lines.update(moved)
        region.start, region.length = new, new_len

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), pages_off=st.integers(0, 3))
    def move(self, i, j, pages_off):
        """mremap(MREMAP_FIXED) to the same offset within a PMD's span as the source (whole page
        tables and THPs change hands where a whole span moves: move_normal_pmd,
        move_huge_pmd) or to 1-3 pages past a span's start (pte by pte)."""
        got = self.pick(i, j)
        if got is None or not self.one_vma(*got):
            return
        pid, region = got
        p = self.procs[pid]
        room = p.mmap(region.length + 2 * HUGE, prot="none")  # a free place to move to
        target = (room + HUGE - 1) // HUGE * HUGE + (pages_off * PAGE or region.start % HUGE)
        new = p.mremap(region.start, region.length, region.length, maymove=True, fixed=target)
        assert new == target
        self.moved(pid, region, new, region.length)

    @precondition(lambda self: self.live() and len(self.live()) < 4)
    @rule(i=st.integers(0, 7))
    def fork(self, i):
        pid = self.live()[i % len(self.live())]
        c = self.procs[pid].fork()
        self.procs[c.pid] = c
        self.maps[c.pid] = [replace(r) for r in self.maps[pid]]
        self.mem[c.pid] = dict(self.mem[pid])
        self.lazy[c.pid] = dict(self.lazy[pid])

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7), where=st.sampled_from(CGROUPS))
    def move_cgroup(self, i, where):
        """cgroup.procs: the process's new pages go to the new memcg, its old ones stay."""
        pid = self.live()[i % len(self.live())]
        self.m.cgroup(where).write("cgroup.procs", pid)
        assert self.procs[pid].cgroup == self.m.cgroup(where).path

    @precondition(lambda self: not self.memcg_hogged)
    @rule()
    def memcg_hog(self):
        """A process in a 4 MiB cgroup that may not swap (memory.swap.max 0) writes 16 MiB: its
        memcg's OOM killer kills it, nobody else; the emptied cgroup is removed (its memcg goes
        with its last charge)."""
        self.memcg_hogged = True
        before = set(self.live())
        cg = self.m.cgroup("fz/cap")
        cg.write("memory.max", "4M")
        cg.write("memory.swap.max", "0")
        p = self.m.spawn(comm="mhog", cgroup="fz/cap")
        a = p.mmap(16 << 20)
        with pytest.raises(Killed):
            p.write(a, 16 << 20)
        assert not p.alive and set(self.live()) == before
        assert cg.read("memory.events").splitlines()[4] == "oom_kill 1"
        cg.rmdir()

    @rule(zram=st.booleans())
    def swapoff_swapon(self, zram):
        """swapoff reads every swapped page back (try_to_unuse); the data stays. Pages that do
        not fit fail it with ENOMEM (reclaim swaps nothing out meanwhile: the area's pages left
        nr_swap_pages first) and the area stays (reinsert_swap_info)."""
        try:
            self.m.swapoff(self.m.proc("swaps").splitlines()[1].split()[0])
        except KernelError as e:
            assert e.errno == errno.ENOMEM
            return
        self.m.swapon(self.SWAP, kind="zram" if zram else "partition", path=None if zram else "/dev/vda")

    @rule(on=st.booleans())
    def lru_gen(self, on):
        """MGLRU on or off (/sys/kernel/mm/lru_gen/enabled): every evictable folio moves
        between the classic lists and the generations; both LRUs keep every invariant."""
        self.m.sysfs("kernel/mm/lru_gen/enabled", "y" if on else "n")
        assert self.m.lru_gen == on

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7))
    def exit(self, i):
        self.procs[self.live()[i % len(self.live())]].exit()

    def pinning(self):
        """The pid holding the driver's pins: its death (exit, a signal, an OOM kill) closed
        its gup_test file, which released them."""
        return self.pinner if self.pinner is not None and self.procs[self.pinner].alive else None

    @precondition(lambda self: self.pinning() is None)
    @rule(i=st.integers(0, 7), j=st.integers(0, 7), first=st.integers(0, 1 << 12), pages=st.integers(1, 64),
          write=st.booleans(), fast=st.booleans())
    def pin(self, i, j, first, pages, write, fast):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        p = self.procs[pid]
        start = region.start + first % (region.length // PAGE) * PAGE
        n = min(pages, (region.start + region.length - start) // PAGE)
        try:
            p.gup_test("PIN_LONGTERM_TEST_START", start, n * PAGE, write=write, fast=fast)
        except KernelError as e:
            past_end = start + n * PAGE - region.start > region.backed
            assert e.errno == errno.EFAULT and (past_end or write and (not region.writable or region.file
                                                                       and region.sid is not None))
            return
        assert p.gup_test("PIN_LONGTERM_TEST_READ") == p.read(start, n * PAGE, stride=LINE)
        self.pinner = pid

    @precondition(lambda self: self.pinning() is not None)
    @rule()
    def unpin(self):
        self.procs[self.pinner].gup_test("PIN_LONGTERM_TEST_STOP")
        self.pinner = None

    @precondition(lambda self: not self.hogged)
    @rule()
    def hog(self):
        """A process with oom_score_adj 1000 writes as much as RAM: memory runs out, the OOM
        killer chooses it (adj 1000 comes first) and its write raises Killed; every other
        process keeps its memory (the invariants check it)."""
        self.hogged = True
        before = set(self.live())
        p = self.m.spawn(comm="hog")
        p.oom_score_adj = 1000
        info = {ln.split(":")[0]: int(ln.split()[1]) for ln in self.m.proc("meminfo").splitlines()}
        size = (info["MemTotal"] + info["SwapTotal"]) * 1024 - PAGE  # more than fits; mode 0 admits it
        a = p.mmap(size)
        with pytest.raises(Killed) as e:
            p.write(a, size)
        assert e.value.pid == p.pid and not p.alive and set(self.live()) == before

    @rule(order=st.integers(0, 9), gfp=st.sampled_from(["GFP_KERNEL", "GFP_DMA32", "GFP_HIGHUSER_MOVABLE|__GFP_COMP"]))
    def alloc(self, order, gfp):
        pfn = self.m.alloc_pages(gfp + "|__GFP_NOWARN", order)
        if pfn is not None:
            self.pages.append((pfn, order))

    @precondition(lambda self: self.pages)
    @rule(i=st.integers(0, 100))
    def free(self, i):
        pfn, order = self.pages.pop(i % len(self.pages))
        self.m.free_pages(pfn, order)

    @invariant()
    def consistent(self):
        assert debug.check(self.m) == []
        assert (self.m.kernel.pin_longterm_test_pages is None) == (self.pinning() is None)


# CI runs 25 sequences; LINUXMM_FUZZ_EXAMPLES=2000 is the longer run (README, "Debug checks").
VmMachine.TestCase.settings = settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 25)),
                                       stateful_step_count=30, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestVmFuzz = VmMachine.TestCase


class VmPressure(VmMachine):
    """The same steps on a 48 MiB machine whose free memory a balloon of raw allocations
    presses down to the watermarks: reclaim swaps the processes' pages out (through
    shrink_folio_list) and their reads and writes swap them back in, constantly; time passes
    so kswapd runs and disk writes complete. Every byte still reads back and every invariant
    (swap_map counts, shadows, LRU flags) holds after every step."""

    CMDLINE = "mem=48M"
    SWAP = "24M"
    BALLOON_ORDER = 8  # 1 MiB at a time (a costly order: it fails rather than OOM-kill)

    @rule(mib=st.integers(1, 32))
    def balloon(self, mib):
        """Raw allocations take up to ``mib`` MiB more, keeping 12 MiB for the processes."""
        info = {ln.split(":")[0]: int(ln.split()[1]) for ln in self.m.proc("meminfo").splitlines()}
        held = sum(1 << order for _, order in self.pages) * PAGE
        for _ in range(min(mib, (info["MemTotal"] * 1024 - held - (12 << 20)) >> 20)):
            pfn = self.m.alloc_pages("GFP_HIGHUSER_MOVABLE|__GFP_NOWARN", self.BALLOON_ORDER)
            if pfn is None:
                break
            self.pages.append((pfn, self.BALLOON_ORDER))

    @rule(ms=st.integers(1, 300))
    def run(self, ms):
        self.m.run(ms / 1000)


class VmPressureDisk(VmPressure):
    """The pressure fuzzer with a partition for swap: writes complete on the clock."""

    def __init__(self):
        super().__init__()
        self.m.swapoff("/dev/zram0")
        self.m.swapon(self.SWAP, kind="partition", path="/dev/vda")


class VmPressureHugeTmpfs(VmPressure):
    """The pressure fuzzer with its tmpfs files on a tmpfs mounted huge=always: their
    PMD-size folios go to swap whole, or split past EOF or without a free cluster, and come
    back whole from zram (a 2 MiB block free) or page by page."""

    MOUNTS = HUGE_TMPFS
    TMPFS = "/huge"


class VmPressureHugeTmpfsDisk(VmPressureHugeTmpfs, VmPressureDisk):
    """The huge tmpfs pressure machine with a partition for swap (large entries come back
    page by page, split)."""


VmPressure.TestCase.settings = settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 10)),
                                        stateful_step_count=30, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
VmPressureDisk.TestCase.settings = VmPressure.TestCase.settings
VmPressureHugeTmpfs.TestCase.settings = VmPressure.TestCase.settings
TestVmPressureFuzz = VmPressure.TestCase
TestVmPressureDiskFuzz = VmPressureDisk.TestCase
TestVmPressureHugeTmpfsFuzz = VmPressureHugeTmpfs.TestCase


def test_pressure_fuzzer_swaps_out_and_in():
    """The pressure machine's steps do swap: 16 MiB a process wrote go out under the balloon
    (which leaves 12 MiB) and come back when read, intact."""
    for cls in (VmPressure, VmPressureDisk):
        s = cls()
        s.spawn()
        for j in range(4):
            s.mmap(i=0, pages=1024, shared=False, huge=False)
        s.balloon(32)
        for j in range(4):
            for page in range(1024):
                s.write(i=0, j=j, off=page * PAGE, value=page % 250 + 1, span=1)
        s.run(100)
        for j in range(4):
            for page in range(1024):
                s.read(i=0, j=j, off=page * PAGE, span=1)
        s.consistent()
        vmstat = dict(line.split() for line in s.m.proc("vmstat").splitlines())
        assert int(vmstat["pswpout"]) > 0 and int(vmstat["pswpin"]) > 0, cls.__name__


def test_pressure_fuzzer_swaps_shmem_out_and_in():
    """Shared anonymous memory (a shmem object) and a tmpfs file mapped shared swap out under
    the balloon too (``shmem_writeout``: their page-cache slots hold swap entries, which
    ``debug.check`` counts in swap_map) and read back intact through faults."""
    for cls in (VmPressure, VmPressureDisk):
        s = cls()
        s.spawn()
        for j in range(3):
            s.mmap(i=0, pages=1024, shared=True, huge=False)
        s.mmap_file(i=0, pages=1024, file_pages=1024, shared=True, tmpfs=True, small_writes=True)
        s.balloon(32)
        for j in range(4):
            for page in range(1024):
                s.write(i=0, j=j, off=page * PAGE, value=page % 250 + 1, span=1)
        s.run(100)
        s.consistent()
        swapped = sum(int(s.m.kernel.page_cache.xa_nr_values[mp.xa_id])
                      for mp in s.m.kernel.rmap.address_spaces.values() if mp.swapbacked and mp.xa_id >= 0)
        assert swapped > 0, cls.__name__
        for j in range(4):
            for page in range(1024):
                s.read(i=0, j=j, off=page * PAGE, span=1)
        s.consistent()
        vmstat = dict(line.split() for line in s.m.proc("vmstat").splitlines())
        assert int(vmstat["pswpout"]) > 0 and int(vmstat["pswpin"]) > 0, cls.__name__


def test_pressure_fuzzer_swaps_tmpfs_thps_out_and_back():
    """Files on the huge tmpfs pressure machines (PMD-size folios: three of 4 MiB, one of
    3 MiB whose second folio ends 1 MiB past EOF) mapped shared and written, 15 MiB on the
    12 MiB pressure machine: reclaim swaps the whole folios out whole (thp_swpout) and
    splits the one across EOF (thp_swpout_fallback); reads bring every line back (whole
    from zram, page by page from the disk); the invariants hold (debug.check counts each
    page of a large swap entry). (swapoff could not take 15 MiB back: test_shmem.py's.)"""
    for cls in (VmPressureHugeTmpfs, VmPressureHugeTmpfsDisk):
        s = cls()
        s.spawn()
        for j in range(4):
            s.mmap_file(i=0, pages=1024, file_pages=768 + 256 * (j < 3), shared=True, tmpfs=True,
                         small_writes=False)
        for j in range(4):
            for page in range(0, 768 + 256 * (j < 3), 2):
                s.write(i=0, j=j, off=page * PAGE, value=page % 250 + 1, span=2)
        s.run(100)
        s.consistent()
        vmstat = dict(line.split() for line in s.m.proc("vmstat").splitlines())
        assert int(vmstat["thp_swpout"]) > 0 and int(vmstat["thp_swpout_fallback"]) > 0, cls.__name__
        for j in range(4):
            for page in range(0, 768 + 256 * (j < 3), 2):
                s.read(i=0, j=j, off=page * PAGE, span=2)
        s.consistent()


def test_fuzzer_swaps_thps_out_whole_and_back():
    """The fuzzer's THPs (a MADV_HUGEPAGE'd private mapping) go to swap whole on the machine
    (MADV_PAGEOUT: thp_swpout) and on the pressure machines (reclaim under the balloon), on
    zram and on a partition; reads bring every line back, part of a THP swapped in while
    its folio is still in the swap cache, the rest through swapoff; the invariants hold."""
    for cls in (VmMachine, VmPressure, VmPressureDisk):
        s = cls()
        s.spawn()
        for j in range(4):  # 16 MiB of THPs
            s.mmap(i=0, pages=1024, shared=False, huge=True)
            for page in range(0, 1024, 3):
                s.write(i=0, j=j, off=page * PAGE, value=page % 250 + 1, span=2)
        if cls is VmMachine:
            s.madvise(i=0, j=0, first=0, pages=1024, advice="pageout")
        else:
            s.balloon(32)
            s.run(100)
        s.consistent()
        vmstat = dict(line.split() for line in s.m.proc("vmstat").splitlines())
        assert int(vmstat["thp_swpout"]) > 0, cls.__name__
        for page in range(0, 512, 3):
            s.read(i=0, j=0, off=page * PAGE, span=2)
        s.consistent()
        while s.pages:  # the balloon goes, so that every page fits again
            s.free(0)
        s.swapoff_swapon(zram=cls is not VmPressureDisk)
        assert s.m.proc("swaps").count("\n") == 2 and int(s.m.proc("swaps").splitlines()[1].split()[3]) == 0
        s.consistent()
        for j in range(4):
            for page in range(0, 1024, 3):
                s.read(i=0, j=j, off=page * PAGE, span=2)
        s.consistent()


# The oracle of madvise and mremap: each check fails when the simulator loses or keeps data.

def two_regions_written(value=9):
    """A process with two 4-page private mappings, the first two pages of the lower one (j=1)
    written (64 lines per page)."""
    s = VmMachine()
    s.spawn()
    s.mmap(i=0, pages=4, shared=False, huge=False)
    s.mmap(i=0, pages=4, shared=False, huge=False)
    for page in range(2):
        s.write(i=0, j=1, off=page * PAGE, value=value, span=64)
    return s


def test_oracle_reads_file_contents_through_private_and_shared_file_mappings():
    """The file rule's oracle: a private file mapping reads the file until a store copies the
    page (the rest of the page keeps the file's bytes: do_cow_fault copies, it does not zero),
    DONTNEED gives the file back; a shared one reads the stores of every sharer."""
    s = VmMachine()
    s.spawn()
    for shared in (False, True):
        s.mmap_file(0, 4, 3, shared, tmpfs=False, small_writes=True)
        j = len(s.maps[s.live()[0]]) - 1
        s.write(0, j, 0, 77, 1)
        s.read(0, j, 0, 64)  # the written line, then the file's
        s.madvise(0, j, 0, 1, "dontneed")
        s.read(0, j, 0, 64)
    s.fork(0)
    s.read(1, 1, 0, 64)  # the child reads the shared file's page from the page cache
    s.consistent()


def test_oracle_follows_data_through_mremap_and_catches_a_lost_move(monkeypatch):
    s = two_regions_written()
    old = s.maps[1][1].start
    s.mremap(i=0, j=1, pages=8, maymove=True)  # the upper mapping is in the way: it moves
    assert s.maps[1][1].start != old and s.mem[1][s.maps[1][1].start] == 9
    s.read(i=0, j=1, off=0, span=64)
    s.consistent()

    import linuxmm.process
    monkeypatch.setattr(linuxmm.process, "move_range", lambda *args: None)  # page tables left behind
    s = two_regions_written()
    s.mremap(i=0, j=1, pages=8, maymove=True)
    with pytest.raises(AssertionError, match=r"read 0 at .*expected one of \{9\}"):
        s.read(i=0, j=1, off=0, span=64)


def test_oracle_expects_zeros_after_dontneed_and_catches_kept_data(monkeypatch):
    s = two_regions_written()
    s.madvise(i=0, j=1, first=0, pages=1, advice="dontneed")
    s.read(i=0, j=1, off=0, span=64)  # zeros now
    s.read(i=0, j=1, off=PAGE, span=64)  # the second page kept its data
    assert s.mem[1].get(s.maps[1][1].start) is None and s.mem[1][s.maps[1][1].start + PAGE] == 9

    from linuxmm.process import PageTableHooks
    monkeypatch.setattr(PageTableHooks, "zap_page_range_single", lambda *args: None)  # MADV_DONTNEED's zap
    s = two_regions_written()
    s.madvise(i=0, j=1, first=0, pages=1, advice="dontneed")
    with pytest.raises(AssertionError, match=r"read 9 at .*expected one of \{0\}"):
        s.read(i=0, j=1, off=0, span=64)


def test_oracle_expects_zeros_after_madv_remove_in_every_sharer_and_catches_kept_data(monkeypatch):
    def shared_written_and_forked():
        s = VmMachine()
        s.spawn()
        s.mmap(i=0, pages=4, shared=True, huge=False)
        s.write(i=0, j=0, off=PAGE, value=9, span=64)
        s.fork(i=0)
        return s

    s = shared_written_and_forked()
    s.madvise(i=0, j=0, first=1, pages=1, advice="remove")
    assert s.shared[0] == {}
    s.read(i=1, j=0, off=PAGE, span=64)  # the child reads the hole as zeros
    s.consistent()

    from linuxmm.mm import vma as V
    monkeypatch.setattr(V, "shmem_punch_hole", lambda *args: None)  # the hole is never punched
    s = shared_written_and_forked()
    s.madvise(i=0, j=0, first=1, pages=1, advice="remove")
    with pytest.raises(AssertionError, match=r"read 9 at .*expected one of \{0\}"):
        s.read(i=1, j=0, off=PAGE, span=64)


def test_oracle_accepts_old_or_zero_after_madv_free_until_written():
    s = two_regions_written()
    s.madvise(i=0, j=1, first=0, pages=2, advice="free")
    start = s.maps[1][1].start
    assert s.lazy[1][start] == 9 and start not in s.mem[1]
    lazy = set(s.lazy[1]) - {start}
    s.write(i=0, j=1, off=0, value=5, span=1)  # a store keeps the page: that line is known again
    assert s.mem[1][start] == 5 and start not in s.lazy[1]
    s.read(i=0, j=1, off=0, span=128)  # nothing reclaimed them yet: the old values read back, still lazy
    assert set(s.lazy[1]) == lazy


def test_shared_mapping_grown_past_its_object_raises_sigbus():
    """Linux 6.18 (probe: mmap 2 shared anonymous pages, mremap to 4 with MREMAP_MAYMOVE, touch
    the third): SIGBUS on read and on write; the first pages keep their data."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(2 * PAGE, flags="shared|anonymous")
    p.write(a, 2 * PAGE, value=5)
    child = p.fork()
    b = p.mremap(a, 2 * PAGE, 4 * PAGE, maymove=True)
    assert p.read(b, 2 * PAGE) == b"\x05\x05"
    with pytest.raises(BusError) as e:
        p.read(b, 3 * PAGE)
    assert e.value.addr == b + 2 * PAGE and not p.alive and "SIGBUS" in str(e.value)
    assert child.read(a, 2 * PAGE) == b"\x05\x05" and debug.check(m) == []


def test_mremap_of_nx_pages_after_an_int64_compilation():
    """The page-table helpers are compiled per argument type: once called with a small Python
    int, an entry with bit 63 (NX) set passed as a Python int overflows. Moving and mprotecting
    written data pages must not depend on which came first (a fresh process, as in CI)."""
    code = ("import numpy as np\n"
            "from conftest import small_machine\n"
            "from linuxmm.mm import pgtable as P\n"
            "P.pte_present(1)\n"  # compile the int64 version first
            "p = small_machine().spawn()\n"
            "a = p.mmap(4096); b = p.mmap(4096); p.write(b, 4096, value=3)\n"
            "p.mprotect(b, 4096, 'r')\n"
            "c = p.mremap(b, 4096, 8192, maymove=True)\n"
            "assert c != b and p.read(c, 4096) == bytes([3]), c\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr


# --debug-vm: the checker runs during a workload and names the step and the operations before it.

def test_debug_vm_steps_pass_and_catch_an_injected_leak(monkeypatch):
    from linuxmm.cli import run_vm_steps
    from linuxmm.process import Process

    steps = ["mmap:1M", "write", "fork", "write:8192", "exit", "munmap"]
    run_vm_steps(small_machine(), steps, debug_vm=True)

    real_write = Process.write

    def leaky_write(self, addr, length, *args, **kw):  # a reference taken and never dropped
        real_write(self, addr, length, *args, **kw)
        self.machine.kernel.mem_map.refcount[self.walk(addr)[-1]["phys"] >> 12] += 1

    monkeypatch.setattr(Process, "write", leaky_write)
    with pytest.raises(debug.DebugVmError) as e:
        run_vm_steps(small_machine(), steps, debug_vm=True)
    msg = str(e.value)
    assert "after step 'write'" in msg and "last operations:" in msg and "mmap:1M: pid 1" in msg
    assert "refcount 2 but 1 page-table entries map it" in msg


def test_debug_vm_replay_names_the_records(monkeypatch, tmp_path):
    from linuxmm.mm import memory as M
    from linuxmm.tools.replay import replay

    trace = tmp_path / "t.lackey"
    trace.write_text("".join(f" S {0x10000000 + 4096 * i:x},8\n" for i in range(64)))
    clean = replay(small_machine(), trace, debug_vm=10)
    assert clean.minor_faults == 64

    real_batch = M.replay_batch

    def free_list_corrupting_batch(a, *args):  # the free-page counter drifts from the lists
        out = real_batch(a, *args)
        a.nr_free[1, 0, 0] += 1
        return out

    monkeypatch.setattr(M, "replay_batch", free_list_corrupting_batch)
    with pytest.raises(debug.DebugVmError, match=r"after records 1-10 of t.lackey(.|\n)*record 10: store 0x10009000"):
        replay(small_machine(), trace, debug_vm=10)


def test_check_finds_a_stale_tlb_entry():
    """A translation left behind (a forgotten flush) is reported with its CPU, structure and address."""
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(1 << 20)
    p.write(addr, 1 << 20)
    assert debug.check(m) == []
    tlb = m.kernel.tlb
    assert any(e["vaddr"] == addr for e in tlb.entries("stlb"))
    p.munmap(addr, 1 << 20)
    assert debug.check(m) == []  # munmap flushed the range

    p.write(p.mmap(1 << 20), 1 << 20)
    from linuxmm.arch.x86.mm.tlb import E_PFN, E_TAG
    live = np.flatnonzero(tlb.ent[0, E_TAG] >= 0)
    tlb.ent[0, E_PFN, live[0]] += 1  # as if the pte had changed without a flush
    assert any("caches pfn" in v for v in debug.check(m))
    saved = tlb.ent[0, :, live[0]].copy()
    p.exit()
    assert debug.check(m) == []  # exit flushed the mm
    tlb.ent[0, :, live[0]] = saved  # an entry that survived its mm
    assert any("is gone but the entry remains" in v for v in debug.check(m))


def test_check_catches_munmap_without_tlb_flush(monkeypatch):
    """The injected bug: munmap zaps the page tables but forgets flush_tlb_range."""
    from linuxmm.kernel import fork as F

    monkeypatch.setattr(F, "flush_tlb_range", lambda k, task, start, end: None)
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(1 << 20)
    p.write(addr, 1 << 20)
    p.munmap(addr, 1 << 20)
    found = [v for v in debug.check(m) if "but the page tables map nothing" in v]
    assert found and all(addr <= int(v.split()[4], 16) < addr + (1 << 20) for v in found)


def test_check_counts_page_cache_references():
    """A shmem page holds the cache's reference plus one per pte: a leak or a lost index is named."""
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(8 << 12, flags="shared|anonymous")
    p.write(addr, 8 << 12)
    c = p.fork()
    c.read(addr, 8 << 12)
    lru_add_drain_all(m.kernel)  # the folios leave their lru_add batch (and its reference)
    assert debug.check(m) == []
    a = m.kernel.mem_map
    (mapping,) = m.kernel.rmap.address_spaces.values()
    pfn = filemap_get_folio(m.kernel, mapping, 3)
    assert a.refcount[pfn] == 3  # the cache, the parent's pte, the child's pte
    a.refcount[pfn] += 1
    assert any(f"folio {pfn:#x} (order 0): refcount 4 but the cache and 2 page-table entries" in v
               for v in debug.check(m))
    a.refcount[pfn] -= 1
    a.index[pfn] = 5
    assert any("in slots [3]" in v and "but page->index 5" in v for v in debug.check(m))


def test_check_finds_a_page_rmap_cannot_find():
    """An anonymous page whose index disagrees with where it is mapped is invisible to rmap."""
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(4 << 12)
    p.write(addr, 4 << 12)
    c = p.fork()
    new = c.mremap(addr, 4 << 12, 8 << 12, maymove=True)  # moved pages keep their index
    c.write(new, 4 << 12)
    assert debug.check(m) == []
    pfn = p.walk(addr + 4096)[-1]["phys"] >> 12
    m.kernel.mem_map.index[pfn] += 1
    assert any(f"pfn {pfn:#x} mapped at {addr + 4096:#x}" in v and "rmap" in v for v in debug.check(m))


def test_check_finds_broken_page_table_bookkeeping():
    """pt_used, the THP deposits, MM_SWAPENTS and swap entries outside any VMA, each broken once."""
    from linuxmm import Machine
    from linuxmm.mm import memory as M
    from linuxmm.mm import pgtable as P

    m = Machine()  # THP needs 512 MiB or more (hugepage_init)
    p = m.spawn()
    addr = p.mmap(4 << 20)
    p.madvise(addr, 4 << 20, "hugepage")
    p.write(addr, 4 << 20)
    small = p.mmap(1 << 20)
    p.madvise(small, 1 << 20, "nohugepage")
    p.write(small, 1 << 20)
    assert debug.check(m) == []
    vs = m.kernel.vm_state
    fmt = int(vs.vp[P.VP_SWP_FMT])
    pmd = [r for r in p.walk(addr) if not r["folded"]][-1]  # the huge pmd's table
    assert pmd["leaf"] and pmd["level"] == "pmd"
    row = pmd["table_row"]
    vs.pt_used[row] += 1
    assert any(f"row {row} has pt_used" in v for v in debug.check(m))
    vs.pt_used[row] -= 1
    dep = int(vs.pt_huge_pte[row])
    vs.pt_huge_pte[row] = vs.pt_deposit_next[dep]  # a deposit lost
    assert any(f"PMD table row {row} holds 1 deposited tables for 2 huge pmds" in v for v in debug.check(m))
    vs.pt_huge_pte[row] = dep
    assert debug.check(m) == []
    pte = [r for r in p.walk(small) if not r["folded"]][-1]
    p.munmap(small + (1 << 19), 1 << 19)  # the pte table stays for the lower half
    swap = np.uint64(P.swp_entry_to_pte(P.swp_entry(0, 9), fmt))
    M.set_entry(vs, pte["table_row"], pte["index"] + 200, swap)  # above the VMA's end
    p.task.mmc[M.MM_SWAPENTS] += 1
    assert any("which no VMA covers" in v for v in debug.check(m))
    M.set_entry(vs, pte["table_row"], pte["index"] + 200, np.uint64(0))
    assert any("MM_SWAPENTS 1 but the tables hold 0" in v for v in debug.check(m))
    p.task.mmc[M.MM_SWAPENTS] -= 1
    assert debug.check(m) == []


def test_check_finds_counters_that_drift_from_what_they_count():
    """NR_PAGETABLE of the node and of the memcg, pgtables_bytes, NR_ZSPAGES (_check_swap_globals)
    and the memcg's NR_ANON_THPS, each moved once without the tables, zsmalloc pages or THPs
    they count."""
    from linuxmm import Machine
    from linuxmm.include.linux.mm_types import MMC_MEMCG, MMC_PGTABLES_BYTES
    from linuxmm.include.linux.vmstat import NR_ANON_THPS, NR_PAGETABLE, NR_ZSPAGES

    m = Machine()  # THP needs 512 MiB or more (hugepage_init)
    m.swapon("16M", kind="zram")
    m.cgroup("t")
    p = m.spawn(cgroup="t")
    addr = p.mmap(4 << 20)
    p.madvise(addr, 4 << 20, "hugepage")
    p.write(addr, 4 << 20)
    small = p.mmap(1 << 20)
    p.write(small, 1 << 20)
    p.madvise(small, 1 << 20, "pageout")  # to zram: zsmalloc takes pages
    assert debug.check(m) == []
    a, memcg = m.kernel.mem_map, int(p.task.mmc[MMC_MEMCG])
    assert a.vm_stat[:, NR_ZSPAGES].sum() > 0 and a.memcg_stat[memcg, NR_ANON_THPS] == 1024
    zone = int(np.flatnonzero(a.vm_stat[:, NR_ZSPAGES])[0])
    for counter, where, message in ((a.node_stat, (0, NR_PAGETABLE), "node 0: NR_PAGETABLE"),
                                    (a.memcg_stat, (memcg, NR_PAGETABLE), f"memcg {memcg}: NR_PAGETABLE"),
                                    (p.task.mmc, MMC_PGTABLES_BYTES, f"pid {p.pid}: pgtables_bytes"),
                                    (a.vm_stat, (zone, NR_ZSPAGES), "NR_ZSPAGES is"),
                                    (a.memcg_stat, (memcg, NR_ANON_THPS), f"memcg {memcg}: NR_ANON_THPS")):
        counter[where] += 1
        assert any(v.startswith(message) for v in debug.check(m)), message
        counter[where] -= 1
    assert debug.check(m) == []


class VmPressureSlowDisk(VmPressureDisk):
    """The disk pressure machine with its swap partition on a disk writing at 200 MB/s (vda's
    default is 1 GiB/s)."""

    MOUNTS = '\n[[disk]]\nname = "vda"\nwrite_bw = "200M"\n'


def test_swap_cache_a_killed_process_left_under_writeback_is_reclaimed_later():
    """The hog is killed while ~10 MiB of its pages are under writeback to the partition: they
    stay in the swap cache, holding their slots (6.18's ``__try_to_reclaim_swap`` skips a folio
    under writeback), clean once the writes complete, and stay while nothing needs memory, as
    on Linux. The next allocations' reclaim frees them first (their writeback's PG_reclaim
    put them at the inactive tail): an 8 MiB tmpfs file written next fits, nobody else is
    killed. (A 20 MiB file does OOM-kill: the file's own swap-cache folios fill the swap, and
    reclaim scans no anon once swap is full, ``can_reclaim_anon_pages``: the kernel's rule.)
    The disk writes at 200 MB/s: the hog's last direct reclaim, with the swap full, waits a
    jiffy twice (VMSCAN_THROTTLE_NOPROGRESS: ``skip_throttle_noprogress`` skips the wait only
    while at most half the reclaimable pages are write-pending, and swap writes count in
    NR_ZONE_WRITE_PENDING, ``__folio_start_writeback``), and a 1 GiB/s disk completes every
    write in flight meanwhile: the hog would die with none of its folios under writeback."""
    from linuxmm.include.linux.page_flags import PG_writeback

    def hog_folios():  # anonymous folios in the swap cache: the hog's (the other process's are out)
        vs, a = s.m.kernel.vm_state, s.m.kernel.mem_map
        folios = (vs.swap_table >> 1)[(vs.swap_table != 0) & (vs.swap_table & 1 == 0)]
        anon = folios[(a.mapping[folios] & 1) == 1]
        return len(anon), int(((a.flags[anon] >> PG_writeback) & 1).sum())

    s = VmPressureSlowDisk()
    s.spawn()
    for j in range(2):
        s.mmap(i=0, pages=1024, shared=False, huge=False)
        for page in range(1024):
            s.write(i=0, j=j, off=page * PAGE, value=page % 250 + 1, span=1)
    s.balloon(20)
    s.hog()
    cached, writeback = hog_folios()
    assert cached > 2000 and writeback == cached
    s.run(100)  # the writes complete; nothing reclaims them meanwhile
    assert hog_folios() == (cached, 0)
    s.mmap_file(i=0, pages=2048, file_pages=2048, shared=True, tmpfs=True, small_writes=True)
    assert hog_folios()[0] < cached - 1024
    assert s.live() == [1] and s.m.dmesg().count("Out of memory: Killed process") == 1  # the hog only
    s.consistent()
