# Sourced by load-tests/ab-builds.sh, schedule-count.sh, alloc-sites.sh, instr-count.sh, floor-ladder.sh and
# machine-share.sh (not run by itself): a work directory removed on exit with every process in `pids` killed, wrk's
# POST script ($work/post.lua), and the two JSON upstreams started from <dist> (`rig_upstreams <dist> [taskset
# prefix…]`: upstreams/responder.c, built with gcc on first use, or with SLUICE_RIG_UPSTREAM=node Node's
# json-responder as before 2026-12-07 21:30 UTC), which sets $UP to their `--upstream URL` arguments. `rig_nginx
# <dist> [command prefix…]` starts the baseline's nginx over them (one worker, no master process), sets $nginx_port
# and $nginx_pid, and removes its folder on exit. `rig_signalled <dist> <preload> <VAR=file> <connections> <warm-up s>
# <s>` runs the load tests' Sluice over them with a diagnostic preload that acts on SIGUSR2 (its file named by VAR),
# warms it up with wrk, runs a measured wrk POST between two such signals, sets $n to the requests measured and waits
# for the file. `waitfor <file> [tries=100]` waits for a LISTENING line in it (0.1 s a try), `port <file>` prints its
# port. `n=$(wrk_requests "$out" [label])` is the requests a wrk run counted, or the end of the script when any answer
# was not 2xx. `rig_need <tool…>` ends the script naming the package of the first tool not installed. `proc_ticks
# <pid>` prints the process's user and system CPU so far in clock ticks (/proc/<pid>/stat's utime and stime).
# $BENCH_PATH and $BENCH_BODY are the request every script sends (post.lua's).
work=$(mktemp -d "/tmp/sluice-${RIG_NAME:-rig}-XXXXXX")
pids=()
dirs=() # folders of the run besides $work (nginx's), removed on exit
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work" "${dirs[@]}"; }
trap cleanup EXIT
BENCH_PATH=/v1/models/bench:predict
BENCH_BODY='{"instances":[[6.8,2.8,4.8,1.4]]}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BENCH_BODY'
wrk.headers["content-type"] = "application/json"
LUA
proc_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
waitfor() { for _ in $(seq 1 "${2:-100}"); do grep -q LISTENING "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "no LISTENING in $1" >&2; cat "$1" >&2; exit 1; }
port() { grep -o 'LISTENING [0-9]*' "$1" | head -1 | cut -d' ' -f2; }
rig_need() {
  local t p
  for t in "$@"; do
    command -v "$t" >/dev/null && continue
    case $t in nginx) p=nginx-light ;; callgrind_control) p=valgrind ;; *) p=$t ;; esac
    echo "$t is not installed (apt-get install $p)" >&2
    exit 1
  done
}
wrk_requests() {
  local non
  non=$(awk '/Non-2xx/ {print $NF}' <<<"$1")
  if [ -n "$non" ]; then echo "${2:+$2: }$non non-2xx answers" >&2; exit 1; fi
  awk '/requests in/ {print $1}' <<<"$1"
}
rig_upstreams() {
  local dist=$1
  shift
  # The upstreams leave when their stdin ends: give them a pipe that stays open until we kill them.
  mkfifo "$work/hold"
  local program
  case ${SLUICE_RIG_UPSTREAM:-c} in
    c)
      rig_need gcc
      program=("$(node --input-type=module -e "console.log((await import('$(realpath "$dist")/load-tests/upstreams/upstream-pair.js')).responderBinary())")")
      ;;
    node) program=(node "$dist/load-tests/upstreams/json-responder.js") ;;
    *) echo "SLUICE_RIG_UPSTREAM must be c or node, not '$SLUICE_RIG_UPSTREAM'" >&2; exit 2 ;;
  esac
  for u in primary canary; do
    "$@" "${program[@]}" "$u" <"$work/hold" >"$work/$u.out" 2>&1 &
    pids+=($!)
  done
  exec 3>"$work/hold"
  waitfor "$work/primary.out"; waitfor "$work/canary.out"
  UP=(--upstream "http://127.0.0.1:$(port "$work/primary.out")" --upstream "http://127.0.0.1:$(port "$work/canary.out")")
}
rig_nginx() {
  local dist=$1 nginx_dir nginx_conf
  shift
  rig_need nginx
  # The harness's own config (systems/apt-proxy.ts): the baseline template filled in a folder of its own.
  read -r nginx_port nginx_dir nginx_conf < <(node --input-type=module -e "
    const { freePort } = await import('./$dist/load-tests/harness/child-process.js');
    const { renderBaselineConfig } = await import('./$dist/load-tests/systems/config-template.js');
    const port = await freePort();
    const c = renderBaselineConfig('nginx.conf.template', { port, primary: ${UP[1]##*:}, canary: ${UP[3]##*:}, timeoutMs: 30000, workers: 1 });
    console.log(port, c.dir, c.file);")
  dirs+=("$nginx_dir")
  # One process: the worker is the master, so it holds all of nginx's CPU and is the pid a tool attaches to.
  sed -i 's/^daemon off;/daemon off;\nmaster_process off;/' "$nginx_conf"
  "$@" nginx -e "$nginx_dir/error.log" -p "$nginx_dir" -c "$nginx_conf" >"$work/nginx.out" 2>"$work/nginx.err" &
  pids+=($!)
  nginx_pid=$!
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && return 0; sleep 0.1; done
  echo "nginx did not listen on $nginx_port:" >&2
  cat "$work/nginx.err" >&2
  exit 1
}
rig_signalled() {
  local dist=$1 preload=$2 var=$3 conns=$4 warm=$5 secs=$6 file=${3#*=} out
  rig_upstreams "$dist"
  env "$var" node --max-semi-space-size=64 --import "./$dist/load-tests/support/$preload" \
    "$dist/load-tests/systems/sluice-server.js" "${UP[@]}" >"$work/sluice.out" 2>&1 &
  local s=$!
  pids+=($s)
  waitfor "$work/sluice.out"
  local url="http://127.0.0.1:$(port "$work/sluice.out")$BENCH_PATH"
  wrk -t1 -c"$conns" -d"$warm" -s "$work/post.lua" "$url" >/dev/null
  kill -USR2 $s
  sleep 0.2
  out=$(wrk -t1 -c"$conns" -d"$secs" -s "$work/post.lua" "$url")
  kill -USR2 $s
  n=$(wrk_requests "$out")
  for _ in $(seq 1 100); do [ -s "$file" ] && break; sleep 0.1; done
  sleep 0.3 # a profile is written in one call, but may be large: let it finish
}
