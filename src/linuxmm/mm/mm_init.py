"""Sizing nodes and zones at boot (``mm/mm_init.c``; ``mm/page_alloc.c`` before 6.3).

``free_area_init(max_zone_pfn)`` is the generic half of boot that every architecture calls
with its zone limits: it derives each zone's arch range, places ZONE_MOVABLE
(``find_zone_movable_pfns_for_nodes``), sizes every node and zone
(``calculate_node_totalpages``), accounts the memmap (≤6.9), and finds the struct pages in
holes (``memmap_init``). Modelled on Linux 6.18, with the messages of older releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.mmzone import node_states, pglist_data, zone
from .memblock import MEMBLOCK_HOTPLUG, MEMBLOCK_MIRROR
from .page_alloc import zone_batchsize

if TYPE_CHECKING:
    from ..init.main import Kernel

SIZEOF_STRUCT_PAGE_64 = 64


def arch_zone_ranges(k: "Kernel", max_zone_pfn: dict[str, int]) -> None:
    """Per-zone [lowest, highest) pfns: each zone starts where the one below ended."""
    start = k.arch.PHYS_PFN(k.memblock.memblock_start_of_DRAM())
    k.arch_zone_lowest_possible_pfn, k.arch_zone_highest_possible_pfn = {}, {}
    for name in k.zone_names:
        if name == "Movable":
            continue
        end = max(max_zone_pfn.get(name, 0), start)
        k.arch_zone_lowest_possible_pfn[name] = start
        k.arch_zone_highest_possible_pfn[name] = end
        start = end
    k.arch_zone_lowest_possible_pfn["Movable"] = 0
    k.arch_zone_highest_possible_pfn["Movable"] = 0


def free_area_init(k: "Kernel", max_zone_pfn: dict[str, int]) -> None:
    log, arch = k.log, k.arch
    arch_zone_ranges(k, max_zone_pfn)
    k.zone_movable_pfn = {nid: 0 for nid in k.node_ids}
    find_zone_movable_pfns_for_nodes(k)

    log.info("Zone ranges:")
    for name in k.zone_names:
        if name == "Movable":
            continue
        lo, hi = k.arch_zone_lowest_possible_pfn[name], k.arch_zone_highest_possible_pfn[name]
        log.info(f"  {name:<8s} " + ("empty" if lo == hi else mem_range(k, lo, hi)))
    log.info("Movable zone start for each node")
    for nid in k.node_ids:
        if k.zone_movable_pfn.get(nid):
            log.info(f"  Node {nid}: {arch.PFN_PHYS(k.zone_movable_pfn[nid]):#018x}")
    log.info("Early memory node ranges")
    for lo, hi, nid in k.memblock.for_each_mem_pfn_range(None, arch.page_shift):
        log.info(f"  node {nid:3d}: {mem_range(k, lo, hi)}")

    holes = hole_accounting(k)
    if holes == "summary":  # 4.15-5.10: the struct pages in holes counted once, before the nodes
        unavailable_summary(k)
    for nid in k.node_ids:
        pgdat = k.NODE_DATA(nid)
        free_area_init_node(k, pgdat)
        if pgdat.node_present_pages:
            k.node_states.node_set_state(nid, node_states.N_MEMORY)
            check_for_memory(k, pgdat)
    if holes == "zone":
        memmap_init_zone_holes(k)
    elif holes == "range":
        memmap_init(k)
    if k.version >= (6, 10):
        calc_nr_kernel_pages(k)
    else:  # ≤6.9 free_area_init_core summed the zones' initial managed pages
        zones = [z for p in k.pgdat.values() for z in p.node_zones]
        k.nr_kernel_pages = sum(z.managed_pages for z in zones if z.name != "HighMem")
        k.nr_all_pages = sum(z.managed_pages for z in zones)


def mem_range(k: "Kernel", lo: int, hi: int) -> str:
    """``[mem 0x...-0x...]`` for pfns [lo, hi); before 4.0 these lines used ``%#010Lx``."""
    width = 18 if k.version >= (4, 0) else 10
    return f"[mem {k.arch.PFN_PHYS(lo):#0{width}x}-{k.arch.PFN_PHYS(hi) - 1 if hi else 0:#0{width}x}]"


