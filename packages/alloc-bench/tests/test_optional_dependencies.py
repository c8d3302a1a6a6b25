"""Scenarios whose optional environment dependencies are missing are reported, not crashed on."""

from __future__ import annotations

import dataclasses

import pytest

from alloc_bench import scenarios
from alloc_bench.availability import availability


def test_missing_optional_module_makes_the_scenario_unavailable_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lbf = scenarios.SCENARIOS["lbf-1"]
    assert lbf.missing_dependencies() == ""  # installed with the test extra
    broken = dataclasses.replace(lbf, requires={"no_such_module_xyz": "alloc-envs[third-party]"})
    monkeypatch.setitem(scenarios.SCENARIOS, "lbf-1", broken)
    status = availability("lbf-1", "random")
    assert not status.implemented
    assert status.reason == (
        "scenario 'lbf-1' needs no_such_module_xyz: pip install 'alloc-envs[third-party]'"
    )
