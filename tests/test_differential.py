"""The compiled hot paths and the same code run as plain Python give identical results.

numba compiles the functions in mm/buddy.py and mm/memory.py; with NUMBA_DISABLE_JIT=1 the
same source runs in the interpreter. A seeded sequence of allocations, frees and (for the
VM) faults must leave bit-identical free lists and counters either way.
"""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, random, sys
import numpy as np
from linuxmm import Machine
from linuxmm.include.linux import gfp as G
from linuxmm.mm import page_alloc as pa

m = Machine(preset="seed-x86-32")
k = m.kernel
r = random.Random(7)
live = []
for _ in range(600):
    if live and r.random() < 0.45:
        p, o = live.pop(r.randrange(len(live)))
        pa.__free_pages(k, p, o, cpu=r.randrange(2))
    else:
        o = r.choice([0, 0, 0, 1, 2, 3, 5, 9, 10])
        g = r.choice([G.GFP_KERNEL, G.GFP_HIGHUSER_MOVABLE, G.GFP_DMA, G.GFP_ATOMIC, G.GFP_KERNEL | G.__GFP_RECLAIMABLE])
        p = pa.alloc_pages(k, g | G.__GFP_NOWARN, o, cpu=r.randrange(2))
        if p is not None:
            live.append((p, o))
proc = m.spawn()
addr = proc.mmap(64 << 12)
proc.write(addr, 64 << 12, stride=4096, value=5)
child = proc.fork()
child.write(addr, 32 << 12, stride=4096, value=9)
vm = {"parent": proc.read(addr, 64 << 12, stride=4096).hex(), "child": child.read(addr, 64 << 12, stride=4096).hex(),
      "minflt": [proc.minflt, child.minflt], "tlb": k.tlb.counters()}
a = k.mem_map
print(json.dumps({"live": live, "nr_free": a.nr_free.tolist(), "vm_stat": a.vm_stat.tolist(), "vm_numa_event": a.vm_numa_event.tolist(),
                  "vm_events": a.vm_events.tolist(),
                  "pcp_count": a.pcp_count.tolist(), "pcp_high": a.pcp_high.tolist(),
                  "pb_mt": int(np.abs(a.pb_mt.astype(np.int64)).sum()), "vm": vm}))
"""


def run(jit: bool) -> dict:
    env = dict(os.environ)
    if not jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compiled_allocator_equals_plain_python():
    assert run(jit=True) == run(jit=False)
