"""AgentDict: per-agent dicts that carry their joint arrays, and the PettingZoo fast path."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from alloc_envs.core.agent_dicts import AgentDict
from alloc_envs.ride_hailing import RideHailingParallelEnv

AGENTS = ["a_0", "a_1", "a_2"]


def _joint() -> dict[str, np.ndarray]:
    return {"x": np.arange(6.0).reshape(3, 2), "m": np.array([[1], [0], [1]], dtype=np.int8)}


def test_rows_are_views_of_the_joint_arrays() -> None:
    joint = _joint()
    d = AgentDict.of_rows(joint, AGENTS)
    assert list(d) == AGENTS and isinstance(d, dict)
    np.testing.assert_array_equal(d["a_1"]["x"], [2.0, 3.0])
    assert np.shares_memory(d["a_2"]["x"], joint["x"])
    assert d.joint_for(AGENTS) is joint
    assert d.joint_for(tuple(AGENTS)) is joint  # same names, another sequence
    assert d.joint_for(["a_0", "a_2", "a_1"]) is None  # other order
    plain = AgentDict.of_rows(np.zeros((3, 4)), AGENTS)
    assert plain["a_0"].shape == (4,)


def test_entries_are_made_when_read_and_every_reading_sees_them() -> None:
    joint = _joint()
    eager = {a: {"x": joint["x"][i], "m": joint["m"][i]} for i, a in enumerate(AGENTS)}

    def same(value) -> bool:
        return list(value) == AGENTS and all(
            np.array_equal(value[a][k], eager[a][k]) for a in AGENTS for k in ("x", "m")
        )

    readers = [
        dict,
        lambda d: {**d},
        lambda d: dict(d.items()),
        lambda d: dict(zip(d.keys(), d.values(), strict=True)),
        lambda d: {a: d.get(a) for a in AGENTS},
        lambda d: d.copy(),
        lambda d: d | {},
        lambda d: {} | d,
        lambda d: pickle.loads(pickle.dumps(d)),
    ]
    for read in readers:
        d = AgentDict.of_rows(joint, AGENTS)
        assert len(d) == 3 and list(d) == AGENTS  # no entry needed for these
        assert dict.__len__(d) == 0
        assert same(read(d))
    d = AgentDict.of_rows(joint, AGENTS)
    assert "a_1" in d and "b" not in d and list(reversed(d)) == AGENTS[::-1]
    assert repr(AgentDict.of_rows(np.zeros((3, 1)), AGENTS)).startswith("{'a_0': array(")
    assert AgentDict.of_rows(np.arange(3), AGENTS) == {"a_0": 0, "a_1": 1, "a_2": 2}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("a_0", 1),
        lambda d: d.__delitem__("a_0"),
        lambda d: d.update(a_0=1),
        lambda d: d.pop("a_0"),
        lambda d: d.popitem(),
        lambda d: d.setdefault("new", 1),
        lambda d: d.clear(),
        lambda d: d.__ior__({"a_0": 1}),
    ],
)
def test_changing_an_entry_drops_the_joint_arrays(change) -> None:
    d = AgentDict.of_rows(_joint(), AGENTS)
    change(d)
    assert d.joint is None and d.joint_for(AGENTS) is None


def test_copies_and_pickles_keep_entries_and_joint() -> None:
    d = AgentDict.of_rows(_joint(), AGENTS)
    for other in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d)):
        assert list(other) == AGENTS
        np.testing.assert_array_equal(other.joint["x"], d.joint["x"])
        np.testing.assert_array_equal(other["a_2"]["m"], [1])


def test_parallel_view_steps_an_agent_dict_as_its_joint_action() -> None:
    """The fast path and the per-agent path give the same step, and a changed entry counts."""
    envs = [RideHailingParallelEnv("ride-hailing-1") for _ in range(3)]
    obs = [env.reset(seed=3)[0] for env in envs]
    assert isinstance(obs[0], AgentDict) and obs[0].joint_for(envs[0].agents) is not None
    k = envs[0].config.max_orders
    picks = np.tile(np.arange(1, k + 1), (36, 1))
    fast = AgentDict.of_rows(picks, envs[0].possible_agents)
    slow = {a: picks[i] for i, a in enumerate(envs[1].possible_agents)}
    changed = AgentDict.of_rows(np.zeros_like(picks), envs[2].possible_agents)
    changed.update({a: picks[i] for i, a in enumerate(envs[2].possible_agents)})
    out = [env.step(a) for env, a in zip(envs, (fast, slow, changed), strict=True)]
    for other in out[1:]:
        assert other[1] == out[0][1]  # rewards
        assert other[4]["cell_0"]["gmv"] == out[0][4]["cell_0"]["gmv"] > 0
    with pytest.raises(ValueError, match="shape"):
        envs[0].step(AgentDict.of_rows(picks[:, :3], envs[0].possible_agents))
