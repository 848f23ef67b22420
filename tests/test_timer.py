"""kernel/timer + kernel/kthread: the simulated clock, its event queue, the memory manager's
kernel threads on it, and runs that repeat exactly."""

import numpy as np
import pytest

from conftest import small_machine
from linuxmm import Machine
from linuxmm.errors import KernelError, Killed
from linuxmm.kernel.kthread import kthread
from linuxmm.kernel.timer import ACCESS_NS, FAULT_NS, NSEC_PER_SEC, SimClock
from linuxmm.include.linux.vmstat import PGFAULT
from linuxmm.tools.replay import replay
from linuxmm.tools.trace import TRACE_DTYPE, write_binary

MB = 1 << 20


def test_events_run_in_time_then_sequence_order():
    clock, ran = SimClock(), []
    for when, name in ((30, "c"), (10, "a"), (30, "d"), (20, "b"), (10, "a2")):
        clock.add_timer(when, ran.append, name)
    dropped = clock.add_timer(15, ran.append, "dropped")
    clock.del_timer(dropped)
    clock.run_until(25)
    assert ran == ["a", "a2", "b"] and clock.now == 25 and clock.budget() == 5
    clock.work(accesses=3, faults=1)  # 3 + 1692 ns: the events at 30 run on the way
    assert ran == ["a", "a2", "b", "c", "d"] and clock.now == 25 + 3 * ACCESS_NS + FAULT_NS


def test_kthread_sleeps_until_woken_or_timed_out():
    clock, runs = SimClock(), []

    def body():
        runs.append(clock.now)
        return 100 if len(runs) < 3 else None

    t = kthread(clock, "test", body)
    assert t.wake_up() and not t.wake_up()  # already runnable
    clock.run_until(1000)
    assert runs == [0, 100, 200] and t.nr_runs == 3 and t.nr_wakeups == 1
    clock.run_until(5000)
    assert len(runs) == 3  # asleep until woken
    t.wake_up()
    clock.run_until(5000)
    assert runs[-1] == 5000


def test_machine_run_and_the_threads_at_boot():
    m = Machine()
    k = m.kernel
    per_node = {f"{name}{nid}" for name in ("kswapd", "kcompactd") for nid in k.node_ids}
    assert len(k.node_ids) == 2 and set(k.kthreads) == per_node | {"khugepaged", "writeback", "oom_reaper"}
    assert m.now == 0.0
    m.run(2.0)
    assert m.now == 2.0 and k.clock.now == 2 * NSEC_PER_SEC
    assert k.kthreads["kcompactd0"].nr_runs == 5  # at boot, then every 500 ms (proactive compaction)
    assert k.kthreads["kswapd0"].nr_runs == 0 and k.kthreads["khugepaged"].nr_runs == 1
    m.sysctl("vm.compaction_proactiveness", 0)
    m.run(2.0)
    assert k.kthreads["kcompactd0"].nr_runs == 6  # the sleep it was in, then no more timer
    with pytest.raises(KernelError):
        m.run(-1)


def test_khugepaged_scans_while_an_mm_may_hold_thps():
    """khugepaged_enter_vma on MADV_HUGEPAGE wakes khugepaged, which then wakes every
    scan_sleep_millisecs until the mm exits; THP off (a small machine) starts no khugepaged."""
    m = Machine()
    k = m.kernel
    khugepaged = k.kthreads["khugepaged"]
    p = m.spawn()
    a = p.mmap(8 * MB)
    m.run(30)
    assert khugepaged.nr_runs == 1  # nothing to scan: asleep since boot
    p.madvise(a, 8 * MB, "hugepage")
    assert k.khugepaged_mm_slots == [p.pid] and khugepaged.nr_wakeups == 2
    m.run(25)
    assert khugepaged.nr_runs == 4  # woken at 30 s, then at 40 s and 50 s
    p.exit()
    m.run(60)
    assert k.khugepaged_mm_slots == [] and khugepaged.nr_runs == 5  # the 60 s run finds no work
    # THP off through sysfs stops khugepaged (kthread_stop); on again starts a new one
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "never")
    assert "khugepaged" not in k.kthreads and khugepaged.state == "X"
    m.sysfs("kernel/mm/transparent_hugepage/enabled", "madvise")
    assert k.kthreads["khugepaged"] is not khugepaged
    s = small_machine()
    q = s.spawn()
    q.madvise(q.mmap(8 * MB), 8 * MB, "hugepage")
    assert "khugepaged" not in s.kernel.kthreads and s.kernel.khugepaged_mm_slots == []


