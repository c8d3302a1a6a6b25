"""The leader's gradient at the followers' equilibrium of TIRL's learned model
(``leader_gradient="equilibrium"``, ours).

Why: the pathwise leader (:mod:`.pathwise`) differentiates the *current* PPO followers' network
in the incentive. On EDRP that gradient agrees with the true dynamics under the same followers
(cosine 0.999) but is nearly orthogonal to the gradient at the followers' equilibrium (cosine
0.05, ``benchmarks/edrp_pathwise_gradient_check.py``): a network trained at the leader's current
charges does not respond to a change of charge the way followers who re-optimise would, and
the paper's protocol scores the leader against re-trained followers. So the leader learns what
the current network does, not what its charges are worth (12% of the headroom on EDRP v1).

What: after the K1 N-agent episodes, the learned matching model
(:class:`~alloc_agents.stackelberg.matching_model.MatchingTransitionModel`: the laws ``D`` of
matched and ``U`` of unmatched followers, learned from data) is made a matching game of its own
(:meth:`~alloc_envs.stackelberg.matching.MatchingGame.with_follower_laws`: ``D`` as the success
kernels and the most probable next state of ``U``, summed over steps, as the unmatched move;
the true game's unmatched move is deterministic in EDRP and MTFG). Everything else is the true
game's, as in every TIRL generated episode (§3.1 assumes the reward functions known). On that
model game, one leader step:

1. the leader's mean incentive ``u_t = low + E[z_t] (high - low)`` (T, U) at its observation of
   ``(t, m_t, x_t)`` along the previous step's equilibrium flow (the first step: the flow of
   the uniform policy), differentiable in the leader's parameters omega;
2. the followers' regularised equilibrium against that schedule and the exact gradient ``dJ/du``
   (T, U) of the leader's objective ``J = sum_t w_t . served_t`` there, by the implicit function
   theorem (:func:`alloc_envs.stackelberg.sensitivity.leader_gradient`, warm-started from the
   previous equilibrium), with ``w_t = d r_t / d served_t`` the leader reward's weights (EDRP:
   ``1 / expected orders``, so that ``J`` is the model's equilibrium ORR);
3. one Adam step (its own optimizer over the leader's policy parameters, at the leader's
   learning rate) on ``-(dJ/du) . u(omega)`` (the chain rule with the
   observation held fixed), with the §4.3 regularisers of the Reg- methods
   (:func:`~alloc_agents.stackelberg.regularisers.regularised_step`; the entropy is that of the
   Beta laws at the step's observations).

The followers (PPO) are not used by the leader's update; they keep training on the generated
episodes as in TIRL. Requirements (``ValueError`` otherwise): ``transition_model="matching"``,
a game whose class defines ``payoff_vjp`` (EDRP), and a leader reward linear in the served mass
that does not depend on the incentive directly. Cost per step: one equilibrium solve and one
adjoint solve on the model game, independent of N (EDRP v1: about 2-5 CPU s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg.leader import EDGE
from alloc_agents.stackelberg.leader_update import LeaderLearner
from alloc_agents.stackelberg.learned_game import LearnedMatchingGame
from alloc_agents.stackelberg.pathwise import reward_partials
from alloc_agents.stackelberg.regularisers import regularised_step
from alloc_envs.stackelberg.fokker_planck import Flow, rollout
from alloc_envs.stackelberg.game import uniform_policy
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.sensitivity import leader_gradient

#: Exploitability at which each step's equilibrium solve stops before its Newton refinement,
#: and the fixed-point residual the refinement aims at. On EDRP v1 (random charges in [0, 0.5],
#: warm start 0.01 away) the gradient's cosine with the one at the defaults (1e-6, 1e-12) is
#: 1.000000 and it costs 2.8 CPU s against 4.75
#: (``packages/alloc-agents/benchmarks/edrp_equilibrium_leader.py``).
SOLVER_TOLERANCE = 1e-4
FIXED_POINT_RESIDUAL = 1e-6


def model_matching_game(learned: LearnedMatchingGame) -> MatchingGame:
    """The true game with the learned follower laws (module docstring): success kernels ``D``
    (T, Y, S) and unmatched moves ``argmax_s' sum_t U[t, s, a, s']`` (S, A)."""
    moves = learned.unmatched.sum(axis=0).argmax(axis=-1)
    return learned.game.with_follower_laws(learned.destinations, moves)


def served_weights(game: MatchingGame, flow: Flow) -> np.ndarray:
    """(T, Y) ``d r_t / d served_t`` of ``game``'s leader reward along ``flow`` (central
    differences); ``ValueError`` when the reward depends on the incentive directly (the
    equilibrium gradient covers the incentive's effect through the followers only)."""
    rows = []
    for t, outcome in enumerate(flow.outcomes):
        _, d_served, d_incentive = reward_partials(
            game, t, outcome, flow.exogenous[t], flow.incentives[t]
        )
        if np.abs(d_incentive).max() > 1e-9:
            raise ValueError(
                f"{type(game).__name__}'s leader reward depends on the incentive directly: "
                "leader_gradient='equilibrium' does not cover it"
            )
        rows.append(d_served)
    return np.stack(rows)


class EquilibriumLeaderStep:
    """Leader steps on the equilibrium gradient of a model game (module docstring).

    Args:
        game: the model game (:func:`model_matching_game`), or any matching game with
            ``payoff_vjp`` (the true game gives the exact-gradient leader's direction).
        leader: the leader's learner (its network, features and settings; the steps use their
            own optimizer).
        temperature: the followers' entropy weight tau (reward units), as in the game's
            regularised equilibrium.
    """

    def __init__(self, game: MatchingGame, leader: LeaderLearner, temperature: float) -> None:
        if not hasattr(game, "payoff_vjp"):
            raise ValueError(
                f"{type(game).__name__} has no payoff_vjp: leader_gradient='equilibrium' needs "
                "the derivative of the followers' payoff in the incentive"
            )
        self.game, self.leader, self.temperature = game, leader, temperature
        net = leader.network
        low, high = (
            torch.tensor(np.array(bound), dtype=torch.float32, device=leader.device)
            for bound in (game.incentive_low, game.incentive_high)
        )
        self.low, self.width = low, high - low
        self.box = (game.incentive_low, game.incentive_high)
        self.actor, self.critic = (
            list(net.policy_net.parameters()),
            list(net.value_net.parameters()),
        )
        #: The steps' own Adam (the leader's learning rate): the leader's optimizer carries the
        #: moments of the REINFORCE steps of the first K1 episodes, whose gradients are orders
        #: of magnitude larger, and would shrink these steps for hundreds of iterations.
        self.optimizer = torch.optim.Adam(self.actor, lr=leader.config.leader_lr)
        uniform = uniform_policy(game, game.horizon)
        schedule = np.broadcast_to(game.incentive_low, (game.horizon, game.n_incentives))
        flow = rollout(game, uniform, schedule)
        self.weights = served_weights(game, flow)
        #: What the next step's leader observes: the last equilibrium flow's (T + 1, S)
        #: distributions and (T + 1, X) exogenous states (first: the uniform policy's flow).
        self.distributions, self.exogenous = flow.distributions, flow.exogenous
        #: The last equilibrium policy (T, S, A), the next solve's warm start.
        self.warm: np.ndarray | None = None

    def step(self) -> dict[str, float]:
        """One leader step (module docstring, 1-3); the row's terms: ``leader_policy_loss`` =
        ``-J`` (the model's equilibrium objective, EDRP: minus its ORR, before the step),
        ``leader_entropy``, ``leader_l1``, ``leader_value_loss`` (0: no baseline) and
        ``equilibrium_residual`` (the fixed point's)."""
        features = np.stack(
            [
                self.leader.features(t, self.distributions[t], self.exogenous[t])
                for t in range(self.game.horizon)
            ]
        )
        observation = torch.as_tensor(features, device=self.leader.device)
        law = self.leader.network.distribution(observation)
        z = law.mean().clamp(EDGE, 1.0 - EDGE)
        schedule = self.low + z * self.width  # (T, U)
        solved = leader_gradient(
            self.game,
            np.clip(schedule.detach().double().cpu().numpy(), *self.box),
            self.weights,
            temperature=self.temperature,
            initial_policy=self.warm,
            tolerance=SOLVER_TOLERANCE,
            fixed_point_residual=FIXED_POINT_RESIDUAL,
        )
        self.warm = solved.policy
        self.distributions, self.exogenous = solved.flow.distributions, solved.flow.exogenous
        slope = torch.as_tensor(solved.gradient, dtype=schedule.dtype, device=schedule.device)
        surrogate = (slope * schedule).sum()  # its gradient in omega is dJ/du . du/domega
        zero = torch.zeros((), device=schedule.device)
        cfg = self.leader.config
        entropy = law.entropy().mean()
        stats = regularised_step(
            self.optimizer, self.actor, self.critic, cfg, -surrogate, entropy, zero
        )
        stats["leader_policy_loss"] = -solved.value
        stats["equilibrium_residual"] = solved.fixed_point_residual
        return stats

    def state_dict(self) -> dict[str, Any]:
        """What the next step depends on besides the leader's network (so that a resumed run
        continues exactly): the optimizer, and as float64 tensors the observed flow and the
        warm start."""
        arrays = {"distributions": self.distributions, "exogenous": self.exogenous}
        if self.warm is not None:
            arrays["warm"] = self.warm
        state: dict[str, Any] = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        return {**state, "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.distributions = state["distributions"].numpy()
        self.exogenous = state["exogenous"].numpy()
        self.warm = state["warm"].numpy() if "warm" in state else None
