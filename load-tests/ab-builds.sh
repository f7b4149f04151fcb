#!/usr/bin/env bash
# A/B of two Sluice builds at saturation, pinned: both gateways on CPU 1, wrk and the two upstreams on CPU 0, so
# a gateway never shares its core with the load it serves (less noise than the unpinned harness, not its ratios).
#   load-tests/ab-builds.sh <dist A> <dist B> [pairs=20] [seconds=3]
# Each pair runs wrk -t1 -c64 POST against A and B back to back (the order alternates: AB, BA, ...) and prints
# each run's throughput and the gateway's user and system CPU per request (/proc/<pid>/stat), then the B/A ratio
# of CPU per request per pair, its median and mean, and how many pairs B won. Run an A/A (the same dist twice)
# first to see what the machine's noise does to the ratio. The dist/ directories must sit in a checkout of Sluice
# (it finds its package root and runtime catalogue from there) with node_modules. Needs wrk, taskset, 2+ CPUs.
#   load-tests/ab-builds.sh <dist A> <dist B> [pairs=20] [seconds=3] together
# runs A and B at the same time instead, sharing CPU 1, each under its own wrk -t1 -c32 on CPU 0: a host that
# speeds up or slows down during a pair does so for both, so the pair's ratio keeps only what the builds differ
# in (the ratios are of CPU per request; the throughputs are each half of a shared core).
# SLUICE_AB_CONNECTION_CLOSE=1: every request asks for `Connection: close` (wrk opens a connection per request),
# to compare what a connection costs from accept to close rather than what a request on a kept one costs.
# SLUICE_AB_FLAGS_A / SLUICE_AB_FLAGS_B: each side's Node flags (default the shipped `--max-semi-space-size=64`),
# to compare one build under two sets of flags: load-tests/ab-builds.sh dist dist 30 4 together with
# SLUICE_AB_FLAGS_B="--max-semi-space-size=64 --use-largepages=on".
set -euo pipefail
A=${1:?usage: load-tests/ab-builds.sh <dist A> <dist B> [pairs] [seconds] [together]}
B=${2:?usage: load-tests/ab-builds.sh <dist A> <dist B> [pairs] [seconds] [together]}
PAIRS=${3:-20}
SECS=${4:-3}
MODE=${5:-apart}
case "$MODE" in apart|together) ;; *) echo "the fifth argument is 'together' or nothing, not '$MODE'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
RIG_NAME=ab
. load-tests/bench-rig.sh
rig_upstreams dist taskset -c 0
up=("${UP[@]}")
read -ra flags_a <<<"${SLUICE_AB_FLAGS_A---max-semi-space-size=64}"
read -ra flags_b <<<"${SLUICE_AB_FLAGS_B---max-semi-space-size=64}"
taskset -c 1 node "${flags_a[@]}" "$A/load-tests/systems/sluice-server.js" "${up[@]}" >"$work/a.out" 2>&1 &
SA=$!; pids+=($SA)
taskset -c 1 node "${flags_b[@]}" "$B/load-tests/systems/sluice-server.js" "${up[@]}" >"$work/b.out" 2>&1 &
SB=$!; pids+=($SB)
waitfor "$work/a.out"; waitfor "$work/b.out"
PA=$(port "$work/a.out"); PB=$(port "$work/b.out")
path=$BENCH_PATH
extra=()
if [ "${SLUICE_AB_CONNECTION_CLOSE:-}" = 1 ]; then extra=(-H 'Connection: close'); fi
for p in $PA $PB; do taskset -c 0 wrk -t1 -c64 -d3 -s "$work/post.lua" "${extra[@]}" "http://127.0.0.1:$p$path" >/dev/null; done
cost() { # label requests user-ticks system-ticks: one line of throughput and CPU per request
  # ticks are 1/100 s: ticks × 10^4 / requests = µs per request
  awk -v l="$1" -v n="$2" -v u="$3" -v s="$4" -v d="$SECS" \
    'BEGIN { printf "%s rps %6.0f user %5.1f sys %5.1f total %5.1f\n", l, n / d, u * 1e4 / n, s * 1e4 / n, (u + s) * 1e4 / n }'
}
run() { # pid port label
  local u0 s0 u1 s1 out n
  read -r u0 s0 < <(proc_ticks "$1")
  out=$(taskset -c 0 wrk -t1 -c64 -d"$SECS" -s "$work/post.lua" "${extra[@]}" "http://127.0.0.1:$2$path")
  read -r u1 s1 < <(proc_ticks "$1")
  n=$(wrk_requests "$out" "$3")
  cost "$3" "$n" $((u1 - u0)) $((s1 - s0))
}
together() { # both gateways under load over the same seconds; $1 = first (A or B): which wrk starts first
  local ua sa ub sb ua1 sa1 ub1 sb1 na nb w1 w2
  read -r ua sa < <(proc_ticks $SA); read -r ub sb < <(proc_ticks $SB)
  if [ "$1" = A ]; then w1="$PA wa"; w2="$PB wb"; else w1="$PB wb"; w2="$PA wa"; fi
  set -- $w1 $w2
  taskset -c 0 wrk -t1 -c32 -d"$SECS" -s "$work/post.lua" "${extra[@]}" "http://127.0.0.1:$1$path" >"$work/$2.txt" &
  local first=$!
  taskset -c 0 wrk -t1 -c32 -d"$SECS" -s "$work/post.lua" "${extra[@]}" "http://127.0.0.1:$3$path" >"$work/$4.txt"
  wait $first
  read -r ua1 sa1 < <(proc_ticks $SA); read -r ub1 sb1 < <(proc_ticks $SB)
  na=$(wrk_requests "$(<"$work/wa.txt")" A); nb=$(wrk_requests "$(<"$work/wb.txt")" B)
  cost A "$na" $((ua1 - ua)) $((sa1 - sa))
  cost B "$nb" $((ub1 - ub)) $((sb1 - sb))
}
for i in $(seq 1 "$PAIRS"); do
  if [ "$MODE" = together ]; then if [ $((i % 2)) = 1 ]; then together A; else together B; fi
  elif [ $((i % 2)) = 1 ]; then run $SA "$PA" A; run $SB "$PB" B; else run $SB "$PB" B; run $SA "$PA" A; fi
done | tee "$work/runs.txt"
awk '{ lab[NR] = $1; tot[NR] = $9 }
END {
  n = 0
  for (i = 1; i <= NR; i += 2) {
    a = lab[i] == "A" ? tot[i] : tot[i + 1]; b = lab[i] == "A" ? tot[i + 1] : tot[i]
    r[++n] = b / a; sum += b / a; if (b < a) won++
  }
  asort(r)
  med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
  printf "CPU per request B/A over %d pairs: median %.3f, mean %.3f (min %.3f, max %.3f); B used less in %d of %d\n", n, med, sum / n, r[1], r[n], won, n
}' "$work/runs.txt"
