"""``merge.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

VMA merging (``mm/vma.c``: ``vma_merge_existing_range``, ``vma_merge_new_range``,
``copy_vma``): an mprotect that makes a faulted VMA (one with an anon_vma) equal to an
unfaulted neighbour merges them, whichever side is faulted; a VMA forked from its parent
(its anon_vma shared with the parent's chain) does not merge with a new neighbour; an
mremap that moves an unfaulted VMA next to a faulted one merges them, as does moving
a faulted VMA back to where its page offset fits, with or without MREMAP_DONTUNMAP.

Every case maps over a 30-page PROT_NONE carve-out (the fixture) and asks where the VMA
holding an address begins and ends: the C program uses the PROCMAP_QUERY ioctl, the port
``Process.maps()``, the same VMAs. ``handle_uprobe_upon_merged_vma`` needs a file and
uprobes (out of scope) and skips; ``ksm_merge`` skips where the C program does on a kernel
without KSM, at ``prctl(PR_SET_MEMORY_MERGE)`` (not simulated).
"""

from __future__ import annotations

from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/merge.c"
FIXTURE = "merge"
PAGE_SIZE = 4096
CARVEOUT_PAGES = 30
RW = "rw"
FIXED = "private|anonymous|fixed"
FIXED_NORESERVE = "private|anonymous|fixed|noreserve"


def carveout(t: Ksft) -> int:
    """FIXTURE_SETUP(merge): a PROT_NONE region to map over."""
    return t.process.mmap(CARVEOUT_PAGES * PAGE_SIZE, prot="none", flags="private|anonymous")


def find_vma(p, addr: int) -> tuple[int, int]:
    """PROCMAP_QUERY: the start and end of the VMA holding ``addr``."""
    vma = next((v for v in p.maps() if v.start <= addr < v.end), None)
    assert vma is not None, f"no VMA holds {addr:#x}"
    return vma.start, vma.end


def pg(n: int) -> int:
    return n * PAGE_SIZE


def fault(p, addr: int) -> None:
    """``ptr[0] = 'x'``: the first write gives the VMA its anon_vma."""
    p.write(addr, 1, value=ord("x"))


def _mprotect_merge(t: Ksft, first: int, pages: int, ro_first: list, touch: int, ro_last: list) -> None:
    """Map ``pages`` RW at carve-out page ``first``, make the ``ro_first`` ranges read-only,
    fault page ``touch``, make the ``ro_last`` ranges read-only: one VMA must remain."""
    p = t.process
    ptr = p.mmap(pg(pages), prot=RW, flags=FIXED_NORESERVE, addr=carveout(t) + pg(first))
    for start, length in ro_first:
        p.mprotect(ptr + pg(start), pg(length), "r")
    fault(p, ptr + pg(touch))
    for start, length in ro_last:
        p.mprotect(ptr + pg(start), pg(length), "r")
    assert find_vma(p, ptr) == (ptr, ptr + pg(pages))


def test_mprotect_unfaulted_left(t: Ksft) -> None:
    """RO unfaulted | RW faulted, then the RW half made RO: they merge."""
    _mprotect_merge(t, 1, 10, [(0, 5)], 5, [(5, 5)])


def test_mprotect_unfaulted_right(t: Ksft) -> None:
    """RW faulted | RO unfaulted, then the RW half made RO: they merge."""
    _mprotect_merge(t, 1, 10, [(5, 5)], 0, [(0, 5)])


def test_mprotect_unfaulted_both(t: Ksft) -> None:
    """RO unfaulted | RW faulted | RO unfaulted, the middle made RO: all three merge."""
    _mprotect_merge(t, 2, 9, [(0, 3), (6, 3)], 3, [(3, 3)])


def test_mprotect_faulted_left_unfaulted_right(t: Ksft) -> None:
    """RO faulted | RW faulted | RO unfaulted, the middle made RO: all three merge."""
    _mprotect_merge(t, 2, 9, [(6, 3)], 0, [(0, 3), (3, 3)])


def test_mprotect_unfaulted_left_faulted_right(t: Ksft) -> None:
    """RO unfaulted | RW faulted | RO faulted, the middle made RO: all three merge."""
    _mprotect_merge(t, 2, 9, [(0, 3)], 3, [(6, 3), (3, 3)])


def _forked_child(t: Ksft, noreserve: bool):
    """Five faulted pages at carve-out page 1, then a fork; the child un-COWs every page
    (which does not take the anon_vma chain away). Returns (carve-out, ptr, child)."""
    p = t.process
    base = carveout(t)
    ptr = p.mmap(pg(5), prot=RW, flags=FIXED_NORESERVE if noreserve else FIXED, addr=base + pg(1))
    fault(p, ptr)
    child = p.fork()
    child.write(ptr, pg(5), value=ord("x"))
    return base, ptr, child


