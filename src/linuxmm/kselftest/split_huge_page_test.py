"""``split_huge_page_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

Splits PMD-mapped and PTE-mapped anonymous THPs through /sys/kernel/debug/split_huge_pages
(``write_debugfs`` with ``PID_FMT``: ``pid,0xstart,0xend,order``) and checks the data, the
AnonHugePages of smaps (``check_huge_anon``), RssAnon, and the folio orders left behind as
/proc/PID/pagemap and /proc/kpageflags show them (``gather_after_split_folio_orders``,
``is_backed_by_folio``); then page-cache THPs: a tmpfs file's (``split_file_backed_thp``,
``PATH_FMT``: ``/path,0xoff_start,0xoff_end,order``) and an ext4 file's, PMD-mapped after
MADV_HUGEPAGE readahead, split to each order, uniformly and around an in-folio offset
(``split_thp_in_pagecache_to_order_at``, ``PID_FMT_OFFSET``). Ported: every case but
``split_pmd_thp_to_order(1)``, which the C program skips too (no order-1 anonymous folios).
Memory keeps one byte per 64-byte line, so the C program's ``(char)i`` pattern becomes one
non-zero value per page (the C pattern has no zero-filled page either). The simulator has no
mount(2), mkdir(2) or sync(2): the tmpfs ``huge=always,size=4M`` the C program mounts on a
new directory is mounted at boot on ``/tmp/thp_split`` (``MACHINE``), the ext4 test file is
created in ``/tmp`` (the C program's ``mkdtemp`` directory on the root file system),
fsync'ed instead of ``sync()``, and written once for all of its case's calls.
"""

from __future__ import annotations

from ..errors import KernelError
from .ksft import Ksft
from .vm_util import PAGE_SIZE, check_huge_anon, check_huge_file, pagemap_get_pfn, proc_status_value

SOURCE = "tools/testing/selftests/mm/split_huge_page_test.c"
FIXTURE = None
SPLIT_DEBUGFS = "/sys/kernel/debug/split_huge_pages"
PMD_PAGESIZE = 2 << 20
PMD_ORDER = 9
NR_PAGES = PMD_PAGESIZE // PAGE_SIZE
KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_THP = 1 << 15, 1 << 16, 1 << 22
TMPFS_LOC = "/tmp/thp_split"  # split_file_backed_thp's tmpfs, huge=always,size=2*pmd_pagesize
TESTFILE = "/tmp/test"  # split_thp_in_pagecache_to_order_at's file, on the root file system (ext4)
MACHINE = {"mount": [{"path": TMPFS_LOC, "fs": "tmpfs", "size": 2 * PMD_PAGESIZE, "huge": "always"}]}


def write_debugfs(t: Ksft, value: str) -> None:
    """``write_debugfs(fmt, ...)``: a failed write ends the program."""
    try:
        t.machine.sysfs(SPLIT_DEBUGFS, value)
    except KernelError as err:
        t.exit_fail(f"write_file({SPLIT_DEBUGFS}): {err}")


def pid_fmt(pid: int, start: int, end: int, order: int, offset: int | None = None) -> str:
    """``PID_FMT`` (``PID_FMT_OFFSET`` with an in-folio offset)."""
    return f"{pid},{start:#x},{end:#x},{order}" + (f",{offset}" if offset is not None else "")


def pattern(i: int) -> int:
    """The value of page ``i`` (for the C program's ``(char)i``): never zero."""
    return i % 255 + 1


