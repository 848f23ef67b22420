"""Memory cgroups v2 (``mm/memcontrol.py``, ``mm/page_counter.py``, ``kernel/cgroup/cgroup.py``).

The tests named ``test_memcg_*`` port the expectations of the kernel's
``tools/testing/selftests/cgroup/test_memcontrol.c`` cases of the same name (without the
selftest's tolerances where the simulator is exact: no per-cpu charge stock, so
``memory.current`` is exactly the pages charged). The machines are small (384 MiB).
"""

import numpy as np
import pytest

from conftest import small_machine
from linuxmm import Machine, debug
from linuxmm.errors import KernelError, Killed
from linuxmm.include.linux.memcontrol import PAGE_COUNTER_MAX, ROOT_MEM_CGROUP_ID
from linuxmm.include.linux.mmzone import LRU_INACTIVE_ANON
from linuxmm.mm import memcontrol as MC
from linuxmm.mm.page_counter import page_counter_memparse
from linuxmm.mm.swap import lru_add_drain_all

MB = 1 << 20


def events(cg, local: bool = False) -> dict[str, int]:
    text = cg.read("memory.events.local" if local else "memory.events")
    return {k: int(v) for k, v in (line.split() for line in text.splitlines())}


def stat(cg) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in cg.read("memory.stat").splitlines())}


def alloc_anon(p, size: int, value: int = 1) -> int:
    a = p.mmap(size)
    p.write(a, size, value=value)
    return a


@pytest.fixture(scope="module")
def m():
    return small_machine()


# ---- the tree and its files -----------------------------------------------------------------------
def test_cgroup_creates_parents_and_files(m):
    cg = m.cgroup("t_tree/a/b")
    assert cg.path == "/t_tree/a/b"
    assert [c.path for c in m.cgroup("t_tree").children] == ["/t_tree/a"]
    assert "memory.current" in cg.files and "memory.current" not in m.cgroup("/").files
    assert cg.read("memory.max") == "max\n" and cg.read("memory.current") == "0\n"
    assert cg.read("cgroup.controllers") == "memory\n"
    for bad in ("t_tree/..", "t_tree/./x"):
        with pytest.raises(KernelError, match="EINVAL"):
            m.cgroup(bad)
    with pytest.raises(KernelError, match="ENAMETOOLONG"):
        m.cgroup("x" * 256)
    with pytest.raises(KernelError, match="ENOENT"):
        m.spawn(cgroup="t_tree/missing")
    with pytest.raises(KernelError, match="ENOENT"):
        cg.read("memory.nonsense")


def test_memcg_ids_follow_the_idr(m):
    """Reclaim's array of the memcg ids in use (``mem_cgroup_ids``) is kept, and rebuilt
    when a memcg comes or goes."""
    k = m.kernel
    before = MC.mem_cgroup_ids(k).tolist()
    assert before == list(k.memcg_idr)
    cg = m.cgroup("t_ids")
    assert MC.mem_cgroup_ids(k).tolist() == list(k.memcg_idr) and len(k.memcg_idr) == len(before) + 1
    cg.rmdir()
    assert MC.mem_cgroup_ids(k).tolist() == before == list(k.memcg_idr)
    assert debug.check(m) == []


def test_subtree_control_decides_which_cgroups_have_a_memcg(m):
    """A cgroup made by mkdir(2) has the controllers its parent's cgroup.subtree_control
    enables: none below a parent that did not write +memory (no memory files; its tasks
    charge the nearest memcg up the tree); +memory creates the children's memcgs, their
    tasks' new pages go there; -memory takes them away again. EBUSY where the kernel
    refuses: processes in a non-root cgroup that enables, a child still enabling below."""
    top = m.cgroup("/").mkdir("t_subtree")
    assert top.read("cgroup.controllers") == "memory\n" and top.read("cgroup.subtree_control") == "\n"
    leaf = top.mkdir("leaf")
    assert leaf.read("cgroup.controllers") == "\n" and "memory.current" not in leaf.files
    with pytest.raises(KernelError, match="ENOENT"):
        leaf.read("memory.current")
    with pytest.raises(KernelError, match="ENOENT"):  # memory is not among its controllers
        leaf.write("cgroup.subtree_control", "+memory")
    p = m.spawn(cgroup="t_subtree/leaf")
    alloc_anon(p, MB)
    charged = int(top.read("memory.current"))
    assert charged >= MB  # the leaf's pages went to the nearest memcg, t_subtree's
    top.write("cgroup.subtree_control", "+memory")
    assert leaf.read("cgroup.controllers") == "memory\n" and leaf.read("memory.current") == "0\n"
    alloc_anon(p, MB)
    assert int(leaf.read("memory.current")) >= MB and int(top.read("memory.current")) >= charged + MB
    with pytest.raises(KernelError, match="EBUSY"):  # leaf has a process of its own
        leaf.write("cgroup.subtree_control", "+memory")
    p.exit()
    leaf.write("cgroup.subtree_control", "+memory")
    with pytest.raises(KernelError, match="EBUSY"):  # leaf enables it below
        top.write("cgroup.subtree_control", "-memory")
    leaf.write("cgroup.subtree_control", "-memory")
    top.write("cgroup.subtree_control", "-memory")
    assert "memory.current" not in leaf.files and leaf.read("cgroup.controllers") == "\n"
    with pytest.raises(KernelError, match="EINVAL"):
        top.write("cgroup.subtree_control", "+cpu")
    leaf.rmdir()
    top.rmdir()
    assert debug.check(m) == []


