"""The multi-gen LRU (mm/lru_gen.py, mm/mm_inline.py): the switch as 6.18's sysfs
files have it, the page->flags layout against this host's configuration, the aging moving
accessed folios to the youngest generation, min_ttl_ms's OOM kill instead of thrashing, and
switching on and off with every folio on exactly one list (debug.check) and /proc's
Active/Inactive unchanged. The reclaim tests of test_vmscan.py and test_workingset.py run
under both LRUs."""

import errno
import json
import re

import numpy as np
import pytest
from conftest import HOST_SNAP, SMALL, meminfo
from typer.testing import CliRunner

import linuxmm
from linuxmm import debug
from linuxmm.cli import app
from linuxmm.errors import KernelError
from linuxmm.include.linux import page_flags as PG
from linuxmm.include.linux.memcontrol import ROOT_MEM_CGROUP_ID as ROOT
from linuxmm.include.linux.mmzone import MAX_NR_GENS, MAX_NR_TIERS, MIN_NR_GENS
from linuxmm.mm import lru_gen as L
from linuxmm.mm.memory import MMC_PGD, lookup_pte
from linuxmm.mm.mm_inline import folio_lru_gen, folio_lru_refs
from linuxmm.mm.pgtable import pte_pfn
from linuxmm.mm.swap import lru_add_drain_all
from linuxmm.sources import toml

MiB = 1 << 20
PAGE = 4096
ENABLED, MIN_TTL = "kernel/mm/lru_gen/enabled", "kernel/mm/lru_gen/min_ttl_ms"


def vmstat(m, name):
    return int(re.search(rf"^{name} (\d+)$", m.proc("vmstat"), re.MULTILINE).group(1))


def test_this_host_has_no_mglru_and_neither_has_the_default_machine():
    host = (HOST_SNAP / "lru_gen.txt").read_text()
    assert "lru_gen/enabled: No such file or directory" in host and "# CONFIG_LRU_GEN is not set" in host
    m = linuxmm.Machine()
    assert not m.lru_gen and not m.layout()["lru_gen"]
    with pytest.raises(KernelError) as e:
        m.sysfs(ENABLED)
    assert e.value.errno == errno.ENOENT


def test_the_machine_file_and_the_command_line_say_whether_it_is_on():
    """[config] lru_gen / lru_gen_enabled (CONFIG_LRU_GEN, CONFIG_LRU_GEN_ENABLED) and
    --lru-gen/--no-lru-gen; `linuxmm boot` says which LRU runs."""
    on = linuxmm.Machine(toml.loads(SMALL + "[config]\nlru_gen = true\nlru_gen_enabled = true\n"))
    assert on.lru_gen and on.sysfs(ENABLED) == "0x0007\n"
    built = linuxmm.Machine(toml.loads(SMALL + "[config]\nlru_gen = true\n"))
    assert not built.lru_gen and built.sysfs(ENABLED) == "0x0000\n"
    runner = CliRunner()
    r = runner.invoke(app, ["boot", "--lru-gen"], catch_exceptions=False)
    assert r.exit_code == 0 and "LRU: multi-gen (MGLRU), lru_gen/enabled 0x0007" in r.stdout
    r = runner.invoke(app, ["boot", "--no-lru-gen"], catch_exceptions=False)
    assert "LRU: active/inactive lists (MGLRU off, lru_gen/enabled 0x0000)" in r.stdout
    r = runner.invoke(app, ["boot", "--json"], catch_exceptions=False)
    assert json.loads(r.stdout)["lru_gen"] is False


