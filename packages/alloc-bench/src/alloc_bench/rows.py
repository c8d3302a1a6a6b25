"""Which rows of the store a report can use, and the words that name the others.

A finished row is *damaged* when a JSON column did not decode (:func:`alloc_bench.store.Store`
records the problem in ``row["problems"]``) or its metrics lack one of the scenario's metrics or
hold something that is not a number: ``alloc-bench run`` runs it again. A finished row whose
metric is NaN or infinite is a result, but not one a mean can use: reports skip it. Either way
the warning names the row (its id in the ``runs`` table, config hash, scenario, method and
seed) and the column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any


def describe_row(row: Mapping[str, Any]) -> str:
    """``row 7 (config 1a2b...: ride-hailing-1 greedy seed 0)``."""
    return (
        f"row {row.get('rowid', '?')} (config {row['config_hash']}: {row['scenario']} "
        f"{row['method']} seed {row['seed']})"
    )


def damage(row: Mapping[str, Any], metrics: Iterable[str]) -> tuple[str, str] | None:
    """``(column, problem)`` of a damaged row (module doc), ``None`` for a sound one."""
    for column, problem in row.get("problems", {}).items():
        return column, problem
    values = row["metrics"]
    if not isinstance(values, Mapping):
        return "metrics", f"not a JSON object: {values!r}"
    for name in metrics:
        if name not in values:
            return "metrics", f"no value for {name!r} (has {sorted(values)})"
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, Real):
            return "metrics", f"{name!r} is {value!r}, not a number"
    return None


def unusable(row: Mapping[str, Any], metrics: Iterable[str]) -> tuple[str, str] | None:
    """``(column, problem)`` when a report cannot use the row: damaged, or a metric that is NaN
    or infinite; ``None`` otherwise."""
    names = list(metrics)
    found = damage(row, names)
    if found is not None:
        return found
    for name in names:
        if not math.isfinite(row["metrics"][name]):
            return "metrics", f"{name!r} is {row['metrics'][name]}"
    return None


def skip_note(row: Mapping[str, Any], column: str, problem: str) -> str:
    """The warning for a row a report leaves out."""
    return f"skipped {describe_row(row)}, column {column}: {problem}"
