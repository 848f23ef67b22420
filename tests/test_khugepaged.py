"""mm/khugepaged: MADV_COLLAPSE and khugepaged collapsing small pages into a PMD THP, and the
sysfs directory /sys/kernel/mm/transparent_hugepage/khugepaged/ (defaults from this host's
Linux 6.18, tests/data/host-linux-6.18/thp.txt)."""

import errno

import pytest

from conftest import HOST_SNAP, meminfo, small_machine, vmstat
from linuxmm import KernelError, SegmentationFault, debug

MB = 1 << 20
PMD = 2 * MB
P = 4096
BASE = 1 << 30
KH = "kernel/mm/transparent_hugepage/khugepaged/"
THP_ENABLED = "kernel/mm/transparent_hugepage/enabled"


def host_khugepaged() -> dict[str, str]:
    """The khugepaged files of the host snapshot: name -> value."""
    out = {}
    for line in (HOST_SNAP / "thp.txt").read_text().splitlines():
        path, _, value = line.partition(":")
        if path.startswith("./khugepaged/"):
            out[path.removeprefix("./khugepaged/")] = value
    return out


def thp_machine():
    """A small machine with THP turned on by the admin (``madvise``): khugepaged runs."""
    m = small_machine()
    m.sysfs(THP_ENABLED, "madvise")
    return m


def fill(p, addr: int, npages: int, first: int = 0) -> None:
    """Page i holds i % 255 + 1 (never zero: a page of zeros would hide a lost copy)."""
    for i in range(first, npages):
        p.write(addr + i * P, 1, value=i % 255 + 1)


def contents(p, addr: int, npages: int) -> list[int]:
    return list(p.read(addr, npages * P, stride=P))


def anon_huge_kb(p) -> int:
    return p.smaps_rollup()["AnonHugePages"]


def test_sysfs_defaults_match_the_host():
    """khugepaged_init's defaults, as this host's 6.18 shows them."""
    m = thp_machine()
    host = host_khugepaged()
    assert host and {name: m.sysfs(KH + name).strip() for name in host} == host


@pytest.mark.parametrize("name,value", [("max_ptes_none", "512"), ("max_ptes_swap", "-1"), ("max_ptes_shared", " 5"),
                                        ("pages_to_scan", "0"), ("scan_sleep_millisecs", "4294967296"),
                                        ("alloc_sleep_millisecs", "1x"), ("defrag", "2")])
def test_sysfs_rejects_bad_values(name, value):
    m = thp_machine()
    before = m.sysfs(KH + name)
    with pytest.raises(KernelError) as e:
        m.sysfs(KH + name, value)
    assert e.value.errno == errno.EINVAL and m.sysfs(KH + name) == before


def test_sysfs_counters_are_read_only():
    m = thp_machine()
    for name in ("pages_collapsed", "full_scans"):
        with pytest.raises(KernelError) as e:
            m.sysfs(KH + name, "1")
        assert e.value.errno == errno.EACCES


def test_madvise_collapse_copies_every_page_and_counts():
    """Two PMD ranges of small pages (one with a hole) become two THPs: the data stays, the
    hole reads zero, RSS grows by the hole, thp_collapse_alloc counts 2; THP off (``never``)
    does not matter to MADV_COLLAPSE."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(2 * PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 1024)
    p.madvise(a + 700 * P, P, "dontneed")
    rss = p.smaps_rollup()["Rss"]
    p.madvise(a, 2 * PMD, "collapse")
    assert anon_huge_kb(p) == 4096 and p.smaps_rollup()["Rss"] == rss + 4
    want = [i % 255 + 1 for i in range(1024)]
    want[700] = 0
    assert contents(p, a, 1024) == want
    assert vmstat(m, "thp_collapse_alloc", "thp_collapse_alloc_failed") == {"thp_collapse_alloc": 2,
                                                                            "thp_collapse_alloc_failed": 0}
    assert meminfo(m, "AnonHugePages") == {"AnonHugePages": 4096}
    p.madvise(a, 2 * PMD, "collapse")  # already THPs: success, nothing allocated
    assert vmstat(m, "thp_collapse_alloc")["thp_collapse_alloc"] == 2
    assert debug.check(m) == []
    p.munmap(a, 2 * PMD)
    assert debug.check(m) == []


def test_madvise_collapse_errnos():
    """EINVAL for an empty range, VM_NOHUGEPAGE and prctl's THP disable; a range holding no
    whole PMD range has nothing to do (0); read-only memory collapses (6.18 dropped
    SCAN_PAGE_RO) into a THP mapped read-only."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(2 * PMD, addr=BASE, flags="private|anonymous|fixed")

    def err(addr, length):
        try:
            p.madvise(addr, length, "collapse")
        except KernelError as e:
            return e.errno
        return 0

    assert err(a, PMD) == errno.EINVAL  # no page table: SCAN_PMD_NULL
    fill(p, a, 4)
    assert err(a + P, PMD - P) == 0
    p.madvise(a, PMD, "nohugepage")
    assert err(a, PMD) == errno.EINVAL
    p.madvise(a, PMD, "hugepage")
    p.prctl("PR_SET_THP_DISABLE", 1)
    assert err(a, PMD) == errno.EINVAL
    p.prctl("PR_SET_THP_DISABLE", 0)
    p.mprotect(a, PMD, "r")
    assert err(a, PMD) == 0 and anon_huge_kb(p) == 2048
    assert contents(p, a, 5) == [1, 2, 3, 4, 0]
    p.sigaction("SIGSEGV", "catch")
    with pytest.raises(SegmentationFault):
        p.write(a, 1)
    assert debug.check(m) == []


