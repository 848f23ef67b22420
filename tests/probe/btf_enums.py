"""Print kernel enums (name = value) from this host's BTF (/sys/kernel/btf/vmlinux).

    python tests/probe/btf_enums.py pageflags pagetype lru_list migratetype

The running kernel's own type information: what its headers compiled to for its config.
Used to capture tests/data/host-linux-6.18/enums.txt.
"""

import struct
import sys

BTF = "/sys/kernel/btf/vmlinux"
# bytes that follow a type record, by BTF kind (include/uapi/linux/btf.h); vlen-sized ones per member
FIXED = {1: 4, 3: 12, 14: 4, 17: 4}  # INT, ARRAY, VAR, DECL_TAG
PER_MEMBER = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}  # STRUCT, UNION, ENUM, FUNC_PROTO, DATASEC, ENUM64
KIND_ENUM = 6


def enums(data: bytes):
    """Yield (enum name, [(enumerator, value)]) for every 32-bit enum."""
    _, _, _, hdr_len, type_off, type_len, str_off, _ = struct.unpack_from("<HBBIIIII", data, 0)
    strings = hdr_len + str_off

    def name(off: int) -> str:
        return data[strings + off:data.index(b"\0", strings + off)].decode()

    p, end = hdr_len + type_off, hdr_len + type_off + type_len
    while p < end:
        name_off, info, _ = struct.unpack_from("<III", data, p)
        p += 12
        vlen, kind = info & 0xFFFF, (info >> 24) & 0x1F
        if kind == KIND_ENUM:
            yield name(name_off), [(name(struct.unpack_from("<I", data, p + 8 * i)[0]),
                                    struct.unpack_from("<i", data, p + 8 * i + 4)[0]) for i in range(vlen)]
        p += FIXED.get(kind, 0) + PER_MEMBER.get(kind, 0) * vlen


if __name__ == "__main__":
    wanted = sys.argv[1:]
    found = {n: vals for n, vals in enums(open(BTF, "rb").read()) if n in wanted}
    for n in wanted:
        print(f"enum {n}")
        for e, v in found[n]:
            print(f"  {e} = {v}")
