"""mm/page_alloc + mm/buddy: the buddy allocator, per-cpu lists, GFP zones, watermarks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linuxmm import Machine, debug
from linuxmm.include.linux import gfp as G
from linuxmm.include.linux.vmstat import NR_FREE_PAGES
from linuxmm.mm import buddy as B
from linuxmm.mm import page_alloc as pa
from linuxmm.sources import toml

GFPS = [G.GFP_KERNEL, G.GFP_USER, G.GFP_HIGHUSER_MOVABLE, G.GFP_ATOMIC, G.GFP_DMA, G.GFP_DMA32,
        G.GFP_KERNEL | G.__GFP_RECLAIMABLE, G.GFP_KERNEL | G.__GFP_COMP, G.GFP_NOWAIT]


SMALL = """
name = "small-numa"
arch = "x86_64"
cpus = 4
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x0fffffff },
        { start = 0x100000000, end = 0x11fffffff }]
[[node]]
nid = 0
cpus = [0, 1]
memory = [{ start = 0, end = 0x10fffffff }]
[[node]]
nid = 1
cpus = [2, 3]
memory = [{ start = 0x110000000, end = 0x11fffffff }]
"""


@pytest.fixture(scope="module")
def small():
    """A small two-node x86-64 machine with DMA, DMA32 and Normal (boots once; tests give back what they take)."""
    return Machine(toml.loads(SMALL))


def free_counts(m):
    return {(z.node, z.name): list(z.nr_free) for z in m.zones() if z.present_pages}


def test_boot_free_lists_match_real_dma_zone():
    """This host's DMA zone after boot: one order-8, one order-9 and three order-10 blocks."""
    m = Machine()
    m.kernel.mem_map  # the buddy lists are filled on first use
    dma = next(z for z in m.zones() if z.name == "DMA")
    assert dma.managed_pages == 3840 and list(dma.nr_free) == [0] * 8 + [1, 1, 3]
    assert debug.check(m) == []


def test_gfp_zone_and_names():
    names = ["DMA", "DMA32", "Normal", "Movable", "Device"]
    assert G.gfp_zone(G.GFP_KERNEL, names) == 2 and G.gfp_zone(G.GFP_DMA, names) == 0
    assert G.gfp_zone(G.GFP_DMA32, names) == 1 and G.gfp_zone(G.GFP_HIGHUSER_MOVABLE, names) == 3
    assert G.gfp_zone(G.GFP_HIGHUSER, names) == 2  # no ZONE_HIGHMEM on 64-bit
    assert G.format_gfp(G.GFP_KERNEL) == "GFP_KERNEL" and G.GFP_KERNEL == 0xCC0
    assert G.format_gfp(G.GFP_HIGHUSER_MOVABLE | G.__GFP_ZERO) == "GFP_HIGHUSER_MOVABLE|__GFP_ZERO"
    assert G.parse_gfp("GFP_KERNEL|__GFP_ZERO") == 0xCC0 | 0x100
    with pytest.raises(Exception, match="unknown GFP flag"):
        G.parse_gfp("GFP_BOGUS")


def test_zone_selection(small):
    k = small.kernel
    a = k.mem_map
    p = pa.alloc_pages(k, G.GFP_DMA, 0)
    assert p < 0x1000 and a.zone_idx[B.page_zone(a, p)] == 0
    q = pa.alloc_pages(k, G.GFP_DMA32, 2)
    assert 0x1000 <= q < 0x100000
    r = pa.alloc_pages(k, G.GFP_KERNEL, 0, nid=1)
    assert a.zone_node[B.page_zone(a, r)] == 1  # node-local
    for pfn, o in ((p, 0), (q, 2), (r, 0)):
        pa.__free_pages(k, pfn, o)
    assert debug.check(small) == []


