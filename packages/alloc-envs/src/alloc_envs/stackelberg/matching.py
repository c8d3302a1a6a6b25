"""Site-matching games: the structure shared by EDRP and MTFG (one implementation, both fidelities).

A step of a matching game, for a follower in state s taking action a:

1. **Move.** The follower arrives at site ``site_of[s, a]`` (a zone with orders, a cell with
   food), or at no site (``-1``: e.g. a driver still on a trip, or a cell without food).
2. **Match.** At every site y the arriving mass ``n(y)`` competes for the available capacity
   ``c(y)`` (orders, food units): ``served(y) = min(n(y), c(y))`` (the min rule of Lin et al.,
   KDD'18). Mean-field: every arrival is matched with probability ``p(y) = min(1, c(y) / n(y))``
   (1 where nobody arrives and ``c(y) > 0``). N-agent: ``min(count(y), C(y))`` arrivals, chosen
   uniformly at random, are matched, with integer capacity ``C(y)`` drawn by the scenario.
3. **Outcome.** A matched follower earns ``payoff(y)`` (set by the leader's incentive) and moves
   to a state drawn from ``success_kernels[t, y, :]``; an unmatched one goes to
   ``next_if_unmatched[s, a]``. Every action costs ``move_cost[s, a]``.

So the kernel is ``P_t[s, a, :] = p(y) K_t[y, :] + (1 - p(y)) onehot(next_if_unmatched[s, a])``
with ``y = site_of[s, a]``, and the follower reward is ``r_t[s, a] = -move_cost[s, a] +
p(y) payoff_t(y)``: the paper's separable form (own cost + a term set by the leader's incentive
and the mean field), decreasing in the crowding ``n(y)`` (Lasry-Lions monotone, as §3.1 of the
TIRL paper requires). Because matching happens *after* the move, the population enters through
the joint mean field ``L_t[s, a]`` (its arrivals ``n``), not through m_t alone.

Scenarios subclass :class:`MatchingGame` and supply the capacity (mean-field and sampled), the
payoff, the leader's reward, the exogenous update and the metrics, all functions of a
:class:`SiteOutcome`, which both fidelities produce.
"""

from __future__ import annotations

import abc
import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.rendering import Frame, Panel, bars_panel
from alloc_envs.stackelberg.sampling import choose_in_groups, sample_by_group


