"""mm/huge_memory: the one THP policy that hugepage_init sets and the fault path, smaps and
khugepaged read."""

from conftest import small_machine

MB = 1 << 20


def test_small_machine_turns_thp_off():
    """hugepage_init: below 512 MiB of RAM THP is ``never``, even with transparent_hugepage=always
    on the command line; a MADV_HUGEPAGE region then faults 4 KiB pages only."""
    m = small_machine("transparent_hugepage=always")
    assert m.kernel.transparent_hugepage_flags == "never"
    p = m.spawn()
    a = p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.madvise(a, 8 * MB, "hugepage")
    p.write(a, 8 * MB)
    assert p.minflt == 2048
    assert p.smaps_rollup()["AnonHugePages"] == 0
    assert "thp_fault_alloc 0\n" in m.proc("/proc/vmstat")
    assert "THPeligible:           0\n" in p.proc("smaps")


THP_ENABLED = "kernel/mm/transparent_hugepage/enabled"


def test_admin_enables_thp_through_sysfs_on_a_small_machine():
    """hugepage_init's comment: the admin can still enable THP through /sys. The write starts
    khugepaged, which raises min_free_kbytes, and the fault path takes THPs from then on."""
    m = small_machine()
    assert m.sysfs(THP_ENABLED) == "always madvise [never]\n"
    before = int(m.sysctl("vm.min_free_kbytes"))
    p = m.spawn()
    a = p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.madvise(a, 8 * MB, "hugepage")
    p.write(a, 2 * MB)
    m.sysfs("/sys/" + THP_ENABLED, "madvise")
    assert m.sysfs(THP_ENABLED) == "always [madvise] never\n"
    assert int(m.sysctl("vm.min_free_kbytes")) > before
    p.write(a + 2 * MB, 6 * MB)
    assert p.minflt == 512 + 3  # 4 KiB pages before the write, one THP per 2 MiB after
    assert p.smaps_rollup()["AnonHugePages"] == 6 * 1024


def test_sysfs_bad_input():
    import errno

    import pytest

    from linuxmm import KernelError

    m = small_machine()
    for path, value, code in ((THP_ENABLED, "sometimes", errno.EINVAL), ("kernel/mm/nothing", None, errno.ENOENT)):
        with pytest.raises(KernelError) as e:
            m.sysfs(path, value)
        assert e.value.errno == code
    assert m.sysfs(THP_ENABLED) == "always madvise [never]\n"


