"""A disk's writeback state (``include/linux/backing-dev-defs.h``), Linux 6.18.

``bdi_writeback`` is what the flusher (``fs/fs_writeback.py``) and dirty throttling
(``mm/page_writeback.py``) keep per disk: its dirty/writeback page counters, the write
bandwidth it achieves, the rate dirtiers are held to, its dirty inodes in the order they were
dirtied, and the flusher's work queue. ``wb_domain`` is the global dirty limit that follows the
hard threshold. Times are jiffies, rates pages per second.
"""

from __future__ import annotations

from collections import deque

# enum wb_stat_item
WB_RECLAIMABLE, WB_WRITEBACK, WB_DIRTIED, WB_WRITTEN, NR_WB_STAT_ITEMS = range(5)
INIT_BW_MB = 100  # a new disk's assumed write bandwidth, MB/s (INIT_BW)


class wb_domain:
    """``struct wb_domain`` (the global one): ``dirty_limit`` follows the hard threshold up at
    once and down slowly (1/32 per 200 ms), so a falling threshold does not throttle writers
    suddenly; ``dirty_limit_tstamp`` in jiffies."""

    def __init__(self):
        self.dirty_limit = 0
        self.dirty_limit_tstamp = 0


class bdi_writeback:
    """``struct bdi_writeback`` of one disk: its page counters (``stat``, indexed by
    ``WB_RECLAIMABLE`` ... ``WB_WRITTEN``), the bandwidth estimates (pages/s) and the snapshot
    they were last taken at (jiffies), ``dirty_exceeded``, its inode lists (``b_dirty`` in
    dirtying order, ``b_io`` being written, ``b_more_io`` to be continued), the flusher's
    ``work_list`` and the time of its last periodic flush (``last_old_flush``, jiffies)."""

    def __init__(self, bdev, page_shift: int):
        self.bdev = bdev
        init_bw = INIT_BW_MB << (20 - page_shift)
        self.stat = [0] * NR_WB_STAT_ITEMS
        self.bw_time_stamp = self.dirtied_stamp = self.written_stamp = 0
        self.write_bandwidth = self.avg_write_bandwidth = init_bw
        self.dirty_ratelimit = self.balanced_dirty_ratelimit = init_bw
        self.dirty_exceeded = False
        self.dirty_sleep = 0
        self.b_dirty: list = []
        self.b_io: list = []
        self.b_more_io: list = []
        self.work_list: deque = deque()
        self.last_old_flush = 0
        self.writeback_running = False  # WB_writeback_running: the flusher is writing it

    def __repr__(self) -> str:
        return (f"<bdi_writeback {self.bdev.bd_disk} reclaimable={self.stat[WB_RECLAIMABLE]} "
                f"writeback={self.stat[WB_WRITEBACK]} bw={self.avg_write_bandwidth} pages/s>")


def wb_has_dirty_io(wb: bdi_writeback) -> bool:
    return bool(wb.b_dirty or wb.b_io or wb.b_more_io)


def wb_start_background_writeback(k, wb: bdi_writeback) -> None:
    """Wake the flusher now; it writes back while ``wb_over_bg_thresh`` holds
    (``wb_check_background_flush``)."""
    k.kthreads["writeback"].wake_up()
