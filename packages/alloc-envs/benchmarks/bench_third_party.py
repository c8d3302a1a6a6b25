"""Speed of the LBF and RWARE adapters against the raw upstream environments.

For every preset, plays whole episodes with uniformly random actions (the same generator for
the adapter and for upstream) and reports episodes/s and steps/s of the Gymnasium view, the
PettingZoo view and the raw upstream environment (``lbforaging`` 2.0.0's ``ForagingEnv`` /
``rware`` 2.0.0's ``Warehouse`` built with the preset's parameters, stepped with its ``Tuple``
action), all in this process, plus the ratio adapter / upstream (1.0 = no overhead).

    python packages/alloc-envs/benchmarks/bench_third_party.py [--episodes-lbf 100]
        [--episodes-rware 2] [--repeats 3]

Needs ``pip install 'alloc-envs[third-party]'``. The best of ``--repeats`` rounds is kept (the
views and upstream take turns within a round, so that they see the same machine load).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from alloc_envs.third_party.lbf_config import LBFConfig, make_lbf_config
from alloc_envs.third_party.lbf_env import LBFEnv, LBFParallelEnv
from alloc_envs.third_party.rware_config import RWAREConfig, make_rware_config
from alloc_envs.third_party.rware_env import RWAREEnv, RWAREParallelEnv

#: (episodes played, steps taken) by one run of a player.
Player = Callable[[int], tuple[int, int]]


def _play_gym(env, n_actions: int, n_agents: int) -> Player:
    def play(episodes: int) -> tuple[int, int]:
        rng, steps = np.random.default_rng(0), 0
        for ep in range(episodes):
            env.reset(seed=ep)
            done = False
            while not done:
                _, _, term, trunc, _ = env.step(rng.integers(0, n_actions, n_agents))
                done, steps = term or trunc, steps + 1
        return episodes, steps

    return play


def _play_parallel(env, n_actions: int) -> Player:
    agents = list(env.possible_agents)

    def play(episodes: int) -> tuple[int, int]:
        rng, steps = np.random.default_rng(0), 0
        for ep in range(episodes):
            env.reset(seed=ep)
            while env.agents:
                joint = rng.integers(0, n_actions, len(agents))
                env.step({a: int(joint[i]) for i, a in enumerate(agents)})
                steps += 1
        return episodes, steps

    return play


def _play_upstream(env, n_actions: int, n_agents: int, time_limit: int) -> Player:
    """Upstream's own end of episode (its ``terminated``), capped at ``time_limit`` steps."""

    def play(episodes: int) -> tuple[int, int]:
        rng, steps = np.random.default_rng(0), 0
        for ep in range(episodes):
            env.reset(seed=ep)
            for _ in range(time_limit):
                _, _, done, _, _ = env.step(rng.integers(0, n_actions, n_agents).tolist())
                steps += 1
                if done:
                    break
        return episodes, steps

    return play


def upstream_lbf(cfg: LBFConfig):
    """``ForagingEnv`` with the preset's parameters (upstream's per-reset level shuffle kept)."""
    from lbforaging.foraging import ForagingEnv

    levels = list(cfg.levels)
    return ForagingEnv(
        players=cfg.n_agents,
        min_player_level=levels,
        max_player_level=levels,
        min_food_level=cfg.min_food_level,
        max_food_level=cfg.max_food_level,
        field_size=(cfg.grid_size, cfg.grid_size),
        max_num_food=cfg.n_foods,
        sight=cfg.view_radius,
        max_episode_steps=cfg.time_limit,
        force_coop=cfg.force_coop,
    )


def upstream_rware(cfg: RWAREConfig):
    """``Warehouse`` with the preset's layout, robots and queue (no colours upstream)."""
    from rware.warehouse import RewardType, Warehouse

    return Warehouse(
        shelf_columns=cfg.shelf_columns,
        column_height=cfg.column_height,
        shelf_rows=cfg.shelf_rows,
        n_agents=cfg.n_agents,
        msg_bits=0,
        sensor_range=cfg.sensor_range,
        request_queue_size=cfg.request_queue_size,
        max_inactivity_steps=None,
        max_steps=cfg.time_limit,
        reward_type=RewardType.INDIVIDUAL,
    )


def best_rates(
    players: dict[str, Player], episodes: int, repeats: int
) -> dict[str, tuple[float, float]]:
    """(episodes/s, steps/s) of every player, the best of ``repeats`` rounds; the players take
    turns within a round so that they see the same machine load."""
    best = dict.fromkeys(players, (0.0, 0.0))
    for _ in range(repeats):
        for name, play in players.items():
            start = time.perf_counter()
            n_ep, n_steps = play(episodes)
            elapsed = time.perf_counter() - start
            if n_ep / elapsed > best[name][0]:
                best[name] = (n_ep / elapsed, n_steps / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes-lbf", type=int, default=100)
    parser.add_argument("--episodes-rware", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = []
    for preset in ("lbf-1", "lbf-2"):
        cfg = make_lbf_config(preset)
        n, limit = cfg.n_agents, cfg.time_limit
        players = {
            "gymnasium": _play_gym(LBFEnv(preset), 6, n),
            "pettingzoo": _play_parallel(LBFParallelEnv(preset), 6),
            "upstream": _play_upstream(upstream_lbf(cfg), 6, n, limit),
        }
        rows.append((preset, best_rates(players, args.episodes_lbf, args.repeats)))
    for preset in ("rware-1", "rware-2"):
        cfg = make_rware_config(preset)
        n, limit = cfg.n_agents, cfg.time_limit
        players = {
            "gymnasium": _play_gym(RWAREEnv(preset), 5, n),
            "pettingzoo": _play_parallel(RWAREParallelEnv(preset), 5),
            "upstream": _play_upstream(upstream_rware(cfg), 5, n, limit),
        }
        rows.append((preset, best_rates(players, args.episodes_rware, args.repeats)))

    print("| preset | view | episodes/s | steps/s | ratio to upstream (episodes/s, steps/s) |")
    print("|---|---|---|---|---|")
    for preset, rates in rows:
        base_eps, base_sps = rates["upstream"]
        for view, (eps, sps) in rates.items():
            ratio = f"{eps / base_eps:.2f}, {sps / base_sps:.2f}"
            print(f"| {preset} | {view} | {eps:,.1f} | {sps:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
