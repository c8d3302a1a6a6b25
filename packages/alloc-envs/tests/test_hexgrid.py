"""Tests of alloc_envs.core.hexgrid: the even-q hexagonal layout of the DyPS ride-hailing city."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc_envs.core.hexgrid import MAX_CELLS, N_DIRECTIONS, HexGrid
from alloc_envs.core.memory import LIMIT_VARIABLE

sizes = st.integers(min_value=1, max_value=9)
GRID_SETTINGS = settings(max_examples=40, deadline=None)


def reference_neighbors(rows: int, cols: int, row: int, col: int) -> list[int]:
    """The reference simulator's ``get_neighbor_index`` (research note §2.1), clockwise from north,
    off-map neighbours dropped."""
    if col % 2 == 0:
        offsets = [(-1, 0), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    else:
        offsets = [(-1, 0), (-1, 1), (0, 1), (1, 0), (0, -1), (-1, -1)]
    out = []
    for dr, dc in offsets:
        r, c = row + dr, col + dc
        if 0 <= r < rows and 0 <= c < cols:
            out.append(r * cols + c)
    return out


def bfs_hops(grid: HexGrid) -> np.ndarray:
    """(G, G) hop counts by breadth-first search over the neighbour lists."""
    g = grid.n_cells
    out = np.full((g, g), -1, dtype=np.int64)
    for origin in range(g):
        out[origin, origin] = 0
        queue = deque([origin])
        while queue:
            cell = queue.popleft()
            for nb in grid.neighbors[cell]:
                if nb >= 0 and out[origin, nb] < 0:
                    out[origin, nb] = out[origin, cell] + 1
                    queue.append(int(nb))
    return out


@pytest.mark.parametrize(
    ("rows", "cols", "expected"),
    [
        # research note §2.1: number of cells with 2/3/4/5/6 neighbours
        (6, 6, {2: 2, 3: 6, 4: 8, 5: 4, 6: 16}),
        (10, 10, {2: 2, 3: 10, 4: 16, 5: 8, 6: 64}),
    ],
)
def test_neighbour_counts_of_the_paper_grids(rows: int, cols: int, expected: dict) -> None:
    grid = HexGrid(rows, cols)
    assert grid.n_cells == rows * cols
    counts = (grid.neighbors >= 0).sum(axis=1)
    assert dict(Counter(counts.tolist())) == expected


def test_known_neighbours_of_the_6x6_grid() -> None:
    grid = HexGrid(6, 6)
    # (1, 2): even column, shifted down: N, NE, SE, S, SW, NW
    np.testing.assert_array_equal(grid.neighbors[grid.cell(1, 2)], [2, 9, 15, 14, 13, 7])
    # (1, 3): odd column
    np.testing.assert_array_equal(grid.neighbors[grid.cell(1, 3)], [3, 4, 10, 15, 8, 2])
    # corner (0, 0): N and NW missing, and SW is off the map too
    np.testing.assert_array_equal(grid.neighbors[0], [-1, 1, 7, 6, -1, -1])


def test_grid_arrays_have_documented_layout_and_are_read_only() -> None:
    grid = HexGrid(4, 5)
    assert grid.neighbors.shape == (20, N_DIRECTIONS)
    assert grid.neighbors.dtype == np.int64
    assert grid.distances.shape == (20, 20)
    assert grid.distances.dtype == np.int32
    for array in (grid.neighbors, grid.distances, grid.cube, grid.centres):
        with pytest.raises(ValueError):
            array[0, 0] = 0


@GRID_SETTINGS
@given(rows=sizes, cols=sizes)
def test_neighbours_match_the_reference_rule(rows: int, cols: int) -> None:
    grid = HexGrid(rows, cols)
    for row in range(rows):
        for col in range(cols):
            nbs = grid.neighbors[grid.cell(row, col)]
            assert [int(n) for n in nbs if n >= 0] == reference_neighbors(rows, cols, row, col)
            assert ((nbs >= -1) & (nbs < grid.n_cells)).all()


@GRID_SETTINGS
@given(rows=sizes, cols=sizes)
def test_neighbourhood_is_symmetric_and_irreflexive(rows: int, cols: int) -> None:
    grid = HexGrid(rows, cols)
    adjacency = np.zeros((grid.n_cells, grid.n_cells), dtype=bool)
    for cell, nbs in enumerate(grid.neighbors):
        valid = nbs[nbs >= 0]
        assert len(set(valid.tolist())) == len(valid)  # no duplicates
        adjacency[cell, valid] = True
    assert not adjacency.diagonal().any()
    np.testing.assert_array_equal(adjacency, adjacency.T)


@GRID_SETTINGS
@given(rows=sizes, cols=sizes)
def test_distances_are_bfs_hop_counts(rows: int, cols: int) -> None:
    grid = HexGrid(rows, cols)
    d = grid.distances
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    np.testing.assert_array_equal(d, bfs_hops(grid))
    # cube coordinates are valid (x + y + z = 0)
    np.testing.assert_array_equal(grid.cube.sum(axis=1), 0)


@GRID_SETTINGS
@given(rows=sizes, cols=sizes)
def test_distance_one_iff_neighbour(rows: int, cols: int) -> None:
    grid = HexGrid(rows, cols)
    adjacency = np.zeros((grid.n_cells, grid.n_cells), dtype=bool)
    for cell, nbs in enumerate(grid.neighbors):
        adjacency[cell, nbs[nbs >= 0]] = True
    np.testing.assert_array_equal(grid.distances == 1, adjacency)


@GRID_SETTINGS
@given(rows=sizes, cols=sizes)
def test_centres_match_the_neighbour_geometry(rows: int, cols: int) -> None:
    """Unit-circumradius hexagons: neighbours' centres are sqrt(3) apart, others farther."""
    grid = HexGrid(rows, cols)
    c = grid.centres
    dist = np.hypot(*(c[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    near = np.isclose(dist, np.sqrt(3.0))
    np.testing.assert_array_equal(near, grid.distances == 1)
    off_diag = ~np.eye(grid.n_cells, dtype=bool)
    assert (dist[off_diag] > np.sqrt(3.0) - 1e-9).all()
    # even columns are shifted half a cell "down" (larger y) relative to odd columns
    if cols > 1:
        assert c[grid.cell(0, 0), 1] > c[grid.cell(0, 1), 1]


@GRID_SETTINGS
@given(rows=sizes, cols=sizes, max_ring=st.integers(min_value=1, max_value=6))
def test_cells_within_is_consistent_with_distances(rows: int, cols: int, max_ring: int) -> None:
    grid = HexGrid(rows, cols)
    g, d = grid.n_cells, grid.distances
    table, counts = grid.cells_within(max_ring)
    assert counts.shape == (g, max_ring)
    assert table.shape == (g, max(int(counts[:, -1].max(initial=0)), 1))
    for origin in range(g):
        for k in range(1, max_ring + 1):
            expected = sorted((int(d[origin, c]), c) for c in range(g) if 1 <= d[origin, c] <= k)
            n = int(counts[origin, k - 1])
            assert n == len(expected)
            assert table[origin, :n].tolist() == [c for _, c in expected]
        assert (table[origin, counts[origin, -1] :] == -1).all()
    sizes_ = grid.ring_sizes(max_ring)
    np.testing.assert_array_equal(sizes_[:, 0], 1)
    np.testing.assert_array_equal(np.cumsum(sizes_[:, 1:], axis=1), counts)


@GRID_SETTINGS
@given(
    rows=sizes,
    cols=sizes,
    max_ring=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_bfs_rings_are_distance_rings(rows: int, cols: int, max_ring: int, data) -> None:
    grid = HexGrid(rows, cols)
    origin = data.draw(st.integers(min_value=0, max_value=grid.n_cells - 1))
    rings = grid.bfs_rings(origin, max_ring)
    assert len(rings) == max_ring
    d = grid.distances[origin]
    for k, ring in enumerate(rings, start=1):
        assert len(ring) == len(set(ring))
        assert sorted(ring) == np.flatnonzero(d == k).tolist()
    # ring 1 is the neighbour list, clockwise from north
    nbs = grid.neighbors[origin]
    assert rings[0] == [int(n) for n in nbs if n >= 0]
    # ring k+1 in discovery order: for each cell of ring k in order, its unseen neighbours
    seen = {origin, *rings[0]}
    for k in range(1, max_ring):
        expected = []
        for cell in rings[k - 1]:
            for nb in grid.neighbors[cell]:
                if nb >= 0 and int(nb) not in seen:
                    seen.add(int(nb))
                    expected.append(int(nb))
        assert rings[k] == expected


def test_cell_numbering_is_row_major() -> None:
    grid = HexGrid(3, 5)
    assert grid.cell(0, 0) == 0
    assert grid.cell(1, 0) == 5
    assert grid.cell(2, 4) == 14


@pytest.mark.parametrize(
    ("rows", "cols", "field"),
    [
        (0, 6, "rows"),
        (6, 0, "cols"),
        (-1, 3, "rows"),
        (3, -2, "cols"),
        (2.5, 3, "rows"),
        (3, "4", "cols"),
        (None, 3, "rows"),
    ],
)
def test_bad_sizes_raise_value_error(rows, cols, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        HexGrid(rows, cols)


def test_numpy_integer_sizes_are_accepted() -> None:
    grid = HexGrid(np.int64(2), np.int32(3))
    assert grid.n_cells == 6


def test_grid_size_limits_are_checked_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"at most 4,194,304 cells, got 1000000 x 1000000"):
        HexGrid(10**6, 10**6)
    assert HexGrid(1, MAX_CELLS).n_cells == MAX_CELLS
    monkeypatch.setenv(LIMIT_VARIABLE, "1")
    grid = HexGrid(250, 250)  # the per-cell arrays are fine; the (G, G) table is not
    assert grid.neighbors.shape == (62_500, N_DIRECTIONS)
    with pytest.raises(ValueError, match=r"HexGrid.distances with 250 x 250 cells needs about 29"):
        _ = grid.distances
