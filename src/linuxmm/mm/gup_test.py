"""The GUP test driver (``mm/gup_test.c``, CONFIG_GUP_TEST, Linux 6.18): the long-term pin
ioctls of ``/sys/kernel/debug/gup_test`` that the mm selftests ``cow`` and ``gup_longterm``
use.

``PIN_LONGTERM_TEST_START`` pins a page-aligned range with FOLL_LONGTERM (FOLL_WRITE on
request) through ``pin_user_pages`` or ``pin_user_pages_fast`` (``mm/gup.py``) and keeps the
pages; ``PIN_LONGTERM_TEST_READ`` copies what the pinned pages hold (through the kernel's own
mapping of them, not the process's page tables); ``PIN_LONGTERM_TEST_STOP`` unpins them. One
set of pins exists system-wide (the driver's static ``pin_longterm_test_pages``), kept in
``Kernel.pin_longterm_test`` with the pid of the process whose open file holds it: closing
the file (the process's exit) releases them (``gup_test_release``).

The benchmark and basic-test commands (``GUP_FAST_BENCHMARK``, ``PIN_BASIC_TEST``, ...) are
not simulated: EOPNOTSUPP (the driver knows them; other commands are EINVAL, as there).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import numpy as np

from ..errors import KernelError
from ..include.linux.mm_types import PAGE_SIZE, ULONG_MAX
from .gup import FOLL_LONGTERM, FOLL_WRITE, pin_user_pages, unpin

PIN_LONGTERM_TEST_COMMANDS = ("PIN_LONGTERM_TEST_START", "PIN_LONGTERM_TEST_STOP", "PIN_LONGTERM_TEST_READ")
GUP_TEST_BENCHMARKS = ("GUP_FAST_BENCHMARK", "PIN_FAST_BENCHMARK", "PIN_LONGTERM_BENCHMARK", "GUP_BASIC_TEST",
                       "PIN_BASIC_TEST", "DUMP_USER_PAGES_TEST")
LONG_MAX = (1 << 63) - 1


@dataclass
class pin_longterm_test:
    """The driver's pinned pages (4 KiB pfns, as its ``struct page **``) and who holds them."""
    pages: np.ndarray
    pid: int


def pin_longterm_test_stop(k) -> None:
    if k.pin_longterm_test is not None:
        unpin(k, k.pin_longterm_test.pages)
        k.pin_longterm_test = None


def pin_longterm_test_start(k, task, addr: int, size: int, write: bool, fast: bool) -> None:
    """Pin [addr, addr + size), page after page until all are; a failed pin drops the earlier
    ones and its errno is the ioctl's."""
    if k.pin_longterm_test is not None:
        raise KernelError(errno.EINVAL, "PIN_LONGTERM_TEST_START: pages are pinned already")
    addr, size = addr & ULONG_MAX, size & ULONG_MAX  # the __u64 fields of struct pin_longterm_test
    if (addr | size) & (PAGE_SIZE - 1) or size > LONG_MAX or size // PAGE_SIZE == 0:
        raise KernelError(errno.EINVAL, f"PIN_LONGTERM_TEST_START: {addr:#x}+{size:#x} is not a page-aligned range")
    nr_pages = size // PAGE_SIZE
    gup_flags = FOLL_LONGTERM | (FOLL_WRITE if write else 0)
    k.pin_longterm_test = pin_longterm_test(np.zeros(0, np.int64), task.pid)
    while len(k.pin_longterm_test.pages) < nr_pages:
        done = len(k.pin_longterm_test.pages)
        ret, pages = pin_user_pages(k, task, addr + done * PAGE_SIZE, nr_pages - done, gup_flags, fast)
        if ret < 0:
            pin_longterm_test_stop(k)
            raise KernelError(-ret, f"PIN_LONGTERM_TEST_START: pinning {addr + done * PAGE_SIZE:#x} failed")
        k.pin_longterm_test.pages = np.concatenate([k.pin_longterm_test.pages, pages])


def pin_longterm_test_read(k) -> bytes:
    """Each pinned page's contents (the simulator keeps one byte per 64-byte line)."""
    if k.pin_longterm_test is None:
        raise KernelError(errno.EINVAL, "PIN_LONGTERM_TEST_READ: nothing is pinned")
    a = k.mem_map
    lines = a.content.shape[1]
    return b"".join(a.content[pfn].tobytes() if a.content_valid[pfn] else bytes(lines)
                    for pfn in k.pin_longterm_test.pages)


def gup_test_release(k, pid: int) -> None:
    """The file closed by its last holder (process ``pid`` exits): its pins go."""
    if k.pin_longterm_test is not None and k.pin_longterm_test.pid == pid:
        pin_longterm_test_stop(k)


def gup_test_ioctl(k, task, cmd: str, addr: int, size: int, write: bool, fast: bool) -> bytes | None:
    """One ioctl on ``/sys/kernel/debug/gup_test``."""
    if cmd == "PIN_LONGTERM_TEST_START":
        pin_longterm_test_start(k, task, addr, size, write, fast)
    elif cmd == "PIN_LONGTERM_TEST_STOP":
        pin_longterm_test_stop(k)
    elif cmd == "PIN_LONGTERM_TEST_READ":
        return pin_longterm_test_read(k)
    elif cmd in GUP_TEST_BENCHMARKS:
        raise KernelError(errno.EOPNOTSUPP, f"gup_test: {cmd} is not simulated")
    else:
        raise KernelError(errno.EINVAL, f"gup_test: unknown command {cmd!r} (one of {', '.join(PIN_LONGTERM_TEST_COMMANDS)})")
    return None
