"""Exceptions raised by fastgd."""


class DivergenceError(FloatingPointError):
    """The iterates of a fit overflowed.

    Raised instead of returning non-finite coefficients. The message names the epoch in which
    the overflow happened; a smaller learning rate (``eta0``) or ``learning_rate="auto"`` is the
    usual cure.
    """
