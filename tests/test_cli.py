"""The ``linuxmm`` command line: every command runs, data on stdout, errors without tracebacks."""

import json
import re

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
    from linuxmm.cli import main
    import subprocess, sys
    bad = tmp_path / "bad.toml"
    bad.write_text("e820 = [{start = 0, end = 0x10}]\narch = 'vax'\n")
    for args in (["boot", "--machine", str(bad)], ["boot", "--preset", "nope"],
                 ["alloc", "f3"], ["alloc", "--gfp", "GFP_WHAT", "0"], ["boot", "--host", "--preset", "default"]):
        p = subprocess.run([sys.executable, "-c", "from linuxmm.cli import main; main()", *args],
                           capture_output=True, text=True)
        assert p.returncode == 2, (args, p.stderr)
        assert "linuxmm: error:" in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
