"""The TLB and paging-structure caches of x86 cores, and how Linux flushes them
(``arch/x86/mm/tlb.c``, ``arch/x86/include/asm/tlbflush.h``), compiled.

A newcomer's map. Hardware never walks the page tables for an access whose translation it
has cached. Each core has:

* L1 data TLBs, one per page size (4 KiB; 2 MiB/4 MiB; 1 GiB), and an L1 instruction TLB;
* the STLB, a second-level TLB shared by 4 KiB and 2 MiB translations;
* paging-structure caches ("page-walk caches", Intel SDM vol. 3 section 4.10.3): the PDE
  cache holds PMD entries that point to PTE tables, the PDPTE cache PUD entries, the PML4E
  and PML5E caches the upper levels. A walk starts below the deepest one that hits, so a
  4-level walk reads 4 table entries cold and 1 when the PDE cache hits. On 32-bit PAE the
  four PDPTEs sit in registers loaded with CR3: a walk reads 2 entries.

Entries are tagged with an address-space id, as Linux tags them with a PCID since 4.14
(here the id is the mm's PGD row, see ``asid_of``). A TLB hit does not touch the page
tables: the accessed bit is set only by walks, and a write through a cached translation
that is clean or read-only re-walks (setting the dirty bit, or faulting). A page fault
drops the cached translation of its address (SDM 4.10.4.1).

Linux invalidates with INVLPG per page up to ``tlb_single_page_flush_ceiling`` (33) pages
and flushes the whole address space above that (``flush_tlb_mm_range``); INVLPG also drops
every paging-structure-cache entry of the PCID. Other CPUs caching the mm get an IPI (a
shootdown). ``switch_mm`` recycles a CPU's 6 dynamic ASIDs (``TLB_NR_DYN_ASIDS``),
flushing the one it reuses.

All state is one ``TlbState`` (numpy arrays, one compiled pointer) with a TLB per CPU;
compiled functions act on the current CPU (``TP_CPU``). ``tlb_translate`` is the MMU:
``memory.follow`` with a TLB in front. ``TlbState``'s methods are the Python face; with
``NUMBA_DISABLE_JIT=1`` the same functions run as plain Python.

Simplifications: a remote CPU gets an IPI if it holds entries of the mm (standing in for
``mm_cpumask``); the iTLB is never filled (no instruction fetches); no global (kernel)
entries; 1 GiB translations are not kept in the STLB (Skylake has a separate 16-entry
one); PAE PDPTEs are read live rather than at CR3 load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ....include.linux.mm_types import MMC_PGD
from ....jit import CompiledStruct, entry
from ....mm.pgtable import (VP_FLUSH_PENDING, VP_LEVELS, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PSE, _PAGE_RW, PgtableGeometry,
                            entry_has, entry_present, pt_index, pte_pfn)

# structures, in the order of their entries in ``ent``; PWC_0 + level for each non-leaf level
S_L1D_4K, S_L1D_2M, S_L1D_1G, S_L1I_4K, S_STLB, S_PWC_0 = 0, 1, 2, 3, 4, 5
MAX_LEVELS = 5
NR_STRUCTS = S_PWC_0 + MAX_LEVELS - 1
STRUCT_NAMES = ("l1d_4k", "l1d_2m", "l1d_1g", "l1i_4k", "stlb") + tuple(f"pwc{i}" for i in range(MAX_LEVELS - 1))
# fields of a cached entry (``ent[cpu, E_*, entry]``: a set's tags sit side by side)
E_TAG, E_ASID, E_PFN, E_SHIFT, E_FLAGS, E_STAMP = 0, 1, 2, 3, 4, 5
NR_E = 6
F_WRITABLE, F_DIRTY = 1, 2
# columns of ``geo``: sets, ways and first entry of each structure
G_SETS, G_WAYS, G_OFF = 0, 1, 2
# scalars in ``params``
TP_CPU, TP_NCPU, TP_HUGE_SHIFT, TP_GIANT_SHIFT, TP_PDPTE_REGS, TP_CEILING, TP_NR_ASIDS, TP_PWC_OFF = range(8)
TP_NENT = 8
NR_TP = 9

COUNTER_NAMES = (
    "l1_hits", "l1_misses", "stlb_hits", "stlb_misses",  # lookups: l1_misses = stlb_hits + stlb_misses
    "rewalks",  # a write hit a clean or read-only translation: walk again
    "walks", "walk_refs", "walk_faults",  # walks = stlb_misses + rewalks; refs = table entries read
    "pwc_hits_pde", "pwc_hits_pdpte", "pwc_hits_pml4e", "pwc_hits_pml5e", "pwc_misses",
    "hits_4k", "hits_2m", "hits_1g",  # usable hits by page size (2m includes 4 MiB pages)
    "flushes", "full_flushes", "shootdowns", "flushed_entries", "flushed_pwc",
    "context_switches", "asid_recycles",
)
(C_L1_HITS, C_L1_MISSES, C_STLB_HITS, C_STLB_MISSES, C_REWALKS, C_WALKS, C_WALK_REFS, C_WALK_FAULTS,
 C_PWC_PDE, C_PWC_PDPTE, C_PWC_PML4E, C_PWC_PML5E, C_PWC_MISSES, C_HITS_4K, C_HITS_2M, C_HITS_1G,
 C_FLUSHES, C_FULL_FLUSHES, C_SHOOTDOWNS, C_FLUSHED, C_FLUSHED_PWC, C_SWITCHES, C_ASID_RECYCLES) = range(23)
NR_COUNTERS = len(COUNTER_NAMES)
_NEVER = 1 << 62


@dataclass(frozen=True)
class TlbConfig:
    """One core's translation caches as (entries, ways); ways == entries is fully associative.

    The defaults are an Intel Skylake core (Intel 64 and IA-32 Architectures Optimization
    Reference Manual, "Skylake microarchitecture" TLB parameters; Ice Lake and later grow
    the STLB to 2048 entries and share it with 1 GiB pages):

    * L1 dTLB: 64 entries 4-way for 4 KiB, 32 entries 4-way for 2 MiB/4 MiB, 4 entries
      fully associative for 1 GiB; L1 iTLB: 128 entries 8-way for 4 KiB (present, unused
      by data accesses);
    * STLB: 1536 entries 12-way, shared by 4 KiB and 2 MiB (1 GiB translations stay in L1);
    * paging-structure caches, fully associative: 2 PML5E, 2 PML4E, 4 PDPTE, 32 PDE.

    ``pcid``: tag entries with ASIDs and keep ``nr_dyn_asids`` of them per CPU
    (``TLB_NR_DYN_ASIDS``); without it a switch to another mm flushes the CPU's TLB.
    ``single_page_flush_ceiling``: ``tlb_single_page_flush_ceiling``, the largest range
    (in pages) flushed page by page. A set is picked by the low bits of the page number
    (so set counts are powers of two); replacement is LRU by per-entry last-use stamps.
    """

    l1d_4k: tuple[int, int] = (64, 4)
    l1d_2m: tuple[int, int] = (32, 4)
    l1d_1g: tuple[int, int] = (4, 4)
    l1i_4k: tuple[int, int] = (128, 8)
    stlb: tuple[int, int] = (1536, 12)
    pwc_pml5e: int = 2
    pwc_pml4e: int = 2
    pwc_pdpte: int = 4
    pwc_pde: int = 32
    pcid: bool = True
    nr_dyn_asids: int = 6
    single_page_flush_ceiling: int = 33

    def validate(self) -> None:
        from ....errors import ConfigError

        for name in ("l1d_4k", "l1d_2m", "l1d_1g", "l1i_4k", "stlb"):
            entries, ways = getattr(self, name)
            if entries < 0 or (entries and (ways <= 0 or entries % ways)):
                raise ConfigError(f"tlb {name}: {entries} entries cannot be split into {ways}-way sets")
            sets = entries // ways if entries else 1
            if sets & (sets - 1):
                raise ConfigError(f"tlb {name}: {sets} sets; set counts are powers of two "
                                  "(the set is picked by the low bits of the page number)")
        if min(self.pwc_pml5e, self.pwc_pml4e, self.pwc_pdpte, self.pwc_pde) < 0:
            raise ConfigError("tlb: a paging-structure cache cannot have a negative size")
        if self.pcid and self.nr_dyn_asids < 1:
            raise ConfigError("tlb: PCID needs at least one dynamic ASID")


# ---- the compiled state -------------------------------------------------------------------

TLB_FIELDS = [
    ("ent", np.int64, 3),  # [cpu, E_*, entry]: every cached translation and table pointer
    ("geo", np.int64, 2),  # [structure, G_*]
    ("params", np.int64, 1),  # scalars (TP_*)
    ("shift", np.int64, 1),  # per hardware level, top first (the page-table geometry)
    ("pwc_ctr", np.int64, 1),  # per hardware level: the counter of its PWC hits, -1 if none
    ("clock", np.int64, 1),  # per cpu: stamps for LRU
    ("ctr", np.int64, 2),  # [cpu, C_*]
    ("ctx", np.int64, 2),  # [cpu, asid slots..., next slot, loaded asid] (cpu_tlbstate.ctxs)
    ("hint", np.int64, 2),  # [cpu, structure]: its entry that hit or was filled last (probed first)
    ("nhuge", np.int64, 2),  # [cpu, 0/1]: valid TLB entries of the huge/giant page size (else unprobed)
    ("nvalid", np.int64, 1),  # [cpu]: valid TLB and paging-structure-cache entries (a flush skips a CPU with none)
]



# ---- one structure: set-associative lookup and LRU fill -------------------------------------


@njit(cache=True, inline='always')
def _count_huge(ent, params, nhuge, cpu, e, delta):
    """Keep ``nhuge`` for TLB entry ``e`` (valid) arriving (+1) or going (-1): a lookup skips
    the probes of a page size no entry of the CPU has."""
    if e < params[TP_PWC_OFF]:
        shift = ent[cpu, E_SHIFT, e]
        if shift == params[TP_HUGE_SHIFT]:
            nhuge[cpu, 0] += delta
        elif shift == params[TP_GIANT_SHIFT]:
            nhuge[cpu, 1] += delta


@njit(cache=True)
def _drop_page(t, cpu, asid, vaddr):
    """Invalidate the translations of one address on one CPU, probing only the sets it can
    live in (what INVLPG costs), instead of scanning every entry."""
    ent, geo, params = t.ent, t.geo, t.params
    for s in range(S_PWC_0):
        ways = geo[s, G_WAYS]
        if ways == 0:
            continue
        for shift in (np.int64(12), params[TP_HUGE_SHIFT], params[TP_GIANT_SHIFT]):
            if shift == 0:
                continue
            tag = vaddr >> shift
            base = geo[s, G_OFF] + (tag & (geo[s, G_SETS] - 1)) * ways
            for e in range(base, base + ways):
                if ent[cpu, E_TAG, e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
                    _count_huge(ent, params, t.nhuge, cpu, e, -1)
                    ent[cpu, E_TAG, e] = -1
                    t.nvalid[cpu] -= 1


@njit(cache=True, inline='always')
def _probe(ent, geo, hint, cpu, s, asid, tag, shift, now):
    """The entry of structure ``s`` holding (asid, tag, shift), its age refreshed; -1 if none.
    A translation is cached at most once per structure, so the entry used last is tried
    first: a hit there is exactly what the set scan would find. (The state comes as its
    arrays, read once by the caller: a store into one would otherwise make the compiled
    code read every field of the struct again.)"""
    ways = geo[s, G_WAYS]
    if ways == 0:
        return -1
    tags = ent[cpu, E_TAG]
    e = hint[cpu, s]
    if tags[e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
        ent[cpu, E_STAMP, e] = now
        return e
    base = geo[s, G_OFF] + (tag & (geo[s, G_SETS] - 1)) * ways
    for e in range(base, base + ways):
        if tags[e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
            ent[cpu, E_STAMP, e] = now
            hint[cpu, s] = e
            return e
    return -1


@njit(cache=True, inline='always')
def _insert(ent, geo, hint, nhuge, nvalid, params, cpu, s, asid, tag, shift, pfn, flags, now, absent):
    """Cache (asid, tag) -> pfn in ``s``: over the same translation (unless known
    ``absent``), else a free way, else the least recently used one. Returns the entry, or
    -1 if ``s`` has no entries; ``nhuge`` and ``nvalid`` follow. (The state's arrays as for
    ``_probe``; the scan for the translation and the one for the oldest way are two loops,
    the second without a test of ``absent`` in its body.)"""
    ways = geo[s, G_WAYS]
    if ways == 0:
        return -1
    tags, stamps = ent[cpu, E_TAG], ent[cpu, E_STAMP]
    base = geo[s, G_OFF] + (tag & (geo[s, G_SETS] - 1)) * ways
    victim = -1
    if not absent:
        for e in range(base, base + ways):
            if tags[e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
                victim = e
                break
    if victim < 0:
        oldest = _NEVER
        for e in range(base, base + ways):
            age = np.int64(-1) if tags[e] < 0 else stamps[e]
            if age < oldest:
                victim, oldest = e, age
    if tags[victim] >= 0:
        _count_huge(ent, params, nhuge, cpu, victim, -1)
    else:
        nvalid[cpu] += 1
    tags[victim] = tag
    ent[cpu, E_ASID, victim] = asid
    ent[cpu, E_PFN, victim] = pfn
    ent[cpu, E_SHIFT, victim] = shift
    ent[cpu, E_FLAGS, victim] = flags
    stamps[victim] = now
    _count_huge(ent, params, nhuge, cpu, victim, 1)
    hint[cpu, s] = victim
    return victim


# ---- TLB lookup and fill --------------------------------------------------------------------

MISS, REWALK = -1, -2  # tlb_lookup's pfn when no entry serves the access


@njit(cache=True, inline='always')
def tlb_lookup(t, asid, vaddr, write, l1_4k_missed=False):
    """Look ``vaddr`` up in the current CPU's TLBs: L1 (all page sizes at once), then the STLB,
    whose hits refill L1. Returns (4 KiB pfn, F_* flags); pfn is MISS when no level caches the
    address, REWALK on a write through a translation that is not both writable and dirty
    (the hardware walks again). ``l1_4k_missed``: the caller just found no L1 4K entry for
    ``vaddr`` (``l1_4k_entry``), so that probe is skipped (it would miss again). Inline: a
    call cost a fault's access ~8 ns."""
    ent, geo, hint, nhuge, nvalid, params, ctr = t.ent, t.geo, t.hint, t.nhuge, t.nvalid, t.params, t.ctr
    cpu = params[TP_CPU]
    t.clock[cpu] += 1
    now = t.clock[cpu]
    hs, gs = params[TP_HUGE_SHIFT], params[TP_GIANT_SHIFT]
    huge, giant = hs > 0 and nhuge[cpu, 0] > 0, gs > 0 and nhuge[cpu, 1] > 0
    e = -1 if l1_4k_missed else _probe(ent, geo, hint, cpu, S_L1D_4K, asid, vaddr >> 12, 12, now)
    if e < 0 and huge:
        e = _probe(ent, geo, hint, cpu, S_L1D_2M, asid, vaddr >> hs, hs, now)
    if e < 0 and giant:
        e = _probe(ent, geo, hint, cpu, S_L1D_1G, asid, vaddr >> gs, gs, now)
    if e >= 0:
        ctr[cpu, C_L1_HITS] += 1
    else:
        ctr[cpu, C_L1_MISSES] += 1
        e = _probe(ent, geo, hint, cpu, S_STLB, asid, vaddr >> 12, 12, now)
        if e < 0 and huge:
            e = _probe(ent, geo, hint, cpu, S_STLB, asid, vaddr >> hs, hs, now)
        if e < 0:
            ctr[cpu, C_STLB_MISSES] += 1
            return np.int64(MISS), np.int64(0)
        ctr[cpu, C_STLB_HITS] += 1
        shift = ent[cpu, E_SHIFT, e]
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_L1D_4K if shift == 12 else S_L1D_2M, asid,
                vaddr >> shift, shift, ent[cpu, E_PFN, e], ent[cpu, E_FLAGS, e], now, True)
    flags = ent[cpu, E_FLAGS, e]
    if write and (flags & (F_WRITABLE | F_DIRTY)) != (F_WRITABLE | F_DIRTY):
        ctr[cpu, C_REWALKS] += 1
        return np.int64(REWALK), flags
    shift = ent[cpu, E_SHIFT, e]
    ctr[cpu, C_HITS_4K if shift == 12 else (C_HITS_2M if shift == hs else C_HITS_1G)] += 1
    return ent[cpu, E_PFN, e] + ((vaddr >> 12) & ((np.int64(1) << (shift - 12)) - 1)), flags


