"""Nearest-cell lookup of geographic points on a hexagonal grid laid over a bounding box.

The grid's cell centres (:attr:`HexGrid.centres`) are stretched affinely over the box
``(lon_min, lat_min, lon_max, lat_max)`` (degrees): the extreme x of the centres go to lon_min /
lon_max and the extreme y (pointing south) to lat_max / lat_min; an axis of zero extent (one
column, or a 1x1 grid) is put in the middle of the box. :class:`GeoIndex` maps points to the
nearest centre, with longitude differences scaled by ``cos`` of the box's mean latitude.
"""

from __future__ import annotations

import math

import numpy as np

from alloc_envs.core.hexgrid import HexGrid

BBox = tuple[float, float, float, float]
#: Work is done in chunks whose (points or buckets) x (candidates) arrays hold about this many
#: entries.
_CHUNK_ENTRIES = 1 << 22


def _unit_interval(values: np.ndarray) -> np.ndarray:
    """Affine map of ``values`` onto [0, 1] (extremes to 0 and 1); all 0.5 for zero extent."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.full(values.shape, 0.5)
    return (values - low) / (high - low)


def centres_lonlat(grid: HexGrid, bbox: BBox) -> np.ndarray:
    """(G, 2) float64 (lon, lat) of the cell centres laid over ``bbox`` (module doc)."""
    lon_min, lat_min, lon_max, lat_max = bbox
    tx = _unit_interval(grid.centres[:, 0])
    ty = _unit_interval(grid.centres[:, 1])
    # Written as convex combinations so that the extremes land exactly on the box's edges.
    lon = lon_min * (1.0 - tx) + lon_max * tx
    lat = lat_max * (1.0 - ty) + lat_min * ty
    return np.stack([lon, lat], axis=1)


class GeoIndex:
    """Nearest-centre lookup for points inside a bounding box.

    Points and centres live in local planar coordinates ``X = (lon - lon_min) * cos(lat_mid)``,
    ``Y = lat - lat_min`` (degrees of latitude). The box is cut into about ``4 G`` rectangular
    buckets; each bucket keeps every centre that can be the nearest one to some point of the
    bucket (those within ``d_min + 2 h`` of the bucket's middle, ``d_min`` being the distance from
    the middle to its nearest centre and ``h`` the bucket's half diagonal), so the lookup is exact
    and costs ``O(K)`` per point for a small candidate count ``K``. Ties go to the lowest cell id.

    Building the buckets costs ``O(G)`` work: a centre within ``d_min + 2 h`` of a bucket's middle
    lies within a fixed window of columns and rows of the grid around the middle (the centres
    form an affinely stretched lattice; see :meth:`_lattice_pairs`). Only for a box that
    stretches the lattice so much that this window covers the whole grid are all G centres
    compared with every bucket (``O(G^2)``).
    """

    def __init__(self, grid: HexGrid, bbox: BBox) -> None:
        self.bbox = bbox
        self.grid = grid
        lon_min, lat_min, lon_max, lat_max = bbox
        self.kx = math.cos(math.radians(0.5 * (lat_min + lat_max)))
        lonlat = centres_lonlat(grid, bbox)
        self.cx = (lonlat[:, 0] - lon_min) * self.kx
        self.cy = lonlat[:, 1] - lat_min
        self.width = (lon_max - lon_min) * self.kx
        self.height = lat_max - lat_min
        g = grid.n_cells
        target = min(4 * g, 1 << 20)
        self.nbx = int(min(max(round(math.sqrt(target * self.width / self.height)), 1), target))
        self.nby = int(min(max(round(target / self.nbx), 1), target))
        self.sx = self.width / self.nbx
        self.sy = self.height / self.nby
        n_buckets = self.nbx * self.nby
        bucket = np.arange(n_buckets)
        mid_x = (bucket % self.nbx + 0.5) * self.sx
        mid_y = (bucket // self.nbx + 0.5) * self.sy
        # 2 h plus rounding slack
        reach = math.hypot(self.sx, self.sy) + 1e-9 * (self.width + self.height)
        window = self._window(reach)
        if window is None:
            row, col = self._all_pairs(mid_x, mid_y, reach)
        else:
            row, col = self._lattice_pairs(mid_x, mid_y, reach, *window)
        order = np.lexsort((col, row))  # by bucket, then ascending cell id
        row, col = row[order], col[order]
        counts = np.bincount(row, minlength=n_buckets)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        table = np.full((n_buckets, int(counts.max())), -1, dtype=np.int64)
        table[row, np.arange(len(row)) - first[row]] = col
        # Pad with the bucket's first (lowest-id) candidate so that argmin's tie rule still holds.
        self.candidates = np.where(table < 0, table[:, :1], table)

    def _lattice_steps(self) -> tuple[float, float]:
        """Signed planar step from column 0 to column 1 (X) and from row 0 to row 1 (Y); 0 for
        an axis with a single column / row."""
        rows, cols = self.grid.rows, self.grid.cols
        ax = float(self.cx[1] - self.cx[0]) if cols > 1 else 0.0
        ay = float(self.cy[cols] - self.cy[0]) if rows > 1 else 0.0
        return ax, ay

    def _window(self, reach: float) -> tuple[int, int] | None:
        """Half-widths (columns, rows) of the lattice window that holds every candidate of every
        bucket, or ``None`` when the window would cover the whole grid.

        From any point of the box the nearest centre is at most ``R = hypot(dx, dy)`` away: the
        point lies within half a column step ``dx`` of a column (half the box width for a single
        column), and within half a row step ``dy`` of one of that column's rows (the box height
        for a single row, whose centres alternate between its top and bottom edges). A candidate
        is within ``R + reach`` of the bucket's middle, so within ``(R + reach) / step + 1/2``
        columns (rows) of the column (row) nearest to the middle.
        """
        ax, ay = (abs(step) for step in self._lattice_steps())
        rows, cols = self.grid.rows, self.grid.cols
        dx = ax / 2 if cols > 1 else self.width / 2
        dy = ay / 2 if rows > 1 else self.height
        bound = math.hypot(dx, dy) + reach
        slack = 0.5 + 1e-6  # the rounding to the nearest column / row, and float error
        half_cols = 0 if cols == 1 else math.floor(bound / ax + slack)
        half_rows = 0 if rows == 1 else math.floor(bound / ay + slack)
        if (2 * half_cols + 1) * (2 * half_rows + 1) >= self.grid.n_cells:
            return None
        return half_cols, half_rows

    def _all_pairs(
        self, mid_x: np.ndarray, mid_y: np.ndarray, reach: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bucket, cell) candidate pairs, every centre compared with every bucket middle."""
        g = self.grid.n_cells
        rows, cols = [], []
        chunk = max(1, _CHUNK_ENTRIES // g)
        for start in range(0, len(mid_x), chunk):
            dist = np.hypot(
                mid_x[start : start + chunk, None] - self.cx,
                mid_y[start : start + chunk, None] - self.cy,
            )
            r, c = np.nonzero(dist <= dist.min(axis=1, keepdims=True) + reach)
            rows.append(r + start)
            cols.append(c)
        return np.concatenate(rows), np.concatenate(cols)

    def _lattice_pairs(
        self, mid_x: np.ndarray, mid_y: np.ndarray, reach: float, half_cols: int, half_rows: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The same pairs as :meth:`_all_pairs`, comparing each bucket middle only with the
        centres of the ``(2 half_cols + 1) x (2 half_rows + 1)`` window of the lattice around it
        (:meth:`_window`)."""
        n_rows, n_cols = self.grid.rows, self.grid.cols
        ax, ay = self._lattice_steps()
        d_col = np.arange(-half_cols, half_cols + 1)
        d_row = np.arange(-half_rows, half_rows + 1)
        size = d_col.size * d_row.size
        rows, cols = [], []
        chunk = max(1, _CHUNK_ENTRIES // size)
        for start in range(0, len(mid_x), chunk):
            x, y = mid_x[start : start + chunk], mid_y[start : start + chunk]
            col0 = np.rint((x - self.cx[0]) / ax) if ax else np.zeros(x.shape)
            col = col0.astype(np.int64)[:, None] + d_col  # (n, C)
            col_ok = (col >= 0) & (col < n_cols)
            col = np.clip(col, 0, n_cols - 1)
            # rows of each candidate column: its row 0 is at cy[col], one row step is ay
            row0 = np.rint((y[:, None] - self.cy[col]) / ay) if ay else np.zeros(col.shape)
            row = row0.astype(np.int64)[..., None] + d_row  # (n, C, R)
            ok = col_ok[..., None] & (row >= 0) & (row < n_rows)
            cell = (np.clip(row, 0, n_rows - 1) * n_cols + col[..., None]).reshape(len(x), size)
            ok = ok.reshape(len(x), size)
            dist = np.hypot(x[:, None] - self.cx[cell], y[:, None] - self.cy[cell])
            dist[~ok] = np.inf
            r, k = np.nonzero(ok & (dist <= dist.min(axis=1, keepdims=True) + reach))
            rows.append(r + start)
            cols.append(cell[r, k])
        return np.concatenate(rows), np.concatenate(cols)

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """(n,) int64 cell ids of 1-D float64 points; ``-1`` outside the box or non-finite."""
        lon_min, lat_min, lon_max, lat_max = self.bbox
        out = np.full(lon.shape, -1, dtype=np.int64)
        inside = np.flatnonzero(
            (lon >= lon_min) & (lon <= lon_max) & (lat >= lat_min) & (lat <= lat_max)
        )
        k = self.candidates.shape[1]
        chunk = max(1, _CHUNK_ENTRIES // k)
        for start in range(0, len(inside), chunk):
            rows = inside[start : start + chunk]
            x = (lon[rows] - lon_min) * self.kx
            y = lat[rows] - lat_min
            ix = np.minimum((x / self.sx).astype(np.int64), self.nbx - 1)
            iy = np.minimum((y / self.sy).astype(np.int64), self.nby - 1)
            cand = self.candidates[iy * self.nbx + ix]
            dx = x[:, None] - self.cx[cand]
            dy = y[:, None] - self.cy[cand]
            best = np.argmin(dx * dx + dy * dy, axis=1)
            out[rows] = cand[np.arange(len(rows)), best]
        return out