def test_peak_is_reset_per_open_file(m):
    """memory.peak held open (6.12+): a write restarts the peak that descriptor reads; other
    descriptors, the all-time peak and a cat of the file are unaffected; a descriptor written
    later resets the shared local watermark and raises the ones written earlier to the usage
    at its write (so they lose the peak between the two writes, as 6.18's do); closing one
    leaves the memcg's list of watchers (``peaks``)."""
    cg = m.cgroup("t_peakfd")
    p = m.spawn(cgroup="t_peakfd")
    a = alloc_anon(p, 16 * MB)
    f, g, h = cg.open("memory.peak"), cg.open("memory.peak"), cg.open("memory.peak")
    assert f.mode == 0o644 and cg.open("memory.current").mode == 0o444
    p.munmap(a, 12 * MB)
    current = int(cg.read("memory.current"))
    f.write("reset\n")
    assert int(f.read()) == current and int(g.read()) >= 16 * MB and int(cg.read("memory.peak")) >= 16 * MB
    a = alloc_anon(p, 8 * MB)
    assert int(f.read()) == int(cg.read("memory.current")) >= current + 8 * MB
    p.munmap(a, 8 * MB)
    g.write("x")  # usage is back down: g starts at the usage, and so does f again: 6.18's
    assert int(g.read()) == int(f.read()) == current  # of_peak_reset raises peers to the usage only
    a = alloc_anon(p, 4 * MB)
    p.munmap(a, 4 * MB)
    assert int(g.read()) == int(f.read()) >= current + 4 * MB
    memcg = m.kernel.cgrp_dfl_root.children["t_peakfd"].memcg
    assert len(memcg.peaks) == 2
    cg.write("memory.peak", "reset")  # open, write, close: it joins and leaves the list
    g.close()
    assert len(memcg.peaks) == 1 and int(h.read()) >= 16 * MB
    with pytest.raises(KernelError, match="EBADF"):
        g.close()
    f.close(), h.close()
    assert memcg.peaks == []
    p.exit()


def test_a_reused_memcg_id_starts_with_no_reclaim_cost(m):
    """The recent reclaim costs of a memcg's lruvecs (``lruvec_cost``, ``lru_note_cost``) go
    with the memcg: a new memcg taking a freed id starts at zero, and ``debug.check`` finds
    the costs of an id not in use."""
    k = m.kernel
    cg = m.cgroup("t_cost")
    memcg_id = k.cgrp_dfl_root.children["t_cost"].memcg.id
    k.mem_map.lruvec_cost[memcg_id, 0] = (7, 3)
    assert debug.check(m) == []
    cg.rmdir()
    assert memcg_id not in k.memcg_idr and not k.mem_map.lruvec_cost[memcg_id].any()
    k.mem_map.lruvec_cost[memcg_id, 0, 1] = 5
    assert any("not in use has lruvec_cost" in v for v in debug.check(m))
    k.mem_map.lruvec_cost[memcg_id] = 0
    reused = m.cgroup("t_cost2")
    assert k.cgrp_dfl_root.children["t_cost2"].memcg.id == memcg_id
    assert not k.mem_map.lruvec_cost[memcg_id].any()
    reused.rmdir()


def test_open_file_after_rmdir_is_enodev(m):
    cg = m.cgroup("t_peakgone")
    f = cg.open("memory.peak")
    f.write("reset")
    cg.rmdir()
    with pytest.raises(KernelError, match="ENODEV"):
        f.read()
    f.close()  # released at rmdir already: close just drops it
    with pytest.raises(KernelError, match="ENOENT"):
        m.cgroup("/").open("memory.peak")


def test_memory_events_change_is_announced(m):
    """``memcg_memory_event`` -> ``cgroup_file_notify``: an open memory.events polls changed
    until read; a waiter runs at the time of the announcement; announcements come at most
    once per CGROUP_FILE_NOTIFY_MIN_INTV (10 ms), a later change within it is deferred to a
    timer just past the interval."""
    cg = m.cgroup("t_notify")
    f, local = cg.open("memory.events"), cg.open("memory.events.local")
    woken = []
    f.poll_wait(lambda: woken.append(m.kernel.clock.now))
    memcg = m.kernel.cgrp_dfl_root.children["t_notify"].memcg
    assert not f.poll()
    t0 = m.kernel.clock.now
    MC.memcg_memory_event(m.kernel, memcg, 1)  # MEMCG_HIGH
    assert f.poll() and local.poll() and not woken  # the waiter runs when the clock moves
    m.run(0.001)
    assert woken == [t0]
    assert "high 1" in f.read() and not f.poll()
    MC.memcg_memory_event(m.kernel, memcg, 1)  # within 10 ms: deferred
    assert not f.poll()
    m.run(0.005)
    assert not f.poll()
    m.run(0.02)
    assert f.poll()
    f.close(), local.close()


def test_memparse_and_bad_values(m):
    cg = m.cgroup("t_parse")
    cg.write("memory.max", "512M")
    assert cg.read("memory.max") == f"{512 * MB}\n"
    cg.write("memory.high", "1G")
    assert cg.read("memory.high") == f"{1 << 30}\n"
    cg.write("memory.low", 4097)  # rounded down to pages
    assert cg.read("memory.low") == "4096\n"
    cg.write("memory.max", "max")
    assert cg.read("memory.max") == "max\n"
    assert page_counter_memparse("2k") == 0 and page_counter_memparse("8K") == 2
    assert page_counter_memparse("max") == PAGE_COUNTER_MAX
    for bad in ("512X", "-1", "12MB", "", "1.5G"):
        with pytest.raises(KernelError, match="EINVAL"):
            cg.write("memory.max", bad)
    with pytest.raises(KernelError, match="EACCES"):
        cg.write("memory.current", "0")
    with pytest.raises(KernelError, match="EACCES"):
        cg.read("memory.reclaim")
    with pytest.raises(KernelError, match="EINVAL"):
        cg.write("memory.oom.group", "2")
    with pytest.raises(KernelError, match="ESRCH"):
        cg.write("cgroup.procs", 99999)


