"""mmap, munmap and brk (``mm/mmap.c``), Linux 6.18, with the x86-64 layout and placement.

Where a new mapping goes:

* ``arch_pick_mmap_layout`` (``arch/x86/mm/mmap.c``) puts ``mmap_base`` below the stack's
  room: TASK_SIZE minus the stack rlimit plus the stack guard gap (plus the stack's random
  range when randomizing), clamped to [128 MiB, 5/6 of TASK_SIZE], minus a random offset of
  ``vm.mmap_rnd_bits`` pages — none unless a seeded RNG is given. ``vm.legacy_va_layout``
  switches to the bottom-up layout from TASK_SIZE/3.
* ``arch_get_unmapped_area_topdown`` (``arch/x86/kernel/sys_x86_64.c``) takes a free hint,
  else the highest gap below ``mmap_base`` (falling back to a bottom-up search);
  ``MAP_32BIT`` searches [1 GiB, 2 GiB) bottom-up.
* ``__get_unmapped_area`` aligns anonymous private mappings whose length is a multiple of
  2 MiB to 2 MiB (``thp_get_unmapped_area``, ``mm/huge_memory.c``): Linux 6.7 aligned every
  anonymous mapping of 2 MiB or more (efa7df3e3bb5), 6.12 narrowed it to lengths that are
  multiples of PMD_SIZE (d4148aeab412, also in the stable kernels); a hint disables it. The search asks for length + 2 MiB
  and, top-down, takes the highest aligned start in what it found. MAP_SHARED anonymous
  memory goes through shmem's placement, which aligns only when shmem THP is enabled
  (``shmem_enabled`` is ``never`` by default, as here).

``do_mmap`` is the syscall (``ksys_mmap_pgoff`` -> ``vm_mmap_pgoff`` -> ``do_mmap``): it checks
the arguments with the kernel's errnos, places the mapping, hands it to ``mmap_region``
(``mm/vma.py``) and prefaults MAP_POPULATE/MAP_LOCKED ranges through ``mm.hooks.populate``,
recording the request in ``mm.populate``.

File mappings (``fd=``, ext4 and tmpfs files): ``do_mmap``'s file branch checks the open
file's mode against the mapping (EACCES for a shared writable mapping of a file not open for
writing, or any mapping of one not open for reading; a MAP_SHARED mapping of a read-only
file is VM_MAYSHARE without VM_SHARED/VM_MAYWRITE), ``file_mmap_ok`` the offset (EOVERFLOW);
the file's ``get_unmapped_area`` places it (ext4: ``thp_get_unmapped_area``, so a mapping of
2 MiB or more starts 2 MiB-aligned relative to its offset; tmpfs the same unless mounted
``huge=never``, which adds no alignment). The VMA keeps the file and the page offset
(``vm_file``, ``vm_pgoff``) and joins the file's ``i_mmap``.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..include.linux.mman import map_deny_write_exec
from ..include.linux.mm_types import (
    MAP_32BIT, MAP_ABOVE4G, MAP_ANONYMOUS, MAP_DENYWRITE, MAP_DROPPABLE, MAP_EXECUTABLE,
    MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE,
    MAP_UNINITIALIZED,
    MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK, MAP_SYNC, MAP_TYPE, PAGE_MASK, PAGE_SHIFT,
    PAGE_SIZE, PMD_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_GUARD_GAP, ULONG_MAX, VM_ACCOUNT,
    VM_DONTDUMP, VM_DROPPABLE, VM_EXEC, VM_GROWSDOWN, VM_IO, VM_LOCKED, VM_LOCKONFAULT, VM_MAYEXEC,
    VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_NOHUGEPAGE, VM_NORESERVE, VM_PFNMAP, VM_READ,
    VM_SHARED, VM_SHADOW_STACK, VM_SYNC, VM_WIPEONFORK, VM_WRITE, find_vma,
    find_vma_intersection, mm_struct, parse_map_flags, parse_prot, vma_is_accessible,
    vmas_in_range)
from . import vma as V

OVERCOMMIT_NEVER = 2
# the MAP_* bits a plain MAP_SHARED accepts without checking (include/linux/mman.h)
LEGACY_MAP_MASK = (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE
                   | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE
                   | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB)
FMODE_READ, FMODE_WRITE = 1 << 0, 1 << 1  # struct file->f_mode (include/linux/fs.h)
MAX_LFS_FILESIZE = (1 << 63) - 1  # 64-bit: LLONG_MAX
SIZE_128M = 128 << 20
STACK_RND_MASK = 0x3FFFFF  # 64-bit: 22 bits of pages (16 GiB) of stack randomization
SZ_4G = 1 << 32


# ---- layout (arch/x86/mm/mmap.c) ------------------------------------------------------------
def stack_maxrandom_size(mm: mm_struct) -> int:
    return STACK_RND_MASK << PAGE_SHIFT if mm.rng is not None else 0


def arch_rnd(mm: mm_struct, rndbits: int) -> int:
    """A random page offset of ``rndbits`` bits (``PF_RANDOMIZE`` only: a seeded RNG)."""
    return mm.rng.getrandbits(rndbits) << PAGE_SHIFT if mm.rng is not None else 0


def mmap_base(mm: mm_struct, rnd: int, task_size: int) -> int:
    """Top of the mmap area: leave the stack rlimit (at least 128 MiB) above it."""
    gap = mm.rlimit("RLIMIT_STACK")
    gap = ULONG_MAX if gap is None else gap
    pad = stack_maxrandom_size(mm) + STACK_GUARD_GAP
    if gap + pad <= ULONG_MAX:  # values close to RLIM_INFINITY would overflow
        gap += pad
    gap = min(max(gap, SIZE_128M), task_size // 6 * 5)
    return V.PAGE_ALIGN(task_size - gap - rnd)


def mmap_is_legacy(mm: mm_struct) -> bool:
    return bool(mm.vm.sysctl_legacy_va_layout)


def task_size_64bit(mm: mm_struct, full_addr_space: bool) -> int:
    """The top of the mmap window: ``DEFAULT_MAP_WINDOW`` (47 bits), or all of ``task_size``
    (56 bits with 5-level paging) for a request that asked for addresses above it."""
    return mm.task_size if full_addr_space else min(mm.task_size, mm.default_map_window)


def arch_pick_mmap_layout(mm: mm_struct, rng=None) -> None:
    """Choose top-down or bottom-up and the two bases, as ``setup_new_exec`` does (both below
    the 47-bit window, also with 5-level paging)."""
    if rng is not None:
        mm.rng = rng
    rnd = arch_rnd(mm, mm.vm.mmap_rnd_bits)
    window = task_size_64bit(mm, False)
    mm.mmap_legacy_base = V.PAGE_ALIGN(window // 3) + rnd  # __TASK_UNMAPPED_BASE
    if mmap_is_legacy(mm):
        mm.flags.discard("MMF_TOPDOWN")
        mm.mmap_base = mm.mmap_legacy_base
    else:
        mm.flags.add("MMF_TOPDOWN")
        mm.mmap_base = mmap_base(mm, rnd, window)


# ---- placement (arch/x86/kernel/sys_x86_64.c, mm/mmap.c, mm/huge_memory.c) --------------------
def stack_guard_placement(vm_flags: int) -> int:
    return PAGE_SIZE if vm_flags & VM_SHADOW_STACK else 0


def mmap_address_hint_valid(mm: mm_struct, addr: int, length: int) -> bool:
    if mm.task_size - length < addr:
        return False
    return (addr > mm.default_map_window) == (addr + length > mm.default_map_window)


def _hint_fits(mm: mm_struct, addr: int, length: int) -> bool:
    vma = find_vma(mm, addr)
    return vma is None or addr + length <= V.vm_start_gap(vma)


def find_start_end(mm: mm_struct, addr: int, flags: int) -> tuple[int, int]:
    """The bottom-up search window: [1 GiB, 2 GiB) for MAP_32BIT, else the legacy base to the
    top of the mmap window (the whole address space for a hint above it)."""
    if flags & MAP_32BIT:
        begin = 0x40000000
        if mm.rng is not None:
            begin += mm.rng.randrange(0x02000000 >> PAGE_SHIFT) << PAGE_SHIFT  # randomize_page
        return begin, 0x80000000
    return mm.mmap_legacy_base, task_size_64bit(mm, addr > mm.default_map_window)


def arch_get_unmapped_area(mm: mm_struct, addr: int, length: int, pgoff: int, flags: int,
                           vm_flags: int = 0) -> int:
    """Bottom-up placement: a free hint, else the lowest gap above the legacy base."""
    if flags & MAP_FIXED:
        return addr
    begin, end = find_start_end(mm, addr, flags)
    if length > end:
        raise KernelError(errno.ENOMEM, f"{length:#x} bytes do not fit below {end:#x}")
    if addr:
        addr = V.PAGE_ALIGN(addr)
        if end - length >= addr and _hint_fits(mm, addr, length):
            return addr
    info = V.vm_unmapped_area_info(length, begin, end, topdown=False, align_offset=pgoff << PAGE_SHIFT,
                                   start_gap=stack_guard_placement(vm_flags))
    return V.vm_unmapped_area(mm, info)


def arch_get_unmapped_area_topdown(mm: mm_struct, addr0: int, length: int, pgoff: int, flags: int,
                                   vm_flags: int = 0) -> int:
    """Top-down placement: a free hint, else the highest gap below ``mmap_base``."""
    if length > mm.task_size:
        raise KernelError(errno.ENOMEM, f"length {length:#x} exceeds TASK_SIZE")
    if flags & MAP_FIXED:
        return addr0
    if flags & MAP_32BIT:
        return arch_get_unmapped_area(mm, addr0, length, pgoff, flags, 0)
    addr = addr0 & PAGE_MASK
    if addr and mmap_address_hint_valid(mm, addr, length) and _hint_fits(mm, addr, length):
        return addr
    low = SZ_4G if flags & MAP_ABOVE4G else PAGE_SIZE
    high = mm.mmap_base
    if addr > mm.default_map_window:  # a hint above the 47-bit window opens the rest (5-level paging)
        high += mm.task_size - task_size_64bit(mm, False)
    info = V.vm_unmapped_area_info(length, low, high, start_gap=stack_guard_placement(vm_flags))
    try:
        return V.vm_unmapped_area(mm, info)
    except KernelError:  # a failed mmap would likely kill the program: try bottom-up
        return arch_get_unmapped_area(mm, addr0, length, pgoff, flags, 0)


def mm_get_unmapped_area_vmflags(mm: mm_struct, addr: int, length: int, pgoff: int, flags: int,
                                 vm_flags: int = 0) -> int:
    place = arch_get_unmapped_area_topdown if "MMF_TOPDOWN" in mm.flags else arch_get_unmapped_area
    return place(mm, addr, length, pgoff, flags, vm_flags)


def __thp_get_unmapped_area(mm: mm_struct, addr: int, length: int, off: int, flags: int,
                            size: int, vm_flags: int) -> int:
    """Search ``length + size`` and align the start to ``size``; 0 means "fall back"."""
    off_end, off_align = off + length, (off + size - 1) & ~(size - 1)
    if off_end <= off_align or off_end - off_align < size:
        return 0
    try:
        ret = mm_get_unmapped_area_vmflags(mm, addr, length + size, off >> PAGE_SHIFT, flags, vm_flags)
    except KernelError:  # maybe only the padding did not fit: the caller retries without it
        return 0
    if ret == addr:
        return addr  # the hint was free: no alignment
    off_sub = (off - ret) & (size - 1)
    if "MMF_TOPDOWN" in mm.flags and not off_sub:
        return ret + size  # the highest aligned start of the padded range
    return ret + off_sub


def thp_get_unmapped_area_vmflags(mm: mm_struct, addr: int, length: int, pgoff: int, flags: int,
                                  vm_flags: int) -> int:
    ret = __thp_get_unmapped_area(mm, addr, length, pgoff << PAGE_SHIFT, flags, PMD_SIZE, vm_flags)
    return ret or mm_get_unmapped_area_vmflags(mm, addr, length, pgoff, flags, vm_flags)


def shmem_get_unmapped_area(mm: mm_struct, vm_file, addr: int, length: int, pgoff: int, flags: int) -> int:
    """shmem's placement: a file of a tmpfs mounted with ``huge=`` other than never is
    aligned as ``thp_get_unmapped_area`` aligns (its huge pages can be PMD-mapped); with
    ``never`` (the default, and shared anonymous memory's internal mount) no alignment."""
    if vm_file is not None and vm_file.f_inode.i_sb.huge != "never":
        return thp_get_unmapped_area_vmflags(mm, addr, length, pgoff, flags, 0)
    return mm_get_unmapped_area_vmflags(mm, addr, length, pgoff, flags)


def security_mmap_addr(mm: mm_struct, addr: int) -> None:
    """``cap_mmap_addr``: below ``vm.mmap_min_addr`` needs CAP_SYS_RAWIO."""
    if addr < mm.vm.mmap_min_addr and not mm.capable("CAP_SYS_RAWIO"):
        raise KernelError(errno.EPERM, f"address {addr:#x} is below vm.mmap_min_addr "
                                       f"({mm.vm.mmap_min_addr:#x}) and the task lacks CAP_SYS_RAWIO")


def get_unmapped_area(mm: mm_struct, vm_file, addr: int, length: int, pgoff: int, flags: int,
                      vm_flags: int = 0) -> int:
    """``__get_unmapped_area``: choose (or, for MAP_FIXED, check) where a mapping goes."""
    if length > mm.task_size:
        raise KernelError(errno.ENOMEM, f"length {length:#x} exceeds TASK_SIZE")
    if vm_file is not None and vm_file.f_inode.i_sb.s_type == "ext4":
        addr = thp_get_unmapped_area_vmflags(mm, addr, length, pgoff, flags, 0)  # ext4's thp_get_unmapped_area
    elif vm_file is not None or flags & MAP_SHARED:
        addr = shmem_get_unmapped_area(mm, vm_file, addr, length, pgoff if vm_file is not None else 0, flags)
    elif mm.config.transparent_hugepage and not addr and length % PMD_SIZE == 0:
        addr = thp_get_unmapped_area_vmflags(mm, addr, length, 0, flags, vm_flags)
    else:
        addr = mm_get_unmapped_area_vmflags(mm, addr, length, 0, flags, vm_flags)
    if addr > mm.task_size - length:
        raise KernelError(errno.ENOMEM, f"{addr:#x}+{length:#x} goes beyond TASK_SIZE")
    if addr & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"address {addr:#x} is not page aligned")
    security_mmap_addr(mm, addr)
    return addr


