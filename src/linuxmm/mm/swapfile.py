"""Swap areas and their slots (``mm/swapfile.c``), Linux 6.18.

``swapon`` claims a partition, a file or a zram device (``claim_swapfile``), reads its size
(``read_swap_header``: slot 0 is the header, marked SWAP_MAP_BAD), sets up its clusters
(``setup_clusters``: the header's cluster on the nonfull list, the rest free) and enables it
with a priority: the one given (``SWAP_FLAG_PREFER``, 0..32767) or the next automatic one
(``--least_priority``: -2, -3, ...). ``swapoff`` swaps every page back in (``try_to_unuse``:
``unuse_pte`` in every mm) and gives the automatic priorities below it back.

Slots are allocated in clusters as 6.18 does (``folio_alloc_swap``): ``swap_alloc_fast``
continues the running CPU's cluster (``percpu_swap_cluster``); otherwise ``swap_alloc_slow``
walks the areas by priority, rotating each one it tries behind its equals
(``plist_requeue``: round robin among equal priorities, one cluster at a time), and
``cluster_alloc_swap_entry`` takes the nonfull clusters, then a free one, then a
fragmented one (``alloc_swap_scan_cluster`` scans a cluster from an offset; the slot after
the one found becomes the CPU's next). ``swap_alloc_entries`` takes several slots the same
way for one reclaim pass (``put_swap_entries`` gives back those it did not use). Freeing
moves clusters between the lists
(``partial_free_cluster``, ``free_cluster``); the compiled frees below change the slots
and their cluster's count (kept per cluster of the pool, ``VmState.swap_ci_count``), and
``sync_clusters`` applies the moves they imply before the next allocation, visiting only the
clusters whose count fell (in cluster order, where the kernel moves them as they happen).
The cluster lists are index arrays, as the kernel's list_heads are lists (each cluster's
links in ``si.cluster_info``, the heads in ``si.cluster_lists``), and the per-CPU cluster of
each order and the areas' priority lists (``plist_add``/``plist_del``/``plist_requeue``) are
arrays of ``swap_globals`` the VmState shares, so ``folio_alloc_swap`` runs compiled whole
and reclaim's compiled code can call it.

A swap pte holds one reference to its slot in ``swap_map``: fork's copy takes another
(``swap_duplicate``), unmapping drops it (``free_swap_and_cache``, which also frees the
swap-cache folio once no pte refers to the slot and no one maps it). These are compiled:
the page-table walkers call them.

Large folios (CONFIG_THP_SWAP): ``folio_alloc_swap`` of order N takes a naturally aligned run
of 2**N slots in a cluster serving that order (each cluster serves the order of its first
allocation; the nonfull and frag lists are per order; the CPU keeps a cluster per order); a
PMD-size folio needs a free cluster, and a swap file none gives a large run. The swap cache
holds such a folio in every slot of its run (each page's ``private`` its own entry).

Not modelled: discard, swap extents of fragmented files, the swap_map count continuation pages.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ..block.genhd import add_disk
from ..errors import KernelError, LinuxmmError
from ..include.linux.blkdev import DiskSpec
from ..include.linux.huge_mm import HPAGE_PMD_ORDER
from ..include.linux.page_flags import PG_dirty, PG_swapcache_mask, PG_writeback
from ..include.linux.swap import (CI_COUNT, CI_FLAGS, CI_NEXT, CI_ORDER, CI_PREV, CLUSTER_FLAG_FRAG,
                                  CLUSTER_FLAG_FREE, CLUSTER_FLAG_FULL, CLUSTER_FLAG_NONE, CLUSTER_FLAG_NONFULL,
                                  CLUSTER_FLAG_USABLE, FRAG_LISTS, FREE_LIST, FULL_LIST, LIST_FIRST, LIST_LAST,
                                  NONFULL_LISTS, NR_CI, PCP_SWAP_OFFSET, PCP_SWAP_TYPE, PLIST_ACTIVE, PLIST_AVAIL,
                                  SI_FLAGS, SI_INUSE, SI_MAX, SI_PAGES, SI_PRIO, SWAP_COUNT_MASK, SWAP_FLAG_PRIO_MASK,
                                  SWAP_HAS_CACHE, SWAP_KINDS, SWAP_MAP_BAD, SWAPFILE_CLUSTER, SWP_BLKDEV,
                                  SWP_SOLIDSTATE, SWP_SYNCHRONOUS_IO, SWP_USED, SWP_WRITEOK, SWAP_NR_ORDERS,
                                  swap_info_struct)
from ..jit import entry
from ..kernel.params import memparse
from .page_io import zram_slot_free_notify, zs_free_pages
from .pagewalk import WALK_DONE, walk_next, walk_page_range
from .pgtable import (MAX_SWAPFILES, NS_SWAPCACHE, PTE_KIND_SWAP, VP_CPU, VP_NR_SWAP_PAGES, VP_SWAP_FREED, VP_SWP_FMT,
                      VMSTATE_FIELDS,
                      SWP_TYPE_SHIFT, VmState, pte_to_swp_entry, swp_offset, swp_type)
from .memcontrol import mem_cgroup_uncharge_swap, mod_memcg_folio_state
from .mm_inline import folio_nr_pages
from .swap import folio_put
from . import buddy as B

if TYPE_CHECKING:
    from ..init.main import Kernel

PG_dirty_mask = np.uint64(1 << PG_dirty)
PG_writeback_mask = np.uint64(1 << PG_writeback)


# ---- slots, compiled (the page-table walkers call these) ------------------------------------


@njit(cache=True)
def swap_slot(vs, entry):
    """The pool index of the slot ``entry`` names."""
    e = np.uint64(entry)
    return vs.swap_base[swp_type(e)] + swp_offset(e)


@njit(cache=True)
def swap_duplicate(vs, entry):
    """Take a reference on the swap slot of ``entry`` (0: done)."""
    vs.swap_map[swap_slot(vs, entry)] += 1
    return 0


# The swap table (``mm/swap_table.h``): one entry per slot, 0 (null), a folio (its pfn shifted
# left: bit 0 clear, as a folio pointer is aligned) or a workingset shadow (an xa value entry:
# bit 0 set), as the page cache's xarray slots are.
@njit(cache=True)
def folio_to_swp_tb(pfn):
    return np.int64(pfn) << 1


@njit(cache=True)
def swp_tb_is_folio(tb):
    return tb != 0 and (tb & 1) == 0


@njit(cache=True)
def swp_tb_is_shadow(tb):
    return (tb & 1) != 0


@njit(cache=True)
def swap_cache_folio(vs, slot):
    """The folio the swap cache holds for pool slot ``slot`` (``swap_cache_get_folio``'s
    table read), 0 for none."""
    tb = vs.swap_table[slot]
    return tb >> 1 if swp_tb_is_folio(tb) else np.int64(0)


@njit(cache=True)
def swap_entries_free(a, vs, slot):
    """The slot is free again (``swap_entries_free``; its cluster moves in ``sync_clusters``);
    a shadow left in its table entry goes with it, its memcg's swap charge too."""
    mem_cgroup_uncharge_swap(a, vs, slot)
    vs.swap_map[slot] = 0
    vs.swap_table[slot] = 0
    vs.swap_ci_count[slot // SWAPFILE_CLUSTER] -= 1
    vs.vp[VP_NR_SWAP_PAGES] += 1
    vs.vp[VP_SWAP_FREED] = 1


@njit(cache=True)
def __swap_cache_add_folio(a, vs, pfn, entry):
    """The folio caches the slots from ``entry`` on, one per page (their SWAP_HAS_CACHE its
    caller took): each page's ``private`` is its own entry, the cache holds a reference per
    page. Returns the shadow the first table entry held (0: none)."""
    nr = folio_nr_pages(a, pfn)
    slot = swap_slot(vs, entry)
    old = vs.swap_table[slot]
    swap_table, private = vs.swap_table, a.private  # loops, not slices: a swap-out or a swap-in each
    for i in range(nr):
        swap_table[slot + i] = folio_to_swp_tb(pfn)
        private[pfn + i] = np.int64(entry) + i
    a.flags[pfn] |= PG_swapcache_mask
    a.refcount[pfn] += nr
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_SWAPCACHE] += nr
    mod_memcg_folio_state(a, pfn, NS_SWAPCACHE, nr)
    return old if swp_tb_is_shadow(old) else np.int64(0)


