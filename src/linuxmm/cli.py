"""The ``linuxmm`` command line (Typer + Rich): data on stdout, progress and errors on stderr.

Every command that acts on a machine takes the same machine-selection options
(``--from-dmesg``, ``--host``, ``--preset``, ``--machine``, ``--cmdline``); without them it
uses the default machine.

Errors are one line on stderr, ``linuxmm: error: ...``, never a traceback: bad input
(``LinuxmmError``, an unreadable file) exits 1, a command line click cannot parse exits 2.
"""

from __future__ import annotations

import errno
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from typer.core import TyperGroup

from . import __version__
from . import presets as presets_mod
from .debug import check_or_report
from .errors import Killed, LinuxmmError
from .init.main import UNKNOWN_PARAMETERS
from .kernel.printk import KERN_WARNING
from .machine import Machine
from .tools.console import err, out, print_json, rule
from .tools.trace_cli import FormatOpt, TraceFormat
from .tools.warmup import ensure_compiled



def error_line(message: str) -> None:
    err.print("[red]linuxmm: error:[/red] ", end="")
    err.print(message, markup=False)


# click's exception base, wherever this typer takes click from (0.29+ vendors its own copy).
ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _no_metavar(option):
    """A flag takes no value: its help line shows none (typer 0.29 would print ``<bool>``)."""
    if option is not None and getattr(option, "is_flag", False) and option.metavar is None:
        option.metavar = ""
    return option


def _flags_without_metavar(cmd, ctx):
    """``_no_metavar`` for every flag of ``cmd`` (and of the commands of a group in it)."""
    if cmd is None:
        return None
    for param in cmd.get_params(ctx):
        _no_metavar(param)
    if isinstance(cmd, TyperGroup):
        get = cmd.get_command
        cmd.get_command = lambda ctx, name: _flags_without_metavar(get(ctx, name), ctx)
    return cmd


class LinuxmmGroup(TyperGroup):
    """The command group: every error as one ``linuxmm: error:`` line (typer would print a
    traceback for ours and a box for click's)."""

    def get_command(self, ctx, name):
        return _flags_without_metavar(super().get_command(ctx, name), ctx)

    def get_params(self, ctx):
        return [_no_metavar(param) for param in super().get_params(ctx)]

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as e:
            if type(e).__name__ == "NoArgsIsHelpError":
                sys.exit(e.exit_code)  # the help is printed already
            ctx = getattr(e, "ctx", None)
            error_line(e.format_message() + (f" (see `{ctx.command_path} --help`)" if ctx else ""))
            sys.exit(e.exit_code)
        except typer.Abort:
            sys.exit(1)
        except LinuxmmError as e:
            error_line(str(e))
            sys.exit(1)
        except OSError as e:
            if e.errno == errno.EPIPE:
                sys.exit(1)
            error_line(f"{e.filename}: {e.strerror}" if e.filename else str(e))
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=LinuxmmGroup, add_completion=False, no_args_is_help=True,
                  pretty_exceptions_show_locals=False,
                  help="linuxmm: a faithful, fast simulator of Linux memory management.")


def _print_version(value: bool) -> None:
    if value:
        out.print(f"linuxmm {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print linuxmm's version and exit.")] = False):
    pass

FromDmesg = Annotated[Optional[Path], typer.Option("--from-dmesg", help="Boot the machine a real boot log describes.")]
Host = Annotated[bool, typer.Option("--host", help="Boot this machine (/sys/firmware/memmap, /proc/cmdline, NUMA nodes).")]
Preset = Annotated[Optional[str], typer.Option("--preset", help="Boot a built-in machine (see `linuxmm presets`).")]
MachineFile = Annotated[Optional[Path], typer.Option("--machine", help="Boot a machine described in a TOML file.")]
Cmdline = Annotated[Optional[str], typer.Option("--cmdline", help="Extra kernel command-line parameters.")]
LruGen = Annotated[Optional[bool], typer.Option(
    "--lru-gen/--no-lru-gen", help="Build MGLRU in and turn it on (or leave it off, switchable in "
    "/sys/kernel/mm/lru_gen/enabled); default: the machine's [config] (no MGLRU).")]
DebugVm = Annotated[bool, typer.Option("--debug-vm", help="Check every invariant after each step (linuxmm.debug.check).")]
Json = Annotated[bool, typer.Option("--json", help="The data as JSON (schemas: docs/json.md).")]
Plot = Annotated[Optional[Path], typer.Option("--plot", metavar="FILE", help="Also draw it into a picture (.png, .svg, .pdf).")]


def select_machine(from_dmesg: Path | None, host: bool, preset: str | None,
                   machine: Path | None, cmdline: str | None, warnings: bool = True,
                   lru_gen: bool | None = None) -> Machine:
    """Boot the machine the options name; its kernel's warnings, and its notice of unknown
    command-line parameters, go to stderr (``warnings=False`` where the view prints the whole
    log anyway)."""
    chosen = [x for x in (from_dmesg, host or None, preset, machine) if x]
    if len(chosen) > 1:
        raise LinuxmmError("choose at most one of --from-dmesg, --host, --preset, --machine")
    if from_dmesg:
        m = Machine.from_dmesg(from_dmesg, cmdline=cmdline, lru_gen=lru_gen)
        for assumption in m.desc.assumptions:  # what the log did not show, so a user knows how far to trust it
            err.print(f"linuxmm: {from_dmesg.name}: assumed {assumption}", markup=False)
    elif host:
        m = Machine.from_host(cmdline=cmdline, lru_gen=lru_gen)
    else:
        m = Machine(preset=preset, machine_file=machine, cmdline=cmdline, lru_gen=lru_gen)
    for level, text in m.kernel.log.lines if warnings else ():
        if level <= KERN_WARNING or text.startswith(UNKNOWN_PARAMETERS):
            err.print(f"linuxmm: kernel: {text}", markup=False)
    return m


class BootFormat(str, Enum):
    summary = "summary"
    dmesg = "dmesg"
    json = "json"


