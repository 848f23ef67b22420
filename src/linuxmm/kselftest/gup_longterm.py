"""``gup_longterm.c`` of ``tools/testing/selftests/mm``, Linux 6.18: long-term GUP pins of file
pages, through the GUP test driver (``/sys/kernel/debug/gup_test``, ``Process.gup_test``).

Each test case maps a one-page file shared or private, writes it, for the R/O cases
mprotect()s it read-only, and takes a long-term pin with ``PIN_LONGTERM_TEST_START``
(``pin_user_pages``, or ``pin_user_pages_fast`` for the GUP-fast cases; FOLL_WRITE for the R/W
ones). R/O pins and pins in private mappings must work; a R/W pin of a shared mapping must
work only where the filesystem needs no dirty tracking (tmpfs, hugetlbfs) and fail with
EFAULT elsewhere (ext4: ``writable_file_mapping_allowed``, and GUP-fast's
``gup_fast_folio_allowed``). The filesystem comes from ``fstatfs``'s ``f_type``, as in the C
program. Each case runs on a memfd (tmpfs), a ``tmpfile()`` and a local ``mkstemp()`` file,
both on ext4 here as on the development host (the port creates ``/gup_longterm-tmpfile`` and
``/gup_longterm.c_tmpfile_XXXXXX`` and unlinks them at once). No hugetlb sizes are simulated,
so the memfd-hugetlb runs do not exist, as on a kernel without hugetlb pages.

The io_uring cases (compiled in with liburing) register the mapping as a fixed buffer
(``Process.io_uring_register_buffers``), which always pins writable and long-term: it must
work in private mappings and in shared ones of tmpfs, and fail (EFAULT) in shared ext4 ones.
The C program reads ``errno`` after liburing's ``io_uring_register_buffers``, which returns
the error instead (whether errno is set too depends on the liburing build); the port takes
the call's error, as a build whose library sets errno reports it.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.fs import FS_MAGIC, TMPFS_MAGIC
from .ksft import Ksft, syscall_errno

SOURCE = "tools/testing/selftests/mm/gup_longterm.c"
FIXTURE = None
PAGE_SIZE = 4096
LINE = 64  # memory contents are kept per 64-byte line
HUGETLBFS_MAGIC = 0x958458F6  # the filesystems the C program knows (include/uapi/linux/magic.h)
BTRFS_SUPER_MAGIC, XFS_SUPER_MAGIC = 0x9123683E, 0x58465342
KNOWN_FS = {*FS_MAGIC.values(), HUGETLBFS_MAGIC, BTRFS_SUPER_MAGIC, XFS_SUPER_MAGIC}

TEST_TYPE_RO, TEST_TYPE_RO_FAST, TEST_TYPE_RW, TEST_TYPE_RW_FAST = "ro", "ro fast", "rw", "rw fast"
TEST_TYPE_IOURING = "iouring"
IOURING_REGISTER_REFUSED = (errno.ENOSPC, errno.EOPNOTSUPP, errno.EFAULT)  # "Only new kernels return EFAULT."


def fs_is_unknown(fs_type: int) -> bool:
    return fs_type not in KNOWN_FS


def fs_supports_writable_longterm_pinning(fs_type: int) -> bool:
    return fs_type in (TMPFS_MAGIC, HUGETLBFS_MAGIC)


def do_test(t: Ksft, fd: int, size: int, test_type: str, shared: bool) -> None:
    """Size the file, populate it through a mapping, pin it, and judge the pin's outcome."""
    p = t.process
    fs_type = p.fstatfs(fd)
    err = syscall_errno(p.ftruncate, fd, size)
    if err:
        if err == errno.ENOENT:
            t.test_result_skip("ftruncate() not supported by the file system")  # skip_test_dodgy_fs
        else:
            t.test_result(False, f"ftruncate() failed ({errno.errorcode[err]})")
        return
    err = syscall_errno(p.fallocate, fd, 0, size)
    if err:
        t.test_result(False, f"fallocate() failed ({errno.errorcode[err]})")
        return
    mem = p.mmap(size, "rw", "shared" if shared else "private", fd=fd)
    p.write(mem, size, stride=LINE, value=0)  # fault the page in so that GUP-fast can pin it
    if test_type in (TEST_TYPE_RO, TEST_TYPE_RO_FAST):
        p.mprotect(mem, size, "r")  # more unsharing decisions for the R/O pin
    if test_type == TEST_TYPE_IOURING:
        do_test_iouring(t, mem, size, shared, fs_type)
        p.munmap(mem, size)
        return
    fast = test_type in (TEST_TYPE_RO_FAST, TEST_TYPE_RW_FAST)
    rw = test_type in (TEST_TYPE_RW, TEST_TYPE_RW_FAST)
    if rw and shared and fs_is_unknown(fs_type):
        t.test_result_skip("Unknown filesystem")
        return
    should_work = not shared or not rw or fs_supports_writable_longterm_pinning(fs_type)
    try:
        p.gup_test("PIN_LONGTERM_TEST_START", mem, size, write=rw, fast=fast)
    except KernelError as e:
        if e.errno == errno.EINVAL:
            t.test_result_skip("PIN_LONGTERM_TEST_START failed (EINVAL)")
        elif e.errno == errno.EFAULT:
            t.test_result(not should_work, "Should have failed")
        else:
            t.test_result(False, f"PIN_LONGTERM_TEST_START failed ({errno.errorcode[e.errno]})")
    else:
        p.gup_test("PIN_LONGTERM_TEST_STOP")
        t.test_result(should_work, "Should have worked")
    p.munmap(mem, size)


