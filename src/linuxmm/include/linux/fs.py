"""Files and their page caches (``include/linux/fs.h``), Linux 6.18: ``struct file`` and
``struct address_space``.

The only files simulated so far are the unlinked tmpfs files that back MAP_SHARED|MAP_ANONYMOUS
mappings (``shmem_zero_setup``: one new file per mmap, shown as ``/dev/zero (deleted)``). A
file's ``address_space`` is its page cache (``i_pages``: page index -> pfn) and the list of
VMAs that map it (``i_mmap``), which is how the reverse map finds a file page's ptes.
The inode is not a separate object: the file stands in for it (its number, size and commit
charge), and the file's references are the VMAs mapping it (there are no descriptors).
"""

from __future__ import annotations

I_DIRTY_PAGES = 1 << 2  # inode->i_state: it has dirty pages (on its disk's b_dirty list)


class address_space:
    """``struct address_space`` of one file.

    ``id`` is the inode number; a cached page points back with ``page->mapping == id << 1``
    (bit 0, PAGE_MAPPING_ANON, clear) and ``page->index``. ``i_pages`` maps a page index to
    its pfn (the kernel's xarray; each cached page holds one reference for the cache),
    ``i_mmap`` lists the VMAs mapping the file (the kernel keeps them in an interval tree on
    ``vm_pgoff``), ``host`` is the file that owns the object.
    """

    __slots__ = ("id", "host", "i_pages", "i_mmap")

    def __init__(self, ino: int, host: "file"):
        self.id, self.host = ino, host
        self.i_pages: dict[int, int] = {}
        self.i_mmap: list = []

    @property
    def nrpages(self) -> int:
        return len(self.i_pages)

    def __repr__(self) -> str:
        return f"<address_space ino={self.id} nrpages={self.nrpages} mapped by {len(self.i_mmap)} VMAs>"


class file:
    """``struct file`` of the unlinked tmpfs file behind a MAP_SHARED anonymous mapping.

    ``id`` is its inode number (unique per kernel, as ``get_next_ino`` hands them out),
    ``name`` what ``/proc/PID/maps`` prints, ``dev`` the internal shm mount's (major, minor),
    ``size`` the object's size (``i_size``). ``committed_pages`` is what ``shmem_acct_size``
    charged (0 under VM_NORESERVE). ``f_count`` counts the VMAs holding the file; the last one
    to go frees the object and its pages (``fput`` -> ``shmem_evict_inode``).
    """

    __slots__ = ("id", "name", "dev", "size", "committed_pages", "f_count", "f_mapping")

    def __init__(self, ino: int, size: int, committed_pages: int = 0, name: str = "/dev/zero (deleted)"):
        self.id, self.name, self.dev = ino, name, (0, 1)
        self.size, self.committed_pages, self.f_count = size, committed_pages, 0
        self.f_mapping = address_space(ino, self)

    def __repr__(self) -> str:
        return f"<file ino={self.id} {self.name!r} size={self.size:#x}>"
