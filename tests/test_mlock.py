"""mlocked folios on the unevictable list (mm/mlock.py, mm/swap.py's mlock half, mm/vmscan.py):
mlock/munlock/munmap move them as 6.18 does, against this host
(tests/probe/mlock_probe.c -> tests/data/host-linux-6.18/mlock_probe.jsonl), and reclaim
never takes an mlocked page from RAM."""

import json
import re

from conftest import HOST_SNAP

import linuxmm
from linuxmm import debug
from linuxmm.include.linux.pagevec import FOLIO_BATCH_SIZE

MiB = 1 << 20
PAGE = 4096
LEN = 16 * MiB
PM_PRESENT = 1 << 63
PM_PFN_MASK = (1 << 55) - 1
KPF_UNEVICTABLE, KPF_MLOCKED = 18, 33
EVENTS = ("unevictable_pgs_culled", "unevictable_pgs_rescued", "unevictable_pgs_mlocked",
          "unevictable_pgs_munlocked", "unevictable_pgs_cleared", "unevictable_pgs_stranded")
HOST = {r["step"]: r for r in map(json.loads, (HOST_SNAP / "mlock_probe.jsonl").read_text().splitlines())}


def counters(m):
    mi, vm = m.proc("meminfo"), m.proc("vmstat")
    c = {f"{n.lower()}_kb": int(re.search(rf"^{n}:\s+(\d+) kB$", mi, re.MULTILINE).group(1))
         for n in ("Mlocked", "Unevictable")}
    c.update({n: int(re.search(rf"^{n} (\d+)$", vm, re.MULTILINE).group(1)) for n in EVENTS})
    return c


def probe_steps(m):
    """The probe's four steps in the simulator: {step: counter deltas}."""
    p = m.spawn()
    p.task.mm.capabilities = frozenset({"CAP_IPC_LOCK"})  # the probe ran as root
    a, b = p.mmap(LEN, "rw"), p.mmap(LEN, "rw")
    p.write(a, LEN)
    out = {}
    for step, call in (("mlock", lambda: p.mlock(a, LEN)), ("munlock", lambda: p.munlock(a, LEN)),
                       ("mlock_fresh", lambda: p.mlock(b, LEN)), ("munmap", lambda: p.munmap(b, LEN))):
        before = counters(m)
        call()
        after = counters(m)
        out[step] = {n: after[n] - before[n] for n in after}
    return out


def test_mlock_munlock_munmap_move_folios_as_on_this_host():
    """Every page mlocked is counted once in unevictable_pgs_mlocked and culled to the
    unevictable list (Mlocked and Unevictable +16 MiB), munlock and munmap munlock and
    rescue each. The host's meminfo deltas lag by its per-CPU stat drift and its munmap
    leaves a few folios in the CPU's mlock batch; the simulator's batches move at once."""
    m = linuxmm.Machine(cmdline="mem=256M")
    sim = probe_steps(m)
    pages = LEN // PAGE
    for step, deltas in sim.items():
        host = HOST[step]
        for name in ("mlocked_kb", "unevictable_kb"):
            assert abs(deltas[name]) == LEN >> 10, (step, name, deltas)
            assert abs(host[name]) <= LEN >> 10 and abs(host[name]) > (LEN >> 10) * 98 // 100, (step, name, host)
            assert (deltas[name] > 0) == (host[name] > 0)
        for name in EVENTS:
            assert deltas[name] in (0, pages), (step, name, deltas)
            assert abs(deltas[name] - host[name]) <= FOLIO_BATCH_SIZE, (step, name, deltas, host)
    assert debug.check(m) == []


