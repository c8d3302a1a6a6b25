"""Per-agent dicts that remember the agent-major arrays they were cut from.

PettingZoo speaks in ``{agent: value}`` dicts; simulators and batched policies speak in joint,
agent-major arrays (one row per agent). Going back and forth costs a Python call per agent and
key at every step. An :class:`AgentDict` is a dict (every PettingZoo tool reads it as one) that
also carries ``joint``, the arrays its values are rows of, and ``agents``, the names of those
rows in order. A consumer that knows about it (the PettingZoo view's ``step``, the policies'
``act_parallel``, the PPO runner) reads ``joint``; anything else sees the plain dict.

:meth:`AgentDict.of_rows` makes the entries only when something reads them (its length and its
iteration order are the names and need none): a step whose observations and actions only pass
through ``joint`` does no per-agent work at all. Changing an entry (``d[a] = ...``, ``del``,
``update``, ``pop``...) drops ``joint``, since it would no longer describe the dict; changing
the arrays in place changes both, as the entries are views of them.
"""

from __future__ import annotations

from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from typing import Any

import numpy as np

Joint = np.ndarray | Mapping[str, np.ndarray]


def rows_of(joint: Joint) -> list[Any]:
    """Row i of ``joint`` (of every array, as a dict, for a dict of arrays), for every i; the
    rows are views made by numpy's own iteration, with no Python call per row and key."""
    if isinstance(joint, Mapping):
        keys = list(joint)
        columns = [list(joint[k]) for k in keys]
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    return list(joint)


class AgentDict(dict):
    """``{agent: row}`` with ``joint`` (an (N, ...) array or a dict of them) and ``agents``
    (the N names, in row order); ``joint`` is ``None`` once an entry has been changed."""

    __slots__ = ("_unfilled", "agents", "joint")

    def __init__(self, items: Iterable[tuple[str, Any]], joint: Joint, agents: Sequence[str]):
        super().__init__(items)
        self.joint: Joint | None = joint
        self.agents = agents
        self._unfilled = False

    @classmethod
    def of_rows(cls, joint: Joint, agents: Sequence[str]) -> AgentDict:
        """Row i of ``joint`` under the name ``agents[i]`` (:func:`rows_of`), made when first
        read."""
        d = cls((), joint, agents)
        d._unfilled = True
        return d

    def _fill(self) -> None:
        if self._unfilled:
            self._unfilled = False
            assert self.joint is not None
            dict.update(self, zip(self.agents, rows_of(self.joint), strict=True))

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

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.agents) if self._unfilled else super().__len__()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.agents)) if self._unfilled else super().__iter__()

    def __reversed__(self) -> Iterator[str]:
        self._fill()
        return super().__reversed__()

    def __getitem__(self, key: str) -> Any:
        self._fill()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._fill()
        return super().get(key, default)

    def keys(self) -> KeysView[str]:
        self._fill()
        return super().keys()

    def values(self) -> ValuesView[Any]:
        self._fill()
        return super().values()

    def items(self) -> ItemsView[str, Any]:
        self._fill()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(super().items())

    def __eq__(self, other: object) -> bool:
        self._fill()
        if isinstance(other, AgentDict):
            other._fill()
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Any) -> dict[str, Any]:
        return self.copy() | other

    def __ror__(self, other: Any) -> dict[str, Any]:
        return dict(other) | self.copy()

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    # ------------------------------------------------------------------ changing
    def _changed(self) -> None:
        self._fill()
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
