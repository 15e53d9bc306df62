#!/usr/bin/env bash
# Run integration test binaries in a VM that boots a Debian kernel
# (bookworm's cloud kernel by default) under qemu, for the kernel features
# the machine's own kernel may lack. See Documentation/test-vm.md.
#
#   test/vm/run.sh [OPTIONS] [TEST[:FILTER] ...]
#
# TEST is a file of test/tests without .rs (bridge, vlan), FILTER a
# libtest filter; a quoted "TEST[:FILTER] ARG..." adds libtest arguments
# ("bridge --skip interop"). Without TEST, the lines of test/vm/tests.list.
#
#   --repo DIR       the checkout to build and test (default: this one)
#   --list FILE      the tests to run when none is named
#   --timeout SECS   kill the VM after this long (default 900)
#   --shell          a shell on the VM's console after the tests
#
# Environment: CNI_VM_KERNEL (a Debian kernel package, default
# linux-image-cloud-amd64, resolved to the package it depends on),
# CNI_VM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/cni-plugins-rs/vm),
# CNI_VM_MEMORY (MB, default 1024), CNI_VM_THREADS (libtest threads in the
# VM, default 4), CNI_VM_TIMEOUT (as --timeout).
#
# It needs no root itself: it installs missing packages with apt-get (as
# root or through sudo), builds the plugins (./build_linux.sh) and the test
# binaries for musl, assembles the initramfs and boots it. The VM's one
# network device is a virtio-net NIC (MAC 0e:c0:ff:ee:00:01) on a qemu hub
# with nothing else on it: no traffic leaves the VM. Exit status: 0 when
# every test binary ran and passed.
set -euo pipefail
# One compound command, read whole before it runs: other checkouts run this
# file from here, and an edit during their run must not change it.
{
began=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
list=""
timeout=${CNI_VM_TIMEOUT:-900}
shell=0
tests=()
usage() { sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --repo) repo=$(cd "${2:?--repo needs a directory}" && pwd) && shift ;;
    --list) list=${2:?--list needs a file} && shift ;;
    --timeout) timeout=${2:?--timeout needs seconds} && shift ;;
    --shell) shell=1 ;;
    -h | --help) usage && exit 0 ;;
    -*) echo "unknown option $1" >&2 && usage >&2 && exit 2 ;;
    *) tests+=("$1") ;;
    esac
    shift
done
cache=${CNI_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cni-plugins-rs/vm}
memory=${CNI_VM_MEMORY:-1024}
threads=${CNI_VM_THREADS:-4}
musl=x86_64-unknown-linux-musl

say() { echo "vm: $*" >&2; }
die() { echo "vm: $*" >&2 && exit 1; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "vm: not root and no sudo: cannot run: $*" >&2 && return 1; fi
}

