"""kcompactd, the per-node compaction daemon (``mm/compaction.c``), Linux 6.18.

kcompactd is a task on the simulated clock: ``wakeup_kcompactd`` wakes it for an order
(kswapd does when its node is balanced but a non-blocking allocation failed), and while
``vm.compaction_proactiveness`` is non-zero it also wakes every
``HPAGE_FRAG_CHECK_INTERVAL_MSEC`` to check the node's fragmentation score. Compaction
itself (``kcompactd_do_work``, ``proactive_compact_node``) comes with the compaction issue: a
run only takes the order and zone index it was woken for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel.kthread import TASK_INTERRUPTIBLE, kthread
from ..kernel.timer import NSEC_PER_MSEC

if TYPE_CHECKING:
    from ..init.main import Kernel

HPAGE_FRAG_CHECK_INTERVAL_MSEC = 500


def kcompactd_run(k: "Kernel", nid: int) -> None:
    """Start node ``nid``'s kcompactd (``kcompactd_init``, a subsys initcall)."""
    pgdat = k.NODE_DATA(nid)
    pgdat.kcompactd = k.kthreads[f"kcompactd{nid}"] = kthread(k.clock, f"kcompactd{nid}",
                                                              lambda: kcompactd(k, pgdat))
    pgdat.kcompactd.wake_up()  # kthread_run: it runs at once, then sleeps


def kcompactd(k: "Kernel", pgdat) -> int | None:
    """One run: take the order asked for; sleep until woken, or for the proactive interval."""
    pgdat.kcompactd_max_order = 0
    pgdat.kcompactd_highest_zoneidx = pgdat.nr_zones - 1
    if not k.vm.sysctl_compaction_proactiveness:
        return None
    return HPAGE_FRAG_CHECK_INTERVAL_MSEC * NSEC_PER_MSEC


def wakeup_kcompactd(k: "Kernel", pgdat, order: int, highest_zoneidx: int) -> None:
    if order <= 0:
        return
    pgdat.kcompactd_max_order = max(pgdat.kcompactd_max_order, order)
    pgdat.kcompactd_highest_zoneidx = min(pgdat.kcompactd_highest_zoneidx, highest_zoneidx)
    if pgdat.kcompactd.state == TASK_INTERRUPTIBLE:  # (kcompactd_node_suitable: with compaction)
        pgdat.kcompactd.wake_up()
