"""mm/khugepaged: MADV_COLLAPSE and khugepaged collapsing small pages into a PMD THP, and the
sysfs directory /sys/kernel/mm/transparent_hugepage/khugepaged/ (defaults from this host's
Linux 6.18, tests/data/host-linux-6.18/thp.txt)."""

import errno
import re

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


# ---- shmem and file memory (collapse_file) ----------------------------------------------------------

PROBE = HOST_SNAP / "collapse_file_probe.txt"  # tests/probe/collapse_file_probe.c on this host's 6.18
COLLAPSE_LINE = re.compile(r"^(?P<name>[^:]+): (?P<ret>-?\d) (?P<err>\S+) ShmemPmdMapped (?P<pmd>-?\d+) "
                           r"FilePmdMapped -?\d+ Rss (?P<rss>-?\d+) thp_collapse_alloc \+(?P<alloc>\d+) "
                           r"nr_shmem_hugepages \+(?P<shmem>\d+) nr_file_hugepages \+(?P<file>\d+)$")


def vma_smaps(p, addr: int, field: str) -> int:
    """The smaps ``field`` (kB) of the VMA holding ``addr``."""
    return next(s[field] for v, s in zip(p.maps(), p.smaps()) if v.start <= addr < v.end)


# The host frees a pte table MADV_DONTNEED empties (CONFIG_PT_RECLAIM), so its next fault can
# map a THP by a pmd; the simulator keeps the table: this step is left out on both sides.
PT_RECLAIM_STEP = "refault after hugepage:"


def probe_lines(text: str) -> list[str]:
    """The probe's lines, a collapse reduced to what both sides define: a regular file's to
    the result (its FilePmdMapped is the readahead's large folios, not the collapse's), and
    without nr_file_hugepages (the host's other processes read files into PMD-sized folios
    meanwhile: it moved once while no file was collapsed)."""
    out = []
    for line in text.splitlines():
        match = COLLAPSE_LINE.match(line)
        if line.startswith(("#", PT_RECLAIM_STEP)):
            continue
        if match is None:
            out.append(line)
        elif match["name"].startswith("ext4"):
            out.append(f"{match['name']}: {match['ret']} {match['err']}")
        else:
            out.append("{name}: {ret} {err} ShmemPmdMapped {pmd} Rss {rss} thp_collapse_alloc +{alloc} "
                       "nr_shmem_hugepages +{shmem}".format(**match.groupdict()))
    return out


