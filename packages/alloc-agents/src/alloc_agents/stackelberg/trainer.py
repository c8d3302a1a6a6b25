"""The loop every Stackelberg leader trainer shares (SMFU and TIRL and their variants).

One **outer iteration** (the paper's h in Eqs. 3-5 / 8-10):

1. the leader acts with its current stochastic policy (:class:`~.leader.SampledLeader`; no
   leader in SMFU-w/o-L's zero reading: the incentive closest to 0);
2. ``follower_iterations`` episodes, each played and followed by one follower update
   (:meth:`StackelbergTrainer._episode`, the subclass's job: N-agent rollouts in SMFU, N-agent or
   generated mean field in TIRL);
3. one leader update on the leader's episodes of step 2 (:mod:`.leader_update`).

Each outer iteration gives one row: ``iteration``, ``env_steps`` (the leader's steps, T per
episode), ``agent_steps`` (follower transitions simulated so far: N T per N-agent episode, none
per generated one), ``episodes``, the episode statistics averaged over the iteration's episodes
(``leader_return``, ``orr`` / ``cr`` ..., ``follower_return``, the follower update's losses), the
leader update's terms, ``seconds`` (wall-clock of the outer iteration) and ``episode_return`` (the
leader's return, shown with the progress). Rows go to ``<log_dir>/progress.csv`` and TensorBoard
(:class:`alloc_agents.ppo.logger.RunLogger`; step = ``env_steps``); progress goes to stderr (a bar
on a terminal, else periodic lines). One torch thread unless ``threads=N``.

Seeding: ``seed`` initialises the followers (:class:`FollowerPPO`: network, rollouts, minibatch
order), the leader's network and the generator of its incentive draws; nothing draws from global
generators. On the CPU the same seed gives identical runs, and a run resumed from a checkpoint
continues exactly as the uninterrupted one.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S, RunLogger, check_progress_interval
from alloc_agents.ppo.trainer import resolve_device
from alloc_agents.stackelberg.followers import FollowerPPO
from alloc_agents.stackelberg.leader_update import LeaderLearner
from alloc_agents.stackelberg.trainer_config import StackelbergConfig
from alloc_agents.threads import set_threads
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.leader import LeaderPolicy, no_incentive
from alloc_envs.stackelberg.matching import MatchingGame

#: ``kind`` of a trainer checkpoint.
CHECKPOINT_KIND = "stackelberg-trainer"


@dataclass(frozen=True)
class Played:
    """One episode of an outer iteration, as the subclass reports it.

    Attributes:
        row: the episode's statistics (scalars).
        leader_rewards: (T,) the leader's reward of every step.
        agent_steps: follower transitions simulated (N T, or 0 for a generated episode).
    """

    row: dict[str, Any]
    leader_rewards: np.ndarray
    agent_steps: int


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (checkpoints load with ``weights_only=True``)."""
    return value.item() if isinstance(value, np.generic) else value


