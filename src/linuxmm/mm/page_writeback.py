"""Dirty-page limits and dirty throttling (``mm/page-writeback.c``), Linux 6.18.

``global_dirtyable_memory`` is what page cache may dirty: free pages above the reserves plus
the file LRU (minus highmem unless ``vm.highmem_is_dirtyable``). ``domain_dirty_limits``
turns it into the background and hard thresholds of ``vm.dirty_background_*`` and
``vm.dirty_*`` (ratios at per-page precision, bytes rounded up to pages); /proc/vmstat shows
them as ``nr_dirty_background_threshold`` and ``nr_dirty_threshold`` (kernel-reference §8.3).
The sysctl handlers keep each ratio/bytes pair exclusive, as the kernel's do.

Throttling (``balance_dirty_pages``). A task that dirties pages calls
``balance_dirty_pages_ratelimited`` per page; every ``nr_dirtied_pause`` pages it looks at the
global dirty + writeback count. Below the freerun ceiling, (background + hard threshold) / 2,
it runs free. Above the background threshold it starts the flusher. Above the ceiling it
sleeps so that it dirties at ``task_ratelimit`` = the disk's ``dirty_ratelimit`` scaled by
``pos_ratio``, a cubic of the distance to the setpoint (midway between the ceiling and the
limit): 2 at the ceiling, 1 at the setpoint, 0 at the limit (``wb_position_ratio``). The disk's
``dirty_ratelimit`` follows the write bandwidth the flusher achieves, estimated every 200 ms
(``__wb_update_bandwidth``). The sleeps are real time on the clock: events (I/O completions,
the flusher) run meanwhile, and the writer's syscall returns later.

The memcg domain (cgroup v2 writeback). A task in a memcg other than the root is also held to
its memcg's domain (``mdtc``): ``mem_cgroup_wb_stats`` gives the memcg's file pages, dirty and
writeback pages and its headroom (the room under ``memory.max``/``memory.high`` up the tree);
``mdtc_calc_avail`` makes its dirtyable memory the file pages plus the headroom the machine's
clean page cache could fill, and the ratios (bytes knobs turned into ratios of the global
dirtyable memory) give its thresholds. The dirtier runs free only under both freerun ceilings
and is throttled by whichever domain has the lower ``pos_ratio``; the memcg's
``cgwb_domain`` has its own ``dirty_limit``. So a cgroup dirtying a file past its
``memory.max`` is slowed to the disk's pace and its dirty pages stay a fraction of its memory,
the rest clean page cache that memcg reclaim can drop (instead of an OOM kill). The flusher
goes on while any memcg with dirty pages is above its background threshold (``wb_over_bg_thresh``).

Simplifications, stated: one ``bdi_writeback`` per disk (the kernel's cgroup writeback has one
per memcg and disk: here the disk's wb stands for each memcg's, with the memcg's dirty and
writeback pages as its ``wb_dirty`` and all of the memcg domain's threshold as its share), and
each disk's share of the dirty threshold (``__wb_calc_thresh``'s flexible proportion of recent
writeout completions) is all of it: the kernel's fraction for the one disk that does the
writing (a freshly booted kernel's disk has no completions yet and a share of 0, which starts
background writeback at the first flusher run; a running system's has, as this host's does);
no strictlimit devices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..include.linux.backing_dev import (
    WB_DIRTIED, WB_RECLAIMABLE, WB_WRITEBACK, WB_WRITTEN, bdi_writeback, wb_domain, wb_start_background_writeback,
)
from ..include.linux.mmzone import zone_idx
from ..include.linux.vmstat import NR_FILE_DIRTY, global_node_page_state, global_zone_page_state, zone_page_state
from ..kernel.timer import HZ, NSEC_PER_SEC, jiffies
from .memcontrol import mem_cgroup_from_task, mem_cgroup_is_root, mem_cgroup_wb_stats

if TYPE_CHECKING:
    from ..init.main import Kernel

UINT_MAX = (1 << 32) - 1
RATELIMIT_CALC_SHIFT = 10  # pos_ratio's fixed point
BANDWIDTH_INTERVAL = max(HZ // 5, 1)  # 200 ms between bandwidth estimates
MAX_PAUSE = max(HZ // 5, 1)  # the longest a dirtier sleeps at once
DIRTY_POLL_THRESH_KB = 128  # push nr_dirtied_pause up to this many pages' worth
WB_STAT_BATCH_CPUS = 8  # WB_STAT_BATCH = 8 * (1 + ilog2(nr_cpu_ids))


def highmem_dirtyable_memory(k: "Kernel", total: int) -> int:
    """Free-above-HIGH plus file LRU pages of the HighMem zones, never more than ``total``."""
    if "HighMem" not in k.zone_names:
        return 0
    x = 0
    for nid in k.node_ids:
        z = k.NODE_DATA(nid).node_zones[zone_idx(k, "HighMem")]
        if not z.populated_zone():
            continue
        nr_pages = zone_page_state(z, "NR_FREE_PAGES")
        nr_pages -= min(nr_pages, z.high_wmark_pages())
        nr_pages += zone_page_state(z, "NR_ZONE_INACTIVE_FILE") + zone_page_state(z, "NR_ZONE_ACTIVE_FILE")
        x += nr_pages
    return min(x, total)


def global_dirtyable_memory(k: "Kernel") -> int:
    x = global_zone_page_state(k, "NR_FREE_PAGES")
    x -= min(x, k.totalreserve_pages)  # the allocator's reserves are not dirtyable
    x += global_node_page_state(k, "NR_INACTIVE_FILE") + global_node_page_state(k, "NR_ACTIVE_FILE")
    if not k.vm.vm_highmem_is_dirtyable:
        x -= highmem_dirtyable_memory(k, x)
    return x + 1  # never 0


def domain_dirty_limits(k: "Kernel", available_memory: int, rt_task: bool = False,
                        dirty_limit: int = 0, global_avail: int = 0) -> tuple[int, int]:
    """(background, hard) thresholds in pages for ``available_memory`` dirtyable pages. A memcg
    domain (``global_avail``: the global domain's dirtyable pages) turns the bytes knobs into
    ratios of the global dirtyable memory, as they cannot apply to a memcg directly."""
    vm, page = k.vm, k.arch.PAGE_SIZE
    ratio = vm.vm_dirty_ratio * page // 100  # per-PAGE_SIZE precision
    bg_ratio = vm.dirty_background_ratio * page // 100
    dirty_bytes, bg_bytes = vm.vm_dirty_bytes, vm.dirty_background_bytes
    if global_avail:
        if dirty_bytes:
            ratio = min(-(-dirty_bytes // global_avail), page)
        if bg_bytes:
            bg_ratio = min(-(-bg_bytes // global_avail), page)
        dirty_bytes = bg_bytes = 0
    thresh = -(-dirty_bytes // page) if dirty_bytes else ratio * available_memory // page
    bg_thresh = -(-bg_bytes // page) if bg_bytes else bg_ratio * available_memory // page
    if rt_task:  # realtime and deadline tasks get a quarter more plus 1/32 of the global limit
        bg_thresh += bg_thresh // 4 + dirty_limit // 32
        thresh += thresh // 4 + dirty_limit // 32
    thresh = min(thresh, UINT_MAX)
    if bg_thresh >= thresh:
        bg_thresh = thresh // 2
    return bg_thresh, thresh


def global_dirty_limits(k: "Kernel") -> tuple[int, int]:
    return domain_dirty_limits(k, global_dirtyable_memory(k))


# ---- sysctl handlers: a written ratio clears the bytes knob and vice versa ---------------


def dirty_background_ratio_handler(k: "Kernel", old) -> None:
    k.vm.dirty_background_bytes = 0


def dirty_background_bytes_handler(k: "Kernel", old) -> None:
    k.vm.dirty_background_ratio = 0


def dirty_ratio_handler(k: "Kernel", old) -> None:
    if k.vm.vm_dirty_ratio != old:
        k.vm.vm_dirty_bytes = 0


def dirty_bytes_handler(k: "Kernel", old) -> None:
    if k.vm.vm_dirty_bytes != old:
        k.vm.vm_dirty_ratio = 0


# ---- dirty throttling ----------------------------------------------------------------------


class dirty_throttle_control:
    """``struct dirty_throttle_control`` of one domain for one wb: the domain (``dom``: the
    global ``wb_domain`` or a memcg's ``cgwb_domain``), the memcg and the global control of a
    memcg domain (``gdtc_stor``; None for the global one), dirtyable memory, dirty
    (+writeback) pages and thresholds, the wb's share of them, ``pos_ratio`` and whether the
    wb is over its share of an exceeded threshold (``dirty_exceeded``)."""

    __slots__ = ("wb", "dom", "memcg", "gdtc", "avail", "dirty", "thresh", "bg_thresh", "wb_dirty", "wb_thresh",
                 "wb_bg_thresh", "pos_ratio", "dirty_exceeded")

    def __init__(self, wb: bdi_writeback, dom: wb_domain, memcg=None, gdtc: "dirty_throttle_control | None" = None):
        self.wb, self.dom, self.memcg, self.gdtc = wb, dom, memcg, gdtc
        self.avail = self.dirty = self.thresh = self.bg_thresh = 0
        self.wb_dirty = self.wb_thresh = self.wb_bg_thresh = self.pos_ratio = 0
        self.dirty_exceeded = False


def ilog2(n: int) -> int:
    return n.bit_length() - 1


def roundup_pow_of_two(n: int) -> int:
    return 1 << (n - 1).bit_length()


def dirty_freerun_ceiling(thresh: int, bg_thresh: int) -> int:
    return (thresh + bg_thresh) // 2


def hard_dirty_limit(dom: wb_domain, thresh: int) -> int:
    return max(thresh, dom.dirty_limit)


def wb_stat_error(k: "Kernel") -> int:
    """How far a wb counter read without summing the per-cpu deltas may be off."""
    cpus = k.desc.nr_cpus  # nr_cpu_ids
    return cpus * WB_STAT_BATCH_CPUS * (1 + ilog2(cpus))


def global_dirty_state(k: "Kernel", dtc: dirty_throttle_control, with_writeback: bool = True) -> int:
    """Fill ``dtc``'s global fields (``domain_dirty_limits`` of the dirtyable memory); returns
    the dirty page count (NR_FILE_DIRTY)."""
    nr_reclaimable = global_node_page_state(k, "NR_FILE_DIRTY")
    dtc.avail = global_dirtyable_memory(k)
    dtc.dirty = nr_reclaimable + (global_node_page_state(k, "NR_WRITEBACK") if with_writeback else 0)
    dtc.bg_thresh, dtc.thresh = domain_dirty_limits(k, dtc.avail)
    return nr_reclaimable


def mdtc_calc_avail(mdtc: dirty_throttle_control, filepages: int, headroom: int) -> None:
    """The memcg's dirtyable memory: its file pages plus as much of its headroom as the clean
    page cache outside it could give up."""
    gdtc = mdtc.gdtc
    clean = filepages - min(filepages, mdtc.dirty)
    global_clean = gdtc.avail - min(gdtc.avail, gdtc.dirty)
    other_clean = global_clean - min(global_clean, clean)
    mdtc.avail = filepages + min(headroom, other_clean)


def memcg_dirty_state(k: "Kernel", mdtc: dirty_throttle_control, with_writeback: bool = True) -> None:
    """Fill the memcg domain's fields (``domain_dirty_avail`` + ``domain_dirty_limits`` of
    ``mdtc``) after its global control's."""
    filepages, headroom, dirty, writeback = mem_cgroup_wb_stats(k, mdtc.memcg)
    mdtc.dirty = dirty + (writeback if with_writeback else 0)
    mdtc_calc_avail(mdtc, filepages, headroom)
    mdtc.bg_thresh, mdtc.thresh = domain_dirty_limits(k, mdtc.avail, global_avail=mdtc.gdtc.avail)


def __wb_calc_thresh(dtc: dirty_throttle_control, thresh: int) -> int:
    """The wb's share of ``thresh``: all of it (see the module docstring), with no per-bdi
    min/max ratio set."""
    return thresh


def wb_dirty_limits(dtc: dirty_throttle_control) -> None:
    """The wb's share of the domain's thresholds and its dirty + writeback pages (in a memcg
    domain the memcg's: the disk's wb stands for the memcg's own)."""
    dtc.wb_thresh = __wb_calc_thresh(dtc, dtc.thresh)
    dtc.wb_bg_thresh = dtc.wb_thresh * dtc.bg_thresh // dtc.thresh if dtc.thresh else 0
    dtc.wb_dirty = dtc.dirty if dtc.memcg is not None else dtc.wb.stat[WB_RECLAIMABLE] + dtc.wb.stat[WB_WRITEBACK]


def balance_wb_limits(dtc: dirty_throttle_control) -> None:
    """The wb's limits in the domain, whether it exceeds them, and the domain's ``pos_ratio``."""
    wb_dirty_limits(dtc)
    dtc.dirty_exceeded = dtc.wb_dirty > dtc.wb_thresh and dtc.dirty > dtc.thresh
    wb_position_ratio(dtc)


def _div_trunc(a: int, b: int) -> int:
    """C division (rounds toward zero), as div64_s64."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def pos_ratio_polynom(setpoint: int, dirty: int, limit: int) -> int:
    """1 + ((setpoint - dirty) / (limit - setpoint))^3 in RATELIMIT_CALC_SHIFT fixed point,
    clamped to [0, 2]: 2 at the freerun ceiling, 1 at the setpoint, 0 at the limit."""
    x = _div_trunc((setpoint - dirty) << RATELIMIT_CALC_SHIFT, (limit - setpoint) | 1)
    pos_ratio = x * x >> RATELIMIT_CALC_SHIFT
    pos_ratio = pos_ratio * x >> RATELIMIT_CALC_SHIFT
    pos_ratio += 1 << RATELIMIT_CALC_SHIFT
    return min(max(pos_ratio, 0), 2 << RATELIMIT_CALC_SHIFT)


def wb_position_ratio(dtc: dirty_throttle_control) -> None:
    """``pos_ratio`` from the global control line (the cubic around the setpoint), scaled by
    the wb's linear control line around its share of the setpoint (span 8 x write bandwidth
    for a single disk), never below 1/4 of the global one, and raised when the wb is below
    half its threshold (its reserve area)."""
    wb = dtc.wb
    freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
    limit = hard_dirty_limit(dtc.dom, dtc.thresh)
    dtc.pos_ratio = 0
    if dtc.dirty >= limit:
        return
    setpoint = (freerun + limit) // 2
    pos_ratio = pos_ratio_polynom(setpoint, dtc.dirty, limit)
    wb_thresh = max(min(dtc.wb_thresh, dtc.thresh), (limit - dtc.dirty) // 8)
    x = (wb_thresh << 16) // (dtc.thresh | 1)
    wb_setpoint = setpoint * x >> 16
    span = (dtc.thresh - wb_thresh + 8 * wb.avg_write_bandwidth) * x >> 16
    x_intercept = wb_setpoint + span
    if dtc.wb_dirty < x_intercept - span // 4:
        pos_ratio = pos_ratio * (x_intercept - dtc.wb_dirty) // ((x_intercept - wb_setpoint) | 1)
    else:
        pos_ratio //= 4
    x_intercept = wb_thresh // 2  # the wb's reserve area: keep the disk busy
    if dtc.wb_dirty < x_intercept:
        if dtc.wb_dirty > x_intercept // 8:
            pos_ratio = pos_ratio * x_intercept // dtc.wb_dirty
        else:
            pos_ratio *= 8
    dtc.pos_ratio = pos_ratio


def wb_update_write_bandwidth(wb: bdi_writeback, elapsed: int, written: int) -> None:
    """Blend the pages written over ``elapsed`` jiffies into ``write_bandwidth`` (a 3-second
    window, rounded to a power of two of jiffies) and smooth it once more into
    ``avg_write_bandwidth``."""
    period = roundup_pow_of_two(3 * HZ)
    avg, old = wb.avg_write_bandwidth, wb.write_bandwidth
    bw = (written - min(written, wb.written_stamp)) * HZ
    if elapsed > period:
        bw //= elapsed
        avg = bw
    else:
        bw = (bw + old * (period - elapsed)) >> ilog2(period)
        if avg > old >= bw:
            avg -= (avg - old) >> 3
        if avg < old <= bw:
            avg += (old - avg) >> 3
    wb.write_bandwidth = bw
    wb.avg_write_bandwidth = max(avg, 1)


def update_dirty_limit(dtc: dirty_throttle_control) -> None:
    dom = dtc.dom
    if dom.dirty_limit < dtc.thresh:  # follow up in one step
        dom.dirty_limit = dtc.thresh
        return
    thresh = max(dtc.thresh, dtc.dirty)  # follow down slowly, never below the dirty pages
    if dom.dirty_limit > thresh:
        dom.dirty_limit -= (dom.dirty_limit - thresh) >> 5


def domain_update_dirty_limit(dtc: dirty_throttle_control, now: int) -> None:
    dom = dtc.dom
    if now >= dom.dirty_limit_tstamp + BANDWIDTH_INTERVAL:
        update_dirty_limit(dtc)
        dom.dirty_limit_tstamp = now


def wb_update_dirty_ratelimit(dtc: dirty_throttle_control, dirtied: int, elapsed: int) -> None:
    """Move ``dirty_ratelimit`` toward the balanced rate (the rate at which the dirtiers,
    throttled at ``task_ratelimit``, would dirty no faster than the disk writes), in steps
    limited by how far ``task_ratelimit`` is from it, and only in the direction that also
    moves the dirty count toward the setpoint."""
    wb = dtc.wb
    freerun = dirty_freerun_ceiling(dtc.thresh, dtc.bg_thresh)
    setpoint = (freerun + hard_dirty_limit(dtc.dom, dtc.thresh)) // 2
    write_bw, dirty_ratelimit = wb.avg_write_bandwidth, wb.dirty_ratelimit
    dirty_rate = (dirtied - wb.dirtied_stamp) * HZ // elapsed
    task_ratelimit = (dirty_ratelimit * dtc.pos_ratio >> RATELIMIT_CALC_SHIFT) + 1
    balanced = min(task_ratelimit * write_bw // (dirty_rate | 1), write_bw)
    step = 0
    if dtc.dirty < setpoint:
        x = min(wb.balanced_dirty_ratelimit, balanced, task_ratelimit)
        if dirty_ratelimit < x:
            step = x - dirty_ratelimit
    else:
        x = max(wb.balanced_dirty_ratelimit, balanced, task_ratelimit)
        if dirty_ratelimit > x:
            step = dirty_ratelimit - x
    shift = dirty_ratelimit // (2 * step + 1)  # slow down near the target
    step = -(-(step >> shift) // 8) if shift < 64 else 0
    dirty_ratelimit = dirty_ratelimit + step if dirty_ratelimit < balanced else dirty_ratelimit - step
    wb.dirty_ratelimit = max(dirty_ratelimit, 1)
    wb.balanced_dirty_ratelimit = balanced


def __wb_update_bandwidth(k: "Kernel", dtc: dirty_throttle_control, mdtc: dirty_throttle_control | None,
                          update_ratelimit: bool) -> None:
    """Refresh the write bandwidth and, for a throttled dirtier, each domain's dirty limit and
    the wb's ``dirty_ratelimit`` (once from the global domain, again from the memcg's)."""
    wb = dtc.wb
    now = jiffies(k)
    elapsed = max(now - wb.bw_time_stamp, 1)
    dirtied, written = wb.stat[WB_DIRTIED], wb.stat[WB_WRITTEN]
    if update_ratelimit:
        for c in (dtc, mdtc) if mdtc is not None else (dtc,):
            domain_update_dirty_limit(c, now)
            wb_update_dirty_ratelimit(c, dirtied, elapsed)
    wb_update_write_bandwidth(wb, elapsed, written)
    wb.dirtied_stamp, wb.written_stamp, wb.bw_time_stamp = dirtied, written, now


def wb_update_bandwidth(k: "Kernel", wb: bdi_writeback) -> None:
    """After a writeback pass: refresh the write-bandwidth estimate only."""
    __wb_update_bandwidth(k, dirty_throttle_control(wb, k.global_wb_domain), None, False)


def dirty_poll_interval(dirty: int, thresh: int) -> int:
    """Pages a task may dirty before looking again: about the square root of the margin."""
    return 1 << (ilog2(thresh - dirty) >> 1) if thresh > dirty else 1


def wb_max_pause(wb: bdi_writeback, wb_dirty: int) -> int:
    """The longest sleep (jiffies): what the disk writes in 1/8 s, at most MAX_PAUSE."""
    t = wb_dirty // (1 + wb.avg_write_bandwidth // roundup_pow_of_two(1 + HZ // 8)) + 1
    return min(t, MAX_PAUSE)


def wb_min_pause(k: "Kernel", wb: bdi_writeback, max_pause: int, task_ratelimit: int,
                 dirty_ratelimit: int) -> tuple[int, int]:
    """(min_pause, nr_dirtied_pause): target a 10 ms pause for one dirtier (longer for many),
    dirtying at least DIRTY_POLL_THRESH between pauses where the rate allows."""
    poll_thresh = DIRTY_POLL_THRESH_KB >> (k.arch.page_shift - 10)
    hi, lo = ilog2(wb.avg_write_bandwidth), ilog2(wb.dirty_ratelimit)
    t = max(1, HZ // 100)
    if hi > lo:
        t += (hi - lo) * (10 * HZ) // 1024
    t = min(t, 1 + max_pause // 2)
    pages = dirty_ratelimit * t // roundup_pow_of_two(HZ)
    if pages < poll_thresh:
        t = max_pause
        pages = dirty_ratelimit * t // roundup_pow_of_two(HZ)
        if pages > poll_thresh:
            pages = poll_thresh
            t = HZ * poll_thresh // dirty_ratelimit
    pause = HZ * pages // (task_ratelimit + 1)
    if pause > max_pause:
        t = max_pause
        pages = task_ratelimit * t // roundup_pow_of_two(HZ)
    return (1 + t // 2 if pages >= poll_thresh else t), pages


def wb_memcg_dtc(k: "Kernel", gdtc: dirty_throttle_control, memcg) -> dirty_throttle_control | None:
    """The memcg domain's control next to ``gdtc`` (``MDTC_INIT``), None for the root memcg
    (``mdtc_valid``)."""
    if memcg is None or mem_cgroup_is_root(memcg):
        return None
    return dirty_throttle_control(gdtc.wb, memcg.cgwb_domain, memcg, gdtc)


def free_run(task, now: int, dtcs) -> None:
    """Below every freerun ceiling: the task dirties its poll interval before looking again."""
    task.dirty_paused_when = now
    task.nr_dirtied = 0
    task.nr_dirtied_pause = min(dirty_poll_interval(c.dirty, c.thresh) for c in dtcs)


def balance_dirty_pages(k: "Kernel", wb: bdi_writeback, task, pages_dirtied: int) -> None:
    """Throttle ``task``, which dirtied ``pages_dirtied`` pages since its last check: start the
    flusher above the background threshold, and above the freerun ceiling of the global
    domain or of its memcg's sleep on the clock long enough to hold the task to its share of
    the disk's write rate under the stricter of the two."""
    gdtc = dirty_throttle_control(wb, k.global_wb_domain)
    mdtc = wb_memcg_dtc(k, gdtc, mem_cgroup_from_task(task))
    dtcs = (gdtc, mdtc) if mdtc is not None else (gdtc,)
    while True:
        now = jiffies(k)
        nr_reclaimable = global_dirty_state(k, gdtc)
        if mdtc is not None:
            memcg_dirty_state(k, mdtc)
        if nr_reclaimable > gdtc.bg_thresh and not wb.writeback_running:
            wb_start_background_writeback(k, wb)
        if all(c.dirty <= dirty_freerun_ceiling(c.thresh, c.bg_thresh) for c in dtcs):
            free_run(task, now, dtcs)
            return
        if not wb.writeback_running:
            wb_start_background_writeback(k, wb)
        for c in dtcs:
            balance_wb_limits(c)
        sdtc = min(dtcs, key=lambda c: c.pos_ratio)  # the global one on a tie
        wb.dirty_exceeded = any(c.dirty_exceeded for c in dtcs)
        if now >= wb.bw_time_stamp + BANDWIDTH_INTERVAL:
            __wb_update_bandwidth(k, gdtc, mdtc, True)
        dirty_ratelimit = wb.dirty_ratelimit
        task_ratelimit = dirty_ratelimit * sdtc.pos_ratio >> RATELIMIT_CALC_SHIFT
        max_pause = wb_max_pause(wb, sdtc.wb_dirty)
        min_pause, nr_dirtied_pause = wb_min_pause(k, wb, max_pause, task_ratelimit, dirty_ratelimit)
        if task_ratelimit == 0:
            pause = max_pause
        else:
            period = HZ * pages_dirtied // task_ratelimit
            pause = period - (now - task.dirty_paused_when if task.dirty_paused_when else 0)
            if pause < min_pause:  # it thought long enough: no sleep, carry the debt
                if pause < -HZ:
                    task.dirty_paused_when, task.nr_dirtied = now, 0
                elif period:
                    task.dirty_paused_when += period
                    task.nr_dirtied = 0
                elif task.nr_dirtied_pause <= pages_dirtied:
                    task.nr_dirtied_pause += pages_dirtied
                return
            if pause > max_pause:
                now += min(pause - max_pause, max_pause)
                pause = max_pause
        wb.dirty_sleep = now
        io_schedule_timeout(k, pause)
        task.dirty_paused_when = now + pause
        task.nr_dirtied = 0
        task.nr_dirtied_pause = nr_dirtied_pause
        if task_ratelimit or sdtc.wb_dirty <= wb_stat_error(k):
            return


