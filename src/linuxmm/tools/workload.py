"""Workloads over simulated time: ``linuxmm run WORKLOAD.toml`` and ``Machine.run_workload``.

A workload is a set of processes, each a list of phases, run together on the machine's one
clock (``kernel/timer.py``). A process's phase is cut into steps of ``STEP_BYTES``; each step's
accesses and faults advance the clock by their cost, and a ``rate`` holds the process back so
that its bytes never run ahead of ``rate`` per simulated second. The process whose next step
is due first runs it (ties: the order in the file), so processes interleave. A sampler, a
timer on the same clock, reads ``/proc/meminfo``, ``/proc/vmstat``, the zones' watermarks,
``/proc/pressure/memory`` (PSI: ``kernel/sched/psi.py``) and each declared cgroup's usage and
events every ``interval`` of simulated time: one row per sample.

The file (TOML; every key is checked, an error names its line and key)::

    interval = "100ms"        # sampling interval of simulated time (ns, us, ms, s, m)
    duration = "10s"          # optional: stop then even if processes have work left
    seed = 1                  # random access orders (default 0): same file, same samples
    swap = "8G"               # m.swapon(size) before the run

    [sysctl]                  # written before the run, in order
    "vm.swappiness" = 10

    [[cgroup]]                # created before the run (parents first), its files written in order
    path = "app/db"
    "memory.max" = "512M"     # any writable memory.* file: memory.high, .low, .min, .swap.max, .oom.group
    "memory.low" = "128M"

    [[file]]                  # created before the run: written, synced, then dropped from
    path = "/data/big"        # the page cache (it starts on the disk) unless cached = true
    size = "256M"
    cached = false

    [[process]]
    name = "db"               # its comm (default: the workload's file name, then its index)
    start = "0s"              # when it starts
    cgroup = "app/db"         # the cgroup it runs in (m.spawn(cgroup=); created if not declared)

    [[process.phase]]
    op = "alloc"              # alloc | touch | free | read | write | replay | sleep
    size = "12G"              # alloc: anonymous bytes mapped then written; read/write: bytes
    rate = "2G"               # bytes per simulated second (default: as fast as the work costs)
    repeat = 1                # times the phase runs
    pattern = "sequential"    # or "random": pages (alloc, touch) or steps (read, write) shuffled
    access = "write"          # touch: "read" or "write"
    file = "/data/big"        # read, write: the file (offset 0; size default: the file's)
    trace = "trace.lackey"    # replay: the trace, run as one step in a process of its own
    time = "1s"               # sleep: how long

Ops: ``alloc`` maps ``size`` bytes of anonymous memory and writes every page (the first
touch); ``touch`` accesses the last ``alloc``'s range again (a cache-friendly loop is a
``touch`` with ``repeat``); ``free`` unmaps it; ``read``/``write`` are ``pread``/``pwrite``
of the file in steps; ``replay`` runs ``tools/replay.py`` on a trace; ``sleep`` waits.

A process the OOM killer kills, or whose fault cannot get memory, stops there (its state in
the summary says so); the others go on.
"""

from __future__ import annotations

import csv
import errno
import re
import time as walltime
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import KernelError, Killed, LinuxmmError, ParseError
from ..kernel.params import memparse
from ..kernel.timer import NSEC_PER_SEC
from ..sources.toml import parse, read_file

PAGE = 4096
STEP_BYTES = 1 << 20          # a step of a phase: 256 pages, then another process may run
DEFAULT_INTERVAL = "100ms"
TIME_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NSEC_PER_SEC, "m": 60 * NSEC_PER_SEC}
OPS = ("alloc", "touch", "free", "read", "write", "replay", "sleep")
PATTERNS = ("sequential", "random")
MAX_SIZE = 1 << 47            # the x86-64 user address space (4-level paging)

TOP_KEYS = {"interval", "duration", "seed", "swap", "sysctl", "cgroup", "file", "process"}
CGROUP_EVENTS = ("low", "high", "max", "oom_kill")  # memory.events counters sampled per cgroup
FILE_KEYS = {"path", "size", "cached"}
PROCESS_KEYS = {"name", "start", "cgroup", "phase"}
PHASE_KEYS = {"op", "size", "rate", "repeat", "pattern", "access", "file", "trace", "time"}
NEEDS = {"alloc": ("size",), "touch": (), "free": (), "read": ("file",), "write": ("file",),
         "replay": ("trace",), "sleep": ("time",)}
