"""``Cgroup``: a handle on a cgroup v2 directory of a ``Machine`` (``m.cgroup("app/web")``).

    >>> cg = m.cgroup("app/web")           # created, parents first, if missing (mkdir -p)
    >>> cg.write("memory.max", "512M")
    >>> p = m.spawn(cgroup="app/web")      # or cg.write("cgroup.procs", p.pid)
    >>> cg.read("memory.current"), cg.read("memory.events")

Reads and writes go through the kernel's file handlers (``kernel/cgroup/cgroup.py``,
``mm/memcontrol.py``) and return or take the files' text; bad values raise ``KernelError``
with the kernel's errno. The handle holds the path only: a cgroup removed meanwhile raises
ENOENT. ``read`` and ``write`` open the file, use it and close it, as ``cat`` and ``echo``
do; ``open`` keeps a file open (``CgroupFile``), for what the kernel keeps per open file:

    >>> f = cg.open("memory.peak")         # open(2), O_RDWR
    >>> f.write("reset")                   # from now on f reads the peak since this write
    >>> f.read(), cg.read("memory.peak")   # this file's peak; the all-time one
    >>> f.poll()                           # changed since f's last read? (memory.events: an event)
    >>> f.close()
"""

from __future__ import annotations

import errno

from .errors import KernelError
from .fs.kernfs import kernfs_generic_poll, kernfs_poll_wait
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
        return C.cgroup_file_read_once(self._k, self._cgrp(), name)

    def write(self, name: str, value: str | int) -> None:
        """Write ``value`` to the file ``name`` (``memory.max`` "512M", ``cgroup.procs`` a pid)."""
        C.cgroup_file_write_once(self._k, self._cgrp(), name, value)

    def open(self, name: str) -> "CgroupFile":
        """Open the file ``name`` and keep it open (ENOENT for no such file): a write to an
        open ``memory.peak`` or ``memory.swap.peak`` restarts the peak that file reads (6.12+),
        and ``poll`` tells whether ``memory.events`` changed since the last read."""
        return CgroupFile(self._k, C.cgroup_file_open(self._k, self._cgrp(), name), name)

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

    def mkdir(self, name: str) -> "Cgroup":
        """mkdir(2) of a child cgroup, as the kernel makes it (``cgroup_mkdir``): its controllers
        (``cgroup.controllers``, and the memory files) are those this cgroup's
        ``cgroup.subtree_control`` enables, its own ``subtree_control`` is empty. ``m.cgroup``
        instead enables memory on its way down. Raises ``KernelError`` (EEXIST, EINVAL for a
        name with "/", "." or "..", ENAMETOOLONG)."""
        if not isinstance(name, str) or "/" in name or not name:
            raise KernelError(errno.EINVAL, f"a cgroup name, not {name!r}")
        C.split_path(name)
        return Cgroup(self._k, C.cgroup_mkdir(self._k, self._cgrp(), name).path)

    def rmdir(self) -> None:
        """Remove the cgroup (``rmdir``): EBUSY while it has processes or child cgroups."""
        C.cgroup_rmdir(self._k, self._cgrp())

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r})"


class CgroupFile:
    """A cgroup file held open (``Cgroup.open``): ``read``, ``write``, ``poll``, ``close``.
    Once its cgroup is removed, reads and writes raise ENODEV; after ``close``, EBADF."""

    def __init__(self, kernel, of, name: str):
        self._k, self._of, self.name = kernel, of, name

    def _open_file(self):
        if self._of is None:
            raise KernelError(errno.EBADF, f"{self.name} is closed")
        return self._of

    @property
    def mode(self) -> int:
        """The permission bits fstat(2) reports (0o644 for a writable file, 0o444, 0o200)."""
        return C.cgroup_file_mode(self._open_file().kn)

    def read(self) -> str:
        """The file's text now, through this open file."""
        return C.cgroup_seqfile_show(self._k, self._open_file())

    def write(self, value: str | int) -> None:
        """Write ``value`` through this open file."""
        C.cgroup_file_write(self._k, self._open_file(), value)

    def poll(self) -> bool:
        """poll(2): True (EPOLLPRI) when the kernel announced a change of the file
        (``cgroup_file_notify``: ``memory.events`` on a new event) since it was opened or last
        read."""
        return kernfs_generic_poll(self._open_file())

    def poll_wait(self, fn) -> None:
        """Wait for the file's next change announcement: ``fn()`` runs then, at that simulated
        time, as a task blocked in poll(2) or inotify would wake (while the task that caused
        the change goes on: it runs when the clock next moves, e.g. that task's next sleep)."""
        kernfs_poll_wait(self._open_file(), fn)

    def close(self) -> None:
        """close(2); closing twice raises EBADF."""
        C.cgroup_file_release(self._open_file())
        self._of = None

    def __enter__(self) -> "CgroupFile":
        return self

    def __exit__(self, *exc) -> None:
        if self._of is not None:
            self.close()

    def __repr__(self) -> str:
        return f"CgroupFile({self.name!r})"
