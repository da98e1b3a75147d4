#!/usr/bin/env bash
# A fuzz target's meson test in a libFuzzer build:
#   run_libfuzzer.sh TARGET ARTIFACT_DIR SECONDS RUNS DIR...
# Replays every input under the DIRs (seeds, regressions; missing ones are
# skipped), then fuzzes for at most SECONDS or RUNS inputs, whichever ends
# first, with a fixed seed. New inputs go to a scratch directory, never
# into the DIRs; a crash is saved under ARTIFACT_DIR and named on stderr.
set -euo pipefail
target=$1 artifacts=$2 seconds=$3 runs=$4
shift 4
dirs=()
for d in "$@"; do
  [ -d "$d" ] && dirs+=("$d")
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
"$target" -seed=1 -runs="$runs" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/$(basename "$target")-" "$scratch" "${dirs[@]}"
