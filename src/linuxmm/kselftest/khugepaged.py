"""``khugepaged.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

Collapse of small pages into a PMD THP, by khugepaged (the ``khugepaged`` context: the range
is MADV_HUGEPAGE'd and the test waits, ``usleep`` by ``usleep``, for the scan to collapse it
or to finish two more full scans) and by MADV_COLLAPSE (the ``madvise`` context, with THP set
to never so that khugepaged stays out and the policy is seen to be ignored). The cases fill
PTE tables fully, not at all, with one page, up to khugepaged's max_ptes_none, with swapped-out
pages (max_ptes_swap), with pages of THPs split by MADV_DONTNEED, by VMA splits and by
mremap, with pages shared with a forked child (max_ptes_shared), and collapse an existing THP
again; ``validate_memory`` checks every page's value afterwards.

The program is not TAP: it prints each check's message and OK or Fail. Each ``TEST(t, c, o)``
line of its ``main`` is a case here (``test_collapse_full_khugepaged_anon``), its checks the
TAP lines (``collapse_full (khugepaged:anon): Collapse multiple fully populated PTE table``),
a ``skip()`` a SKIP, an ``exit(EXIT_FAILURE)`` a failed case. run_vmtests.sh runs the program
without arguments (anonymous memory in both contexts) and with ``all:shmem`` (memfd memory,
``MAP_SHARED``, in both contexts); this port runs both at once: ``alloc_at_fault`` (which
each invocation runs first) once, then every TEST line for anon and shmem. The ``file``
memory type (``khugepaged all:file DIR``, which run_vmtests does not run) is listed as SKIPs:
it needs CONFIG_READ_ONLY_THP_FOR_FS, which the kernel modelled is built without, as this
host's is (tests/data/host-linux-6.18/collapse_file_probe.txt: MADV_COLLAPSE of an ext4 file
is EINVAL). For shmem, khugepaged only puts the THP in the page cache and retracts the page
tables; the test then refaults the range, after its MADV_NOHUGEPAGE, and 6.18's
``do_set_pmd`` maps no PMD in a VM_NOHUGEPAGE VMA (this host refuses it:
tests/data/host-linux-6.18/collapse_file_probe.txt, "refault after nohugepage"), so the C
program prints Fail for those khugepaged:shmem checks; here they are XFAIL when the THP is in
the page cache (``REFAULT_XFAIL``), a failure otherwise. The memory pattern is one non-zero byte per
page (the C program's ``i + 0xdead0000`` per page), as memory holds one byte per 64-byte
line. The swap cases turn on a swap partition first (the C program expects the machine to
have swap). The settings the C program writes and the simulator does not have are left
out: use_zero_page (read-only here) and read_ahead_kb (file memory only).
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from .ksft import Ksft, syscall_errno
from .vm_util import check_huge_anon, check_huge_shmem, get_value_for_name

SOURCE = "tools/testing/selftests/mm/khugepaged.c"
FIXTURE = None
BASE_ADDR = 1 << 30
PAGE_SIZE = 4096
HPAGE_PMD_SIZE = 2 << 20  # read_pmd_pagesize
HPAGE_PMD_NR = HPAGE_PMD_SIZE // PAGE_SIZE
THP = "kernel/mm/transparent_hugepage/"
TICK = 0.5  # usleep(TICK): 500 ms
SWAP_SIZE = "256M"
REFAULT_XFAIL = ("the THP is in the page cache, but 6.18's do_set_pmd maps no PMD in the VM_NOHUGEPAGE range "
                 "the test refaults (the C program prints Fail here)")
FILE_SKIP = ("the file memory type needs CONFIG_READ_ONLY_THP_FOR_FS, which the kernel modelled (like this "
             "host's 6.18) is built without")

# main()'s default_settings, as files under /sys/kernel/mm/transparent_hugepage
DEFAULT_SETTINGS = {"enabled": "madvise", "shmem_enabled": "advise", "khugepaged/defrag": 1, "khugepaged/alloc_sleep_millisecs": 10,
                    "khugepaged/scan_sleep_millisecs": 10, "khugepaged/max_ptes_none": HPAGE_PMD_NR - 1,
                    "khugepaged/max_ptes_swap": HPAGE_PMD_NR // 8,
                    "khugepaged/max_ptes_shared": HPAGE_PMD_NR // 2,
                    "khugepaged/pages_to_scan": HPAGE_PMD_NR * 8}


class Khugepaged:
    """The program's state in one case: the test, the process running (a forked child runs
    its part as ``p``), the name of the running TEST line and the pushed settings."""

    def __init__(self, t: Ksft, case: str, context: str, ops: str = "anon"):
        self.t, self.p, self.case, self.context, self.ops = t, t.process, case, context, ops
        self.settings: list[dict] = []
        self.fd = -1  # finfo.fd: the memfd of the shmem area
        self.push_settings(DEFAULT_SETTINGS)

    # ---- thp_settings.c -------------------------------------------------------------------------
    def thp_read_num(self, name: str) -> int:
        return int(self.t.machine.sysfs(THP + name))

    def thp_write_num(self, name: str, value: int) -> None:
        self.t.machine.sysfs(THP + name, str(value))

    def current(self, name: str) -> str:
        """The setting as the last push wrote it."""
        return str(self.settings[-1][name])

    def push_settings(self, changes: dict) -> None:
        """``thp_push_settings``: the current settings with ``changes`` written."""
        settings = {**(self.settings[-1] if self.settings else {}), **changes}
        self.settings.append(settings)
        self.write_settings(settings)

    def pop_settings(self) -> None:
        self.settings.pop()
        self.write_settings(self.settings[-1])

    def write_settings(self, settings: dict) -> None:
        for name, value in settings.items():
            self.t.machine.sysfs(THP + name, str(value))

    @contextmanager
    def pushed(self, changes: dict):
        self.push_settings(changes)
        try:
            yield
        finally:
            self.pop_settings()

    # ---- messages -------------------------------------------------------------------------------
    def result(self, ok: bool, msg: str) -> None:
        """``success(msg)`` / ``fail(msg)`` after a printed message."""
        self.t.test_result(ok, f"{self.case} ({self.context}:{self.ops}): {msg}")

    def exit_failure(self, msg: str) -> None:
        """``exit(EXIT_FAILURE)`` after a message."""
        self.t.exit_fail(f"{self.case} ({self.context}:{self.ops}): {msg}")

    # ---- mem_ops: anon_ops and shmem_ops ------------------------------------------------------------
    def alloc_mapping(self, nr_hpages: int) -> int:
        """``alloc_mapping``: private anonymous memory at BASE_ADDR, or the program ends."""
        addr = self.p.mmap(nr_hpages * HPAGE_PMD_SIZE, "rw", "private|anonymous", addr=BASE_ADDR)
        if addr != BASE_ADDR:
            self.exit_failure(f"Failed to allocate VMA at {BASE_ADDR:#x}")
        return addr

    def setup_area(self, nr_hpages: int) -> int:
        """``anon_setup_area``, or ``shmem_setup_area``: a memfd of the area's size mapped
        shared at BASE_ADDR."""
        if self.ops == "anon":
            return self.alloc_mapping(nr_hpages)
        size = nr_hpages * HPAGE_PMD_SIZE
        self.fd = self.p.memfd_create("khugepaged-selftest-collapse-shmem")
        self.p.ftruncate(self.fd, size)
        addr = self.p.mmap(size, "rw", "shared", addr=BASE_ADDR, fd=self.fd)
        if addr != BASE_ADDR:
            self.exit_failure("mmap()")
        return addr

    def cleanup_area(self, p: int, size: int) -> None:
        self.p.munmap(p, size)
        if self.ops == "shmem":
            self.p.close(self.fd)

    def fault(self, p: int, start: int, end: int) -> None:
        """``fill_memory``: page i of the area holds its own value."""
        for i in range(start // PAGE_SIZE, end // PAGE_SIZE):
            self.p.write(p + i * PAGE_SIZE, 1, value=pattern(i))

    def check_huge(self, addr: int, nr_hpages: int) -> bool:
        """``anon_check_huge`` (AnonHugePages) or ``shmem_check_huge`` (ShmemPmdMapped)."""
        check = check_huge_anon if self.ops == "anon" else check_huge_shmem
        return check(self.p, addr, nr_hpages, HPAGE_PMD_SIZE)

    def validate_memory(self, p: int, start: int, end: int) -> None:
        data = self.p.read(p + start, end - start, stride=PAGE_SIZE)
        for i, value in enumerate(data, start // PAGE_SIZE):
            if value != pattern(i):
                self.exit_failure(f"Page {i} is corrupted: {value:#x}")

    def check_swap(self, addr: int, size: int) -> bool:
        """The smaps entry of the VMA at ``addr`` shows ``size`` swapped out."""
        return get_value_for_name(self.p, addr, "Swap:") == size >> 10

    # ---- collapsing -----------------------------------------------------------------------------
    def madvise_collapse_retry(self, p: int, size: int) -> int:
        """MADV_COLLAPSE, tried once more after EAGAIN: 0 or the errno."""
        err = syscall_errno(self.p.madvise, p, size, "collapse")
        if err and err == 11:  # EAGAIN
            err = syscall_errno(self.p.madvise, p, size, "collapse")
        return err

    def alloc_hpage(self) -> int:
        """A PMD-mapped THP filled with the pattern, in a VMA left MADV_HUGEPAGE'd."""
        p = self.setup_area(1)
        self.fault(p, 0, HPAGE_PMD_SIZE)
        if self.madvise_collapse_retry(p, HPAGE_PMD_SIZE) or not self.check_huge(p, 1):
            self.exit_failure("Allocate huge page: madvise(MADV_COLLAPSE)")
        self.p.madvise(p, HPAGE_PMD_SIZE, "hugepage")
        return p

    def do_madvise_collapse(self, msg: str, p: int, nr_hpages: int, expect: bool) -> None:
        """``__madvise_collapse``: MADV_COLLAPSE with THP off, its result and the THPs left."""
        with self.pushed({"enabled": "never", "shmem_enabled": "never"}):  # keeps khugepaged out
            self.p.madvise(p, nr_hpages * HPAGE_PMD_SIZE, "hugepage")  # clears VM_NOHUGEPAGE
            ret = self.madvise_collapse_retry(p, nr_hpages * HPAGE_PMD_SIZE)
            if bool(ret) == expect:
                self.result(False, f"{msg}: Fail: Bad return value")
            else:
                self.result(self.check_huge(p, nr_hpages if expect else 0), msg)

    def madvise_collapse(self, msg: str, p: int, nr_hpages: int, expect: bool) -> None:
        if not self.check_huge(p, 0):
            self.exit_failure("Unexpected huge page")
        self.do_madvise_collapse(msg, p, nr_hpages, expect)

    def wait_for_scan(self, msg: str, p: int, nr_hpages: int) -> bool:
        """MADV_HUGEPAGE, then up to 6 ticks until the range is huge or khugepaged finished
        two more full scans; True on timeout."""
        if not self.check_huge(p, 0):
            self.exit_failure("Unexpected huge page")
        self.p.madvise(p, nr_hpages * HPAGE_PMD_SIZE, "hugepage")
        full_scans = self.thp_read_num("khugepaged/full_scans") + 2
        timeout = 6
        while timeout > 0:
            timeout -= 1
            if self.check_huge(p, nr_hpages) or self.thp_read_num("khugepaged/full_scans") >= full_scans:
                break
            self.t.machine.run(TICK)
        else:
            timeout = -1
        self.p.madvise(p, nr_hpages * HPAGE_PMD_SIZE, "nohugepage")
        return timeout == -1

    def khugepaged_collapse(self, msg: str, p: int, nr_hpages: int, expect: bool) -> None:
        """Wait for khugepaged; shmem's THP is only in the page cache then, so the range is
        faulted again to map it by its pmd before the check."""
        if self.wait_for_scan(msg, p, nr_hpages):
            self.result(not expect, f"{msg}: Timeout" if expect else msg)
            return
        if self.ops != "anon":
            self.fault(p, 0, nr_hpages * HPAGE_PMD_SIZE)
        ok = self.check_huge(p, nr_hpages if expect else 0)
        if not ok and expect and self.ops == "shmem" and self.shmem_thps() >= nr_hpages:
            self.t.test_result_xfail(f"{self.case} ({self.context}:{self.ops}): {msg}: {REFAULT_XFAIL}")
            return
        self.result(ok, msg)

    def shmem_thps(self) -> int:
        """The PMD-sized shmem folios in page caches (/proc/meminfo ShmemHugePages)."""
        kb = re.search(r"^ShmemHugePages:\s+(\d+) kB$", self.t.machine.proc("meminfo"), re.M).group(1)
        return int(kb) // (HPAGE_PMD_SIZE >> 10)

    def collapse(self, msg: str, p: int, nr_hpages: int, expect: bool) -> None:
        """The context's ``collapse``."""
        if self.context == "khugepaged":
            self.khugepaged_collapse(msg, p, nr_hpages, expect)
        else:
            self.madvise_collapse(msg, p, nr_hpages, expect)

    @property
    def enforce_pte_scan_limits(self) -> bool:
        return self.context == "khugepaged"

    @contextmanager
    def child(self):
        """``fork()``: the body runs as the child, which exits afterwards."""
        parent, self.p = self.p, self.p.fork()
        try:
            yield
        finally:
            if self.p.alive:
                self.p.exit()
            self.p = parent


