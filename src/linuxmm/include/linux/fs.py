"""Inodes, open files, superblocks and page caches (``include/linux/fs.h``), Linux 6.18.

* ``inode``: a file's identity and size (``i_ino``, ``i_mode``, ``i_size``, ``i_nlink``), its
  references (``i_count``: the open ``file``s and the kernel's own holds), its superblock and
  its page cache (``i_mapping``). On ext4 ``i_extents`` maps runs of pages to disk blocks
  (a page in no extent is a hole: it reads as zeros); a tmpfs inode has no blocks, its page
  cache is its storage.
* ``address_space``: the page cache of one inode: the xarray of its folios (``xa_id``, a root
  in the machine's xarray pool, ``lib/xarray.py``), the VMAs mapping it (``i_mmap``), the
  folio orders the filesystem allows (``mapping_set_folio_order_range``) and whether it writes
  back to a disk. A cached page points back with ``page->mapping == id << 1`` and
  ``page->index``.
* ``file``: one open file description (``struct file``): ``f_pos``, ``f_flags`` (O_*),
  ``f_mode`` (FMODE_*), ``f_ra`` (``file_ra_state``, what readahead keeps per open file) and
  ``f_count`` (file-descriptor table slots and VMAs holding it).
* ``super_block``: a mounted filesystem (ext4 on a block device, tmpfs): its directory tree
  (paths relative to the mount -> inodes), its size limits and its device number.
* ``files_struct``: a process's descriptor table (``fdtable``): fd -> ``file``.

Inode numbers come from one counter per machine (``get_next_ino``), also used as the
``address_space`` id, so a page names its file uniquely.
"""

from __future__ import annotations

# open(2) flags (include/uapi/asm-generic/fcntl.h, x86)
O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE = 0o0, 0o1, 0o2, 0o3
O_CREAT, O_EXCL, O_TRUNC, O_APPEND = 0o100, 0o200, 0o1000, 0o2000
O_DIRECT, O_LARGEFILE, O_DIRECTORY = 0o40000, 0o100000, 0o200000
# struct file->f_mode (include/linux/fs.h)
FMODE_READ, FMODE_WRITE = 1 << 0, 1 << 1
FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE = 1 << 2, 1 << 3, 1 << 4
FMODE_RANDOM = 1 << 12  # POSIX_FADV_RANDOM: readahead off
FMODE_STREAM = 1 << 21  # stream_open: no position (a pipe); pread/pwrite are ESPIPE
FMODE_NOREUSE = 1 << 23  # POSIX_FADV_NOREUSE
# i_mode file types (include/uapi/linux/stat.h)
S_IFMT, S_IFDIR, S_IFREG, S_IFIFO = 0o170000, 0o040000, 0o100000, 0o010000
MAX_LFS_FILESIZE = (1 << 63) - 1  # 64-bit: LLONG_MAX
O_CLOEXEC = 0o2000000
# statfs's f_type of the filesystems simulated (include/uapi/linux/magic.h)
EXT4_SUPER_MAGIC, TMPFS_MAGIC, PIPEFS_MAGIC = 0xEF53, 0x01021994, 0x50495045
FS_MAGIC = {"ext4": EXT4_SUPER_MAGIC, "tmpfs": TMPFS_MAGIC, "pipefs": PIPEFS_MAGIC}
# file seals (include/uapi/linux/fcntl.h), fcntl(F_GET_SEALS) of a tmpfs file or memfd
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE, F_SEAL_EXEC = 1, 2, 4, 8, 0x10, 0x20


class file_ra_state:
    """``struct file_ra_state``: the readahead window of one open file (``start``, ``size``,
    ``async_size`` in pages: the folio at ``start + size - async_size`` carries PG_readahead),
    the folio ``order`` that window preferred, its maximum (``ra_pages``, from the device's
    ``read_ahead_kb`` at open: ``file_ra_state_init``), ``mmap_miss`` (faults that missed the
    cache minus hits) and ``prev_pos`` (the byte after the last read; -1 before the first)."""

    __slots__ = ("start", "size", "async_size", "order", "ra_pages", "mmap_miss", "prev_pos")

    def __init__(self, ra_pages: int):
        self.start = self.size = self.async_size = self.order = 0
        self.ra_pages, self.mmap_miss, self.prev_pos = ra_pages, 0, -1

    def window(self) -> tuple[int, int, int, int]:
        """(start, size, async_size, order), for tests and teaching."""
        return self.start, self.size, self.async_size, self.order

    def __repr__(self) -> str:
        return (f"<file_ra_state start={self.start} size={self.size} async={self.async_size} "
                f"order={self.order} ra_pages={self.ra_pages} prev_pos={self.prev_pos}>")


