"""Stateful fuzzing (hypothesis RuleBasedStateMachine) of processes, mappings and the allocator.

Random sequences of spawn, mmap/munmap/mprotect/madvise, reads and writes of known values,
fork, exit and raw page allocations run on a small machine. After every step
``linuxmm.debug.check`` must pass, and every read must return the last value written at that
address by that process or by a process sharing the mapping (private memory is copied at
fork; fresh memory reads as zero).
"""

import os

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import linuxmm
from linuxmm import KernelError, Machine, SegmentationFault, debug
from linuxmm.sources import toml

SMALL = """
name = "fuzz"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x17ffffff }]
"""
LINE = 64
PAGE = 4096


class VmMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.m = Machine(toml.loads(SMALL))
        self.procs = {}   # pid -> Process
        self.maps = {}    # pid -> list of [start, length, shared_id or None, writable]
        self.mem = {}     # pid -> {line address: value} for private memory
        self.shared = {}  # shared_id -> {offset: value}
        self.next_shared = 0
        self.pages = []   # raw allocations (pfn, order)

    def live(self):
        return [pid for pid, p in self.procs.items() if p.alive]

    @rule()
    def spawn(self):
        if len(self.live()) < 4:
            p = self.m.spawn()
            self.procs[p.pid], self.maps[p.pid], self.mem[p.pid] = p, [], {}

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7), pages=st.integers(1, 600), shared=st.booleans(), huge=st.booleans())
    def mmap(self, i, pages, shared, huge):
        pid = self.live()[i % len(self.live())]
        p = self.procs[pid]
        flags = "shared|anonymous" if shared else "private|anonymous"
        a = p.mmap(pages * PAGE, prot="rw", flags=flags)
        if huge and not shared:
            p.madvise(a, pages * PAGE, "hugepage")
        sid = None
        if shared:
            sid, self.next_shared = self.next_shared, self.next_shared + 1
            self.shared[sid] = {}
        self.maps[pid].append([a, pages * PAGE, sid, True])

    def pick(self, i, j):
        pids = [pid for pid in self.live() if self.maps[pid]]
        if not pids:
            return None
        pid = pids[i % len(pids)]
        region = self.maps[pid][j % len(self.maps[pid])]
        return pid, region

    def forget(self, pid, start, end):
        self.mem[pid] = {k: v for k, v in self.mem[pid].items() if not start <= k < end}

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), off=st.integers(0, 1 << 22), value=st.integers(1, 255),
          span=st.integers(1, 64))
    def write(self, i, j, off, value, span):
        got = self.pick(i, j)
        if got is None:
            return
        pid, (start, length, sid, writable) = got
        addr = start + (off % length) // LINE * LINE
        n = min(span, (start + length - addr) // LINE)
        p = self.procs[pid]
        try:
            p.write(addr, n * LINE, stride=LINE, value=value)
        except SegmentationFault:
            assert not writable
            self.procs[pid] = p
            return
        assert writable
        for k in range(n):
            a = addr + k * LINE
            if sid is None:
                self.mem[pid][a] = value
            else:
                self.shared[sid][a - start] = value

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), off=st.integers(0, 1 << 22), span=st.integers(1, 64))
    def read(self, i, j, off, span):
        got = self.pick(i, j)
        if got is None:
            return
        pid, (start, length, sid, _) = got
        addr = start + (off % length) // LINE * LINE
        n = min(span, (start + length - addr) // LINE)
        data = self.procs[pid].read(addr, n * LINE, stride=LINE)
        for k in range(n):
            a = addr + k * LINE
            want = self.mem[pid].get(a, 0) if sid is None else self.shared[sid].get(a - start, 0)
            assert data[k] == want, f"pid {pid} read {data[k]} at {a:#x}, expected {want}"

    @rule(i=st.integers(0, 7), j=st.integers(0, 7))
    def munmap(self, i, j):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        start, length = region[0], region[1]
        self.procs[pid].munmap(start, length)
        self.maps[pid].remove(region)
        self.forget(pid, start, start + length)

    @rule(i=st.integers(0, 7), j=st.integers(0, 7), writable=st.booleans())
    def mprotect(self, i, j, writable):
        got = self.pick(i, j)
        if got is None:
            return
        pid, region = got
        self.procs[pid].mprotect(region[0], region[1], "rw" if writable else "r")
        region[3] = writable

    @precondition(lambda self: self.live() and len(self.live()) < 4)
    @rule(i=st.integers(0, 7))
    def fork(self, i):
        pid = self.live()[i % len(self.live())]
        c = self.procs[pid].fork()
        self.procs[c.pid] = c
        self.maps[c.pid] = [list(r) for r in self.maps[pid]]
        self.mem[c.pid] = dict(self.mem[pid])

    @precondition(lambda self: self.live())
    @rule(i=st.integers(0, 7))
    def exit(self, i):
        pid = self.live()[i % len(self.live())]
        self.procs[pid].exit()

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


# CI runs 25 sequences; LINUXMM_FUZZ_EXAMPLES=2000 is the longer run (README, "Debug checks").
VmMachine.TestCase.settings = settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 25)),
                                       stateful_step_count=30, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestVmFuzz = VmMachine.TestCase


# --debug-vm: the checker runs during a workload and names the step and the operations before it.

def test_debug_vm_steps_pass_and_catch_an_injected_leak(monkeypatch):
    from linuxmm.cli import run_vm_steps
    from linuxmm.process import Process

    steps = ["mmap:1M", "write", "fork", "write:8192", "exit", "munmap"]
    run_vm_steps(Machine(toml.loads(SMALL)), steps, debug_vm=True)

    real_write = Process.write

    def leaky_write(self, addr, length, *args, **kw):  # a reference taken and never dropped
        real_write(self, addr, length, *args, **kw)
        self.machine.kernel.mem_map.refcount[self.walk(addr)[-1]["phys"] >> 12] += 1

    monkeypatch.setattr(Process, "write", leaky_write)
    with pytest.raises(debug.DebugVmError) as e:
        run_vm_steps(Machine(toml.loads(SMALL)), steps, debug_vm=True)
    msg = str(e.value)
    assert "after step 'write'" in msg and "last operations:" in msg and "mmap:1M: pid 1" in msg
    assert "refcount 2 but 1 page-table entries map it" in msg


def test_debug_vm_replay_names_the_records(monkeypatch, tmp_path):
    from linuxmm.mm import memory as M
    from linuxmm.tools.replay import replay

    trace = tmp_path / "t.lackey"
    trace.write_text("".join(f" S {0x10000000 + 4096 * i:x},8\n" for i in range(64)))
    clean = replay(Machine(toml.loads(SMALL)), trace, debug_vm=10)
    assert clean.minor_faults == 64

    real_batch = M.replay_batch

    def free_list_corrupting_batch(a, *args):  # the free-page counter drifts from the lists
        out = real_batch(a, *args)
        a.nr_free[1, 0, 0] += 1
        return out

    monkeypatch.setattr(M, "replay_batch", free_list_corrupting_batch)
    with pytest.raises(debug.DebugVmError, match=r"after records 1-10 of t.lackey(.|\n)*record 10: store 0x10009000"):
        replay(Machine(toml.loads(SMALL)), trace, debug_vm=10)


def test_check_finds_a_stale_tlb_entry():
    """A translation left behind (a forgotten flush) is reported with its CPU, structure and address."""
    m = Machine(toml.loads(SMALL))
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
