"""The ``linuxmm`` command line: every command runs, data on stdout, errors without tracebacks."""

import json
import re

import pytest
from typer.testing import CliRunner

from conftest import DATA
from linuxmm.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_boot_formats():
    r = run("boot", "--format", "dmesg")
    assert r.exit_code == 0 and "Zone ranges:" in r.stdout and "Policy zone: Normal" in r.stdout
    r = run("boot", "--format", "json", "--preset", "seed-arm64-numa")
    lay = json.loads(r.stdout)
    assert lay["arch"] == "arm64" and [n["nid"] for n in lay["nodes"]] == [0, 1]
    r = run("boot", "--preset", "seed-x86-32")
    assert r.exit_code == 0 and "HighMem" in r.stdout


def test_boot_from_dmesg_reproduces_log():
    log = DATA / "dmesg" / "Server__4.15.0-112-GENERIC__X86_64__874EAAB0BB.log"
    r = run("boot", "--from-dmesg", str(log), "--format", "dmesg")
    assert "Reserved but unavailable: 103 pages" in r.stdout


def test_presets_and_demo():
    assert "seed-x86-interleaved" in run("presets").stdout
    r = run("demo")
    assert r.exit_code == 0 and "Zone ranges:" in r.stdout and "nodes and zones" in r.stdout
    # 64 MiB written: 16384 faults and 65536 kB resident; the child rewrites 32 MiB of it
    assert re.search(r"pid 1\W+16384\W+65536\W", r.stdout), r.stdout
    assert "child took 8192 copy-on-write faults for 32 MiB" in r.stdout
    assert re.search(r"Node 1, zone\s+Normal(\s+\d+){11}\s*$", r.stdout, re.M)  # buddyinfo, 11 orders


def test_alloc_shows_split_and_merge():
    r = run("alloc", "--preset", "seed-x86-32", "9", "0", "f0", "f1", "d")
    assert r.exit_code == 0 and "free_area after" in r.stdout and "alloc order 9" in r.stdout


def test_errors_are_clear_not_tracebacks(tmp_path):
    import subprocess, sys
    bad = tmp_path / "bad.toml"
    bad.write_text("e820 = [{start = 0, end = 0x10}]\narch = 'vax'\n")
    for args in (["boot", "--machine", str(bad)], ["boot", "--preset", "nope"],
                 ["alloc", "f3"], ["alloc", "--gfp", "GFP_WHAT", "0"], ["boot", "--host", "--preset", "default"]):
        p = subprocess.run([sys.executable, "-c", "from linuxmm.cli import main; main()", *args],
                           capture_output=True, text=True)
        assert p.returncode == 1, (args, p.stderr)
        assert "linuxmm: error:" in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)


TRACE = str(DATA / "traces" / "cat-maps.lackey.gz")
MAPS = str(DATA / "traces" / "cat-maps.maps")
MACHINE_COMMANDS = (["boot"], ["proc", "zoneinfo"], ["alloc", "0"], ["vm", "mmap:4K"], ["walk", "0"],
                    ["replay", TRACE])
# Every path a command reads, with P standing for the path under test.
PATH_ARGS = [cmd + [opt, "P"] for cmd in MACHINE_COMMANDS for opt in ("--from-dmesg", "--machine")] + [
    ["replay", "P"], ["replay", TRACE, "--maps", "P"], ["trace", "info", "P"], ["trace", "convert", "P", "OUT"]]


def bad_paths(tmp_path):
    (tmp_path / "empty").write_text("")
    return {"missing": tmp_path / "missing", "directory": tmp_path, "empty": tmp_path / "empty"}


def assert_one_error_line(r, args):
    assert r.exit_code == 1, (args, r.exit_code, r.output)
    # on a cold numba cache the first command also says it is compiling the core
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("linuxmm: compil")]
    assert len(lines) == 1 and lines[0].startswith("linuxmm: error: "), (args, r.stderr)


@pytest.mark.parametrize("args", PATH_ARGS, ids=" ".join)
def test_bad_paths_are_one_error_line(args, tmp_path):
    for kind, path in bad_paths(tmp_path).items():
        argv = [{"P": str(path), "OUT": str(tmp_path / "out.bin")}.get(a, a) for a in args]
        assert_one_error_line(runner.invoke(app, argv), (kind, argv))


