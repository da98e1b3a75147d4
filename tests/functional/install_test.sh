#!/bin/bash
# `meson install --destdir` puts what docs/operators.md promises where it
# says: the binaries, the systemd unit (running the installed verityd as
# user verity), the sysusers.d and tmpfiles.d snippets, and the example
# config, which must be exactly what `verityd init` writes; and the
# browser pages where verityd looks for them (docs/rpc-server.md, "Pages").
# Usage: install_test.sh BUILD_DIR BINDIR UNITDIR SYSUSERSDIR TMPFILESDIR DOCDIR PAGESDIR (absolute install paths)
set -euo pipefail
build=$1 bindir=$2 unitdir=$3 sysusersdir=$4 tmpfilesdir=$5 docdir=$6 pagesdir=${7:-}
dest=$(mktemp -d /tmp/verity-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1 \
  || { cat "$dest.log" >&2; rm -f "$dest.log"; fail "meson install --destdir failed"; }
rm -f "$dest.log"

for b in verityd verity verity-worker; do
  [ -x "$dest$bindir/$b" ] || fail "$bindir/$b is not installed (or not executable)"
done
"$dest$bindir/verityd" --version | grep -q '^verityd ' || fail "the installed verityd does not run"
# Installed binaries are stripped (meson.build's strip=true): no debug info, a fraction of the size.
for b in verityd verity verity-worker; do
  readelf -S "$dest$bindir/$b" | grep -q '\.debug_info' && fail "$bindir/$b is installed with its debug info (strip=false?)"
done

unit=$dest$unitdir/verityd.service
[ -f "$unit" ] || fail "no verityd.service in $unitdir"
grep -qx "ExecStart=$bindir/verityd start --home /var/lib/verity" "$unit" \
  || fail "ExecStart does not run the installed verityd: $(grep ExecStart "$unit")"
for line in User=verity Restart=on-failure ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes \
            ReadWritePaths=/var/lib/verity 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
  grep -qx "$line" "$unit" || fail "verityd.service lacks '$line'"
done
grep -qE '@[A-Z_]+@' "$unit" && fail "verityd.service has an unsubstituted @VARIABLE@: $(grep -E '@[A-Z_]+@' "$unit")"

grep -q '^u verity ' "$dest$sysusersdir/verity.conf" || fail "no sysusers.d entry for the verity user"
grep -q '^d /var/lib/verity 0700 verity verity' "$dest$tmpfilesdir/verity.conf" || fail "no tmpfiles.d entry for the home"
[ -f "$dest$docdir/operators.md" ] || fail "docs/operators.md is not installed in $docdir"

example=$dest$docdir/config.toml.example
[ -f "$example" ] || fail "no config.toml.example in $docdir"
"$dest$bindir/verityd" init --home "$dest/home" >/dev/null 2>&1 || fail "verityd init failed"
diff -u "$example" "$dest/home/config.toml" || fail "config.toml.example differs from what 'verityd init' writes"
if [ -n "$pagesdir" ]; then
  for f in worker/index.html worker/worker.css worker/app.js worker/runner.js index.html explorer/app.js \
           explorer/explorer.css; do
    [ -s "$dest$pagesdir/$f" ] || fail "$pagesdir/$f is not installed"
  done
  # The page loads its scripts by absolute path, and they are the built bundles.
  grep -q 'src="/worker/app.js"' "$dest$pagesdir/worker/index.html" || fail "index.html does not load /worker/app.js"
  cmp -s "$build/web/pages/worker/app.js" "$dest$pagesdir/worker/app.js" || fail "the installed app.js is not the built one"
fi
echo "ok: install layout under $dest"
