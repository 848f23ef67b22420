"""``mseal_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported: the anonymous-memory
cases.

mseal() seals VMAs; afterwards mprotect, munmap, mremap (shrink, grow, move, onto a sealed
target, DONTUNMAP), mmap(MAP_FIXED) over them and discarding madvise on read-only anonymous
memory fail with EPERM, while an unsealed run of the same steps succeeds. mseal itself
refuses bad flags, unaligned starts, wrapping lengths and ranges with holes. Most C test
functions run twice, unsealed and sealed (``test_seal_mprotect(false)``, then ``(true)``),
each printing one TAP line named after the function; a port case runs both, in one process
as the C program does. ``FAIL_TEST_IF_FALSE`` (``mseal_helpers.h``) fails the line and
names the check.

Not ported: the protection-key case (``..._on_pkey``: no PKU, which the C program also
skips without). ``test_seal_zero_address`` and
``test_seal_mremap_move_fixed_zero`` map page 0, which needs ``vm.mmap_min_addr`` 0 or
CAP_SYS_RAWIO: the port gives the process CAP_SYS_RAWIO for them, as a root run has.
"""

from __future__ import annotations

import errno
import inspect

from ..errors import KernelError
from .ksft import Ksft, syscall_errno
from .vm_util import get_vma_size

SOURCE = "tools/testing/selftests/mm/mseal_test.c"
FIXTURE = None
PAGE_SIZE = 4096
UINT64_MAX = (1 << 64) - 1
MAP_FAILED = -1


class FailTest(Exception):
    """``FAIL_TEST_IF_FALSE`` failed: the variant stops and its TAP line fails."""


def FAIL_TEST_IF_FALSE(cond: bool) -> None:
    """Fail the variant, naming the line of the test function's check."""
    if not cond:
        frames = inspect.stack()[1:]
        line = next((f.lineno for f in frames if f.function.startswith(("seal_", "munmap_"))), frames[0].lineno)
        raise FailTest(f"line:{line}")


def sys_mmap(p, addr: int, length: int, prot: str, flags: str) -> int:
    """The mapping's address, or MAP_FAILED with ``p.errno`` set."""
    try:
        return p.mmap(length, prot=prot, flags=flags, addr=addr)
    except KernelError as err:  # the errno is kept for the checks
        p.last_errno = err.errno
        return MAP_FAILED


def sys_mremap(p, addr: int, old_len: int, new_len: int, maymove=False, fixed=None, dontunmap=False) -> int:
    try:
        return p.mremap(addr, old_len, new_len, maymove=maymove, fixed=fixed, dontunmap=dontunmap)
    except KernelError as err:
        p.last_errno = err.errno
        return MAP_FAILED


def sys_mremap_raw(p, addr: int, old_len: int, new_len: int, flags: str, new_addr: int) -> int:
    """mremap(2) with a new address that is only a hint (no MREMAP_FIXED)."""
    from ..mm.mremap import do_mremap

    try:
        return do_mremap(p.task.mm, addr, old_len, new_len, flags, new_addr)
    except KernelError as err:
        p.last_errno = err.errno
        return MAP_FAILED


class Proc:
    """The test program's view of its process: syscalls returning 0 or -errno."""

    def __init__(self, process):
        self.p, self.last_errno = process, 0

    def __getattr__(self, name):
        return getattr(self.p, name)

    def ret(self, call, *args, **kwargs) -> int:
        err = syscall_errno(call, *args, **kwargs)
        self.last_errno = err
        return -err

    def mseal(self, addr: int, length: int) -> int:
        return self.ret(self.p.mseal, addr, length)

    def mprotect(self, addr: int, length: int, prot: str) -> int:
        return self.ret(self.p.mprotect, addr, length, prot)

    def munmap(self, addr: int, length: int) -> int:
        return self.ret(self.p.munmap, addr, length)

    def madvise(self, addr: int, length: int, advice: str) -> int:
        return self.ret(self.p.madvise, addr, length, advice)


def setup_single_address(p: Proc, size: int) -> int:
    return sys_mmap(p, 0, size, "r", "anonymous|private")


