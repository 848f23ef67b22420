"""/proc/{zoneinfo,buddyinfo,pagetypeinfo,meminfo,vmstat} and /proc/sys/vm against this host.

The oracle is tests/data/host-linux-6.18 (Linux 6.18.44, 2 CPUs, THP madvise, booted with
the non-mainline ``deferred_init=lazy``). Managed pages are pinned to the snapshot's, then:

* every *derived* zoneinfo field (watermarks, geometry, protection, pcp limits, thresholds)
  must equal the real file's, zone by zone;
* with the workload counters copied in from the real files, whole files must come out byte
  for byte (what is computed, such as MemAvailable and CommitLimit, stays computed).

Files are rendered with ``proc_read`` (the kernel state as it is): ``Machine.proc`` would
first build the buddy allocator's free lists, which these tests do not need.
"""

import errno
import json
import re
import sys

import numpy as np
import pytest
from conftest import DATA, HOST_PINNED, HOST_SNAP

from linuxmm import Machine, cli
from linuxmm.errors import KernelError, LinuxmmError
from linuxmm.fs.proc.generic import proc_read
from linuxmm.kernel.sysctl import proc_sys_vm
from linuxmm.include.linux.vmstat import VM_EVENT_ITEM
from linuxmm.mm import vmstat

SNAP, PINNED = HOST_SNAP, HOST_PINNED
DERIVED = ("boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma",
           "protection", "node_unreclaimable", "start_pfn")


def real(name: str) -> str:
    return (SNAP / f"{name}.txt").read_text()


def render(m, name: str) -> str:
    return proc_read(m.kernel, f"/proc/{name}")


# ---- zoneinfo ---------------------------------------------------------------------------


def parse_zoneinfo(text: str) -> dict[str, dict]:
    """Zone name -> {field: value, "stats": {...}, "pagesets": [{...} per cpu]}."""
    zones: dict[str, dict] = {}
    cur: dict = {}
    for line in text.splitlines():
        if line.startswith("Node "):
            cur = zones.setdefault(line.split()[-1], {"stats": {}, "pagesets": []})
        elif "protection:" in line:
            cur["protection"] = tuple(int(x) for x in re.findall(r"-?\d+", line))
        elif line.startswith("    cpu:"):
            cur["pagesets"].append({"cpu": int(line.split()[-1])})
        elif line.startswith("              ") or line.startswith("  vm stats threshold"):
            key, value = line.strip().rsplit(None, 1)
            cur["pagesets"][-1][key.rstrip(":")] = int(value)
        elif line.startswith("  ") and line.split()[-1].isdigit():
            key, value = line.strip().rsplit(None, 1)
            is_stat = line.startswith("      ") and not line.startswith("        ")
            target = cur["stats"] if is_stat else cur
            target[key.rstrip(":").replace("pages free", "free")] = int(value)
    return zones


def test_zoneinfo_derived_fields_match_host(host):
    sim, want = parse_zoneinfo(render(host, "zoneinfo")), parse_zoneinfo(real("zoneinfo"))
    assert list(sim) == list(want) == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    for zone in want:
        for key in DERIVED:
            assert sim[zone].get(key) == want[zone].get(key), (zone, key)
        limits = [{k: p[k] for k in ("cpu", "batch", "high_min", "high_max", "vm stats threshold")}
                  for p in want[zone]["pagesets"]]
        assert [{k: p[k] for k in limits[0]} for p in sim[zone]["pagesets"]] == limits, zone
        assert sim[zone]["stats"].keys() == want[zone]["stats"].keys(), zone


