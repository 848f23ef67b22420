"""``/proc/PID/maps``, ``smaps`` and ``smaps_rollup`` (``fs/proc/task_mmu.c``), Linux 6.18, x86-64.

``show_map_vma`` prints ``start-end perms offset major:minor inode`` (``%08lx``, the offset
and device only for file mappings) and, for named VMAs, pads the line to 72 columns and a
space so the name starts at column 73 (``seq_setwidth``/``seq_pad``); unnamed anonymous lines
end with the space after the inode. Names: the file's path (``/dev/zero (deleted)`` for
shared anonymous memory), ``[heap]`` for a VMA overlapping [start_brk, brk), ``[stack]`` for
the one containing ``start_stack``, ``[anon:NAME]`` for anonymous memory named with
prctl(PR_SET_VMA_ANON_NAME) (``[anon_shmem:NAME]`` when shared).

The smaps blocks take their counters (kB) from the caller, who walks the page tables:
``show_smap_vma`` renders one VMA as ``show_smap`` does, ``show_smaps_rollup`` the sum. Value
lines are ``SEQ_PUT_DEC``: a 16-column label, ``%8lu`` and `` kB`` — except
``Private_Hugetlb:``, whose label has 17 columns and its value 7 (the kernel's own quirk).
``ProtectionKey`` appears only when the counters carry one (x86 with PKU enabled prints it).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ...errors import KernelError
from ...mm import pgtable as P

from ...include.linux.page_flags import PG_referenced
from ...mm.pagewalk import WALK_DONE, walk_next, walk_page_range
from ...mm.pgtable import _PAGE_ACCESSED, _PAGE_RW, _PAGE_SOFT_DIRTY, _PAGE_SPECIAL, PTE_KIND_PRESENT, pte_pfn
from ...include.linux.mm_types import (
    PAGE_SIZE, ULONG_MAX, VM_EXEC, VM_MAYSHARE, VM_PFNMAP, VM_READ, VM_SOFTDIRTY, VM_WRITE, mm_struct,
    vm_area_struct, vmas_in_range)

SMAP_WIDTH = 25 + 8 * 6 - 1  # seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)
GATE_VMA = (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000)  # [vsyscall], vsyscall=xonly

# show_smap_vma_flags: two letters per bit, printed in bit order (x86-64, 6.18)
MNEMONICS = {
    0: "rd", 1: "wr", 2: "ex", 3: "sh", 4: "mr", 5: "mw", 6: "me", 7: "ms", 8: "gd", 9: "um",
    10: "pf", 11: "gu", 12: "uw", 13: "lo", 14: "io", 15: "sr", 16: "rr", 17: "dc", 18: "de", 19: "lf",
    20: "ac", 21: "nr", 22: "ht", 23: "sf", 24: "ar", 25: "wf", 26: "dd", 27: "sd", 28: "mm",
    29: "hg", 30: "nh", 31: "mg", 32: "", 33: "", 34: "", 35: "",  # pkey bits: ProtectionKey
    37: "ss", 40: "dp", 41: "ui", 42: "sl",
}
SMAP_FIELDS = ("Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean",
               "Private_Dirty", "Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
               "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap",
               "SwapPss", "Locked")
ROLLUP_ONLY = ("Pss_Anon", "Pss_File", "Pss_Shmem")  # after Pss_Dirty, in smaps_rollup only


def show_vma_header_prefix(start: int, end: int, flags: int, pgoff: int, dev: tuple[int, int],
                           ino: int) -> str:
    perms = "".join(c if flags & bit else "-" for c, bit in (("r", VM_READ), ("w", VM_WRITE), ("x", VM_EXEC)))
    perms += "s" if flags & VM_MAYSHARE else "p"
    return f"{start:08x}-{end:08x} {perms} {pgoff:08x} {dev[0]:02x}:{dev[1]:02x} {ino} "


def vma_is_initial_heap(mm: mm_struct, vma: vm_area_struct) -> bool:
    return vma.vm_start < mm.brk and vma.vm_end > mm.start_brk


def vma_is_initial_stack(mm: mm_struct, vma: vm_area_struct) -> bool:
    return vma.vm_start <= mm.start_stack <= vma.vm_end


def get_vma_name(mm: mm_struct, vma: vm_area_struct) -> str | None:
    """The file's path, else [heap] or [stack], else the name prctl(PR_SET_VMA_ANON_NAME)
    gave it: ``[anon:NAME]`` (``[anon_shmem:NAME]`` for shared anonymous memory)."""
    if vma.vm_file is not None:
        return vma.vm_file.name if vma.anon_name is None else f"[anon_shmem:{vma.anon_name}]"
    if vma_is_initial_heap(mm, vma):
        return "[heap]"
    if vma_is_initial_stack(mm, vma):
        return "[stack]"
    return None if vma.anon_name is None else f"[anon:{vma.anon_name}]"


def seq_pad(line: str, name: str | None) -> str:
    return line if name is None else f"{line:<{SMAP_WIDTH}} {name}"


def show_map_vma(mm: mm_struct, vma: vm_area_struct) -> str:
    """One line of /proc/PID/maps, with its newline."""
    f = vma.vm_file
    dev, ino, pgoff = (f.dev, f.id, vma.vm_pgoff * PAGE_SIZE) if f is not None else ((0, 0), 0, 0)
    prefix = show_vma_header_prefix(vma.vm_start, vma.vm_end, vma.vm_flags, pgoff, dev, ino)
    return seq_pad(prefix, get_vma_name(mm, vma)) + "\n"


def show_gate_vma() -> str:
    return seq_pad(show_vma_header_prefix(*GATE_VMA, VM_EXEC, 0, (0, 0), 0), "[vsyscall]") + "\n"


def show_maps(mm: mm_struct, gate: bool = False) -> str:
    """/proc/PID/maps; ``gate`` adds the [vsyscall] line real x86-64 processes end with."""
    return "".join(show_map_vma(mm, vma) for vma in mm.vmas) + (show_gate_vma() if gate else "")


def seq_put_dec(label: str, kb: int) -> str:
    """``SEQ_PUT_DEC``: the label padded to 16 columns, the value right-aligned in 8."""
    if label == "Private_Hugetlb:":
        return f"{label} {kb:7d} kB\n"
    return f"{label:<16}{kb:8d} kB\n"


def __show_smap(counters: dict, rollup: bool) -> str:
    names = SMAP_FIELDS[:3] + (ROLLUP_ONLY if rollup else ()) + SMAP_FIELDS[3:]
    return "".join(seq_put_dec(f"{name}:", int(counters.get(name, 0))) for name in names)


def show_smap_vma_flags(mm: mm_struct, vma: vm_area_struct) -> str:
    flags = vma.vm_flags if mm.config.mem_soft_dirty else vma.vm_flags & ~VM_SOFTDIRTY
    codes = [MNEMONICS.get(bit, "??") for bit in range(64) if flags >> bit & 1]
    return "VmFlags: " + "".join(f"{c} " for c in codes if c) + "\n"


def show_smap_vma(mm: mm_struct, vma: vm_area_struct, counters: dict) -> str:
    """One VMA's /proc/PID/smaps block from its counters in kB (missing ones print 0)."""
    size = counters.get("Size", (vma.vm_end - vma.vm_start) >> 10)
    out = [show_map_vma(mm, vma), seq_put_dec("Size:", size),
           seq_put_dec("KernelPageSize:", counters.get("KernelPageSize", PAGE_SIZE >> 10)),
           seq_put_dec("MMUPageSize:", counters.get("MMUPageSize", PAGE_SIZE >> 10)),
           __show_smap(counters, False), f"THPeligible:    {int(counters.get('THPeligible', 0)):8d}\n"]
    if "ProtectionKey" in counters:
        out.append(f"ProtectionKey:  {int(counters['ProtectionKey']):8d}\n")
    out.append(show_smap_vma_flags(mm, vma))
    return "".join(out)