def test_rmdir_only_when_empty(m):
    cg = m.cgroup("t_rmdir/child")
    with pytest.raises(KernelError, match="EBUSY"):
        m.cgroup("t_rmdir").rmdir()
    p = m.spawn(cgroup="t_rmdir/child")
    with pytest.raises(KernelError, match="EBUSY"):
        cg.rmdir()
    p.exit()
    cg.rmdir()
    m.cgroup("t_rmdir").rmdir()
    assert "t_rmdir" not in [c.path.strip("/") for c in m.cgroup("/").children]
    with pytest.raises(KernelError, match="EBUSY"):
        m.cgroup("/").rmdir()


# ---- charging ---------------------------------------------------------------------------------------
def test_memcg_current(m):
    """alloc_anon_50M_check: memory.current grows by the 50 MiB written, memory.stat's anon
    equals it, and it all goes when the process exits."""
    cg = m.cgroup("t_current")
    p = m.spawn(cgroup="t_current")
    alloc_anon(p, 50 * MB)
    assert int(cg.read("memory.current")) == 50 * MB + stat(cg)["pagetables"]  # page tables are charged too
    assert stat(cg)["anon"] == 50 * MB
    assert int(cg.read("memory.peak")) == int(cg.read("memory.current"))
    assert int(m.cgroup("/").read("memory.stat").split()[1]) >= 50 * MB  # hierarchical
    assert debug.check(m) == []
    p.exit()
    assert int(cg.read("memory.current")) == 0 and int(cg.read("memory.peak")) > 50 * MB
    assert debug.check(m) == []


def test_page_tables_are_charged():
    """Page tables (GFP_PGTABLE_USER has __GFP_ACCOUNT) count in memory.current and in
    memory.stat's pagetables: the process's VmPTE and its PGD (``__pgd_alloc`` charges it and
    ``pagetable_pgd_ctor`` counts it in NR_PAGETABLE, but ``mm_pgtables_bytes`` leaves it
    out); they go at exit."""
    m = small_machine()
    cg = m.cgroup("pt")
    p = m.spawn(cgroup="pt")
    alloc_anon(p, 64 * MB)  # 4 KiB pages (no THP below 512 MiB): 32 pte tables at least
    vmpte = int(next(line.split()[1] for line in m.proc(f"{p.pid}/status").splitlines()
                     if line.startswith("VmPTE:"))) * 1024
    st = stat(cg)
    assert st["pagetables"] == vmpte + 4096 and vmpte >= 32 * 4096
    assert int(cg.read("memory.current")) == st["anon"] + st["pagetables"]
    assert debug.check(m) == []
    p.exit()
    assert int(cg.read("memory.current")) == 0 and stat(cg)["pagetables"] == 0


def test_fork_inherits_and_move_keeps_charges(m):
    a_cg, b_cg = m.cgroup("t_move/a"), m.cgroup("t_move/b")
    p = m.spawn(cgroup="t_move/a")
    alloc_anon(p, 8 * MB)
    c = p.fork()
    assert c.cgroup == "/t_move/a" and sorted(a_cg.procs) == sorted([p.pid, c.pid])
    b_cg.write("cgroup.procs", p.pid)
    assert p.cgroup == "/t_move/b" and a_cg.procs == [c.pid]
    alloc_anon(p, 4 * MB)
    # the old pages stay charged to a (v2 moves no charges), the new ones go to b
    assert stat(a_cg)["anon"] == 8 * MB and stat(b_cg)["anon"] == 4 * MB
    assert int(a_cg.read("memory.current")) == 8 * MB + stat(a_cg)["pagetables"]
    assert int(m.cgroup("t_move").read("memory.current")) == 12 * MB + stat(m.cgroup("t_move"))["pagetables"]
    assert debug.check(m) == []
    c.exit()
    p.exit()
    assert int(m.cgroup("t_move").read("memory.current")) == 0


def test_memcg_max():
    """test_memcg_max: with memory.max 30M, writing 100 MiB fails (no swap: a memcg OOM
    kills the writer), memory.current stays at or below the limit, max events were raised."""
    m = small_machine()
    cg = m.cgroup("memcg_test")
    cg.write("memory.max", "30M")
    p = m.spawn(cgroup="memcg_test")
    with pytest.raises(Killed):
        alloc_anon(p, 100 * MB)
    assert int(cg.read("memory.current")) <= 30 * MB
    assert int(cg.read("memory.peak")) == 30 * MB
    assert events(cg)["max"] > 0
    assert debug.check(m) == []


def test_memcg_oom_events():
    """test_memcg_oom_events: one OOM, one kill, the cgroup empty afterwards; the parent's
    memory.events counts them too, its memory.events.local does not."""
    m = small_machine()
    parent, cg = m.cgroup("memcg_test"), m.cgroup("memcg_test/child")
    cg.write("memory.max", "30M")
    p = m.spawn(cgroup="memcg_test/child")
    with pytest.raises(Killed):
        alloc_anon(p, 100 * MB)
    assert cg.procs == []
    ev = events(cg)
    assert ev["oom"] == 1 and ev["oom_kill"] == 1 and ev["oom_group_kill"] == 0
    # 16 reclaim retries and the attempt that gives up, then the OOM: MAX_RECLAIM_RETRIES + 1
    assert ev["max"] == MC.MAX_RECLAIM_RETRIES + 1
    assert events(parent)["oom_kill"] == 1 and events(parent, local=True)["oom_kill"] == 0
    assert events(cg, local=True) == ev


