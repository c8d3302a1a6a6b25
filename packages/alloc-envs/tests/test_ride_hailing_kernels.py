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