def _expect(ret: int, seal: bool) -> None:
    """Sealed: the call failed; unsealed: it succeeded."""
    FAIL_TEST_IF_FALSE(ret < 0 if seal else not ret)


def seal_addseal(p: Proc) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))


def seal_unmapped_start(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr, 2 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, size, "rw") < 0)  # 2 pages from ptr are unmapped
    FAIL_TEST_IF_FALSE(p.mseal(ptr, size) < 0)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE))


def seal_unmapped_middle(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + PAGE_SIZE, 2 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, size, "rw") < 0)
    FAIL_TEST_IF_FALSE(p.mseal(ptr, size) < 0)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, PAGE_SIZE))  # the first and last page can be sealed
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 3 * PAGE_SIZE, PAGE_SIZE))


def seal_unmapped_end(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, size, "rw") < 0)
    FAIL_TEST_IF_FALSE(p.mseal(ptr, size) < 0)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, 2 * PAGE_SIZE))


def seal_multiple_vmas(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + PAGE_SIZE, 2 * PAGE_SIZE, "rw"))  # 3 VMAs
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, size, "r"))
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + PAGE_SIZE, 2 * PAGE_SIZE, "rw"))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, size))  # over all three


def seal_split_start(p: Proc) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 2 * PAGE_SIZE, "rw"))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, PAGE_SIZE))  # splits the VMA
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + PAGE_SIZE, 3 * PAGE_SIZE))


def seal_split_end(p: Proc) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 2 * PAGE_SIZE, "rw"))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 3 * PAGE_SIZE, PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, 3 * PAGE_SIZE))


def seal_invalid_input(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, 8 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 4 * PAGE_SIZE, 4 * PAGE_SIZE))
    from ..mm.mseal import do_mseal  # the raw syscall: Process.mseal passes no flags

    FAIL_TEST_IF_FALSE(p.ret(do_mseal, p.task.mm, ptr, size, 0x20) < 0)  # invalid flag
    FAIL_TEST_IF_FALSE(p.mseal(ptr + 1, 2 * PAGE_SIZE) < 0)  # unaligned address
    FAIL_TEST_IF_FALSE(p.mseal(ptr, 5 * PAGE_SIZE) < 0)  # length too big
    FAIL_TEST_IF_FALSE(p.mseal(ptr, UINT64_MAX // PAGE_SIZE) < 0)  # length overflow
    FAIL_TEST_IF_FALSE(p.mseal(ptr - PAGE_SIZE, 5 * PAGE_SIZE) < 0)  # start not in a VMA


def seal_zero_length(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 0, "rw"))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, 0))  # a zero length is fine, as for mprotect
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, size, "rw"))  # and sealed nothing


def seal_twice(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, size))
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, size))  # idempotent


def _sealed(p: Proc, seal: bool, size: int, seal_at: int = 0, seal_len: int | None = None) -> int:
    """``setup_single_address`` of ``size``, sealed from ``seal_at`` for ``seal_len`` if ``seal``."""
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr + seal_at, size - seal_at if seal_len is None else seal_len))
    return ptr


def seal_mprotect(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _expect(p.mprotect(ptr, 4 * PAGE_SIZE, "rw"), seal)


def seal_start_mprotect(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE, 0, PAGE_SIZE)
    _expect(p.mprotect(ptr, PAGE_SIZE, "rw"), seal)  # the first page is sealed
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + PAGE_SIZE, 3 * PAGE_SIZE, "rw"))


def seal_end_mprotect(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE, PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "rw"))
    _expect(p.mprotect(ptr + PAGE_SIZE, 3 * PAGE_SIZE, "rw"), seal)


def seal_mprotect_unalign_len(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE, 0, 2 * PAGE_SIZE - 1)
    _expect(p.mprotect(ptr, 2 * PAGE_SIZE, "rw"), seal)  # 2 pages are sealed
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + 2 * PAGE_SIZE, PAGE_SIZE, "rw"))


def seal_mprotect_unalign_len_variant_2(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE, 0, 2 * PAGE_SIZE + 1)
    _expect(p.mprotect(ptr, 3 * PAGE_SIZE, "rw"), seal)  # 3 pages are sealed
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + 3 * PAGE_SIZE, PAGE_SIZE, "rw"))


