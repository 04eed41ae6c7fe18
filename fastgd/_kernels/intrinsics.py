"""Compile-time helpers for the kernels: a software prefetch and optional sample weights.

``prefetch(a, i)`` asks the CPU to start loading row ``i`` of a 2-D array (element ``i`` of a
1-D one) into cache, without waiting for it. The kernels read rows in shuffled order; issuing
the loads a few rows ahead overlaps the memory latencies that otherwise dominate an epoch.
For ``a`` None it does nothing.

``row_weight(weights, i)`` is ``weights[i]``, or ``1.0`` when ``weights`` is None. Numba picks
the version from the argument's type when it compiles, so unweighted fits run code without a
trace of weights (a run-time test in the row loop measured 25% slower).

``row_dot(X, i, V, t)`` is the dot product of row ``i`` of X (an array or a ``Csr``) with
row ``t`` of ``V``.

A function of ``rows`` (a ``Rows`` group) with a dense and a sparse kernel is a plain
function choosing by :func:`is_dense`, overloaded with :func:`pick_format`: Numba picks the
kernel by the type of ``rows.X`` when it compiles the caller.

With the JIT disabled (``NUMBA_DISABLE_JIT=1``) all are plain Python.
"""

import numpy as np
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from llvmlite import ir


@intrinsic
def _prefetch(typingctx, array, i):
    if isinstance(array, types.NoneType):
        return types.void(array, i), lambda context, builder, signature, args: None
    if not isinstance(array, types.Array) or array.ndim not in (1, 2):
        return None

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        ary = context.make_array(array_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        indices = [context.cast(builder, args[1], index_type, types.intp)]
        indices += [zero] * (array_type.ndim - 1)
        pointer = cgutils.get_item_pointer(context, builder, array_type, ary, indices)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0")
        # read access, high temporal locality, data cache
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, i), codegen


def _prefetch_python(array, i):
    """Python stand-in for :func:`_prefetch` when the JIT is disabled: does nothing."""


prefetch = _prefetch_python if config.DISABLE_JIT else _prefetch


def row_weight(weights, i):
    """The weight of row ``i``: ``weights[i]``, or 1.0 when ``weights`` is None."""
    return 1.0 if weights is None else weights[i]


@overload(row_weight, inline="always")
def _row_weight(weights, i):
    if isinstance(weights, types.NoneType):
        return lambda weights, i: 1.0
    return lambda weights, i: weights[i]


def _dense_row_dot(X, i, V, t):
    total = 0.0
    for j in range(X.shape[1]):
        total += X[i, j] * V[t, j]
    return total


def _sparse_row_dot(X, i, V, t):
    data, indices, indptr, _ = X
    total = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        total += data[p] * V[t, indices[p]]
    return total


def row_dot(X, i, V, t):
    """``X[i] . V[t]`` for a dense or a ``Csr`` X."""
    if isinstance(X, np.ndarray):
        return _dense_row_dot(X, i, V, t)
    return _sparse_row_dot(X, i, V, t)


@overload(row_dot, inline="always")
def _row_dot(X, i, V, t):
    return _dense_row_dot if isinstance(X, types.Array) else _sparse_row_dot


def _dense_add_row(X, i, factor, G, t):
    for j in range(X.shape[1]):
        G[t, j] += factor * X[i, j]


def _sparse_add_row(X, i, factor, G, t):
    data, indices, indptr, _ = X
    for p in range(indptr[i], indptr[i + 1]):
        G[t, indices[p]] += factor * data[p]


def add_row(X, i, factor, G, t):
    """``G[t] += factor * X[i]`` for a dense or a ``Csr`` X."""
    if isinstance(X, np.ndarray):
        return _dense_add_row(X, i, factor, G, t)
    return _sparse_add_row(X, i, factor, G, t)


@overload(add_row, inline="always")
def _add_row(X, i, factor, G, t):
    return _dense_add_row if isinstance(X, types.Array) else _sparse_add_row


def is_dense(rows):
    """Whether ``rows`` (a ``Rows`` group) holds a dense X, for the Python twins of overloads."""
    return isinstance(rows.X, np.ndarray)


def pick_format(rows, dense, sparse):
    """For an ``@overload`` on the type ``rows`` of a ``Rows`` group: the kernel ``dense`` for
    an array X, else ``sparse``. An inlined kernel's ``py_func`` is an implementation to
    return as it is (compiled into the caller, with its flags); any other kernel is called by
    the implementation."""
    return dense if isinstance(rows.types[0], types.Array) else sparse
