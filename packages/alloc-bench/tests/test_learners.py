"""The MARL adapter's names: Role-As-State (DyPS Table 5) trains the agents' ``role-as-state``
strategy with IPPO; RODE stays "not implemented"."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import alloc_agents
from alloc_bench.availability import availability
from alloc_bench.errors import BenchError
from alloc_bench.learners import marl_support, parse_marl_name, train_marl
from alloc_bench.methods import LEARNED


def test_role_as_state_is_the_role_as_state_strategy_with_ippo() -> None:
    assert parse_marl_name("Role-As-State") == ("role-as-state", "ippo")
    assert parse_marl_name("Role-As-State+MAPPO") == ("role-as-state", "mappo")
    assert marl_support("Role-As-State", "ride-hailing-1") == ""
    assert LEARNED["Role-As-State"].trainer_text() == "alloc_bench.learners:train_marl"
    for scenario in ("ride-hailing-1", "ride-hailing-2"):
        assert availability(scenario, "Role-As-State").implemented
    rode = availability("ride-hailing-2", "RODE")
    assert not rode.implemented and "alloc_agents.roles" in rode.reason
    with pytest.raises(BenchError, match="not <sharing>"):
        parse_marl_name("Role-As-Stat")


def test_train_marl_passes_the_strategy_to_the_agents_trainer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_train(env_fn: Any, **kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        row = {"env_steps": 144, "episode_return": 1.0, "info/gmv": 2.0, "info/orr": 0.5}
        return SimpleNamespace(history=[row], extra={}, policy=SimpleNamespace(device="cpu"))

    monkeypatch.setattr(alloc_agents, "train", fake_train, raising=False)
    curves: list[tuple[int, dict[str, float]]] = []
    log = SimpleNamespace(curve=lambda step, **values: curves.append((step, values)))
    policy = train_marl(lambda: None, method="Role-As-State", seed=3, train_steps=144,
                        workdir=None, log=log, scenario="ride-hailing-1",
                        make_parallel_env=lambda: SimpleNamespace())  # fmt: skip
    (kwargs,) = calls
    assert (kwargs["sharing"], kwargs["algorithm"]) == ("role-as-state", "ippo")
    assert kwargs["sharing_options"] is None and kwargs["seed"] == 3
    assert kwargs["total_env_steps"] == 144
    assert curves == [(144, {"gmv": 2.0, "orr": 0.5, "episode_return": 1.0})]
    assert policy.device == "cpu" and log.device == "cpu"
