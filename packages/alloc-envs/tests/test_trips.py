"""Tests of alloc_envs.ride_hailing.trips: trip tables, point-to-cell mapping and the loaders."""

from __future__ import annotations

import gzip
import logging
import math
import re
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.ride_hailing.geo_index import GeoIndex
from alloc_envs.ride_hailing.trips import (
    CHENGDU_BBOX,
    TripTable,
    geo_to_cell,
    load_didi_gaia,
    load_nyc_tlc,
)

GRID = HexGrid(3, 4)
DIDI_BBOX = (104.0, 30.6, 104.09, 30.68)
NYC_BBOX = (-74.02, 40.70, -73.93, 40.80)
#: 2016-11-01 00:00:00 in China Standard Time (UTC+8) as a Unix timestamp.
T0 = 1477929600
LOGGER = "alloc_envs.ride_hailing.trips"


def centre_lonlat(grid: HexGrid, bbox: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres in degrees, computed from the documented affine layout."""
    x, y = grid.centres[:, 0], grid.centres[:, 1]

    def unit(v: np.ndarray) -> np.ndarray:
        low, high = v.min(), v.max()
        return np.full_like(v, 0.5) if high == low else (v - low) / (high - low)

    tx, ty = unit(x), unit(y)
    lon = bbox[0] * (1 - tx) + bbox[2] * tx
    lat = bbox[3] * (1 - ty) + bbox[1] * ty  # y points south: y_min is the northern edge
    return lon, lat


LON, LAT = centre_lonlat(GRID, DIDI_BBOX)
NYC_LON, NYC_LAT = centre_lonlat(GRID, NYC_BBOX)


def num(x: float) -> str:
    """Shortest round-tripping text of a float."""
    return repr(float(x))


def didi_line(start: float, stop: float, o: int, d: int, price: str, oid: str = "8d3a5e1f") -> str:
    return f"{oid},{start},{stop},{num(LON[o])},{num(LAT[o])},{num(LON[d])},{num(LAT[d])},{price}"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def dropped_counts(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    text = caplog.records[-1].getMessage()
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


# --------------------------------------------------------------------------------------------------
# DiDi GAIA
# --------------------------------------------------------------------------------------------------

# (start, stop, origin, destination, price) with hand-computed (day, step, duration steps)
TRIP_A = (T0 + 23 * 3600 + 55 * 60 + 30, T0 + 23 * 3600 + 55 * 60 + 30 + 750, 0, 11, "3.82")
TRIP_B = (T0 + 86400 + 300, T0 + 86400 + 300 + 180, 5, 6, "1.5")
TRIP_C = (T0 + 86400 + 7 * 3600 + 59 * 60 + 59, T0 + 86400 + 8 * 3600 + 9 * 60 + 59, 7, 7, "10")
TRIP_D = (T0 + 8 * 3600, T0 + 8 * 3600 + 10799, 11, 0, "25.25")


def test_t0_is_local_midnight() -> None:
    cst = timezone(timedelta(hours=8))
    assert datetime(2016, 11, 1, tzinfo=cst).timestamp() == T0


def test_didi_happy_path(tmp_path: Path) -> None:
    f1 = write(tmp_path / "order_20161101", [didi_line(*TRIP_B), didi_line(*TRIP_D)])
    f2 = write(tmp_path / "order_20161102", [didi_line(*TRIP_A), didi_line(*TRIP_C)])
    table = load_didi_gaia([f1, str(f2)], GRID, DIDI_BBOX)
    assert isinstance(table, TripTable)
    assert table.day_labels == ("2016-11-01", "2016-11-02")
    assert table.n_days == 2 and table.n_cells == 12 and table.n_steps == 144 and len(table) == 4
    # Rows keep the read order: B, D, A, C.
    # B: local 11-02 00:05 (UTC 11-01 16:05) -> day 1, step 0; exactly 3 min -> kept, 1 step.
    # D: local 11-01 08:00 -> step 48; 179 min 59 s -> floor(17.998) + 1 = 18 steps.
    # A: local 11-01 23:55:30 -> step 143; 12.5 min -> 2 steps.
    # C: local 11-02 07:59:59 (UTC 11-01 23:59:59) -> day 1, step 47; exactly 10 min -> 2 steps.
    np.testing.assert_array_equal(table.day, [1, 0, 0, 1])
    np.testing.assert_array_equal(table.step, [0, 48, 143, 47])
    np.testing.assert_array_equal(table.duration, [1, 18, 2, 2])
    np.testing.assert_array_equal(table.origin, [5, 11, 0, 7])
    np.testing.assert_array_equal(table.destination, [6, 0, 11, 7])
    np.testing.assert_array_equal(table.price, [1.5, 25.25, 3.82, 10.0])
    for name in ("day", "step", "origin", "destination", "duration"):
        assert getattr(table, name).dtype == np.int64
    assert table.price.dtype == np.float64
    day1 = table.day_slice(1)
    np.testing.assert_array_equal(day1["step"], [0, 47])
    np.testing.assert_array_equal(day1["price"], [1.5, 10.0])


def test_didi_utc_offset_and_step_minutes(tmp_path: Path) -> None:
    f = write(tmp_path / "orders", [didi_line(*t) for t in (TRIP_A, TRIP_B, TRIP_C, TRIP_D)])
    # In UTC all four pickups fall on 2016-11-01.
    table = load_didi_gaia(f, GRID, DIDI_BBOX, utc_offset_hours=0.0)
    assert table.day_labels == ("2016-11-01",)
    np.testing.assert_array_equal(table.step, [95, 96, 143, 0])
    table = load_didi_gaia(f, GRID, DIDI_BBOX, step_minutes=30)
    assert table.n_steps == 48
    np.testing.assert_array_equal(table.step, [47, 0, 15, 16])
    np.testing.assert_array_equal(table.duration, [1, 1, 1, 6])


def test_didi_filters_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = T0 + 3600
    lines = [
        didi_line(s, s + 600, 1, 2, "5"),  # kept
        didi_line(s, s + 179, 1, 2, "5"),  # too short (2 min 59 s)
        didi_line(s, s - 60, 1, 2, "5"),  # too short (negative)
        didi_line(s, s + 10800, 1, 2, "5"),  # too long (exactly 180 min)
        didi_line(s, s + 600, 1, 2, "5").replace(num(LON[1]), "103.9", 1),  # pickup outside
        didi_line(s, s + 600, 1, 2, "5").replace(num(LAT[2]), "30.7", 1),  # dropoff outside
        didi_line(s, s + 600, 1, 2, "0"),  # bad price
        didi_line(s, s + 600, 1, 2, "-1.5"),  # bad price
        didi_line(s, s + 600, 1, 2, "nan"),  # bad price
    ]
    f = write(tmp_path / "orders", lines)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        table = load_didi_gaia(f, GRID, DIDI_BBOX)
    assert len(table) == 1 and table.origin[0] == 1 and table.destination[0] == 2
    counts = dropped_counts(caplog)
    assert counts == {
        "invalid_time": 0,
        "too_short": 2,
        "too_long": 1,
        "outside_bbox": 2,
        "bad_price": 3,
    }
    # Drop the surviving trip: the error reports the counts.
    g = write(tmp_path / "dropped", lines[1:])
    with pytest.raises(ValueError, match="no trip survived the filters") as info:
        load_didi_gaia(g, GRID, DIDI_BBOX)
    message = str(info.value)
    assert "read 8 rows" in message
    for part in ("too_short=2", "too_long=1", "outside_bbox=2", "bad_price=3"):
        assert part in message


def test_didi_trip_length_arguments(tmp_path: Path) -> None:
    s = T0 + 3600
    f = write(tmp_path / "orders", [didi_line(s, s + 60 * m, 1, 2, "5") for m in (1, 5, 30)])
    table = load_didi_gaia(f, GRID, DIDI_BBOX, min_trip_minutes=0.5, max_trip_minutes=30)
    np.testing.assert_array_equal(table.duration, [1, 1])
    with pytest.raises(ValueError, match="min_trip_minutes"):
        load_didi_gaia(f, GRID, DIDI_BBOX, min_trip_minutes=10, max_trip_minutes=5)
    with pytest.raises(ValueError, match="step_minutes"):
        load_didi_gaia(f, GRID, DIDI_BBOX, step_minutes=0)


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        ("8d3a,1478091677,1478092890,104.0,30.6,104.06,30.68", 3),  # 7 fields
        ("8d3a,1478091677,1478092890,104.0,30.6,104.06,30.68,3.8,extra", 3),  # 9 fields
        ("8d3a,1478091677,1478092890,104.0,abc,104.06,30.68,3.8", 3),  # unparsable
        ("8d3a,1478091677,,104.0,30.6,104.06,30.68,3.8", 3),  # empty number
    ],
)
def test_didi_malformed_line(tmp_path: Path, bad: str, line: int) -> None:
    good = didi_line(*TRIP_A)
    f = write(tmp_path / "order_20161101", [good, good, bad, good])
    with pytest.raises(ValueError, match=rf"{re.escape(str(f))}, line {line}\b"):
        load_didi_gaia(f, GRID, DIDI_BBOX)


def test_didi_blank_lines_skipped_but_counted(tmp_path: Path) -> None:
    good = didi_line(*TRIP_A)
    f = write(tmp_path / "orders", [good, "", "   ", good])
    assert len(load_didi_gaia(f, GRID, DIDI_BBOX)) == 2
    g = write(tmp_path / "bad", [good, "", "x,1,2,3,4,5,6,seven"])
    with pytest.raises(ValueError, match=r"bad, line 3\b"):
        load_didi_gaia(g, GRID, DIDI_BBOX)
    h = write(tmp_path / "header", ["order_id,start,stop,plon,plat,dlon,dlat,reward", good])
    with pytest.raises(ValueError, match=r"header, line 1\b"):
        load_didi_gaia(h, GRID, DIDI_BBOX)


def test_didi_gzip_and_crlf(tmp_path: Path) -> None:
    body = "\r\n".join(didi_line(*t) for t in (TRIP_A, TRIP_B)) + "\r\n"
    f = tmp_path / "order_20161101.gz"
    f.write_bytes(gzip.compress(body.encode()))
    table = load_didi_gaia(f, GRID, DIDI_BBOX)
    np.testing.assert_array_equal(table.step, [143, 0])


def test_didi_no_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no input file"):
        load_didi_gaia([], GRID, DIDI_BBOX)


def test_didi_200k_lines_vectorised(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    start = T0 + rng.integers(0, 30 * 86400, n)
    stop = start + rng.integers(5 * 60, 60 * 60, n)
    lon_min, lat_min, lon_max, lat_max = CHENGDU_BBOX
    pts = rng.uniform([lon_min, lat_min] * 2, [lon_max, lat_max] * 2, (n, 4))
    price = rng.uniform(1, 20, n)
    text = "\n".join(
        f"{i:x},{a},{b},{p[0]:.6f},{p[1]:.6f},{p[2]:.6f},{p[3]:.6f},{c:.2f}"
        for i, a, b, p, c in zip(range(n), start.tolist(), stop.tolist(), pts, price, strict=True)
    )
    f = tmp_path / "order_big"
    f.write_text(text + "\n")
    grid = HexGrid(20, 25)
    table = load_didi_gaia(f, grid)
    assert len(table) == n and table.n_days == 30
    assert table.origin.min() >= 0 and table.origin.max() < grid.n_cells


# --------------------------------------------------------------------------------------------------
# NYC TLC
# --------------------------------------------------------------------------------------------------

YELLOW_ZONE_HEADER = (
    "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,RatecodeID,"
    "store_and_fwd_flag,PULocationID,DOLocationID,payment_type,fare_amount,extra,mta_tax,"
    "tip_amount,tolls_amount,improvement_surcharge,total_amount"
)
ZONE_MAP = {1: 3, 2: 7, 3: 11, 264: 0, 265: 0}


def yellow_zone_row(pickup: str, dropoff: str, pu: object, do: object, fare: str) -> str:
    return f"2,{pickup},{dropoff},1,1.5,1,N,{pu},{do},1,{fare},0.5,0.5,0,0,0.3,9.9"


YELLOW_ZONE_ROWS = [
    yellow_zone_row("2016-07-01 00:05:00", "2016-07-01 00:25:00", 1, 2, "12.5"),  # kept
    yellow_zone_row("2016-07-02 23:59:59", "2016-07-03 00:10:00", 2, 3, "9"),  # kept
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 264, 1, "12.5"),  # unknown
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 1, 265, "12.5"),  # unknown
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 99, 1, "12.5"),  # unmapped
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 1, "", "12.5"),  # unmapped
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 1, 2, "0"),  # bad price
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:20:00", 1, 2, ""),  # bad price
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 10:00:30", 1, 2, "12.5"),  # too short
    yellow_zone_row("2016-07-01 10:00:00", "2016-07-01 13:00:00", 1, 2, "12.5"),  # too long
    yellow_zone_row("", "2016-07-01 13:00:00", 1, 2, "12.5"),  # invalid time
]
EXPECTED_ZONE_COUNTS = {
    "invalid_time": 1,
    "too_short": 1,
    "too_long": 1,
    "unknown_zone": 2,
    "unmapped_zone": 2,
    "outside_bbox": 0,
    "bad_price": 2,
}


def check_zone_table(table: TripTable) -> None:
    assert table.day_labels == ("2016-07-01", "2016-07-02")
    np.testing.assert_array_equal(table.day, [0, 1])
    np.testing.assert_array_equal(table.step, [0, 143])
    # 20 min -> 3 steps; 10 min 1 s -> 2 steps
    np.testing.assert_array_equal(table.duration, [3, 2])
    np.testing.assert_array_equal(table.origin, [3, 7])
    np.testing.assert_array_equal(table.destination, [7, 11])
    np.testing.assert_array_equal(table.price, [12.5, 9.0])


def test_tlc_zones_with_mapping(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = write(tmp_path / "yellow_tripdata_2016-07.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        table = load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    check_zone_table(table)
    assert dropped_counts(caplog) == EXPECTED_ZONE_COUNTS


def test_tlc_zones_with_csv_mapping(tmp_path: Path) -> None:
    f = write(tmp_path / "yellow.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS])
    zones = write(
        tmp_path / "zones.csv", ["LocationID,cell", *(f"{k},{v}" for k, v in ZONE_MAP.items())]
    )
    check_zone_table(load_nyc_tlc([str(f)], GRID, zone_cells=zones))
    check_zone_table(load_nyc_tlc(f, GRID, zone_cells=str(zones)))


def test_tlc_zone_mapping_restricts(tmp_path: Path) -> None:
    f = write(tmp_path / "yellow.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS])
    table = load_nyc_tlc(f, GRID, zone_cells={2: 0, 3: 1})
    np.testing.assert_array_equal(table.origin, [0])
    np.testing.assert_array_equal(table.destination, [1])
    assert table.day_labels == ("2016-07-02",)


def test_tlc_zone_mapping_errors(tmp_path: Path) -> None:
    f = write(tmp_path / "yellow.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS])
    with pytest.raises(ValueError, match=r"zone 1 maps to cell 12, not in \[0, 12\)"):
        load_nyc_tlc(f, GRID, zone_cells={1: 12})
    bad = write(tmp_path / "zones.csv", ["zone,cell", "1,2"])
    with pytest.raises(ValueError, match="LocationID,cell"):
        load_nyc_tlc(f, GRID, zone_cells=bad)
    bad = write(tmp_path / "zones2.csv", ["LocationID,cell", "1,2", "x,3"])
    with pytest.raises(ValueError, match=r"zones2.csv, line 3"):
        load_nyc_tlc(f, GRID, zone_cells=bad)


YELLOW_GEO_HEADER = (
    "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,"
    "pickup_longitude,pickup_latitude,RateCodeID,store_and_fwd_flag,dropoff_longitude,"
    "dropoff_latitude,payment_type,fare_amount,extra,mta_tax,tip_amount,tolls_amount,"
    "improvement_surcharge,total_amount"
)


def yellow_geo_row(pickup: str, dropoff: str, o: int, d: int, fare: str) -> str:
    plon, plat = num(NYC_LON[o]), num(NYC_LAT[o])
    dlon, dlat = num(NYC_LON[d]), num(NYC_LAT[d])
    return f"2,{pickup},{dropoff},1,2.1,{plon},{plat},1,N,{dlon},{dlat},1,{fare},0,0.5,0,0,0.3,9"


def test_tlc_geo_columns_with_bbox(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        yellow_geo_row("2015-01-15 08:03:00", "2015-01-15 08:21:59", 4, 9, "14"),
        yellow_geo_row("2015-01-16 12:00:00", "2015-01-16 12:01:00", 0, 11, "4.5"),
        yellow_geo_row("2015-01-16 12:00:00", "2015-01-16 12:11:00", 0, 11, "4.5").replace(
            f"{num(NYC_LON[0])},{num(NYC_LAT[0])}", "0,0"
        ),  # outside the box
    ]
    f = write(tmp_path / "yellow_tripdata_2015-01.csv", [YELLOW_GEO_HEADER, *rows])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        table = load_nyc_tlc(f, GRID, bbox=NYC_BBOX)
    assert table.day_labels == ("2015-01-15", "2015-01-16")
    np.testing.assert_array_equal(table.step, [48, 72])
    np.testing.assert_array_equal(table.duration, [2, 1])
    np.testing.assert_array_equal(table.origin, [4, 0])
    np.testing.assert_array_equal(table.destination, [9, 11])
    np.testing.assert_array_equal(table.price, [14.0, 4.5])
    assert dropped_counts(caplog)["outside_bbox"] == 1


def test_tlc_green_columns(tmp_path: Path) -> None:
    # 2015 green files capitalise some names (Lpep_dropoff_datetime, Fare_amount, ...).
    header = (
        "VendorID,lpep_pickup_datetime,Lpep_dropoff_datetime,Store_and_fwd_flag,RateCodeID,"
        "Pickup_longitude,Pickup_latitude,Dropoff_longitude,Dropoff_latitude,Passenger_count,"
        "Trip_distance,Fare_amount,Extra,MTA_tax,Tip_amount,Tolls_amount,Ehail_fee,Total_amount"
    )
    row = (
        f"2,2015-03-01 00:10:00,2015-03-01 00:40:00,N,1,{num(NYC_LON[2])},{num(NYC_LAT[2])},"
        f"{num(NYC_LON[5])},{num(NYC_LAT[5])},1,3.2,21.5,0.5,0.5,0,0,,22.8"
    )
    f = write(tmp_path / "green_tripdata_2015-03.csv", [header, row])
    table = load_nyc_tlc(f, GRID, bbox=NYC_BBOX)
    assert (table.step[0], table.duration[0], table.origin[0], table.destination[0]) == (1, 4, 2, 5)
    assert table.price[0] == 21.5
    zone_header = (
        "VendorID,lpep_pickup_datetime,lpep_dropoff_datetime,store_and_fwd_flag,RatecodeID,"
        "PULocationID,DOLocationID,passenger_count,trip_distance,fare_amount,extra"
    )
    g = write(
        tmp_path / "green_tripdata_2017-01.csv",
        [zone_header, "2,2017-01-31 23:00:00,2017-02-01 00:00:00,N,1,3,1,1,9.0,30.0,0.5"],
    )
    table = load_nyc_tlc(g, GRID, zone_cells=ZONE_MAP)
    assert table.day_labels == ("2017-01-31",)
    row = (table.step[0], table.duration[0], table.origin[0], table.destination[0])
    assert row == (138, 7, 11, 3)


def test_tlc_missing_columns_or_arguments(tmp_path: Path) -> None:
    zone_file = write(tmp_path / "zones.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS])
    geo_file = write(
        tmp_path / "geo.csv",
        [
            YELLOW_GEO_HEADER,
            yellow_geo_row("2015-01-15 08:03:00", "2015-01-15 08:21:59", 4, 9, "1"),
        ],
    )
    with pytest.raises(ValueError, match="zone_cells"):
        load_nyc_tlc(zone_file, GRID)
    with pytest.raises(ValueError, match="zone_cells"):
        load_nyc_tlc(zone_file, GRID, bbox=NYC_BBOX)
    with pytest.raises(ValueError, match="bbox"):
        load_nyc_tlc(geo_file, GRID)
    with pytest.raises(ValueError, match="bbox"):
        load_nyc_tlc(geo_file, GRID, zone_cells=ZONE_MAP)
    no_location = write(
        tmp_path / "noloc.csv",
        ["tpep_pickup_datetime,tpep_dropoff_datetime,fare_amount", "2016-07-01 00:00:00,,1"],
    )
    with pytest.raises(ValueError, match=r"PULocationID.*pickup_longitude"):
        load_nyc_tlc(no_location, GRID, zone_cells=ZONE_MAP, bbox=NYC_BBOX)
    no_fare = write(
        tmp_path / "nofare.csv",
        ["tpep_pickup_datetime,tpep_dropoff_datetime,PULocationID,DOLocationID", "a,b,1,2"],
    )
    with pytest.raises(ValueError, match="fare_amount"):
        load_nyc_tlc(no_fare, GRID, zone_cells=ZONE_MAP)
    no_time = write(
        tmp_path / "notime.csv", ["pickup,dropoff,PULocationID,DOLocationID,fare_amount"]
    )
    with pytest.raises(ValueError, match="tpep_pickup_datetime or lpep_pickup_datetime"):
        load_nyc_tlc(no_time, GRID, zone_cells=ZONE_MAP)
    empty = write(tmp_path / "empty.csv", [])
    with pytest.raises(ValueError, match="header"):
        load_nyc_tlc(empty, GRID, zone_cells=ZONE_MAP)


def test_tlc_malformed_rows(tmp_path: Path) -> None:
    good = YELLOW_ZONE_ROWS[0]
    bad_time = good.replace("2016-07-01 00:25:00", "07/01/2016 00:25")
    f = write(tmp_path / "a.csv", [YELLOW_ZONE_HEADER, good, bad_time])
    with pytest.raises(ValueError, match=r"a.csv, line 3: .*tpep_dropoff_datetime"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    bad_fare = yellow_zone_row("2016-07-01 00:05:00", "2016-07-01 00:25:00", 1, 2, "twelve")
    f = write(tmp_path / "b.csv", [YELLOW_ZONE_HEADER, good, "", good, bad_fare])
    with pytest.raises(ValueError, match=r"b.csv, line 5: .*fare_amount"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    f = write(tmp_path / "c.csv", [YELLOW_ZONE_HEADER, good, "2,2016-07-01 00:05:00"])
    with pytest.raises(ValueError, match=r"c.csv, line 3\b"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    f = write(tmp_path / "d.csv", [YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS[6:8]])
    with pytest.raises(ValueError, match=r"no trip survived the filters.*bad_price=2"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)


def test_tlc_timestamps_with_a_utc_offset_keep_their_wall_clock_time(tmp_path: Path) -> None:
    """A trip stamped 00:05 with an offset starts at 00:05 of its own day (not converted to UTC,
    which would move it to the previous day), without a warning."""
    rows = [
        yellow_zone_row("2016-07-01T00:05:00+05:00", "2016-07-01T00:25:00+05:00", 1, 2, "12.5"),
        yellow_zone_row("2016-07-02 23:59:59-0400", "2016-07-03 00:10:00-0400", 2, 3, "9"),
        yellow_zone_row("2016-07-01 10:00:00Z", "2016-07-01 10:20:00Z", 1, 2, "7"),
    ]
    f = write(tmp_path / "offsets.csv", [YELLOW_ZONE_HEADER, *rows])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    assert table.day_labels == ("2016-07-01", "2016-07-02")
    np.testing.assert_array_equal(table.day, [0, 1, 0])
    np.testing.assert_array_equal(table.step, [0, 143, 60])
    np.testing.assert_array_equal(table.duration, [3, 2, 3])
    for odd in ("+5h", "+05:00:00"):
        bad = write(tmp_path / "bad.csv", [YELLOW_ZONE_HEADER, rows[0].replace("+05:00", odd, 1)])
        with pytest.raises(ValueError, match=r"bad.csv, line 2: .*tpep_pickup_datetime"):
            load_nyc_tlc(bad, GRID, zone_cells=ZONE_MAP)


#: pyarrow converts named time zones with the system's tz database.
NEEDS_TZDATA = pytest.mark.skipif(
    not Path("/usr/share/zoneinfo/America/New_York").exists(), reason="no tz database"
)


@pytest.mark.parametrize("zone", ["-04:00", pytest.param("America/New_York", marks=NEEDS_TZDATA)])
def test_tlc_parquet_time_zone_aware_timestamps_are_local_wall_clock(tmp_path: Path, zone) -> None:
    """Instants stored in UTC with a time zone are read as the wall-clock time in that zone:
    04:05 UTC on 2016-07-01 is 00:05 in New York (EDT, UTC-4)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    utc = np.array(["2016-07-01T04:05:00", "2016-07-03T03:59:59"], dtype="datetime64[us]")
    dropoff = utc + np.array([1200, 601]).astype("timedelta64[s]")
    table = pa.table(
        {
            "tpep_pickup_datetime": pa.array(utc, pa.timestamp("us", tz=zone)),
            "tpep_dropoff_datetime": pa.array(dropoff, pa.timestamp("us", tz=zone)),
            "PULocationID": pa.array([1, 2], pa.int32()),
            "DOLocationID": pa.array([2, 3], pa.int32()),
            "fare_amount": pa.array([12.5, 9.0], pa.float64()),
        }
    )
    f = tmp_path / "tz.parquet"
    pq.write_table(table, f)
    check_zone_table(load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP))


