"""arch/x86/mm/tlb: TLBs, paging-structure caches, walks and flushes on hand-built page tables.

Default geometry (a Skylake core): L1 4K dTLB 16 sets x 4 ways, STLB 128 sets x 12 ways, so
pages 16 apart share an L1 set and pages 128 apart share an STLB set::

    vpn:  0x400  0x410  0x420  0x430  0x440      (all in L1 set 0)
          A      B      C      D      E   -> E evicts the least recently used of A..D
"""

from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest

from linuxmm import Machine
from linuxmm.arch.x86.mm import tlb as T
from linuxmm.errors import ConfigError
from linuxmm.lib.xarray import xarray_pool_init
from linuxmm.mm import memory as M
from linuxmm.mm import pgtable as P
from linuxmm.mm.pgalloc import vm_state_init
from linuxmm.sources import toml

USER_RW = P._PAGE_PRESENT | P._PAGE_RW | P._PAGE_USER | P._PAGE_ACCESSED | P._PAGE_DIRTY  # 0x67
USER_RO = P._PAGE_PRESENT | P._PAGE_USER | P._PAGE_ACCESSED
BASE = 0x400000  # vpn 0x400: L1 set 0, STLB set 0
GEOMETRIES = {"x86_64": "", "la57": "la57 = true", "pae": "pae = true", "i386": ""}


def machine(kind: str, cpus: int = 2) -> Machine:
    arch = "i386" if kind in ("pae", "i386") else "x86_64"
    return Machine(toml.loads(f'name = "tlb-{kind}"\narch = "{arch}"\n{GEOMETRIES[kind]}\ncpus = {cpus}\n'
                              'e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x7ffffff }]\n'))


@pytest.fixture(scope="module")
def k64():
    return machine("x86_64").kernel


class Space:
    """A fresh table pool with one address space (its PGD row doubles as the ASID)."""

    def __init__(self, k, config=None, **cfg):
        self.k, self.a = k, k.mem_map
        self.vs = vm_state_init(k)
        self.mmc = self.new_mm()
        self.pgd = int(self.mmc[M.MMC_PGD])
        self.t = T.TlbState.build(k.pgtable_geometry, config or T.TlbConfig(**cfg), k.desc.nr_cpus)

    def new_mm(self):
        mmc = np.zeros(M.NR_MMC, np.int64)
        mmc[M.MMC_PGD] = M.pte_alloc_one(self.a, self.vs, mmc)
        return mmc

    def map(self, addr, pfn, bits=USER_RW, mmc=None):
        assert M.install_pte(self.a, self.vs, self.mmc if mmc is None else mmc, addr, pfn, bits) == 0

    def map_huge(self, addr, pfn, level_name="pmd", bits=USER_RW):
        """A PSE leaf at ``level_name`` (its tables made by mapping a neighbour first)."""
        geo = self.k.pgtable_geometry
        level = geo.level_of(level_name)
        span = 1 << geo.levels[level][1]
        self.map(addr ^ span, 1)  # the tables down to the PTE level, one entry over
        row = self.pgd
        for lv in range(level):
            row = M.table_row(self.a, self.vs.pt[row, M.pt_index(self.vs, lv, addr)])
        M.set_entry(self.vs, row, M.pt_index(self.vs, level, addr), P.mk_entry(pfn, bits | P._PAGE_PSE))

    def go(self, addr, write=False, asid=None, pgd=None):
        return T.tlb_translate(self.a, self.vs, self.t, self.pgd if asid is None else asid,
                               self.pgd if pgd is None else pgd, addr, write)

    def delta(self, addr, write=False, **kw):
        """Translate and return (pfn, the counters that changed)."""
        before = self.t.counters()
        pfn = self.go(addr, write, **kw)
        return pfn, {n: v - before[n] for n, v in self.t.counters().items() if v != before[n]}

    def pte(self, addr):
        return int(M.lookup_pte(self.a, self.vs, self.pgd, addr)[0])


def vaddrs(entries):
    return [e["vaddr"] for e in entries]


# ---- hits, misses, associativity -----------------------------------------------------------


