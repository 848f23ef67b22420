"""Workloads over simulated time (``tools/workload.py``, ``Machine.run_workload``, ``linuxmm run``):
strict parsing with lines and keys, determinism, the sampler's interval, rates, the outputs."""

import csv

import pytest
from typer.testing import CliRunner

from linuxmm import Machine
from linuxmm.cli import app
from linuxmm.errors import ParseError
from linuxmm.tools import workload as W

MiB = 1 << 20
SMALL = "mem=256M"  # a small machine: the runs below take well under a second of wall time

GROW = """\
interval = "100ms"
seed = 3

[[process]]
name = "grow"

[[process.phase]]
op = "alloc"
size = "16M"
rate = "64M"

[[process.phase]]
op = "touch"
pattern = "random"
rate = "64M"

[[process]]
name = "late"
start = "150ms"

[[process.phase]]
op = "alloc"
size = "8M"
pattern = "random"
"""


def machine() -> Machine:
    return Machine(cmdline=SMALL)


def error(text: str) -> ParseError:
    with pytest.raises(ParseError) as e:
        W.loads(text, "w.toml")
    return e.value


@pytest.mark.parametrize("text, line, words", [
    ('interval = "1s"\n\n[[process]]\nname = "a"\ncolour = "red"\n', 5, ["process[0].colour", "unknown key"]),
    ('[[process]]\n[[process.phase]]\nop = "alloc"\nsize = "1M"\nrate = "-5M"\n', 5, ["process[0].phase[0].rate"]),
    ('[[process]]\n[[process.phase]]\nop = "alloc"\nsize = "1M"\nrate = -5\n', 5, ["rate", "positive"]),
    ('interval = "10 parsecs"\n[[process]]\n[[process.phase]]\nop = "sleep"\ntime = "1s"\n', 1,
     ["interval", "10 parsecs", "duration"]),
    ('[[process]]\n[[process.phase]]\nop = "sleep"\ntime = "1s"\n[[process]]\n[[process.phase]]\n'
     'op = "touch"\n', 7, ["process[1].phase[0].op", "needs an 'alloc'"]),
    ('[[process]]\n[[process.phase]]\nop = "alloc"\nsize = "1P"\n', 4, ["process[0].phase[0].size", "address space"]),
    ('[[process]]\n[[process.phase]]\nop = "read"\n', 2, ["process[0].phase[0]", "needs 'file'"]),
    ('[[process]]\n[[process.phase]]\nop = "sleep"\ntime = "1s"\nsize = "1M"\n', 5, ["size", "not a key of op"]),
    ('seed = 1\n', None, ["process: a workload needs at least one [[process]]"]),  # no line to name
])
def test_parse_errors_name_line_and_key(text, line, words):
    e = error(text)
    assert e.lineno == line, str(e)
    assert all(w in str(e) for w in words), str(e)
    assert str(e).startswith(f"w.toml:{line}: " if line else "w.toml: ")


def test_key_lines_count_arrays_of_tables():
    lines = W.key_lines(GROW)
    assert lines[("process", 1, "phase", 0, "size")] == 23
    assert lines[("process", 0, "phase", 1, "pattern")] == 14
    assert lines[("seed",)] == 2


SLEEP = '[[process]]\n[[process.phase]]\nop = "sleep"\ntime = "10ms"\n'


def test_swap_key_enables_a_swap_area():
    m = machine()
    m.run_workload(W.loads('swap = "64M"\n' + SLEEP, "w.toml"))
    assert "65532" in m.proc("swaps")  # 64 MiB less the header page, in kB


def test_swap_the_machine_refuses_names_its_line():
    with pytest.raises(ParseError, match=r"w.toml:1: swap: .*at most 256 GiB"):
        machine().run_workload(W.loads('swap = "64T"\n' + SLEEP, "w.toml"))


RANDOM = """\
interval = "10ms"
duration = "50ms"
seed = 3

[[process]]
[[process.phase]]
op = "alloc"
size = "192M"
rate = "64M"
pattern = "random"
"""


CONTAINERS = """\
interval = "50ms"

[[cgroup]]
path = "box/a"
"memory.max" = "32M"

[[cgroup]]
path = "box/b"
"memory.low" = "16M"

[[process]]
name = "leak"
cgroup = "box/a"

[[process.phase]]
op = "alloc"
size = "64M"
rate = "256M"

[[process]]
name = "ok"
cgroup = "box/b"

[[process.phase]]
op = "alloc"
size = "16M"
rate = "256M"
"""


