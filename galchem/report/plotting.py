"""Figures shared by the chapters: maps of the disk with the Sun and the spiral arms, fits, splines, azimuthal means.

X-Y maps use galchem's frame (:mod:`galchem.conventions`): the Sun at
X = -8.27 kpc, the Galactic centre to the right, Galactic rotation clockwise.

Every figure is drawn for the book's text column: at most
:data:`FIGURE_WIDTH` inches wide, so that it is shown at its natural size on a
desktop screen, with no text smaller than :data:`MIN_FONT_PT` points
(about 10.7 CSS pixels).  Multi-panel figures are stacked rather than squeezed
side by side.  Legends sit below the axes, off the data.  :func:`use_style`
makes notebooks emit SVG, with text kept as text and dense point clouds and
hexagon maps rasterised at :data:`RASTER_DPI`, sharp on high-density screens.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib import ticker
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from galchem.analysis.arms import REID2014, Arm, Overdensity, trace
from galchem.conventions import R_SUN, Z_SUN

__all__ = [
    "FEH_CMAP", "FIGURE_WIDTH", "LITERATURE_STYLES", "MIN_FONT_PT", "OKABE_ITO", "POPULATION_COLOURS",
    "RASTER_DPI", "RESIDUAL_CMAP", "STYLE", "add_arms", "add_overdensity", "attenuation_figure", "count_colorbar",
    "DECONVOLVED", "azimuthal_means_study_figure", "azimuthal_means_per_annulus", "deconvolved_prior", "disk_maps",
    "error_histograms", "gradients_per_bin", "hexmap", "legend_below", "line_fit_over_data", "line_over_data",
    "mark_sun", "null_distribution", "spline_over_data", "medians_vs_truth", "pull_histograms", "pulls_against_truth", "ratio_histograms",
    "residual_comparison", "residual_maps", "toomre_diagram", "use_style",
]

FIGURE_WIDTH = 7.6
"""Width [inch] of a full-column figure: 730 CSS px, inside the 784 px text column of the desktop layout."""
MIN_FONT_PT = 8.0
"""Smallest font size [pt] any figure uses: 10.7 CSS px when the figure is shown at its natural size."""
RASTER_DPI = 200
"""Resolution of the rasterised parts of SVG figures (hexagon maps, dense point clouds)."""

STYLE = {
    "figure.dpi": RASTER_DPI,
    "savefig.dpi": RASTER_DPI,
    "svg.fonttype": "none",  # text stays text: sharp at any zoom, searchable, and measurable in tests
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "image.cmap": "viridis",
}

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
"""The Okabe & Ito colour-blind-safe palette."""

THIS_BOOK = {"color": OKABE_ITO["vermillion"], "marker": "o"}
THE_STUDY = {"color": OKABE_ITO["black"], "marker": "s"}
TRUTH = {"color": OKABE_ITO["blue"], "marker": "D"}
DECONVOLVED = {"color": OKABE_ITO["vermillion"], "marker": "o", "mfc": "white"}
"""This book's fit with the deconvolved prior on the true x: the flat fit's colour, open markers."""
SIMEX = {"color": OKABE_ITO["reddish purple"], "marker": "^", "mfc": "white"}
"""The SIMEX cross-check of the corrected fit."""
SPLINE = {"color": OKABE_ITO["bluish green"]}
"""The smooth radial spline (P-spline) and what is measured against it."""

LITERATURE_STYLES = (
    {"color": OKABE_ITO["orange"], "marker": "^"},
    {"color": OKABE_ITO["sky blue"], "marker": "v"},
    {"color": OKABE_ITO["bluish green"], "marker": "<"},
    {"color": OKABE_ITO["reddish purple"], "marker": ">"},
    {"color": "#777777", "marker": "p"},
    {"color": "#332288", "marker": "h"},
    {"color": "#882255", "marker": "X"},
)
"""Colour and marker of each literature study in a figure, in the order the studies are listed."""

FEH_CMAP = "RdYlBu_r"
"""Colour map for [Fe/H]: red is metal-rich, blue metal-poor."""
RESIDUAL_CMAP = "RdBu_r"
"""Diverging colour map for residuals: red where stars are more metal-rich than predicted."""
DENSITY_CMAP = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.3, 1.0, 256)), name="galchem_density")
"""Greys that start at a light grey, so that a cell holding a single star is still visible."""

POPULATION_COLOURS = {"thin": OKABE_ITO["blue"], "thick": OKABE_ITO["orange"], "halo": OKABE_ITO["vermillion"]}
"""One colour per kinematic population, used in every membership figure."""


def use_style() -> None:
    """Apply galchem's figure style; inside a notebook, also show figures as SVG."""
    plt.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")


