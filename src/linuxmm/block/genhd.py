"""Disks (``block/genhd.c``, ``block/blk-sysfs.c``), Linux 6.18: ``add_disk`` and the
``/sys/block/<disk>/`` files the simulator has.

``add_disk`` registers a ``block_device`` under its name with a device number (virtio-blk's
dynamic major, 254 on this host, minors 16 apart per disk as ``virtblk_probe`` hands them out).
The ``queue/`` attributes are ``queue_sysfs_entry``s: ``read_ahead_kb`` shows and stores
``bdi->ra_pages`` (``queue_ra_show``/``queue_ra_store``), ``nr_requests`` the scheduler's
request count (``queue_requests_store``: at least BLKDEV_MIN_RQ), the rest are read-only.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.blkdev import SECTOR_SHIFT, block_device

VIRTBLK_MAJOR = 254
VIRTBLK_MINORS = 16
BLKDEV_MIN_RQ = 4


def add_disk(k, spec) -> block_device:
    """``device_add_disk``: the disk joins ``k.block_devices``."""
    bdev = block_device(spec, (VIRTBLK_MAJOR, VIRTBLK_MINORS * len(k.block_devices)), k.arch.page_shift)
    k.block_devices[spec.name] = bdev
    return bdev


def _ulong(text: str) -> int:
    """``queue_var_store``: an unsigned decimal (kstrtoul), EINVAL otherwise."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise KernelError(errno.EINVAL, f"{text.strip()!r} is not an unsigned number") from None
    if value < 0 or value >= 1 << 64:
        raise KernelError(errno.EINVAL, f"{value} is out of range")
    return value


def queue_ra_show(k, bdev) -> str:
    return f"{bdev.ra_pages << (k.arch.page_shift - 10)}\n"


def queue_ra_store(k, bdev, text: str) -> None:
    bdev.ra_pages = _ulong(text) >> (k.arch.page_shift - 10)


def queue_requests_show(k, bdev) -> str:
    return f"{bdev.nr_requests}\n"


def queue_requests_store(k, bdev, text: str) -> None:
    bdev.nr_requests = max(_ulong(text), BLKDEV_MIN_RQ)


def _read_only(show):
    def store(k, bdev, text: str) -> None:
        raise KernelError(errno.EACCES, "read-only attribute")
    return show, store


BLOCK_ATTRIBUTES = {
    "queue/read_ahead_kb": (queue_ra_show, queue_ra_store),
    "queue/nr_requests": (queue_requests_show, queue_requests_store),
    "queue/max_sectors_kb": _read_only(lambda k, b: f"{b.max_sectors_kb}\n"),
    "queue/logical_block_size": _read_only(lambda k, b: f"{1 << SECTOR_SHIFT}\n"),
    "queue/rotational": _read_only(lambda k, b: "0\n"),
    "size": _read_only(lambda k, b: f"{b.nr_sectors}\n"),
    "dev": _read_only(lambda k, b: f"{b.bd_dev[0]}:{b.bd_dev[1]}\n"),
}
