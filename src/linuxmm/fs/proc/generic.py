"""The /proc entries the simulator serves (``fs/proc/generic.c``'s registry), Linux 6.18.

``proc_read(k, path)`` returns a file's text: the mm files registered by ``mm/vmstat.c``
(zoneinfo, buddyinfo, pagetypeinfo, vmstat), ``fs/proc/meminfo.c`` and the ``/proc/sys/vm``
table. Any other path is ``-ENOENT``. It renders the kernel's state as it is; ``Machine.proc``
first builds the allocator's free lists, which the simulator creates on first use.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Callable

from ...errors import KernelError
from ...include.linux.sched import TASK_RUNNING

if TYPE_CHECKING:
    from ...init.main import Kernel


def _entries() -> dict[str, Callable[["Kernel"], str]]:
    from ...kernel.sched.psi import pressure_memory_show
    from ...mm import vmstat
    from ...mm.swapfile import swap_show
    from .meminfo import meminfo_proc_show

    return {"/proc/zoneinfo": vmstat.zoneinfo_show, "/proc/buddyinfo": vmstat.frag_show,
            "/proc/pagetypeinfo": vmstat.pagetypeinfo_show, "/proc/vmstat": vmstat.vmstat_show,
            "/proc/meminfo": meminfo_proc_show, "/proc/swaps": swap_show,
            "/proc/pressure/memory": pressure_memory_show}


PROC_FILES = ("zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "vmstat", "swaps", "pressure/memory")


def proc_lookup(path: str) -> tuple[str, Callable[["Kernel"], str]]:
    """The canonical ``/proc/...`` path and its show function; ``-ENOENT`` if unknown."""
    from ...kernel.sysctl import proc_sys_vm_read

    path = "/" + path.strip().lstrip("/")
    if not path.startswith("/proc/"):
        path = "/proc" + path
    if path.startswith("/proc/sys/vm/"):
        name = path[len("/proc/sys/vm/"):]
        return path, lambda k: proc_sys_vm_read(k, name)
    show = _entries().get(path)
    if show is None:
        show = _pid_entry(path)
    if show is None:
        names = ", ".join(p.removeprefix("/proc/") for p in _entries())
        raise KernelError(errno.ENOENT, f"{path}: no such file in the simulated /proc (it has {names}, "
                                        "sys/vm/NAME and PID/{maps,smaps,smaps_rollup,status,oom_score,oom_score_adj})")
    return path, show


def _pid_entry(path: str):
    """``/proc/PID/{maps,smaps,smaps_rollup,status,oom_score,oom_score_adj}`` of a live
    simulated process."""
    parts = path.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    pid, name = int(parts[2]), parts[3]
    from . import task_mmu

    shows = {"maps": task_mmu.proc_pid_maps, "smaps": task_mmu.proc_pid_smaps,
             "smaps_rollup": task_mmu.proc_pid_smaps_rollup, "status": task_mmu.proc_pid_status,
             "oom_score": proc_oom_score, "oom_score_adj": proc_oom_score_adj}
    if name not in shows:
        return None

    def show(k):
        task = k.tasks.get(pid)
        if task is None or task.state != TASK_RUNNING:
            raise KernelError(errno.ENOENT, f"{path}: no such process")
        return shows[name](k, task)
    return show


def proc_oom_score(k: "Kernel", task) -> str:
    """``/proc/PID/oom_score`` (``fs/proc/base.c``)."""
    from ...mm.oom_kill import proc_oom_score as score

    return f"{score(k, task)}\n"


def proc_oom_score_adj(k: "Kernel", task) -> str:
    return f"{task.oom_score_adj}\n"


def proc_read(k: "Kernel", path: str) -> str:
    return proc_lookup(path)[1](k)


def proc_write(k: "Kernel", path: str, value: str) -> None:
    """A write to a /proc file that takes one: ``/proc/PID/clear_refs`` (``fs/proc/task_mmu.c``)
    and ``/proc/sys/vm/NAME``; EACCES for a file that is read-only, ENOENT for no file."""
    from ...kernel.sysctl import proc_sys_vm_write
    from .task_mmu import clear_refs_write

    path = "/proc/" + path.strip().lstrip("/").removeprefix("proc/")
    parts = path.split("/")
    if path.startswith("/proc/sys/vm/"):
        proc_sys_vm_write(k, path[len("/proc/sys/vm/"):], value)
    elif len(parts) == 4 and parts[2].isdigit() and parts[3] == "clear_refs":
        task = k.tasks.get(int(parts[2]))
        if task is None or task.state != TASK_RUNNING:
            raise KernelError(errno.ENOENT, f"{path}: no such process")
        clear_refs_write(k, task, value)
    else:
        proc_lookup(path)  # ENOENT for a file that does not exist
        raise KernelError(errno.EACCES, f"{path}: the file is read-only")