def test_thp_read_fault_prepares_the_anon_vma():
    """do_huge_pmd_anonymous_page calls vmf_anon_prepare before it looks at the access: a read
    that maps the huge zero page gives the VMA its anon_vma as a write would."""
    from linuxmm import Machine

    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    a = p.mmap(4 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.read(a, 4096)
    assert p.smaps_rollup()["Rss"] == 0  # the huge zero page: no RSS
    assert p.task.mm.vmas[0].anon_vma is not None


# ---- splitting folios: split_huge_page_to_list_to_order, the deferred split queue ---------------

SPLIT = "kernel/debug/split_huge_pages"
KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_THP = 1 << 15, 1 << 16, 1 << 22


def thp_machine():
    from linuxmm import Machine

    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    return m, p, p.mmap(8 * MB, addr=0x40000000, flags="private|anonymous|fixed")


def vmstat(m, name: str) -> int:
    return int(next(line.split()[1] for line in m.proc("/proc/vmstat").splitlines() if line.split()[0] == name))


def pfns(p, addr: int, npages: int):
    import numpy as np

    return np.array([e & ((1 << 55) - 1) for e in p.pagemap(addr, npages)])


def folio_orders(m, p, addr: int, npages: int) -> list[int]:
    """The order of the folio behind each page (kpageflags: a head, then its tails)."""
    pfns = [e & ((1 << 55) - 1) for e in p.pagemap(addr, npages)]
    flags = m.kpageflags(min(pfns), max(pfns) - min(pfns) + 1)
    orders, i = [], 0
    while i < npages:
        f = flags[pfns[i] - min(pfns)]
        n = 1
        if f & KPF_COMPOUND_HEAD:
            while i + n < npages and flags[pfns[i + n] - min(pfns)] & KPF_COMPOUND_TAIL:
                n += 1
        orders.append(n.bit_length() - 1)
        i += n
    return orders


def test_split_huge_pages_splits_to_the_order_asked():
    """split_huge_pages_write "pid,0xstart,0xend,order": each PMD-mapped THP of the range is
    split uniformly into folios of that order (kpageflags shows their heads and tails), the
    data stays, the ptes map the same pages (RSS unchanged for data that is not zero), and
    thp_split_page counts each one."""
    from linuxmm import debug

    m, p, a = thp_machine()
    p.write(a, 8 * MB, value=3)
    assert p.smaps_rollup()["AnonHugePages"] == 8 * 1024
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 8 * MB:#x},2")
    assert p.smaps_rollup()["AnonHugePages"] == 0
    assert p.smaps_rollup()["Rss"] == 8 * 1024
    assert folio_orders(m, p, a, 2048) == [2] * 512
    assert vmstat(m, "thp_split_page") == 4 and vmstat(m, "thp_split_page_failed") == 0
    assert p.read(a, 8 * MB, stride=4096) == b"\x03" * 2048
    assert debug.check(m) == []


def test_split_maps_zero_filled_pages_to_the_shared_zeropage():
    """remap_page with RMP_USE_SHARED_ZEROPAGE (6.12+): after a split to order 0 a zero-filled
    page maps the shared zeropage and is freed, so RssAnon drops (split_huge_page_test's
    split_pmd_zero_pages); pages holding data stay. A later write faults a new page in."""
    from linuxmm import debug

    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=0)
    p.write(a + 2 * MB, 2 * MB, value=9)
    zeroed = pfns(p, a, 512)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 4 * MB:#x}")
    assert p.smaps_rollup()["Rss"] == 2 * 1024
    assert (m.kernel.mem_map.refcount[zeroed] == 0).all()  # freed
    assert p.read(a, 4096 * 2, stride=4096) == b"\x00\x00"
    p.write(a, 4096, value=1)
    assert p.read(a, 1, stride=1) == b"\x01" and p.smaps_rollup()["Rss"] == 2 * 1024 + 4
    assert debug.check(m) == []


def test_folio_split_around_a_page():
    """The in_folio_offset form (``folio_split``, non-uniform): the folio holding that page is
    of the order asked, the rest the buddies of each order above it."""
    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=1)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 4096:#x},0,128")
    assert sorted(folio_orders(m, p, a, 512)) == sorted([8, 6, 5, 4, 3, 2, 1, 0, 0, 7])


def test_split_refused_with_an_extra_reference():
    """can_split_folio: a reference beyond the mappings and the caller's (a GUP pin, an
    isolation) refuses the split; the debugfs walk skips such a folio without trying."""
    from linuxmm.mm.huge_memory import can_split_folio

    m, p, a = thp_machine()
    p.write(a, 2 * MB)
    head = p.pagemap(a)[0] & ((1 << 55) - 1)
    k = m.kernel
    assert can_split_folio(k.mem_map, head, 0)
    k.mem_map.refcount[head] += 1
    assert not can_split_folio(k.mem_map, head, 0)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 2 * MB:#x}")
    assert p.smaps_rollup()["AnonHugePages"] == 2 * 1024
    k.mem_map.refcount[head] -= 1


def test_partial_unmap_queues_a_deferred_split_the_shrinker_frees():
    """Unmapping part of a THP leaves it partially mapped: it goes on its node's deferred
    split queue (thp_deferred_split_page); the shrinker (deferred_split_scan, from reclaim's
    shrink_slab) splits it, freeing the pages no pte maps."""
    from linuxmm import debug
    from linuxmm.mm.huge_memory import do_shrink_slab

    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=4)
    k = m.kernel
    p.munmap(a + MB, MB)
    assert vmstat(m, "thp_deferred_split_page") == 1
    assert int(k.mem_map.split_queue_len.sum()) == 1
    assert debug.check(m) == []
    unmapped = pfns(p, a, 256) + 256
    pgdat = k.pgdat[0]
    assert do_shrink_slab(k, pgdat, 12) == 0  # (1 >> 12) * 4 / 2: nothing to scan yet
    assert do_shrink_slab(k, pgdat, 0) == 1
    assert (k.mem_map.refcount[unmapped] == 0).all() and (k.mem_map.refcount[unmapped - 256] == 1).all()
    assert vmstat(m, "thp_split_page") == 1 and int(k.mem_map.split_queue_len.sum()) == 0
    assert p.read(a, MB, stride=4096) == b"\x04" * 256
    assert debug.check(m) == []


