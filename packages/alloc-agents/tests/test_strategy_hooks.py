"""The PPO loop's contract with a sharing strategy (alloc_agents.ppo.strategy_hooks): when each
hook is called, with which iteration and env-step numbers, and what reaches the progress rows,
the checkpoint and ``TrainResult.extra``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from alloc_agents import PPOConfig, train
from alloc_agents.ppo import trainer
from alloc_agents.ppo.strategy_hooks import StrategyHooks, make_hooks
from alloc_envs.ride_hailing import RideHailingParallelEnv

TINY = PPOConfig(n_steps=4, n_epochs=1, hidden_sizes=(8, 8))


def ride_hailing() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4)


class Recording(StrategyHooks):
    """Hooks that write down every call (and keep a counter as their checkpoint state)."""

    checkpoint_key = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.updates = 0

    def start(self, log_dir: Path | None) -> None:
        self.calls.append(("start",))

    def before_rollout(self, model: Any) -> None:
        self.calls.append(("before_rollout",))

    def after_rollout(self, model: Any, buffers: Any, iteration: int, env_steps: int) -> None:
        self.calls.append(("after_rollout", iteration, env_steps))

    def after_update(self, model: Any) -> None:
        self.updates += 1
        self.calls.append(("after_update",))

    def end_iteration(
        self, model: Any, iteration: int, env_steps: int, log_dir: Path | None
    ) -> dict[str, float]:
        self.calls.append(("end_iteration", iteration, env_steps))
        return {"recorded_updates": float(self.updates)}

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])

    def result(self) -> dict[str, Any]:
        return {"recording": list(self.calls)}


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[Recording]:
    made: list[Recording] = []

    def make(*args: Any, **kwargs: Any) -> Recording:
        made.append(Recording())
        return made[-1]

    monkeypatch.setattr(trainer, "make_hooks", make)
    return made


def _train(steps: int, tmp_path: Path, resume: bool = False):
    return train(ride_hailing, total_env_steps=steps, n_envs=2, seed=0, device="cpu",
                 config=TINY, log_dir=tmp_path, resume=resume, progress=False)  # fmt: skip


def test_hooks_are_called_in_order_with_the_iterations_numbers(recording, tmp_path):
    result = _train(16, tmp_path)  # 2 iterations of 4 steps x 2 copies
    per_iteration = 8
    expected: list[tuple[Any, ...]] = [("start",)]
    for it in (1, 2):
        expected += [
            ("before_rollout",),
            ("after_rollout", it, it * per_iteration),
            ("after_update",),
            ("end_iteration", it, it * per_iteration),
        ]
    assert recording[0].calls == expected
    assert result.extra == {"recording": expected}
    assert [row["recorded_updates"] for row in result.history] == [1.0, 2.0]


def test_the_checkpoint_keeps_the_hooks_state_and_a_resume_restores_it(recording, tmp_path):
    _train(8, tmp_path)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["recording"] == {"updates": 1}
    result = _train(16, tmp_path, resume=True)
    resumed = recording[1]
    assert resumed.calls[0] == ("start",)
    assert resumed.calls[1:] == [
        ("before_rollout",),
        ("after_rollout", 2, 16),
        ("after_update",),
        ("end_iteration", 2, 16),
    ]
    assert result.history[-1]["recorded_updates"] == 2.0  # 1 restored + 1 this call


def test_strategies_without_work_around_the_loop_get_the_base_hooks():
    from alloc_agents.ppo.model import MultiAgentModel
    from alloc_agents.ppo.runner import Runner
    from alloc_agents.ppo.sharing import make_sharing

    runner = Runner(ride_hailing, 1, 0)
    for name in ("ps", "ps-id", "nops", "psa"):
        strategy = make_sharing(name, None)
        model = MultiAgentModel(runner.layout, strategy, "ippo", runner.central_dim, TINY, None)
        hooks = make_hooks(strategy, model, 2, 0, torch.device("cpu"), 1)
        assert type(hooks) is StrategyHooks and hooks.checkpoint_key is None
