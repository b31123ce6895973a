"""Figures shared by the chapters: hexbin maps of the disk with the Sun and the spiral arms.

X-Y maps use galchem's frame (:mod:`galchem.conventions`): the Sun at
X = -8.27 kpc, the Galactic centre to the right, Galactic rotation clockwise.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galchem.conventions import R_SUN, Z_SUN
from galchem.analysis.arms import REID2014, Arm, Overdensity, trace

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "image.cmap": "viridis",
}

FEH_CMAP = "RdYlBu_r"
"""Colour map for [Fe/H]: red is metal-rich, blue metal-poor."""


def use_style() -> None:
    """Apply galchem's figure style to matplotlib."""
    plt.rcParams.update(STYLE)


def _limits(values: np.ndarray, pad: float = 0.3, q: float = 0.5) -> tuple[float, float]:
    lo, hi = np.nanpercentile(values, [q, 100 - q])
    return lo - pad, hi + pad


def add_arms(ax: Axes, arms: Sequence[Arm] = REID2014, labels: bool = True) -> None:
    """Draw spiral arms (centre solid, width edges dashed) without changing the axes limits."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for arm in arms:
        t = trace(arm)
        ax.plot(t.x, t.y, color="k", lw=1.6)
        for xe, ye in zip(t.x_edges, t.y_edges):
            ax.plot(xe, ye, color="k", lw=0.9, ls="--")
        if labels:
            inside = (t.x > xlim[0]) & (t.x < xlim[1]) & (t.y > ylim[0]) & (t.y < ylim[1])
            if inside.any():
                k = np.flatnonzero(inside)[len(np.flatnonzero(inside)) // 2]
                ax.annotate(arm.name, (t.x[k], t.y[k]), xytext=(4, 4), textcoords="offset points",
                            fontsize=8, color="k", bbox={"fc": "white", "ec": "none", "alpha": 0.6, "pad": 1})
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def mark_sun(ax: Axes, plane: str = "xy") -> None:
    """Mark the Sun with a yellow star, in the X-Y or the R-Z plane."""
    point = (-R_SUN.value, 0.0) if plane == "xy" else (R_SUN.value, Z_SUN.to_value("kpc"))
    ax.plot(*point, marker="*", ms=16, mfc="gold", mec="k", mew=1.0, ls="none", label="Sun", zorder=5)


def hexmap(ax: Axes, x, y, values=None, *, gridsize: int = 60, mincnt: int = 1, extent=None, **kwargs):
    """A hexbin map: log10 of the star count, or the median of ``values`` in cells with >= ``mincnt`` stars."""
    if values is None:
        return ax.hexbin(x, y, gridsize=gridsize, bins="log", mincnt=mincnt, extent=extent, **kwargs)
    return ax.hexbin(x, y, C=values, reduce_C_function=np.median, gridsize=gridsize, mincnt=mincnt,
                     extent=extent, **kwargs)


def disk_maps(X, Y, R, Z, values=None, *, label: str = "[Fe/H] [dex]", mincnt: int = 5) -> Figure:
    """X-Y (top) and R-Z (bottom) maps of a sample: star density, or the median of ``values`` per cell.

    The X-Y panel shows the Sun and the Reid et al. (2014) arms with their widths.
    """
    fig, (ax_xy, ax_rz) = plt.subplots(2, 1, figsize=(7.5, 10), height_ratios=(1.6, 1), layout="constrained")
    xy_extent = (*_limits(X), *_limits(Y))
    rz_extent = (*_limits(R), *_limits(Z, pad=0.1))
    if values is None:
        kw = {"cmap": "viridis"}
        colour_label = "stars per cell"
        mincnt = 1
    else:
        lo, hi = np.nanpercentile(values, [2, 98])
        kw = {"cmap": FEH_CMAP, "vmin": lo, "vmax": hi}
        colour_label = f"median {label}"
    xy_image = hexmap(ax_xy, X, Y, values, mincnt=mincnt, extent=xy_extent, **kw)
    ax_xy.set(xlim=xy_extent[:2], ylim=xy_extent[2:], xlabel="X [kpc]", ylabel="Y [kpc]", aspect="equal")
    add_arms(ax_xy)
    mark_sun(ax_xy, "xy")
    image = hexmap(ax_rz, R, Z, values, mincnt=mincnt, extent=rz_extent, **kw)
    ax_rz.set(xlim=rz_extent[:2], ylim=rz_extent[2:], xlabel="R [kpc]", ylabel="Z [kpc]")
    mark_sun(ax_rz, "rz")
    if values is None:  # one colour scale for both panels
        image.set_clim(1, max(xy_image.get_array().max(), image.get_array().max()))
        xy_image.set_clim(image.get_clim())
    fig.colorbar(image, ax=(ax_xy, ax_rz), label=colour_label, shrink=0.6)
    return fig


def profile_vs_truth(table) -> Figure:
    """Observed median [Fe/H] against R beside the mock's noise-free truth and smooth field."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(table["center"], table["smooth_field"], color="0.5", ls="--", label="injected smooth field")
    ax.plot(table["center"], table["noise_free"], color="k", marker="s", ms=4, label="noise-free [Fe/H] of the same stars")
    ax.plot(table["center"], table["observed"], "o", color="C3", label="observed [Fe/H]")
    ax.set(xlabel="R [kpc]", ylabel="median [Fe/H] [dex]")
    ax.legend(frameon=False)
    return fig


