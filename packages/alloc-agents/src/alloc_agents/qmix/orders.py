"""Ride-Hailing's candidate orders, packed: only the slots that hold an order.

A cell sees up to K = 50 candidate slots, ~10 of them filled. The value-based methods score the
filled ones only (:class:`PackedOrders`), and their replay buffer keeps only those: an episode's
observations ``{key: (T + 1, A, ...)}`` (:func:`pack_episode`) hold ``candidate_mask`` (its slots
trimmed after the last one the episode uses) and, instead of ``candidates`` (T + 1, A, S, 9),
``order_features`` (n, 7): the filled slots' features (the columns
:data:`~alloc_agents.ppo.ride_hailing.CANDIDATE_COLUMNS`) in time-major order (step, agent,
slot). A batch of such episodes gets its
:class:`PackedOrders` from them directly (:func:`batch_orders`), in the order and with the values
that :func:`pack_orders` gives on the padded batch: the networks compute exactly the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from alloc_agents.ppo.ride_hailing import CANDIDATE_COLUMNS, N_CANDIDATE_FEATURES, symlog

ObsBatch = Mapping[str, Tensor]
#: The key of an episode's packed order features in the replay buffer.
ORDER_FEATURES = "order_features"


@dataclass
class PackedOrders:
    """The candidate orders of a Ride-Hailing batch ``(A, X)``, packed: only occupied slots.

    Attributes:
        mask: (A, X, S) bool, the slots that hold a candidate (slot 0 = STAY), trimmed after
            the last slot occupied anywhere in the batch (at least 2 slots).
        index: (n,) long, each packed order's flat index in ``(A, X, S - 1)`` (orders only).
        row: (n,) long, each packed order's flat ``(agent, row)`` index in ``A * X``.
        features: (n, 7) the orders' features (price, trip length, type, Δratio, Δdrivers,
            Δorders, age), symlog-ed.
    """

    mask: Tensor
    index: Tensor
    row: Tensor
    features: Tensor

    def scatter(self, values: Tensor) -> Tensor:
        """``values`` (n, ...) of the packed orders -> (A, X, S - 1, ...), zeros elsewhere."""
        a, x_rows, slots = self.mask.shape
        out = values.new_zeros(a * x_rows * (slots - 1), *values.shape[1:])
        return out.index_put((self.index,), values).reshape(a, x_rows, slots - 1, *values.shape[1:])

    def taken(self, picks: Tensor) -> tuple[Tensor, Tensor]:
        """The picks of orders among ``picks`` (A, X, K) long (slots, 0 = STAY): their flat
        indices (m,) in ``picks`` and the packed indices (m,) of the orders they take."""
        slots = self.mask.shape[-1]
        flat = picks.reshape(-1)
        where = (flat > 0).nonzero().squeeze(1)
        row = torch.div(where, picks.shape[-1], rounding_mode="floor")
        key = row * (slots - 1) + flat.index_select(0, where) - 1  # flat (A, X, S - 1) index
        if not len(self.index):  # no order anywhere
            return where[:0], where[:0]
        position = torch.searchsorted(self.index, key).clamp_max(len(self.index) - 1)
        found = self.index[position] == key  # (a pick of an empty slot takes nothing)
        return where[found], position[found]

    def picked(self, picks: Tensor) -> Tensor:
        """``(n,)`` bool: the packed orders that ``picks`` (A, X, K) long (slots, 0 = STAY)
        take in their row."""
        named = torch.zeros(self.index.shape[0], dtype=torch.bool, device=picks.device)
        named[self.taken(picks)[1]] = True
        return named

    def subset(self, keep: Tensor) -> PackedOrders:
        """Only the packed orders where ``keep`` (n,) bool is set; the mask is unchanged, so a
        network scoring the subset gives the other orders utility 0 (:meth:`scatter`): only
        the utilities of the kept orders are meaningful (e.g. of the picks taken, for
        :meth:`~alloc_agents.qmix.action_values.PickValues.chosen`), not its greedy action."""
        return PackedOrders(self.mask, self.index[keep], self.row[keep], self.features[keep])

    def first_steps(self, steps: int, keep: int) -> PackedOrders:
        """The orders of the first ``keep`` of every ``steps`` rows, for rows that are (episode,
        step) pairs ``X = B * steps``: what :func:`pack_orders` gives on the observations of
        steps ``0 .. keep - 1``."""
        a, x_rows, slots = self.mask.shape
        mask = self.mask.reshape(a, x_rows // steps, steps, slots)[:, :, :keep]
        mask = mask.reshape(a, -1, slots)
        n_slots = slots_used(mask)
        slot = self.index % (self.mask.shape[-1] - 1)
        step = self.row % steps
        kept = step < keep
        row = (torch.div(self.row, steps, rounding_mode="floor") * keep + step)[kept]
        index = row * (n_slots - 1) + slot[kept]
        return PackedOrders(mask[..., :n_slots], index, row, self.features[kept])


def slots_used(mask: Tensor) -> int:
    """The slots of ``mask`` (..., S) bool up to the last one occupied anywhere (at least 2:
    STAY and one)."""
    occupied = mask.reshape(-1, mask.shape[-1]).any(0).nonzero()
    return max(2, int(occupied.max()) + 1 if occupied.numel() else 2)


def pack_orders(obs: ObsBatch) -> PackedOrders:
    """The occupied candidate slots of ``obs`` ``{key: (A, X, ...)}`` with ``candidates``
    (:class:`PackedOrders`)."""
    mask = obs["candidate_mask"] > 0
    n_slots = slots_used(mask)
    mask = mask[..., :n_slots]
    orders = n_slots - 1
    index = mask[..., 1:].reshape(-1).nonzero().squeeze(1)
    row = torch.div(index, orders, rounding_mode="floor")
    features = obs["candidates"][..., 1:n_slots, CANDIDATE_COLUMNS]
    x = symlog(features.reshape(-1, N_CANDIDATE_FEATURES).index_select(0, index))
    return PackedOrders(mask, index, row, x)


def pack_episode(obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An episode's Ride-Hailing observations ``{key: (T + 1, A, ...)}`` as the replay buffer
    keeps them (module docstring): ``candidate_mask`` without the slots no step uses (at least
    STAY and one), ``order_features`` (n, 7) float32 instead of ``candidates``."""
    mask = obs["candidate_mask"]
    slots = slots_used(torch.as_tensor(mask) > 0)
    out = {key: value for key, value in obs.items() if key != "candidates"}
    out["candidate_mask"] = np.ascontiguousarray(mask[..., :slots])
    filled = out["candidate_mask"][..., 1:] > 0
    features = obs["candidates"][..., 1:slots, :][filled]
    out[ORDER_FEATURES] = np.ascontiguousarray(features[:, CANDIDATE_COLUMNS], dtype=np.float32)
    return out


