"""The compiled differential-evolution sampler: emcee's DEMove chain in law, reproducible, resumable."""
from __future__ import annotations

import emcee
import numpy as np

from galchem.analysis.calibration import LineTruth, simulate_line
from galchem.analysis.de_sampler import DEChain
from galchem.analysis.line_likelihood import DEFAULT_BOUNDS, LineData, least_squares, log_probability

LO, HI = np.array(DEFAULT_BOUNDS, dtype=float).T


def line_data(seed: int = 2, n: int = 400) -> LineData:
    x, y, x_err, y_err = simulate_line(np.random.default_rng(seed), n, LineTruth(m=-0.07, b=0.5, lam=0.12),
                                       x_err_range=(0.05, 0.3), y_err_range=(0.03, 0.15))
    return LineData.from_points(x, y, x_err, y_err, np.zeros_like(x))


def start(data: LineData, walkers: int, seed: int) -> np.ndarray:
    best, scale = least_squares(data)
    return best + 0.1 * scale * np.random.default_rng(seed).normal(size=(walkers, 3))


def test_the_compiled_chain_samples_the_posterior_emcee_samples():
    data = line_data()
    ours = DEChain(data, LO, HI, start(data, 32, 0), key=7)
    ours.run(3000)
    theirs = emcee.EnsembleSampler(32, 3, log_probability, vectorize=True, args=(data, DEFAULT_BOUNDS),
                                   moves=emcee.moves.DEMove())
    theirs.random_state = np.random.RandomState(1).get_state()
    theirs.run_mcmc(start(data, 32, 0), 3000)
    a, b = ours.chain[500:].reshape(-1, 3), theirs.get_chain(discard=500, flat=True)
    # medians within a tenth of the posterior width (each chain has ~10^4 independent samples), widths within 5 %
    np.testing.assert_array_less(np.abs(np.median(a, axis=0) - np.median(b, axis=0)), 0.1 * np.std(b, axis=0))
    np.testing.assert_allclose(np.std(a, axis=0), np.std(b, axis=0), rtol=0.05)
    assert 0.15 < ours.acceptance_fraction.mean() < 0.6


def test_the_same_key_gives_the_same_chain_and_a_chain_resumed_in_pieces_equals_one_run():
    data = line_data(seed=5)
    whole, pieces, other = (DEChain(data, LO, HI, start(data, 10, 3), key=key) for key in (11, 11, 12))
    whole.run(500)
    pieces.run(123)
    pieces.run(377)
    other.run(500)
    assert np.array_equal(whole.chain, pieces.chain)
    assert np.array_equal(whole.acceptance_fraction, pieces.acceptance_fraction)
    assert not np.array_equal(whole.chain, other.chain)


def test_walkers_never_leave_the_priors_range():
    data = line_data(seed=8)
    lo, hi = LO.copy(), HI.copy()
    best, _ = least_squares(data)
    lo[0], hi[0] = best[0] - 0.002, best[0] + 0.002  # a slope range far narrower than the posterior
    initial = start(data, 10, 1)
    initial[:, 0] = best[0] + np.linspace(-0.0015, 0.0015, 10)
    chain = DEChain(data, lo, hi, initial, key=3)
    chain.run(400)
    assert ((chain.chain[..., 0] > lo[0]) & (chain.chain[..., 0] < hi[0])).all()
