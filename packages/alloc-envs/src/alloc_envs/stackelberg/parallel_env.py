"""The followers' PettingZoo view: one agent per follower, for small N (agent-based learners).

A :class:`FollowerScenario` (a :class:`~alloc_envs.core.views.JointScenario`) wraps a
:class:`~alloc_envs.stackelberg.population.Population`; :class:`FollowerParallelEnv` is the
shared ``ParallelEnv`` over it (agents ``follower_0 .. follower_{N-1}``). The leader is fixed for
the environment's lifetime: a rule name, a constant incentive or a policy ``(t, m, x) -> u``
(:func:`alloc_envs.stackelberg.leader.resolve_leader`), evaluated at every step on the
empirical distribution.

Per-agent observation ``{"observation": (2 S + 1 + X + U,) float32, "action_mask": (A,) int8}``:
the one-hot own state (S), t / T, the empirical distribution m_t (S), the exogenous state x_t (X)
and the leader's current incentive u_t (U). Action: ``Discrete(A)``; an action out of range
raises ``ValueError`` (the environment is unchanged).

A *masked* action (``action_mask`` 0 in the follower's state) is played as the state's first
valid action (0, stay, in EDRP and MTFG: a move off the map or a busy driver's move keeps the
follower where it is, as bumping into a wall does in a grid world) and counted in
``info["masked_actions"]``. PettingZoo leaves what an environment does with a masked action to
the environment (its classic games end the game and penalise the mover, through
``TerminateIllegalWrapper``); ending every follower's episode for one follower's invalid move
would not suit a population, and its ``parallel_seed_test`` samples actions without the mask.
The array API (:meth:`Population.step`) still refuses masked actions.

Reward: the follower's own reward. Every agent's ``info`` holds the scenario's metrics (episode
to date), ``leader_reward`` (of the step) and ``masked_actions`` (followers of the step whose
action was masked).
``state()`` is ``(t / T, m_t, x_t, u_t)``. All agents are truncated together after T steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.core.validation import check_int
from alloc_envs.core.views import JointParallelEnv
from alloc_envs.stackelberg.game import check_incentive
from alloc_envs.stackelberg.leader import LeaderPolicy
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.population import MAX_FOLLOWERS, Population

#: Largest population of the per-agent view (one Python dict entry per agent and step).
MAX_PARALLEL_FOLLOWERS = 10_000


class FollowerScenario:
    """Population + fixed leader, agent-major arrays (the :class:`JointScenario` protocol)."""

    agent_prefix = "follower"

    def __init__(self, game: MatchingGame, n_followers: int, leader: LeaderPolicy) -> None:
        check_int("n_followers", n_followers, 1, MAX_FOLLOWERS)
        if n_followers > MAX_PARALLEL_FOLLOWERS:
            raise ValueError(
                f"n_followers must be in [1, {MAX_PARALLEL_FOLLOWERS}] for the per-agent view "
                f"(use the leader view or Population for more), got {n_followers}"
            )
        self.game = game
        self.leader = leader
        self.population = Population(game, n_followers)
        self.n_agents = n_followers
        s, a, x = game.n_states, game.n_actions, game.exogenous_high.shape[0]
        low = np.concatenate([np.zeros(2 * s + 1 + x), game.incentive_low]).astype(np.float32)
        high = np.concatenate(
            [np.ones(2 * s + 1), game.exogenous_high, game.incentive_high]
        ).astype(np.float32)
        mask_box = spaces.Box(0, 1, shape=(a,), dtype=np.int8)
        self.agent_observation_space = spaces.Dict(
            {"observation": spaces.Box(low, high, dtype=np.float32), "action_mask": mask_box}
        )
        n = n_followers
        self.joint_observation_space = spaces.Dict(
            {
                "observation": spaces.Box(
                    np.tile(low, (n, 1)), np.tile(high, (n, 1)), dtype=np.float32
                ),
                "action_mask": spaces.Box(0, 1, shape=(n, a), dtype=np.int8),
            }
        )
        self.agent_action_space = spaces.Discrete(a)
        self.joint_action_space = spaces.MultiDiscrete(np.full(n, a))
        self.state_space = spaces.Box(low[s:], high[s:], dtype=np.float32)
        self.incentive = np.array(game.incentive_low)
        self.last_leader_reward = 0.0
        self.masked_actions = 0
        #: (S,) int64 the action a masked action is played as: each state's first valid one.
        self.fallback_action = game.action_mask.argmax(axis=1).astype(np.int64)

    @property
    def terminated(self) -> bool:
        """Never: episodes end by the time limit."""
        return False

    @property
    def truncated(self) -> bool:
        """Whether the horizon is reached."""
        return self.population.t >= self.game.horizon

    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """N followers from m_0, drawing from ``rng``; the first joint observation."""
        self.population.reset(rng)
        self.last_leader_reward = 0.0
        self.masked_actions = 0
        self._update_incentive()
        return self.observe()

    def _update_incentive(self) -> None:
        pop = self.population
        if pop.t < self.game.horizon:
            u = self.leader(pop.t, pop.distribution(), pop.exogenous)
            self.incentive = check_incentive(self.game, u, f"leader incentive at step {pop.t}")

    def step(self, action: Any) -> np.ndarray:
        """Apply the (N,) actions (masked ones as the state's fallback action, module doc); the
        (N,) float64 follower rewards."""
        pop = self.population
        acts = pop.check_action_range(action)
        masked = ~self.game.action_mask[pop.states, acts]
        self.masked_actions = int(masked.sum())
        acts = np.where(masked, self.fallback_action[pop.states], acts)
        step = pop.step(acts, self.incentive)
        self.last_leader_reward = step.leader_reward
        self._update_incentive()
        return step.rewards

    def _global(self) -> np.ndarray:
        pop = self.population
        return np.concatenate(
            [[pop.t / self.game.horizon], pop.distribution(), pop.exogenous, self.incentive]
        ).astype(np.float32)

    def observe(self) -> dict[str, np.ndarray]:
        """The joint observation (fresh arrays)."""
        pop, n = self.population, self.n_agents
        own = np.zeros((n, self.game.n_states), dtype=np.float32)
        own[np.arange(n), pop.states] = 1.0
        shared = np.broadcast_to(self._global(), (n, self.state_space.shape[0]))
        return {
            "observation": np.concatenate([own, shared], axis=1),
            "action_mask": pop.action_mask().astype(np.int8),
        }

    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        """The scenario's metrics (episode to date), ``time`` and the step's ``leader_reward``."""
        return {
            **self.population.metrics(),
            "time": self.population.t,
            "leader_reward": self.last_leader_reward,
            "masked_actions": self.masked_actions,
        }

    def state(self) -> np.ndarray:
        """(1 + S + X + U,) float32 ``(t / T, m_t, x_t, u_t)``."""
        return self._global()

    def render_frame(self):
        """The picture of the empirical distribution and the incentive in force
        (:meth:`MatchingGame.render_frame`)."""
        pop = self.population
        return self.game.render_frame(
            pop.t,
            pop.distribution(),
            pop.exogenous,
            self.incentive,
            pop.metrics(),
            note=f"{self.n_agents} followers",
        )

    def render_ansi(self) -> str:
        """The step, the metrics and the incentive."""
        pop = self.population
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in pop.metrics().items() if np.isscalar(v))
        return (
            f"t {pop.t}/{self.game.horizon}  followers {self.n_agents}  {metrics}\n"
            f"incentive {np.array2string(self.incentive, precision=2)}\n"
        )


class FollowerParallelEnv(JointParallelEnv):
    """PettingZoo ``ParallelEnv`` of the followers of a Stackelberg scenario (module doc)."""

    def __init__(
        self,
        game: MatchingGame,
        n_followers: int,
        leader: LeaderPolicy,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(FollowerScenario(game, n_followers, leader), render_mode)
