"""The kselftest framework, for the ported mm selftests (not a kernel file).

The real selftests use two frameworks of ``tools/testing/selftests``: ``kselftest.h``
(a program calls ``ksft_test_result(cond, "name")`` once per check and ``ksft_exit_skip``
to give up) and ``kselftest_harness.h`` (``TEST_F(fixture, name)`` blocks, one TAP line
each, ``ASSERT_*`` ending the test, ``SKIP()`` skipping it). A ported program is a module
of this package holding one ``test_NAME`` function per test case of the C file, in the
file's order; its ``FIXTURE`` names the harness fixture (``"merge"``), or is None for a
``kselftest.h`` program. Every case gets a ``Ksft`` object: a fresh machine and process
(``ksft.process``), ``ksft.test_result`` for ``kselftest.h`` checks, ``ksft.exit_skip``
and ``ksft.exit_fail``; in a harness case a failed ``assert`` is a failed ASSERT.

``run_program`` runs a module's cases and returns their results; ``tap`` prints them the
way the kselftest programs do (``TAP version 13``, ``1..N``, ``ok N name``,
``not ok N name``, ``ok N name # SKIP reason``, ``# Totals: ...``), and, for several
programs, nested the way ``run_kselftest.sh`` nests them (``# selftests: mm: NAME``
then ``ok N selftests: mm: NAME``).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from types import ModuleType

from ..errors import KernelError
from ..machine import Machine
from ..process import Process
from ..sources import toml

PASS, FAIL, SKIP, XFAIL = "pass", "fail", "skip", "xfail"
INFO = "info"  # a ksft_print_msg line: printed, not numbered, not counted

# The machine every case runs on: x86-64 with 1 GiB, 2 CPUs and the default command line
# (THP "madvise"; below 512 MiB the kernel turns THP off, hugepage_init), small enough to
# boot in a fraction of a second. Its kernel has the options the selftests ask for in
# tools/testing/selftests/mm/config that the development host's lacks: CONFIG_MEM_SOFT_DIRTY and
# CONFIG_ANON_VMA_NAME.
SELFTEST_MACHINE = """
name = "kselftest"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x3fffffff }]
[config]
mem_soft_dirty = true
anon_vma_name = true
"""


STDIO = "/dev/tty0"  # what the test program's stdin, stdout and stderr are open on


class KsftSkip(Exception):
    """``ksft_exit_skip`` / the harness's ``SKIP()``: the rest of the case cannot run."""


class KsftFail(Exception):
    """``ksft_exit_fail_msg``: the case stops, failed."""


@dataclass(frozen=True)
class Result:
    """One TAP line: ``name`` as the C program prints it, ``case`` the test case it came
    from, ``result`` pass/fail/skip, ``reason`` the skip reason or the failure message."""
    name: str
    case: str
    result: str
    reason: str = ""


def selftest_machine(keys: dict | None = None) -> Machine:
    """The selftest machine, with a program's own top-level machine keys (``MACHINE``, e.g.
    ``{"la57": True}`` for a program the selftest scripts run only on 5-level paging)."""
    extra = "".join(f"{k} = {_toml_value(v)}\n" for k, v in (keys or {}).items())
    return Machine(toml.loads(extra + SELFTEST_MACHINE))


def _toml_value(v) -> str:
    """A machine key's value as TOML: booleans, numbers, strings, lists of them and inline
    tables (``{"mount": [{"path": ..., "fs": "tmpfs"}]}``)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v) if not isinstance(v, str) else '"' + v + '"'



@dataclass
class Ksft:
    """What a ported test case works with: a fresh machine, the test program's process on
    it, and the ``kselftest.h`` calls that record checks."""
    case: str
    machine: Machine = field(default_factory=selftest_machine)
    process: Process = field(init=False)
    results: list[Result] = field(default_factory=list)

    def __post_init__(self):
        # some cases map 2 GiB regions, more than this 1 GiB machine's RAM, which overcommit's
        # heuristic (mode 0) refuses: the machines the suite runs on have the RAM, so mode 1
        self.machine.sysctl("vm.overcommit_memory", 1)
        self.process = self.machine.spawn("selftest")
        self._open_stdio()

    def _open_stdio(self) -> None:
        """Descriptors 0-2, as a program started from a shell has them (checks such as
        ``fd > 0`` after memfd_create count on it): an empty file stands in for the tty."""
        self.machine.create_file(STDIO, 0)
        for mode in ("r", "w", "w"):
            self.process.open(STDIO, mode)

    def print_msg(self, message: str) -> None:
        """``ksft_print_msg``: a ``# message`` line between the results."""
        self.results.append(Result(message, self.case, INFO))

    def test_result(self, ok: bool, name: str) -> None:
        """``ksft_test_result(cond, name)``: one check, passed or failed."""
        self.results.append(Result(name, self.case, PASS if ok else FAIL))

    def test_result_xfail(self, message: str) -> None:
        """``ksft_test_result_xfail``: a check that failed as the program expects
        (``ok N # XFAIL message``)."""
        self.results.append(Result("", self.case, XFAIL, message))

    def test_result_skip(self, message: str) -> None:
        """``ksft_test_result_skip``: one check that could not run (``ok N # SKIP message``)."""
        self.results.append(Result("", self.case, SKIP, message))

    def exit_skip(self, reason: str) -> None:
        """``ksft_exit_skip`` (``SKIP()`` in a harness case)."""
        raise KsftSkip(reason)

    def exit_fail(self, message: str) -> None:
        """``ksft_exit_fail_msg``."""
        raise KsftFail(message)


