"""``map_fixed_noreplace.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

MAP_FIXED_NOREPLACE maps at the address asked or fails with EEXIST when any page of the
range is mapped already (``do_mmap``), leaving the old mapping alone. The program finds
five free pages, maps the middle three, and tries every overlap of them (the same range,
inside, over the end, over the start) and the two adjacent pages, which must succeed.
"""

from __future__ import annotations

import errno

from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/map_fixed_noreplace.c"
FIXTURE = None
PAGE_SIZE = 4096
FLAGS = "private|anonymous|fixed_noreplace"


def find_base_addr(p, size: int) -> int:
    """Five free pages: map them anywhere, then unmap them."""
    addr = p.mmap(size, prot="none", flags="private|anonymous")
    p.munmap(addr, size)
    return addr


def _noreplace(t: Ksft, base: int, offset: int, pages: int, expect: int, name: str) -> None:
    """One MAP_FIXED_NOREPLACE mmap of ``pages`` at ``base + offset`` pages: it must give
    ``expect`` (0: mapped at that address, else the errno), or the program stops."""
    p = t.process
    addr = base + offset * PAGE_SIZE
    err = syscall_errno(p.mmap, pages * PAGE_SIZE, prot="none", flags=FLAGS, addr=addr)
    if err != expect:
        t.exit_fail(f"mmap() @ {addr:#x}-{addr + pages * PAGE_SIZE:#x}: errno {err}, expected {expect}\n"
                    + p.proc("maps"))
    t.test_result(True, name)


def test_map_fixed_noreplace(t: Ksft) -> None:
    """The program's nine steps, each a TAP line."""
    p = t.process
    base = find_base_addr(p, 5 * PAGE_SIZE)
    _noreplace(t, base, 0, 5, 0, "mmap() 5*PAGE_SIZE at base")  # all of it is free
    p.munmap(base, 5 * PAGE_SIZE)
    # base |free|  +1..+3 |mapped|  +4 |free|
    _noreplace(t, base, 1, 3, 0, "mmap() 3*PAGE_SIZE at base+PAGE_SIZE")
    _noreplace(t, base, 0, 5, errno.EEXIST, "Second mmap() 5*PAGE_SIZE at base")  # covers all three
    _noreplace(t, base, 2, 1, errno.EEXIST, "mmap() 2*PAGE_SIZE at base+PAGE_SIZE")  # inside
    _noreplace(t, base, 3, 2, errno.EEXIST, "mmap() 2*PAGE_SIZE  at base+(3*PAGE_SIZE)")  # over the end
    _noreplace(t, base, 0, 2, errno.EEXIST, "mmap() 2*PAGE_SIZE bytes at base")  # over the start
    _noreplace(t, base, 0, 1, 0, "mmap() PAGE_SIZE at base")  # adjacent below
    _noreplace(t, base, 4, 1, 0, "mmap() PAGE_SIZE at base+(4*PAGE_SIZE)")  # adjacent above
    p.munmap(base, 5 * PAGE_SIZE)
    t.test_result(True, "Base Address unmap() successful")
