"""``mlock2-tests.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

mlock2() with and without MLOCK_ONFAULT, munlock(), mlockall() with MCL_CURRENT,
MCL_FUTURE and MCL_ONFAULT, and munlockall(), checked the way the C program checks them:
through ``/proc/PID/smaps`` (``lo`` in VmFlags; Rss equal to Size when everything was
faulted in, below it when locking waits for faults) and ``/proc/PID/maps`` (VMAs split by a
partial munlock and merged again by a full one). MAP_DROPPABLE memory takes no lock, from
mlock2() or from MCL_FUTURE. Where the C program reports a failed step and carries on, the
port reports it and stops the case.
"""

from __future__ import annotations

from .ksft import Ksft
from .vm_util import check_vmflag, get_value_for_name, get_vm_area

SOURCE = "tools/testing/selftests/mm/mlock2-tests.c"
FIXTURE = None
PAGE_SIZE = 4096
LOCKED = "lo"


def is_vma_lock_on_fault(p, addr: int) -> bool:
    """Locked, and only part of the VMA faulted in."""
    if not check_vmflag(p, addr, LOCKED):
        return False
    return get_value_for_name(p, addr, "Rss:") < get_value_for_name(p, addr, "Size:")


def lock_check(p, addr: int) -> bool:
    """Locked, and every page of the VMA faulted in."""
    if not check_vmflag(p, addr, LOCKED):
        return False
    return get_value_for_name(p, addr, "Rss:") == get_value_for_name(p, addr, "Size:")


def unlock_lock_check(t: Ksft, addr: int, mlock_supported: bool) -> bool:
    """True (a failure) when the VMA still shows ``lo``."""
    if not check_vmflag(t.process, addr, LOCKED):
        return False
    t.print_msg(f"VMA flag {LOCKED} is present on page 1 after unlock" if mlock_supported
                else f"VMA flag {LOCKED} is present on an unsupported VMA")
    return True


def onfault_check(t: Ksft, addr: int) -> bool:
    """Touch the first page: the VMA must be lock-on-fault (True is a failure)."""
    t.process.write(addr, 1, value=ord("a"))
    if not is_vma_lock_on_fault(t.process, addr):
        t.print_msg("VMA is not marked for lock on fault")
        return True
    return False


def unlock_onfault_check(t: Ksft, addr: int) -> bool:
    p = t.process
    if is_vma_lock_on_fault(p, addr) or is_vma_lock_on_fault(p, addr + PAGE_SIZE):
        t.print_msg("VMA is still lock on fault after unlock")
        return True
    return False


def test_mlock_lock(t: Ksft) -> None:
    p = t.process
    map_ = p.mmap(2 * PAGE_SIZE)
    p.mlock2(map_, 2 * PAGE_SIZE)
    t.test_result(lock_check(p, map_), "test_mlock_lock: Locked")
    p.munlock(map_, 2 * PAGE_SIZE)
    t.test_result(not unlock_lock_check(t, map_, True), "test_mlock_lock: Unlocked")
    p.munmap(map_, 2 * PAGE_SIZE)


def test_mlock_onfault(t: Ksft) -> None:
    p = t.process
    map_ = p.mmap(2 * PAGE_SIZE)
    p.mlock2(map_, 2 * PAGE_SIZE, onfault=True)
    t.test_result(not onfault_check(t, map_), "test_mlock_onfault: VMA marked for lock on fault")
    p.munlock(map_, 2 * PAGE_SIZE)
    t.test_result(not unlock_onfault_check(t, map_), "VMA open lock after fault")
    p.munmap(map_, 2 * PAGE_SIZE)


def test_munlockall0(t: Ksft) -> None:
    p = t.process
    map_ = p.mmap(2 * PAGE_SIZE)
    p.mlockall("current")
    t.test_result(lock_check(p, map_), "test_munlockall0: Locked memory area")
    p.munlockall()
    t.test_result(not unlock_lock_check(t, map_, True), "test_munlockall0: No locked memory")
    p.munmap(map_, 2 * PAGE_SIZE)


