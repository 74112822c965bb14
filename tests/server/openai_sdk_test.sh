#!/bin/sh
# Runs openai_sdk_test.mjs; exit 77 (ctest SKIP) when Node.js is not installed.
command -v node >/dev/null 2>&1 || { echo "node not found: skipping the OpenAI SDK test"; exit 77; }
exec node "$(dirname "$0")/openai_sdk_test.mjs" "$@"
