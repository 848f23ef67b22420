"""The VM counters (``include/linux/mmzone.h``'s stat enums, ``include/linux/vm_event_item.h``,
``include/linux/vmstat.h``), Linux 6.18.

One stat store, as in the kernel: every counter is a slot of an array indexed by its enum.

* ``enum zone_stat_item`` (``zone->vm_stat``): one row per zone, in ``MemMap.vm_stat``;
* ``enum numa_stat_item`` (``zone->vm_numa_event``): one row per zone, in ``MemMap.vm_numa_event``;
* ``enum node_stat_item`` (``pgdat->vm_stat``): one row per node, in ``VmState.nstat``;
* ``enum vm_event_item`` (the per-cpu ``vm_event_states``, folded: per-cpu counters are not
  modelled): one global array, ``k.vm_events``, which the allocator's ``MemMap`` and the fault
  path's ``VmState`` share.

Each enum's items become module constants with the kernel's names (``NR_FREE_PAGES``,
``PGFAULT``, ``PGALLOC_NORMAL``), in the kernel's order and with its values, so compiled code
counts with ``vm_events[PGFAULT] += 1``. The orders are those of this host's 6.18 BTF
(``tests/probe/btf_enums.py``; ``tests/test_vmstat.py`` checks them). ``vm_event_item`` is the
enum of a kernel with every optional item configured: every zone type in the per-zone events
(``FOR_ALL_ZONES``: HIGH on 32-bit, DEVICE with ZONE_DEVICE) and the CMA events; a machine
prints the items of its configuration (``mm/vmstat.py``'s ``vm_event_items``).

Python reads a zone's or node's row by name (``zone_page_state(z, "NR_FREE_PAGES")``) through
``StatRow``; /proc reads the arrays directly, no copy is kept anywhere.
"""

from collections.abc import MutableMapping

from .mmzone import for_each_zone, node_states


def _enum(names: str) -> dict[str, int]:
    """An enum's items in order, name -> value (its ``NR_*`` count is the dict's length)."""
    return {name: i for i, name in enumerate(names.split())}


ZONE_STAT_ITEM = _enum(
    "NR_FREE_PAGES NR_FREE_PAGES_BLOCKS NR_ZONE_INACTIVE_ANON NR_ZONE_ACTIVE_ANON "
    "NR_ZONE_INACTIVE_FILE NR_ZONE_ACTIVE_FILE NR_ZONE_UNEVICTABLE NR_ZONE_WRITE_PENDING "
    "NR_MLOCK NR_ZSPAGES NR_FREE_CMA_PAGES")

NUMA_STAT_ITEM = _enum("NUMA_HIT NUMA_MISS NUMA_FOREIGN NUMA_INTERLEAVE_HIT NUMA_LOCAL NUMA_OTHER")

NODE_STAT_ITEM = _enum(
    "NR_INACTIVE_ANON NR_ACTIVE_ANON NR_INACTIVE_FILE NR_ACTIVE_FILE NR_UNEVICTABLE "
    "NR_SLAB_RECLAIMABLE_B NR_SLAB_UNRECLAIMABLE_B NR_ISOLATED_ANON NR_ISOLATED_FILE WORKINGSET_NODES "
    "WORKINGSET_REFAULT_ANON WORKINGSET_REFAULT_FILE WORKINGSET_ACTIVATE_ANON WORKINGSET_ACTIVATE_FILE "
    "WORKINGSET_RESTORE_ANON WORKINGSET_RESTORE_FILE WORKINGSET_NODERECLAIM NR_ANON_MAPPED NR_FILE_MAPPED "
    "NR_FILE_PAGES NR_FILE_DIRTY NR_WRITEBACK NR_SHMEM NR_SHMEM_THPS NR_SHMEM_PMDMAPPED NR_FILE_THPS "
    "NR_FILE_PMDMAPPED NR_ANON_THPS NR_VMSCAN_WRITE NR_VMSCAN_IMMEDIATE NR_DIRTIED NR_WRITTEN "
    "NR_THROTTLED_WRITTEN NR_KERNEL_MISC_RECLAIMABLE NR_FOLL_PIN_ACQUIRED NR_FOLL_PIN_RELEASED "
    "NR_KERNEL_STACK_KB NR_PAGETABLE NR_SECONDARY_PAGETABLE NR_IOMMU_PAGES NR_SWAPCACHE "
    "PGPROMOTE_SUCCESS PGPROMOTE_CANDIDATE PGPROMOTE_CANDIDATE_NRL PGDEMOTE_KSWAPD PGDEMOTE_DIRECT "
    "PGDEMOTE_KHUGEPAGED PGDEMOTE_PROACTIVE NR_HUGETLB NR_BALLOON_PAGES NR_KERNEL_FILE_PAGES")

