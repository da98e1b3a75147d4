#!/usr/bin/env bash
# Each executable answers --help (exit 0, usage on stdout) and --version
# ("NAME VERSION"), and rejects an unknown option with exit 2.
set -u
version=$1; shift
fail=0
for exe in "$@"; do
  name=$(basename "$exe")
  out=$("$exe" --version) || { echo "FAIL: $name --version exited $?"; fail=1; }
  [ "$out" = "$name $version" ] || { echo "FAIL: $name --version printed '$out'"; fail=1; }
  "$exe" --help | grep -q "^Usage:" || { echo "FAIL: $name --help has no usage"; fail=1; }
  "$exe" --no-such-flag >/dev/null 2>&1; rc=$?
  [ "$rc" = 2 ] || { echo "FAIL: $name --no-such-flag exited $rc, not 2"; fail=1; }
done
[ $fail = 0 ] && echo "ok: $# executables"
exit $fail
