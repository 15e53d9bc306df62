#!/usr/bin/env bash
# End to end: a live podman node switched in place from Debian's Go
# plugins (containernetworking-plugins) to this suite's Debian package and
# back, with containers running across each switch. See
# Documentation/install.md ("Switching a live node, tested").
#
# Needs root. Built like podman.sh: podman, conmon, the containers and the
# plugins run in a new network namespace that plays the host, with a
# private mount namespace. Podman keeps its defaults for CNI: plugins from
# its default directories (Debian's /usr/lib/cni) and networks in
# /etc/cni/net.d. The packages are switched with dpkg and apt for real, but
# on copy-on-write views of /usr, /etc and /var (overlayfs in the private
# mount namespace): the machine's own packages, /usr/lib/cni, /etc/cni and
# /var/lib/cni are never written, whatever happens, and other users of the
# machine (a CI job running the Go plugins) never see the switch. The
# outer part checks that afterwards.
#
#   CNI_DEB=path/to/cni-plugins-rs.deb   the package under test (default:
#                                        scripts/build-deb.sh builds it)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
go_pkg=containernetworking-plugins
our_pkg=cni-plugins-rs

# What the machine has installed and in /usr/lib/cni, /etc/cni and
# /var/lib/cni (names and sizes); equal before and after the run.
machine_state() {
    dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Abbrev}\n' "$go_pkg" "$our_pkg" 2>/dev/null || true
    find /usr/lib/cni -type f -exec sha256sum {} + 2>/dev/null | sort || true
    find /etc/cni /var/lib/cni -printf '%p %y %s\n' 2>/dev/null | sort || true
}

