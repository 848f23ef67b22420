"""block/: requests on the simulated clock (queue depth, latency, bandwidth, completion events,
plug merging)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from linuxmm.block.bio import REQ_OP_READ, REQ_OP_WRITE
from linuxmm.block.blk_core import blk_finish_plug, blk_plug, blk_start_plug, submit_bio
from linuxmm.block.blk_mq import STAT_IOS, STAT_NSECS, STAT_READ, STAT_SECTORS, STAT_WRITE, request_queue
from linuxmm.include.linux.vmstat import NR_VM_EVENT_ITEMS, PGPGIN, PGPGOUT
from linuxmm.kernel.timer import SimClock

US = 1000
GB = 1_000_000_000


def machine(depth: int = 4, latency_ns: int = 100 * US, read_bw: int = GB, write_bw: int = GB // 2):
    k = SimpleNamespace(clock=SimClock(), vm_events=np.zeros(NR_VM_EVENT_ITEMS, np.int64), blk_plug=blk_plug())
    bdev = SimpleNamespace(bd_queue=request_queue(depth, latency_ns, read_bw, write_bw), max_sectors_kb=1280)
    return k, bdev


def submit(k, bdev, op, sector, nr_bytes, done: list) -> None:
    submit_bio(k, bdev, op, sector, nr_bytes, lambda k, status: done.append(k.clock.now))


def test_a_lone_read_takes_latency_plus_transfer_and_completes_as_an_event():
    k, bdev = machine()
    done = []
    submit(k, bdev, REQ_OP_READ, 16, 4096, done)
    assert not done and bdev.bd_queue.in_flight == 1  # nothing ran yet
    k.clock.run_until(k.clock.next_expiry())  # the completion, the only event
    t = 100 * US + 4096  # 4096 B at 1 GB/s = 4096 ns
    assert done == [t] and k.clock.now == t
    st = bdev.bd_queue.stat[STAT_READ]
    assert st[STAT_IOS] == 1 and st[STAT_SECTORS] == 8 and st[STAT_NSECS] == t
    assert k.vm_events[PGPGIN] == 8


def test_transfers_share_the_channel_and_latencies_overlap():
    k, bdev = machine(depth=32)
    done = []
    for i in range(4):
        submit(k, bdev, REQ_OP_READ, i << 11, 1 << 20, done)
    k.clock.run_until(GB)
    mib_ns = 1 << 20  # 1 MiB at 1 GB/s
    assert done == [100 * US + mib_ns * (i + 1) for i in range(4)]  # one latency, then back to back


def test_queue_depth_holds_requests_until_a_tag_frees():
    k, bdev = machine(depth=2, read_bw=1 << 40)  # transfers ~free: latency dominates
    done = []
    for _ in range(4):
        submit(k, bdev, REQ_OP_READ, 0, 4096, done)
    assert bdev.bd_queue.in_flight == 4
    k.clock.run_until(GB)
    # the first two had tags at once (their transfers of 4 ns follow each other); the next two
    # got the tags those freed, 100 us of latency later
    assert done == [100 * US + 4, 100 * US + 8, 200 * US + 8, 200 * US + 12]
    assert bdev.bd_queue.in_flight == 0


def test_writes_use_the_write_bandwidth_and_count_pgpgout():
    k, bdev = machine(latency_ns=0)
    done = []
    submit(k, bdev, REQ_OP_WRITE, 0, 1 << 20, done)
    k.clock.run_until(GB)
    assert done == [(1 << 20) * 2]  # 0.5 GB/s
    assert bdev.bd_queue.stat[STAT_WRITE][STAT_IOS] == 1 and k.vm_events[PGPGOUT] == 2048


def test_a_plug_merges_contiguous_bios_up_to_max_sectors():
    k, bdev = machine(depth=1)
    done = []
    blk_start_plug(k)
    for i in range(400):  # 400 contiguous 4 KiB reads: 1600 KiB
        submit(k, bdev, REQ_OP_READ, i * 8, 4096, done)
    submit(k, bdev, REQ_OP_READ, 1 << 20, 4096, done)  # not contiguous: its own request
    assert bdev.bd_queue.in_flight == 0  # held in the plug
    blk_finish_plug(k)
    k.clock.run_until(GB)
    st = bdev.bd_queue.stat[STAT_READ]
    assert st[STAT_IOS] == 3 and len(done) == 401  # 1280 KiB + 320 KiB + the stray one
    assert done[0] == done[319] < done[320] == done[399] < done[400]


def test_a_device_that_makes_no_sense_is_refused():
    with pytest.raises(ValueError, match="depth 0"):
        request_queue(0, 1, 1, 1)