# ---- mmap -------------------------------------------------------------------------------------
def round_hint_to_min(mm: mm_struct, hint: int) -> int:
    hint &= PAGE_MASK
    return V.PAGE_ALIGN(mm.mmap_min_addr) if hint and hint < mm.mmap_min_addr else hint


def calc_vm_prot_bits(prot: int) -> int:
    return (VM_READ if prot & PROT_READ else 0) | (VM_WRITE if prot & PROT_WRITE else 0) | \
        (VM_EXEC if prot & PROT_EXEC else 0)


def calc_vm_flag_bits(mm: mm_struct, flags: int) -> int:
    bits = (VM_GROWSDOWN if flags & MAP_GROWSDOWN else 0) | (VM_LOCKED if flags & MAP_LOCKED else 0)
    bits |= VM_SYNC if flags & MAP_SYNC else 0
    if mm.config.transparent_hugepage and flags & MAP_STACK:
        bits |= VM_NOHUGEPAGE  # 6.7+: thread stacks are not THP material
    return bits


def _anon_type_flags(flags: int, vm_flags: int) -> int:
    """The ``switch (flags & MAP_TYPE)`` of anonymous ``do_mmap``: extra VM_* bits."""
    kind = flags & MAP_TYPE
    if kind == MAP_SHARED:
        if vm_flags & VM_GROWSDOWN:
            raise KernelError(errno.EINVAL, "MAP_SHARED cannot grow down")
        return VM_SHARED | VM_MAYSHARE
    if kind == MAP_DROPPABLE:
        if flags & (MAP_LOCKED | MAP_HUGETLB) or vm_flags & VM_GROWSDOWN:
            raise KernelError(errno.EINVAL, "MAP_DROPPABLE cannot be locked, hugetlb or grow down")
        return VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP
    if kind == MAP_PRIVATE:
        return 0
    raise KernelError(errno.EINVAL, f"mapping type {kind:#x}: exactly one of MAP_PRIVATE and "
                                    "MAP_SHARED (or MAP_DROPPABLE) is needed")


