"""The writeback flusher (``fs/fs-writeback.c``), Linux 6.18.

A newcomer's map. Dirtying a clean inode's first page (``__mark_inode_dirty``) stamps the
inode's ``dirtied_when`` and puts it on its disk's ``b_dirty`` list; if the disk had nothing
dirty, the flusher is scheduled ``dirty_writeback_centisecs`` later (``wb_wakeup_delayed``).
The flusher (the "writeback" kthread, one run of ``wb_workfn`` per wake-up) then, per disk:

* runs the queued work (``wb_start_background_writeback`` from a throttled writer, sync);
* every ``dirty_writeback_centisecs`` does the periodic "kupdate" flush
  (``wb_check_old_data_flush``): the inodes dirtied more than ``dirty_expire_centisecs`` ago
  are written back;
* while dirty pages exceed the background threshold (``wb_over_bg_thresh``) writes back the
  oldest inodes first (``wb_check_background_flush``);

and sleeps another ``dirty_writeback_centisecs`` while anything is dirty. ``wb_writeback``
moves the inodes due from ``b_dirty`` to ``b_io`` (``queue_io``), writes each in chunks of
about half a second of the disk's bandwidth, at least 4 MiB (``writeback_chunk_size``), and
puts an inode that still has dirty pages on ``b_more_io`` to continue. The writes are
submitted, not waited for: their completions (``folio_end_writeback``) are events of the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..block.blk_core import blk_finish_plug, blk_start_plug
from ..include.linux.backing_dev import WB_RECLAIMABLE, bdi_writeback, wb_has_dirty_io
from ..include.linux.fs import I_DIRTY_PAGES
from ..include.linux.vmstat import global_node_page_state
from ..kernel.kthread import kthread
from ..kernel.timer import NSEC_PER_MSEC
from ..mm.page_writeback import wb_over_bg_thresh, wb_update_bandwidth

if TYPE_CHECKING:
    from ..init.main import Kernel

LONG_MAX = (1 << 63) - 1
MIN_WRITEBACK_KB = 4096  # MIN_WRITEBACK_PAGES: a chunk is at least 4 MiB
DIRTY_SCOPE = 8
WB_SYNC_NONE, WB_SYNC_ALL = 0, 1
# enum wb_reason (the ones simulated)
WB_REASON_BACKGROUND, WB_REASON_SYNC, WB_REASON_PERIODIC = 0, 2, 4


@dataclass
class wb_writeback_work:
    """``struct wb_writeback_work``: how much to write and why."""

    nr_pages: int
    sync_mode: int = WB_SYNC_NONE
    for_kupdate: bool = False
    for_background: bool = False
    reason: int = WB_REASON_BACKGROUND


def inode_to_wb(inode) -> bdi_writeback:
    return inode.i_sb.s_bdev.bd_wb


def centisecs_ns(cs: int) -> int:
    return cs * 10 * NSEC_PER_MSEC


def __mark_inode_dirty(k: "Kernel", inode) -> None:
    """An inode got its first dirty page: stamp it, queue it on its disk's ``b_dirty`` and,
    if the disk had no dirty inode, schedule the flusher (``wb_wakeup_delayed``)."""
    if inode.i_state & I_DIRTY_PAGES:
        return
    inode.i_state |= I_DIRTY_PAGES
    inode.dirtied_when = k.clock.now
    wb = inode_to_wb(inode)
    wakeup = not wb_has_dirty_io(wb)
    wb.b_dirty.append(inode)
    if wakeup:
        wb_wakeup_delayed(k)


def wb_wakeup_delayed(k: "Kernel") -> None:
    """Run the flusher ``dirty_writeback_centisecs`` from now (0: periodic writeback off)."""
    interval = k.vm.dirty_writeback_interval
    if interval:
        k.kthreads["writeback"].wake_up_at(k.clock.now + centisecs_ns(interval))


def inode_io_list_del(inode) -> None:
    """The inode is clean (or gone): off its disk's lists."""
    wb = inode_to_wb(inode)
    for lst in (wb.b_dirty, wb.b_io, wb.b_more_io):
        if inode in lst:
            lst.remove(inode)


# ---- the flusher ----------------------------------------------------------------------------


def default_bdi_init(k: "Kernel") -> None:
    """The flusher (``bdi_wq``, whose work items run ``wb_workfn``): one kernel thread on the
    clock for every disk's ``bdi_writeback``, asleep until pages are dirtied."""
    k.kthreads["writeback"] = kthread(k.clock, "writeback", lambda: wb_workfn(k))



def wb_workfn(k: "Kernel") -> int | None:
    """One flusher run over every disk; sleep until the next periodic flush while anything
    is dirty, else until woken."""
    for wb in bdi_list(k):
        wb_do_writeback(k, wb)
    if any(wb_has_dirty_io(wb) for wb in bdi_list(k)) and k.vm.dirty_writeback_interval:
        return centisecs_ns(k.vm.dirty_writeback_interval)
    return None


