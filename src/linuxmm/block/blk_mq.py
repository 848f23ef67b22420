"""A block device's request queue on the simulated clock (``block/blk-mq.c``), Linux 6.18.

The device model is a stated one, not a measured trace: a request holds one of the device's
``queue_depth`` tags from dispatch to completion (``blk_mq_get_tag``; a request that finds
none waits for the oldest in flight to complete, and a submitter that may sleep, such as a
reclaiming task, waits with it: ``tag_wait_until``), spends ``latency_ns`` in the device (its
command overhead, which overlaps other requests' transfers) and then moves its bytes over the
device's one data channel at the read or write bandwidth, after the transfers queued before it
(requests complete in submission order). So a lone 4 KiB read on a 100 us, 1 GB/s device
takes 104 us, and a stream of large requests runs at the bandwidth. Each request's completion
is an event on the clock (``blk_mq_complete_request`` -> ``bio_endio``); ``stat`` holds the
per-direction counters /proc/diskstats prints (ios, sectors, ns).
"""

from __future__ import annotations

from collections import deque

from ..kernel.timer import NSEC_PER_SEC
from .bio import REQ_OP_WRITE, SECTOR_SHIFT, bio, bio_endio

STAT_READ, STAT_WRITE = 0, 1
STAT_IOS, STAT_SECTORS, STAT_NSECS = 0, 1, 2


class request_queue:
    """``struct request_queue`` of one disk with its device model (the machine's clock is
    passed to each call: the queue belongs to the disk, the clock to the machine)."""

    def __init__(self, queue_depth: int, latency_ns: int, read_bw: int, write_bw: int):
        if queue_depth < 1 or latency_ns < 0 or read_bw < 1 or write_bw < 1:
            raise ValueError(f"request queue: depth {queue_depth}, latency {latency_ns} ns, "
                             f"bandwidth {read_bw}/{write_bw} B/s make no sense")
        self.queue_depth, self.latency_ns = queue_depth, latency_ns
        self.bandwidth = (read_bw, write_bw)  # bytes/s, indexed by STAT_READ/STAT_WRITE
        self.channel_free_ns = 0  # when the data channel finishes the transfers queued so far
        self.pending: deque[int] = deque()  # completion times of the requests not yet completed
        self.stat = [[0, 0, 0], [0, 0, 0]]  # [direction][STAT_IOS/SECTORS/NSECS]

    @property
    def in_flight(self) -> int:
        """Requests submitted and not yet completed (``part_in_flight``)."""
        return len(self.pending)

    def dispatch_time(self, now: int) -> int:
        """When a request submitted at ``now`` gets a tag: then, or when the oldest holder of
        the tag it waits for completes."""
        if len(self.pending) < self.queue_depth:
            return now
        return max(now, self.pending[-self.queue_depth])

    def tag_wait_until(self) -> int:
        """When the newest request in flight got its tag: the completion of the request
        ``queue_depth`` places before it (0: it found one free). A submitter that may sleep
        waits in ``blk_mq_get_tag`` until then."""
        if len(self.pending) <= self.queue_depth:
            return 0
        return self.pending[-self.queue_depth - 1]

    def blk_mq_submit_bio(self, k, b: bio) -> int:
        """Queue ``b``; its completion runs at the returned time (ns)."""
        direction = STAT_WRITE if b.bi_opf == REQ_OP_WRITE else STAT_READ
        start = self.dispatch_time(k.clock.now) + self.latency_ns
        transfer = -(-b.bi_size * NSEC_PER_SEC // self.bandwidth[direction])
        b.submit_ns = k.clock.now
        b.complete_ns = self.channel_free_ns = max(start, self.channel_free_ns) + transfer
        self.pending.append(b.complete_ns)
        k.clock.add_timer(b.complete_ns, self.blk_mq_complete_request, k, b, direction)
        return b.complete_ns

    def blk_mq_complete_request(self, k, b: bio, direction: int) -> None:
        self.pending.popleft()
        st = self.stat[direction]
        st[STAT_IOS] += 1
        st[STAT_SECTORS] += b.bi_size >> SECTOR_SHIFT
        st[STAT_NSECS] += b.complete_ns - b.submit_ns
        bio_endio(k, b)