def line_fit_over_data(x, y, fit, *, n_draws: int = 100, seed: int = 0, xlabel: str = "x", ylabel: str = "y",
                       truth: tuple[float, float] | None = None) -> Figure:
    """The data as a density, the median line of a :class:`~galchem.analysis.fitting.LineFit` and ``n_draws`` posterior draws."""
    draws = fit.samples[np.random.default_rng(seed).choice(len(fit.samples), n_draws, replace=False)]
    return line_over_data(x, y, (fit.m, fit.m_err, fit.b), draws, xlabel=xlabel, ylabel=ylabel, truth=truth)


def line_over_data(x, y, best: tuple[float, float, float], draws, *, xlabel: str = "x", ylabel: str = "y",
                   truth: tuple[float, float] | None = None, slope_unit: str = "") -> Figure:
    """The data as a density, the line ``best = (m, m_err, b)`` and posterior ``draws`` (rows m, b, ...)."""
    m, m_err, b = best
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    image = ax.hexbin(x, y, gridsize=70, bins="log", cmap="Greys", mincnt=1)
    fig.colorbar(image, ax=ax, label="points per cell")
    grid = np.linspace(np.min(x), np.max(x), 50)
    for m_draw, b_draw in np.asarray(draws)[:, :2]:
        ax.plot(grid, m_draw * grid + b_draw, color="C3", lw=0.5, alpha=0.15)
    ax.plot(grid, m * grid + b, color="C3", lw=2.5, label=f"fit: m = {m:.4f} ± {m_err:.4f}{slope_unit}")
    if truth is not None:
        ax.plot(grid, truth[0] * grid + truth[1], color="C0", ls="--", lw=1.5, label=f"truth: m = {truth[0]:.4f}{slope_unit}")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="upper right", frameon=False)
    return fig


def gradient_profile(measured, published, truth, literature, *, center: str, xlabel: str, ylabel: str,
                     data_label: str = "this book") -> Figure:
    """Fitted slope per bin: this book's, the study's, the mock's truth and literature values with their ranges."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    shift = 0.012 * (measured[center].max() - measured[center].min())
    ax.errorbar(published[center] - shift, published["m"], published["m_err"], fmt="s", color="k", ms=5,
                label="Hawkins (2023), LAMOST OBAF")
    ax.errorbar(measured[center] + shift, measured["m"], measured["m_err"], fmt="o", color="C3", ms=6, label=data_label)
    if truth is not None:
        ax.plot(truth[center], truth["m_true"], "D", mfc="none", mec="C0", ms=7, mew=1.5, label="mock truth")
    lo, hi = [c for c in literature.columns if c.endswith("_lo")][0], [c for c in literature.columns if c.endswith("_hi")][0]
    markers = iter("^v<>pP*Xh")
    for _, row in literature.iterrows():
        middle = 0.5 * (row[lo] + row[hi])
        ax.errorbar(middle, row["m"], yerr=0 if pd.isna(row["m_err"]) else row["m_err"], xerr=0.5 * (row[hi] - row[lo]),
                    fmt=next(markers), color="0.45", ms=6, capsize=0, label=row["label"])
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(frameon=False, fontsize=8, loc="best", ncol=2)
    return fig


def pull_histograms(table, parameters=("m", "b", "lam")) -> Figure:
    """Histograms of (median - truth) / error per parameter, against a unit normal."""
    fig, axes = plt.subplots(1, len(parameters), figsize=(11, 3.4), layout="constrained", sharey=True)
    grid = np.linspace(-4, 4, 200)
    for ax, p in zip(axes, parameters):
        pulls = table[f"{p}_pull"]
        ax.hist(pulls, bins=np.linspace(-4, 4, 17), density=True, color="0.75", edgecolor="0.4")
        ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), color="C3", label="unit normal")
        ax.set(xlabel=f"({p} - truth) / error", title=f"{p}: {100 * table[f'{p}_inside'].mean():.0f} % inside 68 %")
    axes[0].set_ylabel("density")
    axes[0].legend(frameon=False)
    return fig


def attenuation_figure(scan) -> Figure:
    """Fitted and least-squares slopes against the x error, with the predicted attenuation."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(scan["x_err_rms"], scan["predicted_m"], color="k", label="truth + predicted attenuation")
    ax.plot(scan["x_err_rms"], scan["least_squares_m"], "s", color="0.5", label="ordinary least squares")
    ax.errorbar(scan["x_err_rms"], scan["m"], scan["m_err"], fmt="o", color="C3", label="Bayesian fit (the study's model)")
    ax.set(xlabel="rms error in x", ylabel="fitted slope m")
    ax.legend(frameon=False)
    return fig


