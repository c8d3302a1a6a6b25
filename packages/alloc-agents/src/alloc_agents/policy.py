"""The policy interface shared by rule-based and learned agents.

A policy acts for a batch of agents at once. Observations are agent-major: the Gymnasium view
of an ``alloc`` environment already is (every array has a leading agent axis of length N), and a
PettingZoo observation dict is stacked into that form by :meth:`Policy.act_parallel`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from alloc_envs.core.agent_dicts import AgentDict

#: An agent-major observation: an array (N, ...) or a dict of such arrays.
BatchObservation = np.ndarray | Mapping[str, np.ndarray]


class Policy(ABC):
    """Maps agent-major observations to agent-major actions.

    Subclasses implement :meth:`act`; :meth:`reset` is called at the start of every episode with
    the episode's seed (policies with randomness draw from their own generator only).
    """

    #: Short name used by the benchmark (e.g. ``"greedy"``).
    name: str = "policy"
    #: What the policy knows beyond its observations, for leaderboards (``"hindsight"``,
    #: ``"demand model"``); empty for a policy that acts on its observations only. Such a policy
    #: reads its environment, given by :meth:`attach`, and is a reference, not a competitor.
    knowledge: str = ""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; a seed re-seeds the policy's generator."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def attach(self, env: Any) -> None:
        """Give the policy the environment (either view) it is about to act in.

        Runners call it once per environment, before the episodes. Policies that act on their
        observations only ignore it (this default); those with :attr:`knowledge` read the
        scenario's model or state through it.
        """
        del env  # acts on observations only

    @abstractmethod
    def act(self, observation: BatchObservation) -> np.ndarray:
        """Actions (N, ...) for the N agents of ``observation``."""

    def act_parallel(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """PettingZoo convenience: per-agent observations in, per-agent actions out.

        Observations that carry their joint arrays (an ``alloc_envs`` ``AgentDict``, what the
        ``alloc`` PettingZoo views return) are read as they are, with no stacking; the actions
        come back as an ``AgentDict`` over the joint action, which those views step directly.
        """
        agents = list(observations)
        batch = observations.joint_for(agents) if isinstance(observations, AgentDict) else None
        if batch is None:
            first = observations[agents[0]]
            if isinstance(first, Mapping):
                batch = {key: np.stack([observations[a][key] for a in agents]) for key in first}
            else:
                batch = np.stack([observations[a] for a in agents])
        return AgentDict.of_rows(self.act(batch), agents)
