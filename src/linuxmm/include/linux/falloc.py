"""fallocate(2)'s mode bits (``include/uapi/linux/falloc.h``), Linux 6.18, and their names.

``FALLOC_FL_ALLOCATE_RANGE`` (0) reserves blocks and, without ``FALLOC_FL_KEEP_SIZE``,
extends the file; ``FALLOC_FL_PUNCH_HOLE`` (only with KEEP_SIZE) deallocates a range, which
then reads as zeros. ``FALLOC_FL_MODE_MASK`` holds the modes that exclude each other.
"""

from __future__ import annotations

import errno

from ...errors import KernelError

FALLOC_FL_ALLOCATE_RANGE = 0x00
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_NO_HIDE_STALE = 0x04
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
FALLOC_FL_UNSHARE_RANGE = 0x40
FALLOC_FL_WRITE_ZEROES = 0x80  # 6.17
FALLOC_FL_MODE_MASK = (FALLOC_FL_ALLOCATE_RANGE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE
                       | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE
                       | FALLOC_FL_WRITE_ZEROES)

FALLOC_NAMES = {"allocate_range": FALLOC_FL_ALLOCATE_RANGE, "keep_size": FALLOC_FL_KEEP_SIZE,
                "punch_hole": FALLOC_FL_PUNCH_HOLE, "no_hide_stale": FALLOC_FL_NO_HIDE_STALE,
                "collapse_range": FALLOC_FL_COLLAPSE_RANGE, "zero_range": FALLOC_FL_ZERO_RANGE,
                "insert_range": FALLOC_FL_INSERT_RANGE, "unshare_range": FALLOC_FL_UNSHARE_RANGE,
                "write_zeroes": FALLOC_FL_WRITE_ZEROES}


def parse_falloc_mode(mode) -> int:
    """A mode as a number or as names joined by ``|`` (``"punch_hole|keep_size"``, with or
    without the ``FALLOC_FL_`` prefix); an unknown name is EINVAL."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        return mode
    bits = 0
    for name in str(mode).split("|"):
        key = name.strip().lower().removeprefix("falloc_fl_")
        if key not in FALLOC_NAMES:
            raise KernelError(errno.EINVAL, f"unknown fallocate mode {name.strip()!r} ({', '.join(FALLOC_NAMES)})")
        bits |= FALLOC_NAMES[key]
    return bits
