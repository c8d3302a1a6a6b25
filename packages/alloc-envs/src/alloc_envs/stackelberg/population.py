"""The N-agent fidelity: N followers of a matching game as integer arrays.

This is the array API for training followers (shared-parameter PPO, SMFU, TIRL data collection):

.. code-block:: python

    pop = Population(game, n_followers=100_000, seed=0)
    states = pop.reset()                      # (N,) int64 follower states
    # or pop.reset(start=t, distribution=m_t, exogenous=x_t): the subgame from step t
    while not pop.done:
        u = leader(pop.t, pop.distribution(), pop.exogenous)
        actions = pop.sample_actions(policy[pop.t])  # or your own (N,) int actions
        step = pop.step(actions, u)           # step.states, step.rewards (N,), step.leader_reward

Same law as the mean field: initial states are i.i.d. draws from m_0, actions from pi_t, and the
step is :meth:`MatchingGame.sample_step` (integer matching ``min(arrivals, capacity)`` per site,
matched followers chosen uniformly, next states from the same success kernels). The empirical
distribution converges to the mean field at rate 1/sqrt(N). Leader rewards, statistics and
metrics are the game's functions of the sampled :class:`SiteOutcome` (counts / N). Every random
draw comes from the generator this object owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.core.memory import check_memory
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.fokker_planck import add_statistics
from alloc_envs.stackelberg.game import check_incentive, check_vector
from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome
from alloc_envs.stackelberg.sampling import sample_categorical

#: Largest population (int64 state arrays).
MAX_FOLLOWERS = 10**8
#: Peak memory of a step, per follower (states, actions, rewards, matches and the sampling's
#: temporaries; measured about 100 bytes on EDRP and MTFG), checked before allocating.
BYTES_PER_FOLLOWER = 112


@dataclass(frozen=True)
class PopulationStep:
    """One step of :class:`Population`.

    Attributes:
        states: (N,) int64 next states (also ``Population.states``).
        rewards: (N,) float64 each follower's reward (reward units).
        matched: (N,) bool, whether each follower was matched (an order / a food unit).
        leader_reward: the leader's reward of the step.
        outcome: the sampled :class:`SiteOutcome` (counts / N).
        statistics: the step's additive statistics (:meth:`MatchingGame.step_statistics`).
    """

    states: np.ndarray
    rewards: np.ndarray
    matched: np.ndarray
    leader_reward: float
    outcome: SiteOutcome
    statistics: dict[str, np.ndarray]


class Population:
    """N followers of ``game``; owns its ``numpy.random.Generator``.

    Attributes (valid after :meth:`reset`): ``t`` (the current step, 0..T), ``states`` (N,)
    int64, ``exogenous`` (X,) float64, ``totals`` (summed statistics of the episode).
    """

    def __init__(self, game: MatchingGame, n_followers: int, seed: int | None = None) -> None:
        check_int("n_followers", n_followers, 1, MAX_FOLLOWERS)
        check_memory(
            "Population", BYTES_PER_FOLLOWER * n_followers, f"n_followers = {n_followers:,}"
        )
        self.game = game
        self.n_followers = n_followers
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.states = np.zeros(n_followers, dtype=np.int64)
        self.exogenous = np.array(game.initial_exogenous, dtype=np.float64)
        self.totals: dict[str, np.ndarray] = {}
        self._started = False

    def reset(
        self,
        seed: int | np.random.Generator | None = None,
        *,
        start: int = 0,
        distribution: Any = None,
        exogenous: Any = None,
    ) -> np.ndarray:
        """Start an episode at step ``start`` (default 0): N i.i.d. states from ``distribution``
        ((S,) probabilities, default m_0) and the (X,) exogenous state ``exogenous`` (default
        x_0); returns the (N,) states. Starting later plays the subgame from ``start``, e.g. to
        train followers from the leader view's current (m_t, x_t).

        ``seed``: an int re-seeds the generator, a ``Generator`` replaces it (shared with the
        caller, e.g. an environment's ``np_random``), ``None`` continues the current one.
        ``ValueError`` (nothing changes) for a ``start`` outside [0, T), a distribution that is
        not a probability vector of shape (S,) or an exogenous state outside [0,
        ``exogenous_high``].
        """
        game = self.game
        check_int("start", start, 0, game.horizon - 1)
        m = self._check_distribution(distribution)
        x = game.initial_exogenous if exogenous is None else exogenous
        x = check_vector(x, np.zeros_like(game.exogenous_high), game.exogenous_high, "exogenous")
        if isinstance(seed, np.random.Generator):
            self.rng = seed
        elif seed is not None:
            self.rng = np.random.default_rng(seed)
        one_group = np.zeros(self.n_followers, dtype=np.int64)
        self.states = sample_categorical(one_group, m[None], self.rng)
        self.exogenous = x
        self.t = start
        self.totals = {}
        self._started = True
        return self.states

    def _check_distribution(self, distribution: Any) -> np.ndarray:
        """(S,) float64 ``distribution`` (default m_0), or ``ValueError``: not in [0, 1]^S or
        not summing to one (tolerance 1e-6)."""
        if distribution is None:
            return self.game.initial_distribution
        size = self.game.n_states
        m = check_vector(distribution, np.zeros(size), np.ones(size), "distribution")
        if not np.isclose(m.sum(), 1.0, atol=1e-6):
            raise ValueError(f"distribution must sum to 1, got {m.sum()}")
        return m

    @property
    def done(self) -> bool:
        """Whether the horizon has been reached (or no episode was started)."""
        return not self._started or self.t >= self.game.horizon

    def distribution(self) -> np.ndarray:
        """(S,) float64 empirical distribution of the followers' states."""
        counts = np.bincount(self.states, minlength=self.game.n_states)
        return counts / self.n_followers

    def action_mask(self) -> np.ndarray:
        """(N, A) bool: the valid actions of every follower."""
        return self.game.action_mask[self.states]

    def sample_actions(self, policy_t: np.ndarray) -> np.ndarray:
        """(N,) int64 actions drawn from the (S, A) policy rows of the followers' states."""
        return sample_categorical(self.states, policy_t, self.rng)

    def step(self, actions: Any, incentive: Any) -> PopulationStep:
        """Apply the (N,) int ``actions`` under the (U,) leader ``incentive``.

        ``ValueError`` (nothing changes) for a wrong shape or dtype, an action out of range or
        masked in its follower's state, or a bad incentive; ``RuntimeError`` when no episode is
        running.
        """
        if self.done:
            raise RuntimeError("no episode is running; call reset() first")
        acts = self.check_actions(actions)
        u = check_incentive(self.game, incentive)
        game, t, x = self.game, self.t, self.exogenous
        sampled = game.sample_step(t, self.states, acts, x, u, self.rng)
        statistics = game.step_statistics(t, sampled.outcome, x, u)
        leader_reward = float(game.leader_reward(t, sampled.outcome, x, u))
        add_statistics(self.totals, statistics)
        self.exogenous = game.next_exogenous(t, sampled.outcome, x)
        self.states = sampled.states
        self.t += 1
        return PopulationStep(
            states=sampled.states,
            rewards=sampled.rewards,
            matched=sampled.matched,
            leader_reward=leader_reward,
            outcome=sampled.outcome,
            statistics=statistics,
        )

    def metrics(self) -> dict[str, Any]:
        """The game's episode metrics of the steps taken so far (e.g. ``orr``, ``cr``)."""
        return self.game.metrics(self.totals)

    def check_actions(self, actions: Any) -> np.ndarray:
        """(N,) int64 actions, or ``ValueError`` naming the first bad follower (wrong shape or
        dtype, out of range, or masked in the follower's state)."""
        acts = self.check_action_range(actions)
        masked = ~self.game.action_mask[self.states, acts]
        if masked.any():
            i = int(np.flatnonzero(masked)[0])
            raise ValueError(
                f"action {acts[i]} of follower {i} is masked in its state {self.states[i]}"
            )
        return acts

    def check_action_range(self, actions: Any) -> np.ndarray:
        """(N,) int64 actions of the right shape, integer dtype and range (masks not checked),
        or ``ValueError`` naming the first bad follower."""
        n, n_actions = self.n_followers, self.game.n_actions
        arr = np.asarray(actions)
        if arr.shape != (n,):
            raise ValueError(f"actions must have shape ({n},), got {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers, got dtype {arr.dtype}")
        acts = arr.astype(np.int64)
        out = (acts < 0) | (acts >= n_actions)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(f"action of follower {i} is {acts[i]}, not in [0, {n_actions})")
        return acts
