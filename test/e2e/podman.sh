#!/usr/bin/env bash
# End to end: an unmodified podman (CNI network backend) runs containers with
# the plugins in bin/ as its only CNI plugins. See Documentation/e2e-podman.md.
#
# Needs root. Like the integration tests it never touches the machine's own
# network: the whole run (podman, conmon, the plugins) happens in a new
# network namespace that plays the host, with its own loopback and a veth
# pair carrying the "host IP"; podman puts its bridge, rules and sysctls
# there. Names are still unique to the run (network, bridge, subnet, ports),
# and the EXIT trap removes everything, also after a failure. Podman's state
# (storage, configs, the CNI cache and host-local's dataDir) lives in a
# temporary directory, mounted over /var/lib/cni and /var/lib/containers in
# a private mount namespace so the machine's own files are never touched.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${CNI_BIN_DIR:-$repo/bin}
# Podman's fixed state directories, replaced by private ones (see above).
private_dirs=(/var/lib/cni /var/lib/containers)

# ---------------------------------------------------------------------------
# Outer part: install what is missing, then rerun this script in a private
# mount namespace and a new network namespace.
if [ "${CNI_E2E_INNER:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "podman e2e: needs root (sudo $0)" >&2
        exit 2
    fi
    for plugin in bridge host-local portmap firewall tuning; do
        if [ ! -x "$bin/$plugin" ]; then
            echo "podman e2e: $bin/$plugin is missing: run ./build_linux.sh first" >&2
            exit 2
        fi
    done
    missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    # The image is made from busybox, so it must be the static build.
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    command -v iptables-save >/dev/null || missing+=(iptables)
    command -v nft >/dev/null || missing+=(nftables)
    command -v ip >/dev/null || missing+=(iproute2)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # Without podman's /etc/cni/net.d/87-podman-bridge.conflist: this
        # test does not read it, and tools that default to /etc/cni/net.d
        # (cnitool, scripts/priv-net-run.sh) would pick it up.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o 'DPkg::Options::=--path-exclude=/etc/cni/net.d/*' "${missing[@]}" >/dev/null
    fi
    made=()
    for dir in "${private_dirs[@]}"; do
        if [ ! -e "$dir" ]; then
            mkdir -p "$dir"
            made+=("$dir")
        fi
    done
    rc=0
    CNI_E2E_INNER=1 unshare --mount --net --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@" || rc=$?
    # Only the empty mount points this run made; rmdir leaves anything else.
    for dir in "${made[@]}"; do rmdir "$dir" 2>/dev/null || true; done
    exit "$rc"
fi

# ---------------------------------------------------------------------------
# Inner part: private mount namespace, a new network namespace as the host.

# shellcheck source=test/e2e/lib.sh
. "$repo/test/e2e/lib.sh"
become_host

tmp=$(mktemp -d /tmp/cni-e2e.XXXXXX)
log=$tmp/podman.log
: >"$log"
for dir in "${private_dirs[@]}"; do
    mkdir -p "$tmp/state$dir"
    mount --bind "$tmp/state$dir" "$dir"
done

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
net=cnie2e-$suffix
br=ce2e$suffix
image=localhost/cnie2e-busybox:$suffix
cids=()
passed=0
# The bridge plugin (isGateway) turns on forwarding in the host; it goes
# back to what it was.
forwarding_sysctls=(/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding
    /proc/sys/net/ipv6/conf/default/forwarding)
forwarding_before=()
for f in "${forwarding_sysctls[@]}"; do forwarding_before+=("$(cat "$f" 2>/dev/null || true)"); done

octet=$(free_octet)
prefix=10.89.$octet
subnet=$prefix.0/24
gateway=$prefix.1
# The second network: dual stack, with the IPv6 prefix's third group
# free of leading zeros, so that it reads the same in every listing.
octet2=$(free_octet "$octet")
prefix2=10.89.$octet2
prefix6=fd89:e2e:$(printf '%x' $((0x1000 + $(od -An -N2 -tu2 /dev/urandom) % 0xefff)))
net2=$net-b
br2=${br}b
static_ip=$prefix.200
static_mac=02:e2:$(od -An -N4 -tx1 /dev/urandom | sed 's/^ //; s/ /:/g')

port1=$(free_port)
port2=$(free_port "$port1")
port3=$(free_port "$port1" "$port2")
port4=$(free_port "$port1" "$port2" "$port3")

# The host's own address: the one on the default route's device, else any
# global IPv4 address.
# (awk reads its whole input: an early exit could fail the pipeline.)
# shellcheck disable=SC2016 # awk's $4, not the shell's
first_addr='!done {split($4, a, "/"); print a[1]; done = 1}'
host_dev=$(ip -4 route show default | awk '!done {for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); done = 1}}')
host_ip=$(ip -4 -o addr show ${host_dev:+dev "$host_dev"} scope global | awk "$first_addr")
[ -n "$host_ip" ] || host_ip=$(ip -4 -o addr show scope global | awk "$first_addr")
[ -n "$host_ip" ] || { echo "podman e2e: the host has no global IPv4 address" >&2; exit 1; }
# And its IPv6 address, if it has one: forwarding to it is checked then.
host_ip6=$(ip -6 -o addr show ${host_dev:+dev "$host_dev"} scope global 2>/dev/null | awk "$first_addr")

# Chains the CNI plugins share between networks and leave behind, like the
# Go plugins do.
shared_chains=" CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ CNI-FORWARD CNI-ADMIN CNI-FW-ATTACHMENTS "

# --- the footprint: snapshots, leftovers and their removal -----------------

# shellcheck source=test/e2e/footprint.sh
. "$repo/test/e2e/footprint.sh"

# Fixed strings that appear only in state this run created.
patterns() {
    # $net and $br are prefixes of $net2 and $br2.
    printf '%s\n' "$prefix." "$prefix2." "$prefix6:" "$net" "$br"
    if [ ${#cids[@]} -gt 0 ]; then printf '%s\n' "${cids[@]}"; fi
}

cleanup() {
    local rc=$?
    set +e
    trap - ERR
    if [ "$rc" -ne 0 ]; then
        # Podman 4.3 reports a plugin's error only in its debug log.
        cp "$log" "/tmp/cni-e2e-$suffix.log"
        echo "--- podman debug log, the commands and their errors (whole log: /tmp/cni-e2e-$suffix.log)" >&2
        grep -E '^### |level=(error|warning)|^Error' "$log" | tail -n 60 | cut -c1-600 >&2
    fi
    # Podman's storage is private: every container in it is this run's.
    local ctrs netns_paths=
    ctrs=$(timeout 60 podman ps -aq 2>>"$log")
    if [ -n "$ctrs" ]; then
        # shellcheck disable=SC2086
        netns_paths=$(timeout 60 podman inspect --format '{{.NetworkSettings.SandboxKey}}' $ctrs 2>>"$log")
        timeout 60 podman rm -f -t 0 -a >/dev/null 2>>"$log"
    fi
    for name in "$net" "$net2"; do timeout 60 podman network rm -f "$name" >/dev/null 2>>"$log"; done
    remove_run_leftovers "$netns_paths" "$br" "$br2"
    for dir in "${private_dirs[@]}"; do umount "$dir" 2>/dev/null; done
    findmnt -rn -o TARGET | grep "^$tmp/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$tmp"
    if [ "$rc" -eq 0 ]; then
        echo "podman-e2e: $passed passed, 0 failed"
    else
        echo "podman-e2e: $passed passed, 1 failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
# Names the step that failed; the subshells of $(...) stay quiet, their
# caller's line is reported.
set -E
trap '[ "$BASH_SUBSHELL" -ne 0 ] || echo "FAIL - line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

snapshot "$tmp/before"

# --- podman's configuration ------------------------------------------------

mkdir -p "$tmp/net.d" "$tmp/run"
# The VM's root lacks CAP_SYS_RESOURCE, so podman's default rlimits (raised
# to the maximum) make runc fail; small explicit ones work everywhere.
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
http_proxy = false
log_driver = "k8s-file"

[network]
network_backend = "cni"
cni_plugin_dirs = ["$bin"]
network_config_dir = "$tmp/net.d"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/events.log"
runtime = "runc"
tmp_dir = "$tmp/run"
image_copy_tmp_dir = "$tmp"
EOF
cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$tmp/runroot"
graphroot = "$tmp/graphroot"
EOF
export CONTAINERS_CONF=$tmp/containers.conf CONTAINERS_STORAGE_CONF=$tmp/storage.conf TMPDIR=$tmp

echo "podman e2e: $(podman --version), runc $(runc --version | awk 'NR == 1 {print $3}'), plugins from $bin"
echo "network $net, bridge $br, subnet $subnet, host ports $port1 and $port2 on $host_ip and 127.0.0.1"
expect_eq "podman uses the CNI backend" "$(pm info --format '{{.Host.NetworkBackend}}')" cni

# --- image: busybox-static and its applets ---------------------------------

import_busybox_image "$image"
ok "image $image imported from busybox-static"

# --- network ---------------------------------------------------------------

# Creates a network, renames its bridge and sets its cniVersion, then checks
# podman still lists it. Podman 4.3 picks cni-podmanN itself; a name of our
# own cannot clash.
create_network() { # name bridge cniVersion subnet...
    local name=$1 bridge=$2 version=$3 conflist=$tmp/net.d/$1.conflist sub
    shift 3
    local args=()
    for sub in "$@"; do args+=(--subnet "$sub"); done
    pm network create "${args[@]}" "$name" >/dev/null
    [ -f "$conflist" ] || fail "podman wrote no $conflist"
    sed -i -e "s/\"bridge\": \"[^\"]*\"/\"bridge\": \"$bridge\"/" \
        -e "s/\"cniVersion\": \"[^\"]*\"/\"cniVersion\": \"$version\"/" "$conflist"
    expect_eq "$name: podman's chain of plugins" \
        "$(grep -o '"type": "[^"]*"' "$conflist" | cut -d'"' -f4 | tr '\n' ' ')" \
        "bridge host-local portmap firewall tuning "
    # Podman silently drops a network whose plugins fail VERSION or lack its
    # cniVersion; then it is missing here.
    grep -qx "$name" <<<"$(pm network ls --format '{{.Name}}')" ||
        fail "podman does not list $name (VERSION probe of a plugin failed?)"
    ok "$name: podman lists it (every plugin answered VERSION for $version)"
}
# Podman writes cniVersion 0.4.0; it accepts 1.0.0 too.
create_network "$net" "$br" 0.4.0 "$subnet"

# --- containers ------------------------------------------------------------

# shellcheck disable=SC2016 # expanded by the container's shell
serve='echo "$NAME" >/www/index.html && exec httpd -f -p 80 -h /www'
run_web() { # name, network, extra podman run options...
    local name=$1 network=$2
    shift 2
    pm run -d --name "$name" --network "$network" --cap-add NET_RAW -e NAME="$name" "$@" "$image" sh -c "$serve"
}
web1=$net-web1
web2=$net-web2
web3=$net-web3
web4=$net-web4
cids+=("$(run_web "$web1" "$net" -p "$port1:80")")
ok "container web1 runs with -p $port1:80"
cids+=("$(run_web "$web2" "$net" -p "$port2:80" --ip "$static_ip" --mac-address "$static_mac")")
ok "container web2 runs with -p $port2:80 --ip $static_ip --mac-address $static_mac"

ctr_ip() { pm exec "$1" ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]}'; }
ctr_mac() { pm exec "$1" cat /sys/class/net/eth0/address; }
podman_ip() { pm inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$1"; }

ip1=$(ctr_ip "$web1")
case "$ip1" in "$prefix".*) ok "web1 has $ip1 in $subnet" ;; *) fail "web1 address '$ip1' is not in $subnet" ;; esac
expect_eq "podman reports web1's address" "$(podman_ip "$web1")" "$ip1"
expect_eq "web1's default route is the gateway" \
    "$(pm exec "$web1" ip -4 route show default | awk '{print $3}')" "$gateway"
expect_eq "web2 has the static --ip" "$(ctr_ip "$web2")" "$static_ip"
expect_eq "web2 has the static --mac-address" "$(ctr_mac "$web2")" "$static_mac"
mac1=$(ctr_mac "$web1")
veths_up=$(ip -o link show master "$br" type veth 2>/dev/null | wc -l)
expect_eq "two veths on $br" "$veths_up" 2
# cni_plugin_dirs names bin/ alone; this shows the IPAM that ran is ours:
# Go's host-local keeps no .attachments directory.
[ -d "/var/lib/cni/networks/$net/.attachments" ] || fail "host-local state is not ours: no .attachments in /var/lib/cni/networks/$net"
ok "the plugins that ran are ours (host-local's .attachments directory)"

ping_from() { pm exec "$1" ping -c 1 -W 3 "$2" >/dev/null || fail "$1 cannot ping $2"; }
check_traffic() { # $1: when
    ping_from "$web1" "$gateway"
    ok "web1 pings the gateway $gateway$1"
    ping_from "$web1" "$static_ip"
    ping_from "$web2" "$ip1"
    ok "web1 and web2 ping each other$1"
    expect_eq "host -> 127.0.0.1:$port1 reaches web1$1" "$(retry fetch "127.0.0.1:$port1")" "$web1"
    expect_eq "host -> $host_ip:$port1 reaches web1$1" "$(retry fetch "$host_ip:$port1")" "$web1"
    expect_eq "host -> 127.0.0.1:$port2 reaches web2$1" "$(retry fetch "127.0.0.1:$port2")" "$web2"
    expect_eq "host -> $host_ip:$port2 reaches web2$1" "$(retry fetch "$host_ip:$port2")" "$web2"
    expect_eq "hairpin: web1 -> $host_ip:$port1 reaches web1 itself$1" \
        "$(pm exec "$web1" timeout 5 wget -q -O - "http://$host_ip:$port1/")" "$web1"
    expect_eq "web1 -> $host_ip:$port2 reaches web2$1" \
        "$(pm exec "$web1" timeout 5 wget -q -O - "http://$host_ip:$port2/")" "$web2"
}
check_traffic ""

# A short-lived container: ADD from podman run, DEL from podman's cleanup.
out=$(pm run --rm --cidfile "$tmp/cid3" --network "$net" --cap-add NET_RAW "$image" \
    sh -c "ip -4 -o addr show dev eth0 && ping -c 1 -W 3 $gateway >/dev/null && echo pinged")
cids+=("$(cat "$tmp/cid3")")
case "$out" in *" $prefix."*pinged) ok "podman run --rm: address in $subnet, gateway reachable" ;;
*) fail "podman run --rm printed: $out" ;; esac

reservations() {
    find "/var/lib/cni/networks/$net" -maxdepth 1 -type f -name '[0-9]*' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}
expect_eq "host-local holds exactly web1's and web2's addresses" "$(reservations)" \
    "$(printf '%s\n' "$ip1" "$static_ip" | sort | tr '\n' ' ')"
[ ! -e "/var/lib/cni/results/$net-${cids[2]}-eth0" ] || fail "the --rm container's cached result is still there"
ok "the --rm container's cached result is gone"

# --- podman network reload: DEL and ADD again, same address ----------------

# What reload is for: firewall rules lost (a flush by hand, a firewall
# restart). This run's rules and chains go, as in the cleanup; DEL must
# cope with them missing and ADD puts them back.
remove_iptables iptables "$tmp/before.v4"
remove_iptables ip6tables "$tmp/before.v6"
if fetch "127.0.0.1:$port1" >/dev/null 2>&1; then fail "127.0.0.1:$port1 still answers without this run's rules"; fi
ok "without this run's iptables rules the published ports are closed"
pm network reload "$web1" "$web2" >/dev/null
ok "podman network reload web1 web2"
expect_eq "web1 keeps its address after reload" "$(ctr_ip "$web1")" "$ip1"
expect_eq "web1 keeps its MAC after reload" "$(ctr_mac "$web1")" "$mac1"
expect_eq "web2 keeps the static address after reload" "$(ctr_ip "$web2")" "$static_ip"
expect_eq "web2 keeps the static MAC after reload" "$(ctr_mac "$web2")" "$static_mac"
expect_eq "two veths on $br after reload" "$(ip -o link show master "$br" type veth 2>/dev/null | wc -l)" 2
check_traffic " after reload"

# --- a second network: dual stack, cniVersion 1.0.0; a container on both --

create_network "$net2" "$br2" 1.0.0 "$prefix2.0/24" "$prefix6::/64"
cids+=("$(run_web "$web3" "$net2" -p "$port3:80" -p "127.0.0.1:$port4:80")")
ok "container web3 runs on $net2 with -p $port3:80 -p 127.0.0.1:$port4:80"
ip3=$(ctr_ip "$web3")
case "$ip3" in "$prefix2".*) ok "web3 has $ip3 in $prefix2.0/24" ;; *) fail "web3 address '$ip3' is not in $prefix2.0/24" ;; esac
ip3v6=$(pm exec "$web3" ip -6 -o addr show dev eth0 scope global | awk '{split($4, a, "/"); print a[1]}')
case "$ip3v6" in "$prefix6":*) ok "web3 has $ip3v6 in $prefix6::/64" ;; *) fail "web3 IPv6 address '$ip3v6' is not in $prefix6::/64" ;; esac
ping_from "$web3" "$prefix2.1"
ping_from "$web3" "$prefix6::1"
ok "web3 pings both gateways of $net2"
expect_eq "host -> 127.0.0.1:$port3 reaches web3" "$(retry fetch "127.0.0.1:$port3")" "$web3"
expect_eq "host -> $host_ip:$port3 reaches web3" "$(retry fetch "$host_ip:$port3")" "$web3"
if [ -n "$host_ip6" ]; then
    expect_eq "host -> [$host_ip6]:$port3 reaches web3" "$(retry fetch "[$host_ip6]:$port3")" "$web3"