@njit(cache=True)
def __swap_cache_del_folio(a, vs, pfn, shadow):
    """Take the folio out of the swap cache, leaving ``shadow`` (0: none) in its table
    entries: each slot's cache reference goes (freeing the slot, and the shadow, if no pte
    holds it), the folio's PG_swapcache and its pages' ``private``, NR_SWAPCACHE. The
    cache's references on the folio are its caller's to drop."""
    nr = folio_nr_pages(a, pfn)
    first = swap_slot(vs, a.private[pfn])
    for slot in range(first, first + nr):
        vs.swap_table[slot] = shadow
        vs.swap_map[slot] &= ~SWAP_HAS_CACHE
        if vs.swap_map[slot] == 0:
            swap_entries_free(a, vs, slot)
    a.flags[pfn] &= ~PG_swapcache_mask
    for p in range(pfn, pfn + nr):
        a.private[p] = 0
    vs.nstat[a.zone_node[B.page_zone(a, pfn)], NS_SWAPCACHE] -= nr
    mod_memcg_folio_state(a, pfn, NS_SWAPCACHE, -nr)


@njit(cache=True)
def folio_swapped(a, vs, pfn):
    """Does a swap pte (or a tmpfs file) still refer to one of the folio's slots?"""
    first = swap_slot(vs, a.private[pfn])
    for slot in range(first, first + folio_nr_pages(a, pfn)):
        if vs.swap_map[slot] & SWAP_COUNT_MASK:
            return True
    return False


@njit(cache=True)
def folio_free_swap(a, vs, pfn):
    """Free the swap space of a swap-cache folio no swap pte needs (not under writeback):
    the folio is dirty from now on, its only copy being in memory. True if freed."""
    if not a.flags[pfn] & PG_swapcache_mask or a.flags[pfn] & PG_writeback_mask or folio_swapped(a, vs, pfn):
        return False
    __swap_cache_del_folio(a, vs, pfn, 0)
    a.flags[pfn] |= PG_dirty_mask
    a.refcount[pfn] -= folio_nr_pages(a, pfn) - 1
    folio_put(a, pfn, vs.vp[VP_CPU])  # the swap cache's references
    return True


@njit(cache=True)
def free_swap_cache(a, vs, pfn):
    """``free_swap_cache``: an unmapped folio leaves the swap cache (its last pte went)."""
    if not a.flags[pfn] & PG_swapcache_mask or a.entire_mapcount[pfn] > 0:
        return
    if (a.mapcount[pfn:pfn + folio_nr_pages(a, pfn)] <= 0).all():
        folio_free_swap(a, vs, pfn)


@njit(cache=True)
def free_swap_and_cache(a, vs, entry):
    """Drop a page table's reference on the swap slot of ``entry``; a swap-cache folio no
    one maps goes with the last one (``__try_to_reclaim_swap``, TTRS_UNMAPPED)."""
    slot = swap_slot(vs, entry)
    vs.swap_map[slot] -= 1
    if vs.swap_map[slot] == 0:
        swap_entries_free(a, vs, slot)
    elif vs.swap_map[slot] == SWAP_HAS_CACHE:
        free_swap_cache(a, vs, swap_cache_folio(vs, slot))


