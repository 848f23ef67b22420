"""``soft-dirty.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

The soft-dirty tracker: writing ``4`` to ``/proc/PID/clear_refs`` cleans every pte's
soft-dirty bit and write-protects it (``clear_soft_dirty``), so the next write faults and
``pte_mkdirty`` marks the page again; ``/proc/PID/pagemap`` shows the bit (PM_SOFT_DIRTY,
bit 55), also for pages of a VMA still marked VM_SOFTDIRTY (every new VMA is, so a mapping
reused at the same address looks dirty). The checks: a base page and a PMD-mapped THP go
clean/dirty/clean through the cycle, a new mapping is soft-dirty, and mprotect() read-only
and back does not make a clean page dirty while a later write does. The C program loops
10000 times; the port loops ``TEST_ITERATIONS`` (100) times, so the suite stays fast.
``test_mprotect_file`` maps a regular ext4 file shared; the C program creates it in its
working directory, the port (paths are absolute here) at ``/soft-dirty-test-file``.
The program runs only where ``softdirty_supported`` (CONFIG_MEM_SOFT_DIRTY).
"""

from __future__ import annotations

from .ksft import Ksft
from .vm_util import check_huge_anon, clear_softdirty, pagemap_is_softdirty, softdirty_supported

SOURCE = "tools/testing/selftests/mm/soft-dirty.c"
FIXTURE = None
PAGE_SIZE = 4096
HPAGE_SIZE = 2 << 20  # read_pmd_pagesize
TEST_ITERATIONS = 100


def _supported(t: Ksft) -> None:
    if not softdirty_supported(t.process):
        t.exit_skip("soft-dirty is not support")


def _increment(p, addr: int) -> None:
    """``map[0]++``: a load, then a store of the next value."""
    p.write(addr, 1, value=(p.read(addr, 1)[0] + 1) & 0xFF)


def _dirty_cycles(t: Ksft, addr: int) -> int:
    """Clean, check clean, write, check dirty, clean: the iterations that went through."""
    p = t.process
    clear_softdirty(p)
    for i in range(TEST_ITERATIONS):
        if pagemap_is_softdirty(p, addr):
            t.print_msg(f"dirty bit was 1, but should be 0 (i={i})")
            return i
        clear_softdirty(p)
        _increment(p, addr)  # write something to the page to get the dirty bit enabled
        if not pagemap_is_softdirty(p, addr):
            t.print_msg(f"dirty bit was 0, but should be 1 (i={i})")
            return i
        clear_softdirty(p)
    return TEST_ITERATIONS


def test_simple(t: Ksft) -> None:
    _supported(t)
    p = t.process
    map_ = p.mmap(PAGE_SIZE)  # aligned_alloc(pagesize, pagesize)
    t.test_result(_dirty_cycles(t, map_) == TEST_ITERATIONS, "Test test_simple")
    p.munmap(map_, PAGE_SIZE)


def test_vma_reuse(t: Ksft) -> None:
    _supported(t)
    p = t.process
    map_ = p.mmap(PAGE_SIZE)
    t.test_result(pagemap_is_softdirty(p, map_), "Test test_vma_reuse dirty bit of allocated page")
    clear_softdirty(p)
    p.munmap(map_, PAGE_SIZE)
    map2 = p.mmap(PAGE_SIZE)
    if map2 == map_:  # a new VMA is soft-dirty even where a clean one was
        t.test_result(pagemap_is_softdirty(p, map2), "Test test_vma_reuse dirty bit of reused address page")
    else:
        t.test_result_skip("Test test_vma_reuse dirty bit of reused address page")
    p.munmap(map2, PAGE_SIZE)


def test_hugepage(t: Ksft) -> None:
    _supported(t)
    p = t.process
    mem = p.mmap(2 * HPAGE_SIZE)  # memalign(hpage_len, hpage_len)
    map_ = (mem + HPAGE_SIZE - 1) & ~(HPAGE_SIZE - 1)
    p.madvise(map_, HPAGE_SIZE, "hugepage")
    p.write(map_, HPAGE_SIZE, stride=64, value=1)  # for (i = 0; i < hpage_len; i++) map[i] = i
    if check_huge_anon(p, map_, 1, HPAGE_SIZE):
        t.test_result(True, "Test test_hugepage huge page allocation")
        t.test_result(_dirty_cycles(t, map_) == TEST_ITERATIONS, "Test test_hugepage huge page dirty bit")
    else:
        t.test_result_skip("Test test_hugepage huge page allocation")
        t.test_result_skip("Test test_hugepage huge page dirty bit")
    p.munmap(mem, 2 * HPAGE_SIZE)


def _test_mprotect(t: Ksft, anon: bool) -> None:
    """Written: soft-dirty; clear_refs: clean; mprotect R/O and back: still clean; written
    again: soft-dirty."""
    p, kind = t.process, "anon" if anon else "file"
    if anon:
        map_ = p.mmap(PAGE_SIZE)
    else:
        test_fd = p.open(FNAME, "rw", create=True)
        t.machine.unlink(FNAME)
        p.ftruncate(test_fd, PAGE_SIZE)
        map_ = p.mmap(PAGE_SIZE, "rw", "shared", fd=test_fd)
    p.write(map_, 1, value=1)
    t.test_result(pagemap_is_softdirty(p, map_), f"Test test_mprotect-{kind} dirty bit of new written page")
    clear_softdirty(p)
    t.test_result(not pagemap_is_softdirty(p, map_), f"Test test_mprotect-{kind} soft-dirty clear after clear_refs")
    p.mprotect(map_, PAGE_SIZE, "r")
    t.test_result(not pagemap_is_softdirty(p, map_), f"Test test_mprotect-{kind} soft-dirty clear after marking RO")
    p.mprotect(map_, PAGE_SIZE, "rw")
    t.test_result(not pagemap_is_softdirty(p, map_), f"Test test_mprotect-{kind} soft-dirty clear after marking RW")
    p.write(map_, 1, value=2)
    t.test_result(pagemap_is_softdirty(p, map_), f"Test test_mprotect-{kind} soft-dirty after rewritten")
    p.munmap(map_, PAGE_SIZE)
    if not anon:
        p.close(test_fd)


FNAME = "/soft-dirty-test-file"


def test_mprotect_anon(t: Ksft) -> None:
    _supported(t)
    _test_mprotect(t, anon=True)


def test_mprotect_file(t: Ksft) -> None:
    _supported(t)
    _test_mprotect(t, anon=False)