# FOR_ALL_ZONES(item): one event per zone type (enum zone_type), every type configured
FOR_ALL_ZONES = ("DMA", "DMA32", "NORMAL", "HIGH", "MOVABLE", "DEVICE")


def _for_all_zones(item: str) -> str:
    return " ".join(f"{item}_{z}" for z in FOR_ALL_ZONES)


VM_EVENT_ITEM = _enum(
    f"PGPGIN PGPGOUT PSWPIN PSWPOUT {_for_all_zones('PGALLOC')} {_for_all_zones('ALLOCSTALL')} "
    f"{_for_all_zones('PGSCAN_SKIP')} "
    "PGFREE PGACTIVATE PGDEACTIVATE PGLAZYFREE PGFAULT PGMAJFAULT PGLAZYFREED PGREFILL PGREUSE "
    "PGSTEAL_KSWAPD PGSTEAL_DIRECT PGSTEAL_KHUGEPAGED PGSTEAL_PROACTIVE PGSCAN_KSWAPD PGSCAN_DIRECT "
    "PGSCAN_KHUGEPAGED PGSCAN_PROACTIVE PGSCAN_DIRECT_THROTTLE PGSCAN_ANON PGSCAN_FILE PGSTEAL_ANON "
    "PGSTEAL_FILE PGSCAN_ZONE_RECLAIM_SUCCESS PGSCAN_ZONE_RECLAIM_FAILED PGINODESTEAL SLABS_SCANNED "
    "KSWAPD_INODESTEAL KSWAPD_LOW_WMARK_HIT_QUICKLY KSWAPD_HIGH_WMARK_HIT_QUICKLY PAGEOUTRUN PGROTATED "
    "DROP_PAGECACHE DROP_SLAB OOM_KILL NUMA_PTE_UPDATES NUMA_HUGE_PTE_UPDATES NUMA_HINT_FAULTS "
    "NUMA_HINT_FAULTS_LOCAL NUMA_PAGE_MIGRATE PGMIGRATE_SUCCESS PGMIGRATE_FAIL THP_MIGRATION_SUCCESS "
    "THP_MIGRATION_FAIL THP_MIGRATION_SPLIT COMPACTMIGRATE_SCANNED COMPACTFREE_SCANNED COMPACTISOLATED "
    "COMPACTSTALL COMPACTFAIL COMPACTSUCCESS KCOMPACTD_WAKE KCOMPACTD_MIGRATE_SCANNED "
    "KCOMPACTD_FREE_SCANNED HTLB_BUDDY_PGALLOC HTLB_BUDDY_PGALLOC_FAIL CMA_ALLOC_SUCCESS CMA_ALLOC_FAIL "
    "UNEVICTABLE_PGCULLED UNEVICTABLE_PGSCANNED UNEVICTABLE_PGRESCUED UNEVICTABLE_PGMLOCKED "
    "UNEVICTABLE_PGMUNLOCKED UNEVICTABLE_PGCLEARED UNEVICTABLE_PGSTRANDED THP_FAULT_ALLOC "
    "THP_FAULT_FALLBACK THP_FAULT_FALLBACK_CHARGE THP_COLLAPSE_ALLOC THP_COLLAPSE_ALLOC_FAILED "
    "THP_FILE_ALLOC THP_FILE_FALLBACK THP_FILE_FALLBACK_CHARGE THP_FILE_MAPPED THP_SPLIT_PAGE "
    "THP_SPLIT_PAGE_FAILED THP_DEFERRED_SPLIT_PAGE THP_UNDERUSED_SPLIT_PAGE THP_SPLIT_PMD "
    "THP_SCAN_EXCEED_NONE_PTE THP_SCAN_EXCEED_SWAP_PTE THP_SCAN_EXCEED_SHARED_PTE THP_SPLIT_PUD "
    "THP_ZERO_PAGE_ALLOC THP_ZERO_PAGE_ALLOC_FAILED THP_SWPOUT THP_SWPOUT_FALLBACK BALLOON_INFLATE "
    "BALLOON_DEFLATE BALLOON_MIGRATE SWAP_RA SWAP_RA_HIT SWPIN_ZERO SWPOUT_ZERO KSM_SWPIN_COPY COW_KSM "
    "ZSWPIN ZSWPOUT ZSWPWB DIRECT_MAP_LEVEL2_SPLIT DIRECT_MAP_LEVEL3_SPLIT DIRECT_MAP_LEVEL2_COLLAPSE "
    "DIRECT_MAP_LEVEL3_COLLAPSE")

