"""memfd_create(2) and the file seals it sets up (``mm/memfd.c``), Linux 6.18.

A memfd is a tmpfs file without a name in any directory: ``shmem_file_setup`` makes it on
the internal mount, unlinked, with size 0 and VM_NORESERVE (no Committed_AS charge for its
size); ``/proc/PID/maps`` shows its mappings as ``/memfd:NAME (deleted)``. It is used like
any open file: ``ftruncate``/``fallocate`` give it a size, ``pwrite``/``pread`` and
``mmap(fd=)`` reach its page cache, and it goes when its last descriptor and mapping do.

``memfd_create`` validates as 6.18 does (``sanitize_flags``, ``check_sysctl_memfd_noexec``,
``alloc_name``): unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, and names longer than
``MFD_NAME_MAX_LEN`` are EINVAL; without MFD_EXEC or MFD_NOEXEC_SEAL the default
``vm.memfd_noexec`` = 0 adds MFD_EXEC. MFD_NOEXEC_SEAL clears the execute bits and turns
F_SEAL_SEAL into F_SEAL_EXEC; MFD_ALLOW_SEALING drops F_SEAL_SEAL, which every other tmpfs
file carries from birth (``fcntl(F_GET_SEALS)`` shows them). MFD_HUGETLB is ENOSYS, as on a
kernel without CONFIG_HUGETLBFS (no hugetlbfs is simulated). MFD_CLOEXEC is accepted and has
nothing to act on: no process calls execve here.
"""

from __future__ import annotations

import errno

from ..errors import KernelError
from ..fs.namei import NAME_MAX
from ..fs.open import get_unused_fd
from ..include.linux.fs import F_SEAL_EXEC, F_SEAL_SEAL, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, O_CLOEXEC, O_LARGEFILE
from ..include.linux.mm_types import VM_NORESERVE, _parse_names
from .shmem import shmem_file_setup

# include/uapi/linux/memfd.h
MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB, MFD_NOEXEC_SEAL, MFD_EXEC = 0x1, 0x2, 0x4, 0x8, 0x10
MFD_HUGE_SHIFT, MFD_HUGE_MASK = 26, 0x3F
MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
MFD_NAMES = {"cloexec": MFD_CLOEXEC, "allow_sealing": MFD_ALLOW_SEALING, "hugetlb": MFD_HUGETLB,
             "noexec_seal": MFD_NOEXEC_SEAL, "exec": MFD_EXEC}
MFD_NAME_PREFIX = "memfd:"
MFD_NAME_MAX_LEN = NAME_MAX - len(MFD_NAME_PREFIX)
MEMFD_NOEXEC_SCOPE_EXEC = 0  # vm.memfd_noexec's default: memfds are executable unless asked


def parse_memfd_flags(value) -> int:
    """``"cloexec|allow_sealing"``, ``"MFD_NOEXEC_SEAL"``, 0 or the number."""
    return 0 if value in (0, None, "") else _parse_names(value, MFD_NAMES, "mfd_", "memfd_create flag")


def sanitize_flags(flags: int) -> int:
    """``sanitize_flags`` + ``check_sysctl_memfd_noexec`` (scope 0): the flags to create with."""
    allowed = MFD_ALL_FLAGS | (MFD_HUGE_MASK << MFD_HUGE_SHIFT if flags & MFD_HUGETLB else 0)
    if flags & ~allowed or flags < 0:
        raise KernelError(errno.EINVAL, f"memfd_create: unknown flags {flags:#x}")
    if flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL:
        raise KernelError(errno.EINVAL, "memfd_create: MFD_EXEC and MFD_NOEXEC_SEAL together")
    if not flags & (MFD_EXEC | MFD_NOEXEC_SEAL):
        flags |= MFD_EXEC  # MEMFD_NOEXEC_SCOPE_EXEC
    return flags


def alloc_name(name) -> str:
    """``alloc_name``: ``memfd:`` + the name; EFAULT for a non-string, EINVAL when too long."""
    if not isinstance(name, str) or "\0" in name:
        raise KernelError(errno.EFAULT, f"memfd_create: the name must be a string, not {name!r}")
    if len(name.encode()) > MFD_NAME_MAX_LEN:
        raise KernelError(errno.EINVAL, f"memfd_create: name of {len(name.encode())} bytes "
                                        f"(MFD_NAME_MAX_LEN {MFD_NAME_MAX_LEN})")
    return MFD_NAME_PREFIX + name


def memfd_alloc_file(k, name: str, flags: int):
    """``alloc_file``: the tmpfs file, its access and its seals."""
    if flags & MFD_HUGETLB:
        raise KernelError(errno.ENOSYS, "memfd_create: MFD_HUGETLB needs hugetlbfs (not simulated)")
    f = shmem_file_setup(k, name, 0, VM_NORESERVE)  # pages charged as they are allocated
    f.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
    f.f_flags |= O_LARGEFILE | (O_CLOEXEC if flags & MFD_CLOEXEC else 0)
    ino = f.f_inode
    if flags & MFD_NOEXEC_SEAL:
        ino.i_mode &= ~0o111
        ino.seals = (ino.seals & ~F_SEAL_SEAL) | F_SEAL_EXEC
    elif flags & MFD_ALLOW_SEALING:
        ino.seals &= ~F_SEAL_SEAL
    return f


def memfd_create(k, files, name, flags) -> int:
    """``memfd_create(name, flags)``: the new file's descriptor (the lowest free one)."""
    flags = sanitize_flags(flags)
    name = alloc_name(name)
    fd = get_unused_fd(files)
    files.fdt[fd] = memfd_alloc_file(k, name, flags)
    return fd


F_ADD_SEALS, F_GET_SEALS = 1033, 1034  # F_LINUX_SPECIFIC_BASE + 9, + 10


def memfd_get_seals(f) -> int:
    """``memfd_get_seals``: the seals of a tmpfs file; EINVAL for any other file."""
    if f.f_mapping is None or not f.f_mapping.swapbacked:
        raise KernelError(errno.EINVAL, "F_GET_SEALS: not a tmpfs file or memfd")
    return f.f_inode.seals
