"""The bench's adapter to ``alloc_agents.train``: ``<sharing>+<algorithm>`` methods.

A method name such as ``"PS-id+IPPO"`` is a parameter-sharing strategy and an algorithm; the
adapter maps them to ``alloc_agents.train(..., sharing="ps-id", algorithm="ippo")`` (the DyPS
ablations ``DyPS-noCVAE``, ``DyPS-noVLSTM``, ``DyPS-noRepr`` to ``sharing="dyps"`` with their
``variant``; ``Role-As-State``, named without an algorithm in the DyPS paper's Table 5, is
``Role-As-State+IPPO``: ``sharing="role-as-state"``; an algorithm part ending in ``-team``, as
in ``PS+IPPO-team``, trains on the team reward: ``PPOConfig.reward_sharing="team"``) and follows
the bench's trainer protocol (:mod:`alloc_bench.methods`). :func:`marl_support` says why a method
cannot run (the strategy or algorithm is not in ``alloc_agents`` yet, the scenario has no
PettingZoo view): such methods are reported as "not implemented".

Training: ``train_steps`` environment steps (``total_env_steps``), seeded with the run's seed,
``device="auto"``, the run log's ``progress`` and ``threads`` (one torch thread unless asked), the
scenario's PPO preset when ``alloc_agents`` has one (its config and number of env copies; else the
defaults), ``log_dir`` = the run's folder (:mod:`alloc_bench.rundirs`: ``progress.csv``,
TensorBoard, ``checkpoint.pt``). A checkpoint left there by an interrupted run is resumed (the
agents' trainer makes the continuation identical to an uninterrupted run); one that cannot be
resumed is set aside and the run starts over (:mod:`alloc_bench.checkpoints`). The learning curve
is the trainer's per-iteration history: ``episode_return`` and the scenario's metrics
(``info/<metric>``; the ``"return"`` metric of LBF and RWARE is the trainer's ``episode_return``)
against environment steps. DyPS runs also report the group of every agent at every iteration (the
group-evolution maps; on the hex grid for Ride-Hailing), each with the selector's diagnostics of
that iteration (:data:`DYPS_DIAGNOSTICS`). The returned policy is the trained one, acting with its
mode (deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from alloc_bench.checkpoints import resume_or_restart
from alloc_bench.errors import BenchError
from alloc_bench.scenarios import EPISODE_RETURN, get_scenario

#: Algorithm part of a method name -> ``alloc_agents.train(algorithm=...)``.
ALGORITHMS = {"IPPO": "ippo", "MAPPO": "mappo", "CoPO": "copo"}

#: Numbers of groups M of the ``DyPS-M<M>`` methods (the DyPS paper's Figure 6a sweep; plain
#: ``DyPS`` is ``DyPSConfig``'s default, M = 4).
DYPS_GROUP_COUNTS = (1, 2, 3, 5, 6, 8)

#: Sharing parts that name a strategy with options: the DyPS paper's ablations (Table 3), DyPS
#: with M groups (Figure 6a), DyPS whose members first train 5 iterations on disjoint random
#: agent subsets (``warmup_iterations``) and DyPS with the paper's own selector (Table 6's
#: learning rates, the team return, raw Eq. 13 inputs: ``alloc_agents.ppo.DYPS_TABLE6``).
SHARING_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dyps-nocvae": ("dyps", {"variant": "no-cvae"}),
    "dyps-novlstm": ("dyps", {"variant": "no-vlstm"}),
    "dyps-norepr": ("dyps", {"variant": "no-repr"}),
    **{f"dyps-m{m}": ("dyps", {"n_groups": m}) for m in DYPS_GROUP_COUNTS},
    "dyps-warmup": ("dyps", {"warmup_iterations": 5}),
    "dyps-table6": (
        "dyps",
        {
            "credit": "team",
            "conditioning": "raw",
            "selector_lr": 1e-4,
            "selector_critic_lr": 1e-4,
            "selector_steps": 1,
        },
    ),
}


#: The DyPS trainer's per-iteration diagnostics kept with each group map (without ``dyps_``):
#: :mod:`alloc_agents.ppo.dyps_diagnostics`.
DYPS_DIAGNOSTICS = (
    "dyps_entropy_ratio",
    "dyps_switched",
    "dyps_switched_argmax",
    "dyps_members_sampled",
    "dyps_members_argmax",
    "dyps_latent_spread",
    "dyps_role_spread",
)


#: Methods the papers name without an algorithm -> their ``<sharing>+<algorithm>`` name. The
#: DyPS paper does not state Role-As-State's algorithm; its Table 5 sets it beside IPPO and
#: DyPS+IPPO, and the role-based comparison is only like for like on the same algorithm: IPPO.
METHOD_ALIASES: dict[str, str] = {"Role-As-State": "Role-As-State+IPPO"}


#: Suffix of an algorithm part that trains every agent on the team reward (``PS+IPPO-team``).
TEAM_REWARD_SUFFIX = "-team"


def parse_marl_name(method: str) -> tuple[str, str]:
    """``("ps-id", "ippo")`` from ``"PS-id+IPPO"`` (an alias of :data:`METHOD_ALIASES` first
    becomes its full name); the algorithm part may end in :data:`TEAM_REWARD_SUFFIX`.

    Raises:
        BenchError: not of the form ``<sharing>+<algorithm>`` with a known algorithm.
    """
    sharing, sep, algorithm = METHOD_ALIASES.get(method, method).rpartition("+")
    algorithm = algorithm.removesuffix(TEAM_REWARD_SUFFIX)
    if not sep or not sharing or algorithm not in ALGORITHMS:
        raise BenchError(
            f"{method!r} is not <sharing>+<algorithm>[{TEAM_REWARD_SUFFIX}] "
            f"({'/'.join(ALGORITHMS)})"
        )
    return sharing.lower(), ALGORITHMS[algorithm]


def reward_sharing(method: str) -> str:
    """``PPOConfig.reward_sharing`` of a ``<sharing>+<algorithm>`` method: ``"team"`` when the
    algorithm part ends in :data:`TEAM_REWARD_SUFFIX`, else ``"individual"``."""
    return "team" if method.endswith(TEAM_REWARD_SUFFIX) else "individual"


def dyps_group_count(method: str) -> tuple[str, int] | None:
    """``(algorithm part, M)`` of a DyPS method with the full role model: ``DyPS-M<M>+ALG``, or
    ``DyPS+ALG`` with ``DyPSConfig``'s default M; ``None`` for any other name."""
    sharing, sep, algorithm = method.rpartition("+")
    if not sep:
        return None
    sharing = sharing.lower()
    if sharing == "dyps":
        from alloc_agents.ppo import DyPSConfig

        return algorithm, DyPSConfig().n_groups
    options = SHARING_VARIANTS.get(sharing, ("", {}))[1]
    return (algorithm, int(options["n_groups"])) if "n_groups" in options else None


