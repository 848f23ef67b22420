"""Pipes and vmsplice (``fs/pipe.py``, ``fs/splice.py``).

The host oracle is ``tests/data/host-linux-6.18/pipe_probe.txt`` (``tests/probe/pipe_probe.c``
on this machine's 6.18): ``replay_probe`` takes the probe's steps on the simulator and prints
the same lines; its cow.c vmsplice lines are compared in ``tests/kselftest/test_cow.py``. The
probe's pipes are O_NONBLOCK where it waits for nothing: the simulator never waits.
"""

import errno

import pytest

from conftest import HOST_SNAP
from linuxmm import debug
from linuxmm.errors import KernelError
from linuxmm.kselftest.ksft import selftest_machine
from linuxmm.mm.buddy import compound_head

PAGE, THP = 4096, 2 << 20


def probe_lines() -> list[str]:
    """The probe's pipe and vmsplice lines (those before the cow.c cases)."""
    return [line for line in (HOST_SNAP / "pipe_probe.txt").read_text().splitlines() if " ... with " not in line]


def call(fn, *args, **kwargs) -> str:
    """A syscall's result as the probe prints it: the value, or -1 and the errno's name."""
    try:
        return str(fn(*args, **kwargs))
    except KernelError as e:
        return f"-1 {errno.errorcode[e.errno]}"


def nread(p, fd: int, n: int) -> str:
    """read(2)'s count: the bytes read (``pread`` returns a byte per 64-byte line)."""
    try:
        before = p.machine.kernel.tasks[p.pid].files.fdt[fd].f_inode.i_pipe
        queued = sum(before.buf(i).len for i in range(before.tail, before.head))
        p.pread(fd, n)
        after = sum(before.buf(i).len for i in range(before.tail, before.head))
        return str(queued - after)
    except KernelError as e:
        return f"-1 {errno.errorcode[e.errno]}"


def replay_probe(m) -> list[str]:
    p = m.spawn("pipe_probe")
    m.create_file("/tty", 0)
    for _ in range(3):  # stdin, stdout, stderr
        p.open("/tty")
    out = []
    r, w = p.pipe()
    out += [f"pipe fds {r} {w}", f"F_GETPIPE_SZ {p.fcntl(w, 'F_GETPIPE_SZ')}"]
    out.append(f"read empty with writer {nread(p, r, 10)}")
    for _ in range(16):
        p.pwrite(w, 100)
    out.append(f"write 65536 after 16x100 {call(p.pwrite, w, 65536)}")
    out.append(f"write 1 to full {call(p.pwrite, w, 1)}")
    out.append(f"read all {nread(p, r, 1 << 20)}")
    out.append(f"write 100000 to empty {call(p.pwrite, w, 100000)}")
    out.append(f"F_SETPIPE_SZ 4096 when full {call(p.fcntl, w, 'F_SETPIPE_SZ', 4096)}")
    out.append(f"read all {nread(p, r, 1 << 20)}")
    for arg, what in ((5000, "5000"), (0, "0"), ((1 << 31) + 1, "2^31+1")):
        out.append(f"F_SETPIPE_SZ {what} {call(p.fcntl, w, 'F_SETPIPE_SZ', arg)}")
    p.fcntl(w, "F_SETPIPE_SZ", 65536)
    out.append(f"write 100 {call(p.pwrite, w, 100)}")
    out.append(f"pread pipe {call(p.pread, r, 10, 0)}")
    out.append(f"pwrite pipe {call(p.pwrite, w, 10, 0)}")
    p.close(w)
    out.append(f"read after writer closed {nread(p, r, 1000)}")
    out.append(f"read empty without writer {nread(p, r, 1000)}")
    r2, w2 = p.pipe()
    p.close(r2)
    buf = p.mmap(PAGE)
    out.append(f"write without reader {call(p.pwrite, w2, 10)}")
    out.append(f"vmsplice without reader {call(p.vmsplice, w2, buf, 10)}")
    p.close(w2)
    m.create_file("/status", 0)
    f = p.open("/status")
    out.append(f"F_GETPIPE_SZ regular file {call(p.fcntl, f, 'F_GETPIPE_SZ')}")
    out.append(f"vmsplice regular file {call(p.vmsplice, f, buf, 10)}")
    p.close(f)
    return out + replay_vmsplice(p)