# The plan: one line per test binary, "<name> [libtest arguments]".
plan=()
if [ ${#tests[@]} -eq 0 ]; then
    if [ -z "$list" ]; then
        list=$here/tests.list
        [ -f "$repo/test/vm/tests.list" ] && list=$repo/test/vm/tests.list
    fi
    while read -r line; do
        line=${line%%#*}
        [ -n "${line// /}" ] && tests+=("$line")
    done <"$list"
fi
for entry in "${tests[@]}"; do
    read -r first rest <<<"$entry"
    name=${first%%:*}
    filter=""
    [ "$name" != "$first" ] && filter=${first#*:}
    [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "not a test binary name: $name"
    plan+=("$name${filter:+ $filter}${rest:+ $rest}")
done
[ ${#plan[@]} -gt 0 ] || die "no test to run"

# Packages: the VM's tools come from the machine, which is Debian.
declare -A want=()
[ "$(uname -m)" = x86_64 ] || die "only x86_64 machines are supported"
command -v dpkg-deb >/dev/null || die "needs a Debian machine (dpkg-deb, apt-get)"
tool_path() { # the installed path of a program, also outside PATH
    local dir
    for dir in /usr/sbin /usr/bin /sbin /bin; do
        [ -x "$dir/$1" ] && readlink -f "$dir/$1" && return 0
    done
    return 1
}
for pair in qemu-system-x86_64:qemu-system-x86 cpio:cpio jq:jq ip:iproute2 bridge:iproute2 tc:iproute2 \
    nft:nftables xtables-nft-multi:iptables unshare:util-linux nsenter:util-linux setsid:util-linux flock:util-linux \
    dash:dash xz:xz-utils zstd:zstd; do
    tool_path "${pair%%:*}" >/dev/null || want[${pair#*:}]=1
done
busybox=$(tool_path busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then want[busybox-static]=1; fi
[ -x /usr/lib/cni/bridge ] || want[containernetworking-plugins]=1
if [ ${#want[@]} -gt 0 ]; then
    say "installing: ${!want[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${!want[@]}" >/dev/null
    busybox=$(tool_path busybox)
fi
if ! rustup target list --installed 2>/dev/null | grep -qx $musl; then
    say "installing the Rust target $musl"
    rustup target add $musl >/dev/null
fi
mkdir -p "$cache"

# The kernel: a Debian package, downloaded once and unpacked in the cache.
kernel_pkg=${CNI_VM_KERNEL:-linux-image-cloud-amd64}
candidate() { apt-cache show --no-all-versions "$1" 2>/dev/null | awk -v f="$2" '$1 == f ":" {print $2; exit}'; }
if [ -z "$(candidate "$kernel_pkg" Version)" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
fi
dep=$(candidate "$kernel_pkg" Depends)
[[ "$dep" == linux-image-* ]] && kernel_pkg=${dep%,}
version=$(candidate "$kernel_pkg" Version)
if [ -n "$version" ]; then
    kernel=$cache/kernels/${kernel_pkg}_${version//:/%3a}
elif kernel=$(ls -d "$cache/kernels/${kernel_pkg}"_* 2>/dev/null | sort -V | tail -n 1) && [ -n "$kernel" ]; then
    say "apt knows no $kernel_pkg: using the one in the cache, $(basename "$kernel")"
else
    die "no Debian package $kernel_pkg (CNI_VM_KERNEL): apt-get update, or name another"
fi
if [ ! -f "$kernel/vmlinuz" ]; then
    say "downloading $kernel_pkg $version"
    tmp=$(mktemp -d "$cache/.kernel.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    sandbox=()
    [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$tmp" && apt-get download -q "${sandbox[@]}" "$kernel_pkg=$version" >/dev/null)
    dpkg-deb -x "$tmp"/*.deb "$tmp/root"
    mkdir -p "$tmp/kernel"
    mv "$tmp"/root/boot/vmlinuz-* "$tmp/kernel/vmlinuz"
    modules_dir=$tmp/root/lib/modules
    [ -d "$modules_dir" ] || modules_dir=$tmp/root/usr/lib/modules
    mv "$modules_dir" "$tmp/kernel/modules"
    mkdir -p "$cache/kernels"
    rm -rf "$kernel" && mv "$tmp/kernel" "$kernel"
    rm -rf "$tmp" && trap - EXIT
fi
kver=$(ls "$kernel/modules")

# The base image: everything but the plugins, the tests and /init; built
# again only when the kernel, a tool or this script changes.
module_dirs=(net/netfilter net/ipv4/netfilter net/ipv6/netfilter net/bridge net/sched net/8021q net/802 net/llc
    drivers/net/ipvlan)
module_files=(drivers/net/veth drivers/net/dummy drivers/net/vrf drivers/net/macvlan drivers/net/ifb
    drivers/virtio/virtio_pci drivers/net/virtio_net)
# The virtio modules, in the order that brings up the NIC
boot_modules=(veth dummy 8021q bridge br_netfilter ipvlan vrf macvlan ifb
    virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net)
host_tools=(ip bridge tc nft xtables-nft-multi jq unshare nsenter setsid flock dash)
iptables_links=(iptables ip6tables iptables-save ip6tables-save iptables-restore ip6tables-restore
    iptables-nft ip6tables-nft iptables-nft-save ip6tables-nft-save iptables-nft-restore ip6tables-nft-restore)
xtables=/usr/lib/x86_64-linux-gnu/xtables
tool_files=("$busybox")
for t in "${host_tools[@]}"; do tool_files+=("$(tool_path "$t")"); done
base_key=$({
    echo "$kernel"
    sha256sum "$0" | cut -d' ' -f1
    stat -L -c '%n %s %Y' "${tool_files[@]}" /etc/protocols /etc/services "$xtables"/* /usr/lib/cni/* 2>/dev/null
} | sha256sum | cut -c1-16)
base=$cache/base/$base_key.cpio

copy_with_libs() { # <stage> <file>...: each file and the libraries it loads, at their own paths
    local stage=$1 file lib
    shift
    for file in "$@"; do
        install -D -m 0755 "$file" "$stage$file"
        for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*'); do
            [ -e "$stage$lib" ] || install -D -m 0755 "$lib" "$stage$lib"
        done
    done
}

copy_modules() { # <stage>: the modules the tests need and what they depend on
    local stage=$1 src=$kernel/modules/$kver dst=$1/lib/modules/$kver
    local -A index=() done_=()
    local path name queue=() dep
    while read -r path; do
        name=$(basename "$path")
        name=${name%%.ko*}
        index[${name//-/_}]=$path
    done < <(cd "$src" && find kernel -name '*.ko*')
    for path in "${module_dirs[@]}"; do
        while read -r name; do queue+=("$(basename "${name%%.ko*}")"); done < <(find "$src/kernel/$path" -name '*.ko*')
    done
    for path in "${module_files[@]}"; do queue+=("$(basename "$path")"); done
    while [ ${#queue[@]} -gt 0 ]; do
        name=${queue[0]//-/_}
        queue=("${queue[@]:1}")
        [ -n "${done_[$name]:-}" ] && continue
        done_[$name]=1
        path=${index[$name]:-}
        [ -n "$path" ] || die "module $name is not in $kver"
        mkdir -p "$(dirname "$dst/$path")"
        case "$path" in
        *.ko) cp "$src/$path" "$dst/$path" ;;
        *.ko.xz) xz -dc "$src/$path" >"$dst/${path%.xz}" ;;
        *.ko.zst) zstd -qdc "$src/$path" >"$dst/${path%.zst}" ;;
        *) die "unknown module format: $path" ;;
        esac
        for dep in $(tr '\0' '\n' <"$dst/${path%.ko*}.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
            queue+=("$dep")
        done
    done
    cp "$src"/modules.builtin* "$src/modules.order" "$dst/" 2>/dev/null || true
    "$busybox" depmod -b "$stage" "$kver"
}

build_base() {
    local stage=$1 applet t
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,root,etc,var/lib,cni}
    ln -s ../run "$stage/var/run"
    install -m 0755 "$busybox" "$stage/bin/busybox"
    copy_with_libs "$stage" "${tool_files[@]:1}"
    # /init and the tests find them at Debian's usual paths whatever the
    # machine's /usr merge made of them.
    for t in "${host_tools[@]}"; do
        [ -e "$stage/usr/sbin/$t" ] || ln -s "$(tool_path "$t")" "$stage/usr/sbin/$t"
    done
    for t in "${iptables_links[@]}"; do ln -sf xtables-nft-multi "$stage/usr/sbin/$t"; done
    copy_with_libs "$stage" "$xtables"/*.so
    # busybox for the rest, but the Debian tools keep their names and
    # /bin/sh is dash: busybox's shell would run its own applets (ip, tc)
    # instead of the Debian tools the tests expect.
    for applet in $("$busybox" --list); do
        case "$applet" in sh | busybox) continue ;; esac
        [ -e "$stage/usr/sbin/$applet" ] || [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
    done
    ln -s /usr/bin/dash "$stage/bin/sh"
    # The kernel's module requests, one at a time: busybox's modprobe
    # takes a module still initialising for a loaded one, and the request
    # that raced it then fails ("Specified qdisc kind is unknown").
    printf '#!/bin/sh\nexec /usr/sbin/flock /run/modprobe.lock /bin/busybox modprobe "$@"\n' >"$stage/sbin/modprobe"
    chmod 0755 "$stage/sbin/modprobe"
    cp /etc/protocols /etc/services "$stage/etc/"
    printf 'protocols: files\nservices: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
    printf 'root:x:0:\n' >"$stage/etc/group"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
    [ -d /etc/iproute2 ] && cp -r /etc/iproute2 "$stage/etc/"
    [ -d /usr/share/iproute2 ] && mkdir -p "$stage/usr/share" && cp -r /usr/share/iproute2 "$stage/usr/share/"
    # Debian's Go plugins, for the tests that compare against them.
    if [ -d /usr/lib/cni ]; then mkdir -p "$stage/usr/lib/cni" && cp /usr/lib/cni/* "$stage/usr/lib/cni/"; fi
    copy_modules "$stage"
}

to_cpio() { # <dir> <file>: an uncompressed newc archive, owned by root
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
}

if [ ! -f "$base" ]; then
    say "building the base image for $kver"
    mkdir -p "$cache/base"
    tmp=$(mktemp -d "$cache/base/.stage.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    build_base "$tmp/root"
    to_cpio "$tmp/root" "$tmp/base.cpio"
    mv "$tmp/base.cpio" "$base"
    rm -rf "$tmp" && trap - EXIT
    find "$cache/base" -name '*.cpio' -mtime +7 -delete
fi
touch "$base"

# The checkout's plugins and test binaries, both static (musl).
names=()
for line in "${plan[@]}"; do names+=("${line%% *}"); done
mapfile -t unique < <(printf '%s\n' "${names[@]}" | sort -u)
say "building the plugins and the test binaries (${unique[*]}) in $repo"
(cd "$repo" && BIN_DIR="$repo/bin" ./build_linux.sh >/dev/null)
test_args=()
for name in "${unique[@]}"; do test_args+=(--test "$name"); done
# Test binaries without debug info: a smaller image, and the panic
# messages still name file and line.
executables=$(cd "$repo" && cargo test --no-run --locked -q --target $musl -p integration "${test_args[@]}" \
    --config 'profile.vm.inherits="dev"' --config 'profile.vm.debug=false' \
    --config 'profile.vm.strip="debuginfo"' --config 'profile.vm.incremental=false' --profile vm \
    --message-format=json-render-diagnostics |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null and .target.kind == ["test"])
        | "\(.target.name) \(.executable)"')

# This run's directory: the payload archive, the initramfs, the console log.
run_dir=$cache/runs/$(basename "$repo")-$(echo "$repo" | sha256sum | cut -c1-8)
mkdir -p "$run_dir"
exec 9>"$run_dir/lock"
flock -n 9 || die "another run on $repo is under way ($run_dir/lock)"
rm -rf "$run_dir/payload"
payload=$run_dir/payload
mkdir -p "$payload/cni/bin" "$payload/cni/tests"
install -m 0755 "$here/init" "$payload/init"
printf '%s\n' "${plan[@]}" >"$payload/cni/plan"
printf '%s\n' "${boot_modules[@]}" >"$payload/cni/modules.boot"
for f in "$repo"/bin/*; do install -m 0755 "$f" "$payload/cni/bin/"; done
while read -r name path; do
    install -m 0755 "$path" "$payload/cni/tests/$name"
done <<<"$executables"
for name in "${unique[@]}"; do
    [ -x "$payload/cni/tests/$name" ] || die "cargo built no test binary $name"
done
to_cpio "$payload" "$run_dir/payload.cpio"
# The kernel unpacks concatenated archives one after the other.
cat "$base" "$run_dir/payload.cpio" >"$run_dir/initramfs.cpio"

log=$run_dir/console.log
append="console=ttyS0 quiet panic=-1 cni.threads=$threads ${CNI_VM_APPEND:-}"
# The NIC host-device's PCI tests move (pkg::testkit::TEST_NIC_MAC): on
# hub 0, which has no other port, so nothing it sends goes anywhere.
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m "$memory" -nographic -no-reboot -nic none
    -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,mac=0e:c0:ff:ee:00:01
    -kernel "$kernel/vmlinuz" -initrd "$run_dir/initramfs.cpio")
say "booting $kver: ${#plan[@]} test binaries; console log: $log"
start=$(date +%s)
if [ "$shell" = 1 ]; then
    "${qemu[@]}" -append "$append cni.shell=1" | tee "$log"
    exit 0
fi
set +e
timeout -k 10 "$timeout" "${qemu[@]}" -append "$append" </dev/null |
    sed -u 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tee "$log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

# The summary, from the lines /init printed.
failed=0
echo
echo "== VM summary: $kver, ${elapsed}s in the VM, $(($(date +%s) - began))s in all"
# /init runs the plan in order: the i-th result line is the i-th entry's.
mapfile -t results < <(grep -a '^cni-vm: result ' "$log" || true)
for i in "${!plan[@]}"; do
    line=${plan[$i]}
    result=${results[$i]:-}
    if [[ "$result" != "cni-vm: result ${line%% *} "* ]]; then
        printf '%-16s %s\n' "${line%% *}" "no result"
        failed=1
        continue
    fi
    # "status=0 passed=3 failed=0 ignored=1 seconds=12" ("-" counts when
    # the binary printed no libtest summary)
    declare -A field=()
    for pair in ${result#cni-vm: result * }; do field[${pair%%=*}]=${pair#*=}; done
    verdict=ok
    if [ "${field[status]}" != 0 ] || [ "${field[passed]}" = - ]; then verdict=FAILED && failed=1; fi
    if [ "${field[passed]}" = - ]; then
        counts="exit status ${field[status]}, no libtest summary, ${field[seconds]}s"
    else
        counts="${field[passed]} passed, ${field[failed]} failed, ${field[ignored]} ignored, ${field[seconds]}s"
    fi
    args=${line#"${line%% *}"}
    printf '%-16s %-7s %s%s\n' "${line%% *}" "$verdict" "$counts" "${args:+ (${args# })}"
done
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "the VM hung: killed after ${timeout}s (console log: $log)"
    exit 1
fi
if ! grep -aq "^cni-vm: done ${#plan[@]}$" "$log"; then
    echo "the VM stopped before the end of its plan (qemu exit status $status; console log: $log)"
    exit 1
fi
[ "$failed" = 0 ] || echo "console log: $log"
exit "$failed"
}
