"""Comparing what the pipeline measures with the mock Galaxy's truth."""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem import contract
from galchem.datasets import Dataset


def binned_medians(x: np.ndarray, values: np.ndarray, edges: np.ndarray, min_count: int = 20) -> pd.DataFrame:
    """Median of ``values`` in bins of ``x``: columns lo, hi, center, n, median (NaN below ``min_count``)."""
    x, values = np.asarray(x, dtype=float), np.asarray(values, dtype=float)
    which = np.digitize(x, edges) - 1
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        inside = values[(which == k) & np.isfinite(values)]
        rows.append({"lo": lo, "hi": hi, "center": 0.5 * (lo + hi), "n": inside.size,
                     "median": np.median(inside) if inside.size >= min_count else np.nan})
    return pd.DataFrame(rows)


def radial_profile_vs_truth(
    dataset: Dataset,
    kept: pd.DataFrame,
    positions: pd.DataFrame,
    *,
    z_max: float = 0.2,
    edges: np.ndarray | None = None,
    min_count: int = 20,
) -> pd.DataFrame:
    """Median [Fe/H] in bins of R (default: 0.5 kpc from 6 to 12 kpc) near the plane: observed,
    noise-free truth, and the smooth field.

    All three use the same stars in the same bins (by their measured R and Z),
    so *observed - noise_free* isolates the measurement errors, and
    *noise_free - smooth_field* shows what the sampled stars add to the
    smooth field (the azimuthal pattern, the scatter, the thick disk and halo).
    """
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    edges = np.arange(6.0, 12.5, 0.5) if edges is None else np.asarray(edges)
    near = positions["Z"].abs().to_numpy() < z_max
    R = positions["R"].to_numpy()[near]
    observed, _ = contract.metallicity(kept, dataset.sample)
    truth = dataset.truth.set_index("source_id").loc[kept["source_id"].to_numpy()[near]]
    table = binned_medians(R, observed.to_numpy()[near], edges, min_count).rename(columns={"median": "observed"})
    table["noise_free"] = binned_medians(R, truth["feh_true"].to_numpy(), edges, min_count)["median"]
    table["smooth_field"] = dataset.model.metallicity.smooth(table["center"].to_numpy(), 0.5 * z_max)
    return table
