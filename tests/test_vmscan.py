"""Page reclaim (mm/vmscan.py) as 6.18's rules state it: kswapd is woken when an allocation
finds its zones below LOW and sleeps once a zone is above HIGH; direct reclaim happens only
when an allocation cannot be met above MIN; page cache is reclaimed so a file larger than
RAM can be read (twice) and reads back intact; MemAvailable is ``si_mem_available``'s
estimate of what /proc shows; page cache joins the inactive list and a second read activates
it, as this host shows (tests/probe/file_lru_probe.c -> tests/data/host-linux-6.18/file_lru_probe.jsonl)."""

import json
import re

import pytest
from conftest import HOST_SNAP, meminfo, vmstat

import linuxmm
from linuxmm import debug
from linuxmm.include.linux.mmzone import (LRU_ACTIVE_FILE, LRU_INACTIVE_FILE, VMSCAN_THROTTLE_NOPROGRESS,
                                          VMSCAN_THROTTLE_WRITEBACK)
from linuxmm.include.linux.pagevec import FOLIO_BATCH_SIZE
from linuxmm.include.linux.swap import SWAP_CLUSTER_MAX
from linuxmm.include.linux.vmstat import NR_ISOLATED_FILE
from linuxmm.kernel.kthread import TASK_INTERRUPTIBLE
from linuxmm.kernel.sysctl import HZ
from linuxmm.mm import buddy as B
from linuxmm.mm import vmscan
from linuxmm.mm.swap import lru_add_drain_all
from linuxmm.mm.vmscan import ino_xa_table

MiB = 1 << 20
PAGE = 4096


def zoneinfo(m):
    """{zone name: {field: value}} of node 0 from /proc/zoneinfo (pages)."""
    zones = {}
    for block in re.split(r"^Node \d+, zone\s+", m.proc("zoneinfo"), flags=re.MULTILINE)[1:]:
        name = block.split("\n", 1)[0].strip()
        fields = dict(re.findall(r"^\s+(?:pages )?(free|min|low|high|managed|nr_inactive_file|nr_active_file)\s+(\d+)$",
                                 block, re.MULTILINE))
        zones[name] = {key: int(val) for key, val in fields.items()}
        zones[name]["protection"] = [int(x) for x in re.search(r"protection: \(([^)]*)\)", block).group(1).split(",")]
    return zones


def write_clean(p, fd, size, step=8 * MiB):
    """Write ``size`` bytes (byte value = MiB index & 0xff), syncing every ``step`` so the cache
    stays reclaimable (no dirty throttling is simulated yet)."""
    for off in range(0, size, step):
        for mib in range(off, min(off + step, size), MiB):
            p.pwrite(fd, MiB, offset=mib, value=(mib >> 20) & 0xFF)
        p.fsync(fd)


LRUS = pytest.mark.parametrize("lru_gen", [False, True], ids=["classic", "mglru"])  # both LRUs (mm/lru_gen.py)


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "mglru"])
def small(request):
    """A 96 MiB machine with a clean 64 MiB file cached, kswapd asleep (under each LRU)."""
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=request.param)
    p = m.spawn()
    fd = p.open("/data", "rw", create=True)
    write_clean(p, fd, 64 * MiB)
    m.run(1)
    return m, p, fd


def usable(z, mark):
    """The zone can serve a movable allocation above ``mark`` (its protection for the
    highest zone counted, as zone_watermark_ok does)."""
    return z["free"] > z[mark] + max(z["protection"])


STEP = 256 + 32  # pages one 1 MiB write may allocate, with slack for a page-table page