def test_repeated_access_hits_l1(k64):
    s = Space(k64)
    s.map(BASE, 0x1234)
    pfn, d = s.delta(BASE + 0x10)
    assert pfn == 0x1234 and d["l1_misses"] == d["stlb_misses"] == d["walks"] == 1
    for off in (0x10, 0x800, 0xFF8):
        pfn, d = s.delta(BASE + off)
        assert pfn == 0x1234 and d == {"l1_hits": 1, "hits_4k": 1}
    assert [e["pfn"] for e in s.t.entries("l1d_4k")] == [0x1234] == [e["pfn"] for e in s.t.entries("stlb")]


def test_fifth_page_in_a_set_evicts_the_first_from_l1_not_from_the_stlb(k64):
    s = Space(k64)
    pages = [BASE + i * 16 * 4096 for i in range(5)]  # vpn 0x400, 0x410, ... all in L1 set 0
    for i, addr in enumerate(pages):
        s.map(addr, 0x100 + i)
        s.go(addr)
    assert vaddrs(s.t.entries("l1d_4k")) == pages[1:]
    pfn, d = s.delta(pages[0])
    assert pfn == 0x100 and d == {"l1_misses": 1, "stlb_hits": 1, "hits_4k": 1}
    assert vaddrs(s.t.entries("l1d_4k")) == pages[2:] + pages[:1]  # the STLB hit refilled L1: B went


def test_replacement_is_lru_not_fifo(k64):
    s = Space(k64)
    a, b, c, d, e = (BASE + i * 16 * 4096 for i in range(5))
    for i, addr in enumerate((a, b, c, d, e)):
        s.map(addr, 0x200 + i)
    for addr in (a, b, c, d, a, e):  # A used again before E: B is the least recently used
        s.go(addr)
    assert sorted(vaddrs(s.t.entries("l1d_4k"))) == [a, c, d, e]


def test_thirteenth_page_in_an_stlb_set_needs_a_walk(k64):
    s = Space(k64)
    pages = [BASE + i * 128 * 4096 for i in range(13)]  # STLB set 0 (12 ways), L1 set 0 too
    for i, addr in enumerate(pages):
        s.map(addr, 0x300 + i)
        s.go(addr)
    assert pages[0] not in vaddrs(s.t.entries("stlb")) and len(s.t.entries("stlb")) == 12
    pfn, d = s.delta(pages[0])
    assert pfn == 0x300 and d["stlb_misses"] == 1 and d["walks"] == 1


# ---- page sizes ----------------------------------------------------------------------------


def test_2m_leaf_goes_to_the_2m_tlb_and_the_stlb(k64):
    s = Space(k64)
    huge = 0x40000000
    s.map_huge(huge, 0x2000)
    pfn, d = s.delta(huge + 0x12345)
    assert pfn == 0x2000 + 0x12 and d["walks"] == 1 and d["walk_refs"] == 3  # PML4E, PDPTE, PDE
    assert [(e["vaddr"], e["size"], e["pfn"]) for e in s.t.entries("l1d_2m")] == [(huge, 2 << 20, 0x2000)]
    assert [e["size"] for e in s.t.entries("stlb")] == [2 << 20] and s.t.entries("l1d_4k") == []
    pfn, d = s.delta(huge + (2 << 20) - 1)
    assert pfn == 0x2000 + 511 and d == {"l1_hits": 1, "hits_2m": 1}


def test_1g_leaf_goes_to_the_1g_l1_tlb_only(k64):
    s = Space(k64)
    giant = 1 << 32
    s.map_huge(giant, 0x40000, "pud")
    assert s.go(giant + (5 << 20) + 0x1000) == 0x40000 + 5 * 256 + 1
    assert [e["size"] for e in s.t.entries("l1d_1g")] == [1 << 30]
    assert s.t.entries("stlb") == [] and s.t.entries("l1d_2m") == []
    pfn, d = s.delta(giant + (1 << 30) - 4096)
    assert pfn == 0x40000 + (1 << 18) - 1 and d == {"l1_hits": 1, "hits_1g": 1}


