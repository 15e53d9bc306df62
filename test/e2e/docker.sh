#!/usr/bin/env bash
# End to end: scripts/docker-run.sh with a real Docker engine (Debian's
# docker.io) gives containers the networks of examples/net.d through the
# plugins in bin/. See Documentation/e2e-docker.md.
#
# Needs root. It never touches the machine's own network: the script reruns
# itself under `unshare --mount --net`, and dockerd, its containerd, runc,
# docker-run.sh and the plugins all run in that new network namespace, which
# plays the host (the bridge, the veths, the masquerade rules and the
# forwarding sysctl end up there). Docker's data, exec root, socket and pid
# file live in a temporary directory, and a private /var/lib/cni (the
# example's host-local dataDir) and CNI cache are mounted over the real ones
# in the private mount namespace. The EXIT trap stops dockerd and removes
# everything, also after a failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${CNI_BIN_DIR:-$repo/bin}
netconf=$repo/examples/net.d
# The example's bridge; the machine's own namespace must not get one.
bridge=$(sed -n 's/.*"bridge": "\([^"]*\)".*/\1/p' "$netconf/10-mynet.conflist")

# ---------------------------------------------------------------------------
# Outer part: install what is missing, then rerun this script in a private
# mount namespace and a new network namespace.
if [ "${CNI_E2E_INNER:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "docker e2e: needs root (sudo $0)" >&2
        exit 2
    fi
    for plugin in bridge host-local loopback cnitool; do
        if [ ! -x "$bin/$plugin" ]; then
            echo "docker e2e: $bin/$plugin is missing: run ./build_linux.sh first" >&2
            exit 2
        fi
    done
    missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    # The image is made from busybox, so it must be the static build.
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    command -v jq >/dev/null || missing+=(jq)
    command -v iptables >/dev/null || missing+=(iptables)
    command -v ip >/dev/null || missing+=(iproute2)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        # docker.io's maintainer scripts would start dockerd in the machine's
        # own namespace (docker0, iptables rules): a policy-rc.d that denies
        # service starts keeps it stopped, as in Docker's own images.
        policy=/usr/sbin/policy-rc.d own_policy=
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod +x "$policy"
            own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        [ -z "$own_policy" ] || rm -f "$policy"
    fi
    had_bridge=0
    ip link show "$bridge" >/dev/null 2>&1 && had_bridge=1
    made=()
    if [ ! -e /var/lib/cni ]; then
        mkdir -p /var/lib/cni
        made+=(/var/lib/cni)
    fi
    rc=0
    CNI_E2E_INNER=1 unshare --mount --net --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@" || rc=$?
    for dir in "${made[@]}"; do rmdir "$dir" 2>/dev/null || true; done
    if [ "$had_bridge" = 0 ] && ip link show "$bridge" >/dev/null 2>&1; then
        echo "FAIL - the machine's own network namespace has a bridge $bridge" >&2
        exit 1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------------------
# Inner part: private mount namespace, a new network namespace as the host.

# sysfs shows the network namespace of whoever mounted it: remount it so
# /sys/class/net lists this namespace's links. The cgroup hierarchies below
# it (runc needs them) are carried over.
cgroups=$(mktemp -d /tmp/cni-docker-cgroup.XXXXXX)
mount --rbind /sys/fs/cgroup "$cgroups"
mount -t sysfs sysfs /sys
mount --move "$cgroups" /sys/fs/cgroup
rmdir "$cgroups"
ip link set lo up
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

tmp=$(mktemp -d /tmp/cni-docker-e2e.XXXXXX)
mkdir -p "$tmp/cni" "$tmp/cache"
mount --bind "$tmp/cni" /var/lib/cni
reservations_dir=/var/lib/cni/networks/mynet
docker=$(command -v /usr/bin/docker || command -v docker)
export DOCKER_HOST=unix://$tmp/docker.sock
passed=0

ok() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}

fail() {
    echo "FAIL - $*" >&2
    exit 1
}

