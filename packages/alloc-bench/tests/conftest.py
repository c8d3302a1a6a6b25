"""Shared fixtures: a tiny suite (seconds) and a fresh store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alloc_bench.methods import LEARNED, LearnedMethod, register_method
from alloc_bench.store import Store
from alloc_bench.suites import Suite, parse_suite

#: Two rule-based methods on the small city, three seeds, one episode: about a second.
TINY_TEXT = """
name = "tiny"
description = "two methods x three seeds"
compare = ["dyps-kdd24/table7"]

[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "random"]
seeds = "0-2"
"""


@pytest.fixture
def tiny() -> Suite:
    return parse_suite(TINY_TEXT, "tiny.toml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    """The tiny suite as a TOML file."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TEXT)
    return path


@pytest.fixture
def unbuilt() -> Iterator[str]:
    """A learned method whose trainer's module does not exist: its runs are "not
    implemented" (every method the papers name has landed, so the tests register one)."""
    name = "Unbuilt"
    register_method(LearnedMethod(name, "a method whose code has not landed", _UNBUILT_TRAINER))
    yield name
    LEARNED.pop(name)


#: The trainer of :func:`unbuilt`, in a module that does not exist.
_UNBUILT_TRAINER = "alloc_agents.not_landed:train"
