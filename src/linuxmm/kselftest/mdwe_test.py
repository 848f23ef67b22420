"""``mdwe_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

prctl(PR_SET_MDWE) (memory-deny-write-execute): ``prctl_flags`` checks that unknown bits
and extra arguments are EINVAL; ``consecutive_prctl_flags`` that MDWE, once set, can be set
again with the same bits but not turned off or changed (EPERM); the ``mdwe`` fixture that,
with MDWE on (and in a forked child unless PR_MDWE_NO_INHERIT), no shared anonymous mapping
may be created writable and executable or be mprotect()ed to gain execute, while
read+execute mappings, mprotect() keeping execute and MAP_FIXED over a mapping work.
``arm64_BTI`` skips off arm64, as in the C program. The harness names a case
``fixture.variant.test``; the forked variants run the test in the child.
"""

from __future__ import annotations

import errno

from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/mdwe_test.c"
FIXTURE = "mdwe"
PAGE_SIZE = 4096
PR_MDWE_REFUSE_EXEC_GAIN, PR_MDWE_NO_INHERIT = 1, 2
FLAGS = "shared|anonymous"


def test_prctl_flags(t: Ksft) -> None:
    p = t.process
    assert syscall_errno(p.prctl, "PR_SET_MDWE", PR_MDWE_NO_INHERIT, 0, 0, 7) == errno.EINVAL
    for args in ((7, 0, 0, 0), (0, 7, 0, 0), (0, 0, 7, 0), (0, 0, 0, 7)):
        assert syscall_errno(p.prctl, "PR_SET_MDWE", *args) == errno.EINVAL
        assert syscall_errno(p.prctl, "PR_GET_MDWE", *args) == errno.EINVAL


test_prctl_flags.TAP_NAME = "global.prctl_flags"

# FIXTURE_VARIANT_ADD(consecutive_prctl_flags, ...): first flags, second flags, should work
CONSECUTIVE = (("can_keep_no_flags", 0, 0, True),
               ("can_keep_exec_gain", PR_MDWE_REFUSE_EXEC_GAIN, PR_MDWE_REFUSE_EXEC_GAIN, True),
               ("can_keep_both_flags", 3, 3, True),
               ("cant_disable_mdwe", PR_MDWE_REFUSE_EXEC_GAIN, 0, False),
               ("cant_disable_mdwe_no_inherit", 3, 0, False),
               ("cant_disable_no_inherit", 3, PR_MDWE_REFUSE_EXEC_GAIN, False),
               ("cant_enable_no_inherit", PR_MDWE_REFUSE_EXEC_GAIN, 3, False))


def two_prctls(t: Ksft, first: int, second: int, should_work: bool) -> None:
    p = t.process
    assert p.prctl("PR_SET_MDWE", first) == 0
    err = syscall_errno(p.prctl, "PR_SET_MDWE", second)
    if should_work:
        assert err == 0
        assert p.prctl("PR_GET_MDWE") == second
    else:
        assert err == errno.EPERM


# FIXTURE_VARIANT_ADD(mdwe, ...): enabled, forked, inherit
VARIANTS = (("stock", False, False, False), ("enabled", True, False, True), ("inherited", True, True, True),
            ("not_inherited", True, True, False))


def executable_map_should_fail(enabled: bool, forked: bool, inherit: bool) -> bool:
    return enabled and (not forked or inherit)


def mdwe_setup(t: Ksft, enabled: bool, forked: bool, inherit: bool):
    """FIXTURE_SETUP(mdwe): MDWE on as the variant says; the forked variants go on in the child."""
    p = t.process
    if not enabled:
        return p
    flags = PR_MDWE_REFUSE_EXEC_GAIN | (0 if inherit else PR_MDWE_NO_INHERIT)
    assert p.prctl("PR_SET_MDWE", flags) == 0, "PR_SET_MDWE failed or unsupported"
    assert p.prctl("PR_GET_MDWE") == flags
    return p.fork() if forked else p


def mmap_READ_EXEC(p, fail: bool) -> None:
    assert syscall_errno(p.mmap, PAGE_SIZE, prot="r-x", flags=FLAGS) == 0


def mmap_WRITE_EXEC(p, fail: bool) -> None:
    assert (syscall_errno(p.mmap, PAGE_SIZE, prot="-wx", flags=FLAGS) != 0) == fail


def mprotect_stay_EXEC(p, fail: bool) -> None:
    addr = p.mmap(PAGE_SIZE, prot="r-x", flags=FLAGS)
    assert syscall_errno(p.mprotect, addr, PAGE_SIZE, "r-x") == 0


def mprotect_add_EXEC(p, fail: bool) -> None:
    addr = p.mmap(PAGE_SIZE, prot="r", flags=FLAGS)
    assert (syscall_errno(p.mprotect, addr, PAGE_SIZE, "r-x") != 0) == fail


def mprotect_WRITE_EXEC(p, fail: bool) -> None:
    addr = p.mmap(PAGE_SIZE, prot="-w-", flags=FLAGS)
    assert (syscall_errno(p.mprotect, addr, PAGE_SIZE, "-wx") != 0) == fail


def mmap_FIXED(p, fail: bool) -> None:
    """MAP_FIXED unmaps the existing page before mapping, which is allowed."""
    addr = p.mmap(PAGE_SIZE, prot="r", flags=FLAGS)
    assert p.mmap(PAGE_SIZE, prot="r-x", flags=FLAGS + "|fixed", addr=addr) == addr


def arm64_BTI(p, fail: bool) -> None:
    raise AssertionError("unreachable: skipped")


TESTS = (mmap_READ_EXEC, mmap_WRITE_EXEC, mprotect_stay_EXEC, mprotect_add_EXEC, mprotect_WRITE_EXEC, mmap_FIXED,
         arm64_BTI)


def _consecutive(name: str, first: int, second: int, should_work: bool):
    def case(t: Ksft) -> None:
        two_prctls(t, first, second, should_work)
    case.__name__ = f"test_consecutive_prctl_flags_{name}_two_prctls"
    case.TAP_NAME = f"consecutive_prctl_flags.{name}.two_prctls"
    return case


def _mdwe(variant: str, enabled: bool, forked: bool, inherit: bool, fn):
    def case(t: Ksft) -> None:
        if fn is arm64_BTI:
            t.exit_skip("HWCAP2_BTI not supported")
        p = mdwe_setup(t, enabled, forked, inherit)
        fn(p, executable_map_should_fail(enabled, forked, inherit))
    case.__name__ = f"test_mdwe_{variant}_{fn.__name__}"
    case.TAP_NAME = f"mdwe.{variant}.{fn.__name__}"
    return case


for _variant in CONSECUTIVE:
    _c = _consecutive(*_variant)
    globals()[_c.__name__] = _c
for _variant in VARIANTS:
    for _fn in TESTS:
        _c = _mdwe(*_variant, _fn)
        globals()[_c.__name__] = _c
