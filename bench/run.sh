#!/usr/bin/env bash
# Runs the load benchmark: pollchat against Nchan, side by side.
#
#   bench/run.sh                 # the issue's sizes, one run (about 5 minutes)
#   bench/run.sh -full           # medians of 3 runs, waiting for a quiet machine (15-25 minutes)
#   bench/run.sh [loadgen flags] # anything else goes to bench/loadgen (see -h)
#
# The durable-mysql scenario starts a private MariaDB (Debian mariadb-server,
# installed by scripts/deps.sh) and is skipped without it.
#
# Installs nginx-light and libnginx-mod-nchan when missing (Debian), builds
# bin/pollchat and bin/loadgen, raises the open-file limit to 20,000 (the
# servers the load generator starts inherit it) and writes the JSON lines
# to $ARTIFACTS/bench.jsonl (default artifacts/) and the table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in nginx-light libnginx-mod-nchan; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		need+=("$p")
	fi
done
if [ ${#need[@]} -gt 0 ]; then
	apt-cache policy "${need[@]}" | grep -q 'Candidate: [0-9]' || {
		echo "bench: ${need[*]} not available from apt" >&2
		exit 1
	}
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

GO=${GO:-go}
mkdir -p bin
[ -n "${POLLCHAT_BIN:-}" ] || { $GO build -o bin/pollchat . && POLLCHAT_BIN=bin/pollchat; }
$GO build -o bin/loadgen ./bench/loadgen

# 20,000 open files (the hard limit here): 15,000 parked connections each
# side, plus the store, logs and listeners.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

ARTIFACTS=${ARTIFACTS:-artifacts}
mkdir -p "$ARTIFACTS"

args=()
if [ "${1:-}" = "-full" ]; then
	shift
	args=(-runs 3 -idle-window 50s -quiet-wait 60s -retries 1)
else
	# make bench: full-size scenarios, one run, a shorter idle window, a
	# short wait for a quiet machine and no retries.
	args=(-runs 1 -idle-window 25s -quiet-wait 15s -retries 0)
fi

echo "bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec ./bin/loadgen -pollchat "$POLLCHAT_BIN" -nchan-conf bench/nchan.conf -json "$ARTIFACTS/bench.jsonl" "${args[@]}" "$@"
