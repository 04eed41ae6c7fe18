"""The learning-rate formulas of docs/design.md and their names."""

import numpy as np
import pytest

from fastgd import schedules
from fastgd.schedules import step_size


def eta(schedule, t, epoch):
    return step_size(*schedule.lower(), t, epoch)


@pytest.mark.parametrize("t, epoch", [(0, 0), (7, 1), (1000, 31)])
def test_formulas(t, epoch):
    assert eta(schedules.Constant(0.3), t, epoch) == 0.3
    assert eta(schedules.InverseTime(5, 50), t, epoch) == pytest.approx(5 / (t + 50))
    assert eta(schedules.InvScaling(0.2, 0.25), t, epoch) == pytest.approx(0.2 / (t + 1) ** 0.25)
    assert eta(schedules.Exponential(0.2, 0.9), t, epoch) == pytest.approx(0.2 * 0.9**epoch)
    assert eta(schedules.Adaptive(0.4), t, epoch) == 0.4  # divided by the stopping rule only


@pytest.mark.parametrize("name, cls, params", [
    ("constant", schedules.Constant, dict(eta0=0.01)),
    ("inverse_time", schedules.InverseTime, dict(t0=5.0, t1=500.0)),
    ("invscaling", schedules.InvScaling, dict(eta0=0.01, power_t=0.25)),
    ("exponential", schedules.Exponential, dict(eta0=0.01, gamma=0.95)),
    ("adaptive", schedules.Adaptive, dict(eta0=0.01)),
])
def test_names_give_default_schedules(name, cls, params):
    schedule = schedules.from_name(name)
    assert schedule == cls(**params)
    assert name in schedules.SCHEDULE_NAMES


def test_schedules_are_frozen_and_hashable():
    schedule = schedules.InverseTime(5, 50)
    with pytest.raises(AttributeError):
        schedule.t0 = 1.0
    assert hash(schedule) == hash(schedules.InverseTime(5.0, 50.0))
    assert schedule.lower()[1] == pytest.approx(0.1)  # the first step, t0 / t1


def test_numpy_scalars_are_taken_like_python_numbers():
    assert schedules.Constant(np.float32(0.25)) == schedules.Constant(0.25)
    assert schedules.InverseTime(np.int64(5), np.float64(50.0)) == schedules.InverseTime(5, 50)
    assert type(schedules.Constant(np.float32(0.25)).eta0) is float
    for bad in (True, np.bool_(True), 1j, "0.1", None):
        with pytest.raises(TypeError, match="eta0 must be a real number"):
            schedules.Constant(bad)
