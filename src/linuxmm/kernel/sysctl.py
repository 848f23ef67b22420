"""``/proc/sys/vm`` (``kernel/sysctl.c`` conversions, the ``vm_table`` entries of mm/*.c), 6.18.

``VmTunables`` holds the vm globals under their kernel variable names (``min_free_kbytes``,
``sysctl_lowmem_reserve_ratio``, ``vm_dirty_ratio``, ...), with this configuration's 6.18
defaults; ``k.vm`` is the booted kernel's copy. ``VM_TABLE`` describes each file as its
``ctl_table`` does: the variable, the conversion (``proc_dointvec_minmax``,
``proc_doulongvec_minmax``, a vector, a string, jiffies), the mode, the bounds and the handler
that recomputes what depends on it. ``proc_sys_vm_read``/``proc_sys_vm_write`` are the read
and write paths: a bad value raises ``KernelError(EINVAL)`` and leaves the value unchanged,
as ``echo`` into the real file would report.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Callable

from ..errors import KernelError, LinuxmmError
from ..include.linux.mmzone import for_each_zone
from .timer import HZ

if TYPE_CHECKING:
    from ..init.main import Kernel

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
ULONG_MAX = (1 << 64) - 1
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32}  # HighMem/Movable/Device: 0


@dataclass
class VmTunables:
    """The vm sysctl variables of one kernel (static initializers; initcalls refine some)."""

    min_free_kbytes: int = 1024
    user_min_free_kbytes: int = -1
    watermark_boost_factor: int = 15000
    watermark_scale_factor: int = 10
    sysctl_lowmem_reserve_ratio: list[int] = field(default_factory=list)
    percpu_pagelist_high_fraction: int = 0
    sysctl_min_unmapped_ratio: int = 1
    sysctl_min_slab_ratio: int = 5
    numa_zonelist_order: str = "Node"
    vm_dirty_ratio: int = 20
    dirty_background_ratio: int = 10
    vm_dirty_bytes: int = 0
    dirty_background_bytes: int = 0
    dirty_writeback_interval: int = 500  # centiseconds
    dirty_expire_interval: int = 3000
    dirtytime_expire_interval: int = 12 * 60 * 60
    laptop_mode: int = 0
    vm_highmem_is_dirtyable: int = 0
    sysctl_overcommit_memory: int = 0
    sysctl_overcommit_ratio: int = 50
    sysctl_overcommit_kbytes: int = 0
    sysctl_user_reserve_kbytes: int = 1 << 17
    sysctl_admin_reserve_kbytes: int = 1 << 13
    sysctl_max_map_count: int = 65530  # USHRT_MAX - MAPCOUNT_ELF_CORE_MARGIN
    mmap_min_addr: int = 4096  # CONFIG_DEFAULT_MMAP_MIN_ADDR of this build
    mmap_rnd_bits: int = 28
    mmap_rnd_compat_bits: int = 8
    vm_swappiness: int = 60
    sysctl_extfrag_threshold: int = 500
    sysctl_compact_unevictable_allowed: int = 1
    sysctl_compaction_proactiveness: int = 20
    sysctl_compact_memory: int = 0
    defrag_mode: int = 0
    sysctl_drop_caches: int = 0
    sysctl_legacy_va_layout: int = 0
    sysctl_hugetlb_shm_group: int = 0
    vmemmap_optimize_enabled: int = 0
    nr_hugepages: int = 0
    nr_overcommit_hugepages: int = 0
    sysctl_memfd_noexec: int = 0
    sysctl_oom_dump_tasks: int = 1
    sysctl_oom_kill_allocating_task: int = 0
    sysctl_panic_on_oom: int = 0
    page_cluster: int = 3
    sysctl_page_lock_unfairness: int = 5
    sysctl_vm_numa_stat: int = 1
    sysctl_stat_interval: int = 1  # seconds (HZ jiffies)
    sysctl_unprivileged_userfaultfd: int = 0
    sysctl_vfs_cache_pressure: int = 100
    sysctl_vfs_cache_pressure_denom: int = 100
    node_reclaim_mode: int = 0
    shrink_inodes_with_pagecache: int = 0


def vm_sysctl_init(k: "Kernel") -> VmTunables:
    """Static defaults for this configuration; ``k.vm`` from now on."""
    vm = VmTunables()
    vm.sysctl_lowmem_reserve_ratio = default_lowmem_reserve_ratio(k)
    if k.arch.name == "i386":
        vm.mmap_rnd_bits = 8
    elif k.arch.name == "arm64":
        vm.mmap_rnd_bits, vm.mmap_rnd_compat_bits = 18, 11  # [M] ARCH_MMAP_RND_BITS defaults
    k.vm = vm
    return vm


def default_lowmem_reserve_ratio(k: "Kernel") -> list[int]:
    if k.version >= (4, 18):
        return [LOWMEM_RESERVE_RATIO.get(n, 0) for n in k.zone_names]
    # ≤4.17: one entry per zone but the last; HIGHMEM took 32 like NORMAL [M]
    ratios = [LOWMEM_RESERVE_RATIO.get(n, 32 if n == "HighMem" else 0) for n in k.zone_names]
    return ratios[:-1]


# ---- the table --------------------------------------------------------------------------

Handler = Callable[["Kernel", object], None]


@dataclass(frozen=True)
class ctl_table:
    procname: str
    data: str  # attribute of VmTunables
    conv: str = "int"  # int | ulong | intvec | string | jiffies | bool | refresh
    mode: int = 0o644
    extra1: int | None = None
    extra2: int | None = None
    proc_handler: Handler | None = None  # called after the value is stored; may raise
    since: tuple[int, int] = (2, 6)
    present: Callable[["Kernel"], bool] | None = None  # Kconfig / build gate


def _not_simulated(what: str) -> Handler:
    def handler(k: "Kernel", old) -> None:
        raise LinuxmmError(f"{what} is not simulated yet")
    return handler


def _numa(k: "Kernel") -> bool:
    return bool(k.config.numa)


def _compat(k: "Kernel") -> bool:
    return k.arch.name in ("x86_64", "arm64")


def _fc_kernel(k: "Kernel") -> bool:
    """Knobs of this host's patched Firecracker kernel (release ``*-fc-*``), not mainline."""
    return "-fc-" in k.version.release


