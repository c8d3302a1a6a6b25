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

The law and its fit are :class:`ConditionalModel`'s, which the structured model of matching games
(:mod:`~alloc_agents.stackelberg.matching_model`) reuses for its two learned parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.stackelberg.learned_game import LearnedKernelGame
from alloc_agents.stackelberg.network import GridMLP
from alloc_agents.stackelberg.rollout import Episode
from alloc_envs.stackelberg.game import MeanFieldGame
from alloc_envs.stackelberg.matching import MatchingGame


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


class ConditionalModel:
    """A learned categorical law ``P(next | t, row)`` over ``n_outcomes`` values for ``n_rows``
    conditioning rows at each of ``horizon`` steps, its data counts and its optimizer.

    Args:
        n_rows: the conditioning rows (TIRL's P_eta: the S A state-action pairs).
        horizon: T.
        n_outcomes: the values of ``next`` (the S follower states).
        hidden_sizes: MLP hidden widths; ``()`` for a logit table.
        activation: ``"tanh"`` or ``"relu"``.
        lr: Adam learning rate.
        seed: initialises the MLP (under a forked torch generator).
        device: where the model and the counts live.
    """

    def __init__(
        self,
        n_rows: int,
        horizon: int,
        n_outcomes: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
        lr: float,
        seed: int,
        device: torch.device,
    ) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if hidden_sizes:
                network: nn.Module = GridMLP(
                    n_rows, horizon, hidden_sizes, n_outcomes, activation, 0.01
                )
            else:
                network = LogitTable(n_rows, horizon, n_outcomes)
        self.network = network.to(device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.counts = torch.zeros(horizon, n_rows, n_outcomes, device=device)
        self.device = device

    def observe_counts(self, counts: np.ndarray) -> None:
        """Add (T, rows, outcomes) integer ``counts`` of observed ``(t, row, next)`` to the data."""
        self.counts += torch.as_tensor(counts.reshape(self.counts.shape), device=self.device)

    @property
    def n_transitions(self) -> int:
        """|D|, the transitions observed so far."""
        return int(self.counts.sum().item())

    def log_probs(self) -> Tensor:
        """(T, rows, outcomes) ``log P(next | t, row)`` (with gradient)."""
        return torch.log_softmax(self.network(0), dim=-1)

    def _data_rows(self) -> tuple[Tensor, Tensor]:
        """(K,) step and (K,) row indices of the (t, row) pairs with data."""
        return torch.nonzero(self.counts.sum(dim=-1) > 0, as_tuple=True)

    def _nll(self, rows: tuple[Tensor, Tensor]) -> Tensor:
        counts = self.counts[rows]
        log_probs = torch.log_softmax(self.network.at(*rows), dim=-1)
        return -(counts * log_probs).sum() / counts.sum().clamp_min(1.0)

    def nll(self) -> Tensor:
        """Eq. 7 on the data set: ``-sum C log P / sum C`` (nats per transition; 0 without
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
    def probabilities(self) -> np.ndarray:
        """(T, rows, outcomes) float64 ``P(next | t, row)``, rows renormalised to sum to one."""
        probs = self.log_probs().exp().double().cpu().numpy()
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


def transition_counts(
    shape: tuple[int, int, int],
    rows: np.ndarray,
    next_states: np.ndarray,
    start: int = 0,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """(T, R, S) counts of the observed ``(t, rows[t', n], next_states[t', n])``, for (T', N)
    int ``rows`` and ``next_states`` of steps ``start..start + T' - 1`` (``shape`` = (T, R, S));
    with a (T', N) bool ``where``, only of the entries where it holds."""
    _, n_rows, s = shape
    steps = np.arange(start, start + rows.shape[0])[:, None]
    flat = (steps * n_rows + rows) * s + next_states
    weights = None if where is None else where.ravel()
    counts = np.bincount(flat.ravel(), weights=weights, minlength=int(np.prod(shape)))
    return counts.reshape(shape)


class TransitionModel(ConditionalModel):
    """``P_eta(s' | t, s, a)`` of ``game``'s followers (module docstring): a
    :class:`ConditionalModel` over the S A state-action pairs.

    Args:
        game: the scenario (only its sizes are read; the model never sees the true kernel).
        hidden_sizes, activation, lr, seed, device: :class:`ConditionalModel`'s.
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
        super().__init__(s * a, t, s, hidden_sizes, activation, lr, seed, device)

    def observe(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, start: int = 0
    ) -> None:
        """Add the transitions of (T', N) int ``states``, ``actions`` and ``next_states`` of
        steps ``start..start + T' - 1`` to the data set."""
        t, s, a, _ = self.shape
        pairs = states * a + actions
        self.observe_counts(transition_counts((t, s * a, s), pairs, next_states, start))

    def observe_episode(self, episode: Episode) -> None:
        """Add an N-agent episode's transitions (from step 0) to the data set."""
        self.observe(episode.states, episode.actions, episode.next_states)

    def learned_game(self, game: MatchingGame) -> LearnedKernelGame:
        """``game`` with P_eta as the followers' kernel (Eq. 10)."""
        return LearnedKernelGame(game, self.kernels())

    def kernels(self) -> np.ndarray:
        """(T, S, A, S) float64 ``P_eta[t, s, a, s']``, rows renormalised to sum to one."""
        return self.probabilities().reshape(self.shape)
