"""MTFG as a site-matching mean-field game (the model both fidelities and all views share).

Definitions (ours; the paper states a grid, two food types of different values in the
bottom-left and top-right zones, and a leader offering incentives to raise the collection ratio):

* **States**: the W x W cells, ``s = row * W + col`` (row 0 at the top).
* **Actions**: 0 stay, 1 up, 2 down, 3 left, 4 right; moves off the grid are masked.
* **Food**: every type k has a square cluster of cells in a corner; the sites of the matching
  game are the food cells. The exogenous state ``x_t`` is every food cell's stock (units per
  follower). At the start of a step each cell regrows ``regrowth`` (up to ``max_stock``), then
  followers that arrived collect with the min rule (``min(arrivals, stock)``, one unit per
  follower and step); ``x_{t+1}`` is what is left. N followers: the integer units are
  ``floor(N x)`` per cell (the fractional remainder stays in the stock).
* **Followers**: a follower collecting a unit of type k earns ``w_k + u_t(k)`` (its own value
  plus the leader's bonus); a move costs ``move_cost``; followers stay where they moved.
* **Leader**: the bonus per unit of each type, ``u_t`` in ``[0, bonus_high]^K``; reward
  ``sum_y (v_{k(y)} - u_t(k(y))) collected(y)`` (value collected minus bonuses paid).
* **Metrics**: ``cr`` = collected / supplied food (initial stock plus regrowth) over the steps
  so far, ``cr_per_type`` (K,) the same per type, ``bonus_paid`` per follower.
* **m_0**: uniform over the cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alloc_envs.mtfg.config import MTFGConfig, build_config
from alloc_envs.rendering import Panel, bars_panel
from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome

#: (row, col) offsets of the actions stay, up, down, left, right.
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
#: Names of the food types in pictures.
TYPE_NAMES = "ABCD"


def food_cells(config: MTFGConfig) -> tuple[np.ndarray, np.ndarray]:
    """(Y,) cell ids of the food cells and (Y,) their types: type k's ``cluster_size`` square
    in corner k (bottom-left, top-right, top-left, bottom-right)."""
    w, c = config.grid_size, config.cluster_size
    corners = ((w - c, 0), (0, w - c), (0, 0), (w - c, w - c))
    cells, types = [], []
    for k in range(config.n_types):
        r0, c0 = corners[k]
        for dr in range(c):
            for dc in range(c):
                cells.append((r0 + dr) * w + c0 + dc)
                types.append(k)
    return np.asarray(cells, dtype=np.int64), np.asarray(types, dtype=np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


class MTFGGame(MatchingGame):
    """The MTFG model of ``config`` (module doc)."""

    render_name = "MTFG"

    def __init__(self, config: MTFGConfig) -> None:
        self.config = config
        w = config.grid_size
        n_cells = w * w
        rows, cols = np.divmod(np.arange(n_cells), w)
        moves = np.asarray(MOVES)
        target_r = rows[:, None] + moves[None, :, 0]
        target_c = cols[:, None] + moves[None, :, 1]
        mask = (target_r >= 0) & (target_r < w) & (target_c >= 0) & (target_c < w)
        target = np.where(mask, target_r * w + target_c, np.arange(n_cells)[:, None])
        self.cells, self.types = food_cells(config)
        site_index = np.full(n_cells, -1, dtype=np.int64)
        site_index[self.cells] = np.arange(self.cells.size)
        move_cost = np.where(mask, config.move_cost, 0.0)
        move_cost[:, 0] = 0.0
        success = np.zeros((self.cells.size, n_cells))
        success[np.arange(self.cells.size), self.cells] = 1.0  # collectors stay on their cell
        self.follower_values = np.asarray(config.follower_values, dtype=np.float64)
        self.leader_values = np.asarray(config.leader_values, dtype=np.float64)
        self.n_types = config.n_types
        super().__init__(
            horizon=config.horizon,
            action_mask=mask,
            site_of=np.where(mask, site_index[target], -1),
            next_if_unmatched=target,
            move_cost=move_cost,
            success_kernels=np.broadcast_to(success, (config.horizon, *success.shape)),
            incentive_low=np.zeros(config.n_types),
            incentive_high=np.full(config.n_types, config.bonus_high),
            exogenous_high=np.full(self.cells.size, config.max_stock),
            initial_distribution=np.full(n_cells, 1.0 / n_cells),
            initial_exogenous=np.full(self.cells.size, config.initial_stock),
        )

    # ------------------------------------------------------------------ hooks
    def capacity(self, t: int, exogenous: np.ndarray) -> np.ndarray:
        """Stock after this step's regrowth, ``min(max_stock, x + regrowth)``."""
        return np.minimum(self.config.max_stock, exogenous + self.config.regrowth)

    def sample_capacity(
        self, t: int, exogenous: np.ndarray, n_followers: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Whole units for N followers, ``floor(N * capacity)`` (no random draw)."""
        return np.floor(n_followers * self.capacity(t, exogenous) + 1e-9).astype(np.int64)

    def payoff(self, t: int, exogenous: np.ndarray, incentive: np.ndarray) -> np.ndarray:
        """``w_k + u_t(k)`` for the type k of each food cell."""
        return (self.follower_values + incentive)[self.types]

    def leader_reward(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> float:
        """Value of the food collected minus the bonuses paid."""
        return float(((self.leader_values - incentive)[self.types] * outcome.served).sum())

    def next_exogenous(self, t: int, outcome: SiteOutcome, exogenous: np.ndarray) -> np.ndarray:
        """Stock left: capacity minus collected."""
        return np.maximum(self.capacity(t, exogenous) - outcome.served, 0.0)

    def _per_type(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.types, weights=values, minlength=self.n_types)

    def step_statistics(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> dict[str, np.ndarray]:
        """(K,) ``collected`` and ``supplied`` (regrowth, plus the initial stock at t = 0) per
        type, and ``bonus_paid``."""
        supplied = self.capacity(t, exogenous) - (exogenous if t > 0 else 0.0)
        return {
            "collected": self._per_type(outcome.served),
            "supplied": self._per_type(supplied),
            "bonus_paid": np.float64((incentive[self.types] * outcome.served).sum()),
        }

    def render_panels(
        self, distribution: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray
    ) -> tuple[Panel, ...]:
        """The W x W grid of followers (% per cell; food cells labelled with their type and
        stock, e.g. ``A.50``) and the bonus per unit of each type beside the followers' own
        value."""
        w = self.config.grid_size
        text = np.full(w * w, "", dtype=object)
        for cell, k, stock in zip(self.cells, self.types, exogenous, strict=True):
            text[cell] = f"{TYPE_NAMES[k]}{stock:.2f}".replace("0.", ".")
        names = [f"type {TYPE_NAMES[k]}" for k in range(self.n_types)]
        return (
            Panel(
                "followers (% per cell), food stock",
                100.0 * distribution.reshape(w, w),
                text=text.reshape(w, w),
                label="% of followers",
            ),
            bars_panel(
                "per unit collected",
                np.stack([self.follower_values, incentive]),
                ticks=names,
                series=("follower value", "leader bonus"),
                vmax=max(self.config.bonus_high, float(self.follower_values.max())),
            ),
        )

    def metrics(self, totals: dict[str, np.ndarray]) -> dict[str, Any]:
        """``cr``, ``cr_per_type`` (K,) and ``bonus_paid`` (0 before the first step)."""
        collected = totals.get("collected", np.zeros(self.n_types))
        supplied = totals.get("supplied", np.zeros(self.n_types))
        return {
            "cr": float(_ratio(collected.sum(), supplied.sum())),
            "cr_per_type": _ratio(collected, supplied),
            "bonus_paid": float(totals.get("bonus_paid", 0.0)),
        }


def make_game(
    preset: str | None = None, *, config: MTFGConfig | None = None, **overrides: Any
) -> MTFGGame:
    """The MTFG model of a preset (default ``"mtfg"``) or ``config``, with ``overrides`` of
    :class:`MTFGConfig` fields."""
    return MTFGGame(build_config(preset, config, overrides))
