"""What every frozen, validated options dataclass of alloc-agents shares: copies with changes,
plain-container round trips, and the checks of numbers, integers and hidden-layer widths."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self


def check_sizes(name: str, sizes: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """``sizes`` (hidden-layer widths) as a tuple of positive ints, or ``ValueError`` naming
    ``name``."""
    ok = isinstance(sizes, tuple | list) and (allow_empty or len(sizes) > 0)
    if not ok or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in sizes):
        empty = "" if allow_empty else "non-empty "
        raise ValueError(f"{name} must be a {empty}tuple of positive ints, got {sizes!r}")
    return tuple(sizes)


def check_number(
    name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False
) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is a finite number in ``[low, high]``
    (``(low, high]`` with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low) or value > high:
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be in {left}{low}, {high}], got {value!r}")


def check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is an int (not a bool) in
    ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and at most {high}"
        raise ValueError(f"{name} must be at least {low}{upper}, got {value!r}")


def _check_known(cls: type, names: Any) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(known)}")


class Options:
    """Mixin for the frozen dataclasses validated in ``__post_init__`` (``ValueError`` naming
    the field): :meth:`replace`, :meth:`to_dict`, :meth:`from_dict`, :meth:`from_any`."""

    def replace(self, **changes: Any) -> Self:
        """A validated copy with some fields changed; unknown names raise ``ValueError``."""
        _check_known(type(self), changes)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        """Plain-container form (for checkpoints and logs)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict` (lists become tuples); unknown names raise
        ``ValueError``."""
        _check_known(cls, data)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @classmethod
    def from_any(cls, options: Any) -> Self:
        """An instance from ``None`` (the defaults), a dict of fields or an instance."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if not isinstance(options, dict):
            raise ValueError(f"options must be a {cls.__name__} or a dict, got {options!r}")
        return cls.from_dict(options)