def collapse_file_transcript(m) -> list[str]:
    """collapse_file_probe.c's steps on a simulated machine, printed as the probe prints them."""
    p = m.spawn()
    counters = ("thp_collapse_alloc", "nr_shmem_hugepages")
    out = []

    def smaps(addr, field):
        return vma_smaps(p, addr, field)

    def collapse(name, addr, length):
        before = vmstat(m, *counters)
        try:
            p.madvise(addr, length, "collapse")
            ret = "0 -"
        except KernelError as e:
            ret = f"-1 {errno.errorcode[e.errno]}"
        after = vmstat(m, *counters)
        if name.startswith("ext4"):
            out.append(f"{name}: {ret}")
            return
        out.append(f"{name}: {ret} ShmemPmdMapped {smaps(addr, 'ShmemPmdMapped')} Rss {smaps(addr, 'Rss')} "
                   + " ".join(f"{c} +{after[c] - before[c]}" for c in counters))

    def memfd_area(size, length, prot="rw", flags="shared"):
        fd = p.memfd_create("collapse")
        p.ftruncate(fd, size)
        addr = p.mmap(length, prot, flags + "|fixed", addr=BASE, fd=fd)
        p.close(fd)
        return addr

    def check(addr, npages):
        return int(contents(p, addr, npages) == [i % 255 + 1 for i in range(npages)])

    a = memfd_area(2 * PMD, 2 * PMD)
    fill(p, a, 1024)
    collapse("memfd full 4M", a, 2 * PMD)
    out.append(f"memfd full data intact: {check(a, 1024)}")
    collapse("memfd again", a, 2 * PMD)
    p.munmap(a, 2 * PMD)
    a = memfd_area(PMD, PMD)
    fill(p, a, 1)
    collapse("memfd one page", a, PMD)
    out.append(f"memfd one page: page 0 {contents(p, a, 1)[0]} page 1 {contents(p, a + P, 1)[0]}")
    p.munmap(a, PMD)
    a = memfd_area(PMD, PMD)
    collapse("memfd empty", a, PMD)
    p.munmap(a, PMD)
    a = memfd_area(PMD // 2, PMD)
    fill(p, a, 256)
    collapse("memfd past i_size", a, PMD)
    p.munmap(a, PMD)
    a = memfd_area(PMD, PMD)
    fill(p, a, 512)
    p.madvise(a, PMD, "nohugepage")
    collapse("memfd nohugepage", a, PMD)
    p.madvise(a, PMD, "hugepage")
    collapse("memfd hugepage", a, PMD)
    p.madvise(a, PMD, "nohugepage")
    p.madvise(a, PMD, "dontneed")
    fill(p, a, 512)
    out.append(f"refault after nohugepage: ShmemPmdMapped {smaps(a, 'ShmemPmdMapped')}")
    p.munmap(a, PMD)  # then the PT_RECLAIM_STEP
    a = memfd_area(PMD, PMD, "r", "private")
    p.madvise(a, PMD, "populate_read")
    collapse("memfd private read-only, populated", a, PMD)
    p.munmap(a, PMD)
    a = memfd_area(PMD, PMD, "rw", "private")
    fill(p, a, 512)
    collapse("memfd private written (anon COW pages)", a, PMD)
    p.munmap(a, PMD)
    fd = p.memfd_create("two")
    p.ftruncate(fd, PMD)
    a = p.mmap(PMD, "rw", "shared|fixed", addr=BASE, fd=fd)
    q = p.mmap(PMD, "rw", "shared|fixed", addr=BASE + 2 * PMD, fd=fd)
    fill(p, a, 512)
    p.madvise(q, PMD, "populate_read")
    out.append(f"second vma before: Rss {smaps(q, 'Rss')}")
    collapse("memfd first of two vmas", a, PMD)
    out.append(f"second vma after: Rss {smaps(q, 'Rss')} ShmemPmdMapped {smaps(q, 'ShmemPmdMapped')}")
    p.write(q, 1, value=contents(p, q, 1)[0])
    out.append(f"second vma refaulted: Rss {smaps(q, 'Rss')} ShmemPmdMapped {smaps(q, 'ShmemPmdMapped')}")
    p.munmap(a, PMD)
    p.munmap(q, PMD)
    p.close(fd)
    fd = p.open("/dev/shm/collapse_probe", "rw", create=True, truncate=True)
    p.ftruncate(fd, PMD)
    a = p.mmap(PMD, "rw", "shared|fixed", addr=BASE, fd=fd)
    fill(p, a, 512)
    collapse("/dev/shm file (huge=never)", a, PMD)
    p.munmap(a, PMD)
    p.close(fd)
    fd = p.open("/collapse_probe", "rw", create=True, truncate=True)
    p.pwrite(fd, PMD, 0)
    p.close(fd)
    fd = p.open("/collapse_probe", "r")
    a = p.mmap(PMD, "rx", "private|fixed", addr=BASE, fd=fd)
    p.madvise(a, PMD, "populate_read")
    collapse("ext4 file read-only exec", a, PMD)
    p.munmap(a, PMD)
    p.close(fd)
    fd = p.open("/collapse_probe", "rw")
    a = p.mmap(PMD, "rw", "shared|fixed", addr=BASE, fd=fd)
    p.madvise(a, PMD, "populate_read")
    collapse("ext4 file shared read-write", a, PMD)
    assert debug.check(m) == []
    return out


def test_madvise_collapse_of_shmem_and_files_matches_this_host():
    """MADV_COLLAPSE of memfd, /dev/shm and ext4 ranges, step by step as this host's 6.18 did
    them (tests/probe/collapse_file_probe.c): a memfd collapses whatever shmem_enabled says
    (never here), its holes filled with zeros, even past i_size; an empty range allocates a
    THP and fails (SCAN_TRUNCATED, EINVAL); VM_NOHUGEPAGE is EINVAL; the other mapping of
    the file loses its ptes and maps the THP by a pmd at its next fault; a private mapping's
    copies keep its ptes (the cache is collapsed, the mapping is EINVAL); a regular file is
    EINVAL (no CONFIG_READ_ONLY_THP_FOR_FS)."""
    assert collapse_file_transcript(small_machine()) == probe_lines(PROBE.read_text())


MAP_SHARED_FIXED, MAP_PRIVATE_FIXED = 0x11, 0x12
PROT_RW, PROT_READ_EXEC = 3, 5


class SimFiles:
    """collapse_errnos' calls through the Process API."""

    def __init__(self):
        self.m = small_machine()
        self.p = self.m.spawn()

    def memfd(self, size: int) -> int:
        fd = self.p.memfd_create("collapse")
        self.p.ftruncate(fd, size)
        return fd

    def open(self, path: str, write: bool) -> int:
        return self.p.open(path, "rw" if write else "r", create=write, truncate=write)

    def ftruncate(self, fd: int, size: int) -> None:
        self.p.ftruncate(fd, size)

    def mmap(self, length: int, prot: int, flags: int, fd: int) -> None:
        self.p.mmap(length, "rw" if prot == PROT_RW else "rx",
                    "shared|fixed" if flags == MAP_SHARED_FIXED else "private|fixed", addr=BASE, fd=fd)

    def close(self, fd: int) -> None:
        self.p.close(fd)

    def write(self, addr: int, npages: int) -> None:
        fill(self.p, addr, npages)

    def madvise(self, addr: int, length: int, advice: str):
        try:
            self.p.madvise(addr, length, advice)
        except KernelError as e:
            return errno.errorcode[e.errno]
        return 0

    def shmem_pmd_kb(self) -> int:
        return self.p.smaps_rollup()["ShmemPmdMapped"]


class RealFiles:
    """The same calls as syscalls of this process (run it in a subprocess)."""

    def __init__(self):
        from test_mmap import RealBackend

        self.be = RealBackend()

    def memfd(self, size: int) -> int:
        import os

        fd = os.memfd_create("collapse")
        os.ftruncate(fd, size)
        return fd

    def open(self, path: str, write: bool) -> int:
        import os

        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC if write else os.O_RDONLY, 0o600)

    def ftruncate(self, fd: int, size: int) -> None:
        import os

        os.ftruncate(fd, size)

    def mmap(self, length: int, prot: int, flags: int, fd: int) -> None:
        assert self.be._sys("mmap", BASE, length, prot, flags, fd, 0) == BASE

    def close(self, fd: int) -> None:
        import os

        os.close(fd)

    def write(self, addr: int, npages: int) -> None:
        for i in range(npages):
            self.be.ctypes.memset(addr + i * P, i % 255 + 1, 1)

    def madvise(self, addr: int, length: int, advice: str):
        res = self.be.madvise(addr, length, advice)
        return res if isinstance(res, str) else 0

    def shmem_pmd_kb(self) -> int:
        from pathlib import Path

        text = Path("/proc/self/smaps_rollup").read_text()
        return int(re.search(r"^ShmemPmdMapped:\s+(\d+) kB$", text, re.M).group(1))


