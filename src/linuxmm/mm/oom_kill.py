"""The OOM killer (``mm/oom_kill.c``), Linux 6.18: who dies when memory runs out, and its report.

A signpost, as the kernel's file calls itself. The allocator's slow path
(``mm/page_alloc.py``: ``__alloc_pages_slowpath`` -> ``__alloc_pages_may_oom``) calls
``out_of_memory`` once reclaim and compaction have given up (without an LRU yet they never make
progress, so ``should_reclaim_retry`` gives up after ``MAX_RECLAIM_RETRIES``). Then:

* ``constrained_alloc``: CONSTRAINT_NONE (no cpuset, mempolicy or memcg limits the allocation;
  the others come with those subsystems), ``totalpages`` = totalram + total swap;
* ``check_panic_on_oom``: ``vm.panic_on_oom`` 1 (system-wide) or 2 (compulsory) panics the
  machine (``KernelPanic``);
* ``vm.oom_kill_allocating_task`` kills ``current`` if it may be killed;
* ``select_bad_process`` scores every process with ``oom_badness`` (rss + swap entries + page
  tables in pages, plus ``oom_score_adj`` x totalpages/1000; -1000 never chosen) and picks the
  highest, the later one on a tie; a victim already dying stops the search (``abort``);
* ``oom_kill_process`` prints the report (``dump_header``: the ``invoked oom-killer`` line, the
  stack, ``__show_mem``'s Mem-Info from ``mm/show_mem.py``, ``dump_tasks``' table; then the
  ``oom-kill:`` summary and ``Out of memory: Killed process``), sends SIGKILL to the victim and
  every process sharing its mm, and queues it for the OOM reaper.

How a kill surfaces in the simulator. The task that was allocating (``current``, the process
whose call is running) dies when the call returns to user space: the call raises
``linuxmm.Killed`` after ``do_exit`` freed its memory, as the signal would be delivered there.
Any other victim is a process the script is not running: the simulator schedules no user task
by itself, so it cannot run its own exit. The OOM reaper does what it exists for: 2 s after the
kill (``OOM_REAPER_DELAY``, 5.18+) the ``oom_reaper`` kernel thread unmaps the victim's
anonymous and private memory on the simulated clock, prints ``oom_reaper: reaped process``, and
the victim then completes its exit. The allocating task meanwhile waits in the slow path (the
kernel's loop retries while a victim is in flight); the simulator lets the clock run to the
reaper instead of spinning. A call on a killed process before that delivers the signal there
and then: the process exits and the call raises ``Killed``; later calls raise ESRCH, as for
any exited process.

The stack in the report: ``dump_stack``'s ``CPU:`` line and the call chain's function names
(the simulator's path, with the kernel's names), without addresses, offsets or registers,
which a simulation has none of; no ``Hardware name:`` line.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import KernelError, KernelPanic
from ..include.linux import gfp as G
from ..include.linux.mm_types import (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, MMC_PGTABLES_BYTES,
                                      VM_HUGETLB, VM_PFNMAP, VM_SHARED, vma_is_anonymous)
from ..include.linux.sched import TASK_RUNNING
from ..include.linux.vmstat import OOM_KILL
from ..kernel.kthread import kthread
from ..kernel.printk import KERN_EMERG, KERN_ERR, dump_stack
from ..kernel.timer import NSEC_PER_SEC
from ..include.linux.memcontrol import MEMCG_OOM_GROUP_KILL, MEMCG_OOM_KILL
from .memcontrol import (mem_cgroup_from_task, mem_cgroup_get_max, mem_cgroup_get_oom_group, mem_cgroup_print_oom_context,
                         mem_cgroup_print_oom_group, mem_cgroup_print_oom_meminfo, mem_cgroup_scan_tasks,
                         memcg_memory_event)
from .page_alloc import totalram_pages, wait_for_oom_victims
from .show_mem import __show_mem
from .util import total_swap_pages

if TYPE_CHECKING:
    from ..init.main import Kernel

OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX = -1000, 1000
LONG_MIN = -(1 << 63)
SIGKILL = 9
CONSTRAINT_NONE, CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY, CONSTRAINT_MEMCG = range(4)
oom_constraint_text = ("CONSTRAINT_NONE", "CONSTRAINT_CPUSET", "CONSTRAINT_MEMORY_POLICY", "CONSTRAINT_MEMCG")
OOM_REAPER_DELAY = 2 * NSEC_PER_SEC  # 2*HZ: the victim gets time to exit by itself first (5.18+)
MMF_OOM_SKIP, MMF_OOM_REAP_QUEUED = "MMF_OOM_SKIP", "MMF_OOM_REAP_QUEUED"
ABORT = "abort"  # oc.chosen when a victim is already on its way out ((void *)-1UL)

# the call chain dump_stack shows above __alloc_pages_slowpath (mm/page_alloc.c, 6.18 names)
OOM_KILL_FRAMES = ("dump_stack_lvl", "dump_header", "oom_kill_process", "out_of_memory")
NO_VICTIM_FRAMES = ("dump_stack_lvl", "dump_header", "out_of_memory")
ALLOC_FRAMES = ("__alloc_pages_may_oom", "__alloc_pages_slowpath", "__alloc_frozen_pages_noprof",
                "alloc_pages_mpol")
# a memcg OOM's chain from an anonymous fault's charge (mm/memcontrol.c, mm/memory.c, 6.18)
MEMCG_CHARGE_FRAMES = ("mem_cgroup_out_of_memory", "try_charge_memcg", "charge_memcg", "__mem_cgroup_charge",
                       "alloc_anon_folio", "do_anonymous_page", "__handle_mm_fault")
USER_FAULT_FRAMES = ("handle_mm_fault", "do_user_addr_fault", "exc_page_fault", "asm_exc_page_fault")


@dataclass
class oom_control:
    """``struct oom_control``: the failed allocation and the search's state."""

    gfp_mask: int
    order: int
    totalpages: int = 0
    chosen: object = None  # a task_struct, None, or ABORT
    chosen_points: int = LONG_MIN
    constraint: int = CONSTRAINT_NONE
    memcg: object = None  # the memcg over its memory.max for a memcg OOM (is_memcg_oom), else None