def _rnd_bits_range(k: "Kernel") -> tuple[int, int]:
    return {"x86_64": (28, 32), "i386": (8, 16), "arm64": (18, 33)}.get(k.arch.name, (8, 32))


@cache
def vm_table() -> tuple[ctl_table, ...]:
    """Every /proc/sys/vm file of 6.18 (this config), sorted like ``ls``."""
    from ..mm import page_alloc as pa
    from ..mm import page_writeback as pw
    from ..mm import util

    T = ctl_table
    return tuple(sorted((
        T("admin_reserve_kbytes", "sysctl_admin_reserve_kbytes", "ulong"),
        T("compact_memory", "sysctl_compact_memory", mode=0o200, extra1=1, extra2=1,
          proc_handler=_not_simulated("vm.compact_memory (compaction)")),
        T("compact_unevictable_allowed", "sysctl_compact_unevictable_allowed", extra1=0, extra2=1, since=(4, 1)),
        T("compaction_proactiveness", "sysctl_compaction_proactiveness", extra1=0, extra2=100, since=(5, 9)),
        T("defrag_mode", "defrag_mode", extra1=0, extra2=1, since=(6, 15)),
        T("dirty_background_bytes", "dirty_background_bytes", "ulong", extra1=1,
          proc_handler=pw.dirty_background_bytes_handler),
        T("dirty_background_ratio", "dirty_background_ratio", extra1=0, extra2=100,
          proc_handler=pw.dirty_background_ratio_handler),
        T("dirty_bytes", "vm_dirty_bytes", "ulong", extra1=2 * 4096, proc_handler=pw.dirty_bytes_handler),
        T("dirty_expire_centisecs", "dirty_expire_interval", extra1=0),
        T("dirty_ratio", "vm_dirty_ratio", extra1=0, extra2=100, proc_handler=pw.dirty_ratio_handler),
        T("dirty_writeback_centisecs", "dirty_writeback_interval"),
        T("dirtytime_expire_seconds", "dirtytime_expire_interval", extra1=0, since=(4, 0)),
        T("extfrag_threshold", "sysctl_extfrag_threshold", extra1=0, extra2=1000),
        T("highmem_is_dirtyable", "vm_highmem_is_dirtyable", extra1=0, extra2=1,
          present=lambda k: bool(k.config.highmem)),
        T("hugetlb_optimize_vmemmap", "vmemmap_optimize_enabled", "bool", since=(5, 19)),
        T("hugetlb_shm_group", "sysctl_hugetlb_shm_group"),
        T("laptop_mode", "laptop_mode", "jiffies"),
        T("legacy_va_layout", "sysctl_legacy_va_layout", extra1=0),
        T("lowmem_reserve_ratio", "sysctl_lowmem_reserve_ratio", "intvec",
          proc_handler=pa.lowmem_reserve_ratio_sysctl_handler),
        T("max_map_count", "sysctl_max_map_count", extra1=0),
        T("memfd_noexec", "sysctl_memfd_noexec", extra1=0, extra2=2, since=(6, 3)),
        T("min_free_kbytes", "min_free_kbytes", extra1=0, proc_handler=pa.min_free_kbytes_sysctl_handler),
        T("min_slab_ratio", "sysctl_min_slab_ratio", extra1=0, extra2=100,
          proc_handler=pa.sysctl_min_slab_ratio_sysctl_handler, present=_numa),
        T("min_unmapped_ratio", "sysctl_min_unmapped_ratio", extra1=0, extra2=100,
          proc_handler=pa.sysctl_min_unmapped_ratio_sysctl_handler, present=_numa),
        T("mmap_min_addr", "mmap_min_addr", "ulong"),
        T("mmap_rnd_bits", "mmap_rnd_bits", since=(4, 5)),
        T("mmap_rnd_compat_bits", "mmap_rnd_compat_bits", since=(4, 5), present=_compat),
        T("nr_hugepages", "nr_hugepages", "ulong", proc_handler=_not_simulated("resizing the hugetlb pool")),
        T("nr_hugepages_mempolicy", "nr_hugepages", "ulong", present=_numa,
          proc_handler=_not_simulated("resizing the hugetlb pool")),
        T("nr_overcommit_hugepages", "nr_overcommit_hugepages", "ulong"),
        T("numa_stat", "sysctl_vm_numa_stat", extra1=0, extra2=1, since=(4, 16), present=_numa,
          proc_handler=sysctl_vm_numa_stat_handler),
        T("numa_zonelist_order", "numa_zonelist_order", "string", present=_numa,
          proc_handler=pa.numa_zonelist_order_handler),
        T("oom_dump_tasks", "sysctl_oom_dump_tasks"),
        T("oom_kill_allocating_task", "sysctl_oom_kill_allocating_task"),
        T("overcommit_kbytes", "sysctl_overcommit_kbytes", "ulong", proc_handler=util.overcommit_kbytes_handler),
        T("overcommit_memory", "sysctl_overcommit_memory", extra1=0, extra2=2),
        T("overcommit_ratio", "sysctl_overcommit_ratio", proc_handler=util.overcommit_ratio_handler),
        T("page-cluster", "page_cluster", extra1=0, extra2=31),
        T("page_lock_unfairness", "sysctl_page_lock_unfairness", extra1=0, since=(5, 9)),
        T("panic_on_oom", "sysctl_panic_on_oom", extra1=0, extra2=2),
        T("percpu_pagelist_high_fraction", "percpu_pagelist_high_fraction", extra1=0, since=(5, 14),
          proc_handler=pa.percpu_pagelist_high_fraction_sysctl_handler),
        T("shrink_inodes_with_pagecache", "shrink_inodes_with_pagecache", present=_fc_kernel),
        T("stat_interval", "sysctl_stat_interval", "jiffies"),
        T("stat_refresh", "sysctl_stat_interval", "refresh", mode=0o600, since=(4, 4)),
        T("swappiness", "vm_swappiness", extra1=0, extra2=200),
        T("unprivileged_userfaultfd", "sysctl_unprivileged_userfaultfd", extra1=0, extra2=1, since=(5, 2)),
        T("user_reserve_kbytes", "sysctl_user_reserve_kbytes", "ulong"),
        T("vfs_cache_pressure", "sysctl_vfs_cache_pressure", extra1=0),
        T("vfs_cache_pressure_denom", "sysctl_vfs_cache_pressure_denom", extra1=100, since=(6, 18)),
        T("watermark_boost_factor", "watermark_boost_factor", extra1=0, since=(5, 0),
          proc_handler=pa.watermark_boost_factor_sysctl_handler),
        T("watermark_scale_factor", "watermark_scale_factor", extra1=1, extra2=3000, since=(4, 6),
          proc_handler=pa.watermark_scale_factor_sysctl_handler),
        T("zone_reclaim_mode", "node_reclaim_mode", extra1=0, present=_numa),
    ), key=lambda t: t.procname))


