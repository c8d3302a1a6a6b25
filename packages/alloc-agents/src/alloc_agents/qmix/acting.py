"""Acting with value-based agents: ε-greedy choices, the actor interface, and playing episodes.

An :class:`EpisodeActor` turns one step's observations of a space group into actions, carrying
a per-group state through the episode (a GRU's hidden state; RODE's roles too). QMIX's actor is
:class:`QMIXActor`; RODE's is :class:`alloc_agents.rode.acting.RODEActor`. The same actor
explores in training (:func:`play_episodes`, ε > 0) and acts greedily in the policy (ε = 0, no
generator).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from alloc_agents.ppo.runner import EpisodeStats, Runner
from alloc_agents.qmix.action_values import ActionValues
from alloc_agents.qmix.episodes import Episode, EpisodeRecorder
from alloc_agents.qmix.model import QMIXModel


def epsilon_greedy(
    values: ActionValues, epsilon: float, generator: torch.Generator | None
) -> Tensor:
    """Per agent and row ``(A, X)``: a uniformly random valid action with probability
    ``epsilon`` (every agent on its own draw), else the greedy one; greedy only when
    ``generator`` is ``None``."""
    greedy = values.greedy()
    if generator is None:
        return greedy
    random = values.random(generator)
    explore = torch.rand(greedy.shape[:2], generator=generator) < epsilon
    explore = explore.to(greedy.device).reshape(*explore.shape, *(1,) * (greedy.dim() - 2))
    return torch.where(explore, random, greedy)


class EpisodeActor(Protocol):
    """What :func:`play_episodes` and the greedy policies act with."""

    def start(self, rows: int, device: torch.device) -> list[Any]:
        """Per group, the state at an episode's start for ``rows`` batch rows."""

    def act(
        self,
        g: int,
        obs: dict[str, Tensor],
        state: Any,
        step: int,
        epsilon: float,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """Group ``g``'s actions ``(A_g, X, ...)`` at episode step ``step`` for ``obs``
        ``{key: (A_g, X, ...)}``, its next state, and per-agent records ``{name: (A_g, X)}``
        for the replay buffer (ε-greedy: :func:`epsilon_greedy`)."""

    def env_action(self, g: int, actions: Tensor) -> np.ndarray:
        """Buffer actions of group ``g`` -> environment actions."""

    def compact(self, g: int, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Group ``g``'s episode observations ``{key: (T + 1, A_g, ...)}`` as the buffer keeps
        them."""


class QMIXActor:
    """QMIX's agents as an :class:`EpisodeActor` (state: the GRU's hidden state)."""

    def __init__(self, model: QMIXModel) -> None:
        self.model = model

    def start(self, rows: int, device: torch.device) -> list[Any]:
        return self.model.initial_hidden(rows, device)

    def act(
        self,
        g: int,
        obs: dict[str, Tensor],
        state: Any,
        step: int,
        epsilon: float,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        values, hidden = self.model.step(g, obs, state)
        return epsilon_greedy(values, epsilon, generator), hidden, {}

    def env_action(self, g: int, actions: Tensor) -> np.ndarray:
        return self.model.agents[g].env_action(actions)

    def compact(self, g: int, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.model.agents[g].compact(obs)


@torch.no_grad()
def play_episodes(
    runner: Runner,
    actor: EpisodeActor,
    epsilon: float,
    generator: torch.Generator,
    reward_scale: float,
    truncation_bootstrap: bool,
    device: torch.device,
) -> tuple[list[Episode], list[EpisodeStats]]:
    """One episode in every copy of ``runner`` (each starting from its current, fresh episode,
    so every copy is at the same episode step) with ε-greedy agents; the recorded episodes
    and their statistics. Rewards are multiplied by ``reward_scale``; the team reward of a
    step is the sum of the acting agents' rewards."""
    n_envs = runner.n_envs
    groups = runner.layout.groups
    recorders = [EpisodeRecorder() for _ in range(n_envs)]
    running = np.ones(n_envs, dtype=bool)
    states = actor.start(n_envs, device)
    episodes: list[Episode | None] = [None] * n_envs
    stats: list[EpisodeStats] = []
    step = 0
    while running.any():
        obs = runner.group_obs()
        acting = runner.acting() & running[None, :]
        state = runner.central()
        group_actions, env_actions, records = [], [], []
        for g in range(len(groups)):
            tensors = {k: torch.as_tensor(v, device=device) for k, v in obs[g].items()}
            chosen, states[g], record = actor.act(g, tensors, states[g], step, epsilon, generator)
            group_actions.append(chosen.cpu().numpy())
            env_actions.append(actor.env_action(g, chosen))
            records.append({k: v.cpu().numpy() for k, v in record.items()})
        before = runner.episode_index.copy()
        outcome = runner.step(env_actions, acting, copies=running)
        rewards = outcome.rewards * reward_scale
        for e in np.flatnonzero(running):
            group_acting = [acting[list(group.agents), e] for group in groups]
            per_agent = {"reward": [rewards[list(group.agents), e] for group in groups]}
            for name in records[0]:
                per_agent[name] = [r[name][:, e] for r in records]
            recorders[e].add(
                [{k: v[:, e] for k, v in obs[g].items()} for g in range(len(groups))],
                group_acting,
                [a[:, e] for a in group_actions],
                per_agent,
                state[e],
                float(outcome.rewards[acting[:, e], e].sum()) * reward_scale,
            )
            if runner.episode_index[e] == before[e]:
                continue
            episodes[e] = _finish(recorders[e], runner, actor, outcome, e, truncation_bootstrap)
            running[e] = False
        stats.extend(outcome.episodes)
        step += 1
    return [ep for ep in episodes if ep is not None], stats


def _finish(
    recorder: EpisodeRecorder,
    runner: Runner,
    actor: EpisodeActor,
    outcome: Any,
    e: int,
    truncation_bootstrap: bool,
) -> Episode:
    """Copy ``e``'s finished episode, with its final observation when it is bootstrapped."""
    groups = runner.layout.groups
    truncated = outcome.truncated[:, e]
    bootstrap = truncation_bootstrap and bool(truncated.any())
    if bootstrap:
        final = runner.group_obs([outcome.final_obs[e]])
        final_obs = [{k: v[:, 0] for k, v in final[g].items()} for g in range(len(groups))]
        final_state = outcome.final_central[e]
    else:
        final_obs = [
            {k: np.zeros_like(v) for k, v in recorder.obs[0][g].items()} for g in range(len(groups))
        ]
        final_state = np.zeros_like(recorder.state[0])
    final_acting = [truncated[list(group.agents)] & bootstrap for group in groups]
    episode = recorder.finish(final_obs, final_acting, final_state, bootstrap)
    episode.obs = [actor.compact(g, obs) for g, obs in enumerate(episode.obs)]
    return episode
