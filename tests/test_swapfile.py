"""Swap (mm/swapfile.py, mm/swap_state.py, mm/page_io.py: mm/swapfile.c, mm/swap_state.c,
mm/page_io.c, the swap half of mm/memory.c, Linux 6.18): swapon/swapoff, /proc/swaps, the
cluster allocator, MADV_PAGEOUT's swap-out, do_swap_page with readahead, fork and zap of swap
ptes, zram, and debug.check's swap invariants. This host has no swap (and zram needs root):
the expectations are the kernel's rules and its selftests' (tools/testing/selftests/mm/cow.c
swaps out with MADV_PAGEOUT and checks pagemap's swapped bit; madv_populate.c)."""

import errno

import numpy as np
import pytest

from linuxmm import KernelError, Machine, debug
from linuxmm.include.linux.swap import CI_NEXT, FRAG_LISTS, FREE_LIST, LIST_FIRST, LIST_LAST, NONFULL_LISTS
from linuxmm.include.linux.vmstat import PSWPIN, PSWPOUT, SWAP_RA, SWAP_RA_HIT
from linuxmm.mm.pgtable import NS_SWAPCACHE, VP_NR_SWAP_PAGES
from linuxmm.mm import swap_state
from linuxmm.mm.swapfile import folio_alloc_swap, swap_alloc_entries, swap_release_entries
from linuxmm.mm.vmscan import reclaim_pages

PAGE = 4096
PM_SWAP = 1 << 62


def meminfo(m) -> dict[str, int]:
    return {ln.split(":")[0]: int(ln.split()[1]) for ln in m.proc("meminfo").splitlines()}


def swap_offset(entry: int) -> tuple[int, int]:
    """pagemap's (type, offset) of a swapped page (bits 0-4 and 5-54)."""
    return entry & 0x1F, (entry >> 5) & ((1 << 50) - 1)


def evict_swap_cache(m) -> None:
    """Let the swap writes complete, then reclaim the clean swap-cache folios no pte maps (what
    memory pressure would do: ``shrink_folio_list`` -> ``__remove_mapping``)."""
    m.run(1)
    table = m.kernel.vm_state.swap_table
    reclaim_pages(m.kernel, table[(table != 0) & (table & 1 == 0)] >> 1)  # the folios, not shadows


def written(m, pages=64, value_of=lambda i: i % 250 + 1):
    p = m.spawn()
    a = p.mmap(pages * PAGE)
    for i in range(pages):
        p.write(a + i * PAGE, PAGE, stride=64, value=value_of(i))
    return p, a


@pytest.fixture(scope="module")
def machine():
    return Machine(cmdline="transparent_hugepage=never")


def test_proc_swaps_is_byte_exact_and_priorities_count_down():
    """swap_show's columns; automatic priorities -2, -3; swapoff of -2 moves -3 up to -2;
    SwapTotal excludes the header page (mkswap's page 0)."""
    m = Machine()
    assert m.swapon("64M", kind="zram") == "/dev/zram0"
    assert m.swapon(8 << 20, kind="zram") == "/dev/zram1"
    assert m.proc("swaps") == (
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/zram0                              partition\t65532\t\t0\t\t-2\n"
        "/dev/zram1                              partition\t8188\t\t0\t\t-3\n")
    assert meminfo(m)["SwapTotal"] == meminfo(m)["SwapFree"] == 65532 + 8188
    m.swapoff("/dev/zram0")
    assert m.proc("swaps").splitlines()[1].split()[-1] == "-2"
    assert m.swapon("4M", kind="file", priority=7) == "/swapfile"
    assert m.proc("swaps").splitlines()[1] == "/swapfile                               file\t\t4092\t\t0\t\t7"
    assert "Adding 4092k swap on /swapfile.  Priority:7 extents:1 across:4092k SS" in m.dmesg()


@pytest.mark.parametrize("kw, err", [
    (dict(size="2T", kind="partition", path="/dev/vda"), errno.EINVAL),  # larger than the disk
    (dict(size="1G", kind="partition", path="/dev/sdz"), errno.ENOENT),
    (dict(size="1G", kind="file", path="/no/such/dir/swap"), errno.ENOENT),
    (dict(size="1G", kind="zram", priority=-3), errno.EINVAL),
    (dict(size="1G", kind="zram", priority=40000), errno.EINVAL),
    (dict(size="4K", kind="zram"), errno.EINVAL),  # only the header
    (dict(size="1G", kind="floppy"), errno.EINVAL),
    (dict(size="lots", kind="zram"), errno.EINVAL),
])
def test_swapon_bad_input_is_the_kernels_errno(kw, err):
    m = Machine()
    with pytest.raises(KernelError) as e:
        m.swapon(**kw)
    assert e.value.errno == err