def feed_zoneinfo_counters(m, text: str) -> None:
    """Copy the workload's counters (not the derived fields) from a real zoneinfo."""
    names = {n: e for e, n in vmstat.ZONE_STAT_ITEMS}
    numa = {n: e for e, n in vmstat.NUMA_EVENT_ITEMS}
    node_names = {n: e for e, n in vmstat.NODE_STAT_ITEMS}
    zones = {z.name: z for z in m.kernel.NODE_DATA(0).node_zones}
    pgdat = m.kernel.NODE_DATA(0)
    for name, info in parse_zoneinfo(text).items():
        z = zones[name]
        z.vm_stat["NR_FREE_PAGES"] = info["free"]
        for key, value in info["stats"].items():
            if key in node_names:
                item = node_names[key]
                pgdat.vm_stat[item] = value * (512 if item in vmstat.THP_ITEMS else 1)
            elif key in numa:
                z.vm_numa_event[numa[key]] = value
            else:
                z.vm_stat[names[key]] = value
        for pcp, seen in zip(z.per_cpu_pageset, info["pagesets"]):
            pcp.update(count=seen["count"], high=seen["high"])


def test_zoneinfo_byte_exact_with_host_counters(host):
    feed_zoneinfo_counters(host, real("zoneinfo"))
    assert render(host, "zoneinfo") == real("zoneinfo")


# ---- buddyinfo / pagetypeinfo -------------------------------------------------------------


def feed_free_lists(m) -> None:
    """nr_free per order and migratetype, from the real pagetypeinfo's free table."""
    zones = {z.name: z for z in m.kernel.NODE_DATA(0).node_zones}
    types = vmstat.migratetype_names(m.kernel)
    for line in real("pagetypeinfo").splitlines():
        mt = re.match(r"Node\s+0, zone\s+(\S+), type\s+(\S+)\s+(.*)", line)
        if mt:
            z = zones[mt[1]]
            if z.nr_free is None:
                z.nr_free = np.zeros((11, len(types)), dtype=np.int64)
            z.nr_free[:, types.index(mt[2])] = [int(x) for x in mt[3].split()]


def test_buddyinfo_byte_exact(host):
    feed_free_lists(host)
    assert render(host, "buddyinfo") == real("buddyinfo")


def shape(line: str) -> str:
    """A line with every right-aligned number blanked to its field width."""
    return re.sub(r" *\d+", lambda m: "#" * len(m[0]), line)


def test_buddyinfo_layout_without_free_lists(host):
    sim, want = render(host, "buddyinfo").splitlines(True), real("buddyinfo").splitlines(True)
    assert [shape(s) for s in sim] == [shape(w) for w in want]  # same columns, padding, spaces


def test_pagetypeinfo_free_table_byte_exact_and_block_counts(host):
    feed_free_lists(host)
    sim, want = render(host, "pagetypeinfo"), real("pagetypeinfo")
    head = want.index("\nNumber of blocks type")
    assert sim[:head] == want[:head]
    blocks = {ln.split()[3]: [int(x) for x in ln.split()[4:]] for ln in sim[head:].splitlines()
              if ln.startswith("Node 0, zone")}
    # at boot every pageblock is Movable; DMA/DMA32 totals match the host, Normal is mainline's
    # 5505024/512 (the lazy-init host only counts its 320 initialised blocks)
    assert blocks == {"DMA": [0, 8, 0, 0, 0], "DMA32": [0, 1528, 0, 0, 0], "Normal": [0, 10752, 0, 0, 0]}
    sim_tail, want_tail = sim[head:].splitlines(), want[head:].splitlines()
    assert [shape(s) for s in sim_tail] == [shape(w) for w in want_tail]


def test_pagetypeinfo_overflow_marker(host):
    z = host.kernel.NODE_DATA(0).node_zones[1]
    z.nr_free = np.zeros((11, 5), dtype=np.int64)
    z.nr_free[0, 1] = 250000
    assert "  DMA32, type      Movable >100000 " in render(host, "pagetypeinfo")


# ---- meminfo ----------------------------------------------------------------------------


def kb(text: str) -> dict[str, int]:
    return {ln.split(":")[0]: int(ln.split()[1]) for ln in text.splitlines()}


