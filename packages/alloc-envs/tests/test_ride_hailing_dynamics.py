"""Dynamics of the ride-hailing simulator: conservation laws, matching semantics, observation
columns, metrics, recorded demand and the reference simulator's sanity figures."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv, make_config
from alloc_envs.ride_hailing.demand import OrderStream, RecordedDemand, SyntheticDemand
from alloc_envs.ride_hailing.sim import split_drivers
from alloc_envs.ride_hailing.trips import TripTable

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


# ------------------------------------------------------------------ small random cities


@st.composite
def small_configs(draw, **fixed) -> dict:
    """Keyword overrides of a small random city (both action modes, both observation modes)."""
    low = draw(st.integers(0, 3))
    overrides = {
        "rows": draw(st.integers(1, 4)),
        "cols": draw(st.integers(1, 4)),
        "drivers_per_cell": draw(st.integers(0, 5)),
        "max_trip_steps": draw(st.integers(1, 3)),
        "episode_steps": draw(st.integers(3, 20)),
        "max_orders": draw(st.integers(1, 6)),
        "patience": draw(st.integers(0, 2)),
        "base_rate_low": low,
        "base_rate_high": draw(st.integers(low, low + 4)),
        "rate_noise": draw(st.integers(0, 2)),
        "demand_seed": draw(st.integers(0, 2**16)),
        "action_mode": draw(st.sampled_from(["dispatch", "reposition"])),
        "faithful": draw(st.booleans()),
        "reward_scale": draw(st.sampled_from([1.0, 50.0, 3.7])),
    }
    overrides.update(fixed)
    return overrides


def _make(overrides: dict) -> RideHailingEnv:
    return RideHailingEnv(None, **overrides)


def _pending_lists(sim) -> dict[int, list[int]]:
    """Pending order ids per cell, oldest first, from the sim's index."""
    out: dict[int, list[int]] = defaultdict(list)
    for oid in sim.pending.tolist():
        out[int(sim.orders.origin[oid])].append(oid)
    return out


# ------------------------------------------------------------------ an independent oracle


