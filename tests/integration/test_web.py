"""The web app in real Chromium against the real stack: Playwright's suite in ``web/e2e``.

The gateway of the test system serves ``web/dist`` (``make test`` builds it first); the browser
is Debian's chromium (``make chromium`` installs it and compares versions with Playwright's).
"""

import os
import subprocess

import pytest

from deploy.local.seed import scale_account
from deploy.local.services import REPO
from tests.integration.harness import System

WEB = REPO / "web"
# Generous: the suite takes about a minute when the machine is not shared.
TIMEOUT_SECONDS = 420


@pytest.mark.timeout(TIMEOUT_SECONDS + 60)
def test_browser_suite(system: System) -> None:
    assert (WEB / "dist" / "index.html").is_file(), "web/dist is missing: run `make web`"
    assert (WEB / "node_modules").is_dir(), "web/node_modules is missing: run `make web`"
    env = {**os.environ, "BASE_URL": system.gateway_url, **scale_account(system)}
    result = subprocess.run(
        ["npx", "playwright", "test"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    print(result.stdout[-20000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
