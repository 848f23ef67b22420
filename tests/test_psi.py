"""Pressure stall information (kernel/sched/psi.py) as 6.18's kernel/sched/psi.c computes it.

The arithmetic: ``calc_avgs``/``calc_load``/``fixed_power_int`` against values worked out by
hand from the kernel's constants (FIXED_1 = 2048, EXP_10s = 1677, EXP_60s = 1981, EXP_300s =
2034). The format: /proc/pressure/memory of this host (tests/data/host-linux-6.18/psi_probe.txt,
from tests/probe/psi_probe.sh). The accounting: a task stalled for a known time on the
simulated clock gives that time in ``total=`` and the averages the kernel's formulas give for
it, in its cgroup and every ancestor; kswapd's reclaim on another CPU, beside a productive
task, counts half.
"""

import re
from pathlib import Path

import pytest

import linuxmm
from linuxmm.include.linux.page_flags import PG_locked, PG_uptodate, PG_workingset
from linuxmm.kernel.fork import running
from linuxmm.kernel.kthread import kthread
from linuxmm.kernel.sched import psi
from linuxmm.kernel.sched.psi import (FIXED_1, LOAD_FRAC, LOAD_INT, calc_avgs, calc_load, calc_load_n,
                                      fixed_power_int, psi_memstall, psi_period, schedule_timeout_memstall)
from linuxmm.kernel.timer import NSEC_PER_SEC
from linuxmm.mm.filemap import folio_clear, folio_set, folio_wait_bit

HOST = Path(__file__).parent / "data" / "host-linux-6.18" / "psi_probe.txt"
LINE = re.compile(r"^(some|full) avg10=(\d+\.\d\d) avg60=(\d+\.\d\d) avg300=(\d+\.\d\d) total=(\d+)$")


def fmt(avg: int) -> str:
    return f"{LOAD_INT(avg)}.{LOAD_FRAC(avg):02d}"


def pressure(text: str) -> dict:
    """{"some"/"full": (avg10, avg60, avg300, total)} of a pressure file."""
    out = {}
    for line in text.splitlines():
        kind, *vals = LINE.match(line).groups()
        out[kind] = tuple(vals[:3]) + (int(vals[3]),)
    return out


# ---- the arithmetic ---------------------------------------------------------------------------------

def test_calc_avgs_one_full_period_by_hand():
    """A period fully stalled: pct = 100 * 2048 = 204800; avg10 = 204800 * (2048 - 1677) / 2048
    = 37100 (18.11%), avg60 = 100 * 67 = 6700 (3.27%), avg300 = 100 * 14 = 1400 (0.68%)."""
    avg = [0, 0, 0]
    calc_avgs(avg, 0, 2 * NSEC_PER_SEC, 2 * NSEC_PER_SEC)
    assert avg == [37100, 6700, 1400]
    assert [fmt(a) for a in avg] == ["18.11", "3.27", "0.68"]


def test_calc_load_rounds_up_while_rising_only():
    assert calc_load(0, 1677, 100 * FIXED_1) == 37100  # (75980800 + 2047) // 2048
    assert calc_load(37100, 1677, 0) == 30379          # 62216700 / 2048 = 30379.25, truncated
    # rising from 18179: (18179 * 1677 + 204800 * 371 + 2047) // 2048 = 106469030 // 2048
    assert calc_load(18179, 1677, 100 * FIXED_1) == 51986


def test_missed_periods_decay_in_one_step_by_hand():
    """fixed_power_int(1677, 11, 2) = (1677 * 1677 + 1024) >> 11 = 1373; three periods:
    1677 then (1677 * 1373 + 1024) >> 11 = 1124; 37100 decayed twice: 37100 * 1373 // 2048."""
    assert fixed_power_int(1677, 11, 2) == 1373
    assert fixed_power_int(1677, 11, 3) == 1124
    assert fixed_power_int(1677, 11, 0) == FIXED_1
    assert calc_load_n(37100, 1677, 0, 2) == 24872
    avg = [37100, 6700, 1400]
    calc_avgs(avg, 2, 0, psi_period)  # two periods missed, then an idle one: three decays
    assert avg[0] == 37100 * 1373 // 2048 * 1677 // 2048


def test_psi_period_is_two_seconds_and_a_tick():
    assert psi_period == 2 * NSEC_PER_SEC + NSEC_PER_SEC // psi.HZ


# ---- the format, against this host --------------------------------------------------------------------

def host_samples() -> list[tuple[float, dict]]:
    """(seconds, {"some": ..., "full": ...}) of every sample of the host probe."""
    rows: dict[float, list[str]] = {}
    for line in HOST.read_text().splitlines():
        if line.startswith("#"):
            continue
        t, text = line.split("\t")
        rows.setdefault(float(t), []).append(text)
    return [(t, pressure("\n".join(lines))) for t, lines in rows.items()]