def test_mlocked_pages_never_leave_ram_under_pressure():
    """An mlocked file mapping and mlocked anonymous memory stay mapped on the same frames
    while twice RAM of page cache streams through; reclaim leaves them on the unevictable
    list (PG_mlocked, PG_unevictable) and the mapping reads back without a major fault."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    p.task.mm.capabilities = frozenset({"CAP_IPC_LOCK"})
    fd = p.open("/locked", "rw", create=True)
    p.pwrite(fd, LEN, offset=0, value=3, chunk=MiB)
    p.fsync(fd)
    f = p.mmap(LEN, "r", "shared", fd=fd)
    anon = p.mmap(LEN, "rw")
    p.write(anon, LEN, value=4)
    p.mlock(f, LEN)
    p.mlock(anon, LEN)
    frames = p.pagemap(f, LEN // PAGE) + p.pagemap(anon, LEN // PAGE)
    assert all(e & PM_PRESENT for e in frames)
    other = p.open("/stream", "rw", create=True)
    for off in range(0, 192 * MiB, 8 * MiB):
        p.pwrite(other, 8 * MiB, offset=off, value=1)
        p.fsync(other)
    assert p.pagemap(f, LEN // PAGE) + p.pagemap(anon, LEN // PAGE) == frames
    for e in frames:
        flags = m.kpageflags(e & PM_PFN_MASK)[0]
        assert flags >> KPF_MLOCKED & 1 and flags >> KPF_UNEVICTABLE & 1
    assert counters(m)["mlocked_kb"] >= 2 * LEN >> 10
    majflt = p.majflt
    assert p.read(f, LEN, stride=MiB) == bytes([3]) * (LEN // MiB)
    assert p.majflt == majflt
    assert debug.check(m) == []


def test_reclaim_culls_a_folio_it_finds_in_a_locked_vma():
    """A folio on an evictable list though a VM_LOCKED VMA maps it (the kernel's missed
    mlock: a racing munlock, an undercounted mlock_count) is mlocked by folio_referenced
    when reclaim scans it and culled to the unevictable list on putback."""
    from linuxmm.include.linux.mmzone import LRU_INACTIVE_ANON
    from linuxmm.mm import vmscan
    from linuxmm.mm.swap import munlock_folio

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    a = p.mmap(MiB, "rw")
    p.write(a, MiB)
    p.mlock(a, MiB)
    k = m.kernel
    pfn = p.pagemap(a)[0] & PM_PFN_MASK
    munlock_folio(k.mem_map, pfn)
    assert not m.kpageflags(pfn)[0] >> KPF_UNEVICTABLE & 1
    culled = counters(m)["unevictable_pgs_culled"]
    sc = vmscan.scan_control(nr_to_reclaim=32, reclaim_idx=len(k.zone_names) - 1)
    vmscan.shrink_inactive_list(k, k.NODE_DATA(0).lruvec, 1 << 20, LRU_INACTIVE_ANON, sc)
    flags = m.kpageflags(pfn)[0]
    assert flags >> KPF_MLOCKED & 1 and flags >> KPF_UNEVICTABLE & 1
    assert counters(m)["unevictable_pgs_culled"] == culled + 1
    assert debug.check(m) == []


def test_lock_on_fault_mlocks_pages_as_they_fault_in():
    """mlock2(MLOCK_ONFAULT) populates nothing; each page touched afterwards is mlocked as it
    faults in (``mlock_new_folio``) and joins the unevictable list."""
    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    a = p.mmap(4 * MiB, "rw")
    before = counters(m)
    p.mlock2(a, 4 * MiB, onfault=True)
    assert counters(m)["mlocked_kb"] == before["mlocked_kb"]
    p.write(a, MiB)
    after = counters(m)
    assert after["mlocked_kb"] - before["mlocked_kb"] == 1024
    assert after["unevictable_pgs_mlocked"] - before["unevictable_pgs_mlocked"] == MiB // PAGE
    assert all(m.kpageflags(e & PM_PFN_MASK)[0] >> KPF_MLOCKED & 1 for e in p.pagemap(a, MiB // PAGE))
    assert debug.check(m) == []


def test_check_catches_unevictable_folios_that_are_not_mlocked():
    """debug.check: the unevictable list holds exactly the PG_mlocked folios, NR_MLOCK counts
    them, and each is mapped by a VM_LOCKED VMA; a folio losing PG_mlocked behind the
    kernel's back breaks the first two rules, a VMA losing VM_LOCKED the third."""
    from linuxmm.include.linux.mm_types import VM_LOCKED
    from linuxmm.include.linux.page_flags import PG_mlocked_mask
    from linuxmm.mm import vma as V

    m = linuxmm.Machine(cmdline="mem=96M")
    p = m.spawn()
    a = p.mmap(MiB, "rw")
    p.write(a, MiB)
    p.mlock(a, MiB)
    assert debug.check(m) == []
    pfn = p.pagemap(a)[0] & PM_PFN_MASK
    m.kernel.mem_map.flags[pfn] &= ~PG_mlocked_mask
    errors = debug.check(m)
    assert any("PG_unevictable 1 but PG_mlocked 0" in e for e in errors)
    assert any("NR_MLOCK" in e for e in errors)
    m.kernel.mem_map.flags[pfn] |= PG_mlocked_mask
    vma = p.task.mm.vmas[[v.vm_start for v in p.task.mm.vmas].index(a)]
    V.vm_flags_reset(p.task.mm, vma, vma.vm_flags & ~VM_LOCKED)
    assert any("no VM_LOCKED VMA maps it" in e for e in debug.check(m))