def _no_agents_view(spec: Any) -> str:
    """Why the agents of scenario ``spec`` cannot be trained (no PettingZoo parallel view, or
    a scenario that evaluates a leader); empty when they can."""
    if not spec.parallel_entry:
        return f"scenario {spec.name!r} has no PettingZoo parallel view to train on"
    if spec.evaluator:
        return f"scenario {spec.name!r} evaluates a trained leader, not agents of its parallel view"
    return ""


def _train_resumably(
    make_parallel_env: Callable[[], Any],
    *,
    seed: int,
    train_steps: int,
    workdir: Path | None,
    log: Any,
    scenario: str,
    **options: Any,
) -> Any:
    """``alloc_agents.train`` with the run's seed, budget and folder, the run log's progress
    and threads, ``device="auto"``: resumed from the run folder's checkpoint when there is one
    (:func:`alloc_bench.checkpoints.resume_or_restart`); the run's curve logged. ``options``
    are the method's (algorithm, sharing, config, ...); the trainer's result."""
    from alloc_agents import train

    def attempt(resume: bool) -> Any:
        return train(
            make_parallel_env,
            total_env_steps=train_steps,
            seed=seed,
            device="auto",
            log_dir=workdir,
            resume=resume,
            progress=getattr(log, "progress", False),
            threads=getattr(log, "threads", None),
            **options,
        )

    checkpoint = None if workdir is None else workdir / "checkpoint.pt"
    result = resume_or_restart(checkpoint, log, attempt)
    _log_curve(result.history, scenario, log)
    return result


def marl_support(method: str, scenario: str) -> str:
    """Why ``method`` cannot train on ``scenario`` now (empty when it can)."""
    try:
        sharing, algorithm = parse_marl_name(method)
    except BenchError as exc:
        return str(exc)
    spec = get_scenario(scenario)
    if reason := _no_agents_view(spec):
        return reason
    try:
        from alloc_agents.ppo import SHARING
        from alloc_agents.ppo.model import ALGORITHMS as AGENT_ALGORITHMS
    except ImportError as exc:
        return f"alloc_agents has no PPO core yet ({exc})"
    if algorithm not in AGENT_ALGORITHMS:
        return f"alloc_agents does not implement algorithm {algorithm!r} yet"
    if SHARING_VARIANTS.get(sharing, (sharing,))[0] not in SHARING:
        return f"alloc_agents does not implement sharing strategy {sharing!r} yet"
    return ""


