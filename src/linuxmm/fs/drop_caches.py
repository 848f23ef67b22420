"""``/proc/sys/vm/drop_caches`` (``fs/drop_caches.c``), Linux 6.18.

Writing 1 (or 3) walks every mounted filesystem's inodes and invalidates their clean,
unmapped page-cache folios (``drop_pagecache_sb`` -> ``invalidate_mapping_pages`` over the
whole file); dirty, writeback and mapped folios stay, and tmpfs keeps everything (its folios
are its data). Writing 2 would shrink the slab caches, which are not simulated.
"""

from __future__ import annotations

from ..mm.truncate import LLONG_MAX, invalidate_mapping_pages
from ..include.linux.mm_types import PAGE_SHIFT


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
