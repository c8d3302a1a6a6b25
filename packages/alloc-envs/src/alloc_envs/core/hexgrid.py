"""Hexagonal grids in the even-q offset layout used by the DyPS ride-hailing simulator.

Cells are numbered row-major: ``cell = row * cols + col``. Columns are flat-topped hexagons; even
columns are shifted half a cell towards larger rows ("down", i.e. south). Neighbours are listed
clockwise starting from north, as in the reference simulator (research note §2.1):

* even column: N (r-1, c), NE (r, c+1), SE (r+1, c+1), S (r+1, c), SW (r+1, c-1), NW (r, c-1)
* odd column:  N (r-1, c), NE (r-1, c+1), SE (r, c+1), S (r+1, c), SW (r, c-1), NW (r-1, c-1)

Neighbours outside the map are absent (``-1`` in the padded arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from alloc_envs.core.memory import check_memory
from alloc_envs.core.validation import check_int

#: Row/column offsets of the six neighbours, clockwise from north, for even and odd columns.
_EVEN_COL_OFFSETS = ((-1, 0), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
_ODD_COL_OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 0), (0, -1), (-1, -1))

#: Number of neighbour directions of a hexagonal cell.
N_DIRECTIONS = 6
#: Largest grid (rows * cols): the per-cell arrays take about 100 bytes a cell (400 MiB here).
MAX_CELLS = 1 << 22


@dataclass(frozen=True)
class HexGrid:
    """A ``rows x cols`` hexagonal grid (even-q offset layout), at most :data:`MAX_CELLS` cells.

    Attributes derived lazily: ``neighbors`` (G, 6) int64 with ``-1`` for missing neighbours,
    ``distances`` (G, G) int32 hex distances (checked against the memory at hand first),
    ``centres`` (G, 2) float64 planar centres.
    """

    rows: int
    cols: int

    def __post_init__(self) -> None:
        check_int("HexGrid.rows", self.rows, 1, MAX_CELLS)
        check_int("HexGrid.cols", self.cols, 1, MAX_CELLS)
        if self.rows * self.cols > MAX_CELLS:
            raise ValueError(
                f"HexGrid.rows * HexGrid.cols must be at most {MAX_CELLS:,} cells, got "
                f"{self.rows} x {self.cols} = {self.rows * self.cols:,}"
            )

    @property
    def n_cells(self) -> int:
        """Number of cells G = rows * cols."""
        return self.rows * self.cols

    def cell(self, row: int, col: int) -> int:
        """Cell id of (row, col)."""
        return row * self.cols + col

    @cached_property
    def neighbors(self) -> np.ndarray:
        """(G, 6) int64: neighbour cell ids clockwise from north, ``-1`` where off the map."""
        rows, cols = np.divmod(np.arange(self.n_cells), self.cols)
        even = (cols % 2 == 0)[:, None]
        d_even = np.asarray(_EVEN_COL_OFFSETS)
        d_odd = np.asarray(_ODD_COL_OFFSETS)
        dr = np.where(even, d_even[None, :, 0], d_odd[None, :, 0])
        dc = np.where(even, d_even[None, :, 1], d_odd[None, :, 1])
        nr, nc = rows[:, None] + dr, cols[:, None] + dc
        inside = (nr >= 0) & (nr < self.rows) & (nc >= 0) & (nc < self.cols)
        out = np.where(inside, nr * self.cols + nc, -1).astype(np.int64)
        out.setflags(write=False)
        return out

    @cached_property
    def cube(self) -> np.ndarray:
        """(G, 3) int64 cube coordinates (x, y, z) with x + y + z = 0."""
        rows, cols = np.divmod(np.arange(self.n_cells), self.cols)
        # Even columns are shifted down, so moving to an odd column keeps the row for "up-right".
        x = cols
        z = rows - (cols + (cols & 1)) // 2
        y = -x - z
        out = np.stack([x, y, z], axis=1).astype(np.int64)
        out.setflags(write=False)
        return out

    @cached_property
    def distances(self) -> np.ndarray:
        """(G, G) int32 hex distances (number of neighbour hops) between all cells."""
        g = self.n_cells
        check_memory("HexGrid.distances", 2 * 4 * g * g, f"{self.rows} x {self.cols} cells")
        c = self.cube.astype(np.int32)
        out = np.zeros((self.n_cells, self.n_cells), dtype=np.int32)
        for axis in range(3):  # one axis at a time keeps the peak memory at 2 (G, G) arrays
            np.maximum(out, np.abs(c[:, None, axis] - c[None, :, axis]), out=out)
        out.setflags(write=False)
        return out

    @cached_property
    def centres(self) -> np.ndarray:
        """(G, 2) float64 planar centres (x east, y south) of hexagons with unit circumradius."""
        rows, cols = np.divmod(np.arange(self.n_cells), self.cols)
        x = 1.5 * cols
        y = np.sqrt(3.0) * (rows + 0.5 * (cols % 2 == 0))
        out = np.stack([x, y], axis=1).astype(np.float64)
        out.setflags(write=False)
        return out

    def ring_sizes(self, max_ring: int) -> np.ndarray:
        """(G, max_ring + 1) int64: number of cells at hex distance 0..max_ring from each cell."""
        d = self.distances
        return np.stack([(d == k).sum(axis=1) for k in range(max_ring + 1)], axis=1)

    def cells_within(self, max_ring: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells at hex distance 1..k from every origin, for every k = 1..max_ring.

        Returns ``(table, counts)``: ``table`` (G, W) int64 lists, for each origin, the cells at
        distance 1..max_ring sorted by (distance, id), padded with ``-1`` (W is the largest such
        count, at least 1); ``counts`` (G, max_ring) int64, where ``table[o, :counts[o, k-1]]``
        are the cells at distance 1..k from ``o``.
        """
        d = self.distances
        g = self.n_cells
        counts = np.stack([((d >= 1) & (d <= k)).sum(axis=1) for k in range(1, max_ring + 1)], 1)
        width = max(int(counts[:, -1].max(initial=0)), 1)  # >= 1 so it can always be indexed
        table = np.full((g, width), -1, dtype=np.int64)
        for origin in range(g):
            near = np.flatnonzero((d[origin] >= 1) & (d[origin] <= max_ring))
            near = near[np.argsort(d[origin, near], kind="stable")]  # ids already ascending
            table[origin, : near.size] = near
        return table, counts.astype(np.int64)

    def bfs_rings(self, origin: int, max_ring: int) -> list[list[int]]:
        """Rings 1..max_ring around ``origin`` in breadth-first discovery order.

        Ring 1 lists the neighbours clockwise from north; ring k lists, for each cell of ring k-1
        in order, its not yet seen neighbours clockwise from north. This is the order in which the
        reference simulator lists an order's candidate destinations.
        """
        seen = {origin}
        rings: list[list[int]] = []
        frontier = [origin]
        for _ in range(max_ring):
            ring = []
            for cell in frontier:
                for nb in self.neighbors[cell]:
                    if nb >= 0 and int(nb) not in seen:
                        seen.add(int(nb))
                        ring.append(int(nb))
            rings.append(ring)
            frontier = ring
        return rings