def feed_meminfo_counters(m, info: dict[str, int]) -> None:
    k = m.kernel
    zones = {z.name: z for z in m.kernel.NODE_DATA(0).node_zones}
    pages = {name: v // 4 for name, v in info.items()}
    k.totalram_pages = pages["MemTotal"]
    zones["DMA"].vm_stat["NR_FREE_PAGES"] = 3840
    zones["DMA32"].vm_stat["NR_FREE_PAGES"] = 772915
    zones["Normal"].vm_stat["NR_FREE_PAGES"] = pages["MemFree"] - 3840 - 772915
    zones["Normal"].vm_stat["NR_MLOCK"] = pages["Mlocked"]
    k.nr_blockdev_pages = pages["Buffers"]
    node = {"NR_FILE_PAGES": pages["Cached"] + pages["Buffers"] + pages["SwapCached"],
            "NR_SWAPCACHE": pages["SwapCached"], "NR_ACTIVE_ANON": pages["Active(anon)"],
            "NR_INACTIVE_ANON": pages["Inactive(anon)"], "NR_ACTIVE_FILE": pages["Active(file)"],
            "NR_INACTIVE_FILE": pages["Inactive(file)"], "NR_UNEVICTABLE": pages["Unevictable"],
            "NR_FILE_DIRTY": pages["Dirty"], "NR_WRITEBACK": pages["Writeback"],
            "NR_ANON_MAPPED": pages["AnonPages"], "NR_FILE_MAPPED": pages["Mapped"],
            "NR_SHMEM": pages["Shmem"], "NR_SLAB_RECLAIMABLE_B": pages["SReclaimable"],
            "NR_SLAB_UNRECLAIMABLE_B": pages["SUnreclaim"], "NR_KERNEL_STACK_KB": info["KernelStack"],
            "NR_PAGETABLE": pages["PageTables"]}
    m.kernel.NODE_DATA(0).vm_stat.update(node)
    k.vm_committed_as, k.vmalloc_nr_pages = pages["Committed_AS"], pages["VmallocUsed"]
    k.pcpu_nr_pages = pages["Percpu"]
    k.direct_map_kb = {s: info[f"DirectMap{s}"] for s in ("4k", "2M", "1G")}


def test_meminfo_byte_exact_with_host_counters(host):
    """MemAvailable (§8.4) and CommitLimit (§8.2) are computed, not copied."""
    feed_meminfo_counters(host, kb(real("meminfo")))
    sim = render(host, "meminfo")
    assert kb(sim)["MemAvailable"] == 24461172
    assert kb(sim)["CommitLimit"] == 12342040
    assert sim == real("meminfo")


def test_meminfo_layout(host):
    sim, want = render(host, "meminfo").splitlines(), real("meminfo").splitlines()
    assert [s.split(":")[0] for s in sim] == [w.split(":")[0] for w in want]
    for s, w in zip(sim, want):
        label_end = len(w.split(":")[0]) + 1
        if len(w.split()[1]) <= (5 if w.startswith("HugePages_") else 8):  # wider values overflow
            assert len(s) == len(w) and s.endswith(" kB") == w.endswith(" kB"), w
        assert s[:label_end] == w[:label_end]


# ---- vmstat -----------------------------------------------------------------------------


def test_vmstat_items_and_counters(host):
    want = [ln.split() for ln in real("vmstat").splitlines()]
    events = {n: e for e, n in vmstat.vm_event_items(host.kernel)}
    feed_zoneinfo_counters(host, real("zoneinfo"))
    k = host.kernel
    for n, v in want:  # pgpgin/pgpgout count sectors and print KiB
        if n in events:
            k.vm_events[VM_EVENT_ITEM[events[n]]] = int(v) * (2 if events[n] in vmstat.SECTOR_EVENTS else 1)
    for n, v in want:  # the vmstat snapshot was taken a moment after zoneinfo's
        for e, name in vmstat.NODE_STAT_ITEMS:
            if name == n:
                host.kernel.NODE_DATA(0).vm_stat[e] = int(v) * (512 if e in vmstat.THP_ITEMS else 1)
    sim = [ln.split() for ln in render(host, "vmstat").splitlines()]
    assert [n for n, _ in sim] == [n for n, _ in want]
    computed = {"nr_dirty_threshold", "nr_dirty_background_threshold",  # from MemFree on this host
                "nr_zone_inactive_anon", "nr_zone_inactive_file", "nr_zone_active_file",  # later
                "nr_zone_write_pending", "numa_hit", "numa_local", "nr_free_pages", "nr_free_pages_blocks"}
    assert [x for x in sim if x[0] not in computed] == [x for x in want if x[0] not in computed]
    assert dict(sim)["nr_memmap_boot_pages"] == "98304"  # 192 present sections x 512


def test_dirty_thresholds_worked_example(host):
    """§8.3: dirtyable 6085629 pages -> 1216828 / 607671 with ratios 20 / 10."""
    z = host.kernel.NODE_DATA(0).node_zones[2]
    z.vm_stat["NR_FREE_PAGES"] = 6085628 + host.kernel.totalreserve_pages
    lines = dict(ln.split() for ln in render(host, "vmstat").splitlines())
    assert (lines["nr_dirty_threshold"], lines["nr_dirty_background_threshold"]) == ("1216828", "607671")
    host.sysctl("vm.dirty_bytes", str(1 << 30))
    assert host.sysctl("vm.dirty_ratio") == "0\n"
    lines = dict(ln.split() for ln in render(host, "vmstat").splitlines())
    assert lines["nr_dirty_threshold"] == str(262144)


# ---- /proc/sys/vm -----------------------------------------------------------------------


def test_sysctl_vm_reads_as_host(host):
    sim = proc_sys_vm(host.kernel)
    want = dict(ln.split("\t", 1) for ln in real("sysctl_vm").splitlines())
    assert sorted(sim) == sorted(want)
    # the host sized user_reserve_kbytes from the few GB lazy init had freed by then;
    # mainline (and the simulator) see all memory free: min(free/32, 128 MiB)
    assert sim.pop("user_reserve_kbytes") == "131072\n" and want.pop("user_reserve_kbytes") == "100403 "
    assert {n: " ".join(v.split()) for n, v in sim.items()} == {n: " ".join(v.split()) for n, v in want.items()}
    assert host.sysctl("vm.lowmem_reserve_ratio") == "256\t256\t32\t0\t0\n"


@pytest.mark.parametrize("name, value", [
    ("watermark_scale_factor", "0"), ("watermark_scale_factor", "3001"), ("watermark_scale_factor", "abc"),
    ("watermark_scale_factor", ""), ("watermark_scale_factor", "12x"), ("swappiness", "201"),
    ("swappiness", "-1"), ("min_free_kbytes", "-1"), ("percpu_pagelist_high_fraction", "1"),
    ("percpu_pagelist_high_fraction", "-8"), ("overcommit_memory", "3"), ("extfrag_threshold", "1001"),
    ("dirty_ratio", "101"), ("dirty_bytes", "4096"), ("user_reserve_kbytes", "-1"),
    ("numa_zonelist_order", "zone"), ("compact_memory", "2"), ("drop_caches", "5"), ("page-cluster", "32"),
    ("max_map_count", "2147483648"),
])
def test_sysctl_einval(host, name, value):
    before = proc_sys_vm(host.kernel)
    with pytest.raises(KernelError) as e:
        host.sysctl(f"vm.{name}", value)
    assert e.value.errno == errno.EINVAL
    assert proc_sys_vm(host.kernel) == before


def test_sysctl_accepts_kernel_number_forms(host):
    assert host.sysctl("vm.swappiness", "0x10\n") == 0
    assert host.sysctl("vm.swappiness") == "16\n"
    host.sysctl("vm.swappiness", "010")  # base 0: octal
    assert host.sysctl("vm/swappiness") == "8\n"
    host.sysctl("vm.numa_zonelist_order", "node")  # accepted, and Node it stays
    assert host.sysctl("vm.numa_zonelist_order") == "Node\n"


def test_sysctl_access_modes_and_actions(host):
    with pytest.raises(KernelError) as e:
        host.sysctl("vm.drop_caches")
    assert e.value.errno == errno.EACCES
    assert host.sysctl("vm.stat_refresh") == "" and host.sysctl("vm.stat_refresh", "1") == 0
    host.sysctl("vm.drop_caches", "3")
    lines = dict(ln.split() for ln in render(host, "vmstat").splitlines())
    assert (lines["drop_pagecache"], lines["drop_slab"]) == ("1", "1")
    with pytest.raises(LinuxmmError, match="not simulated"):
        host.sysctl("vm.compact_memory", "1")
    with pytest.raises(KernelError) as e:
        host.sysctl("vm.no_such_knob")
    assert e.value.errno == errno.ENOENT


def test_overcommit_knobs_are_exclusive(host):
    host.kernel.totalram_pages = 6171021
    assert kb(render(host, "meminfo"))["CommitLimit"] == 12342040
    host.sysctl("vm.overcommit_kbytes", "1048576")
    assert host.sysctl("vm.overcommit_ratio") == "0\n"
    assert kb(render(host, "meminfo"))["CommitLimit"] == 1048576
    host.sysctl("vm.overcommit_ratio", "100")
    assert host.sysctl("vm.overcommit_kbytes") == "0\n"


def test_numa_stat_off_clears_counters(host):
    z = host.kernel.NODE_DATA(0).node_zones[2]
    z.vm_numa_event["NUMA_HIT"] = 5
    host.sysctl("vm.numa_stat", "0")
    assert parse_zoneinfo(render(host, "zoneinfo"))["Normal"]["stats"]["numa_hit"] == 0
    assert "disable numa statistics, and clear numa counters" in host.dmesg()


def test_machine_proc_paths(host):
    assert host.proc("/proc/sys/vm/min_free_kbytes") == "67584\n"
    assert host.proc("sys/vm/watermark_scale_factor") == "10\n"
    with pytest.raises(KernelError) as e:
        host.proc("/proc/slabinfo")
    assert e.value.errno == errno.ENOENT
    with pytest.raises(KernelError):
        host.sysctl("kernel.pid_max")


# ---- CLI --------------------------------------------------------------------------------


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["linuxmm", *args])
    with pytest.raises(SystemExit) as e:
        cli.main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_proc_sysctl(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "proc", "sys/vm/min_free_kbytes", "--preset", "seed-x86-32",
                           "--sysctl", "vm.min_free_kbytes=4096", "--managed", "Normal=100000")
    assert (code, out) == (0, "4096\n")


