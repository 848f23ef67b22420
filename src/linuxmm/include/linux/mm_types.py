"""The address space of a process (``include/linux/mm_types.h``), Linux 6.18, x86-64.

``mm_struct`` is one address space: its VMAs kept sorted by start address (the kernel's maple
tree; VMAs are few, so a Python list searched with ``bisect`` stands in for it), the layout
chosen at exec (``mmap_base``, ``task_size``, ``start_brk``/``brk``, ``start_stack``) and the
counters ``/proc/PID/status`` prints (``total_vm``, ``data_vm``, ``exec_vm``, ``stack_vm``,
``locked_vm`` in pages, ``rss_stat``). ``vm_area_struct`` is one VMA. ``find_vma``,
``find_vma_intersection``, ``vma_lookup`` and ``find_vma_prev`` are the lookups of
``mm/mmap.c``/``include/linux/mm.h``.

The page tables are not kept here: ``mm.hooks`` (an ``MmHooks``) is how the address-space
code (``mm/mmap.py``, ``mm/vma.py``, ``mm/mprotect.py``, ``mm/mremap.py``, ``mm/madvise.py``)
tells the page-table layer what changed, at the points where the kernel itself calls
``unmap_vmas``, ``change_protection``, ``move_page_tables`` or ``populate_vma_page_range``.

Also here, as one place to import them from: the ``VM_*`` flag bits of
``include/linux/mm.h`` and the user-visible constants of
``include/uapi/asm-generic/mman-common.h`` (``PROT_*``, ``MAP_*``, ``MADV_*``, ``MREMAP_*``)
with parsers for the short names the CLI and the ``Process`` API accept.
"""

from __future__ import annotations

import errno
from bisect import bisect_right
from dataclasses import dataclass, field

from ...errors import KernelError
from ...kernel.sysctl import VmTunables
from .fs import FMODE_READ, FMODE_WRITE, O_RDWR, S_IFREG, address_space, file, inode, super_block
from .mm_types_task import (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS,  # noqa: F401 (the mmc layout,
                            MMC_ANON_THP, MMC_HAS_PINNED, MMC_MAJFLT, MMC_MEMCG, MMC_MINFLT, MMC_PGD,  # read as M.*)
                            MMC_PGTABLES_BYTES, NR_MMC)
from .rmap import RmapRegistry
from .rmap import anon_vma as anon_vma_t

# ---- x86-64 address-space geometry (4-level paging) -----------------------------------------
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
ULONG_MAX = (1 << 64) - 1
PAGE_MASK = ULONG_MAX & ~(PAGE_SIZE - 1)
PMD_SIZE = 1 << 21
TASK_SIZE = (1 << 47) - PAGE_SIZE  # TASK_SIZE_MAX: one guard page below the canonical hole
DEFAULT_MAP_WINDOW = TASK_SIZE  # 5-level paging would raise TASK_SIZE, not this window
STACK_GUARD_GAP = 256 << PAGE_SHIFT  # stack_guard_gap (mm/mmap.c), 1 MiB
CONFIG_LSM_MMAP_MIN_ADDR = 65536  # the LSM floor behind the sysctl (security/min_addr.c)
DEFAULT_RLIMITS = {  # include/asm-generic/resource.h INIT_RLIMITS (cur, max)
    "RLIMIT_STACK": (8 << 20, None), "RLIMIT_DATA": (None, None), "RLIMIT_AS": (None, None),
    "RLIMIT_MEMLOCK": (8 << 20, 8 << 20),  # MLOCK_LIMIT, 8 MiB since 5.16
}
RLIM_INFINITY = None


GUP_PIN_COUNTING_BIAS = 1 << 10  # include/linux/mm.h: what one FOLL_PIN adds to a small folio's _refcount