def legend_below(fig: Figure, ax: Axes | None = None, ncol: int = 2, **kwargs) -> None:
    """One legend for the figure, below the axes, so that it never covers data."""
    axes = [ax] if ax is not None else fig.axes
    handles, labels = [], []
    for each in axes:
        for handle, label in zip(*each.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, **kwargs)


def count_colorbar(fig: Figure, image, ax, label: str = "stars per cell", **kwargs):
    """A colour bar for counts on a log scale, labelled 1, 10, 100 (no superscripts, which print too small)."""
    bar = fig.colorbar(image, ax=ax, label=label, **kwargs)
    bar.ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    bar.ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    return bar


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
                right = t.x[k] > 0.5 * (xlim[0] + xlim[1])  # a label in the right half grows leftwards, off the edge
                ax.annotate(arm.name, (t.x[k], t.y[k]), xytext=(-4 if right else 4, 4), textcoords="offset points",
                            ha="right" if right else "left", fontsize=MIN_FONT_PT + 1, color="k",
                            bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1}, clip_on=True)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def mark_sun(ax: Axes, plane: str = "xy") -> None:
    """Mark the Sun with a yellow star, in the X-Y or the R-Z plane."""
    point = (-R_SUN.value, 0.0) if plane == "xy" else (R_SUN.value, Z_SUN.to_value("kpc"))
    ax.plot(*point, marker="*", ms=16, mfc="gold", mec="k", mew=1.0, ls="none", label="Sun", zorder=5)


def hexmap(ax: Axes, x, y, values=None, *, gridsize: int = 60, mincnt: int = 1, extent=None, **kwargs):
    """A rasterised hexbin map: log10 of the star count, or the median of ``values`` in cells with >= ``mincnt`` stars."""
    kwargs.setdefault("rasterized", True)
    if values is None:
        return ax.hexbin(x, y, gridsize=gridsize, bins="log", mincnt=mincnt, extent=extent, **kwargs)
    return ax.hexbin(x, y, C=values, reduce_C_function=np.median, gridsize=gridsize, mincnt=mincnt,
                     extent=extent, **kwargs)


def disk_maps(X, Y, R, Z, values=None, *, label: str = "[Fe/H] [dex]", mincnt: int = 5) -> Figure:
    """X-Y (top) and R-Z (bottom) maps of a sample: star density, or the median of ``values`` per cell.

    The X-Y panel shows the Sun and the Reid et al. (2014) arms with their widths.
    """
    fig, (ax_xy, ax_rz) = plt.subplots(2, 1, figsize=(FIGURE_WIDTH, 10), height_ratios=(1.6, 1), layout="constrained")
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
    if values is None:
        count_colorbar(fig, image, (ax_xy, ax_rz), colour_label, shrink=0.6)
    else:
        fig.colorbar(image, ax=(ax_xy, ax_rz), label=colour_label, shrink=0.6)
    return fig


