"""SMFU, the Stackelberg mean-field update (TIRL paper §4.1, Eqs. 3-5), and its variants.

Each episode is played by N followers (:class:`~alloc_envs.stackelberg.population.Population`,
``config.follower.n_followers``) under the followers' current policy and the leader's sampled
incentives; the leader observes the followers' empirical distribution ``G^N_t`` in place of the
mean field (Eq. 5). The followers take one PPO step on the episode
(:meth:`FollowerPPO.step`, Eq. 4) and the leader its policy-gradient step on its rewards of the
same episode (:mod:`.leader_update`, Eq. 3). The variants are settings of
:class:`~alloc_agents.stackelberg.trainer_config.StackelbergConfig`:

* **SMFU-w/o-L**: ``leader_mode="none"`` (no leader: u = 0, followers alone; the default reading)
  or ``"open_loop"`` (a learned leader that does not see the mean field, ``mu(u | t)``);
* **Reg-SMFU**: ``entropy_coef`` (lambda), ``l1_coef`` (delta) and ``weight_clip`` (c) set (§4.3).
"""

from __future__ import annotations

from alloc_agents.stackelberg.trainer import Played, StackelbergTrainer
from alloc_envs.stackelberg.leader import LeaderPolicy


class SMFU(StackelbergTrainer):
    """The model-free leader trainer (module docstring; the loop: :class:`StackelbergTrainer`)."""

    method = "smfu"

    def _episode(self, leader: LeaderPolicy) -> Played:
        row, episode = self.followers.step(leader)
        return Played(row, episode.leader_rewards, episode.states.size)
