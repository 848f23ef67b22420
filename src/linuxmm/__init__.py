"""linuxmm: a faithful, fast simulator of the Linux kernel's memory-management subsystem.

``Machine`` boots a machine (the default one, a preset, a TOML description, a real boot
log or this host) and exposes the kernel's structures with the kernel's names.
"""

from . import debug
from .arch.x86.mm.fault import SegmentationFault
from .errors import ConfigError, KernelError, LinuxmmError, ParseError
from .machine import Machine
from .process import Process

__all__ = ["Machine", "Process", "LinuxmmError", "ParseError", "ConfigError", "KernelError",
           "SegmentationFault", "debug"]
__version__ = "0.1.0"
