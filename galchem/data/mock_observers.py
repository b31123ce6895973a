"""The mock's observers: what each survey measures of the Galaxy's stars, with errors like the real ones.

One observer per survey (:data:`OBSERVERS`, by survey name) turns the
Galaxy's truth (:mod:`galchem.data.mock`) and the shared astrometry
(:func:`astrometry`: Gaia-like parallaxes, proper motions and
Bailer-Jones-like distances) into that survey's catalogue columns.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from galchem.conventions import Z_SUN
from galchem.data.mock_distances import distance_percentiles
from galchem.physics import frames

__all__ = ["OBSERVERS", "Instrument", "Observer", "apparent_magnitude", "astrometry", "observe_gaia", "observe_lamost"]


class Instrument(Protocol):
    """What an observer reads of a mock model (``galchem.data.mock.MockModel`` has it): how noisy the survey is."""

    snr_zero_point: float  # G magnitude at which a LAMOST spectrum has SNR 30
    feh_error: float  # LAMOST only: median [Fe/H] error [dex] of a spectrum with SNR 60
    poor_astrometry: float  # share of stars with 3-10x larger astrometric errors
    parallax_error_scale: float  # factor on the Gaia DR3-like parallax errors (1: Gaia DR3's)


def apparent_magnitude(m_abs: np.ndarray, distance: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Gaia G [mag] of a star of absolute magnitude ``m_abs`` at ``distance`` and height ``z`` [kpc].

    Extinction comes from an exponential dust layer: 0.7 mag/kpc in the
    mid-plane with a scale height of 0.15 kpc, integrated along the line of sight.
    """
    h = 0.15
    x = np.maximum(np.abs(z - Z_SUN.to_value("kpc")), 1e-6) / h
    extinction = 0.7 * distance * -np.expm1(-x) / x
    return m_abs + 5 * np.log10(100.0 * distance) + extinction


