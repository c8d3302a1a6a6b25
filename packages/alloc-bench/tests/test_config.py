"""Run configs, budgets and the config hash (the store's key)."""

from __future__ import annotations

import pytest

from alloc_bench.config import PROTOCOL, Budget, RunConfig, canonical_json
from alloc_bench.errors import BenchError
from alloc_bench.suites import parse_suite


def test_the_hash_is_a_stable_function_of_the_config() -> None:
    config = RunConfig("ride-hailing-1", "greedy", 3, {"demand": "reference"}, Budget(0, 2))
    # Pinned: a changed hash would silently orphan every stored run (bump PROTOCOL instead).
    assert config.config_hash == "0040d16f9522eb07"
    assert canonical_json(config.to_dict()) == (
        '{"eval_episodes":2,"method":"greedy","options":{"demand":"reference"},'
        f'"protocol":{PROTOCOL},"scenario":"ride-hailing-1","seed":3,"train_steps":0}}'
    )
    assert RunConfig.from_dict(config.to_dict()) == config


def test_every_field_changes_the_hash_and_option_order_does_not() -> None:
    base = RunConfig("ride-hailing-1", "greedy", 0, {"a": 1, "b": 2})
    variants = [
        RunConfig("ride-hailing-2", "greedy", 0, {"a": 1, "b": 2}),
        RunConfig("ride-hailing-1", "nearest", 0, {"a": 1, "b": 2}),
        RunConfig("ride-hailing-1", "greedy", 1, {"a": 1, "b": 2}),
        RunConfig("ride-hailing-1", "greedy", 0, {"a": 1}),
        RunConfig("ride-hailing-1", "greedy", 0, {"a": 1, "b": 2}, Budget(0, 2)),
        RunConfig("ride-hailing-1", "greedy", 0, {"a": 1, "b": 2}, Budget(10, 1)),
    ]
    assert len({base.config_hash, *(v.config_hash for v in variants)}) == 7
    same = RunConfig("ride-hailing-1", "greedy", 0, {"b": 2, "a": 1})
    assert same.config_hash == base.config_hash


def test_rule_based_methods_ignore_training_steps() -> None:
    text = """
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "DyPS+IPPO"]
seeds = [0]
train_steps = 30_000
eval_episodes = 10
"""
    greedy, dyps = parse_suite(text, "x.toml").runs
    assert greedy.budget == Budget(0, 10)  # the hash is shared with any other greedy run
    assert dyps.budget == Budget(30_000, 10)
    assert Budget(5, 3).effective(trains=False) == Budget(0, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_steps": -1}, "train_steps must be a non-negative integer"),
        ({"eval_episodes": 0}, "eval_episodes must be a positive integer"),
        ({"eval_episodes": True}, "eval_episodes must be a positive integer"),
    ],
)
def test_bad_budgets_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        Budget(**kwargs)


def test_budget_describe() -> None:
    assert Budget().describe() == "1 eval episode"
    assert Budget(30_000, 10).describe() == "30,000 train steps, 10 eval episodes"
