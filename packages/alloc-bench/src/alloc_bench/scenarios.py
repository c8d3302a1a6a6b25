"""The registry of benchmark scenarios: how to build each environment and what it reports.

A scenario is data: the import path of an environment class, the keyword arguments that select
the scenario (e.g. a preset), the metrics read from the final step's ``info`` dict, and the
metric that ranks methods. A new scenario (vaccine allocation, LBF, EDRP, ...) is one more
:class:`Scenario` entry passed to :func:`register_scenario`; nothing else changes.

Options given by the user (``--option demand=reference``) are passed to the environment
constructor as keyword arguments on top of ``env_kwargs``; the environment validates them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from types import MappingProxyType
from typing import Any, Literal

from alloc_bench.errors import BenchError


@dataclass(frozen=True)
class MetricSpec:
    """One reported metric.

    Attributes:
        name: key of the metric in the environment's final-step ``info`` dict (episode to date).
        label: column label in leaderboards (e.g. ``"GMV"``).
        unit: unit in words, for documentation (e.g. ``"paper price unit"``).
        fmt: Python format spec of values in leaderboards (e.g. ``",.0f"``).
        compare: how ours is set against a published value: ``"ratio"`` (ours / paper) or
            ``"difference"`` (ours - paper).
        higher_is_better: direction of the metric.
    """

    name: str
    label: str
    unit: str = ""
    fmt: str = ".3f"
    compare: Literal["ratio", "difference"] = "ratio"
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.compare not in ("ratio", "difference"):
            raise ValueError(f"compare must be 'ratio' or 'difference', got {self.compare!r}")


@dataclass(frozen=True)
class Limit:
    """What bounds one of a scenario's metrics, for the leaderboards' "% of <label>" column
    (:mod:`alloc_bench.limits`): ``(value - floor) / (limit - floor)`` per seed, paired.

    Attributes:
        method: the method whose result is the limit (``"oracle"``: Ride-Hailing's hindsight
            oracle; ``"planner (ceiling)"``: EDRP's planner).
        label: what the share is of, in words (``"oracle"``, ``"headroom"``): the column is
            ``"% of <label>"`` and the share's key ``share_of_<label>``.
        floor: the method that counts as 0 % (e.g. ``"SMFU-w/o-L"``: no incentive); empty:
            the share is ``value / limit``.
        metric: the metric the limit bounds; empty: the scenario's ranking metric.
    """

    method: str
    label: str
    floor: str = ""
    metric: str = ""

    def __post_init__(self) -> None:
        for name in ("method", "label"):
            if not getattr(self, name):
                raise ValueError(f"Limit.{name} must not be empty")
        if self.floor == self.method:
            raise ValueError(f"Limit.floor must differ from its method {self.method!r}")

    @property
    def key(self) -> str:
        """Name of the share among a result's metrics, e.g. ``"share_of_oracle"``."""
        return "share_of_" + re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_")

    def spec(self) -> MetricSpec:
        """The share as a metric: a fraction, printed as a percentage."""
        if self.floor:
            unit = f"(value - {self.floor}) / ({self.method} - {self.floor})"
        else:
            unit = f"value / {self.method}"
        return MetricSpec(
            self.key, f"% of {self.label}", unit=unit, fmt=".1%", compare="difference"
        )

    def share(self, value: float, limit: float, floor: float = 0.0) -> float | None:
        """``(value - floor) / (limit - floor)``; None when the limit equals the floor."""
        return None if limit == floor else (value - floor) / (limit - floor)


@dataclass(frozen=True)
class Scenario:
    """A named benchmark scenario.

    Attributes:
        name: benchmark name (e.g. ``"ride-hailing-1"``).
        description: one line for ``alloc-bench list``.
        family: the scenario family whose rule-based policies apply (``alloc_agents.POLICIES``).
        env_entry: ``"module:Class"`` of the environment (a ``gymnasium.Env`` whose ``step``
            returns ``(obs, reward, terminated, truncated, info)``), imported on first use.
        env_kwargs: keyword arguments that select this scenario (user options go on top).
        metrics: the metrics reported, read from the last step's ``info``.
        headline: names of the metrics shown in leaderboard tables (all go to CSV and JSON).
        rank_by: name of the metric that ranks methods (its ``higher_is_better`` gives the order).
        parallel_entry: ``"module:Class"`` of the scenario's PettingZoo ``ParallelEnv`` view
            (same keyword arguments), which learned multi-agent methods train on; empty if none.
        requires: optional modules the environment needs, with the pip extra that installs
            them (e.g. ``{"lbforaging": "alloc-envs[third-party]"}``); runs are reported as not
            available, with that extra named, when a module is missing.
        evaluator: ``"module:function"`` that evaluates a run's policy instead of playing
            ``eval_episodes`` episodes of the Gymnasium view: ``(policy, scenario, options,
            seed, episodes) -> [metrics of each evaluation episode]`` (the Stackelberg
            scenarios' §5.1 protocol, :mod:`alloc_bench.stackelberg`); empty: play episodes.
        limit: what bounds one of its metrics (:class:`Limit`), if the scenario has a limit.
    """

    name: str
    description: str
    family: str
    env_entry: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[MetricSpec, ...] = ()
    headline: tuple[str, ...] = ()
    rank_by: str = ""
    parallel_entry: str = ""
    requires: Mapping[str, str] = field(default_factory=dict)
    evaluator: str = ""
    limit: Limit | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "env_kwargs", MappingProxyType(dict(self.env_kwargs)))
        object.__setattr__(self, "requires", MappingProxyType(dict(self.requires)))
        names = self.metric_names
        if not names:
            raise ValueError(f"scenario {self.name!r} must report at least one metric")
        if len(set(names)) != len(names):
            raise ValueError(f"scenario {self.name!r} lists a metric twice: {names}")
        for name in (*self.headline, self.rank_by):
            if name not in names:
                raise ValueError(f"scenario {self.name!r}: {name!r} is not one of its {names}")
        if self.limit is not None and self.limited_metric not in names:
            raise ValueError(
                f"scenario {self.name!r}: its limit bounds {self.limited_metric!r}, not one of "
                f"its {names}"
            )

    def missing_dependencies(self) -> str:
        """Empty when the environment can be built; else which modules are missing and how to
        install them."""
        missing = {m: extra for m, extra in self.requires.items() if find_spec(m) is None}
        if not missing:
            return ""
        extras = " ".join(sorted({f"'{extra}'" for extra in missing.values()}))
        return f"needs {', '.join(sorted(missing))}: pip install {extras}"

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of the reported metrics, in order."""
        return tuple(m.name for m in self.metrics)

    @property
    def limited_metric(self) -> str:
        """The metric its limit bounds (empty without a limit)."""
        if self.limit is None:
            return ""
        return self.limit.metric or self.rank_by

    def metric(self, name: str) -> MetricSpec:
        """The :class:`MetricSpec` called ``name`` (the limit's share included)."""
        for spec in self.metrics:
            if spec.name == name:
                return spec
        if self.limit is not None and name == self.limit.key:
            return self.limit.spec()
        raise KeyError(name)

    def with_shares(self, metrics: Iterable[str]) -> list[str]:
        """``metrics`` with the limit's share right after the metric it bounds."""
        out = []
        for name in metrics:
            out.append(name)
            if self.limit is not None and name == self.limited_metric:
                out.append(self.limit.key)
        return out

    def make_env(self, options: Mapping[str, Any] | None = None) -> Any:
        """A fresh environment with ``options`` on top of ``env_kwargs``.

        Raises:
            BenchError: an option overrides ``env_kwargs``, or the environment rejected the
                options (its ``ValueError`` or ``TypeError`` message is kept).
        """
        return self._build(self.env_entry, options)

    def make_parallel_env(self, options: Mapping[str, Any] | None = None) -> Any:
        """A fresh PettingZoo ``ParallelEnv`` view (see :meth:`make_env`).

        Raises:
            BenchError: the scenario has no parallel view, or as :meth:`make_env`.
        """
        if not self.parallel_entry:
            raise BenchError(f"scenario {self.name!r} has no PettingZoo parallel view")
        return self._build(self.parallel_entry, options)

    def _build(self, entry: str, options: Mapping[str, Any] | None) -> Any:
        fixed = sorted(set(options or {}) & set(self.env_kwargs))
        if fixed:
            raise BenchError(
                f"scenario {self.name!r} fixes {fixed}; choose another scenario instead"
            )
        module_name, _, attr = entry.partition(":")
        env_class = getattr(importlib.import_module(module_name), attr)
        kwargs = {**self.env_kwargs, **(options or {})}
        try:
            return env_class(**kwargs)
        except (ValueError, TypeError) as exc:
            raise BenchError(
                f"scenario {self.name!r} rejected options {dict(options or {})}: {exc}"
            ) from exc


#: Ride-Hailing's limit: the hindsight oracle's GMV on the same day
#: (``alloc_envs.ride_hailing.oracle``; the ``oracle`` policy of ``alloc_agents``).
RIDE_HAILING_LIMIT = Limit("oracle", "oracle", metric="gmv")

#: Ride-hailing metrics (the DyPS paper's GMV and ORR, plus the order counts behind ORR).
RIDE_HAILING_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("gmv", "GMV", unit="paper price unit per episode", fmt=",.0f", compare="ratio"),
    MetricSpec("orr", "ORR", unit="served / generated orders", fmt=".3f", compare="difference"),
    MetricSpec("orders_generated", "orders", unit="orders per episode", fmt=",.0f"),
    MetricSpec("orders_served", "served", unit="orders per episode", fmt=",.0f"),
)

