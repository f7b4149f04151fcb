# Sourced by load-tests/ab-builds.sh and load-tests/schedule-count.sh (not run by itself): a work directory
# removed on exit with every process in `pids` killed, wrk's POST script ($work/post.lua), and the two JSON
# upstreams started from <dist> (`rig_upstreams <dist> [taskset prefix…]`), which sets $UP to their
# `--upstream URL` arguments. `waitfor <file>` waits for a LISTENING line in it, `port <file>` prints its port.
work=$(mktemp -d "/tmp/sluice-${RIG_NAME:-rig}-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"instances":[[6.8,2.8,4.8,1.4]]}'
wrk.headers["content-type"] = "application/json"
LUA
waitfor() { for _ in $(seq 1 100); do grep -q LISTENING "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "no LISTENING in $1" >&2; cat "$1" >&2; exit 1; }
port() { grep -o 'LISTENING [0-9]*' "$1" | head -1 | cut -d' ' -f2; }
rig_upstreams() {
  local dist=$1
  shift
  # The upstreams leave when their stdin ends: give them a pipe that stays open until we kill them.
  mkfifo "$work/hold"
  for u in primary canary; do
    "$@" node "$dist/load-tests/upstreams/json-responder.js" "$u" <"$work/hold" >"$work/$u.out" 2>&1 &
    pids+=($!)
  done
  exec 3>"$work/hold"
  waitfor "$work/primary.out"; waitfor "$work/canary.out"
  UP=(--upstream "http://127.0.0.1:$(port "$work/primary.out")" --upstream "http://127.0.0.1:$(port "$work/canary.out")")
}
