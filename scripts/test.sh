#!/usr/bin/env bash
# Quick start, part 2: install dependencies, build, and run the whole test
# suite: unit and end-to-end tests (release), the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then every fuzzer on its seed
# corpus for FUZZ_SECONDS (default 60) each.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export VIGIL_SIGMA_DIR=${VIGIL_SIGMA_DIR:-$(cd .. && pwd)/shared/sigma}

scripts/install-deps.sh
start=$SECONDS
step() { echo; echo "== $* ($((SECONDS - start)) s) =="; }

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release
step "release tests"
ctest --preset release

step "ASan+UBSan build"
cmake --preset asan >/dev/null
cmake --build --preset asan
step "ASan+UBSan tests"
ctest --preset asan

step "fuzz build"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
step "fuzzing, ${FUZZ_SECONDS} s per fuzzer"
mkdir -p build-fuzz/findings
status=0
for corpus_file in build-fuzz/fuzz/*.corpus; do
  name=$(basename "$corpus_file" .corpus)
  seeds=$(cat "$corpus_file")
  work=build-fuzz/work/$name
  rm -rf "$work" && mkdir -p "$work"
  # New inputs go to $work; the committed seeds are read, never modified.
  result="no crash"
  if ! build-fuzz/fuzz/"$name" "$work" "$seeds" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix=build-fuzz/findings/"$name"- -print_final_stats=1 \
      >build-fuzz/work/"$name".log 2>&1; then
    echo "FUZZER FAILED: $name (see build-fuzz/work/$name.log and build-fuzz/findings/)"
    tail -40 build-fuzz/work/"$name".log
    status=1
    result=FAILED
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/work/"$name".log | grep -o '[0-9]*$' || echo "?")
  echo "fuzzer $name: $execs executions, $result"
done
step "done"
exit $status
