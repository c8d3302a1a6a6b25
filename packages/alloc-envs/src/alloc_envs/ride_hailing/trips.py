"""Recorded taxi / ride-hailing trips mapped onto a hexagonal city grid.

A :class:`TripTable` holds one row per trip: the 0-based day index, the pickup step of that day, the
origin and destination cell ids of a :class:`~alloc_envs.core.hexgrid.HexGrid`, the duration in
steps and the price. Units:

* time is split into steps of ``step_minutes`` minutes (10 by default, so 144 steps a day;
  ``n_steps = ceil(1440 / step_minutes)``); a pickup at minute ``m`` of the local day (``m`` in
  ``0..1439``, seconds truncated) falls in step ``m // step_minutes``;
* days are local calendar dates; ``day`` indexes the sorted distinct pickup dates present in the
  data (``day_labels``, ``"YYYY-MM-DD"``);
* a trip lasting ``t`` minutes takes ``floor(t / step_minutes) + 1`` steps (always ``>= 1``);
* prices are in the source's own currency unit, unscaled (DiDi ``reward_units``, NYC TLC US
  dollars of ``fare_amount``);
* longitudes / latitudes are WGS84 degrees.

Sources of the schemas:

* DiDi GAIA KDD Cup 2020 order files (``total_ride_request/order_201611DD``) as read by the DyPS
  reference code's ``tools/parse_data.py``: no header, 8 comma-separated fields ``order_id,
  ride_start_timestamp, ride_stop_timestamp, pickup_lon, pickup_lat, dropoff_lon, dropoff_lat,
  reward_units`` with Unix timestamps in seconds (see :func:`load_didi_gaia`);
* the NYC TLC trip record data dictionary (yellow ``tpep_*`` and green ``lpep_*`` trip records,
  CSV with a header or Parquet; see :func:`load_nyc_tlc`).

Processed tables can be cached with :meth:`TripTable.save` / :meth:`TripTable.load` (a compressed
``.npz`` file readable without pickle).
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import operator
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.core.textfiles import open_text, read_bytes
from alloc_envs.ride_hailing.geo_index import BBox, GeoIndex

__all__ = ["CHENGDU_BBOX", "TripTable", "geo_to_cell", "load_didi_gaia", "load_nyc_tlc"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: (lon_min, lat_min, lon_max, lat_max) of Chengdu's centre, the box that the DyPS reference code
#: re-grids into 500 cells.
CHENGDU_BBOX: BBox = (103.9221, 30.5592, 104.2117, 30.7909)

MINUTES_PER_DAY = 1440
SECONDS_PER_DAY = 86_400
#: TLC zones "Unknown" (264) and "Outside of NYC" (265): trips touching them are always dropped.
TLC_UNKNOWN_ZONES = (264, 265)
#: Pickup timestamps (local seconds) beyond this magnitude are treated as invalid.
_MAX_ABS_SECONDS = 1e11
#: Largest price magnitude a trip may have (in the source's unit): larger finite values are a
#: corrupt file or a unit mistake, and would overflow the simulator's integer price bins.
MAX_PRICE = 1e9
#: A UTC offset at the end of a timestamp (``+05:00``, ``-0400``, ``+05``, ``Z``).
_UTC_OFFSET = re.compile(r"(?<=\d)(?:Z|[+-]\d\d(?::?\d\d)?)$")

_INT_FIELDS = ("day", "step", "origin", "destination", "duration")
_SLICE_FIELDS = ("step", "origin", "destination", "duration", "price")
_FORMAT_VERSION = 1
_DIDI_FIELDS = (
    "order_id",
    "ride_start_timestamp",
    "ride_stop_timestamp",
    "pickup_lon",
    "pickup_lat",
    "dropoff_lon",
    "dropoff_lat",
    "reward_units",
)
_CSV_CHUNK_ROWS = 262_144


# --------------------------------------------------------------------------------------------------
# TripTable
# --------------------------------------------------------------------------------------------------


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"TripTable.{name} must be a positive integer, got {value!r}")
    return int(value)


def _as_int_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"TripTable.{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "u":
        if arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"TripTable.{name} has values that do not fit in int64")
    elif arr.dtype.kind == "f":
        if arr.size and not (np.isfinite(arr).all() and (arr == np.floor(arr)).all()):
            raise ValueError(f"TripTable.{name} must hold integers, got non-integral values")
    elif arr.dtype.kind != "i":
        raise ValueError(f"TripTable.{name} must be an integer array, got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.int64, copy=True)
    out.setflags(write=False)
    return out


def _as_float_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"TripTable.{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"TripTable.{name} must be a numeric array, got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def _check_range(name: str, arr: np.ndarray, low: int, high: int, meaning: str) -> None:
    """Raise unless ``low <= arr < high`` everywhere."""
    if arr.size and (arr.min() < low or arr.max() >= high):
        raise ValueError(
            f"TripTable.{name} must lie in [{low}, {high}) ({meaning}); "
            f"got values in [{arr.min()}, {arr.max()}]"
        )


@dataclass(frozen=True, eq=False)
class TripTable:
    """Trips as a struct of arrays, one row per trip (``n`` rows).

    Attributes:
        day: (n,) int64 0-based day index into ``day_labels``.
        step: (n,) int64 pickup step of the day, in ``[0, n_steps)``.
        origin: (n,) int64 pickup cell id, in ``[0, n_cells)``.
        destination: (n,) int64 drop-off cell id, in ``[0, n_cells)``.
        duration: (n,) int64 trip duration in steps, ``>= 1``.
        price: (n,) float64 finite price in the source's currency unit (unscaled), at most
            :data:`MAX_PRICE` in magnitude.
        n_cells: number of cells G of the grid the trips were mapped to.
        n_steps: number of steps per day.
        day_labels: one label per day (the local calendar date as ``"YYYY-MM-DD"``).

    The arrays are converted to the dtypes above, copied and made read-only; invalid values raise
    ``ValueError`` naming the field and its allowed range. Rows keep the order they were read in;
    :meth:`day_slice` returns one day sorted by (step, origin, row). Tables compare by identity.
    """

    day: np.ndarray
    step: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    duration: np.ndarray
    price: np.ndarray
    n_cells: int
    n_steps: int
    day_labels: tuple[str, ...]

    def __post_init__(self) -> None:
        n_cells = _positive_int("n_cells", self.n_cells)
        n_steps = _positive_int("n_steps", self.n_steps)
        if isinstance(self.day_labels, (str, bytes)):
            raise ValueError("TripTable.day_labels must be a sequence of strings, got one string")
        labels = tuple(self.day_labels)
        for label in labels:
            if not isinstance(label, str):
                raise ValueError(f"TripTable.day_labels must hold strings, got {label!r}")
        if len(set(labels)) != len(labels):
            raise ValueError("TripTable.day_labels must be distinct")
        arrays = {name: _as_int_array(name, getattr(self, name)) for name in _INT_FIELDS}
        arrays["price"] = _as_float_array("price", self.price)
        n = len(arrays["day"])
        for name, arr in arrays.items():
            if len(arr) != n:
                raise ValueError(f"TripTable.{name} has length {len(arr)} but day has length {n}")
        _check_range("day", arrays["day"], 0, len(labels), "index into day_labels")
        _check_range("step", arrays["step"], 0, n_steps, "steps of the day, n_steps")
        _check_range("origin", arrays["origin"], 0, n_cells, "cell ids, n_cells")
        _check_range("destination", arrays["destination"], 0, n_cells, "cell ids, n_cells")
        if n and arrays["duration"].min() < 1:
            raise ValueError(
                f"TripTable.duration must be >= 1 step; got minimum {arrays['duration'].min()}"
            )
        if not np.isfinite(arrays["price"]).all():
            raise ValueError("TripTable.price must be finite (no NaN or infinity)")
        big = np.flatnonzero(np.abs(arrays["price"]) > MAX_PRICE)
        if big.size:
            raise ValueError(
                f"TripTable.price of row {big[0]} is {arrays['price'][big[0]]:g}, beyond "
                f"±{MAX_PRICE:g} (a corrupt value or a unit mistake)"
            )
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "n_cells", n_cells)
        object.__setattr__(self, "n_steps", n_steps)
        object.__setattr__(self, "day_labels", labels)

    def __len__(self) -> int:
        """Number of trips n."""
        return len(self.day)

    @property
    def n_trips(self) -> int:
        """Number of trips n."""
        return len(self.day)

    @property
    def n_days(self) -> int:
        """Number of days D = ``len(day_labels)`` (days may hold no trip)."""
        return len(self.day_labels)

    @cached_property
    def _day_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Row order sorted by (day, step, origin, row) and the (D + 1,) day boundaries in it."""
        order = np.lexsort((self.origin, self.step, self.day))  # stable: ties keep row order
        bounds = np.searchsorted(self.day[order], np.arange(self.n_days + 1))
        return order, bounds

    def day_slice(self, day: int) -> dict[str, np.ndarray]:
        """The trips of one day, sorted by (step, origin, original row order).

        Returns a dict with keys ``"step"``, ``"origin"``, ``"destination"``, ``"duration"``
        (each (m,) int64) and ``"price"`` ((m,) float64); the arrays are fresh copies.
        """
        try:
            index = operator.index(day)
        except TypeError:
            raise ValueError(f"day must be an integer, got {day!r}") from None
        if not 0 <= index < self.n_days:
            raise ValueError(f"day must lie in [0, {self.n_days}), got {index}")
        order, bounds = self._day_order
        rows = order[bounds[index] : bounds[index + 1]]
        return {name: getattr(self, name)[rows] for name in _SLICE_FIELDS}

    def select_days(self, labels: Iterable[str]) -> TripTable:
        """A table with only the days named in ``labels`` (in that order), e.g. to drop the
        stray records dated outside a monthly file. Unknown labels raise ``ValueError``."""
        wanted = list(labels)
        unknown = [label for label in wanted if label not in self.day_labels]
        if unknown:
            raise ValueError(f"unknown day label(s) {unknown}; the table has {self.day_labels}")
        new_index = np.full(self.n_days, -1, dtype=np.int64)
        for i, label in enumerate(wanted):
            new_index[self.day_labels.index(label)] = i
        day = new_index[self.day]
        keep = day >= 0
        return TripTable(
            day=day[keep],
            step=self.step[keep],
            origin=self.origin[keep],
            destination=self.destination[keep],
            duration=self.duration[keep],
            price=self.price[keep],
            n_cells=self.n_cells,
            n_steps=self.n_steps,
            day_labels=tuple(wanted),
        )

    def save(self, path: PathLike) -> None:
        """Write the table to ``path`` (exactly that name) as a compressed ``.npz`` archive.

        The archive is written to a temporary file next to ``path`` and moved into place, so an
        interrupted save never leaves a half-written file where an older table was.
        """
        target = os.fspath(path)
        tmp = f"{target}.tmp-{os.getpid()}"
        try:
            self._write(tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def _write(self, path: str) -> None:
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                format_version=np.int64(_FORMAT_VERSION),
                day=self.day,
                step=self.step,
                origin=self.origin,
                destination=self.destination,
                duration=self.duration,
                price=self.price,
                n_cells=np.int64(self.n_cells),
                n_steps=np.int64(self.n_steps),
                day_labels=np.array(self.day_labels, dtype=np.str_).reshape(-1),
            )

    @classmethod
    def load(cls, path: PathLike) -> TripTable:
        """Read a table written by :meth:`save` (no pickle is involved).

        Raises ``ValueError`` if the file is not such an archive or misses one of its arrays.
        """
        try:
            loaded = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: not a TripTable .npz archive ({exc})") from exc
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not a TripTable .npz archive (holds a single array)")
        with loaded as npz:
            required = ("format_version", *_INT_FIELDS, "price", "n_cells", "n_steps", "day_labels")
            missing = [key for key in required if key not in npz.files]
            if missing:
                raise ValueError(f"{path}: not a TripTable archive, missing arrays {missing}")
            try:
                data = {key: npz[key] for key in required}
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise ValueError(f"{path}: unreadable TripTable archive ({exc})") from exc
        scalars = {}
        for key in ("format_version", "n_cells", "n_steps"):
            value = data[key]
            if value.shape != () or value.dtype.kind not in "iu":
                raise ValueError(f"{path}: {key} must be an integer scalar, got {value!r}")
            scalars[key] = int(value)
        if scalars["format_version"] != _FORMAT_VERSION:
            raise ValueError(
                f"{path}: unsupported TripTable format_version {scalars['format_version']} "
                f"(this code reads {_FORMAT_VERSION})"
            )
        labels = data["day_labels"]
        if labels.ndim != 1 or (labels.size and labels.dtype.kind != "U"):
            raise ValueError(f"{path}: day_labels must be a 1-D unicode array")
        try:
            return cls(
                day=data["day"],
                step=data["step"],
                origin=data["origin"],
                destination=data["destination"],
                duration=data["duration"],
                price=data["price"],
                n_cells=scalars["n_cells"],
                n_steps=scalars["n_steps"],
                day_labels=tuple(str(label) for label in labels),
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# Geographic points -> cells
# --------------------------------------------------------------------------------------------------


def _check_bbox(bbox: Sequence[float]) -> BBox:
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(
            f"bbox must be (lon_min, lat_min, lon_max, lat_max), got {bbox!r}"
        ) from None
    if len(values) != 4:
        raise ValueError(f"bbox must be (lon_min, lat_min, lon_max, lat_max), got {bbox!r}")
    lon_min, lat_min, lon_max, lat_max = values
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"bbox must be finite, got {bbox!r}")
    if not lon_min < lon_max:
        raise ValueError(f"bbox needs lon_min < lon_max, got {bbox!r}")
    if not -90.0 <= lat_min < lat_max <= 90.0:
        raise ValueError(f"bbox needs -90 <= lat_min < lat_max <= 90, got {bbox!r}")
    return lon_min, lat_min, lon_max, lat_max


