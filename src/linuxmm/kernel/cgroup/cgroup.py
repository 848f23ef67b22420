"""The cgroup v2 hierarchy (``kernel/cgroup/cgroup.c``), Linux 6.18, with the memory controller.

One hierarchy (``cgrp_dfl_root``), mounted as the kernel does at /sys/fs/cgroup: the root
cgroup "/" and its descendants, each with its files. A task belongs to one cgroup
(``task->cgroups``); ``fork`` puts the child in its parent's (``cgroup_post_fork``); writing
a pid to ``cgroup.procs`` moves the process (``cgroup_attach_task``) - its pages stay charged
to the memcg that charged them, as cgroup v2 never moves charges; new pages go to the new
memcg.

* ``cgroup_mkdir``: a new child of an existing cgroup (ENOENT without the parent, EEXIST if
  it exists, EINVAL for a name with "/" , "." or "..", ENAMETOOLONG past NAME_MAX), with the
  controllers its parent's ``cgroup.subtree_control`` enables and an empty one of its own;
  ``cgroup_get`` (``m.cgroup(path)``) opens a path and creates what is missing, parents first,
  as ``mkdir -p`` would, enabling memory in each parent it creates a child in (as a cgroup
  manager delegating the memory controller down a path does).
* ``cgroup_rmdir``: EBUSY while it has live tasks or children (``cgroup_destroy_locked``).
* files: ``cgroup.procs``, ``cgroup.controllers``, ``cgroup.subtree_control``,
  ``cgroup.events`` (populated), ``memory.pressure`` (the cgroup's PSI group,
  ``kernel/sched/psi.py``: a core file, present in the root too, where it is the system's),
  and the memory controller's (``mm/memcontrol.py``). Reading
  a file without a show operation or writing one without a write operation fails with
  EACCES (``kernfs_fop_open``); an unknown file is ENOENT. Each file is a kernfs node
  (``fs/kernfs.py``, made with the directory: ``css_populate_dir``); ``cgroup_file_open``
  opens it with its per-open state (``cgroup_file_ctx``: the peak files' per-open peak),
  reads and writes go through the open file, ``cgroup_file_release`` closes it; a plain read
  or write opens, uses and closes, as ``cat`` and ``echo`` do. The memcg's event files
  announce their changes (``cgroup_file_notify``) to pollers of the open files.

Controllers: only ``memory`` exists here. A cgroup has a memcg (its memory css) when its
parent's ``cgroup.subtree_control`` enables memory (``cgroup.controllers`` lists it, and the
memory files exist); the root always has one, and its ``subtree_control`` starts with memory
enabled (as the init system leaves it). Writing ``+memory``/``-memory`` to a
``cgroup.subtree_control`` (``cgroup_subtree_control_write``) creates or offlines the
children's memcgs (``cgroup_apply_control``); ENOENT for a controller the cgroup's
``cgroup.controllers`` lacks, EBUSY to enable it in a non-root cgroup with processes of its own
(no internal processes) or to disable it while a child enables it further down. A task of a
cgroup without a memcg charges the nearest ancestor's (``task_css`` of the effective css).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ...errors import KernelError
from ...include.linux.mm_types import MMC_MEMCG
from ...include.linux.sched import TASK_RUNNING
from ..sched.psi import cgroup_move_task, psi_cgroup_alloc, psi_cgroup_free, psi_group, psi_show
from ...fs.kernfs import (kernfs_drain_open_files, kernfs_fop_open, kernfs_get_active, kernfs_node,
                         kernfs_open_file, kernfs_release_file, kernfs_seq_show)
from ...mm.memcontrol import (MEMORY_NOTIFY_FILES, ROOT_MEMORY_FILES, cgroup_e_memcg, mem_cgroup,
                              mem_cgroup_css_alloc, mem_cgroup_css_offline, memory_files)
from .cgroup_file import cgroup_file_clear, cgroup_file_ctx

if TYPE_CHECKING:
    from ...init.main import Kernel

NAME_MAX = 255
CONTROLLERS = ("memory",)
S_IRUGO, S_IWUSR = 0o444, 0o200


class cgroup:
    """``struct cgroup``: its name, parent, children by name, its memcg (the memory css; None
    where the parent does not enable memory), the controllers it enables for its children
    (``subtree_control``), its PSI group (``cgroup->psi``; the root's is the system group) and
    its directory's files (kernfs nodes by name)."""

    def __init__(self, name: str, parent: "cgroup | None", psi: psi_group):
        self.name, self.parent, self.psi = name, parent, psi
        self.children: dict[str, cgroup] = {}
        self.memcg: mem_cgroup | None = None
        self.subtree_control: set[str] = set()
        self.kn: dict[str, kernfs_node] = {}

    @property
    def path(self) -> str:
        """``cgroup_path``: "/" for the root, else "/a/b"."""
        if self.parent is None:
            return "/"
        parent = self.parent.path
        return f"{parent}{self.name}" if parent == "/" else f"{parent}/{self.name}"


def cgroup_init(k: "Kernel") -> None:
    """The default hierarchy's root cgroup and the root memcg (``cgroup_init``,
    ``mem_cgroup_css_alloc`` of the root); every task starts there."""
    root = k.cgrp_dfl_root = cgroup("", None, k.psi.system)
    root.memcg = mem_cgroup_css_alloc(k, root, None)
    root.subtree_control = {"memory"}  # as systemd leaves it: memory enabled below the root
    css_populate_dir(root)


def split_path(path: str) -> list[str]:
    """The names of a cgroup path ("app/web", "/app/web"; "/" or "" is the root); EINVAL for
    "." or ".." and ENAMETOOLONG for a name past NAME_MAX."""
    if not isinstance(path, str):
        raise KernelError(errno.EINVAL, f"a cgroup path is a string, not {path!r}")
    names = [n for n in path.split("/") if n]
    for n in names:
        if n in (".", ".."):
            raise KernelError(errno.EINVAL, f"invalid cgroup name {n!r} in {path!r}")
        if len(n.encode()) > NAME_MAX:
            raise KernelError(errno.ENAMETOOLONG, f"cgroup name longer than {NAME_MAX} bytes in {path!r}")
    return names


def cgroup_lookup(k: "Kernel", path: str) -> cgroup:
    """The cgroup at ``path``; ENOENT if it does not exist."""
    cgrp = k.cgrp_dfl_root
    for n in split_path(path):
        if n not in cgrp.children:
            raise KernelError(errno.ENOENT, f"no cgroup {path!r}")
        cgrp = cgrp.children[n]
    return cgrp


def cgroup_mkdir(k: "Kernel", parent: cgroup, name: str) -> cgroup:
    """A new child cgroup with its memcg (EEXIST if the name is taken)."""
    if name in parent.children:
        raise KernelError(errno.EEXIST, f"cgroup {parent.path.rstrip('/')}/{name} exists")
    child = cgroup(name, parent, psi_cgroup_alloc(k, parent.psi))
    if "memory" in parent.subtree_control:
        child.memcg = mem_cgroup_css_alloc(k, child, parent.memcg)
    css_populate_dir(child)
    parent.children[name] = child
    return child


def cgroup_get(k: "Kernel", path: str) -> cgroup:
    """Open ``path``, creating the missing cgroups parents first (``mkdir -p``), memory
    enabled in each parent a child is created in."""
    cgrp = k.cgrp_dfl_root
    for n in split_path(path):
        if n not in cgrp.children and "memory" not in cgrp.subtree_control and cgrp.memcg is not None:
            cgroup_apply_control(k, cgrp, {"memory"}, set())
        cgrp = cgrp.children[n] if n in cgrp.children else cgroup_mkdir(k, cgrp, n)
    return cgrp


def cgroup_control(cgrp: cgroup) -> set[str]:
    """``cgroup_control``: the controllers the cgroup may enable for its children, those its
    parent enables for it (the root: all); what ``cgroup.controllers`` lists."""
    return set(CONTROLLERS) if cgrp.parent is None else cgrp.parent.subtree_control


def cgroup_subtree_control_write(k: "Kernel", cgrp: cgroup, buf: str) -> None:
    """``+memory``/``-memory`` in ``cgroup.subtree_control``: EINVAL for another word, ENOENT
    for a controller the cgroup does not have, EBUSY as the no-internal-process rule and the
    children's own subtree_control demand."""
    enable, disable = set(), set()
    for word in buf.split():
        if word[:1] not in "+-" or word[1:] not in CONTROLLERS:
            raise KernelError(errno.EINVAL, f"cgroup.subtree_control: unknown controller in {word!r}")
        (enable if word[0] == "+" else disable).add(word[1:])
        (disable if word[0] == "+" else enable).discard(word[1:])
    if enable - cgroup_control(cgrp):
        raise KernelError(errno.ENOENT, f"cgroup.subtree_control of {cgrp.path}: "
                                        f"{' '.join(sorted(enable - cgroup_control(cgrp)))} not available")
    enable -= cgrp.subtree_control
    disable &= cgrp.subtree_control
    if enable and cgrp.parent is not None and cgroup_tasks(k, cgrp):
        raise KernelError(errno.EBUSY, f"cgroup {cgrp.path} has processes: it cannot enable controllers "
                                       "for children (no internal processes)")
    if any(c.subtree_control & disable for c in cgrp.children.values()):
        raise KernelError(errno.EBUSY, f"cgroup.subtree_control of {cgrp.path}: a child enables "
                                       f"{' '.join(sorted(disable))} further down")
    cgroup_apply_control(k, cgrp, enable, disable)


def cgroup_apply_control(k: "Kernel", cgrp: cgroup, enable: set[str], disable: set[str]) -> None:
    """``cgroup_apply_control``: the children get a memcg and the memory files
    (``css_create``) or lose them (``kill_css``: the memcg goes offline, its charges stay
    until they are freed); the tasks below charge their new effective memcg."""
    cgrp.subtree_control = (cgrp.subtree_control | enable) - disable
    for child in cgrp.children.values():
        if "memory" in enable:
            child.memcg = mem_cgroup_css_alloc(k, child, cgrp.memcg)
            css_populate_dir(child)
        elif "memory" in disable:
            css_clear_dir(k, child, memory_only=True)
            mem_cgroup_css_offline(k, child.memcg)
            child.memcg = None
        for t in k.tasks.values():
            if t.state == TASK_RUNNING and cgroup_is_descendant(t.cgroup, child):
                t.mmc[MMC_MEMCG] = cgroup_e_memcg(t.cgroup).id


def cgroup_is_descendant(cgrp: cgroup | None, ancestor: cgroup) -> bool:
    while cgrp is not None and cgrp is not ancestor:
        cgrp = cgrp.parent
    return cgrp is ancestor


def cgroup_tasks(k: "Kernel", cgrp: cgroup) -> list:
    """The live tasks of the cgroup itself (not its descendants), in pid order."""
    return [t for t in k.tasks.values() if t.state == TASK_RUNNING and t.cgroup is cgrp]


def cgroup_is_populated(k: "Kernel", cgrp: cgroup) -> bool:
    return bool(cgroup_tasks(k, cgrp)) or any(cgroup_is_populated(k, c) for c in cgrp.children.values())


def cgroup_rmdir(k: "Kernel", cgrp: cgroup) -> None:
    """Remove an empty cgroup: EBUSY with live tasks or children (the root cannot go: EBUSY)."""
    if cgrp.parent is None or cgroup_tasks(k, cgrp) or cgrp.children:
        raise KernelError(errno.EBUSY, f"cgroup {cgrp.path} is not empty (tasks or child cgroups)")
    del cgrp.parent.children[cgrp.name]
    css_clear_dir(k, cgrp)
    if cgrp.memcg is not None:
        mem_cgroup_css_offline(k, cgrp.memcg)
    psi_cgroup_free(k, cgrp.psi)


def cgroup_attach_task(k: "Kernel", cgrp: cgroup, task) -> None:
    """Move ``task`` (and the processes sharing its mm, as a threadgroup would) into ``cgrp``:
    its future charges go to the new memcg, past ones stay. A task being created (not yet in
    ``k.tasks``) joins before its first page table is charged."""
    sharing = [t for t in k.tasks.values() if t.mm is task.mm and t.state == TASK_RUNNING and t is not task]
    for t in [task, *sharing]:
        cgroup_move_task(k, t, cgrp)
        t.mmc[MMC_MEMCG] = cgroup_e_memcg(cgrp).id


def cgroup_procs_write(k: "Kernel", cgrp: cgroup, buf: str) -> None:
    """A pid written to ``cgroup.procs``: ESRCH for no such live process, EINVAL for no pid."""
    try:
        pid = int(str(buf).strip())
    except ValueError:
        raise KernelError(errno.EINVAL, f"cgroup.procs takes a pid, not {buf!r}") from None
    task = k.tasks.get(pid)
    if task is None or task.state != TASK_RUNNING:
        raise KernelError(errno.ESRCH, f"no process {pid}")
    cgroup_attach_task(k, cgrp, task)


# cgroup_base_files[]: name -> (show, write)
cgroup_base_files = {
    "cgroup.procs": (lambda k, c: "".join(f"{t.pid}\n" for t in cgroup_tasks(k, c)), cgroup_procs_write),
    "cgroup.controllers": (lambda k, c: " ".join(sorted(cgroup_control(c))) + "\n", None),
    "cgroup.subtree_control": (lambda k, c: " ".join(sorted(c.subtree_control)) + "\n", cgroup_subtree_control_write),
    "cgroup.events": (lambda k, c: f"populated {int(cgroup_is_populated(k, c))}\nfrozen 0\n", None),
    "memory.pressure": (lambda k, c: psi_show(k, c.psi), None),
}


def cgroup_file(cgrp: cgroup, name: str):
    """(show, write, release, css) of a file the cgroup has; ENOENT otherwise. A file without
    a release keeps no per-open state: its show and write take the css; the others' take the
    open file."""
    if name in cgroup_base_files and not (cgrp.parent is None and name == "cgroup.events"):
        return (*cgroup_base_files[name], None, cgrp)
    if name in memory_files and cgrp.memcg is not None and (cgrp.parent is not None or name in ROOT_MEMORY_FILES):
        show, write, *release = memory_files[name]
        return show, write, release[0] if release else None, cgrp.memcg
    raise KernelError(errno.ENOENT, f"no file {name!r} in cgroup {cgrp.path}")


def cgroup_files(cgrp: cgroup) -> list[str]:
    names = [n for n in cgroup_base_files if not (cgrp.parent is None and n == "cgroup.events")]
    if cgrp.memcg is None:
        return names
    return names + [n for n in memory_files if cgrp.parent is not None or n in ROOT_MEMORY_FILES]


def css_populate_dir(cgrp: cgroup) -> None:
    """The directory's files it does not have yet, each a kernfs node; the memcg's event
    files learn theirs."""
    for name in cgroup_files(cgrp):
        if name not in cgrp.kn:
            show, write, release, css = cgroup_file(cgrp, name)
            cgrp.kn[name] = kernfs_node(name, css, (show, write, release))
    for name, attr in MEMORY_NOTIFY_FILES.items():
        if name in cgrp.kn:
            getattr(cgrp.memcg, attr).kn = cgrp.kn[name]


def css_clear_dir(k: "Kernel", cgrp: cgroup, memory_only: bool = False) -> None:
    """rmdir (or the memory controller disabled, ``memory_only``): the files go; the ones still
    open are released (later reads: ENODEV)."""
    if cgrp.memcg is not None:
        for attr in MEMORY_NOTIFY_FILES.values():
            cgroup_file_clear(k, getattr(cgrp.memcg, attr))
    for name in [n for n in cgrp.kn if not memory_only or n in memory_files]:
        kn = cgrp.kn.pop(name) if memory_only else cgrp.kn[name]
        kernfs_drain_open_files(kn, kn.ops[2])


def cgroup_file_mode(kn: kernfs_node) -> int:
    """The file's permission bits (``cgroup_file_mode``): readable by all with a show
    operation, writable by the owner with a write operation."""
    show, write, _ = kn.ops
    return (S_IRUGO if show else 0) | (S_IWUSR if write else 0)


def cgroup_file_open(k: "Kernel", cgrp: cgroup, name: str) -> kernfs_open_file:
    """open(2) of the cgroup's file ``name`` (ENOENT for none) with a fresh ``cgroup_file_ctx``."""
    cgroup_file(cgrp, name)
    return kernfs_fop_open(cgrp.kn[name], cgroup_file_ctx())


def cgroup_file_release(of: kernfs_open_file) -> None:
    """close(2): the file's release operation, once (none if rmdir released it already)."""
    kernfs_release_file(of, of.kn.ops[2])


def cgroup_seqfile_show(k: "Kernel", of: kernfs_open_file) -> str:
    """read(2) through the open file: EACCES for a write-only file."""
    show, _, release = of.kn.ops
    if show is None:
        raise KernelError(errno.EACCES, f"{of.kn.name} is write-only")
    return kernfs_seq_show(of, lambda: show(k, of if release else of.kn.css))


def cgroup_file_write(k: "Kernel", of: kernfs_open_file, value) -> None:
    """write(2) through the open file: EACCES for a read-only file."""
    _, write, release = of.kn.ops
    kernfs_get_active(of)
    if write is None:
        raise KernelError(errno.EACCES, f"{of.kn.name} is read-only")
    write(k, of if release else of.kn.css, str(value))


def cgroup_file_read_once(k: "Kernel", cgrp: cgroup, name: str) -> str:
    """open, read, close (``cat``)."""
    of = cgroup_file_open(k, cgrp, name)
    try:
        return cgroup_seqfile_show(k, of)
    finally:
        cgroup_file_release(of)


def cgroup_file_write_once(k: "Kernel", cgrp: cgroup, name: str, value) -> None:
    """open, write, close (``echo >``)."""
    of = cgroup_file_open(k, cgrp, name)
    try:
        cgroup_file_write(k, of, value)
    finally:
        cgroup_file_release(of)
