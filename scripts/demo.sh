#!/usr/bin/env bash
# The README's first command: installs what hark needs, builds it (Release) and transcribes a sample with the
# bundled demo model (models/demo/: a small Gemma 4 trained on synthetic English speech, tools/demo-model).
# Pass your own files: scripts/demo.sh MODEL.gguf MMPROJ.gguf [AUDIO]
set -euo pipefail
cd "$(dirname "$0")/.."
case $# in
  0) flags=() ;;
  2 | 3) flags=(-m "$1" --mmproj "$2") ;;
  *) echo "usage: scripts/demo.sh [MODEL.gguf MMPROJ.gguf [AUDIO]]" >&2 && exit 2 ;;
esac
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DHARK_TESTS=OFF -DHARK_BENCH=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target hark
exec build/release/hark transcribe "${flags[@]}" "${3:-models/demo/sample.wav}" -f verbose_json
