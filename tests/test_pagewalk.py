"""mm/pagewalk: one address through the tables of every x86 geometry, and its drawing.

    x86-64      PGD(PML4) [P4D folded] PUD(PDPT) PMD(PD) PTE(PT)     47:39 38:30 29:21 20:12
    x86-64 LA57 PGD(PML5) P4D(PML4)    PUD(PDPT) PMD(PD) PTE(PT)     56:48 47:39 ...
    i386 PAE    PGD(PDPT) [P4D, PUD folded]      PMD(PD) PTE(PT)     31:30 29:21 20:12
    i386        PGD(PD)   [P4D, PUD, PMD folded]         PTE(PT)     31:22 21:12
"""

import numpy as np
import pytest
from rich.console import Console

from linuxmm import Machine
from linuxmm.mm import memory as M
from linuxmm.mm import pgtable as P
from linuxmm.mm.pgalloc import vm_state_init
from linuxmm.mm.pagewalk import decode_entry, render_walk, walk_address
from linuxmm.sources import toml

USER_RW = P._PAGE_PRESENT | P._PAGE_RW | P._PAGE_USER | P._PAGE_ACCESSED | P._PAGE_DIRTY
ADDR = 0x8048ABC  # level indices: x86-64 0/0/64/72, PAE 0/64/72, i386 32/72
EXTRA = {"x86_64": ("x86_64", ""), "la57": ("x86_64", "la57 = true"), "pae": ("i386", "pae = true"),
         "i386": ("i386", "")}
LAYOUT = {  # kernel level -> (hardware table, va bits) or the level it is folded into
    "x86_64": dict(pgd=("PML4", (47, 39)), p4d="pgd", pud=("PDPT", (38, 30)), pmd=("PD", (29, 21)),
                   pte=("PT", (20, 12))),
    "la57": dict(pgd=("PML5", (56, 48)), p4d=("PML4", (47, 39)), pud=("PDPT", (38, 30)), pmd=("PD", (29, 21)),
                 pte=("PT", (20, 12))),
    "pae": dict(pgd=("PDPT", (31, 30)), p4d="pgd", pud="pgd", pmd=("PD", (29, 21)), pte=("PT", (20, 12))),
    "i386": dict(pgd=("PD", (31, 22)), p4d="pgd", pud="pgd", pmd="pgd", pte=("PT", (21, 12))),
}


@pytest.fixture(scope="module", params=list(EXTRA))
def space(request):
    arch, extra = EXTRA[request.param]
    m = Machine(toml.loads(f'name = "walk"\narch = "{arch}"\n{extra}\ncpus = 1\n'
                           'e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x7ffffff }]\n'))
    k = m.kernel
    vs = vm_state_init(k)
    mmc = np.zeros(M.NR_MMC, np.int64)
    mmc[M.MMC_PGD] = M.pte_alloc_one(k.mem_map, vs, mmc)
    assert M.install_pte(k.mem_map, vs, mmc, ADDR, 0x1234, USER_RW) == 0
    pgd = int(mmc[M.MMC_PGD])
    set_leaf_bits(k, vs, pgd, ADDR, P._PAGE_NX)  # not through install_pte: bits >= 2**63 overflow its int64
    return request.param, k, vs, pgd


def set_leaf_bits(k, vs, pgd, addr, bits):
    row = pgd
    for level in range(len(k.pgtable_geometry.levels) - 1):
        row = M.table_row(k.mem_map, vs.pt[row, M.pt_index(vs, level, addr)])
    vs.pt[row, M.pt_index(vs, len(k.pgtable_geometry.levels) - 1, addr)] |= np.uint64(bits)


def test_levels_folded_per_geometry(space):
    kind, k, vs, pgd = space
    rows = walk_address(k, pgd, ADDR, vs)
    assert [r["level"] for r in rows] == ["pgd", "p4d", "pud", "pmd", "pte"]
    for r in rows:
        want = LAYOUT[kind][r["level"]]
        if isinstance(want, str):
            assert r["folded"] and r["into"] == want
        else:
            assert not r["folded"] and (r["hw"], r["bits"]) == want and r["present"]


def test_mapped_address_decodes_to_its_frame(space):
    kind, k, vs, pgd = space
    rows = [r for r in walk_address(k, pgd, ADDR, vs) if not r["folded"]]
    leaf = rows[-1]
    assert leaf["level"] == "pte" and leaf["leaf"] and leaf["page_size"] == 4096
    assert leaf["phys"] == 0x1234ABC
    if kind == "i386":  # 32-bit entries: no NX bit
        assert leaf["entry_hex"] == "01234067" and "nx" not in leaf["flags"]
    else:
        assert leaf["entry_hex"] == "8000000001234067" and leaf["flags"][-1] == "nx"
    assert leaf["flags"][:5] == ["present", "rw", "user", "accessed", "dirty"]
    for upper, lower in zip(rows, rows[1:]):  # each entry points at the next table
        assert upper["next_pfn"] == lower["table_pfn"] == vs.pt_pfn[lower["table_row"]]
        assert lower["entry_addr"] == lower["table_pfn"] * 4096 + lower["index"] * k.pgtable_geometry.entry_bytes
    assert [r["index"] for r in rows][-2:] == ([32, 72] if kind == "i386" else [64, 72])


