"""Page-table walks (``mm/pagewalk.c``): the compiled range walker, and one address for people.

``walk_page_range`` is the one walk every page-table operation over a range uses (unmap,
fork's copy, mprotect, smaps, freeing tables, the debug checks): the kernel gives
``walk_page_range`` a set of callbacks (``mm_walk_ops``); numba has no cheap callbacks, so the
walk is a cursor instead. ``walk_page_range`` sets it up over [start, end) from a PGD;
each ``walk_next`` returns the next entry that is not none as (kind, level, table row, index,
address): ``kind`` is the entry's ``PTE_KIND_*`` (a present leaf, a swap or migration entry, a
PTE marker; a huge pmd comes with its level), and the caller dispatches on it, as a
``pte_entry``/``pmd_entry`` callback would. Tables are descended on the way. The caller may
change the entry it was given: after splitting a huge pmd ``walk_again`` revisits the slot,
now a table, and descends into it. With ``WALK_POST`` the walk also reports each table once
all its entries were seen (kind ``WALK_TABLE_DONE``, at the slot that points to it), for
freeing empty tables bottom-up as ``free_pgd_range`` does. With ``WALK_PTE_TABLES`` a pte
table comes whole (kind ``WALK_PTE_TABLE``; ``walk_pte_range`` gives the indexes in range)
and the caller runs its own loop over the ptes, dispatching on ``pte_kind``, as the kernel's
``zap_pte_range``/``copy_pte_range`` do under their ``pmd_entry``: fork and exit stay as fast
as the hand-written walks they replaced. Single-address walks that the MMU
does on every miss stay specialised (``tlb.tlb_walk``, ``memory.follow``).

The rest of this module follows one address for people:

``walk_address`` follows a virtual address from a PGD the way ``pgd_offset`` ->
``p4d_offset`` -> ``pud_offset`` -> ``pmd_offset`` -> ``pte_offset_map`` do and reports, for
each of the kernel's five levels, either that the level is folded (the hardware lacks it:
its entry *is* the entry of the level above, ``include/asm-generic/pgtable-nop4d.h`` and
friends) or the index taken from the address, the table read, the entry found, its decoded
x86 bits, and whether it is a leaf: a PSE entry maps a 2 MiB or 1 GiB page (4 MiB on
32-bit without PAE). The walk stops at the first entry that is not present or is a leaf.
``render_walk`` draws the result as the figure in an operating-systems textbook.

Geometries (``pgtable.geometry_for``): x86-64 PGD/PUD/PMD/PTE (P4D folded) or all five
with LA57; i386 PAE PGD/PMD/PTE (4-entry PDPT, 64-bit entries); i386 PGD/PTE (32-bit
entries, 1024 per table).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .pgtable import (_PAGE_GLOBAL, _PAGE_PRESENT, _PAGE_PSE, LEVEL_NAMES, PTE_FLAG_NAMES, PTE_PFN_MASK,
                      VP_LEVELS, VP_SWP_FMT, is_leaf_entry, pte_kind, pte_none, pte_pfn)

# ---- the compiled range walker ---------------------------------------------------------------

WALK_MAX_LEVELS = 5
WALK_POST = 1  # also report each table after its entries (WALK_TABLE_DONE)
WALK_PTE_TABLES = 2  # report pte tables whole (WALK_PTE_TABLE), not pte by pte
WALK_DONE, WALK_TABLE_DONE, WALK_PTE_TABLE = -1, -2, -3  # kinds besides PTE_KIND_*
# the cursor: flags, range, depth, then per level the table row, the next index and its base
W_FLAGS, W_START, W_END, W_DEPTH = 0, 1, 2, 3
W_ROW = 4
W_IDX = W_ROW + WALK_MAX_LEVELS
W_BASE = W_IDX + WALK_MAX_LEVELS
NR_W = W_BASE + WALK_MAX_LEVELS


@njit(cache=True)
def _enter(vs, w, depth, row, base):
    w[W_DEPTH] = depth
    w[W_ROW + depth] = row
    w[W_BASE + depth] = base
    w[W_IDX + depth] = max(np.int64(0), (w[W_START] - base) >> vs.shift[depth])


@njit(cache=True)
def walk_page_range(vs, pgd, start, end, flags):
    """A cursor over the entries mapping [start, end) below the PGD in row ``pgd``."""
    w = np.zeros(NR_W, np.int64)
    w[W_FLAGS], w[W_START], w[W_END] = flags, start, end
    _enter(vs, w, 0, pgd, 0)
    return w


@njit(cache=True)
def walk_next(a, vs, w):
    """The next entry that is not none: (kind, level, row, index, address it maps from)."""
    levels = vs.vp[VP_LEVELS]
    fmt = vs.vp[VP_SWP_FMT]
    while w[W_DEPTH] >= 0:
        d = w[W_DEPTH]
        row, idx = w[W_ROW + d], w[W_IDX + d]
        addr = w[W_BASE + d] + (idx << vs.shift[d])
        if idx >= vs.nent[d] or addr >= w[W_END]:
            w[W_DEPTH] = d - 1
            if d > 0 and w[W_FLAGS] & WALK_POST:
                up = w[W_ROW + d - 1], w[W_IDX + d - 1] - 1
                return WALK_TABLE_DONE, d - 1, up[0], up[1], w[W_BASE + d]
            continue
        w[W_IDX + d] = idx + 1
        entry = vs.pt[row, idx]
        if pte_none(entry):
            continue
        if d < levels - 1 and not is_leaf_entry(entry):
            _enter(vs, w, d + 1, a.private[pte_pfn(entry)], addr)
            if d + 1 == levels - 1 and w[W_FLAGS] & WALK_PTE_TABLES:
                first = w[W_IDX + d + 1]
                return WALK_PTE_TABLE, d + 1, w[W_ROW + d + 1], first, addr + (first << vs.shift[d + 1])
            continue
        return pte_kind(entry, fmt), d, row, idx, addr
    return WALK_DONE, -1, -1, -1, -1


@njit(cache=True)
def walk_pte_range(vs, w):
    """The indexes [first, last) of the pte table just returned that lie in the range; the
    walk goes on after that table."""
    d = w[W_DEPTH]
    first, shift = w[W_IDX + d], vs.shift[d]
    last = min(vs.nent[d], (w[W_END] - w[W_BASE + d] + (np.int64(1) << shift) - 1) >> shift)
    w[W_IDX + d] = vs.nent[d]
    return first, last


@njit(cache=True)
def walk_parent(w):
    """The table row and index of the entry pointing to the table just returned."""
    d = w[W_DEPTH]
    return w[W_ROW + d - 1], w[W_IDX + d - 1] - 1


@njit(cache=True)
def walk_again(w):
    """Visit the entry just returned once more (it was replaced, e.g. a split huge pmd)."""
    w[W_IDX + w[W_DEPTH]] -= 1


@njit(cache=True)
def walk_entries(a, vs, pgd, start, end):
    """Every entry that is not none, and every table, below ``pgd`` in [start, end):
    rows of (kind, level, row, index, address); tables come as WALK_TABLE_DONE rows."""
    out = np.zeros((64, 5), np.int64)
    n = 0
    w = walk_page_range(vs, pgd, start, end, WALK_POST)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            break
        if n == out.shape[0]:
            out = np.concatenate((out, np.zeros_like(out)))
        out[n, 0], out[n, 1], out[n, 2], out[n, 3], out[n, 4] = kind, level, row, idx, addr
        n += 1
    return out[:n]


# what Intel's manuals call each table, by (levels, kernel level)
_HW_NAMES = {
    5: {"pgd": "PML5", "p4d": "PML4", "pud": "PDPT", "pmd": "PD", "pte": "PT"},
    4: {"pgd": "PML4", "pud": "PDPT", "pmd": "PD", "pte": "PT"},
    3: {"pgd": "PDPT", "pmd": "PD", "pte": "PT"},
    2: {"pgd": "PD", "pte": "PT"},
}


def hw_level_names(arch, geo) -> dict[str, str]:
    """What the architecture's manual calls each kernel level's table: Intel's PML5..PT, or
    Arm's translation table levels, numbered so that the last is level 3."""
    kernel_levels = [name for name, _, _ in geo.levels]
    if arch.name == "arm64":
        return {name: f"L{4 - len(kernel_levels) + i}" for i, name in enumerate(kernel_levels)}
    return _HW_NAMES.get(len(kernel_levels), {})


