"""k-means for RODE's roles: K clusters of action representations, none empty.

k-means++ seeding, then Lloyd iterations; a cluster that loses all its points is re-seeded with
the point farthest from its centre, so with at least K distinct points every cluster keeps at
least one. Draws come from the caller's torch generator (reproducible, resumable).
"""

from __future__ import annotations

import torch
from torch import Tensor


def kmeans(
    points: Tensor, k: int, generator: torch.Generator, iterations: int = 100
) -> tuple[Tensor, Tensor]:
    """Cluster ``points`` (P, d) into ``k`` clusters: the centres (k, d) and every point's
    cluster (P,) long. ``ValueError`` when there are fewer than ``k`` distinct points."""
    points = points.detach().float().cpu()
    if torch.unique(points, dim=0).shape[0] < k:
        raise ValueError(f"k-means needs at least {k} distinct points, got {points.shape[0]}")
    centres = _plus_plus(points, k, generator)
    labels = torch.zeros(points.shape[0], dtype=torch.long)
    for _ in range(iterations):
        distance = torch.cdist(points, centres)
        labels = distance.argmin(1)
        for c in range(k):
            if not (labels == c).any():  # re-seed an empty cluster at the worst-served point
                far = distance.gather(1, labels.unsqueeze(1)).squeeze(1).argmax()
                labels[far] = c
                distance[far] = torch.inf
        new = torch.stack([points[labels == c].mean(0) for c in range(k)])
        if torch.equal(new, centres):
            break
        centres = new
    return centres, labels


def _plus_plus(points: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeds: the first uniformly, each next with probability ∝ squared distance to
    the nearest seed so far."""
    first = int(torch.randint(points.shape[0], (1,), generator=generator))
    seeds = [points[first]]
    for _ in range(1, k):
        gap = torch.cdist(points, torch.stack(seeds)).min(1).values ** 2
        seeds.append(points[int(torch.multinomial(gap, 1, generator=generator))])
    return torch.stack(seeds)