def show_smaps_rollup(mm: mm_struct, counters: dict) -> str:
    """/proc/PID/smaps_rollup: one header spanning all VMAs, then the summed counters."""
    start = mm.vmas[0].vm_start if mm.vmas else 0
    end = mm.vmas[-1].vm_end if mm.vmas else 0
    header = seq_pad(show_vma_header_prefix(start, end, 0, 0, (0, 0), 0), "[rollup]") + "\n"
    return header + __show_smap(counters, True)


# ---- the files of a simulated process -------------------------------------------------------


def proc_pid_maps(k, task) -> str:
    return show_maps(task.mm)


def _thp_eligible(k, vma) -> int:
    from ...include.linux.huge_mm import thp_vma_allowable

    return int(thp_vma_allowable(k, vma))


def proc_pid_smaps(k, task) -> str:
    from ...process import smaps_counters

    out = []
    for vma in task.mm.vmas:
        counters = smaps_counters(k, task, [(vma.vm_start, vma.vm_end, vma)])
        counters["THPeligible"] = _thp_eligible(k, vma)
        out.append(show_smap_vma(task.mm, vma, counters))
    return "".join(out)


def proc_pid_smaps_rollup(k, task) -> str:
    from ...process import smaps_counters

    return show_smaps_rollup(task.mm, smaps_counters(k, task, [(v.vm_start, v.vm_end, v) for v in task.mm.vmas]))


