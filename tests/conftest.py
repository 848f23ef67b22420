import os
import platform
import re
from pathlib import Path

import pytest
from hypothesis import settings

# The normal run replays the same examples every time, so a green main stays green; the
# longer run (LINUXMM_FUZZ_EXAMPLES set, README "Debug checks") explores new ones.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("LINUXMM_FUZZ_EXAMPLES") else "ci")
# Every direct call of a compiled entry (linuxmm.jit.entry) checks its argument types.
os.environ.setdefault("LINUXMM_CHECK_ENTRY", "1")

DATA = Path(__file__).parent / "data"
HOST_SNAP = DATA / "host-linux-6.18"  # this machine's sysfs/procfs, captured under Linux 6.18
HOST_PINNED = {"DMA": 3840, "DMA32": 772915, "Normal": 163840}  # its managed pages at capture

# A 384 MiB x86-64 machine with 2 CPUs: small enough for memory to run short under fuzzing.
SMALL = """
name = "fuzz"
arch = "x86_64"
cpus = 2
e820 = [{ start = 0, end = 0x9fbff }, { start = 0x100000, end = 0x17ffffff }]
"""


def small_machine(cmdline: str | None = None, lru_gen: bool | None = None):
    from linuxmm import Machine
    from linuxmm.sources import toml

    return Machine(toml.loads(SMALL), cmdline=cmdline, lru_gen=lru_gen)


def host_is_618() -> bool:
    """This host runs Linux 6.18 on x86-64: the real kernel can serve as the oracle."""
    return platform.system() == "Linux" and platform.machine() == "x86_64" and \
        platform.release().startswith("6.18.")


def pytest_sessionfinish(session, exitstatus):
    # pytest exits 5 when it collected nothing; a suite that ran no test must fail loudly.
    if exitstatus == 5:
        session.exitstatus = 1


@pytest.fixture
def data_dir() -> Path:
    return DATA


def make_sysfs_root(tmp_path: Path, snapshot: Path) -> Path:
    """A fake / with the sysfs/procfs files ``sources.host`` reads, from a captured snapshot."""
    root = tmp_path / "root"
    memmap = root / "sys/firmware/memmap"
    for i, line in enumerate((snapshot / "firmware_memmap.txt").read_text().splitlines()):
        start, end, type_ = line.split(" ", 2)
        d = memmap / str(i)
        d.mkdir(parents=True)
        (d / "start").write_text(start + "\n")
        (d / "end").write_text(end + "\n")
        (d / "type").write_text(type_ + "\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text((snapshot / "kernel.txt").read_text())
    (root / "proc/cmdline").write_text((snapshot / "cmdline.txt").read_text())
    node = root / "sys/devices/system/node/node0"
    node.mkdir(parents=True)
    (node / "cpulist").write_text("0-1\n")
    (node / "distance").write_text("10\n")
    (root / "sys/devices/system/cpu").mkdir(parents=True)
    (root / "sys/devices/system/cpu/possible").write_text("0-1\n")
    return root


@pytest.fixture(scope="module")
def sysfs_root(tmp_path_factory):
    return make_sysfs_root(tmp_path_factory.mktemp("host"), HOST_SNAP)


@pytest.fixture
def host(sysfs_root):
    """The host booted from its snapshot, managed pinned to the snapshot's."""
    from linuxmm import Machine

    m = Machine.from_host(sysfs_root)
    m.set_managed(HOST_PINNED)
    return m


def vmstat(m, *names) -> dict[str, int]:
    """The /proc/vmstat values of ``names``."""
    text = m.proc("vmstat")
    return {n: int(re.search(rf"^{n} (\d+)$", text, re.MULTILINE).group(1)) for n in names}


def meminfo(m, *names) -> dict[str, int]:
    """The /proc/meminfo values (kB) of ``names``."""
    text = m.proc("meminfo")
    return {n: int(re.search(rf"^{re.escape(n)}:\s+(\d+) kB$", text, re.MULTILINE).group(1)) for n in names}
