"""The one stat store (include/linux/vmstat.py): the zone, NUMA, node and event enums are the
kernel's (this host's 6.18 BTF: tests/probe/btf_enums.py -> tests/data/host-linux-6.18/enums.txt),
and compiled code and /proc share one array per kind."""

import numpy as np
from test_page_flags import host_enums

from linuxmm import Machine
from linuxmm.include.linux import gfp as G
from linuxmm.include.linux import vmstat as V
from linuxmm.mm import buddy as B
from linuxmm.mm import page_alloc as pa
from linuxmm.mm.vmstat import SECTOR_EVENTS, vm_event_items


def test_zone_numa_and_node_enums_are_the_kernels():
    host = host_enums()
    for ours, name, count in ((V.ZONE_STAT_ITEM, "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS"),
                              (V.NUMA_STAT_ITEM, "numa_stat_item", "NR_VM_NUMA_EVENT_ITEMS"),
                              (V.NODE_STAT_ITEM, "node_stat_item", "NR_VM_NODE_STAT_ITEMS")):
        want = {n: v for n, v in host[name].items() if n != count and not n.endswith("_BASE")}
        assert ours == want, name
        assert getattr(V, count) == host[name][count]
    assert V.NR_ZONE_LRU_BASE == host["zone_stat_item"]["NR_ZONE_LRU_BASE"]
    assert V.NR_LRU_BASE == host["node_stat_item"]["NR_LRU_BASE"]


def test_vm_event_enum_is_the_kernels_with_every_zone_type():
    """The host (x86-64, no HIGHMEM, no CMA) lacks the HIGH zone events and the CMA ones; with
    those left out, every item has the host's value."""
    host = {n: v for n, v in host_enums()["vm_event_item"].items() if n != "NR_VM_EVENT_ITEMS"}
    extra = set(V.VM_EVENT_ITEM) - set(host)
    assert extra == {"PGALLOC_HIGH", "ALLOCSTALL_HIGH", "PGSCAN_SKIP_HIGH", "CMA_ALLOC_SUCCESS", "CMA_ALLOC_FAIL"}
    assert {n: i for i, n in enumerate(n for n in V.VM_EVENT_ITEM if n in host)} == host
    assert V.PGFAULT == V.VM_EVENT_ITEM["PGFAULT"] and V.NR_VM_EVENT_ITEMS == len(host) + len(extra)


def test_every_printed_event_has_its_slot(host):
    """/proc/vmstat's events on this host are the kernel's enum order, each read from its slot."""
    items = vm_event_items(host.kernel)
    assert [e for e, _ in items] == [n for n in V.VM_EVENT_ITEM if n in {e for e, _ in items}]
    host.kernel.vm_events[:] = np.arange(V.NR_VM_EVENT_ITEMS)
    shown = dict(line.split() for line in host.proc("/proc/vmstat").splitlines())
    # pgpgin/pgpgout count 512-byte sectors and print KiB (vmstat_start halves them)
    assert all(shown[name] == str(V.VM_EVENT_ITEM[e] // (2 if e in SECTOR_EVENTS else 1)) for e, name in items)
    assert "pgalloc_high" not in shown and "pgalloc_device" in shown


def test_one_array_per_kind_counted_where_the_kernel_counts():
    m = Machine(cmdline="transparent_hugepage=never")
    k = m.kernel
    p = m.spawn()
    a, vs = k.mem_map, k.vm_state
    assert np.shares_memory(a.vm_events, k.vm_events) and np.shares_memory(vs.vm_events, k.vm_events)
    for z in (z for nid in k.node_ids for z in k.NODE_DATA(nid).node_zones):
        assert np.shares_memory(z.vm_stat.row, a.vm_stat) and np.shares_memory(z.vm_numa_event.row, a.vm_numa_event)

    def shown():
        return {n: int(v) for n, v in (line.split() for line in m.proc("/proc/vmstat").splitlines())}

    before = shown()
    p.write(p.mmap(1 << 20), 1 << 20)
    dma = [pa.alloc_pages(k, G.GFP_DMA, 0) for _ in range(3)]
    after = shown()
    assert after["pgfault"] - before["pgfault"] == 256 == k.vm_events[V.PGFAULT] - before["pgfault"]
    assert after["pgalloc_dma"] - before["pgalloc_dma"] == 3
    assert after["pgalloc_normal"] + after["pgalloc_dma32"] - before["pgalloc_normal"] - before["pgalloc_dma32"] >= 256
    for pfn in dma:
        pa.free_pages(k, pfn, 0)
    assert shown()["pgfree"] - after["pgfree"] == 3
    B.drain_all_pages(a)
    dma_zone = next(z for z in k.NODE_DATA(0).node_zones if z.name == "DMA")
    on_lists = int((dma_zone.nr_free.sum(axis=1) << np.arange(dma_zone.nr_free.shape[0])).sum())
    assert dma_zone.vm_stat["NR_FREE_PAGES"] == on_lists
    assert shown()["nr_free_pages"] == V.global_zone_page_state(k, "NR_FREE_PAGES") == int(a.vm_stat[:, 0].sum())
