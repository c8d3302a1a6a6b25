"""The coloured agent types of the RWARE adapter: what persists across resets, how shelves are
coloured and requested, the delivery rule, the colour features, the per-colour observation
orders and action labels, and exact agreement with upstream when there is one colour."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rware", reason="needs alloc-envs[third-party]")

from rware.warehouse import Action, Direction, RewardType, Warehouse

from alloc_envs.third_party.rollouts import random_joint_action
from alloc_envs.third_party.rware_env import RWAREEnv

#: The presets' colours: agents 0-3 red (0), 4-7 blue (1) for rware-1.
COLOURS_1 = (0, 0, 0, 0, 1, 1, 1, 1)
GOAL = (4, 19)  # (x, y) of the first goal cell of the 20 x 10 warehouse


def _queue_colours(env: RWAREEnv) -> list[int]:
    wh = env.scenario.warehouse
    return sorted(int(wh.shelf_colors[s.id - 1]) for s in wh.request_queue)


def test_agent_colours_persist_and_shelves_and_requests_are_balanced() -> None:
    env = RWAREEnv("rware-2", time_limit=30)
    expected = (0,) * 8 + (1,) * 8
    assert env.agent_types == expected
    wh = env.scenario.warehouse
    features = env.scenario.feature_names
    own = [features.index("own_red"), features.index("own_blue")]
    rng = np.random.default_rng(0)
    for seed in [0, 1, 2, None, None]:
        obs, _ = env.reset(seed=seed)
        assert env.agent_types == expected
        np.testing.assert_array_equal(wh.agent_colors, expected)
        canonical = env.scenario.canonical_observation()
        np.testing.assert_array_equal(canonical[:, own].argmax(axis=1), expected)
        assert len(wh.shelfs) == 80
        assert np.bincount(wh.shelf_colors, minlength=2).tolist() == [40, 40]
        assert _queue_colours(env) == [0] * 4 + [1] * 4
        for _ in range(10):
            obs, *_ = env.step(random_joint_action(rng, obs, 5))
            assert _queue_colours(env) == [0] * 4 + [1] * 4
    custom = RWAREEnv("rware-1", agent_colors=[1, 0, 1, 0, 1, 0, 1, 0])
    custom.reset(seed=0)
    assert custom.agent_types == (1, 0, 1, 0, 1, 0, 1, 0)


def _carry_to_goal(env: RWAREEnv, carrier: int, shelf_colour: int) -> int:
    """Park every robot on the top corridor, put ``carrier`` just above the first goal facing
    it, carrying a requested shelf of ``shelf_colour``; returns that shelf's id."""
    wh = env.scenario.warehouse
    shelf = next(s for s in wh.request_queue if wh.shelf_colors[s.id - 1] == shelf_colour)
    for i, agent in enumerate(wh.agents):
        agent.carrying_shelf = None
        agent.x, agent.y, agent.dir = i, 0, Direction.RIGHT
    agent = wh.agents[carrier]
    agent.x, agent.y, agent.dir = GOAL[0], GOAL[1] - 1, Direction.DOWN
    agent.carrying_shelf = shelf
    shelf.x, shelf.y = agent.x, agent.y
    wh._recalc_grid()
    return shelf.id


def _forward(env: RWAREEnv, carrier: int) -> tuple:
    action = np.zeros(env.scenario.n_agents, dtype=np.int64)
    action[carrier] = 1  # FORWARD (actions are not rolled in these tests)
    return env.step(action)


