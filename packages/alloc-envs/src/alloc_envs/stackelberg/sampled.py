"""A fixed follower policy played by N sampled followers: what a mean-field plan is worth when the
population is finite (integer matching, Poisson orders, random draws)."""

from __future__ import annotations

from typing import Any

import numpy as np

from alloc_envs.stackelberg.game import check_policy
from alloc_envs.stackelberg.leader import as_leader_policy
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.population import Population


def play_sampled(
    game: MatchingGame, policy: np.ndarray, leader: Any, n_followers: int, seed: int
) -> dict[str, Any]:
    """The game's episode metrics (e.g. ``orr``) of one episode in which ``n_followers``
    followers, started i.i.d. from m_0, draw their actions from the (T, S, A) ``policy`` while
    the ``leader`` (a constant incentive, a schedule or a callable ``(t, m_t, x_t) -> u_t`` on
    the empirical distribution) sets the incentives. Seeded: every draw comes from
    ``numpy.random.default_rng(seed)``."""
    table = check_policy(game, policy, game.horizon)
    leader_policy = as_leader_policy(game, leader)
    population = Population(game, n_followers, seed=seed)
    population.reset()
    while not population.done:
        t = population.t
        incentive = leader_policy(t, population.distribution(), population.exogenous)
        population.step(population.sample_actions(table[t]), incentive)
    return population.metrics()
