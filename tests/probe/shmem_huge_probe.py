"""Large tmpfs folios without swap, on this host (root): what reclaim would meet.

Mounts a 16 MiB tmpfs with huge=always on a new directory and writes, each to a new file in
one write(), 2 MiB (a PMD-size folio wholly inside the file) and 1 MiB + 4 KiB (a PMD-size
folio reaching past EOF: the folio 6.18's ``shmem_writeout`` splits before swapping);
prints, as one JSON object per file, the ShmemHugePages and Shmem kB it added, the
thp_file_alloc events it counted, the filesystem's used kB (statvfs) and SwapTotal (this
host has no swap: the swap-out itself cannot be measured here). Unmounts at the end.

    sudo python3 tests/probe/shmem_huge_probe.py > tests/data/host-linux-6.18/shmem_huge_probe.jsonl
"""

import json
import os
import subprocess
import tempfile


def meminfo(name: str) -> int:
    return next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith(name + ":"))


def vmstat(name: str) -> int:
    return next(int(line.split()[1]) for line in open("/proc/vmstat") if line.split()[0] == name)


def scenario(mnt: str, name: str, size: int) -> dict:
    before = meminfo("ShmemHugePages"), meminfo("Shmem"), vmstat("thp_file_alloc")
    fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, bytes([3]) * size)
    os.close(fd)
    st = os.statvfs(mnt)
    return {"file": name, "bytes": size,
            "shmem_huge_kb": meminfo("ShmemHugePages") - before[0], "shmem_kb": meminfo("Shmem") - before[1],
            "thp_file_alloc": vmstat("thp_file_alloc") - before[2],
            "used_kb": (st.f_blocks - st.f_bfree) * st.f_frsize // 1024, "swap_total_kb": meminfo("SwapTotal")}


def main() -> None:
    mnt = tempfile.mkdtemp(prefix="shmem_huge_probe.")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "huge=always,size=16m", "none", mnt], check=True)
    try:
        print(json.dumps(scenario(mnt, "whole", 2 << 20)))
        print(json.dumps(scenario(mnt, "past_eof", (1 << 20) + 4096)))
    finally:
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)


if __name__ == "__main__":
    main()
