"""``enum pageflags`` bits (``include/linux/page-flags.h``), Linux 6.18 order, and page types.

``mem_map.flags[pfn]`` holds these bits as the kernel's ``page->flags`` does (the zone and
node the kernel packs in the top bits are kept in separate arrays here).
"""

PG_locked = 0
PG_writeback = 1
PG_referenced = 2
PG_uptodate = 3
PG_dirty = 4
PG_lru = 5
PG_head = 6
PG_waiters = 7
PG_active = 8
PG_workingset = 9
PG_owner_priv_1 = 10
PG_owner_2 = 11
PG_arch_1 = 12
PG_reserved = 13
PG_private = 14
PG_private_2 = 15
PG_reclaim = 16
PG_swapbacked = 17
PG_unevictable = 18
PG_dropbehind = 19
PG_mlocked = 20
PG_hwpoison = 21
PG_young = 22
PG_idle = 23
# page_type (the kernel keeps it in page->page_type, not in flags)
PGTY_table = 60  # a page-table page
PGTY_slab = 61
PGTY_tail = 62  # tail page of a compound (the kernel encodes it in compound_head bit 0)
