"""mm/page_writeback.py: dirty throttling's control lines and rate estimates (6.18 formulas)."""

from __future__ import annotations

from types import SimpleNamespace

from linuxmm.include.linux.backing_dev import WB_RECLAIMABLE, bdi_writeback, wb_domain
from linuxmm.kernel.sysctl import HZ
from linuxmm.mm import page_writeback as PW

ONE = 1 << PW.RATELIMIT_CALC_SHIFT


def wb() -> bdi_writeback:
    return bdi_writeback(SimpleNamespace(bd_disk="vda"), 12)


def test_pos_ratio_is_2_at_freerun_1_at_setpoint_0_at_limit():
    freerun, limit = 1000, 3000
    setpoint = (freerun + limit) // 2
    # the kernel divides by (limit - setpoint) | 1 = 1001: 2.0 less a rounding of 6/1024
    assert PW.pos_ratio_polynom(setpoint, freerun, limit) == 2 * ONE - 6
    assert PW.pos_ratio_polynom(setpoint, setpoint, limit) == ONE
    assert PW.pos_ratio_polynom(setpoint, limit, limit) == 5  # 0 plus the same rounding
    assert PW.pos_ratio_polynom(setpoint, setpoint + 500, limit) == ONE - ONE // 8  # 1 - (1/2)^3


def test_position_ratio_of_a_single_disk_at_the_setpoint_is_one():
    w = wb()
    dtc = PW.dirty_throttle_control(w, wb_domain())
    dtc.thresh, dtc.bg_thresh = 2000, 1000
    dtc.dirty = w.stat[WB_RECLAIMABLE] = (1500 + 2000) // 2
    PW.wb_dirty_limits(dtc)
    PW.wb_position_ratio(dtc)
    # the global line gives 1; the wb line around its setpoint (the same) gives 1 too
    assert abs(dtc.pos_ratio - ONE) <= 1
    dtc.dirty = w.stat[WB_RECLAIMABLE] = 2000
    PW.wb_dirty_limits(dtc)
    PW.wb_position_ratio(dtc)
    assert dtc.pos_ratio == 0  # at the hard limit


def test_dirty_poll_interval_is_about_the_square_root_of_the_margin():
    assert PW.dirty_poll_interval(0, 1 << 20) == 1 << 10
    assert PW.dirty_poll_interval(100, 116) == 4
    assert PW.dirty_poll_interval(200, 100) == 1


def test_write_bandwidth_estimate_converges_to_what_the_disk_writes():
    w = wb()
    rate = 51200  # pages/s: 200 MB/s
    for step in range(1, 200):  # 40 s of 200 ms estimates
        PW.wb_update_write_bandwidth(w, HZ // 5, rate * step // 5)
        w.written_stamp = rate * step // 5
    assert abs(w.write_bandwidth - rate) < rate // 50 and abs(w.avg_write_bandwidth - rate) < rate // 10


def test_max_pause_is_an_eighth_of_a_second_of_writeback_at_most_200ms():
    w = wb()
    w.avg_write_bandwidth = 25600
    assert PW.wb_max_pause(w, 100) == 1 + 100 // (1 + 25600 // PW.roundup_pow_of_two(1 + HZ // 8))
    assert PW.wb_max_pause(w, 10 ** 9) == PW.MAX_PAUSE == HZ // 5


def test_a_single_disk_has_the_whole_threshold():
    dtc = PW.dirty_throttle_control(wb(), wb_domain())
    assert PW.__wb_calc_thresh(dtc, 1000) == 1000


def test_a_memcgs_dirtyable_memory_is_its_file_pages_and_the_headroom_clean_cache_could_fill():
    """``mdtc_calc_avail``: 1000 file pages of which 400 dirty, 5000 of headroom; the machine
    has 3000 dirtyable pages of which 500 dirty, so 2500 clean, 1900 of them outside the
    memcg: the memcg may dirty 20% of 1000 + 1900."""
    gdtc = PW.dirty_throttle_control(wb(), wb_domain())
    gdtc.avail, gdtc.dirty = 3000, 500
    mdtc = PW.dirty_throttle_control(gdtc.wb, wb_domain(), memcg=object(), gdtc=gdtc)
    mdtc.dirty = 400
    PW.mdtc_calc_avail(mdtc, 1000, 5000)
    assert mdtc.avail == 1000 + (2500 - 600)
    PW.mdtc_calc_avail(mdtc, 1000, 300)  # little headroom: that much
    assert mdtc.avail == 1300