def test_split_huge_pages_bad_input():
    """split_huge_pages_write: EINVAL for what sscanf does not take (decimal addresses, too
    few fields), ESRCH for a pid with no process; the path form is accepted."""
    import errno

    import pytest

    from linuxmm import KernelError

    m, p, a = thp_machine()
    for value, code in (("2,3", errno.EINVAL), (f"{p.pid + 1},{a},{a + 4096}", errno.EINVAL), ("", errno.EINVAL),
                        ("99999,0x1000,0x2000", errno.ESRCH), ("/tmp/f", errno.EINVAL),
                        ("/tmp/f,0x0,0x400", errno.EINVAL)):  # split_huge_pages_in_file: file_open_name fails
        with pytest.raises(KernelError) as e:
            m.sysfs(SPLIT, value)
        assert e.value.errno == code, value
    m.create_file("/tmp/f", 4096)
    m.sysfs(SPLIT, "/tmp/f,0x0,0x400")


# ---- page-cache folios -------------------------------------------------------------------------

def pagecache_machine():
    """The default machine (THP madvise) with a 16 MiB tmpfs mounted huge=always on /mnt."""
    from linuxmm import Machine
    from linuxmm.sources import toml

    m = Machine(toml.loads('''
name = "pcsplit"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x3fffffff }]
[[mount]]
path = "/mnt"
fs = "tmpfs"
size = 16777216
huge = "always"
'''))
    return m, m.spawn()


def map_hugepage(p, path: str, length: int) -> int:
    """``path`` mapped shared with MADV_HUGEPAGE and read once per PMD: its PMD-size folios
    (read in as such if they were not cached) are mapped by PMDs."""
    fd = p.open(path, "rw")
    a = p.mmap(length, "rw", "shared", fd=fd)
    p.close(fd)
    p.madvise(a, length, "hugepage")
    for off in range(0, length, 2 * MB):
        p.read(a + off, 1)
    return a


def test_split_file_thp_through_the_file_path():
    """split_huge_pages_in_file ("/path,0xoff_start,0xoff_end,order"): each PMD-size ext4
    folio of the range, PMD-mapped, is split uniformly; its xarray slots point at the new
    folios, NR_FILE_THPS (FileHugePages) and NR_FILE_PMDMAPPED drop, NR_FILE_PAGES and the
    dirty pages stay; the PMD is gone (a split page-cache folio is unmapped: try_to_unmap)
    and the pages fault back in by ptes with the same data. KPF_THP marks large page-cache
    folios, head and tails."""
    from conftest import meminfo
    from linuxmm import debug

    m, p = pagecache_machine()
    m.create_file("/data", 4 * MB, value=5)  # one write(): two PMD-size folios
    assert m.folios("/data") == [(0, 512), (512, 512)]
    a = map_hugepage(p, "/data", 4 * MB)
    before = meminfo(m, "FileHugePages", "FilePmdMapped", "Cached", "Dirty")
    assert before["FileHugePages"] == before["FilePmdMapped"] == 4096
    head = p.pagemap(a)[0] & ((1 << 55) - 1)
    assert all(f & KPF_THP for f in m.kpageflags(head, 512))
    m.sysfs(SPLIT, "/data,0x0,0x200,3")  # the first folio only
    assert m.folios("/data") == [(i, 8) for i in range(0, 512, 8)] + [(512, 512)]
    after = meminfo(m, "FileHugePages", "FilePmdMapped", "Cached", "Dirty")
    assert after == dict(before, FileHugePages=2048, FilePmdMapped=2048)
    assert vmstat(m, "thp_split_page") == 1
    assert p.pagemap(a)[0] & (1 << 63) == 0  # not present: unmapped by the split
    assert p.read(a, 4 * MB, stride=4096) == b"\x05" * 1024
    assert folio_orders(m, p, a, 512) == [3] * 64
    assert debug.check(m) == []