def proc_pid_status(k, task) -> str:
    """The memory part of /proc/PID/status (``task_mem``), after Name/State/Pid."""
    from ...mm import memory as M

    kb = 4
    mm = task.mm
    anon, shmem = int(task.mmc[M.MM_ANONPAGES]), int(task.mmc[M.MM_SHMEMPAGES])
    rss = anon + shmem + int(task.mmc[M.MM_FILEPAGES])
    rows = [("VmPeak", max(mm.hiwater_vm, mm.total_vm)), ("VmSize", mm.total_vm), ("VmLck", mm.locked_vm),
            ("VmPin", mm.pinned_vm), ("VmHWM", rss), ("VmRSS", rss), ("RssAnon", anon),
            ("RssFile", int(task.mmc[M.MM_FILEPAGES])), ("RssShmem", shmem),
            ("VmData", mm.data_vm), ("VmStk", mm.stack_vm), ("VmExe", mm.exec_vm), ("VmLib", 0)]
    lines = [f"Name:\t{task.comm}", "State:\tR (running)", f"Pid:\t{task.pid}"]
    lines += [f"{name}:\t{pages * kb:8d} kB" for name, pages in rows]
    lines.append(f"VmPTE:\t{int(task.mmc[M.MMC_PGTABLES_BYTES]) >> 10:8d} kB")
    lines.append(f"VmSwap:\t{int(task.mmc[M.MM_SWAPENTS]) * kb:8d} kB")
    lines.append(f"HugetlbPages:\t{0:8d} kB")
    lines.append("THP_enabled:\t1")
    return "\n".join(lines) + "\n"


# ---- /proc/PID/pagemap (pagemap_read) ------------------------------------------------------
# One u64 per virtual page: bits 0-54 the PFN of a present page (for a swap entry: the swap
# type in bits 0-4 and the offset above), then the PM_* flags. PFNs are shown to readers with
# CAP_SYS_ADMIN only (pm->show_pfn); the simulator's reader is that privileged one.
PM_PFRAME_BITS = 55
PM_PFRAME_MASK = (1 << PM_PFRAME_BITS) - 1
PM_SOFT_DIRTY = 1 << 55
PM_MMAP_EXCLUSIVE = 1 << 56
PM_UFFD_WP = 1 << 57
PM_GUARD_REGION = 1 << 58
PM_FILE = 1 << 61
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63
PM_ENTRY_BYTES = 8


def make_pme(frame: int, flags: int) -> int:
    return (frame & PM_PFRAME_MASK) | flags


def _page_flags(k, pfn: int, mapcount: int) -> int:
    """PM_FILE and PM_MMAP_EXCLUSIVE for a mapped (non-zero) page."""
    from ...mm.memory import PAGE_MAPPING_ANON
    from ...mm.buddy import compound_head

    a = k.mem_map
    flags = 0 if a.mapping[compound_head(a, pfn)] & PAGE_MAPPING_ANON else PM_FILE
    return flags | (PM_MMAP_EXCLUSIVE if mapcount == 1 else 0)


def _mapcount(k, pfn: int, pmd_mapped: bool) -> int:
    """``folio_precise_page_mapcount``: the page's own mappings plus the folio's PMD ones."""
    from ...mm.buddy import compound_head
    from ...mm.memory import folio_entire_mapcount

    a = k.mem_map
    entire = int(folio_entire_mapcount(a, compound_head(a, pfn)))
    return entire if pmd_mapped else int(a.mapcount[pfn]) + entire


