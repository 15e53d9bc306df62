# Sourced by build_linux.sh and test_linux.sh: makes sure `cargo` runs.
#
# A fresh Debian machine has no Rust toolchain new enough for this
# workspace (Debian 12's rustc is 1.63; Cargo.toml's rust-version is
# newer), so when `cargo` is not found the official installer, rustup,
# puts the stable toolchain (minimal profile) in the calling user's
# ~/.cargo and ~/.rustup, as https://rustup.rs does, and adds
# ~/.cargo/bin to PATH. CNI_NO_RUST_INSTALL=1 refuses that and fails
# instead.

ensure_rust() {
    command -v cargo >/dev/null && return 0
    local home_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    if [ -x "$home_bin/cargo" ]; then
        export PATH="$home_bin:$PATH"
        return 0
    fi
    if [ "${CNI_NO_RUST_INSTALL:-0}" = 1 ]; then
        echo "error: no Rust toolchain (cargo) found, and CNI_NO_RUST_INSTALL=1: install it from https://rustup.rs" >&2
        return 1
    fi
    local url="https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
    local dir init
    # rustup-init acts by the name it is run under.
    dir=$(mktemp -d) || return 1
    init=$dir/rustup-init
    echo "no Rust toolchain (cargo) found: installing rustup and the stable toolchain into ${CARGO_HOME:-$HOME/.cargo} (from $url; CNI_NO_RUST_INSTALL=1 refuses)" >&2
    if command -v curl >/dev/null; then
        curl --proto '=https' --tlsv1.2 -sSf -o "$init" "$url"
    elif command -v wget >/dev/null; then
        wget -q -O "$init" "$url"
    else
        echo "error: no Rust toolchain, and neither curl nor wget to fetch rustup: apt-get install curl, or install Rust from https://rustup.rs" >&2
        rm -rf "$dir"
        return 1
    fi || {
        echo "error: could not download $url: install Rust from https://rustup.rs" >&2
        rm -rf "$dir"
        return 1
    }
    chmod 0755 "$init"
    "$init" -y --quiet --profile minimal --default-toolchain stable >&2 || {
        echo "error: rustup-init failed: install Rust from https://rustup.rs" >&2
        rm -rf "$dir"
        return 1
    }
    rm -rf "$dir"
    export PATH="$home_bin:$PATH"
}
