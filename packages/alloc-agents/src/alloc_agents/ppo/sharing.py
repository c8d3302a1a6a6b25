"""Parameter-sharing strategies: which agents of a space group use which parameters.

A strategy is orthogonal to the learning algorithm. Within a space group of A agents (agents with
identical spaces; see :mod:`alloc_agents.ppo.spaces`) the group's networks hold ``M`` parameter
sets ("members", batched: :mod:`alloc_agents.ppo.batched`) and a strategy gives

* ``assign(A)``: an (A,) integer array, the member of each agent (``0 .. M - 1``);
* ``agent_id``: whether the actor (and an IPPO critic) also read a one-hot of the agent's
  position in its group.

Built in:

* ``ps`` — one member per space group: every agent of the group shares all parameters;
* ``ps-id`` — ``ps`` plus the one-hot agent id appended to the network inputs;
* ``nops`` — one member per agent (A members), evaluated in one batched matmul;
* ``psa`` — PSA as the DyPS paper (§4.2) describes it: every agent its own actor and critic
  (batched, as ``nops``) plus one critic shared by all agents of the group; each actor is
  trained with the mean of the two critics' GAE advantages (:mod:`alloc_agents.ppo.trainer`);
* ``seps`` — SePS (Christianos et al., ICML 2021): ``K`` members, every agent on member 0 during
  a pre-training phase, then agents grouped by k-means on a VAE's agent embeddings, K given or
  chosen by the Davies–Bouldin index (:mod:`alloc_agents.ppo.seps`; options:
  :class:`SePSConfig`);
* ``dyps`` — DyPS (the DyPS paper): ``n_groups`` members; a learned group selection assigns
  every agent to a member at the start of every iteration from VLSTM agent roles and CVAE group
  roles (:mod:`alloc_agents.ppo.dyps`; options: :class:`DyPSConfig`);
* ``role-as-state`` — Role-As-State (the DyPS paper's §4.5 comparison): one member, as ``ps``,
  whose actor and critic also read the agent's VLSTM role h^(a) (the same role model as DyPS,
  refreshed after every rollout; :mod:`alloc_agents.ppo.role_state`; options:
  :class:`RoleAsStateConfig`).

Strategies whose groups change during training (SePS, DyPS) plug in by returning their
initial assignment from ``assign`` (and their member count from ``n_members``) and later calling
:meth:`alloc_agents.ppo.model.GroupModel.reassign` with a new assignment, optionally copying a
member's parameters into another (e.g. SePS: initialise every cluster's network from the
pre-trained shared one; DyPS moves agents between members that keep their weights).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from alloc_agents.options import Options, check_int, check_number


class SharingStrategy(ABC):
    """Maps the agents of a space group to parameter members."""

    name: ClassVar[str]
    agent_id: ClassVar[bool] = False
    #: Whether each group also has a critic shared by all its agents (PSA).
    shared_critic: ClassVar[bool] = False

    @property
    def input_role_dim(self) -> int:
        """Width of the per-agent role appended to the actor's and critic's inputs (0: none;
        Role-As-State: the VLSTM's ``role_dim``)."""
        return 0

    def options(self) -> dict[str, Any]:
        """The strategy's options as plain containers (saved in checkpoints)."""
        return {}

    @abstractmethod
    def assign(self, n_agents: int) -> np.ndarray:
        """(n_agents,) int64 member index per agent; members are ``0 .. max``."""

    def n_members(self, n_agents: int) -> int:
        """Number of parameter sets for a group of ``n_agents``."""
        return int(self.assign(n_agents).max()) + 1


class ParameterSharing(SharingStrategy):
    """PS: all agents of a space group share one network."""

    name = "ps"

    def assign(self, n_agents: int) -> np.ndarray:
        return np.zeros(n_agents, dtype=np.int64)


class ParameterSharingWithId(ParameterSharing):
    """PS-id: one shared network that also reads a one-hot agent id."""

    name = "ps-id"
    agent_id = True


class NoParameterSharing(SharingStrategy):
    """NoPS: a network per agent (batched weights, one forward for all agents)."""

    name = "nops"

    def assign(self, n_agents: int) -> np.ndarray:
        return np.arange(n_agents, dtype=np.int64)


class PSA(NoParameterSharing):
    """PSA: per-agent actors and critics (batched, as NoPS) plus a critic shared by the group.

    The DyPS paper (§4.2) describes PSA as "an actor and a critic" per agent "to model the
    spatio-temporal differences of each agent" and "a shared critic to model the spatio-temporal
    commonality of agents. These two critics will work together to train the actor of each
    agent." The combination used here: both critics regress the agent's own GAE return, and the
    actor's advantage is the mean of the two GAE advantages (equivalently GAE with the mean of
    the two values as the baseline), then standardised as for every strategy.
    """

    name = "psa"
    shared_critic = True


#: ``SePSConfig.n_clusters`` value that chooses K by the Davies–Bouldin index.
AUTO = "auto"


@dataclass(frozen=True)
class SePSConfig(Options):
    """Options of the ``seps`` strategy, validated at construction (``ValueError`` naming the
    field). Defaults follow the research note (B.3) and the released SePS code.

    Attributes:
        pretrain_fraction: fraction of the training iterations run with full sharing while
            transitions are recorded (at least one iteration); clustering follows that phase.
        n_clusters: K, the number of parameter sets after clustering (capped at the number of
            agents of each space group), or ``"auto"`` (``None`` is read as ``"auto"``): K is
            chosen per space group by the Davies–Bouldin index, as in the SePS paper and code —
            k-means on the agents' embeddings for every K in ``2 .. min(A - 1, max_clusters)``
            and the K with the lowest index is kept (ties: the smallest K). A group of fewer
            than 3 agents has no such K and keeps one shared network (K = 1), as does a group
            whose embeddings do not separate (fewer than 2 distinct clusters for every K).
        max_clusters: the largest K tried by ``n_clusters="auto"`` (at least 2; the released
            code creates ``min(10, N)`` networks, hence the default 10).
        z_dim: dimension of the VAE's agent embedding z.
        vae_epochs: passes of the VAE over the recorded transitions.
        vae_lr: Adam learning rate of the VAE.
        vae_batch_size: VAE minibatch size.
        vae_hidden: width of the VAE's hidden layers.
        kl_weight: weight of KL(q(z | id) ‖ N(0, I)) in the VAE loss.
        kmeans_n_init: k-means restarts (k-means++ initialisation each); the lowest inertia wins.
        max_transitions: recorded transitions kept per space group (the latest ones).
    """

    pretrain_fraction: float = 0.05
    n_clusters: int | str | None = 4
    max_clusters: int = 10
    z_dim: int = 10
    vae_epochs: int = 10
    vae_lr: float = 3e-4
    vae_batch_size: int = 128
    vae_hidden: int = 64
    kl_weight: float = 1e-4
    kmeans_n_init: int = 10
    max_transitions: int = 100_000

    def __post_init__(self) -> None:
        check_number("pretrain_fraction", self.pretrain_fraction, 0.0, 1.0, low_open=True)
        if self.n_clusters is None or self.n_clusters == AUTO:
            object.__setattr__(self, "n_clusters", AUTO)
        elif isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, int):
            raise ValueError(
                f"n_clusters must be an integer >= 1 or 'auto', got {self.n_clusters!r}"
            )
        else:
            check_int("n_clusters", self.n_clusters, 1)
        check_int("max_clusters", self.max_clusters, 2)
        check_int("z_dim", self.z_dim, 1)
        check_int("vae_epochs", self.vae_epochs, 1)
        check_number("vae_lr", self.vae_lr, 0.0, math.inf, low_open=True)
        check_int("vae_batch_size", self.vae_batch_size, 1)
        check_int("vae_hidden", self.vae_hidden, 1)
        check_number("kl_weight", self.kl_weight, 0.0, math.inf, low_open=False)
        check_int("kmeans_n_init", self.kmeans_n_init, 1)
        check_int("max_transitions", self.max_transitions, 1)

    @property
    def auto(self) -> bool:
        """Whether K is chosen by the Davies–Bouldin index (``n_clusters="auto"``)."""
        return self.n_clusters == AUTO

    def n_members(self, n_agents: int) -> int:
        """Parameter sets of a group of ``n_agents``: ``min(K, A)``, or with ``"auto"`` the
        largest K that may be chosen, ``min(max_clusters, A - 1)`` (1 below 3 agents)."""
        if self.auto:
            return min(self.max_clusters, n_agents - 1) if n_agents >= 3 else 1
        assert isinstance(self.n_clusters, int)
        return min(self.n_clusters, n_agents)