def test_absurd_finite_prices_are_refused_naming_the_row_and_column(tmp_path: Path) -> None:
    huge = yellow_zone_row("2016-07-01 00:05:00", "2016-07-01 00:25:00", 1, 2, "1.5e21")
    f = write(tmp_path / "huge.csv", [YELLOW_ZONE_HEADER, YELLOW_ZONE_ROWS[0], huge])
    with pytest.raises(ValueError, match=r"huge.csv, line 3: fare_amount is 1.5e\+21, beyond"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    d = write(tmp_path / "order_huge", [didi_line(*TRIP_A), didi_line(*TRIP_B[:4], "2e21")])
    with pytest.raises(ValueError, match=r"order_huge, line 2: reward_units is 2e\+21, beyond"):
        load_didi_gaia(d, GRID, DIDI_BBOX)


def test_unreadable_trip_files_name_the_file(tmp_path: Path) -> None:
    text = "\n".join([YELLOW_ZONE_HEADER, *YELLOW_ZONE_ROWS[:2]]) + "\n"
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(text.encode())[:-12])
    with pytest.raises(ValueError, match=r"cut.csv.gz: a cut-off or corrupt gzip file"):
        load_nyc_tlc(cut, GRID, zone_cells=ZONE_MAP)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.replace("N,1,2", "\xe9,1,2", 1).encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.csv, line 2, byte column 51: .*not UTF-8"):
        load_nyc_tlc(latin, GRID, zone_cells=ZONE_MAP)
    zones = tmp_path / "zones.csv"
    zones.write_bytes("LocationID,cell\n1,3\n2,7 \xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"zones.csv, line 3, byte column 5: .*not UTF-8"):
        load_nyc_tlc(tmp_path / "cut.csv.gz", GRID, zone_cells=zones)
    didi = tmp_path / "order_20161101.gz"
    didi.write_bytes(gzip.compress(didi_line(*TRIP_A).encode())[:-5])
    with pytest.raises(ValueError, match=r"order_20161101.gz: a cut-off or corrupt gzip file"):
        load_didi_gaia(didi, GRID, DIDI_BBOX)


def test_bad_parquet_files_name_the_file_and_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match=r"garbage.parquet: not a readable Parquet file"):
        load_nyc_tlc(garbage, GRID, zone_cells=ZONE_MAP)
    table = pa.table(
        {
            "tpep_pickup_datetime": ["2016-07-01 00:05:00", "2016-07-01 00:06:00"],
            "tpep_dropoff_datetime": ["2016-07-01 00:25:00", "2016-07-01 00:26:00"],
            "PULocationID": [1, 2],
            "DOLocationID": [2, 3],
            "fare_amount": ["12.5", "twelve"],
        }
    )
    words = tmp_path / "words.parquet"
    pq.write_table(table, words)
    with pytest.raises(ValueError, match=r"words.parquet, row 2: cannot parse fare_amount"):
        load_nyc_tlc(words, GRID, zone_cells=ZONE_MAP)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(words.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"truncated.parquet: not a readable Parquet file"):
        load_nyc_tlc(truncated, GRID, zone_cells=ZONE_MAP)


