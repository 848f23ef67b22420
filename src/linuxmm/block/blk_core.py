"""The one entry point of block I/O (``block/blk-core.c``, ``block/blk-merge.c``), Linux 6.18.

``submit_bio`` hands a transfer to the device's request queue (``block/blk_mq.py``) and
counts it in /proc/vmstat's ``pgpgin``/``pgpgout`` as the kernel does (sectors, shown as KiB).
Between ``blk_start_plug`` and ``blk_finish_plug`` (readahead's ``read_pages``, the flusher's
``wb_writeback``) bios are held in the task's plug and, at the finish, each run of
contiguous bios of one direction is merged into one request of at most the device's
``max_sectors_kb`` (``blk_attempt_plug_merge``'s back merges), so a readahead window of many
folios costs one device latency, not one per folio. The caller does not wait: whoever needs
the data waits for the completion event (``folio_wait_bit`` runs the clock to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..include.linux.vmstat import PGPGIN, PGPGOUT
from .bio import REQ_OP_WRITE, SECTOR_SHIFT, bio

if TYPE_CHECKING:
    from ..init.main import Kernel


class blk_plug:
    """``struct blk_plug``: the bios held back (with their disks) and the nesting depth (only
    the outermost plug flushes)."""

    def __init__(self):
        self.bios: list[tuple[object, bio]] = []
        self.depth = 0


def submit_bio(k: "Kernel", bdev, op: int, sector: int, nr_bytes: int, end_io) -> None:
    """Start ``nr_bytes`` of I/O at ``sector`` of ``bdev``; ``end_io(k, status)`` runs when
    the device completes it."""
    b = bio(op, sector, nr_bytes, end_io)
    count_bio_events(k, op, nr_bytes >> SECTOR_SHIFT)
    if k.blk_plug.depth:
        k.blk_plug.bios.append((bdev, b))
    else:
        bdev.bd_queue.blk_mq_submit_bio(k, b)


def count_bio_events(k: "Kernel", op: int, sectors: int) -> None:
    """``submit_bio``'s vm events: PGPGOUT for writes, PGPGIN for reads, in sectors
    (/proc/vmstat halves them into KiB)."""
    k.vm_events[PGPGOUT if op == REQ_OP_WRITE else PGPGIN] += sectors


def blk_start_plug(k: "Kernel") -> None:
    k.blk_plug.depth += 1


def blk_finish_plug(k: "Kernel") -> None:
    """Leaving the outermost plug: merge the held bios into requests and submit them."""
    plug = k.blk_plug
    plug.depth -= 1
    if plug.depth:
        return
    held, plug.bios = plug.bios, []
    for bdev, request in merge_bios(held):
        bdev.bd_queue.blk_mq_submit_bio(k, request)


def merge_bios(held: list[tuple[object, bio]]) -> list[tuple[object, bio]]:
    """Back-merge each bio into the request before it when they are on one disk, in one
    direction, contiguous, and the request stays within the disk's ``max_sectors_kb``."""
    requests: list[tuple[object, bio, list]] = []
    for bdev, b in held:
        if requests:
            rdev, r, parts = requests[-1]
            if (rdev is bdev and r.bi_opf == b.bi_opf and r.bi_sector + (r.bi_size >> SECTOR_SHIFT) == b.bi_sector
                    and r.bi_size + b.bi_size <= bdev.max_sectors_kb << 10):
                r.bi_size += b.bi_size
                parts.append(b)
                continue
        parts = [b]
        requests.append((bdev, bio(b.bi_opf, b.bi_sector, b.bi_size, None), parts))
    for _, r, parts in requests:
        r.bi_end_io = end_io_all(parts)
    return [(bdev, r) for bdev, r, _ in requests]


def end_io_all(parts: list[bio]):
    """The completion of a merged request: each of its bios' completions, in order."""
    def end_io(k, status: int) -> None:
        for b in parts:
            if b.bi_end_io is not None:
                b.bi_end_io(k, status)
    return end_io