def _frozen(arr: Any, dtype: Any) -> np.ndarray:
    out = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class SiteOutcome:
    """What happened at the sites in one step, in units of the population (shares of followers).

    Attributes:
        mass: (Y,) arrivals n(y) (mean field: mass; N-agent: count / N).
        capacity: (Y,) available orders / food c(y) (N-agent: the integer capacity / N).
        served: (Y,) matched mass, ``min(mass, capacity)`` (N-agent: matched count / N).
    """

    mass: np.ndarray
    capacity: np.ndarray
    served: np.ndarray

    @property
    def match_probability(self) -> np.ndarray:
        """(Y,) p(y): the chance that one more (infinitesimal) arrival at y is matched,
        ``min(1, capacity / mass)``; 1 where nobody arrives but there is capacity, 0 where
        there is no capacity."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.mass > 0, self.capacity / self.mass, np.inf)
        return np.where(self.capacity > 0, np.minimum(1.0, ratio), 0.0)


@dataclass(frozen=True)
class AgentStep:
    """One sampled N-agent step of a matching game (see :meth:`MatchingGame.sample_step`).

    Attributes:
        states: (N,) int64 next states.
        rewards: (N,) float64 follower rewards.
        matched: (N,) bool, whether each follower was matched.
        outcome: the step's :class:`SiteOutcome` (counts / N).
    """

    states: np.ndarray
    rewards: np.ndarray
    matched: np.ndarray
    outcome: SiteOutcome


class MatchingGame(abc.ABC):
    """A :class:`~alloc_envs.stackelberg.game.MeanFieldGame` with the site-matching structure.

    Args:
        horizon: T.
        action_mask: (S, A) bool; every state needs one valid action.
        site_of: (S, A) int, the site reached by (s, a), or -1 for none.
        next_if_unmatched: (S, A) int, the next state when not matched.
        move_cost: (S, A) float >= 0, the cost of each action (reward units).
        success_kernels: (T, Y, S) next-state distribution of a follower matched at y at step t.
        incentive_low, incentive_high: (U,) the leader's incentive box.
        exogenous_high: (X,) upper bounds of the exogenous state.
        initial_distribution: (S,) m_0; initial_exogenous: (X,) x_0.
    """

    def __init__(
        self,
        *,
        horizon: int,
        action_mask: np.ndarray,
        site_of: np.ndarray,
        next_if_unmatched: np.ndarray,
        move_cost: np.ndarray,
        success_kernels: np.ndarray,
        incentive_low: np.ndarray,
        incentive_high: np.ndarray,
        exogenous_high: np.ndarray,
        initial_distribution: np.ndarray,
        initial_exogenous: np.ndarray,
    ) -> None:
        self.horizon = int(horizon)
        self.action_mask = _frozen(action_mask, bool)
        self.n_states, self.n_actions = self.action_mask.shape
        self.site_of = _frozen(site_of, np.int64)
        self.next_if_unmatched = _frozen(next_if_unmatched, np.int64)
        self.move_cost = _frozen(move_cost, np.float64)
        kernels = np.asarray(success_kernels, dtype=np.float64)
        self.n_sites = kernels.shape[1]
        self.success_kernels = kernels if not kernels.flags.writeable else _frozen(kernels, float)
        self.incentive_low = _frozen(incentive_low, np.float64)
        self.incentive_high = _frozen(incentive_high, np.float64)
        self.exogenous_high = _frozen(exogenous_high, np.float64)
        self.initial_distribution = _frozen(initial_distribution, np.float64)
        self.initial_exogenous = _frozen(initial_exogenous, np.float64)
        self._check_structure()
        self._has_site = self.site_of >= 0
        self._site_flat = np.where(self._has_site, self.site_of, 0).ravel()
        self._next_flat = self.next_if_unmatched.ravel()

    def _check_structure(self) -> None:
        s, a, y = self.n_states, self.n_actions, self.n_sites
        if not self.action_mask.any(axis=1).all():
            raise ValueError("every state needs at least one valid action")
        for name in ("site_of", "next_if_unmatched", "move_cost"):
            if getattr(self, name).shape != (s, a):
                raise ValueError(f"{name} must have shape {(s, a)}")
        if ((self.site_of < -1) | (self.site_of >= y)).any():
            raise ValueError(f"site_of must lie in [-1, {y})")
        if ((self.next_if_unmatched < 0) | (self.next_if_unmatched >= s)).any():
            raise ValueError(f"next_if_unmatched must lie in [0, {s})")
        if (self.move_cost < 0).any():
            raise ValueError("move_cost must be non-negative")
        if self.success_kernels.shape != (self.horizon, y, s):
            raise ValueError(f"success_kernels must have shape {(self.horizon, y, s)}")
        if not np.allclose(self.success_kernels.sum(axis=2), 1.0, atol=1e-9):
            raise ValueError("rows of success_kernels must sum to 1")
        if not np.isclose(self.initial_distribution.sum(), 1.0, atol=1e-9):
            raise ValueError("initial_distribution must sum to 1")

    def with_follower_laws(
        self, success_kernels: np.ndarray, next_if_unmatched: np.ndarray
    ) -> MatchingGame:
        """A copy of this game whose followers move by other laws (e.g. a model's estimates):
        ``success_kernels`` (T, Y, S) and ``next_if_unmatched`` (S, A) replace this game's;
        everything else (sites, capacities, payoffs, rewards, metrics) is shared. Checked as
        the constructor checks them (``ValueError`` naming the field)."""
        twin = copy.copy(self)
        twin.success_kernels = _frozen(success_kernels, np.float64)
        twin.next_if_unmatched = _frozen(next_if_unmatched, np.int64)
        twin._check_structure()
        twin._next_flat = twin.next_if_unmatched.ravel()
        return twin

    @property
    def n_incentives(self) -> int:
        """U, the size of the leader's incentive vector."""
        return self.incentive_low.shape[0]

    # ------------------------------------------------------------------ scenario hooks
    @abc.abstractmethod
    def capacity(self, t: int, exogenous: np.ndarray) -> np.ndarray:
        """(Y,) mean-field capacity c(y) at step t (population units)."""

    @abc.abstractmethod
    def sample_capacity(
        self, t: int, exogenous: np.ndarray, n_followers: int, rng: np.random.Generator
    ) -> np.ndarray:
        """(Y,) int64 capacity for N followers, with mean close to ``N * capacity(t, x)``."""

    @abc.abstractmethod
    def payoff(self, t: int, exogenous: np.ndarray, incentive: np.ndarray) -> np.ndarray:
        """(Y,) reward of a follower matched at each site (incentive included)."""

    @abc.abstractmethod
    def leader_reward(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> float:
        """The leader's reward of step t."""

    @abc.abstractmethod
    def next_exogenous(self, t: int, outcome: SiteOutcome, exogenous: np.ndarray) -> np.ndarray:
        """(X,) x_{t+1}."""

    @abc.abstractmethod
    def step_statistics(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Additive statistics of step t."""

    @abc.abstractmethod
    def metrics(self, totals: dict[str, np.ndarray]) -> dict[str, Any]:
        """Episode metrics from summed statistics."""

    # ------------------------------------------------------------------ pictures
    #: The scenario's name in the title of a picture.
    render_name = "Stackelberg game"

    def render_frame(
        self,
        t: int,
        distribution: np.ndarray,
        exogenous: np.ndarray,
        incentive: np.ndarray,
        metrics: dict[str, Any],
        note: str = "",
    ) -> Frame:
        """The picture of a state (``render_mode="rgb_array"`` of every view): a title with t,
        ``note`` and the scalar ``metrics``, over :meth:`render_panels`."""
        scalars = "  ".join(
            f"{k.upper() if len(k) <= 3 else k} {v:.3f}"
            for k, v in metrics.items()
            if np.isscalar(v) and not isinstance(v, str)
        )
        title = f"{self.render_name}  t {t}/{self.horizon}  {note}  {scalars}"
        return Frame(
            " ".join(title.split()), self.render_panels(distribution, exogenous, incentive)
        )

    def render_panels(
        self, distribution: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray
    ) -> tuple[Panel, ...]:
        """The panels of :meth:`render_frame`: the mean field (share of followers per state)
        and the leader's incentive; scenarios draw their own map."""
        return (
            bars_panel("followers per state (%)", 100.0 * distribution, vmax=None),
            bars_panel(
                "leader's incentive",
                incentive,
                vmin=min(0.0, float(self.incentive_low.min())),
                vmax=float(self.incentive_high.max()),
            ),
        )

    # ------------------------------------------------------------------ mean-field fidelity
    def arrivals(self, joint: np.ndarray) -> np.ndarray:
        """(Y,) mass arriving at each site under the (S, A) joint mean field."""
        weights = np.where(self._has_site, joint, 0.0).ravel()
        return np.bincount(self._site_flat, weights=weights, minlength=self.n_sites)

    def outcome(
        self, t: int, joint: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray
    ) -> SiteOutcome:
        """Mean-field matching: ``served = min(arrivals, capacity)`` at every site."""
        mass = self.arrivals(joint)
        capacity = np.asarray(self.capacity(t, exogenous), dtype=np.float64)
        return SiteOutcome(mass, capacity, np.minimum(mass, capacity))

    def _match_probability(self, outcome: SiteOutcome) -> np.ndarray:
        """(S, A) probability that (s, a) ends matched (0 where there is no site)."""
        p = outcome.match_probability[self.site_of]
        return np.where(self._has_site, p, 0.0)

    def transition_kernel(self, t: int, outcome: SiteOutcome) -> np.ndarray:
        """(S, A, S) dense kernel ``p K_t[site] + (1 - p) onehot(next_if_unmatched)``."""
        s, a = self.n_states, self.n_actions
        p = self._match_probability(outcome)
        kernel = p[:, :, None] * self.success_kernels[t][self.site_of]  # p = 0 without a site
        rows = kernel.reshape(s * a, s)
        rows[np.arange(s * a), self._next_flat] += 1.0 - p.ravel()
        return kernel

    def push_forward(self, t: int, outcome: SiteOutcome, joint: np.ndarray) -> np.ndarray:
        """(S,) ``sum_{s,a} joint[s,a] P_t[s,a,:]`` in O(S A + Y S) (no dense kernel)."""
        p = self._match_probability(outcome)
        unmatched = (joint * (1.0 - p)).ravel()
        stay = np.bincount(self._next_flat, weights=unmatched, minlength=self.n_states)
        matched = np.bincount(self._site_flat, weights=(joint * p).ravel(), minlength=self.n_sites)
        return stay + matched @ self.success_kernels[t]

    def expected_next(self, t: int, outcome: SiteOutcome, values: np.ndarray) -> np.ndarray:
        """(S, A) ``sum_{s'} P_t[s,a,s'] values[s']`` in O(S A + Y S)."""
        p = self._match_probability(outcome)
        matched_value = (self.success_kernels[t] @ values)[self.site_of]
        return (1.0 - p) * values[self.next_if_unmatched] + p * matched_value

    def follower_reward(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> np.ndarray:
        """(S, A) ``-move_cost + p(site) payoff(site)``."""
        gain = self.payoff(t, exogenous, incentive)[self.site_of]
        return self._match_probability(outcome) * gain - self.move_cost

    # ------------------------------------------------------------------ N-agent fidelity
    def sample_step(
        self,
        t: int,
        states: np.ndarray,
        actions: np.ndarray,
        exogenous: np.ndarray,
        incentive: np.ndarray,
        rng: np.random.Generator,
    ) -> AgentStep:
        """One step for N followers (``states``, ``actions``: (N,) int64, already validated).

        Draws, in this order from ``rng``: the integer capacities, the matched followers at
        every site (uniformly among the arrivals), the next states of the matched followers
        from ``success_kernels[t]``. O(N + S A + Y S).
        """
        n = states.shape[0]
        pair = states * self.n_actions + actions  # flat (s, a) index: 1-D gathers are cheaper
        site = self.site_of.ravel().take(pair)
        at_site = np.flatnonzero(site >= 0)
        counts = np.bincount(site[at_site], minlength=self.n_sites)
        capacity = np.asarray(self.sample_capacity(t, exogenous, n, rng), dtype=np.int64)
        served = np.minimum(counts, capacity)
        chosen = choose_in_groups(site[at_site], served, rng)
        winners = at_site[chosen.order]
        matched = np.zeros(n, dtype=bool)
        matched[winners] = True
        next_states = self._next_flat.take(pair)
        next_states[winners] = sample_by_group(chosen, self.success_kernels[t], rng)
        rewards = -self.move_cost.ravel().take(pair)
        rewards[winners] += self.payoff(t, exogenous, incentive)[site[winners]]
        outcome = SiteOutcome(counts / n, capacity / n, served / n)
        return AgentStep(next_states, rewards, matched, outcome)