def K(k: "Kernel", pages: int) -> int:
    """Pages in kB."""
    return pages << (k.arch.page_shift - 10)


# ---- the kernel's state (declared at boot, subsys_initcall(oom_init)) -------------------------
def oom_init(k: "Kernel") -> None:
    """Start the ``oom_reaper`` kernel thread (it sleeps until a victim is queued) and register
    ``out_of_memory`` as the allocator's last step."""
    k.oom_reaper_th = k.kthreads["oom_reaper"] = kthread(k.clock, "oom_reaper", lambda: oom_reaper(k))
    k.alloc_hooks.out_of_memory = out_of_memory
    k.memcg_hooks.out_of_memory = out_of_memory
    k.memcg_hooks.wait_for_oom_victims = wait_for_oom_victims


def for_each_process(k: "Kernel"):
    """Every task that still has its mm (exited ones are reaped at once here), pid order."""
    return (t for t in k.tasks.values() if t.state == TASK_RUNNING)


# ---- scoring ----------------------------------------------------------------------------------
def get_mm_counter(task, member: int) -> int:
    return int(task.mmc[member])


def get_mm_rss(task) -> int:
    return get_mm_counter(task, MM_FILEPAGES) + get_mm_counter(task, MM_ANONPAGES) + \
        get_mm_counter(task, MM_SHMEMPAGES)


def mm_pgtables_bytes(task) -> int:
    return int(task.mmc[MMC_PGTABLES_BYTES])


def oom_unkillable_task(task) -> bool:
    """Init and kernel threads are never killed. No simulated process is init (the script's
    processes stand for its descendants) and kernel threads are not processes here."""
    return False


