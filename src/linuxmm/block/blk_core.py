"""The one entry point of block I/O (``block/blk-core.c``), Linux 6.18.

``submit_bio`` hands a transfer to the device's request queue (``block/blk_mq.py``) and
counts it in /proc/vmstat's ``pgpgin``/``pgpgout`` as the kernel does (sectors, shown as KiB).
The caller does not wait: whoever needs the data (a read that found its folio locked,
``fsync``) waits for the completion event with ``wait_until``, which moves the clock through
the events due meanwhile (``io_schedule`` of the waiting task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bio import REQ_OP_WRITE, SECTOR_SHIFT, bio

if TYPE_CHECKING:
    from ..init.main import Kernel


def submit_bio(k: "Kernel", bdev, op: int, sector: int, nr_bytes: int, end_io) -> int:
    """Start ``nr_bytes`` of I/O at ``sector`` of ``bdev``; ``end_io(k, status)`` runs when
    the device completes it, at the returned time (ns)."""
    b = bio(op, sector, nr_bytes, end_io)
    count_bio_events(k, op, nr_bytes >> SECTOR_SHIFT)
    return bdev.bd_queue.blk_mq_submit_bio(k, b)


def count_bio_events(k: "Kernel", op: int, sectors: int) -> None:
    """``submit_bio``'s vm events: PGPGOUT for writes, PGPGIN for reads, in sectors."""
    item = "PGPGOUT" if op == REQ_OP_WRITE else "PGPGIN"
    k.vm_events[item] = k.vm_events.get(item, 0) + sectors


def wait_until(k: "Kernel", done) -> None:
    """Sleep until ``done()`` holds (``io_schedule`` in ``folio_wait_bit``): run the clock's
    events one at a time, each at its time, until the one that makes it true."""
    clock = k.clock
    while not done():
        nxt = clock.next_expiry()
        if nxt is None:
            raise RuntimeError("waiting for I/O that nothing will complete")
        clock.run_until(nxt)
