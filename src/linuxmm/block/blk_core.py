"""Submitting block I/O (``block/blk-core.c``), Linux 6.18: ``submit_bio``.

The one entry point for every read and write of a disk: ``submit_bio(k, bdev, op, sector,
nr_bytes, end_io)``. This first version completes the request at once (``end_io(k, 0)``);
the queued model with the device's latency, bandwidth and queue depth on the simulated clock
replaces it. Data moves in the callers' completion functions (reads copy the disk's blocks
into the folios there), so a completion that comes later delivers the data later.
"""

from __future__ import annotations

REQ_OP_READ, REQ_OP_WRITE = 0, 1


def submit_bio(k, bdev, op: int, sector: int, nr_bytes: int, end_io) -> None:
    """Queue a request of ``nr_bytes`` at ``sector`` of ``bdev``; ``end_io(k, status)`` runs
    when it completes (status 0, or a negative errno)."""
    end_io(k, 0)
