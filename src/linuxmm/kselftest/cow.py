"""``cow.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported in part: the
anonymous-memory cases that need fork, copy-on-write, madvise and long-term R/O GUP pins
(through the GUP test driver, ``Process.gup_test``), and the non-anonymous COW and R/O pin
cases.

After ``fork()`` a private anonymous page is shared read-only by parent and child; the
first write from either side must copy it (``do_wp_page``, ``wp_page_copy``; a THP is
copied or split by ``do_huge_pmd_wp_page``), so the child keeps seeing the old contents
while the parent changes its copy. Each test case runs on every kind of page the C
program sets up (``run_anon_test_case``): a base page, a PMD-mapped THP, a PTE-mapped THP
(a single subpage mprotect()ed R/O and back splits the PMD), a single PTE left of a THP
(MADV_DONTNEED of the rest), a THP half of which was mremap()ed away, and a THP whose
first page only was shared with an earlier child (MADV_DONTFORK on the rest). The
swapped-out variants skip as the C program skips on a machine without swap ("MADV_PAGEOUT
did not work, is swap enabled?"): the selftest machine, like this host, has no swap. THP sizes other than
PMD size (mTHP) and hugetlb sizes are not simulated, so their runs do not exist here, as
on a kernel without them.

The R/O pin cases (``do_test_ro_pin``) take a long-term R/O pin (``PIN_LONGTERM_TEST_START``,
``pin_user_pages`` or GUP-fast) of a page mapped read-only: COW-shared with a live child,
previously shared with a child that exited, or exclusive but write-protected (mprotect R/O,
soft-dirty cleared, mprotect R/W), then write the page through the page tables: the pin must
see the write (``PIN_LONGTERM_TEST_READ``), so the pin must have unshared the page first
(FAULT_FLAG_UNSHARE) and the write must reuse it, not copy it away.

The non-anonymous cases (``run_non_anon_test_case``) map a page privately and writable
next to a second, read-only mapping of the same page: the shared zeropage (two private
anonymous mappings read once), a memfd and a tmpfile (fallocate()d, mapped private and
shared) and the huge zeropage (PMD-aligned, MADV_HUGEPAGE); writing the private mapping
must copy the page (``do_cow_fault``, ``wp_page_copy`` of the zeropage), so the other
mapping keeps reading zeros. ``tmpfile()`` opens an unnamed file in /tmp; the port creates
``/cow-tmpfile`` on ext4 and unlinks it at once. Their R/O pin variants pin the private
mapping long-term: GUP must unshare the zero page or page-cache page into an anonymous page
first. No hugetlb sizes exist, so the memfd-hugetlb runs do not either.

The anonymous THP cases (``run_anon_thp_test_cases``) collapse a PTE-mapped THP with
MADV_COLLAPSE before or after a fork that COW-shares all, the lower or the upper half of it
(MADV_DONTFORK on the rest): the parent's writes after the collapse must not reach the child.

The vmsplice() cases (``test_vmsplice_*``) hand the pages to a pipe by reference
(``vmsplice``: FOLL_GET references, no pin, no unsharing) and unmap them in the process that
spliced them; the other process then writes the COW-shared pages: the references must make
that write copy (``wp_can_reuse_anon_folio`` counts them), so the pipe still reads the old
contents. cow.c expects a leak only with hugetlb (XFAIL), which does not exist here. The
comm pipes cow.c's parent and child synchronise with are a child function's ``yield``: the
simulated processes take turns.

The io_uring fixed-buffer cases (``do_test_iouring``, compiled in with liburing) register the
page as a fixed buffer (``Process.io_uring_register_buffers``: a FOLL_WRITE|FOLL_LONGTERM
pin), then fork or map it R/O and back, write it through the page tables and write the fixed
buffer to a tmpfile (``io_uring_write_fixed``): the file must read back what the process sees.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from .ksft import Ksft, syscall_errno
from .vm_util import pagemap_is_populated

SOURCE = "tools/testing/selftests/mm/cow.c"
FIXTURE = None
PAGE_SIZE = 4096
PMD_SIZE = 2 << 20  # pmdsize: the only THP size simulated
LINE = 64  # memory contents are kept per 64-byte line: fill and compare every line


def memset(p, mem: int, size: int, value: int) -> None:
    p.write(mem, size, stride=LINE, value=value)


def contents(p, mem: int, size: int) -> bytes:
    return p.read(mem, size, stride=LINE)


def child_memcmp_fn(child, mem: int, size: int):
    """The child backs up the contents, then (after the ``yield``: the parent has modified
    the page) reads them again; its exit status is 0 when they did not change."""
    old = contents(child, mem, size)
    yield  # child_ready, then wait for parent_ready
    return 0 if contents(child, mem, size) == old else 1


def child_vmsplice_memcmp_fn(child, mem: int, size: int):
    """The child backs up the contents, vmsplice()s them into a pipe of its own (a R/O
    reference, no pin) and unmaps them; after the parent modified the page it reads the
    pipe, which must still carry the old contents. A failed call is its -errno."""
    old = contents(child, mem, size)
    try:
        fds = child.pipe()
        transferred = child.vmsplice(fds[1], mem, size)
        child.munmap(mem, size)
    except KernelError as err:
        return -err.errno
    if transferred == 0:
        return -errno.EINVAL
    yield  # child_ready, then wait for parent_ready
    new = child.pread(fds[0], transferred)  # one read: the pipe hands over all it holds
    return 0 if new == old[:len(new)] else 1


def do_test_cow_in_parent(t: Ksft, mem: int, size: int, do_mprotect: bool, fn, xfail: bool) -> None:
    """The child runs ``fn`` up to its ``yield`` (child_ready); the parent (after an mprotect
    R/O and back, when asked, which may map the pages writable at once) overwrites the
    pages with 0xff, then the child finishes (parent_ready) and exits with its status:
    anything but 0 is a leak (XFAIL when ``xfail``: hugetlb in cow.c)."""
    p = t.process
    child = p.fork()
    steps = fn(child, mem, size)
    ret = child_step(steps)  # None: the child reached child_ready
    if ret is None:
        if do_mprotect:
            p.mprotect(mem, size, "r")
            p.mprotect(mem, size, "rw")
        memset(p, mem, size, 0xFF)
        ret = child_step(steps)
    child.exit(ret & 0xFF)  # exit(fn(...)): WEXITSTATUS keeps the low byte
    if not ret:
        t.test_result(True, "No leak from parent into child")
    elif xfail:
        t.test_result_xfail("Leak from parent into child")
    else:
        t.test_result(False, "Leak from parent into child")


def child_step(steps) -> int | None:
    """Run a child function to its next wait: None, or its return value (the exit status)
    when it ended instead."""
    try:
        next(steps)
    except StopIteration as done:
        return done.value
    return None


def range_is_swapped(p, mem: int, size: int) -> bool:
    """pagemap_is_swapped for every page: none may still be present."""
    return all(p.walk(a).phys is None for a in range(mem, mem + size, PAGE_SIZE))


def _swap_out(t: Ksft, mem: int, size: int) -> bool:
    """MADV_PAGEOUT, then check; False (and a skip) when the pages stay resident."""
    t.process.madvise(mem, size, "pageout")
    if range_is_swapped(t.process, mem, size):
        return True
    t.test_result_skip("MADV_PAGEOUT did not work, is swap enabled?")
    return False


def run_with_base_page(t: Ksft, fn, desc: str, swapout: bool) -> None:
    t.print_msg(f"[RUN] {desc} ... with {'swapped-out ' if swapout else ''}base page")
    p = t.process
    mem = p.mmap(PAGE_SIZE)
    p.madvise(mem, PAGE_SIZE, "nohugepage")  # no THP for this page, whatever the policy
    memset(p, mem, PAGE_SIZE, 0)  # populate a base page
    if not swapout or _swap_out(t, mem, PAGE_SIZE):
        fn(t, mem, PAGE_SIZE)
    p.munmap(mem, PAGE_SIZE)


# do_run_with_thp's kinds of THP (thp_run), named as the run_with_* functions print them
THP_RUN_PMD, THP_RUN_PMD_SWAPOUT = "THP", "swapped-out THP"
THP_RUN_PTE, THP_RUN_PTE_SWAPOUT = "PTE-mapped THP", "swapped-out, PTE-mapped THP"
THP_RUN_SINGLE_PTE, THP_RUN_SINGLE_PTE_SWAPOUT = "single PTE of THP", "single PTE of swapped-out THP"
THP_RUN_PARTIAL_MREMAP, THP_RUN_PARTIAL_SHARED = "partially mremap()'ed THP", "partially shared THP"
SWAPOUT_RUNS = (THP_RUN_PMD_SWAPOUT, THP_RUN_PTE_SWAPOUT, THP_RUN_SINGLE_PTE_SWAPOUT)


def _prepare_thp(p, mem: int, thp_run: str) -> tuple[int, int]:
    """Turn the populated THP at ``mem`` into the kind asked; returns the range to test and
    the extra mapping to unmap afterwards (0 if none)."""
    if thp_run in (THP_RUN_PTE, THP_RUN_PTE_SWAPOUT):
        p.mprotect(mem + PAGE_SIZE, PAGE_SIZE, "r")  # PTE-map the THP
        p.mprotect(mem + PAGE_SIZE, PAGE_SIZE, "rw")
    elif thp_run in (THP_RUN_SINGLE_PTE, THP_RUN_SINGLE_PTE_SWAPOUT):
        p.madvise(mem + PAGE_SIZE, PMD_SIZE - PAGE_SIZE, "dontneed")
        return PAGE_SIZE, 0
    elif thp_run == THP_RUN_PARTIAL_MREMAP:
        half = PMD_SIZE // 2
        target = p.mmap(half, prot="none")
        moved = p.mremap(mem + half, half, half, fixed=target)
        assert moved == target, "mremap() failed"
        return half, target
    elif thp_run == THP_RUN_PARTIAL_SHARED:
        p.madvise(mem + PAGE_SIZE, PMD_SIZE - PAGE_SIZE, "dontfork")
        p.fork().exit()  # the first page only was shared with that child
        p.madvise(mem + PAGE_SIZE, PMD_SIZE - PAGE_SIZE, "dofork")
    return PMD_SIZE, 0


def do_run_with_thp(t: Ksft, fn, desc: str, thp_run: str) -> None:
    """A THP-aligned THP, populated by touching its first byte, then shaped as asked."""
    t.print_msg(f"[RUN] {desc} ... with {thp_run} ({PMD_SIZE >> 10} kB)")
    p = t.process
    mmap_size = 2 * PMD_SIZE
    mmap_mem = p.mmap(mmap_size)
    mem = (mmap_mem + PMD_SIZE) & ~(PMD_SIZE - 1)
    p.madvise(mem, PMD_SIZE, "hugepage")
    p.write(mem, 1, value=1)
    if p.walk(mem + PMD_SIZE - PAGE_SIZE).phys is None:
        t.test_result_skip("Did not get a THP populated")
        p.munmap(mmap_mem, mmap_size)
        return
    memset(p, mem, PMD_SIZE, 1)
    size, extra = _prepare_thp(p, mem, thp_run)
    if thp_run not in SWAPOUT_RUNS or _swap_out(t, mem, size):
        fn(t, mem, size)
    p.munmap(mmap_mem, mmap_size)
    if extra:
        p.munmap(extra, PMD_SIZE // 2)


def run_anon_test_case(t: Ksft, fn, desc: str) -> None:
    """Every kind of anonymous page for one test function (``run_anon_test_case``)."""
    run_with_base_page(t, fn, desc, swapout=False)
    run_with_base_page(t, fn, desc, swapout=True)
    for thp_run in (THP_RUN_PMD, THP_RUN_PMD_SWAPOUT, THP_RUN_PTE, THP_RUN_PTE_SWAPOUT, THP_RUN_SINGLE_PTE,
                    THP_RUN_SINGLE_PTE_SWAPOUT, THP_RUN_PARTIAL_MREMAP, THP_RUN_PARTIAL_SHARED):
        do_run_with_thp(t, fn, desc, thp_run)


def test_cow_in_parent(t: Ksft) -> None:
    t.print_msg("[INFO] Anonymous memory tests in private mappings")
    run_anon_test_case(t, lambda t, mem, size: do_test_cow_in_parent(t, mem, size, False, child_memcmp_fn, False),
                       "Basic COW after fork()")


def test_cow_in_parent_mprotect(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_cow_in_parent(t, mem, size, True, child_memcmp_fn, False),
                       "Basic COW after fork() with mprotect() optimization")


# ---- vmsplice(): R/O references through a pipe (CVE-2020-29374) -----------------------------------
# cow.c expects a leak only with hugetlb (xfail = is_hugetlb); no hugetlb run exists here
IS_HUGETLB = False


def test_vmsplice_in_child(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_cow_in_parent(t, mem, size, False, child_vmsplice_memcmp_fn,
                                                                     IS_HUGETLB),
                       "vmsplice() + unmap in child")


def test_vmsplice_in_child_mprotect(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_cow_in_parent(t, mem, size, True, child_vmsplice_memcmp_fn,
                                                                     IS_HUGETLB),
                       "vmsplice() + unmap in child with mprotect() optimization")


def vmsplice_or_fail(p, fd: int, mem: int, size: int) -> int:
    """vmsplice()'s result as the C program sees it: the bytes spliced, or -1."""
    try:
        return p.vmsplice(fd, mem, size)
    except KernelError:
        return -1


