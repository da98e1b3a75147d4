#!/usr/bin/env bash
# The RPC benchmark: wrk against a fresh 4-validator devnet's JSON-RPC
# (validator-1, POST / with `status` and with `account` of alice), and, in
# the same run and for scale, against nginx serving a static JSON file the
# size of the status answer.
#
#   bench/rpc_bench.sh [--duration S] [--connections N] [--threads N] [--runs N]
#                      [--nginx-workers N] [--no-build]
#
#   --duration S       seconds of each wrk measurement (default 10)
#   --connections N    wrk connections, kept alive (default 32)
#   --threads N        wrk threads (default 2)
#   --runs N           measurements of each target, one devnet for all (default 1)
#   --nginx-workers N  nginx worker processes (default 1: one thread, as the
#                      node's RPC, which shares the consensus thread)
#   --no-build         do not run `ninja -C build` first
#
# Installs wrk and nginx from Debian when missing (apt-get as root, else
# through sudo). Picks free ports, keeps everything in a temporary
# directory, bounds every wait, and stops what it started on exit or
# Ctrl-C. Before measuring it checks that both calls answer with a
# "result". Errors are wrk's non-2xx/3xx responses plus its socket errors.
# Figures only: it never asserts on them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
say() { printf '==> %s\n' "$*"; }
die() { echo "bench/rpc_bench.sh: $*" >&2; exit 1; }

duration=10 connections=32 threads=2 runs=1 nginx_workers=1 build=1
while [ $# -gt 0 ]; do
  case $1 in
    --duration|--connections|--threads|--runs|--nginx-workers)
      [ $# -ge 2 ] || die "$1 needs a number"
      v=$2; opt=${1#--}; shift 2 ;;
    --duration=*|--connections=*|--threads=*|--runs=*|--nginx-workers=*)
      v=${1#*=}; opt=${1%%=*}; opt=${opt#--}; shift ;;
    --no-build) build=0; shift; continue ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/rpc_bench.sh: unknown option '$1'; run 'bench/rpc_bench.sh --help'" >&2; exit 2 ;;
  esac
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench/rpc_bench.sh: --$opt must be a positive integer, not '$v'" >&2; exit 2; }
  case $opt in
    duration) duration=$v ;; connections) connections=$v ;; threads) threads=$v ;;
    runs) runs=$v ;; nginx-workers) nginx_workers=$v ;;
  esac
done
[ "$connections" -ge "$threads" ] || die "--connections must be at least --threads (wrk gives each thread one connection or more)"
[ "$connections" -le 200 ] || die "--connections above 200 would hit the node's limit of 256 open RPC connections"

# --- packages --------------------------------------------------------------------------

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x "$NGINX" ] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing Debian packages: ${missing[*]}; install them as root with: apt-get install -y ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing missing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    say "note: Debian may start its own nginx service on install; this benchmark runs a private instance and leaves that service alone"
  fi
fi

# --- build -----------------------------------------------------------------------------

VERITYD=$ROOT/build/node/verityd
if [ $build = 1 ]; then
  if [ ! -f "$ROOT/build/build.ninja" ]; then
    say "configuring build/"
    meson setup "$ROOT/build" "$ROOT" >/dev/null || die "meson setup failed"
  fi
  say "building (ninja -C build)"
  ninja -C "$ROOT/build" >/dev/null || die "the build failed (ninja -C build)"
fi
[ -x "$VERITYD" ] || die "$VERITYD is missing: run without --no-build"

# --- cleanup: stop everything this script started ----------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/verity-rpc-bench.XXXXXX")
DEVNET=$TMP/devnet
nginx_pid="" wrk_pid="" devnet_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$wrk_pid" ] && kill -0 "$wrk_pid" 2>/dev/null; then kill -TERM "$wrk_pid" 2>/dev/null || true; fi
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nginx_pid" 2>/dev/null || true
  fi
  if [ $devnet_started = 1 ]; then
    timeout 60 "$ROOT/scripts/devnet" stop --dir "$DEVNET" >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports -----------------------------------------------------------------------------

# A devnet base port B with B..B+3 (RPC) and B+100..B+103 (peers) free, and one
# more free port for nginx. Another program may still take one before we bind it:
# then the devnet or nginx fails to start and says so.
read -r base nginx_port < <(python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 60000)
    if all(free(p) for p in [*range(b, b + 4), *range(b + 100, b + 104)]):
        break