def medians_vs_truth(table) -> Figure:
    """Observed median [Fe/H] against R beside the mock's noise-free truth and smooth field."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.4), layout="constrained")
    ax.plot(table["center"], table["smooth_field"], color="0.45", ls="--", label="injected smooth field")
    ax.plot(table["center"], table["noise_free"], color="k", marker="s", ms=4, label="noise-free [Fe/H] of the same stars")
    ax.plot(table["center"], table["observed"], "o", color=THIS_BOOK["color"], label="observed [Fe/H]")
    ax.set(xlabel="R [kpc]", ylabel="median [Fe/H] [dex]")
    legend_below(fig, ax, ncol=3)
    return fig


def line_fit_over_data(x, y, fit, *, n_draws: int = 100, seed: int = 0, xlabel: str = "x", ylabel: str = "y",
                       truth: tuple[float, float] | None = None) -> Figure:
    """The data as a density, the median line of a :class:`~galchem.analysis.fitting.LineFit` and ``n_draws`` posterior draws."""
    draws = fit.samples[np.random.default_rng(seed).choice(len(fit.samples), n_draws, replace=False)]
    return line_over_data(x, y, (fit.m, fit.m_err, fit.b), draws, xlabel=xlabel, ylabel=ylabel, truth=truth)


def line_over_data(x, y, best: tuple[float, float, float], draws, *, xlabel: str = "x", ylabel: str = "y",
                   truth: tuple[float, float] | None = None, slope_unit: str = "", share: float = 0.995) -> Figure:
    """The data as a density, the line ``best = (m, m_err, b)`` and posterior ``draws`` (rows m, b, ...).

    The axes show the central ``share`` of the points in x and in y, and the
    lines are drawn over that x range only, where the data are; the points
    outside it are counted in the legend rather than drawn.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    tail = 50 * (1 - share)
    x_lo, x_hi = np.nanpercentile(x, [tail, 100 - tail])
    y_lo, y_hi = np.nanpercentile(y, [tail, 100 - tail])
    shown = (x >= x_lo) & (x <= x_hi) & (y >= y_lo) & (y <= y_hi)
    m, m_err, b = best
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.8), layout="constrained")
    image = ax.hexbin(x[shown], y[shown], gridsize=60, bins="log", cmap=DENSITY_CMAP, mincnt=1,
                      extent=(x_lo, x_hi, y_lo, y_hi), rasterized=True)
    count_colorbar(fig, image, ax)
    grid = np.linspace(x_lo, x_hi, 50)
    for m_draw, b_draw in np.asarray(draws)[:, :2]:
        ax.plot(grid, m_draw * grid + b_draw, color=THIS_BOOK["color"], lw=0.5, alpha=0.15)
    ax.plot(grid, m * grid + b, color=THIS_BOOK["color"], lw=2.5, label=f"fit: m = {m:.4f} ± {m_err:.4f}{slope_unit}")
    if truth is not None:
        ax.plot(grid, truth[0] * grid + truth[1], color=TRUTH["color"], ls="--", lw=1.5,
                label=f"truth: m = {truth[0]:.4f}{slope_unit}")
    hidden = int(np.sum(~shown))
    if hidden:
        ax.plot([], [], ls="none", label=f"{hidden:,} of {len(x):,} stars lie beyond the axes")
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(x_lo, x_hi), ylim=(y_lo, y_hi))
    legend_below(fig, ax, ncol=2)
    return fig


def gradients_per_bin(measured, published, truth, literature, *, center: str, xlabel: str, ylabel: str,
                      data_label: str = "this book", deconvolved_label: str | None = None) -> Figure:
    """Fitted slope per bin: this book's, the study's, the mock's truth and literature values with their ranges.

    Each literature study has its own colour and marker (:data:`LITERATURE_STYLES`),
    named in the legend below the axes.  With ``deconvolved_label``, the
    slopes of the deconvolved prior (``m_deconv``, ``m_deconv_err`` of
    ``measured``) are drawn too, as open markers beside the flat ones.
    """
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 5.6), layout="constrained")
    shift = 0.012 * (measured[center].max() - measured[center].min())
    ax.errorbar(published[center] - shift, published["m"], published["m_err"], fmt=THE_STUDY["marker"],
                color=THE_STUDY["color"], ms=5, label="Hawkins (2023), LAMOST OBAF")
    ax.errorbar(measured[center] + shift, measured["m"], measured["m_err"], fmt=THIS_BOOK["marker"],
                color=THIS_BOOK["color"], ms=6, label=data_label, zorder=4)
    if deconvolved_label is not None:
        ax.errorbar(measured[center] + 2.5 * shift, measured["m_deconv"], measured["m_deconv_err"],
                    fmt=DECONVOLVED["marker"], color=DECONVOLVED["color"], mfc=DECONVOLVED["mfc"], ms=6, mew=1.4,
                    label=deconvolved_label, zorder=4)
    if truth is not None:
        ax.plot(truth[center], truth["m_true"], TRUTH["marker"], mfc="none", mec=TRUTH["color"], ms=7, mew=1.5,
                label="mock truth", zorder=5)
    lo = next(c for c in literature.columns if c.endswith("_lo"))
    hi = next(c for c in literature.columns if c.endswith("_hi"))
    for (_, row), style in zip(literature.iterrows(), LITERATURE_STYLES):
        middle = 0.5 * (row[lo] + row[hi])
        ax.errorbar(middle, row["m"], yerr=0 if pd.isna(row["m_err"]) else row["m_err"], xerr=0.5 * (row[hi] - row[lo]),
                    fmt=style["marker"], color=style["color"], ms=7, capsize=3, lw=1.4, label=f"{row['label']}, {row['tracer']}")
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    legend_below(fig, ax, ncol=2, fontsize=MIN_FONT_PT + 0.5)
    return fig


