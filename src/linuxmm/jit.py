"""Compiled-state plumbing shared by the compiled halves of the simulator (not a kernel file).

The allocator's ``MemMap``, the page-table pools' ``VmState`` and the TLBs' ``TlbState`` are
numba structrefs over numpy arrays: one pointer passed between compiled functions. Their
fields are ``UnownedArray``s: the same memory as the numpy arrays the Python objects keep
alive, typed so that compiled code does no reference counting at all. With plain array
fields every field read calls ``NRT_incref``/``NRT_decref`` out of line (even for a null
meminfo), which measured as ~40 % of the buddy allocator's free path. The structs
themselves are not reference counted by compiled code either (``UnownedStruct``): the
Python proxy owns each one, compiled code only borrows it. A struct is declared once, as a
``CompiledStruct`` subclass with its field list; type and constructor follow from it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.datamodel import register_default
from numba.core.datamodel.models import ArrayModel, StructRefModel
from numba.core.imputils import lower_cast
from numba.core.registry import CPUDispatcher
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
        return _unowned_value(context, builder, sig.args[0], ty, args[0])
    return ty(arr), codegen


@overload(unowned)
def _unowned_compiled(arr):
    return lambda arr: _as_unowned(arr)


class UnownedStruct(types.StructRef):
    """The numba type of every compiled struct: one class for all (the field list tells them
    apart), so the types numba's cache pickles always unpickle by this module's name."""

    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


class UnownedStructRefModel(StructRefModel):
    def traverse(self, builder):
        return []

    def has_nrt_meminfo(self):
        return False


class StructRefBox(structref.StructRefProxy):
    """What compiled code boxes an ``UnownedStruct`` into (``CompiledStruct.from_arrays``
    rewraps it as the subclass that describes the struct)."""


# compiled code only borrows the structs (their Python proxy, made once, owns each one)
structref.register(UnownedStruct)
register_default(UnownedStruct)(UnownedStructRefModel)
structref.define_boxing(UnownedStruct, StructRefBox)


class CompiledStruct(StructRefBox):
    """A struct of numpy arrays, usable from Python (``s.name``) and passed as one pointer to
    compiled code. A subclass names its arrays once::

        class MemMap(CompiledStruct, fields=MEMMAP_FIELDS): ...

    where ``fields`` is a list of (name, dtype, ndim); the numba type (``numba_type``) and the
    constructor ``from_arrays`` follow from it.
    """

    fields: tuple[tuple[str, type, int], ...] = ()
    numba_type: UnownedStruct

    def __init_subclass__(cls, fields=None, **kw):
        super().__init_subclass__(**kw)
        if fields is not None:
            cls.fields = tuple(fields)
            cls.numba_type = UnownedStruct([(n, unowned_type(d, nd)) for n, d, nd in cls.fields])

    @classmethod
    def from_arrays(cls, **arrays):
        """The struct over ``arrays`` (one per field, C-contiguous, of the field's dtype and
        dimensions; they are kept alive by the returned object)."""
        names = [n for n, _, _ in cls.fields]
        if sorted(arrays) != sorted(names):
            raise TypeError(f"{cls.__name__}: expected arrays {names}, got {sorted(arrays)}")
        for name, dtype, ndim in cls.fields:
            arr = arrays[name]
            if arr.dtype != dtype or arr.ndim != ndim or not arr.flags.c_contiguous:
                raise TypeError(f"{cls.__name__}.{name}: expected C-contiguous {np.dtype(dtype)}[{ndim}d], "
                                f"got {arr.dtype}[{arr.ndim}d]")
        if numba.config.DISABLE_JIT:  # pure Python: the same functions read plain attributes
            obj = object.__new__(cls)
        else:
            ref = _new_struct(cls.numba_type, tuple(arrays[n] for n in names))
            obj = cls._numba_box_(ref._type, ref._meminfo)
        obj.__dict__.update(arrays)
        return obj


def _unowned_value(context, builder, fromty, toty, val):
    """The array ``val`` of ``fromty`` as a value of the unowned array type ``toty``."""
    src = context.make_array(fromty)(context, builder, value=val)
    out = context.make_array(toty)(context, builder)
    for name in ("nitems", "itemsize", "data", "shape", "strides"):
        setattr(out, name, getattr(src, name))
    out.meminfo = cgutils.get_null_value(out.meminfo.type)
    out.parent = cgutils.get_null_value(out.parent.type)
    return out._getvalue()


@intrinsic
def _set_fields(typingctx, ref, arrays):
    """Store ``arrays`` (a tuple in field order) into the struct ``ref`` as unowned arrays."""
    fields = list(ref.field_dict.items())
    if len(arrays) != len(fields) or any(a.dtype != t.dtype or a.ndim != t.ndim for a, (_, t) in zip(arrays, fields)):
        return None

    def codegen(context, builder, sig, args):
        data = structref._Utils(context, builder, ref).get_data_struct(args[0])
        for i, (name, fty) in enumerate(fields):
            val = builder.extract_value(args[1], i)
            setattr(data, name, _unowned_value(context, builder, arrays[i], fty, val))
        return context.get_dummy_value()
    return types.none(ref, arrays), codegen


@njit(cache=True)
def _new_struct(struct_type, arrays):
    r = structref.new(struct_type)
    _set_fields(r, arrays)
    return r


class EntryDispatcher(CPUDispatcher):
    """A compiled function called from Python (``@entry``). Once it has one compiled version,
    calls with as many positional arguments go straight to that version's wrapper, which only
    unboxes them: numba's dispatcher would first type every argument, and a struct argument
    has no fast typing path (measured: ~500 ns per call with one ``CompiledStruct`` argument,
    ~180 ns here). The arguments must therefore keep their types: with ``LINUXMM_CHECK_ENTRY``
    set (the test suite sets it) every call checks them and a change is a ``TypeError``.
    Compiled callers see an ordinary dispatcher."""

    _entry_point = None
    _nargs = -1  # no direct calls until resolved
    _argtypes: tuple = ()
    _check = False

    def __call__(self, *args, **kws):
        if len(args) == self._nargs and not kws:
            if self._check:
                self._check_types(args)
            return self._entry_point(*args)
        result = super().__call__(*args, **kws)
        self._resolve()
        return result

    def _resolve(self) -> None:
        """Call the compiled version directly from now on if there is exactly one."""
        self._nargs = -1
        if len(self.overloads) != 1:
            return
        cres = next(iter(self.overloads.values()))
        if any(isinstance(t, types.Omitted) for t in cres.signature.args):
            return
        self._entry_point, self._argtypes = cres.entry_point, tuple(cres.signature.args)
        self._check = bool(os.environ.get("LINUXMM_CHECK_ENTRY"))
        self._nargs = len(self._argtypes)

    def _check_types(self, args) -> None:
        """Arrays and structs must have the compiled version's exact types (its wrapper would
        read another dtype, layout or struct as if it had them); numbers only convert."""
        for i, (arg, want) in enumerate(zip(args, self._argtypes)):
            if isinstance(want, (types.Array, types.StructRef)) and self.typeof_pyval(arg) != want:
                raise TypeError(f"{self.py_func.__qualname__}: argument {i} is {self.typeof_pyval(arg)}, "
                                f"compiled for {want}")


def entry(fn):
    """``@njit(cache=True)`` for a function called from Python with arguments of fixed types
    (see ``EntryDispatcher``); plain Python under NUMBA_DISABLE_JIT."""
    if numba.config.DISABLE_JIT:
        return fn
    disp = EntryDispatcher(py_func=fn, locals={}, targetoptions={"nopython": True})
    disp.enable_caching()
    return disp


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