@pytest.mark.parametrize("args, message", [
    (["--sysctl", "vm.watermark_scale_factor=0"], "-EINVAL"),
    (["--sysctl", "vm.swappiness"], "expected vm.NAME=VALUE"),
    (["--managed", "DMA32=lots"], "expected ZONE=PAGES"),
    (["--managed", "Normal=999999999"], "present"),
    (["--table"], "only for zoneinfo"),
])
def test_cli_bad_values_are_clear_errors(monkeypatch, capsys, args, message):
    code, out, err = run_cli(monkeypatch, capsys, "proc", "sys/vm/swappiness", *args)
    assert code == 1 and message in err and "Traceback" not in err and out == ""


def test_cli_unknown_file(monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "proc", "slabinfo")
    assert code == 1 and "-ENOENT" in err and "meminfo" in err


def test_zoneinfo_table_columns(host):
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(cli.render_zoneinfo_table(host, cli.zoneinfo_rows(host)))
    text = console.export_text()
    assert "13883" in text and "(0, 3019, 3659, 3659, 3659)" in text and "48307" in text


# ---- Committed_AS and Mapped against this host (tests/probe/meminfo_probe.c) ----------------

PROBE = [json.loads(line) for line in (DATA / "host-linux-6.18" / "meminfo_probe.jsonl").read_text().splitlines()]
# The host's counters move by themselves a little (tests/data/README.md): per-cpu vmstat drift of
# at most stat_threshold (125) pages per CPU (2 here), and other processes' commits meanwhile.
HOST_SLACK_KB = 2 * 125 * 4


