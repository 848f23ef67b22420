"""``tools/testing/selftests/cgroup/test_memcontrol.c``, Linux 6.18, ported: the memory
controller's tests of its ``tests[]`` table that the simulated memcg carries.

Each test builds cgroups under the root of the cgroup v2 hierarchy, runs processes in them
and checks ``memory.current``, ``memory.peak``, ``memory.stat`` and ``memory.events``. The
helpers of ``cgroup_util.c`` are here, taking the same steps through ``m.cgroup()`` and the
``Process`` API: ``cg_run`` forks a child into a cgroup, runs a function in it and reaps it
(a child the OOM killer took reports failure, as its exit status would);
``cg_run_nowait`` leaves the child running; ``get_temp_fd`` opens an unnamed ext4 file
(created at ``/memcg-tmpfile`` and unlinked, for ``open(".", O_TMPFILE)``);
``alloc_pagecache`` grows it with ``ftruncate`` and reads it page by page; ``cg_destroy``
kills what is left in a cgroup and removes it. ``cg_test_proc_killed`` polls every 100 ms
of the simulated clock, so the OOM reaper gets to finish the victims.

Waiting (their TAP line is a skip naming what is missing): ``test_memcg_max`` (after its
children exit it wants memory.current above 0: the kernel's leaves their kernel memory,
slab objects such as the temporary file's inode and dentry, charged; only pages are charged
here, so it reads 0), ``test_memcg_subtree_control`` (cgroup.controllers lists memory in every cgroup here: the
controller cannot be left disabled), ``test_memcg_current_peak`` and
``test_memcg_swap_max_peak`` (memory.peak opened as a file: the per-descriptor reset of
6.12+), ``test_memcg_sock`` (sockets), ``test_memcg_high_sync`` (an event to wait on,
``memcg_prepare_for_wait``: inotify on memory.events). The machine has no swap, so the
swap case would skip anyway (``is_swap_enabled``).
"""

from __future__ import annotations

from ..errors import KernelError, Killed
from .ksft import Ksft

SOURCE = "tools/testing/selftests/cgroup/test_memcontrol.c"
FIXTURE = None
PAGE_SIZE = 4096
KSFT_PASS, KSFT_FAIL, KSFT_SKIP = 0, 1, 4
OOM_SCORE_ADJ_MIN = -1000
TMPFILE = "/memcg-tmpfile"


def MB(x: int) -> int:
    return x << 20


def values_close(a: int, b: int, err: int) -> bool:
    """``values_close``: |a - b| within ``err`` percent of their sum."""
    return abs(a - b) <= (a + b) // 100 * err


