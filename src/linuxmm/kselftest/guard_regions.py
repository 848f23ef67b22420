"""``guard-regions.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported in part.

MADV_GUARD_INSTALL puts guard markers in the page tables of a range (any page there is
zapped first); an access to a marker faults with SIGSEGV, MADV_GUARD_REMOVE takes them
away. Markers survive mprotect, VMA splits and merges, MADV_DONTNEED, mremap moves and
fork; munmap drops them; a mlock()ed range refuses them (EINVAL). Each test runs on three
backings (``FIXTURE_VARIANT``): private anonymous memory, a memfd and a file in the
working directory (``/guard_regions_test_file`` here: paths are absolute), both mapped
shared and ftruncate()d to 100 pages.

The C program catches each SIGSEGV in a handler that siglongjmps back
(``try_access_buf``); the port installs one with ``p.sigaction("SIGSEGV", "catch")``, so
a faulting access raises ``SegmentationFault`` and the process goes on.

Ported: every test, in the file's order (a test the C program skips for a backing skips
here too; ``uffd`` skips: no userfaultfd; ``memfd_write_seal`` skips on the shmem backing,
waiting for fcntl(F_ADD_SEALS)). ``pagemap_scan`` reads the guard markers through the
PAGEMAP_SCAN ioctl (``p.pagemap_scan``).
"""

from __future__ import annotations

from ..arch.x86.mm.fault import SegmentationFault
from ..errors import KernelError
from ..fs.proc.task_mmu import PAGE_IS_GUARD, PM_GUARD_REGION
from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/guard-regions.c"
FIXTURE = "guard_regions"
PAGE_SIZE = 4096
ANON_BACKED, SHMEM_BACKED, LOCAL_FILE_BACKED = "anon", "shmem", "file"
VARIANTS = (ANON_BACKED, SHMEM_BACKED, LOCAL_FILE_BACKED)
FILE_PATH = "/guard_regions_test_file"


class GuardRegions:
    """The fixture: its process, the variant's backing and file descriptor."""

    def __init__(self, t: Ksft, backing: str):
        """FIXTURE_SETUP: the SIGSEGV handler; the memfd or file, 100 pages long."""
        self.t, self.p, self.backing, self.fd = t, t.process, backing, -1
        self.p.sigaction("SIGSEGV", "catch")
        if backing == LOCAL_FILE_BACKED:
            self.fd = self.p.open(FILE_PATH, "rw", create=True)
        elif backing == SHMEM_BACKED:
            self.fd = self.p.memfd_create("", 0)
        if self.fd >= 0:
            self.p.ftruncate(self.fd, 100 * PAGE_SIZE)

    def mmap_(self, addr: int, length: int, prot: str, extra_flags: str = "") -> int:
        """Private anonymous, or the file mapped shared; MAP_FAILED (-1) on error."""
        flags = "private|anonymous" if self.backing == ANON_BACKED else "shared"
        try:
            return self.p.mmap(length, prot, flags + ("|" + extra_flags if extra_flags else ""), addr=addr,
                               fd=None if self.backing == ANON_BACKED else self.fd)
        except KernelError:
            return -1

    def madvise(self, addr: int, length: int, advice: str) -> int:
        """0, or -errno as ``madvise() == -1`` with errno."""
        try:
            self.p.madvise(addr, length, advice)
        except KernelError as err:
            return -err.errno
        return 0

    def try_access_buf(self, ptr: int, write: bool) -> bool:
        """The access went through without a fatal signal."""
        try:
            if write:
                self.p.write(ptr, 1, value=ord("x"))
            else:
                self.p.read(ptr, 1)
        except SegmentationFault:
            return False
        return True

    def try_read_buf(self, ptr: int) -> bool:
        return self.try_access_buf(ptr, False)

    def try_write_buf(self, ptr: int) -> bool:
        return self.try_access_buf(ptr, True)

    def try_read_write_buf(self, ptr: int) -> bool:
        return self.try_read_buf(ptr) and self.try_write_buf(ptr)

    def char_at(self, ptr: int) -> int:
        return self.p.read(ptr, 1)[0]

    def teardown(self) -> None:
        """FIXTURE_TEARDOWN_PARENT: the handler goes, the file is closed and removed."""
        self.p.sigaction("SIGSEGV", "default")
        if self.fd >= 0:
            self.p.close(self.fd)
        if self.backing == LOCAL_FILE_BACKED:
            self.t.machine.unlink(FILE_PATH)