def test_split_file_thp_around_an_offset_through_a_process():
    """The pid form on a PMD-mapped page-cache folio with an in-folio offset (folio_split):
    the page at the offset ends in a folio of the order asked, the rest in the largest
    buddies; an order-1 page-cache folio is allowed (not anonymous)."""
    from linuxmm import debug

    m, p = pagecache_machine()
    m.create_file("/data", 2 * MB, value=6)
    a = map_hugepage(p, "/data", 2 * MB)
    m.sysfs(SPLIT, f"{p.pid},{a:#x},{a + 4096:#x},1,300")
    assert m.folios("/data") == [(0, 256), (256, 32), (288, 8), (296, 4), (300, 2), (302, 2), (304, 16),
                                 (320, 64), (384, 128)]
    assert p.read(a, 2 * MB, stride=4096) == b"\x06" * 512
    assert debug.check(m) == []


def test_split_shmem_thp_drops_the_pages_past_eof():
    """A 4 KiB write() to a huge=always tmpfs allocates a PMD-size folio past the end of the
    file; split to order 0 (the path form), the new folios past EOF leave the page cache and
    their blocks go back to the filesystem (shmem_uncharge): Shmem, ShmemHugePages and the
    tmpfs's used blocks follow."""
    from conftest import meminfo
    from linuxmm import debug

    m, p = pagecache_machine()
    fd = p.open("/mnt/f", "rw", create=True)
    p.pwrite(fd, 4096 + 100, 0, value=8)
    assert m.folios("/mnt/f") == [(0, 512)]
    assert meminfo(m, "ShmemHugePages")["ShmemHugePages"] == 2048
    m.sysfs(SPLIT, "/mnt/f,0x0,0x200")
    assert m.folios("/mnt/f") == [(0, 1), (1, 1)]
    assert meminfo(m, "ShmemHugePages")["ShmemHugePages"] == 0
    assert m.kernel.mounts["/mnt"].used_blocks == 2
    assert p.pread(fd, 4096 + 100, 0)[::64] == b"\x08\x08"
    assert debug.check(m) == []


def test_page_cache_split_refusals():
    """__folio_split's refusals for a page-cache folio, with the kernel's return codes: a
    target order not below the folio's or below the mapping's minimum folio order (EINVAL),
    a folio under writeback (EBUSY), references beyond the cache's, the mappings' and the
    caller's (EAGAIN); each PMD-size failure counts thp_split_page_failed."""
    import errno

    from linuxmm.include.linux.page_flags import PG_writeback
    from linuxmm.mm.filemap import filemap_get_folio, folio_clear, folio_set
    from linuxmm.mm.huge_memory import mapping_folio_split

    m, p = pagecache_machine()
    m.create_file("/data", 2 * MB)
    k = m.kernel
    mapping = k.mounts["/"].s_dentries["data"].i_mapping
    head = filemap_get_folio(k, mapping, 0)
    k.mem_map.refcount[head] += 1  # the caller's reference
    assert mapping_folio_split(k, head, 9, head, True) == -errno.EINVAL
    mapping.min_order = 2
    assert mapping_folio_split(k, head, 1, head, True) == -errno.EINVAL
    mapping.min_order = 0
    folio_set(k, head, PG_writeback)
    assert mapping_folio_split(k, head, 0, head, True) == -errno.EBUSY
    folio_clear(k, head, PG_writeback)
    k.mem_map.refcount[head] += 1  # a pin
    assert mapping_folio_split(k, head, 0, head, True) == -errno.EAGAIN
    k.mem_map.refcount[head] -= 1
    assert vmstat(m, "thp_split_page_failed") == 4 and m.folios("/data") == [(0, 512)]
    assert mapping_folio_split(k, head, 0, head, True) == 0
    k.mem_map.refcount[head] -= 1
    assert m.folios("/data") == [(i, 1) for i in range(512)]


