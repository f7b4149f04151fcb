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
rig_signalled "$DIST" schedule-count.js "SLUICE_SCHEDULE_COUNT=$work/counts.txt" 1 2 "$SECS"
awk -v n="$n" '{ printf "%d requests: %.2f process.nextTick, %.2f promises, %.2f timers, %.2f immediates per request\n", n, $2 / n, $4 / n, $6 / n, $8 / n }' "$work/counts.txt"
