"""Memory-access traces: read valgrind lackey and Pin pinatrace text, write and map a binary form.

A trace is the sequence of memory accesses a real program made; the simulator replays it
against page tables, TLBs and reclaim. Traces run to billions of lines, so reading them must
never be the slow part: the text is read in large chunks and parsed by compiled byte loops
(``parse_lackey``, ``parse_pinatrace``) that write records straight into a preallocated array.
Python only moves chunks, carries a chunk's unfinished last line over to the next one, keeps
the line count and turns the first malformed line into a ``ParseError``.

Records
    Every reader yields numpy arrays of ``TRACE_DTYPE`` (16 bytes, little-endian)::

        addr  <u8   virtual address accessed
        size  <u2   bytes accessed (0 = not recorded, e.g. pinatrace's short form)
        kind  u1    0 instruction fetch, 1 load, 2 store, 3 modify (load + store)
        pad   u1    0
        tid   <u4   thread id (0 when the trace does not say)

Text formats
    ``lackey``: ``valgrind --tool=lackey --trace-mem=yes --log-file=FILE prog`` writes
    ``I  0400d7d4,8`` (fetch), `` L 04222cac,8``, `` S 7feff7ff8,8``, `` M 0421dd10,4``: a
    hex address without ``0x`` (1-16 digits) and a decimal size (0-65535). Valgrind's own
    ``==PID==`` lines (and ``--PID--``/``**PID**``) are skipped and counted, as are blank lines.

    ``pinatrace``: Pin's ManualExamples/pinatrace writes ``0x7f1b2c3d4e5f: R 0x7ffd12345678``
    (R load, W store; ``%p``, so a null pointer is ``(nil)``) and ends with ``#eof``; the
    SimpleExamples version writes a ``#``-comment header and pads the address, then adds a
    decimal size and the value (``0x..: W     0x7ffd1234  8 0x2a``). Lines starting with
    ``#`` are skipped and counted; the size is read when present, later fields are ignored.

    Either may be gzip-compressed (recognised by its magic bytes, not its name). A line may
    end in ``\\r\\n``. A line longer than ``MAX_LINE`` bytes is malformed.

Binary format (``convert`` writes it, ``open_binary`` maps it)
    A 32-byte header, then ``count`` records of ``TRACE_DTYPE``::

        offset 0   8s   magic b"LMMTRACE"
        offset 8   <u4  version (1)
        offset 12  <u4  record size (16)
        offset 16  <u8  record count
        offset 24  8x   reserved, zero

Malformed lines
    By default the first one raises ``ParseError(path, lineno, "column N: what is wrong:
    'the line'")``; with ``skip_bad=True`` they are skipped and counted
    (``TraceReader.bad_lines``, ``TraceReader.first_bad``).

Speed
    Lines exactly as the tools print them take a fast path; everything else (banners, CRLF,
    errors, a line cut by the chunk end) goes to ``_slow_line``, which defines the formats.
    ``reference_parse`` states the same grammar as regular expressions, line by line; the
    tests hold the compiled parsers to it. Chunks of 1 MiB and more are read (and gunzipped)
    by a helper thread while the previous one is parsed. A yielded batch array is reused for
    a later batch once the caller holds no reference to it (``sys.getrefcount``), so
    streaming over a trace does not fault in fresh memory for every batch.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
from numba import njit

from ..errors import ParseError

TRACE_DTYPE = np.dtype([("addr", "<u8"), ("size", "<u2"), ("kind", "u1"), ("pad", "u1"), ("tid", "<u4")])
KIND_INSTR, KIND_LOAD, KIND_STORE, KIND_MODIFY = 0, 1, 2, 3
KIND_NAMES = ("instr", "load", "store", "modify")

MAGIC = b"LMMTRACE"
VERSION = 1
HEADER_DTYPE = np.dtype([("magic", "S8"), ("version", "<u4"), ("record_size", "<u4"),
                         ("count", "<u8"), ("reserved", "<u8")])
HEADER_SIZE = HEADER_DTYPE.itemsize  # 32

FORMATS = ("lackey", "pinatrace", "binary")
CHUNK_BYTES = 16 << 20
BATCH_RECORDS = 1 << 20  # at most this many records per yielded array
MAX_LINE = 4096
READ_AHEAD_MIN = 1 << 20  # chunks at least this big are read ahead by a helper thread

Progress = Callable[[int, int], None]

# ---- the compiled parsers --------------------------------------------------------------

# counters a parser keeps across calls (one int64 array per reader)
S_LINES, S_SKIPPED, S_BAD, S_FIRST_BAD_LINE, S_FIRST_BAD_CODE, S_FIRST_BAD_COL = 0, 1, 2, 3, 4, 5
NR_STATS = 6

# why a line is malformed (S_FIRST_BAD_CODE)
E_KIND, E_ADDR, E_COMMA, E_SIZE, E_TRAIL, E_LONG, E_IP, E_COLON, E_RW = range(1, 10)
ERROR_TEXT = {
    E_KIND: "not a lackey line (expected 'I  ', ' L ', ' S ' or ' M ' then ADDR,SIZE)",
    E_ADDR: "the address is not 1-16 hex digits",
    E_COMMA: "expected ',' after the address",
    E_SIZE: "the size is not a decimal number 0-65535",
    E_TRAIL: "unexpected text after the size",
    E_LONG: f"line longer than {MAX_LINE} bytes",
    E_IP: "not a pinatrace line (expected 'IP: R|W ADDR', IP a hex number)",
    E_COLON: "expected ': ' after the instruction pointer",
    E_RW: "expected R or W after 'IP: '",
}

HEXVAL = np.full(256, -1, np.int8)
for _i, _c in enumerate(b"0123456789abcdef"):
    HEXVAL[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    HEXVAL[_c] = 10 + _i


@njit(cache=True, nogil=True)
def _eol(buf, p, end):
    """Index of the next '\\n' at or after p, or end (compiled: the inner scan of every line)."""
    while p < end and buf[p] != 10:
        p += 1
    return p


@njit(cache=True, nogil=True)
def _hex(buf, q, b):
    """1-16 hex digits at buf[q:b]: (value, index after them, ok); wraps past 16 digits."""
    v = 0
    s = q
    while q < b:
        d = HEXVAL[buf[q]]
        if d < 0:
            break
        v = (v << 4) | d
        q += 1
    return v, q, 1 <= q - s <= 16


@njit(cache=True, nogil=True)
def _dec16(buf, q, b):
    """1-5 decimal digits at buf[q:b] worth at most 65535: (value, index after, ok)."""
    v = 0
    s = q
    while q < b and 48 <= buf[q] <= 57 and q - s < 6:
        v = v * 10 + (buf[q] - 48)
        q += 1
    return v, q, 1 <= q - s <= 5 and v <= 65535


@njit(cache=True, nogil=True)
def _pin_word(buf, q, b):
    """A ``%p`` or ostream pointer at buf[q:b]: 0x + 1-16 hex digits, (nil), or bare hex."""
    if q + 1 < b and buf[q] == 48 and buf[q + 1] == 120:  # "0x"
        return _hex(buf, q + 2, b)
    if q + 4 < b and buf[q] == 40 and buf[q + 1] == 110 and buf[q + 2] == 105 and buf[q + 3] == 108 \
            and buf[q + 4] == 41:  # "(nil)"
        return 0, q + 5, True
    return _hex(buf, q, b)


@njit(cache=True, nogil=True)
def _lackey_line(buf, p, b, out, nrec):
    """Parse one lackey line buf[p:b] (no newline); (0 = record written, -1 = skipped, else E_*; where)."""
    c = buf[p]
    kind = -1
    if c == 73:  # 'I'
        if b - p >= 3 and buf[p + 1] == 32 and buf[p + 2] == 32:
            kind = 0
    elif c == 32:
        if b - p >= 3 and buf[p + 2] == 32:
            c1 = buf[p + 1]
            if c1 == 76:
                kind = 1
            elif c1 == 83:
                kind = 2
            elif c1 == 77:
                kind = 3
    elif (c == 61 or c == 45 or c == 42) and b - p >= 3 and buf[p + 1] == c and 48 <= buf[p + 2] <= 57:
        return -1, p  # ==PID== (or --PID--, **PID**): valgrind's own messages
    if kind < 0:
        return E_KIND, p
    addr, q, ok = _hex(buf, p + 3, b)
    if not ok:
        return E_ADDR, p + 3
    if q >= b or buf[q] != 44:
        return E_COMMA, q
    s = q + 1
    size, q, ok = _dec16(buf, s, b)
    if not ok:
        return E_SIZE, s
    if q != b:
        return E_TRAIL, q
    out[nrec, 0] = addr
    out[nrec, 1] = size | (kind << 16)
    return 0, q


@njit(cache=True, nogil=True)
def _pinatrace_line(buf, p, b, out, nrec):
    """Parse one pinatrace line buf[p:b] (no newline); (0 = record written, -1 = skipped, else E_*; where)."""
    if buf[p] == 35:  # '#': the header and #eof
        return -1, p
    _, q, ok = _pin_word(buf, p, b)
    if not ok:
        return E_IP, p
    if q >= b or buf[q] != 58 or q + 1 >= b or buf[q + 1] != 32:
        return E_COLON, q
    q += 1
    while q < b and buf[q] == 32:
        q += 1
    if q >= b or (buf[q] != 82 and buf[q] != 87) or q + 1 >= b or buf[q + 1] != 32:
        return E_RW, q
    kind = 1 if buf[q] == 82 else 2
    q += 1
    while q < b and buf[q] == 32:
        q += 1
    s = q
    addr, q, ok = _pin_word(buf, s, b)
    if not ok:
        return E_ADDR, s
    size = 0
    if q < b:
        if buf[q] != 32:
            return E_ADDR, q
        while q < b and buf[q] == 32:
            q += 1
        if q < b:  # the SimpleExamples size, then fields we do not need
            s = q
            size, q, ok = _dec16(buf, s, b)
            if not ok:
                return E_SIZE, s
            if q < b and buf[q] != 32:
                return E_SIZE, q
    out[nrec, 0] = addr
    out[nrec, 1] = size | (kind << 16)
    return 0, q


@njit(cache=True, nogil=True)
def _slow_line(buf, p, end, final, out, nrec, stats, pinatrace):
    """The line at buf[p] that the fast path did not take: banners, comments, blank lines,
    ``\\r\\n`` endings, a last line without newline, malformed or unfinished lines.

    Returns (status, start of the next line); status 0 = record written, -1 = skipped,
    -2 = unfinished (no newline before end and not final), else the E_* code. Counts into stats.
    """
    e = _eol(buf, p, end)
    if e == end and not final:
        return -2, p
    b = e - 1 if e > p and buf[e - 1] == 13 else e
    stats[S_LINES] += 1
    if b == p:
        code, q = -1, p
    elif b - p > MAX_LINE:
        code, q = E_LONG, p + MAX_LINE
    elif pinatrace:
        code, q = _pinatrace_line(buf, p, b, out, nrec)
    else:
        code, q = _lackey_line(buf, p, b, out, nrec)
    if code < 0:
        stats[S_SKIPPED] += 1
    elif code > 0:
        stats[S_BAD] += 1
        if stats[S_FIRST_BAD_LINE] == 0:
            stats[S_FIRST_BAD_LINE] = stats[S_LINES]
            stats[S_FIRST_BAD_CODE] = code
            stats[S_FIRST_BAD_COL] = q - p + 1
    return code, (e + 1 if e < end else end)


@njit(cache=True, inline="always")
def _take_slow_line(buf, p, end, final, strict, out, nrec, nbad, first_bad, stats, pin):
    """The line at ``p`` through ``_slow_line``, counted: (stop, records, bad lines, first
    bad position, next position). Stops (at ``p``) for more input, or at a bad line if
    ``strict``."""
    code, nxt = _slow_line(buf, p, end, final, out, nrec, stats, pin)
    if code == -2:
        return True, nrec, nbad, first_bad, p
    if code == 0:
        nrec += 1
    elif code > 0:
        nbad += 1
        if first_bad < 0:
            first_bad = p
        if strict:
            return True, nrec, nbad, first_bad, p
    return False, nrec, nbad, first_bad, nxt


@njit(cache=True, nogil=True)
def parse_lackey(buf, pos, end, final, strict, out, stats):
    """Lackey lines of buf[pos:end] into out (two uint64 words per record: addr, then
    size | kind << 16 | tid << 32); compiled: this loop touches every byte of every trace.

    Stops when out is full, at the first unfinished line (unless final: then the last line
    needs no newline), or, if strict, at the first malformed line. Returns (records written,
    offset parsed up to, malformed lines, offset of the first malformed line or -1); stats
    accumulates the S_* counters across calls. The fast path takes ``K ADDR,SIZE\\n`` lines
    and leaves everything else to ``_slow_line``, which is the definition of the format.
    buf[end] must exist: it holds a sentinel during the call (and is restored).
    """
    cap = out.shape[0]
    nrec = nbad = lines = 0
    first_bad = -1
    p = pos
    if end >= buf.shape[0]:
        raise ValueError("the buffer needs one spare byte after end")
    saved = buf[end]
    buf[end] = 0  # a sentinel: the digit loops below stop there without a bounds check
    while p < end and nrec < cap:
        kind = -1
        if p + 3 < end and buf[p + 2] == 32:
            c0, c1 = buf[p], buf[p + 1]
            if c0 == 73:
                if c1 == 32:
                    kind = 0
            elif c0 == 32:
                if c1 == 76:
                    kind = 1
                elif c1 == 83:
                    kind = 2
                elif c1 == 77:
                    kind = 3
        if kind >= 0:
            q = p + 3
            addr = 0
            while True:
                d = HEXVAL[buf[q]]
                if d < 0:
                    break
                addr = (addr << 4) | d
                q += 1
            if 0 < q - p - 3 <= 16 and buf[q] == 44:
                q += 1
                s = q
                size = 0
                while True:
                    c = buf[q]
                    if c < 48 or c > 57:
                        break
                    size = size * 10 + (c - 48)
                    q += 1
                if 0 < q - s <= 5 and size <= 65535 and buf[q] == 10:
                    out[nrec, 0] = addr
                    out[nrec, 1] = size | (kind << 16)
                    nrec += 1
                    lines += 1
                    p = q + 1
                    continue
        stats[S_LINES] += lines
        lines = 0
        stop, nrec, nbad, first_bad, p = _take_slow_line(buf, p, end, final, strict, out, nrec, nbad, first_bad,
                                                         stats, False)
        if stop:
            break
    stats[S_LINES] += lines
    buf[end] = saved
    return nrec, p, nbad, first_bad


@njit(cache=True, nogil=True)
def parse_pinatrace(buf, pos, end, final, strict, out, stats):
    """Pinatrace lines of buf[pos:end] into out, as ``parse_lackey`` (compiled for the same
    reason); the fast path takes ``0xIP: R|W 0xADDR\\n``."""
    cap = out.shape[0]
    nrec = nbad = lines = 0
    first_bad = -1
    p = pos
    if end >= buf.shape[0]:
        raise ValueError("the buffer needs one spare byte after end")
    saved = buf[end]
    buf[end] = 0  # the sentinel
    while p < end and nrec < cap:
        if p + 2 < end and buf[p] == 48 and buf[p + 1] == 120:
            q = p + 2
            while HEXVAL[buf[q]] >= 0:
                q += 1
            if 0 < q - p - 2 <= 16 and q + 5 < end and buf[q] == 58 and buf[q + 1] == 32 \
                    and (buf[q + 2] == 82 or buf[q + 2] == 87) and buf[q + 3] == 32 \
                    and buf[q + 4] == 48 and buf[q + 5] == 120:
                kind = 1 if buf[q + 2] == 82 else 2
                q += 6
                s = q
                addr = 0
                while True:
                    d = HEXVAL[buf[q]]
                    if d < 0:
                        break
                    addr = (addr << 4) | d
                    q += 1
                if 0 < q - s <= 16 and buf[q] == 10:
                    out[nrec, 0] = addr
                    out[nrec, 1] = kind << 16
                    nrec += 1
                    lines += 1
                    p = q + 1
                    continue
        stats[S_LINES] += lines
        lines = 0
        stop, nrec, nbad, first_bad, p = _take_slow_line(buf, p, end, final, strict, out, nrec, nbad, first_bad,
                                                         stats, True)
        if stop:
            break
    stats[S_LINES] += lines
    buf[end] = saved
    return nrec, p, nbad, first_bad


PARSERS = {"lackey": parse_lackey, "pinatrace": parse_pinatrace}


# ---- opening files ---------------------------------------------------------------------

def _name(source) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "<stream>")


class _Input:
    """A trace opened for reading: decompressed stream, plus the raw position for progress."""

    def __init__(self, source):
        if isinstance(source, (str, os.PathLike)):
            self.raw: BinaryIO = open(source, "rb")
            self.owned = True
        else:
            self.raw = source
            self.owned = False
            if self.raw.seekable():
                self.raw.seek(0)
        self.start = self.raw.tell() if self.raw.seekable() else 0
        self.total = self._size()
        head = self._peek(2)
        self.gz = head == b"\x1f\x8b"
        self.stream: BinaryIO = gzip.GzipFile(fileobj=self.raw, mode="rb") if self.gz else self.raw

    def _size(self) -> int:
        try:
            return os.fstat(self.raw.fileno()).st_size
        except (OSError, AttributeError, io.UnsupportedOperation):
            if isinstance(self.raw, io.BytesIO):
                return len(self.raw.getbuffer())
            return 0

    def _peek(self, n: int) -> bytes:
        if hasattr(self.raw, "peek"):
            return self.raw.peek(n)[:n]
        data = self.raw.read(n)
        self.raw.seek(self.start)
        return data

    def done(self) -> int:
        return self.raw.tell() if self.raw.seekable() else 0

    def close(self):
        if self.gz:
            self.stream.close()
        if self.owned:
            self.raw.close()


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _head(source, nbytes: int = 1 << 16) -> bytes:
    inp = _Input(source)
    try:
        return inp.stream.read(nbytes)
    except (OSError, EOFError, zlib.error) as e:  # a corrupt gzip stream
        if not inp.gz:
            raise
        raise ParseError(_name(source), None, f"cannot decompress: {e}") from None
    finally:
        inp.close()


_LACKEY_RE = re.compile(rb"^(?:I  | [LSM] )[0-9a-fA-F]{1,16},[0-9]{1,5}$")
_PIN_RE = re.compile(rb"^(?:0x[0-9a-fA-F]{1,16}|\(nil\)|[0-9a-fA-F]{1,16}): +[RW] ")
_BANNER_RE = re.compile(rb"^(?:==|--|\*\*)[0-9]")


def detect_format(source) -> str:
    """``lackey``, ``pinatrace`` or ``binary``, from the magic or the first trace lines."""
    head = _head(source)
    if head.startswith(MAGIC):
        return "binary"
    lines = head.split(b"\n")
    if len(head) == 1 << 16:
        lines = lines[:-1]  # may be cut
    banners = comments = 0
    for lineno, line in enumerate(lines, 1):
        line = line.removesuffix(b"\r")
        if not line:
            continue
        if _BANNER_RE.match(line):
            banners += 1
        elif line.startswith(b"#"):
            comments += 1
        elif _LACKEY_RE.match(line):
            return "lackey"
        elif _PIN_RE.match(line):
            return "pinatrace"
        else:
            raise ParseError(_name(source), lineno, "cannot tell the trace format: neither a lackey nor "
                             f"a pinatrace line: {_quote(line)} (give the format explicitly)")
    if banners or comments:
        return "lackey" if banners >= comments else "pinatrace"
    raise ParseError(_name(source), None, "cannot tell the trace format of an empty trace (give it explicitly)")


def _quote(line: bytes, limit: int = 80) -> str:
    text = line[:limit].decode("utf-8", "replace")
    return repr(text) + ("..." if len(line) > limit else "")


# ---- the binary format -----------------------------------------------------------------

def _header_bytes(count: int) -> bytes:
    h = np.zeros((), HEADER_DTYPE)
    h["magic"], h["version"], h["record_size"], h["count"] = MAGIC, VERSION, TRACE_DTYPE.itemsize, count
    return h.tobytes()


def _check_header(name: str, data: bytes) -> int:
    """Record count of a binary trace header, or ParseError."""
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
        raise ParseError(name, None, f"not a linuxmm binary trace (no {MAGIC.decode()} header)")
    h = np.frombuffer(data[:HEADER_SIZE], HEADER_DTYPE)[0]
    if h["version"] != VERSION:
        raise ParseError(name, None, f"binary trace version {h['version']} (this linuxmm reads {VERSION})")
    if h["record_size"] != TRACE_DTYPE.itemsize:
        raise ParseError(name, None, f"binary trace records of {h['record_size']} bytes "
                         f"(expected {TRACE_DTYPE.itemsize})")
    return int(h["count"])


def open_binary(path) -> np.ndarray:
    """The records of a binary trace as a read-only ``np.memmap`` (a gzip file is read into memory)."""
    name = str(path)
    if _is_gzip(path):
        try:
            with gzip.open(path, "rb") as f:
                data = f.read()
        except (OSError, EOFError, zlib.error) as e:
            raise ParseError(name, None, f"cannot decompress: {e}") from None
        count = _check_header(name, data[:HEADER_SIZE])
        body = data[HEADER_SIZE:]
        if len(body) != count * TRACE_DTYPE.itemsize:
            raise ParseError(name, None, f"binary trace holds {len(body)} bytes of records, "
                             f"header says {count} records")
        return np.frombuffer(body, TRACE_DTYPE)
    with open(path, "rb") as f:
        count = _check_header(name, f.read(HEADER_SIZE))
        size = os.fstat(f.fileno()).st_size
    if size != HEADER_SIZE + count * TRACE_DTYPE.itemsize:
        raise ParseError(name, None, f"binary trace is {size} bytes, header says {count} records "
                         f"({HEADER_SIZE + count * TRACE_DTYPE.itemsize} bytes): truncated or overwritten?")
    if count == 0:
        return np.zeros(0, TRACE_DTYPE)
    return np.memmap(path, dtype=TRACE_DTYPE, mode="r", offset=HEADER_SIZE, shape=(count,))


def write_binary(path, batches) -> int:
    """Write record arrays (one array or an iterable of them) as a binary trace; returns the count.

    The file appears under ``path`` only when complete (written to ``path.part``, then renamed).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    if isinstance(batches, np.ndarray):
        batches = [batches]
    count = 0
    try:
        with open(tmp, "wb") as f:
            f.write(_header_bytes(0))
            for recs in batches:
                recs = np.ascontiguousarray(recs, TRACE_DTYPE)
                f.write(recs.view(np.uint8))
                count += len(recs)
            f.seek(0)
            f.write(_header_bytes(count))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


