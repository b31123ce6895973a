"""The input contract: which columns a catalogue must have, in which units.

A catalogue for sample ``lamost`` (hot OBAF stars, Xiang et al. 2022) or
``gaia`` (Gaia DR3 GSP-Spec giants) is any table with the columns below.
Extra columns are kept.  Missing values (NaN) are allowed: the cut that needs
a value removes the row and counts it in the cut flow.  A missing column, a
non-numeric column or an empty table is an error that names the file, the
columns and the units expected.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pandas as pd

from galchem.errors import ContractError
from galchem.data.files import read_table


@dataclass(frozen=True)
class Column:
    """One contract column: its name, unit and meaning."""

    name: str
    unit: str
    description: str
    kind: str = "float"  # "float", "int" (64-bit integer) or "str"
    required: bool = True

    @property
    def label(self) -> str:
        """The name with its unit, for messages and tables."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


COMMON = (
    Column("source_id", "", "Gaia DR3 source identifier", kind="int"),
    Column("ra", "deg", "right ascension (ICRS)"),
    Column("dec", "deg", "declination (ICRS)"),
    Column("parallax", "mas", "Gaia DR3 parallax"),
    Column("parallax_error", "mas", "parallax uncertainty (1 sigma)"),
    Column("pmra", "mas/yr", "proper motion in right ascension times cos(dec)"),
    Column("pmra_error", "mas/yr", "uncertainty of pmra"),
    Column("pmdec", "mas/yr", "proper motion in declination"),
    Column("pmdec_error", "mas/yr", "uncertainty of pmdec"),
    Column("r_med_geo", "pc", "Bailer-Jones et al. (2021) geometric distance, median"),
    Column("r_lo_geo", "pc", "geometric distance, 16th percentile"),
    Column("r_hi_geo", "pc", "geometric distance, 84th percentile"),
)

LAMOST = (
    Column("teff", "K", "effective temperature (HotPayne)"),
    Column("teff_err", "K", "uncertainty of teff"),
    Column("logg", "dex", "surface gravity, log10(g / cm s^-2)"),
    Column("logg_err", "dex", "uncertainty of logg"),
    Column("feh", "dex", "metallicity [Fe/H]"),
    Column("feh_err", "dex", "uncertainty of [Fe/H]"),
    Column("vsini", "km/s", "projected rotational velocity"),
    Column("snr", "", "signal-to-noise ratio of the LAMOST spectrum"),
    Column("chi2ratio", "", "reduced chi^2 relative to stars of similar teff and snr"),
    Column("rv", "km/s", "LAMOST radial velocity"),
    Column("rv_err", "km/s", "uncertainty of rv"),
)

GAIA = (
    Column("radial_velocity", "km/s", "Gaia DR3 radial velocity"),
    Column("radial_velocity_error", "km/s", "uncertainty of radial_velocity"),
    Column("teff_gspspec", "K", "GSP-Spec effective temperature"),
    Column("logg_gspspec", "dex", "GSP-Spec surface gravity"),
    Column("mh_gspspec", "dex", "GSP-Spec metallicity [M/H], used as [Fe/H]"),
    Column("mh_gspspec_lower", "dex", "[M/H] 16th percentile"),
    Column("mh_gspspec_upper", "dex", "[M/H] 84th percentile"),
    Column("flags_gspspec", "", "GSP-Spec quality flags (41 characters)", kind="str", required=False),
)

SAMPLES: dict[str, tuple[Column, ...]] = {"lamost": COMMON + LAMOST, "gaia": COMMON + GAIA}
"""The contract columns of each sample."""


def columns(sample: str) -> tuple[Column, ...]:
    """The contract columns of ``sample`` ('lamost' or 'gaia')."""
    try:
        return SAMPLES[sample]
    except KeyError:
        raise ContractError(f"unknown sample {sample!r}; choose one of {', '.join(SAMPLES)}") from None


def units(sample: str) -> dict[str, str]:
    """Column name -> unit string for the sample's contract columns that have units."""
    return {c.name: c.unit for c in columns(sample) if c.unit}


