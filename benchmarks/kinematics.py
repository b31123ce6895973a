"""Benchmark: galchem's Monte Carlo kinematics against astropy, one SkyCoord transform per realisation.

The reference is what the study describes: for each realisation, draw the
distance (split normal), proper motions and RV of every star, transform
them with ``SkyCoord.transform_to(Galactocentric(...))`` and accumulate each
quantity's mean and variance.  galchem's :func:`galchem.physics.kinematics.propagate`
does the same job (see its module docstring for how), and also returns the
covariances of the cylindrical velocities.  Both run on the same 100 000
mock stars with 100 realisations; their uncertainties, and the velocities'
correlation coefficients, must agree to within the Monte Carlo noise.
Prints ``ratio_vs_astropy: X`` last.
"""
from __future__ import annotations

import time

import astropy.coordinates as coord
import astropy.units as u
import numpy as np

from galchem.conventions import galactocentric_frame
from galchem.data.sources import load_mock
from galchem.data.cuts import cut_flow
from galchem.physics.kinematics import COVARIANCES, QUANTITIES, Observed, propagate, split_normal

N_STARS, N_MC, SEED = 100_000, 100, 3


PAIRS = ((8, 9), (8, 10), (9, 10))
"""vR-vphi, vR-vz and vphi-vz: the velocity pairs of kinematics.COVARIANCES, as indices into QUANTITIES."""


def astropy_monte_carlo(observed: Observed, n_mc: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviation of QUANTITIES per star (N, 11), and the velocity covariances (N, 3), drawing every
    observable and transforming with astropy."""
    rng = np.random.default_rng(seed)
    frame = galactocentric_frame()
    n = len(observed.ra)
    total = np.zeros((len(QUANTITIES), n))
    total_sq = np.zeros_like(total)
    cross = np.zeros((len(PAIRS), n))
    shift = None  # sums of deviations from the first realisation: no cancellation for tiny spreads
    for _ in range(n_mc):
        distance = split_normal(observed.r_med, observed.r_lo, observed.r_hi, rng.standard_normal(n))
        star = coord.SkyCoord(
            ra=observed.ra * u.deg, dec=observed.dec * u.deg, distance=distance * u.kpc,
            pm_ra_cosdec=rng.normal(observed.pmra, observed.pmra_err) * u.mas / u.yr,
            pm_dec=rng.normal(observed.pmdec, observed.pmdec_err) * u.mas / u.yr,
            radial_velocity=rng.normal(observed.rv, observed.rv_err) * u.km / u.s,
        ).transform_to(frame)
        cylinder = star.represent_as(coord.CylindricalRepresentation, coord.CylindricalDifferential)
        v = cylinder.differentials["s"]
        values = (
            star.x, star.y, star.z, cylinder.rho, cylinder.phi.wrap_at(2 * np.pi * u.rad),
            star.v_x, star.v_y, star.v_z, v.d_rho, -(cylinder.rho * v.d_phi).to(u.km / u.s, u.dimensionless_angles()),
            v.d_z,
        )
        values = np.stack([v.to_value(u.km / u.s if v.unit.physical_type == "speed" else v.unit) for v in values])
        shift = values if shift is None else shift
        total += values - shift
        total_sq += (values - shift) ** 2
        cross += np.stack([(values[i] - shift[i]) * (values[j] - shift[j]) for i, j in PAIRS])
    mean = total / n_mc
    covariance = np.stack([cross[k] / n_mc - mean[i] * mean[j] for k, (i, j) in enumerate(PAIRS)])
    return np.sqrt(np.maximum(total_sq / n_mc - mean**2, 0.0)).T, covariance.T


def main() -> None:
    dataset = load_mock("lamost", 330_000, SEED)
    catalog = cut_flow(dataset.catalog, dataset.survey).table.iloc[:N_STARS]
    observed = Observed.from_catalog(catalog)
    propagate(Observed(*(a[:10] for a in observed)), 2, SEED)  # compile outside the timing

    t0 = time.perf_counter()
    reference, reference_cov = astropy_monte_carlo(observed, N_MC, SEED)
    t_astropy = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = propagate(observed, N_MC, SEED)
    t_galchem = time.perf_counter() - t0

    print(f"stars: {len(catalog):,}, realisations: {N_MC}")
    print(f"astropy SkyCoord, one transform per realisation: {t_astropy:.2f} s")
    print(f"galchem kinematics.propagate: {t_galchem:.2f} s")
    ratio = np.median(ours.std / reference, axis=0)
    print("median sigma ratio galchem / astropy: "
          + ", ".join(f"{name} {r:.3f}" for name, r in zip(QUANTITIES, ratio)))
    if np.any(np.abs(ratio - 1.0) > 0.03):  # 100 draws: each sigma is uncertain by ~7 %, the median far less
        raise SystemExit("uncertainties disagree with astropy's Monte Carlo")

    def correlation(std: np.ndarray, cov: np.ndarray) -> np.ndarray:
        return np.stack([cov[:, k] / (std[:, i] * std[:, j]) for k, (i, j) in enumerate(PAIRS)], axis=1)

    offset = np.median(correlation(ours.std, ours.velocity_cov) - correlation(reference, reference_cov), axis=0)
    print("median correlation galchem - astropy: "
          + ", ".join(f"{name} {o:+.3f}" for name, o in zip(COVARIANCES, offset)))
    if np.any(np.abs(offset) > 0.02):  # each coefficient from 100 draws is uncertain by up to 0.1, the median far less
        raise SystemExit("velocity covariances disagree with astropy's Monte Carlo")
    print(f"ratio_vs_astropy: {t_astropy / t_galchem:.1f}")


if __name__ == "__main__":
    main()
