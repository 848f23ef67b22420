"""Long-term GUP pins (``mm/gup.py``) through the GUP test driver (``mm/gup_test.py``).

The host oracle is ``tests/data/host-linux-6.18/gup_probe.txt`` (``tests/probe/gup_probe.c``:
io_uring fixed-buffer registration, a FOLL_WRITE|FOLL_LONGTERM ``pin_user_pages_fast``, over
one page of each kind, with the ``nr_foll_pin_acquired``/``_released`` deltas after
``stat_refresh``). ``PIN_LONGTERM_TEST_START`` with ``write=True, fast=True`` takes the same
pins; io_uring then keeps one pin per folio (a THP's 511 others are dropped at once), which
the driver does not, so only the THP's acquired count is compared.
"""

import errno
import re

import pytest

from conftest import HOST_SNAP
from linuxmm import debug
from linuxmm.errors import KernelError
from linuxmm.include.linux.mm_types import GUP_PIN_COUNTING_BIAS
from linuxmm.include.linux.page_flags import PG_referenced_mask
from linuxmm.kernel.timer import GUP_PAGE_NS, UNPIN_PAGE_NS
from linuxmm.kselftest.ksft import selftest_machine

PAGE, THP = 4096, 2 << 20
PROBE = re.compile(r"(?P<case>[^:]+): register (?P<err>\w+) acquired \+(?P<acq>\d+) released \+(?P<rel>\d+); "
                   r"unregister released \+(?P<unrel>\d+)")


def host_probe() -> dict[str, tuple[str, int, int]]:
    lines = (HOST_SNAP / "gup_probe.txt").read_text().splitlines()[1:]
    return {m["case"]: (m["err"], int(m["acq"]), int(m["rel"])) for m in map(PROBE.fullmatch, lines)}


@pytest.fixture
def machine():
    """A machine per test: the driver's pins are system-wide, a failed test must not leave
    them to the next."""
    return selftest_machine()


def pins(m) -> tuple[int, int]:
    stat = dict(line.split() for line in m.proc("/proc/vmstat").splitlines())
    return int(stat["nr_foll_pin_acquired"]), int(stat["nr_foll_pin_released"])


def _file(p, kind: str) -> int:
    if kind == "memfd":
        return p.memfd_create("test", 0)
    fd = p.open("/gup-probe", "rw", create=True, truncate=True)
    p.machine.unlink("/gup-probe")
    return fd


def _probe_mapping(p, case: str) -> tuple[int, int]:
    """The mapping ``gup_probe.c`` registers for ``case``: (address, length)."""
    if case.startswith("anon THP"):
        big = p.mmap(2 * THP)
        mem = (big + THP) & ~(THP - 1)
        p.madvise(mem, THP, "hugepage")
        p.write(mem, THP, value=1)
        return mem, THP
    if case.startswith("anon"):
        mem = p.mmap(PAGE, "r" if "PROT_READ" in case else "rw")
        if "written" in case:
            p.write(mem, PAGE, value=1)
        return mem, PAGE
    fd = _file(p, case.split()[0])
    p.ftruncate(fd, PAGE)
    p.fallocate(fd, 0, PAGE)
    mem = p.mmap(PAGE, "rw", "shared" if "MAP_SHARED" in case else "private", fd=fd)
    p.write(mem, PAGE, value=0)
    return mem, PAGE


@pytest.mark.parametrize("case", list(host_probe()))
def test_writable_longterm_fast_pin_like_the_host(machine, case):
    """The errno of a FOLL_WRITE|FOLL_LONGTERM pin_user_pages_fast and the pin counters it
    moves: GUP-fast grabs an ext4 page of a shared mapping, finds it not allowed, drops it
    (+1/+1), and the slow path refuses it (EFAULT)."""
    err, acquired, released = host_probe()[case]
    p = machine.spawn()
    mem, size = _probe_mapping(p, case)
    before = pins(machine)
    try:
        p.gup_test("PIN_LONGTERM_TEST_START", mem, size, write=True, fast=True)
        got = "0"
    except KernelError as e:
        got = errno.errorcode[e.errno]
    after = pins(machine)
    p.exit()  # the driver's file closes: its pins go
    assert got == err
    assert after[0] - before[0] == acquired
    if size == PAGE:
        assert after[1] - before[1] == released
    assert pins(machine)[0] == pins(machine)[1]
    assert debug.check(machine.kernel) == []


