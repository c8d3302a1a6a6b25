"""TIRL's learned follower transition with the matching structure (``transition_model=
"matching"``, ours): what P_eta needs to see the mean field.

The paper's P_eta(s' | t, s, a) (:class:`~alloc_agents.stackelberg.transition.TransitionModel`)
fits the followers' moves at the match probabilities of the data's mean fields: when the leader's
incentive sends more followers to a site, it still matches them as often, so a site never
saturates on the model. In a matching game (:mod:`alloc_envs.stackelberg.matching`) a follower's
next state is that of a matched follower with the probability ``p(y) = min(1, c(y) / n(y))`` of
its site ``y = site_of[s, a]`` and that of an unmatched one otherwise. The model keeps that
structure and learns the two laws from the N-agent episodes' transitions, split by whether the
follower was matched (:attr:`~alloc_agents.stackelberg.rollout.Episode.matched`, which it observes
when it is paid):

* ``D(s' | t, y)``: the next state of a follower matched at site y at step t (EDRP: where the
  order goes and for how long), a :class:`~alloc_agents.stackelberg.transition.ConditionalModel`
  over the Y sites;
* ``U(s' | t, s, a)``: the next state of an unmatched one (EDRP: idle at the target zone, or a
  busy driver one slot closer to drop-off), a ``ConditionalModel`` over the S A pairs.

Neither depends on the policies or the incentive (in EDRP and MTFG), so data from old policies
stay valid as the policies move. What the model takes from the game: which site an action reaches
(``site_of``) and the capacity ``c(y)``, the same facts as the follower and leader rewards, which
TIRL assumes known (§3.1). The match probability is then computed on the generated mean field
(:class:`~alloc_agents.stackelberg.learned_game.LearnedMatchingGame`), and in the pathwise
leader's return it is a differentiable function of it (:mod:`~alloc_agents.stackelberg.model_flow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg.learned_game import LearnedMatchingGame
from alloc_agents.stackelberg.rollout import Episode
from alloc_agents.stackelberg.transition import ConditionalModel, transition_counts
from alloc_envs.stackelberg.matching import MatchingGame


class MatchingTransitionModel:
    """The two learned laws ``D`` (``destinations``) and ``U`` (``unmatched``) of ``game``'s
    followers (module docstring); arguments as
    :class:`~alloc_agents.stackelberg.transition.TransitionModel`'s (both laws use the same
    settings and ``seed``)."""

    def __init__(
        self,
        game: MatchingGame,
        hidden_sizes: tuple[int, ...],
        activation: str,
        lr: float,
        seed: int,
        device: torch.device,
    ) -> None:
        t, s, a, y = game.horizon, game.n_states, game.n_actions, game.n_sites
        self.site_of = game.site_of
        settings = (hidden_sizes, activation, lr, seed, device)
        self.destinations = ConditionalModel(y, t, s, *settings)
        self.unmatched = ConditionalModel(s * a, t, s, *settings)

    def observe_episode(self, episode: Episode) -> None:
        """Add an N-agent episode's transitions (from step 0): the matched ones to ``D`` by
        site, the others to ``U`` by state-action pair."""
        states, actions, matched = episode.states, episode.actions, episode.matched
        nxt = episode.next_states
        pairs = states * self.site_of.shape[1] + actions
        sites = np.where(matched, self.site_of[states, actions], 0)
        d, u = self.destinations.counts.shape, self.unmatched.counts.shape
        self.destinations.observe_counts(transition_counts(d, sites, nxt, where=matched))
        self.unmatched.observe_counts(transition_counts(u, pairs, nxt, where=~matched))

    @property
    def n_transitions(self) -> int:
        """|D|, the transitions observed so far (matched and unmatched)."""
        return self.destinations.n_transitions + self.unmatched.n_transitions

    def fit(self, epochs: int) -> float:
        """``epochs`` full-batch Adam steps on each law's NLL; the NLL after the last step, in
        nats per transition over both (of s' given (t, s, a) and whether it was matched)."""
        laws = (self.destinations, self.unmatched)
        nlls = [law.fit(epochs) for law in laws]
        sizes = [law.n_transitions for law in laws]
        return sum(n * size for n, size in zip(nlls, sizes, strict=True)) / max(sum(sizes), 1)

    def learned_game(self, game: MatchingGame) -> LearnedMatchingGame:
        """``game`` with the two learned laws (Eq. 10 with the matching structure)."""
        unmatched = self.unmatched.probabilities().reshape(
            game.horizon, game.n_states, game.n_actions, game.n_states
        )
        return LearnedMatchingGame(game, self.destinations.probabilities(), unmatched)

    def state_dict(self) -> dict[str, Any]:
        """Both laws' models, optimizers and counts."""
        return {
            "destinations": self.destinations.state_dict(),
            "unmatched": self.unmatched.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.destinations.load_state_dict(state["destinations"])
        self.unmatched.load_state_dict(state["unmatched"])
