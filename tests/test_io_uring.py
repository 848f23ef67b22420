"""io_uring fixed buffers (``io_uring/rsrc.py``, ``io_uring/io_uring.py``): registration pins,
coalescing, accounting and fixed writes.

The host oracles are ``tests/data/host-linux-6.18/gup_probe.txt`` (``tests/probe/gup_probe.c``:
IORING_REGISTER_BUFFERS of one page of each kind, the errno and the ``nr_foll_pin_*`` deltas
of registering and unregistering) and ``io_uring_probe.txt`` (``tests/probe/io_uring_probe.c``:
cow.c's fixed-buffer test over a base page and a THP, R/O-mapped or across a fork: the
counters, VmPin, the WRITE_FIXED result and the file read back).
"""

import errno
import re

import pytest

from conftest import HOST_SNAP
from linuxmm import debug
from linuxmm.errors import KernelError
from linuxmm.kselftest.ksft import selftest_machine
from test_gup import _probe_mapping, host_probe, pins

PAGE, THP = 4096, 2 << 20
GUP_PROBE = re.compile(r"(?P<case>[^:]+): register (?P<err>\w+) acquired \+(?P<acq>\d+) released \+(?P<rel>\d+); "
                       r"unregister released \+(?P<unrel>\d+)")
COW_PROBE = re.compile(r"(?P<how>[^,]+), (?P<kind>[^:]+): register (?P<err>\w+) acquired \+(?P<acq>\d+) released "
                       r"\+(?P<rel>\d+) VmPin (?P<vmpin>\d+) kB; write_fixed res (?P<res>-?\d+), file (?P<file>\w+); "
                       r"unregister released \+(?P<unrel>\d+)")


@pytest.fixture
def machine():
    return selftest_machine()


def unregister_released() -> dict[str, int]:
    lines = (HOST_SNAP / "gup_probe.txt").read_text().splitlines()[1:]
    return {m["case"]: int(m["unrel"]) for m in map(GUP_PROBE.fullmatch, lines)}


@pytest.mark.parametrize("case", list(host_probe()))
def test_register_buffers_like_the_host(machine, case):
    """IORING_REGISTER_BUFFERS of one page of each kind: the host's errno and pin counters,
    a THP's 511 extra pins dropped at once (coalescing), one pin per folio dropped by the
    unregistration."""
    err, acquired, released = host_probe()[case]
    p = machine.spawn()
    mem, size = _probe_mapping(p, case)
    ring = p.io_uring_setup(1)
    before = pins(machine)
    try:
        p.io_uring_register_buffers(ring, [(mem, size)])
        got = "0"
    except KernelError as e:
        got = errno.errorcode[e.errno]
    registered = pins(machine)
    if got == "0":
        p.io_uring_unregister_buffers(ring)
    assert (got, registered[0] - before[0], registered[1] - before[1]) == (err, acquired, released)
    assert pins(machine)[1] - registered[1] == unregister_released()[case]
    p.exit()
    assert debug.check(machine.kernel) == []


def cow_probe() -> dict[tuple[str, str], dict]:
    lines = (HOST_SNAP / "io_uring_probe.txt").read_text().splitlines()[1:]
    return {(m["how"], m["kind"]): m.groupdict() for m in map(COW_PROBE.fullmatch, lines)}


def _vmpin(p) -> int:
    return int(next(line.split()[1] for line in p.proc("status").splitlines() if line.startswith("VmPin:")))


