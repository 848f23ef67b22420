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

``cg_open`` holds a cgroup file open (``Cgroup.open``): ``test_memcg_current_peak`` and
``test_memcg_swap_max_peak`` reset memory.peak per descriptor (6.12+); the latter skips here
as on the development host, which has no swap (``is_swap_enabled``). ``test_memcg_high_sync``
waits for memory.events to change (``memcg_prepare_for_wait``'s inotify watch is an open
memory.events polled here, fed by the same ``kernfs_notify``): the parent's reads and its
cleanup's SIGKILL run when the change is announced, while the child sleeps off its
memory.high penalty in the middle of its mlock. The program runs as root: CAP_IPC_LOCK.

``test_memcg_subtree_control`` creates its cgroups with mkdir(2) (``Cgroup.mkdir``), as every
``cg_create`` here does: a cgroup has the memory controller only where its parent's
``cgroup.subtree_control`` enables it.

Waiting (their TAP line is a skip naming what is missing): ``test_memcg_max`` (after its
children exit it wants memory.current above 0: the kernel's leaves kernel memory charged,
the slab objects the child's temporary file took (its inode, dentry and struct file,
freed after an RCU grace period, and the bytes left in the per-CPU object stock); page
tables, the other kernel memory charged here, are freed with the child's mm, and its kernel
stack was charged before it joined the cgroup), ``test_memcg_sock`` (sockets: TCP over
loopback is not simulated).
"""

from __future__ import annotations

import errno

from ..errors import KernelError, Killed
from .ksft import Ksft

SOURCE = "tools/testing/selftests/cgroup/test_memcontrol.c"
FIXTURE = None
PAGE_SIZE = 4096
KSFT_PASS, KSFT_FAIL, KSFT_SKIP = 0, 1, 4
OOM_SCORE_ADJ_MIN = -1000
TMPFILE = "/memcg-tmpfile"
S_IWUSR = 0o200
RESET_STRING = "reset\n"  # any non-empty string resets a peak file


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
        self.errno = 0  # of the last cg_open that failed

    # ---- files ----
    def cg_create(self, cg: str) -> int:
        """mkdir(2): the cgroup gets the controllers its parent's subtree_control enables."""
        parent, _, name = cg.rpartition("/")
        try:
            self.m.cgroup(parent or "/").mkdir(name)
        except KernelError as err:
            return -err.errno
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

    def cg_open(self, cg: str, name: str):
        """``cg_open``: the file held open (O_RDWR), or None with the errno in ``self.errno``."""
        try:
            return self.m.cgroup(cg).open(name)
        except KernelError as err:
            self.errno = err.errno
            return None

    @staticmethod
    def cg_read_long_fd(f) -> int:
        return int(f.read().split()[0])

    def is_swap_enabled(self) -> bool:
        """SwapTotal of /proc/meminfo above 0."""
        line = next(x for x in self.m.proc("meminfo").splitlines() if x.startswith("SwapTotal:"))
        return int(line.split()[1]) > 0

    def memcg_prepare_for_wait(self, cg: str):
        """An inotify IN_MODIFY watch on the cgroup's memory.events: here the file held open,
        whose poll wakes on the same announcement (``kernfs_notify``)."""
        return self.cg_open(cg, "memory.events")

    @staticmethod
    def cg_wait_for(f, then) -> None:
        """``cg_wait_for``: the parent blocks until memory.events changes, then goes on with
        ``then()``, run at the simulated time of the change (the parent wakes on the other CPU
        while the child that caused it keeps running or sleeps)."""
        f.poll_wait(then)

    def cg_write(self, cg: str, name: str, value: str) -> int:
        try:
            self.m.cgroup(cg).write(name, value)
        except KernelError as err:
            return -err.errno
        return 0

    def cg_killall(self, cg: str) -> list:
        """SIGKILL every process in the cgroup; the processes."""
        procs = [q for q in self.m.processes() if q.pid in self.m.cgroup(cg).procs]
        for proc in procs:
            proc.kill("SIGKILL")
        return procs

    def cg_destroy(self, cg: str) -> None:
        """rmdir; while it is busy, SIGKILL what runs in it (``cg_killall``) and retry."""
        for proc in self.cg_killall(cg):
            proc.wait()
        self.m.cgroup(cg).rmdir()

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


def alloc_anon_mlock(u: CgroupUtil, cg: str, size: int, child) -> int:
    """mmap, mlock (its result unchecked, as in the C helper), munmap."""
    buf = child.mmap(size)
    try:
        child.mlock(buf, size)
    except KernelError:
        pass
    child.munmap(buf, size)
    return 0


def alloc_anon_50M_check_swap(u: CgroupUtil, cg: str, mem_max: int, child) -> int:
    """50M of anon under memory.max: memory.current near the max, the rest in swap."""
    size = MB(50)
    buf = child.mmap(size)
    child.write(buf, size, stride=PAGE_SIZE, value=0)
    mem_current = u.cg_read_long(cg, "memory.current")
    swap_current = u.cg_read_long(cg, "memory.swap.current")
    ok = mem_current and values_close(mem_current, mem_max, 3) and swap_current \
        and values_close(mem_current + swap_current, size, 3)
    child.munmap(buf, size)
    return 0 if ok else -1


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


