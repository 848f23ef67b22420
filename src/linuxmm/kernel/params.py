"""The kernel command line (``init/main.c: parse_early_param``, ``lib/cmdline.c``).

``parse_cmdline`` splits ``/proc/cmdline`` text into ``(name, value)`` pairs the way
``next_arg`` does (double quotes group, ``--`` ends kernel parameters); ``memparse`` reads
sizes like ``4G`` or ``0x1000000``.
"""

from __future__ import annotations

import re

_NUM_RE = re.compile(r"\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
ULLONG_MAX = (1 << 64) - 1


def simple_strtoull(text: str) -> tuple[int, str]:
    """A base-0 number at the start of ``text`` (``0x`` hex, leading ``0`` octal, else
    decimal); return (value, rest), or (0, text) when ``text`` does not start with one."""
    m = _NUM_RE.match(text)
    if not m:
        return 0, text
    digits = m[1]
    if digits[:2].lower() == "0x":
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)  # Python's int(.., 0) refuses "017"; C reads it as octal
    else:
        value = int(digits)
    return value, text[m.end():]


def memparse(text: str, wrap: bool = True) -> tuple[int, str]:
    """Parse a size with an optional K/M/G/T/P/E suffix; return (value, rest).

    Like the kernel's ``memparse`` the number is read with base 0 (``simple_strtoull``);
    text that does not start with a number gives 0 and the text unchanged. The kernel
    computes in ``unsigned long long``, so the value wraps at 2^64 (``16E`` is 0);
    ``wrap=False`` keeps it exact, for machine files that check ranges themselves.
    """
    value, rest = simple_strtoull(text)
    if rest[:1].lower() in _SHIFT and rest != text:
        value <<= _SHIFT[rest[0].lower()]
        rest = rest[1:]
    return (value & ULLONG_MAX if wrap else value), rest


def parse_cmdline(cmdline: str) -> list[tuple[str, str | None]]:
    """Split a command line into parameters, stopping at a bare ``--`` (``parse_args``)."""
    params: list[tuple[str, str | None]] = []
    for token in _split_args(cmdline):
        if token == "--":
            break
        name, eq, value = token.partition("=")
        params.append((name, value.strip('"') if eq else None))
    return params


def _split_args(cmdline: str) -> list[str]:
    """``next_arg``: whitespace separates arguments except inside double quotes."""
    out, cur, in_quote = [], [], False
    for ch in cmdline.strip():
        if ch == '"':
            in_quote = not in_quote
            cur.append(ch)
        elif ch.isspace() and not in_quote:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


# early_param(): handlers registered by the modules that own a parameter. A handler gets the
# boot parameter state and the value, and returns 0 or a negative errno like the kernel's.
EARLY_PARAMS: dict[str, "object"] = {}


def early_param(name: str):
    def register(fn):
        EARLY_PARAMS[name] = fn
        return fn
    return register


def parse_early_param(params, cmdline: str, log) -> None:
    """``parse_early_param``: run each known early parameter's handler in command-line order.

    A handler that fails makes the kernel print ``Malformed early option '...'`` and go on.
    """
    for name, value in parse_cmdline(cmdline):
        handler = EARLY_PARAMS.get(name)
        if handler is not None and handler(params, value, log) != 0:
            log.warn(f"Malformed early option '{name}'")


# Parameters of subsystems the simulator does not model that the kernel accepts. The first
# two lines are seen accepted (not listed as unknown) in the 5.15+ boot logs of
# tests/data/dmesg and in this host's (its patched 6.18 adds deferred_init, nested_pvm and
# sched_vcpu_pack); the rest are documented in Documentation/admin-guide/kernel-parameters.txt.
OTHER_SUBSYSTEM_PARAMS = frozenset({
    "acpi_backlight", "acpi_osi", "consoleblank", "init", "initcall_blacklist", "intel_iommu", "iommu",
    "loglevel", "nohibernate", "quiet", "resume", "ro", "root", "rootflags", "rootfstype", "rdinit",
    "mitigations", "console", "reboot", "panic", "nomodule", "swiotlb", "psi", "deferred_init", "nested_pvm",
    "sched_vcpu_pack",
    "acpi", "cma", "crashkernel", "debug", "default_hugepagesz", "earlycon", "earlyprintk",
    "efi", "hugepages", "hugepagesz", "ignore_loglevel", "init_on_alloc", "init_on_free", "maxcpus",
    "nokaslr", "nomodeset", "nopti", "nosmp", "nr_cpus", "numa_balancing", "pti", "rootwait", "rw",
    "slub_debug"})
# Handled by setup_arch itself rather than through EARLY_PARAMS.
ARCH_PARAMS = frozenset({"mem", "memmap"})


def unknown_bootoptions(cmdline: str) -> list[str]:
    """The parameters ``unknown_bootoption`` hands to user space, as 5.15+'s
    ``print_unknown_bootoptions`` lists them: the kernel's handlers claim none of them and
    they name no module parameter (no dot); plain words (init's arguments) come first, then
    NAME=VALUE ones (its environment)."""
    known = EARLY_PARAMS.keys() | ARCH_PARAMS | OTHER_SUBSYSTEM_PARAMS
    unknown = [(name, value) for name, value in parse_cmdline(cmdline) if name not in known and "." not in name]
    return [name for name, value in unknown if value is None] + \
        [f"{name}={value}" for name, value in unknown if value is not None]
