"""Random policies for the grid-world adapters (LBF, RWARE): the floor any learner must beat.

Both act on the agent-major observation of ``alloc/LBF-v0`` / ``alloc/RWARE-v0`` and return one
``Discrete`` action per agent, (N,) int64.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alloc_agents.policy import BatchObservation, Policy

#: RWARE's actions: noop, forward, left, right, toggle load.
N_RWARE_ACTIONS = 5


class RandomLBF(Policy):
    """Uniform over the actions the ``action_mask`` (N, 6) allows (LBF)."""

    name = "random"

    def act(self, observation: BatchObservation) -> np.ndarray:
        if not isinstance(observation, Mapping) or "action_mask" not in observation:
            raise ValueError("random (LBF) needs the LBF observation dict with 'action_mask'")
        mask = np.asarray(observation["action_mask"]) > 0
        keys = np.where(mask, self.rng.random(mask.shape), -1.0)
        return keys.argmax(axis=1).astype(np.int64)


class RandomRWARE(Policy):
    """Uniform over RWARE's 5 actions for every robot (every action is valid there)."""

    name = "random"

    def act(self, observation: BatchObservation) -> np.ndarray:
        if not isinstance(observation, Mapping) or "observation" not in observation:
            raise ValueError("random (RWARE) needs the RWARE observation dict")
        n_agents = np.asarray(observation["observation"]).shape[0]
        return self.rng.integers(0, N_RWARE_ACTIONS, size=n_agents, dtype=np.int64)
