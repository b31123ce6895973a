"""Galactocentric positions and velocities of catalogue stars, with Monte Carlo uncertainties.

Each star's distance is drawn ``n_mc`` times from a split normal that has the
Bailer-Jones et al. (2021) 16th, 50th and 84th percentiles as its own: below
the median it is a half-normal of width ``r_med - r_lo``, above it one of
width ``r_hi - r_med``.  (Draws below zero, which need a > 3-sigma low tail,
are set to zero.)  Every position is a function of the distance alone.

Proper motions and the radial velocity are Gaussian and, at a given distance,
the velocity is *linear* in them.  So instead of drawing them we carry their
exact conditional mean and variance through each distance draw and combine
the two by the law of total variance (a Rao-Blackwellised Monte Carlo).  The
uncertainties are those of drawing all four observables, with the Monte Carlo
noise of the velocity terms removed, at a quarter of the random numbers.
:func:`brute_force` draws all four and is kept to check that claim.

Correlations: the proper motions' errors may be correlated with each other
(``pmra_pmdec_corr``) and, when the distances come from the parallax, with
the parallax (``parallax_pmra_corr``, ``parallax_pmdec_corr``, as Gaia
gives them).  A distance draw at the standard normal quantile z is taken
as the parallax at quantile -z (the distance falls as the parallax grows:
exact for 1/parallax, a Gaussian copula for Bailer-Jones distances), so at
that draw the proper motions have the conditional mean
``pm - z rho_parallax_pm sigma_pm`` and the conditional covariance of a
trivariate normal given one variable.  Absent correlations are zero.

Random numbers: each star draws from its own stream, keyed by the stage's
seed and the star's id (:func:`galchem.data.ids.id_keys`), so a star's
draws are the same whichever partition, process or machine computes it.  The
stream is counter-based: the star's key is ``k = splitmix64(seed_key ^
splitmix64(id + g))`` (g: SplitMix64's golden-ratio increment), and its pair
of draws ``p`` comes from the 64 bits ``splitmix64(k + (p+1) g)`` -- the
SplitMix64 sequence seeded with k -- as two 24-bit uniforms turned into two
normals by the Box-Muller transform, in float32 like the draws themselves
(the tails stop at 5.8 sigma, a 1-in-10^8 event).

Reported per star: the value at the catalogue's median distance and measured
velocities (for X, Y, Z and phi this is exactly the Monte Carlo median) and,
as ``<name>_err``, the standard deviation over the realisations; and the
covariances of the cylindrical velocities (:data:`COVARIANCES`), by the
same law of total covariance, for membership that accounts for errors
(:mod:`galchem.physics.membership`).  The sky
position is taken as exact (Gaia's ra/dec errors are below a milliarcsecond).
Frame conventions: :mod:`galchem.conventions`.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
import pandas as pd
from tqdm import tqdm

from galchem.data.contract import CORRELATION_ROLES, VELOCITY_ROLES
from galchem.data.ids import GOLDEN, id_keys, seed_key, splitmix64
from galchem.physics import arctangent, frames
from galchem.conventions import K_PM

__all__ = ["CHUNK", "COVARIANCES", "Observed", "POSITIONS", "Propagated", "QUANTITIES", "brute_force",
           "kinematics_table", "linear_errors", "propagate", "split_normal"]

QUANTITIES = ("X", "Y", "Z", "R", "phi", "vX", "vY", "vZ", "vR", "vphi", "vz")
"""Quantities computed per star, in the order of the kernel's output columns."""

POSITIONS = QUANTITIES[:5]
"""The quantities that need no velocities."""

COVARIANCES = ("vR_vphi_cov", "vR_vz_cov", "vphi_vz_cov")
"""Covariances of the cylindrical velocities [(km/s)^2], in the order of the kernel's covariance output."""

CHUNK = 16_384
"""Stars per chunk: bounds memory (one float32 draw per star and realisation); the draws do not depend on it."""

