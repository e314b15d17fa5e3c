"""The web app in real Chromium against the real stack: Playwright's suite in ``web/e2e``.

The browser talks to a gateway whose auth has social sign-in configured: the stack's real
OpenID provider (mock-oauth2-server) as ``google`` and ``github``, as ``make run`` has it, so
the specs sign in at its login form. The gateway serves ``web/dist`` (``make test`` builds it
first); the browser is Debian's chromium (``make chromium`` installs it and compares versions
with Playwright's).
"""

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from deploy.local.seed import scale_account
from deploy.local.services import REPO
from tests.integration.harness import System
from tests.integration.oidc_support import provider_url, social_sign_in_pair, stack_providers

WEB = REPO / "web"
# Generous: the suite takes about a minute when the machine is not shared.
TIMEOUT_SECONDS = 420


@pytest.fixture(scope="module")
def web_gateway(system: System) -> Iterator[str]:
    """The URL of a gateway whose auth offers "Continue with Google" and "… GitHub"."""
    with social_sign_in_pair(system, providers=json.dumps(stack_providers())) as (_, gateway):
        yield gateway.url


@pytest.mark.timeout(TIMEOUT_SECONDS + 60)
def test_browser_suite(system: System, web_gateway: str) -> None:
    assert (WEB / "dist" / "index.html").is_file(), "web/dist is missing: run `make web`"
    assert (WEB / "node_modules").is_dir(), "web/node_modules is missing: run `make web`"
    env = {
        **os.environ,
        "BASE_URL": web_gateway,
        "OIDC_PROVIDER_URL": provider_url(),
        **scale_account(system),
    }
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
