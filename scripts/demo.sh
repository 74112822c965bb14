#!/usr/bin/env bash
# The README's first command: installs what hark needs, builds it (Release) and transcribes a sample.
# No trained model is bundled yet (see README "Models"), so it runs the random-weight Gemma 4 fixture model
# from ../shared: the pipeline is real (decode, mel, audio encoder, decoder, formatter), the words are not.
# Pass your own files: scripts/demo.sh MODEL.gguf MMPROJ.gguf AUDIO
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DHARK_TESTS=OFF -DHARK_BENCH=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target hark
fixtures=../shared/fixtures
model=${1:-$fixtures/gemma4-tiny/model.gguf}
mmproj=${2:-$fixtures/gemma4-tiny/mmproj.gguf}
audio=${3:-$fixtures/audio/jfk.wav}
exec build/release/hark transcribe -m "$model" --mmproj "$mmproj" "$audio" -f verbose_json