def test_memcg_oom_report_and_rest_untouched():
    """A process in a 64 MiB cgroup writing 128 MiB is killed by a memcg OOM: the report is
    the memcg's (no Mem-Info), only the cgroup's task is listed, and another process's data
    outside the cgroup is intact."""
    m = small_machine()
    other = m.spawn(comm="other")
    keep = alloc_anon(other, 16 * MB, value=42)
    cg = m.cgroup("app/web")
    cg.write("memory.max", "64M")
    p = m.spawn(comm="hog", cgroup="app/web")
    with pytest.raises(Killed):
        alloc_anon(p, 128 * MB)
    log = m.dmesg().splitlines()
    start = next(i for i, line in enumerate(log) if "invoked oom-killer" in line)
    rep = log[start:]
    assert "memory: usage 65536kB, limit 65536kB, failcnt " in "\n".join(rep)
    assert "swap: usage 0kB, limit 9007199254740988kB, failcnt 0" in rep
    assert "Memory cgroup stats for /app/web:" in rep
    stats = {w[0]: int(w[1]) for w in (line.split() for line in rep) if len(w) == 2 and w[1].isdigit()}
    assert stats["anon"] + stats["pagetables"] == 64 * MB  # the page tables are charged too
    assert not any(line.startswith("Mem-Info:") for line in rep)
    assert any(line.startswith("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,")
               and ",oom_memcg=/app/web,task_memcg=/app/web,task=hog," in line for line in rep)
    assert any(line.startswith(f"Memory cgroup out of memory: Killed process {p.pid} (hog)") for line in rep)
    tasks = rep[rep.index("Tasks state (memory values in pages):") + 2:]
    assert [line.split()[-1] for line in tasks if line.startswith("[")] == ["hog"]
    assert other.alive and set(other.read(keep, 16 * MB)) == {42}
    assert debug.check(m) == []


def test_memcg_oom_group_leaf_events():
    """test_memcg_oom_group_leaf_events: with memory.oom.group set, the OOM kills every process
    of the cgroup; one oom_group_kill event; a process with oom_score_adj -1000 survives
    (test_memcg_oom_group_score_events)."""
    m = small_machine()
    cg = m.cgroup("memcg_test")
    cg.write("memory.max", "50M")
    cg.write("memory.oom.group", "1")
    assert cg.read("memory.oom.group") == "1\n"
    idle = m.spawn(comm="idle", cgroup="memcg_test")
    alloc_anon(idle, 4 * MB)
    safe = m.spawn(comm="safe", cgroup="memcg_test")
    safe.oom_score_adj = -1000
    hog = m.spawn(comm="hog", cgroup="memcg_test")
    with pytest.raises(Killed):
        alloc_anon(hog, 100 * MB)
    m.run(5)  # the reaper takes the other victim
    assert not idle.alive and safe.alive
    ev = events(cg)
    assert ev["oom_group_kill"] == 1 and ev["oom"] == 1
    assert "Tasks in /memcg_test are going to be killed due to memory.oom.group set" in m.dmesg()
    assert debug.check(m) == []


def test_memcg_oom_group_parent_events():
    """test_memcg_oom_group_parent_events: memory.max and oom.group on the parent, the
    charge from a child: the parent's whole subtree is killed. With the limit on the child
    instead, the OOM's domain is the child and the parent's oom.group is not looked at."""
    m = small_machine()
    parent = m.cgroup("memcg_test_0")
    parent.write("memory.max", "80M")
    parent.write("memory.oom.group", "1")
    m.cgroup("memcg_test_0/memcg_test_1")
    m.cgroup("memcg_test_0/memcg_test_2")
    sibling = m.spawn(comm="sib", cgroup="memcg_test_0/memcg_test_2")
    hog = m.spawn(comm="hog", cgroup="memcg_test_0/memcg_test_1")
    with pytest.raises(Killed):
        alloc_anon(hog, 100 * MB)
    m.run(5)
    assert not sibling.alive
    assert events(parent)["oom_group_kill"] == 1

    m.cgroup("memcg_test_0/memcg_test_3").write("memory.max", "20M")
    bystander = m.spawn(comm="by", cgroup="memcg_test_0/memcg_test_2")
    hog = m.spawn(comm="hog", cgroup="memcg_test_0/memcg_test_3")
    with pytest.raises(Killed):
        alloc_anon(hog, 40 * MB)
    m.run(5)
    assert bystander.alive and events(parent)["oom_group_kill"] == 1


# ---- the per-memcg lruvec ---------------------------------------------------------------------------
def lru_folios(a, memcg: int, lru: int, nid: int = 0) -> list[int]:
    out, pfn = [], int(a.lruvec_head[memcg, nid, lru])
    while pfn:
        out.append(pfn - 1)
        pfn = int(a.lru_next[pfn - 1])
    return out


def test_mem_cgroup_lruvec_holds_the_memcgs_folios():
    """A cgroup's anonymous folios are on its own lruvec (``mem_cgroup_lruvec``), a process's
    outside any cgroup on the root memcg's, which is the node's; memory.stat's inactive_anon
    is the pages listed; a moved process's old folios stay on the old memcg's lists, and a
    removed (dying) memcg that still holds pages is still visited by ``mem_cgroup_iter``."""
    m = small_machine()
    k, a = m.kernel, m.kernel.mem_map
    cg = m.cgroup("lv/a")
    memcg = k.cgrp_dfl_root.children["lv"].children["a"].memcg
    assert MC.mem_cgroup_lruvec(memcg, k.NODE_DATA(0)) is memcg.nodeinfo[0]
    assert MC.mem_cgroup_lruvec(k.cgrp_dfl_root.memcg, k.NODE_DATA(0)) is k.NODE_DATA(0).lruvec
    p, other = m.spawn(cgroup="lv/a"), m.spawn()
    alloc_anon(p, 8 * MB)
    alloc_anon(other, 4 * MB)
    lru_add_drain_all(k)
    mine = lru_folios(a, memcg.id, LRU_INACTIVE_ANON)
    assert sum(1 << int(a.order[f]) for f in mine) == 2048 and set(a.memcg[mine]) == {memcg.id}
    assert stat(cg)["inactive_anon"] == 8 * MB
    assert not set(mine) & set(lru_folios(a, ROOT_MEM_CGROUP_ID, LRU_INACTIVE_ANON))
    assert debug.check(m) == []
    m.cgroup("lv/b").write("cgroup.procs", p.pid)
    cg.rmdir()
    assert not memcg.online and memcg in list(MC.mem_cgroup_iter(k, None))
    assert lru_folios(a, memcg.id, LRU_INACTIVE_ANON) == mine
    assert debug.check(m) == []
    pfn = mine[0]
    a.memcg[pfn] = ROOT_MEM_CGROUP_ID  # listed on the memcg's lruvec but now says the root's
    assert any(f"memcg {memcg.id} node 0 LRU list {LRU_INACTIVE_ANON}: pfn {pfn:#x}" in v and "does not belong" in v
               for v in debug.check(m))
    a.memcg[pfn] = memcg.id
    p.exit()
    assert debug.check(m) == []


