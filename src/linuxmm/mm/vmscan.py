"""kswapd, the per-node reclaim daemon, and its wake-up (``mm/vmscan.c``), Linux 6.18.

The allocator's slow path calls ``wake_all_kswapds`` (through ``k.alloc_hooks``) for every
allocation that found its zones below the LOW watermark; ``wakeup_kswapd`` records the order
and highest zone asked for on the node and wakes its kswapd, unless kswapd is already awake,
has given up (``kswapd_failures``), or the node is balanced (some usable zone above HIGH and
no watermark boost), in which case a non-blocking allocation wakes kcompactd instead.
kswapd is a task on the simulated clock (``kernel/kthread.py``); its reclaim
(``balance_pgdat``) comes with the LRU reclaim issue: for now a run only takes the order and
zone index it was woken for, as ``kswapd_try_to_sleep`` does, and sleeps until woken again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux import gfp as G
from ..include.linux.mmzone import MAX_RECLAIM_RETRIES
from ..include.linux.vmstat import NR_FREE_PAGES
from ..kernel.kthread import TASK_INTERRUPTIBLE, kthread
from . import buddy as B
from .compaction import wakeup_kcompactd

if TYPE_CHECKING:
    from ..init.main import Kernel


def kswapd_run(k: "Kernel", nid: int) -> None:
    """Start node ``nid``'s kswapd (``kswapd_init`` at module_init, one per node with memory)."""
    pgdat = k.NODE_DATA(nid)
    pgdat.kswapd_highest_zoneidx = len(k.zone_names)  # MAX_NR_ZONES: nothing asked yet
    pgdat.kswapd = k.kthreads[f"kswapd{nid}"] = kthread(k.clock, f"kswapd{nid}", lambda: kswapd(k, pgdat))


def kswapd(k: "Kernel", pgdat) -> int | None:
    """One run of kswapd: take the order and zone index asked for, then sleep until woken."""
    pgdat.kswapd_order = 0
    pgdat.kswapd_highest_zoneidx = len(k.zone_names)
    return None


def pgdat_balanced(k: "Kernel", pgdat, order: int, highest_zoneidx: int) -> bool:
    """Some managed zone up to ``highest_zoneidx`` meets its HIGH watermark (a node without
    managed zones counts as balanced)."""
    a = k.mem_map
    managed = False
    for z in pgdat.node_zones[:highest_zoneidx + 1]:
        if not z.managed_pages:
            continue
        managed = True
        zid = B.zone_id(k, z)
        mark = int(a.wmark[zid, 2] + a.boost[zid])
        if B.__zone_watermark_ok(a, zid, order, mark, highest_zoneidx, 0, int(a.vm_stat[zid, NR_FREE_PAGES])):
            return True
    return not managed


def pgdat_watermark_boosted(k: "Kernel", pgdat, highest_zoneidx: int) -> bool:
    a = k.mem_map
    return any(a.boost[B.zone_id(k, z)] for z in pgdat.node_zones[:highest_zoneidx + 1] if z.managed_pages)


def wakeup_kswapd(k: "Kernel", z, gfp: int, order: int, highest_zoneidx: int) -> None:
    if not z.managed_pages:
        return
    pgdat = k.NODE_DATA(z.node)
    if pgdat.kswapd_highest_zoneidx == len(k.zone_names) or pgdat.kswapd_highest_zoneidx < highest_zoneidx:
        pgdat.kswapd_highest_zoneidx = highest_zoneidx
    pgdat.kswapd_order = max(pgdat.kswapd_order, order)
    if pgdat.kswapd.state != TASK_INTERRUPTIBLE:  # !waitqueue_active: kswapd is awake
        return
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES or (
            pgdat_balanced(k, pgdat, order, highest_zoneidx)
            and not pgdat_watermark_boosted(k, pgdat, highest_zoneidx)):
        if not gfp & G.__GFP_DIRECT_RECLAIM:  # compaction may still help a non-blocking caller
            wakeup_kcompactd(k, pgdat, order, highest_zoneidx)
        return
    pgdat.kswapd.wake_up()


def wake_all_kswapds(k: "Kernel", order: int, gfp: int, nid: int) -> None:
    """Wake the kswapd of every node in the allocation's zonelist (each node once)."""
    highest = G.gfp_zone(gfp, k.zone_names)
    last = None
    for z in k.NODE_DATA(nid).node_zonelists[0]:
        if z.idx > highest or z.node == last:
            continue
        last = z.node
        wakeup_kswapd(k, z, gfp, order, highest)