def collapse_errnos(be, ext4_dir: str) -> list:
    """MADV_COLLAPSE of a memfd (empty, one page written, VM_NOHUGEPAGE), a /dev/shm file and
    an ext4 file opened read-only and mapped r-x: each result, then ShmemPmdMapped (kB)."""
    out = []

    def area(fd, prot=PROT_RW, flags=MAP_SHARED_FIXED):
        be.mmap(PMD, prot, flags, fd)
        be.close(fd)

    def collapse():
        out.extend([be.madvise(BASE, PMD, "collapse"), be.shmem_pmd_kb()])
        be.madvise(BASE, PMD, "dontneed")

    area(be.memfd(PMD))
    collapse()
    be.write(BASE, 1)
    collapse()
    area(be.memfd(PMD))
    be.write(BASE, 512)
    be.madvise(BASE, PMD, "nohugepage")
    collapse()
    fd = be.open("/dev/shm/linuxmm_collapse_test", True)
    be.ftruncate(fd, PMD)
    area(fd)
    be.write(BASE, 512)
    collapse()
    fd = be.open(f"{ext4_dir}/linuxmm_collapse_test", True)
    be.ftruncate(fd, PMD)
    be.close(fd)
    area(be.open(f"{ext4_dir}/linuxmm_collapse_test", False), PROT_READ_EXEC, MAP_PRIVATE_FIXED)
    be.madvise(BASE, PMD, "populate_read")
    collapse()
    return out