# ---- readers ---------------------------------------------------------------------------

class TraceReader:
    """An iterator of record arrays (``TRACE_DTYPE``) from one trace file or binary stream.

    After (or during) iteration: ``lines`` read, ``records`` yielded, ``skipped_lines``
    (banners, comments, blank lines), ``bad_lines`` and ``first_bad`` = (lineno, text).
    """

    def __init__(self, source, fmt: str = "auto", skip_bad: bool = False,
                 chunk_bytes: int = CHUNK_BYTES, progress: Progress | None = None):
        if fmt not in FORMATS + ("auto",):
            raise ValueError(f"unknown trace format {fmt!r}: use one of {', '.join(FORMATS)} or auto")
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        self.source, self.name = source, _name(source)
        self.fmt = detect_format(source) if fmt == "auto" else fmt
        self.skip_bad, self.chunk_bytes, self.progress = skip_bad, chunk_bytes, progress
        self.stats = np.zeros(NR_STATS, np.int64)
        self.records = 0
        self.first_bad: tuple[int, str] | None = None
        self._it: Iterator[np.ndarray] | None = None

    lines = property(lambda self: int(self.stats[S_LINES]))
    skipped_lines = property(lambda self: int(self.stats[S_SKIPPED]))
    bad_lines = property(lambda self: int(self.stats[S_BAD]))

    def __iter__(self) -> "TraceReader":
        return self

    def __next__(self) -> np.ndarray:
        if self._it is None:
            self._it = self._binary() if self.fmt == "binary" else self._text()
        return next(self._it)

    def read_all(self) -> np.ndarray:
        """All remaining records in one array."""
        parts = list(self)
        return np.concatenate(parts) if parts else np.zeros(0, TRACE_DTYPE)

    def _bad(self, lineno: int, code: int, col: int, text: bytes):
        if self.first_bad is None:
            self.first_bad = (lineno, text[:MAX_LINE].decode("utf-8", "replace"))
        if not self.skip_bad:
            raise ParseError(self.name, lineno, f"column {col}: {ERROR_TEXT[code]}: {_quote(text)}")

    def _text(self) -> Iterator[np.ndarray]:
        """Chunks of text into the compiled parser; the unfinished last line of a chunk is
        copied in front of the next one. With big chunks the next chunk is read (and
        decompressed) by a helper thread while this one is parsed: the parser releases the GIL."""
        parse = PARSERS[self.fmt]
        stats, strict, chunk = self.stats, not self.skip_bad, self.chunk_bytes
        pre = MAX_LINE + 2  # room in front of each chunk for the previous chunk's last line
        bufs = [np.empty(pre + chunk + 1, np.uint8) for _ in range(2)]  # +1: the parser's sentinel
        out, out_refs = None, 0
        nout = min(BATCH_RECORDS, (pre + chunk) // 6 + 1)
        inp = _Input(self.source)
        pool = ThreadPoolExecutor(1, "linuxmm-trace-read") if chunk >= READ_AHEAD_MIN else None

        def fill(buf):
            view, got = memoryview(buf)[pre:pre + chunk], 0
            while got < chunk and (n := inp.stream.readinto(view[got:])):
                got += n
            return got

        try:
            pending = pool.submit(fill, bufs[0]) if pool else None
            i, tail, discarding = 0, bufs[1][:0].copy(), False
            while True:
                buf = bufs[i]
                got = pending.result() if pool else fill(buf)
                eof = got < chunk
                if pool and not eof:
                    pending = pool.submit(fill, bufs[1 - i])
                pos, end = pre - len(tail), pre + got
                buf[pos:pre] = tail
                if discarding:  # the rest of an overlong line
                    e = int(_eol(buf, pos, end))
                    discarding = e == end
                    pos = min(e + 1, end)
                while True:
                    if out is None or sys.getrefcount(out) > out_refs:  # the caller kept the last one
                        out = np.empty(nout, TRACE_DTYPE)
                        words = out.view(np.uint64).reshape(-1, 2)
                        out_refs = sys.getrefcount(out)
                    n, pos, nbad, first = parse(buf, pos, end, eof, strict, words, stats)
                    if nbad and first >= 0 and self.first_bad is None:
                        e = int(_eol(buf, first, end))
                        self._bad(int(stats[S_FIRST_BAD_LINE]), int(stats[S_FIRST_BAD_CODE]),
                                  int(stats[S_FIRST_BAD_COL]), bytes(buf[first:e]).removesuffix(b"\r"))
                    if n:
                        if sys.byteorder == "big":
                            words[:n].byteswap(inplace=True)
                        self.records += n
                        yield out[:n]
                    if n < nout:
                        break
                tail = buf[pos:end].copy()
                if len(tail) > MAX_LINE + 1:  # no newline in sight (room for a '\r'): an overlong line
                    stats[S_LINES] += 1
                    stats[S_BAD] += 1
                    if stats[S_FIRST_BAD_LINE] == 0:
                        stats[S_FIRST_BAD_LINE], stats[S_FIRST_BAD_CODE] = stats[S_LINES], E_LONG
                        stats[S_FIRST_BAD_COL] = MAX_LINE + 1
                    self._bad(int(stats[S_LINES]), E_LONG, MAX_LINE + 1, bytes(tail[:80]))
                    tail, discarding = tail[:0], True
                if self.progress:
                    self.progress(inp.done(), inp.total)
                if eof:
                    break
                i = 1 - i
        except (OSError, EOFError, zlib.error) as e:
            if not inp.gz:
                raise
            raise ParseError(self.name, None, f"cannot decompress: {e}") from None
        finally:
            if pool:
                pool.shutdown(wait=True)
            inp.close()

    def _binary(self) -> Iterator[np.ndarray]:
        batch = max(1, self.chunk_bytes // TRACE_DTYPE.itemsize)
        if isinstance(self.source, (str, os.PathLike)) and not _is_gzip(self.source):
            recs = open_binary(self.source)
            total = HEADER_SIZE + recs.nbytes
            for i in range(0, len(recs), batch):
                part = recs[i:i + batch]
                self.records += len(part)
                yield part
                if self.progress:
                    self.progress(HEADER_SIZE + (i + len(part)) * TRACE_DTYPE.itemsize, total)
            return
        inp = _Input(self.source)
        try:
            count = _check_header(self.name, inp.stream.read(HEADER_SIZE))
            left = count
            while left:
                want = min(left, batch) * TRACE_DTYPE.itemsize
                data = inp.stream.read(want)
                if len(data) < want:
                    raise ParseError(self.name, None, f"binary trace ends after "
                                     f"{count - left + len(data) // TRACE_DTYPE.itemsize} of {count} records")
                part = np.frombuffer(data, TRACE_DTYPE)
                left -= len(part)
                self.records += len(part)
                yield part
                if self.progress:
                    self.progress(inp.done(), inp.total)
            if inp.stream.read(1):
                raise ParseError(self.name, None, f"binary trace has bytes after its {count} records")
        except (OSError, EOFError, zlib.error) as e:
            raise ParseError(self.name, None, f"cannot decompress: {e}") from None
        finally:
            inp.close()


def read_trace(source, fmt: str = "auto", skip_bad: bool = False, chunk_bytes: int = CHUNK_BYTES,
               progress: Progress | None = None) -> TraceReader:
    """Iterate over a trace (path or binary file object) as arrays of ``TRACE_DTYPE`` records.

    ``fmt``: ``lackey``, ``pinatrace``, ``binary`` or ``auto`` (from the magic or the first
    lines). ``progress(bytes_done, bytes_total)`` is called after each chunk (bytes of the
    file as stored, i.e. compressed for .gz).
    """
    return TraceReader(source, fmt, skip_bad, chunk_bytes, progress)


def load_trace(source, fmt: str = "auto", skip_bad: bool = False) -> np.ndarray:
    """A whole trace in one record array."""
    return read_trace(source, fmt, skip_bad).read_all()


def count_lines(source, progress: Progress | None = None) -> int:
    """Lines of a text trace (a last line without newline counts); records of a binary one."""
    head = _head(source, HEADER_SIZE)
    if head.startswith(MAGIC):
        return _check_header(_name(source), head)
    inp = _Input(source)
    buf = bytearray(CHUNK_BYTES)
    n, last = 0, 10
    try:
        while got := inp.stream.readinto(buf):
            n += buf.count(b"\n", 0, got)
            last = buf[got - 1]
            if progress:
                progress(inp.done(), inp.total)
    except (OSError, EOFError, zlib.error) as e:
        if not inp.gz:
            raise
        raise ParseError(_name(source), None, f"cannot decompress: {e}") from None
    finally:
        inp.close()
    return n + (last != 10)


def convert(src, dst, fmt: str = "auto", skip_bad: bool = False, progress: Progress | None = None,
            chunk_bytes: int = CHUNK_BYTES) -> TraceReader:
    """Convert a trace to the binary format; returns the spent reader (line and bad-line counts)."""
    reader = read_trace(src, fmt, skip_bad, chunk_bytes, progress)
    write_binary(dst, reader)
    return reader


# ---- summaries -------------------------------------------------------------------------

@dataclass
class TraceSummary:
    """What ``linuxmm trace info`` shows: record counts and the address footprint."""

    fmt: str
    records: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KIND_NAMES, 0))
    pages_4k: int = 0
    regions_2m: int = 0
    addr_min: int | None = None
    addr_max: int | None = None  # last byte touched
    lines: int = 0
    skipped_lines: int = 0
    bad_lines: int = 0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def summarize(source, fmt: str = "auto", skip_bad: bool = False, progress: Progress | None = None,
              chunk_bytes: int = CHUNK_BYTES) -> TraceSummary:
    """Count records by kind, distinct 4 KiB pages and 2 MiB regions (an access that crosses
    a page boundary touches both pages) and the range of addresses touched."""
    reader = read_trace(source, fmt, skip_bad, chunk_bytes, progress)
    s = TraceSummary(reader.fmt)
    kinds = np.zeros(256, np.int64)
    pages = np.zeros(0, np.uint64)
    lo, hi = None, None
    for recs in reader:
        addr = recs["addr"]
        last = addr + np.maximum(recs["size"], 1).astype(np.uint64) - np.uint64(1)
        last = np.where(last < addr, np.uint64(2**64 - 1), last)  # wrapped past the top
        kinds += np.bincount(recs["kind"], minlength=256)
        pages = np.union1d(pages, np.concatenate([addr >> np.uint64(12), last >> np.uint64(12)]))
        lo = int(addr.min()) if lo is None else min(lo, int(addr.min()))
        hi = int(last.max()) if hi is None else max(hi, int(last.max()))
    s.records = reader.records
    s.by_kind = {name: int(kinds[i]) for i, name in enumerate(KIND_NAMES)}
    s.pages_4k, s.regions_2m = len(pages), len(np.unique(pages >> np.uint64(9)))
    s.addr_min, s.addr_max = lo, hi
    s.lines, s.skipped_lines, s.bad_lines = reader.lines, reader.skipped_lines, reader.bad_lines
    return s