def host_split_probe(scenario: str) -> dict:
    """tests/probe/pagecache_split_probe.py's result on this project's 6.18 host."""
    import json
    from pathlib import Path

    path = Path(__file__).parent / "data/host-linux-6.18/pagecache_split_probe.jsonl"
    return next(r for r in map(json.loads, path.read_text().splitlines()) if r["scenario"] == scenario)


def folio_starts(m, path: str) -> list[int]:
    return [index for index, _ in m.folios(path)]


def test_truncate_splits_the_partial_large_folio():
    """truncate_inode_partial_folio (6.18): shrinking a tmpfs file into the middle of its PMD
    folio zeroes the tail of the last page and splits the folio around it
    (try_folio_split_to_order, non-uniform): the pages past the new size leave the cache
    and their blocks are free again, the rest keeps its data in the largest folios. The
    folios, blocks and data are the host's (tests/probe/pagecache_split_probe.py)."""
    from conftest import meminfo
    from linuxmm import debug

    host = host_split_probe("truncate")
    m, p = pagecache_machine()
    fd = p.open("/mnt/f", "rw", create=True)
    p.pwrite(fd, 2 * MB, 0, value=3)
    p.ftruncate(fd, 300 * 4096 + 100)
    assert folio_starts(m, "/mnt/f") == host["folio_starts"] == [0, 256, 288, 296, 300]
    assert m.kernel.mounts["/mnt"].used_blocks * 4 == host["used_kb"]
    assert meminfo(m, "ShmemHugePages")["ShmemHugePages"] == host["shmem_huge_kb"] == 0
    data = p.pread(fd, 2 * MB, 0)
    assert data[:300 * 64 + 2] == b"\x03" * (300 * 64 + 2) and len(data) == 300 * 64 + 2
    assert list(data[300 * 64:300 * 64 + 2]) == host["edge_lines"]["300"]
    assert debug.check(m) == []


