#!/usr/bin/env bash
# build-deb.sh [out-dir]
#
# A Debian package of the suite, <out-dir>/cni-plugins-rs_<version>_<arch>.deb
# (default out-dir dist/), that takes the place of Debian's Go package
# containernetworking-plugins: the plugins go where that one puts them,
# /usr/lib/cni, which podman's and containerd's defaults on Debian search,
# and it Conflicts with, Replaces and Provides containernetworking-plugins
# (and container-network-stack, which golang-github-containers-common
# depends on). `dpkg -i` of it over the Go package swaps the files in one
# step. cnitool goes to /usr/bin.
#
# Installing, upgrading or removing the package touches no container,
# cache or configuration, so running containers are left alone (the next
# DEL of each is done by whichever plugins are installed then; both suites
# read the same state). The one maintainer script, postrm, runs when the
# package is removed (also when apt removes it for Go's package): it
# deletes the attachment markers that our firewall and portmap plugins add
# beside Go's rules (the chains CNI-FW-ATTACHMENTS in iptables' and
# ip6tables' filter table, and `attachments` in nftables' ip and ip6
# cni_hostport tables). Nothing jumps to them and Go never reads them, so
# once Go's plugins are installed they would only be left behind. It also
# removes /run/cni/iptables-nat-readable, bridge's and ptp's memo that
# iptables can read the nat table (Documentation/firewall-rules.md).
#
# Needs dpkg-deb. The binaries come from build_linux.sh (static musl, no
# machine path in them); file times are SOURCE_DATE_EPOCH (default: the
# commit's time), owner root.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
command -v dpkg-deb >/dev/null || { echo "build-deb: needs dpkg-deb (apt-get install dpkg)" >&2; exit 1; }
version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "build-deb: no version in Cargo.toml's [workspace.package]" >&2; exit 1; }
arch=$(dpkg --print-architecture)
package=cni-plugins-rs
# The Go suite this one replaces, for the versioned Provides: a package
# that depends on containernetworking-plugins (>= X) is satisfied up to it.
replaces_version=1.9.0

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=0
    if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
        SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
    fi
fi
export SOURCE_DATE_EPOCH

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
BIN_DIR=$stage/bin ./build_linux.sh >/dev/null

root=$stage/root
install -d -m 0755 "$root/DEBIAN" "$root/usr/lib/cni" "$root/usr/bin" "$root/usr/share/doc/$package"
for plugin in "$stage"/bin/*; do
    case "$(basename "$plugin")" in
    cnitool) install -m 0755 "$plugin" "$root/usr/bin/cnitool" ;;
    *) install -m 0755 "$plugin" "$root/usr/lib/cni/" ;;
    esac
done
install -m 0644 README.md "$root/usr/share/doc/$package/README.md"
# dhcp's daemon units, where the Go package had its own (this one replaces
# it): enabled by hand, `systemctl enable --now cni-dhcp.socket`.
install -d -m 0755 "$root/lib/systemd/system"
install -m 0644 plugins/ipam/dhcp/systemd/cni-dhcp.socket plugins/ipam/dhcp/systemd/cni-dhcp.service \
    "$root/lib/systemd/system/"
cat >"$root/usr/share/doc/$package/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cni-plugins-rs
Comment: CNI plugins in Rust, a drop-in replacement for
 containernetworking/plugins. The statically linked binaries include the
 Rust crates named in the source's Cargo.lock, under their own licenses
 (MIT or Apache-2.0).

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: CNI plugins in Rust <root@localhost>
Installed-Size: $installed_size
Recommends: iptables, nftables
Conflicts: containernetworking-plugins
Replaces: containernetworking-plugins
Provides: containernetworking-plugins (= $replaces_version), container-network-stack (= 1)
Section: net
Priority: optional
Description: standard CNI networking plugins, in Rust
 A drop-in replacement for the CNI reference plugins
 (containernetworking-plugins): the same configuration keys, results and
 on-disk state, so a node switches in place. The plugins are installed in
 /usr/lib/cni, where podman and containerd look on Debian; cnitool in
 /usr/bin.
EOF

cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
# Remove the attachment markers of cni-plugins-rs: chains nothing jumps
# to, which Go's plugins never delete (Documentation/install.md in the
# source). Never fails the removal: a missing tool or chain is fine.
set -u
case "$1" in
remove | purge)
    for tool in iptables ip6tables; do
        if command -v "$tool" >/dev/null 2>&1 &&
            "$tool" -w -t filter -n -L CNI-FW-ATTACHMENTS >/dev/null 2>&1; then
            "$tool" -w -t filter -F CNI-FW-ATTACHMENTS >/dev/null 2>&1 || true
            "$tool" -w -t filter -X CNI-FW-ATTACHMENTS >/dev/null 2>&1 || true
        fi
    done
    if command -v nft >/dev/null 2>&1; then
        for family in ip ip6; do
            nft delete chain "$family" cni_hostport attachments >/dev/null 2>&1 || true
        done
    fi
    # The masquerade's memo of a readable nat table (runtime state).
    rm -f /run/cni/iptables-nat-readable
    ;;
esac
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postrm"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb=$out/${package}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