def test_split_and_merge_restore_free_lists(small):
    k = small.kernel
    B.drain_all_pages(k.mem_map)
    before = free_counts(small)
    blocks = [(pa.alloc_pages(k, G.GFP_KERNEL, o), o) for o in (0, 3, 5, 9, 10, 1)]
    assert all(p is not None for p, _ in blocks)
    for p, o in blocks:
        pa.__free_pages(k, p, o)
    B.drain_all_pages(k.mem_map)
    assert free_counts(small) == before
    assert debug.check(small) == []


def test_pcp_serves_order0_in_batches(small):
    k = small.kernel
    a = k.mem_map
    B.drain_all_pages(a)
    p = pa.alloc_pages(k, G.GFP_KERNEL, 0, nid=0)
    zid = B.page_zone(a, p)
    assert a.pcp_count[0, zid] > 0  # rmqueue_bulk pulled a batch
    assert a.pcp_high[0, zid] >= a.pcp_high_min[0, zid]
    pa.__free_pages(k, p, 0)
    B.drain_all_pages(a)
    assert a.pcp_count.sum() == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10), st.sampled_from(GFPS), st.integers(0, 3)),
                min_size=1, max_size=120))
def test_random_alloc_free_keeps_invariants(small, ops):
    """No page both free and allocated, buddies merged, counters equal the lists, nothing lost."""
    k = small.kernel
    B.drain_all_pages(k.mem_map)
    before = free_counts(small)
    live = []
    for do_free, order, gfp, cpu in ops:
        if do_free and live:
            p, o, c = live.pop(order % len(live))
            pa.__free_pages(k, p, o, cpu=c)
        else:
            p = pa.alloc_pages(k, gfp | G.__GFP_NOWARN, order, cpu=cpu)
            if p is not None:
                live.append((p, order, cpu))
    assert debug.check(small) == []
    for p, o, c in live:
        pa.__free_pages(k, p, o, cpu=c)
    B.drain_all_pages(k.mem_map)
    assert debug.check(small) == []
    assert free_counts(small) == before


def test_exhaustion_fails_at_the_watermark_and_loses_nothing():
    m = Machine(preset="seed-x86-32")
    k = m.kernel
    normal = next(z for z in m.zones() if z.name == "Normal")
    # __GFP_RETRY_MAYFAIL: fail rather than call the OOM killer (with no process to kill it
    # would panic, "System is deadlocked on memory")
    gfp = G.GFP_KERNEL | G.__GFP_RETRY_MAYFAIL
    got = pa.alloc_pages_bulk(k, gfp, 1 << 20, comm="hog")
    assert pa.alloc_pages(k, gfp | G.__GFP_NOWARN, 0) is None
    a = k.mem_map
    zid = B.zone_id(k, normal)
    free = int(a.vm_stat[zid, NR_FREE_PAGES])
    # GFP_KERNEL's highest zone is Normal: it may not dip below min + lowmem_reserve[Normal]
    assert free <= normal.min_wmark_pages() + normal.lowmem_reserve[normal.idx]
    dma = next(z for z in m.zones() if z.name == "DMA")
    assert int(a.vm_stat[B.zone_id(k, dma), NR_FREE_PAGES]) <= dma.min_wmark_pages() + dma.lowmem_reserve[normal.idx]
    log = m.dmesg()
    assert "hog: page allocation failure: order:0, mode:0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), nodemask=(null)" in log
    assert "Mem-Info:" in log and "lowmem_reserve[]:" in log
    assert debug.check(m) == []
    B.free_pages_batch(a, got, np.zeros(len(got), np.int64), np.zeros(len(got), np.int64))
    B.drain_all_pages(a)
    assert debug.check(m) == []
    assert sum(z.vm_stat.get("NR_FREE_PAGES", 0) for z in m.zones()) == k.totalram_pages


def test_nowarn_is_silent_and_highmem_fallback():
    m = Machine(preset="seed-x86-32")
    k = m.kernel
    p = pa.alloc_pages(k, G.GFP_HIGHUSER_MOVABLE, 0)
    a = k.mem_map
    assert k.zone_names[a.zone_idx[B.page_zone(a, p)]] == "HighMem"
    assert pa.alloc_pages(k, G.GFP_KERNEL | G.__GFP_NOWARN, 11) is None
    assert "page allocation failure" not in m.dmesg()


