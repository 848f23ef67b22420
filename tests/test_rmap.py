"""Reverse mapping (``mm/rmap.py``): anon_vma trees across fork, shmem objects and their page
caches, the compiled ``rmap_walk``, and the debug checks that watch them."""

import numpy as np
import pytest

from conftest import small_machine
from linuxmm import Machine, debug
from linuxmm.debug import _entries
from linuxmm.include.linux.sched import TASK_RUNNING
from linuxmm.mm import memory as M
from linuxmm.mm.filemap import filemap_folios
from linuxmm.mm.pgtable import _PAGE_DIRTY, _PAGE_SPECIAL, PTE_KIND_PRESENT, VP_LEVELS, pte_pfn
from linuxmm.mm.rmap import rmap_walk

PAGE = 4096
MB = 1 << 20


def mapped_entries(m) -> dict[int, set]:
    """pfn -> {(pgd, address, level)} of every page-table entry mapping it, from the tables."""
    k = m.kernel
    vs = k.vm_state
    out: dict[int, set] = {}
    for task in k.tasks.values():
        if task.state != TASK_RUNNING:
            continue
        for kind, level, row, idx, vaddr in _entries(k, task):
            e = vs.pt[row, idx]
            if kind != PTE_KIND_PRESENT or e & _PAGE_SPECIAL:
                continue
            for i in range(1 << (int(vs.shift[level]) - 12)):
                out.setdefault(int(pte_pfn(e)) + i, set()).add((int(task.mmc[M.MMC_PGD]), int(vaddr), int(level)))
    return out


def walked(m, pfn) -> set:
    return {(vma.vm_mm.pgd, addr & ~(PAGE - 1) if level == int(m.kernel.vm_state.vp[VP_LEVELS]) - 1
             else addr & ~(2 * MB - 1), level) for vma, addr, level in rmap_walk(m.kernel, pfn)}


def pfn_at(p, addr) -> int:
    return p.walk(addr)[-1]["phys"] >> 12


def test_rmap_walk_finds_every_pte_after_fork_chains_and_mremap():
    """Three generations of fork, COW in each, anonymous, THP and shared memory moved by
    mremap: from every mapped page, rmap_walk finds exactly the entries the tables hold."""
    m = Machine()  # THP needs 512 MiB or more (hugepage_init)
    p = m.spawn()
    a = p.mmap(32 * PAGE)
    h = p.mmap(4 * MB)
    p.madvise(h, 4 * MB, "hugepage")
    s = p.mmap(16 * PAGE, flags="shared|anonymous")
    for addr, n in ((a, 32 * PAGE), (h, 4 * MB), (s, 16 * PAGE)):
        p.write(addr, n, value=1)
    c1 = p.fork()
    c1.write(a, 8 * PAGE, value=2)
    c2 = c1.fork()
    a2 = c2.mremap(a, 32 * PAGE, 32 * PAGE, fixed=h + 8 * MB)  # moved: pages keep their index
    c2.write(a2 + 16 * PAGE, 8 * PAGE, value=3)
    c3 = c2.fork()
    c3.write(a2, 4 * PAGE, value=4)
    h3 = c3.mremap(h, 4 * MB, 4 * MB, fixed=h + 16 * MB + PAGE)  # unaligned: the THPs split
    c3.write(h3, 8 * PAGE, value=5)
    p.mremap(s, 16 * PAGE, 16 * PAGE, fixed=h + 32 * MB)
    entries = mapped_entries(m)
    assert len(entries) > 1000 and any(level != 3 for es in entries.values() for _, _, level in es)
    assert {pfn: walked(m, pfn) for pfn in entries} == entries
    depth, av = 0, next(v for v in c3.task.mm.vmas if v.vm_start == a2).anon_vma
    while av.parent is not av:
        depth, av = depth + 1, av.parent
    assert depth == 3 and debug.check(m) == []


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
    assert {vma.vm_mm for vma, _, _ in rmap_walk(k, shared)} == {p.task.mm, c.task.mm}
    c.write(a, PAGE)  # COW: the copy belongs to the child's anon_vma, the original to the parent alone
    copy = pfn_at(c, a)
    assert int(k.mem_map.mapping[copy]) >> 1 == cvma.anon_vma.id
    assert [(vma.vm_mm, addr) for vma, addr, _ in rmap_walk(k, copy)] == [(c.task.mm, a)]
    assert [(vma.vm_mm, addr) for vma, addr, _ in rmap_walk(k, shared)] == [(p.task.mm, a)]


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
    pfns = np.array([pfn for _, pfn in filemap_folios(m.kernel, mapping, 0, 1 << 40)])
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


