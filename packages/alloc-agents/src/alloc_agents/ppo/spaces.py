"""From PettingZoo spaces to batched arrays: space groups, observation stacking, flat features.

Agents with identical observation *and* action spaces form a *space group*; each group has its
own networks (a sharing strategy then decides which agents of a group share parameters). Inside
a group, arrays are agent-major: ``(A, E, ...)`` for A agents of the group and E env copies.

Observations are handled as dicts of arrays: a ``Dict`` space keeps its keys, any other space
becomes the single key ``"obs"``. Keys named ``action_mask`` or ending in ``_mask`` are *masks*:
they are not fed to generic MLPs as features; ``action_mask`` masks Discrete logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.core.agent_dicts import AgentDict

#: The key of a non-Dict observation.
OBS_KEY = "obs"
#: PettingZoo's action-mask key (a ``space.sample(mask=...)`` mask).
ACTION_MASK = "action_mask"


def is_mask_key(key: str) -> bool:
    """Whether an observation key holds a mask (not a feature)."""
    return key == ACTION_MASK or key.endswith("_mask")


@dataclass(frozen=True)
class ObsKey:
    """One observation entry: ``kind`` is ``"box"``, ``"discrete"``, ``"multidiscrete"`` or
    ``"multibinary"``; ``shape`` is the array shape per agent; ``flat_dim`` its width as a flat
    feature (Discrete one-hot: ``n``; MultiDiscrete: ``sum(nvec)``)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    flat_dim: int
    n: int = 0
    start: int = 0
    nvec: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()


def _obs_key(name: str, space: spaces.Space) -> ObsKey:
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in space.shape)
        return ObsKey(name, "box", shape, int(np.prod(shape, dtype=np.int64)))
    if isinstance(space, spaces.Discrete):
        return ObsKey(name, "discrete", (), int(space.n), n=int(space.n), start=int(space.start))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = tuple(int(v) for v in np.asarray(space.nvec).ravel())
        starts = tuple(int(v) for v in np.asarray(space.start).ravel())
        return ObsKey(
            name, "multidiscrete", tuple(space.shape), sum(nvec), nvec=nvec, starts=starts
        )
    if isinstance(space, spaces.MultiBinary):
        shape = tuple(int(s) for s in np.atleast_1d(space.shape))
        return ObsKey(name, "multibinary", shape, int(np.prod(shape)))
    raise ValueError(
        f"observation space of {name!r} is {space}; supported: Box, Discrete, MultiDiscrete, "
        f"MultiBinary, or a Dict of those"
    )