def test_format_matches_the_host():
    samples = host_samples()
    assert len(samples) > 100 and any(s["some"][0] != "0.00" for _, s in samples)
    m = linuxmm.Machine()
    text = m.proc("pressure/memory")
    assert text == ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert all(LINE.match(line) for line in text.splitlines())


def test_host_decay_is_exp_10s_per_period():
    """Once the host's stall ended (total= stops moving), avg10 falls at each averaging run by
    EXP_10s / FIXED_1 (the displayed values are truncated to 0.01), every PSI_FREQ (2.004 s
    there: CONFIG_HZ=250). The first run after the end still saw some stall: skipped."""
    samples = host_samples()
    last_total = samples[-1][1]["some"][3]
    idle = [(t, float(s["some"][0])) for t, s in samples if s["some"][3] == last_total]
    changes = [(t, v) for (t, v), (_, prev) in zip(idle[1:], idle) if v != prev][1:]
    assert len(changes) >= 5
    for (t0, v0), (t1, v1) in zip(changes, changes[1:]):
        lo, hi = int(v0 * 100) * 1677 / 2048 - 1, (v0 * 100 + 1) * 1677 / 2048
        assert lo <= v1 * 100 <= hi, (v0, v1)
        assert 1.5 < t1 - t0 < 2.6  # PSI_FREQ (the probe samples every 0.25 s)


# ---- the accounting on the simulated clock -------------------------------------------------------------

@pytest.fixture
def machine():
    m = linuxmm.Machine()
    assert m.kernel.clock.now == 0  # the averages' grid starts at boot
    return m


def stall(m, p, ns):
    """``p`` runs a call during which it is in a memory stall for ``ns``."""
    k = m.kernel
    with running(k, p.task), psi_memstall(k, p.task):
        k.clock.run_until(k.clock.now + ns)


def test_one_second_stall_total_and_averages(machine):
    """Stalled 1 s of the first period (2.001 s): pct = 100e9 // 2.001e9 = 49; avg10 =
    (49 * 2048 * 371 + 2047) // 2048 = 18179 (8.87), avg60 3283 (1.60), avg300 686 (0.33).
    The next run (at 4.003 s: the grid's 4.002 s plus a tick) decays avg10 to
    18179 * 1677 // 2048 = 14885 (7.26), and the averaging stops."""
    m = machine
    p = m.spawn()
    stall(m, p, NSEC_PER_SEC)
    m.run(1.5)  # to 2.5 s
    assert pressure(m.proc("pressure/memory")) == {"some": ("8.87", "1.60", "0.33", 1_000_000),
                                                   "full": ("8.87", "1.60", "0.33", 1_000_000)}
    m.run(2)
    assert pressure(m.proc("pressure/memory"))["some"][:1] == ("7.26",)
    assert m.kernel.psi.system.avgs_work is None


