"""MADV_FREE: lazily freed anonymous memory (``mm/madvise.py``'s ``madvise_free_pte_range``,
``mm/swap.py``'s ``folio_mark_lazyfree``/``lru_lazyfree``, ``mm/vmscan.py``'s lazyfree branch
and ``mm/rmap.py``'s ``try_to_unmap_lazyfree_one``: Linux 6.18's mm/madvise.c, swap.c,
vmscan.c, rmap.c).

The rules are the kernel's (madvise(2): "the kernel can free these pages ... If there is a
subsequent write to the page, the kernel will not free it"): the folios MADV_FREE finds move
to the inactive file list without PG_swapbacked (pglazyfree; smaps LazyFree), keep their data
until reclaim comes, and reclaim frees the clean ones without swap (pglazyfreed), even on a
machine with no swap at all; a folio written again after MADV_FREE is swap-backed again and
keeps what was written.
"""


import numpy as np

from conftest import meminfo, vmstat
import linuxmm
from linuxmm import debug
from linuxmm.include.linux.pagevec import FOLIO_BATCH_SIZE

MiB = 1 << 20
PAGE = 4096


def lines(p, addr, size) -> np.ndarray:
    return np.frombuffer(p.read(addr, size, stride=64), np.uint8)


def test_madv_free_pages_are_freed_by_reclaim_without_swap_unless_written_again():
    m = linuxmm.Machine(cmdline="mem=64M")  # 16 MiB of RAM, no swap: reclaim cannot take anonymous pages
    m.sysctl("vm.overcommit_memory", 1)  # mode 0 would refuse the hog below (more than is free)
    p = m.spawn()
    size = 8 * MiB
    addr = p.mmap(size)
    p.write(addr, size, stride=64, value=5)
    file_before = meminfo(m, "Inactive(file)")["Inactive(file)"]
    p.madvise(addr, size, "free")
    batched = vmstat(m, "pglazyfree")["pglazyfree"]  # the last batch waits in the CPU's lru_lazyfree
    assert size // PAGE - FOLIO_BATCH_SIZE < batched <= size // PAGE
    assert meminfo(m, "Inactive(file)")["Inactive(file)"] - file_before == batched * 4
    vma = next(s for s, v in zip(p.smaps(), p.task.mm.vmas) if v.vm_start == addr)
    assert vma["LazyFree"] == batched * 4 and vma["Anonymous"] == size // 1024
    assert (lines(p, addr, size) == 5).all()  # nothing reclaimed yet: the data is still there
    p.write(addr, MiB, stride=64, value=7)  # written again: kept
    assert debug.check(m) == []
    hog_size = (meminfo(m, "MemFree")["MemFree"] // 1024 + 4) * MiB  # more than is free:
    hog = p.mmap(hog_size)
    p.write(hog, hog_size, stride=64, value=1)  # only the MADV_FREE pages can make room
    freed = vmstat(m, "pglazyfreed")["pglazyfreed"]
    assert 0 < freed <= (size - MiB) // PAGE
    assert (lines(p, addr, MiB) == 7).all()
    rest = lines(p, addr + MiB, size - MiB)
    assert set(rest.tolist()) <= {0, 5} and np.count_nonzero(rest == 0) == freed * (PAGE // 64)
    assert (lines(p, hog, hog_size) == 1).all()
    assert debug.check(m) == []


def test_madv_free_drops_the_swap_of_swapped_out_pages():
    """MADV_FREE frees the swap entries of pages already swapped out (their data is not
    needed any more: they read back as zeros) and the swap-cache copies of mapped ones."""
    m = linuxmm.Machine(cmdline="mem=64M")  # 16 MiB of RAM
    m.swapon("64M", kind="zram")
    p = m.spawn()
    size = 40 * MiB
    addr = p.mmap(size)
    p.write(addr, size, stride=64, value=3)
    mi = meminfo(m, "SwapTotal", "SwapFree")
    assert mi["SwapTotal"] > mi["SwapFree"]
    p.madvise(addr, size, "free")
    mi = meminfo(m, "SwapTotal", "SwapFree")
    assert mi["SwapTotal"] == mi["SwapFree"]
    assert debug.check(m) == []
    assert set(lines(p, addr, size).tolist()) <= {0, 3}
    assert debug.check(m) == []


def test_madv_dontneed_frees_the_pte_tables_it_empties_as_on_the_host():
    """CONFIG_PT_RECLAIM (mm/pt_reclaim.c, 6.18; on in this host's x86-64 config): MADV_DONTNEED
    frees a pte table once the zap leaves it empty, if its range covered the table whole
    (``reclaim_pt_is_enabled``); a range that covers a table in part (unaligned, or half of
    it) frees none, and the PMD table stays. The steps and VmPTE changes of
    tests/probe/zero_pt_probe.c on this host (tests/data/host-linux-6.18/zero_pt_probe.jsonl)."""
    import json

    from conftest import HOST_SNAP, SMALL
    from linuxmm.sources import toml

    GiB, HUGE = 1 << 30, 2 * MiB
    host = {r["scenario"]: r["vmpte_before_kb"] - r["vmpte_after_kb"] for r in map(
        json.loads, (HOST_SNAP / "zero_pt_probe.jsonl").read_text().splitlines()) if "pt_dontneed" in r.get("scenario", "")}
    m = linuxmm.Machine(toml.loads(SMALL.replace("0x17ffffff", "0x5fffffff")))  # 1.5 GiB
    p = m.spawn()

    def vmpte() -> int:
        return next(int(ln.split()[1]) for ln in p.proc("status").splitlines() if ln.startswith("VmPTE:"))

    freed = {}

    def step(name, call, *args):
        before = vmpte()
        call(*args)
        freed[name] = before - vmpte()

    r = p.mmap(GiB + HUGE, flags="private|anonymous|noreserve")
    base = (r + HUGE - 1) & ~(HUGE - 1)
    p.madvise(r, GiB + HUGE, "nohugepage")
    p.write(base, GiB)
    step("pt_dontneed_1g", p.madvise, base, GiB, "dontneed")
    p.write(base, 8 * MiB)
    step("pt_dontneed_aligned_2m", p.madvise, base + HUGE, HUGE, "dontneed")
    step("pt_dontneed_unaligned_2m", p.madvise, base + 2 * HUGE + PAGE, HUGE, "dontneed")
    step("pt_dontneed_half_table", p.madvise, base + 3 * HUGE, MiB, "dontneed")
    p.write(base + HUGE + 5 * PAGE, 1)  # one page in the table freed before: freed again
    step("pt_dontneed_sparse_2m", p.madvise, base + HUGE, HUGE, "dontneed")
    assert debug.check(m) == []
    assert freed == host  # (munmap's frees depend on what else shares the upper tables: not compared)