@LRUS
def test_kswapd_wakes_below_low_and_sleeps_above_high(lru_gen):
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=lru_gen)
    m.sysctl("vm.watermark_boost_factor", 0)  # no boosted watermark to wake it earlier (next test)
    k = m.kernel
    kswapd = k.kthreads["kswapd0"]
    wake_all_kswapds, calls = k.alloc_hooks.wake_all_kswapds, []

    def spy(k, order, gfp, nid):  # the slow path's wake-up, with the zones as it found them
        below = not any(usable(z, "low") for z in zoneinfo(m).values() if z["managed"])
        before = kswapd.nr_wakeups
        wake_all_kswapds(k, order, gfp, nid)
        calls.append((below, kswapd.nr_wakeups > before))

    k.alloc_hooks.wake_all_kswapds = spy
    p = m.spawn()
    fd = p.open("/stream", "rw", create=True)
    for mib in range(128):  # 4 KiB writes: order-0 folios (a large one may wake kswapd for its order)
        p.pwrite(fd, MiB, offset=mib * MiB, value=mib, chunk=PAGE)
        p.fsync(fd)
        if kswapd.nr_wakeups:
            break
    assert kswapd.nr_wakeups, "kswapd was never woken"
    assert calls and all(below for below, _ in calls)  # only allocations that found every zone below LOW
    assert sum(woke for _, woke in calls) == kswapd.nr_wakeups  # and only those woke it
    m.run(2)  # kswapd balances on the clock, naps HZ/10, then sleeps
    assert kswapd.state == TASK_INTERRUPTIBLE
    zones = [z for z in zoneinfo(m).values() if z["managed"]]
    assert any(usable(z, "high") for z in zones), zones
    ev = vmstat(m, "pageoutrun", "pgscan_kswapd", "pgsteal_kswapd")
    assert ev["pageoutrun"] >= 1 and ev["pgsteal_kswapd"] > 0 and ev["pgscan_kswapd"] >= ev["pgsteal_kswapd"]
    runs = kswapd.nr_runs
    m.run(2)  # balanced: nothing wakes it
    assert kswapd.nr_runs == runs
    assert debug.check(m) == []


def test_direct_reclaim_only_below_min(small):
    m, p, fd = small
    stalls = lambda: sum(v for n, v in vmstat(m, "allocstall_dma", "allocstall_dma32", "allocstall_normal",
                                              "allocstall_movable").items())
    before = stalls()
    for mib in range(64, 160):  # grow the file in 4 KiB writes: order-0 page-cache folios
        zones = zoneinfo(m)
        s0 = stalls()
        p.pwrite(fd, MiB, offset=mib * MiB, value=mib, chunk=PAGE)
        p.fsync(fd)
        if stalls() > s0:  # this megabyte's allocations found no zone that could stay above MIN
            assert not any(usable(z, "min") and z["free"] > z["min"] + max(z["protection"]) + STEP
                           for z in zones.values() if z["managed"]), zones
    assert stalls() > before, "no direct reclaim: the test did not press memory"
    assert vmstat(m, "pgsteal_direct")["pgsteal_direct"] > 0
    assert debug.check(m) == []


def test_direct_reclaim_returns_what_each_call_reclaimed():
    """``try_to_free_pages`` returns the pages that call reclaimed (its PGSTEAL_DIRECT), call
    after call: the compiled node pass's buffers a direct reclaimer takes are reused, their
    counts starting from zero each time."""
    from linuxmm.include.linux import gfp as G

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    write_clean(p, p.open("/f", "w", create=True), 32 * MiB)
    k = m.kernel
    for _ in range(3):
        before = vmstat(m, "pgsteal_direct")["pgsteal_direct"]
        got = vmscan.try_to_free_pages(k, G.GFP_KERNEL, 0)
        assert got == vmstat(m, "pgsteal_direct")["pgsteal_direct"] - before >= vmscan.SWAP_CLUSTER_MAX
    assert len(k.reclaim_buffers) == 1
    assert debug.check(m) == []


def test_allow_direct_reclaim_is_half_the_min_reserves():
    """``allow_direct_reclaim``: direct reclaim waits while the free pages of the node's zones
    up to Normal are at most half their MIN watermarks (zones with free pages but nothing
    reclaimable left out), and kswapd is woken for it."""
    from linuxmm.include.linux.vmstat import NR_FREE_PAGES
    from linuxmm.mm import buddy as B
    from linuxmm.mm import page_alloc as pa

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    write_clean(p, p.open("/f", "w", create=True), 16 * MiB)
    m.run(1)
    k, pgdat = m.kernel, m.kernel.NODE_DATA(0)
    a, normal = k.mem_map, k.zone_names.index("Normal")
    zones = [z for z in pgdat.node_zones[:normal + 1] if z.managed_pages]
    cache = max(zones, key=lambda z: pa.zone_reclaimable_pages(k, z))
    assert vmscan.allow_direct_reclaim(k, pgdat) and pgdat.kswapd.state == TASK_INTERRUPTIBLE
    saved = a.vm_stat[:, NR_FREE_PAGES].copy()
    try:
        reserve = sum(int(a.wmark[B.zone_id(k, z), 0]) for z in zones)
        for z in zones:
            a.vm_stat[B.zone_id(k, z), NR_FREE_PAGES] = 0
        a.vm_stat[B.zone_id(k, cache), NR_FREE_PAGES] = reserve // 2 + 1
        assert vmscan.allow_direct_reclaim(k, pgdat) and pgdat.kswapd.state == TASK_INTERRUPTIBLE
        a.vm_stat[B.zone_id(k, cache), NR_FREE_PAGES] = reserve // 2
        assert not vmscan.allow_direct_reclaim(k, pgdat)
        assert pgdat.kswapd.state != TASK_INTERRUPTIBLE and pgdat.kswapd_highest_zoneidx <= normal
    finally:
        a.vm_stat[:, NR_FREE_PAGES] = saved


