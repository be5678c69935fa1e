#!/usr/bin/env bash
# Builds the Python example in examples/DIR (class CLASS defined in MODULE) as a component,
# examples/dist/DIR.wasm, with the SDK's build.py (componentize-py). Installs the SDK's
# pinned toolchain first if needed. Fast (well under a second) when nothing changed.
#
# Usage: examples/build-py.sh DIR/MODULE CLASS    e.g. examples/build-py.sh counter-py/counter.py Counter
set -euo pipefail

if [[ $# -ne 2 || "$1" != */* ]]; then
    echo "usage: $0 DIR/MODULE.py CLASS   (e.g. counter-py/counter.py Counter)" >&2
    exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
need_py_toolchain
dir=${1%%/*}
exec "$repo/guest-sdk/python/.venv/bin/python" "$repo/guest-sdk/python/build.py" "$repo/examples/$1" \
    --class "$2" --out "$repo/examples/dist/$dir.wasm"
