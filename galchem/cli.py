"""The ``galchem`` command line: the same functions the notebooks call.

    galchem book [--profile ci|full]
    galchem mock --survey lamost --mock-stars 332000 --mock-seed 42 --out lamost.parquet|FOLDER/ [--partition-rows N]
    galchem cutflow --survey lamost|my.toml --catalog lamost.parquet [--out cutflow.csv] [--scheduler S]
    galchem fetch --survey gaia [--out gaia.parquet] [--refresh]
    galchem analyse --survey lamost|my.toml [--catalog mock|archive|FILE|FOLDER] [--config config.toml] --out results/
                    [--scheduler single|local|ADDRESS] [--n-mc N] [--n-steps N] [--n-permutations N] [--seed N] ...

Every run setting's default lives in :class:`galchem.run.config.RunConfig`;
an option given here overrides it, one left out keeps it.  ``--scheduler``
is not a run setting: it says where the work runs, never what comes out
(:mod:`galchem.run.scheduler`).  Problems with the input end with one line
on standard error and exit status 2.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from galchem import __version__
from galchem.errors import GalchemError
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: the command starts (and answers Ctrl-C) before numpy and pandas load
    from galchem.run.config import RunConfig

__all__ = ["main", "parser", "run"]

class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), like every other input problem."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _setting(name: str):
    """An argparse type that reads a value as its RunConfig field's type (a list as ``a,b,c``) and checks it
    against the allowed range when it is parsed."""
    def parse(text: str) -> object:
        from galchem.run.config import ConfigError, RunConfig

        kind = RunConfig.__dataclass_fields__[name].type
        try:
            if "tuple" in kind:
                value = tuple(float(v) for v in text.split(","))
            elif kind.startswith("float"):
                value = float(text)
            elif kind.startswith("int"):
                value = int(text)
            else:
                value = text
        except ValueError:
            wanted = "numbers separated by commas" if "tuple" in kind else kind.split()[0].replace("int", "an integer")
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        try:
            RunConfig().replace(**{name: value})
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return value

    return parse


def _shown(value: object) -> str:
    """A default as the command line writes it."""
    if value is None:
        return "none"
    return ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: an integer of at least 1")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from galchem.run.config import CORRECTIONS, HALO_RULES, SETTINGS, RunConfig

    defaults = RunConfig()
    for name, setting in SETTINGS.items():
        if not setting.option:
            continue
        help_text = setting.help
        default = getattr(defaults, name)
        kind = RunConfig.__dataclass_fields__[name].type
        choices = {"halo_rule": HALO_RULES, "correction": CORRECTIONS}
        metavar = "|".join(choices[name]) if name in choices else "A,B,..." if "tuple" in kind else "N"
        p.add_argument(f"--{name.replace('_', '-')}", type=_setting(name), default=None, metavar=metavar,
                       help=f"{help_text} (default {_shown(default)})")


def run_config(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """The configuration of a command: ``base`` (or the defaults) with the options given on the command line."""
    from galchem.run.config import SETTINGS, RunConfig

    return (base or RunConfig()).replace(**{name: getattr(args, name, None) for name in SETTINGS})


def _book(args: argparse.Namespace) -> None:
    from galchem.site.builder import build, find_root

    build(args.root or find_root(), args.profile, log=lambda line: print(line, flush=True), timeout=args.timeout)


def _mock(args: argparse.Namespace) -> None:
    from galchem.data.mock import mock_model
    from galchem.data.mock_files import check_mock_targets, default_truth_path, write_mock
    from galchem.data.partitions import PART_ROWS, mock_parts
    from galchem.data.surveys import load_survey
    from galchem.run.resources import check_memory

    survey = load_survey(args.survey)
    folder = args.out.suffix == ""
    truth_out = args.truth_out or default_truth_path(args.out)
    check_mock_targets(args.out, truth_out)
    model = mock_model(survey.name)
    n = args.mock_stars or model.n_stars
    most = args.partition_rows or PART_ROWS
    streamed = folder or args.out.suffix.lower() == ".parquet"  # else the whole table is assembled in memory
    check_memory(n, min(n, most) if streamed else n, f"the {survey.name} mock")
    t0 = time.perf_counter()
    parts = mock_parts(model, n, args.mock_seed, most)
    rows = write_mock(parts, args.out, truth_out, units=survey.file_units())
    where = f"{len(parts)} partitions in {args.out}/" if folder else str(args.out)
    print(f"wrote {rows:,} {survey.name} mock rows to {where} and their truth to {truth_out} "
          f"({time.perf_counter() - t0:.1f} s)")


def _same_file(a: Path, b: Path) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _cutflow(args: argparse.Namespace) -> None:
    from galchem.data.cuts import VELOCITY_CUT, flow_table
    from galchem.data.files import table_format, write_table
    from galchem.data.sources import load_dataset
    from galchem.physics.membership import HALO_CUT
    from galchem.run.scheduler import open_scheduler
    from galchem.run.stages import kinematic_sample

    if args.out:
        table_format(args.out)
        if args.catalog not in ("mock", "archive") and _same_file(args.out, args.catalog):
            raise GalchemError(f"--out {args.out} is the input catalogue: refusing to write over it")
    config = run_config(args)
    with open_scheduler(args.scheduler, progress=sys.stderr.isatty()) as runner:
        dataset = load_dataset(args.survey, args.catalog, config.mock_stars, config.mock_seed)
        result = kinematic_sample(dataset, config, scheduler=runner)
    flow = result.flow
    shown = flow_table(flow, dataset.survey, (VELOCITY_CUT, HALO_CUT))
    print(f"cut flow of {dataset.source}:")
    print(shown.to_string(index=False))
    for note in result.notes:
        print(note)
    if args.out:
        write_table(flow, args.out)
        print(f"wrote {args.out}")


def _analyse(args: argparse.Namespace) -> None:
    from galchem.data.surveys import load_survey
    from galchem.run.pipeline import analyse, from_run_file
    from galchem.run.config import RunConfig
    from galchem.run.outputs import check_target, write_outputs

    t0 = time.perf_counter()
    if args.config:
        survey, catalog, base = from_run_file(args.config, args.catalog)
        if args.survey:
            raise GalchemError("--survey and --config both name a survey: the configuration file already holds one")
    else:
        survey, catalog = load_survey(args.survey or "lamost"), args.catalog or "mock"
        base = RunConfig.for_survey(survey)
    config = run_config(args, base)
    inputs = [Path(p) for p in (catalog, args.config, args.survey) if p and p not in ("mock", "archive")
              and Path(p).exists()]
    check_target(args.out, inputs)  # before the work, not after it
    result = analyse(survey, catalog, config, progress=sys.stderr.isatty(), log=lambda line: print(line, flush=True),
                     scheduler=args.scheduler)
    print(result.kinematic.flow.to_string(index=False))
    written = write_outputs(result.outputs(), args.out, inputs, config.to_dict())
    print(f"wrote {len(written)} files to {args.out}: {', '.join(p.name for p in written)}")
    if result.azimuthal is not None:
        from galchem.report.azimuthal_summary import tests_line

        print(f"azimuthal: {tests_line(result.azimuthal.tests)}")
    print(f"done in {time.perf_counter() - t0:.1f} s")


def _fetch(args: argparse.Namespace) -> None:
    from galchem.data.archive import fetch

    t0 = time.perf_counter()
    fetched = fetch(args.survey, args.out, refresh=args.refresh, progress=True)
    side = fetched.sidecar
    print(f"{fetched.path}: {side['rows']:,} rows from {side['service']}, fetched {side['fetched']} "
          f"({time.perf_counter() - t0:.1f} s; sha256 {side['sha256'][:12]}...)")


def _scheduler(text: str) -> str:
    """An argparse type: a scheduler's name or address, checked when parsed."""
    from galchem.run.scheduler import check_scheduler

    try:
        return check_scheduler(text)
    except GalchemError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("unknown --scheduler ")) from None


