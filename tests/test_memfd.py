"""memfd_create, fcntl(F_GET_SEALS) and fallocate (``mm/memfd.c``, ``fs/open.c``).

The errnos and seals are what ``tests/probe/memfd_probe.c`` printed on this host's Linux
6.18 (memfd_create "x" with flags 0 / MFD_CLOEXEC: seals 0x1; MFD_ALLOW_SEALING: 0;
MFD_NOEXEC_SEAL: 0x20; MFD_EXEC|MFD_NOEXEC_SEAL, 0x100 and a 250-byte name: EINVAL, a
249-byte name works; F_GET_SEALS on an ext4 file: EINVAL; fallocate PUNCH_HOLE without
KEEP_SIZE: EOPNOTSUPP, length 0: EINVAL, a file open read-only: EBADF).
"""

import errno

import pytest

import linuxmm
from linuxmm.errors import KernelError

PAGE = 4096


@pytest.fixture(scope="module")
def machine():
    return linuxmm.Machine()


def _shmem_kb(machine) -> int:
    line = next(l for l in machine.proc("/proc/meminfo").splitlines() if l.startswith("Shmem:"))
    return int(line.split()[1])


def _errno(call, *args):
    with pytest.raises(KernelError) as e:
        call(*args)
    return e.value.errno


@pytest.mark.parametrize("flags, seals", [(0, 0x1), ("cloexec", 0x1), ("allow_sealing", 0), ("noexec_seal", 0x20),
                                          ("MFD_ALLOW_SEALING|MFD_EXEC", 0)])
def test_memfd_create_seals(machine, flags, seals):
    p = machine.spawn()
    fd = p.memfd_create("x", flags)
    assert p.fcntl(fd, "F_GET_SEALS") == seals
    assert p.fds()[fd] == "/memfd:x (deleted)"


def test_memfd_create_errnos(machine):
    p = machine.spawn()
    assert _errno(p.memfd_create, "x", "exec|noexec_seal") == errno.EINVAL
    assert _errno(p.memfd_create, "x", 0x100) == errno.EINVAL
    assert _errno(p.memfd_create, "a" * 250) == errno.EINVAL
    assert _errno(p.memfd_create, 7) == errno.EFAULT
    assert _errno(p.memfd_create, "x", "hugetlb") == errno.ENOSYS  # no hugetlbfs
    p.memfd_create("a" * 249)


def test_fcntl_and_fallocate_errnos(machine):
    machine.create_file("/memfd-test/f", 0)
    p = machine.spawn()
    fd, ro = p.open("/memfd-test/f", "rw"), p.open("/memfd-test/f", "r")
    assert _errno(p.fcntl, fd, "F_GET_SEALS") == errno.EINVAL
    assert _errno(p.fallocate, fd, 0, PAGE, 2) == errno.EOPNOTSUPP
    assert _errno(p.fallocate, fd, 0, 0) == errno.EINVAL
    assert _errno(p.fallocate, ro, 0, PAGE) == errno.EBADF


def test_fallocate_sizes_and_zero_fill(machine):
    """Mode 0 grows the file over the range, KEEP_SIZE does not; the pages read as zeros,
    and a memfd's pages are in its page cache (Shmem) until its last reference goes."""
    p = machine.spawn()
    fd = p.memfd_create("falloc")
    shmem = _shmem_kb(machine)
    p.fallocate(fd, 0, 4 * PAGE, "keep_size")
    assert _shmem_kb(machine) == shmem + 16
    assert p.pread(fd, PAGE, 0) == b""
    p.fallocate(fd, 0, 4 * PAGE)
    assert p.pread(fd, 8 * PAGE, 0) == bytes(4 * PAGE // 64)
    machine.create_file("/memfd-test/g", 0)
    g = p.open("/memfd-test/g", "rw")
    p.fallocate(g, PAGE, PAGE)
    assert p.pread(g, 4 * PAGE, 0) == bytes(2 * PAGE // 64)
    p.close(fd)
    assert _shmem_kb(machine) == shmem


def test_memfd_mapping_shared_and_private(machine):
    """A shared mapping's stores reach the memfd; a private one's stay in the mapping."""
    p = machine.spawn()
    fd = p.memfd_create("map")
    p.ftruncate(fd, 4 * PAGE)
    shared = p.mmap(4 * PAGE, "rw", "shared", fd=fd)
    private = p.mmap(4 * PAGE, "rw", "private", fd=fd)
    p.write(shared, 4 * PAGE, value=5)
    assert p.read(private, 4 * PAGE) == bytes([5]) * 4
    p.write(private, PAGE, value=6)
    assert p.read(shared, PAGE) == bytes([5]) and p.pread(fd, 1, 0) == bytes([5])
    line = next(l for l in p.proc("maps").splitlines() if l.startswith(f"{shared:x}-"))
    assert line.endswith("/memfd:map (deleted)") and " rw-s " in line
