#!/usr/bin/env bash
# Runs every fuzz target for a short fixed time (FUZZTIME, default 10s each).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" >/tmp/lansd-fuzz.log 2>&1 || {
      cat /tmp/lansd-fuzz.log; exit 1; }
  done
done
