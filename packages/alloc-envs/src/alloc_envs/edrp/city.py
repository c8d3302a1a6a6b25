"""The data an EDRP episode needs: zones, their adjacency and the demand of every time slot.

An :class:`EDRPCity` comes from the synthetic generator (:mod:`alloc_envs.edrp.synthetic`) or
from NYC TLC trip records (:mod:`alloc_envs.edrp.tlc`), and can be saved as a compressed ``.npz``
archive (processed tensors only, no trip records). Units: demand in orders per driver and slot
(the fleet is the unit of mass), fares in US dollars, durations in slots of ``slot_minutes``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.core.validation import check_number

PathLike = str | os.PathLike[str]
_FORMAT_VERSION = 1
_ARRAYS = ("zone_ids", "neighbors", "demand", "destinations", "fares", "trip_steps")
#: What numpy raises for a file that is not a readable archive of plain arrays.
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, AttributeError, TypeError)
#: Largest number of zones (the city keeps (T, V, V) destination tables).
MAX_ZONES = 2048


def _array(name: str, value: Any, dtype: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ValueError(f"EDRPCity.{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.dtype.kind not in ("iu" if dtype is np.int64 else "iuf"):
        raise ValueError(f"EDRPCity.{name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    out = np.array(arr, dtype=dtype, copy=True)
    if dtype is np.float64 and not np.isfinite(out).all():
        raise ValueError(f"EDRPCity.{name} must be finite")
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class EDRPCity:
    """Zones, adjacency and per-slot demand (V zones, T slots). Validated (``ValueError``).

    Attributes:
        zone_ids: (V,) int64 labels (TLC LocationIDs, or 0..V-1 for synthetic cities).
        neighbors: (V, D) int64 neighbour zone indices (0..V-1), each row's neighbours first and
            ``-1`` padding after; adjacency must be symmetric and loop-free.
        demand: (T, V) float64 rho_t(v) >= 0, expected orders per driver starting in v in slot t.
        destinations: (T, V, V) float64 Q_t(v' | v), each row a probability vector.
        fares: (T, V) float64 > 0 mean fare of an order starting in v in slot t (US dollars).
        trip_steps: (V, V) int64 >= 1, slots a trip from v to v' keeps the driver busy.
        slot_minutes: minutes per slot; start_minute: minute of the day when slot 0 starts.
    """

    zone_ids: np.ndarray
    neighbors: np.ndarray
    demand: np.ndarray
    destinations: np.ndarray
    fares: np.ndarray
    trip_steps: np.ndarray
    slot_minutes: float
    start_minute: float

    def __post_init__(self) -> None:
        check_number("EDRPCity.slot_minutes", self.slot_minutes, 0.0, 1440.0, low_inclusive=False)
        check_number("EDRPCity.start_minute", self.start_minute, 0.0, 1440.0)
        specs = {
            "zone_ids": (np.int64, 1),
            "neighbors": (np.int64, 2),
            "demand": (np.float64, 2),
            "destinations": (np.float64, 3),
            "fares": (np.float64, 2),
            "trip_steps": (np.int64, 2),
        }
        arrays = {name: _array(name, getattr(self, name), *spec) for name, spec in specs.items()}
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "slot_minutes", float(self.slot_minutes))
        object.__setattr__(self, "start_minute", float(self.start_minute))
        self._check_shapes()
        self._check_values()

    def _check_shapes(self) -> None:
        v, t = self.zone_ids.shape[0], self.demand.shape[0]
        if not 1 <= v <= MAX_ZONES:
            raise ValueError(f"EDRPCity needs 1..{MAX_ZONES} zones, got {v}")
        if t < 1:
            raise ValueError("EDRPCity.demand needs at least one slot")
        expected = {
            "neighbors": (v, self.neighbors.shape[1]),
            "demand": (t, v),
            "destinations": (t, v, v),
            "fares": (t, v),
            "trip_steps": (v, v),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"EDRPCity.{name} must have shape {shape}, got {getattr(self, name).shape}"
                )
        if len(np.unique(self.zone_ids)) != v:
            raise ValueError("EDRPCity.zone_ids must be distinct")

    def _check_values(self) -> None:
        v = self.n_zones
        nb = self.neighbors
        if ((nb < -1) | (nb >= v)).any():
            raise ValueError(f"EDRPCity.neighbors must hold zone indices in [0, {v}) or -1")
        valid = nb >= 0
        if (valid[:, 1:] & ~valid[:, :-1]).any():
            raise ValueError("EDRPCity.neighbors: -1 padding must come after the neighbours")
        adjacency = self.adjacency
        if np.diag(adjacency).any():
            raise ValueError("EDRPCity.neighbors: a zone cannot neighbour itself")
        if (adjacency != adjacency.T).any():
            a, b = np.argwhere(adjacency != adjacency.T)[0]
            raise ValueError(f"EDRPCity.neighbors is not symmetric (zones {a} and {b})")
        if valid.sum() != adjacency.sum():
            raise ValueError("EDRPCity.neighbors lists a neighbour twice")
        if (self.demand < 0).any():
            raise ValueError("EDRPCity.demand must be non-negative")
        if (self.destinations < 0).any() or not np.allclose(
            self.destinations.sum(axis=2), 1.0, atol=1e-9
        ):
            raise ValueError("EDRPCity.destinations rows must be probability vectors")
        if (self.fares <= 0).any():
            raise ValueError("EDRPCity.fares must be positive")
        if (self.trip_steps < 1).any():
            raise ValueError("EDRPCity.trip_steps must be >= 1")

    @property
    def n_zones(self) -> int:
        """V."""
        return self.zone_ids.shape[0]

    @property
    def horizon(self) -> int:
        """T, the number of slots."""
        return self.demand.shape[0]

    @property
    def adjacency(self) -> np.ndarray:
        """(V, V) bool adjacency matrix."""
        v = self.n_zones
        out = np.zeros((v, v), dtype=bool)
        rows, cols = np.nonzero(self.neighbors >= 0)
        out[rows, self.neighbors[rows, cols]] = True
        return out

    def hop_distances(self) -> np.ndarray:
        """(V, V) int64 number of hops of the shortest path between two zones (breadth-first
        over :attr:`adjacency`); -1 between zones that no path joins."""
        adjacency = self.adjacency
        v = self.n_zones
        hops = np.where(np.eye(v, dtype=bool), 0, -1).astype(np.int64)
        frontier = np.eye(v, dtype=bool)
        for distance in range(1, v):
            frontier = (frontier.astype(np.int64) @ adjacency.astype(np.int64) > 0) & (hops < 0)
            if not frontier.any():
                break
            hops[frontier] = distance
        return hops

    def one_slot_reach(self) -> int:
        """The largest h >= 1 such that a trip between any two zones at most h hops apart ends
        within its slot (``trip_steps == 1``): how far a driver gets in one slot by this city's
        own trip durations (1 when even a neighbouring zone's trips take longer)."""
        hops = self.hop_distances()
        reach = 1
        while (
            reach < hops.max() and (self.trip_steps[(hops >= 1) & (hops <= reach + 1)] == 1).all()
        ):
            reach += 1
        return reach

    def reachable_zones(self, reach_hops: int) -> tuple[np.ndarray, np.ndarray]:
        """Where a driver may reposition within ``reach_hops`` hops: (V, D') int64 target zones
        and (V, D') int64 their hop counts, ``-1`` padded. Row v lists v's neighbours first, in
        :attr:`neighbors`' order, then the zones 2, 3, ... hops away in increasing index order
        (with ``reach_hops = 1`` the targets are exactly :attr:`neighbors`, padding included).
        ``ValueError`` when
        ``reach_hops`` exceeds the largest hop distance between two zones of the city."""
        hops = self.hop_distances()
        diameter = int(hops.max())
        if not 1 <= reach_hops <= max(diameter, 1):
            raise ValueError(
                f"reach_hops = {reach_hops} is outside [1, {diameter}]: no two zones of this "
                f"city are more than {diameter} hops apart"
            )
        rows = []
        for zone in range(self.n_zones):
            near = self.neighbors[zone][self.neighbors[zone] >= 0]
            far = [np.flatnonzero(hops[zone] == d) for d in range(2, reach_hops + 1)]
            rows.append(np.concatenate([near, *far]))
        width = max(self.neighbors.shape[1], *(len(row) for row in rows))
        targets = np.full((self.n_zones, width), -1, dtype=np.int64)
        for zone, row in enumerate(rows):
            targets[zone, : len(row)] = row
        distance = np.where(targets >= 0, hops[np.arange(self.n_zones)[:, None], targets], -1)
        return targets, distance

    def save(self, path: PathLike) -> None:
        """Write the city to ``path`` as a compressed ``.npz`` archive (no pickle)."""
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                format_version=np.int64(_FORMAT_VERSION),
                slot_minutes=np.float64(self.slot_minutes),
                start_minute=np.float64(self.start_minute),
                **{name: getattr(self, name) for name in _ARRAYS},
            )

    @classmethod
    def load(cls, path: PathLike) -> EDRPCity:
        """Read a city written by :meth:`save`; ``ValueError`` if the file is not one."""
        keys = ("format_version", "slot_minutes", "start_minute", *_ARRAYS)
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {key: npz[key] for key in keys if key in npz.files}
        except FileNotFoundError:
            raise
        except _READ_ERRORS as exc:  # ValueError: e.g. an object array (needs pickle): refused
            raise ValueError(f"{path}: not an EDRPCity .npz archive ({exc})") from None
        missing = [key for key in keys if key not in data]
        if missing:
            raise ValueError(f"{path}: not an EDRPCity archive, missing {missing}")
        if int(data.pop("format_version")) != _FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported EDRPCity format version")
        return cls(
            slot_minutes=float(data.pop("slot_minutes")),
            start_minute=float(data.pop("start_minute")),
            **data,
        )
