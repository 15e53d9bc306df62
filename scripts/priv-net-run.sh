#!/usr/bin/env bash
# priv-net-run.sh <command...>
#
# Runs a command in a new network namespace attached to the CNI networks of
# $NETCONFPATH (default /etc/cni/net.d; if that holds no configs, this
# repository's examples/net.d: a bridge network with host-local IPAM and
# masquerade, plus loopback). The networks are added and removed with
# cnitool through scripts/exec-plugins.sh (one interface per network: eth0,
# eth1, ... in lookup order), with a private result cache unless
# CNI_CACHE_DIR is set. The namespace, its interfaces, addresses, rules,
# reservations and cache entries are removed afterwards, also when the
# command fails or the script is interrupted. Needs root: run by another
# user it reruns itself with sudo.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
[ $# -gt 0 ] || { echo "usage: priv-net-run.sh <command> [args...]" >&2; exit 2; }
# Not root: the same command again through sudo, keeping the variables
# this script reads (so `./scripts/priv-net-run.sh` works for root without
# sudo and for a sudo user alike).
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "priv-net-run: needs root (and there is no sudo)" >&2; exit 1; }
    exec sudo --preserve-env=NETCONFPATH,CNI_PATH,CNI_CACHE_DIR,CNITOOL "$0" "$@"
fi

: "${NETCONFPATH:=/etc/cni/net.d}"
if ! compgen -G "$NETCONFPATH/*.conf*" >/dev/null && ! compgen -G "$NETCONFPATH/*.json" >/dev/null; then
    NETCONFPATH=$repo/examples/net.d
fi
: "${CNI_PATH:=$repo/bin}"
export NETCONFPATH CNI_PATH
[ -x "${CNI_PATH%%:*}/bridge" ] || [ -x "${CNI_PATH%%:*}/loopback" ] || [ -n "${CNITOOL:-}" ] || {
    echo "priv-net-run: no plugins in $CNI_PATH: run ./build_linux.sh first" >&2; exit 1; }
# What a fresh Debian machine lacks: jq for this script, iproute2 for the
# namespace, and a firewall tool for the example's masquerade.
missing=()
command -v jq >/dev/null || missing+=(jq)
command -v ip >/dev/null || missing+=(iproute2)
command -v nft >/dev/null || command -v iptables >/dev/null || missing+=(nftables)
if [ ${#missing[@]} -gt 0 ]; then
    echo "priv-net-run: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

contid=cni-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
netnspath=/run/netns/$contid
own_cache=
if [ -z "${CNI_CACHE_DIR:-}" ]; then
    CNI_CACHE_DIR=$(mktemp -d /tmp/priv-net-run-cache.XXXXXX)
    own_cache=$CNI_CACHE_DIR
fi
export CNI_CACHE_DIR

# Bridges that this run creates are removed again once no port is left.
bridges=$(cat "$NETCONFPATH"/*.conf* "$NETCONFPATH"/*.json 2>/dev/null | jq -r '.. | objects | select(.type? == "bridge") | .bridge // "cni0"' 2>/dev/null | sort -u || true)
new_bridges=()
for b in $bridges; do ip link show "$b" >/dev/null 2>&1 || new_bridges+=("$b"); done

cleanup() {
    trap - EXIT INT TERM
    "$here/exec-plugins.sh" del "$contid" "$netnspath" || echo "priv-net-run: cleanup reported errors" >&2
    ip netns delete "$contid" 2>/dev/null || true
    for b in "${new_bridges[@]}"; do
        if ip link show "$b" >/dev/null 2>&1 && [ -z "$(ip -o link show master "$b" 2>/dev/null)" ]; then
            ip link delete "$b" 2>/dev/null || true
        fi
    done
    [ -z "$own_cache" ] || rm -rf "$own_cache"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$contid"
ip netns exec "$contid" ip link set lo up
"$here/exec-plugins.sh" add "$contid" "$netnspath"
set +e
ip netns exec "$contid" "$@"
rc=$?
set -e
exit $rc
