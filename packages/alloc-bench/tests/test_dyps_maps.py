"""Association of DyPS group maps with the cells' demand, supply and neighbourhoods."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_bench.dyps_maps import (
    cell_features,
    eta_squared,
    eta_squared_test,
    map_association,
    neighbour_agreement,
)


def test_eta_squared_is_the_between_group_share_of_the_variance() -> None:
    values = np.array([1.0, 1.0, 3.0, 3.0])
    assert eta_squared(np.array([0, 0, 1, 1]), values) == pytest.approx(1.0)
    assert eta_squared(np.array([0, 1, 0, 1]), values) == pytest.approx(0.0)
    assert eta_squared(np.array([0, 0, 0, 1]), values) == pytest.approx(1 / 3)
    assert eta_squared(np.array([0, 1, 0, 1]), np.ones(4)) == 0.0


def test_permutation_null_separates_a_split_by_value_from_random_groups() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=36)
    split = eta_squared_test((values > np.median(values)).astype(int), values, 500)
    assert split["eta2"] > 0.5 and split["p"] < 0.01 and split["null"] < 0.1
    random = eta_squared_test(rng.integers(0, 2, 36), values, 500)
    assert random["p"] > 0.05


def test_neighbour_agreement_and_its_chance() -> None:
    neighbors = np.array([[1, -1], [0, 2], [1, -1]])  # a path 0 - 1 - 2
    out = neighbour_agreement(np.array([0, 0, 1]), neighbors)
    assert out["agreement"] == 0.5  # (0, 1) agree, (1, 2) do not
    assert out["chance"] == pytest.approx(2 / 6)  # one same-group pair of the 3 * 2 / 2


def test_ride_hailing_maps_by_demand_are_associated_with_demand() -> None:
    features = cell_features("ride-hailing-1")
    assert features["demand"].shape == features["supply"].shape == (36,)
    by_demand = (features["demand"] > np.median(features["demand"])).astype(int)
    out = map_association(by_demand, features, permutations=200)
    assert out["eta2_demand"] > 0.5 and out["eta2_demand_p"] < 0.01
    assert 0 <= out["neighbour_agreement"] <= 1 and 0 < out["neighbour_chance"] < 1
