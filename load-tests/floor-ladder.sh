#!/usr/bin/env bash
# CPU per proxied POST, split into user and system time, for a ladder of proxies over the same two JSON upstreams
# and the same wrk load, after `npm run build`:
#   load-tests/floor-ladder.sh [rounds=3] [seconds=8] [connections=32]
# nginx (the baseline's config, one worker, no master process); node-pipe (bytes copied both ways, no HTTP: Node's
# floor); http-layers (Sluice's data-port handler and upstream client with a 90/10 pick, no gateway); sluice (the
# load tests' Sluice: routing, split, activator, accounting, metrics). Each round runs every system once in a
# rotated order, `wrk -t1 -c<connections> -d<seconds>` after a 3-second warm-up of each; CPU is the process's
# utime and stime from /proc around the run, divided by the requests wrk counted. Prints each round and the
# medians, with each system's total as a multiple of nginx's. The steps of the ladder say where a request's CPU
# goes: Node's own I/O (node-pipe over nginx), the HTTP layers (http-layers over node-pipe), the gateway (sluice
# over http-layers). SLUICE_LADDER_DIST=<dir> measures another build's layers and Sluice;
# SLUICE_LADDER_ALT_DIST=<dir> adds that build's as `http-layers-alt` and `sluice-alt` to the same rounds (a change
# measured on and off).
# SLUICE_LADDER_RATE=<req/s> loads each at that fixed rate instead, with the C open-loop generator
# (harness/fixed-rate.c, up to <connections> connections), adds `direct` (the primary upstream alone, no proxy)
# and prints each run's p50 and p99 (from the intended send time, as the latency scenario does) beside its CPU.
# Needs wrk, nginx and gcc (for the C upstreams and, with a rate, the generator).
set -euo pipefail
ROUNDS=${1:-3}
SECS=${2:-8}
CONNS=${3:-32}
DIST=${SLUICE_LADDER_DIST:-dist}
for v in "rounds=$ROUNDS" "seconds=$SECS" "connections=$CONNS" ${SLUICE_LADDER_RATE:+"SLUICE_LADDER_RATE=$SLUICE_LADDER_RATE"}; do
  [[ ${v#*=} =~ ^[1-9][0-9]*$ ]] || { echo "${v%%=*} must be a whole number above 0, not '${v#*=}'" >&2; exit 2; }
done
cd "$(dirname "$0")/.."
RIG_NAME=ladder
. load-tests/bench-rig.sh
rig_need wrk nginx
rig_upstreams "$DIST"
declare -A PID PORT
start_node() { # <name> <script> [node flags…]
  local name=$1 script=$2
  shift 2
  node "$@" "$script" "${UP[@]}" >"$work/$name.out" 2>&1 &
  pids+=($!)
  PID[$name]=$!
}
start_node node-pipe "$DIST/load-tests/floors/node-pipe.js"
start_node http-layers "$DIST/load-tests/floors/http-layers.js" --max-semi-space-size=64
start_node sluice "$DIST/load-tests/systems/sluice-server.js" --max-semi-space-size=64
systems=(nginx node-pipe http-layers sluice)
ALT=${SLUICE_LADDER_ALT_DIST:-}
if [ -n "$ALT" ]; then
  [ -f "$ALT/load-tests/floors/http-layers.js" ] || { echo "SLUICE_LADDER_ALT_DIST: no build in '$ALT'" >&2; exit 2; }
  start_node http-layers-alt "$ALT/load-tests/floors/http-layers.js" --max-semi-space-size=64
  start_node sluice-alt "$ALT/load-tests/systems/sluice-server.js" --max-semi-space-size=64
  systems+=(http-layers-alt sluice-alt)
fi
for name in "${systems[@]:1}"; do waitfor "$work/$name.out"; PORT[$name]=$(port "$work/$name.out"); done
rig_nginx "$DIST"
PID[nginx]=$nginx_pid
PORT[nginx]=$nginx_port
url() { echo "http://127.0.0.1:${PORT[$1]}$BENCH_PATH"; }
for s in "${systems[@]}"; do wrk -t1 -c"$CONNS" -d3 -s "$work/post.lua" "$(url "$s")" >/dev/null; done
RATE=${SLUICE_LADDER_RATE:-}
if [ -n "$RATE" ]; then
  gen=$(node --input-type=module -e "console.log((await import('./$DIST/load-tests/harness/fixed-rate.js')).fixedRateBinary())")
  PORT[direct]=${UP[1]##*:} # no proxy, so no CPU of its own (cpu below)
  systems=(direct "${systems[@]}")
fi
# One run against system $1: sets n (requests) and extra (the latency columns of a fixed-rate run).
load() {
  if [ -z "$RATE" ]; then
    n=$(wrk_requests "$(wrk -t1 -c"$CONNS" -d"$SECS" -s "$work/post.lua" "$(url "$1")")" "$1")
    extra=
    return
  fi
  local out
  out=$("$gen" 127.0.0.1 "${PORT[$1]}" "$RATE" "$SECS" 0 "$CONNS" POST "$BENCH_PATH" "$BENCH_BODY" application/json)
  read -r n bad extra < <(node -e "const r = JSON.parse(process.argv[1]); console.log(r.completed, r.errors + r.non2xx, 'p50 ' + r.latency.p50.toFixed(2) + ' p99 ' + r.latency.p99.toFixed(2) + ' ms')" "$out")
  if [ "$bad" != 0 ]; then echo "$1: $bad errors or non-2xx answers" >&2; exit 1; fi
}
ticks=$(getconf CLK_TCK)
cpu() { if [ "$1" = direct ]; then echo 0 0; else proc_ticks "${PID[$1]}"; fi; }
: >"$work/rows"
for r in $(seq 1 "$ROUNDS"); do
  for i in "${!systems[@]}"; do
    s=${systems[$(((i + r - 1) % ${#systems[@]}))]}
    read -r u0 s0 < <(cpu "$s")
    load "$s"
    read -r u1 s1 < <(cpu "$s")
    # A row: system, req/s, user µs, system µs, p50, p99 (- when not measured).
    awk -v s="$s" -v r="$r" -v n="$n" -v t="$SECS" -v hz="$ticks" -v u=$((u1 - u0)) -v k=$((s1 - s0)) -v x="${extra:-}" 'BEGIN {
      us = u / hz * 1e6 / n; ks = k / hz * 1e6 / n
      split(x, l, " ")
      if (s == "direct") printf "round %d  %-15s %7.0f req/s  %-45s  %s\n", r, s, n / t, "(no proxy)", x
      else printf "round %d  %-15s %7.0f req/s  user %5.1f + system %5.1f = %5.1f µs/req  %s\n", r, s, n / t, us, ks, us + ks, x
      printf "%s %f %f %f %s %s\n", s, n / t, us, ks, (x == "" ? "-" : l[2]), (x == "" ? "-" : l[4]) >> "'"$work/rows"'" }'
  done
done
echo
if [ -n "$RATE" ]; then echo "medians over $ROUNDS rounds ($RATE req/s for $SECS s, up to $CONNS connections, POST):"
else echo "medians over $ROUNDS rounds (wrk -t1 -c$CONNS -d$SECS, POST):"; fi
med() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$work/rows" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for s in "${systems[@]}"; do
  if [ -n "$RATE" ]; then echo "$s $(med "$s" 2) $(med "$s" 3) $(med "$s" 4) $(med "$s" 5) $(med "$s" 6)"; else echo "$s $(med "$s" 2) $(med "$s" 3) $(med "$s" 4) - -"; fi
done | awk '{ t = $3 + $4; if ($1 == "nginx") base = t; row[NR] = $0 }
  END { for (i = 1; i <= NR; i++) { split(row[i], f, " "); t = f[3] + f[4]
    lat = (f[5] == "-") ? "" : sprintf("  p50 %.2f p99 %.2f ms", f[5], f[6])
    if (f[1] == "direct") printf "%-15s %7.0f req/s  %-57s%s\n", f[1], f[2], "(no proxy)", lat
    else printf "%-15s %7.0f req/s  user %5.1f + system %5.1f = %5.1f µs/req  %4.2f× nginx%s\n", f[1], f[2], f[3], f[4], t, t / base, lat } }'