def test_unmapped_addresses_stop_at_the_first_empty_entry(space):
    kind, k, vs, pgd = space
    rows = walk_address(k, pgd, ADDR + 4096, vs)  # next pte: same tables, empty entry
    assert rows[-1]["level"] == "pte" and not rows[-1]["present"] and rows[-1]["entry"] == 0
    far = walk_address(k, pgd, 0xB0000000, vs)  # another PGD (i386), PUD (x86-64) or PDPT (PAE) slot
    last = [r for r in far if not r["folded"]][-1]
    assert not last["present"] and last["level"] == {"x86_64": "pud", "la57": "pud"}.get(kind, "pgd")
    assert "pte" not in [r["level"] for r in far]


def test_huge_leaf_stops_at_the_pmd(space):
    kind, k, vs, pgd = space
    geo = k.pgtable_geometry
    level = len(geo.levels) - 2  # the PMD, or on i386 the PGD with the PMD folded into it
    shift = geo.levels[level][1]
    addr = ADDR + (1 << shift)
    row = pgd
    for lv in range(level):
        row = M.table_row(k.mem_map, vs.pt[row, M.pt_index(vs, lv, addr)])
    pfn = 1 << (shift - 12)
    M.set_entry(vs, row, M.pt_index(vs, level, addr), P.mk_entry(pfn, USER_RW | P._PAGE_PSE))
    rows = walk_address(k, pgd, addr + 0x1234, vs)
    leaf = [r for r in rows if not r["folded"]][-1]
    assert leaf["leaf"] and "pse" in leaf["flags"] and leaf["page_size"] == 1 << shift
    assert leaf["phys"] == (pfn << 12) + ((addr + 0x1234) & ((1 << shift) - 1))
    assert rows[-1]["level"] == "pmd" and "pte" not in [r["level"] for r in rows]
    assert leaf["page_size"] == (4 << 20 if kind == "i386" else 2 << 20)
    M.set_entry(vs, row, M.pt_index(vs, level, addr), np.uint64(0))


def test_render_draws_a_textbook_figure(space):
    kind, k, vs, pgd = space
    console = Console(width=160, record=True)
    console.print(render_walk(walk_address(k, pgd, ADDR, vs), ADDR))
    console.print(render_walk(walk_address(k, pgd, ADDR + 4096, vs), ADDR + 4096))
    text = console.export_text()
    assert f"{ADDR:#x} -> phys 0x1234abc (4 KiB page)" in text
    assert "page fault: PTE entry not present" in text
    assert ("folded into PGD" in text) == (kind != "la57")
    assert text.count("PTE ") >= 2 and "4 KiB page @ 0x1234000" in text
    rows = walk_address(k, pgd, ADDR, vs)
    assert [row.style for row in render_walk(rows, ADDR).rows] == ["dim" if r["folded"] else None for r in rows]


def test_protnone_and_flag_decoding():
    assert decode_entry(0x8000000000000067) == ["present", "rw", "user", "accessed", "dirty", "nx"]
    assert decode_entry(P._PAGE_PROTNONE | P._PAGE_ACCESSED) == ["accessed", "protnone"]
    assert decode_entry(P._PAGE_PRESENT | P._PAGE_GLOBAL) == ["present", "global"]


def test_walk_page_range_yields_every_entry_once(space):
    """The range walker on every geometry: each entry that is not none once, with its kind,
    level and address, a swap entry included; every table once after its entries (WALK_POST);
    a sub-range yields only its own entries."""
    from linuxmm.mm.pagewalk import WALK_TABLE_DONE, walk_entries

    _, k, vs, _ = space
    a = k.mem_map
    levels, fmt = int(vs.vp[P.VP_LEVELS]), int(vs.vp[P.VP_SWP_FMT])
    mmc = np.zeros(M.NR_MMC, np.int64)
    pgd = mmc[M.MMC_PGD] = M.pte_alloc_one(a, vs, mmc)
    top = 1 << int(vs.shift[0])  # what one PGD entry maps
    present = [0x400000, 0x401000, 0x7F000, top - 0x1000, 2 * top + 0x3000]
    for addr in present:
        assert M.install_pte(a, vs, mmc, addr, 0x2000, USER_RW) == 0
    row = M.pt_table(a, vs, mmc, pgd, 0x402000, levels - 1, False)
    M.set_entry(vs, row, M.pt_index(vs, levels - 1, 0x402000), P.swp_entry_to_pte(P.swp_entry(2, 77), fmt))
    walk = walk_entries(a, vs, pgd, 0, 1 << 62)
    leaves = {int(r[4]): (int(r[0]), int(r[1])) for r in walk if r[0] != WALK_TABLE_DONE}
    assert leaves == {**{x: (P.PTE_KIND_PRESENT, levels - 1) for x in present},
                      0x402000: (P.PTE_KIND_SWAP, levels - 1)}
    tables = [int(a.private[P.pte_pfn(vs.pt[r[2], r[3]])]) for r in walk if r[0] == WALK_TABLE_DONE]
    reached = {M.pt_table(a, vs, mmc, pgd, x, lv, False) for x in present for lv in range(1, levels)}
    assert len(tables) == len(set(tables)) and set(tables) == reached
    for t in tables + [pgd]:
        assert vs.pt_used[t] == np.count_nonzero(vs.pt[t])
    part = walk_entries(a, vs, pgd, 0x401000, 0x402000)
    assert [int(r[4]) for r in part if r[0] != WALK_TABLE_DONE] == [0x401000]
