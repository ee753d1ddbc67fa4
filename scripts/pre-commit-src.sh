#!/usr/bin/env bash
# The `quorate-src` pre-commit hook: builds quorate from this checkout with its Cargo.lock
# (`cargo build --locked`, the versions CI tested) the first time, then runs it with the
# hook's arguments. The build stays in this checkout's target/ (inside pre-commit's cache), not
# in a CARGO_TARGET_DIR shared with other checkouts, whose release/quorate may be another version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${QUORATE_SRC_TARGET_DIR:-$root/target}"
# QUORATE_SRC_PROFILE (default release): the hook proof builds `dev` to share the suite's build.
profile="${QUORATE_SRC_PROFILE:-release}"
case "$profile" in dev) out=debug ;; *) out="$profile" ;; esac
bin="$target/$out/quorate"
if [ ! -x "$bin" ] || [ "$root/Cargo.lock" -nt "$bin" ]; then
  command -v cargo >/dev/null 2>&1 || {
    echo "quorate-src: cargo is not installed; use the quorate hook (prebuilt) instead" >&2
    exit 2
  }
  echo "quorate-src: building quorate with Cargo.lock (first use only)" >&2
  cargo build --profile "$profile" --locked --bin quorate --manifest-path "$root/Cargo.toml" \
    --target-dir "$target" >&2
fi
exec "$bin" "$@"
