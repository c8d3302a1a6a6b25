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
  a pre-training phase, then agents grouped by k-means on a VAE's agent embeddings
  (:mod:`alloc_agents.ppo.seps`; options: :class:`SePSConfig`).

Strategies whose groups change during training (SePS, DyPS) plug in by returning their
initial assignment from ``assign`` (and their member count from ``n_members``) and later calling
:meth:`alloc_agents.ppo.model.GroupModel.reassign` with a new assignment, optionally copying a
member's parameters into another (e.g. SePS: initialise every cluster's network from the
pre-trained shared one; DyPS: a new role inherits its majority predecessor's weights).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


class SharingStrategy(ABC):
    """Maps the agents of a space group to parameter members."""

    name: ClassVar[str]
    agent_id: ClassVar[bool] = False
    #: Whether each group also has a critic shared by all its agents (PSA).
    shared_critic: ClassVar[bool] = False

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


def _check_number(name: str, value: Any, low: float, high: float, *, low_open: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be in {left}{low}, {high}], got {value!r}")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class SePSConfig:
    """Options of the ``seps`` strategy, validated at construction (``ValueError`` naming the
    field). Defaults follow the research note (B.3) and the released SePS code.

    Attributes:
        pretrain_fraction: fraction of the training iterations run with full sharing while
            transitions are recorded (at least one iteration); clustering follows that phase.
        n_clusters: K, the number of parameter sets after clustering (capped at the number of
            agents of each space group).
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
    n_clusters: int = 4
    z_dim: int = 10
    vae_epochs: int = 10
    vae_lr: float = 3e-4
    vae_batch_size: int = 128
    vae_hidden: int = 64
    kl_weight: float = 1e-4
    kmeans_n_init: int = 10
    max_transitions: int = 100_000

    def __post_init__(self) -> None:
        _check_number("pretrain_fraction", self.pretrain_fraction, 0.0, 1.0, low_open=True)
        _check_int("n_clusters", self.n_clusters, 1)
        _check_int("z_dim", self.z_dim, 1)
        _check_int("vae_epochs", self.vae_epochs, 1)
        _check_number("vae_lr", self.vae_lr, 0.0, math.inf, low_open=True)
        _check_int("vae_batch_size", self.vae_batch_size, 1)
        _check_int("vae_hidden", self.vae_hidden, 1)
        _check_number("kl_weight", self.kl_weight, 0.0, math.inf, low_open=False)
        _check_int("kmeans_n_init", self.kmeans_n_init, 1)
        _check_int("max_transitions", self.max_transitions, 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_any(cls, options: SePSConfig | dict[str, Any] | None) -> SePSConfig:
        """A config from ``None`` (defaults), a dict of fields or a config."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if not isinstance(options, dict):
            raise ValueError(f"SePS options must be a SePSConfig or a dict, got {options!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown SePSConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**options)


class SePS(SharingStrategy):
    """SePS: ``min(K, A)`` members; all agents on member 0 until the clustering phase
    (:mod:`alloc_agents.ppo.seps`) reassigns them."""

    name = "seps"

    def __init__(self, config: SePSConfig | dict[str, Any] | None = None) -> None:
        self.config = SePSConfig.from_any(config)

    def options(self) -> dict[str, Any]:
        return self.config.to_dict()

    def assign(self, n_agents: int) -> np.ndarray:
        return np.zeros(n_agents, dtype=np.int64)

    def n_members(self, n_agents: int) -> int:
        return min(self.config.n_clusters, n_agents)


#: Strategies by name.
SHARING: dict[str, type[SharingStrategy]] = {
    cls.name: cls
    for cls in (ParameterSharing, ParameterSharingWithId, NoParameterSharing, PSA, SePS)
}


def make_sharing(name: str, options: Any = None) -> SharingStrategy:
    """The strategy ``name`` (``ValueError`` listing the known names); ``options``: the
    strategy's options (``seps``: a :class:`SePSConfig` or a dict of its fields; the other
    strategies take none)."""
    if name not in SHARING:
        raise ValueError(f"unknown sharing {name!r}; known: {sorted(SHARING)}")
    if name == "seps":
        return SePS(options)
    if options:
        raise ValueError(f"sharing {name!r} takes no options, got {options!r}")
    return SHARING[name]()
