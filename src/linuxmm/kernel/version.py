"""Which kernel we imitate: ``LINUX_VERSION_CODE`` and the feature gates that hang on it.

Messages, formulas and limits changed across releases; code asks ``version >= (6, 10)``
instead of hard-coding one behaviour. Distribution kernels are treated as their base release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, eq=False)
class KernelVersion:
    major: int
    minor: int
    patch: int = 0
    release: str = ""  # the full `uname -r` string, for messages only

    @classmethod
    def parse(cls, text: str) -> "KernelVersion":
        """Parse ``6.18``, ``4.15.0-112-generic`` or a ``Linux version ...`` line."""
        m = _VERSION_RE.search(text)
        if not m:
            raise ConfigError(f"cannot read a kernel version from {text!r}")
        major, minor, patch = int(m[1]), int(m[2]), int(m[3] or 0)
        if upstream := _UPSTREAM_RE.search(text):  # Debian/Ubuntu name the stable release they build
            up = [int(g) for g in upstream.groups() if g is not None]
            if (up[0], up[1]) == (major, minor):
                patch = up[2]
        return cls(major, minor, patch, text.strip().split()[0] if text.strip() else text)

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __ge__(self, other) -> bool:  # type: ignore[override]
        return self._key() >= _as_key(other)

    def __lt__(self, other) -> bool:  # type: ignore[override]
        return self._key() < _as_key(other)

    def __gt__(self, other) -> bool:  # type: ignore[override]
        return self._key() > _as_key(other)

    def __le__(self, other) -> bool:  # type: ignore[override]
        return self._key() <= _as_key(other)

    def __eq__(self, other) -> bool:
        try:
            return self._key() == _as_key(other)
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def distro(self) -> str:
        """The distribution a release string names, for its known backports ('' if mainline)."""
        r = self.release.lower()
        for name, pattern in _DISTROS:
            if re.search(pattern, r):
                return name
        return ""

    @property
    def distro_build(self) -> int:
        """The distribution's build number after the base release (``4.18.0-305.19.1.el8_4``: 305)."""
        m = re.match(r"\d+\.\d+(?:\.\d+)?-(\d+)", self.release)
        return int(m[1]) if m else 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")


# "#1 SMP Debian 5.10.46-4 (2021-08-03)", "(Ubuntu 5.4.0-90.101-generic 5.4.148)": the
# upstream sublevel that a "5.10.0-8-amd64" or "5.4.0-90-generic" release string hides.
_UPSTREAM_RE = re.compile(r"#\S+ (?:SMP )?(?:PREEMPT )?Debian (\d+)\.(\d+)\.(\d+)|\(Ubuntu \S+ (\d+)\.(\d+)\.(\d+)\)")
_DISTROS = [("rhel", r"\.el\d"), ("fedora", r"\.fc\d"), ("ubuntu", r"-generic$"),
            ("debian", r"-(amd64|586|686|686-pae|arm64|rt-amd64)$"), ("rosa", r"rosa|nrj"),
            ("suse", r"-default$")]


def _as_key(other) -> tuple[int, int, int]:
    if isinstance(other, KernelVersion):
        return other._key()
    t = tuple(other)
    return (t + (0, 0, 0))[:3]  # type: ignore[return-value]


DEFAULT_VERSION = KernelVersion(6, 18, 0, "6.18.0")