class address_space:
    """``struct address_space``: one inode's page cache.

    ``id`` is the inode number (``page->mapping == id << 1``); ``xa_id`` the root of its
    xarray in ``k.page_cache`` (``mapping_nrpages`` reads the page count there); ``i_mmap``
    the VMAs mapping it (the kernel keeps an interval tree on ``vm_pgoff``); ``host`` the
    inode. ``min_order``/``max_order`` are the folio orders the filesystem allows
    (``mapping_min_folio_order``/``mapping_max_folio_order``: ext4 0..9 in 6.18, tmpfs
    huge=never 0..0, other huge= 0..9); ``swapbacked`` marks shmem (its folios count as NR_SHMEM and are never
    written back to a disk: ``mapping_can_writeback`` is false). ``writeback_index`` is
    where the flusher's next pass over the file starts (range-cyclic writeback).
    """

    __slots__ = ("id", "host", "xa_id", "i_mmap", "min_order", "max_order", "swapbacked", "a_ops",
                 "writeback_index")

    def __init__(self, ino: int, host: "inode", xa_id: int, max_order: int, a_ops: "address_space_operations"):
        self.id, self.host, self.xa_id, self.a_ops = ino, host, xa_id, a_ops
        self.i_mmap: list = []
        self.min_order, self.max_order = 0, max_order
        self.writeback_index = 0
        self.swapbacked = a_ops is None or a_ops.swapbacked  # None: a shmem object without a cache (bare mm tests)

    def __repr__(self) -> str:
        return f"<address_space ino={self.id} xa={self.xa_id} mapped by {len(self.i_mmap)} VMAs>"


class address_space_operations:
    """``struct address_space_operations``: how a filesystem fills, dirties and writes back
    its page cache. Every function takes the kernel first:

    * ``read_folios(k, mapping, pfns)``: bring the (locked, !uptodate) folios up to date —
      ``read_folio`` and ``readahead`` in one: holes are zeroed, mapped blocks read by bios;
    * ``write_begin(k, filp, pos, len) -> pfn``: the folio for a write of ``len`` bytes at
      ``pos``, with a reference held, up to date outside the written range;
    * ``write_end(k, filp, pos, copied, pfn)``: the data is in: uptodate, dirty, ``i_size``;
    * ``dirty_folio(k, mapping, pfn) -> bool``: set PG_dirty (and account it, if the mapping
      writes back); True if it was clean;
    * ``writepages(k, mapping, first, last)``: start writeback of the dirty folios of page
      indices [first, last];
    * ``swapbacked``: shmem (its folios are PG_swapbacked and counted as NR_SHMEM).
    """

    __slots__ = ("read_folios", "write_begin", "write_end", "dirty_folio", "writepages", "swapbacked")

    def __init__(self, read_folios, write_begin, write_end, dirty_folio, writepages, swapbacked: bool):
        self.read_folios, self.write_begin, self.write_end = read_folios, write_begin, write_end
        self.dirty_folio, self.writepages, self.swapbacked = dirty_folio, writepages, swapbacked


class file_operations:
    """``struct file_operations``: ``read_iter(k, filp, pos, count) -> (bytes, lines)``
    (``filemap_read``; tmpfs reads holes as zeros without caching them),
    ``write_iter(k, filp, pos, count, value) -> bytes``, ``fsync(k, filp, start, end,
    datasync)``, ``fallocate(k, filp, mode, offset, len)`` and the simulator's batch of read()
    calls served by the cache alone, ``read_cached(k, filp, pos, count, chunk) -> (bytes,
    lines, ended at EOF)`` (None: every call goes through ``read_iter``), and ``release(k,
    filp)``, called when the file's last reference goes (None: nothing to do)."""

    __slots__ = ("read_iter", "write_iter", "fsync", "fallocate", "read_cached", "release")

    def __init__(self, read_iter, write_iter, fsync, fallocate, read_cached, release=None):
        self.read_iter, self.write_iter, self.fsync = read_iter, write_iter, fsync
        self.fallocate, self.read_cached, self.release = fallocate, read_cached, release


I_DIRTY_PAGES = 1 << 2


def i_size_write(ino: "inode", size: int) -> None:
    """``i_size_write``: the file's new size; every mm mapping it is told
    (``mm.hooks.file_size_changed``: the compiled fault path's end of file)."""
    ino.i_size = size
    for vma in ino.i_mapping.i_mmap if ino.i_mapping is not None else []:
        vma.vm_mm.hooks.file_size_changed(vma.vm_mm, vma)


