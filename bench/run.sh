#!/usr/bin/env bash
# Runs the benchmarks against a freshly built kaasd: `make bench` (or bench/run.sh BUILD_DIR).
set -euo pipefail
BUILD=${1:-build}
cmake --build "$BUILD" -j2 --target kaas_bench kaasd >/dev/null
"$BUILD/bin/kaas_bench" "${@:2}"