#: Name of the metric computed by the runner itself: the sum of the (team) rewards of an episode.
EPISODE_RETURN = "return"

#: Metric of the grid worlds: the team's episode return (LBF's rewards are normalised so that
#: collecting every food gives 1; RWARE's count deliveries).
RETURN_METRIC = MetricSpec(EPISODE_RETURN, "Return", unit="team reward per episode", fmt=".2f")

#: Vaccine-allocation metrics, all versus no vaccination under the same seed (common random
#: numbers). The DyPS paper's "Infection Reduction" column has no stated unit, so it is not
#: matched to any of these.
VACCINE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("infections_averted_pct", "Inf. averted %", unit="% of infections", fmt=".1f"),
    MetricSpec("infections_averted", "Inf. averted", unit="people per episode", fmt=",.0f"),
    MetricSpec("deaths_averted_pct", "Deaths averted %", unit="% of deaths", fmt=".1f"),
    MetricSpec("deaths_averted", "Deaths averted", unit="people per episode", fmt=",.1f"),
)

#: Scenarios by name. Add entries with :func:`register_scenario`.
SCENARIOS: dict[str, Scenario] = {}


def register_scenario(scenario: Scenario) -> Scenario:
    """Add ``scenario`` to :data:`SCENARIOS` (a name already taken is an error)."""
    if scenario.name in SCENARIOS:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    SCENARIOS[scenario.name] = scenario
    return scenario


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``, or a :class:`BenchError` listing the known names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise BenchError(
            f"unknown scenario {name!r}; known scenarios: {', '.join(sorted(SCENARIOS))}"
        ) from None


