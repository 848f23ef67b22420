"""The kernel log buffer (``kernel/printk``): what ``dmesg`` would show, without timestamps.

Every boot stage appends its lines here in the kernel's order; callers render them with
``str(log)``. Levels are kept because several memory lines are KERN_DEBUG (visible in
dmesg, hidden from the console).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG = 4, 5, 6, 7


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