def _lognormal(rng: np.random.Generator, median, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(rng.normal(0.0, sigma, n))


def _parallax_error(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaia DR3-like parallax uncertainty [mas] at G magnitude ``g``."""
    return _lognormal(rng, 0.018 + 0.06 * 10 ** (0.4 * (g - 17.0)), 0.15, g.size)


def astrometry(
    truth: pd.DataFrame, model: Instrument, rng: np.random.Generator
) -> tuple[pd.DataFrame, frames.Observables]:
    """Common contract columns (noisy parallaxes, proper motions, distances) and the true observables."""
    n = len(truth)
    obs = frames.galactocentric_to_icrs(*(truth[c].to_numpy() for c in ("X", "Y", "Z", "vX", "vY", "vZ")))
    g = apparent_magnitude(truth["abs_g_mag"].to_numpy(), obs.distance, truth["Z"].to_numpy())
    plx_err = _parallax_error(g, rng) * model.parallax_error_scale
    poor = rng.uniform(size=n) < model.poor_astrometry
    plx_err[poor] *= rng.uniform(3.0, 10.0, poor.sum())
    pm_err = 1.1 * plx_err * np.exp(rng.normal(0.0, 0.1, (2, n)))
    parallax = 1.0 / obs.distance + rng.normal(0.0, plx_err)
    r_med, r_lo, r_hi = distance_percentiles(parallax, plx_err)
    return pd.DataFrame(
        {
            "source_id": truth["source_id"].to_numpy(),
            "ra": obs.ra,
            "dec": obs.dec,
            "parallax": parallax,
            "parallax_error": plx_err,
            "pmra": obs.pmra + rng.normal(0.0, pm_err[0]),
            "pmra_error": pm_err[0],
            "pmdec": obs.pmdec + rng.normal(0.0, pm_err[1]),
            "pmdec_error": pm_err[1],
            "r_med_geo": r_med,
            "r_lo_geo": r_lo,
            "r_hi_geo": r_hi,
            "phot_g_mean_mag": g,
        }
    ), obs


def _set_missing(column: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    column = column.copy()
    column[rng.uniform(size=column.size) < fraction] = np.nan
    return column


def observe_lamost(catalog: pd.DataFrame, truth: pd.DataFrame, rv_true: np.ndarray, model: Instrument,
                   rng: np.random.Generator) -> pd.DataFrame:
    """HotPayne-like labels: Teff, logg, [Fe/H], vsini, SNR, chi2ratio and LAMOST RVs."""
    n = len(catalog)
    snr = _lognormal(rng, 30.0 * 10 ** (0.4 * (model.snr_zero_point - catalog["phot_g_mean_mag"].to_numpy())), 0.35, n)
    noise = np.sqrt(60.0 / snr)  # errors grow as the spectrum gets noisier
    teff = 7000.0 * np.exp(np.abs(rng.normal(0.0, 0.55, n)))  # about 2% hotter than 25 000 K
    teff_err = _lognormal(rng, 85.0 * noise * teff / 9000.0, 0.2, n)
    logg = rng.normal(4.0, 0.3, n)
    peculiar = rng.uniform(size=n) < 0.06  # chemically peculiar or subdwarf fits: logg off the grid
    logg[peculiar] = np.where(rng.uniform(size=peculiar.sum()) < 0.7, rng.uniform(0.5, 2.0, peculiar.sum()),
                              rng.uniform(5.0, 5.8, peculiar.sum()))
    logg_err = _lognormal(rng, 0.10 * noise, 0.2, n)
    feh_err = _lognormal(rng, model.feh_error * noise, 0.25, n)
    vsini = _lognormal(rng, 90.0, 0.6, n)
    negative = rng.uniform(size=n) < 0.03
    vsini[negative] = -np.abs(rng.normal(0.0, 30.0, negative.sum()))
    rv_err = _lognormal(rng, 6.0 * noise * (1.0 + np.abs(vsini) / 150.0), 0.3, n)
    failed_rv = rng.uniform(size=n) < 0.01
    rv_err[failed_rv] = rng.uniform(100.0, 300.0, failed_rv.sum())
    return catalog.assign(
        teff=teff + rng.normal(0.0, teff_err),
        teff_err=teff_err,
        logg=logg + rng.normal(0.0, logg_err),
        logg_err=logg_err,
        feh=_set_missing(truth["feh_true"].to_numpy() + rng.normal(0.0, feh_err), 0.005, rng),
        feh_err=feh_err,
        vsini=vsini,
        snr=snr,
        chi2ratio=1.5 * np.abs(rng.standard_t(2.0, n)),
        rv=rv_true + rng.normal(0.0, rv_err),
        rv_err=_set_missing(rv_err, 0.01, rng),
    )


def observe_gaia(catalog: pd.DataFrame, truth: pd.DataFrame, rv_true: np.ndarray, model: Instrument,
                 rng: np.random.Generator) -> pd.DataFrame:
    """GSP-Spec-like labels and Gaia RVS radial velocities; some rows lack a distance."""
    n = len(catalog)
    g = catalog["phot_g_mean_mag"].to_numpy()
    rv_err = _lognormal(rng, 0.8 * 10 ** (0.2 * (g - 12.0)), 0.3, n)
    mh_err = _lognormal(rng, 0.053 * 10 ** (0.1 * (g - 13.0)), 0.3, n)
    mh = truth["feh_true"].to_numpy() + rng.normal(0.0, mh_err)
    no_distance = rng.uniform(size=n) < 0.01
    distances = catalog[["r_med_geo", "r_lo_geo", "r_hi_geo"]].to_numpy(copy=True)
    distances[no_distance] = np.nan
    return catalog.assign(
        r_med_geo=distances[:, 0],
        r_lo_geo=distances[:, 1],
        r_hi_geo=distances[:, 2],
        radial_velocity=rv_true + rng.normal(0.0, rv_err),
        radial_velocity_error=rv_err,
        teff_gspspec=rng.normal(4300.0, 280.0, n) + rng.normal(0.0, 30.0, n),
        logg_gspspec=rng.normal(1.50, 0.30, n) + rng.normal(0.0, 0.10, n),
        mh_gspspec=mh,
        mh_gspspec_lower=mh - mh_err * np.exp(rng.normal(0.0, 0.15, n)),
        mh_gspspec_upper=mh + mh_err * np.exp(rng.normal(0.0, 0.15, n)),
    )


Observer = Callable[[pd.DataFrame, pd.DataFrame, np.ndarray, Instrument, np.random.Generator], pd.DataFrame]
"""A survey's observer: (astrometric catalogue, truth, true radial velocities, model, random stream) -> catalogue."""

OBSERVERS: dict[str, Observer] = {"lamost": observe_lamost, "gaia": observe_gaia}
"""The observer of each survey that has a mock, by survey name (the keys of :data:`MODELS`)."""
