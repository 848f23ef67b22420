"""pytest's view of the ported mm selftests (``linuxmm.kselftest``): one pytest test per
test case of each C program, named after it.

Each program runs once per session through the same runner as ``linuxmm selftest``
(``run_program``); a case's pytest test fails when any of its TAP lines is ``not ok``
(the message lists them), and skips when all of them skipped.
"""

from functools import lru_cache

import pytest

from linuxmm.kselftest import PORTED
from linuxmm.kselftest.ksft import FAIL, SKIP, ProgramResult, cases, run_program


@lru_cache(maxsize=None)
def program_results(name: str) -> ProgramResult:
    return run_program(name, PORTED[name])


def _pytest_case(name: str, case: str):
    def test():
        results = [r for r in program_results(name).tests if r.case == case]
        failed = [f"not ok {r.name}: {r.reason}" for r in results if r.result == FAIL]
        assert results and not failed, "\n".join(failed) or "the case reported nothing"
        if all(r.result == SKIP for r in results):
            pytest.skip(results[0].reason)
    test.__name__ = test.__qualname__ = f"test_{case}"
    return test


def collect(name: str, namespace: dict) -> None:
    """Put one pytest test per test case of program ``name`` into a test module."""
    for case in cases(PORTED[name]):
        test = _pytest_case(name, case.__name__.removeprefix("test_"))
        namespace[test.__name__] = test
