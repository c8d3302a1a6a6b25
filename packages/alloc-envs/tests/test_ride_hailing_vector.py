"""``RideHailingVectorEnv``: E cities stepped in one call, each bit-identical to a single env.

The reference is Gymnasium's own ``SyncVectorEnv`` over ``RideHailingEnv`` (``make_vec(...,
vectorization_mode="sync")``): the vector env must hand out the same observations, rewards,
flags and infos (values, dtypes and shapes) for the same seeds and actions, across days and the
``NEXT_STEP`` autoreset, in every mode; and keep each copy's drivers and orders to themselves.
"""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium
import numpy as np
import pytest

import alloc_envs  # noqa: F401  (registers the ids)
from alloc_agents import make_policy
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingVectorEnv
from alloc_envs.ride_hailing.kernels import ENV_VAR
from alloc_envs.ride_hailing.sim import RideHailingSim
from alloc_envs.ride_hailing.trips import TripTable

ENV_ID = "alloc/RideHailing-v0"
#: A short day on a small city (every mode's dynamics, a fraction of the cost).
SHORT = {"preset": "ride-hailing-1", "episode_steps": 12}


def recorded_kwargs() -> dict[str, Any]:
    """Recorded demand: three days of trips on a 3 x 4 city."""
    rng = np.random.default_rng(3)
    n = 400
    trips = TripTable(
        n_cells=12,
        n_steps=10,
        day_labels=("d0", "d1", "d2"),
        day=rng.integers(0, 3, n),
        step=rng.integers(0, 10, n),
        origin=rng.integers(0, 12, n),
        destination=rng.integers(0, 12, n),
        duration=rng.integers(1, 4, n),
        price=np.round(rng.gamma(2.0, 12.0, n), 2),
    )
    return {
        "trips": trips,
        "rows": 3,
        "cols": 4,
        "max_trip_steps": 3,
        "episode_steps": 10,
        "max_orders": 4,
    }


CASES: dict[str, dict[str, Any]] = {
    "stochastic": SHORT,
    "reposition": {**SHORT, "action_mode": "reposition"},
    "reference-demand": {**SHORT, "demand": "reference"},
    "faithful": {**SHORT, "faithful": True, "max_orders": 5},
    "few-slots-patient": {**SHORT, "max_orders": 3, "patience": 2},
    "ride-hailing-2": {"preset": "ride-hailing-2", "episode_steps": 6},
    "recorded": recorded_kwargs(),
}


def assert_same(ours: Any, theirs: Any, where: str) -> None:
    """Equal values, dtypes and shapes, through tuples and dicts."""
    if isinstance(theirs, tuple):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
        return
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), f"{where}: keys differ {set(ours) ^ set(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}/{key}")
        return
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} != {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} != {theirs.shape}"
    assert np.array_equal(ours, theirs), f"{where}: values differ"


