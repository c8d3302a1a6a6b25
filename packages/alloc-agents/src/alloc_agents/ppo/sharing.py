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
* ``nops`` — one member per agent (A members), evaluated in one batched matmul.

Strategies whose groups change during training (PSA, SePS, DyPS) plug in by returning their
initial assignment from ``assign`` and later calling
:meth:`alloc_agents.ppo.model.GroupModel.reassign` with a new assignment, optionally copying a
member's parameters into another (e.g. SePS: initialise every cluster's network from the
pre-trained shared one; DyPS: a new role inherits its majority predecessor's weights).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class SharingStrategy(ABC):
    """Maps the agents of a space group to parameter members."""

    name: ClassVar[str]
    agent_id: ClassVar[bool] = False

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


#: Strategies by name.
SHARING: dict[str, type[SharingStrategy]] = {
    cls.name: cls for cls in (ParameterSharing, ParameterSharingWithId, NoParameterSharing)
}


def make_sharing(name: str) -> SharingStrategy:
    """The strategy ``name`` (``ValueError`` listing the known names)."""
    if name not in SHARING:
        raise ValueError(f"unknown sharing {name!r}; known: {sorted(SHARING)}")
    return SHARING[name]()