def oom_badness(k: "Kernel", task, totalpages: int) -> int:
    """The task's score (``LONG_MIN``: never to be killed): its RSS, swap entries and page
    tables in pages, moved by ``oom_score_adj`` thousandths of ``totalpages`` (the division
    first, as C does it)."""
    if oom_unkillable_task(task):
        return LONG_MIN
    adj = task.oom_score_adj
    if adj == OOM_SCORE_ADJ_MIN or MMF_OOM_SKIP in task.mm.flags:
        return LONG_MIN
    points = get_mm_rss(task) + get_mm_counter(task, MM_SWAPENTS) + mm_pgtables_bytes(task) // k.arch.PAGE_SIZE
    return points + adj * (totalpages // 1000)


def oom_totalpages(k: "Kernel") -> int:
    return totalram_pages(k) + total_swap_pages(k)


def proc_oom_score(k: "Kernel", task) -> int:
    """``/proc/PID/oom_score``: the badness scaled into 0..2000 (0 for an unkillable task)."""
    totalpages = oom_totalpages(k)
    badness = oom_badness(k, task, totalpages)
    if badness == LONG_MIN:
        return 0
    return int((1000 + _c_div(badness * 1000, totalpages)) * 2 / 3)


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def set_oom_score_adj(k: "Kernel", task, value) -> None:
    """``__set_oom_adj`` (a write to ``/proc/PID/oom_score_adj`` by a privileged writer: the
    script acts as root, so ``oom_score_adj_min`` follows). Every process sharing the mm gets
    the value too. EINVAL outside -1000..1000."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise KernelError(errno.EINVAL, f"oom_score_adj must be an integer, not {value!r}")
    if not OOM_SCORE_ADJ_MIN <= value <= OOM_SCORE_ADJ_MAX:
        raise KernelError(errno.EINVAL, f"oom_score_adj {value} is outside {OOM_SCORE_ADJ_MIN}..{OOM_SCORE_ADJ_MAX}")
    if task.state != TASK_RUNNING:  # a write to /proc does not run the task: no signal delivery
        raise KernelError(errno.ESRCH, f"process {task.pid} ({task.comm}) has exited")
    for p in for_each_process(k):
        if p.mm is task.mm:
            p.oom_score_adj = p.oom_score_adj_min = value


# ---- choosing -----------------------------------------------------------------------------------
def constrained_alloc(k: "Kernel", oc: oom_control) -> int:
    """A memcg OOM is CONSTRAINT_MEMCG over the memcg's limit (``mem_cgroup_get_max``, at
    least 1 page); no cpuset or mempolicy is simulated: any other OOM is system-wide."""
    if oc.memcg is not None:
        oc.totalpages = mem_cgroup_get_max(k, oc.memcg) or 1
        return CONSTRAINT_MEMCG
    oc.totalpages = oom_totalpages(k)
    return CONSTRAINT_NONE


def oom_candidates(k: "Kernel", oc: oom_control):
    """The tasks the OOM killer looks at: the memcg's (``mem_cgroup_scan_tasks``) or all."""
    return mem_cgroup_scan_tasks(k, oc.memcg) if oc.memcg is not None else for_each_process(k)


def tsk_is_oom_victim(task) -> bool:
    return task.oom_mm is not None


def oom_evaluate_task(k: "Kernel", task, oc: oom_control) -> bool:
    """Score one task; True stops the walk (a victim is still releasing its memory)."""
    if oom_unkillable_task(task):
        return False
    if tsk_is_oom_victim(task):
        if MMF_OOM_SKIP in task.oom_mm.flags:
            return False
        oc.chosen = ABORT
        return True
    points = oom_badness(k, task, oc.totalpages)
    if points == LONG_MIN or points < oc.chosen_points:
        return False
    oc.chosen, oc.chosen_points = task, points
    return False


def select_bad_process(k: "Kernel", oc: oom_control) -> None:
    oc.chosen_points = LONG_MIN
    for task in oom_candidates(k, oc):
        if oom_evaluate_task(k, task, oc):
            break


# ---- the report ---------------------------------------------------------------------------------
def dump_task_header(k: "Kernel") -> str:
    """``dump_tasks``' column header. The rss_anon/rss_file/rss_shmem columns came in 6.8
    ("mm, oom: dump_tasks add rss detailed information printing", mainline 6.8-rc1; before,
    from 4.19, the table had rss, pgtables_bytes and swapents only)."""
    if k.version >= (6, 8):
        return "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"
    return "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"


