"""Workingset detection (mm/workingset.py): evicted page-cache folios leave shadow entries;
a refault within the workingset size activates (6.18's ``workingset_refault``), an old one
does not; cachestat counts the shadows; debug.check knows where shadows may be."""

import re

import pytest

from conftest import vmstat
import linuxmm
from linuxmm import debug
from linuxmm.include.linux.memcontrol import ROOT_MEM_CGROUP_ID
from linuxmm.lib import xarray as X
from linuxmm.mm import workingset as W

MiB = 1 << 20
PAGE = 4096


def meminfo(m, name):
    return int(re.search(rf"^{re.escape(name)}:\s+(\d+) kB$", m.proc("meminfo"), re.MULTILINE).group(1))


def press(lru_gen):
    """96 MiB of RAM: a 16 MiB hot file read twice (active), then a 128 MiB file written
    and synced a MiB at a time until its first page has just been evicted."""
    m = linuxmm.Machine(cmdline="mem=96M", lru_gen=lru_gen)
    m.sysctl("vm.watermark_boost_factor", 0)  # no kswapd run for a boost: the hot file stays active
    p = m.spawn()
    hot = p.open("/hot", "rw", create=True)
    for mib in range(16):
        p.pwrite(hot, MiB, offset=mib * MiB, value=1)
    p.fsync(hot)
    for _ in range(2):
        p.pread(hot, 16 * MiB, 0, chunk=64 << 10)
    big = p.open("/big", "rw", create=True)
    mib = 0
    while m.cachestat("/big").evicted == 0:
        p.pwrite(big, MiB, offset=mib * MiB, value=mib)
        p.fsync(big)
        mib += 1
        assert mib < 128, "the big file never pushed its first pages out"
    return m, p, big, mib


@pytest.fixture(scope="module")
def pressed():
    """``press`` with the classic LRU."""
    return press(False)


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "mglru"])
def pressed_both(request):
    """``press`` under each LRU."""
    return press(request.param)


def test_pages_read_twice_are_active(pressed):
    m, *_ = pressed
    assert meminfo(m, "Active(file)") >= 16 * 1024 - 64


def test_eviction_leaves_shadows_only_where_folios_were(pressed_both):
    m, _, _, mib = pressed_both
    cs = m.cachestat("/big")
    assert cs.evicted > 0 and cs.cache + cs.evicted == mib * MiB // PAGE
    assert cs.recently_evicted == cs.evicted  # just evicted: every distance is small
    k = m.kernel
    mapping = k.rmap.address_spaces[m._inode("/big").i_ino]
    shadows = W.shadow_entries(k, mapping)
    assert len(shadows) == cs.evicted and shadows.min() == 0  # the oldest pages went first
    assert debug.check(m) == []


def test_recent_refault_activates(pressed):
    m, p, big, _ = pressed
    before = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    index = int(W.shadow_entries(m.kernel, m.kernel.rmap.address_spaces[m._inode("/big").i_ino])[0])
    assert p.pread(big, PAGE, index * PAGE) == bytes([index >> 8 & 0xFF]) * (PAGE // 64)
    after = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    assert after["workingset_refault_file"] > before["workingset_refault_file"]
    assert after["workingset_activate_file"] > before["workingset_activate_file"]
    assert debug.check(m) == []


def test_distant_refault_does_not_activate():
    """A page evicted longer ago than the active list is large refaults inactive. (Under
    MGLRU a stream's refaults stay recent: its folios all join and leave the oldest
    generation, so max_seq never moves away from their tokens.)"""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    fd = p.open("/stream", "rw", create=True)
    for mib in range(160):  # no active list: every refault distance exceeds it
        p.pwrite(fd, MiB, offset=mib * MiB, value=mib)
        p.fsync(fd)
    assert meminfo(m, "Active(file)") == 0
    cs = m.cachestat("/stream")
    assert cs.evicted > 0 and cs.recently_evicted == 0
    before = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    assert p.pread(fd, MiB, 0) == bytes([0]) * (MiB // 64)
    after = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    assert after["workingset_refault_file"] - before["workingset_refault_file"] >= 256
    assert after["workingset_activate_file"] == before["workingset_activate_file"]


def test_mglru_recent_refault_counts_in_its_tier():
    """Under MGLRU a refault is recent while max_seq is less than MAX_NR_GENS past the
    evicted folio's min_seq: counted (WORKINGSET_REFAULT_FILE) and, for the PID controller,
    in the tier the shadow's refs name; the folio gets its refs back, not PG_active."""
    m, p, big, _ = press(True)
    a = m.kernel.mem_map
    before = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    refaulted = int(a.lrugen_refaulted[ROOT_MEM_CGROUP_ID, 0, 1].sum())
    index = int(W.shadow_entries(m.kernel, m.kernel.rmap.address_spaces[m._inode("/big").i_ino])[0])
    assert m.cachestat("/big").recently_evicted > 0
    assert p.pread(big, PAGE, index * PAGE) == bytes([index >> 8 & 0xFF]) * (PAGE // 64)
    after = vmstat(m, "workingset_refault_file", "workingset_activate_file")
    assert after["workingset_refault_file"] > before["workingset_refault_file"]
    assert after["workingset_activate_file"] == before["workingset_activate_file"]
    assert int(a.lrugen_refaulted[ROOT_MEM_CGROUP_ID, 0, 1].sum()) > refaulted
    assert debug.check(m) == []


def test_pack_shadow_round_trip():
    shadow = W.pack_shadow(0, 3, 123456789, 1)
    assert shadow & 1 and W.unpack_shadow(shadow) == (0, 3, 123456789, 1)
    assert W.unpack_shadow(W.pack_shadow(0, 0, W.EVICTION_MASK + 5, 0))[2] == 4  # the timestamp wraps


def test_debug_check_finds_a_shadow_from_the_future(pressed_both):
    m, *_ = pressed_both
    k = m.kernel
    mapping = k.rmap.address_spaces[m._inode("/big").i_ino]
    index = int(W.shadow_entries(k, mapping)[0])
    good = int(X.xa_load(k.page_cache, mapping.xa_id, index))
    bad = W.pack_shadow(0, 0, int(k.mem_map.nonresident_age[0]) + 1000, 0)
    X.xa_store(k.page_cache, mapping.xa_id, index, bad)
    try:
        assert any("after node 0's nonresident_age" in msg for msg in debug.check(m))
    finally:
        X.xa_store(k.page_cache, mapping.xa_id, index, good)
    assert debug.check(m) == []
