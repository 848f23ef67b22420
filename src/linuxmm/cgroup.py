"""``Cgroup``: a handle on a cgroup v2 directory of a ``Machine`` (``m.cgroup("app/web")``).

    >>> cg = m.cgroup("app/web")           # created, parents first, if missing (mkdir -p)
    >>> cg.write("memory.max", "512M")
    >>> p = m.spawn(cgroup="app/web")      # or cg.write("cgroup.procs", p.pid)
    >>> cg.read("memory.current"), cg.read("memory.events")

Reads and writes go through the kernel's file handlers (``kernel/cgroup/cgroup.py``,
``mm/memcontrol.py``) and return or take the files' text; bad values raise ``KernelError``
with the kernel's errno. The handle holds the path only: a cgroup removed meanwhile raises
ENOENT.
"""

from __future__ import annotations

from .kernel.cgroup import cgroup as C


class Cgroup:
    """A cgroup of the machine's cgroup v2 hierarchy, by path ("/" is the root)."""

    def __init__(self, kernel, path: str):
        self._k = kernel
        self.path = C.cgroup_lookup(kernel, path).path

    def _cgrp(self):
        return C.cgroup_lookup(self._k, self.path)

    def read(self, name: str) -> str:
        """The text of the cgroup's file ``name`` (``memory.current``, ``cgroup.procs``, ...)."""
        return C.cgroup_file_read(self._k, self._cgrp(), name)

    def write(self, name: str, value: str | int) -> None:
        """Write ``value`` to the file ``name`` (``memory.max`` "512M", ``cgroup.procs`` a pid)."""
        C.cgroup_file_write(self._k, self._cgrp(), name, value)

    @property
    def procs(self) -> list[int]:
        """The pids of the processes in this cgroup itself (``cgroup.procs``)."""
        return [t.pid for t in C.cgroup_tasks(self._k, self._cgrp())]

    @property
    def files(self) -> list[str]:
        """The names of the cgroup's interface files."""
        return C.cgroup_files(self._cgrp())

    @property
    def children(self) -> list["Cgroup"]:
        return [Cgroup(self._k, c.path) for c in self._cgrp().children.values()]

    def rmdir(self) -> None:
        """Remove the cgroup (``rmdir``): EBUSY while it has processes or child cgroups."""
        C.cgroup_rmdir(self._k, self._cgrp())

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r})"