def _size(pages: int, page_size: int) -> str:
    n = pages * page_size
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def render_layout(m: Machine) -> Table:
    lay = m.layout()
    t = Table(title=f"{lay['name']}: {lay['arch']}, Linux {lay['kernel']}, "
                    f"{len(lay['nodes'])} node(s), Total pages {lay['total_pages']}")
    for col in ("node", "zone", "range", "spanned", "present", "managed", "size"):
        t.add_column(col, justify="right" if col in ("spanned", "present", "managed", "size") else "left")
    for node in lay["nodes"]:
        for z in node["zones"]:
            rng = f"[{z['start']:#x}-{z['end'] - 1:#x}]" if z["spanned_pages"] else "empty"
            t.add_row(str(node["nid"]), z["name"], rng, str(z["spanned_pages"]), str(z["present_pages"]),
                      str(z["managed_pages"]), _size(z["present_pages"], lay["page_size"]))
        t.add_section()
    return t


def lru_summary(m: Machine) -> str:
    """Which LRU the machine runs, as /sys/kernel/mm/lru_gen/enabled says."""
    if not m.desc.config.lru_gen:
        return "active/inactive lists (CONFIG_LRU_GEN not set)"
    caps = m.sysfs("kernel/mm/lru_gen/enabled").strip()
    return f"multi-gen (MGLRU), lru_gen/enabled {caps}" if m.lru_gen else f"active/inactive lists (MGLRU off, lru_gen/enabled {caps})"


@app.command()
def boot(from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
         machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None,
         format: Annotated[BootFormat, typer.Option("--format", "-f", help="Output: summary, dmesg or json")] = BootFormat.summary,
         as_json: Json = False, plot: Plot = None):
    """Boot a machine and show its nodes and zones (or the kernel's boot lines)."""
    m = select_machine(from_dmesg, host, preset, machine, cmdline, warnings=format is not BootFormat.dmesg,
                       lru_gen=lru_gen)
    if plot is not None:
        from .tools.plot import plot_layout, save_figure

        save_figure(lambda ax: plot_layout(ax, m), plot, (7, 1.2 + 0.6 * len(m.layout()["nodes"])))
    if format is BootFormat.dmesg:
        sys.stdout.write(m.dmesg())
    elif format is BootFormat.json or as_json:
        print_json(m.layout())
    else:
        out.print(render_layout(m))
        states = m.node_states()
        out.print("node_states: " + ", ".join(f"{k}={v}" for k, v in states.items()))
        out.print(f"LRU: {lru_summary(m)}", markup=False)


@app.command()
def presets(dump: Annotated[Optional[str], typer.Option("--dump", metavar="NAME",
                                                      help="Print a preset's TOML (to start a machine file of one's own).")] = None,
            as_json: Json = False):
    """List the built-in machines (or print one's machine file)."""
    if dump is not None:
        sys.stdout.write(presets_mod.text(dump))
        return
    if as_json:
        print_json([{"name": name, "description": presets_mod.summary(name)} for name in presets_mod.names()])
        return
    t = Table(title="linuxmm presets")
    t.add_column("name")
    t.add_column("description")
    for name in presets_mod.names():
        t.add_row(name, presets_mod.summary(name))
    out.print(t)


@app.command()
def demo():
    """Boot the default machine, show its memory layout, run a process through faults and fork."""
    ensure_compiled(err)
    m = Machine()
    rule("[bold]dmesg: the kernel's own boot lines")
    out.print(m.dmesg(), end="", markup=False)
    rule("[bold]nodes and zones")
    out.print(render_layout(m))
    rule("[bold]a process: 64 MiB written, then forked and half rewritten by the child")
    procs, log = run_vm_steps(m, ["mmap:64M", "write", "fork", "mmap:0x1000", "parent"])
    p = procs[0]
    a = p.maps()[0].vm_start
    c = procs[1]
    before = c.minflt
    c.write(a, 32 << 20, value=9)
    t = Table()
    t.add_column("process")
    for col in ("minor faults", "Rss kB", "Pss kB", "Private_Dirty kB", "Shared_Dirty kB"):
        t.add_column(col, justify="right")
    for proc in (p, c):
        r = proc.smaps_rollup()
        t.add_row(f"pid {proc.pid}", str(proc.minflt), str(r["Rss"]), str(r["Pss"]), str(r["Private_Dirty"]),
                  str(r["Shared_Dirty"]))
    out.print(t)
    out.print(f"child took {c.minflt - before} copy-on-write faults for 32 MiB; buddyinfo now:")
    out.print(m.proc("/proc/buddyinfo"), end="", markup=False)


# ---- /proc files of a booted (and possibly tuned) machine ---------------------------------

SysctlOpt = Annotated[Optional[list[str]], typer.Option(
    "--sysctl", help="Write vm.NAME=VALUE before reading (repeatable, applied in order).")]
ManagedOpt = Annotated[Optional[str], typer.Option(
    "--managed", help="Pin managed pages first: ZONE=PAGES,... (e.g. DMA32=772915,Normal=163840).")]


def parse_managed(text: str) -> dict[str, int]:
    """``DMA=3840,Normal=163840`` -> ``{"DMA": 3840, "Normal": 163840}``."""
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = item.partition("=")
        if not eq or not value.strip().isdigit():
            raise LinuxmmError(f"--managed: expected ZONE=PAGES, got {item!r}")
        out[name.strip()] = int(value)
    if not out:
        raise LinuxmmError("--managed: no ZONE=PAGES given")
    return out


def zoneinfo_rows(m: Machine) -> list[dict]:
    """Per zone, the numbers of /proc/zoneinfo that ``proc zoneinfo --table`` shows (pages)."""
    return [{"node": z.node, "zone": z.name, "free": z.vm_stat.get("NR_FREE_PAGES", 0), "min": z.min_wmark_pages(),
             "low": z.low_wmark_pages(), "high": z.high_wmark_pages(), "promo": z.promo_wmark_pages(),
             "spanned": z.spanned_pages, "present": z.present_pages, "managed": z.managed_pages,
             "protection": list(z.lowmem_reserve), "batch": z.pageset_batch, "high_min": z.pageset_high_min,
             "high_max": z.pageset_high_max, "threshold": z.stat_threshold} for z in m.zones()]


