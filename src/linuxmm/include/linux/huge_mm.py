"""The global THP policy as code reads it (``include/linux/huge_mm.h``), Linux 6.18.

``k.transparent_hugepage_flags`` is set up by ``mm/huge_memory.py: hugepage_init``.
"""


def transparent_hugepage_mode(k) -> str:
    """``always``, ``madvise`` or ``never``: the global setting (/sys/kernel/mm/...enabled)."""
    return k.transparent_hugepage_flags


def hugepage_global_enabled(k) -> bool:
    return transparent_hugepage_mode(k) in ("always", "madvise")