def _refs(m, p, addr) -> tuple[int, int]:
    a = m.kernel.mem_map
    pfn = p.walk(addr).phys >> 12
    head = int(a.compound_head[pfn]) - 1 if a.compound_head[pfn] else pfn
    return int(a.refcount[head]), int(a.pincount[head])


def test_pin_weight_small_and_large_folio(machine):
    """try_grab_folio: GUP_PIN_COUNTING_BIAS per pin of a small folio, one (and one
    ``_pincount``) per pinned page of a large one; unpinning gives them back."""
    p = machine.spawn()
    small = p.mmap(PAGE)
    p.write(small, PAGE)
    big = p.mmap(2 * THP)
    thp = (big + THP) & ~(THP - 1)
    p.madvise(thp, THP, "hugepage")
    p.write(thp, THP)
    (ref0, _), (tref0, _) = _refs(machine, p, small), _refs(machine, p, thp)
    p.gup_test("PIN_LONGTERM_TEST_START", small, PAGE)
    assert _refs(machine, p, small) == (ref0 + GUP_PIN_COUNTING_BIAS, 1)
    p.gup_test("PIN_LONGTERM_TEST_STOP")
    p.gup_test("PIN_LONGTERM_TEST_START", thp, THP, fast=True)
    assert _refs(machine, p, thp) == (tref0 + 512, 512)
    p.gup_test("PIN_LONGTERM_TEST_STOP")
    assert _refs(machine, p, small) == (ref0, 0) and _refs(machine, p, thp) == (tref0, 0)
    p.exit()


@pytest.mark.parametrize("fast", [False, True])
def test_ro_pin_unshares_a_cow_shared_page(machine, fast):
    """A R/O long-term pin of a page COW-shared with a child unshares it (FAULT_FLAG_UNSHARE):
    the parent gets its own copy, still mapped read-only, and the pin holds that copy, so
    the parent's next write (a reuse, not a copy) shows through the pin."""
    p = machine.spawn()
    mem = p.mmap(PAGE)
    p.write(mem, PAGE, stride=64, value=5)
    child = p.fork()
    shared = p.walk(mem).phys
    p.gup_test("PIN_LONGTERM_TEST_START", mem, PAGE, fast=fast)
    assert p.walk(mem).phys != shared and child.walk(mem).phys == shared
    assert "rw" not in p.walk(mem).leaf.flags  # unsharing keeps the entry read-only
    p.write(mem, PAGE, stride=64, value=9)
    assert p.gup_test("PIN_LONGTERM_TEST_READ") == bytes([9]) * 64 == p.read(mem, PAGE, stride=64)
    assert child.read(mem, PAGE, stride=64) == bytes([5]) * 64
    p.gup_test("PIN_LONGTERM_TEST_STOP")
    child.exit()
    p.exit()


def test_ro_pin_of_the_zero_page_in_a_private_mapping(machine):
    """gup_must_unshare: a long-term R/O pin in a COW mapping never holds the shared zero
    page: it is unshared into an anonymous page of zeros."""
    p = machine.spawn()
    mem = p.mmap(PAGE)
    p.read(mem, PAGE)
    zero = p.walk(mem).phys
    p.gup_test("PIN_LONGTERM_TEST_START", mem, PAGE)
    assert p.walk(mem).phys != zero
    assert p.gup_test("PIN_LONGTERM_TEST_READ") == bytes(64)
    p.exit()


def test_pinned_page_outlives_its_mapping_until_unpinned(machine):
    """munmap drops the mapping's reference, the pin keeps the page; STOP frees it."""
    p = machine.spawn()
    mem = p.mmap(PAGE)
    p.write(mem, PAGE, stride=64, value=3)
    pfn = p.walk(mem).phys >> 12
    p.gup_test("PIN_LONGTERM_TEST_START", mem, PAGE, write=True)
    p.munmap(mem, PAGE)
    a = machine.kernel.mem_map
    assert a.refcount[pfn] == GUP_PIN_COUNTING_BIAS
    assert p.gup_test("PIN_LONGTERM_TEST_READ") == bytes([3]) * 64
    p.gup_test("PIN_LONGTERM_TEST_STOP")
    assert a.refcount[pfn] == 0
    assert debug.check(machine.kernel) == []
    p.exit()


