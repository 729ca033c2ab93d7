"""What an env may return: numbers. The one check every step goes through, in-process or in a worker.

Observations and rewards are converted to arrays on every path anyway (``GymMazeEnv`` per env,
the vector envs over all envs at once); these conversions go through :func:`numeric`, which checks
the array's kind (one comparison, whatever its size) before casting. Without it numpy turns a
``None`` observation into NaN (which surfaces much later as a NaN loss) and a string into a
``ValueError`` that names neither the env nor what it returned.
"""

from __future__ import annotations

import reprlib

import numpy as np

from maze_core.errors import EnvWorkerError

#: numpy kinds of numbers: bool, signed and unsigned integers, floats (a str: the fastest ``in``)
_NUMERIC_KINDS = "biuf"

_EXPECTED = {
    "observation": "an observation must be numbers (a numeric numpy array) matching the observation space",
    "reward": "a reward must be a number",
}


class EnvOutputError(EnvWorkerError):
    """An env returned something that is not a number where one is needed.

    :attr:`index` is the env's index within the batch checked, None when one env's value was checked
    (the vector env that stepped it knows its index); :attr:`detail` says what it returned.
    """

    def __init__(self, what: str, value, index: int | None = None):
        returned = f"returned {what} = {reprlib.repr(value)} ({type(value).__name__}); "
        returned += _EXPECTED[what.split("[")[0]]
        self.detail = f"it {returned}"
        self.index = index
        super().__init__(self.detail if index is None else f"env {index} {returned}")

    def __reduce__(self):  # to another process (Ray) as the EnvWorkerError it amounts to
        return EnvWorkerError, self.args


def numeric(value, what: str, dtype=None, batched: bool = False) -> np.ndarray:
    """``value`` as a numpy array (cast to ``dtype``) if it holds numbers, else an EnvOutputError
    naming ``what`` (e.g. ``"reward"``, ``"observation['pixels']"``) and, for a ``batched`` value
    (one row per env), the first env whose row is not numbers."""
    try:
        array = np.asarray(value)
    except ValueError:  # ragged: rows that are not numbers, or numbers in different shapes
        _check_rows(value, what, batched)
        raise
    if array.dtype.kind not in _NUMERIC_KINDS:  # only now look closer (the slow path)
        _check_rows(value, what, batched)
        array = np.array(array.tolist())  # an object array of numbers
    return array if dtype is None else array.astype(dtype, copy=False)


def reward_value(reward) -> float:
    """One env's reward as a float (``float()`` alone would take the string ``"1"``)."""
    if type(reward) is float:
        return reward
    if not isinstance(reward, (str, bytes)):
        try:
            return float(reward)
        except (TypeError, ValueError):
            pass
    raise EnvOutputError("reward", reward)


def _check_rows(value, what: str, batched: bool) -> None:
    """Raise an EnvOutputError for the first row (env) of ``value`` that is not numbers."""
    rows = value if batched else [value]
    for index, row in enumerate(rows):
        if not _is_numeric(row):
            raise EnvOutputError(what, row, index if batched else None)


def _is_numeric(row) -> bool:
    if isinstance(row, np.ndarray) and row.dtype.kind == "O":
        row = row.tolist()  # an object array of numbers holds numbers
    try:
        return np.asarray(row).dtype.kind in _NUMERIC_KINDS
    except ValueError:  # ragged: not an array of numbers
        return False
