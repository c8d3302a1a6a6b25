"""What the Gymnasium and PettingZoo views of ride-hailing share: spaces, action checks, metrics.

A :class:`RideHailingScenario` wraps the simulator with the episode seeding, the agent-major
("joint") observation dict and the metrics. The views only re-shape its outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.core.config import build_config as core_build_config
from alloc_envs.core.hexgrid import N_DIRECTIONS, HexGrid
from alloc_envs.core.memory import check_memory
from alloc_envs.rendering import Frame
from alloc_envs.ride_hailing.config import DEFAULT_PRESET, PRESETS, RideHailingConfig
from alloc_envs.ride_hailing.demand import RecordedDemand, SyntheticDemand
from alloc_envs.ride_hailing.render import render_ansi, render_frame
from alloc_envs.ride_hailing.sim import CANDIDATE_FEATURES, RideHailingSim
from alloc_envs.ride_hailing.trips import TripTable

#: Upper bound used for quantities without a natural one (counts of orders, prices).
UNBOUNDED = float(np.finfo(np.float32).max)
#: Number of reposition directions: stay + 6 neighbours.
N_MOVES = N_DIRECTIONS + 1


def build_config(
    preset: str | None, config: RideHailingConfig | None, overrides: dict[str, Any]
) -> RideHailingConfig:
    """The config from ``config`` or ``preset`` (default ``"ride-hailing-1"``), plus overrides;
    giving both ``preset`` and ``config`` is an error."""
    return core_build_config(PRESETS, DEFAULT_PRESET, preset, config, overrides, "ride-hailing")


class RideHailingScenario:
    """Simulator + demand + seeding + spaces, for G agents (one per cell).

    With ``n_copies=E`` it holds E independent copies of the city stepped as one (what
    :class:`~alloc_envs.ride_hailing.vector_env.RideHailingVectorEnv` serves): every joint array
    below gets a leading copy axis, (E, G, ...), :meth:`reset_copies` takes one generator per
    copy and :meth:`copy_metrics` gives (E,) arrays. The default (``None``) is one city.

    Joint observation (every array agent-major, a fresh array at every call):

    * ``"observation"`` (G, 5 + 3L) float32: per-cell vectors (``RideHailingSim.cell_features``);
    * ``"time"`` (G, 1) float32: the step index t (0 .. episode_steps), the same for every cell
      (the reference's policies prepend it to the state);
    * dispatch mode: ``"candidates"`` (G, K + 1, 9) float32 candidate features and
      ``"candidate_mask"`` (G, K + 1) int8, 1 where a slot holds a candidate (slot 0 = STAY);
    * reposition mode: ``"move_mask"`` (G, 7) int8, 1 for stay and the existing neighbours
      (clockwise from north).

    Every action in the action space is valid (an empty slot or a weight on a missing neighbour
    does nothing), so there is no ``action_mask`` in PettingZoo's sense (a mask passed to
    ``space.sample``): the masks above say which choices have an effect.

    Joint action: dispatch mode (G, K) integers in [0, K] (candidate slots, one per idle driver);
    reposition mode (G, 7) floats in [0, 1] (weights over the move targets).
    """

    def __init__(
        self,
        config: RideHailingConfig,
        trips: TripTable | None = None,
        n_copies: int | None = None,
    ) -> None:
        copies = 1 if n_copies is None else n_copies
        self.grid = HexGrid(config.rows, config.cols)
        # Built first: it checks n_copies.
        self.sim = RideHailingSim(config, self.grid, copies)
        check_memory(
            "RideHailing",
            copies * config.memory_bytes(synthetic_demand=trips is None),
            f"rows x cols = {config.rows} x {config.cols}, episode_steps = {config.episode_steps}"
            f", base_rate_high = {config.base_rate_high}",
        )
        self.config = config
        self.demand = (
            SyntheticDemand(config, self.grid) if trips is None else RecordedDemand(config, trips)
        )
        self.n_agents = self.grid.n_cells
        #: Leading axes of the joint arrays: (G,), or (E, G) with copies.
        self.lead = (self.n_agents,) if n_copies is None else (n_copies, self.n_agents)
        self.agent_prefix = "cell"
        self.dispatch = config.action_mode == "dispatch"
        self.agent_observation_space = self._observation_space(per_agent=True)
        self.joint_observation_space = self._observation_space(per_agent=False)
        self.agent_action_space = self._action_space(per_agent=True)
        self.joint_action_space = self._action_space(per_agent=False)
        obs_dim = self.sim.obs_dim * self.n_agents
        self.state_space = spaces.Box(0.0, UNBOUNDED, shape=(obs_dim,), dtype=np.float32)

    # ------------------------------------------------------------------ spaces
    def _observation_space(self, per_agent: bool) -> spaces.Dict:
        cfg, g = self.config, self.n_agents
        lead = () if per_agent else (g,)
        lmax = cfg.max_trip_steps
        high = np.full(5 + 3 * lmax, UNBOUNDED, dtype=np.float32)
        high[0] = g - 1
        high[1] = cfg.n_drivers
        items: dict[str, spaces.Space] = {
            "observation": spaces.Box(
                low=np.zeros(lead + high.shape, dtype=np.float32),
                high=np.broadcast_to(high, lead + high.shape).copy(),
                dtype=np.float32,
            ),
            "time": spaces.Box(0.0, float(cfg.episode_steps), shape=(*lead, 1), dtype=np.float32),
        }
        width = cfg.max_orders + 1 if self.dispatch else N_MOVES
        mask_key = "candidate_mask" if self.dispatch else "move_mask"
        items[mask_key] = spaces.Box(0, 1, shape=(*lead, width), dtype=np.int8)
        if self.dispatch:
            items["candidates"] = spaces.Box(
                -UNBOUNDED,
                UNBOUNDED,
                shape=lead + (width, len(CANDIDATE_FEATURES)),
                dtype=np.float32,
            )
        return spaces.Dict(items)

    def _action_space(self, per_agent: bool) -> spaces.Space:
        cfg, g = self.config, self.n_agents
        lead = () if per_agent else (g,)
        if self.dispatch:
            k = cfg.max_orders
            return spaces.MultiDiscrete(np.full(lead + (k,), k + 1, dtype=np.int64))
        return spaces.Box(0.0, 1.0, shape=lead + (N_MOVES,), dtype=np.float32)

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Start an episode with demand drawn from ``rng``; returns the joint observation."""
        return self.reset_copies((rng,))

    def reset_copies(self, rngs: Sequence[np.random.Generator]) -> dict[str, np.ndarray]:
        """Start an episode in every copy, copy ``e``'s demand drawn from ``rngs[e]`` (as a
        single city's ``reset(rngs[e])`` draws it); returns the joint observation."""
        self.sim.reset(*(self.demand.sample(rng) for rng in rngs))
        return self.observe()

    @property
    def terminated(self) -> bool:
        """Never: a ride-hailing day only ends by its time limit."""
        return False

    @property
    def truncated(self) -> bool:
        """Whether the last step of the day has been taken."""
        return self.sim.done

    def step(self, action: Any) -> np.ndarray:
        """Apply a joint action; returns the per-cell rewards (C,) float64 (C = E * G)."""
        if self.dispatch:
            cell_value = self.sim.step_dispatch(self.check_dispatch_action(action))
        else:
            cell_value = self.sim.step_reposition(self.check_reposition_action(action))
        return cell_value / self.config.reward_scale

    def observe(self) -> dict[str, np.ndarray]:
        """The joint observation (fresh arrays)."""
        sim = self.sim
        obs = {
            "observation": sim.cell_features(),
            "time": np.full((sim.n_total_cells, 1), sim.t, dtype=np.float32),
        }
        if self.dispatch:
            obs["candidates"], obs["candidate_mask"] = sim.candidates()
        else:
            obs["move_mask"] = sim.move_mask.copy()
        if len(self.lead) > 1:  # (C, ...) -> (E, G, ...), views
            obs = {key: value.reshape(*self.lead, *value.shape[1:]) for key, value in obs.items()}
        return obs

    def state(self) -> np.ndarray:
        """(G * (5 + 3L),) float32: every cell's observation vector, concatenated."""
        return self.sim.cell_features().reshape(-1)

    def render_ansi(self) -> str:
        """One line per grid row (idle drivers / pending orders per cell), then the metrics."""
        return render_ansi(self.sim, self.config, self.metrics())

    def render_frame(self) -> Frame:
        """Maps of idle drivers and waiting orders per cell, step, GMV and ORR
        (:func:`alloc_envs.ride_hailing.render.render_frame`)."""
        return render_frame(self.sim, self.config, self.metrics())

    def metrics(self, cell_rewards: np.ndarray | None = None) -> dict[str, Any]:
        """Episode-to-date metrics (GMV in the paper's price unit) and diagnostics."""
        sim = self.sim
        generated = sim.n_generated
        info: dict[str, Any] = {
            "gmv": sim.gmv,
            "orr": sim.n_served / generated if generated else 0.0,
            "orders_generated": generated,
            "orders_served": sim.n_served,
            "kl_orders_idle": sim.kl_orders_idle(),
            "step": sim.t,
        }
        if cell_rewards is not None:
            info["step_gmv"] = float(cell_rewards.sum() * self.config.reward_scale)
        return info

    def copy_metrics(self, cell_rewards: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """:meth:`metrics` of every copy: the same keys, each an (E,) array (float64 or int64);
        ``cell_rewards`` (C,) are the step's."""
        sim = self.sim
        generated, served = sim.copy_generated, sim.copy_served
        info = {
            "gmv": sim.copy_gmv.copy(),
            "orr": np.where(generated > 0, served / np.maximum(generated, 1), 0.0),
            "orders_generated": generated.copy(),
            "orders_served": served.copy(),
            "kl_orders_idle": sim.copy_kl_orders_idle(),
            "step": np.full(sim.n_copies, sim.t, dtype=np.int64),
        }
        if cell_rewards is not None:
            per_copy = cell_rewards.reshape(sim.n_copies, sim.n_cells).sum(axis=1)
            info["step_gmv"] = per_copy * self.config.reward_scale
        return info

    # ------------------------------------------------------------------ action checks
    def _where(self, index: Sequence[int]) -> str:
        """``"cell g"`` (or ``"copy e, cell g"``) of a joint array's leading index."""
        if len(self.lead) == 1:
            return f"cell {index[0]}"
        return f"copy {index[0]}, cell {index[1]}"

    def check_dispatch_action(self, action: Any) -> np.ndarray:
        """(C, K) int64 picks from a joint action of shape ``lead + (K,)``, or ``ValueError``
        naming the problem."""
        k = self.config.max_orders
        picks = _as_array(action, (*self.lead, k), "dispatch action")
        if picks.dtype.kind == "f":
            if not np.all(np.isfinite(picks)):
                where = self._where(np.argwhere(~np.isfinite(picks))[0])
                raise ValueError(f"dispatch action has NaN or inf ({where})")
            if not np.all(picks == np.round(picks)):
                raise ValueError("dispatch action must hold integers (candidate slots)")
        elif picks.dtype.kind not in "iu":
            raise ValueError(f"dispatch action must hold integers, got dtype {picks.dtype}")
        if picks.min() < 0 or picks.max() > k:
            index = tuple(np.argwhere((picks < 0) | (picks > k))[0])
            raise ValueError(
                f"dispatch action out of range: {self._where(index)}, pick {index[-1]} is "
                f"{picks[index]}; slots are 0 (STAY) .. {k}"
            )
        picks = picks.astype(np.int64, copy=False)
        return picks if len(self.lead) == 1 else picks.reshape(-1, k)

    def check_reposition_action(self, action: Any) -> np.ndarray:
        """(C, 7) float64 weights with the missing neighbours zeroed, from a joint action of
        shape ``lead + (7,)``, or ``ValueError``."""
        shares = _as_array(action, (*self.lead, N_MOVES), "reposition action")
        if shares.dtype.kind not in "fiub":
            raise ValueError(f"reposition action must be numeric, got dtype {shares.dtype}")
        shares = shares.astype(np.float64)
        if not np.all(np.isfinite(shares)):
            where = self._where(np.argwhere(~np.isfinite(shares))[0])
            raise ValueError(f"reposition action has NaN or inf ({where})")
        bad = (shares < 0) | (shares > 1)
        if bad.any():
            index = tuple(np.argwhere(bad)[0])
            raise ValueError(
                f"reposition action out of range: {self._where(index)}, move {index[-1]} is "
                f"{shares[index]}; weights are in [0, 1]"
            )
        if len(self.lead) > 1:
            shares = shares.reshape(-1, N_MOVES)
        return shares * self.sim.move_mask


def scenario_of(env: Any) -> RideHailingScenario:
    """The :class:`RideHailingScenario` behind a Ride-Hailing environment of either view
    (Gymnasium wrappers included), or ``ValueError`` naming what ``env`` is instead."""
    scenario = getattr(getattr(env, "unwrapped", env), "scenario", None)
    if not isinstance(scenario, RideHailingScenario):
        raise ValueError(f"expected a Ride-Hailing environment, got {type(env).__name__}")
    return scenario


def _as_array(action: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.asarray(action)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what} must be an array of shape {shape}: {exc}") from exc
    if arr.shape != shape:
        hint = ""
        if arr.ndim == 1 and arr.size == int(np.prod(shape)):
            hint = (
                " (a flat action, as single-agent libraries such as stable-baselines3 give: wrap "
                "the Gymnasium view in alloc_envs.wrappers.FlatJointView, which reshapes it)"
            )
        raise ValueError(f"{what} must have shape {shape}, got {arr.shape}{hint}")
    return arr
