"""Bad input at the syscall-level Python API (``Machine.spawn``, ``Process.mmap`` and friends).

Random and adversarial arguments — negative, huge (>= 2**64), unaligned, zero, garbage
prot/flag/advice strings and numbers, wrong types — go to every call. Each outcome is a
result or the project's own error (``KernelError`` with an errno, ``SegmentationFault`` or
``BusError`` for a bad access, another ``LinuxmmError``), never a raw Python or numba
exception, and ``debug.check`` passes after every call.

Where the kernel defines the errno, ``KERNEL_ERRNOS`` states it; on a Linux 6.18 x86-64 host
the same calls run as raw syscalls in a subprocess (``test_mmap.RealBackend``) and must give
the same answers.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from conftest import host_is_618, small_machine
from linuxmm import KernelError, Killed, LinuxmmError, debug

P = 4096
ULONG = 1 << 64
TASK_SIZE = (1 << 47) - P
PRIVATE, SHARED = 0x22, 0x21  # MAP_PRIVATE|MAP_ANONYMOUS, MAP_SHARED|MAP_ANONYMOUS

# (syscall, arguments with B standing for a mapped 16-page private region, errno or None for 0 /
# an address). Observed on this host's Linux 6.18 with the raw syscalls (test below).
B = "B"
KERNEL_ERRNOS = [
    ("mmap", (0, 0, 3, PRIVATE, 0), "EINVAL"),               # length 0
    ("mmap", (0, ULONG - 1, 3, PRIVATE, 0), "ENOMEM"),       # PAGE_ALIGN wraps to 0
    ("mmap", (0, P, 3, PRIVATE, 5), "EINVAL"),               # unaligned offset
    ("mmap", ((B, 1), P, 3, PRIVATE | 0x10, 0), "EINVAL"),   # MAP_FIXED at an unaligned address
    ("mmap", (0, P, 0x1000, PRIVATE, 0), None),              # unknown prot bits: mmap ignores them
    ("mmap", (0, P, 3, 0x23, 0), "EINVAL"),                  # MAP_SHARED|MAP_PRIVATE is no type
    ("mmap", (0, P, 3, 0x20, 0), "EINVAL"),                  # no mapping type
    ("munmap", ((B, 1), P), "EINVAL"),
    ("munmap", ((B, 0), 0), "EINVAL"),
    ("munmap", (1 << 47, P), "EINVAL"),                      # beyond TASK_SIZE
    ("munmap", ((B, 0), ULONG - P), "EINVAL"),
    ("mprotect", ((B, 1), P, 1), "EINVAL"),
    ("mprotect", ((B, 0), P, 0x100), "EINVAL"),              # unknown prot bit
    ("mprotect", ((B, 0), 0, 1), None),
    ("mprotect", (1 << 46, P, 1), "ENOMEM"),                 # not mapped
    ("mprotect", ((B, 0), ULONG - P, 1), "ENOMEM"),
    ("madvise", ((B, 0), P, 12345), "EINVAL"),               # unknown advice
    ("madvise", ((B, 0), P, -1), "EINVAL"),
    ("madvise", ((B, 1), P, 4), "EINVAL"),                   # unaligned MADV_DONTNEED
    ("madvise", ((B, 0), 0, 4), None),
    ("madvise", (1 << 46, P, 4), "ENOMEM"),
    ("madvise", ((B, 0), ULONG - P, 4), "EINVAL"),           # the range wraps
    ("madvise", ((B, 0), 16 * P, 25), "EINVAL"),             # MADV_COLLAPSE: no PMD range fits the VMA
    ("mremap", ((B, 0), P, 0, 1, 0), "EINVAL"),              # new length 0
    ("mremap", ((B, 1), P, 2 * P, 1, 0), "EINVAL"),
    ("mremap", (1 << 46, P, 2 * P, 1, 0), "EFAULT"),         # not mapped
    ("mremap", ((B, 0), P, ULONG - P, 1, 0), "EINVAL"),      # beyond TASK_SIZE
    ("mremap", ((B, 0), P, P, 3, (B, 1)), "EINVAL"),         # unaligned new address
    ("mlock", (1 << 46, P), "ENOMEM"),                       # not mapped
    ("mlock2", ((B, 0), P, 2), "EINVAL"),                    # unknown flag
    ("munlock", (1 << 46, P), "ENOMEM"),
    ("munlock", ((B, 1), 0), None),                          # mlock rounds: no alignment needed
    ("mlockall", (0,), "EINVAL"),
    ("mlockall", (4,), "EINVAL"),                            # MCL_ONFAULT alone
    ("mlockall", (8,), "EINVAL"),
    ("mseal", ((B, 1), P, 0), "EINVAL"),                     # unaligned start
    ("mseal", ((B, 0), P, 1), "EINVAL"),                     # flags
    ("mseal", ((B, 0), ULONG - P, 0), "EINVAL"),             # the range wraps
    ("mseal", (1 << 46, P, 0), "ENOMEM"),                    # not mapped
    ("mseal", ((B, 0), 0, 0), None),
    ("prctl", (41, 0, 2, 0, 0), "EINVAL"),                   # PR_SET_THP_DISABLE: flags when enabling
    ("prctl", (41, 1, 4, 0, 0), "EINVAL"),                   # unknown flag
    ("prctl", (42, 1, 0, 0, 0), "EINVAL"),                   # PR_GET_THP_DISABLE takes no argument
    ("prctl", (65, 2, 0, 0, 0), "EINVAL"),                   # PR_MDWE_NO_INHERIT alone
    ("prctl", (65, 8, 0, 0, 0), "EINVAL"),
    ("prctl", (66, 1, 0, 0, 0), "EINVAL"),                   # PR_GET_MDWE takes no argument
    ("prctl", (0x53564D41, 0, (B, 0), P, 0), "EINVAL"),      # PR_SET_VMA_ANON_NAME without CONFIG_ANON_VMA_NAME
    ("prctl", (0x53564D41, 1, (B, 0), P, 0), "EINVAL"),      # no such PR_SET_VMA operation
]
NR = {"mlock": 149, "munlock": 150, "mlockall": 151, "prctl": 157, "mlock2": 325, "mseal": 462}


def resolve(args, base):
    return [base + a[1] if isinstance(a, tuple) else a for a in args]


def real_errnos() -> list:
    """Entry point of the subprocess: KERNEL_ERRNOS' calls as raw syscalls of this process."""
    from test_mmap import RealBackend

    be = RealBackend()
    be.NR = {**be.NR, **NR}
    base = be.mmap(0, 16 * P, "rw", "private|anonymous")
    out = []
    for name, args, _ in KERNEL_ERRNOS:
        args = resolve(args, base)
        if name == "mmap":
            args = args[:4] + [-1] + args[4:]  # fd
        res = be._sys(name, *args)
        out.append(res if isinstance(res, str) else None)
    print(json.dumps(out))


