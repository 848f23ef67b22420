"""The C probes that measure this machine's real kernel in the benchmarks, built and run here.

Every benchmark compares the simulator with the real kernel measured in the same run by a
small C program (its source a string in the benchmark). ``compile_probe`` builds one with the
host's C compiler (None when there is none: the benchmark then prints the simulator's side
alone) and ``run_probe`` runs it and returns its stdout split into words.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def compile_probe(source: str, workdir: str, name: str = "probe") -> str | None:
    """Build the C program ``source`` in ``workdir`` with -O2; its path, or None without cc."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, exe = os.path.join(workdir, f"{name}.c"), os.path.join(workdir, name)
    with open(src, "w") as f:
        f.write(source)
    subprocess.run([cc, "-O2", "-o", exe, src], check=True)
    return exe


def run_probe(exe: str, *args: object) -> list[str]:
    """Run a built probe with ``args``; its stdout as words (it fails loudly on a bad exit)."""
    out = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=True)
    return out.stdout.split()
