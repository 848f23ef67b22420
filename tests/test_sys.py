"""``kernel/sys.c``: getrlimit/setrlimit and the memory prctls (PR_SET_THP_DISABLE, PR_SET_MDWE,
PR_SET_VMA_ANON_NAME), and ``process_madvise`` (``mm/madvise.c``), Linux 6.18."""

import errno

from conftest import SMALL, small_machine
from linuxmm import KernelError, Machine
from linuxmm.sources import toml
from linuxmm.kernel.sys import RLIM_INFINITY

P = 4096
THP = 2 << 20


def err(call, *args, **kwargs) -> int:
    try:
        call(*args, **kwargs)
    except KernelError as e:
        return e.errno
    return 0


def test_rlimits():
    p = small_machine().spawn()
    assert p.getrlimit("RLIMIT_MEMLOCK") == (8 << 20, 8 << 20)
    assert p.getrlimit("memlock") == p.getrlimit(8)
    assert p.getrlimit("RLIMIT_AS") == (RLIM_INFINITY, RLIM_INFINITY)
    c = p.fork()
    p.setrlimit("RLIMIT_MEMLOCK", P, 2 * P)
    assert p.getrlimit("RLIMIT_MEMLOCK") == (P, 2 * P) and c.getrlimit("RLIMIT_MEMLOCK") == (8 << 20, 8 << 20)
    assert err(p.setrlimit, "RLIMIT_MEMLOCK", 3 * P, 2 * P) == errno.EINVAL  # soft above hard
    assert err(p.setrlimit, "RLIMIT_MEMLOCK", P, 4 * P) == errno.EPERM  # raising the hard limit
    assert err(p.getrlimit, "RLIMIT_BOGUS") == errno.EINVAL
    a = p.mmap(4 * P)
    assert err(p.mlock, a, 2 * P) == errno.ENOMEM  # beyond the new limit
    p.mlock(a, P)
    assert p.proc("status").count("VmLck:\t       4 kB")


def _thp(p) -> bool:
    raw = p.mmap(2 * THP)
    a = (raw + THP - 1) & ~(THP - 1)
    p.madvise(a, THP, "hugepage")
    p.write(a, 1)
    huge = p.walk(a).page_size == THP
    p.munmap(raw, 2 * THP)
    return huge


def test_prctl_thp_disable():
    p = small_machine().spawn()
    p.machine.sysfs("kernel/mm/transparent_hugepage/enabled", "madvise")
    assert p.prctl("PR_GET_THP_DISABLE") == 0 and _thp(p)
    p.prctl("PR_SET_THP_DISABLE", 1)
    assert p.prctl("PR_GET_THP_DISABLE") == 1 and not _thp(p)
    c = p.fork()  # inherited
    assert c.prctl("PR_GET_THP_DISABLE") == 1 and not _thp(c)
    p.prctl("PR_SET_THP_DISABLE", 1, 2)  # PR_THP_DISABLE_EXCEPT_ADVISED: MADV_HUGEPAGE still works
    assert p.prctl("PR_GET_THP_DISABLE") == 3 and _thp(p)
    p.prctl("PR_SET_THP_DISABLE", 0)
    assert p.prctl("PR_GET_THP_DISABLE") == 0
    assert err(p.prctl, "PR_SET_THP_DISABLE", 0, 2) == errno.EINVAL  # flags only when disabling
    assert err(p.prctl, "PR_GET_THP_DISABLE", 1) == errno.EINVAL
    assert err(p.prctl, 12345) == errno.EINVAL


def test_prctl_mdwe():
    m = small_machine()
    p = m.spawn()
    x = p.mmap(P, prot="r-x")
    w = p.mmap(P, prot="rw")
    assert err(p.prctl, "PR_SET_MDWE", 2) == errno.EINVAL  # NO_INHERIT alone
    p.prctl("PR_SET_MDWE", 1)
    assert p.prctl("PR_GET_MDWE") == 1
    assert err(p.prctl, "PR_SET_MDWE", 0) == errno.EPERM  # cannot be undone
    assert err(p.mmap, P, prot="rwx") == errno.EACCES
    assert err(p.mprotect, w, P, "rx") == errno.EACCES  # gaining execute
    p.mprotect(x, P, "rx")  # it stays executable
    p.mprotect(x, P, "r")
    assert err(p.mprotect, x, P, "rx") == errno.EACCES  # and once it is not, it cannot become so again
    assert p.fork().prctl("PR_GET_MDWE") == 1
    q = m.spawn()
    q.prctl("PR_SET_MDWE", 3)
    assert q.fork().prctl("PR_GET_MDWE") == 0  # PR_MDWE_NO_INHERIT


