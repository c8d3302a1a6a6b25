"""The leader's pathwise gradient through TIRL's learned model (``leader_gradient="pathwise"``).

After the K1 N-agent episodes, TIRL's experience is generated: the mean field follows the
instantiated empirical Fokker-Planck equation with P_eta (Eq. 10,
:class:`~alloc_agents.stackelberg.learned_game.LearnedKernelGame`), and every other part of a
step is a known function (the followers' policy network, the matching rule, the leader's reward).
So the leader's return on the model is a differentiable function of the leader's parameters
omega, and its gradient can be taken through the model instead of estimated from one return
per episode by REINFORCE (:mod:`.leader_update`). :class:`ModelReturn` is that function; for
steps ``t = 0..T-1``, from ``m_0`` and ``x_0`` (the true game's):

1. ``u_t = low + z_t (high - low)``, ``z_t ~ Beta(alpha, beta)`` of the leader's network at its
   observation of ``(t, m_t, x_t)``, by ``rsample`` (differentiable in alpha, beta; or the mean
   ``E[z_t]``, deterministic). (U,) incentive units (EDRP: the share of the fare charged);
2. ``pi_t(a | s) = FollowerNetwork.step_policy(t, u_t)``, (S, A): the followers' current policy,
   differentiable in the incentive they observe (``observe_incentive=True`` is required);
3. the joint mean field ``L_t = m_t[:, None] pi_t`` (S, A), the arrivals ``n_t(y) = sum of L_t
   over the (s, a) with site_of[s, a] = y`` (Y,) and the served mass ``served_t = min(n_t, c_t)``
   with the game's capacity ``c_t = game.capacity(t, x_t)`` (Y,), all in shares of the
   population (the min rule is differentiated on the side it is on; a tie takes ``n``);
4. the leader's reward ``r_t = game.leader_reward(t, outcome, x_t, u_t)`` (the true game's numpy
   function, reward units per step: EDRP served orders / the day's expected orders, so that the
   return is the ORR), entered into the graph by its first-order expansion
   ``r_t + g_served . (served_t - served_t*) + g_u . (u_t - u_t*)`` around the forward values
   (starred), with ``g_served = dr/dserved`` (Y,) and ``g_u = dr/du`` (U,) taken by central
   differences of the game's function (exact up to rounding for rewards affine in each, as
   EDRP's and MTFG's are): the value is the game's and the gradient the chain rule's;
5. ``m_{t+1}`` (S,) by the learned game's flow (:mod:`~alloc_agents.stackelberg.model_flow`):
   ``vec(L_t) @ P_eta[t]`` with the paper's kernel (``transition_model="kernel"``), or with the
   matching structure (``"matching"``) ``vec(L_t (1 - p_t[site])) @ U[t] + served_t @ D[t]``,
   ``p_t = served_t / n_t``, which is differentiable in the served mass, so that the gradient
   sees a site saturate; the learned laws are constants.
   ``x_{t+1} = game.next_exogenous(t, outcome, x_t)`` (numpy, no gradient).

``J = sum_t r_t`` (the model's leader return; EDRP: the model's ORR). What is held constant: the
learned laws (fitted to the followers' moves, not functions of omega), the
exogenous state (EDRP's is the demand table and does not depend on the followers; MTFG's food
stock does, and its dependence is dropped), and the leader's *observation* of ``m_t`` and
``x_t`` (the closed-loop leader's features are computed from the detached values; an open-loop
leader is unaffected). Everything else is differentiated exactly, so for an open-loop leader
with mean incentives ``dJ/domega`` equals the finite-difference slope of ``J`` (tested).

:func:`pathwise_update` takes ``steps`` Adam steps of the leader's own optimizer on ``-J`` (one
``rsample`` path per step), with the §4.3 regularisers of Reg-TIRL
(:func:`~alloc_agents.stackelberg.regularisers.regularised_step`: entropy ``lambda mean_t
H[mu(. | o_t)]``, L1, weight clipping); the value baseline is not used. Its draws come from a
torch generator seeded from the leader's numpy generator (one seed per step), so a run is
seeded and resumes exactly. Cost per step: O(T (S A S + network)) on the tensors' device,
independent of N (EDRP v1: T = 36, S = 189, A = 25; the learned (T, S A, S) law is a float32
tensor of 129 MB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from alloc_agents.stackelberg.leader import EDGE
from alloc_agents.stackelberg.leader_update import LeaderLearner
from alloc_agents.stackelberg.learned_game import LearnedGame
from alloc_agents.stackelberg.model_flow import make_flow
from alloc_agents.stackelberg.network import FollowerNetwork
from alloc_agents.stackelberg.regularisers import regularised_step
from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome

#: Step of the central differences of the leader's reward (population shares and incentive
#: units); exact for rewards affine in the served mass and in the incentive.
REWARD_STEP = 1e-4


def reward_partials(
    game: MatchingGame,
    t: int,
    outcome: SiteOutcome,
    exogenous: np.ndarray,
    incentive: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """``(r, dr/dserved (Y,), dr/du (U,))`` of ``game.leader_reward`` at step ``t`` (float64),
    by central differences of step :data:`REWARD_STEP` (served mass at fixed incentive; the
    incentive at fixed outcome)."""
    h = REWARD_STEP

    def reward(served: np.ndarray, u: np.ndarray) -> float:
        shifted = SiteOutcome(outcome.mass, outcome.capacity, served)
        return float(game.leader_reward(t, shifted, exogenous, u))

    served, u = outcome.served, np.asarray(incentive, dtype=np.float64)
    d_served = _central_difference(lambda x: reward(x, u), served, h)
    d_incentive = _central_difference(lambda x: reward(served, x), u, h)
    return float(game.leader_reward(t, outcome, exogenous, u)), d_served, d_incentive


def _central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    """``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every coordinate i of the 1-D ``x``."""
    slope = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        slope[i] = (f(up) - f(down)) / (2 * h)
    return slope


class ModelReturn:
    """``J(omega)``, the leader's return on the learned model (module docstring).

    Args:
        learned: the learned game (:class:`~alloc_agents.stackelberg.learned_game.LearnedGame`:
            its flow, :func:`~alloc_agents.stackelberg.model_flow.make_flow`, copied to the
            followers' device and dtype; the true game's sizes, capacities, rewards and
            exogenous update).
        followers: the followers' network (must observe the incentive).
        leader: the leader's learner (network, features).
    """

    def __init__(
        self, learned: LearnedGame, followers: FollowerNetwork, leader: LeaderLearner
    ) -> None:
        if not followers.observes_incentive:
            raise ValueError(
                "the pathwise leader gradient needs followers that observe the incentive "
                "(follower.observe_incentive=True)"
            )
        game = learned.game
        self.game, self.followers, self.leader = game, followers, leader
        low = followers.incentive_low
        self.device, self.dtype = low.device, low.dtype
        self.flow = make_flow(learned, self.device, self.dtype)
        valid = np.flatnonzero((game.site_of >= 0).ravel())
        self.pairs = torch.as_tensor(valid, device=self.device)  # flat (s, a) with a site
        self.sites = torch.as_tensor(game.site_of.ravel()[valid], device=self.device)
        self.low = self._tensor(game.incentive_low)
        self.width = self._tensor(game.incentive_high) - self.low

    def _tensor(self, values: np.ndarray) -> Tensor:
        """A copy of ``values`` on the followers' device and dtype (the game's arrays are
        read-only)."""
        return torch.tensor(np.asarray(values), dtype=self.dtype, device=self.device)

    def __call__(self, sample: bool = True) -> tuple[Tensor, Tensor, dict[str, np.ndarray]]:
        """``(J, H, record)``: the model return (scalar tensor, differentiable in the leader's
        policy parameters), the leader's mean entropy over the T steps (scalar tensor, nats), and
        ``record`` with the (T, U) ``incentives`` played and the (T + 1, S) ``distributions``
        (float64 arrays). ``sample``: draw ``z_t`` by ``rsample`` from the global torch
        generator (:func:`pathwise_update` seeds it) rather than play ``E[z_t]``."""
        game, net = self.game, self.leader.network
        m = self._tensor(game.initial_distribution)
        x = np.array(game.initial_exogenous, dtype=np.float64)
        total = torch.zeros((), dtype=self.dtype, device=self.device)
        entropy = torch.zeros((), dtype=self.dtype, device=self.device)
        incentives, distributions = [], [game.initial_distribution]
        for t in range(game.horizon):
            m_seen = m.detach().cpu().double().numpy()
            observation = self._tensor(self.leader.features(t, m_seen, x))
            law = net.distribution(observation)
            entropy = entropy + law.entropy() / game.horizon
            beta = torch.distributions.Beta(law.alpha, law.beta)
            z = (beta.rsample() if sample else law.mean()).clamp(EDGE, 1.0 - EDGE)
            u = self.low + z * self.width
            reward, m, x = self.step(t, m, x, u)
            total = total + reward
            incentives.append(u.detach().cpu().double().numpy())
            distributions.append(m.detach().cpu().double().numpy())
        record = {"incentives": np.stack(incentives), "distributions": np.stack(distributions)}
        return total, entropy, record

    def step(
        self, t: int, m: Tensor, x: np.ndarray, u: Tensor
    ) -> tuple[Tensor, Tensor, np.ndarray]:
        """Steps 2-5 of the module docstring at step ``t`` from the (S,) ``m_t``, the (X,)
        ``x_t`` and the (U,) incentive ``u_t``: ``(r_t, m_{t+1}, x_{t+1})``, the leader's reward
        (scalar tensor, the game's value, differentiable in ``m_t`` and ``u_t``), the (S,) next
        mean field (tensor) and the (X,) next exogenous state (float64 array)."""
        game = self.game
        pi = self.followers.step_policy(t, u).log_probs.exp()
        joint = m[:, None] * pi
        arrivals = torch.zeros(game.n_sites, dtype=self.dtype, device=self.device)
        arrivals = arrivals.index_add(0, self.sites, joint.reshape(-1)[self.pairs])
        capacity = self._tensor(game.capacity(t, x))
        served = torch.minimum(arrivals, capacity)
        outcome = SiteOutcome(
            arrivals.detach().cpu().double().numpy(),
            capacity.detach().cpu().double().numpy(),
            served.detach().cpu().double().numpy(),
        )
        u_np = u.detach().cpu().double().numpy()
        reward, d_served, d_incentive = reward_partials(game, t, outcome, x, u_np)
        linear = (self._tensor(d_served) * (served - served.detach())).sum() + (
            self._tensor(d_incentive) * (u - u.detach())
        ).sum()
        m_next = self.flow(t, joint, arrivals, served)
        x_next = np.asarray(game.next_exogenous(t, outcome, x), dtype=np.float64)
        return reward + linear, m_next, x_next


@contextlib.contextmanager
def _seeded(device: torch.device, seed: int) -> Iterator[None]:
    """Seed the torch generator of ``device`` with ``seed`` (``torch.distributions`` samplers
    take no generator) and restore it afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


def pathwise_update(leader: LeaderLearner, objective: ModelReturn, steps: int) -> dict[str, float]:
    """``steps`` Adam steps of ``leader``'s optimizer on ``-J`` (module docstring), each on one
    ``rsample`` path seeded from ``leader.rng``. Returns the loss terms averaged over the steps,
    under :meth:`LeaderLearner.update`'s names (``leader_policy_loss`` = ``-J``, the model's
    leader return negated; ``leader_value_loss`` = 0: the baseline is not trained)."""
    net, cfg = leader.network, leader.config
    actor, critic = list(net.policy_net.parameters()), list(net.value_net.parameters())
    zero = torch.zeros((), device=objective.device)
    totals: dict[str, float] = {}
    for _ in range(steps):
        seed = int(leader.rng.integers(2**63 - 1))
        with _seeded(objective.device, seed):
            model_return, entropy, _ = objective(sample=True)
        stats = regularised_step(leader.optimizer, actor, critic, cfg, -model_return, entropy, zero)
        for key, value in stats.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: total / steps for key, total in totals.items()}