@lru_cache(maxsize=8)
def _geo_index(grid: HexGrid, bbox: BBox) -> GeoIndex:
    return GeoIndex(grid, bbox)


def geo_to_cell(lon: Any, lat: Any, grid: HexGrid, bbox: Sequence[float]) -> np.ndarray:
    """Map WGS84 points to the cells of ``grid`` laid over ``bbox``.

    The lattice of cell centres is stretched affinely over ``bbox = (lon_min, lat_min, lon_max,
    lat_max)`` (degrees): the extreme x of the centres go to lon_min / lon_max, the extreme y
    (pointing south) to lat_max / lat_min; for an axis of zero extent (one column, or a 1x1 grid)
    the centres sit in the middle of the box. Each point then goes to the nearest centre, with
    longitude differences scaled by ``cos`` of the box's mean latitude so that distances are
    locally isotropic (ties go to the lowest cell id). Work is done in bounded chunks.

    Args:
        lon, lat: array-likes of degrees, broadcastable to a common shape S.
        grid: the hexagonal grid.
        bbox: the bounding box; points on its edges are inside.

    Returns:
        int64 array of shape S with the cell ids, ``-1`` for points outside the box or NaN.
    """
    index = _geo_index(grid, _check_bbox(bbox))
    lon_arr, lat_arr = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return index.lookup(lon_arr.ravel(), lat_arr.ravel()).reshape(lon_arr.shape)


