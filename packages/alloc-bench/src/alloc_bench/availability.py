"""Which (scenario, method) pairs can run now, and which names are merely known.

A name is *known* when it is registered (a scenario in :data:`~alloc_bench.scenarios.SCENARIOS`,
a rule-based policy, a learned method) or when a shipped published table names it (the papers'
scenarios and methods that do not exist yet). Suites may list any known name; a pair that cannot
run is reported as "not implemented" with the reason. An unknown name is a typo: an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alloc_bench.errors import BenchError
from alloc_bench.methods import LEARNED, known_methods, rule_based
from alloc_bench.scenarios import SCENARIOS


@dataclass(frozen=True)
class Availability:
    """Whether a pair runs now; ``reason`` says why not (empty when it does)."""

    implemented: bool
    reason: str = ""


@cache
def _published_names() -> tuple[frozenset[str], frozenset[str]]:
    from alloc_bench.published import load_published_tables

    scenarios: set[str] = set()
    methods: set[str] = set()
    for table in load_published_tables().values():
        scenarios |= set(table.columns) | set(table.scenarios())
        methods |= set(table.rows) | {e.method for e in table.entries}
    return frozenset(scenarios), frozenset(methods)


def known_scenarios() -> set[str]:
    """Registered scenarios and the scenarios the published tables name."""
    return set(SCENARIOS) | set(_published_names()[0])


def all_known_methods() -> set[str]:
    """Registered methods (rule-based and learned) and the methods published tables name."""
    return known_methods() | set(_published_names()[1])


def check_known(scenario: str, method: str) -> None:
    """A :class:`BenchError` naming the known names if ``scenario`` or ``method`` is unknown."""
    if scenario not in known_scenarios():
        unregistered = sorted(known_scenarios() - set(SCENARIOS))
        named = (
            f" and {', '.join(unregistered)} (named by published tables, not implemented yet)"
            if unregistered
            else ""
        )
        raise BenchError(
            f"unknown scenario {scenario!r}; known scenarios: {', '.join(sorted(SCENARIOS))} "
            f"(registered){named}"
        )
    if method not in all_known_methods():
        family = SCENARIOS[scenario].family if scenario in SCENARIOS else None
        implemented = sorted(rule_based(family)) if family else []
        raise BenchError(
            f"unknown method {method!r}; known methods: {', '.join(implemented)}"
            + (" (rule-based), " if implemented else "")
            + f"{', '.join(sorted(all_known_methods() - set(implemented)))}"
        )


def availability(scenario: str, method: str) -> Availability:
    """Whether ``method`` can run on ``scenario`` now, and if not, why."""
    if scenario not in SCENARIOS:
        return Availability(False, f"scenario {scenario!r} is not registered yet")
    missing = SCENARIOS[scenario].missing_dependencies()
    if missing:
        return Availability(False, f"scenario {scenario!r} {missing}")
    family = SCENARIOS[scenario].family
    if method in rule_based(family):
        return Availability(True)
    if method in LEARNED:
        reason = LEARNED[method].unsupported(scenario)
        return Availability(not reason, f"method {method!r}: {reason}" if reason else "")
    if method in known_methods():
        return Availability(False, f"method {method!r} does not apply to {family} scenarios")
    return Availability(False, f"method {method!r} is not registered yet")
