"""``alloc_agents.train`` unchanged on third-party PettingZoo envs whose agents have different
observation and action spaces: mpe2's ``simple_speaker_listener_v4`` (a speaker and a listener,
each its own space group) and ``simple_world_comm_v3`` (three space groups of 1, 3 and 2
agents). mpe2's ``simple_spread_v3`` (identical agents) is covered with every algorithm and
sharing strategy in ``test_ppo_training.py`` and ``test_ppo_psa_seps.py``."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from gymnasium import spaces

from alloc_agents import PPOConfig, evaluate, train

speaker_listener = pytest.importorskip(
    "mpe2.simple_speaker_listener_v4", reason="mpe2 comes with alloc-agents[test]"
)
world_comm = pytest.importorskip("mpe2.simple_world_comm_v3")

TINY = PPOConfig(n_steps=50, n_epochs=1, n_minibatches=2, hidden_sizes=(16, 16))
SPEAKER_LISTENER = partial(speaker_listener.parallel_env, continuous_actions=False)
WORLD_COMM = partial(world_comm.parallel_env, continuous_actions=False, max_cycles=10)


def _check_actions(result, env_fn) -> None:
    env = env_fn()
    obs, _ = env.reset(seed=0)
    actions = result.policy.act_parallel(obs)
    assert set(actions) == set(env.agents)
    for agent, action in actions.items():
        assert env.action_space(agent).contains(np.int64(action)), (agent, action)
    env.step(actions)


def test_speaker_listener_has_heterogeneous_spaces() -> None:
    env = SPEAKER_LISTENER()
    assert env.possible_agents == ["speaker_0", "listener_0"]
    assert env.observation_space("speaker_0").shape == (3,)
    assert env.action_space("speaker_0") == spaces.Discrete(3)
    assert env.observation_space("listener_0").shape == (11,)
    assert env.action_space("listener_0") == spaces.Discrete(5)


@pytest.mark.parametrize("algorithm", ["ippo", "mappo"])
def test_speaker_listener_trains_with_ps_and_nops(algorithm: str) -> None:
    runs = {
        sharing: train(SPEAKER_LISTENER, algorithm=algorithm, sharing=sharing,
                       total_env_steps=2000, n_envs=4, seed=0, device="cpu", config=TINY)
        for sharing in ("ps", "nops")
    }  # fmt: skip
    for result in runs.values():
        groups = result.model.layout.groups
        assert [list(g.names) for g in groups] == [["speaker_0"], ["listener_0"]]
        last = result.history[-1]
        assert last["env_steps"] == 2000 and last["episodes"] == 80  # 25-step episodes
        for key in ("policy_loss", "value_loss", "entropy", "approx_kl"):
            assert np.isfinite(last[key]), key
        assert result.history[0]["approx_kl"] < 0.05
        _check_actions(result, SPEAKER_LISTENER)
    # every space group holds one agent, so sharing within a group changes nothing:
    # PS and NoPS are the same networks, trained identically
    ps, nops = runs["ps"].history, runs["nops"].history
    assert [r["policy_loss"] for r in ps] == [r["policy_loss"] for r in nops]
    scores = evaluate(runs["ps"].policy, SPEAKER_LISTENER, episodes=1)
    assert np.isfinite(scores["episode_return"])


@pytest.mark.parametrize(("algorithm", "sharing"), [("ippo", "nops"), ("mappo", "ps-id")])
def test_world_comm_trains_three_space_groups(algorithm: str, sharing: str) -> None:
    result = train(WORLD_COMM, algorithm=algorithm, sharing=sharing, total_env_steps=200,
                   n_envs=2, seed=0, device="cpu", config=TINY)  # fmt: skip
    groups = result.model.layout.groups
    assert sorted(g.n_agents for g in groups) == [1, 2, 3]
    by_agent = {name: g for g in groups for name in g.names}
    assert list(by_agent["leadadversary_0"].names) == ["leadadversary_0"]  # Discrete(20)
    assert by_agent["adversary_0"] is by_agent["adversary_2"]
    assert by_agent["agent_0"] is by_agent["agent_1"]
    members = [gm.n_members for gm in result.model.groups]
    assert members == ([g.n_agents for g in groups] if sharing == "nops" else [1, 1, 1])
    assert np.isfinite(result.history[-1]["policy_loss"])
    _check_actions(result, WORLD_COMM)