def _scheduler_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", type=_scheduler, default="single", metavar="single|local|ADDRESS",
                   help="where partitions are processed: single (in this process, the default), local (a Dask "
                        "LocalCluster of 2 worker processes) or a Dask scheduler's address (tcp://host:port); "
                        "never changes the results")


def _survey_option(p: argparse.ArgumentParser, required: bool, builtin_only: bool = False) -> None:
    from galchem.data.surveys import builtin_surveys

    names = ", ".join(builtin_surveys())
    kind = f"a built-in survey ({names})" if builtin_only else f"a built-in survey ({names}) or a survey TOML file"
    p.add_argument("--survey", dest="survey", required=required, metavar="NAME|FILE",
                   choices=list(builtin_surveys()) if builtin_only else None, help=kind)


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``galchem`` command."""
    from galchem.run.config import SETTINGS, RunConfig

    top = _Parser(prog="galchem", description="Chemical cartography of the Galactic disk.")
    top.add_argument("--version", action="version", version=f"galchem {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("book", help="execute every chapter and build the HTML book")
    p.add_argument("--profile", default="ci", help="parameter profile in profiles/ (ci: minutes; full: paper size)")
    p.add_argument("--root", type=Path, help="the repository root (default: found from the current folder)")
    p.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                   help="longest a notebook cell may run (default: the profile's execution_timeout)")
    p.set_defaults(run=_book)

    p = sub.add_parser("mock", help="draw a mock catalogue with known truth")
    _survey_option(p, required=True, builtin_only=True)
    for name in ("mock_stars", "mock_seed"):  # the same options, meaning and defaults as analyse's
        setting, default = SETTINGS[name], getattr(RunConfig(), name)
        p.add_argument(f"--{name.replace('_', '-')}", type=_setting(name), default=default, metavar="N",
                       help=f"{setting.help} (default {_shown(default)})")
    p.add_argument("--out", type=Path, required=True,
                   help="catalogue file (.parquet, .fits, .csv, .ecsv, .txt), or a folder (no suffix) for a "
                        "partitioned catalogue of part-NNNNN.parquet files")
    p.add_argument("--truth-out", type=Path,
                   help="truth file (default: <out stem>.truth.parquet; for a folder: <out>.truth/)")
    p.add_argument("--partition-rows", type=_positive, default=None, metavar="N",
                   help="rows per partition, each drawn from its own child seed (default 250000)")
    p.set_defaults(run=_mock)

    p = sub.add_parser("cutflow", help="the full cut flow that analyse applies, kinematic cuts included")
    _survey_option(p, required=True)
    p.add_argument("--catalog", required=True, help="'mock', 'archive' or a catalogue the survey describes: a file, a folder of "
                        "parquet files or a HATS catalogue")
    p.add_argument("--out", type=Path, help="write the flow (cut, removed, remaining) to this file")
    _scheduler_option(p)
    _add_run_options(p)
    p.set_defaults(run=_cutflow)

    p = sub.add_parser("fetch", help="download a real catalogue (Gaia archive, VizieR) into the local cache")
    _survey_option(p, required=True, builtin_only=True)
    p.add_argument("--out", type=Path, help="where to keep it (default: <cache>/archive/<survey>.parquet)")
    p.add_argument("--refresh", action="store_true", help="download again even if a cached copy exists")
    p.set_defaults(run=_fetch)

    p = sub.add_parser("analyse", aliases=["analyze"],
                       help="cuts, kinematics, membership, gradient fits and azimuthal tests; write the result tables")
    _survey_option(p, required=False)
    p.add_argument("--catalog", default=None,
                   help="'mock' (default), 'archive' (see galchem fetch) or a catalogue the survey describes: a file, "
                        "a folder of parquet files or a HATS catalogue")
    p.add_argument("--config", type=Path, help="a config.toml (for example OUT/config.toml of an earlier run)")
    p.add_argument("--out", type=Path, required=True, help="folder for the tables, notes.txt and config.toml")
    _scheduler_option(p)
    _add_run_options(p)
    p.set_defaults(run=_analyse)
    return top


def _interrupted(err: BaseException | None) -> bool:
    """True for Ctrl-C, also when it surfaced as another error: a compiled (numba) function that returns while an
    interrupt is pending raises SystemError, with the KeyboardInterrupt as its context."""
    while err is not None:
        if isinstance(err, KeyboardInterrupt):
            return True
        err = err.__cause__ or err.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    except KeyboardInterrupt:
        print("galchem: interrupted; nothing was written", file=sys.stderr)
        return 130
    try:
        args.run(args)
    except GalchemError as err:
        print(f"galchem {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"galchem {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not an input problem: one line unless GALCHEM_DEBUG asks for the traceback
        if _interrupted(err):
            print(f"galchem {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
            return 130
        if os.environ.get("GALCHEM_DEBUG"):
            raise
        reason = (str(err).splitlines() or [""])[0][:200]
        print(f"galchem {args.command}: internal error ({type(err).__name__}: {reason}); please report it, "
              "with GALCHEM_DEBUG=1 for the traceback", file=sys.stderr)
        return 70
    return 0


def run() -> None:
    """The ``galchem`` program: :func:`main`, then exit with its status.

    Once the work is done, Ctrl-C is ignored and the process ends at once
    (``os._exit``, after flushing its output), so neither an interrupt that
    slips past :func:`main`'s handlers nor one met while the interpreter
    would shut down (joining worker threads still inside a compiled loop)
    can turn the status into a process killed by a signal.
    """
    try:
        status = main()
    except KeyboardInterrupt:
        print("galchem: interrupted", file=sys.stderr)
        status = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