@njit(cache=True, inline='always')
def tlb_fill(t, asid, vaddr, pfn, page_shift, writable, dirty, absent):
    """Cache a translation found by a walk; ``pfn`` is the page's first 4 KiB frame.
    4 KiB pages go to the L1 4K dTLB and the STLB, 2 MiB/4 MiB ones to the L1 2M dTLB and
    the STLB, 1 GiB ones to the L1 1G dTLB only. ``absent``: the lookup before the walk
    missed everywhere, so no entry holds the translation. Inline: the end of every walk that
    reaches a leaf."""
    ent, geo, hint, nhuge, nvalid, params = t.ent, t.geo, t.hint, t.nhuge, t.nvalid, t.params
    cpu = params[TP_CPU]
    t.clock[cpu] += 1
    now = t.clock[cpu]
    flags = (F_WRITABLE if writable else 0) | (F_DIRTY if dirty else 0)
    tag = vaddr >> page_shift
    if page_shift == 12:
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_L1D_4K, asid, tag, page_shift, pfn, flags, now, absent)
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_STLB, asid, tag, page_shift, pfn, flags, now, absent)
    elif page_shift == params[TP_HUGE_SHIFT]:
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_L1D_2M, asid, tag, page_shift, pfn, flags, now, absent)
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_STLB, asid, tag, page_shift, pfn, flags, now, absent)
    elif page_shift == params[TP_GIANT_SHIFT]:
        _insert(ent, geo, hint, nhuge, nvalid, params, cpu, S_L1D_1G, asid, tag, page_shift, pfn, flags, now, absent)


