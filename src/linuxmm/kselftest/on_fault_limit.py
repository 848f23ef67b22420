"""``on-fault-limit.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

After ``mlockall(MCL_ONFAULT | MCL_FUTURE)`` every new mapping is born locked, so an
mmap() of twice RLIMIT_MEMLOCK must fail (``mlock_future_ok`` in ``do_mmap``: EAGAIN)
even though lock-on-fault would fault nothing in at once. ``run_vmtests.sh`` runs the
program as the unprivileged user ``nobody`` (no CAP_IPC_LOCK), as the simulated process
is; the C program prints nothing on success and exits 0 (one TAP line here).
"""

from __future__ import annotations

from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/on-fault-limit.c"
FIXTURE = None


def test_limit(t: Ksft) -> None:
    p = t.process
    _, rlim_max = p.getrlimit("RLIMIT_MEMLOCK")
    p.mlockall("onfault|future")
    err = syscall_errno(p.mmap, 2 * rlim_max, prot="rw", flags="private|anonymous|populate")
    if not err:
        t.print_msg("mmap should have failed, but didn't")
    p.munlockall()
    t.test_result(err != 0, "test_limit")