def fill(p, addr: int, length: int) -> None:
    for i in range(length // PAGE_SIZE):
        p.write(addr + i * PAGE_SIZE, PAGE_SIZE, stride=64, value=pattern(i))


def check_filled(t: Ksft, addr: int, length: int) -> None:
    data = t.process.read(addr, length, stride=PAGE_SIZE)
    for i, byte in enumerate(data):
        if byte != pattern(i):
            t.exit_fail(f"{i * PAGE_SIZE} byte corrupted")


def memalign_hugepage(t: Ksft, length: int) -> int:
    """``memalign(pmd_pagesize, len)`` and MADV_HUGEPAGE: a PMD-aligned anonymous range."""
    p = t.process
    raw = p.mmap(length + PMD_PAGESIZE, flags="private|anonymous")
    addr = (raw + PMD_PAGESIZE - 1) & ~(PMD_PAGESIZE - 1)
    p.madvise(addr, length, "hugepage")
    return addr


def rss_anon(t: Ksft) -> int:
    return proc_status_value(t.process, "RssAnon")


def pageflags_get(t: Ksft, pfn: int) -> int:
    return t.machine.kpageflags(pfn)[0]


def is_backed_by_folio(t: Ksft, vaddr: int, order: int) -> bool:
    """The page at ``vaddr`` belongs to a THP of exactly ``order`` (order 0: no compound page)."""
    pfn = pagemap_get_pfn(t.process, vaddr)
    if pfn == -1:
        return False
    flags = pageflags_get(t, pfn)
    if not order:
        return not flags & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL)
    if not flags & KPF_THP:
        return False
    head = pfn & ~((1 << order) - 1)
    if pageflags_get(t, head) & (KPF_THP | KPF_COMPOUND_HEAD) != KPF_THP | KPF_COMPOUND_HEAD:
        return False
    tail = KPF_THP | KPF_COMPOUND_TAIL
    if any(pageflags_get(t, head + i) & tail != tail for i in range(1, 1 << order)):
        return False
    return pageflags_get(t, head + (1 << order)) & tail != tail


def gather_after_split_folio_orders(t: Ksft, start: int, length: int, nr_orders: int) -> list[int]:
    """How many folios of each order back [start, start + length): order-0 pages each, a THP
    from its head over the tails that follow it (non-present pages skipped)."""
    orders = [0] * nr_orders
    vaddr = start
    while vaddr < start + length:
        pfn = pagemap_get_pfn(t.process, vaddr)
        flags = pageflags_get(t, pfn) if pfn != -1 else 0
        if pfn == -1 or not flags & KPF_THP and flags & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL):
            vaddr += PAGE_SIZE
            continue
        if not flags & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL):
            orders[0] += 1
            vaddr += PAGE_SIZE
            continue
        if not flags & KPF_COMPOUND_HEAD:
            vaddr += PAGE_SIZE
            continue
        order = 1
        while vaddr + (PAGE_SIZE << order) <= start + length:
            nxt = pagemap_get_pfn(t.process, vaddr + (PAGE_SIZE << order))
            nflags = pageflags_get(t, nxt) if nxt != -1 else 0
            if nxt == -1 or nflags & KPF_COMPOUND_HEAD or not nflags & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL):
                break
            order += 1
        if order < nr_orders:
            orders[order] += 1
        vaddr += PAGE_SIZE << order
    return orders


def check_after_split_folio_orders(t: Ksft, start: int, length: int, expected: list[int]) -> bool:
    got = gather_after_split_folio_orders(t, start, length, len(expected))
    for i, (want, have) in enumerate(zip(expected, got)):
        if want != have:
            t.print_msg(f"order {i}: expected: {want} got {have}")
    return got == expected


def test_split_pmd_zero_pages(t: Ksft) -> None:
    """Four zero-filled THPs split to order 0: the data reads zero, no AnonHugePages, and
    RssAnon falls (the zero-filled pages map the shared zeropage after the split)."""
    p, nr_hpages = t.process, 4
    length = nr_hpages * PMD_PAGESIZE
    addr = memalign_hugepage(t, length)
    p.write(addr, length, stride=64, value=0)
    if not check_huge_anon(p, addr, nr_hpages, PMD_PAGESIZE):
        t.exit_fail("No THP is allocated")
    before = rss_anon(t)
    if not before:
        t.exit_fail("No RssAnon is allocated before split")
    write_debugfs(t, pid_fmt(p.pid, addr, addr + length, 0))
    if any(p.read(addr, length, stride=64)):
        t.exit_fail("byte corrupted")
    if not check_huge_anon(p, addr, 0, PMD_PAGESIZE):
        t.exit_fail("Still AnonHugePages not split")
    after = rss_anon(t)
    if after >= before:
        t.exit_fail(f"Incorrect RssAnon value. Before: {before} After: {after}")
    t.test_result(True, "Split zero filled huge pages successful")