class CgroupUtil:
    """``cgroup_util.c`` for one test program: its process, the machine's cgroups."""

    def __init__(self, t: Ksft):
        self.t, self.m, self.p = t, t.machine, t.process
        self.sleepers: list = []  # the cg_run_nowait children, in their sleep(1) loop

    # ---- files ----
    def cg_create(self, cg: str) -> int:
        self.m.cgroup(cg)
        return 0

    def cg_read(self, cg: str, name: str) -> str:
        return self.m.cgroup(cg).read(name)

    def cg_read_long(self, cg: str, name: str) -> int:
        return int(self.cg_read(cg, name).split()[0])

    def cg_read_key_long(self, cg: str, name: str, key: str) -> int:
        for line in self.cg_read(cg, name).splitlines():
            if line.startswith(key):
                return int(line[len(key):])
        return -1

    def cg_read_strcmp(self, cg: str, name: str, expected: str) -> int:
        return 0 if self.cg_read(cg, name) == expected else 1

    def cg_read_strstr(self, cg: str, name: str, needle: str) -> int:
        return 0 if needle in self.cg_read(cg, name) else -1

    def cg_write(self, cg: str, name: str, value: str) -> int:
        try:
            self.m.cgroup(cg).write(name, value)
        except KernelError as err:
            return -err.errno
        return 0

    def cg_destroy(self, cg: str) -> None:
        """rmdir; while it is busy, SIGKILL what runs in it (``cg_killall``) and retry."""
        handle = self.m.cgroup(cg)
        for pid in handle.procs:
            proc = next(q for q in self.m.processes() if q.pid == pid)
            proc.kill("SIGKILL")
            proc.wait()
        handle.rmdir()

    # ---- processes ----
    def _spawn_in(self, cg: str):
        child = self.p.fork()
        self.m.cgroup(cg).write("cgroup.procs", child.pid)
        return child

    def cg_run(self, cg: str, fn, arg=None) -> int:
        """A child in ``cg`` runs ``fn``; its exit status (a signal death is non-zero)."""
        child = self._spawn_in(cg)
        try:
            status = fn(self, cg, arg, child)
        except Killed:
            return 128 + 9
        child.exit()
        return 0 if status == 0 else 1

    def cg_run_nowait(self, cg: str, fn, arg=None):
        """A child in ``cg`` that runs ``fn`` and then stays (the ``*_noexit`` functions)."""
        child = self._spawn_in(cg)
        try:
            fn(self, cg, arg, child)
        except Killed:
            pass
        self.sleepers.append(child)
        return child

    def sleepers_wake(self) -> None:
        """Each waiting child's ``sleep(1)`` returns (a fatal signal ends it at once) and the
        loop's next syscall (``getppid``; ``brk(0)`` here, a call that changes nothing) takes
        a pending SIGKILL: a killed child exits, as a killed sleeper does."""
        for child in self.sleepers:
            try:
                child.brk()
            except (Killed, KernelError):  # killed now, or exited before (ESRCH)
                pass

    def get_temp_fd(self) -> int:
        fd = self.p.open(TMPFILE, "rw", create=True, truncate=True)
        self.m.unlink(TMPFILE)
        return fd

    def cg_test_proc_killed(self, cg: str) -> int:
        for _ in range(10):
            if self.cg_read_strcmp(cg, "cgroup.procs", "") == 0:
                return 0
            self.m.run(0.1)  # usleep(100000), while the children sleep and wake
            self.sleepers_wake()
        return -1


def alloc_anon(u: CgroupUtil, cg: str, size: int, child) -> int:
    """malloc, touch every page, free."""
    buf = child.mmap(size)
    child.write(buf, size, stride=PAGE_SIZE, value=0)
    child.munmap(buf, size)
    return 0


def alloc_anon_noexit(u: CgroupUtil, cg: str, size: int, child) -> int:
    buf = child.mmap(size)
    child.write(buf, size, stride=PAGE_SIZE, value=0)
    return 0


def alloc_pagecache(child, fd: int, size: int) -> None:
    """Grow the file by ``size`` and read it in, page by page, from the shared position."""
    size += child.task.files.fdt[fd].size  # fstat(fd).st_size
    child.ftruncate(fd, size)
    child.pread(fd, size, chunk=PAGE_SIZE)


def alloc_pagecache_50M_noexit(u: CgroupUtil, cg: str, fd: int, child) -> int:
    alloc_pagecache(child, fd, MB(50))
    return 0


def alloc_anon_50M_check(u: CgroupUtil, cg: str, arg, child) -> int:
    size = MB(50)
    buf = child.mmap(size)
    child.write(buf, size, stride=PAGE_SIZE, value=0)
    current = u.cg_read_long(cg, "memory.current")
    anon = u.cg_read_key_long(cg, "memory.stat", "anon ")
    ok = current >= size and values_close(size, current, 3) and anon >= 0 and values_close(anon, current, 3)
    child.munmap(buf, size)
    return 0 if ok else -1


def alloc_pagecache_50M_check(u: CgroupUtil, cg: str, arg, child) -> int:
    size = MB(50)
    fd = child.open(TMPFILE, "rw", create=True, truncate=True)
    u.m.unlink(TMPFILE)
    alloc_pagecache(child, fd, size)
    current = u.cg_read_long(cg, "memory.current")
    file = u.cg_read_key_long(cg, "memory.stat", "file ")
    child.close(fd)
    return 0 if current >= size and file >= 0 and values_close(file, current, 10) else -1


