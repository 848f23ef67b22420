"""Memory cgroup constants (``include/linux/memcontrol.h``, ``include/linux/page_counter.h``), 6.18.

The compiled state of every memcg lives in ``MemMap`` (``mm/buddy.py``), one row per memcg id:
``memcg_parent``, ``memcg_counter`` (the ``struct page_counter`` of ``memcg->memory`` and
``memcg->swap``, columns ``PC_*``), ``memcg_stat`` (``memcg->vmstats`` by ``enum
node_stat_item``), ``memcg_events``/``memcg_events_local`` (``enum memcg_memory_event``); per
page frame ``memcg`` is ``folio->memcg_data`` as the memcg id (0: not charged).
"""

from __future__ import annotations

from .vmstat import NR_VM_NODE_STAT_ITEMS

# enum memcg_memory_event (include/linux/memcontrol.h)
(MEMCG_LOW, MEMCG_HIGH, MEMCG_MAX, MEMCG_OOM, MEMCG_OOM_KILL, MEMCG_OOM_GROUP_KILL, MEMCG_SWAP_HIGH,
 MEMCG_SWAP_MAX, MEMCG_SWAP_FAIL, MEMCG_SOCK_THROTTLED, MEMCG_NR_MEMORY_EVENTS) = range(11)

# the two page counters of a memcg on cgroup v2 (memcg->memory, memcg->swap)
PC_MEMORY, PC_SWAP = 0, 1
NR_PAGE_COUNTERS = 2
# struct page_counter's fields, the columns of MemMap.memcg_counter[id, counter]
(PC_USAGE, PC_MAX, PC_HIGH, PC_LOW, PC_MIN, PC_WATERMARK, PC_LOCAL_WATERMARK, PC_FAILCNT, PC_EMIN, PC_ELOW,
 PC_CHILDREN_MIN_USAGE, PC_CHILDREN_LOW_USAGE) = range(12)
NR_PC_FIELDS = 12

PAGE_COUNTER_MAX = ((1 << 63) - 1) >> 12  # LONG_MAX / PAGE_SIZE (64-bit)
MEM_CGROUP_ID_MAX = 65535  # the kernel's limit on ids; the simulator keeps MEMCG_NR_IDS rows
MEMCG_NR_IDS = 1024  # rows of the memcg arrays (ids 1..1023); creating more fails with ENOSPC
ROOT_MEM_CGROUP_ID = 1  # mem_cgroup_alloc's idr starts at 1: the root gets it
MEMCG_CHARGE_BATCH = 64  # the per-cpu charge batch (pages), 6.18
MAX_RECLAIM_RETRIES = 16

# enum memcg_stat_item: the memcg-only counters after the node stat items (memcg->vmstats)
_NR_NODE_STATS = NR_VM_NODE_STAT_ITEMS
(MEMCG_SWAP, MEMCG_SOCK, MEMCG_PERCPU_B, MEMCG_VMALLOC, MEMCG_KMEM, MEMCG_ZSWAP_B,
 MEMCG_ZSWAPPED) = range(_NR_NODE_STATS, _NR_NODE_STATS + 7)
MEMCG_NR_STAT = _NR_NODE_STATS + 7
