"""Compiled-state plumbing shared by the compiled halves of the simulator (not a kernel file).

The allocator's ``MemMap``, the page-table pools' ``VmState`` and the TLBs' ``TlbState`` are
numba structrefs over numpy arrays: one pointer passed between compiled functions. Their
fields are ``UnownedArray``s: the same memory as the numpy arrays the Python objects keep
alive, typed so that compiled code does no reference counting at all. With plain array
fields every field read calls ``NRT_incref``/``NRT_decref`` out of line (even for a null
meminfo), which measured as ~40 % of the buddy allocator's free path. The structs
themselves are not reference counted by compiled code either (``register_struct``): the
Python proxy owns each one, compiled code only borrows it.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.datamodel import register_default
from numba.core.datamodel.models import ArrayModel, StructRefModel
from numba.core.imputils import lower_cast
from numba.experimental import structref
from numba.extending import intrinsic, overload

try:
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _set_madvise_hugepage


class UnownedArray(types.Array):
    """An array whose memory is owned elsewhere: no meminfo, no reference counting.
    Views of it (slices, rows) are unowned too."""

    def __init__(self, dtype, ndim, layout="C", readonly=False, aligned=True):
        super().__init__(dtype, ndim, layout, readonly=readonly, aligned=aligned,
                         name=f"unowned array({dtype}, {ndim}d, {layout})")

    def copy(self, dtype=None, ndim=None, layout=None, readonly=None, aligned=None):
        return UnownedArray(self.dtype if dtype is None else dtype, self.ndim if ndim is None else ndim,
                            self.layout if layout is None else layout,
                            self.mutable is False if readonly is None else readonly,
                            self.aligned if aligned is None else aligned)

    @property
    def key(self):
        return ("unowned",) + super().key


@register_default(UnownedArray)
class UnownedArrayModel(ArrayModel):
    def traverse(self, builder):
        return []  # no member (the meminfo included) is reference counted

    def has_nrt_meminfo(self):
        return False


@lower_cast(types.Array, UnownedArray)
@lower_cast(UnownedArray, types.Array)
def _same_layout(context, builder, fromty, toty, val):
    return val


def unowned_type(dtype, ndim: int) -> UnownedArray:
    """The field type for a C-contiguous numpy array of ``dtype`` and ``ndim``."""
    return UnownedArray(numba.from_dtype(np.dtype(dtype)), ndim, "C")


def unowned(arr):
    """The same memory as ``arr`` as an ``UnownedArray`` in compiled code (whoever built the
    structref keeps the numpy array alive); ``arr`` itself in plain Python."""
    return arr


@intrinsic
def _as_unowned(typingctx, arr):
    ty = UnownedArray(arr.dtype, arr.ndim, arr.layout)

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, value=args[0])
        out = context.make_array(ty)(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(src, name))
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        out.parent = cgutils.get_null_value(out.parent.type)
        return out._getvalue()
    return ty(arr), codegen


@overload(unowned)
def _unowned_compiled(arr):
    return lambda arr: _as_unowned(arr)


class UnownedStructRefModel(StructRefModel):
    def traverse(self, builder):
        return []

    def has_nrt_meminfo(self):
        return False


def register_struct(struct_type, proxy_class):
    """``structref.register`` + ``define_boxing`` for a struct that compiled code only
    borrows (its proxy, made once from Python, owns it)."""
    structref.register(struct_type)
    register_default(struct_type)(UnownedStructRefModel)
    structref.define_boxing(struct_type, proxy_class)


@contextmanager
def sparse_arrays(what: str):
    """Allocate arrays that are touched sparsely (per-pfn state) without numpy's
    MADV_HUGEPAGE: on a host with THP in madvise mode every first touch of a 2 MiB region
    would zero the whole region, which measured as half of a fresh machine's fault replay.
    A machine too large for this host's address space is a ConfigError naming ``what``."""
    from .errors import ConfigError

    was = _set_madvise_hugepage(False)
    try:
        yield
    except MemoryError as e:
        raise ConfigError(f"{what}: more than this host can hold ({e})") from None
    finally:
        _set_madvise_hugepage(was)
