"""The real catalogues, from the Gaia archive and VizieR through astroquery, cached locally.

Two samples, each fetched once and kept as a contract-valid parquet file with
a JSON sidecar (the query, the service, the date, the row count and the
file's sha256) in ``<cache>/archive``:

``gaia``
    One ADQL query (:func:`gaia_query`) joining ``gaiadr3.gaia_source``,
    ``gaiadr3.astrophysical_parameters`` and ``external.gaiaedr3_distance``
    (Bailer-Jones et al. 2021).  It selects the study's giants
    (teff_gspspec < 4700 K, logg_gspspec < 2) and the numeric part of the
    medium-quality criteria of Gaia Collaboration, Recio-Blanco et al.
    (2023), as transcribed in public code; the flag criteria are applied
    here, on the client (:func:`mqs_flags_ok`), and the rows they remove are
    recorded in the sidecar.  The paper's own "gradient sample" query
    (its Listing 3) could not be read for this project, so further cuts it
    may make are missing.  The query runs as asynchronous jobs, one per band
    of source_id, so no single job is too large.
``lamost``
    The HotPayne catalogue of Xiang et al. (2022) from VizieR, cross-matched
    with Gaia DR3 within 2 arcsec through a table upload to the Gaia archive
    (astrometry, radial velocities come from LAMOST), renamed to the
    contract.  The VizieR identifier and the column labels marked below are
    not verified against the catalogue's ReadMe; a missing column stops the
    fetch with a message naming it.

Nothing here runs without a network.  A failing service gives one line
naming the service and how to go on (the mock, or a local catalogue file),
and no partial file is left behind.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.data import contract
from galchem.data.cache import cache_dir
from galchem.data.files import atomic_path, file_sha256, write_parquet
from galchem.data.surveys import load_survey
from galchem.errors import GalchemError

ARCHIVE_SURVEYS = ("gaia", "lamost")
"""The built-in surveys the archives serve."""

GAIA_SERVICE = "the Gaia archive (ESA, gea.esac.esa.int, via astroquery.gaia)"
VIZIER_SERVICE = "VizieR (CDS, via astroquery.vizier)"
TIMEOUT = 30.0
"""Seconds to wait for a network connection or reply before giving up."""

HOW_TO_GO_ON = ("work offline with the mock (--catalog mock on the command line, catalog='mock' in Python; "
                "the default) or a local catalogue file (--catalog FILE, catalog='FILE'; "
                "see galchem.data.contract)")


class ArchiveError(GalchemError):
    """A service failed, or a cached download cannot be trusted."""


# --- the Gaia giants --------------------------------------------------------------------------------

GAIA_SELECT = """
SELECT g.source_id, g.ra, g.dec, g.parallax, g.parallax_error, g.pmra, g.pmra_error, g.pmdec, g.pmdec_error,
       g.radial_velocity, g.radial_velocity_error, g.ruwe, g.phot_g_mean_mag,
       ap.teff_gspspec, ap.teff_gspspec_lower, ap.teff_gspspec_upper,
       ap.logg_gspspec, ap.logg_gspspec_lower, ap.logg_gspspec_upper,
       ap.mh_gspspec, ap.mh_gspspec_lower, ap.mh_gspspec_upper, ap.flags_gspspec,
       d.r_med_geo, d.r_lo_geo, d.r_hi_geo
FROM gaiadr3.gaia_source AS g
JOIN gaiadr3.astrophysical_parameters AS ap ON ap.source_id = g.source_id
JOIN external.gaiaedr3_distance AS d ON d.source_id = g.source_id
WHERE ap.teff_gspspec < 4700 AND ap.logg_gspspec < 2.0
  AND ap.teff_gspspec > 3500 AND ap.logg_gspspec > 0
  AND ap.teff_gspspec_upper - ap.teff_gspspec_lower < 750
  AND ap.logg_gspspec_upper - ap.logg_gspspec_lower < 1
  AND ap.mh_gspspec_upper - ap.mh_gspspec_lower < 0.5
""".strip()
"""The giants of the study with the numeric medium-quality criteria (the readable query; see the module docstring)."""

MAX_SOURCE_ID = 12 * 4**12 * 2**35
"""Gaia source_ids are below this (the level-12 HEALPix index times 2^35)."""

GAIA_BANDS = 8
"""Asynchronous jobs per Gaia fetch: equal bands of source_id (about 110 000 giants each)."""


def gaia_query(band: int | None = None, bands: int = GAIA_BANDS) -> str:
    """The ADQL text of the Gaia fetch, for all sources or for one band of source_id."""
    if band is None:
        return GAIA_SELECT
    lo, hi = band * MAX_SOURCE_ID // bands, (band + 1) * MAX_SOURCE_ID // bands
    return f"{GAIA_SELECT}\n  AND g.source_id >= {lo} AND g.source_id < {hi}"


def mqs_flags_ok(flags: pd.Series) -> np.ndarray:
    """The flag part of the medium-quality criteria: vbroad/vrad biases (positions 1-6) <= 1,
    fluxNoise (7) <= 3, extrapol (8) <= 2, KMgiantPar (13) <= 1.  Missing flags fail."""
    text = flags.fillna("").astype(str)
    ok = text.str.len() >= 13
    digits = {pos: pd.to_numeric(text.str[pos - 1], errors="coerce") for pos in (*range(1, 9), 13)}
    for pos in range(1, 7):
        ok &= digits[pos] <= 1
    ok &= (digits[7] <= 3) & (digits[8] <= 2) & (digits[13] <= 1)
    return ok.to_numpy()


# --- the LAMOST hot stars ---------------------------------------------------------------------------

LAMOST_VIZIER_ID = "J/A+A/662/A66"
"""Xiang et al. (2022) on VizieR by CDS naming; NOT verified against the catalogue's ReadMe."""

