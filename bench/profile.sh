#!/usr/bin/env bash
# Profile one bridge+host-local ADD and one DEL of each implementation, in
# scratch network namespaces (removed afterwards), after an untimed warm-up
# ADD+DEL. Writes, per implementation and operation, into the output dir:
#   <impl>-<op>.strace-c     strace -c -f: syscall counts and time, whole tree
#   <impl>-<op>.strace       strace -f -tt -T: every syscall, for reading
#   <impl>-<op>.callgrind.*  callgrind, one file per process (ours only by
#                            default: Go's runtime under valgrind is slow and
#                            noisy; --callgrind-theirs to include it)
# and prints a summary: processes exec'd, syscalls, netlink sends, sleeps.
#
# --attached N first attaches N containers with the same implementation
# (untimed), to see what grows with the number of attachments.
#
# usage: sudo bench/profile.sh [--ours DIR] [--theirs DIR]
#          [--masq off|iptables|nftables] [--attached N] [--no-callgrind]
#          [--callgrind-theirs] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

ours=bin
theirs=/usr/lib/cni
masq=off
callgrind=ours
attached=0
out=
while [ $# -gt 0 ]; do
    case "$1" in
    --ours) ours=$2; shift 2 ;;
    --theirs) theirs=$2; shift 2 ;;
    --masq) masq=$2; shift 2 ;;
    --attached) attached=$2; shift 2 ;;
    --no-callgrind) callgrind=none; shift ;;
    --callgrind-theirs) callgrind=both; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
command -v strace >/dev/null || { echo "needs strace (apt-get install strace)" >&2; exit 1; }
if [ "$callgrind" != none ] && ! command -v valgrind >/dev/null; then
    echo "no valgrind: skipping callgrind (apt-get install valgrind)" >&2
    callgrind=none
fi
ours=$(realpath "$ours")
theirs=$(realpath "$theirs")
out=${out:-$(mktemp -d /tmp/cni-profile.XXXXXX)}
mkdir -p "$out"

case "$masq" in
off) masqkeys='"ipMasq": false' ;;
iptables | nftables) masqkeys="\"ipMasq\": true, \"ipMasqBackend\": \"$masq\"" ;;
*) echo "--masq must be off, iptables or nftables" >&2; exit 2 ;;
esac

tag="cnit-prof-$$"
made=()
cleanup() {
    for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "/tmp/$tag-data-"*
}
trap cleanup EXIT

newns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    made+=("$1")
}

# run <impl> <dir> <command> <cid> <ctrns> [wrapper...]
run() {
    local impl=$1 dir=$2 cmd=$3 cid=$4 ctr=$5
    shift 5
    ip netns exec "$tag-host-$impl" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="/run/netns/$ctr" \
        CNI_IFNAME=eth0 CNI_PATH="$dir" \
        "$@" "$dir/bridge" <"/tmp/$tag-data-$impl.json" >/dev/null
}

summary() {
    local f=$1 c=${1%.strace}.strace-c
    local execs tasks calls nl sleeps
    execs=$(grep -c 'execve(' "$f" || true)
    tasks=$(grep -oE '^[0-9]+' "$f" | sort -u | wc -l)
    calls=$(awk '$NF == "total" {print $(NF-2)}' "$c" 2>/dev/null)
    nl=$(grep -cE 'sendmsg\(|sendto\(' "$f" || true)
    sleeps=$(grep -cE 'nanosleep\(' "$f" || true)
    printf '%-12s execve %3s  tasks %3s  syscalls %5s  sendmsg/sendto %4s  sleeps %3s\n' \
        "$(basename "$f" .strace)" "$execs" "$tasks" "${calls:-?}" "$nl" "$sleeps"
}

for impl in ours theirs; do
    dir=$ours
    [ "$impl" = theirs ] && dir=$theirs
    newns "$tag-host-$impl"
    cat >"/tmp/$tag-data-$impl.json" <<EOF
{"cniVersion": "1.0.0", "name": "profnet", "type": "bridge", "bridge": "cniprof0",
 "isGateway": true, $masqkeys,
 "ipam": {"type": "host-local", "dataDir": "/tmp/$tag-data-$impl",
          "ranges": [[{"subnet": "10.201.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
EOF
    newns "$tag-warm-$impl"
    run "$impl" "$dir" ADD warm "$tag-warm-$impl"
    run "$impl" "$dir" DEL warm "$tag-warm-$impl"
    for i in $(seq 1 "$attached"); do
        newns "$tag-pre$i-$impl"
        run "$impl" "$dir" ADD "pre$i" "$tag-pre$i-$impl"
    done
    for op in ADD DEL; do
        # Each kind of profile gets its own container (ADD, then DEL of the
        # same one) so that the runs do not perturb each other.
        for kind in c full cg; do
            if [ "$kind" = cg ] && [ "$callgrind" != both ] &&
                { [ "$callgrind" = none ] || [ "$impl" = theirs ]; }; then
                continue
            fi
            ctr="$tag-$kind-$impl"
            [ "$op" = ADD ] && newns "$ctr"
            base="$out/$impl-$op"
            case "$kind" in
            c) run "$impl" "$dir" "$op" "p-$kind" "$ctr" strace -f -c -o "$base.strace-c" ;;
            full) run "$impl" "$dir" "$op" "p-$kind" "$ctr" strace -f -tt -T -s 200 -o "$base.strace" ;;
            cg) run "$impl" "$dir" "$op" "p-$kind" "$ctr" valgrind -q --tool=callgrind \
                --trace-children=yes --callgrind-out-file="$base.callgrind.%p" ;;
            esac
        done
    done
done

echo "profiles in $out (masq: $masq, $attached attached before)"
for f in "$out"/*.strace; do summary "$f"; done
echo
echo "exec'd processes, execve to exit (times are inflated by strace):"
for f in "$out"/*.strace; do
    echo "  $(basename "$f" .strace):"
    awk '
        function secs(t,  a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
        / execve\(/ && !($1 in start) {
            start[$1] = secs($2)
            # the program, then its arguments when strace printed them whole
            match($0, /execve\("[^"]*"/)
            argv[$1] = substr($0, RSTART + 8, RLENGTH - 9)
            if (match($0, /\[("[^"]*"(, )?)+\]/)) {
                args = substr($0, RSTART + 1, RLENGTH - 2)
                gsub(/"/, "", args); gsub(/, /, " ", args)
                sub(/^[^ ]*/, "", args)
                argv[$1] = argv[$1] args
            }
            order[++n] = $1
        }
        /\+\+\+ exited/ { end[$1] = secs($2) }
        END {
            for (i = 1; i <= n; i++) {
                p = order[i]
                printf "    %7.1f ms  %s\n", (end[p] - start[p]) * 1000, substr(argv[p], 1, 90)
            }
        }' "$f"
done
if ls "$out"/*.callgrind.* >/dev/null 2>&1; then
    echo
    echo "callgrind instructions (Ir) per process:"
    for f in "$out"/*.callgrind.*; do
        printf '  %-34s %s\n' "$(basename "$f")" \
            "$(callgrind_annotate "$f" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{print $1}')  $(grep -m1 '^cmd:' "$f" | cut -c6- | cut -c1-60)"
    done
fi