# ---- VM_* flags (include/linux/mm.h) --------------------------------------------------------
VM_NONE = 0x00000000
VM_READ = 0x00000001
VM_WRITE = 0x00000002
VM_EXEC = 0x00000004
VM_SHARED = 0x00000008
VM_MAYREAD = 0x00000010
VM_MAYWRITE = 0x00000020
VM_MAYEXEC = 0x00000040
VM_MAYSHARE = 0x00000080
VM_GROWSDOWN = 0x00000100
VM_UFFD_MISSING = 0x00000200
VM_PFNMAP = 0x00000400
VM_MAYBE_GUARD = 0x00000800  # MADV_GUARD_INSTALL was used here (sticky; in the host's 6.18.y)
VM_UFFD_WP = 0x00001000
VM_LOCKED = 0x00002000
VM_IO = 0x00004000
VM_SEQ_READ = 0x00008000
VM_RAND_READ = 0x00010000
VM_DONTCOPY = 0x00020000
VM_DONTEXPAND = 0x00040000
VM_LOCKONFAULT = 0x00080000
VM_ACCOUNT = 0x00100000
VM_NORESERVE = 0x00200000
VM_HUGETLB = 0x00400000
VM_SYNC = 0x00800000
VM_ARCH_1 = 0x01000000  # VM_PAT on x86
VM_WIPEONFORK = 0x02000000
VM_DONTDUMP = 0x04000000
VM_SOFTDIRTY = 0x08000000
VM_MIXEDMAP = 0x10000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_MERGEABLE = 0x80000000
VM_PKEY_BIT0, VM_PKEY_BIT1, VM_PKEY_BIT2, VM_PKEY_BIT3 = (1 << 32, 1 << 33, 1 << 34, 1 << 35)
VM_SHADOW_STACK = 1 << 37  # VM_HIGH_ARCH_5 on x86
VM_ALLOW_ANY_UNCACHED = 1 << 39
VM_DROPPABLE = 1 << 40
VM_UFFD_MINOR = 1 << 41
VM_SEALED = 1 << 42

VM_STACK = VM_GROWSDOWN
VM_STARTGAP_FLAGS = VM_GROWSDOWN | VM_SHADOW_STACK
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC
VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT
VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP
VM_STICKY = VM_SOFTDIRTY | VM_MAYBE_GUARD  # kept by a merge if any part had them
VM_IGNORE_MERGE = VM_STICKY  # flags that do not stop two VMAs from merging
VM_DATA_DEFAULT_FLAGS = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC

# ---- uapi: include/uapi/asm-generic/mman-common.h, mman.h, arch/x86/include/uapi/asm/mman.h --
PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_SEM = 0x0, 0x1, 0x2, 0x4, 0x8
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_DROPPABLE = 0x08
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_32BIT = 0x40
MAP_ABOVE4G = 0x80
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x008000
MAP_NONBLOCK = 0x010000
MAP_STACK = 0x020000
MAP_HUGETLB = 0x040000
MAP_SYNC = 0x080000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000

MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED = 0, 1, 2, 3, 4
MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK = 8, 9, 10, 11
MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE = 12, 13, 14, 15
MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK = 16, 17, 18, 19
MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE = 20, 21, 22, 23
MADV_DONTNEED_LOCKED, MADV_COLLAPSE = 24, 25
MADV_HWPOISON, MADV_SOFT_OFFLINE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE = 100, 101, 102, 103

MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4

_PROT_NAMES = {"none": PROT_NONE, "read": PROT_READ, "write": PROT_WRITE, "exec": PROT_EXEC,
               "sem": PROT_SEM, "growsdown": PROT_GROWSDOWN, "growsup": PROT_GROWSUP}