@pytest.mark.parametrize("args, err", [
    ((1, PAGE), errno.EINVAL),  # not page-aligned
    ((0, 0), errno.EINVAL),  # empty
    ((0, -PAGE), errno.EINVAL),  # a __u64 size above LONG_MAX
    ((PAGE, PAGE), errno.EFAULT),  # nothing mapped there
])
def test_pin_longterm_test_start_errnos(machine, args, err):
    p = machine.spawn()
    with pytest.raises(KernelError) as e:
        p.gup_test("PIN_LONGTERM_TEST_START", *args)
    assert e.value.errno == err
    p.exit()


def test_driver_state_errnos(machine):
    """One set of pins at a time; READ needs one; unknown commands are EINVAL, so is a
    benchmark's range that overflows; a write pin of a R/O mapping EFAULT."""
    p = machine.spawn()
    mem = p.mmap(PAGE)
    ro = p.mmap(PAGE, "r")
    codes = {}
    for name, call in [("read", lambda: p.gup_test("PIN_LONGTERM_TEST_READ")),
                       ("bogus", lambda: p.gup_test("PIN_SOMETHING")),
                       ("bench", lambda: p.gup_test("PIN_FAST_BENCHMARK", -PAGE, 2 * PAGE)),
                       ("ro write", lambda: p.gup_test("PIN_LONGTERM_TEST_START", ro, PAGE, write=True))]:
        with pytest.raises(KernelError) as e:
            call()
        codes[name] = e.value.errno
    p.gup_test("PIN_LONGTERM_TEST_START", mem, PAGE, write=True)
    with pytest.raises(KernelError) as e:
        p.gup_test("PIN_LONGTERM_TEST_START", mem, PAGE)
    codes["twice"] = e.value.errno
    p.exit()
    assert codes == {"read": errno.EINVAL, "bogus": errno.EINVAL, "bench": errno.EINVAL,
                     "ro write": errno.EFAULT, "twice": errno.EINVAL}


