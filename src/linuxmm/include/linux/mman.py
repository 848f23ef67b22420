"""Memory-deny-write-execute as mmap and mprotect check it (``include/linux/mman.h``), Linux 6.18."""

from .mm_types import MMF_HAS_MDWE, VM_EXEC, VM_WRITE, mm_struct


def map_deny_write_exec(mm: mm_struct, old: int, new: int) -> bool:
    """Under MDWE (prctl PR_SET_MDWE): no new writable+executable VMA, no VMA gaining execute."""
    if MMF_HAS_MDWE not in mm.flags or not new & VM_EXEC:
        return False
    return bool(new & VM_WRITE) or not old & VM_EXEC