def test_committed_as_and_mapped_follow_the_host():
    """Committed_AS counts VM_ACCOUNT memory and shmem objects from mmap to munmap, not what is
    touched; Mapped counts shmem pages mapped by a pte. (The host's file steps need the page
    cache, not simulated yet.)"""
    m = Machine()
    p = m.spawn()
    size = PROBE[0]["size_kb"] << 10
    regions = {}

    def meminfo():
        info = kb(m.proc("/proc/meminfo"))
        return info["Committed_AS"], info["Mapped"]

    start = meminfo()[0]

    steps = {"mmap_private_anon": lambda: regions.update(priv=p.mmap(size)),
             "touch_private_anon": lambda: p.write(regions["priv"], size),
             "mmap_shared_anon": lambda: regions.update(shm=p.mmap(size, flags="shared|anonymous")),
             "touch_shared_anon": lambda: p.write(regions["shm"], size),
             "munmap_shared_anon": lambda: p.munmap(regions["shm"], size),
             "munmap_private_anon": lambda: p.munmap(regions["priv"], size)}
    for rec in PROBE:
        if rec["step"] not in steps:
            continue
        c0, m0 = meminfo()
        steps[rec["step"]]()
        c1, m1 = meminfo()
        assert abs(c1 - c0 - rec["committed_as_kb"]) <= HOST_SLACK_KB, rec
        assert abs(m1 - m0 - rec["mapped_kb"]) <= HOST_SLACK_KB, rec
        assert (c1 - c0, m1 - m0) == {"mmap_private_anon": (size >> 10, 0), "mmap_shared_anon": (size >> 10, 0),
                                      "touch_shared_anon": (0, size >> 10),
                                      "munmap_shared_anon": (-size >> 10, -size >> 10),
                                      "munmap_private_anon": (-size >> 10, 0)}.get(rec["step"], (0, 0))
    assert meminfo() == (start, 0)
    p.mmap(size)
    q = p.fork()  # the child's copy of private writable memory is charged too
    q.mmap(size, flags="shared|anonymous")
    assert meminfo()[0] == start + 3 * (size >> 10)
    q.exit()  # exit gives back its VM_ACCOUNT charge and drops its shmem object
    p.exit()
    assert meminfo()[0] == start


