"""Page tables (``include/linux/pgtable.h``, ``mm/pgtable-generic.c``, ``arch/x86/include/asm/pgtable*``).

Linux names five levels — PGD, P4D, PUD, PMD, PTE — and folds the ones the hardware lacks:
x86-64 has 4 (P4D folded) or 5 with LA57, 32-bit PAE has 3 (P4D and PUD folded), classic
32-bit x86 has 2 (only PGD and PTE, 1024 entries each). Each table is a page from the buddy
allocator (``pte_alloc_one``/``__pmd_alloc``/..., GFP_PGTABLE_USER), counted in
NR_PAGETABLE; here its entries live in a pool of uint64 rows (``VmState.pt``) and the page's
``private`` field says which row. Entries hold real x86 bits: present, RW, user, accessed,
dirty, PSE (a 2 MiB/4 MiB/1 GiB leaf), NX, soft-dirty, and the pfn from bit 12. An entry
that is neither none nor present is a swap entry in the arch's encoding (swap slot, migration
entry, PTE marker: ``pte_kind``); ``pt_used`` counts every entry that is not none.

A THP's PMD keeps a pte table in reserve for a later split (``pgtable_trans_huge_deposit``):
the deposits of a PMD table hang off that table (``pt_huge_pte``, linked by
``pt_deposit_next``), as the kernel keeps them on the PMD table page's ``pmd_huge_pte``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..jit import CompiledStruct
from ..include.linux.swap import (MAX_SWAPFILES, MAX_SWAPFILES_SHIFT, SWP_DEVICE_NUM, SWP_HWPOISON_NUM,
                                  SWP_MIGRATION_NUM)
from ..include.linux.vmstat import NODE_STAT_ITEM

# x86 page table entry bits (arch/x86/include/asm/pgtable_types.h)
_PAGE_PRESENT = 1 << 0
_PAGE_RW = 1 << 1
_PAGE_USER = 1 << 2
_PAGE_PWT = 1 << 3
_PAGE_PCD = 1 << 4
_PAGE_ACCESSED = 1 << 5
_PAGE_DIRTY = 1 << 6
_PAGE_PSE = 1 << 7
_PAGE_GLOBAL = 1 << 8
_PAGE_PROTNONE = _PAGE_GLOBAL  # only meaningful when not present: mprotect(PROT_NONE)
_PAGE_SPECIAL = 1 << 9  # _PAGE_BIT_SOFTW1: pte_special (the zero page)
_PAGE_SOFT_DIRTY = 1 << 11
_PAGE_NX = 1 << 63
PTE_PFN_MASK = ((1 << 52) - 1) & ~0xFFF
PTE_FLAG_NAMES = [(_PAGE_PRESENT, "present"), (_PAGE_RW, "rw"), (_PAGE_USER, "user"), (_PAGE_PWT, "pwt"),
                  (_PAGE_PCD, "pcd"), (_PAGE_ACCESSED, "accessed"), (_PAGE_DIRTY, "dirty"),
                  (_PAGE_PSE, "pse"), (_PAGE_GLOBAL, "global"), (_PAGE_SPECIAL, "special"),
                  (_PAGE_SOFT_DIRTY, "soft-dirty"), (_PAGE_NX, "nx")]
_PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY  # a user table link

LEVEL_NAMES = ("pgd", "p4d", "pud", "pmd", "pte")


@dataclass(frozen=True)
class PgtableGeometry:
    """The hardware levels (name, shift, entries) from the top, and the folded names."""

    levels: tuple[tuple[str, int, int], ...]
    entry_bytes: int = 8

    @property
    def ptrs(self) -> int:
        return max(n for _, _, n in self.levels)

    @property
    def folded(self) -> tuple[str, ...]:
        present = {name for name, _, _ in self.levels}
        return tuple(n for n in LEVEL_NAMES if n not in present)

    def level_of(self, name: str) -> int:
        return [n for n, _, _ in self.levels].index(name)


def geometry_for(arch) -> PgtableGeometry:
    if arch.name == "x86_64":
        if arch.la57:
            return PgtableGeometry((("pgd", 48, 512), ("p4d", 39, 512), ("pud", 30, 512), ("pmd", 21, 512),
                                    ("pte", 12, 512)))
        return PgtableGeometry((("pgd", 39, 512), ("pud", 30, 512), ("pmd", 21, 512), ("pte", 12, 512)))
    if arch.name == "i386":
        if arch.pae:
            return PgtableGeometry((("pgd", 30, 4), ("pmd", 21, 512), ("pte", 12, 512)))
        return PgtableGeometry((("pgd", 22, 1024), ("pte", 12, 1024)), entry_bytes=4)
    shift = arch.page_shift
    per = 1 << (shift - 3)
    names = ["pte", "pmd", "pud", "pgd"]
    levels, s = [], shift
    while s < arch.va_bits:
        levels.append((names[len(levels)], s, min(per, 1 << (arch.va_bits - s))))
        s += shift - 3
    levels[-1] = ("pgd",) + levels[-1][1:]
    return PgtableGeometry(tuple(reversed(levels)))


# ---- the compiled state -------------------------------------------------------------------

VMSTATE_FIELDS = [
    ("pt", np.uint64, 2),  # the table pool: one row per page-table page
    ("pt_pfn", np.int64, 1),  # the page backing each row
    ("pt_used", np.int64, 1),  # non-empty entries per row (!pte_none: an empty table can be freed)
    ("pt_huge_pte", np.int64, 1),  # on a PMD table: the last pte table deposited for its huge pmds, -1 none
    ("pt_deposit_next", np.int64, 1),  # on a deposited pte table: the one deposited before it, -1 none
    ("pt_free", np.int64, 1),  # stack of free rows
    ("shift", np.int64, 1),  # per hardware level, top first
    ("nent", np.int64, 1),  # entries per table at each level
    ("vp", np.int64, 1),  # scalars (VP_*)
    ("ac", np.int64, 2),  # allocation contexts (AC_*): zonelist node, highest zone, mt, flags...
    ("zonelists", np.int64, 2),
    ("vm_events", np.int64, 1),  # the vm events (enum vm_event_item), shared with MemMap: k.vm_events
    ("memcg_vm_events", np.int64, 2),  # MemMap.memcg_vm_events: the vm events per memcg id
    ("nstat", np.int64, 2),  # the node counters (enum node_stat_item order, NS_*), per node
    # swap (mm/swapfile.py): the swap_map of every swap area, one pool of slots; area ``type``
    # starts at swap_base[type] (-1: no area of that type). swap_table is 6.18's swap table of
    # each slot (the swap cache): the pfn of the folio cached for the slot, 0 for none;
    # swap_cgroup the memcg each slot is charged to (mm/memcontrol.py).
    ("swap_map", np.int16, 1),
    ("swap_table", np.int64, 1),
    ("swap_cgroup", np.int32, 1),  # per slot: the memcg id its swap charge is on (swap_cgroup_record; 0: none)
    ("swap_base", np.int64, 1),
    # per slot: the data written to it (``buddy.CONTENT_LINES`` lines each, as ``content`` of a
    # page) and which lines hold any; per area type: 1 if its reads complete at once
    # (SWP_SYNCHRONOUS_IO: zram), which the compiled swap-in serves itself
    ("swap_content", np.uint8, 2),
    ("swap_content_valid", np.uint8, 1),
    ("swap_sync_io", np.int8, 1),
    # per cluster of the pool (each area starts a cluster): its slots in use (``ci->count``:
    # a nonzero swap_map, the header, the slots past the area's end), kept as slots are taken
    # and freed, so that the cluster lists follow without a scan of the swap map
    ("swap_ci_count", np.int32, 1),
    # per cluster of the pool: its ``swap_cluster_info`` (CI_* columns; the links index the
    # clusters of its own area); zram, per slot: whether zsmalloc holds its data, and each area's
    # part of the pool the stack of zsmalloc's pages (mm/page_io.py)
    ("swap_cluster_info", np.int64, 2),
    ("swap_zs_stored", np.uint8, 1),
    ("swap_zs_pages", np.int64, 1),
    # swap_globals' arrays (include/linux/swap.py): per area type its scalars (SI_*), its cluster
    # list heads and zram's compression ratio; the priority lists (PLIST_*) and
    # percpu_swap_cluster [cpu, order, PCP_SWAP_*]
    ("swap_si", np.int64, 2),
    ("swap_cluster_lists", np.int64, 3),
    ("swap_zs_ratio", np.float64, 1),
    ("swap_plists", np.int64, 2),
    ("percpu_swap_cluster", np.int64, 3),
]

VP_NFREE, VP_LEVELS, VP_PTRS, VP_ZERO_PFN, VP_HUGE_ZERO_PFN, VP_THP, VP_PMD_LEVEL, VP_CPU = 0, 1, 2, 3, 4, 5, 6, 7
VP_LOCAL_NID, VP_ENTRY_BYTES, VP_HUGE_ZERO_WANTED, VP_PAGEFAULT_DISABLED = 8, 9, 10, 11
VP_FLUSH_PENDING = 12  # the fault replaced a present entry of its address: flush its TLB entries
VP_SWP_FMT = 13  # how a swap entry sits in a pte (SWP_FMT_*)
# an allocation the fast path could not serve: its context (AC_*) for the slow path in Python;
# what the slow path got (a pfn, NO_PAGE or SLOWPATH_FAILED) and the context it is for
VP_SLOW_CTX, VP_SLOW_PFN, VP_SLOW_FOR = 14, 15, 16
VP_SOFT_DIRTY = 17  # _PAGE_SOFT_DIRTY with CONFIG_MEM_SOFT_DIRTY, else 0 (the bit does not exist)
VP_FAULT_AROUND_PAGES = 18  # mm/memory.c's fault_around_pages (debugfs fault_around_bytes >> PAGE_SHIFT)
VP_FAULT_MAJOR = 19  # the retried fault waited for I/O in Python: it counts as a major fault
VP_NR_SWAP_PAGES = 20  # the free swap slots of every area (the kernel's atomic nr_swap_pages)
VP_SWAPIN_FAULTS = 21  # major faults a batch completed itself (zram swap-ins): the clock charges them as faults
# the allocation contexts (bit 1 << AC_*) whose __alloc_pages_slowpath would wake no kswapd
# this batch (page_alloc.slowpath_wakes_nothing): their first slow-path attempt runs compiled
VP_SLOW_NOWAKE = 22
# the fault is GUP's FAULT_FLAG_UNSHARE (mm/gup.py): break COW of a read-only entry so that a
# R/O pin sees the page the process will see; the entry stays read-only
VP_FAULT_UNSHARE = 23
# a swap slot was freed (or an area set up) since swap_sync_avail last synced the cluster
# lists: without one, no cluster's count fell and the areas' in-use counts are current
VP_SWAP_FREED = 24
NR_VP = 25
FAULT_AROUND_BYTES_DEFAULT = 65536  # rounddown_pow_of_two(65536)
NO_PAGE, SLOWPATH_FAILED = -1, -2
THP_NEVER, THP_MADVISE, THP_ALWAYS = 0, 1, 2
# allocation contexts: rows of ac
AC_USER, AC_PGTABLE, AC_THP, AC_SWAPIN = 0, 1, 2, 3
AC_NID, AC_HIGHEST, AC_MT, AC_FAST, AC_COMP, AC_GFP, AC_ORDER = 0, 1, 2, 3, 4, 5, 6
AC_SLOW = 7  # the slow path's alloc_flags (gfp_to_alloc_flags: the MIN watermark)
NR_AC = 8
AC_NAMES = ("user page", "page table", "THP", "swap-in page")
# node counters: columns of nstat in enum node_stat_item order (the kernel's pgdat->vm_stat)
NS_ANON_MAPPED, NS_ANON_THPS, NS_PAGETABLE, NS_SHMEM, NS_FILE_MAPPED, NS_FILE_PAGES, NS_SWAPCACHE = (
    NODE_STAT_ITEM[item] for item in ("NR_ANON_MAPPED", "NR_ANON_THPS", "NR_PAGETABLE", "NR_SHMEM",
                                       "NR_FILE_MAPPED", "NR_FILE_PAGES", "NR_SWAPCACHE"))
NS_FILE_PMDMAPPED, NS_SHMEM_PMDMAPPED, NS_FILE_DIRTY, NS_DIRTIED = (
    NODE_STAT_ITEM[item] for item in ("NR_FILE_PMDMAPPED", "NR_SHMEM_PMDMAPPED", "NR_FILE_DIRTY", "NR_DIRTIED"))


class VmState(CompiledStruct, fields=VMSTATE_FIELDS):
    """Page-table pool and fault-path parameters of one machine (Python and compiled views)."""


# ---- entries ----------------------------------------------------------------------------


def pte_val(entry) -> np.uint64:
    """``pte_val``: an entry as the 64-bit word the compiled helpers take. Compiled code hands
    entries back to Python as ints; with NX (bit 63, every mapping without PROT_EXEC) set one
    no longer fits the int64 a compiled helper may already be specialised for (OverflowError),
    so each entry that crosses back into Python goes on through this."""
    return np.uint64(entry)


@njit(cache=True)
def pte_pfn(entry):
    return np.int64((entry & np.uint64(PTE_PFN_MASK)) >> np.uint64(12))


@njit(cache=True)
def mk_entry(pfn, bits):
    return np.uint64(pfn << 12) | np.uint64(bits)


@njit(cache=True)
def entry_present(entry):
    return (entry & np.uint64(_PAGE_PRESENT)) != 0


@njit(cache=True)
def entry_has(entry, bit):
    return (entry & np.uint64(bit)) != 0


@njit(cache=True)
def pt_index(vs, level, addr):
    """``pgd_index``/``pud_index``/.../``pte_index`` for hardware level ``level``."""
    return (addr >> vs.shift[level]) & (vs.nent[level] - 1)


# ---- entries that are not present: swap entries (include/linux/swapops.h, 6.18) ------------
#
# pte_none: nothing at all (x86 ignores A/D, which a KNL erratum may set on empty entries);
# pte_present: the MMU's present bit, or PROT_NONE (the entry still maps its page);
# anything else is a swap pte: a swp_entry_t stored in the arch's format. Its type says what it
# is: below MAX_SWAPFILES a slot in swap area ``type``; above it the reserved types: migration
# entries (the page is being moved; the offset is its pfn), PTE markers (a guard region, a
# poisoned page, uffd-wp), and with CONFIG_MEMORY_FAILURE / CONFIG_DEVICE_PRIVATE hwpoison and
# device-private entries. swp_entry_t is kept here in the 64-bit arch-independent layout (type
# in the top bits above SWP_TYPE_SHIFT); a 32-bit kernel packs the same type and offset lower.

_PAGE_KNL_ERRATUM_MASK = _PAGE_DIRTY | _PAGE_ACCESSED
# arch/x86/include/asm/pgtable_64.h: | TYPE (59-63) | ~OFFSET (9-58) | 0 | 0 | X | X | X | E | F | SD | 0 |
# the offset is stored inverted (L1TF): the "pfn" bits of a swap pte point far above any RAM.
SWP_TYPE_BITS = 5
SWP_OFFSET_FIRST_BIT = 9  # _PAGE_BIT_PROTNONE + 1
SWP_OFFSET_SHIFT = SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS
_PAGE_SWP_UFFD_WP = _PAGE_USER  # F
_PAGE_SWP_EXCLUSIVE = _PAGE_PWT  # E: PG_anon_exclusive remembered across swap-out
# pgtable-3level.h (PAE) stores the same 64-bit format; pgtable-2level.h (32-bit entries) keeps
# the type in bits 1-5 and the offset, not inverted, from bit 9; both borrow bit 7 for E.
_SWP_TYPE_SHIFT_2LEVEL = 1  # _PAGE_BIT_PRESENT + 1
_PAGE_SWP_EXCLUSIVE_32 = _PAGE_PSE
SWP_FMT_64, SWP_FMT_PAE, SWP_FMT_2LEVEL = 0, 1, 2

SWP_MIGRATION_READ = MAX_SWAPFILES + SWP_HWPOISON_NUM
SWP_MIGRATION_READ_EXCLUSIVE = SWP_MIGRATION_READ + 1
SWP_MIGRATION_WRITE = SWP_MIGRATION_READ + 2
SWP_PTE_MARKER = MAX_SWAPFILES + SWP_HWPOISON_NUM + SWP_MIGRATION_NUM + SWP_DEVICE_NUM
SWP_TYPE_SHIFT = 63 - MAX_SWAPFILES_SHIFT  # BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT
SWP_OFFSET_MASK = (1 << SWP_TYPE_SHIFT) - 1
SWP_PFN_BITS = 52 - 12  # MAX_PHYSMEM_BITS (5-level) - PAGE_SHIFT: a migration entry's pfn
PTE_MARKER_UFFD_WP, PTE_MARKER_POISONED, PTE_MARKER_GUARD = 1 << 0, 1 << 1, 1 << 2
PTE_MARKER_MASK = (1 << 3) - 1
# what an entry is, for the walkers (walk_page_range's callers dispatch on it)
PTE_KIND_NONE, PTE_KIND_PRESENT, PTE_KIND_SWAP, PTE_KIND_MIGRATION, PTE_KIND_MARKER = 0, 1, 2, 3, 4


def swp_format(arch, geo: PgtableGeometry) -> int:
    if geo.entry_bytes == 4:
        return SWP_FMT_2LEVEL
    return SWP_FMT_64 if arch.is_64bit else SWP_FMT_PAE


@njit(cache=True)
def pte_none(pte):
    return (pte & ~np.uint64(_PAGE_KNL_ERRATUM_MASK)) == 0


@njit(cache=True)
def pte_present(pte):
    return (pte & np.uint64(_PAGE_PRESENT | _PAGE_PROTNONE)) != 0


@njit(cache=True)
def is_leaf_entry(entry):
    """An upper-level entry that stands for memory itself, not for a table below: a huge page
    (PSE), or what replaced one (PROT_NONE, a migration entry). Only a present entry without
    PSE links a table."""
    return not pte_none(entry) and (not entry_present(entry) or entry_has(entry, _PAGE_PSE))


@njit(cache=True)
def is_swap_pte(pte):
    return not pte_none(pte) and not pte_present(pte)


@njit(cache=True)
def swp_entry(type_, offset):
    return (np.uint64(type_) << np.uint64(SWP_TYPE_SHIFT)) | (np.uint64(offset) & np.uint64(SWP_OFFSET_MASK))


@njit(cache=True)
def swp_type(entry):
    return np.int64(entry >> np.uint64(SWP_TYPE_SHIFT))


@njit(cache=True)
def swp_offset(entry):
    return np.int64(entry & np.uint64(SWP_OFFSET_MASK))


@njit(cache=True)
def pte_to_swp_entry(pte, fmt):
    """The swp_entry_t a swap pte holds (the E/F/SD flag bits lie outside type and offset)."""
    if fmt == SWP_FMT_2LEVEL:
        return swp_entry((pte >> np.uint64(_SWP_TYPE_SHIFT_2LEVEL)) & np.uint64((1 << SWP_TYPE_BITS) - 1),
                         (pte & np.uint64(0xFFFFFFFF)) >> np.uint64(SWP_OFFSET_FIRST_BIT))
    return swp_entry(pte >> np.uint64(64 - SWP_TYPE_BITS),
                     (~pte << np.uint64(SWP_TYPE_BITS)) >> np.uint64(SWP_OFFSET_SHIFT))


@njit(cache=True)
def swp_entry_to_pte(entry, fmt):
    type_, offset = np.uint64(swp_type(entry)), np.uint64(swp_offset(entry))
    if fmt == SWP_FMT_2LEVEL:
        return (type_ << np.uint64(_SWP_TYPE_SHIFT_2LEVEL)) | (offset << np.uint64(SWP_OFFSET_FIRST_BIT))
    return ((~offset << np.uint64(SWP_OFFSET_SHIFT)) >> np.uint64(SWP_TYPE_BITS)) | \
        (type_ << np.uint64(64 - SWP_TYPE_BITS))


@njit(cache=True)
def pte_swp_exclusive_bit(fmt):
    return np.uint64(_PAGE_SWP_EXCLUSIVE if fmt == SWP_FMT_64 else _PAGE_SWP_EXCLUSIVE_32)


@njit(cache=True)
def non_swap_entry(entry):
    return swp_type(entry) >= MAX_SWAPFILES


@njit(cache=True)
def is_migration_entry(entry):
    return SWP_MIGRATION_READ <= swp_type(entry) <= SWP_MIGRATION_WRITE


@njit(cache=True)
def is_writable_migration_entry(entry):
    return swp_type(entry) == SWP_MIGRATION_WRITE


@njit(cache=True)
def make_readable_migration_entry(offset):
    return swp_entry(SWP_MIGRATION_READ, offset)


@njit(cache=True)
def make_readable_exclusive_migration_entry(offset):
    return swp_entry(SWP_MIGRATION_READ_EXCLUSIVE, offset)


@njit(cache=True)
def make_writable_migration_entry(offset):
    return swp_entry(SWP_MIGRATION_WRITE, offset)


@njit(cache=True)
def swp_offset_pfn(entry):
    """The pfn a migration entry stands for."""
    return swp_offset(entry) & ((np.int64(1) << SWP_PFN_BITS) - 1)


@njit(cache=True)
def is_pte_marker_entry(entry):
    return swp_type(entry) == SWP_PTE_MARKER


@njit(cache=True)
def pte_marker_get(entry):
    return swp_offset(entry) & PTE_MARKER_MASK


@njit(cache=True)
def make_pte_marker(marker, fmt):
    return swp_entry_to_pte(swp_entry(SWP_PTE_MARKER, marker), fmt)


@njit(cache=True)
def is_pte_marker(pte, fmt):
    return is_swap_pte(pte) and is_pte_marker_entry(pte_to_swp_entry(pte, fmt))


@njit(cache=True)
def pte_kind(pte, fmt):
    """PTE_KIND_*: what the entry is (the reserved types of this config are migration and marker)."""
    if pte_none(pte):
        return PTE_KIND_NONE
    if pte_present(pte):
        return PTE_KIND_PRESENT
    entry = pte_to_swp_entry(pte, fmt)
    if not non_swap_entry(entry):
        return PTE_KIND_SWAP
    if is_migration_entry(entry):
        return PTE_KIND_MIGRATION
    return PTE_KIND_MARKER


# ---- the Python face ---------------------------------------------------------------------

def thp_mode(k) -> int:
    """The kernel's one THP policy (``mm/huge_memory.py``) as the compiled fault path reads it."""
    return {"never": THP_NEVER, "madvise": THP_MADVISE, "always": THP_ALWAYS}[k.transparent_hugepage_flags]


# ---- THP deposits (mm/pgtable-generic.c) -------------------------------------------------


@njit(cache=True)
def pgtable_trans_huge_deposit(vs, pmd_row, pgtable):
    """Keep pte table ``pgtable`` on the PMD table ``pmd_row`` for a later split of one of its
    huge pmds (the kernel's list on ``pmd_huge_pte``: the last deposited is withdrawn first)."""
    vs.pt_deposit_next[pgtable] = vs.pt_huge_pte[pmd_row]
    vs.pt_huge_pte[pmd_row] = pgtable


@njit(cache=True)
def pgtable_trans_huge_withdraw(vs, pmd_row):
    """Take back a deposited pte table from PMD table ``pmd_row`` (-1 if it holds none)."""
    pgtable = vs.pt_huge_pte[pmd_row]
    if pgtable >= 0:
        vs.pt_huge_pte[pmd_row] = vs.pt_deposit_next[pgtable]
        vs.pt_deposit_next[pgtable] = -1
    return pgtable
