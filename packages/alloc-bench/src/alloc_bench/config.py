"""The unit of work: one run = (scenario, method, options, seed, budget), keyed by its hash.

A run is a pure function of its :class:`RunConfig`; the store keys finished runs by
:attr:`RunConfig.config_hash`, the first 16 hex digits of the SHA-256 of the config's canonical
JSON (sorted keys, no spaces) including :data:`PROTOCOL`. Two configs with the same hash are the
same run, whichever suite lists them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alloc_bench.errors import BenchError
from alloc_bench.parsing import format_options

#: Version of the evaluation protocol (how a run turns a config into numbers). It is part of the
#: hash: bump it when the protocol changes so that old rows are not reused. 2: learned methods
#: train with the PPO presets' env copies and with time limits ending the return
#: (``alloc_agents`` ``truncation_bootstrap=False``), and the ride-hailing dispatch head's mode
#: dispatches when the orders together outweigh STAY.
PROTOCOL = 2
#: Hex digits of the SHA-256 kept as the config hash (64 bits).
HASH_DIGITS = 16


@dataclass(frozen=True)
class Budget:
    """How much a run may spend.

    Attributes:
        train_steps: environment steps of training (learned methods); rule-based methods do not
            train and their runs always have 0 here (see :meth:`effective`).
        eval_episodes: evaluation episodes per seed; a run's metric is their mean.
    """

    train_steps: int = 0
    eval_episodes: int = 1

    def __post_init__(self) -> None:
        for name, low in (("train_steps", 0), ("eval_episodes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                word = "a non-negative" if low == 0 else "a positive"
                raise BenchError(f"{name} must be {word} integer, got {value!r}")

    def effective(self, trains: bool) -> Budget:
        """The budget a method actually uses: no training steps for one that does not train."""
        return self if trains else Budget(0, self.eval_episodes)

    def describe(self) -> str:
        """``"1 eval episode"`` or ``"30,000 train steps, 10 eval episodes"``."""
        episodes = f"{self.eval_episodes} eval episode" + ("s" if self.eval_episodes != 1 else "")
        if self.train_steps:
            return f"{self.train_steps:,} train steps, {episodes}"
        return episodes


@dataclass(frozen=True)
class RunConfig:
    """One run: a method on a scenario with environment options, one seed and a budget."""

    scenario: str
    method: str
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able config (what is hashed, stored and sent to workers)."""
        return {
            "protocol": PROTOCOL,
            "scenario": self.scenario,
            "method": self.method,
            "options": dict(self.options),
            "seed": self.seed,
            "train_steps": self.budget.train_steps,
            "eval_episodes": self.budget.eval_episodes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """The inverse of :meth:`to_dict` (the protocol must be this one)."""
        if data.get("protocol") != PROTOCOL:
            raise BenchError(f"run config has protocol {data.get('protocol')!r}, not {PROTOCOL}")
        return cls(
            scenario=data["scenario"],
            method=data["method"],
            seed=int(data["seed"]),
            options=dict(data["options"]),
            budget=Budget(int(data["train_steps"]), int(data["eval_episodes"])),
        )

    @property
    def config_hash(self) -> str:
        """First :data:`HASH_DIGITS` hex digits of SHA-256 of :func:`canonical_json`."""
        digest = hashlib.sha256(canonical_json(self.to_dict()).encode("utf-8")).hexdigest()
        return digest[:HASH_DIGITS]

    @property
    def group_key(self) -> tuple[str, str, str, int, int]:
        """What the seeds of one leaderboard cell share: scenario, method, options, budget."""
        return (
            self.scenario,
            self.method,
            format_options(self.options),
            self.budget.train_steps,
            self.budget.eval_episodes,
        )

    def describe(self) -> str:
        """One line: ``ride-hailing-1 greedy [demand=reference] seed 3``."""
        return f"{self.scenario} {self.method} [{format_options(self.options)}] seed {self.seed}"


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
