"""linuxmm: a faithful, fast simulator of the Linux kernel's memory-management subsystem.

``Machine`` boots a machine (the default one, a preset, a TOML description, a real boot
log or this host) and exposes the kernel's structures with the kernel's names.
"""

import hashlib as _hashlib
import os as _os
import sys as _sys
from pathlib import Path as _Path


def _numba_cache_dir() -> None:
    """Compiled code is cached on disk, in a directory keyed by this package's source.

    numba only notices edits to a function's own file, so a cache built against older
    callees elsewhere could be reused; one directory per source version rules that out.
    An explicit NUMBA_CACHE_DIR from the user wins.
    """
    if "NUMBA_CACHE_DIR" in _os.environ:
        return
    digest = _hashlib.sha1()
    for path in sorted(_Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    base = _Path(_os.environ.get("XDG_CACHE_HOME", _Path.home() / ".cache")) / "linuxmm-numba"
    _os.environ["NUMBA_CACHE_DIR"] = str(base / digest.hexdigest()[:16])
    if "numba" in _sys.modules:
        from numba.core import config

        config.reload_config()


_numba_cache_dir()

from . import debug  # noqa: E402
from .arch.x86.mm.fault import BusError, SegmentationFault  # noqa: E402
from .errors import ConfigError, KernelError, LinuxmmError, ParseError  # noqa: E402
from .machine import Machine  # noqa: E402
from .process import Process  # noqa: E402

__all__ = ["Machine", "Process", "LinuxmmError", "ParseError", "ConfigError", "KernelError",
           "SegmentationFault", "BusError", "debug"]
__version__ = "0.1.0"