def register_sysctl_init(k: "Kernel", path: str, table: tuple[ctl_table, ...]) -> None:
    """An initcall adds its own files to /proc/sys/``path`` (only "vm" is simulated), as
    fs/drop_caches.c does for drop_caches."""
    if path != "vm":
        raise LinuxmmError(f"/proc/sys/{path}: only /proc/sys/vm is simulated")
    k.vm_registered_table.extend(table)


def vm_entries(k: "Kernel") -> list[ctl_table]:
    """The files this kernel has: its version and configuration decide."""
    table = sorted(vm_table() + tuple(k.vm_registered_table), key=lambda t: t.procname)
    return [t for t in table if k.version >= t.since and (t.present is None or t.present(k))]


def find_entry(k: "Kernel", name: str) -> ctl_table:
    for t in vm_entries(k):
        if t.procname == name:
            return t
    names = " ".join(t.procname for t in vm_entries(k))
    raise KernelError(errno.ENOENT, f"/proc/sys/vm/{name}: no such file (this kernel has: {names})")


# ---- conversions (kernel/sysctl.c) ------------------------------------------------------

_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def proc_get_long(token: str) -> int:
    """One number as ``proc_get_long`` reads it: base 0 (hex, octal, decimal), no trailing junk."""
    if not _NUMBER.fullmatch(token):
        raise KernelError(errno.EINVAL, f"invalid number {token!r}")
    neg, digits = token.startswith("-"), token.lstrip("-")
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits, 8)
    else:
        value = int(digits)
    if value > ULONG_MAX:
        raise KernelError(errno.EINVAL, f"{token!r} overflows")
    return -value if neg else value