@pytest.mark.parametrize("size", [PAGE, THP])
def test_fork_copies_a_pinned_page(machine, size):
    """copy_present_page: fork gives the child its own copy of an exclusive anonymous page
    that may be pinned (folio_needs_cow_for_dma) and leaves the parent's entry writable, so
    the parent's write after fork lands in the pinned page, not in a COW copy; a pinned THP's
    pmd is split first and its pages copied one by one."""
    p = machine.spawn()
    big = p.mmap(2 * size)
    mem = (big + size) & ~(size - 1)
    p.madvise(mem, size, "hugepage" if size == THP else "nohugepage")
    p.write(mem, size, stride=64, value=1)
    assert p.walk(mem).page_size == size
    p.gup_test("PIN_LONGTERM_TEST_START", mem, size, write=True, fast=True)
    pinned = p.walk(mem).phys
    child = p.fork()
    assert child.walk(mem).phys != pinned and p.walk(mem).phys == pinned
    assert "rw" in p.walk(mem).leaf.flags and p.walk(mem).page_size == PAGE
    p.write(mem, size, stride=64, value=2)
    assert p.walk(mem).phys == pinned
    assert p.gup_test("PIN_LONGTERM_TEST_READ") == bytes([2]) * (64 * (size // PAGE))
    assert child.read(mem, size, stride=64) == bytes([1]) * (64 * (size // PAGE))
    p.gup_test("PIN_LONGTERM_TEST_STOP")
    child.exit()
    p.exit()
    assert debug.check(machine.kernel) == []


def test_longterm_pin_of_movable_pages_fails_without_migration():
    """folio_is_longterm_pinnable: a page in ZONE_MOVABLE may not stay pinned long-term. The
    kernel would migrate it (check_and_migrate_movable_folios); page migration is not
    simulated, so the pin fails as when migration fails: ENOMEM, every pin taken dropped."""
    from conftest import small_machine

    m = small_machine("movablecore=200M")  # the user pages come from ZONE_MOVABLE
    p = m.spawn()
    mem = p.mmap(64 * PAGE)
    p.write(mem, 64 * PAGE)
    for fast in (False, True):
        with pytest.raises(KernelError) as e:
            p.gup_test("PIN_LONGTERM_TEST_START", mem, 64 * PAGE, fast=fast)
        assert e.value.errno == errno.ENOMEM
    acquired, released = pins(m)
    assert acquired == released == 2 * 64  # each time the slow path pinned all 64 and dropped them
    # (GUP-fast takes none: try_grab_folio_fast refuses an unpinnable folio)
    assert debug.check(m.kernel) == []


# ---- the driver's benchmark and basic-test commands (__gup_test_ioctl) ---------------------------

def _thp_and_page(p) -> tuple[int, int]:
    """A PMD-mapped THP and, right after it, one base page of its own VMA."""
    big = p.mmap(2 * THP)
    mem = (big + THP) & ~(THP - 1)
    p.madvise(mem, THP, "hugepage")
    p.write(mem, THP)
    page = p.mmap(PAGE)
    p.write(page, PAGE)
    return mem, page


@pytest.mark.parametrize("cmd", ["GUP_FAST_BENCHMARK", "GUP_BASIC_TEST"])
def test_foll_get_takes_references_not_pins(machine, cmd):
    """FOLL_GET: one page reference each, no pin counted; put_page gives them back. GUP_BASIC
    (get_user_pages, FOLL_TOUCH) marks a pte-mapped page accessed, GUP-fast does not. The
    driver times both halves on the simulated clock: GUP's cost per page."""
    p = machine.spawn()
    mem, page = _thp_and_page(p)
    before = pins(machine), _refs(machine, p, mem), _refs(machine, p, page)
    a = machine.kernel.mem_map
    pfn = p.walk(page).phys >> 12
    a.flags[pfn] &= ~PG_referenced_mask
    for addr, size in ((mem, THP), (page, PAGE)):
        gup = p.gup_test(cmd, addr, size, nr_pages_per_call=64)
        nr = size // PAGE  # the cost model's time per page (tests/data/host-linux-6.18/gup_cost_probe.txt)
        assert (gup.size, gup.get_delta_usec, gup.put_delta_usec) == \
            (size, nr * GUP_PAGE_NS // 1000, nr * UNPIN_PAGE_NS // 1000)
    assert (pins(machine), _refs(machine, p, mem), _refs(machine, p, page)) == before
    assert bool(a.flags[pfn] & PG_referenced_mask) == (cmd == "GUP_BASIC_TEST")
    assert debug.check(machine.kernel) == []
    p.exit()


@pytest.mark.parametrize("cmd", ["PIN_FAST_BENCHMARK", "PIN_BASIC_TEST", "PIN_LONGTERM_BENCHMARK"])
def test_pin_benchmarks_count_pins(machine, cmd):
    """The pinning commands pin every page (nr_foll_pin_acquired grows by the pages, a THP's
    512 included) and unpin them before returning (as many released); no WARN."""
    p = machine.spawn()
    mem, page = _thp_and_page(p)
    acquired, released = pins(machine)
    p.gup_test(cmd, mem, THP, nr_pages_per_call=123)
    p.gup_test(cmd, page, PAGE)
    assert pins(machine) == (acquired + 513, released + 513)
    assert "NOT" not in machine.dmesg()
    p.exit()


def test_gup_test_stops_at_the_first_short_call(machine):
    """A call that returns fewer pages than asked ends the loop, after its chunk counted as
    covered (``size``); a call that fails covers nothing: the hole at page 3. FOLL_LONGTERM
    without a pin (GUP_BASIC_TEST) is refused by is_valid_gup_args, so nothing is covered,
    and the ioctl still succeeds."""
    p = machine.spawn()
    mem = p.mmap(8 * PAGE)
    p.write(mem, 8 * PAGE)
    p.munmap(mem + 3 * PAGE, PAGE)
    assert p.gup_test("GUP_FAST_BENCHMARK", mem, 8 * PAGE, nr_pages_per_call=2).size == 4 * PAGE
    assert p.gup_test("PIN_BASIC_TEST", mem, 8 * PAGE).size == 3 * PAGE
    assert p.gup_test("GUP_BASIC_TEST", mem, 8 * PAGE, gup_flags=0x100).size == 0  # FOLL_LONGTERM
    p.exit()


def test_dump_user_pages_test_prints_dump_page(machine):
    """DUMP_USER_PAGES_TEST: dump_page of each page asked (1-based numbers; one out of range
    is zeroed with a warning), as 6.18's __dump_folio prints a PMD-mapped anonymous THP's
    subpage: the folio's refcount with the driver's 512 references, the page's own mapcount
    (0: only the PMD maps it), its index and pfn; the folio's order and mapcounts; its flags
    (uptodate from ``vma_alloc_anon_folio_pmd``'s ``__folio_mark_uptodate``) with node, zone
    and the reset last cpupid packed above them."""
    p = machine.spawn()
    mem, page = _thp_and_page(p)
    pfn = p.walk(mem + 19 * PAGE).phys >> 12
    machine.kernel.log.lines.clear()
    gup = p.gup_test("DUMP_USER_PAGES_TEST", mem, THP, write=True, which_pages=(20, 600))
    assert gup.size == THP
    assert machine.dmesg().splitlines() == [
        "ZEROING due to out of range: .which_pages[1]: 600",
        f"---- page #19, starting from user virt addr: {mem:#x}",
        f"page: refcount:513 mapcount:0 mapping:0000000000000000 index:{(mem >> 12) + 19:#x} pfn:{pfn:#x}",
        "head: order:9 mapcount:1 entire_mapcount:1 nr_pages_mapped:0 pincount:0",
        "anon flags: 0xffff800020868(uptodate|lru|owner_2|head|swapbacked|node=0|zone=1|lastcpupid=0xffff)",
        "page dumped because: gup_test: dump_pages() test"]
    machine.kernel.log.lines.clear()
    refs = _refs(machine, p, page)[0]  # the mapping's, and the lru_add batch's while the page waits there
    p.gup_test("DUMP_USER_PAGES_TEST", page, PAGE, test_flags=1, which_pages=(1,))  # pinned: the bias
    assert machine.dmesg().splitlines()[1].startswith(f"page: refcount:{refs + GUP_PIN_COUNTING_BIAS} mapcount:1 ")
    p.exit()


@pytest.mark.parametrize("kwargs", [{"nr_pages_per_call": -1}, {"gup_flags": 1 << 32},
                                    {"which_pages": tuple(range(1, 10))}, {"test_flags": "pin"}])
def test_gup_test_struct_fields_are_u32(machine, kwargs):
    p = machine.spawn()
    with pytest.raises(KernelError) as e:
        p.gup_test("GUP_BASIC_TEST", 0, PAGE, **kwargs)
    assert e.value.errno == errno.EINVAL


@pytest.mark.parametrize("death", ["oom_kill", "sigsegv"])
def test_pins_go_when_the_pinner_dies(death):
    """The pins live in the driver's file, which the process's exit closes (``gup_test_release``
    unpins them), however it dies: OOM-killed or by a signal, as an exit. The pinned pages are
    freed then: nr_foll_pin_released catches up with nr_foll_pin_acquired."""
    from conftest import small_machine
    from linuxmm import Killed, SegmentationFault

    m = small_machine()
    p = m.spawn(comm="pinner")
    mem = p.mmap(16 * PAGE)
    p.write(mem, 16 * PAGE, value=5)
    pfns = [p.walk(mem + i * PAGE).phys >> 12 for i in range(16)]
    p.gup_test("PIN_LONGTERM_TEST_START", mem, 16 * PAGE, write=True)
    acquired, released = pins(m)
    assert acquired - released == 16
    if death == "oom_kill":
        p.oom_score_adj = 1000
        size = 512 << 20  # more than the 384 MiB machine holds
        hog = p.mmap(size, flags="private|anonymous|noreserve")
        with pytest.raises(Killed):
            p.write(hog, size)
    else:
        with pytest.raises(SegmentationFault):
            p.write(0, PAGE)
    assert not p.alive and m.kernel.pin_longterm_test_pages is None
    assert pins(m) == (acquired, acquired)
    assert (m.kernel.mem_map.refcount[pfns] == 0).all()
    assert debug.check(m) == []