def seal_mprotect_two_vma(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 2 * PAGE_SIZE, "rw"))  # split
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    _expect(p.mprotect(ptr, 2 * PAGE_SIZE, "rw"), seal)
    _expect(p.mprotect(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE, "rw"), seal)


def seal_mprotect_two_vma_with_split(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 2 * PAGE_SIZE, "rw"))  # two VMAs
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr + PAGE_SIZE, 2 * PAGE_SIZE))  # across both, splitting them
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "rw"))
    _expect(p.mprotect(ptr + PAGE_SIZE, PAGE_SIZE, "rw"), seal)
    _expect(p.mprotect(ptr + 2 * PAGE_SIZE, PAGE_SIZE, "rw"), seal)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + 3 * PAGE_SIZE, PAGE_SIZE, "rw"))


def seal_mprotect_partial_mprotect(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE, 0, PAGE_SIZE)
    _expect(p.mprotect(ptr, 2 * PAGE_SIZE, "rw"), seal)  # the first page is sealed


def seal_mprotect_two_vma_with_gap(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "rw"))
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + 3 * PAGE_SIZE, PAGE_SIZE, "rw"))
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + PAGE_SIZE, 2 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, 4 * PAGE_SIZE, "r") < 0)  # the gap (the first page changed)
    FAIL_TEST_IF_FALSE(p.mseal(ptr, 4 * PAGE_SIZE) < 0)
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, PAGE_SIZE, "r") == 0)  # neither end is sealed
    FAIL_TEST_IF_FALSE(p.mprotect(ptr + 3 * PAGE_SIZE, PAGE_SIZE, "r") == 0)


def seal_mprotect_merge(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "rw"))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 2 * PAGE_SIZE))
    _expect(p.mprotect(ptr, 2 * PAGE_SIZE, "r"), seal)
    FAIL_TEST_IF_FALSE(p.mprotect(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE, "r") == 0)


def seal_mprotect_split(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "rw"))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    _expect(p.mprotect(ptr, 2 * PAGE_SIZE, "r"), seal)
    _expect(p.mprotect(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE, "r"), seal)


def seal_munmap(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)


def seal_munmap_two_vma(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, 2 * PAGE_SIZE, "rw"))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    _expect(p.munmap(ptr, 2 * PAGE_SIZE), seal)
    _expect(p.munmap(ptr + PAGE_SIZE, 2 * PAGE_SIZE), seal)


def seal_munmap_vma_with_gap(p: Proc, seal: bool) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + PAGE_SIZE, 2 * PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(p.mseal(ptr, size) < 0)  # no gap allowed in the middle
    FAIL_TEST_IF_FALSE(not p.munmap(ptr, PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 2 * PAGE_SIZE, PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.munmap(ptr, size))


def munmap_start_freed(p: Proc, seal: bool) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr, PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr + PAGE_SIZE, 3 * PAGE_SIZE))
    _expect(p.munmap(ptr, size), seal)  # an unsealed munmap is fine over the hole
    FAIL_TEST_IF_FALSE(get_vma_size(p, ptr + PAGE_SIZE)[0] == (3 * PAGE_SIZE if seal else 0))


def munmap_end_freed(p: Proc, seal: bool) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 3 * PAGE_SIZE, PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 3 * PAGE_SIZE))
    _expect(p.munmap(ptr, size), seal)


def munmap_middle_freed(p: Proc, seal: bool) -> None:
    size = 4 * PAGE_SIZE
    ptr = setup_single_address(p, size)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + PAGE_SIZE, 2 * PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, PAGE_SIZE))
    _expect(p.munmap(ptr, size), seal)
    left = PAGE_SIZE if seal else 0  # a sealed first page keeps the whole munmap from happening
    FAIL_TEST_IF_FALSE(get_vma_size(p, ptr)[0] == left)
    FAIL_TEST_IF_FALSE(get_vma_size(p, ptr + 3 * PAGE_SIZE)[0] == left)