def _check_range(t: ctl_table, value: int, lo: int, hi: int) -> int:
    lo = lo if t.extra1 is None else max(lo, t.extra1)
    hi = hi if t.extra2 is None else min(hi, t.extra2)
    if not lo <= value <= hi:
        raise KernelError(errno.EINVAL, f"vm.{t.procname}: {value} is outside {lo}..{hi}")
    return value


def _convert(k: "Kernel", t: ctl_table, text: str):
    tokens = text.split()
    if t.conv == "string":
        return text.rstrip("\n")
    if not tokens:
        raise KernelError(errno.EINVAL, f"vm.{t.procname}: empty write")
    if t.conv == "intvec":
        return [_check_range(t, proc_get_long(tok), INT_MIN, INT_MAX) for tok in tokens]
    value = proc_get_long(tokens[0])  # further numbers are ignored for a scalar
    if t.conv == "ulong":
        if value < 0:
            raise KernelError(errno.EINVAL, f"vm.{t.procname}: negative value")
        return _check_range(t, value, 0, ULONG_MAX)
    if t.conv == "jiffies":
        return _check_range(t, value, INT_MIN // HZ, INT_MAX // HZ)
    value = _check_range(t, value, INT_MIN, INT_MAX)
    return int(bool(value)) if t.conv == "bool" else value


def _show(value) -> str:
    if isinstance(value, list):
        return "\t".join(str(v) for v in value) + "\n"  # proc_dointvec separates with tabs
    return f"{value}\n"


def proc_sys_vm_read(k: "Kernel", name: str) -> str:
    t = find_entry(k, name)
    if not t.mode & 0o400:
        raise KernelError(errno.EACCES, f"/proc/sys/vm/{name} is write-only")
    if t.conv == "refresh":
        return ""  # stat_refresh: reading folds the counters and shows nothing
    return _show(getattr(k.vm, t.data))


def proc_sys_vm_write(k: "Kernel", name: str, text: str) -> int:
    """Write ``text`` like ``echo text > /proc/sys/vm/name``; returns 0 or raises."""
    t = find_entry(k, name)
    if not t.mode & 0o200:
        raise KernelError(errno.EACCES, f"/proc/sys/vm/{name} is read-only")
    if t.conv == "refresh":
        return 0  # our counters never drift per cpu: nothing to fold
    old = getattr(k.vm, t.data)
    new = _convert(k, t, text)
    if t.conv == "intvec":
        new = new[:len(old)] + old[len(new):]  # a short vector writes its first entries only
    setattr(k.vm, t.data, new)
    if t.proc_handler is not None:
        try:
            t.proc_handler(k, old)
        except Exception:
            setattr(k.vm, t.data, old)
            raise
    return 0


def proc_sys_vm(k: "Kernel") -> dict[str, str]:
    """Every readable file's text (write-only ones read as ``""``), for snapshots."""
    out = {}
    for t in vm_entries(k):
        out[t.procname] = proc_sys_vm_read(k, t.procname) if t.mode & 0o400 else ""
    return out


# ---- handlers of knobs that live outside mm/page_alloc.c -------------------------------


def sysctl_vm_numa_stat_handler(k: "Kernel", old) -> None:
    """mm/vmstat.c: turning NUMA statistics off clears the counters."""
    new = k.vm.sysctl_vm_numa_stat
    if new == old:
        return
    if new:
        k.log.info("enable numa statistics")
        return
    for z in for_each_zone(k):
        z.vm_numa_event.row[:] = 0
    k.log.info("disable numa statistics, and clear numa counters")
