"""mm/page_alloc watermarks, lowmem reserves, pcp limits and stat thresholds (6.18).

The oracle is this development machine (kernel-reference §5-6): its saved snapshot had
managed DMA 3840 / DMA32 772915 / Normal 163840 and min_free_kbytes 67584; the live machine
was also seen at Normal = 262144, 720896 and 1343488. Every number below was read there.
"""

import errno
import math

import pytest
from conftest import HOST_PINNED, HOST_SNAP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linuxmm import Machine
from linuxmm.errors import ConfigError, KernelError
from linuxmm.lib.int_sqrt import int_sqrt
from linuxmm.mm import page_alloc, vmstat
from linuxmm.sources import host as host_source

SNAP, PINNED = HOST_SNAP, HOST_PINNED


def zones(m):
    return {z.name: z for z in m.kernel.NODE_DATA(0).node_zones}  # the kernel's own, to edit and pass on


def marks(z):
    return (z.min_wmark_pages(), z.low_wmark_pages(), z.high_wmark_pages(), z.promo_wmark_pages())


def test_saved_snapshot_worked_example(host):
    """kernel-reference §5.9: pages_min 16896 shared over lowmem 940595."""
    z = zones(host)
    assert host.kernel.vm.min_free_kbytes == 67584  # 512 x 3 zones x 11, the THP value
    assert marks(z["DMA"]) == (68, 85, 102, 119)
    assert marks(z["DMA32"]) == (13883, 17353, 20823, 24293)
    assert marks(z["Normal"]) == (2943, 3678, 4413, 5148)
    assert marks(z["Movable"]) == (32, 32, 32, 32)  # clamp(0/1024, 32, 128), steps of 0
    assert marks(z["Device"]) == (0, 0, 0, 0)
    assert z["DMA"].lowmem_reserve == [0, 3019, 3659, 3659, 3659]
    assert z["DMA32"].lowmem_reserve == [0, 0, 640, 640, 640]
    assert z["Normal"].lowmem_reserve == [0] * 5
    # per zone min(max reserve + HIGH, managed): DMA 3659 + 102 stays under its 3840
    assert host.kernel.totalreserve_pages == (3659 + 102) + (640 + 20823) + 4413 == 29637


def test_saved_snapshot_pagesets_and_thresholds(host):
    z = zones(host)
    got = {n: (z[n].pageset_batch, z[n].pageset_high_min, z[n].pageset_high_max, z[n].stat_threshold)
           for n in PINNED}
    assert got == {"DMA": (1, 42, 240, 4), "DMA32": (63, 8676, 48307, 24), "Normal": (31, 1839, 10240, 16)}
    for pcp in z["DMA32"].per_cpu_pageset:
        assert (pcp["count"], pcp["high"], pcp["batch"]) == (0, 0, 63)  # high is live state, from 0


@pytest.mark.parametrize("normal, dma32, dma_prot, thresh", [
    (262144, (12570, 15712, 18854, 21996), 4043, 20),
    (720896, None, 5835, 24),
    (1343488, None, 8267, 28),
])
def test_live_growth_snapshots(host, normal, dma32, dma_prot, thresh):
    """The lazy-init host recomputed everything as ZONE_NORMAL grew; so does set_managed."""
    host.set_managed({"Normal": normal})
    z = zones(host)
    if dma32:
        assert marks(z["DMA32"]) == dma32
    assert z["DMA"].lowmem_reserve == [0, 3019, dma_prot, dma_prot, dma_prot]
    assert z["Normal"].stat_threshold == thresh
    assert host.kernel.vm.min_free_kbytes == 67584


def test_pcp_high_at_262144(host):
    """kernel-reference §6.2: LOW/2 CPUs and managed/8/2 CPUs."""
    host.set_managed({"Normal": 262144})
    z = zones(host)
    assert (z["DMA"].low_wmark_pages(), z["DMA"].pageset_high_min, z["DMA"].pageset_high_max) == (77, 38, 240)
    assert z["DMA32"].pageset_high_min == 15712 // 2 == 7856
    assert (z["Normal"].pageset_high_min, z["Normal"].pageset_high_max) == (2664, 16384)


