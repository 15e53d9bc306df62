#!/usr/bin/env bash
# Release-build every plugin (and the tools) into ./bin (or $BIN_DIR).
#
#   ./build_linux.sh              one executable per plugin
#   ./build_linux.sh --multicall  one executable, bin/cni-plugins, and a
#                                 symlink per plugin to it (a tenth of the
#                                 disk space; see Documentation/multicall.md)
#
# The plugins are linked statically against musl when the Rust target is
# installed (`rustup target add x86_64-unknown-linux-musl`): without the
# dynamic loader and glibc's startup a plugin process costs about 0.6 ms
# less CPU and 1 MB less memory, and every ADD and DEL runs two or more of
# them. Without the target they are linked dynamically against glibc.
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

out="${CARGO_TARGET_DIR:-target}/release"
target_args=()
musl="$(uname -m)-unknown-linux-musl"
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
    target_args=(--target "$musl")
    out="${CARGO_TARGET_DIR:-target}/$musl/release"
else
    echo "note: Rust target $musl is not installed (rustup target add $musl): linking the plugins dynamically" >&2
fi

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
    # cni-bench is built by bench/run.sh (it needs a profile with unwinding);
    # the test crate's cri is a test tool (test/e2e/containerd.sh).
    cargo build --release --locked "${target_args[@]}" --workspace --exclude bench --exclude cni-plugins \
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
