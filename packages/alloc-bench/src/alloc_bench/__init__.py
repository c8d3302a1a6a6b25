"""alloc-bench: benchmark runner and leaderboards for alloc.

* :func:`evaluate` one method on one scenario over seeds (a JSON-able dict);
* suites (``suites/*.toml``) list runs; :func:`run_suite` runs them;
* published numbers (``published/*.toml``) and :mod:`alloc_bench.leaderboard` set the results
  against the papers;
* the ``alloc-bench`` command (``evaluate``, ``run``, ``list``) wraps all of this.
"""

from __future__ import annotations

from alloc_bench.errors import BenchError
from alloc_bench.evaluate import evaluate
from alloc_bench.leaderboard import render_csv, render_markdown
from alloc_bench.published import PublishedEntry, PublishedTable, get_tables, load_published_tables
from alloc_bench.runner import run_suite
from alloc_bench.scenarios import SCENARIOS, MetricSpec, Scenario, get_scenario, register_scenario
from alloc_bench.suites import RunSpec, Suite, list_suites, load_suite, load_suite_file

__version__ = "0.1.0"

__all__ = [
    "SCENARIOS",
    "BenchError",
    "MetricSpec",
    "PublishedEntry",
    "PublishedTable",
    "RunSpec",
    "Scenario",
    "Suite",
    "__version__",
    "evaluate",
    "get_scenario",
    "get_tables",
    "list_suites",
    "load_published_tables",
    "load_suite",
    "load_suite_file",
    "register_scenario",
    "render_csv",
    "render_markdown",
    "run_suite",
]
