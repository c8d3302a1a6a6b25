"""Shared fixtures: a tiny suite (seconds) and a fresh store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
