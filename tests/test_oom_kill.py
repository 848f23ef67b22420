"""The OOM killer (``mm/oom_kill.py``): the victim, the report, the reaper, panics, oom_score.

The machines are small (384 MiB) so memory runs out after a few hundred MiB of writes. Scores
are recomputed here by hand from what /proc and the report print: points = rss + swap entries
+ page-table bytes / 4096 + oom_score_adj x (totalpages / 1000), totalpages = RAM + swap.
"""

import re
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import DATA, small_machine
from linuxmm import debug
from linuxmm.errors import KernelError, KernelPanic, Killed
from linuxmm.include.linux import gfp as G
from linuxmm.include.linux.mm_types import MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MMC_PGTABLES_BYTES, NR_MMC
from linuxmm.kernel.timer import NSEC_PER_SEC
from linuxmm.mm import oom_kill as O

MB = 1 << 20
REAL = DATA / "oom"


def totalpages(m) -> int:
    return int(m.proc("meminfo").split()[1]) // 4  # MemTotal in pages; no swap


def status(p) -> dict[str, int]:
    return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in p.proc("status").splitlines())
            if v.strip().endswith("kB")}


def memfree(m) -> int:
    return int(m.proc("meminfo").splitlines()[1].split()[1])


def by_hand(m, rss: int, swap: int, pgtables_bytes: int, adj: int) -> int:
    return rss + swap + pgtables_bytes // 4096 + adj * (totalpages(m) // 1000)


def user(m, comm: str, mb: int, adj: int = 0):
    """A process that wrote ``mb`` MiB of anonymous memory."""
    p = m.spawn(comm=comm)
    if mb:
        a = p.mmap(mb * MB)
        p.write(a, mb * MB)
    p.oom_score_adj = adj
    return p


def report(m, nth: int = -1) -> list[str]:
    """The lines of the nth OOM report in the log (from ``invoked oom-killer`` on)."""
    log = m.dmesg().splitlines()
    starts = [i for i, line in enumerate(log) if "invoked oom-killer" in line]
    end = starts[nth + 1] if nth + 1 < len(starts) and nth != -1 else len(log)
    return log[starts[nth]:end]


def task_rows(lines: list[str]) -> list[dict]:
    i = lines.index("Tasks state (memory values in pages):")
    keys = ("pid", "uid", "tgid", "total_vm", "rss", "rss_anon", "rss_file", "rss_shmem", "pgtables_bytes",
            "swapents", "oom_score_adj")
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("["):
            break
        nums = re.findall(r"-?\d+", line.split("]", 1)[1])
        rows.append(dict(zip(keys, [int(line[1:8])] + [int(n) for n in nums[:10]]), name=line.split()[-1]))
    return rows


def test_victim_is_the_highest_badness_computed_by_hand():
    """-1000 is never chosen and 1000 first; then the largest: the Tasks state table matches
    /proc, and the victim is the table's maximum of the score computed by hand."""
    m = small_machine()
    big = user(m, "big", 100, adj=-1000)
    mid = user(m, "mid", 60)
    small = user(m, "small", 4, adj=1000)
    hog = m.spawn(comm="hog")
    before = {p.pid: status(p) for p in (big, mid, small)}
    a = hog.mmap(300 * MB)
    with pytest.raises(Killed) as err:
        hog.write(a, 300 * MB)
    first, second = report(m, 0), report(m, 1)
    # first OOM: small (adj 1000) dies although it is the smallest; big (-1000) is listed, never chosen
    assert f"Out of memory: Killed process {small.pid} (small)" in "\n".join(first)
    for row in task_rows(first):
        if row["pid"] in before:
            st = before[row["pid"]]
            assert row["rss"] == st["VmRSS"] // 4 and row["pgtables_bytes"] == st["VmPTE"] * 1024
    # second OOM: the hog itself, now larger than mid; its own write raises Killed
    rows = task_rows(second)
    scores = [by_hand(m, r["rss"], r["swapents"], r["pgtables_bytes"], r["oom_score_adj"]) for r in rows]
    assert rows[int(np.argmax(scores))]["pid"] == hog.pid == err.value.pid
    assert err.value.signal == O.SIGKILL and big.alive and mid.alive and not small.alive and not hog.alive
    # the per-cpu lists were drained before the OOM killer ran: the victim's ALLOC_OOM retry
    # finds memory, no allocation failure follows the kill
    assert "page allocation failure" not in m.dmesg()
    assert f"Out of memory: Killed process {hog.pid} (hog)" in "\n".join(second)
    assert all(f"Killed process {big.pid} " not in line for line in m.dmesg().splitlines())
    assert debug.check(m) == []


