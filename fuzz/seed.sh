#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs from the repository's testdata/ and the shared
# real-world corpus (../shared/corpus beside the repository, or $QUORATE_CORPUS), sorted by what
# each file holds (formats are recognized by content, as quorate does), plus the quorate.yaml
# examples of the README. Existing corpus entries (what the fuzzers found) are kept.
#
#   fuzz/seed.sh            # seeds every target
set -euo pipefail

fuzz="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$fuzz")"
shared="${QUORATE_CORPUS:-$repo/../shared/corpus}"
out="$fuzz/corpus"
# Larger seeds only slow every mutation down; the largest real plans are ~420 KB.
max_bytes=$((512 * 1024))

targets=(check_pipeline terraform_plan k8s_manifests config admission_review json_locator
  observed_aws observed_kubectl observed_elasticsearch observed_native)
for t in "${targets[@]}"; do
  mkdir -p "$out/$t"
done

# add TARGET NAME FILE: copies FILE as corpus/TARGET/NAME.
add() {
  cp "$3" "$out/$1/$2"
}

# seed FILE NAME: every target FILE is an input of.
seed() {
  local f="$1" name="$2" base first json=false
  base="$(basename "$f")"
  [ "$(wc -c <"$f")" -le "$max_bytes" ] || return 0
  case "$base" in
    *.expected.json) add json_locator "$name" "$f"; return 0 ;;
    quorate.yaml | quorate.yml) add config "$name" "$f"; return 0 ;;
    *.json | *.yaml | *.yml) ;;
    *) return 0 ;;
  esac
  first="$(tr -d ' \t\r\n\357\273\277' <"$f" | head -c 1 || true)"
  case "$first" in
    '{' | '[') json=true ;;
  esac
  $json && add json_locator "$name" "$f"
  if grep -qE '"kind": *"AdmissionReview"|^kind: AdmissionReview' "$f"; then
    # The webhook reads JSON bodies only.
    if $json; then add admission_review "$name" "$f"; fi
    return 0
  fi
  add check_pipeline "$name" "$f"
  local known=false
  if grep -qE '"(resource_changes|resource_drift|plan_format_version|planned_values|prior_state)"' "$f"; then
    add terraform_plan "$name" "$f"; known=true
  fi
  if grep -qE '"(AutoScalingGroups|AutoScalingInstances|InstanceRefreshes|Activities|Reservations)"' "$f"; then
    add observed_aws "$name" "$f"; known=true
  fi
  if grep -qE '"?cluster_name"?:' "$f" && grep -qE '"?number_of_nodes"?:' "$f" \
    || { [ "$first" = '[' ] && grep -qE '"ip"' "$f"; }; then
    add observed_elasticsearch "$name" "$f"; known=true
  fi
  if grep -qE '^kind: *Observed|"kind": *"Observed"' "$f"; then
    add observed_native "$name" "$f"; known=true
  fi
  if ! $known && grep -qE '^apiVersion:|"apiVersion"' "$f"; then
    # Live objects (`kubectl get -o json`: uid, resourceVersion, status) and Lists are observed
    # state; the rest are manifests. A List of manifests is both.
    if grep -qE '"uid"|"resourceVersion"|^  uid:|^  resourceVersion:|"kind": *"[A-Za-z]*List"|^kind: *[A-Za-z]*List' "$f"; then
      add observed_kubectl "$name" "$f"
    fi
    if ! grep -qE '"uid"|^  uid:' "$f"; then
      add k8s_manifests "$name" "$f"
    fi
  fi
}

# Repository test data. Admission reviews with a cluster file beside them are also seeded as
# review + 0xFF + cluster, the admission_review target's form for looked-up state.
while IFS= read -r -d '' f; do
  rel="${f#"$repo/"}"
  seed "$f" "${rel//\//__}"
  case "$f" in
    "$repo"/testdata/admission/*.cluster.json)
      review="${f%.cluster.json}.json"
      [ -f "$review" ] || continue
      name="$(basename "${review%.json}").with-cluster"
      { cat "$review"; printf '\377'; cat "$f"; } >"$out/admission_review/$name"
      ;;
  esac
done < <(find "$repo/testdata" -type f -print0 | sort -z)

# The real-world corpus (see its MANIFEST.tsv for where each file comes from).
if [ -d "$shared" ]; then
  while IFS= read -r -d '' f; do
    rel="${f#"$shared/"}"
    seed "$f" "shared__${rel//\//__}"
  done < <(find "$shared" -type f ! -name MANIFEST.tsv -print0 | sort -z)
else
  echo "seed.sh: $shared not found; seeding from testdata/ only" >&2
fi

# quorate.yaml examples in the README (fenced YAML blocks that are quorate config).
awk -v dir="$out/config" '
  /^```yaml/ { inblock = 1; n++; buf = ""; next }
  /^```/ && inblock {
    inblock = 0
    if (buf ~ /(^|\n)# quorate\.yaml/ || buf ~ /(^|\n)(groups|stabilization_window|waivers|freezes|severity):/) {
      printf "%s", buf > (dir "/readme-block-" n ".yaml")
      close(dir "/readme-block-" n ".yaml")
    }
    next
  }
  inblock { buf = buf $0 "\n" }
' "$repo/README.md"

for t in "${targets[@]}"; do
  printf '%-24s %4d seeds\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