fi
expect_eq "host -> 127.0.0.1:$port4 (mapped on 127.0.0.1 only) reaches web3" "$(retry fetch "127.0.0.1:$port4")" "$web3"
if fetch "$host_ip:$port4" >/dev/null 2>&1; then fail "$host_ip:$port4 answers, but the mapping is for 127.0.0.1 only"; fi
ok "$host_ip:$port4 does not answer (mapping on 127.0.0.1 only)"
cids+=("$(pm run -d --name "$web4" --network "$net" --network "$net2" --cap-add NET_RAW "$image" sleep 600)")
addrs=$(pm exec "$web4" ip -4 -o addr show scope global | awk '{print $2, $4}' | sort | tr '\n' ' ')
# podman 4.3 does not promise which network gets eth0, so the two
# addresses may come in either order.
case "$addrs" in
"eth0 $prefix."*" eth1 $prefix2."* | "eth0 $prefix2."*" eth1 $prefix."*) ok "web4 is on both networks: $addrs" ;;
*) fail "web4 should have one address in each network, has: $addrs" ;; esac
ping_from "$web4" "$ip1"
ping_from "$web4" "$ip3"
ok "web4 reaches web1 on $net and web3 on $net2"

# A running container joins and leaves a network: ADD and DEL for one
# attachment (eth1) while the other stays.
net2_addr() { pm exec "$1" ip -4 -o addr show scope global | awk -v p="$prefix2." 'index($4, p) == 1 {print $2}'; }
pm network connect "$net2" "$web1"
[ -n "$(net2_addr "$web1")" ] || fail "web1 has no address in $net2 after podman network connect"
ping_from "$web1" "$ip3"
ok "podman network connect: web1 joins $net2 and reaches web3"
pm network disconnect "$net2" "$web1"
[ -z "$(net2_addr "$web1")" ] || fail "web1 still has an address in $net2 after podman network disconnect"
expect_eq "podman network disconnect: web1 left $net2, web1 keeps $ip1" "$(ctr_ip "$web1")" "$ip1"
expect_eq "host-local on $net2 holds web3's and web4's addresses only" \
    "$(find "/var/lib/cni/networks/$net2" -maxdepth 1 -type f -name '[0-9]*' | wc -l)" 2