def test_ties_go_to_the_later_task():
    """Equal scores: ``points < chosen_points`` skips only lower ones, so the later pid wins."""
    m = small_machine()
    a, b = user(m, "a", 0), user(m, "b", 0)
    oc = O.oom_control(G.GFP_KERNEL, 0)
    oc.totalpages = O.oom_totalpages(m.kernel)
    O.select_bad_process(m.kernel, oc)
    assert oc.chosen is b.task and a.task.mmc[MMC_PGTABLES_BYTES] == b.task.mmc[MMC_PGTABLES_BYTES]


def test_oom_score_and_adj():
    m = small_machine()
    p = user(m, "p", 40)
    st = status(p)
    tp = totalpages(m)
    badness = st["VmRSS"] // 4 + st["VmPTE"] // 4
    assert p.oom_score == int((1000 + badness * 1000 // tp) * 2 / 3)
    assert p.proc("oom_score") == f"{p.oom_score}\n" and p.proc("oom_score_adj") == "0\n"
    p.oom_score_adj = 500
    assert p.proc("oom_score_adj") == "500\n"
    assert p.oom_score == int((1000 + (badness + 500 * (tp // 1000)) * 1000 // tp) * 2 / 3)
    child = p.fork()
    assert child.oom_score_adj == 500  # signal_struct is copied at fork
    p.oom_score_adj = -1000
    assert p.oom_score == 0 and p.proc("oom_score") == "0\n"
    tiny = m.spawn()
    assert tiny.oom_score == 666  # (1000 + 0) * 2/3: a process with one page table
    for bad in (1001, -1001, "5", 2.0, True):
        with pytest.raises(KernelError) as e:
            p.oom_score_adj = bad
        assert e.value.errno == 22
    assert p.oom_score_adj == -1000


def test_the_reaper_frees_another_victim_on_the_clock():
    """A victim that is not running: the allocating task waits, the oom_reaper reaps the victim
    2 s later on the simulated clock (its line), the allocation then succeeds."""
    m = small_machine()
    victim = user(m, "victim", 150, adj=500)
    hog = m.spawn(comm="hog")
    a = hog.mmap(200 * MB)
    t0 = m.kernel.clock.now
    hog.write(a, 200 * MB)  # no exception: the victim's memory was enough
    assert m.kernel.clock.now - t0 >= O.OOM_REAPER_DELAY
    log = m.dmesg()
    killed = [line for line in log.splitlines() if "Killed process" in line]
    assert killed == [line for line in killed if f"process {victim.pid} (victim)" in line] and len(killed) == 1
    assert (f"oom_reaper: reaped process {victim.pid} (victim), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
            in log.splitlines())
    assert not victim.alive and hog.alive and m.kernel.oom_victims == 0
    assert "oom_kill 1" in m.proc("vmstat").splitlines()  # count_vm_event(OOM_KILL)
    with pytest.raises(KernelError) as e:  # reaped and exited: ESRCH, as for any exited process
        victim.read(0x1000, 1)
    assert e.value.errno == 3
    assert debug.check(m) == []


def test_a_victim_dies_at_its_next_call():
    """A kill that lands while the victim is not running (``out_of_memory`` from kernel
    context, the allocator not yet waiting): the victim's next call delivers the signal: it
    exits there and then, the call raises Killed, and the reaper finds nothing left to do."""
    m = small_machine()
    victim = user(m, "victim", 200)
    m.alloc_pages("GFP_KERNEL")  # the allocator is built
    assert O.out_of_memory(m.kernel, G.GFP_KERNEL, 0)
    assert not victim.alive and "swapper/0 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL)" in m.dmesg()
    assert " Comm: swapper/0 " in m.dmesg()
    with pytest.raises(Killed):
        victim.read(0x1000, 1)
    with pytest.raises(KernelError) as e:
        victim.read(0x1000, 1)
    assert e.value.errno == 3
    m.run(3)
    assert "oom_reaper: reaped" not in m.dmesg()  # it had exited: nothing to reap
    assert m.kernel.oom_victims == 0 and debug.check(m) == []


def test_kernel_allocations_wait_for_the_reaper_then_panic():
    """GFP_KERNEL allocations in kernel context: the first OOM kills the only process and the
    allocation waits for its reaping; when nothing is left to kill the machine panics."""
    m = small_machine()
    victim = user(m, "victim", 200)
    with pytest.raises(KernelPanic, match="System is deadlocked on memory"):
        while True:
            m.alloc_pages("GFP_KERNEL")
    log = m.dmesg()
    assert f"oom_reaper: reaped process {victim.pid} (victim)" in log
    assert log.index("oom_reaper: reaped") < log.index("Out of memory and no killable processes...")


def test_panic_on_oom():
    m = small_machine()
    m.sysctl("vm.panic_on_oom", 1)
    p = user(m, "p", 0)
    a = p.mmap(330 * MB)
    with pytest.raises(KernelPanic) as e:
        p.write(a, 330 * MB)
    assert str(e.value) == "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"
    assert m.dmesg().rstrip().endswith(str(e.value)) and m.panicked
    assert "Tasks state (memory values in pages):" in m.dmesg() and "Killed process" not in m.dmesg()
    with pytest.raises(KernelPanic):
        p.read(a, 1)


def test_nothing_killable_panics():
    m = small_machine()
    p = user(m, "p", 0, adj=-1000)
    a = p.mmap(330 * MB)
    with pytest.raises(KernelPanic, match="System is deadlocked on memory"):
        p.write(a, 330 * MB)
    assert "Out of memory and no killable processes..." in m.dmesg()


def test_oom_kill_allocating_task():
    m = small_machine()
    m.sysctl("vm.oom_kill_allocating_task", 1)
    big = user(m, "big", 200)
    hog = m.spawn(comm="hog")
    a = hog.mmap(200 * MB)
    with pytest.raises(Killed):
        hog.write(a, 200 * MB)
    assert f"Out of memory (oom_kill_allocating_task): Killed process {hog.pid} (hog)" in m.dmesg()
    assert big.alive and debug.check(m) == []


def test_a_killed_process_frees_everything():
    """After the kill: pages, page tables and the commit charge come back; no dead task maps
    anything (debug.check)."""
    m = small_machine()
    k = m.kernel
    free0 = memfree(m)
    committed0 = k.vm_committed_as
    p = m.spawn(comm="hog")
    shared = p.mmap(8 * MB, flags="shared|anonymous")
    p.write(shared, 8 * MB)
    a = p.mmap(320 * MB)
    with pytest.raises(Killed):
        p.write(a, 320 * MB)
    m.drain_pages()
    assert memfree(m) >= free0 - 32 and k.vm_committed_as == committed0 and debug.check(m) == []


# ---- the report, line by line against real ones ---------------------------------------------


def shape(line: str) -> str:
    return re.sub(r"-?\d+", "#", line)


def fake_task(pid, uid, total_vm, anon, file, shmem, pgtables_bytes, swapents, adj, comm):
    mmc = np.zeros(NR_MMC, np.int64)
    mmc[MM_ANONPAGES], mmc[MM_FILEPAGES], mmc[MM_SHMEMPAGES], mmc[MMC_PGTABLES_BYTES] = anon, file, shmem, \
        pgtables_bytes
    mmc[2] = swapents  # MM_SWAPENTS
    return SimpleNamespace(pid=pid, uid=uid, comm=comm, mmc=mmc, oom_score_adj=adj, oom_mm=None, pending_signal=0,
                           kill_reason="", mm=SimpleNamespace(total_vm=total_vm, flags=set()))


@pytest.fixture(scope="module")
def simulated():
    """A 6.18 report of this simulator: two processes, the hog killed."""
    m = small_machine()
    user(m, "small", 8)
    hog = m.spawn(comm="hog")
    a = hog.mmap(330 * MB)
    with pytest.raises(Killed):
        hog.write(a, 330 * MB)
    return m, report(m)


def real(name: str) -> list[str]:
    return (REAL / name).read_text().splitlines()


def test_task_rows_render_like_the_kernels():
    """Each real row, its values put in a task, prints back byte for byte (6.8+ columns)."""
    m = small_machine()
    for name in ("report-6.11-stress-ng.txt", "report-6.x-relate-1383-tasks.txt"):
        lines = real(name)
        assert O.dump_task_header(m.kernel) in lines
        for row in task_rows(lines):
            t = fake_task(row["pid"], row["uid"], row["total_vm"], row["rss_anon"], row["rss_file"],
                          row["rss_shmem"], row["pgtables_bytes"], row["swapents"], row["oom_score_adj"], row["name"])
            assert row["tgid"] == row["pid"]
            line = O.dump_task(m.kernel, t)
            assert line in lines, line


def test_kill_lines_render_like_the_kernels():
    m = small_machine()
    k = m.kernel
    lines = real("report-6.11-stress-ng.txt")
    t = fake_task(116, 0, 2628942, 1995157, 141, 0, 16052224, 0, 1000, "stress-ng-vm")
    t.cgroup = k.cgrp_dfl_root  # a task of the root cgroup, as every task of that report
    oc = O.oom_control(0x440dc0, 0)
    k.log.lines.clear()
    O.dump_oom_victim(k, oc, t)
    out = m.dmesg().splitlines()
    assert out == [line for line in lines if line.startswith("oom-kill:")]
    # the Killed line, printed by the kill itself from the same counters
    k.log.lines.clear()
    O.__dict__["__oom_kill_process"](k, t, "Out of memory")
    assert m.dmesg().splitlines() == [x for x in lines if x.startswith("Out of memory: Killed")]
    assert t.pending_signal == O.SIGKILL and t.oom_mm is t.mm and O.MMF_OOM_REAP_QUEUED in t.mm.flags
    head = lines[0]
    assert head == (f"stress-ng-vm invoked oom-killer: gfp_mask={0x440dc0:#x}({G.format_gfp(0x440dc0)}), "
                    "order=0, oom_score_adj=1000")


# show_mem lines whose format 6.18 changed since 6.11 (mm/show_mem.c): the node line lost
# writeback_tmp (NR_WRITEBACK_TEMP went) and gained Balloon; THP kernels add shmem_thp,
# shmem_pmdmapped, anon_thp (the 6.11 build had no THP); the zone line gained free_highatomic
# after reserved_highatomic and zspages after writepending.
NODE_6_18 = {"drop": {"writeback_tmp"}, "add": ["shmem_thp", "shmem_pmdmapped", "anon_thp", "Balloon"]}
ZONE_6_18 = {"drop": set(), "add": ["free_highatomic", "zspages"]}


def fields(line: str) -> list[str]:
    return re.findall(r"([A-Za-z_()]+)[:?]", line.split(" ", 2)[2])


def test_report_lines_have_the_real_formats(simulated):
    """Every line kind of the real 6.11 report has its simulated counterpart with the same
    shape (numbers aside), in the same order; the node and zone lines differ by 6.18's
    changes only."""
    m, sim = simulated
    ours = [shape(x) for x in sim]
    theirs = real("report-6.11-stress-ng.txt")
    same = ("Mem-Info:", "active_anon:", " active_file:", " unevictable:", " slab_reclaimable:", " mapped:",
            " sec_pagetables:", " kernel_misc_reclaimable:", " free:", "lowmem_reserve[]:",
            "Node # hugepages_total", "# total pagecache pages", "# pages in swap cache", "Free swap",
            "Total swap", "# pages RAM", "# pages HighMem/MovableOnly", "# pages reserved",
            "Tasks state", "[  pid  ]", "oom-kill:", "Out of memory: Killed process", "Call Trace:", " <TASK>",
            " </TASK>")
    for line in theirs:
        s = shape(line)
        if s.startswith(same):
            assert any(o.startswith(s.split("#")[0]) for o in ours), line
    markers = ("Call Trace:", "Mem-Info:", "# total pagecache pages", "# pages RAM", "Tasks state", "oom-kill:",
               "Out of memory: Killed")
    assert [next(i for i, o in enumerate(ours) if o.startswith(x)) for x in markers] == \
        sorted(next(i for i, o in enumerate(ours) if o.startswith(x)) for x in markers)
    assert [next(i for i, o in enumerate(theirs) if shape(o).startswith(x)) for x in markers] == \
        sorted(next(i for i, o in enumerate(theirs) if shape(o).startswith(x)) for x in markers)
    for prefix in ("active_anon:", " active_file:", " unevictable:", " slab_reclaimable:", " mapped:",
                   " sec_pagetables:", " kernel_misc_reclaimable:", " free:", "# total pagecache pages",
                   "Free swap", "Total swap", "# pages RAM", "# pages reserved", "Tasks state", "[  pid  ]"):
        assert [shape(x) for x in theirs if shape(x).startswith(prefix)][0] in ours, prefix
    # the free lists: same tokens, "N*SkB" and the migratetype letters when N > 0
    for line in sim:
        if re.match(r"Node \d+ \w+: ", line):
            assert re.fullmatch(r"Node \d+ \w+: (\d+\*\d+kB (\([UMEHI]+\) )?){11}= \d+kB", line), line
            assert all(n == "0" or letters for n, letters in re.findall(r"(\d+)\*\d+kB (\([UMEHI]+\) )?", line))
    node = next(x for x in theirs if x.startswith("Node 0 active_anon"))
    sim_node = next(x for x in sim if x.startswith("Node 0 active_anon"))
    want = [f for f in fields(node) if f not in NODE_6_18["drop"]]
    want[want.index("shmem") + 1:want.index("shmem") + 1] = NODE_6_18["add"][:3]
    assert fields(sim_node) == want + ["Balloon"]
    zone = next(x for x in theirs if x.startswith("Node 0 DMA32 free"))
    sim_zone = next(x for x in sim if x.startswith("Node 0 DMA32 free"))
    want = fields(zone)
    want.insert(want.index("reserved_highatomic") + 1, "free_highatomic")
    want.insert(want.index("writepending") + 1, "zspages")
    assert fields(sim_zone) == want


def test_report_numbers_are_the_machines(simulated):
    """The Mem-Info numbers are the simulated machine's: free pages, page tables, RAM."""
    m, sim = simulated
    k = m.kernel
    zones = [z for z in k.NODE_DATA(0).node_zones if z.present_pages]
    assert f"{sum(z.present_pages for z in zones)} pages RAM" in sim
    assert f"{sum(z.present_pages - z.managed_pages for z in zones)} pages reserved" in sim
    rows = task_rows(sim)
    pagetables = next(int(x.split("pagetables:")[1].split()[0]) for x in sim if x.startswith(" mapped:"))
    assert pagetables >= sum(r["pgtables_bytes"] for r in rows) // 4096
    dump = sim.index("Mem-Info:")
    assert sim[dump - 1] == " </TASK>" and sim[2] == "Call Trace:"
    assert sim[1].startswith("CPU: 0 UID: 0 PID: ") and sim[1].endswith(" Comm: hog Not tainted 6.18.0 #1")
    assert O.OOM_REAPER_DELAY == 2 * NSEC_PER_SEC


def test_older_kernels_print_the_short_table():
    """Before 6.8 dump_tasks had no rss_anon/rss_file/rss_shmem columns."""
    m = small_machine()
    m.kernel.version = type(m.kernel.version)(6, 6, 0)
    t = fake_task(375, 0, 14010, 160, 1848, 0, 102400, 256, -250, "systemd-journal")
    assert O.dump_task_header(m.kernel) == ("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents "
                                            "oom_score_adj name")
    assert O.dump_task(m.kernel, t) == "[    375]     0   375    14010     2008   102400      256          -250 systemd-journal"


def test_fork_runs_out_of_memory_in_the_parents_name():
    """copy_page_range's page tables go through the slow path in the parent's context: the
    report names the parent, the victim (oom_score_adj 1000) is reaped, and the fork goes on."""
    from linuxmm.mm import page_alloc as pa

    m = small_machine("transparent_hugepage=never")
    k = m.kernel
    victim = user(m, "victim", 32, adj=1000)
    p = m.spawn(comm="parent")
    a = p.mmap(64 << 21)
    for i in range(64):  # one page in each of 64 pte tables
        p.write(a + (i << 21), 4096, value=i)
    pa.alloc_pages_bulk(k, G.GFP_KERNEL | G.__GFP_NOWARN | G.__GFP_RETRY_MAYFAIL, 1 << 20)  # down to MIN
    c = p.fork()
    assert "parent invoked oom-killer: gfp_mask=0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), order=0" in m.dmesg()
    assert f"oom_reaper: reaped process {victim.pid} (victim)" in m.dmesg()
    assert not victim.alive and p.alive and c.read(a, 64 << 21, stride=1 << 21) == bytes(range(64))
    assert debug.check(m) == []


def test_readme_example_kills_cleanly():
    """The README's example: a -1000 database survives, the leak dies; the per-cpu lists are
    drained before the OOM killer runs (``__alloc_pages_direct_reclaim``), so the victim's
    retry from the reserves succeeds: no allocation failure after the kill."""
    from linuxmm import Machine

    m = Machine(cmdline="mem=512M")
    db = user(m, "db", 128, adj=-1000)
    leak = m.spawn(comm="leak")
    a = leak.mmap(400 * MB)
    with pytest.raises(Killed) as e:
        leak.write(a, 400 * MB)
    assert (e.value.pid, e.value.signal) == (leak.pid, 9) and db.alive and db.oom_score == 0
    assert "page allocation failure" not in m.dmesg() and debug.check(m) == []
