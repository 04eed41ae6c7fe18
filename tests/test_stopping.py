"""The end-of-epoch rule: stalls, adaptive steps, divergence, and the epoch budget."""

import numpy as np
import pytest

import fastgd
from fastgd import schedules
from fastgd._engine.stopping import CONVERGED, DIVERGED, RUNNING, check_progress
from fastgd.datasets import make_problem
from fastgd.schedules import ADAPTIVE, CONSTANT


def run_rule(losses, kind=CONSTANT, tol=1e-4, window=5, n_batches=10, eta0=1.0,
             start_loss=10.0, doubling=False):
    """Feed ``losses`` to the rule epoch by epoch; return (epochs seen, status, final eta)."""
    history = np.asarray(losses, dtype=float)
    phase_start, best_before, eta, base_loss = 0, np.inf, eta0, np.inf
    for epoch in range(len(history)):
        phase_start, best_before, eta, base_loss, status = check_progress(
            history, epoch, phase_start, best_before, eta, base_loss, eta0, kind, tol, True,
            window, n_batches, start_loss, doubling)
        if status != RUNNING:
            return epoch + 1, status, eta
    return len(history), RUNNING, eta


def test_steady_small_progress_never_stalls():
    losses = 1.0 + 0.999 ** np.arange(2000)  # 0.1% of the excess per epoch, forever
    assert run_rule(losses, tol=1e-5)[1] == RUNNING


def test_noise_floor_stalls_after_the_window():
    rng = np.random.default_rng(0)
    losses = 1.0 + 1e-6 * rng.random(100)
    losses[:3] = [3.0, 2.0, 1.5]
    epochs, status, _ = run_rule(losses)
    assert status == CONVERGED and epochs <= 12


def averaged_losses(excess_at):
    """Losses of a fit whose average restarts after check 1, 2, 4, ...: at check ``k`` the
    average spans the checks after the last power of two below ``k``, and its excess over
    the optimum 1.0 is ``excess_at(span)``."""
    losses = []
    for k in range(1, 300):
        restart = 1 << (k - 1).bit_length() - 1 if k > 1 else 0
        losses.append(1.0 + excess_at(k - restart))
    return losses


def test_doubling_rule_stops_once_the_excess_left_is_below_the_window_tolerance():
    # an excess falling like 1 / length: the doubling from check m to 2m gains 0.01 / m,
    # below 2.5e-4 (DOUBLING_SAFETY * window * tol) from m = 64 on; no stall in 1000 checks
    losses = averaged_losses(lambda span: 0.01 / span)
    rule = dict(kind=ADAPTIVE, window=1000, tol=5e-7)
    assert run_rule(losses, doubling=True, **rule)[:2] == (128, CONVERGED)
    assert run_rule(losses, **rule)[1] == RUNNING


@pytest.mark.parametrize("losses", [
    [1.0 + 0.5 ** (k / 8) for k in range(1, 200)],  # still falling: no stall, no doubling
    [1.0] * 3 + [1.0 + 1e-9] * 196,  # flat from check 4, too early to compare averages
])
def test_doubling_rule_needs_a_small_gain_from_check_eight_on(losses):
    epochs, status, _ = run_rule(losses, kind=ADAPTIVE, doubling=True, window=1000)
    assert status == RUNNING or epochs >= 8


def test_doubling_rule_ignores_a_loss_that_rose():
    losses = averaged_losses(lambda span: 0.01 / span)
    losses[15] = losses[7] + 1e-6  # check 16 above check 8: no stop there
    epochs, _, _ = run_rule(losses, kind=ADAPTIVE, doubling=True, window=1000)
    assert epochs != 16


def test_doubling_rule_waits_for_the_steps_to_add_up():
    losses = averaged_losses(lambda span: 1e-6 / span)
    assert run_rule(losses, kind=ADAPTIVE, doubling=True, window=1000)[0] == 8
    # steps of 1e-3 at 10 updates a check: 4 checks add up to 0.04, 64 checks to 0.64
    epochs, _, _ = run_rule(losses, kind=ADAPTIVE, doubling=True, window=1000, eta0=1e-3)
    assert epochs >= 256


def test_adaptive_divides_by_five_then_stops_when_smaller_steps_stop_helping():
    losses = np.r_[[2.0, 1.5], np.full(10, 1.2), np.full(10, 1.1), np.full(40, 1.1)]
    epochs, status, eta = run_rule(losses, kind=ADAPTIVE)
    assert status == CONVERGED
    assert eta == pytest.approx(1.0 / 25)  # one division for 1.2 -> 1.1, one that gave nothing


def test_adaptive_phase_lasts_until_its_steps_add_up():
    losses = np.r_[2.0, np.full(60, 1.0)]
    # 10 updates of 0.005 per epoch: a phase needs 20 epochs before it may stall
    epochs, status, _ = run_rule(losses, kind=ADAPTIVE, eta0=0.005)
    assert status == RUNNING or epochs >= 20