def do_test_vmsplice_in_parent(t: Ksft, mem: int, size: int, before_fork: bool, xfail: bool) -> None:
    """The parent vmsplice()s the pages into a pipe before or after the fork, unmaps them,
    and the child overwrites them with 0xff: the pipe must still carry the old contents."""
    p = t.process
    old = contents(p, mem, size)
    fds = p.pipe()
    transferred = vmsplice_or_fail(p, fds[1], mem, size) if before_fork else 0
    if transferred > 0 or not before_fork:
        child = p.fork()
        if not before_fork:
            transferred = vmsplice_or_fail(p, fds[1], mem, size)
        if transferred > 0:
            p.munmap(mem, size)
            memset(child, mem, size, 0xFF)  # after parent_ready
        child.exit()
    if transferred <= 0:
        t.test_result(False, "vmsplice() failed")
    else:
        new = p.pread(fds[0], transferred)
        if new == old[:len(new)]:
            t.test_result(True, "No leak from child into parent")
        elif xfail:
            t.test_result_xfail("Leak from child into parent")
        else:
            t.test_result(False, "Leak from child into parent")
    p.close(fds[0])
    p.close(fds[1])


def test_vmsplice_before_fork(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_vmsplice_in_parent(t, mem, size, True, IS_HUGETLB),
                       "vmsplice() before fork(), unmap in parent after fork()")


