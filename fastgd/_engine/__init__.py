"""The engine of a fit, below validation and preparation and above the results:

- ``groups``: the named groups the engine takes (rows, standardisation, loss, penalty, plan,
  steps, checks, model, tracker, histories); ``loss_functions``: the losses, by residual;
- ``stopping``: the stopping rule and the best model kept, shared by every twin and the driver;
- ``reference``: the NumPy twin of the compiled epoch engine (``fastgd._kernels``);
- ``backends``: the choice of twin;
- ``driver``: what happens once per fit (start loss, checks across blocks, the kept model,
  the final objective, the closing L1 step); ``moments``: losses at checks from moments;
- ``blocks``: one block's epoch, and memory-mapped data in chunks (``fastgd.dask`` adds
  Dask blocks).
"""