def pulls_against_truth(table, *, center: str, xlabel: str, series) -> Figure:
    """Each fit's pull, (slope - truth) / error, per bin: where a method is biased, in units of its own error.

    ``series`` lists ``(label, pull column)`` pairs of ``table`` in drawing
    order (the flat fit, the corrected fit, the cross-check); a bin where a
    method gave no number is simply absent from its series.  The band marks
    +-2, the range a calibrated method stays in about 95 % of the time.
    """
    styles = (THIS_BOOK, DECONVOLVED, SIMEX)
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 3.8), layout="constrained")
    ax.axhspan(-2, 2, color="0.92", zorder=0, label="±2")
    ax.axhline(0, color="0.6", lw=0.8, zorder=1)
    width = np.min(np.diff(np.sort(table[center].unique()))) if table[center].nunique() > 1 else 1.0
    offsets = np.linspace(-0.15, 0.15, len(series)) * width
    for (label, column), style, shift in zip(series, styles, offsets):
        ax.plot(table[center] + shift, table[column], style["marker"], color=style["color"],
                mfc=style.get("mfc", style["color"]), mew=1.4, ms=7, label=label, zorder=3)
    ax.set(xlabel=xlabel, ylabel="pull = (slope − truth) / error")
    legend_below(fig, ax, ncol=len(series) + 1)
    return fig


def pull_histograms(table, parameters=("m", "b", "lam")) -> Figure:
    """Histograms of (median - truth) / error per parameter, against a unit normal."""
    fig, axes = plt.subplots(1, len(parameters), figsize=(FIGURE_WIDTH, 3.4), layout="constrained", sharey=True)
    grid = np.linspace(-4, 4, 200)
    for ax, p in zip(axes, parameters):
        pulls = table[f"{p}_pull"]
        ax.hist(pulls, bins=np.linspace(-4, 4, 17), density=True, color="0.75", edgecolor="0.4")
        ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), color=THIS_BOOK["color"], label="unit normal")
        name = "λ" if p == "lam" else p
        ax.set(xlabel=f"({name} − truth) / error", title=f"{name}: {100 * table[f'{p}_inside'].mean():.0f} % in 68 % CI")
    axes[0].set_ylabel("density")
    legend_below(fig, axes[0], ncol=1)
    return fig


def attenuation_figure(scan, corrected=None, truth: float | None = None) -> Figure:
    """Fitted and least-squares slopes against the x error, with the predicted attenuation.

    ``corrected`` is a second scan of the same data sets fitted with the
    deconvolved prior (``attenuation_scan(..., prior=MixturePrior())``), drawn as
    open markers; ``truth`` draws the true slope as a dotted line.
    """
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.6), layout="constrained")
    ax.plot(scan["x_err_rms"], scan["predicted_m"], color="k", label="truth + predicted attenuation")
    if truth is not None:
        ax.axhline(truth, color="k", ls=":", lw=1, label="true slope")
    ax.plot(scan["x_err_rms"], scan["least_squares_m"], "s", color="0.5", label="ordinary least squares")
    ax.errorbar(scan["x_err_rms"], scan["m"], scan["m_err"], fmt="o", color=THIS_BOOK["color"],
                label="Bayesian fit, flat prior (the study's)")
    if corrected is not None:
        shift = 0.012 * (scan["x_err_rms"].max() - scan["x_err_rms"].min())
        ax.errorbar(corrected["x_err_rms"] + shift, corrected["m"], corrected["m_err"], fmt=DECONVOLVED["marker"],
                    color=DECONVOLVED["color"], mfc=DECONVOLVED["mfc"], mew=1.4, label="Bayesian fit, deconvolved prior")
    ax.set(xlabel="rms error in x", ylabel="fitted slope m")
    legend_below(fig, ax, ncol=2)
    return fig