def test_madvise_collapse_swaps_in():
    """Swapped-out ptes are read back first (__collapse_huge_page_swapin): the THP holds
    their data, the swap entries are gone."""
    m = small_machine()
    m.swapon("64M")
    p = m.spawn()
    a = p.mmap(PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 512)
    p.madvise(a, 100 * P, "pageout")
    assert p.smaps_rollup()["Swap"] == 400
    p.madvise(a, PMD, "collapse")
    assert anon_huge_kb(p) == 2048 and p.smaps_rollup()["Swap"] == 0
    assert contents(p, a, 512) == [i % 255 + 1 for i in range(512)]
    assert debug.check(m) == []


def test_khugepaged_collapses_on_its_clock():
    """khugepaged scans the MADV_HUGEPAGE range at its first run after the wake-up, collapses
    it (pages_collapsed), and counts a full scan each time its cursor passes the list's end."""
    m = thp_machine()
    p = m.spawn()
    a = p.mmap(PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 300)
    assert int(m.sysfs(KH + "pages_collapsed")) == 0
    p.madvise(a, PMD, "hugepage")
    m.run(0.001)
    assert int(m.sysfs(KH + "pages_collapsed")) == 1 and anon_huge_kb(p) == 2048
    assert contents(p, a, 512) == [i % 255 + 1 if i < 300 else 0 for i in range(512)]
    scans = int(m.sysfs(KH + "full_scans"))
    assert scans >= 1
    m.run(25)  # scan_sleep_millisecs: 10 s between runs
    assert int(m.sysfs(KH + "full_scans")) == scans + 2
    assert debug.check(m) == []


def test_khugepaged_pages_to_scan_paces_the_scan():
    """With pages_to_scan at 512 a run covers one PMD range (the mm itself counts 1): four
    ranges take four runs, scan_sleep_millisecs apart."""
    m = thp_machine()
    m.sysfs(KH + "pages_to_scan", "512")
    m.sysfs(KH + "scan_sleep_millisecs", "1000")
    p = m.spawn()
    a = p.mmap(4 * PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 4 * 512)
    p.madvise(a, 4 * PMD, "hugepage")
    seen = []
    for _ in range(4):
        m.run(0.5)
        seen.append(int(m.sysfs(KH + "pages_collapsed")))
        m.run(0.5)
    assert seen == [1, 2, 3, 4]
    assert contents(p, a, 2048) == [i % 255 + 1 for i in range(2048)]


def test_khugepaged_keeps_max_ptes_none():
    """khugepaged leaves a range with more than max_ptes_none empty ptes (thp_scan_exceed_none_pte)
    where MADV_COLLAPSE, which ignores the limit, collapses it."""
    m = thp_machine()
    m.sysfs(KH + "max_ptes_none", "0")
    m.sysfs(KH + "scan_sleep_millisecs", "10")
    p = m.spawn()
    a = p.mmap(PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 511)
    p.madvise(a, PMD, "hugepage")
    m.run(1)
    assert anon_huge_kb(p) == 0 and vmstat(m, "thp_scan_exceed_none_pte")["thp_scan_exceed_none_pte"] > 0
    p.madvise(a, PMD, "collapse")
    assert anon_huge_kb(p) == 2048


def test_khugepaged_wants_young_pages():
    """A range whose ptes and pages are all old (MADV_COLD clears them) is not collapsed by
    khugepaged (SCAN_LACK_REFERENCED_PAGE)."""
    m = thp_machine()
    m.sysfs(KH + "scan_sleep_millisecs", "10")
    p = m.spawn()
    a = p.mmap(PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 512)
    p.madvise(a, PMD, "cold")
    p.madvise(a, PMD, "hugepage")
    m.run(1)
    assert anon_huge_kb(p) == 0