def replay_vmsplice(p) -> list[str]:
    mem = p.mmap(4 * THP)
    thp = (mem + THP) & ~(THP - 1)
    p.madvise(thp, THP, "hugepage")
    p.write(thp, THP, value=1)
    r, w = p.pipe()
    out = [f"vmsplice flags 0x10 {call(p.vmsplice, w, thp, THP, 0x10)}",
           f"vmsplice 2M THP {call(p.vmsplice, w, thp, THP)}",
           f"vmsplice to full nonblock {call(p.vmsplice, w, thp, THP, 'nonblock')}",
           f"read spliced {nread(p, r, 1 << 17)}",
           f"vmsplice 5000 at offset 100 {call(p.vmsplice, w, thp + 100, 5000)}",
           f"read spliced {nread(p, r, 1 << 17)}",
           f"vmsplice unmapped {call(p.vmsplice, w, PAGE, PAGE)}",
           f"vmsplice negative length {call(p.vmsplice, w, thp, -1)}",
           f"vmsplice above user space {call(p.vmsplice, w, 1 << 47, PAGE)}",
           f"vmsplice 0 bytes {call(p.vmsplice, w, thp, 0)}"]
    p.pwrite(w, 300, value=9)
    got = call(p.vmsplice, r, thp, 200)
    out.append(f"vmsplice read end {got} byte {p.read(thp + 199, 1)[0]}")
    out.append(f"vmsplice read end again {call(p.vmsplice, r, thp, 200)}")
    out.append(f"vmsplice read end empty nonblock {call(p.vmsplice, r, thp, 200, 'nonblock')}")
    return out


def test_pipe_and_vmsplice_as_on_the_host():
    """Every pipe and vmsplice line of the probe, from the simulator: capacity, merging small
    writes into one page (16 x 100 bytes leave 15 free slots), a full and an empty pipe,
    F_SETPIPE_SZ's rounding and errnos, ESPIPE, EPIPE, EBADF for a file, vmsplice's 16 pages
    of a THP, its errnos, and its copy out of the read end."""
    m = selftest_machine()
    assert replay_probe(m) == probe_lines()
    assert debug.check(m) == []


def refcount(p, addr: int) -> int:
    """The refcount of the folio mapped at ``addr``."""
    a = p.machine.kernel.mem_map
    return int(a.refcount[compound_head(a, p.walk(addr).phys >> 12)])


def test_vmsplice_takes_references_not_pins():
    """vmsplice holds one FOLL_GET reference per page (no pin: NR_FOLL_PIN_ACQUIRED stays,
    the page is no ``folio_maybe_dma_pinned``), until the pipe is read or closed."""
    m = selftest_machine()
    p = m.spawn()
    a = p.mmap(4 * PAGE)
    p.write(a, 4 * PAGE, value=3)
    before = [refcount(p, a + i * PAGE) for i in range(4)]
    r, w = p.pipe()
    assert p.vmsplice(w, a + 10, 2 * PAGE) == 2 * PAGE  # three pages: 4086 + 4096 + 10 bytes
    assert [refcount(p, a + i * PAGE) - b for i, b in enumerate(before)] == [1, 1, 1, 0]
    assert "nr_foll_pin_acquired 0" in m.proc("/proc/vmstat")
    assert debug.check(m) == []
    p.pread(r, PAGE)  # the first buffer (4086 bytes) and 10 bytes of the second
    assert [refcount(p, a + i * PAGE) - b for i, b in enumerate(before)] == [0, 1, 1, 0]
    p.close(r)
    p.close(w)
    assert [refcount(p, a + i * PAGE) for i in range(4)] == before
    assert debug.check(m) == []


