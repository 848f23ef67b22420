"""Compiling the simulator core ahead of use (``linuxmm warmup``) and saying so when it happens.

The hot paths are numba functions compiled on first call and cached on disk
(``cache=True``; the cache directory is keyed by the package's source). A cold cache costs
one to two minutes of compiling, spread over whichever commands first reach each function.
``warmup()`` runs one small workload that reaches every compiled entry point — boot and
the buddy allocator, faults, fork and copy-on-write, THP, mremap/mprotect/munmap, page
walks, trace parsing of every format, replay, the debug checks — so one wait compiles
everything and later commands only load from the cache.

``core_is_cached()`` reads numba's cache itself: a finished warmup leaves a manifest in the
cache directory (named by the package's source hash, so another version's does not count)
listing the index files (``*.nbi``) of every function it compiled, and each of them must
still be there. ``ensure_compiled()`` is what the CLI calls before work that needs the
core: nothing when cached, else a spinner (a single line when stderr is not a terminal)
naming the wait while ``warmup()`` runs.
"""

from __future__ import annotations

import gzip
import importlib
import os
import pkgutil
import tempfile
import time
from pathlib import Path

# The cold compile on the 2-core development machine (benchmarks/bench_compile.py).
COLD_COMPILE_SECONDS = 90

# A 384 MiB x86-64 machine: small enough to boot in a fraction of a second, with the same
# compiled types as any other machine.
WARMUP_MACHINE = """
name = "warmup"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x17ffffff }]
"""
LACKEY = "==1== Lackey\nI  04001000,3\n L 1ffefff000,8\n S 1ffefff008,8\n M 1ffeffe000,4\n L 04020000,8\n"
PINATRACE = "0x401000: R 0x7ffd1000\n0x401004: W 0x7ffd1008\n0x401008: R 0x601000\n#eof\n"


def compiled_functions() -> list:
    """Every cached numba dispatcher of the package that compiles code of its own (those
    inlined at their call sites have none)."""
    import linuxmm

    found = []
    for info in pkgutil.walk_packages(linuxmm.__path__, "linuxmm."):
        name = info.name
        if name.endswith("cli"):  # the command line: no compiled code, and it imports this module
            continue
        for obj in vars(importlib.import_module(name)).values():
            opts = getattr(obj, "targetoptions", None)
            if opts is not None and getattr(obj, "_cache", None) is not None \
                    and getattr(obj, "__module__", None) == name and opts.get("inline") != "always":
                found.append(obj)
    return found


def _index_files() -> list[Path]:
    return [Path(f._cache._cache_file._index_path) for f in compiled_functions()]


def manifest_path() -> Path:
    """The warmup manifest, in the cache directory (the parent of numba's per-source-directory
    subdirectories), named by this source version."""
    from ..cache import source_hash

    some = next(iter(_index_files()))
    return some.parent.parent / f"linuxmm-warmup-{source_hash()}.txt"


def core_is_cached() -> bool:
    """Every index file a finished warmup listed is in numba's cache."""
    try:
        listed = manifest_path().read_text().splitlines()
    except OSError:
        return False
    return all(os.path.exists(path) for path in listed)


def _write_manifest() -> None:
    try:
        manifest_path().write_text("".join(f"{p}\n" for p in _index_files() if p.exists()))
    except OSError:
        pass  # a cache numba cannot write either: every run compiles, and says so


def _exercise_vm(m) -> None:
    """Faults, COW, THP, shared memory, mremap, mprotect, munmap, walks, SIGSEGV."""
    from ..arch.x86.mm.fault import SegmentationFault

    p = m.spawn()
    a = p.mmap(8 << 20)
    p.read(a, 1 << 20)
    p.write(a, 8 << 20)
    c = p.fork()
    c.write(a, 4 << 20, value=3)
    c.read(a, 4 << 20)
    c.exit()
    h = p.mmap(4 << 20)
    p.madvise(h, 4 << 20, "hugepage")
    p.read(h, 2 << 20)
    p.write(h, 4 << 20)
    s = p.mmap(1 << 20, flags="shared|anonymous")
    p.fork().write(s, 1 << 20)
    p.mmap(1 << 20, flags="private|anonymous|populate")
    p.madvise(a, 4 << 20, "collapse")  # MADV_COLLAPSE, as khugepaged collapses (mm/khugepaged.py)
    z = p.mmap(2 << 20, flags="shared|anonymous|fixed", addr=1 << 40)
    p.write(z, 1 << 20)
    p.madvise(z, 2 << 20, "collapse")  # shmem's: collapse_file, the table retracted, the pmd installed
    a = p.mremap(a, 8 << 20, 16 << 20, maymove=True)
    p.mprotect(a, 4 << 20, "r")
    p.madvise(a + (8 << 20), 4 << 20, "dontneed")
    p.walk(a)
    p.walk(h)
    p.munmap(h, 4 << 20)
    p.proc("smaps")
    try:
        p.write(a, 4096)
    except SegmentationFault:
        pass


def _exercise_traces(m, tmp: Path) -> None:
    """Every trace format through the parsers, the summary, conversion and replay."""
    from . import trace as T
    from .replay import replay

    lackey, pin, binary = tmp / "t.lackey.gz", tmp / "t.pinatrace", tmp / "t.bin"
    with gzip.open(lackey, "wt") as f:
        f.write(LACKEY)
    pin.write_text(PINATRACE)
    T.convert(lackey, binary)
    for path in (lackey, pin, binary):
        T.summarize(path)
        replay(m, path)
    replay(m, lackey, madvise_hugepage=True, debug_vm=2)


def warmup() -> float:
    """Compile (or load from the cache) every compiled entry point; returns the seconds taken."""
    from .. import debug
    from ..arch.x86.mm.tlb import tlb_init, TlbConfig
    from ..kernel.fork import ensure_tables
    from ..machine import Machine
    from ..sources import toml

    t0 = time.perf_counter()
    m = Machine(toml.loads(WARMUP_MACHINE), cmdline="transparent_hugepage=madvise")
    for name in ("zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "vmstat"):
        m.proc(name)
    pfn = m.alloc_pages("GFP_KERNEL", 3)
    m.free_pages(pfn, 3)
    m.free_pages(m.alloc_pages("GFP_KERNEL|__GFP_COMP", 9), 9)
    m.drain_pages()
    _exercise_vm(m)
    ensure_tables(m.kernel)
    tlb_init(m.kernel, TlbConfig())
    with tempfile.TemporaryDirectory(prefix="linuxmm-warmup-") as tmp:
        _exercise_traces(m, Path(tmp))
    debug.check(m)
    _write_manifest()
    return time.perf_counter() - t0


def ensure_compiled(console) -> float:
    """Compile the core under a message on ``console`` (stderr) unless numba's cache has it;
    returns the seconds spent compiling (0 when cached)."""
    if core_is_cached():
        return 0.0
    what = f"compiling the simulator core (once per install, ~{COLD_COMPILE_SECONDS} s)"
    if console.is_terminal:
        with console.status(what):
            seconds = warmup()
    else:
        console.print(f"linuxmm: {what} ...", markup=False)
        seconds = warmup()
    console.print(f"linuxmm: compiled the simulator core in {seconds:.0f} s", markup=False)
    return seconds