class Oracle:
    """A slow, loop-based re-implementation of the documented step semantics (module docstring
    of ``alloc_envs.ride_hailing.sim``), run next to the simulator on the same order stream."""

    def __init__(self, env: RideHailingEnv, rho_global: float = 0.0) -> None:
        self.cfg = env.config
        self.grid = env.scenario.grid
        self.sim = env.scenario.sim
        self.o = self.sim.orders
        self.g = self.cfg.n_cells
        self.t = 0
        self.idle = [self.cfg.drivers_per_cell] * self.g
        self.arrivals: dict[int, list[int]] = defaultdict(lambda: [0] * self.g)
        self.served = [False] * self.o.n_orders
        self.served_at: dict[int, int] = {}
        self.gmv = 0.0
        self.rho_global = rho_global

    # -- orders
    def pending(self, cell: int) -> list[int]:
        if self.t >= self.cfg.episode_steps:
            return []
        o = self.o
        return [
            i
            for i in range(o.n_orders)
            if o.origin[i] == cell
            and not self.served[i]
            and self.t - self.cfg.patience <= o.step[i] <= self.t
        ]

    def slots(self, cell: int) -> list[int]:
        k = self.cfg.max_orders
        visible = self.pending(cell)[:k]
        return [-1, *visible, *([-1] * (k - len(visible)))]

    def n_generated(self) -> int:
        """Orders created at the steps already matched (0..t-1)."""
        return int((self.o.step < min(self.t, self.cfg.episode_steps)).sum())

    # -- dynamics
    def step(self, action: np.ndarray) -> list[float]:
        cfg, o = self.cfg, self.o
        pending = [self.pending(c) for c in range(self.g)]
        self.rho_global = sum(self.idle) / max(1, sum(len(p) for p in pending))
        chosen: list[list[int]] = []
        for c in range(self.g):
            if cfg.action_mode == "dispatch":
                slots = self.slots(c)
                picked: list[int] = []
                for j in range(min(self.idle[c], cfg.max_orders)):
                    oid = slots[int(action[c, j])]
                    if oid >= 0 and oid not in picked:
                        picked.append(oid)
                chosen.append(picked)
            else:
                chosen.append(pending[c][: self.idle[c]])
        value = [0.0] * self.g
        for c, ids in enumerate(chosen):
            for oid in ids:
                assert not self.served[oid]
                self.served[oid] = True
                self.served_at[oid] = self.t
                self.idle[c] -= 1
                self.arrivals[self.t + int(o.duration[oid])][int(o.destination[oid])] += 1
                value[c] += float(o.price[oid])
        if cfg.action_mode == "reposition":
            shares = np.asarray(action, dtype=np.float64) * self.sim.move_mask
            moves = split_drivers(np.asarray(self.idle, dtype=np.int64), shares)
            for c in range(self.g):
                self.idle[c] = int(moves[c, 0])
                for d in range(1, 7):
                    if moves[c, d]:
                        target = int(self.grid.neighbors[c, d - 1])
                        assert target >= 0, "a driver was sent off the map"
                        self.arrivals[self.t + 1][target] += int(moves[c, d])
        self.gmv += sum(value)
        self.t += 1
        arriving = self.arrivals.pop(self.t, [0] * self.g)
        self.idle = [i + a for i, a in zip(self.idle, arriving, strict=True)]
        return value

    # -- observation
    def features(self) -> np.ndarray:
        cfg, o, lmax = self.cfg, self.o, self.cfg.max_trip_steps
        out = np.zeros((self.g, 5 + 3 * lmax))
        for c in range(self.g):
            pend = self.pending(c)
            rho = self.idle[c] / max(1, len(pend))
            out[c, :5] = [c, self.idle[c], len(pend), rho, abs(rho - self.rho_global)]
            price = out[c, 5 : 5 + lmax]
            length = out[c, 5 + lmax : 5 + 2 * lmax]
            ring = out[c, 5 + 2 * lmax :]
            for oid in pend:
                p = float(o.price[oid])
                bin_ = min(int(p // 15.0), lmax - 1)
                price[bin_] += lmax if (cfg.faithful and p >= 15.0 * lmax) else 1
                d = int(o.duration[oid])
                if cfg.faithful:
                    if d < lmax:
                        length[d] += 1
                else:
                    length[d - 1] += 1
                dist = int(self.grid.distances[c, o.destination[oid]])
                if dist >= 1:
                    ring[min(dist, lmax) - 1] += 1  # the last ring bin is open-ended
            if cfg.faithful and pend:
                price[0] += 1  # the STAY pseudo-order
                if lmax > 1:
                    length[1] += 1
        return out

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        k, o = self.cfg.max_orders, self.o
        counts = [len(self.pending(c)) for c in range(self.g)]
        drivers = np.asarray(self.idle) + 1e-5
        demand = np.asarray(counts) + 1e-5
        ratio = np.minimum(drivers, demand) / np.maximum(drivers, demand)
        feats = np.zeros((self.g, k + 1, 9))
        mask = np.zeros((self.g, k + 1), dtype=np.int8)
        for c in range(self.g):
            feats[c, 0] = [c, c, 0, 1, 0, 0, 0, 0, 0]
            mask[c, 0] = 1
            for j, oid in enumerate(self.slots(c)):
                if j == 0 or oid < 0:
                    continue
                dst = int(o.destination[oid])
                feats[c, j] = [
                    c,
                    dst,
                    o.price[oid],
                    o.duration[oid],
                    -1,
                    ratio[dst] - ratio[c],
                    self.idle[dst] - self.idle[c],
                    counts[dst] - counts[c],
                    self.t - o.step[oid],
                ]
                mask[c, j] = 1
        return feats, mask

    def check_observation(self, obs: dict[str, np.ndarray]) -> None:
        np.testing.assert_allclose(obs["observation"], self.features(), rtol=1e-6, atol=1e-6)
        if self.cfg.action_mode == "dispatch":
            feats, mask = self.candidates()
            np.testing.assert_array_equal(obs["candidate_mask"], mask)
            np.testing.assert_allclose(obs["candidates"], feats, rtol=1e-5, atol=1e-5)
        else:
            expected = np.concatenate(
                [np.ones((self.g, 1)), self.grid.neighbors >= 0], axis=1
            ).astype(np.int8)
            np.testing.assert_array_equal(obs["move_mask"], expected)


@PROPERTY_SETTINGS
@given(overrides=small_configs(), seed=st.integers(0, 2**16), action_seed=st.integers(0, 2**16))
def test_simulator_matches_the_oracle(overrides: dict, seed: int, action_seed: int, rh) -> None:
    env = _make(overrides)
    obs, info = env.reset(seed=seed)
    oracle = Oracle(env)
    oracle.check_observation(obs)
    rng = np.random.default_rng(action_seed)
    scale = env.config.reward_scale
    for _ in range(env.config.episode_steps):
        action = rh.random_joint_action(rng, obs)
        obs, reward, terminated, truncated, info = env.step(action)
        value = oracle.step(action)
        assert reward == pytest.approx(sum(value) / scale, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(info["agent_rewards"] * scale, value, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(env.scenario.sim.idle, oracle.idle)
        np.testing.assert_array_equal(env.scenario.sim.served, oracle.served)
        assert info["orders_served"] == sum(oracle.served)
        assert info["orders_generated"] == oracle.n_generated()
        assert info["gmv"] == pytest.approx(oracle.gmv, rel=1e-12, abs=1e-9)
        oracle.check_observation(obs)
        p = np.asarray(env.scenario.sim.pending_count, dtype=float) + 1.0
        q = np.asarray(oracle.idle, dtype=float) + 1.0
        p, q = p / p.sum(), q / q.sum()
        assert info["kl_orders_idle"] == pytest.approx(float(np.sum(p * np.log(p / q))))
    assert truncated and not terminated


# ------------------------------------------------------------------ conservation laws


@PROPERTY_SETTINGS
@given(overrides=small_configs(), seed=st.integers(0, 2**16), action_seed=st.integers(0, 2**16))
def test_conservation_and_matching_laws(overrides: dict, seed: int, action_seed: int, rh) -> None:
    env = _make(overrides)
    cfg = env.config
    sim = env.scenario.sim
    obs, _ = env.reset(seed=seed)
    orders = sim.orders
    rng = np.random.default_rng(action_seed)
    expected_arrivals: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(cfg.n_cells, int))
    served_step = np.full(orders.n_orders, -1)
    total_reward = 0.0
    assert sim.idle.sum() == cfg.n_drivers and sim.in_service == 0
    for _ in range(cfg.episode_steps):
        t = sim.t
        idle_before = sim.idle.copy()
        pending_before = _pending_lists(sim)
        slots_before = sim.slots.copy()
        served_before = sim.served.copy()
        action = rh.random_joint_action(rng, obs)
        obs, reward, _, _, info = env.step(action)
        total_reward += reward
        new = np.flatnonzero(sim.served & ~served_before)
        assert not (served_before & ~sim.served).any(), "an order was un-served"
        served_step[new] = t
        per_cell = np.bincount(orders.origin[new], minlength=cfg.n_cells)
        # only pending orders (created within `patience` steps, not yet served) are served ...
        for oid in new:
            assert t - cfg.patience <= orders.step[oid] <= t
            assert oid in pending_before[int(orders.origin[oid])]
        # ... and by a driver idle in the order's own cell before the step
        assert (per_cell <= idle_before).all()
        for c in range(cfg.n_cells):
            served_here = sorted(new[orders.origin[new] == c].tolist())
            if cfg.action_mode == "dispatch":
                n_read = min(int(idle_before[c]), cfg.max_orders)
                picked = {int(slots_before[c, p]) for p in action[c, :n_read]}
                assert served_here == sorted(picked - {-1})
            else:  # oldest first, as many as there are idle drivers
                assert served_here == pending_before[c][: idle_before[c]]
        for oid in new:
            expected_arrivals[t + int(orders.duration[oid])][int(orders.destination[oid])] += 1
        # drivers: idle + in service is constant, and idle counts follow the arrivals
        assert sim.idle.sum() + sim.in_service == cfg.n_drivers
        if cfg.action_mode == "dispatch":
            np.testing.assert_array_equal(
                sim.idle, idle_before - per_cell + expected_arrivals.pop(t + 1, 0)
            )
        assert (sim.idle >= 0).all()
        # metrics
        assert info["orders_served"] == int(sim.served.sum()) <= info["orders_generated"]
        generated = info["orders_generated"]
        assert info["orr"] == (info["orders_served"] / generated if generated else 0.0)
        assert info["gmv"] == pytest.approx(orders.price[sim.served].sum(), rel=1e-12, abs=1e-9)
    assert sim.done
    assert info["orders_generated"] == orders.n_orders
    assert info["gmv"] == pytest.approx(total_reward * cfg.reward_scale, rel=1e-9, abs=1e-9)
    # every order was served at most once, and only in its patience window
    was_served = served_step >= 0
    assert was_served.sum() == sim.served.sum()
    assert (served_step[was_served] - orders.step[was_served] <= cfg.patience).all()


def _hand_env(**overrides) -> RideHailingEnv:
    base = {
        "rows": 1,
        "cols": 4,
        "drivers_per_cell": 1,
        "max_trip_steps": 3,
        "episode_steps": 8,
        "max_orders": 3,
        "patience": 1,
    }
    base.update(overrides)
    env = RideHailingEnv(None, **base)
    env.reset(seed=0)
    return env


def _stream(env: RideHailingEnv, rows: list[tuple[int, int, int, int, float]]) -> OrderStream:
    """An OrderStream from (step, origin, destination, duration, price) rows."""
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    step, origin, dest, dur, price = (np.asarray(c) for c in cols)
    return OrderStream.from_unsorted(
        env.config.episode_steps,
        step.astype(np.int64),
        origin.astype(np.int64),
        dest.astype(np.int64),
        dur.astype(np.int64),
        price.astype(np.float64),
    )


def _serve_all(env: RideHailingEnv) -> np.ndarray:
    cfg = env.config
    if cfg.action_mode == "dispatch":
        return np.tile(np.arange(1, cfg.max_orders + 1), (cfg.n_cells, 1))
    return np.zeros((cfg.n_cells, 7), dtype=np.float32)


@settings(max_examples=30, deadline=None)
@given(
    start=st.integers(0, 3),
    duration=st.integers(1, 3),
    origin=st.integers(0, 3),
    destination=st.integers(0, 3),
    mode=st.sampled_from(["dispatch", "reposition"]),
)
def test_served_driver_reappears_at_the_destination_after_its_duration(
    start: int, duration: int, origin: int, destination: int, mode: str
) -> None:
    env = _hand_env(action_mode=mode)
    sim = env.scenario.sim
    sim.reset(_stream(env, [(start, origin, destination, duration, 12.5)]))
    action = _serve_all(env)
    for t in range(env.config.episode_steps):
        expected = np.ones(4, dtype=np.int64)
        if start < t + 1 <= start + duration - 1:  # on the trip (after the step of step t)
            expected[origin] -= 1
        elif t + 1 >= start + duration:  # arrived
            expected[origin] -= 1
            expected[destination] += 1
        _, reward, *_ = env.step(action)
        assert reward == (12.5 / env.config.reward_scale if t == start else 0.0)
        np.testing.assert_array_equal(sim.idle, expected, err_msg=f"after step {t}")
        assert sim.in_service == int(start < t + 1 < start + duration)


@pytest.mark.parametrize("patience", [0, 1, 2])
def test_orders_expire_after_patience(patience: int) -> None:
    """Cell 0's only driver serves A at step 0 (a 2-step trip back to cell 0); B waits."""
    env = _hand_env(patience=patience)
    sim = env.scenario.sim
    sim.reset(_stream(env, [(0, 0, 0, 2, 10.0), (0, 0, 1, 1, 20.0)]))
    action = _serve_all(env)
    visible_b = []
    for _ in range(4):
        b_pending = 1 in sim.pending.tolist()
        visible_b.append(b_pending)
        feats, _ = sim.candidates()
        if b_pending and sim.t > 0:
            assert feats[0, 1, 8] == sim.t  # its age
        env.step(action)
    assert sim.served[0]
    # B is visible at steps 0 .. patience; the driver is back at step 2
    assert visible_b == [t <= patience for t in range(4)]
    assert sim.served[1] == (patience >= 2)


def test_dispatch_reads_one_pick_per_idle_driver() -> None:
    env = _hand_env(drivers_per_cell=2, max_orders=4)
    sim = env.scenario.sim
    rows = [(0, 0, 1, 1, 10.0 + i) for i in range(4)]
    sim.reset(_stream(env, rows))
    picks = np.zeros((4, 4), dtype=np.int64)
    picks[0] = [3, 3, 1, 2]  # two idle drivers: picks 3 (twice) then 1, 2 are not read
    _, reward, *_ = env.step(picks)
    assert sim.served.tolist() == [False, False, True, False]
    assert sim.idle[0] == 1  # the second pick repeated an order: that driver stays
    assert reward * env.config.reward_scale == pytest.approx(12.0)
    picks[0] = [0, 2, 1, 1]  # one idle driver left: STAY, nothing else is read
    env.step(picks)
    assert sim.served.sum() == 1


def test_empty_and_stay_picks_leave_drivers_idle() -> None:
    env = _hand_env(drivers_per_cell=3, max_orders=3)
    sim = env.scenario.sim
    sim.reset(_stream(env, [(0, 0, 1, 1, 10.0)]))
    picks = np.zeros((4, 3), dtype=np.int64)
    picks[0] = [3, 2, 0]  # empty slots and STAY
    env.step(picks)
    assert not sim.served.any()
    np.testing.assert_array_equal(sim.idle, [3, 3, 3, 3])


# ------------------------------------------------------------------ reposition


def test_reposition_matches_oldest_first_within_a_cell() -> None:
    env = _hand_env(action_mode="reposition", cols=2, patience=2)
    sim = env.scenario.sim
    rows = [
        (0, 0, 0, 1, 11.0),  # A: oldest, served at step 0, driver back in cell 0 at step 1
        (0, 0, 1, 1, 12.0),  # B: same step, drawn later
        (1, 0, 1, 1, 13.0),  # C: newer
        (1, 1, 0, 1, 14.0),  # D: cell 1
    ]
    sim.reset(_stream(env, rows))
    stay = np.zeros((2, 7), dtype=np.float32)
    env.step(stay)
    assert sim.served.tolist() == [True, False, False, False]
    env.step(stay)
    assert sim.served.tolist() == [True, True, False, True]


def test_reposition_moves_still_idle_drivers_one_step_later() -> None:
    env = _hand_env(action_mode="reposition", rows=2, cols=2, drivers_per_cell=3)
    sim = env.scenario.sim
    grid = env.scenario.grid
    sim.reset(_stream(env, [(0, 0, 3, 2, 10.0)]))  # one order in cell 0, a 2-step trip
    direction = int(np.flatnonzero(grid.neighbors[0] >= 0)[0])
    target = int(grid.neighbors[0, direction])
    shares = np.zeros((4, 7), dtype=np.float32)
    shares[0, 1 + direction] = 1.0  # cell 0 sends its idle drivers to `target`
    obs, *_ = env.step(shares)
    expected = np.full(4, 3)
    expected[0] = 0
    expected[target] += 2  # 3 drivers - 1 served, moved; they are idle at the next step
    np.testing.assert_array_equal(sim.idle, expected)
    np.testing.assert_array_equal(obs["observation"][:, 1], expected)
    assert sim.in_service == 1
    # a weight on a missing neighbour is ignored (masked): the drivers stay
    missing = np.flatnonzero(grid.neighbors[3] < 0)
    shares = np.zeros((4, 7), dtype=np.float32)
    shares[3, 1 + missing] = 1.0
    env.step(shares)
    expected[3] += 1  # the trip of step 0 ends in cell 3 at step 2
    np.testing.assert_array_equal(sim.idle, expected)
    assert sim.idle.sum() == 12


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_split_drivers_conserves_drivers_and_respects_weights(data) -> None:
    g = data.draw(st.integers(1, 6))
    d = data.draw(st.integers(1, 7))
    idle = np.asarray(data.draw(st.lists(st.integers(0, 60), min_size=g, max_size=g)))
    weight = st.one_of(st.just(0.0), st.floats(0.0, 1.0), st.sampled_from([0.1, 0.2, 1 / 3]))
    shares = np.asarray(
        data.draw(st.lists(st.lists(weight, min_size=d, max_size=d), min_size=g, max_size=g)),
        dtype=np.float64,
    )
    out = split_drivers(idle, shares)
    assert out.shape == (g, d)
    assert np.issubdtype(out.dtype, np.integer)
    assert (out >= 0).all()
    np.testing.assert_array_equal(out.sum(axis=1), idle)
    total = shares.sum(axis=1)
    for i in range(g):
        if total[i] > 0:
            assert (out[i][shares[i] == 0] == 0).all(), (idle[i], shares[i], out[i])
            exact = idle[i] * shares[i] / total[i]
            # largest remainders: every count is the floor or the ceiling of its exact share
            assert (np.abs(out[i] - exact) < 1 + 1e-9).all()
        else:
            assert out[i, 0] == idle[i]


def test_split_drivers_examples() -> None:
    split = split_drivers(
        np.array([3, 1, 5, 0, 4]),
        np.array(
            [
                [0.0, 0.5, 0.5],  # 1.5 / 1.5: the tie goes to the lower column
                [0.5, 0.5, 0.0],
                [0.0, 0.0, 0.0],  # all zero: everyone stays (column 0)
                [1.0, 1.0, 1.0],
                [0.2, 0.2, 0.6],  # 0.8, 0.8, 2.4: floors 0, 0, 2, two left over
            ]
        ),
    )
    np.testing.assert_array_equal(split, [[0, 2, 1], [1, 0, 0], [5, 0, 0], [0, 0, 0], [1, 1, 2]])


# ------------------------------------------------------------------ rewards and metrics


def test_gmv_orr_and_rewards_over_a_preset_episode(rh) -> None:
    for mode in ("dispatch", "reposition"):
        env = RideHailingEnv("ride-hailing-1", action_mode=mode, reward_scale=7.0)
        trajectory = rh.gym_episode(env, seed=8, action_seed=8)
        sim = env.scenario.sim
        info = trajectory[-1][-1]
        rewards = sum(step[2] for step in trajectory[1:])
        served_value = float(sim.orders.price[sim.served].sum())
        assert info["gmv"] == pytest.approx(served_value, rel=1e-12)
        assert info["gmv"] == pytest.approx(7.0 * rewards, rel=1e-12)
        assert info["orders_served"] == int(sim.served.sum())
        assert info["orders_generated"] == sim.orders.n_orders
        assert info["orr"] == info["orders_served"] / info["orders_generated"]
        assert 0.0 < info["orr"] < 1.0


def test_parallel_rewards_sum_to_the_cells_served_prices(rh) -> None:
    env = RideHailingParallelEnv("ride-hailing-1", reward_scale=2.0)
    trajectory = rh.parallel_episode(env, seed=0, action_seed=0)
    total = sum(sum(step[2].values()) for step in trajectory[1:])
    sim = env.scenario.sim
    assert total * 2.0 == pytest.approx(float(sim.orders.price[sim.served].sum()), rel=1e-12)


# ------------------------------------------------------------------ observation columns


@settings(max_examples=40, deadline=None)
@given(overrides=small_configs(faithful=False, action_mode="dispatch"), seed=st.integers(0, 999))
def test_fixed_mode_histograms_count_each_pending_order_once(overrides: dict, seed: int, rh):
    env = _make(overrides)
    obs, _ = env.reset(seed=seed)
    lmax = env.config.max_trip_steps
    sim = env.scenario.sim
    rng = np.random.default_rng(seed)
    for _ in range(env.config.episode_steps):
        x = obs["observation"]
        np.testing.assert_array_equal(x[:, 0], np.arange(env.config.n_cells))
        np.testing.assert_array_equal(x[:, 1], sim.idle)
        pending = np.bincount(sim.orders.origin[sim.pending], minlength=env.config.n_cells)
        np.testing.assert_array_equal(x[:, 2], pending)
        np.testing.assert_allclose(x[:, 3], sim.idle / np.maximum(1, pending), rtol=1e-6)
        np.testing.assert_array_equal(x[:, 5 : 5 + lmax].sum(axis=1), pending)
        np.testing.assert_array_equal(x[:, 5 + lmax : 5 + 2 * lmax].sum(axis=1), pending)
        if env.config.n_cells > 1:  # one-cell cities have round trips, at distance 0
            np.testing.assert_array_equal(x[:, 5 + 2 * lmax :].sum(axis=1), pending)
        obs, *_ = env.step(rh.random_joint_action(rng, obs))


def test_first_observation_of_fixed_mode_has_rho_global_zero(rh) -> None:
    env = RideHailingEnv("ride-hailing-1")
    rh.gym_episode(env, seed=0, action_seed=0)
    obs, _ = env.reset(seed=1)
    x = obs["observation"]
    np.testing.assert_array_equal(x[:, 4], x[:, 3])


@pytest.mark.parametrize("faithful", [False, True])
def test_histogram_quirks_of_faithful_mode(faithful: bool) -> None:
    """Research note §2.13: one order at price 50 (5.0 in the reference's unit) with l_max = 3
    gives the price histogram [1, 0, 3] in the reference (STAY in bin 0, the order 3 times)."""
    env = _hand_env(faithful=faithful, cols=4)
    sim = env.scenario.sim
    grid = env.scenario.grid
    far = int(np.flatnonzero(grid.distances[0] == 2)[0])
    rows = [
        (0, 0, far, 3, 50.0),  # >= 15 * 3: last price bin, length 3, ring 2
        (0, 0, 1, 1, 20.0),  # price bin 1, length 1, ring 1
        (0, 0, 1, 2, 44.9),  # last bin once, length 2, ring 1
        (0, 2, 1, 1, 3.0),  # cell 2: price bin 0, length 1, ring 1
    ]
    sim.reset(_stream(env, rows))
    x = env.scenario.observe()["observation"]
    price, length, ring = x[:, 5:8], x[:, 8:11], x[:, 11:14]
    if faithful:
        np.testing.assert_array_equal(price[0], [1, 1, 3 + 1])
        np.testing.assert_array_equal(length[0], [0, 1 + 1, 1])  # bins are lengths 0, 1, 2
        np.testing.assert_array_equal(price[2], [1 + 1, 0, 0])
        np.testing.assert_array_equal(length[2], [0, 1 + 1, 0])
    else:
        np.testing.assert_array_equal(price[0], [0, 1, 2])
        np.testing.assert_array_equal(length[0], [1, 1, 1])
        np.testing.assert_array_equal(price[2], [1, 0, 0])
        np.testing.assert_array_equal(length[2], [1, 0, 0])
    np.testing.assert_array_equal(ring[0], [2, 1, 0])
    np.testing.assert_array_equal(ring[2], [1, 0, 0])
    # cells without pending orders show zeros, STAY included
    for cell in (1, 3):
        np.testing.assert_array_equal(x[cell, 2:3], 0)
        np.testing.assert_array_equal(x[cell, 5:], 0)


# ------------------------------------------------------------------ synthetic demand


def test_reference_base_rates_of_the_36_cell_city() -> None:
    """Research note §2.4: the base vector of ``np.random.seed(0); randint(2, 10, 36)``."""
    cfg = make_config("ride-hailing-1")
    demand = SyntheticDemand(cfg, HexGrid(6, 6))
    expected = [6, 9, 7, 2, 5, 5, 5, 9, 3, 5, 7, 4, 6, 9, 8, 2, 2, 6]
    expected += [4, 3, 8, 9, 9, 8, 2, 3, 7, 3, 7, 2, 3, 6, 5, 2, 5, 7]
    assert demand.base_rates.tolist() == expected
    assert demand.rates.shape == (144, 36)
    assert (demand.rates >= 0).all()


@settings(max_examples=25, deadline=None)
@given(overrides=small_configs(), seed=st.integers(0, 2**16))
def test_synthetic_orders_follow_the_trip_rules(overrides: dict, seed: int) -> None:
    env = _make(overrides)
    env.reset(seed=seed)
    cfg, o = env.config, env.scenario.sim.orders
    d = env.scenario.grid.distances[o.origin, o.destination]
    assert ((o.duration >= 1) & (o.duration <= cfg.max_trip_steps)).all()
    if cfg.n_cells > 1:
        assert ((d >= 1) & (d <= o.duration)).all()
    else:
        assert (o.destination == o.origin).all()
    assert (o.price > 0).all()
    assert ((o.step >= 0) & (o.step < cfg.episode_steps)).all()
    assert (np.diff(o.step) >= 0).all()
    np.testing.assert_array_equal(
        o.step_start, np.searchsorted(o.step, np.arange(len(o.step_start)))
    )


# ------------------------------------------------------------------ recorded demand


def _trips(n_cells: int = 4, **columns) -> TripTable:
    base = {
        "day": [0, 0, 0, 1, 1],
        "step": [0, 2, 1, 0, 9],
        "origin": [1, 0, 0, 2, 3],
        "destination": [0, 1, 1, 3, 2],
        "duration": [1, 2, 1, 1, 1],
        "price": [10.0, 20.0, 30.0, 40.0, 50.0],
    }
    base.update(columns)
    return TripTable(n_cells=n_cells, n_steps=12, day_labels=("2016-11-01", "2016-11-02"), **base)


def _recorded_env(trips: TripTable, **overrides) -> RideHailingEnv:
    cfg = {"rows": 1, "cols": 4, "max_trip_steps": 2, "episode_steps": 6}
    cfg.update(overrides)
    return RideHailingEnv(None, trips=trips, **cfg)


def test_recorded_demand_replays_day_zero_in_reference_mode() -> None:
    env = _recorded_env(_trips(), demand="reference")
    for seed in (0, 1, 2, 3):
        env.reset(seed=seed)
        o = env.scenario.sim.orders
        assert o.step.tolist() == [0, 1, 2]  # sorted by (step, origin, row)
        assert o.origin.tolist() == [1, 0, 0]
        assert o.price.tolist() == [10.0, 30.0, 20.0]
        assert o.duration.tolist() == [1, 1, 2]


def test_recorded_demand_draws_days_with_the_episode_generator() -> None:
    env = _recorded_env(_trips())
    seen = set()
    for seed in range(20):
        env.reset(seed=seed)
        o = env.scenario.sim.orders
        seen.add(tuple(o.price.tolist()))
        env.reset(seed=seed)
        assert tuple(env.scenario.sim.orders.price.tolist()) in seen
    # day 1's trip at step 9 is past the 6-step episode and left out
    assert seen == {(10.0, 30.0, 20.0), (40.0,)}


def test_recorded_demand_rejects_mismatched_tables() -> None:
    with pytest.raises(ValueError, match="cells"):
        _recorded_env(_trips(), rows=2, cols=3)
    with pytest.raises(ValueError, match="max_trip_steps"):
        _recorded_env(_trips(duration=[1, 3, 1, 1, 1]))
    cfg = make_config("ride-hailing-1", rows=1, cols=4, max_trip_steps=2)
    assert RecordedDemand(cfg, _trips()).trips.n_days == 2


def _one_trip_env(origin: int, destination: int, price: float, **overrides) -> RideHailingEnv:
    cfg = {"rows": 1, "cols": 6, "max_trip_steps": 1}
    cfg.update(overrides)
    trips = TripTable(
        day=[0],
        step=[0],
        origin=[origin],
        destination=[destination],
        duration=[1],
        price=[price],
        n_cells=cfg["rows"] * cfg["cols"],
        n_steps=144,
        day_labels=("2016-11-01",),
    )
    return RideHailingEnv(None, trips=trips, **cfg)


@pytest.mark.parametrize(("origin", "destination"), [(0, 5), (5, 0), (1, 4)])
def test_recorded_trip_beyond_the_ring_histogram_does_not_leak_or_crash(
    origin: int, destination: int
) -> None:
    """A recorded trip's destination may lie farther than ``max_trip_steps`` rings (its duration
    is a time, not a distance; TripTable and RecordedDemand accept it). Reset must not fail, and
    the trip must not be counted in another cell's ring histogram: it goes to the origin's last,
    open-ended ring bin."""
    env = _one_trip_env(origin, destination, 20.0)  # 1x6 city, one ring: cells 3+ rings apart
    obs, _ = env.reset(seed=0)
    x = obs["observation"]
    others = np.arange(6) != origin
    np.testing.assert_array_equal(x[others, 5:], 0)  # cells without orders count nothing
    assert x[origin, 2] == 1
    assert x[origin, 7] == 1


@pytest.mark.parametrize("origin", [2, 0])
def test_recorded_negative_price_is_rejected(origin: int) -> None:
    """TripTable accepts any finite price (refunds are negative in the NYC TLC data), but an
    order cannot be worth less than nothing: the environment refuses such trips by name."""
    with pytest.raises(ValueError, match="non-negative"):
        _one_trip_env(origin, origin + 1, -5.0, max_trip_steps=3)


@pytest.mark.parametrize("origin", [2, 0])
def test_recorded_zero_price_counts_once_in_its_own_cell(origin: int) -> None:
    env = _one_trip_env(origin, origin + 1, 0.0, max_trip_steps=3)
    obs, _ = env.reset(seed=0)
    x = obs["observation"]
    np.testing.assert_array_equal(x[:, 5:8].sum(axis=1), x[:, 2])  # one order, one count
    assert x[origin, 2] == 1


# ------------------------------------------------------------------ reference sanity figures


def _greedy(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Highest price first, ties by slot (arrival) order, then STAY (the paper's Greedy)."""
    mask = obs["candidate_mask"][:, 1:] > 0
    price = obs["candidates"][:, 1:, 2]
    ranking = np.argsort(np.where(mask, -price, np.inf), axis=1, kind="stable")
    k = mask.shape[1]
    return np.where(np.arange(k) < mask.sum(axis=1, keepdims=True), ranking + 1, 0)


def _nearest(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Oldest pending order first (every pickup is in the driver's own cell)."""
    mask = obs["candidate_mask"][:, 1:] > 0
    k = mask.shape[1]
    return np.where(np.arange(k) < mask.sum(axis=1, keepdims=True), np.arange(1, k + 1), 0)


def _reference_run(preset: str, policy) -> dict:
    env = RideHailingEnv(preset, demand="reference")
    obs, _ = env.reset(seed=123)
    while True:
        obs, _, _, truncated, info = env.step(policy(obs))
        if truncated:
            return info


def test_reference_greedy_ride_hailing_1() -> None:
    info = _reference_run("ride-hailing-1", _greedy)
    assert info["gmv"] == pytest.approx(220_775.8, abs=1.0)
    assert info["orr"] == pytest.approx(0.370, abs=0.001)
    assert info["orders_generated"] == 27_599


def test_reference_nearest_ride_hailing_1() -> None:
    info = _reference_run("ride-hailing-1", _nearest)
    assert info["gmv"] == pytest.approx(160_185.3, abs=1.0)


def test_reference_greedy_ride_hailing_2() -> None:
    info = _reference_run("ride-hailing-2", _greedy)
    assert info["gmv"] == pytest.approx(539_449.2, abs=1.0)
    assert info["orders_generated"] == 64_669


def test_reference_figures_do_not_depend_on_the_seed_or_the_view() -> None:
    a = _reference_run("ride-hailing-1", _greedy)
    env = RideHailingParallelEnv("ride-hailing-1", demand="reference")
    obs, _ = env.reset(seed=7)
    agents = env.possible_agents
    while env.agents:
        joint = {k: np.stack([obs[x][k] for x in agents]) for k in obs[agents[0]]}
        picks = _greedy(joint)
        obs, _, _, _, infos = env.step({x: picks[i] for i, x in enumerate(agents)})
    assert infos["cell_0"]["gmv"] == a["gmv"]
    assert infos["cell_0"]["orr"] == a["orr"]
