"""The files under /sys the simulator has (``fs/sysfs``), Linux 6.18.

Each is a ``kobj_attribute`` of the kernel object that owns it: a show function that prints
it and a store function that parses a write, both in the module of that subsystem. Paths are
relative to /sys; debugfs files appear under ``kernel/debug`` where it is mounted. Block devices
have theirs under ``block/<disk>/`` (``queue/read_ahead_kb``, ``queue/nr_requests``, ...).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..block.genhd import BLOCK_ATTRIBUTES
from ..errors import KernelError
from ..mm.huge_memory import (enabled_show, enabled_store, split_huge_pages_show, split_huge_pages_write,
                              use_zero_page_show, use_zero_page_store)
from ..mm.khugepaged import KHUGEPAGED_ATTRIBUTES
from ..mm.lru_gen import LRU_GEN_ATTRIBUTES
from ..mm.memory import fault_around_bytes_get, fault_around_bytes_set
from ..mm.shmem import shmem_enabled_show, shmem_enabled_store

if TYPE_CHECKING:
    from ..init.main import Kernel

SYSFS_ATTRIBUTES = {
    "kernel/mm/transparent_hugepage/enabled": (enabled_show, enabled_store),
    "kernel/mm/transparent_hugepage/use_zero_page": (use_zero_page_show, use_zero_page_store),
    "kernel/mm/transparent_hugepage/shmem_enabled": (shmem_enabled_show, shmem_enabled_store),
    **KHUGEPAGED_ATTRIBUTES,  # kernel/mm/transparent_hugepage/khugepaged/max_ptes_none, full_scans, ...
    "kernel/debug/fault_around_bytes": (fault_around_bytes_get, fault_around_bytes_set),  # debugfs
    "kernel/debug/split_huge_pages": (split_huge_pages_show, split_huge_pages_write),  # debugfs
    **LRU_GEN_ATTRIBUTES,  # kernel/mm/lru_gen/enabled, min_ttl_ms (ENOENT without CONFIG_LRU_GEN)
}


def _attribute(k: "Kernel", path: str):
    """The (show, store) pair of a file, bound to its kernel object: the machine-wide ones
    above, or ``block/<disk>/<attribute>`` of a disk (``block/genhd.py BLOCK_ATTRIBUTES``)."""
    key = path.strip().removeprefix("/sys/").strip("/")
    if key in SYSFS_ATTRIBUTES:
        show, store = SYSFS_ATTRIBUTES[key]
        return show, store
    disk, _, attr = key.removeprefix("block/").partition("/")
    if key.startswith("block/") and disk in k.block_devices and attr in BLOCK_ATTRIBUTES:
        show, store = BLOCK_ATTRIBUTES[attr]
        bdev = k.block_devices[disk]
        return (lambda k: show(k, bdev)), (lambda k, value: store(k, bdev, value))
    names = list(SYSFS_ATTRIBUTES) + [f"block/{d}/{a}" for d in k.block_devices for a in BLOCK_ATTRIBUTES]
    raise KernelError(errno.ENOENT, f"/sys/{key}: not simulated (simulated: {', '.join(names)})")


def sysfs_read(k: "Kernel", path: str) -> str:
    return _attribute(k, path)[0](k)


def sysfs_write(k: "Kernel", path: str, value: str) -> None:
    _attribute(k, path)[1](k, value)