def pte_to_pagemap_entry(k, vma, entry: np.uint64, level: int, addr: int) -> int:
    """One page's entry from the leaf ``entry`` mapping it at ``level`` (PTE or huge PMD)."""
    from ...mm import pgtable as P

    vs = k.vm_state
    leaf = level == int(vs.vp[P.VP_LEVELS]) - 1
    soft_dirty = PM_SOFT_DIRTY if vma.vm_flags & VM_SOFTDIRTY else 0
    kind = int(P.pte_kind(entry, vs.vp[P.VP_SWP_FMT]))
    if kind == P.PTE_KIND_NONE:
        return make_pme(0, soft_dirty)  # pagemap_pte_hole
    if entry & P._PAGE_SOFT_DIRTY:  # only set with CONFIG_MEM_SOFT_DIRTY (the fault path's mask)
        soft_dirty = PM_SOFT_DIRTY
    if kind == P.PTE_KIND_PRESENT:
        pfn = int(P.pte_pfn(entry)) + ((addr & ((1 << int(vs.shift[level])) - 1)) >> 12)
        flags = PM_PRESENT | soft_dirty
        if not entry & P._PAGE_SPECIAL:  # vm_normal_page: the zero page has no struct page here
            flags |= _page_flags(k, pfn, _mapcount(k, pfn, not leaf))
        return make_pme(pfn, flags)
    swp = int(P.pte_to_swp_entry(entry, vs.vp[P.VP_SWP_FMT]))
    flags = PM_SWAP | soft_dirty
    if kind == P.PTE_KIND_MARKER:
        marker = int(P.pte_marker_get(np.uint64(swp)))
        flags |= (PM_GUARD_REGION if marker & P.PTE_MARKER_GUARD else 0) | \
            (PM_UFFD_WP if marker & P.PTE_MARKER_UFFD_WP else 0)
        return make_pme(int(P.swp_type(swp)) | (int(P.swp_offset(swp)) << P.MAX_SWAPFILES_SHIFT), flags)
    if kind == P.PTE_KIND_MIGRATION:
        pfn = int(P.swp_offset_pfn(swp))
        return make_pme(int(P.swp_type(swp)) | (pfn << P.MAX_SWAPFILES_SHIFT),
                        flags | _page_flags(k, pfn, _mapcount(k, pfn, not leaf)))
    return make_pme(int(P.swp_type(swp)) | (int(P.swp_offset(swp)) << P.MAX_SWAPFILES_SHIFT), flags)


def pagemap_read(k, task, addr: int, npages: int) -> list[int]:
    """``pagemap_read`` of ``npages`` entries from the page holding ``addr``: 0 outside every
    VMA, else what ``pte_to_pagemap_entry`` makes of the page tables."""
    from ...include.linux.mm_types import find_vma
    from ...kernel.fork import ensure_tables
    from ...mm.memory import MMC_PGD, lookup_pte

    ensure_tables(k)
    pgd, out = int(task.mmc[MMC_PGD]), []
    start = addr & ~(PAGE_SIZE - 1)
    for va in range(start, start + npages * PAGE_SIZE, PAGE_SIZE):
        vma = find_vma(task.mm, va)
        if vma is None or vma.vm_start > va:
            out.append(0)
            continue
        entry, level = lookup_pte(k.mem_map, k.vm_state, pgd, va)
        out.append(pte_to_pagemap_entry(k, vma, P.pte_val(entry), int(level), va))
    return out


# ---- the PAGEMAP_SCAN ioctl of /proc/PID/pagemap (do_pagemap_scan) ------------------------------
# include/uapi/linux/fs.h: the categories a page may be in, and the scan's flags
PAGE_IS_WPALLOWED, PAGE_IS_WRITTEN, PAGE_IS_FILE, PAGE_IS_PRESENT = 1 << 0, 1 << 1, 1 << 2, 1 << 3
PAGE_IS_SWAPPED, PAGE_IS_PFNZERO, PAGE_IS_HUGE, PAGE_IS_SOFT_DIRTY, PAGE_IS_GUARD = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
PM_SCAN_CATEGORIES = (1 << 9) - 1
PAGE_IS_NAMES = {"wpallowed": PAGE_IS_WPALLOWED, "written": PAGE_IS_WRITTEN, "file": PAGE_IS_FILE,
                 "present": PAGE_IS_PRESENT, "swapped": PAGE_IS_SWAPPED, "pfnzero": PAGE_IS_PFNZERO,
                 "huge": PAGE_IS_HUGE, "soft_dirty": PAGE_IS_SOFT_DIRTY, "guard": PAGE_IS_GUARD}
