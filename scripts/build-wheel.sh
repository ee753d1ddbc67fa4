#!/usr/bin/env bash
# Builds the quorate-cli wheel (packaging/pypi: maturin, bindings = "bin") into OUT_DIR and
# prints its path. Uses $QUORATE_MATURIN, or installs the pinned maturin into target/.
# QUORATE_WHEEL_PROFILE (default release) picks the cargo profile: the tests build `dev`, the
# same wheel with an unoptimized binary, to keep the suite's build time down; the release
# workflow builds with the crate's release profile. QUORATE_WHEEL_TARGET_DIR (default target/)
# is where cargo puts the binary; the tests keep it apart from theirs and share their
# intermediate artifacts through CARGO_BUILD_BUILD_DIR, so the wheel costs one link, not a build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${1:?usage: scripts/build-wheel.sh OUT_DIR}"
maturin="${QUORATE_MATURIN:-}"
if [ -z "$maturin" ]; then
  venv="$root/target/maturin-venv"
  if [ ! -x "$venv/bin/maturin" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "maturin==1.16.0"
  fi
  maturin="$venv/bin/maturin"
fi
export CARGO_TARGET_DIR="${QUORATE_WHEEL_TARGET_DIR:-$root/target}"
mkdir -p "$out"
rm -f "$out"/quorate_cli-*.whl
profile="${QUORATE_WHEEL_PROFILE:-release}"
(cd "$root/packaging/pypi" && "$maturin" build --profile "$profile" --quiet --out "$out" >&2)
ls "$out"/quorate_cli-*.whl