class ConfiguredSharing(SharingStrategy):
    """A strategy with options (a ``config_class`` instance): every agent starts on member 0
    (the dynamic strategies, SePS and DyPS, move agents to other members during training)."""

    config_class: ClassVar[type[Options]]

    def __init__(self, config: Options | dict[str, Any] | None = None) -> None:
        self.config: Any = self.config_class.from_any(config)

    def options(self) -> dict[str, Any]:
        return self.config.to_dict()

    def assign(self, n_agents: int) -> np.ndarray:
        return np.zeros(n_agents, dtype=np.int64)


class SePS(ConfiguredSharing):
    """SePS: ``min(K, A)`` members (``"auto"``: up to ``min(max_clusters, A - 1)``); all agents
    on member 0 until the clustering phase (:mod:`alloc_agents.ppo.seps`) reassigns them."""

    name = "seps"
    config_class = SePSConfig

    def n_members(self, n_agents: int) -> int:
        return self.config.n_members(n_agents)


#: DyPS group-selection variants: the full method and the paper's three ablations.
DYPS_VARIANTS = ("full", "no-cvae", "no-vlstm", "no-repr")
#: DyPS selector credits: each agent's own return, or the paper's team return.
DYPS_CREDITS = ("agent", "team")
#: DyPS selector inputs: centred and scaled across agents / groups, or as the role models give.
DYPS_CONDITIONING = ("normalised", "raw")


