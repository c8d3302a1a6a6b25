"""``PPOConfig.reward_sharing``: the team reward credits an action with what it earns others.

The controlled task: a *giver* whose action 1 pays the *taker* 1 (its own reward is always 0)
and a taker whose action changes nothing. With individual rewards the giver sees no signal and
stays near uniform; with the team reward it learns to give (the answer is known: always 1).
Advantages are not standardised here: standardising them over the agents of a space group
couples the agents (a batch in which the giver gives more raises the taker's advantages, hence
the pooled mean, hence lowers the giver's standardised advantages), which teaches an
individual-reward giver *not* to give (its giving rate ends at 0.0 on seeds 0 and 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import PPOConfig, evaluate, train
from alloc_agents.ppo.runner import team_rewards


class GiverTaker(ParallelEnv):
    """Two agents, constant observation, Discrete(2) actions, 8 steps then truncation."""

    metadata = {"name": "giver_taker_v0"}
    possible_agents = ["giver", "taker"]
    steps = 8

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(0.0, 1.0, (2,))

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def _observe(self) -> dict[str, np.ndarray]:
        return {a: np.eye(2, dtype=np.float32)[i] for i, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._observe(), {a: {} for a in self.agents}

    def step(self, actions):
        rewards = {"giver": 0.0, "taker": float(actions["giver"] == 1)}
        self.t += 1
        done = self.t >= self.steps
        agents, self.agents = self.agents, ([] if done else self.agents)
        return (
            self._observe(),
            rewards,
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            {a: {} for a in agents},
        )


def test_team_rewards_are_the_mean_over_the_agents_that_acted_per_copy() -> None:
    rewards = np.array([[1.0, 4.0], [3.0, 0.0], [8.0, 2.0]], dtype=np.float32)
    acting = np.array([[True, True], [True, False], [False, True]])
    shared = team_rewards(rewards, acting)
    np.testing.assert_allclose(shared, [[2.0, 3.0], [2.0, 0.0], [0.0, 3.0]])
    assert shared.dtype == np.float32
    assert team_rewards(rewards, np.zeros_like(acting)).sum() == 0.0


def _giving_rate(sharing: str, seed: int) -> float:
    config = PPOConfig(
        n_steps=32, lr=3e-3, n_epochs=4, normalize_advantages=False, reward_sharing=sharing
    )
    result = train(
        GiverTaker, sharing="nops", total_env_steps=3_072, n_envs=2, seed=seed, config=config,
        progress=False,
    )  # fmt: skip
    result.policy.deterministic = False
    return evaluate(result.policy, GiverTaker, episodes=25)["episode_return"] / GiverTaker.steps


@pytest.mark.parametrize("seed", [0, 1])
def test_only_the_team_reward_teaches_the_giver_to_give(seed: int) -> None:
    assert _giving_rate("team", seed) >= 0.9
    assert 0.2 <= _giving_rate("individual", seed) <= 0.8


def test_reward_sharing_is_validated() -> None:
    with pytest.raises(ValueError, match="reward_sharing"):
        PPOConfig(reward_sharing="global")


def test_dyps_keeps_crediting_each_agent_with_its_own_reward_under_team_sharing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alloc_agents import DyPSConfig
    from alloc_agents.ppo.dyps import DyPSController

    seen: list[tuple[np.ndarray, np.ndarray]] = []
    learn = DyPSController.learn

    def spy(self, model, buffers, iteration, env_steps):
        (buf,) = buffers
        seen.append(
            (buf.rewards.sum(dim=(1, 2)).numpy(), buf.learning_rewards.sum(dim=(1, 2)).numpy())
        )
        return learn(self, model, buffers, iteration, env_steps)

    monkeypatch.setattr(DyPSController, "learn", spy)
    config = PPOConfig(n_steps=16, reward_sharing="team")
    train(GiverTaker, sharing="dyps", sharing_options=DyPSConfig(n_groups=2), config=config,
          total_env_steps=64, n_envs=2, seed=0, progress=False)  # fmt: skip
    own, shared = seen[-1]
    assert own[0] == 0.0 and own[1] > 0.0  # the giver earns nothing itself, the taker all
    assert shared[0] == pytest.approx(shared[1]) == pytest.approx(own.sum() / 2)