def alloc_pagecache_max_30M(u: CgroupUtil, cg: str, arg, child) -> int:
    high, max_ = u.cg_read_long_or_max(cg, "memory.high"), u.cg_read_long_or_max(cg, "memory.max")
    if high != MB(30) and max_ != MB(30):
        return -1
    fd = child.open(TMPFILE, "rw", create=True, truncate=True)
    u.m.unlink(TMPFILE)
    alloc_pagecache(child, fd, MB(50))
    current = u.cg_read_long(cg, "memory.current")
    child.close(fd)
    return 0 if values_close(current, MB(30), 5) else -1


def _read_long_or_max(self, cg: str, name: str) -> int:
    """``cg_read_long`` of a file that may say ``max`` (strtol reads it as 0)."""
    text = self.cg_read(cg, name).split()[0]
    return int(text) if text.isdigit() else 0


CgroupUtil.cg_read_long_or_max = _read_long_or_max


def reclaim_until(u: CgroupUtil, cg: str, goal: int) -> bool:
    """Write memory.reclaim until memory.current reaches ``goal``; False if its errnos are
    not sane (0 while usage stays above the goal, or anything but EAGAIN)."""
    reclaimed = False
    for _ in range(5):
        current = u.cg_read_long(cg, "memory.current")
        if current < goal or values_close(current, goal, 3):
            break
        if reclaimed:
            return False
        err = u.cg_write(cg, "memory.reclaim", str(current - goal))
        if not err:
            reclaimed = True
        elif err != -11:  # -EAGAIN
            return False
    return reclaimed


# ---- the tests ----------------------------------------------------------------------------------

def memcg_protection(u: CgroupUtil, root: str, min_: bool) -> int:
    """A/B/{C,D,E,F} with memory.min (or low) 75M/25M/0/500M under B's 50M, 50M of page cache
    in C, D and E, then pressure from A/G: B keeps ~50M, split ~29M/~21M/0/0."""
    attribute = "memory.min" if min_ else "memory.low"
    fd = u.get_temp_fd()
    parent = [f"{root}memcg_test_0", f"{root}memcg_test_0/memcg_test_1", f"{root}memcg_test_0/memcg_test_2"]
    u.cg_create(parent[0])
    if u.cg_read_long(parent[0], attribute):
        return KSFT_SKIP if min_ else KSFT_FAIL
    if (u.cg_write(parent[0], "cgroup.subtree_control", "+memory") or u.cg_write(parent[0], "memory.max", "200M")
            or u.cg_write(parent[0], "memory.swap.max", "0")):
        return KSFT_FAIL
    u.cg_create(parent[1])
    if u.cg_write(parent[1], "cgroup.subtree_control", "+memory"):
        return KSFT_FAIL
    u.cg_create(parent[2])
    children = [f"{parent[1]}/child_memcg_{i}" for i in range(4)]
    for i, cg in enumerate(children):
        u.cg_create(cg)
        if i <= 2:
            u.cg_run_nowait(cg, alloc_pagecache_50M_noexit, fd)
    for cg, value in zip([parent[1]] + children, ("50M", "75M", "25M", "0", "500M")):
        if u.cg_write(cg, attribute, value):
            return KSFT_FAIL
    if u.cg_run(parent[2], alloc_anon, MB(148)):
        return KSFT_FAIL
    if not values_close(u.cg_read_long(parent[1], "memory.current"), MB(50), 3):
        return KSFT_FAIL
    c = [u.cg_read_long(cg, "memory.current") for cg in children]
    if not values_close(c[0], MB(29), 15) or not values_close(c[1], MB(21), 20) or c[3] != 0:
        return KSFT_FAIL
    rc = u.cg_run(parent[2], alloc_anon, MB(170))
    if min_ and not rc or not min_ and rc:
        return KSFT_FAIL
    if not values_close(u.cg_read_long(parent[1], "memory.current"), MB(50) if min_ else MB(30), 3):
        return KSFT_FAIL
    if not reclaim_until(u, children[0], MB(10)):
        return KSFT_FAIL
    if min_:
        return KSFT_PASS
    for i, cg in enumerate(children):  # no memory_recursiveprot: child 2 must see no low event
        oom = u.cg_read_key_long(cg, "memory.events", "oom ")
        low = u.cg_read_key_long(cg, "memory.events", "low ")
        if oom or i <= 1 and low <= 0 or i > 1 and low:
            return KSFT_FAIL
    return KSFT_PASS


