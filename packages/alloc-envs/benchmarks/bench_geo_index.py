"""Time to build the point-to-cell index of ``load_didi_gaia`` / ``geo_to_cell`` on large grids.

    python packages/alloc-envs/benchmarks/bench_geo_index.py [--sizes 100 250] [--points 1000000]

For each n x n hexagonal grid laid over Chengdu's box (:data:`CHENGDU_BBOX`), prints the median
wall time (of ``--repeats`` builds, one core) to build the index — what a loader does once per
(grid, box) — the number of candidates per bucket, and the time to look up ``--points`` uniform
random points. Before the index searched a window of the lattice it compared every centre with
every bucket (quadratic in the cells: 10,000 cells took 12.8 s, 62,500 cells more than 120 s).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from alloc_envs.core.hexgrid import HexGrid  # noqa: E402
from alloc_envs.ride_hailing.geo_index import GeoIndex  # noqa: E402
from alloc_envs.ride_hailing.trips import CHENGDU_BBOX  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 250])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lon_min, lat_min, lon_max, lat_max = CHENGDU_BBOX
    lon = rng.uniform(lon_min, lon_max, args.points)
    lat = rng.uniform(lat_min, lat_max, args.points)
    print(f"{'grid':>9} {'cells':>7} {'build s':>8} {'candidates':>10} {'lookup s':>9}")
    for n in args.sizes:
        grid = HexGrid(n, n)
        _ = grid.centres  # the grid's own arrays are not the index's work
        builds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            index = GeoIndex(grid, CHENGDU_BBOX)
            builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        cells = index.lookup(lon, lat)
        lookup = time.perf_counter() - start
        assert cells.min() >= 0 and cells.max() < grid.n_cells
        print(
            f"{n:>4} x {n:<3} {grid.n_cells:>7} {statistics.median(builds):>8.3f} "
            f"{index.candidates.shape[1]:>10} {lookup:>9.3f}"
        )


if __name__ == "__main__":
    main()
