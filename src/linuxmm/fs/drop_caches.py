"""``/proc/sys/vm/drop_caches`` (``fs/drop_caches.c``), Linux 6.18.

Writing 1 (or 3) walks every mounted filesystem's inodes and invalidates their clean,
unmapped page-cache folios (``drop_pagecache_sb`` -> ``invalidate_mapping_pages`` over the
whole file); dirty, writeback and mapped folios stay, and tmpfs keeps everything (its folios
are its data). Writing 2 would shrink the slab caches, which are not simulated. The file
is this module's own table, registered by an initcall (``init_vm_drop_caches_sysctls``).
"""

from __future__ import annotations

from ..include.linux.mm_types import PAGE_SHIFT
from ..include.linux.vmstat import DROP_PAGECACHE, DROP_SLAB
from ..kernel.sysctl import ctl_table, register_sysctl_init
from ..mm.truncate import LLONG_MAX, invalidate_mapping_pages


def drop_pagecache_sb(k, sb) -> None:
    if sb.s_bdev is None:
        return  # shmem: invalidation would throw data away, the kernel's mapping_evict_folio refuses
    for ino in list(sb.s_inodes.values()):
        if ino.i_mapping is not None:
            invalidate_mapping_pages(k, ino.i_mapping, 0, LLONG_MAX >> PAGE_SHIFT)


def drop_pagecache(k) -> None:
    """``iterate_supers(drop_pagecache_sb)``."""
    for sb in k.mounts.values():
        drop_pagecache_sb(k, sb)


def drop_caches_sysctl_handler(k, old) -> None:
    """1 drops the clean page cache, 2 would shrink the slab caches; each counts its event."""
    value = k.vm.sysctl_drop_caches
    if value & 1:
        drop_pagecache(k)
        k.vm_events[DROP_PAGECACHE] += 1
    if value & 2:
        k.vm_events[DROP_SLAB] += 1


drop_caches_table = (ctl_table("drop_caches", "sysctl_drop_caches", mode=0o200, extra1=1, extra2=4,
                               proc_handler=drop_caches_sysctl_handler),)


def init_vm_drop_caches_sysctls(k) -> None:
    register_sysctl_init(k, "vm", drop_caches_table)
