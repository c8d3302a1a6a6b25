"""MAPPO's centralised critic computes the state's part of its first layer once per member and
batch row, and gathers each agent's one-hot-id row: its values and gradients are those of the
plain MLP on ``state ++ one-hot id ++ other inputs``."""

from __future__ import annotations

import pytest
import torch

from alloc_agents.ppo.batched import AgentInputs
from alloc_agents.ppo.networks import CentralCritic
from alloc_agents.ppo.ride_hailing import symlog

A, B, S, K = 6, 5, 40, 9


def plain_values(critic: CentralCritic, state, ids: AgentInputs, route):
    """The critic as one MLP on the concatenated input (every agent reads the whole state)."""
    parts = [symlog(state).unsqueeze(0).expand(A, -1, -1)]
    if ids.one_hot_id:
        parts.append(torch.eye(A).unsqueeze(1).expand(-1, B, -1))
    if ids.dense is not None:
        parts.append(ids.dense)
    x = torch.cat(parts, dim=-1)
    return critic.mlp(x, route).squeeze(-1)


ROUTES = {
    "shared": (1, lambda g: None),
    "one per agent": (A, lambda g: None),
    "per agent": (3, lambda g: torch.randint(0, 3, (A,), generator=g)),
    "per agent and column": (3, lambda g: torch.randint(0, 3, (A, B), generator=g)),
}


#: (one-hot id, dense columns) of the agents' inputs: roles, roles and an id, an id alone
INPUTS = {"dense": (False, K), "one-hot id and dense": (True, K), "one-hot id": (True, 0)}


@pytest.mark.parametrize("inputs", list(INPUTS))
@pytest.mark.parametrize("case", list(ROUTES))
@pytest.mark.parametrize("hidden", [(16,), (16, 8)])
def test_split_first_layer_gives_the_plain_values_and_gradients(case, hidden, inputs):
    n_members, make_route = ROUTES[case]
    one_hot_id, k = INPUTS[inputs]
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    critic = CentralCritic(symlog, S, k + A * one_hot_id, n_members, hidden, "tanh")
    state = torch.randn(B, S, generator=g) * 30
    dense = torch.randn(A, B, k, generator=g) if k else None
    ids = AgentInputs(A, B, one_hot_id, dense)
    route = make_route(g)

    values = critic(state, ids, route)
    assert values.shape == (A, B)
    grads = torch.autograd.grad(values.square().sum(), list(critic.parameters()))
    expected = plain_values(critic, state, ids, route)
    expected_grads = torch.autograd.grad(expected.square().sum(), list(critic.parameters()))

    torch.testing.assert_close(values, expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_ids_are_required():
    critic = CentralCritic(symlog, S, K, 1, (8,), "tanh")
    with pytest.raises(ValueError, match="pass ids"):
        critic(torch.zeros(B, S), None, None)
