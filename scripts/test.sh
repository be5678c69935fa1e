#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests that build the example
# guests (Rust, JavaScript, Python) and start the real `wdo` binary. Release profile only, so
# wasmtime is built once.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
need_guest_targets
need_protoc
need_cargo_component
# The JavaScript and Python guests' toolchains, from the npm registry and PyPI (about half
# a minute on a fresh machine; the build scripts would install them too, this says so first).
need_js_toolchain
need_py_toolchain
need_test_tools
need_cluster_engines
need_browser
cd "$repo"
echo "test: cargo test --release (target dir $CARGO_TARGET_DIR)"
# The workspace's default member is the host; the guests are built by the tests themselves.
cargo test --release "$@"
