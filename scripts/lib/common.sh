# Shared by scripts/test and scripts/devnet: make sure the Debian packages
# are there (installing them when run as root), then configure and build.
# Sourced, not run.

VERITY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERITY_BUILD=${VERITY_BUILD:-$VERITY_ROOT/build}

# Everything the build and the tests need, all from Debian 12.
VERITY_PACKAGES=(
  g++ meson ninja-build pkg-config cmake python3
  libcrypto++-dev libleveldb-dev libsecp256k1-dev rapidjson-dev
  libboost-dev libboost-test-dev libssl-dev wabt libtomlplusplus-dev
  clang lld wasi-libc libclang-rt-14-dev-wasm32   # the example tasks, built as WASI modules
  iproute2   # ip netns: the partition test
  systemd   # systemd.pc (where meson installs verityd.service) and systemd-analyze (its test)
  libseccomp-dev   # verity-sandbox, the aot runner's system-call filter
  libgoogle-perftools-dev   # tcmalloc, verityd's malloc (meson_options.txt: allocator)
  nodejs   # the node engine (web/node_runner.mjs) and its tests; the browser worker shares its WASI host
  libclang-rt-14-dev   # clang's ASan, UBSan and libFuzzer runtimes: scripts/fuzz
  chromium fonts-liberation   # the browser tests (headless, driven over the DevTools protocol)
)

# The sanitizer build of scripts/test (docs/testing.md).
VERITY_SANITIZER_BUILD=${VERITY_SANITIZER_BUILD:-$VERITY_ROOT/build-asan}

say() { printf '==> %s\n' "$*"; }

ensure_packages() {
  local missing=() pkg
  for pkg in "${VERITY_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all ${#VERITY_PACKAGES[@]} present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || { echo "error: apt-get update failed" >&2; exit 1; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { echo "error: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
}

# The JavaScript of web/package.json (the pages' libraries, the bundler,
# the browser tests' driver), exactly as the committed web/package-lock.json
# pins them (`npm ci`: nothing resolved anew, install scripts not run), into
# web/node_modules. Again only when the lockfile changed. Nothing is
# fetched at run time: meson bundles the pages from these files.
ensure_web_packages() {
  local web=$VERITY_ROOT/web
  if [ -f "$web/node_modules/.package-lock.json" ] && [ ! "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    say "web/node_modules: up to date with web/package-lock.json"
    return 0
  fi
  command -v npm >/dev/null || { echo "error: npm is missing (it comes with Node.js: apt-get install nodejs npm)" >&2; exit 1; }
  say "installing web/node_modules from web/package-lock.json (npm ci)"
  (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts) || { echo "error: npm ci in web/ failed" >&2; exit 1; }
}

# configure_and_build [DIR [MESON SETUP OPTIONS...]]: DIR is $VERITY_BUILD
# unless given; the options apply when DIR is first configured.
configure_and_build() {
  local dir=${1:-$VERITY_BUILD}
  [ $# -gt 0 ] && shift
  ensure_web_packages
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir"
    meson setup "$dir" "$VERITY_ROOT" "$@" || exit 1
  elif ! grep -qx "strip = true" "$dir/meson-private/cmd_line.txt" 2>/dev/null; then
    # A build dir set up before meson.build had strip=true keeps its old
    # value; once set here, the line above finds it.
    meson configure "$dir" -Dstrip=true >/dev/null || exit 1
  fi
  say "building (incremental) in $dir"
  meson compile -C "$dir" || exit 1
}

# The sanitizer build: the project's compiler with AddressSanitizer and
# UndefinedBehaviorSanitizer on every library and test (-Db_lundef=false:
# the sanitizer runtimes resolve symbols at load time), unoptimised (-O0:
# the usual setting for ASan, and it compiles the Beast-heavy sources
# several times faster than -O2, which matters on a fresh CI machine).
configure_and_build_sanitized() {
  configure_and_build "$VERITY_SANITIZER_BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=0
}

# The fuzz build (scripts/fuzz): clang with ASan and UBSan, libFuzzer's
# coverage instrumentation (-fsanitize=fuzzer-no-link) in every library,
# and the fuzz targets linked with libFuzzer (tests/fuzz/meson.build). Only
# the fuzz targets, their seeds and what they link are built.
VERITY_FUZZ_BUILD=${VERITY_FUZZ_BUILD:-$VERITY_ROOT/build-fuzz}
configure_and_build_fuzz() {
  local coverage=-fsanitize=fuzzer-no-link dir=$VERITY_FUZZ_BUILD
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir (clang, ASan + UBSan, libFuzzer)"
    CC=clang CXX=clang++ CFLAGS=$coverage CXXFLAGS=$coverage LDFLAGS=$coverage \
      meson setup "$dir" "$VERITY_ROOT" -Db_sanitize=address,undefined -Db_lundef=false || exit 1
  fi
  say "building the fuzz targets (incremental) in $dir"
  meson compile -C "$dir" fuzz_corpus "$@" || exit 1
}

# What the sanitizer runs use: stop at the first UBSan report with a stack
# (UBSan only warns by default), minus the library bugs listed in
# tests/ubsan.supp, and look for leaks at exit, minus tests/lsan.supp
# (LeakSanitizer works in this container; it needs ptrace-like access to
# the process).
export_sanitizer_options() {
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$VERITY_ROOT/tests/ubsan.supp
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export LSAN_OPTIONS=suppressions=$VERITY_ROOT/tests/lsan.supp
}