@dataclass(frozen=True)
class ObsSpec:
    """How one agent's observation is stacked: its keys in a fixed order."""

    keys: tuple[ObsKey, ...]
    is_dict: bool

    @classmethod
    def from_space(cls, space: spaces.Space) -> ObsSpec:
        if isinstance(space, spaces.Dict):
            keys = tuple(_obs_key(str(k), s) for k, s in space.spaces.items())
            if not keys:
                raise ValueError("empty Dict observation space")
            return cls(keys, True)
        return cls((_obs_key(OBS_KEY, space),), False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def key(self, name: str) -> ObsKey:
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return name in self.names

    @property
    def feature_keys(self) -> tuple[ObsKey, ...]:
        """The non-mask keys, in order (what a generic MLP reads)."""
        return tuple(k for k in self.keys if not is_mask_key(k.name))

    @property
    def flat_dim(self) -> int:
        """Width of the flat feature vector of the non-mask keys."""
        return sum(k.flat_dim for k in self.feature_keys)


@dataclass(frozen=True)
class ActionSpec:
    """An action space in the form the heads need.

    ``kind``: ``"discrete"`` (``n``, ``start``), ``"multidiscrete"`` (``nvec``, ``starts``,
    ``shape``: the space's shape, possibly multi-dimensional), ``"box"`` (``shape``, ``low``,
    ``high``).
    """

    kind: str
    shape: tuple[int, ...]
    n: int = 0
    start: int = 0
    nvec: tuple[int, ...] = ()
    starts: tuple[int, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @classmethod
    def from_space(cls, space: spaces.Space) -> ActionSpec:
        if isinstance(space, spaces.Discrete):
            return cls("discrete", (), n=int(space.n), start=int(space.start))
        if isinstance(space, spaces.MultiDiscrete):
            nvec = tuple(int(v) for v in np.asarray(space.nvec).ravel())
            starts = tuple(int(v) for v in np.asarray(space.start).ravel())
            return cls("multidiscrete", tuple(space.shape), nvec=nvec, starts=starts)
        if isinstance(space, spaces.MultiBinary):
            shape = tuple(int(s) for s in np.atleast_1d(space.shape))
            size = int(np.prod(shape))
            return cls("multidiscrete", shape, nvec=(2,) * size, starts=(0,) * size)
        if isinstance(space, spaces.Box):
            if not np.issubdtype(space.dtype, np.floating):
                raise ValueError(f"integer Box action spaces are not supported: {space}")
            low = tuple(float(v) for v in np.asarray(space.low, np.float64).ravel())
            high = tuple(float(v) for v in np.asarray(space.high, np.float64).ravel())
            return cls("box", tuple(space.shape), low=low, high=high)
        raise ValueError(
            f"action space {space} is not supported; supported: Discrete, MultiDiscrete, "
            f"MultiBinary, Box"
        )

    @property
    def size(self) -> int:
        """Number of action components (1 for Discrete)."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def is_discrete(self) -> bool:
        return self.kind in ("discrete", "multidiscrete")


@dataclass
class SpaceGroup:
    """Agents with identical spaces. ``agents``: their indices in ``possible_agents`` (ordered);
    ``names``: their ids."""

    index: int
    agents: tuple[int, ...]
    names: tuple[str, ...]
    observation_space: spaces.Space
    action_space: spaces.Space
    obs: ObsSpec
    action: ActionSpec

    @property
    def n_agents(self) -> int:
        return len(self.agents)


@dataclass
class AgentLayout:
    """All agents of an env (``possible_agents`` order) and their space groups."""

    agents: tuple[str, ...]
    groups: tuple[SpaceGroup, ...]

    @classmethod
    def from_env(cls, env: Any) -> AgentLayout:
        """Group ``env.possible_agents`` by identical observation and action spaces."""
        agents = tuple(env.possible_agents)
        if not agents:
            raise ValueError("the environment has no possible_agents")
        reps: list[tuple[spaces.Space, spaces.Space]] = []
        members: list[list[int]] = []
        for i, agent in enumerate(agents):
            obs_space, act_space = env.observation_space(agent), env.action_space(agent)
            for g, (o, a) in enumerate(reps):
                if (o is obs_space or o == obs_space) and (a is act_space or a == act_space):
                    members[g].append(i)
                    break
            else:
                reps.append((obs_space, act_space))
                members.append([i])
        groups = tuple(
            SpaceGroup(
                index=g,
                agents=tuple(idx),
                names=tuple(agents[i] for i in idx),
                observation_space=o,
                action_space=a,
                obs=ObsSpec.from_space(o),
                action=ActionSpec.from_space(a),
            )
            for g, ((o, a), idx) in enumerate(zip(reps, members, strict=True))
        )
        return cls(agents, groups)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    def check_matches(self, env: Any) -> None:
        """``ValueError`` unless ``env`` has the same agents and spaces."""
        other = AgentLayout.from_env(env)
        if other.agents != self.agents:
            raise ValueError(
                f"environment agents differ: expected {list(self.agents)[:5]}..., "
                f"got {list(other.agents)[:5]}..."
            )
        for g, h in zip(self.groups, other.groups, strict=False):
            if g.agents != h.agents or g.obs != h.obs or g.action != h.action:
                raise ValueError(f"environment spaces differ for agents {list(g.names)[:5]}")
        if len(self.groups) != len(other.groups):
            raise ValueError("environment space groups differ")


def stack_group_obs(
    group: SpaceGroup, observations: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    """Stack one group's observations from E env copies into ``{key: (A, E, *shape)}`` float32.

    ``observations[e]`` is copy e's ``{agent: obs}`` dict; agents missing from it (inactive)
    get zeros. A copy whose observations carry their joint arrays (an ``AgentDict`` over every
    agent) is copied from those, one array per key.
    """
    a, e = group.n_agents, len(observations)
    out: dict[str, np.ndarray] = {}
    for key in group.obs.keys:
        out[key.name] = np.zeros((a, e, *key.shape), dtype=np.float32)
    dict_obs = group.obs.is_dict
    for j, obs in enumerate(observations):
        rows = _joint_rows(group, obs)
        if rows is not None:
            joint, index = rows
            for key in group.obs.keys:
                value = joint[key.name] if dict_obs else joint
                out[key.name][:, j] = value if index is None else value[index]
            continue
        for i, name in enumerate(group.names):
            agent_obs = obs.get(name)
            if agent_obs is None:
                continue
            if dict_obs:
                for key in group.obs.keys:
                    out[key.name][i, j] = agent_obs[key.name]
            else:
                out[OBS_KEY][i, j] = agent_obs
    return out


def _joint_rows(group: SpaceGroup, obs: Mapping[str, Any]) -> tuple[Any, list[int] | None] | None:
    """``(joint, rows)`` when ``obs`` is an ``AgentDict`` over all of its agents whose rows
    ``rows`` (``None``: all, in order) are the group's agents; else ``None``."""
    if not isinstance(obs, AgentDict):
        return None
    joint = obs.joint_for(obs.agents)
    if joint is None:
        return None
    names = obs.agents
    if len(names) == group.n_agents and tuple(names) == group.names:
        return joint, None
    index = list(group.agents)
    if max(index) >= len(names) or tuple(names[i] for i in index) != group.names:
        return None
    return joint, index


def flat_features_np(group: SpaceGroup, obs: Mapping[str, Any]) -> np.ndarray:
    """One agent's flat feature vector (non-mask keys; integers one-hot), float32."""
    parts: list[np.ndarray] = []
    for key in group.obs.feature_keys:
        value = obs[key.name] if group.obs.is_dict else obs
        parts.append(_flat_np(key, np.asarray(value)))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _flat_np(key: ObsKey, value: np.ndarray) -> np.ndarray:
    if key.kind in ("box", "multibinary"):
        return value.astype(np.float32).ravel()
    if key.kind == "discrete":
        out = np.zeros(key.n, np.float32)
        out[int(value) - key.start] = 1.0
        return out
    out = np.zeros(key.flat_dim, np.float32)
    offset = 0
    for v, n, s in zip(value.ravel(), key.nvec, key.starts, strict=True):
        out[offset + int(v) - s] = 1.0
        offset += n
    return out
