"""Simulated time (``kernel/time/``): one clock in nanoseconds and its event queue, Linux 6.18.

``SimClock.now`` is the machine's time since boot in ns (``ktime_get()``). Events are callbacks
due at a time (timers, wake-ups); they run in the order (time, sequence), the sequence being
the order in which they were scheduled, so a run repeats exactly (SimPy's event core, without
priorities). Nothing runs by itself: time moves when simulated work is done (``work``) or when
``run_until`` is asked to reach a time, and each due event runs at its own time on the way.

The cost model of simulated work (stated, not measured per run): each user access (a trace
record, or one page of a ``Process`` read/write) costs ``ACCESS_NS``; each page fault it takes
costs ``FAULT_NS`` more: 4400 cycles at 2.6 GHz, the time this host's kernel takes for a 4 KiB
first-touch write fault (the replay cost model's figure). System calls (mmap, fork, ...) take no
simulated time yet, but for GUP (``mm/gup.py``): each page it gets or pins costs ``GUP_PAGE_NS``,
each it puts or unpins ``UNPIN_PAGE_NS``, the times this host takes per page to register and
unregister an io_uring buffer (``tests/data/host-linux-6.18/gup_cost_probe.txt``: GUP-fast
with io_uring's bookkeeping; the slow path is charged the same; faults GUP takes are not). A compiled batch of ``Process`` accesses (``access_batch``) gets the time
left until the next event (``budget``) and stops after the access that uses it up; the replay
loop ends each batch before it could reach the next event even if every record faulted (one
record at a time close to it), so its hot loop reads no clock. Either way an event runs after
the first access (record) whose time reaches it, whatever the batch sizes.
"""

from __future__ import annotations

import itertools
from heapq import heappop, heappush
from typing import Callable, NamedTuple

ACCESS_NS = 1
FAULT_NS = 1692
GUP_PAGE_NS, UNPIN_PAGE_NS = 60, 18
NSEC_PER_SEC = 1_000_000_000
NSEC_PER_MSEC = 1_000_000
NSEC_PER_USEC = 1000
HZ = 250  # CONFIG_HZ of the development host's 6.18 kernel (tests/data/host-linux-6.18/lru_gen.txt)
TICK_NSEC = NSEC_PER_SEC // HZ  # one jiffy
NO_DEADLINE = (1 << 63) - 1  # the budget of a batch when no event is pending


def jiffies(k) -> int:
    """The jiffies counter: the clock in ticks of 1/HZ s."""
    return k.clock.now * HZ // NSEC_PER_SEC


class Timer(NamedTuple):
    """One scheduled event: ``fn(*args)`` at ``expires`` ns (``struct timer_list``). A plain
    tuple in the queue: the heap compares (expires, seq) in C, and seq is unique."""

    expires: int
    seq: int
    fn: Callable
    args: tuple


_new_timer = tuple.__new__


class SimClock:
    """The machine's clock and its queue of pending events. A deleted timer stays queued until
    it comes up, then is dropped: ``_pending`` holds the sequence numbers of the timers still
    to run."""

    def __init__(self):
        self.now = 0
        self._queue: list[Timer] = []
        self._pending: set[int] = set()
        self._seq = itertools.count()

    def add_timer(self, expires: int, fn, *args) -> Timer:
        """Run ``fn(*args)`` at ``expires`` ns (at once if that is now or past)."""
        t = _new_timer(Timer, (max(expires, self.now), next(self._seq), fn, args))  # (no Python __new__)
        heappush(self._queue, t)
        self._pending.add(t.seq)
        return t

    def del_timer(self, t: Timer) -> None:
        self._pending.discard(t.seq)

    def timer_pending(self, t: Timer) -> bool:
        """The timer is queued and was not deleted (``timer_pending``)."""
        return t.seq in self._pending

    def next_expiry(self) -> int | None:
        queue = self._queue
        while queue and queue[0].seq not in self._pending:
            heappop(queue)
        return queue[0].expires if queue else None

    def budget(self) -> int:
        """Nanoseconds of work a compiled batch may do before the next event is due."""
        nxt = self.next_expiry()
        return NO_DEADLINE if nxt is None else max(nxt - self.now, 0)

    def run_until(self, when: int) -> None:
        """Run every event due up to ``when``, each at its time; then the time is ``when``."""
        queue, pending = self._queue, self._pending
        while queue and queue[0].expires <= when:  # (next_expiry's loop, inline: one kswapd step each)
            t = heappop(queue)
            if t.seq not in pending:
                continue
            pending.remove(t.seq)
            if t.expires > self.now:
                self.now = t.expires
            t.fn(*t.args)
        if when > self.now:
            self.now = when

    def work(self, accesses: int, faults: int) -> None:
        """Simulated work was done: time moves by its cost, running the events due meanwhile."""
        self.run_until(self.now + accesses * ACCESS_NS + faults * FAULT_NS)