def memcg_min(u: CgroupUtil, root: str) -> int:
    return memcg_protection(u, root, True)


def memcg_low(u: CgroupUtil, root: str) -> int:
    return memcg_protection(u, root, False)


def memcg_high(u: CgroupUtil, root: str) -> int:
    """memory.high 30M holds anon and page cache near 30M, counting high events."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_read_strcmp(memcg, "memory.high", "max\n") or u.cg_write(memcg, "memory.swap.max", "0") \
            or u.cg_write(memcg, "memory.high", "30M"):
        return KSFT_FAIL
    if u.cg_run(memcg, alloc_anon, MB(31)):
        return KSFT_FAIL
    if not u.cg_run(memcg, alloc_pagecache_50M_check):
        return KSFT_FAIL
    if u.cg_run(memcg, alloc_pagecache_max_30M):
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "high ") <= 0:
        return KSFT_FAIL
    return KSFT_PASS


def memcg_max(u: CgroupUtil, root: str) -> int:
    """memory.max 30M: 100M of anon gets the child OOM-killed, page cache is reclaimed to fit."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_read_strcmp(memcg, "memory.max", "max\n") or u.cg_write(memcg, "memory.swap.max", "0") \
            or u.cg_write(memcg, "memory.max", "30M"):
        return KSFT_FAIL
    if not u.cg_run(memcg, alloc_anon, MB(100)):  # should be killed by the OOM killer
        return KSFT_FAIL
    if u.cg_run(memcg, alloc_pagecache_max_30M):
        return KSFT_FAIL
    current = u.cg_read_long(memcg, "memory.current")
    if current > MB(30) or not current:
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "max ") <= 0:
        return KSFT_FAIL
    return KSFT_PASS


def memcg_reclaim(u: CgroupUtil, root: str) -> int:
    """memory.reclaim takes 50M of page cache down to 30M (no swap: file only)."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_read_long(memcg, "memory.current") != 0:
        return KSFT_FAIL
    fd = u.get_temp_fd()
    u.cg_run_nowait(memcg, alloc_pagecache_50M_noexit, fd)
    if not values_close(u.cg_read_long(memcg, "memory.current"), MB(50), 10):
        return KSFT_FAIL
    return KSFT_PASS if reclaim_until(u, memcg, MB(30)) else KSFT_FAIL


def memcg_oom_events(u: CgroupUtil, root: str) -> int:
    """An OOM in a 30M memcg: the process is gone, one oom and one oom_kill event."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_write(memcg, "memory.max", "30M") or u.cg_write(memcg, "memory.swap.max", "0"):
        return KSFT_FAIL
    if not u.cg_run(memcg, alloc_anon, MB(100)):
        return KSFT_FAIL
    if u.cg_read_strcmp(memcg, "cgroup.procs", ""):
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "oom ") != 1:
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "oom_kill ") != 1:
        return KSFT_FAIL
    return KSFT_PASS


def memcg_oom_group_leaf_events(u: CgroupUtil, root: str) -> int:
    """memory.oom.group in the leaf: its processes all die, the parent's survive, the parent
    counts the kills (no memory_localevents)."""
    parent, child = root + "memcg_test_0", root + "memcg_test_0/memcg_test_1"
    u.cg_create(parent)
    u.cg_create(child)
    if (u.cg_write(parent, "cgroup.subtree_control", "+memory") or u.cg_write(child, "memory.max", "50M")
            or u.cg_write(child, "memory.swap.max", "0") or u.cg_write(child, "memory.oom.group", "1")):
        return KSFT_FAIL
    u.cg_run_nowait(parent, alloc_anon_noexit, MB(60))
    u.cg_run_nowait(child, alloc_anon_noexit, MB(1))
    u.cg_run_nowait(child, alloc_anon_noexit, MB(1))
    if not u.cg_run(child, alloc_anon, MB(100)):
        return KSFT_FAIL
    if u.cg_test_proc_killed(child):
        return KSFT_FAIL
    if u.cg_read_key_long(child, "memory.events", "oom_kill ") <= 0:
        return KSFT_FAIL
    if u.cg_read_key_long(parent, "memory.events", "oom_kill ") <= 0:
        return KSFT_FAIL
    return KSFT_PASS