#: Every registered scenario: (name, family, description, env module, view class prefix,
#: metrics, headline metrics, ranking metric, optional modules). The Gymnasium view is
#: ``<prefix>Env`` and the PettingZoo view ``<prefix>ParallelEnv`` in that module; ``preset`` is
#: the scenario's name.
_THIRD_PARTY = "alloc-envs[third-party]"
_RIDE = ("alloc_envs.ride_hailing", "RideHailing", RIDE_HAILING_METRICS, ("gmv", "orr"), "gmv", {})
_LBF = (
    "alloc_envs.third_party.lbf_env",
    "LBF",
    (RETURN_METRIC, MetricSpec("foods_collected", "foods", fmt=".1f")),
    (EPISODE_RETURN,),
    EPISODE_RETURN,
    {"lbforaging": _THIRD_PARTY},
)
_RWARE = (
    "alloc_envs.third_party.rware_env",
    "RWARE",
    (RETURN_METRIC, MetricSpec("deliveries", "deliveries", fmt=".1f")),
    (EPISODE_RETURN,),
    EPISODE_RETURN,
    {"rware": _THIRD_PARTY},
)
_VACCINE = (
    "alloc_envs.vaccine",
    "VaccineAllocation",
    VACCINE_METRICS,
    ("infections_averted_pct", "deaths_averted_pct"),
    "infections_averted_pct",
    {},
)
_RIDE_TEXT = "DyPS ride-hailing order dispatching, {}, 144 steps of 10 min"
_VACCINE_TEXT = "Daily vaccine allocation (alloc/VaccineAllocation-v0), {}, 62 days"
for _name, _family, _text, (_module, _prefix, _metrics, _headline, _rank, _requires) in (
    ("ride-hailing-1", "ride-hailing", _RIDE_TEXT.format("6x6 cells, 360 drivers"), _RIDE),
    ("ride-hailing-2", "ride-hailing", _RIDE_TEXT.format("10x10 cells, 1000 drivers"), _RIDE),
    ("lbf-1", "lbf", "Level-based foraging (alloc/LBF-v0), 10x10, 6 agents, 4 foods", _LBF),
    ("lbf-2", "lbf", "Level-based foraging (alloc/LBF-v0), 10x10, 12 agents, 10 foods", _LBF),
    ("rware-1", "rware", "Multi-robot warehouse (alloc/RWARE-v0), 8 robots, 2 colours", _RWARE),
    ("rware-2", "rware", "Multi-robot warehouse (alloc/RWARE-v0), 16 robots, 2 colours", _RWARE),
    ("medical-small", "vaccine", _VACCINE_TEXT.format("about 100 regions"), _VACCINE),
    ("medical", "vaccine", _VACCINE_TEXT.format("3,130 regions, 7.19M people"), _VACCINE),
):
    register_scenario(
        Scenario(
            name=_name,
            description=_text,
            family=_family,
            env_entry=f"{_module}:{_prefix}Env",
            parallel_entry=f"{_module}:{_prefix}ParallelEnv",
            env_kwargs={"preset": _name},
            metrics=_metrics,
            headline=_headline,
            rank_by=_rank,
            requires=_requires,
            limit=RIDE_HAILING_LIMIT if _family == "ride-hailing" else None,
        )
    )


