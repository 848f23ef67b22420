"""The command line's two consoles: data on stdout, messages and progress on stderr.

Tables shrink to the console's width and Rich cuts cells with an ellipsis; on a terminal
that is the reader's choice of window, but saved or piped output (80 columns by default)
would lose the numbers. So stdout is as wide as its widest table when it is not a
terminal, and rules (section headings) keep to ``RULE_WIDTH`` there.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.rule import Rule

RULE_WIDTH = 80
UNCUT_WIDTH = 100_000  # tables take their natural width, however wide

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else UNCUT_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def rule(title: str) -> None:
    """A section heading across the terminal (``RULE_WIDTH`` columns when not a terminal)."""
    out.print(Rule(title), width=None if out.is_terminal else RULE_WIDTH)


def print_json(data) -> None:
    """``data`` as indented JSON on stdout (``--json``; schemas in docs/json.md)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
