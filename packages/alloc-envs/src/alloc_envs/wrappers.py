"""Flat views of the joint Gymnasium views, for single-agent libraries (stable-baselines3, ...).

The Gymnasium view of every ``alloc`` environment acts jointly for all agents, with agent-major
spaces: an (N, ...) array per observation key, and an (N, ...) action (Ride-Hailing dispatch:
``MultiDiscrete`` of shape (G, K); Ride-Hailing reposition: ``Box`` (G, 7); vaccine: ``Box``
(N, 1)). Some libraries take flat spaces only: stable-baselines3's PPO, A2C and the like
build their ``MultiCategorical`` distribution from a *1-D* ``MultiDiscrete``, so
``PPO("MultiInputPolicy", gymnasium.make("alloc/RideHailing-v0"))`` fails inside
stable-baselines3 (``TypeError: empty(): argument 'size' ...``) although its ``check_env``
passes. :class:`FlatJointView` is the fix::

    import gymnasium, alloc_envs
    from alloc_envs.wrappers import FlatJointView
    from stable_baselines3 import PPO

    env = FlatJointView(gymnasium.make("alloc/RideHailing-v0"))
    PPO("MultiInputPolicy", env).learn(10_000)

It works on the Gymnasium view of every id (where a view is flat already it changes little),
needs numpy only, and is what ``alloc_agents.baselines.sb3`` trains on (``SB3JointView`` there
is this class). :class:`JointSpaces` holds the conversions, for code that acts on the unwrapped
view with a policy trained on the flat one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

__all__ = ["FlatJointView", "JointSpaces"]


def _flat_obs_space(key: str, space: spaces.Space) -> spaces.Space:
    if isinstance(space, spaces.Box):
        low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        f32 = np.finfo(np.float32)
        low = np.clip(low, f32.min, f32.max).astype(np.float32)
        high = np.clip(high, f32.min, f32.max).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)
    if isinstance(space, spaces.MultiDiscrete):
        return spaces.MultiDiscrete(space.nvec.reshape(-1))
    if isinstance(space, spaces.MultiBinary):
        return spaces.MultiBinary(int(np.prod(space.shape)))
    if isinstance(space, spaces.Discrete):
        return spaces.Discrete(int(space.n))
    raise ValueError(
        f"observation {key!r}: {type(space).__name__} spaces are not supported by "
        "stable-baselines3 (flat Box, Discrete, MultiDiscrete, MultiBinary only)"
    )


def _flat_obs(space: spaces.Space, value: Any) -> Any:
    if isinstance(space, spaces.Box):
        return np.asarray(value, dtype=np.float32).reshape(-1)
    if isinstance(space, spaces.MultiDiscrete):
        return (np.asarray(value, dtype=np.int64) - space.start).reshape(-1)
    if isinstance(space, spaces.MultiBinary):
        return np.asarray(value, dtype=np.int8).reshape(-1)
    return int(np.asarray(value).reshape(())) - int(space.start)


class JointSpaces:
    """The flat spaces of a joint view and the conversions between the two.

    * observations: every sub-space of a ``Dict`` (or a lone space) is flattened to one
      dimension: ``Box`` (N, ...) becomes a float32 ``Box`` of ``prod(shape)`` (masks stored as
      int8 included), ``MultiDiscrete`` / ``MultiBinary`` (N, ...) their 1-D versions,
      ``Discrete`` is kept (shifted to start at 0); nested ``Dict`` / ``Tuple`` raise
      ``ValueError``;
    * actions: ``MultiDiscrete`` (N, K) becomes ``MultiDiscrete`` of ``N * K`` components (row
      i * K + k is agent i's component k), ``Box`` (N, ...) with finite bounds becomes
      ``Box(-1, 1, (prod(shape),))`` (the symmetric range stable-baselines3 recommends) and is
      rescaled back to the view's bounds by :meth:`action`; ``Discrete`` and ``MultiBinary``
      likewise.

    Args:
        observation_space: the joint view's observation space (a ``Dict`` of agent-major
            arrays, or one array space).
        action_space: the joint view's action space.
        rescale_box_actions: map a ``Box`` action with finite bounds to ``[-1, 1]``.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        rescale_box_actions: bool = True,
    ) -> None:
        self.env_observation_space = observation_space
        self.env_action_space = action_space
        if isinstance(observation_space, spaces.Dict):
            for key, sub in observation_space.spaces.items():
                if isinstance(sub, spaces.Dict | spaces.Tuple):
                    raise ValueError(
                        f"observation {key!r} is a nested {type(sub).__name__}; "
                        "stable-baselines3 takes one level of Dict keys"
                    )
            self.observation_space: spaces.Space = spaces.Dict(
                {k: _flat_obs_space(k, s) for k, s in observation_space.spaces.items()}
            )
        else:
            self.observation_space = _flat_obs_space("observation", observation_space)
        self.action_space, self._rescale = self._flat_action_space(
            action_space, rescale_box_actions
        )

    @staticmethod
    def _flat_action_space(space: spaces.Space, rescale: bool) -> tuple[spaces.Space, bool]:
        if isinstance(space, spaces.MultiDiscrete):
            return spaces.MultiDiscrete(space.nvec.reshape(-1)), False
        if isinstance(space, spaces.Box):
            finite = bool(np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)))
            size = int(np.prod(space.shape))
            if rescale and finite:
                return spaces.Box(-1.0, 1.0, (size,), dtype=np.float32), True
            low = np.asarray(space.low, dtype=np.float32).reshape(-1)
            high = np.asarray(space.high, dtype=np.float32).reshape(-1)
            return spaces.Box(low, high, dtype=np.float32), False
        if isinstance(space, spaces.MultiBinary):
            return spaces.MultiBinary(int(np.prod(space.shape))), False
        if isinstance(space, spaces.Discrete):
            return spaces.Discrete(int(space.n)), False
        raise ValueError(
            f"action space {type(space).__name__} is not supported by stable-baselines3 "
            "(Box, Discrete, MultiDiscrete, MultiBinary)"
        )

    @property
    def dict_observation(self) -> bool:
        """Whether the observation is a ``Dict`` (SB3's ``MultiInputPolicy``)."""
        return isinstance(self.observation_space, spaces.Dict)

    def observation(self, obs: Any) -> Any:
        """A joint observation -> its flat SB3 form (fresh arrays)."""
        space = self.env_observation_space
        if isinstance(space, spaces.Dict):
            if not isinstance(obs, Mapping):
                raise ValueError(f"expected a dict observation with keys {list(space.spaces)}")
            missing = [k for k in space.spaces if k not in obs]
            if missing:
                raise ValueError(f"observation lacks the key(s) {missing}")
            return {k: _flat_obs(s, obs[k]) for k, s in space.spaces.items()}
        return _flat_obs(space, obs)

    def action(self, action: Any) -> Any:
        """A flat SB3 action -> the joint view's action (its shape, dtype and range)."""
        space = self.env_action_space
        a = np.asarray(action)
        if isinstance(space, spaces.MultiDiscrete):
            return (a.astype(np.int64).reshape(space.shape) + space.start).astype(space.dtype)
        if isinstance(space, spaces.Box):
            a = a.astype(np.float64).reshape(space.shape)
            if self._rescale:
                low, high = space.low.astype(np.float64), space.high.astype(np.float64)
                a = low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
                a = np.clip(a, low, high)  # rounding
            return a.astype(space.dtype)
        if isinstance(space, spaces.MultiBinary):
            return a.astype(np.int8).reshape(space.shape)
        return int(a.reshape(())) + int(space.start)


class FlatJointView(gymnasium.Wrapper):
    """A joint view with the flat spaces of :class:`JointSpaces` (module doc): what
    stable-baselines3 (its ``check_env`` and its algorithms) and other single-agent libraries
    take.

    ``reset`` / ``step`` pass through; observations are flattened, actions unflattened and
    rescaled (a ``Box`` action in [-1, 1] maps to the view's bounds; pass
    ``rescale_box_actions=False`` to keep them). ``info`` (team metrics, ``agent_rewards``),
    rewards and ``render()`` are the view's.
    """

    def __init__(self, env: gymnasium.Env, rescale_box_actions: bool = True) -> None:
        super().__init__(env)
        self.joint = JointSpaces(env.observation_space, env.action_space, rescale_box_actions)
        self.observation_space = self.joint.observation_space
        self.action_space = self.joint.action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self.joint.observation(obs), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(self.joint.action(action))
        return self.joint.observation(obs), float(reward), terminated, truncated, info
