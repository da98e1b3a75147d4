#!/usr/bin/env bash
# Each executable answers --help (exit 0, usage on stdout) and --version
# ("NAME VERSION"), and rejects an unknown option with exit 2. The three
# share one argument parser (cli/args.h), so every command of each answers
# `COMMAND --help` with its own usage (exit 0) and refuses an unknown or a
# repeated option with exit 2 and a pointer to its help.
set -u
version=$1; shift
fail=0
bad() { echo "FAIL: $*"; fail=1; }
for exe in "$@"; do
  name=$(basename "$exe")
  out=$("$exe" --version) || bad "$name --version exited $?"
  [ "$out" = "$name $version" ] || bad "$name --version printed '$out'"
  "$exe" --help | grep -q "^Usage:" || bad "$name --help has no usage"
  "$exe" --no-such-flag >/dev/null 2>&1; rc=$?
  [ "$rc" = 2 ] || bad "$name --no-such-flag exited $rc, not 2"
  commands=$("$exe" --help | awk '/^Commands:/ {on = 1; next} on && !NF {exit} on {print $1}')
  [ -n "$commands" ] || bad "$name --help lists no commands"
  for cmd in $commands; do
    help=$("$exe" "$cmd" --help 2>&1); rc=$?
    [ "$rc" = 0 ] || bad "$name $cmd --help exited $rc"
    case "$help" in Usage:*"$name $cmd"*) ;; *) bad "$name $cmd --help printed no usage of its own: ${help:0:200}" ;; esac
    err=$("$exe" "$cmd" --no-such-option 2>&1 >/dev/null); rc=$?
    [ "$rc" = 2 ] || bad "$name $cmd --no-such-option exited $rc, not 2"
    case "$err" in *"--help"*) ;; *) bad "$name $cmd --no-such-option did not point at --help: $err" ;; esac
  done
  checked=$((${checked:-0} + $(echo "$commands" | wc -w)))
done
# A repeated option is a usage error in every program.
for exe in "$@"; do
  name=$(basename "$exe")
  case $name in
    verityd) args=(init --home /nonexistent/a --home /nonexistent/b) ;;
    verity) args=(--rpc http://127.0.0.1:1 --rpc http://127.0.0.1:2 status) ;;
    verity-worker) args=(run --home /nonexistent/a --home /nonexistent/b) ;;
    *) continue ;;
  esac
  err=$("$exe" "${args[@]}" 2>&1 >/dev/null); rc=$?
  [ "$rc" = 2 ] || bad "$name ${args[*]} exited $rc, not 2"
  case "$err" in *"given twice"*) ;; *) bad "$name ${args[*]}: no 'given twice' in: $err" ;; esac
done
# Each links only what it uses (docs/layout.md): the client carries no
# sandbox, store, server or node, the worker no store, server or node.
if command -v nm >/dev/null; then
  for exe in "$@"; do
    name=$(basename "$exe")
    case $name in
      verity) forbidden='wabt::|leveldb::|verity::node::|verity::rpc::Server::' ;;
      verity-worker) forbidden='leveldb::|verity::node::|verity::rpc::Server::|verity::client::Session' ;;
      *) continue ;;
    esac
    found=$(nm -C "$exe" | grep -E -c "$forbidden")
    [ "$found" = 0 ] || bad "$name links $found symbols it should not ($forbidden)"
  done
else
  echo "note: nm is not installed (binutils): what each binary links is not checked"
fi
[ $fail = 0 ] && echo "ok: $# executables, $checked commands"
exit $fail