def test_vmsplice_after_fork(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_vmsplice_in_parent(t, mem, size, False, IS_HUGETLB),
                       "vmsplice() + unmap in parent after fork()")


# ---- io_uring fixed buffers (do_test_iouring) ------------------------------------------------------
IOURING_TMPFILE = "/cow-iouring-tmpfile"


def do_test_iouring(t: Ksft, mem: int, size: int, use_fork: bool) -> None:
    """Register the range as an io_uring fixed buffer (a FOLL_WRITE|FOLL_LONGTERM pin), then
    fork (the pinned pages must not be shared with the child) or map it R/O and back with
    soft-dirty cleared (the next write must reuse the pinned page, not copy it away); write
    the range through the page tables, write the fixed buffer to a file
    (IORING_OP_WRITE_FIXED) and read it back: the file must hold what the process sees."""
    p = t.process
    fd = p.open(IOURING_TMPFILE, "rw", create=True, truncate=True)  # tmpfile()
    t.machine.unlink(IOURING_TMPFILE)
    ring = p.io_uring_setup(1)
    child = None
    try:
        p.io_uring_register_buffers(ring, [(mem, size)])
    except KernelError:
        t.test_result_skip("io_uring_register_buffers() failed")
    else:
        if use_fork:
            child = p.fork()  # kept alive until the check is done
        else:
            p.mprotect(mem, size, "r")
            clear_softdirty(p)
            p.mprotect(mem, size, "rw")
        memset(p, mem, size, 0xFF)
        if p.io_uring_write_fixed(ring, fd, 0, mem, size, 0) != size:
            t.test_result(False, "write_fixed failed")
        else:
            t.test_result(p.pread(fd, size, 0) == contents(p, mem, size), "Longterm R/W pin is reliable")
        if child is not None:
            child.exit()
        p.io_uring_unregister_buffers(ring)
    p.close(ring)
    p.close(fd)


