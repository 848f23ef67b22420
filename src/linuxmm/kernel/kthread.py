"""Kernel threads as tasks on the simulated clock (``kernel/kthread.c``, ``kernel/sched/wait.c``).

A ``kthread`` sleeps until it is woken (``wake_up_process``, a wait-queue wake-up such as
``wakeup_kswapd``'s) or until the timeout it slept with expires (``schedule_timeout``); then
its body runs once, at that moment of simulated time, and returns how long to sleep next (ns,
or None: until woken); a body whose work takes time calls ``keep_running(ns)``: the thread
stays running (R, wake-ups find it awake) and its body runs again ``ns`` later. The threads of the memory manager are created at boot
(``Kernel.kthreads``): kswapd and kcompactd per node, khugepaged, the writeback flusher.
A thread created with its kernel (``k``: kswapd, whose runs take time) is a task PSI counts
(``kernel/sched/psi.py``): runnable while R, on the CPU ``select_task_rq`` gives it at each
wake-up; the others' runs take no time, so they change no pressure.
"""

from __future__ import annotations

from .sched.psi import psi_task_sleep, psi_task_wakeup, select_task_rq
from .timer import SimClock, Timer

TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_DEAD = "R", "S", "X"


class kthread:
    """One kernel thread: its name as ``ps`` shows it, its body and its sleep."""

    def __init__(self, clock: SimClock, comm: str, body, k=None):
        self.clock, self.comm, self.body, self.k = clock, comm, body, k
        self.state = TASK_INTERRUPTIBLE
        # what PSI reads of a task: its CPU, cgroup (None: the root, where kernel threads
        # stay), TSK_* flags, and whether it is in a memory stall or in io_schedule
        self.cpu, self.cgroup = 0, None
        self.psi_flags, self.in_memstall, self.in_iowait = 0, False, False
        self.nr_wakeups = 0  # times it was woken (schedstat's nr_wakeups)
        self.nr_runs = 0
        self._timer: Timer | None = None
        self._busy_ns: int | None = None  # keep_running's request during the current run

    def wake_up(self) -> bool:
        """``wake_up_process``: run it now if it sleeps; False if it was already awake (or stopped)."""
        if self.state != TASK_INTERRUPTIBLE:
            return False
        if self._timer is not None:
            self.clock.del_timer(self._timer)
        self._set_running()
        self.nr_wakeups += 1
        self._timer = self.clock.add_timer(self.clock.now, self._run)
        return True

    def wake_up_at(self, when: int) -> bool:
        """Run it at ``when`` ns if it sleeps until later (``mod_delayed_work`` of a work item
        that is not due sooner); False if it is awake or already due by then."""
        if self.state != TASK_INTERRUPTIBLE or (self._timer is not None and self._timer.expires <= when):
            return False
        if self._timer is not None:
            self.clock.del_timer(self._timer)
        self._timer = self.clock.add_timer(when, self._expire)
        return True

    def schedule_timeout(self, ns: int | None) -> None:
        """Sleep for ``ns`` (None: until woken)."""
        self._set_state(TASK_INTERRUPTIBLE)
        self._timer = None if ns is None else self.clock.add_timer(self.clock.now + ns, self._expire)

    def stop(self) -> None:
        """``kthread_stop``: it never runs again."""
        if self._timer is not None:
            self.clock.del_timer(self._timer)
        self._timer = None
        self._set_state(TASK_DEAD)

    def _expire(self) -> None:
        self._timer = None
        self._set_running()
        self._run()

    def _set_running(self) -> None:
        """It wakes (``try_to_wake_up``): PSI counts it runnable on the CPU it gets."""
        if self.state != TASK_RUNNING and self.k is not None:
            self.cpu = select_task_rq(self.k, self)
            psi_task_wakeup(self.k, self)
        self.state = TASK_RUNNING

    def _set_state(self, state: str) -> None:
        """It sleeps or stops: PSI no longer counts it runnable."""
        if self.state == TASK_RUNNING and self.k is not None:
            psi_task_sleep(self.k, self)
        self.state = state

    def keep_running(self, ns: int) -> None:
        """Called from the body: the work of this run takes ``ns``; run again after it."""
        self._busy_ns = ns

    def _run(self) -> None:
        self._timer = None
        self.nr_runs += 1
        sleep = self.body()
        if self._busy_ns is not None:
            self._set_running()
            self._timer = self.clock.add_timer(self.clock.now + self._busy_ns, self._run)
            self._busy_ns = None
            return
        self.schedule_timeout(sleep)

    def __repr__(self) -> str:
        return f"<kthread {self.comm} {self.state} runs={self.nr_runs}>"