# Stop and start: DEL, then ADD into a new network namespace; the mapping
# follows the container.
pm stop -t 0 "$web1" >/dev/null
ok "podman stop web1"
if fetch "127.0.0.1:$port1" >/dev/null 2>&1; then fail "127.0.0.1:$port1 still answers with web1 stopped"; fi
pm start "$web1" >/dev/null
expect_eq "podman start web1: host -> 127.0.0.1:$port1 reaches web1 again" "$(retry fetch "127.0.0.1:$port1")" "$web1"
expect_eq "host -> $host_ip:$port1 reaches web1 again" "$(retry fetch "$host_ip:$port1")" "$web1"

# --- teardown: nothing of the network is left --------------------------------

pm rm -f -t 0 "$web1" "$web2" "$web3" "$web4" >/dev/null
ok "podman rm -f web1 web2 web3 web4"
pm network rm "$net" "$net2" >/dev/null
ok "podman network rm $net $net2"
for name in "$net" "$net2"; do
    [ ! -e "$tmp/net.d/$name.conflist" ] || fail "$name's conflist is still there"
done

snapshot "$tmp/after"
for bridge in "$br" "$br2"; do
    if ip link show "$bridge" >/dev/null 2>&1; then fail "bridge $bridge is still there"; fi
done
ok "bridges $br and $br2 are gone"
left=$(comm -13 "$tmp/before.veth" "$tmp/after.veth" | tr '\n' ' ')
[ -z "$left" ] || fail "veths left in the host: $left"
ok "no veth left in the host"
left=$(comm -13 "$tmp/before.netns" "$tmp/after.netns" | tr '\n' ' ')
[ -z "$left" ] || fail "network namespaces left: $left"
ok "no container network namespace left"
patterns >"$tmp/patterns"
for family in v4 v6; do
    left=$(grep -F -f "$tmp/patterns" "$tmp/after.$family" || true)
    [ -z "$left" ] || fail "$family iptables rules of this run are left:"$'\n'"$left"
    left=$(comm -13 <(chains <"$tmp/before.$family" | sort) <(chains <"$tmp/after.$family" | sort) |
        while read -r table chain; do
            case "$shared_chains" in *" $chain "*) ;; *) echo "$table/$chain" ;; esac
        done)
    [ -z "$left" ] || fail "per-container chains left ($family): $left"