# ---- paging-structure caches ------------------------------------------------------------------


@njit(cache=True, inline="always")
def pwc_lookup(t, asid, vaddr, level):
    """The table row the level-``level`` entry for ``vaddr`` points to, if the paging-structure
    cache of that level holds it (a walk then starts at ``level + 1``); else -1. Inline: every
    walk tries it first, level by level."""
    shifts = t.shift
    if level < 0 or level >= shifts.shape[0] - 1:
        return -1
    ent, geo, hint, ctr = t.ent, t.geo, t.hint, t.ctr
    cpu = t.params[TP_CPU]
    t.clock[cpu] += 1
    e = _probe(ent, geo, hint, cpu, S_PWC_0 + level, asid, vaddr >> shifts[level], shifts[level], t.clock[cpu])
    if e < 0:
        return -1
    ctr[cpu, t.pwc_ctr[level]] += 1
    return ent[cpu, E_PFN, e]


@njit(cache=True)
def pwc_fill(t, asid, vaddr, level, row):
    """Remember that the level-``level`` entry for ``vaddr`` points to table ``row``."""
    shifts = t.shift
    if 0 <= level < shifts.shape[0] - 1:
        cpu = t.params[TP_CPU]
        t.clock[cpu] += 1
        _insert(t.ent, t.geo, t.hint, t.nhuge, t.nvalid, t.params, cpu, S_PWC_0 + level, asid, vaddr >> shifts[level],
                shifts[level], row, 0, t.clock[cpu], False)


