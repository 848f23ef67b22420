"""Trace replay (tools/replay.py): real program traces end to end, and the compiled replay
engine equals the step-by-step Python API on the same accesses."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import DATA
import linuxmm
from linuxmm import Machine, ParseError
from linuxmm.arch.x86.mm.tlb import tlb_for
from linuxmm.cli import app
from linuxmm.tools.replay import parse_maps, replay, touched_runs
from linuxmm.tools.trace import TRACE_DTYPE, TraceReader, write_binary

LS = DATA / "traces" / "ls-R-json.lackey.gz"
TLB_KEYS = ("l1_hits", "l1_misses", "stlb_hits", "stlb_misses", "walks", "walk_refs")


def test_real_trace_replays_sensibly_and_deterministically():
    r1 = replay(Machine(cmdline="transparent_hugepage=never"), LS).as_dict()
    r2 = replay(Machine(cmdline="transparent_hugepage=never"), LS).as_dict()
    pages = np.unique(np.concatenate([b["addr"] >> 12 for b in TraceReader(LS)]))
    # each touched page faults once, pages read before they were written twice (zero page,
    # then a copy); a modify first touching a page is one write fault (README: 279 faults)
    assert len(pages) == 271
    # page_tables: the mm's pgtables_bytes (VmPTE) in pages, which leaves the PGD out
    assert (r1["minor_faults"], r1["pages_allocated"], r1["page_tables"]) == (279, 44, 9)
    assert r1["records"] == 766530 and r1["accesses"] > r1["records"]
    assert r1["tlb_hits"] + r1["tlb_misses"] == r1["l1_hits"] + r1["l1_misses"]
    for k in ("minor_faults", "tlb_hits", "tlb_misses", "page_walks", "walk_refs", "cycles"):
        assert r1[k] == r2[k]


def test_replay_equals_step_by_step(tmp_path):
    recs = next(iter(TraceReader(LS)))[:4000]
    path = tmp_path / "cut.bin"
    write_binary(path, [recs])
    fast = Machine(cmdline="transparent_hugepage=never")
    res = replay(fast, path, "binary")
    slow = Machine(cmdline="transparent_hugepage=never")
    p = slow.spawn()
    pages = np.unique(recs["addr"].astype(np.int64) >> 12)
    for s, e in touched_runs(pages):
        p.mmap(e - s, flags="private|anonymous|fixed", addr=s)
    t = tlb_for(slow.kernel)
    t.reset_counters()
    for addr, kind in zip(recs["addr"].astype(np.int64), recs["kind"]):
        if kind >= 2:  # a modify writes first: one translation, as a write
            p.write(int(addr), 1, stride=1, value=7)
        if kind != 2:
            p.read(int(addr), 1, stride=1)
    assert p.minflt == res.minor_faults
    assert p.smaps_rollup()["Anonymous"] == res.pages_allocated * 4
    step = t.counters()
    assert {k: step[k] for k in TLB_KEYS} == {k: res.tlb[k] for k in TLB_KEYS}


def test_thp_reduces_tlb_misses(tmp_path):
    n = 200_000
    rec = np.zeros(n, TRACE_DTYPE)
    rng = np.random.default_rng(1)
    rec["addr"] = 0x40000000 + rng.integers(0, 64 << 20, n) // 64 * 64  # random lines over 64 MiB
    rec["kind"] = 2
    path = tmp_path / "rand.bin"
    write_binary(path, [rec])
    small = replay(Machine(cmdline="transparent_hugepage=never"), path).as_dict()
    huge = replay(Machine(cmdline="transparent_hugepage=always"), path).as_dict()
    assert huge["thp_faults"] == 32 and huge["minor_faults"] == 32
    assert small["minor_faults"] == 16384
    assert huge["stlb_misses"] < small["stlb_misses"] / 10


def test_maps_file_and_errors(tmp_path):
    good = tmp_path / "maps"
    good.write_text("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/ls\n"
                    "7ffc1c000000-7ffc1c021000 rw-p 00000000 00:00 0 [stack]\n")
    assert [v[:3] for v in parse_maps(good)[0]] == [(0x400000, 0x452000, "rx"), (0x7FFC1C000000, 0x7FFC1C021000, "rw")]
    bad = tmp_path / "bad"
    bad.write_text("00400000-00452000 r-xp 0 0 0\nhello\n")
    with pytest.raises(ParseError) as e:
        parse_maps(bad)
    assert e.value.lineno == 2


def test_cli_json_keys():
    r = CliRunner().invoke(app, ["replay", str(LS), "--json"], catch_exceptions=False)
    d = json.loads(r.stdout)
    for key in ("accesses", "minor_faults", "major_faults", "tlb_hits", "tlb_misses", "page_walks",
                "parse_seconds", "replay_seconds"):
        assert key in d


@pytest.mark.parametrize("text, faults, allocated", [
    (" M 10000000,4\n", 1, 1),                          # read-modify-write: one write fault
    (" L 10000000,4\n S 10000000,4\n", 2, 1),           # zero page, then its copy
    (" S 10000000,4\n M 10000000,4\n", 1, 1),           # already writable
    (" L 10000000,4\n M 10000000,4\n", 2, 1),           # zero page, then the write fault
    (" M 10000000,4\n L 10000000,4\n S 10000000,4\n", 1, 1),
])
def test_modify_faults_once_as_a_write(tmp_path, text, faults, allocated):
    path = tmp_path / "t.lackey"
    path.write_text(text)
    m = Machine(cmdline="transparent_hugepage=never")
    res = replay(m, path)
    assert (res.minor_faults, res.pages_allocated) == (faults, allocated)
    lines = text.count("\n")
    assert res.accesses == lines + text.count(" M ")  # a modify is a load and a store
    assert m.kernel is not None and linuxmm.debug.check(m) == []


def test_modify_sets_the_dirty_bit_at_once(tmp_path):
    path = tmp_path / "t.lackey"
    path.write_text(" M 10000000,4\n")
    m = Machine(cmdline="transparent_hugepage=never")
    replay(m, path)
    (p,) = [q for q in m.processes() if q.alive]
    leaf = p.walk(0x10000000)[-1]
    assert {"rw", "accessed", "dirty"} <= set(leaf["flags"])