def _named(p, addr, length, name) -> int:
    return err(p.prctl, "PR_SET_VMA", 0, addr, length, name)


def _names(p, lo: int, hi: int) -> list[tuple[int, int, str | None]]:
    """(first page, end page, maps name) of the VMAs in [lo, hi)."""
    return [((v.start - lo) // P, (v.end - lo) // P, v.path) for v in p.maps() if lo <= v.start < hi]


def test_prctl_set_vma_anon_name():
    m = Machine(toml.loads(SMALL + "[config]\nanon_vma_name = true\n"))
    p = m.spawn()
    a = p.mmap(8 * P)
    assert _named(p, a + P, 2 * P, "buf") == 0 and _named(p, a + 5 * P, P, "buf") == 0
    assert _names(p, a, a + 8 * P) == [(0, 1, None), (1, 3, "[anon:buf]"), (3, 5, None), (5, 6, "[anon:buf]"),
                                       (6, 8, None)]
    assert "[anon:buf]" in p.proc("maps") and "[anon:buf]" in p.proc("smaps")
    assert _named(p, a + 3 * P, P, "other") == 0  # another name: no merge with its neighbour
    assert _names(p, a, a + 5 * P)[1:] == [(1, 3, "[anon:buf]"), (3, 4, "[anon:other]"), (4, 5, None)]
    assert _named(p, a + 3 * P, 2 * P, "buf") == 0  # the same name: one VMA again
    assert _names(p, a, a + 8 * P)[1] == (1, 6, "[anon:buf]")
    c = p.fork()  # the child's VMAs keep their names
    assert _names(c, a, a + 8 * P) == _names(p, a, a + 8 * P)
    assert _named(p, a, 8 * P, None) == 0  # NULL: unnamed, and merged back
    assert _names(p, a, a + 8 * P) == [(0, 8, None)]
    s = p.mmap(P, flags="shared|anonymous")
    assert _named(p, s, P, "sh") == 0 and _names(p, s, s + P) == [(0, 1, "[anon_shmem:sh]")]
    assert _named(p, a, P, "x" * 79) == 0
    assert [_named(p, a, P, n) for n in ("x" * 80, "a[b", "a]", "a$", "a`", "a\\", "a\tb", "\x7f", "\u00e9")] == \
        [errno.EINVAL] * 9
    assert _named(p, a + 1, P, "x") == errno.EINVAL  # unaligned
    assert _named(p, a, -P, "x") == errno.EINVAL  # wraps
    assert _named(p, a, 9 * P, "x") == errno.ENOMEM  # a hole at the end
    assert _named(p, a, P, 1.5) == errno.EFAULT  # not a string pointer
    assert err(p.prctl, "PR_SET_VMA", 1, a, P, "x") == errno.EINVAL  # no such operation
    fd = p.memfd_create("f")
    p.ftruncate(fd, P)
    assert _named(p, p.mmap(P, fd=fd, flags="shared"), P, "x") == errno.EBADF  # a file: not anonymous
    assert _named(small_machine().spawn(), a, P, "x") == errno.EINVAL  # no CONFIG_ANON_VMA_NAME


def test_process_madvise():
    m = small_machine()
    p, other = m.spawn(), m.spawn()
    a = p.mmap(8 * P)
    p.write(a, 8 * P)
    assert p.process_madvise(p, [(a, P), (a + 4 * P, 2 * P)], "dontneed") == 3 * P
    assert [p.walk(a + i * P).phys is None for i in (0, 1, 4, 5, 6)] == [True, False, True, True, False]
    assert p.process_madvise(p, [(a, P), (1 << 46, P)], "dontneed") == P  # stops at the hole
    assert err(p.process_madvise, p, [(1 << 46, P)], "dontneed") == errno.ENOMEM
    assert err(p.process_madvise, p, [(a, P)], "dontneed", 1) == errno.EINVAL
    assert err(p.process_madvise, p, [(a, P)] * 1025, "dontneed") == errno.EINVAL
    assert err(other.process_madvise, p, [(a, P)], "dontneed") == errno.EINVAL  # destructive, remote
    assert err(other.process_madvise, p, [(a, P)], "cold") == errno.EPERM  # no CAP_SYS_NICE