def test_duplicate_swapon_is_ebusy_and_swapoff_of_nothing_einval():
    m = Machine()
    m.swapon("16M", kind="partition", path="/dev/vda")
    with pytest.raises(KernelError) as e:
        m.swapon("16M", kind="partition", path="/dev/vda")
    assert e.value.errno == errno.EBUSY
    with pytest.raises(KernelError) as e:
        m.swapoff("/dev/zram9")
    assert e.value.errno == errno.EINVAL


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda"), ("file", None)])
def test_pageout_then_read_brings_every_line_back(kind, path):
    """MADV_PAGEOUT swaps out private anonymous pages (cow.c's swapout step: pagemap shows
    them swapped), RSS moves to VmSwap; on a disk the folios stay in the swap cache until
    their write completes and reclaim frees them. Reading them back is a major fault that
    returns every line written."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("32M", kind=kind, path=path)
    p, a = written(m)
    p.write(a + 5 * PAGE + 128, 64, value=99)
    rss = int(p.proc("status").split("VmRSS:")[1].split()[0])
    p.madvise(a, 64 * PAGE, "pageout")
    assert all(e & PM_SWAP for e in p.pagemap(a, 64))
    status = p.proc("status")
    assert int(status.split("VmSwap:")[1].split()[0]) == 256
    assert int(status.split("VmRSS:")[1].split()[0]) == rss - 256
    assert m.kernel.vm_events[PSWPOUT] == 64
    assert meminfo(m)["SwapFree"] == meminfo(m)["SwapTotal"] - 256
    assert debug.check(m) == []
    if kind != "zram":
        assert meminfo(m)["SwapCached"] == 256  # under writeback: __remove_mapping waits
        evict_swap_cache(m)
        assert meminfo(m)["SwapCached"] == 0 and debug.check(m) == []
    majflt = p.majflt
    data = p.read(a, 64 * PAGE, stride=64)
    expect = np.repeat(np.arange(64) % 250 + 1, 64).astype(np.uint8)
    expect[5 * 64 + 2] = 99
    assert np.array_equal(np.frombuffer(data, np.uint8), expect)
    assert p.majflt > majflt and m.kernel.vm_events[PSWPIN] == 64
    assert debug.check(m) == []


def test_slots_come_from_cluster_0_after_the_header_then_rotate_among_equal_priorities():
    """folio_alloc_swap: the first slot is offset 1 (slot 0 is the header); the CPU keeps its
    cluster until it is full (511 slots), then swap_alloc_slow rotates to the next area of
    the same priority (plist_requeue)."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram", priority=5)
    m.swapon("16M", kind="zram", priority=5)
    p, a = written(m, 520)
    p.madvise(a, 520 * PAGE, "pageout")
    slots = [swap_offset(e) for e in p.pagemap(a, 520)]
    assert slots[:511] == [(0, off) for off in range(1, 512)]
    assert slots[511:] == [(1, off) for off in range(1, 10)]


def test_higher_priority_fills_first():
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")  # -2
    m.swapon("16M", kind="zram", priority=0)
    p, a = written(m, 8)
    p.madvise(a, 8 * PAGE, "pageout")
    assert {swap_offset(e)[0] for e in p.pagemap(a, 8)} == {1}