def test_tlc_parquet_needs_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    f = tmp_path / "yellow_tripdata_2023-01.parquet"
    f.write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="pip install pyarrow"):
        load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)


def test_tlc_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pickup = np.array(
        [
            "2023-01-01 00:05:00",
            "2023-01-02 23:59:59",
            "2023-01-01 10:00:00",
            "2023-01-01 11:00:00",
        ],
        dtype="datetime64[us]",
    )
    dropoff = pickup + np.array([1200, 601, 1200, 1200]).astype("timedelta64[s]")
    table = pa.table(
        {
            "VendorID": pa.array([2, 2, 1, 1], pa.int32()),
            "tpep_pickup_datetime": pa.array(pickup, pa.timestamp("us")),
            "tpep_dropoff_datetime": pa.array(dropoff, pa.timestamp("us")),
            "PULocationID": pa.array([1, 2, 264, 1], pa.int32()),
            "DOLocationID": pa.array([2, 3, 1, 2], pa.int32()),
            "fare_amount": pa.array([12.5, 9.0, 5.0, None], pa.float64()),
        }
    )
    f = tmp_path / "yellow_tripdata_2023-01.parquet"
    pq.write_table(table, f)
    trips = load_nyc_tlc(f, GRID, zone_cells=ZONE_MAP)
    assert trips.day_labels == ("2023-01-01", "2023-01-02")
    np.testing.assert_array_equal(trips.step, [0, 143])
    np.testing.assert_array_equal(trips.duration, [3, 2])
    np.testing.assert_array_equal(trips.origin, [3, 7])
    np.testing.assert_array_equal(trips.destination, [7, 11])
    np.testing.assert_array_equal(trips.price, [12.5, 9.0])


