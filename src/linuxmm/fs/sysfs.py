"""The files under /sys the simulator has (``fs/sysfs``), Linux 6.18.

Each is a ``kobj_attribute`` of the kernel object that owns it: a show function that prints
it and a store function that parses a write, both in the module of that subsystem. Paths are
relative to /sys.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import KernelError
from ..mm.huge_memory import enabled_show, enabled_store

if TYPE_CHECKING:
    from ..init.main import Kernel

SYSFS_ATTRIBUTES = {
    "kernel/mm/transparent_hugepage/enabled": (enabled_show, enabled_store),
}


def _attribute(path: str):
    key = path.strip().removeprefix("/sys/").strip("/")
    if key not in SYSFS_ATTRIBUTES:
        raise KernelError(errno.ENOENT, f"/sys/{key}: not simulated (simulated: {', '.join(SYSFS_ATTRIBUTES)})")
    return SYSFS_ATTRIBUTES[key]


def sysfs_read(k: "Kernel", path: str) -> str:
    return _attribute(path)[0](k)


def sysfs_write(k: "Kernel", path: str, value: str) -> None:
    _attribute(path)[1](k, value)