def test_fork_shares_slots_and_exit_frees_them():
    """copy_nonpresent_pte takes a slot reference per child (SwapPss halves); the child's exit
    drops its references (free_swap_and_cache); the last one frees the slots."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")
    p, a = written(m, 16)
    p.madvise(a, 16 * PAGE, "pageout")
    c = p.fork()
    assert c.smaps_rollup()["Swap"] == 64 and c.smaps_rollup()["SwapPss"] == 32
    assert debug.check(m) == []
    c.exit()
    assert p.smaps_rollup()["SwapPss"] == 64
    p.munmap(a, 16 * PAGE)
    assert meminfo(m)["SwapFree"] == meminfo(m)["SwapTotal"]
    assert debug.check(m) == []


@pytest.mark.parametrize("written_first", [True, False])
def test_exit_frees_the_swap_cache_but_not_writes_in_flight(written_first):
    """An exit's zap drops each swap pte's slot reference (free_swap_and_cache_nr); a slot
    left held only by the swap cache loses its folio when __try_to_reclaim_swap may take it,
    which folio_swapcache_freeable refuses while the folio is under writeback. So with the
    disk's writes complete the exit frees folios, slots and both memcg charges; with the
    writes still in flight the folios stay in the swap cache, charged to memory and swap,
    after the writes complete too (nothing maps them: 6.18 frees them in reclaim, here
    memory.reclaim) - what a memcg OOM kill leaves when it lands amid swap writes."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("64M")  # a disk: writes complete on the clock
    cg = m.cgroup("job")
    p = m.spawn(cgroup="job")
    a = p.mmap(8 << 20)
    p.write(a, 8 << 20)
    p.madvise(a, 8 << 20, "pageout")
    if written_first:
        m.run(1)
    p.exit()
    m.run(1)
    current, swap = int(cg.read("memory.current")), int(cg.read("memory.swap.current"))
    if written_first:
        assert current == swap == meminfo(m)["SwapCached"] == 0
    else:
        assert current >= 8 << 20 and swap == 8 << 20 and meminfo(m)["SwapCached"] == 8 << 10
        cg.write("memory.reclaim", str(current))
        assert int(cg.read("memory.current")) < 1 << 20 and int(cg.read("memory.swap.current")) == 0
    assert meminfo(m)["SwapFree"] == meminfo(m)["SwapTotal"] and debug.check(m) == []


def test_shared_swapped_page_is_read_once_and_copied_on_write():
    """After fork a swapped page is not exclusive: the first reader reads it into the swap cache
    (SwapCached), the other maps the same folio (a minor fault), a write copies it."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="partition", path="/dev/vda")
    p, a = written(m, 4)
    p.madvise(a, 4 * PAGE, "pageout")
    c = p.fork()
    assert c.read(a, PAGE) == bytes([1])
    assert meminfo(m)["SwapCached"] >= 4
    maj = p.majflt
    assert p.read(a, PAGE) == bytes([1]) and p.majflt == maj
    c.write(a, 64, value=50)
    assert p.read(a, PAGE) == bytes([1]) and c.read(a, PAGE) == bytes([50])
    assert debug.check(m) == []


def test_exclusive_swap_pte_maps_writable_without_a_copy():
    """do_swap_page: the exclusive marker of the swap pte lets the page map writable at once
    (no second, write-protect fault)."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="partition", path="/dev/vda")
    p, a = written(m, 1)
    p.madvise(a, PAGE, "pageout")
    p.read(a, PAGE)
    flt = p.minflt + p.majflt
    p.write(a, 64, value=3)
    assert p.minflt + p.majflt == flt


def test_vma_readahead_follows_page_cluster():
    """swap_vma_readahead: a sequential fault run grows the window up to 1 << page-cluster; with
    vm.page-cluster=0 every page is its own major fault."""
    for cluster, few in ((3, True), (0, False)):
        m = Machine(cmdline="transparent_hugepage=never")
        m.sysctl("vm.page-cluster", cluster)
        m.swapon("16M", kind="partition", path="/dev/vda")
        p, a = written(m, 64)
        p.madvise(a, 64 * PAGE, "pageout")
        evict_swap_cache(m)
        p.read(a, 64 * PAGE)
        ev = m.kernel.vm_events
        if few:
            assert p.majflt < 32 and ev[SWAP_RA] > 0 and ev[SWAP_RA_HIT] > 0
        else:
            assert p.majflt == 64 and ev[SWAP_RA] == 0
        assert debug.check(m) == []


def test_swapoff_brings_every_page_back():
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")
    p, a = written(m, 32)
    p.madvise(a, 32 * PAGE, "pageout")
    c = p.fork()
    m.swapoff("/dev/zram0")
    assert m.proc("swaps").count("\n") == 1
    assert "VmSwap:\t       0 kB" in p.proc("status") and c.smaps_rollup()["Swap"] == 0
    assert meminfo(m)["SwapTotal"] == meminfo(m)["SwapCached"] == 0
    assert debug.check(m) == []
    assert c.read(a, 32 * PAGE) == bytes(i % 250 + 1 for i in range(32))
    maj = p.majflt
    assert p.read(a, 32 * PAGE) == bytes(i % 250 + 1 for i in range(32)) and p.majflt == maj


