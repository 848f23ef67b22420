"""``linuxmm cache info`` and ``linuxmm cache prune``: the command-line face of ``linuxmm.cache``.

``register(app)`` adds the ``cache`` command group to the main Typer app. Importing linuxmm
never deletes a cache; these commands are the only place old versions' caches go.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .. import cache

out = Console(highlight=False, soft_wrap=True)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def info() -> None:
    """Where compiled code is cached, and every source version's cache with its size and age."""
    out.print(f"cache root: {cache.cache_root()}")
    out.print(f"this version: {cache.current_dir()}")
    t = Table()
    for col in ("version", "size", "modified", "current"):
        t.add_column(col, justify="right" if col == "size" else "left")
    for v in cache.versions():
        t.add_row(v.path.name, _mib(v.bytes), time.strftime("%Y-%m-%d %H:%M", time.localtime(v.mtime)),
                  "yes" if v.current else "")
    out.print(t)


def prune(keep: Annotated[int, typer.Option("--keep", min=0, help="Keep this many other versions (newest first).")] = 0,
          idle_days: Annotated[float, typer.Option("--idle-days", min=0,
                                                   help="Keep versions modified within this many days.")] = 0.0) -> None:
    """Delete the caches of other source versions of linuxmm (never the current one)."""
    gone = cache.prune(keep=keep, idle_days=idle_days)
    for v in gone:
        out.print(f"removed {v.path} ({_mib(v.bytes)})")
    out.print(f"{len(gone)} cache(s) removed, {_mib(sum(v.bytes for v in gone))} freed")


def register(app: typer.Typer) -> None:
    """Add the ``cache`` command group (``info``, ``prune``) to the main app."""
    cache_app = typer.Typer(no_args_is_help=True, help="The on-disk cache of compiled code.")
    cache_app.command("info")(info)
    cache_app.command("prune")(prune)
    app.add_typer(cache_app, name="cache")
