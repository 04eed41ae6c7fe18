"""The stopping rule shared by both backends and the fit driver: stall detection, adaptive
steps, divergence, and the best model kept across checks.

Plain arithmetic on numbers and arrays: the Numba kernels compile these very functions
(``shared``), the NumPy backend and the driver call them as they are.
"""

import math

from .._kernels.jit import copy_into, shared
from ..schedules import ADAPTIVE, ADAPTIVE_DIVISOR
from .loss_functions import SQUARED_ERROR
from .groups import (BASE_LOSS, BEST_BEFORE, BEST_LOSS, ETA, LOWEST, N_CHECKS, PHASE_START,
                     START_LOSS, STATUS)

#: Fit statuses: still running (the epoch budget ran out), stopped by the rule, blown up, or
#: stopped at the end of an epoch on request (Ctrl-C).
RUNNING, CONVERGED, DIVERGED, INTERRUPTED = 0, 1, 2, 3

#: An adaptive schedule is spent once its step is below ``eta0 * ADAPTIVE_FLOOR``.
ADAPTIVE_FLOOR = 1e-6
#: An adaptive step is kept until the steps taken with it add up to this: one relaxation time
#: of a direction of unit curvature (the typical curvature of standardised data), so that
#: noise in the epoch losses cannot shrink the step before the iterates have followed it.
ADAPTIVE_PHASE_STEPS = 1.0
#: A loss this many times the starting loss means the iterates are blowing up.
DIVERGENCE_RATIO = 1e6
#: Losses computed in different orders (or from moments) differ by rounding: a stall counts
#: as "above the start" only beyond this relative margin.
ROUNDING_RTOL = 1e-9
#: An adaptive schedule applies the rule every ``CHECK_UPDATES`` updates, not once an epoch,
#: when an epoch has more updates than that and X at most ``CHECK_MAX_FEATURES`` columns (the
#: loss then costs O(d^2) from the data's moments): on large data one epoch is enough to reach
#: the noise floor of a step, and waiting whole epochs to shrink it would waste most of the fit.
CHECK_UPDATES = 512
CHECK_MAX_FEATURES = 16
#: The doubling rule of :func:`check_progress` compares the averages at checks ``m`` and
#: ``2m`` from ``m = DOUBLING_MIN_CHECKS`` on: averages of fewer checks are too noisy to
#: compare (on 1,000 rows a fit stopped at check 4 could end at 1e-3 above least squares).
DOUBLING_MIN_CHECKS = 4
#: The doubling rule stops on a gain below ``DOUBLING_SAFETY * window * tol``: a gain can
#: understate the excess left (on a random sparse design, at a step's plateau, by 2.6x).
DOUBLING_SAFETY = 0.5
#: A variance-reduced fit stops when the excess left, estimated from its last two gains, is at
#: most this times ``tol`` of the loss (the estimate assumes a constant rate, which on
#: ill-conditioned data slows down as the fit goes).
VARIANCE_SAFETY = 0.5


@shared
def within_one_standard_error(q, q_lowest, weights):
    """Whether a check's validation loss is within one standard error of the lowest so far.

    ``q[i]`` and ``q_lowest[i]`` are the losses on validation row ``i`` of the check and of the
    lowest check. The comparison is paired, row by row: the weighted mean of the differences
    against its standard error (``weights`` None: unit weights, else their effective number
    of rows). Keeping the latest check within one standard error of the lowest is the
    one-standard-error rule: the held-out rows cannot tell such checks apart, and the later
    weights, which went through more (and smaller) steps, are preferred over a check that
    fitted the held-out rows by luck.

    Returns
    -------
    bool
    """
    total = 0.0
    total_sq = 0.0
    sum_d = 0.0
    sum_dd = 0.0
    for i in range(q.shape[0]):
        if weights is None:
            w = 1.0
        else:
            w = weights[i]
        d = q[i] - q_lowest[i]
        total += w
        total_sq += w * w
        sum_d += w * d
        sum_dd += w * d * d
    mean = sum_d / total
    if mean <= 0.0:
        return True
    variance = max(sum_dd / total - mean * mean, 0.0)  # mean > 0: no cancellation to fear
    rows = total * total / total_sq
    return mean <= math.sqrt(variance / rows)


def check_interval(kind, loss, n_features, n_batches, validating):
    """Updates between two applications of the rule for schedule code ``kind`` and loss code
    ``loss`` (``n_batches``: once an epoch; always so with a validation set, or a loss other
    than squared error, whose loss costs a pass over the rows)."""
    frequent = kind == ADAPTIVE and loss == SQUARED_ERROR and n_features <= CHECK_MAX_FEATURES
    if frequent and not validating and n_batches > CHECK_UPDATES:
        return CHECK_UPDATES
    return n_batches


@shared
def ends_average_span(checks_done):
    """Whether the average restarts after check ``checks_done`` (1, 2, 4, 8, ...; see
    :func:`restarts_average`), so that the averages at checks ``m`` and ``2m`` of such checks
    span disjoint stretches of the fit."""
    return checks_done > 0 and (checks_done & (checks_done - 1)) == 0


