"""Validation: corrected gradients against the mock's truth, bin by bin, for the Gaia and the LAMOST mock.

For each radial and vertical bin of the final sample: the truth
(:func:`galchem.analysis.gradients.truth_gradients`) and the pulls
(fit - truth) / error of the flat fit, the old in-bin deconvolved fit
(``prior=MixturePrior()``), the new corrected fit (regression calibration on
one latent distance per star, :mod:`galchem.analysis.latent_distance`) and
SIMEX (:mod:`galchem.analysis.simex`).  Runs in memory on the pipeline's
kinematic sample; the prior is fitted to the catalogue's stars before the
precision cuts.

``m_true_w`` is the truth weighted as the likelihood weights the stars
(1 / (sigma_[Fe/H]^2 + m^2 Var[x|obs] + lam^2 (1 + m^2)) at the corrected
fit): where [Fe/H] errors grow with distance and [Fe/H] is not a line in x
(populations mixed), the weighted and the unweighted truth differ, and a
likelihood fit estimates the weighted one (``pull_corr_w``).

    PYTHONPATH=. python benchmarks/corrected.py [n_stars] [seed]
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from galchem.analysis import gradients, latent_distance, simex
from galchem.analysis.fitting import fit_line
from galchem.analysis.priors import MixturePrior
from galchem.data import cuts
from galchem.data.ids import id_keys
from galchem.data.sources import load_mock
from galchem.data.ids import seed_key
from galchem.run import stages
from galchem.run.config import RunConfig

OPTIONS = {"n_walkers": 10, "n_steps": 1000, "max_steps": 4000}


def weighted_slope(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float:
    """Weighted least-squares slope of y on x."""
    design = np.column_stack([np.ones_like(x), x])
    return float(np.linalg.solve(design.T @ (weight[:, None] * design), design.T @ (weight * y))[1])


def prior_population(dataset) -> pd.DataFrame:
    """The catalogue's rows through every cut but those that select on the distance measure."""
    survey = dataset.survey
    precision = {cuts.PARALLAX_CUT.name, cuts.DISTANCE_CUT.name}
    chosen = [c for c in (*cuts.quality_cuts(survey), cuts.VELOCITY_CUT) if c.name not in precision]
    return pd.concat([cuts.apply_cuts(part.read(survey), chosen).table for part in dataset.parts], ignore_index=True)


def survey_table(survey: str, n: int, seed: int) -> pd.DataFrame:
    t0 = time.time()
    dataset = load_mock(survey, n, seed)
    config = RunConfig(mock_stars=n, mock_seed=seed, n_mc=200)
    sample = stages.kinematic_sample(dataset, config).sample
    truth = pd.concat([part.truth() for part in dataset.parts], ignore_index=True)
    has_parallax = dataset.survey.has_parallax
    parent = prior_population(dataset)
    measure = latent_distance.distance_measure(parent, has_parallax)
    prior = latent_distance.fit_prior(
        latent_distance.prior_sample(id_keys(parent["id"]), parent["ra"], parent["dec"], measure), measure.kind)
    canonical = parent.set_index("id").loc[sample["id"].to_numpy()].reset_index()
    star_measure = latent_distance.distance_measure(canonical, has_parallax)
    moments = latent_distance.posterior_moments(prior, sample["ra"], sample["dec"], star_measure)
    binnings = stages.binnings(RunConfig())
    keys = id_keys(sample["id"])
    simex_parts = simex.simex_sums(keys, sample["ra"], sample["dec"], star_measure, sample["feh"], binnings,
                                   seed_key(7))
    print(f"{survey}: {n:,} rows, {len(sample):,} in the final sample, prior cells with their own mixture "
          f"{int(prior.own.sum())}/{prior.own.size} ({time.time() - t0:.0f} s)", flush=True)
    rows = []
    coords = gradients.coordinates(sample)
    truth_by_id = truth.set_index("source_id").loc[sample["id"].to_numpy()]
    for b, binning in enumerate(binnings):
        true = gradients.truth_gradients(sample, truth, binning, min_stars=RunConfig().min_stars)
        index = gradients.bin_index(sample, binning)
        simex_estimates = simex.estimate(simex_parts[b])
        for k in range(len(binning.edges) - 1):
            inside = index == k
            if inside.sum() < RunConfig().min_stars:
                continue
            y, y_err = sample["feh"].to_numpy()[inside], sample["feh_err"].to_numpy()[inside]
            x, x_err = coords[binning.x].to_numpy()[inside], coords[f"{binning.x}_err"].to_numpy()[inside]
            flat = fit_line(x, y, x_err, y_err, seed=1, **OPTIONS)
            old = fit_line(x, y, x_err, y_err, seed=2, prior=MixturePrior(), **OPTIONS)
            corr = fit_line(moments[binning.x].to_numpy()[inside], y, moments[f"{binning.x}_err"].to_numpy()[inside],
                            y_err, seed=3, **OPTIONS)
            sim = simex_estimates[k]
            x_true = (truth_by_id["R"] if binning.x == "R" else truth_by_id["Z"].abs()).to_numpy()[inside]
            weight = 1 / (y_err**2 + corr.m**2 * moments[f"{binning.x}_err"].to_numpy()[inside] ** 2
                          + corr.lam**2 * (1 + corr.m**2))
            m_true_w = weighted_slope(x_true, truth_by_id["feh_true"].to_numpy()[inside], weight)
            m_true = float(true["m_true"].iloc[k])
            rows.append({"survey": survey, "bin": binning.label(k), "n": int(inside.sum()), "m_true": m_true,
                         "m_flat": flat.m, "pull_flat": (flat.m - m_true) / flat.m_err,
                         "pull_old": (old.m - m_true) / old.m_err,
                         "m_corr": corr.m, "m_corr_err": corr.m_err, "pull_corr": (corr.m - m_true) / corr.m_err,
                         "pull_simex": (sim.m - m_true) / sim.m_err, "m_simex": sim.m,
                         "m_true_w": m_true_w, "pull_corr_w": (corr.m - m_true_w) / corr.m_err,
                         "data_weight": float(np.mean(moments["data_weight"].to_numpy()[inside]))})
    return pd.DataFrame(rows)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 150_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    formats = {"m_true": "{:+.4f}".format, "m_flat": "{:+.4f}".format, "m_corr": "{:+.4f}".format,
               "m_corr_err": "{:.4f}".format, "m_simex": "{:+.4f}".format, "m_true_w": "{:+.4f}".format, "data_weight": "{:.2f}".format,
               **{c: "{:+.1f}".format for c in ("pull_flat", "pull_old", "pull_corr", "pull_simex", "pull_corr_w")}}
    for survey in ("gaia", "lamost"):
        table = survey_table(survey, n, seed)
        print(table.to_string(index=False, formatters=formats), flush=True)
        for column in ("pull_flat", "pull_old", "pull_corr", "pull_simex", "pull_corr_w"):
            values = table[column].to_numpy()
            print(f"{survey} {column}: rms {np.sqrt(np.mean(values**2)):.2f}, max |pull| {np.max(np.abs(values)):.1f}")


if __name__ == "__main__":
    main()
