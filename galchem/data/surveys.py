"""Surveys as data: a TOML file says which column plays which role, in which unit, and which cuts apply.

The built-in surveys ``lamost`` and ``gaia`` are files of exactly this form
(``galchem/data/survey_files/``), so they double as examples::

    name = "apogee-dr17"
    description = "APOGEE DR17 giants with Gaia EDR3 astrometry"
    missing = [-9999.0]              # values meaning "no measurement": NaN, counted by the cut that needs them
    [columns]                        # role = column in the file (roles: galchem.data.contract.ROLES)
    id = "APOGEE_ID"
    ra = "RA"
    ...
    [units]                          # only for columns whose file carries no unit metadata
    distance = "pc"
    [run]                            # optional: the survey's own defaults for run settings (galchem.RunConfig)
    min_stars = 50
    radial_z_edges = [0.0, 0.5, 1.0, 2.0]
    [[cuts]]                         # the survey's own cuts, in order, each a named row of the cut flow
    name = "giants"
    column = "LOGG"                  # any column of the file, mapped or not
    max = 3.5                        # min / max inclusive; above / below strict; finite = true

A cut may instead list several conditions, all of which must hold:
``all = [{column = "rv_err", max = 100.0}, {column = "teff", finite = true}]``.
Every condition fails on a missing value, so a NaN is removed and counted by
the first cut that reads it.

An uncertainty may be one number for every row instead of a column
(``feh_error = 0.1``, in the role's unit); positions may be Galactic
(``l``, ``b``, ``pm_l_cosb``, ``pm_b``) or Galactocentric (``x``, ``y``,
``z``, ``vx``, ``vy``, ``vz``), converted as the table is read
(:mod:`galchem.data.coordinates`).  Example files for APOGEE, GALAH, LAMOST
DR3 giants and a Cepheid compilation are in ``survey_files/examples/``
(:func:`example_surveys`); they are not built-in names.

A file is refused in one line naming it and the key at fault when it maps one
file column to two roles, gives ``[units]`` other than a table of unit
strings, sets the unit of a value but leaves its error at another default
(:data:`UNIT_FAMILIES`), names a cut like a row of galchem's own cut flow
(:data:`RESERVED_CUT_NAMES`), or bounds a condition so that no value passes.
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from galchem.data.contract import CANONICAL_UNITS, CONSTANT_ROLES, ROLES, VELOCITY_ROLES, unit_factor
from galchem.data.survey_cuts import SurveyCut, parse_cut
from galchem.errors import GalchemError

__all__ = ["BUILTIN", "EXAMPLES", "RESERVED_CUT_NAMES", "UNIT_FAMILIES", "Survey", "SurveyError", "builtin_surveys",
           "example_surveys", "load_survey"]

BUILTIN = Path(__file__).with_name("survey_files")
"""Folder of the built-in survey files."""

EXAMPLES = BUILTIN / "examples"
"""Folder of example survey files for public catalogues (loaded by path, not by name)."""

UNIT_FAMILIES = (("distance", "distance_lo", "distance_hi", "distance_error"), ("parallax", "parallax_error"),
                 ("pmra", "pmra_error", "pmdec", "pmdec_error"), ("rv", "rv_error"))
"""Roles that measure one quantity: ``[units]`` that sets some of them must set the others it leaves at another
default, so that a value and its error are never read in different units by omission."""

RESERVED_CUT_NAMES = ("input", "valid", "metallicity", "parallax", "distance_precision", "velocities", "halo")
"""Rows of the cut flow galchem itself writes (:mod:`galchem.data.cuts`, the halo cut of
:mod:`galchem.physics.membership`): a survey's cut may not take these names."""


class SurveyError(GalchemError):
    """A survey file that cannot be used, named with the file and the key at fault."""