POPULATION_COLOURS = {"thin": "C0", "thick": "C1", "halo": "C3"}
"""One colour per kinematic population, used in every membership figure."""


def toomre_diagram(U, V, W, probs, *, limit: float = 0.01) -> Figure:
    """sqrt(U^2 + W^2) against V, stars coloured by their most probable population.

    Dashed circles mark total speeds of 50, 100, ... km/s relative to the LSR;
    stars with a halo probability of at least ``limit`` are drawn with a ring.
    """
    fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
    UW = np.hypot(U, W)
    likeliest = np.asarray(probs.idxmax(axis=1).str.removeprefix("p_"))
    for name, colour in POPULATION_COLOURS.items():
        chosen = likeliest == name
        ax.scatter(np.asarray(V)[chosen], UW[chosen], s=2 if name == "thin" else 6, color=colour, alpha=0.5,
                   lw=0, rasterized=True, label=f"most probably {name} ({chosen.sum():,})")
    flagged = probs["p_halo"].to_numpy() >= limit
    ax.scatter(np.asarray(V)[flagged], UW[flagged], s=18, facecolor="none", edgecolor="k", lw=0.5,
               label=f"halo probability ≥ {100 * limit:g} % ({flagged.sum():,})")
    for speed in range(50, 400, 50):
        ax.add_patch(plt.Circle((0, 0), speed, fill=False, ls="--", lw=0.6, color="0.6"))
    top = max(np.nanpercentile(UW, 99.99) * 1.1, 150.0)
    ax.set(xlabel="V (relative to the LSR) [km/s]", ylabel=r"$\sqrt{U^2 + W^2}$ [km/s]",
           xlim=(min(np.nanpercentile(V, 0.01) - 20, -150), max(np.nanpercentile(V, 99.99) + 20, 100)),
           ylim=(0, top), aspect="equal")
    ax.legend(loc="upper left", frameon=False, markerscale=3, fontsize=9)
    return fig


def error_histograms(table, columns: Sequence[str], labels: Sequence[str]) -> Figure:
    """Histograms of the Monte Carlo uncertainties ``<column>_err``, one panel each, median marked."""
    fig, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 3.3), layout="constrained")
    for ax, column, label in zip(np.atleast_1d(axes), columns, labels):
        errors = table[f"{column}_err"].to_numpy()
        top = np.nanpercentile(errors, 99.5)
        ax.hist(errors, bins=np.linspace(0, top, 50), color="0.7", edgecolor="0.4", lw=0.4)
        median = np.nanmedian(errors)
        ax.axvline(median, color="C3", lw=1.5)
        ax.set(xlabel=label, title=f"median {median:.3g}")
    np.atleast_1d(axes)[0].set_ylabel("stars")
    return fig


def ratio_histograms(ratios, labels: Sequence[str], *, xlabel: str, span: float = 0.3) -> Figure:
    """Histograms of per-star ratios (one panel per column of ``ratios``) around 1."""
    ratios = np.asarray(ratios)
    fig, axes = plt.subplots(1, ratios.shape[1], figsize=(2.6 * ratios.shape[1], 3.0), layout="constrained",
                             sharey=True)
    for ax, column, label in zip(axes, ratios.T, labels):
        ax.hist(column, bins=np.linspace(1 - span, 1 + span, 41), color="0.7", edgecolor="0.4", lw=0.4)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set(title=f"{label}: median {np.nanmedian(column):.3f}", xlabel=xlabel)
    axes[0].set_ylabel("stars")
    return fig