def test_madv_remove_punches_a_hole_in_every_process_mapping_the_object():
    """Linux 6.18 (``shmem_fallocate`` PUNCH_HOLE): MADV_REMOVE in one process takes the pages
    out of every process sharing the object (found through its i_mmap) and frees them; the
    hole reads as zeros everywhere."""
    m = small_machine()
    p = m.spawn()
    s = p.mmap(8 * PAGE, flags="shared|anonymous")
    p.write(s, 8 * PAGE, value=9)
    c = p.fork()
    c.read(s, 8 * PAGE)
    t = p.mremap(s, 8 * PAGE, 8 * PAGE, fixed=s + 64 * MB)  # another address, the same offsets
    p.madvise(t + 2 * PAGE, 3 * PAGE, "remove")
    assert meminfo_kb(m, "Shmem") == 20 and debug.check(m) == []
    assert c.read(s, 8 * PAGE) == p.read(t, 8 * PAGE) == bytes([9, 9, 0, 0, 0, 9, 9, 9])


def test_check_catches_an_orphaned_cache_page(monkeypatch):
    """The injected bugs: the object goes but its pages stay cached; the object stays with
    nobody holding it."""
    from linuxmm.mm import shmem
    from linuxmm.mm import vma as V

    monkeypatch.setattr(shmem, "shmem_undo_range", lambda *args: None)
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
    assert any("'/dev/zero (deleted)': i_count 1 but 0 files hold it" in v for v in debug.check(m))


def test_check_catches_a_page_rmap_cannot_reach():
    """The injected bug: fork forgets to link the child's VMA into the parent's anon_vma."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE)
    c = p.fork()
    assert debug.check(m) == []
    (pvma,), (cvma,) = p.task.mm.vmas, c.task.mm.vmas
    pvma.anon_vma.rb_root.remove(cvma)
    m.kernel.rmap.seq += 1
    found = debug.check(m)
    assert sum("rmap_walk finds 1 page-table entries but 2 map it" in v for v in found) == 4
    assert any("does not have it in its tree" in v for v in found)


def test_check_catches_a_stale_rmap_table(monkeypatch):
    """The injected bug: growing a VMA in place does not mark the reverse-map table stale,
    so rmap_walk misses the pages faulted into the new part."""
    from linuxmm.mm import vma as V

    m = small_machine()
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE)
    assert debug.check(m) == []

    def forgetful(mm, *changed):
        mm.vma_seq += 1

    monkeypatch.setattr(V, "vmas_changed", forgetful)
    assert p.mremap(a, 4 * PAGE, 8 * PAGE) == a
    p.write(a + 4 * PAGE, 4 * PAGE)
    assert sum("rmap_walk finds 0 page-table entries but 1 map it" in v for v in debug.check(m)) == 4


@pytest.mark.parametrize("round_", range(2))
def test_ids_are_per_kernel(round_):
    """anon_vma ids and inode numbers count from 1 on each machine, whatever others did."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(PAGE)
    p.write(a, PAGE)
    s = p.mmap(PAGE, flags="shared|anonymous")
    vmas = {v.vm_start: v for v in p.task.mm.vmas}
    # inode numbers: after the boot's four (the internal shm mount's root, /, /dev, /dev/shm)
    assert vmas[a].anon_vma.id == 1 and vmas[s].vm_file.id == 5