EFAULT, ENOMEM, EINVAL = 14, 12, 22


def basic(s: GuardRegions) -> None:
    ps, n = PAGE_SIZE, 10
    ptr = s.mmap_(0, n * ps, "rw")
    assert ptr != -1
    assert s.try_read_write_buf(ptr)
    assert s.madvise(ptr, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr)
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(1, n))
    assert s.madvise(ptr + (n - 1) * ps, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + (n - 1) * ps)
    assert s.madvise(ptr, ps, "guard_remove") == 0
    assert s.try_read_write_buf(ptr)
    assert s.madvise(ptr + (n - 1) * ps, ps, "guard_remove") == 0
    assert s.try_read_write_buf(ptr + (n - 1) * ps)
    assert s.madvise(ptr, 3 * ps, "guard_install") == 0  # over backed pages too
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(3))
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(3, n))
    assert s.madvise(ptr, n * ps, "guard_remove") == 0
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(n))
    assert s.madvise(ptr, n * ps, "guard_remove") == 0  # existing entries stay
    assert all(s.char_at(ptr + i * ps) == ord("x") for i in range(n))
    s.p.munmap(ptr, n * ps)


def multi_vma(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    region = s.mmap_(0, 100 * ps, "none")
    assert region != -1
    ptr1 = s.mmap_(region, 10 * ps, "rw", "fixed")
    ptr2 = s.mmap_(region + 50 * ps, 5 * ps, "rw", "fixed")
    ptr3 = s.mmap_(region + 80 * ps, 20 * ps, "rw", "fixed")
    assert -1 not in (ptr1, ptr2, ptr3)
    s.p.munmap(region + 10 * ps, 40 * ps)
    s.p.munmap(region + 55 * ps, 25 * ps)
    ranges = ((ptr1, 10), (ptr2, 5), (ptr3, 20))
    assert s.madvise(region, 100 * ps, "guard_install") == -ENOMEM  # the gaps: done, but ENOMEM
    assert not any(s.try_read_write_buf(p + i * ps) for p, n in ranges for i in range(n))
    assert s.madvise(region, 100 * ps, "guard_remove") == -ENOMEM
    assert all(s.try_read_write_buf(p + i * ps) for p, n in ranges for i in range(n))
    assert s.mmap_(region + 10 * ps, 40 * ps, "rwx", "fixed") != -1  # VMAs that cannot merge
    assert s.mmap_(region + 55 * ps, 25 * ps, "rwx", "fixed") != -1
    assert s.madvise(region, 100 * ps, "guard_install") == 0
    assert not any(s.try_read_write_buf(region + i * ps) for i in range(100))
    assert s.madvise(region, 100 * ps, "guard_remove") == 0
    assert all(s.try_read_write_buf(region + i * ps) for i in range(100))
    s.p.munmap(region, 100 * ps)


def process_madvise(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    region = s.mmap_(0, 100 * ps, "none")
    ptr1 = s.mmap_(region + ps, 10 * ps, "rw", "fixed|populate")  # populated: markers overwrite entries
    ptr2 = s.mmap_(region + 50 * ps, 5 * ps, "rw", "fixed")
    ptr3 = s.mmap_(region + 79 * ps, 20 * ps, "rw", "fixed")
    assert -1 not in (region, ptr1, ptr2, ptr3)
    vec = [(ptr1, ps), (ptr1 + 9 * ps, ps), (ptr2, ps), (ptr2 + 4 * ps, ps), (ptr3, ps), (ptr3 + 19 * ps, ps)]
    s.p.munmap(region, ps)
    s.p.munmap(region + 11 * ps, 39 * ps)
    s.p.munmap(region + 55 * ps, 24 * ps)
    s.p.munmap(region + 99 * ps, ps)
    assert s.p.process_madvise(s.p, vec, "guard_install") == 6 * ps  # PIDFD_SELF
    assert not any(s.try_read_write_buf(addr) for addr, _ in vec)
    s.p.process_madvise(s.p, vec, "guard_remove")
    assert all(s.try_read_write_buf(addr) for addr, _ in vec)
    s.p.munmap(ptr1, 10 * ps)
    s.p.munmap(ptr2, 5 * ps)
    s.p.munmap(ptr3, 20 * ps)


def munmap(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert ptr != -1
    assert s.madvise(ptr, ps, "guard_install") == 0 and s.madvise(ptr + 9 * ps, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + 9 * ps)
    s.p.munmap(ptr, ps)
    s.p.munmap(ptr + 9 * ps, ps)
    new1, new2 = s.mmap_(ptr, ps, "rw", "fixed"), s.mmap_(ptr + 9 * ps, ps, "rw", "fixed")
    assert -1 not in (new1, new2)
    assert s.try_read_write_buf(new1) and s.try_read_write_buf(new2)
    s.p.munmap(ptr, 10 * ps)


def mprotect(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr + 5 * ps, 2 * ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr + 5 * ps) and not s.try_read_write_buf(ptr + 6 * ps)
    s.p.mprotect(ptr + 5 * ps, 2 * ps, "r")
    assert not s.try_read_buf(ptr + 5 * ps) and not s.try_read_buf(ptr + 6 * ps)
    assert s.madvise(ptr + 5 * ps, 2 * ps, "guard_install") == 0
    assert not s.try_read_buf(ptr + 5 * ps) and not s.try_read_buf(ptr + 6 * ps)
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert all(s.try_read_buf(ptr + i * ps) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def split_merge(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    for i in (2, 5, 8):  # split by unmapping
        s.p.munmap(ptr + i * ps, ps)
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10) if i not in (2, 5, 8))
    for i in (2, 5, 8):  # mapped again: the unmap cleared their markers
        assert s.mmap_(ptr + i * ps, ps, "rw", "fixed") != -1
    assert all(s.try_read_write_buf(ptr + i * ps) == (i in (2, 5, 8)) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.mprotect(ptr, 3 * ps, "r")  # split into three
    s.p.mprotect(ptr + 7 * ps, 3 * ps, "r")
    assert not any(s.try_read_buf(ptr + i * ps) for i in range(10))
    s.p.mprotect(ptr, 3 * ps, "rw")  # merge again
    s.p.mprotect(ptr + 7 * ps, 3 * ps, "rw")
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.mprotect(ptr, 3 * ps, "r")
    s.p.mprotect(ptr + 7 * ps, 3 * ps, "r")
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert all(s.try_read_buf(ptr + i * ps) for i in range(10))
    s.p.mprotect(ptr, 3 * ps, "rw")
    s.p.mprotect(ptr + 7 * ps, 3 * ps, "rw")
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def dontneed(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    for i in range(10):
        s.p.write(ptr + i * ps, 1, value=ord("y"))
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert s.madvise(ptr, 10 * ps, "dontneed") == 0
    for i in range(10):
        result = s.try_read_buf(ptr + i * ps)
        if i % 2 == 0:
            assert not result
        else:  # anonymous memory reads a zero page, a file its data
            assert result and s.char_at(ptr + i * ps) == (0 if s.backing == ANON_BACKED else ord("y"))
        assert s.try_write_buf(ptr + i * ps) == (i % 2 != 0)
    s.p.munmap(ptr, 10 * ps)


def mlock(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    for i in range(10):
        s.p.write(ptr + i * ps, 1, value=ord("y"))
    s.p.mlock(ptr, 10 * ps)
    assert s.madvise(ptr, 10 * ps, "guard_install") == -EINVAL
    s.p.munlock(ptr, 10 * ps)
    assert s.madvise(ptr, 5 * ps, "guard_install") == 0
    for i in range(10):
        result = s.try_read_write_buf(ptr + i * ps)
        assert not result if i < 5 else result and s.char_at(ptr + i * ps) == ord("x")
    s.p.mlock(ptr + 5 * ps, 5 * ps)
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0  # non-destructive: fine on mlock()ed memory
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def mremap_move(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 5 * ps, "rw")
    assert s.madvise(ptr, ps, "guard_install") == 0 and s.madvise(ptr + 4 * ps, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + 4 * ps)
    ptr_new = s.mmap_(0, 5 * ps, "none")
    assert s.p.mremap(ptr, 5 * ps, 5 * ps, maymove=True, fixed=ptr_new) == ptr_new
    assert not s.try_read_write_buf(ptr_new) and not s.try_read_write_buf(ptr_new + 4 * ps)
    s.p.munmap(ptr_new, 5 * ps)


def mremap_expand(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    s.p.munmap(ptr + 5 * ps, 5 * ps)
    assert s.madvise(ptr, ps, "guard_install") == 0 and s.madvise(ptr + 4 * ps, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + 4 * ps)
    ptr = s.p.mremap(ptr, 5 * ps, 10 * ps)
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + 4 * ps)
    ptr_new = s.mmap_(0, 20 * ps, "none")
    assert s.p.mremap(ptr, 10 * ps, 20 * ps, maymove=True, fixed=ptr_new) == ptr_new
    assert not s.try_read_write_buf(ptr_new) and not s.try_read_write_buf(ptr_new + 4 * ps)
    s.p.munmap(ptr_new, 20 * ps)


def mremap_shrink(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 5 * ps, "rw")
    assert s.madvise(ptr, ps, "guard_install") == 0 and s.madvise(ptr + 4 * ps, ps, "guard_install") == 0
    assert not s.try_read_write_buf(ptr) and not s.try_read_write_buf(ptr + 4 * ps)
    ptr = s.p.mremap(ptr, 5 * ps, 3 * ps, maymove=True)
    assert not s.try_read_write_buf(ptr)  # the start marker stays, the end one went with the pages
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(1, 3))
    ptr = s.p.mremap(ptr, 3 * ps, 5 * ps)
    assert not s.try_read_write_buf(ptr)
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(1, 5))
    s.p.munmap(ptr, 5 * ps)


def fork(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 5 * ps, "guard_install") == 0
    parent = s.p
    s.p = parent.fork()  # the child inherits the markers and the handler
    assert all(s.try_read_write_buf(ptr + i * ps) == (i >= 5) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    s.p.exit()
    s.p = parent  # waitpid: the child's unguard did not touch the parent's page tables
    assert all(s.try_read_write_buf(ptr + i * ps) == (i >= 5) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def fork_cow(s: GuardRegions) -> None:
    if s.backing != ANON_BACKED:
        s.t.exit_skip("CoW only supported on anon mappings")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    parent = s.p
    s.p = parent.fork()
    assert check_pattern(s.p, ptr, 10)
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert s.p.read(ptr, 10 * ps, stride=LINE) == bytes(10 * ps // LINE)  # the zero page now
    s.p.exit()
    s.p = parent
    assert check_pattern(s.p, ptr, 10)  # the parent's pages are unchanged
    s.p.munmap(ptr, 10 * ps)


def fork_wipeonfork(s: GuardRegions) -> None:
    if s.backing != ANON_BACKED:
        s.t.exit_skip("Wipe on fork only supported on anon mappings")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 10 * ps, "wipeonfork") == 0
    assert s.madvise(ptr, 5 * ps, "guard_install") == 0
    parent = s.p
    s.p = parent.fork()
    assert all(s.try_read_write_buf(ptr + i * ps) for i in range(10))  # wiped with the rest
    s.p.exit()
    s.p = parent
    assert all(s.try_read_write_buf(ptr + i * ps) == (i >= 5) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def lazyfree(s: GuardRegions) -> None:
    if s.backing != ANON_BACKED:
        s.t.exit_skip("MADV_FREE only supported on anon mappings")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "free") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def populate(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert s.madvise(ptr, 10 * ps, "populate_read") == -EFAULT
    assert s.madvise(ptr, 10 * ps, "populate_write") == -EFAULT
    s.p.munmap(ptr, 10 * ps)


def cold_pageout(s: GuardRegions) -> None:
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert s.madvise(ptr, 10 * ps, "guard_install") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "cold") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "pageout") == 0
    assert not any(s.try_read_write_buf(ptr + i * ps) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def uffd(s: GuardRegions) -> None:
    if s.backing == LOCAL_FILE_BACKED:
        s.t.exit_skip("uffd only works on anon backing")
    s.t.exit_skip("userfaultfd is not simulated (the C test needs it: ASSERT_NE(uffd, -1))")


def madvise_sequential(s: GuardRegions) -> None:
    if s.backing == ANON_BACKED:
        s.t.exit_skip("MADV_SEQUENTIAL meaningful only for file-backed")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    assert check_pattern(s.p, ptr, 10)
    assert s.madvise(ptr, 10 * ps, "sequential") == 0
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert s.madvise(ptr, 10 * ps, "pageout") == 0
    for i in range(10):
        if i % 2 == 0:
            assert not s.try_read_write_buf(ptr + i * ps)
        else:
            assert s.char_at(ptr + i * ps) == ord("a") + i
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert check_pattern(s.p, ptr, 10)
    s.p.munmap(ptr, 10 * ps)


def map_private(s: GuardRegions) -> None:
    if s.backing == ANON_BACKED:
        s.t.exit_skip("MAP_PRIVATE test specific to file-backed")
    ps = PAGE_SIZE
    shared = s.mmap_(0, 10 * ps, "rw")
    private = s.p.mmap(10 * ps, "rw", "private", fd=s.fd)
    set_pattern(s.p, shared, 10)
    for i in range(0, 10, 2):
        assert s.madvise(shared + i * ps, ps, "guard_install") == 0
    for i in range(10):
        assert s.try_read_buf(shared + i * ps) == (i % 2 != 0)
        assert s.try_read_buf(private + i * ps)
    for i in range(0, 10, 2):
        assert s.madvise(private + i * ps, ps, "guard_install") == 0
    for i in range(10):
        assert s.try_read_buf(shared + i * ps) == (i % 2 != 0)
        assert s.try_read_buf(private + i * ps) == (i % 2 != 0)
    assert s.madvise(shared, 10 * ps, "guard_remove") == 0
    for i in range(10):
        assert s.try_read_buf(shared + i * ps)
        assert s.try_read_buf(private + i * ps) == (i % 2 != 0)
    assert s.madvise(private, 10 * ps, "guard_remove") == 0
    assert all(s.try_read_buf(shared + i * ps) and s.try_read_buf(private + i * ps) for i in range(10))
    assert check_pattern(s.p, shared, 10) and check_pattern(s.p, private, 10)
    for i in range(0, 10, 2):  # private copies of the even pages
        s.p.write(private + i * ps, ps, stride=LINE, value=ord("a") + i)
    assert s.madvise(private, 5 * ps, "guard_install") == 0
    for i in range(10):
        assert s.try_read_buf(private + i * ps) == (i >= 5)
        assert s.try_read_buf(shared + i * ps)
    assert s.madvise(private, 10 * ps, "guard_remove") == 0  # the first five were zapped: shared again
    for i in range(10):
        here = s.p.read(private + i * ps, ps, stride=LINE)
        if i < 5 or i % 2 == 0:
            assert here == s.p.read(shared + i * ps, ps, stride=LINE)
        else:
            assert here == bytes([ord("a") + i]) * (ps // LINE)
    s.p.munmap(shared, 10 * ps)
    s.p.munmap(private, 10 * ps)


def readonly_file(s: GuardRegions) -> None:
    if s.backing != LOCAL_FILE_BACKED:
        s.t.exit_skip("Read-only test specific to file-backed")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    s.p.munmap(ptr, 10 * ps)
    s.p.close(s.fd)
    s.fd = s.p.open(FILE_PATH, "r")
    ptr = s.mmap_(0, 10 * ps, "r")
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert all(s.try_read_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert check_pattern(s.p, ptr, 10)
    s.p.munmap(ptr, 10 * ps)


def fault_around(s: GuardRegions) -> None:
    if s.backing == ANON_BACKED:
        s.t.exit_skip("Fault-around test specific to file-backed")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    assert s.madvise(ptr, 10 * ps, "pageout") == 0  # out of the page cache: major faults next
    s.p.munmap(ptr, 10 * ps)
    ptr = s.mmap_(0, 10 * ps, "rw")
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert all(s.try_read_buf(ptr + i * ps) for i in range(1, 10, 2))  # fault-around maps neighbours
    assert all(s.try_read_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def truncation(s: GuardRegions) -> None:
    """Markers survive ftruncate() shrinking the file under them and growing it back."""
    if s.backing == ANON_BACKED:
        s.t.exit_skip("Truncation test specific to file-backed")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert all(s.try_read_write_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    s.p.ftruncate(s.fd, 10 * ps)  # down to the size used
    assert all(s.try_read_write_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    s.p.ftruncate(s.fd, 5 * ps)  # to half, and back
    s.p.ftruncate(s.fd, 10 * ps)
    assert all(s.try_read_write_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    s.p.munmap(ptr, 10 * ps)


def hole_punch(s: GuardRegions) -> None:
    """MADV_REMOVE over guarded pages frees the file's pages and leaves the markers."""
    if s.backing == ANON_BACKED:
        s.t.exit_skip("Truncation test specific to file-backed")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    set_pattern(s.p, ptr, 10)
    assert s.madvise(ptr + 3 * ps, 4 * ps, "guard_install") == 0
    assert all(s.try_read_buf(ptr + i * ps) == (i < 3 or i >= 7) for i in range(10))
    assert s.madvise(ptr + 3 * ps, 4 * ps, "remove") == 0
    assert all(s.try_read_buf(ptr + i * ps) == (i < 3 or i >= 7) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert check_pattern(s.p, ptr, 3)
    assert s.p.read(ptr + 3 * ps, 4 * ps, stride=LINE) == bytes(4 * ps // LINE)  # the hole reads zeroes
    assert check_pattern(s.p, ptr, 3, 7)
    s.p.munmap(ptr, 10 * ps)


def memfd_write_seal(s: GuardRegions) -> None:
    if s.backing != SHMEM_BACKED:
        s.t.exit_skip("memfd write seal test specific to shmem")
    s.t.exit_skip("fcntl(F_ADD_SEALS, F_SEAL_WRITE) is not simulated")


def anon_zeropage(s: GuardRegions) -> None:
    """Markers over a read-only mapping of the zero page (or of the memfd's holes)."""
    if s.backing == LOCAL_FILE_BACKED:
        s.t.exit_skip("anon zero page test specific to anon/shmem")
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "r")
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert all(s.try_read_buf(ptr + i * ps) == (i % 2 != 0) for i in range(10))
    assert s.madvise(ptr, 10 * ps, "guard_remove") == 0
    assert all(s.try_read_buf(ptr + i * ps) for i in range(10))
    assert s.p.read(ptr, 10 * ps, stride=LINE) == bytes(10 * ps // LINE)
    s.p.munmap(ptr, 10 * ps)


def pagemap(s: GuardRegions) -> None:
    """/proc/self/pagemap shows PM_GUARD_REGION (bit 58) at the markers only."""
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")
    assert all(entry & PM_GUARD_REGION == 0 for entry in s.p.pagemap(ptr, 10))
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    assert [entry & PM_GUARD_REGION for entry in s.p.pagemap(ptr, 10)] == \
        [PM_GUARD_REGION if i % 2 == 0 else 0 for i in range(10)]
    s.p.munmap(ptr, 10 * ps)


def pagemap_scan(s: GuardRegions) -> None:
    """PAGEMAP_SCAN for PAGE_IS_GUARD finds nothing, then the five guarded pages, one region each."""
    ps = PAGE_SIZE
    ptr = s.mmap_(0, 10 * ps, "rw")

    def scan():
        return s.p.pagemap_scan(ptr, ptr + 10 * ps, 10, category_anyof_mask=PAGE_IS_GUARD,
                                return_mask=PAGE_IS_GUARD)

    res = scan()
    assert len(res) == 0 and res.walk_end == ptr + 10 * ps
    for i in range(0, 10, 2):
        assert s.madvise(ptr + i * ps, ps, "guard_install") == 0
    res = scan()
    assert len(res) == 5 and res.walk_end == ptr + 10 * ps
    for i, region in enumerate(res.regions):
        assert (region.start, region.end, region.categories) == (ptr + 2 * i * ps, ptr + (2 * i + 1) * ps,
                                                                 PAGE_IS_GUARD)
    s.p.munmap(ptr, 10 * ps)


LINE = 64  # memory keeps one byte per 64-byte line


def set_pattern(p, ptr: int, num_pages: int) -> None:
    """Page i holds 'a' + i % 26."""
    for i in range(num_pages):
        p.write(ptr + i * PAGE_SIZE, PAGE_SIZE, stride=LINE, value=ord("a") + i % 26)


def check_pattern(p, ptr: int, num_pages: int, pgoff: int = 0) -> bool:
    """``num_pages`` pages from page ``pgoff`` hold the pattern (``check_pattern_offset``)."""
    return all(p.read(ptr + i * PAGE_SIZE, PAGE_SIZE, stride=LINE) == bytes([ord("a") + i % 26]) * (PAGE_SIZE // LINE)
               for i in range(pgoff, pgoff + num_pages))


TESTS = (basic, multi_vma, process_madvise, munmap, mprotect, split_merge, dontneed, mlock, mremap_move,
         mremap_expand, mremap_shrink, fork, fork_cow, fork_wipeonfork, lazyfree, populate, cold_pageout, uffd,
         madvise_sequential, map_private, readonly_file, fault_around, truncation, hole_punch, memfd_write_seal,
         anon_zeropage, pagemap, pagemap_scan)


def _case(variant: str, fn):
    def case(t: Ksft) -> None:
        s = GuardRegions(t, variant)
        try:
            fn(s)
        finally:
            if s.p.alive:
                s.teardown()
    case.__name__ = f"test_{variant}_{fn.__name__}"
    case.TAP_NAME = f"guard_regions.{variant}.{fn.__name__}"
    return case


for _variant in VARIANTS:  # the harness runs every test of a variant, variant by variant
    for _fn in TESTS:
        globals()[f"test_{_variant}_{_fn.__name__}"] = _case(_variant, _fn)
