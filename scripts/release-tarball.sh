#!/usr/bin/env bash
# release-tarball.sh [out-dir]
# release-tarball.sh --check [out-dir]
#
# The release tarball in upstream's name and layout:
# <out-dir>/cni-plugins-linux-<arch>-v<version>.tgz (default out-dir dist/)
# with every plugin at the top level (./bridge, ./host-local, ...) and
# README.md, and beside it <name>.tgz.sha256 and <name>.tgz.sha512 in
# sha256sum/sha512sum format. Unpack it into /opt/cni/bin as upstream's:
#
#   tar -C /opt/cni/bin -xzf cni-plugins-linux-amd64-v0.1.0.tgz
#
# Reproducible: one commit gives the same bytes on any machine and in any
# checkout. The binaries come from build_linux.sh (static musl, no machine
# path in them, the commit in their about text); the archive has its
# entries sorted by name, owner and group 0, every mtime at
# SOURCE_DATE_EPOCH (default: the commit's time) and gzip without a name
# or time stamp.
#
# The binaries are built in $CARGO_TARGET_DIR (default target/), so after
# ./build_linux.sh this only packs. CNI_PLUGINS_COMMIT and
# SOURCE_DATE_EPOCH may be given for a source tree without git history
# (they default to "unknown" and 0 there).
#
# --check proves the reproducibility: the tarball is built here, then
# again from a copy of the tree (the files git tracks or would track) in
# another directory with an empty target directory, a full build from
# scratch, and the two must have the same checksum.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
out=${1:-dist}
version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "release-tarball: no version in Cargo.toml's [workspace.package]" >&2; exit 1; }
case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
name=cni-plugins-linux-$arch-v$version.tgz

# Only this tree's own history: a tree unpacked inside another git
# checkout must not take that one's commit.
in_git=0
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then in_git=1; fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=0
    if [ "$in_git" = 1 ]; then SOURCE_DATE_EPOCH=$(git log -1 --format=%ct); fi
fi
export SOURCE_DATE_EPOCH
if [ -z "${CNI_PLUGINS_COMMIT:-}" ] && [ "$in_git" = 1 ]; then
    CNI_PLUGINS_COMMIT=$(git rev-parse HEAD | cut -c1-12)
fi
export CNI_PLUGINS_COMMIT=${CNI_PLUGINS_COMMIT:-unknown}

if [ "$check" = 1 ]; then
    [ "$in_git" = 1 ] || { echo "release-tarball: --check copies the tree with git: not a git checkout" >&2; exit 1; }
    copy=$(mktemp -d /tmp/cni-release-copy.XXXXXX)
    trap 'rm -rf "$copy"' EXIT
    mkdir -p "$copy/src"
    # (Files deleted but not yet staged are left out.)
    # shellcheck disable=SC2016 # the inner sh expands $f
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf - | tar -x -C "$copy/src"
    first=$("$(pwd)/scripts/release-tarball.sh" "$out" | tail -n 1)
    echo "here:        $first"
    start=$(date +%s)
    second=$(CARGO_TARGET_DIR=$copy/target "$copy/src/scripts/release-tarball.sh" "$copy/out" 2>"$copy/build.log" | tail -n 1) || {
        tail -n 40 "$copy/build.log" >&2
        exit 1
    }
    echo "from a copy: $second (a build from scratch in $(($(date +%s) - start)) s)"
    [ "${first%% *}" = "${second%% *}" ] || {
        echo "release-tarball: the two builds differ" >&2
        exit 1
    }
    echo "release-tarball: reproducible, both builds give ${first%% *}"
    exit 0
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
BIN_DIR=$stage/bin ./build_linux.sh >/dev/null
# Upstream's tarball holds the plugins and its README, not cnitool.
rm -f "$stage/bin/cnitool"
install -m 0644 README.md "$stage/bin/README.md"
chmod 0755 "$stage/bin"

mkdir -p "$out"
tar -C "$stage/bin" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf - . | gzip -n -9 >"$out/$name.tmp"
mv "$out/$name.tmp" "$out/$name"
(
    cd "$out"
    sha256sum "$name" >"$name.sha256"
    sha512sum "$name" >"$name.sha512"
)
echo "$out/$name"
cat "$out/$name.sha256"
