"""The ``alloc-bench`` command line: ``evaluate``, ``run``, ``report``, ``compare``, ``list`` and
``migrate``.

Exit codes: 0 success; 1 some runs of ``run`` failed (they are recorded as failed and retried
by the next ``run``); 2 a usage error (unknown suite, scenario or method, bad seeds or option
syntax, options the environment rejects, a store or output folder that cannot be used: damaged,
an older schema, locked too long), printed as one line on stderr without a traceback; 130
interrupted (finished runs, and the runs in progress when the parent alone was interrupted, are
kept). Rows a report cannot use are skipped with a ``warning:`` line naming the row and column.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from alloc_bench.errors import BenchError
from alloc_bench.parsing import format_options, format_seeds, parse_options, parse_seeds

PROG = "alloc-bench"
#: Files written by ``alloc-bench run`` into its output folder.
OUTPUT_FILES = ("leaderboard.md", "leaderboard.csv", "results.json")


def _add_suite_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    which = parser.add_mutually_exclusive_group(required=required)
    which.add_argument("--suite", help="name of a suite shipped with alloc-bench")
    which.add_argument("--suite-file", type=Path, help="path to a suite TOML file")


def _add_store_arg(parser: argparse.ArgumentParser) -> None:
    from alloc_bench.store import DEFAULT_STORE

    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"SQLite results store (default {DEFAULT_STORE}, created if needed)",
    )


def _add_stats_args(parser: argparse.ArgumentParser) -> None:
    from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES

    parser.add_argument(
        "--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples"
    )
    parser.add_argument(
        "--confidence", type=float, default=DEFAULT_CONFIDENCE, help="CI level (default 0.95)"
    )


def _add_threads_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads per learned run (default 1, the fastest for these small "
        "networks on a small or busy CPU; ask for more with --threads N)",
    )


def _add_wide_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wide",
        action="store_true",
        help="the leaderboard's full tables (CIs, published stds, every column; lines of any "
        "length); default: lines of at most 120 characters (every number is in the CSV and JSON "
        "either way)",
    )


def _add_option_arg(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--option", action="append", default=None, metavar="KEY=VALUE", help=text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``alloc-bench``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Benchmark runner and leaderboards for alloc."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="evaluate one method on one scenario over seeds")
    ev.add_argument("--scenario", required=True, help="scenario name (see `alloc-bench list`)")
    ev.add_argument("--method", required=True, help="method name (see `alloc-bench list`)")
    ev.add_argument(
        "--seeds", default="0-4", help="seeds: comma-separated ints and ranges, e.g. 0,1,2 or 0-4"
    )
    ev.add_argument("--episodes", type=int, default=1, help="episodes per seed (default 1)")
    ev.add_argument(
        "--train-steps", type=int, default=0, help="training steps (learned methods; default 0)"
    )
    _add_option_arg(ev, "environment override, e.g. demand=reference (repeatable; TOML values)")
    ev.add_argument("--json", action="store_true", help="print the result as one JSON object")
    _add_threads_arg(ev)
    ev.add_argument(
        "--no-progress",
        action="store_true",
        help="no training progress on stderr (default: a bar on a terminal, else a line every "
        "30 s with steps done, steps/s and ETA)",
    )

    run = sub.add_parser("run", help="run a suite into the store and print its leaderboard")
    _add_suite_args(run)
    _add_store_arg(run)
    run.add_argument(
        "--jobs", type=int, help="parallel runs (default: the CPUs, at most the pending runs)"
    )
    run.add_argument(
        "--executor",
        choices=("process", "ray"),
        default="process",
        help="local process pool (default) or Ray (pip install 'alloc-bench[ray]')",
    )
    run.add_argument("--ray-address", help="address of a running Ray cluster (--executor ray)")
    run.add_argument("--force", action="store_true", help="re-run runs already finished")
    _add_threads_arg(run)
    _add_wide_arg(run)
    run.add_argument(
        "--out", type=Path, help="output folder (default results/<suite>); other files are kept"
    )

    rep = sub.add_parser("report", help="write a suite's leaderboard, tables, plots and JSON")
    _add_suite_args(rep)
    _add_store_arg(rep)
    rep.add_argument("--out", type=Path, help="output folder (default results/<suite>)")
    rep.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    _add_wide_arg(rep)
    _add_stats_args(rep)

    cmp_ = sub.add_parser("compare", help="does method A beat method B? (difference, CI)")
    cmp_.add_argument("a", help="method A")
    cmp_.add_argument("b", help="method B")
    cmp_.add_argument("--scenario", help="only this scenario (default: all both ran)")
    cmp_.add_argument("--metric", help="metric (default: the scenario's ranking metric)")
    _add_option_arg(cmp_, "only runs with exactly these options (repeatable)")
    _add_suite_args(cmp_, required=False)
    _add_store_arg(cmp_)
    _add_stats_args(cmp_)
    cmp_.add_argument("--json", action="store_true", help="print the comparisons as JSON")

    sub.add_parser("list", help="list suites, scenarios, methods and published tables")

    mig = sub.add_parser("migrate", help="bring a store written by an older alloc-bench up to date")
    mig.add_argument("--store", type=Path, required=True, help="the SQLite results store")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message (usage errors exit with 2)
        return int(exc.code or 0)
    commands = {
        "evaluate": lambda: cmd_evaluate(args, sys.stdout),
        "run": lambda: cmd_run(args, sys.stdout, sys.stderr),
        "report": lambda: cmd_report(args, sys.stdout, sys.stderr),
        "compare": lambda: cmd_compare(args, sys.stdout),
        "list": lambda: cmd_list(sys.stdout),
        "migrate": lambda: cmd_migrate(args, sys.stderr),
    }
    try:
        return commands[args.command]()
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


def _load_suite(args: argparse.Namespace) -> Any:
    from alloc_bench.suites import load_suite, load_suite_file

    return load_suite(args.suite) if args.suite else load_suite_file(args.suite_file)


def _out_dir(args: argparse.Namespace, suite: Any) -> Path:
    out_dir = args.out if args.out is not None else Path("results") / suite.name
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchError(f"--out {str(out_dir)!r} exists and is not a folder")
    return out_dir


def cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    """``alloc-bench evaluate``: one evaluation, as JSON (``--json``) or a short summary."""
    from alloc_bench.evaluate import evaluate
    from alloc_bench.scenarios import get_scenario

    seeds = parse_seeds(args.seeds)
    options = parse_options(args.option or [])
    if args.threads is not None and args.threads < 1:
        raise BenchError(f"--threads must be >= 1, got {args.threads}")
    result = evaluate(
        args.scenario,
        args.method,
        seeds,
        args.episodes,
        options,
        args.train_steps,
        progress=not args.no_progress,
        threads=args.threads,
    )
    if args.json:
        out.write(json.dumps(result, indent=2) + "\n")
        return 0
    spec = get_scenario(result["scenario"])
    episodes = result["episodes"]
    out.write(
        f"{result['scenario']} / {result['method']} [{format_options(result['options'])}] "
        f"seeds {format_seeds(result['seeds'])}, {episodes} episode"
        f"{'s' if episodes != 1 else ''} per seed, {result['wall_time_s']:.2f} s\n"
    )
    width = max(len(m.label) for m in spec.metrics)
    for metric in spec.metrics:
        mean, std = result["mean"][metric.name], result["std"][metric.name]
        out.write(
            f"  {metric.label:<{width}}  {mean:{metric.fmt}} ± {std:{metric.fmt}}"
            f"  ({metric.unit})\n"
        )
    out.write(f"  (mean ± population std over {len(result['seeds'])} seeds)\n")
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``alloc-bench run``: execute a suite's pending runs into the store, then print the
    leaderboard and write ``leaderboard.md``, ``leaderboard.csv``, ``results.json``."""
    from alloc_bench.output import write_files
    from alloc_bench.progress import ProgressPrinter, format_duration
    from alloc_bench.published import get_tables
    from alloc_bench.report import leaderboard_files
    from alloc_bench.results import collect
    from alloc_bench.rundirs import run_dir
    from alloc_bench.runner import run_suite
    from alloc_bench.store import Store, artifacts_dir

    suite = _load_suite(args)
    out_dir = _out_dir(args, suite)
    tables = get_tables(suite.compare)
    printer = ProgressPrinter(err, suite.name, args.executor)
    with Store(args.store, on_wait=printer.note) as store:
        try:
            summary = run_suite(
                suite,
                store,
                jobs=args.jobs,
                executor=args.executor,
                force=args.force,
                progress=printer.run,
                on_plan=printer.plan,
                ray_address=args.ray_address,
                on_interrupt=printer.interrupted,
                threads=args.threads,
            )
        except KeyboardInterrupt:
            err.write(
                "interrupted: the finished runs are in the store; run the same command again "
                "to continue\n"
            )
            return 130
        results = collect(suite, store)
    _warn_skipped(results, err)
    files = leaderboard_files(
        suite, results, tables, wall_time_s=summary.wall_time_s, wide=args.wide
    )
    try:
        write_files(out_dir, files)
    except OSError as exc:
        raise BenchError(f"cannot write results to {str(out_dir)!r}: {exc}") from None
    out.write(files["leaderboard.md"])
    plan = summary.plan
    failed = len(summary.failed)
    err.write(
        f"{plan.total} runs: {summary.executed} ran ({failed} failed), {len(plan.finished)} "
        f"skipped (finished earlier), {len(plan.not_implemented)} not implemented, in "
        f"{format_duration(summary.wall_time_s)}; store {args.store}; wrote "
        f"{', '.join(OUTPUT_FILES)} to {out_dir}\n"
    )
    if summary.log_errors:
        err.write(
            f"could not write {len(summary.log_errors)} run log(s): {summary.log_errors[0]}\n"
        )
    if failed:
        first = summary.failed[0]
        log = run_dir(artifacts_dir(args.store), {**first["config"], **first}) / "run.log"
        err.write(
            f"{failed} run(s) failed (first: {first['error']}); logs in "
            f"{artifacts_dir(args.store)}/<scenario>/<method>/seed<k>-<hash>/run.log (first: "
            f"{log}); run again to retry them\n"
        )
        return 1
    return 0


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``alloc-bench report``: the full report of a suite from the store."""
    from alloc_bench.report import write_report
    from alloc_bench.store import Store

    suite = _load_suite(args)
    out_dir = _out_dir(args, suite)
    with Store(args.store, create=False, on_wait=lambda text: _warn(text, err)) as store:
        try:
            report = write_report(
                suite,
                store,
                out_dir,
                resamples=args.resamples,
                confidence=args.confidence,
                plots=not args.no_plots,
                wide=args.wide,
            )
        except OSError as exc:
            raise BenchError(f"cannot write the report to {str(out_dir)!r}: {exc}") from None
        except ValueError as exc:
            if isinstance(exc, BenchError):
                raise
            raise BenchError(str(exc)) from None
    _warn_skipped(report.results, err)
    out.write(report.markdown)
    names = sorted(str(p.relative_to(out_dir)) for p in report.files)
    err.write(f"wrote {len(names)} files to {out_dir}: {', '.join(names)}\n")
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    """``alloc-bench compare A B``: difference of means with a bootstrap CI, and a verdict."""
    from alloc_bench.compare import compare_methods, format_comparison
    from alloc_bench.store import Store

    suite = _load_suite(args) if (args.suite or args.suite_file) else None
    options = None if args.option is None else parse_options(args.option)
    with Store(args.store, create=False, on_wait=lambda text: _warn(text, sys.stderr)) as store:
        try:
            items = compare_methods(
                store,
                args.a,
                args.b,
                scenario=args.scenario,
                metric=args.metric,
                options=options,
                suite=suite,
                resamples=args.resamples,
                confidence=args.confidence,
                warn=lambda text: _warn(text, sys.stderr),
            )
        except ValueError as exc:
            if isinstance(exc, BenchError):
                raise
            raise BenchError(str(exc)) from None
    if args.json:
        out.write(json.dumps(items, indent=2) + "\n")
    else:
        out.write("\n\n".join(format_comparison(item) for item in items) + "\n")
    return 0


def cmd_migrate(args: argparse.Namespace, err: TextIO) -> int:
    """``alloc-bench migrate``: bring an older store to this schema (a copy is kept first)."""
    from alloc_bench.store import SCHEMA_VERSION, migrate

    backup, added = migrate(args.store)
    if backup is None:
        err.write(f"store {args.store} already has schema version {SCHEMA_VERSION}\n")
        return 0
    columns = f"added the column(s) {', '.join(added)}; " if added else ""
    err.write(
        f"migrated {args.store} to schema version {SCHEMA_VERSION}: {columns}rows kept as they "
        f"were; the original is at {backup}\n"
    )
    return 0


def _warn(text: str, err: TextIO) -> None:
    err.write(f"warning: {text}\n")
    err.flush()


def _warn_skipped(results: list[dict[str, Any]], err: TextIO) -> None:
    """A warning per store row the results left out (:mod:`alloc_bench.rows`)."""
    for result in results:
        for note in result.get("skipped", []):
            _warn(note, err)


def cmd_list(out: TextIO) -> int:
    """``alloc-bench list``: suites, scenarios, methods and published tables, with what is not
    implemented yet."""
    from alloc_bench.availability import availability, known_scenarios
    from alloc_bench.methods import LEARNED, rule_based
    from alloc_bench.published import load_published_tables
    from alloc_bench.scenarios import SCENARIOS
    from alloc_bench.suites import list_suites, load_suite

    tables = load_published_tables()

    def section(title: str, items: dict[str, str]) -> None:
        out.write(f"{title}:\n")
        width = max((len(k) for k in items), default=0)
        for name, text in items.items():
            out.write(f"  {name:<{width}}  {text}\n".rstrip() + "\n")

    suites = {}
    for name, description in list_suites().items():
        runs = load_suite(name).runs
        ready = sum(len(r.seeds) for r in runs if r.availability().implemented)
        total = sum(len(r.seeds) for r in runs)
        suites[name] = f"{description} ({total} runs, {total - ready} not implemented)"
    section("suites", suites)
    scenarios = {n: s.description for n, s in sorted(SCENARIOS.items())}
    for name in sorted(known_scenarios() - set(SCENARIOS)):
        refs = [r for r, t in tables.items() if name in t.columns or name in t.scenarios()]
        scenarios[name] = f"not implemented (named by {', '.join(refs)})"
    section("scenarios", scenarios)
    families = sorted({s.family for s in SCENARIOS.values()})
    for family in families:
        section(
            f"methods ({family}, rule-based)",
            {n: _first_line(c.__doc__) for n, c in sorted(rule_based(family).items())},
        )
    learned = {}
    for name, method in LEARNED.items():
        runs_on = sorted(
            {s.family for n, s in SCENARIOS.items() if availability(n, name).implemented}
        )
        state = f"({', '.join(runs_on)}) " if runs_on else "not implemented: "
        learned[name] = f"{state}{method.description} [trainer {method.trainer_text()}]"
    section("methods (learned)", learned)
    section(
        "published tables", {r: f"{t.venue}, {t.label}: {t.caption}" for r, t in tables.items()}
    )
    return 0


def _first_line(doc: str | None) -> str:
    """The first sentence of a docstring, on one line."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")