def _eperm_or(p: Proc, ret: int, seal: bool, ok) -> None:
    """A sealed mremap/mmap fails with EPERM; an unsealed one gives what ``ok`` accepts."""
    if seal:
        FAIL_TEST_IF_FALSE(ret == MAP_FAILED)
        FAIL_TEST_IF_FALSE(p.last_errno == errno.EPERM)
    else:
        FAIL_TEST_IF_FALSE(ok(ret))


def seal_mremap_shrink(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _eperm_or(p, sys_mremap(p, ptr, 4 * PAGE_SIZE, 2 * PAGE_SIZE), seal, lambda r: r != MAP_FAILED)


def seal_mremap_expand(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 2 * PAGE_SIZE))
    _eperm_or(p, sys_mremap(p, ptr, 2 * PAGE_SIZE, 4 * PAGE_SIZE), seal, lambda r: r == ptr)


def seal_mremap_move(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, PAGE_SIZE)
    new_ptr = setup_single_address(p, PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.munmap(new_ptr, PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, PAGE_SIZE))
    _eperm_or(p, sys_mremap(p, ptr, PAGE_SIZE, PAGE_SIZE, fixed=new_ptr), seal, lambda r: r != MAP_FAILED)


def seal_mremap_shrink_fixed(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    new_addr = setup_single_address(p, 4 * PAGE_SIZE)
    _eperm_or(p, sys_mremap(p, ptr, 4 * PAGE_SIZE, 2 * PAGE_SIZE, fixed=new_addr), seal,
              lambda r: r == new_addr)


def seal_mremap_expand_fixed(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, PAGE_SIZE)
    new_addr = setup_single_address(p, 4 * PAGE_SIZE)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(new_addr, 4 * PAGE_SIZE))  # the target is sealed
    _eperm_or(p, sys_mremap(p, ptr, PAGE_SIZE, 4 * PAGE_SIZE, fixed=new_addr), seal, lambda r: r == new_addr)


def seal_mremap_move_fixed(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 4 * PAGE_SIZE)
    new_addr = setup_single_address(p, 4 * PAGE_SIZE)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(new_addr, 4 * PAGE_SIZE))
    _eperm_or(p, sys_mremap(p, ptr, 4 * PAGE_SIZE, 4 * PAGE_SIZE, fixed=new_addr), seal, lambda r: r == new_addr)


def seal_mremap_move_dontunmap(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _eperm_or(p, sys_mremap(p, ptr, 4 * PAGE_SIZE, 4 * PAGE_SIZE, maymove=True, dontunmap=True), seal,
              lambda r: r != MAP_FAILED)


def seal_mremap_move_fixed_zero(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _eperm_or(p, sys_mremap(p, ptr, 4 * PAGE_SIZE, 2 * PAGE_SIZE, fixed=0), seal, lambda r: r == 0)


def seal_mremap_move_dontunmap_anyaddr(p: Proc, seal: bool) -> None:
    """MREMAP_DONTUNMAP to a free address given as a hint: taken when unsealed."""
    size = 4 * PAGE_SIZE
    ptr = _sealed(p, seal, size)
    ptr2 = setup_single_address(p, size)  # an address not allocated: allocate, then free
    FAIL_TEST_IF_FALSE(ptr2 != MAP_FAILED)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr2, size))
    vrm = sys_mremap_raw(p, ptr, size, size, "maymove|dontunmap", ptr2)
    _eperm_or(p, vrm, seal, lambda r: r == ptr2)


def seal_madvise_nodiscard(p: Proc, seal: bool) -> None:
    """MADV_RANDOM touches no contents: fine on a sealed VMA."""
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.madvise(ptr, 4 * PAGE_SIZE, "random"))
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)


def seal_discard_ro_anon(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 4 * PAGE_SIZE)
    _expect(p.madvise(ptr, 4 * PAGE_SIZE, "dontneed"), seal)
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)


def seal_discard_ro_anon_on_rw(p: Proc, seal: bool) -> None:
    """A writable sealed VMA may be discarded: the process could zero it anyway."""
    ptr = sys_mmap(p, 0, 4 * PAGE_SIZE, "rw", "anonymous|private")
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.madvise(ptr, 4 * PAGE_SIZE, "dontneed"))
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)