def test_zone_batchsize_examples(host):
    z = zones(host)["Normal"]
    for managed, raw in ((3840, 0), (163840, 31), (262144, 63), (5394283, 63)):
        z.managed_pages = managed
        assert page_alloc.zone_batchsize(host.kernel, z) == raw  # the caller raises 0 to 1


def test_normal_threshold_examples(host):
    z = zones(host)["Normal"]
    for managed, t in ((0, 4), (262144, 20), (772915, 24), (1343488, 28), (1 << 40, 108)):
        z.managed_pages = managed
        assert vmstat.calculate_normal_threshold(host.kernel, z) == t


def test_sqrt_min_free_kbytes_with_fresh_watermarks(host):
    """Mainline's prediction: lowmem 6167231 pages -> 4·√(kB) = 19867 (§5.2)."""
    k = host.kernel
    host.set_managed({"DMA": 3840, "DMA32": 769125, "Normal": 5394266})
    for z in page_alloc.for_each_zone(k):
        z._watermark = [0, 0, 0, 0]  # as at the postcore initcall
    page_alloc.calculate_min_free_kbytes(k)
    assert k.vm.min_free_kbytes == 19867


def test_predicted_mainline_values(host):
    """§5.9's prediction for a mainline boot of this machine (THP lifts min_free to 67584)."""
    host.set_managed({"DMA": 3840, "DMA32": 769125, "Normal": 5394266})
    z = zones(host)
    assert host.kernel.vm.min_free_kbytes == 67584
    assert marks(z["DMA"]) == (10, 13, 16, 19)
    assert marks(z["DMA32"]) == (2107, 2876, 3645, 4414)
    assert marks(z["Normal"]) == (14778, 20172, 25566, 30960)
    assert z["DMA"].lowmem_reserve == [0, 3004, 24075, 24075, 24075]
    assert z["DMA32"].lowmem_reserve == [0, 0, 21071, 21071, 21071]
    assert host.kernel.totalreserve_pages == 54122


def test_thp_never_keeps_sqrt_value(sysfs_root):
    """With THP off, hugepage_init's khugepaged start reruns calculate_min_free_kbytes, now
    with the postcore watermarks in place: slightly below the fresh-boot √ value."""
    desc = host_source.load(sysfs_root)
    desc.cmdline = "transparent_hugepage=never " + desc.cmdline  # this host's ends in "-- init args"
    k = Machine(desc).kernel
    booted = k.vm.min_free_kbytes
    lowmem = sum(z.managed_pages for z in page_alloc.for_each_zone(k) if z.name in PINNED)
    k.vm.min_free_kbytes = int(int_sqrt(lowmem * 4 * 16))  # the postcore pass
    page_alloc.setup_per_zone_wmarks(k)
    assert booted == int_sqrt(page_alloc.nr_free_buffer_pages(k) * 4 * 16) < 67584


@given(st.integers(0, 1 << 62))
@example((1 << 62) - 1)
@example(((1 << 31) - 1) ** 2 - 1)
def test_int_sqrt_is_the_root_rounded_down(x):
    """lib/math/int_sqrt.c: the largest r with r*r <= x, also where a double rounds the root up."""
    assert int_sqrt(x) == math.isqrt(x)


def test_small_machine_gets_no_thp_boost():
    """hugepage_init turns THP off below 512 MiB: min_free_kbytes stays the postcore √ value."""
    from linuxmm.description import x86_64

    k = Machine(x86_64("small", [(0, 0x9fc00, 1), (0x100000, 256 << 20, 1)])).kernel
    assert k.transparent_hugepage_flags == "never" and not getattr(k, "khugepaged_thread", False)
    lowmem = sum(z.managed_pages for z in page_alloc.for_each_zone(k) if z.name != "Movable")
    assert k.vm.min_free_kbytes == max(int_sqrt(lowmem * 4 * 16), 128) < 4096


