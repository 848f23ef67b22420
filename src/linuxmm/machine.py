"""``Machine``: the public face of a booted simulated machine, for notebooks and the CLI.

    >>> m = linuxmm.Machine()                      # the default machine
    >>> m = linuxmm.Machine(preset="seed-x86-32")  # a built-in preset
    >>> m = linuxmm.Machine.from_dmesg("tests/data/dmesg/Server__4.15.0-112-GENERIC__X86_64__874EAAB0BB.log")
    >>> print(m.dmesg())

Every view hands out values or frozen records (``linuxmm.records``), never the simulator's
live kernel objects. ``m.kernel`` is that kernel object itself, for tests and kernel readers
who want the internals with the kernel's names; it is not part of the stable API and editing
it edits the machine.
"""

from __future__ import annotations

import copy
import errno
import html
from pathlib import Path
from typing import TYPE_CHECKING

from .description import MachineDescription
from .mm.mm_inline import lru_gen_enabled
from .include.linux.mmzone import node_states
from .include.linux.page_flags import PG_reserved_mask
from .errors import KernelError
from .include.linux.sched import TASK_RUNNING
from .include.linux.mm_types import MMC_MEMCG
from .init.main import Kernel, start_kernel
from .kernel.cgroup.cgroup import cgroup_attach_task, cgroup_get, cgroup_lookup
from .kernel.timer import NSEC_PER_SEC
from .records import Node, Zone, html_table, node_record, zones_html

if TYPE_CHECKING:
    from .cgroup import Cgroup
    from .process import Process


class _Priority(int):
    """The default of ``Machine.swapon``'s priority: none given (the kernel picks -2, -3, ...)."""


_AUTO_PRIORITY = _Priority(-2)