def syscall_errno(call, *args, **kwargs) -> int:
    """Run one Process call as a C test sees a syscall: 0 on success, else its errno
    (what ``ret == -1 && errno == E...`` checks)."""
    try:
        call(*args, **kwargs)
    except KernelError as err:
        return err.errno
    return 0


def cases(program: ModuleType) -> list:
    """The test cases of a ported program: its ``test_*`` functions, in the C file's order."""
    return [f for name, f in vars(program).items() if name.startswith("test_") and callable(f)]


def case_name(program: ModuleType, case) -> str:
    """The name the C program prints for a harness case: ``fixture.case``, or the case's own
    ``TAP_NAME`` (``fixture.variant.case``, ``global.case`` for a plain ``TEST``)."""
    return getattr(case, "TAP_NAME", None) or f"{program.FIXTURE}.{case.__name__.removeprefix('test_')}"


def _failure(err: BaseException) -> str:
    if isinstance(err, (KsftFail, KernelError)):
        return str(err)
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return f"{type(err).__name__} at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}: {err}"


def run_case(program: ModuleType, case) -> list[Result]:
    """Run one test case on a fresh machine; its TAP results."""
    name = case.__name__.removeprefix("test_")
    t = Ksft(name, selftest_machine(getattr(program, "MACHINE", None)))
    try:
        case(t)
    except KsftSkip as err:
        return _harness_line(program, case, t, SKIP, str(err)) if program.FIXTURE is not None \
            else t.results + [Result("", name, SKIP, str(err))]
    except Exception as err:  # a failed ASSERT, or an unexpected errno: the case fails
        return _harness_line(program, case, t, FAIL, _failure(err)) if program.FIXTURE is not None \
            else t.results + [Result(name, name, FAIL, _failure(err))]
    return _harness_line(program, case, t, PASS) if program.FIXTURE is not None else t.results


def _harness_line(program: ModuleType, case, t: Ksft, result: str, reason: str = "") -> list[Result]:
    """A harness case's messages and its one TAP line, ``fixture.case``."""
    messages = [r for r in t.results if r.result == INFO]
    return messages + [Result(case_name(program, case), t.case, result, reason)]


@dataclass
class ProgramResult:
    """A ported program's run: its name (the C file's without ``.c``) and TAP results."""
    name: str
    source: str
    results: list[Result]

    def totals(self) -> dict[str, int]:
        """The counts of kselftest's totals line."""
        count = {kind: sum(r.result == kind for r in self.results) for kind in (PASS, FAIL, XFAIL, SKIP)}
        return count | {"xpass": 0, "error": 0}

    @property
    def tests(self) -> list[Result]:
        """The numbered TAP results (``ksft_print_msg`` lines left out)."""
        return [r for r in self.results if r.result != INFO]

    @property
    def ok(self) -> bool:
        return not any(r.result == FAIL for r in self.results)


def run_program(name: str, program: ModuleType) -> ProgramResult:
    """Every test case of one ported program, each on a fresh machine."""
    results = []
    for case in cases(program):
        results.extend(run_case(program, case))
    return ProgramResult(name, program.SOURCE, results)


def _tap_line(num: int, r: Result) -> list[str]:
    if r.result in (SKIP, XFAIL):
        return [f"ok {num} {r.name + ' ' if r.name else ''}# {r.result.upper()} {r.reason}"]
    lines = [f"{'ok' if r.result == PASS else 'not ok'} {num} {r.name}"]
    return ([f"# {line}" for line in r.reason.splitlines()] + lines) if r.result == FAIL else lines


def program_tap(p: ProgramResult) -> list[str]:
    """One program's output, as the C program prints it."""
    lines = ["TAP version 13", f"1..{len(p.tests)}"]
    num = 0
    for r in p.results:
        if r.result == INFO:
            lines.append(f"# {r.name}")
        else:
            num += 1
            lines += _tap_line(num, r)
    t = p.totals()
    lines.append(f"# Totals: pass:{t[PASS]} fail:{t[FAIL]} xfail:{t[XFAIL]} xpass:{t['xpass']} "
                 f"skip:{t[SKIP]} error:{t['error']}")
    return lines


def tap(programs: list[ProgramResult]) -> list[str]:
    """The TAP of one program alone, or of several nested as ``run_kselftest.sh`` nests them."""
    if len(programs) == 1:
        return program_tap(programs[0])
    lines = ["TAP version 13", f"1..{len(programs)}"]
    for num, p in enumerate(programs, 1):
        lines.append(f"# selftests: mm: {p.name}")
        lines += [f"# {line}" for line in program_tap(p)]
        all_skipped = p.tests and all(r.result == SKIP for r in p.tests)
        status = "ok" if p.ok else "not ok"
        lines.append(f"{status} {num} selftests: mm: {p.name}" + (" # SKIP" if all_skipped else ""))
    return lines


def as_json(programs: list[ProgramResult]) -> dict:
    """The results for programs: per program its source, totals and every TAP line's result."""
    return {"programs": [{"name": p.name, "source": p.source, "totals": p.totals(),
                          "results": [{"num": n, "name": r.name, "case": r.case, "result": r.result,
                                       "reason": r.reason} for n, r in enumerate(p.tests, 1)]}
                         for p in programs]}

