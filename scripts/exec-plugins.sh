#!/usr/bin/env bash
# exec-plugins.sh add|del <container-id> <netns-path>
#
# Attaches a network namespace to every network of $NETCONFPATH, or
# detaches it, through cnitool, i.e. with libcni exactly as a runtime would
# (prevResult chaining, capability args, the result cache, DEL in reverse
# with the cached result). Networks come in lookup order
# (`cnitool list --quiet`: `.conflist` files by name, then `.conf`/`.json`;
# a file shadowed by an earlier one with the same network name is skipped)
# and get the interfaces eth0, eth1, ... by position. ADD stops at the first
# network that fails (run `del` afterwards, as a runtime must); DEL goes in
# reverse and keeps going past failures.
#
# Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH (default this
# repository's bin/), CNI_CACHE_DIR (cnitool's result cache, default
# /var/lib/cni), CNI_ARGS and CAP_ARGS (passed to every network), CNITOOL
# (default: cnitool in $CNI_PATH, then bin/, then $PATH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
: "${NETCONFPATH:=/etc/cni/net.d}"
: "${CNI_PATH:=$repo/bin}"
export NETCONFPATH CNI_PATH

die() { echo "exec-plugins: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: exec-plugins.sh add|del <container-id> <netns-path>"
cmd=$1 cid=$2 netns=$3
case $cmd in add | del) ;; *) die "unknown command $cmd (add or del)" ;; esac

find_cnitool() {
    if [ -n "${CNITOOL:-}" ]; then
        echo "$CNITOOL"
        return
    fi
    local d dirs
    IFS=: read -ra dirs <<<"$CNI_PATH"
    for d in "${dirs[@]}" "$repo/bin"; do
        if [ -n "$d" ] && [ -x "$d/cnitool" ]; then
            echo "$d/cnitool"
            return
        fi
    done
    command -v cnitool
}
cnitool=$(find_cnitool) || die "cnitool not found in $CNI_PATH, $repo/bin or PATH: run ./build_linux.sh or set CNITOOL"

mapfile -t nets < <("$cnitool" list --quiet)
[ ${#nets[@]} -gt 0 ] || die "no network configs in $NETCONFPATH"

if [ "$cmd" = add ]; then
    for i in "${!nets[@]}"; do
        net=${nets[$i]} ifname=eth$i
        result=$("$cnitool" --container-id "$cid" -i "$ifname" add "$net" "$netns") ||
            die "ADD of network $net ($ifname) failed"
        if command -v jq >/dev/null; then
            echo "$net ($ifname): $(jq -c '[.ips[]?.address] + [.ip4.ip?, .ip6.ip? | select(.)]' <<<"$result")" >&2
        else
            echo "$net ($ifname): added" >&2
        fi
    done
else
    status=0
    for ((i = ${#nets[@]} - 1; i >= 0; i--)); do
        net=${nets[$i]} ifname=eth$i
        "$cnitool" --container-id "$cid" -i "$ifname" del "$net" "$netns" ||
            { echo "exec-plugins: DEL of network $net ($ifname) failed" >&2; status=1; }
    done
    exit $status
fi
