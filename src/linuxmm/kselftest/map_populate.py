"""``map_populate.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

MAP_POPULATE on a private writable file mapping faults every page in for write
(``populate_vma_page_range`` with FOLL_WRITE), which breaks COW at once: the child's
mapping holds its own copy of the tmpfile's page, so a later store by the parent through a
shared mapping (and msync) changes the file but not what the child reads. The parent and
child take turns as the C program's socketpair makes them; the child's two checks are the
program's TAP lines. ``tmpfile()`` is a file created at ``/map-populate-tmpfile`` on ext4
and unlinked at once. The C program stores the u64 0xdeadbabe and 0x22222BAD; memory keeps
one byte per 64-byte line here, so the port stores their low bytes.
"""

from __future__ import annotations

from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/map_populate.c"
FIXTURE = None
MMAP_SZ = 4096
DEADBABE, BAD = 0xBE, 0xAD  # the low bytes of 0xdeadbabe and 0x22222BAD
TMPFILE = "/map-populate-tmpfile"


def BUG_ON(t: Ksft, condition: bool, description: str) -> None:
    if condition:
        t.exit_fail(f"[FAIL]\t{description}")


def test_map_populate(t: Ksft) -> None:
    """main(), parent_f() and child_f() in the order the socket makes them run."""
    p = t.process
    fd = p.open(TMPFILE, "rw", create=True, truncate=True)
    t.machine.unlink(TMPFILE)  # tmpfile(): a file no path reaches
    p.ftruncate(fd, MMAP_SZ)
    smap = p.mmap(MMAP_SZ, "rw", "shared", fd=fd)
    p.write(smap, 1, value=DEADBABE)
    p.msync(smap, MMAP_SZ, "sync")
    child = p.fork()
    cmap = child.mmap(MMAP_SZ, "rw", "private|populate", fd=fd)  # child_f
    BUG_ON(t, child.read(cmap, 1)[0] != DEADBABE, "MAP_PRIVATE | MAP_POPULATE changed file")
    p.write(smap, 1, value=BAD)  # parent_f, once the child wrote to the socket
    p.msync(smap, MMAP_SZ, "sync")
    t.test_result(child.read(cmap, 1)[0] != BAD, "MAP_POPULATE COW private page")
    t.test_result(child.read(cmap, 1)[0] == DEADBABE, "The mapping state")
    child.exit()