def test_rmap_walk_finds_migration_entries():
    """try_to_migrate replaces every pte of a page by a migration entry; rmap_walk with
    PVMW_MIGRATION (remove_migration_ptes' walk) finds exactly those, the plain walk none."""
    from linuxmm.mm import pgtable as P

    m = small_machine("transparent_hugepage=never")
    k = m.kernel
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE)
    c = p.fork()
    pfn = pfn_at(p, a + PAGE)
    where = {(vma.vm_mm, addr) for vma, addr, _ in rmap_walk(k, pfn)}
    assert where == {(p.task.mm, a + PAGE), (c.task.mm, a + PAGE)}
    vs, fmt = k.vm_state, int(k.vm_state.vp[P.VP_SWP_FMT])
    for q in (p, c):
        last = [r for r in q.walk(a + PAGE) if not r["folded"]][-1]
        k.mem_map.mapcount[pfn] -= 1  # the rmap lets go; the references stay with migration
        pte = np.uint64(P.swp_entry_to_pte(P.make_readable_migration_entry(pfn), fmt))
        M.set_entry(vs, last["table_row"], last["index"], pte)
        k.tlb.flush_range(q.task, a + PAGE, a + 2 * PAGE)
    vs.nstat[k.mem_map.zone_node[M.B.page_zone(k.mem_map, pfn)], P.NS_ANON_MAPPED] -= 1
    assert rmap_walk(k, pfn) == []
    assert {(vma.vm_mm, addr) for vma, addr, _ in rmap_walk(k, pfn, migration=True)} == where
    assert debug.check(m) == []
    last = [r for r in c.walk(a + PAGE) if not r["folded"]][-1]
    vs.pt[last["table_row"], last["index"]] = np.uint64(P.swp_entry_to_pte(P.make_readable_migration_entry(pfn + 1), fmt))
    assert f"pfn {pfn + 1:#x}: rmap_walk finds 0 migration entries but 1 stand for it" in debug.check(m)


# ---- reclaim's walks: folio_referenced and try_to_unmap (mm/rmap.c) ------------------------
PM_PFN_MASK = (1 << 55) - 1


def _pfn(p, addr):
    return p.pagemap(addr)[0] & PM_PFN_MASK


def _walks(m):
    """What reclaim hands its compiled walks: the rmap table with each row's mm and every
    mm's counters, a scratch array and the mms to flush."""
    from linuxmm.mm.rmap import EMPTY_I64, rmap_batch, rmap_scratch

    k = m.kernel
    batch = rmap_batch(k, EMPTY_I64)
    return k, batch, rmap_scratch(batch.rmap_rows), np.zeros(batch.mmcs.shape[0], np.int64)


def test_folio_referenced_harvests_young_bits_once_per_vma():
    """Two processes read a page of a shared file: two VMAs referenced it, with their flags;
    the young bits are cleared, so a second harvest finds nothing."""
    from linuxmm.include.linux.mm_types import VM_EXEC
    from linuxmm.mm.rmap import folio_referenced

    m = Machine(cmdline="mem=96M")
    m.create_file("/f", 4 * 4096, chunk=4096)
    p, q = m.spawn(), m.spawn()
    a = p.mmap(4 * 4096, "rx", "shared", fd=p.open("/f"))
    b = q.mmap(4 * 4096, "r", "shared", fd=q.open("/f"))
    p.read(a, 4096)
    q.read(b, 4096)
    pfn = _pfn(p, a)
    assert pfn == _pfn(q, b)
    k, b, scratch, flush_mm = _walks(m)
    args = (k.mem_map, k.vm_state, b.rmap_keys, b.rmap_off, b.rmap_rows, b.row_mm, pfn, scratch, flush_mm)
    referenced, vm_flags = folio_referenced(*args)
    assert referenced == 2 and vm_flags & VM_EXEC
    assert folio_referenced(*args) == (0, 0)
    assert not flush_mm.any()  # x86 clears a pte's young bit without a flush