# ---- sysctl writes rerun the kernel's handlers ----------------------------------------


def test_watermark_scale_factor_changes_low_high(host):
    assert host.sysctl("vm.watermark_scale_factor", "200") == 0
    z = zones(host)["DMA32"]
    step = max(13883 // 4, 772915 * 200 // 10000)  # 15458: the scale factor now dominates
    assert marks(z) == (13883, 13883 + step, 13883 + 2 * step, 13883 + 3 * step)
    assert z.pageset_high_min == (13883 + step) // 2
    assert host.kernel.totalreserve_pages == 3840 + 640 + (13883 + 2 * step) + zones(host)["Normal"].high_wmark_pages()


def test_min_free_kbytes_write_is_preferred_afterwards(host):
    host.sysctl("vm.min_free_kbytes", "100000")
    assert host.kernel.vm.user_min_free_kbytes == 100000
    assert zones(host)["DMA32"].min_wmark_pages() == 25000 * 772915 // 940595
    host.set_managed({"Normal": 262144})  # growth: the admin's value stays
    assert host.sysctl("vm.min_free_kbytes") == "100000\n"
    assert "because user defined value 100000 is preferred" in host.dmesg()


def test_lowmem_reserve_ratio_write(host):
    host.sysctl("vm.lowmem_reserve_ratio", "128 0 -5")
    assert host.sysctl("vm.lowmem_reserve_ratio") == "128\t0\t0\t0\t0\n"  # < 1 becomes 0
    z = zones(host)
    assert z["DMA"].lowmem_reserve == [0, 772915 // 128, 936755 // 128, 936755 // 128, 936755 // 128]
    assert z["DMA32"].lowmem_reserve == [0] * 5


def test_percpu_pagelist_high_fraction(host):
    host.sysctl("vm.percpu_pagelist_high_fraction", "8")
    z = zones(host)["Normal"]
    assert z.pageset_high_min == z.pageset_high_max == 163840 // 8 // 2
    with pytest.raises(KernelError) as e:
        host.sysctl("vm.percpu_pagelist_high_fraction", "7")
    assert e.value.errno == errno.EINVAL
    assert host.sysctl("vm.percpu_pagelist_high_fraction") == "8\n"  # unchanged
    host.sysctl("vm.percpu_pagelist_high_fraction", "0")
    assert (z.pageset_high_min, z.pageset_high_max) == (1839, 10240)


def test_set_managed_rejects_bad_input(host):
    with pytest.raises(ConfigError, match="present"):
        host.set_managed({"DMA": 5000})
    with pytest.raises(ConfigError, match="no zone"):
        host.set_managed({"HighMem": 1})
    with pytest.raises(ConfigError, match="no node"):
        host.set_managed({"DMA": 1}, node=3)


# ---- properties ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(dma=st.integers(0, 3998), dma32=st.integers(0, 782336), normal=st.integers(0, 5505024),
       wsf=st.integers(1, 3000))
def test_watermarks_ordered_and_protection_monotone(sysfs_root, dma, dma32, normal, wsf):
    m = _shared_host(sysfs_root)
    m.sysctl("vm.watermark_scale_factor", str(wsf))
    m.set_managed({"DMA": dma, "DMA32": dma32, "Normal": normal})
    for z in m.zones():
        wmin, low, high, promo = marks(z)
        assert wmin <= low <= high <= promo
        assert z.lowmem_reserve[:z.idx + 1] == (0,) * (z.idx + 1)
        assert all(a <= b for a, b in zip(z.lowmem_reserve, z.lowmem_reserve[1:]))
        if z.populated_zone():
            assert 1 <= z.pageset_batch <= 63 and z.pageset_high_min >= 4 * z.pageset_batch
    assert m.kernel.totalreserve_pages <= dma + dma32 + normal


_HOSTS = {}


def _shared_host(root):
    """One booted host for all examples (hypothesis dislikes function-scoped fixtures)."""
    if root not in _HOSTS:
        _HOSTS[root] = Machine.from_host(root)
    return _HOSTS[root]
