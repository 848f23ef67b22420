"""Replaying memory-access traces through the MMU and the fault path (``linuxmm replay``).

``replay(machine, trace)`` creates a process whose VMAs cover what the trace touches (runs
of touched pages, or the lines of a ``/proc/PID/maps`` file), then feeds every record
through one compiled loop — TLBs, paging-structure caches, page walk, page fault, page
allocation, accessed/dirty bits — leaving it only for events that need Python. Memory of
the traced program is modelled as private anonymous memory, except for the file-backed
lines of a maps file: each file is created on the simulated disk at the size its mappings
reach (``m.create_file``: cached, as a running program's libraries are) and mapped from it,
so the trace takes file faults (fault-around, copy-on-write of written private pages).

Cost model for ``cycles`` (a rough, stated model, not a measurement): an L1 dTLB hit costs
nothing beyond the access (1 cycle counted per access), an STLB hit 9 cycles, each
page-table entry a walk reads 30 cycles, and a page fault 4400 cycles (the 1.7 us this
machine's kernel takes per 4 KiB write fault, at 2.6 GHz).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..debug import check_or_report
from ..errors import KernelError, ParseError
from ..kernel.timer import ACCESS_NS, FAULT_NS
from ..mm import memory as M
from ..mm.page_alloc import slowpath_wakes_nothing, wake_boosted_kswapds

CYCLES = {"access": 1, "stlb_hit": 9, "walk_ref": 30, "fault": 4400}
RECORD_MAX_NS = ACCESS_NS + FAULT_NS  # the most simulated time one record takes (one fault)
RUN_GAP_PAGES = 32  # touched pages closer than this share one VMA
_MAPS_RE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps])(?:\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*))?$")
# Entries of a real maps file that are not the program's mappings: the legacy vsyscall page
# is a fixed kernel address above the user address space (``gate_vma``), not a VMA of the mm.
MAPS_NOT_VMAS = ("[vsyscall]",)


class MapsVma(NamedTuple):
    """One line of a ``/proc/PID/maps`` file: ``path`` is set for a mapping of a regular file
    (not ``[heap]``, ``/dev/...`` or a deleted file), ``offset`` is its file offset."""
    start: int
    end: int
    prot: str
    lineno: int
    shared: bool = False
    offset: int = 0
    path: str | None = None


def maps_file_path(name: str) -> str | None:
    """The path of a maps line's file, if it is one a trace can be given: a regular file (on
    ext4, or tmpfs under /dev/shm), not a pseudo-file or one deleted since."""
    if not name.startswith("/") or name.endswith("(deleted)"):
        return None
    return name if not name.startswith("/dev/") or name.startswith("/dev/shm/") else None


@dataclass
class ReplayResult:
    trace: str
    records: int = 0
    accesses: int = 0
    minor_faults: int = 0
    major_faults: int = 0
    tlb: dict = field(default_factory=dict)
    pages_allocated: int = 0
    page_tables: int = 0
    peak_rss_kb: int = 0
    thp_faults: int = 0
    parse_seconds: float = 0.0
    replay_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    bad_lines: int = 0  # malformed lines skipped (skip_bad)
    first_bad: tuple[int, str] | None = None  # (line number, text) of the first

    def as_dict(self) -> dict:
        t = self.tlb
        cycles = (self.accesses * CYCLES["access"] + t.get("stlb_hits", 0) * CYCLES["stlb_hit"]
                  + t.get("walk_refs", 0) * CYCLES["walk_ref"] + self.minor_faults * CYCLES["fault"])
        return {"trace": self.trace, "records": self.records, "accesses": self.accesses,
                "minor_faults": self.minor_faults, "major_faults": self.major_faults,
                "tlb_hits": t.get("l1_hits", 0) + t.get("stlb_hits", 0), "tlb_misses": t.get("stlb_misses", 0),
                "l1_hits": t.get("l1_hits", 0), "l1_misses": t.get("l1_misses", 0),
                "stlb_hits": t.get("stlb_hits", 0), "stlb_misses": t.get("stlb_misses", 0),
                "page_walks": t.get("walks", 0), "walk_refs": t.get("walk_refs", 0),
                "pwc_hits": sum(v for k, v in t.items() if k.startswith("pwc_hits")),
                "pages_allocated": self.pages_allocated, "page_tables": self.page_tables,
                "peak_rss_kb": self.peak_rss_kb, "thp_faults": self.thp_faults,
                "cycles": cycles, "cost_model": CYCLES,
                "bad_lines": self.bad_lines, "parse_seconds": round(self.parse_seconds, 6), "replay_seconds": round(self.replay_seconds, 6)}


def touched_runs(pages: np.ndarray, gap: int = RUN_GAP_PAGES) -> list[tuple[int, int]]:
    """[start, end) byte ranges covering sorted unique page numbers, joining close runs."""
    if len(pages) == 0:
        return []
    breaks = np.nonzero(np.diff(pages) > gap)[0]
    starts = np.concatenate([[pages[0]], pages[breaks + 1]])
    ends = np.concatenate([pages[breaks], [pages[-1]]]) + 1
    return [(int(s) << 12, int(e) << 12) for s, e in zip(starts, ends)]


def parse_maps(path) -> tuple[list[MapsVma], list[str]]:
    """``/proc/PID/maps`` lines as VMAs, and notes on the lines skipped ([vsyscall]);
    errors name the line."""
    vmas, notes = [], []
    for lineno, line in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _MAPS_RE.match(line.strip())
        if not m:
            raise ParseError(str(path), lineno, f"not a /proc/PID/maps line: {line[:80]!r}")
        name = (m[8] or "").strip()
        if name in MAPS_NOT_VMAS:
            notes.append(f"{path}:{lineno}: skipped {name} (a kernel page above the user address space)")
            continue
        start, end = int(m[1], 16), int(m[2], 16)
        if end <= start or start & 0xFFF or end & 0xFFF:
            raise ParseError(str(path), lineno, f"bad range {m[1]}-{m[2]}")
        offset = int(m[7] or "0", 16)
        if offset & 0xFFF:
            raise ParseError(str(path), lineno, f"file offset {m[7]} is not page aligned")
        prot = "".join(c for c in m.group(3, 4, 5) if c != "-") or "none"
        vmas.append(MapsVma(start, end, prot, lineno, m[6] == "s", offset, maps_file_path(name)))
    if not vmas:
        raise ParseError(str(path), None, "no mappings: expected /proc/PID/maps lines")
    return vmas, notes


def create_mapped_files(machine, vmas: list[MapsVma]) -> None:
    """Each file of the maps file, created on the simulated disk as large as its mappings
    reach (the largest offset + length), unless it exists there already."""
    sizes: dict[str, int] = {}
    for v in vmas:
        if v.path is not None:
            sizes[v.path] = max(sizes.get(v.path, 0), v.offset + v.end - v.start)
    for path, size in sizes.items():
        try:
            machine.cachestat(path)
        except KernelError:
            machine.create_file(path, size)


def map_vmas(p, path, vmas: list[MapsVma]) -> None:
    """Create the VMAs of a maps file: file mappings from the files (see
    ``create_mapped_files``), the rest as private anonymous memory (shared anonymous memory
    included). Every accessible private one is made read-write: a snapshot shows the
    protections at its end, after the program wrote what then became read-only (the dynamic
    loader's RELRO pages), and the trace replays the writes of before; a shared file mapping
    keeps its protection (its writes would reach the file)."""
    for v in vmas:
        prot = "none" if v.prot == "none" else "rw"
        try:
            if v.path is None:
                p.mmap(v.end - v.start, prot=prot, flags="private|anonymous|fixed", addr=v.start)
                continue
            writable = v.shared and "w" in v.prot
            fd = p.open(v.path, "rw" if writable else "r")
            p.mmap(v.end - v.start, prot=v.prot if v.shared else prot, flags=("shared" if v.shared else "private")
                   + "|fixed", addr=v.start, fd=fd, offset=v.offset)
            p.close(fd)
        except KernelError as e:
            raise ParseError(str(path), v.lineno, f"cannot map {v.start:#x}-{v.end:#x}: {e}") from None


def replay(machine, trace, fmt: str = "auto", maps=None, madvise_hugepage: bool = False,
           skip_bad: bool = False, progress=None, comm: str | None = None,
           debug_vm: int = 0, vma_gap: int = RUN_GAP_PAGES) -> ReplayResult:
    """Replay ``trace`` in a new process of ``machine``; returns the counters.

    Without ``maps``, touched pages closer than ``vma_gap`` pages share one VMA (a trace does
    not say where the program's mappings began and ended; 512 models 2 MiB-scale mappings,
    which THP can then back).

    ``debug_vm`` > 0 runs ``debug.check`` after every that many records (DebugVmError on a
    violation, naming the records and the last ones replayed).
    """
    from ..arch.x86.mm import fault
    from ..arch.x86.mm.tlb import asid_of, tlb_for
    from ..kernel import fork as F
    from ..tools.trace import KIND_NAMES, TraceReader

    name = Path(str(trace)).name
    res = ReplayResult(trace=name)
    t0 = time.perf_counter()
    pages = np.zeros(0, np.int64)
    for batch in TraceReader(trace, fmt, skip_bad):
        pages = np.union1d(pages, np.unique(batch["addr"].astype(np.int64) >> 12))
    res.parse_seconds += time.perf_counter() - t0
    p = machine.spawn(comm=comm or name[:15])
    if maps:
        vmas, res.notes = parse_maps(maps)
        create_mapped_files(machine, vmas)
    else:
        vmas = [MapsVma(s, e, "rw", 0) for s, e in touched_runs(pages, vma_gap)]
    map_vmas(p, maps, vmas)
    for v in vmas:
        if madvise_hugepage:
            p.madvise(v.start, v.end - v.start, "hugepage")
    k, task = machine.kernel, p.task
    for v in vmas:  # the anon_vmas their first write faults would give them, now: a fault that
        fault.anon_vma_prepare(task, v.start, v.end)  # stops a batch in mid-record replays its load
    tlb = tlb_for(k)
    tlb.reset_counters()
    asid = asid_of(task)
    # the batch loop's callees, looked up once (~4000 batches)
    a, clock, ensure_tables, set_current = k.mem_map, k.clock, F.ensure_tables, F.set_current
    replay_batch, clock_work, fault_ok, minflt = M.replay_batch, fault.clock_work, M.FAULT_OK, M.MMC_MINFLT
    peak = 0
    reader = TraceReader(trace, fmt, skip_bad, progress=progress)
    while True:
        t1 = time.perf_counter()
        batch = next(reader, None)
        res.parse_seconds += time.perf_counter() - t1
        if batch is None:
            break
        # plain arrays: a memory-mapped trace's fields would stay np.memmap views, whose every
        # slice below costs the subclass's bookkeeping
        addrs = np.ascontiguousarray(batch["addr"], np.int64)
        kinds = np.ascontiguousarray(batch["kind"], np.int64)
        res.records += len(batch)
        res.accesses += len(batch) + int(np.count_nonzero(kinds == 3))
        t2 = time.perf_counter()
        first = res.records - len(batch)
        every = debug_vm or max(len(addrs), 1)  # range() step; a batch may be empty
        for lo in range(0, len(addrs), every):
            hi = min(lo + every, len(addrs))
            start, entered = lo, False
            while start < hi:
                vs = ensure_tables(k)
                if not entered:  # the task runs: only a fault finished in Python may change these
                    tlb.switch_mm(task)  # (events are kernel threads: they load no mm, set no current)
                    set_current(k, task)
                    entered = True
                slowpath_wakes_nothing(k, vs)  # events and wake-ups change kswapd's state
                # a batch ends at the first record that could reach the next event if every
                # record faulted (the fewest that can take the time left): the records before it
                # cannot reach it, so the event runs after the first record that does
                end = min(hi, start + max(1, -(-clock.budget() // RECORD_MAX_NS)))
                mmc = task.mmc  # (a new task's counters may move the row: mm_counters_alloc)
                done0, flt = start, int(mmc[minflt])
                start, status, peak = replay_batch(a, vs, k.page_cache, tlb, asid, task.vma_table, mmc, addrs, kinds,
                                                   start, end, peak)
                clock_work(k, task, start - done0, flt)
                wake_boosted_kswapds(k)
                if status != fault_ok:
                    fault.handle_fault_status(k, task, vs, status, int(addrs[start]), kinds[start] >= 2)
                    entered = False
            if debug_vm:
                recent = [f"record {first + i + 1}: {KIND_NAMES[kinds[i]]} {int(addrs[i]):#x}" for i in range(max(lo, hi - 5), hi)]
                check_or_report(machine, f"records {first + lo + 1}-{first + hi} of {name}", recent)
        res.replay_seconds += time.perf_counter() - t2
    res.bad_lines, res.first_bad = reader.bad_lines, reader.first_bad
    res.minor_faults, res.major_faults = p.minflt, p.majflt
    res.tlb = tlb.counters()
    res.pages_allocated = int(task.mmc[M.MM_ANONPAGES])
    res.page_tables = int(task.mmc[M.MMC_PGTABLES_BYTES]) >> 12
    res.peak_rss_kb = peak * 4
    res.thp_faults = int(task.mmc[M.MMC_ANON_THP])
    return res