def test_enabled_and_min_ttl_ms_read_and_write_as_the_kernel():
    m = linuxmm.Machine(lru_gen=True)
    assert m.lru_gen and m.sysfs(ENABLED) == "0x0007\n" and "MGLRU" in repr(m)
    for value, shown, on in (("n", "0x0000\n", False), ("0x0003", "0x0003\n", True), ("Y\n", "0x0007\n", True),
                             ("6", "0x0006\n", False), ("yes", "0x0007\n", True)):
        m.sysfs(ENABLED, value)
        assert (m.sysfs(ENABLED), m.lru_gen) == (shown, on), value
    for bad in ("maybe", "-1", ""):
        with pytest.raises(KernelError) as e:
            m.sysfs(ENABLED, bad)
        assert e.value.errno == errno.EINVAL
    assert m.sysfs(ENABLED) == "0x0007\n"
    assert m.sysfs(MIN_TTL) == "0\n"
    m.sysfs(MIN_TTL, "1000")
    assert m.sysfs(MIN_TTL) == "1000\n"
    m.sysfs(MIN_TTL, "1")  # one jiffy at this host's HZ 250
    assert m.sysfs(MIN_TTL) == "4\n"
    with pytest.raises(KernelError):
        m.sysfs(MIN_TTL, "soon")
    assert linuxmm.Machine(lru_gen=False).sysfs(ENABLED) == "0x0000\n"


def test_lru_gen_fields_sit_above_this_hosts_page_flags():
    """LRU_GEN_PGOFF = 64 - NODES_SHIFT - ZONES_WIDTH - LAST_CPUPID_WIDTH - LRU_GEN_WIDTH with
    this host's configuration (no section or KASAN tag bits), clear of the PG_* bits."""
    host = (HOST_SNAP / "lru_gen.txt").read_text()
    cfg = dict(re.findall(r"^CONFIG_(\w+)=(\S+)$", host, re.MULTILINE))
    zones = int(re.search(r"__MAX_NR_ZONES = (\d+)", host).group(1))
    last_cpupid = 8 + (int(cfg["NR_CPUS"]) - 1).bit_length() if cfg.get("NUMA_BALANCING") == "y" else 0
    assert cfg["SPARSEMEM_VMEMMAP"] == "y"
    zones_width = (zones - 1).bit_length()
    assert PG.LRU_GEN_PGOFF == 64 - int(cfg["NODES_SHIFT"]) - zones_width - last_cpupid - PG.LRU_GEN_WIDTH
    assert 1 << PG.LRU_GEN_WIDTH > MAX_NR_GENS and PG.LRU_REFS_WIDTH == MAX_NR_TIERS - 2
    assert PG.LRU_REFS_PGOFF >= PG.NR_PAGEFLAGS
    assert not int(PG.LRU_GEN_MASK) & int(PG.LRU_REFS_MASK)


def _gens(m, pfns):
    a = m.kernel.mem_map
    return np.array([folio_lru_gen(a, int(pfn)) for pfn in pfns])


def _mapped_pfns(m, p, addr, length):
    k = m.kernel
    pgd = int(p.task.mmc[MMC_PGD])
    return [int(pte_pfn(lookup_pte(k.mem_map, k.vm_state, pgd, va)[0])) for va in range(addr, addr + length, PAGE)]


def test_aging_moves_folios_accessed_through_page_tables_to_the_youngest_generation():
    """16 MiB of anonymous memory written (faulted in: the youngest generation); then only its
    first half is touched between agings (at swappiness 60, as with swap, so the walk covers
    anonymous VMAs): the first young sighting only sets PG_referenced, the next ones move the
    folios to the then-youngest generation with PG_workingset; the other half stays behind.
    (The walk does not flush the TLB, as on x86: an access that hits a cached translation sets
    no accessed bit, so the half touched is larger than the STLB.)"""
    m = linuxmm.Machine(cmdline="mem=256M", lru_gen=True)
    p = m.spawn()
    addr = p.mmap(16 * MiB)
    p.write(addr, 16 * MiB)
    lru_add_drain_all(m.kernel)
    hot, cold = _mapped_pfns(m, p, addr, 8 * MiB), _mapped_pfns(m, p, addr + 8 * MiB, 8 * MiB)
    k, a, lv = m.kernel, m.kernel.mem_map, m.kernel.NODE_DATA(0).lruvec  # the root memcg's lruvec
    assert (_gens(m, hot + cold) == (int(a.lrugen_max_seq[ROOT, 0]) - 1) % MAX_NR_GENS).all()  # active
    for _ in range(3):
        L.try_to_inc_max_seq(k, lv, int(a.lrugen_max_seq[ROOT, 0]), 60)
        p.read(addr, 8 * MiB)  # 2048 pages: each access misses the TLB and sets the accessed bit
    L.try_to_inc_max_seq(k, lv, int(a.lrugen_max_seq[ROOT, 0]), 60)
    youngest = int(a.lrugen_max_seq[ROOT, 0]) - 1  # the walk promoted to the then-youngest generation
    assert (_gens(m, hot) == youngest % MAX_NR_GENS).all()
    assert (a.flags[hot] & PG.PG_workingset_mask).all()
    assert (_gens(m, cold) == int(a.lrugen_min_seq[ROOT, 0, 0]) % MAX_NR_GENS).all()  # carried along, oldest
    assert not (a.flags[cold] & PG.PG_workingset_mask).any()
    mi = meminfo(m, "Active(anon)", "Inactive(anon)")
    assert mi == {"Active(anon)": 8 * 1024, "Inactive(anon)": 8 * 1024}  # only the two youngest are active
    assert debug.check(m) == []