def test_4m_leaf_on_i386_without_pae():
    k = machine("i386").kernel
    s = Space(k)
    s.map_huge(0x800000, 0x400, "pgd")  # a PSE PDE: 4 MiB
    pfn, d = s.delta(0x800000 + 0x3FF000)
    assert pfn == 0x400 + 0x3FF and d["walk_refs"] == 1
    assert [e["size"] for e in s.t.entries("l1d_2m")] == [4 << 20]
    assert s.delta(0x800000)[1] == {"l1_hits": 1, "hits_2m": 1}


# ---- walks and paging-structure caches --------------------------------------------------------


@pytest.mark.parametrize("kind, cold, warm", [("x86_64", 4, [1, 2, 3]), ("la57", 5, [1, 2, 3, 4]),
                                              ("pae", 2, [1]), ("i386", 2, [1])])
def test_walk_refs_drop_as_the_paging_structure_caches_hit(kind, cold, warm):
    """A cold walk reads one entry per level (PAE: the PDPTEs are registers); then a page
    sharing the PTE table reads 1 (PDE cache), sharing the PMD table 2 (PDPTE cache), ..."""
    k = machine(kind).kernel
    s = Space(k)
    shifts = [sh for _, sh, _ in k.pgtable_geometry.levels]
    s.map(BASE, 0x10)
    assert s.delta(BASE)[1]["walk_refs"] == cold
    hits = ["pwc_hits_pde", "pwc_hits_pdpte", "pwc_hits_pml4e", "pwc_hits_pml5e"]
    for n, refs in enumerate(warm):
        addr = BASE + (1 << shifts[-1 - n])  # next page, next PTE table, next PMD table, ...
        s.map(addr, 0x20 + n)
        pfn, d = s.delta(addr)
        assert pfn == 0x20 + n and d["walk_refs"] == refs and d[hits[n]] == 1, (n, d)


def test_walk_of_unmapped_address_faults_and_counts_refs(k64):
    s = Space(k64)
    s.map(BASE, 0x10)
    s.go(BASE)
    pfn, d = s.delta(BASE + 4096)  # same PTE table, empty entry
    assert pfn == T.MISS and d["walk_faults"] == 1 and d["walk_refs"] == 1
    pfn, d = s.delta(0x7F0000000000)  # nothing there: the walk stops at the empty PGD entry
    assert pfn == T.MISS and d["walk_refs"] == 1 and d["pwc_misses"] == 1


def test_write_to_a_clean_translation_rewalks_and_sets_dirty(k64):
    s = Space(k64)
    s.map(BASE, 0x10, USER_RW & ~P._PAGE_DIRTY & ~P._PAGE_ACCESSED)
    s.go(BASE)
    assert s.pte(BASE) & P._PAGE_ACCESSED and not s.pte(BASE) & P._PAGE_DIRTY
    assert s.t.entries("l1d_4k")[0]["dirty"] is False
    pfn, d = s.delta(BASE, write=True)
    assert pfn == 0x10 and d["rewalks"] == 1 and d["walks"] == 1 and s.pte(BASE) & P._PAGE_DIRTY
    assert s.delta(BASE, write=True)[1] == {"l1_hits": 1, "hits_4k": 1}


def test_tlb_hits_leave_the_accessed_bit_alone(k64):
    """Only walks set A: after the kernel clears it (page aging), cached accesses don't see it."""
    s = Space(k64)
    s.map(BASE, 0x10)
    s.go(BASE)
    row = M.table_row(s.a, s.vs.pt[M.table_row(s.a, s.vs.pt[M.table_row(s.a, s.vs.pt[s.pgd, 0]), 0]), 2])
    s.vs.pt[row, 0] &= ~np.uint64(P._PAGE_ACCESSED)  # ptep_test_and_clear_young, no flush (x86)
    s.go(BASE)
    assert not s.pte(BASE) & P._PAGE_ACCESSED


def test_write_to_read_only_faults_and_drops_the_cached_translation(k64):
    s = Space(k64)
    s.map(BASE, 0x10, USER_RO)
    assert s.go(BASE) == 0x10 and len(s.t.entries("l1d_4k")) == 1
    pfn, d = s.delta(BASE, write=True)
    assert pfn == T.REWALK and d["rewalks"] == 1 and d["walk_faults"] == 1
    assert s.t.entries("l1d_4k") == [] and s.t.entries("stlb") == []


