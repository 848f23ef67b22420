"""``droppable.c`` of ``tools/testing/selftests/mm``, Linux 6.18, ported.

A 128 MiB MAP_DROPPABLE mapping is filled with 'A' (every page reads non-zero), then a
forked child allocates page after page forever while the parent scans the mapping for a
page that reads zero: reclaim under the child's pressure drops droppable pages without swap
(their folios are never swap-backed: ``folio_add_new_anon_rmap``; ``try_to_unmap`` drops
them even dirty) and the next read of one faults in the zero page. The C program's two
processes run at once; here the child allocates a 4 MiB step (``CHILD_STEP``: malloc of a
page, written, as ``*(char *)malloc(page_size) = 'B'`` does, one page of each of 1024
mallocs) between the parent's scans, until a scan finds a zero page or the child is gone
(killed by the OOM killer: the parent would spin forever, so the port fails there). Then
the child is killed (SIGKILL: the C program sends SIGTERM, which is not simulated) and the
case passes. The C program's asserts end it before any result: ``exit_fail`` here.
"""

from __future__ import annotations

from ..errors import Killed
from .ksft import Ksft

SOURCE = "tools/testing/selftests/mm/droppable.c"
FIXTURE = None
PAGE_SIZE = 4096
ALLOC_SIZE = 134217728
CHILD_STEP = 4 << 20
LINES_PER_PAGE = PAGE_SIZE // 64


def dropped_page(p, alloc: int) -> bool:
    """The parent's scan: does the first byte of some page read zero?"""
    data = p.read(alloc, ALLOC_SIZE, stride=PAGE_SIZE)
    return 0 in data


def test_droppable(t: Ksft) -> None:
    p = t.process
    alloc = p.mmap(ALLOC_SIZE, prot="rw", flags="anonymous|droppable")
    p.write(alloc, ALLOC_SIZE, stride=64, value=ord("A"))
    if dropped_page(p, alloc):
        t.exit_fail("assert(*(uint8_t *)(alloc + i)) failed")
    child = p.fork()
    done = False
    while not done and child.alive:
        try:
            heap = child.mmap(CHILD_STEP)
            child.write(heap, CHILD_STEP, stride=PAGE_SIZE, value=ord("B"))
        except Killed:
            break
        done = dropped_page(p, alloc)
    if child.alive:
        child.kill()
    t.test_result(done, "MAP_DROPPABLE: PASS")
