"""Methods the benchmark can name: rule-based policies and learned methods (trained per run).

* Rule-based methods are ``alloc_agents.POLICIES[family][name]``: they apply to the scenarios of
  their family, do not train, and ignore a budget's ``train_steps``.
* Learned methods are :class:`LearnedMethod` entries in :data:`LEARNED` (the papers' methods are
  registered below). Each names a *trainer*, ``"module:function"``, imported when a run needs it,
  and optionally a *support check*; while the import fails or the check gives a reason, the
  method is reported as "not implemented", never dropped. The ``<sharing>+<algorithm>`` methods
  train through :mod:`alloc_bench.learners` (``alloc_agents.train``).

The trainer protocol (what a run calls, see :mod:`alloc_bench.execute`)::

    policy = trainer(
        make_env,                # () -> a fresh Gymnasium env of the run's scenario (+ options)
        method="DyPS+IPPO",      # the benchmark name (sharing strategy + algorithm)
        seed=3,                  # seed everything from this
        train_steps=30_000,      # environment steps of training
        workdir=Path(...),       # checkpoints and logs go here (alloc_bench.rundirs:
                                 # <store>-artifacts/<scenario>/<method>/seed<k>-<short hash>/)
        log=run_log,             # run_log.curve(step, gmv=...), run_log.groups(step, [...], shape),
                                 # run_log.device = "cuda"; honour run_log.progress (bool) and
                                 # run_log.threads (torch threads, None: one)
        scenario="ride-hailing-2",
        make_parallel_env=fn,    # () -> a fresh PettingZoo ParallelEnv view of the same scenario
    )

and returns a policy with the rule-based interface (``reset(seed)``, ``act(observation)``),
which the run then evaluates for the budget's ``eval_episodes``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alloc_bench.errors import BenchError
from alloc_bench.learners import DYPS_GROUP_COUNTS


@dataclass(frozen=True)
class LearnedMethod:
    """A method that trains before it is evaluated.

    Attributes:
        name: benchmark name, e.g. ``"DyPS+IPPO"`` (``<sharing>+<algorithm>`` where it applies).
        description: one line for ``alloc-bench list``.
        trainer: ``"module:function"`` following the trainer protocol (module doc), or the
            function itself (in-process use, e.g. tests).
        supports: ``"module:function"`` (or the function) ``(method, scenario) -> str`` giving
            the reason the method cannot run on a scenario now, empty when it can; optional.
        reference: a reference computed from the model rather than trained (an exact-gradient
            leader, a planner's ceiling: knowledge no learner has); it gets no training budget
            (``train_steps`` 0, "no training" in leaderboards) and its description says so.
    """

    name: str
    description: str
    trainer: str | Callable[..., Any]
    supports: str | Callable[[str, str], str] | None = None
    reference: bool = False

    def unsupported(self, scenario: str) -> str:
        """Why the method cannot run on ``scenario`` now (empty when it can)."""
        try:
            self.load_trainer()
            check = load_entry(self.supports) if self.supports is not None else None
        except BenchError as exc:
            return str(exc)
        return "" if check is None else str(check(self.name, scenario))

    def load_trainer(self) -> Callable[..., Any]:
        """The trainer function.

        Raises:
            BenchError: the module or the function does not exist (yet).
        """
        return load_entry(self.trainer)

    def trainer_text(self) -> str:
        """The trainer as text (``module:function``)."""
        if callable(self.trainer):
            return f"{self.trainer.__module__}:{getattr(self.trainer, '__qualname__', '?')}"
        return self.trainer


def load_entry(entry: str | Callable[..., Any]) -> Callable[..., Any]:
    """The function named by ``"module:function"`` (a callable is returned as is).

    Raises:
        BenchError: the module or the function does not exist (yet).
    """
    if callable(entry):
        return entry
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BenchError(f"module {module_name!r} cannot be imported: {exc}") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise BenchError(f"{module_name} has no {attr!r} yet")
    return function


#: Learned methods by name. Add entries with :func:`register_method`.
LEARNED: dict[str, LearnedMethod] = {}


def register_method(method: LearnedMethod) -> LearnedMethod:
    """Add ``method`` to :data:`LEARNED` (a name already taken, also by a rule, is an error)."""
    if method.name in LEARNED or method.name in rule_based_names():
        raise ValueError(f"method {method.name!r} is already registered")
    LEARNED[method.name] = method
    return method


def rule_based_names() -> set[str]:
    """Names of every rule-based policy, over all scenario families."""
    from alloc_agents import POLICIES

    return {name for policies in POLICIES.values() for name in policies}


def rule_based(family: str) -> dict[str, Any]:
    """``{name: policy class}`` of the rule-based policies of scenario ``family``."""
    from alloc_agents import POLICIES

    return dict(POLICIES.get(family, {}))


def knowledge_of(method: str) -> str:
    """What ``method`` knows that a learner does not, for leaderboard labels: a rule-based
    policy's ``knowledge`` (``"hindsight"`` for ``oracle``, ``"demand model"`` for ``mpc``),
    ``"knows the model"`` for a learned method's ``reference``, else ``""``."""
    if method in LEARNED:
        return "knows the model" if LEARNED[method].reference else ""
    from alloc_agents import POLICIES

    for policies in POLICIES.values():
        if method in policies and getattr(policies[method], "knowledge", ""):
            return str(policies[method].knowledge)
    return ""


def trains(method: str) -> bool:
    """Whether ``method`` trains (a learned method) rather than acting by a rule or being
    computed from the model (a reference)."""
    return method in LEARNED and not LEARNED[method].reference


def known_methods() -> set[str]:
    """Every method name the benchmark knows of, implemented or not."""
    return rule_based_names() | set(LEARNED)


_DYPS_SOURCE = "DyPS (KDD 2024)"
_TIRL_SOURCE = "TIRL (AAAI 2024)"
_MARL_TRAINER = "alloc_bench.learners:train_marl"
_MARL_SUPPORT = "alloc_bench.learners:marl_support"
_STACKELBERG_TRAINER = "alloc_bench.stackelberg:train_stackelberg"
_STACKELBERG_SUPPORT = "alloc_bench.stackelberg:stackelberg_support"

for _name, _text in (
    ("NoPS+IPPO", "IPPO, every agent its own parameters (DyPS Table 2 'NoPS', Table 4 'IPPO')"),
    ("PS+IPPO", "IPPO, one set of parameters shared by all agents (DyPS Table 2 'PS')"),
    ("PS-id+IPPO", "IPPO, shared parameters, agent id in the observation (DyPS Table 2 'PS-id')"),
    ("PSA+IPPO", "IPPO, own actors and critics plus a shared critic (DyPS Table 2 'PSA')"),
    ("SePS+IPPO", "IPPO, groups fixed by pre-training trajectories (DyPS Table 2 'SePS')"),
    ("DyPS+IPPO", "IPPO, dynamic parameter-sharing groups (DyPS Tables 2-5 'DyPS')"),
    ("DyPS-noCVAE+IPPO", "DyPS ablation without the CVAE (DyPS Table 3 'w/o CVAE')"),
    ("DyPS-noVLSTM+IPPO", "DyPS ablation without the VLSTM (DyPS Table 3 'w/o VLSTM')"),
    ("DyPS-noRepr+IPPO", "DyPS ablation, groups from agent ids only (DyPS Table 3 'w/o Repr.')"),
    ("DyPS-Table6+IPPO", "DyPS with the paper's selector (Table 6 rates, team return, raw Eq. 13)"),
    ("DyPS-Warmup+IPPO", "DyPS whose members first train 5 iterations on disjoint agent subsets"),
    ("PS+CoPO", "CoPO, parameters shared by all agents (DyPS Tables 4-5 'CoPO')"),
    ("DyPS+CoPO", "CoPO with DyPS groups (DyPS Tables 4-5)"),
    ("PS+MAPPO", "MAPPO, shared parameters and a centralised critic (DyPS Table 4 'MAPPO')"),
    ("DyPS+MAPPO", "MAPPO with DyPS groups (DyPS Table 4)"),
    ("Role-As-State", "IPPO, one shared network reading the agent's VLSTM role (DyPS Table 5)"),
):
    register_method(
        LearnedMethod(_name, f"{_text}; {_DYPS_SOURCE}", _MARL_TRAINER, supports=_MARL_SUPPORT)
    )

for _m in DYPS_GROUP_COUNTS:  # M = 4, the default, is DyPS+IPPO
    register_method(
        LearnedMethod(
            f"DyPS-M{_m}+IPPO",
            f"DyPS+IPPO with M = {_m} groups (DyPS Figure 6a); {_DYPS_SOURCE}",
            _MARL_TRAINER,
            supports=_MARL_SUPPORT,
        )
    )

for _name in ("PS+IPPO", "DyPS+IPPO", "PS+MAPPO", "DyPS+MAPPO"):
    register_method(
        LearnedMethod(
            f"{_name}-team",
            f"{_name} trained on the team reward (every agent learns from the mean of the "
            "agents' rewards: PPOConfig.reward_sharing='team'); ours",
            _MARL_TRAINER,
            supports=_MARL_SUPPORT,
        )
    )

register_method(
    LearnedMethod(
        "QMIX",
        "QMIX: agent utilities (a GRU; feed-forward on Ride-Hailing) mixed monotonically on the "
        "state (Rashid et al., ICML 2018; RODE builds on it); one network with agent ids",
        "alloc_bench.learners:train_value_method",
        supports="alloc_bench.learners:value_method_support",
    )
)

register_method(
    LearnedMethod(
        "RODE",
        "RODE: roles as k-means clusters of learned action representations, a role selector "
        "and role policies restricted to their role's actions, both levels mixed as QMIX's "
        "(Wang et al., ICLR 2021; DyPS Table 5 'Rode'); one network with agent ids",
        "alloc_bench.learners:train_value_method",
        supports="alloc_bench.learners:value_method_support",
    )
)

for _name, _text in (
    (
        "exact-leader",
        "reference, knows the model: per-zone, per-slot charges optimised on the exact "
        "equilibrium's ORR by its exact gradient (alloc_envs.edrp.exact_leader)",
    ),
    (
        "exact-leader-fixed",
        "reference, knows the model: one charge per zone all day, optimised like exact-leader",
    ),
    (
        "planner (ceiling)",
        "reference, knows the model: the mean-field ORR of a planner who moves the drivers "
        "itself (an LP; no leader can exceed it; alloc_envs.edrp.limits)",
    ),
):
    register_method(
        LearnedMethod(
            _name,
            _text,
            "alloc_bench.stackelberg:compute_edrp_reference",
            supports="alloc_bench.stackelberg:edrp_reference_support",
            reference=True,
        )
    )

for _name, _text in (
    ("M3RL", "Mind-aware multi-agent management RL leader (baseline)"),
    ("EBPG", "Event-based policy gradient leader, expensive coordination (baseline)"),
    ("SMFU-w/o-L", "Stackelberg mean-field update without the leader's incentive"),
    ("SMFU", "Stackelberg mean-field update"),
    ("Reg-SMFU", "Regularised Stackelberg mean-field update"),
    ("TIRL", "Transition-informed RL"),
    ("Reg-TIRL", "Regularised transition-informed RL"),
):
    register_method(
        LearnedMethod(
            _name, f"{_text}; {_TIRL_SOURCE}", _STACKELBERG_TRAINER, supports=_STACKELBERG_SUPPORT
        )
    )

_PATHWISE = (
    "whose leader, after K1, steps on the gradient of its return through the learned model "
    "(ours, not the paper's REINFORCE; per-dimension charge head)"
)
_EQUILIBRIUM = (
    "whose leader, after K1, takes 50 steps on the gradient of its ORR at the followers' "
    "equilibrium of the learned matching model (ours, not the paper's REINFORCE)"
)
for _name, _text, _how in (
    ("TIRL-pathwise", "TIRL", _PATHWISE),
    ("Reg-TIRL-pathwise", "Reg-TIRL", _PATHWISE),
    ("TIRL-equilibrium", "TIRL", _EQUILIBRIUM),
    ("Reg-TIRL-equilibrium", "Reg-TIRL", _EQUILIBRIUM),
):
    register_method(
        LearnedMethod(
            _name,
            f"{_text} {_how}; {_TIRL_SOURCE}",
            _STACKELBERG_TRAINER,
            supports=_STACKELBERG_SUPPORT,
        )
    )
