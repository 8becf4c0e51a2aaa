#!/usr/bin/env bash
# The one test command (README: `make test`). Installs the test dependencies,
# then runs go vet, the cross-compile and vet for macOS, FreeBSD and Windows
# (scripts/cross.sh), every test (networked tests build their own virtual LAN
# of network namespaces; they need root), and every fuzz target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
./scripts/cross.sh
go test -count=1 -timeout 20m ./...
./scripts/fuzz.sh
