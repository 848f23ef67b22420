"""getrlimit/setrlimit (``do_prlimit``) and prctl (``kernel/sys.c``), Linux 6.18.

prctl's memory options: PR_SET/GET_THP_DISABLE, PR_SET/GET_MDWE, and PR_SET_VMA with
PR_SET_VMA_ANON_NAME (``prctl_set_vma``, CONFIG_ANON_VMA_NAME: off on the development host,
where it is EINVAL), whose name argument is a Python string (or None, for the NULL pointer
that removes the name).

Resource limits are kept per address space here (``mm.rlimits``: name -> (cur, max) in
bytes, None for RLIM_INFINITY), since the only limits modelled are the memory ones the mm
code reads (RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK); the kernel keeps them in
``signal_struct``, shared by the threads and inherited by fork, as ``dup_mmap``'s copy does
here. ``do_prlimit`` refuses a soft limit above the hard one (EINVAL) and raising the hard
limit without CAP_SYS_RESOURCE (EPERM).
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..mm.madvise import madvise_set_anon_name
from ..include.linux.mm_types import (MMF_DISABLE_THP_COMPLETELY, MMF_DISABLE_THP_EXCEPT_ADVISED, MMF_HAS_MDWE,
                                      MMF_HAS_MDWE_NO_INHERIT, mm_struct)

RLIM_INFINITY = (1 << 64) - 1
# include/uapi/asm-generic/resource.h, in resource-number order
RLIMIT_NAMES = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
                "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
                "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME")


def rlimit_name(resource) -> str:
    """``RLIMIT_MEMLOCK``, ``"memlock"`` or the resource number: the limit's name; EINVAL else."""
    if isinstance(resource, int) and not isinstance(resource, bool):
        if 0 <= resource < len(RLIMIT_NAMES):
            return RLIMIT_NAMES[resource]
    elif isinstance(resource, str):
        name = resource.strip().upper()
        name = name if name.startswith("RLIMIT_") else "RLIMIT_" + name
        if name in RLIMIT_NAMES:
            return name
    raise KernelError(errno.EINVAL, f"unknown resource {resource!r} (one of {', '.join(RLIMIT_NAMES)})")