# ---- the walk -----------------------------------------------------------------------------


@njit(cache=True)
def _table_row(a, entry):
    """The pool row of the table an entry points to (``memory.table_row``)."""
    return a.private[pte_pfn(entry)]


@njit(cache=True)
def tlb_walk(a, vs, t, asid, pgd_row, vaddr, write, cached):
    """The page-miss handler: start below the deepest paging-structure cache that hits, read
    the remaining entries from ``vs.pt``, set accessed (and dirty on writes) in the leaf as
    ``memory.follow`` does, fill the caches. Returns the 4 KiB pfn, or -1 if the access
    faults (its cached translations, if ``cached``, are then dropped).

    Not the range walker of ``pagewalk``: this is the hardware's walk of one address on every
    TLB miss, the hot path of replay. It starts below a paging-structure-cache hit, counts
    every entry read, and tests the hardware present bit (``entry_present``: PROT_NONE and
    swap entries fault), so it stays a straight loop over the same entry helpers."""
    cpu = t.params[TP_CPU]
    t.ctr[cpu, C_WALKS] += 1
    levels = vs.vp[VP_LEVELS]
    row, start = pgd_row, 0
    for level in range(levels - 2, -1, -1):
        r = pwc_lookup(t, asid, vaddr, level)
        if r >= 0:
            row, start = r, level + 1
            break
    if start == 0:
        t.ctr[cpu, C_PWC_MISSES] += 1
    return _walk_from(a, vs, t, asid, cpu, row, start, vaddr, write, cached)