class Machine:
    """A booted simulated machine: firmware map, memblock, nodes and zones, the buddy
    allocator, processes. Boots in the constructor (``start_kernel`` up to the point where
    ``mm_core_init`` is done); the page allocator's compiled core is built on first use.
    In a notebook a machine shows as tables: its zones (ranges, pages, watermarks) and its
    live processes."""

    def __init__(self, desc: MachineDescription | None = None, *, preset: str | None = None,
                 cmdline: str | None = None, machine_file: str | Path | None = None,
                 lru_gen: bool | None = None):
        """Boot ``desc``, a preset (``linuxmm presets``; the default machine when nothing is
        given) or a TOML machine file; ``cmdline`` is appended to its kernel command line.
        ``lru_gen`` builds MGLRU in (CONFIG_LRU_GEN) and turns it on (True) or leaves it off
        (False) at boot (CONFIG_LRU_GEN_ENABLED), so /sys/kernel/mm/lru_gen/enabled can switch
        it; None keeps the description's ``[config]`` (by default: no MGLRU, as on the
        development host). ``desc`` itself is not changed.

        Raises ``LinuxmmError`` for an unknown preset or an unreadable file, ``ParseError``
        (with the line) for a malformed machine file, ``ConfigError`` for a description that
        cannot be a real machine."""
        from . import presets
        from .sources import toml as toml_source

        if desc is None:
            if machine_file is not None:
                desc = toml_source.load(machine_file)
            else:
                desc = presets.get(preset or presets.DEFAULT)
        desc = copy.deepcopy(desc)
        if cmdline is not None:
            desc.cmdline = (desc.cmdline + " " + cmdline).strip()
        if lru_gen is not None:
            desc.config.lru_gen, desc.config.lru_gen_enabled = True, bool(lru_gen)
        self._desc = desc
        self.kernel: Kernel = start_kernel(desc)

    @classmethod
    def from_dmesg(cls, path: str | Path, cmdline: str | None = None, lru_gen: bool | None = None) -> "Machine":
        """Boot the machine a real boot log describes: only its inputs are read (firmware map,
        kernel version, command line, SRAT, ...); the rest is recomputed.

        Raises ``ParseError`` naming the line for a malformed log, ``LinuxmmError`` for a
        missing or unreadable file."""
        from .sources import dmesg as dmesg_source

        return cls(dmesg_source.load(path), cmdline=cmdline, lru_gen=lru_gen)

    @classmethod
    def from_host(cls, root: str | Path = "/", cmdline: str | None = None, lru_gen: bool | None = None) -> "Machine":
        """Boot this host's machine (``/sys/firmware/memmap``, ``/proc/cmdline``, NUMA nodes
        and CPUs from sysfs under ``root``).

        Raises ``LinuxmmError`` naming the file when one it needs cannot be read."""
        from .sources import host as host_source

        return cls(host_source.load(root), cmdline=cmdline, lru_gen=lru_gen)

    # ---- time -----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated time since boot, in seconds (the kernel's clock counts nanoseconds:
        ``m.kernel.clock.now``). Accesses and faults advance it (``kernel/timer.py``'s cost
        model), and so does ``run``."""
        return self.kernel.clock.now / NSEC_PER_SEC

    def run(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass with no user work: every timer and wake-up
        due meanwhile runs at its time (kswapd, kcompactd, khugepaged, the writeback flusher)."""
        import errno

        from .errors import KernelError

        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e9:
            raise KernelError(errno.EINVAL, f"run: seconds must be a number from 0 to 1e9, not {seconds!r}")
        clock = self.kernel.clock
        clock.run_until(clock.now + round(seconds * NSEC_PER_SEC))

    def run_workload(self, workload, *, interval: str | None = None, progress=None):
        """Run a workload over simulated time (``tools/workload.py`` documents the format;
        ``docs/workload.md`` too): ``workload`` is a path to a workload TOML file, its text
        parsed by ``linuxmm.tools.workload.loads``, or that parsed ``Workload``. Processes
        run interleaved on this machine's clock; every ``interval`` ("100ms"; default: the
        file's) a sample of /proc/meminfo, /proc/vmstat, the watermarks and PSI is taken.
        ``progress(simulated_seconds)`` is called at each sample.

        Returns a read-only ``WorkloadResult``: rows as dicts (``r[0]["MemFree"]``),
        ``r.column("pgfault")``, ``r.summary``, ``r.to_csv(path)``, ``r.to_parquet(path)``.

        Raises ``ParseError`` naming the line and key of a bad workload file,
        ``LinuxmmError`` for an unreadable one."""
        from .tools import workload as W

        w = workload if isinstance(workload, W.Workload) else W.load(workload)
        if interval is not None:
            w = w.with_options(interval_ns=W.parse_duration(interval, "interval"))
        return W.run(self, w, progress)

    # ---- views ---------------------------------------------------------------------------
    @property
    def desc(self) -> MachineDescription:
        """A copy of the machine description it booted from (editing it changes nothing)."""
        return copy.deepcopy(self._desc)

    def dmesg(self) -> str:
        """The machine's log so far (``printk`` output), without timestamps: the boot lines the
        simulator reproduces, then every line printed since (segfaults, allocation failures,
        overcommit refusals, the OOM killer's report and its reaper)."""
        return str(self.kernel.log)

    @property
    def panicked(self) -> str | None:
        """None, or the message of the panic that stopped the machine (``vm.panic_on_oom``, an
        OOM with nothing left to kill); every process call then raises ``KernelPanic``."""
        return self.kernel.panicked

    @property
    def nodes(self) -> list[Node]:
        """Every node (``pg_data_t``, as ``Node`` records), in node-id order."""
        return [self.NODE_DATA(n) for n in self.kernel.node_ids]

    def NODE_DATA(self, nid: int) -> Node:
        """``NODE_DATA(nid)``: node ``nid`` as a ``Node`` record (its zones, zonelist, CPUs).

        Raises ``KernelError`` (EINVAL) for a node that does not exist."""
        self._check_cpu_node(0, nid)
        return node_record(self.kernel.NODE_DATA(nid))

    def for_each_online_node(self):
        """``for_each_online_node``: the ids of the online nodes (``N_ONLINE``), ascending."""
        return self.kernel.for_each_online_node()

    def zones(self) -> list[Zone]:
        """Every zone of every node (``Zone`` records, ``node_zones`` order, empty zones too),
        with the counters of this moment."""
        return [z for p in self.nodes for z in p.node_zones]

    def node_states(self) -> dict[str, list[int]]:
        """The ``node_states[]`` masks (``N_POSSIBLE`` ... ``N_CPU``) as lists of node ids."""
        return {s.name: self.kernel.node_states.nodes(s) for s in node_states}

    @property
    def lru_gen(self) -> bool:
        """Whether the multi-gen LRU (MGLRU) keeps the LRU and reclaims: built in
        (CONFIG_LRU_GEN) and on, from boot (``Machine(lru_gen=True)``, ``[config]
        lru_gen_enabled``) or since a write to /sys/kernel/mm/lru_gen/enabled. False: the
        classic active/inactive lists (this development host's 6.18 has no MGLRU)."""
        return lru_gen_enabled(self.kernel)

    def layout(self) -> dict:
        """Nodes x zones with ranges and page counts, as plain data (``linuxmm boot --format json``)."""
        k = self.kernel
        shift = k.arch.page_shift
        return {
            "name": self._desc.name,
            "arch": k.arch.name,
            "kernel": str(k.version),
            "cmdline": self._desc.cmdline,
            "page_size": k.arch.PAGE_SIZE,
            "max_pfn": k.max_pfn,
            "max_low_pfn": k.max_low_pfn,
            "total_pages": k.vm_total_pages,
            "policy_zone": k.zone_names[k.policy_zone],
            "node_states": self.node_states(),
            "lru_gen": self.lru_gen,
            "nodes": [{
                "nid": p.node_id,
                "start_pfn": p.node_start_pfn,
                "spanned_pages": p.node_spanned_pages,
                "present_pages": p.node_present_pages,
                "cpus": list(p.cpus),
                "zonelist": [f"{nid}:{name}" for nid, name in p.zonelist],
                "zones": [{
                    "name": z.name,
                    "start": z.zone_start_pfn << shift,
                    "end": z.zone_end_pfn << shift,
                    "start_pfn": z.zone_start_pfn,
                    "spanned_pages": z.spanned_pages,
                    "present_pages": z.present_pages,
                    "managed_pages": z.managed_pages,
                } for z in p.node_zones],
            } for p in self.nodes],
        }

    def __repr__(self) -> str:
        k = self.kernel
        return (f"<Machine {self._desc.name!r} {k.arch.name} Linux {k.version}: "
                f"{len(k.node_ids)} node(s), {k.vm_total_pages} pages{', MGLRU' if self.lru_gen else ''}>")

    def _repr_html_(self) -> str:
        """A notebook's view: the zones of every node and the live processes, as tables."""
        procs = [[p.pid, p.comm, p.minflt, len(p.maps())] for p in self.processes()]
        return (f"<p><b>{html.escape(repr(self))}</b></p>" + zones_html(self.zones(), "zones (pages)")
                + (html_table(["pid", "comm", "minflt", "VMAs"], procs, "processes") if procs else ""))

    # ---- what-if and /proc (mm/page_alloc.c, mm/vmstat.c, fs/proc, /proc/sys/vm) ---------
    def set_managed(self, managed: dict[str, int], node: int = 0) -> None:
        """Pin zones' managed page counts and recompute what derives from them.

        As the lazy-init host does on each growth of ZONE_NORMAL (and memory hotplug does):
        ``init_per_zone_wmark_min`` reruns min_free_kbytes, watermarks, pcp limits, stat
        thresholds and lowmem reserves. ``totalram_pages`` is left alone, as there.

            >>> m.set_managed({"DMA": 3840, "DMA32": 772915, "Normal": 163840})

        Raises ``ConfigError`` for an unknown node or zone, or a count outside
        0..present_pages; nothing changes then.
        """
        from .errors import ConfigError
        from .mm.page_alloc import init_per_zone_wmark_min

        k = self.kernel
        if node not in k.pgdat:
            raise ConfigError(f"set_managed: no node {node} (nodes: {k.node_ids})")
        zones = {z.name: z for z in k.NODE_DATA(node).node_zones}
        for name, pages in managed.items():
            z = zones.get(name)
            if z is None:
                raise ConfigError(f"set_managed: no zone {name!r} on node {node} ({', '.join(zones)})")
            if not isinstance(pages, int) or not 0 <= pages <= z.present_pages:
                raise ConfigError(f"set_managed: {name} managed must be 0..{z.present_pages} "
                                  f"(its present pages), not {pages!r}")
        for name, pages in managed.items():
            zones[name].managed_pages = pages
        init_per_zone_wmark_min(k)
        self._sync_allocator()

    def sysctl(self, name: str, value: str | int | None = None) -> str | int:
        """Read (``m.sysctl("vm.swappiness")`` -> ``"60\\n"``) or write a vm sysctl (-> 0).

        A write is validated and handled like the kernel's ``proc_handler``
        (``proc_dointvec_minmax`` and friends in ``kernel/sysctl.c``, the vm table of
        ``mm/``); what derives from the value (watermarks, reserves, pcp limits) is recomputed.

        Raises ``KernelError``: ``ENOENT`` for a name outside ``vm.*`` or unknown, ``EINVAL``
        for a bad value (nothing changes then).
        """
        import errno

        from .errors import KernelError
        from .kernel.sysctl import proc_sys_vm_read, proc_sys_vm_write

        key = name.strip().replace("/", ".")
        if not key.startswith("vm."):
            raise KernelError(errno.ENOENT, f"{name}: only the vm.* sysctls are simulated")
        if value is None:
            return proc_sys_vm_read(self.kernel, key[3:])
        ret = proc_sys_vm_write(self.kernel, key[3:], str(value))
        self._sync_allocator()
        return ret

    def sysfs(self, path: str, value: str | None = None) -> str | None:
        """Read (``m.sysfs("kernel/mm/transparent_hugepage/enabled")`` -> ``"always [madvise]
        never\\n"``) or write a file under /sys, as ``m.sysctl`` does for /proc/sys: the
        attribute's show and store functions (``fs/sysfs.py`` lists the simulated files).

        Raises ``KernelError``: ``ENOENT`` for a file that is not simulated, ``EINVAL`` for a
        value the store function rejects (nothing changes then)."""
        from .fs.sysfs import sysfs_read, sysfs_write

        if value is None:
            return sysfs_read(self.kernel, path)
        sysfs_write(self.kernel, path, str(value))
        self._sync_allocator()
        return None

    def proc(self, path: str, value: str | int | None = None) -> str | None:
        """The text of a /proc file, byte for byte as the imitated kernel prints it:
        zoneinfo, buddyinfo, pagetypeinfo, meminfo, vmstat (``mm/vmstat.c``,
        ``fs/proc/meminfo.c``), ``/proc/sys/vm/NAME``, or ``/proc/PID/{maps,smaps,
        smaps_rollup,status}`` (``fs/proc/task_mmu.c``). The leading ``/proc/`` may be left out.
        With a ``value`` the file is written instead (-> None): ``/proc/PID/clear_refs``
        (``4`` clears the soft-dirty bits, ``1``-``3`` the referenced bits) and
        ``/proc/sys/vm/NAME``.

        Raises ``KernelError``: ``ENOENT`` for a file that is not simulated, ``EACCES`` for a
        write to a read-only one, ``EINVAL`` for a value the file rejects."""
        from .fs.proc.generic import proc_lookup, proc_write

        if value is not None:
            proc_write(self.kernel, path, str(value))
            self._sync_allocator()
            return None
        path, show = proc_lookup(path)
        if not path.startswith("/proc/sys/"):
            from .mm.buddy import sync_pagesets_to_python

            sync_pagesets_to_python(self.kernel, self.kernel.mem_map)  # built on first use
        return show(self.kernel)

    # ---- swap (mm/swapfile.c) -----------------------------------------------------------
    def swapon(self, size: int | str, priority: int = _AUTO_PRIORITY, kind: str = "partition",
               path: str | None = None, compression_ratio: float = 3.0) -> str:
        """Enable a swap area of ``size`` bytes (or "8G"): ``kind`` "partition" (``path`` names
        a disk, /dev/NAME; without one the machine gets a swap disk of that size, /dev/vdb), "file" (``path`` a file on a disk-backed filesystem, default
        /swapfile) or "zram" (compressed memory, /dev/zramN, ``compression_ratio`` original
        over compressed size). ``priority`` 0..32767, or left out (or -1) for the kernel's
        decreasing automatic ones (-2, -3, ...). Returns the area's name in /proc/swaps.

        Raises ``KernelError``: EINVAL (a size too large for the disk or too small, a
        priority below -1, a bad kind), ENOENT (no such disk or directory), EBUSY (already a
        swap area), ENOSPC (a swap file larger than its filesystem's disk), EPERM (every
        swap type is in use)."""
        from .mm.swapfile import swapon

        if priority is not _AUTO_PRIORITY and priority < -1:
            raise KernelError(errno.EINVAL, f"swapon: priority {priority}: 0..32767, or -1 for the default")
        prio = None if priority is _AUTO_PRIORITY or priority == -1 else priority
        t = swapon(self.kernel, size, prio, kind, path, compression_ratio)
        self._sync_allocator()
        return self.kernel.swap.swap_info[t].swap_file

    def swapoff(self, path: str) -> None:
        """Disable the swap area named ``path`` (as /proc/swaps shows it): every page in it is
        read back into memory first. EINVAL if no such area, ENOMEM if its pages do not fit."""
        from .mm.swap_state import swapoff

        swapoff(self.kernel, path)
        self._sync_allocator()

    # ---- storage and the page cache (block/, fs/, mm/filemap.c) ---------------------------
    def disks(self) -> list[str]:
        """The block devices' names (``/sys/block``), in the order they were added."""
        return list(self.kernel.block_devices)

    def create_file(self, path: str, size: int, chunk: int | None = None, value: int = 0) -> None:
        """Create (or truncate) the file ``path`` with ``size`` bytes of ``value``, written by
        a short-lived process in write() calls of ``chunk`` bytes (default: one call), as
        ``dd``/``cp`` would: the page cache holds it, dirty, with the folio sizes those
        writes make. Missing parent directories are created (``mkdir -p``).

        Raises ``KernelError`` as ``open``/``pwrite`` do (EFBIG, EISDIR, ...), ENOSPC when the
        filesystem fills up part-way (the bytes written stay, as after a short ``dd``), and
        ``Killed`` when the OOM killer kills the writer."""
        import posixpath

        from .errors import KernelError
        from .fs.namei import getname
        from .fs.namespace import mkdir_p

        path = getname(path)
        mkdir_p(self.kernel, posixpath.dirname(path))
        p = self.spawn("create_file")
        try:
            fd = p.open(path, "w", create=True, truncate=True)
            written = p.pwrite(fd, size, chunk=chunk, value=value)
        finally:
            if p.alive:  # a writer the OOM killer took has no exit of its own to make
                p.exit()
        if written < size:
            raise KernelError(errno.ENOSPC, f"{path}: no space left on device after {written} of {size} bytes")

    def _inode(self, path: str):
        import errno

        from .errors import KernelError
        from .fs.namei import lookup

        ino = lookup(self.kernel, path)
        if ino is None:
            raise KernelError(errno.ENOENT, f"{path}: no such file or directory")
        if ino.i_mapping is None:
            raise KernelError(errno.EISDIR, f"{path}: is a directory")
        return ino

    def cachestat(self, path: str):
        """The page cache of the file ``path`` as ``cachestat(2)`` over the whole file reports
        it: a ``CacheStat`` record (``cache``, ``dirty``, ``writeback``, ``evicted``,
        ``recently_evicted``, in pages). Raises ``KernelError`` (ENOENT, EISDIR)."""
        from .mm.filemap import filemap_cachestat
        from .records import CacheStat

        ino = self._inode(path)
        return CacheStat(**filemap_cachestat(self.kernel, ino.i_mapping, 0, (1 << 63) - 1 >> 12))

    def folios(self, path: str) -> list[tuple[int, int]]:
        """The file's page-cache folios as (index, nr_pages) pairs in index order: a 64 MiB
        file written by one write() on ext4 is 32 pairs (i, 512). Raises ``KernelError``
        (ENOENT, EISDIR)."""
        from .mm.filemap import filemap_folios, folio_nr_pages

        ino, k = self._inode(path), self.kernel
        return [(index, folio_nr_pages(k, pfn)) for index, pfn in filemap_folios(k, ino.i_mapping, 0, (1 << 62))]

    def unlink(self, path: str) -> None:
        """``unlink(path)``: the name goes; the file (and its page cache) when no process
        holds it open or mapped. Raises ``KernelError`` (ENOENT, EISDIR)."""
        from .fs.namei import vfs_unlink

        vfs_unlink(self.kernel, path)

    # ---- processes ----------------------------------------------------------------------------
    def spawn(self, comm: str = "a.out", cpu: int = 0, cgroup: str | None = None) -> "Process":
        """A new process with an empty address space, as after ``execve`` of a program that
        maps nothing yet (``mm_alloc`` + ``pgd_alloc``), running on ``cpu``, in the cgroup at
        path ``cgroup`` (default the root "/"; it must exist: ENOENT otherwise).

        Raises ``KernelError`` (EINVAL) for a CPU the machine does not have."""
        from .include.linux.mm_types import MmConfig
        from .kernel import fork as F
        from .process import PageTableHooks, Process

        self._check_cpu_node(cpu, None)
        k = self.kernel
        cgrp = cgroup_lookup(k, cgroup or "/")
        k.next_pid += 1
        config = MmConfig(mem_soft_dirty=k.config.mem_soft_dirty, anon_vma_name=k.config.anon_vma_name)
        task = F.task_struct(k, k.next_pid, comm, F.mm_alloc(task_size=k.arch.TASK_SIZE,
                             default_map_window=k.arch.DEFAULT_MAP_WINDOW, rmap=k.rmap, vm=k.vm,
                             config=config), cpu)
        task.mm.hooks = PageTableHooks(k, task)
        cgroup_attach_task(k, cgrp, task)  # forked there: its page tables are charged there too
        F.pgd_alloc(k, task)
        k.tasks[task.pid] = task
        k.rmap.tasks_seq += 1
        proc = Process(self, task)
        return proc

    def cgroup(self, path: str = "/") -> "Cgroup":
        """The cgroup v2 directory at ``path`` ("app/web" or "/app/web"; "/" the root), created
        with its missing parents if needed (as ``mkdir -p``: the kernel's mkdir itself needs
        the parent), memory enabled in the ``cgroup.subtree_control`` of each parent a cgroup
        is created in (as a cgroup manager delegating memory does), so each has its memory
        files; ``Cgroup.mkdir`` is the kernel's plain mkdir. Raises ``KernelError`` (EINVAL for
        "." or "..", ENAMETOOLONG)."""
        from .cgroup import Cgroup

        cgroup_get(self.kernel, path)
        return Cgroup(self.kernel, path)

    def cgroups(self) -> list["Cgroup"]:
        """Every cgroup of the hierarchy, the root first, parents before children."""
        from .cgroup import Cgroup

        out, todo = [], [self.kernel.cgrp_dfl_root]
        while todo:
            c = todo.pop(0)
            out.append(Cgroup(self.kernel, c.path))
            todo[:0] = list(c.children.values())
        return out

    def kpageflags(self, pfn: int, count: int = 1) -> list[int]:
        """``/proc/kpageflags`` read at ``pfn * 8``: the ``KPF_*`` flags of ``count`` page
        frames from ``pfn`` (``stable_page_flags`` in ``fs/proc/page.c``), one u64 each;
        KPF_NOPAGE for a pfn without a struct page.

        Raises ``KernelError`` (EINVAL for a negative pfn or count)."""
        from .fs.proc.page import kpageflags_read

        return kpageflags_read(self.kernel, pfn, count)

    def _fork(self, parent, comm: str | None):
        from .fs.file_table import dup_fd
        from .include.linux.mm_types import mm_struct
        from .kernel import fork as F
        from .process import PageTableHooks, Process

        parent.task.check_alive()
        k = self.kernel
        k.next_pid += 1
        task = F.task_struct(k, k.next_pid, comm or parent.task.comm,
                             mm_struct(task_size=k.arch.TASK_SIZE, rmap=k.rmap), parent.task.cpu)
        task.mm.hooks = PageTableHooks(k, task)
        task.oom_score_adj, task.oom_score_adj_min = parent.task.oom_score_adj, parent.task.oom_score_adj_min
        task.caught_signals = set(parent.task.caught_signals)  # copy_sighand
        task.cgroup, task.mmc[MMC_MEMCG] = parent.task.cgroup, parent.task.mmc[MMC_MEMCG]  # cgroup_post_fork
        with F.running(k, parent.task):
            F.pgd_alloc(k, task)
            try:
                F.copy_mm(k, parent.task, task)
                if parent.task.pending_signal:  # copy_process: a fatal signal stops the fork
                    raise KernelError(errno.EINTR, "fork: interrupted by a fatal signal")
            except KernelError:
                F.exit_mmap(k, task)  # the half-built child goes: its commit charges come back
                parent.task.check_alive()  # the OOM killer chose the parent: Killed
                raise
        task.files = dup_fd(parent.task.files)
        k.tasks[task.pid] = task
        k.rmap.tasks_seq += 1
        return Process(self, task)

    def _exit(self, proc, code: int) -> None:
        from .kernel import fork as F

        proc.task.check_alive()
        F.do_exit(self.kernel, proc.task)

    def processes(self) -> list:
        """The live processes (``for_each_process``, exited ones left out), in pid order."""
        from .process import Process

        return [Process(self, t) for t in self.kernel.tasks.values() if t.state == TASK_RUNNING]

    # ---- the page allocator --------------------------------------------------------------
    def alloc_pages(self, gfp: str | int = "GFP_KERNEL", order: int = 0, nid: int | None = None,
                    cpu: int = 0) -> int | None:
        """``alloc_pages_node(nid, gfp, order)`` (``__alloc_pages`` in ``mm/page_alloc.c``):
        the first pfn of a free block of ``2**order`` pages, or None where the kernel returns
        NULL (then dmesg has the ``page allocation failure`` report unless ``__GFP_NOWARN``).
        ``gfp`` is a name expression (``"GFP_KERNEL|__GFP_COMP"``) or the mask; ``nid`` the
        preferred node (default: the node of ``cpu``).

        An order above ``MAX_PAGE_ORDER`` returns None with the kernel's WARNING line.
        Raises ``KernelError`` (EINVAL) for an unknown gfp name, CPU or node."""
        from .include.linux.gfp import parse_gfp
        from .mm.page_alloc import alloc_pages

        mask = parse_gfp(gfp) if isinstance(gfp, str) else int(gfp)
        self._check_cpu_node(cpu, nid)
        return alloc_pages(self.kernel, mask, order, nid=nid, cpu=cpu)

    def free_pages(self, pfn: int, order: int = 0, cpu: int = 0) -> None:
        """``__free_pages(pfn_to_page(pfn), order)``: the block goes to the per-cpu list of
        ``cpu`` (order <= ``PAGE_ALLOC_COSTLY_ORDER``) or merges into the buddy free lists.

        Raises ``KernelError`` (EINVAL) for a pfn that is not the head of an allocated block,
        an order other than the one allocated, or a CPU the machine does not have."""
        import errno

        from .errors import KernelError
        from .mm.page_alloc import free_pages

        a = self.kernel.mem_map
        if not (0 <= pfn < a.refcount.shape[0]) or a.refcount[pfn] <= 0 or a.flags[pfn] & PG_reserved_mask:
            raise KernelError(errno.EINVAL, f"pfn {pfn:#x} is not an allocated page")
        if a.order[pfn] != order:
            raise KernelError(errno.EINVAL, f"pfn {pfn:#x} was allocated at order {a.order[pfn]}, not {order}")
        self._check_cpu_node(cpu, None)
        free_pages(self.kernel, pfn, order, cpu)

    def drain_pages(self) -> None:
        """``drain_all_pages``: every per-cpu list's pages back to the buddy free lists
        (the allocator is built first if it was not yet)."""
        from .mm.buddy import drain_all_pages

        drain_all_pages(self.kernel.mem_map)

    def free_area(self) -> dict[str, list[int]]:
        """``free_area[order].nr_free`` per populated zone, keyed ``"node/zone"``: the numbers
        of ``/proc/buddyinfo`` (the allocator is built first if it was not yet)."""
        self.kernel.mem_map
        return {f"{z.node}/{z.name}": list(z.nr_free) for z in self.zones() if z.present_pages}

    def _check_cpu_node(self, cpu: int, nid: int | None) -> None:
        import errno

        from .errors import KernelError

        if isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < self._desc.nr_cpus:
            raise KernelError(errno.EINVAL, f"cpu {cpu} does not exist (0-{self._desc.nr_cpus - 1})")
        if nid is not None and nid not in self.kernel.node_ids:
            raise KernelError(errno.EINVAL, f"node {nid} is not online (online: {self.kernel.node_ids})")

    def _sync_allocator(self) -> None:
        """Hand recomputed watermarks/reserves/pcp limits to the allocator core, if built."""
        mem_map = self.kernel._mem_map
        if mem_map is not None:
            from .mm.buddy import sync_zone_params

            sync_zone_params(self.kernel, mem_map)