class Observed(NamedTuple):
    """The observables of N stars as float64 arrays in the contract's units (distance in kpc)."""

    ra: np.ndarray
    dec: np.ndarray
    r_med: np.ndarray
    r_lo: np.ndarray
    r_hi: np.ndarray
    pmra: np.ndarray
    pmra_err: np.ndarray
    pmdec: np.ndarray
    pmdec_err: np.ndarray
    rv: np.ndarray
    rv_err: np.ndarray
    pmra_pmdec_corr: np.ndarray
    parallax_pmra_corr: np.ndarray
    parallax_pmdec_corr: np.ndarray

    @classmethod
    def from_catalog(cls, catalog: pd.DataFrame) -> Observed:
        """Read a canonical table (:mod:`galchem.data.contract`).

        Without velocity columns (a positional-only survey) the velocities
        are set to zero with zero errors: positions and their errors are then
        exact, and :func:`kinematics_table` reports no velocities.  Correlations
        the table does not hold are zero.
        """
        def column(name: str) -> np.ndarray:
            if name not in catalog and (name in VELOCITY_ROLES or name in CORRELATION_ROLES):
                return np.zeros(len(catalog))
            return np.ascontiguousarray(catalog[name], dtype=np.float64)

        return cls(
            ra=column("ra"), dec=column("dec"), r_med=column("distance"), r_lo=column("distance_lo"),
            r_hi=column("distance_hi"), pmra=column("pmra"), pmra_err=column("pmra_error"), pmdec=column("pmdec"),
            pmdec_err=column("pmdec_error"), rv=column("rv"), rv_err=column("rv_error"),
            **{name: column(name) for name in CORRELATION_ROLES},
        )


class Propagated(NamedTuple):
    """Per-star results: value at the catalogue values, MC mean and σ, shaped (N, len(QUANTITIES)), and the
    velocity covariances, shaped (N, len(COVARIANCES))."""

    value: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    velocity_cov: np.ndarray


def _basis(observed: Observed) -> np.ndarray:
    """Per star, the Galactocentric directions of the line of sight, +ra and +dec: shape (N, 3, 3)."""
    matrix, _, _ = frames.affine_map()
    los, e_ra, e_dec = frames.unit_vectors(observed.ra, observed.dec)
    return np.ascontiguousarray(np.einsum("ij,kjn->nki", matrix, np.stack([los, e_ra, e_dec])))