@pytest.mark.parametrize("lru_gen", [False, True], ids=["classic", "mglru"])
def test_a_file_read_over_and_over_survives_a_stream(lru_gen):
    """An 8 MiB file read after every 8 MiB of a 160 MiB stream through 96 MiB of RAM never
    refaults (classic: it is active; MGLRU: read often enough, its refs and then PG_workingset
    have sort_folio promote it out of the oldest generation), while the stream is evicted."""
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=lru_gen)
    p = m.spawn()
    hot = p.open("/hot", "rw", create=True)
    p.pwrite(hot, 8 * MiB, offset=0, value=1)
    p.fsync(hot)
    stream = p.open("/stream", "rw", create=True)
    hot_refaults = 0
    for mib in range(0, 160, 8):
        before = vmstat(m, "workingset_refault_file")
        p.pread(hot, 8 * MiB, 0, chunk=64 << 10)
        hot_refaults += vmstat(m, "workingset_refault_file") - before
        p.pwrite(stream, 8 * MiB, offset=mib * MiB, value=2)
        p.fsync(stream)
    assert m.cachestat("/stream").evicted > 64 * MiB // PAGE
    assert hot_refaults == 0 and m.cachestat("/hot").evicted == 0
    assert debug.check(m) == []


@pytest.mark.parametrize("min_ttl_ms", [0, 10_000])
def test_min_ttl_ms_kills_rather_than_evict_a_younger_working_set(min_ttl_ms):
    """A page-cache working set younger than min_ttl_ms is not evicted for an anonymous hog:
    kswapd's lru_gen_age_node calls the OOM killer, which kills the hog (direct reclaim, which
    does not look at min_ttl_ms, may take a little first); without min_ttl_ms the cache is
    reclaimed and the hog gets its memory."""
    m = linuxmm.Machine(cmdline="mem=128M", lru_gen=True)
    m.sysfs(MIN_TTL, str(min_ttl_ms))
    p = m.spawn()
    fd = p.open("/cache", "rw", create=True)
    p.pwrite(fd, 64 * MiB, offset=0, value=1)
    p.fsync(fd)
    hog = m.spawn()
    addr = hog.mmap(64 * MiB)
    try:
        for off in range(0, 64 * MiB, MiB):
            hog.write(addr + off, MiB)
    except linuxmm.Killed:
        pass
    if min_ttl_ms:
        assert vmstat(m, "oom_kill") >= 1 and not hog.alive and p.alive
        assert m.cachestat("/cache").evicted <= 4 * MiB // PAGE  # direct reclaim heeds no min_ttl_ms
    else:
        assert vmstat(m, "oom_kill") == 0 and hog.alive
        assert m.cachestat("/cache").evicted >= 16 * MiB // PAGE
    assert debug.check(m) == []


