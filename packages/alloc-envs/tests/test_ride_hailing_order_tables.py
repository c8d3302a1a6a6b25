"""The per-order tables of the ride-hailing simulator equal the per-step formulas they replace."""

from __future__ import annotations

import numpy as np

from alloc_envs.ride_hailing.order_tables import PRICE_BIN_WIDTH, price_bins


def test_price_bins_are_numpy_floor_divide_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    multiples = PRICE_BIN_WIDTH * np.arange(0, 100_000, dtype=np.float64)
    # The hard cases: the neighbours of every multiple, where price / 15 is nearly an integer.
    near = np.concatenate(
        [np.nextafter(multiples, -np.inf), multiples, np.nextafter(multiples, np.inf)]
    )
    prices = np.concatenate(
        [near[near >= 0], rng.gamma(2.0, 12.0, 100_000), [0.0, 5e-324, 1e9, 2.0**60]]
    )
    np.testing.assert_array_equal(price_bins(prices), prices // PRICE_BIN_WIDTH)
