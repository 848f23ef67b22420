"""The GUP test driver (``mm/gup_test.c``, CONFIG_GUP_TEST, Linux 6.18): the ioctls of
``/sys/kernel/debug/gup_test`` that the mm selftests ``gup_test``, ``cow`` and ``gup_longterm``
use.

The benchmark and basic-test commands take a ``struct gup_test`` (``GupTest`` here) and hand
it back filled in (``__gup_test_ioctl``): they get or pin [addr, addr + size) in calls of
``nr_pages_per_call`` pages, stopping at the first call that returns fewer pages than asked,
time that on the simulated clock (``get_delta_usec``), check the pins (``verify_dma_pinned``:
each folio must look DMA-pinned, and be long-term pinnable for PIN_LONGTERM_BENCHMARK;
otherwise a WARN and ``dump_page``), dump the pages asked for (DUMP_USER_PAGES_TEST:
``which_pages`` are 1-based page numbers, 0 for none), and give every page back, timed too
(``put_delta_usec``); ``size`` comes back as the part of the range covered.

========================  ==================================  =======================
command                   takes pages with                    gives them back with
========================  ==================================  =======================
GUP_FAST_BENCHMARK        ``get_user_pages_fast`` (FOLL_GET)  ``put_page``
GUP_BASIC_TEST            ``get_user_pages`` (FOLL_GET)       ``put_page``
PIN_FAST_BENCHMARK        ``pin_user_pages_fast``             ``unpin_user_pages``
PIN_BASIC_TEST            ``pin_user_pages``                  ``unpin_user_pages``
PIN_LONGTERM_BENCHMARK    ``pin_user_pages``, FOLL_LONGTERM   ``unpin_user_pages``
DUMP_USER_PAGES_TEST      get, or pin with                    put, or unpin
                          GUP_TEST_FLAG_DUMP_PAGES_USE_PIN
========================  ==================================  =======================

The caller's ``gup_flags`` go to GUP as they are (``is_valid_gup_args`` refuses internal ones
and FOLL_LONGTERM without a pin: EINVAL from the first call, which is the ioctl's result
only in that it covers nothing; the kernel also WARNs).

``PIN_LONGTERM_TEST_START`` pins a page-aligned range with FOLL_LONGTERM (FOLL_WRITE on
request) through ``pin_user_pages`` or ``pin_user_pages_fast`` (``mm/gup.py``) and keeps the
pages; ``PIN_LONGTERM_TEST_READ`` copies what the pinned pages hold (through the kernel's own
mapping of them, not the process's page tables); ``PIN_LONGTERM_TEST_STOP`` unpins them. One
set of pins exists system-wide (the driver's statics ``pin_longterm_test_pages`` and
``_nr_pages``), kept in ``Kernel.pin_longterm_test_pages`` with the pid of the process whose
open file holds it: closing the file (the process's exit) releases them (``gup_test_release``).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, replace

import numpy as np

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_SIZE, ULONG_MAX
from ..kernel.timer import NSEC_PER_USEC
from .debug import dump_page
from .gup import FOLL_LONGTERM, FOLL_WRITE, folio_is_longterm_pinnable, get_user_pages, movable_zone_idx, \
    pin_user_pages, put_pages, unpin
from . import buddy as B
from .memory import folio_maybe_dma_pinned

PIN_LONGTERM_TEST_COMMANDS = ("PIN_LONGTERM_TEST_START", "PIN_LONGTERM_TEST_STOP", "PIN_LONGTERM_TEST_READ")
GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK = \
    "GUP_FAST_BENCHMARK", "PIN_FAST_BENCHMARK", "PIN_LONGTERM_BENCHMARK"
GUP_BASIC_TEST, PIN_BASIC_TEST, DUMP_USER_PAGES_TEST = "GUP_BASIC_TEST", "PIN_BASIC_TEST", "DUMP_USER_PAGES_TEST"
GUP_TEST_COMMANDS = (GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK, GUP_BASIC_TEST, PIN_BASIC_TEST,
                     DUMP_USER_PAGES_TEST)
PINNING_COMMANDS = (PIN_FAST_BENCHMARK, PIN_BASIC_TEST, PIN_LONGTERM_BENCHMARK)
FAST_COMMANDS = (GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK)
GUP_TEST_MAX_PAGES_TO_DUMP = 8
GUP_TEST_FLAG_DUMP_PAGES_USE_PIN = 0x1
LONG_MAX = (1 << 63) - 1
U32_MAX = (1 << 32) - 1


@dataclass(frozen=True)
class GupTest:
    """``struct gup_test``: what a benchmark or basic-test ioctl reads (``addr``, ``size``,
    ``nr_pages_per_call``, ``gup_flags``, ``test_flags``, ``which_pages``) and what it gives
    back (the get and put times in microseconds, ``size`` as far as GUP got)."""
    addr: int
    size: int
    nr_pages_per_call: int = 1
    gup_flags: int = 0
    test_flags: int = 0
    which_pages: tuple[int, ...] = (0,) * GUP_TEST_MAX_PAGES_TO_DUMP
    get_delta_usec: int = 0
    put_delta_usec: int = 0


def uses_pin(cmd: str, gup: GupTest) -> bool:
    return cmd in PINNING_COMMANDS or cmd == DUMP_USER_PAGES_TEST and gup.test_flags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN


def gup_call(k, task, cmd: str, gup: GupTest, addr: int, nr: int) -> tuple[int, np.ndarray]:
    """One get or pin of ``nr`` pages at ``addr``, as the command says."""
    flags = gup.gup_flags | (FOLL_LONGTERM if cmd == PIN_LONGTERM_BENCHMARK else 0)
    take = pin_user_pages if uses_pin(cmd, gup) else get_user_pages
    return take(k, task, addr, nr, flags, cmd in FAST_COMMANDS)


def put_back_pages(k, cmd: str, gup: GupTest, pages: np.ndarray) -> None:
    (unpin if uses_pin(cmd, gup) else put_pages)(k, pages)


def verify_dma_pinned(k, cmd: str, pages: np.ndarray) -> None:
    """The pins of the pinning commands must show (``folio_maybe_dma_pinned``), and a
    long-term pin's folio must be pinnable: else a WARN and ``dump_page``, once."""
    if cmd not in PINNING_COMMANDS:
        return
    a, vs, movable = k.mem_map, k.vm_state, movable_zone_idx(k)
    for i, page in enumerate(pages):
        head = B.compound_head(a, page)
        if not folio_maybe_dma_pinned(a, head):
            problem = "is NOT dma-pinned"
        elif cmd == PIN_LONGTERM_BENCHMARK and not folio_is_longterm_pinnable(a, vs, head, movable):
            problem = "is NOT pinnable but pinned"
        else:
            continue
        k.log.warn(f"pages[{i}] {problem}")
        dump_page(k, int(head), "gup_test failure")
        return


