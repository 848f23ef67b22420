"""``virtual_address_range.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

The program fills the whole user address space with 1 GiB read-only anonymous mappings:
first without a hint, until mmap() fails (NR_CHUNKS_LOW of them at most: 128 TiB); then a
mapping hinted at 64 TiB must fail too, since nothing of 1 GiB is left anywhere. Then,
with random hints from 2^48 up (above the 47-bit window, which only 5-level paging
reaches: on this 4-level machine a hint beyond TASK_SIZE is ignored, so the first of these
fails at once). Each chunk is named with prctl(PR_SET_VMA_ANON_NAME) "virtual_address_range"
(skipped without CONFIG_ANON_VMA_NAME), so named neighbours merge and /proc/PID/maps stays
short. ``validate_complete_va_space`` then reads maps: no gap of 1 GiB or more may be left
between its lines, and one byte of every chunk of every readable VMA must be readable (the
C program ``write()``s it to a file: a fault that maps the zero page); the named chunks are
unmapped as they are checked. ``run_vmtests.sh`` runs it with vm.overcommit_memory 1, as the
port's machine has. One TAP line, as the C program prints.

It takes about 131000 mmap() and prctl() calls and as many faults and munmap()s: some 30 s
here (most of it the fault and the munmap of each chunk: a PMD and a PTE table allocated and
freed per GiB).
"""

from __future__ import annotations

import errno
import random

from ..errors import KernelError
from ..include.linux.mm_types import VM_IO
from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/virtual_address_range.c"
FIXTURE = None
SZ_1GB, SZ_1TB = 1 << 30, 1 << 40
MAP_CHUNK_SIZE = SZ_1GB
NR_CHUNKS_128TB = 128 * SZ_1TB // MAP_CHUNK_SIZE
# x86-64's limits (the C file's #else branch)
HIGH_ADDR_MARK = 1 << 47  # ADDR_MARK_128TB
HIGH_ADDR_SHIFT = 48
NR_CHUNKS_LOW = NR_CHUNKS_128TB
NR_CHUNKS_HIGH = 3 * NR_CHUNKS_128TB
MAP_FAILED = -1
VMA_NAME = "virtual_address_range"


class Finished(Exception):
    """``ksft_finished()`` after a skip or a failure line: the program ends there."""


def _mmap(p, hint: int) -> int:
    try:
        return p.mmap(MAP_CHUNK_SIZE, prot="r", flags="private|anonymous", addr=hint)
    except KernelError:
        return MAP_FAILED


def hint_addr(rng: random.Random) -> int:
    return 1 << (HIGH_ADDR_SHIFT + rng.randrange(63 - HIGH_ADDR_SHIFT))


def validate_addr(t: Ksft, ptr: int, high_addr: bool) -> None:
    if high_addr and ptr < HIGH_ADDR_MARK or not high_addr and ptr > HIGH_ADDR_MARK:
        t.exit_fail(f"Bad address {ptr:x}")


def mark_range(t: Ksft, ptr: int, size: int) -> None:
    try:
        t.process.prctl("PR_SET_VMA", 0, ptr, size, VMA_NAME)
    except KernelError as err:
        if err.errno == errno.EINVAL:  # depends on CONFIG_ANON_VMA_NAME
            t.test_result_skip("prctl(PR_SET_VMA_ANON_NAME) not supported")
            raise Finished from err
        t.exit_fail(f"prctl(PR_SET_VMA_ANON_NAME) failed: {err}")


def is_marked_vma(vma_name: str | None) -> bool:
    return vma_name == f"[anon:{VMA_NAME}]"


def validate_lower_address_hint(p) -> bool:
    """Does a 1 GiB mapping hinted at 64 TiB succeed (it must not, with the space full)?"""
    return _mmap(p, 1 << 45) != MAP_FAILED


def validate_complete_va_space(t: Ksft) -> bool:
    """True (a bug) when maps shows a gap of MAP_CHUNK_SIZE or a chunk cannot be read."""
    p = t.process
    prev_end_addr = 0
    for line in p.proc("maps").splitlines():  # read before the munmaps below, as seq_file's buffer is
        fields = line.split(maxsplit=5)
        start_addr, end_addr = (int(x, 16) for x in fields[0].split("-"))
        vma_name = fields[5] if len(fields) > 5 else None
        if start_addr & (1 << 63):  # the end of user space: the vsyscall page
            return False
        if start_addr - prev_end_addr >= MAP_CHUNK_SIZE:
            return True
        prev_end_addr = end_addr
        if fields[1][0] != "r" or _vmflag_io(p, start_addr):
            continue
        for hop in range(0, end_addr - start_addr, MAP_CHUNK_SIZE):
            try:
                p.read(start_addr + hop, 1)  # write(fd, addr, 1): copy_from_user faults it in
            except KernelError:
                return True
            if is_marked_vma(vma_name):
                p.munmap(start_addr + hop, MAP_CHUNK_SIZE)
    return False


def _vmflag_io(p, addr: int) -> bool:
    """``check_vmflag_io``: VM_IO mappings (``io`` in VmFlags) are left alone; read from the
    VMA records rather than by scanning smaps, which would walk all 128 TiB each time."""
    return any(v.vm_start <= addr < v.vm_end and v.vm_flags & VM_IO for v in p.maps())


def test_virtual_address_range(t: Ksft) -> None:
    p, rng = t.process, random.Random(0)  # srand() is never called: rand()'s fixed sequence
    ptr, hptr = [], []
    try:
        for _ in range(NR_CHUNKS_LOW):
            addr = _mmap(p, 0)
            if addr == MAP_FAILED:
                if validate_lower_address_hint(p):
                    t.exit_fail("mmap unexpectedly succeeded with hint")
                break
            ptr.append(addr)
            mark_range(t, addr, MAP_CHUNK_SIZE)
            validate_addr(t, addr, False)
        for _ in range(NR_CHUNKS_HIGH):
            addr = _mmap(p, hint_addr(rng))
            if addr == MAP_FAILED:
                break
            hptr.append(addr)
            mark_range(t, addr, MAP_CHUNK_SIZE)
            validate_addr(t, addr, True)
        if validate_complete_va_space(t):
            t.test_result(False, "BUG in mmap() or /proc/self/maps")
            return
    except Finished:
        return
    for addr in ptr + hptr:
        p.munmap(addr, MAP_CHUNK_SIZE)
    t.test_result(True, "Test")