#: The population sizes N of the TIRL paper's Table 2 (EDRP) and Figure 4 (MTFG).
TIRL_POPULATIONS = (300, 500, 800, 1_000, 5_000, 10_000, 50_000, 100_000)
_STACKELBERG_METRICS = {
    "edrp": MetricSpec("orr", "ORR", unit="served / generated orders", compare="difference"),
    "mtfg": MetricSpec("cr", "CR", unit="collected / supplied food", compare="difference"),
}
#: (family, prefix of the scenario names, environment kwargs, description) of the Stackelberg
#: scenario sets. EDRP has two versions of its dynamics (alloc_envs.edrp.config.PRESETS_BY_VERSION):
#: ``edrp-n<N>`` keeps the first (alloc/EDRP-v0) so that its results keep their name;
#: ``edrp-v1-n<N>`` is the revised city, where the TIRL paper's suites run.
_STACKELBERG_SETS = (
    (
        "edrp",
        "edrp",
        {"version": 0},
        "E-hailing driver repositioning, first version (alloc/EDRP-v0: one zone per slot, no "
        "fare premium), 63 zones, {:,} drivers",
    ),
    (
        "edrp",
        "edrp-v1",
        {"version": 1},
        "E-hailing driver repositioning (alloc/EDRP-v1), 63 zones, {:,} drivers",
    ),
    ("mtfg", "mtfg", {}, "Multi-type food gathering (alloc/MTFG-v0), 10x10, {:,} followers"),
)
#: EDRP's limit: the planner's ceiling, with no charge (SMFU-w/o-L, same protocol) as 0 %.
_STACKELBERG_LIMITS = {"edrp": Limit("planner (ceiling)", "headroom", floor="SMFU-w/o-L")}
for _family, _prefix, _kwargs, _text in _STACKELBERG_SETS:
    _class = {"edrp": "EDRP", "mtfg": "MTFG"}[_family]
    for _n in TIRL_POPULATIONS:
        _metric = _STACKELBERG_METRICS[_family]
        register_scenario(
            Scenario(
                name=f"{_prefix}-n{_n}",
                description=_text.format(_n),
                family=_family,
                env_entry=f"alloc_envs.{_family}:{_class}LeaderEnv",
                parallel_entry=f"alloc_envs.{_family}:{_class}ParallelEnv",
                env_kwargs={"preset": _family, **_kwargs, "n_followers": _n},
                metrics=(
                    _metric,
                    MetricSpec(EPISODE_RETURN, "Leader return", unit="leader reward per episode"),
                ),
                headline=(_metric.name,),
                rank_by=_metric.name,
                evaluator="alloc_bench.stackelberg:evaluate_stackelberg",
                limit=_STACKELBERG_LIMITS.get(_family),
            )
        )