def deconvolved_prior(x, mixture, x_true=None, *, xlabel: str = "x") -> Figure:
    """The deconvolved prior on the true x: histograms of the observed (and, if known, true) x, with the mixture.

    ``mixture`` is an :class:`~galchem.analysis.deconvolution.XMixture`
    (``fit.prior.mixture`` of a fit with a :class:`~galchem.analysis.priors.MixturePrior`): its density is
    drawn in full, and each Gaussian component thinly.
    """
    x = np.asarray(x, dtype=float)
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.2), layout="constrained")
    lo, hi = np.nanpercentile(x, [0.1, 99.9])
    pad = 0.08 * (hi - lo)
    bins = np.linspace(lo - pad, hi + pad, 60)
    ax.hist(x, bins=bins, density=True, color="0.8", label="observed x (true x + error)")
    if x_true is not None:
        ax.hist(np.asarray(x_true, dtype=float), bins=bins, density=True, histtype="step", lw=1.5,
                color=TRUTH["color"], label="true x (known in a simulation)")
    grid = np.linspace(bins[0], bins[-1], 400)
    sd = np.sqrt(mixture.variances)
    parts = [w * np.exp(-0.5 * ((grid - mu) / s) ** 2) / (np.sqrt(2 * np.pi) * s)
             for w, mu, s in zip(mixture.weights, mixture.means, sd)]
    for k, part in enumerate(parts):
        ax.plot(grid, part, color="k", lw=0.8, ls="--", label="one Gaussian component" if k == 0 else None)
    ax.plot(grid, np.sum(parts, axis=0), color=DECONVOLVED["color"], lw=2.2,
            label=f"deconvolved prior ({len(parts)} Gaussians)")
    ax.set(xlabel=xlabel, ylabel="density", xlim=(bins[0], bins[-1]))
    legend_below(fig, ax, ncol=2)
    return fig


def toomre_diagram(U, V, W, probs, *, limit: float = 0.01) -> Figure:
    """sqrt(U^2 + W^2) against V, stars coloured by their most probable population.

    Dashed circles mark total speeds of 50, 100, ... km/s relative to the LSR;
    stars with a halo probability of at least ``limit`` are drawn with a ring.
    """
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 5.6), layout="constrained")
    UW = np.hypot(U, W)
    likeliest = np.asarray(probs.idxmax(axis=1).str.removeprefix("p_"))
    for name, colour in POPULATION_COLOURS.items():
        chosen = likeliest == name
        ax.scatter(np.asarray(V)[chosen], UW[chosen], s=2 if name == "thin" else 6, color=colour, alpha=0.5,
                   lw=0, rasterized=True, label=f"most probably {name} ({chosen.sum():,})")
    flagged = probs["p_halo"].to_numpy() >= limit
    ax.scatter(np.asarray(V)[flagged], UW[flagged], s=18, facecolor="none", edgecolor="k", lw=0.5, rasterized=True,
               label=f"halo probability ≥ {100 * limit:g} % ({flagged.sum():,})")
    for speed in range(50, 400, 50):
        ax.add_patch(plt.Circle((0, 0), speed, fill=False, ls="--", lw=0.6, color="0.6"))
    top = max(np.nanpercentile(UW, 99.99) * 1.1, 150.0)
    ax.set(xlabel="V (relative to the LSR) [km/s]", ylabel=r"$\sqrt{U^2 + W^2}$ [km/s]",
           xlim=(min(np.nanpercentile(V, 0.01) - 20, -150), max(np.nanpercentile(V, 99.99) + 20, 100)),
           ylim=(0, top), aspect="equal")
    legend_below(fig, ax, ncol=2, markerscale=3)
    return fig