@dataclass(frozen=True)
class Survey:
    """A survey: which file column plays each role, units for columns without metadata, sentinels and cuts.

    ``constants`` are the uncertainties given as one number for every row (role -> value in the role's unit).
    """

    name: str
    description: str
    columns: Mapping[str, str]
    units: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[float, ...] = ()
    cuts: tuple[SurveyCut, ...] = ()
    origin: str = ""
    constants: Mapping[str, float] = field(default_factory=dict)
    run: Mapping[str, object] = field(default_factory=dict)
    """The survey's own defaults for run settings (its ``[run]`` table: bin edges, fit windows, ``min_stars``, ...),
    checked by ``galchem.run.config.RunConfig`` when a run starts from them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "run", MappingProxyType(dict(self.run)))
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        object.__setattr__(self, "constants", MappingProxyType(dict(self.constants)))

    @property
    def has_velocities(self) -> bool:
        """True when proper motions and radial velocities are mapped (in ICRS, Galactic or Galactocentric roles)."""
        return any(first in self.columns for first, *_ in VELOCITY_GROUPS.values())

    @property
    def has_parallax(self) -> bool:
        """True when a parallax and its error are mapped (the study's parallax cut then applies)."""
        return "parallax" in self.columns

    @property
    def distance_origin(self) -> str:
        """Where distances come from, in words, for the pages."""
        if "distance_lo" in self.columns:
            spread = "16th/84th percentiles"
        elif "distance_err_lo" in self.columns:
            spread = f"offsets {self.columns['distance_err_lo']} below and {self.columns['distance_err_hi']} above"
        elif "distance_error" in self.constants:
            unit = self.units.get("distance_error") or ROLES["distance_error"].file_unit
            spread = f"a 1-sigma error of {self.constants['distance_error']:g} {unit} for every star"
        else:
            spread = "a 1-sigma error"
        if "x" in self.columns:
            xyz = ", ".join(self.columns[r] for r in ("x", "y", "z"))
            return f"the heliocentric distances of the catalogue's Galactocentric positions ({xyz}, with {spread})"
        if "distance" in self.columns:
            return f"the catalogue's distances ({self.columns['distance']}, with {spread})"
        return "1/parallax (the catalogue gives no distances), with percentiles 1/(parallax ± error)"

    def file_units(self) -> dict[str, str]:
        """File column -> unit of every mapped column that has one (the survey's, else the contract's)."""
        units = {column: self.units.get(role) or ROLES[role].file_unit for role, column in self.columns.items()}
        return {column: unit for column, unit in units.items() if unit}

    def file_columns(self) -> list[str]:
        """Every file column the survey reads: the mapped ones, then those its cuts read."""
        return list(dict.fromkeys([*self.columns.values(), *self.cut_columns()]))

    def cut_columns(self) -> list[str]:
        """The file columns read by the survey's cuts, in order."""
        return list(dict.fromkeys(c.column for cut in self.cuts for c in cut.conditions))

    def to_dict(self) -> dict:
        """The survey as it is written in a survey file (for ``config.toml``)."""
        data = {"name": self.name, "description": self.description}
        if self.missing:
            data["missing"] = list(self.missing)
        data["columns"] = {**self.columns, **self.constants}
        if self.units:
            data["units"] = dict(self.units)
        if self.cuts:
            data["cuts"] = [cut.to_dict() for cut in self.cuts]
        if self.run:
            data["run"] = dict(self.run)
        return data

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "a survey") -> Survey:
        """Check and build a survey from the content of a survey file; errors name ``origin`` and the key."""
        def fail(message: str) -> SurveyError:
            return SurveyError(f"{origin}: {message}")

        known = {"name", "description", "missing", "columns", "units", "cuts", "run"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise fail(f"unknown key(s) {', '.join(unknown)}; a survey file has {', '.join(sorted(known))}")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("'name' must be a non-empty string")
        columns = data.get("columns")
        if not isinstance(columns, Mapping) or not columns:
            raise fail("a [columns] table mapping roles to file columns is required")
        for role, column in columns.items():
            if role not in ROLES:
                raise fail(f"[columns] has unknown role {role!r}; roles are: {', '.join(ROLES)}")
            if role in CONSTANT_ROLES and isinstance(column, (int, float)) and not isinstance(column, bool):
                if not (np.isfinite(column) and column > 0):
                    raise fail(f"[columns] {role} = {column!r}: an uncertainty given as a number must be positive")
            elif not isinstance(column, str) or not column:
                either = " or a positive number for every row" if role in CONSTANT_ROLES else ""
                raise fail(f"[columns] {role} must name a file column (a string){either}, not {column!r}")
        _check_roles(columns, fail)
        _check_columns_distinct(columns, fail)
        units = _parse_units(data.get("units", {}), columns, origin, fail)
        missing = data.get("missing", [])
        if not isinstance(missing, list) or not all(isinstance(v, (int, float)) for v in missing):
            raise fail("'missing' must be a list of numbers, e.g. [-9999.0]")
        entries = data.get("cuts", [])
        if not isinstance(entries, list):
            raise fail("'cuts' must be an array of tables, each written [[cuts]] (two brackets)")
        cuts = tuple(parse_cut(entry, i, fail) for i, entry in enumerate(entries))
        for cut in cuts:
            for condition in cut.conditions:
                mapped = columns.get(condition.column)
                if condition.column in ROLES and mapped is not None and mapped != condition.column:
                    raise fail(f"cut {cut.name!r} reads column {condition.column!r}, which is also the name of a role "
                               f"mapped to {mapped!r}; refer to the file column by its own name")
        names = [cut.name for cut in cuts]
        if len(set(names)) != len(names):
            raise fail(f"cut names must be unique, got {', '.join(names)}")
        taken = [name for name in names if name in RESERVED_CUT_NAMES]
        if taken:
            raise fail(f"cut {taken[0]!r} has the name of a row galchem's cut flow already has "
                       f"({', '.join(RESERVED_CUT_NAMES)}); give it another name")
        mapped = {role: column for role, column in columns.items() if isinstance(column, str)}
        constants = {role: float(value) for role, value in columns.items() if not isinstance(value, str)}
        run = data.get("run", {})
        if not isinstance(run, Mapping):
            raise fail("'run' must be a table of run settings, e.g. [run] then min_stars = 100")
        return cls(name.strip(), str(data.get("description", "")), mapped, units,
                   tuple(float(v) for v in missing), cuts, origin, constants, run)


POSITION_GROUPS = {"icrs": ("ra", "dec"), "galactic": ("l", "b"), "galactocentric": ("x", "y", "z")}
"""The ways a survey may give positions: exactly one of them."""

VELOCITY_GROUPS = {"icrs": VELOCITY_ROLES,
                   "galactic": ("pm_l_cosb", "pm_l_cosb_error", "pm_b", "pm_b_error", "rv", "rv_error"),
                   "galactocentric": ("vx", "vy", "vz")}
"""The ways a survey may give velocities, each with the positions of the same name: one of them, or none."""

CORRELATION_NEEDS = {"pmra_pmdec_corr": "pmra", "parallax_pmra_corr": "pmra", "parallax_pmdec_corr": "pmra",
                     "pm_l_pm_b_corr": "pm_l_cosb"}
"""The proper motion each correlation role belongs with."""


def _one_of(columns: Mapping, groups: Mapping[str, tuple[str, ...]], what: str, fail) -> str | None:
    """The one group of roles ``columns`` maps (complete), None for none; more than one or a partial one fails."""
    given = [kind for kind, group in groups.items() if any(r in columns and r not in ("rv", "rv_error") for r in group)]
    if len(given) > 1:
        listing = " and ".join("/".join(groups[kind]) for kind in given)
        raise fail(f"[columns] gives {what} twice ({listing}); map one of them")
    if not given:
        return None
    group = groups[given[0]]
    absent = [r for r in group if r not in columns]
    if absent:
        present = [r for r in group if r in columns]
        words = {2: "both", 3: "all three", 6: "all six"}
        raise fail(f"[columns] maps {', '.join(present)} but not {', '.join(absent)}: {what} need "
                   f"{words.get(len(group), 'all')}" + (" (or none, for a positional-only run)" if what == "velocities"
                                                       else ""))
    return given[0]


def _check_roles(columns: Mapping[str, str | float], fail) -> None:
    """The roles a run needs: an id, one kind of position, a distance, [Fe/H] and its error; velocities all or none."""
    for required in ("id", "feh"):
        if required not in columns:
            raise fail(f"[columns] must map the role {required!r}")
    position = _one_of(columns, POSITION_GROUPS, "positions", fail)
    if position is None:
        raise fail("[columns] must give positions: 'ra' and 'dec', Galactic 'l' and 'b', or Galactocentric 'x', 'y' "
                   "and 'z'")
    spreads = [("distance_lo" in columns and "distance_hi" in columns), "distance_error" in columns,
               ("distance_err_lo" in columns and "distance_err_hi" in columns)]
    spread = ("[columns] must give the distance's spread as 'distance_lo' and 'distance_hi' (16th/84th percentiles), "
              "as 'distance_err_lo' and 'distance_err_hi' (offsets below and above) or as 'distance_error', just one")
    if position == "galactocentric":
        if "distance" in columns or "parallax" in columns:
            raise fail("[columns] maps Galactocentric 'x', 'y', 'z', which give the distance: map no 'distance' or "
                       "'parallax'")
        if spreads[0] or sum(spreads) != 1:
            raise fail("[columns] must give the spread of the distance from 'x', 'y', 'z' as 'distance_error' or as "
                       "'distance_err_lo' and 'distance_err_hi', just one")
    else:
        if "distance" not in columns and "parallax" not in columns:
            raise fail("[columns] must map 'distance' (with 'distance_lo'/'distance_hi', 'distance_err_lo'/"
                       "'distance_err_hi' or 'distance_error') or 'parallax' (with 'parallax_error')")
        if "distance" in columns and sum(spreads) != 1:
            raise fail(spread)
    if "parallax" in columns and "parallax_error" not in columns:
        raise fail("[columns] maps 'parallax' but not 'parallax_error'")
    has_pair = "feh_lo" in columns and "feh_hi" in columns
    if has_pair == ("feh_error" in columns):
        raise fail("[columns] must give [Fe/H]'s uncertainty as 'feh_error' (a column or a number) or as 'feh_lo' "
                   "and 'feh_hi' (16th/84th percentiles), not both or neither")
    velocity = _one_of(columns, VELOCITY_GROUPS, "velocities", fail)
    if velocity is None and ("rv" in columns or "rv_error" in columns):
        raise fail("[columns] maps 'rv' but no proper motions: velocities need all six (or none, for a positional-only "
                   "run)")
    if velocity not in (None, position):
        raise fail(f"[columns] gives velocities as {'/'.join(VELOCITY_GROUPS[velocity][:4])}, which need positions "
                   f"as {', '.join(POSITION_GROUPS[velocity])}")
    if velocity == "galactocentric" and ("rv" in columns or "rv_error" in columns):
        raise fail("[columns] maps 'vx', 'vy', 'vz', which give the radial velocity: map no 'rv'")
    for role, needs in CORRELATION_NEEDS.items():
        if role in columns and needs not in columns:
            raise fail(f"[columns] maps {role!r}, a correlation of {needs!r}, which [columns] does not map")
    if ("parallax_pmra_corr" in columns) != ("parallax_pmdec_corr" in columns):
        raise fail("[columns] must map 'parallax_pmra_corr' and 'parallax_pmdec_corr' together")


def _check_columns_distinct(columns: Mapping[str, str], fail) -> None:
    """Each role reads its own file column: one column playing two roles is a slip of the pen."""
    roles: dict[str, list[str]] = {}
    for role, column in columns.items():
        if isinstance(column, str):  # a number is a constant uncertainty, not a column
            roles.setdefault(column, []).append(role)
    for column, shared in roles.items():
        if len(shared) > 1:
            raise fail(f"[columns] maps the file column {column!r} to {len(shared)} roles ({', '.join(shared)}); "
                       "each role needs its own column")


def _parse_units(units, columns: Mapping[str, str], origin: str, fail) -> dict[str, str]:
    """The ``[units]`` table: role = unit string, for mapped roles that have a unit."""
    if not isinstance(units, Mapping):
        raise fail(f"'units' must be a table of role = unit, e.g. [units] then distance = \"pc\"; got {units!r}")
    for role, unit in units.items():
        if role not in columns:
            raise fail(f"[units] gives a unit for {role!r}, which [columns] does not map")
        if role == "id":
            raise fail("[units] id: the id column has no unit")
        if not isinstance(unit, str):
            raise fail(f"[units] {role} must be a unit written as a string, e.g. \"{CANONICAL_UNITS[role]}\"; "
                       f"got {unit!r}")
        try:
            unit_factor(unit, CANONICAL_UNITS[role], f"{origin}: [units] {role}")
        except GalchemError as err:
            raise SurveyError(str(err)) from None
    _check_unit_families(columns, units, fail)
    return dict(units)


def _check_unit_families(columns: Mapping[str, str], units: Mapping[str, str], fail) -> None:
    """Refuse ``[units]`` that sets a unit for one role of a :data:`UNIT_FAMILIES` family and leaves another
    mapped role of it at a default that differs (a value and its error read in different units by omission).
    A constant uncertainty (a number, not a column) is in whatever unit it says and joins no family."""
    columns = {role: column for role, column in columns.items() if isinstance(column, str)}
    for family in UNIT_FAMILIES:
        given = next((role for role in family if role in units and role in columns), None)
        if given is None:
            continue
        for role in family:
            default = ROLES[role].file_unit
            if role in columns and role not in units and unit_factor(units[given], default, role) != 1.0:
                raise fail(f"[units] gives {given} = {units[given]!r} but no unit for {role}, which would then be "
                           f"read in {default}; a value and its spread share a unit -- set {role} under [units] too")


def builtin_surveys() -> dict[str, Path]:
    """Name -> file of every built-in survey."""
    return {path.stem: path for path in sorted(BUILTIN.glob("*.toml"))}


def example_surveys() -> dict[str, Path]:
    """Name -> file of every example survey file (load one by its path: examples are not built-in names)."""
    return {path.stem: path for path in sorted(EXAMPLES.glob("*.toml"))}


def load_survey(survey: str | Path | Survey) -> Survey:
    """A survey from a built-in name (``lamost``, ``gaia``) or a TOML file; a :class:`Survey` passes through."""
    if isinstance(survey, Survey):
        return survey
    text = str(survey)
    builtins = builtin_surveys()
    path = builtins.get(text) or Path(text).expanduser()
    if not path.is_file():
        raise SurveyError(f"survey {text!r} is neither a built-in survey ({', '.join(builtins)}) nor a readable "
                          "TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SurveyError(f"{path}: not a valid TOML file ({err})") from None
    except OSError as err:
        raise SurveyError(f"{path}: cannot read the survey file ({err.strerror})") from None
    return Survey.from_dict(data, origin=text if text in builtins else str(path))