def pattern(i: int) -> int:
    """The value of page ``i`` (for the C program's ``i + 0xdead0000``): never zero."""
    return i % 255 + 1


# ---- the tests, in the C file's order -------------------------------------------------------------


def alloc_at_fault(s: Khugepaged) -> None:
    with s.pushed({"enabled": "always"}):
        p = s.alloc_mapping(1)
        s.p.write(p, 1, value=1)
        s.result(check_huge_anon(s.p, p, 1, HPAGE_PMD_SIZE), "Allocate huge page on fault")
    s.p.madvise(p, PAGE_SIZE, "dontneed")
    s.result(check_huge_anon(s.p, p, 0, HPAGE_PMD_SIZE), "Split huge PMD on MADV_DONTNEED")
    s.p.munmap(p, HPAGE_PMD_SIZE)


def collapse_full(s: Khugepaged) -> None:
    nr_hpages = 4
    size = nr_hpages * HPAGE_PMD_SIZE
    p = s.setup_area(nr_hpages)
    s.fault(p, 0, size)
    s.collapse("Collapse multiple fully populated PTE table", p, nr_hpages, True)
    s.validate_memory(p, 0, size)
    s.cleanup_area(p, size)


def collapse_empty(s: Khugepaged) -> None:
    p = s.setup_area(1)
    s.collapse("Do not collapse empty PTE table", p, 1, False)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_single_pte_entry(s: Khugepaged) -> None:
    p = s.setup_area(1)
    s.fault(p, 0, PAGE_SIZE)
    s.collapse("Collapse PTE table with single PTE entry present", p, 1, True)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_max_ptes_none(s: Khugepaged) -> None:
    max_ptes_none = HPAGE_PMD_NR // 2
    with s.pushed({"khugepaged/max_ptes_none": max_ptes_none}):
        p = s.setup_area(1)
        s.fault(p, 0, (HPAGE_PMD_NR - max_ptes_none - 1) * PAGE_SIZE)
        s.collapse("Maybe collapse with max_ptes_none exceeded", p, 1, not s.enforce_pte_scan_limits)
        s.validate_memory(p, 0, (HPAGE_PMD_NR - max_ptes_none - 1) * PAGE_SIZE)
        if s.enforce_pte_scan_limits:
            s.fault(p, 0, (HPAGE_PMD_NR - max_ptes_none) * PAGE_SIZE)
            s.collapse("Collapse with max_ptes_none PTEs empty", p, 1, True)
            s.validate_memory(p, 0, (HPAGE_PMD_NR - max_ptes_none) * PAGE_SIZE)
        s.cleanup_area(p, HPAGE_PMD_SIZE)