done
ok "no iptables/ip6tables rule or per-container chain of this run left"
left=$(nft list ruleset 2>/dev/null | grep -F -f "$tmp/patterns" || true)
[ -z "$left" ] || fail "nftables rules of this run are left:"$'\n'"$left"
ok "no nftables rule of this run left"
# Bookkeeping that outlives the reservations: the lock, Go's
# last_reserved_ip.N, and in .attachments/ the sync mark, the spare
# .last-N that the exchange-based last_reserved_ip write swaps in, and
# the released inodes kept for reuse in .spare/, which must hold nothing
# but zero bytes (Documentation/host-local.md).
left=$(find "/var/lib/cni/networks/$net" "/var/lib/cni/networks/$net2" -type f ! -name lock ! -name 'last_reserved_ip.*' \
    ! -path '*/.attachments/.synced' ! -path '*/.attachments/.last-*' \
    ! -path '*/.attachments/.spare/*' 2>/dev/null || true)
[ -z "$left" ] || fail "host-local reservations left: $left"
while read -r spare; do
    [ -z "$spare" ] || [ -z "$(tr -d '\0' < "$spare")" ] || fail "spare $spare holds: $(tr -d '\0' < "$spare")"
done <<< "$(find "/var/lib/cni/networks/$net" "/var/lib/cni/networks/$net2" -type f -path '*/.attachments/.spare/*' 2>/dev/null || true)"
ok "no host-local reservation left (released files kept as spares hold no attachment)"
left=$(for cid in "${cids[@]}"; do
    for f in /var/lib/cni/results/*"$cid"*; do if [ -e "$f" ]; then echo "$f"; fi; done
done)
[ -z "$left" ] || fail "cached results left: $left"
ok "no cached result of the containers left"
