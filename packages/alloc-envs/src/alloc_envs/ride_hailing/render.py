"""Pictures of the ride-hailing city: text (``ansi``) and an RGB frame (``rgb_array``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alloc_envs.rendering import Frame, Panel, number_text
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.sim import RideHailingSim

#: Largest city whose cells carry their numbers in the picture.
MAX_ANNOTATED_CELLS = 144


def render_ansi(sim: RideHailingSim, cfg: RideHailingConfig, m: Mapping[str, Any]) -> str:
    """One line per grid row: ``idle/pending`` per cell, then the episode metrics ``m``
    (``RideHailingScenario.metrics()``: ``gmv``, ``orr``, ``orders_served``,
    ``orders_generated``)."""
    lines = [f"step {sim.t}/{cfg.episode_steps}  (idle drivers / pending orders per cell)"]
    for r in range(cfg.rows):
        cells = range(r * cfg.cols, (r + 1) * cfg.cols)
        lines.append(" ".join(f"{sim.idle[c]:4d}/{sim.pending_count[c]:<3d}" for c in cells))
    lines.append(
        f"GMV {m['gmv']:.1f}  ORR {m['orr']:.3f}  served {m['orders_served']}"
        f"/{m['orders_generated']}"
    )
    return "\n".join(lines) + "\n"


def render_frame(sim: RideHailingSim, cfg: RideHailingConfig, m: Mapping[str, Any]) -> Frame:
    """Two maps of the hexagonal city (even columns half a cell lower, as in
    :mod:`alloc_envs.core.hexgrid`): idle drivers and waiting orders per cell, with their counts
    written in the cells up to :data:`MAX_ANNOTATED_CELLS` cells; step, GMV and ORR in the
    title. Colour scales are fixed for the city (3 x the drivers per cell; the most orders a
    cell is likely to hold, ``1.5 (base_rate_high + rate_noise) (patience + 1)``), so frames
    compare. ``m``: the episode metrics, as for :func:`render_ansi`."""
    shape = (cfg.rows, cfg.cols)
    annotate = cfg.n_cells <= MAX_ANNOTATED_CELLS
    idle = sim.idle.reshape(shape).astype(float)
    orders = sim.pending_count.reshape(shape).astype(float)
    orders_high = 1.5 * (cfg.base_rate_high + cfg.rate_noise) * (cfg.patience + 1)
    title = (
        f"Ride-Hailing ({cfg.action_mode})  step {sim.t}/{cfg.episode_steps}  "
        f"GMV {m['gmv']:,.0f}  ORR {m['orr']:.2f}"
    )
    return Frame(
        title,
        (
            Panel(
                "idle drivers",
                idle,
                vmax=max(1.0, 3.0 * cfg.drivers_per_cell),
                text=number_text(idle) if annotate else None,
                hex_columns=True,
            ),
            Panel(
                "waiting orders",
                orders,
                vmax=max(1.0, float(orders_high)),
                cmap="magma",
                text=number_text(orders) if annotate else None,
                hex_columns=True,
            ),
        ),
    )
