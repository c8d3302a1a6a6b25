"""Preset lookup and validated ``replace`` shared by every scenario's config dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from alloc_envs.core.validation import check_choice

C = TypeVar("C")


def replace_config(config: C, kind: str, changes: Mapping[str, Any]) -> C:
    """A validated copy of the dataclass ``config`` with ``changes``; unknown names raise
    ``ValueError`` listing the known options of ``kind`` (e.g. ``"ride-hailing"``)."""
    known = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown {kind} option(s) {unknown}; known options: {sorted(known)}")
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def build_config(
    presets: Mapping[str, C],
    default_preset: str,
    preset: str | None,
    config: C | None,
    overrides: Mapping[str, Any],
    kind: str,
) -> C:
    """The config from ``config`` or from ``preset`` (default ``default_preset``), plus
    ``overrides``. Giving both ``preset`` and ``config`` is an error (``ValueError``)."""
    config_type = type(presets[default_preset])
    if config is None:
        name = default_preset if preset is None else preset
        check_choice("preset", name, tuple(presets))
        base = presets[name]
    elif preset is not None:
        raise ValueError(
            f"give either preset ({preset!r}) or config, not both; to start from a preset and "
            f"change some fields, pass the fields as keywords"
        )
    elif not isinstance(config, config_type):
        raise ValueError(f"config must be a {config_type.__name__}, got {type(config).__name__}")
    else:
        base = config
    return replace_config(base, kind, overrides) if overrides else base
