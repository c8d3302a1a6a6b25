"""DyPS group maps: drawn on Ride-Hailing's hexagonal cells (the paper's Figure 6b)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from alloc_bench.learners import _grid_shape
from alloc_bench.plots import hex_cell_vertices, plot_groups
from alloc_bench.scenarios import get_scenario
from alloc_envs.core.hexgrid import HexGrid

PNG = b"\x89PNG\r\n\x1a\n"


def _shared_corners(a: np.ndarray, b: np.ndarray) -> int:
    """How many corners of hexagon ``a`` (6, 2) coincide with one of ``b``."""
    return int((np.linalg.norm(a[:, None] - b[None], axis=-1) < 1e-9).any(axis=1).sum())


def test_drawn_cells_touch_exactly_their_hex_neighbours() -> None:
    rows, cols = 4, 5
    vertices = hex_cell_vertices(rows, cols)
    neighbours = HexGrid(rows, cols).neighbors
    assert vertices.shape == (rows * cols, 6, 2)
    for i in range(rows * cols):
        adjacent = set(neighbours[i][neighbours[i] >= 0].tolist())
        for j in range(rows * cols):
            if j != i:
                # neighbours share an edge (two corners); other cells do not touch
                assert _shared_corners(vertices[i], vertices[j]) == (2 if j in adjacent else 0)


def test_ride_hailing_runs_log_their_hex_grid_and_other_envs_none() -> None:
    spec = get_scenario("ride-hailing-2")
    assert _grid_shape(lambda: spec.make_parallel_env({})) == (10, 10)
    # an env with rows and columns that are not Ride-Hailing's hex cells
    other = SimpleNamespace(config=SimpleNamespace(rows=3, cols=3))
    assert _grid_shape(lambda: other) is None


def test_group_map_plots_hex_and_row_layouts(tmp_path) -> None:
    maps = [
        {"step": step, "assignment": [(i + step) % 3 for i in range(12)], "shape": [3, 4]}
        for step in (0, 10, 20)
    ]
    hex_png = plot_groups(maps, "hex", tmp_path / "hex.png")
    row_png = plot_groups([dict(m, shape=None) for m in maps], "row", tmp_path / "row.png")
    assert hex_png.read_bytes().startswith(PNG)
    assert row_png.read_bytes().startswith(PNG)
