"""NumPy backend: the readable reference of what the Numba kernels compute.

Same signature and result as ``fastgd._kernels.run``; one vectorised gradient per batch. It
shuffles with NumPy's PCG64 seeded by ``(seed, epoch)`` (the kernels use their own generator),
so the two backends agree exactly only with ``shuffle=False``.
"""

import numpy as np

from ._stopping import (DIVERGED, INTERRUPTED, RUNNING, check_progress,
                        within_one_standard_error)
from .schedules import step_size


def run(X, Y, weights, x_offset, x_scale, y_offset, y_scale, coef, intercept, fit_intercept, l1,
        l2, batch_size, n_batches, shuffle, seed, epochs, first_epoch, first_update, kind, eta0,
        p1, p2, tol, stop_early,
        n_iter_no_change, check_every, keep_best, average_start, X_val, Y_val, weights_val,
        loss_history, val_history, control):
    """Run up to ``epochs`` epochs of mini-batch gradient descent, updating in place.

    See ``fastgd._kernels._run_epochs`` for the parameters and the returned
    ``(n_epochs, n_updates, status)``.
    """
    n = X.shape[0]
    order = np.arange(n)
    validating = X_val.shape[0] > 0
    interval_averages = validating and average_start < 0

    def standardise(X, Y, weights):
        s = np.ones(X.shape[0]) if weights is None else weights
        return (X - x_offset) / x_scale, (Y.astype(np.float64) - y_offset) / y_scale, s

    Z, T, s = standardise(X, Y, weights)
    Z_val, T_val, s_val = standardise(X_val, Y_val, weights_val)

    def row_losses(Z, T, coef, intercept):
        """``(1/2) r^2`` of each row (first axis) and target."""
        return 0.5 * (Z @ coef.T + intercept - T) ** 2

    def losses(Z, T, s, coef, intercept, penalised):
        """Loss (plus penalty) of each target: ``(1/2) sum(s r^2) / sum(s)``."""
        out = s @ row_losses(Z, T, coef, intercept) / s.sum()
        if penalised:
            out += (l1 * np.abs(coef)).sum(axis=1) + 0.5 * coef**2 @ l2
        return out

    def check(coef, intercept):
        if validating:
            return losses(Z_val, T_val, s_val, coef, intercept, False)
        return losses(Z, T, s, coef, intercept, True)

    def proximal_step(rows, eta_t):
        """One step on the weighted mean gradient of ``rows``, then the penalty's proximal map."""
        weight = s[rows].sum()
        if weight > 0:
            residual = (Z[rows] @ coef.T + intercept - T[rows]) * s[rows, None]
            w = coef - eta_t * (residual.T @ Z[rows]) / weight
            coef[:] = np.sign(w) * np.maximum(np.abs(w) - eta_t * l1, 0.0) / (1.0 + eta_t * l2)
            if fit_intercept:
                intercept[:] -= eta_t * residual.sum(axis=0) / weight

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is divergence, as in the kernels
        start_loss = check(coef, intercept).sum()
        check_losses = []
        best_loss, best_coef, best_intercept = start_loss, coef.copy(), intercept.copy()
        lowest = start_loss
        q_lowest = row_losses(Z_val, T_val, coef, intercept).sum(axis=1)
        avg_coef, avg_intercept = coef.copy(), intercept.copy()
        model_coef, model_intercept = coef, intercept
        t, eta, phase_start, best_before, base_loss, status = (first_update, eta0, 0, np.inf,
                                                               np.inf, RUNNING)
        for run_epoch in range(epochs):
            epoch = first_epoch + run_epoch
            if shuffle:  # each epoch from its own stream, as in the kernels
                order = np.random.default_rng([seed, 0, epoch]).permutation(n)
            for batch in range(n_batches):
                rows = order[batch * batch_size:(batch + 1) * batch_size]
                proximal_step(rows, step_size(kind, eta, p1, p2, t, epoch))
                t += 1
                if interval_averages and (batch % check_every == 0):
                    average_start = t - 1  # each check evaluates its interval's average
                if 0 <= average_start < t:
                    share = 1.0 / (t - average_start)
                    avg_coef += (coef - avg_coef) * share
                    avg_intercept += (intercept - avg_intercept) * share
                    model_coef, model_intercept = avg_coef, avg_intercept
                if (batch + 1) % check_every == 0 or batch + 1 == n_batches:
                    out = check(model_coef, model_intercept)
                    check_losses.append(out.sum())
                    keep = check_losses[-1] <= lowest
                    if validating:
                        q = row_losses(Z_val, T_val, model_coef, model_intercept).sum(axis=1)
                        keep = keep or within_one_standard_error(q, q_lowest, s_val)
                        if check_losses[-1] <= lowest:
                            q_lowest = q
                    lowest = min(lowest, check_losses[-1])
                    if keep_best and keep:
                        best_loss = check_losses[-1]
                        best_coef[:], best_intercept[:] = model_coef, model_intercept
                    phase_start, best_before, eta, base_loss, status = check_progress(
                        check_losses, len(check_losses) - 1, phase_start, best_before, eta,
                        base_loss, eta0, kind, tol, stop_early, n_iter_no_change, check_every,
                        start_loss)
                    if status != RUNNING:
                        break
            if validating:
                val_history[run_epoch] = out
                out = losses(Z, T, s, model_coef, model_intercept, True)
            loss_history[run_epoch] = out
            control[1] = run_epoch + 1
            if status == RUNNING and control[0] != 0:
                status = INTERRUPTED
            if status != RUNNING:
                break
        n_epochs = run_epoch + 1
        if status == DIVERGED:
            return n_epochs, t, status
        coef[:], intercept[:] = model_coef, model_intercept
        if keep_best and best_loss < check_losses[-1]:
            coef[:], intercept[:] = best_coef, best_intercept
        loss_history[n_epochs - 1] = losses(Z, T, s, coef, intercept, True)
        if not validating and np.any(l1 > 0):  # a full-gradient step zeroes noise (see kernels)
            before = coef.copy(), intercept.copy()
            proximal_step(np.arange(n), step_size(kind, eta0, p1, p2, 0, 0))
            polished = losses(Z, T, s, coef, intercept, True)
            if polished.sum() > loss_history[n_epochs - 1].sum():
                coef[:], intercept[:] = before
            else:
                loss_history[n_epochs - 1] = polished
        if validating:
            val_history[n_epochs - 1] = losses(Z_val, T_val, s_val, coef, intercept, False)
        return n_epochs, t, status
