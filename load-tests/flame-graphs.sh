#!/usr/bin/env bash
# Flame graphs of the Sluice data plane at saturation (load-tests/README.md "Flame graphs"), after `npm run build`:
#   load-tests/flame-graphs.sh <tag>      e.g. before, after
# Two separate saturation runs of the sluice system alone (POST, 64 connections, 2 s warm-up + 8 s measured):
#   1. node --cpu-prof: V8's profile of the whole process life (start, warm-up and run) ->
#      load-tests/results/flame-sluice-<tag>-cpuprof.svg
#   2. node --perf-basic-prof + `perf record -g -F 999` over the measured 8 s ->
#      load-tests/results/flame-sluice-<tag>-perf.svg
# Each prints the 25 frames with most self samples. Needs perf (root or kernel.perf_event_paranoid <= 1).
# SLUICE_FLAME_DIST=<dir> profiles another build (a copy of dist/ made before a change), for before/after
# graphs taken back to back on the same machine load.
set -euo pipefail
tag=${1:?usage: load-tests/flame-graphs.sh <tag>}
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/sluice-flame-XXXXXX)
dist=${SLUICE_FLAME_DIST:-dist}
run=(node "$dist/load-tests/run.js" saturation --rounds 1 --duration 8 --warmup 2 --methods POST --systems sluice)

SLUICE_BENCH_NODE_FLAGS="--max-semi-space-size=64 --cpu-prof --cpu-prof-dir=$work/cpuprof" \
  "${run[@]}" --results "$work/cpuprof-report" >"$work/cpuprof.log" 2>&1
node "$dist/load-tests/flame.js" cpuprofile "$work/cpuprof" "load-tests/results/flame-sluice-$tag-cpuprof.svg" \
  "Sluice at saturation ($tag): V8 CPU profile"

SLUICE_BENCH_NODE_FLAGS="--max-semi-space-size=64 --perf-basic-prof --logfile=$work/v8.log --no-logfile-per-isolate" SLUICE_BENCH_PERF_RECORD="$work" \
  "${run[@]}" --results "$work/perf-report" >"$work/perf.log" 2>&1
node "$dist/load-tests/flame.js" perf "$work/sluice-post-saturation-r1.perf.data" "load-tests/results/flame-sluice-$tag-perf.svg" \
  "Sluice at saturation ($tag): perf record -g"
# The folded stacks stay with the raw profiles; node's JIT symbol map (/tmp/perf-<pid>.map) is no longer needed.
mv load-tests/results/flame-sluice-"$tag"-*.folded "$work/"
# awk stops reading at the first sample, so perf script dies of SIGPIPE: not a failure (pipefail would say so).
pid=$(perf script -i "$work/sluice-post-saturation-r1.perf.data" 2>/dev/null | awk 'NF { print $2; exit }' || true)
case "$pid" in ''|*[!0-9]*) ;; *) rm -f "/tmp/perf-$pid.map" ;; esac
grep -ho 'sluice: [0-9]* req/s\|round 1 sluice: [0-9]* req/s' "$work"/*.log || true
echo "raw profiles, folded stacks and reports: $work"
