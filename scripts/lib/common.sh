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
)

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

configure_and_build() {
  if [ ! -f "$VERITY_BUILD/build.ninja" ]; then
    say "configuring $VERITY_BUILD"
    meson setup "$VERITY_BUILD" "$VERITY_ROOT" || exit 1
  fi
  say "building (incremental) in $VERITY_BUILD"
  meson compile -C "$VERITY_BUILD" || exit 1
}
