#!/usr/bin/env bash
# Proves the pre-commit hook with the real `pre-commit` tool: `pre-commit try-repo` against this
# repository, on a scratch git repository, for one commit that passes (etcd 5 -> 4) and one that
# is refused with the finding shown (etcd 5 -> 2). Exit 0 when both behave; prints the hook output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v pre-commit >/dev/null || { echo "pre-commit is not installed (pip install pre-commit)"; exit 3; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Sealed from the machine: own pre-commit cache (kept under target/ so the hook's build is reused),
# and a target dir + faster release profile for the hook's `cargo install`.
export PRE_COMMIT_HOME="${PRE_COMMIT_HOME:-$root/target/pre-commit-home}"
export CARGO_TARGET_DIR="${QUORATE_HOOK_TARGET_DIR:-$root/target/pre-commit-build}"
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

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

cd "$scratch"
git init -q -b main
git config user.email proof@example.com
git config user.name "pre-commit proof"
mkdir k8s
etcd 5 > k8s/etcd.yaml
git add k8s/etcd.yaml
git commit -qm "etcd with 5 members"

echo "== commit 1: etcd 5 -> 4 (must pass)"
etcd 4 > k8s/etcd.yaml
git add k8s/etcd.yaml
pre-commit try-repo "$root" quorate
git commit -qm "etcd: one member down"

echo "== commit 2: etcd 4 -> 2 (must be refused)"
etcd 2 > k8s/etcd.yaml
git add k8s/etcd.yaml
set +e
out=$(pre-commit try-repo "$root" quorate 2>&1)
status=$?
set -e
echo "$out"
if [ "$status" -eq 0 ]; then echo "FAIL: the 4 -> 2 commit was not refused"; exit 1; fi
grep -q "quorum/multiple-voters-at-once" <<<"$out" || { echo "FAIL: the finding is not shown"; exit 1; }
grep -q "replicas: 2" <<<"$out" || { echo "FAIL: the offending line is not shown"; exit 1; }
echo "== ok: 5 -> 4 passed, 4 -> 2 refused with the finding shown"