def test_vma_split_splits_the_huge_pmd():
    """A VMA cut inside a THP's range (vma_adjust_trans_huge): the PMD becomes ptes mapping
    the same pages, so the THP is no longer AnonHugePages; the data stays."""
    m = small_machine()
    p = m.spawn()
    a = p.mmap(PMD, addr=BASE, flags="private|anonymous|fixed")
    fill(p, a, 512)
    p.madvise(a, PMD, "collapse")
    assert anon_huge_kb(p) == 2048
    p.madvise(a, P, "nohugepage")
    assert anon_huge_kb(p) == 0
    assert contents(p, a, 512) == [i % 255 + 1 for i in range(512)]
    assert debug.check(m) == []


# ---- MADV_COLLAPSE's answers, compared with this host's 6.18 ------------------------------------


def collapse_transcript(be) -> list:
    """MADV_COLLAPSE over ranges of an 8 MiB private anonymous mapping: its return (0 or the
    errno's name) and AnonHugePages after the first collapse."""
    base = be.mmap(0, 8 * MB, "rw", "private|anonymous")
    a = (base + PMD - 1) & ~(PMD - 1)
    out = [be.madvise(a, PMD, "collapse"),  # nothing mapped: EINVAL
           be.madvise(a + 1, PMD, "collapse")]  # unaligned start: EINVAL
    be.touch(a)
    out.append(be.madvise(a + P, PMD - P, "collapse"))  # no whole PMD range inside: 0
    out.append(be.madvise(a, PMD, "collapse"))  # one page present: 0
    out.append(be.anon_huge_kb())
    out.append(be.madvise(a, PMD, "collapse"))  # a THP already: 0
    be.touch(a + PMD)
    be.mprotect(a + PMD, PMD, "r")
    out.append(be.madvise(a + PMD, PMD, "collapse"))  # read-only ptes: 0 (no SCAN_PAGE_RO in 6.18)
    be.touch(a + 2 * PMD)
    be.madvise(a + 2 * PMD, PMD, "nohugepage")
    out.append(be.madvise(a + 2 * PMD, PMD, "collapse"))  # VM_NOHUGEPAGE: EINVAL
    be.munmap(base, 8 * MB)
    return out


class ProcessBackend:
    """The calls of ``collapse_transcript`` through the Process API."""

    def __init__(self):
        self.p = small_machine().spawn()

    def _call(self, fn, *args):
        try:
            res = fn(*args)
        except KernelError as e:
            return errno.errorcode[e.errno]
        return 0 if res is None else res

    def mmap(self, addr, length, prot, flags):
        return self._call(self.p.mmap, length, prot, flags, addr)

    def munmap(self, addr, length):
        return self._call(self.p.munmap, addr, length)

    def mprotect(self, addr, length, prot):
        return self._call(self.p.mprotect, addr, length, prot)

    def madvise(self, addr, length, advice):
        return self._call(self.p.madvise, addr, length, advice)

    def touch(self, addr):
        self.p.write(addr, 1, value=1)

    def anon_huge_kb(self):
        return anon_huge_kb(self.p)


def real_collapse_transcript() -> None:
    """Entry point of the subprocess: the transcript as raw syscalls of this process."""
    import json
    import re
    from pathlib import Path

    from test_mmap import RealBackend

    class Real(RealBackend):
        def anon_huge_kb(self):
            text = Path("/proc/self/smaps_rollup").read_text()
            return int(re.search(r"^AnonHugePages:\s+(\d+) kB$", text, re.M).group(1))

    print(json.dumps(collapse_transcript(Real())))


def test_madvise_collapse_matches_this_kernel():
    import json
    import os
    import subprocess
    import sys

    from conftest import host_is_618

    want = ["EINVAL", "EINVAL", 0, 0, 2048, 0, 0, "EINVAL"]  # as this host's 6.18 answered
    assert collapse_transcript(ProcessBackend()) == want
    if not host_is_618():
        pytest.skip("not a Linux 6.18 x86-64 host")
    done = subprocess.run([sys.executable, "-c", "import test_khugepaged; test_khugepaged.real_collapse_transcript()"],
                          cwd=os.path.dirname(__file__), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    real = json.loads(done.stdout)
    if real[3] in ("ENOMEM", "EAGAIN"):
        pytest.skip(f"the host could not collapse a THP just now ({real[3]})")
    assert real == want
