"""Page flags, page types, migratetypes and LRU lists (include/linux/page_flags.py,
include/linux/mmzone.py) against the enums of this host's Linux 6.18, read from its BTF
(tests/probe/btf_enums.py -> tests/data/host-linux-6.18/enums.txt)."""

import re

from conftest import HOST_SNAP
from linuxmm.include.linux import mmzone, page_flags


def host_enums() -> dict[str, dict[str, int]]:
    enums: dict[str, dict[str, int]] = {}
    for line in (HOST_SNAP / "enums.txt").read_text().splitlines():
        if line.startswith("enum "):
            current = enums.setdefault(line.split()[1], {})
        else:
            name, value = re.fullmatch(r"\s+(\w+) = (-?\d+)", line).groups()
            current[name] = int(value)
    return enums


def ours(module, prefix: str) -> dict[str, int]:
    return {n: v for n, v in vars(module).items() if n.startswith(prefix) and isinstance(v, int)}


def test_page_flag_bits_are_the_kernels():
    host = host_enums()["pageflags"]
    mine = ours(page_flags, "PG_")
    assert mine and all(host[n] == v for n, v in mine.items()), {n: (v, host.get(n)) for n, v in mine.items()}
    # every bit of the enum proper (not only the aliases) is there, in the kernel's order
    bits = {n: v for n, v in host.items() if v < host["__NR_PAGEFLAGS"] and n.startswith("PG_")}
    assert set(bits) - set(mine) <= {"PG_pinned", "PG_savepinned", "PG_foreign", "PG_xen_remapped",
                                     "PG_vmemmap_self_hosted", "PG_movable_ops", "PG_movable_ops_isolated"}
    assert page_flags.NR_PAGEFLAGS == host["__NR_PAGEFLAGS"]
    for name in ("head", "lru", "reserved", "swapbacked", "anon_exclusive"):
        assert getattr(page_flags, f"PG_{name}_mask") == 1 << host[f"PG_{name}"]


def test_page_types_migratetypes_and_lru_lists_are_the_kernels():
    host = host_enums()
    assert ours(page_flags, "PGTY_") == host["pagetype"]
    assert ours(mmzone, "MIGRATE_") == {n: v for n, v in host["migratetype"].items() if not n.startswith("__")}
    lru_list = {n: v for n, v in ours(mmzone, "LRU_").items() if not n.startswith("LRU_GEN_")}  # MGLRU's enums
    assert {**lru_list, "NR_LRU_LISTS": mmzone.NR_LRU_LISTS} == host["lru_list"]
