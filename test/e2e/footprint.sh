# shellcheck shell=bash disable=SC2154 # $tmp and patterns come from podman.sh
# Sourced by podman.sh: the run's footprint on the host. Snapshots of the
# firewall, veths and netns files, and the removal of what the run created
# (matched by the fixed strings that `patterns` prints, or by being new
# since the snapshot). Uses $tmp for scratch files.

chains() { # iptables-save output -> "table chain" lines
    awk '/^\*/ {t = substr($1, 2)} /^:CNI-/ {print t, substr($1, 2)}'
}

veths() {
    ip -o link show type veth 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort
}

netns_files() {
    find /run/netns -maxdepth 1 -name 'netns-*' 2>/dev/null | sort || true
}

snapshot() { # $1: file prefix
    iptables-save >"$1.v4" 2>/dev/null || : >"$1.v4"
    ip6tables-save >"$1.v6" 2>/dev/null || : >"$1.v6"
    nft_objects >"$1.nft"
    veths >"$1.veth"
    netns_files >"$1.netns"
}

# Removes this run's iptables state for one family: rules that mention it or
# jump to a CNI chain it created, then those chains. Other rules, chains and
# tables are left as they are (--noflush).
remove_iptables() { # $1: iptables|ip6tables  $2: snapshot before
    local tool=$1 before=$2
    command -v "$tool-save" >/dev/null || return 0
    patterns >"$tmp/patterns"
    "$tool-save" 2>/dev/null | awk -v pats="$tmp/patterns" -v before="$before" '
        BEGIN {
            while ((getline l < pats) > 0) if (l != "") p[++np] = l
            while ((getline l < before) > 0) if (l ~ /^\*/) t = substr(l, 2); else if (l ~ /^:/) { split(l, f, " "); old[t " " substr(f[1], 2)] = 1 }
        }
        /^\*/ { t = substr($1, 2); next }
        /^:CNI-/ { c = substr($1, 2); if (!((t " " c) in old)) { new[t " " c] = 1; order[++nn] = t " " c }; next }
        /^-A / {
            mine = 0
            for (i = 1; i <= np; i++) if (index($0, p[i])) mine = 1
            for (i = 1; i <= NF; i++) if (($i == "-j" || $i == "-g") && ((t " " $(i + 1)) in new)) mine = 1
            if (((t " " $2) in new)) mine = 0   # flushed with its chain
            if (mine) { sub(/^-A /, "-D "); del[t] = del[t] $0 "\n"; tabs[t] = 1 }
        }
        END {
            for (i = 1; i <= nn; i++) { split(order[i], f, " "); flush[f[1]] = flush[f[1]] "-F " f[2] "\n"; drop[f[1]] = drop[f[1]] "-X " f[2] "\n"; tabs[f[1]] = 1 }
            for (t in tabs) printf "*%s\n%s%s%sCOMMIT\n", t, del[t], flush[t], drop[t]
        }' >"$tmp/restore"
    if [ -s "$tmp/restore" ]; then
        "$tool-restore" -w --noflush <"$tmp/restore" || {
            echo "warning: could not remove this run's $tool rules:" >&2
            cat "$tmp/restore" >&2
        }
    fi
}

# nftables objects, one a line: "table FAMILY NAME", and "chain|set|map
# FAMILY TABLE NAME" followed, for chains, by their number of rules.
nft_objects() {
    nft list ruleset 2>/dev/null | awk '
        /^table / { fam = $2; tab = $3; print "table", fam, tab; next }
        /^\t[a-z]/ && $NF == "{" { cur = $1 " " fam " " tab " " $2; order[++k] = cur; n[cur] = 0; next }
        /^\t}/ { cur = ""; next }
        cur ~ /^chain / && NF > 0 && $1 != "type" && $1 != "policy" && $1 != "comment" { n[cur]++ }
        END { for (i = 1; i <= k; i++) print order[i], (order[i] ~ /^chain / ? n[order[i]] : "") }'
}

# Removes nftables rules that mention this run (by handle), then the chains
# and tables the run created (iptables-nft makes some on first use) once
# nothing is left in them.
remove_nft() { # $1: nft_objects before
    command -v nft >/dev/null || return 0
    local fam tab name
    patterns >"$tmp/patterns"
    nft -a list ruleset 2>/dev/null | awk -v pats="$tmp/patterns" '
        BEGIN { while ((getline l < pats) > 0) if (l != "") p[++np] = l }
        /^table / { fam = $2; tab = $3 }
        /^\tchain / { ch = $2 }
        /^\t\t.*# handle [0-9]+$/ {
            for (i = 1; i <= np; i++) if (index($0, p[i])) { print "delete rule", fam, tab, ch, "handle", $NF; break }
        }' >"$tmp/nft-batch"
    if [ -s "$tmp/nft-batch" ]; then
        nft -f "$tmp/nft-batch" || echo "warning: could not remove this run's nftables rules" >&2
    fi
    # One command each: a chain something still jumps to stays.
    nft_objects | awk 'NR == FNR { old[$1 " " $2 " " $3 " " $4] = 1; next }
        $1 == "chain" && $5 == 0 && !(($1 " " $2 " " $3 " " $4) in old) { print $2, $3, $4 }' "$1" - |
        while read -r fam tab name; do nft delete chain "$fam" "$tab" "$name" 2>/dev/null; done
    nft_objects >"$tmp/nft-now"
    awk 'NR == FNR { old[$0] = 1; next } $1 == "table" && !($0 in old) { print $2, $3 }' "$1" "$tmp/nft-now" |
        while read -r fam tab; do
            if ! grep -q "^[a-z]* $fam $tab " "$tmp/nft-now"; then nft delete table "$fam" "$tab"; fi
        done
}

# What a run's cleanup removes after its containers: the bridges ($2...)
# with their veths, the container netns files in $1 (a list),
# the rules added since the snapshots in $tmp/before.*, and the forwarding
# sysctls (forwarding_sysctls) put back to forwarding_before.
remove_run_leftovers() { # $1: netns paths  $2...: bridges
    local ns_list=$1 bridge veth ns i f
    shift
    for bridge in "$@"; do
        if ip link show "$bridge" >/dev/null 2>&1; then
            for veth in $(ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}'); do
                ip link del "$veth"
            done
            ip link del "$bridge"
        fi
    done
    for ns in $ns_list; do
        if [ -e "$ns" ]; then
            umount "$ns" 2>/dev/null
            rm -f "$ns"
        fi
    done
    if [ -f "$tmp/before.v4" ]; then
        remove_iptables iptables "$tmp/before.v4"
        remove_iptables ip6tables "$tmp/before.v6"
        remove_nft "$tmp/before.nft"
    fi
    for i in "${!forwarding_sysctls[@]}"; do
        f=${forwarding_sysctls[$i]}
        if [ -n "${forwarding_before[$i]}" ] && [ "$(cat "$f")" != "${forwarding_before[$i]}" ]; then
            echo "${forwarding_before[$i]}" >"$f"
        fi
    done
}