class StackelbergTrainer(abc.ABC):
    """A leader trainer of ``game`` (see the module docstring).

    Args:
        game: the scenario's model; the trainers use only its N-agent simulator, sizes and
            reward functions (TIRL), never its follower kernel.
        config: the settings (default: ``config_class()``).
        seed: the master seed.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
        log_dir: where ``progress.csv`` and ``tb/`` go (``None``: no files).
        progress: progress on stderr during :meth:`train`
            (:class:`~alloc_agents.ppo.logger.Progress`: a ``tqdm`` bar with rate and ETA on a
            terminal, else a plain line at the start, every ``progress_interval`` seconds and
            at the end); ``False``: none (``None`` is the same as ``True``).
        progress_interval: seconds between the plain progress lines (default 30).
        threads: torch CPU threads (``None``: one; :mod:`alloc_agents.threads`), set here.

    Attributes: ``followers`` (:class:`FollowerPPO`), ``leader`` (``leader_class``),
    ``iteration``, ``episodes``, ``agent_steps``, ``history`` (the rows so far).
    """

    #: The method's name (checkpoints refuse another method's file).
    method: ClassVar[str]
    #: The settings' class.
    config_class: ClassVar[type[StackelbergConfig]] = StackelbergConfig
    #: The leader's learner, built as ``leader_class(game, config, seed, device)``: anything
    #: with :class:`LeaderLearner`'s interface (``actor()``, whose ``take()`` returns a tuple
    #: that ``update`` receives followed by the episode's (T,) leader rewards; ``policy()``,
    #: ``update(episodes)``, ``state_dict()``, ``load_state_dict()``).
    leader_class: ClassVar[type[Any]] = LeaderLearner

    def __init__(
        self,
        game: MatchingGame,
        config: StackelbergConfig | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        log_dir: str | Path | None = None,
        progress: bool | None = True,
        progress_interval: float = PROGRESS_INTERVAL_S,
        threads: int | None = None,
    ) -> None:
        check_int("seed", seed, 0, 2**63 - 1)
        self.progress_interval = check_progress_interval(progress_interval)
        set_threads(threads)
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise ValueError(
                f"config must be a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.game = game
        self.config = config
        self.seed = seed
        self.device = resolve_device(device)
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.progress = progress
        self.followers = FollowerPPO(game, config.follower, seed=seed, device=self.device)
        self.leader = self.leader_class(game, config, seed, self.device)
        self.iteration = 0
        self.episodes = 0
        self.agent_steps = 0
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ the method's part
    @abc.abstractmethod
    def _episode(self, leader: LeaderPolicy) -> Played:
        """Play one episode against ``leader`` from step 0 and update the followers on it."""

    def _update_leader(self, episodes: list[tuple[Any, ...]]) -> dict[str, float]:
        """Step 3 of the module docstring after the outer iteration's episodes (counted in
        :attr:`episodes`): the leader's update on them; its terms for the row."""
        return self.leader.update(episodes)

    # ------------------------------------------------------------------ the shared loop
    def leader_policy(self) -> LeaderPolicy | np.ndarray:
        """The trained leader for evaluation: the deterministic mean policy (a snapshot), or
        the zero incentive when ``leader_mode="none"``."""
        if not self.config.learns_leader:
            return no_incentive(self.game)
        return self.leader.policy()

    def train(
        self,
        iterations: int | None = None,
        *,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
    ) -> list[dict[str, Any]]:
        """Run ``iterations`` outer iterations (default: up to ``config.iterations`` in all),
        continuing from the current state; returns their rows.

        ``checkpoint_path``: save there every ``checkpoint_every`` iterations (0: only at the
        end) and at the end.
        """
        if iterations is not None:
            check_int("iterations", iterations, 0, 10**7)
        check_int("checkpoint_every", checkpoint_every, 0, 10**7)
        left = max(self.config.iterations - self.iteration, 0)
        remaining = left if iterations is None else iterations
        per_iteration = self.config.follower_iterations * self.game.horizon
        logger = RunLogger(
            self.log_dir,
            (self.iteration + remaining) * per_iteration,
            resume_iteration=self.iteration or None,
            progress=self.progress,
            initial_steps=self.episodes * self.game.horizon,
            progress_interval=self.progress_interval,
        )
        rows = []
        try:
            for _ in range(remaining):
                row = self._outer_iteration()
                self.history.append(row)
                rows.append(row)
                logger.log(row)
                due = checkpoint_every and self.iteration % checkpoint_every == 0
                if checkpoint_path is not None and due:
                    self.save(checkpoint_path)
        finally:
            logger.close()
        if checkpoint_path is not None:
            self.save(checkpoint_path)
        return rows

    def _outer_iteration(self) -> dict[str, Any]:
        """Steps 1-3 of the module docstring; the row."""
        began = time.perf_counter()
        actor = self.leader.actor() if self.config.learns_leader else None
        leader = no_incentive(self.game) if actor is None else actor
        totals: dict[str, float] = {}
        episodes = []
        count = self.config.follower_iterations
        for _ in range(count):
            played = self._episode(leader)
            self.episodes += 1
            self.agent_steps += played.agent_steps
            for key, value in played.row.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            if actor is not None:
                episodes.append((*actor.take(), played.leader_rewards))
        leader_stats = self._update_leader(episodes) if episodes else {}
        self.iteration += 1
        seconds = time.perf_counter() - began
        averaged = {key: total / count for key, total in totals.items()}
        row = {
            "iteration": self.iteration,
            "env_steps": self.episodes * self.game.horizon,
            "agent_steps": self.agent_steps,
            "episodes": self.episodes,
            **averaged,
            **leader_stats,
            "episode_return": averaged["leader_return"],
            "seconds": seconds,
            "fps": count * self.game.horizon / seconds,
        }
        return {key: _plain(value) for key, value in row.items()}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as tensors and plain containers (so
        ``torch.load(path, weights_only=True)`` reads it)."""
        return {
            "kind": CHECKPOINT_KIND,
            "method": self.method,
            "config": self.config.to_dict(),
            "seed": self.seed,
            "counters": {
                "iteration": self.iteration,
                "episodes": self.episodes,
                "agent_steps": self.agent_steps,
            },
            "followers": self.followers.state_dict(),
            "leader": self.leader.state_dict(),
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (``ValueError`` for another method's checkpoint; the
        followers' part checks the game's sizes)."""
        if state.get("kind") != CHECKPOINT_KIND or state.get("method") != self.method:
            raise ckpt.CheckpointError(f"not a {self.method} trainer checkpoint")
        self.followers.load_state_dict(state["followers"])
        self.leader.load_state_dict(state["leader"])
        counters = state["counters"]
        self.iteration = int(counters["iteration"])
        self.episodes = int(counters["episodes"])
        self.agent_steps = int(counters["agent_steps"])
        self.history = list(state["history"])

    def save(self, path: str | Path) -> None:
        """Write :meth:`state_dict` to ``path`` (atomically)."""
        ckpt.save(Path(path), self.state_dict())

    @classmethod
    def load(
        cls,
        path: str | Path,
        game: MatchingGame,
        *,
        device: str | torch.device = "auto",
        log_dir: str | Path | None = None,
        progress: bool | None = True,
        progress_interval: float = PROGRESS_INTERVAL_S,
        threads: int | None = None,
    ) -> StackelbergTrainer:
        """A trainer for ``game`` restored from a :meth:`save` file (its config and seed);
        :meth:`train` then continues to ``config.iterations``. The other arguments are the
        constructor's."""
        state = ckpt.load(Path(path))
        if state.get("kind") != CHECKPOINT_KIND or state.get("method") != cls.method:
            raise ckpt.CheckpointError(f"{str(path)!r} is not a {cls.method} trainer checkpoint")
        config = cls.config_class.from_dict(state["config"])
        trainer = cls(
            game,
            config,
            seed=state["seed"],
            device=device,
            log_dir=log_dir,
            progress=progress,
            progress_interval=progress_interval,
            threads=threads,
        )
        trainer.load_state_dict(state)
        return trainer
