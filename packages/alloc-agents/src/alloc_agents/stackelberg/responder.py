"""PPO followers behind ``alloc_envs``' responder interface, e.g. inside the leader's view:

.. code-block:: python

    env = gymnasium.make("alloc/MTFG-v0", preset="mtfg-small", responder=PPOResponder())

:class:`PPOResponder` implements :class:`alloc_envs.stackelberg.responder.FollowerResponder`
(structurally: ``alloc_envs`` never imports this package).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg.config import FollowerPPOConfig
from alloc_agents.stackelberg.followers import FollowerPPO
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.responder import FollowerResponse


class PPOResponder:
    """Followers that answer a leader by training shared-parameter PPO (:class:`FollowerPPO`).

    A response to ``respond(game, leader, start=t, distribution=m, exogenous=x, rng=...)``:

    1. the learner: the one kept from the previous call (``reuse_learner=True`` and the same
       ``game`` object: **warm start**, its network carries over, also across episodes of the
       leader view) or a fresh one initialised from ``seed``;
    2. training on the subgame from step t, with followers drawn from m and exogenous state x,
       against ``leader``: ``config.iterations`` iterations for a fresh learner,
       ``fine_tune_iterations`` (default ``config.iterations``) for a kept one. The rollouts and
       minibatch order are seeded from one draw of the caller's ``rng`` (the leader view's
       ``np_random``), so a fresh learner's response is a function of its inputs, and the
       leader view stays reproducible from ``reset(seed=...)`` (with a kept learner, given
       the learner's history too);
    3. the answer: the network's policy table from t along the mean field against ``leader``
       (as :meth:`FollowerPPO.realized_table`) and its
       exploitability on the exact model (:meth:`FollowerPPO.evaluate`: regularised at the
       learner's temperature, so comparable with the exact responder's).

    The ``warm_start`` hint of the protocol (the previous answer's table) is not used; a kept
    learner's network is the warm start.

    Args:
        config: the learner's hyper-parameters (default :class:`FollowerPPOConfig`).
        seed: the network initialisation seed of fresh learners.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
        reuse_learner: keep one learner across calls (``True``) or train from scratch on every
            call.
        fine_tune_iterations: iterations of a kept learner's later responses (``None``:
            ``config.iterations``; 0: answer with the network as it is).

    Attributes: ``learner`` (the current :class:`FollowerPPO`, ``None`` before the first call)
    and ``history`` (the training rows of the last response).
    """

    def __init__(
        self,
        config: FollowerPPOConfig | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        reuse_learner: bool = True,
        fine_tune_iterations: int | None = None,
    ) -> None:
        self.config = FollowerPPOConfig() if config is None else config
        check_int("seed", seed, 0, 2**63 - 1)
        if not isinstance(reuse_learner, bool):
            raise ValueError(f"reuse_learner must be a bool, got {reuse_learner!r}")
        if fine_tune_iterations is not None:
            check_int("fine_tune_iterations", fine_tune_iterations, 0, 10**7)
        self.seed = seed
        self.device = device
        self.reuse_learner = reuse_learner
        self.fine_tune_iterations = fine_tune_iterations
        self.learner: FollowerPPO | None = None
        self.history: list[dict[str, Any]] = []

    def respond(
        self,
        game: MatchingGame,
        leader: Any,
        *,
        start: int,
        distribution: np.ndarray,
        exogenous: np.ndarray,
        rng: np.random.Generator,
        warm_start: np.ndarray | None = None,
    ) -> FollowerResponse:
        """Train (or fine-tune) on the subgame from ``start`` and answer with the policy for
        steps start..T-1 (see the class docstring); ``warm_start`` is ignored."""
        if self.reuse_learner and self.learner is not None and self.learner.game is game:
            iterations = self.fine_tune_iterations
        else:
            self.learner = FollowerPPO(game, self.config, seed=self.seed, device=self.device)
            iterations = None
        learner = self.learner
        where = {"start": start, "distribution": distribution, "exogenous": exogenous}
        seed = int(rng.integers(2**63))
        self.history = learner.train(leader, iterations, seed=seed, **where)
        evaluation = learner.evaluate(leader, **where)
        return FollowerResponse(evaluation.flow.policies, evaluation.exploitability)
