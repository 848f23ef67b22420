"""kill(SIGKILL), waitpid and process_mrelease (``mm/oom_kill.c``): a dying process's
private memory is reaped by the caller before the process runs its exit."""

import errno

import pytest

import linuxmm
from linuxmm.errors import KernelError

MB = 1 << 20


def _errno(call, *args):
    with pytest.raises(KernelError) as e:
        call(*args)
    return e.value.errno


def test_mrelease_reaps_a_killed_child():
    m = linuxmm.Machine()
    parent = m.spawn()
    child = parent.fork()
    a = child.mmap(4 * MB)
    child.write(a, 4 * MB)
    assert child.smaps_rollup()["Anonymous"] == 4096
    assert _errno(parent.process_mrelease, child, 0) == errno.EINVAL  # not being killed
    child.kill("SIGKILL")
    assert not child.alive
    parent.process_mrelease(child, 0)
    assert child.smaps_rollup()["Anonymous"] == 0  # reaped before the child ran its exit
    parent.process_mrelease(child, 0)  # again: nothing left to do, no error
    assert child.wait() == 9
    assert _errno(parent.process_mrelease, child, 0) == errno.ESRCH
    assert _errno(parent.process_mrelease, 3, 0) == errno.EBADF
    assert _errno(parent.process_mrelease, parent, 1) == errno.EINVAL
