#!/usr/bin/env bash
# fuzz.sh BUILD-DIR SECONDS [TARGET...]: builds kaas's libFuzzer targets (fuzz/) with clang,
# ASan and UBSan in BUILD-DIR and runs each for SECONDS, starting from the seed corpus in
# fuzz/corpus/TARGET (read only: what a run finds goes to BUILD-DIR/corpus/TARGET and is kept
# for the next run). Prints each target's executions and coverage; exits non-zero on the first
# crash, leak or sanitizer report, leaving the input in BUILD-DIR/crashes/TARGET.
# `make test` runs it for 10 s per target (ctest fuzz_targets), `make fuzz` for 300 s.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD-DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz.sh BUILD-DIR SECONDS [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
cxx=${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
[ -n "$cxx" ] || { echo "fuzz.sh: clang++ is missing (scripts/install-deps.sh installs clang-14)" >&2; exit 1; }
cc=${cxx/clang++/clang}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_CXX_COMPILER="$cxx" -DKAAS_FUZZ=ON -DKAAS_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target fuzzers -j"${JOBS:-2}" >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log" >&2; echo "fuzz.sh: the fuzz targets did not build" >&2; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t" crashes="$build/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$build/$t.log"
  # -max_len: bodies and config files are bounded far lower in kaasd; 64 KiB reaches every
  # parser's depth without spending the run on huge inputs.
  if "$build/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$src/fuzz/corpus/$t" \
      >"$log" 2>&1; then
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    echo "fuzz: $t: ${runs:-?} executions in ${seconds} s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) inputs, 0 crashes"
  else
    failed=1
    echo "fuzz: $t FAILED; input kept in $crashes:" >&2
    grep -E 'ERROR|SUMMARY|deadly|#[0-9]+ 0x' "$log" | head -30 >&2
  fi
done
exit $failed
