"""LLVM intrinsics for the kernels: a software prefetch.

``prefetch(a, i)`` asks the CPU to start loading row ``i`` of a 2-D array (element ``i`` of a
1-D one) into cache, without waiting for it. The kernels read rows in shuffled order; issuing
the loads a few rows ahead overlaps the memory latencies that otherwise dominate an epoch.
With the JIT disabled (``NUMBA_DISABLE_JIT=1``) it is a Python no-op.
"""

from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic
from llvmlite import ir


@intrinsic
def _prefetch(typingctx, array, i):
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
