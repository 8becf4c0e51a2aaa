#!/usr/bin/env bash
# Cross-compiles and vets every package, test files included, for the
# systems lansd builds on but is not run on in CI (README "Platforms"):
# macOS, FreeBSD and Windows, amd64 and arm64. Fails on the first error.
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=0
for os in darwin freebsd windows; do
  for arch in amd64 arm64; do
    echo "cross: $os/$arch" >&2
    GOOS=$os GOARCH=$arch go build ./...
    # vet type-checks the _test.go files too, with $os's build tags.
    GOOS=$os GOARCH=$arch go vet ./...
  done
done

# txt and registry (and sd, which a user takes with them) stay pure Go, with
# nothing platform-specific: they build even for WebAssembly (WASI).
echo "cross: wasip1/wasm (txt, registry, sd)" >&2
GOOS=wasip1 GOARCH=wasm go build ./txt ./registry ./sd
