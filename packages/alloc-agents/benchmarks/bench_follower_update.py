"""The followers' PPO iteration with the update on per-cell sums (``FollowerPPO``) against the
textbook update that takes the loss sample by sample, in one process, on one CPU thread.

    python packages/alloc-agents/benchmarks/bench_follower_update.py
    python packages/alloc-agents/benchmarks/bench_follower_update.py --scenarios edrp \
        --sizes 1000 100000 --iterations 3

For each scenario (default presets: EDRP S = 189, A = 7, T = 36; MTFG S = 100, A = 5, T = 24)
and N: two learners with the same seed play the same episodes against no incentive; one updates
on per-cell sums (the library), the other with :func:`per_sample_update`. Reported: seconds per
iteration (median over ``--iterations`` after one warm-up, the two learners taking turns), the
ratio, and the largest parameter difference after the last iteration (the two agree up to the
order of float additions).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from alloc_agents.stackelberg import FollowerPPO, FollowerPPOConfig  # noqa: E402
from alloc_agents.stackelberg.followers import clipped_surrogate  # noqa: E402
from alloc_envs.edrp import make_game as edrp_game  # noqa: E402
from alloc_envs.mtfg import make_game as mtfg_game  # noqa: E402
from alloc_envs.stackelberg import no_incentive  # noqa: E402

GAMES = {"edrp": edrp_game, "mtfg": mtfg_game}


def per_sample_update(
    learner: FollowerPPO,
    batch: dict[str, Tensor],
    old_log_probs: Tensor,
    start: int,
    incentives: np.ndarray,
) -> dict[str, float]:
    """The textbook PPO update, a drop-in for ``FollowerPPO._update``: the same epochs,
    permutations and minibatches, with every term of the loss gathered and averaged over the
    minibatch's samples. ``old_log_probs`` is not needed (the batch holds each sample's)."""
    cfg, net = learner.config, learner.network
    flat = {k: v.reshape(-1) for k, v in batch.items() if k != "soft_rewards"}
    net.update_value_norm(flat["returns"])
    flat["targets"] = net.normalize(flat["returns"])
    n = flat["targets"].shape[0]
    for _ in range(cfg.n_epochs):
        perm = torch.randperm(n, generator=learner.generator).to(learner.device)
        for index in perm.tensor_split(min(cfg.n_minibatches, n)):
            mb = {k: v[index] for k, v in flat.items()}
            dist = net.policy(start, incentives)
            logp = dist.log_probs[mb["steps"], mb["states"], mb["actions"]]
            policy_loss, _ = clipped_surrogate(logp - mb["logp"], mb["advantages"], cfg.clip_coef)
            value = net.values(start, incentives)[mb["steps"], mb["states"]]
            value_loss = 0.5 * (value - mb["targets"]).pow(2).mean()
            entropy = dist.entropy()[mb["steps"], mb["states"]].mean()
            loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
            learner.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
            learner.optimizer.step()
    return {}


def with_per_sample_update(learner: FollowerPPO) -> FollowerPPO:
    """``learner`` with its update replaced by :func:`per_sample_update`."""
    learner._update = lambda *args: per_sample_update(learner, *args)  # type: ignore[method-assign]
    return learner


def seconds_per_iteration(
    learners: tuple[FollowerPPO, FollowerPPO], leader: Any, iterations: int
) -> tuple[float, float]:
    """Median wall-clock per iteration of each learner over ``iterations`` iterations after one
    warm-up, the two taking turns iteration by iteration (so that other load on the machine
    falls on both alike)."""
    seconds: tuple[list[float], list[float]] = ([], [])
    for k in range(iterations + 1):
        for learner, times in zip(learners, seconds, strict=True):
            row = learner.train(leader, 1)[0]
            if k > 0:
                times.append(row["seconds"])
    return statistics.median(seconds[0]), statistics.median(seconds[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=["edrp", "mtfg"], choices=list(GAMES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| scenario | N | per-cell sums s/it | per-sample s/it | ratio | max parameter diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.scenarios:
        game = GAMES[name](name)
        leader = no_incentive(game)
        for n in args.sizes:
            config = FollowerPPOConfig(n_followers=n)
            grouped = FollowerPPO(game, config, seed=0, device="cpu")
            reference = with_per_sample_update(FollowerPPO(game, config, seed=0, device="cpu"))
            fast, slow = seconds_per_iteration((grouped, reference), leader, args.iterations)
            theirs = dict(reference.network.named_parameters())
            diff = max(
                float((p - theirs[k]).detach().abs().max())
                for k, p in grouped.network.named_parameters()
            )
            print(f"| {name} | {n:,} | {fast:.3f} | {slow:.3f} | ×{slow / fast:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