def sim_call(p, name, args):
    """The same call through the Process API: the errno name, or None for success."""
    try:
        if name == "mmap":
            addr, length, prot, flags, offset = args
            p.mmap(length, prot, flags, addr, offset)
        elif name == "mremap":
            addr, old, new, flags, new_addr = args
            p.mremap(addr, old, new, maymove=bool(flags & 1), fixed=new_addr if flags & 2 else None)
        elif name in ("mlock2", "mseal"):  # the flags the Process API does not take as a number
            from linuxmm.mm import mlock, mseal

            (mlock.sys_mlock2 if name == "mlock2" else mseal.do_mseal)(p.task.mm, *args)
        else:
            getattr(p, name)(*args)
    except KernelError as e:
        return errno.errorcode[e.errno]
    return None


def test_errnos_as_the_kernel_defines_them():
    m = small_machine()
    p = m.spawn()
    base = p.mmap(16 * P)
    got = [sim_call(p, name, resolve(args, base)) for name, args, _ in KERNEL_ERRNOS]
    assert got == [want for _, _, want in KERNEL_ERRNOS]
    assert debug.check(m) == []


@pytest.mark.skipif(not host_is_618(), reason="the oracle is a Linux 6.18 x86-64 kernel")
def test_errnos_match_this_kernel():
    code = "import test_fuzz_syscalls; test_fuzz_syscalls.real_errnos()"
    done = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [want for _, _, want in KERNEL_ERRNOS]


# ---- random and adversarial arguments -----------------------------------------------------------
EDGE_INTS = [0, 1, -1, P - 1, P, P + 1, -P, 1 << 47, TASK_SIZE, (1 << 63) - 1, 1 << 63, ULONG - P, ULONG - 1,
             ULONG, ULONG + P, -(1 << 63), -(1 << 64), 1 << 70]