def render_zoneinfo_table(m: Machine, rows: list[dict]) -> Table:
    t = Table(title=f"{m.desc.name}: zones (pages)")
    for col in rows[0]:
        t.add_column(col, justify="left" if col in ("zone", "protection") else "right")
    for row in rows:
        t.add_row(*(f"({', '.join(map(str, v))})" if isinstance(v, list) else str(v) for v in row.values()))
    return t


@app.command()
def proc(file: Annotated[str, typer.Argument(help="zoneinfo, buddyinfo, pagetypeinfo, meminfo, vmstat, or sys/vm/NAME")],
         from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
         machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None,
         sysctl: SysctlOpt = None, managed: ManagedOpt = None,
         node: Annotated[int, typer.Option("--node", help="Node --managed applies to.")] = 0,
         table: Annotated[bool, typer.Option("--table", help="zoneinfo's per-zone numbers as a table.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="With --table: the rows as JSON (docs/json.md).")] = False,
         plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE",
                                                      help="buddyinfo: also draw free blocks per order and zone.")] = None):
    """Print a /proc file of the booted machine, byte for byte as its kernel would."""
    ensure_compiled(err)
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    if managed is not None:
        m.set_managed(parse_managed(managed), node=node)
    for item in sysctl or []:
        name, eq, value = item.partition("=")
        if not eq:
            raise LinuxmmError(f"--sysctl: expected vm.NAME=VALUE, got {item!r}")
        m.sysctl(name, value)
    if as_json and not table:
        raise LinuxmmError("--json is for --table (the /proc file itself is text)")
    if plot is not None:
        if file.strip("/").removeprefix("proc/") != "buddyinfo":
            raise LinuxmmError("--plot is only for buddyinfo")
        from .tools.plot import plot_buddyinfo, save_figure

        m.proc("buddyinfo")  # builds the free lists
        save_figure(lambda ax: plot_buddyinfo(ax, m), plot, (6, 3))
    if table:
        if file.strip("/").removeprefix("proc/") != "zoneinfo":
            raise LinuxmmError("--table is only for zoneinfo")
        m.proc("zoneinfo")  # builds the free lists the "free" column reads
        rows = zoneinfo_rows(m)
        if as_json:
            print_json(rows)
        else:
            out.print(render_zoneinfo_table(m, rows))
        return
    sys.stdout.write(m.proc(file))


def _free_area_table(title: str, before: dict, after: dict | None = None) -> Table:
    t = Table(title=title)
    t.add_column("zone")
    orders = len(next(iter(before.values())))
    for o in range(orders):
        t.add_column(str(o), justify="right")
    for zone, counts in before.items():
        cells = []
        for o, n in enumerate(counts):
            if after is not None and after[zone][o] != n:
                delta = after[zone][o] - n
                cells.append(f"[bold {'green' if delta > 0 else 'red'}]{after[zone][o]} ({delta:+d})[/]")
            else:
                cells.append(str(after[zone][o] if after is not None else n))
        t.add_row(zone, *cells)
    return t


def run_alloc_steps(m: Machine, steps: list[str], gfp: str, node: int | None) -> list[dict]:
    """Execute ``linuxmm alloc`` steps; one record per step (docs/json.md)."""
    live: list[tuple[int, int] | None] = []
    log = []
    for step in steps:
        if step == "d":
            m.drain_pages()
            log.append({"step": step, "op": "drain"})
        elif step.startswith("f") and step[1:].isdigit():
            i = int(step[1:])
            if i >= len(live) or live[i] is None:
                raise LinuxmmError(f"step {step!r}: allocation {i} does not exist or was freed")
            pfn, order = live[i]
            m.free_pages(pfn, order)
            live[i] = None
            log.append({"step": step, "op": "free", "allocation": i, "pfn": pfn, "order": order})
        elif step.lstrip("-").isdigit():
            order, max_order = int(step), m.kernel.arch.MAX_PAGE_ORDER
            if not 0 <= order <= max_order:
                raise LinuxmmError(f"step {step!r}: an order is 0 to MAX_PAGE_ORDER ({max_order})")
            pfn = m.alloc_pages(gfp, order, nid=node)
            live.append(None if pfn is None else (pfn, order))
            log.append({"step": step, "op": "alloc", "allocation": len(live) - 1, "pfn": pfn, "order": order})
        else:
            raise LinuxmmError(f"bad step {step!r}: use ORDER, fN or d")
    return log


def _alloc_result(r: dict) -> str:
    if r["op"] == "drain":
        return "per-cpu lists returned to the buddy"
    if r["pfn"] is None:
        return "failed (NULL)"
    span = f"pfn {r['pfn']:#x}-{r['pfn'] + (1 << r['order']) - 1:#x}"
    return f"#{r['allocation']}: {span}" if r["op"] == "alloc" else f"{span} (order {r['order']})"


@app.command(context_settings={"ignore_unknown_options": True})  # "-1" is a (bad) step, not an option
def alloc(steps: Annotated[list[str], typer.Argument(help="Steps: ORDER (allocate), fN (free allocation N), d (drain per-cpu lists).")],
          gfp: Annotated[str, typer.Option("--gfp", help="GFP flags, e.g. GFP_KERNEL or GFP_DMA32|__GFP_COMP")] = "GFP_KERNEL",
          node: Annotated[Optional[int], typer.Option("--node", help="Preferred node (default: the CPU's)")] = None,
          from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
          machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False):
    """Allocate and free blocks and watch the buddy allocator split and merge (free_area per order)."""
    ensure_compiled(err)
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    m.drain_pages()
    before = m.free_area()
    log = run_alloc_steps(m, steps, gfp, node)
    after = m.free_area()
    if as_json:
        print_json({"gfp": gfp, "steps": log, "free_area_before": before, "free_area_after": after})
        return
    t = Table(title=f"steps ({gfp})")
    for col in ("step", "result"):
        t.add_column(col)
    for r in log:
        t.add_row(r["op"] if r["op"] == "drain" else f"{r['op']} order {r['order']}", _alloc_result(r))
    out.print(t)
    out.print(_free_area_table("free_area before", before))
    out.print(_free_area_table("free_area after (changes in colour)", before, after))


