"""A trained QMIX model behind the :class:`~alloc_agents.policy.Policy` interface: every agent
takes its greedy action (ε = 0); a recurrent agent carries its hidden state from one
:meth:`~QMIXPolicy.act` call to the next and starts from zero at :meth:`~QMIXPolicy.reset`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.policy import GroupedPolicy
from alloc_agents.ppo.spaces import AgentLayout
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.model import QMIXModel


class QMIXPolicy(GroupedPolicy):
    """Greedy actions of a :class:`~alloc_agents.qmix.model.QMIXModel` (module docstring).

    :meth:`act` and :meth:`act_parallel`: see :class:`~alloc_agents.ppo.policy.GroupedPolicy`
    (every step of a recurrent policy's episode must name the same agents).
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
