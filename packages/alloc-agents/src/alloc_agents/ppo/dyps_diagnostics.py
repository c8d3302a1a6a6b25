"""Diagnostics of DyPS's group selection, logged every iteration: do the groups learn?

A selector that never leaves uniform has an entropy of ln M and draws a new group for
1 − 1/M of the agents every episode; one that collapses puts every agent on one member. The
columns (means over space groups; M the group's number of members):

* ``dyps_entropy_ratio``: the mean over agents of H(π(· | n)) / ln M after the iteration's
  update (1: uniform, 0: deterministic; 0 when M = 1);
* ``dyps_switched``: the share of (agent, env copy) pairs whose sampled group differs from the
  previous iteration's in the same copy (absent at the first iteration);
* ``dyps_switched_argmax``: the share of agents whose most probable group changed;
* ``dyps_members_sampled``: distinct members used in an env copy's draw, mean over copies;
* ``dyps_members_argmax``: distinct members among the most probable groups (the deployed
  assignment);
* ``dyps_size/<m>`` (``dyps_size/<g>/<m>`` with several space groups): agents deployed on
  member m;
* ``dyps_latent_spread``: the RMS distance of the CVAE's group latents from their mean (do the
  members' latents separate?);
* ``dyps_role_spread``: the RMS distance of the VLSTM roles from the agents' mean role over
  their RMS norm (the share of the roles that differs between agents).

Association with the scenario (Ride-Hailing's demand and supply, neighbourhoods) needs the
env's geography and lives in the benchmark (``alloc_bench.dyps_maps``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


def entropy_ratio(probs: Tensor) -> float:
    """Mean over agents of H(π(· | n)) / ln M for probabilities ``probs`` (A, M)."""
    m = probs.shape[-1]
    if m == 1:
        return 0.0
    h = -(probs * probs.clamp(min=1e-30).log()).sum(-1)
    return float(h.mean()) / math.log(m)


def selection_columns(
    probs: Sequence[Tensor],
    record: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]] | None,
) -> dict[str, float]:
    """The columns of the module docstring for one iteration: per space group, ``probs`` (A, M)
    after the update, ``record`` its ``assignment`` (A,) deployed and ``sampled`` (E, A) groups,
    and ``previous`` the previous iteration's records (``None`` at the first)."""
    stats: dict[str, list[float]] = {k: [] for k in ("entropy", "sampled", "argmax", "sw", "swa")}
    columns: dict[str, float] = {}
    for g, (p, rec) in enumerate(zip(probs, record, strict=True)):
        sampled, deployed = np.asarray(rec["sampled"]), np.asarray(rec["assignment"])
        stats["entropy"].append(entropy_ratio(p))
        stats["sampled"].append(float(np.mean([len(np.unique(row)) for row in sampled])))
        stats["argmax"].append(float(len(np.unique(deployed))))
        if previous is not None:
            before = previous[g]
            stats["sw"].append(float((np.asarray(before["sampled"]) != sampled).mean()))
            stats["swa"].append(float((np.asarray(before["assignment"]) != deployed).mean()))
        prefix = f"dyps_size/{g}/" if len(record) > 1 else "dyps_size/"
        sizes = np.bincount(deployed, minlength=p.shape[-1])
        columns.update({f"{prefix}{m}": float(n) for m, n in enumerate(sizes)})
    columns["dyps_entropy_ratio"] = float(np.mean(stats["entropy"]))
    columns["dyps_members_sampled"] = float(np.mean(stats["sampled"]))
    columns["dyps_members_argmax"] = float(np.mean(stats["argmax"]))
    if previous is not None:
        columns["dyps_switched"] = float(np.mean(stats["sw"]))
        columns["dyps_switched_argmax"] = float(np.mean(stats["swa"]))
    return columns


def _rms(x: Tensor) -> float:
    return float(x.pow(2).sum(-1).mean().sqrt())


@torch.no_grad()
def spread_columns(parts: Iterable[nn.Module]) -> dict[str, float]:
    """``dyps_latent_spread`` and ``dyps_role_spread`` (module docstring), means over the space
    groups' role modules (each with ``roles`` (A, H) and a ``cvae``)."""
    latent, role = [], []
    for part in parts:
        z, h = part.cvae.latents(), part.roles
        latent.append(_rms(z - z.mean(0)))
        norm = _rms(h)
        role.append(_rms(h - h.mean(0)) / norm if norm > 0 else 0.0)
    return {"dyps_latent_spread": float(np.mean(latent)), "dyps_role_spread": float(np.mean(role))}
