"""One frozen configuration per run: every knob of the analysis, its only defaults, and its seeds.

The notebooks' parameters cells, the ``galchem`` command line, the Python API
and the build profiles all start from :class:`RunConfig`, whose fields carry
their meaning, the study's value and its reference (:data:`~galchem.run.config.SETTINGS`).  A run's output
folder holds ``config.toml`` (:func:`write_run_file`): the configuration,
the survey and the input's checksum, enough to run it again table for table
with ``galchem analyse --config OUT/config.toml``.

Random numbers: the mock Galaxy is drawn from ``mock_seed``; each analysis
stage draws from its own child of ``numpy.random.SeedSequence(seed)``
(:meth:`RunConfig.stream`), so changing one stage's settings never shifts
another stage's random numbers.
"""
from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from galchem.data import mock
from galchem.data.surveys import Survey
from galchem.errors import GalchemError

__all__ = ["CORRECTIONS", "ConfigError", "HALO_RULES", "RETIRED", "RunConfig", "SETTINGS", "STAGES", "RunFile", "Setting",
           "read_run_file", "run_file_text", "toml_text"]

HALO_RULES = ("point", "errors")
"""Values of ``RunConfig.halo_rule``."""

CORRECTIONS = ("latent_distance", "none")
"""Values of ``RunConfig.correction``."""

STAGES = ("kinematics", "radial", "vertical", "azimuthal", "simex")
"""The analysis stages that draw random numbers, in the order of their child streams."""


class ConfigError(GalchemError):
    """A configuration value outside its allowed range, or a configuration file that cannot be used."""


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays (also inside lists and tuples) turned into the Python values they
    hold."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _is_integer(value: Any) -> bool:
    """An integer, and not a bool (True must not run as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A real number, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any) -> np.ndarray | None:
    """Nested sequences of real numbers (no bools, no strings) as a float array; None if they are not that."""
    flat = list(np.ravel(np.asarray(value, dtype=object))) if isinstance(value, (list, tuple)) else [value]
    if not flat or not all(_is_number(v) or isinstance(v, (list, tuple)) for v in flat):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _edges(start: float, stop: float, step: float) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(np.arange(start, stop + step / 2, step), 6))


@dataclass(frozen=True)
class Setting:
    """What a run setting means, the study's choice and where the study states it (the registry's entries)."""

    help: str
    """A few words: the command line's help, the notebooks' "What ran" box and the API reference use them."""
    study: str
    """The study's choice as a reader would quote it ("–" where the study has none to make)."""
    reference: str
    """Where the study (or the source of the value) states it."""
    option: bool = True
    """Exposed on the command line as ``--name`` (with ``_`` written ``-``)."""


def _setting(default: Any, help: str, study: str, reference: str, option: bool = True) -> Any:
    """A :class:`RunConfig` field with its :class:`~galchem.run.config.Setting`."""
    return field(default=default, metadata={"setting": Setting(help, study, reference, option)})


HAWKINS = "Hawkins (2023)"

RETIRED = {"n_boot": "the arm contrasts' errors are now the closed-form standard error of a difference of means, "
                     "with no bootstrap"}
"""Settings of earlier versions that no longer exist, and why: an old ``config.toml`` naming one gets that reason."""


