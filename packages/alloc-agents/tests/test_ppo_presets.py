"""The DyPS paper's Table 6 presets: each one's rollout is one episode of its environment, and
its budget, learning rates, discount and batch are the table's column."""

from __future__ import annotations

import pytest

from alloc_agents.ppo import get_preset

#: scenario -> (training steps, actor = critic learning rate, discount, batch), Table 6.
TABLE_6 = {
    "lbf-1": (1_000_000, 5e-4, 0.99, 256),
    "lbf-2": (1_000_000, 5e-4, 0.99, 256),
    "rware-1": (1_000_000, 5e-4, 0.99, 256),
    "rware-2": (1_000_000, 5e-4, 0.99, 256),
    "medical": (100_000, 1e-4, 0.99, 512),
    "ride-hailing-1": (30_000, 1e-3, 0.97, 1024),
    "ride-hailing-2": (30_000, 1e-3, 0.97, 1024),
}


def _episode_steps(name: str) -> int:
    """Steps of one episode of the scenario's Gymnasium view, played with random actions."""
    if name.startswith("lbf"):
        pytest.importorskip("lbforaging")
        from alloc_envs.third_party.lbf_env import LBFEnv as Env
    elif name.startswith("rware"):
        pytest.importorskip("rware")
        from alloc_envs.third_party.rware_env import RWAREEnv as Env
    elif name.startswith("medical"):
        from alloc_envs.vaccine import VaccineAllocationEnv as Env
    else:
        from alloc_envs.ride_hailing import RideHailingEnv as Env
    env = Env(preset=name)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        done = terminated or truncated
    return steps


@pytest.mark.parametrize("name", sorted(TABLE_6))
def test_table_6_presets(name: str) -> None:
    preset = get_preset(name)
    steps, lr, gamma, batch = TABLE_6[name]
    config = preset.config
    assert preset.total_env_steps == steps
    assert (config.lr, config.critic_learning_rate, config.gamma) == (lr, lr, gamma)
    assert (config.minibatch_size, config.gae_lambda, config.clip_coef) == (batch, 0.95, 0.2)
    assert preset.env_kwargs == {"preset": name}


@pytest.mark.parametrize("name", ["lbf-1", "rware-1", "medical-small"])
def test_a_table_6_rollout_is_one_episode(name: str) -> None:
    assert get_preset(name).config.n_steps == _episode_steps(name)
