"""No ``.npz`` file a user loads runs code: every loader reads with ``allow_pickle=False``.

Each malicious archive holds an object array whose pickle writes a marker file when it is
unpickled; the test fails if the loader does not refuse it with a ``ValueError`` naming the file,
or if the marker appears (as it does with ``allow_pickle=True``, shown first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from alloc_envs.edrp import EDRPCity, make_game
from alloc_envs.edrp.exact_leader import load_exact_leaders
from alloc_envs.ride_hailing.trips import TripTable
from alloc_envs.vaccine import load_city


class MarkerWriter:
    """Unpickling this runs code: it writes ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({str(self.path)!r}, 'w').write('ran')",))


def malicious_npz(path: Path, marker: Path, names: tuple[str, ...]) -> Path:
    """An ``.npz`` archive whose arrays ``names`` each hold the pickled :class:`MarkerWriter`."""
    payload = np.empty(1, dtype=object)
    payload[0] = MarkerWriter(marker)
    with open(path, "wb") as fh:
        np.savez(fh, **dict.fromkeys(names, payload))
    return path


LOADERS: dict[str, tuple[Callable[[Path], object], tuple[str, ...]]] = {
    "edrp-city": (EDRPCity.load, ("format_version", "zone_ids", "demand")),
    "trip-table": (TripTable.load, ("format_version", "day", "price")),
    "vaccine-city": (load_city, ("population", "visits")),
    "exact-leaders": (
        lambda path: load_exact_leaders(path, make_game("edrp-small")),
        ("fingerprint", "fixed", "fixed_orr", "schedule", "schedule_orr"),
    ),
}


def test_the_payload_runs_when_pickles_are_allowed(tmp_path: Path) -> None:
    """The control: the crafted archive does run code for a loader that allows pickles."""
    marker = tmp_path / "marker"
    path = malicious_npz(tmp_path / "evil.npz", marker, ("zone_ids",))
    with np.load(path, allow_pickle=True) as npz:
        _ = npz["zone_ids"]
    assert marker.exists()


@pytest.mark.parametrize("name", list(LOADERS))
def test_a_malicious_archive_is_refused_and_runs_nothing(name: str, tmp_path: Path) -> None:
    load, arrays = LOADERS[name]
    marker = tmp_path / "marker"
    path = malicious_npz(tmp_path / f"{name}.npz", marker, arrays)
    with pytest.raises(ValueError, match=r"\.npz") as info:
        load(path)
    assert str(path) in str(info.value)
    assert not marker.exists(), f"{name}: loading the archive ran code"