WRONG_TYPES = [None, 1.5, 4096.0, float("nan"), float("inf"), "4096", "", b"\x00", True, [P], object()]
NAMES = ["rw", "r", "rwx", "none", "PROT_READ|PROT_WRITE", "private|anonymous", "shared|anonymous",
         "private|anonymous|fixed", "private|anonymous|populate", "maymove", "fixed|maymove", "dontneed",
         "free", "hugepage", "nohugepage", "willneed", "populate_write", "remove", "collapse", "guard_install",
         "private,anon", "bogus", "rwq", "dontneed|free", "MADV_", "|", "\x00", "hugepages"]


def near(region: int):
    """Addresses and lengths around the mapped region: aligned, off by one, inside, across."""
    return st.builds(lambda k, d: region + k * P + d, st.integers(-4, 20), st.sampled_from([0, 0, 1, -1, 64]))


def value(region: int):
    return st.one_of(near(region), st.sampled_from(EDGE_INTS), st.integers(-(1 << 70), 1 << 70),
                     st.sampled_from(WRONG_TYPES))


def token():
    return st.one_of(st.sampled_from(NAMES), st.integers(-(1 << 65), 1 << 65), st.text(max_size=12),
                     st.sampled_from(WRONG_TYPES))


def calls(region: int):
    v, t = value(region), token()
    return st.one_of(
        st.tuples(st.just("mmap"), v, t, t, v, v),
        st.tuples(st.just("munmap"), v, v),
        st.tuples(st.just("mprotect"), v, v, t),
        st.tuples(st.just("madvise"), v, v, t),
        st.tuples(st.just("mremap"), v, v, v, st.one_of(st.booleans(), st.sampled_from(WRONG_TYPES)),
                  st.one_of(st.none(), v)),
        st.tuples(st.just("brk"), v),
        st.tuples(st.just("write"), v, v, v, v),
        st.tuples(st.just("read"), v, v, v),
        st.tuples(st.just("walk"), v),
        st.tuples(st.just("pagemap_scan"), v, v, v),
        st.tuples(st.just("fork"), st.one_of(st.none(), st.text(max_size=20), st.sampled_from(WRONG_TYPES))),
        st.tuples(st.just("spawn"), v),
        st.tuples(st.just("open"), st.one_of(st.sampled_from(PATHS), st.text(max_size=8), st.sampled_from(WRONG_TYPES)),
                  st.one_of(st.sampled_from(["r", "w", "rw", "a", "x"]), t), st.booleans(), st.booleans()),
        st.tuples(st.just("close"), fd()),
        st.tuples(st.just("pread"), fd(), io(), st.one_of(st.none(), io()), st.one_of(st.none(), io())),
        st.tuples(st.just("pwrite"), fd(), io(), st.one_of(st.none(), io()), st.one_of(st.none(), io()),
                  st.one_of(st.integers(-2, 300), st.sampled_from(WRONG_TYPES))),
        st.tuples(st.just("fsync"), fd()),
        st.tuples(st.just("fdatasync"), fd()),
        st.tuples(st.just("ftruncate"), fd(), io()),
        st.tuples(st.just("fadvise"), fd(), io(), io(), st.one_of(st.sampled_from(FADVISE), t)),
        st.tuples(st.just("readahead"), fd(), io(), io()),
        st.tuples(st.just("fallocate"), fd(), io(), io(), st.one_of(st.sampled_from(FALLOC_MODES), t)),
        st.tuples(st.just("drop_caches"), st.sampled_from([1, 2, 3])),
    )


PATHS = ["/f", "/g", "/dev/shm/s", "/", "/dev/shm", "/nodir/f", "/f/x", "relative", "/" + "n" * 300]
FADVISE = ["normal", "random", "sequential", "willneed", "dontneed", "noreuse", 7, -1]
FALLOC_MODES = [0, "keep_size", "punch_hole|keep_size", "punch_hole", "zero_range", "collapse_range", 0x1000, -1,
                "keep_size|bogus"]


def fd():
    return st.one_of(st.integers(-1, 6), st.sampled_from(WRONG_TYPES + [1 << 40]))


def io():
    """Positions, counts and sizes for file calls: small, page-sized, around the limits."""
    return st.one_of(st.integers(-2, 3 * P), st.sampled_from([0, P, 2 * MAX_FILE_IO, 1 << 43, (1 << 44) - P, 1 << 63,
                                                               -(1 << 63), ULONG]), st.sampled_from(WRONG_TYPES))


