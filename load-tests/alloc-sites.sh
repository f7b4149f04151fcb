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
rig_signalled "$DIST" alloc-sample.js "SLUICE_ALLOC_SAMPLE=$work/alloc.heapprofile" "$CONNS" 3 "$SECS"
node "$DIST/load-tests/alloc-sites.js" "$work/alloc.heapprofile" "$n"
