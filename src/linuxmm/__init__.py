"""linuxmm: a faithful, fast simulator of the Linux kernel's memory-management subsystem.

``Machine`` boots a machine (the default one, a preset, a TOML description, a real boot
log or this host) and exposes the kernel's structures with the kernel's names.
"""

from . import cache as _cache

_cache.install()  # this package's compiled code is cached per source version (linuxmm/cache.py)

from . import debug  # noqa: E402
from .arch.x86.mm.fault import BusError, SegmentationFault, VmFaultOOM  # noqa: E402
from .errors import ConfigError, KernelError, KernelPanic, Killed, LinuxmmError, ParseError  # noqa: E402
from .machine import Machine  # noqa: E402
from .process import Process  # noqa: E402

__all__ = ["Machine", "Process", "LinuxmmError", "ParseError", "ConfigError", "KernelError",
           "SegmentationFault", "BusError", "VmFaultOOM", "Killed", "KernelPanic", "debug"]
__version__ = "0.1.0"