# --------------------------------------------------------------------------------------------------
# TripTable
# --------------------------------------------------------------------------------------------------


def make_table(**changes: object) -> TripTable:
    fields: dict[str, object] = {
        "day": [0, 1, 0, 0, 1],
        "step": [5, 0, 5, 2, 0],
        "origin": [3, 1, 2, 3, 1],
        "destination": [0, 1, 2, 3, 4],
        "duration": [1, 2, 3, 4, 5],
        "price": [1.0, 2.0, 3.0, 4.0, 5.0],
        "n_cells": 6,
        "n_steps": 8,
        "day_labels": ("2016-11-01", "2016-11-02"),
    }
    fields.update(changes)
    return TripTable(**fields)  # type: ignore[arg-type]


def test_table_conversion_and_day_slice() -> None:
    table = make_table(step=np.array([5, 0, 5, 2, 0], dtype=np.int32), price=[1, 2, 3, 4, 5])
    assert table.step.dtype == np.int64 and table.price.dtype == np.float64
    assert table.n_days == 2 and table.n_trips == 5
    assert not table.step.flags.writeable
    day0 = table.day_slice(0)
    assert set(day0) == {"step", "origin", "destination", "duration", "price"}
    # rows 0, 2, 3 sorted by (step, origin, row): row 3 (2, 3), row 2 (5, 2), row 0 (5, 3)
    np.testing.assert_array_equal(day0["destination"], [3, 2, 0])
    np.testing.assert_array_equal(day0["step"], [2, 5, 5])
    # equal (step, origin) keeps the row order
    np.testing.assert_array_equal(table.day_slice(1)["destination"], [1, 4])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        table.day_slice(2)
    empty_day = make_table(day_labels=("a", "b", "c")).day_slice(2)
    assert all(len(v) == 0 for v in empty_day.values())


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"step": [0, 1]}, "step has length 2"),
        ({"origin": [3, 1, 2, 6, 1]}, r"origin must lie in \[0, 6\)"),
        ({"destination": [0, -1, 2, 3, 4]}, r"destination must lie in \[0, 6\)"),
        ({"step": [5, 0, 5, 8, 0]}, r"step must lie in \[0, 8\)"),
        ({"duration": [1, 0, 3, 4, 5]}, "duration must be >= 1"),
        ({"price": [1.0, np.inf, 3.0, 4.0, 5.0]}, "price must be finite"),
        ({"price": [1.0, np.nan, 3.0, 4.0, 5.0]}, "price must be finite"),
        ({"price": [1.0, 2.0, 1e21, 4.0, 5.0]}, r"price of row 2 is 1e\+21, beyond"),
        ({"day": [0, 2, 0, 0, 1]}, r"day must lie in \[0, 2\)"),
        ({"step": [5.5, 0, 5, 2, 0]}, "step must hold integers"),
        ({"origin": ["a", "b", "c", "d", "e"]}, "origin must be an integer array"),
        ({"price": [[1.0], [2.0], [3.0], [4.0], [5.0]]}, "price must be 1-D"),
        ({"n_cells": 0}, "n_cells must be a positive integer"),
        ({"n_steps": 2.5}, "n_steps must be a positive integer"),
        ({"day_labels": ("x", "x")}, "day_labels must be distinct"),
        ({"day_labels": "ab"}, "day_labels must be a sequence"),
    ],
)
def test_table_validation(changes: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        make_table(**changes)


def test_save_load_round_trip(tmp_path: Path) -> None:
    table = make_table()
    for name in ("trips.npz", "cache.bin"):
        path = tmp_path / name
        table.save(path)
        assert path.exists()
        loaded = TripTable.load(str(path))
        for field in ("day", "step", "origin", "destination", "duration", "price"):
            np.testing.assert_array_equal(getattr(loaded, field), getattr(table, field))
            assert getattr(loaded, field).dtype == getattr(table, field).dtype
        assert (loaded.n_cells, loaded.n_steps) == (6, 8)
        assert loaded.day_labels == table.day_labels
    with np.load(tmp_path / "trips.npz", allow_pickle=False) as npz:
        assert npz["day_labels"].dtype.kind == "U"


def test_load_malformed(tmp_path: Path) -> None:
    table = make_table()
    arrays = {
        "format_version": np.int64(1),
        "day": table.day,
        "step": table.step,
        "origin": table.origin,
        "destination": table.destination,
        "duration": table.duration,
        "n_cells": np.int64(6),
        "n_steps": np.int64(8),
        "day_labels": np.array(table.day_labels),
    }
    path = tmp_path / "no_price.npz"
    np.savez_compressed(path, **arrays)
    with pytest.raises(ValueError, match=r"missing arrays.*price"):
        TripTable.load(path)
    path = tmp_path / "bad_origin.npz"
    np.savez_compressed(path, **{**arrays, "price": table.price, "origin": table.origin + 6})
    with pytest.raises(ValueError, match=r"origin must lie in \[0, 6\)"):
        TripTable.load(path)
    text = tmp_path / "text.npz"
    text.write_text("not an archive\n")
    with pytest.raises(ValueError, match="not a TripTable"):
        TripTable.load(text)
    single = tmp_path / "single.npy"
    np.save(single, np.arange(3))
    with pytest.raises(ValueError, match="not a TripTable"):
        TripTable.load(single)


def test_from_loader_round_trip(tmp_path: Path) -> None:
    f = write(tmp_path / "orders", [didi_line(*t) for t in (TRIP_A, TRIP_B, TRIP_C, TRIP_D)])
    table = load_didi_gaia(f, GRID, DIDI_BBOX)
    table.save(tmp_path / "cache.npz")
    loaded = TripTable.load(tmp_path / "cache.npz")
    for day in range(table.n_days):
        a, b = table.day_slice(day), loaded.day_slice(day)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


# --------------------------------------------------------------------------------------------------
# geo_to_cell
# --------------------------------------------------------------------------------------------------

bboxes = st.tuples(
    st.floats(-179.0, 170.0),
    st.floats(-80.0, 70.0),
    st.floats(0.01, 5.0),
    st.floats(0.01, 5.0),
).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 8), cols=st.integers(1, 8), bbox=bboxes)
def test_geo_to_cell_centres_map_to_own_cell(rows: int, cols: int, bbox: tuple) -> None:
    grid = HexGrid(rows, cols)
    lon, lat = centre_lonlat(grid, bbox)
    np.testing.assert_array_equal(geo_to_cell(lon, lat, grid, bbox), np.arange(grid.n_cells))


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 8), cols=st.integers(1, 8), bbox=bboxes, seed=st.integers(0, 2**32 - 1))
def test_geo_to_cell_is_nearest_centre(rows: int, cols: int, bbox: tuple, seed: int) -> None:
    grid = HexGrid(rows, cols)
    rng = np.random.default_rng(seed)
    lon = rng.uniform(bbox[0], bbox[2], 500)
    lat = rng.uniform(bbox[1], bbox[3], 500)
    clon, clat = centre_lonlat(grid, bbox)
    k = np.cos(np.radians((bbox[1] + bbox[3]) / 2))
    d2 = ((lon[:, None] - clon) * k) ** 2 + (lat[:, None] - clat) ** 2
    cells = geo_to_cell(lon, lat, grid, bbox)
    best = d2.min(axis=1)
    chosen = d2[np.arange(len(lon)), cells]
    np.testing.assert_allclose(chosen, best, rtol=1e-9, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), bbox=bboxes)