# ---------------------------------------------------------------------------
# Outer part: the two packages, then this script again in a private mount
# namespace and a new network namespace.
if [ "${CNI_E2E_INNER:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "switch e2e: needs root (sudo $0)" >&2
        exit 2
    fi
    missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    command -v iptables-save >/dev/null || missing+=(iptables)
    command -v nft >/dev/null || missing+=(nftables)
    command -v ip >/dev/null || missing+=(iproute2)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o 'DPkg::Options::=--path-exclude=/etc/cni/net.d/*' "${missing[@]}" >/dev/null
    fi
    work=$(mktemp -d /tmp/cni-switch.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    ours=${CNI_DEB:-}
    if [ -z "$ours" ]; then
        ours=$("$repo/scripts/build-deb.sh" "$work")
    fi
    # Go's package: the version the machine has, else apt's candidate;
    # from apt's cache when it is there, else downloaded.
    arch=$(dpkg --print-architecture)
    version=$(dpkg-query -W -f '${Version}' "$go_pkg" 2>/dev/null || true)
    [ -n "$version" ] || version=$(apt-cache policy "$go_pkg" | awk '$1 == "Candidate:" {print $2}')
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        echo "switch e2e: apt knows no $go_pkg" >&2
        exit 1
    fi
    go_deb=/var/cache/apt/archives/${go_pkg}_${version//:/%3a}_$arch.deb
    if [ ! -f "$go_deb" ]; then
        (cd "$work" && apt-get download -qq "$go_pkg=$version" 2>/dev/null)
        go_deb=$(echo "$work/${go_pkg}_"*.deb)
    fi
    [ -f "$go_deb" ] || { echo "switch e2e: could not get $go_pkg $version" >&2; exit 1; }
    machine_state >"$work/machine.before"
    rc=0
    CNI_E2E_INNER=1 CNI_OURS_DEB=$ours CNI_GO_DEB=$go_deb \
        unshare --mount --net --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@" || rc=$?
    machine_state >"$work/machine.after"
    if ! diff -u "$work/machine.before" "$work/machine.after" >&2; then
        # The run cannot write there (overlays); something else on the
        # machine did, at the same time, and the check cannot tell.
        echo "FAIL - the machine's packages, /usr/lib/cni, /etc/cni or /var/lib/cni changed during the run (diff above; by this test, or by another process meanwhile)" >&2
        rc=1
    else
        echo "ok - the machine's own packages, /usr/lib/cni, /etc/cni and /var/lib/cni are as they were"
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------------------
# Inner part: private mount namespace, a new network namespace as the host.

# shellcheck source=test/e2e/lib.sh
. "$repo/test/e2e/lib.sh"
# shellcheck source=test/e2e/footprint.sh
. "$repo/test/e2e/footprint.sh"

tmp=$(mktemp -d /tmp/cni-switch-inner.XXXXXX)
log=$tmp/podman.log
: >"$log"
passed=0
cids=()
start=$(date +%s)
become_host
host_ip=172.31.254.1

# Copy-on-write /usr, /etc and /var: dpkg, apt and podman write into
# $tmp/overlay. Checked before any package is touched.
for dir in /usr /etc /var; do
    mkdir -p "$tmp/overlay$dir/upper" "$tmp/overlay$dir/work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$tmp/overlay$dir/upper,workdir=$tmp/overlay$dir/work" "$dir"
    [ "$(findmnt -n -o FSTYPE --target "$dir")" = overlay ] || fail "$dir is not a private overlay"
done
# Podman's state and the CNI configs and caches start empty.
for dir in /var/lib/cni /var/lib/containers /etc/cni/net.d; do
    mkdir -p "$dir" "$tmp/state$dir"
    mount --bind "$tmp/state$dir" "$dir"
done

suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
net=cnisw-$suffix
br=csw$suffix
image=localhost/cnisw-busybox:$suffix
prefix=10.89.$(free_octet "")
subnet=$prefix.0/24
static_ip=$prefix.200
static_mac=02:e2:$(od -An -N4 -tx1 /dev/urandom | sed 's/^ //; s/ /:/g')
port1=$(free_port)
port2=$(free_port "$port1")
port3=$(free_port "$port1" "$port2")
port4=$(free_port "$port1" "$port2" "$port3")
shared_chains=" CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ CNI-FORWARD CNI-ADMIN CNI-FW-ATTACHMENTS "
forwarding_sysctls=(/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding
    /proc/sys/net/ipv6/conf/default/forwarding)
forwarding_before=()
for f in "${forwarding_sysctls[@]}"; do forwarding_before+=("$(cat "$f" 2>/dev/null || true)"); done

patterns() {
    printf '%s\n' "$prefix." "$net" "$br"
    if [ ${#cids[@]} -gt 0 ]; then printf '%s\n' "${cids[@]}"; fi
}

cleanup() {
    local rc=$?
    set +e
    trap - ERR
    if [ "$rc" -ne 0 ]; then
        cp "$log" "/tmp/cni-switch-$suffix.log"
        echo "--- podman debug log, the commands and their errors (whole log: /tmp/cni-switch-$suffix.log)" >&2
        grep -E '^### |level=(error|warning)|^Error' "$log" | tail -n 60 | cut -c1-600 >&2
    fi
    local ctrs netns_paths=
    ctrs=$(timeout 60 podman ps -aq 2>>"$log")
    if [ -n "$ctrs" ]; then
        # shellcheck disable=SC2086
        netns_paths=$(timeout 60 podman inspect --format '{{.NetworkSettings.SandboxKey}}' $ctrs 2>>"$log")
        timeout 60 podman rm -f -t 0 -a >/dev/null 2>>"$log"
    fi
    timeout 60 podman network rm -f "$net" >/dev/null 2>>"$log"
    remove_run_leftovers "$netns_paths" "$br"
    for dir in /etc/cni/net.d /var/lib/containers /var/lib/cni /var /etc /usr; do umount -l "$dir" 2>/dev/null; done
    findmnt -rn -o TARGET | grep "^$tmp/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$tmp"
    local failed=0
    [ "$rc" -eq 0 ] || failed=1
    echo "switch-e2e: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
    exit "$rc"
}
trap cleanup EXIT
set -E
trap '[ "$BASH_SUBSHELL" -ne 0 ] || echo "FAIL - line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

snapshot "$tmp/before"

# Which suite /usr/lib/cni holds: ours says "(Rust, commit ...)" in its
# about text, Debian's Go build "version unknown".
suite() {
    local about
    about=$(/usr/lib/cni/bridge </dev/null 2>&1 || true)
    case "$about" in *"(Rust, commit"*) echo rust ;; *) echo go ;; esac
}
installed() { # package -> its dpkg status, "ii" when installed
    dpkg-query -W -f '${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' ' || true
}
expect_installed() { # package that must be installed, package that must not
    expect_eq "$1 is installed" "$(installed "$1")" ii
    [ "$(installed "$2")" != ii ] || fail "$2 is still installed"
    ok "$2 is not installed"
}

# Podman's defaults for CNI: no cni_plugin_dirs, no network_config_dir.
mkdir -p "$tmp/run"
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
http_proxy = false
log_driver = "k8s-file"

[network]
network_backend = "cni"

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
export DEBIAN_FRONTEND=noninteractive

echo "switch e2e: $(podman --version); $go_pkg from $CNI_GO_DEB; ours from $CNI_OURS_DEB"
echo "network $net, bridge $br, subnet $subnet, host ports $port1 $port2 $port3 $port4"

# --- 1. Go's package, containers on it -------------------------------------

if [ "$(installed "$go_pkg")" != ii ]; then
    apt-get install -y -qq --no-install-recommends -o APT::Sandbox::User=root "$CNI_GO_DEB" >>"$log" 2>&1
fi
expect_installed "$go_pkg" "$our_pkg"
expect_eq "/usr/lib/cni holds Go's plugins" "$(suite)" go
expect_eq "podman uses the CNI backend" "$(pm info --format '{{.Host.NetworkBackend}}')" cni
import_busybox_image "$image"
ok "image $image imported from busybox-static"

pm network create --subnet "$subnet" "$net" >/dev/null
conflist=/etc/cni/net.d/$net.conflist
[ -f "$conflist" ] || fail "podman wrote no $conflist"
sed -i -e "s/\"bridge\": \"[^\"]*\"/\"bridge\": \"$br\"/" "$conflist"
grep -qx "$net" <<<"$(pm network ls --format '{{.Name}}')" || fail "podman does not list $net"
ok "network $net in /etc/cni/net.d (podman's default directory)"

# shellcheck disable=SC2016 # expanded by the container's shell
serve='echo "$NAME" >/www/index.html && exec httpd -f -p 80 -h /www'
run_web() { # name, extra podman run options...
    local name=$1
    shift
    pm run -d --name "$name" --network "$net" --cap-add NET_RAW -e NAME="$name" "$@" "$image" sh -c "$serve"
}
ctr_ip() { pm exec "$1" ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]}'; }
ctr_mac() { pm exec "$1" cat /sys/class/net/eth0/address; }
veths_on_bridge() { ip -o link show master "$br" type veth 2>/dev/null | wc -l; }
serves() { # name port [when]
    expect_eq "host -> 127.0.0.1:$2 reaches $1${3:-}" "$(retry fetch "127.0.0.1:$2")" "$1"
    expect_eq "host -> $host_ip:$2 reaches $1${3:-}" "$(retry fetch "$host_ip:$2")" "$1"
}
# Nothing of one container is left: its address, cached result, rules
# (its ID or its host port) and its veth (counted by the caller).
gone() { # name id address port
    local name=$1 cid=$2 addr=$3 port=$4 left
    [ ! -e "/var/lib/cni/networks/$net/$addr" ] || fail "$name's reservation $addr is left"
    left=$(find "/var/lib/cni/networks/$net" -type f -name "$addr" 2>/dev/null || true)
    [ -z "$left" ] || fail "$name's address is left in host-local's store: $left"
    left=$(find /var/lib/cni/results -name "*$cid*" 2>/dev/null || true)
    [ -z "$left" ] || fail "$name's cached result is left: $left"
    left=$({
        iptables-save
        ip6tables-save
        nft list ruleset | awk '/^\tchain / {chain = $2} {print "[" chain "] " $0}'
    } 2>/dev/null | grep -E -e "$cid" -e "dport $port( |$)" || true)
    [ -z "$left" ] || fail "$name's rules are left:"$'\n'"$left"
    if fetch "127.0.0.1:$port" >/dev/null 2>&1; then fail "127.0.0.1:$port still answers with $name gone"; fi
    ok "$name: no reservation, cached result, rule or open port left"
}

cids+=("$(run_web web1 -p "$port1:80")")
cids+=("$(run_web web2 -p "$port2:80" --ip "$static_ip" --mac-address "$static_mac")")
ok "web1 (-p $port1:80) and web2 (-p $port2:80 --ip $static_ip --mac-address $static_mac) run on Go's plugins"
ip1=$(ctr_ip web1)
case "$ip1" in "$prefix".*) ok "web1 has $ip1 in $subnet" ;; *) fail "web1 address '$ip1' is not in $subnet" ;; esac
expect_eq "web2 has the static --ip" "$(ctr_ip web2)" "$static_ip"
expect_eq "web2 has the static --mac-address" "$(ctr_mac web2)" "$static_mac"
[ ! -d "/var/lib/cni/networks/$net/.attachments" ] || fail "host-local state is ours, not Go's"
ok "the host-local that ran is Go's (no .attachments directory)"
serves web1 "$port1"
serves web2 "$port2"