def get_pfn_range_for_nid(k: "Kernel", nid: int) -> tuple[int, int]:
    ranges = list(k.memblock.for_each_mem_pfn_range(nid, k.arch.page_shift))
    if not ranges:
        return 0, 0
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def free_area_init_node(k: "Kernel", pgdat: pglist_data) -> None:
    start_pfn, end_pfn = get_pfn_range_for_nid(k, pgdat.node_id)
    pgdat.node_start_pfn = start_pfn
    announce = k.version >= (4, 0) or k.version.distro == "rhel"  # x86-64 3.x: numa.py did it
    if start_pfn != end_pfn or k.version < (5, 18):  # 5.18 named memoryless nodes so
        if announce:
            k.log.info(f"Initmem setup node {pgdat.node_id} {mem_range(k, start_pfn, end_pfn)}")
        calculate_node_totalpages(k, pgdat, start_pfn, end_pfn)
    else:
        k.log.info(f"Initmem setup node {pgdat.node_id} as memoryless")
    pgdat.node_mem_map = pgdat.node_start_pfn
    free_area_init_core(k, pgdat)


def zone_spanned_range(k: "Kernel", nid: int, zname: str, node_start: int, node_end: int) -> tuple[int, int]:
    """``zone_spanned_pages_in_node`` with ``adjust_zone_range_for_zone_movable``: [start, end)."""
    lo = k.arch_zone_lowest_possible_pfn[zname]
    hi = k.arch_zone_highest_possible_pfn[zname]
    zs, ze = min(max(node_start, lo), hi), min(max(node_end, lo), hi)
    movable = k.zone_movable_pfn.get(nid, 0)
    if movable:
        if zname == "Movable":
            zs, ze = movable, min(node_end, k.arch_zone_highest_possible_pfn[k.movable_zone])
        elif not k.params.mirrored_kernelcore and zs < movable < ze:
            ze = movable
        elif zs >= movable:
            zs = ze
    if ze < node_start or zs > node_end:
        return 0, 0
    return max(zs, node_start), min(ze, node_end)


def zone_absent_pages(k: "Kernel", nid: int, zname: str, zs: int, ze: int) -> int:
    """``zone_absent_pages_in_node``: pages of [zs, ze) not covered by the node's memory."""
    if zs >= ze:
        return 0
    shift = k.arch.page_shift
    present = sum(max(0, min(hi, ze) - max(lo, zs))
                  for lo, hi, _ in k.memblock.for_each_mem_pfn_range(nid, shift))
    absent = (ze - zs) - present
    if k.params.mirrored_kernelcore and k.zone_movable_pfn.get(nid):
        # kernelcore=mirror: non-mirrored memory is absent from Normal, mirrored from Movable
        for r in k.memblock.memory.regions:
            lo = min(max(k.arch.PFN_UP(r.base), zs), ze)
            hi = min(max(r.end >> shift, zs), ze)
            mirror = bool(r.flags & MEMBLOCK_MIRROR)
            if (zname == "Movable" and mirror) or (zname == "Normal" and not mirror):
                absent += hi - lo
    return absent


def calculate_node_totalpages(k: "Kernel", pgdat: pglist_data, node_start: int, node_end: int) -> None:
    totalpages = realtotalpages = 0
    for z in pgdat.node_zones:
        zs, ze = zone_spanned_range(k, pgdat.node_id, z.name, node_start, node_end)
        spanned = ze - zs
        absent = zone_absent_pages(k, pgdat.node_id, z.name, zs, ze)
        z.zone_start_pfn = zs if spanned else 0
        z.spanned_pages = spanned
        z.present_pages = spanned - absent
        totalpages += spanned
        realtotalpages += z.present_pages
    pgdat.node_spanned_pages = totalpages
    pgdat.node_present_pages = realtotalpages
    if memmap_lines_visible(k):
        k.log.debug(f"On node {pgdat.node_id} totalpages: {realtotalpages}")


def memmap_lines_visible(k: "Kernel") -> bool:
    """The totalpages/memmap/LIFO lines were KERN_DEBUG until 5.11 and pr_debug after."""
    return k.version < (5, 12)


