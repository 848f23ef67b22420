"""Pressure stall information (``kernel/sched/psi.c``), Linux 6.18: the memory resource.

A newcomer's map:

* **What is measured.** The time tasks lose to a lack of memory: reclaiming it (direct
  reclaim in the allocator's slow path, kswapd's ``balance_pgdat``, memcg reclaim), waiting
  for a workingset folio to be read back (a refault: ``folio_wait_bit`` on a locked folio
  that is not up to date and has PG_workingset), sleeping off a ``memory.high`` overage.
  The task is then in a *memstall* section (``psi_memstall_enter``/``psi_memstall_leave``).
* **Per CPU, per group.** A ``psi_group`` (the system's, ``k.psi_system``, which is also the
  root cgroup's; one per cgroup, whose ``parent`` is its parent cgroup's) counts per CPU the
  tasks in each state (``tasks[NR_IOWAIT]``, ``[NR_MEMSTALL]``, ``[NR_RUNNING]``,
  ``[NR_MEMSTALL_RUNNING]``) and derives the states that hold (``psi_group_change``): MEM_SOME
  (a task is stalled), MEM_FULL (every running task is a stalled one, or the task on the
  CPU is reclaiming), NONIDLE. ``record_times`` adds the time since the last change to each
  state that held. A task's change (``psi_task_change``) updates its group and every
  ancestor (``psi_group_change``), so a cgroup's times cover its descendants' tasks.
* **The averages.** ``psi_avgs_work`` runs every ``psi_period`` (PSI_FREQ: 2 s and a tick)
  while any CPU was busy: ``collect_percpu_times`` weighs each CPU's stall time by its
  non-idle time (whole jiffies) into one sample and adds it to ``total``;
  ``update_averages`` folds the period's share into avg10/avg60/avg300 with ``calc_load``'s
  fixed-point decay (EXP_10s/60s/300s; periods without work decayed in one step through
  ``fixed_power_int``). ``psi_show`` renders ``/proc/pressure/memory`` and the cgroups'
  ``memory.pressure`` (averages in percent, ``total=`` in microseconds).

The scheduling this simulator has (one clock; a process runs one call at a time):

* a process is runnable and on its CPU (``task.cpu``) while it runs a call (it is
  ``current``: ``kernel/fork.running``), and asleep between calls;
* a kernel thread created with the kernel (kswapd: its runs take time) is runnable while
  its state is R; it wakes on the CPU it ran on last if nothing runs there, else on the
  first CPU where nothing runs (``select_idle_sibling`` without a topology), else where it
  was; a task that wakes takes its CPU (wake-up preemption) and the one it preempted stays
  runnable, getting the CPU back when the other sleeps;
* ``folio_wait_bit`` is ``io_schedule``: the task sleeps in iowait until the bit clears.

Not modelled: the cpu and io resources' files (``/proc/pressure/cpu``, ``io``: only the task
counts their states need are kept), triggers (``psi_trigger_create``, polling), IRQ time,
the timer wheel's rounding of the averaging work's expiry (it runs at its jiffy), and the
wrap of the kernel's u32 per-CPU time buckets.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..printk import KERN_ERR
from ..timer import HZ, TICK_NSEC, Timer

if TYPE_CHECKING:
    from ...init.main import Kernel

# enum psi_task_count (include/linux/psi_types.h) and the task flags built from it
NR_IOWAIT, NR_MEMSTALL, NR_RUNNING, NR_MEMSTALL_RUNNING, NR_PSI_TASK_COUNTS = range(5)
TSK_IOWAIT = 1 << NR_IOWAIT
TSK_MEMSTALL = 1 << NR_MEMSTALL
TSK_RUNNING = 1 << NR_RUNNING
TSK_MEMSTALL_RUNNING = 1 << NR_MEMSTALL_RUNNING
TSK_ONCPU = 1 << NR_PSI_TASK_COUNTS
# enum psi_states, without PSI_IRQ_FULL (CONFIG_IRQ_TIME_ACCOUNTING is off in the x86-64
# configs modelled, as on this host: /proc/pressure has no irq file)
PSI_IO_SOME, PSI_IO_FULL, PSI_MEM_SOME, PSI_MEM_FULL, PSI_CPU_SOME, PSI_CPU_FULL, PSI_NONIDLE, NR_PSI_STATES = range(8)
PSI_ONCPU = 1 << NR_PSI_STATES
PSI_MEM_STATES = (PSI_MEM_SOME, PSI_MEM_FULL)  # the states this simulator accumulates

# running averages (kernel/sched/psi.c) in loadavg's fixed point (include/linux/sched/loadavg.h)
PSI_FREQ = 2 * HZ + 1  # jiffies between averaging runs: 2 s and a tick
EXP_10s, EXP_60s, EXP_300s = 1677, 1981, 2034  # 1/exp(2s/10s), 1/exp(2s/60s), 1/exp(2s/300s) in FIXED_1
PSI_EXPS = (EXP_10s, EXP_60s, EXP_300s)
FSHIFT = 11
FIXED_1 = 1 << FSHIFT
NSEC_PER_USEC = 1000
psi_period = PSI_FREQ * TICK_NSEC  # jiffies_to_nsecs(PSI_FREQ)


class psi_group:
    """``struct psi_group`` with its per-CPU ``psi_group_cpu`` parts as lists indexed by CPU:
    the task counts, the states that hold and since when, the time spent in each state (and
    what the averaging last took of it: ``times_prev``); the totals (ns) and the averages
    (FIXED_1 percent) per state; when the averages were last and are next updated."""

    def __init__(self, nr_cpus: int, parent: "psi_group | None", now: int):
        self.parent = parent
        self.tasks = [[0] * NR_PSI_TASK_COUNTS for _ in range(nr_cpus)]
        self.state_mask = [0] * nr_cpus
        self.state_start = [now] * nr_cpus
        self.times = [[0] * NR_PSI_STATES for _ in range(nr_cpus)]
        self.times_prev = [[0] * NR_PSI_STATES for _ in range(nr_cpus)]
        self.total = [0] * NR_PSI_STATES
        self.avg_total = [0] * NR_PSI_STATES
        self.avg = [[0, 0, 0] for _ in range(NR_PSI_STATES)]
        self.avg_last_update = now  # group_init
        self.avg_next_update = now + psi_period
        self.avgs_work: Timer | None = None  # the pending psi_avgs_work, if any


class psi_rq:
    """What PSI reads of the run queues: per CPU its runnable tasks in the order they took
    the CPU (the last one runs: ``cpu_curr``); the system group; and whether the kernel
    already complained of an inconsistency (``psi_bug``)."""

    def __init__(self, nr_cpus: int, now: int):
        self.rq: list[list] = [[] for _ in range(nr_cpus)]
        self.system = psi_group(nr_cpus, None, now)
        self.bug = False

    def curr(self, cpu: int):
        rq = self.rq[cpu]
        return rq[-1] if rq else None


# ---- the fixed-point averages (include/linux/sched/loadavg.h, kernel/sched/loadavg.c) ----------

def calc_load(load: int, exp: int, active: int) -> int:
    """One decay step of a fixed-point average toward ``active``, rounding up while rising."""
    newload = load * exp + active * (FIXED_1 - exp)
    if active >= load:
        newload += FIXED_1 - 1
    return newload // FIXED_1


def fixed_power_int(x: int, frac_bits: int, n: int) -> int:
    """``x`` to the power ``n`` in fixed point of ``frac_bits`` bits, by squaring, each
    product rounded to nearest."""
    result = 1 << frac_bits
    half = 1 << (frac_bits - 1)
    while n:
        if n & 1:
            result = (result * x + half) >> frac_bits
        n >>= 1
        if n:
            x = (x * x + half) >> frac_bits
    return result


def calc_load_n(load: int, exp: int, active: int, n: int) -> int:
    """``n`` decay steps at once."""
    return calc_load(load, fixed_power_int(exp, FSHIFT, n), active)


def calc_avgs(avg: list[int], missed_periods: int, time: int, period: int) -> None:
    """Decay the three averages through the ``missed_periods`` without a sample, then take
    the latest period's share of stall time (``time`` of ``period`` ns) in whole percent."""
    if missed_periods:
        for i, exp in enumerate(PSI_EXPS):
            avg[i] = calc_load_n(avg[i], exp, 0, missed_periods)
    pct = time * 100 // period * FIXED_1
    for i, exp in enumerate(PSI_EXPS):
        avg[i] = calc_load(avg[i], exp, pct)


