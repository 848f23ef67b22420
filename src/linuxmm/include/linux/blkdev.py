"""Block devices (``include/linux/blkdev.h``, ``include/linux/backing-dev-defs.h``), Linux 6.18.

A ``block_device`` here is a whole disk (``struct gendisk`` + its ``request_queue`` limits +
its ``backing_dev_info``): name, device number, capacity, and the performance model the block
layer's request queue uses (read/write bandwidth, latency, queue depth, ``nr_requests``).
``ra_pages`` is ``bdi->ra_pages``: readahead's maximum window, set from ``read_ahead_kb`` as
the kernel's ``queue/read_ahead_kb`` store does (``ra_kb >> (PAGE_SHIFT - 10)``).

The disk's contents follow the memory content model: one byte per 64-byte line, one row of
64 per 4 KiB block (``data``), rows handed out as filesystems allocate blocks
(``bdev_alloc_block``), so a disk costs memory for what was written, not for its capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...block.blk_mq import request_queue
from .backing_dev import bdi_writeback

SECTOR_SHIFT = 9
LINE_SHIFT = 6  # contents: one byte per 64-byte line, as memory's
VM_READAHEAD_PAGES = 32  # SZ_128K / PAGE_SIZE: the default read_ahead_kb 128
BLK_DEF_MAX_SECTORS_CAP = 2560  # max_sectors_kb 1280
BLKDEV_DEFAULT_RQ = 128  # the default nr_requests (mq-deadline: 2 * queue depth when larger)


@dataclass
class DiskSpec:
    """A disk a machine description declares: name, capacity (bytes), the performance model
    (bandwidths in bytes per second, latency in microseconds per request, queue depth) and
    the ``queue/`` tunables read_ahead_kb and nr_requests."""

    name: str
    capacity: int = 256 << 30
    read_bw: int = 2 << 30
    write_bw: int = 1 << 30
    latency_us: int = 100
    queue_depth: int = 256
    read_ahead_kb: int = VM_READAHEAD_PAGES * 4
    nr_requests: int = 256


@dataclass
class MountSpec:
    """A mount: where, which filesystem ("ext4" on ``disk``, "tmpfs" of ``size`` bytes;
    None: half of RAM, tmpfs's default) and tmpfs's ``huge=`` option."""

    path: str
    fstype: str
    disk: str | None = None
    size: int | None = None
    huge: str = "never"


class block_device:
    """One disk: ``bd_disk`` (name), ``bd_dev`` (major, minor), ``nr_sectors``, the model of
    ``DiskSpec`` and ``ra_pages``. ``data`` holds the contents of allocated blocks (a row of
    one byte per line per block), ``nr_blocks`` the blocks allocated so far, ``free_blocks``
    the rows given back (truncate, unlink) for reuse."""

    def __init__(self, spec: DiskSpec, dev: tuple[int, int], page_shift: int):
        self.bd_disk, self.bd_dev = spec.name, dev
        self.nr_sectors = spec.capacity >> SECTOR_SHIFT
        self.read_bw, self.write_bw, self.latency_us = spec.read_bw, spec.write_bw, spec.latency_us
        self.queue_depth, self.nr_requests = spec.queue_depth, spec.nr_requests
        self.ra_pages = spec.read_ahead_kb >> (page_shift - 10)
        self.max_sectors_kb = BLK_DEF_MAX_SECTORS_CAP // 2
        # the request queue on the clock (block/blk_mq.py) and the disk's writeback state
        self.bd_queue = request_queue(spec.queue_depth, spec.latency_us * 1000, spec.read_bw, spec.write_bw)
        self.bd_wb = bdi_writeback(self, page_shift)
        self.block_shift = page_shift
        self.data = np.zeros((0, (1 << page_shift) >> LINE_SHIFT), np.uint8)
        self.nr_blocks = 0
        self.free_blocks: list[int] = []

    @property
    def capacity_blocks(self) -> int:
        return self.nr_sectors >> (self.block_shift - SECTOR_SHIFT)

    def __repr__(self) -> str:
        return (f"<block_device {self.bd_disk} {self.bd_dev[0]}:{self.bd_dev[1]} "
                f"{self.nr_sectors << SECTOR_SHIFT >> 30} GiB ra_pages={self.ra_pages}>")