ALLOWED = {"alloc": {"size", "rate", "repeat", "pattern"}, "touch": {"rate", "repeat", "pattern", "access"},
           "free": set(), "read": {"file", "size", "rate", "repeat", "pattern"},
           "write": {"file", "size", "rate", "repeat", "pattern"}, "replay": {"trace", "repeat"},
           "sleep": {"time"}}


# ---- the file ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Phase:
    """One phase of a process: ``op`` over ``size`` bytes at ``rate`` bytes/s, ``repeat`` times."""
    op: str
    size: int = 0
    rate: int = 0                 # 0: no limit
    repeat: int = 1
    pattern: str = "sequential"
    access: str = "write"
    file: str = ""
    trace: str = ""
    time_ns: int = 0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    start_ns: int
    cgroup: str | None
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class Workload:
    """A parsed workload file (``load``/``loads``); ``Machine.run_workload`` runs it."""
    source: str
    interval_ns: int
    duration_ns: int | None
    seed: int
    swap: int | None
    sysctl: tuple[tuple[str, str], ...]
    cgroups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]   # path, (memory.FILE, value) in order
    files: tuple[tuple[str, int, bool], ...]   # path, size, cached
    processes: tuple[ProcessSpec, ...]
    lines: dict = field(default_factory=dict, compare=False, repr=False)

    def with_options(self, interval_ns: int | None = None, swap: int | None = None,
                     sysctl: tuple[tuple[str, str], ...] = ()) -> "Workload":
        """This workload with the command line's options over the file's."""
        from dataclasses import replace

        return replace(self, interval_ns=interval_ns or self.interval_ns,
                       swap=self.swap if swap is None else swap, sysctl=self.sysctl + sysctl)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")


def key_lines(text: str) -> dict[tuple, int]:
    """The line of every table header and ``key =`` in ``text``, by path: ``("process", 0,
    "phase", 1, "rate")`` for the rate of the second phase of the first process (tomllib
    tells no lines for keys). Arrays of tables count their entries; inline tables are not
    followed (a key in one reports its table's line)."""
    lines: dict[tuple, int] = {}
    counts: dict[str, int] = {}
    path: tuple = ()
    for no, line in enumerate(text.splitlines(), 1):
        if h := _HEADER.match(line):
            name = h.group(2)
            if h.group(1) == "[[":
                counts[name] = counts.get(name, 0) + 1
                for other in [c for c in counts if c.startswith(name + ".")]:
                    del counts[other]
            path = ()
            parts = name.split(".")
            for i, part in enumerate(parts):
                path += (part,)
                prefix = ".".join(parts[:i + 1])
                if prefix in counts:
                    path += (counts[prefix] - 1,)
            lines.setdefault(path, no)
        elif k := _KEY.match(line):
            lines.setdefault(path + (k.group(1).strip("\"'"),), no)
    return lines