@numba.njit(cache=True, fastmath=True, nogil=True)
def _propagate(basis, offset, v_sun, r_med, s_lo, s_hi, pmra, s_pmra, pmdec, s_pmdec, rho_pm, rho_wa, rho_wd, rv, s_rv,
               draws, value, mean, std, cov):  # pragma: no cover - compiled
    """The Rao-Blackwellised Monte Carlo of the module docstring for one chunk of stars.

    Positions are linear in the distance d, so their moments follow from
    those of d.  At a draw (d, z) the velocity's conditional mean is
    v0 + d v1 + d z w1 (w1: the proper motions' shift with the parallax) and
    its covariance Q0 + d^2 Q1 (RV and proper-motion parts, Q1 conditional
    on the parallax).  The variances and covariances of the velocities add
    the spread over draws of their conditional means to the mean
    conditional (co)variance (laws of total variance and covariance).
    """
    n_stars, n_mc = draws.shape
    s1 = np.empty(8)  # sums of the deviations from the reference: d, R, phi, vR, vphi, vX, vY, vZ
    s2 = np.empty(8)
    s12 = np.empty(3)  # sums of products of deviations: vR vphi, vR vZ, vphi vZ
    sum_var = np.empty(2)  # summed conditional variances of vR and vphi
    sum_cov = np.empty(3)  # summed conditional covariances vR vphi, vR vz, vphi vz
    deviation = np.empty(8)
    v0, v1, w1, q0, q1 = np.empty(3), np.empty(3), np.empty(3), np.empty((3, 3)), np.empty((3, 3))
    for k in range(n_stars):  # the accumulators are allocated once and zeroed per star
        s1[:], s2[:], s12[:], sum_var[:], sum_cov[:] = 0.0, 0.0, 0.0, 0.0, 0.0
        los, e_ra, e_dec = basis[k, 0], basis[k, 1], basis[k, 2]
        c_aa = s_pmra[k] ** 2 * (1.0 - rho_wa[k] ** 2)  # proper-motion covariance given the parallax
        c_dd = s_pmdec[k] ** 2 * (1.0 - rho_wd[k] ** 2)
        c_ad = s_pmra[k] * s_pmdec[k] * (rho_pm[k] - rho_wa[k] * rho_wd[k])
        for i in range(3):  # velocity = v0 + d * v1 + d * z * w1, its covariance Q0 + d^2 Q1
            v0[i] = v_sun[i] + rv[k] * los[i]
            v1[i] = K_PM * (pmra[k] * e_ra[i] + pmdec[k] * e_dec[i])
            w1[i] = -K_PM * (rho_wa[k] * s_pmra[k] * e_ra[i] + rho_wd[k] * s_pmdec[k] * e_dec[i])
            for j in range(3):
                q0[i, j] = s_rv[k] ** 2 * los[i] * los[j]
                q1[i, j] = K_PM**2 * (c_aa * e_ra[i] * e_ra[j] + c_ad * (e_ra[i] * e_dec[j] + e_dec[i] * e_ra[j])
                                      + c_dd * e_dec[i] * e_dec[j])
        d0 = r_med[k]
        x0, y0 = offset[0] + d0 * los[0], offset[1] + d0 * los[1]
        R0 = math.sqrt(x0 * x0 + y0 * y0)
        vx0, vy0, vz0 = v0[0] + d0 * v1[0], v0[1] + d0 * v1[1], v0[2] + d0 * v1[2]
        vR0, vphi0 = (x0 * vx0 + y0 * vy0) / R0, (y0 * vx0 - x0 * vy0) / R0
        for j in range(n_mc):
            z = draws[k, j]
            d = max(d0 + z * (s_hi[k] if z > 0.0 else s_lo[k]), 0.0)
            x, y = offset[0] + d * los[0], offset[1] + d * los[1]
            R = math.sqrt(x * x + y * y)
            c, s = x / R, y / R
            dz = d * z
            vx, vy, vz = v0[0] + d * v1[0] + dz * w1[0], v0[1] + d * v1[1] + dz * w1[1], v0[2] + d * v1[2] + dz * w1[2]
            deviation[0] = d - d0
            deviation[1] = R - R0
            deviation[2] = arctangent.atan2(x0 * y - y0 * x, x0 * x + y0 * y)
            deviation[3] = c * vx + s * vy - vR0
            deviation[4] = s * vx - c * vy - vphi0
            deviation[5], deviation[6], deviation[7] = vx - vx0, vy - vy0, vz - vz0
            for q in range(8):
                s1[q] += deviation[q]
                s2[q] += deviation[q] * deviation[q]
            s12[0] += deviation[3] * deviation[4]
            s12[1] += deviation[3] * deviation[7]
            s12[2] += deviation[4] * deviation[7]
            d2 = d * d
            qxx, qxy, qyy = q0[0, 0] + d2 * q1[0, 0], q0[0, 1] + d2 * q1[0, 1], q0[1, 1] + d2 * q1[1, 1]
            qxz, qyz = q0[0, 2] + d2 * q1[0, 2], q0[1, 2] + d2 * q1[1, 2]
            sum_var[0] += c * c * qxx + 2.0 * c * s * qxy + s * s * qyy
            sum_var[1] += s * s * qxx - 2.0 * c * s * qxy + c * c * qyy
            sum_cov[0] += c * s * (qxx - qyy) + (s * s - c * c) * qxy
            sum_cov[1] += c * qxz + s * qyz
            sum_cov[2] += s * qxz - c * qyz
        m1 = s1 / n_mc
        var = np.maximum(s2 / n_mc - m1 * m1, 0.0)
        mean_d2 = var[0] + (d0 + m1[0]) ** 2
        for i in range(3):  # X, Y, Z: linear in d; vX, vY, vZ: spread of the conditional means plus their variance
            value[k, i] = offset[i] + d0 * los[i]
            mean[k, i] = value[k, i] + m1[0] * los[i]
            std[k, i] = abs(los[i]) * math.sqrt(var[0])
            value[k, 5 + i] = v0[i] + d0 * v1[i]
            mean[k, 5 + i] = value[k, 5 + i] + m1[5 + i]
            std[k, 5 + i] = math.sqrt(max(var[5 + i] + q0[i, i] + mean_d2 * q1[i, i], 0.0))
        phi0 = math.atan2(y0, x0) % (2.0 * math.pi)
        for q, col, ref in ((1, 3, R0), (2, 4, phi0), (3, 8, vR0), (4, 9, vphi0)):  # R, phi, vR, vphi
            value[k, col] = ref
            mean[k, col] = value[k, col] + m1[q]
            std[k, col] = math.sqrt(var[q])
        mean[k, 4] %= 2.0 * math.pi
        std[k, 8] = math.sqrt(max(var[3] + sum_var[0] / n_mc, 0.0))  # rounding of a singular covariance
        std[k, 9] = math.sqrt(max(var[4] + sum_var[1] / n_mc, 0.0))
        value[k, 10], mean[k, 10], std[k, 10] = value[k, 7], mean[k, 7], std[k, 7]
        cov[k, 0] = s12[0] / n_mc - m1[3] * m1[4] + sum_cov[0] / n_mc
        cov[k, 1] = s12[1] / n_mc - m1[3] * m1[7] + sum_cov[1] / n_mc
        cov[k, 2] = s12[2] / n_mc - m1[4] * m1[7] + sum_cov[2] / n_mc


