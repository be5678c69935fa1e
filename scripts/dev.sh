#!/usr/bin/env bash
# Serves the examples: builds the host, then `wdo dev` builds every guest of wdo.toml and
# serves them on http://127.0.0.1:8787 (metrics on http://127.0.0.1:9787/metrics).
# Extra arguments go to `wdo dev`, e.g. --idle-timeout 2s.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
need_guest_targets
need_protoc
echo "dev: building the host (release; the first build takes ~6 minutes)"
cargo build --release -p wdo-host --bin wdo --manifest-path "$repo/Cargo.toml"
cd "$repo"
exec "$CARGO_TARGET_DIR/release/wdo" dev --config wdo.toml "$@"