def split_pmd_thp_to_order(t: Ksft, order: int) -> None:
    p = t.process
    length = 4 * PMD_PAGESIZE
    addr = memalign_hugepage(t, length)
    fill(p, addr, length)
    if not check_huge_anon(p, addr, 4, PMD_PAGESIZE):
        t.exit_fail("No THP is allocated")
    write_debugfs(t, pid_fmt(p.pid, addr, addr + length, order))
    check_filled(t, addr, length)
    expected = [0] * (PMD_ORDER + 1)
    expected[order] = 4 << (PMD_ORDER - order)
    if not check_after_split_folio_orders(t, addr, length, expected):
        t.exit_fail("Unexpected THP split")
    if not check_huge_anon(p, addr, 0, PMD_PAGESIZE):
        t.exit_fail("Still AnonHugePages not split")
    t.test_result(True, f"Split huge pages to order {order} successful")
    p.munmap(addr, length)


def test_split_pmd_thp_to_order(t: Ksft) -> None:
    """Four THPs split to each order from 0 to 8 but 1 (no order-1 anonymous folios): the
    data stays and every folio of the range has that order."""
    for order in range(PMD_ORDER):
        if order != 1:
            split_pmd_thp_to_order(t, order)


def test_split_pte_mapped_thp(t: Ksft) -> None:
    """Page i of THP i mremap'ed to a small area (the PMDs become ptes, the THPs stay whole),
    then split through those single pages: each is order 0 afterwards, data intact."""
    p, nr_thps = t.process, 4
    thp_area_size, page_area_size = nr_thps * PMD_PAGESIZE, nr_thps * PAGE_SIZE
    thp_area = p.mmap(thp_area_size, flags="private|anonymous", addr=1 << 30)
    p.madvise(thp_area, thp_area_size, "hugepage")
    fill(p, thp_area, thp_area_size)
    if not check_huge_anon(p, thp_area, nr_thps, PMD_PAGESIZE):
        t.test_result_skip("Not all THPs allocated")
        return
    page_area = p.mmap(page_area_size, flags="private|anonymous")
    for i in range(nr_thps):
        p.mremap(thp_area + PMD_PAGESIZE * i + PAGE_SIZE * i, PAGE_SIZE, PAGE_SIZE, maymove=True,
                 fixed=page_area + PAGE_SIZE * i)
    for i in range(nr_thps):
        if not is_backed_by_folio(t, page_area + i * PAGE_SIZE, PMD_ORDER):
            t.test_result(False, f"THP {i} missing after mremap")
            return
    write_debugfs(t, pid_fmt(p.pid, page_area, page_area + page_area_size, 0))
    data = p.read(page_area, page_area_size, stride=PAGE_SIZE)
    for i in range(nr_thps):
        if data[i] != pattern(i * (NR_PAGES + 1)):
            t.test_result(False, f"{i * PAGE_SIZE} byte corrupted")
            return
    for i in range(nr_thps):
        if not is_backed_by_folio(t, page_area + i * PAGE_SIZE, 0):
            t.test_result(False, f"THP {i} not split")
    t.test_result(True, "Split PTE-mapped huge pages successful")


def split_file_backed_thp(t: Ksft, order: int) -> None:
    """A PMD-size write to a file of the huge=always tmpfs makes one PMD-size folio; split
    through the file form of the debugfs file, the file reads back the same."""
    p, m = t.process, t.machine
    t.print_msg("Please enable pr_debug in split_huge_pages_in_file() for more info.")
    testfile = f"{TMPFS_LOC}/thp_file"
    fd = p.open(testfile, "rw", create=True)
    fill_file(p, fd, PMD_PAGESIZE)
    write_debugfs(t, f"{testfile},{0:#x},{1024:#x},{order}")
    if p.pread(fd, PMD_PAGESIZE, 0)[::PAGE_SIZE >> 6] != bytes(pattern(i) for i in range(NR_PAGES)):
        t.print_msg("File content changed")
        t.exit_fail("Error occurred")
    p.close(fd)
    m.unlink(testfile)
    t.print_msg("Please check dmesg for more information")
    t.test_result(True, f"File-backed THP split to order {order} test done")