def file_mmap_ok(f, pgoff: int, length: int) -> bool:
    """``file_mmap_ok``: the mapping ends below the largest offset the file may have
    (``MAX_LFS_FILESIZE`` for a regular file)."""
    if length > MAX_LFS_FILESIZE:
        return False
    return pgoff <= (MAX_LFS_FILESIZE - length) >> PAGE_SHIFT


def _file_type_flags(f, prot: int, flags: int, vm_flags: int) -> int:
    """The ``switch (flags & MAP_TYPE)`` of ``do_mmap`` for a file: ``vm_flags`` with the
    sharing bits the open file allows. ext4 and tmpfs have ``->mmap`` (no ENODEV) and no DAX
    (MAP_SYNC is refused: ext4's ``->mmap``, tmpfs's flags mask)."""
    kind = flags & MAP_TYPE
    if kind not in (MAP_SHARED, MAP_SHARED_VALIDATE, MAP_PRIVATE):
        raise KernelError(errno.EINVAL, f"mapping type {kind:#x}: a file mapping is MAP_PRIVATE or MAP_SHARED")
    if kind == MAP_SHARED_VALIDATE and flags & ~LEGACY_MAP_MASK:
        raise KernelError(errno.EOPNOTSUPP, f"MAP_SHARED_VALIDATE: flags {flags & ~LEGACY_MAP_MASK:#x} "
                                            "are not supported for this file")
    if kind != MAP_PRIVATE:
        if prot & PROT_WRITE and not f.f_mode & FMODE_WRITE:
            raise KernelError(errno.EACCES, "mmap: a shared writable mapping of a file not open for writing")
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if not f.f_mode & FMODE_WRITE:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    if not f.f_mode & FMODE_READ:
        raise KernelError(errno.EACCES, "mmap: the file is not open for reading")
    if vm_flags & VM_GROWSDOWN:
        raise KernelError(errno.EINVAL, "mmap: a file mapping cannot grow down")
    return vm_flags


