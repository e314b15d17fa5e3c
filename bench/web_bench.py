"""Issue 20: the web app in Debian's chromium, served by the gateway of the bench system.

``web/scripts/bench.mjs`` does the measuring: Lighthouse 12 (performance, accessibility, best
practices) on ``/signin`` and on the signed-in task list with 1,000 tasks, the sign-in route's
initial JavaScript (gzip sizes of the chunks it loads), time from navigation to the first task
rows (median of 5 loads) and requestAnimationFrame frame times while the list scrolls. Smoke runs
skip Lighthouse (installing and running it takes minutes).
"""

import asyncio
import json
import os
import subprocess
from pathlib import Path

from bench.client import Bench
from deploy.local.seed import scale_account
from deploy.local.services import REPO

WEB = REPO / "web"
LIGHTHOUSE_VERSION = "12.8.2"  # 13 needs Node 22
TIMEOUT_SECONDS = 900


def lighthouse_module() -> Path:
    """Lighthouse installed once into the cache, outside the app's own dependencies."""
    npm_cache = os.environ.get("npm_config_cache")  # noqa: SIM112 (npm's own lowercase name)
    cache = Path(npm_cache) if npm_cache else Path.home() / ".cache/taskstream/npm"
    prefix = cache.parent / f"lighthouse-{LIGHTHOUSE_VERSION}"
    module = prefix / "node_modules" / "lighthouse" / "core" / "index.js"
    if not module.is_file():
        command = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                   "--loglevel=error", f"lighthouse@{LIGHTHOUSE_VERSION}"]  # fmt: skip
        subprocess.run(command, check=True, timeout=600)
    return module


def measure(gateway: str, account: dict[str, str], *, lighthouse: bool) -> dict[str, object]:
    env = {
        **os.environ,
        "BASE_URL": gateway,
        "BENCH_EMAIL": account["E2E_SCALE_EMAIL"],
        "BENCH_PASSWORD": account["E2E_SCALE_PASSWORD"],
        "DIST_DIR": str(WEB / "dist"),
        "CHROME_PATH": "/usr/bin/chromium",
    }
    if lighthouse:
        env["LIGHTHOUSE_MODULE"] = str(lighthouse_module())
    result = subprocess.run(
        ["node", "scripts/bench.mjs"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/bench.mjs failed: {result.stderr[-2000:]}")
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


async def run(bench: Bench) -> dict[str, object]:
    if not (WEB / "dist" / "index.html").is_file():
        raise RuntimeError("web/dist is missing: run `make web` first")
    account = await asyncio.to_thread(scale_account, bench.system)
    lighthouse = bench.sizes.rounds > 1  # full runs only (smoke runs have one round)
    return await asyncio.to_thread(
        measure, bench.system.gateway_url, account, lighthouse=lighthouse
    )