def test_forked_target_vma(t: Ksft) -> None:
    """A new VMA mapped right after the child's forked VMA does not merge with it."""
    _, ptr, child = _forked_child(t, noreserve=False)
    child.mmap(pg(5), prot=RW, flags=FIXED, addr=ptr + pg(5))
    assert find_vma(child, ptr) == (ptr, ptr + pg(5))


def test_forked_source_vma(t: Ksft) -> None:
    """A forked VMA made RWX next to an unfaulted RWX VMA does not merge into it."""
    base, ptr, child = _forked_child(t, noreserve=True)
    ptr2 = child.mmap(pg(5), prot="rwx", flags=FIXED_NORESERVE, addr=base + pg(6))
    assert find_vma(child, ptr2) == (ptr2, ptr2 + pg(5))
    child.mprotect(ptr, pg(5), "rwx")
    assert find_vma(child, ptr2) == (ptr2, ptr2 + pg(5))


def test_handle_uprobe_upon_merged_vma(t: Ksft) -> None:
    t.exit_skip("needs a file and a uprobe on it (perf_event_open): out of scope")


def test_ksm_merge(t: Ksft) -> None:
    """Two adjacent RW pages merge; the rest needs PR_SET_MEMORY_MERGE, which fails with
    EINVAL as on a kernel without KSM, so the case skips there, as the C program does."""
    p = t.process
    base = carveout(t)
    ptr = p.mmap(pg(1), prot=RW, flags=FIXED, addr=base + pg(1))
    ptr2 = p.mmap(pg(1), prot=RW, flags=FIXED, addr=base + pg(2))
    assert find_vma(p, ptr) == (ptr, ptr + pg(2))
    p.munmap(ptr2, pg(1))
    t.exit_skip("KSM memory merging not supported, skipping.")


def _map(p, addr: int, pages: int) -> int:
    return p.mmap(pg(pages), prot=RW, flags=FIXED, addr=addr)


def _move(p, addr: int, pages: int, to: int, dontunmap: bool = False) -> int:
    """``sys_mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to)``."""
    return p.mremap(addr, pg(pages), pg(pages), fixed=to, dontunmap=dontunmap)


def test_mremap_unfaulted_to_faulted(t: Ksft) -> None:
    """An unfaulted VMA moved right after a faulted one merges with it."""
    p = t.process
    base = carveout(t)
    ptr, ptr2 = _map(p, base + pg(1), 5), _map(p, base + pg(7), 5)
    ptr2 = _move(p, ptr2, 5, ptr2 + pg(1000))
    fault(p, ptr)
    _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(10))


def test_mremap_unfaulted_behind_faulted(t: Ksft) -> None:
    """An unfaulted VMA moved right before a faulted one merges with it."""
    p = t.process
    base = carveout(t)
    ptr, ptr2 = _map(p, base + pg(6), 5), _map(p, base + pg(14), 5)
    ptr2 = _move(p, ptr2, 5, ptr2 + pg(1000))
    fault(p, ptr)
    ptr2 = _move(p, ptr2, 5, base + pg(1))
    assert find_vma(p, ptr2) == (ptr2, ptr2 + pg(10))


def _three_apart(t: Ksft) -> tuple[int, int, int]:
    """Three five-page VMAs, the second and third moved 1000 and 2000 pages away."""
    p = t.process
    base = carveout(t)
    ptr, ptr2, ptr3 = _map(p, base + pg(1), 5), _map(p, base + pg(7), 5), _map(p, base + pg(14), 5)
    ptr3 = _move(p, ptr3, 5, ptr3 + pg(2000))
    ptr2 = _move(p, ptr2, 5, ptr2 + pg(1000))
    return ptr, ptr2, ptr3


def test_mremap_unfaulted_between_faulted(t: Ksft) -> None:
    """faulted | unfaulted (moved in) | faulted with another anon_vma: only the first two merge."""
    p = t.process
    ptr, ptr2, ptr3 = _three_apart(t)
    fault(p, ptr)
    fault(p, ptr3)
    ptr3 = _move(p, ptr3, 5, ptr + pg(10))
    _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(10))
    assert find_vma(p, ptr3) == (ptr3, ptr3 + pg(5))


def test_mremap_unfaulted_between_faulted_unfaulted(t: Ksft) -> None:
    """faulted | unfaulted (moved in) | unfaulted: all three merge."""
    p = t.process
    ptr, ptr2, ptr3 = _three_apart(t)
    fault(p, ptr)
    _move(p, ptr3, 5, ptr + pg(10))
    _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(15))