@pytest.mark.parametrize("losses", [[1.0, np.nan], [1.0, np.inf], [1.0, 1e8]])
def test_blow_up_is_divergence(losses):
    assert run_rule(losses)[1] == DIVERGED


def test_stalling_above_the_start_is_divergence():
    assert run_rule(np.full(20, 50.0), start_loss=10.0)[1] == DIVERGED


def test_tol_none_runs_every_epoch(backend):
    X, y, _, _ = make_problem("several", random_state=0)
    res = fastgd.fit(X, y, epochs=37, tol=None, random_state=0, backend=backend)
    assert res.n_epochs == 37 and len(res.loss_history) == 37 and not res.converged
    assert res.n_updates == 37 * int(np.ceil(len(X) / 32))


def test_default_rule_converges_before_the_budget(backend):
    X, y, _, _ = make_problem("tall", random_state=0)
    res = fastgd.fit(X, y, random_state=0, backend=backend)
    assert res.converged and res.n_epochs < 1000


def test_auto_reports_the_schedule_it_chose():
    X, y, _, _ = make_problem("several", random_state=0)
    res = fastgd.fit(X, y, epochs=3)
    assert isinstance(res.learning_rate, schedules.Adaptive)
    assert 0 < res.learning_rate.eta0 <= 1.0


def test_check_interval():
    from fastgd._engine.stopping import CHECK_MAX_FEATURES, CHECK_UPDATES, check_interval

    from fastgd._engine.loss_functions import QUANTILE, SQUARED_ERROR as SQ

    assert check_interval(ADAPTIVE, SQ, 3, 10 * CHECK_UPDATES, False) == CHECK_UPDATES
    assert check_interval(ADAPTIVE, SQ, 3, CHECK_UPDATES, False) == CHECK_UPDATES  # once an epoch
    assert check_interval(ADAPTIVE, SQ, CHECK_MAX_FEATURES + 1, 10**6, False) == 10**6
    assert check_interval(CONSTANT, SQ, 3, 10**6, False) == 10**6
    assert check_interval(ADAPTIVE, SQ, 3, 10**6, True) == 10**6  # validation: once an epoch
    assert check_interval(ADAPTIVE, QUANTILE, 3, 10**6, False) == 10**6  # a loss by a pass


def test_backends_agree_when_checking_within_epochs():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((1300, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(1300)
    kwargs = dict(batch_size=2, epochs=6, shuffle=False)  # 650 updates an epoch: 2 checks
    a = fastgd.fit(X, y, backend="numba", **kwargs)
    b = fastgd.fit(X, y, backend="numpy", **kwargs)
    assert a.n_epochs == b.n_epochs and a.n_updates == b.n_updates
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)


def test_large_data_converges_within_few_epochs(backend):
    """Checks within epochs let "auto" shrink its step without waiting for whole epochs."""
    rng = np.random.default_rng(10)
    n = 100_000
    X = rng.standard_normal((n, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5] + 3.0 + rng.standard_normal(n)
    res = fastgd.fit(X, y, random_state=0, backend=backend)
    # checked once an epoch this problem takes 41-59 epochs, checked every 512 updates 6-14
    assert res.converged and res.n_epochs <= 20
    from helpers import excess_mse

    assert excess_mse(X, y, res) <= 1e-3


@pytest.mark.parametrize("family, epochs, seed", [("several", 30, 0), ("correlated", 60, 3)])
def test_auto_ends_with_its_best_checked_weights(family, epochs, seed, backend):
    """The result's training loss is loss_history[-1], and no epoch ended lower."""
    X, y, _, _ = make_problem(family, random_state=0)
    res = fastgd.fit(X, y, epochs=epochs, random_state=seed, backend=backend)
    residual = res.predict(X) - y
    assert res.loss_history[-1] == pytest.approx(0.5 * np.mean(residual**2), rel=1e-9)
    assert res.loss_history[-1] <= res.loss_history.min() * (1 + 1e-12)


def test_a_raw_step_past_the_stable_limit_that_ends_above_its_start_is_divergence(backend):
    """Full batches of standardised columns with an intercept: a step of 2 flips the intercept
    from 0 to 2 * mean(y) and back, so the loss never falls below the start's."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X @ [0.1, 0.2, 0.3] + 5.0 + rng.standard_normal(500)
    with pytest.raises(fastgd.DivergenceError, match="ended above the loss of its start"):
        fastgd.fit(X, y, batch_size=500, learning_rate=schedules.Constant(2.0), random_state=0,
                   backend=backend)
    res = fastgd.fit(X, y, batch_size=500, learning_rate=schedules.Constant(1.0),
                     random_state=0, backend=backend)
    assert res.converged and res.loss_history[-1] < 0.6