def calc_memmap_size(k: "Kernel", spanned: int, present: int) -> int:
    """Pages of struct page for a zone; with holes and SPARSEMEM, count present pages only."""
    pages = spanned
    if spanned > present + (present >> 4) and k.config.sparsemem:
        pages = present
    nbytes = pages * k.sizeof_struct_page
    return -(-nbytes // k.arch.PAGE_SIZE)


def free_area_init_core(k: "Kernel", pgdat: pglist_data) -> None:
    """Set initial managed counts; ≤6.9 subtract the memmap and dma_reserve and print them."""
    nr_zones = 0
    for z in pgdat.node_zones:
        if z.present_pages:
            nr_zones = z.idx + 1
        if k.version >= (6, 10):
            z.managed_pages = z.present_pages
            continue
        account_memmap(k, z)
    pgdat.nr_zones = nr_zones


def last_section_filled(version) -> bool:
    """Whether the holes run to the end of the last section, not just to max_pfn: 5.5's
    "fix uninitialized memmaps on a partially populated last section", taken into the 5.4.y
    and 4.19.y stable lines, Ubuntu's 5.3 and ROSA's 4.15 (Fedora's 5.0.16 and Manjaro's
    5.2.11, built before it, stop at max_pfn)."""
    if version >= (5, 5) or (5, 4, 7) <= version < (5, 5) or (4, 19, 92) <= version < (4, 20):
        return True
    return (version.distro == "ubuntu" and version >= (5, 3)) or (version.distro == "rosa" and version >= (4, 15))


def hole_accounting(k: "Kernel") -> str:
    """How ``free_area_init`` counts the struct pages of holes, by release.

    "summary" (≤5.10): one total before the nodes (``init_unavailable_mem``); "zone" (5.11,
    "mm: fix initialization of struct page for holes in memory layout", taken into 5.10.y
    stable: Gentoo's 5.10.27 and Debian's 5.10.46 print it): per zone, each zone's end rounded up to a
    section; "range" (≥5.12): per memory range (``memmap_init``), which ROSA's 5.10 kernels
    carry as well.
    """
    if k.version >= (5, 12) or (k.version.distro == "rosa" and k.version >= (5, 10)):
        return "range"
    if k.version >= (5, 11) or k.version >= (5, 10, 27):
        return "zone"
    return "summary"


def memmap_init_zone_holes(k: "Kernel") -> None:
    """5.11's ``memmap_init`` per zone: holes up to each range, then to the zone's section end
    (SPARSEMEM only, as the summary before it: FLATMEM's mem_map has no such holes to mend)."""
    if not k.config.sparsemem:
        return
    hole_pfn = 0
    for nid in k.node_ids:
        ranges = list(k.memblock.for_each_mem_pfn_range(nid, k.arch.page_shift))
        for z in k.NODE_DATA(nid).node_zones:
            if not z.populated_zone():
                continue
            zs, ze = z.zone_start_pfn, z.zone_end_pfn
            pgcnt = 0
            for lo, hi, _ in ranges:
                lo, hi = min(max(lo, zs), ze), min(max(hi, zs), ze)
                if hole_pfn < lo:
                    pgcnt += k.count_valid_pfns(hole_pfn, lo)
                hole_pfn = hi
            end = k.round_up_section(ze)
            if hole_pfn < end:
                pgcnt += k.count_valid_pfns(hole_pfn, end)
            if pgcnt:
                k.log.info(f"  {z.name} zone: {pgcnt} pages in unavailable ranges")


def memmap_init(k: "Kernel") -> None:
    """``memmap_init``: struct pages in holes are reserved and counted per zone (≥5.12)."""
    hole_pfn = 0
    last_zone = None
    for lo, hi, nid in k.memblock.for_each_mem_pfn_range(None, k.arch.page_shift):
        pgdat = k.NODE_DATA(nid)
        for z in pgdat.node_zones:
            if not z.populated_zone():
                continue
            zs, ze = max(lo, z.zone_start_pfn), min(hi, z.zone_end_pfn)
            if zs >= ze:
                continue
            if hole_pfn < zs:
                init_unavailable_range(k, hole_pfn, zs, z)
            hole_pfn = ze
            last_zone = z
    if last_zone is not None:
        end = k.round_up_section(hole_pfn)
        if hole_pfn < end:
            init_unavailable_range(k, hole_pfn, end, last_zone)


def init_unavailable_range(k: "Kernel", spfn: int, epfn: int, z: zone) -> int:
    pgcnt = k.count_valid_pfns(spfn, epfn)
    if pgcnt:
        k.log.info(f"On node {z.node}, zone {z.name}: {pgcnt} pages in unavailable ranges")
    return pgcnt


def check_for_memory(k: "Kernel", pgdat: pglist_data) -> None:
    """Mark the node N_HIGH_MEMORY / N_NORMAL_MEMORY by its lowest populated zone."""
    normal_idx = k.zone_names.index("Normal")
    for z in pgdat.node_zones:
        if z.name == "Movable":
            break
        if z.populated_zone():
            k.node_states.node_set_state(pgdat.node_id, node_states.N_HIGH_MEMORY)
            if z.idx <= normal_idx:
                k.node_states.node_set_state(pgdat.node_id, node_states.N_NORMAL_MEMORY)
            break


# ---- ZONE_MOVABLE placement -------------------------------------------------------------


def find_zone_movable_pfns_for_nodes(k: "Kernel") -> None:
    """Where ZONE_MOVABLE starts on each node, from kernelcore=/movablecore=/movable_node."""
    p = k.params
    arch = k.arch
    k.movable_zone = find_usable_zone_for_movable(k)
    usable_startpfn = k.arch_zone_lowest_possible_pfn[k.movable_zone]
    ranges = list(k.memblock.for_each_mem_pfn_range(None, arch.page_shift))
    totalpages = sum(hi - lo for lo, hi, _ in ranges)
    mem_nodes = sorted({nid for lo, hi, nid in ranges if hi > lo})

    if p.movable_node:
        for r in k.memblock.memory.regions:
            if r.flags & MEMBLOCK_HOTPLUG:
                _lower_movable(k, r.nid, r.base >> arch.page_shift)
        return _finish_movable(k)

    if p.mirrored_kernelcore:
        if not any(r.flags & MEMBLOCK_MIRROR for r in k.memblock.memory.regions):
            k.log.warn("The system has no mirror memory, ignore kernelcore=mirror.")
            return _finish_movable(k, skip=True)
        below_4g = False
        for r in k.memblock.memory.regions:
            if r.flags & MEMBLOCK_MIRROR:
                continue
            pfn = arch.PFN_UP(r.base)
            if pfn < arch.PHYS_PFN(1 << 32):
                below_4g = True
                continue
            _lower_movable(k, r.nid, pfn)
        if below_4g:
            k.log.warn("This configuration results in unmirrored kernel memory.")
        return _finish_movable(k)

    required_kernelcore = p.required_kernelcore
    required_movablecore = p.required_movablecore
    if p.required_kernelcore_percent:
        required_kernelcore = totalpages * 100 * p.required_kernelcore_percent // 10000
    if p.required_movablecore_percent:
        required_movablecore = totalpages * 100 * p.required_movablecore_percent // 10000
    if required_movablecore:
        max_order_nr = 1 << arch.MAX_PAGE_ORDER
        required_movablecore = -(-required_movablecore // max_order_nr) * max_order_nr
        required_movablecore = min(totalpages, required_movablecore)
        corepages = totalpages - required_movablecore
        required_kernelcore = max(required_kernelcore, corepages)
    if not required_kernelcore or required_kernelcore >= totalpages:
        return _finish_movable(k, skip=True)

    usable_nodes = len(mem_nodes)
    while True:  # restart:
        kernelcore_node = required_kernelcore // usable_nodes
        for nid in mem_nodes:
            if required_kernelcore < kernelcore_node:
                kernelcore_node = required_kernelcore // usable_nodes
            kernelcore_remaining = kernelcore_node
            for start_pfn, end_pfn, rnid in ranges:
                if rnid != nid:
                    continue
                start_pfn = max(start_pfn, k.zone_movable_pfn[nid])
                if start_pfn >= end_pfn:
                    continue
                if start_pfn < usable_startpfn:
                    kernel_pages = min(end_pfn, usable_startpfn) - start_pfn
                    kernelcore_remaining -= min(kernel_pages, kernelcore_remaining)
                    required_kernelcore -= min(kernel_pages, required_kernelcore)
                    if end_pfn <= usable_startpfn:
                        k.zone_movable_pfn[nid] = end_pfn
                        continue
                    start_pfn = usable_startpfn
                size_pages = min(end_pfn - start_pfn, kernelcore_remaining)
                k.zone_movable_pfn[nid] = start_pfn + size_pages
                required_kernelcore -= min(required_kernelcore, size_pages)
                kernelcore_remaining -= size_pages
                if not kernelcore_remaining:
                    break
        usable_nodes -= 1
        if not (usable_nodes and required_kernelcore > usable_nodes):
            break
    _finish_movable(k)


def _lower_movable(k: "Kernel", nid: int, pfn: int) -> None:
    cur = k.zone_movable_pfn.get(nid, 0)
    k.zone_movable_pfn[nid] = min(cur, pfn) if cur else pfn


def _finish_movable(k: "Kernel", skip: bool = False) -> None:
    """``out2``: align each node's movable start to MAX_ORDER_NR_PAGES; drop it past the node."""
    if skip:
        k.zone_movable_pfn = {nid: 0 for nid in k.node_ids}
        return
    align = 1 << k.arch.MAX_PAGE_ORDER
    for nid in k.node_ids:
        start, end = get_pfn_range_for_nid(k, nid)
        pfn = k.zone_movable_pfn.get(nid, 0)
        if not pfn:
            continue
        pfn = -(-pfn // align) * align
        k.zone_movable_pfn[nid] = pfn if pfn < end else 0


def find_usable_zone_for_movable(k: "Kernel") -> str:
    """The highest zone below Movable whose arch range is not empty."""
    candidates = [n for n in k.zone_names if n not in ("Movable", "Device")]
    for name in reversed(candidates):
        if k.arch_zone_highest_possible_pfn[name] > k.arch_zone_lowest_possible_pfn[name]:
            return name
    return candidates[0]


# ---- messages and accounting of older kernels ------------------------------------------


def account_memmap(k: "Kernel", z: zone) -> None:
    """≤6.9: managed = present - memmap (not HighMem) - dma_reserve (zone 0), printed until 5.11."""
    show = memmap_lines_visible(k)
    freesize = z.present_pages
    memmap_pages = calc_memmap_size(k, z.spanned_pages, z.present_pages)
    highmem = z.name == "HighMem"
    if memmap_pages and show and (not highmem or k.version < (4, 0)):
        k.log.debug(f"  {z.name} zone: {memmap_pages} pages used for memmap")
    if not highmem:
        if freesize >= memmap_pages:
            freesize -= memmap_pages
        else:
            k.log.warn(f"  {z.name} zone: {memmap_pages} memmap pages exceeds freesize {freesize}")
    if z.idx == 0 and freesize > k.dma_reserve:
        freesize -= k.dma_reserve
        if show:
            k.log.debug(f"  {z.name} zone: {k.dma_reserve} pages reserved")
    z.managed_pages = freesize
    if z.present_pages and show:
        k.log.debug(f"  {z.name} zone: {z.present_pages} pages, LIFO batch:{zone_batchsize(k, z)}")


def unavailable_summary(k: "Kernel") -> None:
    """4.15-5.11: one count of struct pages with no memory behind them, before the nodes.

    4.15-4.16 counted memblock.reserved ranges no memory backs (``zero_resv_unavail``);
    from 4.17 (and ROSA's 4.15) every gap between memory ranges up to the end of the last
    section. Only pfns in present sections have struct pages. FLATMEM kernels from 4.18 on
    skip it. The message became ``Zeroed struct page in unavailable ranges`` in 5.0.
    """
    if k.version < (4, 15) or (not k.config.sparsemem and k.version >= (4, 18)):
        return
    shift = k.arch.page_shift
    if k.version < (4, 17) and k.version.distro != "rosa":
        holes = [(s >> shift, -(-e >> shift)) for s, e in k.memblock.reserved_not_memory()]
    else:
        holes, prev = [], 0
        for lo, hi, _ in k.memblock.for_each_mem_pfn_range(None, shift):
            if prev < lo:
                holes.append((prev, lo))
            prev = hi
        holes.append((prev, k.round_up_section(prev) if last_section_filled(k.version) else k.max_pfn))
    pgcnt = sum(k.count_valid_pfns(lo, hi) for lo, hi in holes if lo < hi)
    if pgcnt:
        # the 5.0 wording; RHEL 8's 4.18 has it too
        new_text = k.version >= (5, 0) or k.version.distro == "rhel" and k.version >= (4, 18)
        text = "Zeroed struct page in unavailable ranges" if new_text else "Reserved but unavailable"
        k.log.info(f"{text}: {pgcnt} pages")


# ---- after the zones: hash tables, freeing memblock into the buddy, the Memory: line -----


def calc_nr_kernel_pages(k: "Kernel") -> None:
    """Free memblock pages below high memory when the zones are set up (≥6.10), for hash sizing."""
    shift = k.arch.page_shift
    k.nr_all_pages = k.nr_kernel_pages = 0
    for start, end in k.memblock.free_ranges():
        lo, hi = k.arch.PFN_UP(start), end >> shift
        if lo < hi:
            k.nr_all_pages += hi - lo
            k.nr_kernel_pages += max(0, min(hi, k.max_low_pfn) - lo)


def alloc_large_system_hash(k: "Kernel", name: str, bucketsize: int, scale: int, early: bool) -> int:
    """Size a boot-time hash table from low memory (one bucket per 2^scale bytes); returns bytes.

    Early tables come from memblock; later ones (NUMA ``hashdist``) from vmalloc.
    """
    page_shift, page = k.arch.page_shift, k.arch.PAGE_SIZE
    numentries = -(-k.nr_kernel_pages // ((1 << 20) // page)) * ((1 << 20) // page)
    if k.arch.is_64bit:
        adapt = (64 << 30) >> page_shift  # ADAPT_SCALE_NPAGES: bigger machines get sparser tables
        while adapt < numentries:
            scale += 1
            adapt <<= 2
    numentries = numentries >> (scale - page_shift) if scale > page_shift else numentries << (page_shift - scale)
    if numentries * bucketsize < page:
        numentries = page // bucketsize
    numentries = 1 << (numentries - 1).bit_length()
    limit = min(((k.nr_all_pages << page_shift) >> 4) // bucketsize, 0x80000000)  # 1/16 of memory
    numentries = min(numentries, max(limit, 1))
    log2qty = numentries.bit_length() - 1
    size = bucketsize << log2qty
    order = max(0, (size - 1).bit_length() - page_shift)
    if early:
        k.memblock.memblock_phys_alloc_range(size, 64, 0, 1 << 64)
    kind = "linear" if early else "vmalloc"
    suffix = f", {kind}" if k.version >= (5, 13) else ""
    k.log.info(f"{name} hash table entries: {1 << log2qty} (order: {order}, {size} bytes{suffix})")
    return size


def vfs_caches_init_early(k: "Kernel") -> None:
    """The dentry and inode hashes, from memblock unless NUMA spreads them (``hashdist``)."""
    hashdist = k.config.numa and k.arch.is_64bit and len(k.node_ids) > 1
    k.hashdist = hashdist
    if not hashdist:
        alloc_large_system_hash(k, "Dentry cache", 8, 13, True)
        alloc_large_system_hash(k, "Inode-cache", 8, 14, True)


def mem_init_print_info(k: "Kernel") -> None:
    """``Memory: avail/physpages available (code, rwdata, rodata, init, bss, reserved, cma[, highmem])``."""
    physpages = sum(p.node_present_pages for p in k.pgdat.values())
    free = k.totalram_pages  # nothing is allocated from the buddy yet at this point
    code, rw, ro, init, bss = k.config.kernel_sections_kb
    kb = k.arch.PAGE_SIZE >> 10
    reserved = (physpages - k.totalram_pages) * kb
    high = ""
    if k.config.highmem:
        hm = sum(z.managed_pages for p in k.pgdat.values() for z in p.node_zones if z.name == "HighMem")
        high = f", {hm * kb}K highmem"
    k.log.info(f"Memory: {free * kb}K/{physpages * kb}K available ({code}K kernel code, {rw}K rwdata, "
               f"{ro}K rodata, {init}K init, {bss}K bss, {reserved}K reserved, 0K cma-reserved{high})")


def mm_core_init(k: "Kernel") -> None:
    """Free all of memblock's free memory to the page allocator (``mem_init``)."""
    from .memblock import memblock_free_all

    k.totalram_pages = memblock_free_all(k)
