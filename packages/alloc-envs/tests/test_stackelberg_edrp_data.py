"""EDRP cities: the synthetic Manhattan-like city, EDRPCity validation and .npz round trips,
and the NYC TLC loader with a zone-adjacency file, on files the tests write."""

from __future__ import annotations

import csv
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from alloc_envs.edrp import EDRPCity, EDRPConfig, EDRPLeaderEnv, make_game, synthetic_city
from alloc_envs.edrp.synthetic import MIDTOWN
from alloc_envs.edrp.tlc import load_tlc_city, read_zone_adjacency

YELLOW = [
    "VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count",
    "trip_distance", "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID",
    "payment_type", "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount",
    "improvement_surcharge", "total_amount", "congestion_surcharge", "Airport_fee",
]  # fmt: skip


def connected(neighbors: np.ndarray) -> bool:
    seen, queue = {0}, deque([0])
    while queue:
        for nb in neighbors[queue.popleft()]:
            if nb >= 0 and int(nb) not in seen:
                seen.add(int(nb))
                queue.append(int(nb))
    return len(seen) == neighbors.shape[0]


def test_the_synthetic_city_is_manhattan_like_with_moving_hot_spots() -> None:
    config = EDRPConfig()
    city = synthetic_city(config)
    assert city.n_zones == 63 and city.horizon == 36
    degree = (city.neighbors >= 0).sum(axis=1)
    assert degree.min() >= 2 and degree.max() == 6 and connected(city.neighbors)
    assert (city.adjacency == city.adjacency.T).all()
    assert city.demand.sum(axis=1).mean() == pytest.approx(config.demand_per_driver)
    assert (city.demand > 0).all() and (city.fares > config.base_fare).all()
    assert city.trip_steps.max() == config.max_trip_steps
    np.testing.assert_allclose(city.destinations.sum(axis=2), 1.0)
    # the busiest origin row moves south (down the island) through the day
    position = (np.arange(63) // config.cols) / (config.rows - 1)
    centre = (city.demand * position).sum(axis=1) / city.demand.sum(axis=1)
    assert centre[0] < MIDTOWN < centre[-1]
    assert (np.diff(centre) > -1e-9).all()
    # and rush hours have more orders than midday
    volume = city.demand.sum(axis=1)
    assert volume[4] > volume[15] < volume[33]
    assert synthetic_city(config.replace(city_seed=1)).demand.tolist() != city.demand.tolist()


def test_cities_round_trip_through_npz_and_reject_other_files(tmp_path: Path) -> None:
    city = synthetic_city(EDRPConfig(rows=3, cols=2, horizon=4))
    path = tmp_path / "city.npz"
    city.save(path)
    loaded = EDRPCity.load(path)
    for name in ("zone_ids", "neighbors", "demand", "destinations", "fares", "trip_steps"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(city, name))
    assert (loaded.slot_minutes, loaded.start_minute) == (city.slot_minutes, city.start_minute)
    env = EDRPLeaderEnv(city=str(path))
    assert env.game.n_zones == 6 and env.game.horizon == 4
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not an EDRPCity"):
        EDRPCity.load(tmp_path / "array.npy")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="missing"):
        EDRPCity.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="city must be"):
        make_game("edrp-small", city=42)


def test_city_validation_names_the_bad_field() -> None:
    city = synthetic_city(EDRPConfig(rows=2, cols=2, horizon=3))
    fields = {name: getattr(city, name) for name in city.__dataclass_fields__}

    def bad(message: str, **changes) -> None:
        with pytest.raises(ValueError, match=message):
            EDRPCity(**{**fields, **changes})

    asymmetric = city.neighbors.copy()
    asymmetric[0] = [1, -1, -1, -1, -1, -1]
    bad("not symmetric", neighbors=asymmetric)
    bad("padding", neighbors=np.where(city.neighbors >= 0, city.neighbors, -1)[:, ::-1])
    bad("demand must be non-negative", demand=-city.demand)
    bad("destinations rows", destinations=city.destinations * 2)
    bad("fares must be positive", fares=0 * city.fares)
    bad("trip_steps must be >= 1", trip_steps=0 * city.trip_steps)
    bad(r"demand must have shape \(3, 4\)", demand=city.demand[:, :2])
    bad("zone_ids must be distinct", zone_ids=np.zeros(4, dtype=int))
    bad("slot_minutes", slot_minutes=0.0)
    bad("finite", fares=np.full_like(city.fares, np.nan))