@dataclass(frozen=True)
class VLSTMRoleConfig(Options):
    """Options of the VLSTM agent-role model (:mod:`alloc_agents.ppo.agent_roles`) shared by
    DyPS and Role-As-State, validated at construction (``ValueError`` naming the field).

    Attributes:
        role_dim: LSTM width of the VLSTM = dimension of an agent's role (A.1: 64).
        vlstm_z_dim / vlstm_hidden / vlstm_lr: VLSTM latent width, MLP width, Adam rate.
        vlstm_sequences: (agent, env copy) sequences per VLSTM step (a random subset).
    """

    role_dim: int = 64
    vlstm_z_dim: int = 16
    vlstm_hidden: int = 64
    vlstm_lr: float = 1e-3
    vlstm_sequences: int = 128

    def __post_init__(self) -> None:
        for name in ("role_dim", "vlstm_z_dim", "vlstm_hidden", "vlstm_sequences"):
            check_int(name, getattr(self, name), 1)
        check_number("vlstm_lr", self.vlstm_lr, 0.0, math.inf, low_open=True)


@dataclass(frozen=True)
class DyPSConfig(VLSTMRoleConfig):
    """Options of the ``dyps`` strategy (:mod:`alloc_agents.ppo.dyps`), validated at
    construction (``ValueError`` naming the field). The VLSTM's fields (``role_dim``,
    ``vlstm_*``) are those of :class:`VLSTMRoleConfig`. :data:`DYPS_TABLE6` holds the paper's
    selector setting (Table 6, Ride-Hailing; ``DyPSConfig(**DYPS_TABLE6)``).

    Attributes:
        n_groups: M, parameter groups per space group (capped at its number of agents); the
            paper's best on Ride-Hailing (2) is 4.
        variant: ``"full"`` or an ablation (:mod:`alloc_agents.ppo.dyps`).
        credit: the selector's reward for agent n in env copy e: ``"agent"`` — the agent's own
            return minus its running baseline, standardised across agents; ``"team"`` — the
            paper's team return of the copy (all agents), normalised by running statistics,
            minus the selector critic's value.
        conditioning: Eq. 13's inputs: ``"normalised"`` — the roles h centred across agents
            and scaled to unit RMS norm, the latents z centred across groups and scaled to unit
            RMS norm; ``"raw"`` — as the role models give them (the paper).
        selector_lr / selector_critic_lr: Adam learning rates of the group selection's actor
            and critic (the critic: team credit only; Table 6, Ride-Hailing: 1e-4 both).
        selector_steps: Adam steps of the selector per iteration on the iteration's samples
            (one sample per env copy).
        selector_entropy: entropy bonus of the selector (mean over agents).
        selector_hidden: hidden width of the selector's MLPs (critic; ablation actors).
        cvae_z_dim / cvae_hidden / cvae_lr: CVAE latent (A.1: 16), MLP width (A.1: 64), rate.
        cvae_steps / cvae_batch_size: CVAE Adam steps per iteration and rows per step.
        cvae_kl_weight: weight of the CVAE's KL term (the reference code's 1e-4; see
            :mod:`alloc_agents.ppo.roles`).
        reward_beta: weight of the running statistics of the credit (per-agent baselines, the
            team return's mean and variance).
        warmup_iterations: iterations, at the start, in which every agent stays on a member of
            a fixed random partition into balanced disjoint subsets (the members train on
            different agents) and the selector does not learn; 0: none.
    """

    n_groups: int = 4
    variant: str = "full"
    credit: str = "agent"
    conditioning: str = "normalised"
    selector_lr: float = 3e-2
    selector_critic_lr: float = 1e-4
    selector_steps: int = 1
    selector_entropy: float = 0.01
    selector_hidden: int = 64
    cvae_z_dim: int = 16
    cvae_hidden: int = 64
    cvae_lr: float = 1e-3
    cvae_steps: int = 20
    cvae_batch_size: int = 1024
    cvae_kl_weight: float = 1e-4
    reward_beta: float = 0.9
    warmup_iterations: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value, allowed in (
            ("variant", self.variant, DYPS_VARIANTS),
            ("credit", self.credit, DYPS_CREDITS),
            ("conditioning", self.conditioning, DYPS_CONDITIONING),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        sizes = ("n_groups", "selector_hidden", "cvae_z_dim", "cvae_hidden", "cvae_batch_size")
        for name in (*sizes, "selector_steps"):
            check_int(name, getattr(self, name), 1)
        check_int("cvae_steps", self.cvae_steps, 0)
        check_int("warmup_iterations", self.warmup_iterations, 0)
        for name in ("selector_lr", "selector_critic_lr", "cvae_lr"):
            check_number(name, getattr(self, name), 0.0, math.inf, low_open=True)
        check_number("selector_entropy", self.selector_entropy, 0.0, math.inf, low_open=False)
        check_number("cvae_kl_weight", self.cvae_kl_weight, 0.0, math.inf, low_open=False)
        check_number("reward_beta", self.reward_beta, 0.0, 1.0, low_open=False)
        if self.reward_beta == 1.0:
            raise ValueError("reward_beta must be in [0, 1), got 1.0")

    @property
    def uses_roles(self) -> bool:
        """Whether the selection reads the VLSTM roles."""
        return self.variant in ("full", "no-cvae")

    @property
    def uses_latents(self) -> bool:
        """Whether the selection reads the CVAE group latents."""
        return self.variant in ("full", "no-vlstm")


#: The DyPS paper's selector (Table 6, Ride-Hailing; §3.3): the team return as the reward,
#: Eq. 13 on the raw roles and latents, Adam at 1e-4 for the actor and the critic.
DYPS_TABLE6: dict[str, Any] = {
    "credit": "team",
    "conditioning": "raw",
    "selector_lr": 1e-4,
    "selector_critic_lr": 1e-4,
    "selector_steps": 1,
}


class DyPS(ConfiguredSharing):
    """DyPS: ``min(n_groups, A)`` members; the group of every agent is chosen at the start of
    every iteration by :class:`alloc_agents.ppo.dyps.DyPSController` (all on member 0 before)."""

    name = "dyps"
    config_class = DyPSConfig

    def n_members(self, n_agents: int) -> int:
        return min(self.config.n_groups, n_agents)


@dataclass(frozen=True)
class RoleAsStateConfig(VLSTMRoleConfig):
    """Options of the ``role-as-state`` strategy (:mod:`alloc_agents.ppo.role_state`): the
    VLSTM role model's, with the same meaning and defaults as in :class:`DyPSConfig`
    (``role_dim`` is also the number of role features appended to the network inputs)."""


class RoleAsState(ConfiguredSharing):
    """Role-As-State: one member (as ``ps``); the actor and critic inputs end with the agent's
    VLSTM role, set by :class:`alloc_agents.ppo.role_state.RoleStateController` after every
    rollout (zeros before the first)."""

    name = "role-as-state"
    config_class = RoleAsStateConfig

    @property
    def input_role_dim(self) -> int:
        return self.config.role_dim


#: Strategies by name.
SHARING: dict[str, type[SharingStrategy]] = {
    cls.name: cls
    for cls in (
        ParameterSharing,
        ParameterSharingWithId,
        NoParameterSharing,
        PSA,
        SePS,
        DyPS,
        RoleAsState,
    )
}


def make_sharing(name: str, options: Any = None) -> SharingStrategy:
    """The strategy ``name`` (``ValueError`` listing the known names); ``options``: the
    strategy's options (``seps``: a :class:`SePSConfig`, ``dyps``: a :class:`DyPSConfig`,
    ``role-as-state``: a :class:`RoleAsStateConfig`, or a dict of its fields; the other
    strategies take none)."""
    if name not in SHARING:
        raise ValueError(f"unknown sharing {name!r}; known: {sorted(SHARING)}")
    cls = SHARING[name]
    if issubclass(cls, ConfiguredSharing):
        return cls(options)
    if options:
        raise ValueError(f"sharing {name!r} takes no options, got {options!r}")
    return cls()
