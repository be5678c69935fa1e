# Sourced by the other scripts: installs what a machine with only the Rust toolchain lacks.
# Says what it does; does nothing that is already done.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Builds are shared between runs (and clones) through a target directory outside the repo.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wdo-target}"

need_target() {
    if ! rustup target list --installed | grep -qx "$1"; then
        echo "setup: installing the Rust target $1 (rustup target add $1)"
        rustup target add "$1"
    fi
}

need_guest_targets() {
    need_target wasm32-wasip2
}

need_cargo_component() {
    need_target wasm32-wasip1
    if ! cargo component --version 2>/dev/null | grep -q "0.21.1"; then
        echo "setup: installing cargo-component 0.21.1 into ${CARGO_HOME:-$HOME/.cargo}/bin (takes ~9 minutes once)"
        cargo install cargo-component --version 0.21.1 --locked
    fi
}

# Debian packages the tests need, installed with apt-get (CI runs as root).
need_debian_package() {
    local command=$1 package=$2 why=$3
    if ! command -v "$command" >/dev/null; then
        echo "setup: installing $package with apt-get ($why)" >&2
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq >&2 && apt-get install -y -qq "$package" >&2
        else
            sudo apt-get update -qq >&2 && sudo apt-get install -y -qq "$package" >&2
        fi
    fi
}

# The host's etcd client compiles etcd's protocol files when it is built: protoc.
need_protoc() {
    need_debian_package protoc protobuf-compiler "building the host: the etcd client's protocol files"
}

# Real engines for cluster mode: an etcd cluster (membership, placement, fencing) and a NATS
# JetStream cluster (the replicated commit log), started by the cluster tests and by
# scripts/cluster.sh.
need_cluster_engines() {
    need_debian_package etcd etcd-server "cluster mode: etcd"
    need_debian_package nats-server nats-server "cluster mode: NATS JetStream"
}

# strace injects failing fsyncs into the real binary (tests/integration/faults.rs).
need_test_tools() {
    need_debian_package strace strace "fault-injection tests: failing fsyncs"
}

# Headless Chromium and its WebDriver drive the admin inspector page in a real browser
# (tests/integration/inspector.rs).
need_browser() {
    need_debian_package chromium chromium "the inspector page's browser test: headless Chromium"
    need_debian_package chromedriver chromium-driver "the inspector page's browser test: WebDriver for Chromium"
}

# The JavaScript SDK's toolchain (componentize-qjs, rolldown), pinned by its package-lock,
# installed into guest-sdk/js/node_modules. Reinstalled only when the lock file changes.
need_js_toolchain() {
    local sdk="$repo/guest-sdk/js"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "setup: node and npm are needed to build JavaScript objects (Node.js 18 or later)" >&2
        return 1
    fi
    if ! cmp -s "$sdk/package-lock.json" "$sdk/node_modules/.wdo-installed-lock" 2>/dev/null; then
        echo "setup: installing the JavaScript SDK's toolchain (npm ci in guest-sdk/js)" >&2
        (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >&2)
        cp "$sdk/package-lock.json" "$sdk/node_modules/.wdo-installed-lock"
    fi
}

# The Python SDK's toolchain (componentize-py), pinned by guest-sdk/python/requirements.txt,
# installed into the virtual environment guest-sdk/python/.venv. Reinstalled only when the
# requirements change.
need_py_toolchain() {
    local sdk="$repo/guest-sdk/python"
    local venv="$sdk/.venv"
    if ! cmp -s "$sdk/requirements.txt" "$venv/.wdo-installed-requirements" 2>/dev/null; then
        echo "setup: installing the Python SDK's toolchain (pip install -r guest-sdk/python/requirements.txt into $venv)" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$sdk/requirements.txt" >&2
        cp "$sdk/requirements.txt" "$venv/.wdo-installed-requirements"
    fi
}
