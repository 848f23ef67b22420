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
    current = base / digest.hexdigest()[:16]
    _os.environ["NUMBA_CACHE_DIR"] = str(current)
    _prune_numba_caches(base, current)
    if "numba" in _sys.modules:
        from numba.core import config

        config.reload_config()


def _prune_numba_caches(base: _Path, current: _Path, keep: int = 3, idle_days: float = 1.0) -> None:
    """Mark ``current`` used and delete the caches of older source versions: all but the
    ``keep`` most recently used, once idle for ``idle_days`` (another checkout may still be
    using a recent one). Each version's cache is tens of MB."""
    import shutil
    import time

    try:
        current.mkdir(parents=True, exist_ok=True)
        _os.utime(current)
        others = sorted((d for d in base.iterdir() if d.is_dir() and d != current),
                        key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return
    cutoff = time.time() - idle_days * 86400
    for old in others[keep - 1:]:
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)


_numba_cache_dir()

from . import debug  # noqa: E402
from .arch.x86.mm.fault import BusError, SegmentationFault  # noqa: E402
from .errors import ConfigError, KernelError, LinuxmmError, ParseError  # noqa: E402
from .machine import Machine  # noqa: E402
from .process import Process  # noqa: E402

__all__ = ["Machine", "Process", "LinuxmmError", "ParseError", "ConfigError", "KernelError",
           "SegmentationFault", "BusError", "debug"]
__version__ = "0.1.0"
