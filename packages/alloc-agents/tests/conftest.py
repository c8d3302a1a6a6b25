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
def check_two_zone_leader():
    """``check(trainer, after_k1)``: asserts that a leader trained on
    :func:`alloc_envs.edrp.two_zone_city`'s game learned its closed-form answer: zone 0 charged
    clearly more than zone 1, the drivers' shares of the fares (20 (1 - u_0) against
    10 (1 - u_1)) close to equal, and the exact-equilibrium ORR above 0.95, 0.25 above no
    charge and 0.1 above ``after_k1`` (the ORR before the method's own leader steps)."""
    from alloc_envs.edrp.exact_leader import equilibrium_orr

    def check(trainer, after_k1: float) -> None:
        leader, game = trainer.leader_policy(), trainer.game
        steps = range(game.horizon)
        charges = [leader(t, game.initial_distribution, game.city.demand[t]) for t in steps]
        u = np.mean(charges, axis=0)
        orr = equilibrium_orr(game, leader)
        no_charge = equilibrium_orr(game, np.zeros(2))
        assert u[0] > 0.3 and u[1] < u[0] - 0.2
        assert 0.8 < (20.0 * (1.0 - u[0])) / (10.0 * (1.0 - u[1])) < 1.25
        assert orr > no_charge + 0.25 and orr > after_k1 + 0.1 and orr > 0.95

    return check