def LOAD_INT(x: int) -> int:
    return x >> FSHIFT


def LOAD_FRAC(x: int) -> int:
    return LOAD_INT((x & (FIXED_1 - 1)) * 100)


# ---- per-CPU state ---------------------------------------------------------------------------

def record_times(group: psi_group, cpu: int, now: int) -> None:
    """Add the time since the CPU's last change to each state that held (FULL only with SOME)."""
    delta = now - group.state_start[cpu]
    group.state_start[cpu] = now
    mask, times = group.state_mask[cpu], group.times[cpu]
    if mask & (1 << PSI_MEM_SOME):
        times[PSI_MEM_SOME] += delta
        if mask & (1 << PSI_MEM_FULL):
            times[PSI_MEM_FULL] += delta
    if mask & (1 << PSI_NONIDLE):
        times[PSI_NONIDLE] += delta


def psi_group_change(k: "Kernel", group: psi_group, cpu: int, clear: int, set_: int, now: int) -> None:
    """Apply a task's ``clear``/``set`` flags to the CPU's counts, conclude the time of the
    states that held, and derive the new ones (each state tested in turn, as 6.11's
    "sched/psi: Optimise psi_group_change a bit" writes it); the averaging work is started
    if it sleeps."""
    if clear & TSK_ONCPU:
        state_mask = 0
    elif set_ & TSK_ONCPU:
        state_mask = PSI_ONCPU
    else:
        state_mask = group.state_mask[cpu] & PSI_ONCPU
    tasks = group.tasks[cpu]
    t, m = 0, clear & ~TSK_ONCPU  # the counts of the bits set, lowest first: clears, then sets
    while m:
        if m & 1:
            if tasks[t]:
                tasks[t] -= 1
            else:
                psi_bug(k, f"psi: task underflow! cpu={cpu} t={t} tasks=[{' '.join(map(str, tasks))}] "
                           f"clear={clear:x} set={set_:x}")
        t, m = t + 1, m >> 1
    t, m = 0, set_ & ~TSK_ONCPU
    while m:
        if m & 1:
            tasks[t] += 1
        t, m = t + 1, m >> 1
    if tasks[NR_MEMSTALL]:
        state_mask |= 1 << PSI_MEM_SOME
        if tasks[NR_RUNNING] == tasks[NR_MEMSTALL_RUNNING]:
            state_mask |= 1 << PSI_MEM_FULL
    if tasks[NR_IOWAIT] or tasks[NR_MEMSTALL] or tasks[NR_RUNNING]:
        state_mask |= 1 << PSI_NONIDLE
    # the CPU reclaiming for the task on it could run nothing productive: FULL
    curr = k.psi.curr(cpu)
    if state_mask & PSI_ONCPU and curr is not None and curr.in_memstall:
        state_mask |= 1 << PSI_MEM_FULL
    record_times(group, cpu, now)
    group.state_mask[cpu] = state_mask
    if group.avgs_work is None:
        schedule_avgs_work(k, group, PSI_FREQ)


