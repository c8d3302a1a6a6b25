"""A trained QMIX model behind the :class:`~alloc_agents.policy.Policy` interface: every agent
takes its greedy action (ε = 0); a recurrent agent carries its hidden state from one
:meth:`~QMIXPolicy.act` call to the next and starts from zero at :meth:`~QMIXPolicy.reset`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.policy import BatchObservation, Policy
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.policy import as_group_batch
from alloc_agents.ppo.spaces import AgentLayout, stack_group_obs
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.model import QMIXModel


class QMIXPolicy(Policy):
    """Greedy actions of a :class:`~alloc_agents.qmix.model.QMIXModel` (module docstring).

    :meth:`act` takes an agent-major batch of all agents (one space group, e.g. the Gymnasium
    view of an ``alloc`` env); :meth:`act_parallel` any agents by name (every step must name the
    same agents while a recurrent policy's episode runs).
    """

    def __init__(self, model: QMIXModel, seed: int | None = None) -> None:
        super().__init__(seed)
        self.model = model.eval()
        self.layout: AgentLayout = model.layout
        self.name = f"QMIX ({model.sharing})"
        self.device = next(model.parameters()).device
        self.hidden = model.initial_hidden(1, self.device)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.hidden = self.model.initial_hidden(1, self.device)

    @torch.no_grad()
    def _group_actions(self, g: int, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        tensors = {k: torch.as_tensor(v, device=self.device) for k, v in obs.items()}
        values, self.hidden[g] = self.model.step(g, tensors, self.hidden[g])
        return self.model.agents[g].env_action(values.greedy())

    def act(self, observation: BatchObservation) -> np.ndarray:
        if len(self.layout.groups) != 1:
            raise ValueError(
                "act() needs all agents to share their spaces; use act_parallel() for "
                "heterogeneous agents"
            )
        obs = as_group_batch(self.layout.groups[0], observation)
        return self._group_actions(0, obs)[:, 0]

    def act_parallel(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        unknown = [a for a in observations if a not in self.layout.agents]
        if unknown:
            raise ValueError(
                f"unknown agent(s) {unknown[:3]}; agents are {self.layout.agents[:3]}..."
            )
        out: dict[str, np.ndarray] = {}
        for g, group in enumerate(self.layout.groups):
            if not any(name in observations for name in group.names):
                continue
            actions = self._group_actions(g, stack_group_obs(group, [observations]))
            for i, name in enumerate(group.names):
                if name in observations:
                    out[name] = actions[i, 0]
        return out


def load_qmix_policy(
    path: str | Path, env: Any, device: str = "cpu", seed: int | None = None
) -> QMIXPolicy:
    """The greedy policy of a QMIX checkpoint, for a ``ParallelEnv`` ``env`` with the training
    env's agents and spaces."""
    data = ckpt.load(Path(path))
    meta = data["meta"]
    if meta.get("algorithm") != "qmix":
        raise ckpt.CheckpointError(
            f"{str(path)!r} is a {meta.get('algorithm')!r} checkpoint, not a QMIX one "
            "(alloc_agents.load_policy reads PPO checkpoints)"
        )
    layout = AgentLayout.from_env(env)
    if list(layout.agents) != list(meta["agents"]):
        raise ValueError("the environment's agents differ from the checkpoint's")
    config = QMIXConfig.from_dict(meta["config"])
    model = QMIXModel(layout, meta["sharing"], meta["central_dim"], config)
    model.load_state_dict(data["model"])
    return QMIXPolicy(model.to(torch.device(device)), seed=seed)
