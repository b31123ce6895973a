"""The ``galchem`` command line: the same functions the notebooks call.

    galchem book [--profile ci|full]
    galchem mock --sample lamost --n 332000 --seed 42 --out lamost.parquet
    galchem cutflow --sample lamost --catalog lamost.parquet [--out cutflow.csv]
    galchem fetch --sample gaia [--out gaia.parquet] [--refresh]
    galchem analyse --sample lamost [--catalog lamost.parquet] --out results/ [--n-mc 1000] [--n-steps 1000] [--n-permutations 1000] [--seed 0]

Problems with the input end with one line on standard error and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from galchem import __version__
from galchem.data import contract
from galchem.errors import GalchemError

SAMPLES = tuple(contract.SAMPLES)


def _book(args: argparse.Namespace) -> None:
    from galchem.site.builder import build, find_root

    build(args.root or find_root(), args.profile, log=lambda line: print(line, flush=True))


def _truth_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.truth.parquet")


def _mock(args: argparse.Namespace) -> None:
    from galchem.data.mock import make_mock
    from galchem.data.files import table_format, write_table

    table_format(args.out)
    truth_out = args.truth_out or _truth_path(args.out)
    t0 = time.perf_counter()
    made = make_mock(args.sample, args.n, args.seed)
    write_table(made.catalog, args.out, units=contract.units(args.sample))
    write_table(made.truth, truth_out)
    print(f"wrote {len(made.catalog):,} {args.sample} mock rows to {args.out} and their truth to {truth_out} "
          f"({time.perf_counter() - t0:.1f} s)")


def _cutflow(args: argparse.Namespace) -> None:
    from galchem.data.cuts import cut_flow
    from galchem.data.files import write_table

    catalog = contract.read_catalog(args.catalog, args.sample)
    flow = cut_flow(catalog, args.sample).flow
    print(flow.to_string(index=False))
    if args.out:
        write_table(flow, args.out)
        print(f"wrote {args.out}")


def _analyse(args: argparse.Namespace) -> None:
    from galchem.data.sources import load_sample
    from galchem.run.stages import azimuthal_analysis, gradient_fits, kinematic_sample
    from galchem.data.files import atomic_path, write_table

    t0 = time.perf_counter()
    dataset = load_sample(args.sample, args.catalog, seed=args.seed)
    print(f"analysing {dataset.source}")
    result = kinematic_sample(dataset, n_mc=args.n_mc, seed=args.seed, progress=True)
    print(result.flow.to_string(index=False))
    fits = gradient_fits(dataset, n_mc=args.n_mc, seed=args.seed, n_steps=args.n_steps, progress=True)
    tables = {
        "cutflow.csv": result.flow,
        "sample.parquet": result.sample,
        "radial_gradients.csv": fits.radial.table,
        "vertical_gradients.csv": fits.vertical.table,
    }
    azimuth = azimuthal_analysis(dataset, n_mc=args.n_mc, seed=args.seed, n_steps=args.n_steps,
                                 n_permutations=args.n_permutations, progress=True)
    tables["azimuthal.csv"] = azimuth.profile
    args.out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_table(table, args.out / name)
        print(f"wrote {args.out / name}")
    with atomic_path(args.out / "azimuthal_tests.json") as tmp:
        tmp.write_text(json.dumps(azimuth.tests, indent=2) + "\n")
    print(f"wrote {args.out / 'azimuthal_tests.json'}: p = {azimuth.tests['p_value']:.3g}, "
          f"arm contrast {azimuth.tests['arm_contrast']:+.4f} ± {azimuth.tests['arm_contrast_err']:.4f} dex")
    print(f"done in {time.perf_counter() - t0:.1f} s")


def _fetch(args: argparse.Namespace) -> None:
    from galchem.data.archive import fetch

    t0 = time.perf_counter()
    fetched = fetch(args.sample, args.out, refresh=args.refresh, progress=True)
    side = fetched.sidecar
    print(f"{fetched.path}: {side['rows']:,} rows from {side['service']}, fetched {side['fetched']} "
          f"({time.perf_counter() - t0:.1f} s; sha256 {side['sha256'][:12]}...)")


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``galchem`` command."""
    top = argparse.ArgumentParser(prog="galchem", description="Chemical cartography of the Galactic disk.")
    top.add_argument("--version", action="version", version=f"galchem {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("book", help="execute every chapter and build the HTML book")
    p.add_argument("--profile", default="ci", help="parameter profile in profiles/ (ci: minutes; full: paper size)")
    p.add_argument("--root", type=Path, help="the repository root (default: found from the current folder)")
    p.set_defaults(run=_book)

    p = sub.add_parser("mock", help="draw a mock catalogue with known truth")
    p.add_argument("--sample", choices=SAMPLES, required=True)
    p.add_argument("--n", type=int, default=None, help="number of candidate rows (default: the study's size)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True, help="catalogue file (.parquet, .fits, .csv or .ecsv)")
    p.add_argument("--truth-out", type=Path, help="truth file (default: <out stem>.truth.parquet)")
    p.set_defaults(run=_mock)

    p = sub.add_parser("cutflow", help="apply the quality cuts and count what each removes")
    p.add_argument("--sample", choices=SAMPLES, required=True)
    p.add_argument("--catalog", type=Path, required=True, help="a catalogue obeying the input contract")
    p.add_argument("--out", type=Path, help="write the flow (cut, removed, remaining) to this file")
    p.set_defaults(run=_cutflow)

    p = sub.add_parser("fetch", help="download a real catalogue (Gaia archive, VizieR) into the local cache")
    p.add_argument("--sample", choices=SAMPLES, required=True)
    p.add_argument("--out", type=Path, help="where to keep it (default: <cache>/archive/<sample>.parquet)")
    p.add_argument("--refresh", action="store_true", help="download again even if a cached copy exists")
    p.set_defaults(run=_fetch)

    p = sub.add_parser("analyse", help="cuts, kinematics, membership and gradient fits; write the result tables")
    p.add_argument("--sample", choices=SAMPLES, required=True)
    p.add_argument("--catalog", default="mock",
                   help="'mock' (default), 'archive' (see galchem fetch) or a catalogue file obeying the input contract")
    p.add_argument("--out", type=Path, required=True, help="folder for cutflow.csv, sample.parquet and later tables")
    p.add_argument("--n-mc", type=int, default=1000, help="Monte Carlo realisations per star (default 1000)")
    p.add_argument("--n-steps", type=int, default=1000, help="emcee steps per walker in each gradient fit (default 1000)")
    p.add_argument("--n-permutations", type=int, default=1000, help="shuffles in the azimuthal test (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_analyse)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except GalchemError as err:
        print(f"galchem {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
