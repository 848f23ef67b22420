"""``/proc/meminfo`` (``fs/proc/meminfo.c: meminfo_proc_show``), Linux 6.18, x86-64 config.

``show_val_kb`` prints a 16-column label, the value in kB right-aligned in 8 columns (wider
values overflow) and `` kB``; the hugetlb lines use ``%5lu`` page counts after a 19-column
label. Field order and config gates are 6.18's (kernel-reference §7.4). Values come from the
vm counters (``mm/vmstat.py``), ``si_mem_available``, ``vm_commit_limit`` and the counters
later subsystems keep on the kernel object (swap, vmalloc, percpu, hugetlb, direct map);
what nothing produces yet prints 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...include.linux.mmzone import for_each_zone
from ...mm.page_alloc import totalram_pages
from ...mm.show_mem import si_mem_available
from ...include.linux.vmstat import global_node_page_state as node_state
from ...include.linux.vmstat import global_zone_page_state as zone_state
from ...mm.swapfile import si_swapinfo
from ...mm.util import hugetlb_total_pages, vm_commit_limit, vm_memory_committed

if TYPE_CHECKING:
    from ...init.main import Kernel


def show_val_kb(label: str, kb: int) -> str:
    return f"{label:<16s}{kb:8d} kB\n"


def vmalloc_total_kb(k: "Kernel") -> int:
    """(VMALLOC_END - VMALLOC_START) >> 10: 32 TiB (4-level) or 12800 TiB (5-level) on x86-64."""
    if k.arch.name == "x86_64":
        return ((12800 if k.arch.la57 else 32) << 40) - 1 >> 10
    return k.vmalloc_total_bytes >> 10


def meminfo_proc_show(k: "Kernel") -> str:
    K = lambda pages: pages << (k.arch.page_shift - 10)  # noqa: E731
    free = zone_state(k, "NR_FREE_PAGES")
    buffers = k.nr_blockdev_pages
    swapcache = node_state(k, "NR_SWAPCACHE")
    cached = max(node_state(k, "NR_FILE_PAGES") - swapcache - buffers, 0)
    lru = {n: node_state(k, n) for n in ("NR_ACTIVE_ANON", "NR_INACTIVE_ANON", "NR_ACTIVE_FILE",
                                          "NR_INACTIVE_FILE", "NR_UNEVICTABLE")}
    sreclaimable = node_state(k, "NR_SLAB_RECLAIMABLE_B")
    sunreclaim = node_state(k, "NR_SLAB_UNRECLAIMABLE_B")
    rows = [("MemTotal:", K(totalram_pages(k))), ("MemFree:", K(free)),
            ("MemAvailable:", K(si_mem_available(k))), ("Buffers:", K(buffers)),
            ("Cached:", K(cached)), ("SwapCached:", K(swapcache)),
            ("Active:", K(lru["NR_ACTIVE_ANON"] + lru["NR_ACTIVE_FILE"])),
            ("Inactive:", K(lru["NR_INACTIVE_ANON"] + lru["NR_INACTIVE_FILE"])),
            ("Active(anon):", K(lru["NR_ACTIVE_ANON"])), ("Inactive(anon):", K(lru["NR_INACTIVE_ANON"])),
            ("Active(file):", K(lru["NR_ACTIVE_FILE"])), ("Inactive(file):", K(lru["NR_INACTIVE_FILE"])),
            ("Unevictable:", K(lru["NR_UNEVICTABLE"])), ("Mlocked:", K(zone_state(k, "NR_MLOCK")))]
    rows += _highmem_rows(k, K) if k.config.highmem else []
    swap_total, swap_free = si_swapinfo(k)
    rows += [("SwapTotal:", K(swap_total)), ("SwapFree:", K(swap_free)),
             ("Zswap:", K(k.zswap_total_pages)), ("Zswapped:", K(k.zswap_stored_pages)),
             ("Dirty:", K(node_state(k, "NR_FILE_DIRTY"))), ("Writeback:", K(node_state(k, "NR_WRITEBACK"))),
             ("AnonPages:", K(node_state(k, "NR_ANON_MAPPED"))), ("Mapped:", K(node_state(k, "NR_FILE_MAPPED"))),
             ("Shmem:", K(node_state(k, "NR_SHMEM"))),
             ("KReclaimable:", K(sreclaimable + node_state(k, "NR_KERNEL_MISC_RECLAIMABLE"))),
             ("Slab:", K(sreclaimable + sunreclaim)), ("SReclaimable:", K(sreclaimable)),
             ("SUnreclaim:", K(sunreclaim)),
             ("KernelStack:", node_state(k, "NR_KERNEL_STACK_KB")),  # already in kB
             ("PageTables:", K(node_state(k, "NR_PAGETABLE"))),
             ("SecPageTables:", K(node_state(k, "NR_SECONDARY_PAGETABLE"))),
             ("NFS_Unstable:", 0), ("Bounce:", 0), ("WritebackTmp:", 0),
             ("CommitLimit:", K(vm_commit_limit(k))), ("Committed_AS:", K(vm_memory_committed(k))),
             ("VmallocTotal:", vmalloc_total_kb(k)), ("VmallocUsed:", K(k.vmalloc_nr_pages)),
             ("VmallocChunk:", 0), ("Percpu:", K(k.pcpu_nr_pages)),
             ("AnonHugePages:", K(node_state(k, "NR_ANON_THPS"))),
             ("ShmemHugePages:", K(node_state(k, "NR_SHMEM_THPS"))),
             ("ShmemPmdMapped:", K(node_state(k, "NR_SHMEM_PMDMAPPED"))),
             ("FileHugePages:", K(node_state(k, "NR_FILE_THPS"))),
             ("FilePmdMapped:", K(node_state(k, "NR_FILE_PMDMAPPED")))]
    if k.config.cma:
        rows += [("CmaTotal:", K(sum(z.cma_pages for z in for_each_zone(k)))),
                 ("CmaFree:", K(zone_state(k, "NR_FREE_CMA_PAGES")))]
    rows.append(("Balloon:", K(node_state(k, "NR_BALLOON_PAGES"))))
    return "".join(show_val_kb(n, v) for n, v in rows) + hugetlb_report_meminfo(k) + arch_report_meminfo(k)


def _highmem_rows(k: "Kernel", K) -> list[tuple[str, int]]:
    high = [z for z in for_each_zone(k) if z.name == "HighMem"]
    total_high = sum(z.managed_pages for z in high)
    free_high = sum(z.vm_stat["NR_FREE_PAGES"] for z in high)
    return [("HighTotal:", K(total_high)), ("HighFree:", K(free_high)),
            ("LowTotal:", K(totalram_pages(k) - total_high)),
            ("LowFree:", K(zone_state(k, "NR_FREE_PAGES") - free_high))]


def hugetlb_report_meminfo(k: "Kernel") -> str:
    """The default hstate's pool (page counts), its page size and all pools' kB."""
    size_kb = (1 << k.arch.pageblock_order) << (k.arch.page_shift - 10)
    pool = k.hugetlb_default_pool
    s = "".join(f"{'HugePages_' + n + ':':<19s}{pool.get(n.lower(), 0):5d}\n"
                for n in ("Total", "Free", "Rsvd", "Surp"))
    hugetlb_kb = hugetlb_total_pages(k) << (k.arch.page_shift - 10)
    return s + show_val_kb("Hugepagesize:", size_kb) + show_val_kb("Hugetlb:", hugetlb_kb)


def arch_report_meminfo(k: "Kernel") -> str:
    """x86 ``direct_pages_count``: the direct map by page size (set by later issues)."""
    if k.arch.name == "x86_64":
        sizes = ("4k", "2M", "1G")
    elif k.arch.name == "i386":
        sizes = ("4k", "2M") if k.arch.pae else ("4k", "4M")
    else:
        return ""
    counts = k.direct_map_kb
    return "".join(show_val_kb(f"DirectMap{s}:", counts.get(s, 0)) for s in sizes)
