#!/usr/bin/env bash
# Release-build every plugin (and the tools) into ./bin.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --locked --workspace --bins

mkdir -p bin
for dir in plugins/*/*/; do
    name=$(basename "$dir")
    install -m 0755 "target/release/$name" "bin/$name"
done
for tool in cnitool; do
    if [ -x "target/release/$tool" ]; then
        install -m 0755 "target/release/$tool" "bin/$tool"
    fi
done
echo "built into $(pwd)/bin:"
ls -l bin
