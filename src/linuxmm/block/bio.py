"""Block I/O units (``include/linux/blk_types.h``, ``block/bio.c``), Linux 6.18.

A ``bio`` is one contiguous transfer between memory and a block device: its operation
(``REQ_OP_READ`` or ``REQ_OP_WRITE``), where on the device it starts (``bi_sector``, in
512-byte sectors), how many bytes it moves (``bi_size``) and what runs when the device is
done with it (``bi_end_io(k, status)``: for the page cache ``folio_end_read`` or
``folio_end_writeback`` of the folios it carried; status 0 or a negative errno). Data pages are not attached here: the
page cache's end_io knows its folios (the kernel's ``bi_io_vec`` of the one request).
"""

from __future__ import annotations

REQ_OP_READ = 0
REQ_OP_WRITE = 1
SECTOR_SHIFT = 9  # bi_sector counts 512-byte sectors whatever the device's block size


class bio:
    """``struct bio``: ``bi_opf``, ``bi_sector``, ``bi_size``, ``bi_end_io`` and the times
    the simulated device gave it (``submit_ns``, ``complete_ns``)."""

    __slots__ = ("bi_opf", "bi_sector", "bi_size", "bi_end_io", "submit_ns", "complete_ns")

    def __init__(self, op: int, sector: int, nr_bytes: int, end_io):
        self.bi_opf, self.bi_sector, self.bi_size, self.bi_end_io = op, sector, nr_bytes, end_io
        self.submit_ns = self.complete_ns = 0

    def __repr__(self) -> str:
        kind = "write" if self.bi_opf == REQ_OP_WRITE else "read"
        return f"<bio {kind} sector={self.bi_sector} bytes={self.bi_size} done@{self.complete_ns}ns>"


def bio_endio(k, b: bio, status: int = 0) -> None:
    """The device finished ``b``: run its completion (``bio_endio``)."""
    if b.bi_end_io is not None:
        b.bi_end_io(k, status)
