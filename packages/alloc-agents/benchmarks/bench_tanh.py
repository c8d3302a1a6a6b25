"""``torch.tanh`` against :func:`alloc_agents.ppo.fast_tanh.tanh` (numpy's forward), in CPU time,
one torch thread, the two asked in turn ``--rounds`` times on the same inputs.

    python packages/alloc-agents/benchmarks/bench_tanh.py --sizes 10000 300000 --rounds 5

For each size (float32 elements) it prints ns per element of the forward alone and of forward +
backward, for both, and the speed-up of the medians and of the minima.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from alloc_agents.ppo.fast_tanh import tanh as fast_tanh


def ns_per_element(fn: Callable[[], object], n: int, repeats: int) -> float:
    """CPU nanoseconds per element of ``repeats`` calls of ``fn`` on ``n`` elements."""
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats / n * 1e9


def forward_backward(tanh: Callable, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        return torch.autograd.grad(tanh(x), x, grad)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 300_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50, help="calls per timing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("elements | pass | torch ns/el (median, min) | fast ns/el (median, min) | speed-up")
    for n in args.sizes:
        x = torch.randn(n, generator=torch.Generator().manual_seed(0), requires_grad=True)
        grad = torch.ones(n)
        values = x.detach()
        cases = {
            "forward": {
                "torch": lambda values=values: torch.tanh(values),
                "fast": lambda values=values: fast_tanh(values),
            },
            "forward + backward": {
                "torch": forward_backward(torch.tanh, x, grad),
                "fast": forward_backward(fast_tanh, x, grad),
            },
        }
        for name, versions in cases.items():
            times: dict[str, list[float]] = {"torch": [], "fast": []}
            for _ in range(args.rounds):
                for version, fn in versions.items():
                    times[version].append(ns_per_element(fn, n, args.repeats))
            med = {v: statistics.median(t) for v, t in times.items()}
            low = {v: min(t) for v, t in times.items()}
            print(
                f"{n:,} | {name} | {med['torch']:.2f}, {low['torch']:.2f} | "
                f"{med['fast']:.2f}, {low['fast']:.2f} | "
                f"x{med['torch'] / med['fast']:.2f} median, x{low['torch'] / low['fast']:.2f} min"
            )


if __name__ == "__main__":
    main()
