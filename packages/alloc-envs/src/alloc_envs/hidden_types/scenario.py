"""Hidden types: a controlled task where shared parameters are capped and the right split wins.

N agents, each of a hidden type k in ``0 .. K - 1`` fixed when the env is made (balanced: the
types ``i mod K`` shuffled by ``type_seed``; the same in every episode). At every step each agent
observes only noise (``obs_dim`` values uniform in [-1, 1], drawn from the episode's generator)
and picks one of K actions; its reward is 1 when the action is its type (type k's optimal action
is k), else 0. The optimal actions of different types conflict and nothing an agent observes
tells its type, so one policy shared by all agents (PS without an agent id) earns at most
``max_k n_k / N`` per agent and step (1/2 with two balanced types), while M >= K parameter
groups, each holding agents of one type, earn 1. A group selector that learns the types' split
reaches 1; one that stays uniform does not. Episodes are truncated after ``episode_steps``.

Metrics in ``info``: ``accuracy`` (the step's mean reward over agents, 0 before the first step)
and ``episode_accuracy`` (the mean over the episode's steps so far, 0 before the first step).
``scenario.types`` holds the hidden types (for tests and diagnostics, not for agents).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.core.config import replace_config
from alloc_envs.core.validation import check_int
from alloc_envs.core.views import JointObservation
from alloc_envs.rendering import PALETTE, Frame, Panel, as_grid, grid_shape


@dataclass(frozen=True)
class HiddenTypesConfig:
    """Options of the hidden-types task, validated at construction.

    Attributes:
        n_agents: N, the number of agents (2 .. 10,000).
        n_types: K, the number of hidden types and of actions (2 .. N).
        episode_steps: steps per episode (1 .. 10,000).
        obs_dim: width of the noise observation (1 .. 1,000).
        type_seed: seed of the shuffle that gives the agents their types (>= 0).
    """

    n_agents: int = 36
    n_types: int = 2
    episode_steps: int = 8
    obs_dim: int = 4
    type_seed: int = 0

    def __post_init__(self) -> None:
        check_int("n_agents", self.n_agents, 2, 10_000)
        check_int("n_types", self.n_types, 2, self.n_agents)
        check_int("episode_steps", self.episode_steps, 1, 10_000)
        check_int("obs_dim", self.obs_dim, 1, 1_000)
        check_int("type_seed", self.type_seed, 0, 2**63 - 1)


def build_config(config: HiddenTypesConfig | None, overrides: dict[str, Any]) -> HiddenTypesConfig:
    """``config`` (default :class:`HiddenTypesConfig`) with ``overrides`` (``ValueError`` for an
    unknown name or a bad value)."""
    if config is not None and not isinstance(config, HiddenTypesConfig):
        raise ValueError(f"config must be a HiddenTypesConfig, got {type(config).__name__}")
    base = HiddenTypesConfig() if config is None else config
    return replace_config(base, "hidden-types", overrides) if overrides else base


def hidden_types(config: HiddenTypesConfig) -> np.ndarray:
    """(N,) int64 types: ``i mod K`` shuffled by ``type_seed`` (balanced to within one)."""
    types = np.arange(config.n_agents, dtype=np.int64) % config.n_types
    return np.random.default_rng(config.type_seed).permutation(types)


class HiddenTypesScenario:
    """The :class:`~alloc_envs.core.views.JointScenario` of the module docstring."""

    agent_prefix = "agent"

    def __init__(self, config: HiddenTypesConfig) -> None:
        self.config = config
        self.n_agents = n = config.n_agents
        self.types = hidden_types(config)
        self.types.setflags(write=False)
        box = spaces.Box(-1.0, 1.0, (config.obs_dim,), np.float32)
        self.agent_observation_space = spaces.Dict({"observation": box})
        joint_box = spaces.Box(-1.0, 1.0, (n, config.obs_dim), np.float32)
        self.joint_observation_space = spaces.Dict({"observation": joint_box})
        self.agent_action_space = spaces.Discrete(config.n_types)
        self.joint_action_space = spaces.MultiDiscrete(np.full(n, config.n_types))
        self.state_space = spaces.Box(-1.0, 1.0, (n * config.obs_dim,), np.float32)
        self._rng = np.random.default_rng(0)
        self._obs = np.zeros((n, config.obs_dim), np.float32)
        self._t = 0
        self._hits = 0.0
        self._last = 0.0
        self._last_action: np.ndarray | None = None

    @property
    def terminated(self) -> bool:
        return False

    @property
    def truncated(self) -> bool:
        return self._t >= self.config.episode_steps

    def reset(self, rng: np.random.Generator) -> JointObservation:
        self._rng = rng
        self._t, self._hits, self._last = 0, 0.0, 0.0
        self._last_action = None
        self._draw()
        return self.observe()

    def _draw(self) -> None:
        shape = (self.n_agents, self.config.obs_dim)
        self._obs = self._rng.uniform(-1.0, 1.0, shape).astype(np.float32)

    def step(self, action: Any) -> np.ndarray:
        joint = self._check_action(action)
        rewards = (joint == self.types).astype(np.float64)
        self._last_action = joint
        self._t += 1
        self._last = float(rewards.mean())
        self._hits += self._last
        self._draw()
        return rewards

    def _check_action(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        n, k = self.n_agents, self.config.n_types
        if a.shape != (n,):
            raise ValueError(f"action must have shape ({n},), got {a.shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError("action must be finite (NaN or inf given)")
        if a.dtype.kind not in "iuf" or (a != np.round(a)).any():
            raise ValueError(f"action must hold integers in [0, {k - 1}]")
        if (a < 0).any() or (a >= k).any():
            raise ValueError(f"action values must be in [0, {k - 1}], got {a.min()}..{a.max()}")
        return a.astype(np.int64)

    def observe(self) -> JointObservation:
        return {"observation": self._obs.copy()}

    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        return {
            "accuracy": self._last if rewards is not None else 0.0,
            "episode_accuracy": self._hits / self._t if self._t else 0.0,
            "step": self._t,
        }

    def state(self) -> np.ndarray:
        return self._obs.reshape(-1).copy()

    def render_ansi(self) -> str:
        return f"step {self._t}/{self.config.episode_steps}, accuracy {self._last:.3f}\n"

    def render_frame(self) -> Frame:
        """The agents on a near-square grid (row-major by index): their hidden types, and their
        last actions (green: the agent's type, red: another; grey before the first step)."""
        shape = grid_shape(self.n_agents)
        annotate = self.n_agents <= 100
        types = PALETTE[self.types % len(PALETTE)]
        if self._last_action is None:
            acted = np.full((self.n_agents, 3), 0.8)
            labels = np.full(self.n_agents, "", dtype=object)
        else:
            right = (self._last_action == self.types)[:, None]
            acted = np.where(right, (0.30, 0.69, 0.31), (0.90, 0.30, 0.24))
            labels = self._last_action.astype(str).astype(object)

        def panel(title: str, rgb: np.ndarray, text: np.ndarray) -> Panel:
            return Panel(
                title,
                as_grid(rgb, shape, fill=1.0),
                kind="image",
                text=as_grid(text, shape, fill="") if annotate else None,
            )

        title = (
            f"HiddenTypes  step {self._t}/{self.config.episode_steps}  accuracy "
            f"{self._last:.2f}  episode accuracy {self.metrics()['episode_accuracy']:.2f}"
        )
        return Frame(
            title,
            (
                panel("hidden type (not observed)", types, self.types.astype(str).astype(object)),
                panel("last action (green: right)", acted, labels),
            ),
        )


class HiddenTypesView:
    """The constructor both views share (put first in a view's bases): a
    :class:`HiddenTypesScenario` from ``config`` (default :class:`HiddenTypesConfig`) with
    ``overrides`` (any :class:`HiddenTypesConfig` field), handed to the view's base class."""

    def __init__(
        self,
        *,
        config: HiddenTypesConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = HiddenTypesScenario(build_config(config, overrides))
        super().__init__(scenario, render_mode)  # type: ignore[call-arg]
        self.config = scenario.config
        #: (N,) the agents' hidden types (not observed by the agents).
        self.types = scenario.types
