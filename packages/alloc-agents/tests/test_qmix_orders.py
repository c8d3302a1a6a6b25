"""The replay buffer's packed candidate orders (``alloc_agents.qmix.orders``) give the networks
exactly what packing the padded candidates gives: the same mask, order positions, rows and
features, for batches of episodes of different lengths and slot counts, for their first steps,
and for episodes saved before the buffer packed them."""

from __future__ import annotations

import numpy as np
import torch

from alloc_agents.ppo.ride_hailing import CANDIDATE_COLUMNS
from alloc_agents.qmix.episodes import Episode, collate
from alloc_agents.qmix.orders import ORDER_FEATURES, order_rows, pack_episode, pack_orders

CPU = torch.device("cpu")


def dense_episode(rng: np.random.Generator, steps: int, agents: int, slots: int) -> Episode:
    """An episode of ``steps`` steps whose observations hold padded ``candidates``; the last
    step's candidates are empty (a day's final observation)."""
    mask = (rng.random((steps + 1, agents, slots)) < 0.3).astype(np.int8)
    mask[..., 0] = 1
    mask[-1, :, 1:] = 0
    candidates = rng.normal(size=(steps + 1, agents, slots, 9)).astype(np.float32)
    candidates *= mask[..., None]
    obs = {
        "observation": rng.random((steps + 1, agents, 5)).astype(np.float32),
        "time": np.zeros((steps + 1, agents, 1), np.float32),
        "candidates": candidates,
        "candidate_mask": mask,
    }
    return Episode(
        obs=[obs],
        acting=[np.ones((steps + 1, agents), bool)],
        actions=[np.zeros((steps, agents, 3), np.int64)],
        per_agent={"reward": [np.zeros((steps, agents), np.float32)]},
        state=np.zeros((steps + 1, 4), np.float32),
        reward=np.zeros(steps, np.float32),
        terminal=np.zeros(steps, bool),
    )


def packed(episode: Episode) -> Episode:
    return Episode(
        [pack_episode(obs) for obs in episode.obs],
        episode.acting,
        episode.actions,
        episode.per_agent,
        episode.state,
        episode.reward,
        episode.terminal,
    )


def assert_same_orders(ours, theirs) -> None:
    for field in ("mask", "index", "row", "features"):
        torch.testing.assert_close(getattr(ours, field), getattr(theirs, field), rtol=0, atol=0)


def episodes() -> list[Episode]:
    rng = np.random.default_rng(0)
    return [dense_episode(rng, steps, 4, slots) for steps, slots in ((6, 9), (4, 5), (6, 12))]


def test_a_batch_of_packed_episodes_has_the_orders_of_the_padded_batch() -> None:
    dense = collate(episodes(), CPU)
    batch = collate([packed(e) for e in episodes()], CPU)
    assert "candidates" not in batch.obs[0] and dense.orders == [None]
    flat = {k: v.flatten(1, 2) for k, v in dense.obs[0].items()}
    assert_same_orders(batch.orders[0], pack_orders(flat))
    # The buffer keeps ~a third of the floats: 7 features per filled slot, not 9 per slot.
    one = packed(episodes()[0]).obs[0]
    assert one[ORDER_FEATURES].shape == (int((one["candidate_mask"][..., 1:] > 0).sum()), 7)


def test_first_steps_are_the_orders_of_the_batch_without_its_last_step() -> None:
    dense = collate(episodes(), CPU)
    batch = collate([packed(e) for e in episodes()], CPU)
    t = batch.steps
    now = {k: v[:, :, :t].flatten(1, 2) for k, v in dense.obs[0].items()}
    assert_same_orders(batch.orders[0].first_steps(t + 1, t), pack_orders(now))


def test_order_rows_are_the_orders_of_the_first_steps_in_time_major_order() -> None:
    episode = episodes()[0]
    obs = episode.obs[0]
    mask = obs["candidate_mask"][:-1, :, 1:] > 0
    expected = obs["candidates"][:-1, :, 1:, CANDIDATE_COLUMNS][mask]
    np.testing.assert_array_equal(order_rows(pack_episode(obs), episode.length), expected)


def test_episodes_saved_with_padded_candidates_are_packed_when_loaded() -> None:
    episode = episodes()[1]
    loaded = Episode.from_tensors(episode.to_tensors())
    expected = pack_episode(episode.obs[0])
    assert set(loaded.obs[0]) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(loaded.obs[0][key], value)
    again = Episode.from_tensors(loaded.to_tensors())  # a packed episode stays as it is
    np.testing.assert_array_equal(again.obs[0][ORDER_FEATURES], expected[ORDER_FEATURES])
