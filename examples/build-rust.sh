#!/usr/bin/env bash
# Builds the Rust example NAME (examples/NAME, package wdo-example-NAME) as a wasm32-wasip2
# component and copies it to examples/dist/NAME.wasm.
#
# Usage: examples/build-rust.sh NAME
#
# Guests are built in their own target directory, ${CARGO_TARGET_DIR:-<repo>/target}/guests,
# so that building them never waits on the host build's lock.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 NAME   (e.g. counter, ratelimit, bank)" >&2
    exit 2
fi
name=$1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=wasm32-wasip2

if [[ ! -f "$repo/examples/$name/Cargo.toml" ]]; then
    echo "no Rust example named '$name' (expected $repo/examples/$name/Cargo.toml)" >&2
    exit 2
fi

if ! rustup target list --installed | grep -x "$target" >/dev/null; then
    echo "installing the Rust target $target (rustup target add $target)" >&2
    if ! output=$(rustup target add "$target" 2>&1); then
        echo "$output" >&2
        exit 1
    fi
fi

target_dir="${CARGO_TARGET_DIR:-$repo/target}/guests"
cargo build --manifest-path "$repo/Cargo.toml" --release --target "$target" \
    -p "wdo-example-$name" --target-dir "$target_dir"

mkdir -p "$repo/examples/dist"
cp "$target_dir/$target/release/wdo_example_${name//-/_}.wasm" "$repo/examples/dist/$name.wasm"
echo "built $repo/examples/dist/$name.wasm" >&2
