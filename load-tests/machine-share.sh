#!/usr/bin/env bash
# Where the machine's cores go at a fixed rate, and the tail that comes with it, for nginx and Sluice in pairs of
# runs, after `npm run build`:
#   load-tests/machine-share.sh [pairs=4] [rate=11000] [seconds=8]
# Each pair runs nginx (the baseline's config, one worker) and then the load tests' Sluice over the same two JSON
# upstreams (started once), each at <rate> req/s for <seconds> with the C open-loop generator (harness/fixed-rate.c,
# up to 64 connections), after a 3-second wrk warm-up of each. A line per run: CPU µs per request of the proxy, the
# primary and the canary upstream (/proc/<pid>/stat), how busy the whole machine was (/proc/stat: user, nice, system,
# irq and softirq time over all cores), and p50 and p99 from the intended send time. On a machine whose cores the
# generator and the upstreams share with the proxy, a proxy's tail at a fixed rate follows how near the whole
# machine runs to full (load-tests/README.md, "Cost per request"). SLUICE_SHARE_DIST=<dir> measures another build.
# Needs wrk, nginx and gcc.
set -euo pipefail
PAIRS=${1:-4}
RATE=${2:-11000}
SECS=${3:-8}
DIST=${SLUICE_SHARE_DIST:-dist}
for v in "pairs=$PAIRS" "rate=$RATE" "seconds=$SECS"; do
  [[ ${v#*=} =~ ^[1-9][0-9]*$ ]] || { echo "${v%%=*} must be a whole number above 0, not '${v#*=}'" >&2; exit 2; }
done
cd "$(dirname "$0")/.."
RIG_NAME=share
. load-tests/bench-rig.sh
rig_need wrk nginx gcc
rig_upstreams "$DIST"
primary=${pids[0]}
canary=${pids[1]}
rig_nginx "$DIST"
node --max-semi-space-size=64 "$DIST/load-tests/systems/sluice-server.js" "${UP[@]}" >"$work/sluice.out" 2>&1 &
pids+=($!)
sluice_pid=$!
waitfor "$work/sluice.out"
sluice_port=$(port "$work/sluice.out")
gen=$(node --input-type=module -e "console.log((await import('./$DIST/load-tests/harness/fixed-rate.js')).fixedRateBinary())")
ticks() { local u s; read -r u s < <(proc_ticks "$1"); echo $((u + s)); }
# The machine's busy and total ticks so far (the `cpu` line: user nice system idle iowait irq softirq steal).
machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }
hz=$(getconf CLK_TCK)
run() { # <name> <pid> <port>
  local name=$1 pid=$2 p=$3 a0 b0 c0 a1 b1 c1 m0 t0 m1 t1 out
  wrk -t1 -c32 -d3 -s "$work/post.lua" "http://127.0.0.1:$p$BENCH_PATH" >/dev/null
  sleep 1
  a0=$(ticks "$pid"); b0=$(ticks "$primary"); c0=$(ticks "$canary"); read -r m0 t0 < <(machine)
  out=$("$gen" 127.0.0.1 "$p" "$RATE" "$SECS" 0 64 POST "$BENCH_PATH" "$BENCH_BODY" application/json)
  a1=$(ticks "$pid"); b1=$(ticks "$primary"); c1=$(ticks "$canary"); read -r m1 t1 < <(machine)
  node -e "
    const [out, name, hz, a, b, c, m, t] = process.argv.slice(1);
    const r = JSON.parse(out);
    if (r.errors + r.non2xx > 0) { console.error(name + ': ' + (r.errors + r.non2xx) + ' errors or non-2xx answers'); process.exit(1); }
    const us = (d) => ((d / hz) * 1e6 / r.completed).toFixed(1).padStart(5);
    console.log(name.padEnd(7), String(r.completed).padStart(7), 'requests  µs/req: proxy', us(a), ' primary', us(b), ' canary', us(c),
      '  machine busy', ((100 * m) / t).toFixed(0).padStart(3) + ' %', '  p50', r.latency.p50.toFixed(2), 'p99', r.latency.p99.toFixed(2).padStart(6), 'ms');
  " "$out" "$name" "$hz" $((a1 - a0)) $((b1 - b0)) $((c1 - c0)) $((m1 - m0)) $((t1 - t0))
}
echo "$PAIRS pairs at $RATE req/s for $SECS s ($(nproc) cores):"
for _ in $(seq 1 "$PAIRS"); do
  run nginx "$nginx_pid" "$nginx_port"
  run sluice "$sluice_pid" "$sluice_port"
done