def io_schedule_timeout(k: "Kernel", pause: int) -> None:
    """Sleep ``pause`` jiffies: the clock runs the events due meanwhile."""
    k.clock.run_until(k.clock.now + pause * NSEC_PER_SEC // HZ)


def balance_dirty_pages_ratelimited(k: "Kernel", wb: bdi_writeback, task) -> None:
    """Throttle ``task`` once it dirtied (``folio_account_dirtied`` counts its ``nr_dirtied``)
    its ``nr_dirtied_pause`` pages (8 pages' worth while the disk is over its limit)."""
    ratelimit = task.nr_dirtied_pause
    if wb.dirty_exceeded:
        ratelimit = min(ratelimit, 32 >> (k.arch.page_shift - 10))
    if task.nr_dirtied >= ratelimit:
        balance_dirty_pages(k, wb, task, task.nr_dirtied)


def wb_over_bg_thresh(k: "Kernel", wb: bdi_writeback) -> bool:
    """Background writeback goes on while the dirty pages (not counting those already under
    writeback) exceed the background threshold, globally or the wb's share of it, or those of
    a memcg with dirty pages its memcg domain's (each memcg's wb on the disk, see above)."""
    gdtc = dirty_throttle_control(wb, k.global_wb_domain)
    global_dirty_state(k, gdtc, with_writeback=False)
    if gdtc.dirty > gdtc.bg_thresh or wb.stat[WB_RECLAIMABLE] > __wb_calc_thresh(gdtc, gdtc.bg_thresh):
        return True
    for memcg_id in np.flatnonzero(k.mem_map.memcg_stat[:, NR_FILE_DIRTY]):
        mdtc = wb_memcg_dtc(k, gdtc, k.memcg_idr.get(int(memcg_id)))
        if mdtc is None:
            continue
        memcg_dirty_state(k, mdtc, with_writeback=False)
        if mdtc.dirty > mdtc.bg_thresh:
            return True
    return False