LAMOST_COLUMNS = {
    "RAJ2000": "ra_lamost", "DEJ2000": "dec_lamost",
    "Teff": "teff", "e_Teff": "teff_err", "logg": "logg", "e_logg": "logg_err",  # labels seen in the
    "[Fe/H]": "feh", "e_[Fe/H]": "feh_err",  # published HotPayne file
    "vsini": "vsini", "SNR": "snr", "chi2r": "chi2ratio", "RV": "rv", "e_RV": "rv_err",  # NOT verified
}
"""VizieR label -> contract name for the LAMOST catalogue."""

MATCH_RADIUS_ARCSEC = 2.0

LAMOST_MATCH = """
SELECT u.row_id, g.source_id, g.ra, g.dec, g.parallax, g.parallax_error, g.pmra, g.pmra_error,
       g.pmdec, g.pmdec_error, d.r_med_geo, d.r_lo_geo, d.r_hi_geo,
       DISTANCE(POINT('ICRS', g.ra, g.dec), POINT('ICRS', u.ra, u.dec)) * 3600 AS separation
FROM tap_upload.lamost AS u
JOIN gaiadr3.gaia_source AS g
  ON 1 = CONTAINS(POINT('ICRS', g.ra, g.dec), CIRCLE('ICRS', u.ra, u.dec, {radius} / 3600.0))
LEFT JOIN external.gaiaedr3_distance AS d ON d.source_id = g.source_id
""".strip().format(radius=MATCH_RADIUS_ARCSEC)
"""Gaia DR3 sources within 2 arcsec of each uploaded LAMOST star, with their Bailer-Jones distances."""


# --- the cache --------------------------------------------------------------------------------------


def archive_dir() -> Path:
    """Where fetched catalogues live: ``<cache>/archive``."""
    return cache_dir() / "archive"


@dataclass(frozen=True)
class Fetched:
    """A fetched catalogue file and its sidecar (query, service, date, rows, sha256, ...)."""

    path: Path
    sidecar: dict


def cached_catalog(survey: str, out: Path | None = None) -> Fetched | None:
    """The cached download of ``survey`` if present; an error if its checksum does not match."""
    path = Path(out) if out else archive_dir() / f"{survey}.parquet"
    side = path.with_suffix(".json")
    if not (path.is_file() and side.is_file()):
        return None
    sidecar = json.loads(side.read_text())
    if file_sha256(path) != sidecar.get("sha256"):
        raise ArchiveError(f"{path}: the file does not match the sha256 in {side.name}; it may be corrupted or "
                           "edited. Fetch it again with --refresh (catalog='archive' with refresh=True)")
    return Fetched(path, sidecar)


