#!/usr/bin/env bash
# The README's first command: installs what hark needs, builds it (Release) and runs its main job on the
# bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DHARK_TESTS=OFF -DHARK_BENCH=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target hark
model=../shared/fixtures/gemma4-tiny/model.gguf
exec build/release/hark inspect "$model"
