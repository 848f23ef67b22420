"""Name numba-compiled functions for `perf` (a development aid, not a benchmark).

    NUMBA_CACHE_DIR=$(mktemp -d) perf record -F 10000 python -c '
    import linuxmm, ...                 # run the workload
    from benchmarks.perf_map import write_perf_map; write_perf_map()'
    perf report --sort symbol

perf resolves JIT code through /tmp/perf-PID.map. Every dispatcher compiled in this process
(hence the empty cache directory: functions loaded from the on-disk cache have no LLVM
module to list) contributes the functions of its final module, each named
``module.function:mangled callee``; a symbol's size runs to the next one's address.
"""

from __future__ import annotations

import gc
import os

from numba.core.registry import CPUDispatcher


def compiled_functions() -> dict[int, str]:
    """Address -> name of every function in the final modules compiled in this process."""
    names: dict[int, str] = {}
    for obj in gc.get_objects():
        if not isinstance(obj, CPUDispatcher):
            continue
        owner = f"{obj.py_func.__module__}.{obj.py_func.__name__}"
        for cres in obj.overloads.values():
            lib = cres.library
            module = getattr(lib, "_final_module", None)
            if module is None:
                continue
            for fn in module.functions:
                if fn.is_declaration:
                    continue
                addr = lib._codegen._engine.get_function_address(fn.name)
                if addr:
                    names[addr] = f"{owner}:{fn.name[:80]}"
    return names


def write_perf_map(path: str | None = None) -> str:
    names = compiled_functions()
    path = path or f"/tmp/perf-{os.getpid()}.map"
    addrs = sorted(names)
    with open(path, "w") as f:
        for here, nxt in zip(addrs, addrs[1:] + [addrs[-1] + 4096] if addrs else []):
            f.write(f"{here:x} {min(nxt - here, 1 << 20):x} {names[here]}\n")
    return path