def test_node_counters_are_one_array_in_enum_order():
    """pgdat->vm_stat is a row of the array the compiled fault path updates, its columns in
    enum node_stat_item order (the order /proc/vmstat prints), so /proc reads what it counts."""
    from linuxmm.mm import pgtable as P

    m = Machine(cmdline="transparent_hugepage=never")
    k = m.kernel
    before = m.proc("/proc/vmstat")
    p = m.spawn()
    p.write(p.mmap(4 << 20), 4 << 20)
    q = p.fork()
    q.write(q.mmap(1 << 20, flags="shared|anonymous"), 1 << 20)
    names = [name for _, name in vmstat.NODE_STAT_ITEMS]
    printed = [line.split()[0] for line in before.splitlines()]
    assert [n for n in printed if n in names] == [n for n in names if n in printed]
    assert (names.index("nr_anon_pages"), names.index("nr_file_pages"), names.index("nr_mapped"),
            names.index("nr_shmem"), names.index("nr_page_table_pages")) == \
        (P.NS_ANON_MAPPED, P.NS_FILE_PAGES, P.NS_FILE_MAPPED, P.NS_SHMEM, P.NS_PAGETABLE)
    nstat = k.vm_state.nstat
    assert all(np.shares_memory(k.NODE_DATA(nid).vm_stat.row, nstat) for nid in k.node_ids)
    node = {n: int(nstat[:, i].sum()) for i, n in enumerate(names)}
    assert (node["nr_anon_pages"], node["nr_shmem"], node["nr_file_pages"], node["nr_mapped"]) == (1024, 256, 256, 256)
    shown = dict(line.split() for line in m.proc("/proc/vmstat").splitlines())
    assert all(int(shown[n]) == v for n, v in node.items() if n in shown)
