"""``mlock-random-test.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

With RLIMIT_MEMLOCK set to 256 KiB and no CAP_IPC_LOCK, 100 mlock()/mlock2(MLOCK_ONFAULT)
calls on random sub-ranges (unaligned starts and lengths) of a 128 KiB chunk must all
succeed and leave VmLck within the chunk (pages locked twice count once:
``count_mm_mlocked_page_nr``); on a 384 KiB chunk, 100 calls of at least the limit must all
fail and lock nothing. The C program seeds rand() with the time; the port draws from a
seeded generator so a run repeats. ``malloc`` of these sizes is an mmap in glibc (they reach
its 128 KiB mmap threshold), which is what the port maps.
"""

from __future__ import annotations

import random

from .ksft import Ksft, syscall_errno
from .vm_util import get_value_for_name, proc_status_value

SOURCE = "tools/testing/selftests/mm/mlock-random-test.c"
FIXTURE = None
CHUNK_UNIT = 128 * 1024
MLOCK_RLIMIT_SIZE = CHUNK_UNIT * 2
MLOCK_WITHIN_LIMIT_SIZE = CHUNK_UNIT
MLOCK_OUTOF_LIMIT_SIZE = CHUNK_UNIT * 3
TEST_LOOP = 100
SEED = 1


def PAGE_ALIGN(size: int, ps: int) -> int:
    return (size + ps - 1) & ~(ps - 1)


def set_cap_limits(t: Ksft, limit: int) -> None:
    """RLIMIT_MEMLOCK soft and hard to ``limit``; the process holds no capability."""
    t.process.setrlimit("RLIMIT_MEMLOCK", limit, limit)


def _lock(p, rng: random.Random, start: int, length: int) -> tuple[str, int]:
    if rng.randrange(2):
        return "mlock", syscall_errno(p.mlock, start, length)
    return "mlock2", syscall_errno(p.mlock2, start, length, onfault=True)


def _test_mlock_within_limit(t: Ksft, ptr: int, alloc_size: int) -> None:
    p, rng = t.process, random.Random(SEED)
    if p.getrlimit("RLIMIT_MEMLOCK")[0] < alloc_size:
        t.exit_fail(f"alloc_size[{alloc_size}] < rlimit, lead to mlock failure")
    for _ in range(TEST_LOOP):
        lock_size = rng.randrange(alloc_size)
        start_offset = rng.randrange(alloc_size - lock_size)
        name, err = _lock(p, rng, ptr + start_offset, lock_size)
        if err:
            t.exit_fail(f"{name}() failure (errno {err}) at |{ptr:#x}({alloc_size})| "
                        f"mlock:|{ptr + start_offset:#x}({lock_size})|")
    locked_vm_size = proc_status_value(p, "VmLck") << 10
    page_size = get_value_for_name(p, ptr, "MMUPageSize:") << 10
    if locked_vm_size > PAGE_ALIGN(alloc_size, page_size) + page_size:
        t.exit_fail(f"test_mlock_within_limit left VmLck:{locked_vm_size} on {alloc_size} chunk")
    t.test_result(True, "test_mlock_within_limit")


def _test_mlock_outof_limit(t: Ksft, ptr: int, alloc_size: int) -> None:
    p, rng = t.process, random.Random(SEED)
    rlim_cur = p.getrlimit("RLIMIT_MEMLOCK")[0]
    if rlim_cur >= alloc_size:
        t.exit_fail(f"alloc_size[{alloc_size}] > rlimit, violates test condition")
    old_locked_vm_size = proc_status_value(p, "VmLck") << 10
    for _ in range(TEST_LOOP):
        lock_size = rng.randrange(alloc_size - rlim_cur) + rlim_cur
        start_offset = rng.randrange(alloc_size - lock_size)
        name, err = _lock(p, rng, ptr + start_offset, lock_size)
        if not err:
            t.exit_fail(f"{name}() succeeds? on {ptr:#x}({alloc_size}) mlock {ptr + start_offset:#x}({lock_size})")
    locked_vm_size = proc_status_value(p, "VmLck") << 10
    if locked_vm_size != old_locked_vm_size:
        t.exit_fail(f"tests leads to new mlocked page: old[{old_locked_vm_size}], new[{locked_vm_size}]")
    t.test_result(True, "test_mlock_outof_limit")


def test_mlock_within_limit(t: Ksft) -> None:
    set_cap_limits(t, MLOCK_RLIMIT_SIZE)
    p = t.process
    ptr = p.mmap(MLOCK_WITHIN_LIMIT_SIZE)
    _test_mlock_within_limit(t, ptr, MLOCK_WITHIN_LIMIT_SIZE)
    p.munlock(ptr, MLOCK_WITHIN_LIMIT_SIZE)
    p.munmap(ptr, MLOCK_WITHIN_LIMIT_SIZE)


def test_mlock_outof_limit(t: Ksft) -> None:
    set_cap_limits(t, MLOCK_RLIMIT_SIZE)
    p = t.process
    ptr = p.mmap(MLOCK_OUTOF_LIMIT_SIZE)
    _test_mlock_outof_limit(t, ptr, MLOCK_OUTOF_LIMIT_SIZE)
    p.munlock(ptr, MLOCK_OUTOF_LIMIT_SIZE)
    p.munmap(ptr, MLOCK_OUTOF_LIMIT_SIZE)
