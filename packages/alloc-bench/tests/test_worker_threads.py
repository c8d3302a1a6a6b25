"""Pool workers split the CPUs: each gets its share of math-library threads."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from alloc_bench.executors import init_worker


def test_pool_workers_get_their_share_of_threads_unless_the_user_set_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # the user's choice is kept
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=init_worker, initargs=(os.getpid(), 3)
    ) as pool:
        omp = pool.submit(os.getenv, "OMP_NUM_THREADS").result()
        mkl = pool.submit(os.getenv, "MKL_NUM_THREADS").result()
    assert (omp, mkl) == ("3", "7")
