"""Parsing and formatting of seed lists (``0,1,5-9``) and options (``key=value``)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from alloc_bench.errors import BenchError

#: Largest seed accepted (numpy's SeedSequence takes any non-negative int; keep it sane).
MAX_SEED = 2**63 - 1
#: Most seeds one list may expand to (guards against typos such as ``0-100000000``).
MAX_SEEDS = 100_000


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0,1,2"``, ``"0-4"`` or a mix (``"0-2,7"``), in the order given.

    Ranges are inclusive. Seeds are non-negative integers and may not repeat.

    Raises:
        BenchError: empty list, bad syntax, a reversed range, a negative or repeated seed.
    """
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise BenchError(f"bad seeds {text!r}: empty item (use e.g. 0,1,2 or 0-4)")
        low, sep, high = part.partition("-")
        if not sep:
            seeds.append(_seed_int(text, part))
            continue
        first, last = _seed_int(text, low), _seed_int(text, high)
        if last < first:
            raise BenchError(f"bad seeds {text!r}: range {part!r} is reversed")
        if last - first + 1 > MAX_SEEDS:
            raise BenchError(f"bad seeds {text!r}: more than {MAX_SEEDS} seeds")
        seeds.extend(range(first, last + 1))
    return check_seeds(seeds, text)


def _seed_int(text: str, item: str) -> int:
    item = item.strip()
    if not (item.isascii() and item.isdigit()):
        raise BenchError(
            f"bad seeds {text!r}: {item!r} is not a non-negative integer (use e.g. 0,1,2 or 0-4)"
        )
    return int(item)


def check_seeds(seeds: Iterable[Any], where: str = "") -> list[int]:
    """``seeds`` as a list of distinct non-negative ints, or a :class:`BenchError`."""
    label = f" {where!r}" if where else ""
    out: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise BenchError(f"bad seeds{label}: {seed!r} is not an integer in [0, 2**63 - 1]")
        out.append(seed)
    if not out:
        raise BenchError(f"bad seeds{label}: no seed given")
    if len(out) > MAX_SEEDS:
        raise BenchError(f"bad seeds{label}: more than {MAX_SEEDS} seeds")
    repeated = sorted({s for s in out if out.count(s) > 1}) if len(set(out)) != len(out) else []
    if repeated:
        raise BenchError(f"bad seeds{label}: {repeated} given more than once")
    return out


def parse_option(text: str) -> tuple[str, Any]:
    """``(key, value)`` from ``"key=value"``.

    The value is read as a TOML value when it is one (``5`` → int, ``0.5`` → float, ``true`` →
    bool, ``[1, 2]`` → list, ``"x"`` → str) and is otherwise the plain string (``reference``).

    Raises:
        BenchError: no ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not key.replace("_", "a").isalnum():
        raise BenchError(f"bad option {text!r}: expected key=value, e.g. demand=reference")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """Options from ``key=value`` items; a key given twice is an error."""
    options: dict[str, Any] = {}
    for item in items:
        key, value = parse_option(item)
        if key in options:
            raise BenchError(f"option {key!r} given more than once")
        options[key] = value
    return options


def format_seeds(seeds: Iterable[int]) -> str:
    """Compact text for a seed list: runs of consecutive seeds as ranges (``0-4,7``)."""
    parts: list[str] = []
    run: list[int] = []
    for seed in seeds:
        if run and seed == run[-1] + 1:
            run.append(seed)
            continue
        if run:
            parts.append(_run_text(run))
        run = [seed]
    if run:
        parts.append(_run_text(run))
    return ",".join(parts)


def _run_text(run: list[int]) -> str:
    if len(run) == 1:
        return str(run[0])
    if len(run) == 2:
        return f"{run[0]},{run[1]}"
    return f"{run[0]}-{run[-1]}"


def format_options(options: Mapping[str, Any]) -> str:
    """``"k=v, k2=v2"`` in key order, or ``"defaults"`` when empty."""
    if not options:
        return "defaults"
    return ", ".join(f"{k}={options[k]}" for k in sorted(options))
