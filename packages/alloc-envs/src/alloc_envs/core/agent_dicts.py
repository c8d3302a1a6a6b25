"""Per-agent dicts that remember the agent-major arrays they were cut from.

PettingZoo speaks in ``{agent: value}`` dicts; simulators and batched policies speak in joint,
agent-major arrays (one row per agent). Going back and forth costs a Python call per agent and
key at every step. An :class:`AgentDict` is an ordinary dict (every PettingZoo tool reads it as
one) that also carries ``joint``, the arrays its values are rows of, and ``agents``, the names
of those rows in order. A consumer that knows about it (the PettingZoo view's ``step``, the
policies' ``act_parallel``, the PPO runner) reads ``joint`` instead of the N entries; anything
else sees the plain dict. Changing an entry (``d[a] = ...``, ``del``, ``update``, ``pop``...)
drops ``joint``, since it would no longer describe the dict; changing the arrays in place
changes both, as the values are views of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

Joint = np.ndarray | Mapping[str, np.ndarray]


class AgentDict(dict):
    """``{agent: row}`` with ``joint`` (an (N, ...) array or a dict of them) and ``agents``
    (the N names, in row order); ``joint`` is ``None`` once an entry has been changed."""

    __slots__ = ("agents", "joint")

    def __init__(self, items: Iterable[tuple[str, Any]], joint: Joint, agents: Sequence[str]):
        super().__init__(items)
        self.joint: Joint | None = joint
        self.agents = agents

    @classmethod
    def of_rows(cls, joint: Joint, agents: Sequence[str]) -> AgentDict:
        """Row i of ``joint`` (of every array, for a dict) under the name ``agents[i]``; the
        rows are views (numpy's own iteration makes them, with no Python call per row)."""
        if isinstance(joint, Mapping):
            keys = list(joint)
            columns = [list(joint[k]) for k in keys]
            rows: list[Any] = [
                dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)
            ]
        else:
            rows = list(joint)
        return cls(zip(agents, rows, strict=True), joint, agents)

    def joint_for(self, agents: Sequence[str]) -> Joint | None:
        """``joint`` if it still describes this dict and its rows are ``agents`` (in order),
        else ``None`` (then read the entries)."""
        if self.joint is None or len(self) != len(agents):
            return None
        if self.agents is not agents and tuple(self.agents) != tuple(agents):
            return None
        return self.joint

    def __reduce__(self) -> tuple:
        # Copies and pickles rebuild the entries and the joint arrays.
        return (type(self), (list(self.items()), self.joint, self.agents))

    def _changed(self) -> None:
        self.joint = None

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> AgentDict:
        self._changed()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self._changed()
        return super().setdefault(key, default)

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        self._changed()
        super().clear()