def test_iouring_ro(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_iouring(t, mem, size, use_fork=False),
                       "R/O-mapping a page registered as iouring fixed buffer")


def test_iouring_fork(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_iouring(t, mem, size, use_fork=True),
                       "fork() with an iouring fixed buffer")


# ---- long-term R/O pins (do_test_ro_pin) ----------------------------------------------------------
# what happens to the page before it is pinned: nothing, COW-shared with a live child, shared
# with a child that exited, exclusive but mapped R/O
RO_PIN_TEST, RO_PIN_TEST_SHARED = "ro pin", "shared"
RO_PIN_TEST_PREVIOUSLY_SHARED, RO_PIN_TEST_RO_EXCLUSIVE = "previously shared", "ro exclusive"


def clear_softdirty(p) -> None:
    p.proc("clear_refs", 4)


def do_test_ro_pin(t: Ksft, mem: int, size: int, test: str, fast: bool) -> None:
    """Prepare the page as ``test`` says, take a R/O long-term pin, write the page through the
    page tables: what the pin reads must be what the process reads."""
    p = t.process
    child = None
    if test in (RO_PIN_TEST_SHARED, RO_PIN_TEST_PREVIOUSLY_SHARED):
        child = p.fork()  # the pages are not pinned yet: sharing them just works
        if test == RO_PIN_TEST_PREVIOUSLY_SHARED:
            child.exit()  # still mapped R/O here, no longer shared
            child = None
    elif test == RO_PIN_TEST_RO_EXCLUSIVE:
        p.mprotect(mem, size, "r")  # soft-dirty tracking keeps mprotect() from mapping it R/W again
        clear_softdirty(p)
        p.mprotect(mem, size, "rw")
    try:
        p.gup_test("PIN_LONGTERM_TEST_START", mem, size, fast=fast)  # should trigger unsharing
    except KernelError as err:
        if err.errno == errno.EINVAL:
            t.test_result_skip("PIN_LONGTERM_TEST_START failed")
        else:
            t.test_result(False, "PIN_LONGTERM_TEST_START failed")
    else:
        memset(p, mem, size, 0xFF)
        t.test_result(p.gup_test("PIN_LONGTERM_TEST_READ") == contents(p, mem, size), "Longterm R/O pin is reliable")
        p.gup_test("PIN_LONGTERM_TEST_STOP")
    if child is not None:
        child.exit()


