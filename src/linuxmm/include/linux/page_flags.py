"""``enum pageflags`` and ``enum pagetype`` (``include/linux/page-flags.h``), Linux 6.18.

``mem_map.flags[pfn]`` holds the PG_* bits as the kernel's ``page->flags`` does (the zone and
node the kernel packs in the top bits are kept in separate arrays here). Bit numbers and
aliases are those of this host's 6.18 kernel, read from its BTF
(tests/data/host-linux-6.18/enums.txt; CONFIG_MEMORY_FAILURE=n, so no PG_hwpoison, and
CONFIG_PAGE_IDLE_FLAG=y). ``PG_*_mask`` are the same bits as masks, for compiled code.
"""

import numpy as np

PG_locked = 0  # the folio is locked: do not touch
PG_writeback = 1  # under writeback
PG_referenced = 2
PG_uptodate = 3
PG_dirty = 4
PG_lru = 5  # on an LRU list (folio->lru links it)
PG_head = 6  # the first page of a compound page (folio of order > 0)
PG_waiters = 7
PG_active = 8
PG_workingset = 9
PG_owner_priv_1 = 10
PG_owner_2 = 11
PG_arch_1 = 12
PG_reserved = 13  # not given to the buddy allocator (memblock reservations, holes)
PG_private = 14  # page->private holds filesystem data
PG_private_2 = 15
PG_reclaim = 16  # to be reclaimed as soon as writeback completes
PG_swapbacked = 17  # backed by RAM or swap (anonymous and shmem memory)
PG_unevictable = 18
PG_dropbehind = 19
PG_mlocked = 20
PG_young = 21
PG_idle = 22
PG_arch_2 = 23
NR_PAGEFLAGS = 24
# aliases: one bit, a different meaning for a different kind of folio
PG_readahead = PG_reclaim  # file folios being read
PG_swapcache = PG_owner_priv_1  # anonymous/shmem folios in the swap cache (swp_entry_t in private)
PG_checked = PG_owner_priv_1
PG_anon_exclusive = PG_owner_2  # anonymous pages: mapped by exactly one process, may be reused
PG_mappedtodisk = PG_owner_2  # file folios with blocks on disk
PG_fscache = PG_private_2
PG_reported = PG_uptodate  # free pages reported to the hypervisor
PG_has_hwpoisoned = PG_active  # second page of a large folio
PG_large_rmappable = PG_workingset  # large folios: anon or file-backed
PG_partially_mapped = PG_reclaim  # large folios found to be partially mapped

PG_head_mask = np.uint64(1 << PG_head)
PG_locked_mask = np.uint64(1 << PG_locked)
PG_uptodate_mask = np.uint64(1 << PG_uptodate)
PG_lru_mask = np.uint64(1 << PG_lru)
PG_reserved_mask = np.uint64(1 << PG_reserved)
PG_swapbacked_mask = np.uint64(1 << PG_swapbacked)
PG_anon_exclusive_mask = np.uint64(1 << PG_anon_exclusive)
PG_swapcache_mask = np.uint64(1 << PG_swapcache)
PG_active_mask = np.uint64(1 << PG_active)
PG_referenced_mask = np.uint64(1 << PG_referenced)
PG_unevictable_mask = np.uint64(1 << PG_unevictable)
PG_mlocked_mask = np.uint64(1 << PG_mlocked)
PG_idle_mask = np.uint64(1 << PG_idle)
PG_dirty_mask = np.uint64(1 << PG_dirty)
PG_writeback_mask = np.uint64(1 << PG_writeback)
PG_reclaim_mask = np.uint64(1 << PG_reclaim)
PG_workingset_mask = np.uint64(1 << PG_workingset)

# MGLRU's fields in the top half of page->flags (``include/linux/page-flags-layout.h``,
# ``include/linux/mm.h``): from the top, [SECTION] NODE ZONE LAST_CPUPID [KASAN_TAG] LRU_GEN
# LRU_REFS. With this host's configuration (/proc/config.gz, tests/data/host-linux-6.18/lru_gen.txt:
# SPARSEMEM_VMEMMAP so no section bits, NODES_SHIFT 10, 5 zone types so ZONES_WIDTH 3,
# NUMA_BALANCING with NR_CPUS 256 so LAST_CPUPID_WIDTH 8 + 8, no KASAN tags) and CONFIG_LRU_GEN
# turned on, LRU_GEN_PGOFF = 64 - 10 - 3 - 16 - 3 = 32 and LRU_REFS_PGOFF = 30: clear of the
# 24 PG_* bits. The gen field holds a generation + 1 while the folio is on one of MGLRU's lists
# (0: not on one); the refs field counts accesses through file descriptors beyond PG_referenced.
LRU_GEN_WIDTH = 3  # order_base_2(MAX_NR_GENS + 1)
LRU_REFS_WIDTH = 2  # MAX_NR_TIERS - 2 (the room left, 8 bits, does not cap it)
LRU_GEN_PGOFF = 32
LRU_REFS_PGOFF = LRU_GEN_PGOFF - LRU_REFS_WIDTH
LRU_GEN_MASK = np.uint64(((1 << LRU_GEN_WIDTH) - 1) << LRU_GEN_PGOFF)
LRU_REFS_MASK = np.uint64(((1 << LRU_REFS_WIDTH) - 1) << LRU_REFS_PGOFF)
LRU_REFS_FLAGS = LRU_REFS_MASK | PG_referenced_mask  # include/linux/mmzone.h

# ``enum pagetype``: page->page_type holds one of these in its top byte
PGTY_buddy = 0xF0
PGTY_offline = 0xF1
PGTY_table = 0xF2  # a page-table page
PGTY_guard = 0xF3
PGTY_hugetlb = 0xF4
PGTY_slab = 0xF5
PGTY_zsmalloc = 0xF6
PGTY_unaccepted = 0xF7
PGTY_large_kmalloc = 0xF8
PGTY_mapcount_underflow = 0xFF