@njit(cache=True, inline="always")
def _walk_from(a, vs, t, asid, cpu, row, start, vaddr, write, cached):
    """``tlb_walk``'s reads from level ``start``, in table ``row``, down to the leaf (or the
    entry that faults)."""
    params, ctr = t.params, t.ctr
    pt = vs.pt
    levels = vs.vp[VP_LEVELS]
    writable = True
    for level in range(start, levels):
        idx = pt_index(vs, level, vaddr)
        entry = pt[row, idx]
        pdpte_reg = level == 0 and params[TP_PDPTE_REGS] != 0  # PAE: no RW/US bits, no memory read
        if not pdpte_reg:
            ctr[cpu, C_WALK_REFS] += 1
        if not entry_present(entry):
            break
        if not pdpte_reg:
            writable = writable and entry_has(entry, _PAGE_RW)
        if write and not writable:
            break
        if level < levels - 1 and not entry_has(entry, _PAGE_PSE):
            row = _table_row(a, entry)
            pwc_fill(t, asid, vaddr, level, row)
            continue
        bits = _PAGE_ACCESSED | (_PAGE_DIRTY if write else 0)
        pt[row, idx] = entry | np.uint64(bits)
        base = pte_pfn(entry)
        shift = t.shift[level]
        tlb_fill(t, asid, vaddr, base, shift, writable, write or entry_has(entry, _PAGE_DIRTY), not cached)
        return base + ((vaddr >> 12) & ((np.int64(1) << (shift - 12)) - 1))
    ctr[cpu, C_WALK_FAULTS] += 1
    if cached:  # a #PF invalidates the address (after a full miss nothing caches it)
        _drop_page(t, cpu, asid, vaddr)
    return -1


@njit(cache=True)
def tlb_refill(a, vs, t, asid, pgd_row, vaddr, write):
    """The access retried after a page fault: its lookup and walk. The lookup misses
    everywhere (the walk that faulted dropped the address's entries, or found none, and the
    fault handler only drops entries), so it is counted as ``tlb_lookup`` counts a miss. The
    walk that faulted went through the PDE cache's entry for ``vaddr`` (it hit it, or filled
    it on the way down to the pte) unless it stopped above: when that entry, the one a probe
    tries first (``_probe``), still holds the PDE (nothing flushed it), the walk's
    first probe hits there, and its effects follow here without ``tlb_walk``'s search from
    the top (one walk per fault: the hardware's refill after the fault handler's own walk).
    Else the whole walk."""
    ent, ctr = t.ent, t.ctr
    cpu = t.params[TP_CPU]
    t.clock[cpu] += 1
    ctr[cpu, C_L1_MISSES] += 1
    ctr[cpu, C_STLB_MISSES] += 1
    level = vs.vp[VP_LEVELS] - 2
    s = S_PWC_0 + level
    e = t.hint[cpu, s]
    shift = t.shift[level]
    if t.geo[s, G_WAYS] == 0 or ent[cpu, E_TAG, e] != vaddr >> shift or ent[cpu, E_ASID, e] != asid \
            or ent[cpu, E_SHIFT, e] != shift:
        return tlb_walk(a, vs, t, asid, pgd_row, vaddr, write, False)
    ctr[cpu, C_WALKS] += 1
    t.clock[cpu] += 1  # pwc_lookup's hit
    ent[cpu, E_STAMP, e] = t.clock[cpu]
    ctr[cpu, t.pwc_ctr[level]] += 1
    return _walk_from(a, vs, t, asid, cpu, ent[cpu, E_PFN, e], level + 1, vaddr, write, False)


