"""Association of DyPS group maps with the cells' demand, supply and neighbourhoods."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_bench.dyps_maps import (
    adjusted_rand_index,
    agent_types,
    cell_features,
    eta_squared,
    eta_squared_test,
    last_map_rows,
    map_association,
    neighbour_agreement,
    render_section,
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


def test_adjusted_rand_index_against_known_values() -> None:
    # The worked example of scikit-learn's adjusted_rand_score documentation: 0.24242...
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 3, 3]) == 1.0  # the labels do not matter
    assert adjusted_rand_index([0, 0, 0, 0], [1, 1, 1, 1]) == 1.0
    assert adjusted_rand_index([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(-0.5)
    rng = np.random.default_rng(0)
    types = np.repeat([0, 1], 50)
    chance = [adjusted_rand_index(rng.permutation(types), types) for _ in range(200)]
    assert abs(np.mean(chance)) < 0.01


def test_groups_of_typed_agents_are_scored_against_the_types() -> None:
    types = agent_types("lbf-1")
    assert types is not None and len(types) == 6
    by_type = [sorted(set(types)).index(t) for t in types]
    results = [
        {
            "scenario": "lbf-1",
            "method": "DyPS+IPPO",
            "groups": [{"maps": [{"assignment": by_type, "diagnostics": {}}]}],
        }
    ]
    (row,) = last_map_rows(results)
    assert row["per_seed"][0]["ari_types"] == 1.0
    section = render_section(results)
    assert "ARI vs agent types" in section and "| 1.000 |" in section
