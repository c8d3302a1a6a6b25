"""Text rendering of the ride-hailing city."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alloc_envs.ride_hailing.scenario import RideHailingScenario


def render_ansi(scenario: RideHailingScenario) -> str:
    """One line per grid row: ``idle/pending`` per cell, then the episode metrics."""
    sim, cfg = scenario.sim, scenario.config
    lines = [f"step {sim.t}/{cfg.episode_steps}  (idle drivers / pending orders per cell)"]
    for r in range(cfg.rows):
        cells = range(r * cfg.cols, (r + 1) * cfg.cols)
        lines.append(" ".join(f"{sim.idle[c]:4d}/{sim.pending_count[c]:<3d}" for c in cells))
    m = scenario.metrics()
    lines.append(
        f"GMV {m['gmv']:.1f}  ORR {m['orr']:.3f}  served {m['orders_served']}"
        f"/{m['orders_generated']}"
    )
    return "\n".join(lines) + "\n"