def order_rows(obs: Mapping[str, np.ndarray], steps: int) -> np.ndarray:
    """The (n, 7) features of a packed episode's orders at its steps ``0 .. steps - 1``."""
    count = int((obs["candidate_mask"][:steps, :, 1:] > 0).sum())
    return obs[ORDER_FEATURES][:count]


def batch_orders(episodes: Sequence[Mapping[str, np.ndarray]], mask: Tensor) -> PackedOrders:
    """The :class:`PackedOrders` of a batch of packed episodes seen as (A, B * T') rows:
    ``episodes[b]`` one group's packed observations of episode b, ``mask`` (A, B, T', S) the
    batch's ``candidate_mask`` (episodes padded to T' steps and S slots)."""
    a, b, steps, slots = mask.shape
    filled = mask.reshape(a, b * steps, slots) > 0
    n_slots = slots_used(filled)
    filled = filled[..., :n_slots]
    index = filled[..., 1:].reshape(-1).nonzero().squeeze(1)
    row = torch.div(index, n_slots - 1, rounding_mode="floor")
    # Each order's place in the concatenated episodes' rows: episode offset + rank in its
    # episode's time-major (step, agent, slot) order, laid out as the batch (A, B, T', S - 1).
    place = np.zeros((b, steps, a, n_slots - 1), dtype=np.int64)
    offset = 0
    for e, obs in enumerate(episodes):
        used = obs["candidate_mask"][..., 1:] > 0  # its slots never pass the batch's
        t_e, _, s_e = used.shape
        rank = np.cumsum(used.reshape(-1)).reshape(used.shape) - 1
        place[e, :t_e, :, :s_e] = np.where(used, rank + offset, 0)
        offset += int(used.sum())
    features = np.concatenate([obs[ORDER_FEATURES] for obs in episodes])
    where = torch.as_tensor(place.transpose(2, 0, 1, 3)).reshape(-1)[index.cpu()]
    x = symlog(torch.as_tensor(features)[where].to(mask.device))
    return PackedOrders(filled, index, row, x)
