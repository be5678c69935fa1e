#!/usr/bin/env bash
# Builds the JavaScript example in examples/DIR (class CLASS exported by MODULE) as a
# component, examples/dist/DIR.wasm, with the SDK's `wdo-js build`. Installs the SDK's
# pinned toolchain first if needed. Fast (about a second) when nothing changed.
#
# Usage: examples/build-js.sh DIR/MODULE CLASS    e.g. examples/build-js.sh counter-js/counter.js Counter
set -euo pipefail

if [[ $# -ne 2 || "$1" != */* ]]; then
    echo "usage: $0 DIR/MODULE.js CLASS   (e.g. counter-js/counter.js Counter)" >&2
    exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
need_js_toolchain
dir=${1%%/*}
exec node "$repo/guest-sdk/js/bin/wdo-js.mjs" build "$repo/examples/$1" --class "$2" \
    --out "$repo/examples/dist/$dir.wasm"
