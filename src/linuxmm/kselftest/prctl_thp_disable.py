"""``prctl_thp_disable.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

prctl(PR_SET_THP_DISABLE) against the global THP policy: with THPs disabled completely
(PR_GET_THP_DISABLE reads 1) no mapping gets a THP, not at fault, not after MADV_HUGEPAGE,
not by MADV_COLLAPSE; with PR_THP_DISABLE_EXCEPT_ADVISED (it reads 3) MADV_HUGEPAGE and
MADV_COLLAPSE still give one. Once the prctl is reset the policy alone decides, and
MADV_COLLAPSE of a range faulted in as small pages collapses it whatever the policy.
``mmap_thp`` (the C ``test_mmap_thp``) maps a PMD-aligned 2 MiB range, advises it, fills it (``memset``: one
store per 64-byte line, the simulator's memory granularity), collapses it when asked, and
reads AnonHugePages from smaps. Each fixture runs for the variants never, madvise and
always; the ``fork`` tests run the checks in a child, which inherits the prctl.
"""

from __future__ import annotations

from .ksft import Ksft, syscall_errno
from .vm_util import check_huge_anon

SOURCE = "tools/testing/selftests/mm/prctl_thp_disable.c"
FIXTURE = "prctl_thp_disable"
PMDSIZE = 2 << 20  # read_pmd_pagesize
PR_THP_DISABLE_EXCEPT_ADVISED = 1 << 1
THP_ENABLED = "kernel/mm/transparent_hugepage/enabled"
# enum thp_collapse_type
THP_COLLAPSE_NONE, THP_COLLAPSE_MADV_NOHUGEPAGE, THP_COLLAPSE_MADV_HUGEPAGE, THP_COLLAPSE_MADV_COLLAPSE = range(4)
VARIANTS = ("never", "madvise", "always")


def mmap_thp(p, madvise_buf: int, pmdsize: int) -> int:
    """``test_mmap_thp`` (renamed: ``test_*`` names are the cases here): 1 if the advised,
    filled range is a THP, else 0."""
    mmap_mem = p.mmap(2 * pmdsize, "rw", "private|anonymous")
    mem = (mmap_mem + pmdsize) & ~(pmdsize - 1)  # a THP-aligned area
    if madvise_buf == THP_COLLAPSE_MADV_HUGEPAGE:
        p.madvise(mem, pmdsize, "hugepage")
    elif madvise_buf == THP_COLLAPSE_MADV_NOHUGEPAGE:
        p.madvise(mem, pmdsize, "nohugepage")
    p.write(mem, pmdsize, stride=64, value=1)  # memset(mem, 1, pmdsize)
    if madvise_buf == THP_COLLAPSE_MADV_COLLAPSE:
        syscall_errno(p.madvise, mem, pmdsize, "collapse")  # its return is not checked
    p.mprotect(mem, pmdsize, "r")  # a separate VMA to check
    ret = int(check_huge_anon(p, mem, 1, pmdsize))
    p.munmap(mmap_mem, 2 * pmdsize)
    return ret


def prctl_thp_disable_completely_test(p, pmdsize: int, thp_policy: str) -> None:
    assert p.prctl("PR_GET_THP_DISABLE") == 1
    # the prctl overrides the global policy
    assert mmap_thp(p, THP_COLLAPSE_NONE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_NOHUGEPAGE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_HUGEPAGE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_COLLAPSE, pmdsize) == 0
    assert p.prctl("PR_SET_THP_DISABLE", 0) == 0
    after_reset(p, pmdsize, thp_policy)


def prctl_thp_disable_except_madvise_test(p, pmdsize: int, thp_policy: str) -> None:
    assert p.prctl("PR_GET_THP_DISABLE") == 3
    # the prctl overrides the global policy, but for advised memory
    assert mmap_thp(p, THP_COLLAPSE_NONE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_NOHUGEPAGE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_HUGEPAGE, pmdsize) == (0 if thp_policy == "never" else 1)
    assert mmap_thp(p, THP_COLLAPSE_MADV_COLLAPSE, pmdsize) == 1
    assert p.prctl("PR_SET_THP_DISABLE", 0) == 0
    after_reset(p, pmdsize, thp_policy)


def after_reset(p, pmdsize: int, thp_policy: str) -> None:
    """Once the prctl is cleared only the global policy counts."""
    assert mmap_thp(p, THP_COLLAPSE_NONE, pmdsize) == (1 if thp_policy == "always" else 0)
    assert mmap_thp(p, THP_COLLAPSE_MADV_NOHUGEPAGE, pmdsize) == 0
    assert mmap_thp(p, THP_COLLAPSE_MADV_HUGEPAGE, pmdsize) == (0 if thp_policy == "never" else 1)
    assert mmap_thp(p, THP_COLLAPSE_MADV_COLLAPSE, pmdsize) == 1


def fixture_setup(t: Ksft, thp_policy: str, prctl_flags: int, why: str) -> None:
    """FIXTURE_SETUP: THPs disabled for the process (a SKIP if the prctl fails), the global
    policy set to the variant's (the PMD size's own setting stays ``inherit``)."""
    if syscall_errno(t.process.prctl, "PR_SET_THP_DISABLE", 1, prctl_flags):
        t.exit_skip(why)
    t.machine.sysfs(THP_ENABLED, thp_policy)


def in_child(t: Ksft, body, thp_policy: str) -> None:
    """The ``fork`` tests: the checks run in a child (the prctl is inherited); the parent
    asserts it exited 0."""
    child = t.process.fork()
    try:
        body(child, PMDSIZE, thp_policy)
    finally:
        child.exit()


def _case(fixture: str, variant: str, forked: bool):
    completely = fixture == "prctl_thp_disable_completely"
    body = prctl_thp_disable_completely_test if completely else prctl_thp_disable_except_madvise_test

    def case(t: Ksft) -> None:
        if completely:
            fixture_setup(t, variant, 0, "Unable to disable THPs completely for the process")
        else:
            fixture_setup(t, variant, PR_THP_DISABLE_EXCEPT_ADVISED, "Unable to set PR_THP_DISABLE_EXCEPT_ADVISED")
        if forked:
            in_child(t, body, variant)
        else:
            body(t.process, PMDSIZE, variant)
    name = "fork" if forked else "nofork"
    case.__name__ = f"test_{fixture}_{variant}_{name}"
    case.TAP_NAME = f"{fixture}.{variant}.{name}"
    return case


# the harness runs fixture by fixture, each variant in turn, each test of it
for _fixture in ("prctl_thp_disable_completely", "prctl_thp_disable_except_madvise"):
    for _variant in VARIANTS:
        for _forked in (False, True):
            _c = _case(_fixture, _variant, _forked)
            globals()[_c.__name__] = _c
