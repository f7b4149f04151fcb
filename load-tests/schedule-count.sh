#!/usr/bin/env bash
# What one proxied request schedules on the gateway's event loop (load-tests/support/schedule-count.ts), after
# `npm run build`:
#   load-tests/schedule-count.sh [dist=dist] [seconds=4]
# Starts the two JSON upstreams and the load tests' Sluice (90/10 split) from <dist> with the counting preload,
# warms it up, then runs wrk -t1 -c1 POST (one request at a time, so each has the event loop to itself, as at a
# low rate) between two SIGUSR2s and prints process.nextTick calls, promises and timers per request. Counts, not
# times: the async hook slows the process, so nothing here is a speed. Needs wrk.
set -euo pipefail
DIST=${1:-dist}
SECS=${2:-4}
cd "$(dirname "$0")/.."
RIG_NAME=schedule
. load-tests/bench-rig.sh
rig_upstreams "$DIST"
SLUICE_SCHEDULE_COUNT="$work/counts.txt" node --max-semi-space-size=64 --import "./$DIST/load-tests/support/schedule-count.js" \
  "$DIST/load-tests/systems/sluice-server.js" "${UP[@]}" >"$work/sluice.out" 2>&1 &
S=$!; pids+=($S)
waitfor "$work/sluice.out"
url="http://127.0.0.1:$(port "$work/sluice.out")/v1/models/bench:predict"
wrk -t1 -c1 -d2 -s "$work/post.lua" "$url" >/dev/null
kill -USR2 $S
sleep 0.2
out=$(wrk -t1 -c1 -d"$SECS" -s "$work/post.lua" "$url")
kill -USR2 $S
for _ in $(seq 1 50); do [ -s "$work/counts.txt" ] && break; sleep 0.1; done
n=$(awk '/requests in/ {print $1}' <<<"$out")
if grep -q Non-2xx <<<"$out"; then echo "non-2xx answers: $(awk '/Non-2xx/ {print $4}' <<<"$out")" >&2; exit 1; fi
awk -v n="$n" '{ printf "%d requests: %.2f process.nextTick, %.2f promises, %.2f timers, %.2f immediates per request\n", n, $2 / n, $4 / n, $6 / n, $8 / n }' "$work/counts.txt"