def _where(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


class _Checker:
    """Raises ``ParseError`` naming the line (found by ``key_lines``) and the key."""

    def __init__(self, source: str, lines: dict):
        self.source, self.lines = source, lines

    def fail(self, path: tuple, message: str):
        line = None
        for n in range(len(path), 0, -1):
            if (line := self.lines.get(path[:n])) is not None:
                break
        raise ParseError(self.source, line, f"{_where(path)}: {message}")

    def keys(self, table, allowed: set, path: tuple) -> None:
        if not isinstance(table, dict):
            self.fail(path, f"expected a table, got {table!r}")
        for key in table:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def size(self, value, path: tuple, positive: bool = True) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.fail(path, f"expected a size in bytes or a string like \"2G\", got {value!r}")
        if isinstance(value, int):
            n = value
        else:
            n, rest = memparse(value.strip(), wrap=False)
            if rest or not value.strip() or value.strip()[0] == "-":
                self.fail(path, f"cannot read {value!r} as a size (bytes, or a K/M/G/T suffix)")
        if n < 0 or (positive and n == 0):
            self.fail(path, f"must be {'positive' if positive else 'at least 0'}, got {value!r}")
        if n > MAX_SIZE:
            self.fail(path, f"{value!r} is larger than a process's address space (128 TiB)")
        return n

    def duration(self, value, path: tuple, positive: bool = False) -> int:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-z]+)\s*", value) if isinstance(value, str) else None
        if m is None or m.group(2) not in TIME_UNITS:
            self.fail(path, f"cannot read {value!r} as a duration: a number and one of "
                            f"{', '.join(TIME_UNITS)} (e.g. \"100ms\")")
        ns = round(float(m.group(1)) * TIME_UNITS[m.group(2)])
        if positive and ns <= 0:
            self.fail(path, f"must be longer than 0, got {value!r}")
        return ns

    def choice(self, value, choices, path: tuple) -> str:
        if value not in choices:
            self.fail(path, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def count(self, value, path: tuple) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(path, f"expected a whole number >= 1, got {value!r}")
        return value

    def text(self, value, path: tuple) -> str:
        if not isinstance(value, str) or not value:
            self.fail(path, f"expected a non-empty string, got {value!r}")
        return value


def parse_duration(text: str, what: str) -> int:
    """A duration option (``--interval 50ms``) in ns; ``ParseError`` naming ``what``."""
    return _Checker(what, {}).duration(text, (what.lstrip("-"),), positive=True)


def parse_size(text: str, what: str) -> int:
    """A size option (``--swap 8G``) in bytes; ``ParseError`` naming ``what``."""
    return _Checker(what, {}).size(text, (what.lstrip("-"),))


def load(path: str | Path) -> Workload:
    """Parse the workload file at ``path``. Raises ``LinuxmmError`` for an unreadable file,
    ``ParseError`` (with the line and key) for a malformed one."""
    return loads(read_file(path, "workload"), str(path))


def loads(text: str, source: str = "<workload>") -> Workload:
    """Parse workload text (the format in this module's docstring)."""
    data = parse(text, source)
    c = _Checker(source, key_lines(text))
    c.keys(data, TOP_KEYS, ())
    interval = c.duration(data.get("interval", DEFAULT_INTERVAL), ("interval",), positive=True)
    duration = c.duration(data["duration"], ("duration",), positive=True) if "duration" in data else None
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        c.fail(("seed",), f"expected a whole number >= 0, got {seed!r}")
    swap = c.size(data["swap"], ("swap",)) if "swap" in data else None
    sysctl = data.get("sysctl", {})
    c.keys(sysctl, set(sysctl) if isinstance(sysctl, dict) else set(), ("sysctl",))
    for name, value in sysctl.items():
        if not name.startswith("vm.") or isinstance(value, (bool, dict, list)):
            c.fail(("sysctl", name), f"expected \"vm.NAME\" = value, got {name} = {value!r}")
    cgroups = tuple(_cgroup(c, g, i) for i, g in enumerate(_array(c, data, "cgroup")))
    files = tuple(_file(c, f, i) for i, f in enumerate(_array(c, data, "file")))
    procs = _array(c, data, "process")
    if not procs:
        c.fail(("process",), "a workload needs at least one [[process]]")
    stem = re.sub(r"\W", "", Path(source).stem) or "proc"
    processes = tuple(_process(c, p, i, f"{stem}{i}"[:15]) for i, p in enumerate(procs))
    return Workload(source, interval, duration, seed, swap,
                    tuple((k, str(v)) for k, v in sysctl.items()), cgroups, files, processes, c.lines)


def _array(c: _Checker, table: dict, key: str) -> list:
    items = table.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        c.fail((key,), f"expected [[{key}]] tables")
    return items


def _cgroup(c: _Checker, g: dict, i: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A ``[[cgroup]]``: its ``path`` and the ``memory.*`` files to write (values as the files
    take them: "512M", "max", 1; the kernel's parser checks them when the run begins)."""
    path = ("cgroup", i)
    if isinstance(g, dict) and isinstance(g.get("memory"), dict):  # memory.max = ...: a dotted key
        c.fail(path + ("memory",), 'quote the file names: "memory.max" = "512M"')
    c.keys(g, {"path"} | {k for k in g if k.startswith("memory.")}, path)
    if "path" not in g:
        c.fail(path, "needs 'path'")
    writes = []
    for key, value in g.items():
        if key == "path":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            c.fail(path + (key,), f"expected a string or a whole number, got {value!r}")
        writes.append((key, str(value)))
    return c.text(g["path"], path + ("path",)), tuple(writes)


def _file(c: _Checker, f: dict, i: int) -> tuple[str, int, bool]:
    path = ("file", i)
    c.keys(f, FILE_KEYS, path)
    for key in ("path", "size"):
        if key not in f:
            c.fail(path, f"needs '{key}'")
    cached = f.get("cached", False)
    if not isinstance(cached, bool):
        c.fail(path + ("cached",), f"expected true or false, got {cached!r}")
    return c.text(f["path"], path + ("path",)), c.size(f["size"], path + ("size",)), cached


def _process(c: _Checker, p: dict, i: int, default_name: str) -> ProcessSpec:
    path = ("process", i)
    c.keys(p, PROCESS_KEYS, path)
    phases = _array(c, p, "phase") if "phase" in p else []
    if not phases:
        c.fail(path, "a process needs at least one [[process.phase]]")
    name = c.text(p.get("name", default_name), path + ("name",))
    start = c.duration(p.get("start", "0s"), path + ("start",))
    cgroup = c.text(p["cgroup"], path + ("cgroup",)) if "cgroup" in p else None
    specs = tuple(_phase(c, ph, path + ("phase", j)) for j, ph in enumerate(phases))
    for j, ph in enumerate(specs):
        if ph.op in ("touch", "free") and "alloc" not in (q.op for q in specs[:j]):
            c.fail(path + ("phase", j, "op"), f"op {ph.op!r} needs an 'alloc' phase before it")
    return ProcessSpec(name, start, cgroup, specs)


def _phase(c: _Checker, ph: dict, path: tuple) -> Phase:
    c.keys(ph, PHASE_KEYS, path)
    op = c.choice(ph.get("op"), OPS, path + ("op",))
    for key in set(ph) - ALLOWED[op] - {"op"}:
        c.fail(path + (key,), f"not a key of op {op!r} (it takes: {', '.join(sorted(ALLOWED[op])) or 'nothing'})")
    for key in NEEDS[op]:
        if key not in ph:
            c.fail(path, f"op {op!r} needs '{key}'")
    rate = c.size(ph["rate"], path + ("rate",)) if "rate" in ph else 0
    return Phase(op, size=c.size(ph["size"], path + ("size",)) if "size" in ph else 0, rate=rate,
                 repeat=c.count(ph.get("repeat", 1), path + ("repeat",)),
                 pattern=c.choice(ph.get("pattern", "sequential"), PATTERNS, path + ("pattern",)),
                 access=c.choice(ph.get("access", "write"), ("read", "write"), path + ("access",)),
                 file=c.text(ph["file"], path + ("file",)) if "file" in ph else "",
                 trace=c.text(ph["trace"], path + ("trace",)) if "trace" in ph else "",
                 time_ns=c.duration(ph["time"], path + ("time",)) if "time" in ph else 0)


# ---- the result ------------------------------------------------------------------------------

class WorkloadResult:
    """The samples of a run, read-only: ``len(r)`` rows, ``r[i]`` / iteration give each row as
    a new dict (``time_s`` first, then the counters), ``r.column(name)`` one column,
    ``r.columns`` the names; ``r.summary`` the run's summary (a dict); ``to_csv(path)``,
    ``to_parquet(path)`` (pyarrow) write the rows."""

    def __init__(self, columns: tuple[str, ...], rows: list[tuple], summary: dict):
        self._columns, self._rows, self._summary = columns, tuple(rows), summary

    @property
    def columns(self) -> tuple[str, ...]:
        return self._columns

    @property
    def summary(self) -> dict:
        import copy

        return copy.deepcopy(self._summary)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> dict:
        return dict(zip(self._columns, self._rows[i]))

    def __iter__(self):
        return (dict(zip(self._columns, r)) for r in self._rows)

    def __repr__(self) -> str:
        return f"<WorkloadResult {len(self)} samples x {len(self._columns)} columns>"

    def column(self, name: str) -> list:
        """One column's values (``KeyError`` naming the column if there is none)."""
        if name not in self._columns:
            raise KeyError(f"no column {name!r}")
        i = self._columns.index(name)
        return [r[i] for r in self._rows]

    def to_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self._columns)
            w.writerows(self._rows)

    def to_parquet(self, path: str | Path) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise LinuxmmError("Parquet output needs pyarrow (pip install pyarrow)") from None
        cols = {name: [r[i] for r in self._rows] for i, name in enumerate(self._columns)}
        pq.write_table(pa.table(cols), str(path))


# ---- sampling --------------------------------------------------------------------------------

def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` -> {name: kB (or pages for HugePages_*)}."""
    return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def parse_vmstat(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}


def parse_psi(text: str) -> dict[str, float]:
    """``/proc/pressure/memory`` -> psi_some_avg10, ..., psi_full_total."""
    out = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        for f in fields:
            k, _, v = f.partition("=")
            out[f"psi_{kind}_{k}"] = float(v) if "." in v else int(v)
    return out


def sample(m, cgroups: tuple[str, ...] = ()) -> dict:
    """One row's counters: meminfo (kB), vmstat, the zones' summed min/low/high watermarks
    (kB), the memory pressure (PSI: psi_some_avg10 ... psi_full_total), and for each cgroup of
    ``cgroups`` its ``memory.current`` (``memory.current_kB:PATH``) and memory.events counters
    (``memory.events.oom_kill:PATH``...)."""
    row = parse_meminfo(m.proc("meminfo"))
    row.update(parse_vmstat(m.proc("vmstat")))
    kb = PAGE // 1024
    zones = m.zones()
    row["wmark_min_kB"] = sum(z.min_wmark_pages() for z in zones) * kb
    row["wmark_low_kB"] = sum(z.low_wmark_pages() for z in zones) * kb
    row["wmark_high_kB"] = sum(z.high_wmark_pages() for z in zones) * kb
    row.update(parse_psi(m.proc("pressure/memory")))
    for path in cgroups:
        cg = m.cgroup(path)
        row[f"memory.current_kB:{path}"] = int(cg.read("memory.current")) // 1024
        events = dict(line.split() for line in cg.read("memory.events").splitlines())
        row.update({f"memory.events.{name}:{path}": int(events[name]) for name in CGROUP_EVENTS})
    return row


class Sampler:
    """A timer on the machine's clock: a row every ``interval_ns`` from ``t0``."""

    def __init__(self, m, interval_ns: int, progress=None, cgroups: tuple[str, ...] = ()):
        self.m, self.interval, self.progress, self.cgroups = m, interval_ns, progress, cgroups
        self.t0 = m.kernel.clock.now
        self.columns: tuple[str, ...] | None = None
        self.rows: list[tuple] = []
        self.timer = None

    def start(self) -> None:
        self.take()

    def take(self) -> None:
        clock = self.m.kernel.clock
        row = {"time_s": (clock.now - self.t0) / NSEC_PER_SEC, **sample(self.m, self.cgroups)}
        if self.columns is None:
            self.columns = tuple(row)
        self.rows.append(tuple(row.get(c, 0) for c in self.columns))
        if self.progress:
            self.progress(row["time_s"])
        self.timer = clock.add_timer(self.t0 + len(self.rows) * self.interval, self.take)

    def stop(self) -> None:
        """Run to the next sample time (the last row sees the end) and stop."""
        clock = self.m.kernel.clock
        if (clock.now - self.t0) % self.interval:
            clock.run_until(self.t0 + len(self.rows) * self.interval)
        clock.del_timer(self.timer)


# ---- running -------------------------------------------------------------------------------------

@dataclass
class Runner:
    """One process of the workload as it runs: its phase, repeat and step, and when its next
    step may start (``ready``, ns)."""
    spec: ProcessSpec
    rng: np.random.Generator
    ready: int
    proc: object = None
    phase: int = 0
    rep: int = 0
    done: int = 0                 # bytes of this repetition done
    began: int = 0                # when this repetition began (ns)
    region: tuple[int, int] | None = None
    order: np.ndarray | None = None
    fd: int = -1
    total: int = 0                # bytes of the current repetition (read/write: the file's size)
    moved: int = 0                # bytes done in all
    ended: int | None = None      # when it exited or was stopped (ns)
    state: str = "waiting"

    @property
    def finished(self) -> bool:
        return self.state not in ("waiting", "running")


def prepare(m, w: Workload) -> None:
    """The machine-wide settings of ``w``: sysctls, swap, cgroups and their limits, files."""
    for name, value in w.sysctl:
        with _naming(w, ("sysctl", name)):
            m.sysctl(name, value)
    if w.swap is not None:
        with _naming(w, ("swap",)):
            m.swapon(w.swap)
    for i, (path, writes) in enumerate(w.cgroups):
        with _naming(w, ("cgroup", i, "path")):
            cg = m.cgroup(path)
        for name, value in writes:
            with _naming(w, ("cgroup", i, name)):
                cg.write(name, value)
    for i, (path, size, cached) in enumerate(w.files):
        with _naming(w, ("file", i)):
            m.create_file(path, size)
            if not cached:
                evict(m, path)


def evict(m, path: str) -> None:
    """Write ``path`` back and drop it from the page cache (``fsync`` then
    ``POSIX_FADV_DONTNEED``), as a file written long ago would be: on the disk only."""
    p = m.spawn("evict")
    try:
        fd = p.open(path)
        p.fsync(fd)
        p.fadvise(fd, 0, 0, "dontneed")
    finally:
        p.exit()


@contextmanager
def _naming(w: Workload, path: tuple):
    """A value the machine refuses (a sysctl's EINVAL, a file it cannot create, a swap area
    too large to simulate) is an error of the workload file: ``ParseError`` naming its line
    and key."""
    try:
        yield
    except ParseError:
        raise
    except LinuxmmError as e:
        _Checker(w.source, w.lines).fail(path, str(e))


def spawn(m, w: Workload, i: int, spec: ProcessSpec):
    """Start the process, in its cgroup (created, parents first, if the file did not declare it)."""
    if spec.cgroup is None:
        return m.spawn(spec.name)
    with _naming(w, ("process", i, "cgroup")):
        m.cgroup(spec.cgroup)
    return m.spawn(spec.name, cgroup=spec.cgroup)


def run(m, w: Workload, progress=None) -> WorkloadResult:
    """Run ``w`` on ``m`` (``Machine.run_workload``); ``progress(sim_seconds)`` is called at
    every sample."""
    prepare(m, w)
    clock = m.kernel.clock
    sampler = Sampler(m, w.interval_ns, progress, tuple(path for path, _ in w.cgroups))
    t0 = sampler.t0
    runners = [Runner(spec, np.random.default_rng([w.seed, i]), t0 + spec.start_ns) for i, spec in enumerate(w.processes)]
    end = None if w.duration_ns is None else t0 + w.duration_ns
    wall = walltime.perf_counter()
    sampler.start()
    while live := [r for r in runners if not r.finished]:
        r = min(live, key=lambda r: r.ready)  # min keeps the first of equals: the file's order
        if end is not None and r.ready >= end:
            break
        clock.run_until(r.ready)
        if r.proc is None:
            r.proc, r.state, r.began = spawn(m, w, runners.index(r), r.spec), "running", clock.now
        step(m, r)
    if end is not None:
        clock.run_until(end)
    sampler.stop()
    summary = {"source": w.source, "simulated_s": (clock.now - t0) / NSEC_PER_SEC,
               "wall_s": round(walltime.perf_counter() - wall, 3), "samples": len(sampler.rows),
               "interval_s": w.interval_ns / NSEC_PER_SEC,
               "processes": [process_summary(r, t0) for r in runners]}
    return WorkloadResult(sampler.columns, sampler.rows, summary)


def process_summary(r: Runner, t0: int) -> dict:
    """A process's line of the summary: state (waiting, running, done, killed, oom, failed:
    ...), bytes moved, faults, and when it ended (seconds from the start, or None)."""
    p = r.proc
    return {"name": r.spec.name, "pid": p.pid if p else None, "cgroup": r.spec.cgroup, "state": r.state,
            "end_s": None if r.ended is None else (r.ended - t0) / NSEC_PER_SEC,
            "bytes": r.moved, "minflt": p.minflt if p else 0, "majflt": p.majflt if p else 0}


def step(m, r: Runner) -> None:
    """Run one step of ``r``'s current phase; a process the kernel stops ends here."""
    from ..arch.x86.mm.fault import BusError, SegmentationFault, VmFaultOOM

    if r.phase == len(r.spec.phases):  # the last phase's time (its rate's) is over
        r.proc.exit()
        r.state, r.ended = "done", m.kernel.clock.now
        return
    ph = r.spec.phases[r.phase]
    try:
        n = OP_STEPS[ph.op](m, r, ph)
    except Killed:
        r.state = "killed"
    except VmFaultOOM:
        r.state = "oom"
    except (SegmentationFault, BusError, KernelError) as e:  # killed while another process ran: ESRCH
        r.state = "killed" if not r.proc.alive else f"failed: {e}"
    clock = m.kernel.clock
    if r.finished:
        r.ended = clock.now
        return
    r.done += n
    r.moved += n
    r.ready = max(clock.now, r.began + r.done * NSEC_PER_SEC // ph.rate) if ph.rate else clock.now
    if r.done >= phase_bytes(r, ph):
        next_repetition(m, r, ph)


def phase_bytes(r: Runner, ph: Phase) -> int:
    """The bytes one repetition of ``ph`` moves (replay and sleep: one step)."""
    if ph.op == "touch":
        return r.region[1]
    if ph.op in ("read", "write"):
        return r.total
    return {"alloc": ph.size, "free": 0}.get(ph.op, 1)


def next_repetition(m, r: Runner, ph: Phase) -> None:
    r.done, r.order = 0, None
    r.began = max(r.ready, m.kernel.clock.now)
    r.rep += 1
    if r.rep < ph.repeat:
        return
    if r.fd >= 0:
        r.proc.close(r.fd)
        r.fd = -1
    r.rep, r.phase = 0, r.phase + 1


def _pages(r: Runner, ph: Phase, nbytes: int) -> np.ndarray:
    """The page offsets of the next step (a shuffled order for ``random``)."""
    if r.order is None:
        n = -(-nbytes // PAGE)
        r.order = r.rng.permutation(n) if ph.pattern == "random" else np.arange(n)
    first = r.done // PAGE
    return r.order[first:first + STEP_BYTES // PAGE]


def _touch_pages(r: Runner, ph: Phase, write: bool) -> int:
    addr, size = r.region
    pages = _pages(r, ph, size)
    if ph.pattern == "sequential":
        lo = int(pages[0]) * PAGE
        length = min(len(pages) * PAGE, size - lo)
        (r.proc.write if write else r.proc.read)(addr + lo, length)
        return length
    for pg in pages:  # random order: one access per page
        (r.proc.write if write else r.proc.read)(addr + int(pg) * PAGE, 1)
    return min(len(pages) * PAGE, size - int(r.done))


def op_alloc(m, r: Runner, ph: Phase) -> int:
    if r.done == 0:
        if r.region is not None:
            r.proc.munmap(*r.region)
        r.region = (r.proc.mmap(ph.size), ph.size)
    return _touch_pages(r, ph, True)


def op_touch(m, r: Runner, ph: Phase) -> int:
    if r.region is None:
        raise KernelError(errno.EFAULT, "touch before any alloc")
    return _touch_pages(r, ph, ph.access == "write")


def op_free(m, r: Runner, ph: Phase) -> int:
    if r.region is not None:
        r.proc.munmap(*r.region)
        r.region = None
    return 0


def _file_step(m, r: Runner, ph: Phase, write: bool) -> int:
    if r.fd < 0:
        r.fd = r.proc.open(ph.file, "rw" if write else "r", create=write)
        r.total = ph.size or file_size(m, ph.file)
    if r.order is None:
        steps = -(-r.total // STEP_BYTES)
        r.order = r.rng.permutation(steps) if ph.pattern == "random" else np.arange(steps)
    if not r.total:
        return 0
    off = int(r.order[r.done // STEP_BYTES]) * STEP_BYTES
    n = min(STEP_BYTES, r.total - off)
    if write:
        r.proc.pwrite(r.fd, n, off)
    else:
        r.proc.pread(r.fd, n, off)
    return n


def file_size(m, path: str) -> int:
    """The size of ``path`` in bytes (``stat``'s ``st_size``)."""
    from ..fs.namei import lookup

    return lookup(m.kernel, path).i_size


def op_read(m, r: Runner, ph: Phase) -> int:
    return _file_step(m, r, ph, False)


def op_write(m, r: Runner, ph: Phase) -> int:
    return _file_step(m, r, ph, True)


def op_replay(m, r: Runner, ph: Phase) -> int:
    from .replay import replay

    replay(m, ph.trace, comm=r.spec.name[:15])
    return 1


def op_sleep(m, r: Runner, ph: Phase) -> int:
    m.kernel.clock.run_until(r.began + ph.time_ns)
    return 1


OP_STEPS = {"alloc": op_alloc, "touch": op_touch, "free": op_free, "read": op_read, "write": op_write,
            "replay": op_replay, "sleep": op_sleep}
