"""Configuration fields that every Stackelberg scenario shares: the default follower solver."""

from __future__ import annotations

from typing import Any

from alloc_envs.core.validation import check_int, check_number
from alloc_envs.stackelberg.responder import ExactResponder


def check_solver_fields(config: Any) -> None:
    """Validate ``follower_temperature``, ``solver_tolerance`` and ``solver_max_iterations``."""
    check_number("follower_temperature", config.follower_temperature, 0.0, 1e6, low_inclusive=False)
    check_number("solver_tolerance", config.solver_tolerance, 0.0, 1e6, low_inclusive=False)
    check_int("solver_max_iterations", config.solver_max_iterations, 1, 10**6)


def default_responder(config: Any) -> ExactResponder:
    """The exact responder with the scenario config's temperature, tolerance and cap."""
    return ExactResponder(
        temperature=config.follower_temperature,
        tolerance=config.solver_tolerance,
        max_iterations=config.solver_max_iterations,
    )