def dump_task(k: "Kernel", task) -> str:
    rss = f"{get_mm_rss(task):8d}"
    if k.version >= (6, 8):
        rss += (f" {get_mm_counter(task, MM_ANONPAGES):8d} {get_mm_counter(task, MM_FILEPAGES):8d}"
                f" {get_mm_counter(task, MM_SHMEMPAGES):9d}")
    return (f"[{task.pid:7d}] {task.uid:5d} {task.pid:5d} {task.mm.total_vm:8d} {rss} "
            f"{mm_pgtables_bytes(task):8d} {get_mm_counter(task, MM_SWAPENTS):8d}         "
            f"{task.oom_score_adj:5d} {task.comm}")


def dump_tasks(k: "Kernel", oc: oom_control) -> None:
    k.log.info("Tasks state (memory values in pages):")
    k.log.info(dump_task_header(k))
    for task in oom_candidates(k, oc):
        if not oom_unkillable_task(task):
            k.log.info(dump_task(k, task))


def dump_header(k: "Kernel", oc: oom_control, frames: tuple[str, ...]) -> None:
    current = k.current
    comm = current.comm if current is not None else "swapper/0"
    adj = current.oom_score_adj if current is not None else 0
    k.log.warn(f"{comm} invoked oom-killer: gfp_mask={oc.gfp_mask:#x}({G.format_gfp(oc.gfp_mask)}), "
               f"order={oc.order}, oom_score_adj={adj}")
    tail = USER_FAULT_FRAMES if current is not None else ()
    dump_stack(k, current, frames + (MEMCG_CHARGE_FRAMES if oc.memcg is not None else ALLOC_FRAMES) + tail)
    if oc.memcg is not None:
        mem_cgroup_print_oom_meminfo(k, oc.memcg)
    else:
        __show_mem(k, G.gfp_zone(oc.gfp_mask, k.zone_names))
    if k.vm.sysctl_oom_dump_tasks:
        dump_tasks(k, oc)


def mems_allowed(k: "Kernel") -> str:
    """A nodemask as ``%*pbl`` prints it: ranges of node ids."""
    ids = k.node_ids
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 and ids == list(range(ids[0], ids[-1] + 1)) else \
        ",".join(str(i) for i in ids)


def dump_oom_victim(k: "Kernel", oc: oom_control, victim) -> None:
    """The one-line summary: constraint, nodemask, cpuset, memcg context, victim."""
    k.log.info(f"oom-kill:constraint={oom_constraint_text[oc.constraint]},nodemask=(null),cpuset=/,"
               f"mems_allowed={mems_allowed(k)}{mem_cgroup_print_oom_context(oc.memcg, victim)},"
               f"task={victim.comm},pid={victim.pid},uid={victim.uid}")


# ---- killing ----------------------------------------------------------------------------------
def mark_oom_victim(k: "Kernel", task) -> None:
    """The victim may dip into the reserves (ALLOC_OOM) to exit quickly."""
    if task.oom_mm is None:
        task.oom_mm = task.mm
        k.oom_victims += 1


def exit_oom_victim(k: "Kernel", task) -> None:
    if task.oom_mm is not None:
        k.oom_victims -= 1


def task_will_free_mem(task) -> bool:
    """A task already dying (SIGKILL pending) frees its memory by itself, unless the reaper is
    done with its mm."""
    return task.state == TASK_RUNNING and task.pending_signal == SIGKILL and MMF_OOM_SKIP not in task.mm.flags


def do_send_sig_info(k: "Kernel", task, reason: str) -> None:
    """SIGKILL: fatal, so it wakes the task and marks the group exiting (``complete_signal``)."""
    task.pending_signal, task.kill_reason = SIGKILL, reason