def size_name(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def decode_entry(entry: int) -> list[str]:
    """The names of the bits set in a page-table entry (``PTE_FLAG_NAMES``); bit 8 of an
    entry that is not present is ``_PAGE_PROTNONE`` (mprotect(PROT_NONE)), not global."""
    names = [name for bit, name in PTE_FLAG_NAMES if entry & bit]
    if not entry & _PAGE_PRESENT and entry & _PAGE_GLOBAL:
        names[names.index("global")] = "protnone"
    return names


def walk_address(k, pgd_row: int, vaddr: int, vs=None) -> list[dict]:
    """The walk of ``vaddr`` from the PGD in table row ``pgd_row`` (``vs``: ``k.vm_state``).

    One dict per kernel level reached, top first. A folded level has ``folded=True`` and
    ``into`` (the level whose entry it shares). Any other has ``index``, ``bits`` (the
    address bits the index comes from), ``table_row``/``table_pfn``, ``entry_addr`` (physical
    address of the entry), ``entry`` and ``entry_hex``, ``flags``, ``present``, ``leaf``,
    and ``next_pfn`` (the next table) or, for a leaf, ``page_size`` and ``phys``."""
    vs = k.vm_state if vs is None else vs
    geo = k.pgtable_geometry
    hw = {name: (level, shift, nent) for level, (name, shift, nent) in enumerate(geo.levels)}
    names = hw_level_names(k.arch, geo)
    width = geo.entry_bytes * 2
    mask = (1 << (8 * geo.entry_bytes)) - 1
    rows: list[dict] = []
    row, above, stopped = int(pgd_row), None, False
    for name in LEVEL_NAMES:
        if name not in hw:
            rows.append(dict(level=name, folded=True, into=above))
            continue
        if stopped:
            break
        level, shift, nent = hw[name]
        idx = (vaddr >> shift) & (nent - 1)
        entry = int(vs.pt[row, idx]) & mask
        table_pfn = int(vs.pt_pfn[row])
        present = bool(entry & _PAGE_PRESENT)
        leaf = present and (level == len(geo.levels) - 1 or bool(entry & _PAGE_PSE))
        r = dict(level=name, folded=False, hw=names.get(name, name.upper()), index=idx,
                 bits=(shift + nent.bit_length() - 2, shift), table_row=row, table_pfn=table_pfn,
                 entry_addr=table_pfn * 4096 + idx * geo.entry_bytes, entry=entry,
                 entry_hex=f"{entry:0{width}x}", flags=decode_entry(entry), present=present, leaf=leaf)
        pfn = (entry & PTE_PFN_MASK) >> 12
        if leaf:
            r["page_size"] = 1 << shift
            r["phys"] = (pfn << 12) + (vaddr & ((1 << shift) - 1))
        elif present:
            r["next_pfn"] = pfn
            row = int(k.mem_map.private[pfn])
        rows.append(r)
        above = name
        stopped = not present or leaf
    return rows


def render_walk(rows: list[dict], vaddr: int):
    """The walk as a ``rich`` table: one row per level, folded levels greyed, the outcome
    (physical address or page fault) as the caption."""
    from rich.table import Table

    table = Table(title=f"page walk of {vaddr:#x}", title_justify="left")
    for col, justify in (("level", "left"), ("table", "left"), ("va bits", "right"), ("index", "right"),
                         ("entry @ phys", "right"), ("entry", "right"), ("flags", "left"), ("->", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        if r["folded"]:
            table.add_row(r["level"].upper(), "", "", "", "", f"folded into {r['into'].upper()}", "", "",
                          style="dim")
            continue
        hi, lo = r["bits"]
        if r["leaf"]:
            to = f"{size_name(r['page_size'])} page @ {r['phys'] & ~(r['page_size'] - 1):#x}"
        elif r["present"]:
            to = f"table @ {r['next_pfn'] << 12:#x}"
        else:
            to = "not present"
        table.add_row(r["level"].upper(), r["hw"], f"{hi}:{lo}", str(r["index"]), f"{r['entry_addr']:#x}",
                      r["entry_hex"], " ".join(r["flags"]), to, style=None if r["present"] else "red")
    last = next((r for r in reversed(rows) if not r["folded"]), None)
    if last is not None and last["leaf"]:
        table.caption = f"{vaddr:#x} -> phys {last['phys']:#x} ({size_name(last['page_size'])} page)"
    elif last is not None:
        table.caption = f"{vaddr:#x} -> page fault: {last['level'].upper()} entry not present"
    return table
