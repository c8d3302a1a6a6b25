"""alloc-bench: benchmark runner, results store and leaderboards for alloc.

* :func:`evaluate` one method on one scenario over seeds (a JSON-able dict, no store);
* suites (``suites/*.toml``) list runs (scenario x method x options x seed x budget);
  :func:`run_suite` executes them (process pool or Ray) into a :class:`Store` (SQLite) and
  skips finished ones; :func:`collect` aggregates a suite's results over seeds;
* published numbers (``published/*.toml``) and :mod:`alloc_bench.leaderboard` set the results
  against the papers; :func:`write_report` writes tables, plots and marl-eval JSON;
  :func:`compare_methods` tells whether one method beats another (bootstrap CI);
* the ``alloc-bench`` command (``evaluate``, ``run``, ``report``, ``compare``, ``list``).
"""

from __future__ import annotations

from alloc_bench.bootstrap import bootstrap_ci, bootstrap_diff_ci
from alloc_bench.compare import compare_methods
from alloc_bench.config import Budget, RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.evaluate import evaluate
from alloc_bench.leaderboard import render_csv, render_markdown
from alloc_bench.methods import LEARNED, LearnedMethod, register_method
from alloc_bench.published import PublishedEntry, PublishedTable, get_tables, load_published_tables
from alloc_bench.report import write_report
from alloc_bench.results import collect
from alloc_bench.runner import run_suite
from alloc_bench.scenarios import SCENARIOS, MetricSpec, Scenario, get_scenario, register_scenario
from alloc_bench.store import Store
from alloc_bench.suites import RunSpec, Suite, list_suites, load_suite, load_suite_file

__version__ = "0.1.0"

__all__ = [
    "LEARNED",
    "SCENARIOS",
    "BenchError",
    "Budget",
    "LearnedMethod",
    "MetricSpec",
    "PublishedEntry",
    "PublishedTable",
    "RunConfig",
    "RunSpec",
    "Scenario",
    "Store",
    "Suite",
    "__version__",
    "bootstrap_ci",
    "bootstrap_diff_ci",
    "collect",
    "compare_methods",
    "evaluate",
    "get_scenario",
    "get_tables",
    "list_suites",
    "load_published_tables",
    "load_suite",
    "load_suite_file",
    "register_method",
    "register_scenario",
    "render_csv",
    "render_markdown",
    "run_suite",
    "write_report",
]