@njit(cache=True)
def swap_free(a, vs, entry):
    """Drop a reference that is not the last of a slot the swap cache holds (``swap_free_nr``)."""
    slot = swap_slot(vs, entry)
    vs.swap_map[slot] -= 1
    if vs.swap_map[slot] == 0:
        swap_entries_free(a, vs, slot)


# ---- the areas ----------------------------------------------------------------------------


def get_nr_swap_pages(k: "Kernel") -> int:
    """The free slots of every area (``get_nr_swap_pages``)."""
    return 0 if k.vm_state is None else int(k.vm_state.vp[VP_NR_SWAP_PAGES])


def si_swapinfo(k: "Kernel") -> tuple[int, int]:
    """``si_swapinfo``: (total, free) swap pages for /proc/meminfo; an area being swapped off
    (no longer SWP_WRITEOK) counts the slots it still uses in both, as if still enabled."""
    to_be_unused = 0
    for si in k.swap.swap_active_head:
        if not si.flags & SWP_WRITEOK:
            to_be_unused += int(np.count_nonzero(k.vm_state.swap_map[si.base + 1:si.base + si.max]))
    return k.total_swap_pages + to_be_unused, get_nr_swap_pages(k) + to_be_unused


def vm_swap_full(k: "Kernel") -> bool:
    """Half the swap space is used (``vm_swap_full``)."""
    return get_nr_swap_pages(k) * 2 < k.total_swap_pages


def swap_info_get(k: "Kernel", entry: int) -> swap_info_struct:
    return k.swap.swap_info[swp_type(np.uint64(entry))]


def swap_map_of(k: "Kernel", si: swap_info_struct) -> np.ndarray:
    """The area's ``swap_map`` (a view of the pool)."""
    return k.vm_state.swap_map[si.base:si.base + si.max]


def ci_count_of(k: "Kernel", si: swap_info_struct) -> np.ndarray:
    """The slots in use of each of the area's clusters, as taking and freeing slots keep
    them (a view of the pool; ``si.ci_count`` holds them as the cluster lists last saw them)."""
    first = si.base // SWAPFILE_CLUSTER
    return k.vm_state.swap_ci_count[first:first + si.ci_count.shape[0]]


def _einval(why: str) -> KernelError:
    return KernelError(errno.EINVAL, why)


SWAP_SIM_MAX_BYTES = 256 << 30  # a simulator limit, not the kernel's: ~10 bytes of host memory per slot


def check_sim_limit(nbytes: int) -> None:
    if nbytes > SWAP_SIM_MAX_BYTES:
        raise LinuxmmError(f"swapon: {nbytes} bytes: the simulator holds swap areas of at most "
                           f"{SWAP_SIM_MAX_BYTES >> 30} GiB (per-slot state in memory)")


def parse_swap_size(size) -> int:
    """Bytes from an int or a string like "8G" (``memparse``)."""
    if isinstance(size, str):
        value, rest = memparse(size.strip())
        if rest:
            raise _einval(f"swap size {size!r}: not a size")
        return value
    return int(size)


