"""tmpfs and shared anonymous memory under memory pressure (``mm/shmem.py``: Linux 6.18's
``shmem_writeout`` from ``shrink_folio_list``, ``shmem_swapin_folio``, ``shmem_free_swap``,
``shmem_recalc_inode``, ``shmem_swap_usage``).

The rules are the kernel's: a dirty shmem folio reclaim picks goes to swap, its page-cache
slot keeping the swap entry (pswpout, meminfo Shmem falls, smaps ``Swap:`` and the slot counts
follow: ``linuxmm.debug.check`` recounts swap_map as swap ptes + swap cache + tmpfs swap
entries); a fault, read() or write() brings it back (pswpin; a fault that read counts a major
fault) with every byte as written; truncation, munmap of the last mapping and unlink free its
swap. This host has no swap: the expectations are the kernel's rules (mm/shmem.c,
Documentation/filesystems/tmpfs.rst: "tmpfs ... puts everything into the kernel internal
caches ... and is able to swap unneeded pages out to swap space").
"""


import numpy as np
import pytest

from conftest import meminfo, vmstat
import linuxmm
from linuxmm import debug

MiB = 1 << 20
PAGE = 4096


def value_of(mib: int) -> int:
    return mib % 250 + 1


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_shared_anonymous_memory_larger_than_ram_swaps_and_reads_back(kind, path):
    """MAP_SHARED|MAP_ANONYMOUS of 6x RAM: its folios go to swap through shmem_writeout
    (pswpout; Shmem and RssShmem fall below RAM; smaps Swap of the mapping and SwapTotal -
    SwapFree count them); reading it back swaps them in (pswpin, major faults), each byte as
    written; munmap frees every slot (SwapFree back to SwapTotal)."""
    m = linuxmm.Machine(cmdline="mem=64M")  # 16 MiB of RAM
    m.swapon("128M", kind=kind, path=path)
    p = m.spawn()
    size = 96 * MiB
    ram = meminfo(m, "MemTotal")["MemTotal"] * 1024
    addr = p.mmap(size, flags="shared|anonymous")
    for off in range(0, size, MiB):
        p.write(addr + off, MiB, stride=64, value=value_of(off >> 20))
    assert vmstat(m, "pswpout")["pswpout"] >= (size - ram) // PAGE
    mi = meminfo(m, "Shmem", "SwapTotal", "SwapFree")
    swapped = mi["SwapTotal"] - mi["SwapFree"]
    assert mi["Shmem"] < ram // 1024 and swapped >= (size - ram) // 1024
    vma = next(s for s, v in zip(p.smaps(), p.task.mm.vmas) if v.vm_start == addr)
    assert 0 < vma["Swap"] <= swapped and vma["Rss"] + vma["Swap"] <= size // 1024
    assert debug.check(m) == []
    majflt = p.majflt
    bad = [off >> 20 for off in range(0, size, MiB)
           if not (np.frombuffer(p.read(addr + off, MiB, stride=64), np.uint8) == value_of(off >> 20)).all()]
    assert bad == []
    assert p.majflt > majflt and vmstat(m, "pswpin")["pswpin"] > 0
    assert debug.check(m) == []
    p.munmap(addr, size)
    mi = meminfo(m, "Shmem", "SwapTotal", "SwapFree")
    assert mi["SwapFree"] == mi["SwapTotal"] and mi["Shmem"] == 0
    assert debug.check(m) == []


