#!/usr/bin/env bash
# Release-build every plugin (and the tools) into ./bin.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --locked --workspace --bins
out=${CARGO_TARGET_DIR:-target}/release

# Plugins live in plugins/<kind>/<name>; plugins/sample is an example and
# stays in the cargo target directory.
mkdir -p bin
for manifest in plugins/*/*/Cargo.toml; do
    name=$(basename "$(dirname "$manifest")")
    install -m 0755 "$out/$name" "bin/$name"
done
for tool in cnitool; do
    if [ -x "$out/$tool" ]; then
        install -m 0755 "$out/$tool" "bin/$tool"
    fi
done
echo "built into $(pwd)/bin:"
ls -l bin