def psi_bug(k: "Kernel", text: str) -> None:
    """The kernel's one complaint about inconsistent PSI state (``psi_bug``): a simulator bug."""
    if not k.psi.bug:
        k.psi.bug = True
        k.log.printk(text, KERN_ERR)


# ---- tasks ---------------------------------------------------------------------------------------

def task_psi_group(k: "Kernel", task) -> psi_group:
    """The group of the task's cgroup (kernel threads stay in the root: the system group)."""
    return k.psi.system if task.cgroup is None else task.cgroup.psi


def psi_flags_change(k: "Kernel", task, clear: int, set_: int) -> None:
    if (task.psi_flags & set_ or task.psi_flags & clear != clear):
        psi_bug(k, f"psi: inconsistent task state! task={task.comm} cpu={task.cpu} "
                   f"psi_flags={task.psi_flags:x} clear={clear:x} set={set_:x}")
    task.psi_flags = task.psi_flags & ~clear | set_


def psi_task_change(k: "Kernel", task, clear: int, set_: int) -> None:
    """The task's state changed: its group and every ancestor account it."""
    psi_flags_change(k, task, clear, set_)
    group, now = task_psi_group(k, task), k.clock.now
    while group is not None:
        psi_group_change(k, group, task.cpu, clear, set_, now)
        group = group.parent


def select_task_rq(k: "Kernel", task) -> int:
    """The CPU a waking kernel thread runs on: its last one if nothing runs there, else the
    first where nothing runs, else its last one."""
    rq = k.psi.rq
    if not rq[task.cpu]:
        return task.cpu
    return next((cpu for cpu, tasks in enumerate(rq) if not tasks), task.cpu)


