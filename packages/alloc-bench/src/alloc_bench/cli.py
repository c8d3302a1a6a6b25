"""The ``alloc-bench`` command line: ``evaluate``, ``run`` and ``list``.

Exit codes: 0 success; 2 a usage error (unknown suite, scenario or method, bad seeds or option
syntax, options the environment rejects, an output folder that cannot be written), printed as
one line on stderr without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from alloc_bench.errors import BenchError
from alloc_bench.parsing import format_options, format_seeds, parse_options, parse_seeds

PROG = "alloc-bench"
#: Files written by ``alloc-bench run`` into its output folder.
OUTPUT_FILES = ("leaderboard.md", "leaderboard.csv", "results.json")


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
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment override, e.g. demand=reference (repeatable; values read as TOML)",
    )
    ev.add_argument("--json", action="store_true", help="print the result as one JSON object")

    run = sub.add_parser("run", help="run a suite and print its leaderboard")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--suite", help="name of a suite shipped with alloc-bench")
    which.add_argument("--suite-file", type=Path, help="path to a suite TOML file")
    run.add_argument(
        "--out", type=Path, help="output folder (default results/<suite>); other files are kept"
    )

    sub.add_parser("list", help="list suites, scenarios, methods and published tables")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message (usage errors exit with 2)
        return int(exc.code or 0)
    try:
        if args.command == "evaluate":
            return cmd_evaluate(args, sys.stdout)
        if args.command == "run":
            return cmd_run(args, sys.stdout, sys.stderr)
        return cmd_list(sys.stdout)
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


def cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    """``alloc-bench evaluate``: one evaluation, as JSON (``--json``) or a short summary."""
    from alloc_bench.evaluate import evaluate
    from alloc_bench.scenarios import get_scenario

    seeds = parse_seeds(args.seeds)
    options = parse_options(args.option)
    result = evaluate(args.scenario, args.method, seeds, args.episodes, options)
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
    """``alloc-bench run``: every run of a suite, the leaderboard on stdout and in ``--out``."""
    from alloc_bench.leaderboard import render_csv, render_markdown
    from alloc_bench.output import write_files
    from alloc_bench.published import get_tables
    from alloc_bench.runner import run_suite, suite_document
    from alloc_bench.scenarios import get_scenario
    from alloc_bench.suites import load_suite, load_suite_file

    suite = load_suite(args.suite) if args.suite else load_suite_file(args.suite_file)
    out_dir = args.out if args.out is not None else Path("results") / suite.name
    if out_dir.exists() and not out_dir.is_dir():
        raise BenchError(f"--out {str(out_dir)!r} exists and is not a folder")
    tables = get_tables(suite.compare)

    def progress(done: int, total: int, run: Any, result: dict[str, Any], elapsed: float) -> None:
        spec = get_scenario(run.scenario)
        metric = spec.metric(spec.rank_by)
        err.write(
            f"[{done:>{len(str(total))}}/{total}] {run.describe()}: {metric.label} "
            f"{result['mean'][metric.name]:{metric.fmt}} ({result['wall_time_s']:.2f} s; "
            f"elapsed {elapsed:.1f} s)\n"
        )
        err.flush()

    start = time.perf_counter()
    results = run_suite(suite, progress)
    wall = time.perf_counter() - start
    markdown = render_markdown(
        results,
        tables,
        title=f"alloc-bench leaderboard: {suite.name}",
        description=suite.description,
    )
    files = {
        "leaderboard.md": markdown,
        "leaderboard.csv": render_csv(results, tables),
        "results.json": json.dumps(suite_document(suite, results, wall), indent=2) + "\n",
    }
    try:
        write_files(out_dir, files)
    except OSError as exc:
        raise BenchError(f"cannot write results to {str(out_dir)!r}: {exc}") from None
    out.write(markdown)
    err.write(
        f"{len(results)} runs in {wall:.1f} s; wrote {', '.join(OUTPUT_FILES)} to {out_dir}\n"
    )
    return 0


def cmd_list(out: TextIO) -> int:
    """``alloc-bench list``: what can be run and compared with."""
    from alloc_agents import POLICIES
    from alloc_bench.published import load_published_tables
    from alloc_bench.scenarios import SCENARIOS
    from alloc_bench.suites import list_suites

    def section(title: str, items: dict[str, str]) -> None:
        out.write(f"{title}:\n")
        width = max((len(k) for k in items), default=0)
        for name, text in items.items():
            out.write(f"  {name:<{width}}  {text}\n".rstrip() + "\n")

    section("suites", list_suites())
    section("scenarios", {n: s.description for n, s in sorted(SCENARIOS.items())})
    for family, policies in sorted(POLICIES.items()):
        section(
            f"methods ({family})", {n: _first_line(c.__doc__) for n, c in sorted(policies.items())}
        )
    section(
        "published tables",
        {r: f"{t.venue}, {t.caption}" for r, t in load_published_tables().items()},
    )
    return 0


def _first_line(doc: str | None) -> str:
    """The first sentence of a docstring, on one line."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    return paragraph.split(". ")[0].rstrip(".")
