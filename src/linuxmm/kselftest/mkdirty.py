"""``mkdirty.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

Code that sets a PTE or PMD dirty in a read-only VMA must not make it writable. Each case
leaves a dirty entry in a read-only private mapping, then stores to it from user space: the
store must raise SIGSEGV and leave the byte unchanged (``do_test_write_sigsegv``, with a
SIGSEGV handler that jumps back: ``p.sigaction("SIGSEGV", "catch")``).

* ``test_ptrace_write``: the shared zero page is read in, then one byte is written through
  ``/proc/self/mem`` (``p.write_mem``: ``access_remote_vm`` with FOLL_FORCE): the write fault
  breaks COW (``wp_page_copy``) and installs a dirty pte that ``maybe_mkwrite`` leaves
  read-only, which GUP then follows for write (``can_follow_write_pte``: an exclusive
  anonymous page in a private mapping).
* ``test_ptrace_write_thp``: the same into an untouched MADV_HUGEPAGE range: the forced write
  places a THP (``do_huge_pmd_anonymous_page``), its PMD dirty and read-only.
* ``test_page_migration``, ``test_page_migration_thp``: page migration (mbind MPOL_MF_MOVE)
  is not simulated: they skip as the C program does when mbind fails.
* ``test_pte_mapped_thp``: a THP written, then made read-only, then its last subpage made
  writable again: mprotect splits the PMD into ptes, which must not inherit write access.
* ``test_uffdio_copy``: no userfaultfd: skips as the C program does when the syscall fails.

The development host agrees on the ptrace cases (``tests/probe/proc_mem_probe.c``,
``tests/data/host-linux-6.18/proc_mem_probe.txt``): the write returns 1, the byte reads back,
the page is present and exclusive, a THP is placed, and the store raises SIGSEGV.
"""

from __future__ import annotations

from ..arch.x86.mm.fault import SegmentationFault
from ..errors import KernelError
from .ksft import Ksft
from .vm_util import pagemap_is_populated

SOURCE = "tools/testing/selftests/mm/mkdirty.c"
FIXTURE = None
PAGESIZE = 4096
THPSIZE = 2 << 20  # read_pmd_pagesize(): the PMD size, the only THP size simulated


def do_test_write_sigsegv(t: Ksft, mem: int) -> None:
    """Store orig + 1 to ``mem``: it must raise SIGSEGV and leave the byte as it was."""
    p = t.process
    orig = p.read(mem, 1)[0]
    p.sigaction("SIGSEGV", "catch")
    try:
        p.write(mem, 1, value=(orig + 1) & 0xFF)
        segv = False
    except SegmentationFault:
        segv = True
    p.sigaction("SIGSEGV", "default")
    t.test_result(segv and p.read(mem, 1)[0] == orig, "SIGSEGV generated, page not modified")


def mmap_thp_range(t: Ksft, prot: str) -> tuple[int, int, int] | None:
    """2 * thpsize mapped, the THP-aligned half inside it advised MADV_HUGEPAGE:
    (mem, mmap_mem, mmap_size), or None after a skip."""
    p = t.process
    mmap_size = 2 * THPSIZE
    mmap_mem = p.mmap(mmap_size, prot=prot)
    mem = (mmap_mem + THPSIZE) & ~(THPSIZE - 1)
    try:
        p.madvise(mem, THPSIZE, "hugepage")
    except KernelError:
        t.test_result_skip("MADV_HUGEPAGE failed")
        p.munmap(mmap_mem, mmap_size)
        return None
    return mem, mmap_mem, mmap_size


def ptrace_write(t: Ksft, mem: int) -> bool:
    """lseek + write of one byte 1 to /proc/self/mem at ``mem``; the byte must read back."""
    p = t.process
    try:
        ret = p.write_mem(mem, b"\x01")
    except KernelError:
        ret = -1
    if ret != 1 or p.read(mem, 1)[0] != 1:
        t.test_result(False, "write() failed")
        return False
    return True


def test_ptrace_write(t: Ksft) -> None:
    t.print_msg("[INFO] PTRACE write access")
    p = t.process
    mem = p.mmap(PAGESIZE, prot="r")
    if p.read(mem, 1)[0] != 0:  # fault in the shared zeropage
        t.test_result(False, "Memory not zero")
    elif ptrace_write(t, mem):  # unshare it in the read-only VMA (FOLL_FORCE)
        do_test_write_sigsegv(t, mem)
    p.munmap(mem, PAGESIZE)


def test_ptrace_write_thp(t: Ksft) -> None:
    t.print_msg("[INFO] PTRACE write access to THP")
    p = t.process
    rng = mmap_thp_range(t, "r")
    if rng is None:
        return
    mem, mmap_mem, mmap_size = rng
    if ptrace_write(t, mem):
        if not pagemap_is_populated(p, mem + THPSIZE - PAGESIZE):  # a THP if the last subpage is there
            t.test_result_skip("Did not get a THP populated")
        else:
            do_test_write_sigsegv(t, mem)
    p.munmap(mmap_mem, mmap_size)


def test_page_migration(t: Ksft) -> None:
    t.print_msg("[INFO] Page migration")
    p = t.process
    mem = p.mmap(PAGESIZE, prot="rw")
    p.write(mem, PAGESIZE, stride=64, value=1)  # memset(mem, 1, pagesize): a fresh, dirty page
    p.mprotect(mem, PAGESIZE, "r")
    t.test_result_skip("mbind() failed (not simulated: mbind(MPOL_LOCAL, MPOL_MF_MOVE) page migration)")
    p.munmap(mem, PAGESIZE)


def test_page_migration_thp(t: Ksft) -> None:
    t.print_msg("[INFO] Page migration of THP")
    p = t.process
    rng = mmap_thp_range(t, "rw")
    if rng is None:
        return
    mem, mmap_mem, mmap_size = rng
    p.write(mem, PAGESIZE, stride=64, value=1)
    p.mprotect(mem, THPSIZE, "r")
    if not pagemap_is_populated(p, mem + THPSIZE - PAGESIZE):
        t.test_result_skip("Did not get a THP populated")
    else:
        t.test_result_skip("mbind() failed (not simulated: mbind(MPOL_LOCAL, MPOL_MF_MOVE) page migration)")
    p.munmap(mmap_mem, mmap_size)


def test_pte_mapped_thp(t: Ksft) -> None:
    t.print_msg("[INFO] PTE-mapping a THP")
    p = t.process
    rng = mmap_thp_range(t, "rw")
    if rng is None:
        return
    mem, mmap_mem, mmap_size = rng
    p.write(mem, PAGESIZE, stride=64, value=1)  # might populate a fresh anon THP and dirty it
    p.mprotect(mem, THPSIZE, "r")
    if not pagemap_is_populated(p, mem + THPSIZE - PAGESIZE):
        t.test_result_skip("Did not get a THP populated")
    else:
        p.mprotect(mem + THPSIZE - PAGESIZE, PAGESIZE, "rw")  # PTE-map the THP
        do_test_write_sigsegv(t, mem)
    p.munmap(mmap_mem, mmap_size)


def test_uffdio_copy(t: Ksft) -> None:
    t.print_msg("[INFO] UFFDIO_COPY")
    p = t.process
    dst = p.mmap(PAGESIZE, prot="r")
    t.test_result_skip("__NR_userfaultfd failed (not simulated: userfaultfd)")
    p.munmap(dst, PAGESIZE)
