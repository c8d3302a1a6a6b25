"""E copies of the Gymnasium view of ride-hailing, stepped in one call.

``gymnasium.make_vec("alloc/RideHailing-v0", num_envs=E, vectorization_mode="vector_entry_point")``
builds a :class:`RideHailingVectorEnv`. It does not loop over E environments: one simulator holds
the E cities side by side (``RideHailingSim(n_copies=E)``), so a step is about as many numpy calls
for E copies as for one and the cost per copy falls as E grows. Copy ``e`` is, bit for bit, the
:class:`~alloc_envs.ride_hailing.gym_env.RideHailingEnv` that ``SyncVectorEnv`` would hold at
index ``e``: the same seeds (``reset(seed=s)`` seeds copy ``e`` with ``s + e``), observations,
rewards, flags and infos (tested against ``vectorization_mode="sync"``).

Every day has ``episode_steps`` steps, so all copies end together; the copies are reset together
too (``reset(options={"reset_mask": ...})`` must select every copy). Autoreset is Gymnasium's
default ``NEXT_STEP``: the step after the last one resets every copy, ignores the actions and
returns zero rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.scenario import RideHailingScenario, build_config
from alloc_envs.ride_hailing.trips import TripTable


class RideHailingVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~alloc_envs.ride_hailing.gym_env.RideHailingEnv`.

    Spaces are the single env's batched: observation ``{"observation": (E, G, 5 + 3L), "time":
    (E, G, 1), ...}``, action (E, G, K) candidate slots (dispatch) or (E, G, 7) move weights
    (reposition); rewards (E,) float64 team rewards; ``infos`` Gymnasium's vector layout (every
    key of the single env's info as an (E,) or (E, G) array, and a ``"_key"`` mask of all True).

    Args:
        num_envs: E, the number of copies (>= 1).
        preset, config, trips, **overrides: as :class:`RideHailingEnv`.
        max_episode_steps: must be ``None`` or the config's ``episode_steps`` (a day has a fixed
            length; ``make_vec`` passes the registered value, which is ``None``).
        render_mode: only ``None`` (render single environments).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        preset: str | None = None,
        *,
        config: RideHailingConfig | None = None,
        trips: TripTable | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(
                f"RideHailingVectorEnv does not render (render_mode={render_mode!r}); render a "
                "single RideHailingEnv"
            )
        scenario = RideHailingScenario(
            build_config(preset, config, overrides), trips, n_copies=num_envs
        )
        steps = scenario.config.episode_steps
        if max_episode_steps is not None and max_episode_steps != steps:
            raise ValueError(
                f"max_episode_steps={max_episode_steps}: a Ride-Hailing day has "
                f"episode_steps={steps} steps; set episode_steps instead"
            )
        self.scenario = scenario
        self.config = scenario.config
        self.num_envs = num_envs
        self.render_mode = None
        self.single_observation_space = scenario.joint_observation_space
        self.single_action_space = scenario.joint_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.copy_rngs: list[np.random.Generator] | None = None
        self._running = False
        self._autoreset = False

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a day in every copy: ``seed`` ``None`` (keep each copy's generator; fresh
        entropy the first time), an int ``s`` (copy ``e`` gets ``s + e``) or one seed per copy."""
        seeds = self._copy_seeds(seed)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or not mask.all():
                raise ValueError(
                    "RideHailingVectorEnv resets all copies together (every day has the same "
                    f"length): options['reset_mask'] must be {self.num_envs} True values"
                )
        if self.copy_rngs is None:
            self.copy_rngs = [seeding.np_random(s)[0] for s in seeds]
        else:
            self.copy_rngs = [
                rng if s is None else seeding.np_random(s)[0]
                for rng, s in zip(self.copy_rngs, seeds, strict=True)
            ]
        obs = self.scenario.reset_copies(self.copy_rngs)
        self._running, self._autoreset = True, False
        return obs, self._infos(None)

    def _copy_seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            return [int(seed) + e for e in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} copies")
        return seeds

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy with its row of ``actions``; after the last step of a day, the next
        call resets every copy instead (``NEXT_STEP`` autoreset: actions ignored, rewards 0)."""
        if self._autoreset:
            obs, infos = self.reset()
            flags = np.zeros(self.num_envs, dtype=bool)
            return obs, np.zeros(self.num_envs), flags, flags.copy(), infos
        if not self._running:
            raise RuntimeError("call reset() before step()")
        scenario = self.scenario
        cell_rewards = scenario.step(actions)
        obs = scenario.observe()
        truncated = scenario.truncated
        self._autoreset = truncated
        infos = self._infos(cell_rewards)
        rewards = infos["agent_rewards"].sum(axis=1)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return obs, rewards, terminated, np.full(self.num_envs, truncated), infos

    def state(self) -> np.ndarray:
        """(E, G * (5 + 3L)) float32: every copy's PettingZoo ``state()`` (its cells'
        observation vectors, concatenated)."""
        if not self._running:
            raise RuntimeError("call reset() before state()")
        return self.scenario.sim.cell_features().reshape(self.num_envs, -1)

    def _infos(self, cell_rewards: np.ndarray | None) -> dict[str, Any]:
        """Gymnasium's vector infos: the single env's keys as (E, ...) arrays, masks all True."""
        values: dict[str, Any] = self.scenario.copy_metrics(cell_rewards)
        if cell_rewards is not None:
            values["agent_rewards"] = cell_rewards.reshape(self.scenario.lead)
        infos: dict[str, Any] = {}
        for key, value in values.items():
            infos[key] = value
            infos[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        return infos
