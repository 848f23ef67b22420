"""The project's own errors: every bad input ends in one of these, never a traceback.

The CLI prints ``str(err)`` and exits non-zero; the Python API lets them propagate.
"""

import errno as _errno


class LinuxmmError(Exception):
    """Base class of every error linuxmm raises on purpose."""


class ParseError(LinuxmmError):
    """Malformed input text (a boot log, a machine file, a trace), with its place."""

    def __init__(self, source: str, lineno: int | None, message: str):
        self.source, self.lineno, self.message = source, lineno, message
        where = f"{source}:{lineno}" if lineno else source
        super().__init__(f"{where}: {message}")


class ConfigError(LinuxmmError):
    """A machine description that cannot describe a real machine (no memory, overlaps, ...)."""


class KernelError(LinuxmmError):
    """A syscall-level failure carrying the kernel's errno (EINVAL, ENOMEM, ...)."""

    def __init__(self, err: int, message: str = ""):
        self.errno = err
        name = _errno.errorcode.get(err, str(err))
        super().__init__(f"-{name}: {message}" if message else f"-{name}")


class Killed(LinuxmmError):
    """The process was killed by a signal it cannot survive (the OOM killer's SIGKILL): raised by
    the call that was running when the kill landed, or by the first call on a process killed
    while it was not running. ``signal`` is the signal number (9), ``pid``/``comm`` the victim."""

    def __init__(self, pid: int, comm: str, signal: int, reason: str):
        self.pid, self.comm, self.signal, self.reason = pid, comm, signal, reason
        super().__init__(f"process {pid} ({comm}) killed by signal {signal}: {reason}")


class KernelPanic(LinuxmmError):
    """The simulated kernel panicked (``panic()``): the machine is stopped, every later call on
    it raises this again. ``message`` is what ``Kernel panic - not syncing:`` printed."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(f"Kernel panic - not syncing: {message}")