def test_tlb_translate_is_a_drop_in_for_follow(k64):
    """Same pfns and the same accessed/dirty bits as ``memory.follow``, with or without the TLB."""
    spaces = [Space(k64), Space(k64)]
    rng = np.random.default_rng(7)
    addrs = [BASE + int(p) * 4096 + int(o) for p, o in zip(rng.integers(0, 64, 400), rng.integers(0, 4096, 400))]
    writes = rng.random(400) < 0.3
    for s in spaces:
        for p in range(0, 64, 2):
            s.map(BASE + p * 4096, 0x500 + p, (USER_RO if p % 4 else USER_RW) & ~P._PAGE_DIRTY)
        s.map_huge(0x40000000, 0x2000)
    addrs += [0x40000000 + 0x3000, 0x40100000]
    writes = np.concatenate([writes, [True, False]])
    ref, tlb = spaces
    for addr, w in zip(addrs, writes):
        # tlb.go returns MISS or REWALK where follow returns -1
        assert M.follow(ref.a, ref.vs, ref.pgd, addr, bool(w)) == max(tlb.go(addr, bool(w)), -1), hex(addr)
    for addr in [BASE + p * 4096 for p in range(64)] + [0x40000000]:
        assert ref.pte(addr) & 0xFFF == tlb.pte(addr) & 0xFFF, hex(addr)


# ---- address spaces, flushes, CPUs -----------------------------------------------------------------


def test_asids_isolate_address_spaces(k64):
    s = Space(k64)
    other = s.new_mm()
    s.map(BASE, 0x111)
    s.map(BASE, 0x222, mmc=other)
    asid2 = int(other[M.MMC_PGD])
    assert s.go(BASE) == 0x111
    pfn, d = s.delta(BASE, asid=asid2, pgd=asid2)
    assert pfn == 0x222 and d["walks"] == 1 and d["walk_refs"] == 4  # no sharing of PWC entries either
    assert s.delta(BASE)[1] == {"l1_hits": 1, "hits_4k": 1}
    assert s.delta(BASE, asid=asid2, pgd=asid2) == (0x222, {"l1_hits": 1, "hits_4k": 1})


def test_flush_tlb_range_removes_exactly_the_range(k64):
    s = Space(k64)
    pages = [BASE + i * 4096 for i in range(8)]
    for i, addr in enumerate(pages):
        s.map(addr, 0x600 + i)
        s.go(addr)
    s.t.reset_counters()
    T.flush_tlb_range(s.t, s.pgd, pages[2], pages[5])  # pages 2, 3, 4
    kept = pages[:2] + pages[5:]
    assert sorted(vaddrs(s.t.entries("l1d_4k"))) == kept == sorted(vaddrs(s.t.entries("stlb")))
    c = s.t.counters()
    assert c["flushes"] == 1 and c["full_flushes"] == 0 and c["flushed_entries"] == 6  # 3 in L1, 3 in STLB
    assert c["flushed_pwc"] == 3 and s.t.entries("pwc2") == []  # INVLPG empties the asid's PWCs


def test_flush_above_the_ceiling_flushes_the_whole_mm(k64):
    s = Space(k64)
    other = s.new_mm()
    s.map(BASE, 0x10)
    s.map(0x7F0000000000, 0x11)
    s.map(BASE, 0x12, mmc=other)
    s.go(BASE), s.go(0x7F0000000000)
    s.go(BASE, asid=int(other[M.MMC_PGD]), pgd=int(other[M.MMC_PGD]))
    T.flush_tlb_range(s.t, s.pgd, BASE, BASE + 34 * 4096)  # 34 pages > tlb_single_page_flush_ceiling
    assert s.t.counters()["full_flushes"] == 1
    assert [e["asid"] for e in s.t.entries("stlb")] == [int(other[M.MMC_PGD])]