def _size_arg(text: str) -> int:
    from .kernel.params import memparse

    value, rest = memparse(text)
    if rest or value <= 0:
        raise LinuxmmError(f"bad size {text!r}: use bytes or a K/M/G suffix")
    return value


VM_STEPS_HELP = ("Steps, applied to the current process: create:PATH:SIZE[:CHUNK] (a file written in "
                 "write() calls of CHUNK bytes, default one), open:PATH[:MODE] (r, w, rw), close, "
                 "fallocate:OFFSET:LEN[:MODE] (e.g. punch_hole|keep_size), truncate:SIZE (on the open file), "
                 "mmap:SIZE[:PROT[:FLAGS]] (the file opened last, else anonymous memory; FLAGS e.g. shared or "
                 "private|populate, anonymous to ignore the file), munmap, mprotect:PROT, madvise:ADVICE, "
                 "msync[:FLAGS], mincore, write[:STRIDE], read[:STRIDE], fork (continue in the child), parent "
                 "(back to the parent), exit, cgroup:PATH[:FILE=VALUE...] (move the process into the cgroup, "
                 "created if missing, e.g. cgroup:app/web:memory.max=64M). Addresses refer to the last mmap.")


def swapon_option(m: Machine, spec: str) -> None:
    """``--swap SIZE[:KIND[:PATH]]``: ``Machine.swapon`` (a bad value exits with its errno)."""
    size, _, rest = spec.partition(":")
    kind, _, path = rest.partition(":")
    m.swapon(size, kind=kind or "file", path=path or None)


def run_vm_steps(m: Machine, steps: list[str], debug_vm: bool = False,
                 after_step=None) -> tuple[list, list[tuple[str, str]]]:
    """Execute `linuxmm vm` steps; returns the processes and a log of (step, result).

    With ``debug_vm``, ``debug.check`` runs after every step (DebugVmError on a violation);
    ``after_step()`` is called after every step.
    """
    procs = [m.spawn()]
    cur = procs[0]
    stack, region, log, fds = [], None, [], {}
    for step in steps:
        op, *args = step.split(":")
        before = cur.minflt
        try:
            if op in ("create", "open", "close", "fallocate", "truncate"):
                _vm_file_step(m, step, op, args, cur, fds, log)
            else:
                cur, region = _vm_step(m, step, op, args, procs, cur, stack, region, log, before, fds.get(cur.pid))
        except Killed as e:  # the OOM killer's SIGKILL ended the process running the step
            log.append((step, f"pid {e.pid} killed (SIGKILL: {e.reason})"))
            cur = stack.pop() if stack else cur
        if debug_vm:
            check_or_report(m, f"step {step!r}", [f"{s}: {r}" for s, r in log[-5:]])
        if after_step is not None:
            after_step()
    return procs, log


def _vm_file_step(m: Machine, step: str, op: str, args: list[str], cur, fds: dict, log: list) -> None:
    """A `linuxmm vm` file step: create a file, open one (the next mmap maps it), fallocate or
    truncate it, close it."""
    if op == "create":
        if len(args) < 2:
            raise LinuxmmError("create needs a path and a size: create:/data/f:64M[:4K]")
        m.create_file(args[0], _size_arg(args[1]), chunk=_size_arg(args[2]) if len(args) > 2 else None)
        log.append((step, f"{args[0]}: {len(m.folios(args[0]))} folios cached"))
    elif op == "open":
        if not args:
            raise LinuxmmError("open needs a path: open:/data/f[:r|w|rw]")
        fds[cur.pid] = cur.open(args[0], args[1] if len(args) > 1 else "r")
        log.append((step, f"pid {cur.pid}: fd {fds[cur.pid]}"))
    elif cur.pid not in fds:
        raise LinuxmmError(f"{op!r} without an open")
    elif op == "fallocate":
        if len(args) < 2:
            raise LinuxmmError("fallocate needs an offset and a length: fallocate:0:1M[:punch_hole|keep_size]")
        offset = _size_arg(args[0]) if args[0] != "0" else 0
        cur.fallocate(fds[cur.pid], offset, _size_arg(args[1]), mode=args[2] if len(args) > 2 else 0)
        log.append((step, f"pid {cur.pid}: {m.cachestat(cur.fds()[fds[cur.pid]]).cache} pages cached"))
    elif op == "truncate":
        if not args:
            raise LinuxmmError("truncate needs a size: truncate:1M")
        cur.ftruncate(fds[cur.pid], _size_arg(args[0]) if args[0] != "0" else 0)
        log.append((step, f"pid {cur.pid}: {m.cachestat(cur.fds()[fds[cur.pid]]).cache} pages cached"))
    else:
        cur.close(fds.pop(cur.pid))
        log.append((step, f"pid {cur.pid}: closed"))