def __do_mmap(mm: mm_struct, addr: int, length: int, prot: int, flags: int, pgoff: int,
              f=None) -> tuple[int, int]:
    """The kernel's ``do_mmap`` of anonymous memory, or of the open file ``f``; returns
    (address, bytes to populate)."""
    if not length:
        raise KernelError(errno.EINVAL, "mmap: zero length")
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr = round_hint_to_min(mm, addr)
    length = V.PAGE_ALIGN(length)
    if not length:
        raise KernelError(errno.ENOMEM, "mmap: length overflows when rounded to pages")
    if pgoff + (length >> PAGE_SHIFT) > ULONG_MAX:
        raise KernelError(errno.EOVERFLOW, "mmap: offset + length overflows")
    if mm.map_count > V.max_map_count(mm):
        raise KernelError(errno.ENOMEM, f"mmap: vm.max_map_count ({V.max_map_count(mm)}) reached")
    addr = get_unmapped_area(mm, f, addr, length, pgoff, flags)
    if flags & MAP_FIXED_NOREPLACE and find_vma_intersection(mm, addr, addr + length):
        raise KernelError(errno.EEXIST, f"MAP_FIXED_NOREPLACE: {addr:#x}+{length:#x} is already mapped")
    vm_flags = calc_vm_prot_bits(prot) | calc_vm_flag_bits(mm, flags) | mm.def_flags | \
        VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
    if flags & MAP_LOCKED and not can_do_mlock(mm):
        raise KernelError(errno.EPERM, "MAP_LOCKED: RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK")
    if not V.mlock_future_ok(mm, vm_flags, length):
        raise KernelError(errno.EAGAIN, "MAP_LOCKED: RLIMIT_MEMLOCK would be exceeded")
    if f is not None:
        if not file_mmap_ok(f, pgoff, length):
            raise KernelError(errno.EOVERFLOW, f"mmap: page offset {pgoff:#x} + {length:#x} bytes passes the "
                                               "largest file offset")
        vm_flags = _file_type_flags(f, prot, flags, vm_flags)
    else:
        vm_flags |= _anon_type_flags(flags, vm_flags)
        pgoff = 0 if vm_flags & VM_SHARED else addr >> PAGE_SHIFT
    if map_deny_write_exec(mm, vm_flags, vm_flags):
        raise KernelError(errno.EACCES, "mmap: writable and executable under prctl(PR_SET_MDWE)")
    if flags & MAP_NORESERVE and mm.vm.sysctl_overcommit_memory != OVERCOMMIT_NEVER:
        vm_flags |= VM_NORESERVE
    addr = V.mmap_region(mm, addr, length, vm_flags, pgoff, f)
    populate = vm_flags & VM_LOCKED or flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE
    return addr, length if populate else 0


