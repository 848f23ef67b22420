"""The package's layering (pyproject.toml [tool.importlinter]), checked by import-linter:
page-table entries and walker below the TLB below the fault path, headers below kernel
code, and no import cycles between the modules of mm/, include/linux/ and arch/x86/mm/."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import linuxmm

ROOT = Path(__file__).parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    src = str(Path(linuxmm.__file__).parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