def __oom_kill_process(k: "Kernel", victim, message: str) -> None:
    mm = victim.mm
    k.vm_events[OOM_KILL] += 1
    memcg_memory_event(k, mem_cgroup_from_task(victim), MEMCG_OOM_KILL)  # memcg_memory_event_mm
    do_send_sig_info(k, victim, message)
    mark_oom_victim(k, victim)
    k.log.printk(f"{message}: Killed process {victim.pid} ({victim.comm}) total-vm:{K(k, mm.total_vm)}kB, "
                 f"anon-rss:{K(k, get_mm_counter(victim, MM_ANONPAGES))}kB, "
                 f"file-rss:{K(k, get_mm_counter(victim, MM_FILEPAGES))}kB, "
                 f"shmem-rss:{K(k, get_mm_counter(victim, MM_SHMEMPAGES))}kB, UID:{victim.uid} "
                 f"pgtables:{mm_pgtables_bytes(victim) >> 10}kB oom_score_adj:{victim.oom_score_adj}", KERN_ERR)
    for p in for_each_process(k):
        if p.mm is mm and p is not victim:  # other thread groups sharing the mm die too
            do_send_sig_info(k, p, message)
    queue_oom_reaper(k, victim)


def oom_kill_process(k: "Kernel", oc: oom_control, message: str) -> None:
    victim = oc.chosen
    if task_will_free_mem(victim):  # already dying: no report, just help it along
        mark_oom_victim(k, victim)
        queue_oom_reaper(k, victim)
        return
    dump_header(k, oc, OOM_KILL_FRAMES)
    dump_oom_victim(k, oc, victim)
    oom_group = mem_cgroup_get_oom_group(victim, oc.memcg, k.cgrp_dfl_root.memcg)
    __oom_kill_process(k, victim, message)
    if oom_group is not None:
        memcg_memory_event(k, oom_group, MEMCG_OOM_GROUP_KILL)
        mem_cgroup_print_oom_group(k, oom_group)
        for task in mem_cgroup_scan_tasks(k, oom_group):  # oom_kill_memcg_member
            if task.oom_score_adj != OOM_SCORE_ADJ_MIN and not oom_unkillable_task(task):
                __oom_kill_process(k, task, message)


def panic(k: "Kernel", message: str) -> None:
    """``panic()``: the log's last line, and the machine stops."""
    k.log.printk(f"Kernel panic - not syncing: {message}", KERN_EMERG)
    k.panicked = message
    raise KernelPanic(message)


def check_panic_on_oom(k: "Kernel", oc: oom_control) -> None:
    """vm.panic_on_oom: 1 panics on system-wide OOMs only, 2 on every OOM."""
    mode = k.vm.sysctl_panic_on_oom
    if not mode or (mode != 2 and oc.constraint != CONSTRAINT_NONE):
        return
    dump_header(k, oc, NO_VICTIM_FRAMES)
    panic(k, f"Out of memory: {'compulsory' if mode == 2 else 'system-wide'} panic_on_oom is enabled")


def out_of_memory(k: "Kernel", gfp: int, order: int, memcg=None) -> bool:
    """Kill the 'best' process (of ``memcg`` for a memcg OOM); True if that makes progress (a
    victim, now or in flight)."""
    current = k.current
    if current is not None and task_will_free_mem(current):
        mark_oom_victim(k, current)
        queue_oom_reaper(k, current)
        return True
    if not gfp & G.__GFP_FS and memcg is None:  # the OOM killer does not compensate for IO-less reclaim
        return True
    oc = oom_control(gfp, order, memcg=memcg)
    oc.constraint = constrained_alloc(k, oc)
    check_panic_on_oom(k, oc)
    if (k.vm.sysctl_oom_kill_allocating_task and current is not None and not oom_unkillable_task(current)
            and current.oom_score_adj != OOM_SCORE_ADJ_MIN):
        oc.chosen = current
        oom_kill_process(k, oc, "Out of memory (oom_kill_allocating_task)")
        return True
    select_bad_process(k, oc)
    if oc.chosen is None:
        dump_header(k, oc, NO_VICTIM_FRAMES)
        k.log.warn("Out of memory and no killable processes...")
        if memcg is None:
            panic(k, "System is deadlocked on memory")
        return False
    if oc.chosen is not ABORT:
        oom_kill_process(k, oc, "Out of memory" if memcg is None else "Memory cgroup out of memory")
    return True


