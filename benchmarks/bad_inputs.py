"""Try every kind of bad input on the three packages, each in a fresh interpreter, and count how
many get a clear error (or, where the input is legitimate, the right answer).

    python benchmarks/bad_inputs.py [--jobs 2] [--only PATTERN] [--list] [--verbose]

A *kind* is a short Python snippet run with ``python -c`` in an empty temporary folder. It ends in
one of these ways, and the kind counts as handled when it matches what the kind expects:

* ``error``: an exception whose class is (a subclass of) the expected one, ``ValueError`` unless
  stated, and whose one-line message matches the kind's pattern (the file, field, row or column
  it must name, and what is wrong). Command-line kinds run ``alloc-bench`` in process: exit code
  2 with one ``alloc-bench: error:`` line counts as that error, anything else (a traceback, exit
  1) does not;
* ``answer``: no exception and ``ANSWER-OK`` printed: the snippet asserted the right result
  (a UTC-offset timestamp on its own day, a damaged store row run again, ...).

Files that carry a pickle payload write ``marker`` when they are unpickled; the snippet raises
``RuntimeError("the payload ran")`` if the marker appears, which never counts as handled. A kind
that runs longer than ``--timeout`` seconds counts as a hang. The summary line gives the kinds
tried and how many were handled; ``--verbose`` prints every outcome. Needs the packages installed
(``pip install -c constraints.txt -r requirements-test.txt``); one kind needs stable-baselines3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

#: Run in the child before the kind's snippet: helpers that write small files.
PRELUDE = r'''
import base64, contextlib, gzip, io, json, os, pickle, sqlite3, sys, zipfile
from pathlib import Path
import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
marker = Path("marker")


class Payload:
    """Unpickling this writes ``marker``."""

    def __reduce__(self):
        return (exec, ("open('marker', 'w').write('ran')",))


def refused(load, *args, **kwargs):
    """Call ``load``; whatever happens, the payload must not have run."""
    try:
        return load(*args, **kwargs)
    finally:
        if marker.exists():
            raise RuntimeError("the payload ran")


def object_npz(path, names):
    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    with open(path, "wb") as fh:
        np.savez(fh, **dict.fromkeys(names, payload))
    return path


TLC_HEADER = ("tpep_pickup_datetime,tpep_dropoff_datetime,PULocationID,DOLocationID,"
              "fare_amount")
ZONES = {1: 0, 2: 1, 3: 2}


def tlc_csv(name, *rows, header=TLC_HEADER, encoding="utf-8"):
    text = "\n".join([header, *rows]) + "\n"
    Path(name).write_bytes(text.encode(encoding))
    return name


GOOD_TRIP = "2016-07-01 00:05:00,2016-07-01 00:25:00,1,2,12.5"


def load_tlc(path, **kwargs):
    from alloc_envs.ride_hailing.trips import load_nyc_tlc
    return load_nyc_tlc(path, 3, zone_cells=kwargs.pop("zone_cells", ZONES), **kwargs)


def parquet(name, **columns):
    import pyarrow as pa, pyarrow.parquet as pq
    pq.write_table(pa.table(columns), name)
    return name


def didi_line(start, price="5.0"):
    return f"00ab,{start},{start + 600},104.05,30.65,104.06,30.66,{price}"


def cli(*argv):
    """``alloc-bench`` in process: its one-line error as a ValueError, else its output."""
    from alloc_bench.cli import main
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(argv))
    lines = [line for line in err.getvalue().splitlines() if not line.startswith("warning:")]
    if code == 2 and len(lines) == 1 and lines[0].startswith("alloc-bench: error:"):
        raise ValueError(lines[0])
    if code != 0:
        raise RuntimeError(f"exit {code}: {err.getvalue()[-400:]}")
    return err.getvalue()


TINY = """
name = "tiny"
description = "two methods, two seeds"
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "random"]
seeds = "0-1"
"""


def tiny_store(name="store.sqlite"):
    Path("tiny.toml").write_text(TINY)
    cli("run", "--suite-file", "tiny.toml", "--store", name, "--out", "out")
    return name


def sql(store, statement, *args):
    db = sqlite3.connect(store)
    db.execute(statement, args)
    db.commit()
    db.close()
'''

#: Executes the snippet read from stdin and prints one ``@@RESULT`` JSON line.
RUNNER = r"""
import json, sys
code = sys.stdin.read()
try:
    exec(compile(code, "<kind>", "exec"), {"__name__": "__kind__"})
except BaseException as exc:
    result = {"type": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}
else:
    result = {"type": None, "message": ""}
