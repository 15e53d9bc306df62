#!/usr/bin/env bash
# The whole test suite: lint, unit tests, and the privileged integration
# tests that exec the release binaries in scratch network namespaces.
# Installs the system packages the tests need when they are missing. As
# root it sets CNI_TESTS_REQUIRE_PRIV=1: a test that cannot run here (no
# privilege, a tool or Debian's Go plugins missing) then fails with the
# reason instead of skipping (pkg/src/skip.rs), so a green run has run
# every test.
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "warning: not root and no sudo: cannot run: $*" >&2; return 1; fi
}

missing=()
for tool in ip tc bridge; do command -v $tool >/dev/null || missing+=(iproute2); done
for tool in iptables ip6tables iptables-restore ip6tables-restore iptables-save; do
    command -v $tool >/dev/null || missing+=(iptables)
done
command -v nft >/dev/null || missing+=(nftables)
command -v jq >/dev/null || missing+=(jq)
# The DHCP server test/tests/dhcp.rs runs the dhcp plugin against.
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v sysctl >/dev/null || missing+=(procps)
for tool in unshare nsenter setsid; do command -v $tool >/dev/null || missing+=(util-linux); done
[ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
# The CRI client of the containerd end-to-end test (test/src/bin/cri.rs,
# feature "cri") is generated from the CRI proto when it builds.
command -v protoc >/dev/null || missing+=(protobuf-compiler)
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
        echo "warning: could not install ${missing[*]}; tests needing them will fail (as root) or say they are skipped" >&2
fi
# Traffic between containers on one bridge passes iptables only with
# br_netfilter, which firewall.rs needs for its same-bridge check. Loading
# it changes how the machine's own bridges forward: that is left to you.
if [ ! -e /proc/sys/net/bridge ]; then
    echo "warning: br_netfilter is not loaded (modprobe br_netfilter): firewall.rs's same-bridge check cannot run" >&2
fi

# A machine without Rust gets it from rustup (scripts/ensure-rust.sh).
. scripts/ensure-rust.sh
ensure_rust

# The plugins are shipped linked against musl when its Rust target is
# there (build_linux.sh): test that build, not only the glibc fallback.
musl="$(uname -m)-unknown-linux-musl"
if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
    echo "installing the Rust target $musl"
    rustup target add "$musl" >/dev/null ||
        echo "warning: could not add $musl; the plugins will be linked against glibc" >&2
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p integration --features cri --bin cri --locked -- -D warnings

# The runtime side (libcni, cnitool) and pkg without features build
# without the kernel side of pkg: no netlink, rtnetlink, futures or sha2 in
# libcni's graph (cnitool uses sha2 itself, for container IDs).
echo "== lean builds"
cargo check --locked -q -p pkg --no-default-features
cargo check --locked -q -p libcni
cargo check --locked -q -p cnitool
lean_tree() { # <package> <crates it must not depend on, as a regex>
    local tree found
    tree=$(cargo tree --locked -q -p "$1" -e normal --prefix none)
    found=$(grep -E "^($2) " <<<"$tree" | sort -u || true)
    if [ -n "$found" ]; then
        echo "$1 depends on the kernel side of pkg:" >&2
        echo "$found" >&2
        exit 1
    fi
}
netlink_crates='netlink-packet-route|netlink-packet-core|netlink-sys|netlink-proto|rtnetlink|futures(-[a-z]+)?'
lean_tree libcni "$netlink_crates|sha2"
lean_tree cnitool "$netlink_crates"

echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked >/dev/null
cargo test --locked -p pkg --features testkit --doc

echo "== build plugins into bin/, and the multi-call install into bin-multicall/"
./build_linux.sh >/dev/null
# The multi-call packaging (build_linux.sh --multicall): one binary reached
# through a link per plugin. tests/multicall.rs checks it in both passes.
BIN_DIR="$(pwd)/bin-multicall" ./build_linux.sh --multicall >/dev/null
export CNI_MULTICALL_DIR="$(pwd)/bin-multicall"

echo "== tests"
if [ "$(id -u)" -eq 0 ]; then
    export CNI_TESTS_REQUIRE_PRIV=1
else
    echo "note: not root: the privileged integration tests will report themselves as skipped" >&2
fi
# Tests of kernel features this kernel may lack (require_kernel!) skip here
# and run in the VM stage below, on a kernel that has them all; CNI_VM=0
# leaves the VM out, and then they must pass here.
if [ "${CNI_VM:-1}" != 0 ]; then
    export CNI_TESTS_IN_VM=dummy,vlan,ipvlan,vrf,bridge-vlan,pci-nic
    for file in $(grep -l 'require_kernel!' test/tests/*.rs); do
        name=$(basename "$file" .rs)
        if ! grep -Eq "^$name( |$)" test/vm/tests.list; then
            echo "$file uses require_kernel! but test/vm/tests.list does not run it in the VM" >&2
            exit 1
        fi
    done
fi
CNI_BIN_DIR="$(pwd)/bin" cargo test --workspace --locked -- "$@"

# The plugin suites again, on the multi-call install.
echo "== the plugin suites on bin-multicall/"
CNI_BIN_DIR="$(pwd)/bin-multicall" cargo test --locked -p integration \
    --test multicall --test conformance_all --test conformance --test loopback --test bridge --test ptp \
    --test macvlan --test host_local --test static_ipam --test portmap --test firewall \
    --test tuning --test bandwidth --test tap --test sbr --test host_device -- "$@"

# The tests of test/vm/tests.list in a VM booting Debian bookworm's kernel
# (6.1), whose kernel-gated tests skipped above (Documentation/test-vm.md).
echo "== VM (Debian 6.1 kernel)"
if [ "${CNI_VM:-1}" = 0 ]; then
    echo "skipped: CNI_VM=0"
else
    test/vm/run.sh
fi

# The plugin template: a new plugin made from plugins/sample as its README
# says builds, passes its tests and runs in a chain through cnitool.
echo "== plugin template (test/template/check.sh)"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
else
    test/template/check.sh bin
fi

# Podman on our plugins, in a scratch network namespace that plays the
# host (see Documentation/e2e-podman.md).
echo "== podman end to end"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
elif [ "${PODMAN_E2E:-1}" = 0 ]; then
    echo "skipped: PODMAN_E2E=0"
else
    test/e2e/podman.sh
fi

# Release artifacts: the tarball, built twice (here, and from a copy of
# the tree with an empty target directory: a full build, 4.5 to 8 minutes
# on 2 cores; RELEASE_CHECK=0 builds it once), and the Debian package
# (Documentation/install.md).
echo "== release tarball and Debian package"
release_out=$(mktemp -d /tmp/cni-release.XXXXXX)
if [ "${RELEASE_CHECK:-1}" = 0 ]; then
    scripts/release-tarball.sh "$release_out"
else
    scripts/release-tarball.sh --check "$release_out"
fi
deb=$(scripts/build-deb.sh "$release_out")
echo "$deb"

# A live podman node switched in place from Debian's Go package to ours
# and back, on copy-on-write views of /usr, /etc and /var
# (Documentation/install.md).
echo "== switch in place (test/e2e/switch.sh)"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
elif [ "${SWITCH_E2E:-1}" = 0 ]; then
    echo "skipped: SWITCH_E2E=0"
else
    CNI_DEB=$deb test/e2e/switch.sh
fi
rm -rf "$release_out"

# containerd's CRI plugin runs pods on our plugins, driven by our CRI
# client, in a scratch network namespace that plays the node (see
# Documentation/e2e-containerd.md).
echo "== containerd end to end"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
elif [ "${CONTAINERD_E2E:-1}" = 0 ]; then
    echo "skipped: CONTAINERD_E2E=0"
else
    test/e2e/containerd.sh
fi

# scripts/docker-run.sh against a real Docker engine, in a scratch network
# namespace that plays the host (see Documentation/e2e-docker.md).
echo "== docker end to end"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
elif [ "${DOCKER_E2E:-1}" = 0 ]; then
    echo "skipped: DOCKER_E2E=0"
else
    test/e2e/docker.sh
fi

# The benchmark must run end to end; its figures are not checked (see
# Documentation/performance.md).
echo "== benchmark smoke run (cni-bench --quick)"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
elif [ ! -x /usr/lib/cni/bridge ]; then
    echo "skipped: no reference plugins in /usr/lib/cni"
    if [ -n "${CNI_TESTS_REQUIRE_PRIV:-}" ]; then
        echo "CNI_TESTS_REQUIRE_PRIV is set: the benchmark must run" >&2
        exit 1
    fi
else
    ./bench/run.sh --quick --ours bin >/dev/null
fi

# Fuzzing: every target for a bounded time (FUZZ_SECONDS, 0 to skip). New
# inputs go to a scratch directory; the checked-in corpus is only read.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    echo "== fuzz (${FUZZ_SECONDS}s per target)"
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    scratch=$(mktemp -d)
    for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^cni-fuzz$'); do
        mkdir -p "$scratch/$target"
        # cargo-fuzz needs unstable compiler flags; the stable toolchain
        # allows them with RUSTC_BOOTSTRAP.
        if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
            -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=1 >"$scratch/$target.log" 2>&1); then
            tail -n 60 "$scratch/$target.log"
            echo "fuzz target $target failed (input saved under fuzz/artifacts/$target)" >&2
            exit 1
        fi
        echo "$target: $(grep -E '^stat::number_of_executed_units' "$scratch/$target.log" | awk '{print $2}') inputs, no failure"
    done
    rm -rf "$scratch"
fi

echo "== leftovers"
left=$(ip netns list 2>/dev/null | grep -E '^cnit-' || true)
if [ -n "$left" ]; then
    echo "test network namespaces were left behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "no test namespace left"