# ---- the OOM reaper ---------------------------------------------------------------------------
def queue_oom_reaper(k: "Kernel", task) -> None:
    """Reap the victim's mm ``OOM_REAPER_DELAY`` from now, once (``MMF_OOM_REAP_QUEUED``)."""
    if MMF_OOM_REAP_QUEUED in task.mm.flags:
        return
    task.mm.flags.add(MMF_OOM_REAP_QUEUED)
    k.clock.add_timer(k.clock.now + OOM_REAPER_DELAY, wake_oom_reaper, k, task)


def wake_oom_reaper(k: "Kernel", task) -> None:
    if task.state != TASK_RUNNING or MMF_OOM_SKIP in task.mm.flags:
        return  # it exited meanwhile: exit_mmap did the work
    k.oom_reaper_list.append(task)
    k.oom_reaper_th.wake_up()


def oom_reaper(k: "Kernel") -> None:
    """The kernel thread's body: reap every queued victim, then sleep until woken."""
    while k.oom_reaper_list:
        oom_reap_task(k, k.oom_reaper_list.pop(0))


def oom_reap_task(k: "Kernel", task) -> None:
    """Unmap what can go without the victim's help, hide its mm from the OOM killer, and let
    the victim finish its exit (see the module docstring)."""
    from ..kernel.fork import do_exit

    if task.state != TASK_RUNNING:
        return
    oom_reap_task_mm(k, task)
    task.mm.flags.add(MMF_OOM_SKIP)
    do_exit(k, task, SIGKILL)


def oom_reap_task_mm(k: "Kernel", task) -> None:
    if MMF_OOM_SKIP in task.mm.flags:
        return
    __oom_reap_task_mm(k, task)
    k.log.info(f"oom_reaper: reaped process {task.pid} ({task.comm}), now "
               f"anon-rss:{K(k, get_mm_counter(task, MM_ANONPAGES))}kB, "
               f"file-rss:{K(k, get_mm_counter(task, MM_FILEPAGES))}kB, "
               f"shmem-rss:{K(k, get_mm_counter(task, MM_SHMEMPAGES))}kB")


def __oom_reap_task_mm(k: "Kernel", task) -> None:
    """Anonymous and private VMAs are unmapped (their pages freed, as MADV_DONTNEED would);
    shared ones stay for the victim's exit, hugetlb and PFN maps are skipped."""
    for vma in task.mm.vmas:
        if vma.vm_flags & (VM_HUGETLB | VM_PFNMAP):
            continue
        if vma_is_anonymous(vma) or not vma.vm_flags & VM_SHARED:
            task.mm.hooks.zap_range(task.mm, vma.vm_start, vma.vm_end)


def process_mrelease(k: "Kernel", task, flags: int) -> None:
    """``process_mrelease(pidfd, flags)``: the caller reaps the mm of a task that is dying
    (SIGKILL pending), as the OOM reaper would, so its memory is back before the task gets
    to run its exit. EINVAL for flags or a task not being killed (unless the reaper is done
    with its mm); nothing to do for a task whose mm is gone already."""
    if flags:
        raise KernelError(errno.EINVAL, f"process_mrelease: flags {flags:#x} must be 0")
    if task.state != TASK_RUNNING:
        return  # find_lock_task_mm: no mm left
    if not task_will_free_mem(task):
        if MMF_OOM_SKIP not in task.mm.flags:  # an error only if the work has not been done
            raise KernelError(errno.EINVAL, f"process_mrelease: process {task.pid} is not being killed")
        return
    __oom_reap_task_mm(k, task)


# ---- the fault path's side ---------------------------------------------------------------------
def pagefault_out_of_memory(k: "Kernel", task) -> bool:
    """A user fault ended in VM_FAULT_OOM: with a fatal signal pending the task just returns to
    user space, where the signal kills it (True); otherwise the kernel would retry the fault."""
    return task.pending_signal == SIGKILL