# --------------------------------------------------------------------------------------------------
# Shared loader machinery
# --------------------------------------------------------------------------------------------------


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    out = list(paths)
    if not out:
        raise ValueError("no input file given")
    for path in out:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"paths must be str or os.PathLike, got {path!r}")
    return out


def _check_time_args(step_minutes: float, min_trip_minutes: float, max_trip_minutes: float) -> int:
    """Validate the time arguments; return the number of steps per day."""
    for name, value in (
        ("step_minutes", step_minutes),
        ("min_trip_minutes", min_trip_minutes),
        ("max_trip_minutes", max_trip_minutes),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if step_minutes <= 0:
        raise ValueError(f"step_minutes must be > 0, got {step_minutes!r}")
    if not 0 <= min_trip_minutes < max_trip_minutes:
        raise ValueError(
            "need 0 <= min_trip_minutes < max_trip_minutes, got "
            f"{min_trip_minutes!r} and {max_trip_minutes!r}"
        )
    return math.ceil(MINUTES_PER_DAY / step_minutes)


def _first_failure(n: int, parse: Callable[[int, int], object]) -> int:
    """Index of the first item in ``[0, n)`` for which ``parse(lo, hi)`` fails (it fails on
    ``[0, n)``). Halves the range each time, so the total parsing work is ``O(n)``."""
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            parse(lo, mid)
        except ValueError:
            hi = mid
        else:
            lo = mid
    return lo


def _check_prices(
    values: np.ndarray, path: PathLike, lines: np.ndarray, column: str, unit: str = "line"
) -> None:
    """``ValueError`` naming the file, the line (or row) and the column of the first finite price
    beyond :data:`MAX_PRICE` in magnitude (non-finite ones are dropped by the loaders)."""
    big = np.flatnonzero(np.abs(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)) > MAX_PRICE)
    if big.size:
        i = int(big[0])
        raise ValueError(
            f"{path}, {unit} {lines[i]}: {column} is {values[i]:g}, beyond ±{MAX_PRICE:g} "
            "(a corrupt value or a unit mistake)"
        )