def make_pair(n: int, kwargs: dict[str, Any]):
    vector = gymnasium.make_vec(ENV_ID, n, vectorization_mode="vector_entry_point", **kwargs)
    sync = gymnasium.make_vec(ENV_ID, n, vectorization_mode="sync", **kwargs)
    return vector, sync


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("case", list(CASES))
def test_copies_are_bit_identical_to_a_sync_vector_env(
    case: str, kernels: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On both simulator paths (:mod:`alloc_envs.ride_hailing.kernels`)."""
    if kernels == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv(ENV_VAR, kernels)
    kwargs = CASES[case]
    vector, sync = make_pair(3, kwargs)
    assert isinstance(vector.unwrapped, RideHailingVectorEnv)
    assert vector.observation_space == sync.observation_space
    assert vector.action_space == sync.action_space
    assert_same(vector.reset(seed=11), sync.reset(seed=11), "reset")
    dispatch = kwargs.get("action_mode", "dispatch") == "dispatch"
    greedy = make_policy("greedy", seed=0)
    vector.action_space.seed(5)
    days = vector.unwrapped.config.episode_steps
    obs, _ = vector.reset(seed=11)
    sync.reset(seed=11)
    # Two and a half days: the autoreset step, the second day (generators carried on).
    for t in range(2 * days + days // 2 + 2):
        if dispatch and t % 2:  # the greedy dispatcher over the 3 x G cells at once
            cells = {key: value.reshape(-1, *value.shape[2:]) for key, value in obs.items()}
            action = greedy.act(cells).reshape(vector.action_space.shape)
        else:
            action = vector.action_space.sample()
        ours, theirs = vector.step(action), sync.step(action)
        assert_same(ours, theirs, f"step {t}")
        obs = ours[0]
    # Seeds per copy, one of them None (that copy keeps its generator).
    assert_same(vector.reset(seed=[4, None, 9]), sync.reset(seed=[4, None, 9]), "reseed")


def test_reset_with_an_int_seed_gives_copy_e_the_seed_plus_e() -> None:
    vector = RideHailingVectorEnv(2, **SHORT)
    obs, _ = vector.reset(seed=100)
    for e in range(2):
        single, _ = RideHailingEnv(**SHORT).reset(seed=100 + e)
        for key, value in single.items():
            np.testing.assert_array_equal(obs[key][e], value)
    # Different seeds, different days.
    assert not np.array_equal(obs["candidates"][0], obs["candidates"][1])


def test_each_copy_conserves_its_drivers_and_serves_only_its_orders() -> None:
    vector = RideHailingVectorEnv(4, **{**SHORT, "episode_steps": 30})
    cfg = vector.config
    sim = vector.scenario.sim
    obs, _ = vector.reset(seed=0)
    greedy = make_policy("greedy", seed=0)
    for _ in range(cfg.episode_steps):
        cells = {key: value.reshape(-1, *value.shape[2:]) for key, value in obs.items()}
        obs, rewards, _, _, info = vector.step(greedy.act(cells).reshape(vector.action_space.shape))
        idle = sim.idle.reshape(4, sim.n_cells).sum(axis=1)
        np.testing.assert_array_equal(idle + sim.copy_in_service, cfg.n_drivers)
        assert (info["orders_served"] <= info["orders_generated"]).all()
        np.testing.assert_allclose(rewards, info["agent_rewards"].sum(axis=1))
        # A served order's driver ends its trip in the order's copy.
        served = np.flatnonzero(sim.served)
        copy_of_origin = sim.orders.origin[served] // sim.n_cells
        np.testing.assert_array_equal(copy_of_origin, sim.orders.destination[served] // sim.n_cells)
    assert (info["gmv"] > 0).all()
    assert len(set(info["gmv"].tolist())) == 4  # four different days


def test_cost_per_copy_is_shared_numpy_calls_not_a_loop() -> None:
    """One step of E copies makes as many numpy calls as one copy (no per-copy Python loop)."""
    import sys

    def calls_per_step(n: int) -> int:
        vector = RideHailingVectorEnv(n, **SHORT)
        vector.reset(seed=0)
        stay = np.zeros(vector.action_space.shape, dtype=np.int64)
        counted = 0

        def count(frame, event, arg) -> None:
            nonlocal counted
            if event in ("call", "c_call"):
                counted += 1

        sys.setprofile(count)
        try:
            vector.step(stay)
        finally:
            sys.setprofile(None)
        return counted

    assert calls_per_step(8) == calls_per_step(2)


def test_single_city_scalars_refuse_several_copies() -> None:
    vector = RideHailingVectorEnv(2, **SHORT)
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="copy_gmv"):
        _ = vector.scenario.sim.gmv
    with pytest.raises(ValueError, match="copy_kl_orders_idle"):
        vector.scenario.sim.kl_orders_idle()
    with pytest.raises(ValueError, match="1 order stream"):
        RideHailingSim(vector.config, vector.scenario.grid).reset()


def test_bad_arguments_and_actions_are_named() -> None:
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1"):
        RideHailingVectorEnv(0, **SHORT)
    with pytest.raises(ValueError, match="does not render"):
        RideHailingVectorEnv(2, render_mode="rgb_array", **SHORT)
    with pytest.raises(ValueError, match="episode_steps=12"):
        RideHailingVectorEnv(2, max_episode_steps=5, **SHORT)
    with pytest.raises(ValueError, match="unknown"):
        RideHailingVectorEnv(2, preset="ride-hailing-1", no_such_field=1)
    vector = RideHailingVectorEnv(2, **SHORT)
    with pytest.raises(RuntimeError, match="reset"):
        vector.step(vector.action_space.sample())
    with pytest.raises(ValueError, match="3 seeds for 2 copies"):
        vector.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="resets all copies together"):
        vector.reset(seed=0, options={"reset_mask": np.array([True, False])})
    vector.reset(seed=0)
    action = np.zeros(vector.action_space.shape, dtype=np.int64)
    with pytest.raises(ValueError, match=r"shape \(2, 36, 50\), got \(36, 50\)"):
        vector.step(action[0])
    action[1, 7, 2] = 99
    with pytest.raises(ValueError, match="copy 1, cell 7, pick 2 is 99"):
        vector.step(action)
    moves = RideHailingVectorEnv(2, **{**SHORT, "action_mode": "reposition"})
    moves.reset(seed=0)
    shares = np.zeros(moves.action_space.shape)
    shares[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(copy 0, cell 3\)"):
        moves.step(shares)


def test_pickles_and_resumes_identically() -> None:
    vector = RideHailingVectorEnv(2, **SHORT)
    vector.reset(seed=3)
    stay = np.zeros(vector.action_space.shape, dtype=np.int64)
    vector.step(stay)
    clone = pickle.loads(pickle.dumps(vector))
    for _ in range(4):
        assert_same(clone.step(stay), vector.step(stay), "after unpickling")
