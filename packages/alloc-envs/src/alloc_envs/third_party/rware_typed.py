"""``rware`` 2.0.0's ``Warehouse`` with coloured agents and shelves (the SePS "color" setup).

Re-implements the behaviour of the ``color`` branch of semitable/robotic-warehouse that the SePS
and DyPS papers use, on top of the released package. Only the delivery rule and the requests
change; movement, collisions, loading and upstream's 71 observation features are upstream's.

* **Agents.** Agent *i* has colour ``agent_colors[i]``, fixed for the lifetime of the instance.
* **Shelves.** At every reset, each shelf gets a colour: a uniformly random assignment with the
  shelves split as evenly as possible between the K colours (40 + 40 for the 80 shelves of the
  presets), drawn from the episode's generator. A shelf keeps its colour while it is carried and
  returned anywhere.
* **Requests.** The request queue holds ``request_queue_size / K`` shelves of each colour. When a
  shelf is delivered, it is replaced by a shelf of the *same* colour drawn uniformly from that
  colour's shelves not currently requested (upstream draws from all shelves).
* **Delivery.** A requested shelf on a goal cell is delivered (and its carrier rewarded) only if
  the carrier has the shelf's colour. An agent carrying a requested shelf of another colour onto a
  goal gets nothing; the shelf stays requested, and the agent must carry it away (shelves cannot
  be put down on the corridors) to free the goal. Each such arrival is counted in
  ``wrong_color_arrivals``. Any agent may pick up and carry any shelf.

With ``n_colors=1`` there is one colour and the random draws are upstream's, so episodes are
exactly upstream's (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from alloc_envs.third_party.upstream import import_upstream

_warehouse = import_upstream("rware.warehouse", "rware", "alloc/RWARE-v0")
Warehouse = _warehouse.Warehouse
RewardType = _warehouse.RewardType
_LAYER_AGENTS = _warehouse._LAYER_AGENTS
_LAYER_SHELFS = _warehouse._LAYER_SHELFS


class TypedWarehouse(Warehouse):
    """A ``Warehouse`` whose agents and shelves have colours (see the module docstring).

    ``reset`` and ``step`` keep upstream's signatures and return upstream's observation tuple
    (N arrays of upstream's flat features); :meth:`color_features` adds the colours. There is no
    time limit inside (``terminated`` and ``truncated`` are always ``False``).

    Args:
        agent_colors: colour of each agent (N ints in ``[0, n_colors)``).
        n_colors: number of colours K.
        reward_global: every agent gets +1 per delivery (upstream's GLOBAL reward) instead of the
            carrier only (INDIVIDUAL).
        **kwargs: ``shelf_columns``, ``column_height``, ``shelf_rows``, ``sensor_range``,
            ``request_queue_size`` as for ``Warehouse``.
    """

    def __init__(
        self,
        agent_colors: Sequence[int],
        n_colors: int,
        reward_global: bool = False,
        **kwargs: Any,
    ) -> None:
        colors = np.asarray(agent_colors, dtype=np.int64)
        super().__init__(
            n_agents=len(colors),
            msg_bits=0,
            max_inactivity_steps=None,
            max_steps=None,
            reward_type=RewardType.GLOBAL if reward_global else RewardType.INDIVIDUAL,
            **kwargs,
        )
        self.agent_colors = colors
        self.n_colors = int(n_colors)
        self.reward_global = reward_global
        self.shelf_colors = np.zeros(0, dtype=np.int64)
        self.deliveries = np.zeros(self.n_colors, dtype=np.int64)
        self.wrong_color_arrivals = 0
        self._defer_observations = False

    # ------------------------------------------------------------------ episode
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[tuple, dict]:
        """Upstream's reset (layout, robots), then shelf colours and a per-colour queue."""
        self._defer_observations = True
        try:
            super().reset(seed=seed, options=options)
        finally:
            self._defer_observations = False
        n_shelves = len(self.shelfs)
        if self.n_colors == 1:  # keep upstream's queue: the episode is upstream's
            self.shelf_colors = np.zeros(n_shelves, dtype=np.int64)
        else:
            balanced = np.arange(n_shelves, dtype=np.int64) % self.n_colors
            self.shelf_colors = balanced[self.np_random.permutation(n_shelves)]
            per_color = self.request_queue_size // self.n_colors
            self.request_queue = [
                self.shelfs[int(s)]
                for color in range(self.n_colors)
                for s in self.np_random.choice(
                    np.flatnonzero(self.shelf_colors == color), size=per_color, replace=False
                )
            ]
        self.deliveries = np.zeros(self.n_colors, dtype=np.int64)
        self.wrong_color_arrivals = 0
        return self._observations(), {}

    def step(self, actions: Sequence[int]) -> tuple[tuple, list[float], bool, bool, dict]:
        """Upstream's movement and loading with upstream's delivery switched off (its request
        queue is emptied for the call), then the colour-aware delivery of :meth:`_deliver`."""
        queue = self.request_queue
        self.request_queue = []
        self._defer_observations = True
        try:
            super().step(actions)
        finally:
            self.request_queue = queue
            self._defer_observations = False
        rewards = self._deliver()
        return self._observations(), rewards.tolist(), False, False, {}

    def _deliver(self) -> np.ndarray:
        """Deliver the requested shelves that their own colour carries onto a goal; (N,)
        rewards."""
        rewards = np.zeros(self.n_agents, dtype=np.float64)
        for gx, gy in self.goals:
            shelf_id = int(self.grid[_LAYER_SHELFS, gy, gx])
            agent_id = int(self.grid[_LAYER_AGENTS, gy, gx])
            if not shelf_id or not agent_id:
                continue
            shelf = self.shelfs[shelf_id - 1]
            if shelf not in self.request_queue:
                continue
            color = int(self.shelf_colors[shelf_id - 1])
            agent = self.agents[agent_id - 1]
            if int(self.agent_colors[agent_id - 1]) != color:
                if (agent.x, agent.y) != (agent.prev_x, agent.prev_y):
                    self.wrong_color_arrivals += 1
                continue
            candidates = [
                s
                for s in self.shelfs
                if self.shelf_colors[s.id - 1] == color and s not in self.request_queue
            ]
            self.request_queue[self.request_queue.index(shelf)] = self.np_random.choice(candidates)
            self.deliveries[color] += 1
            if self.reward_global:
                rewards += 1.0
            else:
                rewards[agent_id - 1] += 1.0
        return rewards

    # ------------------------------------------------------------------ observations
    def _make_obs(self, agent: Any) -> Any:
        """Upstream's observation, skipped while upstream's own reset/step would build one that
        the request changes above make stale."""
        if self._defer_observations:
            return None
        return super()._make_obs(agent)

    def _observations(self) -> tuple:
        return tuple(self._make_obs(agent) for agent in self.agents)

    def color_features(self) -> np.ndarray:
        """(N, K + (2r + 1)^2 K) float32: each agent's colour one-hot, then for every cell of its
        sensor window (row-major, as upstream's features) the one-hot colour of the shelf there
        (all zeros for no shelf or outside the grid)."""
        r = self.sensor_range
        n, k = self.n_agents, self.n_colors
        padded = np.pad(self.grid[_LAYER_SHELFS], r)
        xs = np.fromiter((a.x for a in self.agents), dtype=np.int64, count=n)
        ys = np.fromiter((a.y for a in self.agents), dtype=np.int64, count=n)
        offsets = np.arange(2 * r + 1)
        ids = padded[ys[:, None, None] + offsets[None, :, None], xs[:, None, None] + offsets]
        colour_of_id = np.concatenate([[-1], self.shelf_colors])
        window = colour_of_id[ids.reshape(n, -1)]
        colours = np.arange(k)
        own = (self.agent_colors[:, None] == colours).astype(np.float32)
        seen = (window[:, :, None] == colours).astype(np.float32).reshape(n, -1)
        return np.concatenate([own, seen], axis=1)
