"""``mrelease_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

process_mrelease(pidfd, flags) reaps the memory of a process that is being killed, from the
caller's context, as the OOM reaper would (``__oom_reap_task_mm``): the child maps and
touches 1 MiB, the parent checks the errnos of the bad calls (a number that is no pidfd:
EBADF; flags: EINVAL; a child not being killed: EINVAL), sends SIGKILL and reaps it. A
simulated child runs only when called, so it cannot exit before the reap: the first
attempt succeeds, where on real hardware the program may retry with twice the memory
(up to 1 GiB). The pidfd is the child's ``Process`` (as for ``process_madvise``). The C
program prints one message and exits 0 on success: one TAP line here.
"""

from __future__ import annotations

import errno

from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/mrelease_test.c"
FIXTURE = None
PAGE_SIZE = 4096
MAX_SIZE_MB = 1024


def MB(x: int) -> int:
    return x << 20


def alloc_noexit(child, nr_pages: int) -> None:
    """The child's allocation: map and write one word in every page."""
    buf = child.mmap(nr_pages * PAGE_SIZE, "rw", "private|anonymous")
    child.write(buf, nr_pages * PAGE_SIZE, stride=PAGE_SIZE, value=1)


def run_negative_tests(t: Ksft, child) -> None:
    """The calls that must fail while the child is alive."""
    p = t.process
    if syscall_errno(p.process_mrelease, child, 0xFFFFFFFF) != errno.EINVAL:
        t.exit_fail("process_mrelease with wrong flags")
    if syscall_errno(p.process_mrelease, child, 0) != errno.EINVAL:
        t.exit_fail("process_mrelease on a live process")


def test_mrelease(t: Ksft) -> None:
    p = t.process
    if syscall_errno(p.process_mrelease, -1, 0) != errno.EBADF:
        t.exit_fail("process_mrelease with wrong pidfd")
    size = 1
    while True:
        child = p.fork()
        alloc_noexit(child, MB(size) // PAGE_SIZE)
        run_negative_tests(t, child)
        child.kill("SIGKILL")
        err = syscall_errno(p.process_mrelease, child, 0)
        if err and err != errno.ESRCH:
            t.exit_fail(f"process_mrelease: {errno.errorcode[err]}")
        child.wait()  # cleanup to prevent zombies
        if not err:
            break
        if size > MAX_SIZE_MB:
            t.exit_fail("All process_mrelease attempts failed!")
        size *= 2
    t.print_msg(f"Success reaping a child with {size}MB of memory allocations")
    t.test_result(True, "mrelease_test")