def swapout(s: Khugepaged, p: int, nr: int) -> bool:
    """MADV_PAGEOUT of the first ``nr`` pages, checked in smaps."""
    s.p.madvise(p, nr * PAGE_SIZE, "pageout")
    ok = s.check_swap(p, nr * PAGE_SIZE)
    s.result(ok, f"Swapout {nr} of {HPAGE_PMD_NR} pages")
    return ok


def collapse_swapin_single_pte(s: Khugepaged) -> None:
    s.t.machine.swapon(SWAP_SIZE)
    p = s.setup_area(1)
    s.fault(p, 0, HPAGE_PMD_SIZE)
    if swapout(s, p, 1):
        s.collapse("Collapse with swapping in single PTE entry", p, 1, True)
        s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_max_ptes_swap(s: Khugepaged) -> None:
    s.t.machine.swapon(SWAP_SIZE)
    max_ptes_swap = s.thp_read_num("khugepaged/max_ptes_swap")
    p = s.setup_area(1)
    s.fault(p, 0, HPAGE_PMD_SIZE)
    if swapout(s, p, max_ptes_swap + 1):
        s.collapse("Maybe collapse with max_ptes_swap exceeded", p, 1, not s.enforce_pte_scan_limits)
        s.validate_memory(p, 0, HPAGE_PMD_SIZE)
        if s.enforce_pte_scan_limits:
            s.fault(p, 0, HPAGE_PMD_SIZE)
            if swapout(s, p, max_ptes_swap):
                s.collapse("Collapse with max_ptes_swap pages swapped out", p, 1, True)
                s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_single_pte_entry_compound(s: Khugepaged) -> None:
    p = s.alloc_hpage()
    s.p.madvise(p, HPAGE_PMD_SIZE, "nohugepage")
    s.p.madvise(p + PAGE_SIZE, HPAGE_PMD_SIZE - PAGE_SIZE, "dontneed")
    s.result(s.check_huge(p, 0), "Split huge page leaving single PTE mapping compound page")
    s.collapse("Collapse PTE table with single PTE mapping compound page", p, 1, True)
    s.validate_memory(p, 0, PAGE_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_full_of_compound(s: Khugepaged) -> None:
    p = s.alloc_hpage()
    s.p.madvise(p, PAGE_SIZE, "nohugepage")
    s.p.madvise(p, HPAGE_PMD_SIZE, "nohugepage")
    s.result(s.check_huge(p, 0), "Split huge page leaving single PTE page table full of compound pages")
    s.collapse("Collapse PTE table full of compound pages", p, 1, True)
    s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


COMPACTION_SKIP = ("memory compaction is not simulated: of the 512 THPs faulted one after the other, each "
                   "leaves one page in its pageblock, and without page migration the 1 GiB machine runs out "
                   "of free pageblocks before the table is full")


def collapse_compound_extreme(s: Khugepaged) -> None:
    """The C test builds a PTE table whose page i is page i of THP i (each THP faulted at
    BASE_ADDR, then mremap'ed away but for its page i, which joins the pages gathered
    before it) and collapses it. Skipped: its 512 THP allocations need compaction."""
    s.t.exit_skip(f"{s.case} ({s.context}:anon): {COMPACTION_SKIP}")


def collapse_fork(s: Khugepaged) -> None:
    p = s.setup_area(1)
    s.fault(p, 0, PAGE_SIZE)
    s.result(s.check_huge(p, 0), "Allocate small page")
    with s.child():
        s.result(s.check_huge(p, 0), "Share small page over fork()")
        s.fault(p, PAGE_SIZE, 2 * PAGE_SIZE)
        s.collapse("Collapse PTE table with single page shared with parent process", p, 1, True)
        s.validate_memory(p, 0, PAGE_SIZE)
        s.cleanup_area(p, HPAGE_PMD_SIZE)
    s.result(s.check_huge(p, 0), "Check if parent still has small page")
    s.validate_memory(p, 0, PAGE_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_fork_compound(s: Khugepaged) -> None:
    p = s.alloc_hpage()
    with s.child():
        s.result(s.check_huge(p, 1), "Share huge page over fork()")
        s.p.madvise(p, PAGE_SIZE, "nohugepage")
        s.p.madvise(p, HPAGE_PMD_SIZE, "nohugepage")
        s.result(s.check_huge(p, 0), "Split huge page PMD in child process")
        s.fault(p, 0, PAGE_SIZE)
        s.thp_write_num("khugepaged/max_ptes_shared", HPAGE_PMD_NR - 1)
        s.collapse("Collapse PTE table full of compound pages in child", p, 1, True)
        s.thp_write_num("khugepaged/max_ptes_shared", int(s.current("khugepaged/max_ptes_shared")))
        s.validate_memory(p, 0, HPAGE_PMD_SIZE)
        s.cleanup_area(p, HPAGE_PMD_SIZE)
    s.result(s.check_huge(p, 1), "Check if parent still has huge page")
    s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def collapse_max_ptes_shared(s: Khugepaged) -> None:
    max_ptes_shared = s.thp_read_num("khugepaged/max_ptes_shared")
    p = s.alloc_hpage()
    with s.child():
        s.result(s.check_huge(p, 1), "Share huge page over fork()")
        s.fault(p, 0, (HPAGE_PMD_NR - max_ptes_shared - 1) * PAGE_SIZE)
        s.result(s.check_huge(p, 0), f"Trigger CoW on page {HPAGE_PMD_NR - max_ptes_shared - 1} of {HPAGE_PMD_NR}")
        s.collapse("Maybe collapse with max_ptes_shared exceeded", p, 1, not s.enforce_pte_scan_limits)
        if s.enforce_pte_scan_limits:
            s.fault(p, 0, (HPAGE_PMD_NR - max_ptes_shared) * PAGE_SIZE)
            s.result(s.check_huge(p, 0), f"Trigger CoW on page {HPAGE_PMD_NR - max_ptes_shared} of {HPAGE_PMD_NR}")
            s.collapse("Collapse with max_ptes_shared PTEs shared", p, 1, True)
        s.validate_memory(p, 0, HPAGE_PMD_SIZE)
        s.cleanup_area(p, HPAGE_PMD_SIZE)
    s.result(s.check_huge(p, 1), "Check if parent still has huge page")
    s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def madvise_collapse_existing_thps(s: Khugepaged) -> None:
    p = s.setup_area(1)
    s.fault(p, 0, HPAGE_PMD_SIZE)
    s.collapse("Collapse fully populated PTE table...", p, 1, True)
    s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.do_madvise_collapse("Re-collapse PMD-mapped hugepage", p, 1, True)  # c->collapse() would find the THP
    s.validate_memory(p, 0, HPAGE_PMD_SIZE)
    s.cleanup_area(p, HPAGE_PMD_SIZE)


def madvise_retracted_page_tables(s: Khugepaged) -> None:
    """khugepaged collapses the range and retracts its page table (the pmd left none); then
    MADV_COLLAPSE finds the THP in the page cache and installs the pmd."""
    size = HPAGE_PMD_SIZE
    p = s.setup_area(1)
    s.fault(p, 0, size)
    if s.wait_for_scan("Collapse and leave PMD cleared", p, 1):
        s.result(False, "Collapse and leave PMD cleared: Timeout")
        return
    s.result(True, "Collapse and leave PMD cleared")
    s.collapse("Install huge PMD from page cache", p, 1, True)
    s.validate_memory(p, 0, size)
    s.cleanup_area(p, size)


def _case(test, context: str, ops: str):
    def case(t: Ksft) -> None:
        test(Khugepaged(t, test.__name__, context, ops))
    case.__name__ = f"test_{test.__name__}_{context}_{ops}"
    return case


def _skips(test, contexts: tuple):
    """A TEST line for file memory: one SKIP per context."""
    def case(t: Ksft) -> None:
        for context in contexts:
            t.test_result_skip(f"{test} ({context}:file): {FILE_SKIP}")
    case.__name__ = f"test_{test}_file"
    return case


def test_alloc_at_fault(t: Ksft) -> None:
    alloc_at_fault(Khugepaged(t, "alloc_at_fault", "khugepaged"))


BOTH = ("khugepaged", "madvise")
# main()'s TEST lines: (test, contexts, memory types), anon and shmem run, file skipped
TESTS = [(collapse_full, BOTH, ("anon", "file", "shmem")), (collapse_empty, BOTH, ("anon",)),
         (collapse_single_pte_entry, BOTH, ("anon", "file", "shmem")), (collapse_max_ptes_none, BOTH, ("anon", "file")),
         (collapse_single_pte_entry_compound, BOTH, ("anon", "file")),
         (collapse_full_of_compound, BOTH, ("anon", "file", "shmem")), (collapse_compound_extreme, BOTH, ("anon",)),
         (collapse_swapin_single_pte, BOTH, ("anon",)), (collapse_max_ptes_swap, BOTH, ("anon",)),
         (collapse_fork, BOTH, ("anon",)), (collapse_fork_compound, BOTH, ("anon",)),
         (collapse_max_ptes_shared, BOTH, ("anon",)),
         (madvise_collapse_existing_thps, ("madvise",), ("anon", "file", "shmem")),
         (madvise_retracted_page_tables, ("madvise",), ("file", "shmem"))]

for _test, _contexts, _memories in TESTS:  # in main()'s order: context by context, anon, file, shmem
    for _context in _contexts:
        for _memory in _memories:
            if _memory != "file":
                globals()[f"test_{_test.__name__}_{_context}_{_memory}"] = _case(_test, _context, _memory)
            elif _context == _contexts[0]:  # one case for the file lines of both contexts
                globals()[f"test_{_test.__name__}_file"] = _skips(_test.__name__, _contexts)
