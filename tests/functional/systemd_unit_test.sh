#!/bin/bash
# `systemd-analyze verify` accepts verityd.service with no warning. The unit
# names the installed verityd, which systemd-analyze checks exists, so a
# copy runs the build's verityd instead. Exit 77 (skipped) when
# systemd-analyze is missing or cannot verify even a trivial unit here (in
# some containers it cannot set up its manager).
# Usage: systemd_unit_test.sh UNIT VERITYD
set -uo pipefail
unit=$1 verityd=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not found (Debian package systemd)"
  exit 77
fi
dir=$(mktemp -d /tmp/verity-unit-XXXXXX)
trap 'rm -rf "$dir"' EXIT

printf '[Service]\nExecStart=/bin/true\n' >"$dir/probe.service"
if ! probe=$(systemd-analyze verify --man=no "$dir/probe.service" 2>&1); then
  echo "SKIP: systemd-analyze cannot verify units here: $probe"
  exit 77
fi

sed "s|^ExecStart=[^ ]*/verityd |ExecStart=$verityd |" "$unit" >"$dir/verityd.service"
grep -q "^ExecStart=$verityd " "$dir/verityd.service" || { echo "FAIL: no ExecStart=.../verityd in $unit"; exit 1; }
out=$(systemd-analyze verify --man=no "$dir/verityd.service" 2>&1)
rc=$?
# Lines about other units (the host's own) are not ours.
ours=$(printf '%s\n' "$out" | grep 'verityd.service' || true)
if [ $rc -ne 0 ] || [ -n "$ours" ]; then
  echo "FAIL: systemd-analyze verify (exit $rc):"
  printf '%s\n' "$out"
  exit 1
fi
echo "ok: systemd-analyze verify accepts verityd.service"