def _from_user(value, what: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RLIM_INFINITY:
        raise KernelError(errno.EINVAL, f"{what} must be 0..RLIM_INFINITY, not {value!r}")
    return None if value == RLIM_INFINITY else value


def _to_user(value: int | None) -> int:
    return RLIM_INFINITY if value is None else value


def _above(a: int | None, b: int | None) -> bool:
    """Is limit ``a`` above limit ``b`` (None is infinity)?"""
    return a is None and b is not None or a is not None and b is not None and a > b


def getrlimit(mm: mm_struct, resource) -> tuple[int, int]:
    """getrlimit(2): (rlim_cur, rlim_max), RLIM_INFINITY for no limit."""
    cur, max_ = mm.rlimits.get(rlimit_name(resource), (None, None))
    return _to_user(cur), _to_user(max_)


def do_prlimit(mm: mm_struct, resource, rlim_cur: int, rlim_max: int) -> None:
    """setrlimit(2)."""
    name = rlimit_name(resource)
    cur, max_ = _from_user(rlim_cur, "rlim_cur"), _from_user(rlim_max, "rlim_max")
    if _above(cur, max_):
        raise KernelError(errno.EINVAL, f"setrlimit: soft limit {rlim_cur} above the hard limit {rlim_max}")
    old_max = mm.rlimits.get(name, (None, None))[1]
    if _above(max_, old_max) and not mm.capable("CAP_SYS_RESOURCE"):
        raise KernelError(errno.EPERM, f"setrlimit: raising the hard {name} needs CAP_SYS_RESOURCE")
    mm.rlimits = {**mm.rlimits, name: (cur, max_)}  # a forked child shares the old table


# ---- prctl ------------------------------------------------------------------------------------
# include/uapi/linux/prctl.h
PR_GET_THP_DISABLE, PR_SET_THP_DISABLE = 42, 41
PR_THP_DISABLE_EXCEPT_ADVISED = 1 << 1
PR_SET_MDWE, PR_GET_MDWE = 65, 66
PR_MDWE_REFUSE_EXEC_GAIN, PR_MDWE_NO_INHERIT = 1 << 0, 1 << 1
PR_SET_VMA, PR_SET_VMA_ANON_NAME = 0x53564D41, 0
ANON_VMA_NAME_MAX_LEN = 80  # with the terminating NUL
ANON_VMA_NAME_INVALID_CHARS = "\\`$[]"


def _einval(why: str) -> KernelError:
    return KernelError(errno.EINVAL, f"prctl: {why}")


def prctl_get_thp_disable(mm: mm_struct, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    """1 when THP is off for the whole process, 3 (1 | EXCEPT_ADVISED) when only where not
    asked for with MADV_HUGEPAGE, else 0."""
    if arg2 or arg3 or arg4 or arg5:
        raise _einval("PR_GET_THP_DISABLE takes no arguments")
    if MMF_DISABLE_THP_COMPLETELY in mm.flags:
        return 1
    return 1 | PR_THP_DISABLE_EXCEPT_ADVISED if MMF_DISABLE_THP_EXCEPT_ADVISED in mm.flags else 0


def prctl_set_thp_disable(mm: mm_struct, thp_disable: int, flags: int, arg4: int, arg5: int) -> int:
    """Turn THP off for every VMA, or (EXCEPT_ADVISED) for the VMAs not MADV_HUGEPAGE'd; 0
    turns it back to the global policy. Inherited by fork."""
    if arg4 or arg5:
        raise _einval("PR_SET_THP_DISABLE takes no fourth or fifth argument")
    if (not thp_disable and flags) or flags & ~PR_THP_DISABLE_EXCEPT_ADVISED:
        raise _einval(f"PR_SET_THP_DISABLE: bad flags {flags:#x}")
    mm.flags -= {MMF_DISABLE_THP_COMPLETELY, MMF_DISABLE_THP_EXCEPT_ADVISED}
    if thp_disable:
        mm.flags.add(MMF_DISABLE_THP_EXCEPT_ADVISED if flags else MMF_DISABLE_THP_COMPLETELY)
    mm.hooks.vma_changed(mm)  # the fault path sees the new policy
    return 0


def get_current_mdwe(mm: mm_struct) -> int:
    bits = PR_MDWE_REFUSE_EXEC_GAIN if MMF_HAS_MDWE in mm.flags else 0
    return bits | (PR_MDWE_NO_INHERIT if MMF_HAS_MDWE_NO_INHERIT in mm.flags else 0)


def prctl_set_mdwe(mm: mm_struct, bits: int, arg3: int, arg4: int, arg5: int) -> int:
    """Memory-deny-write-execute: from now on no mapping may be writable and executable, and
    none may become executable (``map_deny_write_exec``). It cannot be turned off or changed."""
    if arg3 or arg4 or arg5:
        raise _einval("PR_SET_MDWE takes one argument")
    if bits & ~(PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT):
        raise _einval(f"PR_SET_MDWE: unknown bits {bits:#x}")
    if bits & PR_MDWE_NO_INHERIT and not bits & PR_MDWE_REFUSE_EXEC_GAIN:
        raise _einval("PR_MDWE_NO_INHERIT needs PR_MDWE_REFUSE_EXEC_GAIN")
    current = get_current_mdwe(mm)
    if current and current != bits:
        raise KernelError(errno.EPERM, "prctl: MDWE is set and cannot be changed")
    if bits & PR_MDWE_REFUSE_EXEC_GAIN:
        mm.flags.add(MMF_HAS_MDWE)
    if bits & PR_MDWE_NO_INHERIT:
        mm.flags.add(MMF_HAS_MDWE_NO_INHERIT)
    return 0


def prctl_get_mdwe(mm: mm_struct, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    if arg2 or arg3 or arg4 or arg5:
        raise _einval("PR_GET_MDWE takes no arguments")
    return get_current_mdwe(mm)


def is_valid_name_char(ch: str) -> bool:
    """Printable ASCII but for the characters that would confuse a /proc/PID/maps parser."""
    return " " <= ch <= "~" and ch not in ANON_VMA_NAME_INVALID_CHARS


def anon_vma_name_from_user(uname) -> str | None:
    """``strndup_user(uname, ANON_VMA_NAME_MAX_LEN)`` and the character check: EINVAL for a
    name of 80 characters or more, or with a character ``is_valid_name_char`` refuses;
    EFAULT for something that is not a string (no valid pointer)."""
    if uname is None or uname == 0:  # NULL
        return None
    if not isinstance(uname, str):
        raise KernelError(errno.EFAULT, f"prctl: PR_SET_VMA_ANON_NAME: the name must be a string, not {uname!r}")
    name = uname.split("\0", 1)[0]  # the C string ends at its NUL
    if len(name) >= ANON_VMA_NAME_MAX_LEN:
        raise _einval(f"PR_SET_VMA_ANON_NAME: name longer than {ANON_VMA_NAME_MAX_LEN - 1} characters")
    if not all(is_valid_name_char(ch) for ch in name):
        raise _einval(f"PR_SET_VMA_ANON_NAME: {name!r} holds a character outside printable ASCII "
                      f"or one of {ANON_VMA_NAME_INVALID_CHARS!r}")
    return name


def prctl_set_vma(mm: mm_struct, opt: int, addr: int, size: int, uname) -> int:
    """PR_SET_VMA: the only operation is PR_SET_VMA_ANON_NAME, naming the anonymous memory
    of [addr, addr + size) (``madvise_set_anon_name``)."""
    if not mm.config.anon_vma_name:
        raise _einval("PR_SET_VMA needs CONFIG_ANON_VMA_NAME")
    if opt != PR_SET_VMA_ANON_NAME:
        raise _einval(f"PR_SET_VMA: unknown operation {opt}")
    madvise_set_anon_name(mm, addr, size, anon_vma_name_from_user(uname))
    return 0


PRCTL = {PR_GET_THP_DISABLE: prctl_get_thp_disable, PR_SET_THP_DISABLE: prctl_set_thp_disable,
         PR_SET_MDWE: prctl_set_mdwe, PR_GET_MDWE: prctl_get_mdwe, PR_SET_VMA: prctl_set_vma}
PRCTL_NAMES = {"PR_GET_THP_DISABLE": PR_GET_THP_DISABLE, "PR_SET_THP_DISABLE": PR_SET_THP_DISABLE,
               "PR_SET_MDWE": PR_SET_MDWE, "PR_GET_MDWE": PR_GET_MDWE, "PR_SET_VMA": PR_SET_VMA}


def sys_prctl(mm: mm_struct, option, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) for the memory options simulated; EINVAL for any other option."""
    option = PRCTL_NAMES.get(option, option) if isinstance(option, str) else option
    handler = PRCTL.get(option)
    if handler is None:
        raise _einval(f"option {option!r} is not simulated (known: {', '.join(PRCTL_NAMES)})")
    args = [arg2, arg3, arg4, arg5]
    numbers = args[:3] if option == PR_SET_VMA else args  # PR_SET_VMA's arg5 is a string pointer
    if any(isinstance(a, bool) or not isinstance(a, int) or a < 0 for a in numbers):
        raise _einval("arguments must be non-negative integers")
    return handler(mm, *args)

