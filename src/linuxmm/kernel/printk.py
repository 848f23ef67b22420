"""The kernel log buffer (``kernel/printk``): what ``dmesg`` would show, without timestamps.

Every boot stage appends its lines here in the kernel's order, and so does everything that
prints at run time (segfaults, allocation failures, the OOM killer's report); callers render
them with ``str(log)`` (``Machine.dmesg``). Levels are kept because several memory lines are
KERN_DEBUG (visible in dmesg, hidden from the console).

``dump_stack`` (``lib/dump_stack.c``) prints the ``CPU:`` line and the call chain of a report,
as far as a simulation has one: the kernel's function names of the path taken, no addresses,
offsets or registers, and no ``Hardware name:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KERN_EMERG, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG = 0, 3, 4, 5, 6, 7


@dataclass
class LogBuffer:
    lines: list[tuple[int, str]] = field(default_factory=list)

    def printk(self, text: str, level: int = KERN_INFO) -> None:
        self.lines.append((level, text))

    def info(self, text: str) -> None:
        self.printk(text, KERN_INFO)

    def debug(self, text: str) -> None:
        self.printk(text, KERN_DEBUG)

    def warn(self, text: str) -> None:
        self.printk(text, KERN_WARNING)

    def text(self) -> list[str]:
        return [t for _, t in self.lines]

    def __str__(self) -> str:
        return "".join(t + "\n" for _, t in self.lines)


def dump_stack(k, task, frames) -> None:
    """``dump_stack_lvl``: who runs where (``current``, or the idle task in kernel context),
    then ``Call Trace:`` with one function per line, innermost first, between the
    ``<TASK>`` markers x86-64 prints."""
    log = k.log
    cpu, pid, comm = (task.cpu, task.pid, task.comm) if task is not None else (0, 0, "swapper/0")
    log.warn(f"CPU: {cpu} UID: 0 PID: {pid} Comm: {comm} Not tainted {k.version.release or k.version} #1")
    log.warn("Call Trace:")
    log.warn(" <TASK>")
    for fn in frames:
        log.warn(f" {fn}")
    log.warn(" </TASK>")
