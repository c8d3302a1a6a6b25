"""Agent neighbourhoods and the neighbourhood / global rewards of CoPO.

**How an env provides its geometry.** A PettingZoo ``ParallelEnv`` may define a method
``agent_neighbours()`` returning ``{agent: [neighbour agents]}`` (agent ids of
``possible_agents``; an agent missing from the mapping has no neighbours). It is looked up on the
env, then on ``env.unwrapped`` (PettingZoo wrappers forward it either way). The relation is taken
as given (it need not be symmetric) and is assumed the same in every episode and env copy.
``alloc/RideHailing-v0`` gives each cell's adjacent hex cells.

**Default without geometry:** every other agent of the same env copy is a neighbour. CoPO's
neighbourhood reward then is the mean reward of the others, so the LCF interpolates between an
agent's own reward and (nearly) the team's — the cooperative end the method is about. The
alternative, no neighbours at all, would make r^N ≡ 0 and reduce the LCF to a rescaling of the
agent's own advantage.

Rewards (CoPO, research note B.1), per env copy and step, over the agents that acted at the
step (agents that are gone or not yet there count as absent):

* neighbourhood reward ``r^N_i`` = mean of ``r_j`` over the acting neighbours j of i, 0 if none;
* global reward ``r^G`` = mean of ``r_j`` over all acting agents (the same for every agent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Name of the env method that returns ``{agent: [neighbour agents]}``.
NEIGHBOURS_METHOD = "agent_neighbours"


def env_neighbours(env: Any) -> Mapping[str, Sequence[str]] | None:
    """The env's ``agent_neighbours()`` (on the env or ``env.unwrapped``), or ``None`` when it
    has none."""
    method = getattr(env, NEIGHBOURS_METHOD, None)
    if method is None:
        method = getattr(getattr(env, "unwrapped", None), NEIGHBOURS_METHOD, None)
    if method is None:
        return None
    neighbours = method()
    if not isinstance(neighbours, Mapping):
        raise ValueError(
            f"{NEIGHBOURS_METHOD}() must return a mapping {{agent: [agents]}}, "
            f"got {type(neighbours).__name__}"
        )
    return neighbours


class Neighbourhoods:
    """Who is whose neighbour among N agents (``possible_agents`` order), and the CoPO rewards.

    ``table`` is ``None`` for the default (every other agent), else an (N, K) int64 array of
    neighbour indices padded with -1 (K = the largest neighbourhood).
    """

    def __init__(
        self, agents: Sequence[str], neighbours: Mapping[str, Sequence[str]] | None
    ) -> None:
        self.agents = tuple(agents)
        self.table: np.ndarray | None = None
        if neighbours is None:
            return
        index = {a: i for i, a in enumerate(self.agents)}
        rows: list[list[int]] = [[] for _ in self.agents]
        for agent, others in neighbours.items():
            if agent not in index:
                raise ValueError(f"{NEIGHBOURS_METHOD}(): unknown agent {agent!r}")
            row = rows[index[agent]]
            for other in others:
                if other not in index:
                    raise ValueError(
                        f"{NEIGHBOURS_METHOD}(): unknown neighbour {other!r} of {agent!r}"
                    )
                if other == agent:
                    raise ValueError(f"{NEIGHBOURS_METHOD}(): {agent!r} lists itself")
                if index[other] in row:
                    raise ValueError(f"{NEIGHBOURS_METHOD}(): {other!r} twice for {agent!r}")
                row.append(index[other])
        width = max(1, max(len(r) for r in rows))
        self.table = np.full((len(rows), width), -1, dtype=np.int64)
        for i, row in enumerate(rows):
            self.table[i, : len(row)] = row

    @classmethod
    def from_env(cls, env: Any, agents: Sequence[str]) -> Neighbourhoods:
        """The env's neighbourhoods (:func:`env_neighbours`), or the default."""
        return cls(agents, env_neighbours(env))

    @property
    def is_default(self) -> bool:
        """Whether every other agent is a neighbour (the env gave no geometry)."""
        return self.table is None

    def rewards(self, rewards: np.ndarray, acting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbourhood and global rewards, (N, E) float32 each.

        ``rewards``: (N, E) the agents' rewards of one step in E env copies; ``acting``: (N, E)
        bool, the agents that acted at that step (the others' rewards are ignored).
        """
        if rewards.shape != acting.shape or rewards.shape[0] != len(self.agents):
            raise ValueError(
                f"rewards and acting must be ({len(self.agents)}, E), "
                f"got {rewards.shape} and {acting.shape}"
            )
        present = acting.astype(np.float64)
        r = rewards.astype(np.float64) * present
        if self.table is None:
            total = r.sum(0, keepdims=True) - r
            count = present.sum(0, keepdims=True) - present
        else:
            valid = (self.table >= 0)[..., None]  # (N, K, 1)
            safe = np.where(self.table >= 0, self.table, 0)
            total = (r[safe] * valid).sum(1)
            count = (present[safe] * valid).sum(1)
        neighbour = np.where(count > 0, total / np.maximum(count, 1.0), 0.0)
        n_acting = present.sum(0)
        team = np.where(n_acting > 0, r.sum(0) / np.maximum(n_acting, 1.0), 0.0)
        glob = np.broadcast_to(team, r.shape)
        return neighbour.astype(np.float32), glob.astype(np.float32)
