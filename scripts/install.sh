#!/bin/sh
# Install a released quorate binary: download the archive for this OS and architecture, check
# its sha256 against the release's checksums.txt, and put `quorate` in a directory.
#
#   curl -fsSL https://raw.githubusercontent.com/quorate-dev/quorate/main/scripts/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- --version 0.1.0 --to /usr/local/bin
#
# Options (or the environment variable beside each):
#   --version V    release to install, e.g. 0.1.0 or v0.1.0, or "latest"   (QUORATE_VERSION)
#   --to DIR       directory for the binary (default: ~/.local/bin)          (QUORATE_INSTALL_DIR)
#   --base-url U   where releases live (default: GitHub releases; a mirror    (QUORATE_BASE_URL)
#                  or an internal server with the same layout:
#                  U/download/vX.Y.Z/<asset> and U/latest/download/<asset>)
#
# Exit 0 once the binary is installed and answers --version; 1 with a message otherwise. The
# archive is never unpacked before its checksum matches.
set -eu

version="${QUORATE_VERSION:-latest}"
dest="${QUORATE_INSTALL_DIR:-${HOME:-.}/.local/bin}"
base="${QUORATE_BASE_URL:-https://github.com/quorate-dev/quorate/releases}"

die() {
  echo "quorate install: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --to) [ $# -ge 2 ] || die "--to needs a value"; dest="$2"; shift 2 ;;
    --to=*) dest="${1#*=}"; shift ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a value"; base="$2"; shift 2 ;;
    --base-url=*) base="${1#*=}"; shift ;;
    -h | --help) sed -n '2,17p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
base="${base%/}"

case "$(uname -s)" in
  Linux) os=unknown-linux-musl ;;
  Darwin) os=apple-darwin ;;
  *) die "no prebuilt binary for $(uname -s); build from source: cargo install quorate --locked" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) die "no prebuilt binary for $(uname -m); build from source: cargo install quorate --locked" ;;
esac
target="$arch-$os"
asset="quorate-$target.tar.gz"

case "$version" in
  latest) url="$base/latest/download" ;;
  v[0-9]*) url="$base/download/$version"; version="${version#v}" ;;
  [0-9]*) url="$base/download/v$version" ;;
  *) die "--version must look like 0.1.0, v0.1.0 or latest, not \"$version\"" ;;
esac

# fetch URL FILE: 0 on success; the HTTP status (or the reason) in $fetch_error otherwise.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -sSL --retry 3 --retry-delay 1 -o "$2" -w '%{http_code}' "$1" 2>"$2.err") || {
      fetch_error=$(tail -n 1 "$2.err"); return 1; }
    [ "$code" = 200 ] || { fetch_error="HTTP $code"; return 1; }
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" 2>"$2.err" || { fetch_error="wget failed"; return 1; }
  else
    die "needs curl or wget to download"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "needs sha256sum or shasum to check the download"
  fi
}

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t quorate)
trap 'rm -rf "$tmp"' EXIT INT TERM

fetch "$url/checksums.txt" "$tmp/checksums.txt" ||
  die "no release $version at $url ($fetch_error): check the version (releases: $base)"
expected=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1; exit }' "$tmp/checksums.txt")
[ -n "$expected" ] || die "release $version has no $asset (no prebuilt binary for $target); build from source: cargo install quorate --locked"
fetch "$url/$asset" "$tmp/$asset" || die "could not download $url/$asset ($fetch_error)"
actual=$(sha256 "$tmp/$asset")
[ "$actual" = "$expected" ] ||
  die "checksum mismatch for $asset: checksums.txt says $expected, the download is $actual; not installed"

mkdir -p "$tmp/x"
tar -xzf "$tmp/$asset" -C "$tmp/x" || die "$asset is not a readable tar.gz archive"
[ -f "$tmp/x/quorate" ] || die "$asset holds no quorate binary"
mkdir -p "$dest" || die "cannot create $dest"
chmod 755 "$tmp/x/quorate"
mv -f "$tmp/x/quorate" "$dest/quorate" || die "cannot write $dest/quorate"

line=$("$dest/quorate" --version 2>&1) || die "the installed $dest/quorate does not run: $line"
got=$(echo "$line" | cut -d' ' -f2)
if [ "$version" != latest ] && [ "$got" != "$version" ]; then
  die "asked for $version but $asset holds $line"
fi
echo "installed $line to $dest/quorate"

# Another quorate earlier on PATH would be the one that runs: say so.
other=$(command -v quorate 2>/dev/null || true)
if [ -n "$other" ] && [ "$other" != "$dest/quorate" ]; then
  other_line=$("$other" --version 2>/dev/null || echo "quorate (version unknown)")
  other_version=$(echo "$other_line" | cut -d' ' -f2)
  if [ "$other_version" != "$got" ]; then
    echo "quorate install: note: $other ($other_line) comes first on PATH, not $dest/quorate ($got)" >&2
  fi
fi