def test_ro_pin_on_shared(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_SHARED, False),
                       "R/O GUP pin on R/O-mapped shared page")


def test_ro_fast_pin_on_shared(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_SHARED, True),
                       "R/O GUP-fast pin on R/O-mapped shared page")


def test_ro_pin_on_ro_previously_shared(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_PREVIOUSLY_SHARED, False),
                       "R/O GUP pin on R/O-mapped previously-shared page")


def test_ro_fast_pin_on_ro_previously_shared(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_PREVIOUSLY_SHARED, True),
                       "R/O GUP-fast pin on R/O-mapped previously-shared page")


def test_ro_pin_on_ro_exclusive(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_RO_EXCLUSIVE, False),
                       "R/O GUP pin on R/O-mapped exclusive page")


def test_ro_fast_pin_on_ro_exclusive(t: Ksft) -> None:
    run_anon_test_case(t, lambda t, mem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST_RO_EXCLUSIVE, True),
                       "R/O GUP-fast pin on R/O-mapped exclusive page")


# ---- anonymous THPs collapsed around a fork (run_anon_thp_test_cases) -------------------------------
# do_test_anon_thp_collapse's kinds: collapse before the fork, or after it with the whole THP,
# its lower half or its upper half COW-shared with the child
ANON_THP_COLLAPSE_UNSHARED, ANON_THP_COLLAPSE_FULLY_SHARED = "unshared", "fully shared"
ANON_THP_COLLAPSE_LOWER_SHARED, ANON_THP_COLLAPSE_UPPER_SHARED = "lower shared", "upper shared"


