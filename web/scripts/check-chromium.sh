#!/usr/bin/env bash
# Installs Debian's chromium when it is missing and compares its major version with the one the
# pinned @playwright/test was built for (it cannot download its own browser here).
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "==> installing Debian's chromium (missing at $CHROMIUM)"
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
have=$("$CHROMIUM" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9.]+' | head -1)
want=$(node -e "const b=JSON.parse(require('fs').readFileSync('node_modules/playwright-core/browsers.json')).browsers.find(x=>x.name==='chromium');console.log(b.browserVersion)")
if [ "${have%%.*}" != "${want%%.*}" ]; then
  echo "WARNING: chromium $have at $CHROMIUM, but @playwright/test expects Chromium $want:" \
       "majors differ, browser tests may fail on protocol changes" >&2
else
  echo "==> chromium $have (Playwright expects $want): majors match"
fi
