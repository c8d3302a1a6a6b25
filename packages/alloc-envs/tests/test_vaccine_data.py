"""Real-city loaders of the vaccine scenario (``.npz`` and CSV) on small files the tests write,
and their errors on malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_envs.vaccine import (
    VaccineAllocationEnv,
    VaccineAllocationParallelEnv,
    calibrate_contact_scale,
    city_from_visits,
    infected_share,
    load_city,
    load_city_csv,
    make_config,
    save_city,
    synthetic_city,
)
from alloc_envs.vaccine.data import AGE_COLUMNS

N, P = 6, 4


def _inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    visits = rng.integers(0, 30, size=(N, P)).astype(np.float64)
    visits[0, :] = 0  # a region that goes nowhere
    ages = rng.random((N, 17))
    return {
        "population": rng.integers(500, 3000, size=N).astype(np.float64),
        "visits": visits,
        "age_shares": ages / ages.sum(axis=1, keepdims=True),
        "coords": rng.random((N, 2)),
        "acceptance": np.linspace(0.7, 0.9, N),
    }


def _write_npz(tmp_path, name: str = "city.npz", **arrays) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_npz_dense_and_sparse_visits_give_the_same_city(tmp_path) -> None:
    inputs = _inputs()
    dense = load_city(_write_npz(tmp_path, "dense.npz", **inputs))
    region, place = np.nonzero(inputs["visits"])
    sparse_inputs = {k: v for k, v in inputs.items() if k != "visits"}
    sparse = load_city(
        _write_npz(
            tmp_path,
            "sparse.npz",
            visits_region=region,
            visits_place=place,
            visits_count=inputs["visits"][region, place],
            **sparse_inputs,
        )
    )
    for name in ("population", "age_shares", "coords", "acceptance", "neighbours", "kernel"):
        np.testing.assert_array_equal(getattr(dense, name), getattr(sparse, name))
    assert dense.n_regions == N and dense.name == "dense.npz"
    # frequency-dependent default: f_j = 1 / visits to j
    v = inputs["visits"]
    expected = v @ np.diag(1.0 / v.sum(axis=0)) @ v.T
    got = np.zeros((N, N))
    for i in range(N):
        np.add.at(got[i], dense.neighbours[i], dense.kernel[i])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.all(dense.kernel[0] == 0)


def test_npz_place_factor_and_top_k(tmp_path) -> None:
    inputs = _inputs()
    factor = np.array([1.0, 2.0, 0.5, 3.0])
    city = load_city(_write_npz(tmp_path, place_factor=factor, **inputs), top_k=2)
    assert city.kernel.shape == (N, 2)
    v = inputs["visits"]
    full = (v @ np.diag(factor) @ v.T).sum(axis=1)
    np.testing.assert_allclose(city.kernel.sum(axis=1), full, rtol=1e-12)


def test_optional_arrays_have_defaults(tmp_path) -> None:
    inputs = _inputs()
    city = load_city(_write_npz(tmp_path, population=inputs["population"], visits=inputs["visits"]))
    np.testing.assert_array_equal(city.coords, 0.0)
    assert city.acceptance is None
    np.testing.assert_allclose(city.age_shares, np.broadcast_to(city.age_shares[0], (N, 17)))
    env = VaccineAllocationEnv(city=city, acceptance=0.5, n_decisions=3)
    np.testing.assert_allclose(env.scenario.sim.max_doses, 0.5 * inputs["population"])


def test_save_and_load_round_trip_and_identical_episodes(tmp_path, rh) -> None:
    city = synthetic_city(make_config("medical-small"))
    path = tmp_path / "synthetic.npz"
    save_city(city, path)
    loaded = load_city(path)
    for name in ("population", "age_shares", "coords", "neighbours", "kernel"):
        np.testing.assert_array_equal(getattr(city, name), getattr(loaded, name))
    a = VaccineAllocationEnv(n_decisions=5)
    b = VaccineAllocationEnv(city=str(path), n_decisions=5)
    for env in (a, b):
        env.reset(seed=3)
    action = np.linspace(-1, 1, 100)
    for _ in range(5):
        rh.assert_same(a.step(action), b.step(action))


def test_env_from_a_real_city_file_in_both_views(tmp_path) -> None:
    path = _write_npz(tmp_path, **_inputs())
    env = VaccineAllocationParallelEnv(city=path, n_decisions=4)
    assert env.possible_agents == [f"region_{i}" for i in range(N)]
    obs, _ = env.reset(seed=0)
    assert obs["region_5"]["observation"].shape == (11,)
    gym_env = VaccineAllocationEnv(city=path, n_decisions=4)
    gym_env.reset(seed=0)
    _, _, _, _, info = gym_env.step(np.zeros((N, 1)))
    assert info["doses_given"] == pytest.approx(np.floor(0.01 * _inputs()["population"].sum()))
    np.testing.assert_allclose(
        gym_env.scenario.sim.max_doses, np.linspace(0.7, 0.9, N) * _inputs()["population"]
    )


def test_csv_city_matches_the_npz_city(tmp_path) -> None:
    inputs = _inputs()
    regions = tmp_path / "regions.csv"
    ids = [f"13121{i:07d}" for i in range(N)]
    header = ["id", "population", "x", "y", "acceptance", *AGE_COLUMNS]
    lines = [",".join(header)]
    for i in range(N):
        values = [
            ids[i],
            f"{inputs['population'][i]:.0f}",
            *(repr(float(v)) for v in inputs["coords"][i]),
        ]
        values += [
            repr(float(inputs["acceptance"][i])),
            *(repr(float(v)) for v in inputs["age_shares"][i]),
        ]
        lines.append(",".join(values))
    regions.write_text("\n".join(lines) + "\n")
    visits = tmp_path / "visits.csv"
    rows = ["region,place,visits"]
    for i, j in zip(*np.nonzero(inputs["visits"]), strict=True):
        rows.append(f"{ids[i]},poi-{j},{inputs['visits'][i, j]}")
    visits.write_text("\n".join(rows) + "\n")
    from_csv = load_city_csv(regions, visits)
    from_npz = load_city(_write_npz(tmp_path, **inputs))
    for name in ("population", "coords", "acceptance", "neighbours", "kernel"):
        np.testing.assert_allclose(getattr(from_csv, name), getattr(from_npz, name), rtol=1e-12)
    np.testing.assert_allclose(from_csv.age_shares, from_npz.age_shares, rtol=1e-12)


def test_csv_minimal_files_and_row_indices(tmp_path) -> None:
    regions = tmp_path / "r.csv"
    regions.write_text("population\n1000\n2000\n3000\n")
    visits = tmp_path / "v.csv"
    visits.write_text(
        "region,place,visits,place_factor\n0,a,5,0.1\n1,a,3,0.1\n2,b,4,0.2\n1,b,1,0.2\n"
    )
    city = load_city_csv(regions, visits)
    assert city.n_regions == 3
    got = np.zeros((3, 3))
    for i in range(3):
        np.add.at(got[i], city.neighbours[i], city.kernel[i])
    w = np.array([[5, 0], [3, 1], [0, 4]], dtype=float)
    np.testing.assert_allclose(got, w @ np.diag([0.1, 0.2]) @ w.T)


BAD_NPZ = {
    "missing population": ({"visits": np.ones((N, P))}, "population"),
    "no mobility": ({"population": np.full(N, 100.0)}, "mobility form"),
    "two mobility forms": (
        {"population": np.full(N, 100.0), "visits": np.ones((N, P)), "visits_place": np.zeros(3)},
        "mobility form",
    ),
    "unknown key": ({"population": np.full(N, 100.0), "visits": np.ones((N, P)), "pop": 1}, "pop"),
    "visits rows": ({"population": np.full(N, 100.0), "visits": np.ones((N + 1, P))}, "visits"),
    "negative visits": ({"population": np.full(N, 100.0), "visits": -np.ones((N, P))}, "visits"),
    "nan visits": ({"population": np.full(N, 100.0), "visits": np.full((N, P), np.nan)}, "NaN"),
    "zero population": ({"population": np.zeros(N), "visits": np.ones((N, P))}, "population"),
    "fractional population": (
        {"population": np.full(N, 10.5), "visits": np.ones((N, P))},
        "whole numbers",
    ),
    "2-D population": ({"population": np.ones((N, 2)), "visits": np.ones((N, P))}, "population"),
    "one region": ({"population": np.ones(1), "visits": np.ones((1, P))}, "region"),
    "sparse incomplete": (
        {"population": np.full(N, 100.0), "visits_region": np.zeros(3, int)},
        "visits_place",
    ),
    "sparse lengths": (
        {
            "population": np.full(N, 100.0),
            "visits_region": np.zeros(3, int),
            "visits_place": np.zeros(2, int),
            "visits_count": np.ones(3),
        },
        "same length",
    ),
    "region out of range": (
        {
            "population": np.full(N, 100.0),
            "visits_region": np.array([0, N]),
            "visits_place": np.zeros(2, int),
            "visits_count": np.ones(2),
        },
        "visits_region",
    ),
    "fractional place index": (
        {
            "population": np.full(N, 100.0),
            "visits_region": np.array([0, 1]),
            "visits_place": np.array([0.5, 1.0]),
            "visits_count": np.ones(2),
        },
        "visits_place",
    ),
    "short place_factor": (
        {"population": np.full(N, 100.0), "visits": np.ones((N, P)), "place_factor": np.ones(2)},
        "place_factor",
    ),
    "ages shape": (
        {"population": np.full(N, 100.0), "visits": np.ones((N, P)), "age_shares": np.ones((N, 5))},
        "age_shares",
    ),
    "ages do not sum to 1": (
        {
            "population": np.full(N, 100.0),
            "visits": np.ones((N, P)),
            "age_shares": np.ones((N, 17)),
        },
        "age_shares",
    ),
    "coords shape": (
        {"population": np.full(N, 100.0), "visits": np.ones((N, P)), "coords": np.ones((N, 3))},
        "coords",
    ),
    "acceptance range": (
        {"population": np.full(N, 100.0), "visits": np.ones((N, P)), "acceptance": np.full(N, 2.0)},
        "acceptance",
    ),
    "kernel without neighbours": (
        {"population": np.full(N, 100.0), "kernel_weights": np.ones((N, 2))},
        "kernel_neighbours",
    ),
    "kernel index range": (
        {
            "population": np.full(N, 100.0),
            "kernel_neighbours": np.full((N, 2), N),
            "kernel_weights": np.ones((N, 2)),
        },
        "neighbours",
    ),
    "string population": (
        {"population": np.array(["a"] * N), "visits": np.ones((N, P))},
        "numeric",
    ),
}


@pytest.mark.parametrize("name", list(BAD_NPZ))
def test_malformed_npz_raises_naming_the_problem(name: str, tmp_path) -> None:
    arrays, problem = BAD_NPZ[name]
    path = _write_npz(tmp_path, **arrays)
    with pytest.raises(ValueError, match=problem) as info:
        load_city(path)
    assert "city.npz" in str(info.value)


def test_unreadable_npz_files_raise(tmp_path) -> None:
    with pytest.raises(ValueError, match="no such"):
        load_city(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"junk\.npz.*readable"):
        load_city(junk)
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, population=np.array([object()] * 3))
    with pytest.raises(ValueError, match=r"objects\.npz"):
        load_city(pickled)
    with pytest.raises(ValueError, match="no such"):
        VaccineAllocationEnv(city=tmp_path / "missing.npz")


BAD_CSV = {
    "no population column": ("pop\n1\n2\n", "region,place,visits\n0,a,1\n", "population"),
    "not a number": ("population\n1000\nmany\n", "region,place,visits\n0,a,1\n", "line 3.*number"),
    "ragged row": ("population\n1000\n2000,3\n", "region,place,visits\n0,a,1\n", "line 3.*fields"),
    "empty": ("", "region,place,visits\n0,a,1\n", "empty"),
    "no rows": ("population\n", "region,place,visits\n0,a,1\n", "no data"),
    "unknown region": (
        "population\n1000\n2000\n",
        "region,place,visits\n5,a,1\n",
        "line 2.*region",
    ),
    "negative visits": ("population\n1000\n2000\n", "region,place,visits\n0,a,-1\n", "line 2"),
    "missing visits column": ("population\n1000\n2000\n", "region,place\n0,a\n", "visits"),
    "x without y": ("population,x\n1000,1\n2000,2\n", "region,place,visits\n0,a,1\n", "'y'"),
    "some ages": ("population,age_0_4\n1000,1\n2000,1\n", "region,place,visits\n0,a,1\n", "age"),
    "duplicate ids": ("id,population\na,1\na,2\n", "region,place,visits\na,a,1\n", "duplicate"),
    "two place factors": (
        "population\n1000\n2000\n",
        "region,place,visits,place_factor\n0,a,1,0.1\n1,a,1,0.2\n",
        "line 3.*place_factor",
    ),
    "zero population": ("population\n0\n2000\n", "region,place,visits\n0,a,1\n", "population"),
    "inf": ("population\ninf\n2000\n", "region,place,visits\n0,a,1\n", "finite"),
}


@pytest.mark.parametrize("name", list(BAD_CSV))
def test_malformed_csv_raises_naming_the_file_and_problem(name: str, tmp_path) -> None:
    regions_text, visits_text, problem = BAD_CSV[name]
    regions, visits = tmp_path / "regions.csv", tmp_path / "visits.csv"
    regions.write_text(regions_text)
    visits.write_text(visits_text)
    with pytest.raises(ValueError, match=problem) as info:
        load_city_csv(regions, visits)
    assert "regions.csv" in str(info.value) or "visits.csv" in str(info.value)


def test_csv_bytes_that_are_not_utf8_name_the_file_line_and_column(tmp_path) -> None:
    regions, visits = tmp_path / "regions.csv", tmp_path / "visits.csv"
    regions.write_bytes("population,name\n1000,a\n2000,M\xfcnster\n".encode("latin-1"))
    visits.write_text("region,place,visits\n0,a,1\n")
    with pytest.raises(ValueError, match=r"regions.csv, line 3, byte column 7: .*not UTF-8"):
        load_city_csv(regions, visits)


def test_city_from_visits_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="top_k"):
        city_from_visits(np.full(3, 10.0), [0], [0], [1.0], top_k=0)
    with pytest.raises(ValueError, match="visits_count"):
        city_from_visits(np.full(3, 10.0), [0], [0], [-1.0])


def test_calibrate_contact_scale_hits_the_target() -> None:
    cfg = make_config("medical-small", n_regions=30, population=69_000)
    city = synthetic_city(cfg)
    scale = calibrate_contact_scale(cfg, city, target=0.02, day=20, seeds=(0,), tolerance=0.02)
    share = infected_share(cfg.replace(contact_scale=scale), city, day=20, seeds=(0,))
    assert share == pytest.approx(0.02, rel=0.02)
    with pytest.raises(ValueError, match="target"):
        calibrate_contact_scale(cfg, city, target=1.5)