def _grid(n: int, ncols: int, height: float) -> tuple[Figure, np.ndarray]:
    """``n`` panels in rows of ``ncols`` across the column width; spare axes are hidden."""
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(FIGURE_WIDTH, height * nrows), layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def error_histograms(table, columns: Sequence[str], labels: Sequence[str]) -> Figure:
    """Histograms of the Monte Carlo uncertainties ``<column>_err``, two panels a row, median marked."""
    fig, axes = _grid(len(columns), 2, 3.0)
    for i, (ax, column, label) in enumerate(zip(axes, columns, labels)):
        errors = table[f"{column}_err"].to_numpy()
        top = np.nanpercentile(errors, 99.5)
        ax.hist(errors, bins=np.linspace(0, top, 50), color="0.7", edgecolor="0.4", lw=0.4)
        median = np.nanmedian(errors)
        ax.axvline(median, color=THIS_BOOK["color"], lw=1.5)
        ax.set(xlabel=label, title=f"median {median:.3g}")
        if i % 2 == 0:
            ax.set_ylabel("stars")
    return fig


def ratio_histograms(ratios, labels: Sequence[str], *, xlabel: str, span: float = 0.3) -> Figure:
    """Histograms of per-star ratios (one panel per column of ``ratios``) around 1, three panels a row."""
    ratios = np.asarray(ratios)
    fig, axes = _grid(ratios.shape[1], 3, 2.9)
    for i, (ax, column, label) in enumerate(zip(axes, ratios.T, labels)):
        ax.hist(column, bins=np.linspace(1 - span, 1 + span, 41), color="0.7", edgecolor="0.4", lw=0.4)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set(title=f"{label}: median {np.nanmedian(column):.3f}", xlabel=xlabel)
        if i % 3 == 0:
            ax.set_ylabel("stars")
    return fig


