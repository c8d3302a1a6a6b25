"""EDRP cities from NYC TLC trip records and a zone-adjacency file (research note §3.6, §6.4).

* **Zone adjacency** (:func:`read_zone_adjacency`): a CSV with a header naming the columns
  ``LocationID`` and ``NeighborID`` (case-insensitive, other columns ignored), one row per pair
  of adjacent TLC zones (either direction is enough: the graph is symmetrised; repeats are
  ignored). The zones of the city are the LocationIDs that appear, in increasing order. The
  package ships no adjacency file; one can be derived from the TLC zone shapefile (polygons that
  touch), e.g. for the 63 mainland Manhattan zones.
* **Trips**: yellow / green trip records (CSV or Parquet) read by
  :func:`alloc_envs.ride_hailing.trips.load_nyc_tlc` with the city's zones: trips with an end
  outside the zone set, zones 264 / 265, a non-positive fare, a missing time, a duration under
  1 minute or of ``max_trip_steps`` slots or more are dropped; slots are ``minute of the day //
  slot_minutes`` and a trip of ``m`` minutes takes ``floor(m / slot_minutes) + 1`` slots.
* **Fares** are what the driver takes: ``fare_amount`` plus, where the files have them,
  ``extra`` (the rush-hour and overnight surcharges) and ``tip_amount`` (``fare_additions``).
  Taxes, tolls and the congestion and airport fees are passed on, so they are left out. What the
  data does not give: cash tips (TLC records card tips only) and airport trips, which end
  outside the city's zones and are dropped with every trip that leaves the zone set. So the
  fare premium of EDRP v1 comes from the data here: the mean fare per origin and slot against
  the trips' durations per zone pair (a driver's income per slot of a trip), with no premium
  profile of our own.
* **Tensors** over the window of ``horizon`` slots from ``start_hour``, averaged over the days
  present: order counts ``d_t(v)``; destinations ``Q_t(.|v)`` with additive smoothing towards
  the origin's whole-window destinations (themselves smoothed towards uniform); mean fares per
  origin and slot smoothed towards the origin's mean; trip durations per (origin, destination)
  pair (mean, rounded; pairs never seen take the origin's mean, 1 slot if the origin has none).
* **Scale**: ``rho_t(v) = d_t(v) / N_ref`` with ``N_ref`` (the fleet size) chosen so that the
  window mean of ``sum_v rho_t(v)`` is ``demand_per_driver``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence

import numpy as np

from alloc_envs.core.textfiles import open_text
from alloc_envs.core.validation import check_int, check_number
from alloc_envs.edrp.city import MAX_ZONES, EDRPCity
from alloc_envs.ride_hailing.trips import load_nyc_tlc

PathLike = str | os.PathLike[str]
ADJACENCY_COLUMNS = ("LocationID", "NeighborID")


def read_zone_adjacency(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(V,) int64 sorted zone ids and (V, D) int64 neighbour indices (``-1`` padded) of an
    adjacency CSV (module doc). ``ValueError`` naming the file, line and column for a missing
    column, a non-integer id, a zone adjacent to itself or a file without pairs."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [c for c in ADJACENCY_COLUMNS if c.lower() not in header]
        if missing:
            raise ValueError(
                f"{path}: the adjacency CSV needs the columns {list(ADJACENCY_COLUMNS)}; "
                f"missing {missing} (header: {header})"
            )
        columns = [header.index(c.lower()) for c in ADJACENCY_COLUMNS]
        pairs: set[tuple[int, int]] = set()
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            ids = []
            for name, col in zip(ADJACENCY_COLUMNS, columns, strict=True):
                text = row[col].strip() if col < len(row) else ""
                try:
                    ids.append(int(text))
                except ValueError:
                    raise ValueError(
                        f"{path}, line {reader.line_num}: column {name} must be an integer zone "
                        f"id, got {text!r}"
                    ) from None
            if ids[0] == ids[1]:
                raise ValueError(
                    f"{path}, line {reader.line_num}: zone {ids[0]} is its own neighbour"
                )
            pairs.add((min(ids), max(ids)))
    if not pairs:
        raise ValueError(f"{path}: no adjacent pair of zones")
    zone_ids = np.unique(np.asarray(sorted(pairs), dtype=np.int64))
    if zone_ids.size > MAX_ZONES:
        raise ValueError(f"{path}: {zone_ids.size} zones, more than {MAX_ZONES}")
    index = {int(z): i for i, z in enumerate(zone_ids)}
    lists: list[list[int]] = [[] for _ in zone_ids]
    for a, b in sorted(pairs):
        lists[index[a]].append(index[b])
        lists[index[b]].append(index[a])
    neighbors = np.full((zone_ids.size, max(map(len, lists))), -1, dtype=np.int64)
    for i, row in enumerate(lists):
        neighbors[i, : len(row)] = sorted(row)
    return zone_ids, neighbors


def load_tlc_city(
    trip_paths: PathLike | Iterable[PathLike],
    adjacency_path: PathLike,
    *,
    slot_minutes: float = 20.0,
    start_hour: float = 7.0,
    horizon: int = 36,
    max_trip_steps: int = 3,
    demand_per_driver: float = 0.7,
    smoothing: float = 1.0,
    fare_additions: Sequence[str] = ("extra", "tip_amount"),
) -> EDRPCity:
    """An :class:`EDRPCity` from TLC trip records and a zone-adjacency CSV (module doc).

    Args:
        trip_paths: one or more TLC trip files (``.csv``, ``.csv.gz`` or ``.parquet``).
        adjacency_path: the zone-adjacency CSV (``LocationID,NeighborID``).
        slot_minutes: slot length; ``start_hour * 60`` must be a whole number of slots.
        start_hour, horizon: the window, ``horizon`` slots from ``start_hour`` (within a day).
        max_trip_steps: trips of this many slots or more are dropped.
        demand_per_driver: window mean of the orders per driver and slot (sets the fleet size).
        smoothing: pseudo-count of the additive smoothing of destinations and fares.
        fare_additions: money columns added to ``fare_amount`` where a file has them (module
            doc); ``()`` for the metered fare alone (the first EDRP's TLC cities).

    Raises:
        ValueError: bad arguments, a malformed adjacency or trip file (naming the file, line
            and column), or no trip in the window.
    """
    check_number("slot_minutes", slot_minutes, 1.0, 240.0)
    check_number("start_hour", start_hour, 0.0, 24.0)
    check_int("horizon", horizon, 1, 1440)
    check_int("max_trip_steps", max_trip_steps, 1, 24)
    check_number("demand_per_driver", demand_per_driver, 0.0, 100.0, low_inclusive=False)
    check_number("smoothing", smoothing, 0.0, 1e6, low_inclusive=False)
    first = 60.0 * start_hour / slot_minutes
    if first != int(first) or (int(first) + horizon) * slot_minutes > 1440:
        raise ValueError(
            f"the window must start on a slot boundary and end within the day: start_hour "
            f"{start_hour}, horizon {horizon} slots of {slot_minutes} minutes"
        )
    zone_ids, neighbors = read_zone_adjacency(adjacency_path)
    v = zone_ids.size
    trips = load_nyc_tlc(
        trip_paths,
        v,
        zone_cells={int(z): i for i, z in enumerate(zone_ids)},
        step_minutes=slot_minutes,
        max_trip_minutes=max_trip_steps * slot_minutes,
        fare_additions=tuple(fare_additions),
    )
    t = trips.step - int(first)
    inside = (t >= 0) & (t < horizon)
    if not inside.any():
        raise ValueError(
            f"no trip starts in the window of {horizon} slots from {start_hour} h "
            f"({len(trips)} trips read)"
        )
    t, origin, dest = t[inside], trips.origin[inside], trips.destination[inside]
    fare, steps = trips.price[inside], trips.duration[inside]
    cell = t * v + origin
    counts = np.bincount(cell, minlength=horizon * v).reshape(horizon, v)

    od = np.bincount(cell * v + dest, minlength=horizon * v * v).reshape(horizon, v, v)
    whole = od.sum(axis=0) + smoothing / v  # (V, V) the origin's whole-window destinations
    prior = whole / whole.sum(axis=1, keepdims=True)
    destinations = (od + smoothing * prior) / (counts[..., None] + smoothing)

    fare_sum = np.bincount(cell, weights=fare, minlength=horizon * v).reshape(horizon, v)
    origin_trips = counts.sum(axis=0)
    origin_fare = np.where(
        origin_trips > 0, fare_sum.sum(axis=0) / np.maximum(origin_trips, 1), fare.mean()
    )
    fares = (fare_sum + smoothing * origin_fare) / (counts + smoothing)

    pair = origin * v + dest
    pair_n = np.bincount(pair, minlength=v * v).reshape(v, v)
    pair_steps = np.bincount(pair, weights=steps, minlength=v * v).reshape(v, v)
    origin_steps = np.where(origin_trips > 0, pair_steps.sum(1) / np.maximum(origin_trips, 1), 1)
    mean_steps = np.where(pair_n > 0, pair_steps / np.maximum(pair_n, 1), origin_steps[:, None])
    trip_steps = np.clip(np.rint(mean_steps), 1, max_trip_steps).astype(np.int64)

    per_day = counts / trips.n_days
    demand = per_day * (demand_per_driver / per_day.sum(axis=1).mean())
    return EDRPCity(
        zone_ids=zone_ids,
        neighbors=neighbors,
        demand=demand,
        destinations=destinations,
        fares=fares,
        trip_steps=trip_steps,
        slot_minutes=slot_minutes,
        start_minute=60.0 * start_hour,
    )