# --- 2. ours installed over it while they run; podman removes them --------

dpkg -i "$CNI_OURS_DEB" >>"$log" 2>&1 || fail "dpkg -i $CNI_OURS_DEB failed (see the log)"
ok "dpkg -i $(basename "$CNI_OURS_DEB") over $go_pkg"
expect_installed "$our_pkg" "$go_pkg"
expect_eq "/usr/lib/cni holds our plugins" "$(suite)" rust
serves web1 "$port1" " after the switch"
serves web2 "$port2" " after the switch"
expect_eq "two veths on $br" "$(veths_on_bridge)" 2

pm stop -t 0 web1 web2 >/dev/null
pm rm web1 web2 >/dev/null
ok "podman stop and rm web1 and web2 through our plugins"
gone web1 "${cids[0]}" "$ip1" "$port1"
gone web2 "${cids[1]}" "$static_ip" "$port2"
expect_eq "no veth on $br" "$(veths_on_bridge)" 0

# --- 3. new containers on ours; Go's package back; Go's plugins remove them

cids+=("$(run_web web3 -p "$port3:80")")
cids+=("$(run_web web4 -p "$port4:80" --ip "$static_ip" --mac-address "$static_mac")")
ok "web3 (-p $port3:80) and web4 (-p $port4:80, web2's static address and MAC) run on our plugins"
[ -d "/var/lib/cni/networks/$net/.attachments" ] || fail "no .attachments: the host-local that ran is not ours"
ok "the host-local that ran is ours (.attachments directory)"
ip3=$(ctr_ip web3)
expect_eq "web4 has the static --ip" "$(ctr_ip web4)" "$static_ip"
expect_eq "web4 has the static --mac-address" "$(ctr_mac web4)" "$static_mac"
serves web3 "$port3"
serves web4 "$port4"
markers=$(iptables-save -t filter 2>/dev/null | grep '^-A CNI-FW-ATTACHMENTS ' | grep -c -F -e "${cids[2]}" -e "${cids[3]}" || true)
expect_eq "our firewall plugin marked web3's and web4's addresses in CNI-FW-ATTACHMENTS" "$markers" 2