@dataclass(frozen=True)
class RunConfig:
    """Every setting of an analysis run: the one registry of their defaults, meanings and the study's values.

    Each field carries a :class:`~galchem.run.config.Setting` (:data:`~galchem.run.config.SETTINGS`): its help text,
    the study's value and the reference for it, as astropy's registry of
    Galactocentric parameter sets carries its references.  The command line,
    the notebooks' "What ran" box, the build profiles and the Python API are built
    from it; library functions take these settings as keyword arguments of
    their own, without defaults.
    """

    n_mc: int = _setting(1000, "Monte Carlo realisations per star", "1,000", f"{HAWKINS}, section 2.3")
    n_walkers: int = _setting(10, "walkers per line fit (the ensemble sampler's)", "10", f"{HAWKINS}, section 3")
    n_steps: int = _setting(1000, "steps per walker before the chain is checked", "1,000",
                            f"{HAWKINS}, section 3")
    max_steps: int = _setting(
        20_000, "cap on steps per walker: chains are extended until they are 50 autocorrelation times long "
        "or reach it (n_steps or less: a fixed length, the study's 10 x 1000)", "1,000 (fixed chains)",
        "Foreman-Mackey et al. (2013), emcee's rule of 50 autocorrelation times")
    halo_rule: str = _setting(
        "point", "halo probability from the velocities as measured (point, the study) or widened by their Monte "
        "Carlo covariance (errors)", "point", f"{HAWKINS}, section 2.3; Bensby et al. (2003)")
    correction: str = _setting(
        "latent_distance", "the gradients' correction for distance errors: latent_distance (each bin's line in the "
        "stars' true coordinates, from one latent distance per star; SIMEX as a cross-check) or none (the study's "
        "flat fits only, faster)",
        "none (flat fits only)", "this book: Carroll et al. (2006), chapter 4; Cook & Stefanski (1994)")
    radial_z_edges: tuple[float, ...] = _setting(
        _edges(0.0, 1.4, 0.2), "slices of |Z| [kpc] for the radial gradients", "0 to 1.4 kpc in steps of 0.2",
        f"{HAWKINS}, section 4.1 and Table 1")
    vertical_r_edges: tuple[float, ...] = _setting(
        _edges(7.0, 14.0, 1.0), "rings of R [kpc] for the vertical gradients", "7 to 14 kpc in steps of 1",
        f"{HAWKINS}, section 4.3 and Table 2")
    min_stars: int = _setting(500, "fewest stars in a bin for it to be fitted", "500",
                              f"{HAWKINS}, sections 4.1 and 4.3")
    radial_r_range: tuple[float, float] | None = _setting(
        None, "R window [kpc] of the radial fits: stars outside it enter no |Z| slice (none: every R)", "none",
        f"{HAWKINS}, section 4.1")
    vertical_z_max: float | None = _setting(
        None, "|Z| cap [kpc] of the vertical fits: stars above it enter no R ring (none: every |Z|)", "none",
        f"{HAWKINS}, section 4.3")
    annuli: tuple[tuple[float, float], ...] = _setting(
        ((7.0, 9.0), (9.0, 11.0)), "annuli of R [kpc] for the azimuthal means", "7-9 and 9-11 kpc",
        f"{HAWKINS}, Figure 6", option=False)
    azimuthal_z_max: float = _setting(0.3, "stars with |Z| below this [kpc] enter the azimuthal stage", "–",
                                      "this book's choice (the study does not state one)", option=False)
    phi_bin_deg: float = _setting(2.0, "width of the azimuth bins [deg]", "–",
                                  "this book's choice (read off the study's Figure 6)", option=False)
    ring_width: float = _setting(0.2, "half-width in R [kpc] of the ring whose mean [Fe/H] defines δ[Fe/H]",
                                 "0.2 kpc", f"{HAWKINS}, section 4.2, footnote 5 (after Carr et al. 2022)",
                                 option=False)
    n_permutations: int = _setting(1000, "shuffles in the permutation test for azimuthal structure", "–",
                                   "this book's test (the study has none)")
    seed: int = _setting(42, "seed of the analysis (each stage draws from its own child stream)", "–",
                         "this book's choice")
    mock_seed: int = _setting(mock.SEED, "seed of the mock Galaxy (only used when the data are the mock)", "–",
                              "this book's mock Galaxy")
    mock_stars: int | None = _setting(None, "candidate rows of the mock (none: the study's size)",
                                      "332,000 LAMOST and 1.03 million Gaia candidates", f"{HAWKINS}, section 2")

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():  # TOML and papermill give lists; keep tuples (hashable, frozen)
            value = _plain(value)  # NumPy numbers count as the Python numbers they hold
            if isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        def need(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                raise ConfigError(f"{name.replace('_', '-')} = {getattr(self, name)!r} is not allowed: {allowed}")

        for name, low in (("n_mc", 2), ("n_walkers", 6), ("n_steps", 50), ("max_steps", 50), ("min_stars", 3),
                          ("n_permutations", 1)):
            value = getattr(self, name)
            need(_is_integer(value) and low <= value <= 10**9, name, f"an integer from {low} to 10^9")
        need(self.halo_rule in HALO_RULES, "halo_rule", " or ".join(map(repr, HALO_RULES)))
        need(self.correction in CORRECTIONS, "correction", " or ".join(map(repr, CORRECTIONS)))
        for name in ("seed", "mock_seed"):
            value = getattr(self, name)
            need(_is_integer(value) and 0 <= value < 2**63, name, "an integer from 0 to 2^63 - 1")
        need(self.mock_stars is None or (_is_integer(self.mock_stars) and 1 <= self.mock_stars <= 10**9),
             "mock_stars", "None or an integer from 1 to 10^9")
        for name in ("radial_z_edges", "vertical_r_edges"):
            edges = _numbers(getattr(self, name))
            need(edges is not None and edges.ndim == 1 and edges.size >= 2 and np.isfinite(edges).all()
                 and np.all(np.diff(edges) > 0) and edges[0] >= 0, name,
                 "at least two increasing, finite, non-negative bin edges [kpc]")
        window = None if self.radial_r_range is None else _numbers(self.radial_r_range)
        need(self.radial_r_range is None or (window is not None and window.shape == (2,) and np.isfinite(window).all()
                                             and 0 <= window[0] < window[1]), "radial_r_range",
             "None or a pair (R_lo, R_hi) with 0 <= R_lo < R_hi [kpc]")
        need(self.vertical_z_max is None or (_is_number(self.vertical_z_max) and 0 < self.vertical_z_max <= 50),
             "vertical_z_max", "None or a number above 0 and at most 50 [kpc]")
        annuli = _numbers(self.annuli)
        need(annuli is not None and annuli.ndim == 2 and annuli.shape[1] == 2 and len(annuli) >= 1
             and np.isfinite(annuli).all() and np.all(annuli[:, 1] > annuli[:, 0]) and np.all(annuli >= 0), "annuli",
             "pairs (R_lo, R_hi) with 0 <= R_lo < R_hi [kpc]")
        for name, top in (("azimuthal_z_max", 50.0), ("phi_bin_deg", 180.0), ("ring_width", 50.0)):
            value = getattr(self, name)
            need(_is_number(value) and 0 < value <= top, name, f"a number above 0 and at most {top:g}")

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` (None values are ignored, so unset options keep the configuration's value)."""
        retired = sorted(set(changes) & set(RETIRED))
        if retired:
            raise ConfigError("; ".join(f"{name} was retired: {RETIRED[name]}" for name in retired)
                              + "; remove it (the run's other settings are read as before)")
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; settings are: "
                              f"{', '.join(f.name for f in fields(self))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def stream(self, stage: str, *index: int) -> np.random.SeedSequence:
        """The random stream of ``stage`` (and, with ``index``, of its ``index``-th part), from ``seed``."""
        return np.random.SeedSequence(self.seed, spawn_key=(STAGES.index(stage), *index))

    def to_dict(self) -> dict:
        """The settings as plain TOML-ready values (those that are None left out)."""
        data = {name: list(map(list, v)) if name == "annuli" else list(v) if isinstance(v, tuple) else v
                for name, v in asdict(self).items()}
        return {k: v for k, v in data.items() if v is not None}

    def subset(self, names: tuple[str, ...]) -> dict:
        """The named settings, for cache keys of stages that read only those."""
        data = self.to_dict()
        return {name: data.get(name) for name in names}

    @classmethod
    def for_survey(cls, survey: Survey) -> RunConfig:
        """The defaults a survey runs with: the study's, with the survey file's ``[run]`` table on top."""
        return cls.from_dict(dict(survey.run), origin=f"{survey.origin or survey.name}: [run]")

    @classmethod
    def from_dict(cls, data: dict, origin: str = "the configuration", base: RunConfig | None = None) -> RunConfig:
        """A configuration from TOML-like data (changes to ``base``, else to the study's defaults); unknown keys
        are an error naming ``origin``."""
        try:
            return (base or cls()).replace(**data)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{origin}: {err}") from None
        except ConfigError as err:
            raise ConfigError(f"{origin}: {err}") from None


SETTINGS: Mapping[str, Setting] = {f.name: f.metadata["setting"] for f in fields(RunConfig)}
"""The registry: every run setting's :class:`~galchem.run.config.Setting`, in :class:`RunConfig`'s order."""


@dataclass(frozen=True)
class RunFile:
    """What ``config.toml`` holds: the settings, the survey (as a survey file's content) and the input."""

    config: RunConfig
    survey: dict
    catalog: str  # "mock", "archive" or a file path
    catalog_sha256: str | None = None
    catalog_rows: int | None = None


def run_file_text(run: RunFile) -> str:
    """``config.toml`` as text: stable, so the same run always writes the same bytes."""
    data = {"galchem": "run configuration: galchem analyse --config THIS_FILE --out FOLDER reproduces the run",
            "input": {"catalog": run.catalog, **({"sha256": run.catalog_sha256} if run.catalog_sha256 else {}),
                      **({"rows": run.catalog_rows} if run.catalog_rows is not None else {})},
            "run": run.config.to_dict(), "survey": run.survey}
    return toml_text(data)


def _value(value: Any) -> str:
    """A TOML value, written inline (arrays and tables on one line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise ConfigError(f"cannot write {value!r} to TOML")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def toml_text(data: dict, prefix: str = "", inline_lists: bool = False) -> str:
    """Compact TOML for nested dicts: scalars and inline arrays first, then [tables] and [[arrays of tables]].

    Inside an array of tables, lists of tables are written inline, which reads better.
    """
    def is_tables(value: Any) -> bool:
        return not inline_lists and isinstance(value, list) and bool(value) and all(isinstance(i, dict) for i in value)

    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict) and not is_tables(v)]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        name = f"{prefix}{_key(key)}"
        if isinstance(value, dict):
            text += f"\n[{name}]\n" + toml_text(value, f"{name}.", inline_lists)
        elif is_tables(value):
            for item in value:
                text += f"\n[[{name}]]\n" + toml_text(item, f"{name}.", inline_lists=True)
    return text


def read_run_file(path: str | Path) -> RunFile:
    """Read a ``config.toml`` written by ``galchem analyse`` (or by hand: any part may be left out)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a configuration file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a valid TOML configuration ({err})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration ({err.strerror})") from None
    unknown = sorted(set(data) - {"galchem", "input", "run", "survey"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}; use [run], [survey] and [input]")
    for section in ("input", "run", "survey"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"{path}: {section} = {data[section]!r} should be a table, [{section}]")
    config = RunConfig.from_dict(dict(data.get("run", {})), origin=str(path))
    source = data.get("input", {})
    for key, kind, what in (("catalog", str, "a string"), ("sha256", str, "a string"), ("rows", int, "an integer")):
        value = source.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise ConfigError(f"{path}: [input] {key} = {value!r} should be {what}")
    return RunFile(config, dict(data.get("survey", {})), source.get("catalog", "mock"),
                   source.get("sha256"), source.get("rows"))
