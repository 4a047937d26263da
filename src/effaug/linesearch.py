"""The backtracking line search shared by the Newton solvers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def armijo_step(objective: Callable[[np.ndarray], tuple[float, object]], x: np.ndarray, step: np.ndarray,
                f: float, decrement: float) -> tuple[np.ndarray, float, object]:
    """Move from ``x`` along ``-step``, halving the step length until the
    objective falls by at least 1e-4 of the predicted ``decrement`` (or the
    length is below 1e-10). ``objective(x)`` returns (value, anything else
    worth keeping); returns the new x, its value and that extra."""
    t = 1.0
    while True:
        f_new, extra = objective(x - t * step)
        if f_new <= f - 1e-4 * t * decrement or t < 1e-10:
            return x - t * step, f_new, extra
        t *= 0.5
