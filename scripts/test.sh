#!/usr/bin/env bash
# Installs what hark needs, builds it from scratch and runs every test:
#   1. a Release build with -Werror: all unit, golden and black-box tests;
#   2. a Debug build with AddressSanitizer + UndefinedBehaviorSanitizer: the tests of code that parses input;
#   3. the libFuzzer targets (clang), each for a short bounded run over its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh

jobs=$(nproc)
rm -rf build/test build/asan build/fuzz

echo "== release build and tests"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DHARK_WERROR=ON
cmake --build build/test -j "$jobs"
ctest --test-dir build/test --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan+UBSan) of the input-parsing tests"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHARK_SANITIZE=ON -DHARK_WERROR=ON -DHARK_BENCH=OFF
asan_targets=$(cmake --build build/asan --target help | sed -n 's/^\(hark_\(gguf\|audio\|text\|server\)_tests\):.*/\1/p')
cmake --build build/asan -j "$jobs" --target $asan_targets
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -L 'gguf|audio|text|server'

echo "== fuzz targets (bounded runs)"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHARK_FUZZ=ON \
  -DHARK_SANITIZE=ON -DHARK_TESTS=OFF -DHARK_BENCH=OFF
fuzzers=$(cmake --build build/fuzz --target help | sed -n 's/^\([a-z0-9]*_fuzz\):.*/\1/p')
cmake --build build/fuzz -j "$jobs" --target $fuzzers
for f in $fuzzers; do
  layer=${f%_fuzz}
  corpus=$(mktemp -d)
  [ -d "fuzz/corpus/$layer" ] && cp -r "fuzz/corpus/$layer/." "$corpus/"
  echo "-- $f"
  "build/fuzz/fuzz/$f" -max_total_time="${HARK_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done
echo "== all tests passed"
