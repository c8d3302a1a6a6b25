"""TIRL's learned follower transition function ``P_eta(s' | t, s, a)`` (Eq. 7).

**Model**: logits over the S next states from the features ``[one-hot (s, a), one-hot t]``: an
MLP (:class:`~alloc_agents.stackelberg.network.GridMLP` over the S A state-action pairs: the
paper's "neural network that takes the current state and action as input and outputs the
probability distribution over the state space", plus the time step because the scenarios'
kernels change over the day), or with no hidden layer a table of logits per (t, s, a).

**Data**: the transitions ``(t, s_t, a_t, s_{t+1})`` of every follower in the N-agent episodes,
kept as counts ``C[t, (s, a), s']``: the NLL of Eq. 7 over the data set D,
``-E_D[log P_eta(s' | t, s, a)] = -sum C log P_eta / sum C``, needs nothing else, so memory and a
training step cost O(T S A S) at most whatever N and |D| are (a step evaluates the model only on
the (t, s, a) rows that have data).

**Use**: :meth:`TransitionModel.kernels` evaluates P_eta on the whole (t, s, a) grid in one batch,
the (T, S, A, S) kernel of the instantiated empirical Fokker-Planck equation
(:class:`~alloc_agents.stackelberg.learned_game.LearnedKernelGame`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.stackelberg.network import GridMLP
from alloc_envs.stackelberg.game import MeanFieldGame


class LogitTable(nn.Module):
    """Free logits per (t, pair, s'), zero (uniform) at the start; ``forward`` as
    :class:`GridMLP`'s."""

    def __init__(self, n_pairs: int, horizon: int, n_states: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(horizon, n_pairs, n_states))

    def forward(self, start: int) -> Tensor:
        """(T - start, S A, S) logits."""
        return self.logits[start:]

    def at(self, times: Tensor, pairs: Tensor) -> Tensor:
        """(K, S) logits at the K points ``(times[k], pairs[k])``."""
        return self.logits[times, pairs]


class TransitionModel:
    """``P_eta`` of ``game``'s followers, its data counts and its optimizer.

    Args:
        game: the scenario (only its sizes are read; the model never sees the true kernel).
        hidden_sizes: MLP hidden widths; ``()`` for a logit table.
        activation: ``"tanh"`` or ``"relu"``.
        lr: Adam learning rate.
        seed: initialises the MLP (under a forked torch generator).
        device: where the model and the counts live.
    """

    def __init__(
        self,
        game: MeanFieldGame,
        hidden_sizes: tuple[int, ...],
        activation: str,
        lr: float,
        seed: int,
        device: torch.device,
    ) -> None:
        s, a, t = game.n_states, game.n_actions, game.horizon
        self.shape = (t, s, a, s)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if hidden_sizes:
                network: nn.Module = GridMLP(s * a, t, hidden_sizes, s, activation, 0.01)
            else:
                network = LogitTable(s * a, t, s)
        self.network = network.to(device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.counts = torch.zeros(t, s * a, s, device=device)
        self.device = device

    def observe(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, start: int = 0
    ) -> None:
        """Add the transitions of (T', N) int ``states``, ``actions`` and ``next_states`` of
        steps ``start..start + T' - 1`` to the data set."""
        _, s, a, _ = self.shape
        steps = np.arange(start, start + states.shape[0])[:, None]
        flat = (steps * (s * a) + states * a + actions) * s + next_states
        counts = np.bincount(flat.ravel(), minlength=self.counts.numel())
        self.counts += torch.as_tensor(counts.reshape(self.counts.shape), device=self.device)

    @property
    def n_transitions(self) -> int:
        """|D|, the transitions observed so far."""
        return int(self.counts.sum().item())

    def log_kernels(self) -> Tensor:
        """(T, S A, S) ``log P_eta(s' | t, (s, a))`` (with gradient)."""
        return torch.log_softmax(self.network(0), dim=-1)

    def _data_rows(self) -> tuple[Tensor, Tensor]:
        """(K,) step and (K,) pair indices of the (t, (s, a)) rows with data."""
        return torch.nonzero(self.counts.sum(dim=-1) > 0, as_tuple=True)

    def _nll(self, rows: tuple[Tensor, Tensor]) -> Tensor:
        counts = self.counts[rows]
        log_probs = torch.log_softmax(self.network.at(*rows), dim=-1)
        return -(counts * log_probs).sum() / counts.sum().clamp_min(1.0)

    def nll(self) -> Tensor:
        """Eq. 7 on the data set: ``-sum C log P_eta / sum C`` (nats per transition; 0 without
        data). Only the rows with data are evaluated."""
        return self._nll(self._data_rows())

    def fit(self, epochs: int) -> float:
        """``epochs`` full-batch Adam steps on :meth:`nll`; the NLL after the last step."""
        rows = self._data_rows()
        for _ in range(epochs):
            loss = self._nll(rows)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        with torch.no_grad():
            return float(self._nll(rows))

    @torch.no_grad()
    def kernels(self) -> np.ndarray:
        """(T, S, A, S) float64 ``P_eta[t, s, a, s']``, rows renormalised to sum to one."""
        probs = self.log_kernels().exp().double().cpu().numpy().reshape(self.shape)
        return probs / probs.sum(axis=-1, keepdims=True)

    def state_dict(self) -> dict[str, Any]:
        """Model, optimizer and counts (tensors and plain containers)."""
        return {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counts": self.counts.cpu(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.counts = state["counts"].to(self.device, copy=True)
