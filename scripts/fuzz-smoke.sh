#!/usr/bin/env bash
# Fuzz smoke: seeds the corpora (fuzz/seed.sh), builds every fuzz target (cargo-fuzz default:
# release with debug assertions, AddressSanitizer) and runs each for SECONDS (default 60), one
# job, replaying its saved reproducers (fuzz/regressions/<target>/) first. Exits 1 naming each
# target that crashed, timed out or ran out of memory, and its artifact under fuzz/artifacts/.
#
#   scripts/fuzz-smoke.sh [SECONDS]     # tests/fuzz_smoke.rs runs it (QUORATE_FUZZ_SECONDS)
#   scripts/fuzz-smoke.sh --install     # only install the pinned cargo-fuzz (.ci/run)
#
# cargo-fuzz is installed when missing (into $CARGO_INSTALL_ROOT when set, as cargo does).
# libFuzzer needs nightly compiler flags; RUSTC_BOOTSTRAP=1 allows them on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
export RUSTC_BOOTSTRAP=1

pinned="cargo-fuzz $CARGO_FUZZ_VERSION"
installed="$(cargo fuzz --version 2>/dev/null || true)"
# --install (CI) wants the pinned version; a run makes do with the one a developer has.
if [ -z "$installed" ] || { [ "${1:-}" = "--install" ] && [ "$installed" != "$pinned" ]; }; then
  echo "fuzz-smoke: installing $pinned" >&2
  cargo install --quiet --locked cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
elif [ "$installed" != "$pinned" ]; then
  echo "fuzz-smoke: note: $installed is installed, the pinned version is $CARGO_FUZZ_VERSION" >&2
fi
if [ "${1:-}" = "--install" ]; then
  exit 0
fi
# The fuzz crate is its own workspace; keep its build out of a CARGO_TARGET_DIR shared with the
# main crate (a `cargo test` running this script holds that one). CI keeps it in its cache.
target_dir="${QUORATE_FUZZ_TARGET_DIR:-$PWD/fuzz/target}"

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz-smoke.sh [SECONDS]" >&2; exit 2 ;;
esac

# The smoke's build is optimized less than a campaign's (cargo-fuzz builds each crate as one
# codegen unit, with coverage and AddressSanitizer; cold, that took 26 minutes here): opt-level 1
# for `cargo fuzz build` and the `cargo fuzz run`s below, which must see the same settings or
# they rebuild. A campaign by hand keeps the profile's opt-level 3.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${QUORATE_FUZZ_OPT_LEVEL:-1}"

fuzz/seed.sh >/dev/null
started=$SECONDS
lock="$(cat fuzz/Cargo.lock)"
cargo fuzz build --target-dir "$target_dir"
echo "fuzz-smoke: built in $((SECONDS - started)) s"
# cargo fuzz has no --locked: say so when the build had to change the fuzz crate's lock file
# (the main crate's dependencies changed; commit the new fuzz/Cargo.lock).
if [ "$lock" != "$(cat fuzz/Cargo.lock)" ]; then
  echo "fuzz-smoke: note: fuzz/Cargo.lock was updated by the build; commit it" >&2
fi

logs="fuzz/artifacts/smoke-logs"
mkdir -p "$logs"
failed=()
for target in $(cargo fuzz list); do
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$artifacts" "fuzz/regressions/$target"
  before="$(ls -1 "$artifacts")"
  log="$logs/$target.log"
  # The corpus dir comes first: libFuzzer adds what it finds there, never to the regressions.
  status=0
  cargo fuzz run --target-dir "$target_dir" "$target" "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  new="$(comm -13 <(echo "$before") <(ls -1 "$artifacts") | sed "s|^|$artifacts/|" | tr '\n' ' ')"
  stats="$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" \
    | sed 's/^stat:://' | tr -s ' \n' ' ' || true)"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -1 || true)"
  # The build above made every target: a run that compiles the crate again means something
  # changes between two cargo invocations (a build script rerun, other flags), and would cost
  # a full rebuild per target.
  if grep -qE '^ *Compiling quorate ' "$log"; then
    failed+=("$target: cargo fuzz run rebuilt the quorate crate after cargo fuzz build; see $log")
    echo "fuzz-smoke: $target: cargo fuzz run rebuilt the quorate crate (see $log)"
  fi
  if [ "$status" -ne 0 ] || [ -n "$new" ]; then
    failed+=("$target (exit $status): ${new:-no artifact, see $log}")
    echo "fuzz-smoke: $target FAILED (exit $status) ${new:+artifact: $new}"
    grep -E 'ERROR: libFuzzer|==[0-9]+==ERROR|panicked at|SUMMARY:|overflowed its stack|out-of-memory|Test unit written' "$log" \
      | head -20 | sed 's/^/    /' || true
  else
    echo "fuzz-smoke: $target ok: $cov $stats"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: ${#failed[@]} target(s) failed:"
  printf '  %s\n' "${failed[@]}"
  echo "reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET ARTIFACT; minimize with cargo fuzz tmin TARGET ARTIFACT"
  exit 1
fi
echo "fuzz-smoke: every target ran ${seconds} s without a crash, timeout or OOM"