def train_marl(
    make_env: Callable[[], Any],
    *,
    method: str,
    seed: int,
    train_steps: int,
    workdir: Path | None,
    log: Any,
    scenario: str,
    make_parallel_env: Callable[[], Any],
) -> Any:
    """Train ``method`` with ``alloc_agents.train`` (module doc); the trained policy."""
    from alloc_agents.ppo import PRESETS, PPOConfig

    sharing, algorithm = parse_marl_name(method)
    sharing, sharing_options = SHARING_VARIANTS.get(sharing, (sharing, None))
    preset = PRESETS.get(scenario)
    options: dict[str, Any] = {}
    if preset is not None:
        options = {"config": preset.config, "n_envs": preset.n_envs}
    if reward_sharing(method) == "team":
        base = options.get("config", PPOConfig())
        options["config"] = replace(base, reward_sharing="team")

    result = _train_resumably(
        make_parallel_env,
        seed=seed,
        train_steps=train_steps,
        workdir=workdir,
        log=log,
        scenario=scenario,
        algorithm=algorithm,
        sharing=sharing,
        sharing_options=sharing_options,
        **options,
    )
    shape = _grid_shape(make_parallel_env)
    rows = {row.get("iteration"): row for row in result.history}
    for record in result.extra.get("dyps", []):
        if len(record["groups"]) == 1:  # one space group: the agents in grid order
            row = rows.get(record["iteration"], {})
            diagnostics = {
                key.removeprefix("dyps_"): row[key] for key in DYPS_DIAGNOSTICS if key in row
            }
            step = int(record["env_steps"])
            log.groups(step, record["groups"][0]["assignment"], shape, diagnostics)
    log.device = str(getattr(result.policy, "device", "cpu"))
    return result.policy


def _log_curve(history: list[dict[str, Any]], scenario: str, log: Any) -> None:
    """The run's learning curve from a trainer's per-iteration rows: ``episode_return`` and
    the scenario's metrics (``info/<metric>``) against env steps."""
    metrics = get_scenario(scenario).metric_names
    for row in history:
        values = {m: row.get(f"info/{m}") for m in metrics}
        values["episode_return"] = row.get("episode_return")
        if values.get(EPISODE_RETURN) is None:  # LBF, RWARE: the metric is the team return
            values[EPISODE_RETURN] = values["episode_return"] if EPISODE_RETURN in metrics else None
        clean = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}
        if clean:
            log.curve(int(row["env_steps"]), **clean)


def value_method_support(method: str, scenario: str) -> str:
    """Why QMIX or RODE cannot train on ``scenario`` (empty when it can): no parallel view, a
    leader scenario, or agents whose actions are neither Discrete nor Ride-Hailing's dispatch
    picks."""
    spec = get_scenario(scenario)
    if reason := _no_agents_view(spec):
        return reason
    try:
        from alloc_agents.ppo.spaces import AgentLayout
        from alloc_agents.qmix.q_networks import q_head_kind
    except ImportError as exc:
        return f"alloc_agents has no {method} yet ({exc})"
    try:
        for group in AgentLayout.from_env(spec.make_parallel_env()).groups:
            q_head_kind(group)
    except ValueError as exc:
        return str(exc)
    return ""


def train_value_method(
    make_env: Callable[[], Any],
    *,
    method: str,
    seed: int,
    train_steps: int,
    workdir: Path | None,
    log: Any,
    scenario: str,
    make_parallel_env: Callable[[], Any],
) -> Any:
    """Train ``QMIX`` or ``RODE`` with ``alloc_agents.train(algorithm="qmix" / "rode")``:
    sharing ``ps-id``, the scenario's configuration when ``alloc_agents.qmix.QMIX_PRESETS`` /
    ``alloc_agents.rode.RODE_PRESETS`` has one (else the defaults), one env copy; checkpoints,
    resumption and the curve as for :func:`train_marl`. The trained policy acts greedily."""
    del make_env  # QMIX and RODE train on the parallel view
    from alloc_agents.qmix import QMIX_PRESETS
    from alloc_agents.rode import RODE_PRESETS

    presets = {"QMIX": QMIX_PRESETS, "RODE": RODE_PRESETS}[method]

    result = _train_resumably(
        make_parallel_env,
        seed=seed,
        train_steps=train_steps,
        workdir=workdir,
        log=log,
        scenario=scenario,
        algorithm=method.lower(),
        sharing="ps-id",
        config=presets.get(scenario, presets["default"]),
    )
    log.device = str(result.policy.device)
    return result.policy


def _grid_shape(make_env: Callable[[], Any]) -> tuple[int, int] | None:
    """(rows, columns) of Ride-Hailing's hexagonal grid (one agent per cell, cell id = row *
    columns + column), ``None`` for envs whose agents are not hex cells."""
    from alloc_envs.ride_hailing.config import RideHailingConfig

    config = getattr(make_env(), "config", None)
    if not isinstance(config, RideHailingConfig):
        return None
    return int(config.rows), int(config.cols)