def test_pipe_reads_the_page_at_read_time_after_munmap():
    """The data is not copied at vmsplice time: a store before the read shows, and the page
    outlives its munmap until the pipe lets go of it."""
    m = selftest_machine()
    p = m.spawn()
    a = p.mmap(PAGE)
    p.write(a, PAGE, stride=64, value=1)
    r, w = p.pipe()
    pfn, held = p.walk(a).phys >> 12, refcount(p, a)
    p.vmsplice(w, a, PAGE)
    p.write(a, PAGE, stride=64, value=2)  # exclusive and writable: written in place
    p.munmap(a, PAGE)
    assert m.kernel.mem_map.refcount[pfn] == held  # the pipe's reference instead of the pte's
    assert debug.check(m) == []
    assert p.pread(r, PAGE) == bytes([2]) * 64
    assert m.kernel.mem_map.refcount[pfn] == held - 1  # released with the buffer


def test_pipe_reference_makes_the_write_fault_copy():
    """After fork, the parent's vmsplice reference keeps the child's write from reusing the
    page (``wp_can_reuse_anon_folio`` counts references, not mappings): the child copies,
    and the pipe still reads the old data after the parent unmapped it."""
    m = selftest_machine()
    p = m.spawn()
    a = p.mmap(PAGE)
    p.write(a, PAGE, stride=64, value=1)
    r, w = p.pipe()
    child = p.fork()
    p.vmsplice(w, a, PAGE)
    p.munmap(a, PAGE)
    child.write(a, PAGE, stride=64, value=0xFF)
    assert p.pread(r, PAGE) == bytes([1]) * 64
    assert child.read(a, PAGE, stride=64) == bytes([0xFF]) * 64
    assert debug.check(m) == []


def test_exit_closes_the_pipe_and_drops_its_references():
    m = selftest_machine()
    p = m.spawn()
    a = p.mmap(THP * 2)
    t = (a + THP) & ~(THP - 1)
    p.madvise(t, THP, "hugepage")
    p.write(t, THP, value=5)
    r, w = p.pipe()
    child = p.fork()
    assert child.vmsplice(w, t, THP) == 16 * PAGE
    before = refcount(p, t)
    child.exit()
    assert refcount(p, t) == before - 1  # its PMD went; the parent's descriptors keep the pipe open
    p.exit()
    assert debug.check(m) == []
    assert m.kernel.pipe_mnt.s_inodes == {}


@pytest.mark.parametrize("flags, err", [("gift|bogus", errno.EINVAL), (1 << 4, errno.EINVAL)])
def test_vmsplice_bad_flags(flags, err):
    p = selftest_machine().spawn()
    r, w = p.pipe()
    with pytest.raises(KernelError) as e:
        p.vmsplice(w, p.mmap(PAGE), PAGE, flags)
    assert e.value.errno == err


def test_vmsplice_bad_descriptor():
    p = selftest_machine().spawn()
    with pytest.raises(KernelError) as e:
        p.vmsplice(7, p.mmap(PAGE), PAGE)
    assert e.value.errno == errno.EBADF


def test_pipe_write_fills_pages_from_the_allocator():
    """A write takes a page per slot from the page allocator; the last buffer read keeps its
    page for the next write (``tmp_page``); closing frees it."""
    m = selftest_machine()
    p = m.spawn()
    r, w = p.pipe()
    pipe = m.kernel.tasks[p.pid].files.fdt[r].f_inode.i_pipe
    p.pwrite(w, 3 * PAGE)
    pages = [pipe.buf(n).page for n in range(pipe.tail, pipe.head)]
    assert len(pages) == 3 and all(m.kernel.mem_map.refcount[pages] == 1)
    p.pread(r, 3 * PAGE)
    kept = pipe.tmp_page
    assert kept == pages[0] and sum(m.kernel.mem_map.refcount[pages]) == 1  # the first one released
    p.pwrite(w, PAGE)
    assert pipe.buf(pipe.tail).page == kept and pipe.tmp_page == -1  # reused
    assert debug.check(m) == []
    p.close(r)
    p.close(w)
    assert sum(m.kernel.mem_map.refcount[pages]) == 0
