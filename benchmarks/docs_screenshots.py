"""Screenshots of documentation pages, taken by headless Chromium from a strict build.

    python benchmarks/docs_screenshots.py [--out results/docs-screenshots] [--chromium PATH]
        [--pages index getting-started/ ...]

Builds the site (``mkdocs build --strict``) into a temporary folder, serves it on a free
localhost port and writes one PNG per page (1280 x 1600 pixels) with Debian's Chromium
(``apt-get install chromium``), started headless without background networking (the machines
have no network). Default pages: the home page, Getting started, and the API reference of
``alloc_envs.ride_hailing`` (a page mkdocstrings generates).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("", "getting-started/", "reference/alloc_envs/ride_hailing/")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,1600",
)


def build_site(site: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def screenshot(chromium: str, url: str, png: Path, profile: Path) -> None:
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    if not png.exists() or png.read_bytes()[:4] != b"\x89PNG":
        raise RuntimeError(f"Chromium wrote no PNG for {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "docs-screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="paths under the site")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site, profile = Path(tmp) / "site", Path(tmp) / "profile"
        build_site(site)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            for page in args.pages:
                name = page.strip("/").replace("/", "-") or "index"
                png = args.out / f"{name}.png"
                screenshot(
                    args.chromium, f"http://127.0.0.1:{server.server_port}/{page}", png, profile
                )
                print(f"wrote {png}")
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