def can_do_mlock(mm: mm_struct) -> bool:
    return V.can_do_mlock(mm)


def _mmap_source(mm: mm_struct, flags: int, f):
    """``ksys_mmap_pgoff``'s checks of the source: MAP_ANONYMOUS ignores the file (None
    returned), else the open file must be given (EBADF: ``fget`` found none)."""
    if flags & MAP_ANONYMOUS:
        if flags & MAP_HUGETLB:
            raise KernelError(errno.ENOMEM if not mm.vm.nr_hugepages else errno.ENODEV,
                              "MAP_HUGETLB: no hugetlb pages reserved (vm.nr_hugepages is 0)"
                              if not mm.vm.nr_hugepages else "MAP_HUGETLB: hugetlbfs is not simulated yet")
        return None
    if f is None:
        raise KernelError(errno.EBADF, "mmap: not MAP_ANONYMOUS and no open file descriptor")
    if flags & MAP_HUGETLB:
        raise KernelError(errno.EINVAL, "MAP_HUGETLB of a file that is not on hugetlbfs")
    return f


def do_mmap(mm: mm_struct, addr: int, length: int, prot, flags, pgoff: int = 0, f=None) -> int:
    """mmap(2) with a page offset: the mapping's address, or ``KernelError`` with the errno.
    ``f`` is the open file (``struct file``) the descriptor names, None for none.

    ``prot``/``flags`` take ints or names (``"rw"``, ``"private|anonymous"``). MAP_POPULATE and
    MAP_LOCKED ranges are prefaulted through ``mm.hooks.populate`` and recorded in
    ``mm.populate`` as (start, length)."""
    prot, flags = parse_prot(prot), parse_map_flags(flags)
    addr, length = V.ulong(addr, "address"), V.ulong(length, "length")
    pgoff = V.ulong(pgoff, "page offset")
    f = _mmap_source(mm, flags, f)
    with V.mmap_write_lock(mm):
        addr, populate = __do_mmap(mm, addr, length, prot, flags, pgoff, f)
    mm.populate = (addr, populate) if populate else None
    if populate:
        mm_populate(mm, addr, populate)
    return addr


