#!/usr/bin/env bash
# Runs every fuzz target for a fixed number of executions (FUZZTIME, default
# 60000x each, about 5-10 s here). A count, not a duration: when a duration
# runs out while a worker is busy, Go's fuzzing coordinator can report
# "context deadline exceeded" and fail without any failing input (seen in
# CI on a loaded machine). -timeout still stops an input that hangs.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -timeout=5m >/tmp/lansd-fuzz.log 2>&1 || {
      cat /tmp/lansd-fuzz.log; exit 1; }
  done
done
