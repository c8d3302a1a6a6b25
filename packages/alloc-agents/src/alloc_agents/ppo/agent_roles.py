"""VLSTM agent roles learned from rollouts: the piece DyPS and Role-As-State share.

Per space group of A agents, :class:`AgentRoles` holds the role model's input features, a
:class:`~alloc_agents.ppo.roles.VLSTM` and ``roles`` (A, H), every agent's current role h^(a)
(zeros before the first rollout). DyPS selects groups from the roles
(:mod:`alloc_agents.ppo.dyps`); Role-As-State appends them to the network inputs
(:mod:`alloc_agents.ppo.role_state`).

Inputs of the VLSTM: the state features the IPPO critic reads
(:func:`~alloc_agents.ppo.ride_hailing.state_features`: symlog cell features and time on
Ride-Hailing, the flat observation elsewhere), the compact action features
(:func:`~alloc_agents.ppo.roles.compact_action_features`) and the agent's own reward.

After every rollout of T steps in E env copies (a :class:`~alloc_agents.ppo.buffer.GroupBuffer`),
:meth:`AgentRoles.learn` takes one Adam step on the mean −ELBO (Eq. 12) of ``sequences`` random
(agent, copy) sequences — each the agent's own trajectory, time-major after a transpose of the
buffer's agent-major layout — then sets every agent's role to the LSTM state after its last
step in the rollout (inference means, no sampling), averaged over the E copies.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.model import GroupModel
from alloc_agents.ppo.ride_hailing import state_features
from alloc_agents.ppo.roles import VLSTM, compact_action_dim, compact_action_features
from alloc_agents.ppo.sharing import VLSTMRoleConfig


def seeded_generator(seed: int, key: int, device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from the run's ``seed`` and a ``key`` of the
    strategy (independent streams for independent users of one seed)."""
    state = np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(1)[0]
    return torch.Generator(device).manual_seed(int(state))


class AgentRoles(nn.Module):
    """The VLSTM role model of one space group (module docstring)."""

    def __init__(self, gm: GroupModel, config: VLSTMRoleConfig) -> None:
        super().__init__()
        self.features, self.state_dim = state_features(gm.group)
        self.action_spec = gm.actor.action
        self.action_dim = compact_action_dim(self.action_spec)
        self.vlstm = VLSTM(
            self.state_dim,
            self.action_dim,
            config.role_dim,
            config.vlstm_z_dim,
            config.vlstm_hidden,
        )
        self.register_buffer("roles", torch.zeros(gm.group.n_agents, config.role_dim))

    @torch.no_grad()
    def rollout_features(self, buf: GroupBuffer) -> tuple[Tensor, Tensor]:
        """State features (A, T, E, S) and action features (A, T, E, U) of the rollout."""
        a, t, e = buf.shape
        assert buf.actions is not None
        states = self.features({k: buf.flat(v) for k, v in buf.obs.items()}).reshape(a, t, e, -1)
        actions = compact_action_features(self.action_spec, buf.flat(buf.actions).flatten(0, 1))
        return states.float(), actions.reshape(a, t, e, -1)

    def learn(
        self,
        buf: GroupBuffer,
        states: Tensor,
        actions: Tensor,
        optimizer: torch.optim.Optimizer,
        sequences: int,
        generator: torch.Generator,
    ) -> float:
        """One ELBO step on the rollout, then the new roles into ``roles``; the step's −ELBO.

        ``states`` / ``actions``: :meth:`rollout_features` of ``buf``; ``sequences``: how many
        random (agent, copy) sequences the step uses; ``generator``: the subset's draw and the
        latent noise."""
        a, t, e = buf.shape
        seq = lambda x: x.transpose(1, 2).reshape(a * e, t, *x.shape[3:])  # noqa: E731
        s, u, r = seq(states), seq(actions), seq(buf.rewards)
        feed = seq(buf.active)
        done = seq(buf.terminated | buf.truncated)
        next_s = torch.cat([s[:, 1:], torch.zeros_like(s[:, :1])], 1)
        learn = feed & ~done
        learn[:, -1] = False
        learn[:, :-1] &= feed[:, 1:]
        index = torch.randperm(a * e, generator=generator, device=s.device)[:sequences]
        loss, _ = self.vlstm.run(
            s[index],
            u[index],
            r[index],
            next_s[index],
            feed[index],
            learn[index],
            done[index],
            sample=True,
            generator=generator,
        )
        assert loss is not None
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            _, final = self.vlstm.run(
                s, u, r, next_s, feed, learn, done, sample=False, with_loss=False
            )
            self.roles.copy_(final.reshape(a, e, -1).mean(1))
        return float(loss.detach())
