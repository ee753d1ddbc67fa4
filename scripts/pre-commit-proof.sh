#!/usr/bin/env bash
# Proves the pre-commit hooks with the real `pre-commit` tool: `pre-commit try-repo` against
# this repository, on a scratch git repository.
#   - the `quorate` hook (language: python: the quorate-cli wheel, served from a local
#     directory as PyPI would) and the `quorate-src` hook (built with Cargo.lock) each pass a
#     commit that scales etcd 5 -> 4 and refuse one that scales it 4 -> 2, with the finding shown;
#   - range mode: after a pushed-style commit 5 -> 2, `--from-ref/--to-ref` (what the pre-push
#     stage and pre-commit.ci pass) refuses it, and `--all-files` without a range says it has
#     nothing to check instead of passing silently.
# Exit 0 when all behave; prints the hook output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v pre-commit >/dev/null || { echo "pre-commit is not installed (pip install pre-commit)"; exit 3; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Sealed from the machine: own pre-commit cache (kept under target/), and one target dir for
# the wheel's build and quorate-src's, both with the dev profile (the same code, unoptimized,
# to keep the suite's build time down; the release workflow builds the release profile).
# tests/pre_commit.rs also sets CARGO_BUILD_BUILD_DIR to the suite's own build directory, so
# both builds reuse the dependencies the suite compiled; their binaries stay in this target dir.
export PRE_COMMIT_HOME="${PRE_COMMIT_HOME:-$root/target/pre-commit-home}"
export CARGO_TARGET_DIR="${QUORATE_HOOK_TARGET_DIR:-$root/target/pre-commit-build}"
export QUORATE_WHEEL_TARGET_DIR="$CARGO_TARGET_DIR" QUORATE_SRC_TARGET_DIR="$CARGO_TARGET_DIR"
export QUORATE_WHEEL_PROFILE=dev QUORATE_SRC_PROFILE=dev
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# The wheel, where pip finds it as it would on PyPI (the shim depends on quorate-cli==VERSION).
wheels="${QUORATE_WHEEL_DIR:-$scratch/wheels}"
if ! ls "$wheels"/quorate_cli-*.whl >/dev/null 2>&1; then
  "$root/scripts/build-wheel.sh" "$wheels" >/dev/null
fi
export PIP_FIND_LINKS="$wheels"
repo="$scratch/repo"

etcd() {
  cat <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: etcd
  namespace: platform
spec:
  replicas: $1
  serviceName: etcd
  selector:
    matchLabels:
      app: etcd
  template:
    metadata:
      labels:
        app: etcd
    spec:
      containers:
        - name: etcd
          image: quay.io/coreos/etcd:v3.5.17
YAML
}

refused() { # refused LABEL OUTPUT STATUS
  echo "$2"
  if [ "$3" -eq 0 ]; then echo "FAIL: $1 was not refused"; exit 1; fi
  grep -q "quorum/multiple-voters-at-once" <<<"$2" || { echo "FAIL: $1: the finding is not shown"; exit 1; }
  grep -q "replicas: 2" <<<"$2" || { echo "FAIL: $1: the offending line is not shown"; exit 1; }
}

# PATH without any directory holding cargo: the wheel hook must install without Rust.
no_cargo_path=$(echo "$PATH" | tr ':' '\n' | while read -r d; do [ -x "$d/cargo" ] || echo "$d"; done | paste -sd: -)

commit_mode() { # commit_mode HOOK [PATH]
  rm -rf "$repo"; mkdir -p "$repo/k8s"; cd "$repo"
  git init -q -b main
  git config user.email proof@example.com
  git config user.name "pre-commit proof"
  etcd 5 > k8s/etcd.yaml
  git add k8s/etcd.yaml
  git commit -qm "etcd with 5 members"

  echo "== $1: commit 1: etcd 5 -> 4 (must pass)"
  etcd 4 > k8s/etcd.yaml
  git add k8s/etcd.yaml
  PATH="${2:-$PATH}" pre-commit try-repo "$root" "$1" --verbose 2>&1 | tee "$scratch/src-build.log"
  git commit -qm "etcd: one member down"

  echo "== $1: commit 2: etcd 4 -> 2 (must be refused)"
  etcd 2 > k8s/etcd.yaml
  git add k8s/etcd.yaml
  set +e
  out=$(PATH="${2:-$PATH}" pre-commit try-repo "$root" "$1" 2>&1)
  status=$?
  set -e
  refused "$1 commit 4 -> 2" "$out" "$status"
  git reset -q --hard
}

PATH="$no_cargo_path" command -v cargo >/dev/null && { echo "FAIL: cargo is still on the no-cargo PATH"; exit 1; }
echo "== the quorate hook (wheel), with no cargo on PATH"
commit_mode quorate "$no_cargo_path"
echo "== the quorate-src hook (built with Cargo.lock)"
# Its build shares the wheel's dependencies, but not the wheel's binary: it must build its own.
rm -f "$CARGO_TARGET_DIR/debug/quorate"
commit_mode quorate-src
grep -q "building quorate with Cargo.lock" "$scratch/src-build.log" || { echo "FAIL: quorate-src did not build"; exit 1; }

echo "== range mode: a commit 5 -> 2 already made, checked as pre-push passes it"
cd "$repo"
git reset -q --hard HEAD~1          # back to 5 members
etcd 2 > k8s/etcd.yaml
git commit -qam "etcd: scale to 2"
set +e
out=$(PATH="$no_cargo_path" pre-commit try-repo "$root" quorate --from-ref HEAD~1 --to-ref HEAD --verbose 2>&1)
status=$?
set -e
refused "the pushed 5 -> 2 commit" "$out" "$status"
grep -q "checking the commits HEAD~1...HEAD" <<<"$out" || { echo "FAIL: range mode not announced"; exit 1; }

echo "== --all-files without a range: says there is nothing to check"
out=$(PATH="$no_cargo_path" pre-commit try-repo "$root" quorate --all-files --verbose 2>&1)
echo "$out"
grep -q "pre-commit named no range" <<<"$out" || { echo "FAIL: --all-files checked nothing silently"; exit 1; }

echo "== ok: wheel and source hooks: 5 -> 4 passed, 4 -> 2 refused; pushed 5 -> 2 refused in range mode"