PM_SCAN_WP_MATCHING, PM_SCAN_CHECK_WPASYNC = 1 << 0, 1 << 1
PM_SCAN_FLAGS = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC
PM_SCAN_NAMES = {"wp_matching": PM_SCAN_WP_MATCHING, "check_wpasync": PM_SCAN_CHECK_WPASYNC}
PAGE_REGION_BYTES = 24  # struct page_region: start, end, categories


@dataclass
class pm_scan_arg:
    """``struct pm_scan_arg`` (without ``size`` and ``vec``: the Python call has no buffer
    pointers; ``vec_len`` is how many page_regions the caller takes)."""
    flags: int
    start: int
    end: int
    vec_len: int
    max_pages: int
    category_inverted: int
    category_mask: int
    category_anyof_mask: int
    return_mask: int
    walk_end: int = 0


@dataclass
class pagemap_scan_private:
    """The scan's state: its arguments, the current VMA's categories, the regions found
    (``vec_buf``: the last one may still grow) and the pages they hold. (The kernel's
    ``masks_of_interest`` only saves looking up a page's folio for PAGE_IS_FILE.)"""
    arg: pm_scan_arg
    cur_vma_category: int = 0
    vec_buf: list = field(default_factory=list)
    found_pages: int = 0


def pagemap_scan_get_args(mm: mm_struct, arg: pm_scan_arg) -> None:
    """Validate (EINVAL for unknown flags or categories and an unaligned start, EFAULT for a
    range or an output array that does not fit in user space) and fix up: the end rounded up
    to a page, no max_pages meaning no limit."""
    if arg.flags & ~PM_SCAN_FLAGS:
        raise KernelError(errno.EINVAL, f"PAGEMAP_SCAN: unknown flags {arg.flags & ~PM_SCAN_FLAGS:#x}")
    masks = arg.category_inverted | arg.category_mask | arg.category_anyof_mask | arg.return_mask
    if masks & ~PM_SCAN_CATEGORIES:
        raise KernelError(errno.EINVAL, f"PAGEMAP_SCAN: unknown categories {masks & ~PM_SCAN_CATEGORIES:#x}")
    if arg.start & (PAGE_SIZE - 1):
        raise KernelError(errno.EINVAL, f"PAGEMAP_SCAN: start {arg.start:#x} is not page aligned")
    if not access_ok(mm, arg.start, (arg.end - arg.start) & ULONG_MAX):
        raise KernelError(errno.EFAULT, f"PAGEMAP_SCAN: {arg.start:#x}-{arg.end:#x} is not a user range")
    if arg.vec_len * PAGE_REGION_BYTES > mm.task_size:
        raise KernelError(errno.EFAULT, f"PAGEMAP_SCAN: no user buffer holds {arg.vec_len} page_regions")
    arg.end = (arg.end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    arg.max_pages = arg.max_pages or ULONG_MAX


def access_ok(mm: mm_struct, addr: int, size: int) -> bool:
    """The range ends at or below TASK_SIZE_MAX and does not wrap (x86-64 ``__access_ok``)."""
    end = addr + size
    return end <= mm.task_size and end <= ULONG_MAX


def pagemap_scan_is_interesting_page(categories: int, p: pagemap_scan_private) -> bool:
    categories ^= p.arg.category_inverted
    if categories & p.arg.category_mask != p.arg.category_mask:
        return False
    return not p.arg.category_anyof_mask or bool(categories & p.arg.category_anyof_mask)


def pagemap_scan_test_walk(vma: vm_area_struct, p: pagemap_scan_private) -> bool:
    """Walk this VMA? No VMA has userfaultfd's asynchronous write protection here, so a scan
    that asks to write-protect skips every one (EPERM with PM_SCAN_CHECK_WPASYNC)."""
    if p.arg.flags & PM_SCAN_CHECK_WPASYNC:
        raise KernelError(errno.EPERM, "PAGEMAP_SCAN: the VMA is not registered for userfaultfd WP-async")
    if p.arg.flags & PM_SCAN_WP_MATCHING or vma.vm_flags & VM_PFNMAP:
        return False
    p.cur_vma_category = PAGE_IS_SOFT_DIRTY if vma.vm_flags & VM_SOFTDIRTY else 0
    # pagemap_scan_is_interesting_vma only asks for PAGE_IS_WPALLOWED, which no VMA has
    return not (p.arg.category_mask & PAGE_IS_WPALLOWED) or bool(p.arg.category_inverted & PAGE_IS_WPALLOWED)


def pagemap_scan_push_range(categories: int, p: pagemap_scan_private, addr: int, end: int) -> bool:
    """Grow the last region if ``addr`` continues it with the same categories, else start a
    new one (False when the caller's array is full)."""
    buf = p.vec_buf
    if buf and addr == buf[-1][1] and categories == buf[-1][2]:
        buf[-1][1] = end
        return True
    if len(buf) >= p.arg.vec_len:
        return False
    buf.append([addr, end, categories])
    return True


def pagemap_scan_output(categories: int, p: pagemap_scan_private, addr: int, end: int) -> int:
    """Record [addr, end) (cut at max_pages); the end actually recorded. Stopping early (no
    room, max_pages reached) sets ``walk_end`` there; no output array records nothing."""
    if not p.arg.vec_len:
        return end
    n_pages = (end - addr) // PAGE_SIZE
    full = p.found_pages + n_pages > p.arg.max_pages
    if full:
        n_too_much = p.found_pages + n_pages - p.arg.max_pages
        end -= n_too_much * PAGE_SIZE
        n_pages -= n_too_much
    if not pagemap_scan_push_range(categories & p.arg.return_mask, p, addr, end):
        end, n_pages, full = addr, 0, True
    p.found_pages += n_pages
    if full:
        p.arg.walk_end = end
    return end


def pagemap_page_category(k, vma: vm_area_struct, entry: np.uint64, level: int, addr: int) -> int:
    """The categories of the page at ``addr`` mapped by the leaf ``entry`` (pagemap_page_category,
    and pagemap_thp_category for a huge pmd: PAGE_IS_HUGE). No uffd-wp bit is ever set, so
    every entry is WRITTEN; on the host's 6.18 a none pte in a page table counts as written
    too (tests/data/host-linux-6.18/pagemap_scan_probe.txt), the pte holes do not."""
    pme = pte_to_pagemap_entry(k, vma, entry, level, addr)
    categories = PAGE_IS_WRITTEN | (PAGE_IS_SOFT_DIRTY if pme & PM_SOFT_DIRTY else 0)
    if level != int(k.vm_state.vp[P.VP_LEVELS]) - 1 and pme & (PM_PRESENT | PM_SWAP):
        categories |= PAGE_IS_HUGE
    if pme & PM_PRESENT:
        categories |= PAGE_IS_PRESENT | (PAGE_IS_FILE if pme & PM_FILE else 0)
        if is_zero_pfn(k, entry):
            categories |= PAGE_IS_PFNZERO
    elif pme & PM_SWAP:
        categories |= PAGE_IS_SWAPPED | (PAGE_IS_GUARD if pme & PM_GUARD_REGION else 0) | \
            (PAGE_IS_FILE if pme & PM_FILE else 0)
    return categories


def is_zero_pfn(k, entry: np.uint64) -> bool:
    """The shared zero page, or the huge zero page (``is_huge_zero_pmd``)."""
    pfn = int(P.pte_pfn(entry))
    vp = k.vm_state.vp
    return pfn in (int(vp[P.VP_ZERO_PFN]), int(vp[P.VP_HUGE_ZERO_PFN]))


def pagemap_scan_vma(k, task, vma: vm_area_struct, p: pagemap_scan_private, start: int, end: int) -> bool:
    """The pages of ``vma`` in [start, end), entry by entry; a hole in the page tables is one
    range with the VMA's categories (``pagemap_scan_pte_hole``). False once the scan stops."""
    from ...mm.memory import MMC_PGD, lookup_pte

    vs, pgd, leaf = k.vm_state, int(task.mmc[MMC_PGD]), int(k.vm_state.vp[P.VP_LEVELS]) - 1
    addr = start
    while addr < end:
        entry, level = lookup_pte(k.mem_map, vs, pgd, addr)
        entry, level = P.pte_val(entry), int(level)
        if entry == 0 and level != leaf:  # no table below this level
            nxt, categories = min(end, (addr | ((1 << int(vs.shift[level])) - 1)) + 1), p.cur_vma_category
        else:
            nxt, categories = addr + PAGE_SIZE, p.cur_vma_category | pagemap_page_category(k, vma, entry, level, addr)
        if pagemap_scan_is_interesting_page(categories, p) and pagemap_scan_output(categories, p, addr, nxt) != nxt:
            return False
        addr = nxt
    return True


def do_pagemap_scan(k, task, arg: pm_scan_arg) -> tuple[list[tuple[int, int, int]], int]:
    """The PAGEMAP_SCAN ioctl: the regions found in [start, end) (start, end, categories & the
    return mask), consecutive pages of the same categories in one; and ``walk_end``, where the
    walk stopped (the end unless the array or max_pages filled first)."""
    from ...kernel.fork import ensure_tables

    mm = task.mm
    pagemap_scan_get_args(mm, arg)
    ensure_tables(k)
    p = pagemap_scan_private(arg)
    for vma in vmas_in_range(mm, arg.start, arg.end):
        if pagemap_scan_test_walk(vma, p):
            if not pagemap_scan_vma(k, task, vma, p, max(arg.start, vma.vm_start), min(arg.end, vma.vm_end)):
                break
    regions = [(s, e, c) for s, e, c in p.vec_buf if e != s]
    return regions, arg.walk_end or arg.end


# ---- /proc/PID/clear_refs (clear_refs_write) ---------------------------------------------------
CLEAR_REFS_ALL, CLEAR_REFS_ANON, CLEAR_REFS_MAPPED, CLEAR_REFS_SOFT_DIRTY, CLEAR_REFS_MM_HIWATER_RSS = 1, 2, 3, 4, 5


@njit(cache=True)
def clear_refs_range(a, vs, pgd, start, end, soft_dirty):
    """``clear_refs_pte_range`` / ``clear_refs_pmd`` over [start, end): with ``soft_dirty``
    (``clear_soft_dirty``) present entries are write-protected and lose the soft-dirty bit,
    so the next write faults and marks them again; otherwise present entries lose the
    accessed bit and their pages PG_referenced. Compiled: it visits every entry of the range."""
    w = walk_page_range(vs, pgd, start, end, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return
        if kind != PTE_KIND_PRESENT:
            continue
        entry = vs.pt[row, idx]
        if soft_dirty:
            vs.pt[row, idx] = entry & ~np.uint64(_PAGE_RW | _PAGE_SOFT_DIRTY)
        else:
            vs.pt[row, idx] = entry & ~np.uint64(_PAGE_ACCESSED)  # ptep_test_and_clear_young
            if not entry & np.uint64(_PAGE_SPECIAL):
                a.flags[pte_pfn(entry)] &= ~np.uint64(1 << PG_referenced)


def clear_refs_write(k, task, value: str) -> None:
    """Write ``1`` (all pages), ``2`` (anonymous), ``3`` (file-mapped): clear the referenced
    bits; ``4``: clear soft-dirty (each VMA loses VM_SOFTDIRTY, its ptes are write-protected
    and cleaned; without CONFIG_MEM_SOFT_DIRTY nothing happens); ``5``: reset VmHWM.
    Anything else is EINVAL."""
    from ...errors import KernelError
    from ...kernel.fork import ensure_tables, flush_tlb_mm
    from ...mm.memory import MMC_PGD
    from ...mm.vma import vm_flags_reset

    text = value.strip()
    if not text.isdigit() or not CLEAR_REFS_ALL <= int(text) <= CLEAR_REFS_MM_HIWATER_RSS:
        raise KernelError(errno.EINVAL, f"clear_refs: {value!r} is not 1-5")
    kind, mm = int(text), task.mm
    if kind == CLEAR_REFS_MM_HIWATER_RSS:
        return  # VmHWM is the current RSS here: no peak is kept to reset
    soft_dirty = kind == CLEAR_REFS_SOFT_DIRTY
    if soft_dirty and not mm.config.mem_soft_dirty:
        return  # clear_soft_dirty is empty without CONFIG_MEM_SOFT_DIRTY
    a, vs, pgd = k.mem_map, ensure_tables(k), int(task.mmc[MMC_PGD])
    for vma in mm.vmas:
        if kind == CLEAR_REFS_ANON and vma.vm_file is not None or kind == CLEAR_REFS_MAPPED and vma.vm_file is None:
            continue
        if soft_dirty and vma.vm_flags & VM_SOFTDIRTY:
            vm_flags_reset(mm, vma, vma.vm_flags & ~VM_SOFTDIRTY)
        clear_refs_range(a, vs, pgd, vma.vm_start, vma.vm_end, soft_dirty)
    flush_tlb_mm(k, task)
