"""``madv_populate.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

MADV_POPULATE_READ and MADV_POPULATE_WRITE fault a range in (``madvise_populate`` in
``mm/madvise.c``): EINVAL where the protection forbids the access, ENOMEM at any hole of
the range, and afterwards every page present: ``/proc/PID/pagemap`` says so
(``pagemap_is_populated``: PM_PRESENT or PM_SWAP). ``test_softdirty`` clears the soft-dirty
bits through ``/proc/PID/clear_refs`` and reads them back from the pagemap; the C program
runs it only where ``softdirty_supported`` (CONFIG_MEM_SOFT_DIRTY, which the selftests'
config asks for and the selftest machine has).
"""

from __future__ import annotations

import errno

from .ksft import Ksft, syscall_errno
from .vm_util import clear_softdirty, pagemap_is_populated, pagemap_is_softdirty, softdirty_supported

SOURCE = "tools/testing/selftests/mm/madv_populate.c"
FIXTURE = None
PAGE_SIZE = 4096
SIZE = 2 << 20  # 2 MiB of private anonymous memory for every test


def _map(t: Ksft, prot: str) -> int:
    return t.process.mmap(SIZE, prot=prot, flags="private|anonymous")


def range_is_populated(p, start: int, size: int) -> bool:
    """Every page of the range is present or swapped (``pagemap_is_populated``)."""
    return all(pagemap_is_populated(p, a) for a in range(start, start + size, PAGE_SIZE))


def range_is_not_populated(p, start: int, size: int) -> bool:
    return not any(pagemap_is_populated(p, a) for a in range(start, start + size, PAGE_SIZE))


def test_prot_read(t: Ksft) -> None:
    t.print_msg("[RUN] test_prot_read")
    p = t.process
    addr = _map(t, "r")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_read") == 0, "MADV_POPULATE_READ with PROT_READ")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_write") == errno.EINVAL,
                  "MADV_POPULATE_WRITE with PROT_READ")
    p.munmap(addr, SIZE)


def test_prot_write(t: Ksft) -> None:
    t.print_msg("[RUN] test_prot_write")
    p = t.process
    addr = _map(t, "w")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_read") == errno.EINVAL,
                  "MADV_POPULATE_READ with PROT_WRITE")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_write") == 0, "MADV_POPULATE_WRITE with PROT_WRITE")
    p.munmap(addr, SIZE)


def test_holes(t: Ksft) -> None:
    t.print_msg("[RUN] test_holes")
    p = t.process
    addr = _map(t, "rw")
    p.munmap(addr + PAGE_SIZE, PAGE_SIZE)
    for start, length, where in ((addr, SIZE, "in the middle"), (addr, 2 * PAGE_SIZE, "at the end"),
                                 (addr + PAGE_SIZE, PAGE_SIZE, "at the beginning")):
        for advice in ("READ", "WRITE"):
            err = syscall_errno(p.madvise, start, length, f"populate_{advice.lower()}")
            t.test_result(err == errno.ENOMEM, f"MADV_POPULATE_{advice} with holes {where}")
    p.munmap(addr, SIZE)


def _test_populate(t: Ksft, advice: str) -> None:
    t.print_msg(f"[RUN] test_populate_{advice.lower()}")
    p = t.process
    addr = _map(t, "rw")
    t.test_result(range_is_not_populated(p, addr, SIZE), "range initially not populated")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, f"populate_{advice.lower()}") == 0, f"MADV_POPULATE_{advice}")
    t.test_result(range_is_populated(p, addr, SIZE), "range is populated")
    p.munmap(addr, SIZE)


def test_populate_read(t: Ksft) -> None:
    _test_populate(t, "READ")


def test_populate_write(t: Ksft) -> None:
    _test_populate(t, "WRITE")


def range_is_softdirty(p, start: int, size: int) -> bool:
    return all(pagemap_is_softdirty(p, a) for a in range(start, start + size, PAGE_SIZE))


def range_is_not_softdirty(p, start: int, size: int) -> bool:
    return not any(pagemap_is_softdirty(p, a) for a in range(start, start + size, PAGE_SIZE))


def test_softdirty(t: Ksft) -> None:
    """Populating for reading maps the zero page, which is not soft-dirty; populating for
    writing dirties every page. ``main`` runs it only where soft-dirty is tracked."""
    p = t.process
    if not softdirty_supported(p):
        return
    t.print_msg("[RUN] test_softdirty")
    addr = _map(t, "rw")
    clear_softdirty(p)
    t.test_result(range_is_not_softdirty(p, addr, SIZE), "range is not softdirty")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_read") == 0, "MADV_POPULATE_READ")
    t.test_result(range_is_not_softdirty(p, addr, SIZE), "range is not softdirty")
    t.test_result(syscall_errno(p.madvise, addr, SIZE, "populate_write") == 0, "MADV_POPULATE_WRITE")
    t.test_result(range_is_softdirty(p, addr, SIZE), "range is softdirty")
    p.munmap(addr, SIZE)