apt-get install -y -qq --no-install-recommends -o APT::Sandbox::User=root "$CNI_GO_DEB" >>"$log" 2>&1 ||
    fail "apt-get install $CNI_GO_DEB failed (see the log)"
ok "apt-get install $(basename "$CNI_GO_DEB") over $our_pkg"
expect_installed "$go_pkg" "$our_pkg"
expect_eq "/usr/lib/cni holds Go's plugins again" "$(suite)" go
serves web3 "$port3" " after the switch back"
serves web4 "$port4" " after the switch back"
# Go's DEL does not know the markers: our package's postrm deleted them
# when apt removed it.
left=$({ iptables-save -t filter; ip6tables-save -t filter; } 2>/dev/null | grep -c -e '^:CNI-FW-ATTACHMENTS ' -e '^-A CNI-FW-ATTACHMENTS ' || true)
expect_eq "our package's postrm removed the CNI-FW-ATTACHMENTS chains and markers" "$left" 0

pm rm -f -t 0 web3 web4 >/dev/null
ok "podman rm -f web3 and web4 through Go's plugins"
gone web3 "${cids[2]}" "$ip3" "$port3"
gone web4 "${cids[3]}" "$static_ip" "$port4"
expect_eq "no veth on $br" "$(veths_on_bridge)" 0

# --- nothing of the run is left ----------------------------------------------

pm network rm "$net" >/dev/null
ok "podman network rm $net"
[ ! -e "$conflist" ] || fail "$net's conflist is still there"
snapshot "$tmp/after"
if ip link show "$br" >/dev/null 2>&1; then fail "bridge $br is still there"; fi
left=$(comm -13 "$tmp/before.veth" "$tmp/after.veth" | tr '\n' ' ')
[ -z "$left" ] || fail "veths left in the host: $left"
left=$(comm -13 "$tmp/before.netns" "$tmp/after.netns" | tr '\n' ' ')
[ -z "$left" ] || fail "network namespaces left: $left"
ok "no bridge, veth or container network namespace left"
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
left=$(nft list ruleset 2>/dev/null | grep -F -f "$tmp/patterns" || true)
[ -z "$left" ] || fail "nftables rules of this run are left:"$'\n'"$left"
ok "no iptables, ip6tables or nftables rule or per-container chain of this run left"
left=$(find "/var/lib/cni/networks/$net" -type f ! -name lock ! -name 'last_reserved_ip.*' \
    ! -path '*/.attachments/.synced' ! -path '*/.attachments/.last-*' \
    ! -path '*/.attachments/.spare/*' 2>/dev/null || true)
[ -z "$left" ] || fail "host-local reservations left: $left"
left=$(find /var/lib/cni/results -type f 2>/dev/null || true)
[ -z "$left" ] || fail "cached results left: $left"
ok "no host-local reservation or cached result left"