# ---- the pure-Python reference ---------------------------------------------------------

_LACKEY_LINE = re.compile(rb"(I  | L | S | M )([0-9a-fA-F]{1,16}),([0-9]{1,5})")
_LACKEY_KIND = {b"I  ": KIND_INSTR, b" L ": KIND_LOAD, b" S ": KIND_STORE, b" M ": KIND_MODIFY}
_PIN_WORD = rb"(?:0x([0-9a-fA-F]{1,16})|(\(nil\))|([0-9a-fA-F]{1,16}))"
_PIN_LINE = re.compile(_PIN_WORD + rb": +([RW]) +" + _PIN_WORD + rb"(?: *| +([0-9]{1,5})(?: .*)?)", re.S)


def reference_parse(data: bytes, fmt: str) -> tuple[np.ndarray, list[int], int]:
    """The text formats parsed line by line with regular expressions: (records, line numbers
    of malformed lines, skipped lines). Slow; the differential tests hold the compiled
    parsers to it."""
    recs, bad, skipped = [], [], 0
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for lineno, line in enumerate(lines, 1):
        line = line.removesuffix(b"\r")
        if not line or (fmt == "lackey" and _BANNER_RE.match(line)) or (fmt == "pinatrace" and line[:1] == b"#"):
            skipped += 1
            continue
        m = (_LACKEY_LINE if fmt == "lackey" else _PIN_LINE).fullmatch(line) if len(line) <= MAX_LINE else None
        if fmt == "lackey" and m and int(m[3]) <= 65535:
            recs.append((int(m[2], 16), int(m[3]), _LACKEY_KIND[m[1]], 0, 0))
        elif fmt == "pinatrace" and m and (m[8] is None or int(m[8]) <= 65535):
            addr = int(m[5] or m[7] or b"0", 16)
            recs.append((addr, int(m[8] or 0), 1 if m[4] == b"R" else 2, 0, 0))
        else:
            bad.append(lineno)
    return np.array(recs, TRACE_DTYPE), bad, skipped