def test_hole_punch_splits_the_large_folio_at_both_edges():
    """A hole punched inside one large folio: the folio is split around the hole's first
    page, then the piece holding its last page around that one, so every page wholly inside
    the hole leaves the cache; the edge pages stay, zeroed inside the hole. As on the host
    (tests/probe/pagecache_split_probe.py): the same folios, blocks and edge lines."""
    from linuxmm import debug
    from linuxmm.include.linux.falloc import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE

    host = host_split_probe("punch_hole")
    m, p = pagecache_machine()
    fd = p.open("/mnt/f", "rw", create=True)
    p.pwrite(fd, 2 * MB, 0, value=3)
    p.fallocate(fd, 100 * 4096 + 64, 100 * 4096, mode=FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
    cached = {i for index, n in m.folios("/mnt/f") for i in range(index, index + n)}
    assert cached == set(range(512)) - set(range(101, 200)) and len(cached) == host["cached"]
    assert folio_starts(m, "/mnt/f") == host["folio_starts"]
    assert m.kernel.mounts["/mnt"].used_blocks * 4 == host["used_kb"]
    lines = p.pread(fd, 2 * MB, 0)
    for page in (100, 200):
        assert list(lines[page * 64:page * 64 + 2]) == host["edge_lines"][str(page)]
    assert debug.check(m) == []


def test_split_huge_pages_all_splits_every_large_folio_on_an_lru():
    """Writing ``1`` (split_huge_pages_all) walks the pfns: every large folio on an LRU list
    is split to order 0, a mapped anonymous THP and an unmapped page-cache folio alike."""
    from linuxmm import debug

    m, p, a = thp_machine()
    p.write(a, 2 * MB, value=2)
    m.create_file("/data", 2 * MB)
    m.sysfs(SPLIT, "1")
    assert p.smaps_rollup()["AnonHugePages"] == 0 and folio_orders(m, p, a, 512) == [0] * 512
    assert m.folios("/data") == [(i, 1) for i in range(512)]
    assert vmstat(m, "thp_split_page") == 2
    assert debug.check(m) == []


def test_truncate_keeps_a_dirty_partial_folio_it_cannot_split_and_drops_a_clean_one():
    """truncate_inode_partial_folio when the split fails (a pinned folio: -EAGAIN): a dirty
    folio stays whole, its tail zeroed; a clean one (its data is on the disk) is unmapped
    (unmap_mapping_folio) and truncated whole, and the pages before the new size read back
    from the disk."""
    from linuxmm import debug
    from linuxmm.mm.filemap import filemap_get_folio, folio_put

    m, p = pagecache_machine()
    k = m.kernel
    for clean in (False, True):
        m.create_file("/data", 2 * MB, value=7)
        fd = p.open("/data", "rw")
        if clean:
            p.fsync(fd)
        a = p.mmap(101 * 4096, "rw", "shared", fd=fd)  # pages 0-100: still mapped after the truncation
        p.read(a, 101 * 4096, stride=4096)
        head = filemap_get_folio(k, k.mounts["/"].s_dentries["data"].i_mapping, 0)
        k.mem_map.refcount[head] += 1  # a pin
        p.ftruncate(fd, 100 * 4096 + 10)
        # clean: gone whole; ext4_block_truncate_page then reads the last block back to zero its tail
        assert m.folios("/data") == ([(100, 1)] if clean else [(0, 512)])
        assert p.read(a, 101 * 4096, stride=4096) == b"\x07" * 101
        folio_put(k, head)
        assert debug.check(m) == []
        p.munmap(a, 101 * 4096)
        p.close(fd)
        m.unlink("/data")


# ---- the huge zero page's write fault, against this host's 6.18 (tests/probe/zero_pt_probe.c) ----

def zero_pt_probe(scenario: str) -> dict:
    import json

    from conftest import HOST_SNAP

    rows = [json.loads(line) for line in (HOST_SNAP / "zero_pt_probe.jsonl").read_text().splitlines()]
    return next(r for r in rows if r.get("scenario") == scenario)


ZERO_EVENTS = ("thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge", "thp_split_pmd")


def zero_write(cgroup: str = "/") -> dict:
    """The probe's steps: a 2 MiB-aligned MADV_HUGEPAGE region read (the huge zero page), then
    one byte written at page 7; the region's smaps after each and the events of the write."""
    m = small_machine()
    m.sysfs(THP_ENABLED, "madvise")  # as this host has it (the small machine turns THP off)
    if cgroup != "/":
        m.cgroup(cgroup).write("memory.max", "1M")
    p = m.spawn(cgroup=cgroup)
    a = p.mmap(2 * MB, addr=0x40000000, flags="private|anonymous|fixed")
    p.madvise(a, 2 * MB, "hugepage")
    p.read(a, 1)
    read = p.smaps()[0]
    before = dict(line.split() for line in m.proc("vmstat").splitlines())
    p.write(a + 7 * 4096 + 3, 1, value=9)
    after = dict(line.split() for line in m.proc("vmstat").splitlines())
    written = p.smaps()[0]
    got = {"read_anon_huge_kb": read["AnonHugePages"], "read_rss_kb": read["Rss"],
           "write_anon_huge_kb": written["AnonHugePages"], "write_rss_kb": written["Rss"],
           "bytes": sum(p.read(a + 7 * 4096 + 3, 1)) + sum(p.read(a + 4096, 1))}
    got.update({e: int(after[e]) - int(before[e]) for e in ZERO_EVENTS})
    return got


def test_write_to_the_huge_zero_page_maps_a_thp_as_on_the_host():
    """do_huge_zero_wp_pmd (6.18): the write replaces the huge zero page's PMD by a new THP
    (2048 kB AnonHugePages, thp_fault_alloc 1), where 6.6 split the PMD and copied 4 KiB."""
    want = zero_pt_probe("zero_write")
    assert zero_write() == {key: want[key] for key in want if key != "scenario"}


def test_write_to_the_huge_zero_page_falls_back_to_4k_when_the_thp_charge_fails():
    """In a 1 MiB memory cgroup the THP's charge fails: thp_fault_fallback(_charge), the PMD
    is split (thp_split_pmd) and the pte fault copies one zeroed 4 KiB page, as on the host."""
    want = zero_pt_probe("zero_charge_fails")
    assert zero_write("probe") == {key: want[key] for key in want if key != "scenario"}
