"""Compile-time helpers for the kernels: a software prefetch and optional sample weights.

``prefetch(a, i)`` asks the CPU to start loading row ``i`` of a 2-D array (element ``i`` of a
1-D one) into cache, without waiting for it. The kernels read rows in shuffled order; issuing
the loads a few rows ahead overlaps the memory latencies that otherwise dominate an epoch.
For ``a`` None it does nothing.

``row_weight(weights, i)`` is ``weights[i]``, or ``1.0`` when ``weights`` is None. Numba picks
the version from the argument's type when it compiles, so unweighted fits run code without a
trace of weights (a run-time test in the row loop measured 25% slower).

With the JIT disabled (``NUMBA_DISABLE_JIT=1``) both are plain Python.
"""

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
