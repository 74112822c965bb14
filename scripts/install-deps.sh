#!/usr/bin/env bash
# Installs the Debian 12 packages hark needs to build, test and run. Idempotent: does nothing when all are there.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev curl sox espeak-ng
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (for the OpenAI SDK tests) may come from another source with npm bundled: only ask Debian when absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