def do_test_iouring(t: Ksft, mem: int, size: int, shared: bool, fs_type: int) -> None:
    """Register the mapping as an io_uring fixed buffer (always a writable long-term pin)."""
    p = t.process
    if shared and fs_is_unknown(fs_type):
        t.test_result_skip("Unknown filesystem")
        return
    should_work = not shared or fs_supports_writable_longterm_pinning(fs_type)
    ring = p.io_uring_setup(1)
    try:
        p.io_uring_register_buffers(ring, [(mem, size)])
    except KernelError as e:
        if e.errno in IOURING_REGISTER_REFUSED:
            t.test_result(not should_work, "Should have failed")
        else:
            t.test_result_skip(f"io_uring_register_buffers() failed ({errno.errorcode[e.errno]})")
    else:
        t.test_result(should_work, "Should have worked")
        p.io_uring_unregister_buffers(ring)
    p.close(ring)


def run_with_memfd(t: Ksft, test_type: str, shared: bool, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with memfd")
    fd = t.process.memfd_create("test", 0)
    do_test(t, fd, PAGE_SIZE, test_type, shared)
    t.process.close(fd)


def _run_with_unlinked_file(t: Ksft, path: str, test_type: str, shared: bool) -> None:
    fd = t.process.open(path, "rw", create=True, truncate=True)
    t.machine.unlink(path)
    do_test(t, fd, PAGE_SIZE, test_type, shared)
    t.process.close(fd)


def run_with_tmpfile(t: Ksft, test_type: str, shared: bool, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with tmpfile")
    _run_with_unlinked_file(t, "/gup_longterm-tmpfile", test_type, shared)  # tmpfile(): no path reaches it


def run_with_local_tmpfile(t: Ksft, test_type: str, shared: bool, desc: str) -> None:
    t.print_msg(f"[RUN] {desc} ... with local tmpfile")
    _run_with_unlinked_file(t, "/gup_longterm.c_tmpfile_XXXXXX", test_type, shared)  # mkstemp + unlink


def run_test_case(t: Ksft, test_type: str, shared: bool, desc: str) -> None:
    """Every file kind for one test case (no hugetlb sizes exist)."""
    run_with_memfd(t, test_type, shared, desc)
    run_with_tmpfile(t, test_type, shared, desc)
    run_with_local_tmpfile(t, test_type, shared, desc)


def test_shared_rw_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RW, True, "R/W longterm GUP pin in MAP_SHARED file mapping")


def test_shared_rw_fast_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RW_FAST, True, "R/W longterm GUP-fast pin in MAP_SHARED file mapping")


def test_shared_ro_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RO, True, "R/O longterm GUP pin in MAP_SHARED file mapping")


def test_shared_ro_fast_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RO_FAST, True, "R/O longterm GUP-fast pin in MAP_SHARED file mapping")


def test_private_rw_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RW, False, "R/W longterm GUP pin in MAP_PRIVATE file mapping")


def test_private_rw_fast_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RW_FAST, False, "R/W longterm GUP-fast pin in MAP_PRIVATE file mapping")


def test_private_ro_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RO, False, "R/O longterm GUP pin in MAP_PRIVATE file mapping")


def test_private_ro_fast_pin(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_RO_FAST, False, "R/O longterm GUP-fast pin in MAP_PRIVATE file mapping")


def test_shared_iouring(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_IOURING, True, "io_uring fixed buffer with MAP_SHARED file mapping")


def test_private_iouring(t: Ksft) -> None:
    run_test_case(t, TEST_TYPE_IOURING, False, "io_uring fixed buffer with MAP_PRIVATE file mapping")
