#!/usr/bin/env bash
# Build cni-bench (release) and run it: ours (default bin/, from
# ./build_linux.sh) against theirs (default /usr/lib/cni), in scratch network
# namespaces. Arguments go to cni-bench (--help lists them; --quick is the CI
# smoke run). Builds as the calling user and runs the benchmark as root,
# through sudo when needed; run as root directly, it builds as root (or uses
# an existing build when root has no cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

# The release-unwind profile: the release settings, but with unwinding, which
# the benchmark needs to clean up after a failed namespace creation.
bench="${CARGO_TARGET_DIR:-target}/release-unwind/cni-bench"
# The true floor (bench/floor) is built like the plugins: release, static
# against musl when the target is installed (./build_linux.sh adds it).
musl="$(uname -m)-unknown-linux-musl"
floor="${CARGO_TARGET_DIR:-target}/$musl/release/cni-floor"
floor_args=(--target "$musl")
if ! { command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$musl"; } &&
    [ ! -d "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$musl" ]; then
    floor="${CARGO_TARGET_DIR:-target}/release/cni-floor"
    floor_args=()
fi
if command -v cargo >/dev/null; then
    cargo build --profile release-unwind --locked -p bench --bin cni-bench >&2
    cargo build --release --locked "${floor_args[@]}" -p cni-floor >&2
elif [ -x "$bench" ]; then
    echo "note: no cargo in PATH, running the existing $bench" >&2
else
    echo "no cargo in PATH and no $bench: run ./bench/run.sh as your user (it uses sudo)" >&2
    exit 1
fi
# (Before the caller's arguments, so that an explicit --floor-bin wins.)
set -- --floor-bin "$floor" "$@"
if [ "$(id -u)" -eq 0 ]; then
    exec "$bench" "$@"
elif command -v sudo >/dev/null; then
    exec sudo "$bench" "$@"
else
    echo "cni-bench needs root to create network namespaces" >&2
    exit 1
fi
