#!/usr/bin/env bash
# Runs the load benchmark: pollchat against Nchan, side by side, and writes
# the issue-21 table (docs/benchmarks.md says how to read it).
#
#   bench/run.sh                  # the full table: medians of 3 runs, pollchat and Nchan alternating (about 25 minutes on 2 cores)
#   bench/run.sh -quick           # one short run at reduced sizes, for iteration (about 5 minutes)
#   bench/run.sh [-quick] [loadgen flags]  # anything else goes to bench/loadgen (see bin/loadgen -h),
#                                 # e.g. -scenarios parked -targets pollchat
#
# Writes bench/results/DATE-COMMIT.jsonl (one JSON line per scenario, server
# and run) and bench/results/DATE-COMMIT.md (the table, with the commit and
# the machine); -quick runs end in -quick. RESULTS=dir writes elsewhere.
#
# Installs Debian's nginx and libnginx-mod-nchan when missing (Nchan runs
# as nginx with its own prefix, config and port, started and stopped by the
# load generator by PID; no system service is touched). The durable-mysql,
# parked-cluster and cluster scenarios start a private MariaDB and Redis
# (Debian mariadb-server-core and redis-server, installed by scripts/deps.sh)
# and are skipped without them. Builds bin/pollchat (unless POLLCHAT_BIN is
# set) and bin/loadgen, and raises the open-file limit to 20,000.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
if [ "${1:-}" = "-quick" ]; then
	mode=quick
	shift
elif [ "${1:-}" = "-full" ]; then # the old name of the default
	shift
fi

need=()
for p in nginx libnginx-mod-nchan; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		need+=("$p")
	fi
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	# How many of them apt can install (grep -c reads all: grep -q would
	# end the pipe early and pipefail would call that a failure).
	candidates() { apt-cache policy "${need[@]}" 2>/dev/null | grep -c 'Candidate: [0-9]' || true; }
	[ "$(candidates)" = ${#need[@]} ] || $SUDO apt-get update -qq
	[ "$(candidates)" = ${#need[@]} ] || {
		echo "bench: ${need[*]} not available from apt" >&2
		exit 1
	}
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

GO=${GO:-go}
mkdir -p bin
[ -n "${POLLCHAT_BIN:-}" ] || { $GO build -o bin/pollchat . && POLLCHAT_BIN=bin/pollchat; }
$GO build -o bin/loadgen ./bench/loadgen

# 20,000 open files (the hard limit here): 15,000 parked connections each
# side, plus the store, logs and listeners.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"
name="$RESULTS/$(date -u +%Y-%m-%d)-$commit"

if [ "$mode" = quick ]; then
	# The same lines at a fifth of the size and shorter parks: 3,000 users
	# parked 5 s re-poll 600 times a second, as 15,000 parked 25 s do, so
	# idle cycling's % of a core compares with the full run; latency and
	# memory figures do not (fewer members, fewer parked polls).
	name="$name-quick"
	args=(-runs 1 -parked 3000 -park 5s -idle-window 10s
		-members 500 -fanout-msgs 60 -sat-msgs 40
		-direct-users 1000 -direct-duration 4s
		-durable-duration 2s -cluster-users 1000 -cluster-members 300
		-quiet-wait 5s -retries 0)
else
	# The issue's sizes (the loadgen's defaults), medians of 3 runs with
	# pollchat and Nchan alternating which goes first; a short wait for a
	# quiet machine before each measurement and no retries, so that it
	# ends within about 30 minutes.
	args=(-runs 3 -idle-window 25s -quiet-wait 10s -retries 0)
fi

echo "bench: $mode, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg); results in $name.{jsonl,md}" >&2
./bin/loadgen -pollchat "$POLLCHAT_BIN" -nchan-conf bench/nchan.conf -json "$name.jsonl" -md "$name.md" -commit "$commit" "${args[@]}" "$@"
