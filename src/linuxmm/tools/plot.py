"""Pictures of a machine: matplotlib helpers that draw into an ``ax`` the caller owns.

- ``plot_layout(ax, machine)``: the physical memory map by node and zone — each zone's span,
  the memory actually present in it (what ``free_area_init`` counts as present pages; the
  rest of a span is a hole), where ZONE_MOVABLE starts and where lowmem ends.
- ``plot_buddyinfo(ax, machine)``: free blocks per order per zone (``/proc/buddyinfo``).
- ``plot_walk(ax, walk)``: a page-table walk (``Process.walk``'s record): the virtual address
  cut into the index of each level, and the entry read at each level down to the page.

The command line draws them with ``boot --plot``, ``proc buddyinfo --plot`` and ``walk
--plot`` (``save_figure``); ``docs/make_figures.py`` makes the README's pictures. Nothing
here touches pyplot's global state: figures are ``matplotlib.figure.Figure`` objects.
"""

from __future__ import annotations

from pathlib import Path

ZONE_COLORS = {"DMA": "#8da0cb", "DMA32": "#66c2a5", "Normal": "#fc8d62", "HighMem": "#e78ac3",
               "Movable": "#a6d854", "Device": "#b3b3b3"}
HOLE_HATCH = "////"
MiB, GiB = 1 << 20, 1 << 30
MARKED_STARTS = {"Movable": "ZONE_MOVABLE", "HighMem": "end of lowmem"}  # boundaries worth a line
LABEL_MIN_WIDTH = 0.06  # zones narrower than this share of the axis go unlabelled (see the legend)


def memory_ranges(machine) -> dict[int, list[tuple[int, int]]]:
    """Per node, the [start, end) byte ranges of memblock's memory (present RAM)."""
    ranges: dict[int, list[tuple[int, int]]] = {}
    for r in machine.kernel.memblock.memory.regions:
        ranges.setdefault(r.nid, []).append((r.base, r.base + r.size))
    return ranges


def _unit(top: int) -> tuple[int, str]:
    return (GiB, "GiB") if top >= 2 * GiB else (MiB, "MiB")


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


def plot_layout(ax, machine) -> None:
    """The physical memory map: one row per node, zones in colour where RAM is present,
    hatched where their span has a hole, ZONE_MOVABLE's start marked."""
    from matplotlib.patches import Patch

    lay = machine.layout()
    present = memory_ranges(machine)
    top = max(z["end"] for n in lay["nodes"] for z in n["zones"] if z["spanned_pages"])
    scale, unit = _unit(top)
    for row, node in enumerate(lay["nodes"]):
        y = -row
        for z in (z for z in node["zones"] if z["spanned_pages"]):
            span = (z["start"], z["end"])
            color = ZONE_COLORS.get(z["name"], "grey")
            ax.barh(y, (span[1] - span[0]) / scale, left=span[0] / scale, height=0.6, color="white",
                    edgecolor=color, hatch=HOLE_HATCH, linewidth=1)
            for part in filter(None, (_overlap(span, r) for r in present.get(node["nid"], []))):
                ax.barh(y, (part[1] - part[0]) / scale, left=part[0] / scale, height=0.6, color=color)
            if span[1] - span[0] >= LABEL_MIN_WIDTH * top:
                ax.text((span[0] + span[1]) / 2 / scale, y, z["name"], ha="center", va="center", fontsize=8)
            if z["name"] in MARKED_STARTS:
                ax.axvline(span[0] / scale, ymin=0, ymax=1, color="black", linestyle="--", linewidth=0.8)
                ax.annotate(f"{MARKED_STARTS[z['name']]}\n{span[0] // MiB} MiB", (span[0] / scale, y + 0.3),
                            xytext=(3, 2), textcoords="offset points", fontsize=7, va="bottom")
    ax.set_yticks([-i for i in range(len(lay["nodes"]))], [f"node {n['nid']}" for n in lay["nodes"]])
    ax.set_ylim(-len(lay["nodes"]) + 0.4, 0.9)
    ax.set_xlim(0, top / scale)
    ax.set_xlabel(f"physical address ({unit})")
    ax.set_title(f"{lay['name']}: {lay['arch']}, Linux {lay['kernel']}", fontsize=9)
    shown = {z["name"] for n in lay["nodes"] for z in n["zones"] if z["spanned_pages"]}
    handles = [Patch(color=c, label=name) for name, c in ZONE_COLORS.items() if name in shown]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch=HOLE_HATCH, label="hole"))
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def plot_buddyinfo(ax, machine) -> None:
    """Free blocks per order, one bar per zone and order (log scale): /proc/buddyinfo."""
    free = machine.free_area()
    zones = [z for z, counts in free.items() if any(counts)]
    orders = len(next(iter(free.values())))
    width = 0.8 / max(len(zones), 1)
    for i, zone in enumerate(zones):
        nid, name = zone.split("/")
        xs = [o - 0.4 + width * (i + 0.5) for o in range(orders)]
        ax.bar(xs, free[zone], width=width, label=f"node {nid} {name}", color=ZONE_COLORS.get(name),
               hatch=".." if int(nid) % 2 else None, edgecolor="white", linewidth=0)
    ax.set_yscale("log")
    ax.set_xticks(range(orders))
    ax.set_xlabel("order (block of 2^order pages)")
    ax.set_ylabel("free blocks")
    ax.set_title(f"{machine.desc.name}: free blocks per order", fontsize=9)
    ax.legend(fontsize=7, frameon=False)


