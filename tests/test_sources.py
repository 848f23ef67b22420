"""Machine descriptions: TOML files, real boot logs, this host; bad input gives clear errors."""

import os
import platform
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linuxmm import LinuxmmError, Machine, ParseError, presets
from linuxmm.sources import dmesg, toml

GOOD = """
name = "t"
arch = "x86_64"
kernel = "6.18"
cpus = 2
e820 = [
  { start = 0x0, end = 0x9fbff, type = "usable" },
  { start = 0x100000, size = "1G", type = "usable" },
]
"""


def test_toml_boots():
    m = Machine(toml.loads(GOOD))
    assert m.kernel.max_pfn == (0x100000 + (1 << 30)) >> 12


def test_every_preset_loads_and_boots():
    assert {"default", "seed-x86-32", "seed-arm64-numa", "seed-x86-interleaved"} <= set(presets.names())
    for name in presets.names():
        assert Machine(preset=name).kernel.vm_total_pages > 0


def test_default_machine_is_as_promised():
    m = Machine()
    lay = m.layout()
    ram = sum(r.size for r in m.kernel.memblock.memory.regions)
    assert lay["arch"] == "x86_64" and lay["kernel"] == "6.18" and len(lay["nodes"]) == 2
    assert 15 << 30 < ram <= 16 << 30 and m.desc.nr_cpus == 4
    assert "transparent_hugepage=madvise" in m.desc.cmdline


@pytest.mark.parametrize("text, where", [
    ("arch = 'sparc'\ne820 = [{start=0, size=4096}]", "unknown architecture"),
    ("e820 = [{start=0x1000, end=0x10}]", "empty range"),
    ("e820 = [{start=0, size='12Q'}]", "cannot read"),
    ("e820 = [{start=0, size=4096, type='bogus'}]", "unknown type"),
    ("e820 = [{start=0}]", "needs 'start'"),
    ("colour = 'red'\ne820 = [{start=0, size=4096}]", "unknown key"),
    ("e820 = [{start=0, end=0x9ffff, type='reserved'}]", "no usable memory"),
    ("e820 = [{start=0, size='4G'}]\n[[node]]\nnid=0\nmemory=[{start=0,size='3G'}]\n"
     "[[node]]\nnid=1\nmemory=[{start='2G',size='2G'}]", "overlaps"),
    ("e820 = [", "invalid TOML"),
])
def test_toml_errors_name_the_problem(text, where):
    with pytest.raises(LinuxmmError, match=where):
        Machine(toml.loads(text, "bad.toml"))


def test_dmesg_parse_error_has_line_number(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("Linux version 6.1.0 (x) #1\nBIOS-provided physical RAM map:\n"
                   "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
                   "BIOS-e820: [mem 0x000000000009fc00-zzzz] reserved\n")
    with pytest.raises(ParseError) as e:
        dmesg.load(log)
    assert e.value.lineno == 4 and "x.log:4" in str(e.value)


def test_dmesg_not_a_boot_log(tmp_path):
    log = tmp_path / "y.log"
    log.write_text("hello\n")
    with pytest.raises(ParseError, match="Linux version"):
        dmesg.load(log)
    with pytest.raises(LinuxmmError, match="cannot read"):
        dmesg.load(tmp_path / "missing.log")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_dmesg_fuzz_never_crashes(text):
    try:
        Machine(dmesg.loads("Linux version 6.1.0 (x)\nBIOS-provided physical RAM map:\n" + text))
    except LinuxmmError:
        pass


REAL_LOGS = sorted((Path(__file__).parent / "data" / "dmesg").glob("*.log"))
BOOT_WORDS = ("e820", "SRAT", "NUMA", "node", "Node", "zone", "Zone", "memblock", "Memory", "Linux version",
              "mem=", "MTRR", "efi", "DMA", "Normal", "Movable", "On node", "Initmem")


@settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 60)), deadline=None)
@given(st.sampled_from(REAL_LOGS), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 10 ** 6),
                                                      st.sampled_from(["", "0", "f", "x", " ", "-", "]", "[",
                                                                       "0x", "ffffffffffffffff", "\n", "@"]),
                                                      st.integers(0, 8)), min_size=1, max_size=6))
def test_mutated_real_boot_logs_boot_or_fail_clearly(log, edits):
    """Real logs with random edits in the lines the boot reads (e820, SRAT, zones, memblock...)."""
    lines = log.read_text(errors="replace").splitlines()
    targets = [i for i, line in enumerate(lines) if any(w in line for w in BOOT_WORDS)]
    for which, where, new, drop in edits:
        i = targets[which % len(targets)]
        line = lines[i]
        at = where % (len(line) + 1)
        lines[i] = line[:at] + new.replace("\\n", "\n") + line[at + drop:]
    try:
        Machine(dmesg.loads("\n".join(lines), log.name)).kernel.mem_map
    except LinuxmmError as e:
        assert str(e)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_toml_fuzz_never_crashes(text):
    try:
        Machine(toml.loads(text))
    except LinuxmmError:
        pass


def test_kernel_parameters_warn_like_the_kernel():
    m = Machine(cmdline="mem=banana kernelcore=")
    log = m.dmesg()
    assert "Malformed early option 'mem'" in log and "Malformed early option 'kernelcore'" in log
    m = Machine(cmdline="movablecore=150%")
    assert "above 100%" in m.dmesg() and m.kernel.zone_movable_pfn == {0: 0, 1: 0}


def test_mem_limits_ram():
    m = Machine(cmdline="mem=4G")
    assert "e820: remove [mem 0x100000000-0xfffffffffffffffe] usable" in m.dmesg()
    assert "user-defined physical RAM map:" in m.dmesg()
    assert m.kernel.max_pfn == 0xBFFE0


@pytest.mark.skipif(platform.system() != "Linux" or not Path("/sys/firmware/memmap").is_dir(),
                    reason="needs a Linux x86 host with /sys/firmware/memmap")
def test_this_host_matches_its_own_dmesg():
    """`linuxmm boot --host` against the running kernel's own boot lines (when dmesg is readable)."""
    import subprocess
    m = Machine.from_host()
    try:
        real = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("dmesg not available")
    real_lines = dmesg.boot_lines(real)
    if not real_lines:
        pytest.skip("kernel log not readable here")
    sim = dmesg.boot_lines(m.dmesg())
    # PVM guest quirk: an extra first last_pfn before kvm-clock (kernel-reference §0)
    extra = [ln for ln in real_lines if ln.startswith("last_pfn")][:1]
    if real_lines.count(extra[0]) > sim.count(extra[0]):
        real_lines.remove(extra[0])
    assert sim == real_lines
