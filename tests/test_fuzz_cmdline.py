"""Bad input on the kernel command line (``kernel/params.py``, ``mm/params.py``, x86 ``mem=``/``memmap=``).

``memparse`` reads numbers as the kernel's ``simple_strtoull`` (base 0: ``0x`` hex, a leading
``0`` octal) in ``unsigned long long``; random and mutated command lines on every preset boot or
end in the project's own error (``Malformed early option`` warnings, a ``ConfigError`` when no
RAM is left), never an unhandled exception. The existing warnings for ``mem=banana``,
``kernelcore=`` and ``movablecore=150%`` are in test_sources.py.
"""

import os

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import small_machine
from linuxmm import ConfigError, LinuxmmError, Machine, presets
from linuxmm.kernel.params import memparse, parse_cmdline


@pytest.mark.parametrize("text, value, rest", [
    ("4G", 4 << 30, ""),
    ("010", 8, ""),            # octal, as simple_strtoull reads it
    ("017M@1", 15 << 20, "@1"),
    ("08", 0, "8"),            # '8' is no octal digit
    ("0x", 0, "x"),            # no hex digit: the 0 is octal
    ("0x1fk", 0x1F << 10, ""),
    ("16E", 0, ""),            # 2^64 wraps to 0 in unsigned long long
    ("15E", 15 << 60, ""),
    ("18446744073709551617", 1, ""),
    ("banana", 0, "banana"),
    ("", 0, ""),
])
def test_memparse_reads_like_the_kernel(text, value, rest):
    assert memparse(text) == (value, rest)


def test_octal_and_overflowing_values_boot():
    m = small_machine("mem=0400M kernelcore=010% movablecore=01G")
    assert m.kernel.max_pfn == (256 << 20) >> 12  # 0400M is 256 MiB
    assert "Malformed early option 'mem'" in small_machine("mem=16E").dmesg()  # wraps to 0


def test_ram_beyond_max_physmem_bits_is_cut_off():
    """memmap=1E@0 once walked 2^33 sections (24 GiB of host memory before the OOM killer)."""
    m = small_machine("memmap=1E@0")
    assert m.kernel.max_pfn == 1 << (46 - 12)  # 64 TiB: x86-64 MAX_PHYSMEM_BITS
    warn = "mminit_validate_memmodel_limits: range 0x100-0x1000000000000 exceeds SPARSEMEM max 0x400000000"
    assert m.dmesg().count(warn) == 1  # pfns


def test_no_page_left_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"no memory left for the page allocator .*'mem=8K'"):
        Machine(preset="seed-x86-32", cmdline="mem=8K")  # RAM left, all of it reserved


NAMES = ["mem", "memmap", "kernelcore", "movablecore", "movable_node", "transparent_hugepage", "numa",
         "hugepages", "hugepagesz", "highmem", "vmalloc", "disable_mtrr_trim", "--"]
SIZES = st.one_of(st.integers(0, 1 << 70).map(str), st.integers(0, 1 << 66).map(hex),
                  st.integers(0, 1 << 40).map(lambda n: "0" + oct(n)[2:]),
                  st.sampled_from(["", "0", "-1", "0x", "08", "00", "%", "101%", "100%", "0%", "99999999999999999999%"]))
SUFFIXES = st.sampled_from(["", "", "K", "M", "G", "T", "P", "E", "k", "g", "e", "%", "Q", "x"])
VALUES = st.one_of(
    st.builds(lambda n, s: n + s, SIZES, SUFFIXES),
    st.builds(lambda n, s, c, a: n + s + c + a, SIZES, SUFFIXES, st.sampled_from("@#$!%"), SIZES),
    st.sampled_from(["exactmap", "exactmap,640K@0,64M@1M", "1M@1M,exactmap", "mirror", "off", "fake=4",
                     "always", "madvise", "never", "noacpi", '"x y"', '"', ",", ",,", "=", "a=b=c"]),
    st.text(max_size=12),
)
TOKENS = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(NAMES), VALUES),
    st.sampled_from(NAMES),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=16),
)


def boot(preset: str, cmdline: str) -> None:
    try:
        m = Machine(preset=preset, cmdline=cmdline)
    except LinuxmmError:
        return
    assert m.kernel.vm_total_pages > 0


@settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 300)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(presets.names()), st.lists(TOKENS, max_size=6))
def test_random_command_lines_boot_or_fail_clearly(preset, tokens):
    cmdline = " ".join(tokens)
    parse_cmdline(cmdline)
    boot(preset, cmdline)


GOOD = "mem=4G memmap=64M$0x10000000 kernelcore=25% movablecore=1G transparent_hugepage=madvise numa=off"


@settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 200)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(presets.names()), st.lists(st.tuples(st.integers(0, len(GOOD)), st.integers(0, 4),
                                                            st.text(max_size=3)), max_size=4))
def test_mutated_command_lines_boot_or_fail_clearly(preset, edits):
    """A valid command line with characters deleted, replaced and inserted at random places."""
    cmdline = GOOD
    for at, cut, insert in edits:
        cmdline = cmdline[:at] + insert + cmdline[at + cut:]
    boot(preset, cmdline)
