#!/usr/bin/env bash
# Runs every fuzz target for a fixed number of executions (FUZZTIME, default
# 60000x each, about 5-10 s here). A count, not a duration: when a duration
# runs out while a worker is busy, Go's fuzzing coordinator can report
# "context deadline exceeded" and fail without any failing input (seen in
# CI on a loaded machine). -timeout still stops an input that hangs.
# The targets that run a responder or a browser on the in-memory link
# (FuzzResponder, FuzzBrowser: about 2,500 inputs/s on 2 cores) run a
# tenth of the count (FUZZTIME_SLOW, default 6000x). -fuzzminimizetime
# bounds the minimizing of each new interesting input, which does not count
# as executions and could otherwise stall a run for up to a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60000x}
fuzztime_slow=${FUZZTIME_SLOW:-6000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    n=$fuzztime
    case $target in FuzzResponder | FuzzBrowser) n=$fuzztime_slow ;; esac
    echo "fuzz: $pkg $target ($n)"
    go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$n" -fuzzminimizetime=5s -timeout=5m >/tmp/lansd-fuzz.log 2>&1 || {
      cat /tmp/lansd-fuzz.log; exit 1; }
  done
done