else:
    raise SystemExit("no free ports")
s = socket.socket(); s.bind(("127.0.0.1", 0)); n = s.getsockname()[1]; s.close()
while b <= n <= b + 103:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); n = s.getsockname()[1]; s.close()
print(b, n)
PY
)
[ -n "${nginx_port:-}" ] || die "could not find free ports"
RPC=http://127.0.0.1:$base

# --- devnet ----------------------------------------------------------------------------

say "starting a fresh 4-validator devnet in $DEVNET (RPC ports $base-$((base + 3)))"
devnet_started=1
if ! timeout 120 "$ROOT/scripts/devnet" --base-port "$base" --detach --dir "$DEVNET" --no-build >"$TMP/devnet.out" 2>&1; then
  cat "$TMP/devnet.out" >&2
  die "the devnet did not start"
fi

# wrk's connections and the devnet's worker-1 (its WebSocket and calls) all
# come from 127.0.0.1: at the default per-address cap (32) they would take
# each other's place, and every replaced connection would count as an error.
# So validator-1 lets this address hold more, as a node behind a local
# reverse proxy would be configured; the other limits stay as they are.
timeout 60 "$ROOT/scripts/devnet" stop --dir "$DEVNET" >/dev/null 2>&1 || die "could not stop the devnet to configure it"
python3 - "$ROOT/tests/functional" "$DEVNET/validator-1" $((connections + 64)) <<'PY' \
  || die "could not set [rpc] max_connections_per_ip"
import sys
sys.path.insert(0, sys.argv[1])
from harness import set_config
set_config(sys.argv[2], "rpc", "max_connections_per_ip", sys.argv[3])
PY
if ! timeout 120 "$ROOT/scripts/devnet" --base-port "$base" --detach --dir "$DEVNET" --no-build >"$TMP/devnet.out" 2>&1; then
  cat "$TMP/devnet.out" >&2
  die "the devnet did not start again"
fi

deadline=$((SECONDS + 30))
until curl -fsS -m 2 "$RPC/health" >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "validator-1's RPC ($RPC/health) did not answer within 30 s; see $DEVNET/validator-1/verityd.log"
  sleep 0.2
done

alice=$(python3 -c '
import json, sys
print(next(a["address"] for a in json.load(open(sys.argv[1]))["accounts"] if a["name"] == "alice"))' \
  "$ROOT/genesis/devnet.json") || die "no account named alice in genesis/devnet.json"

STATUS_BODY='{"jsonrpc":"2.0","id":1,"method":"status"}'
ACCOUNT_BODY='{"jsonrpc":"2.0","id":1,"method":"account","params":{"address":"'$alice'"}}'

# Check the answers once before measuring: a "result", no "error", and the
# fields the spec promises.
check() {  # name body out-file python-check
  local code
  code=$(curl -sS -m 5 -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' --data "$2" "$RPC/") \
    || die "curl of $1 failed"
  [ "$code" = 200 ] || die "$1 answered HTTP $code: $(head -c 300 "$3")"
  python3 - "$3" "$4" <<'PY' || die "$1 answered without a correct \"result\": $(head -c 300 "$3")"
import json, sys
a = json.load(open(sys.argv[1]))
assert "result" in a and "error" not in a, a
r = a["result"]
assert eval(sys.argv[2]), sys.argv[2]
PY
  say "$1 answers correctly ($(wc -c <"$3") bytes): $(head -c 160 "$3")..."
}
check status "$STATUS_BODY" "$TMP/status.json" \
  '{"chain_id", "height", "latest_block_hash", "state_root", "validator"} <= r.keys() and r["height"] >= 1'
check account "$ACCOUNT_BODY" "$TMP/account.json" \
  "r['address'] == '$alice' and int(r['balance']) > 0 and 'nonce' in r"

lua() {  # file body
  cat >"$1" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
EOF
}
lua "$TMP/status.lua" "$STATUS_BODY"
lua "$TMP/account.lua" "$ACCOUNT_BODY"

# --- nginx -----------------------------------------------------------------------------

# Serves the status answer just received, byte for byte, as a static file.
mkdir -p "$TMP/nginx/www" "$TMP/nginx/temp"
cp "$TMP/status.json" "$TMP/nginx/www/status.json"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"  # else root's workers would run as nobody
cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes $nginx_workers;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/temp/body;
  proxy_temp_path $TMP/nginx/temp/proxy;
  fastcgi_temp_path $TMP/nginx/temp/fastcgi;
  uwsgi_temp_path $TMP/nginx/temp/uwsgi;
  scgi_temp_path $TMP/nginx/temp/scgi;
  types { application/json json; }
  default_type application/json;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    root $TMP/nginx/www;
  }
}
EOF
say "starting nginx on 127.0.0.1:$nginx_port ($nginx_workers worker process(es), static $(wc -c <"$TMP/nginx/www/status.json")-byte JSON file)"
"$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout" 2>&1 &
nginx_pid=$!
NGINX_URL=http://127.0.0.1:$nginx_port/status.json
deadline=$((SECONDS + 10))
until curl -fsS -m 2 -o /dev/null "$NGINX_URL" 2>/dev/null; do
  if ! kill -0 "$nginx_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    cat "$TMP/nginx/stdout" "$TMP/nginx/error.log" >&2 2>/dev/null || true
    die "nginx did not serve $NGINX_URL within 10 s"
  fi
  sleep 0.2
