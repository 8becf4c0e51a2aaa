#!/usr/bin/env bash
# Soak (README "Reliability"): e2e TestSoak for DURATION (default 10m) on
# the virtual LAN: lansd announce with 200 services and lansd browse of
# their types, under QPS queries a second (default: the test's, 5000; 0 as
# fast as one sender goes) and announcement churn from another host. It
# prints the samples taken every 5 s (RSS in kB, goroutines, share of a
# core, UDP receive drops of each process's namespace, the load) and the
# summary; the test fails when RSS or goroutines grow past its bounds after
# the warm-up, or the browser lost or kept an instance. SOAK_OUT=FILE also
# keeps the samples as JSON lines.
#
# RAMP="2000 5000 10000 20000 0" instead runs 20 s at each rate and prints
# what the receivers dropped at each: the measure of the highest rate the
# virtual LAN sustains on this machine.
#
# Needs root (network namespaces); sends multicast only inside them.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANSD_REQUIRE_NETNS=1
[ -n "${QPS:-}" ] && export LANSD_SOAK_QPS=$QPS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "soak: $(uptime)"
if [ -n "${RAMP:-}" ]; then
  for q in $RAMP; do
    LANSD_SOAK=20s LANSD_SOAK_QPS=$q go test -count=1 ./e2e -run '^TestSoak$' -v -timeout 10m >"$log" 2>&1 || true
    echo "ramp: qps=$q: $(grep -o 'soak: [0-9]* queries sent.*' "$log" | sed 's/^soak: //') [$(grep -E '^(--- |ok|FAIL)' "$log" | head -1)]"
  done
  exit 0
fi
status=0
LANSD_SOAK=${DURATION:-10m} go test -count=1 ./e2e -run '^TestSoak$' -v -timeout "${TIMEOUT:-2h}" >"$log" 2>&1 || status=$?
grep -E 'soak: |Error:|Messages:|^(--- |ok|FAIL)' "$log" | sed -E 's/^ *soak_test.go:[0-9]+: //'
[ $status -eq 0 ] || { echo "soak: FAILED (full output below)"; tail -n 300 "$log"; }
exit $status
