"""Kernel threads as tasks on the simulated clock (``kernel/kthread.c``, ``kernel/sched/wait.c``).

A ``kthread`` sleeps until it is woken (``wake_up_process``, a wait-queue wake-up such as
``wakeup_kswapd``'s) or until the timeout it slept with expires (``schedule_timeout``); then
its body runs once, at that moment of simulated time, and returns how long to sleep next (ns,
or None: until woken). The threads of the memory manager are created at boot
(``Kernel.kthreads``): kswapd and kcompactd per node, khugepaged, the writeback flusher.
"""

from __future__ import annotations

from .timer import SimClock, Timer

TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_DEAD = "R", "S", "X"


class kthread:
    """One kernel thread: its name as ``ps`` shows it, its body and its sleep."""

    def __init__(self, clock: SimClock, comm: str, body):
        self.clock, self.comm, self.body = clock, comm, body
        self.state = TASK_INTERRUPTIBLE
        self.nr_wakeups = 0  # times it was woken (schedstat's nr_wakeups)
        self.nr_runs = 0
        self._timer: Timer | None = None

    def wake_up(self) -> bool:
        """``wake_up_process``: run it now if it sleeps; False if it was already awake (or stopped)."""
        if self.state != TASK_INTERRUPTIBLE:
            return False
        if self._timer is not None:
            self.clock.del_timer(self._timer)
        self.state = TASK_RUNNING
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
        self.state = TASK_INTERRUPTIBLE
        self._timer = None if ns is None else self.clock.add_timer(self.clock.now + ns, self._expire)

    def stop(self) -> None:
        """``kthread_stop``: it never runs again."""
        if self._timer is not None:
            self.clock.del_timer(self._timer)
        self._timer = None
        self.state = TASK_DEAD

    def _expire(self) -> None:
        self._timer = None
        self.state = TASK_RUNNING
        self._run()

    def _run(self) -> None:
        self._timer = None
        self.nr_runs += 1
        self.schedule_timeout(self.body())

    def __repr__(self) -> str:
        return f"<kthread {self.comm} {self.state} runs={self.nr_runs}>"
