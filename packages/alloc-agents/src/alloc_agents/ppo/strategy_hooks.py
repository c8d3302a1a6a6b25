"""What a parameter-sharing strategy does around the PPO loop, behind one interface.

The loop (:func:`alloc_agents.ppo.trainer.train`) calls a strategy's hooks at fixed points of
every iteration, and knows nothing else of the strategy::

    hooks.start(log_dir)                                    # once, before the first iteration
    for iteration in 1, 2, ...:
        hooks.before_rollout(model)                         # DyPS: draw the groups
        collect the rollout; GAE
        hooks.after_rollout(model, buffers, iteration, env_steps)
                                                            # DyPS, Role-As-State: learn from it;
                                                            # SePS: record it (pre-training)
        PPO update
        hooks.after_update(model)                           # Role-As-State: the new roles
        columns = hooks.end_iteration(model, iteration, env_steps, log_dir)
                                                            # SePS: cluster; log files; CSV columns

``iteration`` is the number of the iteration being done (1-based) and ``env_steps`` the env
steps once it is done. A checkpoint holds :meth:`StrategyHooks.state_dict` under
:attr:`StrategyHooks.checkpoint_key`; :meth:`StrategyHooks.result` goes to
``TrainResult.extra``. Strategies with nothing to do around the loop (PS, PS-id, NoPS, PSA) use
the base class, whose hooks do nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.dyps import DyPSController
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.role_state import RoleStateController
from alloc_agents.ppo.seps import SePSPhase
from alloc_agents.ppo.sharing import DyPS, RoleAsState, SePS, SharingStrategy

#: File of the log folder with the DyPS groups: one JSON line per iteration.
DYPS_GROUPS = "dyps_groups.jsonl"
#: File of the log folder with SePS's clusters, written when they form.
SEPS_CLUSTERS = "seps_clusters.json"


class StrategyHooks:
    """The hooks of a strategy with nothing to do around the loop (module docstring)."""

    #: The checkpoint's key for :meth:`state_dict` (``None``: nothing to save).
    checkpoint_key: str | None = None

    def start(self, log_dir: Path | None) -> None:
        """Before the first iteration of this call (fresh or resumed)."""

    def before_rollout(self, model: MultiAgentModel) -> None:
        """Before the rollout is collected."""

    def after_rollout(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> None:
        """After the rollout and its advantages, before the PPO update reads ``buffers``."""

    def after_update(self, model: MultiAgentModel) -> None:
        """After the PPO update (and CoPO's LCF meta-update)."""

    def end_iteration(
        self, model: MultiAgentModel, iteration: int, env_steps: int, log_dir: Path | None
    ) -> dict[str, float]:
        """The iteration's last step; returns the strategy's columns of the progress row."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (called before :meth:`start` on a resumed run)."""

    def result(self) -> dict[str, Any]:
        """What the strategy adds to ``TrainResult.extra``."""
        return {}


class SePSHooks(StrategyHooks):
    """SePS: record the pre-training rollouts, cluster the agents once at
    :attr:`~alloc_agents.ppo.seps.SePSPhase.cluster_iteration` (writing ``seps_clusters.json``)."""

    checkpoint_key = "seps"

    def __init__(self, phase: SePSPhase) -> None:
        self.phase = phase
        self._recorded = False

    def after_rollout(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> None:
        self._recorded = not self.phase.clustered
        if self._recorded:
            self.phase.record(model, buffers)

    def end_iteration(
        self, model: MultiAgentModel, iteration: int, env_steps: int, log_dir: Path | None
    ) -> dict[str, float]:
        if self._recorded and iteration >= self.phase.cluster_iteration:
            clusters = self.phase.cluster(model, iteration, env_steps)
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                (log_dir / SEPS_CLUSTERS).write_text(json.dumps(clusters, indent=1))
        return {"seps_clustered": int(self.phase.clustered), **self.phase.columns()}

    def state_dict(self) -> dict[str, Any]:
        return self.phase.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase.load_state_dict(state)

    def result(self) -> dict[str, Any]:
        return {"seps": self.phase.result}


class _ControllerHooks(StrategyHooks):
    """Hooks around a controller with ``state_dict``/``load_state_dict`` whose learning step
    (in :meth:`after_rollout`) returns the progress row's columns."""

    def __init__(self, controller: DyPSController | RoleStateController) -> None:
        self.controller = controller
        self._columns: dict[str, float] = {}

    def end_iteration(
        self, model: MultiAgentModel, iteration: int, env_steps: int, log_dir: Path | None
    ) -> dict[str, float]:
        return self._columns

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state)


class DyPSHooks(_ControllerHooks):
    """DyPS: draw the groups before each rollout, learn the roles, latents and selector from it,
    and append the iteration's groups to ``dyps_groups.jsonl``."""

    checkpoint_key = "dyps"
    controller: DyPSController

    def start(self, log_dir: Path | None) -> None:
        if log_dir is not None:  # the groups so far (none on a fresh run)
            log_dir.mkdir(parents=True, exist_ok=True)
            lines = "".join(json.dumps(record) + "\n" for record in self.controller.history)
            (log_dir / DYPS_GROUPS).write_text(lines)

    def before_rollout(self, model: MultiAgentModel) -> None:
        self.controller.select(model)

    def after_rollout(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> None:
        self._columns = self.controller.learn(model, buffers, iteration, env_steps)

    def end_iteration(
        self, model: MultiAgentModel, iteration: int, env_steps: int, log_dir: Path | None
    ) -> dict[str, float]:
        if log_dir is not None:
            with (log_dir / DYPS_GROUPS).open("a") as f:
                f.write(json.dumps(self.controller.history[-1]) + "\n")
        return self._columns

    def result(self) -> dict[str, Any]:
        return {"dyps": self.controller.history}


class RoleAsStateHooks(_ControllerHooks):
    """Role-As-State: new roles from each rollout, applied after the PPO update (which must read
    the roles the rollout was sampled with)."""

    checkpoint_key = "role_state"
    controller: RoleStateController

    def after_rollout(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> None:
        self._columns = self.controller.learn(buffers)

    def after_update(self, model: MultiAgentModel) -> None:
        self.controller.apply(model)


def make_hooks(
    strategy: SharingStrategy,
    model: MultiAgentModel,
    n_iters: int,
    seed: int,
    device: torch.device,
    n_envs: int,
) -> StrategyHooks:
    """The hooks of ``strategy`` for a run of ``n_iters`` iterations on ``n_envs`` env copies."""
    if isinstance(strategy, SePS):
        return SePSHooks(SePSPhase(strategy.config, n_iters, seed))
    if isinstance(strategy, DyPS):
        return DyPSHooks(DyPSController(strategy.config, model, seed, device, n_envs))
    if isinstance(strategy, RoleAsState):
        return RoleAsStateHooks(RoleStateController(strategy.config, model, seed, device))
    return StrategyHooks()