def plot_walk(ax, levels) -> None:
    """A page walk: the address bits each level indexes with (top), then one box per level
    with the entry it read, down to the page (or the entry that was not present).
    ``levels``: a ``PageWalk`` (``Process.walk``), its ``addr`` the address walked."""
    vaddr = levels.addr
    real = [r for r in levels if not r["folded"]]
    top_bit = real[0]["bits"][0] + 1
    ax.set_xlim(0, top_bit)
    ax.invert_xaxis()  # bit 0 on the right, as addresses are written
    for r in real:
        hi, lo = r["bits"]
        ax.barh(1, hi - lo + 1, left=lo, height=0.5, color="#dddddd", edgecolor="black")
        ax.text((hi + lo + 1) / 2, 1, f"{r['level'].upper()}\n{r['index']}", ha="center", va="center", fontsize=7)
    low = real[-1]["bits"][1]
    leaf = real[-1]["leaf"]
    offset_bits = (real[-1]["page_size"].bit_length() - 1) if leaf else low
    ax.barh(1, offset_bits, left=0, height=0.5, color="white", edgecolor="black")
    ax.text(offset_bits / 2, 1, f"offset\n{vaddr & ((1 << offset_bits) - 1):#x}", ha="center", va="center",
            fontsize=7)
    y = 0.2
    for r in levels:
        if r["folded"]:
            text, style = f"{r['level'].upper()}: folded into {r['into'].upper()}", dict(color="grey")
        else:
            to = (f"-> {r['page_size'] >> 10} KiB page @ {r['phys'] & ~(r['page_size'] - 1):#x}" if r["leaf"]
                  else f"-> table @ {r['next_pfn'] << 12:#x}" if r["present"] else "not present: page fault")
            text = f"{r['level'].upper()} ({r['hw']}) [{r['index']}] @ {r['entry_addr']:#x} = {r['entry_hex']}  {to}"
            style = dict(color="black" if r["present"] else "red",
                         bbox=dict(boxstyle="round", facecolor="white", edgecolor="grey"))
        ax.text(top_bit, y, text, ha="left", va="center", fontsize=7, family="monospace", **style)
        y -= 0.35
    ax.set_ylim(y, 1.5)
    ax.set_yticks([])
    ax.set_xlabel("virtual address bit")
    ax.set_title(f"page walk of {vaddr:#x}", fontsize=9)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)


def save_figure(draw, path: Path, size: tuple[float, float], dpi: int = 100) -> None:
    """Draw with ``draw(ax)`` on a new figure and write it to ``path`` (format from its
    suffix; an unknown one is a ``LinuxmmError`` naming those matplotlib writes)."""
    from matplotlib.figure import Figure

    from ..errors import LinuxmmError

    fig = Figure(figsize=size, layout="constrained")
    formats = fig.canvas.get_supported_filetypes()
    if Path(path).suffix.lstrip(".").lower() not in formats:
        raise LinuxmmError(f"{path}: cannot tell the picture format from its suffix; use one of "
                           f"{', '.join('.' + f for f in sorted(formats))}")
    draw(fig.subplots())
    fig.savefig(path, dpi=dpi)