def _vm_step(m: Machine, step: str, op: str, args: list[str], procs: list, cur, stack: list, region, log: list,
             before: int, fd: int | None):
    """One `linuxmm vm` step; returns the process and region later steps work on."""
    if op == "mmap":
        if not args:
            raise LinuxmmError("mmap needs a size: mmap:64M[:rw[:private|shared]]")
        length = _size_arg(args[0])
        flags = args[2] if len(args) > 2 else "private"
        if fd is None and "anonymous" not in flags.split("|"):
            flags += "|anonymous"  # no file open: anonymous memory
        addr = cur.mmap(length, prot=args[1] if len(args) > 1 else "rw", flags=flags, fd=fd)
        region = (addr, length)
        log.append((step, f"pid {cur.pid}: {addr:#x}-{addr + length - 1:#x}"))
        if cur.minflt != before:
            log[-1] = (step, log[-1][1] + f", {cur.minflt - before} faults (populate)")
    elif region is None and op not in ("fork", "parent", "exit", "cgroup"):
        raise LinuxmmError(f"step {step!r} needs an mmap first")
    elif op in ("write", "read"):
        stride = _size_arg(args[0]) if args else 4096
        major = cur.majflt
        if op == "write":
            cur.write(region[0], region[1], stride=stride)
        else:
            cur.read(region[0], region[1], stride=stride)
        log.append((step, f"pid {cur.pid}: {cur.minflt - before} page faults"
                          + (f", {cur.majflt - major} major" if cur.majflt != major else "")))
    elif op == "msync":
        cur.msync(region[0], region[1], args[0] if args else "sync")
        log.append((step, f"pid {cur.pid}: {args[0] if args else 'sync'}"))
    elif op == "mincore":
        resident = int(cur.mincore(region[0], region[1]).sum())
        log.append((step, f"pid {cur.pid}: {resident} of {region[1] >> 12} pages resident"))
    elif op == "munmap":
        cur.munmap(*region)
        log.append((step, f"pid {cur.pid}: unmapped"))
    elif op == "mprotect":
        cur.mprotect(region[0], region[1], args[0] if args else "r")
        log.append((step, f"pid {cur.pid}: protection {args[0] if args else 'r'}"))
    elif op == "madvise":
        cur.madvise(region[0], region[1], args[0] if args else "hugepage")
        log.append((step, f"pid {cur.pid}: {args[0] if args else 'hugepage'}"))
    elif op == "fork":
        child = cur.fork()
        procs.append(child)
        stack.append(cur)
        cur = child
        log.append((step, f"pid {child.pid} forked; steps now run in the child"))
    elif op == "parent":
        if not stack:
            raise LinuxmmError("'parent' without a fork")
        cur = stack.pop()
        log.append((step, f"back in pid {cur.pid}"))
    elif op == "cgroup":
        if not args:
            raise LinuxmmError("cgroup needs a path, e.g. cgroup:app/web:memory.max=64M")
        cg = m.cgroup(args[0])
        for setting in args[1:]:
            name, sep, value = setting.partition("=")
            if not sep:
                raise LinuxmmError(f"cgroup setting {setting!r} is not FILE=VALUE")
            cg.write(name, value)
        cg.write("cgroup.procs", cur.pid)
        log.append((step, f"pid {cur.pid} in {cg.path}"))
    elif op == "exit":
        cur.exit()
        log.append((step, f"pid {cur.pid} exited"))
        if stack:
            cur = stack.pop()
    else:
        raise LinuxmmError(f"unknown step {step!r}. {VM_STEPS_HELP}")
    return cur, region


def hex_address(text: str, what: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise LinuxmmError(f"{what}{text!r} is not a hex address") from None


def walk_record(p, addr: int) -> dict:
    """One address's walk for --json: the levels of ``Process.walk`` and where it ends."""
    w = p.walk(addr)
    return {"address": addr, "levels": [dict(level) for level in w], "phys": w.phys, "page_size": w.page_size}


def process_record(p) -> dict:
    return {"pid": p.pid, "minflt": p.minflt, "majflt": p.majflt, "smaps_rollup": p.smaps_rollup(),
            "maps": p.proc("maps").splitlines()}


@app.command()
def vm(steps: Annotated[list[str], typer.Argument(help=VM_STEPS_HELP)],
       show: Annotated[str, typer.Option("--show", help="Per live process: rollup, maps, smaps, status (comma list)")] = "rollup",
       walk: Annotated[Optional[str], typer.Option("--walk", help="Show the page walk of this address (hex) in the last process")] = None,
       from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
       machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, debug_vm: DebugVm = False, as_json: Json = False,
       swap: Annotated[Optional[str], typer.Option(
           "--swap", help="Enable swap first: SIZE[:KIND] (e.g. 8G, 1G:zram; KIND file (/swapfile, the "
                          "default), zram, or partition:/dev/NAME), so madvise:pageout swaps out")] = None):
    """Run a process through mmap, faults, fork and exit; show faults, smaps and page walks."""
    addr = None if walk is None else hex_address(walk, "--walk: ")
    ensure_compiled(err)
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    if swap is not None:
        swapon_option(m, swap)
    procs, log = run_vm_steps(m, steps, debug_vm)
    live = [p for p in procs if p.alive]
    if as_json:
        print_json({"steps": [{"step": step, "result": result} for step, result in log],
                    "processes": [process_record(p) for p in live],
                    "walk": walk_record(live[-1], addr) if addr is not None and live else None})
        return
    t = Table(title="steps")
    t.add_column("step")
    t.add_column("result")
    for row in log:
        t.add_row(*row)
    out.print(t)
    for p in live:
        for what in filter(None, show.split(",")):
            name = {"rollup": "smaps_rollup"}.get(what.strip(), what.strip())
            rule(f"/proc/{p.pid}/{name}  (minflt {p.minflt})")
            out.print(p.proc(name), end="", markup=False)
    if addr is not None and live:
        out.print(live[-1].walk(addr))


StepsArg = Annotated[Optional[list[str]], typer.Argument(
    help="Optional `linuxmm vm` steps to run first (e.g. mmap:300M write), so the log or the "
         "process list shows what they did: " + VM_STEPS_HELP)]


def workload_argument(steps: list[str] | None) -> Path | None:
    """The workload file when the only argument is one (``linuxmm dmesg W.toml``): an existing
    ``.toml`` file, never a step (steps have a ``:`` or are a bare operation)."""
    if steps and len(steps) == 1 and steps[0].endswith(".toml") and Path(steps[0]).is_file():
        return Path(steps[0])
    return None


class LogFollower:
    """Prints the kernel log's lines not printed yet (``dmesg --follow``): as text, or one
    JSON object per line."""

    def __init__(self, m: Machine, as_json: bool):
        self.log, self.as_json, self.printed = m.kernel.log, as_json, 0

    def __call__(self, *_) -> None:
        import json

        for level, text in self.log.lines[self.printed:]:
            sys.stdout.write((json.dumps({"level": level, "text": text}) if self.as_json else text) + "\n")
        self.printed = len(self.log.lines)
        sys.stdout.flush()


@app.command()
def dmesg(steps: Annotated[Optional[list[str]], typer.Argument(
              help="Optional `linuxmm vm` steps to run first (e.g. mmap:300M write), or one workload "
                   "TOML file (docs/workload.md) to run, so the log shows what they did: " + VM_STEPS_HELP)] = None,
          follow: Annotated[bool, typer.Option("--follow", "-w", help="Print the log so far, then each new line as the steps or the workload log it (the workload's lines at every sample)")] = False,
          from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
          machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False):
    """The machine's kernel log: its boot lines, then whatever the steps or the workload made
    it print (allocation failures, overcommit refusals, an OOM kill's report and its reaper);
    with --follow, printed while they run."""
    from .tools import workload as W

    m = select_machine(from_dmesg, host, preset, machine, cmdline, warnings=False, lru_gen=lru_gen)
    path = workload_argument(steps)
    follower = LogFollower(m, as_json) if follow else None
    if follower is not None:
        follower()
    if path is not None:
        w = W.load(path)
        ensure_compiled(err)
        m.run_workload(w, progress=follower)
    elif steps:
        ensure_compiled(err)
        run_vm_steps(m, steps, after_step=follower)
    if follower is not None:
        follower()
    elif as_json:
        print_json({"lines": [{"level": level, "text": text} for level, text in m.kernel.log.lines]})
    else:
        sys.stdout.write(m.dmesg())


def ps_rows(m: Machine) -> list[dict]:
    """``ps`` of the simulated processes, with the OOM killer's view of each."""
    rows = []
    for p in m.processes():
        status = dict(line.split(":", 1) for line in p.proc("status").splitlines())
        rows.append({"pid": p.pid, "comm": p.comm, "state": "running" if p.alive else "killed",
                     "rss_kb": int(status["VmRSS"].split()[0]), "swap_kb": int(status["VmSwap"].split()[0]),
                     "oom_score": p.oom_score, "oom_score_adj": p.oom_score_adj, "cgroup": p.cgroup})
    return rows


def machine_after_steps(steps: list[str] | None, m: Machine) -> Machine:
    """The machine after the optional ``linuxmm vm`` steps (compiled core loaded first)."""
    if steps:
        ensure_compiled(err)
        run_vm_steps(m, steps)
    return m


@app.command()
def ps(steps: StepsArg = None, from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
       machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False):
    """The simulated processes (after the optional steps): pid, comm, RSS, swap, oom_score,
    oom_score_adj and cgroup."""
    m = machine_after_steps(steps, select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen))
    rows = ps_rows(m)
    if as_json:
        print_json({"processes": rows})
        return
    t = Table(title="processes")
    for col in ("pid", "comm", "state", "rss_kb", "swap_kb", "oom_score", "oom_score_adj", "cgroup"):
        t.add_column(col, justify="left" if col in ("comm", "state", "cgroup") else "right")
    for r in rows:
        t.add_row(*(str(v) for v in r.values()))
    out.print(t)