_PROT_LETTERS = {"r": PROT_READ, "w": PROT_WRITE, "x": PROT_EXEC, "-": 0}
MAP_NAMES = {
    "shared": MAP_SHARED, "private": MAP_PRIVATE, "shared_validate": MAP_SHARED_VALIDATE,
    "droppable": MAP_DROPPABLE, "fixed": MAP_FIXED, "anonymous": MAP_ANONYMOUS,
    "anon": MAP_ANONYMOUS, "32bit": MAP_32BIT, "above4g": MAP_ABOVE4G,
    "growsdown": MAP_GROWSDOWN, "denywrite": MAP_DENYWRITE, "executable": MAP_EXECUTABLE,
    "locked": MAP_LOCKED, "noreserve": MAP_NORESERVE, "populate": MAP_POPULATE,
    "nonblock": MAP_NONBLOCK, "stack": MAP_STACK, "hugetlb": MAP_HUGETLB, "sync": MAP_SYNC,
    "fixed_noreplace": MAP_FIXED_NOREPLACE, "uninitialized": MAP_UNINITIALIZED,
}
MADV_NAMES = {
    "normal": MADV_NORMAL, "random": MADV_RANDOM, "sequential": MADV_SEQUENTIAL,
    "willneed": MADV_WILLNEED, "dontneed": MADV_DONTNEED, "free": MADV_FREE,
    "remove": MADV_REMOVE, "dontfork": MADV_DONTFORK, "dofork": MADV_DOFORK,
    "mergeable": MADV_MERGEABLE, "unmergeable": MADV_UNMERGEABLE, "hugepage": MADV_HUGEPAGE,
    "nohugepage": MADV_NOHUGEPAGE, "dontdump": MADV_DONTDUMP, "dodump": MADV_DODUMP,
    "wipeonfork": MADV_WIPEONFORK, "keeponfork": MADV_KEEPONFORK, "cold": MADV_COLD,
    "pageout": MADV_PAGEOUT, "populate_read": MADV_POPULATE_READ,
    "populate_write": MADV_POPULATE_WRITE, "dontneed_locked": MADV_DONTNEED_LOCKED,
    "collapse": MADV_COLLAPSE, "guard_install": MADV_GUARD_INSTALL,
    "guard_remove": MADV_GUARD_REMOVE,
}
MREMAP_NAMES = {"maymove": MREMAP_MAYMOVE, "fixed": MREMAP_FIXED, "dontunmap": MREMAP_DONTUNMAP}


def _as_int(token: str) -> int | None:
    try:
        return int(token, 0)
    except ValueError:
        return None


def _tokens(text: str) -> list[str]:
    for sep in ",+ \t":
        text = text.replace(sep, "|")
    return [t for t in text.lower().split("|") if t]