# ---- swap -----------------------------------------------------------------------------------------
def test_memcg_512m_writing_1g_is_killed_without_swap_and_swaps_with_it():
    """The issue's check: a process in a 512 MiB cgroup writing 1 GiB of anonymous memory is
    killed by its memcg's OOM killer when there is no swap (another process's data untouched);
    with swap (zram) and memory.swap.max 768M it swaps instead (memory.swap.current is the rest); with
    memory.swap.max 256M it swaps that much, then is killed (memory.swap.events max)."""
    m = Machine(cmdline="mem=2G")
    other = m.spawn(comm="other")
    keep = alloc_anon(other, 64 * MB, value=42)
    cg = m.cgroup("box")
    cg.write("memory.max", "512M")
    p = m.spawn(comm="big", cgroup="box")
    with pytest.raises(Killed):
        alloc_anon(p, 1 << 30)
    assert events(cg)["oom_kill"] == 1 and other.alive and set(other.read(keep, 64 * MB)) == {42}
    assert debug.check(m) == []

    m.swapon("1G", kind="zram")  # (a disk: test_memcg_swaps_to_a_disk_instead_of_being_killed)
    swapped = m.cgroup("swapped")
    swapped.write("memory.max", "512M")
    swapped.write("memory.swap.max", "768M")
    p = m.spawn(comm="big", cgroup="swapped")
    addr = alloc_anon(p, 1 << 30)
    current, swap = int(swapped.read("memory.current")), int(swapped.read("memory.swap.current"))
    assert p.alive and current <= 512 * MB and current + swap >= 1 << 30
    assert events(swapped)["oom"] == 0 and int(swapped.read("memory.swap.peak")) == swap
    assert debug.check(m) == []
    assert set(p.read(addr, 4 * MB)) == {1}  # swapped back in, charged again
    assert debug.check(m) == []
    p.exit()
    assert int(swapped.read("memory.swap.current")) == 0 and int(swapped.read("memory.current")) == 0

    capped = m.cgroup("capped")
    capped.write("memory.max", "512M")
    capped.write("memory.swap.max", "256M")
    p = m.spawn(comm="big", cgroup="capped")
    with pytest.raises(Killed):
        alloc_anon(p, 1 << 30)
    swap_events = dict(line.split() for line in capped.read("memory.swap.events").splitlines())
    assert int(swap_events["max"]) > 0 and int(capped.read("memory.swap.peak")) == 256 * MB
    assert other.alive and debug.check(m) == []


# ---- memory.high ------------------------------------------------------------------------------------
def test_calculate_high_delay_matches_the_kernel_table(monkeypatch):
    """The kernel's comment table (mm/memcontrol.c, in jiffies of HZ=1000): memory.high 100M,
    a full charge batch at usage 101M costs 6 ms, 102M 25 ms, 110M 639 ms, 117M 1849 ms."""
    monkeypatch.setattr(MC, "HZ", 1000)
    high = (100 * MB) >> 12
    for usage_mb, ms in ((101, 6), (102, 25), (110, 639), (117, 1849)):
        overage = MC.calculate_overage((usage_mb * MB) >> 12, high)
        assert MC.calculate_high_delay(MC.MEMCG_CHARGE_BATCH, overage) == ms


def test_memcg_high_throttles_without_killing():
    """Over memory.high (no reclaim yet to bring it back), a writer is slowed on the clock by
    the penalty, counts high events, and lives; without memory.high it is not slowed."""
    def run(high: str | None) -> tuple[float, object, object]:
        m = small_machine()
        cg = m.cgroup("memcg_test")
        if high:
            cg.write("memory.high", high)
        p = m.spawn(cgroup="memcg_test")
        t0 = m.now
        alloc_anon(p, 48 * MB)
        return m.now - t0, p, cg

    free_time, _, _ = run(None)
    slow_time, p, cg = run("32M")
    assert p.alive and int(cg.read("memory.current")) == 48 * MB + stat(cg)["pagetables"]
    assert slow_time > free_time + 1.0  # seconds of penalty sleeps
    assert events(cg)["high"] > 0 and events(cg)["oom"] == 0