def add_overdensity(ax: Axes, overdensity: Overdensity, levels=(0.0, 0.5, 1.0)) -> None:
    """Contours of an overdensity map (e.g. Poggio et al. 2021) without changing the axes limits."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    ax.contour(overdensity.x, overdensity.y, overdensity.values, levels=levels, colors="0.15", linewidths=0.8)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def residual_maps(X, Y, observed, predicted, residual, *, overdensity: Overdensity | None = None,
                  mincnt: int = 5, span: float = 0.2, model: str = "the radial fit") -> Figure:
    """X-Y maps (medians per cell): observed [Fe/H] and the radial fit's prediction side by side, the residual below.

    The two upper panels share one colour scale; the residual (observed minus
    predicted) gets the full width.  Arms of Reid et al. (2014) on every panel
    and ``overdensity`` contours on the residual panel.
    """
    extent = (*_limits(X), *_limits(Y))
    aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
    fig = plt.figure(figsize=(FIGURE_WIDTH, (0.42 + 0.8) * FIGURE_WIDTH * aspect + 1.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(0.42 + 0.1, 0.8 + 0.1))
    ax_obs, ax_pred = top.subplots(1, 2, sharey=True)
    ax_res = bottom.subplots()
    lo, hi = np.nanpercentile(observed, [2, 98])
    feh = {"cmap": FEH_CMAP, "vmin": lo, "vmax": hi}
    for ax, values, title in ((ax_obs, observed, "observed [Fe/H]"), (ax_pred, predicted, f"predicted by {model}")):
        image = hexmap(ax, X, Y, values, mincnt=mincnt, extent=extent, gridsize=40, **feh)
        ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="X [kpc]", aspect="equal", title=title)
        add_arms(ax, labels=False)
        mark_sun(ax, "xy")
    ax_obs.set_ylabel("Y [kpc]")
    top.colorbar(image, ax=(ax_obs, ax_pred), label="[Fe/H] [dex]", shrink=0.8)
    image = hexmap(ax_res, X, Y, residual, mincnt=mincnt, extent=extent, gridsize=45, cmap=RESIDUAL_CMAP,
                   vmin=-span, vmax=span)
    ax_res.set(xlim=extent[:2], ylim=extent[2:], xlabel="X [kpc]", ylabel="Y [kpc]", aspect="equal",
               title="residual, observed − predicted")
    add_arms(ax_res)
    mark_sun(ax_res, "xy")
    if overdensity is not None:
        add_overdensity(ax_res, overdensity)
    bottom.colorbar(image, ax=ax_res, label="median residual [dex]", shrink=0.8)
    return fig


def residual_comparison(X, Y, residuals: Sequence, titles: Sequence[str], *,
                        overdensity: Overdensity | None = None, mincnt: int = 5, span: float = 0.2) -> Figure:
    """X-Y maps of median residuals against different references, stacked, on one colour scale.

    Each panel shows the Reid et al. (2014) arms and the ``overdensity``
    contours, so a reader can see which patches survive a change of reference.
    """
    extent = (*_limits(X), *_limits(Y))
    aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
    n = len(residuals)
    fig, axes = plt.subplots(n, 1, figsize=(FIGURE_WIDTH, n * 0.78 * FIGURE_WIDTH * aspect + 0.8),
                             layout="constrained", squeeze=False)
    for ax, residual, title in zip(axes[:, 0], residuals, titles):
        image = hexmap(ax, X, Y, residual, mincnt=mincnt, extent=extent, gridsize=45, cmap=RESIDUAL_CMAP,
                       vmin=-span, vmax=span)
        ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="X [kpc]", ylabel="Y [kpc]", aspect="equal", title=title)
        add_arms(ax)
        mark_sun(ax, "xy")
        if overdensity is not None:
            add_overdensity(ax, overdensity)
    fig.colorbar(image, ax=axes[:, 0], label="median residual [dex]", shrink=0.6)
    return fig


def spline_over_data(R, feh, abs_z, line: tuple[float, float], spline_feh, z_edges, *,
                     bin_width: float = 0.25, min_count: int = 20, share: float = 0.995) -> Figure:
    """[Fe/H] against R near the plane: stars as a density, medians in bins of R, the straight line and the
    smooth spline of each |Z| slice (``spline_feh``: the spline's [Fe/H] at each star)."""
    R, feh, abs_z = (np.asarray(v, dtype=float) for v in (R, feh, abs_z))
    spline_feh = np.asarray(spline_feh, dtype=float)
    tail = 50 * (1 - share)
    x_lo, x_hi = np.nanpercentile(R, [tail, 100 - tail])
    y_lo, y_hi = np.nanpercentile(feh, [tail, 100 - tail])
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.8), layout="constrained")
    shown = (R >= x_lo) & (R <= x_hi) & (feh >= y_lo) & (feh <= y_hi)
    image = ax.hexbin(R[shown], feh[shown], gridsize=60, bins="log", cmap=DENSITY_CMAP, mincnt=1,
                      extent=(x_lo, x_hi, y_lo, y_hi), rasterized=True)
    count_colorbar(fig, image, ax)
    edges = np.arange(np.floor(x_lo / bin_width) * bin_width, x_hi + bin_width, bin_width)
    which = np.digitize(R, edges) - 1
    centres, medians = [], []
    for k in range(len(edges) - 1):
        inside = feh[which == k]
        if inside.size >= min_count:
            centres.append(0.5 * (edges[k] + edges[k + 1]))
            medians.append(np.median(inside))
    ax.plot(centres, medians, "o", mfc="white", mec="k", mew=1.0, ms=5, zorder=4,  # white: visible on black cells
            label=f"median [Fe/H] in {bin_width:g} kpc bins")
    grid = np.linspace(x_lo, x_hi, 50)
    ax.plot(grid, line[0] * grid + line[1], color=THIS_BOOK["color"], lw=2, label="straight line (the study)")
    styles = ("-", "--", ":", "-.")
    for k, (lo, hi) in enumerate(zip(z_edges[:-1], z_edges[1:])):
        inside = (abs_z >= lo) & (abs_z < hi) & np.isfinite(spline_feh) & (R >= x_lo) & (R <= x_hi)
        if inside.sum() < 2:
            continue
        order = np.argsort(R[inside])
        ax.plot(R[inside][order], spline_feh[inside][order], color=SPLINE["color"], lw=2,
                ls=styles[k % len(styles)], label=f"smooth spline, {lo:g} ≤ |Z| < {hi:g} kpc")
    ax.set(xlabel="R [kpc]", ylabel="[Fe/H] [dex]", xlim=(x_lo, x_hi), ylim=(y_lo, y_hi))
    legend_below(fig, ax, ncol=2)
    return fig