CGROUP_COLUMNS = ("memory.current", "memory.max", "memory.high", "memory.low", "memory.min")
CGROUP_EVENTS = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")


def cgroup_rows(m: Machine) -> list[dict]:
    """One row per cgroup (parents first): its memory files and memory.events."""
    rows = []
    for cg in m.cgroups():
        row = {"path": cg.path, "procs": cg.procs}
        files = set(cg.files)
        for name in CGROUP_COLUMNS:
            row[name.removeprefix("memory.")] = cg.read(name).strip() if name in files else None
        events = dict(line.split() for line in cg.read("memory.events").splitlines()) \
            if "memory.events" in files else {}
        row["events"] = {e: int(events.get(e, 0)) for e in CGROUP_EVENTS}
        rows.append(row)
    return rows


@app.command()
def cgroup(steps: StepsArg = None, from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
           machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False):
    """The cgroup v2 tree (after the optional steps, e.g. cgroup:app:memory.max=64M mmap:128M
    write): per cgroup its processes, memory.current/max/high/low/min in bytes, and
    memory.events."""
    m = machine_after_steps(steps, select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen))
    rows = cgroup_rows(m)
    if as_json:
        print_json({"cgroups": rows})
        return
    t = Table(title="cgroups")
    t.add_column("cgroup")
    t.add_column("procs")
    for col in (*(c.removeprefix("memory.") for c in CGROUP_COLUMNS), *(f"ev.{e}" for e in CGROUP_EVENTS)):
        t.add_column(col, justify="right")
    for r in rows:
        depth = r["path"].count("/") - (r["path"] == "/")
        name = "/" if r["path"] == "/" else "  " * (depth - 1) + r["path"].rsplit("/", 1)[1]
        t.add_row(name, " ".join(map(str, r["procs"])),
                  *("-" if r[c.removeprefix("memory.")] is None else r[c.removeprefix("memory.")]
                    for c in CGROUP_COLUMNS),
                  *(str(r["events"][e]) for e in CGROUP_EVENTS))
    out.print(t)


class ThpPolicy(str, Enum):
    never = "never"
    madvise = "madvise"
    always = "always"


def _geometry(text: str | None, what: str):
    if text is None:
        return None
    try:
        entries, ways = (int(x) for x in text.split(":"))
    except ValueError:
        raise LinuxmmError(f"--{what}: expected ENTRIES:WAYS, e.g. 1536:12, not {text!r}") from None
    return entries, ways