# ---- workloads over time (``linuxmm run --plot``) -----------------------------------------------

def _rate(result, name: str) -> list[float] | None:
    """Per-second rate of a cumulative vmstat counter between samples (None if absent)."""
    if name not in result.columns:
        return None
    t, v = result.column("time_s"), result.column(name)
    return [0.0] + [(b - a) / (tb - ta) if tb > ta else 0.0 for a, b, ta, tb in zip(v, v[1:], t, t[1:])]


def _no_data(ax, title: str, why: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, why, ha="center", va="center", fontsize=8, color="grey", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _lines(ax, result, series: dict[str, list | None], title: str, ylabel: str, why: str, scale: float = 1) -> None:
    """Draw the series that exist and have any non-zero value; otherwise say ``why``."""
    t = result.column("time_s")
    drawn = {k: v for k, v in series.items() if v is not None and any(v)}
    if not drawn:
        _no_data(ax, title, why)
        return
    for label, v in drawn.items():
        ax.plot(t, [x / scale for x in v], label=label, linewidth=1)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel("simulated time (s)", fontsize=8)
    ax.legend(fontsize=7, frameon=False)


def _col(result, name: str) -> list | None:
    return result.column(name) if name in result.columns else None


def plot_workload_memory(ax, result) -> None:
    """MemFree and MemAvailable with the zones' min/low/high watermarks (MiB)."""
    _lines(ax, result, {n: _col(result, c) for n, c in (("MemFree", "MemFree"), ("MemAvailable", "MemAvailable"))},
           "free memory", "MiB", "no meminfo", 1024)
    for name, style in (("min", ":"), ("low", "--"), ("high", "-.")):
        if (v := _col(result, f"wmark_{name}_kB")) is not None:
            ax.plot(result.column("time_s"), [x / 1024 for x in v], style, color="black", linewidth=0.8,
                    label=f"watermark {name}")
    ax.legend(fontsize=7, frameon=False)


def plot_workload_lru(ax, result) -> None:
    """The LRU lists' sizes: active/inactive anon and file, and the page cache (MiB)."""
    names = ("Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Cached")
    _lines(ax, result, {n: _col(result, n) for n in names}, "LRU lists and page cache", "MiB", "LRU lists empty", 1024)


def plot_workload_reclaim(ax, result) -> None:
    """kswapd and direct reclaim: pages scanned and stolen per second."""
    names = ("pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "pgsteal_direct")
    _lines(ax, result, {n: _rate(result, n) for n in names}, "reclaim", "pages/s",
           "no reclaim in this run (or none simulated yet)")


def plot_workload_swap(ax, result) -> None:
    """Pages swapped in and out per second."""
    _lines(ax, result, {n: _rate(result, n) for n in ("pswpin", "pswpout")}, "swap", "pages/s",
           "no swap activity (no swap on this machine?)")


def plot_workload_refaults(ax, result) -> None:
    """Workingset refaults of anon and file pages per second."""
    names = ("workingset_refault_anon", "workingset_refault_file")
    _lines(ax, result, {n: _rate(result, n) for n in names}, "refaults", "pages/s", "no refaults")


def plot_workload_psi(ax, result) -> None:
    """Memory pressure (PSI some/full avg10, %)."""
    _lines(ax, result, {n: _col(result, f"psi_{n.replace(' ', '_')}") for n in ("some avg10", "full avg10")},
           "pressure (PSI)", "%", "no memory pressure in this run")


WORKLOAD_PANELS = (plot_workload_memory, plot_workload_lru, plot_workload_reclaim, plot_workload_swap,
                   plot_workload_refaults, plot_workload_psi)


def save_workload_figure(result, path: Path, title: str = "", dpi: int = 100) -> None:
    """Every ``WORKLOAD_PANELS`` drawing of ``result`` in one picture (3 x 2 panels)."""
    def draw(_ax):
        fig = _ax.figure
        fig.delaxes(_ax)
        for ax, panel in zip(fig.subplots(3, 2).flat, WORKLOAD_PANELS):
            panel(ax, result)
        if title:
            fig.suptitle(title, fontsize=10)

    save_figure(draw, path, (10, 8), dpi)