def test_convert_to_unwritable_path(tmp_path):
    for dst in (tmp_path, tmp_path / "no" / "such.bin"):
        assert_one_error_line(runner.invoke(app, ["trace", "convert", TRACE, str(dst)]), dst)


def test_unknown_names_list_the_valid_ones():
    r = runner.invoke(app, ["replay", TRACE, "--trace-format", "json"])
    assert r.exit_code == 2 and "'lackey'" in r.stderr and "'pinatrace'" in r.stderr and "Traceback" not in r.stderr
    # --format is an output format (boot); the input format of a trace is --trace-format.
    r = runner.invoke(app, ["trace", "info", TRACE, "--format", "lackey"])
    assert r.exit_code == 2 and "--trace-format" in r.stderr


def test_real_maps_file(tmp_path):
    # The recorded pair: cat printing its own /proc/self/maps under valgrind ([vsyscall],
    # [vvar], valgrind's own mappings and RELRO pages written before they became read-only).
    r = runner.invoke(app, ["replay", TRACE, "--maps", MAPS, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["minor_faults"] > 0
    assert "skipped [vsyscall]" in r.stderr and ":56:" in r.stderr
    bad = tmp_path / "maps"
    bad.write_text("00400000-00452000 r-xp 00000000 08:02 1 /bin/x\n"
                   "800000000000-800000001000 rw-p 00000000 00:00 0\n")
    r = runner.invoke(app, ["replay", TRACE, "--maps", str(bad)])
    assert_one_error_line(r, "above TASK_SIZE")
    assert f"{bad}:2: cannot map 0x800000000000-0x800000001000" in r.stderr


def test_piped_output_keeps_every_number():
    # Not a terminal: tables take their natural width instead of cutting cells at 80 columns.
    r = run("boot")
    assert "[0x100000000-0x23fffffff]" in r.stdout and "…" not in r.stdout
    r = run("walk", "7ffff7c00000")
    assert "0x1000017f8" in r.stdout and "0000000100002067" in r.stdout and "…" not in r.stdout
    r = run("proc", "zoneinfo", "--table")
    assert "threshold" in r.stdout and "…" not in r.stdout


def test_json_everywhere():
    lay = json.loads(run("boot", "--json").stdout)
    assert lay["nodes"][0]["zones"][1]["name"] == "DMA32"
    assert {"name": "seed-x86-32"}.items() <= next(p for p in json.loads(run("presets", "--json").stdout)
                                                    if p["name"] == "seed-x86-32").items()
    zones = json.loads(run("proc", "zoneinfo", "--table", "--json").stdout)
    assert zones[0]["zone"] == "DMA" and zones[0]["managed"] == 3840 and len(zones[0]["protection"]) == 5
    a = json.loads(run("alloc", "3", "0", "f0", "d", "--json").stdout)
    assert [s["op"] for s in a["steps"]] == ["alloc", "alloc", "free", "drain"] and a["steps"][2]["order"] == 3
    assert sum(a["free_area_before"]["0/DMA"]) > 0
    v = json.loads(run("vm", "mmap:1M", "write", "--walk", "7ffff7f00000", "--json").stdout)
    assert v["processes"][0]["minflt"] == 256 and v["processes"][0]["smaps_rollup"]["Rss"] == 1024
    assert v["walk"]["page_size"] == 4096 and v["walk"]["levels"][0]["hw"] == "PML4"
    w = json.loads(run("walk", "7ffff7c00000", "7fff00000000", "--json").stdout)
    assert w["walks"][0]["phys"] is not None and w["walks"][1]["phys"] is None
    r = json.loads(run("replay", TRACE, "--json").stdout)
    assert r["records"] == 421_627 and r["compile_seconds"] == 0
    assert json.loads(run("trace", "info", TRACE, "--json").stdout)["by_kind"]["modify"] == 1765


def test_kernel_warnings_in_every_view():
    # The typo is a parameter nothing claims: the kernel (5.15+) names it; mem=-5G is malformed.
    r = runner.invoke(app, ["boot", "--cmdline", "moveablecore=25% mem=-5G splash"])
    assert r.exit_code == 0
    assert 'linuxmm: kernel: Unknown kernel command line parameters "splash moveablecore=25%", will be passed ' \
           "to user space." in r.stderr
    assert "Malformed early option 'mem'" in r.stderr
    r = runner.invoke(app, ["boot", "-f", "dmesg", "--cmdline", "moveablecore=25%"])
    assert 'Unknown kernel command line parameters "moveablecore=25%"' in r.stdout and r.stderr == ""
    assert "Unknown kernel" not in run("boot", "-f", "dmesg", "--cmdline", "movablecore=25% quiet").stdout


def test_help_and_version():
    for args in (["--help"], ["boot", "--help"], ["trace", "info", "--help"]):
        r = run(*args)
        assert r.exit_code == 0 and "--help" in r.stdout and "<bool>" not in r.stdout, args
    from linuxmm import __version__
    assert run("--version").stdout == f"linuxmm {__version__}\n"


def test_small_cli_items(tmp_path):
    r = run("vm", "mmap:16M:rw:shared", "write")  # naming flags keeps the mapping anonymous
    assert r.exit_code == 0 and "4096 page faults" in r.stdout
    w = json.loads(run("walk", "--preset", "seed-arm64-numa", "fffff7c00000", "--json").stdout)["walks"][0]
    assert [lv["hw"] for lv in w["levels"] if not lv["folded"]] == ["L0", "L1", "L2", "L3"] and w["phys"]
    r = runner.invoke(app, ["alloc", "-1"])
    assert r.exit_code == 1 and "an order is 0 to MAX_PAGE_ORDER (10)" in r.stderr
    r = runner.invoke(app, ["proc", "meminfos"])
    assert r.exit_code == 1 and "zoneinfo, buddyinfo" in r.stderr
    r = runner.invoke(app, ["proc", "sys/vm/swapiness"])
    assert r.exit_code == 1 and "swappiness" in r.stderr


def test_presets_describe_themselves_and_dump():
    for p in json.loads(run("presets", "--json").stdout):
        assert not p["description"].startswith("Seed example"), p
    toml = run("presets", "--dump", "seed-x86-interleaved").stdout
    assert toml.startswith('name = "seed-x86-interleaved"')


def test_dumped_preset_boots_as_machine_file(tmp_path):
    (tmp_path / "mine.toml").write_text(run("presets", "--dump", "seed-x86-32").stdout)
    mine = json.loads(run("boot", "--json", "--machine", str(tmp_path / "mine.toml")).stdout)
    assert mine["nodes"] == json.loads(run("boot", "--json", "--preset", "seed-x86-32").stdout)["nodes"]


def test_replay_skip_bad_thp_and_quiet_stderr(tmp_path):
    bad = tmp_path / "bad.lackey"
    bad.write_text("I  04001000,3\n L 1ffefff000,8\nprogram output\n S 1ffefff008,8\n")
    r = runner.invoke(app, ["replay", str(bad), "--skip-bad", "--thp", "always", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["thp"] == "always" and json.loads(r.stdout)["bad_lines"] == 1
    assert r.stderr == "linuxmm: skipped 1 malformed line(s); the first is line 3: 'program output'\n"
    r = runner.invoke(app, ["replay", TRACE])
    assert r.exit_code == 0 and r.stderr == ""  # no progress bar (nor its blank line) when not a terminal


def test_arm64_log_build_facts():
    log = DATA / "dmesg" / "Server__4.19.0-323-ARM64__AARCH64__73D514E056.log"
    text = run("boot", "--from-dmesg", str(log), "-f", "dmesg").stdout
    assert "(8828K kernel code, 1606K rwdata, 2828K rodata, 4864K init, 530K bss," in text
    assert "percpu: Embedded 24 pages/cpu" in text


def test_plots_are_written(tmp_path):
    for args in (["boot", "--preset", "seed-arm64-numa"], ["proc", "buddyinfo"], ["walk", "7ffff7c00000"]):
        png = tmp_path / f"{args[0]}.png"
        r = runner.invoke(app, [*args, "--plot", str(png)])
        assert r.exit_code == 0, (args, r.output)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", args
    assert_one_error_line(runner.invoke(app, ["boot", "--plot", str(tmp_path / "x.nope")]), "suffix")
    assert_one_error_line(runner.invoke(app, ["boot", "--plot", str(tmp_path / "no" / "x.png")]), "no dir")
    assert_one_error_line(runner.invoke(app, ["proc", "zoneinfo", "--plot", str(tmp_path / "z.png")]), "zoneinfo")
    assert_one_error_line(runner.invoke(app, ["walk", "1000", "2000", "--plot", str(tmp_path / "w.png")]), "two")


def test_layout_plot_draws_holes_and_movable_start():
    from matplotlib.figure import Figure

    from linuxmm import Machine
    from linuxmm.tools.plot import plot_layout

    def bars(preset):
        ax = Figure().subplots()
        plot_layout(ax, Machine(preset=preset))
        return ax, [(round(p.get_x(), 3), round(p.get_width(), 3), round(p.get_y() + p.get_height() / 2), p.get_hatch())
                    for p in ax.patches]

    # seed-x86-interleaved: node 0 spans 0-12 GiB with node 1's bank at 4-8 GiB a hole in it
    ax, drawn = bars("seed-x86-interleaved")
    assert (4.0, 8.0, 0, "////") in drawn  # node 0's Normal span, 4-12 GiB, hatched
    assert (8.0, 4.0, 0, None) in drawn and (4.0, 4.0, -1, None) in drawn  # RAM present
    assert not any(x == 4.0 and w == 4.0 and y == 0 and h is None for x, w, y, h in drawn)  # the hole
    ax, drawn = bars("seed-arm64-numa")
    notes = [t.get_text() for t in ax.texts]
    assert "ZONE_MOVABLE\n4200 MiB" in notes and "ZONE_MOVABLE\n9320 MiB" in notes


def test_dmesg_and_ps_after_an_oom_kill():
    """`linuxmm dmesg` prints the log with the OOM report the steps caused; `linuxmm ps` lists
    the survivors with their oom_score; both as JSON too."""
    steps = ["--cmdline", "mem=256M", "mmap:64M", "write", "fork", "mmap:200M", "write"]
    r = runner.invoke(app, ["dmesg", *steps])
    assert r.exit_code == 0, r.output
    assert "a.out invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)" in r.output
    assert "Out of memory: Killed process 2 (a.out)" in r.output and r.output.startswith("BIOS-provided physical RAM map:")
    j = json.loads(runner.invoke(app, ["dmesg", "--json", *steps]).output)
    assert any(line["text"].startswith("Out of memory: Killed process 2") and line["level"] == 3
               for line in j["lines"])
    r = runner.invoke(app, ["ps", "--json", *steps])
    procs = json.loads(r.output)["processes"]
    assert [p["pid"] for p in procs] == [1] and procs[0]["rss_kb"] == 65536 and procs[0]["cgroup"] == "/"
    assert 666 < procs[0]["oom_score"] <= 1000 and procs[0]["oom_score_adj"] == 0
    r = runner.invoke(app, ["ps", *steps])
    assert r.exit_code == 0 and "oom_score" in r.output and "a.out" in r.output


def test_dmesg_follow_prints_each_step_s_lines_after_it(capsys):
    """--follow's printer runs after every step: the OOM report comes out after the step that
    caused it, not before, not only at the end."""
    from linuxmm import Machine
    from linuxmm.cli import LogFollower, run_vm_steps

    m = Machine(cmdline="mem=256M")
    follow = LogFollower(m, False)
    follow()
    assert capsys.readouterr().out == m.dmesg()
    printed = []
    run_vm_steps(m, ["mmap:64M", "write", "fork", "mmap:200M", "write"],
                 after_step=lambda: (follow(), printed.append(capsys.readouterr().out)))
    assert len(printed) == 5 and "Out of memory: Killed process 2" in printed[4]
    assert not "".join(printed[:4])


def test_dmesg_follow_prints_the_log_as_it_grows():
    """`linuxmm dmesg --follow` prints the same lines as `linuxmm dmesg`, each new one after
    the step that logged it (JSON: one object per line); a workload file runs instead of steps."""
    steps = ["--cmdline", "mem=256M", "mmap:64M", "write", "fork", "mmap:200M", "write"]
    plain = runner.invoke(app, ["dmesg", *steps]).output
    assert runner.invoke(app, ["dmesg", "--follow", *steps]).output == plain
    lines = [json.loads(line) for line in runner.invoke(app, ["dmesg", "-w", "--json", *steps]).output.splitlines()]
    assert "".join(line["text"] + "\n" for line in lines) == plain
    w = DATA.parent.parent / "examples" / "anon-growth.toml"  # more than RAM: the OOM killer acts
    r = runner.invoke(app, ["dmesg", "--follow", "--cmdline", "mem=384M", str(w)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("BIOS-provided physical RAM map:") and "Killed process 1 (grower)" in r.output
    assert r.output.endswith("oom_reaper: reaped process 1 (grower), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB\n")
