"""The paper's method names as trainer settings: ``make_trainer("reg-tirl", game, ...)``.

| name | trainer | settings |
|---|---|---|
| ``smfu`` | :class:`SMFU` | closed-loop leader |
| ``smfu-wo-l`` | :class:`SMFU` | ``leader_mode="none"`` (reading A; B: ``"open_loop"``) |
| ``reg-smfu`` | :class:`SMFU` | :data:`REGULARISERS` |
| ``tirl`` | :class:`TIRL` | closed-loop leader |
| ``reg-tirl`` | :class:`TIRL` | :data:`REGULARISERS` |
| ``tirl-pathwise`` | :class:`TIRL` | ``leader_gradient="pathwise"``, per-dimension head |
| ``reg-tirl-pathwise`` | :class:`TIRL` | the same and :data:`REGULARISERS` |
| ``tirl-equilibrium`` | :class:`TIRL` | ``leader_gradient="equilibrium"``, matching P_eta |
| ``reg-tirl-equilibrium`` | :class:`TIRL` | the same and :data:`EQUILIBRIUM_REGULARISERS` |
| ``m3rl`` | :class:`~.m3rl.M3RL` | leader baseline (:class:`~.baseline_config.M3RLConfig`) |
| ``ebpg`` | :class:`~.ebpg.EBPG` | leader baseline (:class:`~.baseline_config.EBPGConfig`) |
"""

from __future__ import annotations

from typing import Any

from alloc_agents.stackelberg.ebpg import EBPG
from alloc_agents.stackelberg.m3rl import M3RL
from alloc_agents.stackelberg.smfu import SMFU
from alloc_agents.stackelberg.tirl import TIRL
from alloc_agents.stackelberg.trainer import StackelbergTrainer
from alloc_agents.stackelberg.trainer_config import StackelbergConfig
from alloc_envs.core.validation import check_choice
from alloc_envs.stackelberg.matching import MatchingGame

#: The §4.3 regularisers of the Reg- methods with the paper's leader updates (lambda, delta,
#: c): our defaults, untuned (the paper does not give its values).
REGULARISERS: dict[str, Any] = {"entropy_coef": 0.01, "l1_coef": 1e-4, "weight_clip": 1.0}

#: The §4.3 regularisers of ``reg-tirl-equilibrium``, tuned on seed 9 of EDRP v1 at N = 1,000
#: (a seed no results table reports; ``benchmarks/edrp_equilibrium_reg_tuning.py``): the
#: largest of the grid whose exact-equilibrium ORR is within 0.001 of the best (0.9453 against
#: 0.9457 at lambda = 0; :data:`REGULARISERS` give 0.8957 there, lambda = 3e-3 gives 0.9414).
EQUILIBRIUM_REGULARISERS: dict[str, Any] = {
    "entropy_coef": 1e-3,
    "l1_coef": 1e-5,
    "weight_clip": 1.0,
}

#: TIRL's leader with the pathwise gradient through the learned model (ours,
#: :mod:`alloc_agents.stackelberg.pathwise`) and the per-dimension head it was measured with.
PATHWISE: dict[str, Any] = {"leader_gradient": "pathwise", "leader_head": "per_dimension"}

#: TIRL's leader with the gradient at the followers' equilibrium of the learned matching model
#: (ours, :mod:`alloc_agents.stackelberg.equilibrium_leader`).
EQUILIBRIUM: dict[str, Any] = {"leader_gradient": "equilibrium", "transition_model": "matching"}

#: name -> (trainer class, settings that define the method).
METHODS: dict[str, tuple[type[StackelbergTrainer], dict[str, Any]]] = {
    "smfu": (SMFU, {}),
    "smfu-wo-l": (SMFU, {"leader_mode": "none"}),
    "reg-smfu": (SMFU, REGULARISERS),
    "tirl": (TIRL, {}),
    "reg-tirl": (TIRL, REGULARISERS),
    "tirl-pathwise": (TIRL, PATHWISE),
    "reg-tirl-pathwise": (TIRL, {**PATHWISE, **REGULARISERS}),
    "tirl-equilibrium": (TIRL, EQUILIBRIUM),
    "reg-tirl-equilibrium": (TIRL, {**EQUILIBRIUM, **EQUILIBRIUM_REGULARISERS}),
    "m3rl": (M3RL, {}),
    "ebpg": (EBPG, {}),
}


def method_config(method: str, **overrides: Any) -> StackelbergConfig:
    """The settings of ``method`` (:data:`METHODS`) with ``overrides`` of config fields
    (``ValueError`` for an unknown method or field)."""
    check_choice("method", method, tuple(METHODS))
    trainer_class, settings = METHODS[method]
    return trainer_class.config_class().replace(**{**settings, **overrides})


def make_trainer(
    method: str, game: MatchingGame, *, seed: int = 0, device: str = "auto", **kwargs: Any
) -> StackelbergTrainer:
    """A trainer of ``method`` for ``game``; ``kwargs`` are config fields (see
    :class:`StackelbergConfig`, :class:`TIRLConfig`, :class:`M3RLConfig`, :class:`EBPGConfig`)
    or the trainer's ``log_dir`` / ``progress`` / ``progress_interval`` / ``threads``."""
    names = ("log_dir", "progress", "progress_interval", "threads")
    trainer_kwargs = {k: kwargs.pop(k) for k in names if k in kwargs}
    config = method_config(method, **kwargs)
    trainer_class = METHODS[method][0]
    return trainer_class(game, config, seed=seed, device=device, **trainer_kwargs)
