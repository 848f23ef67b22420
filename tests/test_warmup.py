"""``linuxmm warmup`` and the compile message: one wait compiles every entry point, and a
cold cache is never a silent wait."""

import io
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from linuxmm.tools import warmup as W

ROOT = Path(__file__).parent.parent


REACHED = "print(sorted(f.__qualname__ for f in W.compiled_functions() if f.signatures))"
COMMANDS = [["vm", "mmap:16M", "madvise:hugepage", "write", "fork", "write:8K", "exit"], ["walk", "7ffff7c00000"],
            ["proc", "zoneinfo"], ["alloc", "3", "0", "f1", "d"],
            ["replay", "tests/data/traces/ls-R-json.lackey.gz", "--thp", "always"],
            ["trace", "info", "tests/data/traces/ls-R-json.lackey.gz"]]


def _reached(code: str) -> set[str]:
    """The compiled functions Python called in a fresh process running ``code`` (functions
    reached only from compiled callers are loaded inside their callers' code)."""
    run = subprocess.run([sys.executable, "-c", f"from linuxmm.tools import warmup as W\n{code}\n{REACHED}"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(eval(run.stdout.strip().splitlines()[-1]))


def test_warmup_reaches_every_entry_point_the_commands_reach():
    # A compiled function a command calls and warmup() does not would compile, silently,
    # inside that command on a cold cache: extend warmup().
    by_warmup = _reached("W.warmup()")
    by_commands = _reached("from typer.testing import CliRunner\nfrom linuxmm.cli import app\n"
                           f"for args in {COMMANDS!r}: assert CliRunner().invoke(app, args).exit_code == 0, args")
    assert by_commands and by_commands <= by_warmup, by_commands - by_warmup
    assert W.core_is_cached()


def test_cold_cache_names_the_wait(monkeypatch):
    ran = []
    monkeypatch.setattr(W, "core_is_cached", lambda: False)
    monkeypatch.setattr(W, "warmup", lambda: ran.append(1) or 42.0)
    buf = io.StringIO()
    assert W.ensure_compiled(Console(file=buf, force_terminal=False)) == 42.0
    assert ran == [1]
    text = buf.getvalue()
    assert "compiling the simulator core (once per install, ~" in text and "compiled the simulator core in 42 s" in text
    assert "\n\n" not in text


def test_cached_core_is_silent(monkeypatch):
    monkeypatch.setattr(W, "core_is_cached", lambda: True)
    monkeypatch.setattr(W, "warmup", lambda: 1 / 0)
    buf = io.StringIO()
    assert W.ensure_compiled(Console(file=buf)) == 0.0 and buf.getvalue() == ""
