"""A small workload that enters every part of the compiled core: boot, faults (4 KiB and THP),
fork and copy-on-write, munmap, mremap, mprotect, exit, and a replay of a short real trace.

``test_jit.py`` runs it in subprocesses (with its own numba cache directory and, for the
bounds check, ``NUMBA_BOUNDSCHECK=1``). It prints, as JSON, how many compiled functions were
loaded from the on-disk cache and how many had to be compiled.
"""

import json
import sys
from pathlib import Path

from numba.core.registry import CPUDispatcher

from conftest import small_machine
from linuxmm import debug
from linuxmm.jit import _new_struct
from linuxmm.tools.replay import replay
from linuxmm.tools.trace import TraceReader, write_binary

LS = Path(__file__).parent / "data" / "traces" / "ls-R-json.lackey.gz"
MiB = 1 << 20


def workload(tmp: Path) -> None:
    m = small_machine()
    p = m.spawn()
    a = p.mmap(8 * MiB)
    p.write(a, 8 * MiB)
    p.read(a, 8 * MiB)
    c = p.fork()
    c.write(a, 2 * MiB, stride=4096, value=3)  # copy-on-write
    p.munmap(a + 6 * MiB, 2 * MiB)
    b = p.mremap(a, 6 * MiB, 12 * MiB, maymove=True)
    p.mprotect(b, 4096, "r")
    c.exit()
    problems = debug.check(m)
    assert not problems, problems
    recs = next(iter(TraceReader(LS)))[:20000]
    write_binary(tmp / "cut.bin", [recs])
    replay(small_machine("transparent_hugepage=never"), tmp / "cut.bin", "binary")


def compiled_functions():
    for name, mod in list(sys.modules.items()):
        if name.startswith("linuxmm"):
            for obj in vars(mod).values():
                if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                    yield obj


if __name__ == "__main__":
    workload(Path(sys.argv[1]))
    funcs = list(compiled_functions())
    print(json.dumps({"cache_hits": sum(sum(f.stats.cache_hits.values()) for f in funcs),
                      "cache_misses": sum(sum(f.stats.cache_misses.values()) for f in funcs),
                      "struct_constructor_hits": sum(_new_struct.stats.cache_hits.values())}))