RESIDUAL_CMAP = "RdBu_r"
"""Diverging colour map for residuals: red where stars are more metal-rich than predicted."""


def add_overdensity(ax: Axes, overdensity: Overdensity, levels=(0.0, 0.5, 1.0)) -> None:
    """Contours of an overdensity map (e.g. Poggio et al. 2021) without changing the axes limits."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    ax.contour(overdensity.x, overdensity.y, overdensity.values, levels=levels, colors="0.15", linewidths=0.8)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def residual_maps(X, Y, observed, predicted, residual, *, overdensity: Overdensity | None = None,
                  mincnt: int = 5, span: float = 0.2) -> Figure:
    """Three X-Y maps (medians per cell): observed [Fe/H], the radial fit's prediction, and the residual.

    The residual is observed minus predicted; arms of Reid et al. (2014) on
    every panel and ``overdensity`` contours on the residual panel.
    """
    extent = (*_limits(X), *_limits(Y))
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6), layout="constrained", sharey=True)
    lo, hi = np.nanpercentile(observed, [2, 98])
    panels = (
        (observed, "median observed [Fe/H] [dex]", {"cmap": FEH_CMAP, "vmin": lo, "vmax": hi}),
        (predicted, "predicted [Fe/H] (radial fit) [dex]", {"cmap": FEH_CMAP, "vmin": lo, "vmax": hi}),
        (residual, "median residual, observed − predicted [dex]", {"cmap": RESIDUAL_CMAP, "vmin": -span, "vmax": span}),
    )
    for ax, (values, label, kw) in zip(axes, panels):
        image = hexmap(ax, X, Y, values, mincnt=mincnt, extent=extent, gridsize=45, **kw)
        ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="X [kpc]", aspect="equal")
        add_arms(ax, labels=ax is axes[0])
        mark_sun(ax, "xy")
        fig.colorbar(image, ax=ax, orientation="horizontal", label=label, shrink=0.9, pad=0.02)
    axes[0].set_ylabel("Y [kpc]")
    if overdensity is not None:
        add_overdensity(axes[2], overdensity)
    return fig


def azimuthal_profiles(profile, injected=None) -> Figure:
    """⟨δ[Fe/H]⟩ against φ with standard errors, one panel per annulus, and the injected pattern if given."""
    annuli = profile[["r_lo", "r_hi"]].drop_duplicates().to_numpy()
    fig, axes = plt.subplots(1, len(annuli), figsize=(6 * len(annuli), 4), layout="constrained", sharey=True)
    for ax, (r_lo, r_hi) in zip(np.atleast_1d(axes), annuli):
        part = profile[(profile["r_lo"] == r_lo) & profile["mean_delta"].notna()]
        ax.errorbar(np.rad2deg(part["phi_center"]), part["mean_delta"], part["sem"], fmt="o", color="C3", ms=4,
                    label="observed")
        if injected is not None:
            truth = injected[(injected["r_lo"] == r_lo) & injected["mean_delta"].notna()]
            ax.plot(np.rad2deg(truth["phi_center"]), truth["mean_delta"], color="C0", lw=1.5,
                    label="injected pattern, same stars")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(180, color="goldenrod", lw=1, ls=":", label="the Sun's azimuth")
        ax.set(title=f"{r_lo:g} < R < {r_hi:g} kpc", xlabel="φ [deg]")
    np.atleast_1d(axes)[0].set_ylabel("⟨δ[Fe/H]⟩ [dex]")
    np.atleast_1d(axes)[0].legend(frameon=False, fontsize=9)
    return fig


def null_distribution(null, observed: float, p_value: float, *, xlabel: str) -> Figure:
    """Histogram of a permutation null distribution with the observed statistic marked."""
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    top = max(np.max(null), observed) * 1.05
    ax.hist(null, bins=np.linspace(0, top, 50), color="0.7", edgecolor="0.4", lw=0.4, label="φ shuffled")
    ax.axvline(observed, color="C3", lw=2, label=f"observed (p = {p_value:.3g})")
    ax.set(xlabel=xlabel, ylabel="shuffles")
    ax.legend(frameon=False)
    return fig
