#!/usr/bin/env bash
# Runs the portal's browser tests (or, with "screenshots", regenerates docs/screenshots).
# Needs KAASD (the kaasd binary; ctest passes it), node >= 20 and Debian's chromium.
set -euo pipefail
: "${KAASD:?set KAASD to the kaasd binary, e.g. KAASD=build/bin/kaasd}"
# Resolved before the cd below: a relative path (make screenshots passes build/bin/kaasd) is
# relative to where we were called from.
KAASD=$(realpath -e "$KAASD")
export KAASD
cd "$(dirname "$0")"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "web tests: $CHROMIUM not found; install Debian's chromium (scripts/install-deps.sh)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
if [ "${1:-}" = "screenshots" ]; then
  exec node screenshots.mjs
fi
exec node --test --test-reporter=spec
