"""``gup_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18: the GUP test driver's benchmark
and dump ioctls (``/sys/kernel/debug/gup_test``, ``Process.gup_test``), run as run_vmtests.sh
runs the program by default:

==========================  ===================================================================
``gup_test -u -n 1``        GUP_FAST_BENCHMARK, one page a call (``get_user_pages_fast``)
``gup_test -u -n -1``       GUP_FAST_BENCHMARK, all pages in a single call
``gup_test -a -n 1``        PIN_FAST_BENCHMARK, one page a call (``pin_user_pages_fast``)
``gup_test -a -n -1``       PIN_FAST_BENCHMARK, all pages in a single call
``gup_test -ct -F 0x1 0     DUMP_USER_PAGES_TEST on THPs (MADV_HUGEPAGE), FOLL_WRITE: dump pages
19 0x1000``                 0, 19 and 4096 of the range (``dump_page`` in the kernel log)
==========================  ===================================================================

Each run maps 128 MiB of ``/dev/zero`` privately (an anonymous mapping: the simulator has no
``/dev/zero``, and ``mmap_zero`` makes a private mapping of it anonymous), writes the first byte
of every page from user space, and issues the ioctl from one thread: a benchmark prints its
times (``ksft_print_msg`` of the time, then of the newline: the C program's ``# `` lands at the
end of the line), the dump prints ``done``; then one result, ``ioctl status 0``. The
``run_vmtests.sh -a`` matrix (``run_gup_matrix``: every command, read and write, shared and
private, THP on and off and hugetlb, 1, 512, 123 and all pages a call) is not run, as
run_vmtests.sh does not run it by default; its hugetlb third would skip here.
"""

from __future__ import annotations

from ..errors import KernelError
from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/gup_test.c"
FIXTURE = None
MB = 1 << 20
PAGE_SIZE = 4096  # PAGE_SIZE
SIZE = 128 * MB  # the program's default size
FOLL_WRITE = 0x01
BENCHMARKS = ("PIN_FAST_BENCHMARK", "GUP_FAST_BENCHMARK", "PIN_LONGTERM_BENCHMARK")


def gup_thread(t: Ksft, cmd: str, mem: int, gup_flags: int, nr_pages: int, which_pages: tuple) -> None:
    """One thread's ioctl and what it prints."""
    try:
        gup = t.process.gup_test(cmd, mem, SIZE, nr_pages_per_call=nr_pages, gup_flags=gup_flags,
                                 which_pages=which_pages)
    except KernelError as err:
        t.test_result(False, f"ioctl status {-err.errno}")
        return
    if cmd in BENCHMARKS:
        truncated = f"# , truncated (size: {gup.size})" if gup.size != SIZE else ""
        t.print_msg(f"{cmd}: Time: get:{gup.get_delta_usec} put:{gup.put_delta_usec} us{truncated}# ")
    else:
        t.print_msg(f"{cmd}: done")
        if gup.size != SIZE:
            t.print_msg(f"Truncated (size: {gup.size})")
    t.test_result(True, "ioctl status 0")


def run_gup_test(t: Ksft, cmd: str, nr_pages: int = 1, thp: int = -1, gup_flags: int = 0,
                 which_pages: tuple = ()) -> None:
    """``main``: the mapping, faulted in from user space, and one thread's ioctl (``write``
    is 1 by default: FOLL_WRITE joins the flags)."""
    p = t.process
    mem = p.mmap(SIZE, "rw", "private|anonymous")  # mmap(/dev/zero, MAP_PRIVATE)
    if thp == 1:
        p.madvise(mem, SIZE, "hugepage")
    elif thp == 0:
        p.madvise(mem, SIZE, "nohugepage")
    p.write(mem, SIZE, stride=PAGE_SIZE, value=0)  # p[0] = 0 in every page
    gup_thread(t, cmd, mem, gup_flags | FOLL_WRITE, nr_pages, which_pages)


def test_gup_fast_benchmark(t: Ksft) -> None:
    """``gup_test -u -n 1``"""
    run_gup_test(t, "GUP_FAST_BENCHMARK", nr_pages=1)


def test_gup_fast_benchmark_single_call(t: Ksft) -> None:
    """``gup_test -u -n -1``: -1 pages a call is all of them (size / page size)."""
    run_gup_test(t, "GUP_FAST_BENCHMARK", nr_pages=SIZE // PAGE_SIZE)


def test_pin_fast_benchmark(t: Ksft) -> None:
    """``gup_test -a -n 1``"""
    run_gup_test(t, "PIN_FAST_BENCHMARK", nr_pages=1)


def test_pin_fast_benchmark_single_call(t: Ksft) -> None:
    """``gup_test -a -n -1``"""
    run_gup_test(t, "PIN_FAST_BENCHMARK", nr_pages=SIZE // PAGE_SIZE)


def test_dump_user_pages_test(t: Ksft) -> None:
    """``gup_test -ct -F 0x1 0 19 0x1000``: pages 0, 19 and 4096, 1-based in ``which_pages``."""
    run_gup_test(t, "DUMP_USER_PAGES_TEST", thp=1, gup_flags=0x1, which_pages=(0 + 1, 19 + 1, 0x1000 + 1))