def sys_mmap(mm: mm_struct, addr: int, length: int, prot, flags, f=None, off: int = 0) -> int:
    """x86-64 mmap(2) of the open file ``f`` (None: no descriptor): the byte offset must be
    page aligned."""
    off = V.ulong(off, "offset")
    if off & ~PAGE_MASK:
        raise KernelError(errno.EINVAL, f"mmap: offset {off:#x} is not page aligned")
    return do_mmap(mm, addr, length, prot, flags, off >> PAGE_SHIFT, f)


def mm_populate(mm: mm_struct, start: int, length: int) -> None:
    """``__mm_populate``: prefault each accessible VMA of the range; errors are ignored."""
    end = start + length
    for vma in vmas_in_range(mm, start, end):
        if vma.vm_flags & (VM_IO | VM_PFNMAP | VM_LOCKONFAULT) or not vma_is_accessible(vma):
            continue
        write = vma.vm_flags & (VM_WRITE | VM_SHARED) == VM_WRITE  # break COW up front
        try:
            mm.hooks.populate(mm, max(start, vma.vm_start), min(end, vma.vm_end), write)
        except KernelError:
            pass  # like the kernel: a failed prefault does not fail the mmap


# ---- munmap -----------------------------------------------------------------------------------
def do_munmap(mm: mm_struct, start: int, length: int) -> None:
    """munmap(2): EINVAL for an unaligned start or a zero/overflowing length; holes are fine."""
    start, length = V.ulong(start, "address"), V.ulong(length, "length")
    with V.mmap_write_lock(mm):
        V.do_vmi_munmap(mm, start, length)


# ---- brk --------------------------------------------------------------------------------------
def check_data_rlimit(mm: mm_struct, new: int) -> bool:
    """Would the heap ending at ``new`` plus the data segment exceed RLIMIT_DATA?"""
    rlim = mm.rlimit("RLIMIT_DATA")
    return rlim is not None and (new - mm.start_brk) + (mm.end_data - mm.start_data) > rlim


def _brk_shrink(mm: mm_struct, newbrk: int, oldbrk: int) -> bool:
    vmas = vmas_in_range(mm, newbrk, oldbrk)
    if not vmas or vmas[0].vm_start >= oldbrk:
        return False  # the range is not the heap's
    try:
        V.do_vmi_align_munmap(mm, newbrk, oldbrk)
    except KernelError:  # vm.max_map_count: the break stays where it was
        return False
    return True


