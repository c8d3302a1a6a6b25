"""``tanh`` for CPU tensors computed by numpy, with torch's own gradient.

On the CPUs these benchmarks run on, ``torch.tanh`` (torch 2.13, CPU build) costs ~2.7 ns per
float32 element and numpy's ``np.tanh`` ~0.5 ns (``packages/alloc-agents/benchmarks/bench_tanh.py``
measures both), and the hidden layers' tanh was the second largest item of a PPO iteration on
Ride-Hailing after the backward pass. :func:`tanh` takes numpy's forward for float32 and float64
CPU tensors and torch's ``tanh_backward`` (``grad * (1 - y²)``) for the gradient; anything else
(CUDA, half precision) goes to ``torch.tanh``. The two forwards differ by at most one unit in the
last place (numpy's and torch's vectorised approximations round differently), so a seeded training
run is not bit-identical to one using ``torch.tanh``; it is the same function to float precision.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: dtypes numpy computes: the others go to ``torch.tanh``.
_NUMPY_DTYPES = (torch.float32, torch.float64)


class _NumpyTanh(torch.autograd.Function):
    """Forward by ``np.tanh``, backward by ``aten.tanh_backward`` on the saved output."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        y = torch.from_numpy(np.tanh(x.detach().numpy()))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)``, elementwise, same shape and dtype; differentiable (first order)."""
    if x.device.type != "cpu" or x.dtype not in _NUMPY_DTYPES:
        return torch.tanh(x)
    if x.requires_grad and torch.is_grad_enabled():
        return _NumpyTanh.apply(x)
    return torch.from_numpy(np.tanh(x.detach().numpy()))