def psi_task_wakeup(k: "Kernel", task) -> None:
    """``psi_enqueue`` of a wake-up (out of iowait; a stalled task runs its stall again),
    then the task takes its CPU from the one running there, which stays runnable."""
    rq = k.psi.rq[task.cpu]
    psi_task_change(k, task, TSK_IOWAIT if task.in_iowait else 0,
                    TSK_RUNNING | (TSK_MEMSTALL_RUNNING if task.in_memstall else 0))
    if rq:
        psi_task_change(k, rq[-1], TSK_ONCPU, 0)
    rq.append(task)
    psi_task_change(k, task, 0, TSK_ONCPU)


def psi_task_sleep(k: "Kernel", task) -> None:
    """``psi_task_switch`` away from a task going to sleep (in iowait if ``in_iowait``): the
    runnable task it preempted, if any, gets the CPU back."""
    rq = k.psi.rq[task.cpu]
    rq.remove(task)
    psi_task_change(k, task, TSK_RUNNING | TSK_ONCPU | (TSK_MEMSTALL_RUNNING if task.in_memstall else 0),
                    TSK_IOWAIT if task.in_iowait else 0)
    if rq:
        psi_task_change(k, rq[-1], 0, TSK_ONCPU)


@contextmanager
def psi_running(k: "Kernel", task):
    """A process runs a call: runnable on its CPU meanwhile (``task`` None, or already
    running: nothing changes)."""
    if task is None or task.psi_flags & TSK_RUNNING:
        yield
        return
    psi_task_wakeup(k, task)
    try:
        yield
    finally:
        if task.in_memstall:  # unwound out of a stall (a fatal signal, an error): it ends
            psi_memstall_leave(k, task, False)
        psi_task_sleep(k, task)


def psi_memstall_enter(k: "Kernel", task) -> bool:
    """The running ``task`` (None: kernel context, not accounted) begins a memory stall.
    Returns the flag for ``psi_memstall_leave``: True when it was stalled already (nested)."""
    if task is None or task.in_memstall:
        return True
    task.in_memstall = True
    psi_task_change(k, task, 0, TSK_MEMSTALL | TSK_MEMSTALL_RUNNING)
    return False


def psi_memstall_leave(k: "Kernel", task, nested: bool) -> None:
    """The stall ``psi_memstall_enter`` began ends (unless it was nested in another)."""
    if nested:
        return
    task.in_memstall = False
    psi_task_change(k, task, TSK_MEMSTALL | TSK_MEMSTALL_RUNNING, 0)


@contextmanager
def psi_memstall(k: "Kernel", task):
    """``psi_memstall_enter`` ... ``psi_memstall_leave`` around a block."""
    nested = psi_memstall_enter(k, task)
    try:
        yield
    finally:
        psi_memstall_leave(k, task, nested)


@contextmanager
def io_schedule(k: "Kernel", task):
    """The task sleeps in iowait for the block (``io_schedule``); None: kernel context."""
    if task is None or not task.psi_flags & TSK_RUNNING:
        yield
        return
    task.in_iowait = True
    psi_task_sleep(k, task)
    try:
        yield
    finally:
        psi_task_wakeup(k, task)
        task.in_iowait = False


def schedule_timeout_memstall(k: "Kernel", ns: int) -> None:
    """``current`` sleeps ``ns`` of simulated time in a memory stall (``mem_cgroup_handle_over_high``'s
    penalty: ``psi_memstall_enter``, ``schedule_timeout_killable``, ``psi_memstall_leave``)."""
    task = k.current
    with psi_memstall(k, task):
        sleeping = task is not None and task.psi_flags & TSK_RUNNING
        if sleeping:
            psi_task_sleep(k, task)
        k.clock.run_until(k.clock.now + ns)
        if sleeping:
            psi_task_wakeup(k, task)


# ---- the averages ------------------------------------------------------------------------------------