def dump_pages_test(k, gup: GupTest, pages: np.ndarray) -> None:
    """DUMP_USER_PAGES_TEST: ``dump_page`` of each page ``which_pages`` names (1-based; one out
    of range is zeroed, with a warning)."""
    which = list(gup.which_pages)
    for i, index in enumerate(which):
        if index > len(pages):
            k.log.warn(f"ZEROING due to out of range: .which_pages[{i}]: {index}")
            which[i] = 0
    for index in which:
        if index:
            k.log.info(f"---- page #{index - 1}, starting from user virt addr: {gup.addr:#x}")
            dump_page(k, int(pages[index - 1]), "gup_test: dump_pages() test")


def elapsed_usec(k, start_ns: int) -> int:
    """``ktime_us_delta`` of the simulated clock since ``start_ns``."""
    return (k.clock.now - start_ns) // NSEC_PER_USEC


def __gup_test_ioctl(k, task, cmd: str, gup: GupTest) -> GupTest:
    """A benchmark or basic-test command: get or pin the range, check, dump, give back."""
    if gup.addr > ULONG_MAX or gup.size > ULONG_MAX or gup.addr + gup.size > ULONG_MAX:
        raise KernelError(errno.EINVAL, f"gup_test: {gup.addr:#x}+{gup.size:#x} overflows")
    end = gup.addr + gup.size
    taken = []
    addr, nr = gup.addr, gup.nr_pages_per_call
    start = k.clock.now
    while addr < end and nr == gup.nr_pages_per_call:
        nxt = addr + nr * PAGE_SIZE
        if nxt > end:
            nxt, nr = end, (end - addr) // PAGE_SIZE
        nr, pages = gup_call(k, task, cmd, gup, addr, nr)
        if nr <= 0:
            break
        taken.append(pages)
        addr = nxt
    get_usec = elapsed_usec(k, start)
    pages = np.concatenate(taken) if taken else np.zeros(0, np.int64)
    verify_dma_pinned(k, cmd, pages)
    if cmd == DUMP_USER_PAGES_TEST:
        dump_pages_test(k, gup, pages)
    start = k.clock.now
    put_back_pages(k, cmd, gup, pages)
    return replace(gup, size=addr - gup.addr, get_delta_usec=get_usec, put_delta_usec=elapsed_usec(k, start))