def test_cgroup_pressure_is_aggregated_up_the_tree(machine):
    m = machine
    m.cgroup("a/b"), m.cgroup("a/c")
    p = m.spawn(cgroup="a/b")
    stall(m, p, NSEC_PER_SEC // 2)
    m.run(3)
    for path in ("a/b", "a", "/"):
        assert pressure(m.cgroup(path).read("memory.pressure"))["some"][3] == 500_000, path
    assert m.cgroup("/").read("memory.pressure") == m.proc("pressure/memory")
    assert pressure(m.cgroup("a/c").read("memory.pressure"))["some"] == ("0.00", "0.00", "0.00", 0)


def test_moving_a_task_takes_its_state_along(machine):
    m = machine
    m.cgroup("x"), m.cgroup("y")
    p = m.spawn(cgroup="x")
    k = m.kernel
    with running(k, p.task):
        m.cgroup("y").write("cgroup.procs", p.pid)
        with psi_memstall(k, p.task):
            k.clock.run_until(k.clock.now + NSEC_PER_SEC // 4)
    m.run(3)
    assert pressure(m.cgroup("x").read("memory.pressure"))["some"][3] == 0
    assert pressure(m.cgroup("y").read("memory.pressure"))["some"][3] == 250_000
    assert k.psi.system.tasks == [[0, 0, 0, 0]] * len(k.psi.rq)


def test_reclaimer_on_another_cpu_counts_by_nonidle_time(machine):
    """A productive task on CPU 0 and a reclaiming kernel thread on CPU 1 for 1 s each: CPU 1
    is SOME and FULL (its only running task is stalled), CPU 0 neither; weighted by their equal
    non-idle time, 0.5 s of each."""
    m = machine
    k = m.kernel
    p = m.spawn(cpu=0)
    flags = []

    def body():
        if not flags:
            flags.append(psi.psi_memstall_enter(k, th))
            th.keep_running(NSEC_PER_SEC)
            return None
        psi.psi_memstall_leave(k, th, flags.pop())
        return None

    th = kthread(k.clock, "reclaimer", body, k)
    with running(k, p.task):
        th.wake_up()
        assert th.cpu == 1  # CPU 0 runs the process
        k.clock.run_until(NSEC_PER_SEC)
    m.run(3)
    assert pressure(m.proc("pressure/memory"))["some"][3] == 500_000
    assert pressure(m.proc("pressure/memory"))["full"][3] == 500_000


def test_reclaimer_sharing_a_cpu_makes_it_full_while_on_it(machine):
    """Every CPU busy with a process, the reclaimer wakes on CPU 0 and takes it (wake-up
    preemption): CPU 0 has two running tasks, one stalled, so the counts alone say SOME only;
    but the task on the CPU reclaims, so it is FULL too. 1 s of 4 equally busy CPUs: 0.25 s."""
    m = machine
    k = m.kernel
    procs = [m.spawn(cpu=cpu) for cpu in range(4)]
    flags = []

    def body():
        if not flags:
            flags.append(psi.psi_memstall_enter(k, th))
            th.keep_running(NSEC_PER_SEC)
            return None
        psi.psi_memstall_leave(k, th, flags.pop())
        return None

    th = kthread(k.clock, "reclaimer", body, k)
    with running(k, procs[0].task), running(k, procs[1].task), running(k, procs[2].task), \
            running(k, procs[3].task):
        th.wake_up()
        assert th.cpu == 0
        k.clock.run_until(NSEC_PER_SEC)
    m.run(3)
    assert pressure(m.proc("pressure/memory"))["some"][3] == 250_000
    assert pressure(m.proc("pressure/memory"))["full"][3] == 250_000


def test_refault_wait_is_a_memstall_other_waits_are_not(machine):
    """folio_wait_bit on a locked, not uptodate PG_workingset folio stalls (SOME, and FULL:
    nothing else runs); the same wait for a folio that was not in the workingset does not."""
    m = machine
    k = m.kernel
    p = m.spawn()
    for workingset, expect in ((True, 8000), (False, 0)):  # us; two jiffies (a CPU busy < 1 jiffy weighs 0)
        pfn = m.alloc_pages()
        folio_set(k, pfn, PG_locked)
        if workingset:
            folio_set(k, pfn, PG_workingset)
        folio_clear(k, pfn, PG_uptodate)
        k.clock.add_timer(k.clock.now + 8_000_000, folio_clear, k, pfn, PG_locked)  # the read completes
        before = pressure(m.proc("pressure/memory"))
        with running(k, p.task):
            folio_wait_bit(k, pfn, PG_locked)
        m.run(3)
        after = pressure(m.proc("pressure/memory"))
        assert after["some"][3] - before["some"][3] == expect
        assert after["full"][3] - before["full"][3] == expect


def test_memory_high_sleep_is_a_full_stall(machine):
    m = machine
    k = m.kernel
    p = m.spawn()
    with running(k, p.task):
        schedule_timeout_memstall(k, 300_000_000)
    m.run(3)
    assert pressure(m.proc("pressure/memory"))["full"][3] == 300_000


def test_direct_reclaim_is_a_memory_stall():
    """A writer that fills a 96 MiB machine with page cache reclaims directly: its reclaim
    (at the stated cost per page) is stall time."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/data", "rw", create=True)
    for mib in range(160):
        p.pwrite(fd, 1 << 20, offset=mib << 20, value=mib & 0xFF, chunk=4096)
        p.fsync(fd)
    vmstat = dict(line.split() for line in m.proc("vmstat").splitlines())
    assert sum(int(v) for name, v in vmstat.items() if name.startswith("allocstall_")) > 0
    m.run(3)
    some = pressure(m.proc("pressure/memory"))["some"][3]
    assert some > 0


def test_memcg_reclaim_is_a_memory_stall_of_the_cgroup():
    """A reader in a cgroup whose memory.max is below its file's size reclaims its own page
    cache at every charge (try_charge_memcg -> try_to_free_mem_cgroup_pages, at the reclaim
    cost per page): stall time in its memory.pressure, none in a sibling's."""
    m = linuxmm.Machine(cmdline="mem=512M")
    cg = m.cgroup("box")
    m.cgroup("other")
    cg.write("memory.max", "16M")
    p = m.spawn(cgroup="box")
    fd = p.open("/f", "rw", create=True)
    for mib in range(48):
        p.pwrite(fd, 1 << 20, offset=mib << 20, value=mib, chunk=1 << 20)
        p.fsync(fd)
    m.run(3)
    assert int(cg.read("memory.current")) <= 16 << 20
    assert pressure(cg.read("memory.pressure"))["some"][3] > 0
    assert pressure(m.cgroup("other").read("memory.pressure"))["some"][3] == 0
