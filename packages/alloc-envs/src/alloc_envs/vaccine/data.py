"""Real cities from files: populations, visits (mobility), optional ages, coordinates, acceptance.

No real data ships with the package (the Atlanta inputs are SafeGraph-derived and not
redistributable, research note A.7); the tests write small files.

``.npz`` (:func:`load_city`), keys (N regions, P places, nnz visit entries):

================= ============ =====================================================================
key               shape        meaning
================= ============ =====================================================================
population        (N,)         residents per region: whole numbers >= 1 (required)
visits            (N, P)       hourly visits from region i to place j (people), or, instead:
visits_region     (nnz,) int   ... the same as a sparse list: region index 0..N-1,
visits_place      (nnz,) int   place index 0..P-1,
visits_count      (nnz,)       visits per hour (people);
kernel_neighbours (N, k) int   or a ready kernel (what :func:`save_city` writes): neighbour index
kernel_weights    (N, k)       and contact weight K_ik per row
place_factor      (P,)         optional transmission factor f_j of each place (Chang et al.:
                               psi (dwell / (dwell + 60))^2 / area); default 1 / (visits to j),
                               i.e. a visit's risk is the infectious share among co-visitors
age_shares        (N, 17)      optional shares of the age groups <5, 5-9, ..., 75-79, 80+ (rows
                               sum to 1); default: the metro pyramid for every region
coords            (N, 2)       optional region centres (any planar unit); default zeros
acceptance        (N,)         optional vaccine acceptance in [0, 1]; default the config's value
================= ============ =====================================================================

Exactly one mobility form is required (``visits``, the three ``visits_*`` arrays, or the two
``kernel_*`` arrays); unknown keys are errors. Visits are the baseline hourly counts (the
episode's diurnal profile and trend multiply them, :mod:`alloc_envs.vaccine.schedule`), and the
kernel is ``K = W diag(f) W^T`` restricted to the ``top_k`` largest entries per row
(:func:`~alloc_envs.vaccine.city.contact_kernel`). Calibrate the transmission level of a real
city with ``contact_scale`` (:func:`alloc_envs.vaccine.calibration.calibrate_contact_scale`).

CSV (:func:`load_city_csv`), two files with a header row:

* regions: one row per region, column ``population`` (required), optional ``id`` (what the
  visits file calls the region; default the 0-based row number), ``x`` and ``y``,
  ``acceptance``, and either all or none of the 17 age columns :data:`AGE_COLUMNS`;
* visits: columns ``region``, ``place`` (any label) and ``visits`` (per hour), optional
  ``place_factor`` (the same value on every row of a place).

Every problem is a ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from alloc_envs.core.textfiles import open_text
from alloc_envs.vaccine.city import City, contact_kernel
from alloc_envs.vaccine.config import AGE_GROUPS, AGE_PYRAMID, N_AGE_GROUPS

#: Names of the age columns of the regions CSV (the groups of ``AGE_GROUPS``).
AGE_COLUMNS: tuple[str, ...] = tuple(
    "age_" + g.replace("-", "_").replace("+", "_plus") for g in AGE_GROUPS
)
NPZ_KEYS = frozenset(
    {
        "population", "visits", "visits_region", "visits_place", "visits_count",
        "kernel_neighbours", "kernel_weights", "place_factor", "age_shares", "coords",
        "acceptance",
    }
)  # fmt: skip
DEFAULT_TOP_K = 16


def city_from_visits(
    population: np.ndarray,
    region: np.ndarray,
    place: np.ndarray,
    visits: np.ndarray,
    *,
    place_factor: np.ndarray | None = None,
    age_shares: np.ndarray | None = None,
    coords: np.ndarray | None = None,
    acceptance: np.ndarray | None = None,
    top_k: int = DEFAULT_TOP_K,
    name: str = "city",
) -> City:
    """A :class:`City` from arrays: populations and a sparse visit list (see the module table).

    Raises:
        ValueError: naming the array and the problem.
    """
    pop = _float_array("population", population, ndim=1)
    n = pop.shape[0]
    region = _index_array("visits_region", region, n)
    place = _index_array("visits_place", place, None)
    count = _float_array("visits_count", visits, ndim=1)
    if not region.shape == place.shape == count.shape:
        raise ValueError(
            f"visits_region, visits_place and visits_count must have the same length, got "
            f"{region.shape[0]}, {place.shape[0]} and {count.shape[0]}"
        )
    if np.any(count < 0):
        raise ValueError("visits_count must be non-negative")
    n_places = int(place.max()) + 1 if place.size else 0
    if place_factor is None:
        total = np.bincount(place, weights=count, minlength=n_places)
        factor = np.divide(1.0, total, out=np.zeros(n_places), where=total > 0)
    else:
        factor = _float_array("place_factor", place_factor, ndim=1)
        if factor.shape[0] < n_places:
            raise ValueError(
                f"place_factor must have one value per place (at least {n_places}), got "
                f"{factor.shape[0]}"
            )
        if np.any(factor < 0):
            raise ValueError("place_factor must be non-negative")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if not 2 <= n:
        raise ValueError(f"population must list at least 2 regions, got {n}")
    neighbours, weights = contact_kernel(region, place, count, factor, n, top_k)
    return _city(pop, neighbours, weights, age_shares, coords, acceptance, name)


def _city(
    pop: np.ndarray,
    neighbours: np.ndarray,
    weights: np.ndarray,
    age_shares: np.ndarray | None,
    coords: np.ndarray | None,
    acceptance: np.ndarray | None,
    name: str,
) -> City:
    n = pop.shape[0]
    if age_shares is None:
        base = np.asarray(AGE_PYRAMID, dtype=np.float64)
        age_shares = np.broadcast_to(base / base.sum(), (n, N_AGE_GROUPS))
    else:
        age_shares = _float_array("age_shares", age_shares, ndim=2)
        sums = age_shares.sum(axis=1, keepdims=True)
        off = np.abs(sums - 1.0) > 1e-12
        if age_shares.shape == (n, N_AGE_GROUPS) and np.all(np.abs(sums - 1.0) <= 1e-3):
            # absorb the rounding of published shares (rows already summing to 1 stay as they are)
            age_shares = np.where(off, age_shares / sums, age_shares)
    if coords is None:
        coords = np.zeros((n, 2))
    return City(
        population=pop,
        age_shares=age_shares,
        neighbours=neighbours,
        kernel=weights,
        coords=coords,
        acceptance=acceptance,
        name=name,
    )


def _float_array(name: str, value: object, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or inf values")
    return arr


def _index_array(name: str, value: object, upper: int | None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer indices")
    elif arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative indices, got {arr.min()}")
    if upper is not None and arr.size and arr.max() >= upper:
        raise ValueError(f"{name} must index regions 0..{upper - 1}, got {arr.max()}")
    return arr


# ---------------------------------------------------------------------- .npz


def load_city(path: str | os.PathLike, top_k: int = DEFAULT_TOP_K) -> City:
    """Load a city from an ``.npz`` file (format in the module docstring).

    Raises:
        ValueError: the file is missing or not an ``.npz`` archive, a key is missing, unknown or
            malformed; the message names the file and the key.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such city file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz city file ({exc})") from exc
    if not isinstance(arrays, Mapping) or not arrays:
        raise ValueError(f"{path}: not an .npz archive of named arrays")
    try:
        return _city_from_npz(arrays, top_k, path.name)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _city_from_npz(arrays: dict[str, np.ndarray], top_k: int, name: str) -> City:
    unknown = sorted(set(arrays) - NPZ_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; known keys: {sorted(NPZ_KEYS)}")
    if "population" not in arrays:
        raise ValueError("missing key 'population'")
    coo = ("visits_region", "visits_place", "visits_count")
    kernel = ("kernel_neighbours", "kernel_weights")
    forms = {
        "visits": "visits" in arrays,
        "visits_*": any(k in arrays for k in coo),
        "kernel_*": any(k in arrays for k in kernel),
    }
    given = [f for f, present in forms.items() if present]
    if len(given) != 1:
        raise ValueError(
            "give exactly one mobility form: 'visits' (N, P), or 'visits_region' + "
            "'visits_place' + 'visits_count', or 'kernel_neighbours' + 'kernel_weights'; "
            f"got {given}"
        )
    pop = _float_array("population", arrays["population"], ndim=1)
    optional = {k: arrays.get(k) for k in ("age_shares", "coords", "acceptance")}
    if given == ["kernel_*"]:
        missing = [k for k in kernel if k not in arrays]
        if missing:
            raise ValueError(f"missing key(s) {missing} (the kernel form needs both)")
        if "place_factor" in arrays:
            raise ValueError("place_factor applies to visits, not to a ready kernel")
        weights = _float_array("kernel_weights", arrays["kernel_weights"], ndim=2)
        neighbours = arrays["kernel_neighbours"]
        return _city(pop, neighbours, weights, name=name, **optional)
    if given == ["visits"]:
        dense = _float_array("visits", arrays["visits"], ndim=2)
        if dense.shape[0] != pop.shape[0]:
            raise ValueError(
                f"visits must have one row per region ({pop.shape[0]}), got shape {dense.shape}"
            )
        if np.any(dense < 0):
            raise ValueError("visits must be non-negative")
        region, place = np.nonzero(dense)
        count = dense[region, place]
    else:
        missing = [k for k in coo if k not in arrays]
        if missing:
            raise ValueError(f"missing key(s) {missing} (the sparse visits form needs all three)")
        region, place, count = (arrays[k] for k in coo)
    return city_from_visits(
        pop, region, place, count, place_factor=arrays.get("place_factor"), top_k=top_k,
        name=name, **optional,
    )  # fmt: skip


def save_city(city: City, path: str | os.PathLike) -> None:
    """Write ``city`` as an ``.npz`` file in the kernel form (reloaded by :func:`load_city`)."""
    arrays = {
        "population": city.population,
        "kernel_neighbours": city.neighbours,
        "kernel_weights": city.kernel,
        "age_shares": city.age_shares,
        "coords": city.coords,
    }
    if city.acceptance is not None:
        arrays["acceptance"] = city.acceptance
    np.savez_compressed(path, **arrays)


# ---------------------------------------------------------------------- CSV


def load_city_csv(
    regions: str | os.PathLike, visits: str | os.PathLike, top_k: int = DEFAULT_TOP_K
) -> City:
    """Load a city from a regions CSV and a visits CSV (format in the module docstring).

    Raises:
        ValueError: naming the file, the line and the problem.
    """
    header, rows = _read_csv(regions, required=("population",))
    n = len(rows)
    table = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    pop = _csv_numbers(regions, table, "population")
    ids = table.get("id", [str(i) for i in range(n)])
    index = {region_id: i for i, region_id in enumerate(ids)}
    if len(index) != n:
        raise ValueError(f"{regions}: column 'id' has duplicate region ids")
    coords = None
    if "x" in table or "y" in table:
        if not ("x" in table and "y" in table):
            raise ValueError(f"{regions}: give both columns 'x' and 'y' or neither")
        coords = np.stack([_csv_numbers(regions, table, "x"), _csv_numbers(regions, table, "y")], 1)
    acceptance = _csv_numbers(regions, table, "acceptance") if "acceptance" in table else None
    present = [c for c in AGE_COLUMNS if c in table]
    age_shares = None
    if present:
        if len(present) != len(AGE_COLUMNS):
            missing = [c for c in AGE_COLUMNS if c not in table]
            raise ValueError(f"{regions}: age columns must be all or none; missing {missing}")
        age_shares = np.stack([_csv_numbers(regions, table, c) for c in AGE_COLUMNS], axis=1)

    v_header, v_rows = _read_csv(visits, required=("region", "place", "visits"))
    col = {name: i for i, name in enumerate(v_header)}
    region = np.empty(len(v_rows), dtype=np.int64)
    place_ids: dict[str, int] = {}
    place = np.empty(len(v_rows), dtype=np.int64)
    count = np.empty(len(v_rows), dtype=np.float64)
    factors: dict[int, float] = {}
    for k, row in enumerate(v_rows):
        line = k + 2
        region_id = row[col["region"]]
        if region_id not in index:
            raise ValueError(f"{visits}, line {line}: unknown region {region_id!r}")
        region[k] = index[region_id]
        place[k] = place_ids.setdefault(row[col["place"]], len(place_ids))
        count[k] = _csv_number(visits, line, "visits", row[col["visits"]])
        if count[k] < 0:
            raise ValueError(f"{visits}, line {line}: visits must be non-negative")
        if "place_factor" in col:
            f = _csv_number(visits, line, "place_factor", row[col["place_factor"]])
            if factors.setdefault(int(place[k]), f) != f:
                raise ValueError(
                    f"{visits}, line {line}: place {row[col['place']]!r} has two place_factor "
                    f"values"
                )
    place_factor = None
    if factors:
        place_factor = np.array([factors[j] for j in range(len(place_ids))])
    try:
        return city_from_visits(
            pop, region, place, count, place_factor=place_factor, age_shares=age_shares,
            coords=coords, acceptance=acceptance, top_k=top_k, name=Path(regions).name,
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"{regions} / {visits}: {exc}") from exc


def _read_csv(
    path: str | os.PathLike, required: tuple[str, ...]
) -> tuple[list[str], list[list[str]]]:
    try:
        with open_text(path) as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    if not lines:
        raise ValueError(f"{path}: empty file (expected a header row)")
    header = [h.strip() for h in lines[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} in the header {header}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: duplicate column names in the header {header}")
    rows = []
    for k, row in enumerate(lines[1:]):
        if not row:
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, line {k + 2}: expected {len(header)} fields, got {len(row)}")
        rows.append([field.strip() for field in row])
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return header, rows


def _csv_number(path: str | os.PathLike, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: {column} is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}, line {line}: {column} must be finite, got {text!r}")
    return value


def _csv_numbers(path: str | os.PathLike, table: dict[str, list[str]], column: str) -> np.ndarray:
    return np.array(
        [_csv_number(path, i + 2, column, text) for i, text in enumerate(table[column])]
    )
