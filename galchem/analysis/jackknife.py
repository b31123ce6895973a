"""Delete-a-group jackknife over sums kept per group of stars (Kott 2001).

Stars fall into :data:`N_GROUPS` groups by their mixed id keys
(:func:`groups`), so a star's group does not depend on how the catalogue is
partitioned.  An estimate made from sums (least squares, SIMEX, the
corrected slope) is repeated with each group left out (:func:`left_out`),
and the spread of those estimates is its error (:func:`error`): sampling
error, the changing membership of bins and any Monte Carlo noise together,
with no model of the errors.
"""
from __future__ import annotations

import numpy as np

from galchem.analysis import double_double
from galchem.data.ids import mixed_keys

__all__ = ["N_GROUPS", "error", "groups", "left_out", "total"]

N_GROUPS = 32
"""Groups of stars (by mixed id key) for the jackknife."""


def groups(keys: np.ndarray) -> np.ndarray:
    """Each star's jackknife group (0 ... :data:`N_GROUPS` - 1) from its id key."""
    return (mixed_keys(np.asarray(keys, dtype=np.uint64)) % np.uint64(N_GROUPS)).astype(np.int64)


def total(hi: np.ndarray, lo: np.ndarray, chosen: list[int]) -> np.ndarray:
    """The rounded sums over the ``chosen`` groups (axis -2 of double-double sums), added one group after another."""
    total_hi, total_lo = hi[..., chosen[0], :], lo[..., chosen[0], :]
    for g in chosen[1:]:
        total_hi, total_lo = double_double.merge(total_hi, total_lo, hi[..., g, :], lo[..., g, :])
    return total_hi


def left_out(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The sums without each group in turn: shape [..., group, moment] as the input."""
    every = list(range(hi.shape[-2]))
    return np.stack([total(hi, lo, every[:g] + every[g + 1:]) for g in every], axis=-2)


def error(estimates: np.ndarray, axis: int = -1) -> np.ndarray:
    """The jackknife standard error from the estimates with each group left out (along ``axis``)."""
    estimates = np.asarray(estimates, dtype=float)
    g = estimates.shape[axis]
    spread = estimates - estimates.mean(axis=axis, keepdims=True)
    return np.sqrt((g - 1) / g * np.sum(spread**2, axis=axis))