def schedule_avgs_work(k: "Kernel", group: psi_group, delay: int) -> None:
    """Run ``psi_avgs_work`` ``delay`` jiffies from now (at that jiffy's start)."""
    expires = (k.clock.now // TICK_NSEC + delay) * TICK_NSEC
    group.avgs_work = k.clock.add_timer(expires, psi_avgs_work, k, group)


def get_recent_times(group: psi_group, cpu: int, now: int) -> list[int]:
    """The time of each state on ``cpu`` since the averaging last looked, the state that
    holds now included."""
    times, prev = list(group.times[cpu]), group.times_prev[cpu]
    mask = group.state_mask[cpu]
    for s in range(NR_PSI_STATES):
        if mask & (1 << s):
            times[s] += now - group.state_start[cpu]
    deltas = [t - p for t, p in zip(times, prev)]
    group.times_prev[cpu] = times
    return deltas


def collect_percpu_times(group: psi_group, now: int) -> bool:
    """Fold the CPUs' recent stall times, each weighted by its non-idle jiffies, into the
    group's totals. True when some CPU was busy (the averaging keeps running)."""
    deltas = {s: 0 for s in PSI_MEM_STATES}
    nonidle_total, busy = 0, False
    for cpu in range(len(group.tasks)):
        times = get_recent_times(group, cpu, now)
        busy |= times[PSI_NONIDLE] > 0 or any(group.tasks[cpu])
        nonidle = times[PSI_NONIDLE] // TICK_NSEC  # nsecs_to_jiffies
        nonidle_total += nonidle
        for s in PSI_MEM_STATES:
            deltas[s] += times[s] * nonidle
    for s in PSI_MEM_STATES:
        group.total[s] += deltas[s] // max(nonidle_total, 1)
    return busy


def update_averages(group: psi_group, now: int) -> int:
    """Sample the stall time since the last update into the averages (periods missed with
    no work decayed at once; a sample longer than its period is capped, the rest carried to
    the next); returns when the next update is due, on the fixed ``psi_period`` grid."""
    expires = group.avg_next_update
    missed_periods = (now - expires) // psi_period if now - expires >= psi_period else 0
    avg_next_update = expires + (1 + missed_periods) * psi_period
    period = now - (group.avg_last_update + missed_periods * psi_period)
    group.avg_last_update = now
    for s in PSI_MEM_STATES:
        sample = min(group.total[s] - group.avg_total[s], period)
        group.avg_total[s] += sample
        calc_avgs(group.avg[s], missed_periods, sample, period)
    return avg_next_update


def psi_avgs_work(k: "Kernel", group: psi_group) -> None:
    """The periodic averaging: fold the CPUs' times, update the averages when due, and come
    back at the next due time while any CPU had work (else stop until a task changes).
    The kernel's worker counts itself as a task of the CPU it runs on; this one is no task."""
    now = k.clock.now
    busy = collect_percpu_times(group, now)
    if now >= group.avg_next_update:
        group.avg_next_update = update_averages(group, now)
    group.avgs_work = None
    if busy:
        schedule_avgs_work(k, group, (group.avg_next_update - now) // TICK_NSEC + 1)


def psi_show(k: "Kernel", group: psi_group) -> str:
    """The ``some`` and ``full`` lines of the memory resource, averages brought up to date."""
    now = k.clock.now
    collect_percpu_times(group, now)
    if now >= group.avg_next_update:
        group.avg_next_update = update_averages(group, now)
    lines = []
    for full, s in enumerate(PSI_MEM_STATES):
        avg = group.avg[s]
        lines.append(f"{'full' if full else 'some'} " + " ".join(
            f"avg{w}={LOAD_INT(a)}.{LOAD_FRAC(a):02d}" for w, a in zip((10, 60, 300), avg))
            + f" total={group.total[s] // NSEC_PER_USEC}\n")
    return "".join(lines)


def pressure_memory_show(k: "Kernel") -> str:
    """``/proc/pressure/memory`` (``psi_memory_show``): the system group."""
    return psi_show(k, k.psi.system)


# ---- cgroups -----------------------------------------------------------------------------------

def psi_cgroup_alloc(k: "Kernel", parent: psi_group) -> psi_group:
    """A new cgroup's group, below its parent's."""
    return psi_group(len(k.psi.rq), parent, k.clock.now)


def psi_cgroup_free(k: "Kernel", group: psi_group) -> None:
    """A removed cgroup's averaging stops (``cancel_delayed_work_sync``)."""
    if group.avgs_work is not None:
        k.clock.del_timer(group.avgs_work)
        group.avgs_work = None


def cgroup_move_task(k: "Kernel", task, to) -> None:
    """Move ``task`` to cgroup ``to``, its PSI state with it: its flags leave the old groups
    and enter the new ones."""
    flags = task.psi_flags
    if flags:
        psi_task_change(k, task, flags, 0)
    task.cgroup = to
    if flags:
        psi_task_change(k, task, 0, flags)
