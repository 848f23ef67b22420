"""mm/pgtable: the kinds of page-table entry and their x86 encodings (Linux 6.18).

    x86-64, PAE  | TYPE 63-59 | ~OFFSET 58-9 | 0 | 0 | X | X | X | E | F | SD | 0 |
    i386 2-level |            OFFSET 31-9    | 0 | E | 0 |  TYPE 5-1  | 0 |

A swap pte is neither none nor present; migration entries and PTE markers are swap entries
with types above MAX_SWAPFILES (28 with this host's config: 3 migration types, 1 marker type).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linuxmm.mm import pgtable as P

# offset bits: x86-64 swap areas stay below the L1TF limit (max_swapfile_size: half of
# MAX_PA, far under 2**42 pages); a 32-bit swp_entry_t has 26 (BITS_PER_XA_VALUE 31 - 5); a
# 2-level pte has 23 above bit 9
FORMATS = {P.SWP_FMT_64: 42, P.SWP_FMT_PAE: 26, P.SWP_FMT_2LEVEL: 23}
u64 = np.uint64  # numba hands back Python ints: entries >= 2**63 must go back in as uint64


@st.composite
def swap_entries(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    # offset 0 is never a slot (the swap header sits there): on 2-level x86 type 0 offset 0 is pte_none
    return fmt, draw(st.integers(0, 31)), draw(st.integers(1, (1 << FORMATS[fmt]) - 1))


def test_the_kernels_bit_layout():
    # type 1, offset 0 on x86-64: the offset field (bits 9-58) inverted, all ones; type in 59-63
    assert int(P.swp_entry_to_pte(u64(P.swp_entry(1, 0)), P.SWP_FMT_64)) == 0x0FFFFFFFFFFFFE00
    # 2-level: type 3 in bits 1-5, offset 5 from bit 9, not inverted
    assert int(P.swp_entry_to_pte(u64(P.swp_entry(3, 5)), P.SWP_FMT_2LEVEL)) == (3 << 1) | (5 << 9)
    assert P.MAX_SWAPFILES == 28 and P.SWP_MIGRATION_READ == 28 and P.SWP_PTE_MARKER == 31


@given(swap_entries())
def test_swap_entry_round_trip(case):
    fmt, type_, offset = case
    entry = u64(P.swp_entry(type_, offset))
    assert (P.swp_type(entry), P.swp_offset(entry)) == (type_, offset)
    pte = u64(P.swp_entry_to_pte(entry, fmt))
    assert P.pte_to_swp_entry(pte, fmt) == entry
    # the flag bits kept beside the entry (exclusive, uffd-wp) do not change it
    flags = u64(P.pte_swp_exclusive_bit(fmt)) | (u64(P._PAGE_SWP_UFFD_WP) if fmt == P.SWP_FMT_64 else u64(0))
    assert P.pte_to_swp_entry(pte | flags, fmt) == entry


@given(swap_entries())
def test_a_swap_pte_is_never_present_nor_none(case):
    fmt, type_, offset = case
    pte = u64(P.swp_entry_to_pte(u64(P.swp_entry(type_, offset)), fmt))
    assert P.is_swap_pte(pte) and not P.pte_present(pte) and not P.pte_none(pte)
    assert not P.entry_present(pte) and not pte & u64(P._PAGE_PSE if fmt == P.SWP_FMT_64 else 0)
    kind = P.pte_kind(pte, fmt)
    assert kind == (P.PTE_KIND_SWAP if type_ < P.MAX_SWAPFILES else
                    P.PTE_KIND_MIGRATION if type_ <= P.SWP_MIGRATION_WRITE else P.PTE_KIND_MARKER)


@given(st.sampled_from([P.SWP_FMT_64, P.SWP_FMT_PAE]), st.integers(0, 31), st.integers(0, (1 << 42) - 1))
def test_a_swap_pte_points_far_above_any_ram(fmt, type_, offset):
    """L1TF: the inverted offset sets the high "pfn" bits, so a speculative walk of a swap pte
    reads no real memory (pfn >= 2**39: 2 PiB, above MAX_PHYSMEM_BITS of 4-level paging)."""
    pte = u64(P.swp_entry_to_pte(u64(P.swp_entry(type_, offset)), fmt))
    assert P.pte_pfn(pte) >= 1 << 39


def test_none_ignores_accessed_and_dirty():
    assert P.pte_none(u64(0)) and P.pte_none(u64(P._PAGE_ACCESSED | P._PAGE_DIRTY))
    assert not P.pte_none(u64(P._PAGE_PROTNONE)) and P.pte_present(u64(P._PAGE_PROTNONE))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_migration_entries_and_markers(fmt):
    mig = u64(P.make_writable_migration_entry(0x1234))
    assert P.is_migration_entry(mig) and P.is_writable_migration_entry(mig) and P.swp_offset_pfn(mig) == 0x1234
    ro = u64(P.make_readable_migration_entry(0x1234))
    assert P.is_migration_entry(ro) and not P.is_writable_migration_entry(ro) and P.non_swap_entry(ro)
    assert P.pte_kind(u64(P.swp_entry_to_pte(mig, fmt)), fmt) == P.PTE_KIND_MIGRATION
    guard = u64(P.make_pte_marker(P.PTE_MARKER_GUARD, fmt))
    assert P.is_pte_marker(guard, fmt) and P.pte_kind(guard, fmt) == P.PTE_KIND_MARKER
    assert P.pte_marker_get(u64(P.pte_to_swp_entry(guard, fmt))) == P.PTE_MARKER_GUARD
    assert not P.is_pte_marker(u64(P.swp_entry_to_pte(u64(P.swp_entry(3, 7)), fmt)), fmt)


def test_nx_entries_pass_from_compiled_code_through_python():
    """Every anonymous pte of a mapping without PROT_EXEC has NX, bit 63. Entries that compiled
    code (lookup_pte) hands to Python come back as Python ints, which a compiled helper already
    specialised for int64 (a small entry went through it first) cannot take: each Python face
    over page-table entries (pagemap, PAGEMAP_SCAN, smaps, mincore, the split through debugfs,
    madvise, the page walk, a SIGSEGV's error code, the debug checks) must pass them on as uint64."""
    from linuxmm import Machine, SegmentationFault, debug

    for fmt in FORMATS:  # int64 specialisations of the entry helpers, as a small entry leaves them
        P.pte_kind(1, fmt), P.pte_to_swp_entry(1, fmt), P.is_pte_marker(1, fmt)
    P.entry_present(1), P.entry_has(1, 1), P.pte_pfn(1), P.pte_present(1), P.pte_none(1), P.is_leaf_entry(1)
    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    mb = 1 << 20
    a = p.mmap(4 * mb, addr=0x40000000, flags="private|anonymous|fixed")
    p.write(a, 4 * mb)  # two THPs
    p.mprotect(a + 2 * mb, 4096, "rw")  # splits the second PMD: ptes
    assert all(e >> 63 for e in p.pagemap(a, 1024))
    assert p.walk(a + 2 * mb).leaf["entry"] >> 63
    assert p.pagemap_scan(a, a + 4 * mb)
    assert p.smaps_rollup()["Rss"] == 4 * 1024
    assert p.mincore(a, 4 * mb).all()
    m.sysfs("kernel/debug/split_huge_pages", f"{p.pid},{a:#x},{a + 4 * mb:#x},0")
    p.madvise(a, 4 * mb, "cold")
    p.madvise(a, mb, "dontneed")
    p.mprotect(a + mb, 4096, "r")
    with pytest.raises(SegmentationFault):
        p.write(a + mb, 1)
    assert debug.check(m) == []