def test_huge_entry_overlapping_the_range_is_flushed(k64):
    s = Space(k64)
    s.map_huge(0x40000000, 0x2000)
    s.go(0x40000000)
    T.flush_tlb_range(s.t, s.pgd, 0x40100000, 0x40101000)  # one 4 KiB page inside the 2 MiB one
    assert s.t.entries("l1d_2m") == [] and s.t.entries("stlb") == []


def test_flush_shoots_down_other_cpus_that_cache_the_mm(k64):
    s = Space(k64)
    s.map(BASE, 0x10)
    for cpu in (0, 1):
        s.t.set_cpu(cpu)
        s.go(BASE)
    s.t.reset_counters()
    T.flush_tlb_mm(s.t, s.pgd)
    assert s.t.counters(cpu=1)["shootdowns"] == 1 and s.t.counters()["flushed_entries"] == 4
    assert s.t.entries("stlb", cpu=0) == [] == s.t.entries("stlb", cpu=1)
    T.flush_tlb_mm(s.t, s.pgd)  # nothing cached anywhere: no IPI
    assert s.t.counters()["shootdowns"] == 1
    T.flush_tlb_all(s.t)
    assert s.t.counters()["shootdowns"] == 2  # on_each_cpu interrupts every other CPU


def test_flushes_skip_cpus_caching_nothing_and_count_what_they_drop(k64):
    """``nvalid`` counts each CPU's valid entries through fills, replacements, INVLPG and
    flushes; a CPU with none is neither scanned nor sent an IPI."""
    s = Space(k64)

    def valid(cpu):
        return int((s.t.ent[cpu, T.E_TAG] >= 0).sum())

    for i in range(20):  # 20 pages in L1 set 0: L1 replaces, the STLB keeps them all
        s.map(BASE + i * 16 * 4096, 0x600 + i)
        s.go(BASE + i * 16 * 4096)
    assert s.t.nvalid.tolist() == [valid(0), 0] and valid(0) > 20
    T.flush_tlb_page(s.t, s.pgd, BASE)
    assert s.t.nvalid[0] == valid(0)
    s.t.ent[1, T.E_TAG, 0], s.t.ent[1, T.E_ASID, 0] = 0, s.pgd  # an entry cpu 1 does not count: skipped
    T.flush_tlb_mm(s.t, s.pgd)
    assert s.t.nvalid.tolist() == [0, 0] and valid(0) == 0
    assert valid(1) == 1 and s.t.counters(cpu=0)["shootdowns"] == 0


def test_switch_mm_recycles_dynamic_asids(k64):
    s = Space(k64, nr_dyn_asids=2)
    task = SimpleNamespace(cpu=0, mmc=s.mmc)
    s.map(BASE, 0x10)
    s.t.switch_mm(task)
    s.go(BASE)
    s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.new_mm()))  # second slot: nothing lost
    assert len(s.t.entries("stlb")) == 1
    s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.new_mm()))  # third mm takes the first slot back
    assert s.t.entries("stlb") == [] and s.t.counters()["asid_recycles"] == 1


def test_without_pcid_every_switch_flushes(k64):
    s = Space(k64, pcid=False)
    s.map(BASE, 0x10)
    s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.mmc))
    s.go(BASE)
    s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.mmc))  # same mm: CR3 unchanged
    assert len(s.t.entries("stlb")) == 1
    s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.new_mm()))
    assert s.t.entries("stlb") == [] and s.t.counters()["context_switches"] == 2


def test_fault_that_moves_a_page_flushes_it(k64):
    """wp_page_copy replaces the frame: without ptep_clear_flush a read would still hit the old one."""
    s = Space(k64)
    s.map(BASE, 0x10, USER_RO)
    assert s.go(BASE) == 0x10
    s.map(BASE, 0x99)  # the COW copy
    assert s.go(BASE) == 0x10  # stale
    s.vs.vp[P.VP_FLUSH_PENDING] = 1  # what do_wp_page's copy leaves for the fault's caller
    T.tlb_fault_done(s.vs, s.t, s.pgd, BASE)
    assert s.go(BASE) == 0x99 and s.t.counters()["flushes"] == 1
    T.tlb_fault_done(s.vs, s.t, s.pgd, BASE)  # no entry replaced: nothing to flush
    assert s.t.counters()["flushes"] == 1