# ---- protection -------------------------------------------------------------------------------------
def test_effective_protection_shares_the_parents():
    """memory.min: two children claiming more than the parent's effective protection share
    it in proportion to their protected usage."""
    m = small_machine()
    parent = m.cgroup("prot")
    parent.write("memory.min", "20M")
    a_cg, b_cg = m.cgroup("prot/a"), m.cgroup("prot/b")
    a_cg.write("memory.min", "30M")
    b_cg.write("memory.min", "10M")
    pa, pb = m.spawn(cgroup="prot/a"), m.spawn(cgroup="prot/b")
    alloc_anon(pa, 20 * MB)
    alloc_anon(pb, 20 * MB)
    k = m.kernel
    memcg = {name: k.cgrp_dfl_root.children["prot"].children[name].memcg for name in "ab"}
    assert MC.mem_cgroup_calculate_protection(k, None, k.cgrp_dfl_root.children["prot"].memcg)[0] == (20 * MB) >> 12
    emin_a = MC.mem_cgroup_calculate_protection(k, None, memcg["a"])[0]
    emin_b = MC.mem_cgroup_calculate_protection(k, None, memcg["b"])[0]
    # protected usage a: min(usage, 30M) = its 20M and page tables, b: min(usage, 10M) = 10M;
    # together more than the parent's 20M: shared in proportion
    used_a = MC.page_counter_read(k, memcg["a"])
    assert 20 * MB >> 12 < used_a < 30 * MB >> 12
    assert emin_a == used_a * (20 * MB >> 12) // (used_a + (10 * MB >> 12))
    assert emin_b == (10 * MB >> 12) * (20 * MB >> 12) // (used_a + (10 * MB >> 12))


def test_memory_reclaim_asks_in_quarters():
    """user_proactive_reclaim (6.9+): each round asks for a quarter of what is left (reclaim
    takes at least SWAP_CLUSTER_MAX); with nothing to reclaim, EAGAIN after the retries."""
    m = small_machine()
    cg = m.cgroup("t_reclaim")
    calls = []
    hooks = m.kernel.memcg_hooks
    real = hooks.try_to_free_mem_cgroup_pages
    hooks.try_to_free_mem_cgroup_pages = lambda k, memcg, nr, gfp, opts: calls.append(nr) or max(nr, MC.SWAP_CLUSTER_MAX)
    try:
        cg.write("memory.reclaim", "1M")
    finally:
        hooks.try_to_free_mem_cgroup_pages = real
    assert calls == [64, 48, 36, 27, 19, 11, 3]
    with pytest.raises(KernelError, match="EAGAIN"):  # an empty cgroup: nothing to reclaim
        cg.write("memory.reclaim", "1M")
    with pytest.raises(KernelError, match="EINVAL"):
        cg.write("memory.reclaim", "1M nonsense=1")


# ---- page-cache and shmem charges, memcg reclaim -----------------------------------------------------
def read_new_pagecache(p, path: str, size: int, start: int = 0) -> None:
    """The selftests' alloc_pagecache: extend the file from ``start`` by ``size`` and read the
    new part (a hole: clean page cache charged to the reader's memcg)."""
    fd = p.open(path, "rw", create=True)
    p.ftruncate(fd, start + size)
    p.pread(fd, size, offset=start)
    p.close(fd)


def test_page_cache_and_shmem_charged_to_the_writer():
    """Page-cache and tmpfs folios a process adds are charged to its memcg (memory.current,
    memory.stat file/shmem/file_dirty/inactive_file), uncharged when they leave the cache;
    the counters of memory.stat follow writeback."""
    m = small_machine()
    cg = m.cgroup("pc")
    p = m.spawn(cgroup="pc")
    fd = p.open("/f", "rw", create=True)
    p.pwrite(fd, 16 * MB, chunk=4096)
    st = stat(cg)
    assert int(cg.read("memory.current")) == 16 * MB + st["pagetables"]
    assert st["file"] == st["file_dirty"] == 16 * MB and st["anon"] == 0 and st["shmem"] == 0
    lru_add_drain_all(m.kernel)
    assert stat(cg)["inactive_file"] + stat(cg)["active_file"] == 16 * MB
    p.fsync(fd)
    st = stat(cg)
    assert st["file_dirty"] == st["file_writeback"] == 0 and st["file"] == 16 * MB
    shm = p.open("/dev/shm/s", "rw", create=True)
    p.pwrite(shm, 4 * MB)
    st = stat(cg)
    assert st["shmem"] == 4 * MB and st["file"] == 20 * MB
    assert int(cg.read("memory.current")) == 20 * MB + st["pagetables"]
    assert debug.check(m) == []
    p.ftruncate(fd, 0)
    assert int(cg.read("memory.current")) == 4 * MB + stat(cg)["pagetables"] and stat(cg)["file"] == 4 * MB
    p.close(shm)
    m.unlink("/dev/shm/s")
    lru_add_drain_all(m.kernel)  # the last folios' batch reference goes when the batch drains
    assert stat(cg)["file"] == 0
    assert debug.check(m) == []


def test_memory_max_reclaims_page_cache_instead_of_killing():
    """A reader in a 32 MiB cgroup reads 96 MiB of file: memcg reclaim drops its clean page
    cache at the limit (max events), nobody is killed, the usage stays within memory.max."""
    m = small_machine()
    cg = m.cgroup("reader")
    cg.write("memory.max", "32M")
    p = m.spawn(cgroup="reader")
    read_new_pagecache(p, "/big", 96 * MB)
    assert p.alive and int(cg.read("memory.current")) <= 32 * MB
    ev = events(cg)
    assert ev["max"] > 0 and ev["oom"] == 0 and ev["oom_kill"] == 0
    assert debug.check(m) == []


def test_memory_reclaim_reclaims_page_cache():
    """memory.reclaim drops the cgroup's clean page cache by at least what was asked; when only
    anonymous memory is left (no swap) it fails with EAGAIN."""
    m = small_machine()
    cg = m.cgroup("pr")
    p = m.spawn(cgroup="pr")
    read_new_pagecache(p, "/f", 32 * MB)
    alloc_anon(p, 8 * MB)
    before = int(cg.read("memory.current"))
    cg.write("memory.reclaim", "16M")
    assert before - int(cg.read("memory.current")) >= 16 * MB
    with pytest.raises(KernelError, match="EAGAIN"):
        cg.write("memory.reclaim", "32M")
    assert int(cg.read("memory.current")) == 8 * MB + stat(cg)["pagetables"]  # the anon stays: no swap
    assert debug.check(m) == []


