"""kernfs, the file system under sysfs and the cgroup hierarchy (``fs/kernfs/file.c``), Linux
6.18: the parts cgroup files use.

A ``kernfs_node`` stands for one file of a cgroup directory. Every open of it is a
``kernfs_open_file`` (``of``) listed on the node (the kernel's ``kernfs_open_node``);
``of.priv`` is what the file's owner keeps per open (the cgroup core's ``cgroup_file_ctx``).
When the file's content changes its owner calls ``kernfs_notify``: the node's event count
goes up, which ``poll`` on an open file compares with the count the file saw when it was
last read (``kernfs_generic_poll``: a changed count reports EPOLLERR|EPOLLPRI), and the tasks
waiting on it in poll(2) or inotify (IN_MODIFY, from ``kernfs_notify_workfn``) wake up. A
waiting task is a callback here: the wake-up puts it on the clock's event queue at the time
of the notification, so it runs as soon as simulated time moves on (the notifying task's next
sleep or access), as a task woken on the machine's other CPU would.

Removing the directory deactivates its nodes (``kernfs_drain_open_files``): the files still
open are released, and reads and writes through them fail with ENODEV.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..errors import KernelError

if TYPE_CHECKING:
    from ..init.main import Kernel


class kernfs_node:
    """One file of a kernfs directory: its name, the object its handlers act on (for a
    cgroup file its css: the memcg, or the cgroup for a core file), its operations (the
    owner's: a cgroup file's (show, write, release)), the notifications so far
    (``on->event``), its open files (``on->files``), the callbacks of the tasks waiting for
    its next notification (``on->poll``), and whether it was removed (deactivated)."""

    def __init__(self, name: str, css, ops: tuple):
        self.name, self.css, self.ops = name, css, ops
        self.event = 0
        self.open_files: list[kernfs_open_file] = []
        self.waiters: list = []
        self.removed = False


class kernfs_open_file:
    """``struct kernfs_open_file``: one open of ``kn``: the event count it saw at its last
    read, its owner's per-open state (``priv``), and whether it was released."""

    def __init__(self, kn: kernfs_node, priv):
        self.kn, self.priv = kn, priv
        self.event = kn.event
        self.released = False


def kernfs_fop_open(kn: kernfs_node, priv) -> kernfs_open_file:
    """open(2) of the node's file: a new open file on its list (ENODEV once removed)."""
    if kn.removed:
        raise KernelError(errno.ENODEV, f"{kn.name}: the cgroup was removed")
    of = kernfs_open_file(kn, priv)
    kn.open_files.append(of)
    return of


def kernfs_get_active(of: kernfs_open_file) -> None:
    """A read or write may go on only while the node is active: ENODEV once removed."""
    if of.kn.removed or of.released:
        raise KernelError(errno.ENODEV, f"{of.kn.name}: the cgroup was removed")


def kernfs_seq_show(of: kernfs_open_file, show) -> str:
    """A read: the file's text; the open file has now seen every notification so far."""
    kernfs_get_active(of)
    of.event = of.kn.event
    return show()


def kernfs_generic_poll(of: kernfs_open_file) -> bool:
    """poll(2) on the open file: True (EPOLLERR|EPOLLPRI) when the node was notified since the
    file was opened or last read."""
    return of.event != of.kn.event


def kernfs_poll_wait(of: kernfs_open_file, fn) -> None:
    """A task waits on the open file: ``fn()`` runs at the node's next notification."""
    kernfs_get_active(of)
    of.kn.waiters.append(fn)


def kernfs_notify(k: "Kernel", kn: kernfs_node) -> None:
    """The file changed: count the event and wake its waiters (each on the clock, now)."""
    kn.event += 1
    waiters, kn.waiters = kn.waiters, []
    for fn in waiters:
        k.clock.add_timer(k.clock.now, fn)


def kernfs_drain_open_files(kn: kernfs_node, release) -> None:
    """The node is removed: release each file still open on it (``release(of)``)."""
    kn.removed = True
    kn.waiters = []
    for of in list(kn.open_files):
        kernfs_release_file(of, release)


def kernfs_release_file(of: kernfs_open_file, release) -> None:
    """close(2) or removal, whichever comes first, releases the open file once."""
    if of.released:
        return
    of.released = True
    of.kn.open_files.remove(of)
    if release is not None:
        release(of)