def real_collapse_errnos(ext4_dir: str) -> None:
    import json
    import os

    try:
        print(json.dumps(collapse_errnos(RealFiles(), ext4_dir)))
    finally:
        for path in ("/dev/shm/linuxmm_collapse_test", f"{ext4_dir}/linuxmm_collapse_test"):
            if os.path.exists(path):
                os.unlink(path)


def test_madvise_collapse_errnos_of_files_match_this_kernel(tmp_path):
    """The same MADV_COLLAPSE calls on shmem and ext4 ranges give the same errnos and PMD
    mappings as this host's 6.18, through raw syscalls (when the tests run there, on ext4)."""
    import json
    import os
    import subprocess
    import sys

    from conftest import host_is_618

    want = ["EINVAL", 0, 0, 2048, "EINVAL", 0, 0, 2048, "EINVAL", 0]
    assert collapse_errnos(SimFiles(), "") == want
    if not host_is_618() or not os.path.isdir("/dev/shm"):
        pytest.skip("not a Linux 6.18 x86-64 host with /dev/shm")
    code = f"import test_khugepaged; test_khugepaged.real_collapse_errnos({str(tmp_path)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    real = json.loads(done.stdout)
    if "ENOMEM" in real or "EAGAIN" in real:
        pytest.skip(f"the host could not collapse a THP just now ({real})")
    assert real == want


def test_khugepaged_collapses_shmem_and_retracts_the_page_table():
    """With shmem_enabled ``advise``, a MADV_HUGEPAGE'd memfd mapping enters khugepaged's list;
    its scan collapses the file's cache (NR_SHMEM_THPS) within max_ptes_none and retracts
    the page tables of every mapping of the range, leaving the pmd to the next fault, which
    a VM_NOHUGEPAGE mapping refuses (``do_set_pmd``)."""
    m = thp_machine()
    m.sysfs("kernel/mm/transparent_hugepage/shmem_enabled", "advise")
    m.sysfs(KH + "max_ptes_none", "400")
    p = m.spawn()
    fd = p.memfd_create("k")
    p.ftruncate(fd, 2 * PMD)
    a = p.mmap(2 * PMD, "rw", "shared|fixed", addr=BASE, fd=fd)
    b = p.mmap(PMD, "rw", "shared|fixed", addr=BASE + 4 * PMD, fd=fd)
    fill(p, a, 512)
    fill(p, a + PMD, 100)  # 412 holes: more than max_ptes_none
    pattern = [i % 255 + 1 for i in range(512)]
    assert contents(p, b, 512) == pattern
    shmem_thp = meminfo(m, "ShmemHugePages")["ShmemHugePages"]
    p.madvise(a, 2 * PMD, "hugepage")
    m.run(0.001)
    assert int(m.sysfs(KH + "pages_collapsed")) == 1
    assert vmstat(m, "thp_scan_exceed_none_pte")["thp_scan_exceed_none_pte"] >= 1
    assert meminfo(m, "ShmemHugePages")["ShmemHugePages"] == shmem_thp + 2048
    assert (vma_smaps(p, a, "Rss"), vma_smaps(p, b, "Rss")) == (400, 0)  # the tables are gone
    p.madvise(b, PMD, "nohugepage")
    assert contents(p, b, 512) == pattern and vma_smaps(p, b, "ShmemPmdMapped") == 0
    assert contents(p, a, 512) == pattern and vma_smaps(p, a, "ShmemPmdMapped") == 2048
    assert debug.check(m) == []


def test_shmem_enabled_store():
    """The choices as this host shows them; deny and force do not change the internal mount's
    huge=; anything else is EINVAL."""
    m = small_machine()
    path = "kernel/mm/transparent_hugepage/shmem_enabled"
    assert m.sysfs(path) == (HOST_SNAP / "thp.txt").read_text().split("./shmem_enabled:")[1].splitlines()[0] + "\n"
    m.sysfs(path, "force")
    assert m.sysfs(path) == "always within_size advise never deny [force]\n"
    with pytest.raises(KernelError) as e:
        m.sysfs(path, "sometimes")
    assert e.value.errno == errno.EINVAL