# the items as constants with the kernel's names (as the kernel's enums are in C)
globals().update(**ZONE_STAT_ITEM, **NUMA_STAT_ITEM, **NODE_STAT_ITEM, **VM_EVENT_ITEM)
NR_VM_ZONE_STAT_ITEMS, NR_VM_NUMA_EVENT_ITEMS = len(ZONE_STAT_ITEM), len(NUMA_STAT_ITEM)
NR_VM_NODE_STAT_ITEMS, NR_VM_EVENT_ITEMS = len(NODE_STAT_ITEM), len(VM_EVENT_ITEM)
NR_ZONE_LRU_BASE = ZONE_STAT_ITEM["NR_ZONE_INACTIVE_ANON"]
NR_LRU_BASE = NODE_STAT_ITEM["NR_INACTIVE_ANON"]


def zone_event_type(name: str) -> int:
    """The zone type's offset in a ``FOR_ALL_ZONES`` block (``PGALLOC_DMA + type``) of the zone
    called ``name`` (``zone_names[]``: "DMA", "DMA32", "Normal", "HighMem", ...)."""
    return FOR_ALL_ZONES.index("HIGH" if name == "HighMem" else name.upper())


class StatRow(MutableMapping):
    """A zone's or node's counters (``zone->vm_stat``, ``pgdat->vm_stat``, ...): one row of an
    array indexed in the kernel's enum order, read and written by the enum names
    (``NR_ANON_MAPPED``). Compiled code updates the same array, so /proc reads what it counts."""

    def __init__(self, row, index: dict[str, int]):
        self.row, self._index = row, index

    def __getitem__(self, item: str) -> int:
        return int(self.row[self._index[item]])

    def __setitem__(self, item: str, value: int) -> None:
        self.row[self._index[item]] = value

    def __delitem__(self, item: str) -> None:
        raise TypeError("vm_stat counters cannot be removed")

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def zone_page_state(z, item: str) -> int:
    return z.vm_stat[item]


def zone_numa_event_state(z, item: str) -> int:
    return z.vm_numa_event[item]


def node_page_state(pgdat, item: str) -> int:
    return pgdat.vm_stat[item]


def global_zone_page_state(k, item: str) -> int:
    return sum(zone_page_state(z, item) for z in for_each_zone(k))


def global_node_page_state(k, item: str) -> int:
    return sum(node_page_state(k.NODE_DATA(n), item) for n in k.node_states.nodes(node_states.N_ONLINE))
