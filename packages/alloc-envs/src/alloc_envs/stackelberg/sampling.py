"""Vectorised sampling for the N-agent fidelity: O(N) per draw, no per-agent Python work.

Followers in the same state (or at the same site) are exchangeable, so a batch of categorical
draws is made per *group*: a random order of the members sorted by group (one permutation and a
radix sort), multinomial counts per group, and the counts handed out along that random order.
This has exactly the law of independent draws per member. Every function takes the
``numpy.random.Generator`` to draw from; nothing here owns randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Groups:
    """Members (indices 0..n-1) in a uniformly random order, grouped by their group id.

    Attributes:
        order: (n,) int64 member indices, sorted by group, random within each group.
        sizes: (G,) int64 members per group.
    """

    order: np.ndarray
    sizes: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """(G,) position in ``order`` where each group begins."""
        return np.concatenate(([0], np.cumsum(self.sizes)[:-1]))


def shuffle_groups(groups: np.ndarray, n_groups: int, rng: np.random.Generator) -> Groups:
    """Group the members of ``groups`` ((n,) int in [0, G)) in a random order within groups."""
    perm = rng.permutation(groups.shape[0])
    key_type = np.int16 if n_groups < 2**15 else np.int64  # int16: numpy's stable radix sort
    order = perm[np.argsort(groups[perm].astype(key_type), kind="stable")]
    return Groups(order, np.bincount(groups, minlength=n_groups))


def sample_by_group(groups: Groups, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Independent categorical draws for the members of ``groups``, each from the row of
    ``probs`` ((G, C), rows summing to one, renormalised against rounding) of its group.

    Returns (len(order),) int64 columns aligned with ``groups.order`` (draw i is member
    ``groups.order[i]``'s)."""
    table = probs / probs.sum(axis=1, keepdims=True)
    counts = rng.multinomial(groups.sizes, table)  # (G, C)
    return np.repeat(np.tile(np.arange(table.shape[1]), table.shape[0]), counts.ravel())


def sample_categorical(
    groups: np.ndarray, probs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n,) int64 draws, member i from row ``probs[groups[i]]`` ((G, C) probabilities)."""
    grouped = shuffle_groups(groups, probs.shape[0], rng)
    out = np.empty(groups.shape[0], dtype=np.int64)
    out[grouped.order] = sample_by_group(grouped, probs, rng)
    return out


def choose_in_groups(groups: np.ndarray, quota: np.ndarray, rng: np.random.Generator) -> Groups:
    """Pick, in every group g, ``quota[g]`` of its members uniformly at random (without
    replacement); ``groups`` (n,) int in [0, G), ``quota`` (G,) int at most each group's size.

    Returns the chosen members as :class:`Groups` (sorted by group, random within groups), so
    that further draws per group can follow (:func:`sample_by_group`)."""
    shuffled = shuffle_groups(groups, quota.shape[0], rng)
    sorted_groups = groups[shuffled.order]
    rank = np.arange(groups.shape[0]) - shuffled.starts[sorted_groups]
    return Groups(shuffled.order[rank < quota[sorted_groups]], quota.astype(np.int64))
