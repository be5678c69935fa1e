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
