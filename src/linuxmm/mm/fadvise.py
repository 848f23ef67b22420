"""posix_fadvise and readahead(2) (``mm/fadvise.c``, ``mm/readahead.c: ksys_readahead``),
Linux 6.18.

``generic_fadvise``: NORMAL resets the file's readahead maximum to the device's and clears
FMODE_RANDOM/FMODE_NOREUSE; RANDOM sets FMODE_RANDOM (readahead off); SEQUENTIAL doubles
``f_ra.ra_pages``; NOREUSE sets FMODE_NOREUSE; WILLNEED reads the range now
(``force_page_cache_ra``); DONTNEED starts writeback of the range and drops its clean,
unmapped folios, whole pages only (the partial last page is kept unless the range ends at
the end of the file). On a filesystem without a backing device (tmpfs) every valid advice is
accepted and ignored. ``ksys_readahead`` is WILLNEED on a regular file (EINVAL otherwise).
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.fs import FMODE_NOREUSE, FMODE_RANDOM, FMODE_READ
from ..include.linux.mm_types import PAGE_SHIFT, PAGE_SIZE
from ..include.linux.pagemap import readahead_control
from .filemap import filemap_fdatawrite_range
from .readahead import force_page_cache_ra
from .truncate import LLONG_MAX, invalidate_mapping_pages

POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL = 0, 1, 2
POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE = 3, 4, 5
FADVISE_NAMES = {"normal": POSIX_FADV_NORMAL, "random": POSIX_FADV_RANDOM, "sequential": POSIX_FADV_SEQUENTIAL,
                 "willneed": POSIX_FADV_WILLNEED, "dontneed": POSIX_FADV_DONTNEED, "noreuse": POSIX_FADV_NOREUSE}


def parse_fadvise(advice) -> int:
    """An advice name (``"dontneed"``, ``"POSIX_FADV_DONTNEED"``) or number; unknown names
    are EINVAL, unknown numbers are left for ``generic_fadvise`` to reject."""
    if isinstance(advice, int) and not isinstance(advice, bool):
        return advice
    key = str(advice).strip().lower().removeprefix("posix_fadv_")
    if key not in FADVISE_NAMES:
        raise KernelError(errno.EINVAL, f"unknown fadvise advice {advice!r} ({', '.join(FADVISE_NAMES)})")
    return FADVISE_NAMES[key]


def generic_fadvise(k, f, offset: int, length: int, advice: int) -> None:
    ino = f.f_inode
    mapping = f.f_mapping
    if mapping is None or length < 0:
        raise KernelError(errno.EINVAL, f"fadvise: length {length} is negative or the file has no page cache")
    if advice not in FADVISE_NAMES.values():
        raise KernelError(errno.EINVAL, f"fadvise: unknown advice {advice}")
    bdev = ino.i_sb.s_bdev
    if bdev is None:  # noop_backing_dev_info: accepted, ignored
        return
    endbyte = offset + length
    endbyte = LLONG_MAX if not length or endbyte > LLONG_MAX else endbyte - 1
    if advice == POSIX_FADV_NORMAL:
        f.f_ra.ra_pages = bdev.ra_pages
        f.f_mode &= ~(FMODE_RANDOM | FMODE_NOREUSE)
    elif advice == POSIX_FADV_RANDOM:
        f.f_mode |= FMODE_RANDOM
    elif advice == POSIX_FADV_SEQUENTIAL:
        f.f_ra.ra_pages = bdev.ra_pages * 2
        f.f_mode &= ~FMODE_RANDOM
    elif advice == POSIX_FADV_NOREUSE:
        f.f_mode |= FMODE_NOREUSE
    elif advice == POSIX_FADV_WILLNEED:
        start_index, end_index = offset >> PAGE_SHIFT, endbyte >> PAGE_SHIFT
        force_page_cache_ra(k, readahead_control(f, mapping, f.f_ra, start_index), end_index - start_index + 1)
    else:
        fadvise_dontneed(k, f, offset, endbyte)


def fadvise_dontneed(k, f, offset: int, endbyte: int) -> None:
    """POSIX_FADV_DONTNEED: write back (WB_SYNC_NONE), then invalidate the full pages."""
    mapping = f.f_mapping
    filemap_fdatawrite_range(k, mapping, offset, endbyte)
    start_index = (offset + PAGE_SIZE - 1) >> PAGE_SHIFT
    end_index = endbyte >> PAGE_SHIFT
    if endbyte & (PAGE_SIZE - 1) != PAGE_SIZE - 1 and endbyte != f.f_inode.i_size - 1:
        if end_index == 0:
            return
        end_index -= 1  # the partial last page is kept
    if end_index >= start_index:
        invalidate_mapping_pages(k, mapping, start_index, end_index)


def ksys_readahead(k, f, offset: int, count: int) -> None:
    """``ksys_readahead``: EBADF without read access, EINVAL for a file that is not regular;
    then ``vfs_fadvise(POSIX_FADV_WILLNEED)``."""
    if not f.f_mode & FMODE_READ:
        raise KernelError(errno.EBADF, "readahead: file not open for reading")
    if f.f_inode.is_dir:
        raise KernelError(errno.EINVAL, "readahead: not a regular file")
    generic_fadvise(k, f, offset, count, POSIX_FADV_WILLNEED)
