#!/usr/bin/env bash
# Release-build every plugin (and the tools) into ./bin.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --locked --workspace --bins

# Plugins live in plugins/<kind>/<name>; plugins/sample is an example and
# stays in target/release.
mkdir -p bin
for manifest in plugins/*/*/Cargo.toml; do
    name=$(basename "$(dirname "$manifest")")
    install -m 0755 "${CARGO_TARGET_DIR:-target}/release/$name" "bin/$name"
done
for tool in cnitool; do
    if [ -x "${CARGO_TARGET_DIR:-target}/release/$tool" ]; then
        install -m 0755 "${CARGO_TARGET_DIR:-target}/release/$tool" "bin/$tool"
    fi
done
echo "built into $(pwd)/bin:"
ls -l bin