def _store(table: pd.DataFrame, survey: str, path: Path, sidecar: dict) -> Fetched:
    """Write the table and its sidecar atomically (the sidecar last, so a half-written pair is never trusted)."""
    contract.canonical_table(table, {}, load_survey(survey), where=f"the {survey} download")  # a check: all columns there
    with atomic_path(path) as tmp:
        write_parquet(table, tmp)
        sidecar = {**sidecar, "rows": len(table), "sha256": file_sha256(tmp),
                   "fetched": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
    return Fetched(path, sidecar)


@contextlib.contextmanager
def _service(name: str) -> Iterator[None]:
    """Turn any failure of a network service into one clear :class:`ArchiveError`; bound every wait."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT)
    try:
        yield
    except ArchiveError:
        raise
    except Exception as err:  # network, HTTP, TAP and parsing errors all look different; report each in one line
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ArchiveError(f"{name} failed ({type(err).__name__}: {reason[:200]}); {HOW_TO_GO_ON}") from None
    finally:
        socket.setdefaulttimeout(previous)


def _to_pandas(table) -> pd.DataFrame:
    """An astropy Table (masked or not) as a DataFrame: missing numbers become NaN, bytes become str."""
    columns = {}
    for name in table.colnames:
        column = table[name]
        missing = bool(np.any(getattr(column, "mask", False)))
        if column.dtype.kind in "SUO":
            columns[name] = np.asarray(column.filled("") if missing else column).astype(str)
        elif column.dtype.kind in "iu" and not missing:
            columns[name] = np.asarray(column, dtype=np.int64)
        else:
            columns[name] = np.asarray(column.filled(np.nan) if missing else column, dtype=float)
    return pd.DataFrame(columns)


def _gaia_client():
    """astroquery's Gaia client, created quietly (no status-message request)."""
    with contextlib.redirect_stdout(io.StringIO()):  # astroquery.gaia prints server notices on import
        from astroquery.gaia import GaiaClass
    return GaiaClass(show_server_messages=False)


def fetch_gaia(gaia=None, bands: int = GAIA_BANDS, progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Run the Gaia query band by band; return the contract table and what the sidecar records."""
    from tqdm import tqdm

    with _service(GAIA_SERVICE):
        gaia = gaia or _gaia_client()
        parts = []
        for band in tqdm(range(bands), desc="Gaia archive jobs", disable=not progress, delay=1.0):
            job = gaia.launch_job_async(gaia_query(band, bands), dump_to_file=False)
            parts.append(_to_pandas(job.get_results()))
        table = pd.concat(parts, ignore_index=True)
    good_flags = mqs_flags_ok(table["flags_gspspec"])
    record = {"service": GAIA_SERVICE, "query": gaia_query(), "jobs": bands, "rows_returned": len(table),
              "removed_by_mqs_flags": int((~good_flags).sum())}
    return table.loc[good_flags].reset_index(drop=True), record


def rename_lamost(table: pd.DataFrame) -> pd.DataFrame:
    """VizieR's LAMOST columns under contract names; a clear error if the catalogue lacks one."""
    missing = [label for label in LAMOST_COLUMNS if label not in table.columns]
    if missing:
        raise ArchiveError(
            f"{VIZIER_SERVICE}: catalogue {LAMOST_VIZIER_ID} has no column(s) {', '.join(missing)}; "
            "check its ReadMe and update galchem.data.archive.LAMOST_COLUMNS"
        )
    return table.rename(columns=LAMOST_COLUMNS)[list(LAMOST_COLUMNS.values())]


def nearest_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """The nearest Gaia source per uploaded row (``row_id``), from all sources within the radius."""
    return (matches.sort_values(["row_id", "separation"]).drop_duplicates("row_id", keep="first")
            .reset_index(drop=True))


def fetch_lamost(vizier=None, gaia=None) -> tuple[pd.DataFrame, dict]:
    """Download the HotPayne catalogue, cross-match it with Gaia DR3, and return it in the contract."""
    from astropy.table import Table

    with _service(VIZIER_SERVICE):
        if vizier is None:
            from astroquery.vizier import Vizier
            vizier = Vizier(columns=["**"], row_limit=-1, timeout=TIMEOUT)
        lamost = rename_lamost(_to_pandas(vizier.get_catalogs(LAMOST_VIZIER_ID)[0]))
    lamost["row_id"] = np.arange(len(lamost))
    upload = Table({"row_id": lamost["row_id"].to_numpy(), "ra": lamost["ra_lamost"].to_numpy(),
                    "dec": lamost["dec_lamost"].to_numpy()})
    with _service(GAIA_SERVICE):
        gaia = gaia or _gaia_client()
        job = gaia.launch_job_async(LAMOST_MATCH, upload_resource=upload, upload_table_name="lamost",
                                    dump_to_file=False)
        matches = nearest_matches(_to_pandas(job.get_results()))
    table = lamost.merge(matches, on="row_id", how="inner").drop(columns=["row_id", "ra_lamost", "dec_lamost"])
    record = {"service": f"{VIZIER_SERVICE} + {GAIA_SERVICE}", "query": f"VizieR {LAMOST_VIZIER_ID}\n{LAMOST_MATCH}",
              "rows_returned": len(lamost), "removed_without_gaia_match": len(lamost) - len(table)}
    return table, record


def fetch(survey: str, out: str | Path | None = None, refresh: bool = False, progress: bool = False,
          **clients) -> Fetched:
    """The catalogue of ``survey`` from the archives, from the local cache unless ``refresh``.

    ``clients`` (``gaia=``, ``vizier=``) replace astroquery's, for tests.
    """
    if survey not in ARCHIVE_SURVEYS:
        raise ArchiveError(f"the archives hold only the built-in surveys ({', '.join(ARCHIVE_SURVEYS)}), not {survey!r}")
    path = Path(out) if out else archive_dir() / f"{survey}.parquet"
    if path.suffix.lower() != ".parquet" or path.is_dir():  # checked before the network, not after it
        raise ArchiveError(f"--out {out}: a fetched catalogue is kept as one parquet file (with a .json sidecar "
                           "beside it); give a path ending in .parquet")
    if not refresh:
        found = cached_catalog(survey, path)
        if found is not None:
            return found
    if survey == "gaia":
        table, record = fetch_gaia(gaia=clients.get("gaia"), progress=progress)
    else:
        table, record = fetch_lamost(vizier=clients.get("vizier"), gaia=clients.get("gaia"))
    return _store(table, survey, path, record)