def test_swapoff_takes_the_whole_area_out_of_the_swap_counts_first(monkeypatch):
    """6.18's swapoff subtracts the area's pages from nr_swap_pages and total_swap_pages before
    try_to_unuse, and each slot it frees counts back in (swap_range_free): while it runs
    nr_swap_pages is the other area's free slots less the area's slots still in use, which
    /proc/meminfo adds back to SwapFree and SwapTotal (si_swapinfo). Afterwards only the
    other area counts; a swapoff failing with ENOMEM puts the whole area back
    (reinsert_swap_info): every free slot counts again."""
    from linuxmm.mm.swapfile import get_nr_swap_pages

    m = Machine(cmdline="transparent_hugepage=never")
    name = m.swapon("16M", priority=10, kind="zram")  # takes the pages
    m.swapon("8M", priority=5, kind="zram")
    k = m.kernel
    area, other = k.swap.swap_info
    p, a = written(m, 32)
    p.madvise(a, 32 * PAGE, "pageout")
    slots = k.vm_state.swap_map[area.base + 1:area.base + area.max]
    seen = []
    read = swap_state.read_swap_cache_async

    def counted(k, entry, readahead):
        in_use = int(np.count_nonzero(slots))
        seen.append((get_nr_swap_pages(k), meminfo(m)["SwapFree"], meminfo(m)["SwapTotal"], in_use))
        return read(k, entry, readahead)

    monkeypatch.setattr(swap_state, "read_swap_cache_async", counted)
    m.swapoff(name)
    assert len(seen) == 32 and [s[3] for s in seen] == list(range(32, 0, -1))
    for nr, free_kb, total_kb, in_use in seen:
        assert nr == other.pages - in_use
        assert free_kb == other.pages * 4 and total_kb == (other.pages + in_use) * 4
    assert get_nr_swap_pages(k) == other.pages
    assert meminfo(m)["SwapFree"] == meminfo(m)["SwapTotal"] == other.pages * 4

    name = m.swapon("16M", priority=10, kind="zram")
    p.madvise(a, 32 * PAGE, "pageout")
    before = meminfo(m)
    seen.clear()
    monkeypatch.setattr(swap_state, "read_swap_cache_async",
                        lambda k, entry, readahead: None if len(seen) == 8 else counted(k, entry, readahead))
    with pytest.raises(KernelError) as e:
        m.swapoff(name)
    assert e.value.errno == errno.ENOMEM and len(seen) == 8
    assert meminfo(m)["SwapTotal"] == before["SwapTotal"] and meminfo(m)["SwapFree"] == before["SwapFree"] + 8 * 4
    assert debug.check(m) == []


