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


@pytest.mark.parametrize("preset", ["ride-hailing-1", "ride-hailing-2"])
def test_compiled_trip_draws_equal_numpys(preset):
    """Trip length, destination and price of a day's orders from the same variates, both
    paths, bit for bit and dtype for dtype."""
    pytest.importorskip("numba")
    demand = RideHailingEnv(preset=preset).scenario.demand
    rng = np.random.default_rng(3)
    for _ in range(3):
        counts = rng.poisson(demand.rates)
        n = int(counts.sum())
        origin = np.repeat(np.arange(counts.size), counts.ravel()) % demand.grid.n_cells
        variates = (origin, rng.random(n), rng.random(n), rng.standard_normal(n))
        demand.use_numba = True
        compiled = demand._draw_trips(*variates)
        demand.use_numba = False
        for got, expected in zip(compiled, demand._draw_trips(*variates), strict=True):
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("faithful", [False, True])
@pytest.mark.parametrize("n_copies", [1, 3])
def test_compiled_order_keys_equal_numpys(faithful, n_copies):
    """The per-order histogram and arrival keys on both paths, with prices on and past the
    last bin, trips longer than the length bins (faithful mode drops them) and destinations
    farther than L rings (recorded trips can end there) or at the origin (ring 0: dropped)."""
    pytest.importorskip("numba")
    from alloc_envs.ride_hailing.demand import OrderStream
    from alloc_envs.ride_hailing.order_tables import OrderTables

    sim = RideHailingEnv(preset="ride-hailing-1", faithful=faithful).scenario.sim
    config, g = sim.config, sim.n_cells
    rng = np.random.default_rng(4)
    n = 2_000
    streams = []
    for _ in range(n_copies):
        price = rng.choice([0.0, 14.999, 15.0, 44.9, 1e4, *rng.gamma(2.0, 10.0, 8)], n)
        streams.append(
            OrderStream.from_unsorted(
                config.episode_steps,
                rng.integers(0, config.episode_steps, n),
                rng.integers(0, g, n),
                rng.integers(0, g, n),
                rng.integers(1, config.max_trip_steps + 2, n),
                price,
            )
        )
    orders = OrderStream.stack_copies(streams, g)
    tables = [
        OrderTables.build(orders, config, sim._distances, n_copies, use_numba=compiled)
        for compiled in (True, False)
    ]
    for name in ("hist_key", "arrival_key", "hist_weight"):
        got, expected = (getattr(t, name) for t in tables)
        if expected is None:
            assert got is None
            continue
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), name