def _grow_pool(k: "Kernel", slots: int) -> int:
    """Room for ``slots`` more slots at the end of the pool, in whole clusters (the VmState is
    rebuilt, as the table pool is when it grows); returns the first new slot."""
    from ..kernel.fork import ensure_tables

    vs = ensure_tables(k)
    base = vs.swap_map.shape[0]
    clusters = -(-slots // SWAPFILE_CLUSTER)
    slots = clusters * SWAPFILE_CLUSTER
    arrays = {n: getattr(vs, n) for n, _, _ in VMSTATE_FIELDS}
    arrays["swap_ci_count"] = np.concatenate([vs.swap_ci_count, np.zeros(clusters, np.int32)])
    arrays["swap_map"] = np.concatenate([vs.swap_map, np.zeros(slots, np.int16)])
    arrays["swap_table"] = np.concatenate([vs.swap_table, np.zeros(slots, np.int64)])
    arrays["swap_cgroup"] = np.concatenate([vs.swap_cgroup, np.zeros(slots, np.int32)])
    arrays["swap_content"] = np.concatenate([vs.swap_content, np.zeros((slots, B.CONTENT_LINES), np.uint8)])
    arrays["swap_content_valid"] = np.concatenate([vs.swap_content_valid, np.zeros(slots, np.uint8)])
    arrays["swap_cluster_info"] = np.concatenate([vs.swap_cluster_info, np.zeros((clusters, NR_CI), np.int64)])
    arrays["swap_zs_stored"] = np.concatenate([vs.swap_zs_stored, np.zeros(slots, np.uint8)])
    arrays["swap_zs_pages"] = np.concatenate([vs.swap_zs_pages, np.zeros(slots, np.int64)])
    k.vm_state = VmState.from_arrays(**arrays)
    for si in k.swap.swap_info:
        if si is not None:
            si.bind_pool(k.vm_state)
    return base


def claim_swapfile(k: "Kernel", kind: str, path: str | None, nbytes: int):
    """The area's name and block device (None: zram), after the checks swapon makes of it."""
    active = {si.swap_file for si in k.swap.swap_info if si is not None}
    if kind == "zram":
        path = path or f"/dev/zram{k.swap.nr_zram}"
        bdev = None
    elif kind == "partition":
        bdev = k.block_devices.get(path.removeprefix("/dev/"))
        if bdev is None:
            raise KernelError(errno.ENOENT, f"swapon: {path}: no such block device")
        if nbytes > bdev.nr_sectors << 9:
            raise _einval(f"swapon: {path}: swap area of {nbytes} bytes is larger than the device "
                          f"({bdev.nr_sectors << 9} bytes)")
    else:
        path = path or "/swapfile"
        bdev = _swapfile_bdev(k, path, nbytes)
    if path in active:
        raise KernelError(errno.EBUSY, f"swapon: {path}: already a swap area")
    return path, bdev


def attach_swap_disk(k: "Kernel", nbytes: int):
    """A partition swapon without a path: the machine gets a disk of its own for it (the next
    virtio name, vdb ...), of exactly ``nbytes`` and the first disk's speed, as a VM given a
    swap disk would have."""
    names = set(k.block_devices)
    name = next(f"vd{c}" for c in "abcdefghijklmnopqrstuvwxyz" if f"vd{c}" not in names)
    model = next(iter(k.block_devices.values()), None)
    spec = DiskSpec(name, nbytes) if model is None else DiskSpec(
        name, nbytes, model.read_bw, model.write_bw, model.latency_us, model.queue_depth)
    return add_disk(k, spec)


def _swapfile_bdev(k: "Kernel", path: str, nbytes: int):
    """A swap file's disk: its directory must exist, on a filesystem with blocks (``bmap``)."""
    import posixpath

    from ..fs.namei import lookup
    from ..fs.namespace import lookup_mnt

    if not path.startswith("/"):
        raise _einval(f"swapon: {path}: not an absolute path")
    ino = lookup(k, path)
    if ino is not None and ino.is_dir:
        raise _einval(f"swapon: {path}: is a directory")
    sb, rel = lookup_mnt(k, path)
    if posixpath.dirname(rel) and sb.s_dentries.get(posixpath.dirname(rel)) is None:
        raise KernelError(errno.ENOENT, f"swapon: {posixpath.dirname(path)}: no such directory")
    if sb.s_bdev is None:
        raise _einval(f"swapon: {path}: {sb.s_type} cannot hold a swap file (no bmap)")
    if nbytes > sb.s_bdev.nr_sectors << 9:
        raise KernelError(errno.ENOSPC, f"swapon: {path}: {nbytes} bytes do not fit on {sb.s_bdev.bd_disk}")
    return sb.s_bdev


def setup_clusters(k: "Kernel", si: swap_info_struct) -> None:
    """Clusters holding a bad slot (the header, the slots past the end) start nonfull; the
    rest free, in order."""
    nr = si.cluster_info.shape[0]
    si.cluster_info[:] = 0
    si.cluster_info[:, [CI_NEXT, CI_PREV]] = -1
    si.cluster_lists[:] = -1
    si.ci_count[0] += 1  # the header
    si.ci_count[nr - 1] += nr * SWAPFILE_CLUSTER - si.max
    ci_count_of(k, si)[:] = si.ci_count
    k.vm_state.vp[VP_SWAP_FREED] = 1  # the next sync counts the area's slots in use
    for c in range(nr):
        if si.ci_count[c]:
            move_cluster(si.cluster_info, si.cluster_lists, c, NONFULL_LISTS, CLUSTER_FLAG_NONFULL)
        else:
            move_cluster(si.cluster_info, si.cluster_lists, c, FREE_LIST, CLUSTER_FLAG_FREE)


# The priority lists (``plist_head``) are rows of area types in list order, ended by -1
# (``swap_globals.plists``): highest priority first, a node added behind its equals.


@njit(cache=True)
def plist_find(head, type_):
    """The place of area ``type_`` in the list ``head`` (-1: not on it)."""
    for i in range(head.shape[0]):
        if head[i] < 0:
            return -1
        if head[i] == type_:
            return i
    return -1


@njit(cache=True)
def plist_add(head, si, type_):
    """``plist_add``: behind every node of the same priority (``si``: the areas' SI_* rows)."""
    prio = si[type_, SI_PRIO]
    i = 0
    while head[i] >= 0 and si[head[i], SI_PRIO] >= prio:
        i += 1
    for j in range(head.shape[0] - 1, i, -1):
        head[j] = head[j - 1]
    head[i] = type_


@njit(cache=True)
def plist_del(head, type_):
    """``plist_del`` (nothing if the area is not on the list)."""
    i = plist_find(head, type_)
    if i >= 0:
        for j in range(i, head.shape[0] - 1):
            head[j] = head[j + 1]
        head[-1] = -1


@njit(cache=True)
def plist_requeue(head, si, type_):
    """``plist_requeue``: the area moves behind the others of its priority."""
    plist_del(head, type_)
    plist_add(head, si, type_)


def swapon(k: "Kernel", size, priority: int | None = None, kind: str = "partition", path: str | None = None,
           compression_ratio: float = 3.0) -> int:
    """``sys_swapon``: enable a swap area of ``size`` bytes; returns its type. ``priority``
    None takes the next automatic (negative) one."""
    if kind not in SWAP_KINDS:
        raise _einval(f"swapon: kind {kind!r}: one of {', '.join(SWAP_KINDS)}")
    if priority is not None and not 0 <= priority <= SWAP_FLAG_PRIO_MASK:
        raise _einval(f"swapon: priority {priority}: 0..{SWAP_FLAG_PRIO_MASK}, or -1 for the default")
    nbytes = parse_swap_size(size)
    maxpages = nbytes >> k.arch.page_shift
    if maxpages < 2:
        raise _einval(f"swapon: {nbytes} bytes hold no page past the swap header (Empty swap-file)")
    if kind == "zram" and compression_ratio < 1:
        raise _einval(f"swapon: compression_ratio {compression_ratio}: at least 1")
    if kind == "partition" and path is None:
        check_sim_limit(nbytes)
        path = "/dev/" + attach_swap_disk(k, nbytes).bd_disk
    swap_file, bdev = claim_swapfile(k, kind, path, nbytes)
    check_sim_limit(nbytes)
    free = [t for t, si in enumerate(k.swap.swap_info) if si is None]
    if not free and len(k.swap.swap_info) >= MAX_SWAPFILES:
        raise KernelError(errno.EPERM, f"swapon: {MAX_SWAPFILES} swap areas are active already")
    type_ = free[0] if free else len(k.swap.swap_info)
    prio = priority if priority is not None else k.swap.least_priority - 1
    flags = SWP_USED | SWP_WRITEOK | SWP_SOLIDSTATE | (SWP_BLKDEV if kind != "file" else 0)
    flags |= SWP_SYNCHRONOUS_IO if kind == "zram" else 0
    g = k.swap
    g.si[type_] = 0
    g.si[type_, [SI_PRIO, SI_FLAGS, SI_MAX, SI_PAGES]] = prio, flags, maxpages, maxpages - 1
    g.zs_ratio[type_] = compression_ratio if kind == "zram" else 1.0
    si = swap_info_struct(g, type_, kind, swap_file, _grow_pool(k, maxpages), bdev)
    si.bind_pool(k.vm_state)
    setup_clusters(k, si)
    if priority is None:
        k.swap.least_priority -= 1
    if kind == "zram":
        k.swap.nr_zram += 1
    enable_swap_info(k, si)
    k.log.info(f"Adding {si.pages << (k.arch.page_shift - 10)}k swap on {swap_file}.  Priority:{prio} extents:1 "
               f"across:{si.pages << (k.arch.page_shift - 10)}k SS")
    return type_


def enable_swap_info(k: "Kernel", si: swap_info_struct) -> None:
    vs = k.vm_state
    vs.swap_base[si.type] = si.base
    vs.swap_map[si.base] = SWAP_MAP_BAD
    vs.swap_sync_io[si.type] = bool(si.flags & SWP_SYNCHRONOUS_IO)
    vs.vp[VP_NR_SWAP_PAGES] += si.pages
    k.total_swap_pages += si.pages
    if si.type == len(k.swap.swap_info):
        k.swap.swap_info.append(si)
    else:
        k.swap.swap_info[si.type] = si
    plist_add(k.swap.plists[PLIST_ACTIVE], k.swap.si, si.type)
    plist_add(k.swap.plists[PLIST_AVAIL], k.swap.si, si.type)


def find_swap_area(k: "Kernel", path: str) -> swap_info_struct:
    for si in k.swap.swap_active_head:
        if si.swap_file == path:
            return si
    raise _einval(f"swapoff: {path}: not an active swap area")


def del_from_avail(k: "Kernel", si: swap_info_struct) -> None:
    """The area goes; the automatic priorities below it move up by one (``least_priority++``)."""
    head = k.swap.swap_active_head
    if si.prio < 0:
        for other in head[head.index(si) + 1:]:
            other.prio += 1
        k.swap.least_priority += 1
    plist_del(k.swap.plists[PLIST_ACTIVE], si.type)
    zram_reset(k, si)
    vs = k.vm_state
    vs.swap_map[si.base] = 0
    ci_count_of(k, si)[:] = 0
    vs.vp[VP_SWAP_FREED] = 1
    vs.swap_base[si.type] = -1
    vs.swap_sync_io[si.type] = 0
    pcp = k.swap.percpu_swap_cluster
    pcp[pcp[:, :, PCP_SWAP_TYPE] == si.type] = (-1, 0)
    k.swap.swap_info[si.type] = None


def zram_reset(k: "Kernel", si: swap_info_struct) -> None:
    """The zram device's pages go back to the allocator with its data."""
    zs_free_pages(k.mem_map, k.vm_state, si.type, len(si.zram_pages))


# ---- allocation (folio_alloc_swap) -------------------------------------------------------------


# The cluster lists are index arrays (``si.cluster_info``'s CI_NEXT/CI_PREV links, the heads
# in ``si.cluster_lists``): list_del/list_add_tail below keep the kernel's list order (an
# isolated cluster, CLUSTER_FLAG_NONE, is on no list), so the allocation is compiled whole.


@njit(cache=True)
def cluster_list(flag, order):
    """The list a cluster of ``flag`` (and ``order``) is on; -1 for an isolated one."""
    if flag == CLUSTER_FLAG_FREE:
        return FREE_LIST
    if flag == CLUSTER_FLAG_FULL:
        return FULL_LIST
    if flag == CLUSTER_FLAG_NONFULL:
        return NONFULL_LISTS + order
    if flag == CLUSTER_FLAG_FRAG:
        return FRAG_LISTS + order
    return -1


@njit(cache=True)
def list_del(ci, lists, lst, c):
    prev, next_ = ci[c, CI_PREV], ci[c, CI_NEXT]
    if prev >= 0:
        ci[prev, CI_NEXT] = next_
    else:
        lists[lst, LIST_FIRST] = next_
    if next_ >= 0:
        ci[next_, CI_PREV] = prev
    else:
        lists[lst, LIST_LAST] = prev
    ci[c, CI_PREV] = -1
    ci[c, CI_NEXT] = -1


@njit(cache=True)
def list_add_tail(ci, lists, lst, c):
    last = lists[lst, LIST_LAST]
    ci[c, CI_PREV] = last
    ci[c, CI_NEXT] = -1
    if last >= 0:
        ci[last, CI_NEXT] = c
    else:
        lists[lst, LIST_FIRST] = c
    lists[lst, LIST_LAST] = c


@njit(cache=True)
def move_cluster(ci, lists, c, lst, flag):
    """Cluster ``c`` off its list, onto the tail of ``lst``, with ``flag``."""
    old = cluster_list(ci[c, CI_FLAGS], ci[c, CI_ORDER])
    if old >= 0:
        list_del(ci, lists, old, c)
    list_add_tail(ci, lists, lst, c)
    ci[c, CI_FLAGS] = flag


@njit(cache=True)
def clusters_fallen(ci, counts):
    """How many clusters' live count fell below what their list saw, and the slots in use:
    one loop, no array made (it runs before every swap allocation)."""
    fallen, in_use = 0, np.int64(0)
    for c in range(counts.shape[0]):
        in_use += counts[c]
        if counts[c] < ci[c, CI_COUNT]:
            fallen += 1
    return fallen, in_use


@njit(cache=True)
def sync_cluster_lists(ci, lists, counts, nr):
    """The ``nr`` clusters whose live count fell below what their list saw move, in cluster
    order (``partial_free_cluster`` to the nonfull list of the cluster's order;
    ``free_cluster``, which makes it order 0 again, when empty; an isolated one stays).
    Returns those clusters."""
    freed = np.empty(nr, np.int64)
    n = 0
    for c in range(counts.shape[0]):
        if counts[c] >= ci[c, CI_COUNT]:
            continue
        freed[n] = c
        n += 1
        ci[c, CI_COUNT] = counts[c]
        if ci[c, CI_FLAGS] == CLUSTER_FLAG_NONE:
            continue
        if counts[c] == 0:
            move_cluster(ci, lists, c, FREE_LIST, CLUSTER_FLAG_FREE)
            ci[c, CI_ORDER] = 0
        elif ci[c, CI_FLAGS] != CLUSTER_FLAG_NONFULL:
            move_cluster(ci, lists, c, NONFULL_LISTS + ci[c, CI_ORDER], CLUSTER_FLAG_NONFULL)
    return freed


@njit(cache=True)
def area_clusters(vs, type_):
    """Area ``type_``'s ``cluster_info`` rows, list heads and live counts (views of the pool)."""
    first = vs.swap_base[type_] // SWAPFILE_CLUSTER
    end = first + -(-vs.swap_si[type_, SI_MAX] // SWAPFILE_CLUSTER)
    return vs.swap_cluster_info[first:end], vs.swap_cluster_lists[type_], vs.swap_ci_count[first:end]


@entry
def sync_clusters(a, vs, type_):
    """Bring area ``type_``'s cluster lists up to date with the slots freed by compiled code
    since the last allocation (``sync_cluster_lists``, visiting only the clusters whose count
    fell, in cluster order, where the kernel moves them as they happen); zram drops the data
    of the slots freed there."""
    ci, lists, counts = area_clusters(vs, type_)
    fallen, in_use = clusters_fallen(ci, counts)
    row = vs.swap_si[type_]
    row[SI_INUSE] = in_use - 1 - (ci.shape[0] * SWAPFILE_CLUSTER - row[SI_MAX])
    if fallen:
        freed = sync_cluster_lists(ci, lists, counts, fallen)
        if row[SI_FLAGS] & SWP_SYNCHRONOUS_IO:
            zram_slot_free_notify(a, vs, type_, freed)


@njit(cache=True)
def isolate_lock_cluster(ci, lists, lst):
    """The first cluster of ``lst``, taken off it (-1 when the list is empty)."""
    c = lists[lst, LIST_FIRST]
    if c >= 0:
        list_del(ci, lists, lst, c)
        ci[c, CI_FLAGS] = CLUSTER_FLAG_NONE
    return c


@njit(cache=True)
def relocate_cluster(ci, lists, c):
    """After an allocation: empty -> free, partly used -> frag (of its order), full -> full."""
    count = ci[c, CI_COUNT]
    if count == 0:
        if ci[c, CI_FLAGS] != CLUSTER_FLAG_FREE:
            move_cluster(ci, lists, c, FREE_LIST, CLUSTER_FLAG_FREE)
    elif count != SWAPFILE_CLUSTER:
        if ci[c, CI_FLAGS] != CLUSTER_FLAG_FRAG:
            move_cluster(ci, lists, c, FRAG_LISTS + ci[c, CI_ORDER], CLUSTER_FLAG_FRAG)
    elif ci[c, CI_FLAGS] != CLUSTER_FLAG_FULL:
        move_cluster(ci, lists, c, FULL_LIST, CLUSTER_FLAG_FULL)


@njit(cache=True)
def cluster_is_usable(ci, c, order):
    """A cluster on no list above FRAG (not full, not being discarded) serves order 0, and a
    larger order when it is empty or already that order's."""
    if ci[c, CI_FLAGS] > CLUSTER_FLAG_USABLE:
        return False
    return not order or ci[c, CI_COUNT] == 0 or ci[c, CI_ORDER] == order


@njit(cache=True)
def cluster_alloc_range(vs, base, offset, end, order, found):
    """Take free, naturally aligned runs of ``1 << order`` slots of [offset, end) in the area
    at pool slot ``base`` (``offset`` aligned), up to ``found``'s size, each slot with
    SWAP_HAS_CACHE (``cluster_scan_range`` + ``cluster_alloc_range``); their first offsets
    into ``found``. Returns how many runs; the cluster's count and the free slots follow."""
    size = np.int64(1) << order
    n = 0
    off = offset
    while off + size <= end and n < found.shape[0]:
        if not vs.swap_map[base + off:base + off + size].any():
            vs.swap_map[base + off:base + off + size] = SWAP_HAS_CACHE
            found[n] = off
            n += 1
        off += size
    vs.swap_ci_count[(base + offset) // SWAPFILE_CLUSTER] += n * size
    vs.vp[VP_NR_SWAP_PAGES] -= n * size
    return n


@njit(cache=True)
def put_swap_entries(vs, entries):
    """Give back slots held only with SWAP_HAS_CACHE that no folio took (``put_swap_folio``)."""
    for e in entries:
        slot = swap_slot(vs, e)
        vs.swap_map[slot] = 0
        vs.swap_table[slot] = 0
        vs.swap_ci_count[slot // SWAPFILE_CLUSTER] -= 1
    vs.vp[VP_NR_SWAP_PAGES] += entries.shape[0]
    if entries.shape[0]:
        vs.vp[VP_SWAP_FREED] = 1


@njit(cache=True)
def alloc_swap_scan_cluster(vs, ci, lists, base, max_, c, offset, order, nr):
    """Up to ``nr`` free runs of ``1 << order`` slots of cluster ``c`` from ``offset``, each
    slot taken with SWAP_HAS_CACHE (the first offsets, in order; none when the cluster has no
    room); the first allocation in an empty cluster makes it this order's. Returns them and
    the slot after the last run: the CPU's next of this order (0: none)."""
    size = np.int64(1) << order
    end = min((c + 1) * SWAPFILE_CLUSTER, max_)
    found = np.zeros(0, np.int64)
    next_ = 0
    if end >= size and ci[c, CI_COUNT] + size <= SWAPFILE_CLUSTER:
        found = np.zeros(max(min(nr, (end - offset) >> order), 0), np.int64)
        found = found[:cluster_alloc_range(vs, base, offset, end, order, found)]
        if found.size:
            if ci[c, CI_COUNT] == 0:
                ci[c, CI_ORDER] = order
            ci[c, CI_COUNT] += found.size << order
            if ci[c, CI_COUNT] < SWAPFILE_CLUSTER and found[-1] + 2 * size <= end:
                next_ = found[-1] + size
    relocate_cluster(ci, lists, c)
    return found, next_


@njit(cache=True)
def alloc_swap_scan_list(vs, ci, lists, base, max_, lst, order, nr, scan_all, next_):
    """Isolate the first cluster of ``lst`` and allocate from it; with ``scan_all`` go on
    down the list until one gives something. ``next_`` is the CPU's next offset so far
    (-1: no cluster scanned yet); returns the offsets found and the CPU's next."""
    while True:
        c = isolate_lock_cluster(ci, lists, lst)
        if c < 0:
            return np.zeros(0, np.int64), next_
        found, next_ = alloc_swap_scan_cluster(vs, ci, lists, base, max_, c, c * SWAPFILE_CLUSTER, order, nr)
        if found.size or not scan_all:
            return found, next_


@njit(cache=True)
def cluster_alloc_swap_entry(vs, ci, lists, base, max_, blkdev, order, nr):
    """Up to ``nr`` runs of ``1 << order`` slots of one area (``cluster_alloc_swap_entry``):
    the nonfull clusters of the order (all of them, below PMD order), then one free cluster,
    then one fragmented cluster of the order; order 0 then steals from the fragmented and
    nonfull clusters of the larger orders. A swap file (no SWP_BLKDEV) gives no large run.
    Returns the first offsets and the CPU's next offset (-1: no cluster was scanned)."""
    next_ = np.int64(-1)
    if order and not blkdev:
        return np.zeros(0, np.int64), next_
    if order < HPAGE_PMD_ORDER:
        found, next_ = alloc_swap_scan_list(vs, ci, lists, base, max_, NONFULL_LISTS + order, order, nr, True, next_)
        if found.size:
            return found, next_
    found, next_ = alloc_swap_scan_list(vs, ci, lists, base, max_, FREE_LIST, order, nr, False, next_)
    if found.size:
        return found, next_
    if order < HPAGE_PMD_ORDER:
        found, next_ = alloc_swap_scan_list(vs, ci, lists, base, max_, FRAG_LISTS + order, order, nr, False, next_)
        if found.size or order:
            return found, next_
    if order:
        return found, next_
    for o in range(1, SWAP_NR_ORDERS):
        for lst in (FRAG_LISTS + o, NONFULL_LISTS + o):
            found, next_ = alloc_swap_scan_list(vs, ci, lists, base, max_, lst, 0, nr, True, next_)
            if found.size:
                return found, next_
    return found, next_


@njit(cache=True)
def swap_entries(type_, offsets):
    """The swap entries of ``offsets`` in area ``type_`` (``swp_entry`` over an array)."""
    out = np.empty(offsets.shape[0], np.int64)
    for i in range(offsets.shape[0]):
        out[i] = np.int64(np.uint64(type_) << np.uint64(SWP_TYPE_SHIFT) | np.uint64(offsets[i]))
    return out


@njit(cache=True)
def swap_alloc_cluster(vs, ci, lists, type_, base, max_, offset, order, nr):
    """``swap_alloc_fast``'s allocation: continue the CPU's cluster at ``offset`` (from its
    start once it emptied) if it still serves ``order``. Returns the entries taken and the
    CPU's next (-1: the cluster was not usable)."""
    c = offset // SWAPFILE_CLUSTER
    if not cluster_is_usable(ci, c, order):
        return np.zeros(0, np.int64), np.int64(-1)
    start = offset if ci[c, CI_COUNT] else c * SWAPFILE_CLUSTER
    found, next_ = alloc_swap_scan_cluster(vs, ci, lists, base, max_, c, start, order, nr)
    return swap_entries(type_, found), next_


@njit(cache=True)
def swap_took(vs, type_, order, entries, next_):
    """After an allocation in area ``type_``: the slots it took count in use, the CPU's
    cluster of the order moves on (unless no cluster was scanned); returns their entries."""
    vs.swap_si[type_, SI_INUSE] += entries.shape[0] << order
    if next_ >= 0:
        pcp = vs.percpu_swap_cluster[vs.vp[VP_CPU], order]
        pcp[PCP_SWAP_TYPE] = type_
        pcp[PCP_SWAP_OFFSET] = next_
    return entries


@njit(cache=True)
def swap_alloc_fast(vs, order, nr):
    """Continue the running CPU's cluster of ``order``: up to ``nr`` entries (none if it has
    no usable one)."""
    pcp = vs.percpu_swap_cluster[vs.vp[VP_CPU], order]
    type_, offset = pcp[PCP_SWAP_TYPE], pcp[PCP_SWAP_OFFSET]
    if type_ < 0 or not offset or not vs.swap_si[type_, SI_FLAGS] & SWP_WRITEOK:
        return np.zeros(0, np.int64)
    ci, lists, _ = area_clusters(vs, type_)
    entries, next_ = swap_alloc_cluster(vs, ci, lists, type_, vs.swap_base[type_], vs.swap_si[type_, SI_MAX], offset,
                                        order, nr)
    return swap_took(vs, type_, order, entries, next_)


@njit(cache=True)
def swap_alloc_slow(vs, order, nr):
    """Try the areas by priority, each rotated behind its equals first (``plist_requeue``); a
    large allocation gives up after the first area (its failure is not critical: the folio
    is split), an order-0 one takes a full area off the avail list (``del_from_avail_list``)."""
    head = vs.swap_plists[PLIST_AVAIL]
    areas = np.empty(head.shape[0], np.int64)  # the list as it was: the loop requeues and deletes
    areas[:] = head
    for type_ in areas:
        if type_ < 0:
            break
        if plist_find(head, type_) >= 0:
            plist_requeue(head, vs.swap_si, type_)
        ci, lists, _ = area_clusters(vs, type_)
        row = vs.swap_si[type_]
        found, next_ = cluster_alloc_swap_entry(vs, ci, lists, vs.swap_base[type_], row[SI_MAX],
                                                (row[SI_FLAGS] & SWP_BLKDEV) != 0, order, nr)
        entries = swap_took(vs, type_, order, swap_entries(type_, found), next_)
        if entries.size:
            return entries
        if order:
            break
        plist_del(head, type_)
    return np.zeros(0, np.int64)


@njit(cache=True)
def swap_sync_avail(a, vs):
    """Apply the frees of compiled code to the clusters (none to apply when no slot was freed
    since the last time: VP_SWAP_FREED); an area with free slots again is back on the avail
    list."""
    active, avail, si = vs.swap_plists[PLIST_ACTIVE], vs.swap_plists[PLIST_AVAIL], vs.swap_si
    freed = vs.vp[VP_SWAP_FREED]
    vs.vp[VP_SWAP_FREED] = 0
    for type_ in active:
        if type_ < 0:
            break
        if freed:
            sync_clusters(a, vs, type_)
        if si[type_, SI_FLAGS] & SWP_WRITEOK and si[type_, SI_INUSE] < si[type_, SI_PAGES] \
                and plist_find(avail, type_) < 0:
            plist_add(avail, si, type_)


@entry
def folio_alloc_swap(a, vs, order):
    """The first swap entry of ``1 << order`` consecutive slots for a folio of that order
    (``folio_alloc_swap``: the CPU's cluster of the order, then the areas by priority), each
    slot held by the swap cache (SWAP_HAS_CACHE); -1 when no area has room for it."""
    if vs.vp[VP_NR_SWAP_PAGES] < np.int64(1) << order:
        return np.int64(-1)
    swap_sync_avail(a, vs)
    got = swap_alloc_fast(vs, order, 1)
    if not got.size:
        got = swap_alloc_slow(vs, order, 1)
    return got[0] if got.size else np.int64(-1)


@entry
def swap_alloc_entries(a, vs, nr):
    """Up to ``nr`` entries for order-0 folios, each slot held with SWAP_HAS_CACHE, taken as
    ``folio_alloc_swap`` takes them one by one (the CPU's cluster, then the areas by
    priority). Reclaim reserves a batch's slots this way before its compiled pass, as the
    swap slots cache of kernels before 6.15 did (``get_swap_pages``); the slots it does not
    use go back with ``put_swap_entries``."""
    out = np.zeros(nr, np.int64)
    if vs.vp[VP_NR_SWAP_PAGES] <= 0:
        return out[:0]
    swap_sync_avail(a, vs)
    n = 0
    while n < nr:
        got = swap_alloc_fast(vs, 0, nr - n)
        if not got.size:
            got = swap_alloc_slow(vs, 0, nr - n)
        if not got.size:
            break
        out[n:n + got.size] = got
        n += got.size
    return out[:n]


@entry
def swap_release_entries(vs, entries, orders):
    """Give back the reserved runs of ``1 << orders[i]`` slots from ``entries[i]`` (-1: none)
    no folio took; their clusters follow in ``sync_clusters``."""
    for i in range(entries.shape[0]):
        if entries[i] >= 0:
            put_swap_entries(vs, entries[i] + np.arange(np.int64(1) << orders[i]))


# ---- /proc/swaps ------------------------------------------------------------------------------


def swap_show(k: "Kernel") -> str:
    """``/proc/swaps`` (``swap_show``): sizes in KiB; a partition's or zram's type is
    "partition", a file's "file" padded by a tab."""
    out = ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"]
    kb = k.arch.page_shift - 10
    for si in k.swap.swap_active_head:
        sync_clusters(k.mem_map, k.vm_state, si.type)
        size, inuse = si.pages << kb, si.inuse_pages << kb
        name = si.swap_file
        pad = 40 - len(name) if len(name) < 40 else 1
        typ = "partition" if si.flags & SWP_BLKDEV else "file\t"
        out.append(f"{name}{' ' * pad}{typ}\t{size}\t{chr(9) if size < 10000000 else ''}"
                   f"{inuse}\t{chr(9) if inuse < 10000000 else ''}{si.prio}\n")
    return "".join(out)


# ---- what debug.check counts ------------------------------------------------------------------


@njit(cache=True)
def swap_pte_refs(a, vs, pgd, refs):
    """Add each swap pte of one mm to ``refs`` (per pool slot); returns how many name a slot
    of no area or past the pool."""
    bad = 0
    w = walk_page_range(vs, pgd, 0, np.int64(1) << 62, 0)
    while True:
        kind, level, row, idx, addr = walk_next(a, vs, w)
        if kind == WALK_DONE:
            return bad
        if kind != PTE_KIND_SWAP:
            continue
        entry = pte_to_swp_entry(vs.pt[row, idx], vs.vp[VP_SWP_FMT])
        slot = swap_slot(vs, entry)
        if vs.swap_base[swp_type(entry)] < 0 or slot >= refs.shape[0]:
            bad += 1
        else:
            refs[slot] += 1