@pytest.mark.parametrize("how, kind", list(cow_probe()))
def test_fixed_write_after_ro_mapping_or_fork_like_the_host(machine, how, kind):
    """cow.c's do_test_iouring: after the R/O mapping (the write reuses the pinned page) or
    the fork (the pinned page is copied for the child, not shared), the parent's 0xff reach
    the pinned pages, so the fixed write puts them in the file; counters and VmPin as on the
    host."""
    host = cow_probe()[(how, kind)]
    p = machine.spawn()
    size = THP if kind.startswith("THP") else PAGE
    big = p.mmap(2 * size)
    mem = (big + size) & ~(size - 1)
    p.madvise(mem, size, "hugepage" if size == THP else "nohugepage")
    p.write(mem, size, stride=64, value=1)
    fd = p.open("/probe-file", "rw", create=True)
    ring = p.io_uring_setup(1)
    before = pins(machine)
    p.io_uring_register_buffers(ring, [(mem, size)])
    registered, vmpin = pins(machine), _vmpin(p)
    child = p.fork() if how == "fork" else None
    if child is None:
        p.mprotect(mem, size, "r")
        p.proc("clear_refs", 4)
        p.mprotect(mem, size, "rw")
    p.write(mem, size, stride=64, value=0xFF)
    res = p.io_uring_write_fixed(ring, fd, 0, mem, size, 0)
    same = p.pread(fd, size, 0) == p.read(mem, size, stride=64) == bytes([0xFF]) * (size // 64)
    if child is not None:
        child.exit()
    released = pins(machine)[1]
    p.io_uring_unregister_buffers(ring)
    assert (registered[0] - before[0], registered[1] - before[1], vmpin, res, same, pins(machine)[1] - released) \
        == (int(host["acq"]), int(host["rel"]), int(host["vmpin"]), int(host["res"]), host["file"] == "matches",
            int(host["unrel"]))
    assert _vmpin(p) == 0
    p.exit()
    assert debug.check(machine.kernel) == []


def test_fixed_write_reads_the_pinned_pages_not_the_mapping(machine):
    """The buffer is its pinned pages: after munmap and a new mapping at the same address
    with other contents, a fixed write still writes what the pinned pages hold (the last
    reference to them is the pin)."""
    p = machine.spawn()
    mem = p.mmap(2 * PAGE)
    p.write(mem, 2 * PAGE, stride=64, value=3)
    p.write(mem + PAGE, 64, value=4)
    fd = p.open("/out", "rw", create=True)
    ring = p.io_uring_setup(4)
    p.io_uring_register_buffers(ring, [(0, 0), (mem, 2 * PAGE)])  # slot 0 left empty
    p.munmap(mem, 2 * PAGE)
    again = p.mmap(2 * PAGE, "rw", "private|anonymous|fixed", addr=mem)
    p.write(again, 2 * PAGE, stride=64, value=9)
    assert p.io_uring_write_fixed(ring, fd, 1, mem + PAGE - 64, 128, -1) == 128  # at the file position
    assert p.pread(fd, 128, 0) == bytes([3, 4])
    assert p.io_uring_write_fixed(ring, fd, 1, mem + PAGE, 64, -1) == 64  # which moved on
    assert p.io_uring_write_fixed(ring, fd, 1, mem, 64, 0) == 64  # at offset 0: it stays
    assert p.pread(fd, 256, 0) == bytes([3, 4, 4])
    before = pins(machine)
    p.close(ring)  # the ring's last reference: its buffers are unpinned
    assert pins(machine)[1] - before[1] == 2
    p.exit()
    assert debug.check(machine.kernel) == []


def test_a_forked_child_shares_the_ring(machine):
    """fork duplicates the descriptor: the ring lives on while the child holds it."""
    p = machine.spawn()
    mem = p.mmap(PAGE)
    p.write(mem, PAGE)
    ring = p.io_uring_setup(1)
    p.io_uring_register_buffers(ring, [(mem, PAGE)])
    child = p.fork()
    p.close(ring)
    acquired, released = pins(machine)
    assert acquired == released + 1
    child.exit()
    assert pins(machine)[0] == pins(machine)[1]
    p.exit()


def _errno(call, *args) -> int:
    with pytest.raises(KernelError) as e:
        call(*args)
    return e.value.errno


def test_io_uring_errnos(machine):
    p = machine.spawn()
    mem = p.mmap(PAGE)
    p.write(mem, PAGE)
    fd = p.open("/f", "rw", create=True)
    ring = p.io_uring_setup(3)
    codes = {
        "no entries": _errno(p.io_uring_setup, 0),
        "too many entries": _errno(p.io_uring_setup, 32769),
        "not a ring": _errno(p.io_uring_register_buffers, fd, [(mem, PAGE)]),
        "no fd": _errno(p.io_uring_register_buffers, 99, [(mem, PAGE)]),
        "no buffers": _errno(p.io_uring_register_buffers, ring, []),
        "zero length": _errno(p.io_uring_register_buffers, ring, [(mem, 0)]),
        "over 1 GiB": _errno(p.io_uring_register_buffers, ring, [(mem, (1 << 30) + 1)]),
        "NULL with a length": _errno(p.io_uring_register_buffers, ring, [(0, PAGE)]),
        "unmapped": _errno(p.io_uring_register_buffers, ring, [(mem, PAGE), (mem + PAGE, PAGE)]),
        "nothing to unregister": _errno(p.io_uring_unregister_buffers, ring),
    }
    assert pins(machine)[0] == pins(machine)[1]  # the failed second buffer undid the first
    p.io_uring_register_buffers(ring, [(mem, PAGE)])
    codes |= {
        "twice": _errno(p.io_uring_register_buffers, ring, [(mem, PAGE)]),
        "outside the buffer": _errno(p.io_uring_write_fixed, ring, fd, 0, mem + 64, PAGE, 0),
        "no such buffer": _errno(p.io_uring_write_fixed, ring, fd, 1, mem, PAGE, 0),
        "bad file": _errno(p.io_uring_write_fixed, ring, 99, 0, mem, PAGE, 0),
        "ring write": _errno(p.pwrite, ring, 1, 0),  # pwrite64: an anon inode file has no FMODE_PWRITE
    }
    assert codes == {"no entries": errno.EINVAL, "too many entries": errno.EINVAL, "not a ring": errno.EOPNOTSUPP,
                     "no fd": errno.EBADF, "no buffers": errno.EINVAL, "zero length": errno.EFAULT,
                     "over 1 GiB": errno.EFAULT, "NULL with a length": errno.EFAULT, "unmapped": errno.EFAULT,
                     "nothing to unregister": errno.ENXIO, "twice": errno.EBUSY, "outside the buffer": errno.EFAULT,
                     "no such buffer": errno.EFAULT, "bad file": errno.EBADF, "ring write": errno.ESPIPE}
    p.exit()
    assert pins(machine)[0] == pins(machine)[1]