def values_close(a: int, b: int, err: int) -> bool:
    """The selftests' values_close: within ``err`` percent of the sum."""
    return abs(a - b) <= (a + b) / 100 * err


@pytest.mark.parametrize("attribute", ["memory.low", "memory.min"])
def test_memcg_protection(attribute):
    """test_memcg_low / test_memcg_min: A (memory.max 200M) has B (50M protected) with C, D,
    E, F protected 75M, 25M, 0, 500M; C, D, E read 50 MiB of page cache each; A/G then
    allocates 148 MiB of anon, so 98 MiB must be reclaimed within A: B keeps ~50M, C ~29M,
    D ~21M (the effective protections as usage shrinks), F 0, nobody OOMs; low events in C
    and D only. Then 170 MiB in G: memory.low gives way (B ~30M), memory.min does not (G is
    OOM-killed). Finally memory.reclaim on C reclaims below its own protection (to 10M)."""
    m = small_machine()
    low = attribute == "memory.low"
    a = m.cgroup("memcg_test_0")
    a.write("memory.max", "200M")
    a.write("memory.swap.max", "0")
    b = m.cgroup("memcg_test_0/memcg_test_1")
    b.write(attribute, "50M")
    m.cgroup("memcg_test_0/memcg_test_2")
    children = [m.cgroup(f"memcg_test_0/memcg_test_1/child_memcg{i}") for i in range(4)]
    for child, prot in zip(children, ("75M", "25M", "0", "500M")):
        child.write(attribute, prot)
    procs = [m.spawn(cgroup=child.path) for child in children[:3]]  # F has no process, as in the selftest
    for i, p in enumerate(procs):
        read_new_pagecache(p, "/memcg_test_file", 50 * MB, start=i * 50 * MB)
    assert values_close(int(b.read("memory.current")), 150 * MB, 3)
    hog = m.spawn(cgroup="memcg_test_0/memcg_test_2")
    alloc_anon(hog, 148 * MB)
    hog.exit()
    assert values_close(int(b.read("memory.current")), 50 * MB, 3)
    c = [int(child.read("memory.current")) for child in children]
    assert values_close(c[0], 29 * MB, 15), c
    assert values_close(c[1], 21 * MB, 20), c
    assert c[3] == 0
    hog = m.spawn(cgroup="memcg_test_0/memcg_test_2")
    if low:
        alloc_anon(hog, 170 * MB)
        hog.exit()
    else:
        with pytest.raises(Killed):
            alloc_anon(hog, 170 * MB)
    # the selftest's tolerance since its page-size scaling patch (pscale_factor 1 for 4 KiB pages)
    assert values_close(int(b.read("memory.current")), (30 if low else 50) * MB, 9 + (6 if low else 0))
    goal = 10 * MB
    for _ in range(5):  # the selftests' reclaim_until
        current = int(children[0].read("memory.current"))
        if values_close(current, goal, 3) or current <= goal:
            break
        children[0].write("memory.reclaim", str(current - goal))
    assert int(children[0].read("memory.current")) <= goal * 103 // 100
    if low:
        for i, child in enumerate(children):
            ev = events(child)
            assert ev["oom"] == 0
            assert (ev["low"] > 0) if i <= 1 else (ev["low"] == 0), (i, ev)
    assert debug.check(m) == []


def test_memory_low_protects_a_sibling_under_global_pressure():
    """Two cgroups with 64 MiB of page cache each, one with memory.low 65M: a process outside
    both allocating more than is free makes the machine reclaim; the unprotected cgroup's
    cache goes, the protected one keeps all of its (no low event: it was never needed)."""
    m = small_machine()
    prot, bare = m.cgroup("prot"), m.cgroup("bare")
    prot.write("memory.low", "65M")  # its 64 MiB of page cache and the reader's page tables
    for path in ("prot", "bare"):
        read_new_pagecache(m.spawn(cgroup=path), f"/{path}.data", 64 * MB)
    free = int(next(line.split()[1] for line in m.proc("meminfo").splitlines() if line.startswith("MemFree:")))
    hog = m.spawn(comm="hog")
    alloc_anon(hog, free * 1024 + 32 * MB)
    assert hog.alive
    assert stat(prot)["file"] == 64 * MB
    assert int(bare.read("memory.current")) < 64 * MB - 32 * MB
    assert events(prot)["low"] == 0
    assert debug.check(m) == []


# ---- debug.check ------------------------------------------------------------------------------------
def test_debug_check_catches_a_wrong_charge():
    m = small_machine()
    m.cgroup("dbg")
    p = m.spawn(cgroup="dbg")
    alloc_anon(p, 4 * MB)
    a = m.kernel.mem_map
    pfn = int(np.nonzero(a.memcg)[0][0])
    memcg = int(a.memcg[pfn])
    a.memcg[pfn] = 0
    assert any("memory.current" in v for v in debug.check(m))
    a.memcg[pfn] = 999  # an id no cgroup has
    assert any("an id no cgroup has" in v for v in debug.check(m))
    a.memcg[pfn] = memcg
    assert debug.check(m) == []


# ---- memory.stat: the memcg's own vm events and state ----------------------------------------------
EVENT_KEYS = ("pgscan_direct", "pgsteal_direct", "pswpin", "pswpout", "pgrefill", "pgactivate", "pgdeactivate",
              "workingset_refault_anon")


def vmstat(m) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in m.proc("vmstat").splitlines())}