@dataclass
class PinnedPages:
    """The driver's pinned pages (4 KiB pfns, as its ``struct page **``) and who holds them."""
    pages: np.ndarray
    pid: int


def pin_longterm_test_stop(k) -> None:
    if k.pin_longterm_test_pages is not None:
        unpin(k, k.pin_longterm_test_pages.pages)
        k.pin_longterm_test_pages = None


def pin_longterm_test_start(k, task, addr: int, size: int, write: bool, fast: bool) -> None:
    """Pin [addr, addr + size), page after page until all are; a failed pin drops the earlier
    ones and its errno is the ioctl's."""
    if k.pin_longterm_test_pages is not None:
        raise KernelError(errno.EINVAL, "PIN_LONGTERM_TEST_START: pages are pinned already")
    addr, size = addr & ULONG_MAX, size & ULONG_MAX  # the __u64 fields of struct pin_longterm_test
    if (addr | size) & (PAGE_SIZE - 1) or size > LONG_MAX or size // PAGE_SIZE == 0:
        raise KernelError(errno.EINVAL, f"PIN_LONGTERM_TEST_START: {addr:#x}+{size:#x} is not a page-aligned range")
    nr_pages = size // PAGE_SIZE
    gup_flags = FOLL_LONGTERM | (FOLL_WRITE if write else 0)
    k.pin_longterm_test_pages = PinnedPages(np.zeros(0, np.int64), task.pid)
    while len(k.pin_longterm_test_pages.pages) < nr_pages:
        done = len(k.pin_longterm_test_pages.pages)
        ret, pages = pin_user_pages(k, task, addr + done * PAGE_SIZE, nr_pages - done, gup_flags, fast)
        if ret < 0:
            pin_longterm_test_stop(k)
            raise KernelError(-ret, f"PIN_LONGTERM_TEST_START: pinning {addr + done * PAGE_SIZE:#x} failed")
        k.pin_longterm_test_pages.pages = np.concatenate([k.pin_longterm_test_pages.pages, pages])


def pin_longterm_test_read(k) -> bytes:
    """Each pinned page's contents (the simulator keeps one byte per 64-byte line)."""
    if k.pin_longterm_test_pages is None:
        raise KernelError(errno.EINVAL, "PIN_LONGTERM_TEST_READ: nothing is pinned")
    a = k.mem_map
    lines = a.content.shape[1]
    return b"".join(a.content[pfn].tobytes() if a.content_valid[pfn] else bytes(lines)
                    for pfn in k.pin_longterm_test_pages.pages)


def gup_test_release(k, pid: int) -> None:
    """The file closed by its last holder (process ``pid`` exits): its pins go."""
    if k.pin_longterm_test_pages is not None and k.pin_longterm_test_pages.pid == pid:
        pin_longterm_test_stop(k)


def gup_test_ioctl(k, task, cmd: str, gup: GupTest, write: bool, fast: bool) -> bytes | GupTest | None:
    """One ioctl on ``/sys/kernel/debug/gup_test``: the long-term pin commands take the range
    of ``gup`` (and ``write``, ``fast``); the others take and give back ``gup`` whole."""
    if cmd == "PIN_LONGTERM_TEST_START":
        pin_longterm_test_start(k, task, gup.addr, gup.size, write, fast)
    elif cmd == "PIN_LONGTERM_TEST_STOP":
        pin_longterm_test_stop(k)
    elif cmd == "PIN_LONGTERM_TEST_READ":
        return pin_longterm_test_read(k)
    elif cmd in GUP_TEST_COMMANDS:
        return __gup_test_ioctl(k, task, cmd, gup)
    else:
        raise KernelError(errno.EINVAL, f"gup_test: unknown command {cmd!r} (one of "
                                        f"{', '.join(GUP_TEST_COMMANDS + PIN_LONGTERM_TEST_COMMANDS)})")
    return None