def _convert_units(table: pd.DataFrame, file_units: dict[str, str], sample: str, where: str) -> None:
    """Convert columns whose file declares another (compatible) unit into the contract's unit."""
    for column in columns(sample):
        declared = file_units.get(column.name)
        if declared is None or column.kind != "float" or not column.unit:
            continue
        try:
            factor = u.Unit(declared).to(u.Unit(column.unit))
        except (ValueError, u.UnitsError):
            raise ContractError(
                f"{where}: column {column.name!r} has unit {declared!r}, expected {column.unit}"
            ) from None
        if factor != 1.0:
            table[column.name] = table[column.name] * factor


def validate(table: pd.DataFrame, sample: str, where: str = "table") -> pd.DataFrame:
    """Check ``table`` against the contract of ``sample``; return it with float columns as float64.

    ``where`` names the table's origin (usually its file) in error messages.
    """
    expected = columns(sample)
    missing = [c for c in expected if c.required and c.name not in table.columns]
    if missing:
        listing = ", ".join(c.label for c in missing)
        raise ContractError(f"{where}: missing required column(s) for sample {sample!r}: {listing}")
    if len(table) == 0:
        raise ContractError(f"{where}: the table has no rows")
    bad = [
        c
        for c in expected
        if c.kind != "str"
        and c.name in table.columns
        and not (pd.api.types.is_numeric_dtype(table[c.name]) and not pd.api.types.is_bool_dtype(table[c.name]))
    ]
    if bad:
        listing = ", ".join(f"{c.label} ({table[c.name].dtype})" for c in bad)
        raise ContractError(f"{where}: non-numeric column(s), expected numbers: {listing}")
    ids = table["source_id"]
    if not pd.api.types.is_integer_dtype(ids):
        raise ContractError(
            f"{where}: column 'source_id' must hold 64-bit integers (Gaia DR3 ids), found {ids.dtype}"
        )
    table = table.copy()
    table["source_id"] = ids.astype(np.int64)
    for c in expected:
        if c.kind == "float" and c.name in table.columns:
            table[c.name] = table[c.name].astype(np.float64)
    return table


def read_catalog(path: str | os.PathLike, sample: str) -> pd.DataFrame:
    """Read a .parquet, .fits, .csv or .ecsv catalogue and check it against the contract.

    Columns with units in the file (FITS, ECSV) are converted to the contract's
    units; incompatible units are an error.
    """
    columns(sample)
    table, file_units = read_table(path)
    table = validate(table, sample, where=str(path))
    _convert_units(table, file_units, sample, where=str(path))
    return table


def describe(sample: str) -> pd.DataFrame:
    """The contract of ``sample`` as a table, for the book and ``--help`` texts."""
    return pd.DataFrame(
        [
            {"column": c.name, "unit": c.unit or "-", "meaning": c.description, "required": c.required}
            for c in columns(sample)
        ]
    )


def metallicity(table: pd.DataFrame, sample: str) -> tuple[pd.Series, pd.Series]:
    """[Fe/H] and its 1-sigma uncertainty [dex] of a contract table.

    For ``gaia`` these are GSP-Spec ``mh_gspspec`` (as the study and Gaia
    Collaboration 2023 do) and half the 16th-84th percentile width.
    """
    columns(sample)
    if sample == "lamost":
        return table["feh"], table["feh_err"]
    return table["mh_gspspec"], 0.5 * (table["mh_gspspec_upper"] - table["mh_gspspec_lower"])


def radial_velocity(table: pd.DataFrame, sample: str) -> tuple[pd.Series, pd.Series]:
    """Line-of-sight velocity and its 1-sigma uncertainty [km/s] of a contract table.

    LAMOST's for ``lamost`` (as the study does for the hot stars), Gaia DR3's for ``gaia``.
    """
    columns(sample)
    if sample == "lamost":
        return table["rv"], table["rv_err"]
    return table["radial_velocity"], table["radial_velocity_error"]