def test_memfd_written_past_ram_reads_back_and_truncate_frees_its_swap():
    """A memfd written with write() past RAM swaps out; pread() swaps its pages back in and
    returns every byte; ftruncate to a partial page frees the swap of the pages past it and
    zeroes the rest of the page it cuts (read back from swap first)."""
    m = linuxmm.Machine(cmdline="mem=64M")  # 16 MiB of RAM
    m.swapon("128M", kind="zram")
    p = m.spawn()
    fd = p.memfd_create("big")
    size = 80 * MiB
    for off in range(0, size, MiB):
        p.pwrite(fd, MiB, offset=off, value=value_of(off >> 20))
    assert vmstat(m, "pswpout")["pswpout"] > 0
    assert debug.check(m) == []
    for off in range(0, size, MiB):
        got = np.frombuffer(p.pread(fd, MiB, offset=off), np.uint8)
        assert (got == value_of(off >> 20)).all(), off >> 20
    assert debug.check(m) == []
    p.pwrite(fd, size, offset=0, value=9)  # all of it dirty again, much of it in swap again
    mi = meminfo(m, "SwapTotal", "SwapFree")
    assert mi["SwapTotal"] > mi["SwapFree"]
    p.ftruncate(fd, PAGE + 100)
    assert debug.check(m) == []
    mi = meminfo(m, "SwapTotal", "SwapFree")
    assert mi["SwapTotal"] - mi["SwapFree"] <= 8  # at most the two pages left
    got = np.frombuffer(p.pread(fd, PAGE + 100, offset=0), np.uint8)
    assert (got == 9).all()
    p.ftruncate(fd, 2 * PAGE)
    assert np.frombuffer(p.pread(fd, 2 * PAGE, offset=0), np.uint8)[PAGE // 64 + 2:].tolist() == [0] * 62
    p.close(fd)
    mi = meminfo(m, "SwapTotal", "SwapFree", "Shmem")
    assert mi["SwapFree"] == mi["SwapTotal"] and mi["Shmem"] == 0
    assert debug.check(m) == []


def test_swapoff_brings_tmpfs_pages_back():
    """swapoff reads the tmpfs pages in swap back into their page caches (shmem_unuse)."""
    m = linuxmm.Machine(cmdline="mem=64M")  # 16 MiB of RAM
    m.swapon("64M", kind="zram")
    p = m.spawn()
    fd = p.memfd_create("f")
    size = 40 * MiB
    for off in range(0, size, MiB):
        p.pwrite(fd, MiB, offset=off, value=value_of(off >> 20))
    addr = p.mmap(4 * MiB)  # anonymous memory too: some of it swaps, the rest reclaims tmpfs
    p.write(addr, 4 * MiB, stride=64, value=3)
    p.ftruncate(fd, 6 * MiB)  # what is left fits in RAM once swapped in
    assert vmstat(m, "pswpout")["pswpout"] > 0
    m.swapoff(m.proc("swaps").splitlines()[1].split()[0])
    assert debug.check(m) == []
    for off in range(0, 6 * MiB, MiB):
        assert (np.frombuffer(p.pread(fd, MiB, offset=off), np.uint8) == value_of(off >> 20)).all()
    assert vmstat(m, "pswpin")["pswpin"] > 0


# ---- large folios (huge=always tmpfs) to swap and back -----------------------------------------

HUGE_TMPFS = '''
name = "hugetmpfs"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x3fffffff }]
[[mount]]
path = "/mnt"
fs = "tmpfs"
size = 104857600
huge = "always"
'''


def huge_tmpfs_machine(kind, path, swap="128M"):
    """16 MiB of RAM, swap (none for ``kind`` None), and a 100 MiB tmpfs mounted huge=always
    on /mnt (its writes allocate PMD-size folios), a process in memcg /t."""
    from linuxmm.sources import toml

    m = linuxmm.Machine(toml.loads(HUGE_TMPFS), cmdline="mem=64M")
    if kind is not None:
        m.swapon(swap, kind=kind, path=path)
    m.cgroup("t")
    return m, m.spawn(cgroup="/t")


def write_file(m, p, path: str, size: int, first_mib: int = 0) -> None:
    """``path`` created and written 1 MiB per pwrite() (each MiB its own value)."""
    m.create_file(path, 0)
    fd = p.open(path, "rw")
    for off in range(0, size, MiB):
        p.pwrite(fd, min(MiB, size - off), offset=off, value=value_of(first_mib + (off >> 20)))
    p.close(fd)


def file_intact(p, path: str, size: int, first_mib: int = 0) -> list[int]:
    """The MiBs of ``path`` that do not read back as ``write_file`` wrote them."""
    fd = p.open(path, "r")
    bad = [off >> 20 for off in range(0, size, MiB)
           if not (np.frombuffer(p.pread(fd, min(MiB, size - off), offset=off), np.uint8)
                   == value_of(first_mib + (off >> 20))).all()]
    p.close(fd)
    return bad


def smaps_swap_kb(p, path: str, size: int) -> int:
    """smaps ``Swap:`` of a shared mapping of the whole file (``shmem_swap_usage``)."""
    fd = p.open(path, "r")
    addr = p.mmap(size, "r", "shared", fd=fd)
    p.close(fd)
    kb = next(s for s, v in zip(p.smaps(), p.task.mm.vmas) if v.vm_start == addr)["Swap"]
    p.munmap(addr, size)
    return kb


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_large_tmpfs_folios_swap_out_whole_and_come_back(kind, path):
    """6.18's ``shmem_writeout`` with CONFIG_THP_SWAP: a dirty PMD-size tmpfs folio reclaim
    picks goes to swap whole into a free cluster (thp_swpout, no fallback, no split):
    ShmemHugePages falls with Shmem, the file's slots hold one multi-index swap entry
    (smaps Swap of the file: all 8 MiB of the first file pushed out), the memcg's
    memory.swap.current counts the slots. With memory free again (the other file
    unlinked), a read of one page brings back on zram the whole folio (``shmem_swap_alloc_folio``: pswpin 512, ShmemHugePages up 2 MiB), from a disk
    only that page (order-0 swapin, the large entry split: Swap down 4 kB). Every byte
    reads back as written, and the swap_map counts match (debug.check)."""
    m, p = huge_tmpfs_machine(kind, path)
    write_file(m, p, "/mnt/a", 8 * MiB)
    write_file(m, p, "/mnt/b", 40 * MiB, first_mib=8)
    m.run(0.2)  # the disk's writes complete
    ev = vmstat(m, "thp_swpout", "thp_swpout_fallback", "thp_split_page", "pswpout", "pswpin")
    assert ev["thp_swpout"] >= 4 and ev["thp_swpout_fallback"] == ev["thp_split_page"] == 0
    assert ev["pswpout"] == 512 * ev["thp_swpout"]
    assert debug.check(m) == []
    mi = meminfo(m, "Shmem", "ShmemHugePages", "SwapTotal", "SwapFree", "SwapCached")
    assert mi["Shmem"] == mi["ShmemHugePages"] < 16 * 1024
    used = mi["SwapTotal"] - mi["SwapFree"]
    assert used == 4 * ev["pswpout"] and int(m.cgroup("/t").read("memory.swap.current")) == used * 1024
    assert smaps_swap_kb(p, "/mnt/a", 8 * MiB) == 8 * 1024
    assert file_intact(p, "/mnt/b", 40 * MiB, 8) == []
    m.unlink("/mnt/b")  # memory free again: a PMD-size folio can be had without reclaim
    before = vmstat(m, "pswpin")["pswpin"]
    p.pread(p.open("/mnt/a", "r"), 64, offset=3 * MiB + 100 * PAGE)
    after = vmstat(m, "pswpin")["pswpin"] - before
    if kind == "zram":
        assert after == 512 and smaps_swap_kb(p, "/mnt/a", 8 * MiB) == 6 * 1024
        assert meminfo(m, "ShmemHugePages")["ShmemHugePages"] >= 2048
    else:
        assert after == 1 and smaps_swap_kb(p, "/mnt/a", 8 * MiB) == 8 * 1024 - 4
    assert debug.check(m) == []
    assert file_intact(p, "/mnt/a", 8 * MiB) == []
    assert debug.check(m) == []


def test_large_tmpfs_folio_across_eof_is_split_before_swap():
    """A 1 MiB + 4 KiB file on a huge=always tmpfs sits in one PMD-size folio reaching past
    EOF; 6.18's ``shmem_writeout`` splits such a folio (no large swap entry may outlive the
    truncation past EOF): thp_swpout_fallback and thp_split_page count each, the 255 pages
    past EOF leave the cache at the split (freed), the 257 below go to swap one by one."""
    m, p = huge_tmpfs_machine("zram", None)
    for i in range(30):
        write_file(m, p, f"/mnt/f{i}", MiB + PAGE, first_mib=i)
    ev = vmstat(m, "thp_swpout", "thp_swpout_fallback", "thp_split_page", "pswpout")
    assert ev["thp_swpout"] == 0 and ev["thp_swpout_fallback"] == ev["thp_split_page"] > 0
    assert ev["pswpout"] == 257 * ev["thp_swpout_fallback"]
    assert memcg_events(m, "/t", "thp_swpout_fallback") == ev["thp_swpout_fallback"]
    assert debug.check(m) == []
    for i in range(30):
        assert file_intact(p, f"/mnt/f{i}", MiB + PAGE, first_mib=i) == [], i
    assert debug.check(m) == []


def memcg_events(m, cg: str, name: str) -> int:
    return int(dict(line.split() for line in m.cgroup(cg).read("memory.stat").splitlines())[name])


@pytest.mark.parametrize("kind, path", [("zram", None), ("partition", "/dev/vda")])
def test_hole_punched_in_a_large_swap_entry_frees_only_its_pages(kind, path):
    """FALLOC_FL_PUNCH_HOLE of the middle MiB of a 2 MiB folio in swap: the large entry
    crossing the hole is read back first (whole from zram, then the folio split by the
    truncation; from a disk the border page, the entry split), only the hole's swap is
    freed, the hole reads as zeros and the rest as written."""
    m, p = huge_tmpfs_machine(kind, path)
    write_file(m, p, "/mnt/a", 8 * MiB)
    write_file(m, p, "/mnt/b", 40 * MiB, first_mib=8)
    m.run(0.2)
    assert smaps_swap_kb(p, "/mnt/a", 8 * MiB) == 8 * 1024
    fd = p.open("/mnt/a", "rw")
    p.fallocate(fd, 4 * MiB + 512 * 1024, MiB, mode="punch_hole|keep_size")
    assert debug.check(m) == []
    assert smaps_swap_kb(p, "/mnt/a", 8 * MiB) <= 7 * 1024  # the hole's MiB at least
    hole = np.frombuffer(p.pread(fd, MiB, offset=4 * MiB + 512 * 1024), np.uint8)
    assert not hole.any()
    for off, n in ((4 * MiB, 512 * 1024), (5 * MiB + 512 * 1024, 512 * 1024)):
        assert (np.frombuffer(p.pread(fd, n, offset=off), np.uint8) == value_of(off >> 20)).all(), off
    assert file_intact(p, "/mnt/a", 4 * MiB) == []
    p.close(fd)
    assert debug.check(m) == []


def test_swapoff_brings_large_tmpfs_swap_entries_back_whole():
    """swapoff (``shmem_unuse``) of zram holding whole-swapped tmpfs THPs reads each large
    entry back as one PMD-size folio while a free 2 MiB block is left (no reclaim for it:
    ``vma_thp_gfp_mask``), the others page by page: ShmemHugePages is back, every byte intact."""
    m, p = huge_tmpfs_machine("zram", None)
    write_file(m, p, "/mnt/a", 4 * MiB)
    write_file(m, p, "/mnt/b", 4 * MiB, first_mib=4)
    addr = p.mmap(12 * MiB)  # anonymous memory pushes the tmpfs THPs out
    p.write(addr, 12 * MiB, stride=64, value=3)
    p.munmap(addr, 12 * MiB)
    assert vmstat(m, "thp_swpout")["thp_swpout"] > 0
    m.swapoff("/dev/zram0")
    mi = meminfo(m, "Shmem", "ShmemHugePages", "SwapTotal")
    assert mi["Shmem"] == 8 * 1024 and mi["SwapTotal"] == 0
    assert mi["ShmemHugePages"] >= 4 * 1024  # the free 2 MiB blocks left (the rest: order 0)
    assert debug.check(m) == []
    assert file_intact(p, "/mnt/a", 4 * MiB) == [] and file_intact(p, "/mnt/b", 4 * MiB, 4) == []


def test_check_catches_a_large_swap_entry_with_a_foreign_slot():
    """debug.check counts the slots of a large tmpfs swap entry page by page: one slot of
    the multi-index entry rewritten to another value breaks the recount of swap_map."""
    from linuxmm.lib import xarray as X

    m, p = huge_tmpfs_machine("zram", None)
    write_file(m, p, "/mnt/a", 8 * MiB)
    write_file(m, p, "/mnt/b", 40 * MiB, first_mib=8)
    assert debug.check(m) == []
    k = m.kernel
    mapping = next(mp for mp in k.rmap.address_spaces.values() if mp.swapbacked and mp.xa_id >= 0
                   and k.page_cache.xa_nr_values[mp.xa_id] >= 512)
    idx, ent = np.zeros(1 << 16, np.int64), np.zeros(1 << 16, np.int64)
    got = X.xa_gather(k.page_cache, mapping.xa_id, 0, 1 << 40, idx, ent)
    first, value = next((int(i), int(X.xa_to_value(e))) for i, e in zip(idx[:got], ent[:got])
                        if e & 1 and i % 512 == 0 and X.xa_load(k.page_cache, mapping.xa_id, i + 511) == e)
    X.xa_store(k.page_cache, mapping.xa_id, first + 5, X.xa_mk_value(value + 5))  # as if split there alone
    assert any("swap_map count" in v for v in debug.check(m))


def test_large_tmpfs_folios_without_swap_match_the_host():
    """tests/probe/shmem_huge_probe.py on this project's 6.18 host (no swap there): a 2 MiB
    write() to a huge=always tmpfs file is one PMD-size folio (thp_file_alloc), and so is a
    1 MiB + 4 KiB one, reaching past EOF, its whole 2 MiB counted in Shmem, ShmemHugePages
    and the filesystem's blocks: the folio ``shmem_writeout`` would split before swapping."""
    import json
    from pathlib import Path

    path = Path(__file__).parent / "data/host-linux-6.18/shmem_huge_probe.jsonl"
    m, p = huge_tmpfs_machine(None, None)
    for host in map(json.loads, path.read_text().splitlines()):
        before = meminfo(m, "ShmemHugePages", "Shmem") | vmstat(m, "thp_file_alloc")
        m.create_file(f"/mnt/{host['file']}", host["bytes"], value=3)
        after = meminfo(m, "ShmemHugePages", "Shmem") | vmstat(m, "thp_file_alloc")
        got = {"shmem_huge_kb": after["ShmemHugePages"] - before["ShmemHugePages"],
               "shmem_kb": after["Shmem"] - before["Shmem"],
               "thp_file_alloc": after["thp_file_alloc"] - before["thp_file_alloc"],
               "used_kb": m.kernel.mounts["/mnt"].used_blocks * 4, "swap_total_kb": meminfo(m, "SwapTotal")["SwapTotal"]}
        assert got == {key: host[key] for key in got}, host["file"]