print("\n@@RESULT " + json.dumps(result), flush=True)
"""


@dataclass(frozen=True)
class Kind:
    """One bad input: its area, name, snippet and what counts as handling it."""

    area: str
    name: str
    code: str
    pattern: str | None = None  # None: an answer is expected (ANSWER-OK), not an error
    error: str = "ValueError"


def error(area: str, name: str, code: str, pattern: str, kind: str = "ValueError") -> Kind:
    return Kind(area, name, textwrap.dedent(code), pattern, kind)


def answer(area: str, name: str, code: str) -> Kind:
    return Kind(area, name, textwrap.dedent(code) + "\nprint('ANSWER-OK')\n")


RH = "import gymnasium, alloc_envs\n"
EDRP_SMALL = "gymnasium.make('alloc/EDRP-v0', preset='edrp-small'"
MTFG_SMALL = "gymnasium.make('alloc/MTFG-v0', preset='mtfg-small'"

KINDS: list[Kind] = [
    # ----------------------------------------------------------------- environment configs
    *(
        error(
            "config",
            f"ride-hailing {field}={value}",
            RH + f"gymnasium.make('alloc/RideHailing-v0', {field}={value})",
            rf"\b{field}",
        )
        for field, value in [
            ("rows", 0),
            ("rows", "'6'"),
            ("cols", 10**6),
            ("episode_steps", 0),
            ("episode_steps", 1.5),
            ("drivers_per_cell", -1),
            ("max_orders", 0),
            ("patience", -1),
            ("reward_scale", 0),
            ("reward_scale", "float('nan')"),
            ("demand", "'weekly'"),
            ("action_mode", "'teleport'"),
            ("faithful", "'yes'"),
            ("max_trip_steps", 9),
            ("base_rate_high", -1),
            ("price_mean", "(1, 2)"),
        ]
    ),
    error(
        "config",
        "ride-hailing unknown option",
        RH + "gymnasium.make('alloc/RideHailing-v0', speed=3)",
        r"unknown ride-hailing option",
    ),
    error(
        "config",
        "ride-hailing unknown preset",
        RH + "gymnasium.make('alloc/RideHailing-v0', preset='ride-hailing-9')",
        r"preset",
    ),
    error(
        "config",
        "ride-hailing 64x64 x 1e5 steps (memory)",
        RH + "gymnasium.make('alloc/RideHailing-v0', rows=64, cols=64, episode_steps=100_000)",
        r"episode_steps = 100000.* needs about [\d,.]+ GiB of memory",
    ),
    error(
        "config",
        "vaccine n_regions=0",
        RH + "gymnasium.make('alloc/VaccineAllocation-v0', n_regions=0)",
        r"n_regions",
    ),
    error(
        "config",
        "vaccine population=-5",
        RH + "gymnasium.make('alloc/VaccineAllocation-v0', population=-5)",
        r"population",
    ),
    error(
        "config",
        "edrp n_followers='32'",
        RH + f"{EDRP_SMALL}, n_followers='32')",
        r"n_followers must be an integer",
    ),
    error("config", "edrp n_followers=0", RH + f"{EDRP_SMALL}, n_followers=0)", r"n_followers"),
    error(
        "config",
        "edrp leader n_followers=1e8 (memory, 4 GiB limit)",
        "import os; os.environ['ALLOC_ENVS_MEMORY_LIMIT_GB'] = '4'\n"
        + RH
        + "gymnasium.make('alloc/EDRP-v0', n_followers=10**8)",
        r"n_followers = 100,000,000 needs about 10\.\d GiB",
    ),
    error("config", "edrp horizon=0", RH + f"{EDRP_SMALL}, horizon=0)", r"horizon"),
    error(
        "config",
        "edrp charge_high < charge_low",
        RH + f"{EDRP_SMALL}, charge_low=0.4, charge_high=0.1)",
        r"charge_high",
    ),
    error(
        "config",
        "edrp per-agent view n_followers=20000",
        "from alloc_envs.edrp import EDRPParallelEnv\n"
        "EDRPParallelEnv(preset='edrp-small', n_followers=20_000)",
        r"n_followers",
    ),
    error(
        "config",
        "edrp leader rule unknown",
        "from alloc_envs.edrp import EDRPParallelEnv\n"
        "EDRPParallelEnv(preset='edrp-small', leader='surge')",
        r"leader must be one of",
    ),
    error(
        "config",
        "mtfg n_followers='32' (per-agent view)",
        "from alloc_envs.mtfg import MTFGParallelEnv\nMTFGParallelEnv(n_followers='32')",
        r"n_followers must be an integer .*'32'",
    ),
    error("config", "mtfg grid_size=1", RH + f"{MTFG_SMALL}, grid_size=1)", r"grid_size"),
    error(
        "config",
        "mtfg follower_values of the wrong length",
        RH + f"{MTFG_SMALL}, follower_values=(1.0,))",
        r"follower_values",
    ),
    error(
        "config",
        "hexgrid 1e6 x 1e6",
        "from alloc_envs.core.hexgrid import HexGrid\nHexGrid(10**6, 10**6)",
        r"at most [\d,]+ cells",
    ),
    error(
        "config",
        "hexgrid 250x250 distance table (memory, 4 GiB limit)",
        "import os; os.environ['ALLOC_ENVS_MEMORY_LIMIT_GB'] = '4'\n"
        "from alloc_envs.core.hexgrid import HexGrid\nHexGrid(250, 250).distances",
        r"HexGrid.distances with 250 x 250 cells needs about",
    ),
    # ----------------------------------------------------------------- actions
    error(
        "action",
        "ride-hailing NaN reposition weights",
        RH + "env = gymnasium.make('alloc/RideHailing-v0', action_mode='reposition')\n"
        "env.reset(seed=0); env.step(np.full(env.action_space.shape, np.nan))",
        r"NaN|finite",
    ),
    error(
        "action",
        "ride-hailing dispatch action of the wrong shape",
        RH + "env = gymnasium.make('alloc/RideHailing-v0'); env.reset(seed=0)\n"
        "env.step(np.zeros((3, 3), dtype=np.int64))",
        r"shape",
    ),
    error(
        "action",
        "vaccine NaN allocation",
        RH + "env = gymnasium.make('alloc/VaccineAllocation-v0'); env.reset(seed=0)\n"
        "env.step(np.full(env.action_space.shape, np.nan, dtype=np.float32))",
        r"NaN|finite",
    ),
    error(
        "action",
        "edrp leader incentive outside the box",
        RH + f"env = {EDRP_SMALL}); env.reset(seed=0)\n"
        "env.step(np.full(env.action_space.shape, 9.0, dtype=np.float32))",
        r"incentive|\[",
    ),
    error(
        "action",
        "edrp follower action out of range",
        "from alloc_envs.edrp import EDRPParallelEnv\n"
        "env = EDRPParallelEnv(preset='edrp-small', n_followers=3); env.reset(seed=0)\n"
        "env.step({a: 99 for a in env.agents})",
        r"follower \d+ is 99, not in",
    ),
    answer(
        "action",
        "edrp masked follower action (played as stay, counted)",
        "from alloc_envs.edrp import EDRPParallelEnv\n"
        "env = EDRPParallelEnv(preset='edrp-small', n_followers=20); obs, _ = env.reset(seed=0)\n"
        "acts = {a: int(np.argmin(obs[a]['action_mask'])) for a in env.agents}\n"
        "n = sum(int(obs[a]['action_mask'][acts[a]] == 0) for a in env.agents)\n"
        "info = env.step(acts)[4]['follower_0']\n"
        "assert n > 0 and info['masked_actions'] == n, (n, info['masked_actions'])",
    ),
    answer(
        "action",
        "mtfg parallel_seed_test (actions sampled without the mask)",
        "from pettingzoo.test import parallel_seed_test\n"
        "from alloc_envs.mtfg import MTFGParallelEnv\n"
        "parallel_seed_test(lambda: MTFGParallelEnv(preset='mtfg-small', n_followers=30), 8)",
    ),
    # ----------------------------------------------------------------- NYC TLC loader
    answer(
        "tlc",
        "timestamps with a UTC offset (local wall-clock day)",
        "t = load_tlc(tlc_csv('t.csv', '2016-07-01T00:05:00+05:00,2016-07-01T00:25:00+05:00"
        ",1,2,9'))\nassert t.day_labels == ('2016-07-01',) and t.step.tolist() == [0]",
    ),
    answer(
        "tlc",
        "tz-aware Parquet timestamps (wall clock in their zone)",
        "import pyarrow as pa\n"
        "ts = pa.array(np.array(['2016-07-01T04:05'], 'datetime64[us]'), pa.timestamp('us', "
        "tz='-04:00'))\nend = pa.array(np.array(['2016-07-01T04:25'], 'datetime64[us]'), "
        "pa.timestamp('us', tz='-04:00'))\n"
        "t = load_tlc(parquet('t.parquet', tpep_pickup_datetime=ts, tpep_dropoff_datetime=end,"
        " PULocationID=[1], DOLocationID=[2], fare_amount=[9.0]))\n"
        "assert t.day_labels == ('2016-07-01',) and t.step.tolist() == [0], t.step",
    ),
    error(
        "tlc",
        "fare 1e21",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP, '2016-07-01 01:00:00,2016-07-01 01:20:00,1,2,1e21'))",
        r"t\.csv, line 3: fare_amount is 1e\+21, beyond",
    ),
    error(
        "tlc",
        "cut-off .gz",
        "data = gzip.compress((TLC_HEADER + '\\n' + GOOD_TRIP + '\\n')"
        ".encode())\nPath('t.csv.gz').write_bytes(data[:-10])\nload_tlc('t.csv.gz')",
        r"t\.csv\.gz: a cut-off or corrupt gzip file",
    ),
    error(
        "tlc",
        "not gzip at all but named .gz",
        "Path('t.csv.gz').write_text('hello')\nload_tlc('t.csv.gz')",
        r"t\.csv\.gz: a cut-off or corrupt gzip file",
    ),
    error(
        "tlc",
        "non-UTF-8 bytes",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP.replace('12.5', '12.5\\xe9'), encoding='latin-1'))",
        r"t\.csv, line 2, byte column \d+: .*not UTF-8",
    ),
    error(
        "tlc",
        "non-UTF-8 zone CSV",
        "Path('z.csv').write_bytes(b'LocationID,cell\\n1,0\\n2,"
        "\\xff1\\n')\nload_tlc(tlc_csv('t.csv', GOOD_TRIP), zone_cells='z.csv')",
        r"z\.csv, line 3, byte column 3: .*not UTF-8",
    ),
    error(
        "tlc",
        "zone CSV with a non-integer cell",
        "Path('z.csv').write_text('LocationID,cell"
        "\\n1,a\\n')\nload_tlc(tlc_csv('t.csv', GOOD_TRIP), zone_cells='z.csv')",
        r"z\.csv, line 2",
    ),
    error(
        "tlc",
        "zone mapped outside the grid",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP), zone_cells={1: 7})",
        r"zone 1 maps to cell 7",
    ),
    error(
        "tlc",
        "garbage Parquet",
        "Path('t.parquet').write_bytes(b'PAR1 junk')\nload_tlc('t.parquet')",
        r"t\.parquet: not a readable Parquet file",
    ),
    error(
        "tlc",
        "truncated Parquet",
        "parquet('g.parquet', tpep_pickup_datetime=['2016-07-01 00:05:00'], "
        "tpep_dropoff_datetime=['2016-07-01 00:25:00'], PULocationID=[1], DOLocationID=[2], "
        "fare_amount=[9.0])\nPath('t.parquet').write_bytes(Path('g.parquet').read_bytes()"
        "[:-30])\nload_tlc('t.parquet')",
        r"t\.parquet: not a readable Parquet file",
    ),
    error(
        "tlc",
        "Parquet fare column of words",
        "load_tlc(parquet('t.parquet', tpep_pickup_datetime=['2016-07-01 00:05:00'], "
        "tpep_dropoff_datetime=['2016-07-01 00:25:00'], PULocationID=[1], DOLocationID=[2], "
        "fare_amount=['nine']))",
        r"t\.parquet, row 1: cannot parse fare_amount",
    ),
    error(
        "tlc",
        "missing fare column",
        "load_tlc(tlc_csv('t.csv', '2016-07-01 00:05:00,"
        "2016-07-01 00:25:00,1,2', header=TLC_HEADER.rsplit(',', 1)[0]))",
        r"missing TLC column.*fare_amount",
    ),
    error(
        "tlc",
        "unparseable pickup time",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP.replace('2016-07-01 00:05:00', 'yesterday')))",
        r"line 2: cannot parse tpep_pickup",
    ),
    error(
        "tlc",
        "unknown UTC offset form",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP.replace('00:05:00', '00:05:00+5h', 1)))",
        r"line 2: cannot parse tpep_pickup",
    ),
    error(
        "tlc",
        "row with too few fields",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP, '2016-07-01 00:05:00,1'))",
        r"t\.csv, line 3: expected at least",
    ),
    error(
        "tlc",
        "no trip survives the filters",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP.replace(',12.5', ',0')))",
        r"no trip survived the filters.*bad_price=1",
    ),
    error(
        "tlc",
        "empty file",
        "Path('t.csv').write_text('')\nload_tlc('t.csv')",
        r"t\.csv: no CSV header",
    ),
    error(
        "tlc",
        "a folder instead of a file",
        "Path('t.csv').mkdir()\nload_tlc('t.csv')",
        r"t\.csv: cannot be read",
    ),
    error("tlc", "no such file", "load_tlc('missing.csv')", r"missing\.csv", "FileNotFoundError"),
    error(
        "tlc",
        "NUL byte inside a fare",
        "load_tlc(tlc_csv('t.csv', GOOD_TRIP.replace('12.5', '12\\x005')))",
        r"t\.csv, line 2: cannot parse fare_amount",
    ),
    # ----------------------------------------------------------------- DiDi GAIA loader
    answer(
        "didi",
        "250x250 grid indexed in under a second of CPU time",
        "import time\nfrom alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o').write_text(didi_line(1477929600) + '\\n')\nstart = time.process_time()\n"
        "load_didi_gaia('o', HexGrid(250, 250))\n"
        "assert time.process_time() - start < 1.0, time.process_time() - start",
    ),
    error(
        "didi",
        "reward_units 1e21",
        "from alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o').write_text(didi_line(1477929600) + '\\n' + didi_line(1477929700, '1e21'))\n"
        "load_didi_gaia('o', HexGrid(5, 5))",
        r"o, line 2: reward_units is 1e\+21",
    ),
    error(
        "didi",
        "cut-off .gz",
        "from alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o.gz').write_bytes(gzip.compress(didi_line(1477929600).encode())[:-6])\n"
        "load_didi_gaia('o.gz', HexGrid(5, 5))",
        r"o\.gz: a cut-off or corrupt gzip file",
    ),
    error(
        "didi",
        "seven fields",
        "from alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o').write_text(didi_line(1477929600).rsplit(',', 1)[0])\n"
        "load_didi_gaia('o', HexGrid(5, 5))",
        r"o, line 1: expected 8",
    ),
    error(
        "didi",
        "a word for a coordinate",
        "from alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o').write_text(didi_line(1477929600).replace('104.05', 'east'))\n"
        "load_didi_gaia('o', HexGrid(5, 5))",
        r"o, line 1: cannot parse",
    ),
    error(
        "didi",
        "inverted bbox",
        "from alloc_envs.core.hexgrid import HexGrid\n"
        "from alloc_envs.ride_hailing.trips import load_didi_gaia\n"
        "Path('o').write_text(didi_line(1477929600))\n"
        "load_didi_gaia('o', HexGrid(5, 5), (105, 30, 104, 31))",
        r"lon_min < lon_max",
    ),
    # ----------------------------------------------------------------- EDRP / vaccine data
    error(
        "data",
        "adjacency CSV with non-UTF-8 bytes",
        "from alloc_envs.edrp.tlc import read_zone_adjacency\n"
        "Path('a.csv').write_bytes(b'LocationID,NeighborID\\n4,\\xe912\\n')\n"
        "read_zone_adjacency('a.csv')",
        r"a\.csv, line 2, byte column 3",
    ),
    error(
        "data",
        "adjacency zone its own neighbour",
        "from alloc_envs.edrp.tlc import read_zone_adjacency\n"
        "Path('a.csv').write_text('LocationID,NeighborID\\n4,4\\n')\n"
        "read_zone_adjacency('a.csv')",
        r"a\.csv, line 2: zone 4 is its own neighbour",
    ),
    error(
        "data",
        "EDRP city .npz with pickled objects",
        "from alloc_envs.edrp import EDRPCity\n"
        "refused(EDRPCity.load, object_npz('c.npz', ('zone_ids',)))",
        r"c\.npz: not an EDRPCity",
    ),
    error(
        "data",
        "EDRP city that is a text file",
        "from alloc_envs.edrp import EDRPCity\n"
        "Path('c.npz').write_text('zones')\nEDRPCity.load('c.npz')",
        r"c\.npz: not an EDRPCity",
    ),
    error(
        "data",
        "trip table .npz with pickled objects",
        "from alloc_envs.ride_hailing.trips import TripTable\n"
        "refused(TripTable.load, object_npz('t.npz', ('format_version', 'day')))",
        r"t\.npz: .*TripTable",
    ),
    error(
        "data",
        "truncated trip table",
        "from alloc_envs.ride_hailing.trips import TripTable\n"
        "Path('t.npz').write_bytes(b'PK\\x03\\x04 cut')\nTripTable.load('t.npz')",
        r"t\.npz: not a TripTable",
    ),
    error(
        "data",
        "vaccine city .npz with pickled objects",
        "from alloc_envs.vaccine import load_city\n"
        "refused(load_city, object_npz('v.npz', ('population',)))",
        r"v\.npz: not a readable",
    ),
    error(
        "data",
        "vaccine regions CSV with non-UTF-8 bytes",
        "from alloc_envs.vaccine import load_city_csv\n"
        "Path('r.csv').write_bytes(b'population\\n10\\n\\xff\\n')\n"
        "Path('v.csv').write_text('region,place,visits\\n0,a,1\\n')\n"
        "load_city_csv('r.csv', 'v.csv')",
        r"r\.csv, line 3, byte column 1",
    ),
    error(
        "data",
        "vaccine regions CSV ragged row",
        "from alloc_envs.vaccine import load_city_csv\n"
        "Path('r.csv').write_text('population\\n10\\n20,3\\n')\n"
        "Path('v.csv').write_text('region,place,visits\\n0,a,1\\n')\n"
        "load_city_csv('r.csv', 'v.csv')",
        r"r\.csv, line 3",
    ),
    # ----------------------------------------------------------------- checkpoints
    *(
        error(
            "checkpoint",
            f"PPO checkpoint {what}",
            f"from alloc_agents.ppo import checkpoint\n{setup}\n"
            "refused(checkpoint.load, Path('c.pt'))",
            rf"c\.pt.*{pattern}",
        )
        for what, setup, pattern in [
            ("empty", "Path('c.pt').write_bytes(b'')", ": empty$"),
            ("text", "Path('c.pt').write_text('not torch')", "not a torch file"),
            (
                "truncated",
                "import torch; torch.save({'w': torch.zeros(99)}, 'c.pt')\n"
                "Path('c.pt').write_bytes(Path('c.pt').read_bytes()[:200])",
                "cut off",
            ),
            (
                "with a pickle payload",
                "import torch; torch.save({'format': 1, 'x': Payload()}, 'c.pt')",
                "refused",
            ),
            (
                "foreign",
                "import torch; torch.save({'weights': torch.zeros(2)}, 'c.pt')",
                "not an alloc-agents PPO checkpoint",
            ),
            ("missing", "", "does not exist"),
        ]
    ),
    error(
        "checkpoint",
        "PPO policy from a text file",
        "import alloc_envs, pettingzoo\nfrom alloc_agents import load_policy\n"
        "Path('c.pt').write_text('x')\n"
        "load_policy('c.pt', pettingzoo.make('parallel', 'alloc/RideHailing-v0'))",
        r"c\.pt.*not a torch file",
    ),
    error(
        "checkpoint",
        "SB3 model.zip whose data entry is a pickle payload",
        "from alloc_agents.baselines.sb3 import load_sb3_policy, train_sb3_ppo\n"
        "import gymnasium, alloc_envs\n"
        "train_sb3_ppo('alloc/RideHailing-v0', env_kwargs={'episode_steps': 12}, "
        "total_timesteps=64, n_steps=64, batch_size=64, n_epochs=1, log_dir='run', "
        "policy_kwargs={'net_arch': [8]})\n"
        "with zipfile.ZipFile('run/model.zip') as z:\n"
        "    entries = {n: z.read(n) for n in z.namelist()}\n"
        "blob = base64.b64encode(pickle.dumps(Payload())).decode()\n"
        "entries['data'] = json.dumps({'policy_class': {':serialized:': blob}, "
        "'policy_kwargs': {'net_arch': [8]}}).encode()\n"
        "import torch; torch.save({'w': Payload()}, 'evil.pth')\n"
        "entries['policy.pth'] = Path('evil.pth').read_bytes()\n"
        "with zipfile.ZipFile('run/model.zip', 'w') as z:\n"
        "    [z.writestr(n, d) for n, d in entries.items()]\n"
        "Path('run/sb3-policy.json').unlink()\n"
        "refused(load_sb3_policy, 'run', gymnasium.make('alloc/RideHailing-v0', "
        "episode_steps=12))",
        r"model\.zip \(entry policy\.pth\): refused",
    ),
    error(
        "checkpoint",
        "SB3 pickled vecnormalize.pkl",
        "from alloc_agents.baselines import sb3_files\n"
        "Path('run').mkdir(); Path('run/vecnormalize.pkl').write_bytes(pickle.dumps("
        "Payload()))\nrefused(sb3_files.load_normalizer, Path('run'), None)",
        r"vecnormalize\.pkl: a pickle",
    ),
    # ----------------------------------------------------------------- results store and CLI
    error("cli", "unknown suite", "cli('run', '--suite', 'nope')", r"suite"),
    error(
        "cli",
        "suite file with non-UTF-8 bytes",
        "Path('s.toml').write_bytes(b'name = \"caf\\xe9\"\\n')\n"
        "cli('run', '--suite-file', 's.toml')",
        r"s\.toml', line 1, byte column 12",
    ),
    error(
        "cli",
        "suite file with invalid TOML",
        "Path('s.toml').write_text('name = ')\ncli('run', '--suite-file', 's.toml')",
        r"s\.toml: invalid TOML",
    ),
    error(
        "cli",
        "suite with an unknown key",
        "Path('s.toml').write_text(TINY + 'colour = 1\\n')\ncli('run', '--suite-file', 's.toml')",
        r"colour",
    ),
    error(
        "cli",
        "evaluate with bad seeds",
        "cli('evaluate', '--scenario', 'ride-hailing-1', '--method', 'greedy', '--seeds', '3-1')",
        r"seeds",
    ),
    error(
        "cli",
        "evaluate with an unknown method",
        "cli('evaluate', '--scenario', 'ride-hailing-1', '--method', 'psychic')",
        r"psychic",
    ),
    error(
        "cli",
        "evaluate with an option the env rejects",
        "cli('evaluate', '--scenario', "
        "'ride-hailing-1', '--method', 'greedy', '--option', 'rows=0')",
        r"rows",
    ),
    error(
        "cli",
        "evaluate with option syntax",
        "cli('evaluate', '--scenario', 'ride-hailing-1', '--method', 'greedy', '--option', 'rows')",
        r"KEY=VALUE|rows",
    ),
    error(
        "cli",
        "run with --jobs 0",
        "Path('tiny.toml').write_text(TINY)\n"
        "cli('run', '--suite-file', 'tiny.toml', '--jobs', '0')",
        r"--jobs",
    ),
    error(
        "cli",
        "store that is a folder",
        "Path('tiny.toml').write_text(TINY); "
        "Path('s.sqlite').mkdir()\ncli('run', '--suite-file', 'tiny.toml', '--store', "
        "'s.sqlite')",
        r"s\.sqlite' is a folder",
    ),
    error(
        "cli",
        "report without a store",
        "Path('tiny.toml').write_text(TINY)\n"
        "cli('report', '--suite-file', 'tiny.toml', '--store', 'none.sqlite')",
        r"no store at",
    ),
    error(
        "cli",
        "--out that is a file",
        "Path('tiny.toml').write_text(TINY); "
        "Path('o').write_text('x')\ncli('run', '--suite-file', 'tiny.toml', '--out', 'o')",
        r"--out 'o' exists and is not a folder",
    ),
    error(
        "cli",
        "compare a method with itself",
        "tiny_store()\ncli('compare', 'greedy', 'greedy', '--store', 'store.sqlite')",
        r"two different",
    ),
    *(
        error(
            "store",
            f"store {what}",
            f"s = tiny_store()\ndata = bytearray(Path(s).read_bytes())\n{damage}\n"
            "Path(s).write_bytes(bytes(data))\n"
            "cli('report', '--suite-file', 'tiny.toml', '--store', s, '--out', 'r')",
            r"store\.sqlite' is damaged.*\.recover",
        )
        for what, damage in [
            (
                "with garbage on a page (the runs table's root)",
                'page = sqlite3.connect(s).execute("SELECT rootpage FROM sqlite_master WHERE '
                "name = 'runs'\").fetchone()[0]\n"
                "data[(page - 1) * 4096 : (page - 1) * 4096 + 300] = b'\\xde\\xad' * 150",
            ),
            ("truncated", "del data[5000:]"),
            ("replaced by text", "data[:] = b'results\\n' * 600"),
        ]
    ),
    error(
        "store",
        "older schema (no version table, no groups column)",
        "s = tiny_store()\nsql(s, 'DROP TABLE schema_version')\n"
        "sql(s, 'DROP INDEX runs_by_cell')\nsql(s, 'ALTER TABLE runs DROP COLUMN groups')\n"
        "cli('run', '--suite-file', 'tiny.toml', '--store', s)",
        r"alloc-bench migrate --store 'store\.sqlite'",
    ),
    answer(
        "store",
        "older schema migrated, rows kept",
        "s = tiny_store()\nsql(s, 'DROP TABLE schema_version')\n"
        "sql(s, 'ALTER TABLE runs DROP COLUMN groups')\ncli('migrate', '--store', s)\n"
        "err = cli('run', '--suite-file', 'tiny.toml', '--store', s, '--out', 'out')\n"
        "assert '4 finished earlier (skipped)' in err, err",
    ),
    error(
        "store",
        "newer schema",
        "s = tiny_store()\nsql(s, 'UPDATE schema_version SET "
        "version = 9')\ncli('report', '--suite-file', 'tiny.toml', '--store', s)",
        r"schema version 9.*upgrade alloc-bench",
    ),
    *(
        answer(
            "store",
            f"report with a row whose metrics are {what}",
            "s = tiny_store()\nwhere = \"WHERE seed = 0 AND method = 'greedy'\"\n"
            "m = json.loads(sqlite3.connect(s).execute('SELECT metrics FROM runs ' + where)"
            ".fetchone()[0])\n"
            f"sql(s, 'UPDATE runs SET metrics = ? ' + where, {value})\n"
            "err = cli('report', '--suite-file', 'tiny.toml', '--store', s, '--out', 'r',"
            " '--no-plots')\n"
            "assert 'skipped row' in err and 'column metrics' in err and 'greedy seed 0' in "
            "err, err",
        )
        for what, value in [
            ("bad JSON", "'{\"gmv\": 1,'"),
            ("empty", "'{}'"),
            ("NaN", "json.dumps({**m, 'gmv': float('nan')})"),
        ]
    ),
    answer(
        "store",
        "run with a damaged row runs it again",
        "s = tiny_store()\nsql(s, \"UPDATE runs SET metrics = '{oops' WHERE seed = 1\")\n"
        "err = cli('run', '--suite-file', 'tiny.toml', '--store', s, '--out', 'out')\n"
        "assert 'it runs again' in err and '2 to run' in err, err",
    ),
    answer(
        "store",
        "bad checkpoint in a learned run's folder (set aside, run finishes)",
        "from alloc_bench.suites import parse_suite\n"
        "text = TINY.replace('\"greedy\", \"random\"', '\"PS+IPPO\"').replace('0-1', '0')"
        " + 'train_steps = 12\\noptions = { episode_steps = 12 }\\n'\n"
        "Path('l.toml').write_text(text)\n"
        "from alloc_bench.rundirs import run_dir\n"
        "folder = run_dir('store-artifacts', parse_suite(text, 'l').configs()[0])\n"
        "folder.mkdir(parents=True)\n"
        "(folder / 'checkpoint.pt').write_bytes(b'cut')\n"
        "cli('run', '--suite-file', 'l.toml', '--store', 'store.sqlite', '--out', 'o')\n"
        "assert list(folder.glob('checkpoint.unusable-*.pt'))",
    ),
]


@dataclass
class Outcome:
    kind: Kind
    handled: bool
    what: str
    seconds: float


def run_kind(kind: Kind, timeout: float) -> Outcome:
    """Run one kind in a fresh interpreter in an empty folder and judge its result."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bad-input-") as folder:
        try:
            proc = subprocess.run(
                [sys.executable, "-c", RUNNER],
                input=PRELUDE + "\n" + kind.code,
                capture_output=True,
                text=True,
                cwd=folder,
                timeout=timeout,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        except subprocess.TimeoutExpired:
            return Outcome(kind, False, f"hang (> {timeout:.0f} s)", time.monotonic() - start)
    seconds = time.monotonic() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT ")]
    if not lines:
        return Outcome(kind, False, f"crashed: {proc.stderr.strip()[-300:]}", seconds)
    result = json.loads(lines[-1][len("@@RESULT ") :])
    types, message = result["type"], result["message"]
    if kind.pattern is None:
        ok = types is None and "ANSWER-OK" in proc.stdout
        what = "right answer" if ok else f"{(types or ['no error'])[0]}: {message}"
        return Outcome(kind, ok, what, seconds)
    if types is None:
        return Outcome(kind, False, "no error (a silent answer)", seconds)
    ok = (
        kind.error in types
        and "\n" not in message.strip()
        and bool(re.search(kind.pattern, message))
    )
    return Outcome(kind, ok, f"{types[0]}: {message}", seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="kinds run at once (default 2)")
    parser.add_argument("--only", help="run the kinds whose area or name matches this regex")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per kind")
    parser.add_argument("--list", action="store_true", help="list the kinds and stop")
    parser.add_argument("--verbose", action="store_true", help="print every outcome")
    args = parser.parse_args()
    kinds = [k for k in KINDS if not args.only or re.search(args.only, f"{k.area} {k.name}")]
    if args.list:
        for kind in kinds:
            print(f"{kind.area:<11} {'answer' if kind.pattern is None else 'error':<7} {kind.name}")
        return
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda k: run_kind(k, args.timeout), kinds))
    for outcome in outcomes:
        if args.verbose or not outcome.handled:
            mark = "ok  " if outcome.handled else "GAP "
            print(f"{mark}{outcome.kind.area:<11} {outcome.kind.name}: {outcome.what[:300]}")
    handled = sum(o.handled for o in outcomes)
    errors = sum(o.handled and o.kind.pattern is not None for o in outcomes)
    print(
        f"{len(outcomes)} kinds tried: {handled} handled ({errors} clear errors, "
        f"{handled - errors} right answers), {len(outcomes) - handled} not"
    )


if __name__ == "__main__":
    main()