def test_delivering_a_shelf_of_ones_own_colour_is_rewarded_and_re_requested() -> None:
    env = RWAREEnv("rware-1", roll_actions=False)
    env.reset(seed=3)
    wh = env.scenario.warehouse
    shelf_id = _carry_to_goal(env, carrier=1, shelf_colour=0)
    _, reward, _, _, info = _forward(env, carrier=1)
    assert reward == 1.0
    assert info["agent_rewards"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    assert info["deliveries"] == 1 and info["deliveries_by_color"].tolist() == [1, 0]
    assert info["wrong_color_arrivals"] == 0
    assert shelf_id not in {s.id for s in wh.request_queue}
    assert _queue_colours(env) == [0, 0, 1, 1]  # replaced by another red shelf
    _, reward, *_ = env.step(np.zeros(8, dtype=np.int64))
    assert reward == 0.0  # no longer requested: delivered once


def test_delivering_a_shelf_of_another_colour_earns_nothing_and_blocks_the_goal() -> None:
    env = RWAREEnv("rware-1", roll_actions=False)
    env.reset(seed=3)
    wh = env.scenario.warehouse
    shelf_id = _carry_to_goal(env, carrier=6, shelf_colour=0)  # a blue robot, a red shelf
    queue = [s.id for s in wh.request_queue]
    _, reward, _, _, info = _forward(env, carrier=6)
    assert reward == 0.0 and info["deliveries"] == 0
    assert info["wrong_color_arrivals"] == 1
    assert [s.id for s in wh.request_queue] == queue  # still requested
    assert (wh.agents[6].x, wh.agents[6].y) == GOAL
    _, reward, _, _, info = env.step(np.zeros(8, dtype=np.int64))  # waiting there: no recount
    assert reward == 0.0 and info["wrong_color_arrivals"] == 1
    assert shelf_id in queue


def test_global_reward_pays_every_agent() -> None:
    env = RWAREEnv("rware-1", roll_actions=False, reward="global")
    env.reset(seed=3)
    _carry_to_goal(env, carrier=5, shelf_colour=1)
    _, reward, _, _, info = _forward(env, carrier=5)
    assert info["agent_rewards"].tolist() == [1.0] * 8 and reward == 8.0


def test_colour_features_show_the_colours_around_each_agent() -> None:
    env = RWAREEnv("rware-1")
    env.reset(seed=4)
    wh = env.scenario.warehouse
    names = env.scenario.feature_names
    canonical = env.scenario.canonical_observation()
    upstream = np.stack([wh._make_obs(a) for a in wh.agents])
    np.testing.assert_array_equal(canonical[:, :71], upstream)
    for i, agent in enumerate(wh.agents):
        for cell, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
            x, y = agent.x + dx, agent.y + dy
            inside = 0 <= x < 10 and 0 <= y < 20
            shelf = int(wh.grid[1, y, x]) if inside else 0
            for colour, name in enumerate(("red", "blue")):
                value = canonical[i, names.index(f"cell{cell}_shelf_{name}")]
                assert value == float(shelf > 0 and wh.shelf_colors[shelf - 1] == colour)
            assert canonical[i, names.index(f"cell{cell}_has_shelf")] == float(shelf > 0)


def test_each_colour_sees_its_own_fixed_feature_order() -> None:
    env = RWAREEnv("rware-1")
    order = env.scenario.observation_order
    assert order.shape == (2, 91)
    assert not np.array_equal(order[0], order[1])
    assert sorted(order[0]) == sorted(order[1]) == list(range(91))
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        canonical = env.scenario.canonical_observation()
        for i, colour in enumerate(COLOURS_1):
            np.testing.assert_array_equal(obs["observation"][i], canonical[i, order[colour]])
    np.testing.assert_array_equal(RWAREEnv("rware-1").scenario.observation_order, order)
    assert not np.array_equal(RWAREEnv("rware-1", type_seed=1).scenario.observation_order, order)
    plain = RWAREEnv("rware-1", permute_observations=False)
    obs, _ = plain.reset(seed=0)
    np.testing.assert_array_equal(obs["observation"], plain.scenario.canonical_observation())


def test_each_colour_has_its_own_action_labels() -> None:
    env = RWAREEnv("rware-1")
    env.reset(seed=0)
    env.step(np.full(8, 2))  # colour c plays upstream action (2 + c) mod 5
    wh = env.scenario.warehouse
    assert [a.req_action for a in wh.agents] == [Action.LEFT] * 4 + [Action.RIGHT] * 4
    plain = RWAREEnv("rware-1", roll_actions=False)
    plain.reset(seed=0)
    plain.step(np.full(8, 2))
    assert [a.req_action for a in plain.scenario.warehouse.agents] == [Action.LEFT] * 8


def _upstream_small(n_agents: int, queue: int) -> Warehouse:
    return Warehouse(
        shelf_columns=3,
        column_height=8,
        shelf_rows=2,
        n_agents=n_agents,
        msg_bits=0,
        sensor_range=1,
        request_queue_size=queue,
        max_inactivity_steps=None,
        max_steps=None,
        reward_type=RewardType.INDIVIDUAL,
    )


def test_one_colour_reproduces_upstream_exactly() -> None:
    """With one colour and no relabelling the adapter is upstream's warehouse, step for step,
    deliveries (and their random replacement requests) included."""
    env = RWAREEnv(
        "rware-1", n_colors=1, request_queue_size=4, permute_observations=False, roll_actions=False
    )
    raw = _upstream_small(8, 4)
    obs, _ = env.reset(seed=7)
    raw_obs, _ = raw.reset(seed=7)
    np.testing.assert_array_equal(obs["observation"][:, :71], np.stack(raw_obs))
    rng = np.random.default_rng(0)
    for t in range(60):
        if t in (10, 30):  # force a delivery in both
            for wh in (env.scenario.warehouse, raw):
                shelf = wh.request_queue[0]
                agent = wh.agents[0]
                if agent.carrying_shelf is not None:
                    agent.carrying_shelf.x, agent.carrying_shelf.y = agent.x, agent.y
                for other in wh.agents:
                    if (other.x, other.y) == (GOAL[0], GOAL[1] - 1):
                        other.x, other.y = 0, 0
                agent.x, agent.y, agent.dir = GOAL[0], GOAL[1] - 1, Direction.DOWN
                agent.carrying_shelf = shelf
                shelf.x, shelf.y = agent.x, agent.y
                wh._recalc_grid()
            action = np.zeros(8, dtype=np.int64)
            action[0] = 1
        else:
            action = rng.integers(0, 5, size=8)
        obs, _, _, _, info = env.step(action)
        raw_obs, raw_rewards, *_ = raw.step(action.tolist())
        np.testing.assert_array_equal(obs["observation"][:, :71], np.stack(raw_obs))
        assert info["agent_rewards"].tolist() == list(raw_rewards)
        assert [s.id for s in env.scenario.warehouse.request_queue] == [
            s.id for s in raw.request_queue
        ]
    assert info["deliveries"] >= 2
