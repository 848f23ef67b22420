"""mm/mm_init: zone geometry, ZONE_MOVABLE placement (kernelcore=/movablecore=), node states."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linuxmm import Machine
from linuxmm.description import MachineDescription, NumaNode
from linuxmm.arch import make_arch

# This machine's RAM layout (kernel-reference §3): [1,0x9f) [0x100,0xc0000) [0x100000,0x640000)
HOST_E820 = [(0x0, 0x9fc00, 1), (0x9fc00, 0x100000, 2), (0x100000, 0xc0000000, 1),
             (0xeec00000, 0xfec00000, 2), (0x100000000, 0x640000000, 1)]


def host_like(cmdline: str = "", numa=None) -> Machine:
    return Machine(MachineDescription("host-like", make_arch("x86_64"), cmdline=cmdline,
                                      nr_cpus=2, e820=HOST_E820, numa=numa))


def zone(m: Machine, nid: int, name: str):
    return next(z for z in m.NODE_DATA(nid).node_zones if z.name == name)


@pytest.mark.parametrize("cmdline, movable_pfn, movable_pages, normal_spanned", [
    ("movablecore=4G", 0x540000, 1048576, 4456448),
    ("movablecore=25%", 0x4C0000, 1572864, 3932160),
    ("kernelcore=8G", 0x240400, 4193280, 1311744),
    ("kernelcore=50%", 0x340400, 3144704, 2360320),
    ("kernelcore=2G", 0x100000, 5505024, 0),
])
def test_kernelcore_movablecore_worked_examples(cmdline, movable_pfn, movable_pages, normal_spanned):
    m = host_like(cmdline)
    assert m.kernel.zone_movable_pfn[0] == movable_pfn
    assert zone(m, 0, "Movable").present_pages == movable_pages
    assert zone(m, 0, "Normal").spanned_pages == normal_spanned
    assert f"  Node 0: {movable_pfn << 12:#018x}" in m.dmesg()


def test_kernelcore_two_nodes_rebalances():
    """kernel-reference §3: kernelcore=4G over two nodes needs a second pass."""
    numa = [NumaNode(0, [(0, 0x200000000)], [0]), NumaNode(1, [(0x200000000, 0x400000000)], [1])]
    e820 = [(0, 0x9fc00, 1), (0x100000, 0xc0000000, 1), (0x100000000, 0x400000000, 1)]
    m = Machine(MachineDescription("two", make_arch("x86_64"), cmdline="kernelcore=4G",
                                   nr_cpus=2, e820=e820, numa=numa))
    assert m.kernel.zone_movable_pfn == {0: 0x120400, 1: 0x220400}


def test_no_movable_zone_by_default():
    m = host_like()
    assert m.kernel.zone_movable_pfn == {0: 0}
    assert zone(m, 0, "Movable").spanned_pages == 0


def test_seed_arm64_movable_matches_seed_picture():
    """Seed example 2: Movable starts at 4200 MiB on node 0 and 9320 MiB on node 1."""
    m = Machine(preset="seed-arm64-numa")
    assert m.kernel.zone_movable_pfn == {0: (4200 << 20) >> 12, 1: (9320 << 20) >> 12}
    n0 = [z.name for z in m.NODE_DATA(0).node_zones if z.present_pages]
    n1 = [z.name for z in m.NODE_DATA(1).node_zones if z.present_pages]
    assert n0 == ["DMA32", "Normal", "Movable"] and n1 == ["Normal", "Movable"]
    assert zone(m, 0, "DMA32").zone_start_pfn == (1 << 30) >> 12


def test_seed_x86_32_highmem_layout():
    m = Machine(preset="seed-x86-32")
    names = [(z.name, z.zone_start_pfn, z.zone_end_pfn) for z in m.NODE_DATA(0).node_zones if z.spanned_pages]
    assert names == [("DMA", 1, 0x1000), ("Normal", 0x1000, 0x36FFE), ("HighMem", 0x36FFE, 0x80000)]
    assert "Policy zone" not in m.dmesg() and m.kernel.policy_zone == 0  # NUMA-only


def test_seed_x86_interleaved_nodes_overlap():
    m = Machine(preset="seed-x86-interleaved")
    n0, n1 = m.NODE_DATA(0), m.NODE_DATA(1)
    assert (n0.node_start_pfn << 12, n0.node_end_pfn << 12) == (0x1000, 12 << 30)
    assert (n1.node_start_pfn << 12, n1.node_end_pfn << 12) == (4 << 30, 16 << 30)
    assert zone(m, 0, "DMA").present_pages and zone(m, 0, "DMA32").present_pages
    assert zone(m, 1, "DMA").spanned_pages == 0
    assert zone(m, 0, "Normal").present_pages == (4 << 30) >> 12  # only bank 2 is node 0's


def test_node_states():
    m = Machine()
    st_ = m.node_states()
    assert st_["N_ONLINE"] == st_["N_MEMORY"] == st_["N_NORMAL_MEMORY"] == st_["N_CPU"] == [0, 1]
    assert list(m.for_each_online_node()) == [0, 1]


def test_zonelists_fallback_by_distance():
    m = Machine()
    zl = list(m.NODE_DATA(1).zonelist)
    assert zl == [(1, "Normal"), (0, "Normal"), (0, "DMA32"), (0, "DMA")]


def test_big_machine_boots_fast():
    import time
    t = time.perf_counter()
    m = Machine(preset="server-1t-8node")
    assert time.perf_counter() - t < 2.0
    assert m.kernel.vm_total_pages > (1 << 40) // 4096 - 1024 * 1024
    assert len(m.nodes) == 8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=4), st.integers(0, 100))
def test_zone_accounting_invariants(bank_gib, movable_pct):
    """Any layout: zones partition each node; spanned >= present; present sums to memory."""
    e820, numa, addr = [(0, 0x9fc00, 1)], [], 0x100000000
    for nid, g in enumerate(bank_gib):
        e820.append((addr, addr + (g << 30), 1))
        numa.append(NumaNode(nid, [(addr if nid else 0, addr + (g << 30))], [nid]))
        addr += g << 30
    m = Machine(MachineDescription("h", make_arch("x86_64"), cmdline=f"movablecore={movable_pct}%",
                                   nr_cpus=len(bank_gib), e820=e820, numa=numa))
    total = sum(r.size for r in m.kernel.memblock.memory.regions) >> 12
    present = 0
    for p in m.nodes:
        spans = sorted((z.zone_start_pfn, z.zone_end_pfn) for z in p.node_zones if z.spanned_pages)
        for (_, e1), (s2, _) in zip(spans, spans[1:]):
            assert e1 <= s2
        for z in p.node_zones:
            assert 0 <= z.present_pages <= z.spanned_pages
        present += p.node_present_pages
    assert present == total
