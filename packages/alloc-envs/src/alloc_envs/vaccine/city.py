"""The city of the vaccine scenario: regions, their residents, and the sparse contact kernel.

A :class:`City` is immutable data (read-only arrays) shared by every episode; synthetic cities
come from :mod:`alloc_envs.vaccine.synthetic`, real ones from :mod:`alloc_envs.vaccine.data`.

The contact kernel is the POI-free form of Chang et al.'s POI mixing (research note A.9.5):
with W the (regions x places) hourly visit counts and f the places' transmission factors,
``K = W diag(f) W^T``, so that the expected POI exposures of region i in an hour are
``alpha_i * S_i / N_i * s(t)^2 * sum_k K_ik * I_k / N_k``. :func:`contact_kernel` computes K from
the nonzero visits and keeps the ``top_k`` largest entries of every row as a padded
(N, top_k) neighbour-index + weight table (numpy only, no scipy), rescaled so that every row keeps
its full sum (a region's total exposure to a uniform prevalence is unchanged by the truncation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alloc_envs.vaccine.config import ELDER_FROM, MAX_REGIONS, N_AGE_GROUPS, ifr_by_age

#: Largest number of (region, region) pairs materialised at once while building the kernel.
PAIR_CHUNK = 4_000_000


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class City:
    """Regions and mobility (shapes: N regions, k kernel neighbours).

    Attributes:
        population: (N,) float64 residents per region (whole people, at least 1).
        age_shares: (N, 17) float64 shares of the age groups of
            :data:`~alloc_envs.vaccine.config.AGE_GROUPS` (rows sum to 1).
        neighbours: (N, k) int64 region indices of each row's kernel entries (padding: the row's
            own index with weight 0).
        kernel: (N, k) float64 contact weights K_ik (people; see the module docstring).
        coords: (N, 2) float64 region centres (any planar unit; zeros when unknown).
        acceptance: (N,) float64 share of each region willing to be vaccinated, or ``None`` to use
            the configuration's uniform value.
        name: a label (``"synthetic"`` or the file it came from).
    """

    population: np.ndarray
    age_shares: np.ndarray
    neighbours: np.ndarray
    kernel: np.ndarray
    coords: np.ndarray
    acceptance: np.ndarray | None = None
    name: str = "city"
    _elder: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pop = np.asarray(self.population, dtype=np.float64)
        if pop.ndim != 1 or not 2 <= pop.shape[0] <= MAX_REGIONS:
            raise ValueError(
                f"population must be a 1-D array of 2..{MAX_REGIONS} regions, got shape {pop.shape}"
            )
        n = pop.shape[0]
        _check_finite("population", pop)
        if np.any(pop < 1) or np.any(pop != np.round(pop)):
            bad = int(np.flatnonzero((pop < 1) | (pop != np.round(pop)))[0])
            raise ValueError(
                f"population must hold whole numbers of people >= 1 (region {bad} has "
                f"{pop[bad]}); drop empty regions or set them to 1"
            )
        ages = np.asarray(self.age_shares, dtype=np.float64)
        if ages.shape != (n, N_AGE_GROUPS):
            raise ValueError(f"age_shares must have shape ({n}, {N_AGE_GROUPS}), got {ages.shape}")
        _check_finite("age_shares", ages)
        if np.any(ages < 0) or np.any(np.abs(ages.sum(axis=1) - 1.0) > 1e-6):
            bad = int(np.flatnonzero((ages < 0).any(axis=1) | (np.abs(ages.sum(1) - 1) > 1e-6))[0])
            raise ValueError(
                f"age_shares rows must be non-negative and sum to 1 (region {bad} sums to "
                f"{ages[bad].sum():.6g})"
            )
        nbr = np.asarray(self.neighbours)
        weights = np.asarray(self.kernel, dtype=np.float64)
        if nbr.ndim != 2 or nbr.shape[0] != n or nbr.dtype.kind not in "iu":
            raise ValueError(
                f"neighbours must be an integer array of shape ({n}, k), got {nbr.shape}"
            )
        if weights.shape != nbr.shape:
            raise ValueError(
                f"kernel must have the shape of neighbours {nbr.shape}, got {weights.shape}"
            )
        if nbr.size and (nbr.min() < 0 or nbr.max() >= n):
            raise ValueError(f"neighbours must index regions 0..{n - 1}")
        _check_finite("kernel", weights)
        if np.any(weights < 0):
            raise ValueError("kernel weights must be non-negative")
        coords = np.asarray(self.coords, dtype=np.float64)
        if coords.shape != (n, 2):
            raise ValueError(f"coords must have shape ({n}, 2), got {coords.shape}")
        _check_finite("coords", coords)
        acceptance = None
        if self.acceptance is not None:
            acceptance = np.asarray(self.acceptance, dtype=np.float64)
            if acceptance.shape != (n,):
                raise ValueError(f"acceptance must have shape ({n},), got {acceptance.shape}")
            _check_finite("acceptance", acceptance)
            if np.any((acceptance < 0) | (acceptance > 1)):
                raise ValueError("acceptance must be in [0, 1] for every region")
        set_ = object.__setattr__
        set_(self, "population", _readonly(pop))
        set_(self, "age_shares", _readonly(ages))
        set_(self, "neighbours", _readonly(nbr.astype(np.int64)))
        set_(self, "kernel", _readonly(weights))
        set_(self, "coords", _readonly(coords))
        set_(self, "acceptance", None if acceptance is None else _readonly(acceptance))
        set_(self, "_elder", _readonly(ages[:, ELDER_FROM:].sum(axis=1)))

    @property
    def n_regions(self) -> int:
        """Number of regions N."""
        return int(self.population.shape[0])

    @property
    def elder_share(self) -> np.ndarray:
        """(N,) float64 share of residents aged 70 or more."""
        return self._elder

    def ifr(self, death_scale: float) -> np.ndarray:
        """(N,) float64 infection-fatality ratio of each region: the age-weighted table, scaled."""
        return np.minimum(self.age_shares @ ifr_by_age() * death_scale, 1.0)


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has NaN or inf values")


def contact_kernel(
    region: np.ndarray,
    place: np.ndarray,
    visits: np.ndarray,
    place_factor: np.ndarray,
    n_regions: int,
    top_k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The top-k contact kernel of hourly visits (numpy only).

    Args:
        region, place: (nnz,) int indices of the nonzero visit entries (region i visits place j).
        visits: (nnz,) float visits per hour (people) from ``region`` to ``place``.
        place_factor: (P,) float transmission factor f_j of each place (per visit-hour and
            infectious co-visitor).
        n_regions: N.
        top_k: entries kept per row (``min(top_k, N)``).

    Returns:
        ``(neighbours, weights)``: (N, k) int64 column indices sorted ascending and (N, k)
        float64 weights; ``K_ik = sum_j visits_ij f_j visits_kj`` restricted to each row's ``k``
        largest entries and rescaled to the full row sum. Rows without entries point at
        themselves with weight 0.
    """
    region = np.asarray(region, dtype=np.int64)
    place = np.asarray(place, dtype=np.int64)
    # sqrt(f_j) on both sides: K = U U^T with U_ij = visits_ij sqrt(f_j)
    value = np.asarray(visits, dtype=np.float64) * np.sqrt(np.asarray(place_factor)[place])
    keep = value > 0
    region, place, value = region[keep], place[keep], value[keep]
    order = np.argsort(place, kind="stable")
    region, place, value = region[order], place[order], value[order]
    n_places = int(place.max()) + 1 if place.size else 0
    group_size = np.bincount(place, minlength=n_places)[place]  # size of each entry's place group
    group_start = np.searchsorted(place, place, side="left")
    dense = np.zeros(n_regions * n_regions, dtype=np.float64)
    # pairs (e, e') of entries of the same place, in chunks of whole entries
    pair_counts = np.cumsum(group_size)
    begin = 0
    while begin < region.size:
        limit = (pair_counts[begin - 1] if begin else 0) + PAIR_CHUNK
        end = max(begin + 1, int(np.searchsorted(pair_counts, limit, side="right")))
        sizes = group_size[begin:end]
        left = np.repeat(np.arange(begin, end), sizes)
        offsets = np.arange(left.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        right = group_start[left] + offsets
        dense += np.bincount(
            region[left] * n_regions + region[right],
            weights=value[left] * value[right],
            minlength=n_regions * n_regions,
        )
        begin = end
    return top_k_rows(dense.reshape(n_regions, n_regions), top_k)


def top_k_rows(matrix: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top_k`` largest entries of each row of a dense non-negative (N, N) matrix, rescaled
    to the row sums: (N, k) column indices and (N, k) weights (see :func:`contact_kernel`)."""
    n = matrix.shape[0]
    k = min(top_k, n)
    if k < n:
        cols = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    else:
        cols = np.broadcast_to(np.arange(n), (n, n)).copy()
    cols.sort(axis=1)
    weights = np.take_along_axis(matrix, cols, axis=1)
    kept = weights.sum(axis=1)
    full = matrix.sum(axis=1)
    scale = np.divide(full, kept, out=np.ones(n), where=kept > 0)
    weights = weights * scale[:, None]
    empty = weights <= 0
    cols[empty] = np.broadcast_to(np.arange(n)[:, None], cols.shape)[empty]
    weights[empty] = 0.0
    return cols.astype(np.int64), weights