def test_geo_index_lattice_candidates_equal_the_all_centres_ones(rows, cols, bbox) -> None:
    """The O(G) candidate search (a window of the lattice) finds exactly the candidates of the
    O(G^2) search that compares every centre with every bucket."""
    index = GeoIndex(HexGrid(rows, cols), bbox)
    reach = math.hypot(index.sx, index.sy) + 1e-9 * (index.width + index.height)
    window = index._window(reach)
    assume(window is not None)  # else the window covers the grid and all centres are compared
    bucket = np.arange(index.nbx * index.nby)
    mid_x = (bucket % index.nbx + 0.5) * index.sx
    mid_y = (bucket // index.nbx + 0.5) * index.sy
    every = index._all_pairs(mid_x, mid_y, reach)
    row, col = index._lattice_pairs(mid_x, mid_y, reach, *window)
    order = np.lexsort((col, row))
    np.testing.assert_array_equal(row[order], every[0])
    np.testing.assert_array_equal(col[order], every[1])


def test_geo_to_cell_outside_and_shapes() -> None:
    lon_min, lat_min, lon_max, lat_max = DIDI_BBOX
    eps = 1e-9
    lon = np.array([lon_min - eps, lon_max + eps, 104.05, 104.05, np.nan, 104.05, lon_min])
    lat = np.array([30.65, 30.65, lat_min - eps, lat_max + eps, 30.65, np.nan, lat_min])
    cells = geo_to_cell(lon, lat, GRID, DIDI_BBOX)
    np.testing.assert_array_equal(cells[:6], -1)
    assert 0 <= cells[6] < GRID.n_cells  # the edges belong to the box
    grid_2d = geo_to_cell(LON.reshape(3, 4), LAT.reshape(3, 4), GRID, DIDI_BBOX)
    assert grid_2d.shape == (3, 4) and grid_2d.dtype == np.int64
    np.testing.assert_array_equal(grid_2d.ravel(), np.arange(12))
    assert geo_to_cell(104.05, 30.65, HexGrid(1, 1), DIDI_BBOX) == 0
    with pytest.raises(ValueError, match="lon_min < lon_max"):
        geo_to_cell(0.0, 0.0, GRID, (1.0, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="lat_min < lat_max"):
        geo_to_cell(0.0, 0.0, GRID, (0.0, 1.0, 1.0, 0.5))


def test_geo_to_cell_layout_orientation() -> None:
    # Cell 0 (row 0, col 0) is in the west, near the northern edge; the last cell in the south-east.
    lon, lat = centre_lonlat(GRID, DIDI_BBOX)
    assert lon[0] == DIDI_BBOX[0] and lon[3] == DIDI_BBOX[2]
    assert lat[1] == DIDI_BBOX[3] and lat[8] == DIDI_BBOX[1]
    cells = geo_to_cell([DIDI_BBOX[0], DIDI_BBOX[2]], [DIDI_BBOX[3], DIDI_BBOX[1]], GRID, DIDI_BBOX)
    np.testing.assert_array_equal(cells, [0, 11])


def test_select_days_keeps_and_reindexes_the_named_days() -> None:
    table = TripTable(
        day=[0, 1, 2, 1],
        step=[0, 1, 2, 3],
        origin=[0, 1, 2, 3],
        destination=[1, 2, 3, 0],
        duration=[1, 1, 2, 1],
        price=[1.0, 2.0, 3.0, 4.0],
        n_cells=4,
        n_steps=144,
        day_labels=("2016-10-31", "2016-11-01", "2016-11-02"),
    )
    picked = table.select_days(["2016-11-02", "2016-11-01"])
    assert picked.day_labels == ("2016-11-02", "2016-11-01")
    np.testing.assert_array_equal(picked.day, [1, 0, 1])
    np.testing.assert_array_equal(picked.price, [2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="unknown day label"):
        table.select_days(["2016-12-01"])


def test_save_replaces_an_existing_file_atomically(tmp_path, monkeypatch) -> None:
    table = TripTable(
        day=[0],
        step=[0],
        origin=[0],
        destination=[1],
        duration=[1],
        price=[5.0],
        n_cells=2,
        n_steps=144,
        day_labels=("2016-11-01",),
    )
    path = tmp_path / "trips.npz"
    table.save(path)
    before = path.read_bytes()

    def fail(self, target):
        with open(target, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(TripTable, "_write", fail)
    with pytest.raises(OSError, match="disk full"):
        table.save(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
