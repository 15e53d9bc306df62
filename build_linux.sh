#!/usr/bin/env bash
# Release-build every plugin (and the tools) into ./bin (or $BIN_DIR).
#
#   ./build_linux.sh              one executable per plugin
#   ./build_linux.sh --multicall  one executable, bin/cni-plugins, and a
#                                 symlink per plugin to it (a tenth of the
#                                 disk space; see Documentation/multicall.md)
#
# The plugins are linked statically against musl: without the dynamic
# loader and glibc's startup a plugin process costs about 0.6 ms less CPU
# and 1 MB less memory, and every ADD and DEL runs two or more of them.
# With rustup the script adds the target when it is missing (`rustup
# target add x86_64-unknown-linux-musl`, as the user who runs it); when it
# cannot, it says so on stderr and links the plugins dynamically against
# glibc.
set -euo pipefail
cd "$(dirname "$0")"

multicall=0
case "${1:-}" in
"") ;;
--multicall) multicall=1 ;;
*)
    echo "usage: $0 [--multicall]" >&2
    exit 2
    ;;
esac
bin="${BIN_DIR:-bin}"
# A machine without Rust gets it from rustup first (scripts/ensure-rust.sh).
. scripts/ensure-rust.sh
ensure_rust

out="${CARGO_TARGET_DIR:-target}/release"
target_args=()
musl="$(uname -m)-unknown-linux-musl"
# Whether the toolchain has the musl target: rustup lists it, a toolchain
# without rustup has its standard library in the sysroot.
have_musl() {
    if command -v rustup >/dev/null; then
        rustup target list --installed 2>/dev/null | grep -qx "$musl"
    else
        [ -d "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$musl" ]
    fi
}
if ! have_musl && command -v rustup >/dev/null; then
    echo "adding the Rust target $musl (rustup target add $musl)" >&2
    rustup target add "$musl" >&2 || true
fi
if have_musl; then
    target_args=(--target "$musl")
    out="${CARGO_TARGET_DIR:-target}/$musl/release"
else
    if command -v rustup >/dev/null; then
        why="rustup could not add the Rust target $musl (offline?)"
    else
        why="the Rust toolchain has no $musl target and there is no rustup to add it"
    fi
    {
        echo "warning: $why:"
        echo "warning: building plugins linked dynamically against glibc, about 0.6 ms more CPU and"
        echo "warning: 1 MB more memory per plugin call than the static musl build the benchmark measures"
    } >&2
fi

# The commit goes into every binary's about text (pkg/src/release.rs);
# a source tree without git history says "unknown" unless the caller sets
# CNI_PLUGINS_COMMIT.
# (Only this tree's own history: a tree unpacked inside another git
# checkout must not take that one's commit.)
if [ -z "${CNI_PLUGINS_COMMIT:-}" ] && [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
    CNI_PLUGINS_COMMIT=$(git rev-parse HEAD | cut -c1-12)
fi
export CNI_PLUGINS_COMMIT=${CNI_PLUGINS_COMMIT:-unknown}
# No path of this machine in the binaries (panic locations name source
# files): the checkout, the target directory, cargo's registry and the
# toolchain get fixed names, so that one commit builds the same bytes
# anywhere (scripts/release-tarball.sh relies on it). Later prefixes win.
target_dir=$(mkdir -p "${CARGO_TARGET_DIR:-target}" && cd "${CARGO_TARGET_DIR:-target}" && pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
remap=("--remap-path-prefix=$(pwd)=/cni-plugins" "--remap-path-prefix=$target_dir=/target"
    "--remap-path-prefix=$cargo_home=/cargo" "--remap-path-prefix=$(rustc --print sysroot)=/rust")
# (Encoded: a path may hold spaces. It replaces RUSTFLAGS, so those come
# along.)
read -ra flags <<<"${RUSTFLAGS:-}"
flags+=("${remap[@]}")
CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f' && echo "${flags[*]}")
export CARGO_ENCODED_RUSTFLAGS
unset RUSTFLAGS

# Plugins live in plugins/<kind>/<name> (plugins/sample, an example, is
# not one of them).
plugins=()
for manifest in plugins/*/*/Cargo.toml; do
    plugins+=("$(basename "$(dirname "$manifest")")")
done

mkdir -p "$bin"
if [ "$multicall" = 1 ]; then
    cargo build --release --locked "${target_args[@]}" -p cni-plugins -p cnitool
    rm -f "$bin/cni-plugins"
    install -m 0755 "$out/cni-plugins" "$bin/cni-plugins"
    for name in "${plugins[@]}"; do
        rm -f "$bin/$name"
        ln -s cni-plugins "$bin/$name"
    done
else
    # cni-bench and cni-floor are built by bench/run.sh (cni-bench needs a
    # profile with unwinding); the test crate's cri is a test tool
    # (test/e2e/containerd.sh).
    cargo build --release --locked "${target_args[@]}" --workspace --exclude bench --exclude cni-floor --exclude cni-plugins \
        --exclude integration --bins
    rm -f "$bin/cni-plugins"
    for name in "${plugins[@]}"; do
        rm -f "$bin/$name"
        install -m 0755 "$out/$name" "$bin/$name"
    done
fi
install -m 0755 "$out/cnitool" "$bin/cnitool"
echo "built into $(cd "$bin" && pwd):"
ls -l "$bin"
