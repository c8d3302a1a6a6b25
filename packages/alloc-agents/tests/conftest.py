"""Shared test settings: one torch thread (the networks are tiny; on a small shared CPU extra
threads only contend)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def two_zone_charges():
    """``charges(trainer) -> (T, 2)``: a trained leader's mean charges along the demand of
    :func:`alloc_envs.edrp.two_zone_city`'s day (the leader-learning tests)."""

    def charges(trainer):
        leader, game = trainer.leader_policy(), trainer.game
        steps = range(game.horizon)
        return np.array([leader(t, game.initial_distribution, game.city.demand[t]) for t in steps])

    return charges
