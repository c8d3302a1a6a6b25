"""Choosing the simulator's path: numpy calls or numba kernels (``ALLOC_ENVS_KERNELS``).

That both paths give the same trajectories bit for bit is tested on whole episodes against the
stored digests (``tests/test_ride_hailing_trajectories.py``) and on vector envs
(``test_ride_hailing_vector.py``), each on both paths.
"""

from __future__ import annotations

import numpy as np
import pytest

from alloc_envs.ride_hailing import RideHailingEnv, kernels
from alloc_envs.ride_hailing.kernels import ENV_VAR


@pytest.mark.parametrize(("value", "numba_used"), [("numpy", False), ("NumPy ", False)])
def test_numpy_is_chosen_on_request(value, numba_used, monkeypatch):
    monkeypatch.setenv(ENV_VAR, value)
    assert kernels.use_numba() is numba_used
    assert RideHailingEnv(preset="ride-hailing-1").scenario.sim.use_numba is numba_used


@pytest.mark.parametrize("value", ["auto", "", "numba"])
def test_numba_is_used_when_installed(value, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv(ENV_VAR, value)
    assert kernels.use_numba()
    assert RideHailingEnv(preset="ride-hailing-1").scenario.sim.use_numba


def test_without_numba_auto_falls_back_and_numba_is_an_error(monkeypatch):
    monkeypatch.setattr(kernels, "numba", None)
    monkeypatch.setenv(ENV_VAR, "auto")
    assert not kernels.use_numba()
    monkeypatch.setenv(ENV_VAR, "numba")
    with pytest.raises(ValueError, match="ALLOC_ENVS_KERNELS=numba but numba is not installed"):
        RideHailingEnv(preset="ride-hailing-1")


def test_a_bad_choice_names_the_variable(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fortran")
    with pytest.raises(ValueError, match=r"ALLOC_ENVS_KERNELS must be one of .*'fortran'"):
        RideHailingEnv(preset="ride-hailing-1")


def test_picks_in_order_is_a_stable_argsort_of_the_valid_slots():
    """The compiled ranking against the numpy one, with ties, empty rows and full rows."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k = rng.integers(1, 6), rng.integers(1, 12)
        key = rng.integers(-3, 3, (n, k)).astype(rng.choice([np.float32, np.float64]))
        mask = rng.random((n, k)) < rng.random()
        order = np.argsort(np.where(mask, key, np.inf), axis=1, kind="stable")
        expected = np.where(np.arange(k) < mask.sum(axis=1, keepdims=True), order + 1, 0)
        np.testing.assert_array_equal(kernels.picks_in_order(key, mask), expected)


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_ranked_picks_read_from_the_observation_equal_picks_in_order(sign):
    """The greedy dispatcher's one-call ranking against the numpy ranking of the same column,
    with tied features, empty rows, full rows and STAY's slot 0 set or not."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, k, f = rng.integers(1, 6), rng.integers(1, 12), 4
        candidates = rng.integers(-3, 3, (n, k + 1, f)).astype(np.float32)
        candidate_mask = (rng.random((n, k + 1)) < rng.random()).astype(np.int8)
        column = int(rng.integers(f))
        key, mask = sign * candidates[:, 1:, column], candidate_mask[:, 1:] > 0
        order = np.argsort(np.where(mask, key, np.inf), axis=1, kind="stable")
        expected = np.where(np.arange(k) < mask.sum(axis=1, keepdims=True), order + 1, 0)
        picks = kernels.ranked_picks(candidates, candidate_mask, column, sign)
        np.testing.assert_array_equal(picks, expected)


def test_compiled_kl_equals_numpys_bit_for_bit():
    """The compiled KL divergence of orders against idle drivers (ratios in one loop, numpy's
    logarithm, numpy's pairwise summation replayed) against the numpy path, on cities of 1 to
    128 cells (numpy's pairwise block, the most the kernel takes) and 1 to 3 copies."""
    pytest.importorskip("numba")
    from alloc_envs.ride_hailing.sim import KL_SMOOTHING, _kl_rows

    rng = np.random.default_rng(2)
    for _ in range(300):
        n_copies, n_cells = (
            int(rng.integers(1, 4)),
            int(rng.integers(1, kernels.PAIRWISE_BLOCK + 1)),
        )
        pending = rng.integers(0, rng.integers(1, 500), n_copies * n_cells)
        idle = rng.integers(0, rng.integers(1, 500), n_copies * n_cells)
        p, ratio = kernels.kl_ratios(pending, idle, n_cells, KL_SMOOTHING)
        np.log(ratio, out=ratio)
        compiled = kernels.weighted_row_sums(ratio, p)
        spread = n_cells * KL_SMOOTHING
        rows = (n_copies, n_cells)
        p = (pending.reshape(rows) + KL_SMOOTHING) / (pending.reshape(rows).sum(1) + spread)[
            :, None
        ]
        q = (idle.reshape(rows) + KL_SMOOTHING) / (idle.reshape(rows).sum(1) + spread)[:, None]
        assert compiled.tobytes() == _kl_rows(p, q).tobytes()