def do_test_anon_thp_collapse(t: Ksft, mem: int, size: int, test: str) -> None:
    """The THP is PTE-mapped (one subpage mprotect()ed R/O and back), collapsed by
    MADV_COLLAPSE before or after the fork as ``test`` says, then overwritten by the
    parent: the child must still read what it saw at the fork (a collapse in place would
    leak the parent's writes). A failed MADV_COLLAPSE is a SKIP, as in the C program."""
    p = t.process
    p.mprotect(mem + PAGE_SIZE, PAGE_SIZE, "r")
    p.mprotect(mem + PAGE_SIZE, PAGE_SIZE, "rw")
    if test == ANON_THP_COLLAPSE_UNSHARED and syscall_errno(p.madvise, mem, size, "collapse"):
        t.test_result_skip("MADV_COLLAPSE failed")
        return
    half = size // 2
    if test == ANON_THP_COLLAPSE_LOWER_SHARED:
        p.madvise(mem + half, half, "dontfork")
    elif test == ANON_THP_COLLAPSE_UPPER_SHARED:
        p.madvise(mem, half, "dontfork")
    shared = {ANON_THP_COLLAPSE_LOWER_SHARED: (mem, half),
              ANON_THP_COLLAPSE_UPPER_SHARED: (mem + half, half)}.get(test, (mem, size))
    child = p.fork()
    old = contents(child, *shared)  # child_memcmp_fn's backup
    try:
        if test in (ANON_THP_COLLAPSE_LOWER_SHARED, ANON_THP_COLLAPSE_UPPER_SHARED):
            p.madvise(mem, size, "dofork")  # the VMAs merge again, so the range can collapse
        if test != ANON_THP_COLLAPSE_UNSHARED and syscall_errno(p.madvise, mem, size, "collapse"):
            t.test_result_skip("MADV_COLLAPSE failed")
            return
        memset(p, mem, size, 0xFF)
        leak = contents(child, *shared) != old
    finally:
        child.exit()
    t.test_result(not leak, "Leak from parent into child" if leak else "No leak from parent into child")


def run_anon_thp_test_case(t: Ksft, test: str, desc: str) -> None:
    do_run_with_thp(t, lambda t, mem, size: do_test_anon_thp_collapse(t, mem, size, test), desc, THP_RUN_PMD)


def test_anon_thp_collapse_unshared(t: Ksft) -> None:
    t.print_msg("[INFO] Anonymous THP tests")
    run_anon_thp_test_case(t, ANON_THP_COLLAPSE_UNSHARED, "Basic COW after fork() when collapsing before fork()")


def test_anon_thp_collapse_fully_shared(t: Ksft) -> None:
    run_anon_thp_test_case(t, ANON_THP_COLLAPSE_FULLY_SHARED,
                           "Basic COW after fork() when collapsing after fork() (fully shared)")


def test_anon_thp_collapse_lower_shared(t: Ksft) -> None:
    run_anon_thp_test_case(t, ANON_THP_COLLAPSE_LOWER_SHARED,
                           "Basic COW after fork() when collapsing after fork() (lower shared)")


def test_anon_thp_collapse_upper_shared(t: Ksft) -> None:
    run_anon_thp_test_case(t, ANON_THP_COLLAPSE_UPPER_SHARED,
                           "Basic COW after fork() when collapsing after fork() (upper shared)")


# ---- non-anonymous pages: shared zeropage, page cache (memfd, tmpfile), huge zeropage ---------

def non_anon_cow(t: Ksft, mem: int, smem: int, size: int) -> None:
    """``test_cow``: writing the private mapping leaves the other mapping's contents alone."""
    p = t.process
    old = contents(p, smem, size)
    memset(p, mem, size, 0xFF)
    t.test_result(contents(p, smem, size) == old, "Other mapping not modified")