def test_zram_memory_follows_the_compression_ratio():
    """zram holds what it stores in zsmalloc pages (NR_ZSPAGES): ratio 4 -> a quarter page per
    slot; same-filled pages (zeros here) take none; freed slots give the pages back."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram", compression_ratio=4)
    p, a = written(m, 64)
    p.write(a + 64, 64 * PAGE, stride=PAGE, value=255)  # a second value in each page
    zero = p.mmap(16 * PAGE)
    p.write(zero, 16 * PAGE, value=0)
    p.madvise(a, 64 * PAGE, "pageout")
    p.madvise(zero, 16 * PAGE, "pageout")
    zs = int(m.proc("vmstat").split("nr_zspages ")[1].split()[0])
    assert zs == 16
    p.munmap(a, 64 * PAGE)
    m.proc("swaps")  # the next swap operation sees the freed slots (sync_clusters)
    assert int(m.proc("vmstat").split("nr_zspages ")[1].split()[0]) == 0


def test_pageout_without_swap_keeps_the_pages():
    m = Machine(cmdline="transparent_hugepage=never")
    p, a = written(m, 8)
    p.madvise(a, 8 * PAGE, "pageout")
    assert not any(e & PM_SWAP for e in p.pagemap(a, 8))
    assert p.read(a, 8 * PAGE) == bytes(range(1, 9))


def test_total_swap_enters_the_commit_limit():
    """vm_commit_limit adds total_swap_pages (overcommit_memory=2's CommitLimit)."""
    m = Machine()
    before = meminfo(m)["CommitLimit"]
    m.swapon("64M", kind="zram")
    assert meminfo(m)["CommitLimit"] == before + 65532


# ---- debug.check catches broken swap bookkeeping ------------------------------------------------


def swapped(m):
    m.swapon("16M", kind="zram")
    p, a = written(m, 4)
    p.madvise(a, 4 * PAGE, "pageout")
    assert debug.check(m) == []
    return p, a


def test_check_catches_a_swap_map_count_off_by_one():
    m = Machine(cmdline="transparent_hugepage=never")
    swapped(m)
    m.kernel.vm_state.swap_map[m.kernel.swap.swap_info[0].base + 1] += 1
    assert any("swap_map count 2 but 1 swap ptes" in v for v in debug.check(m))


def test_check_catches_a_swap_pte_naming_a_free_slot():
    m = Machine(cmdline="transparent_hugepage=never")
    swapped(m)
    vs = m.kernel.vm_state
    vs.swap_map[m.kernel.swap.swap_info[0].base + 2] = 0
    vs.vp[VP_NR_SWAP_PAGES] += 1
    assert any("slot 2: swap_map count 0 but 1 swap ptes" in v for v in debug.check(m))


def test_check_catches_swapfree_drift_and_a_lost_swap_cache_count():
    m = Machine(cmdline="transparent_hugepage=never")
    swapped(m)
    vs = m.kernel.vm_state
    vs.vp[VP_NR_SWAP_PAGES] -= 1
    assert any("SwapFree counts" in v for v in debug.check(m))
    vs.vp[VP_NR_SWAP_PAGES] += 1
    vs.nstat[0, NS_SWAPCACHE] += 1
    assert any("NR_SWAPCACHE" in v for v in debug.check(m))


def test_check_catches_a_cluster_count_the_frees_did_not_keep():
    m = Machine(cmdline="transparent_hugepage=never")
    swapped(m)
    m.kernel.vm_state.swap_ci_count[m.kernel.swap.swap_info[0].base // 512] -= 1
    assert any("cluster 0: count 4 but 5 slots in use" in v for v in debug.check(m))


def test_check_catches_a_zram_stored_count_the_frees_did_not_keep():
    m = Machine(cmdline="transparent_hugepage=never")
    swapped(m)
    m.kernel.swap.swap_info[0].zs_nr += 1
    assert any("zram counts 1 compressed slots but holds 0" in v for v in debug.check(m))  # same-filled pages


def swap_in_python(m, p, addrs) -> None:
    """The Python half of ``do_swap_page`` at each address, as the faulting task."""
    from linuxmm.kernel.fork import running, set_current

    k = m.kernel
    with running(k, p.task):
        set_current(k, p.task)
        for addr in addrs:
            assert swap_state.do_swap_page(k, p.task, addr, False)


def test_compiled_zram_swap_in_matches_the_python_half():
    """The fault batch reads a zram slot only its pte refers to itself (the compiled half of
    do_swap_page): the same data, faults, refaults, vmstat and meminfo as the Python half
    (the reference), and only the shared slot after fork goes to Python."""
    runs = []
    for compiled in (True, False):
        m = Machine(cmdline="transparent_hugepage=never")
        m.swapon("32M", kind="zram")
        p, a = written(m)
        p.madvise(a, 64 * PAGE, "pageout")
        if not compiled:
            swap_in_python(m, p, range(a, a + 64 * PAGE, PAGE))
        data = p.read(a, 64 * PAGE, stride=64)
        runs.append((data, p.majflt, p.minflt, m.proc("vmstat"), m.proc("meminfo"), debug.check(m)))
    assert runs[0] == runs[1]
    assert runs[0][1] == 64 and runs[0][5] == []
    assert "workingset_refault_anon 64\n" in runs[0][3] and "pswpin 64\n" in runs[0][3]


def test_partition_without_a_path_gets_a_disk_of_its_own():
    m = Machine(cmdline="mem=256M")
    assert m.swapon("64M") == "/dev/vdb"
    assert m.disks() == ["vda", "vdb"]
    assert m.proc("swaps").splitlines()[1].split()[:3] == ["/dev/vdb", "partition", "65532"]
    assert m.swapon("16M", kind="partition") == "/dev/vdc"


def alloc_swap(k, order: int) -> int:
    """``folio_alloc_swap`` of ``order`` (compiled): the first entry of the run, -1 for none."""
    return int(folio_alloc_swap(k.mem_map, k.vm_state, order))


def release_swap(k, entries, order: int) -> None:
    """Give back runs of ``order`` reserved and not taken."""
    swap_release_entries(k.vm_state, np.asarray(entries, np.int64), np.full(len(entries), order, np.int64))


def test_large_runs_take_free_clusters_of_their_order():
    """folio_alloc_swap of order N (CONFIG_THP_SWAP): a PMD-size run takes a whole free
    cluster (never the header's nonfull one); an mTHP order takes a free cluster that then
    serves that order alone, the CPU continuing in it (percpu_swap_cluster per order), while
    order 0 keeps to its own cluster. A swap file gives no large run (no SWP_BLKDEV)."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")  # 8 clusters; cluster 0 holds the header
    k = m.kernel
    runs = [alloc_swap(k, 9), alloc_swap(k, 9), alloc_swap(k, 4), alloc_swap(k, 4),
            alloc_swap(k, 0), alloc_swap(k, 2)]
    assert runs == [512, 1024, 1536, 1552, 1, 2048]
    si = k.swap.swap_info[0]
    assert [int(si.ci_order[c]) for c in range(5)] == [0, 9, 9, 4, 2]
    for run, order in zip(runs, (9, 9, 4, 4, 0, 2)):
        release_swap(k, [run], order)
    assert debug.check(m) == []
    m.swapon("16M", kind="file", path="/swapfile", priority=10)
    assert alloc_swap(k, 9) == -1  # the file is tried first and gives up the large run
    assert alloc_swap(k, 0) == 2  # order 0 goes on in the CPU's cluster (swap_alloc_fast)


def test_order_0_steals_from_larger_orders_once_no_cluster_is_free():
    """With no free cluster left, another large order gets no run from a cluster serving
    order 4, order 0 takes slots from it (cluster_alloc_swap_entry's stealing), a PMD-size
    run fails, and a cluster emptied again is free for any order (free_cluster resets its
    order)."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("4M", kind="zram")  # clusters 0 (the header's) and 1
    k = m.kernel
    mthp = alloc_swap(k, 4)
    assert mthp == 512
    assert alloc_swap(k, 2) == -1  # the order-4 cluster serves no other large order
    small = swap_alloc_entries(k.mem_map, k.vm_state, 512)
    assert list(small[:511]) == list(range(1, 512)) and small[511] == 512 + 16
    assert alloc_swap(k, 9) == -1 and alloc_swap(k, 4) == 512 + 32
    release_swap(k, [mthp, 512 + 32], 4)
    release_swap(k, small[511:], 0)
    assert alloc_swap(k, 9) == 512


def test_check_catches_a_cluster_list_of_another_order():
    """debug.check: a cluster on the frag list of order 4 must serve order 4."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")
    k = m.kernel
    alloc_swap(k, 4)
    si = k.swap.swap_info[0]
    c = int(si.cluster_lists[FRAG_LISTS + 4, LIST_FIRST])
    si.ci_order[c] = 2
    assert any("on the list of flag" in v for v in debug.check(m))


def test_cluster_lists_are_linked_lists_in_the_kernel_order():
    """The cluster lists are index arrays (list_heads): at swapon the header's cluster is on
    the nonfull list and the rest free, in order; a cluster taken for order 4 leaves the free
    list's head for the frag list of order 4; debug.check follows the links and catches a
    broken one."""
    m = Machine(cmdline="transparent_hugepage=never")
    m.swapon("16M", kind="zram")
    k = m.kernel
    si = k.swap.swap_info[0]

    def walk(lst):
        out, c = [], int(si.cluster_lists[lst, LIST_FIRST])
        while c >= 0:
            out.append(c)
            c = int(si.cluster_info[c, CI_NEXT])
        return out

    assert walk(NONFULL_LISTS) == [0] and walk(FREE_LIST) == list(range(1, 8))
    alloc_swap(k, 4)
    assert walk(FREE_LIST) == list(range(2, 8)) and walk(FRAG_LISTS + 4) == [1]
    assert not [v for v in debug.check(m) if "cluster" in v]  # (the run is reserved, no folio holds it)
    si.cluster_lists[FREE_LIST, LIST_LAST] = 6
    assert any("its head says 6" in v for v in debug.check(m))