def seal_discard_ro_anon_on_shared(p: Proc, seal: bool) -> None:
    """Shared memory is not protected from discards."""
    ptr = sys_mmap(p, 0, 4 * PAGE_SIZE, "r", "anonymous|shared")
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.madvise(ptr, 4 * PAGE_SIZE, "dontneed"))
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)


def seal_discard_ro_anon_on_filebacked(p: Proc, seal: bool) -> None:
    """A read-only private mapping of a file (a memfd) may be discarded: the file still holds
    the data."""
    fd = p.memfd_create("test", 0)
    FAIL_TEST_IF_FALSE(fd > 0)
    FAIL_TEST_IF_FALSE(not p.ret(p.p.fallocate, fd, 0, 4 * PAGE_SIZE))
    try:
        ptr = p.mmap(4 * PAGE_SIZE, prot="r", flags="private", fd=fd)
    except KernelError:
        ptr = MAP_FAILED
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 4 * PAGE_SIZE))
    FAIL_TEST_IF_FALSE(not p.madvise(ptr, 4 * PAGE_SIZE, "dontneed"))
    _expect(p.munmap(ptr, 4 * PAGE_SIZE), seal)
    p.close(fd)


def seal_mmap_overwrite_prot(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, PAGE_SIZE)
    _eperm_or(p, sys_mmap(p, ptr, PAGE_SIZE, "none", "anonymous|private|fixed"), seal, lambda r: r == ptr)


def seal_mmap_expand(p: Proc, seal: bool) -> None:
    ptr = setup_single_address(p, 12 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.munmap(ptr + 8 * PAGE_SIZE, 4 * PAGE_SIZE))
    if seal:
        FAIL_TEST_IF_FALSE(not p.mseal(ptr, 8 * PAGE_SIZE))
    _eperm_or(p, sys_mmap(p, ptr, 12 * PAGE_SIZE, "r", "anonymous|private|fixed"), seal, lambda r: r == ptr)


def seal_mmap_shrink(p: Proc, seal: bool) -> None:
    ptr = _sealed(p, seal, 12 * PAGE_SIZE)
    _eperm_or(p, sys_mmap(p, ptr, 8 * PAGE_SIZE, "r", "anonymous|private|fixed"), seal, lambda r: r == ptr)


def _vma_is(p: Proc, addr: int, pages: int) -> None:
    """The maps line starting at ``addr`` spans ``pages`` pages and is read-only."""
    size, prot = get_vma_size(p, addr)
    FAIL_TEST_IF_FALSE(size == pages * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(prot.startswith("r--"))


def seal_merge_and_split(p: Proc) -> None:
    """Sealing a part splits a VMA; sealing next to a sealed VMA merges with it."""
    ptr = setup_single_address(p, 24 * PAGE_SIZE)  # (24 RO)
    FAIL_TEST_IF_FALSE(ptr != MAP_FAILED)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr, PAGE_SIZE, "none"))  # (1 NONE) (22 RO) (1 NONE)
    FAIL_TEST_IF_FALSE(not p.mprotect(ptr + 23 * PAGE_SIZE, PAGE_SIZE, "none"))
    _vma_is(p, ptr + PAGE_SIZE, 22)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + PAGE_SIZE, PAGE_SIZE))  # (1 NONE) (1 RO_SEAL) (21 RO) (1 NONE)
    _vma_is(p, ptr + PAGE_SIZE, 1)
    _vma_is(p, ptr + 2 * PAGE_SIZE, 21)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 22 * PAGE_SIZE, PAGE_SIZE))  # ... (20 RO) (1 RO_SEAL) (1 NONE)
    _vma_is(p, ptr + 22 * PAGE_SIZE, 1)
    _vma_is(p, ptr + 2 * PAGE_SIZE, 20)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 2 * PAGE_SIZE, PAGE_SIZE))  # merge with prev: (2 RO_SEAL) (19 RO)
    _vma_is(p, ptr + PAGE_SIZE, 2)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 21 * PAGE_SIZE, PAGE_SIZE))  # merge with next: (18 RO) (2 RO_SEAL)
    _vma_is(p, ptr + 21 * PAGE_SIZE, 2)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 2 * PAGE_SIZE, 2 * PAGE_SIZE))  # split, merge with prev: (3 RO_SEAL)
    _vma_is(p, ptr + PAGE_SIZE, 3)
    FAIL_TEST_IF_FALSE(p.munmap(ptr + PAGE_SIZE, PAGE_SIZE) < 0)
    FAIL_TEST_IF_FALSE(p.mprotect(ptr + 2 * PAGE_SIZE, PAGE_SIZE, "none") < 0)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 20 * PAGE_SIZE, 2 * PAGE_SIZE))  # split, merge with next: (3 RO_SEAL)
    _vma_is(p, ptr + 20 * PAGE_SIZE, 3)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr + 2 * PAGE_SIZE, 20 * PAGE_SIZE))  # (1 NONE) (22 RO_SEAL) (1 NONE)
    _vma_is(p, ptr + PAGE_SIZE, 22)