# ------------------------------------------------------------------ NYC TLC


ZONES = (4, 12, 13, 24)  # a path 4 - 12 - 13 - 24 plus 4 - 13


def write_adjacency(path: Path, rows: list[tuple], header=("LocationID", "NeighborID")) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def trip(pickup: str, minutes: float, pu: int, do: int, fare: float) -> dict[str, str]:
    start = np.datetime64(pickup)
    stop = start + np.timedelta64(int(minutes * 60), "s")
    row = dict.fromkeys(YELLOW, "1")
    row.update(
        tpep_pickup_datetime=str(start).replace("T", " "),
        tpep_dropoff_datetime=str(stop).replace("T", " "),
        PULocationID=str(pu),
        DOLocationID=str(do),
        fare_amount=str(fare),
    )
    return row


def write_trips(path: Path, trips: list[dict[str, str]], columns=YELLOW) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(trips)
    return path


@pytest.fixture
def tlc_files(tmp_path: Path) -> tuple[Path, Path]:
    adjacency = write_adjacency(
        tmp_path / "adjacency.csv", [(4, 12), (12, 13), (13, 24), (13, 4), (12, 4)]
    )
    trips = [
        # day 1, slot 0 (7:00-7:20): 2 from zone 4, 1 from 12; slot 1: 1 from 24
        trip("2023-01-02T07:01:00", 9, 4, 12, 10.0),
        trip("2023-01-02T07:05:00", 25, 4, 24, 30.0),  # 25 minutes: 2 slots
        trip("2023-01-02T07:10:00", 5, 12, 12, 6.0),
        trip("2023-01-02T07:30:00", 12, 24, 4, 14.0),
        # day 2, slot 0: 2 from zone 4
        trip("2023-01-03T07:02:00", 8, 4, 13, 8.0),
        trip("2023-01-03T07:03:00", 7, 4, 12, 9.0),
        # dropped: outside the zone set, unknown zone, bad fare, too long, outside the window
        trip("2023-01-02T07:04:00", 9, 4, 140, 10.0),
        trip("2023-01-02T07:04:00", 9, 264, 4, 10.0),
        trip("2023-01-02T07:04:00", 9, 4, 12, -3.0),
        trip("2023-01-02T07:04:00", 70, 4, 12, 40.0),
        trip("2023-01-02T09:00:00", 9, 4, 12, 10.0),
    ]
    return write_trips(tmp_path / "yellow.csv", trips), adjacency


def test_adjacency_files_are_read_and_symmetrised(tlc_files) -> None:
    zone_ids, neighbors = read_zone_adjacency(tlc_files[1])
    assert zone_ids.tolist() == list(ZONES)
    as_ids = [sorted(int(zone_ids[n]) for n in row if n >= 0) for row in neighbors]
    assert as_ids == [[12, 13], [4, 13], [4, 12, 24], [13]]


def test_tlc_city_tensors_from_generated_trip_records(tlc_files) -> None:
    trips_path, adjacency = tlc_files
    city = load_tlc_city(trips_path, adjacency, horizon=3, demand_per_driver=0.5, smoothing=0.5)
    assert city.zone_ids.tolist() == list(ZONES)
    assert city.demand.shape == (3, 4) and city.destinations.shape == (3, 4, 4)
    assert city.fares.shape == (3, 4) and city.trip_steps.shape == (4, 4)
    # per-day order counts: slot 0: zone 4 -> (2 + 2) / 2 days, zone 12 -> 1 / 2; slot 1: 24 -> 1/2
    counts = np.zeros((3, 4))
    counts[0, 0], counts[0, 1], counts[1, 3] = 2.0, 0.5, 0.5
    np.testing.assert_allclose(city.demand, counts * 0.5 / (counts.sum() / 3))
    assert city.demand.sum(axis=1).mean() == pytest.approx(0.5)
    np.testing.assert_allclose(city.destinations.sum(axis=2), 1.0)
    assert city.destinations[0, 0].argmax() == 1  # zone 4's trips mostly go to zone 12
    # the driver's takings: fare_amount + extra ($1) + tip_amount ($1); taxes and fees are not
    assert city.fares[0, 0] == pytest.approx((12 + 32 + 10 + 11 + 0.5 * 16.25) / 4.5)
    metered = load_tlc_city(
        trips_path, adjacency, horizon=3, demand_per_driver=0.5, smoothing=0.5, fare_additions=()
    )
    assert metered.fares[0, 0] == pytest.approx((10 + 30 + 8 + 9 + 0.5 * 14.25) / 4.5)
    no_extra = trips_path.with_name("no_extra.csv")  # a file without one of the additions
    write_trips(
        no_extra,
        list(csv.DictReader(trips_path.read_text().splitlines())),
        [c for c in YELLOW if c != "extra"],
    )
    tipped = load_tlc_city(no_extra, adjacency, horizon=3, demand_per_driver=0.5, smoothing=0.5)
    assert tipped.fares[0, 0] == pytest.approx((11 + 31 + 9 + 10 + 0.5 * 15.25) / 4.5)
    assert city.trip_steps[0, 3] == 2 and city.trip_steps[0, 1] == 1
    game = make_game("edrp-small", city=city)
    assert game.n_zones == 4 and game.busy_levels == 2 and game.n_actions == 4


