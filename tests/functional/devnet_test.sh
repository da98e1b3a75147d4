#!/usr/bin/env bash
# scripts/devnet as a user runs it: start detached, refuse a second start,
# status, stop, restart on the same data, --reset, and the foreground mode
# stopping every validator on Ctrl-C (SIGINT). Ports: a free block chosen
# at random; data in a temporary directory; everything stopped on exit.
set -u
root=${VERITY_SOURCE_ROOT:?}
devnet=$root/scripts/devnet
dir=$(mktemp -d /tmp/verity-devnet-test-XXXXXX)
fail() { echo "FAIL: $*"; for f in "$dir"/validator-*/verityd.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }
# Exists and is not a zombie: the detached devnet's processes belong to
# init, which may reap a killed one late, even between kill -0 and the
# read of its stat file (an empty state: gone).
running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}
cleanup() { "$devnet" stop --dir "$dir" >/dev/null 2>&1; [ -n "${fg:-}" ] && kill -9 "$fg" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

base=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 60000)
    ports = [base + i for i in range(4)] + [base + 100 + i for i in range(4)]
    try:
        socks = []
        for p in ports:
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
[ -n "$base" ] || fail "no free port block"

out=$(timeout 120 "$devnet" --no-build --detach --dir "$dir" --base-port "$base" 2>&1) || fail "start: $out"
for want in "devnet is up" "http://127.0.0.1:$base" "http://127.0.0.1:$((base + 3))" "alice" "dave" "scripts/devnet stop"; do
  grep -q -- "$want" <<<"$out" || fail "start output lacks '$want': $out"
done
[ "$(wc -l <"$dir/pids")" = 7 ] || fail "not 7 pids (4 validators, 3 workers)"
# The printed RPC endpoint answers.
python3 - "$base" <<'PY' || fail "validator-1's RPC did not answer status"
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/", method="POST",
                             data=b'{"jsonrpc":"2.0","id":1,"method":"status"}',
                             headers={"Content-Type": "application/json"})
assert json.load(urllib.request.urlopen(req, timeout=10))["result"]["chain_id"] == "verity-devnet-1"
PY

out=$(timeout 60 "$devnet" --no-build --detach --dir "$dir" --base-port "$base" 2>&1) && fail "a second start succeeded"
grep -q "already running" <<<"$out" || fail "second start: $out"
timeout 30 "$devnet" status --dir "$dir" | grep -q "validator-4=" || fail "status"
# A validator whose process died is named, with its log, and status fails.
kill -KILL "$(sed -n 3p "$dir/pids")"
sleep 0.2
out=$(timeout 30 "$devnet" status --dir "$dir" 2>&1) && fail "status exited 0 with validator-3 dead: $out"
grep -q "validator-3 (pid [0-9]*) is not running" <<<"$out" || fail "status did not name validator-3: $out"
grep -q "validator-3/verityd.log" <<<"$out" || fail "status did not point at validator-3's log: $out"
grep -q "1 of 7 processes are not running" <<<"$out" || fail "status miscounted: $out"

pids=$(cat "$dir/pids")
timeout 60 "$devnet" stop --dir "$dir" >/dev/null || fail "stop"
for p in $pids; do running "$p" && fail "pid $p survived stop"; done
grep -q " node stopped " "$dir/validator-1/verityd.log" || fail "validator-1 did not log a clean stop"
timeout 30 "$devnet" status --dir "$dir" >/dev/null && fail "status says running after stop"

before=$(grep -c " committed " "$dir/validator-1/verityd.log")
out=$(timeout 120 "$devnet" --no-build --detach --dir "$dir" --base-port "$base" 2>&1) || fail "restart: $out"
grep -q "opened h=0 v=0 chain=verity-devnet-1 height=0" <(tail -n +2 "$dir/validator-1/verityd.log" | grep "opened" | tail -1) \
  && fail "restart began from height 0: the data was not kept"
timeout 60 "$devnet" stop --dir "$dir" >/dev/null || fail "stop 2"
after=$(grep -c " committed " "$dir/validator-1/verityd.log")
[ "$after" -gt "$before" ] || fail "no commits after the restart"

out=$(timeout 60 "$devnet" --no-build --detach --dir "$dir" --base-port "$((base + 1))" 2>&1) && fail "another base port on old data"
grep -q -- "--reset" <<<"$out" || fail "base port mismatch message: $out"

timeout 120 "$devnet" --no-build --detach --reset --dir "$dir" --base-port "$base" >/dev/null 2>&1 || fail "--reset"
[ "$(grep -c " opened " "$dir/validator-1/verityd.log")" = 1 ] || fail "--reset kept the old data"
timeout 60 "$devnet" stop --dir "$dir" >/dev/null || fail "stop 3"

# Foreground: Ctrl-C stops them all.
# (A background job of a script starts with SIGINT ignored, which its trap
# cannot undo: start it through python3 with SIGINT back to the default.)
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' \
  "$devnet" --no-build --dir "$dir" --base-port "$base" >"$dir/fg.out" 2>&1 &
fg=$!
for _ in $(seq 1 600); do grep -q "Ctrl-C stops" "$dir/fg.out" && break; sleep 0.1; done
grep -q "Ctrl-C stops" "$dir/fg.out" || fail "foreground devnet did not come up: $(cat "$dir/fg.out")"
pids=$(cat "$dir/pids")
kill -INT "$fg"
for _ in $(seq 1 200); do kill -0 "$fg" 2>/dev/null || break; sleep 0.1; done
kill -0 "$fg" 2>/dev/null && fail "the foreground script ignored SIGINT"
for p in $pids; do running "$p" && fail "pid $p survived Ctrl-C"; done
fg=
echo "ok: devnet start, refuse, status (and a dead validator named), stop, restart, --reset, Ctrl-C"