# Long workloads, not bad input: more accesses than this over mapped memory, or prefaulting
# (MAP_POPULATE, MAP_LOCKED, MADV_POPULATE_*) more than this many bytes — a populated
# 512 GiB read-only mapping takes the simulator 14 s and 2 GiB of page tables to run out.
MAX_ACCESSES = 1 << 18
MAX_POPULATE = 1 << 24
MAP_LOCKED, MAP_POPULATE, MADV_POPULATE = 0x2000, 0x8000, (22, 23)
# File I/O of more than this (bytes written or read, or a file grown past it and then read
# ahead) is a long workload too: a sparse 8 TiB file read through is 2**31 page-cache pages.
MAX_FILE_IO = 1 << 22


def is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def too_long(p, addr, length, stride) -> bool:
    """An access of more than MAX_ACCESSES that would start in mapped memory."""
    if not all(is_int(x) for x in (addr, length, stride)) or stride <= 0 or length // stride <= MAX_ACCESSES:
        return False
    return any(v.vm_start <= addr % ULONG < v.vm_end for v in p.maps())


def prefaults(token, bits: int, numbers=()) -> bool:
    if is_int(token):
        return bool(token & bits) or token in numbers
    return isinstance(token, str) and ("populate" in token.lower() or "locked" in token.lower())


def too_big_to_populate(name, args) -> bool:
    if name not in ("mmap", "madvise"):
        return False
    length = args[0] if name == "mmap" else args[1]
    if not is_int(length) or length % ULONG <= MAX_POPULATE:
        return False
    return name == "mmap" and prefaults(args[2], MAP_POPULATE | MAP_LOCKED) or \
        name == "madvise" and prefaults(args[2], 0, MADV_POPULATE)


def too_much_file_io(p, name, args) -> bool:
    """A transfer, a file size or a range to read ahead above MAX_FILE_IO."""
    big = [a for a in args[1:3] if is_int(a) and MAX_FILE_IO < a < 1 << 62]
    if name in ("pread", "pwrite", "readahead") and big:
        return True
    if name == "fadvise" and args[3] == "willneed" or name == "readahead":
        return any(f.f_inode.i_size > MAX_FILE_IO for f in p.task.files.fdt.values())
    if name == "fallocate" and is_int(args[1]) and is_int(args[2]) and args[1] + args[2] > MAX_FILE_IO:
        return args[1] + args[2] < 1 << 44 and args[1] >= 0 and args[2] > 0  # allocates that much
    return name == "ftruncate" and is_int(args[1]) and MAX_FILE_IO < args[1] < 1 << 44


def run(m, p, call):
    name, *args = call
    if name == "spawn":
        return m.spawn(cpu=args[0])
    if name == "drop_caches":
        return m.sysctl("vm.drop_caches", args[0])
    if name in ("write", "read") and too_long(p, *args[:3]) or too_big_to_populate(name, args) \
            or too_much_file_io(p, name, args):
        return None
    if name == "mmap":
        length, prot, flags, addr, offset = args
        return p.mmap(length, prot, flags, addr, offset)
    if name == "mremap":
        addr, old, new, maymove, fixed = args
        return p.mremap(addr, old, new, maymove=maymove, fixed=fixed)
    return getattr(p, name)(*args)


REGION = 0x7FFFF7EFF000  # where the 1 MiB mapping of a fresh process lands (checked below)


@settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 150)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(calls(REGION), min_size=1, max_size=12))
def test_bad_arguments_give_the_projects_errors(seq):
    m = small_machine()
    p = m.spawn()
    assert p.mmap(1 << 20) == REGION
    p.write(REGION, 1 << 20, value=1)
    assert p.open("/f", "rw", create=True) == 0 and p.open("/dev/shm/s", "rw", create=True) == 1
    for call in seq:
        if not p.alive:
            p = m.spawn()
        try:
            out = run(m, p, call)
        except LinuxmmError:
            pass
        else:
            if call[0] in ("fork", "spawn"):
                p = out
        assert debug.check(m) == [], call


# ---- the data oracle for files: what was written is what is read ---------------------------------
LINE = 64


def file_ops():
    pos = st.integers(0, 40 * P)
    n = st.integers(0, 12 * P)
    return st.lists(st.one_of(
        st.tuples(st.just("write"), pos, n, st.integers(0, 255), st.sampled_from([None, P, 3 * P, 100, 2 << 20])),
        st.tuples(st.just("read"), pos, n, st.sampled_from([None, P, 3 * P, 4096 + 64])),
        st.tuples(st.just("truncate"), st.integers(0, 44 * P)),
        st.tuples(st.just("punch"), pos, st.integers(1, 12 * P)),
        st.tuples(st.just("allocate"), pos, st.integers(1, 12 * P)),
        st.tuples(st.just("evict"), st.sampled_from(["drop_caches", "dontneed", "fsync", "reopen", "pressure"])),
    ), min_size=1, max_size=25)