def fill_file(p, fd: int, length: int) -> None:
    """The file's page ``i`` holds ``pattern(i)`` (written a page at a time)."""
    for i in range(length // PAGE_SIZE):
        p.pwrite(fd, PAGE_SIZE, i * PAGE_SIZE, value=pattern(i))


def test_split_file_backed_thp(t: Ksft) -> None:
    """One tmpfs THP split to each order from 0 to 8 (a file folio may be order 1)."""
    for order in range(PMD_ORDER):
        split_file_backed_thp(t, order)


def write_testfile(t: Ksft, testfile: str, fd_size: int) -> None:
    """The first half of ``create_pagecache_thp_and_fd``: the file written and written back
    (the C program's ``sync()``). Every call writes the same bytes, so the port writes them
    once per case and each call starts from the file dropped from the cache."""
    p = t.process
    fd = p.open(testfile, "rw", create=True)
    fill_file(p, fd, fd_size)
    p.fsync(fd)
    p.close(fd)


def create_pagecache_thp_and_fd(t: Ksft, testfile: str, fd_size: int) -> tuple[int, int] | None:
    """``create_pagecache_thp_and_fd`` from the drop_caches on: the file mapped shared with
    MADV_HUGEPAGE and read once per PMD, which reads it in as PMD-size folios mapped by PMDs
    (``check_huge_file``). (fd, address), or None (skipped) when no large folio came."""
    p, m = t.process, t.machine
    m.sysctl("vm.drop_caches", 3)
    fd = p.open(testfile, "rw")
    addr = p.mmap(fd_size, "rw", "shared", fd=fd)
    p.madvise(addr, fd_size, "hugepage")
    for i in range(fd_size // PMD_PAGESIZE):  # force_read_pages
        p.read(addr + i * PMD_PAGESIZE, 1)
    if not check_huge_file(p, addr, fd_size // PMD_PAGESIZE, PMD_PAGESIZE):
        t.print_msg("No large pagecache folio generated, please provide a filesystem supporting large folio")
        p.munmap(addr, fd_size)
        p.close(fd)
        t.test_result_skip("Pagecache folio split skipped")
        return None
    return fd, addr


def split_thp_in_pagecache_to_order_at(t: Ksft, fd_size: int, order: int, offset: int) -> None:
    """Each PMD-mapped page-cache THP split through its first page (the debugfs walk goes
    page by page; one page splits one folio): to ``order`` everywhere (``offset`` -1), or
    non-uniformly around ``offset`` (one folio of each order from ``order + 1`` to 8 and two of
    ``order`` per THP). The file's data stays, the folio orders are the expected ones
    (the reads fault the pages back in: a split page-cache folio is unmapped), and no PMD
    maps the file any more."""
    p = t.process
    created = create_pagecache_thp_and_fd(t, TESTFILE, fd_size)
    if created is None:
        return
    fd, addr = created
    expected = [0] * (PMD_ORDER + 1)
    for split_addr in range(addr, addr + fd_size, PMD_PAGESIZE):
        write_debugfs(t, pid_fmt(p.pid, split_addr, split_addr + PAGE_SIZE, order, None if offset == -1 else offset))
    if offset == -1:
        expected[order] = fd_size // (PAGE_SIZE << order)
    else:
        times = fd_size // PMD_PAGESIZE
        for i in range(order + 1, PMD_ORDER):
            expected[i] = times
        expected[order] = 2 * times
    err = False
    data = p.read(addr, fd_size, stride=PAGE_SIZE)
    for i, byte in enumerate(data):
        if byte != pattern(i):
            t.print_msg(f"{i * PAGE_SIZE} byte corrupted in the file")
            err = True
            break
    if not err and not check_after_split_folio_orders(t, addr, fd_size, expected):
        t.print_msg("Unexpected THP split")
        err = True
    if not err and not check_huge_file(p, addr, 0, PMD_PAGESIZE):
        t.print_msg("Still FilePmdMapped not split")
        err = True
    p.munmap(addr, fd_size)
    p.close(fd)
    at = f" at in-folio offset {offset}" if offset != -1 else ""
    if err:
        t.exit_fail(f"Split PMD-mapped pagecache folio to order {order}{at} failed")
    t.test_result(True, f"Split PMD-mapped pagecache folio to order {order}{at} passed")


def test_split_thp_in_pagecache_to_order_at(t: Ksft) -> None:
    """The C program's calls, by order and in-folio offset (-1: a uniform split), on a file
    of two PMD-size folios."""
    fd_size = 2 * PMD_PAGESIZE
    write_testfile(t, TESTFILE, fd_size)
    for order in range(PMD_ORDER - 1, -1, -1):
        split_thp_in_pagecache_to_order_at(t, fd_size, order, -1)
    for order in range(PMD_ORDER):
        for offset in range(0, NR_PAGES, max(NR_PAGES // 4, 1 << order)):
            split_thp_in_pagecache_to_order_at(t, fd_size, order, offset)
    t.machine.unlink(TESTFILE)
