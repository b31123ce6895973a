"""Benchmark: galchem's line fit against a straightforward per-walker numpy log-probability,
and the deconvolved fit against the flat one.

Both fit the same 78 000 points (the size of the study's |Z| < 0.2 kpc bin)
with 10 walkers x 1000 steps, from the same start, with the same move
(galchem's compiled differential evolution, emcee's ``DEMove`` for the naive
fit), each with its own random stream, and must give the same posterior
(medians within 0.25 sigma: each chain holds about a thousand independent
samples, so two agreeing chains differ by about 0.06 sigma).  Then the flat and the deconvolved (``MixturePrior()``) fits
run as the pipeline runs them, chains extended to 50 autocorrelation times,
on the same points.  Prints each fit's time and autocorrelation times,
``ratio_deconv_vs_flat: X`` (how many times longer the deconvolved fit
takes; the goal is at most 3) and, last, ``ratio_vs_naive: X``: how many
times faster galchem is than the naive fit.
"""
from __future__ import annotations

import time

import emcee
import numpy as np

from galchem.analysis.calibration import LineTruth, simulate_line
from galchem.analysis.fitting import fit_line, start_walkers
from galchem.analysis.line_likelihood import BINS_PER_DEX, DEFAULT_BOUNDS, LineData, least_squares, to_pivot
from galchem.analysis.priors import FlatPrior, MixturePrior
from galchem.run.config import RunConfig

N_POINTS, N_WALKERS, N_STEPS, SEED = 78_000, 10, 1000, 2
MAX_STEPS = RunConfig().max_steps  # chains extended to 50 autocorrelation times, as the pipeline runs them
TRUTH = LineTruth(m=-0.078, b=0.418, lam=0.3)


def naive_log_probability(theta, x, y, x_var, y_var, pivot):
    """The likelihood written the obvious way, one walker at a time, in galchem's sampled (m, c, lam)."""
    m, c, lam = theta
    if not all(lo < t < hi for t, (lo, hi) in zip(theta, DEFAULT_BOUNDS)):
        return -np.inf
    sigma2 = y_var + m * m * x_var + lam * lam * (1 + m * m)
    delta = y - m * (x - pivot) - c
    return -0.5 * np.sum(delta * delta / sigma2 + np.log(sigma2))


def main() -> None:
    rng = np.random.default_rng(SEED)
    x, y, x_err, y_err = simulate_line(rng, N_POINTS, TRUTH, x_err_range=(0.05, 0.4), y_err_range=(0.03, 0.2))
    fit_line(x[:100], y[:100], x_err[:100], y_err[:100], n_walkers=N_WALKERS, n_steps=60, max_steps=60,
             prior=MixturePrior())  # compile outside the timing
    t0 = time.perf_counter()
    fast = fit_line(x, y, x_err, y_err, n_walkers=N_WALKERS, n_steps=N_STEPS, max_steps=N_STEPS, seed=SEED)
    t_fast = time.perf_counter() - t0

    # the naive run starts where galchem's did, with emcee's own sampler and stream
    scale = least_squares(LineData.from_points(x, y, x_err, y_err, np.zeros_like(x), BINS_PER_DEX))[1]
    initial, _ = start_walkers(to_pivot(fast.max_likelihood, fast.pivot), scale, DEFAULT_BOUNDS,
                                          N_WALKERS, np.random.default_rng(SEED))
    sampler = emcee.EnsembleSampler(N_WALKERS, 3, naive_log_probability, moves=emcee.moves.DEMove(),
                                    args=(x, y, x_err**2, y_err**2, fast.pivot))
    sampler.random_state = np.random.RandomState(SEED).get_state()
    t0 = time.perf_counter()
    sampler.run_mcmc(initial, N_STEPS)
    t_naive = time.perf_counter() - t0
    naive = sampler.get_chain(discard=fast.burn_in, flat=True)
    naive[:, 1] -= naive[:, 0] * fast.pivot  # the study's intercept at x = 0

    print(f"points: {N_POINTS}, walkers x steps: {N_WALKERS} x {N_STEPS}, method: {fast.method}")
    print(f"naive per-walker log-probability: {t_naive:.1f} s")
    print(f"galchem fit_line (incl. optimiser): {t_fast:.2f} s, tau {np.round(fast.autocorr_time, 1)} steps")
    worst = 0.0
    for k, name in enumerate(("m", "b", "lam")):
        shift = abs(np.median(naive[:, k]) - np.median(fast.samples[:, k])) / np.std(naive[:, k])
        worst = max(worst, shift)
        print(f"{name}: naive {np.median(naive[:, k]):+.5f} +- {np.std(naive[:, k]):.5f}, "
              f"galchem {np.median(fast.samples[:, k]):+.5f} +- {np.std(fast.samples[:, k]):.5f} ({shift:.3f} sigma apart)")
    if worst > 0.25:
        raise SystemExit(f"posteriors disagree: medians {worst:.2f} sigma apart")

    timings = {}
    for prior in (FlatPrior(), MixturePrior()):
        t0 = time.perf_counter()
        fit = fit_line(x, y, x_err, y_err, n_walkers=N_WALKERS, n_steps=N_STEPS, max_steps=MAX_STEPS, seed=SEED,
                       prior=prior)
        timings[prior.name] = time.perf_counter() - t0
        print(f"prior={prior.name}: {timings[prior.name]:.2f} s, {fit.chain.shape[0]} steps (50 tau = "
              f"{50 * max(fit.autocorr_time):.0f}, tau {np.round(fit.autocorr_time, 1)}), "
              f"m = {fit.m:+.5f} +- {fit.m_err:.5f} (truth {TRUTH.m:+.5f})")
    print(f"ratio_deconv_vs_flat: {timings['mixture'] / timings['flat']:.2f}")
    print(f"ratio_vs_naive: {t_naive / t_fast:.1f}")


if __name__ == "__main__":
    main()
