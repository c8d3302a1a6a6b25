"""A trained PPO model behind the :class:`~alloc_agents.policy.Policy` interface."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.policy import BatchObservation, Policy
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.config import PPOConfig
from alloc_agents.ppo.copo_lcf import CoPOConfig
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.sharing import make_sharing
from alloc_agents.ppo.spaces import OBS_KEY, AgentLayout, SpaceGroup, stack_group_obs


class GroupedPolicy(Policy):
    """A policy that acts per space group of an :class:`~alloc_agents.ppo.spaces.AgentLayout`:
    subclasses set ``layout`` and implement :meth:`_group_actions`.

    :meth:`act` takes an agent-major batch of *all* agents (``possible_agents`` order; e.g. the
    Gymnasium view of an ``alloc`` env) and needs every agent to have the same spaces;
    :meth:`act_parallel` takes any subset of agents by name, heterogeneous spaces included.
    """

    layout: AgentLayout

    @abstractmethod
    def _group_actions(self, g: int, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Environment actions (A_g, B, ...) of group ``g``'s agents for ``obs``
        ``{key: (A_g, B, ...)}``."""

    def act(self, observation: BatchObservation) -> np.ndarray:
        if len(self.layout.groups) != 1:
            raise ValueError(
                "act() needs all agents to share their spaces; use act_parallel() for "
                "heterogeneous agents"
            )
        group = self.layout.groups[0]
        obs = _as_group_batch(group, observation)
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


class PPOPolicy(GroupedPolicy):
    """Acts with the actors of a :class:`~alloc_agents.ppo.model.MultiAgentModel`.

    ``deterministic=True`` takes each distribution's mode (argmax, Gaussian mean, Dirichlet
    mean, greedy picks); ``False`` samples, drawing from a torch generator seeded from the
    policy's own ``rng`` (so :meth:`reset` with a seed makes it reproducible, and the global
    torch generator is left untouched). :meth:`act` and :meth:`act_parallel`: see
    :class:`GroupedPolicy`.

    CoPO policies act with the LCF mean μ as every agent's LCF.
    """

    def __init__(
        self, model: MultiAgentModel, deterministic: bool = True, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.model = model.eval()
        self.layout: AgentLayout = model.layout
        self.deterministic = deterministic
        self.name = f"{model.sharing}+{model.algorithm}"
        self.device = next(model.parameters()).device

    @torch.no_grad()
    def _group_actions(self, g: int, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        gm = self.model.groups[g]
        tensors = {k: torch.as_tensor(v, device=self.device) for k, v in obs.items()}
        batch = next(iter(tensors.values())).shape[1]
        dist = gm.distribution(tensors, self.model.deployed_lcf(g, batch))
        if self.deterministic:
            action = dist.mode()
        else:
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(int(self.rng.integers(2**63)))
                action = dist.sample()
        return gm.actor.env_action(action)


def _as_group_batch(group: SpaceGroup, observation: BatchObservation) -> dict[str, np.ndarray]:
    """(N, ...) arrays of all N agents -> {key: (N, 1, ...)} float32."""
    n = group.n_agents
    if group.obs.is_dict:
        if not isinstance(observation, Mapping):
            raise ValueError(f"expected a dict observation with keys {group.obs.names}")
        arrays = {k.name: np.asarray(observation[k.name]) for k in group.obs.keys}
    else:
        arrays = {OBS_KEY: np.asarray(observation)}
    out = {}
    for key in group.obs.keys:
        arr = arrays[key.name]
        if arr.shape != (n, *key.shape):
            raise ValueError(
                f"observation {key.name!r} must have shape {(n, *key.shape)} (all {n} agents), "
                f"got {arr.shape}"
            )
        out[key.name] = arr.astype(np.float32)[:, None]
    return out


def load_policy(
    path: str | Path,
    env: Any,
    deterministic: bool = True,
    device: str = "cpu",
    seed: int | None = None,
) -> PPOPolicy:
    """The policy of a checkpoint, for a ``ParallelEnv`` ``env`` with the training env's agents
    and spaces."""
    data = ckpt.load(Path(path))
    meta = data["meta"]
    if meta.get("algorithm") == "qmix":
        raise ckpt.CheckpointError(
            f"{str(path)!r} is a QMIX checkpoint: load it with alloc_agents.load_qmix_policy"
        )
    layout = AgentLayout.from_env(env)
    if list(layout.agents) != list(meta["agents"]):
        raise ValueError("the environment's agents differ from the checkpoint's")
    config = PPOConfig.from_dict(meta["config"])
    model = MultiAgentModel(
        layout,
        make_sharing(meta["sharing"], meta.get("sharing_options")),
        meta["algorithm"],
        meta["central_dim"],
        config,
        copo=CoPOConfig.from_any(meta.get("algorithm_options") or None),
    )
    model.load_state_dict(data["model"])
    return PPOPolicy(model.to(torch.device(device)), deterministic=deterministic, seed=seed)
