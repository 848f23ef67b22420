"""``process_madv.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

process_madvise() advises a vector of ranges in one call and returns the bytes advised:
MADV_DONTNEED of four scattered pages of this process (PIDFD_SELF) zeroes exactly those;
MADV_COLLAPSE on a child's range collapses it (the C test checks the length only); a pidfd
of an exited child is ESRCH, a bad file descriptor EBADF; more than UIO_MAXIOV (1024)
iovecs, unknown advice (even with nothing to advise) and unknown flags are EINVAL.
``run_vmtests.sh`` runs it as root: the port's process has CAP_SYS_NICE, which remote
advice needs. File descriptors are not simulated: a number passed as the pidfd is never one
(stdin in ``bad_pidfd``).
"""

from __future__ import annotations

import errno

from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/process_madv.c"
FIXTURE = "process_madvise"
PAGE_SIZE = 4096
HPAGE_SIZE = 2 << 20
STDIN_FILENO = 0


def _setup(t: Ksft):
    """FIXTURE_SETUP: PIDFD_SELF is the process itself; root's capabilities."""
    p = t.process
    p.task.mm.capabilities |= {"CAP_SYS_NICE"}
    return p


def test_basic(t: Ksft) -> None:
    p = _setup(t)
    map_ = p.mmap(10 * PAGE_SIZE)
    p.write(map_, 10 * PAGE_SIZE, stride=64, value=ord("A"))
    vec = [(map_ + i * PAGE_SIZE, PAGE_SIZE) for i in (0, 3, 5, 8)]
    ret = p.process_madvise(p, vec, "dontneed")
    assert ret == 4 * PAGE_SIZE
    for base, _ in vec:
        assert p.read(base, 1) == b"\0"
    assert p.read(map_ + PAGE_SIZE, PAGE_SIZE, stride=64) == b"A" * 64
    p.munmap(map_, 10 * PAGE_SIZE)


def test_remote_collapse(t: Ksft) -> None:
    p = _setup(t)
    child = p.fork()
    map_size = 2 * HPAGE_SIZE
    map_ = child.mmap(map_size)
    child.write(map_, map_size, value=ord("A"))  # fault in as small pages
    err = syscall_errno(p.process_madvise, child, [(map_, HPAGE_SIZE)], "collapse")
    if err == errno.EINVAL:
        t.exit_skip("PROCESS_MADV_ADVISE is not supported.")
    if err == errno.EPERM:
        t.exit_skip("No process_madvise() permissions, try running as root.")
    assert p.process_madvise(child, [(map_, HPAGE_SIZE)], "collapse") == HPAGE_SIZE
    child.exit()


def test_exited_process_pidfd(t: Ksft) -> None:
    p = _setup(t)
    map_ = p.mmap(PAGE_SIZE, prot="r")
    child = p.fork()
    child.exit()
    assert syscall_errno(p.process_madvise, child, [(map_, PAGE_SIZE)], "dontneed") == errno.ESRCH


def test_bad_pidfd(t: Ksft) -> None:
    p = _setup(t)
    map_ = p.mmap(PAGE_SIZE, prot="r")
    assert syscall_errno(p.process_madvise, -1, [(map_, PAGE_SIZE)], "dontneed") == errno.EBADF
    assert syscall_errno(p.process_madvise, STDIN_FILENO, [(map_, PAGE_SIZE)], "dontneed") == errno.EBADF


def test_invalid_vlen(t: Ksft) -> None:
    p = _setup(t)
    map_ = p.mmap(PAGE_SIZE, prot="r")
    assert syscall_errno(p.process_madvise, p, [(map_, PAGE_SIZE)] * 1025, "dontneed") == errno.EINVAL
    p.munmap(map_, PAGE_SIZE)


def test_invalid_advice_zero_length(t: Ksft) -> None:
    p = _setup(t)
    assert syscall_errno(p.process_madvise, p, [(0, 0)], -1) == errno.EINVAL
    assert p.process_madvise(p, [(0, 0)], "dontneed") == 0
    assert syscall_errno(p.process_madvise, p, [], -1) == errno.EINVAL


def test_flag(t: Ksft) -> None:
    p = _setup(t)
    map_ = p.mmap(PAGE_SIZE, prot="r")
    assert syscall_errno(p.process_madvise, p, [(map_, PAGE_SIZE)], "dontneed", 0x80000000) == errno.EINVAL
    p.munmap(map_, PAGE_SIZE)
