"""Validation: the pipeline's gradients against the truth of mocks drawn from other Galaxies, bin by bin.

For each variant (:data:`galchem.run.coverage.VARIANTS`: steeper or flatter
metallicity gradients, parallax errors twice Gaia DR3's; ``default`` is the
book's own model) the mock is analysed as ``galchem analyse`` does, with the
survey's run settings (:meth:`galchem.run.config.RunConfig.for_survey`), and
each radial and vertical bin prints its star count, the truth, the pulls
(fit - truth) / error of the flat fit, the corrected fit (or why it is
withheld) and SIMEX, and whether |corrected - truth| <= 2 sigma + 0.0005
dex/kpc (``ok``; ``-`` where the corrected slope is withheld).  Stage
results are cached (``GALCHEM_CACHE_DIR``), so a second look is quick.

    PYTHONPATH=. python benchmarks/variants.py [--survey gaia|lamost] [--stars N] [--seed S] \
        [--variants default,steeper,flatter,parallax_x2] [--n-mc N]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from galchem.data.sources import load_mock
from galchem.data.surveys import load_survey
from galchem.run.config import RunConfig
from galchem.run.coverage import ESTIMATES, VARIANTS, truth_pulls, variant_model

TOLERANCE = 0.0005
"""dex/kpc added to two errors in the check of the corrected slope (the issue's criterion)."""


def within(corrected: pd.Series, truth: pd.Series, error: pd.Series) -> pd.Series:
    """Whether each corrected slope is within 2 errors + :data:`TOLERANCE` of the truth (NA where withheld)."""
    ok = (corrected - truth).abs() <= 2 * error + TOLERANCE
    return ok.astype("boolean").mask(corrected.isna())


def bin_table(pulls: pd.DataFrame) -> pd.DataFrame:
    """One row per bin with a truth: n, truth, the three pulls, the corrected slope's status and the check."""
    flat, corrected, simex = (pulls[pulls["estimate"] == name].reset_index(drop=True) for name in ESTIMATES)
    table = flat[["binning", "bin", "n", "m_true"]].assign(
        m_flat=flat["m"], pull_flat=flat["pull"], m_corr=corrected["m"], m_corr_err=corrected["m_err"],
        pull_corr=corrected["pull"], pull_simex=simex["pull"], status_deconv=flat["status_deconv"],
        within=within(corrected["m"], flat["m_true"], corrected["m_err"]))
    return table[table["m_true"].notna()].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survey", default="gaia")
    parser.add_argument("--stars", type=int, default=None, help="candidate rows (default: the study's)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--n-mc", type=int, default=None, help="Monte Carlo draws per star (default: the survey's)")
    args = parser.parse_args()
    config = RunConfig.for_survey(load_survey(args.survey))
    config = replace(config, mock_stars=args.stars, mock_seed=args.seed,
                     **({} if args.n_mc is None else {"n_mc": args.n_mc}))
    formats = {**{c: "{:+.4f}".format for c in ("m_true", "m_flat", "m_corr")}, "m_corr_err": "{:.4f}".format,
               **{c: "{:+.1f}".format for c in ("pull_flat", "pull_corr", "pull_simex")}}
    for name in args.variants.split(","):
        t0 = time.time()
        model = variant_model(args.survey, name) if name != "default" else None
        dataset = load_mock(args.survey, args.stars, args.seed, model=model)
        table = bin_table(truth_pulls(dataset, config))
        print(f"\n{args.survey} {name} ({VARIANTS.get(name, 'the book model')}): {dataset.source}, "
              f"n_mc {config.n_mc} ({time.time() - t0:.0f} s)")
        print(table.to_string(index=False, formatters=formats, na_rep="-"))
        enough = table[table["n"] >= config.min_stars]
        checked = enough["within"].dropna()
        for column in ("pull_flat", "pull_corr", "pull_simex"):
            values = enough[column].dropna().to_numpy()
            if values.size:
                print(f"{column}: {values.size} bins, rms {np.sqrt(np.mean(values**2)):.2f}, "
                      f"max |pull| {np.max(np.abs(values)):.1f}")
        print(f"corrected within 2 sigma + {TOLERANCE}: {int(checked.sum())}/{checked.size} bins with a corrected "
              f"slope ({len(enough) - checked.size} withheld)", flush=True)


if __name__ == "__main__":
    main()