def memcg_current_peak(u: CgroupUtil, root: str) -> int:
    """memory.current and memory.peak after 50M of anon, then memory.peak opened four times:
    a write resets the peak read through that descriptor only (6.12+), closed out of order."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_read_long(memcg, "memory.current") != 0 or u.cg_read_long(memcg, "memory.peak") != 0:
        return KSFT_FAIL
    if u.cg_run(memcg, alloc_anon_50M_check) or u.cg_read_long(memcg, "memory.peak") < MB(50):
        return KSFT_FAIL
    fds = []
    try:
        peak_fd = u.cg_open(memcg, "memory.peak")
        if peak_fd is None:
            return KSFT_SKIP if u.errno == errno.ENOENT else KSFT_FAIL
        fds.append(peak_fd)
        if not peak_fd.mode & S_IWUSR:  # fstat: a kernel whose memory.peak cannot be written
            return KSFT_SKIP
        peak_fd2, peak_fd3 = u.cg_open(memcg, "memory.peak"), u.cg_open(memcg, "memory.peak")
        if peak_fd2 is None or peak_fd3 is None:
            return KSFT_FAIL
        fds += [peak_fd2, peak_fd3]
        for f in (peak_fd, peak_fd2, peak_fd3):
            f.write(RESET_STRING)
        if u.cg_read_long(memcg, "memory.peak") < MB(50):  # an independent read: the global peak
            return KSFT_FAIL
        fds.remove(peak_fd2)
        peak_fd2.close()
        peak_fd4 = u.cg_open(memcg, "memory.peak")
        if peak_fd4 is None:
            return KSFT_FAIL
        fds.append(peak_fd4)
        peak_fd4.write(RESET_STRING)
        peak = u.cg_read_long_fd(peak_fd)
        if peak > MB(30) or peak < 0:
            return KSFT_FAIL
        if u.cg_run(memcg, alloc_pagecache_50M_check):
            return KSFT_FAIL
        if u.cg_read_long(memcg, "memory.peak") < MB(50):
            return KSFT_FAIL
        if u.cg_read_long_fd(peak_fd) < MB(50) or u.cg_read_long_fd(peak_fd4) < MB(50):
            return KSFT_FAIL
        for f in (peak_fd3, peak_fd4):
            fds.remove(f)
            f.close()
        return KSFT_PASS
    finally:
        for f in fds:
            f.close()


def memcg_high_sync(u: CgroupUtil, root: str) -> int:
    """memory.high 30M throttles one big allocation (mlock of 200M, one kernel entry) at once:
    the first change of memory.events is a high event, not a max one (memory.max 140M)."""
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    pre_high = u.cg_read_key_long(memcg, "memory.events", "high ")
    pre_max = u.cg_read_key_long(memcg, "memory.events", "max ")
    if pre_high < 0 or pre_max < 0:
        return KSFT_FAIL
    if (u.cg_write(memcg, "memory.swap.max", "0") or u.cg_write(memcg, "memory.high", "30M")
            or u.cg_write(memcg, "memory.max", "140M")):
        return KSFT_FAIL
    fd = u.memcg_prepare_for_wait(memcg)
    if fd is None:
        return KSFT_FAIL
    post: list[tuple[int, int]] = []  # what the parent reads once cg_wait_for returns

    def woken() -> None:  # the parent's reads, then its cleanup's cg_killall (the child dies)
        post.append((u.cg_read_key_long(memcg, "memory.events", "high "),
                     u.cg_read_key_long(memcg, "memory.events", "max ")))
        u.cg_killall(memcg)
    u.cg_wait_for(fd, woken)
    u.cg_run_nowait(memcg, alloc_anon_mlock, MB(200))
    fd.close()
    if not post:  # no change of memory.events: the parent would still be waiting
        return KSFT_FAIL
    post_high, post_max = post[0]
    if post_high < 0 or post_max < 0 or pre_high == post_high or pre_max != post_max:
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


def memcg_swap_max_peak(u: CgroupUtil, root: str) -> int:
    """memory.swap.max 30M: 100M of anon is OOM-killed, 50M fits in memory plus swap;
    memory.peak and memory.swap.peak, global and per open descriptor, follow both."""
    if not u.is_swap_enabled():
        return KSFT_SKIP
    memcg = root + "memcg_test"
    u.cg_create(memcg)
    if u.cg_read_long(memcg, "memory.swap.current"):
        return KSFT_SKIP
    swap_peak_fd = u.cg_open(memcg, "memory.swap.peak")
    if swap_peak_fd is None:
        return KSFT_SKIP if u.errno == errno.ENOENT else KSFT_FAIL
    mem_peak_fd = None
    try:
        if not swap_peak_fd.mode & S_IWUSR:
            return KSFT_SKIP
        mem_peak_fd = u.cg_open(memcg, "memory.peak")
        if mem_peak_fd is None:
            return KSFT_FAIL
        return _swap_max_peak(u, memcg, mem_peak_fd, swap_peak_fd)
    finally:
        swap_peak_fd.close()
        if mem_peak_fd is not None:
            mem_peak_fd.close()


def _swap_max_peak(u: CgroupUtil, memcg: str, mem_peak_fd, swap_peak_fd) -> int:
    """test_memcg_swap_max_peak once its two descriptors are open."""
    read_fd = u.cg_read_long_fd
    if u.cg_read_long(memcg, "memory.swap.peak") or read_fd(swap_peak_fd):
        return KSFT_FAIL
    swap_peak_fd.write(RESET_STRING)  # both descriptors switch to their local peak
    if read_fd(swap_peak_fd) or u.cg_read_long(memcg, "memory.peak") or read_fd(mem_peak_fd):
        return KSFT_FAIL
    mem_peak_fd.write(RESET_STRING)
    if read_fd(mem_peak_fd):
        return KSFT_FAIL
    if u.cg_read_strcmp(memcg, "memory.max", "max\n") or u.cg_read_strcmp(memcg, "memory.swap.max", "max\n"):
        return KSFT_FAIL
    if u.cg_write(memcg, "memory.swap.max", "30M") or u.cg_write(memcg, "memory.max", "30M"):
        return KSFT_FAIL
    if not u.cg_run(memcg, alloc_anon, MB(100)):  # should be killed by the OOM killer
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "oom ") != 1 \
            or u.cg_read_key_long(memcg, "memory.events", "oom_kill ") != 1:
        return KSFT_FAIL
    peaks = (u.cg_read_long(memcg, "memory.peak"), u.cg_read_long(memcg, "memory.swap.peak"),
             read_fd(mem_peak_fd), read_fd(swap_peak_fd))
    if min(peaks) < MB(29):
        return KSFT_FAIL
    # reset through other descriptors (opened, written, closed) must not upset the open ones
    if u.cg_write(memcg, "memory.swap.peak", RESET_STRING) or u.cg_write(memcg, "memory.peak", RESET_STRING):
        return KSFT_FAIL
    swap_peak_fd.write(RESET_STRING)
    mem_peak_fd.write(RESET_STRING)
    if read_fd(swap_peak_fd) > MB(10) or read_fd(mem_peak_fd) > MB(1):
        return KSFT_FAIL
    if u.cg_read_long(memcg, "memory.peak") < MB(29) or u.cg_read_long(memcg, "memory.swap.peak") < MB(29):
        return KSFT_FAIL
    if u.cg_run(memcg, alloc_anon_50M_check_swap, MB(30)):
        return KSFT_FAIL
    if u.cg_read_key_long(memcg, "memory.events", "max ") <= 0:
        return KSFT_FAIL
    if u.cg_read_long(memcg, "memory.peak") < MB(29) or u.cg_read_long(memcg, "memory.swap.peak") < MB(29):
        return KSFT_FAIL
    if read_fd(mem_peak_fd) < MB(29) or read_fd(swap_peak_fd) < MB(19):
        return KSFT_FAIL
    return KSFT_PASS


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


def memcg_subtree_control(u: CgroupUtil, root: str) -> int:
    """Two nested cgroups under a parent that enables memory: the child lists memory in its
    cgroup.controllers; two more under a parent that does not: that child does not."""
    parent, child = f"{root}memcg_test_0", f"{root}memcg_test_0/memcg_test_1"
    parent2, child2 = f"{root}memcg_test_1", f"{root}memcg_test_1/memcg_test_1"
    if u.cg_create(parent):
        return KSFT_FAIL
    ret, made = KSFT_FAIL, [parent]  # the cleanup labels destroy them, the last made first
    if not u.cg_write(parent, "cgroup.subtree_control", "+memory") and not u.cg_create(child):
        made.append(child)
        if not u.cg_read_strstr(child, "cgroup.controllers", "memory") and not u.cg_create(parent2):
            made.append(parent2)
            if not u.cg_create(child2):
                made.append(child2)
                if u.cg_read_strstr(child2, "cgroup.controllers", "memory"):
                    ret = KSFT_PASS
    for cg in reversed(made):
        u.cg_destroy(cg)
    return ret


WAITING = {
    "test_memcg_max": "slab charged to the memcg (memory.current after the children exit is 0, not the "
                      "temporary file's inode, dentry and file objects left charged)",
    "test_memcg_sock": "sockets (TCP over loopback, memory.stat sock)",
}
TESTS = ("test_memcg_subtree_control", "test_memcg_current_peak", "test_memcg_min", "test_memcg_low",
         "test_memcg_high", "test_memcg_high_sync", "test_memcg_max", "test_memcg_reclaim", "test_memcg_oom_events",
         "test_memcg_swap_max_peak", "test_memcg_sock", "test_memcg_oom_group_leaf_events",
         "test_memcg_oom_group_parent_events", "test_memcg_oom_group_score_events")


def _setup(t: Ksft) -> CgroupUtil:
    """main(): the memory controller must be available and enabled at the root. The program
    runs as root (cgroupfs writes need it): its children's mlock is not bounded by
    RLIMIT_MEMLOCK (CAP_IPC_LOCK)."""
    t.process.task.mm.capabilities |= {"CAP_IPC_LOCK"}
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
