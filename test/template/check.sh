#!/usr/bin/env bash
# Proves that plugins/sample works as a template: follows the steps of
# plugins/sample/README.md in a scratch copy of this repository to make a new
# plugin "myplugin", builds it, runs its unit tests and its copy of the
# template's integration test, then runs it in a conflist chain
# (bridge + host-local -> myplugin) through cnitool: ADD, CHECK, DEL.
#
# Usage: test/template/check.sh [bin-dir]   (default: ./bin from build_linux.sh)
# Needs root for the namespace part; builds offline with the crates already
# fetched for the workspace. Everything it makes (the copy, the namespaces,
# the result cache) is removed on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:-$repo/bin}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "template check: needs root" >&2; exit 1; }
for p in bridge host-local cnitool; do
    [ -x "$bin/$p" ] || { echo "template check: $bin/$p missing: run ./build_linux.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/cni-template.XXXXXX)
suffix=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
host=cnit-tmpl-host-$suffix
ctr=cnit-tmpl-ctr-$suffix
cleanup() {
    ip netns delete "$ctr" 2>/dev/null || true
    ip netns delete "$host" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The copy: the sources only, as a user's checkout would be.
copy=$work/repo
mkdir -p "$copy"
tar -C "$repo" --exclude=./target --exclude=./bin --exclude=./bin-multicall --exclude=./fuzz --exclude=./.git -cf - . | tar -C "$copy" -xf -

echo "== README steps 1-4: plugins/sample -> plugins/meta/myplugin"
cp -r "$copy/plugins/sample" "$copy/plugins/meta/myplugin"
rm -f "$copy/plugins/meta/myplugin/README.md"
sed -i 's/^name = "sample"/name = "myplugin"/' "$copy/plugins/meta/myplugin/Cargo.toml"
sed -i 's|^members = \[|members = [\n    "plugins/meta/myplugin",|' "$copy/Cargo.toml"
sed -i 's/Plugin::new("sample"/Plugin::new("myplugin"/' "$copy/plugins/meta/myplugin/src/main.rs"
sed 's/"sample"/"myplugin"/g' "$copy/test/tests/sample.rs" >"$copy/test/tests/myplugin.rs"
grep -q '"plugins/meta/myplugin"' "$copy/Cargo.toml"
grep -q 'Plugin::new("myplugin"' "$copy/plugins/meta/myplugin/src/main.rs"

export CARGO_TARGET_DIR=$work/target
echo "== build and unit tests"
(cd "$copy" && cargo build --offline -q -p myplugin)
(cd "$copy" && cargo test --offline -q -p myplugin)
mybin=$work/bin
mkdir -p "$mybin"
cp "$bin"/* "$mybin/"
cp "$CARGO_TARGET_DIR/debug/myplugin" "$mybin/"
# (captured first: grep -q exiting early would fail the pipeline with SIGPIPE;
# stdin from a here-string, as VERSION never reads it: echo into a pipe
# would die of SIGPIPE whenever the plugin has already exited)
version=$(CNI_COMMAND=VERSION "$mybin/myplugin" <<<'{}')
grep -q supportedVersions <<<"$version"

echo "== its integration test (copied from test/tests/sample.rs)"
(cd "$copy" && CNI_BIN_DIR=$mybin cargo test --offline -q -p integration --test myplugin)

echo "== in a chain through cnitool"
conf=$work/net.d
mkdir -p "$conf"
cat >"$conf/10-tmpl.conflist" <<EOF
{
  "cniVersion": "1.1.0",
  "name": "tmplnet",
  "plugins": [
    { "type": "bridge", "bridge": "tmpl0", "isGateway": true,
      "ipam": { "type": "host-local", "dataDir": "$work/ipam",
                "ranges": [[{ "subnet": "10.123.0.0/24" }]] } },
    { "type": "myplugin", "aliasPrefix": "pod", "searchDomain": "svc.example" }
  ]
}
EOF
ip netns add "$host"
ip netns add "$ctr"
run() {
    ip netns exec "$host" env NETCONFPATH="$conf" CNI_PATH="$mybin" \
        "$mybin/cnitool" --cache-dir "$work/cache" "$@" "tmplnet" "/run/netns/$ctr"
}
result=$(run add)
echo "$result" | jq -e '.dns.search == ["svc.example"]' >/dev/null ||
    { echo "template check: result lacks the search domain: $result" >&2; exit 1; }
echo "$result" | jq -e '.ips[0].address | startswith("10.123.0.")' >/dev/null
alias=$(ip netns exec "$ctr" cat /sys/class/net/eth0/ifalias)
[ "$alias" = "pod:tmplnet" ] || { echo "template check: alias is '$alias'" >&2; exit 1; }
run check
ip netns exec "$ctr" ip link set eth0 alias tampered
if run check 2>/dev/null; then
    echo "template check: CHECK passed after the alias was changed" >&2
    exit 1
fi
run del
run del
if ip netns exec "$ctr" ip link show eth0 >/dev/null 2>&1; then
    echo "template check: eth0 still in the container after DEL" >&2
    exit 1
fi
left=$(find "$work/ipam" -type f -name '10.123.*' 2>/dev/null || true)
[ -z "$left" ] || { echo "template check: reservations left: $left" >&2; exit 1; }
echo "template check: myplugin built from plugins/sample, tested, and ran ADD/CHECK/DEL in a chain via cnitool"
