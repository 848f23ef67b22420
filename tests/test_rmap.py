"""Reverse mapping (``mm/rmap.py``): anon_vma trees across fork, shmem objects and their page
caches, and the debug checks that watch them."""

import numpy as np
import pytest

from conftest import small_machine
from linuxmm import debug

PAGE = 4096
MB = 1 << 20


def pfn_at(p, addr) -> int:
    return p.walk(addr)[-1]["phys"] >> 12


def test_fork_links_the_child_vma_to_the_anon_vma_of_the_pages_it_shares():
    """The child's VMA and the pages it shares with its parent agree about their anon_vma:
    the page's anon_vma (the parent's) has the child's VMA in its tree (``anon_vma_fork``),
    and the child's copies go to its own anon_vma, a child of the parent's."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE)
    c = p.fork()
    k = m.kernel
    (pvma,), (cvma,) = p.task.mm.vmas, c.task.mm.vmas
    shared = pfn_at(c, a)
    page_av = k.rmap.anon_vmas[int(k.mem_map.mapping[shared]) >> 1]
    assert page_av is pvma.anon_vma and cvma.anon_vma_chain == [cvma.anon_vma, page_av]
    assert cvma in page_av.rb_root and cvma.anon_vma.parent is page_av and cvma.anon_vma.root is page_av
    c.write(a, PAGE)  # COW: the copy belongs to the child's anon_vma, the original to the parent alone
    copy = pfn_at(c, a)
    assert int(k.mem_map.mapping[copy]) >> 1 == cvma.anon_vma.id


def test_fork_reuses_an_anon_vma_no_vma_uses():
    """6.2+ ``anon_vma_clone``: after the middle process of a fork chain exits, its anon_vma
    has no VMA and one child, so the next fork below takes it instead of a new one."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE)
    c1 = p.fork()
    a1 = c1.task.mm.vmas[0].anon_vma
    c2 = c1.fork()
    a2 = c2.task.mm.vmas[0].anon_vma
    assert (a1.num_children, a1.num_active_vmas) == (1, 1) and a2.parent is a1
    c1.exit()
    assert (a1.num_children, a1.num_active_vmas) == (1, 0) and a1.id in m.kernel.rmap.anon_vmas
    c3 = c2.fork()
    vma = c3.task.mm.vmas[0]
    assert vma.anon_vma is a1 and a1.num_active_vmas == 1 and len(m.kernel.rmap.anon_vmas) == 3
    c3.write(a, PAGE)
    assert int(m.kernel.mem_map.mapping[pfn_at(c3, a)]) >> 1 == a1.id and debug.check(m) == []
    for proc in (c2, c3, p):
        proc.exit()
    assert m.kernel.rmap.anon_vmas == {} and debug.check(m) == []


def meminfo_kb(m, field: str) -> int:
    line = next(ln for ln in m.proc("/proc/meminfo").splitlines() if ln.startswith(field + ":"))
    return int(line.split()[1])


def test_shared_anonymous_memory_is_freed_by_munmap():
    """mmap 8 MiB MAP_SHARED|MAP_ANONYMOUS, write it, munmap it: the shmem object goes with
    its pages (Linux 6.18: Shmem back to where it was)."""
    m = small_machine()
    p = m.spawn()
    s = p.mmap(8 * MB, flags="shared|anonymous")
    p.write(s, 8 * MB)
    (mapping,) = m.kernel.rmap.address_spaces.values()
    pfns = np.array(list(mapping.i_pages.values()))
    assert meminfo_kb(m, "Shmem") == 8192 and len(pfns) == 2048
    p.munmap(s, 8 * MB)
    assert meminfo_kb(m, "Shmem") == 0 and m.kernel.rmap.address_spaces == {}
    assert not m.kernel.mem_map.refcount[pfns].any() and debug.check(m) == []


def test_shared_anonymous_memory_lives_while_fork_or_mremap_holds_it():
    m = small_machine()
    p = m.spawn()
    s = p.mmap(8 * PAGE, flags="shared|anonymous")
    p.write(s, 8 * PAGE, value=6)
    c = p.fork()
    t = p.mremap(s, 8 * PAGE, 8 * PAGE, fixed=s + 64 * MB)
    p.munmap(t, 8 * PAGE)
    assert meminfo_kb(m, "Shmem") == 32 and c.read(s, 8 * PAGE) == bytes([6] * 8)
    c.exit()
    assert meminfo_kb(m, "Shmem") == 0 and m.kernel.rmap.address_spaces == {} and debug.check(m) == []


def test_check_catches_an_orphaned_cache_page(monkeypatch):
    """The injected bugs: the object goes but its pages stay cached; the object stays with
    nobody holding it."""
    from linuxmm.mm import vma as V
    from linuxmm.process import PageTableHooks

    monkeypatch.setattr(PageTableHooks, "shmem_truncate_range", lambda *args: None)
    m = small_machine()
    p = m.spawn()
    s = p.mmap(4 * PAGE, flags="shared|anonymous")
    p.write(s, 4 * PAGE)
    assert debug.check(m) == []
    p.munmap(s, 4 * PAGE)
    assert sum("an orphaned cache page" in v for v in debug.check(m)) == 4

    monkeypatch.undo()
    monkeypatch.setattr(V, "fput", lambda mm, f: None)
    m = small_machine()
    p = m.spawn()
    s = p.mmap(4 * PAGE, flags="shared|anonymous")
    p.write(s, 4 * PAGE)
    p.munmap(s, 4 * PAGE)
    assert any("f_count 1 but 0 VMAs map it (4 pages cached)" in v for v in debug.check(m))


@pytest.mark.parametrize("round_", range(2))
def test_ids_are_per_kernel(round_):
    """anon_vma ids and inode numbers count from 1 on each machine, whatever others did."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(PAGE)
    p.write(a, PAGE)
    s = p.mmap(PAGE, flags="shared|anonymous")
    vmas = {v.vm_start: v for v in p.task.mm.vmas}
    assert vmas[a].anon_vma.id == 1 and vmas[s].vm_file.id == 1