def _brk_grow(mm: mm_struct, oldbrk: int, newbrk: int) -> bool:
    try:
        get_unmapped_area(mm, None, oldbrk, newbrk - oldbrk, 0, MAP_FIXED)  # check_brk_limits
    except KernelError:
        return False
    if not V.mlock_future_ok(mm, mm.def_flags, newbrk - oldbrk):
        return False
    nxt = find_vma(mm, oldbrk)
    if nxt is not None and nxt.vm_start < newbrk + PAGE_SIZE + STACK_GUARD_GAP \
            and newbrk + PAGE_SIZE > V.vm_start_gap(nxt):
        return False  # keep a page (a stack's guard gap) free above the heap
    prev = V.vma_neighbours(mm, oldbrk, oldbrk)[0]
    brkvma = prev if prev is not None and prev.vm_start >= mm.start_brk else None
    try:
        V.do_brk_flags(mm, brkvma, oldbrk, newbrk - oldbrk, 0)
    except KernelError:
        return False
    return True


def sys_brk(mm: mm_struct, brk: int) -> int:
    """brk(2): the new program break, or the old one when the request cannot be met (a
    request below ``start_brk``, such as brk(0), just reads it)."""
    brk = V.ulong(brk, "brk")
    with V.mmap_write_lock(mm):
        if brk < mm.start_brk or check_data_rlimit(mm, brk):
            return mm.brk
        newbrk, oldbrk = V.PAGE_ALIGN(brk), V.PAGE_ALIGN(mm.brk)
        if newbrk == oldbrk:
            ok = True
        elif brk <= mm.brk:
            ok = _brk_shrink(mm, newbrk, oldbrk)
        else:
            ok = _brk_grow(mm, oldbrk, newbrk)
        if not ok:
            return mm.brk
        mm.brk = brk
    if newbrk > oldbrk and mm.def_flags & VM_LOCKED:
        mm_populate(mm, oldbrk, newbrk - oldbrk)
    return brk


# ---- stack growth -----------------------------------------------------------------------------
def acct_stack_growth(mm: mm_struct, vma, size: int, grow: int) -> None:
    if not V.may_expand_vm(mm, vma.vm_flags, grow):
        raise KernelError(errno.ENOMEM, "stack growth: RLIMIT_AS reached")
    stack = mm.rlimit("RLIMIT_STACK")
    if stack is not None and size > stack:
        raise KernelError(errno.ENOMEM, f"stack growth: {size:#x} bytes exceed RLIMIT_STACK")
    if not V.mlock_future_ok(mm, vma.vm_flags, grow << PAGE_SHIFT):
        raise KernelError(errno.ENOMEM, "stack growth: RLIMIT_MEMLOCK reached")
    if vma.vm_flags & VM_ACCOUNT and not V.vm_enough_memory(mm, grow):
        raise KernelError(errno.ENOMEM, "stack growth: cannot commit more memory")


def expand_downwards(mm: mm_struct, vma, address: int) -> None:
    """Grow a VM_GROWSDOWN VMA down to ``address`` (a fault just below the stack)."""
    address &= PAGE_MASK
    if address < mm.mmap_min_addr:
        raise KernelError(errno.EPERM, f"stack growth below vm.mmap_min_addr ({address:#x})")
    prev = V.vma_prev_next(mm, vma)[0]
    if prev is not None and not prev.vm_flags & VM_GROWSDOWN and vma_is_accessible(prev) \
            and address - prev.vm_end < STACK_GUARD_GAP:
        raise KernelError(errno.ENOMEM, "stack growth would enter the guard gap of the VMA below")
    if address >= vma.vm_start:
        return
    grow = (vma.vm_start - address) >> PAGE_SHIFT
    acct_stack_growth(mm, vma, vma.vm_end - address, grow)
    if vma.vm_flags & VM_ACCOUNT:
        V.vm_acct_memory(mm, grow)
    if vma.vm_flags & VM_LOCKED:
        mm.locked_vm += grow
    V.vm_stat_account(mm, vma.vm_flags, grow)
    V.vma_set_range(mm, vma, address, vma.vm_end, vma.vm_pgoff - grow)


def expand_stack(mm: mm_struct, addr: int):
    """The VMA for a fault at ``addr``, growing a stack down to it if needed; None if none."""
    with V.mmap_write_lock(mm):
        vma = find_vma(mm, addr)
        if vma is None or vma.vm_start <= addr:
            return vma
        if not vma.vm_flags & VM_GROWSDOWN:
            return None
        try:
            expand_downwards(mm, vma, addr)
        except KernelError:
            return None
        return vma
