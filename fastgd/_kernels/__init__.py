"""The compiled twin of the epoch engine (Numba), by layer:

- ``jit``: the Numba decorator configurations; ``intrinsics``: prefetch and optional weights;
- ``random``: the seeded per-epoch shuffle;
- ``losses``: losses over a block, by a pass or from moments;
- ``updates``: a mini-batch's gradient sums and its proximal step, averaging;
- ``epochs``: the epoch loop over one block (``run_epochs``).

Importing this package imports none of them: ``jit`` works without Numba installed.
"""