def test_try_to_unmap_of_a_file_folio_clears_every_pte_and_dirties_the_folio():
    """A file folio mapped by two processes loses both ptes: RssFile and NR_FILE_MAPPED
    follow, a dirty bit in a pte dirties the clean folio, and the next access faults it back
    in with the data."""
    from linuxmm.include.linux.page_flags import PG_dirty_mask
    from linuxmm.mm.rmap import try_to_unmap
    from linuxmm.mm.vmscan import try_to_unmap_flush

    m = Machine(cmdline="mem=96M")
    m.create_file("/f", 4 * 4096, chunk=4096, value=5)  # order-0 folios
    p, q = m.spawn(), m.spawn()
    fd = p.open("/f", "rw")
    a = p.mmap(4 * 4096, "rw", "shared", fd=fd)
    b = q.mmap(4 * 4096, "r", "shared", fd=q.open("/f"))
    p.write(a, 4096, stride=64, value=9)
    p.fsync(fd)  # written back: the folio is clean, its ptes write-protected and clean
    q.read(b, 4096)
    pfn = _pfn(p, a)
    k, batch, scratch, flush_mm = _walks(m)
    assert not k.mem_map.flags[pfn] & PG_dirty_mask
    row, idx = M.pte_slot(k.mem_map, k.vm_state, int(p.task.mmc[M.MMC_PGD]), a)
    k.vm_state.pt[row, idx] |= np.uint64(_PAGE_DIRTY)  # a store the CPU marked in the pte alone
    mapped = int(m.proc("meminfo").split("Mapped:")[1].split()[0])
    rss_p = p.smaps_rollup()["Rss"]
    assert try_to_unmap(k.mem_map, k.vm_state, batch.rmap_keys, batch.rmap_off, batch.rmap_rows, batch.row_mm,
                        batch.mmcs, pfn, scratch, flush_mm)
    assert flush_mm.sum() == 2  # both mms: their TLBs are flushed, their counters copied back
    try_to_unmap_flush(k, batch, flush_mm)
    assert k.mem_map.flags[pfn] & PG_dirty_mask  # the pte's dirty bit moved to the folio
    assert int(m.proc("meminfo").split("Mapped:")[1].split()[0]) == mapped - 4
    assert p.smaps_rollup()["Rss"] == rss_p - 4
    assert p.pagemap(a)[0] >> 63 == 0 and q.pagemap(b)[0] >> 63 == 0
    assert debug.check(m) == []
    assert q.read(b, 4096, stride=64) == bytes([9]) * 64


def test_rmap_batch_keeps_the_owners_until_the_tasks_change():
    """Reclaim's batches share one owners table (each row's running task) while neither the
    rmap table nor the tasks change; a new task, even one mapping nothing yet, rebuilds it."""
    from linuxmm.mm.rmap import EMPTY_I64, rmap_batch

    m = Machine(cmdline="mem=96M")
    p = m.spawn()
    p.write(p.mmap(4 * PAGE), 4 * PAGE)
    k = m.kernel
    first = rmap_batch(k, EMPTY_I64)
    assert rmap_batch(k, EMPTY_I64).row_mm is first.row_mm
    m.spawn()
    again = rmap_batch(k, EMPTY_I64)
    assert again.row_mm is not first.row_mm and again.row_mm.tolist() == first.row_mm.tolist() == [0]


def test_mm_counters_are_rows_of_one_kernel_array():
    """Each task's mm counters are its row of the kernel's array (what reclaim's batches
    index by ``row_mm``): the array grows as processes come, the rows in use keeping their
    counters; a task that exits gives its row back to the next one and keeps its counters."""
    from linuxmm.include.linux.rmap import RMAP_PGD
    from linuxmm.mm.rmap import EMPTY_I64, rmap_batch

    m = Machine(cmdline="mem=96M")
    k = m.kernel
    procs = [m.spawn() for _ in range(3)]
    for i, p in enumerate(procs):
        p.write(p.mmap((i + 1) * PAGE), (i + 1) * PAGE)
    procs += [p.fork() for p in procs]  # more mms than the array first had rows for
    reg = k.rmap
    assert all(p.task.mmc.base is reg.mmcs for p in procs)
    assert [int(p.task.mmc[M.MM_ANONPAGES]) for p in procs] == [1, 2, 3, 1, 2, 3]
    batch = rmap_batch(k, EMPTY_I64)
    assert batch.mmcs is reg.mmcs and (batch.row_mm >= 0).all()
    assert (batch.rmap_rows[:, RMAP_PGD] == reg.mmcs[batch.row_mm, M.MMC_PGD]).all()
    gone = procs[0].task
    row = reg.mm_slots.index(gone)
    procs[0].exit()
    assert gone.mmc.base is not reg.mmcs and reg.mm_slots[row] is None
    assert m.spawn().task.mmc.ctypes.data == reg.mmcs[row].ctypes.data
    assert debug.check(m) == []