def test_cgroups_limit_their_processes():
    """[[cgroup]] declares cgroups with memory.* limits; a process in a 32 MiB cgroup
    allocating 64 MiB is killed by its memcg's OOM killer, the other finishes; the samples
    carry each cgroup's memory.current and memory.events."""
    r = machine().run_workload(W.loads(CONTAINERS))
    states = {p["name"]: (p["state"], p["cgroup"]) for p in r.summary["processes"]}
    assert states == {"leak": ("killed", "box/a"), "ok": ("done", "box/b")}
    last = r[len(r) - 1]
    assert last["memory.events.oom_kill:box/a"] == 1 and last["memory.events.max:box/a"] > 0
    assert last["memory.events.oom_kill:box/b"] == 0
    assert 0 < max(r.column("memory.current_kB:box/a")) <= 32 * 1024
    assert max(r.column("memory.current_kB:box/b")) > 0


@pytest.mark.parametrize("text, line, words", [
    ('[[cgroup]]\npath = "a"\n"cpu.max" = "1"\n', 3, ["cgroup[0].cpu.max", "unknown key"]),
    ('[[cgroup]]\npath = "a"\nmemory.max = "1G"\n', 1, ["cgroup[0].memory", "quote"]),  # the table's line
    ('[[cgroup]]\n"memory.max" = "1G"\n', 1, ["cgroup[0]", "needs 'path'"]),
    ('[[cgroup]]\npath = "a"\n"memory.max" = 1.5\n', 3, ["cgroup[0].memory.max", "whole number"]),
])
def test_cgroup_parse_errors_name_line_and_key(text, line, words):
    e = error(text + GROW.split("\n", 2)[2])
    assert e.lineno == line and all(w in str(e) for w in words), str(e)


@pytest.mark.parametrize("key, value, errno_name", [("memory.max", '"512X"', "EINVAL"), ("memory.max", '"-1"', "EINVAL"),
                                                   ("memory.current", '"0"', "EACCES")])
def test_cgroup_values_the_kernel_refuses_name_their_line(key, value, errno_name):
    text = f'[[cgroup]]\npath = "a/b"\n"{key}" = {value}\n' + GROW.split("\n", 2)[2]
    with pytest.raises(ParseError, match=rf"w.toml:3: cgroup\[0\]\.{key}: .*{errno_name}"):
        machine().run_workload(W.loads(text, "w.toml"))
    with pytest.raises(ParseError, match=r"w.toml:\d+: process\[0\]\.cgroup: .*EINVAL"):
        machine().run_workload(W.loads(GROW.replace('name = "grow"', 'name = "grow"\ncgroup = "a/.."'), "w.toml"))


def test_values_the_machine_refuses_name_their_line():
    with pytest.raises(ParseError, match=r"w.toml:2: sysctl.vm.swappiness: .*EINVAL"):
        machine().run_workload(W.loads('[sysctl]\n"vm.swappiness" = 999\n' + GROW.split("\n", 2)[2], "w.toml"))


def test_more_than_ram_runs_and_the_oom_killer_stops_one():
    text = ('[[process]]\nname = "a"\n[[process.phase]]\nop = "alloc"\nsize = "160M"\nrate = "1G"\n'
            '[[process]]\nname = "b"\nstart = "100ms"\n[[process.phase]]\nop = "alloc"\nsize = "160M"\n'
            'rate = "1G"\n')
    r = machine().run_workload(W.loads(text))
    states = sorted(p["state"] for p in r.summary["processes"])
    assert states == ["done", "killed"], r.summary
    assert r[len(r) - 1]["oom_kill"] == 1


def test_a_run_is_deterministic():
    a, b = (machine().run_workload(W.loads(text)) for text in (RANDOM, RANDOM))
    assert a.columns == b.columns and len(a) == len(b) > 3
    assert list(a) == list(b)  # every counter of every sample
    assert a.summary["processes"] == b.summary["processes"]
    # the seed matters: another order of first touches fills other page tables first
    c = machine().run_workload(W.loads(RANDOM.replace("seed = 3", "seed = 4")))
    assert [r["pgfault"] for r in c] == [r["pgfault"] for r in a]
    assert [r["PageTables"] for r in c] != [r["PageTables"] for r in a]
    assert c.summary["processes"][0]["state"] == "running"  # stopped by the duration


def test_samples_are_at_the_interval():
    r = machine().run_workload(W.loads(GROW), interval="50ms")
    assert [round(t * 1e9) for t in r.column("time_s")] == [i * 50_000_000 for i in range(len(r))]
    assert r.column("time_s")[-1] >= max(p["end_s"] for p in r.summary["processes"])
    assert {"MemFree", "MemAvailable", "Cached", "Inactive(anon)", "SwapFree", "pgfault", "pgmajfault",
            "oom_kill", "wmark_min_kB", "wmark_low_kB", "wmark_high_kB"} <= set(r.columns)


