#!/usr/bin/env bash
# User-space instructions per proxied POST, counted by valgrind's callgrind (a count, not a time: the machine's
# speed and load do not move it), after `npm run build`:
#   load-tests/instr-count.sh <sluice|nginx|node-pipe|http-layers> [warm-up s=60] [seconds=20] [connections=1]
# Starts the two JSON upstreams and the proxy under `valgrind --tool=callgrind` with counting off, warms it up
# with wrk, switches counting on (`callgrind_control -i on`, then zeroes), runs wrk for <seconds>, dumps, and
# prints instructions per request: the proxy's main thread and every thread together. sluice is the load tests'
# Sluice (dist/load-tests/systems/sluice-server.js, 90/10 split, shipped Node flags); nginx is the baseline's
# config with one worker and no master process. nginx's figure repeats within a few instructions; Sluice's
# depends on how far V8 has got with optimizing, which at valgrind's pace takes minutes (results/hotpath.md,
# thirteenth session: 110,007 after an 8-minute warm-up). node-pipe and http-layers are the floor proxies of
# load-tests/floor-ladder.sh. SLUICE_INSTR_DIST=<dir> counts another build, SLUICE_INSTR_NODE_FLAGS replaces the
# Node flags (default --max-semi-space-size=64), SLUICE_INSTR_KEEP=<file> keeps the main thread's callgrind dump
# there (callgrind_annotate reads it). Needs valgrind, wrk.
set -euo pipefail
WHAT=${1:?usage: load-tests/instr-count.sh <sluice|nginx|node-pipe|http-layers> [warm-up s] [seconds] [connections]}
WARM=${2:-60}
SECS=${3:-20}
CONNS=${4:-1}
DIST=${SLUICE_INSTR_DIST:-dist}
read -r -a NODE_FLAGS <<<"${SLUICE_INSTR_NODE_FLAGS:---max-semi-space-size=64}"
case "$WHAT" in sluice|nginx|node-pipe|http-layers) ;; *) echo "the first argument is sluice, nginx, node-pipe or http-layers, not '$WHAT'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
RIG_NAME=instr
. load-tests/bench-rig.sh
rig_need valgrind callgrind_control wrk
rig_upstreams "$DIST"
cg=(valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$work/cg.out")
if [ "$WHAT" != nginx ]; then
  case "$WHAT" in
    sluice) proxy_js="$DIST/load-tests/systems/sluice-server.js" ;;
    *) proxy_js="$DIST/load-tests/floors/$WHAT.js" ;;
  esac
  # V8 writes its compiled code into anonymous memory: valgrind must look for code changes there.
  "${cg[@]}" --smc-check=all-non-file node "${NODE_FLAGS[@]}" "$proxy_js" "${UP[@]}" \
    >"$work/proxy.out" 2>"$work/valgrind.err" &
  pids+=($!)
  waitfor "$work/proxy.out" 600 # valgrind starts node slowly
  proxy_port=$(port "$work/proxy.out")
else
  # One process (no master), so that callgrind_control reaches the process that serves.
  rig_nginx "$DIST" "${cg[@]}"
  proxy_port=$nginx_port
fi
proxy=${pids[-1]}
url="http://127.0.0.1:$proxy_port$BENCH_PATH"
wrk -t1 -c"$CONNS" -d"$WARM" -s "$work/post.lua" "$url" >/dev/null
callgrind_control -i on "$proxy" >/dev/null 2>&1
callgrind_control -z "$proxy" >/dev/null 2>&1
out=$(wrk -t1 -c"$CONNS" -d"$SECS" -s "$work/post.lua" "$url")
callgrind_control -d "$proxy" >/dev/null 2>&1
n=$(wrk_requests "$out")
for _ in $(seq 1 100); do ls "$work"/cg.out.1-01 >/dev/null 2>&1 && break; sleep 0.1; done
[ -e "$work/cg.out.1-01" ] || { echo "callgrind wrote no dump: callgrind_control could not reach pid $proxy" >&2; exit 1; }
sleep 0.5 # every thread's file is written by the same dump
summary() { awk '/^summary:/ { print $2; exit }' "$1"; }
main=$(summary "$work/cg.out.1-01")
if [ -n "${SLUICE_INSTR_KEEP:-}" ]; then cp "$work/cg.out.1-01" "$SLUICE_INSTR_KEEP"; fi
all=0
for f in "$work"/cg.out.1-*; do all=$((all + $(summary "$f"))); done
awk -v w="$WHAT" -v n="$n" -v m="$main" -v a="$all" -v c="$CONNS" -v s="$SECS" \
  'BEGIN { printf "%s: %d requests over %d s at %d connection(s): %.0f instructions per request on the main thread, %.0f on every thread\n", w, n, s, c, m / n, a / n }'
