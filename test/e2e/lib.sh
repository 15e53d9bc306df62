# shellcheck shell=bash disable=SC2154 # $tmp, $log and $passed come from the caller
# Sourced by the end-to-end tests that run podman in a scratch network
# namespace (podman.sh, switch.sh): reporting, podman with its debug log,
# host-side HTTP, free subnets and ports, the busybox image, and the
# namespace that plays the host.

ok() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}

fail() {
    echo "FAIL - $*" >&2
    exit 1
}

expect_eq() {
    local what=$1 got=$2 want=$3
    [ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
    ok "$what"
}

# Runs podman with its debug log (plugin errors are only there) appended to
# $log, and a bound on its run time.
pm() {
    printf '\n### podman %s\n' "$*" >>"$log"
    timeout 120 podman --log-level=debug "$@" 2>>"$log"
}

# Host-side HTTP client. busybox 1.35's wget crashes with -T, so timeout(1)
# bounds it instead.
fetch() {
    timeout 5 busybox wget -q -O - "http://$1/"
}

# Repeats a command until it succeeds (a server that is still starting);
# the last try shows its output.
retry() {
    local out
    for _ in $(seq 1 50); do
        if out=$("$@" 2>/dev/null); then
            printf '%s\n' "$out"
            return 0
        fi
        sleep 0.2
    done
    "$@"
}

# The namespace made by `unshare --mount --net` becomes the host.
become_host() {
    local cgroups
    # sysfs shows the network namespace of whoever mounted it: remount it
    # so /sys/class/net lists this namespace's links, as `ip netns exec`
    # does. The cgroup hierarchies below it (runc needs them) are carried
    # over.
    cgroups=$(mktemp -d /tmp/cni-e2e-cgroup.XXXXXX)
    mount --rbind /sys/fs/cgroup "$cgroups"
    mount -t sysfs sysfs /sys
    mount --move "$cgroups" /sys/fs/cgroup
    rmdir "$cgroups"
    ip link set lo up
    # The fake host's "own address" (and its default route): one end of a
    # veth pair whose other end stays here too, so nothing leaves the
    # namespace.
    ip link add e2e-host type veth peer name e2e-peer
    ip addr add 172.31.254.1/24 dev e2e-host
    ip -6 addr add fd00:e2e:feed::1/64 dev e2e-host nodad
    ip link set e2e-peer up
    ip link set e2e-host up
    ip route add default via 172.31.254.2 dev e2e-host
    ip -6 route add default via fd00:e2e:feed::2 dev e2e-host
    # Hosts the test talks to are its own; no proxy may be in the way.
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
}

# A /24 in 10.89.100.0-10.89.249.0 that no route or address on the host
# uses (and not $1).
free_octet() {
    local candidate used
    # Listed first: grep -q in a pipeline would fail it with SIGPIPE.
    used=$(ip -4 route show table all; ip -4 addr show)
    for _ in $(seq 1 50); do
        candidate=$((100 + $(od -An -N1 -tu1 /dev/urandom) % 150))
        if [ "$candidate" != "${1:-}" ] && ! grep -q "[ ]10\.89\.$candidate\.\|^10\.89\.$candidate\." <<<"$used"; then
            echo "$candidate"
            return
        fi
    done
    echo "e2e: no free 10.89.x.0/24 subnet" >&2
    return 1
}

# A free TCP port in 20000-29999 that is not among the arguments.
free_port() {
    local port
    while :; do
        port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 10000))
        if [ -z "$(ss -Htan "( sport = :$port )")" ] && ! [[ " $* " == *" $port "* ]]; then
            echo "$port"
            return
        fi
    done
}

# A root filesystem of busybox-static and its applets, imported as $1.
import_busybox_image() {
    local rootfs=$tmp/rootfs applet
    mkdir -p "$rootfs"/{bin,etc,www,proc,sys,dev,tmp}
    cp "$(command -v busybox)" "$rootfs/bin/busybox"
    for applet in $(busybox --list); do
        [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar -C "$rootfs" -cf - . | pm import - "$1" >/dev/null
}