def test_faults_and_accesses_advance_the_clock():
    m = Machine(cmdline="transparent_hugepage=never")
    p = m.spawn()
    a = p.mmap(4 * MB)
    p.write(a, 4 * MB)  # 1024 accesses, 1024 faults
    p.read(a, 4 * MB)  # 1024 hits
    assert m.kernel.clock.now == 2048 * ACCESS_NS + 1024 * FAULT_NS


def trace_file(tmp_path, n=120_000, seed=1):
    rng = np.random.default_rng(seed)
    rec = np.zeros(n, TRACE_DTYPE)
    rec["addr"] = 0x40000000 + rng.integers(0, 64 * MB, n) // 64 * 64
    rec["kind"], rec["size"] = rng.integers(0, 4, n), 8
    path = tmp_path / "t.bin"
    write_binary(path, [rec])
    return path


def test_an_event_runs_at_its_time_within_a_replay(tmp_path):
    """A timer due in the middle of a replay runs when the simulated work reaches its time:
    it sees the machine as it is after the first record whose time reaches it, however the
    records are batched (the batches stop at the event's time, not at their own ends)."""
    seen = []
    for debug_vm in (0, 30011):
        m = Machine()
        k = m.kernel
        due = k.clock.now + 5_000_000  # 5 ms of simulated work
        k.clock.add_timer(due, lambda: seen.append((k.clock.now, k.vm_events.copy())))
        replay(m, trace_file(tmp_path), "binary", debug_vm=debug_vm)
        assert seen[-1][0] == due and 0 < seen[-1][1][PGFAULT] < k.vm_events[PGFAULT]
    assert (seen[0][1] == seen[1][1]).all()


def counters(m) -> dict:
    k = m.kernel
    return {"proc": {f: m.proc(f"/proc/{f}") for f in ("vmstat", "meminfo", "zoneinfo", "buddyinfo",
                                                       "pagetypeinfo")},
            "now": k.clock.now, "threads": {n: (t.nr_runs, t.nr_wakeups) for n, t in k.kthreads.items()},
            "tlb": k.tlb.counters(), "dmesg": m.dmesg()}


def test_same_inputs_same_outputs(tmp_path):
    """A workload (replay, fork, faults until the allocator fails, time passing) twice on new
    machines: every counter, /proc file, log line and the clock come out the same."""
    runs = []
    for _ in range(2):
        m = small_machine()
        res = replay(m, trace_file(tmp_path), "binary").as_dict()
        p = m.processes()[0]
        c = p.fork()
        c.write(0x40000000, 32 * MB)
        q = m.spawn()
        q.oom_score_adj = 1000  # the OOM killer's first choice
        with pytest.raises(Killed):
            q.write(q.mmap(300 * MB), 300 * MB)
        m.run(3.5)
        runs.append(({n: v for n, v in res.items() if not n.endswith("_seconds")}, counters(m)))
    assert runs[0] == runs[1]


def test_an_event_ends_one_batch(tmp_path, monkeypatch):
    """A batch stops at the first record that could reach the next event if every record
    faulted, so an event costs the replay one stop: on a trace whose every record is a
    first-touch write (one fault each, RECORD_MAX_NS), the batch ends at the very record
    whose time reaches the event, which then runs after it (with floor division the batch
    stopped a record short, and a second batch of one record reached the event)."""
    from linuxmm.mm import memory as M
    from linuxmm.tools.replay import RECORD_MAX_NS

    n = 100
    rec = np.zeros(n, TRACE_DTYPE)
    rec["addr"] = 0x40000000 + np.arange(n) * 4096
    rec["kind"], rec["size"] = 2, 8
    path = tmp_path / "w.bin"
    write_binary(path, [rec])
    m = Machine(cmdline="transparent_hugepage=never")
    k = m.kernel
    ran, stops = [], []
    for records in (10.5, 30.2, 61.9):  # due while the 11th, 31st and 62nd record fault
        k.clock.add_timer(k.clock.now + int(records * RECORD_MAX_NS), lambda: ran.append(int(k.vm_events[PGFAULT])))
    batch = M.replay_batch

    def counted(*args):
        out = batch(*args)
        stops.append(out[0])
        return out

    monkeypatch.setattr(M, "replay_batch", counted)
    faults = int(k.vm_events[PGFAULT])
    replay(m, path, "binary")
    assert [f - faults for f in ran] == [11, 31, 62]
    # (the threads started at boot are due at once: they run after the first record)
    assert stops[-4:] == [11, 31, 62, n] and stops[:-4] in ([], [1])