def test_rates_are_honoured():
    text = '[[process]]\nname = "a"\n[[process.phase]]\nop = "alloc"\nsize = "64M"\nrate = "64M"\n'
    r = machine().run_workload(W.loads(text), interval="250ms")
    p = r.summary["processes"][0]
    assert p["state"] == "done" and p["end_s"] == 1.0 and p["minflt"] == 64 * MiB // 4096
    half = r[2]  # at 0.5 s: half of it written, give or take one step
    assert half["time_s"] == 0.5
    assert 32 * MiB <= half["AnonPages"] * 1024 <= 33 * MiB


def test_file_phases_and_processes_interleave():
    text = ('[[file]]\npath = "/data/f"\nsize = "8M"\n[[process]]\n[[process.phase]]\nop = "read"\n'
            'file = "/data/f"\nrepeat = 2\nrate = "32M"\n[[process]]\n[[process.phase]]\nop = "alloc"\n'
            'size = "8M"\nrate = "32M"\n')
    r = machine().run_workload(W.loads(text, "rw.toml"), interval="50ms")
    a, b = r.summary["processes"]
    assert (a["bytes"], b["bytes"]) == (16 * MiB, 8 * MiB)
    # side by side, each at its rate; the reader's waits for the disk hold the clock (one CPU)
    assert a["end_s"] == 0.5 and 0.25 <= b["end_s"] < 0.26
    assert r[0]["Cached"] == 0 and r[1]["Cached"] >= 1024  # the file starts on the disk
    assert r[len(r) - 1]["pgpgin"] >= 8 * 1024  # KiB read from it


def test_csv_and_parquet_round_trip(tmp_path):
    r = machine().run_workload(W.loads(GROW))
    r.to_csv(tmp_path / "w.csv")
    with open(tmp_path / "w.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(r.columns) and len(rows) == len(r)
    assert [{k: float(v) for k, v in row.items()} for row in rows] == [{k: float(v) for k, v in x.items()} for x in r]
    pq = pytest.importorskip("pyarrow.parquet")
    r.to_parquet(tmp_path / "w.parquet")
    assert pq.read_table(tmp_path / "w.parquet").to_pylist() == list(r)


def test_result_is_read_only():
    r = machine().run_workload(W.loads(GROW))
    r[0]["MemFree"] = -1
    r.summary["processes"].clear()
    assert r[0]["MemFree"] > 0 and len(r.summary["processes"]) == 2


runner = CliRunner()


def test_cli_bad_file_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[process]]\n[[process.phase]]\nop = "alloc"\nsize = "1M"\nrate = "fast"\n')
    r = runner.invoke(app, ["run", str(bad)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{bad}:5: process[0].phase[0].rate: cannot read 'fast'" in r.output
    r = runner.invoke(app, ["run", str(tmp_path / "missing.toml")])
    assert r.exit_code == 1 and "cannot read workload file" in r.output
    good = tmp_path / "good.toml"
    good.write_text(GROW)
    r = runner.invoke(app, ["run", str(good), "--interval", "5 fortnights"])
    assert r.exit_code == 1 and "--interval" in r.output


def test_cli_writes_plot_csv_and_json(tmp_path):
    import json

    w = tmp_path / "grow.toml"
    w.write_text(GROW)
    png, out = tmp_path / "w.png", tmp_path / "w.csv"
    r = runner.invoke(app, ["run", str(w), "--cmdline", SMALL, "--plot", str(png), "--csv", str(out),
                            "--sysctl", "vm.swappiness=10", "--json"])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(r.stdout)
    assert len(data["rows"]) == len(out.read_text().splitlines()) - 1
    assert data["summary"]["final"]["pgfault"] == data["rows"][-1]["pgfault"]
    assert [p["state"] for p in data["summary"]["processes"]] == ["done", "done"]


def test_psi_columns_show_the_stall_of_a_throttled_process():
    """A process over its cgroup's memory.high sleeps off the penalty (a memory stall): the
    samples' psi_* columns show it, as /proc/pressure/memory does; an idle run shows none."""
    text = ('interval = "500ms"\n[[process]]\nname = "a"\ncgroup = "app"\n[[process.phase]]\nop = "alloc"\n'
            'size = "48M"\n')
    m = machine()
    m.cgroup("app").write("memory.high", "32M")
    r = m.run_workload(W.loads(text))
    assert {"psi_some_avg10", "psi_some_avg60", "psi_some_avg300", "psi_some_total", "psi_full_avg10",
            "psi_full_total"} <= set(r.columns)
    last = r[len(r) - 1]
    assert last["psi_some_total"] > 1_000_000 and last["psi_full_total"] == last["psi_some_total"]
    assert max(r.column("psi_some_avg10")) > 50
    idle = machine().run_workload(W.loads('duration = "3s"\n[[process]]\n[[process.phase]]\nop = "sleep"\ntime = "3s"\n'))
    assert set(idle.column("psi_some_total")) == {0}