@numba.njit(cache=True, nogil=True)
def _normal_draws(seed_key, keys, draws):  # pragma: no cover - compiled
    """Fill ``draws`` (stars x realisations) with standard normals from each star's own stream (module docstring).

    No fastmath: each value must be the same bits whatever the chunk or the vector width.
    """
    n_stars, n_mc = draws.shape
    scale = np.float32(2.0**-24)
    two_pi = np.float32(2.0 * math.pi)
    for k in range(n_stars):
        key = splitmix64(seed_key ^ splitmix64(keys[k] + GOLDEN))
        for p in range(0, n_mc, 2):
            bits = splitmix64(key + np.uint64(p // 2 + 1) * GOLDEN)
            u1 = (np.float32(bits >> np.uint64(40)) + np.float32(1.0)) * scale  # (0, 1]: the logarithm stays finite
            u2 = np.float32((bits >> np.uint64(8)) & np.uint64(0xFFFFFF)) * scale
            radius = math.sqrt(np.float32(-2.0) * math.log(u1))
            draws[k, p] = radius * math.cos(two_pi * u2)
            if p + 1 < n_mc:
                draws[k, p + 1] = radius * math.sin(two_pi * u2)


def propagate(observed: Observed, n_mc: int, seed: int | np.random.SeedSequence,
              progress: bool = False, keys: np.ndarray | None = None) -> Propagated:
    """Monte Carlo positions and velocities of ``observed`` stars (see the module docstring).

    Star ``i`` draws from the stream keyed by ``seed`` and ``keys[i]`` (its
    id's key, :func:`galchem.data.ids.id_keys`; default: its position ``i``),
    so the same seed and ids give the same numbers on any machine, thread
    count or partitioning.  Stars are processed in chunks of :data:`CHUNK`
    on all cores; peak memory is ~130 bytes per star plus 4 bytes per draw of
    one chunk per core.
    """
    if n_mc < 2:
        raise ValueError(f"n_mc must be at least 2, got {n_mc}")
    n = len(observed.ra)
    keys = np.arange(n, dtype=np.uint64) if keys is None else np.ascontiguousarray(keys, dtype=np.uint64)
    if keys.shape != (n,):
        raise ValueError(f"keys must hold one key per star ({n}), got shape {keys.shape}")
    key = seed_key(seed)
    _, offset, v_sun = frames.affine_map()
    s_lo = observed.r_med - observed.r_lo
    s_hi = observed.r_hi - observed.r_med
    out = Propagated(*(np.empty((n, len(QUANTITIES))) for _ in range(3)), np.empty((n, len(COVARIANCES))))
    basis = _basis(observed)
    parts = [slice(start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]

    def run(part: slice) -> int:
        draws = np.empty((part.stop - part.start, n_mc), dtype=np.float32)
        _normal_draws(key, keys[part], draws)
        _propagate(
            basis[part], offset, v_sun, observed.r_med[part], s_lo[part], s_hi[part],
            observed.pmra[part], observed.pmra_err[part], observed.pmdec[part], observed.pmdec_err[part],
            observed.pmra_pmdec_corr[part], observed.parallax_pmra_corr[part], observed.parallax_pmdec_corr[part],
            observed.rv[part], observed.rv_err[part], draws, out.value[part], out.mean[part], out.std[part],
            out.velocity_cov[part],
        )
        return part.stop - part.start

    bar = tqdm(total=n, unit="star", desc=f"Monte Carlo ({n_mc} draws)", disable=not progress)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for done in pool.map(run, parts):
            bar.update(done)
    bar.close()
    return out


def split_normal(r_med, r_lo, r_hi, z):
    """Distances for standard normal draws ``z``: width r_med - r_lo below the median, r_hi - r_med above,
    never below zero (the rule :func:`propagate` applies draw by draw)."""
    return np.maximum(r_med + z * np.where(z > 0, r_hi - r_med, r_med - r_lo), 0.0)


def brute_force(observed: Observed, n_mc: int, seed: int) -> Propagated:
    """The plain Monte Carlo: draw distance, proper motions and RV, transform every draw, summarise.

    The parallax (through the distance: its quantile -z) and the proper
    motions are drawn together from their correlation matrix.  Slow and
    memory-hungry (all draws at once); it exists to check :func:`propagate`.
    """
    rng = np.random.default_rng(seed)
    shape = (len(observed.ra), n_mc)
    z = rng.standard_normal(shape)  # the distance's quantile; the parallax's is -z
    distance = split_normal(observed.r_med[:, None], observed.r_lo[:, None], observed.r_hi[:, None], z)
    a, d, ad = (c[:, None] for c in (observed.parallax_pmra_corr, observed.parallax_pmdec_corr,
                                      observed.pmra_pmdec_corr))
    along_a = np.sqrt(1.0 - a**2)  # the Cholesky factor of the (parallax, pmra, pmdec) correlation matrix
    with np.errstate(divide="ignore", invalid="ignore"):
        mixed = np.where(along_a > 0, (ad - a * d) / along_a, 0.0)
    along_d = np.sqrt(np.maximum(1.0 - d**2 - mixed**2, 0.0))
    g_a, g_d = rng.standard_normal(shape), rng.standard_normal(shape)
    pmra = observed.pmra[:, None] + observed.pmra_err[:, None] * (-a * z + along_a * g_a)
    pmdec = observed.pmdec[:, None] + observed.pmdec_err[:, None] * (-d * z + mixed * g_a + along_d * g_d)
    rv = observed.rv[:, None] + observed.rv_err[:, None] * rng.standard_normal(shape)
    phase = frames.icrs_to_galactocentric(observed.ra[:, None], observed.dec[:, None], distance, pmra, pmdec, rv)
    samples = np.stack(_columns(phase))
    value = np.stack(_columns(frames.icrs_to_galactocentric(
        observed.ra, observed.dec, observed.r_med, observed.pmra, observed.pmdec, observed.rv
    )), axis=1)
    samples[4] = value[:, 4][:, None] + frames.wrap_angle(samples[4] - value[:, 4][:, None])
    mean = samples.mean(axis=2).T
    mean[:, 4] %= 2 * np.pi
    velocities = samples[[8, 9, 10]] - samples[[8, 9, 10]].mean(axis=2, keepdims=True)
    cov = np.stack([np.mean(velocities[i] * velocities[j], axis=1) for i, j in ((0, 1), (0, 2), (1, 2))], axis=1)
    return Propagated(value, mean, samples.std(axis=2).T, cov)


def _columns(phase: frames.PhaseSpace) -> tuple[np.ndarray, ...]:
    """The QUANTITIES of a phase-space point, in order."""
    cyl = frames.to_cylindrical(*phase)
    return (phase.x, phase.y, phase.z, cyl.R, cyl.phi, phase.vx, phase.vy, phase.vz, cyl.vR, cyl.vphi, cyl.vz)


def linear_errors(observed: Observed) -> np.ndarray:
    """First-order (Jacobian) uncertainties of QUANTITIES, shaped (N, 11), for comparison with the MC.

    Derivatives by central differences; the distance error is the mean of the
    two half-widths, and the observables are taken as independent (correlations ignored).
    """
    inputs = np.stack([observed.r_med, observed.pmra, observed.pmdec, observed.rv])
    sigmas = np.stack([
        0.5 * (observed.r_hi - observed.r_lo), observed.pmra_err, observed.pmdec_err, observed.rv_err,
    ])
    variance = np.zeros((len(observed.ra), len(QUANTITIES)))
    for i in range(len(inputs)):
        step = 1e-4 * sigmas[i]
        shifted = []
        for sign in (1.0, -1.0):
            point = inputs.copy()
            point[i] += sign * step
            shifted.append(np.stack(_columns(frames.icrs_to_galactocentric(observed.ra, observed.dec, *point))))
        diff = shifted[0] - shifted[1]
        diff[4] = frames.wrap_angle(diff[4])
        variance += (diff.T / (2 * step[:, None]) * sigmas[i][:, None]) ** 2
    return np.sqrt(variance)


def kinematics_table(catalog: pd.DataFrame, n_mc: int, seed: int | np.random.SeedSequence,
                     progress: bool = False) -> pd.DataFrame:
    """QUANTITIES and their ``_err`` columns, then the COVARIANCES, for every row of a canonical table (same index).

    Each star draws from the stream of ``seed`` and its id (column ``id``).
    Without velocity columns the velocities, their errors and covariances are NaN.
    """
    result = propagate(Observed.from_catalog(catalog), n_mc, seed, progress, keys=id_keys(catalog["id"]))
    moving = all(name in catalog for name in VELOCITY_ROLES)
    columns = {}
    for i, name in enumerate(QUANTITIES):
        known = moving or name in POSITIONS
        columns[name] = result.value[:, i] if known else np.full(len(catalog), np.nan)
        columns[f"{name}_err"] = result.std[:, i] if known else np.full(len(catalog), np.nan)
    for i, name in enumerate(COVARIANCES):
        columns[name] = result.velocity_cov[:, i] if moving else np.full(len(catalog), np.nan)
    return pd.DataFrame(columns, index=catalog.index)
