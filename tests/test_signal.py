"""Signals a process can handle or receive: ``sigaction`` for the SIGSEGV/SIGBUS of a bad
access (the handler jumps back out: the call raises, the process lives on, dmesg stays
quiet) and ``kill(SIGKILL)`` with ``wait``."""

import errno

import pytest

import linuxmm
from linuxmm.arch.x86.mm.fault import BusError, SegmentationFault
from linuxmm.errors import KernelError, Killed


def test_caught_sigsegv_leaves_the_process_alive():
    m = linuxmm.Machine()
    p = m.spawn()
    a = p.mmap(4096, "r")
    p.sigaction("SIGSEGV", "catch")
    with pytest.raises(SegmentationFault):
        p.write(a, 1)
    assert p.alive and "segfault at" not in m.dmesg()
    child = p.fork()  # copy_sighand: the child handles it too
    with pytest.raises(SegmentationFault):
        child.write(a, 1)
    assert child.alive
    p.sigaction(11, "default")
    with pytest.raises(SegmentationFault):
        p.write(a, 1)
    assert not p.alive and "segfault at" in m.dmesg()


def test_caught_sigbus():
    m = linuxmm.Machine()
    p = m.spawn()
    fd = p.memfd_create("short")
    p.ftruncate(fd, 4096)
    a = p.mmap(2 * 4096, "rw", "shared", fd=fd)
    p.sigaction("SIGBUS", "catch")
    with pytest.raises(BusError):
        p.write(a + 4096, 1)  # past the end of the file
    assert p.alive


def test_sigaction_errnos():
    p = linuxmm.Machine().spawn()
    for args in (("SIGTERM", "catch"), ("SIGSEGV", "ignore")):
        with pytest.raises(KernelError) as e:
            p.sigaction(*args)
        assert e.value.errno == errno.EINVAL


def test_kill_then_call_raises_killed():
    m = linuxmm.Machine()
    p = m.spawn()
    assert p.wait() is None  # alive: WNOHANG
    p.kill(9)
    with pytest.raises(Killed):
        p.mmap(4096)
    with pytest.raises(KernelError) as e:
        p.kill("SIGKILL")
    assert e.value.errno == errno.ESRCH
    with pytest.raises(KernelError) as e:
        m.spawn().kill("SIGTERM")
    assert e.value.errno == errno.EINVAL