def test_memory_stat_counts_the_memcgs_vm_events_and_state():
    """memory.stat's vm events are counted in the memcg where the global counters are
    (``count_memcg_events``) and summed up the tree: a process alone in par/child, its file
    mapped (file_mapped), then its anonymous memory squeezed through zram by memory.max and
    read back: its faults are its mm's, its reclaim and swap events are all the machine's, its
    parent shows the same, a sibling nothing; ``kernel`` holds its page tables."""
    m = small_machine()
    m.swapon("256M", kind="zram")
    par, cg, sib = m.cgroup("par"), m.cgroup("par/child"), m.cgroup("sib")
    p = m.spawn(cgroup="par/child")
    fd = p.open("/f", "rw", create=True)
    p.pwrite(fd, 8 * MB, chunk=1 << 20)
    fa = p.mmap(8 * MB, fd=fd, prot="r", flags="shared")
    p.read(fa, 8 * MB)
    assert stat(cg)["file_mapped"] == 8 * MB and stat(par)["file_mapped"] == 8 * MB
    p.munmap(fa, 8 * MB)
    assert stat(cg)["file_mapped"] == 0
    before = vmstat(m)
    cg.write("memory.max", "32M")
    a = alloc_anon(p, 48 * MB, value=5)
    assert set(p.read(a, 16 * MB)) == {5}
    st, vm = stat(cg), vmstat(m)
    assert st["pgfault"] == p.minflt + p.majflt and st["pgmajfault"] == p.majflt > 0
    assert {key: st[key] for key in EVENT_KEYS} == {key: vm[key] - before[key] for key in EVENT_KEYS}
    assert st["pgsteal"] == st["pgsteal_direct"] > 0 and st["pgscan"] == st["pgscan_direct"] >= st["pgsteal"]
    assert st["pswpin"] > 0 and st["workingset_refault_anon"] > 0
    assert st["kernel"] == st["pagetables"] > 0
    assert stat(par) == st
    assert not any(stat(sib).values())
    assert debug.check(m) == []


# ---- dirty throttling in the memcg domain ---------------------------------------------------------
def test_a_cgroup_writing_past_memory_max_is_throttled_not_killed():
    """A process in a 64 MiB cgroup writes 256 MiB to a file (1 MiB writes): the memcg's
    writeback domain throttles it to the disk's pace (``balance_dirty_pages`` with the memcg's
    thresholds, a fifth of its 64 MiB), the flusher writes its pages back and memcg reclaim
    drops the clean ones: nobody is killed, memory.current stays within memory.max, the dirty
    pages stay near the memcg's threshold, and after fsync the data is on the disk (read back
    after the page cache was dropped)."""
    m = small_machine()
    cg = m.cgroup("writer")
    cg.write("memory.max", "64M")
    p = m.spawn(cgroup="writer")
    fd = p.open("/f", "rw", create=True)
    most_dirty = 0
    for i in range(256):
        p.pwrite(fd, MB, offset=i * MB, chunk=MB, value=1 + i % 200)
        most_dirty = max(most_dirty, stat(cg)["file_dirty"] + stat(cg)["file_writeback"])
    p.fsync(fd)
    ev = events(cg)
    assert p.alive and ev["oom"] == ev["oom_kill"] == 0 and ev["max"] > 0
    assert int(cg.read("memory.peak")) <= 64 * MB
    assert most_dirty <= 64 * MB * 25 // 100  # the memcg's dirty limit: 20% of what it may use (+ slack)
    assert debug.check(m) == []
    m.proc("sys/vm/drop_caches", 1)
    for i in (0, 100, 255):
        assert set(p.pread(fd, MB, offset=i * MB)) == {1 + i % 200}


# ---- memory.swap.high -------------------------------------------------------------------------------
def test_memory_swap_high_throttles_a_swapping_cgroup_without_killing():
    """A process in a 32 MiB cgroup writes 64 MiB with zram swap: with memory.swap.high 8M its
    swap grows past it and the process is throttled on the clock (the swap overage's penalty
    in ``mem_cgroup_handle_over_high``; memory.swap.events ``high``), never killed; without it
    the same writes take no penalty. Half way to swap.high the memcg's swap counts as full
    (``mem_cgroup_swap_full``)."""
    def run(swap_high: str | None) -> tuple[float, object, object]:
        m = small_machine()
        m.swapon("256M", kind="zram")
        cg = m.cgroup("sh")
        cg.write("memory.max", "32M")
        if swap_high:
            cg.write("memory.swap.high", swap_high)
        p = m.spawn(cgroup="sh")
        t0 = m.now
        alloc_anon(p, 64 * MB)
        return m.now - t0, p, cg

    free_time, _, cg = run(None)
    assert cg.read("memory.swap.high") == "max\n"
    slow_time, p, cg = run("8M")
    swap_events = dict(line.split() for line in cg.read("memory.swap.events").splitlines())
    assert p.alive and int(cg.read("memory.swap.current")) > 8 * MB and int(swap_events["high"]) > 0
    assert slow_time > free_time + 1.0 and events(cg)["oom"] == 0
    assert cg.read("memory.swap.high") == f"{8 * MB}\n"


def test_memcg_swaps_to_a_disk_instead_of_being_killed():
    """The issue's check with a disk for swap (not zram): a process in a 128 MiB cgroup with
    memory.swap.max 288M writes 384 MiB (256 MiB must go to swap). Memcg reclaim queues its swap writes no faster than
    the disk takes them (the reclaimer sleeps for a request tag, on the clock), so the slots
    of writes in flight stay few and it swaps instead of running into swap.max and a memcg
    OOM; the data reads back."""
    m = Machine(cmdline="mem=1G")
    m.swapon("1G")
    cg = m.cgroup("disk")
    cg.write("memory.max", "128M")
    cg.write("memory.swap.max", "288M")
    p = m.spawn(comm="big", cgroup="disk")
    addr = alloc_anon(p, 384 * MB, value=3)
    current, swap = int(cg.read("memory.current")), int(cg.read("memory.swap.current"))
    assert p.alive and events(cg)["oom"] == 0 and current <= 128 * MB and current + swap >= 384 * MB
    assert int(cg.read("memory.swap.peak")) < 288 * MB
    assert set(p.read(addr, 8 * MB)) == {3}
    assert debug.check(m) == []
