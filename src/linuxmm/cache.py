"""Where numba caches linuxmm's compiled code (not a kernel file).

Compiled code is cached on disk in one directory per version of this package's source,
``$XDG_CACHE_HOME/linuxmm-numba/<source hash>`` (``~/.cache/...`` by default): numba notices
edits only to a function's own file, so a cache built against older callees elsewhere
could be reused; one directory per source version rules that out.

The directory is chosen by a numba cache locator (a ``numba.core.caching._CacheLocator``
first in ``CacheImpl._locator_classes``) that serves only this package's files, so importing linuxmm changes neither ``os.environ`` nor
numba's settings for anyone else's code, and creates or deletes nothing: the directory is
made when numba first saves compiled code into it. An explicit ``NUMBA_CACHE_DIR`` from the
user still wins (numba's own locator then serves every file). Old versions' directories are
only removed by an explicit ``linuxmm cache prune`` (``prune``); ``linuxmm cache info``
lists them (``versions``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from numba.core import caching, config

PACKAGE_DIR = Path(__file__).resolve().parent
_CACHE_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in numba 0.60


def cache_root() -> Path:
    """The directory holding one cache directory per source version."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "linuxmm-numba"


@lru_cache(maxsize=1)
def source_hash() -> str:
    """The first 16 hex digits of the SHA-1 of every source file of the package."""
    digest = hashlib.sha1()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def current_dir() -> Path:
    """This source version's cache directory (it may not exist yet)."""
    return cache_root() / source_hash()


def _writable(path: Path) -> bool:
    """``path`` exists and is writable, or could be created in its nearest existing parent."""
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


class LinuxmmCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Caches functions defined in linuxmm's own files under ``current_dir()``; declines
    every other file, and every file when the user set ``NUMBA_CACHE_DIR``."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(current_dir() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR or not Path(py_file).resolve().is_relative_to(PACKAGE_DIR):
            return None
        self = cls(py_func, py_file)
        # numba's locators create the directory here; ours waits for the first save
        # (Cache.save_overload calls ensure_cache_path), so importing writes nothing.
        return self if _writable(Path(self._cache_path)) else None


def install() -> None:
    """Put ``LinuxmmCacheLocator`` first in numba's list of locators (once)."""
    classes = _CACHE_IMPL._locator_classes
    if LinuxmmCacheLocator not in classes:
        classes.insert(0, LinuxmmCacheLocator)


@dataclass(frozen=True)
class CacheVersion:
    """One source version's cache directory: its path, size and last modification."""

    path: Path
    bytes: int
    mtime: float
    current: bool


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def versions(root: Path | None = None) -> list[CacheVersion]:
    """Every version directory under ``root`` (default ``cache_root()``), newest first."""
    root = cache_root() if root is None else root
    if not root.is_dir():
        return []
    cur = current_dir()
    found = [CacheVersion(d, _du(d), d.stat().st_mtime, d == cur) for d in root.iterdir() if d.is_dir()]
    return sorted(found, key=lambda v: v.mtime, reverse=True)


def prune(root: Path | None = None, keep: int = 0, idle_days: float = 0.0) -> list[CacheVersion]:
    """Delete the cache directories of other source versions, except the ``keep`` most
    recently modified ones and those modified within ``idle_days`` (another checkout may
    still be using them). The current version's directory is always kept. Returns what
    was deleted."""
    cutoff = time.time() - idle_days * 86400
    others = [v for v in versions(root) if not v.current]
    gone = [v for v in others[keep:] if v.mtime < cutoff]
    for v in gone:
        shutil.rmtree(v.path, ignore_errors=True)
    return gone