def test_munlockall1(t: Ksft) -> None:
    p = t.process
    map_ = p.mmap(2 * PAGE_SIZE)
    p.mlockall("current|onfault")
    t.test_result(not onfault_check(t, map_), "test_munlockall1: VMA marked for lock on fault")
    p.munlockall()
    t.test_result(not unlock_onfault_check(t, map_), "test_munlockall1: Unlocked")
    p.mlockall("current|future")
    t.test_result(lock_check(p, map_), "test_munlockall1: Locked")
    p.munlockall()
    t.test_result(not unlock_lock_check(t, map_, True), "test_munlockall1: No locked memory")
    p.munmap(map_, 2 * PAGE_SIZE)


def test_lock_onfault_of_present(t: Ksft) -> None:
    p = t.process
    map_ = p.mmap(2 * PAGE_SIZE)
    p.write(map_, 1, value=ord("a"))
    p.mlock2(map_, 2 * PAGE_SIZE, onfault=True)
    t.test_result(is_vma_lock_on_fault(p, map_) or is_vma_lock_on_fault(p, map_ + PAGE_SIZE),
                  "VMA with present pages is not marked lock on fault")
    p.munmap(map_, 2 * PAGE_SIZE)


def _three_areas(p, map_: int) -> list[tuple[int, int] | None]:
    return [get_vm_area(p, map_ + i * PAGE_SIZE) for i in range(3)]


def test_vma_management(t: Ksft, call_mlock: bool = True) -> None:
    """munlock() of the middle page splits a locked VMA in three; munlock() of all of it
    merges them back."""
    p = t.process
    map_ = p.mmap(3 * PAGE_SIZE)
    if call_mlock:
        p.mlock2(map_, 3 * PAGE_SIZE, onfault=True)
    page1, page2, page3 = _three_areas(p, map_)
    if None in (page1, page2, page3) or not page1[0] == page2[0] == page3[0]:
        return t.test_result(False, "VMAs are not merged to start, aborting test")
    p.munlock(map_ + PAGE_SIZE, PAGE_SIZE)
    page1, page2, page3 = _three_areas(p, map_)
    if page1[0] == page2[0] or page2[0] == page3[0]:
        return t.test_result(False, "failed to split VMA for munlock")
    p.munlock(map_, 3 * PAGE_SIZE)
    page1, page2, page3 = _three_areas(p, map_)
    if not page1[0] == page2[0] == page3[0]:
        return t.test_result(False, "failed to merge VMAs after munlock")
    t.test_result(True, f"test_vma_management call_mlock {int(call_mlock)}")
    p.munmap(map_, 3 * PAGE_SIZE)


def test_mlockall(t: Ksft) -> None:
    t.process.mlockall("current|onfault|future")
    test_vma_management(t, call_mlock=False)
    t.process.munlockall()


def test_mlock_droppable(t: Ksft) -> None:
    """Droppable memory is not lockable."""
    p = t.process
    p.munlockall()  # MCL_FUTURE is not set
    map_ = p.mmap(2 * PAGE_SIZE, flags="anonymous|droppable")
    p.mlock2(map_, 2 * PAGE_SIZE)
    t.test_result(not unlock_lock_check(t, map_, False), "test_mlock_droppable: droppable memory not locked")
    p.munmap(map_, 2 * PAGE_SIZE)


def test_mlockall_future_droppable(t: Ksft) -> None:
    p = t.process
    p.mlockall("current|future")
    map_ = p.mmap(2 * PAGE_SIZE, flags="anonymous|droppable")
    t.test_result(not unlock_lock_check(t, map_, False),
                  "test_mlockall_future_droppable: droppable memory not locked")
    p.munlockall()
    p.munmap(map_, 2 * PAGE_SIZE)
