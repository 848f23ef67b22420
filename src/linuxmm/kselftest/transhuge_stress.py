"""``transhuge-stress.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported, bounded.

A stress loop over a MADV_HUGEPAGE range: for each 2 MiB block, map it afresh
(MAP_FIXED over the old one, dropping its PMD), touch it so a THP is allocated, check
through the pagemap that its first two pages are present, consecutive and start a
huge-page-aligned PFN (``allocate_transhuge`` in ``vm_util.c``), then MADV_DONTNEED all
but its last page, which splits the THP. The C program loops until ``-d`` seconds have
passed over all of RAM (``run_vmtests.sh``: 20 s); the port runs ``LOOPS`` loops over
``SIZE_MIB`` MiB, its "[size in MiB]" argument, so the suite stays fast. PFNs come from
``Process.walk`` (the page tables the pagemap reads). Like the C program it passes unless a
call fails; the per-loop counts it prints ("32 succeed") show whether every loop got its
THPs: that needs the MAP_FIXED mmap to free the replaced block's page table
(``vms_clean_up_area``), which the simulator did not do before this port found it.
"""

from __future__ import annotations

from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/transhuge-stress.c"
FIXTURE = None
PAGE_SIZE = 4096
HPAGE_SIZE = 2 << 20
SIZE_MIB = 64
LOOPS = 2
MMAP_FLAGS = "anonymous|noreserve|private"


def allocate_transhuge(t: Ksft, ptr: int) -> int:
    """The PFN of a THP freshly faulted at ``ptr``, or -1 if the block got small pages."""
    p = t.process
    if p.mmap(HPAGE_SIZE, prot="rw", flags=MMAP_FLAGS + "|fixed", addr=ptr) != ptr:
        t.exit_fail("mmap transhuge")
    p.madvise(ptr, HPAGE_SIZE, "hugepage")
    p.write(ptr, 8, value=ptr & 0xFF)  # *(volatile void **)ptr = ptr
    first, second = p.walk(ptr).phys, p.walk(ptr + PAGE_SIZE).phys
    if first is None or second is None:
        return -1
    pfn = first // PAGE_SIZE
    if pfn + 1 == second // PAGE_SIZE and not pfn % (HPAGE_SIZE // PAGE_SIZE):
        return pfn
    return -1


def test_transhuge_stress(t: Ksft) -> None:
    p = t.process
    length = SIZE_MIB << 20
    ptr = p.mmap(length + HPAGE_SIZE, prot="rw", flags=MMAP_FLAGS)
    ptr += HPAGE_SIZE - ptr % HPAGE_SIZE
    p.madvise(ptr, length, "hugepage")
    for _ in range(LOOPS):
        pfns = [allocate_transhuge(t, block) for block in range(ptr, ptr + length, HPAGE_SIZE)]
        for block in range(ptr, ptr + length, HPAGE_SIZE):
            p.madvise(block, HPAGE_SIZE - PAGE_SIZE, "dontneed")  # split the THP, keep its last page
        succeed = [pfn for pfn in pfns if pfn >= 0]
        t.print_msg(f"{len(succeed):4d} succeed, {len(pfns) - len(succeed):4d} failed, "
                    f"{len(set(succeed)):4d} different pages")
    t.test_result(True, "Completed")