cleanup() {
    local rc=$?
    set +e
    trap - ERR
    if [ "$rc" -ne 0 ] && [ -f "$tmp/dockerd.log" ]; then
        echo "--- dockerd's warnings and errors, the last 30" >&2
        grep -v "level=info" "$tmp/dockerd.log" | tail -n 30 >&2
    fi
    [ -z "${runner:-}" ] || kill -TERM -- "-$runner" 2>/dev/null
    if [ -f "$tmp/docker.pid" ]; then
        timeout 30 "$docker" ps -aq 2>/dev/null | xargs -r timeout 30 "$docker" rm -f >/dev/null 2>&1
        pid=$(cat "$tmp/docker.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    umount /var/lib/cni 2>/dev/null
    findmnt -rn -o TARGET | grep "^$tmp/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        echo "docker-e2e: $passed passed, 0 failed"
    else
        echo "docker-e2e: $passed passed, 1 failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
set -E
trap '[ "$BASH_SUBSHELL" -ne 0 ] || echo "FAIL - line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

# --- the engine ------------------------------------------------------------

# No bridge and no iptables of Docker's own: containers get their network
# only from docker-run.sh. vfs storage works on any file system under /tmp.
dockerd --data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/docker.pid" \
    -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false \
    --storage-driver vfs >"$tmp/dockerd.log" 2>&1 &
for _ in $(seq 1 150); do
    "$docker" version >/dev/null 2>&1 && break
    sleep 0.2
done
"$docker" version >/dev/null || fail "dockerd did not answer on $DOCKER_HOST"
echo "docker e2e: dockerd $(dockerd --version | awk '{print $3}' | tr -d ,), plugins from $bin, networks of examples/net.d"
ok "dockerd runs with private dirs, --bridge=none --iptables=false"

rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $(busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" -cf - . | "$docker" import - busybox:latest >/dev/null
ok "image busybox:latest imported from busybox-static"

# --- docker-run.sh ---------------------------------------------------------

run() { # docker run arguments; the script's own output goes to $tmp/out
    DOCKER=$docker NETCONFPATH=$netconf CNI_PATH=$bin CNI_CACHE_DIR=$tmp/cache \
        "$repo/scripts/docker-run.sh" "$@" >"$tmp/out" 2>"$tmp/err"
}

# The bridge plugin's masquerade, in whichever backend it chose.
nat_rules() {
    iptables-save -t nat 2>/dev/null | grep '^-A ' || true
    nft list table inet cni_plugins_masquerade 2>/dev/null || true
}

# What a finished docker-run.sh must leave: no placeholder, no veth, no
# reservation, no cached result, no masquerade rule.
check_clean() { # $1: after what
    [ -z "$("$docker" ps -aq)" ] || fail "containers left after $1: $("$docker" ps -a)"
    [ -z "$(ip -o link show type veth)" ] || fail "veths left after $1: $(ip -o link show type veth)"
    local left
    left=$(find "$reservations_dir" -maxdepth 1 -type f -name '[0-9]*' 2>/dev/null)
    [ -z "$left" ] || fail "host-local reservations left after $1: $left"
    left=$(find "$tmp/cache" -type f)
    [ -z "$left" ] || fail "cached results left after $1: $left"
    left=$(nat_rules | grep -e 'CNI-' -e '10\.22\.' || true)
    [ -z "$left" ] || fail "masquerade rules left after $1: $left"
    ok "nothing left after $1 (containers, veths, reservations, cache, masquerade rules)"
}

gateway=10.22.0.1
run --rm busybox:latest sh -c "ip -4 -o addr show dev eth0; ip -4 route show default; ping -c 1 -W 3 $gateway >/dev/null && echo pinged" ||
    fail "docker-run.sh failed: $(cat "$tmp/out" "$tmp/err")"
out=$(cat "$tmp/out")
addr=$(awk '/ eth0 /{print $4; exit}' <<<"$out")
case "$addr" in 10.22.*/16) ok "the container has $addr on eth0" ;; *) fail "no 10.22.0.0/16 address on eth0: $out" ;; esac
grep -q "^default via $gateway dev eth0" <<<"$out" || fail "no default route via $gateway: $out"
ok "its default route is the gateway $gateway"
grep -qx pinged <<<"$out" || fail "the container cannot ping $gateway: $out"
ok "the container's traffic reaches the gateway $gateway"
grep -q "mynet (eth0): \[\"10.22." "$tmp/err" || fail "docker-run.sh did not report the ADD: $(cat "$tmp/err")"
ok "the ADD went through cnitool (mynet on eth0)"
ip link show "$bridge" >/dev/null 2>&1 || fail "no bridge $bridge in the scratch namespace"
ok "the plugins' host side is the scratch namespace (bridge $bridge there)"
check_clean "docker run --rm"

# A running container, seen from the host: its veth on the bridge, its
# masquerade rule, its address answering. Then the session is stopped with
# SIGTERM to its process group (SIGINT is ignored by a background job of a
# script): the docker client passes it on to the container, and
# docker-run.sh still removes the networks and the placeholder.
# shellcheck disable=SC2016 # expanded by the container's shell
setsid env DOCKER="$docker" NETCONFPATH="$netconf" CNI_PATH="$bin" CNI_CACHE_DIR="$tmp/cache" \
    "$repo/scripts/docker-run.sh" --name e2e-long --rm busybox:latest \
    sh -c 'trap "exit 0" INT TERM; sleep 600 & wait' >"$tmp/out" 2>"$tmp/err" &
runner=$!
for _ in $(seq 1 100); do
    [ -z "$(ip -o link show master "$bridge" type veth 2>/dev/null)" ] || break
    sleep 0.1
done
[ -n "$(ip -o link show master "$bridge" type veth 2>/dev/null)" ] || fail "no veth on $bridge while a container runs: $(cat "$tmp/err")"
ok "a running container's veth is on $bridge"
# That veth is the placeholder's: wait for the user's container to run, so
# that the SIGTERM below does not cut its creation (dockerd would finish it
# after the client is gone, and the container would be left "Created").
running() { [ "$("$docker" inspect -f '{{.State.Running}}' e2e-long 2>/dev/null)" = true ]; }
for _ in $(seq 1 100); do running && break; sleep 0.1; done
running || fail "container e2e-long does not run: $(cat "$tmp/err")"
long_ip=$(find "$reservations_dir" -maxdepth 1 -type f -name '10.22.*' -printf '%f\n')
[ -n "$long_ip" ] || fail "host-local holds no address for the running container"
# Read whole first: grep -q's early exit would fail the pipeline (SIGPIPE).
grep -qF "$long_ip" <<<"$(nat_rules)" || fail "no masquerade rule for $long_ip: $(nat_rules)"
ok "the bridge plugin masquerades $long_ip"
busybox ping -c 1 -W 3 "$long_ip" >/dev/null || fail "the host cannot ping the container at $long_ip"
ok "the host reaches the container at $long_ip"
kill -TERM -- "-$runner"
for _ in $(seq 1 300); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
kill -0 "$runner" 2>/dev/null && fail "docker-run.sh still runs 30 s after SIGTERM"
rc=0
wait "$runner" || rc=$?
[ "$rc" = 130 ] || fail "an interrupted docker-run.sh exited $rc, not 130: $(cat "$tmp/err")"
ok "docker-run.sh interrupted: exit 130"
timeout 30 "$docker" rm -f e2e-long >/dev/null 2>&1 || true
check_clean "an interrupted docker-run.sh"

# The container fails: its exit status comes back and the cleanup still
# runs. Without --rm Docker keeps the user's container; only the
# placeholder must go.
rc=0
run --name e2e-failing busybox:latest sh -c 'exit 3' || rc=$?
[ "$rc" = 3 ] || fail "a container exiting 3 made docker-run.sh exit $rc: $(cat "$tmp/err")"
ok "a failing container's exit status (3) comes back"
expect=$("$docker" ps -aq --no-trunc --filter name=e2e-failing)
[ "$("$docker" ps -aq --no-trunc)" = "$expect" ] || fail "the placeholder is left: $("$docker" ps -a)"
"$docker" rm e2e-failing >/dev/null
check_clean "a failing container"

# The command cannot start at all (docker run itself fails).
rc=0
run --rm busybox:latest /no/such/command || rc=$?
[ "$rc" -ne 0 ] || fail "docker-run.sh succeeded with a command that does not exist"
ok "a container that cannot start fails docker-run.sh (exit $rc)"
check_clean "a container that cannot start"