@njit(cache=True)
def l1_entry(t, asid, vaddr):
    """The L1 dTLB entry that would serve ``vaddr`` now (no side effects), or -1."""
    ent, geo, params = t.ent, t.geo, t.params
    cpu = params[TP_CPU]
    for s, shift in ((S_L1D_4K, np.int64(12)), (S_L1D_2M, params[TP_HUGE_SHIFT]), (S_L1D_1G, params[TP_GIANT_SHIFT])):
        ways = geo[s, G_WAYS]
        if shift == 0 or ways == 0:
            continue
        tag = vaddr >> shift
        e = t.hint[cpu, s]  # usually the entry that just served or was filled
        if ent[cpu, E_TAG, e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
            return e
        base = geo[s, G_OFF] + (tag & (geo[s, G_SETS] - 1)) * ways
        for e in range(base, base + ways):
            if ent[cpu, E_TAG, e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == shift:
                return e
    return -1


@njit(cache=True, inline="always")
def l1_4k_entry(t, asid, vaddr):
    """The L1 4K dTLB entry caching ``vaddr`` (no side effects), or -1."""
    ent, geo = t.ent, t.geo
    cpu = t.params[TP_CPU]
    ways = geo[S_L1D_4K, G_WAYS]
    tag = vaddr >> 12
    base = geo[S_L1D_4K, G_OFF] + (tag & (geo[S_L1D_4K, G_SETS] - 1)) * ways
    for e in range(base, base + ways):
        if ent[cpu, E_TAG, e] == tag and ent[cpu, E_ASID, e] == asid and ent[cpu, E_SHIFT, e] == 12:
            return e
    return -1


@njit(cache=True, inline="always")
def l1_hit_again(t, e, vaddr, write):
    """Repeat an L1 hit on entry ``e`` exactly as ``tlb_lookup`` would (clock, LRU stamp,
    counters); -1 if a write needs the walk (clean or read-only entry)."""
    ent, params, ctr = t.ent, t.params, t.ctr
    cpu = params[TP_CPU]
    flags = ent[cpu, E_FLAGS, e]
    if write and (flags & (F_WRITABLE | F_DIRTY)) != (F_WRITABLE | F_DIRTY):
        return -1
    t.clock[cpu] += 1
    ent[cpu, E_STAMP, e] = t.clock[cpu]
    ctr[cpu, C_L1_HITS] += 1
    shift = ent[cpu, E_SHIFT, e]
    hs = params[TP_HUGE_SHIFT]
    ctr[cpu, C_HITS_4K if shift == 12 else (C_HITS_2M if shift == hs else C_HITS_1G)] += 1
    return ent[cpu, E_PFN, e] + ((vaddr >> 12) & ((np.int64(1) << (shift - 12)) - 1))


@njit(cache=True, inline="always")
def l1_hits_again(t, e, n):
    """``n`` more read hits on L1 entry ``e``: what ``n`` calls of ``l1_hit_again`` would
    do (each ticks the clock and re-stamps the entry, so the stamp ends at the last tick)."""
    ent, params, ctr = t.ent, t.params, t.ctr
    cpu = params[TP_CPU]
    t.clock[cpu] += n
    ent[cpu, E_STAMP, e] = t.clock[cpu]
    ctr[cpu, C_L1_HITS] += n
    shift = ent[cpu, E_SHIFT, e]
    ctr[cpu, C_HITS_4K if shift == 12 else (C_HITS_2M if shift == params[TP_HUGE_SHIFT] else C_HITS_1G)] += n


@njit(cache=True, inline="always")
def l1_entry_shift(t, e):
    """The page shift of the translation L1 entry ``e`` caches (12, 21 or 30)."""
    return t.ent[t.params[TP_CPU], E_SHIFT, e]


@njit(cache=True, inline='always')
def tlb_translate(a, vs, t, asid, pgd, addr, write, l1_4k_missed=False):
    """``memory.follow`` behind a TLB: the 4 KiB pfn for ``addr``, or MISS/REWALK (how the
    lookup ended) if the access faults (``l1_4k_missed`` as for ``tlb_lookup``). Inline,
    with the lookup: every access that misses L1 starts here."""
    pfn, _flags = tlb_lookup(t, asid, addr, write, l1_4k_missed)
    if pfn >= 0:
        return pfn
    walked = tlb_walk(a, vs, t, asid, pgd, addr, write, pfn == REWALK)
    return walked if walked >= 0 else pfn


@njit(cache=True)
def translate_batch(a, vs, t, asid, pgd, addrs, write, out):
    """``tlb_translate`` for each address into ``out``; returns how many faulted."""
    faults = 0
    for i in range(addrs.shape[0]):
        out[i] = tlb_translate(a, vs, t, asid, pgd, addrs[i], write)
        if out[i] < 0:
            faults += 1
    return faults


@njit(cache=True)
def mapped_frame(a, vs, pgd, addr):
    """The 4 KiB frame ``addr`` maps to now, -1 if none (no side effects)."""
    row = pgd
    levels = vs.vp[VP_LEVELS]
    for level in range(levels):
        entry = vs.pt[row, pt_index(vs, level, addr)]
        if not entry_present(entry):
            return -1
        if level == levels - 1 or entry_has(entry, _PAGE_PSE):
            return pte_pfn(entry) + ((addr >> 12) & ((np.int64(1) << (vs.shift[level] - 12)) - 1))
        row = _table_row(a, entry)
    return -1


@njit(cache=True)
def tlb_fault_done(vs, t, asid, addr):
    """After a fault: if it replaced a present entry of ``addr`` (``wp_page_copy``'s
    ``ptep_clear_flush``, a huge pmd split), flush the page from every CPU."""
    if vs.vp[VP_FLUSH_PENDING]:
        vs.vp[VP_FLUSH_PENDING] = 0
        flush_tlb_page(t, asid, addr)


# ---- flushing -------------------------------------------------------------------------------


@njit(cache=True)
def _flush_cpu(t, cpu, asid, start, end, whole, pwc):
    """Drop ``cpu``'s entries of ``asid`` (every asid if < 0): TLB entries overlapping
    [start, end) or all of them if ``whole``; paging-structure-cache entries if ``pwc``.
    Returns how many TLB and paging-structure-cache entries were dropped. A CPU caching
    nothing is not scanned (reclaim's batched flushes come many to a pass)."""
    if t.nvalid[cpu] == 0:
        return 0, 0
    ent, params = t.ent, t.params
    pwc_off = params[TP_PWC_OFF]
    dropped = dropped_pwc = 0
    for e in range(ent.shape[2]):
        tag = ent[cpu, E_TAG, e]
        if tag < 0 or (asid >= 0 and ent[cpu, E_ASID, e] != asid):
            continue
        if e >= pwc_off:
            if not pwc:
                continue
            dropped_pwc += 1
        else:
            if not whole:
                lo = tag << ent[cpu, E_SHIFT, e]
                if lo >= end or lo + (np.int64(1) << ent[cpu, E_SHIFT, e]) <= start:
                    continue
            dropped += 1
            _count_huge(ent, params, t.nhuge, cpu, e, -1)
        ent[cpu, E_TAG, e] = -1
    t.nvalid[cpu] -= dropped + dropped_pwc
    return dropped, dropped_pwc


@njit(cache=True)
def _holds(t, cpu, asid):
    """Whether ``cpu`` may cache ``asid`` (our stand-in for its bit in ``mm_cpumask``)."""
    if t.nvalid[cpu] == 0:
        return False
    ent = t.ent
    for e in range(ent.shape[2]):
        if ent[cpu, E_TAG, e] >= 0 and (asid < 0 or ent[cpu, E_ASID, e] == asid):
            return True
    return False


@njit(cache=True)
def _flush_local(t, cpu, asid, start, end, whole):
    """Flush on ``cpu``, counting what went against the current CPU."""
    me = t.params[TP_CPU]
    dropped, dropped_pwc = _flush_cpu(t, cpu, asid, start, end, whole, True)
    t.ctr[me, C_FLUSHED] += dropped
    t.ctr[me, C_FLUSHED_PWC] += dropped_pwc


@njit(cache=True)
def _flush_everywhere(t, asid, start, end, whole):
    """The local flush plus a shootdown IPI to each other CPU caching ``asid``."""
    me = t.params[TP_CPU]
    for cpu in range(t.params[TP_NCPU]):
        if cpu != me:
            if not _holds(t, cpu, asid):
                continue
            t.ctr[me, C_SHOOTDOWNS] += 1
        _flush_local(t, cpu, asid, start, end, whole)


@njit(cache=True)
def flush_tlb_range(t, asid, start, end):
    """``flush_tlb_mm_range``: INVLPG each page of [start, end) (which also empties the
    asid's paging-structure caches), or the whole mm above the single-page ceiling."""
    params, ctr = t.params, t.ctr
    me = params[TP_CPU]
    ctr[me, C_FLUSHES] += 1
    whole = (end - start + 4095) >> 12 > params[TP_CEILING]
    if whole:
        ctr[me, C_FULL_FLUSHES] += 1
    _flush_everywhere(t, asid, start, end, whole)


@njit(cache=True)
def flush_tlb_page(t, asid, addr):
    """``flush_tlb_page``: INVLPG one page, whatever size of translation covers it."""
    flush_tlb_range(t, asid, addr & ~np.int64(4095), (addr & ~np.int64(4095)) + 4096)


@njit(cache=True)
def flush_tlb_mm(t, asid):
    """``flush_tlb_mm``: every translation of the address space, on every CPU caching it."""
    params, ctr = t.params, t.ctr
    me = params[TP_CPU]
    ctr[me, C_FLUSHES] += 1
    ctr[me, C_FULL_FLUSHES] += 1
    _flush_everywhere(t, asid, 0, 0, True)


@entry
def arch_tlbbatch_flush(t, mmcs, flush_mm):
    """Reclaim's batched flush after unmapping (``try_to_unmap_flush`` -> ``arch_tlbbatch_flush``):
    each mm marked in ``flush_mm`` (rows of ``mmcs``, the mms' counters, their PGD the ASID)
    is flushed whole, as ``flush_tlb_mm`` would. The kernel sends one flush of every PCID to
    the union of the CPUs those mms ran on; flushing per mm drops the same entries."""
    for i in range(flush_mm.shape[0]):
        if flush_mm[i]:
            flush_tlb_mm(t, mmcs[i, MMC_PGD])


@njit(cache=True)
def flush_tlb_all(t):
    """``flush_tlb_all``: everything, everywhere (``on_each_cpu``: an IPI to every other CPU)."""
    params, ctr = t.params, t.ctr
    me = params[TP_CPU]
    ctr[me, C_FLUSHES] += 1
    ctr[me, C_FULL_FLUSHES] += 1
    ctr[me, C_SHOOTDOWNS] += params[TP_NCPU] - 1
    for cpu in range(params[TP_NCPU]):
        _flush_local(t, cpu, -1, 0, 0, True)


@entry
def tlb_switch_mm(t, cpu, asid):
    """``switch_mm_irqs_off`` on ``cpu``: make it current; load ``asid``, reusing its PCID
    slot or recycling the next one round-robin (``choose_new_asid``), whose entries go.
    Without PCID every switch to another mm flushes the CPU."""
    params, ctr, ctx = t.params, t.ctr, t.ctx
    params[TP_CPU] = cpu
    n = params[TP_NR_ASIDS]
    if ctx[cpu, n + 1] == asid:
        return
    ctr[cpu, C_SWITCHES] += 1
    ctx[cpu, n + 1] = asid
    if n == 0:
        _flush_local(t, cpu, -1, 0, 0, True)
        return
    for i in range(n):
        if ctx[cpu, i] == asid:
            return
    slot = ctx[cpu, n]
    ctx[cpu, n] = (slot + 1) % n
    if ctx[cpu, slot] >= 0:
        ctr[cpu, C_ASID_RECYCLES] += 1
        _flush_local(t, cpu, ctx[cpu, slot], 0, 0, True)
    ctx[cpu, slot] = asid


# ---- the Python face -----------------------------------------------------------------------


def asid_of(task) -> int:
    """The address-space id of a task's mm: its PGD row (unique while the mm lives)."""
    return int(task.mmc[MMC_PGD])


class TlbState(CompiledStruct, fields=TLB_FIELDS):
    """The TLBs and paging-structure caches of every CPU (Python and compiled views)."""

    @classmethod
    def build(cls, geometry: PgtableGeometry, config: TlbConfig | None = None, nr_cpus: int = 1) -> "TlbState":
        """Empty caches for ``nr_cpus`` CPUs walking tables of ``geometry``."""
        config = config or TlbConfig()
        config.validate()
        levels = len(geometry.levels)
        names = [n for n, _, _ in geometry.levels]
        shifts = [s for _, s, _ in geometry.levels]
        pae = names == ["pgd", "pmd", "pte"]
        huge = shifts[-2] if levels > 1 else 0
        giant = shifts[-3] if levels > 2 and shifts[-3] == 30 and not pae else 0
        sizes = [config.l1d_4k, config.l1d_2m if huge else (0, 1), config.l1d_1g if giant else (0, 1),
                 config.l1i_4k, config.stlb]
        pwc_by_distance = {1: config.pwc_pde, 2: config.pwc_pdpte, 3: config.pwc_pml4e, 4: config.pwc_pml5e}
        pwc_ctr = np.full(levels, -1, np.int64)
        for level in range(MAX_LEVELS - 1):
            n = 0
            if level < levels - 1 and not (pae and level == 0):  # PAE PDPTEs live in registers
                n = pwc_by_distance[levels - 1 - level]
                pwc_ctr[level] = C_PWC_PDE + levels - 2 - level
            sizes.append((n, n))
        geo = np.zeros((NR_STRUCTS, 3), np.int64)
        off = 0
        for s, (entries, ways) in enumerate(sizes):
            geo[s] = (entries // ways if entries else 0, ways if entries else 0, off)
            off += entries
        params = np.zeros(NR_TP, np.int64)
        params[TP_NCPU] = nr_cpus
        params[TP_HUGE_SHIFT], params[TP_GIANT_SHIFT] = huge, giant
        params[TP_PDPTE_REGS] = int(pae)
        params[TP_CEILING] = config.single_page_flush_ceiling
        params[TP_NR_ASIDS] = config.nr_dyn_asids if config.pcid else 0
        params[TP_PWC_OFF] = geo[S_PWC_0, G_OFF]
        params[TP_NENT] = off
        ent = np.zeros((nr_cpus, NR_E, max(off, 1)), np.int64)
        ent[:, E_TAG, :] = -1
        ctx = np.full((nr_cpus, params[TP_NR_ASIDS] + 2), -1, np.int64)
        ctx[:, params[TP_NR_ASIDS]] = 0
        t = cls.from_arrays(ent=ent, geo=geo, params=params, shift=np.array(shifts, np.int64), pwc_ctr=pwc_ctr,
                            clock=np.zeros(nr_cpus, np.int64), ctr=np.zeros((nr_cpus, NR_COUNTERS), np.int64),
                            ctx=ctx, hint=np.tile(geo[:, G_OFF], (nr_cpus, 1)),
                            nhuge=np.zeros((nr_cpus, 2), np.int64), nvalid=np.zeros(nr_cpus, np.int64))
        t.__dict__["config"] = config
        return t

    # counters and contents ------------------------------------------------------------------
    def counters(self, cpu: int | None = None) -> dict[str, int]:
        """Event counts (``COUNTER_NAMES``), summed over CPUs unless ``cpu`` is given."""
        row = self.ctr.sum(axis=0) if cpu is None else self.ctr[cpu]
        return dict(zip(COUNTER_NAMES, (int(v) for v in row)))

    def reset_counters(self) -> None:
        self.ctr[:] = 0

    def entries(self, structure: str, cpu: int = 0) -> list[dict]:
        """The valid entries of one structure (``STRUCT_NAMES``) on ``cpu``, oldest first."""
        s = STRUCT_NAMES.index(structure)
        sets, ways, off = (int(v) for v in self.geo[s])
        rows = self.ent[cpu, :, off:off + sets * ways].T
        rows = rows[rows[:, E_TAG] >= 0]
        rows = rows[np.argsort(rows[:, E_STAMP], kind="stable")]
        return [dict(asid=int(r[E_ASID]), vaddr=int(r[E_TAG]) << int(r[E_SHIFT]), size=1 << int(r[E_SHIFT]),
                     pfn=int(r[E_PFN]), writable=bool(r[E_FLAGS] & F_WRITABLE), dirty=bool(r[E_FLAGS] & F_DIRTY))
                for r in rows]

    # the kernel's calls --------------------------------------------------------------------------
    def set_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.params[TP_NCPU]:
            raise ValueError(f"cpu {cpu} is not one of the {int(self.params[TP_NCPU])} CPUs")
        self.params[TP_CPU] = cpu

    def switch_mm(self, task) -> None:
        """The task runs on its CPU with its address space loaded."""
        self.set_cpu(task.cpu)
        tlb_switch_mm(self, task.cpu, asid_of(task))

    def flush_mm(self, task) -> None:
        flush_tlb_mm(self, asid_of(task))

    def flush_range(self, task, start: int, end: int) -> None:
        flush_tlb_range(self, asid_of(task), start, end)

    def flush_all(self) -> None:
        flush_tlb_all(self)

    def __rich_repr__(self):
        yield "cpus", int(self.params[TP_NCPU])
        yield "config", self.config
        yield "counters", {k: v for k, v in self.counters().items() if v}


def tlb_init(k, config: TlbConfig | None = None) -> TlbState:
    """The machine's TLBs (``k.tlb``), for its page-table geometry and CPUs."""
    k.tlb = TlbState.build(k.pgtable_geometry, config, max(k.desc.nr_cpus, 1))
    return k.tlb


def tlb_for(k) -> TlbState:
    """``k.tlb``, built with the default configuration on first use."""
    return k.tlb if k.tlb is not None else tlb_init(k)