def _annuli(means) -> np.ndarray:
    return means[["r_lo", "r_hi"]].drop_duplicates().to_numpy()


def azimuthal_means_per_annulus(means, injected=None) -> Figure:
    """⟨δ[Fe/H]⟩ against φ [deg] with standard errors, one annulus per row, and the injected pattern if given."""
    annuli = _annuli(means)
    fig, axes = plt.subplots(len(annuli), 1, figsize=(FIGURE_WIDTH, 3.2 * len(annuli) + 0.6), layout="constrained",
                             sharex=True, squeeze=False)
    for ax, (r_lo, r_hi) in zip(axes[:, 0], annuli):
        part = means[(means["r_lo"] == r_lo) & means["mean_delta"].notna()]
        ax.errorbar(np.rad2deg(part["phi_center"]), part["mean_delta"], part["sem"], fmt="o", color=THIS_BOOK["color"],
                    ms=4, label="observed")
        if injected is not None:
            truth = injected[(injected["r_lo"] == r_lo) & injected["mean_delta"].notna()]
            ax.plot(np.rad2deg(truth["phi_center"]), truth["mean_delta"], color=TRUTH["color"], lw=1.5,
                    label="injected pattern, same stars")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(180, color="goldenrod", lw=1, ls=":", label="the Sun's azimuth")
        ax.set(title=f"{r_lo:g} < R < {r_hi:g} kpc", ylabel="⟨δ[Fe/H]⟩ [dex]")
    axes[-1, 0].set_xlabel("φ [deg]")
    legend_below(fig, ncol=3)
    return fig


def azimuthal_means_study_figure(means) -> Figure:
    """⟨δ[Fe/H]⟩ against φ in units of π, both annuli on one panel, drawn as in the study's Figure 6.

    As there, the outer annulus is black and the inner one blue.  When
    ``means`` also holds ``mean_residual_spline`` and ``sem_residual_spline``
    (the residual from the smooth radial spline), a second panel below shows
    those, on the same axes.
    """
    references = [("mean_delta", "sem", "δ from the mean [Fe/H] within ±0.2 kpc in R (the study)")]
    if "mean_residual_spline" in means:
        references.append(("mean_residual_spline", "sem_residual_spline", "residual from the smooth radial spline"))
    fig, axes = plt.subplots(len(references), 1, figsize=(FIGURE_WIDTH, 3.4 * len(references) + 0.8),
                             layout="constrained", sharex=True, sharey=True, squeeze=False)
    for ax, (column, error, title) in zip(axes[:, 0], references):
        colours = iter((OKABE_ITO["black"], OKABE_ITO["blue"]))
        for r_lo, r_hi in sorted(map(tuple, _annuli(means)), reverse=True):
            part = means[(means["r_lo"] == r_lo) & means[column].notna()]
            colour = next(colours, "0.5")
            ax.errorbar(part["phi_center"] / np.pi, part[column], part[error], fmt="o-", color=colour, ms=3.5, lw=1,
                        capsize=0, label=f"R = {r_lo:g}–{r_hi:g} kpc")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_ylabel("⟨δ[Fe/H]⟩ [dex]" if column == "mean_delta" else "mean residual [dex]")
        if len(references) > 1:
            ax.set_title(title)
    axes[-1, 0].set_xlabel("φ [π]")
    legend_below(fig, axes[0, 0], ncol=2)
    return fig


def null_distribution(null, observed: float, p_value: float | None, *, xlabel: str, status: str = "") -> Figure:
    """Histogram of a permutation null distribution with the observed statistic marked.

    ``p_value`` may be None when the test was not computed; ``status`` then says why.
    """
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 3.8), layout="constrained")
    null = np.asarray(null if null is not None else [], dtype=float)
    if null.size:
        top = max(np.max(null), observed) * 1.05
        ax.hist(null, bins=np.linspace(0, top, 50), color="0.7", edgecolor="0.4", lw=0.4, label="φ shuffled")
    label = f"observed (p = {p_value:.3g})" if p_value is not None else f"observed (p-value {status or 'not computed'})"
    ax.axvline(observed, color=THIS_BOOK["color"], lw=2, label=label)
    ax.set(xlabel=xlabel, ylabel="shuffles")
    legend_below(fig, ax, ncol=2)
    return fig