def test_python_face_flushes_a_task(k64):
    s = Space(k64)
    task = SimpleNamespace(cpu=0, mmc=s.mmc)
    s.map(BASE, 0x10)
    s.go(BASE)
    s.t.flush_range(task, BASE + 4096, BASE + 8192)
    assert len(s.t.entries("l1d_4k")) == 1
    s.t.flush_mm(task)
    assert s.t.entries("l1d_4k") == [] and T.asid_of(task) == s.pgd
    with pytest.raises(ValueError):
        s.t.set_cpu(2)


def test_tlb_for_builds_the_machine_tlb_once(k64):
    t = T.tlb_for(k64)
    assert T.tlb_for(k64) is t and t.counters()["l1_hits"] == 0 and int(t.params[T.TP_NCPU]) == 2


@pytest.mark.parametrize("bad", [dict(l1d_4k=(64, 5)), dict(stlb=(10, 0)), dict(pwc_pde=-1),
                                 dict(nr_dyn_asids=0)])
def test_bad_configs_are_refused(k64, bad):
    with pytest.raises(ConfigError):
        T.TlbState.build(k64.pgtable_geometry, T.TlbConfig(**bad))


# ---- a pure-Python reference ----------------------------------------------------------------------


class ReferenceTlb:
    """L1 4K dTLB + STLB as LRU-ordered dicts per set (4 KiB pages, one address space)."""

    def __init__(self, cfg: T.TlbConfig):
        (n1, w1), (n2, w2) = cfg.l1d_4k, cfg.stlb
        self.l1 = [OrderedDict() for _ in range(n1 // w1)]
        self.stlb = [OrderedDict() for _ in range(n2 // w2)]
        self.w1, self.w2 = w1, w2

    @staticmethod
    def _touch(sets, vpn, ways):
        d = sets[vpn % len(sets)]
        if vpn in d:
            d.move_to_end(vpn)
            return True
        if len(d) >= ways:
            d.popitem(last=False)
        d[vpn] = True
        return False

    def access(self, vpn) -> str:
        d = self.l1[vpn % len(self.l1)]
        if vpn in d:
            d.move_to_end(vpn)
            return "l1_hits"
        hit = self._touch(self.stlb, vpn, self.w2)
        self._touch(self.l1, vpn, self.w1)
        return "stlb_hits" if hit else "stlb_misses"


@pytest.mark.parametrize("cfg", [T.TlbConfig(), T.TlbConfig(l1d_4k=(8, 2), stlb=(24, 3))])
def test_compiled_tlb_matches_the_python_reference(k64, cfg):
    s = Space(k64, cfg)
    ref = ReferenceTlb(cfg)
    vpns = np.random.default_rng(1).integers(0x400, 0x400 + 600, 2500)
    for vpn in range(0x400, 0x400 + 600):
        s.map(vpn << 12, vpn)
    for vpn in vpns:
        pfn, d = s.delta(int(vpn) << 12)
        assert pfn == vpn
        expect = ref.access(int(vpn))
        assert d.get(expect) == 1, (hex(vpn), expect, d)


def test_translate_batch_counts_faults(k64):
    s = Space(k64)
    for i in range(4):
        s.map(BASE + i * 4096, 0x700 + i)
    addrs = np.array([BASE + i * 4096 for i in range(6)], np.int64)
    out = np.zeros(6, np.int64)
    assert T.translate_batch(s.a, s.vs, s.t, s.pgd, s.pgd, addrs, False, out) == 2
    assert out.tolist() == [0x700, 0x701, 0x702, 0x703, -1, -1]


def test_counters_add_up(k64):
    s = Space(k64)
    for p in range(0, 256, 3):
        s.map(BASE + p * 4096, 0x800 + p, USER_RW & ~P._PAGE_DIRTY if p % 2 else USER_RO)
    s.map_huge(0x40000000, 0x2000)
    rng = np.random.default_rng(3)
    for _ in range(3000):
        huge = rng.random() < 0.1
        addr = 0x40000000 + int(rng.integers(0, 1 << 21)) if huge else BASE + int(rng.integers(0, 256)) * 4096
        s.go(addr, bool(rng.random() < 0.3))
    c = s.t.counters()
    assert c["l1_hits"] + c["l1_misses"] == 3000 and c["l1_misses"] == c["stlb_hits"] + c["stlb_misses"]
    assert c["walks"] == c["stlb_misses"] + c["rewalks"] and c["walk_faults"] > 0
    assert c["hits_4k"] + c["hits_2m"] == c["l1_hits"] + c["stlb_hits"] - c["rewalks"]


# ---- the real fault path behind the TLB (the integration proposed for memory.access_batch) -------

NO_PAGE_CACHE = xarray_pool_init()  # the anonymous VMAs here have no page cache to read


def access_batch_tlb(a, vs, t, vmas, mmc, addrs, write, value, out):
    """``memory.access_batch`` with ``follow`` replaced by ``tlb_translate`` and a flush when a
    fault moved the page: the integration proposed for the compiled loop, step by step in
    Python (each call is compiled in its own module; a compiled copy here would be cached
    with stale inlined callees whenever tlb.py or memory.py change)."""
    asid = int(mmc[M.MMC_PGD])
    for i, addr in enumerate(addrs):
        pfn = T.tlb_translate(a, vs, t, asid, asid, addr, write)
        if pfn < 0:
            status = M.handle_mm_fault(a, vs, NO_PAGE_CACHE, vmas, mmc, addr, write)
            if status != M.FAULT_OK:
                return status
            T.tlb_fault_done(vs, t, asid, addr)
            pfn = T.tlb_translate(a, vs, t, asid, asid, addr, write)
            if pfn < 0:
                return M.FAULT_SIGSEGV_ACCERR
        if write:
            M.write_line(a, pfn, (addr & 4095) >> 6, value)
        else:
            out[i] = M.read_line(a, pfn, (addr & 4095) >> 6)
    return M.FAULT_OK


def access_batch_follow(a, vs, vmas, mmc, addrs, write, value, out):
    pgd = int(mmc[M.MMC_PGD])
    for i, addr in enumerate(addrs):
        pfn = M.follow(a, vs, pgd, addr, write)
        if pfn < 0:
            if M.handle_mm_fault(a, vs, NO_PAGE_CACHE, vmas, mmc, addr, write) != M.FAULT_OK:
                return -1
            pfn = M.follow(a, vs, pgd, addr, write)
        if write:
            M.write_line(a, pfn, (addr & 4095) >> 6, value)
        else:
            out[i] = M.read_line(a, pfn, (addr & 4095) >> 6)
    return M.FAULT_OK


def tlb_contents(t):
    """Everything a TLB holds and counts, stamps and probe hints included."""
    return [x.copy() for x in (t.ent, t.clock, t.ctr, t.hint, t.nhuge, t.nvalid)]


def test_the_fault_paths_refill_is_the_lookup_and_walk_it_stands_for():
    """``access_one`` retries a faulted access with ``tlb_refill`` (one walk per fault, from
    the PDE the faulting walk cached): the TLBs end exactly as with the full lookup and walk
    of ``tlb_translate`` after each fault, through write faults, new PTE tables (the
    faulting walk stops above the pte), read faults of the zero page then written (a
    rewalk: the entry is read-only), a 2 MiB THP and COW after fork."""
    small, huge = (BASE, BASE + (1100 << 12)), (0x40000000, 0x40000000 + (2 << 20))
    rw = M.VM_READ | M.VM_WRITE | M.VM_MAYWRITE
    vmas = np.array([[small[0], small[1], rw, 0, 1, 0, -1, 0, 0],
                     [huge[0], huge[1], rw | M.VM_HUGEPAGE, 0, 1, 0, -1, 0, 0]], np.int64)
    pages = np.concatenate([np.arange(*small, 4096), np.arange(*huge, 256 << 10)]).astype(np.int64)
    script = [(False, pages[:1100:3]), (True, pages), (True, pages[::7]), ("fork",), (True, pages[::5])]
    ends = {}
    for mode in ("translate", "refill"):
        s = Space(machine("x86_64").kernel)  # its own: the same pages allocated in both modes
        s.vs.vp[P.VP_THP] = P.THP_MADVISE
        s.t.switch_mm(SimpleNamespace(cpu=0, mmc=s.mmc))
        for step in script:
            if step[0] == "fork":
                child = s.new_mm()
                for lo, hi in (small, huge):
                    assert M.copy_page_range(s.a, s.vs, s.mmc, child, int(child[M.MMC_PGD]), lo, hi, rw, 1) == (0, hi)
                T.flush_tlb_mm(s.t, s.pgd)
                continue
            write, addrs = step
            out = np.zeros(len(addrs), np.uint8)
            if mode == "translate":
                assert access_batch_tlb(s.a, s.vs, s.t, vmas, s.mmc, addrs, write, 1, out) == M.FAULT_OK
            else:
                assert M.access_batch(s.a, s.vs, NO_PAGE_CACHE, s.t, s.pgd, vmas, s.mmc, addrs, write, 1, out, 0,
                                      1 << 62) == (len(addrs), M.FAULT_OK)
        ends[mode] = tlb_contents(s.t)
        c = s.t.counters()
        assert c["rewalks"] > 0 and c["hits_2m"] > 0 and c["pwc_hits_pde"] > 0 and c["walk_faults"] > 0
    for translated, refilled in zip(ends["translate"], ends["refill"]):
        assert np.array_equal(translated, refilled)


def test_fork_cow_and_thp_through_the_tlb_match_the_plain_walk(k64):
    """Parent writes, forks, migrates between CPUs while parent and child write: what each
    reads must be what it would read without a TLB (stale entries would leak the other's data)."""
    small, huge = (BASE, BASE + (64 << 12)), (0x40000000, 0x40000000 + (4 << 20))
    rw = M.VM_READ | M.VM_WRITE | M.VM_MAYWRITE
    vmas = np.array([[small[0], small[1], rw, 0, 1, 0, -1, 0, 0],
                     [huge[0], huge[1], rw | M.VM_HUGEPAGE, 0, 1, 0, -1, 0, 0]], np.int64)  # anonymous: no file
    pages = [int(p) for p in np.concatenate([np.arange(*small, 4096), np.arange(*huge, 64 << 10)])]
    script = [("parent", 0, True, 1, pages), ("fork",), ("parent", 0, False, 0, pages),
              ("child", 1, True, 2, pages[::2]), ("parent", 1, True, 3, pages[1::4]),
              ("parent", 0, False, 0, pages), ("child", 1, False, 0, pages), ("parent", 1, False, 0, pages)]
    reads = {}
    for mode in ("tlb", "follow"):
        s = Space(k64)
        s.vs.vp[P.VP_THP] = P.THP_MADVISE
        mm = {"parent": s.mmc}
        for step in script:
            if step[0] == "fork":
                mm["child"] = s.new_mm()
                for lo, hi in (small, huge):
                    assert M.copy_page_range(s.a, s.vs, s.mmc, mm["child"], int(mm["child"][M.MMC_PGD]),
                                             lo, hi, M.VM_READ | M.VM_WRITE | M.VM_MAYWRITE, 1) == (0, hi)
                T.flush_tlb_mm(s.t, s.pgd)
                continue
            who, cpu, write, value, addrs = step
            out = np.zeros(len(addrs), np.uint8)
            if mode == "tlb":
                s.t.switch_mm(SimpleNamespace(cpu=cpu, mmc=mm[who]))
                status = access_batch_tlb(s.a, s.vs, s.t, vmas, mm[who], addrs, write, value, out)
            else:
                status = access_batch_follow(s.a, s.vs, vmas, mm[who], addrs, write, value, out)
            assert status == M.FAULT_OK
            reads.setdefault(mode, []).append(out.tolist())
        if mode == "tlb":
            c = s.t.counters()
            assert c["shootdowns"] > 0 and c["hits_2m"] > 0  # the parent's CPU 0 entries were shot down
    assert reads["tlb"] == reads["follow"]
    child, parent = reads["follow"][-2][:64], reads["follow"][-1][:64]  # the 4 KiB region
    assert set(child) == {1, 2} and set(parent) == {1, 3}