class _Collector:
    """Counts the rows dropped by each filter and gathers the surviving trips."""

    def __init__(self, source: str, filters: Sequence[str]) -> None:
        self.source = source
        self.n_read = 0
        self.dropped = dict.fromkeys(filters, 0)
        self.parts: list[tuple[np.ndarray, ...]] = []

    def drop(self, name: str, keep: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """``keep & ~bad``, counting the rows of ``keep`` that ``bad`` removes under ``name``."""
        self.dropped[name] += int(np.count_nonzero(keep & bad))
        return keep & ~bad

    def time_filters(
        self, start_s: np.ndarray, minutes: np.ndarray, min_minutes: float, max_minutes: float
    ) -> np.ndarray:
        """Mask of the rows with a valid pickup time and a duration in [min, max) minutes."""
        self.n_read += len(start_s)
        keep = np.ones(len(start_s), dtype=bool)
        keep = self.drop("invalid_time", keep, ~(np.abs(start_s) < _MAX_ABS_SECONDS))
        keep = self.drop("too_short", keep, ~(minutes >= min_minutes))  # NaN is too short
        return self.drop("too_long", keep, minutes >= max_minutes)

    def add(
        self,
        start_s: np.ndarray,
        minutes: np.ndarray,
        origin: np.ndarray,
        destination: np.ndarray,
        price: np.ndarray,
    ) -> None:
        self.parts.append((start_s, minutes, origin, destination, price))

    def summary(self) -> str:
        kept = sum(len(part[0]) for part in self.parts)
        dropped = ", ".join(f"{name}={count}" for name, count in self.dropped.items())
        return f"read {self.n_read} rows, kept {kept}; dropped by filter: {dropped}"

    def build(self, n_cells: int, step_minutes: float, n_steps: int) -> TripTable:
        """Assemble the table: days, steps and durations in steps from local seconds/minutes."""
        if sum(len(part[0]) for part in self.parts) == 0:
            raise ValueError(f"{self.source}: no trip survived the filters ({self.summary()})")
        logger.info("%s: %s", self.source, self.summary())
        start_s, minutes, origin, destination, price = (
            np.concatenate(column) for column in zip(*self.parts, strict=True)
        )
        seconds = np.floor(start_s).astype(np.int64)
        day_number = seconds // SECONDS_PER_DAY
        minute = (seconds - day_number * SECONDS_PER_DAY) // 60
        step = np.floor_divide(minute, step_minutes).astype(np.int64)
        duration = (np.floor(minutes / step_minutes) + 1).astype(np.int64)
        days, day = np.unique(day_number, return_inverse=True)
        labels = tuple(str(np.datetime64(int(d), "D")) for d in days)
        return TripTable(
            day=day.reshape(-1),
            step=step,
            origin=origin,
            destination=destination,
            duration=duration,
            price=price,
            n_cells=n_cells,
            n_steps=n_steps,
            day_labels=labels,
        )


# --------------------------------------------------------------------------------------------------
# DiDi GAIA (KDD Cup 2020, Chengdu)
# --------------------------------------------------------------------------------------------------


def _parse_didi_lines(lines: list[bytes]) -> np.ndarray:
    return np.loadtxt(
        lines,
        delimiter=",",
        usecols=range(1, len(_DIDI_FIELDS)),
        comments=None,
        dtype=np.float64,
        ndmin=2,
    )


def _read_didi_file(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(m, 7) float64 of the numeric fields of one order file (blank lines skipped) and the
    (m,) 1-based line number of each row."""
    lines = read_bytes(path).splitlines()
    n_commas = len(_DIDI_FIELDS) - 1
    commas = np.fromiter(
        map(operator.methodcaller("count", b","), lines), dtype=np.int64, count=len(lines)
    )
    line_numbers = np.arange(1, len(lines) + 1)
    odd = np.flatnonzero(commas != n_commas)
    if len(odd):
        blank = np.array([not lines[i].strip() for i in odd], dtype=bool)
        if not blank.all():
            i = int(odd[np.argmin(blank)])
            raise ValueError(
                f"{path}, line {i + 1}: expected {len(_DIDI_FIELDS)} comma-separated fields "
                f"({', '.join(_DIDI_FIELDS)}), got {commas[i] + 1}"
            )
        line_numbers = np.delete(line_numbers, odd)
        lines = [lines[i] for i in line_numbers - 1]
    if not lines:
        return np.zeros((0, len(_DIDI_FIELDS) - 1)), line_numbers
    try:
        return _parse_didi_lines(lines), line_numbers
    except ValueError as exc:
        bad = _first_failure(len(lines), lambda lo, hi: _parse_didi_lines(lines[lo:hi]))
        number = int(line_numbers[bad])
        text = lines[bad].decode("utf-8", "replace")
        raise ValueError(
            f"{path}, line {number}: cannot parse the numeric fields of {text!r} ({exc})"
        ) from None


def load_didi_gaia(
    paths: PathLike | Iterable[PathLike],
    grid: HexGrid,
    bbox: Sequence[float] = CHENGDU_BBOX,
    *,
    step_minutes: float = 10,
    utc_offset_hours: float = 8.0,
    min_trip_minutes: float = 3.0,
    max_trip_minutes: float = 180.0,
) -> TripTable:
    """Load DiDi GAIA (KDD Cup 2020, Chengdu) order files into a :class:`TripTable`.

    Each file (``total_ride_request/order_201611DD``; a ``.gz`` suffix is decompressed) has no
    header and one order per line with 8 comma-separated fields: ``order_id`` (hex string),
    ``ride_start_timestamp`` and ``ride_stop_timestamp`` (Unix seconds), ``pickup_lon``,
    ``pickup_lat``, ``dropoff_lon``, ``dropoff_lat`` (degrees) and ``reward_units`` (price, kept
    unscaled). Blank lines are skipped.

    Rules, applied in this order (each drop is counted, see the log / the error below):

    * ``invalid_time``: non-finite pickup timestamp;
    * ``too_short`` / ``too_long``: duration in minutes ``< min_trip_minutes`` (or not finite) /
      ``>= max_trip_minutes``;
    * ``outside_bbox``: pickup or drop-off outside ``bbox`` (mapped with :func:`geo_to_cell`);
    * ``bad_price``: non-finite or non-positive ``reward_units`` (a finite one beyond
      :data:`MAX_PRICE` in magnitude is a ``ValueError`` naming the file and line).

    Local time is UTC + ``utc_offset_hours``; the pickup step is ``(minute of the local day) //
    step_minutes``; the duration in steps is ``floor(minutes / step_minutes) + 1``; the day is
    the index of the local pickup date among the sorted distinct dates (``day_labels``).

    Args:
        paths: one path or a list of paths (str or os.PathLike).
        grid: the hexagonal grid the points are mapped to.
        bbox: (lon_min, lat_min, lon_max, lat_max) the grid is laid over.

    Raises:
        ValueError: a malformed line (naming the file and its 1-based line number), or no trip
            surviving the filters (with the counts dropped by each filter).
    """
    n_steps = _check_time_args(step_minutes, min_trip_minutes, max_trip_minutes)
    index = _geo_index(grid, _check_bbox(bbox))
    offset_s = float(utc_offset_hours) * 3600.0
    if not math.isfinite(offset_s):
        raise ValueError(f"utc_offset_hours must be finite, got {utc_offset_hours!r}")
    files = _as_paths(paths)
    collector = _Collector(
        "load_didi_gaia", ("invalid_time", "too_short", "too_long", "outside_bbox", "bad_price")
    )
    for path in files:
        raw, line_numbers = _read_didi_file(path)
        _check_prices(raw[:, 6], path, line_numbers, "reward_units")
        start_s = raw[:, 0] + offset_s
        minutes = (raw[:, 1] - raw[:, 0]) / 60.0
        keep = collector.time_filters(start_s, minutes, min_trip_minutes, max_trip_minutes)
        origin = np.full(len(raw), -1, dtype=np.int64)
        destination = origin.copy()
        origin[keep] = index.lookup(raw[keep, 2], raw[keep, 3])
        destination[keep] = index.lookup(raw[keep, 4], raw[keep, 5])
        keep = collector.drop("outside_bbox", keep, (origin < 0) | (destination < 0))
        price = raw[:, 6]
        keep = collector.drop("bad_price", keep, ~(np.isfinite(price) & (price > 0)))
        collector.add(start_s[keep], minutes[keep], origin[keep], destination[keep], price[keep])
    return collector.build(grid.n_cells, step_minutes, n_steps)


# --------------------------------------------------------------------------------------------------
# NYC TLC trip records
# --------------------------------------------------------------------------------------------------

_TLC_PICKUP = ("tpep_pickup_datetime", "lpep_pickup_datetime")
_TLC_DROPOFF = ("tpep_dropoff_datetime", "lpep_dropoff_datetime")
_TLC_FARE = "fare_amount"
_TLC_ZONES = ("PULocationID", "DOLocationID")
_TLC_GEO = ("pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude")


def _norm(name: str) -> str:
    return name.strip().lower()


def _tlc_plan(
    path: PathLike,
    header: Sequence[str],
    has_zone_map: bool,
    has_bbox: bool,
    fare_additions: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """Choose the location mode (``"zone"`` or ``"geo"``) and the header names to read, in the
    order pickup, dropoff, fare, the 2 zone or 4 coordinate columns, then those of
    ``fare_additions`` the file has. Names match case-insensitively, ignoring surrounding
    spaces."""
    by_norm: dict[str, str] = {}
    for name in header:
        by_norm.setdefault(_norm(name), name)

    def find(options: Sequence[str]) -> str | None:
        return next((by_norm[_norm(o)] for o in options if _norm(o) in by_norm), None)

    pickup, dropoff, fare = find(_TLC_PICKUP), find(_TLC_DROPOFF), find((_TLC_FARE,))
    missing = []
    if pickup is None:
        missing.append(" or ".join(_TLC_PICKUP))
    if dropoff is None:
        missing.append(" or ".join(_TLC_DROPOFF))
    if fare is None:
        missing.append(_TLC_FARE)
    zones = [find((c,)) for c in _TLC_ZONES]
    geo = [find((c,)) for c in _TLC_GEO]
    has_zones, has_geo = None not in zones, None not in geo
    mode = None
    if has_zones and has_zone_map:
        mode = "zone"
    elif has_geo and has_bbox:
        mode = "geo"
    elif not (has_zones or has_geo):
        missing.append(f"location columns ({', '.join(_TLC_ZONES)}) or ({', '.join(_TLC_GEO)})")
    if missing:
        raise ValueError(f"{path}: missing TLC column(s): {'; '.join(missing)}")
    if mode is None:
        if has_zones:
            raise ValueError(
                f"{path}: the file locates trips by zone ({', '.join(_TLC_ZONES)}); pass "
                "zone_cells={LocationID: cell} or a CSV path with header LocationID,cell"
            )
        raise ValueError(
            f"{path}: the file locates trips by coordinates ({', '.join(_TLC_GEO)}); pass bbox="
            "(lon_min, lat_min, lon_max, lat_max)"
        )
    location = zones if mode == "zone" else geo
    additions = [name for name in (find((c,)) for c in fare_additions) if name is not None]
    return mode, [pickup, dropoff, fare, *location, *additions]  # type: ignore[list-item]


def _zone_table(zone_cells: Mapping[int, int] | PathLike, n_cells: int) -> tuple[np.ndarray, ...]:
    """Sorted (k,) float64 zone ids and their (k,) int64 cells."""
    if isinstance(zone_cells, (str, os.PathLike)):
        pairs = _read_zone_csv(zone_cells)
        source = os.fspath(zone_cells)
    elif isinstance(zone_cells, Mapping):
        pairs = []
        for zone, cell in zone_cells.items():
            try:
                pairs.append((operator.index(zone), operator.index(cell)))
            except TypeError:
                raise ValueError(
                    f"zone_cells must map integer LocationIDs to integer cells, got "
                    f"{zone!r}: {cell!r}"
                ) from None
        source = "zone_cells"
    else:
        raise ValueError(
            f"zone_cells must be a mapping or a CSV path, got {type(zone_cells).__name__}"
        )
    for zone, cell in pairs:
        if not 0 <= cell < n_cells:
            raise ValueError(f"{source}: zone {zone} maps to cell {cell}, not in [0, {n_cells})")
    zones = np.array([p[0] for p in pairs], dtype=np.int64)
    cells = np.array([p[1] for p in pairs], dtype=np.int64)
    order = np.argsort(zones, kind="stable")
    return zones[order].astype(np.float64), cells[order]


def _read_zone_csv(path: PathLike) -> list[tuple[int, int]]:
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = [_norm(h) for h in next(reader, [])]
        if "locationid" not in header or "cell" not in header:
            raise ValueError(f"{path}: zone_cells CSV needs a header with LocationID,cell")
        iz, ic = header.index("locationid"), header.index("cell")
        pairs = []
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            try:
                pairs.append((int(row[iz]), int(row[ic])))
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}, line {reader.line_num}: expected integer LocationID,cell, got {row}"
                ) from None
    return pairs


def _parse_strings(
    values: np.ndarray,
    dtype: str,
    path: PathLike,
    lines: np.ndarray,
    column: str,
    unit: str = "line",
) -> np.ndarray:
    """Convert a unicode column to ``dtype``; empty cells become NaN / NaT.

    ``lines`` holds the 1-based line (or ``unit``) number of each value, for the error message.
    """
    if dtype == "float64":
        empty = values == ""
        if empty.any():
            values = np.where(empty, "nan", values)
    else:
        values = _wall_clock(values)
    try:
        return _convert(values, dtype)
    except ValueError as exc:
        bad = _first_failure(len(values), lambda lo, hi: _convert(values[lo:hi], dtype))
        what = "a number" if dtype == "float64" else "a date-time YYYY-MM-DD HH:MM:SS"
        raise ValueError(
            f"{path}, {unit} {lines[bad]}: cannot parse {column} value {values[bad]!r} as {what} "
            f"({exc})"
        ) from None


def _convert(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values.astype(dtype)``; a time zone numpy would convert to UTC (one :func:`_wall_clock`
    does not recognise) is a ``ValueError``, not a warning and a shifted time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*timezones", category=UserWarning)
        try:
            return values.astype(dtype)
        except UserWarning as exc:
            raise ValueError(f"unsupported UTC offset: {exc}") from None


def _wall_clock(values: np.ndarray) -> np.ndarray:
    """Timestamps without their trailing UTC offset (``+05:00``, ``-0400``, ``Z``): the local
    wall-clock time each one writes (see :func:`load_nyc_tlc`)."""
    marked = (
        (np.char.find(values, "+", 10) >= 0)
        | (np.char.find(values, "-", 10) >= 0)
        | np.char.endswith(values, "Z")
    )
    if not marked.any():
        return values
    out = values.copy()
    out[marked] = [_UTC_OFFSET.sub("", text) for text in values[marked].tolist()]
    return out


def _iter_tlc_csv(
    path: PathLike, has_zone_map: bool, has_bbox: bool, fare_additions: Sequence[str]
) -> Iterator[tuple[str, list[np.ndarray], np.ndarray]]:
    """Yield (mode, names, columns, lines) chunks of a TLC CSV file: the header names read and
    their columns (:func:`_tlc_plan`; datetime64[s] pickup and dropoff, float64 fare, location
    and fare-addition columns), and the 1-based line number of each row."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise ValueError(f"{path}: no CSV header on the first line")
        mode, names = _tlc_plan(path, header, has_zone_map, has_bbox, fare_additions)
        positions = [header.index(name) for name in names]
        needed = max(positions) + 1
        getter = operator.itemgetter(*positions)
        next_line = 2
        while True:
            rows = list(itertools.islice(reader, _CSV_CHUNK_ROWS))
            if not rows:
                return
            lines = np.arange(next_line, next_line + len(rows))
            next_line += len(rows)
            lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
            short = np.flatnonzero(lengths < needed)
            if len(short):
                blank = np.array([not any(f.strip() for f in rows[i]) for i in short], dtype=bool)
                if not blank.all():
                    i = int(short[np.argmin(blank)])
                    raise ValueError(
                        f"{path}, line {lines[i]}: expected at least {needed} fields for the "
                        f"columns {names}, got {lengths[i]}"
                    )
                rows = [row for i, row in enumerate(rows) if lengths[i] >= needed]
                lines = np.delete(lines, short)
                if not rows:
                    continue
            columns = [
                np.array(column, dtype=np.str_) for column in zip(*map(getter, rows), strict=True)
            ]
            kinds = ["datetime64[s]", "datetime64[s]"] + ["float64"] * (len(names) - 2)
            yield (
                mode,
                names,
                [
                    _parse_strings(values, kind, path, lines, name)
                    for values, kind, name in zip(columns, kinds, names, strict=True)
                ],
                lines,
            )


def _iter_tlc_parquet(
    path: PathLike, has_zone_map: bool, has_bbox: bool, fare_additions: Sequence[str]
) -> Iterator[tuple[str, list[np.ndarray], np.ndarray]]:
    """Same as :func:`_iter_tlc_csv` for a Parquet file (needs pyarrow), with 1-based row
    numbers in place of lines. A time zone-aware timestamp column is read as the wall-clock time
    in its own zone; a file or column pyarrow cannot read is a ``ValueError`` naming it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(
            f"{path}: reading Parquet files needs pyarrow (`pip install pyarrow`), or convert the "
            "file to CSV"
        ) from None
    try:
        parquet = pq.ParquetFile(path)
        mode, names = _tlc_plan(
            path, parquet.schema_arrow.names, has_zone_map, has_bbox, fare_additions
        )
        row0 = 0
        for batch in parquet.iter_batches(columns=names, batch_size=_CSV_CHUNK_ROWS):
            rows = np.arange(row0 + 1, row0 + batch.num_rows + 1)
            row0 += batch.num_rows
            out = [
                _parquet_column(path, batch.column(name), name, rows, timestamp=i < 2)
                for i, name in enumerate(names)
            ]
            yield mode, names, out, rows
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None


def _parquet_column(
    path: PathLike, column: Any, name: str, rows: np.ndarray, timestamp: bool
) -> np.ndarray:
    """datetime64[s] (``timestamp``) or float64 values of one Parquet column of a batch; text
    is parsed like CSV cells (errors name the row and the column)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if timestamp and pa.types.is_timestamp(kind) and kind.tz is not None:
        try:
            column = pc.local_timestamp(column)  # the wall-clock time in the column's zone
        except pa.ArrowException as exc:
            raise ValueError(
                f"{path}, column {name}: cannot convert time zone {kind.tz!r} to local time "
                f"({exc}); install the tz database (tzdata) or store naive local times"
            ) from None
    if timestamp and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return column.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    if not timestamp and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64)
    strings = np.array(column.cast(pa.string()).fill_null("").to_pylist(), dtype=np.str_)
    dtype = "datetime64[s]" if timestamp else "float64"
    return _parse_strings(strings, dtype, path, rows, name, unit="row")


def _datetime_seconds(values: np.ndarray) -> np.ndarray:
    """float64 seconds since 1970-01-01 of datetime64[s] values; NaT becomes NaN."""
    seconds = values.astype(np.int64).astype(np.float64)
    seconds[np.isnat(values)] = np.nan
    return seconds


def load_nyc_tlc(
    paths: PathLike | Iterable[PathLike],
    grid: HexGrid | int,
    *,
    zone_cells: Mapping[int, int] | PathLike | None = None,
    bbox: Sequence[float] | None = None,
    step_minutes: float = 10,
    min_trip_minutes: float = 1.0,
    max_trip_minutes: float = 180.0,
    fare_additions: Sequence[str] = (),
) -> TripTable:
    """Load NYC TLC yellow / green taxi trip records into a :class:`TripTable`.

    Files are CSV with a header (``.csv``, or ``.csv.gz``) or Parquet (``.parquet``, read with
    pyarrow when it is installed). Columns are found by name, case-insensitively (extra columns are
    ignored): pickup / drop-off wall-clock NYC times ``tpep_pickup_datetime`` /
    ``tpep_dropoff_datetime`` (yellow) or ``lpep_*`` (green) as ``"YYYY-MM-DD HH:MM:SS"``; price
    ``fare_amount`` (US dollars, unscaled); and the locations, either

    * zone ids ``PULocationID``, ``DOLocationID`` (files since 2016-07): ``zone_cells`` is then
      required, a mapping ``{LocationID: cell}`` or the path of a CSV with header
      ``LocationID,cell``; trips touching a zone missing from it are dropped (``unmapped_zone``)
      and those touching zones 264 / 265 ("Unknown", "Outside of NYC") always are
      (``unknown_zone``); or
    * coordinates ``pickup_longitude``, ``pickup_latitude``, ``dropoff_longitude``,
      ``dropoff_latitude`` (older files): ``bbox`` is then required and points are mapped with
      :func:`geo_to_cell` (``outside_bbox``).

    ``grid`` is the :class:`HexGrid` the trips are mapped to or, with ``zone_cells`` and no
    ``bbox``, just the number of cells (e.g. of a zone graph, as EDRP's loader does).

    Time rules are those of :func:`load_didi_gaia` without a UTC offset (the times are local):
    drop ``invalid_time`` (missing pickup), ``too_short`` (< ``min_trip_minutes`` or missing
    drop-off), ``too_long`` (>= ``max_trip_minutes``), then the location filter, then
    ``bad_price`` (missing, NaN or non-positive fare). Empty cells count as missing. Rows too
    short to hold the needed columns raise ``ValueError`` naming the file and line (the row, for
    Parquet), as do values that cannot be parsed; blank lines are skipped. Every local date with a
    surviving trip becomes a day, including the few stray records dated outside a file's month.

    Times are the local wall-clock time of the trip, as TLC records them (naive New York time).
    A CSV timestamp with a UTC offset (``2016-07-01T00:05:00+05:00``, ``...-0400``, ``...Z``) is
    read as the wall-clock time it writes, offset ignored (00:05 on 2016-07-01, not converted to
    UTC); a time zone-aware Parquet timestamp column is read as the wall-clock time in its own
    zone. A file of UTC instants must be converted to New York time first. A fare beyond
    :data:`MAX_PRICE` in magnitude raises ``ValueError`` naming the file, line (row) and column.

    ``fare_additions``: money columns added to ``fare_amount`` where a file has them (e.g.
    ``("extra", "tip_amount")``: the rush-hour and overnight surcharges and the card tips, what
    a driver takes beyond the metered fare); an empty or NaN cell adds 0. The bound applies to
    each column, the ``bad_price`` filter to the sum.
    """
    n_steps = _check_time_args(step_minutes, min_trip_minutes, max_trip_minutes)
    n_cells = _n_cells(grid, bbox)
    zones = cells = None
    if zone_cells is not None:
        zones, cells = _zone_table(zone_cells, n_cells)
    index = None if bbox is None else _geo_index(grid, _check_bbox(bbox))
    files = _as_paths(paths)
    collector = _Collector(
        "load_nyc_tlc",
        (
            "invalid_time",
            "too_short",
            "too_long",
            "unknown_zone",
            "unmapped_zone",
            "outside_bbox",
            "bad_price",
        ),
    )
    for path in files:
        parquet = os.fspath(path).lower().endswith(".parquet")
        chunks = (_iter_tlc_parquet if parquet else _iter_tlc_csv)(
            path, zones is not None, index is not None, fare_additions
        )
        unit = "row" if parquet else "line"
        for mode, names, columns, lines in chunks:
            pickup, dropoff, fare = columns[:3]
            n_location = 2 if mode == "zone" else 4
            _check_prices(fare, path, lines, _TLC_FARE, unit)
            for name, addition in zip(
                names[3 + n_location :], columns[3 + n_location :], strict=True
            ):
                _check_prices(addition, path, lines, name, unit)
                fare = fare + np.nan_to_num(addition, nan=0.0)
            start_s = _datetime_seconds(pickup)
            minutes = (_datetime_seconds(dropoff) - start_s) / 60.0
            keep = collector.time_filters(start_s, minutes, min_trip_minutes, max_trip_minutes)
            if mode == "zone":
                pu, do = columns[3:5]
                unknown = np.isin(pu, TLC_UNKNOWN_ZONES) | np.isin(do, TLC_UNKNOWN_ZONES)
                keep = collector.drop("unknown_zone", keep, unknown)
                origin = _lookup_zones(pu, zones, cells)  # type: ignore[arg-type]
                destination = _lookup_zones(do, zones, cells)  # type: ignore[arg-type]
                keep = collector.drop("unmapped_zone", keep, (origin < 0) | (destination < 0))
            else:
                assert index is not None
                origin = np.full(len(keep), -1, dtype=np.int64)
                destination = origin.copy()
                plon, plat, dlon, dlat = (column[keep] for column in columns[3:7])
                origin[keep] = index.lookup(plon, plat)
                destination[keep] = index.lookup(dlon, dlat)
                keep = collector.drop("outside_bbox", keep, (origin < 0) | (destination < 0))
            keep = collector.drop("bad_price", keep, ~(np.isfinite(fare) & (fare > 0)))
            collector.add(start_s[keep], minutes[keep], origin[keep], destination[keep], fare[keep])
    return collector.build(n_cells, step_minutes, n_steps)


def _n_cells(grid: HexGrid | int, bbox: Sequence[float] | None) -> int:
    """The number of cells of ``grid``: a :class:`HexGrid` or, for zone-id files (no ``bbox``),
    a plain positive count (the cells are then just the values of ``zone_cells``)."""
    if isinstance(grid, HexGrid):
        return grid.n_cells
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
        raise ValueError(f"grid must be a HexGrid or a positive number of cells, got {grid!r}")
    if bbox is not None:
        raise ValueError("mapping coordinates with bbox needs a HexGrid, not a number of cells")
    return int(grid)


def _lookup_zones(ids: np.ndarray, zones: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(n,) int64 cells of float64 zone ids; ``-1`` for ids missing from the table or NaN."""
    out = np.full(ids.shape, -1, dtype=np.int64)
    if len(zones) == 0:
        return out
    pos = np.minimum(np.searchsorted(zones, ids), len(zones) - 1)
    found = zones[pos] == ids
    out[found] = cells[pos[found]]
    return out
