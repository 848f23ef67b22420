"""``struct cgroup_file`` and ``cgroup_file_notify`` (``kernel/cgroup/cgroup.c``), Linux 6.18.

A controller keeps a ``cgroup_file`` for each file whose changes it announces (the memcg's
``memory.events``, ``memory.events.local``, ``memory.swap.events``); the cgroup core fills
in its kernfs node when it creates the directory's files (``css_populate_dir`` through the
cftype's ``file_offset``) and clears it at removal. ``cgroup_file_notify`` announces a change
(``kernfs_notify``) at most once per ``CGROUP_FILE_NOTIFY_MIN_INTV``: a change within that
interval of the last announcement arms the file's ``notify_timer`` for the interval's end
instead (``timer_reduce``), which then announces it just past the interval.

An open cgroup file has a ``cgroup_file_ctx`` (``of->priv``); the peak files keep in it the
peak seen through that open file since its last write (``cgroup_of_peak``, ``of_peak_reset``).
Kept apart from the cgroup core so that the controllers, which the core imports, can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...fs.kernfs import kernfs_node, kernfs_notify
from ..timer import HZ, TICK_NSEC, Timer, jiffies

if TYPE_CHECKING:
    from ...init.main import Kernel

CGROUP_FILE_NOTIFY_MIN_INTV = -(-HZ // 100)  # DIV_ROUND_UP(HZ, 100): 10 ms, in jiffies


class cgroup_file:
    """``struct cgroup_file``: the file's kernfs node (None while the directory has no files),
    the jiffy of its last announcement (None: never) and its pending ``notify_timer``."""

    def __init__(self):
        self.kn: kernfs_node | None = None
        self.notified_at: int | None = None
        self.notify_timer: Timer | None = None


def cgroup_file_notify(k: "Kernel", cfile: cgroup_file) -> None:
    """Announce a change of the file to its pollers and inotify watchers, rate-limited."""
    if cfile.kn is None:
        return
    now, last = jiffies(k), cfile.notified_at
    if last is not None and last <= now <= last + CGROUP_FILE_NOTIFY_MIN_INTV:
        # the first jiffy past the interval: the kernel's timer, due at the interval's last
        # jiffy, finds itself still inside it and re-arms for the next tick
        expires = (last + CGROUP_FILE_NOTIFY_MIN_INTV + 1) * TICK_NSEC
        timer = cfile.notify_timer
        if timer is not None and k.clock.timer_pending(timer) and timer.expires <= expires:
            return  # timer_reduce: an earlier expiry stands
        if timer is not None:
            k.clock.del_timer(timer)
        cfile.notify_timer = k.clock.add_timer(expires, cgroup_file_notify, k, cfile)
        return
    kernfs_notify(k, cfile.kn)
    cfile.notified_at = now


def cgroup_file_clear(k: "Kernel", cfile: cgroup_file) -> None:
    """The directory's files go (``css_clear_dir``): no node, no pending announcement."""
    cfile.kn = None
    if cfile.notify_timer is not None:
        k.clock.del_timer(cfile.notify_timer)
        cfile.notify_timer = None


# ---- per-open state of a cgroup file ----------------------------------------------------------------
OFP_PEAK_UNSET = -1  # (-1UL): the open file was never written: it reads the global peak


class cgroup_of_peak:
    """``struct cgroup_of_peak``: the peak an open ``memory.peak``/``memory.swap.peak`` file
    tracks since it was last written (pages; OFP_PEAK_UNSET before its first write)."""

    def __init__(self):
        self.value = OFP_PEAK_UNSET


class cgroup_file_ctx:
    """``struct cgroup_file_ctx``, the cgroup core's ``of->priv`` of every open cgroup file:
    here only its ``peak``."""

    def __init__(self):
        self.peak = cgroup_of_peak()


def of_peak_reset(ofp: cgroup_of_peak, usage: int, watchers: list[cgroup_of_peak]) -> None:
    """A write to an open peak file (6.12+): its peak restarts at the usage now; the other
    open files that track one (``watchers``, the memcg's ``peaks`` or ``swap_peaks``) keep
    theirs but not below that usage (their window includes now); the file joins the watchers
    at its first write. The caller has reset the counter's ``local_watermark`` to ``usage``:
    from here each watcher reads max(its value, local_watermark)."""
    for peer in watchers:
        peer.value = max(peer.value, usage)
    if ofp.value == OFP_PEAK_UNSET:
        watchers.append(ofp)
    ofp.value = usage