def test_switching_keeps_every_folio_on_exactly_one_list():
    """lru_gen_change_state moves every evictable folio between the classic lists and the
    generations, both ways, with /proc's LRU totals unchanged and debug.check clean."""
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=False)
    p = m.spawn()
    fd = p.open("/f", "rw", create=True)
    p.pwrite(fd, 16 * MiB, offset=0, value=5)
    p.fsync(fd)
    p.pread(fd, 8 * MiB, 0)
    p.pread(fd, 8 * MiB, 0)  # half active
    addr = p.mmap(8 * MiB)
    p.write(addr, 8 * MiB)  # anonymous, inactive
    names = ("Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable")
    lru_add_drain_all(m.kernel)
    before = meminfo(m, *names)
    total = sum(before.values())
    a = m.kernel.mem_map
    for value, on in (("y", True), ("n", False), ("y", True)):
        m.sysfs(ENABLED, value)
        assert m.lru_gen == on and debug.check(m) == []
        now = meminfo(m, *names)
        assert sum(now.values()) == total, (value, now)
        assert bool(a.lrugen_nr_pages.sum()) == on and bool(a.lruvec_head[ROOT, 0, :4].any()) != on
    assert meminfo(m, "Active(file)")["Active(file)"] >= 8 * 1024  # the active half is in a young generation
    p.pread(fd, 16 * MiB, 0)
    p.write(addr, 8 * MiB)
    assert debug.check(m) == []


def test_page_cache_joins_the_oldest_generation_and_reads_raise_its_tier():
    """Under MGLRU page cache written with write() joins the oldest generation (Inactive(file)),
    and reading it again activates nothing (no pgactivate, as the classic LRU's second read
    does): each read adds to the folio's refs, its tier."""
    m = linuxmm.Machine(lru_gen=True)
    p = m.spawn()
    fd = p.open("/probe", "rw", create=True)
    before = meminfo(m, "Active(file)", "Inactive(file)")
    p.pwrite(fd, 64 * MiB, offset=0, value=7, chunk=PAGE)
    p.fsync(fd)
    lru_add_drain_all(m.kernel)
    after = meminfo(m, "Active(file)", "Inactive(file)")
    assert after["Inactive(file)"] - before["Inactive(file)"] == 64 * 1024 and after["Active(file)"] == before["Active(file)"]
    a = m.kernel.mem_map
    folios = np.nonzero((a.flags & np.uint64(PG.LRU_GEN_MASK)) != 0)[0]
    assert (_gens(m, folios) == int(a.lrugen_min_seq[ROOT, 0, 1]) % MAX_NR_GENS).all()
    refs = [folio_lru_refs(a, int(pfn)) for pfn in folios]
    activations = vmstat(m, "pgactivate")
    p.pread(fd, 64 * MiB, 0, chunk=64 << 10)
    p.pread(fd, 64 * MiB, 0, chunk=64 << 10)
    assert vmstat(m, "pgactivate") == activations
    assert meminfo(m, "Active(file)", "Inactive(file)") == after
    assert [folio_lru_refs(a, int(pfn)) for pfn in folios] == [min(r + 2, 4) for r in refs]
    assert debug.check(m) == []


def test_each_memcg_has_its_own_generations_and_reclaim_swaps_from_them():
    """Under MGLRU a cgroup's anonymous memory sits on its own lruvec's generations (a memcg
    made after boot starts its own seqs; memory.stat counts the pages), and global reclaim,
    with swap, evicts anonymous folios from every memcg's oldest generations; the data swaps
    back in intact."""
    m = linuxmm.Machine(cmdline="mem=128M", lru_gen=True)
    m.swapon("128M", kind="zram")
    k, a = m.kernel, m.kernel.mem_map
    cg = m.cgroup("mg")
    memcg = k.cgrp_dfl_root.children["mg"].memcg
    assert a.lrugen_max_seq[memcg.id, 0] == MIN_NR_GENS + 1 and not a.lrugen_min_seq[memcg.id, 0].any()
    p = m.spawn(cgroup="mg")
    addr = p.mmap(32 * MiB)
    p.write(addr, 32 * MiB, value=5)
    lru_add_drain_all(k)
    assert a.lrugen_nr_pages[memcg.id, 0, :, 0].sum() == 32 * MiB // PAGE
    stat = dict(line.split() for line in cg.read("memory.stat").splitlines())
    assert int(stat["active_anon"]) + int(stat["inactive_anon"]) == 32 * MiB
    hog = m.spawn()
    big = hog.mmap(96 * MiB)
    hog.write(big, 96 * MiB, value=6)
    assert vmstat(m, "pswpout") > 0
    assert a.lrugen_nr_pages[memcg.id, 0, :, 0].sum() < 32 * MiB // PAGE  # some of the cgroup's went to swap
    assert p.read(addr, 32 * MiB) == bytes([5]) * (32 * MiB // PAGE)
    assert debug.check(m) == []