def test_should_reclaim_retry_is_the_kernels_watermark_test():
    """6.18's ``should_reclaim_retry``: retry while free + reclaimable pages would meet some
    zone's MIN watermark, even with nothing reclaimable (free pages alone may do, and a
    round without progress only counts toward MAX_RECLAIM_RETRIES); an allocation whose
    zones are drained below MIN with nothing to reclaim goes to the OOM killer at once."""
    m = Machine(preset="seed-x86-32")
    k = m.kernel
    gfp, flags = G.GFP_KERNEL, pa.gfp_to_alloc_flags(G.GFP_KERNEL, 0)
    nid = k.node_ids[0]
    assert sum(pa.zone_reclaimable_pages(k, z) for z in k.NODE_DATA(nid).node_zones if z.managed_pages) == 0
    loops = [0]
    # nothing reclaimable, free far above MIN: the kernel keeps trying (the old rule,
    # "reclaimable > 0", gave up at once)
    for _ in range(pa.MAX_RECLAIM_RETRIES):
        assert pa.should_reclaim_retry(k, gfp, 0, flags, False, loops, nid)
    assert loops[0] == pa.MAX_RECLAIM_RETRIES
    assert not pa.should_reclaim_retry(k, gfp, 0, flags, False, loops, nid)  # the 17th round without progress
    loops = [5]
    assert pa.should_reclaim_retry(k, gfp, 0, flags, True, loops, nid) and loops[0] == 0  # progress resets
    assert pa.should_reclaim_retry(k, gfp, 4, flags, True, loops, nid) and loops[0] == 1  # costly: counts anyway
    got = pa.alloc_pages_bulk(k, gfp | G.__GFP_RETRY_MAYFAIL | G.__GFP_NOWARN, 1 << 20, comm="hog")
    B.drain_all_pages(k.mem_map)
    assert not pa.should_reclaim_retry(k, gfp, 0, flags, False, [0], nid)  # below MIN, nothing to reclaim
    B.free_pages_batch(k.mem_map, got, np.zeros(len(got), np.int64), np.zeros(len(got), np.int64))


def pressed_machine(monkeypatch, compiled: bool):
    """A 64 MiB machine with zram whose process writes 96 MiB and reads it back (kswapd and
    direct reclaim, swap-out and swap-in), with the slow path's first attempt made in the
    compiled batches or (``compiled`` False) every allocation below LOW stopping for Python.
    Returns the machine, whether the data read back, and the slow path's entries from a
    stopped batch."""
    from linuxmm.arch.x86.mm import fault
    from linuxmm.mm.pgtable import VP_SLOW_NOWAKE

    if not compiled:
        monkeypatch.setattr(fault, "slowpath_wakes_nothing", lambda k, vs: vs.vp.__setitem__(VP_SLOW_NOWAKE, 0))
    entries = []
    slowpath = pa.alloc_pages_slowpath_for_fault

    def spy(k, vs, cpu, comm):
        entries.append(comm)
        return slowpath(k, vs, cpu, comm)

    monkeypatch.setattr(pa, "alloc_pages_slowpath_for_fault", spy)
    m = Machine(cmdline="mem=64M")
    m.swapon("128M", kind="zram")
    p = m.spawn()
    size = 96 << 20
    addr = p.mmap(size)
    for off in range(0, size, 1 << 20):
        p.write(addr + off, 1 << 20, stride=64, value=off >> 20)
    intact = all((np.frombuffer(p.read(addr + off, 1 << 20, stride=64), np.uint8) == off >> 20).all()
                 for off in range(0, size, 1 << 20))
    monkeypatch.undo()
    return m, intact, len(entries)


