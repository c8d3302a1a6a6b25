"""Ride-Hailing trajectories stay bit-identical: digests of whole episodes against stored ones.

Every case runs two episodes (``reset(seed=...)``, then ``reset()`` continuing the generator)
with a rule-based policy and hashes everything the environment hands out at every step: each
observation array (dtype, shape and bytes), the rewards, the flags and the info values (floats
by their exact ``repr``). The stored digests in ``data/ride_hailing_digests.json`` were taken
from the simulator before its speed-up (issue 21); a faster simulator must reproduce them, on
its numpy path and with its numba kernels (:mod:`alloc_envs.ride_hailing.kernels`), and so must
the Table 7 figures (reference demand, greedy and nearest), which are stored exactly.

Regenerate (only when a change of the dynamics is intended, and say so in the commit)::

    python tests/test_ride_hailing_trajectories.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alloc_agents import make_policy
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv
from alloc_envs.ride_hailing.kernels import ENV_VAR
from alloc_envs.ride_hailing.trips import TripTable

DIGESTS = Path(__file__).parent / "data" / "ride_hailing_digests.json"
SEED = 2024

#: name -> (view, policy, environment keyword arguments)
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {}
for _preset, _short in (("ride-hailing-1", "rh1"), ("ride-hailing-2", "rh2")):
    for _demand in ("stochastic", "reference"):
        _base = {"preset": _preset, "demand": _demand}
        for _policy in ("greedy", "nearest", "random"):
            CASES[f"{_short}-{_demand}-gym-{_policy}"] = ("gym", _policy, _base)
        CASES[f"{_short}-{_demand}-gym-greedy-faithful"] = (
            "gym",
            "greedy",
            {**_base, "faithful": True},
        )
        CASES[f"{_short}-{_demand}-gym-reposition-random"] = (
            "gym",
            "random",
            {**_base, "action_mode": "reposition"},
        )
        CASES[f"{_short}-{_demand}-pz-greedy"] = ("pz", "greedy", _base)
    CASES[f"{_short}-stochastic-pz-reposition-random"] = (
        "pz",
        "random",
        {"preset": _preset, "action_mode": "reposition"},
    )
# Few visible slots (orders beyond K wait unseen), longer patience, a faithful reposition run.
CASES["rh1-few-slots-patient-random"] = (
    "gym",
    "random",
    {"preset": "ride-hailing-1", "max_orders": 4, "patience": 2},
)
CASES["rh2-few-slots-greedy-faithful"] = (
    "gym",
    "greedy",
    {"preset": "ride-hailing-2", "max_orders": 7, "faithful": True, "drivers_per_cell": 3},
)
CASES["rh1-reference-reposition-faithful"] = (
    "gym",
    "random",
    {"preset": "ride-hailing-1", "demand": "reference", "action_mode": "reposition",
     "faithful": True},
)  # fmt: skip
CASES["recorded-gym-greedy"] = ("gym", "greedy", {"recorded": True})
CASES["recorded-pz-nearest"] = ("pz", "nearest", {"recorded": True})


def recorded_trips() -> TripTable:
    """Three days of trips on a 3 x 4 city (a fixed draw), with trips the slots cannot all show."""
    rng = np.random.default_rng(7)
    n = 900
    return TripTable(
        n_cells=12,
        n_steps=24,
        day_labels=("d0", "d1", "d2"),
        day=rng.integers(0, 3, n),
        step=rng.integers(0, 24, n),
        origin=rng.integers(0, 12, n),
        destination=rng.integers(0, 12, n),
        duration=rng.integers(1, 4, n),
        price=np.round(rng.gamma(2.0, 12.0, n), 2),
    )


def make_env(view: str, kwargs: dict[str, Any]):
    """The environment of a case (recorded demand: a 3 x 4 city, 20 steps, 6 slots)."""
    kwargs = dict(kwargs)
    if kwargs.pop("recorded", False):
        kwargs = {
            "config": None,
            "trips": recorded_trips(),
            "rows": 3,
            "cols": 4,
            "max_trip_steps": 3,
            "episode_steps": 20,
            "max_orders": 6,
        }
    preset = kwargs.pop("preset", None)
    cls = RideHailingEnv if view == "gym" else RideHailingParallelEnv
    return cls(preset, **kwargs)


class Digest:
    """A running SHA-256 over arrays, numbers and dicts."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def array(self, x: Any) -> None:
        x = np.asarray(x)
        self.h.update(f"{x.dtype}{x.shape}".encode())
        self.h.update(np.ascontiguousarray(x).tobytes())

    def value(self, x: Any) -> None:
        if isinstance(x, np.ndarray):
            self.array(x)
        elif isinstance(x, dict):
            for key in sorted(x):
                self.h.update(str(key).encode())
                self.value(x[key])
        else:
            self.h.update(repr(x).encode())

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def _gym_episode(env, policy, digest: Digest, seed: int | None) -> dict[str, Any]:
    obs, info = env.reset(seed=seed)
    digest.value(obs)
    digest.value(info)
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        for x in (obs, reward, terminated, truncated, info):
            digest.value(x)
    return info


def _pz_episode(env, policy, digest: Digest, seed: int | None) -> dict[str, Any]:
    obs, infos = env.reset(seed=seed)
    digest.value(obs)
    digest.value(infos)
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step(policy.act_parallel(obs))
        for x in (obs, rewards, terms, truncs, infos):
            digest.value(x)
    return next(iter(infos.values()))


def run_case(name: str) -> dict[str, Any]:
    """Digest and final metrics of a case's two episodes."""
    view, policy_name, kwargs = CASES[name]
    env = make_env(view, kwargs)
    policy = make_policy(policy_name, seed=0)
    episode = _gym_episode if view == "gym" else _pz_episode
    digest = Digest()
    finals = []
    for seed in (SEED, None):
        info = episode(env, policy, digest, seed)
        finals.append({"gmv": float(info["gmv"]).hex(), "orders_served": info["orders_served"]})
    return {"digest": digest.hexdigest(), "final": finals}


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    return json.loads(DIGESTS.read_text())


def test_every_case_has_a_stored_digest(stored: dict[str, Any]) -> None:
    assert sorted(stored) == sorted(CASES)


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_is_bit_identical(
    name: str, kernels: str, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both simulator paths (numpy calls, numba kernels) reproduce the stored digests."""
    if kernels == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv(ENV_VAR, kernels)
    assert run_case(name) == stored[name]


@pytest.mark.parametrize(
    ("name", "gmv", "orr"),
    [
        ("rh1-reference-gym-greedy", 220_775.8, 0.370),
        ("rh2-reference-gym-greedy", 539_449.2, 0.236),
        ("rh1-reference-gym-nearest", 160_185.3, 0.375),
        ("rh2-reference-gym-nearest", 340_166.9, 0.238),
    ],
)
def test_table_7_figures_are_the_stored_ones(
    name: str, gmv: float, orr: float, stored: dict[str, Any]
) -> None:
    """The stored finals are the README's Table 7 rows (so the exact check above covers them)."""
    final = stored[name]["final"][0]
    assert float.fromhex(final["gmv"]) == pytest.approx(gmv, abs=1.0)
    preset = "ride-hailing-1" if name.startswith("rh1") else "ride-hailing-2"
    generated = {"ride-hailing-1": 27_599, "ride-hailing-2": 64_669}[preset]
    assert final["orders_served"] / generated == pytest.approx(orr, abs=0.001)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps({n: run_case(n) for n in sorted(CASES)}, indent=1) + "\n")
