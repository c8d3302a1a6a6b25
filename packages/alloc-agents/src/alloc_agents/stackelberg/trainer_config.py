"""Hyper-parameters of the leader trainers: :class:`StackelbergConfig` (SMFU and its variants)
and :class:`TIRLConfig` (adds the transition model).

The paper gives no values. Defaults: K = 300 outer iterations and K1 = 10 as proposed by
``research/smfg-reference.md`` §6.9; the rest are ours (leader lr 1e-2, 2 x 64 tanh MLPs like the
followers', P_eta with one hidden layer of 128 fitted by 30 Adam steps at lr 1e-2 per data
episode; the regularisers are off here and set by the Reg- methods,
:data:`alloc_agents.stackelberg.methods.REGULARISERS`). The package README gives the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alloc_agents.options import Options, check_sizes
from alloc_agents.ppo.config import ACTIVATIONS
from alloc_agents.stackelberg.config import FollowerPPOConfig
from alloc_agents.stackelberg.leader import HEADS
from alloc_envs.core.validation import check_choice, check_int, check_number

#: ``leader_gradient`` values of TIRL after K1: the paper's REINFORCE on the generated episodes
#: (:mod:`.leader_update`), the gradient of the model's return under the current followers
#: (:mod:`.pathwise`) or at the followers' equilibrium of the model (:mod:`.equilibrium_leader`).
LEADER_GRADIENTS = ("reinforce", "pathwise", "equilibrium")

#: ``transition_model`` values of :class:`TIRLConfig`: the paper's P_eta(s' | t, s, a)
#: (:mod:`.transition`) or the matching structure with learned laws (:mod:`.matching_model`).
TRANSITION_MODELS = ("kernel", "matching")

#: ``leader_mode`` values: the learned closed-loop leader (SMFU, TIRL), the learned open-loop
#: leader ``mu(u | t)`` (SMFU-w/o-L, reading B) and no leader (u = 0: SMFU-w/o-L, reading A).
LEADER_MODES = ("closed_loop", "open_loop", "none")


@dataclass(frozen=True)
class StackelbergConfig(Options):
    """Settings of the shared leader-trainer loop, validated at construction (``ValueError``
    naming the field).

    Attributes:
        iterations: K, outer iterations of :meth:`StackelbergTrainer.train`. One outer iteration
            plays ``follower_iterations`` episodes, updates the followers after each (Eq. 4 /
            Eq. 9) and then the leader once on all of them (Eq. 3 / Eq. 8).
        follower_iterations: episodes (follower updates) per outer iteration; 1 (default) is
            the paper's alternation, more gives the followers a faster time scale and the leader
            a larger batch.
        follower: the followers' PPO settings (:class:`FollowerPPOConfig`: N =
            ``follower.n_followers`` per N-agent episode; ``follower.iterations`` is not used
            here).
        leader_mode: ``"closed_loop"`` (SMFU, TIRL), ``"open_loop"`` or ``"none"`` (the two
            readings of SMFU-w/o-L; :data:`LEADER_MODES`).
        leader_lr: Adam learning rate of the leader's policy and baseline.
        leader_hidden_sizes, leader_activation: the leader's MLPs.
        leader_head: ``"joint"`` (default: one MLP gives every incentive dimension's law, the
            paper's leader) or ``"per_dimension"`` (ours: one MLP shared by the dimensions
            reads each one's local state; a matching game and the closed-loop leader only).
            See :mod:`alloc_agents.stackelberg.leader`.
        leader_max_grad_norm: gradient-norm clip, applied to the policy and the baseline
            separately.
        entropy_coef: lambda, weight of the leader's entropy bonus (§4.3; 0: off).
        l1_coef: delta, weight of the L1 norm of the leader's policy parameters (§4.3; 0: off).
        weight_clip: c, clip the leader's policy parameters to [-c, c] after each update
            (§4.3; ``None``: off).
    """

    iterations: int = 300
    follower_iterations: int = 1
    follower: FollowerPPOConfig = field(default_factory=FollowerPPOConfig)
    leader_mode: str = "closed_loop"
    leader_lr: float = 1e-2
    leader_hidden_sizes: tuple[int, ...] = (64, 64)
    leader_activation: str = "tanh"
    leader_head: str = "joint"
    leader_max_grad_norm: float = 1.0
    entropy_coef: float = 0.0
    l1_coef: float = 0.0
    weight_clip: float | None = None

    def __post_init__(self) -> None:
        check_int("iterations", self.iterations, 0, 10**7)
        check_int("follower_iterations", self.follower_iterations, 1, 10**4)
        if not isinstance(self.follower, FollowerPPOConfig):
            raise ValueError(f"follower must be a FollowerPPOConfig, got {self.follower!r}")
        check_choice("leader_mode", self.leader_mode, LEADER_MODES)
        check_number("leader_lr", self.leader_lr, 0.0, 1.0, low_inclusive=False)
        sizes = check_sizes("leader_hidden_sizes", self.leader_hidden_sizes, allow_empty=False)
        object.__setattr__(self, "leader_hidden_sizes", sizes)
        check_choice("leader_activation", self.leader_activation, ACTIVATIONS)
        check_choice("leader_head", self.leader_head, HEADS)
        if self.leader_head != "joint" and self.leader_mode == "open_loop":
            raise ValueError(
                f"leader_head={self.leader_head!r} reads the dimensions' local state, which "
                "the open-loop leader does not observe; use leader_head='joint'"
            )
        check_number(
            "leader_max_grad_norm", self.leader_max_grad_norm, 0.0, 1e9, low_inclusive=False
        )
        check_number("entropy_coef", self.entropy_coef, 0.0, 1e6)
        check_number("l1_coef", self.l1_coef, 0.0, 1e6)
        if self.weight_clip is not None:
            check_number("weight_clip", self.weight_clip, 0.0, 1e6, low_inclusive=False)

    @property
    def learns_leader(self) -> bool:
        """Whether there is a leader to train (every mode but ``"none"``)."""
        return self.leader_mode != "none"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackelbergConfig:
        """Inverse of :meth:`to_dict` (lists become tuples)."""
        fields = {
            **data,
            "follower": FollowerPPOConfig.from_dict(data["follower"]),
            **{k: tuple(v) for k, v in data.items() if k.endswith("hidden_sizes")},
        }
        return cls(**fields)


@dataclass(frozen=True)
class TIRLConfig(StackelbergConfig):
    """:class:`StackelbergConfig` plus TIRL's transition model P_eta (Eq. 7).

    Attributes:
        model_episodes: K1, the episodes of N-agent interaction whose transitions (t, s, a, s')
            train P_eta; every later episode generates the mean field with the instantiated
            empirical Fokker-Planck equation (Eq. 10) instead.
        model_hidden_sizes: hidden widths of the P_eta MLP on ``[one-hot (s, a), one-hot t]``;
            ``()`` makes P_eta a table of logits (its NLL minimiser is the empirical frequency).
        model_activation: the MLP's activation.
        model_lr: Adam learning rate of P_eta.
        model_epochs: full-batch NLL steps after each of the first K1 episodes.
        leader_gradient: the leader's update in an outer iteration whose episodes are all
            generated: ``"reinforce"`` (default, the paper's: one REINFORCE step on the
            generated episodes' returns, as in the first K1) or ``"pathwise"`` (ours:
            ``pathwise_steps`` Adam steps on the gradient of the leader's return through the
            learned model, :mod:`~alloc_agents.stackelberg.pathwise`; needs followers that
            observe the incentive) or ``"equilibrium"`` (ours: one Adam step per outer iteration
            on the gradient of the leader's objective at the followers' regularised equilibrium
            of the learned model, :mod:`~alloc_agents.stackelberg.equilibrium_leader`; needs
            ``transition_model="matching"``). :data:`LEADER_GRADIENTS`.
        pathwise_steps: Adam steps of the leader per outer iteration with
            ``leader_gradient="pathwise"`` (not used otherwise).
        equilibrium_steps: with ``leader_gradient="equilibrium"``, the leader's steps in the
            whole run, one per outer iteration after K1; the leader is fixed after them while
            the followers keep training (each step costs an equilibrium solve; not used
            otherwise).
        transition_model: ``"kernel"`` (default, the paper's P_eta(s' | t, s, a)) or
            ``"matching"`` (ours: the matching game's structure, the next state of a matched
            follower with the match probability of the generated mean field's outcome and of an
            unmatched one otherwise, both laws learned;
            :mod:`~alloc_agents.stackelberg.matching_model`). The ``model_*`` settings apply to
            each learned law. :data:`TRANSITION_MODELS`.
    """

    model_episodes: int = 10
    model_hidden_sizes: tuple[int, ...] = (128,)
    model_activation: str = "tanh"
    model_lr: float = 1e-2
    model_epochs: int = 30
    leader_gradient: str = "reinforce"
    pathwise_steps: int = 10
    equilibrium_steps: int = 50
    transition_model: str = "kernel"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("model_episodes", self.model_episodes, 1, 10**7)
        sizes = check_sizes("model_hidden_sizes", self.model_hidden_sizes, allow_empty=True)
        object.__setattr__(self, "model_hidden_sizes", sizes)
        check_choice("model_activation", self.model_activation, ACTIVATIONS)
        check_number("model_lr", self.model_lr, 0.0, 1.0, low_inclusive=False)
        check_int("model_epochs", self.model_epochs, 1, 10**6)
        check_choice("leader_gradient", self.leader_gradient, LEADER_GRADIENTS)
        check_int("pathwise_steps", self.pathwise_steps, 1, 10**6)
        check_int("equilibrium_steps", self.equilibrium_steps, 1, 10**6)
        check_choice("transition_model", self.transition_model, TRANSITION_MODELS)
        if self.leader_gradient == "equilibrium" and self.transition_model != "matching":
            raise ValueError(
                "leader_gradient='equilibrium' solves the followers' equilibrium on the learned "
                "matching model: it needs transition_model='matching'"
            )
        if self.leader_gradient == "pathwise" and not self.follower.observe_incentive:
            raise ValueError(
                "leader_gradient='pathwise' differentiates the followers' policy in the "
                "incentive they observe: it needs follower.observe_incentive=True"
            )
