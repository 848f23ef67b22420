"""Every shell example of the README runs as written from the repository root.

The lines of its ```sh blocks run in order in a scratch directory that looks like the
repository root (``tests``, ``src``, ``docs``, ``benchmarks``, ``examples`` linked in), so files the
examples create land there: a plain ``linuxmm ARGS`` line in this process (the CLI's own
entry point, one load of the compiled core for all), any other line in ``bash``. A line is
skipped only for a reason named in ``SKIPPED``; a new example needs none and runs.
"""

import os
import traceback
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linuxmm.cli import app

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
# Why a line does not run here, by how it starts.
SKIPPED = {
    "valgrind ": "needs valgrind (and minutes under it)",
    "linuxmm replay xz.lackey": "replays the trace only the valgrind line above records",
    "python3 -m venv": "sets up the environment this test runs in",
    "pip install": "sets up the environment this test runs in",
    "bash .ci/run": "runs the whole suite, this test included",
    "LINUXMM_FUZZ_EXAMPLES=2000": "the long fuzzing run (tens of minutes)",
    "python benchmarks/": "a benchmark (minutes each; bench_compile.py compiles from a cold cache)",
}


def readme_lines() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def skip_reason(line: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if line.startswith(start)), None)


def test_every_skip_names_a_line():
    lines = readme_lines()
    assert all(any(line.startswith(start) for line in lines) for start in SKIPPED)
    assert sum(skip_reason(line) is None for line in lines) >= 30


@pytest.fixture(scope="module")
def root_like(tmp_path_factory) -> Path:
    """A scratch repository root, with ``linuxmm`` on PATH running this checkout's source."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("tests", "src", "docs", "benchmarks", "examples"):
        (work / name).symlink_to(ROOT / name)
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "linuxmm"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m linuxmm.cli "$@"\n')
    shim.chmod(0o755)
    return work


SHELL_SYNTAX = {">", ">>", "<", "|", "&&", "||", ";", "&"}


def run_line(line: str, cwd: Path, env: dict) -> tuple[int, str]:
    """Exit status and stderr of one README line."""
    words = shlex.split(line, comments=True)
    if words[0] == "linuxmm" and not SHELL_SYNTAX & set(words):
        os.chdir(cwd)
        r = CliRunner().invoke(app, words[1:])
        return r.exit_code, r.stderr + ("".join(traceback.format_exception(r.exception))
                                         if r.exception and not isinstance(r.exception, SystemExit) else "")
    run = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True)
    return run.returncode, run.stderr


def test_readme_examples_run(root_like):
    env = os.environ | {"PATH": f"{root_like / '.bin'}:{os.environ['PATH']}",
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    failed, here = [], os.getcwd()
    try:
        for line in readme_lines():
            if skip_reason(line):
                continue
            code, stderr = run_line(line, root_like, env)
            if code or "Traceback" in stderr or "linuxmm: error" in stderr:
                failed.append(f"{line}\n  exit {code}: {stderr.strip()[-800:]}")
    finally:
        os.chdir(here)
    assert not failed, "\n".join(failed)