def force_read(p, *addrs: int) -> None:
    """``FORCE_READ``: one load from each address (faulting its page in)."""
    for addr in addrs:
        p.read(addr, 1)


def run_with_zeropage(t: Ksft, fn, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with shared zeropage")
    p = t.process
    mem = p.mmap(PAGE_SIZE, "rw", "private|anonymous")
    smem = p.mmap(PAGE_SIZE, "r", "private|anonymous")
    force_read(p, mem, smem)  # populate the shared zeropage
    fn(t, mem, smem, PAGE_SIZE)
    p.munmap(mem, PAGE_SIZE)
    p.munmap(smem, PAGE_SIZE)


def _run_with_file(t: Ksft, fn, fd: int) -> None:
    """A file of one page of zeros (``fallocate``), mapped private R/W and shared R/O."""
    p = t.process
    p.fallocate(fd, 0, PAGE_SIZE)
    mem = p.mmap(PAGE_SIZE, "rw", "private", fd=fd)
    smem = p.mmap(PAGE_SIZE, "r", "shared", fd=fd)
    force_read(p, mem, smem)
    fn(t, mem, smem, PAGE_SIZE)
    p.munmap(mem, PAGE_SIZE)
    p.munmap(smem, PAGE_SIZE)
    p.close(fd)


def run_with_memfd(t: Ksft, fn, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with memfd")
    _run_with_file(t, fn, t.process.memfd_create("test", 0))


TMPFILE = "/cow-tmpfile"


def run_with_tmpfile(t: Ksft, fn, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with tmpfile")
    fd = t.process.open(TMPFILE, "rw", create=True, truncate=True)
    t.machine.unlink(TMPFILE)  # tmpfile(): a file no path reaches
    _run_with_file(t, fn, fd)


def run_with_huge_zeropage(t: Ksft, fn, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with huge zeropage")
    if t.machine.sysfs("/sys/kernel/mm/transparent_hugepage/use_zero_page").strip() != "1":
        t.test_result_skip("Huge zeropage not enabled")
        return
    p, mmap_size = t.process, 2 * PMD_SIZE
    mmap_mem = p.mmap(mmap_size, "rw", "private|anonymous")
    mmap_smem = p.mmap(mmap_size, "r", "private|anonymous")
    mem = (mmap_mem + PMD_SIZE) & ~(PMD_SIZE - 1)  # THP-aligned
    smem = (mmap_smem + PMD_SIZE) & ~(PMD_SIZE - 1)
    p.madvise(mem, PMD_SIZE, "hugepage")
    p.madvise(smem, PMD_SIZE, "hugepage")
    force_read(p, mem, smem)  # one read of the first subpage populates the whole THP
    if not (pagemap_is_populated(p, mem + PAGE_SIZE) and pagemap_is_populated(p, smem + PAGE_SIZE)):
        t.test_result_skip("Did not get THPs populated")
    else:
        fn(t, mem, smem, PMD_SIZE)
    p.munmap(mmap_mem, mmap_size)
    p.munmap(mmap_smem, mmap_size)


def run_non_anon_test_case(t: Ksft, fn, desc: str) -> None:
    """Every kind of non-anonymous page for one test function (no hugetlb sizes exist)."""
    run_with_zeropage(t, fn, desc)
    run_with_memfd(t, fn, desc)
    run_with_tmpfile(t, fn, desc)
    run_with_huge_zeropage(t, fn, desc)


def test_cow(t: Ksft) -> None:
    t.print_msg("[RUN] Non-anonymous memory tests in private mappings")
    run_non_anon_test_case(t, non_anon_cow, "Basic COW")


def test_ro_pin(t: Ksft) -> None:
    run_non_anon_test_case(t, lambda t, mem, smem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST, False),
                           "R/O longterm GUP pin")


def test_ro_fast_pin(t: Ksft) -> None:
    run_non_anon_test_case(t, lambda t, mem, smem, size: do_test_ro_pin(t, mem, size, RO_PIN_TEST, True),
                           "R/O longterm GUP-fast pin")
