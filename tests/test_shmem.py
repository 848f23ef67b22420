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
