#!/usr/bin/env bash
# Installs maestro $MAESTRO_VERSION for the GitHub Action and writes its path to the step output "path".
#
#   latest | vX.Y.Z   the release binary maestro_<X.Y.Z>_<os>_<arch>.tar.gz, checked against the release's
#                     checksums.txt; when the release has no binary for this runner: go install ...@version
#   source            go build of the checkout this action comes from (maestro's own CI)
#
# Needs curl, tar and sha256sum for a release binary, Go (any 1.21+: it fetches the toolchain go.mod asks for)
# otherwise.
set -euo pipefail

version="${MAESTRO_VERSION:-latest}"
repo="maestro-conductor/maestro"
module="github.com/$repo"
server="${GITHUB_SERVER_URL:-https://github.com}"
api="${GITHUB_API_URL:-https://api.github.com}"
bindir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/maestro-bin"
GITHUB_OUTPUT="${GITHUB_OUTPUT:-/dev/null}"

# The version goes into URLs and a go install argument: accept only what a version looks like.
if ! [[ "$version" =~ ^(latest|source|v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)$ ]]; then
  echo "::error title=maestro::version \"$version\": use latest, source or a release tag such as v1.2.3" >&2
  exit 2
fi
mkdir -p "$bindir"

done_at() {
  "$1" version
  echo "path=$1" >> "$GITHUB_OUTPUT"
  exit 0
}

if [ "$version" = source ]; then
  src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  (cd "$src" && go build -o "$bindir/maestro" ./cmd/maestro)
  done_at "$bindir/maestro"
fi

os="$(uname -s | tr '[:upper:]' '[:lower:]')"
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac

tag="$version"
if [ "$tag" = latest ] && command -v curl >/dev/null; then
  tag="$(curl -fsSL "$api/repos/$repo/releases/latest" 2>/dev/null | sed -n 's/^ *"tag_name": *"\(v[^"]*\)".*/\1/p' | head -n1 || true)"
  [ -n "$tag" ] || tag=latest
fi

if [ "$tag" != latest ] && command -v curl >/dev/null && command -v sha256sum >/dev/null; then
  asset="maestro_${tag#v}_${os}_${arch}.tar.gz"
  tmp="$(mktemp -d)"
  if curl -fsSL -o "$tmp/$asset" "$server/$repo/releases/download/$tag/$asset" &&
     curl -fsSL -o "$tmp/checksums.txt" "$server/$repo/releases/download/$tag/checksums.txt"; then
    (cd "$tmp" && grep " $asset\$" checksums.txt | sha256sum -c -)
    tar -xzf "$tmp/$asset" -C "$bindir" maestro
    rm -rf "$tmp"
    done_at "$bindir/maestro"
  fi
  rm -rf "$tmp"
  echo "no release binary $asset for $tag; building it with go install" >&2
fi

if ! command -v go >/dev/null; then
  echo "::error title=maestro::no release binary for $tag on $os/$arch and no Go to build one: add actions/setup-go before this action" >&2
  exit 2
fi
GOBIN="$bindir" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" go install "$module/cmd/maestro@$tag"
done_at "$bindir/maestro"