def _parse_names(value, names: dict[str, int], prefix: str, what: str) -> int:
    """An int, or names joined by ``|`` (``private|anonymous``, ``MAP_PRIVATE|MAP_FIXED``)."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise KernelError(errno.EINVAL, f"{what} must be an int or a string, not {value!r}")
    tokens = _tokens(value)
    if not tokens:
        raise KernelError(errno.EINVAL, f"empty {what}")
    bits = 0
    for tok in tokens:
        num = _as_int(tok)
        name = tok.removeprefix(prefix)
        if num is None and name not in names:
            raise KernelError(errno.EINVAL, f"unknown {what} {tok!r} (known: {', '.join(names)})")
        bits |= num if num is not None else names[name]
    return bits


def parse_prot(value) -> int:
    """``"rw"``, ``"r-x"``, ``"none"``, ``"read|write"``, ``"PROT_READ"`` or an int."""
    if isinstance(value, str) and value.strip() and "|" not in value and _as_int(value) is None:
        text = value.strip().lower()
        if text not in _PROT_NAMES and text.removeprefix("prot_") not in _PROT_NAMES:
            if any(c not in _PROT_LETTERS for c in text):
                raise KernelError(errno.EINVAL, f"unknown protection {value!r} (use e.g. rw, r-x, none)")
            return sum(_PROT_LETTERS[c] for c in set(text))
    return _parse_names(value, _PROT_NAMES, "prot_", "protection")


def parse_map_flags(value) -> int:
    """``"private|anonymous|fixed|populate"`` (case-insensitive, ``MAP_`` optional) or an int."""
    return _parse_names(value, MAP_NAMES, "map_", "mmap flag")


def parse_madvise(value) -> int:
    """An advice name (``"hugepage"``, ``"MADV_DONTNEED"``) or its number."""
    if isinstance(value, str) and len(_tokens(value)) != 1:
        raise KernelError(errno.EINVAL, f"one madvise advice expected, got {value!r}")
    return _parse_names(value, MADV_NAMES, "madv_", "madvise advice")


def parse_mremap_flags(value) -> int:
    """``"maymove|fixed"``, ``"MREMAP_DONTUNMAP"`` or an int."""
    return _parse_names(value, MREMAP_NAMES, "mremap_", "mremap flag")


# ---- the objects ------------------------------------------------------------------------------
class vm_area_struct:
    """One VMA: [vm_start, vm_end) with ``vm_flags``; ``vm_pgoff`` is the offset in pages into
    ``vm_file`` (or, for private anonymous memory, ``vm_start >> PAGE_SHIFT`` at creation).

    ``anon_vma`` is None until the first anonymous fault gives the VMA one; ``anon_vma_chain``
    lists every anon_vma the VMA is linked to, newest first: its own, and after fork its
    parents' (``vma_had_uncowed_parents`` stops such merges). See ``mm/rmap.py``.
    ``anon_name`` is the name prctl(PR_SET_VMA_ANON_NAME) gave anonymous memory (the
    kernel's refcounted ``anon_vma_name``, compared by content), or None.
    """

    __slots__ = ("vm_start", "vm_end", "vm_flags", "vm_pgoff", "vm_file", "anon_vma",
                 "anon_vma_chain", "vm_mm", "swap_readahead_info", "anon_name")

    def __init__(self, mm: "mm_struct | None", start: int, end: int, flags: int, pgoff: int = 0,
                 vm_file: file | None = None, anon_vma: anon_vma_t | None = None):
        self.vm_mm, self.vm_start, self.vm_end, self.vm_flags = mm, start, end, flags
        self.vm_pgoff, self.vm_file = pgoff, vm_file
        self.anon_vma, self.anon_vma_chain = anon_vma, []
        self.swap_readahead_info = 0  # swap_vma_readahead's last fault address, window, hits
        self.anon_name: str | None = None

    def __repr__(self) -> str:
        return (f"<vma {self.vm_start:#x}-{self.vm_end:#x} flags={self.vm_flags:#x} "
                f"pgoff={self.vm_pgoff:#x}{' file' if self.vm_file else ''}>")


def vma_pages(vma: vm_area_struct) -> int:
    return (vma.vm_end - vma.vm_start) >> PAGE_SHIFT


def vma_is_anonymous(vma: vm_area_struct) -> bool:
    """No vm_ops: private anonymous memory (shmem has a file and shmem's vm_ops)."""
    return vma.vm_file is None


SHMEM_ZERO_PATH = "/dev/zero (deleted)"  # the unlinked tmpfs file shmem_zero_setup gives MAP_SHARED|MAP_ANONYMOUS


def vma_is_anon_shmem(vma: vm_area_struct) -> bool:
    """Shared anonymous memory (``shmem_anon_vm_ops``): its file is shmem_zero_setup's."""
    return vma.vm_file is not None and vma.vm_file.name == SHMEM_ZERO_PATH and vma.vm_file.f_inode.i_nlink == 0


def vma_is_accessible(vma: vm_area_struct) -> bool:
    return bool(vma.vm_flags & VM_ACCESS_FLAGS)


def shmem_acct_size(flags: int, size: int) -> int:
    """``shmem_acct_size``: pages a new shmem object of ``size`` bytes charges to Committed_AS
    at once; none under VM_NORESERVE (a tmpfs file, a memfd, a MAP_NORESERVE shared mapping),
    whose pages are charged one by one as they are allocated (``shmem_acct_blocks``)."""
    return 0 if flags & VM_NORESERVE else size >> PAGE_SHIFT


class MmHooks:
    """What the address-space layer asks of the page tables; every method here is a no-op.

    The page-table layer installs its own object as ``mm.hooks``. Calls happen where the
    kernel acts on page tables, with the VMAs in this state:

    * ``zap_range(mm, start, end, drop_markers=True)``: pages in [start, end) must go (munmap,
      MAP_FIXED over a mapping, MADV_DONTNEED/REMOVE, the source of an mremap move); MADV_REMOVE
      and truncation call it for every mm that maps the file's range (through its ``i_mmap``),
      with ``drop_markers`` False: guard markers stay (``unmap_mapping_range``). Called while the
      VMAs covering the range are still in ``mm.vmas`` (split at ``start``/``end``).
    * ``mlock_vma_pages_range(mm, start, end, lock)``: VM_LOCKED was set (``lock``) or
      cleared on the VMA covering [start, end): mlock or munlock the folios mapped there.
    * ``change_protection(mm, start, end, new_vm_flags)``: after mprotect set the new flags
      on the VMA covering [start, end).
    * ``split_huge_pmd_address(mm, address)``: a VMA is cut at ``address`` inside a PMD
      range it covers whole (``vma_adjust_trans_huge``): a huge pmd mapping it becomes ptes.
    * ``move_page_tables(mm, old_start, new_start, length)``: mremap moves the entries; the
      destination VMA exists, the source still does.
    * ``populate(mm, start, end, write)``: prefault (MAP_POPULATE/MAP_LOCKED, MADV_POPULATE_*,
      mremap growth of a locked VMA); ``write`` asks for write faults (breaking COW).
    * ``shmem_truncate_range(mm, mapping, lstart, lend)``: drop the pages of bytes
      [lstart, lend] (``lend`` -1: to the end) from a shmem object's page cache, after their
      ptes are gone: MADV_REMOVE's hole.
    * ``shmem_file_setup(mm, size, flags) -> file``: the unlinked tmpfs file behind
      a new MAP_SHARED|MAP_ANONYMOUS mapping, with no file reference yet (the VMA takes one
      when it is linked).
    * ``release_file(mm, f)``: the last reference to ``f`` is gone (``__fput``); the default
      frees a shmem object made by the default ``shmem_file_setup`` and returns its charge.
    * ``vma_changed(mm)``: once at the end of any call that changed the VMA list or a VMA,
      and when MAP_FIXED has removed the mappings it replaces, before the new VMA exists
      (``vms_clean_up_area`` frees their page tables then); ``mm.vma_changed_start`` and
      ``vma_changed_end`` say where (start > end: anywhere).
    * ``vm_acct_memory(mm, pages)``: ``pages`` (negative: released) more charged to the
      kernel's Committed_AS (``vm_committed_as``): VM_ACCOUNT charges and shmem objects'.
    * ``file_size_changed(mm, vma)``: the file ``vma`` maps changed size (``i_size_write``).
    * ``madvise_hint(mm, start, end, advice)``: WILLNEED, COLD, PAGEOUT, COLLAPSE,
      GUARD_*; may return an errno for the call to fail
      with (MADV_COLLAPSE fails when nothing could be collapsed).
    * ``lazyfree_range(mm, start, end)``: MADV_FREE of private anonymous memory
      (``madvise_free_single_vma``); the default zaps the range, as if reclaim had come.

    Optional (looked up with ``getattr``, so hook objects may leave them out):

    * ``vm_enough_memory(mm, pages) -> bool``: the overcommit policy (``__vm_enough_memory``);
      the default admits everything, as ``vm.overcommit_memory=1`` would.
    """

    def zap_range(self, mm, start: int, end: int, drop_markers: bool = True) -> None:
        pass

    def mlock_vma_pages_range(self, mm, start: int, end: int, lock: bool) -> None:
        pass

    def change_protection(self, mm, start: int, end: int, new_vm_flags: int) -> None:
        pass

    def move_page_tables(self, mm, old_start: int, new_start: int, length: int) -> None:
        pass

    def split_huge_pmd_address(self, mm, address: int) -> None:
        pass

    def populate(self, mm, start: int, end: int, write: bool, tried: bool = False) -> None:
        pass

    def vma_changed(self, mm) -> None:
        pass

    def shmem_truncate_range(self, mm, mapping, lstart: int, lend: int) -> None:
        pass

    def shmem_file_setup(self, mm, size: int, flags: int):
        sb = super_block("tmpfs", (0, 1), None, ULONG_MAX >> 1, 0, -1, "", None, None)
        ino = inode(mm.rmap.get_next_ino(), S_IFREG | 0o777, sb, SHMEM_ZERO_PATH)
        ino.i_nlink, ino.i_size, ino.committed_pages, ino.i_count = 0, size, shmem_acct_size(flags, size), 1
        ino.i_mapping = address_space(ino.i_ino, ino, -1, 0, None)
        mm.rmap.address_spaces[ino.i_ino] = ino.i_mapping
        mm.rmap.seq += 1
        return file(ino, O_RDWR, FMODE_READ | FMODE_WRITE, 0)

    def release_file(self, mm, f) -> None:
        self.vm_acct_memory(mm, -f.committed_pages)
        f.f_inode.committed_pages = 0
        del mm.rmap.address_spaces[f.id]
        mm.rmap.seq += 1

    def madvise_hint(self, mm, start: int, end: int, advice: int) -> int | None:
        return None

    def zap_page_range_single(self, mm, start: int, end: int, reclaim_pt: bool = False) -> None:
        """MADV_DONTNEED's zap: as ``zap_range`` but guard markers stay; with ``reclaim_pt``
        (MADV_DONTNEED's) the pte tables it empties whole are freed (CONFIG_PT_RECLAIM)."""
        self.zap_range(mm, start, end)

    def lazyfree_range(self, mm, start: int, end: int) -> None:
        self.zap_page_range_single(mm, start, end)

    def file_size_changed(self, mm, vma) -> None:
        pass

    def vm_enough_memory(self, mm, pages: int) -> bool:
        return True

    def vm_acct_memory(self, mm, pages: int) -> None:
        pass


@dataclass
class MmConfig:
    """The Kconfig facts the address-space code depends on (the development host's 6.18:
    no CONFIG_MEM_SOFT_DIRTY, so no ``sd`` in VmFlags, and no CONFIG_ANON_VMA_NAME, so
    prctl(PR_SET_VMA) is EINVAL; distribution kernels set both)."""

    mem_soft_dirty: bool = False
    anon_vma_name: bool = False
    transparent_hugepage: bool = True
    ksm: bool = True


# mm->flags (the simulator keeps their names in mm.flags)
MMF_DISABLE_THP_COMPLETELY, MMF_DISABLE_THP_EXCEPT_ADVISED = "MMF_DISABLE_THP_COMPLETELY", "MMF_DISABLE_THP_EXCEPT_ADVISED"
MMF_HAS_MDWE, MMF_HAS_MDWE_NO_INHERIT = "MMF_HAS_MDWE", "MMF_HAS_MDWE_NO_INHERIT"


def mmf_init_flags(flags: set) -> set:
    """The mm flags a child inherits (``mmf_init_flags``): MDWE with NO_INHERIT stays behind."""
    if MMF_HAS_MDWE_NO_INHERIT in flags:
        return flags - {MMF_HAS_MDWE, MMF_HAS_MDWE_NO_INHERIT}
    return set(flags)


@dataclass(eq=False)
class mm_struct:
    """One address space. Sizes and counters are in pages unless named otherwise.

    ``mm_struct()`` is an empty address space with no layout yet (``allocate_mm``);
    ``kernel.fork.mm_alloc`` lays it out as ``execve`` would, ``dup_mmap`` copies the
    parent's. ``rng``, a seeded ``random.Random``, randomizes the layout. ``vm`` holds the sysctls (a booted kernel's
    ``k.vm``); ``rlimits`` maps ``RLIMIT_*`` to (cur, max) bytes, None meaning unlimited;
    ``capabilities`` the task's effective capabilities (an unprivileged task by default);
    ``rmap`` the kernel's anon_vmas and address_spaces (a new, empty set by default).
    """

    vm: VmTunables = field(default_factory=VmTunables)
    rlimits: dict = field(default_factory=lambda: dict(DEFAULT_RLIMITS))
    capabilities: frozenset = frozenset()
    rmap: RmapRegistry = field(default_factory=RmapRegistry)  # the kernel's (Machine passes it)
    config: MmConfig = field(default_factory=MmConfig)
    rng: object = None
    task_size: int = TASK_SIZE
    default_map_window: int = DEFAULT_MAP_WINDOW  # the mmap window below task_size (5-level x86)
    start_brk: int = 0
    brk: int = 0
    start_stack: int = 0
    start_data: int = 0
    end_data: int = 0
    def_flags: int = 0
    vmas: list = field(default_factory=list)
    map_count: int = 0
    total_vm: int = 0
    locked_vm: int = 0
    pinned_vm: int = 0
    data_vm: int = 0
    exec_vm: int = 0
    stack_vm: int = 0
    hiwater_vm: int = 0
    committed_pages: int = 0  # VM_ACCOUNT charges of this mm (its share of Committed_AS)
    mmap_base: int = 0
    mmap_legacy_base: int = 0
    flags: set = field(default_factory=set)  # MMF_TOPDOWN ...
    pgd: int = -1
    pgtables_bytes: int = 0
    rss_stat: dict = field(default_factory=lambda: dict.fromkeys(
        ("MM_FILEPAGES", "MM_ANONPAGES", "MM_SWAPENTS", "MM_SHMEMPAGES"), 0))
    hooks: object = field(default_factory=MmHooks)
    populate: tuple | None = None  # (start, len) the last do_mmap asked to prefault
    vma_seq: int = 0  # bumped on every VMA change; vma_changed fires when it moved
    # the addresses [start, end) whose VMAs changed since vma_changed last ran (start > end: none)
    vma_changed_start: int = ULONG_MAX
    vma_changed_end: int = 0

    @property
    def mmap_min_addr(self) -> int:
        """The effective floor: the sysctl or the LSM's, whichever is higher."""
        return max(self.vm.mmap_min_addr, CONFIG_LSM_MMAP_MIN_ADDR)

    def rlimit(self, name: str) -> int | None:
        return self.rlimits.get(name, (None, None))[0]

    def capable(self, cap: str) -> bool:
        return cap in self.capabilities

    def __repr__(self) -> str:
        return f"<mm_struct {self.map_count} vmas, total_vm={self.total_vm} pages>"


# ---- lookups (mm/mmap.c, include/linux/mm.h) ---------------------------------------------------
def _end(vma: vm_area_struct) -> int:
    return vma.vm_end


def vma_index(mm: mm_struct, addr: int) -> int:
    """Index in ``mm.vmas`` of the first VMA ending above ``addr`` (len(vmas) if none)."""
    return bisect_right(mm.vmas, addr, key=_end)


def find_vma(mm: mm_struct, addr: int) -> vm_area_struct | None:
    """The first VMA with ``vm_end > addr`` (it may start above ``addr``), or None."""
    i = vma_index(mm, addr)
    return mm.vmas[i] if i < len(mm.vmas) else None


def find_vma_prev(mm: mm_struct, addr: int) -> tuple[vm_area_struct | None, vm_area_struct | None]:
    """``find_vma`` and the VMA before it."""
    i = vma_index(mm, addr)
    return (mm.vmas[i] if i < len(mm.vmas) else None), (mm.vmas[i - 1] if i else None)


def find_vma_intersection(mm: mm_struct, start: int, end: int) -> vm_area_struct | None:
    """The first VMA overlapping [start, end), or None."""
    vma = find_vma(mm, start)
    return vma if vma is not None and vma.vm_start < end else None


def vma_lookup(mm: mm_struct, addr: int) -> vm_area_struct | None:
    """The VMA containing ``addr``, or None."""
    vma = find_vma(mm, addr)
    return vma if vma is not None and vma.vm_start <= addr else None


def vmas_in_range(mm: mm_struct, start: int, end: int) -> list[vm_area_struct]:
    """``for_each_vma_range``: the VMAs overlapping [start, end), in order."""
    out = []
    for vma in mm.vmas[vma_index(mm, start):]:
        if vma.vm_start >= end:
            break
        out.append(vma)
    return out

