#!/bin/sh
# `hark serve` on the tiny fixture model, for the OpenAI SDK test: hark_serve_tiny.sh HARK SHARED_DIR ARGS...
hark=$1
shared=$2
shift 2
m="$shared/fixtures/gemma4-tiny"
exec "$hark" serve -m "$m/model.gguf" --mmproj "$m/mmproj.gguf" -t 2 "$@"