def bdi_list(k: "Kernel") -> list[bdi_writeback]:
    """Every disk's writeback state, in the order the disks were added (``bdi_list``)."""
    return [bdev.bd_wb for bdev in k.block_devices.values()]


def wb_do_writeback(k: "Kernel", wb: bdi_writeback) -> None:
    wb.writeback_running = True
    while wb.work_list:
        wb_writeback(k, wb, wb.work_list.popleft())
    wb_check_old_data_flush(k, wb)
    wb_check_background_flush(k, wb)
    wb.writeback_running = False


def wb_check_old_data_flush(k: "Kernel", wb: bdi_writeback) -> None:
    """The periodic kupdate flush, at most once per ``dirty_writeback_centisecs``."""
    interval = k.vm.dirty_writeback_interval
    if not interval or k.clock.now < wb.last_old_flush + centisecs_ns(interval):
        return
    wb.last_old_flush = k.clock.now
    nr_pages = global_node_page_state(k, "NR_FILE_DIRTY")  # get_nr_dirty_pages
    if nr_pages:
        wb_writeback(k, wb, wb_writeback_work(nr_pages, for_kupdate=True, reason=WB_REASON_PERIODIC))


def wb_check_background_flush(k: "Kernel", wb: bdi_writeback) -> None:
    if wb_over_bg_thresh(k, wb):
        wb_writeback(k, wb, wb_writeback_work(LONG_MAX, for_background=True))


def queue_io(k: "Kernel", wb: bdi_writeback, dirtied_before: int) -> None:
    """``b_more_io`` goes back to ``b_io``, then the ``b_dirty`` inodes dirtied at or before
    ``dirtied_before`` (``move_expired_inodes``: oldest first)."""
    wb.b_io.extend(wb.b_more_io)
    wb.b_more_io.clear()
    while wb.b_dirty and wb.b_dirty[0].dirtied_when <= dirtied_before:
        wb.b_io.append(wb.b_dirty.pop(0))


def writeback_chunk_size(k: "Kernel", wb: bdi_writeback, work: wb_writeback_work) -> int:
    """Pages to write of one inode before moving on: everything for data integrity, else
    half a second of the disk's bandwidth (at most 1/8 of the dirty limit), rounded up to
    4 MiB."""
    if work.sync_mode == WB_SYNC_ALL:
        return LONG_MAX
    min_pages = MIN_WRITEBACK_KB >> (k.arch.page_shift - 10)
    pages = min(wb.avg_write_bandwidth // 2, k.global_wb_domain.dirty_limit // DIRTY_SCOPE, work.nr_pages)
    return (pages + min_pages) // min_pages * min_pages


def writeback_single_inode(k: "Kernel", wb: bdi_writeback, inode, nr_to_write: int) -> int:
    """Start writeback of the next ``nr_to_write`` pages of ``inode`` from where the last pass
    stopped (``writeback_index``, range-cyclic; the span counts pages of the file, where the
    kernel counts dirty pages written); returns the pages written. An inode with dirty pages
    left goes to ``b_more_io`` (a clean one has left the lists: ``inode_io_list_del``)."""
    wb.b_io.remove(inode)
    mapping = inode.i_mapping
    last_index = max(inode.i_size - 1, 0) >> k.arch.page_shift
    first = mapping.writeback_index if mapping.writeback_index <= last_index else 0
    last = min(first + nr_to_write - 1, last_index)
    before = wb.stat[WB_RECLAIMABLE]
    mapping.a_ops.writepages(k, mapping, first, last)
    mapping.writeback_index = last + 1
    if inode.i_state & I_DIRTY_PAGES:
        wb.b_more_io.append(inode)
    return before - wb.stat[WB_RECLAIMABLE]


def wb_writeback(k: "Kernel", wb: bdi_writeback, work: wb_writeback_work) -> int:
    """Write back inodes until ``work`` is done: its page budget spent, nothing due any more,
    or (background) the dirty pages back under the background threshold."""
    expire = centisecs_ns(k.vm.dirty_expire_interval)
    nr_pages = work.nr_pages
    blk_start_plug(k)
    while work.nr_pages > 0:
        if (work.for_background or work.for_kupdate) and wb.work_list:
            break  # other work first
        if work.for_background and not wb_over_bg_thresh(k, wb):
            break
        dirtied_before = k.clock.now - expire if work.for_kupdate else k.clock.now
        if not wb.b_io:
            queue_io(k, wb, dirtied_before)
        if not wb.b_io:
            break
        progress = 0
        while wb.b_io and work.nr_pages > 0:
            written = writeback_single_inode(k, wb, wb.b_io[0], writeback_chunk_size(k, wb, work))
            work.nr_pages -= written
            progress += written
        wb_update_bandwidth(k, wb)
        if not progress:  # all under writeback already: the next run takes the rest
            break
    blk_finish_plug(k)
    return nr_pages - work.nr_pages