@shared
def check_progress(history, epoch, phase_start, best_before, eta, base_loss, eta0, kind, tol,
                   stop_early, window, n_batches, start_loss, doubling):
    """Apply the stopping rule at check ``epoch``, whose training loss is ``history[epoch]``.

    The rule is applied at the end of every epoch, or every :func:`check_interval` updates;
    "epoch" below means the span between two checks. A phase is the run of epochs since the
    step was last changed. The fit has stalled when the last ``window`` epochs of the phase
    bring no loss below ``(1 - tol)`` times the lowest loss of the phase's earlier epochs.

    A stall ends the fit when ``stop_early``, except under an adaptive schedule: there it
    divides the step by 5 and starts a new phase, and ends the fit only when the phase just
    finished never went below ``(1 - tol)`` times the loss at the end of the phase before (a
    smaller step no longer helps) or the step fell below ``eta0 * ADAPTIVE_FLOOR``. An adaptive
    phase also lasts until its steps add up to ``ADAPTIVE_PHASE_STEPS``.

    With ``doubling`` (``Checks.doubling_stop``; the average restarts after check 1, 2, 4,
    ...) the fit also stops at check ``2m`` (``m >= DOUBLING_MIN_CHECKS`` a power of two,
    the steps of the checks since ``m`` adding up to ``ADAPTIVE_PHASE_STEPS``) when the loss
    there is below the loss at check ``m`` by at most ``DOUBLING_SAFETY * window * tol``
    times itself, and not above it by more than rounding. The two averages span disjoint
    stretches of the fit, the second twice as long; an average's excess over the optimum
    falls at least like one over its length (Bach & Moulines, NIPS 2013), so the gain of
    that doubling estimates the excess left.

    The fit has diverged when the loss is not finite, exceeds ``DIVERGENCE_RATIO`` times the
    loss at the start, or (for a schedule that cannot shrink its step) has stalled above the
    loss at the start. An adaptive schedule stalled above the start shrinks its step like any
    stall: the start may be near the optimum already (a warm start, a strong penalty).

    Parameters
    ----------
    history : ndarray
        Training loss at each check so far.
    epoch : int
        Index of the epoch just run.
    phase_start : int
        First epoch of the current phase.
    best_before : float
        Lowest loss of the phase's epochs before the last ``window`` ones of the previous
        call (``inf`` at the start of a phase); updated here, so the rule costs O(window).
    eta : float
        Current step (only an adaptive schedule changes it).
    base_loss : float
        Loss at the end of the previous phase (``inf`` in the first phase).
    eta0 : float
        Initial step.
    kind : int
        Schedule code.
    tol : float
        Relative decrease that counts as progress, >= 0.
    stop_early : bool
        Whether a stall may end the fit.
    window : int
        Epochs without progress that make a stall (``n_iter_no_change``).
    n_batches : int
        Updates between checks.
    start_loss : float
        Training loss of the starting point.
    doubling : bool
        Whether the doubling rule above applies.

    Returns
    -------
    phase_start : int
    best_before : float
    eta : float
    base_loss : float
    status : int
        ``RUNNING``, ``CONVERGED`` (stop now) or ``DIVERGED`` (the loss is not finite).
    """
    loss = history[epoch]
    tol = max(tol, ROUNDING_RTOL)
    if not math.isfinite(loss) or loss > DIVERGENCE_RATIO * start_loss:
        return phase_start, best_before, eta, base_loss, DIVERGED
    done = epoch + 1
    if (doubling and stop_early and done >= 2 * DOUBLING_MIN_CHECKS and ends_average_span(done)
            and (done // 2) * n_batches * eta >= ADAPTIVE_PHASE_STEPS
            and -ROUNDING_RTOL * loss <= history[done // 2 - 1] - loss
            <= DOUBLING_SAFETY * window * tol * loss):
        return phase_start, best_before, eta, base_loss, CONVERGED
    first_recent = done - window
    if first_recent <= phase_start:
        return phase_start, best_before, eta, base_loss, RUNNING
    best_before = min(best_before, history[first_recent - 1])
    if kind == ADAPTIVE and (epoch + 1 - phase_start) * n_batches * eta < ADAPTIVE_PHASE_STEPS:
        return phase_start, best_before, eta, base_loss, RUNNING
    best_recent = history[first_recent]
    for e in range(first_recent, epoch + 1):
        best_recent = min(best_recent, history[e])
    if best_recent < best_before * (1.0 - tol):
        return phase_start, best_before, eta, base_loss, RUNNING
    if kind != ADAPTIVE:
        if best_recent > start_loss * (1.0 + ROUNDING_RTOL):
            return phase_start, best_before, eta, base_loss, DIVERGED
        return phase_start, best_before, eta, base_loss, CONVERGED if stop_early else RUNNING
    spent = best_before >= base_loss * (1.0 - tol) or eta < eta0 * ADAPTIVE_FLOOR
    if stop_early and spent:
        return phase_start, best_before, eta, base_loss, CONVERGED
    return epoch + 1, math.inf, eta / ADAPTIVE_DIVISOR, loss, RUNNING


def variance_reduced_progress(loss, gain, previous_gain, tol, stop_early):
    """The stopping rule of a variance-reduced epoch (``fastgd._engine.variance``) whose
    snapshot's loss fell by ``gain`` to ``loss``, after ``previous_gain`` the epoch before
    (NaN: none yet).

    Such epochs bring the excess over the optimum down geometrically, so the ratio ``rho`` of
    two gains estimates their factor and ``gain * rho / (1 - rho)`` the excess left. With
    ``stop_early`` the fit stops (``CONVERGED``) once both the gain and that estimate are at
    most ``VARIANCE_SAFETY * tol`` times the loss, or once an epoch gains nothing beyond
    rounding. The gain itself is asked for because the rate is not constant: on heavy-tailed
    rows a gain of 2.3e-2 followed by 9e-4 (``rho`` 0.04) left 1.3e-3, not 4e-5.

    Returns
    -------
    int
        ``RUNNING`` or ``CONVERGED``.
    """
    if not stop_early:
        return RUNNING
    if abs(gain) <= ROUNDING_RTOL * loss:
        return CONVERGED
    enough = VARIANCE_SAFETY * max(tol, ROUNDING_RTOL) * loss
    if not previous_gain > 0.0 or not 0.0 < gain <= enough:
        return RUNNING
    rho = gain / previous_gain
    if rho < 1.0 and gain * rho / (1.0 - rho) <= enough:
        return CONVERGED
    return RUNNING


@shared
def restarts_average(tracker, phase_eta):
    """Whether the average starts again before the next updates (``Checks.average_phases``):
    at the fit's start (``phase_eta`` NaN) and after its check 1, 2, 4, 8, ... So the average
    always spans the latest half of the fit's updates or more: tail averaging, which forgets
    the first, transient iterates (an average from the start lags behind them). A change of
    step does not restart it: an average over a short span at the new step would be noisier
    than the long one it is compared with."""
    if math.isnan(phase_eta):
        return True
    return ends_average_span(tracker.counts[N_CHECKS])


@shared
def restart_averaging(tracker, phase_eta, coef, intercept):
    """Apply :func:`restarts_average` before the next updates of the iterate ``coef,
    intercept``; return whether the average starts again. A new phase (after the first) goes
    on from the best model checked, an average, not from the last iterate: the iterate at the
    end of a phase is as noisy as its step, the average is not."""
    if tracker.values[ETA] != phase_eta and not math.isnan(phase_eta):
        copy_into(coef, tracker.best_coef)
        copy_into(intercept, tracker.best_intercept)
    return restarts_average(tracker, phase_eta)


@shared
def start_tracking(tracker, start_loss, coef, intercept):
    """Record the loss of the starting model, which is the kept one until a check beats it."""
    tracker.values[START_LOSS] = start_loss
    tracker.values[LOWEST] = start_loss
    tracker.values[BEST_LOSS] = start_loss
    copy_into(tracker.best_coef, coef)
    copy_into(tracker.best_intercept, intercept)


@shared
def record_loss(tracker, loss, close_to_lowest, coef, intercept, keep_best):
    """Record a check's loss of the model ``coef, intercept`` in ``tracker``; with ``keep_best``
    keep the model when its loss is the lowest so far or ``close_to_lowest``. Returns the
    check's number."""
    counts, values = tracker.counts, tracker.values
    n = counts[N_CHECKS]
    tracker.losses[n] = loss
    keep = loss <= values[LOWEST] or close_to_lowest
    values[LOWEST] = min(values[LOWEST], loss)
    if keep_best and keep:
        values[BEST_LOSS] = loss
        copy_into(tracker.best_coef, coef)
        copy_into(tracker.best_intercept, intercept)
    counts[N_CHECKS] = n + 1
    return n


@shared
def record_check(tracker, loss, close_to_lowest, coef, intercept, steps, checks):
    """Record a check's loss of the model ``coef, intercept`` and apply the stopping rule.

    The model is kept (``checks.keep_best``) when its loss is the lowest so far, or when
    ``close_to_lowest`` (a validation loss within one standard error of the lowest, see
    :func:`within_one_standard_error`): the latest such model is kept.

    Returns
    -------
    int
        The fit's status, also stored in ``tracker.counts[STATUS]``; the current step is
        ``tracker.values[ETA]``.
    """
    counts, values = tracker.counts, tracker.values
    n = record_loss(tracker, loss, close_to_lowest, coef, intercept, checks.keep_best)
    phase_start, best_before, eta, base_loss, status = check_progress(
        tracker.losses, n, counts[PHASE_START], values[BEST_BEFORE], values[ETA],
        values[BASE_LOSS], steps.eta0, steps.kind, checks.tol, checks.stop_early, checks.window,
        checks.every, values[START_LOSS], checks.doubling_stop)
    counts[PHASE_START] = phase_start
    values[BEST_BEFORE] = best_before
    values[ETA] = eta
    values[BASE_LOSS] = base_loss
    counts[STATUS] = status
    return status
