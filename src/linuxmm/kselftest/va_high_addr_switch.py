"""``va_high_addr_switch.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported (without
the ``--run-hugetlb`` table: hugetlbfs is not simulated).

With 5-level paging (LA57) the user address space reaches 56 bits, but mmap() places a
mapping above the 47-bit "switch" boundary (128 TiB, ``DEFAULT_MAP_WINDOW``) only when the
hint asks for it (``arch_get_unmapped_area_topdown``: the search's high limit is the window
unless the hint lies beyond it). The table of 16 mmap() calls hints below, at and above the
boundary, with and without MAP_FIXED, and checks each result: mapped, below the boundary
where required, and touchable (``memset``, which faults the pages in through the 5-level
tables). ``va_high_addr_switch.sh`` runs the program only on an LA57 machine, so the port's
machine has LA57. The C program prints ``msg: address - OK/FAILED`` per call and exits
with one status: one TAP line here, the per-call lines as messages.
"""

from __future__ import annotations

from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/va_high_addr_switch.c"
FIXTURE = None
MACHINE = {"la57": True}
PAGE_SIZE = 4096
ADDR_MARK_128TB = 1 << 47
HIGH_ADDR_128TB = 1 << 48
LOW_ADDR = 1 << 30
MAP_FAILED = -1
ULONG_MAX = (1 << 64) - 1

# testcases_init on x86-64: (hint, size, MAP_FIXED, message, low_addr_required, keep_mapped)
HINT, HIGH = ADDR_MARK_128TB, HIGH_ADDR_128TB
TESTCASES = (
    (HINT - PAGE_SIZE, PAGE_SIZE, False, "mmap(addr_switch_hint - pagesize, pagesize)", True, False),
    (HINT - PAGE_SIZE, 2 * PAGE_SIZE, False, "mmap(addr_switch_hint - pagesize, (2 * pagesize))", True, False),
    (HINT, PAGE_SIZE, False, "mmap(addr_switch_hint, pagesize)", False, True),
    (HINT, 2 * PAGE_SIZE, True, "mmap(addr_switch_hint, 2 * pagesize, MAP_FIXED)", False, False),
    (0, 2 * PAGE_SIZE, False, "mmap(NULL)", True, False),
    (LOW_ADDR, 2 * PAGE_SIZE, False, "mmap(low_addr)", True, False),
    (HIGH, 2 * PAGE_SIZE, False, "mmap(high_addr)", False, True),
    (HIGH, 2 * PAGE_SIZE, False, "mmap(high_addr) again", False, True),
    (HIGH, 2 * PAGE_SIZE, True, "mmap(high_addr, MAP_FIXED)", False, False),
    (ULONG_MAX, 2 * PAGE_SIZE, False, "mmap(-1)", False, True),
    (ULONG_MAX, 2 * PAGE_SIZE, False, "mmap(-1) again", False, False),
    (HINT - PAGE_SIZE, PAGE_SIZE, False, "mmap(addr_switch_hint - pagesize, pagesize)", True, False),
    (HINT - PAGE_SIZE, 2 * PAGE_SIZE, False, "mmap(addr_switch_hint - pagesize, 2 * pagesize)", True, True),
    (HINT - PAGE_SIZE // 2, 2 * PAGE_SIZE, False, "mmap(addr_switch_hint - pagesize/2 , 2 * pagesize)", True, True),
    (HINT, PAGE_SIZE, False, "mmap(addr_switch_hint, pagesize)", False, False),
    (HINT, 2 * PAGE_SIZE, True, "mmap(addr_switch_hint, 2 * pagesize, MAP_FIXED)", False, False),
)


def _mmap(p, addr: int, size: int, fixed: bool) -> int:
    from ..errors import KernelError

    try:
        return p.mmap(size, prot="rw", flags="private|anonymous" + ("|fixed" if fixed else ""), addr=addr)
    except KernelError:
        return MAP_FAILED


def test_va_high_addr_switch(t: Ksft) -> None:
    """run_test(testcases): every call must succeed, low where required."""
    p, ok = t.process, True
    for addr, size, fixed, msg, low_addr_required, keep_mapped in TESTCASES:
        ptr = _mmap(p, addr, size, fixed)
        if ptr == MAP_FAILED:
            t.print_msg(f"{msg}: 0xffffffffffffffff - FAILED")
            ok = False
            continue
        if low_addr_required and ptr >= ADDR_MARK_128TB:
            t.print_msg(f"{msg}: {ptr:#x} - FAILED")
            ok = False
        else:
            p.write(ptr, size, value=0)  # memset(p, 0, size): fault the pages in
            t.print_msg(f"{msg}: {ptr:#x} - OK")
        if not keep_mapped:
            p.munmap(ptr, size)
    t.test_result(ok, "va_high_addr_switch")
