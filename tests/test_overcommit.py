"""Overcommit (``mm/util.py``: ``__vm_enough_memory``) through mmap, brk, fork, mremap,
mprotect, with CommitLimit and Committed_AS read from /proc/meminfo as a user would.

Strict mode (2) refuses the exact request that would reach CommitLimit less the reserves; the
heuristic (0) only a single request above RAM + swap, as this host's kernel does
(``tests/data/host-linux-6.18/overcommit_probe.json``); mode 1 never refuses.
"""

import errno
import json

import pytest

from conftest import HOST_SNAP, small_machine
from linuxmm import debug
from linuxmm.errors import KernelError

PAGE = 4096
MB = 1 << 20


def meminfo(m, key: str) -> int:
    """A /proc/meminfo value in pages."""
    line = next(x for x in m.proc("meminfo").splitlines() if x.startswith(key + ":"))
    return int(line.split()[1]) // 4


def strict(m):
    m.sysctl("vm.overcommit_memory", 2)
    return m


def allowed(m, total_vm: int = 0) -> int:
    """Strict mode's limit for an unprivileged task, from what /proc shows."""
    admin = int(m.sysctl("vm.admin_reserve_kbytes")) // 4
    user = int(m.sysctl("vm.user_reserve_kbytes")) // 4
    return meminfo(m, "CommitLimit") - admin - min(total_vm // 32, user)


def enomem(fn, *args, **kw) -> None:
    with pytest.raises(KernelError) as e:
        fn(*args, **kw)
    assert e.value.errno == 12


def test_strict_mode_fails_exactly_at_the_limit():
    """The largest mapping admitted is the one that keeps Committed_AS below the limit."""
    m = strict(small_machine())
    p = m.spawn(comm="strict")
    room = allowed(m) - meminfo(m, "Committed_AS") - 1
    enomem(p.mmap, (room + 1) * PAGE)
    assert (f"__vm_enough_memory: pid: {p.pid}, comm: strict, bytes: {(room + 1) * PAGE} not enough memory "
            "for the allocation") in m.dmesg()
    committed = meminfo(m, "Committed_AS")
    a = p.mmap(room * PAGE)
    assert meminfo(m, "Committed_AS") == committed + room
    # now total_vm/32 of this mm is held back too: nothing more fits, even one page
    enomem(p.mmap, PAGE)
    p.munmap(a, room * PAGE)
    assert meminfo(m, "Committed_AS") == committed


def test_strict_mode_limits_from_ratio_and_kbytes():
    m = strict(small_machine())
    ram = meminfo(m, "MemTotal")
    assert meminfo(m, "CommitLimit") == ram * 50 // 100
    m.sysctl("vm.overcommit_kbytes", 100 * 1024)
    assert meminfo(m, "CommitLimit") == 25600 and m.sysctl("vm.overcommit_ratio") == "0\n"
    p = m.spawn()
    enomem(p.mmap, 100 * MB)
    m.sysctl("vm.overcommit_ratio", 200)  # ratio wins back: kbytes is 0 again
    assert meminfo(m, "CommitLimit") == ram * 2
    p.mmap(300 * MB)


def test_strict_mode_every_path():
    """brk, fork, mremap growth, mprotect making private memory writable, MAP_NORESERVE
    (ignored in mode 2): each fails with ENOMEM where the charge would pass the limit, and
    nothing stays charged after a failure."""
    m = strict(small_machine())
    p = m.spawn()
    room = allowed(m) - meminfo(m, "Committed_AS") - 1
    big = room // 2 + 64
    a = p.mmap(big * PAGE)
    committed = meminfo(m, "Committed_AS")
    enomem(p.mmap, big * PAGE, flags="private|anonymous|noreserve")  # NORESERVE does not help
    enomem(p.fork)  # the child's copy of `a` would be charged again
    enomem(p.mremap, a, big * PAGE, 2 * big * PAGE, maymove=True)
    ro = p.mmap(big * PAGE, prot="r")  # read-only private memory is not charged...
    assert meminfo(m, "Committed_AS") == committed
    enomem(p.mprotect, ro, big * PAGE, "rw")  # ...until it becomes writable
    brk = p.brk()
    assert p.brk(brk + big * PAGE) == brk  # brk reports failure by not moving
    assert meminfo(m, "Committed_AS") == committed and len(m.processes()) == 1
    p.munmap(a, big * PAGE)
    c = p.fork()  # nothing of p is charged now: the child costs nothing either
    assert meminfo(m, "Committed_AS") == committed - big
    p.mprotect(ro, big * PAGE, "rw")
    assert meminfo(m, "Committed_AS") == committed
    c.exit()
    p.exit()
    assert meminfo(m, "Committed_AS") == 0 and debug.check(m) == []


def test_admin_is_spared_the_admin_reserve():
    m = strict(small_machine())
    p = m.spawn()
    p.task.mm.capabilities = frozenset({"CAP_SYS_ADMIN"})
    room = allowed(m) + int(m.sysctl("vm.admin_reserve_kbytes")) // 4 - meminfo(m, "Committed_AS") - 1
    enomem(p.mmap, (room + 1) * PAGE)
    p.mmap(room * PAGE)


def test_heuristic_mode_refuses_only_more_than_ram_and_swap():
    """Mode 0, as this host: RAM + swap pages are admitted, one page more is not, however much
    is committed already; MAP_NORESERVE skips the charge."""
    host = json.loads((HOST_SNAP / "overcommit_probe.json").read_text())
    assert host["overcommit_memory"] == 0 and host["errno_at_limit"] == 0 and host["errno_above_limit"] == 12
    assert host["committed_kb_after_1GiB"] - host["committed_kb_before"] == 1 << 20
    m = small_machine()
    p = m.spawn()
    limit = meminfo(m, "MemTotal") + meminfo(m, "SwapTotal")
    enomem(p.mmap, (limit + 1) * PAGE)
    a = p.mmap(limit * PAGE)
    b = p.mmap(limit * PAGE)  # twice RAM committed: the heuristic looks at one request only
    assert meminfo(m, "Committed_AS") == 2 * limit
    p.mmap(4 * limit * PAGE, flags="private|anonymous|noreserve")
    assert meminfo(m, "Committed_AS") == 2 * limit
    p.munmap(a, limit * PAGE)
    p.munmap(b, limit * PAGE)


def test_always_mode_never_refuses():
    m = small_machine()
    m.sysctl("vm.overcommit_memory", 1)
    p = m.spawn()
    p.mmap(1 << 40)  # 1 TiB on a 384 MiB machine
    assert meminfo(m, "Committed_AS") == (1 << 40) // PAGE
    assert "__vm_enough_memory" not in m.dmesg()


def test_reserves_at_boot():
    """init_user_reserve / init_admin_reserve: 1/32 of free memory, capped at 128 and 8 MiB."""
    m = small_machine()
    admin, user = int(m.sysctl("vm.admin_reserve_kbytes")), int(m.sysctl("vm.user_reserve_kbytes"))
    assert admin == 8192 and user == min(meminfo(m, "MemTotal") * 4 // 32, 131072)


def test_tmpfs_and_memfd_pages_are_committed_as_they_are_written():
    """A tmpfs file and a memfd are VM_NORESERVE: each page written is charged to Committed_AS
    (``shmem_acct_blocks``) and given back when the file goes. On this host 256 MiB written
    grow Committed_AS by 256 MiB (medians of 5 runs; other processes move it by a few %)."""
    host = json.loads((HOST_SNAP / "overcommit_probe.json").read_text())
    for kind, gone in (("tmpfs_256MiB", "tmpfs_unlink"), ("memfd_256MiB", "memfd_close")):
        assert abs(host[f"{kind}_committed_kb_delta"] - (256 << 10)) < (256 << 10) // 10
        assert abs(host[f"{gone}_committed_kb_delta"] + (256 << 10)) < (256 << 10) // 10
    m = small_machine()
    p = m.spawn()
    for fd, path in ((p.open("/dev/shm/f", "w", create=True), "/dev/shm/f"), (p.memfd_create("f"), None)):
        before = meminfo(m, "Committed_AS")
        p.pwrite(fd, 64 * MB)
        assert meminfo(m, "Committed_AS") - before == 64 * MB // PAGE
        p.close(fd)
        if path:
            m.unlink(path)
        assert meminfo(m, "Committed_AS") == before
    assert debug.check(m) == []


def test_strict_mode_refuses_tmpfs_pages_past_the_limit_with_enospc():
    """``shmem_inode_acct_blocks`` reports a refused charge as ENOSPC (a fault: SIGBUS)."""
    m = strict(small_machine())
    p = m.spawn()
    fd = p.open("/dev/shm/f", "w", create=True)
    room = allowed(m) - meminfo(m, "Committed_AS") - 1
    p.pwrite(fd, room * PAGE)
    with pytest.raises(KernelError) as e:
        p.pwrite(fd, PAGE)
    assert e.value.errno == errno.ENOSPC
    p.close(fd)
    m.unlink("/dev/shm/f")
    assert meminfo(m, "Committed_AS") == 0 and debug.check(m) == []
