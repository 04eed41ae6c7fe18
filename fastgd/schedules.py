"""Learning-rate schedules.

Each schedule is a small frozen object that validates its parameters and lowers to plain
numbers, ``(kind, eta0, p1, p2)``, which both backends read through :func:`step_size`.
``t`` is the number of updates done so far (from 0, carried across epochs) and ``epoch`` the
index of the current epoch (from 0).

========================  =================================  ===========================
schedule                  step at update ``t``, epoch ``e``  lowered ``(eta0, p1, p2)``
========================  =================================  ===========================
``Constant(eta0)``        ``eta0``                           ``(eta0, 0, 0)``
``InverseTime(t0, t1)``   ``t0 / (t + t1)``                  ``(t0 / t1, t0, t1)``
``InvScaling(eta0, p)``   ``eta0 / (t + 1) ** p``            ``(eta0, p, 0)``
``Exponential(eta0, g)``  ``eta0 * g ** e``                  ``(eta0, g, 0)``
``Adaptive(eta0)``        ``eta0 / 5 ** k`` after k stalls   ``(eta0, 0, 0)``
========================  =================================  ===========================
"""

import math
import numbers
from dataclasses import dataclass

__all__ = [
    "Schedule",
    "Constant",
    "InverseTime",
    "InvScaling",
    "Exponential",
    "Adaptive",
    "SCHEDULE_NAMES",
    "from_name",
    "step_size",
]

CONSTANT, INVERSE_TIME, INVSCALING, EXPONENTIAL, ADAPTIVE = 0, 1, 2, 3, 4

#: Factor by which :class:`Adaptive` divides its step when the loss stalls.
ADAPTIVE_DIVISOR = 5.0


def _check_positive(name, value):
    # numbers.Real takes NumPy's scalars too (np.float32(0.01), np.int64(5)); bools are not steps
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(
            value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


class Schedule:
    """Base class of the learning-rate schedules."""

    kind = -1

    def lower(self):
        """Return ``(kind, eta0, p1, p2)``: the plain numbers the backends read.

        Returns
        -------
        tuple of (int, float, float, float)
        """
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    """A constant step ``eta0``.

    Parameters
    ----------
    eta0 : float, default 0.01
        The step size, > 0.
    """

    eta0: float = 0.01
    kind = CONSTANT

    def __post_init__(self):
        object.__setattr__(self, "eta0", _check_positive("eta0", self.eta0))

    def lower(self):
        return CONSTANT, self.eta0, 0.0, 0.0


@dataclass(frozen=True)
class InverseTime(Schedule):
    """The lecture's decay ``t0 / (t + t1)``.

    Parameters
    ----------
    t0 : float, default 5.0
        Numerator, > 0.
    t1 : float, default 500.0
        Offset of the update counter, > 0; the first step is ``t0 / t1``.
    """

    t0: float = 5.0
    t1: float = 500.0
    kind = INVERSE_TIME

    def __post_init__(self):
        object.__setattr__(self, "t0", _check_positive("t0", self.t0))
        object.__setattr__(self, "t1", _check_positive("t1", self.t1))

    def lower(self):
        return INVERSE_TIME, self.t0 / self.t1, self.t0, self.t1


@dataclass(frozen=True)
class InvScaling(Schedule):
    """scikit-learn's ``eta0 / (t + 1) ** power_t`` (its ``t`` counts from 1).

    Parameters
    ----------
    eta0 : float, default 0.01
        Initial step, > 0.
    power_t : float, default 0.25
        Exponent, > 0.
    """

    eta0: float = 0.01
    power_t: float = 0.25
    kind = INVSCALING

    def __post_init__(self):
        object.__setattr__(self, "eta0", _check_positive("eta0", self.eta0))
        object.__setattr__(self, "power_t", _check_positive("power_t", self.power_t))

    def lower(self):
        return INVSCALING, self.eta0, self.power_t, 0.0


@dataclass(frozen=True)
class Exponential(Schedule):
    """Per-epoch exponential decay ``eta0 * gamma ** epoch``.

    Parameters
    ----------
    eta0 : float, default 0.01
        Initial step, > 0.
    gamma : float, default 0.95
        Decay factor per epoch, in (0, 1].
    """

    eta0: float = 0.01
    gamma: float = 0.95
    kind = EXPONENTIAL

    def __post_init__(self):
        object.__setattr__(self, "eta0", _check_positive("eta0", self.eta0))
        gamma = _check_positive("gamma", self.gamma)
        if gamma > 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}.")
        object.__setattr__(self, "gamma", gamma)

    def lower(self):
        return EXPONENTIAL, self.eta0, self.gamma, 0.0


@dataclass(frozen=True)
class Adaptive(Schedule):
    """``eta0``, divided by 5 each time the epoch loss stops improving.

    A stall is ``n_iter_no_change`` epochs in a row without a relative improvement of ``tol``
    (of ``0`` when ``tol=None``). With a stopping rule in force the fit stops once the step has
    fallen below ``eta0 * 1e-6``.

    Parameters
    ----------
    eta0 : float, default 0.01
        Initial step, > 0.
    """

    eta0: float = 0.01
    kind = ADAPTIVE

    def __post_init__(self):
        object.__setattr__(self, "eta0", _check_positive("eta0", self.eta0))

    def lower(self):
        return ADAPTIVE, self.eta0, 0.0, 0.0


_BY_NAME = {
    "constant": Constant,
    "inverse_time": InverseTime,
    "invscaling": InvScaling,
    "exponential": Exponential,
    "adaptive": Adaptive,
}

#: Names accepted by ``fastgd.fit(learning_rate=...)``.
SCHEDULE_NAMES = ("auto",) + tuple(_BY_NAME)


def from_name(name):
    """Return the schedule called ``name`` with its default parameters.

    Parameters
    ----------
    name : str
        One of ``"constant"``, ``"inverse_time"``, ``"invscaling"``, ``"exponential"``,
        ``"adaptive"`` (``"auto"`` is resolved from the data by ``fastgd.fit``).

    Returns
    -------
    Schedule
    """
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise ValueError(
            f"Unknown learning_rate {name!r}: use one of {', '.join(map(repr, SCHEDULE_NAMES))} "
            "or a schedule object from fastgd.schedules."
        ) from None


def step_size(kind, eta, p1, p2, t, epoch):
    """Step of schedule ``kind`` at update ``t`` of epoch ``epoch``.

    Plain arithmetic on numbers, so the Numba kernels compile this very function.

    Parameters
    ----------
    kind : int
        Schedule code from :meth:`Schedule.lower`.
    eta : float
        The lowered ``eta0``; for :class:`Adaptive`, the current (divided) step.
    p1, p2 : float
        The lowered parameters.
    t : int
        Updates done so far.
    epoch : int
        Index of the current epoch.

    Returns
    -------
    float
    """
    if kind == INVERSE_TIME:
        return p1 / (t + p2)
    if kind == INVSCALING:
        return eta / (t + 1.0) ** p1
    if kind == EXPONENTIAL:
        return eta * p1**epoch
    return eta
