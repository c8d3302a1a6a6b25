"""Regenerate the Results pages' tables from the committed results, or check that they match.

    python benchmarks/docs_results.py           # write docs/results/generated/*.md
    python benchmarks/docs_results.py --check   # exit 1 if a committed page differs

Each page under ``docs/results/generated/`` is the standard output (or the leaderboard file) of
one documented command run on a committed results file, so no result on the site is typed by
hand; ``tests/test_docs.py`` runs ``--check``. The commands (run from the repository root):

- ``smoke-leaderboard.md``: ``alloc-bench report --suite smoke --store
  benchmarks/results/smoke/store.sqlite --no-plots``, its ``leaderboard.md`` (the store is the
  one ``alloc-bench run --suite smoke`` filled);
- ``table2-small-envs-leaderboard.md``: the same for the suite ``table2-small-envs`` on the
  Table 2 store ``benchmarks/results/table2-reduced/store.sqlite`` (the runs of every suite
  ``table2-reduced`` includes);
- ``table2-small-envs-dyps.md``: ``alloc-bench compare DyPS+IPPO X --suite table2-small-envs
  --store benchmarks/results/table2-reduced/store.sqlite`` for X = NoPS+IPPO, PS+IPPO,
  PS-id+IPPO, PSA+IPPO, SePS+IPPO and random, one after the other;
- ``table2-small-envs-seps.md``: the same with SePS+IPPO against NoPS+IPPO, PS+IPPO,
  PS-id+IPPO and PSA+IPPO;
- ``ride-hailing-oracle.md``: ``python benchmarks/ride_hailing_oracle.py --summarize`` on every
  ``benchmarks/results/ride-hailing-oracle/days*.json`` file except ``days-lp-only.json``;
- ``ride-hailing-oracle-lp-only.md``: the same on ``days-lp-only.json``;
- ``dyps-selector.md``: ``python benchmarks/dyps_selector_results.py --results
  benchmarks/results/dyps-selector/results.json``;
- ``dyps-selector-5x.md``, ``dyps-ablations.md``, ``dyps-ablations-ride-hailing-2.md`` and
  ``dyps-groups.md``: the same script on ``dyps-selector-5x/results.json``,
  ``dyps-ablations/results.json``, ``dyps-ablations/ride-hailing-2.json`` and
  ``dyps-groups/results.json`` under ``benchmarks/results/``;
- ``dyps-budgets.md``: ``python benchmarks/budget_comparison.py`` on the ``dyps-selector`` and
  ``dyps-selector-5x`` exports (Ride-Hailing (1), DyPS, PS, PS-id and SePS on IPPO);
- ``reward-sharing.md``: the same script with ``--reference PS+IPPO-team --results
  benchmarks/results/reward-sharing/results.json``;
- ``edrp-leaders.md``: ``python benchmarks/tirl_leader_table.py --results
  benchmarks/results/tirl-edrp-equilibrium/results.json``;
- ``value-based-qmix.md``: ``python benchmarks/dyps_selector_results.py --reference QMIX
  --results benchmarks/results/value-based/results.json``;
- ``value-based-rode.md``: the same with ``--reference RODE``;
- ``rode-roles.md``: ``python benchmarks/rode_roles.py --results
  benchmarks/results/value-based/rode-roles.json``;
- ``value-methods-small.md``: ``python benchmarks/value_methods_small.py table --results
  benchmarks/results/value-methods-small/runs.jsonl``;
- ``ppo-speedup-learning.md``: ``python benchmarks/ppo_speedup_learning.py --results
  benchmarks/results/ppo-speedup/learning.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "docs" / "results" / "generated"
RESULTS = ROOT / "benchmarks" / "results"


def _stdout(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def leaderboard(suite: str, store: str | None = None) -> Callable[[], str]:
    """The ``leaderboard.md`` of ``alloc-bench report --suite SUITE`` on the committed store
    ``benchmarks/results/STORE/store.sqlite`` (``STORE``: the suite's name unless given)."""

    def page() -> str:
        with tempfile.TemporaryDirectory() as out:
            _stdout(
                "-m", "alloc_bench", "report", "--suite", suite, "--no-plots",
                "--store", str(RESULTS / (store or suite) / "store.sqlite"), "--out", out,
            )  # fmt: skip
            return (Path(out) / "leaderboard.md").read_text(encoding="utf-8")

    return page


def compared_with(
    suite: str, store: str, reference: str, others: tuple[str, ...]
) -> Callable[[], str]:
    """``alloc-bench compare REFERENCE OTHER --suite SUITE --store
    benchmarks/results/STORE/store.sqlite`` for each of ``others``, in that order: the
    difference on every scenario of the suite both ran, its bootstrap CI (paired over the seeds
    both ran) and the verdict."""

    def page() -> str:
        path = str(RESULTS / store / "store.sqlite")
        command = ("-m", "alloc_bench", "compare", "--suite", suite, "--store", path)
        outputs = [_stdout(*command, reference, other) for other in others]
        return "```text\n" + "\n".join(outputs) + "```\n"

    return page


def _oracle_days(lp_only: bool) -> list[str]:
    files = sorted(  # days.json first: the later files add days to its table
        (RESULTS / "ride-hailing-oracle").glob("days*.json"),
        key=lambda f: (f.name != "days.json", f.name),
    )
    return [str(f) for f in files if (f.name == "days-lp-only.json") == lp_only]


def ride_hailing_oracle() -> str:
    return _stdout("benchmarks/ride_hailing_oracle.py", "--summarize", *_oracle_days(False))


def ride_hailing_oracle_lp_only() -> str:
    return _stdout("benchmarks/ride_hailing_oracle.py", "--summarize", *_oracle_days(True))


def selector_tables(export: str) -> Callable[[], str]:
    """The page of ``benchmarks/dyps_selector_results.py`` on the export ``export`` (a path
    under ``benchmarks/results/``)."""

    def page() -> str:
        return _stdout("benchmarks/dyps_selector_results.py", "--results", str(RESULTS / export))

    return page


def dyps_budgets() -> str:
    return _stdout(
        "benchmarks/budget_comparison.py", "--results",
        str(RESULTS / "dyps-selector" / "results.json"),
        str(RESULTS / "dyps-selector-5x" / "results.json"),
        "--scenario", "ride-hailing-1",
        "--methods", "DyPS+IPPO", "PS+IPPO", "PS-id+IPPO", "SePS+IPPO",
    )  # fmt: skip


def reward_sharing() -> str:
    results = RESULTS / "reward-sharing" / "results.json"
    return _stdout(
        "benchmarks/dyps_selector_results.py", "--results", str(results),
        "--reference", "PS+IPPO-team",
    )  # fmt: skip


def edrp_leaders() -> str:
    results = RESULTS / "tirl-edrp-equilibrium" / "results.json"
    return _stdout("benchmarks/tirl_leader_table.py", "--results", str(results))


def value_based(reference: str) -> Callable[[], str]:
    """The ``value-based`` suite's tables with ``reference``'s paired differences."""

    def page() -> str:
        results = RESULTS / "value-based" / "results.json"
        return _stdout(
            "benchmarks/dyps_selector_results.py", "--results", str(results),
            "--reference", reference,
        )  # fmt: skip

    return page


def rode_roles() -> str:
    results = RESULTS / "value-based" / "rode-roles.json"
    return _stdout("benchmarks/rode_roles.py", "--results", str(results))


def value_methods_small() -> str:
    results = RESULTS / "value-methods-small" / "runs.jsonl"
    return _stdout("benchmarks/value_methods_small.py", "table", "--results", str(results))


def ppo_speedup_learning() -> str:
    results = RESULTS / "ppo-speedup" / "learning.json"
    return _stdout("benchmarks/ppo_speedup_learning.py", "--results", str(results))


PAGES: dict[str, Callable[[], str]] = {
    "smoke-leaderboard.md": leaderboard("smoke"),
    "table2-small-envs-leaderboard.md": leaderboard("table2-small-envs", "table2-reduced"),
    "table2-small-envs-dyps.md": compared_with(
        "table2-small-envs",
        "table2-reduced",
        "DyPS+IPPO",
        ("NoPS+IPPO", "PS+IPPO", "PS-id+IPPO", "PSA+IPPO", "SePS+IPPO", "random"),
    ),
    "table2-small-envs-seps.md": compared_with(
        "table2-small-envs",
        "table2-reduced",
        "SePS+IPPO",
        ("NoPS+IPPO", "PS+IPPO", "PS-id+IPPO", "PSA+IPPO"),
    ),
    "ride-hailing-oracle.md": ride_hailing_oracle,
    "ride-hailing-oracle-lp-only.md": ride_hailing_oracle_lp_only,
    "dyps-selector.md": selector_tables("dyps-selector/results.json"),
    "dyps-selector-5x.md": selector_tables("dyps-selector-5x/results.json"),
    "dyps-budgets.md": dyps_budgets,
    "dyps-ablations.md": selector_tables("dyps-ablations/results.json"),
    "dyps-ablations-ride-hailing-2.md": selector_tables("dyps-ablations/ride-hailing-2.json"),
    "dyps-groups.md": selector_tables("dyps-groups/results.json"),
    "reward-sharing.md": reward_sharing,
    "edrp-leaders.md": edrp_leaders,
    "value-based-qmix.md": value_based("QMIX"),
    "value-based-rode.md": value_based("RODE"),
    "rode-roles.md": rode_roles,
    "value-methods-small.md": value_methods_small,
    "ppo-speedup-learning.md": ppo_speedup_learning,
}


def stale_pages() -> list[str]:
    """The generated pages whose committed text differs from what their command prints now."""
    stale = []
    for name, make in PAGES.items():
        path = GENERATED / name
        if not path.exists() or path.read_text(encoding="utf-8") != make():
            stale.append(name)
    return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if args.check:
        stale = stale_pages()
        for name in stale:
            print(f"docs/results/generated/{name} differs from its command's output")
        sys.exit(1 if stale else 0)
    GENERATED.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (GENERATED / name).write_text(make(), encoding="utf-8")
        print(f"wrote docs/results/generated/{name}")


if __name__ == "__main__":
    main()
