"""Trained value-based agents behind the :class:`~alloc_agents.policy.Policy` interface: every
agent takes its greedy action (ε = 0) through its :class:`~alloc_agents.qmix.acting.
EpisodeActor`, whose state (a recurrent agent's hidden state, RODE's roles) is carried from one
:meth:`~ValuePolicy.act` call to the next and starts afresh at :meth:`~ValuePolicy.reset`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.policy import GroupedPolicy
from alloc_agents.ppo.spaces import AgentLayout
from alloc_agents.qmix.acting import EpisodeActor, QMIXActor
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.learner import learner_state
from alloc_agents.qmix.model import QMIXModel


class ValuePolicy(GroupedPolicy):
    """Greedy actions of an :class:`~alloc_agents.qmix.acting.EpisodeActor` (module docstring).

    :meth:`act` and :meth:`act_parallel`: see :class:`~alloc_agents.ppo.policy.GroupedPolicy`
    (every step of a recurrent policy's episode must name the same agents; each call is the
    next step of a group's episode).

    Args:
        actor: the agents.
        model: their model (its ``layout``; its parameters' device).
        name: the policy's name.
        seed: as :class:`~alloc_agents.policy.Policy`.
    """

    def __init__(self, actor: EpisodeActor, model: Any, name: str, seed: int | None = None) -> None:
        super().__init__(seed)
        self.actor = actor
        self.model = model.eval()
        self.layout: AgentLayout = model.layout
        self.name = name
        self.device = next(model.parameters()).device
        self._start()

    def _start(self) -> None:
        self.states = self.actor.start(1, self.device)
        self.steps = [0] * len(self.layout.groups)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._start()

    @torch.no_grad()
    def _group_actions(self, g: int, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        tensors = {k: torch.as_tensor(v, device=self.device) for k, v in obs.items()}
        actions, self.states[g], _ = self.actor.act(
            g, tensors, self.states[g], self.steps[g], 0.0, None
        )
        self.steps[g] += 1
        return self.actor.env_action(g, actions)


class QMIXPolicy(ValuePolicy):
    """Greedy actions of a :class:`~alloc_agents.qmix.model.QMIXModel` (:class:`ValuePolicy`)."""

    def __init__(self, model: QMIXModel, seed: int | None = None) -> None:
        super().__init__(QMIXActor(model), model, f"QMIX ({model.sharing})", seed)


def load_value_model(
    path: str | Path,
    env: Any,
    algorithm: str,
    config_type: type[QMIXConfig],
    model_type: Callable[..., nn.Module],
    device: str,
) -> tuple[Any, Any]:
    """The trained model and configuration of an ``algorithm`` checkpoint (``"qmix"`` or
    ``"rode"``), built with ``model_type(layout, sharing, state_dim, config)`` for a
    ``ParallelEnv`` ``env`` with the training env's agents; ``CheckpointError`` when the file
    is another algorithm's."""
    data = ckpt.load(Path(path))
    meta = data["meta"]
    if meta.get("algorithm") != algorithm:
        raise ckpt.CheckpointError(
            f"{str(path)!r} is a {meta.get('algorithm')!r} checkpoint, not a "
            f"{algorithm.upper()} one (alloc_agents.load_policy reads PPO checkpoints)"
        )
    layout = AgentLayout.from_env(env)
    if list(layout.agents) != list(meta["agents"]):
        raise ValueError("the environment's agents differ from the checkpoint's")
    config = config_type.from_dict(meta["config"])
    model = model_type(layout, meta["sharing"], meta["central_dim"], config)
    model.load_state_dict(learner_state(data, path)["model"])
    return model.to(torch.device(device)), config


def load_qmix_policy(
    path: str | Path, env: Any, device: str = "cpu", seed: int | None = None
) -> QMIXPolicy:
    """The greedy policy of a QMIX checkpoint, for a ``ParallelEnv`` ``env`` with the training
    env's agents and spaces."""
    model, _ = load_value_model(path, env, "qmix", QMIXConfig, QMIXModel, device)
    return QMIXPolicy(model, seed=seed)