done
cmp -s <(curl -fsS -m 2 "$NGINX_URL") "$TMP/status.json" || die "nginx does not serve the status answer byte for byte"

# --- measure ---------------------------------------------------------------------------

height() { curl -fsS -m 2 "$RPC/health" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo "?"; }

# wrk's --latency text -> "req_per_s p50_ms p99_ms errors"
parse() {
  awk '
    function ms(s) {
      if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1000
      if (s ~ /ms$/) return substr(s, 1, length(s) - 2) + 0
      if (s ~ /m$/)  return substr(s, 1, length(s) - 1) * 60000
      if (s ~ /s$/)  return substr(s, 1, length(s) - 1) * 1000
      return -1
    }
    /Latency Distribution/ { dist = 1 }
    dist && $1 == "50%" { p50 = ms($2) }
    dist && $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p50 == "" || p99 == "") exit 1
      printf "%.0f %.3f %.3f %d\n", rps, p50, p99, err
    }'
}

fig=""
measure() {  # label url [lua-script]; sets fig="req/s p50 p99 errors blocks"
  local out=$TMP/wrk-$1.txt h0 h1 blocks="?" args=(-t "$threads" -c "$connections" -d "${duration}s" --latency)
  [ -n "${3:-}" ] && args+=(-s "$3")
  h0=$(height)
  timeout $((duration + 60)) wrk "${args[@]}" "$2" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk against $1 failed"; }
  wrk_pid=""
  h1=$(height)
  [[ $h0 =~ ^[0-9]+$ && $h1 =~ ^[0-9]+$ ]] && blocks=$((h1 - h0))
  fig=$(parse <"$out") || { cat "$out" >&2; die "could not read wrk's output for $1"; }
  fig="$fig $blocks"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
say "measuring: wrk -t $threads -c $connections -d ${duration}s --latency, $runs run(s), each target in turn (load average $load0)"
results=()
for run in $(seq 1 "$runs"); do
  measure nginx "$NGINX_URL"
  read -r n_rps n_p50 n_p99 n_err _ <<<"$fig"
  results+=("$run nginx-static $n_rps $n_p50 $n_p99 $n_err - -")
  for target in status account; do
    measure "$target" "$RPC/" "$TMP/$target.lua"
    read -r rps p50 p99 err blocks <<<"$fig"
    ratio=$(awk -v a="$rps" -v b="$n_rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    results+=("$run verityd-$target $rps $p50 $p99 $err $ratio $blocks")
  done
  say "run $run of $runs done"
done

echo
echo "wrk -t $threads -c $connections -d ${duration}s --latency; verityd = validator-1 of a 4-validator devnet"
echo "(RPC on its own threads; [rpc] max_connections_per_ip = $((connections + 64)) on it); nginx = $nginx_workers worker(s), static $(wc -c <"$TMP/status.json")-byte JSON; $(nproc) cores"
echo "load average (1, 5, 15 min) before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
printf '%-4s %-17s %12s %10s %10s %8s %10s %8s\n' run target 'requests/s' 'p50 ms' 'p99 ms' errors 'vs nginx' blocks
for row in "${results[@]}"; do
  # shellcheck disable=SC2086
  printf '%-4s %-17s %12s %10s %10s %8s %10s %8s\n' $row
done
echo "(errors: non-2xx/3xx responses + socket errors; vs nginx: verityd requests/s / nginx requests/s of the"
echo " same run; blocks: heights validator-1 committed during the measurement)"
