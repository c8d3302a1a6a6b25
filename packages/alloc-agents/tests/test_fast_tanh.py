"""alloc_agents.ppo.fast_tanh: numpy's tanh forward with torch's gradient."""

from __future__ import annotations

import pytest
import torch

from alloc_agents.ppo.batched import ACTIVATION_FNS
from alloc_agents.ppo.fast_tanh import tanh


def _inputs(dtype: torch.dtype) -> torch.Tensor:
    x = torch.randn(64, 33, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (x * 4).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_torch_to_float_precision(dtype):
    x = _inputs(dtype)
    y = tanh(x)
    assert y.dtype == dtype and y.shape == x.shape
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(y, torch.tanh(x), rtol=2 * eps, atol=2 * eps)
    # non-contiguous input (a transposed view) gives the same values
    torch.testing.assert_close(tanh(x.t()), y.t(), rtol=0, atol=0)


def test_gradient_is_torchs_on_the_same_output():
    x = _inputs(torch.float32).requires_grad_()
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    y = tanh(x)
    (g,) = torch.autograd.grad(y, x, grad)
    torch.testing.assert_close(g, grad * (1 - y.detach() ** 2), rtol=1e-6, atol=1e-7)
    (g_torch,) = torch.autograd.grad(torch.tanh(x), x, grad)
    torch.testing.assert_close(g, g_torch, rtol=1e-5, atol=1e-6)


def test_gradcheck_in_float64():
    x = _inputs(torch.float64)[:4, :5].clone().requires_grad_()
    assert torch.autograd.gradcheck(tanh, (x,))


def test_no_grad_and_detached_inputs_give_plain_tensors():
    x = _inputs(torch.float32).requires_grad_()
    with torch.no_grad():
        y = tanh(x)
    assert not y.requires_grad and y.grad_fn is None
    assert tanh(x).requires_grad


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_other_dtypes_go_to_torch(dtype):
    """numpy has no bfloat16: those tensors must take torch.tanh (numpy would raise)."""
    x = _inputs(dtype).requires_grad_()
    y = tanh(x)
    assert y.dtype == dtype
    torch.testing.assert_close(y, torch.tanh(x))
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype


def test_the_hidden_layers_use_it():
    assert ACTIVATION_FNS["tanh"] is tanh