class inode:
    """``struct inode`` (ext4's ``ext4_inode_info`` and tmpfs's ``shmem_inode_info`` folded
    in: ``i_extents`` is ext4's extent tree, a sorted list of contiguous runs, ``committed_pages`` what ``shmem_acct_size``
    charged to Committed_AS, ``shmem_flags`` tmpfs's VM_NORESERVE (its pages charged one by one), ``seals`` the memfd seals
    of a tmpfs file, ``alloced`` the pages a tmpfs file has charged to its filesystem's blocks, in its page cache or
    in swap). ``name`` is the path ``/proc/PID/maps`` prints. ``i_pipe`` is the pipe of a pipefs
    inode (``fs/pipe.py``), None for any other."""

    __slots__ = ("i_ino", "i_mode", "i_size", "i_nlink", "i_count", "i_sb", "i_mapping", "i_fop", "i_extents",
                 "committed_pages", "shmem_flags", "name", "i_state", "dirtied_when", "seals", "alloced", "i_pipe")

    def __init__(self, ino: int, mode: int, sb: "super_block", name: str):
        self.i_ino, self.i_mode, self.i_sb, self.name = ino, mode, sb, name
        self.i_size, self.i_nlink, self.i_count, self.committed_pages, self.shmem_flags = 0, 1, 0, 0, 0
        self.i_mapping: address_space | None = None  # None for a directory
        self.i_fop: file_operations | None = None
        self.i_extents: list[list[int]] = []  # ext4: [first page, first disk block, pages], sorted
        self.i_state = 0  # I_DIRTY_PAGES once a folio is dirtied, until writeback cleans them all
        self.dirtied_when = 0  # ns of the clock when it became dirty (the flusher's age test)
        self.seals = 0  # shmem_inode_info->seals: F_SEAL_* (mm/memfd.py), F_SEAL_SEAL from birth on tmpfs
        self.alloced = 0  # shmem_inode_info->alloced (its ->swapped: the value entries of its page cache)
        self.i_pipe = None  # a pipefs inode's pipe_inode_info

    @property
    def is_dir(self) -> bool:
        return self.i_mode & S_IFMT == S_IFDIR

    def __repr__(self) -> str:
        return f"<inode {self.i_ino} {self.name!r} size={self.i_size} nlink={self.i_nlink} count={self.i_count}>"


class file:
    """``struct file``: an open file description. ``id``, ``name``, ``dev`` and ``size`` are
    its inode's number, path, device and ``i_size`` (what ``/proc/PID/maps`` prints)."""

    __slots__ = ("f_inode", "f_mapping", "f_pos", "f_flags", "f_mode", "f_ra", "f_count")

    def __init__(self, ino: inode, flags: int, mode: int, ra_pages: int):
        self.f_inode, self.f_mapping = ino, ino.i_mapping
        self.f_pos, self.f_flags, self.f_mode, self.f_count = 0, flags, mode, 0
        self.f_ra = file_ra_state(ra_pages)

    @property
    def id(self) -> int:
        return self.f_inode.i_ino

    @property
    def name(self) -> str:
        return self.f_inode.name

    @property
    def dev(self) -> tuple[int, int]:
        return self.f_inode.i_sb.s_dev

    @property
    def size(self) -> int:
        return self.f_inode.i_size

    @property
    def committed_pages(self) -> int:
        """What a shmem object charges to Committed_AS while it exists."""
        return self.f_inode.committed_pages

    def __repr__(self) -> str:
        return f"<file {self.f_inode.name!r} pos={self.f_pos} flags={self.f_flags:#o} count={self.f_count}>"


class super_block:
    """``struct super_block`` of a mounted filesystem: ``s_type`` ("ext4" or "tmpfs"),
    ``s_dev`` (major, minor), ``s_bdev`` (ext4's block device), ``s_maxbytes``, the dentry
    tree as ``s_dentries`` (path below the mount -> inode; "" is the root directory),
    ``max_folio_order`` for its regular files, ``s_aops``/``s_fop`` for its regular files,
    and for tmpfs ``max_blocks`` (the ``size=`` option in pages; ``shmem_sb_info``, -1:
    unlimited), ``used_blocks`` and ``huge`` (the ``huge=`` option: never, always,
    within_size, advise). ``s_inodes`` lists its live inodes (``sb->s_inodes``)."""

    __slots__ = ("s_type", "s_dev", "s_bdev", "s_maxbytes", "s_dentries", "max_folio_order", "max_blocks",
                 "used_blocks", "huge", "mountpoint", "s_aops", "s_fop", "s_inodes")

    def __init__(self, s_type: str, dev: tuple[int, int], bdev, maxbytes: int, max_folio_order: int,
                 max_blocks: int, mountpoint: str, aops: address_space_operations, fop: file_operations,
                 huge: str = "never"):
        self.s_type, self.s_dev, self.s_bdev, self.s_maxbytes = s_type, dev, bdev, maxbytes
        self.s_dentries: dict[str, inode] = {}
        self.max_folio_order, self.max_blocks, self.used_blocks = max_folio_order, max_blocks, 0
        self.huge = huge
        self.mountpoint, self.s_aops, self.s_fop = mountpoint, aops, fop
        self.s_inodes: dict[int, inode] = {}

    def __repr__(self) -> str:
        return f"<super_block {self.s_type} on {self.mountpoint} dev={self.s_dev[0]}:{self.s_dev[1]}>"


class files_struct:
    """``struct files_struct``: a process's descriptor table (``fd`` -> ``file``). New
    descriptors take the lowest free number (``alloc_fd``)."""

    __slots__ = ("fdt",)

    def __init__(self):
        self.fdt: dict[int, file] = {}

    def __repr__(self) -> str:
        return f"<files_struct {sorted(self.fdt)}>"
