"""NumPy backend: the readable reference of what the Numba kernels compute.

Same signature and result as ``fastgd._kernels.run``; one vectorised gradient per batch. It
shuffles with NumPy's PCG64 seeded by ``seed`` (the kernels use their own generator), so the
two backends agree exactly only with ``shuffle=False``.
"""

import numpy as np

from ._stopping import DIVERGED, RUNNING, check_progress
from .schedules import step_size


def run(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, fit_intercept, batch_size,
        n_batches, shuffle, seed, epochs, kind, eta0, p1, p2, tol, stop_early, n_iter_no_change,
        check_every, keep_best, loss_history):
    """Run up to ``epochs`` epochs of mini-batch gradient descent, updating in place.

    See ``fastgd._kernels._run_epochs`` for the parameters and the returned
    ``(n_epochs, n_updates, status)``.
    """
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    order = np.arange(n)
    y_std = (y.astype(np.float64) - y_offset) / y_scale

    def training_loss():
        residual = (X - x_offset) / x_scale @ coef + intercept[0] - y_std
        return 0.5 * np.mean(residual**2)

    start_loss = training_loss()
    check_losses = []
    best_loss, best_coef, best_intercept = np.inf, coef.copy(), intercept.copy()
    t, eta, phase_start, best_before, base_loss, status = 0, eta0, 0, np.inf, np.inf, RUNNING
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(epochs):
            if shuffle:
                order = rng.permutation(n)
            for batch in range(n_batches):
                rows = order[batch * batch_size:(batch + 1) * batch_size]
                X_batch = (X[rows] - x_offset) / x_scale  # standardised rows
                residual = X_batch @ coef + intercept[0] - y_std[rows]
                eta_t = step_size(kind, eta, p1, p2, t, epoch)
                coef -= eta_t * (X_batch.T @ residual) / len(rows)
                if fit_intercept:
                    intercept[0] -= eta_t * residual.mean()
                t += 1
                if (batch + 1) % check_every == 0 or batch + 1 == n_batches:
                    check_losses.append(training_loss())
                    if keep_best and check_losses[-1] < best_loss:
                        best_loss = check_losses[-1]
                        best_coef[:], best_intercept[:] = coef, intercept
                    phase_start, best_before, eta, base_loss, status = check_progress(
                        check_losses, len(check_losses) - 1, phase_start, best_before, eta,
                        base_loss, eta0, kind, tol, stop_early, n_iter_no_change, check_every,
                        start_loss)
                    if status != RUNNING:
                        break
            loss_history[epoch] = check_losses[-1]
            if status != RUNNING:
                break
    n_epochs = epoch + 1
    if keep_best and status != DIVERGED and best_loss < check_losses[-1]:
        coef[:], intercept[:] = best_coef, best_intercept
        loss_history[n_epochs - 1] = best_loss
    return n_epochs, t, status
