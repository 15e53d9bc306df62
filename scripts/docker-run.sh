#!/usr/bin/env bash
# docker-run.sh <docker run arguments...>
#
# Runs a Docker container on the CNI networks of $NETCONFPATH, as upstream's
# scripts/docker-run.sh does: it starts a placeholder container with
# --net=none, attaches the placeholder's network namespace
# (/proc/<pid>/ns/net) to every network with cnitool through
# scripts/exec-plugins.sh (eth0, eth1, ... in lookup order; the CNI
# container ID is Docker's), then runs
# `docker run --net=container:<placeholder> <arguments...>`. Afterwards,
# also on failure or interruption, it removes the networks (cnitool del)
# and the placeholder. Needs root (the plugins do).
#
#   sudo ./scripts/docker-run.sh --rm busybox ip addr
#
# Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH (default this
# repository's bin/), CNI_CACHE_DIR (default /var/lib/cni), CNI_ARGS,
# CAP_ARGS, CNITOOL; DOCKER (the docker command, default docker) and
# DOCKER_RUN_PLACEHOLDER (placeholder image, default busybox:latest).
#
# test/e2e/docker.sh runs this script against a real Docker engine (Debian's
# docker.io) with examples/net.d (Documentation/e2e-docker.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || { echo "usage: docker-run.sh <docker run arguments...>" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "docker-run: needs root" >&2; exit 1; }
: "${DOCKER:=docker}"

contid=$("$DOCKER" run -d --net=none "${DOCKER_RUN_PLACEHOLDER:-busybox:latest}" /bin/sleep 10000000)
[ -n "$contid" ] || { echo "docker-run: could not start the placeholder container" >&2; exit 1; }

cleanup() {
    trap - EXIT INT TERM
    if [ -n "$netnspath" ]; then
        "$here/exec-plugins.sh" del "$contid" "$netnspath" || echo "docker-run: cleanup reported errors" >&2
    fi
    "$DOCKER" rm -f "$contid" >/dev/null || true
}
netnspath=
trap cleanup EXIT
trap 'exit 130' INT TERM

pid=$("$DOCKER" inspect -f '{{ .State.Pid }}' "$contid")
[ -n "$pid" ] && [ "$pid" != 0 ] || { echo "docker-run: placeholder $contid is not running" >&2; exit 1; }
netnspath=/proc/$pid/ns/net
"$here/exec-plugins.sh" add "$contid" "$netnspath"
set +e
"$DOCKER" run --net="container:$contid" "$@"
rc=$?
set -e
exit $rc
