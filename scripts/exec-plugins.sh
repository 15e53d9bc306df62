#!/usr/bin/env bash
# exec-plugins.sh add|del <container-id> <netns-path>
#
# Runs every network config in $NETCONFPATH (`*.conflist`, `*.conf`,
# `*.json`, in name order) against a network namespace, the way a runtime
# would: ADD in order with each plugin's result passed to the next as
# prevResult; DEL in reverse. Interface names are eth0, eth1, ... per network.
# Plugins are looked up in $CNI_PATH (default: this repository's bin/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${NETCONFPATH:=/etc/cni/net.d}"
: "${CNI_PATH:=$(dirname "$here")/bin}"
export CNI_PATH

die() { echo "exec-plugins: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: exec-plugins.sh add|del <container-id> <netns-path>"
command -v jq >/dev/null || die "jq is required"
cmd=$1 cid=$2 netns=$3
case $cmd in add) CMD=ADD ;; del) CMD=DEL ;; *) die "unknown command $cmd (add or del)" ;; esac

mapfile -t files < <(find "$NETCONFPATH" -maxdepth 1 -type f \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || die "no network configs in $NETCONFPATH"

# One plugin call: config on stdin, result on stdout.
run_plugin() { # <plugin-conf-json> <ifname>
    local conf=$1 ifname=$2 type
    type=$(jq -r '.type' <<<"$conf")
    [[ -n $type && $type != null && $type != */* ]] || die "config without a valid plugin type: $conf"
    local bin=
    IFS=: read -ra dirs <<<"$CNI_PATH"
    for d in "${dirs[@]}"; do [ -x "$d/$type" ] && { bin=$d/$type; break; }; done
    [ -n "$bin" ] || die "plugin $type not found in $CNI_PATH"
    CNI_COMMAND=$CMD CNI_CONTAINERID=$cid CNI_NETNS=$netns CNI_IFNAME=$ifname CNI_ARGS= \
        "$bin" <<<"$conf"
}

status=0
order=("${!files[@]}")
[ $CMD = DEL ] && order=($(seq $((${#files[@]} - 1)) -1 0))
for i in "${order[@]}"; do
    f=${files[$i]}
    jq -e . "$f" >/dev/null 2>&1 || die "$f: not valid JSON"
    ifname=eth$i
    name=$(jq -r '.name' "$f") version=$(jq -r '.cniVersion // ""' "$f")
    if jq -e 'has("plugins")' "$f" >/dev/null; then
        mapfile -t plugins < <(jq -c '.plugins[]' "$f")
    else
        plugins=("$(jq -c . "$f")")
    fi
    if [ $CMD = ADD ]; then
        prev=
        for p in "${plugins[@]}"; do
            conf=$(jq -c --arg n "$name" --arg v "$version" --argjson prev "${prev:-null}" \
                '. + {name: $n, cniVersion: $v} + (if $prev == null then {} else {prevResult: $prev} end)' <<<"$p")
            prev=$(run_plugin "$conf" "$ifname") || die "ADD of $(jq -r .type <<<"$p") on network $name failed: $prev"
        done
        echo "$name ($ifname): $(jq -c '[.ips[]?.address]' <<<"${prev:-{\}}")" >&2
    else
        for ((j = ${#plugins[@]} - 1; j >= 0; j--)); do
            conf=$(jq -c --arg n "$name" --arg v "$version" '. + {name: $n, cniVersion: $v}' <<<"${plugins[$j]}")
            # Keep going: every plugin gets its DEL even if one fails.
            out=$(run_plugin "$conf" "$ifname") || { echo "exec-plugins: DEL of $(jq -r .type <<<"${plugins[$j]}") on network $name failed: $out" >&2; status=1; }
        done
    fi
done
exit $status
