"""--executor ray on a local Ray instance gives the same numbers as the local runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alloc_bench.runner import run_suite
from alloc_bench.store import Store
from alloc_bench.suites import Suite

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'alloc-bench[ray]')")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_matches_the_serial_run(local_ray: None, tiny: Suite, tmp_path: Path) -> None:
    with Store(tmp_path / "serial.sqlite") as serial, Store(tmp_path / "ray.sqlite") as on_ray:
        run_suite(tiny, serial, jobs=1)
        summary = run_suite(tiny, on_ray, jobs=2, executor="ray")
        assert summary.executed == 6 and not summary.failed
        assert ray.is_initialized()  # it used this instance and left it running
        expected = {h: (r["metrics"], r["episodes"]) for h, r in serial.rows().items()}
        got = {h: (r["metrics"], r["episodes"]) for h, r in on_ray.rows().items()}
        assert got == expected
        again = run_suite(tiny, on_ray, jobs=2, executor="ray")
        assert again.executed == 0 and len(again.plan.finished) == 6