def test_tlc_loader_errors_name_the_problem(tmp_path: Path, tlc_files) -> None:
    trips_path, adjacency = tlc_files
    cases = [
        (write_adjacency(tmp_path / "a.csv", [(4, 12)], ("zone", "NeighborID")), "LocationID"),
        (write_adjacency(tmp_path / "b.csv", [(4, "x")]), r"line 2: column NeighborID"),
        (write_adjacency(tmp_path / "c.csv", [(4, 4)]), "its own neighbour"),
        (write_adjacency(tmp_path / "d.csv", []), "no adjacent pair"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            load_tlc_city(trips_path, path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"LocationID,NeighborID\n4,12\n12,\xe913\n")
    with pytest.raises(ValueError, match=r"latin.csv, line 3, byte column 4: .*not UTF-8"):
        load_tlc_city(trips_path, latin)
    huge_tip = trip("2023-01-02T07:01:00", 9, 4, 12, 10.0)
    huge_tip["tip_amount"] = "1e12"
    with pytest.raises(ValueError, match=r"huge\.csv, line 2: tip_amount is 1e\+12"):
        load_tlc_city(write_trips(tmp_path / "huge.csv", [huge_tip]), adjacency)
    no_fare = write_trips(tmp_path / "nofare.csv", [], [c for c in YELLOW if c != "fare_amount"])
    with pytest.raises(ValueError, match=r"missing TLC column.*fare_amount"):
        load_tlc_city(no_fare, adjacency)
    bad_time = write_trips(tmp_path / "badtime.csv", [trip("2023-01-02T07:01:00", 9, 4, 12, 1)])
    text = bad_time.read_text().replace("2023-01-02 07:01:00", "yesterday", 1)
    bad_time.write_text(text)
    with pytest.raises(ValueError, match="line 2: cannot parse tpep_pickup_datetime"):
        load_tlc_city(bad_time, adjacency)
    with pytest.raises(ValueError, match="no trip starts in the window"):
        load_tlc_city(trips_path, adjacency, start_hour=12.0, horizon=3)
    with pytest.raises(ValueError, match="slot boundary"):
        load_tlc_city(trips_path, adjacency, start_hour=7.25, slot_minutes=20)
    with pytest.raises(ValueError, match="horizon"):
        load_tlc_city(trips_path, adjacency, horizon=0)


def test_the_shared_tlc_reader_takes_a_number_of_cells_for_zone_files(tlc_files) -> None:
    from alloc_envs.ride_hailing.trips import load_nyc_tlc

    table = load_nyc_tlc(tlc_files[0], 4, zone_cells={4: 0, 12: 1, 13: 2, 24: 3})
    assert table.n_cells == 4 and len(table) == 8  # the 6 window trips, the 70-min one, 9:00
    with pytest.raises(ValueError, match="positive number of cells"):
        load_nyc_tlc(tlc_files[0], 0, zone_cells={4: 0})
    with pytest.raises(ValueError, match="needs a HexGrid"):
        load_nyc_tlc(tlc_files[0], 4, bbox=(-74.0, 40.7, -73.9, 40.8))
