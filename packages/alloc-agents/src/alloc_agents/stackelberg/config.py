"""Hyper-parameters of the PPO followers (:class:`FollowerPPOConfig`).

Field names follow :class:`alloc_agents.ppo.PPOConfig` where the meaning is the same. Defaults
follow ``research/smfg-reference.md`` §6.9 (follower lr 1e-3, clip 0.2, GAE 0.95, gamma 1 for
the finite horizon) except the MLPs: 2 x 64 rather than 2 x 128, because an update evaluates the
networks on the whole (t, s) grid, so its cost grows with the squared width (2 x 128 was 1.7-2.5x
slower per update and no faster to learn EDRP; the package README has the numbers). The rollout
size and epochs are ours: N = 10,000 followers keeps the N-agent game close to the mean field
that exploitability is measured on (at N = 1,000 EDRP's equilibrium ORR is 3.6 points lower).
Small populations (N of a few hundred) learn more reliably with wider networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alloc_agents.options import Options, check_sizes
from alloc_agents.ppo.config import ACTIVATIONS
from alloc_envs.core.validation import check_choice, check_int, check_number

#: Largest number of followers per training rollout.
MAX_FOLLOWERS = 10**7


@dataclass(frozen=True)
class FollowerPPOConfig(Options):
    """PPO followers' settings, validated at construction (``ValueError`` naming the field).

    Attributes:
        n_followers: N, the followers of one training rollout (one episode of a
            :class:`~alloc_envs.stackelberg.population.Population` per iteration: N (T - start)
            samples).
        iterations: PPO iterations (rollout + update) of :meth:`FollowerPPO.train` when no
            number is given, and of every response of a fresh :class:`PPOResponder`.
        n_epochs: passes over each rollout; n_minibatches: minibatches per pass.
        lr: Adam learning rate (actor and critic); adam_eps: Adam epsilon.
        gamma: discount; 1 (default) makes the followers' objective the episode sum, as in the
            finite-horizon game. gae_lambda: GAE lambda.
        clip_coef: PPO ratio clip epsilon.
        vf_coef: weight of the value loss (squared error on normalised returns).
        ent_coef: extra entropy bonus in the loss, for exploration only (it moves the fixed
            point away from the game's equilibrium; default 0: ``temperature`` already keeps the
            policy stochastic).
        max_grad_norm: gradient-norm clip.
        hidden_sizes: widths of the hidden layers of the policy and value MLPs (at least one).
        activation: ``"tanh"`` or ``"relu"``.
        temperature: the followers' entropy weight tau (reward units): each step's reward gets
            ``-tau log pi(a_t | s_t)``, so PPO maximises reward plus tau times the policy's
            entropy, the regularised game that the exact solver solves (its exploitability is
            reported at this tau). ``None``: the scenario's ``follower_temperature`` (the
            game's config), so that learned and exact followers play the same game.
        observe_incentive: the networks read the step's incentive u_t (scaled to [0, 1] over
            the box) besides (s, t): the leader acts first and the followers see her action
            (TIRL paper §3.2), so a follower policy is ``pi(a | s, t, u_t)`` and responds to a
            change of incentive within the episode. ``False``: ``pi(a | s, t)``, which can only
            follow the incentives through learning across episodes (a leader trained against
            such followers sees no response to her own exploration).
    """

    n_followers: int = 10_000
    iterations: int = 100
    n_epochs: int = 4
    n_minibatches: int = 4
    lr: float = 1e-3
    adam_eps: float = 1e-5
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    max_grad_norm: float = 1.0
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    temperature: float | None = None
    observe_incentive: bool = True

    def __post_init__(self) -> None:
        check_int("n_followers", self.n_followers, 1, MAX_FOLLOWERS)
        check_int("iterations", self.iterations, 0, 10**7)
        check_int("n_epochs", self.n_epochs, 1, 10**4)
        check_int("n_minibatches", self.n_minibatches, 1, 10**6)
        check_number("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        check_number("adam_eps", self.adam_eps, 0.0, 1.0, low_inclusive=False)
        check_number("gamma", self.gamma, 0.0, 1.0)
        check_number("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_number("clip_coef", self.clip_coef, 0.0, 1e3, low_inclusive=False)
        check_number("vf_coef", self.vf_coef, 0.0, 1e6)
        check_number("ent_coef", self.ent_coef, 0.0, 1e6)
        check_number("max_grad_norm", self.max_grad_norm, 0.0, 1e9, low_inclusive=False)
        object.__setattr__(self, "hidden_sizes", check_sizes("hidden_sizes", self.hidden_sizes))
        check_choice("activation", self.activation, ACTIVATIONS)
        if self.temperature is not None:
            check_number("temperature", self.temperature, 0.0, 1e9)
        if not isinstance(self.observe_incentive, bool):
            raise ValueError(f"observe_incentive must be a bool, got {self.observe_incentive!r}")


def follower_temperature(game: Any, config: FollowerPPOConfig) -> float:
    """``config.temperature``, or the game's ``config.follower_temperature`` when it is
    ``None``; ``ValueError`` when neither is set."""
    if config.temperature is not None:
        return float(config.temperature)
    value = getattr(getattr(game, "config", None), "follower_temperature", None)
    if value is None:
        raise ValueError(
            "temperature: the game has no config.follower_temperature; "
            "set FollowerPPOConfig(temperature=...)"
        )
    return float(value)
