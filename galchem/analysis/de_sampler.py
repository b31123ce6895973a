"""A compiled ensemble sampler for the line's posterior: differential evolution, red-blue halves, its own stream.

The move is emcee's ``DEMove`` (ter Braak 2006; Nelson et al. 2014) in
emcee's red-blue scheme (Foreman-Mackey et al. 2013): each step the walkers
are split at random into two halves; each walker of one half proposes
x' = x + gamma (x_a - x_b), with x_a != x_b two walkers of the other half and
gamma = :data:`GAMMA` (1 + :data:`GAMMA_SPREAD` N(0, 1)), and is accepted with
probability min(1, p(x') / p(x)); then the other half moves.  The proposal is
symmetric, so this is emcee's chain in law.  What differs is where it runs:
emcee spends about half a millisecond of Python per step, which for the
line's cheap likelihood (:mod:`galchem.analysis.line_likelihood`, a sum over
error groups) was nine tenths of every fit; here a whole run of steps is one
compiled call.

Every random number comes from one SplitMix64 stream (Steele et al. 2014)
keyed by the fit's seed: the same seed gives the same chain on any machine
and thread count, and a chain extended in pieces equals one run of the same
length.
"""
from __future__ import annotations

import numba
import numpy as np

from galchem.analysis.line_likelihood import LineData, log_likelihood_rows
from galchem.data.ids import GOLDEN, splitmix64
from galchem.errors import FitError

__all__ = ["DEChain", "GAMMA", "GAMMA_SPREAD"]

GAMMA = 2.38 / np.sqrt(2 * 3)
"""The mean scale of a proposal's difference vector for three parameters (ter Braak 2006; emcee's default)."""

GAMMA_SPREAD = 1e-5
"""Relative spread of the scale from proposal to proposal (emcee's ``sigma``)."""


@numba.njit(cache=True, nogil=True)
def _next(state):  # pragma: no cover - compiled
    """The next 64 random bits of a SplitMix64 stream held in ``state[0]``."""
    state[0] += GOLDEN
    return splitmix64(state[0])


@numba.njit(cache=True, nogil=True)
def _uniform(state):  # pragma: no cover - compiled
    """A uniform number in [0, 1) with 53 random bits."""
    return float(_next(state) >> np.uint64(11)) * 2.0**-53


@numba.njit(cache=True, nogil=True)
def _below(state, n):  # pragma: no cover - compiled
    """A uniform integer in [0, n) (bias below 2^-53 n)."""
    return int(_uniform(state) * n)


@numba.njit(cache=True, nogil=True)
def _normal(state):  # pragma: no cover - compiled
    """A standard normal number (Box-Muller, one of the pair)."""
    u1 = 1.0 - _uniform(state)  # (0, 1]
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * _uniform(state))


@numba.njit(cache=True, nogil=True)
def _steps(position, log_prob, state, n_steps, chain, accepted, pivot, lo, hi, n, dbar, terms, rows
           ):  # pragma: no cover - compiled
    """Move the ensemble ``n_steps`` times, writing each step's positions to ``chain`` and counting acceptances."""
    walkers, ndim = position.shape
    half = np.empty(walkers, dtype=np.int64)
    for step in range(n_steps):
        for w in range(walkers):
            half[w] = w % 2
        for w in range(walkers - 1, 0, -1):  # a random split into halves (Fisher-Yates)
            j = _below(state, w + 1)
            half[w], half[j] = half[j], half[w]
        for moving in range(2):
            others = np.flatnonzero(half != moving)
            group = np.flatnonzero(half == moving)
            proposals = np.empty((group.size, ndim))
            for i in range(group.size):  # every proposal of this half from the other half as it stands
                a = _below(state, others.size)
                b = _below(state, others.size - 1)
                b += b >= a
                gamma = GAMMA * (1.0 + GAMMA_SPREAD * _normal(state))
                for d in range(ndim):
                    proposals[i, d] = position[group[i], d] + gamma * (position[others[b], d] - position[others[a], d])
            new = log_likelihood_rows(proposals, pivot, lo, hi, n, dbar, terms, rows)
            for i in range(group.size):
                w = group[i]
                if new[i] - log_prob[w] > np.log(_uniform(state)):
                    for d in range(ndim):  # element by element: no shape checks to compile
                        position[w, d] = proposals[i, d]
                    log_prob[w] = new[i]
                    accepted[w] += 1
        for w in range(walkers):
            for d in range(ndim):
                chain[step, w, d] = position[w, d]


class DEChain:
    """An ensemble of walkers on the line's posterior (sampled as m, c, lam about ``data.pivot``, uniform inside
    ``lo``..``hi``) that owns its positions, log-probabilities, random stream and chain.

    ``run(n)`` adds ``n`` steps; :attr:`chain` is every step so far, shape (steps, walkers, 3).
    """

    def __init__(self, data: LineData, lo: np.ndarray, hi: np.ndarray, initial: np.ndarray, key: int) -> None:
        self._bounds = np.ascontiguousarray(lo, dtype=float), np.ascontiguousarray(hi, dtype=float)
        self._position = np.array(initial, dtype=float, order="C")
        moments = data.moments
        self._likelihood = (data.pivot, *self._bounds, data.n, data.dbar, moments.terms, moments.rows)
        self._log_prob = log_likelihood_rows(self._position, *self._likelihood)
        if not np.all(np.isfinite(self._log_prob)):
            raise FitError("every walker must start where the line's posterior is positive (inside the priors' "
                           "ranges, with a finite likelihood)")
        self._state = np.array([key], dtype=np.uint64)
        self._pieces: list[np.ndarray] = []
        self._accepted = np.zeros(len(self._position), dtype=np.int64)

    @property
    def iteration(self) -> int:
        """Steps taken so far."""
        return sum(len(piece) for piece in self._pieces)

    def run(self, n_steps: int) -> None:
        """Take ``n_steps`` more steps."""
        piece = np.empty((n_steps, *self._position.shape))
        _steps(self._position, self._log_prob, self._state, n_steps, piece, self._accepted, *self._likelihood)
        self._pieces.append(piece)

    @property
    def chain(self) -> np.ndarray:
        """Every step's positions, shape (steps, walkers, 3)."""
        return np.concatenate(self._pieces) if self._pieces else np.empty((0, *self._position.shape))

    @property
    def acceptance_fraction(self) -> np.ndarray:
        """Per walker, the share of its proposals accepted."""
        return self._accepted / max(self.iteration, 1)
