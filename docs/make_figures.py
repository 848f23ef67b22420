"""Regenerate the README's pictures (docs/*.png) from the simulator itself.

    python docs/make_figures.py

The seed's three worked layouts (presets seed-x86-32, seed-arm64-numa, seed-x86-interleaved)
as physical memory maps, the default machine's free blocks per order, and a page walk —
the same drawings as ``linuxmm boot --plot``, ``proc buddyinfo --plot`` and ``walk --plot``;
and the workloads of ``examples/`` over time (``linuxmm run --plot``), each on a 1 GiB machine.
"""

from __future__ import annotations

from pathlib import Path

from linuxmm import Machine
from linuxmm.tools.plot import plot_buddyinfo, plot_layout, plot_walk, save_figure, save_workload_figure

DOCS = Path(__file__).parent
DPI = 80  # small files: the README shows them at about this size
EXAMPLES = DOCS.parent / "examples"
WORKLOADS = ("anon-growth", "file-reread", "mixed")
WORKLOAD_CMDLINE = "mem=1G"  # small: each runs in a few seconds


def main() -> None:
    for preset in ("seed-x86-32", "seed-arm64-numa", "seed-x86-interleaved"):
        m = Machine(preset=preset)
        save_figure(lambda ax: plot_layout(ax, m), DOCS / f"layout-{preset}.png",
                    (7, 1.2 + 0.6 * len(m.layout()["nodes"])), DPI)
    m = Machine()
    save_figure(lambda ax: plot_buddyinfo(ax, m), DOCS / "buddyinfo.png", (6, 3), DPI)
    p = m.spawn()
    a = p.mmap(4 << 20)
    p.write(a, 4 << 20)
    w = p.walk(a)
    save_figure(lambda ax: plot_walk(ax, w), DOCS / "walk.png", (7, 1.2 + 0.35 * len(w)), DPI)
    for name in WORKLOADS:
        m = Machine(cmdline=WORKLOAD_CMDLINE)
        result = m.run_workload(EXAMPLES / f"{name}.toml")
        save_workload_figure(result, DOCS / f"workload-{name}.png", f"examples/{name}.toml ({WORKLOAD_CMDLINE})", DPI)


if __name__ == "__main__":
    main()
