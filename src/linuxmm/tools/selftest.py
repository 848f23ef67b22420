"""``linuxmm selftest``: run the ported mm selftests and print kselftest's TAP (not a
kernel file).

``run(names)`` runs the named ported programs (all of them when none is named) and returns
their results; ``report(results)`` is what ``--json`` prints: every program's results and
totals and the catalog of every selftest file with its status (``linuxmm.kselftest``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..errors import LinuxmmError
from ..kselftest import CATALOG, PORTED, program_name
from ..kselftest.ksft import ProgramResult, as_json, run_program, tap
from .console import err, print_json
from .warmup import ensure_compiled


def run(names: list[str]) -> list[ProgramResult]:
    """The named programs' results (every ported program for no name), in the order asked.

    Raises ``LinuxmmError`` naming an unknown program and the ported ones."""
    unknown = [n for n in names if n not in PORTED]
    if unknown:
        raise LinuxmmError(f"no ported selftest named {', '.join(map(repr, unknown))} "
                           f"(ported: {', '.join(sorted(PORTED))})")
    return [run_program(name, PORTED[name]) for name in (names or sorted(PORTED))]


def report(results: list[ProgramResult]) -> dict:
    """``--json``: the programs run, and the catalog of every selftest file."""
    return as_json(results) | {"catalog": [{"file": f, "program": program_name(f), "status": status, "note": note}
                                           for f, status, note in CATALOG]}


def tap_text(results: list[ProgramResult]) -> str:
    return "\n".join(tap(results))


def selftest(names: Annotated[Optional[list[str]], typer.Argument(
                 help="Ported programs to run (default: all), e.g. merge mremap_test")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="The results and the catalog of every "
                                                                   "selftest file as JSON (docs/json.md).")] = False):
    """Run the kernel's mm selftests (tools/testing/selftests/mm, Linux 6.18) ported to the
    simulator, printing kselftest's TAP; exit status 1 if any test failed."""
    ensure_compiled(err)
    results = run(names or [])
    if as_json:
        print_json(report(results))
    else:
        sys.stdout.write(tap_text(results) + "\n")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``selftest`` command to the main app."""
    app.command()(selftest)
