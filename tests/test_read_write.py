"""fs/read_write.py: read() calls of cached data taken by the compiled loop
(``vfs_read_calls`` -> ``read_cached`` -> ``filemap_read_cached``) return what ``filemap_read`` does,
and leave the file position and the readahead state where it leaves them."""

from __future__ import annotations

import pytest

from linuxmm import Machine

MIB = 1 << 20


@pytest.fixture(scope="module")
def m():
    m = Machine()
    p = m.spawn()
    fd = p.open("/d", "rw", create=True)
    for i in range(8):
        p.pwrite(fd, MIB, offset=i * MIB, value=i + 1)  # large folios
    p.pwrite(fd, 5000, offset=8 * MIB, value=99)  # order-0 folios, a partial last page
    p.fsync(fd)
    p.close(fd)
    return m


@pytest.mark.parametrize("chunk", [4096, 64, 8192 + 64, 1 << 20])
def test_chunked_reads_of_cached_data_equal_one_read(m, chunk):
    p = m.spawn()
    fd = p.open("/d")
    whole = p.pread(fd, 9 * MIB, offset=0)
    assert p.pread(fd, 9 * MIB, offset=0, chunk=chunk) == whole
    assert p.task.files.fdt[fd].f_ra.prev_pos == 8 * MIB + 5000


def test_the_file_position_advances_over_compiled_calls(m):
    p = m.spawn()
    fd = p.open("/d")
    data = p.pread(fd, 3 * MIB + 4096, chunk=4096)
    assert len(data) == (3 * MIB + 4096) // 64 and p.task.files.fdt[fd].f_pos == 3 * MIB + 4096
    assert p.pread(fd, 4096) == bytes([4]) * 64


def test_a_miss_in_the_middle_is_read_and_the_rest_stays_compiled(m):
    p = m.spawn()
    fd = p.open("/d")
    p.fadvise(fd, 2 * MIB, MIB, "dontneed")  # a hole in the cache
    assert m.cachestat("/d").cache < (8 * MIB + 8192) // 4096
    data = p.pread(fd, 4 * MIB, offset=0, chunk=4096)
    assert data == b"".join(bytes([i + 1]) * (MIB // 64) for i in range(4))
