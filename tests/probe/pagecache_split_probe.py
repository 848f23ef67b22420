"""Splitting of a large tmpfs folio by truncation and hole punching, on this host (root).

Mounts a 16 MiB tmpfs with huge=always on a new directory, writes 2 MiB to a file in one
write() (one PMD-size folio), then either ftruncate()s it to 300 pages + 100 bytes or
punches a hole of 100 pages at 100 pages + 64 bytes; prints, as one JSON object per
scenario, the pages still cached (mincore), the filesystem's used kB (statvfs), the
ShmemHugePages kB after, the page index where each folio starts (/proc/self/pagemap +
/proc/kpageflags of a shared mapping: a compound head or a page not compound) and the first
byte of lines 0 and 1 of the edge pages. Unmounts at the end.

    sudo python3 tests/probe/pagecache_split_probe.py > tests/data/host-linux-6.18/pagecache_split_probe.jsonl
"""

import ctypes
import json
import mmap
import os
import struct
import subprocess
import tempfile

PAGE = 4096
KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL = 1 << 15, 1 << 16
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


def meminfo(name: str) -> int:
    return next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith(name + ":"))


def layout(fd: int, npages: int, edges: list[int]) -> dict:
    size = os.fstat(fd).st_size
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    vec = (ctypes.c_ubyte * npages)()
    libc.mincore(base, -(-size // PAGE) * PAGE, ctypes.addressof(vec))
    cached = [i for i in range(-(-size // PAGE)) if vec[i] & 1]
    starts = []
    with open("/proc/self/pagemap", "rb", buffering=0) as pm, open("/proc/kpageflags", "rb", buffering=0) as kf:
        for i in cached:
            m[i * PAGE]  # map the cached page (a read fault: no allocation)
            pm.seek((base // PAGE + i) * 8)
            pfn = struct.unpack("Q", pm.read(8))[0] & ((1 << 55) - 1)
            kf.seek(pfn * 8)
            flags = struct.unpack("Q", kf.read(8))[0]
            if flags & KPF_COMPOUND_HEAD or not flags & KPF_COMPOUND_TAIL:
                starts.append(i)
    lines = {str(p): [m[p * PAGE], m[p * PAGE + 64]] for p in edges}
    del base
    m.close()
    return {"cached": len(cached), "folio_starts": starts, "edge_lines": lines}


def scenario(mnt: str, name: str, cut) -> dict:
    path = os.path.join(mnt, name)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, bytes([3]) * (2 << 20))
    edges = cut(fd)
    st = os.statvfs(mnt)
    out = {"scenario": name, "used_kb": (st.f_blocks - st.f_bfree) * st.f_frsize // 1024,
           "shmem_huge_kb": meminfo("ShmemHugePages")} | layout(fd, 512, edges)
    os.close(fd)
    os.unlink(path)
    return out


def truncate(fd: int) -> list[int]:
    os.ftruncate(fd, 300 * PAGE + 100)
    return [300]


def punch(fd: int) -> list[int]:
    assert libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100 * PAGE + 64, 100 * PAGE) == 0
    return [100, 200]


def main() -> None:
    mnt = tempfile.mkdtemp(prefix="pcsplit_")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "huge=always,size=16m", "tmpfs", mnt], check=True)
    try:
        for name, cut in (("truncate", truncate), ("punch_hole", punch)):
            print(json.dumps(scenario(mnt, name, cut)))
    finally:
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)


if __name__ == "__main__":
    main()
