#!/usr/bin/env bash
# Where one proxied request allocates (load-tests/support/alloc-sample.ts), after `npm run build`:
#   load-tests/alloc-sites.sh [dist=dist] [seconds=4] [connections=8]
# Starts the two JSON upstreams and the load tests' Sluice (90/10 split) from <dist> with the sampling preload,
# warms it up with wrk, then samples V8's allocations (collected objects included) while wrk -t1 POSTs for the
# given seconds, and prints the bytes allocated per request and the 25 sites that allocate most. Bytes, not
# times: the sampler slows allocation. Needs wrk.
set -euo pipefail
DIST=${1:-dist}
SECS=${2:-4}
CONNS=${3:-8}
cd "$(dirname "$0")/.."
RIG_NAME=alloc
. load-tests/bench-rig.sh
rig_upstreams "$DIST"
SLUICE_ALLOC_SAMPLE="$work/alloc.heapprofile" node --max-semi-space-size=64 --import "./$DIST/load-tests/support/alloc-sample.js" \
  "$DIST/load-tests/systems/sluice-server.js" "${UP[@]}" >"$work/sluice.out" 2>&1 &
S=$!; pids+=($S)
waitfor "$work/sluice.out"
url="http://127.0.0.1:$(port "$work/sluice.out")/v1/models/bench:predict"
wrk -t1 -c"$CONNS" -d3 -s "$work/post.lua" "$url" >/dev/null
kill -USR2 $S
sleep 0.3
out=$(wrk -t1 -c"$CONNS" -d"$SECS" -s "$work/post.lua" "$url")
kill -USR2 $S
for _ in $(seq 1 100); do [ -s "$work/alloc.heapprofile" ] && break; sleep 0.2; done
sleep 0.5 # the file is written in one call; give it time to finish
if grep -q Non-2xx <<<"$out"; then echo "non-2xx answers: $(awk '/Non-2xx/ {print $4}' <<<"$out")" >&2; exit 1; fi
n=$(awk '/requests in/ {print $1}' <<<"$out")
node "$DIST/load-tests/alloc-sites.js" "$work/alloc.heapprofile" "$n"
