"""Page-cache helpers (``include/linux/pagemap.h``), Linux 6.18: the ``__filemap_get_folio``
flags (FGP_*, with the preferred folio order in bits 26 and up: ``fgf_set_order``),
``MAX_PAGECACHE_ORDER`` and ``struct readahead_control``.
"""

from __future__ import annotations

from .mm_types import PAGE_SHIFT

FGP_ACCESSED, FGP_LOCK, FGP_CREAT, FGP_WRITE = 0x1, 0x2, 0x4, 0x8
FGP_NOFS, FGP_NOWAIT, FGP_FOR_MMAP, FGP_STABLE = 0x10, 0x20, 0x40, 0x80
FGP_DONTCACHE = 0x100
FGP_WRITEBEGIN = FGP_LOCK | FGP_WRITE | FGP_CREAT | FGP_STABLE
FGF_ORDER_SHIFT = 26
# MAX_PAGECACHE_ORDER: min(MAX_XAS_ORDER, PREFERRED_MAX_PAGECACHE_ORDER) = HPAGE_PMD_ORDER on x86-64
MAX_PAGECACHE_ORDER = 9


def fgf_set_order(size: int) -> int:
    """``fgf_set_order``: a write of ``size`` bytes asks for folios of ``ilog2(size)`` bytes
    (none above a page for sizes up to a page)."""
    shift = size.bit_length() - 1
    return 0 if shift <= PAGE_SHIFT else (shift - PAGE_SHIFT) << FGF_ORDER_SHIFT


def FGF_GET_ORDER(fgp_flags: int) -> int:
    return fgp_flags >> FGF_ORDER_SHIFT


class readahead_control:
    """``struct readahead_control``: the file and mapping being read, its ``file_ra_state``
    (``ra``; None for a read without a file), and the batch: ``_index`` (first page) and
    ``_nr_pages`` (pages added so far)."""

    __slots__ = ("file", "mapping", "ra", "_index", "_nr_pages")

    def __init__(self, file, mapping, ra, index: int):
        self.file, self.mapping, self.ra, self._index, self._nr_pages = file, mapping, ra, index, 0

    def readahead_index(self) -> int:
        return self._index

    def __repr__(self) -> str:
        return f"<readahead_control index={self._index} nr_pages={self._nr_pages}>"
