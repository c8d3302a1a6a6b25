"""SePS (Christianos et al., ICML 2021): pre-train with full sharing, embed the agents with a
VAE, group them with k-means, then train one network per group.

Per space group (research note ``vaccine-and-algorithms.md`` B.3):

1. **Pre-training.** The first ``ceil(pretrain_fraction * iterations)`` iterations (at least
   one) run with every agent on member 0 (full sharing). Every active, non-final step of those
   rollouts is recorded as (agent id, o, a, o′, r): o and o′ the flat observation features,
   a the one-hot action (Discrete / MultiDiscrete; other actions as their flat values). The
   latest ``max_transitions`` per group are kept.
2. **VAE.** Encoder q(z | id): one-hot id → hidden → ReLU → (μ, log σ²); decoder
   [z, o, a] → hidden → ReLU → hidden → ReLU → [o′, r]; loss = sum-squared error of the
   reconstruction + ``kl_weight`` · KL(q ‖ N(0, I)); Adam, ``vae_epochs`` passes in minibatches
   of ``vae_batch_size``. Deviation from the released code: the inputs o, a and the targets
   [o′, r] are standardised per column over the recorded data (rewards of very different
   scales, e.g. ride-hailing GMV, would otherwise swamp the observation terms).
3. **k-means** on the agents' μ_i (not samples): k-means++ initialisation, ``kmeans_n_init``
   restarts, the lowest inertia kept; ``K = min(n_clusters, agents)``. Labels are renumbered in
   order of first appearance (agent 0's cluster is 0). With ``n_clusters="auto"`` (the paper's
   procedure when no K is given) k-means runs for every K in ``2 .. min(A - 1, max_clusters)``
   and the K whose clustering has the lowest Davies–Bouldin index (:func:`davies_bouldin`) is
   kept, ties going to the smallest K; groups of fewer than 3 agents, and groups where no K
   gives 2 or more non-empty clusters, keep one shared network (K = 1).
4. **Phase 2.** :meth:`~alloc_agents.ppo.model.GroupModel.reassign` with the cluster of every
   agent, copying member 0 (the pre-trained shared network: actor, critic, value statistics)
   into every other member. The released code leaves the other networks at their
   initialisation; starting them from the pre-trained one is our documented deviation.

The VAE and k-means draw from a torch generator seeded from the run's seed (the global torch
generator is left untouched), and the recorded data is part of the checkpoint until clustering,
so a resumed run clusters exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.model import GroupModel, MultiAgentModel
from alloc_agents.ppo.networks import flat_features
from alloc_agents.ppo.sharing import SePSConfig
from alloc_agents.ppo.spaces import ActionSpec


# ---------------------------------------------------------------------------------- k-means
def kmeans(
    x: Tensor,
    k: int,
    n_init: int = 10,
    max_iter: int = 100,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, float]:
    """k-means with k-means++ initialisation on ``x`` (N, D): labels (N,), centres (k, D) and
    inertia of the best of ``n_init`` runs. Labels are renumbered by first appearance."""
    x = x.double()
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    best: tuple[Tensor, Tensor, float] | None = None
    for _ in range(n_init):
        first = int(torch.randint(n, (1,), generator=generator))
        centres = [x[first]]
        for _ in range(1, k):
            d2 = torch.cdist(x, torch.stack(centres)).pow(2).min(dim=1).values
            total = float(d2.sum())
            if total <= 0:  # fewer distinct points than k: any point
                pick = int(torch.randint(n, (1,), generator=generator))
            else:
                pick = int(torch.multinomial(d2 / total, 1, generator=generator))
            centres.append(x[pick])
        c = torch.stack(centres)
        labels = torch.cdist(x, c).argmin(dim=1)
        for _ in range(max_iter):
            new_c = c.clone()
            for j in range(k):
                members = labels == j
                if members.any():
                    new_c[j] = x[members].mean(dim=0)
            new_labels = torch.cdist(x, new_c).argmin(dim=1)
            c = new_c
            if torch.equal(new_labels, labels):
                break
            labels = new_labels
        inertia = float((x - c[labels]).pow(2).sum())
        if best is None or inertia < best[2] - 1e-12:
            best = (labels, c, inertia)
    assert best is not None
    labels, centres, inertia = best
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    rest = [j for j in range(k) if j not in order]
    for j in rest:
        order[j] = len(order)
    perm = torch.tensor([order[j] for j in range(k)])
    new_centres = torch.empty_like(centres)
    new_centres[perm] = centres
    return perm[labels], new_centres.float(), inertia


def davies_bouldin(x: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> float:
    """The Davies–Bouldin index of the clustering ``labels`` (N,) of the points ``x`` (N, D).

    With the clusters' centroids c_i, their scatter s_i (mean Euclidean distance of a cluster's
    points to its centroid) and d_ij = ‖c_i − c_j‖:

        DB = (1 / k) Σ_i max_{j ≠ i} (s_i + s_j) / d_ij

    over the k clusters that occur in ``labels``; lower is better. Conventions as
    scikit-learn's ``davies_bouldin_score``: k must be in ``2 .. N - 1`` (``ValueError``
    otherwise); the index is 0 when every scatter or every centroid distance is 0, and a pair
    of coinciding centroids contributes 0.
    """
    points = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if points.ndim != 2 or points.shape[0] != labels.shape[0]:
        raise ValueError(f"x must be (N, D) and labels (N,), got {points.shape}, {labels.shape}")
    clusters = np.unique(labels)
    n, k = points.shape[0], clusters.size
    if not 2 <= k <= n - 1:
        raise ValueError(f"the Davies-Bouldin index needs 2..{n - 1} clusters, got {k}")
    centroids = np.stack([points[labels == c].mean(axis=0) for c in clusters])
    scatter = np.array(
        [
            np.linalg.norm(points[labels == c] - centre, axis=1).mean()
            for c, centre in zip(clusters, centroids, strict=True)
        ]
    )
    distances = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
    if np.allclose(scatter, 0.0) or np.allclose(distances, 0.0):
        return 0.0
    distances[distances == 0] = np.inf  # the diagonal, and coinciding centroids
    ratios = (scatter[:, None] + scatter[None]) / distances
    return float(ratios.max(axis=1).mean())


def select_clusters(
    x: Tensor, k_values: range, n_init: int, generator: torch.Generator | None = None
) -> tuple[int, Tensor, dict[str, float | None]]:
    """k-means for every K of ``k_values`` on ``x`` (N, D); the K with the lowest
    Davies–Bouldin index (ties: the smallest K), its labels, and the index of every K
    (``None`` where k-means found fewer than 2 non-empty clusters). K = 1 with all labels 0 when
    no K can be scored. The k-means runs draw from ``generator`` in the order of ``k_values``."""
    scores: dict[str, float | None] = {}
    best: tuple[float, int, Tensor] | None = None
    for k in k_values:
        labels, _, _ = kmeans(x, k, n_init, generator=generator)
        found = int(labels.unique().numel())
        score = davies_bouldin(x.numpy(), labels.numpy()) if 2 <= found < x.shape[0] else None
        scores[str(k)] = score
        if score is not None and (best is None or score < best[0] - 1e-12):
            best = (score, k, labels)
    if best is None:
        return 1, torch.zeros(x.shape[0], dtype=torch.long), scores
    return best[1], best[2], scores


# ---------------------------------------------------------------------------------- VAE
class AgentVAE(nn.Module):
    """q(z | one-hot id) and p([o′, r] | z, o, a) (module docstring)."""

    def __init__(self, n_agents: int, in_dim: int, out_dim: int, z_dim: int, hidden: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_agents, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(z_dim + in_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_dim),
        )
        self.z_dim = z_dim

    def encode(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²), each (N, z), of agents ``ids`` (N,) long. The first layer on a one-hot
        id is that agent's column of its weight: gathered, not multiplied (3,130 agents on
        Medical would make it a 3,130-wide matmul per row)."""
        first, rest = self.encoder[0], self.encoder[1:]
        out = rest(F.embedding(ids, first.weight.T) + first.bias)
        return out[..., : self.z_dim], out[..., self.z_dim :]

    def loss(self, ids: Tensor, inputs: Tensor, targets: Tensor, kl_weight: float) -> Tensor:
        """Sum-MSE of the reconstruction of ``targets`` (N, out) from ``inputs`` (N, in) and
        z ~ q(z | id) of agents ``ids`` (N,), plus ``kl_weight`` · KL(q ‖ N(0, I))."""
        mu, logvar = self.encode(ids)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.decoder(torch.cat([z, inputs], dim=-1))
        mse = F.mse_loss(recon, targets, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return mse + kl_weight * kl


def _standardise(x: Tensor) -> Tensor:
    return (x - x.mean(dim=0)) / (x.std(dim=0, unbiased=False) + 1e-6) if x.shape[0] > 1 else x


def fit_agent_embeddings(
    n_agents: int,
    ids: Tensor,
    inputs: Tensor,
    targets: Tensor,
    config: SePSConfig,
    generator: torch.Generator,
) -> Tensor:
    """Train the VAE on (id, [o, a], [o′, r]) rows and return μ_i for every agent (A, z)."""
    inputs, targets = _standardise(inputs.float()), _standardise(targets.float())
    vae = AgentVAE(n_agents, inputs.shape[1], targets.shape[1], config.z_dim, config.vae_hidden)
    optimizer = torch.optim.Adam(vae.parameters(), lr=config.vae_lr)
    n = ids.shape[0]
    for _ in range(config.vae_epochs):
        perm = torch.randperm(n, generator=generator)
        for index in perm.split(config.vae_batch_size):
            loss = vae.loss(ids[index], inputs[index], targets[index], config.kl_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return vae.encode(torch.arange(n_agents))[0]


# ---------------------------------------------------------------------------------- phase
def action_features(spec: ActionSpec, actions: Tensor) -> Tensor:
    """Buffer actions (N, ...) as float features (N, F): one-hots for discrete kinds."""
    if spec.kind == "discrete":
        return F.one_hot(actions.long().reshape(-1).clamp(0, spec.n - 1), spec.n).float()
    if spec.kind == "multidiscrete":
        parts = actions.long().reshape(actions.shape[0], -1)
        return torch.cat(
            [F.one_hot(parts[:, d].clamp(0, n - 1), n).float() for d, n in enumerate(spec.nvec)],
            dim=-1,
        )
    return actions.reshape(actions.shape[0], -1).float()


class SePSPhase:
    """Records pre-training transitions and clusters the agents (module docstring)."""

    def __init__(self, config: SePSConfig, n_iters: int, seed: int) -> None:
        self.config = config
        self.cluster_iteration = min(n_iters, max(1, math.ceil(config.pretrain_fraction * n_iters)))
        self.seed = seed
        self.clustered = False
        self.data: list[dict[str, Tensor] | None] = []
        self.result: dict[str, Any] | None = None

    def record(self, model: MultiAgentModel, buffers: list[GroupBuffer]) -> None:
        """Add the rollout's (id, o, a, o′, r) rows of every group."""
        if not self.data:
            self.data = [None] * len(buffers)
        for g, (gm, buf) in enumerate(zip(model.groups, buffers, strict=True)):
            rows = _transitions(gm, buf)
            old = self.data[g]
            if old is not None:
                rows = {k: torch.cat([old[k], v]) for k, v in rows.items()}
            keep = self.config.max_transitions
            self.data[g] = {k: v[-keep:] for k, v in rows.items()}

    def cluster(self, model: MultiAgentModel, iteration: int, env_steps: int) -> dict[str, Any]:
        """Fit the VAE and k-means per group, reassign the members; the clustering record."""
        groups = []
        with torch.random.fork_rng(devices=[]):
            generator = torch.Generator().manual_seed(self.seed)
            torch.manual_seed(self.seed)
            for g, gm in enumerate(model.groups):
                groups.append(
                    self._cluster_group(gm, self.data[g] if self.data else None, generator)
                )
        self.clustered = True
        self.data = []
        self.result = {"iteration": iteration, "env_steps": env_steps, "groups": groups}
        return self.result

    def _cluster_group(
        self, gm: GroupModel, data: dict[str, Tensor] | None, generator: torch.Generator
    ) -> dict[str, Any]:
        n_agents, k = gm.group.n_agents, gm.n_members
        scores: dict[str, float | None] = {}
        if data is None or data["ids"].numel() == 0 or k == 1:
            labels = torch.zeros(n_agents, dtype=torch.long)
            mu = torch.zeros(n_agents, self.config.z_dim)
            k = 1 if self.config.auto else k
        else:
            inputs = torch.cat([data["obs"], data["actions"]], dim=1)
            targets = torch.cat([data["next_obs"], data["rewards"].unsqueeze(1)], dim=1)
            mu = fit_agent_embeddings(
                n_agents, data["ids"], inputs, targets, self.config, generator
            )
            n_init = self.config.kmeans_n_init
            if self.config.auto:  # k = the largest K allowed (SePSConfig.n_members)
                k, labels, scores = select_clusters(mu, range(2, k + 1), n_init, generator)
            else:
                labels, _, _ = kmeans(mu, k, n_init, generator=generator)
        gm.reassign(labels.numpy(), copy={m: 0 for m in range(1, gm.n_members)})
        record: dict[str, Any] = {
            "agents": list(gm.group.names),
            "n_clusters": k,
            "assignment": labels.tolist(),
            "embeddings": mu.tolist(),
        }
        if self.config.auto:
            record["k_selection"] = "davies-bouldin"
            record["davies_bouldin"] = scores
        return record

    def columns(self) -> dict[str, float]:
        """Per-iteration CSV columns once clustered: ``seps_k`` (the number of clusters; with
        several space groups ``seps_k/<group index>``); none before (the CSV widens)."""
        if self.result is None:
            return {}
        values = [float(g["n_clusters"]) for g in self.result["groups"]]
        if len(values) == 1:
            return {"seps_k": values[0]}
        return {f"seps_k/{g}": v for g, v in enumerate(values)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "clustered": self.clustered,
            "data": self.data,
            "result": self.result,
            "cluster_iteration": self.cluster_iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clustered = bool(state["clustered"])
        self.data = list(state["data"])
        self.result = state["result"]
        self.cluster_iteration = int(state["cluster_iteration"])


@torch.no_grad()
def _transitions(gm: GroupModel, buf: GroupBuffer) -> dict[str, Tensor]:
    a, t, e = buf.shape
    assert buf.actions is not None
    obs = flat_features(gm.group.obs, {k: buf.flat(v) for k, v in buf.obs.items()})
    obs = obs.reshape(a, t, e, -1)
    valid = buf.active[:, :-1] & buf.active[:, 1:] & ~buf.terminated[:, :-1]
    valid = valid & ~buf.truncated[:, :-1]
    ids = torch.arange(a, device=obs.device).view(a, 1, 1).expand(a, t - 1, e)
    actions = buf.actions[:, :-1][valid]
    return {
        "ids": ids[valid].cpu(),
        "obs": obs[:, :-1][valid].cpu(),
        "actions": action_features(gm.actor.action, actions).cpu(),
        "next_obs": obs[:, 1:][valid].cpu(),
        "rewards": buf.rewards[:, :-1][valid].cpu(),
    }