class FileModel:
    """The file as the memory model keeps it: one byte per 64-byte line, the last write
    touching a line wins, truncation zeroes the lines wholly past the new size."""

    def __init__(self):
        self.lines, self.size = bytearray(), 0

    def write(self, pos, n, value):
        if n:
            first, last = pos // LINE, (pos + n - 1) // LINE
            self.lines.extend(bytes(max(0, last + 1 - len(self.lines))))
            self.lines[first:last + 1] = bytes([value]) * (last + 1 - first)
            self.size = max(self.size, pos + n)

    def read(self, pos, n):
        n = min(n, max(0, self.size - pos))
        if not n:
            return b""
        first, last = pos // LINE, (pos + n - 1) // LINE
        self.lines.extend(bytes(max(0, last + 1 - len(self.lines))))
        return bytes(self.lines[first:last + 1])

    def read_calls(self, pos, n, chunk):
        """What read() calls of ``chunk`` bytes return, one after another, up to a short one."""
        out, done = b"", 0
        while True:
            step = min(chunk, n - done)
            got = min(step, max(0, self.size - pos - done))
            out += self.read(pos + done, got)
            done += got
            if got < step or done >= n:
                return out

    def truncate(self, size):
        if size < self.size:
            keep = -(-size // LINE)
            self.lines[keep:] = bytes(max(0, len(self.lines) - keep))
        self.size = size

    def punch(self, pos, n):
        """A hole: the lines wholly inside it read as zeros; the size stays."""
        first, end = -(-pos // LINE), min((pos + n) // LINE, len(self.lines))
        if end > first:
            self.lines[first:end] = bytes(end - first)

    def allocate(self, pos, n):
        """fallocate mode 0: the file grows to the range's end, reading zeros there."""
        self.size = max(self.size, pos + n)


PRESSURE_MARGIN_KB = 4096  # below the small machine's low watermark: kswapd and direct reclaim evict the cache


def memory_pressure(m, margin_kb: int) -> None:
    """Another process writes anonymous memory until only ``margin_kb`` would be free (the
    small machine has no swap): reclaim takes clean page cache; then it exits (or the OOM
    killer ends it: it is the biggest process by far)."""
    free_kb = int(m.proc("meminfo").split("MemFree:")[1].split()[0])
    q = m.spawn("hog")
    size = max(free_kb - margin_kb, 0) << 10 & -P
    try:
        if size:
            q.write(q.mmap(size, "rw"), size)
        q.exit()
    except Killed:
        pass


@pytest.mark.parametrize("path", ["/oracle", "/dev/shm/oracle"])
@settings(max_examples=int(os.environ.get("LINUXMM_FUZZ_EXAMPLES", 150)) // 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=file_ops())
def test_file_data_oracle(path, ops):
    m = small_machine()
    p = m.spawn()
    fd = p.open(path, "rw", create=True)
    model = FileModel()
    for op, *args in ops:
        if op == "write":
            pos, n, value, chunk = args
            assert p.pwrite(fd, n, pos, chunk=chunk, value=value) == n
            model.write(pos, n, value)
        elif op == "read":
            pos, n, chunk = args
            assert p.pread(fd, n, pos, chunk=chunk) == model.read_calls(pos, n, chunk or max(n, 1)), (op, args)
        elif op == "truncate":
            p.ftruncate(fd, args[0])
            model.truncate(args[0])
        elif op == "punch":
            p.fallocate(fd, args[0], args[1], mode="punch_hole|keep_size")
            model.punch(*args)
        elif op == "allocate":
            p.fallocate(fd, args[0], args[1])
            model.allocate(*args)
        elif args[0] == "drop_caches":
            m.sysctl("vm.drop_caches", 1)
        elif args[0] == "dontneed":
            p.fadvise(fd, 0, 0, "dontneed")
        elif args[0] == "fsync":
            p.fsync(fd)
        elif args[0] == "pressure":
            memory_pressure(m, PRESSURE_MARGIN_KB)
        else:
            p.close(fd)
            fd = p.open(path, "rw")
    assert p.pread(fd, model.size, 0) == model.read(0, model.size)
    assert debug.check(m) == []