def memcg_oom_group_parent_events(u: CgroupUtil, root: str) -> int:
    """memory.oom.group in the parent: an OOM there kills the processes of both levels."""
    parent, child = root + "memcg_test_0", root + "memcg_test_0/memcg_test_1"
    u.cg_create(parent)
    u.cg_create(child)
    if (u.cg_write(parent, "memory.max", "80M") or u.cg_write(parent, "memory.swap.max", "0")
            or u.cg_write(parent, "memory.oom.group", "1")):
        return KSFT_FAIL
    u.cg_run_nowait(parent, alloc_anon_noexit, MB(60))
    u.cg_run_nowait(child, alloc_anon_noexit, MB(1))
    u.cg_run_nowait(child, alloc_anon_noexit, MB(1))
    if not u.cg_run(child, alloc_anon, MB(100)):
        return KSFT_FAIL
    if u.cg_test_proc_killed(child) or u.cg_test_proc_killed(parent):
        return KSFT_FAIL
    return KSFT_PASS


def memcg_oom_group_score_events(u: CgroupUtil, root: str) -> int:
    """memory.oom.group spares OOM_SCORE_ADJ_MIN: three kills, the safe process lives."""
    memcg = root + "memcg_test_0"
    u.cg_create(memcg)
    if (u.cg_write(memcg, "memory.max", "50M") or u.cg_write(memcg, "memory.swap.max", "0")
            or u.cg_write(memcg, "memory.oom.group", "1")):
        return KSFT_FAIL
    safe = u.cg_run_nowait(memcg, alloc_anon_noexit, MB(1))
    safe.oom_score_adj = OOM_SCORE_ADJ_MIN
    u.cg_run_nowait(memcg, alloc_anon_noexit, MB(1))
    if not u.cg_run(memcg, alloc_anon, MB(100)):
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "oom_kill ") != 3:
        return KSFT_FAIL
    if not safe.alive:
        return KSFT_FAIL
    safe.kill("SIGKILL")
    return KSFT_PASS


WAITING = {
    "test_memcg_subtree_control": "cgroup.controllers lists memory in every cgroup (no disabled controller)",
    "test_memcg_max": "slab charged to the memcg (memory.current after the children exit is 0, not their "
                      "leftover kernel memory)",
    "test_memcg_current_peak": "memory.peak opened as a file (per-descriptor reset)",
    "test_memcg_high_sync": "waiting for a memory.events change (inotify)",
    "test_memcg_swap_max_peak": "memory.swap.peak opened as a file (per-descriptor reset)",
    "test_memcg_sock": "sockets",
}
TESTS = ("test_memcg_subtree_control", "test_memcg_current_peak", "test_memcg_min", "test_memcg_low",
         "test_memcg_high", "test_memcg_high_sync", "test_memcg_max", "test_memcg_reclaim", "test_memcg_oom_events",
         "test_memcg_swap_max_peak", "test_memcg_sock", "test_memcg_oom_group_leaf_events",
         "test_memcg_oom_group_parent_events", "test_memcg_oom_group_score_events")


def _setup(t: Ksft) -> CgroupUtil:
    """main(): the memory controller must be available and enabled at the root."""
    u = CgroupUtil(t)
    if u.cg_read_strstr("/", "cgroup.controllers", "memory"):
        t.exit_skip("memory controller isn't available")
    if u.cg_read_strstr("/", "cgroup.subtree_control", "memory") and u.cg_write("/", "cgroup.subtree_control",
                                                                                  "+memory"):
        t.exit_skip("Failed to set memory controller")
    return u


def _case(name: str):
    fn = globals().get(name.removeprefix("test_"))

    def case(t: Ksft) -> None:
        u = _setup(t)
        if name in WAITING:
            t.test_result_skip(f"{name} (not simulated: {WAITING[name]})")
            return
        ret = fn(u, "/")
        if ret == KSFT_SKIP:
            t.test_result_skip(name)
        else:
            t.test_result(ret == KSFT_PASS, name)
    case.__name__ = name
    return case


for _name in TESTS:
    globals()[_name] = _case(_name)
