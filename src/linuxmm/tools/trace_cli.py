"""``linuxmm trace convert`` and ``linuxmm trace info``: the command-line face of ``tools.trace``.

``register(app)`` adds the ``trace`` command group to the main Typer app. As everywhere in
the CLI, data goes to stdout; the progress bar (files of ``PROGRESS_MIN_BYTES`` or more),
warnings and errors go to stderr. Bad input raises ``LinuxmmError`` (or an ``OSError``
naming the file), which the CLI's command group prints as one line.
"""

from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from . import trace as T
from .console import err, out, print_json
from .warmup import ensure_compiled

PROGRESS_MIN_BYTES = 32 << 20


class TraceFormat(str, Enum):
    auto = "auto"
    lackey = "lackey"
    pinatrace = "pinatrace"
    binary = "binary"


Src = Annotated[Path, typer.Argument(help="A trace: lackey or pinatrace text (.gz too), or linuxmm binary.")]
FormatOpt = Annotated[TraceFormat, typer.Option("--trace-format", "-t",
                                                help="The trace's format (auto: told from its first lines).")]
SkipBad = Annotated[bool, typer.Option("--skip-bad",
                                        help="Skip malformed lines (counted) instead of stopping at the first.")]


@contextmanager
def progress_bar(path: Path, what: str) -> Iterator[T.Progress | None]:
    """A Rich progress bar on stderr for big files; yields the reader's progress callback."""
    size = path.stat().st_size
    if size < PROGRESS_MIN_BYTES or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"{what} {path.name}", total=size)
        yield lambda done, total: bar.update(task, completed=done)


def _report_skipped(reader: T.TraceReader) -> None:
    if reader.bad_lines:
        lineno, text = reader.first_bad
        err.print(f"[yellow]skipped {reader.bad_lines:,} malformed line(s); the first is line {lineno}:[/] "
                  f"{text[:80]!r}")


def convert(src: Src, dst: Annotated[Path, typer.Argument(help="The binary trace to write.")],
            trace_format: FormatOpt = TraceFormat.auto, skip_bad: SkipBad = False):
    """Convert a lackey or pinatrace trace to linuxmm's binary format (16-byte records, mmap-able)."""
    ensure_compiled(err)
    with progress_bar(src, "converting") as progress:
        reader = T.convert(src, dst, trace_format.value, skip_bad, progress)
    _report_skipped(reader)
    out.print(f"{dst}: {reader.records:,} records from {reader.lines:,} {reader.fmt} lines "
              f"({reader.skipped_lines:,} skipped, {reader.bad_lines:,} malformed)", markup=False)


def _hex_range(s: T.TraceSummary) -> str:
    return "empty" if s.addr_min is None else f"{s.addr_min:#x}-{s.addr_max:#x}"


def render_summary(name: str, s: T.TraceSummary) -> Table:
    t = Table(title=f"{name} ({s.fmt})")
    t.add_column("")
    t.add_column("count", justify="right")
    t.add_column("", justify="right")
    t.add_row("records", f"{s.records:,}", "")
    for kind, n in s.by_kind.items():
        t.add_row(f"  {kind}", f"{n:,}", f"{100 * n / s.records:.1f}%" if s.records else "")
    t.add_section()
    t.add_row("distinct 4 KiB pages", f"{s.pages_4k:,}", f"{s.pages_4k * 4096 / 2**20:,.1f} MiB")
    t.add_row("distinct 2 MiB regions", f"{s.regions_2m:,}", f"{s.regions_2m * 2:,} MiB")
    t.add_row("address range", _hex_range(s), "")
    if s.fmt != "binary":
        t.add_section()
        t.add_row("lines", f"{s.lines:,}", "")
        t.add_row("  skipped (banners, comments)", f"{s.skipped_lines:,}", "")
        t.add_row("  malformed (skipped)", f"{s.bad_lines:,}", "")
    return t


def info(file: Src, trace_format: FormatOpt = TraceFormat.auto, skip_bad: SkipBad = False,
         as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False):
    """Summarize a trace: records by kind, distinct 4 KiB pages and 2 MiB regions, address range."""
    ensure_compiled(err)
    with progress_bar(file, "reading") as progress:
        s = T.summarize(file, trace_format.value, skip_bad, progress)
    if as_json:
        print_json(s.as_dict())
    else:
        out.print(render_summary(file.name, s))


def register(app: typer.Typer) -> None:
    """Add the ``trace`` command group (``convert``, ``info``) to the main app."""
    trace_app = typer.Typer(no_args_is_help=True,
                            help="Memory-access traces: valgrind lackey, Pin pinatrace, linuxmm binary.")
    trace_app.command("convert")(convert)
    trace_app.command("info")(info)
    app.add_typer(trace_app, name="trace")
