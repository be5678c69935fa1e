#!/usr/bin/env bash
# Builds a JavaScript example with the SDK's `wdo-js build`: the object class CLASS exported
# by examples/DIR/MODULE as examples/dist/DIR.wasm (or NAME.wasm, for a module with several
# classes), or (with --worker) the module's default export as a Worker,
# examples/dist/DIR-worker.wasm. Installs the SDK's pinned toolchain
# first if needed. Fast (about a second) when nothing changed.
#
# Usage: examples/build-js.sh DIR/MODULE CLASS [NAME]  e.g. examples/build-js.sh counter-js/counter.js Counter
#        examples/build-js.sh --worker DIR/MODULE   e.g. examples/build-js.sh --worker gateway/gateway.js
set -euo pipefail

usage() {
    echo "usage: $0 DIR/MODULE.js CLASS [NAME]  (e.g. counter-js/counter.js Counter)" >&2
    echo "       $0 --worker DIR/MODULE.js  (e.g. --worker gateway/gateway.js)" >&2
    exit 2
}
[[ $# -eq 2 || ( $# -eq 3 && "$1" != --worker ) ]] || usage
if [[ "$1" == --worker ]]; then
    module=$2 what=(--worker) suffix=-worker
else
    module=$1 what=(--class "$2") suffix=
fi
[[ "$module" == */* ]] || usage
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
need_js_toolchain
name=${3:-${module%%/*}}
exec node "$repo/guest-sdk/js/bin/wdo-js.mjs" build "${what[@]}" "$repo/examples/$module" \
    --out "$repo/examples/dist/$name$suffix.wasm"