def seal_zero_address(p: Proc) -> None:
    size = 4 * PAGE_SIZE
    ptr = sys_mmap(p, 0, size, "none", "anonymous|private|fixed")
    FAIL_TEST_IF_FALSE(ptr == 0)
    FAIL_TEST_IF_FALSE(get_vma_size(p, ptr)[0] == 4 * PAGE_SIZE)
    FAIL_TEST_IF_FALSE(not p.mseal(ptr, size))
    FAIL_TEST_IF_FALSE(p.mprotect(ptr, size, "rw") != 0)  # sealed


# ---- the C program's main(): one case per test function, in its order -----------------------
SINGLE = ("seal_addseal", "seal_unmapped_start", "seal_unmapped_middle", "seal_unmapped_end", "seal_multiple_vmas",
          "seal_split_start", "seal_split_end", "seal_invalid_input", "seal_zero_length", "seal_twice")
BOTH = ("seal_mprotect", "seal_start_mprotect", "seal_end_mprotect", "seal_mprotect_unalign_len",
        "seal_mprotect_unalign_len_variant_2", "seal_mprotect_two_vma", "seal_mprotect_two_vma_with_split",
        "seal_mprotect_partial_mprotect", "seal_mprotect_two_vma_with_gap", "seal_mprotect_merge",
        "seal_mprotect_split", "seal_munmap", "seal_munmap_two_vma", "seal_munmap_vma_with_gap",
        "munmap_start_freed", "munmap_middle_freed", "munmap_end_freed", "seal_mremap_shrink",
        "seal_mremap_expand", "seal_mremap_move", "seal_mremap_shrink_fixed", "seal_mremap_expand_fixed",
        "seal_mremap_move_fixed", "seal_mremap_move_dontunmap", "seal_mremap_move_fixed_zero",
        "seal_mremap_move_dontunmap_anyaddr", "seal_madvise_nodiscard", "seal_discard_ro_anon",
        "seal_discard_ro_anon_on_rw", "seal_discard_ro_anon_on_shared", "seal_discard_ro_anon_on_filebacked",
        "seal_mmap_overwrite_prot",
        "seal_mmap_expand", "seal_mmap_shrink")
LAST = ("seal_merge_and_split", "seal_zero_address")
ROOT_ONLY = ("seal_mremap_move_fixed_zero", "seal_zero_address")  # page 0: CAP_SYS_RAWIO, as root has


def _case(name: str, variants: tuple):
    fn = globals()[name]

    def case(t: Ksft) -> None:
        if name in ROOT_ONLY:
            t.process.task.mm.capabilities |= {"CAP_SYS_RAWIO"}
        p = Proc(t.process)
        for seal in variants:
            try:
                fn(p) if seal is None else fn(p, seal)
            except FailTest as err:
                t.test_result(False, f"test_{name}, {err}")
            else:
                t.test_result(True, f"test_{name}")
    case.__name__ = "test_" + name
    return case


for _name in SINGLE:
    globals()["test_" + _name] = _case(_name, (None,))
for _name in BOTH:
    globals()["test_" + _name] = _case(_name, (False, True))
for _name in LAST:
    globals()["test_" + _name] = _case(_name, (None,))