def test_mremap_unfaulted_between_correctly_placed_faulted(t: Ksft) -> None:
    """Two faulted halves of one VMA with an unfaulted VMA moved between them: all merge."""
    p = t.process
    base = carveout(t)
    ptr = _map(p, base + pg(1), 15)
    fault(p, ptr)
    p.munmap(ptr + pg(5), pg(5))
    ptr2 = _map(p, base + pg(20), 5)
    _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(15))


def test_mremap_correct_placed_faulted(t: Ksft) -> None:
    """Pieces of one faulted VMA moved away and back, in every order, merge again each
    time they are back where their page offset fits."""
    p = t.process
    base = carveout(t)
    ptr = _map(p, base + pg(1), 15)
    fault(p, ptr)
    ptr3 = _move(p, ptr + pg(10), 5, ptr + pg(10) + pg(2000))
    ptr2 = _move(p, ptr + pg(5), 5, ptr + pg(5) + pg(1000))
    ptr2 = _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(10))
    ptr = _move(p, ptr, 5, ptr + pg(1000))
    ptr = _move(p, ptr, 5, base + pg(1))
    assert find_vma(p, ptr) == (ptr, ptr + pg(10))
    ptr = _move(p, ptr, 5, ptr + pg(1000))
    ptr3 = _move(p, ptr3, 5, ptr2 + pg(5))
    assert find_vma(p, ptr2) == (ptr2, ptr2 + pg(10))
    ptr = _move(p, ptr, 5, base + pg(1))
    assert find_vma(p, ptr) == (ptr, ptr + pg(15))
    ptr2 = _move(p, ptr2, 5, ptr2 + pg(1000))
    _move(p, ptr2, 5, ptr + pg(5))
    assert find_vma(p, ptr) == (ptr, ptr + pg(15))
    ptr3 = _move(p, ptr3, 5, ptr3 + pg(1000))
    _move(p, ptr3, 5, ptr + pg(10))
    assert find_vma(p, ptr) == (ptr, ptr + pg(15))


def test_mremap_faulted_to_unfaulted_prev(t: Ksft) -> None:
    """A faulted VMA moved (DONTUNMAP) right after an unfaulted one: they merge."""
    p = t.process
    base = carveout(t)
    ptr_a = _map(p, base + pg(4), 3)
    fault(p, ptr_a)
    ptr_a = _move(p, ptr_a, 3, base + pg(20))
    ptr_b = _map(p, base + pg(1), 3)
    _move(p, ptr_a, 3, base + pg(4), dontunmap=True)
    assert find_vma(p, ptr_b) == (ptr_b, ptr_b + pg(6))


def test_mremap_faulted_to_unfaulted_next(t: Ksft) -> None:
    """A faulted VMA moved (DONTUNMAP) right before an unfaulted one: they merge."""
    p = t.process
    base = carveout(t)
    ptr_a = _map(p, base + pg(1), 3)
    fault(p, ptr_a)
    ptr_a = _move(p, ptr_a, 3, base + pg(20))
    _map(p, base + pg(4), 3)
    ptr_a = _move(p, ptr_a, 3, base + pg(1), dontunmap=True)
    assert find_vma(p, ptr_a) == (ptr_a, ptr_a + pg(6))


def test_mremap_faulted_to_unfaulted_prev_unfaulted_next(t: Ksft) -> None:
    """A faulted VMA moved (DONTUNMAP) between two unfaulted ones: all three merge."""
    p = t.process
    base = carveout(t)
    ptr_b = _map(p, base + pg(4), 3)
    fault(p, ptr_b)
    ptr_b = _move(p, ptr_b, 3, base + pg(20))
    ptr_a = _map(p, base + pg(1), 3)
    _map(p, base + pg(7), 3)
    _move(p, ptr_b, 3, base + pg(4), dontunmap=True)
    assert find_vma(p, ptr_a) == (ptr_a, ptr_a + pg(9))


def test_mremap_faulted_to_unfaulted_prev_faulted_next(t: Ksft) -> None:
    """The first half of a faulted VMA moved away and back (DONTUNMAP) between an
    unfaulted VMA and its own second half: all three merge."""
    p = t.process
    base = carveout(t)
    ptr_bc = _map(p, base + pg(4), 6)
    fault(p, ptr_bc)
    ptr_b = _move(p, ptr_bc, 3, base + pg(20))
    ptr_a = _map(p, base + pg(1), 3)
    _move(p, ptr_b, 3, base + pg(4), dontunmap=True)
    assert find_vma(p, ptr_a) == (ptr_a, ptr_a + pg(9))
