"""The selftest runner (``linuxmm.kselftest.ksft``) and ``linuxmm selftest``: kselftest's
TAP, line for line, for passing, failing, expected-failing and skipped checks, of one
program and of several nested; the JSON for programs; errors without tracebacks."""

import json
import types

from typer.testing import CliRunner

from linuxmm.cli import app
from linuxmm.kselftest import PORTED
from linuxmm.kselftest.ksft import FAIL, PASS, SKIP, XFAIL, ProgramResult, Result, run_program, tap


def _program(fixture, *cases):
    return types.SimpleNamespace(FIXTURE=fixture, SOURCE="x.c", **{c.__name__: c for c in cases})


def test_ksft_program_tap():
    def test_steps(t):
        t.print_msg("[RUN] steps")
        t.test_result(True, "first")
        t.test_result(False, "second")
        t.test_result_xfail("third")
        t.test_result_skip("no swap")

    def test_stops(t):
        t.test_result(True, "before")
        t.exit_fail("BUG_ON")

    def test_gives_up(t):
        t.exit_skip("not here")

    res = run_program("demo", _program(None, test_steps, test_stops, test_gives_up))
    assert [(r.name, r.case, r.result) for r in res.tests] == [
        ("first", "steps", PASS), ("second", "steps", FAIL), ("", "steps", XFAIL), ("", "steps", SKIP),
        ("before", "stops", PASS), ("stops", "stops", FAIL), ("", "gives_up", SKIP)]
    assert tap([res]) == [
        "TAP version 13", "1..7", "# [RUN] steps", "ok 1 first", "not ok 2 second", "ok 3 # XFAIL third", "ok 4 # SKIP no swap",
        "ok 5 before", "# BUG_ON", "not ok 6 stops", "ok 7 # SKIP not here",
        "# Totals: pass:2 fail:2 xfail:1 xpass:0 skip:2 error:0"]
    assert not res.ok


def test_harness_program_tap():
    def test_good(t):
        assert t.process.mmap(4096) > 0

    def test_bad(t):
        assert t.process.mmap(4096) == 0, "mapped at 0"

    def test_skipped(t):
        t.print_msg("trying")
        t.exit_skip("no KSM")

    res = run_program("demo", _program("fx", test_good, test_bad, test_skipped))
    lines = tap([res])
    assert lines[:3] == ["TAP version 13", "1..3", "ok 1 fx.good"]
    assert lines[3].startswith("# AssertionError at test_runner.py:") and "mapped at 0" in lines[3]
    message = lines[3:lines.index("not ok 2 fx.bad")]  # pytest's assertion rewriting adds lines
    assert all(line.startswith("# ") for line in message)
    assert lines[3 + len(message):] == ["not ok 2 fx.bad", "# trying", "ok 3 fx.skipped # SKIP no KSM",
                                        "# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0"]


def test_nested_tap_as_run_kselftest():
    ok = ProgramResult("a", "a.c", [Result("x", "x", PASS)])
    skipped = ProgramResult("b", "b.c", [Result("", "y", SKIP, "why")])
    bad = ProgramResult("c", "c.c", [Result("z", "z", FAIL)])
    lines = tap([ok, skipped, bad])
    assert lines[:3] == ["TAP version 13", "1..3", "# selftests: mm: a"]
    assert "# ok 1 x" in lines and "ok 1 selftests: mm: a" in lines
    assert "ok 2 selftests: mm: b # SKIP" in lines and "not ok 3 selftests: mm: c" in lines


def _cli(*args):
    return CliRunner().invoke(app, ["selftest", *args])


def test_cli_tap_json_and_errors():
    r = _cli("map_fixed_noreplace")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:3] == ["TAP version 13", "1..9", "ok 1 mmap() 5*PAGE_SIZE at base"]
    assert lines[-1] == "# Totals: pass:9 fail:0 xfail:0 xpass:0 skip:0 error:0"
    data = json.loads(_cli("map_fixed_noreplace", "--json").stdout)
    assert [p["name"] for p in data["programs"]] == ["map_fixed_noreplace"]
    assert data["programs"][0]["totals"]["pass"] == 9
    assert {"file": "map_fixed_noreplace.c", "program": "map_fixed_noreplace", "status": "ported",
            "note": "all"} in data["catalog"]
    r = _cli("no_such_test")
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("linuxmm: compil")]
    assert r.exit_code == 1 and r.stdout == "" and len(lines) == 1
    assert lines[0] == ("linuxmm: error: no ported selftest named 'no_such_test' (ported: "
                        + ", ".join(sorted(PORTED)) + ")")