def test_slowpath_first_attempt_in_compiled_batches_changes_nothing_but_the_stops(monkeypatch):
    """Below LOW, a fault's allocation goes to ``__alloc_pages_slowpath``: it wakes the
    kswapds, then tries again at MIN. While every kswapd it would wake is awake and already
    asked (``wake_all_kswapds`` would change nothing), the compiled batch makes that attempt
    itself instead of stopping for Python: the machine ends exactly as when every such
    allocation stops (every /proc/vmstat and /proc/meminfo line, the data), with far fewer
    stops (only wake-ups, direct reclaim and swap-ins the compiled path leaves to Python)."""
    m0, intact0, stops0 = pressed_machine(monkeypatch, compiled=False)
    m1, intact1, stops1 = pressed_machine(monkeypatch, compiled=True)
    assert intact0 and intact1
    assert m1.proc("vmstat") == m0.proc("vmstat")
    assert m1.proc("meminfo") == m0.proc("meminfo")
    assert stops1 < stops0 / 4, (stops0, stops1)
    assert debug.check(m1) == []


def test_page_zone_finds_the_zone_of_every_segment():
    """``page_zone``'s binary search over the memory segments: each segment's first and last
    pfn give its zone, a pfn in a hole or past the last segment none (-1); the nodes of the
    interleaved preset alternate, so neighbouring segments belong to different zones."""
    a = Machine(preset="seed-x86-interleaved").kernel.mem_map
    starts = set(a.seg_start.tolist())
    assert len(set(a.seg_zid.tolist())) > 1
    for s, e, zid in zip(a.seg_start.tolist(), a.seg_end.tolist(), a.seg_zid.tolist()):
        assert B.page_zone(a, s) == B.page_zone(a, e - 1) == zid
        if e not in starts:
            assert B.page_zone(a, e) == -1
    assert B.page_zone(a, int(a.seg_start[0]) - 1) == -1


def test_freed_folios_leave_no_page_state_behind():
    """free_pages_prepare clears the flags of every page of a freed block (each tail's
    PAGE_FLAGS_CHECK_AT_PREP, the second page's PAGE_FLAGS_SECOND), so prep_compound_page
    finds clean tails: order-2 folios split from a THP keep PG_large_rmappable in their second
    page's flags while in use; freed, no page of theirs may keep it (debug.check's free-page
    rule), and THPs allocated over the same pages have clean tails."""
    MB = 1 << 20
    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    a = p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.write(a, 8 * MB)
    m.sysfs("kernel/debug/split_huge_pages", f"{p.pid},{a:#x},{a + 8 * MB:#x},2")
    pfns = [e & ((1 << 55) - 1) for e in p.pagemap(a, 2048)]
    fl = m.kernel.mem_map.flags
    assert all(fl[pfn + 1] & (1 << 9) for pfn in pfns[::4])  # PG_large_rmappable in each second page
    p.munmap(a, 8 * MB)
    m.drain_pages()
    assert debug.check(m) == []
    assert not fl[min(pfns):max(pfns) + 1].any()
    p.write(p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed"), 8 * MB)
    heads = [pfn for pfn in (e & ((1 << 55) - 1) for e in p.pagemap(a, 2048)[::512])]
    assert all(not fl[h + 1:h + 512].any() for h in heads) and debug.check(m) == []


def test_mem_map_links_hold_pfns_in_32_bits():
    """The pcp, LRU and free-list links are 32-bit (pfn + 1), the free lists' tags and the
    folios' memcg ids 16-bit (what a fresh machine's faults write for every page frame): a
    machine with more page frames than they can name is refused when its mem_map is built,
    not silently truncated."""
    from linuxmm.errors import ConfigError

    a = Machine().kernel.mem_map
    assert {a.pcp_next.dtype, a.pcp_prev.dtype, a.lru_next.dtype, a.lru_prev.dtype, a.fa_next.dtype,
            a.fa_prev.dtype} == {np.dtype(np.int32)}
    assert a.fa_tag.dtype == a.memcg.dtype == np.dtype(np.int16)
    m = Machine(cmdline="memmap=1G@9T")  # RAM at 9 TiB: 2.4 G page frames
    with pytest.raises(ConfigError, match="32 bits"):
        m.kernel.mem_map
