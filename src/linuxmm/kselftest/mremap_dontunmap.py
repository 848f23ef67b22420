"""``mremap_dontunmap.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

MREMAP_DONTUNMAP moves the page tables of a private anonymous range to a new place and
leaves the source mapped but empty (``move_vma`` without the unmap, ``dontunmap_complete``):
the destination reads the old data, the source reads zeros, with or without
MREMAP_FIXED, for a whole mapping or a part of one. On a shared memfd mapping
(``mremap_dontunmap_simple_shmem``) the source stays mapped to the same file, so it still
reads the data.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/mremap_dontunmap.c"
FIXTURE = None
PAGE_SIZE = 4096
LINE = 64


def memset(p, addr: int, size: int, byte: str | int) -> None:
    p.write(addr, size, stride=LINE, value=ord(byte) if isinstance(byte, str) else byte)


def check_region_contains_byte(p, addr: int, size: int, byte: str | int) -> bool:
    want = ord(byte) if isinstance(byte, str) else byte
    return p.read(addr, size, stride=LINE) == bytes([want]) * (size // LINE)


def BUG_ON(t: Ksft, condition: bool, description: str) -> None:
    if condition:
        t.exit_fail(f"[FAIL]\t{description}\n" + t.process.proc("maps"))


def test_mremap_dontunmap_simple(t: Ksft) -> None:
    """Move a whole mapping anywhere: the pages go, the source stays mapped and empty."""
    p, size = t.process, 5 * PAGE_SIZE
    source = p.mmap(size)
    memset(p, source, size, "a")
    dest = p.mremap(source, size, size, maymove=True, dontunmap=True)
    BUG_ON(t, not check_region_contains_byte(p, dest, size, "a"), "pages did not migrate")
    BUG_ON(t, not check_region_contains_byte(p, source, size, 0), "source should have no ptes")
    p.munmap(dest, size)
    p.munmap(source, size)
    t.test_result(True, "mremap_dontunmap_simple")


def test_mremap_dontunmap_simple_shmem(t: Ksft) -> None:
    """The same on a MAP_SHARED memfd: both ranges see the file's pages afterwards."""
    p, size = t.process, 5 * PAGE_SIZE
    mem_fd = p.memfd_create("memfd", "cloexec")
    p.ftruncate(mem_fd, size)
    source = p.mmap(size, "rw", "shared", fd=mem_fd)  # MAP_FILE is 0
    p.close(mem_fd)
    memset(p, source, size, "a")
    try:
        dest = p.mremap(source, size, size, maymove=True, dontunmap=True)
    except KernelError as err:
        if err.errno != errno.EINVAL:
            raise
        p.munmap(source, size)  # a kernel before 5.13 refuses DONTUNMAP on shmem: no result
        return
    BUG_ON(t, not check_region_contains_byte(p, dest, size, "a"), "pages did not migrate")
    # backed by shmem: the source still shows the same memory
    BUG_ON(t, not check_region_contains_byte(p, source, size, "a"), "source should have no ptes")
    p.munmap(dest, size)
    p.munmap(source, size)
    t.test_result(True, "mremap_dontunmap_simple_shmem")


def test_mremap_dontunmap_simple_fixed(t: Ksft) -> None:
    """Move onto an existing mapping with MREMAP_FIXED: it is replaced by the moved pages."""
    p, size = t.process, 5 * PAGE_SIZE
    dest = p.mmap(size)
    memset(p, dest, size, "X")
    source = p.mmap(size)
    memset(p, source, size, "a")
    remapped = p.mremap(source, size, size, fixed=dest, dontunmap=True)
    BUG_ON(t, remapped != dest, "mremap should have placed the remapped mapping at dest_mapping")
    BUG_ON(t, not check_region_contains_byte(p, dest, size, "a"), "pages did not migrate")
    BUG_ON(t, not check_region_contains_byte(p, source, size, 0), "source should have no ptes")
    p.munmap(dest, size)
    p.munmap(source, size)
    t.test_result(True, "mremap_dontunmap_simple_fixed")


def test_mremap_dontunmap_partial_mapping(t: Ksft) -> None:
    """|aaaaaaaaaa| -> |aaaaa00000| and a new mapping |aaaaa|."""
    p = t.process
    source = p.mmap(10 * PAGE_SIZE)
    memset(p, source, 10 * PAGE_SIZE, "a")
    dest = p.mremap(source + 5 * PAGE_SIZE, 5 * PAGE_SIZE, 5 * PAGE_SIZE, maymove=True, dontunmap=True)
    BUG_ON(t, not check_region_contains_byte(p, source, 5 * PAGE_SIZE, "a"),
           "first 5 pages of source should have original pages")
    BUG_ON(t, not check_region_contains_byte(p, source + 5 * PAGE_SIZE, 5 * PAGE_SIZE, 0),
           "final 5 pages of source should have no ptes")
    BUG_ON(t, not check_region_contains_byte(p, dest, 5 * PAGE_SIZE, "a"),
           "dest mapping should contain ptes from the source")
    p.munmap(dest, 5 * PAGE_SIZE)
    p.munmap(source, 10 * PAGE_SIZE)
    t.test_result(True, "mremap_dontunmap_partial_mapping")


def test_mremap_dontunmap_partial_mapping_overwrite(t: Ksft) -> None:
    """|aaaaa| onto the start of |XXXXXXXXXX|: -> |00000| and |aaaaaXXXXX|."""
    p = t.process
    source = p.mmap(5 * PAGE_SIZE)
    memset(p, source, 5 * PAGE_SIZE, "a")
    dest = p.mmap(10 * PAGE_SIZE)
    memset(p, dest, 10 * PAGE_SIZE, "X")
    remapped = p.mremap(source, 5 * PAGE_SIZE, 5 * PAGE_SIZE, fixed=dest, dontunmap=True)
    BUG_ON(t, remapped != dest, "expected to remap to dest_mapping")
    BUG_ON(t, not check_region_contains_byte(p, source, 5 * PAGE_SIZE, 0),
           "first 5 pages of source should have no ptes")
    BUG_ON(t, not check_region_contains_byte(p, dest, 5 * PAGE_SIZE, "a"),
           "dest mapping should contain ptes from the source")
    BUG_ON(t, not check_region_contains_byte(p, dest + 5 * PAGE_SIZE, 5 * PAGE_SIZE, "X"),
           "dest mapping should have retained the last 5 pages")
    p.munmap(dest, 10 * PAGE_SIZE)
    p.munmap(source, 5 * PAGE_SIZE)
    t.test_result(True, "mremap_dontunmap_partial_mapping_overwrite")
