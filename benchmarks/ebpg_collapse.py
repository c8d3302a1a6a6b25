"""Why EBPG's trained leaders play one charge in every zone: at the default step size its
attention policy's tanh units saturate, so its output stops depending on its input and its
gradient vanishes (the measurements: docs/methods/stackelberg-trainers.md).

    python benchmarks/ebpg_collapse.py [--lrs 0.01 0.001] [--seeds 1] \\
        [--scenario edrp-v1-n1000] [--iterations 300] [--every 25]

Trains EBPG (``make_trainer("ebpg", ...)``, the ``tirl-edrp`` suite's settings but the
``leader_lr`` given) and, every ``--every`` outer iterations, reads its leader's network on the
events of the iteration's episodes (the global inputs and zone tokens it decided on):

* **sat. tokens**: the share of the token states' units ``tanh(W_e token + context(g))`` with
  ``|.| > 0.99`` (a saturated unit passes no gradient and ignores its input);
* **sat. head**: the same share for the per-zone head's hidden layer;
* **context / token**: the mean L2 norm of ``context(g)`` over that of ``W_e token`` (the
  pre-activation's shared part against the part that differs by zone);
* **zones sd**: the sd across zones of the mean charge (unit box), averaged over events: 0 when
  every zone gets one charge;
* **events sd**: the sd across the events of the mean charge averaged over zones: 0 when the
  charge no longer follows the state;
* **policy norm**: the L2 norm of the policy's parameters.

After training, the deterministic leader is scored at the followers' exact equilibrium (exact
ORR, its charges over the equilibrium flow, as ``edrp_leader_headroom.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg import FollowerPPOConfig, make_trainer
from alloc_agents.stackelberg.ebpg import EBPGLearner
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import game_of
from alloc_envs.stackelberg.solver import solve_equilibrium

#: |tanh| above this counts as saturated (its derivative is below 0.02).
SATURATED = 0.99


class _LastBatch:
    """Wraps an :class:`EBPGLearner`'s ``_losses`` to keep the records of its last update."""

    def __init__(self, learner: EBPGLearner) -> None:
        self.records: list[Any] = []
        losses = learner._losses

        def keep(records: list[Any], rewards: list[np.ndarray]) -> Any:
            self.records = records
            return losses(records, rewards)

        learner._losses = keep  # type: ignore[method-assign]


@torch.no_grad()
def read_network(learner: EBPGLearner, records: list[Any]) -> dict[str, float]:
    """The module doc's statistics of ``learner``'s network on the events of ``records``."""
    net = learner.network
    inputs = torch.as_tensor(np.concatenate([r.inputs for r in records]))
    tokens = torch.as_tensor(np.concatenate([r.tokens for r in records]))
    context = net.context(inputs).unsqueeze(-2)  # (E, 1, d)
    embedded = net.embed(tokens)  # (E, U, d)
    states = net.act(embedded + context)
    hidden, _ = net.attention(inputs, tokens)  # the head's input: (E, U, d)
    for layer in net.head.hidden:
        hidden = net.act(layer(hidden))
    means = net.distribution(inputs, tokens).mean()  # (E, U) unit box
    policy = torch.cat([p.flatten() for p in net.policy_parameters()])
    return {
        "sat_tokens": float((states.abs() > SATURATED).float().mean()),
        "sat_head": float((hidden.abs() > SATURATED).float().mean()),
        "context_over_token": float(context.norm(dim=-1).mean() / embedded.norm(dim=-1).mean()),
        "zones_sd": float(means.std(dim=1, unbiased=False).mean()),
        "events_sd": float(means.mean(dim=1).std(unbiased=False)),
        "policy_norm": float(policy.norm()),
    }


def run(scenario: str, seed: int, lr: float, iterations: int, every: int) -> None:
    """Train, print a row of :func:`read_network` every ``every`` iterations, then the exact
    score."""
    spec = get_scenario(scenario)
    game = game_of(spec.make_env)
    trainer = make_trainer(
        "ebpg",
        game,
        seed=seed,
        device="cpu",
        iterations=iterations,
        leader_lr=lr,
        follower=FollowerPPOConfig(n_followers=int(spec.env_kwargs["n_followers"])),
        progress=False,
    )
    batch = _LastBatch(trainer.leader)
    print(f"\n**EBPG, {scenario}, seed {seed}, leader_lr {lr:g}**\n")
    print(
        "| iteration | sat. tokens | sat. head | context / token | zones sd | events sd "
        "| policy norm |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    while trainer.iteration < iterations:
        trainer.train(min(every, iterations - trainer.iteration))
        s = read_network(trainer.leader, batch.records)
        print(
            f"| {trainer.iteration} | {s['sat_tokens']:.3f} | {s['sat_head']:.3f} "
            f"| {s['context_over_token']:.2f} | {s['zones_sd']:.4f} | {s['events_sd']:.4f} "
            f"| {s['policy_norm']:.1f} |",
            flush=True,
        )
    temperature = game.config.follower_temperature
    flow = solve_equilibrium(
        game, trainer.leader_policy(), temperature=temperature, tolerance=1e-3
    ).flow
    charges = np.asarray(flow.incentives)
    print(
        f"\nexact ORR {float(flow.metrics['orr']):.4f}; charges over the equilibrium flow: "
        f"mean {charges.mean():.3f}, sd across zones {charges.std(axis=1).mean():.2e}, "
        f"sd across steps {charges.mean(axis=1).std():.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="edrp-v1-n1000")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-2, 1e-3])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--every", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for lr in args.lrs:
        for seed in args.seeds:
            run(args.scenario, seed, lr, args.iterations, args.every)


if __name__ == "__main__":
    main()