@LRUS
def test_file_larger_than_ram_read_twice(lru_gen):
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=lru_gen)
    p = m.spawn()
    fd = p.open("/big", "rw", create=True)
    size = 160 * MiB
    write_clean(p, fd, size)
    for _ in range(2):
        for mib in range(size // MiB):
            data = p.pread(fd, MiB, mib * MiB)
            assert data == bytes([mib & 0xFF]) * (MiB // 64), f"MiB {mib} read back wrong"
        assert debug.check(m) == []
    mi = meminfo(m, "MemTotal", "Cached", "Inactive(file)", "Active(file)")
    assert mi["Cached"] < mi["MemTotal"]
    batched = int(m.kernel.mem_map.fbatch_nr.sum())  # order-0 folios still in an lru_add batch
    assert (mi["Inactive(file)"] + mi["Active(file)"]) // 4 + batched == mi["Cached"] // 4  # the rest are listed
    ev = vmstat(m, "pgsteal_direct", "pgsteal_kswapd", "pgscan_file", "pgsteal_file", "workingset_refault_file")
    assert ev["pgsteal_file"] == ev["pgsteal_direct"] + ev["pgsteal_kswapd"] >= size // PAGE
    assert ev["pgscan_file"] >= ev["pgsteal_file"]
    assert ev["workingset_refault_file"] >= (size - mi["MemTotal"] * 1024) // PAGE  # the second pass refaults


def test_memavailable_follows_si_mem_available(small):
    """MemAvailable = free - totalreserve + pagecache - min(pagecache/2, sum of LOW) +
    reclaimable slab - min(it/2, LOW), from /proc alone (totalreserve_pages: each zone's
    largest protection plus HIGH, at most its managed pages)."""
    m, _, _ = small
    zones = zoneinfo(m)
    mi = meminfo(m, "MemFree", "MemAvailable", "Active(file)", "Inactive(file)", "KReclaimable")
    low = sum(z["low"] for z in zones.values())
    reserve = sum(min(max(z["protection"]) + z["high"], z["managed"]) for z in zones.values() if z["managed"])
    pagecache = (mi["Active(file)"] + mi["Inactive(file)"]) // 4
    slab = mi["KReclaimable"] // 4
    want = mi["MemFree"] // 4 - reserve + pagecache - min(pagecache // 2, low) + slab - min(slab // 2, low)
    assert pagecache > 1000  # the file's cache counts
    assert mi["MemAvailable"] == max(want, 0) * 4
    assert mi["MemAvailable"] > mi["MemFree"] + mi["Inactive(file)"] // 4


@LRUS
def test_dirty_page_cache_survives_reclaim(lru_gen):
    """Dirty page cache is never freed unwritten: reclaim marks it PG_reclaim and leaves it to
    the flushers (it wakes them), freeing clean folios meanwhile; the data reads back."""
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=lru_gen)
    p = m.spawn()
    fd = p.open("/dirty", "rw", create=True)
    p.pwrite(fd, 24 * MiB, offset=0, value=7)  # dirty, never synced by us
    clean = p.open("/clean", "rw", create=True)
    write_clean(p, clean, 96 * MiB)
    for mib in range(24):
        assert p.pread(fd, MiB, mib * MiB) == bytes([7]) * (MiB // 64)
    assert vmstat(m, "pgsteal_file")["pgsteal_file"] > 0
    assert debug.check(m) == []


# ---- page cache on the LRU, against this host (tests/probe/file_lru_probe.c) -----------------

FILE_LRU = {r["step"]: r for r in map(json.loads, (HOST_SNAP / "file_lru_probe.jsonl").read_text().splitlines())}


def test_page_cache_joins_inactive_and_a_second_read_activates_as_on_this_host():
    """64 MiB written in 4 KiB write()s and synced: +64 MiB Inactive(file); a first read in
    64 KiB read()s only references it; the second activates every page (pgactivate counts
    all but the pages still waiting in the lru_add batch, which activate there uncounted)."""
    m = linuxmm.Machine()
    p = m.spawn()
    fd = p.open("/probe", "rw", create=True)
    steps = {
        "write_fsync": lambda: (p.pwrite(fd, 64 * MiB, offset=0, value=7, chunk=PAGE), p.fsync(fd)),
        "read_once": lambda: p.pread(fd, 64 * MiB, 0, chunk=64 << 10),
        "read_twice": lambda: p.pread(fd, 64 * MiB, 0, chunk=64 << 10),
    }
    for name, step in steps.items():
        before = {**meminfo(m, "Active(file)", "Inactive(file)"), **vmstat(m, "pgactivate")}
        step()
        after = {**meminfo(m, "Active(file)", "Inactive(file)"), **vmstat(m, "pgactivate")}
        host = FILE_LRU[name]
        got = {"active_file_kb": after["Active(file)"] - before["Active(file)"],
               "inactive_file_kb": after["Inactive(file)"] - before["Inactive(file)"],
               "pgactivate": after["pgactivate"] - before["pgactivate"]}
        for key, want in host.items():
            if key in got:  # the host's other processes add a little noise: 2% or one batch
                assert abs(got[key] - want) <= max(abs(want) // 50, FOLIO_BATCH_SIZE * 4), (name, key, got, host)
    assert debug.check(m) == []


# ---- mapped page cache: folio_referenced and try_to_unmap (mm/rmap.py) ----------------------

PM_PFN_MASK = (1 << 55) - 1
KPF_ACTIVE = 6


def test_mapped_page_cache_is_unmapped_and_reclaimed_on_its_second_trip():
    """A clean file mapped and read once: reclaim first finds its ptes young (the fault's
    reference: kept with PG_referenced), then old with PG_referenced set
    (FOLIOREF_RECLAIM_CLEAN): unmapped (Mapped and RssFile fall) and freed. The mapping still
    reads the file's bytes (faulted back in from the disk)."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/mapped", "rw", create=True)
    write_clean(p, fd, 32 * MiB)
    a = p.mmap(32 * MiB, "r", "shared", fd=fd)
    assert p.read(a, 32 * MiB, stride=MiB) == bytes((mib & 0xFF) for mib in range(32))
    mapped = meminfo(m, "Mapped")["Mapped"]
    assert mapped >= 24 * 1024  # (some of it may have gone while the rest was read)
    other = p.open("/other", "rw", create=True)
    write_clean(p, other, 128 * MiB)
    assert meminfo(m, "Mapped")["Mapped"] < mapped // 2
    assert p.smaps_rollup()["Rss"] < 16 * 1024
    assert debug.check(m) == []
    assert p.read(a, 32 * MiB, stride=MiB) == bytes((mib & 0xFF) for mib in range(32))


def test_mapped_dirty_page_cache_is_written_not_dropped():
    """Stores through a shared mapping dirty the page cache; under pressure reclaim unmaps
    those folios but leaves them to writeback: the data reads back."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/shared", "rw", create=True)
    write_clean(p, fd, 16 * MiB)
    a = p.mmap(16 * MiB, "rw", "shared", fd=fd)
    p.write(a, 16 * MiB, stride=64, value=0x5A)  # every line
    other = p.open("/other", "rw", create=True)
    write_clean(p, other, 128 * MiB)
    assert p.pread(fd, 16 * MiB, 0, chunk=MiB) == bytes([0x5A]) * (16 * MiB // 64)
    assert debug.check(m) == []


def test_shrink_active_list_keeps_referenced_executable_file_folios_active():
    """``shrink_active_list``: of two active mapped files read through their mappings, the
    folios of the executable one (VM_EXEC, young ptes) stay active; the other's deactivate."""

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    maps = {}
    for name, prot in (("/text", "rx"), ("/data", "r")):
        fd = p.open(name, "rw", create=True)
        p.pwrite(fd, MiB, offset=0, value=1, chunk=PAGE)
        p.fsync(fd)
        for _ in range(2):  # the second use activates every folio
            p.pread(fd, MiB, 0, chunk=PAGE)
        maps[name] = p.mmap(MiB, prot, "shared", fd=fd)
        p.read(maps[name], MiB)
    k = m.kernel
    lru_add_drain_all(k)
    before = vmstat(m, "pgdeactivate")["pgdeactivate"]
    sc = vmscan.scan_control(nr_to_reclaim=0, reclaim_idx=len(k.zone_names) - 1)
    vmscan.shrink_active_list(k, k.NODE_DATA(0).lruvec, 1 << 20, LRU_ACTIVE_FILE, sc)

    def active(addr):
        pfns = [e & PM_PFN_MASK for e in p.pagemap(addr, MiB // PAGE)]
        return {bool(m.kpageflags(pfn)[0] >> KPF_ACTIVE & 1) for pfn in pfns}

    assert active(maps["/text"]) == {True}
    assert active(maps["/data"]) == {False}
    assert vmstat(m, "pgdeactivate")["pgdeactivate"] - before >= MiB // PAGE


# ---- node reclaim (vm.zone_reclaim_mode, min_unmapped_ratio, min_slab_ratio) ------------------


def test_min_unmapped_and_min_slab_ratio_set_the_node_fields():
    """``setup_min_unmapped_ratio``/``setup_min_slab_ratio``: each zone's managed pages times
    the ratio, per cent, summed per node; writing the sysctl recomputes them."""
    m = linuxmm.Machine(cmdline="mem=96M")
    pgdat = m.kernel.NODE_DATA(0)
    managed = [z.managed_pages for z in m.zones()]
    assert pgdat.min_unmapped_pages == sum(n * 1 // 100 for n in managed)
    assert pgdat.min_slab_pages == sum(n * 5 // 100 for n in managed)
    m.sysctl("vm.min_unmapped_ratio", 30)
    m.sysctl("vm.min_slab_ratio", 0)
    assert pgdat.min_unmapped_pages == sum(n * 30 // 100 for n in managed)
    assert pgdat.min_slab_pages == 0


def node_reclaim_run(mode: int, min_unmapped_ratio: int = 1):
    """A 96 MiB machine with 56 MiB of clean page cache, then 40 MiB of anonymous memory
    touched: the vmstat deltas of the anonymous part."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/cache", "rw", create=True)
    write_clean(p, fd, 56 * MiB)
    m.sysctl("vm.zone_reclaim_mode", mode)
    m.sysctl("vm.min_unmapped_ratio", min_unmapped_ratio)
    names = ("zone_reclaim_success", "zone_reclaim_failed", "pgsteal_direct", "pgsteal_kswapd", "allocstall_dma32",
             "allocstall_movable", "pageoutrun")
    before = vmstat(m, *names)
    wakeups = m.kernel.NODE_DATA(0).kswapd.nr_wakeups
    a = p.mmap(40 * MiB, "rw")
    p.write(a, 40 * MiB)
    after = vmstat(m, *names)
    assert debug.check(m) == []
    return {n: after[n] - before[n] for n in names}, m.kernel.NODE_DATA(0).kswapd.nr_wakeups - wakeups


def test_zone_reclaim_mode_reclaims_the_node_before_falling_back():
    """With vm.zone_reclaim_mode=1 an allocation finding its zone below LOW reclaims the node
    itself (``node_reclaim``: zone_reclaim_success, pgsteal_direct) and kswapd is not needed;
    with 0 it falls back and the slow path wakes kswapd."""
    on, on_wakeups = node_reclaim_run(1)
    off, off_wakeups = node_reclaim_run(0)
    assert on["zone_reclaim_success"] > 0 and on["pgsteal_direct"] > 0
    assert on["allocstall_dma32"] == on["allocstall_movable"] == 0
    assert on_wakeups < off_wakeups
    assert off["zone_reclaim_success"] == off["zone_reclaim_failed"] == 0 and off["pgsteal_kswapd"] > 0


def test_node_reclaim_leaves_page_cache_below_min_unmapped_pages():
    """min_unmapped_pages is node reclaim's floor: at vm.min_unmapped_ratio=100 no node has
    more unmapped page cache than that, so node_reclaim returns NODE_RECLAIM_FULL without
    scanning (neither zone_reclaim counter moves) and the allocations fall back."""
    full, _ = node_reclaim_run(1, min_unmapped_ratio=100)
    assert full["zone_reclaim_success"] == full["zone_reclaim_failed"] == 0
    assert full["pgsteal_kswapd"] > 0


@pytest.mark.parametrize("small", [False], indirect=True, ids=["classic"])  # the classic lists' shrink_inactive_list
def test_too_many_isolated_throttles_a_direct_reclaimer_once(small):
    """A direct reclaimer finding more pages isolated than its inactive list holds (others
    reclaiming) sleeps HZ/50 on the clock (``reclaim_throttle``), then gives the list up for
    this pass; kswapd never waits."""

    m, _, _ = small
    k = m.kernel
    k.mem_map.node_stat[0, NR_ISOLATED_FILE] += 1 << 20  # held by other reclaimers
    reclaim_idx = len(k.zone_names) - 1
    t0 = k.clock.now
    sc = vmscan.scan_control(nr_to_reclaim=32, reclaim_idx=reclaim_idx)
    assert vmscan.shrink_inactive_list(k, k.NODE_DATA(0).lruvec, 32, LRU_INACTIVE_FILE, sc) == 0
    assert k.clock.now - t0 == vmscan.VMSCAN_THROTTLE_ISOLATED_NS
    kswapd_sc = vmscan.scan_control(nr_to_reclaim=32, reclaim_idx=reclaim_idx, reclaimer=vmscan.RECLAIMER_KSWAPD)
    assert vmscan.shrink_inactive_list(k, k.NODE_DATA(0).lruvec, 32, LRU_INACTIVE_FILE, kswapd_sc) > 0
    k.mem_map.node_stat[0, NR_ISOLATED_FILE] -= 1 << 20


def test_a_boosted_watermark_wakes_kswapd():
    """Page cache filling RAM takes pages from another migratetype's pageblock: the steal
    boosts the zone's watermark (watermark_boost_factor) and ``rmqueue`` wakes kswapd at once
    (ZONE_BOOSTED_WATERMARK, cleared), before any allocation found the zones below LOW."""

    m = linuxmm.Machine(cmdline="mem=96M")
    k = m.kernel
    kswapd = k.kthreads["kswapd0"]
    wake_all_kswapds, slow_wakes = k.alloc_hooks.wake_all_kswapds, []

    def spy(k, order, gfp, nid):
        slow_wakes.append(nid)
        wake_all_kswapds(k, order, gfp, nid)

    k.alloc_hooks.wake_all_kswapds = spy
    p = m.spawn()
    fd = p.open("/stream", "rw", create=True)
    for mib in range(128):
        p.pwrite(fd, MiB, offset=mib * MiB, value=mib, chunk=PAGE)
        if kswapd.nr_wakeups:
            break
    assert kswapd.nr_wakeups == 1 and not slow_wakes
    assert k.mem_map.boost.any() and not (k.mem_map.zflags & B.ZONE_BOOSTED_WATERMARK).any()
    m.run(2)  # kswapd reclaims the boost and clears it
    assert not k.mem_map.boost.any()


def test_reclaim_throttle_noprogress_waits_a_jiffy_only_while_most_of_the_cache_is_dirty():
    """6.18's ``skip_throttle_noprogress``: a direct reclaimer that made no progress sleeps
    one jiffy (VMSCAN_THROTTLE_NOPROGRESS) only when more than half the node's reclaimable
    pages are dirty or under writeback; with clean page cache it does not wait."""

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/f", "w", create=True)
    p.pwrite(fd, 2 * MiB, offset=0)  # all of the page cache, dirty, below the flushers' thresholds
    k, pgdat = m.kernel, m.kernel.NODE_DATA(0)
    t0 = k.clock.now
    vmscan.reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_NOPROGRESS)
    assert k.clock.now - t0 == vmscan.RECLAIM_THROTTLE_NS[VMSCAN_THROTTLE_NOPROGRESS] == 10**9 // HZ
    p.fsync(fd)
    t0 = k.clock.now
    vmscan.reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_NOPROGRESS)
    assert k.clock.now == t0


def test_reclaim_throttle_writeback_ends_once_enough_pages_are_written():
    """VMSCAN_THROTTLE_WRITEBACK sleeps up to HZ/10; the writes completing meanwhile count in
    nr_throttled_written (``acct_reclaim_writeback``) and end the wait once more than
    SWAP_CLUSTER_MAX pages per waiter were written; with nothing in flight it lasts HZ/10."""

    m = linuxmm.Machine(cmdline="mem=96M")
    m.sysctl("vm.dirty_background_bytes", 4096)  # the flusher starts writing at once
    p = m.spawn()
    fd = p.open("/f", "w", create=True)
    p.pwrite(fd, 8 * MiB, offset=0)
    k, pgdat = m.kernel, m.kernel.NODE_DATA(0)
    t0 = k.clock.now
    vmscan.reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_WRITEBACK)
    waited = k.clock.now - t0
    written = vmstat(m, "nr_throttled_written")["nr_throttled_written"]
    assert SWAP_CLUSTER_MAX < written and 0 < waited < vmscan.RECLAIM_THROTTLE_NS[VMSCAN_THROTTLE_WRITEBACK]
    assert pgdat.nr_writeback_throttled == 0
    p.fsync(fd)
    t0 = k.clock.now
    vmscan.reclaim_throttle(k, pgdat, VMSCAN_THROTTLE_WRITEBACK)
    assert k.clock.now - t0 == vmscan.RECLAIM_THROTTLE_NS[VMSCAN_THROTTLE_WRITEBACK] == 10**9 // 10
    assert vmstat(m, "nr_throttled_written")["nr_throttled_written"] == written


def test_ino_xa_table_follows_the_address_spaces():
    """Reclaim's inode -> xarray table (``ino_xa_table``) is kept between passes and rebuilt
    when a file's address_space comes or goes."""

    m = linuxmm.Machine(cmdline="mem=64M")
    p = m.spawn()
    k = m.kernel
    before = ino_xa_table(k)
    assert ino_xa_table(k) is before  # nothing changed: the same table
    p.close(p.open("/new", "rw", create=True))
    ino = max(k.rmap.address_spaces)
    table = ino_xa_table(k)
    assert table[ino] == k.rmap.address_spaces[ino].xa_id >= 0
    assert debug.check(m) == []
    m.unlink("/new")
    assert ino not in k.rmap.address_spaces and (len(ino_xa_table(k)) <= ino or ino_xa_table(k)[ino] == -1)
    assert debug.check(m) == []


def pressure_run(m):
    """A 64 MiB machine with zram: 24 MiB of clean page cache, then 96 MiB of anonymous
    memory written and read back (kswapd and direct reclaim of both types, swap-ins)."""
    m.swapon("128M", kind="zram")
    p = m.spawn()
    fd = p.open("/data", "rw", create=True)
    write_clean(p, fd, 24 * MiB)
    addr = p.mmap(96 * MiB)
    for off in range(0, 96 * MiB, MiB):
        p.write(addr + off, MiB, stride=64, value=off >> 20)
    for off in range(0, 96 * MiB, 4 * MiB):
        p.read(addr + off, MiB, stride=4096)
    m.run(1)
    return m.proc("vmstat"), m.proc("meminfo"), m.proc("zoneinfo")


def test_compiled_node_pass_gives_the_python_path_s_results(monkeypatch):
    """``shrink_node_pass`` and kswapd's ``balance_pgdat_pass`` (global reclaim, classic LRU,
    the root memcg alone: one compiled call per shrink_node and per kswapd step) leave the
    machine as the Python path (``shrink_node_memcgs``, ``balance_pgdat_step_python``) does:
    every counter of /proc/vmstat, meminfo and zoneinfo the same."""
    calls = []
    compiled = vmscan.run_node_pass
    monkeypatch.setattr(vmscan, "run_node_pass", lambda *args: calls.append(1) or compiled(*args))
    fast = pressure_run(linuxmm.Machine(cmdline="mem=64M transparent_hugepage=never"))
    assert len(calls) > 10
    monkeypatch.setattr(vmscan, "node_pass_covers", lambda k, sc: False)
    calls.clear()
    m = linuxmm.Machine(cmdline="mem=64M transparent_hugepage=never")
    slow = pressure_run(m)
    assert not calls
    assert vmstat_of(fast[0])["pgscan_direct"] > 0 and vmstat_of(fast[0])["pgsteal_kswapd"] > 0
    assert fast == slow
    assert debug.check(m) == []


def vmstat_of(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+) (\d+)$", text, re.MULTILINE)}