@app.command()
def replay(trace: Annotated[Path, typer.Argument(help="lackey, pinatrace or linuxmm binary trace (.gz ok)")],
           fmt: FormatOpt = TraceFormat.auto,
           thp: Annotated[ThpPolicy, typer.Option("--thp", help="THP policy: never (4 KiB only), madvise (VMAs madvised), always")] = ThpPolicy.never,
           maps: Annotated[Optional[Path], typer.Option("--maps", help="Create the VMAs of a /proc/PID/maps file")] = None,
           vma_gap: Annotated[int, typer.Option("--vma-gap", min=1, metavar="PAGES",
                                                help="Without --maps: touched pages closer than this share a VMA")] = 32,
           tlb_l1: Annotated[Optional[str], typer.Option("--tlb-l1", help="L1 dTLB 4K ENTRIES:WAYS (default 64:4)")] = None,
           tlb_stlb: Annotated[Optional[str], typer.Option("--tlb-stlb", help="STLB ENTRIES:WAYS (default 1536:12)")] = None,
           skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Count and skip malformed lines")] = False,
           as_json: Annotated[bool, typer.Option("--json", help="Counters as JSON")] = False,
           debug_vm: Annotated[int, typer.Option("--debug-vm", min=0, metavar="RECORDS",
                                                 help="Check every invariant after each RECORDS records (0: off)")] = 0,
           from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
           machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None):
    """Replay a memory-access trace through TLBs, page walks, faults and allocation."""
    from dataclasses import replace

    from rich.progress import BarColumn, Progress, TransferSpeedColumn

    from .arch.x86.mm.tlb import TlbConfig, tlb_init
    from .tools.replay import replay as run_replay

    compile_seconds = ensure_compiled(err)
    extra = f"transparent_hugepage={'madvise' if thp is ThpPolicy.madvise else thp.value}"
    m = select_machine(from_dmesg, host, preset, machine, f"{cmdline or ''} {extra}".strip(), lru_gen=lru_gen)
    cfg = TlbConfig()
    for opt, fld, val in (("tlb-l1", "l1d_4k", tlb_l1), ("tlb-stlb", "stlb", tlb_stlb)):
        geo = _geometry(val, opt)
        if geo:
            cfg = replace(cfg, **{fld: geo})
    try:
        cfg.validate()
    except ValueError as e:
        raise LinuxmmError(f"TLB geometry: {e}") from None
    m.kernel.mem_map  # build the allocator before timing
    from .kernel.fork import ensure_tables

    ensure_tables(m.kernel)
    tlb_init(m.kernel, cfg)
    with Progress("[progress.description]{task.description}", BarColumn(), TransferSpeedColumn(),
                  console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task(f"replaying {trace.name}", total=None)
        res = run_replay(m, trace, fmt.value, maps=maps, vma_gap=vma_gap, madvise_hugepage=thp is ThpPolicy.madvise,
                         skip_bad=skip_bad, progress=lambda done, total: bar.update(task, completed=done, total=total),
                         debug_vm=debug_vm)
    for note in res.notes:
        err.print(f"linuxmm: note: {note}", markup=False)
    if res.bad_lines:
        err.print(f"linuxmm: skipped {res.bad_lines:,} malformed line(s); the first is line {res.first_bad[0]}: "
                  f"{res.first_bad[1][:80]!r}", markup=False)
    d = res.as_dict() | {"thp": thp.value, "compile_seconds": round(compile_seconds, 6)}
    if as_json:
        print_json(d)
        return
    t = Table(title=f"replay of {trace.name} (THP {thp.value})")
    t.add_column("counter")
    t.add_column("value", justify="right")
    acc = max(d["accesses"], 1)
    rows = [("records / accesses", f"{d['records']:,} / {d['accesses']:,}"),
            ("L1 dTLB hit rate", f"{100 * d['l1_hits'] / acc:.2f} %"),
            ("STLB hit rate (of L1 misses)", f"{100 * d['stlb_hits'] / max(d['l1_misses'], 1):.2f} %"),
            ("page walks / entries read", f"{d['page_walks']:,} / {d['walk_refs']:,}"),
            ("paging-structure cache hits", f"{d['pwc_hits']:,}"),
            ("minor / major faults", f"{d['minor_faults']:,} / {d['major_faults']:,}"),
            ("pages allocated / page tables", f"{d['pages_allocated']:,} / {d['page_tables']:,}"),
            ("THP mappings", f"{d['thp_faults']:,}"), ("peak RSS", f"{d['peak_rss_kb']:,} kB"),
            ("simulated cycles", f"{d['cycles']:,}"),
            ("parse / replay seconds", f"{d['parse_seconds']:.3f} / {d['replay_seconds']:.3f}"),
            ("compile seconds (cold cache only)", f"{d['compile_seconds']:.1f}")]
    for row in rows:
        t.add_row(*row)
    out.print(t)


from .tools.trace_cli import register as register_trace_commands  # noqa: E402

register_trace_commands(app)

from .tools.cache_cli import register as register_cache_commands  # noqa: E402

register_cache_commands(app)

from .tools.selftest import register as register_selftest_command  # noqa: E402

register_selftest_command(app)


@app.command()
def walk(addresses: Annotated[list[str], typer.Argument(help="Hex virtual addresses to walk")],
         steps: Annotated[str, typer.Option("--steps", help="`linuxmm vm` steps that build the address space first")] = "mmap:4M write",
         from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
         machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False, plot: Plot = None):
    """Show the page-table walk of addresses, level by level (folded levels included)."""
    addrs = [hex_address(text, "") for text in addresses]
    if plot is not None and len(addrs) != 1:
        raise LinuxmmError("--plot draws one walk: give one address")
    ensure_compiled(err)
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    procs, _ = run_vm_steps(m, steps.split())
    p = [q for q in procs if q.alive][-1]
    if plot is not None:
        from .tools.plot import plot_walk, save_figure

        w = p.walk(addrs[0])
        save_figure(lambda ax: plot_walk(ax, w), plot, (7, 1.2 + 0.35 * len(w)))
    if as_json:
        print_json({"pid": p.pid, "vmas": [[v.vm_start, v.vm_end] for v in p.maps()],
                    "walks": [walk_record(p, addr) for addr in addrs]})
        return
    out.print(f"pid {p.pid}: " + ", ".join(f"{v.vm_start:#x}-{v.vm_end:#x}" for v in p.maps()))
    for addr in addrs:
        out.print(p.walk(addr))


def fincore_record(m: Machine, path: str) -> dict:
    """One file's row of ``linuxmm fincore``: util-linux fincore's RES, PAGES, SIZE, FILE,
    plus the page cache's folio shapes (pages per folio -> folios)."""
    cs, size = m.cachestat(path), _file_size(m, path)
    shapes: dict[int, int] = {}
    for _, nr in m.folios(path):
        shapes[nr] = shapes.get(nr, 0) + 1
    page = m.kernel.arch.PAGE_SIZE
    return {"res": cs.cache * page, "pages": cs.cache, "size": size, "file": path,
            "folios": {str(nr): n for nr, n in sorted(shapes.items())}}


def _file_size(m: Machine, path: str) -> int:
    from .fs.namei import lookup

    return lookup(m.kernel, path).i_size


def _human(n: int) -> str:
    """util-linux's size_to_human_string: 1024-based, at most one decimal, B/K/M/G/T."""
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            text = f"{n:.1f}".rstrip("0").rstrip(".") if isinstance(n, float) else str(n)
            return text + ("" if unit == "B" else unit)
        n /= 1024
    return str(n)


@app.command()
def fincore(paths: Annotated[list[str], typer.Argument(help="Files of the simulated machine")],
            create: Annotated[Optional[str], typer.Option("--create", metavar="SIZE",
                                                          help="Write the files first (SIZE bytes, K/M/G suffixes).")] = None,
            chunk: Annotated[Optional[str], typer.Option("--chunk", metavar="SIZE",
                                                         help="With --create: bytes per write() call (default: one call).")] = None,
            from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None, machine: MachineFile = None,
            cmdline: Cmdline = None, lru_gen: LruGen = None, as_json: Json = False):
    """Page-cache residency of files, like util-linux fincore (RES, PAGES, SIZE, FILE), with
    the folio shapes of each file's cache (e.g. 32 x 2M after one 64 MiB write on ext4)."""
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    if create is not None:
        for path in paths:
            m.create_file(path, _size_arg(create), chunk=_size_arg(chunk) if chunk else None)
    rows = [fincore_record(m, path) for path in paths]
    if as_json:
        print_json({"fincore": rows})
        return
    t = Table(box=None)
    for col in ("RES", "PAGES", "SIZE", "FILE", "FOLIOS"):
        t.add_column(col, justify="left" if col in ("FILE", "FOLIOS") else "right")
    page = m.kernel.arch.PAGE_SIZE
    for r in rows:
        shapes = ", ".join(f"{n} x {_human(int(nr) * page)}" for nr, n in r["folios"].items())
        t.add_row(_human(r["res"]), str(r["pages"]), _human(r["size"]), r["file"], shapes or "-")
    out.print(t)

# ---- workloads over simulated time (tools/workload.py) -------------------------------------------

SUMMARY_COUNTERS = ("MemFree", "MemAvailable", "Cached", "AnonPages", "SwapFree", "pgfault", "pgmajfault",
                    "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pswpin", "pswpout",
                    "workingset_refault_anon", "workingset_refault_file", "oom_kill")


def workload_summary(result) -> dict:
    """The run's summary and the last sample's main counters (``run --json``'s "summary")."""
    s = result.summary
    last = result[len(result) - 1]
    s["final"] = {c: last[c] for c in SUMMARY_COUNTERS if c in last}
    return s


def render_workload(s: dict) -> list[Table]:
    procs = Table(title=f"{s['source']}: {s['simulated_s']:.3f} s simulated in {s['wall_s']:.1f} s, "
                        f"{s['samples']} samples every {s['interval_s'] * 1000:g} ms")
    for col in ("name", "pid", "state", "bytes", "minflt", "majflt"):
        procs.add_column(col, justify="left" if col in ("name", "state") else "right")
    for p in s["processes"]:
        procs.add_row(p["name"], str(p["pid"]), p["state"], _human(p["bytes"]), str(p["minflt"]), str(p["majflt"]))
    final = Table(title="at the end")
    final.add_column("counter")
    final.add_column("value", justify="right")
    for k, v in s["final"].items():
        final.add_row(k + (" (kB)" if k[0].isupper() else ""), str(v))
    return [procs, final]


@app.command()
def run(workload: Annotated[Path, typer.Argument(help="Workload TOML file (format: docs/workload.md)")],
        interval: Annotated[Optional[str], typer.Option("--interval", help="Sampling interval of simulated time, e.g. 50ms (default: the file's, or 100ms)")] = None,
        sysctl: SysctlOpt = None,
        swap: Annotated[Optional[str], typer.Option("--swap", metavar="SIZE", help="swapon a swap area of SIZE first (e.g. 8G)")] = None,
        csv: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Write the samples as CSV")] = None,
        parquet: Annotated[Optional[Path], typer.Option("--parquet", metavar="FILE", help="Write the samples as Parquet (pyarrow)")] = None,
        plot: Plot = None,
        as_json: Annotated[bool, typer.Option("--json", help="The summary and every sample as JSON")] = False,
        from_dmesg: FromDmesg = None, host: Host = False, preset: Preset = None,
        machine: MachineFile = None, cmdline: Cmdline = None, lru_gen: LruGen = None):
    """Run a workload over simulated time, sampling /proc counters into a time series."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .tools import workload as W

    w = W.load(workload)
    sysctls = []
    for item in sysctl or []:
        name, eq, value = item.partition("=")
        if not eq:
            raise LinuxmmError(f"--sysctl: expected vm.NAME=VALUE, got {item!r}")
        sysctls.append((name.strip(), value.strip()))
    w = w.with_options(interval_ns=W.parse_duration(interval, "--interval") if interval else None,
                       swap=W.parse_size(swap, "--swap") if swap else None, sysctl=tuple(sysctls))
    ensure_compiled(err)
    m = select_machine(from_dmesg, host, preset, machine, cmdline, lru_gen=lru_gen)
    total = w.duration_ns / 1e9 if w.duration_ns else None
    with Progress(TextColumn("simulated {task.completed:.2f} s"), BarColumn(), TextColumn("wall"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("run", total=total)
        result = m.run_workload(w, progress=lambda t: bar.update(task, completed=t))
    if csv is not None:
        result.to_csv(csv)
    if parquet is not None:
        result.to_parquet(parquet)
    if plot is not None:
        from .tools.plot import save_workload_figure

        save_workload_figure(result, plot, f"{workload.name} on {m.desc.name}")
    summary = workload_summary(result)
    if as_json:
        print_json({"summary": summary, "rows": list(result)})
        return
    for t in render_workload(summary):
        out.print(t)


@app.command()
def warmup():
    """Compile every compiled entry point now (once per install), so later commands start fast."""
    from .tools.warmup import core_is_cached, warmup as load_all

    if core_is_cached():
        out.print(f"simulator core: cached, loaded in {load_all():.1f} s", markup=False)
    else:
        ensure_compiled(err)  # says what it does, and how long it took


def main() -> None:
    app(prog_name="linuxmm")


if __name__ == "__main__":
    main()
